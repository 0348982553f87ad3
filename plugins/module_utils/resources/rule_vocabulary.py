# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mail flow rule vocabulary: the conditions, exceptions and actions the module knows (snake_case key ->
cmdlet parameter and value type), the rule's own properties, the module's argument spec built from that
table, and the flat desired state built from module options.

A rule is handled in *flat* form, one entry per property path (``conditions.sender_ip_ranges``,
``actions.set_header``, ``mode``, ``extra_parameters.SetAuditSeverity``...), each described by a
``fields.Field``. ``None`` in the desired state means "not managed"; an empty value (``[]``, ``""``, ``{}``,
``false`` for flags) means "must not be set" and clears it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.fields import (
    AdAttributes, CiText, Date, Domains, Enum, Field, Flag, HeaderName, IpRanges, Pair, Patterns, Raw, Recipients,
    RuleState, Scl, Size, StatusCode, Text, Words,
)


NAME_MAX = 64
COMMENTS_MAX = 1024
SECTIONS = ("conditions", "exceptions", "actions")
# Cmdlet parameters that are rule actions or rule properties, never conditions: used to tell whether
# ``extra_parameters`` adds a condition (a rule without any condition or exception applies to all mail).
NON_CONDITION_PARAMETERS = frozenset(p.lower() for p in (
    "AddManagerAsRecipientType", "AddToRecipients", "ApplyClassification", "ApplyHtmlDisclaimerFallbackAction",
    "ApplyHtmlDisclaimerLocation", "ApplyHtmlDisclaimerText", "ApplyOME", "ApplyRightsProtectionCustomizationTemplate",
    "ApplyRightsProtectionTemplate", "BlindCopyTo", "CopyTo", "DeleteMessage", "GenerateIncidentReport",
    "GenerateNotification", "IncidentReportContent", "ModerateMessageByManager", "ModerateMessageByUser",
    "NotifySender", "PrependSubject", "Quarantine", "RedirectMessageTo", "RejectMessageEnhancedStatusCode",
    "RejectMessageReasonText", "RemoveHeader", "RemoveOME", "RemoveOMEv2", "RemoveRMSAttachmentEncryption",
    "RouteMessageOutboundConnector", "RouteMessageOutboundRequireTls", "SetAuditSeverity", "SetHeaderName",
    "SetHeaderValue", "SetSCL", "SmtpRejectMessageRejectStatusCode", "SmtpRejectMessageRejectText",
    "StopRuleProcessing", "RuleErrorAction", "SenderAddressLocation", "RuleSubType", "UseLegacyRegex",
    "DlpPolicy",
))
# Parameters that have their own module option (or are the identity): refused in extra_parameters.
RESERVED_PARAMETERS = {
    "name": "name", "identity": "name", "priority": "priority or position", "enabled": "enabled",
    "state": "enabled", "mode": "mode", "comments": "comments", "activationdate": "activation_date",
    "expirydate": "expiry_date", "confirm": None, "whatif": None,
}
REASON_MAX = 1024  # RejectMessageReasonText (the sandbox's limit; inferred)
# extra_parameters whose values the service reads back in another form than they are written, by cmdlet parameter
# (New-TransportRule reference, parameter types). Sizes are ByteQuantifiedSize ("10 MB (10,485,760 bytes)");
# recipients are RecipientIdParameter[] (read back as primary SMTP addresses, like the module's own recipient keys);
# patterns are regular expressions (validated like the module's *_matches_patterns keys).
SIZE_PARAMETERS = frozenset(p.lower() for p in (
    "AttachmentSizeOver", "ExceptIfAttachmentSizeOver", "MessageSizeOver", "ExceptIfMessageSizeOver"))
RECIPIENT_PARAMETERS = dict((p.lower(), role) for p, role in (
    ("AnyOfToHeader", "sender"), ("ExceptIfAnyOfToHeader", "sender"),
    ("AnyOfCcHeader", "sender"), ("ExceptIfAnyOfCcHeader", "sender"),
    ("AnyOfToCcHeader", "sender"), ("ExceptIfAnyOfToCcHeader", "sender"),
    ("AnyOfToHeaderMemberOf", "member_of"), ("ExceptIfAnyOfToHeaderMemberOf", "member_of"),
    ("AnyOfCcHeaderMemberOf", "member_of"), ("ExceptIfAnyOfCcHeaderMemberOf", "member_of"),
    ("AnyOfToCcHeaderMemberOf", "member_of"), ("ExceptIfAnyOfToCcHeaderMemberOf", "member_of"),
    ("BetweenMemberOf1", "member_of"), ("ExceptIfBetweenMemberOf1", "member_of"),
    ("BetweenMemberOf2", "member_of"), ("ExceptIfBetweenMemberOf2", "member_of"),
    ("ManagerAddresses", "sender"), ("ExceptIfManagerAddresses", "sender"), ("ModerateMessageByUser", "sender"),
))


def extra_value(param):
    """The value type of an ``extra_parameters`` entry, by its cmdlet parameter name."""
    lowered = param.lower()
    if lowered in SIZE_PARAMETERS:
        return Size()
    if lowered in RECIPIENT_PARAMETERS:
        return Recipients(RECIPIENT_PARAMETERS[lowered])
    if lowered.endswith("matchespatterns"):
        return Patterns(attribute="adattribute" in lowered)
    return Raw()


SCOPES = {"in_organization": "InOrganization", "not_in_organization": "NotInOrganization"}
MODES = {"enforce": "Enforce", "audit": "Audit", "audit_and_notify": "AuditAndNotify"}
# snake_case key -> (parameter, value type). Exceptions use the same keys with the ExceptIf prefix.
PREDICATES = (
    ("from", "From", Recipients("sender")),
    ("from_scope", "FromScope", Enum(SCOPES)),
    ("from_member_of", "FromMemberOf", Recipients("member_of")),
    ("from_address_contains_words", "FromAddressContainsWords", Words()),
    ("sent_to", "SentTo", Recipients("sent_to")),
    ("sent_to_scope", "SentToScope", Enum(SCOPES)),
    ("sent_to_member_of", "SentToMemberOf", Recipients("member_of")),
    ("recipient_address_contains_words", "RecipientAddressContainsWords", Words()),
    ("sender_domain_is", "SenderDomainIs", Domains()),
    ("recipient_domain_is", "RecipientDomainIs", Domains()),
    ("sender_ad_attribute_contains_words", "SenderADAttributeContainsWords", AdAttributes()),
    ("sender_ad_attribute_matches_patterns", "SenderADAttributeMatchesPatterns", AdAttributes(patterns=True)),
    ("sender_ip_ranges", "SenderIpRanges", IpRanges()),
    ("subject_contains_words", "SubjectContainsWords", Words()),
    ("subject_or_body_contains_words", "SubjectOrBodyContainsWords", Words()),
    ("header_contains", (("header", "HeaderContainsMessageHeader", HeaderName()),
                         ("words", "HeaderContainsWords", Words())), True),
)
ACTIONS = (
    ("route_message_outbound_connector", "RouteMessageOutboundConnector", CiText()),
    ("route_message_outbound_require_tls", "RouteMessageOutboundRequireTls", Flag()),
    ("set_header", (("name", "SetHeaderName", HeaderName()), ("value", "SetHeaderValue", Text(blank=False))), True),
    ("remove_header", "RemoveHeader", HeaderName()),
    ("prepend_subject", "PrependSubject", Text(blank=False)),
    ("set_scl", "SetSCL", Scl()),
    ("add_to_recipients", "AddToRecipients", Recipients("added")),
    ("copy_to", "CopyTo", Recipients("added")),
    ("blind_copy_to", "BlindCopyTo", Recipients("added")),
    ("redirect_message_to", "RedirectMessageTo", Recipients("added")),
    ("stop_rule_processing", "StopRuleProcessing", Flag()),
    ("reject_message", (("reason", "RejectMessageReasonText", Text(maximum=REASON_MAX)),
                        ("status_code", "RejectMessageEnhancedStatusCode", StatusCode())), False),
)
ROUTE = "actions.route_message_outbound_connector"


def _props(section, table, prefix=""):
    props = []
    for entry in table:
        option, target = entry[0], entry[1]
        if isinstance(target, tuple):
            subs = [(sub, prefix + param, value) for sub, param, value in target]
            props.append(Pair(option, subs, required=entry[2], section=section))
        else:
            props.append(Field(option, prefix + target, entry[2], section=section))
    return props


TOP_PROPS = (
    Field("enabled", "Enabled", RuleState(), read="State"),
    Field("mode", "Mode", Enum(MODES)),
    Field("comments", "Comments", Text()),
    Field("activation_date", "ActivationDate", Date()),
    Field("expiry_date", "ExpiryDate", Date()),
)
TABLE = tuple(TOP_PROPS) + tuple(_props("conditions", PREDICATES) + _props("exceptions", PREDICATES, "ExceptIf")
                                 + _props("actions", ACTIONS))
BY_PATH = dict((p.path, p) for p in TABLE)
BY_PARAM = dict((param.lower(), p) for p in TABLE for param in p.params)


def section_argument_spec(section):
    return dict((p.option, p.arg()) for p in TABLE if p.section == section)


def argument_spec():
    """The module's own options (the connection options are added by MailflowModule)."""
    return dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        enabled=dict(type="bool"),
        mode=dict(type="str", choices=sorted(MODES)),
        comments=dict(type="str"),
        activation_date=dict(type="str"),
        expiry_date=dict(type="str"),
        priority=dict(type="int"),
        position=dict(type="raw"),
        conditions=dict(type="dict", options=section_argument_spec("conditions")),
        exceptions=dict(type="dict", options=section_argument_spec("exceptions")),
        actions=dict(type="dict", options=section_argument_spec("actions")),
        purge_conditions=dict(type="bool", default=True),
        purge_exceptions=dict(type="bool", default=True),
        purge_actions=dict(type="bool", default=True),
        apply_to_all_messages=dict(type="bool", default=False),
        extra_parameters=dict(type="dict"),
    )


def parse_position(value):
    """('top'|'bottom'|'before'|'after', rule name or None) from the ``position`` option, or raise."""
    if isinstance(value, str) and value.strip().lower() in ("top", "bottom"):
        return value.strip().lower(), None
    if isinstance(value, dict) and len(value) == 1:
        where, other = list(value.items())[0]
        if where in ("before", "after") and isinstance(other, str) and other.strip():
            return where, other.strip()
    raise ConfigurationError(
        "position: '%s' is not a position; write top, bottom, {before: <rule name>} or {after: <rule name>}" % (value,))


def desired_state(params):
    """The flat desired state from module options (raises ConfigurationError for unknown keys).

    A section (``conditions``...) that is not given at all is not managed. When it is given and its purge option is
    true, every key it does not set must be absent from the rule.
    """
    desired = dict((p.path, params.get(p.option)) for p in TOP_PROPS)
    desired["priority"] = params.get("priority")
    desired["position"] = params.get("position")
    errors = []
    for section in SECTIONS:
        given = params.get(section)
        if given is None:
            continue
        if not isinstance(given, dict):
            errors.append("%s: give a dictionary of %s" % (section, section))
            continue
        known = dict((p.option, p) for p in TABLE if p.section == section)
        for key in sorted(set(given) - set(known)):
            errors.append("%s: unknown key '%s'. Known keys: %s. Pass other cmdlet parameters through "
                          "extra_parameters with their cmdlet name" % (section, key, ", ".join(sorted(known))))
        purge = params.get("purge_" + section, True)
        for option, prop in known.items():
            value = given.get(option)
            if value is None and purge:
                value = prop.empty()
            desired[prop.path] = value
    for param, value in sorted((params.get("extra_parameters") or {}).items()):
        desired["extra_parameters." + str(param)] = value
    n.raise_errors(errors)
    return desired


_TOP_ORDER = ("name", "state", "priority", "enabled", "mode", "comments", "activation_date", "expiry_date")
GROUPS = SECTIONS + ("extra_parameters",)


def path_sort(path):
    head = path.split(".", 1)[0]
    if path in _TOP_ORDER:
        return (0, _TOP_ORDER.index(path), path)
    if head in GROUPS:
        return (1, GROUPS.index(head), path)
    return (2, 0, path)


def nest(flat, keep_none=False):
    """Option form of a flat view: sections become dictionaries holding only their set keys."""
    out = {}
    for path in sorted(flat, key=path_sort):
        value = flat[path]
        head, sep, rest = path.partition(".")
        if sep and head in GROUPS:
            if value is None and not keep_none:
                out.setdefault(head, {})
                continue
            out.setdefault(head, {})[rest] = value
        else:
            out[path] = value
    return out
