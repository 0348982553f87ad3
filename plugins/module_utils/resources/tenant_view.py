# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant as it is: its connectors and rules in the modules' own option vocabulary (``mail_flow_info``).

Reads: one read per object type, whatever the number of objects (the client follows ``@odata.nextLink`` as the
service pages; every Get-* answers 1000 objects unless asked for ``ResultSize Unlimited``, connector_cmdlets.md
2.2/3.3/4.x, documented). Outbound connectors are read with ``outbound_connector.outbound_connectors`` so that test-mode
connectors are included (one read when the answer is known complete, see there).

Entries: ``{"options": {...}, "facts": {...}}``. ``options`` holds exactly the options of
``partner_inbound_connector``, ``partner_outbound_connector`` or ``mail_flow_rule`` (values as the engine shows a
read-back object: ``fields.Field.current``; options the object does not set are left out), so that
passing ``options`` back to the module is a no-op. ``facts`` holds what no module option sets (GUID, priority,
validation mark and time, when changed).

Partners: objects whose comment carries the marker ``Managed by m365.mailflow partner <name>`` and whose names
follow the partner naming (``<name> inbound``, ``<name> outbound``, ``<name> - <rule>`` routing to ``<name>
outbound``) make up partner definitions in the format of docs/partner-definitions.md, which onboard back to
no change. Every other object is ``unmanaged``. ``proposals`` groups unmanaged objects that clearly belong together
into partner definitions with ``adopt: true``; ``compare`` is the drift of partner definitions against the tenant.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch

from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import MailflowError, NotFoundError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format as pf
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partners as pu
from ansible_collections.m365.mailflow.plugins.module_utils.resources import posture
from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary as vocab
from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import (
    OutboundConnectorSpec, is_catch_all, outbound_connectors)
from ansible_collections.m365.mailflow.plugins.module_utils.resources.transport_rule import TransportRuleSpec

INBOUND, OUTBOUND, RULES = "inbound_connectors", "outbound_connectors", "mail_flow_rules"
KINDS = (INBOUND, OUTBOUND, RULES)
MODULES = {
    INBOUND: "m365.mailflow.partner_inbound_connector",
    OUTBOUND: "m365.mailflow.partner_outbound_connector",
    RULES: "m365.mailflow.mail_flow_rule",
}
NOUNS = {INBOUND: "inbound connector", OUTBOUND: "outbound connector", RULES: "mail flow rule"}
UNLIMITED = {"ResultSize": "Unlimited"}
ROUTE = "route_message_outbound_connector"
# Options of partner_outbound_connector that a partner file does not have: they must be false on a Partner
# connector (the module refuses true), so a partner definition leaves them out.
ON_PREMISES_ONLY = ("route_all_messages_via_on_premises", "cloud_services_mail_enabled", "all_accepted_domains",
                    "sender_rewriting_enabled")
# Options left out of an entry when the service reads back its default: MtaStsMode and SmtpDaneMode are new (2026,
# MC1220759) and tenants that do not have them yet refuse the parameters, so an export, and a partner definition
# onboarded back from it, must never send them at the default the service applies anyway ("Opportunistic" for both,
# New-OutboundConnector reference; the sandbox reads the same back). Set to anything else, they are kept.
SERVICE_DEFAULTS = {"mta_sts_mode": "opportunistic", "smtp_dane_mode": "opportunistic"}


def _present(value):
    return value is not None and value != [] and value != "" and value != {}


def _name_key(obj):
    return (str(obj.get("Name") or "").lower(), str(obj.get("Guid") or ""))


# --------------------------------------------------------------------------------------------------- reads

def read_objects(client, gather=KINDS):
    """{kind: [objects as the service returns them]} for each kind of ``gather``: one read per kind (plus paging).
    Connectors by name, rules in priority order."""
    out = {}
    if INBOUND in gather:
        try:
            found = client.invoke("Get-InboundConnector", dict(UNLIMITED))
        except NotFoundError:
            found = []
        out[INBOUND] = sorted(found, key=_name_key)
    if OUTBOUND in gather:
        out[OUTBOUND] = sorted(outbound_connectors(client, parameters=UNLIMITED), key=_name_key)
    if RULES in gather:
        try:
            found = client.invoke("Get-TransportRule", dict(UNLIMITED))
        except NotFoundError:
            found = []
        out[RULES] = sorted(found, key=lambda r: (r.get("Priority") is None, r.get("Priority") or 0, _name_key(r)))
    return out


def name_filter(names):
    """A predicate on object names: exact (without case) or shell-style patterns (``Adatum*``); None keeps all."""
    if not names:
        return lambda name: True
    patterns = [str(p).strip().lower() for p in names]

    def keep(name):
        name = str(name or "").lower()
        return any(name == p or fnmatch.fnmatchcase(name, p) for p in patterns)
    return keep


# --------------------------------------------------------------------------------------------------- entries

def _when_changed(obj):
    return n.utc_timestamp(obj.get("WhenChangedUTC") or obj.get("WhenChanged"))


def managed_by(comment):
    """The partner whose m365.mailflow marker ``comment`` carries (``partners.marker_owner``, confirmed by
    ``partners.carries_marker``), or None: the one rule of what belongs to a partner, for mail_flow_info's
    ``managed_by`` fact, the export's partners and the roles (offboarding compares this fact)."""
    return pf.managed_by(comment)


def connector_entry(spec, obj):
    """``{"options", "facts"}`` of one connector: ``options`` in the module's vocabulary (set options only)."""
    options = {"name": obj.get("Name")}
    for field in spec.fields:
        value = field.current(obj)
        if _present(value) and not (field.option in SERVICE_DEFAULTS
                                    and field.comparable(value) == SERVICE_DEFAULTS[field.option]):
            options[field.option] = value
    if spec.noun == "outbound connector" and is_catch_all(options.get("recipient_domains")):
        options["catch_all"] = True  # the opt-in the module needs for '*', so that the options pass back as a no-op
    facts = spec.facts(obj)
    facts.pop("when_changed_utc", None)
    facts["when_changed"] = _when_changed(obj)
    facts["managed_by"] = managed_by(obj.get("Comment"))
    return {"options": options, "facts": facts}


def _clean_pair(value):
    return dict((k, v) for k, v in value.items() if v is not None) if isinstance(value, dict) else value


def rule_entry(obj):
    """``{"options", "facts"}`` of one mail flow rule: the options of mail_flow_rule the rule sets; priority is a
    fact (a definition that leaves it out does not manage it)."""
    options = {"name": obj.get("Name")}
    for prop in vocab.TOP_PROPS:
        value = prop.current(obj)
        if _present(value):
            options[prop.option] = value
    for prop in vocab.TABLE:
        if prop.section not in vocab.SECTIONS:
            continue
        value = prop.current(obj)
        if value is None or prop.absent(value):
            continue
        options.setdefault(prop.section, {})[prop.option] = _clean_pair(value)
    if not any(section in options for section in ("conditions", "exceptions")) and not obj.get("Conditions") \
            and not obj.get("Exceptions"):
        options["apply_to_all_messages"] = True  # the module refuses a rule without predicates unless told
    facts = {
        "guid": obj.get("Guid"),
        "identity": obj.get("Identity"),
        "priority": obj.get("Priority"),
        "state": obj.get("State"),
        "when_changed": _when_changed(obj),
        "managed_by": managed_by(obj.get("Comments")),
    }
    return {"options": options, "facts": facts}


def entries(objects, names=None):
    """{kind: [entries]} from ``read_objects``' answer, filtered by ``names``."""
    keep = name_filter(names)
    specs = {INBOUND: InboundConnectorSpec(), OUTBOUND: OutboundConnectorSpec()}
    out = {}
    for kind, found in objects.items():
        if kind == RULES:
            out[kind] = [rule_entry(o) for o in found if keep(o.get("Name"))]
        else:
            out[kind] = [connector_entry(specs[kind], o) for o in found if keep(o.get("Name"))]
    return out


# --------------------------------------------------------------------------------------------------- partners

def strip_marker(comment, partner):
    """The free text onboarding put after the marker (``partner_format.strip_marker``)."""
    return pf.strip_marker(comment, partner)


def _section(options, drop=()):
    return dict((k, v) for k, v in options.items() if k not in ("name",) + tuple(drop) and _present(v))


def _owner(kind, entry):
    """(partner name, reason): the partner an object belongs to, or None and why it belongs to none."""
    options = entry["options"]
    name, owner = options.get("name") or "", entry["facts"].get("managed_by")
    if not owner:
        return None, "no m365.mailflow marker in its comment"
    if entry["facts"].get("connector_type") not in (None, "Partner"):
        return None, "marker of partner '%s', but a %s connector" % (owner, entry["facts"]["connector_type"])
    if kind == INBOUND and name.lower() != pf.inbound_name(owner).lower():
        return None, "marker of partner '%s', but not named '%s inbound'" % (owner, owner)
    if kind == OUTBOUND and name.lower() != pf.outbound_name(owner).lower():
        return None, "marker of partner '%s', but not named '%s outbound'" % (owner, owner)
    if kind == RULES:
        if not name.lower().startswith(("%s - " % owner).lower()):
            return None, "marker of partner '%s', but not named '%s - <rule>'" % (owner, owner)
        route = (options.get("actions") or {}).get(ROUTE)
        if str(route or "").lower() != pf.outbound_name(owner).lower():
            return None, "marker of partner '%s', but it does not route to '%s outbound'" % (owner, owner)
    if kind == OUTBOUND and any(options.get(o) for o in ON_PREMISES_ONLY):
        return None, "marker of partner '%s', but it sets options only an OnPremises connector has" % owner
    return owner, None


def _inbound_section(entry, owner):
    section = _section(entry["options"], drop=("comment",))
    text = strip_marker(entry["options"].get("comment"), owner)
    if text:
        section["comment"] = text
    return section


def _outbound_section(entry, owner):
    section = _section(entry["options"], drop=("comment",) + ON_PREMISES_ONLY)
    text = strip_marker(entry["options"].get("comment"), owner)
    if text:
        section["comment"] = text
    return section


def _rule_item(entry, owner):
    options = entry["options"]
    item = {"name": options["name"][len(pf.rule_name(owner, "")):]}
    for key in ("enabled", "mode", "activation_date", "expiry_date", "conditions", "exceptions"):
        if _present(options.get(key)):
            item[key] = options[key]
    actions = dict((k, v) for k, v in (options.get("actions") or {}).items() if k != ROUTE)
    if actions:
        item["actions"] = actions
    if options.get("apply_to_all_messages"):
        item["apply_to_all_messages"] = True
    text = strip_marker(options.get("comments"), owner)
    if text:
        item["comments"] = text
    return item


def _definition(name, inbound=None, outbound=None, rules=(), adopt=False):
    partner = {"name": name}
    if adopt:
        partner["adopt"] = True
    if inbound is not None:
        partner["inbound"] = inbound
    if outbound is not None:
        partner["outbound"] = outbound
    if rules:
        partner["rules"] = list(rules)
    if outbound is not None and not outbound.get("validation_recipients"):
        # Validation is on by default and needs recipients (docs/partner-definitions.md): without any, the file
        # would not pass the checks; the tenant says nothing about validation, so it is switched off explicitly.
        partner["validation"] = {"enabled": False}
    return {"partner": partner}


def group(found):
    """(partners, unmanaged) from ``entries`` of every kind: partner definitions built from the objects carrying our
    marker (by partner name), and every other object as ``{kind, module, options, facts, reason}``."""
    owned, unmanaged = {}, []
    for kind in KINDS:
        for entry in found.get(kind) or []:
            owner, reason = _owner(kind, entry)
            if owner is None:
                unmanaged.append({"kind": kind, "module": MODULES[kind], "options": entry["options"],
                                  "facts": entry["facts"], "reason": reason,
                                  "manageable": entry["facts"].get("connector_type") in (None, "Partner"),
                                  "task": {"name": "%s %s" % (NOUNS[kind], entry["options"]["name"]),
                                           MODULES[kind]: entry["options"]}})
                continue
            owned.setdefault(owner.lower(), (owner, {INBOUND: [], OUTBOUND: [], RULES: []}))[1][kind].append(entry)
    partners = []
    for key in sorted(owned):
        owner, parts = owned[key]
        # The name as the objects spell it (the connector name, else the rule's prefix): names compare without case.
        for kind in KINDS:
            if parts[kind]:
                owner = parts[kind][0]["options"]["name"][:len(owner)]
                break
        partners.append(_definition(
            owner,
            inbound=_inbound_section(parts[INBOUND][0], owner) if parts[INBOUND] else None,
            outbound=_outbound_section(parts[OUTBOUND][0], owner) if parts[OUTBOUND] else None,
            rules=[_rule_item(e, owner) for e in parts[RULES]]))
    return partners, unmanaged


def newest_change(found, names=None):
    """The newest ``when_changed`` of the entries (of the objects named ``names``, when given), or None."""
    wanted = None if names is None else set(str(x).lower() for x in names)
    stamps = [e["facts"].get("when_changed") for kind in KINDS for e in found.get(kind) or []
              if wanted is None or str(e["options"].get("name")).lower() in wanted]
    stamps = [s for s in stamps if s]
    return max(stamps) if stamps else None


def object_names(definition):
    """The tenant names of a partner definition's objects (``partner_format.object_names``)."""
    return [name for _kind, name, _field in pf.object_names(definition["partner"])]


# --------------------------------------------------------------------------------------------------- adoption

def _domain_set(values):
    out = set()
    for value in values or []:
        domain = n.parse_address_space(str(value))[0]
        if domain and domain != "*":
            out.add(domain[2:] if domain.startswith("*.") else domain)
    return out


def proposals(unmanaged):
    """Partner definitions (``adopt: true``) for unmanaged objects that clearly belong together: an inbound
    connector ``<P> inbound`` and an outbound connector ``<P> outbound`` (Partner type, valid partner name) sharing
    the partner's domains (sender domains against recipient domains and the ``recipient_domain_is`` of the rules
    that route to the outbound connector), with the rules ``<P> - <rule>`` that route to ``<P> outbound``.
    Onboarding such a definition changes only the comments (it writes the marker). Returns (proposals, rest)."""
    by_name = dict(((u["kind"], str(u["options"]["name"]).lower()), u) for u in unmanaged if u["manageable"])
    taken, found = set(), []
    for item in unmanaged:
        if item["kind"] != INBOUND or not item["manageable"]:
            continue
        name = str(item["options"]["name"])
        if not name.lower().endswith(" inbound"):
            continue
        partner = name[:-len(" inbound")]
        out = by_name.get((OUTBOUND, pf.outbound_name(partner).lower()))
        if not pf.NAME_PATTERN.match(partner) or out is None or any(out["options"].get(o) for o in ON_PREMISES_ONLY):
            continue
        routing = [u for u in unmanaged if u["kind"] == RULES
                   and str((u["options"].get("actions") or {}).get(ROUTE) or "").lower() == pf.outbound_name(partner).lower()
                   and str(u["options"]["name"]).lower().startswith(("%s - " % partner).lower())]
        theirs = _domain_set(out["options"].get("recipient_domains"))
        for rule in routing:
            theirs |= _domain_set((rule["options"].get("conditions") or {}).get("recipient_domain_is"))
        if not _domain_set(item["options"].get("sender_domains")) & theirs:
            continue
        comments = dict((id(u), u["options"].get("comment" if u["kind"] != RULES else "comments")) for u in
                        [item, out] + routing)
        inbound = _section(item["options"], drop=("comment",))
        outbound = _section(out["options"], drop=("comment",) + ON_PREMISES_ONLY)
        if comments[id(item)]:
            inbound["comment"] = comments[id(item)]
        if comments[id(out)]:
            outbound["comment"] = comments[id(out)]
        items = []
        for rule in routing:
            entry = _rule_item({"options": dict(rule["options"], comments=None)}, partner)
            if comments[id(rule)]:
                entry["comments"] = comments[id(rule)]
            items.append(entry)
        found.append(_definition(partner, inbound=inbound, outbound=outbound, rules=items, adopt=True))
        taken.update(id(u) for u in [item, out] + routing)
    return found, [u for u in unmanaged if id(u) not in taken]


# --------------------------------------------------------------------------------------------------- drift

def _partner(item):
    """A ``partners.Partner`` from one ``{source, definition}`` of partner_definitions (already checked)."""
    definition = item.get("definition") if isinstance(item, dict) and "definition" in item else item
    partner = pu.Partner(str((item or {}).get("source") or "definition"), definition)
    partner.data = (definition or {}).get("partner") or {}
    return partner


def _property(option, expected, actual):
    return {"property": option, "expected": expected, "actual": actual}


def _connector_drift(spec, kind, desired, obj):
    """The properties of a connector that differ from what onboarding sends (``enabled`` among them: a partner's
    connector is enabled unless its file says otherwise, partner_format)."""
    changes = spec.changes(desired, obj)
    return [_property(o, changes[o], spec.by_option[o].current(obj)) for o in sorted(changes)]


def _rule_drift(client, params, obj, all_rules):
    spec = TransportRuleSpec(params.get("extra_parameters"), params["apply_to_all_messages"])
    desired = spec.normalise(vocab.desired_state(params))
    if client is not None:
        try:
            desired = spec.prepare(client, params["name"], desired)  # recipients as the service stores them (reads)
        except MailflowError:
            pass  # compared as written; the module reports the recipient problem when onboarding
    spec.rules = all_rules
    changes = spec.changes(desired, obj)
    out = []
    for path in sorted(changes, key=vocab.path_sort):
        actual = obj.get("Priority") if path == "priority" else spec.props[path].current(obj)
        out.append(_property(path, changes[path], actual))
    return out


def compare(definitions, objects, client=None):
    """The drift of ``definitions`` (``[{source, definition: {partner}}]``, as partner_definitions returns them)
    against ``objects`` (``read_objects`` of every kind): ``{partners: [...], orphaned: [...], totals: {...}}``.

    Each object of a partner is ``in_sync``, ``drifted`` (with each property: expected, actual) or ``missing``. The
    desired state is what onboarding sends (``partners.inbound_parameters`` and friends), compared as the modules
    compare it (``ResourceSpec.changes``); options the definition leaves out are not compared, except ``enabled``
    (and a rule's ``mode``), which onboarding creates objects with. ``orphaned``: objects carrying the marker of a
    partner that is not among ``definitions`` (Partner connectors and rules), rules first (the order in which they
    can be removed)."""
    index = dict((kind, dict((str(o.get("Name") or "").lower(), o) for o in objects.get(kind) or [])) for kind in KINDS)
    all_rules = objects.get(RULES) or []
    report, known = [], set()
    for item in definitions or []:
        partner = _partner(item)
        data = partner.data
        known.add(str(data.get("name") or "").lower())
        rows = []
        checks = []
        if data.get("inbound") is not None:
            checks.append((INBOUND, pf.inbound_name(data["name"]), InboundConnectorSpec(), pf.inbound_parameters(data)))
        if data.get("outbound") is not None:
            checks.append((OUTBOUND, pf.outbound_name(data["name"]), OutboundConnectorSpec(),
                           pf.outbound_parameters(data)))
        for kind, name, spec, desired in checks:
            obj = index[kind].get(name.lower())
            if obj is None:
                rows.append({"kind": kind, "name": name, "status": "missing", "properties": []})
                continue
            props = _connector_drift(spec, kind, desired, obj)
            rows.append({"kind": kind, "name": obj.get("Name"), "status": "drifted" if props else "in_sync",
                         "properties": props})
        for rule in data.get("rules") or []:
            params = pf.rule_parameters(data, rule)
            obj = index[RULES].get(params["name"].lower())
            if obj is None:
                rows.append({"kind": RULES, "name": params["name"], "status": "missing", "properties": []})
                continue
            props = _rule_drift(client, params, obj, all_rules)
            rows.append({"kind": RULES, "name": obj.get("Name"), "status": "drifted" if props else "in_sync",
                         "properties": props})
        status = "missing" if rows and all(r["status"] == "missing" for r in rows) else (
            "drifted" if any(r["status"] != "in_sync" for r in rows) else "in_sync")
        report.append({"name": data.get("name"), "source": partner.source, "status": status, "objects": rows})
    orphaned = orphans(objects, known)
    totals = {"partners": len(report), "objects": sum(len(p["objects"]) for p in report)}
    for status in ("in_sync", "drifted", "missing"):
        totals[status] = sum(1 for p in report for r in p["objects"] if r["status"] == status)
    totals["partners_drifted"] = sum(1 for p in report if p["status"] != "in_sync")
    totals["orphaned"] = len(orphaned)
    return {"partners": report, "orphaned": orphaned, "totals": totals}


def orphans(objects, known):
    """Objects whose comment carries the marker of a partner whose name (without case) is not in ``known``:
    ``[{kind, name, partner}]``, rules first, then outbound, then inbound connectors (the removal order)."""
    out = []
    for kind in (RULES, OUTBOUND, INBOUND):
        for obj in objects.get(kind) or []:
            if kind != RULES and obj.get("ConnectorType") not in (None, "Partner"):
                continue  # onboarding makes only Partner connectors, and the partner modules remove no other
            owner = managed_by(obj.get("Comments") if kind == RULES else obj.get("Comment"))
            if owner and owner.lower() not in known:
                out.append({"kind": kind, "name": obj.get("Name"), "partner": owner, "module": MODULES[kind]})
    return out


# --------------------------------------------------------------------------------------------------- the module

def summarise(client, gather=KINDS, names=None, compare_with=None, suppressions=None, audit_days=posture.AUDIT_DAYS,
              now=None):
    """The result of mail_flow_info (without ``changed``). ``client`` None: an empty tenant (nothing read).
    ``gather`` may also name ``posture.SETTINGS`` (accepted domains, organization config), read once each; the
    posture findings (``posture.evaluate``) come from the same reads."""
    wanted = tuple(gather or KINDS)
    gather = tuple(k for k in KINDS if k in wanted)
    objects = read_objects(client, gather) if client is not None else dict((k, []) for k in gather)
    settings = posture.read_settings(client, wanted) if client is not None else dict(
        (k, [] if k == posture.ACCEPTED_DOMAINS else None) for k in posture.SETTINGS if k in wanted)
    found = entries(objects, names)
    result = dict((kind, found.get(kind, [])) for kind in gather)
    result["partners"], result["unmanaged"] = group(found)
    result["proposed_partners"], result["unmanaged_unproposed"] = proposals(result["unmanaged"])
    result["newest_change"] = newest_change(found)
    result["changed_at"] = dict(
        [(p["partner"]["name"], newest_change(found, object_names(p)))
         for p in result["partners"] + result["proposed_partners"]]
        + [("unmanaged", newest_change(found, [u["options"]["name"] for u in result["unmanaged"]])),
           ("unmanaged_unproposed", newest_change(found, [u["options"]["name"] for u in result["unmanaged_unproposed"]]))])
    result["counts"] = dict((kind, len(objects.get(kind) or [])) for kind in gather)
    if compare_with is not None:
        result["drift"] = compare(compare_with, objects, client=client)
        result["drift"]["unmanaged"] = [{"kind": u["kind"], "name": u["options"]["name"], "reason": u["reason"]}
                                        for u in result["unmanaged"]]
    result.update(posture.settings_view(settings))
    result.update(posture.evaluate(objects, settings, suppressions, now=now, audit_days=audit_days, names=names))
    return result
