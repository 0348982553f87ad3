#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mail_flow_rule
short_description: Manage an Exchange Online mail flow (transport) rule
version_added: 0.1.0
description:
  - Creates, updates, moves, enables, disables or removes a mail flow rule (transport rule) in Exchange Online, for
    example the rule that routes part of your mail to a partner through a rule-scoped outbound connector.
  - Conditions, exceptions and actions are dictionaries with snake_case keys. Values are compared the way Exchange
    Online stores them (words and domains without case and as sets, C(192.0.2.1) equal to C(192.0.2.1/32), dates
    as UTC instants, text such as a subject prefix exactly as given), so a second run reports no change and sends
    no write.
  - Recipients (O(conditions.from), O(conditions.sent_to), the C(*_member_of) keys, O(actions.add_to_recipients),
    O(actions.copy_to), O(actions.blind_copy_to), O(actions.redirect_message_to) and their exceptions) may be
    given by name, alias, display name or email address. Exchange Online stores each as the recipient's primary
    SMTP address, so the task looks each distinct value up first with C(Get-Recipient) (a read, also in check
    mode) and compares and sends addresses. A value that matches no recipient and is not an email address, or
    that matches several, fails the task naming the option, before any write; an email address outside the
    organisation is used as given, as the service does.
  - List values are normalised before they are compared and before they are sent, with one entry per value
    (C([adatum.com, ADATUM.com]) is sent once) and domains without a trailing dot.
  - A condition, exception or action that the rule has but the task does not list is removed (see
    O(purge_conditions)); an explicit empty value removes it too.
  - Priorities are compared only when you set O(priority) or O(position). Placing a rule never makes other rules
    report drift; the result names every rule whose priority shifted.
  - Bad input is refused before any call to the tenant, with the option and the fix in the message. Routing to an
    outbound connector that does not exist, is disabled or is not scoped to mail flow rules is refused after
    reading the connectors and before any write.
author:
  - m365.mailflow contributors (@m365-mailflow)
options:
  name:
    description:
      - Name of the rule, unique in the tenant (case-insensitive). At most 64 characters.
      - A name that begins or ends with white space is refused, because Exchange Online does not allow it.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the rule, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  enabled:
    description:
      - Whether the rule is enabled (the rule's C(State)). New rules are enabled unless this is V(false).
      - An existing rule is switched with C(Enable-TransportRule) or C(Disable-TransportRule).
    type: bool
  mode:
    description:
      - V(enforce) applies the actions, V(audit) only logs what the rule would do, V(audit_and_notify) logs and
        shows policy tips. The service default for a new rule is V(enforce).
    type: str
    choices: [audit, audit_and_notify, enforce]
  comments:
    description:
      - Free text, at most 1024 characters. An empty string clears it.
    type: str
  activation_date:
    description:
      - When the rule starts to act, as C(YYYY-MM-DD) or C(YYYY-MM-DDTHH:MM[:SS]) with an optional C(Z) or
        C(+HH:MM) offset. Without an offset the time is UTC. Sent to the service in UTC.
      - An empty string clears it. A date in the past is satisfied by a rule without an activation date (the
        service drops past activation dates).
    type: str
  expiry_date:
    description:
      - When the rule stops acting, in the same form as O(activation_date); must be after it. An empty string
        clears it.
    type: str
  priority:
    description:
      - The rule's place in the processing order, V(0) being first. Setting a taken value moves the rule there and
        shifts the rules below it down by one.
      - Mutually exclusive with O(position). When neither is set, a new rule is added last and an existing rule
        keeps its place.
    type: int
  position:
    description:
      - "The rule's place relative to the others: V(top), V(bottom), a dictionary C(before) or C(after) naming
        another rule (for example C({before: Append disclaimer})). The priority is computed from the rules as they
        are; a position that already holds is no change."
      - Mutually exclusive with O(priority).
    type: raw
  conditions:
    description:
      - When the rule applies. Several conditions must all match; the values of one list condition are
        alternatives.
      - A rule with no condition and no exception applies to every message and is refused unless
        O(apply_to_all_messages=true).
    type: dict
    suboptions:
      from:
        description:
          - Senders, by name, alias, display name or email address; an address outside the organisation is used as
            given. Compared as the primary SMTP addresses the service stores. C(From).
        type: list
        elements: str
      from_scope:
        description: Where the sender is. C(FromScope).
        type: str
        choices: [in_organization, not_in_organization]
      from_member_of:
        description:
          - Groups the sender is a member of, by name, alias, display name or email address (compared as the
            groups' primary SMTP addresses). A value that is not a group gets a warning. C(FromMemberOf).
        type: list
        elements: str
      from_address_contains_words:
        description: Words in the sender's address. An empty word is refused. C(FromAddressContainsWords).
        type: list
        elements: str
      sent_to:
        description:
          - Recipients of the message, like O(conditions.from). A group is refused, as Exchange Online refuses it
            here; use O(conditions.sent_to_member_of). C(SentTo).
        type: list
        elements: str
      sent_to_scope:
        description: Where the recipient is. C(SentToScope).
        type: str
        choices: [in_organization, not_in_organization]
      sent_to_member_of:
        description: Groups a recipient is a member of, like O(conditions.from_member_of). C(SentToMemberOf).
        type: list
        elements: str
      recipient_address_contains_words:
        description: Words in a recipient's address. C(RecipientAddressContainsWords).
        type: list
        elements: str
      sender_domain_is:
        description: Sender domains; each also matches its subdomains. C(SenderDomainIs).
        type: list
        elements: str
      recipient_domain_is:
        description: Recipient domains; each also matches its subdomains. C(RecipientDomainIs).
        type: list
        elements: str
      sender_ad_attribute_contains_words:
        description:
          - Words in an attribute of the sender, each entry C(Attribute:word1,word2), for example
            C(Department:Accounting). Works for senders in the organisation. C(SenderADAttributeContainsWords).
          - Attributes are C(City), C(Company), C(Country), C(CustomAttribute1) to C(CustomAttribute15),
            C(Department), C(DisplayName), C(Email), C(FaxNumber), C(FirstName), C(HomePhoneNumber), C(Initials),
            C(LastName), C(Manager), C(MobileNumber), C(Notes), C(Office), C(OtherFaxNumber),
            C(OtherHomePhoneNumber), C(OtherPhoneNumber), C(PagerNumber), C(PhoneNumber), C(POBox), C(State),
            C(Street), C(Title), C(UserLogonName) and C(ZipCode).
        type: list
        elements: str
      sender_ad_attribute_matches_patterns:
        description:
          - Like O(conditions.sender_ad_attribute_contains_words) with a regular expression, C(Attribute:pattern).
            C(SenderADAttributeMatchesPatterns).
          - A pattern that is not a valid regular expression is refused before any call. Exchange Online uses .NET
            regular expressions; only errors that .NET and Python agree on are refused here (unbalanced
            parentheses or brackets, a quantifier with nothing to repeat or C({3,1}), a reversed range, an unknown
            escape letter), anything else is left to the service.
        type: list
        elements: str
      sender_ip_ranges:
        description:
          - IP addresses of the last server before Exchange Online, each a single address, a CIDR block or a range
            C(192.0.2.1-192.0.2.9). C(SenderIpRanges).
        type: list
        elements: str
      subject_contains_words:
        description: Words or phrases in the subject. An empty word is refused. C(SubjectContainsWords).
        type: list
        elements: str
      subject_or_body_contains_words:
        description: Words or phrases in the subject or the body. C(SubjectOrBodyContainsWords).
        type: list
        elements: str
      header_contains:
        description:
          - A message header and words it contains, both required. C(HeaderContainsMessageHeader) and
            C(HeaderContainsWords). An empty dictionary removes the condition.
        type: dict
        suboptions:
          header:
            description: Name of the header, for example C(X-Partner) (printable ASCII without spaces or C(:)).
            type: str
          words:
            description: Words, any of which must be in the header.
            type: list
            elements: str
  exceptions:
    description:
      - When the rule does not apply even though its conditions match. Same keys as O(conditions), sent as the
        C(ExceptIf) parameters (C(ExceptIfSenderIpRanges)...).
    type: dict
    suboptions:
      from:
        description: Senders, like O(conditions.from). C(ExceptIfFrom).
        type: list
        elements: str
      from_scope:
        description: Where the sender is. C(ExceptIfFromScope).
        type: str
        choices: [in_organization, not_in_organization]
      from_member_of:
        description: Groups the sender is a member of, like O(conditions.from_member_of). C(ExceptIfFromMemberOf).
        type: list
        elements: str
      from_address_contains_words:
        description: Words in the sender's address. C(ExceptIfFromAddressContainsWords).
        type: list
        elements: str
      sent_to:
        description: Recipients, like O(conditions.sent_to) (groups are refused). C(ExceptIfSentTo).
        type: list
        elements: str
      sent_to_scope:
        description: Where the recipient is. C(ExceptIfSentToScope).
        type: str
        choices: [in_organization, not_in_organization]
      sent_to_member_of:
        description: Groups a recipient is a member of, like O(conditions.from_member_of). C(ExceptIfSentToMemberOf).
        type: list
        elements: str
      recipient_address_contains_words:
        description: Words in a recipient's address. C(ExceptIfRecipientAddressContainsWords).
        type: list
        elements: str
      sender_domain_is:
        description: Sender domains and their subdomains. C(ExceptIfSenderDomainIs).
        type: list
        elements: str
      recipient_domain_is:
        description: Recipient domains and their subdomains. C(ExceptIfRecipientDomainIs).
        type: list
        elements: str
      sender_ad_attribute_contains_words:
        description: C(Attribute:word1,word2) entries. C(ExceptIfSenderADAttributeContainsWords).
        type: list
        elements: str
      sender_ad_attribute_matches_patterns:
        description: C(Attribute:pattern) entries, validated like O(conditions.sender_ad_attribute_matches_patterns).
          C(ExceptIfSenderADAttributeMatchesPatterns).
        type: list
        elements: str
      sender_ip_ranges:
        description: Addresses, CIDR blocks or ranges. C(ExceptIfSenderIpRanges).
        type: list
        elements: str
      subject_contains_words:
        description: Words in the subject. C(ExceptIfSubjectContainsWords).
        type: list
        elements: str
      subject_or_body_contains_words:
        description: Words in the subject or body. C(ExceptIfSubjectOrBodyContainsWords).
        type: list
        elements: str
      header_contains:
        description: A header and words it contains, both required. C(ExceptIfHeaderContainsMessageHeader) and
          C(ExceptIfHeaderContainsWords).
        type: dict
        suboptions:
          header:
            description: Name of the header.
            type: str
          words:
            description: Words, any of which must be in the header.
            type: list
            elements: str
  actions:
    description:
      - What the rule does to matching messages.
    type: dict
    suboptions:
      route_message_outbound_connector:
        description:
          - Deliver matching messages through this outbound connector (name or GUID). The connector must exist, be
            enabled and be scoped to mail flow rules (m365.mailflow.partner_outbound_connector with
            C(transport_rule_scoped=true)); otherwise the task fails before any write. In check mode this is a
            warning instead, because an earlier task of the same run may create or fix the connector.
            C(RouteMessageOutboundConnector).
        type: str
      route_message_outbound_require_tls:
        description: Require TLS to deliver matching messages outside the organisation. C(RouteMessageOutboundRequireTls).
        type: bool
      set_header:
        description:
          - Add or overwrite a message header; name and value are both required. C(SetHeaderName) and
            C(SetHeaderValue). An empty dictionary removes the action.
        type: dict
        suboptions:
          name:
            description: Name of the header.
            type: str
          value:
            description: Value of the header, stored and compared exactly as given (blanks included).
            type: str
      remove_header:
        description: Remove this message header. C(RemoveHeader).
        type: str
      prepend_subject:
        description:
          - Text to put in front of the subject (end it with a space, for example C("[EXTERNAL] ")). Stored and
            compared exactly as given, so a change of only the trailing space is a change. C(PrependSubject).
        type: str
      set_scl:
        description:
          - Set the spam confidence level, an integer from V(-1) (bypass spam filtering) to V(9). C(SetSCL).
          - An empty string removes the action.
        type: raw
      add_to_recipients:
        description:
          - Add these recipients to the To field, by name, alias, display name or email address (compared as primary
            SMTP addresses, like O(conditions.from)). Groups are refused, as Exchange Online refuses them in the
            actions that add recipients. C(AddToRecipients).
        type: list
        elements: str
      copy_to:
        description: Add these recipients to the Cc field, like O(actions.add_to_recipients). C(CopyTo).
        type: list
        elements: str
      blind_copy_to:
        description: Send a blind copy to these recipients, like O(actions.add_to_recipients). C(BlindCopyTo).
        type: list
        elements: str
      redirect_message_to:
        description: Redirect the message to these recipients, like O(actions.add_to_recipients).
          C(RedirectMessageTo).
        type: list
        elements: str
      stop_rule_processing:
        description: Do not process later rules for matching messages. C(StopRuleProcessing).
        type: bool
      reject_message:
        description:
          - Reject the message with a non-delivery report. Give at least one of O(actions.reject_message.reason)
            and O(actions.reject_message.status_code); one left out is the service's default and is not compared.
        type: dict
        suboptions:
          reason:
            description: Text of the non-delivery report, at most 1024 characters, compared exactly.
              C(RejectMessageReasonText).
            type: str
          status_code:
            description: Enhanced status code, C(5.7.1) or C(5.7.900) to C(5.7.999). C(RejectMessageEnhancedStatusCode).
            type: str
  purge_conditions:
    description:
      - When O(conditions) is given, remove the conditions the rule has that it does not list. With V(false) only
        the listed conditions are managed, and an explicit empty value (C([]), C(""), C({})) still removes one.
      - When O(conditions) is not given at all, the rule's conditions are left as they are.
    type: bool
    default: true
  purge_exceptions:
    description: The same as O(purge_conditions), for O(exceptions).
    type: bool
    default: true
  purge_actions:
    description:
      - The same as O(purge_conditions), for O(actions). A flag action (O(actions.stop_rule_processing)) is
        removed by setting it to V(false).
    type: bool
    default: true
  apply_to_all_messages:
    description:
      - Allow the rule to have no condition and no exception, so that it applies to every message in the
        organisation. Without it such a rule is refused.
    type: bool
    default: false
  extra_parameters:
    description:
      - Other C(New-TransportRule) / C(Set-TransportRule) parameters, by their cmdlet name (for example
        C(SetAuditSeverity) or C(AttachmentSizeOver)), sent as given and managed only when listed here; V(null)
        clears one.
      - Compared the way the service reads them back. Sizes (C(AttachmentSizeOver), C(MessageSizeOver) and their
        C(ExceptIf) forms) by bytes, so C(10MB), C(10 MB) and C(10485760) all equal the C(10 MB (10,485,760 bytes))
        read back; booleans and numbers by value (C("true") equals V(true), C("5") equals V(5)); a single word
        without case (enums come back in canonical case); lists as sets; other text exactly.
      - Recipient lists (for example C(AnyOfToHeader)) are resolved like O(conditions.from); regular expressions
        (C(*MatchesPatterns)) are validated like O(conditions.sender_ad_attribute_matches_patterns).
      - A parameter that has its own option here (for example C(SenderIpRanges)) is refused with the option to use.
      - A parameter here that is neither a known action nor a rule property counts as a condition for
        O(apply_to_all_messages).
    type: dict
extends_documentation_fragment:
  - m365.mailflow.connection
  - m365.mailflow.attributes
notes:
  - The rules are read with one C(Get-TransportRule) call; a task that changes nothing makes no other call, but for
    one C(Get-Recipient) per distinct recipient value it manages (the app needs a role that allows
    C(Get-Recipient), which the C(Exchange Administrator) role does).
  - Changes to rules take effect in Exchange Online after replication, which can take up to 30 minutes.
  - Renaming a rule is not supported; a new O(name) creates another rule.
seealso:
  - module: m365.mailflow.partner_outbound_connector
  - name: New-TransportRule
    description: The Exchange Online cmdlet behind this module.
    link: https://learn.microsoft.com/powershell/module/exchangepowershell/new-transportrule
"""

EXAMPLES = r"""
- name: Route Adatum's accounting mail through the Adatum connector
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/m365.mailflow.exchange:
      tenant: contoso.onmicrosoft.com
      client_id: 00000000-0000-0000-0000-000000000000
      certificate_path: /etc/exo/app.pem
  tasks:
    - name: Rule-scoped outbound connector to Adatum's smart host
      m365.mailflow.partner_outbound_connector:
        name: Adatum outbound
        transport_rule_scoped: true
        smart_hosts: [mail.adatum.example]
        tls_settings: domain_validation
        tls_domain: "*.adatum.example"

    - name: Send Accounting's mail for adatum.example through it, before the disclaimer rule
      m365.mailflow.mail_flow_rule:
        name: Route Accounting to Adatum
        conditions:
          sender_ad_attribute_contains_words:
            - Department:Accounting
          recipient_domain_is:
            - adatum.example
        actions:
          route_message_outbound_connector: Adatum outbound
        position:
          before: Append disclaimer
        comments: Managed by Ansible
      register: route

    - name: Show the final priority and the rules that moved
      ansible.builtin.debug:
        msg: "priority {{ route.priority }}, shifted {{ route.shifted_rules | map(attribute='name') | list }}"

    - name: Tag external mail, except from the partner's servers; place it first
      m365.mailflow.mail_flow_rule:
        name: Tag external mail
        position: top
        conditions:
          from_scope: not_in_organization
        exceptions:
          sender_ip_ranges:
            - 198.51.100.0/24
        actions:
          prepend_subject: "[EXTERNAL] "
          set_header:
            name: X-Contoso-External
            value: "yes"

    - name: Remove the header action and the exception, keep the rest (purge is on by default)
      m365.mailflow.mail_flow_rule:
        name: Tag external mail
        conditions:
          from_scope: not_in_organization
        exceptions: {}
        actions:
          prepend_subject: "[EXTERNAL] "

    - name: Audit a rejection rule for a month before enforcing it
      m365.mailflow.mail_flow_rule:
        name: Reject spoofed partner mail
        mode: audit
        activation_date: "2026-07-01"
        expiry_date: "2026-08-01T00:00:00Z"
        conditions:
          sender_domain_is: [adatum.example]
          header_contains:
            header: X-Spoofed
            words: ["true"]
        actions:
          reject_message:
            reason: Rejected by policy
            status_code: "5.7.900"
        extra_parameters:
          SetAuditSeverity: Medium

    - name: Disable a rule without touching its conditions or actions
      m365.mailflow.mail_flow_rule:
        name: Reject spoofed partner mail
        enabled: false

    - name: Remove a rule
      m365.mailflow.mail_flow_rule:
        name: Reject spoofed partner mail
        state: absent
"""

RETURN = r"""
rule:
  description:
    - The rule as it stands after the task, in module option form (in check mode, as it would stand). O(conditions),
      O(exceptions) and O(actions) hold only the keys that are set. Empty when the rule is absent.
  returned: always
  type: dict
  sample:
    name: Route Accounting to Adatum
    state: present
    priority: 1
    enabled: true
    mode: enforce
    comments: Managed by Ansible
    activation_date: null
    expiry_date: null
    conditions:
      sender_ad_attribute_contains_words: [Department:Accounting]
      recipient_domain_is: [adatum.example]
    exceptions: {}
    actions:
      route_message_outbound_connector: Adatum outbound
    guid: 0b7a4c1e-7c55-4c4e-9d44-1f0f8a3c2d10
    identity: Route Accounting to Adatum
priority:
  description: The rule's final priority (0 is first); null when the rule is absent.
  returned: always
  type: int
  sample: 1
shifted_rules:
  description: The other rules whose priority changed (or, in check mode, would change), with before and after.
  returned: always
  type: list
  elements: dict
  sample:
    - name: Append disclaimer
      before: 1
      after: 2
before:
  description: The rule before the task, in the same form as RV(rule); empty if it did not exist.
  returned: always
  type: dict
after:
  description: Same as RV(rule).
  returned: always
  type: dict
action:
  description: What the task did or, in check mode, would do; one of C(create), C(update), C(delete), C(none).
  returned: always
  type: str
  sample: update
changed_properties:
  description:
    - The properties that changed (or would change), as option paths such as C(conditions.sender_ip_ranges),
      C(actions.set_header), C(priority) or C(enabled).
  returned: always
  type: list
  elements: str
  sample: [actions.set_header, priority]
commands:
  description:
    - The write calls made (or, in check mode, that would be made), each with the cmdlet and its parameters.
      An update is one C(Set-TransportRule) with only what differs (a removed condition as C(null)), plus
      C(Enable-TransportRule) or C(Disable-TransportRule) when O(enabled) changes.
  returned: always
  type: list
  elements: dict
  sample:
    - cmdlet: Set-TransportRule
      parameters:
        Identity: 0b7a4c1e-7c55-4c4e-9d44-1f0f8a3c2d10
        SetHeaderName: null
        SetHeaderValue: null
        Priority: 0
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: mail flow rule 'Route Accounting to Adatum' updated
service_warnings:
  description:
    - Warnings Exchange Online returned, in check mode the connector problems described under
      O(actions.route_message_outbound_connector), and warnings about the input (a C(*_member_of) value that is
      not a group).
  returned: when the service returned warnings
  type: list
  elements: str
"""

from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary as vocabulary
from ansible_collections.m365.mailflow.plugins.module_utils.resources import transport_rule as rules
from ansible_collections.m365.mailflow.plugins.module_utils.module import MailflowModule


def main():
    module = MailflowModule(vocabulary.argument_spec())
    module.ensure(*rules.rule_task(module.params))


if __name__ == "__main__":
    main()
