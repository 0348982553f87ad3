# -*- coding: utf-8 -*-
"""Value normalisers and input validators."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import normalize as n
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
