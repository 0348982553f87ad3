# -*- coding: utf-8 -*-
"""tenant_view: entries in the modules' vocabulary (passing them back is a no-op), partners, proposals, drift."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import engine
from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.resources import tenant_view, transport_rule
from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import OutboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTransport
from tests.unit.plugins.module_utils.test_engine import CountingTransport

MARK = "Managed by m365.mailflow partner "


@pytest.fixture
def client(tmp_path):
    return Client(CountingTransport(SandboxTransport(str(tmp_path / "tenant.db"))), retry_delay=0.0,
                  sleep=lambda s: None)


def seed(client):
    """A partner made as onboarding makes it, hand-made objects, and objects that carry a marker but cannot be a
    partner's (wrong name, wrong route, OnPremises type)."""
    def w(cmdlet, params):
        return client.invoke(cmdlet, params, write=True)

    w("New-InboundConnector", {"Name": "Adatum inbound", "ConnectorType": "Partner",
                               "SenderDomains": ["adatum.example", "*.adatum.example"], "RequireTls": True,
                               "TlsSenderCertificateName": "*.adatum.example", "RestrictDomainsToCertificate": True,
                               "Comment": MARK + "Adatum. Payroll", "EFSkipIPs": ["198.51.100.0/24"]})
    w("New-OutboundConnector", {"Name": "Adatum outbound", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
                                "UseMXRecord": False, "SmartHosts": ["mail.adatum.example"],
                                "TlsSettings": "DomainValidation", "TlsDomain": "*.adatum.example",
                                "Comment": MARK + "Adatum", "TestMode": True})
    w("New-TransportRule", {"Name": "Adatum - Accounting", "RecipientDomainIs": ["adatum.example"],
                            "ExceptIfSubjectContainsWords": ["private"], "SetSCL": -1,
                            "RouteMessageOutboundConnector": "Adatum outbound", "Comments": MARK + "Adatum",
                            "ActivationDate": "2030-01-01T08:00:00Z"})
    w("New-InboundConnector", {"Name": "Contoso inbound", "ConnectorType": "Partner",
                               "SenderDomains": ["contoso.example"], "Comment": "by hand"})
    w("New-OutboundConnector", {"Name": "Contoso outbound", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
                                "UseMXRecord": True})
    w("New-TransportRule", {"Name": "Contoso - Legal", "RecipientDomainIs": ["contoso.example"],
                            "RouteMessageOutboundConnector": "Contoso outbound"})
    w("New-TransportRule", {"Name": "Stray", "SubjectContainsWords": ["x"], "Comments": MARK + "Adatum"})
    w("New-TransportRule", {"Name": "Everything", "PrependSubject": "EXT: ", "Enabled": False})
    w("New-InboundConnector", {"Name": "Hybrid", "ConnectorType": "OnPremises", "SenderDomains": ["*"], "SenderIPAddresses": ["198.51.100.9"],
                               "Comment": MARK + "Hybrid"})


def test_one_read_per_object_type_and_test_mode_connectors_included(client):
    seed(client)
    client.transport.sent[:] = []
    result = tenant_view.summarise(client)
    assert sorted(client.transport.sent) == ["Get-InboundConnector", "Get-OutboundConnector", "Get-TransportRule"]
    names = [e["options"]["name"] for e in result["outbound_connectors"]]
    assert names == ["Adatum outbound", "Contoso outbound"]  # the test-mode one too
    assert [e["facts"]["priority"] for e in result["mail_flow_rules"]] == [0, 1, 2, 3]
    assert result["counts"] == {"inbound_connectors": 3, "outbound_connectors": 2, "mail_flow_rules": 4}


def test_passing_every_entry_back_is_a_no_op(client):
    seed(client)
    result = tenant_view.summarise(client)
    for spec, kind in ((InboundConnectorSpec, "inbound_connectors"), (OutboundConnectorSpec, "outbound_connectors")):
        for entry in result[kind]:
            if entry["facts"]["connector_type"] != "Partner":
                continue
            options = dict(entry["options"])
            name = options.pop("name")
            desired = dict((f.option, None) for f in spec.fields)
            desired.update(options)
            outcome = engine.ensure(client, spec(), name, "present", desired, check_mode=True)
            assert outcome.action == "none", (name, outcome.changed_properties)
    for entry in result["mail_flow_rules"]:
        params = dict(state="present", purge_conditions=True, purge_exceptions=True, purge_actions=True,
                      apply_to_all_messages=False, priority=None, position=None, extra_parameters=None)
        for option in ("enabled", "mode", "comments", "activation_date", "expiry_date", "conditions", "exceptions",
                       "actions"):
            params[option] = None
        params.update(entry["options"])
        outcome = transport_rule.ensure_rule(client, params, check_mode=True)
        assert outcome["action"] == "none", (entry["options"]["name"], outcome["changed_properties"])


def test_entries_hold_options_and_facts_apart(client):
    seed(client)
    result = tenant_view.summarise(client, names=["adatum*"])
    inbound = result["inbound_connectors"][0]
    assert set(inbound) == {"options", "facts"}
    assert "guid" not in inbound["options"] and inbound["facts"]["guid"]
    assert inbound["facts"]["managed_by"] == "Adatum"  # the marker's partner, as the roles compare it
    contoso = tenant_view.summarise(client, names=["contoso inbound", "stray"])
    assert [e["facts"]["managed_by"] for e in contoso["inbound_connectors"] + contoso["mail_flow_rules"]] == \
        [None, "Adatum"]
    assert inbound["options"]["sender_domains"] == ["adatum.example", "*.adatum.example"]
    assert "sender_ip_addresses" not in inbound["options"]  # not set: left out
    outbound = result["outbound_connectors"][0]
    assert outbound["options"]["test_mode"] is True and "is_validated" in outbound["facts"]
    rule = result["mail_flow_rules"][0]
    assert rule["options"]["conditions"] == {"recipient_domain_is": ["adatum.example"]}
    assert rule["options"]["exceptions"] == {"subject_contains_words": ["private"]}
    assert rule["options"]["actions"]["route_message_outbound_connector"] == "Adatum outbound"
    assert "priority" not in rule["options"] and rule["facts"]["priority"] == 0
    assert [e["options"]["name"] for e in result["mail_flow_rules"]] == ["Adatum - Accounting"]


def test_partners_unmanaged_and_proposals(client):
    seed(client)
    result = tenant_view.summarise(client)
    assert len(result["partners"]) == 1
    adatum = result["partners"][0]["partner"]
    assert list(adatum) == ["name", "inbound", "outbound", "rules", "validation"]
    assert adatum["inbound"]["comment"] == "Payroll" and "name" not in adatum["inbound"]
    assert adatum["validation"] == {"enabled": False}  # no validation recipients: the file must say so
    assert not any(o in adatum["outbound"] for o in tenant_view.ON_PREMISES_ONLY)
    assert adatum["rules"][0]["name"] == "Accounting" and "comments" not in adatum["rules"][0]
    assert adatum["rules"][0]["actions"] == {"set_scl": -1}
    reasons = dict((u["options"]["name"], u["reason"]) for u in result["unmanaged"])
    assert reasons["Stray"] == "marker of partner 'Adatum', but not named 'Adatum - <rule>'"
    assert reasons["Hybrid"] == "marker of partner 'Hybrid', but a OnPremises connector"
    assert reasons["Contoso inbound"] == "no m365.mailflow marker in its comment"
    assert [u["manageable"] for u in result["unmanaged"] if u["options"]["name"] == "Hybrid"] == [False]
    everything = [u for u in result["unmanaged"] if u["options"]["name"] == "Everything"][0]
    assert everything["options"]["apply_to_all_messages"] is True and everything["options"]["enabled"] is False
    assert everything["task"] == {"name": "mail flow rule Everything",
                                  "m365.mailflow.mail_flow_rule": everything["options"]}
    assert len(result["proposed_partners"]) == 1
    contoso = result["proposed_partners"][0]["partner"]
    assert contoso["name"] == "Contoso" and contoso["adopt"] is True
    assert contoso["inbound"]["comment"] == "by hand" and [r["name"] for r in contoso["rules"]] == ["Legal"]
    assert sorted(u["options"]["name"] for u in result["unmanaged_unproposed"]) == ["Everything", "Hybrid", "Stray"]


def test_strip_marker():
    assert tenant_view.strip_marker(MARK + "Adatum", "Adatum") is None
    assert tenant_view.strip_marker(MARK + "adatum. text. more", "Adatum") == "text. more"
    assert tenant_view.strip_marker("before " + MARK + "Adatum", "Adatum") == "before " + MARK + "Adatum"


def test_drift_and_orphans(client):
    seed(client)
    objects = tenant_view.read_objects(client)
    definition = {"partner": {"name": "Adatum",
                              "inbound": {"sender_domains": ["adatum.example", "*.adatum.example"],
                                          "tls_sender_certificate_name": "*.adatum.example",
                                          "restrict_domains_to_certificate": True, "comment": "Payroll"},
                              "outbound": {"smart_hosts": ["mail.other.example"], "tls_settings": "domain_validation",
                                           "tls_domain": "*.adatum.example"},
                              "rules": [{"name": "Accounting", "conditions": {"recipient_domain_is": ["adatum.example"]},
                                         "exceptions": {"subject_contains_words": ["private"]},
                                         "actions": {"set_scl": -1}, "activation_date": "2030-01-01T08:00:00Z"},
                                        {"name": "Gone", "conditions": {"recipient_domain_is": ["adatum.example"]}}]}}
    drift = tenant_view.compare([{"source": "adatum.yml", "definition": definition}], objects, client=client)
    rows = dict((o["name"], o) for o in drift["partners"][0]["objects"])
    assert rows["Adatum inbound"]["status"] == "in_sync"
    assert rows["Adatum outbound"]["properties"] == [
        {"property": "smart_hosts", "expected": ["mail.other.example"], "actual": ["mail.adatum.example"]}]
    assert rows["Adatum - Accounting"]["status"] == "in_sync"
    assert rows["Adatum - Gone"]["status"] == "missing"
    assert drift["totals"] == {"partners": 1, "objects": 4, "in_sync": 2, "drifted": 1, "missing": 1,
                               "partners_drifted": 1, "orphaned": 0}
    none = tenant_view.compare([], objects)
    assert [(o["kind"], o["name"]) for o in none["orphaned"]] == [
        ("mail_flow_rules", "Adatum - Accounting"), ("mail_flow_rules", "Stray"),
        ("outbound_connectors", "Adatum outbound"), ("inbound_connectors", "Adatum inbound")]
