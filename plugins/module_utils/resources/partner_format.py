# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partner vocabulary, written once: the partner-file format, the names of a partner's objects, the marker, and
the module options each object gets from a partner definition.

The format of a partner file (the mapping under ``partner:``) *is* an argument spec, built here from the resource
specs' own argument specs (``inbound_connector.argument_spec``, ``outbound_connector.argument_spec``,
``rule_vocabulary.argument_spec``), so every option of the per-object modules is available in a partner file. It is
the ``partners`` option of ``m365.mailflow.partners``, the checks of ``m365.mailflow.partner_definitions`` use it
directly, and the roles' ``meta/argument_specs.yml``, the partners module's documentation and the field table of
docs/partner-definitions.md are generated from it (``hacking/partner_format_docs.py``; a unit test fails when a copy
differs).

Everything that turns a definition into objects is here too: the object names (``<name> inbound``, ``<name>
outbound``, ``<name> - <rule>``), the marker ``Managed by m365.mailflow partner <name>`` that onboarding writes into
every comment, and ``inbound_parameters`` / ``outbound_parameters`` / ``rule_parameters`` (the module options of each
object, with the partner's defaults). The planner, the checks, mail_flow_info (partners, drift, export) and the
sandbox seeding all use these; nothing else derives a name or a parameter from a partner definition.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.m365.mailflow.plugins.module_utils.resources import inbound_connector
from ansible_collections.m365.mailflow.plugins.module_utils.resources import outbound_connector
from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary
from ansible_collections.m365.mailflow.plugins.module_utils.simulation.message import MESSAGE_SPEC

MARKER_PREFIX = "Managed by m365.mailflow partner "
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")
NAME_MAX = 40
RULE_NAME_MAX = 64
ROUTE_OPTION = "route_message_outbound_connector"
INBOUND, OUTBOUND, RULE = "inbound", "outbound", "rule"
NOUNS = {INBOUND: "inbound connector", OUTBOUND: "outbound connector", RULE: "mail flow rule"}
_OWNER = re.compile(re.escape(MARKER_PREFIX) + r"(.+?)(?:\.\s|\.?$)", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------- the format

def validation_options():
    """The validation settings of a partner (and the run-wide overrides of them)."""
    return dict(
        enabled=dict(type="bool", default=True),
        dns_servers=dict(type="list", elements="str"),
        fail_on_invalid=dict(type="bool", default=False),
        probe=dict(type="bool", default=True),
        probe_ca_path=dict(type="path"),
        probe_timeout=dict(type="float", default=10.0),
        recipients=dict(type="list", elements="str"),
        service_validation=dict(type="bool", default=True),
        smtp_port=dict(type="int", default=25),
    )


def validation_overrides():
    """The run-wide validation settings (an inventory's ``mailflow_validation``): the same keys without defaults, so
    that a setting not given leaves each definition's own."""
    return dict((k, dict((kk, vv) for kk, vv in v.items() if kk != "default")) for k, v in validation_options().items())


def _without(spec, *keys):
    return dict((k, v) for k, v in spec.items() if k not in keys)


def inbound_options():
    """``inbound``: the options of partner_inbound_connector but its name and state; the partner's sender domains are
    required (a partner file describes the connector whole), and its connectors are enabled unless the file says
    otherwise (onboarding restores them)."""
    options = _without(inbound_connector.argument_spec(), "name", "state")
    options["sender_domains"] = dict(options["sender_domains"], required=True)
    options["enabled"] = dict(options["enabled"], default=True)
    return options


def outbound_options():
    """``outbound``: the options of partner_outbound_connector but its name and state."""
    options = _without(outbound_connector.argument_spec(), "name", "state")
    options["enabled"] = dict(options["enabled"], default=True)
    return options


def rule_options():
    """``rules[]``: the options of mail_flow_rule but its state, and the route, which onboarding sets itself. The rule
    is enabled and enforced unless the file says otherwise (onboarding restores them)."""
    options = copy.deepcopy(_without(rule_vocabulary.argument_spec(), "state"))
    options["actions"]["options"].pop(ROUTE_OPTION, None)
    options["enabled"] = dict(options["enabled"], default=True)
    options["mode"] = dict(options["mode"], default="enforce")
    return options


def expect_options():
    """``expect[]``: sample messages and the outcome they must have (the message format of mail_flow_simulate, one
    definition: ``simulation.message.MESSAGE_SPEC``)."""
    return copy.deepcopy(MESSAGE_SPEC)


def accept_options():
    """``accept[]``: posture findings the partner's owners accepted, until a date (``posture`` suppression records)."""
    return dict(
        id=dict(type="str", required=True),
        objects=dict(type="list", elements="str"),
        reason=dict(type="str", required=True),
        expires=dict(type="str", required=True),
    )


def partner_options():
    """The partner-file format: the options of one partner (the mapping under ``partner:``)."""
    return dict(
        name=dict(type="str", required=True),
        description=dict(type="str"),
        adopt=dict(type="bool", default=False),
        inbound=dict(type="dict", options=inbound_options()),
        outbound=dict(type="dict", options=outbound_options()),
        rules=dict(type="list", elements="dict", options=rule_options()),
        validation=dict(type="dict", options=validation_options()),
        expect=dict(type="list", elements="dict", options=expect_options()),
        accept=dict(type="list", elements="dict", options=accept_options()),
    )


# --------------------------------------------------------------------------------------------------- names

def _data(partner):
    """The definition's mapping from a ``partners.Partner`` (its ``data``) or the mapping itself."""
    return partner.data if hasattr(partner, "data") else partner


def marker(name):
    return MARKER_PREFIX + (name or "")


def inbound_name(name):
    return "%s inbound" % name


def outbound_name(name):
    return "%s outbound" % name


def rule_name(name, rule):
    """The tenant name of a partner's rule (``rule``: its short name, or the rule mapping)."""
    return "%s - %s" % (name, rule.get("name") if isinstance(rule, dict) else rule)


def object_names(partner):
    """[(kind, tenant name, field)] of the objects a definition writes, in the order they are written."""
    data = _data(partner)
    name = data["name"]
    names = []
    if data.get("inbound") is not None:
        names.append((INBOUND, inbound_name(name), "inbound"))
    if data.get("outbound") is not None:
        names.append((OUTBOUND, outbound_name(name), "outbound"))
    for index, rule in enumerate(data.get("rules") or []):
        if isinstance(rule, dict) and isinstance(rule.get("name"), str):
            names.append((RULE, rule_name(name, rule), "rules[%d]" % index))
    return names


def comment(name, text):
    """The comment onboarding writes: the marker, then the file's own text."""
    return "%s. %s" % (marker(name), text) if text else marker(name)


def carries_marker(text, name):
    """Whether ``text`` (a comment) carries the marker of partner ``name``, followed by the end, a dot or a line
    break: the marker of "Ada" is not in that of "Adatum". Case-insensitive, as the object names are."""
    if not isinstance(text, str) or not isinstance(name, str):
        return False
    lowered, wanted = text.lower(), marker(name).lower()
    start = lowered.find(wanted)
    while start >= 0:
        end = start + len(wanted)
        starts = start == 0 or not lowered[start - 1].isalnum()
        ends = end == len(lowered) or lowered[end] in ".;\r\n" or wanted.endswith(".")
        if starts and ends:
            return True
        start = lowered.find(wanted, start + 1)
    return False


def marker_owner(text):
    """The partner name in a comment's marker, or None."""
    match = _OWNER.search(text or "")
    return match.group(1) if match else None


def managed_by(text):
    """The partner whose marker the comment ``text`` carries, or None: the one rule of what belongs to a partner."""
    owner = marker_owner(text)
    return owner if owner and carries_marker(text, owner) else None


def strip_marker(text, name):
    """The free text onboarding put after the marker (``<marker>. <text>``), None for the marker alone, or the whole
    comment when it is not in the form onboarding writes."""
    if not isinstance(text, str):
        return None
    wanted = marker(name)
    if text.lower() == wanted.lower():
        return None
    if text.lower().startswith(wanted.lower() + ". "):
        return text[len(wanted) + 2:] or None
    return text


def comment_of(obj):
    """The comment of a service object: ``Comment`` (connectors) or ``Comments`` (rules)."""
    return obj.get("Comment") if "Comment" in obj else obj.get("Comments")


# --------------------------------------------------------------------------------------------------- parameters

def _clean(value):
    """``value`` without the list entries left out for a problem already reported (None placeholders)."""
    if isinstance(value, list):
        return [_clean(v) for v in value if v is not None]
    if isinstance(value, dict):
        return dict((k, _clean(v)) for k, v in value.items())
    return value


def inbound_parameters(partner):
    """The options of partner_inbound_connector for a definition's ``inbound`` (None: not managed)."""
    data = _data(partner)
    inbound = data["inbound"]
    desired = dict((field.option, None) for field in inbound_connector.InboundConnectorSpec.fields)
    for option in desired:
        if inbound.get(option) is not None:
            desired[option] = _clean(inbound[option])
    desired["require_tls"] = True if inbound.get("require_tls") is None else inbound["require_tls"]
    desired["enabled"] = True if inbound.get("enabled") is None else inbound["enabled"]
    desired["comment"] = comment(data["name"], inbound.get("comment"))
    return desired


def outbound_parameters(partner):
    """The options of partner_outbound_connector for a definition's ``outbound``: scoped to mail flow rules when the
    partner has rules, TLS with a trusted certificate unless the file says otherwise."""
    data = _data(partner)
    outbound, rules = data["outbound"], data.get("rules") or []
    desired = dict((field.option, None) for field in outbound_connector.OutboundConnectorSpec.fields)
    for option in desired:
        if outbound.get(option) is not None:
            desired[option] = _clean(outbound[option])
    desired["transport_rule_scoped"] = bool(outbound.get("transport_rule_scoped")) or len(rules) > 0
    desired["tls_settings"] = outbound.get("tls_settings") or "certificate_validation"
    desired["enabled"] = True if outbound.get("enabled") is None else outbound["enabled"]
    desired["comment"] = comment(data["name"], outbound.get("comment"))
    return desired


def rule_parameters(partner, rule):
    """The options of mail_flow_rule for one rule of a definition: named ``<partner> - <rule>``, routing to the
    partner's outbound connector, enabled and enforced unless the file says otherwise."""
    data = _data(partner)
    name = data["name"]
    actions = _clean(dict(rule.get("actions") or {}))
    actions[ROUTE_OPTION] = outbound_name(name)
    params = {
        "name": rule_name(name, rule),
        "state": "present",
        "comments": comment(name, rule.get("comments")),
        "actions": actions,
        "purge_conditions": True if rule.get("purge_conditions") is None else rule["purge_conditions"],
        "purge_exceptions": True if rule.get("purge_exceptions") is None else rule["purge_exceptions"],
        "purge_actions": True if rule.get("purge_actions") is None else rule["purge_actions"],
        "apply_to_all_messages": bool(rule.get("apply_to_all_messages", False)),
        "enabled": True if rule.get("enabled") is None else rule["enabled"],
        "mode": rule.get("mode") or "enforce",
    }
    for option in _rule_option_names():
        if option not in params and option != "name":
            params[option] = _clean(rule.get(option))
    return params


_CACHE = {}


def _rule_option_names():
    if "rule" not in _CACHE:
        _CACHE["rule"] = tuple(rule_options())
    return _CACHE["rule"]
