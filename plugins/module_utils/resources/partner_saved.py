# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Saved plans: a dry run's plan for one tenant as plain data, and applying exactly that plan, or nothing.

``save(plan, ...)`` turns a ``partner_plan.Plan`` into a tenant plan: the writes (per object: the action, the property
changes with their values before and after, the desired values, the exact ``{cmdlet, parameters}`` in order) and, for
every object the writes were computed against, the values the plan read (absent objects included) with their
fingerprint, and the relative order of the rules that the plan does not move. The objects are those of the partners
that have writes (a partner with no write applies as nothing, whatever happens to it meanwhile) and the objects the
plan removes. A checksum over all of it catches a plan edited by hand.

``load(data, identity)`` checks a tenant plan before anything is read (a plan, of a known format version, not edited,
for this tenant); ``check(saved, snapshot)`` compares it with the tenant as it is now, one read per object type later:

- every object must hold the values the plan read, except the properties the plan's own writes change, which may
  hold their value before or after (an apply that stopped halfway left some of them written); an object the plan
  creates may be absent, or present with the planned values (created by that earlier apply);
- an object that moved otherwise makes the plan stale: the apply refuses, naming each object and property, with no
  write (Terraform's "Saved plan is stale"). Objects the plan never read do not count.

``pending(saved, snapshot)`` are the writes left: all of them for a fresh plan, those an interrupted apply did not
make, none for a plan already applied (refused as such). They are ``partner_plan.ObjectPlan`` objects that
``partner_run.Runner`` applies like any plan.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import hashlib
import json

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format as pf
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_plan as pp
from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import OutboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.transport_rule import TransportRuleSpec

FORMAT = "m365.mailflow tenant plan"
VERSION = 1
KINDS = dict((v, k) for k, v in pp.NOUN_KINDS.items())  # inbound_connector -> inbound
_FACTS = set(pp._FACTS) | {"priority"}


def canonical(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def checksum(body):
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def _values(obj):
    """What the plan read of an object, as the module options read it back (facts and unset options left out)."""
    if obj.current is None:
        return None
    view = obj.spec.view(obj.current)
    return dict((k, v) for k, v in view.items() if k not in _FACTS and v not in (None, [], "", {}))


def _spec_data(obj):
    if obj.kind == pp.RULE:
        return {"extra_parameters": list(obj.spec.extra), "apply_to_all_messages": obj.spec.apply_to_all_messages}
    if obj.kind == pp.OUTBOUND:
        return {"catch_all": obj.spec.catch_all}
    return {}


def _spec(kind, data):
    data = data or {}
    if kind == pp.RULE:
        return TransportRuleSpec(dict((p, None) for p in data.get("extra_parameters") or []),
                                 bool(data.get("apply_to_all_messages")))
    if kind == pp.OUTBOUND:
        return OutboundConnectorSpec(catch_all=data.get("catch_all"))
    return InboundConnectorSpec()


def _jsonable(value):
    return json.loads(canonical(value))


# --------------------------------------------------------------------------------------------------- saving

def save(plan, identity, label, state, validation, collection_version, summary):
    """The tenant plan of ``plan`` (check mode), as data with its checksum."""
    writes = plan.writes()
    concerned = set(id(o.partner) for o in writes if o.partner is not None)
    objects = []
    for obj in plan.objects():
        if obj.partner is None and obj.action != "delete":
            continue
        if obj.partner is not None and id(obj.partner) not in concerned:
            continue
        objects.append({"kind": pp.NOUN_KINDS[obj.kind], "name": obj.name, "present": obj.current is not None,
                        "values": _values(obj), "partner": obj.partner.name if obj.partner else obj.owner,
                        "spec": _spec_data(obj)})
    for item in objects:
        item["fingerprint"] = checksum([item["present"], item["values"]])
    moved = set(pp._name_key(o.name) for o in writes if o.kind == pp.RULE)
    order = [r.get("Name") for r in plan.snapshot.ordered_rules() if pp._name_key(r.get("Name")) not in moved]
    body = {
        "format": FORMAT,
        "version": VERSION,
        "collection_version": collection_version,
        "tenant": {"label": label, "identity": identity},
        "state": state,
        "writes": [{
            "partner": obj.partner.name if obj.partner else None,
            "source": obj.partner.source if obj.partner else None,
            "owner": obj.owner,
            "kind": pp.NOUN_KINDS[obj.kind],
            "name": obj.name,
            "action": obj.action,
            "changes": obj.property_changes(),
            "desired": _jsonable(obj.changes if obj.action != "delete" else {}),
            "commands": _jsonable(obj.commands),
            "spec": _spec_data(obj),
        } for obj in writes],
        "objects": objects,
        "rule_order": order if any(o.kind == pp.RULE for o in writes) else None,
        "validate": sorted(p.name for p in plan.partners if p.obj(pp.OUTBOUND) is not None
                           and p.obj(pp.OUTBOUND).action in ("create", "update")) if validation != "never" else [],
        "validation": validation,
        "validation_settings": dict((p.name, p.validation) for p in plan.partners
                                    if p.obj(pp.OUTBOUND) is not None),
        "summary": list(summary),
    }
    body = _jsonable(body)
    body["checksum"] = checksum(body)
    return body


# --------------------------------------------------------------------------------------------------- loading

def load(data, identity, label=None):
    """The tenant plan ``data`` checked before anything is read: a plan of this format and version, not edited since
    it was written, for this tenant. Raises ConfigurationError saying which, and that nothing was changed."""
    where = "plan" + (" for %s" % label if label else "")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigurationError("%s: this is not a plan of m365.mailflow (a dry run writes one with -e "
                                 "mailflow_plan_out=plan.json, or the partners module returns it as plan in check mode);"
                                 " nothing was read or changed" % where)
    if data.get("version") != VERSION:
        raise ConfigurationError("%s: its format version is %s and this collection knows %d; make the dry run again with "
                                 "this version of the collection; nothing was read or changed"
                                 % (where, data.get("version"), VERSION))
    body = dict((k, v) for k, v in data.items() if k != "checksum")
    if data.get("checksum") != checksum(body):
        raise ConfigurationError("%s: its checksum does not match its content: it was edited or damaged after the dry "
                                 "run wrote it. An approved plan is applied as it was approved or not at all; make the "
                                 "dry run again; nothing was read or changed" % where)
    tenant = (data.get("tenant") or {}).get("identity")
    if tenant != identity:
        raise ConfigurationError("%s: it was made for another tenant (%s), and this run is connected to %s; apply it "
                                 "with that tenant's connection, or make a dry run for this one; nothing was read or "
                                 "changed" % (where, tenant, identity))
    return data


# --------------------------------------------------------------------------------------------------- checking

def _view(spec, obj):
    if obj is None:
        return None
    view = spec.view(obj)
    return dict((k, v) for k, v in view.items() if k not in _FACTS and v not in (None, [], "", {}))


def _field(spec, key):
    props = getattr(spec, "props", None)
    return (props or spec.by_option).get(key)


def _equal(spec, key, a, b):
    """Whether two values of one property are the same as the service stores them (the field's own comparison:
    case, order, sizes, dates); two absent values are equal."""
    a, b = _norm(a), _norm(b)
    if a is None or b is None:
        return a is None and b is None
    field = _field(spec, key)
    if field is None:
        return canonical(a) == canonical(b)
    try:
        return not field.differs(a, b)
    except (TypeError, ValueError, AttributeError):
        return canonical(a) == canonical(b)


def _names(names):
    shown = ", ".join("'%s'" % n for n in names[:12])
    return (shown + " and %d more" % (len(names) - 12)) if len(names) > 12 else (shown or "none")


def check(saved, snapshot):
    """(stale, states): ``stale`` the lines naming each object and property that moved since the plan was made;
    ``states`` {(kind, name): "before" | "after" | "partial" | "moved"} of the objects the writes concern."""
    writes = dict(((KINDS[w["kind"]], pp._name_key(w["name"])), w) for w in saved["writes"])
    stale, states = [], {}
    for item in saved["objects"]:
        kind, name = KINDS[item["kind"]], item["name"]
        spec = _spec(kind, item.get("spec"))
        now = _view(spec, snapshot.get(kind, name))
        write = writes.get((kind, pp._name_key(name)))
        label = "%s '%s'" % (pf.NOUNS[kind], name)
        if write is None:
            stale.extend(_moved(spec, label, item["values"], now))
            continue
        state, lines = _judge(spec, write, item, now, label)
        stale.extend(lines)
        states[(kind, pp._name_key(name))] = state
    order = saved.get("rule_order")
    if order is not None:
        moved = set(pp._name_key(w["name"]) for w in saved["writes"] if KINDS[w["kind"]] == pp.RULE)
        have = [r.get("Name") for r in snapshot.ordered_rules() if pp._name_key(r.get("Name")) not in moved]
        if [pp._name_key(n) for n in have] != [pp._name_key(n) for n in order]:
            stale.append("the order of the mail flow rules changed (the plan placed its rules among %s; now: %s)"
                         % (_names(order), _names(have)))
    return stale, states


def _moved(spec, label, before, now):
    """What moved between the plan's read ``before`` and ``now`` (both views, None for absent)."""
    if before is None and now is None:
        return []
    if before is None:
        return ["%s: did not exist when the plan was made, and exists now" % label]
    if now is None:
        return ["%s: existed when the plan was made, and is gone now" % label]
    return ["%s: %s was %s and is now %s" % (label, key, canonical(before.get(key)), canonical(now.get(key)))
            for key in sorted(set(before) | set(now), key=pp.vocab.path_sort)
            if not _equal(spec, key, before.get(key), now.get(key))]


def _judge(spec, write, item, now, label):
    """The state of one object the plan writes: "before" (nothing of the write applied), "after" (all of it),
    "partial" (some of its commands), "moved" (only its priority changes: judged by its command); and the lines
    naming what moved otherwise."""
    before, action = item["values"], write["action"]
    if action == "delete":
        if now is None:
            return "after", []
        return "before", _moved(spec, label, before, now)
    if action == "create":
        if now is None:
            return "before", []
        planned = dict((c["property"], c["after"]) for c in write["changes"] if c["property"] not in _FACTS)
        off = sorted(k for k, v in planned.items() if not _equal(spec, k, v, now.get(k)))
        if not off:
            return "after", []
        if set(off) <= set(spec.set_only):
            return "partial", []  # created by an earlier apply, the Set that follows New not sent yet
        return "before", ["%s: did not exist when the plan was made, and exists now with other values (%s)"
                          % (label, ", ".join(off))]
    if now is None:
        return "before", ["%s: existed when the plan was made, and is gone now" % label]
    changed = dict((c["property"], c) for c in write["changes"] if c["property"] not in _FACTS)
    lines, at_after, at_before = [], 0, 0
    for key in sorted(set(before or {}) | set(now) | set(changed), key=pp.vocab.path_sort):
        if key in changed:
            if _equal(spec, key, now.get(key), changed[key]["after"]):
                at_after += 1
            elif _equal(spec, key, now.get(key), changed[key]["before"]):
                at_before += 1
            else:
                lines.append("%s: %s was %s when the plan was made (the plan sets %s) and is now %s"
                             % (label, key, canonical(changed[key]["before"]), canonical(changed[key]["after"]),
                                canonical(now.get(key))))
        elif not _equal(spec, key, (before or {}).get(key), now.get(key)):
            lines.append("%s: %s was %s and is now %s" % (label, key, canonical((before or {}).get(key)),
                                                          canonical(now.get(key))))
    if not changed:
        return "moved", lines
    if at_before == 0 and at_after == len(changed):
        return "after", lines
    return ("before" if at_after == 0 else "partial"), lines


def _norm(value):
    return None if value in (None, [], "", {}) else value


# --------------------------------------------------------------------------------------------------- applying

def plan_of(saved, snapshot, states):
    """A partner_plan.Plan holding the writes of ``saved`` that are left (an object at "after" has none left), with
    the partners grouped so that a refused write stops only its partner."""
    plan = pp.Plan(saved["state"], snapshot)
    partners = {}
    for index, write in enumerate(saved["writes"]):
        kind = KINDS[write["kind"]]
        state = states.get((kind, pp._name_key(write["name"])), "before")
        if state == "after":
            continue
        spec = _spec(kind, write.get("spec"))
        spec.rules = list(snapshot.ordered_rules()) if kind == pp.RULE else []
        current = snapshot.get(kind, write["name"])
        owner = write.get("partner")
        item = None
        if owner is not None:
            item = partners.get(owner)
            if item is None:
                item = partners[owner] = _Saved(owner, write.get("source"))
                plan.partners.append(item)
        obj = pp.ObjectPlan(item, kind, write["name"], spec, current, write["name"])
        obj.action = write["action"]
        obj.changes = dict(write.get("desired") or {})
        obj.commands = list(write["commands"])
        obj.owner = write.get("owner")
        obj.sequence = index
        obj.saved_changes = write["changes"]
        if state in ("partial", "moved") and current is not None:
            obj.commands = _left(obj, current)
            if obj.action == "create":
                obj.action = "update"  # New was sent by the earlier apply; the Set that follows is left
        if not obj.commands:
            continue
        if item is not None:
            item.objects.append(obj)
        else:
            plan.orphans.append(obj)
    return plan


def _left(obj, current):
    """The commands of one object that the tenant does not show applied yet (an apply that stopped halfway)."""
    spec, left = obj.spec, []
    for command in obj.commands:
        if command["cmdlet"] == spec.new_cmdlet:
            continue  # the object exists: New was sent
        part = spec.command_changes(command, obj.changes)
        if "Priority" in command["parameters"] and current is not None:
            if current.get("Priority") != command["parameters"]["Priority"]:
                left.append(command)
                continue
            part = dict((k, v) for k, v in part.items() if k != "priority")
        if any(spec.by_option.get(k) is None or spec.by_option[k].differs(v, spec.by_option[k].current(current))
               for k, v in part.items() if k in spec.by_option) or _rule_differs(spec, part, current):
            left.append(command)
    return left


def _rule_differs(spec, part, current):
    props = getattr(spec, "props", None)
    if props is None:
        return False
    return any(k in props and props[k].differs(spec._effective(k, v), props[k].current(current))
               for k, v in part.items() if k != "priority")


_SavedPartner = collections.namedtuple("_SavedPartner", "name source data")


class _Saved(pp.PartnerPlan):
    """A partner of a saved plan: a PartnerPlan of its name and source, without the definition (the apply does not
    use it)."""

    def __init__(self, name, source):
        super(_Saved, self).__init__(_SavedPartner(name, source or "plan", {}))
