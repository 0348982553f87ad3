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
  - Also returns the mail-flow posture, RV(findings), the risky connectors and rules (sender-domain-only partner
    connectors, connectors without TLS, rules that bypass filtering or copy mail out, and more), each with its
    reason and source and the partner-file change or module option that removes it, computed from the same reads;
    O(suppressions) accepts known findings until a date. See docs/posture.md for every finding.
  - Never writes; check mode and normal mode do the same.
author:
  - m365.mailflow contributors (@m365-mailflow)
options:
  gather:
    description:
      - The object types to read. RV(partners), RV(unmanaged) and RV(proposed_partners) are complete only when every
        type of connector and rule is read (the default).
      - V(accepted_domains) (C(Get-AcceptedDomain)) and V(organization_config) (C(Get-OrganizationConfig)) are read
        only when listed here, one read each (new in 0.2.0). The posture checks that need them (C(rule_external_copy) needs the
        accepted domains, C(reject_direct_send_off) the organization config) are otherwise listed in
        the C(not_checked) list of RV(findings_summary).
    type: list
    elements: str
    choices: [inbound_connectors, outbound_connectors, mail_flow_rules, accepted_domains, organization_config]
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
  suppressions:
    description:
      - Accepted findings, each a mapping with C(id) (a finding id), C(reason) (why it is accepted), C(expires)
        (a date C(YYYY-MM-DD), accepted until the end of that day, UTC, or a time), optionally C(objects) (the object names
        of the finding, shell patterns such as C(Adatum*) allowed; left out, every finding of that id is accepted) and
        C(source) (where the record comes from, shown in the results).
      - A finding is accepted when a record of its id names all of its objects (or names none). Accepted findings
        are returned in RV(accepted_findings), not in RV(findings); an expired record accepts nothing and is reported
        with C(status=expired) in RV(suppressions).
      - Every record is checked before the tenant is read; a problem names the record and its field.
    type: list
    elements: dict
    default: []
    version_added: 0.2.0
  suppressions_label:
    description:
      - How O(suppressions) reads in messages and in the C(source) of a record that has none, as
        C(<label>[<index>]); the drift report passes C(mailflow_accepted_findings), the variable it takes them from.
    type: str
    default: suppressions
    version_added: 0.2.0
  audit_days:
    description:
      - A mail flow rule in mode C(audit) or C(audit_and_notify) that has not changed for more than this many days is
        a finding (C(rule_audit_stale)). The service does not expose when a rule entered audit mode; its last change
        (C(WhenChanged)) is used, a lower bound of the time in audit mode.
    type: int
    default: 30
    version_added: 0.2.0
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
    of the compared rules when O(compare_with) is given, and C(Get-AcceptedDomain) and C(Get-OrganizationConfig)
    when O(gather) lists them.
  - The posture checks run over every object read, whatever O(names); O(names) then keeps the findings that involve
    one of the named objects.
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

- name: Posture of the whole tenant, Direct Send included, with one accepted finding
  m365.mailflow.mail_flow_info:
    sandbox: /tmp/sandbox-tenant.db
    gather: [inbound_connectors, outbound_connectors, mail_flow_rules, accepted_domains, organization_config]
    suppressions:
      - id: outbound_any_certificate
        objects: [Litware outbound]
        reason: Litware has no CA-issued certificate yet (ticket MAIL-142)
        expires: "2030-06-30"
  register: posture

- name: Fail on findings nobody accepted
  ansible.builtin.assert:
    that: posture.findings | length == 0
    fail_msg: "{{ posture.findings | map(attribute='id') | list }}"
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
accepted_domains:
  description: The tenant's accepted domains, each C({domain, type, default}).
  returned: when O(gather) includes C(accepted_domains)
  version_added: 0.2.0
  type: list
  elements: dict
  sample: [{domain: contoso.com, type: Authoritative, default: true}]
organization_config:
  description: The organization settings the posture uses, C({identity, reject_direct_send}).
  returned: when O(gather) includes C(organization_config)
  version_added: 0.2.0
  type: dict
  sample: {identity: contoso.onmicrosoft.com, reject_direct_send: false}
findings:
  description:
    - The posture findings that no O(suppressions) record accepts, high severity first. Each has C(id) (stable, see
      docs/posture.md), C(title), C(severity) (C(high), C(medium), C(low)), C(kind) (the kind of the first object),
      C(objects) (the names of the objects involved), C(partner) (the partner whose marker the object carries, or
      null), C(reason), C(source) (where the risk is stated), C(fix) (the partner-file change, or the module option
      for an object outside the partner files) and C(details).
  returned: always
  version_added: 0.2.0
  type: list
  elements: dict
  sample:
    - id: outbound_any_certificate
      title: Partner outbound connector accepts any certificate (encryption_only)
      severity: medium
      kind: outbound_connectors
      objects: [Litware outbound]
      partner: Litware
      reason: "partner outbound connector 'Litware outbound' requires TLS but accepts any certificate ..."
      source: "New-OutboundConnector reference (TlsSettings EncryptionOnly ...)"
      fix: "partner file of Litware: outbound.tls_settings: certificate_validation (or domain_validation with ...)"
      details: {tls_settings: EncryptionOnly}
accepted_findings:
  description: The findings an O(suppressions) record accepts, as in RV(findings), each with C(accepted)
    (C({reason, expires, source}) of the record).
  returned: always
  version_added: 0.2.0
  type: list
  elements: dict
suppressions:
  description:
    - Each O(suppressions) record as checked (C(id), C(objects), C(reason), C(expires), C(source)) with C(status),
      one of C(active) (it accepts findings), C(unused) (in force, matches nothing) and C(expired) (accepts nothing),
      and C(matched), the findings (C({id, objects})) it accepts or, when expired, would accept.
  returned: always
  version_added: 0.2.0
  type: list
  elements: dict
findings_summary:
  description:
    - C(total) (findings), C(new) (not accepted), C(accepted), C(by_severity) (of the new ones),
      C(expired_suppressions), C(unused_suppressions), and C(not_checked), the checks that did not run because a
      kind they need was not read (C({id, needs})).
  returned: always
  version_added: 0.2.0
  type: dict
  sample:
    total: 3
    new: 2
    accepted: 1
    by_severity: {high: 1, medium: 1, low: 0}
    expired_suppressions: 0
    unused_suppressions: 0
    not_checked: [{id: reject_direct_send_off, needs: [organization_config]}]
calls:
  description: The number of calls made to the tenant.
  returned: always
  type: int
"""

import os

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.module import MailflowModule
from ansible_collections.m365.mailflow.plugins.module_utils.resources import posture, tenant_view


def main():
    kinds = list(tenant_view.KINDS) + list(posture.SETTINGS)
    argument_spec = dict(
        gather=dict(type="list", elements="str", choices=kinds, default=list(tenant_view.KINDS)),
        names=dict(type="list", elements="str"),
        compare_with=dict(type="list", elements="dict"),
        suppressions=dict(type="list", elements="dict", default=[]),
        suppressions_label=dict(type="str", default="suppressions"),
        audit_days=dict(type="int", default=posture.AUDIT_DAYS),
    )
    module = MailflowModule(argument_spec)

    def work(mod):
        params = mod.params
        if params["audit_days"] < 0:
            raise ConfigurationError("audit_days: %d is negative; give the number of days a rule may stay in audit mode "
                                     "(default %d)" % (params["audit_days"], posture.AUDIT_DAYS))
        label = params["suppressions_label"].strip() or "suppressions"
        suppressions = posture.check_suppressions(params["suppressions"], field=label)  # before anything is read
        args = dict(gather=params["gather"], names=params["names"], compare_with=params["compare_with"],
                    suppressions=suppressions, audit_days=params["audit_days"])
        sandbox = params.get("sandbox")
        if sandbox and not os.path.exists(sandbox):
            # An empty sandbox tenant: reading would create its state file.
            result = tenant_view.summarise(None, **args)
            result.update(changed=False, calls=0)
            return result
        result = tenant_view.summarise(mod.client, **args)
        result.update(changed=False, calls=len(mod.client.calls))
        return result

    module.run(work)


if __name__ == "__main__":
    main()
