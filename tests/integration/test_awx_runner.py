# -*- coding: utf-8 -*-
"""The onboarding exactly as AWX runs it: ansible-runner with a private data directory.

The project is docs/awx/project (top-level wrapper playbooks that import the collection's, plus partner files); the
inventory has one tenant host; env/envvars holds what the custom credential type (docs/awx/credential_type.yml)
injects, rendered from its injectors the way AWX renders them, with the certificate and CA bundle written to files;
env/extravars holds the survey answers. Once in check mode (AWX job type "check" = --check), once for real, against
the HTTPS emulator through the REST transport.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil

import jinja2
import pytest
import yaml

from tests.support.ansible_runner import BIN, REPO, ensure_collection_link

ansible_runner = pytest.importorskip("ansible_runner")

AWX = os.path.join(REPO, "docs", "awx")
# The one task per tenant that reads, plans, writes and validates (m365.mailflow.partners).
MODULE_TASKS = ("partners",)


def credential_env(private, inputs):
    """What AWX injects for a credential of our custom type: file injectors first, then env templates."""
    with open(os.path.join(AWX, "credential_type.yml")) as handle:
        ctype = yaml.safe_load(handle)
    fields = dict((f["id"], f.get("default", "")) for f in ctype["inputs"]["fields"])
    fields.update(inputs)
    filenames = {}
    for key, template in ctype["injectors"].get("file", {}).items():
        name = key.split(".", 1)[1]
        path = os.path.join(private, "env", "tmp_cred_%s" % name)
        with open(path, "w") as handle:
            handle.write(jinja2.Template(template).render(**fields))
        os.chmod(path, 0o600)
        filenames[name] = path
    context = dict(fields, tower={"filename": filenames})
    return dict((k, jinja2.Template(v).render(**context)) for k, v in ctype["injectors"]["env"].items())


@pytest.fixture
def private_data_dir(tmp_path, emulator):
    private = tmp_path / "awx-job"
    shutil.copytree(os.path.join(AWX, "project"), str(private / "project"))
    (private / "env").mkdir()
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text(yaml.safe_dump({"all": {"hosts": {"contoso": {
        "ansible_connection": "local", "mailflow_validation": {"probe_timeout": 3}}}}}))
    with open(emulator.app["certificate_path"]) as handle:
        pem = handle.read()
    with open(emulator.ca_path) as handle:
        ca = handle.read()
    envvars = credential_env(str(private), {
        "tenant": emulator.tenant_id, "client_id": emulator.app["client_id"], "certificate": pem,
        "api_url": emulator.url, "authority_url": emulator.url, "ca_bundle": ca})
    assert envvars["EXO_CERTIFICATE_PATH"].startswith(str(private)) and envvars["EXO_CLIENT_SECRET"] == ""
    envvars.update({
        # What the execution environment provides: the collection, and a writable home for the token cache.
        "ANSIBLE_COLLECTIONS_PATH": ensure_collection_link(),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "EXO_RETRY_DELAY": "0.05",
    })
    (private / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    # Survey answers: a partner file of the project; no inline definition; every tenant of the inventory.
    (private / "env" / "extravars").write_text(yaml.safe_dump({
        "partner_file": "partners/adatum.yml", "partner_definition": "", "mailflow_hosts": "all"}))
    return str(private)


def run_job(private, check):
    os.environ["PATH"] = BIN + os.pathsep + os.environ.get("PATH", "")
    return ansible_runner.run(private_data_dir=private, playbook="onboard_partner.yml",
                              cmdline="--check --diff" if check else "--diff", quiet=True, timeout=300)


def module_events(runner, event):
    # ansible-core 2.17 sends resolved_action None for tasks that are not an action (include_tasks, meta, ...)
    return [e for e in runner.events if e["event"] == event
            and (e.get("event_data", {}).get("resolved_action") or "").split(".")[-1] in MODULE_TASKS]


def stats(runner):
    return [e for e in runner.events if e["event"] == "playbook_on_stats"][0]["event_data"]


def summary(runner):
    for event in runner.events:
        data = event.get("event_data", {})
        if event["event"] == "runner_on_ok" and data.get("task", "").startswith("Summary | contoso"):
            return data["res"]["msg"]
    return None


def test_awx_job_check_mode_then_real(private_data_dir, emulator):
    emulator.reset()
    dry = run_job(private_data_dir, check=True)
    assert dry.status == "successful" and dry.rc == 0, dry.stdout.read()
    assert not [e for e in dry.events if e["event"] == "runner_on_failed"]
    oks = module_events(dry, "runner_on_ok")
    assert len(oks) == 1 and oks[0]["event_data"]["res"]["changed"]  # one task for the tenant, which plans changes
    planned = oks[0]["event_data"]["res"]["partners"][0]["objects"]
    # Connectors and the rule are planned, with the exact writes; validation waits for the connector to exist.
    assert [(o["kind"], o["action"]) for o in planned] == [
        ("inbound_connector", "create"), ("outbound_connector", "create"), ("mail_flow_rule", "create")]
    assert stats(dry)["changed"] == {"contoso": 1}
    assert emulator.calls()["writes"] == 0, emulator.calls()["cmdlets"]
    assert summary(dry)[0] == "Adatum (partners/adatum.yml) in tenant contoso [check mode: nothing written]"
    first = [e for e in dry.events if e["event"] == "runner_on_ok"][0]["event_data"]["res"]["msg"]
    assert first == "Target: tenant %s (inventory host contoso); check mode, nothing is written" % emulator.tenant_id

    emulator.reset()
    real = run_job(private_data_dir, check=False)
    assert real.status == "successful" and real.rc == 0, real.stdout.read()
    assert not [e for e in real.events if e["event"] == "runner_on_failed"]
    oks = module_events(real, "runner_on_ok")
    assert len(oks) == 1 and oks[0]["event_data"]["res"]["changed"]
    assert stats(real)["changed"] == {"contoso": 1}
    calls = emulator.calls()["cmdlets"]
    for cmdlet in ("New-InboundConnector", "New-OutboundConnector", "New-TransportRule", "Validate-OutboundConnector"):
        assert calls.get(cmdlet) == 1, calls
    lines = summary(real)
    assert "- mail flow rule 'Adatum - Accounting': created at priority 0" in lines
    assert any(line.startswith("- validation: FAILED (resolve)") for line in lines), lines
    artifacts = stats(real)["artifact_data"]["mailflow_onboarding"]["contoso/Adatum"]
    assert artifacts["objects"] == {"Adatum inbound": "create", "Adatum outbound": "create", "Adatum - Accounting": "create"}
    assert artifacts["validated"] is False and artifacts["failure_classes"] == ["resolve"]

    again = run_job(private_data_dir, check=False)
    assert again.status == "successful" and stats(again)["changed"] == {}, json.dumps(stats(again))


# --------------------------------------------------------------------------------------------------- job slicing

def slice_dir(tmp_path, name, inventory):
    """The private data directory of one slice job: AWX runs each slice as a job of its own (its own container, its
    own token cache), with the same project and its part of the inventory."""
    private = tmp_path / name
    shutil.copytree(os.path.join(AWX, "project"), str(private / "project"))
    (private / "env").mkdir()
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text(yaml.safe_dump(inventory))
    (private / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": ensure_collection_link(), "XDG_CACHE_HOME": str(private / "cache"),
        "EXO_RETRY_DELAY": "0.05"}))
    (private / "env" / "extravars").write_text(yaml.safe_dump({"mailflow_validate": "never"}))
    return str(private)


def test_two_slices_of_one_inventory_run_at_once_and_converge(tmp_path):
    """A large estate runs as job slices (docs/awx.md): here two slices of one inventory of two tenants, as two
    ansible-runner processes started together, each onboarding its tenant's partners; both converge, and running
    both again changes nothing."""
    from tests.emulator import Emulator
    from tests.integration.conftest import emulator_defaults
    emulators = [Emulator(str(tmp_path / ("tenant-%d.db" % i)), cert_dir=str(tmp_path / ("pki-%d" % i)))
                 for i in (1, 2)]
    for emu in emulators:
        emu.start()
    try:
        hosts = {}
        for index, emu in enumerate(emulators):
            conn = dict(emulator_defaults(emu), token_cache=False)
            hosts["tenant_%d" % (index + 1)] = {
                "ansible_connection": "local", "mailflow_connection": conn,
                "partner_files": ["partners/fabrikam.yml", "partners/litware.yml"] if index else ["partners/adatum.yml"]}
        inventory = {"all": {"hosts": hosts}}
        slices = [slice_dir(tmp_path, "slice-%d" % i, inventory) for i in (1, 2)]
        os.environ["PATH"] = BIN + os.pathsep + os.environ.get("PATH", "")

        def both():
            started = [ansible_runner.run_async(private_data_dir=private, playbook="onboard_partner.yml",
                                                limit="tenant_%d" % (i + 1), quiet=True, timeout=300)
                       for i, private in enumerate(slices)]
            for thread, _runner in started:
                thread.join(timeout=320)
            return [runner for _thread, runner in started]

        first = both()
        for runner in first:
            assert runner.status == "successful" and runner.rc == 0, runner.stdout.read()
        from tests.integration.test_onboarding import objects
        assert sorted(n for _k, n in objects(emulators[0].state_path)) == [
            "Adatum - Accounting", "Adatum inbound", "Adatum outbound"]
        assert sorted(n for _k, n in objects(emulators[1].state_path)) == [
            "Fabrikam inbound", "Fabrikam outbound", "Litware inbound", "Litware outbound"]
        assert [list(stats(r)["changed"]) for r in first] == [["tenant_1"], ["tenant_2"]]
        for emu in emulators:
            emu.reset()
        again = both()
        for runner in again:
            assert runner.status == "successful" and stats(runner)["changed"] == {}, json.dumps(stats(runner))
        assert all(emu.calls()["writes"] == 0 for emu in emulators)
    finally:
        for emu in emulators:
            emu.stop()


def test_workflow_plan_then_apply_passes_the_plan_as_an_artifact(private_data_dir, emulator):
    """docs/awx.md, section 5: the plan node (job type check, mailflow_plan_out) publishes the plan as the artifact
    mailflow_plan; the apply node gets it as an extra variable and applies exactly that plan."""
    emulator.reset()
    extravars = os.path.join(private_data_dir, "env", "extravars")
    with open(extravars) as handle:
        survey = yaml.safe_load(handle)
    with open(extravars, "w") as handle:
        yaml.safe_dump(dict(survey, mailflow_plan_out="plan.json", mailflow_validate="never"), handle)
    plan_job = run_job(private_data_dir, check=True)
    assert plan_job.status == "successful", plan_job.stdout.read()
    artifact = stats(plan_job)["artifact_data"]["mailflow_plan"]
    assert artifact["format"] == "m365.mailflow plan" and list(artifact["tenants"]) == ["contoso"]
    writes = sum(len(w["commands"]) for w in artifact["tenants"]["contoso"]["writes"])
    assert emulator.calls()["writes"] == 0
    # The workflow passes the artifact to the next node as an extra variable (what AWX does with set_stats data).
    with open(extravars, "w") as handle:
        yaml.safe_dump(dict(survey, mailflow_plan=artifact, mailflow_validate="never"), handle)
    emulator.reset()
    apply_job = run_job(private_data_dir, check=False)
    assert apply_job.status == "successful", apply_job.stdout.read()
    assert emulator.calls()["writes"] == writes, emulator.calls()["cmdlets"]
    emulator.reset()
    again = run_job(private_data_dir, check=False)
    assert again.status == "failed" and emulator.calls()["writes"] == 0  # already applied: refused, nothing written
