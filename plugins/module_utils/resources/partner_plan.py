# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partner floor's plan: every object of every partner of one tenant, planned against one read of the tenant.

``Snapshot.read`` reads the tenant once (one read per object type: inbound connectors, outbound connectors with the
test-mode ones, transport rules; ``Get-Recipient`` only for the distinct recipient values rules name). ``plan``
judges every partner against it with the resource specs' own code (``preflight_current``, ``changes``,
``create_parameters``, ``update_commands``, ``remove_parameters``), and the checks that need the tenant
(adoption, domains claimed by other connectors, routing to a connector that will be enabled and rule-scoped, rule
placement, offboarding markers), all before any write. The result is a ``Plan``: per partner, per object, the action,
the property changes (``{property, before, after}`` with the values as the service reads them back) and the exact
writes (``{cmdlet, parameters}``) in the order they must be sent:

1. removals of rules (nothing depends on a rule);
2. inbound connectors, then outbound connectors (creates and updates; a rule can only route to a connector that
   exists, is enabled and is scoped to rules);
3. rules (creates and updates) with their placement reconciled in one pass: the order of the rules is simulated
   write by write, as the service shifts priorities (priority 0 first, no two rules share one; setting a priority moves
   the rule and shifts the others), so each write carries the priority it must have at that point;
4. removals of outbound connectors (after the rules that routed to them), then of inbound connectors.

A plan is plain data (``Plan.to_dict``): check mode returns it, and ``partner_run`` applies it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.service_data import RULES_MAX
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format as pf
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partners as pu
from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary as vocab
from ansible_collections.m365.mailflow.plugins.module_utils.resources import tenant_view
from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import OutboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.transport_rule import (
    RecipientResolver, TransportRuleSpec)

INBOUND, OUTBOUND, RULE = pf.INBOUND, pf.OUTBOUND, pf.RULE
FORMAT = 1  # version of the plan's data shape (Plan.to_dict)
ROUTE = vocab.ROUTE
# Write phases, in the order they are sent (see the module docstring).
PHASES = (("delete", RULE), ("write", INBOUND), ("write", OUTBOUND), ("write", RULE), ("delete", OUTBOUND),
          ("delete", INBOUND))


def _name_key(name):
    return str(name or "").strip().lower()


# --------------------------------------------------------------------------------------------------- the read

class Snapshot(object):
    """The tenant as one read: the service's objects per kind, by lower-cased name."""

    def __init__(self, inbound=(), outbound=(), rules=(), calls=0):
        self.objects = {INBOUND: list(inbound), OUTBOUND: list(outbound), RULE: list(rules)}
        self.by_name = dict((kind, dict((_name_key(o.get("Name")), o) for o in objects))
                            for kind, objects in self.objects.items())
        self.calls = calls

    @classmethod
    def read(cls, client):
        """One read per object type (tenant_view.read_objects: ResultSize Unlimited, paging followed, test-mode
        outbound connectors included)."""
        before = len(client.calls)
        found = tenant_view.read_objects(client)
        return cls(found[tenant_view.INBOUND], found[tenant_view.OUTBOUND], found[tenant_view.RULES],
                   calls=len(client.calls) - before)

    @classmethod
    def empty(cls):
        return cls()

    def get(self, kind, name):
        return self.by_name[kind].get(_name_key(name))

    def as_tenant(self):
        """The shape partners.check_* take: {inbound, outbound, rules}."""
        return {"inbound": self.objects[INBOUND], "outbound": self.objects[OUTBOUND], "rules": self.objects[RULE]}

    def ordered_rules(self):
        return sorted(self.objects[RULE], key=lambda r: (r.get("Priority") is None, r.get("Priority") or 0,
                                                         _name_key(r.get("Name"))))


# --------------------------------------------------------------------------------------------------- plan data

class ObjectPlan(object):
    """One object of a partner: what it is, what the run does to it, and the writes that do it."""

    def __init__(self, partner, kind, name, spec, current, field):
        self.partner = partner  # the PartnerPlan (None for an orphan removed by overridden)
        self.kind = kind
        self.name = name
        self.spec = spec
        self.current = current
        self.field = field  # where it comes from in the definition (inbound, outbound, rules[0])
        self.action = "none"
        self.desired = None
        self.changes = {}  # option path -> desired value (updates)
        self.commands = []
        # before/after views are made when asked (a summary of changes, a diff): a thousand unchanged objects never
        # need them. A rule's priority before is the one read (``current`` may carry its simulated place).
        self._before = None
        self._after = None
        self.read_priority = current.get("Priority") if current is not None else None
        self.owner = None  # the partner whose marker an orphan carries
        self.sequence = 0  # rules: the order of their writes (placement simulated in that order)
        self.saved_changes = None  # the changes a saved plan recorded for this write (partner_saved)
        # set by partner_run
        self.status = "planned"  # planned, applied, failed, skipped
        self.error = None

    @property
    def noun(self):
        return pf.NOUNS[self.kind]

    @property
    def before(self):
        if self._before is None:
            self._before = self.spec.view(self.current) if self.current is not None else {}
            if self.kind == RULE and self.current is not None:
                self._before["priority"] = self.read_priority
        return self._before

    @before.setter
    def before(self, value):
        self._before = value

    @property
    def after(self):
        if self._after is None:
            self._after = dict(self.before)
        return self._after

    @after.setter
    def after(self, value):
        self._after = value

    def property_changes(self):
        """[{property, before, after}] in the module's option vocabulary, with real values on both sides (for the
        write of a saved plan, as the plan recorded them)."""
        if self.saved_changes is not None:
            return self.saved_changes
        if self.action == "create":
            keys = [k for k, v in self.after.items() if v not in (None, [], "", {}) and k not in _FACTS]
        elif self.action == "update":
            keys = list(self.changes)
        else:
            return []
        keys = sorted(set(keys), key=vocab.path_sort)
        return [{"property": k, "before": self.before.get(k), "after": self.after.get(k)} for k in keys]

    def result(self):
        out = {"kind": NOUN_KINDS[self.kind], "name": self.name, "action": self.action,
               "changes": self.property_changes()}
        if self.commands:
            out["commands"] = self.commands
        if self.owner:
            out["owner"] = self.owner
        if self.status not in ("planned", "applied"):
            out["status"] = self.status
        if self.error:
            out["error"] = self.error
        return out

    def diff(self):
        header = "%s %s" % (self.noun, self.name)
        if self.action == "create":
            return {"before": {}, "after": _nested(self.kind, self.after), "before_header": header,
                    "after_header": header}
        if self.action == "delete":
            return {"before": _nested(self.kind, self.before), "after": {}, "before_header": header,
                    "after_header": header}
        keys = [c["property"] for c in self.property_changes()]
        return {"before": _nested(self.kind, dict((k, self.before.get(k)) for k in keys), keep_none=True),
                "after": _nested(self.kind, dict((k, self.after.get(k)) for k in keys), keep_none=True),
                "before_header": header, "after_header": header}


NOUN_KINDS = {INBOUND: "inbound_connector", OUTBOUND: "outbound_connector", RULE: "mail_flow_rule"}
_FACTS = ("guid", "identity", "name", "connector_type", "connector_source", "when_changed_utc", "is_validated",
          "last_validation_timestamp")


def _nested(kind, view, keep_none=False):
    view = dict((k, v) for k, v in view.items() if k not in _FACTS)
    return vocab.nest(view, keep_none=keep_none) if kind == RULE else view


class PartnerPlan(object):
    """One partner of the run."""

    def __init__(self, partner, validation=None):
        self.partner = partner  # partners.Partner (checked)
        self.name = partner.name
        self.source = partner.source
        self.data = partner.data
        self.objects = []
        self.validation = validation or {}
        self.errors = []  # planning problems, "<field>: <message>"
        self.warnings = []
        self.expectations = []  # [{name, met, line}] the outcome of the partner's expect: messages (partner_work)
        self.findings = []  # posture findings about the partner's objects (partner_work)
        self.accepted = []  # ... and those its accept: records accept
        self.failed = False  # set by partner_run when a write failed
        self.error = None

    def obj(self, kind):
        for item in self.objects:
            if item.kind == kind:
                return item
        return None

    def rules(self):
        return [o for o in self.objects if o.kind == RULE]

    def action(self):
        actions = set(o.action for o in self.objects)
        for word in ("delete", "create", "update"):
            if word in actions:
                return word if len(actions - {"none"}) == 1 else "change"
        return "none"


class Plan(object):
    """What one run does to one tenant."""

    def __init__(self, state, snapshot):
        self.state = state
        self.snapshot = snapshot
        self.partners = []
        self.orphans = []  # ObjectPlans of objects removed because their partner is not listed (overridden)
        self.listed = []  # the same objects, only listed (present with report_orphans): action none
        self.rule_order = None  # the rules' names in the order the run leaves them (present, overridden)
        self.errors = []  # "<source>: <field>: <message>"
        self.warnings = []

    def objects(self):
        for partner in self.partners:
            yield from partner.objects
        yield from self.orphans

    def writes(self):
        """The objects with writes, in the order they must be sent (PHASES; rules in placement order)."""
        items = [o for o in self.objects() if o.commands]
        out = []
        for phase, kind in PHASES:
            chosen = [o for o in items if o.kind == kind and (o.action == "delete") == (phase == "delete")]
            if kind == RULE and phase == "write":
                chosen.sort(key=lambda o: o.sequence)
            out.extend(chosen)
        return out

    def totals(self):
        counts = {"partners": len(self.partners), "objects": 0, "create": 0, "update": 0, "delete": 0, "none": 0}
        for item in self.objects():
            counts["objects"] += 1
            counts[item.action] += 1
        counts["writes"] = sum(len(o.commands) for o in self.objects())
        return counts


# --------------------------------------------------------------------------------------------------- planning

class Planner(object):
    """Builds a Plan. ``definitions``: checked ``partners.Partner`` objects; ``client``: for the recipient lookups
    rules need (read-only), or None."""

    def __init__(self, snapshot, state="present", adopt=False, force=False, client=None, check_mode=False,
                 validation=None, names=None):
        self.snapshot = snapshot
        self.state = state
        self.adopt = adopt
        self.force = force
        self.client = client
        self.check_mode = check_mode
        self.validation = validation or {}
        self.names = names
        self.resolver = RecipientResolver(client) if client is not None else None
        self.sequence = 0

    def plan(self, definitions):
        plan = Plan(self.state, self.snapshot)
        report = pu.Report()
        tenant = self.snapshot.as_tenant()
        checked = [p for p in definitions if p.data is not None and p.object_names]
        if self.state in ("present", "overridden"):
            pu.check_adoption(checked, tenant, report, adopt=self.adopt, names=self.names)
            pu.check_tenant_domains(checked, tenant, report)
        else:
            pu.check_offboard(checked, tenant, report, force=self.force, names=self.names)
        for partner in definitions:
            plan.partners.append(PartnerPlan(partner, validation=self._validation(partner)))
        removed = set()
        if self.state == "overridden":
            plan.orphans = self._orphans(definitions)
            removed = set(_name_key(o.name) for o in plan.orphans if o.kind == RULE)
        if self.state == "absent":
            for item in plan.partners:
                self._plan_removal(item)
        else:
            order = [r for r in self.snapshot.ordered_rules() if _name_key(r.get("Name")) not in removed]
            for item in plan.partners:
                self._plan_connectors(item, report)
            for item in plan.partners:
                self._plan_rules(item, order, report)
            self._check_routing(plan, report)
            plan.rule_order = [r.get("Name") for r in order]
            if len(order) > RULES_MAX and len(order) > len(self.snapshot.objects[RULE]):
                new = len(order) - len([r for r in order if r.get("Guid")])
                report.error("", "rules", "the run would leave %d mail flow rules in the tenant (%d there, %d new), "
                                          "more than the %d Exchange Online allows in one organization; nothing was "
                                          "written. Remove rules, or give partners recipient_domains instead of rules"
                             % (len(order), len(order) - new, new, RULES_MAX))
        self._check_connector_removals(plan, report)
        plan.errors = list(report.errors)
        plan.warnings = list(report.warnings)
        return plan

    # ---- validation settings -----------------------------------------------------------------------------------
    def _validation(self, partner):
        settings = dict(pf_defaults())
        settings.update((k, v) for k, v in ((partner.data or {}).get("validation") or {}).items() if v is not None)
        settings.update((k, v) for k, v in self.validation.items() if v is not None)
        return settings

    # ---- connectors --------------------------------------------------------------------------------------------
    def _plan_connectors(self, item, report):
        data = item.data
        for kind, section, spec, params in (
                (INBOUND, "inbound", InboundConnectorSpec(), pf.inbound_parameters),
                (OUTBOUND, "outbound", OutboundConnectorSpec(catch_all=(data.get("outbound") or {}).get("catch_all")),
                 pf.outbound_parameters)):
            if data.get(section) is None:
                continue
            name = pf.inbound_name(data["name"]) if kind == INBOUND else pf.outbound_name(data["name"])
            current = self.snapshot.get(kind, name)
            obj = ObjectPlan(item, kind, name, spec, current, section)
            item.objects.append(obj)
            spec.check_mode = self.check_mode
            desired = spec.desired_state(params(data))
            obj.desired = desired
            if not self._run(report, item, section, data[section], lambda: spec.preflight_current(name, desired, current)):
                continue
            if current is None:
                self._create(obj, dict((k, v) for k, v in desired.items() if v is not None))
            else:
                self._update(obj, current, lambda: spec.changes(desired, current), report, section, data[section])
            item.warnings.extend(spec.warnings)

    def _create(self, obj, desired):
        spec = obj.spec
        obj.action = "create"
        obj.commands = [{"cmdlet": spec.new_cmdlet, "parameters": spec.create_parameters(obj.name, desired)}]
        more, _rest = spec.post_create(obj.name, desired, None)
        obj.commands.extend(more)
        obj.changes = desired
        obj.after = _predict(spec, {"name": obj.name}, desired) if obj.kind != RULE else spec.predict({}, obj.name, desired)

    def _update(self, obj, current, changes_of, report, section, values):
        found = {}

        def changes():
            found.update(changes_of())

        if not self._run(report, obj.partner, section, values, changes):
            return
        if not found:
            return
        spec = obj.spec
        obj.action = "update"
        obj.changes = found
        obj.commands = spec.update_commands(current, found)
        obj.after = _predict(spec, obj.before, found) if obj.kind != RULE else spec.predict(obj.before, obj.name, found)

    def _run(self, report, item, section, values, check):
        """Run one of the specs' checks; its problems become the partner's errors, placed by their path."""
        try:
            check()
        except ConfigurationError as exc:
            for problem in pu.problems_of(exc):
                field = pu.place(problem, section, values)
                message = report.line(item.source, field, problem.message)
                report.errors.append(message)
                item.errors.append(message)
            return False
        return True

    # ---- rules -------------------------------------------------------------------------------------------------
    def _plan_rules(self, item, order, report):
        data = item.data
        outbound = item.obj(OUTBOUND)
        for index, rule in enumerate(data.get("rules") or []):
            field = "rules[%d]" % index
            params = pf.rule_parameters(data, rule)
            name = params["name"]
            spec = TransportRuleSpec(params.get("extra_parameters"), params["apply_to_all_messages"])
            spec.check_mode = self.check_mode
            spec.resolver = self.resolver
            if outbound is not None and outbound.current is not None:
                spec.aliases[_name_key(outbound.name)] = outbound.current.get("Name") or outbound.name
            current = self.snapshot.get(RULE, name)
            position = _index_of(order, name)
            if current is not None and position is not None:
                current = dict(current, Priority=position)  # as the simulated order has it at this point
            obj = ObjectPlan(item, RULE, name, spec, current, field)
            if current is not None:
                obj.read_priority = self.snapshot.get(RULE, name).get("Priority")
            item.objects.append(obj)
            spec.rules = list(order)
            desired = {}

            def prepare():
                desired.update(spec.normalise(vocab.desired_state(params)))
                if self.client is not None:
                    desired.update(spec.prepare(self.client, name, desired))

            if not self._run(report, item, field, rule, prepare):
                continue
            obj.desired = desired
            if not self._run(report, item, field, rule, lambda: spec.preflight_current(name, desired, current)):
                continue
            if current is None:
                target = [None]

                def create():
                    target[0] = spec.target_priority(desired, None)

                if not self._run(report, item, field, rule, create):
                    continue
                self._create(obj, dict((k, v) for k, v in desired.items() if v is not None))
                where = len(order) if target[0] is None else target[0]
                order.insert(where, {"Name": name, "Priority": where, "Guid": None})
                obj.after["priority"] = where
            else:
                self._update(obj, current, lambda: spec.changes(desired, current), report, field, rule)
                if "priority" in obj.changes:
                    moved = order.pop(position)
                    order.insert(obj.changes["priority"], moved)
                    obj.after["priority"] = obj.changes["priority"]
            _renumber(order)
            self.sequence += 1
            obj.sequence = self.sequence
            item.warnings.extend(w for w in spec.warnings if w not in item.warnings)

    def _check_routing(self, plan, report):
        """Every planned rule routes to its partner's outbound connector, which must exist after the run, be enabled
        and be scoped to mail flow rules (the service refuses the rule otherwise): judged on the planned state."""
        for item in plan.partners:
            rules = [o for o in item.rules() if o.action in ("create", "update") or o.current is not None]
            if not rules or item.errors:
                continue
            outbound = item.obj(OUTBOUND)
            connector = outbound.after if outbound is not None else {}
            name = pf.outbound_name(item.name)
            if outbound is None:
                current = self.snapshot.get(OUTBOUND, name)
                connector = OutboundConnectorSpec().view(current) if current is not None else {}
            if not connector:
                message = report.line(item.source, "rules", "the rules route to '%s', which does not exist and "
                                                            "the definition does not create (add an outbound "
                                                            "section)" % name)
            elif connector.get("enabled") is False:
                message = report.line(item.source, "outbound.enabled",
                                      "false, but the partner's rules route to '%s', and a mail flow rule can only "
                                      "route to an enabled connector (Exchange Online refuses it). Enable the "
                                      "connector, or remove the rules from the definition (state: overridden "
                                      "removes them from the tenant)" % name)
            elif not connector.get("transport_rule_scoped"):
                message = report.line(item.source, "outbound", "the rules route to '%s', which is not scoped to mail "
                                                               "flow rules" % name)
            else:
                continue
            report.errors.append(message)
            item.errors.append(message)

    # ---- removals ----------------------------------------------------------------------------------------------
    def _remove(self, item, kind, name, field, owner=None):
        spec = {INBOUND: InboundConnectorSpec, OUTBOUND: OutboundConnectorSpec, RULE: TransportRuleSpec}[kind]()
        current = self.snapshot.get(kind, name)
        obj = ObjectPlan(item, kind, current.get("Name") if current else name, spec, current, field)
        obj.owner = owner
        if current is not None:
            obj.action = "delete"
            obj.commands = [{"cmdlet": spec.remove_cmdlet, "parameters": spec.remove_parameters(current)}]
            obj.after = {}
        return obj

    def _plan_removal(self, item):
        """Offboarding: the objects the definition names, in the order they are removed: rules first, then the outbound
        and the inbound connector."""
        rank = {RULE: 0, OUTBOUND: 1, INBOUND: 2}
        for kind, name, field in sorted(item.partner.object_names, key=lambda o: rank[o[0]]):
            item.objects.append(self._remove(item, kind, name, field))

    def orphans_of(self, definitions):
        """The objects ``state: overridden`` would remove, as ObjectPlans that do nothing (listed only)."""
        out = self._orphans(definitions)
        for obj in out:
            obj.action, obj.commands, obj.after = "none", [], dict(obj.before)
        return out

    def _orphans(self, definitions):
        """overridden: objects carrying the marker of a partner that is not listed, and a listed partner's marked
        objects that its definition no longer names (a rule taken out of the file). Partner connectors only, as
        onboarding makes no other."""
        listed = dict((_name_key(p.name), p) for p in definitions if p.data is not None)
        named = set((kind, _name_key(name)) for p in definitions for kind, name, _f in p.object_names)
        out = []
        for kind in (RULE, OUTBOUND, INBOUND):
            for obj in self.snapshot.objects[kind]:
                if kind != RULE and obj.get("ConnectorType") not in (None, "Partner"):
                    continue
                owner = pf.managed_by(pf.comment_of(obj))
                if not owner or (kind, _name_key(obj.get("Name"))) in named:
                    continue
                if _name_key(owner) in listed and not _belongs(kind, obj.get("Name"), owner):
                    continue  # a listed partner's marker on an object not named after it: not onboarding's
                out.append(self._remove(None, kind, obj.get("Name"), kind, owner=owner))
        return out

    def _check_connector_removals(self, plan, report):
        """An outbound connector is removed, disabled or no longer scoped to mail flow rules only when no rule that
        stays routes to it (O13/O14, which the service enforces): judged on the plan."""
        removed = set(_name_key(o.name) for o in plan.objects() if o.kind == RULE and o.action == "delete")
        staying = [r for r in self.snapshot.objects[RULE] if _name_key(r.get("Name")) not in removed]
        for obj in plan.objects():
            if obj.kind != OUTBOUND or obj.current is None:
                continue
            if obj.action == "delete" and obj.partner is not None and self.state == "absent":
                continue  # offboarding's own check (partners.check_offboard) says it, naming the rules
            if obj.action == "delete":
                what = "remove"
            elif obj.changes.get("enabled") is False and obj.current.get("Enabled") is not False:
                what = "disable"
            elif obj.changes.get("transport_rule_scoped") is False and obj.current.get("IsTransportRuleScoped"):
                what = "stop scoping to mail flow rules"
            else:
                continue
            ours = set(_name_key(r.name) for r in (obj.partner.rules() if obj.partner else []))
            routing = sorted(str(r.get("Name")) for r in staying
                             if _name_key(r.get("RouteMessageOutboundConnector")) == _name_key(obj.name)
                             and (what == "remove" or _name_key(r.get("Name")) not in ours))
            if not routing:
                continue
            source = obj.partner.source if obj.partner else "tenant"
            field = obj.field if obj.partner else "outbound connector '%s'" % obj.name
            message = report.line(source, field, "cannot %s '%s', nothing was changed: mail flow rules that the run "
                                                 "does not remove route to it: %s; remove them or point them at "
                                                 "another connector first (or list them in the partner file and use "
                                                 "state: overridden)" % (what, obj.name,
                                                                         ", ".join("'%s'" % r for r in routing)))
            report.errors.append(message)
            if obj.partner is not None:
                obj.partner.errors.append(message)


def _predict(spec, before, changes):
    """A connector as it will read back: each changed option as the service stores what is sent for it (the value
    sent, read back through the field, as ``Field.current`` reads the service's object)."""
    after = dict(before)
    for option, value in changes.items():
        field = spec.by_option.get(option)
        if field is None:
            after[option] = value
            continue
        sent = field.to_params(value).get(field.param)
        after[option] = field.current({field.read: sent})
    return after


def pf_defaults():
    """The validation settings' defaults (partner_format.validation_options)."""
    return dict((k, v["default"]) for k, v in pf.validation_options().items() if "default" in v)


def _belongs(kind, name, owner):
    """Whether ``name`` follows the naming of partner ``owner``'s objects of ``kind``."""
    name, owner = _name_key(name), _name_key(owner)
    if kind == INBOUND:
        return name == _name_key(pf.inbound_name(owner))
    if kind == OUTBOUND:
        return name == _name_key(pf.outbound_name(owner))
    return name.startswith(_name_key(pf.rule_name(owner, "")))


def _index_of(order, name):
    wanted = _name_key(name)
    for index, record in enumerate(order):
        if _name_key(record.get("Name")) == wanted:
            return index
    return None


def _renumber(order):
    for index, record in enumerate(order):
        if record.get("Priority") != index:
            order[index] = dict(record, Priority=index)
