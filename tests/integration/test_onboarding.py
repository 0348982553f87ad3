# -*- coding: utf-8 -*-
"""playbooks/onboard_partner.yml and offboard_partner.yml end to end, through a real ``ansible-playbook``.

Sandbox: the three example partners with no inventory (the `make demo` path), idempotency, a dry run after editing
one partner file, definition errors that stop before anything is touched, offboarding exactly one partner.
Emulator (REST transport): two tenants (two emulators) and three partners in one inventory, run with forks.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml

from tests.integration.conftest import emulator_defaults
from tests.support.ansible_runner import BIN, REPO, ansible_env

ONBOARD = os.path.join(REPO, "playbooks", "onboard_partner.yml")
OFFBOARD = os.path.join(REPO, "playbooks", "offboard_partner.yml")
EXAMPLES = os.path.join(REPO, "examples", "partners")
PARTNERS = ("adatum", "fabrikam", "litware")


def playbook(path, workdir, args=(), env=None, timeout=300):
    cmd = [os.path.join(BIN, "ansible-playbook"), path] + list(args)
    start = time.time()
    proc = subprocess.run(cmd, cwd=str(workdir), env=ansible_env(env, home=str(workdir)), capture_output=True,
                          text=True, timeout=timeout, check=False)
    proc.elapsed = time.time() - start
    return proc


def recap(stdout):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    out = {}
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", stdout, re.M):
        out[host] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", counters))
    return out


_HEADER = re.compile(r"^(?P<name>.+?) \(.*\) in tenant \S+")


def summaries(stdout):
    """The summary lines printed per tenant (one task: "Summary | <tenant>"), split by partner: {partner: [lines]} for
    each summary task (a partner onboarded into two tenants has two entries)."""
    out = {}
    results = []
    for task in stdout.split("TASK [")[1:]:
        if "Summary | " in task.split("]", 1)[0]:
            results.extend(re.findall(r"^(?:ok|changed): \[[^\]]+\] => (\{.*?\n\})", task, re.S | re.M))
    for text in results:
        lines, current = json.loads(text)["msg"], None
        for line in lines:
            match = _HEADER.match(line)
            if match and not line.startswith(("-", " ")):
                current = [line]
                out.setdefault(match.group("name"), []).append(current)
            elif current is not None:
                current.append(line)
    return out


def objects(state_path):
    """Every object in a sandbox state file: {(kind, name): data}."""
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
    tenant = SandboxTenant(state_path)
    conn = tenant._connect()
    try:
        rows = conn.execute("SELECT kind, data FROM objects").fetchall()
    finally:
        conn.close()
    return dict(((kind, json.loads(data).get("Name")), json.loads(data)) for kind, data in rows)


def copy_partners(tmp_path, names=PARTNERS):
    folder = tmp_path / "partners"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(os.path.join(EXAMPLES, name + ".yml"), str(folder / (name + ".yml")))
    return folder


def changes(calls):
    """Cmdlets that change the tenant (Validate-OutboundConnector only sends a test message)."""
    return dict((k, v) for k, v in calls["cmdlets"].items() if not k.lower().startswith(("get-", "validate-")))


def extra(**values):
    return ["-e", json.dumps(values)]


# --------------------------------------------------------------------------------------------------- sandbox

def test_demo_path_onboards_the_examples_then_changes_nothing(tmp_path):
    state = str(tmp_path / "sandbox" / "tenant.db")
    env = {"EXO_SANDBOX": state}
    first = playbook(ONBOARD, tmp_path, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = [line for line in first.stdout.splitlines() if line.strip()]
    assert lines[0].startswith("PLAY [Onboard partners | sandbox tenant (no inventory given)]"), lines[0]
    assert "Target: sandbox tenant %s (no inventory given)" % os.path.realpath(state) in first.stdout
    counts = recap(first.stdout)["localhost"]
    assert counts["failed"] == 0 and counts["changed"] == 1  # one task for the tenant: every partner in it
    assert "[WARNING]" not in first.stdout + first.stderr, first.stdout + first.stderr  # a clean run warns of nothing

    found = objects(state)
    names = sorted(name for _kind, name in found)
    assert names == ["Adatum - Accounting", "Adatum inbound", "Adatum outbound", "Fabrikam inbound",
                     "Fabrikam outbound", "Litware inbound", "Litware outbound"]
    for data in found.values():
        comment = data.get("Comment") or data.get("Comments")
        assert comment.startswith("Managed by m365.mailflow partner "), data

    summary = summaries(first.stdout)
    assert set(summary) == {"Adatum", "Fabrikam", "Litware"}
    adatum = summary["Adatum"][0]
    assert adatum[0] == "Adatum (examples/partners/adatum.yml) in tenant sandbox"
    assert "- inbound connector 'Adatum inbound': created" in adatum
    assert "- outbound connector 'Adatum outbound': created" in adatum
    assert any(line.startswith("- mail flow rule 'Adatum - Accounting': created") for line in adatum)
    # No real servers behind the example domains: validation fails, says why and how to fix, the run goes on.
    assert any(line.startswith("- validation: FAILED (resolve)") for line in adatum), adatum
    assert any("Fix:" in line for line in adatum)

    second = playbook(ONBOARD, tmp_path, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second.stdout)["localhost"]["changed"] == 0, second.stdout
    assert "- inbound connector 'Adatum inbound': unchanged" in summaries(second.stdout)["Adatum"][0]
    assert objects(state) == found


def test_dry_run_after_editing_one_partner_shows_only_that_change(tmp_path):
    state = str(tmp_path / "tenant.db")
    folder = copy_partners(tmp_path)
    files = [str(folder / (name + ".yml")) for name in PARTNERS]
    env = {"EXO_SANDBOX": state}
    assert playbook(ONBOARD, tmp_path, extra(partner_files=files), env=env).returncode == 0
    before = objects(state)

    path = folder / "fabrikam.yml"
    path.write_text(path.read_text().replace("198.51.100.25", "198.51.100.26"))
    dry = playbook(ONBOARD, tmp_path, extra(partner_files=files) + ["--check", "--diff"], env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert recap(dry.stdout)["localhost"]["changed"] == 1, dry.stdout
    assert '-        "198.51.100.25",' in dry.stdout and '+        "198.51.100.26",' in dry.stdout
    fabrikam = summaries(dry.stdout)["Fabrikam"][0]
    assert fabrikam[0].endswith("[check mode: nothing written]")
    assert any(line.startswith("- inbound connector 'Fabrikam inbound': would change (sender_ip_addresses:")
               for line in fabrikam), fabrikam
    assert "- outbound connector 'Fabrikam outbound': no change" in fabrikam
    for name in ("Adatum", "Litware"):
        assert not any("would" in line for line in summaries(dry.stdout)[name][0])
    assert objects(state) == before  # zero writes


def test_dry_run_on_an_empty_tenant_plans_everything_and_writes_nothing(tmp_path):
    state = str(tmp_path / "tenant.db")
    dry = playbook(ONBOARD, tmp_path, ["--check", "--diff"], env={"EXO_SANDBOX": state})
    assert dry.returncode == 0, dry.stdout + dry.stderr
    adatum = summaries(dry.stdout)["Adatum"][0]
    assert "- inbound connector 'Adatum inbound': would create" in adatum
    assert "- outbound connector 'Adatum outbound': would create" in adatum
    assert "- mail flow rule 'Adatum - Accounting': would create at priority 0" in adatum  # planned in full
    assert "- validation: would run once the outbound connector exists" in adatum
    assert objects(state) == {}


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["partner"].__setitem__("inboud", d["partner"].pop("inbound")),
     "bad.yml: inboud: unknown key (did you mean inbound?)"),
    (lambda d: d["partner"]["outbound"].__setitem__("tls_settings", "certificate_validation"),
     "bad.yml: outbound.tls_domain: requires tls_settings: domain_validation (it is certificate_validation)"),
    (lambda d: d["partner"]["outbound"].__setitem__("tls_settings", "strict"),
     "bad.yml: outbound.tls_settings: 'strict' (text) is not one of"),
    (lambda d: d["partner"]["outbound"].__setitem__("recipient_domains", ["adatum.example"]),
     "bad.yml: outbound.recipient_domains: cannot be combined with rules"),
    (lambda d: d["partner"]["inbound"].__setitem__("restrict_domains_to_ip_addresses", True),
     "bad.yml: inbound.restrict_domains_to_ip_addresses: requires sender_ip_addresses"),
])
def test_bad_definition_fails_before_anything_is_touched(tmp_path, edit, message):
    state = str(tmp_path / "tenant.db")
    folder = copy_partners(tmp_path, ["litware"])
    with open(os.path.join(EXAMPLES, "adatum.yml")) as handle:
        data = yaml.safe_load(handle)
    edit(data)
    (folder / "bad.yml").write_text(yaml.safe_dump(data))
    # A valid partner first: it must not be onboarded either.
    files = [str(folder / "litware.yml"), str(folder / "bad.yml")]
    run = playbook(ONBOARD, tmp_path, extra(partner_files=files), env={"EXO_SANDBOX": state})
    assert run.returncode != 0
    text = run.stdout.replace("\\n", " ")
    assert message.replace("bad.yml", str(folder / "bad.yml")) in " ".join(text.split()), run.stdout
    assert not os.path.exists(state) or objects(state) == {}


def test_offboarding_removes_exactly_that_partner(tmp_path):
    state = str(tmp_path / "tenant.db")
    env = {"EXO_SANDBOX": state}
    assert playbook(ONBOARD, tmp_path, env=env).returncode == 0
    before = objects(state)
    fabrikam = os.path.join(EXAMPLES, "fabrikam.yml")
    adatum = os.path.join(EXAMPLES, "adatum.yml")

    dry = playbook(OFFBOARD, tmp_path, extra(partner_file=adatum) + ["--check"], env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    # The rules are removed first, so the connector they route to is planned for removal after them, in one plan.
    assert summaries(dry.stdout)["Adatum"][0][1:] == ["- mail flow rule 'Adatum - Accounting': would remove",
                                                      "- outbound connector 'Adatum outbound': would remove",
                                                      "- inbound connector 'Adatum inbound': would remove"]
    assert objects(state) == before

    run = playbook(OFFBOARD, tmp_path, extra(partner_file=fabrikam), env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    after = objects(state)
    assert set(before) - set(after) == {("inbound", "Fabrikam inbound"), ("outbound", "Fabrikam outbound")}
    assert all(after[key] == before[key] for key in after)
    assert "[WARNING]" not in run.stdout + run.stderr, run.stdout + run.stderr

    run = playbook(OFFBOARD, tmp_path, extra(partner_file=adatum), env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(name for _k, name in objects(state)) == ["Litware inbound", "Litware outbound"]

    again = playbook(OFFBOARD, tmp_path, extra(partner_file=adatum), env=env)
    assert again.returncode == 0 and recap(again.stdout)["localhost"]["changed"] == 0, again.stdout


def test_offboarding_refuses_objects_the_partner_did_not_create(tmp_path):
    state = str(tmp_path / "tenant.db")
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
    SandboxTenant(state).execute("New-InboundConnector", {
        "Name": "Litware inbound", "ConnectorType": "Partner", "SenderDomains": ["litware.example"],
        "Comment": "created by hand"})
    before = objects(state)
    run = playbook(OFFBOARD, tmp_path, extra(partner_file=os.path.join(EXAMPLES, "litware.yml")),
                   env={"EXO_SANDBOX": state})
    assert run.returncode != 0
    assert "was not created by partner_onboarding for this partner" in " ".join(run.stdout.split())
    assert "Litware inbound" in run.stdout
    assert objects(state) == before


# --------------------------------------------------------------------------------------------------- emulator

@pytest.fixture
def two_tenants(tmp_path):
    from tests.emulator import Emulator
    emulators = []
    try:
        for name in ("tenant-a", "tenant-b"):
            emu = Emulator(str(tmp_path / ("%s.db" % name)), cert_dir=str(tmp_path / ("pki-" + name)))
            emu.start()
            emulators.append(emu)
        yield emulators
    finally:
        for emu in emulators:
            emu.stop()


def write_inventory(tmp_path, emulators, assignments):
    hosts = {}
    for (name, emu), files in zip(zip(("tenant_a", "tenant_b"), emulators), assignments):
        conn = emulator_defaults(emu)
        conn["token_cache"] = False
        hosts[name] = {"mailflow_connection": conn, "partner_files": files}
    group_vars = {"ansible_connection": "local", "mailflow_validation": {"probe_timeout": 3}}
    inventory = {"tenants": {"hosts": hosts, "vars": group_vars}}
    path = tmp_path / "tenants.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def test_two_tenants_three_partners_with_forks_converge(tmp_path, two_tenants):
    folder = copy_partners(tmp_path)
    inventory = write_inventory(tmp_path, two_tenants, [
        [str(folder / "adatum.yml"), str(folder / "fabrikam.yml")],
        [str(folder / "fabrikam.yml"), str(folder / "litware.yml")],
    ])
    args = ["-i", inventory, "--forks", "2"]

    dry = playbook(ONBOARD, tmp_path, args + ["--check", "--diff"])
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert [line for line in dry.stdout.splitlines() if line.strip()][0].startswith(
        "PLAY [Onboard partners | tenants from the inventory]")
    for emu in two_tenants:
        assert emu.calls()["writes"] == 0, emu.calls()["cmdlets"]

    first = playbook(ONBOARD, tmp_path, args)
    assert first.returncode == 0, first.stdout + first.stderr
    counts = recap(first.stdout)
    assert counts["tenant_a"]["changed"] == 1 and counts["tenant_b"]["changed"] == 1, first.stdout  # one task a tenant
    created = [line for partner in summaries(first.stdout).values() for lines in partner for line in lines
               if line.endswith("': created") or "': created at priority" in line]
    assert len(created) == 9, summaries(first.stdout)  # 5 objects in tenant_a, 4 in tenant_b
    a = sorted(name for _k, name in objects(two_tenants[0].state_path))
    b = sorted(name for _k, name in objects(two_tenants[1].state_path))
    assert a == ["Adatum - Accounting", "Adatum inbound", "Adatum outbound", "Fabrikam inbound", "Fabrikam outbound"]
    assert b == ["Fabrikam inbound", "Fabrikam outbound", "Litware inbound", "Litware outbound"]
    assert "Target: tenant %s (inventory host tenant_a)" % two_tenants[0].tenant_id in first.stdout

    for emu in two_tenants:
        emu.reset()
    second = playbook(ONBOARD, tmp_path, args)
    assert second.returncode == 0, second.stdout + second.stderr
    assert all(c["changed"] == 0 for c in recap(second.stdout).values()), second.stdout
    for emu in two_tenants:
        # Validate-OutboundConnector (a test message, no change to the tenant) is the only non-read call.
        assert changes(emu.calls()) == {}, emu.calls()["cmdlets"]


def test_explicit_false_in_a_partner_file_is_kept(tmp_path):
    """require_tls: false (no certificate name) reaches the connector; a default never overrides an explicit value."""
    state = str(tmp_path / "tenant.db")
    definition = {"partner": {"name": "Plain", "inbound": {"sender_domains": ["plain.example"], "require_tls": False}}}
    run = playbook(ONBOARD, tmp_path, extra(partner_definition=definition), env={"EXO_SANDBOX": state})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert objects(state)[("inbound", "Plain inbound")]["RequireTls"] is False
