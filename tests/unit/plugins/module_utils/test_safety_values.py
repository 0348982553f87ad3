# -*- coding: utf-8 -*-
"""Issue 22, the value and resource floors: values the service would refuse late, store misleadingly or never act
on are refused before any call, with the option and the fix; messages in the options' words; exports without the
service defaults new tenants refuse; a read-only sandbox answers reads (tests/unit/.../test_sandbox.py)."""

from __future__ import absolute_import, division, print_function

import os
from unittest.mock import MagicMock

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils import wire
from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partners as pu
from ansible_collections.m365.mailflow.plugins.module_utils.resources import tenant_view
from ansible_collections.m365.mailflow.plugins.module_utils.resources import transport_rule as rules
from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import OutboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import checks as sandbox_checks
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.binding import CmdletError
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant, SandboxTransport
from ansible_collections.m365.mailflow.plugins.module_utils.validation import failures, service_tree
from tests.unit.plugins.module_utils.test_rules import FakeRulesTenant, NoCalls, options


def refused(params):
    client = Client(NoCalls(), retry_delay=0, sleep=lambda s: None)
    with pytest.raises(ConfigurationError) as err:
        rules.ensure_rule(client, options(**params))
    assert client.calls == []
    return err.value


# --------------------------------------------------------------------------- regular expressions

PYTHON_ONLY = [
    ("(?P<dept>Sales)", "write (?<dept>...)"),
    ("(?<d>x)(?P=d)", "write \\k<d>"),
    ("(?P>x)", "(?<name>...) for a named group"),
    ("(?a)\\w+", "inline flag a"),
    ("(?u:x)", "inline flag u"),
    ("(?iL)x", "inline flag L"),
    ("invoice\\d*+", "write an atomic group instead: (?>X*)"),
    ("a++", "(?>a+)"),
    ("a?+b", "(?>a?)"),
    ("a{2}+", "(?>a{2})"),
    ("a{,3}", "write {0,3} to repeat, or \\{,3} for the text"),
    ("a{,}", "write * to repeat"),
    ("\\N{EURO SIGN}", "(a character by its Unicode name)"),
    ("[\\N{EURO SIGN}]", "(a character by its Unicode name)"),
    ("\\U0001F600", "its two UTF-16 code units \\uD83D\\uDE00"),
    ("\\U000020AC", "write \\u20AC"),
]


@pytest.mark.parametrize("pattern,fix", PYTHON_ONLY, ids=[p for p, _f in PYTHON_ONLY])
def test_python_only_syntax_is_refused_with_what_to_write(pattern, fix):
    error = n.regex_error("conditions.subject_matches_patterns", pattern)
    assert error and error.startswith("conditions.subject_matches_patterns: '%s'" % pattern), error
    assert fix in error and ".NET" in error, error


@pytest.mark.parametrize("pattern", [p for p, _f in PYTHON_ONLY if "{," not in p])
def test_the_sandbox_refuses_what_dotnet_refuses(pattern):
    with pytest.raises(CmdletError) as err:
        sandbox_checks.regex_pattern("SubjectMatchesPatterns", pattern)
    assert "isn't a valid regular expression" in err.value.message


# .NET syntax Python's re refuses with an error the regex_error used to take as certain (dotnet/runtime
# RegexParserTests: "\b*", "abc\A{10}" and "[a-[:lower:]]" parse), and escaped forms that are plain text.
DOTNET_ONLY = ["\\b*", "^*", "\\A{10}", "x$?", "\\k<a>(?<a>x)", "(?(foo)a|b)", "[a-[:lower:]]", "[a-z-[aeiou]]",
               "a\\{,3}", "(?I)x", "(?-i:a)b", "\\^*", "\\\\b*"]


@pytest.mark.parametrize("pattern", DOTNET_ONLY)
def test_dotnet_syntax_python_refuses_is_no_longer_refused(pattern):
    assert n.regex_error("f", pattern) is None
    sandbox_checks.regex_pattern("SubjectMatchesPatterns", pattern)  # the sandbox accepts it too


@pytest.mark.parametrize("pattern,fragment", [
    ("(?<x>a)\\k<y>", "unknown group name 'y'"), ("abc\\", "bad escape (end of pattern)"),
    ("\\x4", "incomplete escape"), ("a**", "multiple repeat"), ("*a", "nothing to repeat"),
])
def test_errors_both_engines_raise_stay_refused(pattern, fragment):
    assert fragment in n.regex_error("f", pattern)


def test_a_python_only_pattern_in_a_rule_is_refused_before_any_call():
    error = refused(dict(name="R", conditions={"subject_matches_patterns": ["(?P<n>inv)oice"]}))
    assert "conditions.subject_matches_patterns" in error.msg and "write (?<n>...)" in error.msg
    assert error.details[0].path == "conditions.subject_matches_patterns" and error.details[0].entry == 0


# --------------------------------------------------------------------------- smart hosts, IP blocks, control characters

@pytest.mark.parametrize("value,host", [("https://mail.x.example/", "mail.x.example"),
                                        ("smtp://Mail.X.example:25/relay", "mail.x.example"),
                                        ("http://198.51.100.7", "198.51.100.7")])
def test_a_smart_host_written_as_a_url_names_the_host_to_write(value, host):
    error = n.smart_host_error("smart_hosts", value)
    assert "is a URL" in error and error.endswith("write %s" % host) and "has a port" not in error, error


@pytest.mark.parametrize("check,field", [(n.ipv4_connector_error, "sender_ip_addresses"),
                                         (n.smart_host_error, "smart_hosts"), (n.ef_skip_ip_error, "ef_skip_ips")])
def test_a_block_with_host_bits_is_refused_with_both_readings(check, field):
    error = check(field, "198.51.100.7/24")
    assert error.startswith("%s: '198.51.100.7/24' has host bits set" % field), error
    assert "Write 198.51.100.0/24 for the whole block, or 198.51.100.7 for the one address" in error
    assert check(field, "198.51.100.0/24") is None and check(field, "198.51.100.7/32") is None
    assert "reserved or private" in check(field, "192.168.0.1/25")  # the stronger reason first


def test_host_bits_of_an_ipv6_skip_entry_too():
    assert "Write 2001:db8::/32" in n.ef_skip_ip_error("ef_skip_ips", "2001:db8::1/32")


def test_connector_specs_refuse_host_bits_before_any_call():
    with pytest.raises(ConfigurationError) as err:
        InboundConnectorSpec().preflight("P in", {"sender_domains": ["p.example"], "sender_ip_addresses": [
            "198.51.100.0/24", "203.0.113.9/28"], "restrict_domains_to_ip_addresses": True})
    problem = err.value.details[0]
    assert (problem.path, problem.entry) == ("sender_ip_addresses", 1) and "203.0.113.0/28" in problem.message


def test_rule_ip_ranges_are_sent_and_stored_as_the_network(tmp_path):
    """The service stores a rule's range as IPRange.ToString(): the network. Accepted, sent in that form, and a
    second run converges."""
    client = Client(SandboxTransport(str(tmp_path / "t.db")), retry_delay=0, sleep=lambda s: None)
    params = dict(name="R", conditions={"sender_ip_ranges": ["198.51.100.7/24", "2001:db8::1/48", "192.0.2.1"]})
    first = rules.ensure_rule(client, options(**params))
    assert first["changed"] and first["rule"]["conditions"]["sender_ip_ranges"] == [
        "198.51.100.0/24", "2001:db8::/48", "192.0.2.1"]
    assert rules.ensure_rule(client, options(**params))["changed"] is False


def test_the_sandbox_stores_a_rule_range_as_the_network(tmp_path):
    tenant = SandboxTenant(str(tmp_path / "t.db"))
    raw = tenant.execute("New-TransportRule", {"Name": "R", "SenderIpRanges": ["198.51.100.7/24"],
                                               "ExceptIfSenderIpRanges": ["203.0.113.5/30"]})
    rule = wire.parse_response(raw, "New-TransportRule").objects[0]
    assert rule["SenderIpRanges"] == ["198.51.100.0/24"] and rule["ExceptIfSenderIpRanges"] == ["203.0.113.4/30"]


@pytest.mark.parametrize("text,code", [("bell\x07", 7), ("nul\x00here", 0), ("esc\x1b[31m", 0x1b), ("del\x7f", 0x7f),
                                       ("c1\x85", 0x85)])
def test_control_characters_in_comments_are_refused(text, code):
    for spec, params in ((InboundConnectorSpec(), {"sender_domains": ["p.example"]}),
                         (OutboundConnectorSpec(), {"recipient_domains": ["p.example"]})):
        with pytest.raises(ConfigurationError) as err:
            spec.preflight("P", dict(params, comment=text))
        assert err.value.details[0].path == "comment"
        assert "control character U+%04X" % code in err.value.details[0].message
    error = refused(dict(name="R", conditions={"subject_contains_words": ["x"]}, comments=text))
    assert error.details[0].path == "comments" and "control character" in error.msg


def test_line_breaks_and_tabs_in_comments_are_kept():
    assert n.control_character_error("comment", "line one\r\nline two\n\tindented") is None
    InboundConnectorSpec().preflight("P", {"sender_domains": ["p.example"], "comment": "a\nb\tc"})


# --------------------------------------------------------------------------- rules that cannot work

def test_an_unknown_extra_parameter_is_refused_with_the_closest_name():
    error = refused(dict(name="R", conditions={"recipient_domain_is": ["a.example"]},
                         extra_parameters={"SetAuditSeverty": "High"}))
    assert error.details[0].path == "extra_parameters.SetAuditSeverty"
    assert "not a parameter of New-TransportRule or Set-TransportRule" in error.msg
    assert "did you mean SetAuditSeverity?" in error.msg


def test_an_option_name_given_as_an_extra_parameter_names_the_option():
    error = refused(dict(name="R", conditions={"recipient_domain_is": ["a.example"]},
                         extra_parameters={"subject_contains_words": ["x"]}))
    assert "it is the module option conditions.subject_contains_words" in error.msg
    assert "such as SubjectContainsWords" in error.msg


def test_every_parameter_the_cmdlets_know_is_a_known_extra_parameter():
    from ansible_collections.m365.mailflow.plugins.module_utils import rule_parameters as table
    for param in list(table.NOT_OPTIONS) + ["SetAuditSeverity", "ExceptIfSubjectMatchesPatterns", "UseLegacyRegex"]:
        assert param.lower() in rules.CMDLET_PARAMETERS


@pytest.mark.parametrize("condition,exception", [
    ({"recipient_domain_is": ["a.example"]}, {"recipient_domain_is": ["A.example.", "b.example"]}),
    ({"from_scope": "not_in_organization"}, {"from_scope": "not_in_organization"}),
    ({"header_contains": {"header": "X-Partner", "words": ["yes"]}},
     {"header_contains": {"header": "x-partner", "words": ["YES", "maybe"]}}),
    ({"sender_ip_ranges": ["198.51.100.0/24"]}, {"sender_ip_ranges": ["198.51.100.7/24"]}),
])
def test_a_condition_its_exception_takes_entirely_is_refused(condition, exception):
    error = refused(dict(name="R", conditions=condition, exceptions=exception))
    key = list(condition)[0]
    problem = error.details[0]
    assert problem.path == "exceptions.%s" % key and problem.related == ("conditions.%s" % key,)
    assert "would never apply" in problem.message


def test_an_exception_that_takes_part_of_a_condition_is_accepted():
    rules.TransportRuleSpec().preflight("R", {"conditions.recipient_domain_is": ["a.example", "b.example"],
                                              "exceptions.recipient_domain_is": ["a.example"]})


def test_routing_mail_sent_inside_the_organization_is_refused():
    error = refused(dict(name="R", conditions={"sent_to_scope": "in_organization"},
                         actions={"route_message_outbound_connector": "Adatum outbound"}))
    problem = error.details[0]
    assert problem.path == "conditions.sent_to_scope" and "never through an outbound connector" in problem.message
    assert "'Adatum outbound'" in problem.message and "not_in_organization" in problem.message


def test_the_rule_as_it_will_stand_is_judged_too():
    """An exception added to a rule whose condition stays as it is (purge_conditions: false): judged on the rule
    merged with the tenant's, before any write."""
    tenant = FakeRulesTenant()
    tenant.add_connector("Adatum outbound")
    client = Client(tenant, retry_delay=0, sleep=lambda s: None)
    base = dict(name="R", conditions={"recipient_domain_is": ["a.example"]},
                actions={"route_message_outbound_connector": "Adatum outbound"})
    assert rules.ensure_rule(client, options(**base))["changed"]
    writes = [c for c, _p in tenant.sent if not c.startswith("Get-")]
    with pytest.raises(ConfigurationError) as err:
        rules.ensure_rule(client, options(name="R", purge_conditions=False, purge_actions=False,
                                          exceptions={"recipient_domain_is": ["a.example"]}))
    assert err.value.details[0].path == "exceptions.recipient_domain_is"
    assert [c for c, _p in tenant.sent if not c.startswith("Get-")] == writes


# --------------------------------------------------------------------------- partner files

def check(*definitions, **kwargs):
    report = pu.Report()
    partners = [pu.Partner(source, {"partner": data}) for source, data in definitions]
    pu.check_definitions(partners, None, report)
    if kwargs.get("tenant") is not None:
        pu.check_tenant_domains(partners, kwargs["tenant"], report)
    return report


def inbound(name, domains, ips=None):
    section = {"sender_domains": domains}
    if ips:
        section.update(sender_ip_addresses=ips, restrict_domains_to_ip_addresses=True)
    return {"name": name, "inbound": section}


def test_sender_ips_of_two_partners_may_not_overlap():
    report = check(("one.yml", inbound("One", ["one.example"], ["198.51.100.0/24", "203.0.113.1"])),
                   ("two.yml", inbound("Two", ["two.example"], ["203.0.113.9", "198.51.100.77"])),
                   ("three.yml", inbound("Three", ["three.example"], ["192.0.2.1", "192.0.2.1/32"])))
    assert report.errors == [
        "two.yml: inbound.sender_ip_addresses[1]: '198.51.100.77' overlaps '198.51.100.0/24', a sender IP address of "
        "partner 'One' (one.yml, inbound.sender_ip_addresses[0]); Exchange Online could not tell the two partners' "
        "mail apart by address. Keep each address in one partner definition"], report.errors


def test_sender_ips_that_overlap_another_connector_of_the_tenant_are_a_warning():
    tenant = {"inbound": [
        {"Name": "Hand inbound", "SenderDomains": ["smtp:hand.example;1"], "SenderIPAddresses": ["198.51.100.0/24"]},
        {"Name": "One inbound", "SenderDomains": ["smtp:one.example;1"], "SenderIPAddresses": ["203.0.113.1"],
         "Comment": "Managed by m365.mailflow partner One"}], "outbound": [], "rules": []}
    report = check(("one.yml", inbound("One", ["one.example"], ["203.0.113.1", "198.51.100.8"])), tenant=tenant)
    assert report.errors == []
    assert report.warnings == [
        "one.yml: inbound.sender_ip_addresses[1]: '198.51.100.8' overlaps '198.51.100.0/24', a sender IP address of "
        "the inbound connector 'Hand inbound' in the tenant (not managed by m365.mailflow); mail from that address "
        "matches both connectors, make sure that is intended"]  # its own connector is not judged


def test_a_subdomain_of_a_tenant_wildcard_is_a_warning_naming_the_connector():
    tenant = {"inbound": [], "rules": [], "outbound": [
        {"Name": "Wild outbound", "RecipientDomains": ["*.x.example"], "Comment": "Managed by m365.mailflow partner W"},
        {"Name": "Mail outbound", "RecipientDomains": ["mail.y.example"]}]}
    report = check(("p.yml", {"name": "P", "outbound": {"recipient_domains": ["mail.x.example", "*.y.example"],
                                                        "validation_recipients": ["it@p.example"]}}), tenant=tenant)
    assert report.errors == []
    assert report.warnings == [
        "p.yml: outbound.recipient_domains[0]: 'mail.x.example' is covered by '*.x.example', a recipient domain of the "
        "outbound connector 'Wild outbound' in the tenant (partner 'W'); the more specific entry wins, make sure that "
        "is intended",
        "p.yml: outbound.recipient_domains[1]: '*.y.example' covers 'mail.y.example', a recipient domain of the "
        "outbound connector 'Mail outbound' in the tenant (not managed by m365.mailflow); that connector keeps it (the "
        "more specific entry wins), make sure that is intended"], report.warnings


def test_rule_checks_are_placed_in_the_partner_file():
    report = check(("p.yml", {"name": "P", "outbound": {"smart_hosts": ["https://mail.p.example/"],
                                                        "transport_rule_scoped": True,
                                                        "validation_recipients": ["it@p.example"]},
                              "rules": [{"name": "Internal", "conditions": {"sent_to_scope": "in_organization"}},
                                        {"name": "Typo", "conditions": {"subject_matches_patterns": ["(?P<a>x)"]},
                                         "extra_parameters": {"SubjectContainsWord": ["x"]}}]}))
    text = "\n".join(report.errors)
    assert "p.yml: outbound.smart_hosts[0]: 'https://mail.p.example/' is a URL" in text
    assert "p.yml: rules[0].conditions.sent_to_scope: in_organization selects mail" in text
    assert "'P outbound'" in text  # the route onboarding sets
    assert "p.yml: rules[1].conditions.subject_matches_patterns[0]: '(?P<a>x)' uses Python's named group" in text
    assert "p.yml: rules[1].extra_parameters.SubjectContainsWord: " in text and "did you mean SubjectContainsWords" in text


# --------------------------------------------------------------------------- exports, fixes

def test_an_export_leaves_out_the_service_defaults_new_tenants_refuse(tmp_path):
    client = Client(SandboxTransport(str(tmp_path / "t.db")), retry_delay=0, sleep=lambda s: None)
    client.invoke("New-OutboundConnector", {"Name": "Default", "ConnectorType": "Partner",
                                            "RecipientDomains": ["d.example"]}, write=True)
    client.invoke("New-OutboundConnector", {"Name": "Strict", "ConnectorType": "Partner", "RecipientDomains": [
        "s.example"], "MtaStsMode": "None", "SmtpDaneMode": "Mandatory"}, write=True)
    found = tenant_view.read_objects(client, gather=(tenant_view.OUTBOUND,))[tenant_view.OUTBOUND]
    assert found[0]["MtaStsMode"] == "Opportunistic" and found[0]["SmtpDaneMode"] == "Opportunistic"
    entries = dict((e["options"]["name"], e["options"]) for e in tenant_view.entries(
        {tenant_view.OUTBOUND: found})[tenant_view.OUTBOUND])
    assert "mta_sts_mode" not in entries["Default"] and "smtp_dane_mode" not in entries["Default"]
    assert entries["Strict"]["mta_sts_mode"] == "none" and entries["Strict"]["smtp_dane_mode"] == "mandatory"
    spec = OutboundConnectorSpec()
    assert spec.changes(spec.desired_state(entries["Default"]), found[0]) == {}  # passed back: no change


CMDLET_WORDS = ("TlsSettings", "EncryptionOnly", "TlsDomain", "SmartHosts", "RecipientDomains", "ValidationRecipients",
                "TlsSenderCertificateName", "the TLS domain")


def test_validation_fixes_use_the_options_words():
    for cls in failures.FAILURE_CLASSES:
        fix = failures.make_failure(cls, "step", "message", host="mail.p.example", ip="198.51.100.7", port=25)["fix"]
        assert not [w for w in CMDLET_WORDS if w in fix], (cls, fix)
    assert "tls_settings: encryption_only" in failures.make_failure("certificate_self_signed", "s", "m")["fix"]
    for _keyword, _cls, fix in service_tree._TASK_NAME_CLASSES:
        assert not [w for w in CMDLET_WORDS if w in fix], fix


# --------------------------------------------------------------------------- partner files that cannot be read

def read_files(tmp_path, *names):
    from ansible_collections.m365.mailflow.plugins.action.partner_definitions import ActionModule
    loader = MagicMock()
    loader.get_real_file.side_effect = lambda path, decrypt=True: path
    task = MagicMock(args={}, async_val=0, check_mode=False, diff=False, action="m365.mailflow.partner_definitions")
    action = ActionModule(task, MagicMock(), MagicMock(), loader=loader, templar=None, shared_loader_obj=None)
    report = pu.Report()
    loaded = action._read_files([("partner_files[%d]" % i, name) for i, name in enumerate(names)],
                                {"search_paths": [str(tmp_path)]}, {}, report)
    return loaded, report.errors


def test_a_file_that_is_not_utf8_names_the_file_the_place_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    (tmp_path / "latin.yml").write_bytes("partner:\n  name: Caf\u00e9\n".encode("cp1252"))
    (tmp_path / "wide.yml").write_bytes("partner:\n  name: Wide\n".encode("utf-16"))
    loaded, errors = read_files(tmp_path, "latin.yml", "wide.yml")
    assert loaded == []
    assert errors[0] == ("latin.yml: is not UTF-8 text: byte 0xe9 at line 2, column 12 is not UTF-8 (the file was "
                         "probably saved as Windows-1252 or Latin-1); a partner file is YAML in UTF-8. Save it as UTF-8 "
                         "(in most editors: Save with Encoding, UTF-8)")
    assert errors[1].startswith("wide.yml: is UTF-16 text (it starts with a UTF-16 byte order mark)")
    assert "codec" not in " ".join(errors)


def test_a_directory_given_as_a_partner_file_says_so_and_lists_its_files(tmp_path, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    folder = tmp_path / "partners"
    folder.mkdir()
    for name in ("b.yml", "a.yml", "notes.txt"):
        (folder / name).write_text("partner: {name: X}\n")
    (tmp_path / "empty").mkdir()
    loaded, errors = read_files(tmp_path, "partners", "empty")
    assert loaded == []
    assert errors == [
        "partner_files[0]: 'partners' is a directory (%s), not a partner file; give the path of each partner file (a "
        ".yml file): it holds a.yml, b.yml: list the ones to onboard, such as %s"
        % (folder, os.path.join("partners", "a.yml")),
        "partner_files[1]: 'empty' is a directory (%s), not a partner file; give the path of each partner file (a "
        ".yml file): it holds no .yml file" % (tmp_path / "empty")]
