#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mail_flow_info
short_description: Read the connectors and mail flow rules of an Exchange Online tenant as module options
version_added: 0.1.0
description:
  - Reads the tenant's inbound connectors, outbound connectors (test-mode ones included) and mail flow rules (in
    priority order), with one read per object type whatever their number (the service's paging is followed).
  - Each object is returned as an entry with C(options), exactly the options of
    M(m365.mailflow.partner_inbound_connector), M(m365.mailflow.partner_outbound_connector) or
    M(m365.mailflow.mail_flow_rule) that the object sets, so that passing C(options) back to that module changes
    nothing, and C(facts), the read-only properties no option sets (GUID, priority, validation mark and time, when
    changed).
  - Also returns the partner definitions (the format of the partner files, see docs/partner-definitions.md) that the
    objects carrying the m365.mailflow marker make up, and every object that belongs to no partner.
  - Never writes; check mode and normal mode do the same.
author:
  - m365.mailflow contributors (@m365-mailflow)
options:
  gather:
    description:
      - The object types to read. RV(partners), RV(unmanaged) and RV(proposed_partners) are complete only when every
        type is read (the default).
    type: list
    elements: str
    choices: [inbound_connectors, outbound_connectors, mail_flow_rules]
    default: [inbound_connectors, outbound_connectors, mail_flow_rules]
  names:
    description:
      - Return only the objects with these names (compared without case); shell-style patterns such as C(Adatum*)
        are allowed. The tenant is still read once per object type.
    type: list
    elements: str
  compare_with:
    description:
      - Partner definitions to compare with the tenant, as M(m365.mailflow.partner_definitions) returns them
        (C(partners), a list of C({source, definition})). Returns RV(drift).
      - The comparison is the modules' own (values as the service stores them); options a definition leaves out are
        not compared, except C(enabled) (and a rule's C(mode)), which onboarding creates objects with.
    type: list
    elements: dict
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
notes:
  - Calls made, C(Get-InboundConnector), C(Get-OutboundConnector) (with C(IncludeTestModeConnectors); a plain read
    follows only when that answer cannot be known complete, for example a tenant without outbound connectors) and
    C(Get-TransportRule), each with C(ResultSize Unlimited), plus one C(Get-Recipient) per distinct recipient value
    of the compared rules when O(compare_with) is given.
  - An object belongs to a partner when its comment carries the marker C(Managed by m365.mailflow partner <name>)
    and its name is the one onboarding gives it (C(<name> inbound), C(<name> outbound), C(<name> - <rule>) routing to
    C(<name> outbound)).
seealso:
  - name: Export and drift
    description: Exporting a tenant to partner files, adopting hand-made objects, the drift report.
    link: https://github.com/m365-mailflow/m365.mailflow/blob/main/docs/export-and-drift.md
"""

EXAMPLES = r"""
- name: Read the whole tenant
  m365.mailflow.mail_flow_info:
    sandbox: /tmp/sandbox-tenant.db
  register: tenant

- name: Pass an entry back to its module (changes nothing)
  m365.mailflow.partner_inbound_connector:
    sandbox: /tmp/sandbox-tenant.db
    name: "{{ item.options.name }}"
    sender_domains: "{{ item.options.sender_domains }}"
    comment: "{{ item.options.comment | default(omit) }}"
  loop: "{{ tenant.inbound_connectors }}"
  loop_control:
    label: "{{ item.options.name }}"

- name: Only the rules of one partner
  m365.mailflow.mail_flow_info:
    sandbox: /tmp/sandbox-tenant.db
    gather: [mail_flow_rules]
    names: ["Adatum - *"]
  register: adatum_rules

- name: Show the connectors that no partner definition knows
  ansible.builtin.debug:
    msg: "{{ tenant.unmanaged | map(attribute='options.name') | list }}"
"""

RETURN = r"""
inbound_connectors:
  description: The inbound connectors, by name.
  returned: when O(gather) includes C(inbound_connectors)
  type: list
  elements: dict
  contains:
    options:
      description: The options of M(m365.mailflow.partner_inbound_connector) the connector sets.
      type: dict
    facts:
      description: C(guid), C(identity), C(connector_type), C(connector_source), C(when_changed) (UTC), C(managed_by)
        (the partner whose m365.mailflow marker the comment carries, or null).
      type: dict
  sample:
    - options:
        name: Adatum inbound
        sender_domains: [adatum.example]
        require_tls: true
        restrict_domains_to_certificate: true
        restrict_domains_to_ip_addresses: false
        tls_sender_certificate_name: "*.adatum.example"
        enabled: true
        comment: Managed by m365.mailflow partner Adatum
        ef_skip_last_ip: false
      facts:
        guid: d29ae93d-2354-4794-874b-2547cefe4ccd
        identity: Adatum inbound
        connector_type: Partner
        connector_source: Default
        when_changed: "2026-11-30T05:54:47Z"
        managed_by: Adatum
outbound_connectors:
  description: The outbound connectors (test-mode ones included), by name.
  returned: when O(gather) includes C(outbound_connectors)
  type: list
  elements: dict
  contains:
    options:
      description: The options of M(m365.mailflow.partner_outbound_connector) the connector sets.
      type: dict
    facts:
      description: C(guid), C(identity), C(connector_type), C(connector_source), C(is_validated),
        C(last_validation_timestamp) (UTC), C(when_changed) (UTC), C(managed_by) (the partner whose m365.mailflow
        marker the comment carries, or null).
      type: dict
mail_flow_rules:
  description: The mail flow rules, in priority order.
  returned: when O(gather) includes C(mail_flow_rules)
  type: list
  elements: dict
  contains:
    options:
      description:
        - The options of M(m365.mailflow.mail_flow_rule) the rule sets (C(conditions), C(exceptions) and C(actions)
          with their set keys only; C(apply_to_all_messages=true) for a rule without any condition or exception).
          Priority is a fact, not an option here, so that passing the entry back does not move the rule.
      type: dict
    facts:
      description: C(guid), C(identity), C(priority), C(state), C(when_changed) (UTC), C(managed_by) (the partner
        whose m365.mailflow marker the comments carry, or null).
      type: dict
partners:
  description:
    - The partner definitions the objects carrying the marker make up, each a mapping with the key C(partner) in the
      format of a partner file; onboarding them into this tenant changes nothing.
  returned: always
  type: list
  elements: dict
  sample:
    - partner:
        name: Litware
        inbound: {sender_domains: [litware.example], require_tls: true, enabled: true}
        outbound: {recipient_domains: [litware.example], smart_hosts: [smtp.litware.example],
                   tls_settings: encryption_only, validation_recipients: [it@litware.example]}
unmanaged:
  description:
    - Every returned object that belongs to no partner, with C(kind) (C(inbound_connectors)...), C(module) (the
      module that manages it), C(options), C(facts), C(reason), C(manageable) (false for a connector that is not
      of type Partner, which the partner modules do not manage) and C(task) (a task of that module with C(options)
      as its arguments).
  returned: always
  type: list
  elements: dict
proposed_partners:
  description:
    - Partner definitions (with C(adopt=true)) for unmanaged objects that clearly belong together, an inbound
      connector C(<P> inbound) and an outbound connector C(<P> outbound) sharing the partner's domains, with the rules
      C(<P> - <rule>) that route to C(<P> outbound). Onboarding one changes only the comments (it writes the marker).
  returned: always
  type: list
  elements: dict
unmanaged_unproposed:
  description: The entries of RV(unmanaged) that no entry of RV(proposed_partners) takes.
  returned: always
  type: list
  elements: dict
newest_change:
  description: The newest C(when_changed) of the returned objects (UTC), or null.
  returned: always
  type: str
  sample: "2026-11-30T05:54:52Z"
changed_at:
  description:
    - The newest C(when_changed) (UTC) of the objects of each partner of RV(partners) and RV(proposed_partners), by
      partner name, and of those of RV(unmanaged) (key C(unmanaged)) and RV(unmanaged_unproposed); null for none.
  returned: always
  type: dict
  sample: {Adatum: "2026-11-30T05:54:52Z", unmanaged: null, unmanaged_unproposed: null}
counts:
  description: The number of objects read, by object type.
  returned: always
  type: dict
  sample: {inbound_connectors: 3, outbound_connectors: 3, mail_flow_rules: 1}
drift:
  description:
    - The comparison with O(compare_with), C(partners) (each with C(name), C(source), C(status) and C(objects), each
      object with C(kind), C(name), C(status) one of C(in_sync), C(drifted), C(missing), and C(properties), each
      C({property, expected, actual})), C(orphaned) (objects carrying the marker of a partner that is not compared,
      C({kind, name, partner, module}), rules first), C(unmanaged) (C({kind, name, reason}) of every object that
      belongs to no partner) and C(totals) (C(partners), C(partners_drifted), C(objects), C(in_sync), C(drifted),
      C(missing), C(orphaned)).
  returned: when O(compare_with) is given
  type: dict
calls:
  description: The number of calls made to the tenant.
  returned: always
  type: int
"""

import os

from ansible_collections.m365.mailflow.plugins.module_utils.module import MailflowModule
from ansible_collections.m365.mailflow.plugins.module_utils.resources import tenant_view


def main():
    argument_spec = dict(
        gather=dict(type="list", elements="str", choices=list(tenant_view.KINDS), default=list(tenant_view.KINDS)),
        names=dict(type="list", elements="str"),
        compare_with=dict(type="list", elements="dict"),
    )
    module = MailflowModule(argument_spec)

    def work(mod):
        sandbox = mod.params.get("sandbox")
        if sandbox and not os.path.exists(sandbox):
            # An empty sandbox tenant: reading would create its state file.
            result = tenant_view.summarise(None, mod.params["gather"], mod.params["names"], mod.params["compare_with"])
            result.update(changed=False, calls=0)
            return result
        result = tenant_view.summarise(mod.client, mod.params["gather"], mod.params["names"], mod.params["compare_with"])
        result.update(changed=False, calls=len(mod.client.calls))
        return result

    module.run(work)


if __name__ == "__main__":
    main()
