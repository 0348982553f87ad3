# -*- coding: utf-8 -*-
"""Value normalisers and input validators."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError


@pytest.mark.parametrize("value,expected", [
    ("contoso.com", "contoso.com;1"),
    ("Contoso.COM.", "contoso.com;1"),
    ("smtp:contoso.com;1", "contoso.com;1"),
    ("SMTP:*.Contoso.com;1", "*.contoso.com;1"),
    ("smtp:*;1", "*;1"),
    ("smtp:contoso.com;5", "contoso.com;5"),
])
def test_address_space_key(value, expected):
    assert n.address_space_key(value) == expected


def test_address_space_display_strips_default_cost_only():
    assert n.address_space_display("smtp:adatum.com;1") == "adatum.com"
    assert n.address_space_display("smtp:adatum.com;3") == "smtp:adatum.com;3"


@pytest.mark.parametrize("value", ["contoso.com", "*.contoso.com", "*", "smtp:contoso.com;1", "a-b.example.co.uk"])
def test_valid_sender_domains(value):
    assert n.sender_domain_error("sender_domains", value) is None


@pytest.mark.parametrize("value,fragment", [
    ("mail.*.contoso.com", "wildcard inside"),
    ("contoso", "not a valid domain"),
    ("con_toso.com", "not a valid domain"),
    ("", "empty"),
    ("smtp:;1", "not a valid address space"),
])
def test_invalid_sender_domains(value, fragment):
    error = n.sender_domain_error("sender_domains", value)
    assert error.startswith("sender_domains:") and fragment in error


def test_bare_star_certificate_name_refused():
    assert "bare '*'" in n.domain_error("tls_sender_certificate_name", "*")
    assert n.domain_error("tls_sender_certificate_name", "*.adatum.com") is None


@pytest.mark.parametrize("value", ["198.51.100.7", "198.51.100.0/24", "203.0.113.8/29", "203.0.113.9/32"])
def test_valid_connector_ips(value):
    assert n.ipv4_connector_error("sender_ip_addresses", value) is None


@pytest.mark.parametrize("value,fragment", [
    ("198.51.100.1-198.51.100.9", "is a range"),
    ("2001:db8::1", "IPv6"),
    ("198.51.0.0/16", "/16 block"),
    ("10.1.2.3", "reserved or private"),
    ("192.168.0.1/25", "reserved or private"),
    ("172.20.0.1", "reserved or private"),
    ("127.0.0.1", "reserved or private"),
    ("300.1.1.1", "not an IPv4"),
])
def test_invalid_connector_ips(value, fragment):
    error = n.ipv4_connector_error("sender_ip_addresses", value)
    assert error.startswith("sender_ip_addresses:") and fragment in error


def test_ipv4_key_single_equals_slash_32():
    assert n.ipv4_key("198.51.100.7") == n.ipv4_key("198.51.100.7/32")
    assert n.ipv4_key("198.51.100.7/24") == "198.51.100.0/24"


def test_smart_host_port_and_private_refused():
    assert "port" in n.smart_host_error("smart_hosts", "mail.adatum.com:587")
    assert "reserved or private" in n.smart_host_error("smart_hosts", "192.168.1.10")
    assert n.smart_host_error("smart_hosts", "mail.adatum.com") is None
    assert n.smart_host_error("smart_hosts", "198.51.100.20") is None


def test_raise_errors_joins_all_problems():
    with pytest.raises(ConfigurationError) as exc:
        n.raise_errors([None, "a: bad", "b: worse"])
    assert exc.value.msg == "a: bad; b: worse"
    n.raise_errors([None])


# --------------------------------------------------------------------------- reserved IPv4: one list, the service's

def test_reserved_list_is_the_services_and_shared_with_the_sandbox():
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import checks as sandbox_checks
    assert [str(r) for r in n.RESERVED_IPV4] == ["0.0.0.0/32", "10.0.0.0/8", "127.0.0.0/24", "169.254.0.0/16",
                                                 "172.16.0.0/12", "192.168.0.0/16"]
    assert sandbox_checks.RESERVED_V4 == n.RESERVED_IPV4


@pytest.mark.parametrize("value", ["100.64.0.1", "224.0.0.1/32", "127.1.2.3"])
def test_special_but_not_reserved_ranges_are_accepted_like_the_service(value):
    assert n.ipv4_connector_error("sender_ip_addresses", value) is None


def test_first_octet_zero_is_not_a_valid_address():
    assert "first number must be 1 to 255" in n.ipv4_connector_error("sender_ip_addresses", "0.1.2.3")


@pytest.mark.parametrize("value,reserved", [
    ("192.168.1.1", "192.168.0.0/16"), ("10.0.0.0/8", "10.0.0.0/8"), ("172.16.5.0/24", "172.16.0.0/12"),
    ("9.255.255.250-10.0.0.3", "10.0.0.0/8"), ("169.254.1.1-169.254.1.9", "169.254.0.0/16"),
])
def test_ef_skip_ips_refuses_private_and_reserved(value, reserved):
    error = n.ef_skip_ip_error("ef_skip_ips", value)
    assert error.startswith("ef_skip_ips:") and reserved in error and "skips private addresses" in error


@pytest.mark.parametrize("value", ["198.51.100.7", "198.51.100.0/24", "198.51.100.1-198.51.100.9", "2001:db8::1"])
def test_ef_skip_ips_accepts_public_addresses(value):
    assert n.ef_skip_ip_error("ef_skip_ips", value) is None


def test_address_space_cost_must_be_1_to_100():
    for value in ("smtp:adatum.com;0", "smtp:adatum.com;101", "smtp:adatum.com;-1"):
        error = n.sender_domain_error("sender_domains", value)
        assert error.startswith("sender_domains:") and "from 1 to 100" in error, value
    assert n.sender_domain_error("sender_domains", "smtp:adatum.com;1") is None
    assert n.sender_domain_error("sender_domains", "smtp:adatum.com;100") is None


# --------------------------------------------------------------------------- forms: trailing dots, duplicates, names

def test_trailing_dot_is_dropped_for_sending_and_comparing():
    assert n.domain_text(" mail.td.example. ") == "mail.td.example"
    assert n.address_space_text("smtp:adatum.com.;5") == "smtp:adatum.com;5"
    assert n.address_space_text("Adatum.com.") == "Adatum.com"
    assert n.smart_host_key("MAIL.td.example.") == n.smart_host_key("mail.td.example")
    assert n.smart_host_key("198.51.100.1") == n.smart_host_key("198.51.100.1/32")


def test_unique_keeps_the_first_spelling_of_each_value():
    assert n.unique(["adatum.com", "ADATUM.com.", "b.example"], n.domain_key) == ["adatum.com", "b.example"]
    assert n.unique(["198.51.100.1", "198.51.100.1/32"], n.ipv4_key) == ["198.51.100.1"]


@pytest.mark.parametrize("value", [" Adatum", "Adatum ", "\tAdatum", "Adatum\n"])
def test_names_with_surrounding_white_space_are_refused(value):
    error = n.name_error("name", value)
    assert error.startswith("name:") and "white space" in error and "'Adatum'" in error


def test_names_with_inner_spaces_are_fine():
    assert n.name_error("name", "Adatum inbound") is None


# --------------------------------------------------------------------------- sizes (ByteQuantifiedSize)

@pytest.mark.parametrize("value,size", [
    ("10MB", 10485760), ("10 MB", 10485760), ("10 mb", 10485760), ("10485760", 10485760), (10485760, 10485760),
    ("10 KB", 10240), ("1.5 GB", 1610612736), ("1,024KB", 1048576), ("1e3", 1000), ("5 B", 5), ("+2TB", 2 << 40),
    ("10 MB (10,485,760 bytes)", 10485760), ("9.766 KB (10,000 bytes)", 10000), ("99 GB (106,300,440,576 bytes)", 106300440576),
])
def test_sizes_parse_by_bytes(value, size):
    assert n.parse_size(value) == size


@pytest.mark.parametrize("value", ["10 XB", "-5MB", "", "MB", "ten MB", True, None, "10  MB", [10]])
def test_not_sizes(value):
    assert n.parse_size(value) is None
    assert n.size_error("extra_parameters.AttachmentSizeOver", value).startswith("extra_parameters.AttachmentSizeOver:")


@pytest.mark.parametrize("size,text", [
    (10485760, "10 MB (10,485,760 bytes)"), (10000, "9.766 KB (10,000 bytes)"), (1000, "1000 B (1,000 bytes)"),
    (1572864, "1.5 MB (1,572,864 bytes)"), (0, "0 B (0 bytes)"), (106300440576, "99 GB (106,300,440,576 bytes)"),
])
def test_size_read_back_form(size, text):
    assert n.size_display(size) == text
    assert n.parse_size(text) == size


# --------------------------------------------------------------------------- regular expressions

@pytest.mark.parametrize("pattern,fragment", [
    ("(a", "missing )"), ("a)", "unbalanced parenthesis"), ("[a", "unterminated character set"),
    ("*a", "nothing to repeat"), ("a**", "multiple repeat"), ("a{3,1}", "min repeat greater than max repeat"),
    ("[z-a]", "bad character range"), ("\\q", "bad escape"), ("(?<x>a)\\k<y>", "unknown group name"),
    ("", "empty pattern"),
])
def test_invalid_patterns_are_refused(pattern, fragment):
    error = n.regex_error("conditions.sender_ad_attribute_matches_patterns", pattern)
    assert error.startswith("conditions.sender_ad_attribute_matches_patterns:") and fragment in error, error


@pytest.mark.parametrize("pattern", [
    "^Head", "\\p{L}+", "\\z", "\\G\\d", "(?<x>a)\\k<x>", "(?'x'a)", "(?<=a+)b", "a(?i)b", "\\e", "[a-z-[aeiou]]",
    "(?>atomic)", "\\d{2,}",
])
def test_dotnet_patterns_python_cannot_judge_are_left_to_the_service(pattern):
    assert n.regex_error("f", pattern) is None


def test_smtp_address_forms():
    assert n.smtp_address(" bob@partner.example ") == "bob@partner.example"
    assert n.smtp_address("Bob Baker <bob@partner.example>") == "bob@partner.example"
    assert n.smtp_address("Accounting Team") is None and n.smtp_address("a@b") is None
