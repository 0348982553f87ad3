# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: saved_plan
short_description: Bundle the tenant plans of a dry run into one plan file, with its readable rendering
version_added: 0.2.0
author:
  - m365.mailflow contributors (@m365-mailflow)
description:
  - Takes the plans that M(m365.mailflow.partners) returns in check mode (one per tenant, RV(m365.mailflow.partners#module:plan))
    and returns the plan of the whole run, its Markdown rendering (per tenant, per partner, per object, each property
    before and after, and a diagram of the mail flow the plan leaves), and the artifact an AWX workflow carries to the
    node that applies it.
  - The onboarding and offboarding playbooks use it when C(-e mailflow_plan_out=plan.json) is given (docs/dry-runs.md);
    the files are written with M(m365.mailflow.write_files).
  - A plan that is larger than O(artifact_max) bytes as JSON travels as a reference (its path and the checksum of each
    tenant's part) instead; the node that applies it then needs the file at that path (docs/awx.md).
positional: _input
options:
  _input:
    description:
      - The tenant plans (RV(m365.mailflow.partners#module:plan) of each tenant of the run).
    type: list
    elements: dict
    required: true
  created:
    description:
      - When the plan was made (shown in the rendering and kept in the file).
    type: str
  playbook:
    description:
      - What made the plan (C(onboard_partner.yml), C(offboard_partner.yml)).
    type: str
  path:
    description:
      - Where the plan file is written (named in the rendering and in a reference artifact).
    type: str
  artifact_max:
    description:
      - Above this size (bytes of JSON) the artifact is a reference to the file instead of the plan.
    type: int
    default: 524288
"""

EXAMPLES = r"""
- name: Bundle the plans of the run
  ansible.builtin.set_fact:
    run_plan: "{{ tenant_plans | m365.mailflow.saved_plan(created=now(utc=true).isoformat(), path='plan.json') }}"
  vars:
    tenant_plans: []
"""

RETURN = r"""
_value:
  description: The run's plan, its rendering and the workflow artifact.
  type: dict
  contains:
    plan:
      description: The plan of the run (C(format), C(version), C(created), C(playbook), C(collection_version),
        C(tenants) by label), to write as JSON.
      type: dict
    markdown:
      description: The plan as an approver reads it.
      type: str
    artifact:
      description: The plan, or a reference to its file when it is larger than O(artifact_max).
      type: dict
    writes:
      description: The number of writes of the plan, all tenants together.
      type: int
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.m365.mailflow.plugins.module_utils import saved_plans


def saved_plan(plans, created=None, playbook=None, path=None, artifact_max=saved_plans.ARTIFACT_MAX):
    if not isinstance(plans, (list, tuple)) or not all(isinstance(p, dict) and p.get("tenant") for p in plans):
        raise AnsibleFilterError("saved_plan: give the list of the tenant plans that m365.mailflow.partners returns in "
                                 "check mode (plan)")
    run = saved_plans.bundle([dict(p) for p in plans], created, playbook)
    return {
        "plan": run,
        "markdown": saved_plans.markdown(run, path),
        "artifact": saved_plans.artifact(run, path, artifact_max),
        "writes": sum(len(w["commands"]) for p in plans for w in p.get("writes") or []),
    }


class FilterModule(object):
    """The saved plan filter."""

    def filters(self):
        return {"saved_plan": saved_plan}
