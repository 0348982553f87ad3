# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of ``m365.mailflow.partners``: read the tenant once, plan every partner (``resources/partner_plan``),
apply the plan and validate (``resources/partner_run``), and shape the module's result.

It sits on the floor of ``connection`` because it brings the floors below together: the plan and the run
(``resources/``) and connector validation (``validation/``), which the run calls back for each partner.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.m365.mailflow.plugins.module_utils.connection import memo_key
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format as pf
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_plan as pp
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_saved
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partners as pu
from ansible_collections.m365.mailflow.plugins.module_utils.resources import posture
from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary as vocab
from ansible_collections.m365.mailflow.plugins.module_utils.resources import tenant_view
from ansible_collections.m365.mailflow.plugins.module_utils.simulation import engine as simulation_engine
from ansible_collections.m365.mailflow.plugins.module_utils.simulation import sources as simulation_sources
from ansible_collections.m365.mailflow.plugins.module_utils.resources.partner_run import Runner
from ansible_collections.m365.mailflow.plugins.module_utils.validation.connector_validation import Validation


# How many failures the task's message lists (all of them are in the result).
LISTED = 20
# Recorded in saved plans (galaxy.yml's version; a plan says which collection made it).
COLLECTION_VERSION = "0.2.0"


def definitions(partners, sources):
    """``partners.Partner`` objects from the module's ``partners`` (already checked by the action plugin and by the
    argument spec): the data as the argument spec gives it, with the object names derived once."""
    out = []
    for index, data in enumerate(partners or []):
        source = sources[index] if sources and index < len(sources) and sources[index] else "partners[%d]" % index
        partner = pu.Partner(source, {"partner": data})
        partner.data = data
        partner.object_names = pf.object_names(data)
        out.append(partner)
    return out


def _empty_sandbox(params, check_mode):
    """A sandbox tenant file that does not exist yet is an empty tenant: a dry run (or an offboarding, which has
    nothing to remove) reads nothing and creates nothing (reading would create the file and its directory)."""
    path = params.get("sandbox")
    return bool(path) and not os.path.exists(path) and (check_mode or params.get("state") == "absent")


def plan_partners(mod):
    """(client, plan) for the module's parameters: one read of the tenant, every partner planned."""
    params = mod.params
    found = definitions(params.get("partners") or [], params.get("sources"))
    if params["state"] == "overridden" and not found:
        raise ConfigurationError("partners: an empty list with state: overridden would remove every partner's objects "
                                 "from the tenant; give the tenant's partners, or offboard partners with state: absent")
    if _empty_sandbox(params, mod.check_mode):
        client, snapshot = None, pp.Snapshot.empty()
    else:
        client = mod.client
        snapshot = pp.Snapshot.read(client)
    planner = pp.Planner(snapshot, state=params["state"], adopt=params["adopt"], force=params["force"], client=client,
                         check_mode=mod.check_mode, validation=params.get("validation_settings") or {},
                         names=None)
    plan = planner.plan(found)
    if params["state"] == "present" and params.get("report_orphans"):
        plan.listed = planner.orphans_of(found)
    return client, plan


def tenant_identity(params):
    """Which tenant a plan is for: the sandbox file, or the cloud, endpoint and tenant of a real connection."""
    return memo_key(params)


def planned_entries(plan):
    """The tenant as the run leaves it, in the mail_flow_info format (what the simulation evaluates): the objects
    read, with the plan's objects as it creates, changes or removes them, and the rules in the order it leaves them."""
    kinds = {pp.INBOUND: tenant_view.INBOUND, pp.OUTBOUND: tenant_view.OUTBOUND, pp.RULE: tenant_view.RULES}
    found = tenant_view.entries(dict((kinds[k], v) for k, v in plan.snapshot.objects.items()))
    index = dict((kind, dict((str(e["options"].get("name")).lower(), e) for e in entries))
                 for kind, entries in found.items())
    for obj in plan.objects():
        kind = kinds[obj.kind]
        key = obj.name.lower()
        if obj.action == "delete":
            index[kind].pop(key, None)
        elif obj.action in ("create", "update"):
            after = dict((k, v) for k, v in obj.after.items() if v is not None and v != [] and v != "")
            facts = dict((index[kind].get(key) or {}).get("facts") or {})
            if obj.kind == pp.RULE:
                options = vocab.nest(dict((k, v) for k, v in after.items() if k in obj.spec.props))
                options["name"] = obj.name
            else:
                options = dict((k, v) for k, v in after.items() if k in obj.spec.by_option)
                options["name"] = obj.name
                facts.setdefault("connector_type", "Partner")
            index[kind][key] = {"options": options, "facts": facts}
    order = [str(n).lower() for n in (plan.rule_order or [])]
    rules = list(index[tenant_view.RULES].values())
    rank = dict((name, i) for i, name in enumerate(order))
    for rule in rules:
        rule["facts"] = dict(rule["facts"], priority=rank.get(str(rule["options"]["name"]).lower(),
                                                              rule["facts"].get("priority")))
    return {tenant_view.INBOUND: list(index[tenant_view.INBOUND].values()),
            tenant_view.OUTBOUND: list(index[tenant_view.OUTBOUND].values()),
            tenant_view.RULES: sorted(rules, key=lambda r: (r["facts"].get("priority") is None,
                                                            r["facts"].get("priority") or 0))}


def expectations(plan, client):
    """Each partner's ``expect:`` messages evaluated against the state the run would leave (before any write); a
    message that does not come out as expected is a problem of the plan: nothing is written."""
    asked = [(p, m) for p in plan.partners for m in (p.data or {}).get("expect") or []]
    if not asked:
        return
    objects = planned_entries(plan)
    domains = simulation_sources.tenant_accepted_domains(client) if client is not None else []
    directory = None
    if client is not None and simulation_sources.directory_needed(objects):
        directory = simulation_sources.tenant_directory(client)
    result = simulation_engine.simulate(objects, [m for _p, m in asked], domains, directory)
    for (partner, raw), answer in zip(asked, result["messages"]):
        check = answer.get("expectation") or {"met": True, "mismatches": []}
        if check["met"]:
            routes = sorted(set(str((r.get("route") or {}).get("connector") or ("rejected" if r["rejected"] else "MX"))
                                for r in answer["recipients"]))
            line = "- expectation '%s': met (%s)" % (raw["name"], ", ".join(routes))
        else:
            wrong = "; ".join("%s: %s expected %s, simulated %s" % (m["recipient"], m["field"],
                                                                    simulation_engine._shown(m["expected"]),
                                                                    simulation_engine._shown(m["simulated"]))
                              for m in check["mismatches"])
            line = "- expectation '%s': NOT MET (%s)" % (raw["name"], wrong)
            index = partner.data["expect"].index(raw)
            message = "%s: expect[%d]: message '%s' would not come out as expected after this run (%s); nothing was " \
                      "written. Fix the rules or the expectation (docs/simulation.md)" % (partner.source, index,
                                                                                          raw["name"], wrong)
            partner.errors.append(message)
            plan.errors.append(message)
        partner.expectations.append({"name": raw["name"], "met": check["met"], "mismatches": check["mismatches"],
                                     "line": line})
    plan.assumptions = result.get("assumptions") or []


def findings(plan):
    """The posture findings about the run's partners' objects, from the tenant as read before the run, split by
    each partner's accepted ones (``accept:``)."""
    kinds = {pp.INBOUND: posture.INBOUND, pp.OUTBOUND: posture.OUTBOUND, pp.RULE: posture.RULES}
    found, _not_checked = posture.findings(dict((kinds[k], v) for k, v in plan.snapshot.objects.items()))
    about = {}  # object name (lower) -> the indexes of the findings that name it
    for index, finding in enumerate(found):
        for name in set(str(o).lower() for o in finding.get("objects") or []):
            about.setdefault(name, []).append(index)
    for partner in plan.partners:
        mine = [found[i] for i in sorted(set(i for _k, name, _f in partner.partner.object_names
                                             for i in about.get(name.lower(), ())))]
        if not mine:
            continue
        records = [dict(r, source="%s: accept[%d]" % (partner.source, i))
                   for i, r in enumerate((partner.data or {}).get("accept") or [])]
        applied = posture.apply_suppressions(mine, records, field="accept")
        partner.findings = applied["findings"]
        partner.accepted = applied["accepted"]


def run_partners(mod):
    params = mod.params
    if params.get("plan") is not None:
        return apply_saved(mod)
    label = _label(params)
    client, plan = plan_partners(mod)
    if not plan.errors and params["state"] != "absent":
        expectations(plan, client)
        findings(plan)
    if plan.errors:
        mod.close()
        count = len(plan.errors)
        mod.module.fail_json(
            msg="tenant %s: %d problem%s in the partner definitions or against the tenant; nothing was changed in the "
                "tenant:\n%s" % (label, count, "" if count == 1 else "s", "\n".join("- " + e for e in plan.errors)),
            problems=plan.errors, changed=False, tenant_reads=plan.snapshot.calls,
            calls=client.calls if client is not None else [],
            invocation=mod.summarised_invocation(("partners", "sources")))
    runner = Runner(client, plan, check_mode=mod.check_mode, validation=params["validation"], tenant_label=label,
                    report_orphans=params["state"] == "present" and params.get("report_orphans"))
    runner.apply()
    runner.validate(lambda settings, connector: Validation(client, settings, mod.check_mode, connector=connector))
    result = runner.result(diff_mode=mod.diff_mode)
    result["stats"] = stats(result, label, mod.check_mode)
    result["tenant_reads"] = plan.snapshot.calls
    warnings = list(plan.warnings) + list(runner.warnings)
    for partner in plan.partners:
        warnings.extend("%s: %s" % (partner.source, w) for w in partner.warnings)
    if client is not None:
        warnings.extend(w for w in client.warnings if w not in warnings)
    if warnings:
        result["service_warnings"] = warnings
    result["invocation"] = mod.summarised_invocation(("partners", "sources"))
    failed = [p for p in result["partners"] if p["failed"]]
    runtime = list(plan.errors)
    if mod.check_mode:
        result["plan"] = partner_saved.save(
            plan, tenant_identity(params), label, params["state"], params["validation"], COLLECTION_VERSION,
            result["summary"])
    if failed or runtime:
        lines = [p.get("error") or "%s (%s): the outbound connector failed validation and validation.fail_on_invalid "
                                   "is true" % (p["name"], p["source"]) for p in failed] + runtime
        result["failed"] = True
        shown = lines[:LISTED] + (["... and %d more (see partners[].error)" % (len(lines) - LISTED)]
                                  if len(lines) > LISTED else [])
        result["msg"] = ("tenant %s: %d of %d partner(s) failed; the others were %s. Re-run after fixing: the task "
                         "plans against the tenant as it then is.\n%s"
                         % (label, len(failed), len(result["partners"]), "planned" if mod.check_mode else "applied",
                            "\n".join("- " + line for line in shown)))
    else:
        totals = result["totals"]
        result["msg"] = "tenant %s: %d partner(s), %d object(s): %d to create, %d to change, %d to remove%s" % (
            label, totals["partners"], totals["objects"], totals["create"], totals["update"], totals["delete"],
            " (check mode: nothing written)" if mod.check_mode else "")
    return result


def _label(params):
    return params.get("tenant_label") or ("sandbox" if params.get("sandbox") else params.get("tenant")) or "tenant"


def apply_saved(mod):
    """Apply a saved plan (``plan``): checked before anything is read, compared with the tenant as it is now (one
    read per object type), and applied exactly, or refused with no write at all (partner_saved)."""
    params = mod.params
    label = _label(params)
    saved = partner_saved.load(params["plan"], tenant_identity(params), label)
    if _empty_sandbox(dict(params, state="present"), mod.check_mode):
        client, snapshot = None, pp.Snapshot.empty()
    else:
        client = mod.client
        snapshot = pp.Snapshot.read(client)
    stale, states = partner_saved.check(saved, snapshot)
    base = {"changed": False, "tenant_reads": snapshot.calls, "plan_id": saved["checksum"][:12],
            "invocation": mod.summarised_invocation(("plan",))}
    if stale:
        mod.close()
        mod.module.fail_json(
            msg="tenant %s: the plan is stale: re-run the dry run. Since it was made, %d change%s reached what it was "
                "computed against; nothing was written:\n%s" % (label, len(stale), "" if len(stale) == 1 else "s",
                                                                "\n".join("- " + line for line in stale)),
            stale=stale, **base)
    writes = saved["writes"]
    done = [w for w in writes if states.get((partner_saved.KINDS[w["kind"]], pp._name_key(w["name"]))) == "after"]
    if writes and len(done) == len(writes):
        mod.close()
        mod.module.fail_json(msg="tenant %s: this plan is already applied: what it writes (%d object(s)) is in the "
                                 "tenant as it planned, so nothing was written. Make a new dry run for further "
                                 "changes." % (label, len(writes)), already_applied=True, **base)
    plan = partner_saved.plan_of(saved, snapshot, states)
    runner = Runner(client, plan, check_mode=mod.check_mode, validation="never", tenant_label=label)
    runner.apply()
    settings = saved.get("validation_settings") or {}
    for item in plan.partners:
        if item.obj(pp.OUTBOUND) is not None:
            item.data = {"outbound": {}}
        item.validation = dict(settings.get(item.name) or {})
        if item.name not in (saved.get("validate") or []):
            item.validation["enabled"] = False
    runner.validation_mode = saved.get("validation") or "never"
    runner.validate(lambda s, connector: Validation(client, s, mod.check_mode, connector=connector))
    result = runner.result(diff_mode=mod.diff_mode)
    result.update(base, changed=runner.changed or (mod.check_mode and result["totals"]["writes"] > 0))
    result["stats"] = stats(result, label, mod.check_mode)
    result["applied_plan"] = {"id": saved["checksum"][:12], "writes": len(writes), "already_applied": len(done),
                              "sent": result["totals"]["writes"]}
    failed = [p for p in result["partners"] if p["failed"]] + [{"error": e} for e in plan.errors]
    if failed:
        result["failed"] = True
        result["msg"] = ("tenant %s: the plan was applied in part: %d partner(s) failed. Re-apply the same plan: it "
                         "completes what is left.\n%s" % (label, len(failed),
                                                          "\n".join("- " + (p.get("error") or "") for p in failed)))
    else:
        result["msg"] = "tenant %s: plan %s applied: %d write(s)%s" % (
            label, saved["checksum"][:12], result["totals"]["writes"],
            " (%d already applied by an earlier run)" % len(done) if done else "")
    return result


def stats(result, label, check_mode):
    """What ``set_stats`` publishes per partner for AWX workflows (``mailflow_onboarding``)."""
    out = {}
    for partner in result["partners"]:
        validation = partner.get("validation") or {}
        out["%s/%s" % (label, partner["name"])] = {
            "source": partner["source"],
            "tenant": label,
            "check_mode": check_mode,
            "objects": dict((o["name"], o["action"]) for o in partner["objects"]),
            "validated": validation.get("validated"),
            "failure_classes": validation.get("failure_classes") or [],
            "failed": partner["failed"],
        }
    return out
