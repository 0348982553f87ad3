# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vocabulary of Exchange Online mail flow (transport) rules: every New-/Set-TransportRule parameter, as data.

Data only, no logic beyond building the lookup tables, stdlib only: the client (the ``mail_flow_rule`` table) and the
sandbox tenant (an independent oracle of the service) may both import it, so they cannot disagree about which
parameters exist, what kind of value each takes and how the service reads it back.

Sources, cited per fact below:

- REF: the cmdlet reference pages ``New-TransportRule.md`` / ``Set-TransportRule.md`` (MicrosoftDocs/
  office-docs-powershell, offline copies of 2026-11-29): names, types, "Applicable: Exchange Online", valid values,
  limits. Documented.
- DSC: Microsoft365DSC ``MSFT_EXOTransportRule.schema.mof``: the same parameter list (cross-checked; it lacks
  ``ADComparisonAttribute``, the Edge-only actions, ``UseLegacyRegex`` and the common switches, and marks the DLP
  parameters "DEPRECATED").
- CODE: decompiled ``Microsoft.Exchange.MessagingPolicies.Rules.Tasks`` (stored code index): the predicate/action
  class of each parameter (``TransportRulePredicate``/``TransportRuleAction`` ``BridgeheadMappings`` and
  ``EdgeMappings``, index ids 33001141540 and 11142383480). Confirmed in code, for an on-premises build.
- LIVE: ``Get-TransportRule`` records from real tenants (graph2otel fixture, index id 56316087868; a 2020
  ``Get-TransportRule | fl`` dump, index id 20786660292), see ``live_evidence.md`` and ``connector_cmdlets.md`` 5.3.

Layout. ``PARAMETERS`` has one entry per cmdlet parameter that becomes a module option; a condition is listed once
(its ``ExceptIf`` form is the same option under ``exceptions``, see ``EXCEPTIONS``). ``NOT_OPTIONS`` lists every
other parameter with the reason. ``CMDLET_PARAMETERS`` is the reference's own list, typed separately, so a test can
prove that every parameter went somewhere exactly once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# --------------------------------------------------------------------------- the reference's parameter list

# Every parameter of New-TransportRule (177) and Set-TransportRule (176) in the REF syntax blocks: 178 distinct
# names. New only: Enabled, UseLegacyRegex; Set only: Identity.
NEW_ONLY = ("Enabled", "UseLegacyRegex")
SET_ONLY = ("Identity",)
_BOTH = (
    "ActivationDate", "ADComparisonAttribute", "ADComparisonOperator", "AddManagerAsRecipientType", "AddToRecipients",
    "AnyOfCcHeader", "AnyOfCcHeaderMemberOf", "AnyOfRecipientAddressContainsWords",
    "AnyOfRecipientAddressMatchesPatterns", "AnyOfToCcHeader", "AnyOfToCcHeaderMemberOf", "AnyOfToHeader",
    "AnyOfToHeaderMemberOf", "ApplyClassification", "ApplyHtmlDisclaimerFallbackAction", "ApplyHtmlDisclaimerLocation",
    "ApplyHtmlDisclaimerText", "ApplyOME", "ApplyRightsProtectionCustomizationTemplate", "ApplyRightsProtectionTemplate",
    "AttachmentContainsWords", "AttachmentExtensionMatchesWords", "AttachmentHasExecutableContent",
    "AttachmentIsPasswordProtected", "AttachmentIsUnsupported", "AttachmentMatchesPatterns",
    "AttachmentNameMatchesPatterns", "AttachmentProcessingLimitExceeded", "AttachmentPropertyContainsWords",
    "AttachmentSizeOver", "BetweenMemberOf1", "BetweenMemberOf2", "BlindCopyTo", "Comments", "Confirm",
    "ContentCharacterSetContainsWords", "CopyTo", "DeleteMessage", "Disconnect", "DlpPolicy", "DomainController",
    "ExceptIfADComparisonAttribute", "ExceptIfADComparisonOperator", "ExceptIfAnyOfCcHeader",
    "ExceptIfAnyOfCcHeaderMemberOf", "ExceptIfAnyOfRecipientAddressContainsWords",
    "ExceptIfAnyOfRecipientAddressMatchesPatterns", "ExceptIfAnyOfToCcHeader", "ExceptIfAnyOfToCcHeaderMemberOf",
    "ExceptIfAnyOfToHeader", "ExceptIfAnyOfToHeaderMemberOf", "ExceptIfAttachmentContainsWords",
    "ExceptIfAttachmentExtensionMatchesWords", "ExceptIfAttachmentHasExecutableContent",
    "ExceptIfAttachmentIsPasswordProtected", "ExceptIfAttachmentIsUnsupported", "ExceptIfAttachmentMatchesPatterns",
    "ExceptIfAttachmentNameMatchesPatterns", "ExceptIfAttachmentProcessingLimitExceeded",
    "ExceptIfAttachmentPropertyContainsWords", "ExceptIfAttachmentSizeOver", "ExceptIfBetweenMemberOf1",
    "ExceptIfBetweenMemberOf2", "ExceptIfContentCharacterSetContainsWords", "ExceptIfFrom",
    "ExceptIfFromAddressContainsWords", "ExceptIfFromAddressMatchesPatterns", "ExceptIfFromMemberOf",
    "ExceptIfFromScope", "ExceptIfHasClassification", "ExceptIfHasNoClassification", "ExceptIfHasSenderOverride",
    "ExceptIfHeaderContainsMessageHeader", "ExceptIfHeaderContainsWords", "ExceptIfHeaderMatchesMessageHeader",
    "ExceptIfHeaderMatchesPatterns", "ExceptIfManagerAddresses", "ExceptIfManagerForEvaluatedUser",
    "ExceptIfMessageContainsDataClassifications", "ExceptIfMessageSizeOver", "ExceptIfMessageTypeMatches",
    "ExceptIfRecipientADAttributeContainsWords", "ExceptIfRecipientADAttributeMatchesPatterns",
    "ExceptIfRecipientAddressContainsWords", "ExceptIfRecipientAddressMatchesPatterns", "ExceptIfRecipientDomainIs",
    "ExceptIfRecipientInSenderList", "ExceptIfSCLOver", "ExceptIfSenderADAttributeContainsWords",
    "ExceptIfSenderADAttributeMatchesPatterns", "ExceptIfSenderDomainIs", "ExceptIfSenderInRecipientList",
    "ExceptIfSenderIpRanges", "ExceptIfSenderManagementRelationship", "ExceptIfSentTo", "ExceptIfSentToMemberOf",
    "ExceptIfSentToScope", "ExceptIfSubjectContainsWords", "ExceptIfSubjectMatchesPatterns",
    "ExceptIfSubjectOrBodyContainsWords", "ExceptIfSubjectOrBodyMatchesPatterns", "ExceptIfWithImportance",
    "ExpiryDate", "From", "FromAddressContainsWords", "FromAddressMatchesPatterns", "FromMemberOf", "FromScope",
    "GenerateIncidentReport", "GenerateNotification", "HasClassification", "HasNoClassification", "HasSenderOverride",
    "HeaderContainsMessageHeader", "HeaderContainsWords", "HeaderMatchesMessageHeader", "HeaderMatchesPatterns",
    "IncidentReportContent", "IncidentReportOriginalMail", "LogEventText", "ManagerAddresses",
    "ManagerForEvaluatedUser", "MessageContainsDataClassifications", "MessageSizeOver", "MessageTypeMatches", "Mode",
    "ModerateMessageByManager", "ModerateMessageByUser", "Name", "NotifySender", "PrependSubject", "Priority",
    "Quarantine", "RecipientADAttributeContainsWords", "RecipientADAttributeMatchesPatterns",
    "RecipientAddressContainsWords", "RecipientAddressMatchesPatterns", "RecipientAddressType", "RecipientDomainIs",
    "RecipientInSenderList", "RedirectMessageTo", "RejectMessageEnhancedStatusCode", "RejectMessageReasonText",
    "RemoveHeader", "RemoveOME", "RemoveOMEv2", "RemoveRMSAttachmentEncryption", "RouteMessageOutboundConnector",
    "RouteMessageOutboundRequireTls", "RuleErrorAction", "RuleSubType", "SCLOver", "SenderADAttributeContainsWords",
    "SenderADAttributeMatchesPatterns", "SenderAddressLocation", "SenderDomainIs", "SenderInRecipientList",
    "SenderIpRanges", "SenderManagementRelationship", "SentTo", "SentToMemberOf", "SentToScope", "SetAuditSeverity",
    "SetHeaderName", "SetHeaderValue", "SetSCL", "SmtpRejectMessageRejectStatusCode", "SmtpRejectMessageRejectText",
    "StopRuleProcessing", "SubjectContainsWords", "SubjectMatchesPatterns", "SubjectOrBodyContainsWords",
    "SubjectOrBodyMatchesPatterns", "WhatIf", "WithImportance",
)
CMDLET_PARAMETERS = tuple(sorted(_BOTH + NEW_ONLY + SET_ONLY, key=str.lower))
EXCEPT_PREFIX = "ExceptIf"

# --------------------------------------------------------------------------- value kinds

# The closed set of value kinds. Each maps to one value type of the client (and one check of the sandbox).
KINDS = {
    "text": "one string, compared exactly as the service stores it (trailing spaces kept); 'max_length' if known",
    "words": "list of words or phrases (Word[]); order and duplicates do not matter, compared case-insensitively",
    "patterns": "list of .NET regular expressions (Pattern[]); each must compile, refused up front with the option",
    "recipients": "list of recipients (RecipientIdParameter[]): any identity in, primary SMTP addresses read back",
    "recipient": "one recipient (RecipientIdParameter): any identity in, the primary SMTP address read back",
    "domains": "list of domain names (Word[] on the wire); matches the domain and its subdomains; case-insensitive",
    "ip_ranges": "list of IPv4/IPv6 addresses, a-b ranges or CIDR ranges (IPRange)",
    "size": "ByteQuantifiedSize: '10 MB', '10MB', '10485760' (bytes); compared by bytes",
    "enum": "one value of 'values' (canonical case); the option takes the snake_case form of each value",
    "enum_list": "list of values of 'values' (canonical case); order and duplicates do not matter",
    "flag": "Boolean whose $false means 'not set': reads back False when the rule does not use it",
    "bool": "Boolean with two meaningful values (a rule property)",
    "int": "integer within 'range' (inclusive)",
    "status_code": "enhanced status code: 5.7.1 or 5.7.900 to 5.7.999",
    "date": "DateTime (date, or date and time)",
    "ad_attribute_words": "list of 'Attribute:word1,word2' with Attribute one of AD_ATTRIBUTES",
    "ad_attribute_patterns": "list of 'Attribute:regex1,regex2' with Attribute one of AD_ATTRIBUTES",
    "property_words": "list of 'Property:word1,word2' (Office document properties; any property name)",
    "header_name": "one message header field name (RFC 5322 field-name)",
    "object_name": "the name of another object of the tenant ('object' says which); must exist there",
    "data_classifications": "list of hashtables @{Name=...; minCount=...} (DLP sensitive information types)",
    "switch": "a PowerShell common switch",
}

# The attributes REF lists for ADComparisonAttribute and the *ADAttribute* conditions.
AD_ATTRIBUTES = tuple(
    ["City", "Company", "Country"] + ["CustomAttribute%d" % i for i in range(1, 16)]
    + ["Department", "DisplayName", "Email", "FaxNumber", "FirstName", "HomePhoneNumber", "Initials", "LastName",
       "Manager", "MobileNumber", "Notes", "Office", "OtherFaxNumber", "OtherHomePhoneNumber", "OtherPhoneNumber",
       "PagerNumber", "PhoneNumber", "POBox", "State", "Street", "Title", "UserLogonName", "ZipCode"])

# How the service reads a value back, by kind, with the evidence: "confirmed" (LIVE record or CODE), "documented"
# (REF) or "inferred" (our reading; code defensively). A parameter's own 'read_back' entry overrides this.
READ_BACK = {
    "text": ("as written, trailing spaces kept ('EXTERNAL: ')", "confirmed"),  # LIVE PrependSubject
    "words": ("array of the words as written; null when unset", "confirmed"),  # LIVE ExceptIfRecipientDomainIs
    "patterns": ("array of the patterns as written; null when unset", "inferred"),
    "recipients": ("array of primary SMTP addresses; null when unset", "confirmed"),  # live_evidence.md, CODE
    "recipient": ("the primary SMTP address", "inferred"),
    "domains": ("array of the domains as written; null when unset", "confirmed"),  # LIVE RecipientDomainIs
    "ip_ranges": ("array of ranges in the service's IPRange text form; null when unset", "inferred"),
    "size": ("'10 MB (10,485,760 bytes)': largest binary unit, value:G4, bytes with thousands separators",
             "confirmed"),  # ByteQuantifiedSize.ToString (CODE, service_data.SIZE_UNITS); LIVE mailbox quotas
    "enum": ("the canonical name ('NotInOrganization', 'AutoForward', 'Medium'); null when unset", "confirmed"),
    "enum_list": ("array of canonical names; null when unset", "inferred"),
    "flag": ("False when unset, True when set", "confirmed"),  # LIVE dump: Quarantine False, HasNoClassification False
    "bool": ("True or False", "confirmed"),  # LIVE UseLegacyRegex False
    "int": ("the integer ('-1' for SetSCL -1)", "confirmed"),  # LIVE dump SetSCL -1
    "status_code": ("'5.7.1'", "confirmed"),  # LIVE RejectMessageEnhancedStatusCode
    "date": ("DateTime; null when unset", "confirmed"),
    "ad_attribute_words": ("array of 'Attribute:words' entries as written", "inferred"),
    "ad_attribute_patterns": ("array of 'Attribute:patterns' entries as written", "inferred"),
    "property_words": ("array of 'Property:words' entries as written", "inferred"),
    "header_name": ("the name as written", "inferred"),
    "object_name": ("the object's name", "inferred"),
    "data_classifications": ("a JSON5-like string that Set-TransportRule cannot take back", "confirmed"),  # DSC #1820
    "switch": ("not read back", "documented"),
}

# --------------------------------------------------------------------------- enums (canonical case, REF)

SCOPES = ("InOrganization", "NotInOrganization")
SENT_TO_SCOPES_ON_PREMISES = ("ExternalPartner", "ExternalNonPartner")  # REF: on-premises only
MESSAGE_TYPES = ("OOF", "AutoForward", "Encrypted", "Calendaring", "PermissionControlled", "Voicemail", "Signed",
                 "ApprovalRequest", "ReadReceipt")
IMPORTANCE = ("Low", "Normal", "High")
INCIDENT_REPORT_CONTENT = ("Sender", "Recipients", "Subject", "CC", "BCC", "Severity", "RuleDetections",
                           "FalsePositive", "IdMatch", "AttachOriginalMail")
AUDIT_SEVERITIES = ("DoNotAudit", "Low", "Medium", "High")

# --------------------------------------------------------------------------- the parameters that are options


def _p(param, section, option, kind, sub=None, **spec):
    """One table entry (a plain dict; see the keys below)."""
    entry = dict(param=param, section=section, option=option, sub=sub, kind=kind)
    entry.update(spec)
    return entry


# Keys of an entry:
#   param       cmdlet parameter (a condition in its condition form; the exception is EXCEPT_PREFIX + param)
#   section     "conditions" (and "exceptions"), "actions" or "properties" (top-level options of the module)
#   option      option name in that section; for a group, the dictionary option
#   sub         key inside the group's dictionary (None: the option is the parameter itself)
#   kind        one of KINDS
#   values      enum/enum_list: the allowed values in canonical case (Exchange Online)
#   range       int: (min, max), inclusive
#   max_length  text/words: the service's limit in characters (REF), where documented
#   default     the service's value when the parameter is not given (REF)
#   object      object_name: which kind of tenant object
#   role        recipients: "sender", "member_of" (groups), "sent_to", "added" (recipients added to the message),
#               "moderator" (no groups, REF); the checks the service applies differ by role
#   net_class   the predicate/action class the rule lists in Conditions/Exceptions/Actions (CODE; None: not in the
#               decompiled build, name unknown)
#   read_back   (form, evidence) when it differs from READ_BACK[kind]
#   new_only    True: New-TransportRule only; Set-TransportRule cannot change it
#   requires    parameters that must be set too (REF)
#   eo_note     what differs in Exchange Online (REF)
_C, _A, _P = "conditions", "actions", "properties"

PARAMETERS = (
    # ----------------------------------------------------------------- conditions (and, with ExceptIf, exceptions)
    # senders
    _p("From", _C, "from", "recipients", role="sender", net_class="FromPredicate"),
    _p("FromScope", _C, "from_scope", "enum", values=SCOPES, net_class="FromScopePredicate"),
    _p("FromMemberOf", _C, "from_member_of", "recipients", role="member_of", net_class="FromMemberOfPredicate"),
    _p("FromAddressContainsWords", _C, "from_address_contains_words", "words", net_class="FromAddressContainsPredicate"),
    _p("FromAddressMatchesPatterns", _C, "from_address_matches_patterns", "patterns",
       net_class="FromAddressMatchesPredicate"),
    _p("SenderDomainIs", _C, "sender_domain_is", "domains", net_class="SenderDomainIsPredicate"),
    _p("SenderIpRanges", _C, "sender_ip_ranges", "ip_ranges", net_class="SenderIpRangesPredicate",
       eo_note="evaluates the IP of the last hop before Exchange Online"),
    _p("SenderADAttributeContainsWords", _C, "sender_ad_attribute_contains_words", "ad_attribute_words",
       net_class="SenderAttributeContainsPredicate"),
    _p("SenderADAttributeMatchesPatterns", _C, "sender_ad_attribute_matches_patterns", "ad_attribute_patterns",
       net_class="SenderAttributeMatchesPredicate"),
    _p("SenderManagementRelationship", _C, "sender_management_relationship", "enum",
       values=("Manager", "DirectReport"), net_class="ManagementRelationshipPredicate"),
    _p("ManagerForEvaluatedUser", _C, "manager_for_evaluated_user", "enum", sub="evaluated_user",
       values=("Sender", "Recipient"), net_class="ManagerIsPredicate"),
    _p("ManagerAddresses", _C, "manager_for_evaluated_user", "recipients", sub="addresses", role="sender",
       net_class="ManagerIsPredicate"),
    _p("ADComparisonAttribute", _C, "ad_attribute_comparison", "enum", sub="attribute", values=AD_ATTRIBUTES,
       net_class="ADAttributeComparisonPredicate"),
    _p("ADComparisonOperator", _C, "ad_attribute_comparison", "enum", sub="operator", values=("Equal", "NotEqual"),
       default="Equal", net_class="ADAttributeComparisonPredicate"),
    # recipients
    _p("SentTo", _C, "sent_to", "recipients", role="sent_to", net_class="SentToPredicate"),
    _p("SentToScope", _C, "sent_to_scope", "enum", values=SCOPES, net_class="SentToScopePredicate",
       eo_note="ExternalPartner and ExternalNonPartner are on-premises only (SENT_TO_SCOPES_ON_PREMISES)"),
    _p("SentToMemberOf", _C, "sent_to_member_of", "recipients", role="member_of", net_class="SentToMemberOfPredicate"),
    _p("RecipientAddressContainsWords", _C, "recipient_address_contains_words", "words",
       net_class="RecipientAddressContainsWordsPredicate"),
    _p("RecipientAddressMatchesPatterns", _C, "recipient_address_matches_patterns", "patterns",
       net_class="RecipientAddressMatchesPatternsPredicate"),
    _p("RecipientDomainIs", _C, "recipient_domain_is", "domains", net_class="RecipientDomainIsPredicate"),
    _p("RecipientADAttributeContainsWords", _C, "recipient_ad_attribute_contains_words", "ad_attribute_words",
       net_class="RecipientAttributeContainsPredicate"),
    _p("RecipientADAttributeMatchesPatterns", _C, "recipient_ad_attribute_matches_patterns", "ad_attribute_patterns",
       net_class="RecipientAttributeMatchesPredicate"),
    _p("AnyOfToHeader", _C, "any_of_to_header", "recipients", role="sender", net_class="AnyOfToHeaderPredicate"),
    _p("AnyOfToHeaderMemberOf", _C, "any_of_to_header_member_of", "recipients", role="member_of",
       net_class="AnyOfToHeaderMemberOfPredicate"),
    _p("AnyOfCcHeader", _C, "any_of_cc_header", "recipients", role="sender", net_class="AnyOfCcHeaderPredicate"),
    _p("AnyOfCcHeaderMemberOf", _C, "any_of_cc_header_member_of", "recipients", role="member_of",
       net_class="AnyOfCcHeaderMemberOfPredicate"),
    _p("AnyOfToCcHeader", _C, "any_of_to_cc_header", "recipients", role="sender", net_class="AnyOfToCcHeaderPredicate"),
    _p("AnyOfToCcHeaderMemberOf", _C, "any_of_to_cc_header_member_of", "recipients", role="member_of",
       net_class="AnyOfToCcHeaderMemberOfPredicate"),
    _p("AnyOfRecipientAddressContainsWords", _C, "any_of_recipient_address_contains_words", "words",
       net_class="AnyOfRecipientAddressContainsPredicate"),
    _p("AnyOfRecipientAddressMatchesPatterns", _C, "any_of_recipient_address_matches_patterns", "patterns",
       net_class="AnyOfRecipientAddressMatchesPredicate"),
    _p("BetweenMemberOf1", _C, "between_member_of", "recipients", sub="first", role="member_of",
       net_class="BetweenMemberOfPredicate"),
    _p("BetweenMemberOf2", _C, "between_member_of", "recipients", sub="second", role="member_of",
       net_class="BetweenMemberOfPredicate"),
    # subject, body, headers
    _p("SubjectContainsWords", _C, "subject_contains_words", "words", max_length=128,
       net_class="SubjectContainsPredicate"),
    _p("SubjectMatchesPatterns", _C, "subject_matches_patterns", "patterns", net_class="SubjectMatchesPredicate"),
    _p("SubjectOrBodyContainsWords", _C, "subject_or_body_contains_words", "words", max_length=128,
       net_class="SubjectOrBodyContainsPredicate"),
    _p("SubjectOrBodyMatchesPatterns", _C, "subject_or_body_matches_patterns", "patterns",
       net_class="SubjectOrBodyMatchesPredicate"),
    _p("HeaderContainsMessageHeader", _C, "header_contains", "header_name", sub="header",
       net_class="HeaderContainsPredicate"),
    _p("HeaderContainsWords", _C, "header_contains", "words", sub="words", net_class="HeaderContainsPredicate"),
    _p("HeaderMatchesMessageHeader", _C, "header_matches_patterns", "header_name", sub="header",
       net_class="HeaderMatchesPredicate"),
    _p("HeaderMatchesPatterns", _C, "header_matches_patterns", "patterns", sub="patterns",
       net_class="HeaderMatchesPredicate"),
    _p("ContentCharacterSetContainsWords", _C, "content_character_set_contains_words", "words",
       net_class="ContentCharacterSetContainsWordsPredicate"),
    # attachments
    _p("AttachmentContainsWords", _C, "attachment_contains_words", "words", net_class="AttachmentContainsWordsPredicate"),
    _p("AttachmentMatchesPatterns", _C, "attachment_matches_patterns", "patterns",
       net_class="AttachmentMatchesPatternsPredicate"),
    _p("AttachmentExtensionMatchesWords", _C, "attachment_extension_matches_words", "words",
       net_class="AttachmentExtensionMatchesWordsPredicate"),
    _p("AttachmentNameMatchesPatterns", _C, "attachment_name_matches_patterns", "patterns",
       net_class="AttachmentNameMatchesPredicate"),
    _p("AttachmentPropertyContainsWords", _C, "attachment_property_contains_words", "property_words",
       net_class="AttachmentPropertyContainsWordsPredicate"),
    _p("AttachmentSizeOver", _C, "attachment_size_over", "size", net_class="AttachmentSizeOverPredicate"),
    _p("AttachmentHasExecutableContent", _C, "attachment_has_executable_content", "flag",
       net_class="AttachmentHasExecutableContentPredicate"),
    _p("AttachmentIsPasswordProtected", _C, "attachment_is_password_protected", "flag",
       net_class="AttachmentIsPasswordProtectedPredicate"),
    _p("AttachmentIsUnsupported", _C, "attachment_is_unsupported", "flag", net_class="AttachmentIsUnsupportedPredicate"),
    _p("AttachmentProcessingLimitExceeded", _C, "attachment_processing_limit_exceeded", "flag",
       net_class="AttachmentProcessingLimitExceededPredicate"),
    # message properties
    _p("MessageSizeOver", _C, "message_size_over", "size", net_class="MessageSizeOverPredicate"),
    _p("MessageTypeMatches", _C, "message_type_matches", "enum", values=MESSAGE_TYPES,
       net_class="MessageTypeMatchesPredicate"),
    _p("WithImportance", _C, "with_importance", "enum", values=IMPORTANCE, net_class="WithImportancePredicate"),
    _p("SCLOver", _C, "scl_over", "int", range=(-1, 9), net_class="SclOverPredicate"),
    _p("HasClassification", _C, "has_classification", "object_name", object="MessageClassification",
       net_class="HasClassificationPredicate",
       read_back=("the classification's identity (REF shows a Get-MessageClassification Identity)", "inferred")),
    _p("HasNoClassification", _C, "has_no_classification", "flag", net_class="HasNoClassificationPredicate"),

    # ----------------------------------------------------------------- actions
    # routing, delivery
    _p("RouteMessageOutboundConnector", _A, "route_message_outbound_connector", "object_name",
       object="OutboundConnector", net_class="RouteMessageOutboundConnectorAction",
       read_back=("the connector's Name (a GUID given is stored as the Name)", "confirmed")),  # CODE K-RMOC
    _p("RouteMessageOutboundRequireTls", _A, "route_message_outbound_require_tls", "flag",
       net_class="RouteMessageOutboundRequireTlsAction"),
    _p("RedirectMessageTo", _A, "redirect_message_to", "recipients", role="added", net_class="RedirectMessageAction"),
    _p("AddToRecipients", _A, "add_to_recipients", "recipients", role="added", net_class="AddToRecipientAction"),
    _p("CopyTo", _A, "copy_to", "recipients", role="added", net_class="CopyToAction"),
    _p("BlindCopyTo", _A, "blind_copy_to", "recipients", role="added", net_class="BlindCopyToAction"),
    _p("AddManagerAsRecipientType", _A, "add_manager_as_recipient_type", "enum",
       values=("To", "Cc", "Bcc", "Redirect"), net_class="AddManagerAsRecipientTypeAction"),
    _p("ModerateMessageByUser", _A, "moderate_message_by_user", "recipients", role="moderator",
       net_class="ModerateMessageByUserAction"),
    _p("ModerateMessageByManager", _A, "moderate_message_by_manager", "flag", net_class="ModerateMessageByManagerAction"),
    _p("Quarantine", _A, "quarantine", "flag", net_class="QuarantineAction",
       eo_note="delivers to the hosted quarantine; rules after this one are not evaluated"),
    _p("DeleteMessage", _A, "delete_message", "flag", net_class="DeleteMessageAction"),
    _p("RejectMessageReasonText", _A, "reject_message", "text", sub="reason", max_length=1024,
       default="Delivery not authorized, message refused", net_class="RejectMessageAction"),
    _p("RejectMessageEnhancedStatusCode", _A, "reject_message", "status_code", sub="status_code", default="5.7.1",
       net_class="RejectMessageAction"),
    _p("StopRuleProcessing", _A, "stop_rule_processing", "flag", net_class="StopRuleProcessingAction"),
    # message content and headers
    _p("PrependSubject", _A, "prepend_subject", "text", net_class="PrependSubjectAction"),
    _p("SetHeaderName", _A, "set_header", "header_name", sub="name", net_class="SetHeaderAction"),
    _p("SetHeaderValue", _A, "set_header", "text", sub="value", net_class="SetHeaderAction"),
    _p("RemoveHeader", _A, "remove_header", "header_name", net_class="RemoveHeaderAction"),
    _p("SetSCL", _A, "set_scl", "int", range=(-1, 9), net_class="SetSclAction",
       eo_note="an input to filtering, not a verdict"),
    _p("ApplyHtmlDisclaimerText", _A, "apply_html_disclaimer", "text", sub="text", max_length=5000,
       net_class="ApplyHtmlDisclaimerAction"),
    _p("ApplyHtmlDisclaimerLocation", _A, "apply_html_disclaimer", "enum", sub="location",
       values=("Append", "Prepend"), default="Append", net_class="ApplyHtmlDisclaimerAction"),
    _p("ApplyHtmlDisclaimerFallbackAction", _A, "apply_html_disclaimer", "enum", sub="fallback_action",
       values=("Wrap", "Ignore", "Reject"), default="Wrap", net_class="ApplyHtmlDisclaimerAction",
       eo_note="REF: do not use Wrap on mail from external senders (it defeats Safe Attachments); use Reject"),
    _p("ApplyClassification", _A, "apply_classification", "object_name", object="MessageClassification",
       net_class="ApplyClassificationAction"),
    # encryption
    _p("ApplyOME", _A, "apply_ome", "flag", net_class="ApplyOMEAction"),
    _p("ApplyRightsProtectionTemplate", _A, "apply_rights_protection_template", "object_name", object="RMSTemplate",
       net_class="RightsProtectMessageAction"),
    _p("ApplyRightsProtectionCustomizationTemplate", _A, "apply_rights_protection_customization_template",
       "object_name", object="OMEConfiguration", net_class=None),
    _p("RemoveOME", _A, "remove_ome", "flag", net_class="RemoveOMEAction"),
    _p("RemoveOMEv2", _A, "remove_ome_v2", "flag", net_class=None),
    _p("RemoveRMSAttachmentEncryption", _A, "remove_rms_attachment_encryption", "flag", net_class=None,
       requires=("RemoveOMEv2",)),
    # notifications, reports, audit
    _p("GenerateNotification", _A, "generate_notification", "text", max_length=5120,
       net_class="GenerateNotificationAction"),
    _p("GenerateIncidentReport", _A, "generate_incident_report", "recipient", sub="to",
       net_class="GenerateIncidentReportAction"),
    _p("IncidentReportContent", _A, "generate_incident_report", "enum_list", sub="content",
       values=INCIDENT_REPORT_CONTENT, net_class="GenerateIncidentReportAction"),
    # REF calls SetAuditSeverity an action, and a live rule lists SetAuditSeverityAction under Actions (LIVE).
    _p("SetAuditSeverity", _A, "set_audit_severity", "enum", values=AUDIT_SEVERITIES,
       net_class="SetAuditSeverityAction"),

    # ----------------------------------------------------------------- rule properties (top-level options)
    _p("Name", _P, "name", "text", max_length=64),
    _p("Priority", _P, "priority", "int", range=(0, 299),  # 300 rules per organization (connector_cmdlets.md 6)
       read_back=("an int; New takes 0..N (N rules exist), Set 0..N-1", "confirmed")),
    _p("Enabled", _P, "enabled", "bool", new_only=True,
       read_back=("State: 'Enabled' or 'Disabled' (Enable-/Disable-TransportRule change it)", "confirmed")),
    _p("Mode", _P, "mode", "enum", values=("Audit", "AuditAndNotify", "Enforce"), default="Enforce"),
    _p("Comments", _P, "comments", "text", max_length=1024),
    _p("ActivationDate", _P, "activation_date", "date"),
    _p("ExpiryDate", _P, "expiry_date", "date"),
    _p("RuleErrorAction", _P, "rule_error_action", "enum", values=("Ignore", "Defer"), default="Ignore"),
    _p("SenderAddressLocation", _P, "sender_address_location", "enum",
       values=("Header", "Envelope", "HeaderOrEnvelope"), default="Header"),
    _p("RecipientAddressType", _P, "recipient_address_type", "enum", values=("Original", "Resolved"),
       default="Resolved"),
    _p("RuleSubType", _P, "rule_sub_type", "enum", values=("None", "Dlp"), default="None",
       eo_note="REF: Dlp is meaningful only on-premises"),
    _p("UseLegacyRegex", _P, "use_legacy_regex", "bool", new_only=True, default=False,
       eo_note="Set-TransportRule has no UseLegacyRegex: changing it means recreating the rule"),
)

# --------------------------------------------------------------------------- groups

# Parameters that only make sense together, as one dictionary option: (section, option) -> sub-keys in order, and
# which of them must be given (the others take the service's default when left out, see 'default').
GROUPS = {
    ("conditions", "header_contains"): {"subs": ("header", "words"), "required": ("header", "words")},
    ("conditions", "header_matches_patterns"): {"subs": ("header", "patterns"), "required": ("header", "patterns")},
    ("conditions", "ad_attribute_comparison"): {"subs": ("attribute", "operator"), "required": ("attribute",)},
    ("conditions", "manager_for_evaluated_user"): {"subs": ("evaluated_user", "addresses"),
                                                   "required": ("evaluated_user", "addresses")},
    ("conditions", "between_member_of"): {"subs": ("first", "second"), "required": ("first", "second")},
    ("actions", "set_header"): {"subs": ("name", "value"), "required": ("name", "value")},
    # REF: either may be given alone; the other takes its default (5.7.1 / the default text).
    ("actions", "reject_message"): {"subs": ("reason", "status_code"), "required": ()},
    ("actions", "apply_html_disclaimer"): {"subs": ("text", "location", "fallback_action"), "required": ("text",)},
    ("actions", "generate_incident_report"): {"subs": ("to", "content"), "required": ("to",)},
}

# --------------------------------------------------------------------------- parameters that are not options

# category -> what it means
NOT_OPTION_CATEGORIES = {
    "common": "PowerShell common switch; the module decides it",
    "identity": "the rule's identity on Set-TransportRule; the module's name option",
    "on_premises": "available or functional only in on-premises Exchange",
    "edge_only": "an Edge Transport server action: listed for Exchange Online, functional only on Edge servers",
    "dlp": "an Exchange Server DLP parameter, not functional in Exchange Online (use Microsoft Purview DLP)",
    "internal": "reserved for internal Microsoft use",
}

# parameter -> (category, reason shown in the docs, replacement or None)
NOT_OPTIONS = {
    "Confirm": ("common", "the module never prompts", None),
    "WhatIf": ("common", "check mode does this without calling the cmdlet", None),
    "Identity": ("identity", "the rule is found by its name", "name"),
    "DomainController": ("on_premises", "REF: available only in on-premises Exchange", None),
    "IncidentReportOriginalMail": ("on_premises", "REF: deprecated, not available in Exchange Online",
                                   "actions.generate_incident_report.content: [AttachOriginalMail]"),
    "DlpPolicy": ("on_premises", "REF: functional only in on-premises Exchange", None),
    # CODE: these three actions exist only in the EdgeMappings tables, not in the BridgeheadMappings the service uses.
    "Disconnect": ("edge_only", "REF: functional only on Edge Transport servers",
                   "actions.delete_message"),
    "LogEventText": ("edge_only", "REF: writes to the event log of an Edge Transport server", None),
    "SmtpRejectMessageRejectStatusCode": ("edge_only", "REF: functional only on Edge Transport servers",
                                          "actions.reject_message"),
    "SmtpRejectMessageRejectText": ("edge_only", "REF: functional only on Edge Transport servers",
                                    "actions.reject_message"),
    "MessageContainsDataClassifications": ("dlp", "REF: functional only in on-premises Exchange; DSC: deprecated; "
                                           "read back in a form Set cannot take (DSC #1820)", None),
    "ExceptIfMessageContainsDataClassifications": ("dlp", "as MessageContainsDataClassifications", None),
    "HasSenderOverride": ("dlp", "REF: functional only in on-premises Exchange; DSC: deprecated", None),
    "ExceptIfHasSenderOverride": ("dlp", "as HasSenderOverride", None),
    "NotifySender": ("dlp", "REF: functional only in on-premises Exchange (needs MessageContainsDataClassifications)",
                     None),
    "SenderInRecipientList": ("internal", "REF: reserved for internal Microsoft use", None),
    "ExceptIfSenderInRecipientList": ("internal", "REF: reserved for internal Microsoft use", None),
    "RecipientInSenderList": ("internal", "REF: reserved for internal Microsoft use", None),
    "ExceptIfRecipientInSenderList": ("internal", "REF: reserved for internal Microsoft use", None),
}

# How the non-options are typed and grouped, for the docs and for the sandbox (which must still answer them as the
# service does): parameter -> kind.
NOT_OPTION_KINDS = {
    "Confirm": "switch", "WhatIf": "switch", "Identity": "text", "DomainController": "text",
    "IncidentReportOriginalMail": "enum", "DlpPolicy": "text", "Disconnect": "flag", "LogEventText": "text",
    "SmtpRejectMessageRejectStatusCode": "int", "SmtpRejectMessageRejectText": "text",
    "MessageContainsDataClassifications": "data_classifications",
    "ExceptIfMessageContainsDataClassifications": "data_classifications",
    "HasSenderOverride": "flag", "ExceptIfHasSenderOverride": "flag", "NotifySender": "enum",
    "SenderInRecipientList": "words", "ExceptIfSenderInRecipientList": "words",
    "RecipientInSenderList": "words", "ExceptIfRecipientInSenderList": "words",
}
# Edge-only SmtpRejectMessage: REF range 400..500, default 550 (sic) and text "Delivery not authorized, message refused".
SMTP_REJECT_STATUS_RANGE = (400, 500)
NOTIFY_SENDER_VALUES = ("NotifyOnly", "RejectMessage", "RejectUnlessFalsePositiveOverride",
                        "RejectUnlessSilentOverride", "RejectUnlessExplicitOverride")
INCIDENT_REPORT_ORIGINAL_MAIL_VALUES = ("IncludeOriginalMail", "DoNotIncludeOriginalMail")

# --------------------------------------------------------------------------- what mail_flow_rule has today

# Cmdlet parameters (condition form) that mail_flow_rule has as options before issue 11 (rules.py PREDICATES,
# ACTIONS, TOP_PROPS and argument_spec; the module documentation agrees). Everything else in PARAMETERS is new.
SUPPORTED_BEFORE = frozenset((
    "Name", "Priority", "Enabled", "Mode", "Comments", "ActivationDate", "ExpiryDate",
    "From", "FromScope", "FromMemberOf", "FromAddressContainsWords", "SentTo", "SentToScope", "SentToMemberOf",
    "RecipientAddressContainsWords", "SenderDomainIs", "RecipientDomainIs", "SenderADAttributeContainsWords",
    "SenderADAttributeMatchesPatterns", "SenderIpRanges", "SubjectContainsWords", "SubjectOrBodyContainsWords",
    "HeaderContainsMessageHeader", "HeaderContainsWords",
    "RouteMessageOutboundConnector", "RouteMessageOutboundRequireTls", "SetHeaderName", "SetHeaderValue",
    "RemoveHeader", "PrependSubject", "SetSCL", "AddToRecipients", "CopyTo", "BlindCopyTo", "RedirectMessageTo",
    "StopRuleProcessing", "RejectMessageReasonText", "RejectMessageEnhancedStatusCode",
))

# --------------------------------------------------------------------------- lookups

CONDITIONS = tuple(e for e in PARAMETERS if e["section"] == "conditions")
ACTIONS = tuple(e for e in PARAMETERS if e["section"] == "actions")
PROPERTIES = tuple(e for e in PARAMETERS if e["section"] == "properties")
# The exceptions: each condition under "exceptions", with the ExceptIf parameter.
EXCEPTIONS = tuple(dict(e, section="exceptions", param=EXCEPT_PREFIX + e["param"]) for e in CONDITIONS)
ALL_OPTIONS = CONDITIONS + EXCEPTIONS + ACTIONS + PROPERTIES
BY_PARAMETER = dict((e["param"].lower(), e) for e in ALL_OPTIONS)
