# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inbound partner connectors: fields, normalisers and pre-flight rules (I1-I12)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.engine import ResourceSpec
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError, Problem
from ansible_collections.m365.mailflow.plugins.module_utils.fields import Field, Plain

NAME_MAX = 64
COMMENT_MAX = 1024


def combination_problems(values, complete):
    """Rules I2-I5 on option values, the one home of these rules (the module and the partner files use them).
    With ``complete`` False, None means 'not given' and is not judged. Returns ``errors.Problem`` records."""
    def known(key):
        return complete or values.get(key) is not None

    cert = values.get("tls_sender_certificate_name")
    ips = values.get("sender_ip_addresses")
    problems = []
    if cert and values.get("require_tls") is False:  # I2
        problems.append(Problem("tls_sender_certificate_name", "requires require_tls: true; Exchange Online only "
                                "checks the certificate of a TLS connection. Set require_tls: true or remove "
                                "tls_sender_certificate_name", related=("require_tls",)))
    if values.get("restrict_domains_to_ip_addresses") and known("sender_ip_addresses") and not ips:  # I3
        problems.append(Problem("restrict_domains_to_ip_addresses", "requires sender_ip_addresses (the partner's "
                                "public IPv4 addresses); list them, or set restrict_domains_to_ip_addresses: false",
                                related=("sender_ip_addresses",)))
    if values.get("restrict_domains_to_ip_addresses") and values.get("restrict_domains_to_certificate"):  # I4
        problems.append(Problem("restrict_domains_to_certificate", "cannot be true together with "
                                "restrict_domains_to_ip_addresses; Exchange Online allows one restriction per partner "
                                "connector. Keep one, or use two connectors", related=("restrict_domains_to_ip_addresses",)))
    restricted = values.get("restrict_domains_to_ip_addresses") or values.get("restrict_domains_to_certificate")
    if (any(n.parse_address_space(str(d))[0] == "*" for d in values.get("sender_domains") or []) and not restricted
            and known("restrict_domains_to_ip_addresses") and known("restrict_domains_to_certificate")):
        problems.append(Problem("sender_domains", "'*' (any sender domain) identifies the partner by nothing: it is "
                                "only for a partner identified by IP address or certificate. Set "
                                "restrict_domains_to_ip_addresses: true (with sender_ip_addresses) or "
                                "restrict_domains_to_certificate: true (with tls_sender_certificate_name), or list "
                                "the partner's domains",
                                related=("restrict_domains_to_ip_addresses", "restrict_domains_to_certificate")))
    if values.get("restrict_domains_to_certificate") and known("tls_sender_certificate_name") and not cert:  # I5
        problems.append(Problem("restrict_domains_to_certificate", "requires tls_sender_certificate_name (the "
                                "certificate subject the partner presents, for example *.adatum.com), or set "
                                "restrict_domains_to_certificate: false", related=("tls_sender_certificate_name",)))
    return problems


class InboundConnectorSpec(ResourceSpec):
    noun = "inbound connector"
    result_key = "connector"
    get_cmdlet = "Get-InboundConnector"
    new_cmdlet = "New-InboundConnector"
    set_cmdlet = "Set-InboundConnector"
    remove_cmdlet = "Remove-InboundConnector"
    create_constants = {"ConnectorType": "Partner"}
    # Lists are compared and sent with one entry per value (fields.Field.to_params); domains without a trailing dot.
    # Each field carries its value check (run by field_errors in the pre-flight).
    fields = (
        Field("sender_domains", "SenderDomains", Plain(multi=True, key=n.address_space_key, display=n.address_space_display,
                                                       send=n.address_space_text, check=n.sender_domain_error)),
        Field("sender_ip_addresses", "SenderIPAddresses", Plain(multi=True, key=n.ipv4_key, send=n.text_strip,
                                                                check=n.ipv4_connector_error)),
        Field("require_tls", "RequireTls"),
        Field("tls_sender_certificate_name", "TlsSenderCertificateName", Plain(key=n.domain_key, send=n.domain_text,
                                                                               check=n.domain_error)),
        Field("restrict_domains_to_certificate", "RestrictDomainsToCertificate"),
        Field("restrict_domains_to_ip_addresses", "RestrictDomainsToIPAddresses"),
        Field("trusted_organizations", "TrustedOrganizations", Plain(multi=True, key=n.domain_key, send=n.domain_text,
                                                                     check=n.domain_error, allow_subdomain_wildcard=False)),
        Field("associated_accepted_domains", "AssociatedAcceptedDomains", Plain(
            multi=True, key=n.domain_key, send=n.domain_text, check=n.domain_error, allow_subdomain_wildcard=False)),
        Field("enabled", "Enabled"),
        Field("comment", "Comment", Plain(check=n.control_character_error)),
        Field("ef_skip_ips", "EFSkipIPs", Plain(multi=True, key=n.ip_range_key, send=n.text_strip, check=n.ef_skip_ip_error)),
        Field("ef_skip_last_ip", "EFSkipLastIP"),
        Field("ef_users", "EFUsers", Plain(multi=True, key=n.address_key, send=n.address_text, check=n.email_error)),
    )

    def preflight(self, name, desired):
        errors = [
            Problem("name", "an empty name is not allowed") if not (name or "").strip() else None,
            n.length_error("name", name, NAME_MAX),
            n.length_error("comment", desired.get("comment"), COMMENT_MAX),
        ]
        if desired.get("sender_domains") == []:
            errors.append(Problem("sender_domains", "the list cannot be empty; Exchange Online needs at least one "
                                                    "sender domain (use '*' for any domain when the partner is "
                                                    "identified by IP address or certificate)"))
        errors += self.field_errors(desired)
        errors += combination_problems(desired, complete=False)
        n.raise_errors(errors)

    def preflight_current(self, name, desired, current):
        if current is not None and current.get("ConnectorType") not in (None, "Partner"):
            raise ConfigurationError(
                "inbound connector '%s' exists but is of type %s; partner_inbound_connector only manages Partner "
                "connectors. Choose another name, or remove that connector yourself." % (name, current.get("ConnectorType")))
        if desired is None:
            return
        if current is None and not desired.get("sender_domains"):
            n.raise_errors([Problem("sender_domains", "required to create inbound connector '%s': list the partner's "
                                                      "sender domains (for example adatum.com or *.adatum.com), or '*' "
                                                      "when the partner is identified by IP or certificate" % name)])
        merged = self.view(current) if current is not None else {}
        merged.update((k, v) for k, v in desired.items() if v is not None)
        n.raise_errors(combination_problems(merged, complete=True))
        if desired.get("sender_ip_addresses") and not merged.get("restrict_domains_to_ip_addresses"):
            # New-InboundConnector reference, SenderIPAddresses: a Partner connector accepts messages from these
            # addresses "when the value of the RestrictDomainsToIPAddresses parameter is $true" (documented).
            self.warnings.append(
                "sender_ip_addresses: Exchange Online uses the sender IP addresses of a partner connector only when "
                "restrict_domains_to_ip_addresses is true, and it is not on inbound connector '%s'; the addresses are "
                "stored but ignored. Set restrict_domains_to_ip_addresses: true to accept the partner's domains only "
                "from these addresses, or remove sender_ip_addresses" % name)

    def facts(self, obj):
        facts = super(InboundConnectorSpec, self).facts(obj)
        facts.update({
            "connector_type": obj.get("ConnectorType"),
            "connector_source": obj.get("ConnectorSource"),
            "when_changed_utc": obj.get("WhenChangedUTC"),
        })
        return facts


def argument_spec():
    """The options of m365.mailflow.partner_inbound_connector (the connection options are added by MailflowModule);
    also what m365.mailflow.sandbox_tenant checks a seeded connector against."""
    return dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        sender_domains=dict(type="list", elements="str"),
        sender_ip_addresses=dict(type="list", elements="str"),
        require_tls=dict(type="bool", default=True),
        tls_sender_certificate_name=dict(type="str"),
        restrict_domains_to_certificate=dict(type="bool"),
        restrict_domains_to_ip_addresses=dict(type="bool"),
        trusted_organizations=dict(type="list", elements="str"),
        associated_accepted_domains=dict(type="list", elements="str"),
        enabled=dict(type="bool"),
        comment=dict(type="str"),
        ef_skip_ips=dict(type="list", elements="str"),
        ef_skip_last_ip=dict(type="bool"),
        ef_users=dict(type="list", elements="str"),
    )
