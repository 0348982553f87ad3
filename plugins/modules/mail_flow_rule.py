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
      - Free text, at most 1024 characters. An empty string clears it. Line breaks and tabs are kept; other control
        characters are refused.
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
  rule_error_action:
    description: C(RuleErrorAction). Service default C(Ignore).
    type: str
    choices:
    - defer
    - ignore
  sender_address_location:
    description: C(SenderAddressLocation). Service default C(Header).
    type: str
    choices:
    - envelope
    - header
    - header_or_envelope
  recipient_address_type:
    description: C(RecipientAddressType). Service default C(Resolved).
    type: str
    choices:
    - original
    - resolved
  rule_sub_type:
    description: C(RuleSubType). Service default C(None). Dlp is meaningful only on-premises.
    type: str
    choices:
    - dlp
    - none
  use_legacy_regex:
    description: 'C(UseLegacyRegex). Set-TransportRule has no UseLegacyRegex: changing it means recreating the rule.
      Set only when the rule is created; a different value on an existing rule is refused.'
    type: bool
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
        description: Sender domains; each also matches its subdomains. C(SenderDomainIs). A Unicode domain is
          converted to its A-label form (C(bücher.example) is C(xn--bcher-kva.example)).
        type: list
        elements: str
      recipient_domain_is:
        description: Recipient domains; each also matches its subdomains. C(RecipientDomainIs). A Unicode domain
          is converted to its A-label form.
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
      from_address_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(FromAddressMatchesPatterns).
        type: list
        elements: str
      sender_management_relationship:
        description: C(SenderManagementRelationship).
        type: str
        choices:
        - direct_report
        - manager
      manager_for_evaluated_user:
        description: C(ManagerForEvaluatedUser) and C(ManagerAddresses) (all keys together).
        type: dict
        suboptions:
          evaluated_user:
            description: C(ManagerForEvaluatedUser).
            type: str
            choices:
            - recipient
            - sender
          addresses:
            description: Recipients by name, alias or email address (compared as primary SMTP addresses). C(ManagerAddresses).
            type: list
            elements: str
      ad_attribute_comparison:
        description: C(ADComparisonAttribute) and C(ADComparisonOperator) (the other keys take the service's default).
        type: dict
        suboptions:
          attribute:
            description: C(ADComparisonAttribute). Required.
            type: str
            choices:
            - City
            - Company
            - Country
            - CustomAttribute1
            - CustomAttribute10
            - CustomAttribute11
            - CustomAttribute12
            - CustomAttribute13
            - CustomAttribute14
            - CustomAttribute15
            - CustomAttribute2
            - CustomAttribute3
            - CustomAttribute4
            - CustomAttribute5
            - CustomAttribute6
            - CustomAttribute7
            - CustomAttribute8
            - CustomAttribute9
            - Department
            - DisplayName
            - Email
            - FaxNumber
            - FirstName
            - HomePhoneNumber
            - Initials
            - LastName
            - Manager
            - MobileNumber
            - Notes
            - Office
            - OtherFaxNumber
            - OtherHomePhoneNumber
            - OtherPhoneNumber
            - POBox
            - PagerNumber
            - PhoneNumber
            - State
            - Street
            - Title
            - UserLogonName
            - ZipCode
          operator:
            description: C(ADComparisonOperator). Service default C(Equal).
            type: str
            choices:
            - equal
            - not_equal
      recipient_address_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(RecipientAddressMatchesPatterns).
        type: list
        elements: str
      recipient_ad_attribute_contains_words:
        description: C(Attribute:word1,word2) entries. C(RecipientADAttributeContainsWords).
        type: list
        elements: str
      recipient_ad_attribute_matches_patterns:
        description: C(Attribute:pattern) entries. C(RecipientADAttributeMatchesPatterns).
        type: list
        elements: str
      any_of_to_header:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). C(AnyOfToHeader).
        type: list
        elements: str
      any_of_to_header_member_of:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). Groups. C(AnyOfToHeaderMemberOf).
        type: list
        elements: str
      any_of_cc_header:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). C(AnyOfCcHeader).
        type: list
        elements: str
      any_of_cc_header_member_of:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). Groups. C(AnyOfCcHeaderMemberOf).
        type: list
        elements: str
      any_of_to_cc_header:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). C(AnyOfToCcHeader).
        type: list
        elements: str
      any_of_to_cc_header_member_of:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). Groups. C(AnyOfToCcHeaderMemberOf).
        type: list
        elements: str
      any_of_recipient_address_contains_words:
        description: Words or phrases, compared without case. C(AnyOfRecipientAddressContainsWords).
        type: list
        elements: str
      any_of_recipient_address_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(AnyOfRecipientAddressMatchesPatterns).
        type: list
        elements: str
      between_member_of:
        description: C(BetweenMemberOf1) and C(BetweenMemberOf2) (all keys together).
        type: dict
        suboptions:
          first:
            description: Recipients by name, alias or email address (compared as primary SMTP addresses). Groups. C(BetweenMemberOf1).
            type: list
            elements: str
          second:
            description: Recipients by name, alias or email address (compared as primary SMTP addresses). Groups. C(BetweenMemberOf2).
            type: list
            elements: str
      subject_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(SubjectMatchesPatterns).
        type: list
        elements: str
      subject_or_body_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(SubjectOrBodyMatchesPatterns).
        type: list
        elements: str
      header_matches_patterns:
        description: C(HeaderMatchesMessageHeader) and C(HeaderMatchesPatterns) (all keys together).
        type: dict
        suboptions:
          header:
            description: A message header name. C(HeaderMatchesMessageHeader).
            type: str
          patterns:
            description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(HeaderMatchesPatterns).
            type: list
            elements: str
      content_character_set_contains_words:
        description: Words or phrases, compared without case. C(ContentCharacterSetContainsWords).
        type: list
        elements: str
      attachment_contains_words:
        description: Words or phrases, compared without case. C(AttachmentContainsWords).
        type: list
        elements: str
      attachment_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(AttachmentMatchesPatterns).
        type: list
        elements: str
      attachment_extension_matches_words:
        description: Words or phrases, compared without case. C(AttachmentExtensionMatchesWords).
        type: list
        elements: str
      attachment_name_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(AttachmentNameMatchesPatterns).
        type: list
        elements: str
      attachment_property_contains_words:
        description: C(Property:word1,word2) entries (document properties). C(AttachmentPropertyContainsWords).
        type: list
        elements: str
      attachment_size_over:
        description: A size (V(10 MB), V(10MB) or bytes), compared by bytes. C(AttachmentSizeOver).
        type: raw
      attachment_has_executable_content:
        description: V(true) sets it, V(false) removes it. C(AttachmentHasExecutableContent).
        type: bool
      attachment_is_password_protected:
        description: V(true) sets it, V(false) removes it. C(AttachmentIsPasswordProtected).
        type: bool
      attachment_is_unsupported:
        description: V(true) sets it, V(false) removes it. C(AttachmentIsUnsupported).
        type: bool
      attachment_processing_limit_exceeded:
        description: V(true) sets it, V(false) removes it. C(AttachmentProcessingLimitExceeded).
        type: bool
      message_size_over:
        description: A size (V(10 MB), V(10MB) or bytes), compared by bytes. C(MessageSizeOver).
        type: raw
      message_type_matches:
        description: C(MessageTypeMatches).
        type: str
        choices:
        - approval_request
        - auto_forward
        - calendaring
        - encrypted
        - oof
        - permission_controlled
        - read_receipt
        - signed
        - voicemail
      with_importance:
        description: C(WithImportance).
        type: str
        choices:
        - high
        - low
        - normal
      scl_over:
        description: An integer from -1 to 9. C(SCLOver).
        type: raw
      has_classification:
        description: Name of the tenant's MessageClassification. C(HasClassification).
        type: str
      has_no_classification:
        description: V(true) sets it, V(false) removes it. C(HasNoClassification).
        type: bool
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
        description: Sender domains and their subdomains. C(ExceptIfSenderDomainIs). A Unicode domain is converted
          to its A-label form.
        type: list
        elements: str
      recipient_domain_is:
        description: Recipient domains and their subdomains. C(ExceptIfRecipientDomainIs). A Unicode domain is
          converted to its A-label form.
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
      from_address_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(ExceptIfFromAddressMatchesPatterns).
        type: list
        elements: str
      sender_management_relationship:
        description: C(ExceptIfSenderManagementRelationship).
        type: str
        choices:
        - direct_report
        - manager
      manager_for_evaluated_user:
        description: C(ExceptIfManagerForEvaluatedUser) and C(ExceptIfManagerAddresses) (all keys together).
        type: dict
        suboptions:
          evaluated_user:
            description: C(ExceptIfManagerForEvaluatedUser).
            type: str
            choices:
            - recipient
            - sender
          addresses:
            description: Recipients by name, alias or email address (compared as primary SMTP addresses). C(ExceptIfManagerAddresses).
            type: list
            elements: str
      ad_attribute_comparison:
        description: C(ExceptIfADComparisonAttribute) and C(ExceptIfADComparisonOperator) (the other keys take the service's
          default).
        type: dict
        suboptions:
          attribute:
            description: C(ExceptIfADComparisonAttribute). Required.
            type: str
            choices:
            - City
            - Company
            - Country
            - CustomAttribute1
            - CustomAttribute10
            - CustomAttribute11
            - CustomAttribute12
            - CustomAttribute13
            - CustomAttribute14
            - CustomAttribute15
            - CustomAttribute2
            - CustomAttribute3
            - CustomAttribute4
            - CustomAttribute5
            - CustomAttribute6
            - CustomAttribute7
            - CustomAttribute8
            - CustomAttribute9
            - Department
            - DisplayName
            - Email
            - FaxNumber
            - FirstName
            - HomePhoneNumber
            - Initials
            - LastName
            - Manager
            - MobileNumber
            - Notes
            - Office
            - OtherFaxNumber
            - OtherHomePhoneNumber
            - OtherPhoneNumber
            - POBox
            - PagerNumber
            - PhoneNumber
            - State
            - Street
            - Title
            - UserLogonName
            - ZipCode
          operator:
            description: C(ExceptIfADComparisonOperator). Service default C(Equal).
            type: str
            choices:
            - equal
            - not_equal
      recipient_address_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(ExceptIfRecipientAddressMatchesPatterns).
        type: list
        elements: str
      recipient_ad_attribute_contains_words:
        description: C(Attribute:word1,word2) entries. C(ExceptIfRecipientADAttributeContainsWords).
        type: list
        elements: str
      recipient_ad_attribute_matches_patterns:
        description: C(Attribute:pattern) entries. C(ExceptIfRecipientADAttributeMatchesPatterns).
        type: list
        elements: str
      any_of_to_header:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). C(ExceptIfAnyOfToHeader).
        type: list
        elements: str
      any_of_to_header_member_of:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). Groups. C(ExceptIfAnyOfToHeaderMemberOf).
        type: list
        elements: str
      any_of_cc_header:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). C(ExceptIfAnyOfCcHeader).
        type: list
        elements: str
      any_of_cc_header_member_of:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). Groups. C(ExceptIfAnyOfCcHeaderMemberOf).
        type: list
        elements: str
      any_of_to_cc_header:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). C(ExceptIfAnyOfToCcHeader).
        type: list
        elements: str
      any_of_to_cc_header_member_of:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). Groups. C(ExceptIfAnyOfToCcHeaderMemberOf).
        type: list
        elements: str
      any_of_recipient_address_contains_words:
        description: Words or phrases, compared without case. C(ExceptIfAnyOfRecipientAddressContainsWords).
        type: list
        elements: str
      any_of_recipient_address_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(ExceptIfAnyOfRecipientAddressMatchesPatterns).
        type: list
        elements: str
      between_member_of:
        description: C(ExceptIfBetweenMemberOf1) and C(ExceptIfBetweenMemberOf2) (all keys together).
        type: dict
        suboptions:
          first:
            description: Recipients by name, alias or email address (compared as primary SMTP addresses). Groups. C(ExceptIfBetweenMemberOf1).
            type: list
            elements: str
          second:
            description: Recipients by name, alias or email address (compared as primary SMTP addresses). Groups. C(ExceptIfBetweenMemberOf2).
            type: list
            elements: str
      subject_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(ExceptIfSubjectMatchesPatterns).
        type: list
        elements: str
      subject_or_body_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(ExceptIfSubjectOrBodyMatchesPatterns).
        type: list
        elements: str
      header_matches_patterns:
        description: C(ExceptIfHeaderMatchesMessageHeader) and C(ExceptIfHeaderMatchesPatterns) (all keys together).
        type: dict
        suboptions:
          header:
            description: A message header name. C(ExceptIfHeaderMatchesMessageHeader).
            type: str
          patterns:
            description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(ExceptIfHeaderMatchesPatterns).
            type: list
            elements: str
      content_character_set_contains_words:
        description: Words or phrases, compared without case. C(ExceptIfContentCharacterSetContainsWords).
        type: list
        elements: str
      attachment_contains_words:
        description: Words or phrases, compared without case. C(ExceptIfAttachmentContainsWords).
        type: list
        elements: str
      attachment_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(ExceptIfAttachmentMatchesPatterns).
        type: list
        elements: str
      attachment_extension_matches_words:
        description: Words or phrases, compared without case. C(ExceptIfAttachmentExtensionMatchesWords).
        type: list
        elements: str
      attachment_name_matches_patterns:
        description: Regular expressions (.NET syntax); an invalid one is refused before any call. C(ExceptIfAttachmentNameMatchesPatterns).
        type: list
        elements: str
      attachment_property_contains_words:
        description: C(Property:word1,word2) entries (document properties). C(ExceptIfAttachmentPropertyContainsWords).
        type: list
        elements: str
      attachment_size_over:
        description: A size (V(10 MB), V(10MB) or bytes), compared by bytes. C(ExceptIfAttachmentSizeOver).
        type: raw
      attachment_has_executable_content:
        description: V(true) sets it, V(false) removes it. C(ExceptIfAttachmentHasExecutableContent).
        type: bool
      attachment_is_password_protected:
        description: V(true) sets it, V(false) removes it. C(ExceptIfAttachmentIsPasswordProtected).
        type: bool
      attachment_is_unsupported:
        description: V(true) sets it, V(false) removes it. C(ExceptIfAttachmentIsUnsupported).
        type: bool
      attachment_processing_limit_exceeded:
        description: V(true) sets it, V(false) removes it. C(ExceptIfAttachmentProcessingLimitExceeded).
        type: bool
      message_size_over:
        description: A size (V(10 MB), V(10MB) or bytes), compared by bytes. C(ExceptIfMessageSizeOver).
        type: raw
      message_type_matches:
        description: C(ExceptIfMessageTypeMatches).
        type: str
        choices:
        - approval_request
        - auto_forward
        - calendaring
        - encrypted
        - oof
        - permission_controlled
        - read_receipt
        - signed
        - voicemail
      with_importance:
        description: C(ExceptIfWithImportance).
        type: str
        choices:
        - high
        - low
        - normal
      scl_over:
        description: An integer from -1 to 9. C(ExceptIfSCLOver).
        type: raw
      has_classification:
        description: Name of the tenant's MessageClassification. C(ExceptIfHasClassification).
        type: str
      has_no_classification:
        description: V(true) sets it, V(false) removes it. C(ExceptIfHasNoClassification).
        type: bool
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
      add_manager_as_recipient_type:
        description: C(AddManagerAsRecipientType).
        type: str
        choices:
        - bcc
        - cc
        - redirect
        - to
      moderate_message_by_user:
        description: Recipients by name, alias or email address (compared as primary SMTP addresses). C(ModerateMessageByUser).
        type: list
        elements: str
      moderate_message_by_manager:
        description: V(true) sets it, V(false) removes it. C(ModerateMessageByManager).
        type: bool
      quarantine:
        description: V(true) sets it, V(false) removes it. C(Quarantine). Delivers to the hosted quarantine; rules after
          this one are not evaluated.
        type: bool
      delete_message:
        description: V(true) sets it, V(false) removes it. C(DeleteMessage).
        type: bool
      apply_html_disclaimer:
        description: C(ApplyHtmlDisclaimerText) and C(ApplyHtmlDisclaimerLocation) and C(ApplyHtmlDisclaimerFallbackAction)
          (the other keys take the service's default).
        type: dict
        suboptions:
          text:
            description: Text, kept exactly as given. At most 5000 characters. C(ApplyHtmlDisclaimerText). Required.
            type: str
          location:
            description: C(ApplyHtmlDisclaimerLocation). Service default C(Append).
            type: str
            choices:
            - append
            - prepend
          fallback_action:
            description: C(ApplyHtmlDisclaimerFallbackAction). Service default C(Wrap). Do not use Wrap on mail from external
              senders (it defeats Safe Attachments); use Reject.
            type: str
            choices:
            - ignore
            - reject
            - wrap
      apply_classification:
        description: Name of the tenant's MessageClassification. C(ApplyClassification).
        type: str
      apply_ome:
        description: V(true) sets it, V(false) removes it. C(ApplyOME).
        type: bool
      apply_rights_protection_template:
        description: Name of the tenant's RMSTemplate. C(ApplyRightsProtectionTemplate).
        type: str
      apply_rights_protection_customization_template:
        description: Name of the tenant's OMEConfiguration. C(ApplyRightsProtectionCustomizationTemplate).
        type: str
      remove_ome:
        description: V(true) sets it, V(false) removes it. C(RemoveOME).
        type: bool
      remove_ome_v2:
        description: V(true) sets it, V(false) removes it. C(RemoveOMEv2).
        type: bool
      remove_rms_attachment_encryption:
        description: V(true) sets it, V(false) removes it. C(RemoveRMSAttachmentEncryption).
        type: bool
      generate_notification:
        description: Text, kept exactly as given. At most 5120 characters. C(GenerateNotification).
        type: str
      generate_incident_report:
        description: C(GenerateIncidentReport) and C(IncidentReportContent) (the other keys take the service's default).
        type: dict
        suboptions:
          to:
            description: A recipient by name, alias or email address. C(GenerateIncidentReport). Required.
            type: str
          content:
            description: C(IncidentReportContent).
            type: list
            elements: str
            choices:
            - attach_original_mail
            - bcc
            - cc
            - false_positive
            - id_match
            - recipients
            - rule_detections
            - sender
            - severity
            - subject
      set_audit_severity:
        description: C(SetAuditSeverity).
        type: str
        choices:
        - do_not_audit
        - high
        - low
        - medium
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
      - A parameter that has its own option here (for example C(SenderIpRanges)) is refused with the option to use;
        a name that is not a parameter of either cmdlet is refused with the closest one.
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
          set_audit_severity: medium

    - name: Disclaimer on mail leaving the organisation
      m365.mailflow.mail_flow_rule:
        name: Outgoing disclaimer
        conditions:
          from_scope: in_organization
          sent_to_scope: not_in_organization
        actions:
          apply_html_disclaimer:
            text: <p>Contoso Ltd. confidentiality notice</p>
            location: append
            fallback_action: ignore

    - name: Encrypt mail to a partner
      m365.mailflow.mail_flow_rule:
        name: Encrypt mail to Fabrikam
        conditions:
          recipient_domain_is: [fabrikam.example]
        exceptions:
          message_type_matches: encrypted
        actions:
          apply_ome: true

    - name: Quarantine executables from outside, with an incident report
      m365.mailflow.mail_flow_rule:
        name: Quarantine risky attachments
        conditions:
          from_scope: not_in_organization
          attachment_has_executable_content: true
        exceptions:
          attachment_size_over: 25 MB
        actions:
          quarantine: true
          generate_incident_report:
            to: security@contoso.com
            content: [sender, subject, attach_original_mail]

    - name: Moderate outside mail to a group
      m365.mailflow.mail_flow_rule:
        name: Moderate mail to the board
        conditions:
          any_of_to_cc_header_member_of: [board@contoso.com]
          from_scope: not_in_organization
        actions:
          moderate_message_by_user: [chief.of.staff@contoso.com]

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
changes:
  description:
    - Each property that changed (or would change), with its value before and after as the service reads it back;
      the same shape as the C(changes) of M(m365.mailflow.partners)' objects.
    - A rule's properties by their path (C(conditions.sender_ip_ranges)), the priority as C(priority).
  returned: always
  type: list
  elements: dict
  sample: [{"property": "conditions.sender_ip_ranges", "before": ["198.51.100.0/24"], "after": ["198.51.100.0/25"]}]
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
