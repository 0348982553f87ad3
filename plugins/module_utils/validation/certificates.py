# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate inspection for the connector validation probe: the facts of a presented certificate, name
matching against the TLS domain (RFC 6125) and the failure class of an OpenSSL verify error."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib

from ansible_collections.m365.mailflow.plugins.module_utils.validation.failures import norm_name, require_library

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the environment
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc


# OpenSSL X509_V_ERR_* codes that have their own class; everything else is "untrusted".
_VERIFY_CODE_CLASSES = {
    9: "certificate_expired",        # CERT_NOT_YET_VALID
    10: "certificate_expired",       # CERT_HAS_EXPIRED
    18: "certificate_self_signed",   # DEPTH_ZERO_SELF_SIGNED_CERT
    62: "subject_mismatch",          # HOSTNAME_MISMATCH
}


def hostname_matches(presented, required):
    """RFC 6125-style match of one certificate name against the required TLS domain.

    A ``*.`` wildcard in the certificate covers exactly one left-most label. A required ``*.domain``
    accepts any host name under ``domain`` and a certificate name of exactly ``*.domain``.
    """
    presented, required = norm_name(presented), norm_name(required)
    if not presented or not required:
        return False
    if required.startswith("*."):
        parent = required[2:]
        if presented == required:
            return True
        return "*" not in presented and presented.endswith("." + parent)
    if presented.startswith("*."):
        parent = presented[2:]
        label, _sep, rest = required.partition(".")
        return "*" not in parent and "." in parent and bool(label) and rest == parent
    return "*" not in presented and presented == required


def certificate_names(facts):
    """Names to match against the TLS domain: DNS SANs and the subject CN."""
    names = list(facts.get("san_dns") or [])
    if facts.get("common_name"):
        names.append(facts["common_name"])
    return names


def _cert_time(cert, name):
    value = getattr(cert, name + "_utc", None)
    if value is None:  # cryptography < 42
        value = getattr(cert, name)
    return value.replace(tzinfo=None)


def _is_self_signed(cert):
    """Subject equals issuer and (when cryptography can check it) the certificate signed itself."""
    if cert.issuer != cert.subject:
        return False
    if not hasattr(cert, "verify_directly_issued_by"):  # cryptography < 40
        return True
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def certificate_facts(der, now=None):
    """Facts about a DER certificate for evidence: subject, issuer, SANs, validity, self-signed, SHA-256."""
    require_library(HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR, "cryptography")
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        san_dns = san.get_values_for_type(x509.DNSName)
        san_ip = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        san_dns, san_ip = [], []
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    not_before, not_after = _cert_time(cert, "not_valid_before"), _cert_time(cert, "not_valid_after")
    now = now or _utcnow()
    digest = hashlib.sha256(der).hexdigest().upper()
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "common_name": cns[0].value if cns else None,
        "san_dns": list(san_dns),
        "san_ip": san_ip,
        "not_before": not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expired": now > not_after,
        "not_yet_valid": now < not_before,
        "self_signed": _is_self_signed(cert),
        "sha256": ":".join(digest[i:i + 2] for i in range(0, len(digest), 2)),
        "serial": format(cert.serial_number, "x"),
        "signature_hash": getattr(cert.signature_hash_algorithm, "name", None) if cert.signature_hash_algorithm else None,
    }


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def describe_certificate(facts):
    """One-line evidence string for a certificate."""
    if not facts:
        return "no certificate presented"
    return "subject=%s; issuer=%s; SAN=%s; valid %s..%s; self_signed=%s; sha256=%s" % (
        facts["subject"], facts["issuer"], ",".join(facts["san_dns"] + facts["san_ip"]) or "-",
        facts["not_before"], facts["not_after"], facts["self_signed"], facts["sha256"])


def classify_verify_code(code, leaf_self_signed=False):
    """Failure class for an OpenSSL verify error code (ssl.SSLCertVerificationError.verify_code)."""
    if leaf_self_signed and code in (18, 19, 20, 21):
        return "certificate_self_signed"
    return _VERIFY_CODE_CLASSES.get(code, "certificate_untrusted")
