# -*- coding: utf-8 -*-
"""m365.mailflow.partners: every partner of a tenant in one task (issue 21), through a real ansible-playbook.

- one read per object type and no write when nothing changes, on the emulator's call counter; check mode is the plan
  (the exact writes), zero writes, one diff per changed object;
- the summary of a rule property change shows the real before and after values;
- a partner the service refuses does not stop the others; the task fails at the end naming it; a re-run converges;
- a partner file may use the whole rule vocabulary: rules with sizes, header patterns, an HTML disclaimer, dates,
  audit mode and exceptions export to partner files that re-onboard as a no-op.
"""

from __future__ import absolute_import, division, print_function

import copy
import os

import yaml

from tests.integration.conftest import emulator_defaults
from tests.integration.test_onboarding import extra, objects, playbook, recap
from tests.support.ansible_runner import REPO, run_tasks

EXAMPLES = os.path.join(REPO, "examples", "partners")
EXPORT = os.path.join(REPO, "playbooks", "export_partners.yml")
ONBOARD = os.path.join(REPO, "playbooks", "onboard_partner.yml")
OFF = {"enabled": False}


def example(name):
    with open(os.path.join(EXAMPLES, name + ".yml")) as handle:
        partner = yaml.safe_load(handle)["partner"]
    partner["validation"] = dict(OFF)
    return partner


def task(partners, **args):
    return ("m365.mailflow.partners", dict(args, partners=partners))


def cmdlets(calls, kind):
    return dict((k, v) for k, v in calls["cmdlets"].items() if k.lower().startswith("get-") == (kind == "reads"))


def test_one_read_per_type_and_check_mode_is_the_plan(tmp_path, emulator):
    defaults = emulator_defaults(emulator)
    three = [example(n) for n in ("adatum", "fabrikam", "litware")]
    first = run_tasks([task(three)], str(tmp_path), module_defaults=defaults)
    assert first.rc == 0 and first.result["changed"], first.stdout[-3000:]
    assert first.result["totals"]["create"] == 7 and first.result["tenant_reads"] <= 4

    emulator.reset()
    again = run_tasks([task(three)], str(tmp_path), module_defaults=defaults)
    assert again.rc == 0 and not again.result["changed"], again.result
    calls = emulator.calls()
    assert calls["writes"] == 0 and sum(cmdlets(calls, "reads").values()) <= 4, calls["cmdlets"]
    assert set(cmdlets(calls, "reads")) <= {"Get-InboundConnector", "Get-OutboundConnector", "Get-TransportRule"}

    edited = copy.deepcopy(three)
    edited[1]["inbound"]["sender_ip_addresses"] = ["198.51.100.26", "203.0.113.0/28"]
    emulator.reset()
    dry = run_tasks([task(edited)], str(tmp_path), module_defaults=defaults, check=True, diff=True)
    assert dry.rc == 0 and dry.result["changed"], dry.stdout[-3000:]
    assert emulator.calls()["writes"] == 0
    changed = [(p["name"], o) for p in dry.result["partners"] for o in p["objects"] if o["action"] != "none"]
    assert len(changed) == 1 and changed[0][0] == "Fabrikam"
    fabrikam = changed[0][1]
    assert fabrikam["changes"] == [{"property": "sender_ip_addresses", "before": ["198.51.100.25", "203.0.113.0/28"],
                                    "after": ["198.51.100.26", "203.0.113.0/28"]}]
    # the plan: the exact write a real run sends
    assert [c["cmdlet"] for c in fabrikam["commands"]] == ["Set-InboundConnector"]
    assert fabrikam["commands"][0]["parameters"]["SenderIPAddresses"] == ["198.51.100.26", "203.0.113.0/28"]
    assert len(dry.result["diff"]) == 1 and dry.result["diff"][0]["before_header"] == "inbound connector Fabrikam inbound"
    real = run_tasks([task(edited)], str(tmp_path), module_defaults=defaults)
    assert emulator.calls()["cmdlets"].get("Set-InboundConnector") == 1, emulator.calls()["cmdlets"]
    assert real.result["totals"]["update"] == 1


def test_rule_property_change_shows_the_real_before_and_after(tmp_path, sandbox_target):
    adatum = example("adatum")
    assert sandbox_target.run(task([adatum])).rc == 0
    changed = copy.deepcopy(adatum)
    changed["rules"][0]["conditions"]["recipient_domain_is"] = ["adatum.example", "payroll.adatum.example"]
    changed["rules"][0]["exceptions"] = {"subject_contains_words": ["personal"]}
    run = sandbox_target.run(task([changed]), check=True)
    assert run.rc == 0, run.stdout[-3000:]
    rule = [o for o in run.result["partners"][0]["objects"] if o["kind"] == "mail_flow_rule"][0]
    assert rule["action"] == "update"
    assert {"property": "conditions.recipient_domain_is", "before": ["adatum.example"],
            "after": ["adatum.example", "payroll.adatum.example"]} in rule["changes"]
    assert {"property": "exceptions.subject_contains_words", "before": None, "after": ["personal"]} in rule["changes"]
    line = [line for line in run.result["summary"] if line.startswith("- mail flow rule 'Adatum - Accounting'")][0]
    assert ('conditions.recipient_domain_is: ["adatum.example"] -> ["adatum.example", "payroll.adatum.example"]'
            in line), line
    assert 'exceptions.subject_contains_words: null -> ["personal"]' in line, line
    # the per-object module returns the same shape
    single = sandbox_target.task("m365.mailflow.mail_flow_rule", {
        "name": "Adatum - Accounting", "comments": "Managed by m365.mailflow partner Adatum",
        "conditions": {"sender_ad_attribute_contains_words": ["Department:Accounting"],
                       "recipient_domain_is": ["adatum.example"]},
        "exceptions": {"subject_contains_words": ["private"]},
        "actions": {"route_message_outbound_connector": "Adatum outbound"}}, check=True)
    assert {"property": "exceptions.subject_contains_words", "before": None, "after": ["private"]} in single["changes"]
    assert [c["property"] for c in single["changes"]] == single["changed_properties"]


def test_a_refused_partner_does_not_stop_the_others(tmp_path, emulator):
    defaults = emulator_defaults(emulator)
    three = [example(n) for n in ("adatum", "fabrikam", "litware")]
    emulator.add_faults([{"kind": "refuse", "cmdlet": "New-OutboundConnector", "identity": "Fabrikam outbound"}])
    run = run_tasks([task(three, sources=["adatum.yml", "fabrikam.yml", "litware.yml"])], str(tmp_path),
                    module_defaults=defaults)
    assert run.result.get("failed"), run.result
    assert "1 of 3 partner(s) failed" in run.result["msg"]
    assert "fabrikam.yml: outbound connector 'Fabrikam outbound': " in run.result["msg"], run.result["msg"]
    assert "refused New-OutboundConnector" in run.result["msg"]
    names = sorted(name for _kind, name in objects(emulator.state_path))
    assert names == ["Adatum - Accounting", "Adatum inbound", "Adatum outbound", "Fabrikam inbound",
                     "Litware inbound", "Litware outbound"]
    fabrikam = [p for p in run.result["partners"] if p["name"] == "Fabrikam"][0]
    assert fabrikam["failed"] and [o.get("status") for o in fabrikam["objects"]] == [None, "failed"]
    assert not [p for p in run.result["partners"] if p["name"] != "Fabrikam" and p["failed"]]

    again = run_tasks([task(three)], str(tmp_path), module_defaults=defaults)
    assert again.rc == 0 and not again.result.get("failed"), again.result.get("msg")
    assert again.result["totals"]["create"] == 1  # only what was left: Fabrikam's outbound connector
    emulator.reset()
    third = run_tasks([task(three)], str(tmp_path), module_defaults=defaults)
    assert not third.result["changed"] and emulator.calls()["writes"] == 0


RICH = {
    "name": "Contoso",
    "inbound": {"sender_domains": ["contoso.example"], "sender_ip_addresses": ["198.51.100.40"],
                "restrict_domains_to_ip_addresses": True},
    "outbound": {"smart_hosts": ["mail.contoso.example"], "validation_recipients": ["postmaster@contoso.example"]},
    "rules": [
        {"name": "Large files", "mode": "audit",
         "activation_date": "2030-01-01T08:00:00Z", "expiry_date": "2031-06-30",
         "conditions": {"attachment_size_over": "10MB", "recipient_domain_is": ["contoso.example"]},
         "exceptions": {"header_matches_patterns": {"header": "X-Partner-Class", "patterns": ["^bulk\\d+$"]}},
         "actions": {"apply_html_disclaimer": {"text": "<p>Sent to <b>Contoso</b></p>", "location": "append",
                                               "fallback_action": "wrap"}}},
        {"name": "Urgent", "priority": 0,
         "conditions": {"with_importance": "high", "message_size_over": "1.5 GB",
                        "recipient_domain_is": ["contoso.example"]},
         "exceptions": {"from_scope": "not_in_organization"},
         "actions": {"set_header": {"name": "X-Routed", "value": "contoso"}, "prepend_subject": "[Contoso] "},
         "extra_parameters": {"SetAuditSeverity": "Low"}},
    ],
    "validation": {"enabled": False},
}


def test_rich_rules_export_to_partner_files_that_reonboard_as_a_noop(tmp_path, emulator):
    """Sizes, header patterns, an HTML disclaimer, dates, audit mode, exceptions and a rule property, through the
    partners module, exported with export_partners.yml and onboarded back from the exported file: no change, no
    write."""
    defaults = emulator_defaults(emulator)
    first = run_tasks([task([RICH])], str(tmp_path), module_defaults=defaults)
    assert first.rc == 0 and first.result["totals"]["create"] == 4, first.result.get("msg")
    conn = dict(defaults, token_cache=False)
    inventory = tmp_path / "tenants.yml"
    inventory.write_text(yaml.safe_dump({"tenants": {"hosts": {"tenant_a": {"mailflow_connection": conn}},
                                                     "vars": {"ansible_connection": "local"}}}))
    out = tmp_path / "exported"
    export = playbook(EXPORT, tmp_path, ["-i", str(inventory)] + extra(export_dir=str(out)))
    assert export.returncode == 0, export.stdout[-3000:]
    exported = yaml.safe_load((out / "tenant_a" / "contoso.yml").read_text())["partner"]
    rules = dict((r["name"], r) for r in exported["rules"])
    assert rules["Large files"]["mode"] == "audit" and rules["Large files"]["conditions"]["attachment_size_over"]
    assert rules["Large files"]["actions"]["apply_html_disclaimer"]["text"] == "<p>Sent to <b>Contoso</b></p>"
    emulator.reset()
    again = playbook(ONBOARD, tmp_path, ["-i", str(inventory)] + extra(partner_files=[str(out / "tenant_a" / "contoso.yml")]))
    assert again.returncode == 0, again.stdout[-4000:]
    assert recap(again.stdout)["tenant_a"]["changed"] == 0, again.stdout[-4000:]
    assert emulator.calls()["writes"] == 0, emulator.calls()["cmdlets"]


def test_expectations_and_findings_in_partner_files(tmp_path, sandbox_target):
    """A partner file's expect: messages are evaluated against the state the run would leave, in a dry run and before
    the first write of a real run; one not met stops the run before any write, naming the message, the expected and
    the simulated route. The posture findings about the partner's objects are in the summary, and accept: records
    list the ones its owners accepted."""
    adatum = example("adatum")
    adatum["expect"] = [
        {"name": "Accounting to Adatum", "sender": "alice@contoso.com", "sender_attributes": {"Department": "Accounting"},
         "recipients": ["payroll@adatum.example"], "expect": {"connector": "Adatum outbound"}},
        {"name": "Sales to Adatum", "sender": "bob@contoso.com", "sender_attributes": {"Department": "Sales"},
         "recipients": ["payroll@adatum.example"], "expect": {"connector": "none"}}]
    litware = example("litware")
    litware["accept"] = [{"id": "inbound_domain_only", "reason": "Litware sends from a shared provider (CHG-42)",
                          "expires": "2099-12-31"}]
    first = sandbox_target.run(task([adatum, litware]))
    assert first.rc == 0, first.stdout[-3000:]
    lines = first.result["summary"]
    assert "- expectation 'Accounting to Adatum': met (Adatum outbound)" in lines
    assert "- expectation 'Sales to Adatum': met (MX)" in lines
    # Findings come from the tenant as read before the run: none on an empty tenant; the next run sees them.
    again = sandbox_target.run(task([adatum, litware]))
    accepted = [line for line in again.result["summary"] if line.startswith("- accepted finding [inbound_domain_only]")]
    assert accepted and "Litware sends from a shared provider (CHG-42)" in accepted[0], again.result["summary"]
    litware_result = [p for p in again.result["partners"] if p["name"] == "Litware"][0]
    assert [f["id"] for f in litware_result["accepted_findings"]] == ["inbound_domain_only"]
    assert "inbound_domain_only" not in [f["id"] for f in litware_result["findings"]]

    # The rule now selects Sales instead of Accounting: the dry run shows the route each message would take, and the
    # real run stops before writing anything.
    moved = copy.deepcopy(adatum)
    moved["rules"][0]["conditions"]["sender_ad_attribute_contains_words"] = ["Department:Sales"]
    before = objects(sandbox_target.state_path)
    dry = sandbox_target.run(task([moved, litware]), check=True)
    assert dry.result.get("failed"), dry.result
    assert ("expect[0]: message 'Accounting to Adatum' would not come out as expected after this run "
            "(payroll@adatum.example: connector expected 'Adatum outbound', simulated 'none')") in dry.result["msg"]
    assert "expect[1]: message 'Sales to Adatum'" in dry.result["msg"]
    real = sandbox_target.run(task([moved, litware]))
    assert real.result.get("failed") and "nothing was written" in real.result["msg"]
    assert objects(sandbox_target.state_path) == before
