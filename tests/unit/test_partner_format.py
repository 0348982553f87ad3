# -*- coding: utf-8 -*-
"""The partner-file format is one spec (partner_format.partner_options), built from the per-object modules' own
argument specs; every documented copy of it is generated from it and checked here."""

from __future__ import absolute_import, division, print_function

import copy
import importlib.util
import os

from ansible_collections.m365.mailflow.plugins.module_utils.resources import inbound_connector, outbound_connector
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format as pf
from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def generator():
    spec = importlib.util.spec_from_file_location("partner_format_docs",
                                                  os.path.join(REPO, "hacking", "partner_format_docs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shape(spec):
    """An argument spec without defaults and descriptions: names, types, elements, choices, nesting."""
    out = {}
    for name, entry in spec.items():
        item = dict((k, v) for k, v in entry.items() if k in ("type", "elements", "choices"))
        if entry.get("options"):
            item["options"] = _shape(entry["options"])
        out[name] = item
    return out


def test_every_option_of_the_per_object_modules_is_in_the_format():
    partner = pf.partner_options()
    inbound = dict(inbound_connector.argument_spec())
    outbound = dict(outbound_connector.argument_spec())
    rule = copy.deepcopy(rule_vocabulary.argument_spec())
    for spec in (inbound, outbound, rule):
        spec.pop("state")
    inbound.pop("name")
    outbound.pop("name")
    rule["actions"]["options"].pop("route_message_outbound_connector")  # onboarding sets the route itself
    assert _shape(partner["inbound"]["options"]) == _shape(inbound)
    assert _shape(partner["outbound"]["options"]) == _shape(outbound)
    assert _shape(partner["rules"]["options"]) == _shape(rule)
    # the rule vocabulary, whole: 52 conditions and exceptions keys, every action, the rule properties
    assert len(partner["rules"]["options"]["conditions"]["options"]) == len(rule["conditions"]["options"]) >= 50
    assert "attachment_size_over" in partner["rules"]["options"]["conditions"]["options"]
    assert set(partner) == {"name", "description", "adopt", "inbound", "outbound", "rules", "validation", "expect", "accept"}


def test_the_documented_copies_are_generated_from_the_format():
    docs = generator()
    stale = []
    for path, make in docs.COPIES:
        with open(path) as handle:
            if handle.read() != make():
                stale.append(os.path.relpath(path, REPO))
    assert not stale, "out of date, run hacking/partner_format_docs.py: %s" % stale


def test_the_module_argument_spec_is_the_format():
    """The partners module's ``partners`` option is the format itself (so its DOCUMENTATION, generated from the
    format, is what ansible-test's validate-modules compares with)."""
    source = open(os.path.join(REPO, "plugins", "modules", "partners.py")).read()
    assert "options=partner_format.partner_options()" in source
    documented = generator().documented("partners[]")
    assert set(documented) == set(pf.partner_options())
    assert set(documented["rules"]["suboptions"]["conditions"]["suboptions"]) == set(
        pf.partner_options()["rules"]["options"]["conditions"]["options"])


def test_object_names_and_parameters_come_from_one_place():
    data = {"name": "Adatum", "inbound": {"sender_domains": ["adatum.example"]},
            "outbound": {"smart_hosts": ["mail.adatum.example"]},
            "rules": [{"name": "Accounting", "conditions": {"recipient_domain_is": ["adatum.example"]},
                       "attachment_size_over": None, "extra_parameters": {"SetAuditSeverity": "Low"}}]}
    assert pf.object_names(data) == [("inbound", "Adatum inbound", "inbound"), ("outbound", "Adatum outbound", "outbound"),
                                     ("rule", "Adatum - Accounting", "rules[0]")]
    inbound = pf.inbound_parameters(data)
    assert inbound["comment"] == "Managed by m365.mailflow partner Adatum" and inbound["require_tls"] is True
    assert inbound["enabled"] is True  # a partner's connector is enabled unless the file says otherwise
    outbound = pf.outbound_parameters(data)
    assert outbound["transport_rule_scoped"] is True and outbound["tls_settings"] == "certificate_validation"
    rule = pf.rule_parameters(data, data["rules"][0])
    assert rule["name"] == "Adatum - Accounting" and rule["actions"]["route_message_outbound_connector"] == "Adatum outbound"
    assert rule["enabled"] is True and rule["mode"] == "enforce"
    assert rule["extra_parameters"] == {"SetAuditSeverity": "Low"}
    assert "use_legacy_regex" in rule  # the rule properties reach the rule too
    assert pf.carries_marker("Managed by m365.mailflow partner Adatum. payroll", "Adatum")
    assert not pf.carries_marker("Managed by m365.mailflow partner Adatum Corp", "Adatum")
    assert pf.managed_by("Managed by m365.mailflow partner Adatum. payroll") == "Adatum"
