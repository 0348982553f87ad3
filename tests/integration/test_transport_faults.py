# -*- coding: utf-8 -*-
"""Real modules against the emulator when the transport misbehaves: a redirecting tenant, 200 answers that are not a
result, answers cut short, a failing token endpoint. A task either tells the truth or fails with a clean message."""

from __future__ import absolute_import, division, print_function

import json

import pytest

INBOUND = "m365.mailflow.partner_inbound_connector"
RULE = "m365.mailflow.mail_flow_rule"

ADATUM = {
    "name": "Adatum inbound",
    "sender_domains": ["adatum.example"],
    "tls_sender_certificate_name": "*.adatum.example",
    "restrict_domains_to_certificate": True,
}


def clean_output(run):
    text = run.stdout + run.stderr
    return "Traceback" not in text and "MODULE FAILURE" not in text


def inbound_connectors(target):
    return [c["Name"] for c in target.execute("Get-InboundConnector", {})]


def rule(name):
    return (RULE, {"name": name, "position": "bottom", "conditions": {"subject_contains_words": ["about %s" % name]},
                   "actions": {"prepend_subject": "[%s] " % name}})


# ----------------------------------------------------------------------------- tenant redirects

def test_redirecting_tenant_pays_the_redirect_once(emulator_target):
    emulator = emulator_target.emulator
    tenant_url = emulator.set_redirect(True)
    emulator.add_faults([{"page_size": 1}])  # every rule listing below is read one page per rule
    run = emulator_target.run((INBOUND, ADATUM), (INBOUND, ADATUM), rule("R0"), rule("R1"), rule("R2"))
    created, noop, r0, r1, r2 = run.results
    assert created["changed"] is True and created["action"] == "create", created
    assert noop["changed"] is False and noop["commands"] == [], noop
    # "bottom" is the number of other rules: each placement read every page of the listing on the redirected host
    assert [r["priority"] for r in (r0, r1, r2)] == [0, 1, 2], run.results
    calls = emulator.calls()
    assert calls["redirects"] == 1 and calls["hosts"]["front"] == 1, calls  # the first request of the first task only
    assert calls["hosts"]["tenant"] == calls["requests"] - 1 and calls["cmdlets"]["Get-TransportRule"] > 3
    assert clean_output(run)

    # a later play (new processes) of the same tenant starts on the remembered host
    emulator.reset()
    again = emulator_target.run((INBOUND, ADATUM), rule("R2"))
    assert [r["changed"] for r in again.results] == [False, False], again.results
    calls = emulator.calls()
    assert calls["redirects"] == 0 and calls["hosts"] == {"front": 0, "tenant": calls["requests"]}, calls
    assert emulator.info()["tenant_url"] == tenant_url


def test_bad_redirect_fails_cleanly_and_writes_nothing(emulator_target):
    emulator = emulator_target.emulator
    emulator.set_redirect(True, location="http://outlook.example/adminapi/beta/x/InvokeCommand")
    run = emulator_target.run((INBOUND, ADATUM))
    result = run.result
    assert result.get("failed") and "not an https URL" in result["msg"] and "Nothing was run" in result["msg"], result
    assert emulator.calls()["writes"] == 0 and clean_output(run)


# ----------------------------------------------------------------------------- 200 answers that are not a result

@pytest.mark.parametrize("kind", ["garbled", "empty", "empty_object"])
def test_absent_is_not_concluded_from_a_malformed_read(emulator_target, kind):
    emulator = emulator_target.emulator
    assert emulator_target.task(INBOUND, ADATUM)["changed"] is True
    emulator.reset()
    emulator.add_faults([{"kind": kind, "cmdlet": "Get-InboundConnector", "count": 1}])
    removed = emulator_target.task(INBOUND, {"name": ADATUM["name"], "state": "absent"})
    assert removed["changed"] is True and removed["action"] == "delete", removed
    assert inbound_connectors(emulator_target) == []
    log = [e["status"] for e in emulator.calls()["log"] if e["cmdlet"] == "Get-InboundConnector"]
    assert log[:2] == [200, 200] and emulator.calls()["faults"][0]["kind"] == kind  # the faulted read was read again


def test_absent_with_reads_that_keep_failing_fails_and_keeps_the_object(emulator_target):
    emulator = emulator_target.emulator
    assert emulator_target.task(INBOUND, ADATUM)["changed"] is True
    emulator.reset()
    emulator.add_faults([{"kind": "empty_object", "cmdlet": "Get-InboundConnector", "count": 100}])
    run = emulator_target.run((INBOUND, {"name": ADATUM["name"], "state": "absent", "retries": 2}))
    result = run.result
    assert result.get("failed") and not result.get("changed"), result
    assert "instead of a result" in result["msg"] and "already absent" not in result["msg"]
    assert inbound_connectors(emulator_target) == [ADATUM["name"]] and emulator.calls()["writes"] == 0
    assert clean_output(run)


# ----------------------------------------------------------------------------- a write whose answer is lost

@pytest.mark.parametrize("kind", ["truncated", "garbled", "reset"])
def test_create_whose_answer_is_cut_short_reports_the_truth(emulator_target, kind):
    emulator = emulator_target.emulator
    fault = {"kind": kind, "cmdlet": "New-InboundConnector"}
    if kind == "reset":
        fault["after_execute"] = True
    emulator.add_faults([fault])
    run = emulator_target.run((INBOUND, ADATUM))
    created = run.result
    assert created["changed"] is True and created["action"] == "create" and not created.get("failed"), created
    assert created["connector"]["name"] == ADATUM["name"] and created["connector"]["guid"]
    assert inbound_connectors(emulator_target) == [ADATUM["name"]]
    assert emulator.calls()["cmdlets"]["New-InboundConnector"] == 1  # settled by reading back, never sent twice
    assert clean_output(run)
    assert emulator_target.task(INBOUND, ADATUM)["changed"] is False


# ----------------------------------------------------------------------------- token endpoint failures

@pytest.mark.parametrize("kind, says", [
    ("token_500", "the token endpoint %s/%s/oauth2/v2.0/token answered HTTP 500 (an HTML page)"),
    ("token_malformed", "the token endpoint %s/%s/oauth2/v2.0/token answered HTTP 200 with a body that is not JSON"),
    ("discovery_500", "the OpenID discovery document %s/%s/v2.0/.well-known/openid-configuration answered HTTP 500"),
    ("discovery_malformed", "the OpenID discovery document %s/%s/v2.0/.well-known/openid-configuration answered HTTP 200"),
    ("token_reset", "the token endpoint %s/%s/oauth2/v2.0/token could not be reached"),
])
def test_token_endpoint_failure_gives_a_clean_message(emulator_target, kind, says):
    emulator = emulator_target.emulator
    emulator.add_faults([{"kind": kind, "count": 100}])
    run = emulator_target.run((INBOUND, dict(ADATUM, retries=1)))
    result = run.result
    assert result.get("failed") and not result.get("changed"), result
    assert says % (emulator.url, emulator.tenant_id) in result["msg"], result["msg"]
    for hint in ("gave up after 2 attempts", "authority_url", "tenant", "network"):
        assert hint in result["msg"]
    assert emulator.calls()["requests"] == 0  # nothing reached Exchange Online
    assert clean_output(run)


def test_one_token_endpoint_failure_is_overcome(emulator_target):
    emulator_target.emulator.add_faults([{"kind": "token_500", "count": 1}])
    assert emulator_target.task(INBOUND, ADATUM)["changed"] is True
    assert emulator_target.emulator.calls()["tokens"] == 2


@pytest.mark.parametrize("kind, credential, option", [
    ("invalid_client", "secret", "client_secret"),
    ("invalid_client", "certificate", "certificate_path"),
    ("unauthorized_client", "certificate", "client_id"),
])
def test_refused_credentials_name_the_option(emulator_target, kind, credential, option):
    emulator = emulator_target.emulator
    emulator.add_faults([{"kind": kind, "count": 100}])
    defaults = {}
    if credential == "secret":
        defaults = {"certificate_path": None, "client_secret": emulator.app["client_secret"]}
    run = emulator_target.run((INBOUND, ADATUM), defaults=defaults)
    result = run.result
    assert result.get("failed") and option in result["msg"] and kind in result["msg"], result
    assert emulator.app["client_secret"] not in json.dumps(result)
    assert emulator.calls()["tokens"] == 1 and emulator.calls()["requests"] == 0  # not retried
    assert clean_output(run)
