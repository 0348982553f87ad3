# -*- coding: utf-8 -*-
"""What a simulation evaluates against (simulation/sources.py): the tenant read once per object type, objects given as
data, partner definitions laid over them; and the sandbox's Get-AcceptedDomain and directory attributes."""

from __future__ import absolute_import, division, print_function

import os

import pytest
import yaml

from ansible_collections.m365.mailflow.plugins.module_utils import sandbox_seed
from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant, SandboxTransport
from ansible_collections.m365.mailflow.plugins.module_utils.simulation import sources
from tests.unit.plugins.module_utils.test_engine import CountingTransport
from tests.unit.plugins.module_utils.test_sandbox_seed import params as seed_params

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ADATUM = os.path.join(REPO, "examples", "partners", "adatum.yml")
MESSAGES = [
    {"name": "Accounting", "sender": "anna@contoso.com", "recipients": ["payroll@adatum.example"],
     "expect": {"connector": "Adatum outbound"}},
    {"name": "Sales", "sender": "sam@contoso.com", "recipients": ["payroll@adatum.example"],
     "expect": {"connector": "none"}},
]


@pytest.fixture
def client(tmp_path):
    transport = CountingTransport(SandboxTransport(str(tmp_path / "tenant.db")))
    tenant = transport.inner.tenant
    tenant.add_recipient("Anna", primary="anna@contoso.com", attributes={"Department": "Accounting"})
    tenant.add_recipient("Sam", primary="sam@contoso.com", attributes={"department": "Sales"})
    return Client(transport, retry_delay=0.0, sleep=lambda s: None)


def seed(client):
    def w(cmdlet, p):
        client.invoke(cmdlet, p, write=True)

    w("New-OutboundConnector", {"Name": "Adatum outbound", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
                                "UseMXRecord": False, "SmartHosts": ["mail.adatum.example"],
                                "TlsSettings": "DomainValidation", "TlsDomain": "*.adatum.example"})
    w("New-TransportRule", {"Name": "Adatum - Accounting", "SenderADAttributeContainsWords": ["Department:Accounting"],
                            "RecipientDomainIs": ["adatum.example"], "RouteMessageOutboundConnector": "Adatum outbound"})
    w("New-TransportRule", {"Name": "Disclaimer", "SentToScope": "NotInOrganization", "PrependSubject": "[ext] "})
    client.transport.sent[:] = []


def run(client, **options):
    options.setdefault("messages", MESSAGES)
    options.setdefault("tenant", "contoso.onmicrosoft.com")
    return sources.run(options, lambda: client)


def test_tenant_read_once_per_object_type_and_nothing_written(client):
    seed(client)
    result = run(client)
    assert sorted(client.transport.sent) == ["Get-AcceptedDomain", "Get-InboundConnector", "Get-OutboundConnector",
                                             "Get-Recipient", "Get-TransportRule"]
    assert result["failed_expectations"] == [] and result["changed"] is False
    assert result["sources"] == {"objects": "tenant", "accepted_domains": "tenant", "directory": "tenant"}
    accounting = result["messages"][0]["recipients"][0]
    assert accounting["route"]["connector"] == "Adatum outbound"
    assert accounting["applied_rules"] == ["Adatum - Accounting", "Disclaimer"]


def test_show_rules_matched_keeps_the_rules_that_matter(client):
    seed(client)
    result = run(client, show_rules="matched", messages=[dict(MESSAGES[1], expect=None)])
    sales = result["messages"][0]["recipients"][0]
    assert [r["name"] for r in sales["rules"]] == ["Disclaimer"] and sales["rules_not_shown"] == 1


def test_directory_read_only_when_a_rule_needs_it(client):
    client.invoke("New-TransportRule", {"Name": "Tag", "SubjectContainsWords": ["x"], "PrependSubject": "y"},
                  write=True)
    client.transport.sent[:] = []
    result = run(client, messages=[dict(MESSAGES[1], expect=None)])
    assert "Get-Recipient" not in client.transport.sent
    assert result["sources"]["directory"].startswith("not read")


def test_objects_and_accepted_domains_given_read_nothing(client):
    seed(client)
    objects = sources.tenant_objects(client)
    client.transport.sent[:] = []
    result = sources.run({"messages": MESSAGES, "objects": objects, "accepted_domains": ["contoso.com"],
                          "sandbox": None}, lambda: pytest.fail("no connection may be opened"))
    assert client.transport.sent == []
    assert result["sources"]["directory"].startswith("not read: no tenant connection")
    # Without the directory the Department comes from the messages; not given, the rule's condition is unknown.
    assert result["failed_expectations"] == [
        "message 'Accounting' to payroll@adatum.example: connector expected 'Adatum outbound', simulated 'none'"]
    assert result["messages"][0]["unknown"][0]["condition"] == "sender_ad_attribute_contains_words"
    with_attributes = [dict(MESSAGES[0], sender_attributes={"Department": "Accounting"}), MESSAGES[1]]
    again = sources.run({"messages": with_attributes, "objects": objects, "accepted_domains": ["contoso.com"]},
                        lambda: pytest.fail("no connection may be opened"))
    assert again["failed_expectations"] == []


def test_without_a_connection_objects_and_domains_are_required():
    with pytest.raises(ConfigurationError) as info:
        sources.run({"messages": MESSAGES, "objects": {}}, lambda: None)
    assert info.value.msg.startswith("accepted_domains: there is no tenant connection")


def test_failed_expectations_fail_unless_told_not_to(client):
    seed(client)
    wrong = [dict(MESSAGES[1], expect={"connector": "Adatum outbound"})]
    result = run(client, messages=wrong)
    assert result["failed"] is True and "connector expected 'Adatum outbound', simulated 'none'" in result["msg"]
    assert result["messages"][0]["recipients"][0]["route"]["delivery"] == "mx"
    assert "failed" not in run(client, messages=wrong, fail_on_expectations=False)


def test_mail_flow_info_result_given_whole(client):
    seed(client)
    info = dict(sources.tenant_objects(client), partners=[], unmanaged=[], counts={}, changed=False)
    result = sources.run({"messages": [dict(MESSAGES[1], expect=None)], "objects": info, "accepted_domains":
                          [{"name": "contoso.com", "type": "Authoritative"}]}, lambda: None)
    assert result["messages"][0]["recipients"][0]["applied_rules"] == ["Disclaimer"]
    with pytest.raises(ConfigurationError) as bad:
        sources.run({"messages": MESSAGES, "objects": {"rules": []}, "accepted_domains": []}, lambda: None)
    assert "objects: unknown key(s) rules" in bad.value.msg


# --------------------------------------------------------------------------------------------------- partners

def adatum(**changes):
    with open(ADATUM) as handle:
        data = yaml.safe_load(handle)["partner"]
    data.update(changes)
    return data


def test_partner_overlay_shows_the_planned_route_without_writing(client):
    seed(client)
    data = adatum()
    data["rules"][0]["conditions"]["sender_ad_attribute_contains_words"] = ["Department:Sales"]
    result = run(client, partners=[{"partner": data}])
    assert [c for c in client.transport.sent if not c.startswith("Get-")] == []
    assert result["sources"]["planned"] == [{"name": "Adatum inbound", "change": "create"},
                                            {"name": "Adatum outbound", "change": "update"},
                                            {"name": "Adatum - Accounting", "change": "update"}]
    accounting, sales = (m["recipients"][0] for m in result["messages"])
    assert accounting["route"]["delivery"] == "mx" and sales["route"]["connector"] == "Adatum outbound"
    assert len(result["failed_expectations"]) == 2


def test_overlay_places_new_rules_and_merges_connectors():
    objects = {
        "inbound_connectors": [],
        "outbound_connectors": [{"options": {"name": "Adatum outbound", "smart_hosts": ["old.adatum.example"],
                                             "comment": "kept", "enabled": False, "mta_sts_mode": "none"},
                                 "facts": {"connector_type": "Partner"}}],
        "mail_flow_rules": [{"options": {"name": "First", "conditions": {"subject_contains_words": ["a"]}},
                             "facts": {"priority": 0}},
                            {"options": {"name": "Second", "conditions": {"subject_contains_words": ["b"]}},
                             "facts": {"priority": 1}}],
    }
    data = adatum(inbound=None)
    data["rules"].append({"name": "Top", "position": "top", "conditions": {"recipient_domain_is": ["adatum.example"]}})
    data["rules"].append({"name": "Mid", "position": {"after": "First"},
                          "conditions": {"recipient_domain_is": ["adatum.example"]}})
    data["rules"].append({"name": "Two", "priority": 2, "conditions": {"recipient_domain_is": ["adatum.example"]}})
    out, planned = sources.overlay_partners(objects, sources.partner_definitions([data]))
    names = [(e["options"]["name"], e["facts"]["priority"]) for e in out["mail_flow_rules"]]
    assert names == [("Adatum - Top", 0), ("First", 1), ("Adatum - Two", 2), ("Adatum - Mid", 3), ("Second", 4),
                     ("Adatum - Accounting", 5)]
    connector = out["outbound_connectors"][0]["options"]
    assert connector["smart_hosts"] == ["mail.adatum.example"] and connector["comment"].startswith("Managed by")
    assert connector["mta_sts_mode"] == "none"  # not in the definition: the tenant keeps its value
    assert connector["enabled"] is True  # a partner's connector is enabled unless its file says otherwise
    assert connector["transport_rule_scoped"] is True and connector["tls_settings"] == "domain_validation"
    accounting = [e for e in out["mail_flow_rules"] if e["options"]["name"] == "Adatum - Accounting"][0]["options"]
    assert accounting["actions"] == {"route_message_outbound_connector": "Adatum outbound"}
    assert accounting["enabled"] is True and accounting["mode"] == "enforce"
    assert objects["mail_flow_rules"][0]["facts"] == {"priority": 0}  # the input is not changed
    assert ("Adatum - Accounting", "create") in [(p["name"], p["change"]) for p in planned]


@pytest.mark.parametrize("item,words", [
    ({"partner": {"inbound": {}}}, ["partners[0]: give a partner definition"]),
    ({"name": "X", "rules": [{"name": "r"}]}, ["partners[0].rules", "outbound"]),
    ({"name": "X", "outbound": "no"}, ["partners[0].outbound: expected a mapping"]),
])
def test_partner_definitions_shape(item, words):
    with pytest.raises(ConfigurationError) as info:
        sources.partner_definitions([item])
    for word in words:
        assert word in info.value.msg


def test_partner_definitions_as_partner_definitions_returns_them():
    partner = sources.partner_definitions([{"source": "partners/adatum.yml", "definition": {"partner": adatum()}}])[0]
    assert partner.source == "partners/adatum.yml" and partner.data["name"] == "Adatum"


# --------------------------------------------------------------------------------------------------- sandbox

def test_sandbox_get_accepted_domain(tmp_path):
    tenant = SandboxTenant(str(tmp_path / "t.db"))
    tenant.add_accepted_domain("relay.contoso.com", "InternalRelay")
    client = Client(SandboxTransport(str(tmp_path / "t.db")), retry_delay=0.0, sleep=lambda s: None)
    found = dict((d["DomainName"], (d["DomainType"], d["Default"])) for d in sources.tenant_accepted_domains(client))
    assert found == {"contoso.com": ("Authoritative", False), "relay.contoso.com": ("InternalRelay", False),
                     "sandbox.onmicrosoft.com": ("Authoritative", True)}
    one = client.invoke("Get-AcceptedDomain", {"Identity": "Relay.Contoso.com"})
    assert [d["DomainName"] for d in one] == ["relay.contoso.com"]


def test_sandbox_recipients_carry_directory_attributes(tmp_path):
    tenant = SandboxTenant(str(tmp_path / "t.db"))
    record = tenant.add_recipient("Anna", attributes={"department": "Accounting", "CustomAttribute3": "payroll"})
    assert record["Department"] == "Accounting" and record["CustomAttribute3"] == "payroll"
    assert record["City"] is None  # read back as null, as Get-Recipient does
    with pytest.raises(ValueError):
        tenant.add_recipient("Bad", attributes={"Dept": "x"})


def test_sandbox_tenant_module_sets_attributes_idempotently(tmp_path):
    path = tmp_path / "t.db"
    carol = [{"name": "carol", "address": "carol@contoso.com", "attributes": {"Department": "Accounting"}}]
    first = sandbox_seed.run(seed_params(path, recipients=carol))
    assert first["changes"][-1] == "recipient carol added"
    assert first["tenant"]["recipients"]["carol"]["attributes"] == {"Department": "Accounting"}
    assert sandbox_seed.run(seed_params(path, recipients=carol))["changed"] is False
    moved = [dict(carol[0], attributes={"Department": "Sales"})]
    assert sandbox_seed.run(seed_params(path, recipients=moved))["changes"] == ["recipient carol changed"]
    with pytest.raises(ConfigurationError) as info:
        sandbox_seed.run(seed_params(path, recipients=[dict(carol[0], attributes={"Dept": "x"})]))
    assert "recipients[0].attributes.Dept" in info.value.msg
