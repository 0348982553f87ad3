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

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format as pf
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_plan as pp
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partners as pu
from ansible_collections.m365.mailflow.plugins.module_utils.resources.partner_run import Runner
from ansible_collections.m365.mailflow.plugins.module_utils.validation.connector_validation import Validation


# How many failures the task's message lists (all of them are in the result).
LISTED = 20


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
    found = definitions(params["partners"], params.get("sources"))
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


def run_partners(mod):
    params = mod.params
    label = params.get("tenant_label") or ("sandbox" if params.get("sandbox") else params.get("tenant")) or "tenant"
    client, plan = plan_partners(mod)
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
    runtime = [e for e in plan.errors]
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
