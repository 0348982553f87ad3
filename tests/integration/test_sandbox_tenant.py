# -*- coding: utf-8 -*-
"""m365.mailflow.sandbox_tenant through ansible-playbook, and the demo world of `make demo`.

Seeding from a file and from a playbook: the seeded objects are what the modules then see (the same module tasks
report no change); idempotence, check mode and diff; errors before anything is written. The demo world: its servers
on loopback (started and stopped by hacking/demo_world.py inside the test), two validations that pass with the
messages received, one failure with its class and fix, and changed=0 on the second run.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.integration.test_onboarding import EXAMPLES, ONBOARD, playbook, recap, summaries
from tests.support.ansible_runner import BIN, REPO, ansible_env

DEMO_WORLD = os.path.join(REPO, "hacking", "demo_world.py")
DEMO_PLAY = os.path.join(REPO, "examples", "demo", "sandbox_world.yml")

SEED = {
    "inbound_connectors": [{"name": "Contoso legacy inbound", "sender_domains": ["legacy.example"],
                            "sender_ip_addresses": ["198.51.100.7"], "restrict_domains_to_ip_addresses": True,
                            "facts": {"guid": "from the real tenant", "when_changed_utc": "2026-01-01T00:00:00Z"}}],
    "outbound_connectors": [{"name": "Contoso legacy outbound", "transport_rule_scoped": True,
                             "smart_hosts": ["mail.legacy.example"], "tls_settings": "encryption_only",
                             "validation_recipients": ["postmaster@legacy.example"]}],
    "mail_flow_rules": [{"name": "Legacy route",
                         "conditions": {"recipient_domain_is": ["legacy.example"], "from_member_of": ["Payroll"]},
                         "actions": {"route_message_outbound_connector": "Contoso legacy outbound"}}],
}
RECIPIENTS = [{"name": "Payroll", "address": "payroll@contoso.com", "type": "MailUniversalDistributionGroup"}]


def digest(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def module_tasks():
    """The seeded objects as module tasks with the same options (facts left out)."""
    tasks = []
    for key, module in (("inbound_connectors", "m365.mailflow.partner_inbound_connector"),
                        ("outbound_connectors", "m365.mailflow.partner_outbound_connector"),
                        ("mail_flow_rules", "m365.mailflow.mail_flow_rule")):
        for entry in SEED[key]:
            tasks.append((module, dict((k, v) for k, v in entry.items() if k != "facts")))
    return tasks


def test_seed_from_a_file_then_the_modules_see_it_and_change_nothing(sandbox_target, tmp_path):
    seed = tmp_path / "export.yml"
    seed.write_text(yaml.safe_dump(SEED))
    configure = ("m365.mailflow.sandbox_tenant", {"tenant_domain": "contoso.onmicrosoft.com", "recipients": RECIPIENTS,
                                                  "objects_files": [str(seed)]})
    dry = sandbox_target.run(configure, check=True, diff=True).result
    assert dry["changed"] is True and not os.path.exists(sandbox_target.state_path), dry
    assert [o["action"] for o in dry["objects"]] == ["create"] * 3

    first = sandbox_target.run(configure, diff=True).result
    assert first["changed"] is True, first
    assert [(o["name"], o["action"]) for o in first["objects"]] == [
        ("Contoso legacy inbound", "create"), ("Contoso legacy outbound", "create"), ("Legacy route", "create")]
    assert first["tenant"]["tenant_domain"] == "contoso.onmicrosoft.com"
    before = digest(sandbox_target.state_path)

    run = sandbox_target.run(configure, *module_tasks())
    again, modules = run.results[0], run.results[1:]
    assert again["changed"] is False and [o["action"] for o in again["objects"]] == ["none"] * 3, again
    for result in modules:
        assert result.get("failed") is not True, result
        assert result["changed"] is False and result["action"] == "none", result
    assert modules[2]["rule"]["conditions"]["from_member_of"] == ["payroll@contoso.com"]
    assert digest(sandbox_target.state_path) == before


def test_seed_from_a_playbook_with_partner_files_then_onboarding_changes_nothing(tmp_path):
    state = str(tmp_path / "sandbox" / "tenant.db")
    files = [os.path.join(EXAMPLES, name + ".yml") for name in ("adatum", "fabrikam", "litware")]
    seed_play = tmp_path / "seed.yml"
    seed_play.write_text(yaml.safe_dump([{
        "name": "Seed", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": [{"name": "Seed the sandbox with the partners already onboarded",
                   "m365.mailflow.sandbox_tenant": {"sandbox": state, "objects_files": files}}],
    }]))
    env = {"EXO_SANDBOX": state}
    seeded = playbook(str(seed_play), tmp_path, env=env)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert recap(seeded.stdout)["localhost"]["changed"] == 1
    onboard = playbook(ONBOARD, tmp_path, extra_validation_off(), env=env)
    assert onboard.returncode == 0, onboard.stdout + onboard.stderr
    assert recap(onboard.stdout)["localhost"]["changed"] == 0, onboard.stdout
    adatum = summaries(onboard.stdout)["Adatum"][0]
    assert "- inbound connector 'Adatum inbound': unchanged" in adatum
    assert "- mail flow rule 'Adatum - Accounting': unchanged" in adatum


def extra_validation_off():
    return ["-e", json.dumps({"mailflow_validation": {"enabled": False}})]


def test_refusals_name_the_option_and_write_nothing(sandbox_target, tmp_path):
    bad_seed = dict(SEED, outbound_connectors=[dict(SEED["outbound_connectors"][0], transport_rule_scoped=False,
                                                    recipient_domains=["legacy.example"])])
    run = sandbox_target.run(
        ("m365.mailflow.sandbox_tenant", {"objects": {"inbound_connectors": [{"name": "X", "sender_domain": ["x"]}]}}),
        ("m365.mailflow.sandbox_tenant", {"network": {"hosts": {"mail.x.example": "127.0.0.1:0"}}}),
        ("m365.mailflow.sandbox_tenant", {"sandbox": "", "tenant": "contoso.onmicrosoft.com",
                                          "client_id": "00000000-0000-0000-0000-000000000000",
                                          "client_secret": "not-used"}),
        ("m365.mailflow.sandbox_tenant", {"recipients": RECIPIENTS, "objects": bad_seed}),
    )
    unknown, port, real, routed = run.results
    assert unknown["failed"] and "inbound_connectors[0] (X): unknown option(s) sender_domain" in unknown["msg"]
    assert port["failed"] and "network.hosts.mail.x.example: '127.0.0.1:0' is not an address" in port["msg"]
    assert real["failed"] and "configures the embedded sandbox tenant only" in real["msg"], real
    assert "not-used" not in json.dumps(real)
    assert routed["failed"] and routed["msg"].startswith("nothing was changed in %s" % sandbox_target.state_path)
    assert not os.path.exists(sandbox_target.state_path)


# ------------------------------------------------------------------------------------------------ the demo world

def demo(tmp_path, timeout=600):
    cmd = [sys.executable, DEMO_WORLD, "--state", str(tmp_path / "world"), "--sandbox", str(tmp_path / "tenant.db"),
           "--", os.path.join(BIN, "ansible-playbook"), DEMO_PLAY, ONBOARD]
    return subprocess.run(cmd, cwd=REPO, env=ansible_env(None, home=str(tmp_path)), capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_demo_world_two_partners_pass_one_fails_with_class_and_fix(tmp_path):
    pytest.importorskip("aiosmtpd", reason="the demo world needs aiosmtpd (tests/requirements.txt)")
    first = demo(tmp_path)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr
    found = summaries(first.stdout)
    assert "- validation: passed" in found["Fabrikam"][0], found
    assert "- validation: passed" in found["Litware"][0], found
    adatum = found["Adatum"][0]
    assert "- validation: FAILED (subject_mismatch); the connector is saved anyway" in adatum, adatum
    assert any(line.strip().startswith("[subject_mismatch] certificate of mail.adatum.example does not match "
                                       "*.adatum.example. Fix: Install a certificate whose subject or SAN matches")
               and "mail.adatum-legacy.example" in line for line in adatum), adatum
    # The servers received the test messages (and kept them as files), over TLS.
    for partner, rcpt in (("fabrikam", "postmaster@fabrikam.example"), ("litware", "it@litware.example")):
        inbox = tmp_path / "world" / "received" / partner
        messages = [p.read_text() for p in inbox.iterdir()]
        assert len(messages) == 1 and "To: %s" % rcpt in messages[0], messages
        assert "Subject: Connector validation test from m365.mailflow" in messages[0]
    assert list((tmp_path / "world" / "received" / "adatum").iterdir()) == []
    assert "Fabrikam  fabrikam.example" in first.stdout and "1 message(s)" in first.stdout

    second = demo(tmp_path)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr
    assert recap(second.stdout)["localhost"]["changed"] == 0, second.stdout[-4000:]
    assert any(line.startswith("- validation: passed (recorded ") for line in summaries(second.stdout)["Fabrikam"][0])
    # The second run reads the tenant the first one left: Litware's domain-only inbound connector is a finding, a
    # sentence of its own before its fix.
    litware = [line for line in summaries(second.stdout)["Litware"][0] if line.startswith("- finding [inbound_domain_only")]
    assert len(litware) == 1 and "; Microsoft's guidance is" in litware[0], litware
    assert "this one. Fix: partner file of Litware: inbound.sender_ip_addresses" in litware[0], litware
    # Nothing of the world is left: its ports are free again.
    ports = json.loads((tmp_path / "world" / "ports.json").read_text())
    import socket
    for port in ports.values():
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
