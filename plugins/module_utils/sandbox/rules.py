# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transport (mail flow) rules of the sandbox tenant.

Conditions and actions are described by one table of ``Part`` entries (the .NET predicate or action class, its
parameters, how it reads in the Description). Exceptions are the conditions with an ``ExceptIf`` prefix. Rules
keep dense priorities 0..N-1.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import fnmatch
import json
import re
import uuid

from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.binding import (
    ARGUMENT, NS_RULES, CmdletError, Param, fail, not_found, require, schema, transformation, utcnow,
)
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.checks import (
    ascii_domain, byte_size, max_length, non_empty, object_name, regex_pattern, rule_ip_range,
)
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.records import (
    apply_bound, common_tail, fmt_date, read_date,
)
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.store import limit_results, unchanged_warning
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.connectors import OUTBOUND, RULE
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.recipients import resolve_rule_recipients
from ansible_collections.m365.mailflow.plugins.module_utils import rule_parameters as TABLE
from ansible_collections.m365.mailflow.plugins.module_utils.service_data import AD_ATTRIBUTES

MAX_RULES = 300
MAX_RULE_SIZE = 8192
RULE_VERSION = "15.0.5.2"
DLP_NONE = "00000000-0000-0000-0000-000000000000"
CONTAINER = "CN=TransportVersioned,CN=Rules,CN=Transport Settings,"

SCOPES = ("InOrganization", "NotInOrganization")
SCOPE_TEXT = {"InOrganization": "Inside the organization", "NotInOrganization": "Outside the organization"}


# --------------------------------------------------------------------------- value checks

def recipient(name, value):
    """Recipient-type values (addresses, names, groups): no directory lookup, but no empty strings."""
    if not value.strip():
        fail("EmptyRecipient", "%s contains an empty recipient; give an email address, alias or name." % name, ARGUMENT)
    return value.strip()


def ad_attribute(name, value):
    """``Attribute:word1,word2`` with an attribute from the allowed list."""
    attr, sep, words = value.partition(":")
    canonical = [a for a in AD_ATTRIBUTES if a.lower() == attr.strip().lower()]
    if not sep or not canonical or not [w for w in words.split(",") if w.strip()]:
        fail("InvalidADAttribute", "The value '%s' for %s is not valid: use 'Attribute:value1,value2' where Attribute is one "
             "of %s." % (value, name, ", ".join(AD_ATTRIBUTES)), ARGUMENT)
    return "%s:%s" % (canonical[0], words.strip())


def ad_attribute_pattern(name, value):
    """``Attribute:pattern`` with an attribute from the allowed list and a valid regular expression."""
    attr, sep, pattern = value.partition(":")
    canonical = [a for a in AD_ATTRIBUTES if a.lower() == attr.strip().lower()]
    if not sep or not canonical or not pattern.strip():
        fail("InvalidADAttribute", "The value '%s' for %s is not valid: use 'Attribute:value' where value is a "
             "regular expression and Attribute is one of %s." % (value, name, ", ".join(AD_ATTRIBUTES)), ARGUMENT)
    regex_pattern(name, pattern.strip())
    return "%s:%s" % (canonical[0], pattern.strip())


def scl(name, value):
    if not -1 <= value <= 9:
        fail("InvalidSCL", "%s must be between -1 and 9, not %d." % (name, value), ARGUMENT)
    return value


def status_code(name, value):
    text = value.strip()
    match = re.match(r"^5\.7\.(\d{1,3})$", text)
    if not match or not (match.group(1) == "1" or 900 <= int(match.group(1)) <= 999):
        fail("InvalidEnhancedStatusCode", "%s '%s' is not valid: use 5.7.1 or a code from 5.7.900 to 5.7.999." % (name, value),
             ARGUMENT)
    return text


def header_name(name, value):
    text = value.strip()
    if not re.match(r"^[\x21-\x39\x3b-\x7e]{1,64}$", text):
        fail("InvalidHeaderName", "%s '%s' is not a valid message header name (printable ASCII without spaces or ':', "
             "up to 64 characters)." % (name, value), ARGUMENT)
    return text


def words(name, value):
    return non_empty(name, value)


def domain_word(name, value):
    """SenderDomainIs / RecipientDomainIs (words): a domain in ASCII form (an IDN as its A-label; inferred, as for
    the connectors' domains, checks.ascii_domain)."""
    ascii_domain(name, value, value.strip())
    return non_empty(name, value)


# --------------------------------------------------------------------------- the condition/action table

def _q(values):
    values = values if isinstance(values, list) else [values]
    return " or ".join("'%s'" % v for v in values)


class Part(object):
    """One predicate or action: .NET class, parameters, and its Description line.

    ``mode``: "all" (every parameter of ``primary`` is needed), "any" (one is enough, the others get defaults).
    """

    def __init__(self, cls, params, describe, mode="all", defaults=None):
        self.cls = cls
        self.params = params
        self.describe = describe
        self.mode = mode
        self.defaults = defaults or {}
        # clearing a primary parameter clears the whole predicate/action
        self.primary = tuple(p.name for p in params if mode == "any" or p.name not in self.defaults)

    def names(self, prefix=""):
        return [prefix + p.name for p in self.params]


def _lst(name, check=recipient):
    return Param(name, "list", check=check)


CONDITIONS = (
    Part("FromPredicate", [_lst("From")], lambda v: "Is sent from %s" % _q(v["From"])),
    Part("FromScopePredicate", [Param("FromScope", "enum", SCOPES, type_name="Microsoft.Exchange.MessagingPolicies.Rules.Tasks.FromUserScope")],
         lambda v: "Is received from '%s'" % SCOPE_TEXT[v["FromScope"]]),
    Part("FromMemberOfPredicate", [_lst("FromMemberOf")], lambda v: "Is sent from a member of group %s" % _q(v["FromMemberOf"])),
    Part("SentToPredicate", [_lst("SentTo")], lambda v: "Is sent to %s" % _q(v["SentTo"])),
    Part("SentToScopePredicate", [Param("SentToScope", "enum", SCOPES, type_name="Microsoft.Exchange.MessagingPolicies.Rules.Tasks.ToUserScope")],
         lambda v: "Is sent to '%s'" % SCOPE_TEXT[v["SentToScope"]]),
    Part("SentToMemberOfPredicate", [_lst("SentToMemberOf")], lambda v: "Is sent to a member of group %s" % _q(v["SentToMemberOf"])),
    Part("SenderDomainIsPredicate", [_lst("SenderDomainIs", domain_word)],
         lambda v: "Sender's address domain portion belongs to any of these domains: %s" % _q(v["SenderDomainIs"])),
    Part("RecipientDomainIsPredicate", [_lst("RecipientDomainIs", domain_word)],
         lambda v: "Recipient's address domain portion belongs to any of these domains: %s" % _q(v["RecipientDomainIs"])),
    Part("SenderAttributeContainsPredicate", [_lst("SenderADAttributeContainsWords", ad_attribute)],
         lambda v: "Sender has these AD attribute values containing any of these words: %s" % _q(v["SenderADAttributeContainsWords"])),
    Part("SenderAttributeMatchesPredicate", [_lst("SenderADAttributeMatchesPatterns", ad_attribute_pattern)],
         lambda v: "Sender has these AD attribute values matching these text patterns: %s"
         % _q(v["SenderADAttributeMatchesPatterns"])),
    Part("SenderIpRangesPredicate", [_lst("SenderIpRanges", rule_ip_range)],
         lambda v: "Sender IP addresses belong to one of these ranges: %s" % _q(v["SenderIpRanges"])),
    Part("SubjectContainsPredicate", [_lst("SubjectContainsWords", words)],
         lambda v: "Includes these words in the message subject: %s" % _q(v["SubjectContainsWords"])),
    Part("SubjectOrBodyContainsPredicate", [_lst("SubjectOrBodyContainsWords", words)],
         lambda v: "Includes these words in the message subject or body: %s" % _q(v["SubjectOrBodyContainsWords"])),
    Part("HeaderContainsPredicate", [Param("HeaderContainsMessageHeader", check=header_name), _lst("HeaderContainsWords", words)],
         lambda v: "'%s' header contains %s" % (v["HeaderContainsMessageHeader"], _q(v["HeaderContainsWords"]))),
    Part("AnyOfRecipientAddressContainsPredicate", [_lst("AnyOfRecipientAddressContainsWords", words)],
         lambda v: "Any recipient address contains %s" % _q(v["AnyOfRecipientAddressContainsWords"])),
    Part("FromAddressContainsPredicate", [_lst("FromAddressContainsWords", words)],
         lambda v: "Sender's address contains these words: %s" % _q(v["FromAddressContainsWords"])),
    Part("RecipientAddressContainsWordsPredicate", [_lst("RecipientAddressContainsWords", words)],
         lambda v: "Recipient's address contains these words: %s" % _q(v["RecipientAddressContainsWords"])),
    Part("AttachmentSizeOverPredicate", [Param("AttachmentSizeOver", check=byte_size,
                                               type_name="Microsoft.Exchange.Data.ByteQuantifiedSize")],
         lambda v: "Any attachment's size is greater than or equal to '%s'" % v["AttachmentSizeOver"]),
    Part("MessageSizeOverPredicate", [Param("MessageSizeOver", check=byte_size,
                                            type_name="Microsoft.Exchange.Data.ByteQuantifiedSize")],
         lambda v: "Message size is greater than or equal to '%s'" % v["MessageSizeOver"]),
)

ACTIONS = (
    Part("RouteMessageOutboundConnectorAction", [Param("RouteMessageOutboundConnector", check=non_empty)],
         lambda v: "Use the following connector: '%s'" % v["RouteMessageOutboundConnector"]),
    Part("RouteMessageOutboundRequireTlsAction", [Param("RouteMessageOutboundRequireTls", "bool")],
         lambda v: "Require TLS encryption when sending the message outside the organization"),
    Part("SetHeaderAction", [Param("SetHeaderName", check=header_name), Param("SetHeaderValue", check=non_empty)],
         lambda v: "Set message header '%s' with the value '%s'" % (v["SetHeaderName"], v["SetHeaderValue"])),
    Part("RemoveHeaderAction", [Param("RemoveHeader", check=header_name)], lambda v: "Remove the message header '%s'" % v["RemoveHeader"]),
    Part("PrependSubjectAction", [Param("PrependSubject", check=non_empty)], lambda v: "Prepend the subject with '%s'" % v["PrependSubject"]),
    Part("SetSclAction", [Param("SetSCL", "int", check=scl)], lambda v: "Set the spam confidence level (SCL) to '%s'" % v["SetSCL"]),
    Part("ApplyHtmlDisclaimerAction",
         [Param("ApplyHtmlDisclaimerText", check=non_empty),
          Param("ApplyHtmlDisclaimerLocation", "enum", ("Append", "Prepend"),
                type_name="Microsoft.Exchange.MessagingPolicies.Rules.Tasks.DisclaimerLocation"),
          Param("ApplyHtmlDisclaimerFallbackAction", "enum", ("Wrap", "Ignore", "Reject"),
                type_name="Microsoft.Exchange.MessagingPolicies.Rules.Tasks.DisclaimerFallbackAction")],
         lambda v: "%s the disclaimer '%s' and fall back to action '%s' if the disclaimer can't be applied"
         % (v["ApplyHtmlDisclaimerLocation"], v["ApplyHtmlDisclaimerText"], v["ApplyHtmlDisclaimerFallbackAction"]),
         defaults={"ApplyHtmlDisclaimerLocation": "Append", "ApplyHtmlDisclaimerFallbackAction": "Wrap"}),
    Part("BlindCopyToAction", [_lst("BlindCopyTo")], lambda v: "Blind carbon copy (Bcc) the message to %s" % _q(v["BlindCopyTo"])),
    Part("AddToRecipientAction", [_lst("AddToRecipients")], lambda v: "Add %s to the recipient box" % _q(v["AddToRecipients"])),
    Part("CopyToAction", [_lst("CopyTo")], lambda v: "Add %s to the Cc box" % _q(v["CopyTo"])),
    Part("RedirectMessageAction", [_lst("RedirectMessageTo")], lambda v: "Redirect the message to %s" % _q(v["RedirectMessageTo"])),
    Part("RejectMessageAction",
         [Param("RejectMessageReasonText", check=max_length(1024)),
          Param("RejectMessageEnhancedStatusCode", check=status_code)],
         lambda v: "Reject the message with the explanation '%s' and the enhanced status code '%s'"
         % (v["RejectMessageReasonText"], v["RejectMessageEnhancedStatusCode"]), mode="any",
         defaults={"RejectMessageReasonText": "Delivery not authorized, message refused", "RejectMessageEnhancedStatusCode": "5.7.1"}),
    Part("SetAuditSeverityAction", [Param("SetAuditSeverity", "enum", ("DoNotAudit", "Low", "Medium", "High"),
                                          type_name="Microsoft.Exchange.MessagingPolicies.Rules.Tasks.AuditSeverityLevel")],
         lambda v: "Set audit severity level to '%s'" % v["SetAuditSeverity"]),
    Part("StopRuleProcessingAction", [Param("StopRuleProcessing", "bool")], lambda v: "Stop processing more rules"),
)

# --------------------------------------------------------------------------- the rest of the reference's vocabulary

# Every other condition and action of New-TransportRule, from the shared constant table (``rule_parameters``: names,
# kinds, enum values, ranges, defaults, groups): bound and checked here by the sandbox's own checks, read back in
# the service's forms (sizes "10 MB (10,485,760 bytes)", enums in canonical case, flags False when unset).


def property_words(name, value):
    """``Property:word1,word2`` (AttachmentPropertyContainsWords): any property name, at least one word."""
    prop, sep, words_ = value.partition(":")
    if not sep or not prop.strip() or not [w for w in words_.split(",") if w.strip()]:
        fail("InvalidPropertyWords", "The value '%s' for %s is not valid: use 'Property:word1,word2'." % (value, name),
             ARGUMENT)
    return "%s:%s" % (prop.strip(), words_.strip())


def _ranged(low, high):
    def check(name, value):
        if not low <= value <= high:
            fail("OutOfRange", "%s must be between %d and %d, not %d." % (name, low, high, value), ARGUMENT)
        return value
    return check


def _enum_item(values):
    def check(name, value):
        for known in values:
            if known.lower() == value.strip().lower():
                return known
        transformation(name, value, "Microsoft.Exchange.MessagingPolicies.Rules.Tasks." + name,
                       "Unable to match the identifier name %s to a valid enumerator name. Specify one of the "
                       "following enumerator names and try again: %s" % (value, ", ".join(values)))
    return check


def _text_check(limit):
    if not limit:
        return non_empty
    return lambda name, value: max_length(limit)(name, non_empty(name, value))


def _param(entry):
    """The sandbox's binding of one table entry, by its kind."""
    name, kind = entry["param"], entry["kind"]
    if kind in ("flag", "bool"):
        return Param(name, "bool")
    if kind == "int":
        low, high = entry.get("range") or (-(1 << 31), (1 << 31) - 1)
        return Param(name, "int", check=_ranged(low, high))
    if kind == "enum":
        return Param(name, "enum", entry["values"],
                     type_name="Microsoft.Exchange.MessagingPolicies.Rules.Tasks." + name)
    if kind == "enum_list":
        return _lst(name, _enum_item(entry["values"]))
    if kind == "date":
        return Param(name, "date")
    if kind == "size":
        return Param(name, check=byte_size, type_name="Microsoft.Exchange.Data.ByteQuantifiedSize")
    if kind == "status_code":
        return Param(name, check=status_code)
    if kind == "header_name":
        return Param(name, check=header_name)
    if kind in ("text", "object_name", "recipient"):
        return Param(name, check=_text_check(entry.get("max_length")) if kind == "text" else non_empty)
    checks = {"words": words, "domains": words, "patterns": regex_pattern, "recipients": recipient,
              "ip_ranges": rule_ip_range, "ad_attribute_words": ad_attribute,
              "ad_attribute_patterns": ad_attribute_pattern, "property_words": property_words}
    return _lst(name, checks.get(kind, words))


def _generic_description(params):
    def describe_(values):
        shown = []
        for param in params:
            value = values.get(param.name)
            if value in (None, [], False, ""):
                continue
            shown.append("%s %s" % (param.name, "" if value is True else _q(value)))
        return "; ".join(s.strip() for s in shown)
    return describe_


def _generated(entries, known):
    """Parts for the table's entries whose parameters no hand-written Part has, one per predicate/action class."""
    parts, seen = [], set(known)
    for entry in entries:
        if entry["param"] in seen:
            continue
        group = [e for e in entries if e["option"] == entry["option"]] if entry["sub"] else [entry]
        seen.update(e["param"] for e in group)
        params = [_param(e) for e in group]
        defaults = dict((e["param"], e["default"]) for e in group if e.get("default") is not None)
        if entry["sub"]:  # a group's optional members without a default stay unset (REF: optional parameters)
            needed = TABLE.GROUPS[(entry["section"], entry["option"])]["required"]
            defaults.update((e["param"], None) for e in group if e["sub"] not in needed and e["param"] not in defaults)
        cls = entry.get("net_class") or (entry["param"] + ("Action" if entry["section"] == "actions" else "Predicate"))
        parts.append(Part(cls, params, _generic_description(params), defaults=defaults))
    return tuple(parts)


_KNOWN = set(p.name for part in CONDITIONS + ACTIONS for p in part.params)
CONDITIONS = CONDITIONS + _generated(TABLE.CONDITIONS, _KNOWN)
ACTIONS = ACTIONS + _generated(TABLE.ACTIONS, _KNOWN)

# (part, prefix, section): section is Conditions, Exceptions or Actions
PARTS = tuple([(p, "", "Conditions") for p in CONDITIONS] + [(p, "ExceptIf", "Exceptions") for p in CONDITIONS]
              + [(p, "", "Actions") for p in ACTIONS])


def _prefixed(param, prefix):
    if not prefix:
        return param
    return Param(prefix + param.name, param.kind, param.values, param.scope, param.nullable, param.check, param.type_name)


PART_PARAMS = tuple(_prefixed(param, prefix) for part, prefix, _s in PARTS for param in part.params)

PROPERTIES = (
    Param("Name", check=lambda name, value: max_length(64)(name, object_name(name, value)), nullable=False),
    Param("Priority", "int", nullable=False),
    Param("Mode", "enum", ("Audit", "AuditAndNotify", "Enforce"), nullable=False, type_name="Microsoft.Exchange.MessagingPolicies.Rules.RuleMode"),
    Param("Enabled", "bool", scope="new", nullable=False),
    Param("UseLegacyRegex", "bool", scope="new", nullable=False),
    Param("Comments", check=max_length(1024)),
    Param("ActivationDate", "date"),
    Param("ExpiryDate", "date"),
    Param("RuleErrorAction", "enum", ("Ignore", "Defer"), nullable=False,
          type_name="Microsoft.Exchange.MessagingPolicies.Rules.RuleErrorAction"),
    Param("SenderAddressLocation", "enum", ("Header", "Envelope", "HeaderOrEnvelope"), nullable=False,
          type_name="Microsoft.Exchange.MessagingPolicies.Rules.SenderAddressLocation"),
    Param("RecipientAddressType", "enum", ("Original", "Resolved"), nullable=False,
          type_name="Microsoft.Exchange.MessagingPolicies.Rules.RecipientAddressType"),
    Param("RuleSubType", "enum", ("None", "Dlp"), nullable=False,
          type_name="Microsoft.Exchange.MessagingPolicies.Rules.RuleSubType"),
)

IDENTITY = Param("Identity", nullable=False)
FIELDS = schema(PROPERTIES, PART_PARAMS)

SCHEMAS = {
    "get-transportrule": schema((Param("Identity"), Param("ResultSize", "any"), Param("Filter", "any"), Param("ExcludeConditionActionDetails", "bool"),
                                 Param("State", "enum", ("Enabled", "Disabled"), type_name="Microsoft.Exchange.MessagingPolicies.Rules.RuleState"))),
    "new-transportrule": schema(PROPERTIES, PART_PARAMS),
    "set-transportrule": schema((IDENTITY,), PROPERTIES, PART_PARAMS),
    "remove-transportrule": schema((IDENTITY,)),
    "enable-transportrule": schema((IDENTITY, Param("Mode", "enum", ("Audit", "AuditAndNotify", "Enforce"), nullable=False,
                                                    type_name="Microsoft.Exchange.MessagingPolicies.Rules.RuleMode"))),
    "disable-transportrule": schema((IDENTITY,)),
}


# --------------------------------------------------------------------------- applying parameters

def _empty(param):
    return False if param.kind == "bool" else None


def _is_set(value):
    return value not in (None, [], False, "")


def apply_parts(obj, bound):
    """Write condition/action parameters into ``obj``. $null, [] or false for a primary parameter clears the whole
    predicate/action (both halves of a pair); for a defaulted one it restores the default."""
    for part, prefix, _section in PARTS:
        given = [p for p in part.params if prefix + p.name in bound]
        if not given:
            continue
        for param in given:
            name = prefix + param.name
            value = bound[name]
            if not _is_set(value) and param.name in part.primary:
                for other in part.params:
                    obj[prefix + other.name] = _empty(other)
            elif not _is_set(value):
                obj[name] = part.defaults.get(param.name, _empty(param))
            else:
                apply_bound(obj, {name: value}, {name.lower(): _prefixed(param, prefix)})
        present = [n for n in part.primary if _is_set(obj.get(prefix + n))]
        if present:
            missing = [prefix + n for n in part.primary if not _is_set(obj.get(prefix + n))]
            if missing and part.mode == "all":
                fail("PairedParameter", "%s must be used together with %s." % (
                    ", ".join(prefix + n for n in present), ", ".join(missing)), ARGUMENT)
            for name, default in part.defaults.items():
                if not _is_set(obj.get(prefix + name)):
                    obj[prefix + name] = default
        else:
            orphans = [prefix + p.name for p in given if _is_set(bound[prefix + p.name])]
            if orphans:
                fail("PairedParameter", "%s can only be used together with %s." % (
                    ", ".join(orphans), ", ".join(prefix + n for n in part.primary)), ARGUMENT)
            for other in part.params:
                obj[prefix + other.name] = _empty(other)
    return obj


def _active(obj, part, prefix):
    return any(_is_set(obj.get(prefix + n)) for n in part.primary)


def describe(obj):
    """Conditions/Exceptions/Actions class lists and the CRLF/TAB Description."""
    sections = {"Conditions": [], "Exceptions": [], "Actions": []}
    lines = {"Conditions": [], "Exceptions": [], "Actions": []}
    for part, prefix, section in PARTS:
        if not _active(obj, part, prefix):
            continue
        sections[section].append(NS_RULES + part.cls)
        values = dict((p.name, obj.get(prefix + p.name)) for p in part.params)
        lines[section].append(part.describe(values))
    text = ""
    for title, section in (("If the message:", "Conditions"), ("Take the following actions:", "Actions"),
                           ("Except if the message:", "Exceptions")):
        if lines[section]:
            text += title + "\r\n" + "".join("\t%s%s\r\n" % ("and " if i else "", line) for i, line in enumerate(lines[section]))
    for key, items in sections.items():
        obj[key] = items or None
    obj["Description"] = text


# --------------------------------------------------------------------------- checks

def _resolve_connector(store, obj):
    """RouteMessageOutboundConnector target: exists, enabled, rule-scoped; stored by Name."""
    wanted = obj.get("RouteMessageOutboundConnector")
    if not wanted:
        return
    conn = store.find(OUTBOUND, wanted)
    if conn is None:
        fail("OutboundConnectorIdNotFound", "RouteMessageOutboundConnector: the outbound connector '%s' wasn't found. Create "
             "the connector first." % wanted, ARGUMENT)
    if not conn["Enabled"]:
        fail("ErrorConnectorNotEnabled", "RouteMessageOutboundConnector: the outbound connector '%s' is disabled; a rule can "
             "only route through an enabled connector." % conn["Name"], ARGUMENT)
    if not conn["IsTransportRuleScoped"]:
        fail("ErrorConnectorNotTransportRuleScoped", "RouteMessageOutboundConnector: the outbound connector '%s' isn't "
             "transport rule scoped; set IsTransportRuleScoped to true on it first." % conn["Name"], ARGUMENT)
    obj["RouteMessageOutboundConnector"] = conn["Name"]


def _check_dates(obj):
    activation, expiry = read_date(obj.get("ActivationDate")), read_date(obj.get("ExpiryDate"))
    if activation and expiry and expiry <= activation:
        fail("InvalidDates", "ExpiryDate (%s) must be later than ActivationDate (%s)." % (obj["ExpiryDate"], obj["ActivationDate"]),
             ARGUMENT)


def _check_size(obj):
    size = len(json.dumps([obj.get(p.name) for p in PART_PARAMS if _is_set(obj.get(p.name))]))
    if size > MAX_RULE_SIZE:
        fail("RuleTooLarge", "The conditions, exceptions and actions of rule '%s' take %d bytes; the limit is %d bytes."
             % (obj["Name"], size, MAX_RULE_SIZE), NS_RULES + "RuleSizeLimitExceededException")


def _priority_error(upper):
    raise CmdletError("The specified rule priority is invalid. Use a value between '0' (highest priority), and '%d' (lowest "
                      "priority)." % upper, exc_type=NS_RULES + "InvalidPriorityException", key="Priority")


def _check_name(store, obj):
    if not obj["Name"].strip():
        fail("EmptyRuleName", "Name cannot be empty.", ARGUMENT)
    if store.name_taken(RULE, obj["Name"], obj["Guid"]):
        raise CmdletError("A transport rule with the name '%s' already exists. Rule names must be unique (case-insensitive)."
                          % obj["Name"], exc_type=NS_RULES + "RuleNameAlreadyExistsException", key="RuleNameAlreadyExist")


def _ordered_rules(store):
    return sorted(store.all(RULE), key=lambda r: r["Priority"])


def _renumber(store, rules):
    """Dense priorities 0..N-1 in list order; save the rules whose priority moved."""
    for index, rule in enumerate(rules):
        if rule["Priority"] != index:
            rule["Priority"] = index
            store.save(RULE, rule)


# --------------------------------------------------------------------------- records

_HEAD = ("Priority", "ManuallyModified", "Description", "Conditions", "Exceptions", "Actions", "State", "Mode",
         "RuleErrorAction", "SenderAddressLocation", "RuleSubType", "UseLegacyRegex")
_TAIL = ("Comments", "ActivationDate", "ExpiryDate", "CreatedBy", "LastModifiedBy", "ImmutableId", "DlpPolicy", "DlpPolicyId",
         "RuleVersion", "RecipientAddressType", "Name", "Guid", "WhenCreated", "WhenChanged")


def _record(store, obj):
    describe(obj)
    keys = list(_HEAD) + [p.name for p in PART_PARAMS] + list(_TAIL)
    out = dict((k, obj.get(k)) for k in keys)
    return common_tail(out, CONTAINER, "msExchTransportRule", store.tenant_domain, store.tenant_id)


def _new_object(bound):
    now = fmt_date(utcnow())
    guid = str(uuid.uuid4())
    obj = {"ManuallyModified": False, "State": "Enabled" if bound.get("Enabled", True) else "Disabled", "Mode": "Enforce",
           "RuleErrorAction": "Ignore", "SenderAddressLocation": "Header", "RuleSubType": "None", "UseLegacyRegex": False,
           "Comments": None, "ActivationDate": None, "ExpiryDate": None, "CreatedBy": "Sandbox Administrator",
           "LastModifiedBy": "Sandbox Administrator", "ImmutableId": guid, "DlpPolicy": None, "DlpPolicyId": DLP_NONE,
           "RuleVersion": RULE_VERSION, "RecipientAddressType": "Resolved", "Name": bound["Name"], "Guid": guid,
           "WhenCreated": now, "WhenChanged": now}
    for param in PART_PARAMS:
        obj[param.name] = _empty(param)
    return obj


def _validate(store, obj, bound):
    _check_name(store, obj)
    if "RouteMessageOutboundConnector" in bound:
        _resolve_connector(store, obj)
    _check_dates(obj)
    _check_size(obj)


# --------------------------------------------------------------------------- handlers

def _description_filter(text):
    """The one -Filter form supported: ``Description -like '<pattern>'`` (also -eq, -notlike)."""
    match = re.match(r"^\s*Description\s+-(like|notlike|eq)\s+['\"](.*)['\"]\s*$", text or "", re.I | re.S)
    if not match:
        fail("InvalidFilter", "The filter '%s' is not supported by this tenant; use \"Description -like '*text*'\"." % text,
             "Microsoft.Exchange.Management.Tasks.InvalidFilterException")
    operator, pattern = match.group(1).lower(), match.group(2)

    def keep(rule):
        hit = fnmatch.fnmatchcase((rule.get("Description") or "").lower(), pattern.lower())
        if operator == "eq":
            hit = (rule.get("Description") or "").lower() == pattern.lower()
        return not hit if operator == "notlike" else hit
    return keep


def get_rules(store, bound):
    rules = store.visible(RULE, _ordered_rules(store))
    if bound.get("State"):
        rules = [r for r in rules if r["State"] == bound["State"]]
    if bound.get("Filter"):
        rules = [r for r in rules if _description_filter(str(bound["Filter"]))(r)]
    if bound.get("Identity") is not None:
        found = store.find(RULE, bound["Identity"], rules)
        if found is None:
            not_found(bound["Identity"])
        rules = [found]
    rules = limit_results(store, rules, bound)
    if bound.get("ExcludeConditionActionDetails"):
        rules = [_without_details(r) for r in rules]
    return rules


def _without_details(rule):
    out = dict(rule)
    out.update(Description=None, Conditions=None, Exceptions=None, Actions=None)
    for param in PART_PARAMS:
        out[param.name] = _empty(param)
    return out


def new_rule(store, bound):
    require(bound, "New", "Name")
    rules = _ordered_rules(store)
    if len(rules) >= MAX_RULES:
        fail("RuleLimit", "The organization already has %d transport rules, the maximum. Remove a rule before you add one."
             % len(rules), NS_RULES + "TransportRuleLimitExceededException")
    bound = resolve_rule_recipients(store, bound)
    obj = _new_object(bound)
    props = dict((k, v) for k, v in bound.items() if k not in ("Enabled", "Priority"))
    apply_bound(obj, props, schema(PROPERTIES))
    if obj["ActivationDate"] and read_date(obj["ActivationDate"]) < utcnow():
        obj["ActivationDate"] = None  # the service drops an activation date in the past on New
    apply_parts(obj, bound)
    _validate(store, obj, bound)
    priority = bound.get("Priority", len(rules))
    if not 0 <= priority <= len(rules):
        _priority_error(len(rules))
    obj["Priority"] = priority
    obj = _record(store, obj)
    rules.insert(priority, obj)
    store.save(RULE, obj)
    store.note_created(RULE, obj)
    _renumber(store, rules)
    return [obj]


def set_rule(store, bound):
    require(bound, "Set", "Identity")
    before = store.get(RULE, bound["Identity"])
    bound = resolve_rule_recipients(store, bound)
    obj = copy.deepcopy(before)
    props = dict((k, v) for k, v in bound.items() if k != "Priority")
    apply_bound(obj, props, schema(PROPERTIES))
    apply_parts(obj, bound)
    _validate(store, obj, bound)
    rules = [r for r in _ordered_rules(store) if r["Guid"] != before["Guid"]]
    priority = bound.get("Priority", before["Priority"])
    if not 0 <= priority <= len(rules):
        _priority_error(len(rules))
    obj["Priority"] = priority
    if (before.get("RouteMessageOutboundConnector") or "").lower() != (obj.get("RouteMessageOutboundConnector") or "").lower():
        store.note_unreferenced(RULE, before, before.get("RouteMessageOutboundConnector"))
    return _save_changed(store, before, obj, rules)


def _save_changed(store, before, obj, rules):
    obj = _record(store, obj)
    if obj == before:
        store.warn(unchanged_warning(before["Identity"]))
        return []
    obj["WhenChanged"] = fmt_date(utcnow())
    obj = _record(store, obj)
    rules.insert(obj["Priority"], obj)
    store.save(RULE, obj)
    _renumber(store, rules)
    return []


def remove_rule(store, bound):
    require(bound, "Remove", "Identity")
    obj = store.get(RULE, bound["Identity"])
    store.delete(RULE, obj)
    store.note_unreferenced(RULE, obj, obj.get("RouteMessageOutboundConnector"))
    _renumber(store, [r for r in _ordered_rules(store) if r["Guid"] != obj["Guid"]])
    return []


def _state_handler(state):
    def handler(store, bound):
        require(bound, state, "Identity")
        before = store.get(RULE, bound["Identity"])
        obj = copy.deepcopy(before)
        obj["State"] = state
        if bound.get("Mode"):
            obj["Mode"] = bound["Mode"]
        return _save_changed(store, before, obj, [r for r in _ordered_rules(store) if r["Guid"] != before["Guid"]])
    return handler


HANDLERS = {
    "get-transportrule": get_rules,
    "new-transportrule": new_rule,
    "set-transportrule": set_rule,
    "remove-transportrule": remove_rule,
    "enable-transportrule": _state_handler("Enabled"),
    "disable-transportrule": _state_handler("Disabled"),
}
