#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sandbox_tenant
short_description: Configure and seed the embedded sandbox tenant
version_added: 0.1.0
description:
  - Sets up the sandbox tenant (the SQLite file of the O(sandbox) connection option) for rehearsals and for testing
    playbooks in CI without a tenant. Its domain, accepted domains, the recipients that mail flow rules resolve,
    the network view of its C(Validate-OutboundConnector) (DNS servers or a static host map, SMTP port, trusted CA,
    timeout), and connectors and rules loaded from data.
  - B(Sandbox only.) Without O(sandbox) (or C(EXO_SANDBOX)) the task fails before anything is read; a real
    Exchange Online tenant is never changed by this module.
  - Seeded objects take the path the modules take. Each entry is checked against the options of
    M(m365.mailflow.partner_inbound_connector), M(m365.mailflow.partner_outbound_connector) or
    M(m365.mailflow.mail_flow_rule) and written by their backend, so the same module task afterwards reports no
    change. Objects are written in the order inbound connectors, outbound connectors, mail flow rules.
  - Every change is rehearsed on a copy of the tenant file first. Bad input, or an object the tenant refuses, fails
    the task with every problem named and the file untouched. Check mode reports what the rehearsal did.
  - Idempotent. Settings and list entries not given are left as they are. Recipients and accepted domains are
    added or updated, never removed.
author:
  - m365.mailflow contributors (@m365-mailflow)
options:
  tenant_domain:
    description:
      - The tenant's own domain (C(contoso.onmicrosoft.com)), used when the tenant file is created (default
        C(sandbox.onmicrosoft.com)). Connector validation sends from C(O365ConnectorValidation@<tenant_domain>).
      - The domain of an existing tenant cannot change; a different value fails the task (use a new file).
    type: str
  accepted_domains:
    description:
      - Accepted domains the tenant must have, each a domain name or a mapping with C(name) and C(type)
        (C(Authoritative), the default, C(InternalRelay) or C(ExternalRelay)). The tenant's domain and
        C(contoso.com) are accepted domains of every sandbox tenant.
    type: list
    elements: raw
  recipients:
    description:
      - Recipients the tenant's directory must have (what C(Get-Recipient) finds and mail flow rule conditions and
        actions resolve). Matched by O(recipients[].name) without case; a recipient that differs is replaced.
      - A new sandbox tenant starts with a few recipients (alice, bob, Accounting Team, Partners, Sales,
        Operations).
    type: list
    elements: dict
    suboptions:
      name:
        description: The recipient's name (unique without case).
        type: str
        required: true
      alias:
        description: Its alias; default the name without spaces and symbols.
        type: str
      address:
        description: Its primary SMTP address; default C(<alias>@<tenant_domain>).
        type: str
      display_name:
        description: Its display name; default the name.
        type: str
      addresses:
        description: More SMTP addresses (proxy addresses).
        type: list
        elements: str
        default: []
      type:
        description: Its C(RecipientTypeDetails). Groups cannot be the target of O(recipients[].type=UserMailbox)-only
          conditions such as C(sent_to), as in Exchange Online.
        type: str
        choices: [UserMailbox, MailUser, MailContact, MailUniversalDistributionGroup, MailUniversalSecurityGroup,
                  DynamicDistributionGroup, GroupMailbox, SharedMailbox]
        default: UserMailbox
      attributes:
        description:
          - Its directory attributes, as C(Get-Recipient) returns them and mail flow rules match them
            (C(sender_ad_attribute_contains_words)...) C(City), C(Company), C(CountryOrRegion), C(Department),
            C(FirstName), C(LastName), C(Manager) (the manager's name), C(Notes), C(Office), C(Phone), C(PostalCode),
            C(StateOrProvince), C(Title), C(CustomAttribute1) to C(CustomAttribute15). The others read back as null.
        type: dict
        version_added: 0.2.0
  network:
    description:
      - How the sandbox's C(Validate-OutboundConnector) reaches partner servers. Exchange Online uses public DNS and
        port 25; the sandbox probes from this machine, so a test can point it at local servers. Keys not given are
        left as they are.
    type: dict
    suboptions:
      dns_servers:
        description: DNS servers to ask (C(ip) or C(ip:port)) instead of the system resolver; V([]) goes back to
          the system resolver.
        type: list
        elements: str
      hosts:
        description:
          - A static host map, like C(/etc/hosts), host name to C(ip) or C(ip:port) (C([ipv6]:port) for IPv6).
            A mapped name is answered from the map (no DNS), a mapped recipient domain is its own mail server (no
            MX), and a port given replaces O(network.smtp_port) for that host, so servers on loopback need no
            root. V({}) removes the map.
        type: dict
      smtp_port:
        description: The port partner servers are probed and sent to on (default 25).
        type: int
      ca_path:
        description: PEM file (or directory) of the CA certificates the validation trusts instead of the system's;
          an absolute path. V("") goes back to the system's CAs.
        type: path
      timeout:
        description: Timeout of each network step of the validation, in seconds (default 10).
        type: float
  objects:
    description:
      - Connectors and rules to create or update, in the format of C(mail_flow_info) (a mapping with the lists
        C(inbound_connectors), C(outbound_connectors) and C(mail_flow_rules), each entry the options of the
        module of that object; a C(facts) key in an entry is ignored), or a partner definition (C(partner:),
        see docs/partner-definitions.md), whose objects get the names, marker comments and defaults that partner
        onboarding gives them. A list of such mappings is taken too.
    type: raw
  objects_files:
    description:
      - Absolute paths of YAML or JSON files in the formats of O(objects) (one or more YAML documents per file),
        for example a copy of a real tenant's C(mail_flow_info) result, or partner files.
    type: list
    elements: path
extends_documentation_fragment:
  - m365.mailflow.connection
  - m365.mailflow.attributes
attributes:
  check_mode:
    support: full
    details:
      - The tenant file is only read; the result is what a rehearsal on a copy did.
  diff_mode:
    support: full
    details:
      - One diff for the configuration (before and after) when it changes, and one per object that changes.
notes:
  - Only the O(sandbox) connection option (with O(retries) and O(retry_delay)) is used; the tenant and credential
    options are refused together with it, as in every module.
seealso:
  - module: m365.mailflow.connector_validate
  - name: Getting started with the sandbox tenant
    description: The demo world and testing playbooks against the sandbox in CI.
    link: https://github.com/m365-mailflow/m365.mailflow/blob/main/docs/getting-started.md
"""

EXAMPLES = r"""
- name: A sandbox tenant for a CI job
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/m365.mailflow.exchange:
      sandbox: "{{ playbook_dir }}/.sandbox/ci-tenant.db"
  tasks:
    - name: Domain, recipients and a loopback partner server
      m365.mailflow.sandbox_tenant:
        tenant_domain: contoso.onmicrosoft.com
        accepted_domains: [contoso.com, {name: relay.contoso.com, type: InternalRelay}]
        recipients:
          - name: Carol
            address: carol@contoso.com
            attributes: {Department: Accounting, City: Oslo}
          - name: Payroll
            address: payroll@contoso.com
            type: MailUniversalDistributionGroup
        network:
          hosts:
            mail.adatum.example: 127.0.0.1:2525
          ca_path: "{{ playbook_dir }}/ci/ca.pem"
          timeout: 5

    - name: The connectors and rules of the real tenant, exported with mail_flow_info
      m365.mailflow.sandbox_tenant:
        objects_files:
          - "{{ playbook_dir }}/exports/contoso-mailflow.yml"

    - name: Partners already onboarded
      m365.mailflow.sandbox_tenant:
        objects: "{{ lookup('ansible.builtin.file', 'partners/adatum.yml') | from_yaml }}"
"""

RETURN = r"""
tenant:
  description: The tenant's configuration after the task (in check mode, as it would be).
  returned: always
  type: dict
  sample:
    path: /home/me/project/.sandbox/tenant.db
    tenant_id: 2f0c1b7e-5a58-4a8e-9d3c-0d6d2f1f9a11
    tenant_domain: contoso.onmicrosoft.com
    accepted_domains: {contoso.com: Authoritative, contoso.onmicrosoft.com: Authoritative}
    recipients:
      Carol: {display_name: Carol, alias: Carol, address: carol@contoso.com, addresses: [], type: UserMailbox,
              attributes: {City: Oslo, Department: Accounting}}
    network: {dns_servers: null, hosts: {mail.adatum.example: "127.0.0.1:2525"}, smtp_port: 25, ca_path: null,
              timeout: 5.0}
changes:
  description: The configuration changes made (or, in check mode, that would be made), one line each.
  returned: always
  type: list
  elements: str
  sample: ["recipient Carol added", "network hosts set"]
objects:
  description: Each seeded object, in the order written, with the module's action.
  returned: always
  type: list
  elements: dict
  sample:
    - kind: inbound connector
      name: Adatum inbound
      source: "adatum.yml: partner.inbound"
      action: create
      changed: true
      changed_properties: [sender_domains, require_tls]
msg:
  description: A one-line summary.
  returned: always
  type: str
"""

from ansible_collections.m365.mailflow.plugins.module_utils import sandbox_seed
from ansible_collections.m365.mailflow.plugins.module_utils.module import MailflowModule


def main():
    module = MailflowModule(sandbox_seed.argument_spec())

    def work(mod):
        return sandbox_seed.run(mod.params, check_mode=mod.check_mode, diff_mode=mod.diff_mode)

    module.run(work)


if __name__ == "__main__":
    main()
