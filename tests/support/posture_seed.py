# -*- coding: utf-8 -*-
"""A tenant with one instance of every posture finding and a clean twin of each (issue 25), for the unit and the
integration tests: ``seed(state_path)`` writes it into a SandboxTenant file (what the emulator serves too).

``EXPECTED`` is, per finding id, the objects of the one finding it must give; ``TWINS`` the objects no finding may
name. Most objects are made with the cmdlets; three states the service's own checks would not let a cmdlet make are
written into the file directly, as they arise in a real tenant over time: a rule in audit mode unchanged for 90 days
(WhenChanged is set by the service on every change), and a connector disabled while a rule still routes to it
(O13 refuses that on the current service; older tenants and replication give it).
"""

from __future__ import absolute_import, division, print_function

import datetime
import json

MARK = "Managed by m365.mailflow partner "

EXPECTED = {
    "inbound_domain_only": ["Domainonly inbound"],
    "inbound_ip_and_certificate": ["Mixed inbound"],
    "inbound_tls_optional": ["Cleartext inbound"],
    "outbound_tls_optional": ["Cleartext outbound"],
    "outbound_any_certificate": ["Selfsigned outbound"],
    "outbound_test_mode": ["Trial outbound"],
    "outbound_unused": ["Idle outbound"],
    "outbound_domain_overlap": ["Overlap one outbound", "Overlap two outbound"],
    "rule_route_broken": ["Broken - Route", "Broken outbound"],
    "rule_expired": ["Expired rule"],
    "rule_audit_stale": ["Audit rule"],
    "rule_sender_allow_list": ["Allow rule"],
    "rule_filter_bypass": ["Bypass rule"],
    "rule_external_copy": ["Copy rule"],
    "reject_direct_send_off": None,  # the organization: its identity, the tenant's domain
}
TWINS = ["Restricted inbound", "Ipsonly inbound", "Scanner inbound", "Strict outbound", "Wildcard outbound",
         "Routed outbound", "Routed - Legal", "Future rule", "Fresh audit rule", "Tag rule", "Header rule",
         "Internal copy rule"]
KEEPS_FLOWING = ["Scanner inbound"]  # identified by IP, for an accepted domain (contoso.com)

# The partner file of the one partner onboarded as onboarding makes it (its objects carry the marker).
ROUTED_PARTNER = {"partner": {
    "name": "Routed",
    "outbound": {"smart_hosts": ["mail.routed.example"], "tls_settings": "domain_validation",
                 "tls_domain": "mail.routed.example"},
    "rules": [{"name": "Legal", "conditions": {"recipient_domain_is": ["routed.example"]}}],
    "validation": {"enabled": False},
}}

_PARTNER_IN = {"ConnectorType": "Partner", "RequireTls": True}
_CERT = "CertificateValidation"
CALLS = [
    # ---- inbound
    ("New-InboundConnector", dict(_PARTNER_IN, Name="Domainonly inbound", SenderDomains=["domainonly.example"],
                                  Comment=MARK + "Domainonly")),
    ("New-InboundConnector", dict(_PARTNER_IN, Name="Restricted inbound", SenderDomains=["restricted.example"],
                                  TlsSenderCertificateName="*.restricted.example", RestrictDomainsToCertificate=True)),
    ("New-InboundConnector", dict(_PARTNER_IN, Name="Mixed inbound", SenderDomains=["mixed.example"],
                                  SenderIPAddresses=["198.51.100.10"], TlsSenderCertificateName="mail.mixed.example",
                                  RestrictDomainsToCertificate=True)),
    ("New-InboundConnector", dict(_PARTNER_IN, Name="Ipsonly inbound", SenderDomains=["ipsonly.example"],
                                  SenderIPAddresses=["198.51.100.20"], RestrictDomainsToIPAddresses=True)),
    ("New-InboundConnector", dict(_PARTNER_IN, Name="Cleartext inbound", SenderDomains=["cleartext.example"],
                                  SenderIPAddresses=["198.51.100.30"], RestrictDomainsToIPAddresses=True,
                                  RequireTls=False)),
    ("New-InboundConnector", dict(_PARTNER_IN, Name="Scanner inbound", SenderDomains=["contoso.com"],
                                  SenderIPAddresses=["203.0.113.5"], RestrictDomainsToIPAddresses=True)),
    # ---- outbound
    ("New-OutboundConnector", {"Name": "Cleartext outbound", "ConnectorType": "Partner",
                               "RecipientDomains": ["cleartext.example"]}),
    ("New-OutboundConnector", {"Name": "Strict outbound", "ConnectorType": "Partner", "RecipientDomains": ["strict.example"],
                               "TlsSettings": _CERT}),
    ("New-OutboundConnector", {"Name": "Selfsigned outbound", "ConnectorType": "Partner",
                               "RecipientDomains": ["selfsigned.example"], "UseMXRecord": False,
                               "SmartHosts": ["smtp.selfsigned.example"], "TlsSettings": "EncryptionOnly",
                               "Comment": MARK + "Selfsigned"}),
    ("New-OutboundConnector", {"Name": "Trial outbound", "ConnectorType": "Partner", "RecipientDomains": ["trial.example"],
                               "TlsSettings": _CERT, "TestMode": True}),
    ("New-OutboundConnector", {"Name": "Idle outbound", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
                               "UseMXRecord": False, "SmartHosts": ["mail.idle.example"], "TlsSettings": _CERT}),
    ("New-OutboundConnector", {"Name": "Routed outbound", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
                               "UseMXRecord": False, "SmartHosts": ["mail.routed.example"],
                               "TlsSettings": "DomainValidation", "TlsDomain": "mail.routed.example",
                               "Comment": MARK + "Routed"}),
    ("New-OutboundConnector", {"Name": "Broken outbound", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
                               "UseMXRecord": False, "SmartHosts": ["mail.broken.example"], "TlsSettings": _CERT}),
    ("New-OutboundConnector", {"Name": "Overlap one outbound", "ConnectorType": "Partner",
                               "RecipientDomains": ["overlap.example"], "TlsSettings": _CERT}),
    ("New-OutboundConnector", {"Name": "Overlap two outbound", "ConnectorType": "Partner",
                               "RecipientDomains": ["overlap.example", "other.example"], "TlsSettings": _CERT}),
    ("New-OutboundConnector", {"Name": "Wildcard outbound", "ConnectorType": "Partner", "RecipientDomains": ["*"],
                               "TlsSettings": _CERT}),
    # ---- rules
    ("New-TransportRule", {"Name": "Routed - Legal", "RecipientDomainIs": ["routed.example"],
                           "RouteMessageOutboundConnector": "Routed outbound", "Comments": MARK + "Routed"}),
    ("New-TransportRule", {"Name": "Broken - Route", "RecipientDomainIs": ["broken.example"],
                           "RouteMessageOutboundConnector": "Broken outbound"}),
    ("New-TransportRule", {"Name": "Expired rule", "SubjectContainsWords": ["old offer"], "PrependSubject": "[old] ",
                           "ExpiryDate": "2020-01-01T00:00:00"}),
    ("New-TransportRule", {"Name": "Future rule", "SubjectContainsWords": ["new offer"], "PrependSubject": "[new] ",
                           "ExpiryDate": "2099-01-01T00:00:00"}),
    ("New-TransportRule", {"Name": "Audit rule", "SubjectContainsWords": ["audit"], "PrependSubject": "[a] ",
                           "Mode": "Audit"}),
    ("New-TransportRule", {"Name": "Fresh audit rule", "SubjectContainsWords": ["fresh"], "PrependSubject": "[f] ",
                           "Mode": "AuditAndNotify"}),
    ("New-TransportRule", {"Name": "Allow rule", "SenderDomainIs": ["allowed.example"], "SetSCL": -1}),
    ("New-TransportRule", {"Name": "Tag rule", "SenderDomainIs": ["tagged.example"], "SetSCL": 5}),
    ("New-TransportRule", {"Name": "Bypass rule", "SubjectContainsWords": ["newsletter"],
                           "SetHeaderName": "X-MS-Exchange-Organization-SkipSafeLinksProcessing", "SetHeaderValue": "1"}),
    ("New-TransportRule", {"Name": "Header rule", "SubjectContainsWords": ["partner"], "SetHeaderName": "X-Partner",
                           "SetHeaderValue": "yes"}),
    ("New-TransportRule", {"Name": "Copy rule", "SubjectContainsWords": ["invoice"],
                           "BlindCopyTo": ["archive@outside.example"]}),
    ("New-TransportRule", {"Name": "Internal copy rule", "SubjectContainsWords": ["contract"], "BlindCopyTo": ["alice"]}),
]
AUDIT_AGE_DAYS = 90


def _edit(conn, kind, name, change):
    row = conn.execute("SELECT guid, data FROM objects WHERE kind = ? AND name_lc = ?", (kind, name.lower())).fetchone()
    assert row is not None, (kind, name)
    data = json.loads(row[1])
    change(data)
    conn.execute("UPDATE objects SET data = ? WHERE guid = ?", (json.dumps(data), row[0]))


def seed(state_path, now=None):
    """Write the tenant into the SandboxTenant file ``state_path`` (created if new)."""
    from ansible_collections.m365.mailflow.plugins.module_utils import wire
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
    tenant = SandboxTenant(state_path)
    for cmdlet, params in CALLS:
        wire.parse_response(tenant.execute(cmdlet, params), cmdlet)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    old = now - datetime.timedelta(days=AUDIT_AGE_DAYS)

    def age(data):
        data["WhenChanged"] = old.strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00")
        data["WhenChangedUTC"] = old.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")

    def disable(data):
        data["Enabled"] = False

    conn = tenant._connect()  # pylint: disable=protected-access
    try:
        kinds = dict(conn.execute("SELECT name_lc, kind FROM objects").fetchall())
        _edit(conn, kinds["audit rule"], "Audit rule", age)
        _edit(conn, kinds["broken outbound"], "Broken outbound", disable)
    finally:
        conn.close()
    return tenant


def expected(tenant_domain):
    out = dict(EXPECTED)
    out["reject_direct_send_off"] = [tenant_domain]
    return out


def seed_setting(state_path, cmdlet, parameters):
    """Run one cmdlet on the tenant file directly (test setup), for example Set-OrganizationConfig."""
    from ansible_collections.m365.mailflow.plugins.module_utils import wire
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
    return wire.parse_response(SandboxTenant(state_path).execute(cmdlet, parameters), cmdlet).objects
