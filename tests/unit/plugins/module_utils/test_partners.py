# -*- coding: utf-8 -*-
"""Partner definition checks (module_utils/partners.py) on data, with the partner-file format (partner_format)."""

from __future__ import absolute_import, division, print_function

import copy
import os

import pytest
import yaml

from ansible_collections.m365.mailflow.plugins.module_utils.resources import partners as pu

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


@pytest.fixture(scope="module")
def spec():
    """The partner-file format, from its one source (the roles' argument specs are generated from it)."""
    return pu.definition_options()


def example(name):
    with open(os.path.join(REPO, "examples", "partners", name + ".yml")) as handle:
        return yaml.safe_load(handle)


def check(spec, *definitions, **kwargs):
    report = pu.Report()
    partners = [pu.Partner(source, data) for source, data in definitions]
    pu.check_definitions(partners, spec, report, mode=kwargs.get("mode", "onboard"))
    return report, partners


def errors(spec, *definitions, **kwargs):
    return check(spec, *definitions, **kwargs)[0].errors


def test_the_examples_are_valid_and_come_back_normalised(spec):
    report, partners = check(spec, *[(n + ".yml", example(n)) for n in ("adatum", "fabrikam", "litware")])
    assert report.errors == [] and report.warnings == []
    adatum = partners[0].result()
    assert adatum["source"] == "adatum.yml"
    assert adatum["definition"]["partner"]["rules"][0]["name"] == "Accounting"
    assert "purge_conditions" not in adatum["definition"]["partner"]["rules"][0]  # keys not given stay out
    assert [kind for kind, _n, _f in partners[0].object_names] == ["inbound", "outbound", "rule"]


def test_types_are_converted_as_ansible_users_write_them(spec):
    data = {"partner": {"name": "Conv", "inbound": {"sender_domains": "conv.example, *.conv.example",
                                                    "require_tls": "yes", "enabled": 1},
                        "outbound": {"recipient_domains": ["conv.example"], "validation_recipients": ["a@conv.example"]},
                        "validation": {"probe_timeout": "5", "smtp_port": "2525"}}}
    report, partners = check(spec, ("conv.yml", data))
    assert report.errors == []
    partner = partners[0].data
    assert partner["inbound"] == {"sender_domains": ["conv.example", "*.conv.example"], "require_tls": True,
                                  "enabled": True}
    assert partner["validation"] == {"probe_timeout": 5.0, "smtp_port": 2525}


@pytest.mark.parametrize("raw, expected", [
    (None, "f.yml: empty; it must hold a mapping with the key partner"),
    ([], "f.yml: holds a list of 0 entries; it must hold one mapping"),
    ("hello", "f.yml: holds 'hello' (text), not a partner definition"),
    ({"name": "X"}, "f.yml: has no key partner (its keys are name); it must hold a mapping with the key partner. Put"),
    ({"partner": None}, "f.yml: partner: expected a mapping with the partner's name"),
    ({"partner": {"name": "X", "inbound": {"sender_domains": ["x.example"]}}, "partners": []},
     "f.yml: partners: unknown top-level key"),
    ({"partner": {"name": 42}}, "f.yml: name: expected text, got 42 (a number); quote it in YAML ('42')"),
    ({"partner": {"name": True}}, "f.yml: name: expected text, got true (a boolean)"),
    ({"partner": {"name": ""}}, "f.yml: name: empty; a partner name is 1 to 40 letters"),
    ({"partner": {"name": "Bad/Name"}}, "f.yml: name: 'Bad/Name' is not allowed"),
    ({"partner": {}}, "f.yml: name: missing; it is required"),
    ({"partner": {"name": "X", "inboud": {}}}, "f.yml: inboud: unknown key (did you mean inbound?)"),
    ({"partner": {"name": "X", "inbound": "yes"}}, "f.yml: inbound: expected a mapping (key: value), got 'yes'"),
    ({"partner": {"name": "X", "inbound": {}}}, "f.yml: inbound.sender_domains: missing; it is required"),
    ({"partner": {"name": "X", "inbound": {"sender_domains": ["x.example", None]}}},
     "f.yml: inbound.sender_domains[1]: an empty entry"),
    ({"partner": {"name": "X", "inbound": {"sender_domains": [{"a": 1}]}}},
     "f.yml: inbound.sender_domains[0]: expected text, got a mapping with the keys a"),
    ({"partner": {"name": "X", "outbound": {"recipient_domains": ["x.example"], "tls_settings": "strict"}}},
     "f.yml: outbound.tls_settings: 'strict' (text) is not one of certificate_validation"),
    ({"partner": {"name": "X", "outbound": {"recipient_domains": ["x.example"], "tls_settings": "domain_validaton",
                                            "tls_domain": "x.example"}}},
     "(did you mean domain_validation?)"),
    ({"partner": {"name": "X", "rules": {"name": "r"}}}, "f.yml: rules: expected a list, got a mapping"),
    ({"partner": {"name": "X", "outbound": {"smart_hosts": ["m.x.example"], "validation_recipients": ["a@x.example"]},
                  "rules": [{"name": "r", "priority": "first", "apply_to_all_messages": True}]}},
     "f.yml: rules[0].priority: expected a whole number, got 'first' (text)"),
    ({"partner": {"name": "X", "inbound": {"sender_domains": ["x.example"], "require_tls": "maybe"}}},
     "f.yml: inbound.require_tls: expected true or false, got 'maybe' (text)"),
])
def test_shape_problems_name_the_file_and_the_field(spec, raw, expected):
    found = errors(spec, ("f.yml", raw))
    assert any(expected in e for e in found), found


def adatum_with(**changes):
    data = copy.deepcopy(example("adatum"))
    for path, value in changes.items():
        section, _sep, key = path.rpartition("__")
        target = data["partner"][section] if section else data["partner"]
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return data


@pytest.mark.parametrize("changes, expected", [
    ({"outbound__tls_settings": "certificate_validation"},
     "a.yml: outbound.tls_domain: requires tls_settings: domain_validation (it is certificate_validation)"),
    ({"outbound__tls_domain": None}, "a.yml: outbound.tls_settings: domain_validation requires tls_domain"),
    ({"outbound__recipient_domains": ["adatum.example"]}, "a.yml: outbound.recipient_domains: cannot be combined with rules"),
    ({"outbound__transport_rule_scoped": False}, "a.yml: outbound.transport_rule_scoped: rules route to the outbound"),
    ({"inbound__restrict_domains_to_ip_addresses": True},
     "a.yml: inbound.restrict_domains_to_ip_addresses: requires sender_ip_addresses"),
    ({"inbound__tls_sender_certificate_name": None},
     "a.yml: inbound.restrict_domains_to_certificate: requires tls_sender_certificate_name"),
    ({"inbound__require_tls": False}, "a.yml: inbound.tls_sender_certificate_name: requires require_tls: true"),
    ({"outbound__use_mx_record": True}, "a.yml: outbound.use_mx_record: true cannot be combined with smart_hosts"),
    ({"outbound__validation_recipients": None}, "a.yml: outbound.validation_recipients: validation needs recipients"),
    ({"outbound": None}, "a.yml: rules: rules route messages through the partner's outbound connector"),
    ({"rules": None, "outbound__recipient_domains": None},
     "a.yml: outbound: needs recipient_domains (the partner's domains) or rules that route to it"),
    ({"rules": [{"name": "Everything"}]}, "a.yml: rules[0]: rule 'Everything' has no conditions"),
    ({"rules": [{"name": "A", "apply_to_all_messages": True}, {"name": "a", "apply_to_all_messages": True}]},
     "a.yml: rules[1].name: 'a': two rules have the same name (rules[0] is 'A'"),
    ({"rules": [{"name": "x" * 60, "apply_to_all_messages": True}]},
     "which must be at most 64 characters; shorten the rule name"),
    ({"rules": [{"name": "P", "apply_to_all_messages": True, "priority": 0, "position": "top"}]},
     "a.yml: rules[0]: priority and position are mutually exclusive in one rule"),
    # the modules' own pre-flight, with the list index of the value
    ({"outbound__smart_hosts": ["mail.adatum.example", "mail.adatum.example:587"]},
     "a.yml: outbound.smart_hosts[1]: 'mail.adatum.example:587' has a port; Exchange Online always delivers to smart "
     "hosts on port 25"),
    ({"inbound__sender_domains": ["adatum.example", "mail.*.adatum.example"]},
     "a.yml: inbound.sender_domains[1]: 'mail.*.adatum.example' has a wildcard inside the name"),
    ({"rules": [{"name": "R", "conditions": {"sender_ip_ranges": ["198.51.100.1", "300.1.1.1"]}}]},
     "a.yml: rules[0].conditions.sender_ip_ranges[1]: '300.1.1.1' is not an IP address"),
    ({"rules": [{"name": "R", "conditions": {"sender_ad_attribute_contains_words": ["Shoe:42"]}}]},
     "a.yml: rules[0].conditions.sender_ad_attribute_contains_words[0]: 'Shoe' is not an attribute"),
    ({"rules": [{"name": "R", "apply_to_all_messages": True, "actions": {"route_message_outbound_connector": "x"}}]},
     "a.yml: rules[0].actions.route_message_outbound_connector: onboarding sets the route itself"),
    ({"rules": [{"name": "R", "apply_to_all_messages": True, "activation_date": "2026-05-01",
                 "expiry_date": "2026-04-01"}]},
     "a.yml: rules[0].expiry_date: 2026-04-01T00:00:00Z is not after activation_date 2026-05-01T00:00:00Z"),
])
def test_cross_field_rules_and_module_preflight(spec, changes, expected):
    found = errors(spec, ("a.yml", adatum_with(**changes)))
    assert any(expected in e for e in found), found


def test_a_rule_for_every_message_is_a_documented_shape(spec):
    data = adatum_with(rules=[{"name": "Everything", "apply_to_all_messages": True}])
    assert errors(spec, ("a.yml", data)) == []


def test_one_problem_is_reported_once(spec):
    """A cross-field problem is not repeated by the module's pre-flight message on the same options."""
    found = errors(spec, ("a.yml", adatum_with(inbound__restrict_domains_to_ip_addresses=True,
                                               inbound__sender_ip_addresses=[])))
    assert len([e for e in found if "restrict_domains" in e]) == 2, found  # requires IPs; not both restrictions


def test_every_problem_of_every_partner_at_once(spec):
    litware = example("litware")
    badhost = copy.deepcopy(litware)
    badhost["partner"].update(name="Badhost", inbound={"sender_domains": ["badhost.example"], "require_tls": "maybe"})
    badhost["partner"]["outbound"].update(recipient_domains=["badhost.example"], smart_hosts=["mail.badhost.example:587"])
    badip = copy.deepcopy(example("fabrikam"))
    badip["partner"].update(name="Badip")
    badip["partner"]["inbound"].update(sender_domains=["badip.example"], sender_ip_addresses=["10.1.2.3", "198.51.100.0/16"])
    badip["partner"]["outbound"]["recipient_domains"] = ["badip.example"]
    found = errors(spec, ("litware.yml", litware), ("badhost.yml", badhost), ("badip.yml", badip))
    assert found == [
        "badhost.yml: inbound.require_tls: expected true or false, got 'maybe' (text)",
        "badhost.yml: outbound.smart_hosts[0]: 'mail.badhost.example:587' has a port; Exchange Online always delivers "
        "to smart hosts on port 25 and does not accept ports. Remove ':587'",
        "badip.yml: inbound.sender_ip_addresses[0]: '10.1.2.3' is in the reserved or private range 10.0.0.0/8, which "
        "Exchange Online refuses in a connector; give the partner's public IPv4 address",
        "badip.yml: inbound.sender_ip_addresses[1]: '198.51.100.0/16' is a /16 block; the shortest prefix Exchange "
        "Online accepts is /24. Split it into /24 blocks",
    ]


def small(name, sender=None, recipient=None):
    partner = {"name": name}
    if sender:
        partner["inbound"] = {"sender_domains": sender}
        if "*" in sender:  # any sender domain: only for a partner identified by its certificate (or IP addresses)
            partner["inbound"].update(tls_sender_certificate_name="mail.%s.example" % name.lower(),
                                      restrict_domains_to_certificate=True)
    if recipient:
        partner["outbound"] = {"recipient_domains": recipient, "validation_recipients": ["a@%s" % recipient[0].strip("*.")]}
    return {"partner": partner}


def test_names_and_objects_across_partners(spec):
    found = errors(spec, ("1.yml", small("Dup", ["dup1.example"])), ("2.yml", small("dup", ["dup2.example"])),
                   ("3.yml", {"partner": {"name": "A - B", "outbound": {"validation_recipients": ["a@b.example"]},
                                          "rules": [{"name": "C", "apply_to_all_messages": True}]}}),
                   ("4.yml", {"partner": {"name": "A", "outbound": {"validation_recipients": ["a@b.example"]},
                                          "rules": [{"name": "B - C", "apply_to_all_messages": True}]}}))
    assert found == [
        "2.yml: name: 'dup' is also the name of the partner in 1.yml ('Dup'); partner names are compared without case, "
        "as Exchange Online compares object names, so both would manage the same connectors and rules. Rename one of "
        "them, or remove one of the files",
        "4.yml: rules[0]: mail flow rule 'A - B - C' would also be written for partner 'A - B' (3.yml, rules[0]); "
        "rename one of them",
    ]


def test_shared_domains_are_errors_and_wildcard_overlaps_warnings(spec):
    report, _partners = check(spec, ("1.yml", small("One", ["one.example", "*.wide.example", "*"], ["Shared.example"])),
                              ("2.yml", small("Two", ["smtp:ONE.example;1", "mail.wide.example", "*"],
                                              ["shared.example."])))
    assert report.errors == [
        "2.yml: inbound.sender_domains[0]: 'one.example' is also a sender domain of partner 'One' (1.yml, "
        "inbound.sender_domains[0]); Exchange Online could not tell the two partners' mail apart (one connector's "
        "restrictions would reject the other partner's mail). Keep each sender domain in one partner definition",
        "2.yml: outbound.recipient_domains[0]: 'shared.example' is also a recipient domain of partner 'One' (1.yml, "
        "outbound.recipient_domains[0]); mail to it would match two outbound connectors and go through either. Keep "
        "each recipient domain in one partner definition",
    ]
    assert report.warnings == [
        "2.yml: inbound.sender_domains[1]: 'mail.wide.example' is covered by '*.wide.example', a sender domain of "
        "partner 'One' (1.yml); the more specific entry wins, make sure that is intended",
    ]


def test_offboarding_does_not_judge_domains(spec):
    assert errors(spec, ("1.yml", small("One", ["x.example"])), ("2.yml", small("Two", ["x.example"])),
                  mode="offboard") == []


@pytest.mark.parametrize("comment, name, expected", [
    ("Managed by m365.mailflow partner Adatum", "Adatum", True),
    ("Managed by m365.mailflow partner Adatum. Payroll files", "adatum", True),
    ("Managed by m365.mailflow partner Adatum Corp", "Adatum", False),
    ("Managed by m365.mailflow partner Ada. x", "Adatum", False),
    ("Managed by m365.mailflow partner Adatum", "Ada", False),
    ("Managed by m365.mailflow partner Adatum Inc.. x", "Adatum Inc.", True),
    ("made by hand", "Adatum", False),
    (None, "Adatum", False),
])
def test_marker(comment, name, expected):
    assert pu.carries_marker(comment, name) is expected


def tenant_of(*objects):
    tenant = {"inbound": [], "outbound": [], "rules": []}
    for kind, obj in objects:
        tenant[kind].append(obj)
    return tenant


def test_tenant_checks_for_onboarding(spec):
    report, partners = check(spec, ("l.yml", example("litware")), ("f.yml", example("fabrikam")),
                             ("a.yml", example("adatum")))
    assert report.errors == []
    tenant = tenant_of(
        ("inbound", {"Name": "litware INBOUND", "Comment": "made by hand", "ConnectorType": "Partner"}),
        ("outbound", {"Name": "Litware outbound", "Comment": pu.MARKER_PREFIX + "Litware", "ConnectorType": "Partner",
                      "RecipientDomains": ["litware.example"], "TlsSettings": "EncryptionOnly"}),
        ("outbound", {"Name": "Fabrikam outbound", "Comment": pu.MARKER_PREFIX + "Fabrikam",
                      "ConnectorType": "OnPremises", "RecipientDomains": ["fabrikam.example"]}),
        ("inbound", {"Name": "Old Fabrikam", "SenderDomains": ["smtp:fabrikam.example;1"], "ConnectorType": "Partner",
                     "Comment": pu.MARKER_PREFIX + "Old Fabrikam"}),
        ("rules", {"Name": "Adatum - Accounting", "Comments": pu.MARKER_PREFIX + "Adatum Corp"}),
    )
    pu.check_tenant(partners, tenant, report)
    assert report.errors == [
        "l.yml: inbound: inbound connector 'litware INBOUND' already exists in the tenant without the marker 'Managed by "
        "m365.mailflow partner Litware' (its comment is 'made by hand'), so partner_onboarding did not create it for "
        "this partner and would take it over. Remove or rename it, or adopt it: -e partner_adopt=true for the run, or "
        "adopt: true in the partner definition",
        "f.yml: outbound: outbound connector 'Fabrikam outbound' exists but is of type OnPremises; "
        "partner_outbound_connector only manages Partner connectors. Choose another name, or remove that connector "
        "yourself.",
        "a.yml: rules[0]: mail flow rule 'Adatum - Accounting' already exists in the tenant without the marker 'Managed "
        "by m365.mailflow partner Adatum' (it carries the marker of partner 'Adatum Corp'), so partner_onboarding did "
        "not create it for this partner and would take it over. Remove or rename it, or adopt it: -e "
        "partner_adopt=true for the run, or adopt: true in the partner definition",
        "f.yml: inbound.sender_domains[0]: 'fabrikam.example' is already a sender domain of the inbound connector 'Old "
        "Fabrikam' in the tenant (partner 'Old Fabrikam'); Exchange Online could not tell the two partners' mail apart "
        "(one connector's restrictions would reject the other partner's mail). Offboard or change that connector first",
    ]
    adopted = pu.Report()
    pu.check_tenant(partners[:1], tenant, adopted, adopt=True)
    assert adopted.errors == []
    assert adopted.warnings[0].startswith("l.yml: inbound: adopting the existing inbound connector 'litware INBOUND'")


def test_tenant_checks_for_offboarding(spec):
    report, partners = check(spec, ("l.yml", example("litware")), ("a.yml", example("adatum")), mode="offboard")
    tenant = tenant_of(
        ("inbound", {"Name": "Litware inbound", "Comment": "made by hand"}),
        ("outbound", {"Name": "Adatum outbound", "Comment": pu.MARKER_PREFIX + "Adatum"}),
        ("rules", {"Name": "Adatum - Accounting", "Comments": pu.MARKER_PREFIX + "Adatum",
                   "RouteMessageOutboundConnector": "Adatum outbound"}),
        ("rules", {"Name": "Legacy route", "Comments": None, "RouteMessageOutboundConnector": "adatum OUTBOUND"}),
    )
    pu.check_tenant(partners, tenant, report, mode="offboard")
    assert report.errors == [
        "l.yml: inbound: refusing to offboard Litware, nothing was removed: inbound connector 'Litware inbound' was not "
        "created by partner_onboarding for this partner (its comment lacks 'Managed by m365.mailflow partner Litware'; "
        "its comment is 'made by hand'). Remove it by hand, or set partner_offboarding_force: true to remove it anyway",
        "a.yml: outbound: refusing to offboard Adatum, nothing was removed: mail flow rules that the partner definition "
        "does not name route to 'Adatum outbound': 'Legacy route'; remove them or point them at another connector first",
    ]
    forced = pu.Report()
    pu.check_tenant(partners[:1], tenant, forced, mode="offboard", force=True)
    assert forced.errors == []


@pytest.mark.parametrize("value, expected", [
    (True, True), ("yes", True), ("True", True), ("1", True), (1, True), ("on", True),
    (False, False), ("no", False), ("0", False), ("false", False), (0, False),
    ("maybe", None), ([], None), ({}, None), (2, None),
])
def test_to_bool(value, expected):
    assert pu.to_bool(value) is expected


def test_secret_values_are_never_shown():
    report = pu.Report()
    spec = {"client_secret": {"type": "str", "no_log": True}}
    pu.check_options({"client_secret": ["s3cret"]}, spec, "mailflow_connection", report, "")
    assert report.errors == ["mailflow_connection.client_secret: expected text, got a value of another type"]


def test_linear_checks_for_many_partners(spec):
    """The checks of a thousand partners are a few dictionary look-ups each (the benchmark measures the time)."""
    definitions = [("p%d.yml" % i, small("Partner %d" % i, ["p%d.example" % i], ["p%d.example" % i]))
                   for i in range(1000)]
    report, partners = check(spec, *definitions)
    assert report.errors == [] and len(partners) == 1000


class FakeClient(object):
    """Answers Get-* from lists and records the calls."""

    def __init__(self, **objects):
        self.objects = objects
        self.calls = []
        self.warnings = []

    def invoke(self, cmdlet, parameters=None, write=False, verify=None):
        assert not write
        self.calls.append({"cmdlet": cmdlet, "parameters": dict(parameters or {})})
        test_mode = (parameters or {}).get("IncludeTestModeConnectors")
        if cmdlet == "Get-OutboundConnector":
            return [o for o in self.objects.get("outbound", []) if bool(o.get("TestMode")) == bool(test_mode)]
        return list(self.objects.get({"Get-InboundConnector": "inbound", "Get-TransportRule": "rules"}[cmdlet], []))


def test_read_tenant_reads_everything_in_four_calls():
    client = FakeClient(inbound=[{"Name": "A inbound"}],
                        outbound=[{"Name": "A outbound", "Guid": "1"}, {"Name": "T outbound", "Guid": "2", "TestMode": True}],
                        rules=[{"Name": "A - r", "Comments": "c", "Conditions": ["x"], "RouteMessageOutboundConnector": "A outbound"}])
    tenant = pu.read_tenant(client)
    assert sorted(o["Name"] for o in tenant["outbound"]) == ["A outbound", "T outbound"]  # test-mode ones too
    assert tenant["rules"][0]["Comments"] == "c" and "Conditions" not in tenant["rules"][0]
    assert tenant["calls"] == 4
    # Get-* returns 1000 objects by default: a tenant with more connectors or rules must be read in full.
    assert all(call["parameters"].get("ResultSize") == "Unlimited" for call in client.calls), client.calls
