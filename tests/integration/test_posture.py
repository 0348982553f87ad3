# -*- coding: utf-8 -*-
"""Mail-flow posture in the drift report, end to end (issue 25): two ``ansible-playbook`` runs of
playbooks/drift_report.yml on one seeded tenant (tests/support/posture_seed.py: one instance of every finding and a
clean twin of each).

1. Through the HTTPS emulator (REST transport, calls counted), with some findings accepted, an expired and an unused
   suppression, ``findings_fail=true``, and a second inventory host whose suppression is malformed: every finding is
   reported exactly once and the twins never, from one read per object type and no write; the JSON and Markdown
   reports carry the findings, the accepted ones and the suppressions; the job fails on the new findings (after
   writing the reports) and on the malformed record (before reading anything), each saying why.
2. Through the sandbox transport on the same tenant file, after RejectDirectSend was turned on, with every finding
   accepted: the job passes, the accepted findings are listed, the Direct Send finding is gone.
"""

from __future__ import absolute_import, division, print_function

import collections
import json
import os

import pytest
import yaml

from tests.integration.conftest import emulator_defaults
from tests.integration.test_onboarding import extra, playbook, recap
from tests.support import posture_seed

DRIFT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "playbooks",
                     "drift_report.yml")
FAR = "2099-12-31"


@pytest.fixture
def tenant(tmp_path):
    from tests.emulator import Emulator
    emu = Emulator(str(tmp_path / "tenant.db"), cert_dir=str(tmp_path / "pki"))
    emu.start()
    try:
        posture_seed.seed(emu.state_path)
        yield emu
    finally:
        emu.stop()


def write_inventory(tmp_path, name, hosts):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"tenants": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}))
    return ["-i", str(path)]


def by_id(findings):
    out = collections.defaultdict(list)
    for finding in findings:
        out[finding["id"]].append(finding["objects"])
    return dict(out)


def section(markdown, title):
    """The lines of a Markdown section (## or ###) up to the next heading of the same or a higher level."""
    lines = markdown.splitlines()
    start = lines.index(title) + 1
    level = title.split(" ")[0]
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("#") and
                len(lines[i].split(" ")[0]) <= len(level)), len(lines))
    return [line for line in lines[start:end] if line.strip()]


def test_drift_report_findings_accepted_and_failing(tmp_path, tenant):
    emu = tenant
    partner_file = tmp_path / "routed.yml"
    partner_file.write_text(yaml.safe_dump(posture_seed.ROUTED_PARTNER))
    expected = posture_seed.expected(emu.tenant_domain)
    conn = dict(emulator_defaults(emu), token_cache=False)
    accepted = [
        {"id": "outbound_any_certificate", "objects": ["Selfsigned outbound"], "reason": "self-signed until March",
         "expires": FAR},
        {"id": "outbound_domain_overlap", "objects": ["Overlap*"], "reason": "migration window", "expires": FAR},
        {"id": "rule_expired", "reason": "kept for the audit trail", "expires": "2020-01-01"},
        {"id": "outbound_test_mode", "objects": ["Nothing outbound"], "reason": "stale record", "expires": FAR},
    ]
    hosts = {
        "tenant_a": {"mailflow_connection": conn, "partner_files": [str(partner_file)],
                     "mailflow_accepted_findings": accepted, "mailflow_check_reject_direct_send": True},
        "tenant_b": {"mailflow_connection": conn, "partner_files": [str(partner_file)],
                     "mailflow_accepted_findings": [{"id": "rule_expired", "reason": "r", "expires": "soon"}]},
    }
    reports = tmp_path / "reports"
    emu.reset()
    run = playbook(DRIFT, tmp_path, write_inventory(tmp_path, "run-a.yml", hosts)
                   + extra(report_dir=str(reports), findings_fail=True, drift_fail=True))
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "Traceback" not in out, out[-4000:]
    counters = recap(run.stdout)
    assert counters["tenant_a"]["failed"] == 1 and counters["tenant_b"]["failed"] == 1, run.stdout[-3000:]
    # tenant_b: the malformed record is named by its variable and field, before anything was read
    assert "mailflow_accepted_findings[0].expires: 'soon' is not a date; write YYYY-MM-DD" in run.stdout
    # one read per object type, no write (tenant_b read nothing)
    calls = emu.calls()
    assert calls["writes"] == 0, calls["cmdlets"]
    assert dict((k.lower(), v) for k, v in calls["cmdlets"].items()) == {
        "get-inboundconnector": 1, "get-outboundconnector": 1, "get-transportrule": 1, "get-accepteddomain": 1,
        "get-organizationconfig": 1}, calls["cmdlets"]

    # ---- the JSON report: every finding once (new or accepted), the twins never
    report = json.loads((reports / "tenant_a.json").read_text())
    everything = by_id(report["findings"] + report["accepted_findings"])
    assert everything == dict((k, [v]) for k, v in expected.items())
    named = set(o for f in report["findings"] + report["accepted_findings"] for o in f["objects"])
    assert not named & set(posture_seed.TWINS)
    assert sorted(by_id(report["accepted_findings"])) == ["outbound_any_certificate", "outbound_domain_overlap"]
    overlap = [f for f in report["accepted_findings"] if f["id"] == "outbound_domain_overlap"][0]
    assert overlap["accepted"] == {"reason": "migration window", "expires": FAR,
                                   "source": "mailflow_accepted_findings[1]"}
    assert "rule_expired" in by_id(report["findings"])  # its suppression expired
    assert [(s["id"], s["status"]) for s in report["suppressions"]] == [
        ("outbound_any_certificate", "active"), ("outbound_domain_overlap", "active"), ("rule_expired", "expired"),
        ("outbound_test_mode", "unused")]
    assert report["suppressions"][2]["matched"] == [{"id": "rule_expired", "objects": ["Expired rule"]}]
    direct = [f for f in report["findings"] if f["id"] == "reject_direct_send_off"][0]
    assert direct["details"]["keeps_flowing"] == posture_seed.KEEPS_FLOWING
    selfsigned = [f for f in report["accepted_findings"] if f["id"] == "outbound_any_certificate"][0]
    assert selfsigned["partner"] == "Selfsigned" and selfsigned["fix"].startswith(
        "partner file of Selfsigned: outbound.tls_settings: certificate_validation")
    new = len(expected) - 2
    assert report["totals"]["findings_new"] == new and report["totals"]["findings_accepted"] == 2
    assert report["totals"]["suppressions_expired"] == 1
    assert report["findings_summary"]["not_checked"] == []
    assert [p["status"] for p in report["partners"]] == ["in_sync"]  # the seeded partner is as onboarding makes it

    # ---- the Markdown report: plain lines (no table) a job log can show
    markdown = (reports / "tenant_a.md").read_text()
    assert markdown.splitlines()[0] == "# Drift report: tenant_a"
    summary = section(markdown, "## Posture findings")
    assert summary[0].startswith("%d new finding(s) (high 4, medium 5, low 4), 2 accepted, 1 expired suppression(s)"
                                 % new), summary[0]
    assert not [line for line in summary if line.startswith("|")]
    lines = section(markdown, "### New findings")
    heads = [line for line in lines if line.startswith("- [")]
    assert heads == ["- [%s] %s: %s" % (f["severity"], f["id"], ", ".join(f["objects"])) for f in report["findings"]]
    assert sum(1 for line in lines if line.startswith("  - reason: ")) == new
    assert sum(1 for line in lines if line.startswith("  - fix: ")) == new
    assert section(markdown, "### Accepted findings") == [
        "- [medium] outbound_any_certificate: Selfsigned outbound; accepted until %s (mailflow_accepted_findings[0]): "
        "self-signed until March" % FAR,
        "- [medium] outbound_domain_overlap: Overlap one outbound, Overlap two outbound; accepted until %s "
        "(mailflow_accepted_findings[1]): migration window" % FAR]
    assert section(markdown, "### Suppressions to review") == [
        "- expired on 2020-01-01: rule_expired (every object), mailflow_accepted_findings[2]: kept for the audit "
        "trail; no longer accepted: Expired rule",
        "- unused: outbound_test_mode (Nothing outbound), mailflow_accepted_findings[3]: matches no finding"]
    index = (reports / "index.md").read_text()
    assert section(index, "## Posture findings") == [
        "- tenant_a: %d new (high 4, medium 5, low 4), 2 accepted, 1 expired suppression(s): "
        "[tenant_a.md](tenant_a.md)" % new,
        "- tenant_b: not read (the run failed before)"]
    # ---- the job output: the same lines, and the failure names the new findings
    assert '"- [high] inbound_domain_only: Domainonly inbound",' in run.stdout
    assert "tenant_a has %d new posture finding(s) that no suppression accepts: inbound_domain_only, " % new in run.stdout
    assert "tenant_a drifted" not in run.stdout  # drift_fail: nothing drifted

    # ---- run 2, sandbox transport, same tenant file: RejectDirectSend on, every finding accepted -> the job passes
    posture_seed.seed_setting(emu.state_path, "Set-OrganizationConfig", {"RejectDirectSend": True})
    everyone = [{"id": finding_id, "reason": "accepted for the test", "expires": FAR} for finding_id in sorted(expected)]
    hosts = {"tenant_a": {"mailflow_connection": {"sandbox": emu.state_path}, "partner_files": [str(partner_file)],
                          "mailflow_accepted_findings": everyone, "mailflow_check_reject_direct_send": True}}
    emu.reset()
    run = playbook(DRIFT, tmp_path, write_inventory(tmp_path, "run-b.yml", hosts)
                   + extra(report_dir=str(reports), findings_fail=True, drift_fail=True))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert emu.calls()["requests"] == 0  # the sandbox transport, not the emulator
    report = json.loads((reports / "tenant_a.json").read_text())
    assert report["findings"] == []
    gone = dict(expected)
    del gone["reject_direct_send_off"]  # turned on: its finding is gone, the suppression unused
    assert by_id(report["accepted_findings"]) == dict((k, [v]) for k, v in gone.items())
    statuses = dict((s["id"], s["status"]) for s in report["suppressions"])
    assert statuses.pop("reject_direct_send_off") == "unused" and set(statuses.values()) == {"active"}
    markdown = (reports / "tenant_a.md").read_text()
    assert section(markdown, "### New findings") == ["None."]
    assert len(section(markdown, "### Accepted findings")) == len(gone)
