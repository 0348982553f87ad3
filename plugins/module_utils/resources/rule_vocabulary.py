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

from ansible_collections.m365.mailflow.plugins.module_utils import rule_parameters as table
from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import Problem
from ansible_collections.m365.mailflow.plugins.module_utils.fields import (
    AdAttributes, Bool, CiText, Date, Domains, Enum, EnumList, Field, Flag, HeaderName, Int, IpRanges, Pair,
    PatternList, Patterns, PropertyWords, Raw, Recipient, Recipients, RuleState, Scl, Size, StatusCode, Text, Words,
    choices,
)


NAME_MAX = 64
COMMENTS_MAX = 1024
SECTIONS = ("conditions", "exceptions", "actions")
REASON_MAX = 1024  # RejectMessageReasonText (REF)


def value_type(entry):
    """The one value type of a table entry's kind (``rule_parameters.KINDS``)."""
    kind = entry["kind"]
    if entry["param"] in _OVERRIDES:
        return _OVERRIDES[entry["param"]]()
    if kind == "text":
        return Text(blank=False, maximum=entry.get("max_length"))
    if kind == "words":
        return Words()
    if kind == "patterns":
        return PatternList()
    if kind == "recipients":
        return Recipients(entry.get("role") or "sender")
    if kind == "recipient":
        return Recipient(entry.get("role") or "sender")
    if kind == "domains":
        return Domains()
    if kind == "ip_ranges":
        return IpRanges()
    if kind == "size":
        return Size()
    if kind in ("enum", "enum_list"):
        values = entry["values"]
        table_ = choices(values, keep_case=values is table.AD_ATTRIBUTES)
        return Enum(table_) if kind == "enum" else EnumList(table_)
    if kind == "flag":
        return Flag()
    if kind == "bool":
        return Bool()
    if kind == "int":
        low, high = entry.get("range") or (None, None)
        return Scl() if (low, high) == (-1, 9) else Int(low, high)
    if kind == "status_code":
        return StatusCode()
    if kind == "date":
        return Date()
    if kind in ("ad_attribute_words", "ad_attribute_patterns"):
        return AdAttributes(patterns=kind == "ad_attribute_patterns")
    if kind == "property_words":
        return PropertyWords()
    if kind == "header_name":
        return HeaderName()
    if kind == "object_name":
        return CiText()
    return Raw()  # data_classifications, switch: not options, only through extra_parameters


# Values whose check is looser than their kind's, kept as mail_flow_rule had them.
_OVERRIDES = {
    "RejectMessageReasonText": lambda: Text(maximum=REASON_MAX),
}
# Rule properties that are module options of their own (not generated): their Fields are TOP_PROPS.
_OWN_PROPERTIES = ("Name", "Priority", "Enabled", "Mode", "Comments", "ActivationDate", "ExpiryDate")


def _fields(section, entries):
    """Fields (single parameters) and Pairs (groups of ``rule_parameters.GROUPS``) of one section, in table order."""
    out, seen = [], set()
    for entry in entries:
        option = entry["option"]
        if option in seen:
            continue
        seen.add(option)
        group = table.GROUPS.get(("conditions" if section == "exceptions" else section, option))
        if entry["sub"] is None or group is None:
            out.append(Field(option, entry["param"], value_type(entry), section=section))
            continue
        members = dict((e["sub"], e) for e in entries if e["option"] == option)
        subs = [(sub, members[sub]["param"], value_type(members[sub])) for sub in group["subs"]]
        required = set(group["required"]) == set(group["subs"])
        out.append(Pair(option, subs, required=required, section=section, needs=group["required"]))
    return out


MODES = choices(("Enforce", "Audit", "AuditAndNotify"))
TOP_PROPS = (
    Field("enabled", "Enabled", RuleState(), read="State"),
    Field("mode", "Mode", Enum(MODES)),
    Field("comments", "Comments", Text(controls=False)),
    Field("activation_date", "ActivationDate", Date()),
    Field("expiry_date", "ExpiryDate", Date()),
) + tuple(Field(e["option"], e["param"], value_type(e)) for e in table.PROPERTIES if e["param"] not in _OWN_PROPERTIES)
# Properties Set-TransportRule cannot change (New only): a different value on an existing rule is refused.
NEW_ONLY = frozenset(e["option"] for e in table.PROPERTIES if e.get("new_only") and e["param"] not in _OWN_PROPERTIES)
TABLE = tuple(TOP_PROPS) + tuple(_fields("conditions", table.CONDITIONS) + _fields("exceptions", table.EXCEPTIONS)
                                 + _fields("actions", table.ACTIONS))
BY_PATH = dict((p.path, p) for p in TABLE)
BY_PARAM = dict((param.lower(), p) for p in TABLE for param in p.params)
# cmdlet parameter (lower case) -> its value type, sub-parameters of groups included
PARAM_VALUES = dict((param.lower(), sub.value) for p in TABLE
                    for param, sub in ((q.param, q) for q in (p.subs if isinstance(p, Pair) else [p])))
ROUTE = "actions.route_message_outbound_connector"

# Cmdlet parameters that are rule actions or rule properties, never conditions: used to tell whether
# ``extra_parameters`` adds a condition (a rule without any condition or exception applies to all mail).
NON_CONDITION_PARAMETERS = frozenset(
    [e["param"].lower() for e in table.ACTIONS + table.PROPERTIES]
    + [p.lower() for p, (category, _reason, _use) in table.NOT_OPTIONS.items()
       if category in ("common", "identity", "edge_only") or p in ("DlpPolicy", "NotifySender", "DomainController",
                                                                   "IncidentReportOriginalMail")])
# Parameters that have their own module option (or are the identity): refused in extra_parameters.
RESERVED_PARAMETERS = {
    "name": "name", "identity": "name", "priority": "priority or position", "enabled": "enabled",
    "state": "enabled", "mode": "mode", "comments": "comments", "activationdate": "activation_date",
    "expirydate": "expiry_date", "confirm": None, "whatif": None,
}
# Parameters mail_flow_rule had as options before the whole vocabulary (issue 11): extra_parameters refuses them
# (as it always did) with the option to use. The others, reachable through extra_parameters before they became
# options, stay accepted there (typed as their option), with a warning naming the option.
OPTION_ONLY = frozenset(
    [p.lower() for p in table.SUPPORTED_BEFORE]
    + [(table.EXCEPT_PREFIX + p).lower() for p in table.SUPPORTED_BEFORE
       if table.BY_PARAMETER.get(p.lower(), {}).get("section") == "conditions"])
_KIND_ENTRY = dict((k, {"param": "", "kind": k}) for k in table.KINDS)


def extra_value(param):
    """The value type of an ``extra_parameters`` entry, by its cmdlet parameter name: the table's type for a known
    parameter (also those that are not options, by their kind), else by name (``*MatchesPatterns``, ``*SizeOver``),
    else compared as the service reads back values of unknown type (``Raw``)."""
    lowered = param.lower()
    if lowered in PARAM_VALUES:
        known = PARAM_VALUES[lowered]
        return type(known)(known.table, canonical=True) if isinstance(known, Enum) else known
    kinds = dict((p.lower(), k) for p, k in table.NOT_OPTION_KINDS.items())
    if lowered in kinds and kinds[lowered] not in ("enum", "int", "text", "words"):
        return value_type(_KIND_ENTRY[kinds[lowered]])
    if lowered.endswith("sizeover"):
        return Size()
    if lowered.endswith("matchespatterns"):
        return Patterns(attribute="adattribute" in lowered)
    return Raw()


def section_argument_spec(section):
    return dict((p.option, p.arg()) for p in TABLE if p.section == section)


def argument_spec():
    """The module's own options (the connection options are added by MailflowModule)."""
    spec = dict(
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
    spec.update((p.option, p.arg()) for p in TOP_PROPS[5:])  # the rule properties of the table
    return spec


def parse_position(value):
    """('top'|'bottom'|'before'|'after', rule name or None) from the ``position`` option, or raise."""
    if isinstance(value, str) and value.strip().lower() in ("top", "bottom"):
        return value.strip().lower(), None
    if isinstance(value, dict) and len(value) == 1:
        where, other = list(value.items())[0]
        if where in ("before", "after") and isinstance(other, str) and other.strip():
            return where, other.strip()
    n.raise_errors([Problem("position", "'%s' is not a position; write top, bottom, {before: <rule name>} or "
                                        "{after: <rule name>}" % (value,))])


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
            errors.append(Problem(section, "give a dictionary of %s" % section))
            continue
        known = dict((p.option, p) for p in TABLE if p.section == section)
        for key in sorted(set(given) - set(known)):
            errors.append(Problem("%s.%s" % (section, key), "unknown key '%s'. Known keys: %s. Pass other cmdlet "
                                                            "parameters through extra_parameters with their cmdlet name"
                                  % (key, ", ".join(sorted(known)))))
        purge = params.get("purge_" + section, True)
        for option, prop in known.items():
            value = given.get(option)
            if value is None and purge:
                value = prop.empty()
            desired[prop.path] = value
    for param, value in sorted((params.get("extra_parameters") or {}).items()):
        desired["extra_parameters." + str(param)] = value
        prop = BY_PARAM.get(str(param).lower())
        if prop is None or str(param).lower() in OPTION_ONLY:
            continue  # refused in pre-flight, or not an option
        # A parameter that is an option now, given through extra_parameters as before: the option is not managed
        # (not purged either), unless it is given too, which is one value too many.
        given = (params.get(prop.section) or {}) if prop.section else params
        if given.get(prop.option) is not None:
            errors.append(Problem("extra_parameters.%s" % param, "%s is given too; give the value once, as %s"
                                  % (prop.path, prop.path)))
        desired[prop.path] = None
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
