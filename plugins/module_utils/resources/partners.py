# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Partner definitions: every check that can be made before the first write, for every partner of a run.

The format of a definition is ``partner_format.partner_options()`` (the argument spec built from the resource
specs); this module judges data against it and is used by the ``m365.mailflow.partner_definitions`` action plugin and
by ``m365.mailflow.partners`` (on the controller, before the module runs):

1. shape and types of each definition against that argument spec, with the path of each value
   (``rules[1].conditions``);
2. the partner-level cross-field rules (rules need a rule-scoped outbound connector, validation needs recipients...);
3. the resource specs' own checks of each object the partner writes (``InboundConnectorSpec.preflight``,
   ``OutboundConnectorSpec.preflight`` with the connectors' combination rules I2-I5 and O1-O5,
   ``rule_vocabulary.desired_state`` and ``TransportRuleSpec.preflight``), on the exact parameters the partner
   floor passes (``partner_format.inbound_parameters`` and friends). They report ``errors.Problem`` records (path,
   message), placed in the file by their path (``outbound.smart_hosts[1]``); nothing is parsed from message text;
4. across the partners of a tenant: names compared without case, object names, shared sender and recipient domains;
5. against the tenant as it is (``check_tenant``, for partner_definitions; the partners module plans against the
   same read in ``partner_plan``): objects of the same name that onboarding did not create (adopted only when
   asked), domains claimed by other connectors, and for offboarding the marker and the rules that still route to the
   partner's connector.

Every problem is collected, never raised, as ``<source>: <field>: <message>``, so that a run reports all of them at
once. Everything here is linear in the number of partners (dictionaries keyed by lower-cased names and domains).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import difflib
import functools
import re

from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.resources import inbound_connector
from ansible_collections.m365.mailflow.plugins.module_utils.resources import outbound_connector
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format as pf
from ansible_collections.m365.mailflow.plugins.module_utils.resources import posture
from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary as vocabulary
from ansible_collections.m365.mailflow.plugins.module_utils.resources import transport_rule as rule_utils
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError, NotFoundError, Problem
from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import (
    OutboundConnectorSpec, outbound_connectors)
from ansible_collections.m365.mailflow.plugins.module_utils.simulation import message

# The partner vocabulary lives in partner_format; these names are kept for the callers that import them from here.
MARKER_PREFIX = pf.MARKER_PREFIX
NAME_PATTERN = pf.NAME_PATTERN
RULE_NAME_MAX = pf.RULE_NAME_MAX
carries_marker = pf.carries_marker
marker_owner = pf.marker_owner
inbound_parameters = pf.inbound_parameters
outbound_parameters = pf.outbound_parameters
rule_parameters = pf.rule_parameters

# How the names of the run's variables read in messages (the playbooks' variables by default).
DEFAULT_NAMES = {
    "file": "partner_file",
    "files": "partner_files",
    "definition": "partner_definition",
    "partners": "partner_onboarding_partners",
    "adopt": "partner_adopt",
    "force": "partner_offboarding_force",
    "connection": "mailflow_connection",
    "validation": "mailflow_validation",
}

_KIND_WORDS = {
    "str": "text", "path": "a path (text)", "bool": "true or false", "int": "a whole number", "float": "a number",
    "list": "a list", "dict": "a mapping (key: value)", "raw": "a value",
}


# --------------------------------------------------------------------------------------------------- reporting

class Report(object):
    """Problems (errors) and warnings, each ``<source>: <field>: <message>``."""

    def __init__(self):
        self.errors = []
        self.warnings = []
        self._bad = {}

    @staticmethod
    def line(source, field, message):
        return ": ".join(part for part in (source, field, message) if part)

    def error(self, source, field, message):
        self.errors.append(self.line(source, field, message))

    def invalid(self, source, field, message):
        """An error about a value that is then left out: later checks that need it do not judge it."""
        self.error(source, field, message)
        self._bad.setdefault(source, []).append(field or "")

    def warn(self, source, field, message):
        self.warnings.append(self.line(source, field, message))

    def is_bad(self, source, path, inside=True):
        """Whether a problem was reported at ``path``, at a value that contains it (``outbound`` for
        ``outbound.tls_domain``) or, with ``inside``, at a value within it (``outbound.smart_hosts[1]``)."""
        for bad in self._bad.get(source, ()):
            if bad == path or path.startswith(bad + ".") or path.startswith(bad + "["):
                return True
            if inside and (bad.startswith(path + ".") or bad.startswith(path + "[")):
                return True
        return False


def describe(value):
    """A short description of a value and its YAML type, for messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "%s (a boolean)" % ("true" if value else "false")
    if isinstance(value, (int, float)):
        return "%r (a number)" % (value,)
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return "'%s' (text)" % shown if value else "'' (empty text)"
    if isinstance(value, dict):
        return "a mapping with the keys %s" % ", ".join(sorted(str(k) for k in value)) if value else "an empty mapping"
    if isinstance(value, (list, tuple)):
        return "a list of %d entr%s" % (len(value), "y" if len(value) == 1 else "ies")
    return "a %s" % type(value).__name__


def to_bool(value):
    """True/False for what Ansible users write as a boolean (true/yes/on/1, false/no/off/0), else None."""
    if isinstance(value, bool):
        return value
    key = value.strip().lower() if isinstance(value, str) else value
    try:
        if key in BOOLEANS_TRUE:
            return True
        if key in BOOLEANS_FALSE:
            return False
    except TypeError:  # unhashable (list, dict)
        return None
    return None


# --------------------------------------------------------------------------------------------------- argument spec

def check_options(value, options, path, report, source, strict_text=("name",)):
    """Check a mapping against argument-spec ``options``; return it with types converted and unset keys dropped.

    The semantics are those of an Ansible argument spec (types, ``elements``, ``choices``, ``required``, nested
    ``options``; ``null`` means not given), with stricter text: a boolean, list or mapping is not silently turned
    into text, and options named in ``strict_text`` must be written as text (a partner called ``42`` must be quoted).
    """
    if not isinstance(value, dict):
        report.invalid(source, path, "expected %s, got %s" % (_KIND_WORDS["dict"], describe(value)))
        return None
    out = {}
    for key in value:
        if key not in options:
            known = sorted(options)
            close = difflib.get_close_matches(str(key), known, n=1)
            report.invalid(source, _join(path, key), "unknown key%s; the keys here are %s" % (
                " (did you mean %s?)" % close[0] if close else "", ", ".join(known)))
    for key in sorted(options):
        spec = options[key] or {}
        given = value.get(key)
        field = _join(path, key)
        if given is None:
            if spec.get("required"):
                report.invalid(source, field, "missing; it is required")
            continue
        checked = _check_value(given, spec, field, report, source, strict_text, key in strict_text)
        if checked is not None:
            out[key] = checked
    return out


def _join(path, key):
    return "%s.%s" % (path, key) if path else str(key)


def _check_value(value, spec, field, report, source, strict_text, strict):
    kind = spec.get("type") or "str"
    if kind == "list":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",")] if value.strip() else []
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [str(value)]
        elif not isinstance(value, (list, tuple)):
            report.invalid(source, field, "expected %s, got %s" % (_KIND_WORDS["list"], describe(value)))
            return None
        element = dict(spec, type=spec.get("elements") or "raw")
        element.pop("elements", None)
        out = []
        for index, item in enumerate(value):
            item_field = "%s[%d]" % (field, index)
            if item is None:
                report.invalid(source, item_field, "an empty entry; remove it or give a value")
                out.append(None)  # keeps the positions of the entries after it (messages name them by index)
                continue
            out.append(_check_value(item, element, item_field, report, source, strict_text, strict))
        return out
    if kind == "dict":
        if spec.get("options"):
            return check_options(value, spec["options"], field, report, source, strict_text)
        if not isinstance(value, dict):
            report.invalid(source, field, "expected %s, got %s" % (_KIND_WORDS["dict"], describe(value)))
            return None
        return dict(value)
    converted = _scalar(value, kind, strict)
    if converted is None and spec.get("no_log"):
        report.invalid(source, field, "expected %s, got a value of another type" % _KIND_WORDS.get(kind, kind))
        return None
    if converted is None:
        hint = ""
        if kind in ("str", "path") and isinstance(value, (bool, int, float)):
            hint = "; quote it in YAML ('%s') if that is what you mean" % (
                ("true" if value else "false") if isinstance(value, bool) else value)
        report.invalid(source, field, "expected %s, got %s%s" % (_KIND_WORDS.get(kind, kind), describe(value), hint))
        return None
    choices = spec.get("choices")
    if choices and converted not in choices:
        close = difflib.get_close_matches(str(converted), [str(c) for c in choices], n=1)
        report.invalid(source, field, "%s is not one of %s%s" % (
            describe(converted), ", ".join(str(c) for c in choices), " (did you mean %s?)" % close[0] if close else ""))
        return None
    return converted


def _scalar(value, kind, strict):
    """The value converted to ``kind``, or None when it cannot be."""
    if kind in ("str", "path"):
        if isinstance(value, str):
            return value
        if strict or isinstance(value, (bool, list, tuple, dict)) or value is None:
            return None
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        if isinstance(value, (int, float)):
            return str(value)
        return None
    if kind == "bool":
        return to_bool(value)
    if kind == "int":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.match(r"^\s*[-+]?\d+\s*$", value):
            return int(value)
        return None
    if kind == "float":
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return None
        return None
    return value  # raw


# --------------------------------------------------------------------------------------------------- one partner

class Partner(object):
    """One definition of the run: where it came from, the raw data and, once checked, the converted mapping."""

    def __init__(self, source, raw):
        self.source = source
        self.raw = raw
        self.data = None  # the mapping under partner:, converted; None when its shape is wrong
        self.object_names = []  # [(kind, name, field)] the objects onboarding writes

    @property
    def name(self):
        return (self.data or {}).get("name")

    @property
    def marker(self):
        return pf.marker(self.name)

    def result(self):
        return {"source": self.source, "definition": {"partner": self.data}}


_SPEC = {}


def definition_options():
    """The partner-file format (``partner_format.partner_options``), built once per process."""
    if "partner" not in _SPEC:
        _SPEC["partner"] = pf.partner_options()
    return _SPEC["partner"]


def check_definition(partner, definition_spec, report, run_validation=None):
    """Shape, types, cross-field rules and the resource specs' checks of one definition. ``definition_spec`` None:
    the partner-file format. ``run_validation``: the run-wide validation settings, which override the definition's."""
    source, raw = partner.source, partner.raw
    definition_spec = definition_spec or definition_options()
    if raw is None:
        report.error(source, "", "empty; it must hold a mapping with the key partner (partner: {name: ..., inbound: "
                                 "..., outbound: ...}, see docs/partner-definitions.md)")
        return
    if isinstance(raw, (list, tuple)):
        report.error(source, "", "holds %s; it must hold one mapping with the key partner (one partner per file, see "
                                 "docs/partner-definitions.md)" % describe(raw))
        return
    if not isinstance(raw, dict):
        report.error(source, "", "holds %s, not a partner definition; it must hold a mapping with the key partner "
                                 "(partner: {name: ..., inbound: ..., outbound: ...})" % describe(raw))
        return
    if "partner" not in raw:
        hint = " Put the definition under partner:." if "name" in raw else ""
        report.error(source, "", "has no key partner (its keys are %s); it must hold a mapping with the key partner.%s"
                     % (", ".join(sorted(str(k) for k in raw)) or "none", hint))
        return
    for key in sorted(str(k) for k in raw if k != "partner"):
        report.error(source, key, "unknown top-level key; a partner definition holds only partner:")
    if not isinstance(raw["partner"], dict):
        report.error(source, "partner", "expected a mapping with the partner's name and its inbound and/or outbound "
                                        "sections, got %s" % describe(raw["partner"]))
        return
    given = _without_route(raw["partner"], source, report)
    data = check_options(given, definition_spec, "", report, source)
    partner.data = data
    name = data.get("name")
    if isinstance(name, str) and not NAME_PATTERN.match(name):
        shown = "'%s' is not allowed" % name if name.strip() else "empty"
        report.invalid(source, "name", "%s; a partner name is 1 to 40 letters, digits, spaces, dots, underscores or "
                                       "hyphens, starting with a letter or digit (the connector and rule names "
                                       "derive from it)" % shown)
    if report.is_bad(source, "name"):
        return  # object names cannot be derived; the rest would only repeat the problem
    partner.object_names = pf.object_names(data)
    touched = _cross_field(partner, report, run_validation or {})
    _object_checks(partner, report, touched)
    _expect_and_accept(partner, report)


def _without_route(partner, source, report):
    """The definition without ``rules[].actions.route_message_outbound_connector``, which is reported: onboarding sets
    each rule's route to the partner's outbound connector itself."""
    rules = partner.get("rules")
    if not isinstance(rules, list):
        return partner
    out = []
    for index, rule in enumerate(rules):
        actions = rule.get("actions") if isinstance(rule, dict) else None
        if isinstance(actions, dict) and pf.ROUTE_OPTION in actions:
            report.invalid(source, "rules[%d].actions.%s" % (index, pf.ROUTE_OPTION),
                           "onboarding sets the route itself: every rule of a partner routes to the partner's own "
                           "outbound connector ('<name> outbound'). Remove this key; to route to another connector, "
                           "put the rule in that partner's file")
            rule = dict(rule, actions=dict((k, v) for k, v in actions.items() if k != pf.ROUTE_OPTION))
        out.append(rule)
    return dict(partner, rules=out)


def _has_predicates(section):
    return isinstance(section, dict) and any(v not in (None, "", [], {}) for v in section.values())


def _cross_field(partner, report, run_validation):
    """The partner-level rules: those about how a partner's objects relate (its rules and its outbound connector,
    validation). The rules of one connector's options (I2-I5, O1-O5) are the resource specs' own
    (``_object_checks``). Returns the paths a problem was reported at (``outbound.recipient_domains``), whose
    object-level problems would only repeat it."""
    source, p = partner.source, partner.data
    has_outbound = p.get("outbound") is not None
    outbound = p.get("outbound") or {}
    rules = [r for r in (p.get("rules") or []) if isinstance(r, dict)]
    own = p.get("validation") or {}
    validation = dict(own)
    validation.update((k, v) for k, v in run_validation.items() if v is not None)
    touched = set()

    def problem(field, message, uses=(), needs=()):
        """Report, unless a value the rule ``uses`` (or anything in it), or a section it ``needs`` (or one that
        contains it), already has a problem: the rule could not be judged on it."""
        if any(report.is_bad(source, path) for path in uses) or any(
                report.is_bad(source, path, inside=False) for path in needs):
            return
        report.error(source, field, message)
        touched.update(uses)
        touched.add(field)

    o_scoped, o_domains = "outbound.transport_rule_scoped", "outbound.recipient_domains"
    if p.get("inbound") is None and not has_outbound:
        problem("", "the partner has neither inbound nor outbound; give at least one of them",
                needs=("inbound", "outbound"))
    if rules and not has_outbound:
        problem("rules", "rules route messages through the partner's outbound connector; add an outbound section",
                needs=("rules", "outbound"))
    if rules and outbound.get("recipient_domains"):
        problem(o_domains, "cannot be combined with rules; a connector is scoped either to recipient domains or to "
                           "mail flow rules (remove recipient_domains to route only what the rules select)",
                uses=(o_domains, o_scoped), needs=("rules",))
    if rules and outbound.get("transport_rule_scoped") is False:
        problem(o_scoped, "rules route to the outbound connector, which must then be scoped to mail flow rules; "
                          "remove outbound.transport_rule_scoped: false", uses=(o_scoped,), needs=("rules",))
    if has_outbound and not rules and not outbound.get("recipient_domains") and not outbound.get("transport_rule_scoped"):
        problem("outbound", "needs recipient_domains (the partner's domains) or rules that route to it",
                uses=(o_domains, o_scoped), needs=("rules", "outbound"))
    if outbound.get("transport_rule_scoped") and not rules:
        problem(o_scoped, "true but no rules route to the connector; add rules or use recipient_domains",
                uses=(o_scoped, o_domains), needs=("rules",))
    if (has_outbound and validation.get("enabled", True) and validation.get("service_validation", True)
            and not validation.get("recipients") and not outbound.get("validation_recipients")):
        problem("outbound.validation_recipients",
                "validation needs recipients for the test message: set outbound.validation_recipients (or "
                "validation.recipients), or validation.enabled: false",
                uses=("outbound.validation_recipients", "validation.recipients", "validation.enabled",
                      "validation.service_validation"), needs=("outbound",))
    if own and not has_outbound:
        problem("validation", "validation applies to the outbound connector, and the partner has none; remove "
                              "validation or add outbound", needs=("validation", "outbound"))
    for found in n.probe_settings_problems(dict((k, v) for k, v in own.items() if not report.is_bad(
            source, "validation." + k, inside=False))):
        field = place(found, "validation", own)
        report.error(source, field, found.message)
    if not report.is_bad(source, "rules", inside=False):
        _rule_checks(partner, report, problem)
    return touched


def _rule_checks(partner, report, problem):
    name = partner.data["name"]
    seen = {}
    for index, rule in enumerate(partner.data.get("rules") or []):
        field = "rules[%d]" % index
        rule_name = rule.get("name") if isinstance(rule, dict) else None
        if not isinstance(rule_name, str):
            continue
        key = rule_name.strip().lower()
        if key in seen:
            problem(field + ".name", "'%s': two rules have the same name (rules[%d] is '%s'; names are compared "
                                     "without case)" % (rule_name, seen[key][0], seen[key][1]), uses=(field + ".name",))
        else:
            seen[key] = (index, rule_name)
        full = pf.rule_name(name, rule_name)
        if len(full) > RULE_NAME_MAX:
            problem(field + ".name", "the rule in the tenant is named '%s' (%d characters), which must be at most %d "
                                     "characters; shorten the rule name" % (full, len(full), RULE_NAME_MAX),
                    uses=(field + ".name",))
        if not rule_name.strip():
            problem(field + ".name", "an empty rule name; give the rule a short name", uses=(field + ".name",))
        if (not _has_predicates(rule.get("conditions")) and not _has_predicates(rule.get("exceptions"))
                and not rule.get("apply_to_all_messages") and not rule.get("extra_parameters")):
            options = ("conditions", "exceptions", "apply_to_all_messages", "extra_parameters")
            problem(field, "rule '%s' has no conditions, so it would route every message to the partner; add "
                           "conditions (for example recipient_domain_is) or set apply_to_all_messages: true"
                    % rule_name, uses=tuple("%s.%s" % (field, option) for option in options))
        if rule.get("priority") is not None and rule.get("position") is not None:
            problem(field, "priority and position are mutually exclusive in one rule; keep one of them",
                    uses=(field + ".priority", field + ".position"))


def _expect_and_accept(partner, report):
    """The partner's expectations (sample messages, the format of mail_flow_simulate, each with the outcome it must
    have) and its accepted posture findings, checked by their own modules' checks."""
    source, data = partner.source, partner.data
    for index, raw in enumerate(data.get("expect") or []):
        where = "expect[%d]" % index
        if report.is_bad(source, where):
            continue
        try:
            message.normalise(raw, where=where)
        except ConfigurationError as exc:
            for problem in problems_of(exc):
                report.error(source, "", str(problem))
            continue
        if not any(v is not None for v in (raw.get("expect") or {}).values()):
            report.error(source, where, "a sample message of a partner file says what must come out of it: give expect "
                                        "with connector (the outbound connector's name, or none for MX delivery), "
                                        "rules (the rules whose actions apply) and/or rejected")
    _checked, problems = posture.suppression_errors(data.get("accept"), field="accept")
    for problem in problems:
        report.error(source, "", problem)


# --------------------------------------------------------------------------------------------------- object checks

def _object_checks(partner, report, touched):
    """Each object's checks, as its resource spec runs them on the parameters the partner floor passes: the static
    pre-flight (value formats, the combination rules given the values), and the combination rules on the complete
    definition (a partner file says everything it manages: ``restrict_domains_to_certificate`` without a certificate
    name is wrong even if the tenant's connector had one). Values that already had a problem were left out; problems
    at a path a partner-level rule reported, or at a value left out, are dropped."""
    source, data = partner.source, partner.data
    if isinstance(data.get("inbound"), dict):
        params = pf.inbound_parameters(data)
        checks = [lambda: InboundConnectorSpec().preflight(pf.inbound_name(data["name"]), params),
                  lambda: n.raise_errors(inbound_connector.combination_problems(params, complete=True))]
        _report_problems(checks, "inbound", data["inbound"], touched, source, report)
    if isinstance(data.get("outbound"), dict):
        params = pf.outbound_parameters(data)
        catch_all = bool(data["outbound"].get("catch_all"))
        checks = [lambda: OutboundConnectorSpec(catch_all=catch_all).preflight(pf.outbound_name(data["name"]), params),
                  lambda: n.raise_errors(outbound_connector.combination_problems(params, complete=True,
                                                                                 catch_all=catch_all))]
        _report_problems(checks, "outbound", data["outbound"], touched, source, report)
    for index, rule in enumerate(data.get("rules") or []):
        if not isinstance(rule, dict) or not isinstance(rule.get("name"), str):
            continue
        _report_problems([rule_check(pf.rule_parameters(data, rule))], "rules[%d]" % index, rule, touched, source,
                         report)


def rule_check(params):
    """mail_flow_rule's pre-flight on its options ``params``, as a function of no argument."""
    def check():
        spec = rule_utils.TransportRuleSpec(params.get("extra_parameters"), params["apply_to_all_messages"])
        spec.preflight(params["name"], vocabulary.desired_state(params))
    return check


def problems_of(error):
    """The ``Problem`` records of a ConfigurationError (one about the whole object when it has none)."""
    details = error.details if isinstance(error.details, list) else None
    return [d if isinstance(d, Problem) else Problem("", str(d)) for d in (details or [error.msg]) if d]


def place(problem, section, values):
    """The field of a partner file a resource spec's ``problem`` is about: ``section`` + its path, with the index of
    the list entry it names (``outbound.smart_hosts[1]``); ``section`` alone for a problem about the whole object."""
    if not problem.path:
        return section
    field = "%s.%s" % (section, problem.path)
    if problem.entry is not None:
        value = values
        for part in problem.path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, list):
            field = "%s[%d]" % (field, problem.entry)
    return field


def _report_problems(checks, section, values, touched, source, report):
    seen = set()
    for check in checks:
        try:
            check()
        except ConfigurationError as exc:
            for problem in problems_of(exc):
                field = place(problem, section, values)
                paths = ["%s.%s" % (section, path) if path else section for path in (problem.path,) + problem.related]
                if any(path in touched for path in paths) or any(
                        report.is_bad(source, path, inside=False) for path in paths if path != section):
                    continue
                key = (field, problem.message)
                if key not in seen:
                    seen.add(key)
                    report.error(source, field, problem.message)


# --------------------------------------------------------------------------------------------------- the whole run

def check_definitions(partners, definition_spec, report, mode="onboard", run_validation=None):
    """Check every partner of a tenant's run: each one, then names, objects and domains across them.
    ``definition_spec`` None: the partner-file format (``partner_format.partner_options``); ``run_validation``: the
    run-wide validation settings (they override each definition's)."""
    for partner in partners:
        check_definition(partner, definition_spec, report, run_validation)
    named = [p for p in partners if p.data is not None and isinstance(p.name, str)
             and not report.is_bad(p.source, "name")]
    _check_names(named, report)
    if mode == "onboard":
        _check_domains(named, report)
        _check_catch_all(named, report)
        _check_sender_ips(named, report)


def _check_names(partners, report):
    by_name, by_object = {}, {}
    for partner in partners:
        key = partner.name.strip().lower()
        first = by_name.get(key)
        if first is not None:
            report.error(partner.source, "name", "'%s' is also the name of the partner in %s ('%s'); partner names are "
                                                 "compared without case, as Exchange Online compares object names, so "
                                                 "both would manage the same connectors and rules. Rename one of them, "
                                                 "or remove one of the files" % (partner.name, first.source, first.name))
            continue
        by_name[key] = partner
        for kind, name, field in partner.object_names:
            other = by_object.get((kind, name.lower()))
            if other is not None:
                report.error(partner.source, field, "%s '%s' would also be written for partner '%s' (%s, %s); rename "
                                                    "one of them" % (_NOUNS[kind], name, other[0].name, other[0].source,
                                                                     other[1]))
            else:
                by_object[(kind, name.lower())] = (partner, field)


_NOUNS = pf.NOUNS
_DOMAIN_FIELDS = (
    ("inbound", "sender_domains", "sender domain",
     "Exchange Online could not tell the two partners' mail apart (one connector's restrictions would reject the "
     "other partner's mail)"),
    ("outbound", "recipient_domains", "recipient domain",
     "mail to it would match two outbound connectors and go through either"),
)


def _domain_entries(partner, section, option):
    """(field, domain, wildcard, shown) for each domain of a partner's connector; '*' (any domain) is left out.
    ``domain`` is the A-label form (what the tenant stores, values.idna_name), ``shown`` how messages quote it
    (both forms when it was written in Unicode)."""
    values = (partner.data.get(section) or {}).get(option) or []
    for index, value in enumerate(values):
        if not isinstance(value, str):
            continue
        domain = n.parse_address_space(value)[0] if section == "inbound" else n.domain_key(value)
        if domain == "*" or not domain:
            continue
        wildcard = domain.startswith("*.")
        written = n.address_space_domain(value) if section == "inbound" else value.strip()
        shown = n.idna_shown(written) if written.rstrip(".").lower() != domain else "'%s'" % domain
        yield "%s.%s[%d]" % (section, option, index), (domain[2:] if wildcard else domain), wildcard, shown


def _check_domains(partners, report):
    """A domain given to two partners is an error; a domain covered by another partner's wildcard is a warning."""
    for section, option, noun, why in _DOMAIN_FIELDS:
        exact, wild = {}, {}
        entries = []
        for partner in partners:
            if report.is_bad(partner.source, "%s.%s" % (section, option)):
                continue
            for field, domain, wildcard, shown in _domain_entries(partner, section, option):
                table = wild if wildcard else exact
                owner = table.get(domain)
                if owner is not None and owner[0] is not partner:
                    report.error(partner.source, field, "%s is also a %s of partner '%s' (%s, %s); %s. Keep each %s "
                                                        "in one partner definition" % (shown, noun, owner[0].name,
                                                                                       owner[0].source, owner[1], why,
                                                                                       noun))
                    continue
                table.setdefault(domain, (partner, field))
                entries.append((partner, field, domain, wildcard, shown))
        for partner, field, domain, wildcard, shown in entries:
            labels = domain.split(".")
            start = 1 if wildcard else 0
            for cut in range(start, len(labels) - 1):
                owner = wild.get(".".join(labels[cut:]))
                if owner is not None and owner[0] is not partner:
                    report.warn(partner.source, field, "%s is covered by '*.%s', a %s of partner '%s' (%s); the "
                                                       "more specific entry wins, make sure that is intended"
                                % (shown, ".".join(labels[cut:]), noun, owner[0].name, owner[0].source))
                    break


# --------------------------------------------------------------------------------------------------- the tenant

RULE_KEYS = ("Name", "Guid", "Identity", "Comments", "Priority", "RouteMessageOutboundConnector", "State")


def _get_all(client, cmdlet, parameters):
    try:
        return client.invoke(cmdlet, parameters)
    except NotFoundError:
        return []


def read_tenant(client):
    """What ``check_tenant`` needs, in 3 or 4 reads: every inbound connector, every outbound connector (test-mode
    ones included, through the one shared lookup ``outbound_connectors``: one read, or two when the first answer
    cannot be known to be complete) and the rules (the keys the checks use). Every Get-* returns 1000 objects unless
    told otherwise (connector_cmdlets.md 2.2, 3.3, 4.x), so each asks for ResultSize Unlimited."""
    unlimited = {"ResultSize": "Unlimited"}
    outbound = outbound_connectors(client, parameters=unlimited)
    rules = _get_all(client, "Get-TransportRule", dict(unlimited))
    tenant = {
        "inbound": _get_all(client, "Get-InboundConnector", dict(unlimited)),
        "outbound": outbound,
        "rules": [dict((key, rule.get(key)) for key in RULE_KEYS) for rule in rules],
    }
    tenant["calls"] = len(client.calls)
    return tenant


def _comment_of(obj):
    return pf.comment_of(obj)


def _index(objects):
    return dict((str(o.get("Name") or "").lower(), o) for o in objects or [])


def _ours(names):
    return set((kind, name.lower()) for partner in names for kind, name, _field in partner.object_names)


def check_tenant(partners, tenant, report, mode="onboard", adopt=False, force=False, names=None):
    """Checks against the tenant as it is: ``tenant`` = {inbound: [objects], outbound: [...], rules: [...]}, the
    Get-InboundConnector, Get-OutboundConnector (test-mode ones included) and Get-TransportRule objects."""
    names = dict(DEFAULT_NAMES, **(names or {}))
    current = {"inbound": _index(tenant.get("inbound")), "outbound": _index(tenant.get("outbound")),
               "rule": _index(tenant.get("rules"))}
    checked = [p for p in partners if p.data is not None and p.object_names]
    if mode == "offboard":
        for partner in checked:
            _offboard_checks(partner, current, tenant.get("rules") or [], report, force, names)
        return
    for partner in checked:
        _adoption(partner, current, report, adopt or bool(partner.data.get("adopt")), names)
        _preflight_current(partner, current, report)
    _tenant_domains(checked, tenant, report)


def _describe_owner(comment, name):
    owner = marker_owner(comment)
    if owner and owner.lower() != (name or "").lower():
        return "it carries the marker of partner '%s'" % owner
    if comment:
        return "its comment is '%s'" % (comment if len(comment) <= 80 else comment[:77] + "...")
    return "it has no comment"


def check_adoption(partners, tenant, report, adopt=False, names=None):
    """Objects of the partners' names that exist without their marker: refused unless adopted."""
    names = dict(DEFAULT_NAMES, **(names or {}))
    current = _current(tenant)
    for partner in partners:
        if partner.data is not None and partner.object_names:
            _adoption(partner, current, report, adopt or bool(partner.data.get("adopt")), names)


def check_tenant_domains(partners, tenant, report):
    """Domains of the run that another connector of the tenant already has, and a second catch-all connector."""
    checked = [p for p in partners if p.data is not None and p.object_names]
    _tenant_domains(checked, tenant, report)
    ours = _ours(checked)
    others = [o for o in tenant.get("outbound") or [] if ("outbound", str(o.get("Name") or "").lower()) not in ours
              and outbound_connector.is_catch_all(o.get("RecipientDomains"))]
    if others:
        for partner in _catch_all_partners(checked):
            report.error(partner.source, "outbound.recipient_domains", "'*' (every domain) is already taken by the "
                         "outbound connector '%s' in the tenant; a tenant "
                         "can have one catch-all outbound connector. "
                         "List the partner's domains instead"
                         % others[0].get("Name"))


def _catch_all_partners(partners):
    return [p for p in partners if isinstance(p.data.get("outbound"), dict)
            and outbound_connector.is_catch_all(p.data["outbound"].get("recipient_domains"))]


def _check_catch_all(partners, report):
    """One catch-all ('*') outbound connector per tenant: two partners taking every domain is refused."""
    found = _catch_all_partners(partners)
    for partner in found[1:]:
        report.error(partner.source, "outbound.recipient_domains", "'*' (every domain) is also given to partner '%s' "
                     "(%s); a tenant can have one catch-all outbound "
                     "connector. List the partner's domains instead"
                     % (found[0].name, found[0].source))


def check_offboard(partners, tenant, report, force=False, names=None):
    """Offboarding: the marker of every object to remove, the rules that still route to the partner's connector, and a
    partner with no object whose domains or addresses belong to another partner's connector (a misspelt name)."""
    names = dict(DEFAULT_NAMES, **(names or {}))
    current = _current(tenant)
    for partner in partners:
        if partner.data is None or not partner.object_names:
            continue
        _offboard_checks(partner, current, tenant.get("rules") or [], report, force, names)
        if not any(current[kind].get(name.lower()) is not None for kind, name, _f in partner.object_names):
            _elsewhere(partner, tenant, report)


def _current(tenant):
    return {"inbound": _index(tenant.get("inbound")), "outbound": _index(tenant.get("outbound")),
            "rule": _index(tenant.get("rules"))}


def _elsewhere(partner, tenant, report):
    """A partner to offboard that has no object in the tenant, but whose sender or recipient domains, or sender IP
    addresses, are those of another connector: probably a misspelt or renamed partner. Offboarding it would report
    'already absent' while the partner's mail keeps flowing through the other connector."""
    data = partner.data
    wanted = []
    for field, domain, wildcard, _shown in _domain_entries(partner, "inbound", "sender_domains"):
        wanted.append(("inbound", "SenderDomains", ("*." if wildcard else "") + domain, field))
    for field, domain, wildcard, _shown in _domain_entries(partner, "outbound", "recipient_domains"):
        wanted.append(("outbound", "RecipientDomains", ("*." if wildcard else "") + domain, field))
    for index, ip in enumerate((data.get("inbound") or {}).get("sender_ip_addresses") or []):
        wanted.append(("inbound", "SenderIPAddresses", n.ipv4_key(ip) if isinstance(ip, str) else ip,
                       "inbound.sender_ip_addresses[%d]" % index))
    for section, param, value, field in wanted:
        for obj in tenant.get(section) or []:
            have = obj.get(param) or []
            have = have if isinstance(have, list) else [have]
            keys = [n.ipv4_key(v) if param == "SenderIPAddresses" else n.parse_address_space(str(v))[0] for v in have]
            if value not in keys:
                continue
            owner = marker_owner(_comment_of(obj))
            report.error(partner.source, field, "partner '%s' has no connector or rule in the tenant, but %s is a %s of "
                                                "the %s connector '%s'%s. Is the partner's name misspelt or was it "
                                                "renamed? Offboard with the definition that onboarded it (its name is "
                                                "'%s'); nothing was removed"
                         % (partner.name, value, {"SenderDomains": "sender domain",
                                                  "RecipientDomains": "recipient domain",
                                                  "SenderIPAddresses": "sender IP address"}[param],
                            section, obj.get("Name"), " (partner '%s')" % owner if owner else "",
                            owner or obj.get("Name")))
            return


def _adoption(partner, current, report, adopt, names):
    for kind, name, field in partner.object_names:
        obj = current[kind].get(name.lower())
        if obj is None or carries_marker(_comment_of(obj), partner.name):
            continue
        comment = _comment_of(obj)
        if adopt:
            report.warn(partner.source, field, "adopting the existing %s '%s' (%s): onboarding takes it over and "
                                               "writes the marker '%s' into its comment"
                        % (_NOUNS[kind], obj.get("Name") or name, _describe_owner(comment, partner.name), partner.marker))
            continue
        report.error(partner.source, field, "%s '%s' already exists in the tenant without the marker '%s' (%s), so "
                                            "partner_onboarding did not create it for this partner and would take it "
                                            "over. Remove or rename it, or adopt it: -e %s=true for the run, or "
                                            "adopt: true in the partner definition"
                     % (_NOUNS[kind], obj.get("Name") or name, partner.marker, _describe_owner(comment, partner.name),
                        names["adopt"]))


def _preflight_current(partner, current, report):
    """The modules' checks that need the object as it is (its type; the definition merged with its values)."""
    data = partner.data
    checks = []
    if data.get("inbound") is not None:
        checks.append(("inbound", InboundConnectorSpec(), inbound_parameters(partner)))
    if data.get("outbound") is not None:
        checks.append(("outbound", OutboundConnectorSpec(), outbound_parameters(partner)))
    for kind, spec, desired in checks:
        name = "%s %s" % (data["name"], kind)
        obj = current[kind].get(name.lower())
        if obj is None:
            continue
        check = functools.partial(spec.preflight_current, name, desired, obj)
        _report_problems([check], kind, data[kind], set(), partner.source, report)


def _tenant_domains(partners, tenant, report):
    """A domain of the run that another connector in the tenant (not one of the run's objects) already has (an
    error); a domain of the run covered by another connector's wildcard, or a wildcard of the run covering another
    connector's domain (a warning: the more specific entry wins); sender IP addresses of the run that overlap those of
    another inbound connector (a warning, ``_tenant_sender_ips``)."""
    ours = _ours(partners)
    for section, option, noun, why in _DOMAIN_FIELDS:
        param = "SenderDomains" if section == "inbound" else "RecipientDomains"
        claimed = {}
        for obj in tenant.get(section) or []:
            name = str(obj.get("Name") or "")
            if (section, name.lower()) in ours:
                continue
            values = obj.get(param) or []
            for value in (values if isinstance(values, list) else [values]):
                domain = n.parse_address_space(str(value))[0]
                if domain != "*":
                    claimed.setdefault(domain, obj)
        if not claimed:
            continue
        wild = dict((domain[2:], obj) for domain, obj in claimed.items() if domain.startswith("*."))
        run_wild = {}
        for partner in partners:
            for field, domain, wildcard, shown in _domain_entries(partner, section, option):
                obj = claimed.get(("*." if wildcard else "") + domain)
                if obj is None:
                    if wildcard:
                        run_wild.setdefault(domain, (partner, field, shown))
                    covering = _covering(domain, wildcard, wild)
                    if covering is not None:
                        report.warn(partner.source, field, "%s is covered by '*.%s', a %s of the %s connector '%s' in "
                                                           "the tenant (%s); the more specific entry wins, make sure "
                                                           "that is intended"
                                    % (shown, covering[0], noun, section, covering[1].get("Name"),
                                       _tenant_owner(covering[1])))
                    continue
                report.error(partner.source, field, "%s is already a %s of the %s connector '%s' in the tenant (%s); "
                                                    "%s. Offboard or change that connector first"
                             % (shown, noun, section, obj.get("Name"), _tenant_owner(obj), why))
        for domain, obj in sorted(claimed.items()):
            covered = domain[2:] if domain.startswith("*.") else domain
            found = _covering(covered, domain.startswith("*."), run_wild)
            if found is not None:
                partner, field, shown = found[1]
                report.warn(partner.source, field, "%s covers '%s', a %s of the %s connector '%s' in the tenant (%s); "
                                                   "that connector keeps it (the more specific entry wins), make sure "
                                                   "that is intended" % (shown, domain, noun, section, obj.get("Name"),
                                                                         _tenant_owner(obj)))
    _tenant_sender_ips(partners, tenant, report, ours)


def _tenant_owner(obj):
    owner = marker_owner(_comment_of(obj))
    return "partner '%s'" % owner if owner else "not managed by m365.mailflow"


def _covering(domain, wildcard, wild):
    """(suffix, value) of the nearest wildcard entry of ``wild`` ({suffix: value}, ``*.suffix``) that covers
    ``domain`` (``*.x.example`` covers x.example and every name under it), or None; a wildcard is not covered by
    itself."""
    labels = domain.split(".")
    for cut in range(1 if wildcard else 0, len(labels) - 1):
        suffix = ".".join(labels[cut:])
        if suffix in wild:
            return suffix, wild[suffix]
    return None


# ------------------------------------------------------------------------------------------------- sender IP addresses

def _ip_entries(partner, report):
    """(start, end, field, shown) of each valid inbound.sender_ip_addresses entry of a partner, as address numbers."""
    if report.is_bad(partner.source, "inbound.sender_ip_addresses"):
        return []
    out = []
    for index, value in enumerate((partner.data.get("inbound") or {}).get("sender_ip_addresses") or []):
        for network in n.networks(value) if isinstance(value, str) else []:
            out.append((int(network.network_address), int(network.broadcast_address), network.version,
                        "inbound.sender_ip_addresses[%d]" % index, value.strip()))
    return out


def _overlaps(entries):
    """Pairs (earlier, later) of overlapping entries of different owners; ``entries``: (start, end, version, owner,
    rank, data), ``rank`` the order in which they were given. Sorted by start, then swept with the entries still
    open: n log n plus the overlaps found."""
    found, active = [], []
    for entry in sorted(entries, key=lambda e: (e[2], e[0], e[1], e[4])):
        active = [a for a in active if a[2] == entry[2] and a[1] >= entry[0]]
        for other in active:
            if other[3] is not entry[3]:
                found.append((other, entry) if other[4] < entry[4] else (entry, other))
        active.append(entry)
    return found


def _check_sender_ips(partners, report):
    """Sender IP addresses given to two partners of the run (an address, a block or a range of one overlapping one
    of the other, compared as networks): an error at the later partner, as for domains. Exchange Online attributes
    a partner's mail by address; it only warns about the overlap, after the write (NewInboundConnector.
    CheckSenderIpAddressesOverlap, decompiled)."""
    entries = []
    for rank, partner in enumerate(partners):
        for start, end, version, field, shown in _ip_entries(partner, report):
            entries.append((start, end, version, partner, rank, (field, shown)))
    reported = set()
    for first, second in _overlaps(entries):
        partner, (field, shown) = second[3], second[5]
        other, (other_field, other_shown) = first[3], first[5]
        if (partner.source, field, other.source) in reported:
            continue
        reported.add((partner.source, field, other.source))
        report.error(partner.source, field, "'%s' overlaps '%s', a sender IP address of partner '%s' (%s, %s); "
                                            "Exchange Online could not tell the two partners' mail apart by address. "
                                            "Keep each address in one partner definition"
                     % (shown, other_shown, other.name, other.source, other_field))


def _tenant_sender_ips(partners, tenant, report, ours):
    """Sender IP addresses of the run that overlap those of another inbound connector of the tenant: a warning
    naming it (the service's own warning, SenderIPAddressOverlapsExistingTenantInboundConnectors, comes only after
    the write; it looks at enabled connectors, this at every one)."""
    entries = []
    for obj in tenant.get("inbound") or []:
        if ("inbound", str(obj.get("Name") or "").lower()) in ours:
            continue
        values = obj.get("SenderIPAddresses") or []
        for value in (values if isinstance(values, list) else [values]):
            for network in n.networks(value):
                entries.append((int(network.network_address), int(network.broadcast_address), network.version, obj,
                                -1, str(value)))
    if not entries:
        return
    for rank, partner in enumerate(partners):
        for start, end, version, field, shown in _ip_entries(partner, report):
            entries.append((start, end, version, partner, rank, (field, shown)))
    reported = set()
    for first, second in _overlaps(entries):
        if (first[4] < 0) == (second[4] < 0):
            continue  # two connectors of the tenant, or two partners of the run (check_definitions judges those)
        obj, (partner, (field, shown)) = (first[3], (second[3], second[5])) if first[4] < 0 else (
            second[3], (first[3], first[5]))
        key = (partner.source, field, str(obj.get("Name")))
        if key in reported:
            continue
        reported.add(key)
        report.warn(partner.source, field, "'%s' overlaps '%s', a sender IP address of the inbound connector '%s' in "
                                           "the tenant (%s%s); mail from that address matches both connectors, make "
                                           "sure that is intended"
                    % (shown, first[5] if first[4] < 0 else second[5], obj.get("Name"), _tenant_owner(obj),
                       ", disabled" if obj.get("Enabled") is False else ""))


def _offboard_checks(partner, current, tenant_rules, report, force, names):
    source, name = partner.source, partner.name
    if not force:
        for kind, obj_name, field in partner.object_names:
            obj = current[kind].get(obj_name.lower())
            if obj is not None and not carries_marker(_comment_of(obj), name):
                report.error(source, field, "refusing to offboard %s, nothing was removed: %s '%s' was not created by "
                                            "partner_onboarding for this partner (its comment lacks '%s'; %s). Remove "
                                            "it by hand, or set %s: true to remove it anyway"
                             % (name, _NOUNS[kind], obj.get("Name") or obj_name, partner.marker,
                                _describe_owner(_comment_of(obj), name), names["force"]))
    if partner.data.get("outbound") is None:
        return
    connector = ("%s outbound" % name).lower()
    named = set(obj_name.lower() for kind, obj_name, _field in partner.object_names if kind == "rule")
    routing = [str(r.get("Name")) for r in tenant_rules
               if str(r.get("RouteMessageOutboundConnector") or "").strip().lower() == connector
               and str(r.get("Name") or "").lower() not in named]
    if routing:
        report.error(source, "outbound", "refusing to offboard %s, nothing was removed: mail flow rules that the partner "
                                         "definition does not name route to '%s outbound': %s; remove them or point "
                                         "them at another connector first"
                     % (name, name, ", ".join("'%s'" % r for r in sorted(routing))))
