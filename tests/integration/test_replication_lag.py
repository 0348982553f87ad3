# -*- coding: utf-8 -*-
"""Replication lag and test-mode connectors end to end, through ansible-playbook, against the sandbox tenant and the
HTTPS emulator in lag mode (the emulator is backed by a SandboxTenant on the same file, so the tenant's
``replication_lag`` setting lags the REST path exactly like the sandbox path).

In lag mode a new object stays invisible to Get, Set, Remove, Validate and to a rule routing to it for ``LAG``
seconds, and a removed rule is still seen by its connector for as long. ``LAG`` outlasts the gap between two tasks
of a play (about 4 s here, more under load), so each play below really meets the lag, and the retry budget
(``retries`` 5, ``retry_delay`` 1: 31 s of growing pauses) outlasts ``LAG``.
"""

from __future__ import absolute_import, division, print_function

from tests.support.calls import writes

RULE = "m365.mailflow.mail_flow_rule"
OUTBOUND = "m365.mailflow.partner_outbound_connector"

LAG = 15.0
SLOW = {"retry_delay": 1.0}

CONNECTOR = {
    "name": "Adatum outbound",
    "transport_rule_scoped": True,
    "smart_hosts": ["mail.adatum.example"],
    "tls_settings": "domain_validation",
    "tls_domain": "*.adatum.example",
}

ROUTE = {
    "name": "Route Accounting to Adatum",
    "conditions": {"recipient_domain_is": ["adatum.example"]},
    "actions": {"route_message_outbound_connector": "Adatum outbound"},
}

TEST_MODE_TEXT = "test mode connector"


def lagging(target, seconds=LAG):
    target.tenant().configure(replication_lag=seconds)


def no_failures(run):
    for result in run.results:
        assert not result.get("failed"), result
    return run.results


def test_a_rule_routing_to_a_connector_created_at_once_succeeds(target):
    lagging(target)
    created, rule = no_failures(target.run((OUTBOUND, CONNECTOR), (RULE, ROUTE), defaults=SLOW))
    assert created["action"] == "create" and rule["action"] == "create", rule
    assert rule["rule"]["actions"]["route_message_outbound_connector"] == "Adatum outbound"
    if target.emulator:
        log = [(e["cmdlet"], e["status"]) for e in target.calls()["log"] if e["cmdlet"] == "New-TransportRule"]
        assert log[-1] == ("New-TransportRule", 200) and len(log) > 1, log  # refused while replicating, then taken


def test_set_right_after_new_succeeds(target):
    lagging(target)
    fabrikam = {"name": "Fabrikam outbound", "recipient_domains": ["fabrikam.example"],
                "validation_recipients": ["postmaster@fabrikam.example"]}
    first, second, third = no_failures(target.run(
        (OUTBOUND, CONNECTOR), (OUTBOUND, dict(CONNECTOR, comment="changed at once")), (OUTBOUND, fabrikam),
        defaults=SLOW))
    assert first["action"] == "create"
    assert second["action"] == "update" and second["connector"]["comment"] == "changed at once", second
    # the Set-only option goes in a Set right after New, in the same task
    assert [c["cmdlet"] for c in third["commands"]] == ["New-OutboundConnector", "Set-OutboundConnector"]
    assert third["connector"]["validation_recipients"] == ["postmaster@fabrikam.example"]
    if target.emulator:
        # the second task waited for its own new connector instead of sending New again
        assert target.calls()["cmdlets"]["New-OutboundConnector"] == 2


def test_removing_a_rule_then_its_connector_back_to_back_succeeds(target):
    no_failures(target.run((OUTBOUND, CONNECTOR), (RULE, ROUTE)))
    lagging(target)
    rule, connector = no_failures(target.run((RULE, {"name": ROUTE["name"], "state": "absent"}),
                                             (OUTBOUND, {"name": CONNECTOR["name"], "state": "absent"}), defaults=SLOW))
    assert rule["action"] == "delete" and connector["action"] == "delete" and connector["changed"] is True
    assert target.execute("Get-TransportRule", {}) == []
    if target.emulator:
        statuses = [e["status"] for e in target.calls()["log"] if e["cmdlet"] == "Remove-OutboundConnector"]
        assert statuses[-1] == 200 and 400 in statuses, statuses  # "still referenced" first, then removed


def test_a_lag_error_for_an_object_we_did_not_create_fails_at_once(target):
    lagging(target, 60.0)
    target.execute("New-OutboundConnector", {"Name": "Adatum outbound", "IsTransportRuleScoped": True,
                                             "UseMXRecord": False, "SmartHosts": ["mail.adatum.example"]})
    target.reset_calls()
    result = target.task(RULE, ROUTE, defaults=SLOW)
    assert result["failed"] is True
    assert "does not exist" in result["msg"] and "moments ago" in result["msg"], result["msg"]
    if target.emulator:
        calls = target.calls()
        assert writes(calls) == {} and calls["cmdlets"].get("Get-OutboundConnector") == 2, calls


def test_still_referenced_by_a_rule_removed_outside_the_run_is_not_retried(target):
    no_failures(target.run((OUTBOUND, CONNECTOR), (RULE, ROUTE)))
    lagging(target, 60.0)
    target.execute("Remove-TransportRule", {"Identity": ROUTE["name"], "Confirm": False})
    target.reset_calls()
    result = target.task(OUTBOUND, {"name": CONNECTOR["name"], "state": "absent"}, defaults=SLOW)
    assert result["failed"] is True and "StillReferenced" in result["exception_type"], result
    assert "replication delay" not in result["msg"]
    if target.emulator:
        assert target.calls()["cmdlets"]["Remove-OutboundConnector"] == 1


def test_test_mode_connector_no_warning_and_a_rerun_is_a_one_read_no_op(target):
    target.execute("New-OutboundConnector", {"Name": "Trial outbound", "IsTransportRuleScoped": True, "TestMode": True,
                                             "UseMXRecord": False, "SmartHosts": ["mail.trial.example"]})
    trial = {"name": "Trial outbound", "transport_rule_scoped": True, "smart_hosts": ["mail.trial.example"],
             "tls_settings": "opportunistic", "test_mode": True}
    route = dict(ROUTE, actions={"route_message_outbound_connector": "Trial outbound"})
    first = target.run((OUTBOUND, dict(trial, comment="trial")), (RULE, route))
    for result in no_failures(first):
        assert result["changed"] is True and not result.get("service_warnings"), result
    assert TEST_MODE_TEXT not in first.stdout + first.stderr
    for module, args, read in ((OUTBOUND, dict(trial, comment="trial"), "Get-OutboundConnector"),
                               (RULE, route, "Get-TransportRule")):
        target.reset_calls()
        again = target.run((module, args))
        result = no_failures(again)[0]
        assert result["changed"] is False and not result.get("service_warnings"), result
        assert TEST_MODE_TEXT not in again.stdout + again.stderr
        if target.emulator:
            assert target.calls()["cmdlets"] == {read: 1}  # the no-op makes one read and no write


def test_a_create_answered_503_after_it_ran_reports_the_create(emulator_target):
    lagging(emulator_target)
    emulator_target.emulator.add_faults([{"cmdlet": "New-OutboundConnector", "status": 503, "after_execute": True}])
    result = emulator_target.task(OUTBOUND, CONNECTOR, defaults=SLOW)
    assert result.get("failed") is not True, result
    assert result["changed"] is True and result["action"] == "create", result
    log = [e["status"] for e in emulator_target.calls()["log"] if e["cmdlet"] == "New-OutboundConnector"]
    assert log == [503, 400]  # ran once (answered 503), the resend refused as a duplicate: one New executed
    names = [c["Name"] for c in emulator_target.execute("Get-OutboundConnector", {"IncludeTestModeConnectors": True})]
    assert names == ["Adatum outbound"]
    assert emulator_target.task(OUTBOUND, CONNECTOR, defaults=SLOW)["changed"] is False


def test_the_emulator_control_api_drives_the_same_lag(emulator_target):
    emulator_target.emulator.add_faults([{"replication_delay": LAG}])
    assert emulator_target.tenant().settings()["replication_lag"] == LAG
    created, rule = no_failures(emulator_target.run((OUTBOUND, CONNECTOR), (RULE, ROUTE), defaults=SLOW))
    assert rule["action"] == "create"
    emulator_target.emulator.reset()
    assert emulator_target.tenant().settings()["replication_lag"] == 0.0


def test_issue_8_play_test_mode_connector_and_rule_by_name_and_alias_on_a_redirected_lagging_tenant(emulator_target):
    """Issue 8, "Done when": a rule-scoped test-mode connector and, at once, a rule routing to it that names its
    sender by display name and its recipient by alias; the same play again changes nothing and warns of nothing;
    then the rule and the connector are removed back to back. On a tenant that redirects to its own host and lags."""
    emulator = emulator_target.emulator
    emulator.set_redirect(True)
    emulator.add_faults([{"replication_delay": 10.0}])
    connector = {"name": "Trial route", "transport_rule_scoped": True, "test_mode": True,
                 "smart_hosts": ["mail.trial.example"], "tls_settings": "domain_validation",
                 "tls_domain": "mail.trial.example"}
    rule = {"name": "Trial rule", "conditions": {"from": ["Alice Adams"], "sent_to": ["bob"]},
            "actions": {"route_message_outbound_connector": "Trial route"}}

    def play(*tasks):
        start = len(emulator.calls()["log"])
        run = emulator_target.run(*tasks, defaults=SLOW)
        assert "[WARNING]" not in run.stdout + run.stderr and TEST_MODE_TEXT not in run.stdout + run.stderr
        for result in no_failures(run):
            assert not result.get("warnings") and not result.get("service_warnings"), result
        return run.results, emulator.calls()["log"][start:]

    (made, routed), log = play((OUTBOUND, connector), (RULE, rule))
    assert made["action"] == "create" and made["connector"]["test_mode"] is True
    assert routed["action"] == "create", routed
    assert routed["rule"]["conditions"] == {"from": ["alice@contoso.com"], "sent_to": ["bob@contoso.com"]}
    assert routed["rule"]["actions"]["route_message_outbound_connector"] == "Trial route"
    rule_writes = [e["status"] for e in log if e["cmdlet"] == "New-TransportRule"]
    assert rule_writes[-1] == 200 and len(rule_writes) > 1, rule_writes  # the lag was met, and waited out
    assert emulator.calls()["redirects"] == 1  # paid once, by the first request of the play

    (same_connector, same_rule), log = play((OUTBOUND, connector), (RULE, rule))
    assert same_connector["changed"] is False and same_rule["changed"] is False, (same_connector, same_rule)
    assert [e for e in log if not e["cmdlet"].startswith("Get-")] == []

    (rule_gone, connector_gone), log = play((RULE, {"name": "Trial rule", "state": "absent"}),
                                            (OUTBOUND, {"name": "Trial route", "state": "absent"}))
    assert rule_gone["action"] == "delete" and connector_gone["action"] == "delete", (rule_gone, connector_gone)
    removals = [e["status"] for e in log if e["cmdlet"] == "Remove-OutboundConnector"]
    assert removals[-1] == 200 and 400 in removals, removals  # "still referenced" while the removal replicated
    assert emulator_target.execute("Get-TransportRule", {}) == []
    assert emulator_target.execute("Get-OutboundConnector", {"IncludeTestModeConnectors": True}) == []
    calls = emulator.calls()
    assert calls["redirects"] == 1 and calls["hosts"]["front"] == 1, calls["hosts"]
