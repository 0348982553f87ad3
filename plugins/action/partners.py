# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of m365.mailflow.partners: check every definition on the controller, then run the module.

The definitions are checked here, in Python, with ``module_utils/resources/partners.py`` against the partner-file
format (``partner_format.partner_options``, the module's own argument spec): unknown keys with the closest known one,
types as Ansible users write them, the cross-field rules, the resource specs' own checks, names and domains across
the partners. Every problem is reported at once, as ``<source>: <field>: <message>``, and the module (which reads and
writes the tenant) does not run. The module then gets the checked definitions and their sources. The documentation is
in plugins/modules/partners.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.m365.mailflow.plugins.plugin_utils.run_vars import empty as _empty, raw as _raw

from ansible_collections.m365.mailflow.plugins.module_utils import saved_plans
from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format as pf
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partners as pu

MODULE = "m365.mailflow.partners"


def unwrap(items, sources=None):
    """[(source, raw)] from the ``partners`` option: each a definition (the mapping under ``partner:``), a whole
    partner file (a mapping with the key ``partner``) or ``{source, definition}`` as partner_definitions returns it;
    the raw form is the partner file's (``{partner: ...}``) so the checks name the file's fields."""
    out = []
    for index, item in enumerate(items):
        source = (sources[index] if sources and index < len(sources) else None) or "partners[%d]" % index
        if isinstance(item, dict) and "definition" in item and set(item) <= {"definition", "source"}:
            out.append((str(item.get("source") or source) if not sources else source, item["definition"]))
        elif isinstance(item, dict) and set(item) == {"partner"}:
            out.append((source, item))
        else:
            out.append((source, {"partner": item}))
    return out


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = dict(self._task.args)
        report = pu.Report()
        variable = args.pop("plan_variable", None)
        if args.get("plan") is None and variable and not _empty(task_vars.get(str(variable))):
            # A plan given in a run variable (-e mailflow_plan=..., or an AWX workflow artifact) is data: taken as the
            # run gave it, never rendered as a template (it holds the partners' texts).
            args["plan"] = _raw(task_vars.get(str(variable)))
            if args.get("partners") == []:
                args.pop("partners")
        if args.get("plan") is not None:
            return self._apply(result, args, task_vars)
        items = args.get("partners")
        sources = args.get("sources")
        if items is None or not isinstance(items, (list, tuple)):
            report.error("", "partners", "expected a list of partner definitions (the mapping under partner: of a "
                                         "partner file), got %s" % pu.describe(items))
            return self._fail(result, report, args)
        if sources is not None and (not isinstance(sources, (list, tuple)) or len(sources) != len(items)):
            report.error("", "sources", "expected a list of %d source names, one per partner, got %s"
                         % (len(items), pu.describe(sources)))
            return self._fail(result, report, args)
        state = args.get("state") or "present"
        overrides = args.get("validation_settings")
        if overrides is not None:
            overrides = pu.check_options(overrides, pf.validation_overrides(), "validation_settings", report, "",
                                         strict_text=()) or {}
            for problem in n.probe_settings_problems(overrides):
                report.error("", pu.place(problem, "validation_settings", overrides), problem.message)
        partners = [pu.Partner(source, raw) for source, raw in unwrap(items, sources)]
        pu.check_definitions(partners, None, report, mode="offboard" if state == "absent" else "onboard",
                             run_validation=overrides or {})
        if report.errors:
            if report.warnings:
                result["warnings"] = list(report.warnings)
            return self._fail(result, report, args)
        module_args = dict(args)
        module_args["partners"] = [p.data for p in partners]
        module_args["sources"] = [p.source for p in partners]
        if overrides is not None:
            module_args["validation_settings"] = overrides
        outcome = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        # The module's echo of its arguments repeats every definition (megabytes for a thousand partners) and says
        # nothing the task does not already have: left out of the result.
        outcome.pop("invocation", None)
        if report.warnings:
            outcome.setdefault("warnings", [])
            outcome["warnings"] = list(report.warnings) + list(outcome["warnings"] or [])
        result.update(outcome)
        return result

    def _apply(self, result, args, task_vars):
        """A saved plan: the tenant's part of it, from the data or the file given, checked by the module (which
        reads nothing before the plan is known good)."""
        if args.get("partners") is not None:
            result.update(failed=True, changed=False, msg="partners and plan are mutually exclusive: a saved plan is "
                                                          "applied as it was made, without the partner definitions")
            return result
        try:
            tenant_plan = saved_plans.tenant_part(saved_plans.read(args["plan"], self._loader), args.get("tenant_label"))
        except saved_plans.PlanFileError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        module_args = dict(args, plan=tenant_plan)
        outcome = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        outcome.pop("invocation", None)
        result.update(outcome)
        return result

    @staticmethod
    def _fail(result, report, args):
        label = args.get("tenant_label") or "tenant"
        errors = list(report.errors)
        result.update({
            "failed": True,
            "changed": False,
            "problems": errors,
            "msg": "%s: %d problem%s in the partner definitions; nothing was read or changed in the tenant:\n%s"
                   % (label, len(errors), "" if len(errors) == 1 else "s", "\n".join("- " + e for e in errors)),
        })
        return result
