# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a simulation evaluates against, and the work of ``m365.mailflow.mail_flow_simulate``.

The objects come from one of three places:

* the tenant as it is: ``tenant_view.read_objects`` (one read per object type) turned into ``mail_flow_info``
  entries (``tenant_view.entries``);
* objects given as data, in the same format (an export, a copy of a real tenant), without reading the tenant;
* either of those with partner definitions laid over them (``overlay_partners``): the connectors and rules onboarding
  would write for them (``partners.inbound_parameters`` / ``outbound_parameters`` / ``rule_parameters``), replacing
  the objects of the same names. The one function to replace when the onboarding planner can predict the state.

The tenant is read only for what the simulation needs and was not given: its connectors and rules (no ``objects``),
its accepted domains (``Get-AcceptedDomain``, no ``accepted_domains``), its directory (one ``Get-Recipient`` with
``ResultSize Unlimited``, only when an enabled rule has a condition or action that looks at the directory). Reads
only: the module never writes, in check mode or not.

This file sits above ``resources/`` (it uses ``tenant_view`` and ``partners``); the engine (``engine.py`` and below)
is pure and takes data only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError, NotFoundError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partners as pu
from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary as vocab
from ansible_collections.m365.mailflow.plugins.module_utils.resources import tenant_view
from ansible_collections.m365.mailflow.plugins.module_utils.simulation import conditions as cond
from ansible_collections.m365.mailflow.plugins.module_utils.simulation import engine
from ansible_collections.m365.mailflow.plugins.module_utils.simulation.message import MESSAGE_SPEC, normalise_all

KINDS = (engine.INBOUND, engine.OUTBOUND, engine.RULES)
# Conditions and actions that look at the directory (addresses resolved to the primary one, AD attributes, the
# organization's recipients, managers): the directory is read only when an enabled rule has one of them.
DIRECTORY_OPTIONS = frozenset((
    "from", "from_scope", "from_member_of", "sender_ad_attribute_contains_words",
    "sender_ad_attribute_matches_patterns", "sender_management_relationship", "manager_for_evaluated_user",
    "ad_attribute_comparison", "sent_to", "sent_to_scope", "sent_to_member_of", "recipient_ad_attribute_contains_words",
    "recipient_ad_attribute_matches_patterns", "any_of_to_header", "any_of_to_header_member_of", "any_of_cc_header",
    "any_of_cc_header_member_of", "any_of_to_cc_header", "any_of_to_cc_header_member_of", "between_member_of",
    "add_manager_as_recipient_type",
))


def argument_spec():
    """The options of m365.mailflow.mail_flow_simulate (the connection options are added by MailflowModule)."""
    return dict(
        messages=dict(type="list", elements="dict", required=True, options=MESSAGE_SPEC),
        unknown_conditions=dict(type="str", choices=list(engine.UNKNOWN_CONDITIONS), default="no_match"),
        test_mode_connectors=dict(type="str", choices=["ignore", "use"], default="ignore"),
        objects=dict(type="dict"),
        partners=dict(type="list", elements="dict"),
        accepted_domains=dict(type="list", elements="raw"),
        fail_on_expectations=dict(type="bool", default=True),
        show_rules=dict(type="str", choices=["all", "matched"], default="all"),
    )


# --------------------------------------------------------------------------------------------------- reads

def _get(client, cmdlet, parameters=None):
    try:
        return client.invoke(cmdlet, parameters or {})
    except NotFoundError:
        return []


# Condition parameters of a rule that are not options (rule_parameters.NOT_OPTIONS, DLP and internal ones):
# tenant_view's entries leave them out; they are put back under extra_parameters so that the simulation knows the
# rule has a condition it cannot evaluate, instead of taking it for a rule without that condition.
def _opaque_parameters(obj):
    out = {}
    for key, value in obj.items():
        if key.lower() in cond.OPAQUE and value not in (None, [], "", False):
            out[key] = value
    return out


def tenant_objects(client):
    """The tenant's connectors and rules as mail_flow_info entries (one read per object type)."""
    raw = tenant_view.read_objects(client)
    found = tenant_view.entries(raw)
    for entry, obj in zip(found[engine.RULES], raw[engine.RULES]):
        extra = _opaque_parameters(obj)
        if extra:
            entry["options"].setdefault("extra_parameters", {}).update(extra)
    return found


def tenant_accepted_domains(client):
    """The tenant's accepted domains (one Get-AcceptedDomain)."""
    return _get(client, "Get-AcceptedDomain")


def tenant_directory(client):
    """The tenant's recipients (one Get-Recipient for all of them; the client follows the service's paging)."""
    return _get(client, "Get-Recipient", {"ResultSize": "Unlimited"})


def directory_needed(objects):
    """True when an enabled rule has a condition, exception or action that looks at the directory."""
    for entry in objects.get(engine.RULES) or []:
        options = entry.get("options") or {}
        if options.get("enabled") is False or (entry.get("facts") or {}).get("state") == "Disabled":
            continue
        used = set((options.get("conditions") or {}).keys()) | set((options.get("exceptions") or {}).keys())
        used |= set((options.get("actions") or {}).keys())
        if used & DIRECTORY_OPTIONS:
            return True
    return False


# --------------------------------------------------------------------------------------------------- partners

def partner_definitions(items):
    """``partners.Partner`` objects from partner definitions given as data: the mapping under ``partner:``, a whole
    partner file (``{partner: {...}}``) or an entry of partner_definitions' answer (``{source, definition}``).
    Only the shape the overlay needs is checked here; m365.mailflow.partner_definitions checks everything."""
    out, errors = [], []
    for index, item in enumerate(items or []):
        where = "partners[%d]" % index
        source = where
        if isinstance(item, dict) and "definition" in item:
            source = str(item.get("source") or where)
            item = item["definition"]
        if isinstance(item, dict) and "partner" in item:
            item = item["partner"]
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            errors.append("%s: give a partner definition (the mapping under partner: of a partner file, with its "
                          "name)" % where)
            continue
        for section in ("inbound", "outbound"):
            if item.get(section) is not None and not isinstance(item[section], dict):
                errors.append("%s.%s: expected a mapping" % (where, section))
        rules = item.get("rules") or []
        if not isinstance(rules, list) or any(not isinstance(r, dict) or not isinstance(r.get("name"), str)
                                              for r in rules):
            errors.append("%s.rules: expected a list of rules, each with a name" % where)
        if item.get("outbound") is None and rules:
            errors.append("%s.rules: rules route through the partner's outbound connector; add an outbound section"
                          % where)
        partner = pu.Partner(source, {"partner": item})
        partner.data = item
        out.append(partner)
    if errors:
        raise ConfigurationError("; ".join(errors), details=errors)
    return out


def _index(entries, name):
    for index, entry in enumerate(entries):
        if str((entry.get("options") or {}).get("name") or "").lower() == name.lower():
            return index
    return None


def _connector(entries, name, desired, planned):
    options = dict((k, v) for k, v in desired.items() if v is not None)
    options["name"] = name
    at = _index(entries, name)
    if at is None:
        options.setdefault("enabled", True)
        entries.append({"options": options, "facts": {"connector_type": "Partner", "planned": "create"}})
        planned.append({"name": name, "change": "create"})
        return
    current = entries[at]
    merged = dict(current["options"])
    merged.update(options)
    entries[at] = {"options": merged, "facts": dict(current.get("facts") or {}, planned="update")}
    planned.append({"name": name, "change": "update"})


def _rule_options(current, params):
    options = dict(current or {})
    options["name"] = params["name"]
    for key in ("comments", "enabled", "mode", "activation_date", "expiry_date"):
        if params.get(key) is not None:
            options[key] = params[key]
    if current is None:
        options.setdefault("enabled", True)
        options.setdefault("mode", "enforce")
    for section in ("conditions", "exceptions", "actions"):
        given = params.get(section)
        if given is None:
            continue
        if params.get("purge_" + section, True):
            options[section] = dict(given)
        else:
            options[section] = dict(options.get(section) or {}, **given)
    if params.get("extra_parameters"):
        options["extra_parameters"] = dict(params["extra_parameters"])
    options["apply_to_all_messages"] = bool(params.get("apply_to_all_messages"))
    return options


def _place(rules, index, params):
    """Move the rule at ``index`` where ``priority`` / ``position`` say; a new rule without either goes last."""
    entry = rules.pop(index)
    if params.get("priority") is not None:
        rules.insert(max(0, min(int(params["priority"]), len(rules))), entry)
        return
    if params.get("position") is None:
        if entry["facts"].get("planned") == "create":
            rules.append(entry)
        else:
            rules.insert(index, entry)
        return
    where, other = vocab.parse_position(params["position"])
    if where == "top":
        rules.insert(0, entry)
    elif where == "bottom":
        rules.append(entry)
    else:
        at = _index(rules, other)
        if at is None:
            raise ConfigurationError("%s: position %s '%s': there is no rule of that name"
                                     % (params["name"], where, other))
        rules.insert(at if where == "before" else at + 1, entry)


def overlay_partners(objects, partners):
    """(objects, planned): ``objects`` (mail_flow_info entries) with what onboarding writes for ``partners`` laid over
    them by name: options a definition gives replace the object's, the rest stay as they are; a new object is created
    enabled (a rule in enforce mode) and a new rule goes to the bottom unless the definition places it. ``planned``
    lists each object and whether it would be created or updated.

    This is the one function to replace with the onboarding planner's predicted state."""
    out = dict((kind, copy.deepcopy(list(objects.get(kind) or []))) for kind in KINDS)
    planned = []
    for partner in partners:
        data = partner.data
        if data.get("inbound") is not None:
            _connector(out[engine.INBOUND], "%s inbound" % data["name"], pu.inbound_parameters(partner), planned)
        if data.get("outbound") is not None:
            _connector(out[engine.OUTBOUND], "%s outbound" % data["name"], pu.outbound_parameters(partner), planned)
        rules = out[engine.RULES]
        rules.sort(key=lambda e: ((e.get("facts") or {}).get("priority") is None,
                                  (e.get("facts") or {}).get("priority") or 0))
        for rule in data.get("rules") or []:
            params = pu.rule_parameters(partner, rule)
            at = _index(rules, params["name"])
            current = rules[at] if at is not None else None
            entry = {"options": _rule_options(current["options"] if current else None, params),
                     "facts": dict((current or {}).get("facts") or {}, planned="update" if current else "create")}
            if at is None:
                rules.append(entry)
                at = len(rules) - 1
            else:
                rules[at] = entry
            _place(rules, at, params)
            planned.append({"name": params["name"], "change": entry["facts"]["planned"]})
        for priority, entry in enumerate(rules):
            entry["facts"] = dict(entry.get("facts") or {}, priority=priority)
    return out, planned


# --------------------------------------------------------------------------------------------------- the module

def _check_objects(objects):
    if not isinstance(objects, dict):
        raise ConfigurationError("objects: give the mail_flow_info format, {inbound_connectors: [...], "
                                 "outbound_connectors: [...], mail_flow_rules: [...]}, each entry {options, facts}")
    unknown = sorted(set(objects) - set(KINDS) - set(("partners", "unmanaged", "proposed_partners", "counts",
                                                      "changed_at", "newest_change", "unmanaged_unproposed", "drift",
                                                      "changed", "failed", "calls", "service_warnings", "invocation",
                                                      "warnings", "deprecations", "msg", "skipped")))
    if unknown:
        raise ConfigurationError("objects: unknown key(s) %s; the keys are %s" % (", ".join(unknown), ", ".join(KINDS)))
    return dict((kind, objects.get(kind) or []) for kind in KINDS)


def run(params, get_client):
    """The result of m365.mailflow.mail_flow_simulate (``changed`` false). ``get_client()`` connects on first use,
    so a simulation that needs nothing from the tenant needs no connection."""
    messages = normalise_all(params.get("messages"))
    if not _can_read(params):
        missing = [o for o in ("objects", "accepted_domains") if params.get(o) is None]
        if missing:
            why = ("there is no sandbox tenant at %s" % params["sandbox"]) if params.get("sandbox") else \
                "there is no tenant connection (sandbox, or tenant with credentials)"
            raise ConfigurationError(
                "%s: %s to read them from; give %s as data, or the connection options of a tenant"
                % (" and ".join(missing), why, " and ".join(missing)))
    partners = partner_definitions(params.get("partners")) if params.get("partners") else []
    sources = {}
    if params.get("objects") is not None:
        objects = _check_objects(params["objects"])
        sources["objects"] = "given"
    else:
        objects = tenant_objects(get_client())
        sources["objects"] = "tenant"
    planned = []
    if partners:
        objects, planned = overlay_partners(objects, partners)
        sources["partners"] = [p.data["name"] for p in partners]
        sources["planned"] = planned
    if params.get("accepted_domains") is not None:
        domains = params["accepted_domains"]
        sources["accepted_domains"] = "given"
    else:
        domains = tenant_accepted_domains(get_client())
        sources["accepted_domains"] = "tenant"
    directory = None
    if directory_needed(objects):
        directory = tenant_directory(get_client()) if _can_read(params) else None
        sources["directory"] = "tenant" if directory is not None else \
            "not read: no tenant connection (attributes come from the messages)"
    else:
        sources["directory"] = "not read: no enabled rule looks at it"
    results = engine.simulate(objects, messages, domains, directory,
                              unknown_conditions=params.get("unknown_conditions") or "no_match",
                              test_mode_connectors=params.get("test_mode_connectors") or "ignore")
    if params.get("show_rules") == "matched":
        shorten(results)
    results["sources"] = sources
    results["changed"] = False
    failed = engine.failed_expectations(results)
    results["failed_expectations"] = failed
    if failed and params.get("fail_on_expectations", True):
        results["failed"] = True
        results["msg"] = "%d expectation(s) not met: %s" % (len(failed), "; ".join(failed))
    return results


def shorten(results):
    """Keep, of every recipient's rules, those that matched, were stopped by an exception or could not be evaluated
    (``show_rules: matched``); the others are only counted."""
    for answer in results["messages"]:
        unknown = set((u["recipient"], u["rule"]) for u in answer.get("unknown") or [])
        for recipient in answer["recipients"]:
            kept = [r for r in recipient.get("rules") or [] if r["status"] in ("matched", "excepted")
                    or (recipient["recipient"], r["name"]) in unknown]
            recipient["rules_not_shown"] = len(recipient.get("rules") or []) - len(kept)
            recipient["rules"] = kept


def _can_read(params):
    """Whether the task has a tenant to read: a sandbox tenant's file that exists, or a tenant."""
    sandbox = params.get("sandbox")
    if sandbox:
        return os.path.exists(sandbox)
    return bool(params.get("tenant"))
