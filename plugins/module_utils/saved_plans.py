# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan files on the controller: the plan of a whole run (one tenant plan per inventory host), read and written as
JSON, its readable rendering (Markdown, what an approver reads), and the artifact an AWX workflow carries.

A run's plan file is ``{"format": "m365.mailflow plan", "version", "created", "playbook", "collection_version",
"tenants": {<tenant label>: <tenant plan>}}``; each tenant plan is ``partner_saved``'s, with its own checksum, and is
what ``m365.mailflow.partners`` applies (``plan``). Stdlib only (used by action plugins on the controller).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.m365.mailflow.plugins.module_utils import diagram
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_saved

RUN_FORMAT = "m365.mailflow plan"
RUN_VERSION = 1
# Above this size a workflow artifact carries the plan's path and checksum instead of the plan (docs/awx.md).
ARTIFACT_MAX = 512 * 1024


class PlanFileError(Exception):
    """A plan that cannot be used, with the message that says why and what to do."""


def read(value, loader=None):
    """A plan (a run's or a tenant's) from data, or from a JSON file at the path ``value``; a workflow artifact that
    refers to a plan file (a plan too large to carry) is the plan at its path."""
    if isinstance(value, dict) and value.get("format") == RUN_FORMAT + " reference":
        plan = read(value.get("path"), loader)
        for label, digest in (value.get("tenants") or {}).items():
            if ((plan.get("tenants") or {}).get(label) or {}).get("checksum") != digest:
                raise PlanFileError("plan: the file %s is not the plan the dry run published (the part of tenant %s "
                                    "differs); nothing was read or changed" % (value.get("path"), label))
        return plan
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.strip():
        raise PlanFileError("plan: expected the plan (the data of a plan file, as an AWX workflow passes it) or the "
                            "path of a plan file, got %s; nothing was read or changed" % type(value).__name__)
    # A relative path is relative to the directory ansible-playbook was started from, as mailflow_plan_out's is.
    path = os.path.abspath(os.path.expanduser(value.strip()))
    if os.path.isdir(path):
        raise PlanFileError("plan: %s is a directory; give the plan file a dry run wrote (-e mailflow_plan_out=...); "
                            "nothing was read or changed" % value)
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (IOError, OSError) as exc:
        raise PlanFileError("plan: %s cannot be read (%s); nothing was read or changed" % (value, exc.strerror or exc))
    except UnicodeDecodeError:
        raise PlanFileError("plan: %s is not a plan (not UTF-8 text); nothing was read or changed" % value)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PlanFileError("plan: %s is not a plan: it is not complete JSON (%s; cut short or damaged?). Make the "
                            "dry run again; nothing was read or changed" % (value, exc))


def tenant_part(plan, label=None):
    """The tenant plan for ``label`` out of a run's plan (or the plan itself, when it is a tenant's)."""
    if isinstance(plan, dict) and plan.get("format") == partner_saved.FORMAT:
        return plan
    if not isinstance(plan, dict) or plan.get("format") != RUN_FORMAT:
        raise PlanFileError("plan: this is not a plan of m365.mailflow (a dry run writes one with -e "
                            "mailflow_plan_out=plan.json); nothing was read or changed")
    if plan.get("version") != RUN_VERSION:
        raise PlanFileError("plan: its format version is %s and this collection knows %d; make the dry run again with "
                            "this version of the collection; nothing was read or changed" % (plan.get("version"),
                                                                                             RUN_VERSION))
    tenants = plan.get("tenants") or {}
    if label is not None and label in tenants:
        return tenants[label]
    if label is None and len(tenants) == 1:
        return list(tenants.values())[0]
    raise PlanFileError("plan: it has no part for tenant %s (its tenants: %s); apply it to the tenants it was made "
                        "for, or make a dry run for this one; nothing was read or changed"
                        % (label, ", ".join(sorted(tenants)) or "none"))


def bundle(tenant_plans, created, playbook):
    """A run's plan from the tenant plans of its hosts."""
    versions = sorted(set(p.get("collection_version") for p in tenant_plans))
    return {"format": RUN_FORMAT, "version": RUN_VERSION, "created": created, "playbook": playbook,
            "collection_version": versions[0] if len(versions) == 1 else versions,
            "tenants": dict((p["tenant"]["label"], p) for p in tenant_plans)}


def artifact(plan, path=None, limit=ARTIFACT_MAX):
    """What a workflow carries to the apply node (``set_stats``): the plan itself, or, when its JSON is larger than
    ``limit``, its path and the checksum of each tenant's part (the apply node then needs that file)."""
    text = json.dumps(plan, sort_keys=True)
    if len(text) <= limit or not path:
        return plan
    return {"format": RUN_FORMAT + " reference", "path": path, "bytes": len(text),
            "tenants": dict((label, p.get("checksum")) for label, p in plan["tenants"].items())}


# --------------------------------------------------------------------------------------------------- Markdown

def _value(value):
    if value is None:
        return "*(not set)*"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "`%s`" % text.replace("`", "'").replace("|", "\\|")


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _info(tenant):
    """The plan's objects as mail_flow_info entries (the state the plan leaves), for the diagram."""
    kinds = {"inbound_connector": "inbound_connectors", "outbound_connector": "outbound_connectors",
             "mail_flow_rule": "mail_flow_rules"}
    info = dict((k, []) for k in kinds.values())
    owners = {}
    writes = dict(((w["kind"], w["name"].lower()), w) for w in tenant.get("writes") or [])
    for item in tenant.get("objects") or []:
        write = writes.get((item["kind"], item["name"].lower()))
        if write is not None and write["action"] == "delete":
            continue
        options = dict(item.get("values") or {}, name=item["name"])
        if write is not None:
            for change in write["changes"]:
                if change["property"] in ("priority",):
                    continue
                options[change["property"]] = change["after"]
        if item["kind"] == "mail_flow_rule":
            options = partner_saved.pp.vocab.nest(options)
        owner = item.get("partner")
        owners.setdefault(owner, True)
        info[kinds[item["kind"]]].append({"options": options, "facts": {"managed_by": owner}})
    for write in tenant.get("writes") or []:
        if write["action"] == "create" and (write["kind"], write["name"].lower()) not in set(
                (i["kind"], i["name"].lower()) for i in tenant.get("objects") or []):
            options = dict((c["property"], c["after"]) for c in write["changes"] if c["property"] != "priority")
            options["name"] = write["name"]
            if write["kind"] == "mail_flow_rule":
                options = partner_saved.pp.vocab.nest(options)
            info[kinds[write["kind"]]].append({"options": options, "facts": {"managed_by": write.get("partner")}})
    info["partners"] = [{"partner": {"name": name}} for name in sorted(o for o in owners if o)]
    info["unmanaged"] = []
    return info


def markdown(plan, path=None):
    """The plan as an approver reads it: per tenant, per partner, per object, each property before -> after, then
    the mail flow the plan leaves (Mermaid)."""
    lines = ["# Plan of %s (%s)" % (plan.get("playbook") or "the run", plan.get("created") or ""), ""]
    if path:
        lines.append("File: `%s`. Apply exactly this plan with `-e mailflow_plan=%s` (the same playbook, without "
                     "`--check`); a plan whose objects changed since is refused as stale." % (path, path))
        lines.append("")
    for label in sorted(plan.get("tenants") or {}):
        tenant = plan["tenants"][label]
        writes = tenant.get("writes") or []
        lines.append("## Tenant %s" % label)
        lines.append("")
        lines.append("Plan id `%s`, %d write(s), made by m365.mailflow %s against %d object(s) (fingerprints)."
                     % ((tenant.get("checksum") or "")[:12], sum(len(w["commands"]) for w in writes),
                        tenant.get("collection_version"), len(tenant.get("objects") or [])))
        lines.append("")
        if not writes:
            lines.append("Nothing to change: the tenant already is as the partner files say.")
            lines.append("")
            continue
        by_partner = {}
        for write in writes:
            by_partner.setdefault(write.get("partner") or "(partners no longer in the files: %s)"
                                  % (write.get("owner") or "unknown"), []).append(write)
        for partner in sorted(by_partner):
            lines.append("### %s" % _cell(partner))
            lines.append("")
            for write in by_partner[partner]:
                noun = write["kind"].replace("_", " ")
                lines.append("- **%s** %s `%s`" % (write["action"], noun, _cell(write["name"])))
                if write["changes"]:
                    lines.append("")
                    lines.append("  | property | before | after |")
                    lines.append("  |---|---|---|")
                    for change in write["changes"]:
                        lines.append("  | %s | %s | %s |" % (_cell(change["property"]), _value(change["before"]),
                                                             _value(change["after"])))
                    lines.append("")
                lines.append("  Writes: %s" % ", ".join("`%s`" % c["cmdlet"] for c in write["commands"]))
                lines.append("")
        lines.append("### Mail flow after the plan")
        lines.append("")
        lines.append("```mermaid")
        lines.append(diagram.mermaid(_info(tenant), title="%s after the plan" % label).rstrip("\n"))
        lines.append("```")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
