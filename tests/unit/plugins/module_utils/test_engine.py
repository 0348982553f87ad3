# -*- coding: utf-8 -*-
"""The resource engine and the connector specs, on the sandbox tenant (no Ansible process in between)."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import engine
from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.inbound import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.outbound import OutboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import SandboxTransport


class CountingTransport(object):
    """Wraps a transport; counts calls and can hide an object from reads (replication lag)."""

    name = "counting"

    def __init__(self, inner):
        self.inner = inner
        self.sent = []
        self.hide_reads = 0

    def send(self, cmdlet, parameters, next_link=None):
        self.sent.append(cmdlet)
        if cmdlet.startswith("Get-") and self.hide_reads > 0:
            self.hide_reads -= 1
            from ansible_collections.m365.mailflow.plugins.module_utils import wire
            return wire.json_response(404, wire.error_body(
                404, "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException", "not found yet"))
        return self.inner.send(cmdlet, parameters, next_link=next_link)

    def close(self):
        self.inner.close()


@pytest.fixture
def client(tmp_path):
    transport = CountingTransport(SandboxTransport(str(tmp_path / "tenant.db")))
    return Client(transport, retry_delay=0.0, sleep=lambda s: None)


def inbound(**kwargs):
    desired = dict((f.option, None) for f in InboundConnectorSpec.fields)
    desired.update(require_tls=True)
    desired.update(kwargs)
    return desired


def outbound(**kwargs):
    desired = dict((f.option, None) for f in OutboundConnectorSpec.fields)
    desired.update(tls_settings="certificate_validation")
    desired.update(kwargs)
    return desired


def test_create_noop_update_delete(client):
    spec = InboundConnectorSpec()
    want = inbound(sender_domains=["adatum.example"], comment="one")
    created = engine.ensure(client, spec, "A", "present", want)
    assert created.action == "create" and created.after["sender_domains"] == ["adatum.example"]
    client.transport.sent[:] = []
    noop = engine.ensure(client, spec, "A", "present", inbound(sender_domains=["smtp:ADATUM.example;1"], comment="one"))
    assert noop.action == "none" and client.transport.sent == ["Get-InboundConnector"]
    update = engine.ensure(client, spec, "a", "present", inbound(comment="two"))
    assert update.action == "update" and update.commands[0]["parameters"]["Comment"] == "two"
    assert set(update.commands[0]["parameters"]) == {"Identity", "Comment"}
    gone = engine.ensure(client, spec, "A", "absent", {})
    assert gone.action == "delete"
    assert engine.ensure(client, spec, "A", "absent", {}).action == "none"


def test_check_mode_sends_no_write(client):
    spec = InboundConnectorSpec()
    outcome = engine.ensure(client, spec, "A", "present", inbound(sender_domains=["adatum.example"]), check_mode=True)
    assert outcome.changed and outcome.action == "create"
    assert client.transport.sent == ["Get-InboundConnector"]
    assert spec.read(client, "A") is None


def test_diff_holds_only_changed_properties(client):
    spec = InboundConnectorSpec()
    engine.ensure(client, spec, "A", "present", inbound(sender_domains=["adatum.example"], comment="one"))
    outcome = engine.ensure(client, spec, "A", "present", inbound(comment="two"), check_mode=True)
    assert outcome.diff()["before"] == {"comment": "one"} and outcome.diff()["after"] == {"comment": "two"}


def test_duplicate_on_create_waits_for_replication(client):
    spec = InboundConnectorSpec()
    engine.ensure(client, spec, "A", "present", inbound(sender_domains=["adatum.example"]))
    other_run = Client(client.transport, retry_delay=0.0, sleep=lambda s: None)  # its memo knows nothing of "A"
    client.transport.hide_reads = 2  # first read misses it; New says duplicate; then it becomes visible
    outcome = engine.ensure(other_run, spec, "A", "present", inbound(sender_domains=["adatum.example"], comment="x"))
    assert outcome.action == "update" and outcome.changed_properties == ["comment"] and outcome.after["comment"] == "x"
    assert client.transport.sent.count("New-InboundConnector") == 2


def test_our_own_new_object_is_waited_for_not_created_twice(client):
    """The memo says this run created it: a read that misses it is replication, not absence (no second New)."""
    spec = InboundConnectorSpec()
    engine.ensure(client, spec, "A", "present", inbound(sender_domains=["adatum.example"]))
    client.transport.hide_reads = 2
    outcome = engine.ensure(client, spec, "A", "present", inbound(sender_domains=["adatum.example"], comment="x"))
    assert outcome.action == "update" and outcome.after["comment"] == "x"
    assert client.transport.sent.count("New-InboundConnector") == 1
    client.transport.hide_reads = 2
    gone = engine.ensure(client, spec, "A", "absent", {})
    assert gone.action == "delete" and client.transport.sent[-1] == "Remove-InboundConnector"


def test_onpremises_connector_is_refused(client):
    client.invoke("New-InboundConnector", {"Name": "Hybrid", "SenderDomains": ["*"], "ConnectorType": "OnPremises",
                                           "SenderIPAddresses": ["198.51.100.5"]}, write=True)
    with pytest.raises(ConfigurationError) as exc:
        engine.ensure(client, InboundConnectorSpec(), "Hybrid", "present", inbound(sender_domains=["*"]))
    assert "OnPremises" in exc.value.msg


def test_outbound_leaving_domain_validation_clears_tls_domain_in_the_same_call(client):
    spec = OutboundConnectorSpec()
    first = outbound(recipient_domains=["adatum.example"], tls_settings="domain_validation", tls_domain="mail.adatum.example")
    engine.ensure(client, spec, "O", "present", first)
    outcome = engine.ensure(client, spec, "O", "present", outbound(recipient_domains=["adatum.example"]))
    assert len(outcome.commands) == 1
    params = outcome.commands[0]["parameters"]
    assert params["TlsSettings"] == "CertificateValidation" and params["TlsDomain"] is None
    assert outcome.after["tls_domain"] is None


def test_outbound_test_mode_connector_is_a_no_op_in_one_read(client):
    spec = OutboundConnectorSpec()
    engine.ensure(client, spec, "T", "present", outbound(recipient_domains=["t.example"], test_mode=True))
    client.transport.sent[:] = []
    outcome = engine.ensure(client, spec, "T", "present", outbound(recipient_domains=["t.example"], test_mode=True))
    assert outcome.action == "none"
    assert client.transport.sent == ["Get-OutboundConnector"]
    assert client.warnings == []


def test_our_own_object_that_never_shows_fails_once_then_is_read_as_it_is(client):
    spec = InboundConnectorSpec()
    engine.ensure(client, spec, "A", "present", inbound(sender_domains=["adatum.example"]))
    client.invoke("Remove-InboundConnector", {"Identity": "A", "Confirm": False}, write=True)  # by someone else
    with pytest.raises(ConfigurationError) as exc:
        engine.ensure(client, spec, "A", "absent", {})
    assert "replication" in exc.value.msg and "retries" in exc.value.msg
    sent = len(client.transport.sent)
    assert engine.ensure(client, spec, "A", "absent", {}).action == "none"  # no second wait
    assert client.transport.sent[sent:] == ["Get-InboundConnector"]
