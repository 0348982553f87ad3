# -*- coding: utf-8 -*-
"""Sandbox tenant: plumbing, inbound and outbound connectors (rules I1-I12, O1-O16), through execute()."""

from __future__ import absolute_import, division, print_function

import json
import multiprocessing
import os
import threading

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    ConfigurationError, DuplicateError, InvalidParameterError, NotFoundError, PermissionDeniedError,
)
from tests.support.sandbox_calls import fails, objs, run  # noqa: F401  pylint: disable=unused-import
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant, SandboxTransport

HASH = "#Exchange.GenericHashTable"


@pytest.fixture
def tenant(tmp_path):
    return SandboxTenant(str(tmp_path / "state" / "tenant.db"))


def inbound(tenant, name="Partner", **params):
    params.setdefault("SenderDomains", ["contoso.com"])
    params["Name"] = name
    return objs(tenant, "New-InboundConnector", params)[0]


def outbound(tenant, name="Route", **params):
    params["Name"] = name
    if not params.get("RecipientDomains") and "IsTransportRuleScoped" not in params:
        params["IsTransportRuleScoped"] = True
    return objs(tenant, "New-OutboundConnector", params)[0]


def get_in(tenant, name):
    return objs(tenant, "Get-InboundConnector", {"Identity": name})[0]


def get_out(tenant, name, **filters):
    return objs(tenant, "Get-OutboundConnector", dict(filters, Identity=name))[0]


# --------------------------------------------------------------------------- tenant and plumbing

def test_tenant_created_with_guid_domain_and_accepted_domains(tmp_path):
    path = str(tmp_path / "a" / "b" / "t.db")
    first = SandboxTenant(path, tenant_domain="fabrikam.onmicrosoft.com")
    again = SandboxTenant(path)
    assert os.path.exists(path)
    assert first.tenant_id == again.tenant_id and len(first.tenant_id) == 36
    assert again.tenant_domain == "fabrikam.onmicrosoft.com"
    assert first.accepted_domains() == ["contoso.com", "fabrikam.onmicrosoft.com"]
    assert SandboxTenant(str(tmp_path / "d.db")).tenant_domain == "sandbox.onmicrosoft.com"


def test_settings_roundtrip_and_validation(tenant):
    assert tenant.settings()["smtp_port"] == 25
    tenant.configure(dns_servers=["127.0.0.1:5353", "192.0.2.53"], smtp_port=2525, ca_path="/tmp/ca.pem", timeout=2)
    assert tenant.settings() == {"dns_servers": ["127.0.0.1:5353", "192.0.2.53"], "smtp_port": 2525,
                                 "ca_path": "/tmp/ca.pem", "timeout": 2.0, "replication_lag": 0.0, "hosts": None}
    tenant.configure(hosts={"Mail.Adatum.Example.": "127.0.0.1:2526", "v6.example": "[::1]:25", "ip.example": "::1"})
    assert tenant.settings()["hosts"] == {"mail.adatum.example": "127.0.0.1:2526", "v6.example": "[::1]:25",
                                          "ip.example": "::1"}
    with pytest.raises(ConfigurationError, match=r"hosts.mx.example: '127.0.0.1:0' is not an address"):
        tenant.configure(hosts={"mx.example": "127.0.0.1:0"})
    with pytest.raises(ConfigurationError):
        tenant.configure(dns_servers=["not-an-ip"])
    with pytest.raises(ConfigurationError):
        tenant.configure(smtp_port=70000)
    with pytest.raises(ConfigurationError):
        tenant.configure(colour="blue")


def test_unknown_cmdlet_is_403_nul_body_gzip(tenant):
    raw = tenant.execute("Get-Mailboxx", {})
    assert raw.status == 403 and raw.headers["content-encoding"] == "gzip" and set(raw.body) == {0}
    with pytest.raises(PermissionDeniedError):
        wire.parse_response(raw, "Get-Mailboxx")


def test_unknown_parameter_is_ambiguous_parameter_set(tenant):
    raw = tenant.execute("Get-InboundConnector", {"Bogus": 1})
    assert raw.status == 400
    body = json.loads(raw.body)
    assert "AmbiguousParameterSetException" in body["error"]["details"][0]["message"]
    fails(tenant, "Get-InboundConnector", {"Bogus": 1}, InvalidParameterError, "Bogus")


def test_invalid_enum_lists_valid_names(tenant):
    err = fails(tenant, "New-InboundConnector", {"Name": "x", "SenderDomains": "a.com", "ConnectorType": "Cloud"},
                InvalidParameterError, "ConnectorType", "OnPremises, Partner")
    assert err.exception_type.endswith("ParameterTransformationException")


def test_names_case_insensitive_and_common_parameters(tenant):
    objs(tenant, "new-INBOUNDconnector", {"name": "P", "senderdomains": "a.com", "Confirm": False,
                                          "ErrorAction": "Stop", "WarningAction": "SilentlyContinue"})
    assert get_in(tenant, "p")["Name"] == "P"


def test_success_envelope_shape(tenant):
    inbound(tenant)
    raw = tenant.execute("Get-InboundConnector", {})
    assert raw.status == 200
    body = json.loads(raw.body)
    assert body["@adminapi.warnings"] == [] and "sandbox.onmicrosoft.com" in body["@odata.context"]
    assert body["value"][0]["SenderDomains@odata.type"] == "#Collection(String)"


def test_whatif_changes_nothing(tenant):
    raw = tenant.execute("New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "WhatIf": True})
    body = json.loads(raw.body)
    assert raw.status == 200 and body["value"] == []
    assert "New-InboundConnector" in body["@adminapi.confirmationmessage"]
    assert objs(tenant, "Get-InboundConnector") == []
    inbound(tenant, "P")
    run(tenant, "Remove-InboundConnector", {"Identity": "P", "WhatIf": True})
    assert get_in(tenant, "P")
    # WhatIf still validates
    fails(tenant, "Set-InboundConnector", {"Identity": "P", "RestrictDomainsToIPAddresses": True, "WhatIf": True},
          InvalidParameterError, "RestrictDomainsToIPAddresses")


def test_identity_matches_name_guid_dn(tenant):
    made = inbound(tenant, "Partner A")
    assert get_in(tenant, made["Guid"].upper())["Name"] == "Partner A"
    assert get_in(tenant, made["DistinguishedName"].lower())["Name"] == "Partner A"
    err = fails(tenant, "Get-InboundConnector", {"Identity": "nope"}, NotFoundError, "nope", "couldn't be found")
    assert err.status == 404 and err.exception_type.endswith("ManagementObjectNotFoundException")


def test_get_lists_ordered_by_name_and_result_size(tenant):
    for name in ("b", "C", "a"):
        inbound(tenant, name)
    assert [o["Name"] for o in objs(tenant, "Get-InboundConnector")] == ["a", "b", "C"]
    parsed = run(tenant, "Get-InboundConnector", {"ResultSize": 2})
    assert len(parsed.objects) == 2 and "ResultSize" in parsed.warnings[0]
    assert len(objs(tenant, "Get-InboundConnector", {"ResultSize": "Unlimited"})) == 3


def test_transport_contract(tmp_path):
    transport = SandboxTransport(str(tmp_path / "t.db"))
    assert transport.name == "sandbox"
    raw = transport.send("Get-OutboundConnector", {}, next_link=None)
    assert isinstance(raw, wire.RawResponse) and raw.status == 200
    transport.close()


# --------------------------------------------------------------------------- inbound

def test_inbound_defaults_and_read_back_format(tenant):
    made = inbound(tenant, "P", SenderDomains=["Contoso.com", "*.fabrikam.com", "*", "smtp:adatum.com;5"])
    assert made["SenderDomains"] == ["smtp:Contoso.com;1", "smtp:*.fabrikam.com;1", "smtp:*;1", "smtp:adatum.com;5"]
    got = get_in(tenant, "P")
    assert got == made
    for key, value in (("ConnectorType", "Partner"), ("ConnectorSource", "Default"), ("Enabled", True), ("RequireTls", True),
                       ("RestrictDomainsToIPAddresses", False), ("RestrictDomainsToCertificate", False),
                       ("TlsSenderCertificateName", None), ("SenderIPAddresses", []), ("EFUsers", []),
                       ("Identity", "P"), ("Id", "P"), ("IsValid", True), ("ExchangeVersion", "0.1 (8.0.535.0)")):
        assert got[key] == value, key
    assert got["WhenChanged"].endswith(".0000000+00:00") and got["WhenChangedUTC"].endswith(".0000000Z")
    assert got["DistinguishedName"].startswith("CN=P,")


def test_new_inbound_requires_name_and_sender_domains(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "P"}, InvalidParameterError, "SenderDomains")


@pytest.mark.parametrize("domain", ["mail.*.contoso.com", "contoso", "smtp:con toso.com;1", "smtp:a.com;0"])
def test_sender_domain_formats_rejected(tenant, domain):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": domain}, InvalidParameterError, "SenderDomains")


def test_i1_onpremises_needs_ip_or_cert(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "ConnectorType": "OnPremises"},
          InvalidParameterError, "SenderIPAddresses", "TlsSenderCertificateName")
    inbound(tenant, "ok", ConnectorType="OnPremises", TlsSenderCertificateName="mail.contoso.com")


def test_i2_cert_needs_require_tls(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "TlsSenderCertificateName": "*.a.com",
                                           "RequireTls": False}, InvalidParameterError, "RequireTls", "*.a.com")


def test_i3_restrict_to_ips_needs_ips(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "RestrictDomainsToIPAddresses": True},
          InvalidParameterError, "RestrictDomainsToIPAddresses", "SenderIPAddresses")


def test_i4_not_both_restrictions(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "RestrictDomainsToIPAddresses": True,
                                           "SenderIPAddresses": "203.0.113.1", "RestrictDomainsToCertificate": True,
                                           "TlsSenderCertificateName": "a.com"}, InvalidParameterError, "both")


def test_i5_restrict_to_cert_needs_cert(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "RestrictDomainsToCertificate": True},
          InvalidParameterError, "TlsSenderCertificateName")


def test_i6_cloud_services_only_onpremises(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "CloudServicesMailEnabled": True},
          InvalidParameterError, "CloudServicesMailEnabled", "Partner")


def test_i7_treat_as_internal(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "TreatMessagesAsInternal": True},
          InvalidParameterError, "TreatMessagesAsInternal")
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "TreatMessagesAsInternal": True,
                                           "ConnectorType": "OnPremises", "CloudServicesMailEnabled": True,
                                           "SenderIPAddresses": "203.0.113.1"}, InvalidParameterError, "TreatMessagesAsInternal")
    assert inbound(tenant, "ok", ConnectorType="OnPremises", TreatMessagesAsInternal=True,
                   SenderIPAddresses="203.0.113.1")["TreatMessagesAsInternal"] is True


@pytest.mark.parametrize("value,word", [
    ("203.0.113.1-203.0.113.9", "range"),
    ("203.0.113.0/23", "24"),
    ("2001:db8::1", "IPv6"),
    ("10.1.2.3", "reserved"),
    ("172.16.5.0/24", "reserved"),
    ("192.168.0.1/25", "reserved"),
    ("127.0.0.1", "reserved"),
    ("169.254.1.1", "reserved"),
    ("0.0.0.0", "reserved"),
    ("0.1.2.3", "first octet"),
    ("300.1.1.1", "valid IPv4"),
    ("abc", "203.0.113.0/24"),
])
def test_i8_sender_ip_formats(tenant, value, word):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "SenderIPAddresses": value},
          InvalidParameterError, "SenderIPAddresses", word)


def test_i8_valid_ips_read_back_as_entered(tenant):
    made = inbound(tenant, SenderIPAddresses=["203.0.113.10", "198.51.100.0/24", "198.51.101.7/32"])
    assert made["SenderIPAddresses"] == ["203.0.113.10", "198.51.100.0/24", "198.51.101.7/32"]


def test_i9_onpremises_cannot_use_eop_ranges_or_cert(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "ConnectorType": "OnPremises",
                                           "SenderIPAddresses": "40.107.1.0/24"}, InvalidParameterError, "40.107")
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "ConnectorType": "OnPremises",
                                           "TlsSenderCertificateName": "*.mail.protection.outlook.com"},
          InvalidParameterError, "TlsSenderCertificateName")
    inbound(tenant, "partner ok", SenderIPAddresses="40.107.1.0/24")  # the rule is for OnPremises only


def test_i10_overlap_is_a_warning(tenant):
    inbound(tenant, "A", SenderIPAddresses="203.0.113.0/24")
    parsed = run(tenant, "New-InboundConnector", {"Name": "B", "SenderDomains": "b.com", "SenderIPAddresses": "203.0.113.7"})
    assert parsed.objects and "'A'" in parsed.warnings[0] and "203.0.113.7" in parsed.warnings[0]
    run(tenant, "Set-InboundConnector", {"Identity": "A", "Enabled": False})
    parsed = run(tenant, "New-InboundConnector", {"Name": "C", "SenderDomains": "c.com", "SenderIPAddresses": "203.0.113.8"})
    assert [w for w in parsed.warnings if "'A'" in w] == []


def test_i11_set_sender_domains_null(tenant):
    inbound(tenant)
    fails(tenant, "Set-InboundConnector", {"Identity": "Partner", "SenderDomains": None}, InvalidParameterError,
          "Sender Domain cannot be null.")
    fails(tenant, "Set-InboundConnector", {"Identity": "Partner", "SenderDomains": {"@odata.type": HASH, "Remove": "contoso.com"}},
          InvalidParameterError, "Sender Domain cannot be null.")


def test_i12_duplicate_name_case_insensitive(tenant):
    inbound(tenant, "Partner")
    err = fails(tenant, "New-InboundConnector", {"Name": "PARTNER", "SenderDomains": "a.com"}, DuplicateError, "PARTNER")
    assert err.exception_type.endswith("ErrorInboundConnectorAlreadyExistsException")
    inbound(tenant, "Other")
    fails(tenant, "Set-InboundConnector", {"Identity": "Other", "Name": "partner"}, DuplicateError)


def test_inbound_lengths_and_tls_cert_name(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "n" * 65, "SenderDomains": "a.com"}, InvalidParameterError, "Name", "64")
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "Comment": "c" * 1025},
          InvalidParameterError, "Comment", "1024")
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "TlsSenderCertificateName": "*"},
          InvalidParameterError, "TlsSenderCertificateName")
    assert inbound(tenant, "n" * 64, Comment="c" * 1024)["Comment"] == "c" * 1024


def test_associated_accepted_domains_must_be_accepted(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "AssociatedAcceptedDomains": "fabrikam.com"},
          InvalidParameterError, "fabrikam.com", "accepted domain")
    made = inbound(tenant, AssociatedAcceptedDomains=["CONTOSO.com", "sandbox.onmicrosoft.com"])
    assert made["AssociatedAcceptedDomains"] == ["contoso.com", "sandbox.onmicrosoft.com"]


def test_set_merges_validation_and_no_change_warning(tenant):
    inbound(tenant, SenderIPAddresses="203.0.113.1")
    run(tenant, "Set-InboundConnector", {"Identity": "Partner", "RestrictDomainsToIPAddresses": True})
    # the merged object is validated: removing the IPs now breaks I3
    fails(tenant, "Set-InboundConnector", {"Identity": "Partner", "SenderIPAddresses": None}, InvalidParameterError,
          "RestrictDomainsToIPAddresses")
    parsed = run(tenant, "Set-InboundConnector", {"Identity": "Partner", "RequireTls": True})
    assert parsed.objects == []
    assert parsed.warnings == ["The command completed successfully but no settings of 'Partner' have been modified."]


def test_generic_hashtable_add_remove(tenant):
    inbound(tenant, SenderDomains=["a.com", "b.com"], SenderIPAddresses=["203.0.113.1"])
    run(tenant, "Set-InboundConnector", {"Identity": "Partner",
                                         "SenderDomains": {"@odata.type": HASH, "add": ["c.com", "A.com"], "REMOVE": "smtp:b.com;1"},
                                         "SenderIPAddresses": {"@odata.type": HASH, "Add": "198.51.100.0/24"}})
    got = get_in(tenant, "Partner")
    assert got["SenderDomains"] == ["smtp:a.com;1", "smtp:c.com;1"]
    assert got["SenderIPAddresses"] == ["203.0.113.1", "198.51.100.0/24"]
    fails(tenant, "Set-InboundConnector", {"Identity": "Partner", "SenderIPAddresses": {"@odata.type": HASH, "Add": "10.0.0.1"}},
          InvalidParameterError, "reserved")
    fails(tenant, "New-InboundConnector", {"Name": "X", "SenderDomains": {"@odata.type": HASH, "Add": "a.com"}},
          InvalidParameterError, "SenderDomains")


def test_remove_inbound(tenant):
    inbound(tenant)
    assert objs(tenant, "Remove-InboundConnector", {"Identity": "Partner", "Confirm": False}) == []
    fails(tenant, "Get-InboundConnector", {"Identity": "Partner"}, NotFoundError)
    fails(tenant, "Remove-InboundConnector", {"Identity": "Partner"}, NotFoundError)


def test_bool_parameter_rejects_strings(tenant):
    fails(tenant, "New-InboundConnector", {"Name": "P", "SenderDomains": "a.com", "Enabled": "yes"},
          InvalidParameterError, "Enabled")


# --------------------------------------------------------------------------- outbound

def test_outbound_defaults(tenant):
    made = outbound(tenant, "O", RecipientDomains="partner.example")
    for key, value in (("ConnectorType", "Partner"), ("Enabled", True), ("UseMXRecord", True), ("SmartHosts", []),
                       ("RecipientDomains", ["partner.example"]), ("TlsSettings", None), ("TlsDomain", None),
                       ("IsTransportRuleScoped", False), ("TestMode", False), ("ValidationRecipients", []),
                       ("IsValidated", False), ("LastValidationTimestamp", None), ("MtaStsMode", "Opportunistic"),
                       ("SmtpDaneMode", "Opportunistic"), ("SenderRewritingEnabled", False), ("Identity", "O")):
        assert made[key] == value, key
    assert get_out(tenant, "O") == made


def test_outbound_set_only_parameters(tenant):
    fails(tenant, "New-OutboundConnector", {"Name": "O", "RecipientDomains": "a.com", "ValidationRecipients": "x@a.com"},
          InvalidParameterError, "ValidationRecipients")
    fails(tenant, "New-OutboundConnector", {"Name": "O", "RecipientDomains": "a.com", "IsValidated": True},
          InvalidParameterError, "IsValidated")
    outbound(tenant, "O", RecipientDomains="a.com")
    run(tenant, "Set-OutboundConnector", {"Identity": "O", "ValidationRecipients": ["x@a.com"], "IsValidated": True,
                                          "LastValidationTimestamp": "2026-05-06T14:30:00"})
    got = get_out(tenant, "O")
    assert got["ValidationRecipients"] == ["x@a.com"] and got["IsValidated"] is True
    assert got["LastValidationTimestamp"] == "2026-05-06T14:30:00.0000000"  # UTC, read back without an offset (live)
    fails(tenant, "Set-OutboundConnector", {"Identity": "O", "LinkForModifiedConnector": "00000000-0000-0000-0000-000000000001"},
          InvalidParameterError, "LinkForModifiedConnector")


def test_o1_no_mx_needs_smart_hosts(tenant):
    fails(tenant, "New-OutboundConnector", {"Name": "O", "RecipientDomains": "a.com", "UseMXRecord": False},
          InvalidParameterError, "SmartHosts", "UseMXRecord")


def test_o2_mx_silently_clears_smart_hosts(tenant):
    made = outbound(tenant, "O", RecipientDomains="a.com", UseMXRecord=True, SmartHosts="mx.a.com")
    assert made["SmartHosts"] == []
    run(tenant, "Set-OutboundConnector", {"Identity": "O", "UseMXRecord": False, "SmartHosts": ["mx.a.com"]})
    assert get_out(tenant, "O")["SmartHosts"] == ["mx.a.com"]
    run(tenant, "Set-OutboundConnector", {"Identity": "O", "UseMXRecord": True})
    assert get_out(tenant, "O")["SmartHosts"] == []


def test_o3_o4_tls_domain_and_domain_validation(tenant):
    fails(tenant, "New-OutboundConnector", {"Name": "O", "RecipientDomains": "a.com", "TlsDomain": "a.com",
                                            "TlsSettings": "EncryptionOnly"}, InvalidParameterError, "TlsDomain", "DomainValidation")
    fails(tenant, "New-OutboundConnector", {"Name": "O", "RecipientDomains": "a.com", "TlsSettings": "DomainValidation"},
          InvalidParameterError, "TlsDomain")
    fails(tenant, "New-OutboundConnector", {"Name": "O", "RecipientDomains": "a.com", "TlsSettings": "DomainValidation",
                                            "TlsDomain": "*"}, InvalidParameterError, "TlsDomain")
    outbound(tenant, "O", RecipientDomains="a.com", TlsSettings="domainvalidation", TlsDomain="*.a.com")
    # leaving DomainValidation needs TlsDomain $null in the same call
    fails(tenant, "Set-OutboundConnector", {"Identity": "O", "TlsSettings": "CertificateValidation"}, InvalidParameterError, "TlsDomain")
    run(tenant, "Set-OutboundConnector", {"Identity": "O", "TlsSettings": None, "TlsDomain": None})
    assert get_out(tenant, "O")["TlsSettings"] is None


def test_o5_scoped_xor_domains(tenant):
    fails(tenant, "New-OutboundConnector", {"Name": "O"}, InvalidParameterError, "RecipientDomains", "IsTransportRuleScoped")
    fails(tenant, "New-OutboundConnector", {"Name": "O", "IsTransportRuleScoped": True, "RecipientDomains": "a.com"},
          InvalidParameterError, "IsTransportRuleScoped", "RecipientDomains")
    outbound(tenant, "O", RecipientDomains="a.com")
    run(tenant, "Set-OutboundConnector", {"Identity": "O", "IsTransportRuleScoped": True, "RecipientDomains": None})
    assert get_out(tenant, "O", IsTransportRuleScoped=True)["RecipientDomains"] == []


@pytest.mark.parametrize("prop,rule", [("RouteAllMessagesViaOnPremises", "O6"), ("CloudServicesMailEnabled", "O7"),
                                       ("AllAcceptedDomains", "O8"), ("SenderRewritingEnabled", "O9")])
def test_o6_to_o9_onpremises_only(tenant, prop, rule):
    fails(tenant, "New-OutboundConnector", {"Name": "O", "RecipientDomains": "a.com", prop: True}, InvalidParameterError,
          prop, "OnPremises")


def test_o10_onpremises_cannot_use_mx(tenant):
    fails(tenant, "New-OutboundConnector", {"Name": "O", "RecipientDomains": "a.com", "ConnectorType": "OnPremises"},
          InvalidParameterError, "UseMXRecord")


def test_o11_star_on_onpremises(tenant):
    fails(tenant, "New-OutboundConnector", {"Name": "O", "RecipientDomains": "*", "ConnectorType": "OnPremises",
                                            "UseMXRecord": False, "SmartHosts": "mail.contoso.com"}, InvalidParameterError, "'*'")


def test_o12_route_all_needs_tenant_scoped_inbound(tenant):
    params = {"Name": "CMC", "ConnectorType": "OnPremises", "UseMXRecord": False, "SmartHosts": "mail.contoso.com",
              "RouteAllMessagesViaOnPremises": True, "RecipientDomains": "*"}
    fails(tenant, "New-OutboundConnector", params, InvalidParameterError, "inbound connector")
    inbound(tenant, "OnPrem", ConnectorType="OnPremises", SenderIPAddresses="203.0.113.1")
    assert objs(tenant, "New-OutboundConnector", params)
    # the reverse: the last such inbound connector can't get AssociatedAcceptedDomains, be disabled or removed
    fails(tenant, "Set-InboundConnector", {"Identity": "OnPrem", "AssociatedAcceptedDomains": "contoso.com"},
          InvalidParameterError, "CMC")
    fails(tenant, "Remove-InboundConnector", {"Identity": "OnPrem"}, InvalidParameterError, "CMC")


def _route_rule(tenant, connector="Route", name="R"):
    return objs(tenant, "New-TransportRule", {"Name": name, "RecipientDomainIs": "partner.example",
                                              "RouteMessageOutboundConnector": connector})[0]


@pytest.mark.parametrize("change", [{"Enabled": False}, {"IsTransportRuleScoped": False, "RecipientDomains": "a.com"},
                                    {"Name": "Renamed"}])
def test_o13_referenced_connector_cannot_be_disabled_unscoped_renamed(tenant, change):
    outbound(tenant, "Route", UseMXRecord=False, SmartHosts="mx.partner.example")
    _route_rule(tenant, name="Rule one")
    err = fails(tenant, "Set-OutboundConnector", dict(change, Identity="Route"), InvalidParameterError, "'Rule one'", "Route")
    assert err.exception_type.endswith("ConnectorIncorrectUsageConnectorStillReferencedException")
    run(tenant, "Set-OutboundConnector", {"Identity": "Route", "Comment": "still fine"})


def test_o14_referenced_connector_cannot_be_removed(tenant):
    outbound(tenant)
    _route_rule(tenant, name="Uses it")
    fails(tenant, "Remove-OutboundConnector", {"Identity": "Route"}, InvalidParameterError, "'Uses it'")
    run(tenant, "Remove-TransportRule", {"Identity": "Uses it"})
    run(tenant, "Remove-OutboundConnector", {"Identity": "Route"})
    assert objs(tenant, "Get-OutboundConnector", {"IsTransportRuleScoped": True}) == []


def test_o15_unrouted_relay_domain_warning(tenant):
    tenant.add_accepted_domain("relay.example", "InternalRelay")
    parsed = run(tenant, "New-OutboundConnector", {"Name": "O", "RecipientDomains": "a.com"})
    assert any("relay.example" in w for w in parsed.warnings)


def test_o16_duplicate_outbound(tenant):
    outbound(tenant, "O", RecipientDomains="a.com")
    err = fails(tenant, "New-OutboundConnector", {"Name": "o", "RecipientDomains": "a.com"}, DuplicateError)
    assert err.exception_type.endswith("ErrorOutboundConnectorAlreadyExistsException")


@pytest.mark.parametrize("host,word", [("mx.a.com:587", "port"), ("2001:db8::25", "IPv6"), ("10.0.0.5", "reserved"),
                                       ("192.168.1.0/24", "reserved"), ("not a host", "fully qualified")])
def test_smart_host_formats(tenant, host, word):
    fails(tenant, "New-OutboundConnector", {"Name": "O", "IsTransportRuleScoped": True, "UseMXRecord": False,
                                            "SmartHosts": host}, InvalidParameterError, "SmartHosts", word)


def test_smart_hosts_and_recipient_domains_accepted_forms(tenant):
    made = outbound(tenant, "O", UseMXRecord=False, SmartHosts=["mx.partner.example", "203.0.113.25", "198.51.100.0/28"],
                    RecipientDomains=["partner.example", "*.partner.example", "*"], IsTransportRuleScoped=False)
    assert made["SmartHosts"] == ["mx.partner.example", "203.0.113.25", "198.51.100.0/28"]
    assert made["RecipientDomains"] == ["partner.example", "*.partner.example", "*"]
    fails(tenant, "New-OutboundConnector", {"Name": "P", "RecipientDomains": "a.*.com"}, InvalidParameterError, "RecipientDomains")


def test_get_outbound_filters_hostile_reading(tenant):
    outbound(tenant, "Normal", RecipientDomains="a.com")
    outbound(tenant, "Test", RecipientDomains="b.com", TestMode=True)
    outbound(tenant, "Scoped")

    def names(**filters):
        return [o["Name"] for o in objs(tenant, "Get-OutboundConnector", filters)]

    assert names() == ["Normal", "Scoped"]
    assert names(IncludeTestModeConnectors=False) == ["Normal", "Scoped"]
    assert names(IncludeTestModeConnectors=True) == ["Normal", "Scoped", "Test"]  # observed semantics: all of them
    assert names(IsTransportRuleScoped=True) == ["Scoped"]
    assert names(IsTransportRuleScoped=False) == ["Normal"]
    fails(tenant, "Get-OutboundConnector", {"Identity": "Test"}, NotFoundError, "Test")
    assert get_out(tenant, "Test", IncludeTestModeConnectors=True)["TestMode"] is True
    # Set/Remove find test-mode connectors without filters
    run(tenant, "Set-OutboundConnector", {"Identity": "Test", "TestMode": False})
    assert get_out(tenant, "Test")["TestMode"] is False


# --------------------------------------------------------------------------- Validate-OutboundConnector

def test_validate_outbound_connector_shape_and_no_side_effects(tenant, monkeypatch):
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import tenant as sandbox
    seen = {}

    def fake(connector, recipients, sender, settings):
        seen.update(connector=connector["Name"], recipients=recipients, sender=sender, settings=settings)
        return {"TaskName": "root", "IsTaskSuccessful": False, "TaskDetail": "x", "ChangedProperties": [],
                "SubTaskResults": [{"TaskName": "Resolve task", "IsTaskSuccessful": False, "TaskDetail": "nx",
                                    "SubTaskResults": [], "ChangedProperties": []}]}
    monkeypatch.setattr(sandbox, "service_validation", fake)
    tenant.configure(smtp_port=2525, timeout=1.5)
    outbound(tenant, "O", UseMXRecord=False, SmartHosts="mx.partner.example")
    before = get_out(tenant, "O", IsTransportRuleScoped=True)
    result = objs(tenant, "Validate-OutboundConnector", {"Identity": "O", "Recipients": "user@partner.example"})
    assert len(result) == 1 and result[0]["SubTaskResults"][0]["TaskName"] == "Resolve task"
    assert seen["sender"] == "O365ConnectorValidation@sandbox.onmicrosoft.com" and seen["recipients"] == ["user@partner.example"]
    assert seen["settings"]["smtp_port"] == 2525 and seen["settings"]["timeout"] == 1.5
    assert get_out(tenant, "O", IsTransportRuleScoped=True) == before
    fails(tenant, "Validate-OutboundConnector", {"Identity": "O"}, InvalidParameterError, "Recipients")
    fails(tenant, "Validate-OutboundConnector", {"Identity": "nope", "Recipients": "a@b.com"}, NotFoundError)


# --------------------------------------------------------------------------- concurrency

def _create_in_process(args):
    path, index = args
    tenant = SandboxTenant(path)
    raw = tenant.execute("New-InboundConnector", {"Name": "Partner %d" % index, "SenderDomains": "p%d.example" % index})
    return raw.status


def test_concurrent_processes_create_connectors(tmp_path):
    path = str(tmp_path / "shared.db")
    ctx = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
    with ctx.Pool(8) as pool:
        statuses = pool.map(_create_in_process, [(path, i) for i in range(8)])
    assert statuses == [200] * 8
    names = [o["Name"] for o in objs(SandboxTenant(path), "Get-InboundConnector")]
    assert names == ["Partner %d" % i for i in range(8)]


def test_concurrent_threads_share_a_tenant(tmp_path):
    tenant = SandboxTenant(str(tmp_path / "threads.db"))
    statuses = []

    def worker(i):
        statuses.append(tenant.execute("New-InboundConnector", {"Name": "T%d" % i, "SenderDomains": "a.com"}).status)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8 and len(objs(tenant, "Get-InboundConnector")) == 8


def test_get_with_null_identity_lists_all_and_confirm_true_previews(tenant):
    inbound(tenant, "A")
    assert [o["Name"] for o in objs(tenant, "Get-InboundConnector", {"Identity": None})] == ["A"]
    body = json.loads(tenant.execute("Remove-InboundConnector", {"Identity": "A", "Confirm": True}).body)
    assert body["value"] == [] and "Remove-InboundConnector" in body["@adminapi.confirmationmessage"]
    assert get_in(tenant, "A")


# --------------------------------------------------------------------------- the state file (issue 9 point 7)

def _snapshot(path):
    """Bytes, modification time and neighbours of a file: a refused file must be left exactly as it was."""
    with open(path, "rb") as handle:
        data = handle.read()
    return data, os.stat(path).st_mtime_ns, sorted(os.listdir(os.path.dirname(path)))


def _refused(path):
    with pytest.raises(ConfigurationError) as info:
        SandboxTenant(path)
    msg = info.value.msg
    assert msg.startswith("sandbox: cannot use '%s' as the sandbox tenant file: " % path), msg
    assert "EXO_SANDBOX" in msg
    return msg


def _foreign_sqlite(path, wal=False, tables=("t",)):
    import sqlite3
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=wal")
    for table in tables:
        conn.execute("CREATE TABLE %s (key TEXT, value TEXT)" % table)
        conn.execute("INSERT INTO %s VALUES ('a', 'b')" % table)
    conn.commit()
    conn.close()
    return path


def test_a_directory_is_refused_with_a_file_path_to_use(tmp_path):
    msg = _refused(str(tmp_path))
    assert "it is a directory" in msg and os.path.join(str(tmp_path), "tenant.db") in msg
    assert os.listdir(str(tmp_path)) == []


def test_a_text_file_is_refused_and_left_untouched(tmp_path):
    path = str(tmp_path / "notes.txt")
    with open(path, "w") as handle:
        handle.write("hello, not a database\n")
    before = _snapshot(path)
    msg = _refused(path)
    assert "not an SQLite database" in msg and "left untouched" in msg and "sqlite3" not in msg.lower()
    assert _snapshot(path) == before


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
@pytest.mark.parametrize("tables", [("t",), ("meta",), ("objects", "other")])
def test_another_sqlite_database_is_refused_and_left_untouched(tmp_path, wal, tables):
    path = _foreign_sqlite(str(tmp_path / "app.db"), wal=wal, tables=tables)
    before = _snapshot(path)
    msg = _refused(path)
    assert "an SQLite database of something else (tables: %s)" % ", ".join(sorted(tables)) in msg
    assert "left untouched" in msg
    assert _snapshot(path) == before


@pytest.mark.parametrize("content", [b"SQLite format 3\x00" + b"\xff" * 4080, b"\x00" * 5000], ids=["header", "zeros"])
def test_a_damaged_sqlite_file_is_refused_and_left_untouched(tmp_path, content):
    path = str(tmp_path / "broken.db")
    with open(path, "wb") as handle:
        handle.write(content)
    before = _snapshot(path)
    msg = _refused(path)
    assert "damaged or foreign SQLite file" in msg and "left untouched" in msg
    assert _snapshot(path) == before


def test_an_empty_file_becomes_a_new_tenant(tmp_path):
    path = str(tmp_path / "empty.db")
    open(path, "w").close()
    tenant = SandboxTenant(path)
    assert SandboxTenant(path).tenant_id == tenant.tenant_id
    assert tenant.accepted_domains() == ["contoso.com", "sandbox.onmicrosoft.com"]


def test_a_file_on_the_directory_path_is_named(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    msg = _refused(str(blocker / "sub" / "tenant.db"))
    assert "%s, on its directory path, is a file" % blocker in msg


def test_an_unreadable_file_is_refused(tmp_path, monkeypatch):
    path = str(tmp_path / "tenant.db")
    SandboxTenant(path)
    if os.geteuid() != 0:
        os.chmod(path, 0)
        try:
            assert "it cannot be read (Permission denied)" in _refused(path)
        finally:
            os.chmod(path, 0o600)
    # root reads everything: make the file system answer as it would for another user
    import builtins
    real_open = builtins.open

    def denied(name, *args, **kwargs):
        if name == path:
            raise PermissionError(13, "Permission denied", name)
        return real_open(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", denied)
    msg = _refused(path)
    assert "it cannot be read (Permission denied)" in msg and "readable and writable" in msg


@pytest.mark.parametrize("blocked", ["file", "directory"])
def test_a_read_only_tenant_answers_reads_and_refuses_writes(tmp_path, monkeypatch, blocked):
    """A dry run only reads: a tenant file that cannot be written (or whose directory cannot) opens read-only; every
    write gets the message the whole file used to get, and nothing is written."""
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import tenant as sandbox
    path = str(tmp_path / "tenant.db")
    inbound(SandboxTenant(path), "Seeded")
    before = _snapshot(path)
    target = path if blocked == "file" else str(tmp_path)
    real_access = os.access
    # root writes everything: make the file system answer as it does for a read-only file or mount
    monkeypatch.setattr(sandbox.os, "access", lambda name, mode: (False if name == target and mode & os.W_OK
                                                                  else real_access(name, mode)))
    tenant = SandboxTenant(path)
    transport = SandboxTransport(path)
    assert [o["Name"] for o in objs(tenant, "Get-InboundConnector")] == ["Seeded"]
    assert wire.parse_response(transport.send("Get-TransportRule", {}), "Get-TransportRule").objects == []
    assert tenant.accepted_domains() and tenant.settings()["smtp_port"] == 25
    why = "it is not writable" if blocked == "file" else "its directory %s is not writable" % tmp_path
    writes = [lambda: tenant.execute("New-InboundConnector", {"Name": "X", "ConnectorType": "Partner",
                                                              "SenderDomains": ["x.example"]}),
              lambda: transport.send("Remove-InboundConnector", {"Identity": "Seeded", "Confirm": False}),
              lambda: tenant.configure(smtp_port=2525), lambda: tenant.add_recipient("Someone")]
    for write in writes:
        with pytest.raises(ConfigurationError) as info:
            write()
        assert info.value.msg.startswith("sandbox: cannot use '%s' as the sandbox tenant file: %s" % (path, why))
    assert _snapshot(path) == before
    assert sorted(os.listdir(str(tmp_path))) == ["tenant.db"]  # no journal left beside it


def test_a_read_only_path_that_holds_no_tenant_is_refused(tmp_path, monkeypatch):
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import tenant as sandbox
    real_access = os.access
    monkeypatch.setattr(sandbox.os, "access", lambda name, mode: (False if name == str(tmp_path) and mode & os.W_OK
                                                                  else real_access(name, mode)))
    assert "its directory %s is not writable" % tmp_path in _refused(str(tmp_path / "new.db"))
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert "its directory %s is not writable" % tmp_path in _refused(str(empty))


def test_sqlite_errors_on_open_are_reported_in_the_options_words(tmp_path, monkeypatch):
    import sqlite3
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import tenant as sandbox
    path = str(tmp_path / "tenant.db")

    def failing(_self):
        raise sqlite3.OperationalError("attempt to write a readonly database")
    monkeypatch.setattr(sandbox.SandboxTenant, "_connect", failing)
    msg = _refused(path)
    assert "cannot be opened for reading and writing" in msg and "readonly" not in msg


# --------------------------------------------------------------------------- values as the service stores them

def test_ef_skip_ips_refuse_private_and_reserved_addresses(tenant):
    public = ["198.51.100.7", "203.0.113.0/24", "198.51.100.10-198.51.100.20", "2001:db8::1"]
    assert inbound(tenant, "EF2", EFSkipIPs=public)["EFSkipIPs"] == public
    for value in ("192.168.1.1", "10.0.0.0/8", "172.16.5.0/24", "9.255.255.250-10.0.0.3", "127.0.0.5"):
        fails(tenant, "New-InboundConnector", {"Name": "EF", "SenderDomains": ["contoso.com"], "EFSkipIPs": [value]},
              InvalidParameterError, "reserved or private", "EFSkipIPs")
        fails(tenant, "Set-InboundConnector", {"Identity": "EF2", "EFSkipIPs": [value]}, InvalidParameterError, "EFSkipIPs")


@pytest.mark.parametrize("value", ["127.1.2.3", "127.255.0.1"])
def test_only_the_services_reserved_ranges_are_refused(tenant, value):
    assert inbound(tenant, "IP", SenderIPAddresses=[value])["SenderIPAddresses"] == [value]


@pytest.mark.parametrize("name", [" Adatum", "Adatum ", "\tAdatum"])
def test_connector_names_with_surrounding_white_space_are_refused(tenant, name):
    fails(tenant, "New-InboundConnector", {"Name": name, "SenderDomains": ["contoso.com"]}, InvalidParameterError,
          "white space")
    fails(tenant, "New-OutboundConnector", {"Name": name, "IsTransportRuleScoped": True}, InvalidParameterError,
          "white space")
    assert objs(tenant, "Get-InboundConnector") == [] and objs(tenant, "Get-OutboundConnector") == []


# --------------------------------------------------------------------------- replication lag and test-mode connectors

class Clock(object):
    """Stands in for the time module of sandbox/store.py: the tests move time on by hand."""

    def __init__(self):
        self.now = 1000000.0

    def time(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import store as sandbox_store
    fake = Clock()
    monkeypatch.setattr(sandbox_store, "time", fake)
    return fake


def test_lag_hides_a_new_connector_from_every_lookup_until_it_replicates(tenant, clock):
    tenant.configure(replication_lag=30)
    made = outbound(tenant, "Fresh")
    fails(tenant, "Get-OutboundConnector", {"Identity": "Fresh"}, NotFoundError, "Fresh")
    assert objs(tenant, "Get-OutboundConnector", {"IncludeTestModeConnectors": True}) == []
    fails(tenant, "Set-OutboundConnector", {"Identity": made["Guid"], "Comment": "x"}, NotFoundError)
    fails(tenant, "Validate-OutboundConnector", {"Identity": "Fresh", "Recipients": ["a@b.example"]}, NotFoundError, "Fresh")
    fails(tenant, "Remove-OutboundConnector", {"Identity": "Fresh"}, NotFoundError)
    fails(tenant, "New-TransportRule", {"Name": "R", "RecipientDomainIs": ["b.example"],
                                        "RouteMessageOutboundConnector": "Fresh"}, InvalidParameterError, "'Fresh'", "found")
    fails(tenant, "New-OutboundConnector", {"Name": "fresh", "IsTransportRuleScoped": True}, DuplicateError)  # name taken
    clock.now += 31
    assert get_out(tenant, "Fresh")["Guid"] == made["Guid"]
    run(tenant, "Set-OutboundConnector", {"Identity": "Fresh", "Comment": "x"})
    assert objs(tenant, "New-TransportRule", {"Name": "R", "RecipientDomainIs": ["b.example"],
                                              "RouteMessageOutboundConnector": "Fresh"})[0]["Name"] == "R"


def test_lag_keeps_a_removed_rule_as_a_reference_of_its_connector(tenant, clock):
    outbound(tenant, "Route")
    run(tenant, "New-TransportRule", {"Name": "R", "RecipientDomainIs": ["b.example"], "RouteMessageOutboundConnector": "Route"})
    tenant.configure(replication_lag=30)
    run(tenant, "Remove-TransportRule", {"Identity": "R"})
    assert objs(tenant, "Get-TransportRule") == []  # the rule itself is gone at once
    error = fails(tenant, "Remove-OutboundConnector", {"Identity": "Route"}, InvalidParameterError, "'R'", "Route")
    assert "StillReferenced" in error.exception_type
    fails(tenant, "Set-OutboundConnector", {"Identity": "Route", "Enabled": False}, InvalidParameterError, "'R'")
    clock.now += 31
    run(tenant, "Remove-OutboundConnector", {"Identity": "Route"})


def test_lag_for_a_rule_routed_elsewhere_and_a_new_rule(tenant, clock):
    outbound(tenant, "Old")
    outbound(tenant, "New")
    run(tenant, "New-TransportRule", {"Name": "R", "RecipientDomainIs": ["b.example"], "RouteMessageOutboundConnector": "Old"})
    tenant.configure(replication_lag=30)
    run(tenant, "Set-TransportRule", {"Identity": "R", "RouteMessageOutboundConnector": "New"})
    fails(tenant, "Remove-OutboundConnector", {"Identity": "Old"}, InvalidParameterError, "'R'")
    run(tenant, "New-TransportRule", {"Name": "S", "RecipientDomainIs": ["c.example"]})
    assert [r["Name"] for r in objs(tenant, "Get-TransportRule")] == ["R"]
    fails(tenant, "Set-TransportRule", {"Identity": "S", "Comments": "x"}, NotFoundError, "S")
    clock.now += 31
    assert [r["Name"] for r in objs(tenant, "Get-TransportRule")] == ["R", "S"]
    run(tenant, "Remove-OutboundConnector", {"Identity": "Old"})


def test_no_lag_by_default_and_lag_zero_shows_everything_at_once(tenant, clock):
    outbound(tenant, "A")
    assert get_out(tenant, "A")["Name"] == "A"
    tenant.configure(replication_lag=30)
    outbound(tenant, "B")
    tenant.configure(replication_lag=0)
    assert get_out(tenant, "B")["Name"] == "B"
    with pytest.raises(ConfigurationError):
        tenant.configure(replication_lag=-1)
    with pytest.raises(ConfigurationError):
        tenant.configure(replication_lag="soon")


def test_plain_get_warns_about_test_mode_connectors_it_leaves_out(tenant):
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.connectors import TEST_MODE_WARNING
    outbound(tenant, "Normal", RecipientDomains="a.com")
    assert run(tenant, "Get-OutboundConnector").warnings == []
    outbound(tenant, "Test", RecipientDomains="b.com", TestMode=True)
    plain = run(tenant, "Get-OutboundConnector")
    assert [o["Name"] for o in plain.objects] == ["Normal"] and plain.warnings == [TEST_MODE_WARNING]
    both = run(tenant, "Get-OutboundConnector", {"IncludeTestModeConnectors": True})
    assert [o["Name"] for o in both.objects] == ["Normal", "Test"] and both.warnings == []
    assert "at least one test mode connector which is not included in the result" in TEST_MODE_WARNING
