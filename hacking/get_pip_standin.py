"""Offline stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test runs ``python get_pip_<ver>.py --disable-pip-version-check pip==<ver> --no-setuptools --no-wheel``
inside each fresh venv. ci-files.testing.ansible.com is not reachable here, so hacking/ansible-test-offline.sh
copies this file to ~/.ansible/test/cache/get_pip_<ver>.py. It installs the pip bundled with the interpreter
(ensurepip), then upgrades to the requested packages from the index configured in pip's config files
(ansible-test passes only an allowlist of environment variables, so PIP_* variables never reach us).
"""

import ensurepip
import os
import subprocess
import sys

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at os.devnull for its own run; undo that so pip reads /etc/pip.conf etc.
os.environ.pop("PIP_CONFIG_FILE", None)

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
if os.path.exists(CA_BUNDLE):
    args = ["--cert", CA_BUNDLE] + args

sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade", "--force-reinstall"] + args))
