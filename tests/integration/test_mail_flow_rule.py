# -*- coding: utf-8 -*-
"""mail_flow_rule end to end, through ansible-playbook, against the sandbox tenant and the HTTPS emulator."""

from __future__ import absolute_import, division, print_function

import pytest

from tests.support.calls import writes

MODULE = "m365.mailflow.mail_flow_rule"
CONNECTOR_MODULE = "m365.mailflow.partner_outbound_connector"

CONNECTOR = {
    "name": "Adatum outbound",
    "transport_rule_scoped": True,
    "smart_hosts": ["mail.adatum.example"],
    "tls_settings": "domain_validation",
    "tls_domain": "*.adatum.example",
}

ROUTE = {
    "name": "Route Accounting to Adatum",
    "conditions": {
        "sender_ad_attribute_contains_words": ["Department:Accounting"],
        "recipient_domain_is": ["adatum.example"],
    },
    "actions": {"route_message_outbound_connector": "Adatum outbound"},
}


def rule_task(target, args, **kwargs):
    """Run one mail_flow_rule task; connection options are also given directly (independent of the action group)."""
    return target.task(MODULE, dict(target.module_defaults, **args), **kwargs)


def seed(target, *names):
    """Existing rules, created through the module (each with a condition of its own)."""
    run = target.run(*[(MODULE, dict(target.module_defaults, name=name,
                                     conditions={"subject_contains_words": ["seed %s" % name]})) for name in names])
    assert all(r.get("changed") for r in run.results), run.stdout + run.stderr
    return run


def connector(target, **changes):
    result = target.task(CONNECTOR_MODULE, dict(target.module_defaults, **dict(CONNECTOR, **changes)))
    assert not result.get("failed"), result
    return result


def test_lifecycle(target):
    connector(target)
    seed(target, "First", "Second")

    created = rule_task(target, dict(ROUTE, position={"before": "Second"}, comments="partner routing"), diff=True)
    assert created["changed"] is True and created["action"] == "create", created
    assert created["priority"] == 1
    assert created["shifted_rules"] == [{"name": "Second", "before": 1, "after": 2}]
    rule = created["rule"]
    assert rule["conditions"] == ROUTE["conditions"] and rule["actions"] == ROUTE["actions"]
    assert rule["exceptions"] == {} and rule["enabled"] is True and rule["mode"] == "enforce"
    assert rule["state"] == "present" and rule["guid"]
    assert created["diff"]["before"] == {}

    # Same rule again, written the way a user might: no change, exactly one read, no write.
    target.reset_calls()
    again = dict(ROUTE, position={"before": "second"}, comments="partner routing",
                 conditions={"sender_ad_attribute_contains_words": ["department:ACCOUNTING"],
                             "recipient_domain_is": ["ADATUM.example"]},
                 actions={"route_message_outbound_connector": "adatum outbound"})
    noop = rule_task(target, again)
    assert noop["changed"] is False and noop["action"] == "none", noop
    assert noop["commands"] == [] and noop["shifted_rules"] == [] and noop["priority"] == 1
    if target.emulator:
        assert target.calls()["cmdlets"] == {"Get-TransportRule": 1}, target.calls()

    # Check mode with a change: per-property diff, prediction, zero writes.
    target.reset_calls()
    change = dict(ROUTE, conditions=dict(ROUTE["conditions"], sender_ip_ranges=["198.51.100.0/24"]),
                  actions=dict(ROUTE["actions"], set_header={"name": "X-Routed", "value": "adatum"}))
    checked = rule_task(target, change, check=True, diff=True)
    assert checked["changed"] is True and checked["action"] == "update"
    assert checked["changed_properties"] == ["actions.set_header", "conditions.sender_ip_ranges"]
    assert checked["diff"]["before"] == {"conditions": {"sender_ip_ranges": None}, "actions": {"set_header": None}}
    assert checked["diff"]["after"] == {"conditions": {"sender_ip_ranges": ["198.51.100.0/24"]},
                                        "actions": {"set_header": {"name": "X-Routed", "value": "adatum"}}}
    assert checked["rule"]["conditions"]["sender_ip_ranges"] == ["198.51.100.0/24"]
    if target.emulator:
        assert writes(target.calls()) == {}
    assert rule_task(target, ROUTE)["changed"] is False  # nothing was written

    # Real change: one Set with only the changed parameters.
    target.reset_calls()
    updated = rule_task(target, change)
    assert updated["changed"] is True and len(updated["commands"]) == 1
    assert sorted(updated["commands"][0]["parameters"]) == ["Identity", "SenderIpRanges", "SetHeaderName", "SetHeaderValue"]
    assert updated["rule"]["actions"]["set_header"] == {"name": "X-Routed", "value": "adatum"}
    if target.emulator:
        assert writes(target.calls()) == {"Set-TransportRule": 1}
    assert rule_task(target, change)["changed"] is False

    # Clear a condition by leaving it out (purge), then an action by an explicit empty value (no purge).
    purged = rule_task(target, dict(change, conditions=ROUTE["conditions"]))
    assert purged["commands"][0]["parameters"] == {"Identity": rule["guid"], "SenderIpRanges": None}
    assert "sender_ip_ranges" not in purged["rule"]["conditions"]
    explicit = rule_task(target, {"name": ROUTE["name"], "actions": {"set_header": {}}, "purge_actions": False})
    assert explicit["commands"][0]["parameters"] == {"Identity": rule["guid"], "SetHeaderName": None, "SetHeaderValue": None}
    assert explicit["rule"]["actions"] == ROUTE["actions"]
    assert rule_task(target, ROUTE)["changed"] is False

    # Disable and enable with the dedicated cmdlets (Set-TransportRule has no Enabled).
    disabled = rule_task(target, {"name": ROUTE["name"], "enabled": False})
    assert [c["cmdlet"] for c in disabled["commands"]] == ["Disable-TransportRule"]
    assert disabled["rule"]["enabled"] is False and disabled["rule"]["conditions"] == ROUTE["conditions"]
    assert rule_task(target, {"name": ROUTE["name"], "enabled": False})["changed"] is False
    enabled = rule_task(target, {"name": ROUTE["name"], "enabled": True})
    assert [c["cmdlet"] for c in enabled["commands"]] == ["Enable-TransportRule"] and enabled["rule"]["enabled"] is True

    # Delete, then delete again.
    removed = rule_task(target, {"name": ROUTE["name"], "state": "absent"}, diff=True)
    assert removed["changed"] is True and removed["action"] == "delete" and removed["rule"] == {}
    assert removed["shifted_rules"] == [{"name": "Second", "before": 2, "after": 1}]
    assert removed["diff"]["after"] == {}
    assert rule_task(target, {"name": ROUTE["name"], "state": "absent"})["changed"] is False


def test_moving_a_rule(target):
    seed(target, "A", "B", "C", "D")
    name = {"name": "C", "conditions": {"subject_contains_words": ["seed C"]}}

    top = rule_task(target, dict(name, position="top"))
    assert top["priority"] == 0 and top["commands"][0]["parameters"]["Priority"] == 0
    assert top["shifted_rules"] == [{"name": "A", "before": 0, "after": 1}, {"name": "B", "before": 1, "after": 2}]
    assert rule_task(target, dict(name, position="top"))["changed"] is False

    bottom = rule_task(target, dict(name, position="bottom"))
    assert bottom["priority"] == 3 and [s["name"] for s in bottom["shifted_rules"]] == ["A", "B", "D"]

    before = rule_task(target, dict(name, position={"before": "D"}))  # order now A B C D
    assert before["priority"] == 2 and before["shifted_rules"] == [{"name": "D", "before": 2, "after": 3}]
    held = rule_task(target, dict(name, position={"after": "B"}))  # already directly after B
    assert held["changed"] is False and held["commands"] == []

    after = rule_task(target, dict(name, position={"after": "D"}))
    assert after["priority"] == 3 and after["shifted_rules"] == [{"name": "D", "before": 3, "after": 2}]

    by_number = rule_task(target, dict(name, priority=1), check=True, diff=True)
    assert by_number["changed"] is True and by_number["diff"]["before"] == {"priority": 3}
    assert by_number["diff"]["after"] == {"priority": 1}
    assert by_number["shifted_rules"] == [{"name": "B", "before": 1, "after": 2}, {"name": "D", "before": 2, "after": 3}]
    assert rule_task(target, dict(name, priority=1))["priority"] == 1

    # Other rules never report drift: each still matches its own definition without a priority.
    for other in ("A", "B", "D"):
        assert rule_task(target, {"name": other, "conditions": {"subject_contains_words": ["seed %s" % other]}})["changed"] is False

    out_of_range = rule_task(target, dict(name, priority=4))
    assert out_of_range["failed"] is True and "priority: 4 is out of range" in out_of_range["msg"]
    missing = rule_task(target, dict(name, position={"before": "Nope"}))
    assert missing["failed"] is True and "no mail flow rule named 'Nope'" in missing["msg"]


def test_new_rule_placed_by_priority(target):
    seed(target, "A", "B")
    created = rule_task(target, {"name": "New", "priority": 0, "conditions": {"sender_domain_is": ["x.example"]}})
    assert created["priority"] == 0
    assert created["shifted_rules"] == [{"name": "A", "before": 0, "after": 1}, {"name": "B", "before": 1, "after": 2}]


def test_rule_for_all_messages_needs_consent(target):
    refused = rule_task(target, {"name": "Tag all", "actions": {"prepend_subject": "[all] "}})
    assert refused["failed"] is True and "apply_to_all_messages: true" in refused["msg"], refused
    allowed = rule_task(target, {"name": "Tag all", "actions": {"prepend_subject": "[all] "}, "apply_to_all_messages": True})
    assert allowed["changed"] is True and allowed["rule"]["conditions"] == {}


def test_exceptions_and_pairs(target):
    args = {
        "name": "Tag external",
        "conditions": {"from_scope": "not_in_organization", "header_contains": {"header": "X-Partner", "words": ["adatum"]}},
        "exceptions": {"sender_ip_ranges": ["198.51.100.7", "203.0.113.0/24"], "sender_domain_is": ["fabrikam.example"]},
        "actions": {"prepend_subject": "[EXT] ", "set_scl": 5, "stop_rule_processing": True,
                    "reject_message": {"reason": "Not from here", "status_code": "5.7.900"}},
        "mode": "audit",
        "activation_date": "2030-01-01T10:00:00+02:00",
        "expiry_date": "2030-02-01",
    }
    created = rule_task(target, args)
    assert created["changed"] is True, created
    params = created["commands"][0]["parameters"]
    assert params["ExceptIfSenderIpRanges"] == ["198.51.100.7", "203.0.113.0/24"]
    assert params["ActivationDate"] == "2030-01-01T08:00:00" and params["Mode"] == "Audit"
    rule = created["rule"]
    assert rule["exceptions"]["sender_domain_is"] == ["fabrikam.example"]
    assert rule["conditions"]["header_contains"]["header"] == "X-Partner"
    assert rule["activation_date"] == "2030-01-01T08:00:00Z" and rule["mode"] == "audit"
    same = dict(args, exceptions={"sender_ip_ranges": ["203.0.113.0/24", "198.51.100.7/32"],
                                  "sender_domain_is": ["FABRIKAM.example"]},
                activation_date="2030-01-01T08:00:00Z")
    assert rule_task(target, same)["changed"] is False
    cleared = rule_task(target, dict(args, exceptions={}, expiry_date=""))
    assert cleared["changed"] is True
    assert cleared["rule"]["exceptions"] == {} and cleared["rule"]["expiry_date"] is None
    assert rule_task(target, dict(args, exceptions={}, expiry_date=""))["changed"] is False


@pytest.mark.parametrize("setup,fragment", [
    (None, "does not exist"),
    ({"enabled": False}, "is disabled"),
    ({"transport_rule_scoped": False, "recipient_domains": ["adatum.example"]}, "is not scoped to mail flow rules"),
], ids=["missing", "disabled", "unscoped"])
def test_routing_to_an_unusable_connector_fails_before_any_write(emulator_target, setup, fragment):
    if setup is not None:
        connector(emulator_target, **setup)
    emulator_target.reset_calls()
    result = rule_task(emulator_target, ROUTE)
    assert result["failed"] is True, result
    assert fragment in result["msg"] and "Adatum outbound" in result["msg"], result["msg"]
    calls = emulator_target.calls()
    assert writes(calls) == {}, calls
    # IncludeTestModeConnectors first (it returns every connector); a plain read only when that answer cannot prove
    # it is complete (here: an empty tenant)
    assert calls["cmdlets"].get("Get-OutboundConnector") == (2 if setup is None else 1)


def test_routing_to_a_test_mode_connector_is_found(target):
    connector(target, test_mode=True)
    created = rule_task(target, ROUTE)
    assert created["changed"] is True and not created.get("failed"), created


BAD_INPUT = [
    ({"conditions": {"sender_is_nice": True}}, "sender_is_nice"),
    ({"conditions": {"sender_ip_ranges": ["198.51.100.300"]}}, "conditions.sender_ip_ranges"),
    ({"actions": {"set_scl": 12}}, "actions.set_scl"),
    ({"actions": {"reject_message": {"reason": "no", "status_code": "4.7.1"}}}, "actions.reject_message.status_code"),
    ({"name": "r" * 65}, "name: 65 characters"),
    ({"comments": "c" * 1025}, "comments: 1025 characters"),
    ({"conditions": {"header_contains": {"header": "X-Partner"}}}, "conditions.header_contains: words missing"),
    ({"actions": {"set_header": {"value": "1"}}}, "actions.set_header: name missing"),
    ({"priority": 0, "position": "top"}, "priority and position are both set"),
    ({"activation_date": "2030-02-01", "expiry_date": "2030-01-01"}, "expiry_date"),
    ({"activation_date": "01/02/2030"}, "activation_date: '01/02/2030' is not a date"),
    ({"position": {"beside": "Other"}}, "position:"),
    ({"extra_parameters": {"RecipientDomainIs": ["x.example"]}}, "use conditions.recipient_domain_is instead"),
]


@pytest.mark.parametrize("change,fragment", BAD_INPUT, ids=[b[1][:32] for b in BAD_INPUT])
def test_bad_input_fails_before_any_call(emulator_target, change, fragment):
    args = dict(ROUTE)
    for key, value in change.items():
        args[key] = dict(ROUTE.get(key) or {}, **value) if key in ("conditions", "actions") else value
    result = rule_task(emulator_target, args)
    assert result.get("failed") is True, result
    assert fragment in result["msg"], result["msg"]
    assert "Traceback" not in result.get("module_stderr", "")
    calls = emulator_target.calls()
    assert calls["cmdlets"] == {} and calls["tokens"] == 0, calls


def test_extra_parameters(target):
    args = {"name": "Large to partner", "actions": {"prepend_subject": "[large] "},
            "extra_parameters": {"AnyOfRecipientAddressContainsWords": ["adatum"], "SetAuditSeverity": "Medium"}}
    created = rule_task(target, args)  # the extra condition counts: no apply_to_all_messages needed
    assert created["changed"] is True, created
    assert created["rule"]["extra_parameters"] == {"AnyOfRecipientAddressContainsWords": ["adatum"], "SetAuditSeverity": "Medium"}
    assert rule_task(target, args)["changed"] is False
    changed = rule_task(target, dict(args, extra_parameters={"SetAuditSeverity": "High",
                                                             "AnyOfRecipientAddressContainsWords": ["adatum"]}))
    assert changed["commands"][0]["parameters"] == {"Identity": created["rule"]["guid"], "SetAuditSeverity": "High"}


def test_lost_response_of_a_move_is_not_resent(emulator_target):
    seed(emulator_target, "A", "B", "C")
    emulator_target.emulator.add_faults([
        {"cmdlet": "Set-TransportRule", "status": 503, "count": 1, "after_execute": True}])
    moved = rule_task(emulator_target, {"name": "C", "position": "top", "conditions": {"subject_contains_words": ["seed C"]}})
    assert moved["changed"] is True and not moved.get("failed"), moved
    assert moved["priority"] == 0
    log = [c for c in emulator_target.calls()["log"] if c["cmdlet"] == "Set-TransportRule"]
    assert [c["status"] for c in log] == [503]  # applied, read back, never sent again
