# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mail flow (transport) rules: the rule spec (priorities, recipients, pre-flight rules) and the task's result.

The vocabulary (conditions, exceptions, actions, the argument spec, the flat desired state) is in
``rule_vocabulary``. All rules are read with one ``Get-TransportRule -ResultSize Unlimited``; the list gives the
rule, the priorities needed to place it (``position``) and, compared with the list after the task, the rules
whose priority shifted."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import re

from ansible_collections.m365.mailflow.plugins.module_utils import engine
from ansible_collections.m365.mailflow.plugins.module_utils import rule_parameters as table
from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.engine import ResourceSpec
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    ConfigurationError,
    InvalidParameterError,
    MailflowError,
    NotFoundError,
    Problem,
)
from ansible_collections.m365.mailflow.plugins.module_utils.fields import Field, Pair, Recipients
from ansible_collections.m365.mailflow.plugins.module_utils.resources import outbound_connector as outbound
from ansible_collections.m365.mailflow.plugins.module_utils.resources.rule_vocabulary import (
    GROUPS, BY_PARAM, BY_PATH, COMMENTS_MAX, NAME_MAX, NEW_ONLY, NON_CONDITION_PARAMETERS, OPTION_ONLY,
    RESERVED_PARAMETERS, ROUTE,
    path_sort, parse_position, desired_state, extra_value, nest,
)
from ansible_collections.m365.mailflow.plugins.module_utils.service_data import GROUP_RECIPIENT_TYPES, RULE_SIZE_MAX


_PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
# Every parameter of New-TransportRule and Set-TransportRule (rule_parameters.CMDLET_PARAMETERS, the non-options
# included), by lower-cased name: an extra_parameters key outside it is refused before any write.
CMDLET_PARAMETERS = dict((p.lower(), p) for p in table.CMDLET_PARAMETERS)
IN_ORGANIZATION = "inorganization"  # SentToScope InOrganization, as Enum.key compares it


def _value_bytes(value):
    """Bytes of the text of a value (UTF-8, without separators): a lower bound of what it takes in the rule."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, dict):
        return sum(_value_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_value_bytes(v) for v in value)
    return len(str(value).encode("utf-8"))


def _is_group(obj):
    kinds = (obj.get("RecipientType"), obj.get("RecipientTypeDetails"))
    return any(str(k) in GROUP_RECIPIENT_TYPES + ("GroupMailbox", "RoomList") for k in kinds if k)


class RecipientResolver(object):
    """What the service stores for a recipient value, the way ``New-TransportRule`` resolves it.

    Facts (decompiled transport rule tasks, ``Utils.ValidateRecipient`` and ``Utils.BuildSmtpAddressArray``, read
    in code; live ``Get-TransportRule`` dumps show addresses): the value is looked up in the directory like any
    ``RecipientIdParameter`` (name, alias, display name, any proxy address, GUID...). Found once: the recipient's
    primary SMTP address is stored, so a secondary address reads back as the primary one. Found several times: the
    service refuses the value as ambiguous. Not found: a valid SMTP address (also ``Name <address>``) is stored as
    given, which is how external senders and recipients are used; anything else is refused as not found.

    Every distinct value is looked up once per task (an address too: it may be a secondary proxy address), with
    ``Get-Recipient`` (read-only, so also in check mode).
    """

    def __init__(self, client):
        self.client = client
        self.cache = {}

    def resolve(self, value):
        """``{"address", "group", "internal", "problem"}`` for one value (``problem`` set when it cannot be used)."""
        text = str(value).strip()
        address = n.smtp_address(text)
        identity = address or text
        if identity.lower() not in self.cache:
            self.cache[identity.lower()] = self._lookup(identity, address)
        return self.cache[identity.lower()]

    def _lookup(self, identity, address):
        try:
            found = [o for o in self.client.invoke("Get-Recipient", {"Identity": identity}) if isinstance(o, dict)]
        except NotFoundError:
            found = []
        except InvalidParameterError as exc:
            if "ambiguous" not in ("%s %s" % (exc.exception_type, exc.msg)).lower() and "multiple" not in exc.msg:
                raise
            return {"address": identity, "problem": "'%s' matches more than one recipient of the organisation; give "
                                                    "the email address of the one you mean" % identity}
        if len(found) > 1:
            matches = sorted(str(o.get("PrimarySmtpAddress") or o.get("Name")) for o in found)
            return {"address": identity, "problem": "'%s' matches more than one recipient (%s); give the email "
                                                    "address of the one you mean" % (identity, ", ".join(matches))}
        if found:
            primary = str(found[0].get("PrimarySmtpAddress") or "").strip()
            if not primary:
                return {"address": identity, "problem": "recipient '%s' has no email address, so a mail flow rule "
                                                        "cannot use it" % identity}
            return {"address": primary, "group": _is_group(found[0]), "internal": True}
        if address:
            return {"address": address, "group": False, "internal": False}  # kept as given, like the service
        return {"address": identity, "problem": "there is no recipient '%s' in the organisation (Get-Recipient finds "
                                                "no name, alias, display name or address like it). Correct it, or "
                                                "give an email address" % identity}


def _covers(prop, given, excepted):
    """Whether exception values ``excepted`` take every value of condition values ``given`` (comparable forms of
    ``prop``): a list within the other list, a single value or a group of values equal."""
    if given is None or excepted is None:
        return False
    if isinstance(prop, Pair):
        return all(_covers(sub, a, b) if a is not None or b is not None else True
                   for sub, a, b in zip(prop.subs, given, excepted))
    if prop.value.multi:
        return set(given) <= set(excepted)
    return given == excepted


def _quoted(shown):
    if isinstance(shown, list):
        return ", ".join("'%s'" % (v,) for v in shown)
    if isinstance(shown, dict):
        return ", ".join("%s: %s" % (k, v) for k, v in sorted(shown.items()) if v is not None)
    return "'%s'" % (shown,)


def _parameter_hint(param):
    """' (did you mean X? ...)' for an unknown extra_parameters key, '' when nothing is close."""
    close = difflib.get_close_matches(param.lower(), sorted(CMDLET_PARAMETERS), n=1, cutoff=0.75)
    if not close:
        return "; give a parameter of New-TransportRule, or use the module's options"
    known = CMDLET_PARAMETERS[close[0]]
    prop = BY_PARAM.get(close[0])
    option = " (the option %s)" % prop.path if prop is not None and close[0] in OPTION_ONLY else ""
    return "; did you mean %s%s?" % (known, option)


def _option_hint(param):
    """'; use the option conditions.x' for a module option given as an extra_parameters key."""
    key = str(param).strip().lower()
    for section in ("conditions", "actions", ""):
        prop = BY_PATH.get("%s.%s" % (section, key) if section else key)
        if prop is not None:
            return ("; it is the module option %s (extra_parameters takes cmdlet parameter names such as %s)"
                    % (prop.path, prop.params[0]))
    return ""


class TransportRuleSpec(ResourceSpec):
    noun = "mail flow rule"
    result_key = "rule"
    get_cmdlet = "Get-TransportRule"
    new_cmdlet = "New-TransportRule"
    set_cmdlet = "Set-TransportRule"
    remove_cmdlet = "Remove-TransportRule"

    def __init__(self, extra_parameters=None, apply_to_all_messages=False):
        super(TransportRuleSpec, self).__init__()
        self.props = dict(BY_PATH)
        for param in sorted(extra_parameters or {}):
            prop = Field(str(param), str(param), extra_value(str(param)), section="extra_parameters")
            self.props[prop.path] = prop
        self.extra = sorted(str(p) for p in (extra_parameters or {}))
        self.apply_to_all_messages = apply_to_all_messages
        self.rules = []
        self.snapshot = None
        self.read_after = None  # client.writes_done when the rules were last read (see ensure_rule)
        self.aliases = {}
        # A RecipientResolver shared by the rules of one run (partner_plan): each distinct value is looked up once.
        self.resolver = None

    # ---- reads -------------------------------------------------------------------------------------------------
    def read(self, client, name):
        """One Get-TransportRule for all rules; keeps the list for priorities and shift reports."""
        self.rules = client.invoke(self.get_cmdlet, {"ResultSize": "Unlimited"})
        self.read_after = client.writes_done
        if self.snapshot is None:
            self.snapshot = self.priorities()
        return self.match(self.rules, name)

    def priorities(self, rules=None):
        return dict((r.get("Name"), r.get("Priority")) for r in (self.rules if rules is None else rules))

    def ordered(self, exclude=None):
        """Rule names by priority, without ``exclude`` (an object)."""
        skip = (exclude or {}).get("Guid") or (exclude or {}).get("Name")
        rules = [r for r in self.rules if not skip or (r.get("Guid") or r.get("Name")) != skip]
        return [r.get("Name") for r in sorted(rules, key=lambda r: (r.get("Priority") is None, r.get("Priority") or 0))]

    # ---- priority arithmetic -------------------------------------------------------------------------------------
    def target_priority(self, desired, current):
        """The priority the rule must have, or None when the task does not manage it. Raises for bad targets."""
        priority, position = desired.get("priority"), desired.get("position")
        if priority is None and position is None:
            return None
        others = self.ordered(exclude=current)
        if priority is not None:
            if not 0 <= priority <= len(others):
                n.raise_errors([Problem(
                    "priority", "%d is out of range; with %d other rule(s) in the tenant it must be from 0 (first) to "
                                "%d (last). Or use position: top / bottom / {before: <rule>} / {after: <rule>}"
                    % (priority, len(others), len(others)))])
            return priority
        where, other = parse_position(position)
        if where == "top":
            return 0
        if where == "bottom":
            return len(others)
        lowered = [o.lower() for o in others]
        if other.lower() not in lowered:
            if current is not None and other.lower() == str(current.get("Name", "")).lower():
                n.raise_errors([Problem("position", "a rule cannot be placed %s itself; name another rule" % where)])
            shown = ", ".join("'%s'" % o for o in others[:20]) + (" and %d more" % (len(others) - 20)
                                                                  if len(others) > 20 else "")
            n.raise_errors([Problem(
                "position", "there is no mail flow rule named '%s' to place this rule %s. Existing rules: %s. Fix the "
                            "name, or use top or bottom" % (other, where, shown or "none"))])
        index = lowered.index(other.lower())
        return index if where == "before" else index + 1

    # ---- recipients ---------------------------------------------------------------------------------------------
    def normalise(self, desired):
        """``extra_parameters`` of a list type given as a single value become a list of it (as the cmdlet binds it)."""
        out = dict(desired)
        for path, value in desired.items():
            prop = self.props.get(path)
            if prop is not None and prop.section == "extra_parameters" and prop.value.multi and isinstance(value, str):
                out[path] = [value] if value else []
        return out

    def prepare(self, client, name, desired):
        """Resolve every recipient value to the primary SMTP address the service will store (one Get-Recipient per
        distinct value, read-only, in check mode too), so that names, aliases and secondary addresses compare equal
        to what Get-TransportRule reads back; refuse unknown and ambiguous recipients and groups where the service
        refuses them, naming the option, before any write."""
        resolver = self.resolver or RecipientResolver(client)
        out, errors = dict(desired), []
        for path in sorted(desired, key=path_sort):
            prop, value = self.props.get(path), desired[path]
            if prop is None or value is None or prop.absent(value):
                continue
            if isinstance(prop, Pair):  # recipients inside a group (between_member_of, generate_incident_report...)
                resolved = dict(value)
                for name, sub in zip(prop.names, prop.subs):
                    if isinstance(sub.value, Recipients) and not sub.absent(value.get(name)):
                        resolved[name] = self._resolve(resolver, "%s.%s" % (path, name), sub.value,
                                                       value.get(name), errors)
                out[path] = resolved
            elif isinstance(prop.value, Recipients):
                out[path] = self._resolve(resolver, path, prop.value, value, errors)
        n.raise_errors(errors)
        return out

    def _resolve(self, resolver, path, value_type, value, errors):
        """The addresses the service stores for ``value`` (a list, or one recipient for a single-valued type)."""
        single = not value_type.multi
        addresses = []
        for index, item in enumerate([value] if single else value):
            found = resolver.resolve(item)
            problem = value_type.problem(path, item, found)
            if problem:
                errors.append(Problem.of(path, problem, entry=None if single else index))
                continue
            caution = value_type.caution(path, item, found)
            if caution and caution not in self.warnings:
                self.warnings.append(caution)
            addresses.append(found["address"])
        if single:
            return addresses[0] if addresses else value
        return n.unique(addresses, n.ci_key)

    # ---- checks -------------------------------------------------------------------------------------------------
    def preflight(self, name, desired):
        errors = [
            Problem("name", "an empty name is not allowed") if not (name or "").strip() else None,
            n.length_error("name", name, NAME_MAX),
            n.length_error("comments", desired.get("comments"), COMMENTS_MAX),
        ]
        if desired.get("priority") is not None and desired.get("position") is not None:
            errors.append(Problem("priority", "priority and position are both set; give one: priority (0 is first) or "
                                              "position (top, bottom, {before: <rule>}, {after: <rule>})"))
        if desired.get("priority") is not None and desired["priority"] < 0:
            errors.append(Problem("priority", "%d is negative; 0 is the first rule" % desired["priority"]))
        if desired.get("position") is not None:
            try:
                where, other = parse_position(desired["position"])
                if other and other.lower() == (name or "").strip().lower():
                    errors.append(Problem("position", "a rule cannot be placed %s itself; name another rule" % where))
            except ConfigurationError as exc:
                errors.extend(exc.details or [exc.msg])
        for path, value in sorted(desired.items()):
            if path in self.props and value is not None:
                errors.extend(self.props[path].errors(value))
        errors.extend(self._extra_errors())
        errors.append(self._window_error(desired.get("activation_date"), desired.get("expiry_date")))
        errors.append(self._size_error(desired))
        if not any(errors):
            errors.extend(self._never_applies(desired, name))
        n.raise_errors(errors)

    @staticmethod
    def _size_error(desired):
        """A rule whose condition, exception and action values alone exceed the service's limit for one rule."""
        sizes = dict((path, _value_bytes(value)) for path, value in desired.items()
                     if path.split(".", 1)[0] in GROUPS and value is not None)
        total = sum(sizes.values())
        if total <= RULE_SIZE_MAX:
            return None
        largest = max(sorted(sizes), key=lambda path: sizes[path])
        return Problem(largest, "the values of this rule's conditions, exceptions and actions take %d bytes (%s alone "
                                "%d), more than the %d bytes Exchange Online allows for one rule. Split them over "
                                "several rules" % (total, largest, sizes[largest], RULE_SIZE_MAX))

    def _extra_errors(self):
        errors = []
        for param in self.extra:
            lowered = param.lower()
            field = "extra_parameters.%s" % param
            if not _PARAM_NAME.match(param):
                errors.append(Problem(field, "'%s' is not a cmdlet parameter name%s" % (param, _option_hint(param))))
            elif lowered not in CMDLET_PARAMETERS:
                errors.append(Problem(field, "'%s' is not a parameter of New-TransportRule or Set-TransportRule, so "
                                             "Exchange Online would refuse the rule%s" % (param, _parameter_hint(param))))
            elif lowered in RESERVED_PARAMETERS:
                option = RESERVED_PARAMETERS[lowered]
                errors.append(Problem(field, ("use the module option %s instead" % option) if option
                                      else "the module sets it itself; remove it"))
            elif lowered in BY_PARAM and lowered not in OPTION_ONLY:
                self.warnings.append("%s: mail_flow_rule has the option %s for it now; prefer the option"
                                     % (field, BY_PARAM[lowered].path))
            elif lowered in BY_PARAM:
                errors.append(Problem(field, "use %s instead" % BY_PARAM[lowered].path))
        return errors

    def _never_applies(self, flat, name):
        """Problems of a rule (flat: path -> value, absent values None) that could never act: a condition whose
        every value is also a value of its exception (every message it selects is excepted), and a route to an
        outbound connector for mail sent inside the organization (Exchange Online delivers that mail internally; an
        outbound connector carries mail to external recipients only: inferred from the connector documentation,
        the simulator's assumption ``rule_route_internal``)."""
        problems = []
        for prop in self.props.values():
            if prop.section != "conditions":
                continue
            other = self.props.get("exceptions." + prop.option)
            given, excepted = flat.get(prop.path), flat.get(prop.path.replace("conditions.", "exceptions.", 1))
            if other is None or given is None or excepted is None or prop.absent(given) or other.absent(excepted):
                continue
            if _covers(prop, prop.comparable(given), other.comparable(excepted)):
                shown = prop.shown(given)
                problems.append(Problem(other.path, "has the same value%s as %s (%s), so every message the condition "
                                                    "selects is also excepted and rule '%s' would never apply. Remove "
                                                    "the value%s from one of the two"
                                        % ("s" if isinstance(shown, list) and len(shown) > 1 else "", prop.path,
                                           _quoted(shown), name, "s" if isinstance(shown, list) and len(shown) > 1
                                           else ""), related=(prop.path,)))
        route, scope = flat.get(ROUTE), flat.get("conditions.sent_to_scope")
        scope_prop = self.props.get("conditions.sent_to_scope")
        if (route and not self.props[ROUTE].absent(route) and scope_prop is not None and scope is not None
                and not scope_prop.absent(scope) and scope_prop.comparable(scope) == IN_ORGANIZATION):
            problems.append(Problem("conditions.sent_to_scope", "in_organization selects mail to recipients inside "
                                                                "the organization, which Exchange Online delivers "
                                                                "internally and never through an outbound connector, "
                                                                "so routing it to the outbound connector '%s' would "
                                                                "have no effect. Use not_in_organization, or remove "
                                                                "sent_to_scope" % self._effective(ROUTE, route),
                                    related=(ROUTE,)))
        return problems

    @staticmethod
    def _window_error(activation, expiry):
        start, end = n.parse_date(activation, strict=False), n.parse_date(expiry, strict=False)
        if start and end and end <= start:
            return Problem("expiry_date", "%s is not after activation_date %s; the rule would never be active. Move "
                                          "expiry_date later or activation_date earlier"
                           % (n.date_display(expiry), n.date_display(activation)))
        return None

    def _merged(self, desired, current):
        """The rule as it will stand: desired values over the current ones (flat)."""
        merged = self.view(current) if current is not None else {}
        for path, value in desired.items():
            if value is not None and path in self.props:
                merged[path] = None if self.props[path].absent(value) else value
        return merged

    def _has_predicates(self, merged, current):
        if any(merged.get(p.path) is not None for p in self.props.values() if p.section in ("conditions", "exceptions")):
            return True
        for param in self.extra:
            value = merged.get("extra_parameters." + param)
            if value not in (None, "", [], False) and param.lower() not in NON_CONDITION_PARAMETERS:
                return True
        if current is not None:  # predicates set outside this module's table stay in place
            known = sum(1 for p in BY_PATH.values() if p.section == "conditions" and p.current(current) is not None)
            known_except = sum(1 for p in BY_PATH.values() if p.section == "exceptions" and p.current(current) is not None)
            if len(current.get("Conditions") or []) > known or len(current.get("Exceptions") or []) > known_except:
                return True
        return False

    def preflight_current(self, name, desired, current):
        if desired is None:
            return
        merged = self._merged(desired, current)
        n.raise_errors([self._window_error(merged.get("activation_date"), merged.get("expiry_date"))]
                       + self._never_applies(merged, name))
        self.target_priority(desired, current)
        if not self.apply_to_all_messages and not self._has_predicates(merged, current):
            raise ConfigurationError(
                "mail flow rule '%s' would have no condition and no exception, so it would apply to every message "
                "in the organisation. Add conditions (for example recipient_domain_is), or set "
                "apply_to_all_messages: true if that is intended" % name)

    def guard(self, client, name, changes, current):
        """A new or changed routing target must be an existing, enabled, rule-scoped connector (reads, no write)."""
        connector = (changes or {}).get(ROUTE)
        if connector is None or self.props[ROUTE].absent(connector):
            return
        try:
            self.check_connector(client, connector)
        except ConfigurationError as exc:
            if not self.check_mode:
                raise
            # an earlier task of the same check-mode run may create or fix the connector
            self.warnings.append("%s (check mode: reported as a warning because an earlier task may create or "
                                 "fix the connector; a real run fails here, before any write)" % exc.msg)

    def check_connector(self, client, connector):
        """The rule may only route to an existing, enabled, rule-scoped outbound connector (test-mode ones too)."""
        wanted = connector.strip().lower()
        matches = [o for o in outbound.outbound_connectors(client, connector)
                   if wanted in (str(o.get("Name", "")).lower(), str(o.get("Guid", "")).lower())]
        field = ROUTE
        if not matches and engine.made_recently(client, outbound.NOUN, connector):
            # An earlier task of this run created it moments ago and replication does not show it yet: the service
            # checks it when the rule is written, and a "not found" then is waited for (lagging).
            return
        if not matches:
            raise ConfigurationError(
                "%s: outbound connector '%s' does not exist in the tenant (looked with and without "
                "IncludeTestModeConnectors). Create it first, scoped to mail flow rules (m365.mailflow."
                "partner_outbound_connector with transport_rule_scoped: true), or correct the name. If it was created "
                "moments ago outside this run, Exchange Online may not show it yet: re-run in a few minutes"
                % (field, connector))
        if len(matches) > 1:
            raise ConfigurationError("%s: more than one outbound connector matches '%s'; give its exact name or GUID"
                                     % (field, connector))
        obj = matches[0]
        label = obj.get("Name") or connector
        if obj.get("Enabled") is False:
            raise ConfigurationError(
                "%s: outbound connector '%s' is disabled, and a mail flow rule can only route to an enabled "
                "connector. Enable it first (m365.mailflow.partner_outbound_connector with enabled: true)" % (field, label))
        if not obj.get("IsTransportRuleScoped"):
            raise ConfigurationError(
                "%s: outbound connector '%s' is not scoped to mail flow rules (IsTransportRuleScoped is false), so a "
                "rule cannot route to it. Set transport_rule_scoped: true on it (m365.mailflow."
                "partner_outbound_connector; its recipient_domains must then be empty)" % (field, label))
        self.aliases[wanted] = label

    # ---- replication lag -----------------------------------------------------------------------------------------
    def lagging(self, client, error, cmdlet, parameters, name):
        """Also: New/Set refused because the connector it routes to, created by this run moments ago, is not found
        yet (the refusal must name that connector)."""
        reason = super(TransportRuleSpec, self).lagging(client, error, cmdlet, parameters, name)
        target = (parameters or {}).get("RouteMessageOutboundConnector")
        if reason is not None or not isinstance(target, str) or not target.strip():
            return reason
        text = (error.msg or "").lower()
        if (isinstance(error, (NotFoundError, InvalidParameterError)) and target.strip().lower() in text
                and ("found" in text or "exist" in text) and engine.made_recently(client, outbound.NOUN, target)):
            return ("outbound connector '%s' was created or changed by this run moments ago and %s does not find it yet"
                    % (target, cmdlet))
        return None

    def released(self, current, changes):
        """The connector this rule routed to, when the rule is removed or routed elsewhere (or nowhere)."""
        route = self.props[ROUTE].current(current)
        if not route:
            return []
        if changes is None or (ROUTE in changes and self.props[ROUTE].differs(self._effective(ROUTE, changes[ROUTE]), route)):
            return [(outbound.NOUN, route)]
        return []

    # ---- desired versus current ----------------------------------------------------------------------------------
    def _effective(self, path, value):
        if path == ROUTE and isinstance(value, str):
            return self.aliases.get(value.strip().lower(), value)
        return value

    def changes(self, desired, current):
        out = {}
        for path, value in desired.items():
            if value is None or path not in self.props:
                continue
            prop = self.props[path]
            value = self._effective(path, value)
            have = prop.current(current)
            if path == "activation_date" and have is None and not prop.absent(value):
                if n.parse_date(value, strict=False) and n.parse_date(value, strict=False) <= n.utcnow():
                    continue  # the service drops a past activation date: the rule is already active
            if prop.differs(value, have):
                if path in NEW_ONLY:
                    n.raise_errors([Problem(path, "the rule has %s, and Set-TransportRule cannot change it "
                                                  "(New-TransportRule only). Remove the rule (state: absent) and "
                                                  "create it again, or leave %s out" % (have, path))])
                out[path] = value
        target = self.target_priority(desired, current)
        if target is not None and target != current.get("Priority"):
            out["priority"] = target
        return out

    def create_parameters(self, name, desired):
        params = {"Name": name}
        for path, value in sorted(desired.items()):
            if value is None or path not in self.props or self.props[path].absent(value):
                continue
            params.update(self.props[path].to_params(value))
        target = self.target_priority(desired, None)
        if target is not None and target != len(self.ordered()):
            params["Priority"] = target
        return params

    def update_commands(self, current, changes):
        identity = self.identity(current)
        params = {"Identity": identity}
        for path, value in sorted(changes.items()):
            if path == "enabled":
                continue
            if path == "priority":
                params["Priority"] = value
                continue
            params.update(self.props[path].to_params(value))
        commands = []
        if len(params) > 1:
            commands.append({"cmdlet": self.set_cmdlet, "parameters": params})
        if "enabled" in changes:
            if changes["enabled"]:
                commands.append({"cmdlet": "Enable-TransportRule", "parameters": {"Identity": identity}})
            else:
                commands.append({"cmdlet": "Disable-TransportRule", "parameters": {"Identity": identity, "Confirm": False}})
        return commands

    def command_changes(self, command, changes):
        """Enable/Disable-TransportRule apply ``enabled``; the Set applies everything else."""
        if command["cmdlet"] in ("Enable-TransportRule", "Disable-TransportRule"):
            return dict((k, v) for k, v in changes.items() if k == "enabled")
        return dict((k, v) for k, v in changes.items() if k != "enabled")

    # ---- views ---------------------------------------------------------------------------------------------------
    def view(self, obj):
        """Flat view: every property path (None when not set), priority and read-only facts."""
        if obj is None:
            return {}
        out = {"name": obj.get("Name"), "priority": obj.get("Priority")}
        for path, prop in self.props.items():
            out[path] = prop.current(obj)
        out.update(self.facts(obj))
        return out

    def facts(self, obj):
        return {"guid": obj.get("Guid"), "identity": obj.get("Identity")}

    def predict(self, current_view, name, changes):
        if current_view:
            after = dict(current_view)
        else:
            after = dict((path, None) for path in self.props)
            after.update({"name": name, "enabled": True, "mode": "enforce", "guid": None, "identity": name,
                          "priority": len(self.ordered())})
        for path, value in changes.items():
            if path == "priority":
                after["priority"] = value
            elif path in self.props and value is not None:
                after[path] = self.props[path].shown(self._effective(path, value))
        if not current_view:
            target = self.target_priority(changes, None)
            if target is not None:
                after["priority"] = target
        return after

    # ---- the task's result ----------------------------------------------------------------------------------------
    def finish(self, client, name, desired, outcome):
        """The rule as it stands and the priorities of the others (shifted_rules) are read after the last write. A
        read-back while a write was retried (client verify) came before that write completed: it does not count. A
        created rule's changed properties are those the task set."""
        if outcome.changed and not self.check_mode and self.read_after != client.writes_done:
            try:
                final = self.read(client, name)
            except MailflowError:
                final = None
            if final is not None or outcome.action == "delete":
                outcome.after = self.view(final)
        if outcome.action == "create":
            outcome.changed_properties = sorted(
                [p for p, v in desired.items() if p in self.props and v is not None and not self.props[p].absent(v)]
                + (["priority"] if desired.get("priority") is not None or desired.get("position") is not None else []))

    def result_view(self, view):
        """Option form (sections as dictionaries) with ``state``, or {} for no rule."""
        if not view:
            return {}
        out = nest(view)
        out["state"] = "present"
        return out

    def result_extra(self, outcome):
        after = outcome.after
        priority = after.get("priority") if after else None
        return {"priority": priority,
                "shifted_rules": self.shifted(outcome.name, outcome.action, priority,
                                              predicted=self.check_mode and outcome.changed)}

    def diff(self, outcome):
        if outcome.action in ("create", "delete"):
            return super(TransportRuleSpec, self).diff(outcome)
        header = "%s %s" % (self.noun, outcome.name)
        keys = outcome.changed_properties
        return {
            "before": nest(dict((k, outcome.before.get(k)) for k in keys), keep_none=True),
            "after": nest(dict((k, outcome.after.get(k)) for k in keys), keep_none=True),
            "before_header": header,
            "after_header": header,
        }

    # ---- priority shifts ---------------------------------------------------------------------------------------------
    def shifted(self, name, action, final_priority, predicted):
        """[{name, before, after}] of the other rules whose priority changed (predicted in check mode)."""
        before = self.snapshot or {}
        if predicted:
            order = [r for r in sorted(before, key=lambda k: (before[k] is None, before[k] or 0))
                     if r.lower() != name.lower()]
            if action in ("create", "update") and final_priority is not None:
                order.insert(min(final_priority, len(order)), name)
            after = dict((rule, index) for index, rule in enumerate(order))
        else:
            after = self.priorities()
        shifts = [{"name": rule, "before": before[rule], "after": after[rule]} for rule in before
                  if rule.lower() != name.lower() and rule in after and after[rule] != before[rule]]
        return sorted(shifts, key=lambda s: (s["after"] is None, s["after"]))


def rule_task(params):
    """(spec, name, state, desired) of one mail_flow_rule task, from its module options."""
    name, state = params["name"], params.get("state") or "present"
    spec = TransportRuleSpec(params.get("extra_parameters"), bool(params.get("apply_to_all_messages")))
    desired = spec.normalise(desired_state(params)) if state == "present" else {}
    return spec, name, state, desired


def ensure_rule(client, params, check_mode=False, diff_mode=False):
    """Converge one mail flow rule from module options; return the module result (as ``MailflowModule.ensure``)."""
    spec, name, state, desired = rule_task(params)
    outcome = engine.ensure(client, spec, name, state, desired, check_mode=check_mode)
    return outcome.result(check_mode, diff_mode, warnings=list(client.warnings) + spec.warnings)
