# -*- coding: utf-8 -*-
"""Unicode domain and host names: the one normaliser (values.idna_name) and the places that use it."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import InvalidParameterError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partners as pu
from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary as vocabulary
from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import OutboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
from tests.support.sandbox_calls import fails, objs

BUECHER = u"b\u00fccher.example"  # bücher.example
ALABEL = "xn--bcher-kva.example"


# --------------------------------------------------------------------------- the normaliser

@pytest.mark.parametrize("value,expected", [
    (BUECHER, ALABEL),
    (u"B\u00dcCHER.Example", ALABEL),  # upper case Unicode: case folded (UTS #46)
    (u"  " + BUECHER + u"  ", ALABEL),
    (u"*.b\u00fccher.example", "*." + ALABEL),  # wildcard kept
    (u"mail.b\u00fccher.example.", "mail." + ALABEL + "."),  # the trailing dot is left to the checks
    (u"b\u00fccher\u3002example", ALABEL),  # ideographic full stop is a dot
    (u"\u65e5\u672c.example", "xn--wgv71a.example"),
    ("*", "*"),
    (ALABEL, ALABEL),  # already an A-label: unchanged
    ("Mail.Contoso.COM", "Mail.Contoso.COM"),  # ASCII: as written
])
def test_idna_name(value, expected):
    assert n.idna_name(value) == expected


@pytest.mark.parametrize("value", [BUECHER, u"B\u00dcCHER.EXAMPLE.", ALABEL, "XN--BCHER-KVA.example", u" b\u00fccher.example "])
def test_unicode_and_a_label_compare_equal_and_send_the_a_label(value):
    assert n.domain_key(value) == ALABEL
    assert n.domain_text(value).lower() == ALABEL
    assert n.domain_error("recipient_domains", value) is None


def test_address_spaces_smart_hosts_and_addresses():
    assert n.address_space_key(u"smtp:B\u00fccher.example;5") == ALABEL + ";5"
    assert n.address_space_text(u"smtp:b\u00fccher.example.;5") == "smtp:%s;5" % ALABEL
    assert n.address_space_text(u"*.b\u00fccher.example") == "*." + ALABEL
    assert n.address_space_display("smtp:%s;1" % ALABEL) == ALABEL
    assert n.sender_domain_error("sender_domains", u"*.b\u00fccher.example") is None
    assert n.smart_host_key(u"MAIL.b\u00fccher.example.") == "mail." + ALABEL
    assert n.domain_text(u"mail.b\u00fccher.example.") == "mail." + ALABEL
    assert n.smart_host_error("smart_hosts", u"mail.b\u00fccher.example") is None
    assert n.address_text(u" Anna@B\u00fccher.example ") == "Anna@" + ALABEL
    assert n.address_key(u"anna@b\u00fccher.example") == n.address_key("ANNA@" + ALABEL.upper())
    assert n.email_error("ef_users", u"anna@b\u00fccher.example") is None
    assert n.smtp_address(u"Anna <anna@b\u00fccher.example>") == "anna@" + ALABEL


@pytest.mark.parametrize("value,fragments", [
    (u"b\u00fc cher.example", ["Codepoint U+0020", "A-label", "xn--"]),
    (u"a" * 60 + u"\u00fc.example", ["at most 63", "xn--aaa"]),
    (u"-b\u00fccher.example", ["hyphen"]),
    (u"b\u00fccher.\u200d.example", ["U+200D"]),
])
def test_invalid_unicode_names_name_the_option_and_the_fix(value, fragments):
    error = n.domain_error("outbound.recipient_domains", value, allow_star=True)
    assert error.startswith("outbound.recipient_domains: '%s' is not a domain name that can be converted" % value)
    assert "give its A-label form" in error
    for fragment in fragments:
        assert fragment in error, error
    assert n.sender_domain_error("sender_domains", u"smtp:%s;1" % value).startswith("sender_domains:")
    assert n.smart_host_error("smart_hosts", value).startswith("smart_hosts:")
    assert n.email_error("validation_recipients", u"a@%s" % value).startswith("validation_recipients:")


def test_messages_show_both_forms():
    assert n.idna_shown(BUECHER) == u"'%s' (%s)" % (BUECHER, ALABEL)
    assert n.idna_shown("contoso.com") == "'contoso.com'"
    error = n.domain_error("sender_domain_is", u"b\u00fccher")  # one label: not a domain, after conversion too
    assert error == u"sender_domain_is: 'b\u00fccher' (xn--bcher-kva) is not a valid domain name (expected something " \
                    u"like contoso.com)"
    assert u"'*.b\u00fccher.example' (*.%s) has a wildcard" % ALABEL in n.domain_error(
        "tls_domain", u"*.b\u00fccher.example", allow_subdomain_wildcard=False)


def test_length_is_judged_after_conversion():
    label = u"".join(chr(0x4e00 + i * 997) for i in range(18))  # 18 CJK letters: a 58-character A-label
    name = ".".join([label] * 6) + ".example"  # 121 characters as written, 362 as A-labels
    assert len(name) < 253
    error = n.domain_error("recipient_domains", name)
    assert "longer than 253 characters in its A-label form" in error


def test_builtin_codec_fallback_when_idna_is_missing(monkeypatch):
    monkeypatch.setattr(n, "_idna", None)
    assert n.idna_name(u"B\u00fccher.example") == ALABEL
    assert n.domain_key(u"*.b\u00fccher.example.") == "*." + ALABEL
    assert "at most 63" not in (n.domain_error("recipient_domains", u"a" * 70 + u"\u00fc.example") or "x")
    assert "longer than 63 characters" in n.domain_error("recipient_domains", u"a" * 70 + u"\u00fc.example")


# --------------------------------------------------------------------------- the fields that use it

def _field(spec, option):
    return [f for f in spec.fields if f.option == option][0]


@pytest.mark.parametrize("spec,option,written,stored", [
    (InboundConnectorSpec, "sender_domains", [u"b\u00fccher.example", u"*.B\u00fccher.example"],
     ["smtp:%s;1" % ALABEL, "smtp:*.%s;1" % ALABEL]),
    (InboundConnectorSpec, "tls_sender_certificate_name", u"mail.b\u00fccher.example", "mail." + ALABEL),
    (InboundConnectorSpec, "ef_users", [u"anna@b\u00fccher.example"], ["anna@" + ALABEL]),
    (OutboundConnectorSpec, "recipient_domains", [u"b\u00fccher.example", "*"], [ALABEL, "*"]),
    (OutboundConnectorSpec, "smart_hosts", [u"mx.b\u00fccher.example.", "198.51.100.7"], ["mx." + ALABEL, "198.51.100.7"]),
    (OutboundConnectorSpec, "tls_domain", u"*.b\u00fccher.example", "*." + ALABEL),
    (OutboundConnectorSpec, "validation_recipients", [u"anna@b\u00fccher.example"], ["anna@" + ALABEL]),
])
def test_connector_fields_send_the_a_label_and_match_the_read_back(spec, option, written, stored):
    field = _field(spec, option)
    assert [e for e in field.errors(written) if e] == []
    sent = field.to_params(written)[field.param]
    assert sent == ([s.replace("smtp:", "").replace(";1", "") for s in stored] if option == "sender_domains"
                    else stored)
    current = field.current({field.read: stored})
    assert not field.differs(written, current)  # the second run is a no-op


def test_rule_domain_conditions_send_the_a_label():
    for path in ("conditions.sender_domain_is", "conditions.recipient_domain_is", "exceptions.sender_domain_is",
                 "exceptions.recipient_domain_is"):
        field = vocabulary.BY_PATH[path]
        value = [u"b\u00fccher.example", ALABEL]
        assert field.to_params(value)[field.param] == [ALABEL]
        assert not field.differs(value, field.current({field.read: [ALABEL]}))
        error = [e for e in field.errors([u"b\u00fc cher.example"]) if e][0]
        assert error.startswith(field.path + u": 'b\u00fc cher.example' is not a domain name"), error


# --------------------------------------------------------------------------- partner definitions

@pytest.fixture(scope="module")
def spec():
    return pu.definition_options()


def test_partner_domains_compare_as_a_labels_and_messages_show_both_forms(spec):
    one = {"partner": {"name": "One", "inbound": {"sender_domains": [ALABEL]}}}
    two = {"partner": {"name": "Two", "inbound": {"sender_domains": [u"B\u00fccher.example"]}}}
    report = pu.Report()
    pu.check_definitions([pu.Partner("1.yml", one), pu.Partner("2.yml", two)], spec, report)
    assert report.errors == [
        u"2.yml: inbound.sender_domains[0]: 'B\u00fccher.example' (%s) is also a sender domain of partner 'One' "
        u"(1.yml, inbound.sender_domains[0]); Exchange Online could not tell the two partners' mail apart (one "
        u"connector's restrictions would reject the other partner's mail). Keep each sender domain in one partner "
        u"definition" % ALABEL]


def test_partner_invalid_unicode_domain_is_reported_at_its_entry(spec):
    data = {"partner": {"name": "Bad", "outbound": {"recipient_domains": ["ok.example", u"b\u00fc cher.example"],
                                                    "validation_recipients": ["a@ok.example"]}}}
    report = pu.Report()
    pu.check_definitions([pu.Partner("bad.yml", data)], spec, report)
    assert len(report.errors) == 1
    assert report.errors[0].startswith(u"bad.yml: outbound.recipient_domains[1]: 'b\u00fc cher.example' is not a "
                                       u"domain name that can be converted"), report.errors


# --------------------------------------------------------------------------- the sandbox (independent oracle)

@pytest.fixture
def tenant(tmp_path):
    return SandboxTenant(str(tmp_path / "tenant.db"))


@pytest.mark.parametrize("cmdlet,params", [
    ("New-InboundConnector", {"Name": "I", "SenderDomains": [BUECHER]}),
    ("New-InboundConnector", {"Name": "I", "SenderDomains": ["a.example"], "TlsSenderCertificateName": BUECHER}),
    ("New-InboundConnector", {"Name": "I", "SenderDomains": ["a.example"], "EFUsers": [u"a@" + BUECHER]}),
    ("New-OutboundConnector", {"Name": "O", "RecipientDomains": [u"*." + BUECHER]}),
    ("New-OutboundConnector", {"Name": "O", "IsTransportRuleScoped": True, "UseMXRecord": False,
                               "SmartHosts": [u"mx." + BUECHER]}),
    ("New-TransportRule", {"Name": "R", "SenderDomainIs": [BUECHER], "SetSCL": 1}),
    ("New-TransportRule", {"Name": "R", "ExceptIfRecipientDomainIs": [BUECHER], "SetSCL": 1}),
    ("New-OutboundConnector", {"Name": "O", "RecipientDomains": [u"\u212aelvin.example"]}),  # Kelvin sign, not K
])
def test_sandbox_refuses_u_labels(tenant, cmdlet, params):
    fails(tenant, cmdlet, params, InvalidParameterError, "ASCII", "A-label")


def test_sandbox_takes_a_labels(tenant):
    made = objs(tenant, "New-OutboundConnector", {"Name": "O", "RecipientDomains": [ALABEL, "*." + ALABEL],
                                                  "UseMXRecord": False, "SmartHosts": ["mx." + ALABEL]})[0]
    assert made["RecipientDomains"] == [ALABEL, "*." + ALABEL] and made["SmartHosts"] == ["mx." + ALABEL]
    rule = objs(tenant, "New-TransportRule", {"Name": "R", "SenderDomainIs": [ALABEL], "SetSCL": 1})[0]
    assert rule["SenderDomainIs"] == [ALABEL]
