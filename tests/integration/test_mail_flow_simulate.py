# -*- coding: utf-8 -*-
"""m365.mailflow.mail_flow_simulate on the seed scenario (issue 24), on the sandbox and behind the emulator.

The tenant holds what onboarding writes for examples/partners/adatum.yml (the rule-scoped, domain-validated
connector and the rule "Adatum - Accounting" routing Accounting's mail to it), plus an exception on that rule and a
rule in audit mode that would reject all external mail. One ansible-playbook run per target simulates: Accounting's
message routes through Adatum's connector with TLS, Sales' goes by MX, the exception stops a match, the audit rule
changes nothing, inbound mail from Adatum is attributed by its certificate (and rejected without it); the same task
in check mode gives the same answer; a failed expectation fails the task with expected and simulated side by side
and still answers every message; partner definitions laid over the tenant show the route after a changed
department. Each task reads each object type once; nothing is written (the emulator's counter proves it).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import sys

import yaml

from tests.support.ansible_runner import REPO, run_playbook
from tests.support.calls import writes

ADATUM = os.path.join(REPO, "examples", "partners", "adatum.yml")
READS = ["Get-AcceptedDomain", "Get-InboundConnector", "Get-OutboundConnector", "Get-Recipient", "Get-TransportRule"]

ACCOUNTING = {"name": "Accounting to Adatum", "sender": "anna@contoso.com", "recipients": ["payroll@adatum.example"],
              "subject": "Salaries",
              "expect": {"connector": "Adatum outbound", "rules": ["Adatum - Accounting"], "rejected": False}}
SALES = {"name": "Sales to Adatum", "sender": "sam@contoso.com", "recipients": ["payroll@adatum.example"],
         "expect": {"connector": "none", "rules": [], "rejected": False}}
PERSONAL = {"name": "Accounting, personal", "sender": "anna@contoso.com", "recipients": ["payroll@adatum.example"],
            "subject": "Personal: lunch?", "expect": {"connector": "none", "rules": []}}
FROM_ADATUM = {"name": "Invoice from Adatum", "direction": "inbound", "sender": "billing@adatum.example",
               "recipients": ["anna@contoso.com"], "tls": True, "certificate_subject": "mail.adatum.example",
               "expect": {"connector": "Adatum inbound", "rejected": False}}
SPOOFED = {"name": "Spoofed Adatum", "direction": "inbound", "sender": "billing@adatum.example",
           "recipients": ["anna@contoso.com"], "tls": True, "certificate_subject": "mx.evil.example",
           "expect": {"rejected": True}}
MESSAGES = [dict(m, sent="2026-06-01T09:00:00Z") for m in (ACCOUNTING, SALES, PERSONAL, FROM_ADATUM, SPOOFED)]


def seed(state_path):
    """The tenant after onboarding adatum.yml (written through the modules' own path), a personal-mail exception,
    an audit-mode rule, and the directory: Anna in Accounting, Sam in Sales."""
    from ansible_collections.m365.mailflow.plugins.module_utils import sandbox_seed, wire
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
    with open(ADATUM) as handle:
        partner = yaml.safe_load(handle)
    result = sandbox_seed.run(dict(
        sandbox=state_path, retries=1, retry_delay=0.01, timeout=60, token_cache=False, tenant_domain=None,
        accepted_domains=None, network=None, objects_files=None, objects=partner,
        recipients=[{"name": "Anna", "address": "anna@contoso.com", "attributes": {"Department": "Accounting"}},
                    {"name": "Sam", "address": "sam@contoso.com", "attributes": {"Department": "Sales"}}]))
    assert [o["name"] for o in result["objects"]] == ["Adatum inbound", "Adatum outbound", "Adatum - Accounting"]
    tenant = SandboxTenant(state_path)
    for cmdlet, params in (
            ("Set-TransportRule", {"Identity": "Adatum - Accounting", "ExceptIfSubjectContainsWords": ["personal"]}),
            ("New-TransportRule", {"Name": "Audit external mail", "SentToScope": "NotInOrganization",
                                   "RejectMessageReasonText": "External mail is under review", "Mode": "Audit"})):
        wire.parse_response(tenant.execute(cmdlet, params), cmdlet)


def play(target, tmp_path, tasks):
    """Run ``tasks`` ([(name, args, extra task keys)]) in one play; every registered result, in order."""
    out = str(tmp_path / ("results-%d.json" % len(list(tmp_path.glob("results-*.json")))))
    names = ["r%d" % i for i in range(len(tasks))]
    body = [dict({"name": name, "m365.mailflow.mail_flow_simulate": args, "register": reg, "ignore_errors": True},
                 **extra) for (name, args, extra), reg in zip(tasks, names)]
    save = {"name": "save", "check_mode": False,
            "mailflow_test_save": {"dest": out, "content": "{{ [%s] | to_json }}" % ", ".join(names)}}
    proc = run_playbook([{"name": "simulate", "hosts": "localhost", "gather_facts": False,
                          "vars": {"ansible_python_interpreter": sys.executable},
                          "module_defaults": {"group/m365.mailflow.exchange": target.module_defaults},
                          "tasks": [{"block": body, "always": [save]}]}], str(tmp_path))
    assert os.path.exists(out), proc.stdout[-4000:] + proc.stderr[-4000:]
    with open(out) as handle:
        return json.load(handle), proc


def answer(result, name):
    return [m for m in result["messages"] if m["name"] == name][0]


def test_seed_scenario_simulated(target, tmp_path):
    seed(target.state_path)
    with open(ADATUM) as handle:
        changed = yaml.safe_load(handle)["partner"]
    changed["rules"][0]["conditions"]["sender_ad_attribute_contains_words"] = ["Department:Sales"]
    target.reset_calls()
    results, proc = play(target, tmp_path, [
        ("the seed scenario", {"messages": MESSAGES}, {}),
        ("the same in check mode", {"messages": MESSAGES}, {"check_mode": True}),
        ("a wrong expectation", {"messages": [dict(SALES, expect={"connector": "Adatum outbound"}), ACCOUNTING]}, {}),
        ("after a dry-run change of the department",
         {"partners": [changed], "messages": [dict(SALES, expect={"connector": "Adatum outbound"}),
                                              dict(ACCOUNTING, expect={"connector": "none"})]}, {}),
    ])
    seeded, checked, wrong, planned = results
    assert not seeded.get("failed"), seeded.get("msg") or proc.stdout[-3000:]

    # Accounting's message: through Adatum's smart host, TLS with domain validation.
    accounting = answer(seeded, "Accounting to Adatum")["recipients"][0]
    assert accounting["route"]["connector"] == "Adatum outbound"
    assert accounting["route"]["smart_hosts"] == ["mail.adatum.example"]
    assert accounting["route"]["tls_settings"] == "domain_validation"
    assert accounting["route"]["tls_domain"] == "*.adatum.example" and accounting["route"]["tls_required"] is True
    assert accounting["route"]["chosen_by"] == "rule 'Adatum - Accounting' (route_message_outbound_connector)"
    rules = dict((r["name"], r) for r in accounting["rules"])
    assert rules["Adatum - Accounting"]["conditions"][0]["detail"] == \
        "sender's Department 'Accounting' contains 'Accounting'"  # read from the tenant's directory
    # The audit rule matched and changed nothing.
    assert rules["Audit external mail"]["status"] == "matched" and rules["Audit external mail"]["applied"] is False
    assert rules["Audit external mail"]["actions"][0]["effect"] == "audit mode: logged, no effect"
    assert accounting["rejected"] is False

    sales = answer(seeded, "Sales to Adatum")["recipients"][0]
    assert sales["route"]["delivery"] == "mx" and sales["route"]["connector"] is None
    assert sales["rules"][0]["status"] == "not_matched"
    assert sales["rules"][0]["reason"] == ("sender_ad_attribute_contains_words: sender's Department 'Sales' contains "
                                           "none of the values")

    personal = answer(seeded, "Accounting, personal")["recipients"][0]
    assert personal["rules"][0]["status"] == "excepted"
    assert personal["rules"][0]["exception"]["exception"] == "subject_contains_words"
    assert personal["route"]["delivery"] == "mx"

    inbound = answer(seeded, "Invoice from Adatum")["inbound"]
    assert (inbound["connector"], inbound["by"], inbound["rejected"]) == ("Adatum inbound", "certificate", False)
    spoofed = answer(seeded, "Spoofed Adatum")
    assert spoofed["inbound"]["ndr"]["status_code"] == "5.7.51" and spoofed["recipients"][0]["rejected"] is True
    assert "observed_5_7_51" in spoofed["assumptions"]
    assert seeded["summary"]["expectations"] == {"checked": 5, "met": 5, "failed": 0}
    assert seeded["changed"] is False and seeded["failed_expectations"] == []

    # Check mode: the same answer, nothing changed.
    assert checked["messages"] == seeded["messages"] and checked["changed"] is False

    # A failed expectation fails the task, side by side, and every message is still answered.
    assert wrong["failed"] is True
    assert "message 'Sales to Adatum' to payroll@adatum.example: connector expected 'Adatum outbound', " \
           "simulated 'none'" in wrong["msg"]
    assert [m["name"] for m in wrong["messages"]] == ["Sales to Adatum", "Accounting to Adatum"]
    assert wrong["messages"][1]["expectation"]["met"] is True

    # The definition with Sales instead of Accounting, laid over the tenant: the new route, nothing written.
    assert not planned.get("failed"), planned.get("msg")
    assert planned["sources"]["planned"] == [{"name": "Adatum inbound", "change": "update"},
                                             {"name": "Adatum outbound", "change": "update"},
                                             {"name": "Adatum - Accounting", "change": "update"}]
    assert answer(planned, "Sales to Adatum")["recipients"][0]["route"]["connector"] == "Adatum outbound"

    # One read per object type per task, and nothing written.
    for result in results:
        assert result["calls"] == len(READS), result.get("msg")
    if target.emulator:
        calls = target.calls()
        assert writes(calls) == {}
        assert dict((k, v) for k, v in calls["cmdlets"].items()) == dict((c, len(results)) for c in READS)
    rule = target.execute("Get-TransportRule", {"Identity": "Adatum - Accounting"})[0]
    assert rule["SenderADAttributeContainsWords"] == ["Department:Accounting"]  # the overlay wrote nothing
