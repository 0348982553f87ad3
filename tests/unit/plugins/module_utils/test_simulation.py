# -*- coding: utf-8 -*-
"""Mail-flow simulation (issue 24): the semantics of every condition and exception, rule order, modes, dates,
connector choice and inbound attribution, each with a message that matches and one that does not."""

from __future__ import absolute_import, division, print_function

import copy

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import rule_parameters as table
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.simulation import conditions
from ansible_collections.m365.mailflow.plugins.module_utils.simulation.engine import (
    ASSUMPTIONS, SimulationError, failed_expectations, simulate)


def rec(name, address, kind="UserMailbox", **attributes):
    """A Get-Recipient record as the service returns it (directory attributes null unless given)."""
    record = {"Name": name, "Alias": name.lower(), "DisplayName": name, "PrimarySmtpAddress": address,
              "EmailAddresses": ["SMTP:" + address], "RecipientTypeDetails": kind, "Guid": "guid-" + name.lower(),
              "Department": None, "City": None, "Manager": None, "Title": None}
    record.update(attributes)
    return record


DIRECTORY = [
    rec("Anna", "anna@contoso.com", Department="Accounting", City="Oslo", Manager="Mark", Title="Clerk"),
    rec("Mark", "mark@contoso.com", Department="Accounting", City="Bergen"),
    rec("Sam", "sam@contoso.com", Department="Sales", Manager="Mark"),
    rec("Finance Team", "finance@contoso.com", kind="MailUniversalDistributionGroup"),
    rec("Partners", "partners@contoso.com", kind="MailUniversalSecurityGroup"),
]
DOMAINS = {"contoso.com": "Authoritative"}
BASE = {"name": "m", "sender": "anna@contoso.com", "recipients": ["bob@fabrikam.example"], "subject": "Hello",
        "sent": "2026-06-01T12:00:00Z"}


def rule(name, priority=None, conditions_=None, exceptions=None, actions=None, **options):
    opts = dict(name=name, **options)
    if conditions_:
        opts["conditions"] = conditions_
    if exceptions:
        opts["exceptions"] = exceptions
    opts["actions"] = actions if actions is not None else {"set_header": {"name": "X-Hit", "value": name}}
    if not conditions_ and not exceptions:
        opts["apply_to_all_messages"] = True
    facts = {"priority": priority} if priority is not None else {}
    return {"options": opts, "facts": facts}


def outbound(name, **options):
    return {"options": dict(dict(name=name, enabled=True), **options), "facts": {"connector_type": "Partner"}}


def inbound(name, **options):
    return {"options": dict(dict(name=name, enabled=True), **options), "facts": {"connector_type": "Partner"}}


def run(rules=(), messages=None, out=(), into=(), directory=None, domains=None, **kwargs):
    directory = DIRECTORY if directory is None else directory
    domains = DOMAINS if domains is None else domains
    objects = {"mail_flow_rules": list(rules), "outbound_connectors": list(out), "inbound_connectors": list(into)}
    return simulate(objects, messages or [dict(BASE)], domains, directory, **kwargs)


def message(**overrides):
    msg = copy.deepcopy(BASE)
    msg.update(overrides)
    return msg


def first(result, recipient=0):
    return result["messages"][0]["recipients"][recipient]


# --------------------------------------------------------------------------------------------------- every condition

# option -> (value, overrides of a message that matches, overrides of one that does not)
FINANCE = {"MemberOf": ["Finance Team"]}
CASES = {
    "from": (["anna@contoso.com"], {}, {"sender": "sam@contoso.com"}),
    "from_scope": ("in_organization", {}, {"direction": "inbound", "sender": "x@fabrikam.example",
                                           "recipients": ["anna@contoso.com"]}),
    "from_member_of": (["finance@contoso.com"], {"sender_attributes": FINANCE}, {"sender_attributes": {"MemberOf": []}}),
    "from_address_contains_words": (["anna"], {}, {"sender": "annabel@contoso.com"}),
    "from_address_matches_patterns": (["^ann[a-z]+@"], {}, {"sender": "sam@contoso.com"}),
    "sender_domain_is": (["contoso.com"], {"sender": "x@eu.contoso.com"}, {"sender": "x@notcontoso.com"}),
    "sender_ip_ranges": (["203.0.113.0/24", "198.51.100.1-198.51.100.5"], {"sender_ip": "198.51.100.3"},
                         {"sender_ip": "198.51.100.9"}),
    "sender_ad_attribute_contains_words": (["Department:Accounting,Finance"], {}, {"sender": "sam@contoso.com"}),
    "sender_ad_attribute_matches_patterns": (["City:^os,^Trond"], {}, {"sender": "mark@contoso.com"}),
    "sender_management_relationship": ("manager", {"sender": "mark@contoso.com", "recipients": ["anna@contoso.com"]},
                                       {"sender": "sam@contoso.com", "recipients": ["anna@contoso.com"]}),
    "manager_for_evaluated_user": ({"evaluated_user": "sender", "addresses": ["mark@contoso.com"]}, {},
                                   {"sender": "mark@contoso.com"}),
    "ad_attribute_comparison": ({"attribute": "Department", "operator": "equal"}, {"recipients": ["mark@contoso.com"]},
                                {"recipients": ["sam@contoso.com"]}),
    "sent_to": (["bob@fabrikam.example"], {}, {"recipients": ["carl@fabrikam.example"]}),
    "sent_to_scope": ("not_in_organization", {}, {"recipients": ["mark@contoso.com"]}),
    "sent_to_member_of": (["finance@contoso.com"], {"recipient_attributes": FINANCE},
                          {"recipient_attributes": {"MemberOf": ["Partners"]}}),
    "recipient_address_contains_words": (["bob"], {}, {"recipients": ["bobby@fabrikam.example"]}),
    "recipient_address_matches_patterns": (["@fabrikam\\.example$"], {}, {"recipients": ["bob@fabrikam.example.org"]}),
    "recipient_domain_is": (["fabrikam.example"], {"recipients": ["bob@eu.fabrikam.example"]},
                            {"recipients": ["bob@notfabrikam.example"]}),
    "recipient_ad_attribute_contains_words": (["Department:Sales"], {"recipients": ["sam@contoso.com"]},
                                              {"recipients": ["mark@contoso.com"]}),
    "recipient_ad_attribute_matches_patterns": (["City:^Os"], {"recipients": ["anna@contoso.com"]},
                                                {"recipients": ["mark@contoso.com"]}),
    "any_of_to_header": (["bob@fabrikam.example"], {},
                         {"recipients": ["carl@fabrikam.example"], "cc": ["bob@fabrikam.example"]}),
    "any_of_to_header_member_of": (["finance@contoso.com"], {"recipient_attributes": FINANCE},
                                   {"recipient_attributes": {"MemberOf": []}}),
    "any_of_cc_header": (["bob@fabrikam.example"],
                         {"recipients": ["carl@fabrikam.example"], "cc": ["bob@fabrikam.example"]}, {}),
    "any_of_cc_header_member_of": (["finance@contoso.com"], {"cc": ["mark@contoso.com"],
                                                             "recipient_attributes": {"mark@contoso.com": FINANCE}},
                                   {"cc": ["mark@contoso.com"], "recipient_attributes": {"MemberOf": []}}),
    "any_of_to_cc_header": (["bob@fabrikam.example"],
                            {"recipients": ["carl@fabrikam.example"], "cc": ["bob@fabrikam.example"]},
                            {"recipients": ["carl@fabrikam.example"], "bcc": ["bob@fabrikam.example"]}),
    "any_of_to_cc_header_member_of": (["finance@contoso.com"], {"recipient_attributes": FINANCE},
                                      {"recipient_attributes": {"MemberOf": ["Partners"]}}),
    "any_of_recipient_address_contains_words": (["bob"], {"recipients": ["carl@fabrikam.example"],
                                                          "bcc": ["bob@fabrikam.example"]},
                                                {"recipients": ["carl@fabrikam.example"]}),
    "any_of_recipient_address_matches_patterns": (["^bob@"], {}, {"recipients": ["jbob@fabrikam.example"]}),
    "between_member_of": ({"first": ["finance@contoso.com"], "second": ["partners@contoso.com"]},
                          {"sender_attributes": FINANCE, "recipient_attributes": {"MemberOf": ["partners@contoso.com"]}},
                          {"sender_attributes": FINANCE, "recipient_attributes": {"MemberOf": ["Finance Team"]}}),
    "subject_contains_words": (["invoice", "pay slip"], {"subject": "Your PAY  slip, 2026"}, {"subject": "Invoices"}),
    "subject_matches_patterns": (["^RE:\\s"], {"subject": "re: hi"}, {"subject": "Fwd: re: hi"}),
    "subject_or_body_contains_words": (["secret"], {"body": "top secret."}, {"body": "secretary"}),
    "subject_or_body_matches_patterns": (["\\d{3}-\\d{2}-\\d{4}"], {"body": "SSN 123-45-6789"}, {"body": "123-45"}),
    "header_contains": ({"header": "X-Class", "words": ["confidential"]}, {"headers": {"x-class": "Confidential"}},
                        {"headers": {"X-Other": "confidential"}}),
    "header_matches_patterns": ({"header": "X-Class", "patterns": ["^conf"]}, {"headers": {"X-Class": ["a", "Conf 1"]}},
                                {"headers": {"X-Class": "not conf"}}),
    "content_character_set_contains_words": (["iso-2022-jp"], {"character_sets": ["ISO-2022-JP"]},
                                             {"character_sets": ["utf-8"]}),
    "attachment_contains_words": (["salary"], {"attachments": [{"name": "a.docx", "content": "Salary list"}]},
                                  {"attachments": [{"name": "a.docx", "content": "salaryman"}]}),
    "attachment_matches_patterns": (["\\bIBAN\\b"], {"attachments": [{"name": "a.txt", "content": "iban: NO93"}]},
                                    {"attachments": [{"name": "a.txt", "content": "IBANX"}]}),
    "attachment_extension_matches_words": (["exe", ".js"], {"attachments": [{"name": "setup.EXE"}]},
                                           {"attachments": [{"name": "exe.pdf"}]}),
    "attachment_name_matches_patterns": (["^invoice.*\\.pdf$"], {"attachments": [{"name": "Invoice-1.pdf"}]},
                                         {"attachments": [{"name": "invoice-1.pdf.exe"}]}),
    "attachment_property_contains_words": (["Project:Apollo"],
                                           {"attachments": [{"name": "a.docx", "properties": {"project": "Apollo 11"}}]},
                                           {"attachments": [{"name": "a.docx", "properties": {"Project": "Zeus"}}]}),
    "attachment_size_over": ("1 MB", {"attachments": [{"name": "a.bin", "size": "1 MB"}]},
                             {"attachments": [{"name": "a.bin", "size": 1048575}]}),
    "attachment_has_executable_content": (True, {"attachments": [{"name": "a", "executable": True}]},
                                          {"attachments": [{"name": "a.exe"}]}),
    "attachment_is_password_protected": (True, {"attachments": [{"name": "a.zip", "password_protected": True}]},
                                         {"attachments": [{"name": "a.zip"}]}),
    "attachment_is_unsupported": (True, {"attachments": [{"name": "a.xyz", "unsupported": True}]},
                                  {"attachments": [{"name": "a.xyz"}]}),
    "attachment_processing_limit_exceeded": (True, {"attachments": [{"name": "a.zip",
                                                                     "processing_limit_exceeded": True}]}, {}),
    "message_size_over": ("10 MB (10,485,760 bytes)", {"size": "10MB"}, {"size": 10485759}),
    "message_type_matches": ("auto_forward", {"message_type": "auto_forward"}, {"message_type": "oof"}),
    "with_importance": ("high", {"importance": "high"}, {}),
    "scl_over": (5, {"scl": 5}, {"scl": 4}),
    "has_classification": ("Confidential", {"classifications": ["confidential"]}, {"classifications": ["Public"]}),
    "has_no_classification": (True, {}, {"classifications": ["Public"]}),
}


def test_every_condition_of_the_vocabulary_has_semantics_and_cases():
    """A new condition in rule_parameters without semantics or a test case fails here."""
    options = set(e["option"] for e in table.CONDITIONS)
    assert set(conditions.SEMANTICS) == options
    assert set(CASES) == options


@pytest.mark.parametrize("option", sorted(CASES))
def test_condition_matches_and_does_not(option):
    value, hit, miss = CASES[option]
    rules = [rule("R", 0, conditions_={option: value})]
    result = run(rules, [message(**hit), dict(message(**miss), name="miss")], unknown_conditions="fail")
    matched, missed = (m["recipients"][0]["rules"][0] for m in result["messages"])
    assert matched["status"] == "matched", matched
    assert missed["status"] == "not_matched", missed
    assert matched["conditions"][0]["condition"] == option and matched["conditions"][0]["matched"] is True
    assert missed["reason"].startswith(option + ": "), missed
    assert result["messages"][0]["recipients"][0]["applied_rules"] == ["R"]
    assert result["messages"][1]["recipients"][0]["applied_rules"] == []


@pytest.mark.parametrize("option", sorted(CASES))
def test_exception_stops_the_rule_and_does_not(option):
    value, hit, miss = CASES[option]
    rules = [rule("R", 0, exceptions={option: value})]
    result = run(rules, [message(**hit), dict(message(**miss), name="miss")], unknown_conditions="fail")
    excepted, applied = (m["recipients"][0]["rules"][0] for m in result["messages"])
    assert excepted["status"] == "excepted", excepted
    assert excepted["exception"]["exception"] == option
    assert applied["status"] == "matched", applied
    assert result["messages"][0]["recipients"][0]["applied_rules"] == []


def test_rules_without_any_cases_listed_twice():
    # The exception form of every condition is the same option (rule_parameters.EXCEPTIONS).
    assert set(e["option"] for e in table.EXCEPTIONS) == set(CASES)


# --------------------------------------------------------------------------------------------------- semantics details

def test_words_are_whole_words_and_phrases_span_white_space():
    words = conditions.Words(["pay slip", "@contoso.com", "C#"])
    assert words.find("your pay\tslip") == ["pay slip"]
    assert words.find("payslip") == []
    assert words.find("x@contoso.com") == ["@contoso.com"]
    assert words.find("c# code") == ["C#"]


def test_scope_values_in_every_spelling():
    for spelling in ("NotInOrganization", "not_in_organization", "notinorganization"):
        result = run([rule("R", 0, conditions_={"sent_to_scope": spelling})])
        assert first(result)["applied_rules"] == ["R"], spelling


def test_from_scope_of_mail_from_a_partner_is_not_in_organization():
    result = run([rule("R", 0, conditions_={"from_scope": "not_in_organization"})],
                 [message(direction="inbound", sender="x@fabrikam.example", recipients=["anna@contoso.com"])])
    assert first(result)["applied_rules"] == ["R"]


def test_sender_address_location_envelope():
    rules = [rule("R", 0, conditions_={"from_address_contains_words": ["bounce"]},
                  sender_address_location="envelope")]
    result = run(rules, [message(envelope_sender="bounce@contoso.com")])
    assert first(result)["applied_rules"] == ["R"]
    header = run([rule("R", 0, conditions_={"from_address_contains_words": ["bounce"]})],
                 [message(envelope_sender="bounce@contoso.com")])
    assert first(header)["applied_rules"] == []


def test_recipient_address_type_resolved_uses_the_primary_address():
    directory = DIRECTORY + [dict(rec("Bea", "bea@contoso.com"), EmailAddresses=["SMTP:bea@contoso.com",
                                                                                 "smtp:b.old@contoso.com"])]
    rules = [rule("R", 0, conditions_={"recipient_address_contains_words": ["bea"]})]
    resolved = run(rules, [message(recipients=["b.old@contoso.com"])], directory=directory)
    assert first(resolved)["applied_rules"] == ["R"]
    original = run([rule("R", 0, conditions_={"recipient_address_contains_words": ["bea"]},
                         recipient_address_type="original")],
                   [message(recipients=["b.old@contoso.com"])], directory=directory)
    assert first(original)["applied_rules"] == []


def test_recipient_conditions_apply_per_recipient_and_any_of_to_all():
    rules = [rule("Per", 0, conditions_={"recipient_domain_is": ["fabrikam.example"]}),
             rule("All", 1, conditions_={"any_of_recipient_address_contains_words": ["bob"]})]
    result = run(rules, [message(recipients=["bob@fabrikam.example", "carl@adatum.example"])])
    bob, carl = result["messages"][0]["recipients"]
    assert bob["applied_rules"] == ["Per", "All"]
    assert carl["applied_rules"] == ["All"]


def test_message_size_is_estimated_when_not_given():
    result = run([rule("R", 0, conditions_={"message_size_over": "1 KB"})],
                 [message(body="x" * 2000)])
    assert first(result)["applied_rules"] == ["R"]
    assert "size_estimated" in result["messages"][0]["assumptions"]


# --------------------------------------------------------------------------------------------------- unknown

UNKNOWN = [
    ("sender_ip_ranges", ["203.0.113.0/24"], {}),
    ("attachment_contains_words", ["x"], {"attachments": [{"name": "a.docx"}]}),
    ("from_member_of", ["finance@contoso.com"], {}),
    ("scl_over", 5, {}),
    ("subject_matches_patterns", ["\\p{Lu}"], {}),
    ("sender_ad_attribute_contains_words", ["Initials:AB"], {}),
]


@pytest.mark.parametrize("option,value,overrides", UNKNOWN)
def test_unknown_conditions_follow_the_option(option, value, overrides):
    rules = [rule("R", 0, conditions_={option: value})]
    no_match = run(rules, [message(**overrides)])
    assert first(no_match)["applied_rules"] == []
    unknown = no_match["messages"][0]["unknown"]
    assert [(u["rule"], u["condition"], u["treated_as"]) for u in unknown] == [("R", option, "no_match")]
    match = run(rules, [message(**overrides)], unknown_conditions="match")
    assert first(match)["applied_rules"] == ["R"]
    with pytest.raises(SimulationError) as info:
        run(rules, [message(**overrides)], unknown_conditions="fail")
    assert "rule 'R'" in info.value.msg and option in info.value.msg and "unknown_conditions" in info.value.msg


def test_unknown_exception_counts_as_not_matching_by_default():
    rules = [rule("R", 0, exceptions={"sender_ip_ranges": ["203.0.113.0/24"]})]
    assert first(run(rules))["applied_rules"] == ["R"]
    assert first(run(rules, unknown_conditions="match"))["applied_rules"] == []


def test_conditions_outside_the_vocabulary_are_unknown():
    dlp = {"options": {"name": "DLP", "extra_parameters": {"MessageContainsDataClassifications": ["@{Name=x}"]},
                       "actions": {"set_scl": 9}}, "facts": {"priority": 0}}
    hidden = {"options": {"name": "Hidden", "actions": {"set_scl": 9}}, "facts": {"priority": 1}}
    result = run([dlp, hidden])
    assert first(result)["applied_rules"] == []
    assert [u["rule"] for u in result["messages"][0]["unknown"]] == ["DLP", "Hidden"]
    assert "MessageContainsDataClassifications" in result["messages"][0]["unknown"][0]["why"]


def test_extra_parameters_of_the_vocabulary_are_evaluated():
    extra = {"options": {"name": "X", "extra_parameters": {"ExceptIfSubjectContainsWords": ["private"],
                                                           "HeaderContainsMessageHeader": "X-A",
                                                           "HeaderContainsWords": ["yes"]},
                         "actions": {"set_scl": 9}}, "facts": {"priority": 0}}
    assert first(run([extra], [message(headers={"X-A": "yes"})]))["applied_rules"] == ["X"]
    assert first(run([extra], [message(headers={"X-A": "yes"}, subject="private")]))["applied_rules"] == []


# --------------------------------------------------------------------------------------------------- order and modes

def test_priority_zero_first_and_stop_rule_processing():
    rules = [rule("Second", 1, actions={"prepend_subject": "[2] "}),
             rule("First", 0, actions={"prepend_subject": "[1] ", "stop_rule_processing": True}),
             rule("Third", 2)]
    result = run(rules)
    answer = first(result)
    assert [r["name"] for r in answer["rules"]] == ["First", "Second", "Third"]
    assert answer["applied_rules"] == ["First"] and answer["stopped_by"] == "First"
    assert [r["status"] for r in answer["rules"]] == ["matched", "not_evaluated", "not_evaluated"]
    assert answer["message_after_rules"]["subject"] == "[1] Hello"


def test_rules_without_priority_keep_their_order():
    result = run([rule("A", None), rule("B", None)])
    assert first(result)["applied_rules"] == ["A", "B"]


def test_later_rules_see_what_earlier_rules_changed():
    rules = [rule("Tag", 0, actions={"set_header": {"name": "X-Tag", "value": "partner"}}),
             rule("Route", 1, conditions_={"header_contains": {"header": "x-tag", "words": ["partner"]}})]
    result = run(rules)
    assert first(result)["applied_rules"] == ["Tag", "Route"]
    assert "later_rules_see_changes" in result["messages"][0]["assumptions"]


def test_audit_modes_change_nothing():
    rules = [rule("Audit", 0, actions={"reject_message": {"reason": "no"}, "stop_rule_processing": True,
                                       "generate_incident_report": {"to": "sec@contoso.com"}}, mode="audit"),
             rule("Notify", 1, actions={"generate_notification": "hi", "redirect_message_to": ["x@contoso.com"]},
                  mode="audit_and_notify"),
             rule("After", 2)]
    answer = first(run(rules))
    assert answer["rejected"] is False and answer["redirected_to"] == []
    assert answer["applied_rules"] == ["After"] and answer["stopped_by"] is None
    audit, notify, after = answer["rules"]
    assert audit["status"] == notify["status"] == "matched" and audit["applied"] is False
    effects = dict((a["action"], a["effect"]) for a in audit["actions"])
    assert effects["reject_message"] == "audit mode: logged, no effect"
    assert effects["generate_incident_report"] == "occurs in Audit mode"
    assert dict((a["action"], a["effect"]) for a in notify["actions"])["generate_notification"] == \
        "occurs in AuditAndNotify mode"
    assert after["applied"] is True


def test_disabled_rules_are_skipped():
    rules = [rule("Off", 0, enabled=False), {"options": {"name": "Off2", "apply_to_all_messages": True,
                                                         "actions": {"set_scl": 1}},
                                             "facts": {"priority": 1, "state": "Disabled"}}, rule("On", 2)]
    answer = first(run(rules))
    assert [r["status"] for r in answer["rules"]] == ["disabled", "disabled", "matched"]
    assert answer["applied_rules"] == ["On"]


@pytest.mark.parametrize("sent,active", [
    ("2026-01-01T07:59:59Z", False), ("2026-01-01T08:00:00Z", True), ("2026-03-01", True),
    ("2026-06-30T23:59:59Z", True), ("2026-07-01T00:00:00Z", False)])
def test_activation_and_expiry_dates(sent, active):
    rules = [rule("Window", 0, activation_date="2026-01-01T08:00:00Z", expiry_date="2026-07-01T00:00:00Z")]
    answer = first(run(rules, [message(sent=sent)]))
    assert answer["applied_rules"] == (["Window"] if active else [])
    if not active:
        assert answer["rules"][0]["status"] == "inactive"


def test_dates_default_to_now():
    rules = [rule("Future", 0, activation_date="2999-01-01")]
    msg = message()
    del msg["sent"]
    assert first(run(rules, [msg]))["rules"][0]["status"] == "inactive"
    assert first(run(rules, [msg], now="2999-01-02T00:00:00Z"))["applied_rules"] == ["Future"]


# --------------------------------------------------------------------------------------------------- actions

def test_reject_with_defaults_and_custom_code():
    default = first(run([rule("Block", 0, actions={"reject_message": {"reason": None}})]))
    assert default["rejected"] is True and default["route"] is None
    assert default["ndr"]["status_code"] == "5.7.1"
    assert default["ndr"]["text"] == "Delivery not authorized, message refused"
    custom = first(run([rule("Block", 0, actions={"reject_message": {"reason": "No", "status_code": "5.7.901"}}),
                        rule("Later", 1)]))
    assert (custom["ndr"]["status_code"], custom["ndr"]["text"]) == ("5.7.901", "No")
    assert custom["rules"][1]["status"] == "not_evaluated"


def test_delete_quarantine_moderate():
    assert first(run([rule("D", 0, actions={"delete_message": True})]))["deleted"] is True
    quarantined = first(run([rule("Q", 0, actions={"quarantine": True}), rule("Later", 1)]))
    assert quarantined["quarantined"] is True and quarantined["rules"][1]["status"] == "not_evaluated"
    moderated = first(run([rule("M", 0, actions={"moderate_message_by_user": ["mark@contoso.com"]})]))
    assert moderated["moderated"] == {"rule": "M", "by": ["mark@contoso.com"]}


def test_redirect_and_added_recipients_are_routed_by_domain():
    out = [outbound("Fab", recipient_domains=["fabrikam.example"], smart_hosts=["mx.fab.example"], use_mx_record=False)]
    answer = first(run([rule("R", 0, actions={"redirect_message_to": ["audit@fabrikam.example"],
                                              "blind_copy_to": ["mark@contoso.com"]})],
                       [message(recipients=["x@adatum.example"])], out=out))
    assert answer["route"] is None
    assert [(r["recipient"], r["route"]["connector"]) for r in answer["redirected_to"]] == [
        ("audit@fabrikam.example", "Fab")]
    assert [(r["recipient"], r["route"]["delivery"]) for r in answer["added_recipients"]] == [
        ("mark@contoso.com", "internal")]


def test_manager_added_as_recipient():
    answer = first(run([rule("M", 0, actions={"add_manager_as_recipient_type": "cc"})]))
    assert [r["recipient"] for r in answer["added_recipients"]] == ["mark@contoso.com"]


# --------------------------------------------------------------------------------------------------- outbound

SCOPED = outbound("Adatum outbound", transport_rule_scoped=True, use_mx_record=False,
                  smart_hosts=["mail.adatum.example"], tls_settings="domain_validation", tls_domain="*.adatum.example")
ROUTE = rule("Adatum - Accounting", 0,
             conditions_={"sender_ad_attribute_contains_words": ["Department:Accounting"],
                          "recipient_domain_is": ["adatum.example"]},
             actions={"route_message_outbound_connector": "Adatum outbound"})


def test_rule_scoped_connector_is_used_only_through_a_rule():
    to_adatum = [message(recipients=["p@adatum.example"]), message(name="sales", sender="sam@contoso.com",
                                                                   recipients=["p@adatum.example"])]
    result = run([ROUTE], to_adatum, out=[SCOPED])
    accounting, sales = (m["recipients"][0] for m in result["messages"])
    assert accounting["route"]["connector"] == "Adatum outbound"
    assert accounting["route"]["smart_hosts"] == ["mail.adatum.example"]
    assert accounting["route"]["tls_settings"] == "domain_validation" and accounting["route"]["tls_required"] is True
    assert sales["route"]["delivery"] == "mx" and sales["route"]["connector"] is None
    # A rule-scoped connector with recipient domains (data the service would refuse) is still not chosen by domain.
    odd = dict(SCOPED, options=dict(SCOPED["options"], recipient_domains=["adatum.example"]))
    sales = run([], [to_adatum[1]], out=[odd])["messages"][0]["recipients"][0]
    assert sales["route"]["delivery"] == "mx"
    assert sales["skipped_connectors"][0]["connector"] == "Adatum outbound"


@pytest.mark.parametrize("recipient,connector", [
    ("x@fabrikam.example", "Exact"), ("x@eu.fabrikam.example", "Sub"), ("x@a.eu.fabrikam.example", "Sub"),
    ("x@mail.fabrikam.example", "Wild"), ("x@adatum.example", "Any"), ("x@notfabrikam.example", "Any")])
def test_domain_scoped_connectors_most_specific_wins(recipient, connector):
    out = [outbound("Any", recipient_domains=["*"]), outbound("Wild", recipient_domains=["*.fabrikam.example"]),
           outbound("Sub", recipient_domains=["*.eu.fabrikam.example"]),
           outbound("Exact", recipient_domains=["fabrikam.example"])]
    result = run([], [message(recipients=[recipient])], out=out)
    assert first(result)["route"]["connector"] == connector
    # The choice among overlapping connectors is the on-premises rule, flagged; a single candidate is not.
    assert ("connector_overlap" in result["messages"][0]["assumptions"]) is (connector != "Any")


def test_equal_address_spaces_lowest_name_wins_and_one_match_is_no_assumption():
    out = [outbound("B", recipient_domains=["fabrikam.example"]), outbound("A", recipient_domains=["fabrikam.example"])]
    assert first(run([], out=out))["route"]["connector"] == "A"
    single = run([], out=out[:1])
    assert first(single)["route"]["connector"] == "B"
    assert "connector_overlap" not in single["messages"][0]["assumptions"]


def test_wildcard_covers_the_domain_itself_and_exact_does_not_cover_subdomains():
    wild = run([], [message(recipients=["x@fabrikam.example"])], out=[outbound("W", recipient_domains=["*.fabrikam.example"])])
    assert first(wild)["route"]["connector"] == "W"
    exact = run([], [message(recipients=["x@eu.fabrikam.example"])], out=[outbound("E", recipient_domains=["fabrikam.example"])])
    assert first(exact)["route"]["delivery"] == "mx"


def test_disabled_connectors_are_not_used():
    out = [outbound("Off", recipient_domains=["fabrikam.example"], enabled=False)]
    answer = first(run([], out=out))
    assert answer["route"]["delivery"] == "mx" and answer["skipped_connectors"] == [{"connector": "Off",
                                                                                     "why": "disabled"}]
    routed = run([rule("R", 0, actions={"route_message_outbound_connector": "Off"})], out=out)
    assert first(routed)["route"]["delivery"] == "mx"
    assert "rule_route_unusable" in routed["messages"][0]["assumptions"]


def test_test_mode_connectors():
    out = [outbound("Trial", recipient_domains=["fabrikam.example"], test_mode=True)]
    ignored = run([], out=out)
    assert first(ignored)["route"]["delivery"] == "mx"
    assert "test_mode_ignored" in ignored["messages"][0]["assumptions"]
    used = run([], out=out, test_mode_connectors="use")
    assert first(used)["route"]["connector"] == "Trial"
    assert "test_mode_used" in used["messages"][0]["assumptions"]


def test_internal_recipients_are_delivered_inside_the_organization():
    out = [outbound("Any", recipient_domains=["*"])]
    assert first(run([], [message(recipients=["mark@contoso.com"])], out=out))["route"]["delivery"] == "internal"


def test_route_require_tls_and_last_route_wins():
    out = [outbound("A", transport_rule_scoped=True), outbound("B", transport_rule_scoped=True)]
    rules = [rule("ToA", 0, actions={"route_message_outbound_connector": "A"}),
             rule("ToB", 1, actions={"route_message_outbound_connector": "B", "route_message_outbound_require_tls": True})]
    result = run(rules, out=out)
    assert first(result)["route"]["connector"] == "B" and first(result)["route"]["tls_required"] is True
    assert "rule_route_last_wins" in result["messages"][0]["assumptions"]
    mx = first(run([rule("Tls", 0, actions={"route_message_outbound_require_tls": True})]))
    assert mx["route"] == dict(mx["route"], delivery="mx", tls_required=True)


# --------------------------------------------------------------------------------------------------- inbound

FROM_FABRIKAM = dict(direction="inbound", sender="billing@fabrikam.example", recipients=["anna@contoso.com"])
BY_IP = inbound("Fabrikam inbound", sender_domains=["fabrikam.example"], sender_ip_addresses=["203.0.113.0/24"],
                restrict_domains_to_ip_addresses=True, require_tls=True)
BY_CERT = inbound("Adatum inbound", sender_domains=["adatum.example", "*.adatum.example"], require_tls=True,
                  tls_sender_certificate_name="*.adatum.example", restrict_domains_to_certificate=True)


def test_inbound_restricted_to_ip_addresses():
    ok = run([], [message(sender_ip="203.0.113.7", tls=True, **FROM_FABRIKAM)], into=[BY_IP])
    attribution = ok["messages"][0]["inbound"]
    assert (attribution["connector"], attribution["by"], attribution["rejected"]) == ("Fabrikam inbound", "sender_ip",
                                                                                      False)
    assert first(ok)["route"]["delivery"] == "internal"
    bad = run([rule("R", 0)], [message(sender_ip="198.51.100.7", tls=True, **FROM_FABRIKAM)], into=[BY_IP])
    attribution = bad["messages"][0]["inbound"]
    assert attribution["rejected"] is True and attribution["ndr"]["status_code"] == "5.7.51"
    assert "observed" in attribution["ndr"]["evidence"]
    assert "observed_5_7_51" in bad["messages"][0]["assumptions"]
    assert first(bad)["rejected"] is True and first(bad)["rules"] == []  # rejected before any rule runs
    assert first(bad)["ndr"]["text"] == "TenantInboundAttribution; Rejecting"


@pytest.mark.parametrize("tls,subject,rejected", [
    (True, "CN=mail.adatum.example, O=Adatum", False), (True, "adatum.example", False),
    (True, "mail.evil.example", True), (False, None, True), (True, None, True)])
def test_inbound_restricted_to_a_certificate(tls, subject, rejected):
    msg = message(direction="inbound", sender="x@eu.adatum.example", recipients=["anna@contoso.com"], tls=tls,
                  certificate_subject=subject)
    if subject is None:
        del msg["certificate_subject"]
    attribution = run([], [msg], into=[BY_CERT])["messages"][0]["inbound"]
    assert attribution["connector"] == "Adatum inbound"
    assert attribution["rejected"] is rejected
    assert attribution["by"] == ("sender_domain" if rejected else "certificate")


def test_inbound_requires_tls_without_restriction():
    plain = inbound("Litware inbound", sender_domains=["litware.example"], require_tls=True)
    msg = message(direction="inbound", sender="x@litware.example", recipients=["anna@contoso.com"], tls=False)
    attribution = run([], [msg], into=[plain])["messages"][0]["inbound"]
    assert attribution["rejected"] is True and attribution["ndr"]["status_code"] is None
    assumed = run([], [dict(msg, tls=None)], into=[plain])
    assert assumed["messages"][0]["inbound"]["rejected"] is False
    assert "tls_not_given" in assumed["messages"][0]["assumptions"]


def test_inbound_without_a_connector_and_relay():
    plain = run([], [message(**FROM_FABRIKAM)], into=[BY_CERT])
    assert plain["messages"][0]["inbound"]["connector"] is None and first(plain)["rejected"] is False
    relay = run([], [message(direction="inbound", sender="x@fabrikam.example", recipients=["y@elsewhere.example"])])
    assert first(relay)["rejected"] is True and first(relay)["ndr"]["status_code"] == "5.4.1"


def test_inbound_disabled_connector_is_not_used():
    off = dict(BY_IP, options=dict(BY_IP["options"], enabled=False))
    result = run([], [message(sender_ip="198.51.100.7", **FROM_FABRIKAM)], into=[off])
    assert result["messages"][0]["inbound"]["rejected"] is False
    assert result["messages"][0]["inbound"]["skipped"] == [{"connector": "Fabrikam inbound", "why": "disabled"}]


def test_inbound_on_premises_connector_makes_mail_internal():
    hybrid = {"options": {"name": "Hybrid", "sender_domains": ["*"], "tls_sender_certificate_name": "mail.contoso.com",
                          "enabled": True}, "facts": {"connector_type": "OnPremises"}}
    msg = message(direction="inbound", sender="anna@contoso.com", recipients=["mark@contoso.com"], tls=True,
                  certificate_subject="mail.contoso.com")
    result = run([rule("Internal", 0, conditions_={"from_scope": "in_organization"})], [msg], into=[hybrid])
    assert result["messages"][0]["inbound"]["connector"] == "Hybrid"
    assert first(result)["applied_rules"] == ["Internal"]


# --------------------------------------------------------------------------------------------------- expectations

def test_expectations_side_by_side():
    msgs = [message(name="acc", recipients=["p@adatum.example"],
                    expect={"connector": "Adatum outbound", "rules": ["Adatum - Accounting"], "rejected": False}),
            message(name="sales", sender="sam@contoso.com", recipients=["p@adatum.example"],
                    expect={"connector": "Adatum outbound", "rules": []})]
    result = run([ROUTE], msgs, out=[SCOPED])
    assert result["messages"][0]["expectation"] == {"met": True, "mismatches": []}
    assert result["messages"][1]["expectation"]["mismatches"] == [
        {"recipient": "p@adatum.example", "field": "connector", "expected": "Adatum outbound", "simulated": "none"}]
    assert failed_expectations(result) == [
        "message 'sales' to p@adatum.example: connector expected 'Adatum outbound', simulated 'none'"]
    assert result["summary"]["expectations"] == {"checked": 2, "met": 1, "failed": 1}


def test_inbound_expectation_is_the_attributed_connector():
    msg = message(sender_ip="203.0.113.7", expect={"connector": "Fabrikam inbound", "rejected": False},
                  **FROM_FABRIKAM)
    assert run([], [msg], into=[BY_IP])["messages"][0]["expectation"]["met"] is True


def test_every_assumption_used_has_a_sentence():
    sources = open(conditions.__file__).read()
    import re
    used = set(re.findall(r'"([a-z_0-9]+)"\)', sources)) & set(ASSUMPTIONS)
    assert used  # the evaluators name assumptions by key
    for key in ASSUMPTIONS:
        assert ASSUMPTIONS[key].endswith("."), key


# --------------------------------------------------------------------------------------------------- input

@pytest.mark.parametrize("bad,words", [
    ({"name": "x", "sender": "nobody", "recipients": ["a@b.example"]}, ["messages[0].sender"]),
    ({"name": "x", "sender": "a@b.example", "recipients": []}, ["messages[0].recipients"]),
    ({"name": "x", "sender": "a@b.example", "recipients": ["a@b.example"], "colour": 1}, ["messages[0].colour"]),
    ({"name": "x", "sender": "a@b.example", "recipients": ["a@b.example"], "sender_attributes": {"Dept": "x"}},
     ["sender_attributes.Dept", "Department"]),
    ({"name": "x", "sender": "a@b.example", "recipients": ["a@b.example"], "sent": "tomorrow"}, ["messages[0].sent"]),
    ({"name": "x", "sender": "a@b.example", "recipients": ["a@b.example"], "tls": False,
      "certificate_subject": "a"}, ["certificate_subject"]),
    ({"name": "x", "sender": "a@b.example", "recipients": ["a@b.example"], "expect": {"route": "x"}},
     ["messages[0].expect.route"]),
    ({"name": "x", "sender": "a@b.example", "recipients": ["a@b.example"], "size": "big"}, ["messages[0].size"]),
])
def test_bad_messages_are_refused_naming_the_field(bad, words):
    with pytest.raises(ConfigurationError) as info:
        run([], [bad])
    for word in words:
        assert word in info.value.msg


def test_message_names_are_unique():
    with pytest.raises(ConfigurationError) as info:
        run([], [message(), message(name="M")])
    assert "messages[1].name" in info.value.msg


def test_values_as_ansible_gives_them():
    result = run([rule("R", 0, conditions_={"scl_over": 5})], [message(scl="7", tls="yes")])
    assert first(result)["applied_rules"] == ["R"]


def test_the_guide_documents_every_condition_and_assumption():
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "..", "..", "docs", "simulation.md")) as handle:
        guide = handle.read()
    for option in conditions.SEMANTICS:
        assert "\n| `%s` |" % option in guide, option
    for key in ASSUMPTIONS:
        assert "\n| `%s` |" % key in guide, key
