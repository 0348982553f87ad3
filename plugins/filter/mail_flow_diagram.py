# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: mail_flow_diagram
short_description: Draw a tenant's partner mail flow as a Mermaid flowchart
version_added: 0.2.0
author:
  - m365.mailflow contributors (@m365-mailflow)
description:
  - Turns the result of M(m365.mailflow.mail_flow_info) into the text of a Mermaid C(flowchart), to put in a
    C(```mermaid) fenced block of a Markdown file (GitHub and GitLab render it) or to render with the Mermaid CLI.
  - One node for the tenant and one subgraph per partner, with its inbound connector (how the partner is recognised
    and what the connector requires), the rules that route to its outbound connector (conditions in a few words,
    priority), the outbound connector (scope, TLS mode and domain) and its delivery (smart hosts, or the MX of the
    recipient's domain). Unmanaged objects are grouped in one subgraph. Disabled, test-mode and unmanaged objects are
    marked; with a result read with O(m365.mailflow.mail_flow_info#module:compare_with), drifted and missing objects
    too.
  - Names are escaped (Mermaid entity codes), so that quotes, brackets, C(|), C(#), C(;), backticks, line breaks or
    non-ASCII characters in a name cannot break the diagram; the text is ASCII and has no C({) or C(}).
  - Large tenants stay readable. Up to O(max_partners) partners every partner is drawn in detail; with more, each
    partner is one node with counts (up to O(max_listed) partners), beyond that one node of totals. Details that are
    collapsed are said so in the diagram. The text never exceeds 40,000 characters and 400 edges (Mermaid draws at
    most 50,000 characters and 500 edges by default).
  - The same tenant gives the same text (partners by name, rules by priority), so the files it is written to change
    only when the tenant does.
  - Runs on the controller, like every filter; the work is done by the collection's C(diagram) module utility.
seealso:
  - name: Export and drift
    description: The diagram in the drift report and the export, what it shows, its limits and how names are escaped.
    link: https://github.com/m365-mailflow/m365.mailflow/blob/main/docs/export-and-drift.md
positional: _input
options:
  _input:
    description:
      - The registered result of M(m365.mailflow.mail_flow_info) (its C(inbound_connectors),
        C(outbound_connectors), C(mail_flow_rules), C(partners), C(unmanaged), and C(drift) when present).
    type: dict
    required: true
  title:
    description:
      - The tenant's name, shown in the tenant node (for example the inventory host name).
    type: str
  max_partners:
    description:
      - Up to this many partners, every partner is drawn in detail (one subgraph each).
    type: int
    default: 15
  max_listed:
    description:
      - With more than O(max_partners) and up to this many partners, each partner is one node with the number of its
        objects; with more, all partners are one node of totals.
    type: int
    default: 60
  max_unmanaged:
    description:
      - Up to this many unmanaged connectors and routing rules are drawn; with more, they are one node of counts.
        Unmanaged rules that route to no connector are always only counted.
    type: int
    default: 20
"""

EXAMPLES = r"""
- name: Read the tenant (connection options as for every module, or module_defaults)
  m365.mailflow.mail_flow_info:
  register: tenant

- name: Write the diagram into a Markdown file beside the playbook
  ansible.builtin.copy:
    dest: "{{ playbook_dir }}/mail-flow.md"
    mode: "0644"
    content: |
      # Mail flow of contoso

      ```mermaid
      {{ tenant | m365.mailflow.mail_flow_diagram(title='contoso') }}```

- name: A large tenant, each partner as one node beyond 5 partners
  ansible.builtin.debug:
    msg: "{{ tenant | m365.mailflow.mail_flow_diagram(title='contoso', max_partners=5) }}"
"""

RETURN = r"""
_value:
  description:
    - The Mermaid text, starting with C(flowchart LR) and ending with a newline, without the Markdown fence.
  type: str
  sample: |
    flowchart LR
      tenant[["Tenant contoso<br>1 partner, 0 unmanaged objects"]]
      subgraph p1 ["Partner Litware"]
        p1_in["Litware inbound<br>inbound connector<br>from litware.example<br>requires TLS"]
        p1_out["Litware outbound<br>outbound connector<br>to litware.example<br>TLS encryption only"]
        p1_out_h1(["smtp.litware.example<br>smart host"])
      end
      p1_in --> tenant
      tenant --> p1_out
      p1_out --> p1_out_h1
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.m365.mailflow.plugins.module_utils import diagram


def mail_flow_diagram(info, title=None, max_partners=diagram.MAX_PARTNERS, max_listed=diagram.MAX_LISTED,
                      max_unmanaged=diagram.MAX_UNMANAGED):
    """The Mermaid flowchart of a mail_flow_info result (plugins/module_utils/diagram.py)."""
    try:
        return diagram.mermaid(info, title=None if title is None else to_native(title), max_partners=max_partners,
                               max_listed=max_listed, max_unmanaged=max_unmanaged)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("m365.mailflow.mail_flow_diagram: %s" % to_native(exc))


class FilterModule(object):
    """m365.mailflow.mail_flow_diagram."""

    def filters(self):
        return {"mail_flow_diagram": mail_flow_diagram}
