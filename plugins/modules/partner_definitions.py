#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: partner_definitions
short_description: Load and check every partner definition of a run before anything is written to the tenant
version_added: 0.1.0
description:
  - Loads the partner definitions of a run (partner files, inline definitions from extra vars or an AWX survey, or
    definitions already loaded), checks all of them, and returns the checked, normalised list that the
    m365.mailflow.partner_onboarding and m365.mailflow.partner_offboarding roles take. The onboarding and
    offboarding playbooks run it for all partners of a tenant before their first write.
  - B(Variables as users write them.) Partner files as a list, as comma-separated text (V(a.yml,b.yml)) or as a
    YAML list in text; booleans as V(true)/V(yes)/V(1) or V(false)/V(no)/V(0). Anything else is refused with the
    name of the variable.
  - B(Each definition) is checked against the role's argument spec (unknown keys, types, choices, required
    fields), then the cross-field rules of docs/partner-definitions.md, then the pre-flight checks of the modules
    that will write each object (value formats of domains, addresses, smart hosts...), with the same code the
    modules run.
  - B(Across the partners of the tenant), partner names are compared without case, the names of the objects they
    write must not collide, and a sender or recipient domain may belong to one partner only (an error); a domain
    covered by another partner's wildcard is a warning.
  - "B(Against the tenant as it is) (one read of its connectors and rules, 4 calls, never a write): an object that
    onboarding would take over but did not create (its comment lacks C(Managed by m365.mailflow partner <name>))
    is refused unless O(adopt) or the partner's C(adopt: true); a domain already used by another connector is
    refused; the modules' checks that need the current object run too. For offboarding, every object to remove
    must carry the marker (unless O(force)) and no rule the definition does not name may route to the partner's
    outbound connector."
  - "Every problem is reported at once, each as C(<source>: <field>: <message>), for example
    C(partners/badhost.yml: outbound.smart_hosts[0]: 'mail.x.example:587' has a port; ...)."
author:
  - m365.mailflow contributors (@m365-mailflow)
options:
  definition:
    description:
      - Inline partner definition(s), a mapping with the key C(partner), the same as YAML text (an AWX survey
        textarea), or a list of them. Wins over O(file) and O(files). Empty text means not given.
    type: raw
  definition_variable:
    description:
      - The name of a run variable (an extra var, an AWX survey answer) that holds an inline definition, used when
        O(definition) is not given. Its value is taken as the run gave it, before Ansible renders it as a template, so
        that a definition is data like a partner file (a C({{ lookup(...) }}) in it is neither run nor lost); the
        playbooks pass C(partner_definition) this way. Messages name this variable.
    type: str
  plan_variable:
    description:
      - The name of a run variable that holds a saved plan to apply (C(mailflow_plan) in the playbooks). When it is
        set, the definitions are not loaded (a saved plan is applied as it was made) and RV(applying_plan) is true;
        the run's other variables are still checked.
    type: str
  file:
    description:
      - One partner file (or several, like O(files)); wins over O(files).
    type: raw
  files:
    description:
      - Partner files, as a list, comma-separated text or a YAML list in text.
      - Relative paths are looked up in the current directory, then in O(search_paths).
    type: raw
  default_files:
    description:
      - Partner files used when none of O(definition), O(file), O(files) and O(partners) is given.
    type: list
    elements: str
  partners:
    description:
      - Definitions already loaded, each a mapping with C(source) (used in messages) and C(definition) (the
        mapping with the key C(partner)). Used instead of files when O(definition) is not given.
    type: list
    elements: dict
  search_paths:
    description:
      - Directories where relative partner file paths are looked up, after the current directory.
      - Defaults to the inventory directory of the host and the playbook directory.
    type: list
    elements: path
  mode:
    description:
      - V(onboard) checks the definitions for onboarding. V(offboard) checks them for offboarding (no domain checks;
        the tenant's objects must carry the marker unless O(force), and no other rule may route to the connector).
    type: str
    choices: [onboard, offboard]
    default: onboard
  adopt:
    description:
      - Let onboarding take over objects of the same name that it did not create (their comment lacks the marker).
        Each adopted object is reported as a warning; onboarding then writes the marker into its comment.
      - "A partner definition can allow it for itself with C(adopt: true)."
      - A boolean or its text form (V(true), V(yes), V(1)...).
    type: raw
    default: false
  force:
    description:
      - Offboarding only. Remove the named objects even when they lack the marker. A boolean or its text form.
    type: raw
    default: false
  connection:
    description:
      - Connection options of the tenant (the keys of the C(m365.mailflow.connection) options below), for example the
        inventory's C(mailflow_connection); they win over the options given directly or by C(module_defaults).
    type: raw
  validation:
    description:
      - Run-wide validation settings (the inventory's C(mailflow_validation)) to check; returned normalised.
    type: raw
  read_tenant:
    description:
      - Read the tenant for the checks that need it. With V(false) only the definitions are checked.
    type: bool
    default: true
  tenant_label:
    description:
      - Name of the tenant in messages. Defaults to the inventory host name.
    type: str
  variables:
    description:
      - How the variables read in messages, by option (V(file), V(files), V(definition), V(partners), V(adopt),
        V(force), V(connection), V(validation)); the defaults are the playbooks' variable names (C(partner_file),
        C(partner_files), C(partner_definition), C(partner_onboarding_partners), C(partner_adopt),
        C(partner_offboarding_force), C(mailflow_connection), C(mailflow_validation)).
    type: dict
extends_documentation_fragment:
  - m365.mailflow.connection
  - m365.mailflow.attributes
attributes:
  check_mode:
    support: full
    details:
      - It never writes; check mode changes nothing.
  diff_mode:
    support: none
    details:
      - It never writes, so there is nothing to show.
  action:
    description: Has a corresponding action plugin, which runs parts of the task on the controller.
    support: full
    details:
      - The partner files are read and checked on the controller.
  platform:
    details:
      - An action plugin loads and checks the definitions on the controller; the module part, which reads the tenant,
        runs on the host of the task, usually the control node, with the Python requirements installed there.
notes:
  - An action plugin does the loading and the checks on the controller; the module part only reads the tenant
    (C(Get-InboundConnector), C(Get-OutboundConnector) with and without test-mode connectors,
    C(Get-TransportRule)). A sandbox tenant whose state file does not exist yet is empty and is not created.
  - The checks are linear in the number of partners; 1,000 partners are checked in seconds
    (C(benchmarks/partner_check.py)).
seealso:
  - name: Partner definitions
    description: The format and every check, in docs/partner-definitions.md of the collection.
    link: https://github.com/m365-mailflow/m365.mailflow/blob/main/docs/partner-definitions.md
"""

EXAMPLES = r"""
- name: Check the partner files of a tenant, then onboard them
  hosts: tenants
  gather_facts: false
  tasks:
    - name: Check every partner definition before the first write
      m365.mailflow.partner_definitions:
        files: "{{ partner_files }}"
        connection: "{{ mailflow_connection }}"
        adopt: "{{ partner_adopt | default(false) }}"
      register: checked

    - name: Onboard each partner
      ansible.builtin.include_role:
        name: m365.mailflow.partner_onboarding
      vars:
        partner_onboarding_partner: "{{ item.definition.partner }}"
        partner_onboarding_source: "{{ item.source }}"
        partner_onboarding_connection: "{{ mailflow_connection }}"
        partner_onboarding_skip_validation: true
      loop: "{{ checked.partners }}"
      loop_control:
        label: "{{ item.source }}"

- name: Only the definitions, without reading a tenant
  m365.mailflow.partner_definitions:
    files: partners/adatum.yml,partners/fabrikam.yml
    read_tenant: false
"""

RETURN = r"""
applying_plan:
  description: True when the run applies a saved plan (O(plan_variable)); the definitions were then not loaded.
  returned: when a plan is applied
  type: bool
origin:
  description:
    - Where the definitions came from; C(definition) (inline, O(definition) or O(definition_variable)), C(partners),
      C(file), C(files) or C(default_files). The onboarding playbook prunes only with the tenant's whole list
      (C(files) or C(default_files)).
  returned: success
  type: str
  sample: files
partners:
  description:
    - "The checked definitions in the order given, each with C(source) (the file as given, or the variable) and
      C(definition) (C({partner: ...}), types converted, keys that were not given left out)."
  returned: success
  type: list
  elements: dict
  sample:
    - source: partners/adatum.yml
      definition:
        partner:
          name: Adatum
          inbound:
            sender_domains: [adatum.example]
adopt:
  description: O(adopt) as a boolean.
  returned: success
  type: bool
force:
  description: O(force) as a boolean.
  returned: success
  type: bool
validation:
  description: O(validation), checked and with types converted.
  returned: success
  type: dict
tenant_read:
  description: Whether the tenant was read for the checks that need it.
  returned: success
  type: bool
problems:
  description: "Every problem found, each C(<source>: <field>: <message>)."
  returned: failure
  type: list
  elements: str
  sample:
    - "partners/badhost.yml: outbound.smart_hosts[0]: 'mail.x.example:587' has a port; Exchange Online always delivers to
      smart hosts on port 25 and does not accept ports. Remove ':587'"
msg:
  description: A summary; on failure every problem, one per line.
  returned: always
  type: str
tenant:
  description:
    - What the module part read (the action plugin does not return it), C(inbound) and C(outbound) connectors and
      C(rules) (name, comments, routing connector), and C(calls), the number of calls made.
  returned: never
  type: dict
"""

import os

from ansible_collections.m365.mailflow.plugins.module_utils.module import MailflowModule
from ansible_collections.m365.mailflow.plugins.module_utils.resources.partners import read_tenant


def main():
    argument_spec = dict(
        definition=dict(type="raw"),
        definition_variable=dict(type="str"),
        plan_variable=dict(type="str"),
        file=dict(type="raw"),
        files=dict(type="raw"),
        default_files=dict(type="list", elements="str"),
        partners=dict(type="list", elements="dict"),
        search_paths=dict(type="list", elements="path"),
        mode=dict(type="str", choices=["onboard", "offboard"], default="onboard"),
        adopt=dict(type="raw", default=False),
        force=dict(type="raw", default=False),
        connection=dict(type="raw"),
        validation=dict(type="raw"),
        read_tenant=dict(type="bool", default=True),
        tenant_label=dict(type="str"),
        variables=dict(type="dict"),
    )
    module = MailflowModule(argument_spec)

    def work(mod):
        sandbox = mod.params.get("sandbox")
        if sandbox and not os.path.exists(sandbox):
            # An empty sandbox tenant: nothing to read, and reading would create its state file.
            return {"changed": False, "tenant": {"inbound": [], "outbound": [], "rules": [], "calls": 0}}
        return {"changed": False, "tenant": read_tenant(mod.client)}

    module.run(work)


if __name__ == "__main__":
    main()
