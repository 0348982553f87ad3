# -*- coding: utf-8 -*-
"""Sandbox tenant: transport rules (priorities, conditions/actions, read-back, Enable/Disable), through execute()."""

from __future__ import absolute_import, division, print_function

import datetime
import json

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.errors import DuplicateError, InvalidParameterError, NotFoundError
from tests.support.sandbox_calls import fails, objs, run  # noqa: F401  pylint: disable=unused-import
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant

NS = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks."


@pytest.fixture
def tenant(tmp_path):
    return SandboxTenant(str(tmp_path / "tenant.db"))


def rule(tenant, name, **params):
    params["Name"] = name
    return objs(tenant, "New-TransportRule", params)[0]


def get(tenant, name):
    return objs(tenant, "Get-TransportRule", {"Identity": name})[0]


def order(tenant):
    return [(r["Name"], r["Priority"]) for r in objs(tenant, "Get-TransportRule")]


def connector(tenant, name="Partner route", **extra):
    params = {"Name": name, "IsTransportRuleScoped": True, "UseMXRecord": False, "SmartHosts": "mx.partner.example"}
    params.update(extra)
    return objs(tenant, "New-OutboundConnector", params)[0]


# --------------------------------------------------------------------------- priorities

def test_new_appends_and_inserts_with_shift(tenant):
    for name in ("a", "b", "c"):
        rule(tenant, name, SubjectContainsWords=name)
    assert order(tenant) == [("a", 0), ("b", 1), ("c", 2)]
    rule(tenant, "top", Priority=0, SubjectContainsWords="t")
    assert order(tenant) == [("top", 0), ("a", 1), ("b", 2), ("c", 3)]
    rule(tenant, "end", Priority=4, SubjectContainsWords="e")
    assert order(tenant)[-1] == ("end", 4)


def test_new_priority_out_of_range(tenant):
    rule(tenant, "a")
    err = fails(tenant, "New-TransportRule", {"Name": "b", "Priority": 2}, InvalidParameterError,
                "The specified rule priority is invalid. Use a value between '0' (highest priority), and '1' (lowest priority).")
    assert "Priority" in err.exception_type or "Priority" in err.msg
    fails(tenant, "New-TransportRule", {"Name": "b", "Priority": -1}, InvalidParameterError, "'0' (highest priority)")


def test_set_priority_moves_and_shifts(tenant):
    for name in ("a", "b", "c", "d"):
        rule(tenant, name)
    run(tenant, "Set-TransportRule", {"Identity": "d", "Priority": 1})
    assert order(tenant) == [("a", 0), ("d", 1), ("b", 2), ("c", 3)]
    run(tenant, "Set-TransportRule", {"Identity": "a", "Priority": 3})
    assert order(tenant) == [("d", 0), ("b", 1), ("c", 2), ("a", 3)]
    fails(tenant, "Set-TransportRule", {"Identity": "a", "Priority": 4}, InvalidParameterError,
          "Use a value between '0' (highest priority), and '3' (lowest priority).")


def test_remove_keeps_priorities_dense(tenant):
    for name in ("a", "b", "c"):
        rule(tenant, name)
    assert objs(tenant, "Remove-TransportRule", {"Identity": "a", "Confirm": False}) == []
    assert order(tenant) == [("b", 0), ("c", 1)]
    fails(tenant, "Remove-TransportRule", {"Identity": "a"}, NotFoundError, "'a'")


def test_priority_sidecar_on_the_wire(tenant):
    rule(tenant, "a")
    body = json.loads(tenant.execute("Get-TransportRule", {}).body)
    assert body["value"][0]["Priority@data.type"] == "System.Int32" and body["value"][0]["Priority"] == 0


def test_rule_limit_300(tenant):
    for index in range(300):
        rule(tenant, "r%03d" % index)
    fails(tenant, "New-TransportRule", {"Name": "one too many"}, InvalidParameterError, "300")


# --------------------------------------------------------------------------- properties

def test_read_back_record(tenant):
    connector(tenant)
    made = rule(tenant, "Route accounting", SenderADAttributeContainsWords="department:Accounting",
                RecipientDomainIs=["partner.example"], RouteMessageOutboundConnector="Partner route",
                FromScope="InOrganization", ExceptIfSubjectContainsWords="[private]", PrependSubject="EXT: ",
                SetAuditSeverity="Medium")
    assert get(tenant, "route ACCOUNTING") == made
    assert made["Conditions"] == [NS + "FromScopePredicate", NS + "RecipientDomainIsPredicate", NS + "SenderAttributeContainsPredicate"]
    assert made["Exceptions"] == [NS + "SubjectContainsPredicate"]
    assert made["Actions"] == [NS + "RouteMessageOutboundConnectorAction", NS + "PrependSubjectAction", NS + "SetAuditSeverityAction"]
    assert made["SenderADAttributeContainsWords"] == ["Department:Accounting"]
    assert made["RecipientDomainIs"] == ["partner.example"] and made["ExceptIfSubjectContainsWords"] == ["[private]"]
    assert made["From"] is None and made["SentTo"] is None and made["SetSCL"] is None and made["StopRuleProcessing"] is False
    for key, value in (("State", "Enabled"), ("Mode", "Enforce"), ("SenderAddressLocation", "Header"), ("RuleErrorAction", "Ignore"),
                       ("RuleVersion", "15.0.5.2"), ("Identity", "Route accounting"), ("Comments", None),
                       ("ActivationDate", None), ("ExpiryDate", None), ("Priority", 0)):
        assert made[key] == value, key
    assert made["Description"].startswith("If the message:\r\n\tIs received from 'Inside the organization'\r\n\tand ")
    assert "Take the following actions:\r\n\tUse the following connector: 'Partner route'\r\n" in made["Description"]
    assert "Except if the message:\r\n\tIncludes these words in the message subject: '[private]'\r\n" in made["Description"]
    assert made["WhenChanged"].endswith("+00:00") and made["Guid"]


def test_rule_without_conditions_applies_to_all(tenant):
    made = rule(tenant, "all", SetSCL=-1)
    assert made["Conditions"] is None and made["Exceptions"] is None and made["Actions"] == [NS + "SetSclAction"]


def test_name_and_comments_limits_and_duplicates(tenant):
    fails(tenant, "New-TransportRule", {"Name": "n" * 65}, InvalidParameterError, "Name", "64")
    fails(tenant, "New-TransportRule", {"Name": "a", "Comments": "c" * 1025}, InvalidParameterError, "Comments", "1024")
    rule(tenant, "Same")
    err = fails(tenant, "New-TransportRule", {"Name": "SAME"}, DuplicateError, "SAME")
    assert "AlreadyExist" in err.exception_type
    rule(tenant, "Other")
    fails(tenant, "Set-TransportRule", {"Identity": "Other", "Name": "same"}, DuplicateError)
    run(tenant, "Set-TransportRule", {"Identity": "Other", "Name": "Renamed"})
    assert get(tenant, "Renamed")["Identity"] == "Renamed"


def test_enums_mode_scope(tenant):
    fails(tenant, "New-TransportRule", {"Name": "a", "Mode": "Test"}, InvalidParameterError, "Audit, AuditAndNotify, Enforce")
    fails(tenant, "New-TransportRule", {"Name": "a", "FromScope": "ExternalPartner"}, InvalidParameterError,
          "InOrganization, NotInOrganization")
    assert rule(tenant, "a", Mode="audit", SentToScope="notinorganization")["SentToScope"] == "NotInOrganization"


def test_enabled_new_only_and_enable_disable(tenant):
    assert rule(tenant, "off", Enabled=False)["State"] == "Disabled"
    fails(tenant, "Set-TransportRule", {"Identity": "off", "Enabled": True}, InvalidParameterError, "Enabled")
    assert objs(tenant, "Enable-TransportRule", {"Identity": "off", "Mode": "Audit"}) == []
    got = get(tenant, "off")
    assert got["State"] == "Enabled" and got["Mode"] == "Audit"
    run(tenant, "Disable-TransportRule", {"Identity": "off", "Confirm": False})
    assert get(tenant, "off")["State"] == "Disabled"
    parsed = run(tenant, "Disable-TransportRule", {"Identity": "off"})
    assert "no settings of 'off' have been modified" in parsed.warnings[0]
    assert [r["Name"] for r in objs(tenant, "Get-TransportRule", {"State": "Disabled"})] == ["off"]


def test_dates(tenant):
    future = (datetime.datetime.utcnow() + datetime.timedelta(days=30)).replace(microsecond=0)
    later = future + datetime.timedelta(days=1)
    made = rule(tenant, "window", ActivationDate=future.strftime("%Y-%m-%dT%H:%M:%S"),
                ExpiryDate=later.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert made["ActivationDate"] == future.strftime("%Y-%m-%dT%H:%M:%S") + ".0000000+00:00"
    assert made["ExpiryDate"] == later.strftime("%Y-%m-%dT%H:%M:%S") + ".0000000+00:00"
    assert rule(tenant, "past", ActivationDate="2020-01-01T00:00:00")["ActivationDate"] is None
    offset = rule(tenant, "offset", ExpiryDate="2099-01-01T02:00:00+02:00")
    assert offset["ExpiryDate"] == "2099-01-01T00:00:00.0000000+00:00"
    fails(tenant, "Set-TransportRule", {"Identity": "window", "ExpiryDate": future.strftime("%Y-%m-%dT%H:%M:%S")},
          InvalidParameterError, "ExpiryDate", "ActivationDate")
    fails(tenant, "New-TransportRule", {"Name": "bad", "ExpiryDate": "next tuesday"}, InvalidParameterError, "ExpiryDate")


# --------------------------------------------------------------------------- conditions and actions

def test_route_connector_checks_and_name_normalisation(tenant):
    made = connector(tenant)
    fails(tenant, "New-TransportRule", {"Name": "r", "RouteMessageOutboundConnector": "missing"}, InvalidParameterError,
          "missing", "wasn't found")
    stored = rule(tenant, "r", RouteMessageOutboundConnector=made["Guid"])
    assert stored["RouteMessageOutboundConnector"] == "Partner route"
    connector(tenant, "Off", Enabled=False)
    fails(tenant, "New-TransportRule", {"Name": "r2", "RouteMessageOutboundConnector": "Off"}, InvalidParameterError, "'Off'", "disabled")
    objs(tenant, "New-OutboundConnector", {"Name": "Unscoped", "RecipientDomains": "a.com"})
    fails(tenant, "New-TransportRule", {"Name": "r3", "RouteMessageOutboundConnector": "Unscoped"}, InvalidParameterError,
          "'Unscoped'", "IsTransportRuleScoped")


@pytest.mark.parametrize("params,word", [
    ({"SenderADAttributeContainsWords": "Shoe:Size"}, "Department"),
    ({"SenderADAttributeMatchesPatterns": "Department"}, "Attribute:value"),
    ({"SenderIpRanges": "1.2.3.9-1.2.3.1"}, "range"),
    ({"SetSCL": 10}, "-1 and 9"),
    ({"RejectMessageEnhancedStatusCode": "5.7.2"}, "5.7.900"),
    ({"From": ""}, "empty"),
    ({"SentTo": ["a@b.com", " "]}, "empty"),
    ({"HeaderContainsMessageHeader": "X-Test"}, "HeaderContainsWords"),
    ({"SetHeaderValue": "v"}, "SetHeaderName"),
    ({"SetAuditSeverity": "Extreme"}, "Medium"),
    ({"ApplyHtmlDisclaimerLocation": "Append"}, "ApplyHtmlDisclaimerText"),
])
def test_condition_and_action_validation(tenant, params, word):
    params = dict(params, Name="r")
    fails(tenant, "New-TransportRule", params, InvalidParameterError, word)


def test_condition_and_action_breadth(tenant):
    made = rule(tenant, "wide", From=["alice@contoso.com"], FromMemberOf="Sales", SentTo="bob@partner.example",
                SentToMemberOf=["Ops"], SenderDomainIs="contoso.com", SenderIpRanges=["203.0.113.0/24", "198.51.100.1-198.51.100.9"],
                SubjectOrBodyContainsWords=["invoice"], HeaderContainsMessageHeader="X-Partner", HeaderContainsWords=["yes"],
                AnyOfRecipientAddressContainsWords="billing", SenderADAttributeMatchesPatterns="Title:^Chief",
                ExceptIfFromScope="NotInOrganization", ExceptIfSenderIpRanges="192.0.2.1",
                RouteMessageOutboundRequireTls=True, SetHeaderName="X-Routed", SetHeaderValue="1", SetSCL=5,
                StopRuleProcessing=True, RemoveHeader="X-Old", BlindCopyTo="audit@contoso.com",
                RedirectMessageTo=["desk@contoso.com"], ApplyHtmlDisclaimerText="<p>confidential</p>",
                RejectMessageReasonText="no")
    assert made["ApplyHtmlDisclaimerLocation"] == "Append" and made["ApplyHtmlDisclaimerFallbackAction"] == "Wrap"
    assert made["RejectMessageEnhancedStatusCode"] == "5.7.1"
    assert made["SetSCL"] == 5 and made["StopRuleProcessing"] is True and made["From"] == ["alice@contoso.com"]
    assert NS + "HeaderContainsPredicate" in made["Conditions"] and NS + "FromScopePredicate" in made["Exceptions"]
    assert len(made["Actions"]) == 9
    assert "'X-Partner' header contains 'yes'" in made["Description"]
    code = rule(tenant, "code", RejectMessageEnhancedStatusCode="5.7.950")
    assert code["RejectMessageReasonText"] and code["RejectMessageEnhancedStatusCode"] == "5.7.950"


def test_set_updates_only_given_and_null_clears_pairs(tenant):
    rule(tenant, "r", SubjectContainsWords="a", HeaderContainsMessageHeader="X-H", HeaderContainsWords=["v"],
         SetHeaderName="X-S", SetHeaderValue="1", PrependSubject="P: ")
    run(tenant, "Set-TransportRule", {"Identity": "r", "HeaderContainsWords": None, "SetHeaderName": None})
    got = get(tenant, "r")
    assert got["HeaderContainsMessageHeader"] is None and got["HeaderContainsWords"] is None
    assert got["SetHeaderName"] is None and got["SetHeaderValue"] is None
    assert got["SubjectContainsWords"] == ["a"] and got["PrependSubject"] == "P: "
    assert got["Conditions"] == [NS + "SubjectContainsPredicate"] and got["Actions"] == [NS + "PrependSubjectAction"]
    run(tenant, "Set-TransportRule", {"Identity": "r", "SubjectContainsWords": [], "PrependSubject": None})
    got = get(tenant, "r")
    assert got["Conditions"] is None and got["Actions"] is None and got["SubjectContainsWords"] is None


def test_set_multi_valued_add_remove(tenant):
    rule(tenant, "r", RecipientDomainIs=["a.com", "b.com"])
    run(tenant, "Set-TransportRule", {"Identity": "r", "RecipientDomainIs": {"@odata.type": "#Exchange.GenericHashTable",
                                                                             "Add": "c.com", "Remove": "A.COM"}})
    assert get(tenant, "r")["RecipientDomainIs"] == ["b.com", "c.com"]


def test_set_no_change_warning_and_whatif(tenant):
    rule(tenant, "r", SubjectContainsWords="x")
    parsed = run(tenant, "Set-TransportRule", {"Identity": "r", "SubjectContainsWords": ["x"]})
    assert parsed.warnings == ["The command completed successfully but no settings of 'r' have been modified."]
    raw = tenant.execute("New-TransportRule", {"Name": "w", "WhatIf": True, "Priority": 0})
    assert "@adminapi.confirmationmessage" in json.loads(raw.body)
    assert order(tenant) == [("r", 0)]


def test_get_filters(tenant):
    rule(tenant, "a", SubjectContainsWords="alpha")
    rule(tenant, "b", PrependSubject="beta")
    assert [r["Name"] for r in objs(tenant, "Get-TransportRule", {"Filter": "Description -like '*beta*'"})] == ["b"]
    slim = objs(tenant, "Get-TransportRule", {"Identity": "a", "ExcludeConditionActionDetails": True})[0]
    assert slim["Description"] is None and slim["SubjectContainsWords"] is None and slim["Name"] == "a"
    fails(tenant, "Get-TransportRule", {"Identity": "zzz"}, NotFoundError, "zzz")


def test_address_word_conditions_and_add_to_recipients(tenant):
    run(tenant, "New-TransportRule", {"Name": "words", "FromAddressContainsWords": ["billing"],
                                      "ExceptIfRecipientAddressContainsWords": ["noreply"],
                                      "AddToRecipients": ["audit@contoso.com"]})
    rule = objs(tenant, "Get-TransportRule", {"Identity": "words"})[0]
    assert rule["FromAddressContainsWords"] == ["billing"]
    assert rule["ExceptIfRecipientAddressContainsWords"] == ["noreply"]
    assert rule["AddToRecipients"] == ["audit@contoso.com"]
    assert NS + "FromAddressContainsPredicate" in rule["Conditions"]
    assert NS + "AddToRecipientAction" in rule["Actions"]
    run(tenant, "Set-TransportRule", {"Identity": "words", "FromAddressContainsWords": None})
    assert objs(tenant, "Get-TransportRule", {"Identity": "words"})[0]["FromAddressContainsWords"] is None


# --------------------------------------------------------------------------- recipients (Get-Recipient, resolution)

def test_seeded_directory_and_get_recipient_matching(tenant):
    everyone = objs(tenant, "Get-Recipient")
    assert [r["Name"] for r in everyone] == ["Accounting Team", "alice", "bob", "Operations", "Partners", "Sales"]
    accounting = [r for r in everyone if r["Name"] == "Accounting Team"][0]
    assert accounting["PrimarySmtpAddress"] == "accounting@contoso.com"
    assert accounting["RecipientTypeDetails"] == "MailUniversalDistributionGroup"
    assert accounting["EmailAddresses"][0] == "SMTP:accounting@contoso.com"
    assert "smtp:accounting@%s" % tenant.tenant_domain in accounting["EmailAddresses"]
    for identity in ("Accounting Team", "ACCOUNTING", "accounting team", "finance@contoso.com",
                     "Accounting@Contoso.com", accounting["Guid"], accounting["ExternalDirectoryObjectId"], "acc*"):
        assert [r["Name"] for r in objs(tenant, "Get-Recipient", {"Identity": identity})] == ["Accounting Team"], identity
    assert [r["Name"] for r in objs(tenant, "Get-Recipient", {"Identity": "Alice Adams"})] == ["alice"]
    fails(tenant, "Get-Recipient", {"Identity": "Nobody"}, NotFoundError, "Nobody")
    groups = objs(tenant, "Get-Recipient", {"RecipientTypeDetails": ["MailUniversalSecurityGroup"]})
    assert [r["Name"] for r in groups] == ["Partners"]


def test_add_recipient_and_ambiguous_identity_returns_every_match(tenant):
    from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
    added = tenant.add_recipient("bob2", display_name="Bob Baker", alias="bobby", primary="bob.b@contoso.com",
                                 secondary=["robert@{tenant}"])
    assert added["EmailAddresses"] == ["SMTP:bob.b@contoso.com", "smtp:robert@%s" % tenant.tenant_domain]
    assert [r["Name"] for r in objs(tenant, "Get-Recipient", {"Identity": "Bob Baker"})] == ["bob", "bob2"]
    assert "bob2" in [r["Name"] for r in tenant.recipients()]
    with pytest.raises(ConfigurationError):
        tenant.add_recipient("BOB2")
    with pytest.raises(ValueError):
        tenant.add_recipient("x", kind="Printer")


def test_rules_store_primary_addresses(tenant):
    made = rule(tenant, "r", From=["Alice Adams", "alice.adams@contoso.com", "Carol <carol@partner.example>",
                                   "dave@partner.example"],
                FromMemberOf="Accounting Team", SentToMemberOf=["bob"], SentTo=["bob@{0}".format(tenant.tenant_domain)],
                CopyTo="alice", BlindCopyTo=["audit@contoso.com"], PrependSubject="EXTERNAL: ", SetHeaderName="X-A",
                SetHeaderValue=" v ")
    assert made["From"] == ["alice@contoso.com", "alice@contoso.com", "carol@partner.example", "dave@partner.example"]
    assert made["FromMemberOf"] == ["accounting@contoso.com"] and made["SentToMemberOf"] == ["bob@contoso.com"]
    assert made["SentTo"] == ["bob@contoso.com"] and made["CopyTo"] == ["alice@contoso.com"]
    assert made["BlindCopyTo"] == ["audit@contoso.com"]  # not in the directory: kept as given
    assert made["PrependSubject"] == "EXTERNAL: " and made["SetHeaderValue"] == " v "  # text kept as given
    assert NS + "CopyToAction" in made["Actions"] and "Add 'alice@contoso.com' to the Cc box" in made["Description"]
    run(tenant, "Set-TransportRule", {"Identity": "r", "From": {"@odata.type": "#Exchange.GenericHashTable",
                                                                "Add": ["Bob Baker"], "Remove": ["alice"]}})
    assert get(tenant, "r")["From"] == ["carol@partner.example", "dave@partner.example", "bob@contoso.com"]


@pytest.mark.parametrize("params,error,word", [
    ({"From": ["Nobody Here"]}, NotFoundError, "Couldn't find object \"Nobody Here\""),
    ({"ExceptIfSentTo": ["nobody"]}, NotFoundError, "nobody"),
    ({"SentTo": ["Accounting Team"]}, InvalidParameterError, "can't be a distribution group"),
    ({"ExceptIfSentTo": ["partners@contoso.com"]}, InvalidParameterError, "can't be a distribution group"),
    ({"AddToRecipients": ["Sales"]}, InvalidParameterError, "can't be a distribution group"),
    ({"CopyTo": ["ops"]}, InvalidParameterError, "can't be a distribution group"),
    ({"RedirectMessageTo": ["Operations"]}, InvalidParameterError, "can't be a distribution group"),
    ({"From": ["a*"]}, InvalidParameterError, "matches multiple entries"),
])
def test_rule_recipients_refused_like_the_service(tenant, params, error, word):
    fails(tenant, "New-TransportRule", dict(params, Name="r"), error, word)
    assert objs(tenant, "Get-TransportRule") == []


def test_tenant_file_without_recipients_is_seeded(tmp_path):
    import sqlite3
    path = str(tmp_path / "old.db")
    SandboxTenant(path)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM recipients")
    conn.execute("DELETE FROM meta WHERE key = 'recipients_seeded'")
    conn.commit()
    conn.close()
    assert len(SandboxTenant(path).recipients()) == 6


# --------------------------------------------------------------------------- sizes, text, patterns, names

@pytest.mark.parametrize("given,stored", [
    ("10MB", "10 MB (10,485,760 bytes)"), ("10 mb", "10 MB (10,485,760 bytes)"), (10485760, "10 MB (10,485,760 bytes)"),
    ("10485760", "10 MB (10,485,760 bytes)"), ("10 KB", "10 KB (10,240 bytes)"), ("1.5GB", "1.5 GB (1,610,612,736 bytes)"),
    ("10000", "9.766 KB (10,000 bytes)"), ("10 MB (10,485,760 bytes)", "10 MB (10,485,760 bytes)"),
])
def test_sizes_are_parsed_and_read_back_like_the_service(tenant, given, stored):
    made = rule(tenant, "big", AttachmentSizeOver=given, ExceptIfMessageSizeOver=given)
    assert made["AttachmentSizeOver"] == stored and made["ExceptIfMessageSizeOver"] == stored
    assert NS + "AttachmentSizeOverPredicate" in made["Conditions"]
    assert NS + "MessageSizeOverPredicate" in made["Exceptions"]
    run(tenant, "Set-TransportRule", {"Identity": "big", "AttachmentSizeOver": None})
    assert get(tenant, "big")["AttachmentSizeOver"] is None


@pytest.mark.parametrize("value", ["10 XB", "-1MB", "big", True])
def test_bad_sizes_are_refused(tenant, value):
    fails(tenant, "New-TransportRule", {"Name": "r", "MessageSizeOver": value}, InvalidParameterError, "MessageSizeOver",
          "isn't a valid size")


def test_invalid_patterns_are_refused_and_dotnet_only_ones_accepted(tenant):
    for pattern in ("Title:(Head", "Title:[a", "Title:*x", "Title:a{3,1}", "Title:[z-a]"):
        fails(tenant, "New-TransportRule", {"Name": "r", "ExceptIfSenderADAttributeMatchesPatterns": [pattern]},
              InvalidParameterError, "regular expression")
    made = rule(tenant, "p", SenderADAttributeMatchesPatterns=["Title:\\p{Lu}\\w+\\z", "Department:(?<d>Acc)"])
    assert made["SenderADAttributeMatchesPatterns"] == ["Title:\\p{Lu}\\w+\\z", "Department:(?<d>Acc)"]


@pytest.mark.parametrize("name", [" Leading", "Trailing ", "\tTab"])
def test_rule_names_with_surrounding_white_space_are_refused(tenant, name):
    fails(tenant, "New-TransportRule", {"Name": name}, InvalidParameterError, "white space")
    rule(tenant, "ok")
    fails(tenant, "Set-TransportRule", {"Identity": "ok", "Name": name}, InvalidParameterError, "white space")
