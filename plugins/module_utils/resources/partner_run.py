# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partner floor's run: apply a ``partner_plan.Plan``, validate, and say what happened, per partner.

``apply`` sends the plan's writes in its order through the engine's own ``send`` (bounded waits for this run's own
writes hidden by replication lag, ``spec.lagging``; a write whose outcome a fault hid is settled by reading the object
back before it is ever sent again) and notes each in the run's memo (``engine.remember``). A write the service
refuses fails its partner only: the partner's later writes are skipped, the other partners go on, the partner is
named with the reason, and the task fails at the end; a re-run plans against the tenant as it then is and converges.

Claims. A sender or recipient domain belongs to one connector. The plan checks that against its read, but two runs
started together can both find a domain free; so after writing connectors that claim domains the run reads the
connectors of that kind once more, and when another connector now claims the same domain, the older claim stands
(the time the connector took the domain: when it was created, or for a connector the run's read already held, when it
was changed; then its ``Guid``: an order every run agrees on), and a run whose claim is the later one takes its write
back (removes the connector it created, or restores the domains it replaced) and fails that partner, naming the other
connector. On a tenant whose changes replicate with a delay, the read after the write may not show a claim made
moments before by another run; the check then sees it the next run.

Validation runs for the partners whose outbound connector the run created or changed (``validation: changed``), for
every partner with an outbound connector (``always``) or never, with ``validation.Validation`` on the connector as
the plan knows it (no read per partner).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.m365.mailflow.plugins.module_utils import engine
from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    ConfigurationError, DuplicateError, MailflowError, NotFoundError)
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format as pf
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_plan as pp
from ansible_collections.m365.mailflow.plugins.module_utils.resources import tenant_view

INBOUND, OUTBOUND, RULE = pp.INBOUND, pp.OUTBOUND, pp.RULE
WORDS = {
    "real": {"create": "created", "update": "changed", "delete": "removed", "none": "unchanged"},
    "check": {"create": "would create", "update": "would change", "delete": "would remove", "none": "no change"},
}
_CLAIMS = {INBOUND: ("sender_domains", "SenderDomains"), OUTBOUND: ("recipient_domains", "RecipientDomains")}
# Seconds between writing a new claim and reading the claims back: more than the 1 s resolution of WhenCreated and
# WhenChanged (the service reads back whole seconds, live_evidence.md).
CLAIM_SETTLE = 1.2


class Runner(object):

    def __init__(self, client, plan, check_mode=False, validation="changed", tenant_label=None, report_orphans=False):
        self.client = client
        self.report_orphans = report_orphans
        self.plan = plan
        self.check_mode = check_mode
        self.validation_mode = validation
        self.tenant_label = tenant_label
        self.validations = {}  # partner name (lower) -> validation result
        self.changed = False
        self.warnings = []

    # ---- writes ------------------------------------------------------------------------------------------------
    def apply(self):
        """Send every write of the plan, in its order; nothing in check mode. The claims of the connectors written
        are settled once they are all written, before any rule routes to them."""
        if self.check_mode:
            return
        claimed = set()
        connectors_done = False
        for obj in self.plan.writes():
            after_connectors = (obj.kind == RULE) != (obj.action == "delete")
            if after_connectors and not connectors_done:
                connectors_done = self._settle(claimed)
            if obj.partner is not None and obj.partner.failed:
                if obj.status == "planned":
                    obj.status = "skipped"
                continue
            try:
                self._send(obj)
                obj.status = "applied"
                if obj.action != "none":
                    self.changed = True
                if obj.kind in _CLAIMS and obj.action in ("create", "update") and _claims(obj):
                    claimed.add(obj.kind)
            except MailflowError as exc:
                obj.status = "failed"
                obj.error = exc.msg
                if exc.changed:
                    self.changed = True
                self._fail(obj, exc.msg)
        if not connectors_done:
            self._settle(claimed)

    def _settle(self, claimed):
        if claimed:
            self._settle_claims(claimed)
            claimed.clear()
        return True

    def _fail(self, obj, message):
        if obj.partner is None:
            self.plan.errors.append("%s '%s': %s" % (obj.noun, obj.name, message))
            return
        obj.partner.failed = True
        obj.partner.error = "%s: %s '%s': %s" % (obj.partner.source, obj.noun, obj.name, message)

    def _send(self, obj):
        spec, name, client = obj.spec, obj.name, self.client
        if obj.action == "delete":
            return self._delete(obj)
        commands = list(obj.commands)
        if obj.action == "create":
            first = commands.pop(0)
            try:
                engine.send(client, spec, name, first["cmdlet"], first["parameters"],
                            verify=lambda: spec.read(client, name) is not None)
            except DuplicateError as exc:
                if exc.earlier_attempt is None:
                    raise ConfigurationError(
                        "%s '%s' already exists: it was created after this run read the tenant (another run, or by "
                        "hand). Nothing else was written for this object; re-run to plan against the tenant as it is"
                        % (obj.noun, name))
                self.warnings.append("%s: the first attempt failed (%s) but had created %s '%s'"
                                     % (first["cmdlet"], exc.earlier_attempt, obj.noun, name))
            engine.remember(client, spec, name, "create")
            engine.send_writes(client, spec, name, commands, obj.changes)
            return None
        done = client.writes_done
        try:
            engine.send_writes(client, spec, name, commands, obj.changes)
        except MailflowError as exc:
            if client.writes_done != done:
                exc.changed = True
            raise
        engine.remember(client, spec, name, "update", current=obj.current, changes=obj.changes)
        return None

    def _delete(self, obj):
        spec, name, client = obj.spec, obj.name, self.client
        command = obj.commands[0]
        try:
            engine.send(client, spec, name, command["cmdlet"], command["parameters"],
                        verify=lambda: spec.read(client, name) is None)
        except NotFoundError as exc:
            if exc.earlier_attempt is None:
                if spec.lagging(client, exc, command["cmdlet"], command["parameters"], name) is not None:
                    raise
                obj.action, obj.commands = "none", []  # removed by someone else between the read and the removal
                return
        engine.remember(client, spec, name, "delete", current=obj.current)

    # ---- claims ------------------------------------------------------------------------------------------------
    def _settle_claims(self, kinds):
        """After this run's connectors claimed domains: one read per kind, and the claims of two connectors on one
        domain settled (see the module docstring). The read waits a little longer than the resolution of the
        service's timestamps (whole seconds), so that a claim written in the same second as ours is seen by both runs,
        which then agree on it by Guid."""
        self.client._sleep(CLAIM_SETTLE)
        for kind in sorted(kinds):
            try:
                found = tenant_view.read_objects(self.client, (_VIEW[kind],))[_VIEW[kind]]
            except MailflowError as exc:
                self.warnings.append("could not read the %ss back to check their domains: %s" % (pf.NOUNS[kind], exc.msg))
                continue
            option, param = _CLAIMS[kind]
            seen = set(str(o.get("Guid") or o.get("Name")).lower() for o in self.plan.snapshot.objects[kind])
            holders = {}
            for obj in found:
                for value in obj.get(param) or []:
                    domain = n.parse_address_space(str(value))[0]
                    if domain != "*":
                        holders.setdefault(domain, []).append(obj)
            for item in self.plan.writes():
                if item.kind != kind or item.status != "applied" or item.action not in ("create", "update"):
                    continue
                for domain in _new_domains(item, option):
                    rivals = [o for o in holders.get(domain, []) if pp._name_key(o.get("Name")) != pp._name_key(item.name)]
                    ours = [o for o in holders.get(domain, []) if pp._name_key(o.get("Name")) == pp._name_key(item.name)]
                    if not rivals or not ours:
                        continue
                    first = min(rivals + ours, key=lambda o: _claim_order(o, seen))
                    if first in ours:
                        self.warnings.append("%s '%s': %s is also claimed by %s '%s', written at the same time; this "
                                             "run's claim is older and stands, the other run takes its claim back"
                                             % (item.noun, item.name, domain, item.noun, rivals[0].get("Name")))
                        continue
                    self._take_back(item, domain, first)
                    break

    def _take_back(self, item, domain, other):
        spec, client = item.spec, self.client
        what = "removed again" if item.action == "create" else "its previous domains restored"
        try:
            if item.action == "create":
                current = spec.read(client, item.name)
                if current is not None:
                    engine.send(client, spec, item.name, spec.remove_cmdlet, spec.remove_parameters(current),
                                verify=lambda: spec.read(client, item.name) is None)
                    engine.remember(client, spec, item.name, "delete", current=current)
            else:
                option, _param = _CLAIMS[item.kind]
                previous = {option: item.before.get(option) or []}
                current = spec.read(client, item.name)
                if current is not None:
                    command = spec.update_commands(current, previous)[0]
                    engine.send(client, spec, item.name, command["cmdlet"], command["parameters"],
                                verify=lambda: not spec.changes(previous, spec.read(client, item.name) or {}))
        except MailflowError as exc:
            what = "and taking it back failed (%s): remove it or its domain by hand" % exc.msg
        item.status = "failed"
        owner = pf.managed_by(pf.comment_of(other))
        message = ("%s is claimed at the same time by the %s '%s'%s, whose claim is older; this run's %s was %s. "
                   "Keep each domain in one partner definition, then re-run"
                   % (domain, item.noun, other.get("Name"), " (partner '%s')" % owner if owner else "", item.noun,
                      what))
        item.error = message
        self._fail(item, message)

    # ---- validation --------------------------------------------------------------------------------------------
    def validate(self, make_validation):
        """Validate the outbound connector of each partner that asks for it; ``make_validation(params, connector)``
        returns a ``connector_validation.Validation``."""
        if self.validation_mode == "never":
            return
        for partner in self.plan.partners:
            outbound = partner.obj(OUTBOUND)
            settings = partner.validation
            if outbound is None or partner.failed or partner.errors or not settings.get("enabled", True):
                continue
            if outbound.action == "delete":
                continue
            if self.validation_mode == "changed" and outbound.action not in ("create", "update"):
                continue
            if self.check_mode and outbound.action == "create":
                self.validations[pp._name_key(partner.name)] = {"pending": True}
                continue
            connector = self._connector(outbound)
            params = {
                "name": outbound.name, "direction": "outbound", "recipients": settings.get("recipients"),
                "probe": settings.get("probe", True), "service_validation": settings.get("service_validation", True),
                "record": True, "fail_on_invalid": False, "smtp_port": settings.get("smtp_port", 25),
                "dns_servers": settings.get("dns_servers"), "probe_ca_path": settings.get("probe_ca_path"),
                "probe_timeout": settings.get("probe_timeout", 10.0),
            }
            try:
                result = make_validation(params, connector).run()
            except MailflowError as exc:
                result = {"validated": False, "failures": [], "failure_classes": ["error"], "summary": exc.msg,
                          "error": exc.msg}
            if result.get("recorded"):
                self.changed = True
            self.validations[pp._name_key(partner.name)] = result

    def _connector(self, outbound):
        """The connector as the service will have it after the run: what was read, with the planned changes applied in
        the service's own terms (so validation needs no read of its own). None when it was created by this run: then
        the validation reads it (and waits for replication)."""
        if outbound.current is None:
            return None
        connector = dict(outbound.current)
        for option, value in (outbound.changes or {}).items():
            field = outbound.spec.by_option.get(option)
            if field is not None:
                connector.update(field.to_params(value))
        return connector

    # ---- the result --------------------------------------------------------------------------------------------
    def partner_result(self, partner):
        validation = self.validations.get(pp._name_key(partner.name))
        outcome = {
            "name": partner.name,
            "source": partner.source,
            "action": partner.action(),
            "objects": [o.result() for o in partner.objects],
            "failed": bool(partner.failed or partner.errors or _invalid(partner, validation)),
        }
        if partner.error:
            outcome["error"] = partner.error
        if partner.errors:
            outcome["problems"] = list(partner.errors)
        if getattr(partner, "expectations", None):
            outcome["expectations"] = [dict((k, v) for k, v in e.items() if k != "line") for e in partner.expectations]
        if getattr(partner, "findings", None) or getattr(partner, "accepted", None):
            outcome["findings"] = list(partner.findings)
            outcome["accepted_findings"] = list(partner.accepted)
        if validation is not None:
            outcome["validation"] = _validation_view(validation)
        self._summaries.extend(self.summary(partner, validation))
        return outcome

    def summary(self, partner, validation):
        """The lines an administrator reads: each object and what the run did to it (properties with their real
        before and after values), then the validation verdict with its fix."""
        words = WORDS["check" if self.check_mode else "real"]
        head = "%s (%s) in tenant %s%s" % (partner.name, partner.source, self.tenant_label or "",
                                           " [check mode: nothing written]" if self.check_mode else "")
        lines = [head]
        for obj in partner.objects:
            lines.append(object_line(obj, words))
        if self.plan.state == "absent":
            return lines
        lines.extend(self._validation_lines(partner, validation))
        lines.extend(item["line"] for item in getattr(partner, "expectations", None) or [])
        for finding in getattr(partner, "findings", None) or []:
            lines.append("- finding [%s, %s]: %s. Fix: %s" % (finding["id"], finding["severity"],
                                                              finding["reason"].rstrip("."), finding["fix"]))
        for finding in getattr(partner, "accepted", None) or []:
            lines.append("- accepted finding [%s] until %s: %s" % (finding["id"], finding["accepted"].get("expires"),
                                                                   finding["accepted"].get("reason")))
        if partner.error:
            lines.append("- FAILED: %s" % partner.error)
        return lines

    def _validation_lines(self, partner, v):
        settings = partner.validation
        outbound = partner.obj(OUTBOUND)
        if partner.data.get("outbound") is None:
            return ["- validation: not applicable (no outbound connector; for inbound mail, ask the partner to send a "
                    "test message)"]
        if not settings.get("enabled", True) or self.validation_mode == "never":
            return ["- validation: disabled (%s)" % ("validation.enabled: false" if not settings.get("enabled", True)
                                                     else "validation: never")]
        if partner.failed or partner.errors:
            return ["- validation: not run (the partner's objects were not all written)"]
        if v is None:
            if outbound is not None and self.validation_mode == "changed":
                return [_recorded(outbound.current)]
            return []
        if v.get("pending"):
            return ["- validation: would run once the outbound connector exists"]
        if v.get("validated"):
            return ["- validation: passed%s" % (" (local probe only: the service validation sends a test message, so "
                                                "it runs only for real)" if self.check_mode else "")]
        lines = ["- validation: FAILED (%s)%s" % (", ".join(v.get("failure_classes") or []) or "nothing validated",
                                                  "; the connector is saved anyway" if not self.check_mode else "")]
        seen = set()
        for failure in v.get("failures") or []:
            if failure.get("message") in seen:
                continue
            seen.add(failure.get("message"))
            lines.append("    [%s] %s. Fix: %s" % (failure.get("class"), failure.get("message"), failure.get("fix")))
        if not v.get("failures"):
            lines.append("    %s" % v.get("summary"))
        return lines

    def result(self, diff_mode=False):
        self._summaries = []
        partners = [self.partner_result(p) for p in self.plan.partners]
        orphans = [o.result() for o in self.plan.orphans + self.plan.listed]
        totals = self.plan.totals()
        totals["failed"] = sum(1 for p in partners if p["failed"])
        result = {
            "changed": self.changed or (self.check_mode and totals["writes"] > 0),
            "partners": partners,
            "removed": orphans,
            "totals": totals,
            "summary": self._summaries + self._orphan_lines(),
        }
        if diff_mode:
            result["diff"] = [o.diff() for o in self.plan.objects() if o.action != "none"]
        return result

    def _orphan_lines(self):
        words = WORDS["check" if self.check_mode else "real"]
        if self.plan.orphans:
            lines = ["Objects of partners that are not in the run's definitions (state: overridden):"]
            lines.extend("%s (partner '%s')" % (object_line(o, words), o.owner) for o in self.plan.orphans)
            return lines
        if self.plan.listed:
            lines = ["%d object(s) carry the marker of partners that are not in the run's definitions; nothing was "
                     "removed (state: overridden, -e mailflow_prune=true in the onboarding playbook, removes them):"
                     % len(self.plan.listed)]
            lines.extend("- %s '%s' (partner '%s')" % (o.noun, o.name, o.owner) for o in self.plan.listed)
            return lines
        if self.plan.state == "overridden" or self.report_orphans:
            return ["No object of a partner that is not in the run's definitions."]
        return []


_VIEW = {INBOUND: tenant_view.INBOUND, OUTBOUND: tenant_view.OUTBOUND}


def _claims(obj):
    option = _CLAIMS[obj.kind][0]
    return bool(_new_domains(obj, option))


def _new_domains(obj, option):
    """The domains (as the service stores them) that this write gave the connector and it did not have."""
    if option not in (obj.changes or {}):
        return []
    before = set(n.parse_address_space(str(v))[0] for v in obj.before.get(option) or [])
    after = set(n.parse_address_space(str(v))[0] for v in obj.after.get(option) or [])
    return sorted(d for d in after - before if d != "*")


def _recorded(connector):
    """The validation line of an unchanged connector: what its last recorded validation says (IsValidated and
    LastValidationTimestamp, which a service validation of this collection records), without validating again."""
    connector = connector or {}
    stamp = n.utc_timestamp(connector.get("LastValidationTimestamp"))
    if connector.get("IsValidated") is True:
        return ("- validation: passed (recorded%s; the outbound connector is unchanged, so it was not validated again: "
                "validation: always does)" % (" " + stamp if stamp else ""))
    return ("- validation: not run (the outbound connector is unchanged and its last validation did not pass%s; "
            "validation: always runs it again)" % (" or was never recorded" if not stamp else ""))


def _claim_order(obj, seen):
    """When a connector took the domain, as both runs can tell it: a connector this run's read did not hold was
    created since, and took it then (WhenCreated); one it held took it by a change since (WhenChanged). Then its
    Guid, so that every run orders two claims the same way."""
    known = str(obj.get("Guid") or obj.get("Name")).lower() in seen
    stamp = (obj.get("WhenChangedUTC") or obj.get("WhenChanged")) if known else (
        obj.get("WhenCreatedUTC") or obj.get("WhenCreated"))
    return (str(stamp or ""), str(obj.get("Guid") or ""))


def _invalid(partner, validation):
    return bool(validation and not validation.get("pending") and validation.get("validated") is False
                and partner.validation.get("fail_on_invalid"))


def _validation_view(result):
    if result.get("pending"):
        return {"validated": None, "pending": True}
    keys = ("validated", "failures", "failure_classes", "summary", "recorded", "notes", "error")
    return dict((k, result.get(k)) for k in keys if k in result)


def _shown(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def object_line(obj, words):
    line = "- %s '%s': %s" % (obj.noun, obj.name, words[obj.action])
    if obj.action == "update":
        changes = obj.property_changes()
        line += " (%s)" % "; ".join("%s: %s -> %s" % (c["property"], _shown(c["before"]), _shown(c["after"]))
                                    for c in changes)
    if obj.action == "create" and obj.kind == RULE and obj.after.get("priority") is not None:
        line += " at priority %s" % obj.after["priority"]
    if obj.status == "failed":
        line += " FAILED: %s" % obj.error
    elif obj.status == "skipped":
        line += " (not written: an earlier write of the partner failed)"
    return line
