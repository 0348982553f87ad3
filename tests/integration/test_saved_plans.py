# -*- coding: utf-8 -*-
"""Saved plans (issue 23): a dry run writes a plan, an apply applies exactly that plan or nothing.

Through playbooks/onboard_partner.yml, on the sandbox tenant and through the emulator (whose call counter proves the
writes): plan -> apply makes exactly the planned writes; a partner file edited between plan and apply changes nothing
that is applied; an out-of-band change to an object the plan was computed against makes it stale (refused, zero
writes, the object and property named) while one to an object it never read does not; an apply killed halfway is
completed by applying the same plan again; a second apply is refused as already applied; bad plan files (cut short,
edited by hand, another tenant, another format version) are refused clearly, with no write and no traceback.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from tests.integration.conftest import emulator_defaults
from tests.integration.test_onboarding import EXAMPLES, objects, playbook, recap
from tests.support.ansible_runner import BIN, REPO, ansible_env, run_tasks

ONBOARD = os.path.join(REPO, "playbooks", "onboard_partner.yml")


def partner_files(tmp_path, names=("adatum", "fabrikam")):
    folder = tmp_path / "partners"
    folder.mkdir(exist_ok=True)
    out = []
    for name in names:
        shutil.copy(os.path.join(EXAMPLES, name + ".yml"), str(folder / (name + ".yml")))
        out.append(str(folder / (name + ".yml")))
    return out


class Tenant(object):
    """One tenant for the test: an inventory host on the sandbox or behind the emulator."""

    def __init__(self, tmp_path, kind, emulator=None):
        self.kind, self.emulator, self.tmp_path = kind, emulator, tmp_path
        if emulator is not None:
            connection = dict(emulator_defaults(emulator), token_cache=False)
            self.state = emulator.state_path
        else:
            self.state = str(tmp_path / "tenant.db")
            connection = {"sandbox": self.state}
        self.inventory = str(tmp_path / "tenants.yml")
        self.connection = connection

    def write_inventory(self, files):
        with open(self.inventory, "w") as handle:
            yaml.safe_dump({"tenants": {"hosts": {"tenant_a": {"mailflow_connection": self.connection,
                                                               "partner_files": files}},
                                        "vars": {"ansible_connection": "local"}}}, handle)

    def run(self, *args):
        return playbook(ONBOARD, self.tmp_path, ["-i", self.inventory, "-e", "mailflow_validate=never"] + list(args))

    def reset(self):
        if self.emulator is not None:
            self.emulator.reset()

    def writes(self):
        if self.emulator is None:
            return None
        return dict((k, v) for k, v in self.emulator.calls()["cmdlets"].items() if not k.lower().startswith("get-"))

    def execute(self, cmdlet, parameters):
        from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
        SandboxTenant(self.state).execute(cmdlet, parameters)


@pytest.fixture(params=["sandbox", "emulator"])
def tenant(request, tmp_path):
    if request.param == "emulator":
        return Tenant(tmp_path, "emulator", request.getfixturevalue("emulator"))
    return Tenant(tmp_path, "sandbox")


def planned_commands(path):
    with open(path) as handle:
        plan = json.load(handle)
    out = {}
    for write in plan["tenants"]["tenant_a"]["writes"]:
        for command in write["commands"]:
            out[command["cmdlet"]] = out.get(command["cmdlet"], 0) + 1
    return plan, out


def failure(stdout):
    return " ".join(stdout.replace("\\n", " ").split())


def test_plan_review_apply_exactly_that_or_nothing(tmp_path, tenant):
    files = partner_files(tmp_path)
    tenant.write_inventory(files)
    plan_path = str(tmp_path / "plan.json")

    # ---- the dry run writes the plan and its rendering, and nothing to the tenant
    tenant.reset()
    dry = tenant.run("--check", "-e", "mailflow_plan_out=" + plan_path)
    assert dry.returncode == 0, dry.stdout[-4000:]
    assert not tenant.writes() if tenant.emulator else objects(tenant.state) == {}
    plan, commands = planned_commands(plan_path)
    assert plan["format"] == "m365.mailflow plan" and set(plan["tenants"]) == {"tenant_a"}
    assert commands == {"New-InboundConnector": 2, "New-OutboundConnector": 2, "Set-OutboundConnector": 2,
                        "New-TransportRule": 1}
    rendering = (tmp_path / "plan.md").read_text()
    assert "## Tenant tenant_a" in rendering and "### Fabrikam" in rendering and "```mermaid" in rendering
    assert "| sender_ip_addresses | *(not set)* | `[\"198.51.100.25\", \"203.0.113.0/28\"]` |" in rendering

    # ---- a partner file edited after the review: the apply applies the plan, not the file
    fabrikam = tmp_path / "partners" / "fabrikam.yml"
    fabrikam.write_text(fabrikam.read_text().replace("198.51.100.25", "198.51.100.99"))
    tenant.reset()
    applied = tenant.run("-e", "mailflow_plan=" + plan_path)
    assert applied.returncode == 0, applied.stdout[-4000:]
    if tenant.emulator:
        assert tenant.writes() == commands  # exactly the planned writes
    state = objects(tenant.state)
    assert sorted(name for _k, name in state) == ["Adatum - Accounting", "Adatum inbound", "Adatum outbound",
                                                  "Fabrikam inbound", "Fabrikam outbound"]
    assert state[("inbound", "Fabrikam inbound")]["SenderIPAddresses"] == ["198.51.100.25", "203.0.113.0/28"]

    # ---- the same plan again: refused as already applied, zero writes
    tenant.reset()
    again = tenant.run("-e", "mailflow_plan=" + plan_path)
    assert again.returncode != 0 and "this plan is already applied" in failure(again.stdout), again.stdout[-3000:]
    assert not tenant.writes() if tenant.emulator else objects(tenant.state) == state

    # ---- a plan for the edited file; an out-of-band change to an object it never read does not make it stale
    second = str(tmp_path / "second.json")
    assert tenant.run("--check", "-e", "mailflow_plan_out=" + second).returncode == 0
    tenant.execute("Set-InboundConnector", {"Identity": "Adatum inbound", "EFSkipLastIP": True})  # in the admin center
    tenant.reset()
    unrelated = tenant.run("-e", "mailflow_plan=" + second)
    assert unrelated.returncode == 0, unrelated.stdout[-4000:]
    if tenant.emulator:
        assert tenant.writes() == {"Set-InboundConnector": 1}
    assert objects(tenant.state)[("inbound", "Fabrikam inbound")]["SenderIPAddresses"] == [
        "198.51.100.99", "203.0.113.0/28"]

    # ---- a change in the admin center to an object the plan was computed against: stale, zero writes
    fabrikam.write_text(fabrikam.read_text().replace("198.51.100.99", "198.51.100.77"))
    third = str(tmp_path / "third.json")
    assert tenant.run("--check", "-e", "mailflow_plan_out=" + third).returncode == 0
    tenant.execute("Set-InboundConnector", {"Identity": "Fabrikam inbound", "RestrictDomainsToIPAddresses": False})
    before = objects(tenant.state)
    tenant.reset()
    stale = tenant.run("-e", "mailflow_plan=" + third)
    text = failure(stale.stdout)
    assert stale.returncode != 0 and "the plan is stale: re-run the dry run" in text, stale.stdout[-3000:]
    assert "inbound connector 'Fabrikam inbound': restrict_domains_to_ip_addresses was true and is now false" in text
    assert "Traceback" not in stale.stdout + stale.stderr
    assert objects(tenant.state) == before
    if tenant.emulator:
        assert tenant.writes() == {}


def test_bad_plan_files_are_refused_clearly(tmp_path, tenant):
    files = partner_files(tmp_path, ("litware",))
    tenant.write_inventory(files)
    plan_path = tmp_path / "plan.json"
    assert tenant.run("--check", "-e", "mailflow_plan_out=" + str(plan_path)).returncode == 0
    plan = json.loads(plan_path.read_text())
    part = plan["tenants"]["tenant_a"]
    (tmp_path / "cut.json").write_text(plan_path.read_text()[:len(plan_path.read_text()) // 2])
    edited = json.loads(json.dumps(part))
    edited["writes"][0]["commands"][0]["parameters"]["SenderDomains"] = ["evil.example"]
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    other = json.loads(json.dumps(part))
    other["tenant"]["identity"] = "rest|commercial||11111111-2222-3333-4444-555555555555"
    from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_saved
    other["checksum"] = partner_saved.checksum(dict((k, v) for k, v in other.items() if k != "checksum"))
    (tmp_path / "other.json").write_text(json.dumps(other))
    newer = json.loads(json.dumps(part))
    newer["version"] = 99
    newer["checksum"] = partner_saved.checksum(dict((k, v) for k, v in newer.items() if k != "checksum"))
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    (tmp_path / "notaplan.json").write_text(json.dumps({"partners": []}))
    tasks = [("m365.mailflow.partners", {"plan": str(tmp_path / name), "tenant_label": "tenant_a"})
             for name in ("cut.json", "edited.json", "other.json", "newer.json", "notaplan.json")]
    tenant.reset()
    run = run_tasks(tasks, str(tmp_path), module_defaults=tenant.connection)
    assert len(run.results) == 5, run.stdout[-3000:]
    messages = [r.get("msg", "") for r in run.results]
    assert all(r.get("failed") for r in run.results), messages
    assert "is not a plan: it is not complete JSON" in messages[0]
    assert "was edited or damaged after the dry run wrote it" in messages[1]
    assert "it was made for another tenant" in messages[2]
    assert "its format version is 99 and this collection knows 1" in messages[3]
    assert "this is not a plan of m365.mailflow" in messages[4]
    assert all("nothing was read or changed" in m for m in messages), messages
    assert "Traceback" not in run.stdout + run.stderr
    assert objects(tenant.state) == {} if os.path.exists(tenant.state) else True
    if tenant.emulator:
        assert tenant.emulator.calls()["cmdlets"] == {}  # refused before anything was read


def test_an_apply_killed_halfway_is_completed_by_the_same_plan(tmp_path, emulator):
    tenant = Tenant(tmp_path, "emulator", emulator)
    tenant.write_inventory(partner_files(tmp_path, ("adatum", "litware")))
    plan_path = str(tmp_path / "plan.json")
    assert tenant.run("--check", "-e", "mailflow_plan_out=" + plan_path).returncode == 0
    _plan, commands = planned_commands(plan_path)
    # The third write is held (as a connection that hangs); the apply is killed while it waits.
    emulator.reset()
    emulator.add_faults([{"kind": "timeout", "cmdlet": "New-OutboundConnector", "hold": 40, "count": 1}])
    cmd = [os.path.join(BIN, "ansible-playbook"), ONBOARD, "-i", tenant.inventory, "-e", "mailflow_validate=never",
           "-e", "mailflow_plan=" + plan_path]
    proc = subprocess.Popen(cmd, cwd=str(tmp_path), env=ansible_env(home=str(tmp_path)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not emulator.calls()["cmdlets"].get("New-OutboundConnector"):
            time.sleep(0.2)
        assert emulator.calls()["cmdlets"].get("New-OutboundConnector"), emulator.calls()["cmdlets"]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    half = sorted(name for _k, name in objects(emulator.state_path))
    assert half == ["Adatum inbound", "Litware inbound"], half  # the inbound connectors, nothing after them
    emulator.reset()
    rest = tenant.run("-e", "mailflow_plan=" + plan_path)
    assert rest.returncode == 0, rest.stdout[-4000:]
    left = dict(commands, **{"New-InboundConnector": 0})
    assert tenant.writes() == dict((k, v) for k, v in left.items() if v), tenant.writes()
    assert sorted(name for _k, name in objects(emulator.state_path)) == [
        "Adatum - Accounting", "Adatum inbound", "Adatum outbound", "Litware inbound", "Litware outbound"]
    emulator.reset()
    done = tenant.run("-e", "mailflow_plan=" + plan_path)
    assert done.returncode != 0 and "already applied" in failure(done.stdout)
    assert tenant.writes() == {}
    assert recap(rest.stdout)["tenant_a"]["failed"] == 0
