# -*- coding: utf-8 -*-
"""partner_outbound_connector end to end, through ansible-playbook, against the sandbox and the emulator."""

from __future__ import absolute_import, division, print_function

import pytest

from tests.support.calls import writes

MODULE = "m365.mailflow.partner_outbound_connector"

ADATUM = {
    "name": "Adatum outbound",
    "transport_rule_scoped": True,
    "smart_hosts": ["mail.adatum.example"],
    "tls_settings": "domain_validation",
    "tls_domain": "*.adatum.example",
}


def test_lifecycle(target):
    created = target.task(MODULE, dict(ADATUM, validation_recipients=["postmaster@adatum.example"]))
    assert created["changed"] is True and created["action"] == "create", created
    assert [c["cmdlet"] for c in created["commands"]] == ["New-OutboundConnector", "Set-OutboundConnector"]
    assert "ValidationRecipients" not in created["commands"][0]["parameters"]
    assert created["commands"][0]["parameters"]["UseMXRecord"] is False
    assert created["commands"][0]["parameters"]["TlsSettings"] == "DomainValidation"
    connector = created["connector"]
    assert connector["validation_recipients"] == ["postmaster@adatum.example"]
    assert connector["tls_settings"] == "domain_validation" and connector["use_mx_record"] is False

    target.reset_calls()
    noop = target.task(MODULE, dict(ADATUM, smart_hosts=["MAIL.adatum.example"], tls_domain="*.ADATUM.example"))
    assert noop["changed"] is False, noop
    if target.emulator:
        assert writes(target.calls()) == {}

    target.reset_calls()
    change = dict(ADATUM, comment="routed by rule", smart_hosts=["mail.adatum.example", "mail2.adatum.example"])
    checked = target.task(MODULE, change, check=True, diff=True)
    assert checked["changed"] is True and checked["changed_properties"] == ["comment", "smart_hosts"]
    assert checked["diff"]["after"]["smart_hosts"] == ["mail.adatum.example", "mail2.adatum.example"]
    if target.emulator:
        assert writes(target.calls()) == {}

    updated = target.task(MODULE, change)
    assert updated["changed"] is True and len(updated["commands"]) == 1
    assert sorted(updated["commands"][0]["parameters"]) == ["Comment", "Identity", "SmartHosts"]
    assert target.task(MODULE, change)["changed"] is False

    assert target.task(MODULE, {"name": ADATUM["name"], "state": "absent"})["changed"] is True
    assert target.task(MODULE, {"name": ADATUM["name"], "state": "absent"})["changed"] is False


def test_secure_default_is_certificate_validation(target):
    result = target.task(MODULE, {"name": "Fabrikam outbound", "recipient_domains": ["fabrikam.example"]})
    assert result["connector"]["tls_settings"] == "certificate_validation"
    assert result["connector"]["use_mx_record"] is True
    opportunistic = target.task(MODULE, {"name": "Fabrikam outbound", "recipient_domains": ["fabrikam.example"],
                                         "tls_settings": "opportunistic"})
    assert opportunistic["changed"] is True
    assert opportunistic["commands"][0]["parameters"]["TlsSettings"] is None
    assert opportunistic["connector"]["tls_settings"] == "opportunistic"
    again = target.task(MODULE, {"name": "Fabrikam outbound", "recipient_domains": ["fabrikam.example"],
                                 "tls_settings": "opportunistic"})
    assert again["changed"] is False


def test_switching_to_rule_scope_clears_domains_in_one_call(target):
    target.task(MODULE, {"name": "Fabrikam outbound", "recipient_domains": ["fabrikam.example"],
                         "smart_hosts": ["smtp.fabrikam.example"], "tls_settings": "domain_validation",
                         "tls_domain": "smtp.fabrikam.example"})
    result = target.task(MODULE, {"name": "Fabrikam outbound", "transport_rule_scoped": True,
                                  "tls_settings": "certificate_validation"})
    assert result["changed"] is True, result
    assert len(result["commands"]) == 1
    params = result["commands"][0]["parameters"]
    assert params["IsTransportRuleScoped"] is True and params["RecipientDomains"] is None
    assert params["TlsSettings"] == "CertificateValidation" and params["TlsDomain"] is None
    assert result["connector"]["recipient_domains"] == [] and result["connector"]["tls_domain"] is None


def test_test_mode_connector_is_never_missed(target):
    args = {"name": "Trial outbound", "recipient_domains": ["trial.example"], "test_mode": True}
    assert target.task(MODULE, args)["changed"] is True
    again = target.task(MODULE, args)
    assert again["changed"] is False and again.get("failed") is not True, again


BAD_INPUT = [
    ({"smart_hosts": [], "use_mx_record": False}, "smart_hosts", "use_mx_record: false requires smart_hosts"),  # O1
    ({"use_mx_record": True}, "smart_hosts", "silently drop"),  # O2
    ({"tls_settings": "certificate_validation"}, "tls_domain", "domain_validation"),  # O3
    ({"tls_domain": ""}, "tls_domain", "domain_validation requires tls_domain (the name"),  # O4
    ({"recipient_domains": ["adatum.example"]}, "recipient_domains", "transport_rule_scoped"),  # O5
    ({"transport_rule_scoped": False}, "recipient_domains", "must list"),  # O5
    ({"route_all_messages_via_on_premises": True}, "route_all_messages_via_on_premises", "O6"),
    ({"cloud_services_mail_enabled": True}, "cloud_services_mail_enabled", "O7"),
    ({"all_accepted_domains": True}, "all_accepted_domains", "O8"),
    ({"sender_rewriting_enabled": True}, "sender_rewriting_enabled", "O9"),
    ({"smart_hosts": ["mail.adatum.example:587"]}, "smart_hosts", "port"),
    ({"smart_hosts": ["192.168.10.25"]}, "smart_hosts", "private"),
    ({"name": "n" * 65}, "name", "maximum is 64"),
    ({"comment": "c" * 1025}, "comment", "maximum is 1024"),
    ({"tls_domain": "*"}, "tls_domain", "bare '*'"),
    ({"validation_recipients": ["not-an-address"]}, "validation_recipients", "not an email"),
]


@pytest.mark.parametrize("change,field,fragment", BAD_INPUT, ids=["%s-%d" % (b[1], i) for i, b in enumerate(BAD_INPUT)])
def test_bad_input_fails_before_any_call(emulator_target, change, field, fragment):
    args = dict(ADATUM, **change)
    args = dict((k, v) for k, v in args.items() if v is not None)
    result = emulator_target.task(MODULE, args)
    assert result.get("failed") is True, result
    assert field in result["msg"] and fragment in result["msg"], result["msg"]
    calls = emulator_target.calls()
    if fragment == "must list":
        assert writes(calls) == {}  # judged on the merged object after one read; still no write
    else:
        assert calls["cmdlets"] == {}, calls


@pytest.mark.parametrize("change,fragment", [
    ({"smart_hosts": None, "use_mx_record": False}, "use_mx_record: false requires smart_hosts"),  # O1 on create
    ({"tls_domain": None}, "domain_validation requires tls_domain (the name"),  # O4 on create
])
def test_rules_judged_against_the_tenant_before_any_write(emulator_target, change, fragment):
    args = dict((k, v) for k, v in dict(ADATUM, **change).items() if v is not None)
    result = emulator_target.task(MODULE, args)
    assert result.get("failed") is True and fragment in result["msg"], result
    assert writes(emulator_target.calls()) == {}


def test_connector_used_by_a_rule_cannot_be_removed_disabled_or_unscoped(target):
    assert target.task(MODULE, ADATUM)["changed"] is True
    target.execute("New-TransportRule", {"Name": "Route Accounting to Adatum", "RecipientDomainIs": ["adatum.example"],
                                         "RouteMessageOutboundConnector": ADATUM["name"]})
    target.reset_calls()
    for args in ({"name": ADATUM["name"], "state": "absent"}, dict(ADATUM, enabled=False),
                 dict(ADATUM, transport_rule_scoped=False, recipient_domains=["adatum.example"])):
        result = target.task(MODULE, args)
        assert result.get("failed") is True, result
        assert "Route Accounting to Adatum" in result["msg"], result["msg"]
    if target.emulator:
        assert writes(target.calls()) == {}
