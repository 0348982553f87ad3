# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failure vocabulary of the connector validation probe: the fixed failure classes, the one-line fix
of each, and the small helpers the probe's parts share."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.m365.mailflow.plugins.module_utils.errors import DependencyError


FAILURE_CLASSES = (
    "resolve", "resolver_timeout", "connect", "ehlo", "starttls", "certificate_untrusted", "certificate_self_signed",
    "certificate_expired", "subject_mismatch", "recipient_rejected",
)

# Each fix names what to change in the words of the options (partner_outbound_connector's, which a partner file
# has under outbound:, and connector_validate's), never in the cmdlets' (TlsSettings, SmartHosts).
_FIXES = {
    "resolve": "Publish the missing DNS record for {host} (MX or A), or correct the name in the connector's smart_hosts "
               "(or in recipient_domains, when it delivers by MX)",
    # A timeout says nothing about the records: the resolver asked did not answer in time.
    "resolver_timeout": "Check that the DNS servers the probe asks (dns_servers, or the system resolver) are reachable "
                        "from this host and answer, or raise probe_timeout; the records of {host} were not checked",
    "connect": "Make {host} ({ip}) listen on TCP {port} and allow inbound SMTP from Exchange Online through firewalls",
    "ehlo": "{host} ({ip}:{port}) must answer EHLO with 250: point smart_hosts (or the partner's MX records) at a real "
            "SMTP server",
    "starttls": "Enable STARTTLS with a valid certificate on {host}:{port} (and remove inline devices that strip it)",
    "certificate_untrusted": "Install on {host} a certificate chain issued by a public CA (send the intermediates too), "
                             "or set tls_settings: encryption_only on the connector",
    "certificate_self_signed": "Replace the self-signed certificate on {host} with a CA-issued one, or set tls_settings: "
                               "encryption_only on the connector",
    "certificate_expired": "Renew the certificate on {host} (valid {not_before} to {not_after}) and reload the mail server",
    "subject_mismatch": "Install a certificate whose subject or SAN matches {required} on {host}, "
                        "or set tls_domain to the name the certificate carries ({presented})",
    "recipient_rejected": "Make {host} accept mail for {recipient} from the validation sender (add the mailbox or a "
                          "relay rule), or set validation_recipients to an address it accepts",
}


def require_library(flag, exc, package):
    if not flag:
        raise DependencyError("The Python library %s is required for connector validation probes: %s" % (package, exc))


def is_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def norm_name(name):
    return (name or "").strip().rstrip(".").lower()


def make_failure(cls, step, message, evidence="", host=None, ip=None, port=None, **fix_args):
    """One failure dict; ``fix_args`` fill the class' fix template (extra keys recipient/temporary are kept)."""
    values = {"host": host, "ip": ip, "port": port, "required": "", "presented": "", "recipient": "",
              "not_before": "?", "not_after": "?"}
    values.update(fix_args)
    failure = {"class": cls, "host": host, "ip": ip, "port": port, "step": step, "evidence": evidence,
               "message": message, "fix": _FIXES[cls].format(**values)}
    for key in ("recipient", "temporary"):
        if key in fix_args:
            failure[key] = fix_args[key]
    return failure
