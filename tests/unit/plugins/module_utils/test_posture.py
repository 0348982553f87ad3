# -*- coding: utf-8 -*-
"""posture: every check on a table of service objects (a finding and the clean variants next to it), the seeded
tenant (every finding exactly once, the twins never, one read per object type), suppressions."""

from __future__ import absolute_import, division, print_function

import collections
import datetime
import os

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import posture, tenant_view
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTransport
from tests.support import posture_seed
from tests.unit.plugins.module_utils.test_engine import CountingTransport

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
MARK = "Managed by m365.mailflow partner "
ALL = list(tenant_view.KINDS) + list(posture.SETTINGS)


def inbound(name, **props):
    obj = {"Name": name, "ConnectorType": "Partner", "Enabled": True, "SenderDomains": ["smtp:%s.example;1" % name],
           "SenderIPAddresses": [], "TlsSenderCertificateName": None, "RequireTls": True,
           "RestrictDomainsToIPAddresses": False, "RestrictDomainsToCertificate": False, "TrustedOrganizations": [],
           "Comment": None}
    obj.update(props)
    return obj


def outbound(name, **props):
    obj = {"Name": name, "ConnectorType": "Partner", "Enabled": True, "RecipientDomains": ["%s.example" % name],
           "IsTransportRuleScoped": False, "TlsSettings": "CertificateValidation", "TestMode": False, "Comment": None}
    obj.update(props)
    return obj


def rule(name, **props):
    obj = {"Name": name, "State": "Enabled", "Mode": "Enforce", "ExpiryDate": None, "ActivationDate": None,
           "SetSCL": None, "SetHeaderName": None, "RouteMessageOutboundConnector": None, "Comments": None,
           "WhenChanged": "2026-11-30T00:00:00.0000000+00:00", "RuleErrorAction": "Ignore"}
    obj.update(props)
    return obj


def scoped(name, **props):
    return outbound(name, IsTransportRuleScoped=True, RecipientDomains=[], **props)


def days_ago(days):
    return (NOW - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00")


ORG_OFF = {"Identity": "contoso.onmicrosoft.com", "RejectDirectSend": False}
ACCEPTED = [{"DomainName": "contoso.com", "DomainType": "Authoritative"},
            {"DomainName": "contoso.onmicrosoft.com", "DomainType": "Authoritative"}]

# (check id, case, objects {kind: [...]}, settings, the objects of each finding of that id expected)
CASES = [
    ("inbound_domain_only", "sender domain only", {"inbound_connectors": [inbound("a")]}, {}, [["a"]]),
    ("inbound_domain_only", "IPs but not restricted", {"inbound_connectors": [inbound(
        "a", SenderIPAddresses=["198.51.100.1"])]}, {}, [["a"]]),
    ("inbound_domain_only", "certificate but not restricted", {"inbound_connectors": [inbound(
        "a", TlsSenderCertificateName="*.a.example")]}, {}, [["a"]]),
    ("inbound_domain_only", "any domain, nothing else", {"inbound_connectors": [inbound(
        "a", SenderDomains=["smtp:*;1"])]}, {}, [["a"]]),
    ("inbound_domain_only", "restricted to IPs", {"inbound_connectors": [inbound(
        "a", SenderIPAddresses=["198.51.100.1"], RestrictDomainsToIPAddresses=True)]}, {}, []),
    ("inbound_domain_only", "restricted to certificate", {"inbound_connectors": [inbound(
        "a", TlsSenderCertificateName="*.a.example", RestrictDomainsToCertificate=True)]}, {}, []),
    ("inbound_domain_only", "any domain identified by IP", {"inbound_connectors": [inbound(
        "a", SenderDomains=["smtp:*;1"], SenderIPAddresses=["198.51.100.1"])]}, {}, []),
    ("inbound_domain_only", "disabled", {"inbound_connectors": [inbound("a", Enabled=False)]}, {}, []),
    ("inbound_domain_only", "OnPremises", {"inbound_connectors": [inbound("a", ConnectorType="OnPremises")]}, {}, []),
    ("inbound_domain_only", "trusted organizations", {"inbound_connectors": [inbound(
        "a", TrustedOrganizations=["fabrikam.com"])]}, {}, []),
    ("inbound_ip_and_certificate", "both", {"inbound_connectors": [inbound(
        "a", SenderIPAddresses=["198.51.100.1"], TlsSenderCertificateName="m.a.example",
        RestrictDomainsToCertificate=True)]}, {}, [["a"]]),
    ("inbound_ip_and_certificate", "IPs only", {"inbound_connectors": [inbound(
        "a", SenderIPAddresses=["198.51.100.1"], RestrictDomainsToIPAddresses=True)]}, {}, []),
    ("inbound_ip_and_certificate", "disabled", {"inbound_connectors": [inbound(
        "a", Enabled=False, SenderIPAddresses=["198.51.100.1"], TlsSenderCertificateName="m.a.example")]}, {}, []),
    ("inbound_tls_optional", "RequireTls false", {"inbound_connectors": [inbound("a", RequireTls=False)]}, {}, [["a"]]),
    ("inbound_tls_optional", "RequireTls true", {"inbound_connectors": [inbound("a")]}, {}, []),
    ("inbound_tls_optional", "RequireTls not read back", {"inbound_connectors": [inbound("a", RequireTls=None)]}, {}, []),
    ("outbound_tls_optional", "TlsSettings null", {"outbound_connectors": [outbound("a", TlsSettings=None)]}, {},
     [["a"]]),
    ("outbound_tls_optional", "TlsSettings empty", {"outbound_connectors": [outbound("a", TlsSettings="")]}, {}, [["a"]]),
    ("outbound_tls_optional", "certificate validation", {"outbound_connectors": [outbound("a")]}, {}, []),
    ("outbound_tls_optional", "encryption only is the other finding", {"outbound_connectors": [outbound(
        "a", TlsSettings="EncryptionOnly")]}, {}, []),
    ("outbound_tls_optional", "disabled", {"outbound_connectors": [outbound("a", TlsSettings=None, Enabled=False)]},
     {}, []),
    ("outbound_any_certificate", "encryption only", {"outbound_connectors": [outbound(
        "a", TlsSettings="EncryptionOnly")]}, {}, [["a"]]),
    ("outbound_any_certificate", "domain validation", {"outbound_connectors": [outbound(
        "a", TlsSettings="DomainValidation")]}, {}, []),
    ("outbound_test_mode", "test mode", {"outbound_connectors": [outbound("a", TestMode=True)]}, {}, [["a"]]),
    ("outbound_test_mode", "not in test mode", {"outbound_connectors": [outbound("a")]}, {}, []),
    ("outbound_unused", "no rule", {"outbound_connectors": [scoped("c")], "mail_flow_rules": []}, {}, [["c"]]),
    ("outbound_unused", "an acting rule routes to it", {"outbound_connectors": [scoped("c")], "mail_flow_rules": [
        rule("r", RouteMessageOutboundConnector="C")]}, {}, []),
    ("outbound_unused", "only a disabled rule", {"outbound_connectors": [scoped("c")], "mail_flow_rules": [
        rule("r", RouteMessageOutboundConnector="c", State="Disabled")]}, {}, [["c"]]),
    ("outbound_unused", "only an audit rule", {"outbound_connectors": [scoped("c")], "mail_flow_rules": [
        rule("r", RouteMessageOutboundConnector="c", Mode="Audit")]}, {}, [["c"]]),
    ("outbound_unused", "only an expired rule", {"outbound_connectors": [scoped("c")], "mail_flow_rules": [
        rule("r", RouteMessageOutboundConnector="c", ExpiryDate="2026-01-01T00:00:00.0000000+00:00")]}, {}, [["c"]]),
    ("outbound_unused", "a rule not active yet", {"outbound_connectors": [scoped("c")], "mail_flow_rules": [
        rule("r", RouteMessageOutboundConnector="c", ActivationDate="2030-01-01T00:00:00.0000000+00:00")]}, {}, []),
    ("outbound_unused", "not rule-scoped", {"outbound_connectors": [outbound("c")], "mail_flow_rules": []}, {}, []),
    ("outbound_domain_overlap", "same domain", {"outbound_connectors": [
        outbound("b", RecipientDomains=["x.example", "b.example"]), outbound("a", RecipientDomains=["X.example"])]},
     {}, [["a", "b"]]),
    ("outbound_domain_overlap", "covered by a wildcard", {"outbound_connectors": [
        outbound("a", RecipientDomains=["*.x.example"]), outbound("b", RecipientDomains=["mail.x.example"])]},
     {}, [["a", "b"]]),
    ("outbound_domain_overlap", "any domain is not counted", {"outbound_connectors": [
        outbound("a", RecipientDomains=["*"]), outbound("b", RecipientDomains=["x.example"])]}, {}, []),
    ("outbound_domain_overlap", "disjoint", {"outbound_connectors": [
        outbound("a", RecipientDomains=["*.x.example"]), outbound("b", RecipientDomains=["y.example"])]}, {}, []),
    ("outbound_domain_overlap", "one is disabled", {"outbound_connectors": [
        outbound("a", RecipientDomains=["x.example"]), outbound("b", RecipientDomains=["x.example"], Enabled=False)]},
     {}, []),
    ("rule_route_broken", "missing connector", {"outbound_connectors": [], "mail_flow_rules": [
        rule("r", RouteMessageOutboundConnector="gone")]}, {}, [["r", "gone"]]),
    ("rule_route_broken", "disabled connector", {"outbound_connectors": [scoped("c", Enabled=False)],
                                                 "mail_flow_rules": [rule("r", RouteMessageOutboundConnector="c")]},
     {}, [["r", "c"]]),
    ("rule_route_broken", "connector not rule-scoped", {"outbound_connectors": [outbound("c")], "mail_flow_rules": [
        rule("r", RouteMessageOutboundConnector="c")]}, {}, [["r", "c"]]),
    ("rule_route_broken", "usable connector", {"outbound_connectors": [scoped("c")], "mail_flow_rules": [
        rule("r", RouteMessageOutboundConnector="c")]}, {}, []),
    ("rule_route_broken", "disabled rule", {"outbound_connectors": [], "mail_flow_rules": [
        rule("r", RouteMessageOutboundConnector="gone", State="Disabled")]}, {}, []),
    ("rule_expired", "past", {"mail_flow_rules": [rule("r", ExpiryDate="2026-11-30T00:00:00.0000000+00:00")]}, {},
     [["r"]]),
    ("rule_expired", "future", {"mail_flow_rules": [rule("r", ExpiryDate="2026-12-02T00:00:00.0000000+00:00")]}, {}, []),
    ("rule_expired", "none", {"mail_flow_rules": [rule("r")]}, {}, []),
    ("rule_audit_stale", "audit for 40 days", {"mail_flow_rules": [rule("r", Mode="Audit", WhenChanged=days_ago(40))]},
     {}, [["r"]]),
    ("rule_audit_stale", "audit and notify, UTC stamp", {"mail_flow_rules": [rule(
        "r", Mode="AuditAndNotify", WhenChanged=None, WhenChangedUTC=days_ago(31)[:-6] + "Z")]}, {}, [["r"]]),
    ("rule_audit_stale", "audit for 10 days", {"mail_flow_rules": [rule("r", Mode="Audit", WhenChanged=days_ago(10))]},
     {}, []),
    ("rule_audit_stale", "disabled", {"mail_flow_rules": [rule("r", Mode="Audit", State="Disabled",
                                                               WhenChanged=days_ago(40))]}, {}, []),
    ("rule_audit_stale", "enforced", {"mail_flow_rules": [rule("r", WhenChanged=days_ago(400))]}, {}, []),
    ("rule_audit_stale", "no time read back", {"mail_flow_rules": [rule("r", Mode="Audit", WhenChanged=None)]}, {}, []),
    ("rule_sender_allow_list", "SCL -1 for a sender domain", {"mail_flow_rules": [rule(
        "r", SenderDomainIs=["x.example"], SetSCL=-1)]}, {}, [["r"]]),
    ("rule_sender_allow_list", "Safe Links skipped for a sender", {"mail_flow_rules": [rule(
        "r", From=["a@x.example"], SetHeaderName="X-MS-Exchange-Organization-SkipSafeLinksProcessing")]}, {}, [["r"]]),
    ("rule_sender_allow_list", "tied to the sender's IPs", {"mail_flow_rules": [rule(
        "r", SenderDomainIs=["x.example"], SenderIpRanges=["198.51.100.0/24"], SetSCL=-1)]}, {}, []),
    ("rule_sender_allow_list", "tied to Authentication-Results", {"mail_flow_rules": [rule(
        "r", SenderDomainIs=["x.example"], HeaderContainsMessageHeader="Authentication-Results",
        HeaderContainsWords=["dmarc=pass"], SetSCL=-1)]}, {}, []),
    ("rule_sender_allow_list", "SCL 5", {"mail_flow_rules": [rule("r", SenderDomainIs=["x.example"], SetSCL=5)]}, {}, []),
    ("rule_sender_allow_list", "audit mode", {"mail_flow_rules": [rule(
        "r", SenderDomainIs=["x.example"], SetSCL=-1, Mode="Audit")]}, {}, []),
    ("rule_filter_bypass", "SCL -1 for a subject", {"mail_flow_rules": [rule(
        "r", SubjectContainsWords=["x"], SetSCL="-1")]}, {}, [["r"]]),
    ("rule_filter_bypass", "Safe Attachments skipped", {"mail_flow_rules": [rule(
        "r", SetHeaderName="X-MS-Exchange-Organization-SkipSafeAttachmentProcessing")]}, {}, [["r"]]),
    ("rule_filter_bypass", "SCL -1 tied to the sender's IPs", {"mail_flow_rules": [rule(
        "r", SenderDomainIs=["x.example"], SenderIpRanges=["198.51.100.0/24"], SetSCL=-1)]}, {}, [["r"]]),
    ("rule_filter_bypass", "a sender allow-list is the other finding", {"mail_flow_rules": [rule(
        "r", SenderDomainIs=["x.example"], SetSCL=-1)]}, {}, []),
    ("rule_filter_bypass", "another header", {"mail_flow_rules": [rule("r", SetHeaderName="X-Partner")]}, {}, []),
    ("rule_filter_bypass", "disabled", {"mail_flow_rules": [rule("r", SetSCL=-1, State="Disabled")]}, {}, []),
    ("rule_external_copy", "blind copy outside", {"mail_flow_rules": [rule(
        "r", BlindCopyTo=["a@contoso.com", "spy@outside.example"])]}, {"accepted_domains": ACCEPTED}, [["r"]]),
    ("rule_external_copy", "redirect outside", {"mail_flow_rules": [rule(
        "r", RedirectMessageTo=["spy@outside.example"])]}, {"accepted_domains": ACCEPTED}, [["r"]]),
    ("rule_external_copy", "inside", {"mail_flow_rules": [rule(
        "r", BlindCopyTo=["a@contoso.com"], RedirectMessageTo=["b@CONTOSO.onmicrosoft.com"])]},
     {"accepted_domains": ACCEPTED}, []),
    ("rule_external_copy", "disabled", {"mail_flow_rules": [rule(
        "r", State="Disabled", BlindCopyTo=["spy@outside.example"])]}, {"accepted_domains": ACCEPTED}, []),
    ("reject_direct_send_off", "off", {"inbound_connectors": []}, {"organization_config": ORG_OFF},
     [["contoso.onmicrosoft.com"]]),
    ("reject_direct_send_off", "on", {"inbound_connectors": []}, {"organization_config": dict(
        ORG_OFF, RejectDirectSend=True)}, []),
    ("reject_direct_send_off", "not exposed by the service", {"inbound_connectors": []}, {"organization_config": {
        "Identity": "contoso.onmicrosoft.com"}}, []),
]


@pytest.mark.parametrize("check,case,objects,settings,expected", CASES,
                         ids=["%s: %s" % (c[0], c[1]) for c in CASES])
def test_check(check, case, objects, settings, expected):
    found, not_checked = posture.findings(objects, settings, now=NOW, audit_days=30)
    assert check not in [s["id"] for s in not_checked], case
    assert [f["objects"] for f in found if f["id"] == check] == expected, case
    for finding in found:
        assert finding["severity"] in posture.SEVERITIES
        assert finding["reason"] and finding["source"] and finding["fix"] and finding["title"]


def test_every_check_has_cases_both_ways():
    for check in posture.IDS:
        outcomes = set(bool(c[4]) for c in CASES if c[0] == check)
        assert outcomes == {True, False}, check


def test_ids_are_unique_and_documented():
    assert len(set(posture.IDS)) == len(posture.IDS) == 15
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "posture.md")) as handle:
        docs = handle.read()
    for check in posture.IDS:
        assert "### `%s`" % check in docs, check


def test_fix_names_the_partner_file_or_the_module():
    managed = inbound("Adatum inbound", RequireTls=False, Comment=MARK + "Adatum. Payroll")
    hand = inbound("Hand inbound", RequireTls=False)
    found = posture.findings({"inbound_connectors": [managed, hand]}, now=NOW)[0]
    fixes = dict((f["objects"][0], f) for f in found if f["id"] == "inbound_tls_optional")
    assert fixes["Adatum inbound"]["fix"] == "partner file of Adatum: inbound.require_tls: true"
    assert fixes["Adatum inbound"]["partner"] == "Adatum"
    assert fixes["Hand inbound"]["fix"].startswith("m365.mailflow.partner_inbound_connector 'Hand inbound': "
                                                   "require_tls: true (or adopt it")
    assert fixes["Hand inbound"]["partner"] is None
    managed_rule = rule("Adatum - Accounting", SubjectContainsWords=["x"], SetSCL=-1, Comments=MARK + "Adatum")
    found = posture.findings({"mail_flow_rules": [managed_rule]}, now=NOW)[0]
    assert found[0]["fix"].startswith("partner file of Adatum, rule 'Accounting': remove actions.set_scl")


def test_fix_of_a_domain_only_connector_says_what_is_missing():
    with_ips = inbound("a", SenderIPAddresses=["198.51.100.1"])
    found = posture.findings({"inbound_connectors": [with_ips]}, now=NOW)[0]
    assert found[0]["fix"].endswith("(or adopt it into a partner file: inbound.restrict_domains_to_ip_addresses: true)")
    assert "does not restrict the domains to them" in found[0]["reason"]


def test_overlap_severity_and_details():
    found = posture.findings({"outbound_connectors": [
        outbound("a", RecipientDomains=["x.example"]), outbound("b", RecipientDomains=["x.example"]),
        outbound("c", RecipientDomains=["*.y.example"]), outbound("d", RecipientDomains=["y.example"])]}, now=NOW)[0]
    by_objects = dict((tuple(f["objects"]), f) for f in found if f["id"] == "outbound_domain_overlap")
    assert by_objects[("a", "b")]["severity"] == "medium"
    assert by_objects[("c", "d")]["severity"] == "low"
    assert by_objects[("c", "d")]["details"]["domains"] == [{"first": "*.y.example", "second": "y.example", "same": False}]


def test_direct_send_lists_the_connectors_that_keep_direct_send_partners_flowing():
    connectors = [
        inbound("Scanner", SenderDomains=["smtp:contoso.com;1"], SenderIPAddresses=["203.0.113.5"],
                RestrictDomainsToIPAddresses=True),
        inbound("Printer", SenderDomains=["smtp:*.contoso.com;1"], TlsSenderCertificateName="print.contoso.com",
                RestrictDomainsToCertificate=True),
        inbound("Partner", SenderDomains=["smtp:partner.example;1"], SenderIPAddresses=["198.51.100.1"],
                RestrictDomainsToIPAddresses=True),  # another domain: does not carry Direct Send
        inbound("Domain only", SenderDomains=["smtp:contoso.com;1"]),  # not identified by IP or certificate
        inbound("Off", SenderDomains=["smtp:*;1"], SenderIPAddresses=["198.51.100.2"], Enabled=False),
    ]
    settings = {"organization_config": ORG_OFF, "accepted_domains": ACCEPTED}
    found = posture.findings({"inbound_connectors": connectors}, settings, now=NOW)[0]
    direct = [f for f in found if f["id"] == "reject_direct_send_off"][0]
    assert direct["details"]["keeps_flowing"] == ["Scanner", "Printer"]
    assert "'Scanner', 'Printer'" in direct["reason"] and "5.7.68" in direct["reason"]
    found = posture.findings({"inbound_connectors": connectors}, {"organization_config": ORG_OFF}, now=NOW)[0]
    direct = [f for f in found if f["id"] == "reject_direct_send_off"][0]
    assert direct["details"] == {"keeps_flowing": ["Scanner", "Printer", "Partner"], "accepted_domains_read": False}
    found = posture.findings({"inbound_connectors": connectors[2:]}, settings, now=NOW)[0]
    direct = [f for f in found if f["id"] == "reject_direct_send_off"][0]
    assert direct["details"]["keeps_flowing"] == [] and "would be rejected" in direct["reason"]


def test_audit_threshold_and_now_are_parameters():
    rules = {"mail_flow_rules": [rule("r", Mode="Audit", WhenChanged=days_ago(10))]}
    assert [f["id"] for f in posture.findings(rules, now=NOW, audit_days=30)[0]] == []
    found = posture.findings(rules, now=NOW, audit_days=5)[0]
    assert [f["id"] for f in found] == ["rule_audit_stale"]
    assert found[0]["details"] == {"mode": "Audit", "unchanged_since": days_ago(10)[:19] + "Z", "days": 10,
                                   "threshold_days": 5}
    later = NOW + datetime.timedelta(days=25)
    assert [f["id"] for f in posture.findings(rules, now=later.strftime("%Y-%m-%dT%H:%M:%SZ"))[0]] == ["rule_audit_stale"]


def test_checks_that_need_what_was_not_read_are_listed():
    found, not_checked = posture.findings({"mail_flow_rules": [rule("r", BlindCopyTo=["x@outside.example"])]}, now=NOW)
    assert found == []
    assert not_checked == [
        {"id": "inbound_domain_only", "needs": ["inbound_connectors"]},
        {"id": "inbound_ip_and_certificate", "needs": ["inbound_connectors"]},
        {"id": "inbound_tls_optional", "needs": ["inbound_connectors"]},
        {"id": "outbound_tls_optional", "needs": ["outbound_connectors"]},
        {"id": "outbound_any_certificate", "needs": ["outbound_connectors"]},
        {"id": "outbound_test_mode", "needs": ["outbound_connectors"]},
        {"id": "outbound_unused", "needs": ["outbound_connectors"]},
        {"id": "outbound_domain_overlap", "needs": ["outbound_connectors"]},
        {"id": "rule_route_broken", "needs": ["outbound_connectors"]},
        {"id": "rule_external_copy", "needs": ["accepted_domains"]},
        {"id": "reject_direct_send_off", "needs": ["organization_config", "inbound_connectors"]},
    ]


def test_the_partner_checks_names_of_the_reads_are_taken():
    found, not_checked = posture.findings({"inbound": [inbound("a")], "outbound": [scoped("c")], "rules": []}, now=NOW)
    assert [(f["id"], f["objects"]) for f in found] == [("inbound_domain_only", ["a"]), ("outbound_unused", ["c"])]
    assert [s["id"] for s in not_checked] == ["rule_external_copy", "reject_direct_send_off"]


def test_findings_sorted_high_first():
    found = posture.findings({"inbound_connectors": [inbound("b", RequireTls=False), inbound("a")],
                              "outbound_connectors": [outbound("c", TestMode=True)]}, now=NOW)[0]
    assert [(f["severity"], f["id"], f["objects"]) for f in found] == [
        ("high", "inbound_domain_only", ["a"]), ("high", "inbound_domain_only", ["b"]),
        ("medium", "inbound_tls_optional", ["b"]), ("low", "outbound_test_mode", ["c"])]


# --------------------------------------------------------------------------------------------------- the seeded tenant

@pytest.fixture
def seeded(tmp_path):
    path = str(tmp_path / "tenant.db")
    tenant = posture_seed.seed(path)
    transport = CountingTransport(SandboxTransport(path))
    return tenant, Client(transport, retry_delay=0.0, sleep=lambda s: None)


def test_seeded_tenant_every_finding_once_twins_never_one_read_each(seeded):
    tenant, client = seeded
    result = tenant_view.summarise(client, gather=ALL)
    assert sorted(client.transport.sent) == ["Get-AcceptedDomain", "Get-InboundConnector", "Get-OrganizationConfig",
                                             "Get-OutboundConnector", "Get-TransportRule"]
    got = collections.defaultdict(list)
    for finding in result["findings"]:
        got[finding["id"]].append(finding["objects"])
    assert dict(got) == dict((k, [v]) for k, v in posture_seed.expected(tenant.tenant_domain).items())
    named = set(o for f in result["findings"] for o in f["objects"])
    assert not named & set(posture_seed.TWINS)
    direct = [f for f in result["findings"] if f["id"] == "reject_direct_send_off"][0]
    assert direct["details"]["keeps_flowing"] == posture_seed.KEEPS_FLOWING
    assert result["findings_summary"]["not_checked"] == []
    assert result["organization_config"] == {"identity": tenant.tenant_domain, "reject_direct_send": False}
    assert [d["domain"] for d in result["accepted_domains"]] == sorted(["contoso.com", tenant.tenant_domain])


def test_seeded_tenant_default_gather_reads_three_and_says_what_it_did_not_check(seeded):
    _tenant, client = seeded
    result = tenant_view.summarise(client)
    assert sorted(client.transport.sent) == ["Get-InboundConnector", "Get-OutboundConnector", "Get-TransportRule"]
    assert [s["id"] for s in result["findings_summary"]["not_checked"]] == ["rule_external_copy",
                                                                            "reject_direct_send_off"]
    assert len(result["findings"]) == len(posture_seed.EXPECTED) - 2
    assert "accepted_domains" not in result and "organization_config" not in result


def test_seeded_tenant_names_keep_the_findings_of_those_objects(seeded):
    _tenant, client = seeded
    result = tenant_view.summarise(client, gather=ALL, names=["Broken*"])
    assert [f["id"] for f in result["findings"]] == ["rule_route_broken"]


def test_direct_send_on_clears_the_finding(seeded):
    tenant, client = seeded
    client.invoke("Set-OrganizationConfig", {"RejectDirectSend": True}, write=True)
    result = tenant_view.summarise(client, gather=ALL)
    assert "reject_direct_send_off" not in [f["id"] for f in result["findings"]]
    assert result["organization_config"]["reject_direct_send"] is True


def test_empty_tenant_without_a_client(tmp_path):
    result = tenant_view.summarise(None, gather=ALL)
    assert result["findings"] == [] and result["accepted_domains"] == [] and result["organization_config"] is None


# --------------------------------------------------------------------------------------------------- suppressions

def _found():
    return posture.findings({"outbound_connectors": [
        outbound("Adatum outbound", TlsSettings="EncryptionOnly"), outbound("Litware outbound", TlsSettings="EncryptionOnly"),
        outbound("x", RecipientDomains=["d.example"]), outbound("y", RecipientDomains=["d.example"])]}, now=NOW)[0]


def test_suppressions_accept_by_id_objects_and_patterns():
    records = [
        {"id": "outbound_any_certificate", "objects": ["litware*"], "reason": "self-signed until March",
         "expires": "2026-12-31", "source": "litware.yml: accept[0]"},
        {"id": "outbound_domain_overlap", "objects": ["x"], "reason": "only x named", "expires": "2027-01-01"},
        {"id": "outbound_test_mode", "reason": "nothing is in test mode", "expires": datetime.date(2027, 1, 1)},
    ]
    applied = posture.apply_suppressions(_found(), records, now=NOW)
    assert [(f["id"], f["objects"]) for f in applied["findings"]] == [
        ("outbound_any_certificate", ["Adatum outbound"]), ("outbound_domain_overlap", ["x", "y"])]
    assert [(f["id"], f["objects"], f["accepted"]) for f in applied["accepted"]] == [
        ("outbound_any_certificate", ["Litware outbound"],
         {"reason": "self-signed until March", "expires": "2026-12-31", "source": "litware.yml: accept[0]"})]
    assert [(s["status"], s["matched"], s["source"]) for s in applied["suppressions"]] == [
        ("active", [{"id": "outbound_any_certificate", "objects": ["Litware outbound"]}], "litware.yml: accept[0]"),
        ("unused", [], "suppressions[1]"),
        ("unused", [], "suppressions[2]"),
    ]
    assert applied["suppressions"][2]["expires"] == "2027-01-01"
    both = posture.apply_suppressions(_found(), [{"id": "outbound_domain_overlap", "objects": ["x", "Y"], "reason": "r",
                                                  "expires": "2027-01-01"}], now=NOW)
    assert [f["id"] for f in both["accepted"]] == ["outbound_domain_overlap"]


def test_suppression_without_objects_accepts_every_finding_of_its_id():
    applied = posture.apply_suppressions(_found(), [{"id": "outbound_any_certificate", "reason": "r",
                                                     "expires": "2027-01-01"}], now=NOW)
    assert sorted(f["objects"][0] for f in applied["accepted"]) == ["Adatum outbound", "Litware outbound"]
    assert [f["id"] for f in applied["findings"]] == ["outbound_domain_overlap"]
    assert len(applied["suppressions"][0]["matched"]) == 2


@pytest.mark.parametrize("now,status", [
    ("2026-12-31T23:59:59Z", "active"),  # the whole day given is included (UTC)
    ("2027-01-01T00:00:00Z", "expired"),
])
def test_expired_suppressions_stop_accepting_and_are_reported(now, status):
    records = [{"id": "outbound_any_certificate", "reason": "r", "expires": "2026-12-31"}]
    applied = posture.apply_suppressions(_found(), records, now=now)
    assert applied["suppressions"][0]["status"] == status
    assert len(applied["suppressions"][0]["matched"]) == 2  # accepted, or would have been
    assert len(applied["accepted"]) == (2 if status == "active" else 0)
    assert len(applied["findings"]) == (1 if status == "active" else 3)


def test_a_time_of_expiry_and_the_first_record_that_matches():
    records = [{"id": "outbound_any_certificate", "reason": "old", "expires": "2026-12-01T11:00:00Z"},
               {"id": "outbound_any_certificate", "reason": "first in force", "expires": "2027-06-01"},
               {"id": "outbound_any_certificate", "reason": "second in force", "expires": "2028-06-01"}]
    applied = posture.apply_suppressions(_found(), records, now=NOW)
    assert [s["status"] for s in applied["suppressions"]] == ["expired", "active", "unused"]
    assert set(f["accepted"]["reason"] for f in applied["accepted"]) == {"first in force"}


BAD = [
    ("not a list", {"id": "x"}, "suppressions: must be a list"),
    ("not a mapping", ["outbound_test_mode"], "suppressions[0]: must be a mapping"),
    ("unknown key", [{"id": "outbound_test_mode", "reason": "r", "expires": "2027-01-01", "expiry": "x"}],
     "suppressions[0]: unknown key 'expiry' (did you mean expires?)"),
    ("no id", [{"reason": "r", "expires": "2027-01-01"}], "suppressions[0].id: required"),
    ("unknown id", [{"id": "outbound_testmode", "reason": "r", "expires": "2027-01-01"}],
     "suppressions[0].id: 'outbound_testmode' is not a finding id (did you mean outbound_test_mode?)"),
    ("no reason", [{"id": "outbound_test_mode", "expires": "2027-01-01"}], "suppressions[0].reason: required"),
    ("blank reason", [{"id": "outbound_test_mode", "reason": "  ", "expires": "2027-01-01"}],
     "suppressions[0].reason: required"),
    ("no expiry", [{"id": "outbound_test_mode", "reason": "r"}], "suppressions[0].expires: required"),
    ("bad date", [{"id": "outbound_test_mode", "reason": "r", "expires": "2027-13-01"}],
     "suppressions[0].expires: '2027-13-01' is not a date; write YYYY-MM-DD"),
    ("bool date", [{"id": "outbound_test_mode", "reason": "r", "expires": True}], "suppressions[0].expires: 'True'"),
    ("empty objects", [{"id": "outbound_test_mode", "reason": "r", "expires": "2027-01-01", "objects": []}],
     "suppressions[0].objects: must be a list of object names"),
    ("bad object", [{"id": "outbound_test_mode", "reason": "r", "expires": "2027-01-01", "objects": ["a", 3]}],
     "suppressions[0].objects[1]: '3' is not an object name"),
    ("bad source", [{"id": "outbound_test_mode", "reason": "r", "expires": "2027-01-01", "source": ["x"]}],
     "suppressions[0].source: must be text"),
]


@pytest.mark.parametrize("case,records,message", BAD, ids=[b[0] for b in BAD])
def test_bad_suppressions_are_named_by_field(case, records, message):
    checked, errors = posture.suppression_errors(records)
    assert checked == [] and len(errors) == 1, (case, errors)
    assert errors[0].startswith(message), (case, errors)
    with pytest.raises(ConfigurationError) as info:
        posture.check_suppressions(records)
    assert message in info.value.msg


def test_every_problem_is_reported_and_the_field_prefix_is_the_callers():
    records = [{"id": "nope", "reason": "", "expires": "soon"},
               {"id": "rule_expired", "reason": "r", "expires": "2027-01-01", "objects": "Old rule"}]
    checked, errors = posture.suppression_errors(records, field="adatum.yml: posture.accept")
    assert [e.split(":", 2)[1].strip() for e in errors] == ["posture.accept[0].id", "posture.accept[0].reason",
                                                            "posture.accept[0].expires"]
    assert checked == [{"id": "rule_expired", "objects": ["Old rule"], "reason": "r", "expires": "2027-01-01",
                        "source": "adatum.yml: posture.accept[1]"}]


def test_dates_as_yaml_gives_them():
    checked = posture.check_suppressions([
        {"id": "rule_expired", "reason": "r", "expires": datetime.date(2027, 1, 1)},
        {"id": "rule_expired", "reason": "r", "expires": datetime.datetime(2027, 1, 1, 8, 30)}])
    assert [c["expires"] for c in checked] == ["2027-01-01", "2027-01-01T08:30:00Z"]


def test_evaluate_summary():
    result = posture.evaluate({"outbound_connectors": [outbound("a", TlsSettings="EncryptionOnly", TestMode=True)]},
                              suppressions=[{"id": "outbound_test_mode", "reason": "r", "expires": "2026-01-01"},
                                            {"id": "outbound_any_certificate", "reason": "r", "expires": "2027-01-01"}],
                              now=NOW)
    assert result["findings_summary"] == {
        "total": 2, "new": 1, "accepted": 1, "by_severity": {"high": 0, "medium": 0, "low": 1},
        "expired_suppressions": 1, "unused_suppressions": 0,
        "not_checked": [{"id": "inbound_domain_only", "needs": ["inbound_connectors"]},
                        {"id": "inbound_ip_and_certificate", "needs": ["inbound_connectors"]},
                        {"id": "inbound_tls_optional", "needs": ["inbound_connectors"]},
                        {"id": "outbound_unused", "needs": ["mail_flow_rules"]},
                        {"id": "rule_route_broken", "needs": ["mail_flow_rules"]},
                        {"id": "rule_expired", "needs": ["mail_flow_rules"]},
                        {"id": "rule_audit_stale", "needs": ["mail_flow_rules"]},
                        {"id": "rule_sender_allow_list", "needs": ["mail_flow_rules"]},
                        {"id": "rule_filter_bypass", "needs": ["mail_flow_rules"]},
                        {"id": "rule_external_copy", "needs": ["mail_flow_rules", "accepted_domains"]},
                        {"id": "reject_direct_send_off", "needs": ["organization_config", "inbound_connectors"]}]}


def test_the_domain_index_finds_every_overlapping_pair_the_pairwise_comparison_finds():
    """_outbound_domain_overlap looks up candidate pairs in an index of the domains (a tenant may hold thousands of
    connectors); on random address spaces it finds exactly the pairs that comparing every pair finds."""
    import random
    rng = random.Random(7)
    labels = ["a", "b", "c", "mail", "x"]

    def space():
        name = ".".join(rng.choice(labels) for _label in range(rng.randint(1, 3))) + ".example"
        return rng.choice(["", "*.", "*.", ""]) + name if rng.random() > 0.03 else "*"

    for _round in range(30):
        domains = [[space() for _d in range(rng.randint(1, 3))] for _c in range(25)]
        pairwise = [(i, j) for i in range(len(domains)) for j in range(i + 1, len(domains))
                    if posture._overlap(domains[i], domains[j])]
        indexed = [pair for pair in posture._overlap_candidates(domains) if posture._overlap(*[domains[k] for k in pair])]
        assert indexed == pairwise and pairwise  # (and the rounds do have overlaps to find)


def test_a_partner_gets_the_findings_that_name_its_objects_in_any_case_and_only_those():
    """partner_work.findings hands each partner of a run the findings about its objects (looked up by object name,
    without regard to case): a finding about two partners' connectors goes to both, one about another partner's
    object to neither, and the partner's accept: records move its own to the accepted ones."""
    from types import SimpleNamespace
    from ansible_collections.m365.mailflow.plugins.module_utils import partner_work
    from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_plan as pp

    def partner(source, names, accept=()):
        object_names = [(kind, name, "field") for kind, name in names]
        return SimpleNamespace(partner=SimpleNamespace(object_names=object_names), source=source,
                               data={"accept": list(accept)}, findings=[], accepted=[])

    snapshot = SimpleNamespace(objects={
        pp.INBOUND: [inbound("Adatum inbound", SenderDomains=["smtp:adatum.example;1"]),
                     inbound("Litware inbound", SenderDomains=["smtp:litware.example;1"]),
                     inbound("Fabrikam inbound", SenderDomains=["smtp:fabrikam.example;1"],
                             SenderIPAddresses=["198.51.100.25"], RestrictDomainsToIPAddresses=True)],
        pp.OUTBOUND: [outbound("Adatum outbound", RecipientDomains=["shared.example"]),
                      outbound("Fabrikam outbound", RecipientDomains=["shared.example"])],
        pp.RULE: []})
    adatum = partner("adatum.yml", [(pp.INBOUND, "ADATUM INBOUND"), (pp.OUTBOUND, "adatum outbound")])
    fabrikam = partner("fabrikam.yml", [(pp.INBOUND, "Fabrikam inbound"), (pp.OUTBOUND, "Fabrikam outbound")],
                       accept=[{"id": "outbound_domain_overlap", "reason": "CHG-7", "expires": "2099-12-31"}])
    contoso = partner("contoso.yml", [(pp.INBOUND, "Contoso inbound")])
    partner_work.findings(SimpleNamespace(snapshot=snapshot, partners=[adatum, fabrikam, contoso]))

    def ids(items):
        return sorted((f["id"], tuple(f["objects"])) for f in items)

    assert ids(adatum.findings) == [("inbound_domain_only", ("Adatum inbound",)),
                                    ("outbound_domain_overlap", ("Adatum outbound", "Fabrikam outbound"))]
    assert adatum.accepted == []
    assert fabrikam.findings == []
    assert ids(fabrikam.accepted) == [("outbound_domain_overlap", ("Adatum outbound", "Fabrikam outbound"))]
    assert contoso.findings == [] and contoso.accepted == []
