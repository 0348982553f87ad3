# -*- coding: utf-8 -*-
"""partner_inbound_connector end to end, through ansible-playbook, against the sandbox and the emulator."""

from __future__ import absolute_import, division, print_function

import pytest

from tests.support.calls import writes

MODULE = "m365.mailflow.partner_inbound_connector"

ADATUM = {
    "name": "Adatum inbound",
    "sender_domains": ["adatum.example", "*.adatum.example"],
    "tls_sender_certificate_name": "*.adatum.example",
    "restrict_domains_to_certificate": True,
    "comment": "partner mail",
}


def test_lifecycle(target):
    created = target.task(MODULE, ADATUM)
    assert created["changed"] is True and created["action"] == "create", created
    connector = created["connector"]
    assert sorted(connector["sender_domains"]) == ["*.adatum.example", "adatum.example"]
    assert connector["require_tls"] is True
    assert connector["connector_type"] == "Partner"
    assert connector["guid"]

    # Same input again, with the case and form the service reads back changed: no change, no write.
    target.reset_calls()
    again = dict(ADATUM, sender_domains=["smtp:*.ADATUM.example;1", "Adatum.Example"])
    noop = target.task(MODULE, again)
    assert noop["changed"] is False and noop["action"] == "none", noop
    assert noop["commands"] == []
    if target.emulator:
        calls = target.calls()
        assert calls["cmdlets"] == {"Get-InboundConnector": 1}, calls

    # Check mode with a change: reported, predicted, per-property diff, and zero writes.
    target.reset_calls()
    changed = dict(ADATUM, comment="new comment", sender_ip_addresses=["198.51.100.0/24"])
    checked = target.task(MODULE, changed, check=True, diff=True)
    assert checked["changed"] is True and checked["action"] == "update"
    assert checked["changed_properties"] == ["comment", "sender_ip_addresses"]
    assert checked["diff"]["before"] == {"comment": "partner mail", "sender_ip_addresses": []}
    assert checked["diff"]["after"] == {"comment": "new comment", "sender_ip_addresses": ["198.51.100.0/24"]}
    assert checked["connector"]["comment"] == "new comment"
    if target.emulator:
        assert writes(target.calls()) == {}
    assert target.task(MODULE, ADATUM)["changed"] is False  # nothing was written

    # Real change: one Set carrying only the changed parameters.
    target.reset_calls()
    updated = target.task(MODULE, changed)
    assert updated["changed"] is True
    assert len(updated["commands"]) == 1
    set_call = updated["commands"][0]
    assert set_call["cmdlet"] == "Set-InboundConnector"
    assert sorted(set_call["parameters"]) == ["Comment", "Identity", "SenderIPAddresses"]
    assert updated["connector"]["comment"] == "new comment"
    if target.emulator:
        calls = target.calls()
        assert writes(calls) == {"Set-InboundConnector": 1}
        set_logged = [c for c in calls["log"] if c["cmdlet"] == "Set-InboundConnector"][0]
        assert sorted(set_logged["parameters"]) == ["Comment", "Identity", "SenderIPAddresses"]
    assert target.task(MODULE, changed)["changed"] is False

    # Delete, then delete again.
    removed = target.task(MODULE, {"name": ADATUM["name"], "state": "absent"}, diff=True)
    assert removed["changed"] is True and removed["action"] == "delete"
    assert removed["connector"] == {}
    assert removed["diff"]["after"] == {}
    again = target.task(MODULE, {"name": ADATUM["name"], "state": "absent"})
    assert again["changed"] is False and again["action"] == "none"


def test_check_mode_create_predicts_and_writes_nothing(target):
    result = target.task(MODULE, ADATUM, check=True, diff=True)
    assert result["changed"] is True and result["action"] == "create"
    assert result["commands"][0]["cmdlet"] == "New-InboundConnector"
    assert result["commands"][0]["parameters"]["ConnectorType"] == "Partner"
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["tls_sender_certificate_name"] == "*.adatum.example"
    absent = target.task(MODULE, {"name": ADATUM["name"], "state": "absent"})
    assert absent["changed"] is False
    if target.emulator:
        assert writes(target.calls()) == {}


def test_clearing_values(target):
    target.task(MODULE, dict(ADATUM, restrict_domains_to_certificate=False, sender_ip_addresses=["203.0.113.5"]))
    cleared = target.task(MODULE, dict(ADATUM, restrict_domains_to_certificate=False, sender_ip_addresses=[],
                                       tls_sender_certificate_name="", comment=""))
    assert cleared["changed"] is True
    assert cleared["connector"]["sender_ip_addresses"] == []
    assert cleared["connector"]["tls_sender_certificate_name"] is None
    assert not cleared["connector"]["comment"]
    again = target.task(MODULE, dict(ADATUM, restrict_domains_to_certificate=False, sender_ip_addresses=[],
                                     tls_sender_certificate_name="", comment=""))
    assert again["changed"] is False, again


BAD_INPUT = [
    ({"sender_ip_addresses": ["2001:db8::5"]}, "sender_ip_addresses", "IPv6"),
    ({"sender_ip_addresses": ["198.51.100.1-198.51.100.20"]}, "sender_ip_addresses", "range"),
    ({"sender_ip_addresses": ["198.51.0.0/20"]}, "sender_ip_addresses", "/24"),
    ({"sender_ip_addresses": ["10.0.0.5"]}, "sender_ip_addresses", "reserved"),
    ({"sender_domains": ["mail.*.adatum.example"]}, "sender_domains", "wildcard"),
    ({"sender_domains": ["not_a_domain"]}, "sender_domains", "not a valid domain"),
    ({"tls_sender_certificate_name": "*"}, "tls_sender_certificate_name", "bare '*'"),
    ({"name": "x" * 65}, "name", "maximum is 64"),
    ({"require_tls": False}, "require_tls", "tls_sender_certificate_name"),  # I2
    ({"restrict_domains_to_certificate": False, "restrict_domains_to_ip_addresses": True, "sender_ip_addresses": []},
     "restrict_domains_to_ip_addresses", "sender_ip_addresses"),  # I3
    ({"restrict_domains_to_ip_addresses": True, "sender_ip_addresses": ["198.51.100.7"]},
     "restrict_domains_to_certificate", "one restriction"),  # I4
    ({"tls_sender_certificate_name": None, "restrict_domains_to_certificate": True},
     "restrict_domains_to_certificate", "tls_sender_certificate_name"),  # I5 on create
]


@pytest.mark.parametrize("change,field,fragment", BAD_INPUT, ids=[b[1] + "-" + b[2] for b in BAD_INPUT])
def test_bad_input_fails_before_any_call(emulator_target, change, field, fragment):
    args = dict(ADATUM, **change)
    args = dict((k, v) for k, v in args.items() if v is not None)
    result = emulator_target.task(MODULE, args)
    assert result.get("failed") is True, result
    assert field in result["msg"] and fragment in result["msg"], result["msg"]
    assert "Traceback" not in result.get("module_stderr", "")
    calls = emulator_target.calls()
    if fragment == "tls_sender_certificate_name" and field == "restrict_domains_to_certificate":
        assert writes(calls) == {}  # judged against the tenant (after one read), still no write
    else:
        assert calls["cmdlets"] == {} and calls["tokens"] == 0, calls


def test_i5_checked_against_the_tenant_before_any_write(emulator_target):
    base = {"name": "Contoso in", "sender_domains": ["contoso.example"]}
    assert emulator_target.task(MODULE, base)["changed"] is True
    emulator_target.reset_calls()
    result = emulator_target.task(MODULE, dict(base, restrict_domains_to_certificate=True))
    assert result["failed"] is True and "tls_sender_certificate_name" in result["msg"]
    assert writes(emulator_target.calls()) == {}


def test_throttling_and_unavailability_survived_without_duplicate_write(emulator_target):
    emu = emulator_target.emulator
    emu.add_faults([
        {"cmdlet": "Get-InboundConnector", "status": 429, "count": 2, "retry_after": "0.2"},
        {"cmdlet": "New-InboundConnector", "status": 503, "count": 1, "after_execute": True},
    ])
    result = emulator_target.task(MODULE, ADATUM)
    assert result["changed"] is True and not result.get("failed"), result
    calls = emulator_target.calls()
    assert calls["cmdlets"]["New-InboundConnector"] == 1, calls  # applied once, read back, never resent
    assert emulator_target.task(MODULE, ADATUM)["changed"] is False


def test_503_before_execution_is_resent_once(emulator_target):
    emulator_target.emulator.add_faults([
        {"cmdlet": "New-InboundConnector", "status": 503, "count": 1, "after_execute": False}])
    result = emulator_target.task(MODULE, ADATUM)
    assert result["changed"] is True and not result.get("failed"), result
    log = [c for c in emulator_target.calls()["log"] if c["cmdlet"] == "New-InboundConnector"]
    assert [c["status"] for c in log] == [503, 200]


def test_missing_exchange_role_is_named(emulator_target):
    emulator_target.emulator.add_faults([{"forbidden": True}])
    result = emulator_target.task(MODULE, ADATUM)
    assert result["failed"] is True
    assert "Global Reader" in result["msg"] or "View-Only Configuration" in result["msg"], result["msg"]
    assert result.get("http_status") == 403
    assert [c["cmdlet"] for c in result["calls"]] == ["Get-InboundConnector"]  # failed on the first read, wrote nothing


def test_replication_delay_does_not_break_a_rerun(emulator_target):
    emulator_target.emulator.add_faults([{"replication_delay": 1.5}])
    assert emulator_target.task(MODULE, ADATUM)["changed"] is True
    rerun = emulator_target.task(MODULE, ADATUM)
    assert rerun.get("failed") is not True, rerun
    assert rerun["changed"] is False


def test_one_token_request_per_play(emulator_target):
    run = emulator_target.run((MODULE, ADATUM), (MODULE, ADATUM), (MODULE, ADATUM))
    assert [r["changed"] for r in run.results] == [True, False, False]
    assert emulator_target.calls()["tokens"] == 1


def test_secrets_never_in_results(emulator_target):
    emu = emulator_target.emulator
    result = emulator_target.task(MODULE, ADATUM, defaults={"certificate_path": None, "client_secret": emu.app["client_secret"]})
    assert result["changed"] is True, result
    assert emu.app["client_secret"] not in str(result)
