# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mail-flow simulation: which rules and which connector sample messages would take, computed, never sent.

``simulate(objects, messages, accepted_domains, directory, now=None, unknown_conditions="no_match")`` evaluates
messages against connectors and rules given in the ``mail_flow_info`` format (``{inbound_connectors: [{options,
facts}], outbound_connectors: [...], mail_flow_rules: [...]}``) and returns one answer per message and recipient.
Pure Python (stdlib and ``values``): it runs in a module and on the controller alike, and reads nothing.

How rules are evaluated (New-TransportRule reference, mail_flow_semantics.md 3.2), for each recipient:

* rules in priority order, 0 first (``facts.priority``; rules given without it, in list order);
* a disabled rule, or one outside its activation and expiry dates (active from ``activation_date`` included until
  ``expiry_date`` excluded, against the message's ``sent`` time), is skipped and says so;
* conditions are ANDed, the values of one condition ORed; a rule without conditions and exceptions applies to every
  message; any matching exception stops the rule even when every condition matched;
* a matched rule in ``Enforce`` mode applies its actions; in ``Audit`` / ``AuditAndNotify`` mode its actions are
  logged and change nothing (only the incident report, and with AuditAndNotify the notification, still occur);
* ``StopRuleProcessing`` of an applied rule ends the evaluation for that recipient; so does ``Quarantine``
  (documented) and a reject or a silent delete (the message is gone; assumption ``processing_after_reject``);
* later rules see what earlier ones changed (subject, headers, SCL, classification; assumption
  ``later_rules_see_changes``).

A condition the simulator cannot see (``conditions.Verdict`` unknown) follows ``unknown_conditions``: ``no_match``
(a condition or exception that does not match), ``match`` (one that matches) or ``fail`` (the simulation stops and
names the message, the rule and what is missing).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.m365.mailflow.plugins.module_utils import rule_parameters as table
from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.simulation import conditions as cond
from ansible_collections.m365.mailflow.plugins.module_utils.simulation import routing
from ansible_collections.m365.mailflow.plugins.module_utils.simulation.directory import Directory
from ansible_collections.m365.mailflow.plugins.module_utils.simulation.message import Message, normalise_all

UNKNOWN_CONDITIONS = ("no_match", "match", "fail")
MODES = ("Enforce", "Audit", "AuditAndNotify")
RULES, INBOUND, OUTBOUND = "mail_flow_rules", "inbound_connectors", "outbound_connectors"

# Every assumption an answer can follow: key -> the sentence it quotes. docs/simulation.md lists them.
ASSUMPTIONS = {
    "connector_overlap": "Several outbound connectors cover the recipient's domain. Exchange Online does not document "
                         "how it chooses; the simulation uses the on-premises rule: the most specific address space "
                         "wins (a domain beats *.domain, a longer suffix a shorter one, * comes last), then the lowest "
                         "connector name.",
    "test_mode_ignored": "A test-mode outbound connector would have carried the message. What the service does with "
                         "mail for a connector in test mode is not documented; the simulation assumes it carries none "
                         "(test_mode_connectors: ignore).",
    "test_mode_used": "The message goes through a test-mode outbound connector because test_mode_connectors is use; "
                      "what the service does with mail for a connector in test mode is not documented.",
    "rule_route_unusable": "A rule routes the message to an outbound connector that does not exist, is disabled or is "
                           "in test mode (the service refuses such a rule when it is written, so the objects were "
                           "given as data or changed since). The simulation assumes the route action is then "
                           "ignored and the recipient's domain decides.",
    "rule_route_internal": "A rule routes a recipient inside the organization to an outbound connector; the reference "
                           "does not say whether the route applies to internal recipients. The simulation follows the "
                           "rule.",
    "rule_route_last_wins": "Several applied rules route the recipient to an outbound connector; the simulation uses "
                            "the last one (a later action overwrites an earlier one), which the reference does not "
                            "state.",
    "centralized_transport": "An OnPremises connector routes all mail through the on-premises organization "
                             "(RouteAllMessagesViaOnPremises); the simulation lets any connector with a matching "
                             "domain take precedence over it.",
    "later_rules_see_changes": "A rule changed the message (subject, header, SCL or classification) and later rules "
                               "were evaluated against the changed message; the reference does not state it.",
    "processing_after_reject": "A rule rejected or deleted the message; the simulation evaluates no later rule for "
                               "that recipient (the reference states this for Quarantine only).",
    "audit_stop": "A rule in audit mode with stop_rule_processing matched; audit mode takes no action that affects "
                  "delivery, so the simulation lets later rules run.",
    "added_recipients": "A rule added recipients (add_to_recipients, copy_to, blind_copy_to, redirect_message_to); "
                        "the simulation routes them by their domain and does not evaluate the rules again for them.",
    "words": "Words and phrases match as whole words, without case (a word that begins or ends with a letter or "
             "digit does not match inside a longer word); the service's word breaking is not documented.",
    "patterns": "Patterns are .NET regular expressions translated for Python's re and matched anywhere in the text, "
                "without case.",
    "size_boundary": "A size condition matches at the size itself (greater than or equal): the service's own rule "
                     "description says 'greater than or equal to', the cmdlet reference says 'greater than'.",
    "size_estimated": "The message has no size; the simulation estimated it from subject, body, headers and "
                      "attachments.",
    "from_scope": "from_scope in_organization needs an authenticated connection (reference): the simulation counts "
                  "outbound mail and inbound mail over an OnPremises connector as authenticated, and mail from "
                  "partners as not.",
    "sent_to_scope": "sent_to_scope judges the recipient only (directory or accepted domain); the reference's "
                     "'authenticated connection' clause is not applied to recipients, since the common 'from outside "
                     "to inside' rule would never match mail from the internet otherwise.",
    "ad_comparison": "ad_attribute_comparison compares the sender with the recipient being evaluated (the reference "
                     "says 'all recipients'); the rule applies to each recipient whose attribute compares.",
    "between_member_of": "between_member_of matches a sender in a first group writing to a recipient in a second "
                         "group (the reference: 'messages that are sent between group members').",
    "dates": "A rule acts from its activation date (included) until its expiry date (excluded); both are UTC.",
    "inbound_sender_domain": "Inbound connectors are chosen by the domain of the envelope sender (P1 MAIL FROM), "
                             "inferred from the on-premises attribution order (MC1226222).",
    "inbound_overlap": "Several inbound connectors apply to the message; the simulation takes the one identified by "
                       "certificate before IP address, then the most specific sender domain, then the lowest name.",
    "observed_5_7_51": "The rejection code 5.7.51 TenantInboundAttribution is observed in the field, not documented "
                       "by Microsoft.",
    "tls_not_given": "The message does not say whether it came over TLS; the simulation assumes it did (tls: true).",
}


class SimulationError(ConfigurationError):
    """A simulation that cannot go on (``unknown_conditions: fail``, objects that cannot be read)."""


# --------------------------------------------------------------------------------------------------- rules

_SECTION_OF = {"conditions": table.CONDITIONS, "exceptions": table.EXCEPTIONS}
_ENTRIES = dict(((e["section"], e["option"], e["sub"]), e) for e in table.ALL_OPTIONS)
_GROUPED = dict(((section, option), [e for e in table.ALL_OPTIONS if e["section"] == section and e["option"] == option])
                for section, option in set((e["section"], e["option"]) for e in table.ALL_OPTIONS if e["sub"]))


def _option_entry(section, option):
    return _ENTRIES.get((section, option, None))


def _prepare_value(section, option, value):
    """Evaluation form of a condition's value (a group: a dict of prepared sub-values)."""
    grouped = _GROUPED.get((section, option))
    if grouped:
        if not isinstance(value, dict):
            raise ValueError("%s.%s: expected a mapping with %s" % (section, option, ", ".join(e["sub"] for e in grouped)))
        out = {}
        for entry in grouped:
            sub = value.get(entry["sub"])
            if sub is None and entry.get("default") is not None:
                sub = entry["default"]
            if sub is not None:
                out[entry["sub"]] = cond.prepare(entry, sub)
        return out
    entry = _option_entry(section, option)
    if entry is None:
        raise ValueError("%s.%s: not a %s of the rule vocabulary" % (section, option, section[:-1]))
    return cond.prepare(entry, value)


def _present(value):
    return value is not None and value != [] and value != "" and value != {} and value is not False


class Rule(object):
    """A mail flow rule, ready to evaluate."""

    def __init__(self, entry, index):
        options = entry.get("options") or {}
        facts = entry.get("facts") or {}
        self.name = options.get("name") or "rule %d" % index
        priority = facts.get("priority", options.get("priority"))
        self.priority = int(priority) if priority is not None and str(priority).lstrip("-").isdigit() else None
        self.index = index
        state = facts.get("state")
        self.enabled = options.get("enabled") if options.get("enabled") is not None else (state != "Disabled")
        self.mode = cond.canonical_enum(options.get("mode") or "Enforce", MODES)
        self.activation = n.parse_date(options.get("activation_date"), strict=False) \
            if options.get("activation_date") else None
        self.expiry = n.parse_date(options.get("expiry_date"), strict=False) if options.get("expiry_date") else None
        self.sender_address_location = cond.canonical_enum(options.get("sender_address_location") or "Header",
                                                           ("Header", "Envelope", "HeaderOrEnvelope"))
        self.recipient_address_type = cond.canonical_enum(options.get("recipient_address_type") or "Resolved",
                                                          ("Original", "Resolved"))
        self.conditions, self.exceptions, self.problems = [], [], []
        self.actions = {}
        sections = {"conditions": dict(options.get("conditions") or {}),
                    "exceptions": dict(options.get("exceptions") or {}),
                    "actions": dict(options.get("actions") or {})}
        opaque = {"conditions": [], "exceptions": []}
        for param, value in sorted((options.get("extra_parameters") or {}).items()):
            self._extra(str(param), value, sections, opaque)
        for section in ("conditions", "exceptions"):
            target = self.conditions if section == "conditions" else self.exceptions
            for option, value in sections[section].items():
                if not _present(value):
                    continue
                semantics = cond.SEMANTICS.get(option)
                if semantics is None:
                    self.problems.append("%s.%s is not a %s the simulator knows" % (section, option, section[:-1]))
                    target.append((option, None, None, value, "not part of the rule vocabulary"))
                    continue
                try:
                    prepared = _prepare_value(section, option, value)
                except (ValueError, TypeError) as exc:
                    target.append((option, None, None, value, "its value cannot be read: %s" % exc))
                    continue
                target.append((option, semantics[0], semantics[1], prepared, value))
            for param, why in opaque[section]:
                target.append((param, None, None, True, why))
        for option, value in sections["actions"].items():
            if _present(value):
                self.actions[option] = value
        # The reference: a rule without conditions or exceptions applies to every message. mail_flow_info marks such a
        # rule apply_to_all_messages (the module refuses one without it); a rule without that mark and without any
        # condition the options show has conditions outside the rule vocabulary, which cannot be evaluated.
        self.all_messages = not self.conditions and not self.exceptions
        if self.all_messages and not options.get("apply_to_all_messages"):
            self.conditions.append(("conditions", None, None, True, "the rule has conditions outside the rule "
                                                                    "vocabulary (its options show none and it is not "
                                                                    "marked apply_to_all_messages)"))
            self.all_messages = False

    def _extra(self, param, value, sections, opaque):
        entry = table.BY_PARAMETER.get(param.lower())
        if entry is not None and entry["section"] in sections:
            section = sections[entry["section"]]
            if entry["sub"]:
                group = dict(section.get(entry["option"]) or {})
                group[entry["sub"]] = value
                section[entry["option"]] = group
            else:
                section[entry["option"]] = value
            return
        why = cond.OPAQUE.get(param.lower())
        if why is not None and _present(value):
            section = "exceptions" if param.lower().startswith("exceptif") else "conditions"
            opaque[section].append((param, "the simulator cannot evaluate %s (%s)" % (param, why)))

    def active(self, when):
        """None when the rule acts at ``when``, else why not."""
        if self.activation is not None and when < self.activation:
            return "not active yet: its activation date is %s" % n.date_display(self.activation)
        if self.expiry is not None and when >= self.expiry:
            return "expired: its expiry date is %s" % n.date_display(self.expiry)
        return None


def rules_of(entries):
    rules = [Rule(e, i) for i, e in enumerate(entries or [])]
    rules.sort(key=lambda r: (r.priority is None, r.priority if r.priority is not None else 0, r.index))
    return rules


# --------------------------------------------------------------------------------------------------- evaluation

class State(object):
    """What the rules have done to one recipient's copy of the message so far."""

    def __init__(self, msg):
        self.subject = msg.subject
        self.body = msg.body
        self.headers = copy.deepcopy(msg.headers)
        self.scl = msg.scl
        self.classifications = list(msg.classifications)
        self.changed = False
        self.route = []  # [(rule, connector)]
        self.require_tls = None
        self.rejected = None  # NDR
        self.deleted = None
        self.quarantined = None
        self.redirect = []  # [(rule, address)]
        self.added = []  # [(rule, how, address)]
        self.moderated = None
        self.notes = []


class Context(object):
    __slots__ = ("msg", "state", "directory", "sender", "envelope", "recipient", "recipients", "to", "cc", "rule",
                 "authenticated")


class Evaluation(object):
    """One recipient's evaluation of the rules."""

    def __init__(self, sim, msg, parties, recipient, authenticated):
        self.sim = sim
        self.msg = msg
        self.ctx = Context()
        self.ctx.msg = msg
        self.ctx.state = State(msg)
        self.ctx.directory = sim.directory
        self.ctx.sender, self.ctx.envelope = parties["sender"], parties["envelope"]
        self.ctx.recipient = recipient
        self.ctx.recipients = parties["all"]
        self.ctx.to, self.ctx.cc = parties["to"], parties["cc"]
        self.ctx.authenticated = authenticated
        self.assumptions = set()
        self.unknown = []

    def _check(self, rule, section, item):
        """(result True/False, detail) of one condition or exception; unknowns follow unknown_conditions."""
        option, _scope, evaluate, prepared, raw = item
        if evaluate is None:
            verdict = cond.unknown(raw if isinstance(raw, str) else "cannot be evaluated")
        else:
            self.ctx.rule = rule
            verdict = evaluate(self.ctx, prepared)
        self.assumptions.update(verdict.assumptions)
        if verdict.result is not None:
            return verdict.result, verdict.detail
        policy = self.sim.unknown_conditions
        if policy == "fail":
            raise SimulationError(
                "message '%s', recipient %s: rule '%s', %s.%s: %s. Give what is missing in the message, or set "
                "unknown_conditions to no_match or match to decide how such a condition counts"
                % (self.msg.name, self.ctx.recipient.address, rule.name, section, option, verdict.detail))
        treated = policy == "match"
        self.unknown.append({"rule": rule.name, "section": section, "condition": option, "why": verdict.detail,
                             "treated_as": "match" if treated else "no_match"})
        return treated, "unknown (%s), treated as %s" % (verdict.detail, "matched" if treated else "not matched")

    def run(self, rules, when):
        out, applied, stopped_by = [], [], None
        for rule in rules:
            if stopped_by is not None:
                out.append({"name": rule.name, "priority": rule.priority, "mode": rule.mode, "status": "not_evaluated",
                            "reason": "evaluation ended at rule '%s'" % stopped_by})
                continue
            if not rule.enabled:
                out.append({"name": rule.name, "priority": rule.priority, "mode": rule.mode, "status": "disabled",
                            "reason": "the rule is disabled"})
                continue
            if rule.activation is not None or rule.expiry is not None:
                self.assumptions.add("dates")
                inactive = rule.active(when)
                if inactive:
                    out.append({"name": rule.name, "priority": rule.priority, "mode": rule.mode, "status": "inactive",
                                "reason": inactive})
                    continue
            record = {"name": rule.name, "priority": rule.priority, "mode": rule.mode}
            if self.ctx.state.changed:
                self.assumptions.add("later_rules_see_changes")
            matched, details = True, []
            for item in rule.conditions:
                result, detail = self._check(rule, "conditions", item)
                details.append({"condition": item[0], "matched": result, "detail": detail})
                if not result:
                    matched = False
                    break
            if not matched:
                # The condition that did not match says why; the ones before it matched (kept when there were any).
                record["status"] = "not_matched"
                record["reason"] = "%s: %s" % (details[-1]["condition"], details[-1]["detail"])
                if len(details) > 1:
                    record["conditions"] = details
                out.append(record)
                continue
            exception = None
            for item in rule.exceptions:
                result, detail = self._check(rule, "exceptions", item)
                if result:
                    exception = {"exception": item[0], "detail": detail}
                    break
            if exception is not None:
                reason = "exception %s: %s" % (exception["exception"], exception["detail"])
                record.update(status="excepted", reason=reason, conditions=details, exception=exception)
                out.append(record)
                continue
            record.update(status="matched", conditions=details,
                          reason="applies to every message (no conditions)" if rule.all_messages
                          else "every condition matched and no exception")
            actions, stop = self._actions(rule)
            record["actions"] = actions
            record["applied"] = rule.mode == "Enforce"
            if rule.mode == "Enforce":
                applied.append(rule.name)
            if stop:
                record["stopped_processing"] = True
                stopped_by = rule.name
            out.append(record)
        return out, applied, stopped_by

    def _actions(self, rule):
        """Apply (Enforce) or log (Audit modes) a matched rule's actions; (action records, stop evaluation)."""
        records, stop = [], False
        enforce = rule.mode == "Enforce"
        state = self.ctx.state
        for option, value in rule.actions.items():
            effect = _EFFECTS.get(option, "recorded; no effect on routing or delivery that the simulation models")
            if not enforce:
                occurs = option == "generate_incident_report" or (
                    option == "generate_notification" and rule.mode == "AuditAndNotify")
                effect = ("occurs in %s mode" % rule.mode) if occurs else "audit mode: logged, no effect"
                if option == "stop_rule_processing" and _present(value):
                    self.assumptions.add("audit_stop")
                records.append({"action": option, "value": value, "effect": effect})
                continue
            if option == "stop_rule_processing":
                stop = stop or bool(value)
            elif option == "route_message_outbound_connector":
                state.route.append((rule.name, value))
            elif option == "route_message_outbound_require_tls":
                state.require_tls = rule.name
            elif option == "reject_message":
                value = value if isinstance(value, dict) else {}
                state.rejected = dict(routing.rule_ndr(value.get("reason"), value.get("status_code")), rule=rule.name)
                stop = True
                self.assumptions.add("processing_after_reject")
            elif option == "delete_message":
                state.deleted = rule.name
                stop = True
                self.assumptions.add("processing_after_reject")
            elif option == "quarantine":
                state.quarantined = rule.name
                stop = True
            elif option == "redirect_message_to":
                state.redirect.extend((rule.name, a) for a in _addresses(value))
            elif option in ("add_to_recipients", "copy_to", "blind_copy_to"):
                state.added.extend((rule.name, option, a) for a in _addresses(value))
            elif option == "add_manager_as_recipient_type":
                effect = self._add_manager(rule, value)
            elif option in ("moderate_message_by_user", "moderate_message_by_manager"):
                state.moderated = {"rule": rule.name, "by": value if option == "moderate_message_by_user"
                                   else "the sender's manager"}
            elif option == "prepend_subject":
                state.subject = str(value) + state.subject
                state.changed = True
            elif option == "set_header":
                header = value if isinstance(value, dict) else {}
                if header.get("name"):
                    state.headers[str(header["name"]).lower()] = [str(header.get("value") or "")]
                    state.changed = True
            elif option == "remove_header":
                state.headers.pop(str(value).lower(), None)
                state.changed = True
            elif option == "set_scl":
                state.scl = int(value)
                state.changed = True
            elif option == "apply_classification":
                state.classifications.append(str(value))
                state.changed = True
            elif option == "apply_html_disclaimer":
                disclaimer = value if isinstance(value, dict) else {}
                text = str(disclaimer.get("text") or "")
                where = cond.canonical_enum(disclaimer.get("location") or "Append", ("Append", "Prepend"))
                state.body = text + state.body if where == "Prepend" else state.body + text
                state.changed = True
            records.append({"action": option, "value": value, "effect": effect})
        return records, stop

    def _add_manager(self, rule, how):
        known, manager = self.ctx.sender.attribute("Manager")
        how = cond.canonical_enum(how, ("To", "Cc", "Bcc", "Redirect"))
        if not known or not manager:
            return "the sender's manager is not known: nobody added"
        record = self.sim.directory.resolve(manager)
        address = (record or {}).get("PrimarySmtpAddress")
        if not address:
            return "the sender's manager %s has no address in the directory: nobody added" % manager
        if how == "Redirect":
            self.ctx.state.redirect.append((rule.name, address))
            return "redirected to the sender's manager %s" % address
        self.ctx.state.added.append((rule.name, "add_manager_as_recipient_type", address))
        return "the sender's manager %s added (%s)" % (address, how)


def _addresses(value):
    return [str(v).strip() for v in (value if isinstance(value, (list, tuple)) else [value]) if str(v).strip()]


_EFFECTS = {
    "route_message_outbound_connector": "routes the recipient's copy through the connector",
    "route_message_outbound_require_tls": "delivery outside the organization requires TLS",
    "reject_message": "rejected with a non-delivery report",
    "delete_message": "deleted silently, without a non-delivery report",
    "quarantine": "delivered to the hosted quarantine; no later rule is evaluated",
    "redirect_message_to": "redirected to these recipients instead",
    "add_to_recipients": "recipients added (To)",
    "copy_to": "recipients added (Cc)",
    "blind_copy_to": "recipients added (Bcc)",
    "moderate_message_by_user": "held for approval by these moderators, delivered once approved",
    "moderate_message_by_manager": "held for approval by the sender's manager, delivered once approved",
    "prepend_subject": "subject prefixed",
    "set_header": "header set",
    "remove_header": "header removed",
    "set_scl": "spam confidence level set (an input to filtering in Exchange Online, not a verdict)",
    "apply_classification": "classification applied",
    "apply_html_disclaimer": "disclaimer added to the body",
    "stop_rule_processing": "no later rule is evaluated",
}


# --------------------------------------------------------------------------------------------------- the run

class Simulation(object):
    def __init__(self, objects, accepted_domains, directory, unknown_conditions="no_match", test_mode_connectors="ignore"):
        if unknown_conditions not in UNKNOWN_CONDITIONS:
            raise SimulationError("unknown_conditions: '%s' is not one of %s" % (unknown_conditions,
                                                                                 ", ".join(UNKNOWN_CONDITIONS)))
        if test_mode_connectors not in routing.TEST_MODE_POLICIES:
            raise SimulationError("test_mode_connectors: '%s' is not one of %s"
                                  % (test_mode_connectors, ", ".join(routing.TEST_MODE_POLICIES)))
        objects = objects or {}
        for kind in (INBOUND, OUTBOUND, RULES):
            entries = objects.get(kind) or []
            if not isinstance(entries, list) or any(not isinstance(e, dict) or not isinstance(e.get("options"), dict)
                                                    for e in entries):
                raise SimulationError("objects.%s: give a list of {options, facts} entries as mail_flow_info returns "
                                      "them" % kind)
        self.unknown_conditions = unknown_conditions
        self.test_mode = test_mode_connectors
        self.directory = directory if isinstance(directory, Directory) else Directory(directory, accepted_domains)
        if isinstance(directory, Directory) and accepted_domains is not None:
            self.directory.domains.update(Directory(None, accepted_domains).domains)
        self.rules = rules_of(objects.get(RULES))
        self.outbound = routing.outbound_connectors(objects.get(OUTBOUND))
        self.inbound = routing.inbound_connectors(objects.get(INBOUND))

    def message(self, msg, now):
        when = msg.sent or now
        directory = self.directory
        answer = {"name": msg.name, "direction": msg.direction, "sender": msg.sender, "sent": n.date_display(when),
                  "subject": msg.subject}
        assumptions, unknown = set(), []
        attribution, authenticated = None, msg.direction == "outbound"
        if msg.direction == "inbound":
            domains = [a.rpartition("@")[2].lower() for a in msg.recipients]
            attribution = routing.attribute_inbound(self.inbound, msg, domains)
            assumptions.update(attribution.pop("assumptions"))
            answer["inbound"] = attribution
            authenticated = attribution.get("connector_type") == "OnPremises" and not attribution["rejected"]
            if authenticated:
                assumptions.add("from_scope")
        given = msg.recipient_attributes
        common = given.get("*") or {}

        def party(address, attributes=None):
            return cond.Party(address, directory, attributes)

        def recipient_party(address):
            attrs = dict(common)
            attrs.update(given.get(address.lower()) or {})
            return party(address, attrs)

        sender = party(msg.sender, msg.sender_attributes)
        envelope = sender if msg.envelope_sender.lower() == msg.sender.lower() else party(msg.envelope_sender,
                                                                                          msg.sender_attributes)
        everyone = dict((a.lower(), recipient_party(a)) for a in msg.recipients)
        parties = {"sender": sender, "envelope": envelope, "all": list(everyone.values()),
                   "to": [everyone[a.lower()] for a in msg.to], "cc": [everyone[a.lower()] for a in msg.cc]}
        recipients = []
        for address in msg.recipients:
            recipient = everyone[address.lower()]
            if attribution is not None and attribution["rejected"]:
                recipients.append(self._rejected_early(recipient, attribution["ndr"], "rejected when the message "
                                                       "arrived: %s" % attribution["reason"]))
                continue
            if msg.direction == "inbound" and directory.domain_type(address) is None and not authenticated:
                recipients.append(self._rejected_early(recipient, routing.relay_ndr(recipient.domain),
                                                       "%s is not an accepted domain of the tenant" % recipient.domain))
                continue
            evaluation = Evaluation(self, msg, parties, recipient, authenticated)
            rules, applied, stopped_by = evaluation.run(self.rules, when)
            outcome = self._outcome(evaluation, recipient)
            outcome.update(rules=rules, applied_rules=applied, stopped_by=stopped_by)
            assumptions.update(evaluation.assumptions)
            assumptions.update(outcome.pop("_assumptions"))
            unknown.extend(dict(u, recipient=address) for u in evaluation.unknown)
            recipients.append(outcome)
        answer["recipients"] = recipients
        answer["rejected"] = any(r["rejected"] for r in recipients)
        answer["unknown"] = unknown
        answer["assumptions"] = sorted(assumptions)
        if msg.expect is not None:
            answer["expect"] = msg.expect
            answer["expectation"] = check_expectation(answer, msg.expect)
        return answer

    @staticmethod
    def _rejected_early(recipient, ndr, reason):
        return {"recipient": recipient.address, "rules": [], "applied_rules": [], "stopped_by": None,
                "rejected": True, "ndr": ndr, "deleted": False, "quarantined": False, "route": None,
                "reason": reason, "redirected_to": [], "added_recipients": [], "moderated": None}

    def _route_for(self, address, rule_route=None, require_tls=None):
        domain = n.domain_key(address.rpartition("@")[2])
        kind = self.directory.domain_type(address)
        internal = kind == "Authoritative" or (kind == "InternalRelay" and self.directory.find(address) is not None)
        return routing.choose_outbound(self.outbound, domain, internal, rule_route=rule_route, require_tls=require_tls,
                                       test_mode=self.test_mode, accepted=kind is not None)

    def _outcome(self, evaluation, recipient):
        state = evaluation.ctx.state
        assumptions = set()
        out = {"recipient": recipient.address, "rejected": False, "ndr": None, "deleted": False, "quarantined": False,
               "route": None, "redirected_to": [], "added_recipients": [], "moderated": state.moderated,
               "message_after_rules": {"subject": state.subject, "scl": state.scl,
                                       "headers": dict((k, v) for k, v in state.headers.items()),
                                       "classifications": state.classifications}}
        if state.rejected is not None:
            out.update(rejected=True, ndr=state.rejected, reason="rejected by rule '%s'" % state.rejected["rule"])
            return dict(out, _assumptions=assumptions)
        if state.deleted is not None:
            out.update(deleted=True, reason="deleted silently by rule '%s' (no NDR)" % state.deleted)
            return dict(out, _assumptions=assumptions)
        if state.quarantined is not None:
            out.update(quarantined=True, reason="quarantined by rule '%s'" % state.quarantined)
            return dict(out, _assumptions=assumptions)
        rule_route = state.route[-1] if state.route else None
        if len(state.route) > 1 and len(set(c.lower() for _r, c in state.route)) > 1:
            assumptions.add("rule_route_last_wins")
        if state.redirect:
            assumptions.add("added_recipients")
            for rule, address in state.redirect:
                route, notes, skipped = self._route_for(address, rule_route, state.require_tls)
                assumptions.update(notes)
                out["redirected_to"].append({"recipient": address, "rule": rule, "route": route, "skipped": skipped})
            out["reason"] = "redirected by rule '%s'" % state.redirect[0][0]
        else:
            route, notes, skipped = self._route_for(recipient.address, rule_route, state.require_tls)
            assumptions.update(notes)
            out["route"] = route
            out["skipped_connectors"] = skipped
            out["reason"] = route["chosen_by"]
        for rule, how, address in state.added:
            assumptions.add("added_recipients")
            route, notes, _skipped = self._route_for(address)
            assumptions.update(notes)
            out["added_recipients"].append({"recipient": address, "rule": rule, "how": how, "route": route})
        return dict(out, _assumptions=assumptions)


def _simulated(answer, recipient):
    """What an expectation compares, for one recipient: (connector or 'none', [rules], rejected)."""
    if answer["direction"] == "inbound":
        connector = (answer.get("inbound") or {}).get("connector")
    else:
        route = recipient.get("route") or {}
        connector = route.get("connector")
    return connector or "none", recipient["applied_rules"], recipient["rejected"]


def check_expectation(answer, expect):
    """{met, mismatches: [{recipient, field, expected, simulated}]}: every recipient must meet every given field."""
    mismatches = []
    for recipient in answer["recipients"]:
        connector, rules, rejected = _simulated(answer, recipient)
        if "connector" in expect and str(expect["connector"]).strip().lower() != str(connector).lower():
            mismatches.append({"recipient": recipient["recipient"], "field": "connector",
                               "expected": expect["connector"], "simulated": connector})
        if "rules" in expect and [str(r).strip().lower() for r in expect["rules"]] != [r.lower() for r in rules]:
            mismatches.append({"recipient": recipient["recipient"], "field": "rules", "expected": expect["rules"],
                               "simulated": rules})
        if "rejected" in expect and bool(expect["rejected"]) != bool(rejected):
            mismatches.append({"recipient": recipient["recipient"], "field": "rejected",
                               "expected": expect["rejected"], "simulated": rejected})
    return {"met": not mismatches, "mismatches": mismatches}


def failed_expectations(results):
    """One line per mismatch of every message: ``message 'x' to a@b: connector expected 'A', simulated 'none'``."""
    lines = []
    for answer in results["messages"]:
        for miss in (answer.get("expectation") or {}).get("mismatches") or []:
            lines.append("message '%s' to %s: %s expected %s, simulated %s" % (
                answer["name"], miss["recipient"], miss["field"], _shown(miss["expected"]), _shown(miss["simulated"])))
    return lines


def _shown(value):
    if isinstance(value, list):
        return "[%s]" % ", ".join("'%s'" % v for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return "'%s'" % value


def simulate(objects, messages, accepted_domains, directory, now=None, unknown_conditions="no_match",
             test_mode_connectors="ignore"):
    """Evaluate ``messages`` against ``objects``; see the module docstring.

    objects           ``{inbound_connectors, outbound_connectors, mail_flow_rules}``, each a list of ``{options,
                      facts}`` entries (mail_flow_info's format; ``facts.priority`` orders the rules)
    messages          message dicts in the ``message.MESSAGE_SPEC`` format (checked here) or ``message.Message``
    accepted_domains  the tenant's accepted domains: names, Get-AcceptedDomain records or ``{domain: type}``
    directory         Get-Recipient records (None: the directory is not known; attributes come from the messages)
    now               the time of messages without ``sent`` (default: now, UTC)

    Returns ``{"messages": [answer per message], "assumptions": [{key, text}], "summary": {...}}``; raises
    ``ConfigurationError`` for bad input and ``SimulationError`` when ``unknown_conditions`` is ``fail`` and a
    condition cannot be evaluated.
    """
    sim = Simulation(objects, accepted_domains, directory, unknown_conditions, test_mode_connectors)
    if messages and all(isinstance(m, Message) for m in messages):
        checked = list(messages)
    else:
        checked = normalise_all(messages)
    now = n.parse_date(now, strict=False) if now is not None else n.utcnow()
    answers = [sim.message(msg, now) for msg in checked]
    used = sorted(set(key for answer in answers for key in answer["assumptions"]))
    expectations = [a["expectation"]["met"] for a in answers if "expectation" in a]
    summary = {
        "messages": len(answers),
        "recipients": sum(len(a["recipients"]) for a in answers),
        "rejected": sum(1 for a in answers for r in a["recipients"] if r["rejected"]),
        "through_connector": sum(1 for a in answers for r in a["recipients"]
                                 if (r.get("route") or {}).get("delivery") == "connector"),
        "unknown_conditions": sum(len(a["unknown"]) for a in answers),
        "expectations": {"checked": len(expectations), "met": sum(1 for m in expectations if m),
                         "failed": sum(1 for m in expectations if not m)},
    }
    return {"messages": answers, "assumptions": [{"key": k, "text": ASSUMPTIONS[k]} for k in used],
            "summary": summary}
