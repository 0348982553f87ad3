#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mail_flow_simulate
short_description: Say which mail flow rules and which connector sample messages would take, without sending any
version_added: 0.2.0
description:
  - Evaluates sample messages against the tenant's connectors and mail flow rules, and answers, per message and
    recipient, every rule in priority order (matched or not, and why, the condition values that matched, the
    exception that stopped it, disabled, outside its dates), the actions that apply, where C(stop_rule_processing)
    ended the evaluation, and the route (the outbound connector with its smart hosts and TLS settings, or delivery by
    MX, or inside the organization) or the rejection with its non-delivery report. For inbound mail, which partner
    inbound connector the message is attributed to, or why it is rejected.
  - "What it evaluates against: the tenant as it is (one read per object type), objects given as data in the
    M(m365.mailflow.mail_flow_info) format (O(objects)), and either of them with partner definitions laid over them
    (O(partners)): the state after onboarding, computed without writing."
  - Where Exchange Online's behaviour is not documented (the choice among overlapping outbound connectors, test-mode
    connectors, codes only seen in the field), the answer says which assumption it followed. Conditions that need what
    the simulation cannot see (the text of an attachment, a group membership nobody gave) follow
    O(unknown_conditions). The semantics and the assumptions are listed in docs/simulation.md.
  - With O(messages[].expect), the task fails when a message does not take the expected route, showing the expected
    and the simulated outcome side by side, and still returns the answer for every message. This is how a CI
    pipeline tests mail flow.
  - Never writes; check mode and normal mode do the same.
author:
  - m365.mailflow contributors (@m365-mailflow)
options:
  messages:
    description:
      - The sample messages. The same format is used by the C(expect) messages of partner files.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The message's name in the answer (unique without case).
        type: str
        required: true
      direction:
        description:
          - C(outbound) (the default), mail sent by the tenant's users; C(inbound), mail from outside (a partner) to
            the tenant's recipients, which is first attributed to an inbound connector.
        type: str
        choices: [outbound, inbound]
      sender:
        description: The sender's address (the header From).
        type: str
        required: true
      envelope_sender:
        description:
          - The envelope sender (SMTP C(MAIL FROM)), when it differs from O(messages[].sender). Rules look at it
            when their C(sender_address_location) says so; inbound connectors are chosen by its domain.
        type: str
      recipients:
        description: The recipients in the To field. Each recipient (of To, Cc and Bcc) gets its own answer.
        type: list
        elements: str
        required: true
      cc:
        description: Recipients in the Cc field.
        type: list
        elements: str
      bcc:
        description: Blind copy recipients.
        type: list
        elements: str
      subject:
        description: The subject.
        type: str
      body:
        description: The body text.
        type: str
      headers:
        description: Message headers, name to value (or list of values).
        type: dict
      size:
        description:
          - The message size, in bytes or with a unit (C(10 MB)). When not given it is estimated from subject, body,
            headers and attachments, and the answer says so.
        type: raw
      importance:
        description: The importance; C(normal) when not given.
        type: str
        choices: [high, low, normal]
      message_type:
        description: The message type (C(message_type_matches)); an ordinary message when not given.
        type: str
        choices: [approval_request, auto_forward, calendaring, encrypted, oof, permission_controlled, read_receipt,
                  signed, voicemail]
      scl:
        description: The spam confidence level stamped on the message, -1 to 9. Unknown when not given.
        type: int
      classifications:
        description: Message classifications the message carries.
        type: list
        elements: str
      character_sets:
        description: The character sets of the message's content. Unknown when not given.
        type: list
        elements: str
      attachments:
        description: The attachments.
        type: list
        elements: dict
        suboptions:
          name:
            description: The file name (its extension is what C(attachment_extension_matches_words) looks at).
            type: str
            required: true
          size:
            description: Its size, in bytes or with a unit; 0 when not given.
            type: raw
          content:
            description: Its text, for the conditions that scan attachments. Without it, those conditions are unknown.
            type: str
          properties:
            description: Its document properties (C(attachment_property_contains_words)), name to value.
            type: dict
          password_protected:
            description: The attachment is password protected.
            type: bool
          executable:
            description: The attachment is executable content.
            type: bool
          unsupported:
            description: The attachment is of a type rules cannot inspect.
            type: bool
          processing_limit_exceeded:
            description: Scanning the attachment did not complete.
            type: bool
      sent:
        description:
          - When the message is sent (for the rules' activation and expiry dates), C(YYYY-MM-DD) or
            C(YYYY-MM-DDTHH:MM[:SS]) with an optional C(Z) or C(+HH:MM) offset (no offset means UTC). Now when not
            given.
        type: str
      sender_attributes:
        description:
          - Directory attributes of the sender (C(Department), C(City), C(CustomAttribute1)... the attribute names of
            the rule vocabulary, and C(MemberOf), a list of the groups the sender is a member of). They override what
            the directory says; when not given, the attributes are looked up in the tenant's directory.
        type: dict
      recipient_attributes:
        description:
          - Directory attributes of the recipients, as for O(messages[].sender_attributes), for every recipient, or
            per recipient as a mapping of recipient address to attributes.
        type: dict
      sender_ip:
        description:
          - The IP address the message comes from (the last hop before Exchange Online), for inbound connectors and
            C(sender_ip_ranges).
        type: str
      tls:
        description: Inbound mail came over TLS. Assumed true when not given, and the answer says so.
        type: bool
      certificate_subject:
        description: The subject (host name) of the TLS certificate the sending server presented.
        type: str
      expect:
        description:
          - What must come out for every recipient of the message; the task fails otherwise.
        type: dict
        suboptions:
          connector:
            description:
              - The outbound connector that delivers the message, or C(none) for delivery without a connector (by MX,
                or inside the organization). For an inbound message, the inbound connector it is attributed to (or
                C(none)).
            type: str
          rules:
            description: The names of the rules whose actions apply (enforced rules that matched), in order.
            type: list
            elements: str
          rejected:
            description: Whether the message is rejected.
            type: bool
  unknown_conditions:
    description:
      - How a condition or exception the simulation cannot evaluate counts (an attachment's content not given, a
        group membership, a sensitive information type, a pattern Python cannot run).
      - C(no_match) counts it as not matching, C(match) as matching, C(fail) fails the task naming the message, the
        rule and what is missing. The answer lists every such condition.
    type: str
    choices: [no_match, match, fail]
    default: no_match
  test_mode_connectors:
    description:
      - What a test-mode outbound connector does with mail, which Exchange Online does not document. C(ignore)
        assumes it carries none (like a disabled connector); C(use) lets it route mail like any other. The answer says
        when this mattered.
    type: str
    choices: [ignore, use]
    default: ignore
  objects:
    description:
      - Connectors and rules to evaluate against instead of the tenant's, in the format of
        M(m365.mailflow.mail_flow_info) (C(inbound_connectors), C(outbound_connectors), C(mail_flow_rules), each a
        list of C({options, facts}); a registered mail_flow_info result may be given whole). The tenant's connectors
        and rules are then not read.
    type: dict
  partners:
    description:
      - Partner definitions to lay over the tenant (or over O(objects)), the connectors and rules onboarding would
        write for them replace those of the same names, and new rules go to the bottom unless the definition places
        them. Each is the mapping under C(partner:) of a partner file, a whole partner file, or an entry of
        M(m365.mailflow.partner_definitions)' C(partners). Check them with M(m365.mailflow.partner_definitions) first;
        only their shape is checked here.
    type: list
    elements: dict
  accepted_domains:
    description:
      - The tenant's accepted domains (names, or mappings with C(name) and C(type) C(Authoritative),
        C(InternalRelay) or C(ExternalRelay)). When not given, they are read from the tenant (C(Get-AcceptedDomain)).
    type: list
    elements: raw
  fail_on_expectations:
    description:
      - Fail the task when an expectation is not met (the default). With C(false), the task reports
        RV(failed_expectations) and succeeds.
    type: bool
    default: true
  show_rules:
    description:
      - C(all) lists every rule for every recipient, in priority order, with why it matched or not. C(matched) lists
        only the rules that matched, were stopped by an exception or could not be evaluated (and counts the others
        in C(rules_not_shown)), a shorter answer for many messages against many rules.
    type: str
    choices: [all, matched]
    default: all
extends_documentation_fragment:
  - m365.mailflow.connection
  - m365.mailflow.attributes
attributes:
  check_mode:
    support: full
    details:
      - It never writes; check mode gives the same answer.
  diff_mode:
    support: none
    details:
      - It never writes, so there is nothing to show.
notes:
  - "Reads, each at most once and only when needed: C(Get-InboundConnector), C(Get-OutboundConnector) (test-mode
    connectors included) and C(Get-TransportRule) unless O(objects) is given; C(Get-AcceptedDomain) unless
    O(accepted_domains) is given; one C(Get-Recipient) of the whole directory (C(ResultSize Unlimited)) when an enabled
    rule has a condition or action that looks at the directory (AD attributes, scopes, recipients, managers)."
  - Without any connection option, O(objects) and O(accepted_domains) must be given; the directory is then not read and
    the attributes come from the messages.
  - Group membership is not read from the tenant (it would take one read per group); give it as C(MemberOf) in the
    attributes of a message, or the C(*_member_of) conditions follow O(unknown_conditions).
seealso:
  - module: m365.mailflow.mail_flow_info
  - name: Mail flow simulation
    description: The guide, the semantics of every condition, and the assumptions.
    link: https://github.com/m365-mailflow/m365.mailflow/blob/main/docs/simulation.md
"""

EXAMPLES = r"""
- name: Only Accounting's mail to Adatum goes through Adatum's connector
  m365.mailflow.mail_flow_simulate:
    sandbox: /tmp/sandbox-tenant.db
    messages:
      - name: Accounting to Adatum
        sender: anna@contoso.com
        sender_attributes: {Department: Accounting}
        recipients: [payroll@adatum.example]
        expect: {connector: Adatum outbound}
      - name: Sales to Adatum
        sender: sam@contoso.com
        sender_attributes: {Department: Sales}
        recipients: [payroll@adatum.example]
        expect: {connector: none}

- name: The state after onboarding a changed partner file, without writing
  m365.mailflow.mail_flow_simulate:
    sandbox: /tmp/sandbox-tenant.db
    partners: "{{ [lookup('ansible.builtin.file', 'partners/adatum.yml') | from_yaml] }}"
    messages:
      - name: Accounting to Adatum
        sender: anna@contoso.com
        sender_attributes: {Department: Accounting}
        recipients: [payroll@adatum.example]
  register: planned

- name: Offline, against an export, with attachments and an inbound message
  m365.mailflow.mail_flow_simulate:
    objects: "{{ lookup('ansible.builtin.file', 'export/tenant.json') | from_json }}"
    accepted_domains: [contoso.com]
    unknown_conditions: fail
    messages:
      - name: Invoice from Adatum
        direction: inbound
        sender: billing@adatum.example
        recipients: [anna@contoso.com]
        tls: true
        certificate_subject: mail.adatum.example
        attachments:
          - {name: invoice.pdf, size: 2 MB, content: "Invoice 2026-001"}
        expect: {connector: Adatum inbound, rejected: false}
"""

RETURN = r"""
messages:
  description: The answer for each message, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The message's name.
      type: str
    direction:
      description: C(outbound) or C(inbound).
      type: str
    inbound:
      description:
        - Inbound messages, the attribution, C(connector) (or null), C(connector_type), C(by) (C(certificate),
          C(sender_ip), C(sender_domain)), C(reason), C(rejected), C(ndr), C(skipped) (connectors not used, and why).
      type: dict
      returned: for inbound messages
    recipients:
      description:
        - One answer per recipient. C(rules) lists every rule in priority order with C(status) (C(matched),
          C(not_matched), C(excepted), C(disabled), C(inactive), C(not_evaluated)), C(reason), the C(conditions)
          evaluated with their detail, the C(exception) that stopped it, the C(actions) with their effect
          (in audit modes logged, with no effect), C(applied) and C(stopped_processing).
        - C(applied_rules) (the enforced rules that matched, in order), C(stopped_by), C(route) (C(delivery)
          C(connector), C(mx) or C(internal); C(connector), C(smart_hosts), C(use_mx_record), C(tls_settings),
          C(tls_domain), C(tls_required), C(chosen_by)), C(skipped_connectors), C(rejected) and C(ndr)
          (C(status_code), C(text), C(evidence)), C(deleted), C(quarantined), C(redirected_to),
          C(added_recipients), C(moderated), C(message_after_rules) and C(reason).
      type: list
      elements: dict
    rejected:
      description: Whether any recipient's copy is rejected.
      type: bool
    unknown:
      description: The conditions that could not be evaluated, with why and how they were counted.
      type: list
      elements: dict
    assumptions:
      description: The keys of the assumptions this message's answer followed (their text is in RV(assumptions)).
      type: list
      elements: str
    expectation:
      description: C(met) and the C(mismatches) (C(recipient), C(field), C(expected), C(simulated)).
      type: dict
      returned: when the message has O(messages[].expect)
  sample:
    - name: Accounting to Adatum
      direction: outbound
      rejected: false
      assumptions: [words]
      unknown: []
      recipients:
        - recipient: payroll@adatum.example
          applied_rules: [Adatum - Accounting]
          stopped_by: null
          rejected: false
          route:
            delivery: connector
            connector: Adatum outbound
            smart_hosts: [mail.adatum.example]
            tls_settings: domain_validation
            tls_domain: "*.adatum.example"
            tls_required: true
            chosen_by: rule 'Adatum - Accounting' (route_message_outbound_connector)
      expectation: {met: true, mismatches: []}
assumptions:
  description: Every assumption the answers followed, C(key) and C(text).
  returned: always
  type: list
  elements: dict
  sample:
    - key: connector_overlap
      text: Several outbound connectors cover the recipient's domain. Exchange Online does not document how it
        chooses; the simulation uses the on-premises rule...
summary:
  description: Counts of C(messages), C(recipients), C(rejected), C(through_connector), C(unknown_conditions) and
    C(expectations) (C(checked), C(met), C(failed)).
  returned: always
  type: dict
  sample: {messages: 2, recipients: 2, rejected: 0, through_connector: 1, unknown_conditions: 0,
           expectations: {checked: 2, met: 2, failed: 0}}
failed_expectations:
  description: One line per expectation not met, with the expected and the simulated outcome.
  returned: always
  type: list
  elements: str
  sample: ["message 'Sales to Adatum' to payroll@adatum.example: connector expected 'none', simulated 'Adatum outbound'"]
sources:
  description:
    - What was evaluated against, C(objects) (C(tenant) or C(given)), C(partners) and C(planned) (the objects the
      partner definitions create or update), C(accepted_domains) and C(directory) (read from the tenant, or why not).
  returned: always
  type: dict
calls:
  description: The number of calls made to the tenant (reads only).
  returned: always
  type: int
"""

import os

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.module import MailflowModule
from ansible_collections.m365.mailflow.plugins.module_utils.simulation import sources


def main():
    module = MailflowModule(sources.argument_spec())
    used = []

    def client():
        sandbox = module.params.get("sandbox")
        if sandbox and not os.path.exists(sandbox):
            # Reading would create the sandbox tenant's file: the simulation writes nothing, not even that.
            raise ConfigurationError("sandbox: there is no sandbox tenant at %s; create it first (m365.mailflow."
                                     "sandbox_tenant), or give objects and accepted_domains as data" % sandbox)
        if not used:
            used.append(module.client)
        return used[0]

    def work(mod):
        result = sources.run(mod.params, client)
        result["calls"] = len(used[0].calls) if used else 0
        return result

    module.run(work)


if __name__ == "__main__":
    main()
