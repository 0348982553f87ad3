# -*- coding: utf-8 -*-
"""Sandbox tenant: Get-AcceptedDomain, Get-OrganizationConfig and Set-OrganizationConfig -RejectDirectSend."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.errors import InvalidParameterError, NotFoundError
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
from tests.support.sandbox_calls import fails, objs, run


@pytest.fixture
def tenant(tmp_path):
    return SandboxTenant(str(tmp_path / "tenant.db"), tenant_domain="fabrikam.onmicrosoft.com")


def test_organization_config_reject_direct_send_off_by_default_then_set(tenant):
    org = objs(tenant, "Get-OrganizationConfig")
    assert len(org) == 1
    assert org[0]["RejectDirectSend"] is False  # MC1093237: off by default
    assert org[0]["Name"] == org[0]["Identity"] == "fabrikam.onmicrosoft.com"
    before = org[0]["WhenChangedUTC"]
    answer = run(tenant, "Set-OrganizationConfig", {"RejectDirectSend": True})
    assert answer.objects == [] and answer.warnings == []
    after = objs(tenant, "Get-OrganizationConfig")[0]
    assert after["RejectDirectSend"] is True and after["WhenChangedUTC"] > before
    assert after["Guid"] == org[0]["Guid"]
    again = run(tenant, "Set-OrganizationConfig", {"RejectDirectSend": True})
    assert again.warnings and "no settings" in again.warnings[0]
    assert objs(tenant, "Get-OrganizationConfig")[0]["WhenChangedUTC"] == after["WhenChangedUTC"]
    run(tenant, "Set-OrganizationConfig", {"RejectDirectSend": False})
    assert objs(tenant, "Get-OrganizationConfig")[0]["RejectDirectSend"] is False


def test_organization_config_by_identity_and_refusals(tenant):
    assert objs(tenant, "Get-OrganizationConfig", {"Identity": "FABRIKAM.onmicrosoft.com"})[0]["RejectDirectSend"] is False
    fails(tenant, "Get-OrganizationConfig", {"Identity": "contoso.onmicrosoft.com"}, NotFoundError, "contoso")
    fails(tenant, "Set-OrganizationConfig", {"RejectDirectSend": "maybe"}, InvalidParameterError, "RejectDirectSend")
    fails(tenant, "Set-OrganizationConfig", {"RejectDirectSend": None}, InvalidParameterError, "RejectDirectSend")
    fails(tenant, "Set-OrganizationConfig", {"SmtpActionableMessagesEnabled": True}, InvalidParameterError,
          "SmtpActionableMessagesEnabled")  # not modelled: refused as an unknown parameter
    assert run(tenant, "Set-OrganizationConfig", {"RejectDirectSend": True, "WhatIf": True}).objects == []
    assert objs(tenant, "Get-OrganizationConfig")[0]["RejectDirectSend"] is False  # WhatIf changed nothing


def test_accepted_domains_listed_with_type_and_default(tenant):
    tenant.add_accepted_domain("relay.fabrikam.example", "InternalRelay")
    found = objs(tenant, "Get-AcceptedDomain")
    assert [(d["DomainName"], d["DomainType"], d["Default"]) for d in found] == [
        ("contoso.com", "Authoritative", False),
        ("fabrikam.onmicrosoft.com", "Authoritative", True),
        ("relay.fabrikam.example", "InternalRelay", False),
    ]
    assert all(d["Identity"] == d["Name"] == d["DomainName"] for d in found)
    assert objs(tenant, "Get-AcceptedDomain", {"Identity": "Contoso.com"})[0]["DomainName"] == "contoso.com"
    fails(tenant, "Get-AcceptedDomain", {"Identity": "nowhere.example"}, NotFoundError, "nowhere.example")
    assert len(objs(tenant, "Get-AcceptedDomain", {"ResultSize": 1})) == 1
