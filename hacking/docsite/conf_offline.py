
# --- appended by hacking/docsite/build.sh: an offline build -------------------------------------------------------
# No intersphinx: it would fetch the inventories of docs.python.org and docs.ansible.com. The few labels of the
# Ansible docs that the generated pages use are defined in ansible-references.rst (links to docs.ansible.com).
extensions = [name for name in globals().get('extensions', []) if name != 'sphinx.ext.intersphinx']
intersphinx_mapping = {}
html_show_copyright = False
