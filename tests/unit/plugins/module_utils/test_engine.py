# -*- coding: utf-8 -*-
"""The resource engine and the connector specs, on the sandbox tenant (no Ansible process in between)."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import engine, fields
from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import OutboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTransport


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


# --------------------------------------------------------------------------- values as the service stores them

def test_field_sends_one_entry_per_value_in_the_stored_form():
    field = fields.Field("recipient_domains", "RecipientDomains", fields.Plain(
        multi=True, key=lambda v: v.strip(".").lower(), send=lambda v: v.rstrip(".")))
    assert field.to_params(["adatum.com", "ADATUM.com.", "b.example."])["RecipientDomains"] == ["adatum.com", "b.example"]
    assert field.to_params([])["RecipientDomains"] is None


def test_connector_lists_in_other_forms_converge_on_the_first_run(client):
    spec = OutboundConnectorSpec()
    want = outbound(recipient_domains=["adatum.example", "ADATUM.example", "fabrikam.example."], use_mx_record=False,
                    smart_hosts=["mail.td.example.", "MAIL.td.example", "198.51.100.1", "198.51.100.1/32"])
    created = engine.ensure(client, spec, "O", "present", want)
    params = created.commands[0]["parameters"]
    assert params["RecipientDomains"] == ["adatum.example", "fabrikam.example"]
    assert params["SmartHosts"] == ["mail.td.example", "198.51.100.1"]
    client.transport.sent[:] = []
    again = engine.ensure(client, spec, "O", "present", want)
    assert again.action == "none", again.changed_properties
    assert client.transport.sent == ["Get-OutboundConnector"]

    inbound_spec = InboundConnectorSpec()
    want = inbound(sender_domains=["adatum.example", "smtp:ADATUM.example.;1", "*.fabrikam.example."],
                   sender_ip_addresses=["198.51.100.1", "198.51.100.1/32"], restrict_domains_to_ip_addresses=True)
    created = engine.ensure(client, inbound_spec, "I", "present", want)
    params = created.commands[0]["parameters"]
    assert params["SenderDomains"] == ["adatum.example", "*.fabrikam.example"]
    assert params["SenderIPAddresses"] == ["198.51.100.1"]
    assert engine.ensure(client, inbound_spec, "I", "present", want).action == "none"


@pytest.mark.parametrize("state", ["present", "absent"])
def test_names_with_surrounding_white_space_are_refused_before_any_call(client, state):
    with pytest.raises(ConfigurationError) as exc:
        engine.ensure(client, InboundConnectorSpec(), "Adatum ", state, inbound(sender_domains=["adatum.example"]))
    assert "name: 'Adatum ' begins or ends with white space" in exc.value.msg and "'Adatum'" in exc.value.msg
    assert client.transport.sent == []


def test_sender_ips_without_restriction_warn_that_they_are_ignored(client):
    spec = InboundConnectorSpec()
    engine.ensure(client, spec, "I", "present", inbound(sender_domains=["adatum.example"],
                                                        sender_ip_addresses=["198.51.100.7"]))
    assert len(spec.warnings) == 1 and spec.warnings[0].startswith("sender_ip_addresses: ")
    assert "restrict_domains_to_ip_addresses" in spec.warnings[0]
    restricted = InboundConnectorSpec()
    engine.ensure(client, restricted, "I", "present", inbound(restrict_domains_to_ip_addresses=True))
    assert restricted.warnings == []
    # merged with the connector as it is: the restriction is already on, the addresses alone do not warn
    again = InboundConnectorSpec()
    engine.ensure(client, again, "I", "present", inbound(sender_ip_addresses=["198.51.100.8"]))
    assert again.warnings == []


@pytest.mark.parametrize("option,value,fragment", [
    ("ef_skip_ips", ["192.168.10.0/24"], "ef_skip_ips: '192.168.10.0/24' is in the reserved or private range"),
    ("sender_domains", ["smtp:adatum.example;0"], "sender_domains: 'smtp:adatum.example;0' has the cost 0"),
])
def test_inbound_bad_values_fail_before_any_call(client, option, value, fragment):
    want = inbound(sender_domains=["adatum.example"])
    want[option] = value
    with pytest.raises(ConfigurationError) as exc:
        engine.ensure(client, InboundConnectorSpec(), "I", "present", want)
    assert fragment in exc.value.msg, exc.value.msg
    assert client.transport.sent == []


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
