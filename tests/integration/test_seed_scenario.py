# -*- coding: utf-8 -*-
"""The seed scenario: route Adatum-bound mail from Accounting through a rule-scoped, domain-validated connector.

Adatum's outbound connector is scoped to mail flow rules and delivers to the smart host mail.adatum.example with
domain validation of *.adatum.example; a rule sends it only messages from senders whose Department is Accounting
to recipients in adatum.example, placed before a rule that already exists. A second run changes nothing; check
mode on a changed definition shows a per-property diff and writes nothing.
"""

from __future__ import absolute_import, division, print_function

from tests.support.calls import writes

CONNECTOR = ("m365.mailflow.partner_outbound_connector", {
    "name": "Adatum outbound",
    "transport_rule_scoped": True,
    "smart_hosts": ["mail.adatum.example"],
    "tls_settings": "domain_validation",
    "tls_domain": "*.adatum.example",
})
RULE = ("m365.mailflow.mail_flow_rule", {
    "name": "Route Accounting to Adatum",
    "conditions": {
        "sender_ad_attribute_contains_words": ["Department:Accounting"],
        "recipient_domain_is": ["adatum.example"],
    },
    "actions": {"route_message_outbound_connector": "Adatum outbound"},
    "position": {"before": "Append disclaimer"},
})
EXISTING = ("m365.mailflow.mail_flow_rule", {
    "name": "Append disclaimer",
    "conditions": {"sent_to_scope": "not_in_organization"},
    "actions": {"set_header": {"name": "X-Disclaimer", "value": "appended"}},
})


def tasks(target, *items):
    # connection options also given directly, so the tasks do not depend on the action group
    return [(module, dict(target.module_defaults, **args)) for module, args in items]


def test_seed_scenario(target):
    assert target.task(*tasks(target, EXISTING)[0])["changed"] is True

    # The whole play in check mode first: the connector does not exist yet, so the rule warns instead of failing.
    target.reset_calls()
    dry = target.run(*tasks(target, CONNECTOR, RULE), check=True, diff=True)
    assert [r["changed"] for r in dry.results] == [True, True], dry.stdout
    assert "does not exist" in dry.results[1]["service_warnings"][0]
    assert dry.results[1]["priority"] == 0
    assert dry.results[1]["shifted_rules"] == [{"name": "Append disclaimer", "before": 0, "after": 1}]
    if target.emulator:
        assert writes(target.calls()) == {}

    first = target.run(*tasks(target, EXISTING, CONNECTOR, RULE), diff=True)
    existing, connector, rule = first.results
    assert not any(r.get("failed") for r in first.results), first.stdout + first.stderr
    assert existing["changed"] is False and existing["priority"] == 0
    assert connector["changed"] is True and connector["connector"]["transport_rule_scoped"] is True
    assert connector["connector"]["smart_hosts"] == ["mail.adatum.example"]
    assert connector["connector"]["tls_settings"] == "domain_validation"
    assert connector["connector"]["tls_domain"] == "*.adatum.example"
    assert rule["changed"] is True and rule["action"] == "create"
    assert rule["priority"] == 0
    assert rule["shifted_rules"] == [{"name": "Append disclaimer", "before": 0, "after": 1}]
    assert rule["rule"]["conditions"] == RULE[1]["conditions"]
    assert rule["rule"]["actions"] == RULE[1]["actions"]
    new = rule["commands"][0]["parameters"]
    assert new["SenderADAttributeContainsWords"] == ["Department:Accounting"]
    assert new["RecipientDomainIs"] == ["adatum.example"]
    assert new["RouteMessageOutboundConnector"] == "Adatum outbound" and new["Priority"] == 0

    # Second run of the whole play: nothing changes, nothing is written.
    target.reset_calls()
    second = target.run(*tasks(target, EXISTING, CONNECTOR, RULE))
    assert [r["changed"] for r in second.results] == [False, False, False], second.stdout
    assert second.results[2]["shifted_rules"] == [] and second.results[2]["priority"] == 0
    if target.emulator:
        assert writes(target.calls()) == {}

    # Check mode on a changed definition: per-property diff, zero writes.
    target.reset_calls()
    changed_rule = ("m365.mailflow.mail_flow_rule", dict(RULE[1], conditions=dict(
        RULE[1]["conditions"], recipient_domain_is=["adatum.example", "eu.adatum.example"]), comments="seed"))
    checked = target.run(*tasks(target, CONNECTOR, changed_rule), check=True, diff=True)
    connector_check, rule_check = checked.results
    assert connector_check["changed"] is False
    assert rule_check["changed"] is True and rule_check["action"] == "update"
    assert rule_check["changed_properties"] == ["comments", "conditions.recipient_domain_is"]
    assert rule_check["diff"]["before"] == {"comments": None, "conditions": {"recipient_domain_is": ["adatum.example"]}}
    assert rule_check["diff"]["after"] == {"comments": "seed", "conditions": {
        "recipient_domain_is": ["adatum.example", "eu.adatum.example"]}}
    assert rule_check["shifted_rules"] == []
    if target.emulator:
        assert writes(target.calls()) == {}
    assert target.run(*tasks(target, RULE)).result["changed"] is False  # nothing was written
