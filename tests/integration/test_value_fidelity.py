# -*- coding: utf-8 -*-
"""Values as the service stores them, end to end against the sandbox tenant and the HTTPS emulator: recipients read
back as primary SMTP addresses, exact text, sizes in extra_parameters, values in other forms (trailing dots,
duplicates), and input the service refuses (names with white space, bad patterns, private EFSkipIPs)."""

from __future__ import absolute_import, division, print_function

from tests.support.calls import writes

RULE = "m365.mailflow.mail_flow_rule"
INBOUND = "m365.mailflow.partner_inbound_connector"
OUTBOUND = "m365.mailflow.partner_outbound_connector"

# Recipients of the sandbox's seeded directory, by display name, alias and group name.
RECIPIENT_RULE = {
    "name": "Accounting to partners",
    "conditions": {"from": ["Alice Adams"], "sent_to": ["bob"], "from_member_of": ["Accounting Team"]},
    "actions": {"prepend_subject": "EXTERNAL: ", "copy_to": ["alice.adams@contoso.com"]},
    "extra_parameters": {"AttachmentSizeOver": "10MB"},
}


def test_recipients_text_and_sizes_converge_and_rerun_without_a_write(target):
    created = target.task(RULE, RECIPIENT_RULE)
    assert created.get("changed") is True and not created.get("failed"), created
    rule = created["rule"]
    assert rule["conditions"]["from"] == ["alice@contoso.com"] and rule["conditions"]["sent_to"] == ["bob@contoso.com"]
    assert rule["conditions"]["from_member_of"] == ["accounting@contoso.com"]
    assert rule["actions"]["copy_to"] == ["alice@contoso.com"] and rule["actions"]["prepend_subject"] == "EXTERNAL: "
    assert rule["extra_parameters"] == {"AttachmentSizeOver": "10 MB (10,485,760 bytes)"}

    # the same task again: no change, no write; one read of the rules and one per distinct recipient value
    target.reset_calls()
    again = target.task(RULE, RECIPIENT_RULE)
    assert again["changed"] is False and again["commands"] == [], again.get("changed_properties")
    if target.emulator:
        assert target.calls()["cmdlets"] == {"Get-TransportRule": 1, "Get-Recipient": 4}, target.calls()["cmdlets"]

    # a change of only the trailing space of the subject prefix is seen, sent exactly, and converges
    target.reset_calls()
    trimmed = dict(RECIPIENT_RULE, actions=dict(RECIPIENT_RULE["actions"], prepend_subject="EXTERNAL:"))
    run = target.run((RULE, trimmed), (RULE, trimmed))
    changed, after = run.results
    assert changed["changed"] is True and changed["changed_properties"] == ["actions.prepend_subject"], changed
    assert changed["commands"][0]["parameters"]["PrependSubject"] == "EXTERNAL:"
    assert changed["rule"]["actions"]["prepend_subject"] == "EXTERNAL:"
    assert after["changed"] is False, after.get("changed_properties")
    if target.emulator:
        assert writes(target.calls()) == {"Set-TransportRule": 1}


def test_unknown_recipient_fails_naming_the_option_with_no_write(target):
    bad = dict(RECIPIENT_RULE, conditions=dict(RECIPIENT_RULE["conditions"], from_member_of=["Acounting Team"]))
    result = target.task(RULE, bad)
    assert result.get("failed") is True, result
    assert "conditions.from_member_of: there is no recipient 'Acounting Team'" in result["msg"], result["msg"]
    assert "Traceback" not in result.get("module_stderr", "")
    if target.emulator:
        assert writes(target.calls()) == {} and "Get-TransportRule" not in target.calls()["cmdlets"]
    assert target.execute("Get-TransportRule", {}) == []


def test_values_in_other_forms_converge_on_the_first_run(target):
    outbound = {"name": "Dots outbound", "transport_rule_scoped": True, "tls_settings": "domain_validation",
                "tls_domain": "mail.td.example.", "smart_hosts": ["mail.td.example.", "MAIL.td.example", "mail.td.example"]}
    inbound = {"name": "Dots inbound", "sender_domains": ["adatum.com", "ADATUM.com", "smtp:adatum.com.;1"],
               "sender_ip_addresses": ["198.51.100.1", "198.51.100.1/32"], "restrict_domains_to_ip_addresses": True,
               "trusted_organizations": ["fabrikam.example.", "Fabrikam.Example"]}
    rule = {"name": "Dots rule", "conditions": {"recipient_domain_is": ["adatum.example.", "ADATUM.example"],
                                                "sender_ip_ranges": ["198.51.100.1", "198.51.100.1/32"]},
            "actions": {"set_header": {"name": "X-Dots", "value": "1"}}}
    first = target.run((OUTBOUND, outbound), (INBOUND, inbound), (RULE, rule))
    made_out, made_in, made_rule = first.results
    assert all(r.get("changed") is True and not r.get("failed") for r in first.results), first.results
    assert made_out["commands"][0]["parameters"]["SmartHosts"] == ["mail.td.example"]
    assert made_out["commands"][0]["parameters"]["TlsDomain"] == "mail.td.example"
    assert made_in["commands"][0]["parameters"]["SenderDomains"] == ["adatum.com"]
    assert made_in["commands"][0]["parameters"]["SenderIPAddresses"] == ["198.51.100.1"]
    assert made_in["commands"][0]["parameters"]["TrustedOrganizations"] == ["fabrikam.example"]
    assert made_rule["commands"][0]["parameters"]["RecipientDomainIs"] == ["adatum.example"]
    assert made_rule["commands"][0]["parameters"]["SenderIpRanges"] == ["198.51.100.1"]
    target.reset_calls()
    second = target.run((OUTBOUND, outbound), (INBOUND, inbound), (RULE, rule))
    assert [r["changed"] for r in second.results] == [False, False, False], [r.get("changed_properties")
                                                                             for r in second.results]
    if target.emulator:
        assert writes(target.calls()) == {}


def test_input_the_service_refuses_is_refused_before_any_call(emulator_target):
    base = {"conditions": {"recipient_domain_is": ["adatum.example"]}, "actions": {"prepend_subject": "[A] "}}
    run = emulator_target.run(
        (RULE, dict(base, name="Tag partner ")),
        (RULE, {"name": " Tag partner", "state": "absent"}),
        (RULE, dict(base, name="Patterns", conditions={"sender_ad_attribute_matches_patterns": ["Title:(Head"]})),
        (RULE, dict(base, name="Words", conditions={"subject_contains_words": ["invoice", ""]})),
        (RULE, dict(base, name="Size", extra_parameters={"AttachmentSizeOver": "10 XB"})),
        (INBOUND, {"name": "Adatum ", "sender_domains": ["adatum.com"]}),
        (INBOUND, {"name": "Adatum", "sender_domains": ["smtp:adatum.com;0"]}),
        (INBOUND, {"name": "Adatum", "sender_domains": ["adatum.com"], "ef_skip_ips": ["192.168.10.0/24"]}),
        (OUTBOUND, {"name": " Adatum out", "transport_rule_scoped": True, "smart_hosts": ["mail.adatum.example"]}),
    )
    fragments = [
        "name: 'Tag partner ' begins or ends with white space",
        "name: ' Tag partner' begins or ends with white space",
        "conditions.sender_ad_attribute_matches_patterns: '(Head' is not a valid regular expression",
        "conditions.subject_contains_words: an empty word",
        "extra_parameters.AttachmentSizeOver: '10 XB' is not a size",
        "name: 'Adatum ' begins or ends with white space",
        "sender_domains: 'smtp:adatum.com;0' has the cost 0",
        "ef_skip_ips: '192.168.10.0/24' is in the reserved or private range",
        "name: ' Adatum out' begins or ends with white space",
    ]
    assert len(run.results) == len(fragments), run.stdout + run.stderr
    for result, fragment in zip(run.results, fragments):
        assert result.get("failed") is True and fragment in result["msg"], (fragment, result.get("msg"))
        assert "Traceback" not in result.get("module_stderr", "")
    calls = emulator_target.calls()
    assert calls["cmdlets"] == {} and calls["tokens"] == 0, calls
