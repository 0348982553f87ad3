# -*- coding: utf-8 -*-
"""Writes settled by reading back, on the sandbox tenant behind a transport that loses chosen answers.

Each case was found by the fault soak (tests/integration/test_fault_soak.py): what a task reports after a write that
was answered with a fault is what the tenant holds, and a write that ran is not sent again.
"""

from __future__ import absolute_import, division, print_function

import socket

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from ansible_collections.m365.mailflow.plugins.module_utils.resources import transport_rule as rules
from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant, SandboxTransport
from ansible_collections.m365.mailflow.plugins.module_utils.validation.connector_validation import Validation

from tests.unit.plugins.module_utils.test_rules import options


class Faulty(object):
    """The sandbox, except that the next requests of a cmdlet listed in ``plan`` get a 503: "before" it ran (nothing
    happened) or "after" it ran (it took effect, the answer is lost)."""

    name = "faulty"

    def __init__(self, path, plan=None):
        self.inner = SandboxTransport(path)
        self.plan = dict((k, list(v)) for k, v in (plan or {}).items())
        self.ran = []  # (cmdlet, status the tenant answered) of every request that reached the tenant

    def send(self, cmdlet, parameters, next_link=None):
        todo = self.plan.get(cmdlet)
        fault = todo.pop(0) if todo else None
        if fault == "before":
            return _unavailable()
        raw = self.inner.send(cmdlet, parameters, next_link=next_link)
        self.ran.append((cmdlet, raw.status))
        return _unavailable() if fault == "after" else raw

    def close(self):
        self.inner.close()

    def succeeded(self, cmdlet):
        return self.ran.count((cmdlet, 200))


def _unavailable():
    return wire.json_response(503, wire.error_body(503, "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                                                   "The service is temporarily unavailable."))


def client(transport):
    return Client(transport, retry_delay=0, sleep=lambda s: None)


@pytest.fixture
def path(tmp_path):
    path = str(tmp_path / "tenant.db")
    tenant = SandboxTenant(path)
    for name in ("A", "B"):
        wire.parse_response(tenant.execute("New-TransportRule", {"Name": name, "SubjectContainsWords": [name]}), "x")
    return path


def rule(transport, **args):
    args.setdefault("name", "R")
    return rules.ensure_rule(client(transport), options(**args))


def test_rule_created_on_a_resend_reports_the_shifts_and_priority_read_after_it(path):
    """New answered 503 before it ran, read back (absent), sent again: the read-back came before the New, so the
    rule and the shifts are read once more after it."""
    transport = Faulty(path, {"New-TransportRule": ["before"]})
    created = rule(transport, position={"before": "A"}, conditions={"subject_contains_words": ["r"]})
    assert created["action"] == "create" and created["priority"] == 0
    assert created["shifted_rules"] == [{"name": "A", "before": 0, "after": 1}, {"name": "B", "before": 1, "after": 2}]
    assert transport.succeeded("New-TransportRule") == 1


def test_rule_set_that_ran_is_not_sent_again_before_the_disable(path):
    """Set answered 503 after it ran: the read-back judges the Set by what it carries, not by enabled (the
    Disable that follows), so the Set runs once."""
    rule(Faulty(path), conditions={"subject_contains_words": ["r"]})
    transport = Faulty(path, {"Set-TransportRule": ["after"]})
    changed = rule(transport, comments="now disabled", enabled=False)
    assert changed["action"] == "update" and changed["rule"]["comments"] == "now disabled"
    assert changed["rule"]["enabled"] is False
    assert transport.succeeded("Set-TransportRule") == 1 and transport.succeeded("Disable-TransportRule") == 1


def closed_udp_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def validated(tmp_path):
    """A connector marked validated whose validation now fails fast (its DNS server is a closed port)."""
    path = str(tmp_path / "tenant.db")
    tenant = SandboxTenant(path)
    tenant.configure(dns_servers=["127.0.0.1:%d" % closed_udp_port()], timeout=0.5)
    for cmdlet, params in (
            ("New-OutboundConnector", {"Name": "V", "ConnectorType": "Partner", "RecipientDomains": ["v.example"],
                                       "UseMXRecord": False, "SmartHosts": ["mail.v.example"]}),
            ("Set-OutboundConnector", {"Identity": "V", "IsValidated": True,
                                       "ValidationRecipients": ["postmaster@v.example"]})):
        wire.parse_response(tenant.execute(cmdlet, params), cmdlet)
    return path


def validate(transport):
    params = dict(name="V", direction="outbound", recipients=None, service_validation=True, probe=False, record=True,
                  fail_on_invalid=False, smtp_port=25, dns_servers=None, probe_ca_path=None, probe_timeout=10.0)
    return Validation(client(transport), params, check_mode=False).run()


def test_validation_record_answered_503_after_it_ran_is_settled_by_reading_back(validated):
    transport = Faulty(validated, {"Set-OutboundConnector": ["after"]})
    result = validate(transport)
    assert result["validated"] is False and result["recorded"] is True and result["changed"] is True
    assert transport.succeeded("Set-OutboundConnector") == 1
    connector = wire.parse_response(SandboxTenant(validated).execute("Get-OutboundConnector", {"Identity": "V"}), "x")
    assert connector.objects[0]["IsValidated"] is False


def test_validate_outbound_connector_answered_503_is_sent_again(validated):
    """It changes nothing in the tenant, so a transient failure is not an unsure write."""
    transport = Faulty(validated, {"Validate-OutboundConnector": ["after"]})
    result = validate(transport)
    assert result["service_result"] is not None and result["recorded"] is True
    assert transport.succeeded("Validate-OutboundConnector") == 2


class ReadsFailAfter(Faulty):
    """The sandbox, except that every read after the first write fails (503), however often it is retried."""

    def send(self, cmdlet, parameters, next_link=None):
        if cmdlet.startswith("Get-") and any(not c.startswith("Get-") for c, _status in self.ran):
            return _unavailable()
        return super(ReadsFailAfter, self).send(cmdlet, parameters, next_link=next_link)


def test_a_change_whose_result_cannot_be_read_is_reported_as_a_change(tmp_path):
    """The Set took effect, then the read of the result failed: the task fails, but says changed and why."""
    from ansible_collections.m365.mailflow.plugins.module_utils import engine
    from ansible_collections.m365.mailflow.plugins.module_utils.errors import TransientError
    from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
    path = str(tmp_path / "tenant.db")
    wire.parse_response(SandboxTenant(path).execute("New-InboundConnector", {
        "Name": "In", "ConnectorType": "Partner", "SenderDomains": ["in.example"]}), "x")
    transport = ReadsFailAfter(path)
    with pytest.raises(TransientError) as info:
        engine.ensure(client(transport), InboundConnectorSpec(), "In", "present", {"comment": "changed"})
    assert info.value.changed is True and info.value.to_result()["changed"] is True
    assert info.value.msg.startswith("inbound connector 'In' was updated by this task, but then: Get-InboundConnector")
    assert transport.succeeded("Set-InboundConnector") == 1


def test_a_rule_created_whose_result_cannot_be_read_is_reported_as_a_change(path):
    transport = ReadsFailAfter(path, {"New-TransportRule": ["after"]})
    with pytest.raises(Exception) as info:
        rule(transport, conditions={"subject_contains_words": ["r"]})
    # the read-back after the lost answer fails: nobody knows, and the task says so (never "no change")
    assert "may or may not have been applied" in info.value.msg and transport.succeeded("New-TransportRule") == 1
