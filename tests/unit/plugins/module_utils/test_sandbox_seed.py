# -*- coding: utf-8 -*-
"""sandbox_seed (m365.mailflow.sandbox_tenant) in process, and the static host map it sets (hostmap,
validation.routes)."""

from __future__ import absolute_import, division, print_function

import hashlib
import os

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import engine, hostmap, sandbox_seed
from ansible_collections.m365.mailflow.plugins.module_utils.connection import connect
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import transport_rule
from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import OutboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
from ansible_collections.m365.mailflow.plugins.module_utils.validation import routes

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

INFO = {
    "inbound_connectors": [{"name": "Old inbound", "sender_domains": ["old.example"], "require_tls": True,
                            "facts": {"guid": "ignored"}}],
    "outbound_connectors": [{"name": "Old outbound", "transport_rule_scoped": True, "smart_hosts": ["mail.old.example"],
                             "tls_settings": "encryption_only", "mta_sts_mode": None}],
    "mail_flow_rules": [{"name": "Old route", "conditions": {"recipient_domain_is": ["old.example"], "from": ["carol"]},
                         "actions": {"route_message_outbound_connector": "Old outbound"}}],
}


def params(path, **options):
    out = dict(sandbox=str(path), retries=1, retry_delay=0.01, timeout=60, token_cache=False, tenant_domain=None,
               accepted_domains=None, recipients=None, network=None, objects=None, objects_files=None)
    out.update(options)
    return out


def digest(path):
    with open(str(path), "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def carol():
    return [{"name": "carol", "address": "carol@contoso.com", "alias": None, "display_name": None, "addresses": [],
             "type": "UserMailbox"}]


# ----------------------------------------------------------------------------------------------- host map

def test_host_map_is_stored_in_one_form_and_bad_entries_are_named():
    assert hostmap.check_host_map({"Mail.X.Example.": "127.0.0.1:2525", "v6.example": "[::1]"}) == {
        "mail.x.example": "127.0.0.1:2525", "v6.example": "::1"}
    assert hostmap.check_host_map({}) is None
    with pytest.raises(ConfigurationError) as info:
        hostmap.check_host_map({"bad name": "127.0.0.1", "ok.example": "localhost:25", "p.example": "127.0.0.1:99999"})
    assert info.value.details == [
        "hosts: 'bad name' is not a host name (letters, digits, '-' and '.', such as mail.adatum.example)",
        "hosts.ok.example: 'localhost:25' is not an address; write 'ip' or 'ip:port' (for example 127.0.0.1 or "
        "127.0.0.1:2525, [::1]:2525 for IPv6), port 1-65535",
        "hosts.p.example: '127.0.0.1:99999' is not an address; write 'ip' or 'ip:port' (for example 127.0.0.1 or "
        "127.0.0.1:2525, [::1]:2525 for IPv6), port 1-65535"]
    assert hostmap.lookup_entry({"mx.example": "127.0.0.1:2526"}, "MX.example.") == ("127.0.0.1", 2526)
    assert hostmap.lookup_entry({"mx.example": "127.0.0.1"}, "other.example") is None


def test_route_answers_mapped_names_without_dns_and_carries_their_port(monkeypatch):
    asked = []

    def fake_factory(dns_servers, timeout):
        def lookup(name, rdtype):
            asked.append((name, rdtype))
            raise routes._LookupFailure("nxdomain", "%s %s: NXDOMAIN" % (rdtype, name))
        return lookup

    monkeypatch.setattr(routes, "_lookup_factory", fake_factory)
    mapped = {"fabrikam.example": "127.0.0.1:2601", "smtp.litware.example": "127.0.0.2"}
    route = routes.resolve_route(recipient_domains=["fabrikam.example"], host_map=mapped)
    assert route["failures"] == [] and asked == []
    assert route["hosts"] == [{"host": "fabrikam.example", "ips": ["127.0.0.1"], "via": "a:fabrikam.example",
                               "preference": 0, "port": 2601}]
    route = routes.resolve_route(smart_hosts=["smtp.litware.example", "mail.unknown.example"], host_map=mapped)
    assert [h["host"] for h in route["hosts"]] == ["smtp.litware.example"] and "port" not in route["hosts"][0]
    assert [f["class"] for f in route["failures"]] == ["resolve"]
    assert asked == [("mail.unknown.example", "A")]  # only the name the map does not hold goes to DNS


# ----------------------------------------------------------------------------------------------- configure and seed

def test_configure_and_seed_then_rerun_changes_nothing(tmp_path):
    path = tmp_path / "tenant.db"
    wanted = params(path, tenant_domain="Contoso.onmicrosoft.com", recipients=carol(),
                    accepted_domains=["fabrikam.com", {"name": "relay.contoso.com", "type": "internalrelay"}],
                    network={"hosts": {"mail.old.example": "127.0.0.1:2525"}, "timeout": 3, "dns_servers": None,
                             "smtp_port": None, "ca_path": None},
                    objects=INFO)
    first = sandbox_seed.run(wanted, diff_mode=True)
    assert first["changed"] is True
    assert first["changes"] == ["sandbox tenant created (contoso.onmicrosoft.com)",
                                "accepted domain fabrikam.com added (Authoritative)",
                                "accepted domain relay.contoso.com added (InternalRelay)", "recipient carol added",
                                "network hosts set", "network timeout set"]
    assert [(o["kind"], o["name"], o["action"]) for o in first["objects"]] == [
        ("inbound connector", "Old inbound", "create"), ("outbound connector", "Old outbound", "create"),
        ("mail flow rule", "Old route", "create")]
    assert len(first["diff"]) == 4 and first["diff"][0]["before"] == {}
    tenant = SandboxTenant(str(path))
    assert tenant.tenant_domain == "contoso.onmicrosoft.com"
    assert tenant.accepted_domain_types()["relay.contoso.com"] == "InternalRelay"
    assert tenant.settings()["hosts"] == {"mail.old.example": "127.0.0.1:2525"} and tenant.settings()["timeout"] == 3.0

    before = digest(path)
    second = sandbox_seed.run(wanted, diff_mode=True)
    assert second["changed"] is False and second["changes"] == [] and second["diff"] == []
    assert [o["action"] for o in second["objects"]] == ["none", "none", "none"]
    assert digest(path) == before

    # What the modules then see: the same options through their backend are a no-op.
    client = connect(params(path))
    desired = dict((f.option, None) for f in InboundConnectorSpec.fields)
    desired.update(sender_domains=["old.example"], require_tls=True)
    assert engine.ensure(client, InboundConnectorSpec(), "Old inbound", "present", desired).action == "none"
    desired = dict((f.option, None) for f in OutboundConnectorSpec.fields)
    desired.update(transport_rule_scoped=True, smart_hosts=["mail.old.example"], tls_settings="encryption_only")
    assert engine.ensure(client, OutboundConnectorSpec(), "Old outbound", "present", desired).action == "none"
    rule = dict(INFO["mail_flow_rules"][0], state="present", purge_conditions=True, purge_exceptions=True,
                purge_actions=True, apply_to_all_messages=False)
    assert transport_rule.ensure_rule(client, rule)["action"] == "none"
    # the rule resolved the seeded recipient, as Exchange Online does
    assert client.invoke("Get-TransportRule", {"Identity": "Old route"})[0]["From"] == ["carol@contoso.com"]


def test_check_mode_reads_only(tmp_path):
    path = tmp_path / "tenant.db"
    result = sandbox_seed.run(params(path, objects=INFO, recipients=carol()), check_mode=True)
    assert result["changed"] is True and not path.exists()
    assert [o["action"] for o in result["objects"]] == ["create", "create", "create"]

    sandbox_seed.run(params(path, objects=INFO, recipients=carol()))
    before = digest(path)
    changed = dict(INFO, inbound_connectors=[{"name": "Old inbound", "sender_domains": ["old.example", "old2.example"]}])
    result = sandbox_seed.run(params(path, objects=changed, network={"smtp_port": 2525}), check_mode=True)
    assert result["changed"] is True and result["changes"] == ["network smtp_port set"]
    assert [o["action"] for o in result["objects"]] == ["update", "none", "none"]
    assert result["objects"][0]["changed_properties"] == ["sender_domains"]
    assert digest(path) == before


def test_partner_definition_is_seeded_as_onboarding_writes_it(tmp_path):
    import yaml
    with open(os.path.join(REPO, "examples", "partners", "adatum.yml")) as handle:
        adatum = yaml.safe_load(handle)
    result = sandbox_seed.run(params(tmp_path / "t.db", objects=adatum))
    assert [(o["name"], o["action"]) for o in result["objects"]] == [
        ("Adatum inbound", "create"), ("Adatum outbound", "create"), ("Adatum - Accounting", "create")]
    client = connect(params(tmp_path / "t.db"))
    rule = client.invoke("Get-TransportRule", {"Identity": "Adatum - Accounting"})[0]
    assert rule["RouteMessageOutboundConnector"] == "Adatum outbound"
    assert rule["Comments"].startswith("Managed by m365.mailflow partner Adatum. ")


def test_real_tenant_is_refused_before_anything(tmp_path):
    with pytest.raises(ConfigurationError, match=r"sandbox tenant only, and sandbox \(EXO_SANDBOX\) is not set "
                                                 r"\(the connection is a real tenant: tenant, client_id\)"):
        sandbox_seed.run(dict(params(tmp_path / "t.db", sandbox=None), tenant="contoso.onmicrosoft.com",
                              client_id="00000000-0000-0000-0000-000000000000"))


@pytest.mark.parametrize("options, message", [
    ({"objects": {"inbound_connectors": [{"name": "X", "sender_domain": ["x.example"]}]}},
     "objects: inbound_connectors[0] (X): unknown option(s) sender_domain of m365.mailflow.partner_inbound_connector"),
    ({"objects": {"inbound_connector": []}}, "objects: inbound_connector: unknown key; did you mean inbound_connectors?"),
    ({"objects": {"outbound_connectors": [{"name": "Y", "smart_hosts": ["mail.y.example:587"]}]}},
     "objects: outbound_connectors[0] (Y): smart_hosts: 'mail.y.example:587'"),
    ({"objects_files": ["seed.yml"]}, "objects_files[0]: 'seed.yml' is a relative path"),
    ({"network": {"hosts": {"x.example": "nowhere"}}}, "network.hosts.x.example: 'nowhere' is not an address"),
    ({"network": {"ca_path": "/nonexistent/ca.pem"}}, "network.ca_path: '/nonexistent/ca.pem' does not exist"),
    ({"network": {"dns_servers": ["dns.example"]}}, "network.dns_servers: 'dns.example' is not an IP address"),
    ({"recipients": [{"name": "x", "address": "not-an-address", "addresses": []}]},
     "recipients[0].address: 'not-an-address' is not an SMTP address"),
    ({"accepted_domains": [{"name": "a.example", "type": "Relay"}]}, "accepted_domains[0].type: 'Relay' is not a "),
])
def test_bad_input_is_named_and_nothing_is_written(tmp_path, options, message):
    path = tmp_path / "t.db"
    with pytest.raises(ConfigurationError) as info:
        sandbox_seed.run(params(path, **options))
    assert message in info.value.msg, info.value.msg
    assert not path.exists()


def test_tenant_refusal_found_in_the_rehearsal_leaves_the_file_untouched(tmp_path):
    path = tmp_path / "t.db"
    sandbox_seed.run(params(path, recipients=carol()))
    before = digest(path)
    # The rule routes to a connector that is not scoped to rules: the backend refuses it, after the connectors
    # were written in the rehearsal; the real file never sees the connectors.
    bad = dict(INFO, outbound_connectors=[{"name": "Old outbound", "recipient_domains": ["old.example"]}])
    with pytest.raises(ConfigurationError) as info:
        sandbox_seed.run(params(path, objects=bad))
    assert info.value.msg.startswith("nothing was changed in %s: " % path) and "Old outbound" in info.value.msg
    assert digest(path) == before


def test_tenant_domain_of_an_existing_tenant_cannot_change(tmp_path):
    path = tmp_path / "t.db"
    sandbox_seed.run(params(path, tenant_domain="a.onmicrosoft.com"))
    assert sandbox_seed.run(params(path, tenant_domain="A.onmicrosoft.com"))["changed"] is False
    with pytest.raises(ConfigurationError, match="has the domain a.onmicrosoft.com, not b.onmicrosoft.com"):
        sandbox_seed.run(params(path, tenant_domain="b.onmicrosoft.com"))


def test_changed_recipient_is_replaced(tmp_path):
    path = tmp_path / "t.db"
    sandbox_seed.run(params(path, recipients=carol()))
    moved = [dict(carol()[0], address="carol@fabrikam.com", type="SharedMailbox")]
    assert sandbox_seed.run(params(path, recipients=moved))["changes"] == ["recipient carol changed"]
    record = [r for r in SandboxTenant(str(path)).recipients() if r["Name"] == "carol"]
    assert len(record) == 1 and record[0]["PrimarySmtpAddress"] == "carol@fabrikam.com"
    assert record[0]["RecipientTypeDetails"] == "SharedMailbox"
    assert sandbox_seed.run(params(path, recipients=moved))["changed"] is False
