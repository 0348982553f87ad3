# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SMTP/TLS probe of a partner mail route, run from the control node.

Resolves the route (smart hosts, or MX of the recipient domains), then for every
host: TCP connect, banner, EHLO, STARTTLS, TLS handshake and a certificate check
that follows the outbound connector's TlsSettings (EncryptionOnly,
CertificateValidation, DomainValidation + TlsDomain), and optionally delivers a
test message. Every failure is a dict with a fixed ``class`` (see
``FAILURE_CLASSES``), evidence and a one-line fix.

``service_validation`` shapes the result like Validate-OutboundConnector and
``failures_from_tree`` reads failures back from such a tree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import email.utils
import errno
import hashlib
import ipaddress
import os.path
import re
import smtplib
import socket
import ssl
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

from ansible_collections.m365.mailflow.plugins.module_utils import hostmap
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError, DependencyError

try:
    import dns.exception
    import dns.resolver
    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the environment
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR = exc

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the environment
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc


FAILURE_CLASSES = (
    "resolve", "resolver_timeout", "connect", "ehlo", "starttls", "certificate_untrusted", "certificate_self_signed",
    "certificate_expired", "subject_mismatch", "recipient_rejected",
)
TLS_MODES = (None, "encryption_only", "certificate_validation", "domain_validation")
CERT_MODES = ("certificate_validation", "domain_validation")
TLS_SETTINGS_TO_MODE = {
    None: None, "": None, "encryptiononly": "encryption_only",
    "certificatevalidation": "certificate_validation", "domainvalidation": "domain_validation",
}
TEST_SUBJECT = "Connector validation test from m365.mailflow"
PROBE_HEADER = "X-M365-Mailflow-Probe"

# OpenSSL X509_V_ERR_* codes that have their own class; everything else is "untrusted".
_VERIFY_CODE_CLASSES = {
    9: "certificate_expired",        # CERT_NOT_YET_VALID
    10: "certificate_expired",       # CERT_HAS_EXPIRED
    18: "certificate_self_signed",   # DEPTH_ZERO_SELF_SIGNED_CERT
    62: "subject_mismatch",          # HOSTNAME_MISMATCH
}

_FIXES = {
    "resolve": "Publish the missing DNS record for {host} (MX or A), or correct the host/domain name on the connector",
    # A timeout says nothing about the records: the resolver asked did not answer in time.
    "resolver_timeout": "Check that the DNS servers the probe asks (dns_servers, or the system resolver) are reachable "
                        "from this host and answer, or raise probe_timeout; the records of {host} were not checked",
    "connect": "Make {host} ({ip}) listen on TCP {port} and allow inbound SMTP from Exchange Online through firewalls",
    "ehlo": "Point the connector at a real SMTP server: {host} ({ip}:{port}) must answer EHLO with 250",
    "starttls": "Enable STARTTLS with a valid certificate on {host}:{port} (and remove inline devices that strip it)",
    "certificate_untrusted": "Install on {host} a certificate chain issued by a public CA (send the intermediates too)",
    "certificate_self_signed": "Replace the self-signed certificate on {host} with a CA-issued one, or set TlsSettings to EncryptionOnly",
    "certificate_expired": "Renew the certificate on {host} (valid {not_before} to {not_after}) and reload the mail server",
    "subject_mismatch": "Install a certificate whose subject or SAN matches {required} on {host}, "
                        "or set tls_domain to the name the certificate carries ({presented})",
    "recipient_rejected": "Make {host} accept mail for {recipient} from the validation sender (add the mailbox or relay rule)",
}

_DETAIL_RE = re.compile(r"^\s*\[([a-z_]+)\]\s*")
_DETAIL_FIELDS = ("fix", "host", "ip", "port", "step", "recipient", "temporary", "evidence")
_QUEUE_ID_RE = re.compile(r"queued as ([A-Za-z0-9]+)")


# ---------------------------------------------------------------- helpers


def _require(flag, exc, package):
    if not flag:
        raise DependencyError("The Python library %s is required for connector validation probes: %s" % (package, exc))


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _norm_name(name):
    return (name or "").strip().rstrip(".").lower()


def _failure(cls, step, message, evidence="", host=None, ip=None, port=None, **fix_args):
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


def _checked_mode(tls_mode, tls_domain):
    tls_mode = normalize_tls_mode(tls_mode)
    if tls_mode == "domain_validation" and not tls_domain:
        raise ConfigurationError("tls_mode domain_validation needs tls_domain (the connector's TlsDomain)")
    return tls_mode


def normalize_tls_mode(value):
    """Accept snake_case modes or the connector's TlsSettings names; return one of TLS_MODES."""
    if value in TLS_MODES:
        return value
    key = str(value).replace("_", "").lower()
    if key in TLS_SETTINGS_TO_MODE:
        return TLS_SETTINGS_TO_MODE[key]
    raise ConfigurationError("tls_mode must be one of encryption_only, certificate_validation, domain_validation "
                             "or None (opportunistic), not %r" % (value,))


# ---------------------------------------------------------------- certificate inspection


def hostname_matches(presented, required):
    """RFC 6125-style match of one certificate name against the required TLS domain.

    A ``*.`` wildcard in the certificate covers exactly one left-most label. A required ``*.domain``
    accepts any host name under ``domain`` and a certificate name of exactly ``*.domain``.
    """
    presented, required = _norm_name(presented), _norm_name(required)
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
    if facts.get("common_name") and facts["common_name"].lower() not in [n.lower() for n in names]:
        names.append(facts["common_name"])  # once: a CN that is also a SAN is one name, not two
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
    _require(HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR, "cryptography")
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


def _tls_context(tls_mode, ca_path):
    """Client context: no verification for opportunistic/encryption_only, else CERT_REQUIRED without hostname check
    (names are checked against tls_domain by hostname_matches)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    if tls_mode not in CERT_MODES:
        context.verify_mode = ssl.CERT_NONE
        return context
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        if not ca_path:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        elif os.path.isdir(ca_path):
            context.load_verify_locations(capath=ca_path)
        else:
            context.load_verify_locations(cafile=ca_path)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError("ca_path %s cannot be loaded as CA certificates: %s" % (ca_path, exc))
    return context


# ---------------------------------------------------------------- one host


class _Probe(object):
    """State of one probe_host run; each step method returns True to go on."""

    def __init__(self, host, ip, port, tls_mode, tls_domain, ca_path, timeout, ehlo_name):
        self.host, self.ip, self.port = host, ip, port
        self.tls_mode, self.tls_domain, self.ca_path = tls_mode, tls_domain, ca_path
        self.timeout, self.ehlo_name = timeout, ehlo_name or _default_ehlo_name()
        self.deadline = time.monotonic() + timeout
        self.smtp = None
        self.result = {"host": host, "ip": ip, "port": port, "ok": False, "tls_mode": tls_mode, "steps": [],
                       "certificate": None, "failures": [], "delivered": [], "elapsed": 0.0}

    # -- bookkeeping
    def step(self, name, ok, detail, **extra):
        entry = {"step": name, "ok": ok, "detail": detail}
        entry.update(extra)
        self.result["steps"].append(entry)
        return ok

    def fail(self, cls, step, message, evidence="", **fix_args):
        failure = _failure(cls, step, message, evidence, host=self.host, ip=self.ip, port=self.port, **fix_args)
        self.result["failures"].append(failure)
        self.step(step, False, "[%s] %s%s" % (cls, message, (": " + evidence) if evidence else ""),
                  **{k: v for k, v in fix_args.items() if k == "recipient"})
        return False

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("probe time budget of %.1fs used up" % self.timeout)
        return left

    def _arm(self):
        if self.smtp is not None and self.smtp.sock is not None:
            self.smtp.sock.settimeout(self.remaining())

    # -- connection
    def open(self):
        """Connect and read the banner (no step records); raises OSError/SMTPException."""
        self.close()
        smtp = smtplib.SMTP(timeout=self.remaining(), local_hostname=self.ehlo_name)
        self.smtp = smtp
        code, banner = smtp.connect(self.ip, self.port)
        return code, _text(banner)

    def close(self):
        if self.smtp is None:
            return
        try:
            if self.smtp.sock is not None:
                self.smtp.sock.settimeout(min(2.0, max(self.deadline - time.monotonic(), 0.2)))
                self.smtp.quit()
        except (OSError, smtplib.SMTPException, ValueError):
            pass
        finally:
            try:
                self.smtp.close()
            except OSError:
                pass
            self.smtp = None

    def connect(self):
        try:
            code, banner = self.open()
        except smtplib.SMTPConnectError as exc:
            return self.fail("ehlo", "connect", "%s:%s answered with a non-220 banner" % (self.ip, self.port),
                             "%s %s" % (exc.smtp_code, _text(exc.smtp_error)))
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, socket.timeout):
                return self.fail("connect", "connect", "%s:%s accepted TCP but sent no SMTP banner in time" % (self.ip, self.port),
                                 _errno_text(exc.__context__))
            return self.fail("ehlo", "connect", "%s:%s closed the connection without an SMTP banner" % (self.ip, self.port),
                             _errno_text(exc))
        except (OSError, smtplib.SMTPException) as exc:
            return self.fail("connect", "connect", "TCP connection to %s:%s failed" % (self.ip, self.port), _errno_text(exc))
        if code != 220:
            return self.fail("ehlo", "connect", "%s:%s is not accepting mail (banner is not 220)" % (self.ip, self.port),
                             "%s %s" % (code, banner))
        return self.step("connect", True, "%s %s" % (code, banner))

    def ehlo(self, after_tls=False):
        name = "ehlo_tls" if after_tls else "ehlo"
        try:
            self._arm()
            code, reply = self.smtp.ehlo()
        except (OSError, smtplib.SMTPException) as exc:
            return self.fail("ehlo", name, "EHLO to %s failed" % self.host, _errno_text(exc))
        reply = _text(reply)
        if code != 250:
            return self.fail("ehlo", name, "%s rejected EHLO %s" % (self.host, self.ehlo_name), "%s %s" % (code, reply))
        return self.step(name, True, "250 " + " ".join(sorted(self.smtp.esmtp_features)))

    # -- TLS
    def tls(self):
        if not self.smtp.has_extn("starttls"):
            extensions = ", ".join(sorted(self.smtp.esmtp_features)) or "none"
            if self.tls_mode is None:
                return self.step("starttls", True, "STARTTLS not offered; plaintext (opportunistic TLS)")
            return self.fail("starttls", "starttls", "%s does not offer STARTTLS" % self.host,
                             "EHLO extensions: " + extensions)
        try:
            self.starttls(_tls_context(self.tls_mode, self.ca_path))
        except ssl.SSLCertVerificationError as exc:
            return self.verification_failed(exc)
        except (OSError, ssl.SSLError, smtplib.SMTPException) as exc:
            return self.handshake_failed(exc)
        self.step("starttls", True, "%s %s" % (self.smtp.sock.version(), (self.smtp.sock.cipher() or ("?",))[0]))
        return self.check_certificate(self.peer_certificate()) and self.ehlo(after_tls=True)

    def starttls(self, context):
        self._arm()
        code, reply = self.smtp.docmd("STARTTLS")
        if code != 220:
            raise smtplib.SMTPResponseException(code, reply)
        server_hostname = None if _is_ip(self.host) else self.host
        self.smtp.sock = context.wrap_socket(self.smtp.sock, server_hostname=server_hostname)
        self.smtp.file = None
        self.smtp.helo_resp = self.smtp.ehlo_resp = None
        self.smtp.esmtp_features = {}
        self.smtp.does_esmtp = False

    def peer_certificate(self):
        der = self.smtp.sock.getpeercert(binary_form=True)
        facts = certificate_facts(der) if der else None
        self.result["certificate"] = facts
        return facts

    def handshake_failed(self, exc):
        evidence = _errno_text(exc)
        if self.tls_mode is not None:
            return self.fail("starttls", "starttls", "STARTTLS/TLS handshake with %s failed" % self.host, evidence)
        self.step("starttls", True, "TLS handshake failed (%s); retrying in plaintext (opportunistic TLS)" % evidence)
        try:
            self.open()
            self._arm()
            self.smtp.ehlo()
        except (OSError, smtplib.SMTPException) as exc2:
            return self.fail("connect", "connect", "reconnect to %s:%s failed" % (self.ip, self.port), _errno_text(exc2))
        return True

    def verification_failed(self, exc):
        facts = self.fetch_unverified_certificate()
        cls = classify_verify_code(exc.verify_code, bool(facts and facts["self_signed"]))
        self.step("starttls", True, "TLS handshake completed; certificate verification failed")
        evidence = "verify error %s (%s); %s" % (exc.verify_code, exc.verify_message, describe_certificate(facts))
        return self.certificate_failure(cls, facts, evidence)

    def fetch_unverified_certificate(self):
        """Reconnect without verification only to show the certificate the server presents."""
        try:
            self.open()
            self._arm()
            self.smtp.ehlo()
            self.starttls(_tls_context(None, None))
            return self.peer_certificate()
        except (OSError, ssl.SSLError, smtplib.SMTPException):
            return None
        finally:
            self.close()

    def certificate_failure(self, cls, facts, evidence):
        facts = facts or {}
        bounds = {"not_before": facts.get("not_before", "?"), "not_after": facts.get("not_after", "?")}
        messages = {
            "certificate_expired": "certificate of %s is %s" % (
                self.host, "not yet valid" if facts.get("not_yet_valid") else "expired"),
            "certificate_self_signed": "certificate of %s is self-signed" % self.host,
            "certificate_untrusted": "certificate of %s does not chain to a trusted CA" % self.host,
            "subject_mismatch": "certificate of %s does not match the host name" % self.host,
        }
        return self.fail(cls, "certificate", messages[cls], evidence, required=self.tls_domain or self.host,
                         presented=", ".join(certificate_names(facts)) or "none", **bounds)

    def check_certificate(self, facts):
        evidence = describe_certificate(facts)
        if self.tls_mode not in CERT_MODES:
            return self.step("certificate", True, "not verified (%s): %s" % (self.tls_mode or "opportunistic", evidence))
        if not facts:
            return self.certificate_failure("certificate_untrusted", facts, evidence)
        if self.tls_mode == "domain_validation":
            names = certificate_names(facts)
            if not any(hostname_matches(name, self.tls_domain) for name in names):
                return self.fail("subject_mismatch", "certificate",
                                 "certificate of %s does not match %s" % (self.host, self.tls_domain),
                                 "presented CN=%s SAN=%s; required %s; %s" % (
                                     facts.get("common_name"), ",".join(facts["san_dns"]) or "-", self.tls_domain, evidence),
                                 required=self.tls_domain, presented=", ".join(names) or "none")
        return self.step("certificate", True, "trusted (%s): %s" % (self.tls_mode, evidence))

    # -- delivery
    def deliver(self, sender, recipients):
        try:
            self._arm()
            code, reply = self.smtp.mail(sender)
            if code != 250:
                for rcpt in recipients:
                    self.reject(rcpt, "mail_from", code, reply, "sender %s was refused" % sender)
                return False
            self.step("mail_from", True, "%s %s" % (code, _text(reply)))
            accepted = [rcpt for rcpt in recipients if self.rcpt(rcpt)]
            return bool(accepted) and self.data(sender, accepted)
        except (OSError, smtplib.SMTPException) as exc:
            for rcpt in recipients:
                if rcpt not in self.result["delivered"]:
                    self.fail("recipient_rejected", "data", "delivery to %s broke off" % rcpt, _errno_text(exc),
                              recipient=rcpt, temporary=True)
            return False

    def rcpt(self, rcpt):
        self._arm()
        code, reply = self.smtp.rcpt(rcpt)
        if code in (250, 251):
            return self.step("rcpt", True, "%s %s" % (code, _text(reply)), recipient=rcpt)
        return self.reject(rcpt, "rcpt", code, reply, "%s was refused" % rcpt)

    def reject(self, rcpt, step, code, reply, what):
        temporary = 400 <= code < 500
        return self.fail("recipient_rejected", step, "%s by %s (%s)" % (what, self.host, "temporary" if temporary else "permanent"),
                         "%s %s" % (code, _text(reply)), recipient=rcpt, temporary=temporary)

    def data(self, sender, accepted):
        message = build_test_message(sender, accepted, self.ehlo_name)
        self._arm()
        try:
            code, reply = self.smtp.data(message.as_bytes())
        except smtplib.SMTPDataError as exc:
            for rcpt in accepted:
                self.reject(rcpt, "data", exc.smtp_code, exc.smtp_error, "message to %s was refused" % rcpt)
            return False
        reply = _text(reply)
        match = _QUEUE_ID_RE.search(reply)
        self.result.update(message_id=message["Message-ID"], probe_id=message[PROBE_HEADER],
                           queue_id=match.group(1) if match else None)
        self.result["delivered"] = list(accepted)
        for rcpt in accepted:
            self.step("data", True, "%s %s" % (code, reply), recipient=rcpt)
        return True


def _default_ehlo_name():
    name = socket.gethostname()
    return name if "." in name else "mailflow-probe.localdomain"


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").replace("\n", " ").strip()
    return str(value)


def _errno_text(exc):
    if isinstance(exc, socket.timeout) or type(exc).__name__ == "TimeoutError":
        return "timed out: %s" % (exc or "no answer")
    if isinstance(exc, ssl.SSLError):
        return "%s: %s" % (type(exc).__name__, getattr(exc, "reason", None) or exc)
    if isinstance(exc, smtplib.SMTPResponseException):
        return "%s %s" % (exc.smtp_code, _text(exc.smtp_error))
    if getattr(exc, "errno", None) and getattr(exc, "strerror", None):
        return "[%s %s] %s" % (errno.errorcode.get(exc.errno, exc.errno), exc.errno, exc.strerror)
    return "%s: %s" % (type(exc).__name__, exc)


def build_test_message(sender, recipients, ehlo_name):
    """The short test message: Subject, From, To, Date, Message-ID and a probe id header."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = TEST_SUBJECT
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = email.utils.make_msgid("mailflow-probe", domain=ehlo_name)
    message[PROBE_HEADER] = uuid.uuid4().hex
    message.set_content("This is a connector validation test message sent by the m365.mailflow Ansible collection.\n"
                        "No action is needed.\n")
    return message


def probe_host(host, port=25, tls_mode="certificate_validation", tls_domain=None, ca_path=None, timeout=10.0,
               ehlo_name=None, sender=None, recipients=None, send=False, ip=None):
    """Probe one SMTP host the way the connector's TlsSettings would, optionally delivering a test message."""
    tls_mode = _checked_mode(tls_mode, tls_domain)
    started = time.monotonic()
    probe = _Probe(host, ip or host, int(port), tls_mode, tls_domain, ca_path, float(timeout), ehlo_name)
    try:
        ok = probe.connect() and probe.ehlo() and probe.tls()
        if ok and send and recipients:
            ok = probe.deliver(sender or "postmaster@" + probe.ehlo_name, list(recipients))
    except socket.timeout as exc:
        probe.fail("connect", "timeout", "probe of %s:%s did not finish in %.1fs" % (probe.ip, port, timeout), _errno_text(exc))
    finally:
        probe.close()
    probe.result["ok"] = not probe.result["failures"]
    probe.result["elapsed"] = round(time.monotonic() - started, 3)
    return probe.result


# ---------------------------------------------------------------- DNS


class _LookupFailure(Exception):
    def __init__(self, reason, evidence):
        super(_LookupFailure, self).__init__(reason)
        self.reason, self.evidence = reason, evidence


def _make_resolver(dns_servers, timeout):
    """dnspython resolver for ``dns_servers`` ("ip" or "ip:port", also "[v6]:port") or the system configuration."""
    _require(HAS_DNSPYTHON, DNSPYTHON_IMPORT_ERROR, "dnspython")
    if dns_servers:
        resolver = dns.resolver.Resolver(configure=False)
        servers = [_split_server(server) for server in dns_servers]
        resolver.nameservers = [addr for addr, _port in servers]
        resolver.nameserver_ports = dict(servers)
    else:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration as exc:
            raise ConfigurationError("No system DNS resolver is configured (%s); pass dns_servers" % exc)
    resolver.timeout = min(float(timeout), 3.0)
    resolver.lifetime = float(timeout)
    resolver.cache = None
    return resolver


def _split_server(server):
    server = str(server).strip()
    if server.startswith("["):
        addr, _sep, port = server[1:].partition("]")
        port = port.lstrip(":")
    elif server.count(":") == 1:
        addr, _sep, port = server.partition(":")
    else:
        addr, port = server, ""
    if not _is_ip(addr) or (port and not port.isdigit()):
        raise ConfigurationError("dns_servers entries must be 'ip' or 'ip:port', not %r" % server)
    return addr, int(port or 53)


def _lookup_factory(dns_servers, timeout):
    """Return ``lookup(name, rdtype) -> list of rdata``; raises _LookupFailure. Tests replace this."""
    resolver = _make_resolver(dns_servers, timeout)
    where = ",".join(dns_servers) if dns_servers else "system resolver"

    def lookup(name, rdtype):
        query = "%s %s @%s" % (rdtype, name, where)
        try:
            return list(resolver.resolve(name, rdtype, search=False))
        except dns.resolver.NXDOMAIN:
            raise _LookupFailure("nxdomain", query + ": NXDOMAIN")
        except dns.resolver.NoAnswer:
            raise _LookupFailure("nodata", query + ": NOERROR, no %s records" % rdtype)
        except dns.resolver.NoNameservers as exc:
            raise _LookupFailure("servfail", "%s: no server answered (%s)" % (query, exc))
        except dns.exception.Timeout:
            raise _LookupFailure("timeout", "%s: timed out after %.1fs" % (query, timeout))
        except dns.exception.DNSException as exc:
            raise _LookupFailure("error", "%s: %s" % (query, exc))
    return lookup


class _MappedRecord(object):
    """An address record answered by a static host map (the interface of dnspython's A/AAAA rdata used here)."""

    def __init__(self, ip):
        self.ip = ip

    def to_text(self):
        return self.ip


def _mapped_lookup(host_map, make_lookup):
    """``lookup`` that answers the names of a static host map (hostmap.py) and asks DNS, made on first need, for
    every other name. A mapped name has its address record and no MX (a mapped domain is its own implicit MX)."""
    dns_lookup = []

    def lookup(name, rdtype):
        entry = hostmap.lookup_entry(host_map, name)
        if entry is None:
            if not dns_lookup:
                dns_lookup.append(make_lookup())
            return dns_lookup[0](name, rdtype)
        family = "AAAA" if ":" in entry[0] else "A"
        if rdtype == family:
            return [_MappedRecord(entry[0])]
        raise _LookupFailure("nodata", "%s %s: static host map, no %s record (%s)"
                             % (rdtype, name, rdtype, hostmap.format_address(*entry)))
    return lookup


def _address_records(lookup, name):
    """A records of ``name``; AAAA only when there is no A. Returns (ips, evidence, reason of the failure)."""
    try:
        return [r.to_text() for r in lookup(name, "A")], None, None
    except _LookupFailure as first:
        if first.reason not in ("nodata",):
            return [], first.evidence, first.reason
        try:
            return [r.to_text() for r in lookup(name, "AAAA")], None, None
        except _LookupFailure as second:
            return [], first.evidence + "; " + second.evidence, second.reason


def _resolve_failure(name, message, evidence, reason=None):
    """A failed lookup: a missing record (``resolve``), or a resolver that did not answer (``resolver_timeout``)."""
    if reason == "timeout":
        return _failure("resolver_timeout", "resolve", "DNS lookup for %s timed out: the resolver did not answer, so "
                        "its records are unknown" % name, evidence, host=name)
    return _failure("resolve", "resolve", message, evidence, host=name)


def _host_entry(lookup, name, via, preference):
    """Route entry for one host name or IP literal, or a resolve failure."""
    if _is_ip(name):
        return {"host": name, "ips": [name], "via": via, "preference": preference}, None
    ips, evidence, reason = _address_records(lookup, name)
    if not ips:
        return None, _resolve_failure(name, "%s has no A/AAAA record" % name, evidence, reason)
    return {"host": name, "ips": ips, "via": via, "preference": preference}, None


def _mx_hosts(lookup, domain):
    """[(preference, host, via)] for a recipient domain (implicit MX when there is none); raises _LookupFailure."""
    try:
        records = lookup(domain, "MX")
    except _LookupFailure as exc:
        if exc.reason != "nodata":
            raise
        return [(0, domain, "a:" + domain)]
    hosts = sorted((r.preference, _norm_name(r.exchange.to_text())) for r in records)
    if any(host == "" for _pref, host in hosts):
        raise _LookupFailure("nullmx", "MX %s: null MX (0 .) - the domain accepts no mail" % domain)
    return [(pref, host, "mx:" + domain) for pref, host in hosts]


_MX_MESSAGES = {
    "nxdomain": "recipient domain %s does not exist in DNS (NXDOMAIN)",
    "nullmx": "recipient domain %s publishes a null MX and accepts no mail",
}


def _domain_entries(lookup, domain):
    try:
        targets = _mx_hosts(lookup, domain)
    except _LookupFailure as exc:
        return [], [_resolve_failure(domain, _MX_MESSAGES.get(exc.reason, "MX lookup for %s failed") % domain, exc.evidence,
                                     exc.reason)]
    entries, failures = [], []
    for preference, host, via in targets:
        entry, failure = _host_entry(lookup, host, via, preference)
        if entry:
            entries.append(entry)
        else:
            if via.startswith("a:") and failure["class"] == "resolve":
                failure["message"] = "%s has neither MX nor A/AAAA records" % domain
            failures.append(failure)
    return entries, failures


def _route_domains(recipient_domains, recipients):
    domains = []
    for domain in list(recipient_domains or []) + [_recipient_domain(r) for r in recipients or []]:
        domain = _norm_name(domain)
        if domain and "*" not in domain and domain not in domains:
            domains.append(domain)
    return domains


def _recipient_domain(recipient):
    return _norm_name(recipient.rpartition("@")[2])


def resolve_route(smart_hosts=None, recipient_domains=None, dns_servers=None, timeout=5.0, host_map=None):
    """Hosts of the route: the smart hosts, else the MX hosts of each recipient domain by preference.

    ``host_map`` (hostmap.py, the sandbox's static host map) answers the names it holds; a host it gives a port
    carries it in its entry (``port``), which replaces the probe's port for that host.
    """
    if host_map:
        lookup = _mapped_lookup(host_map, lambda: _lookup_factory(dns_servers, timeout))
    else:
        lookup = _lookup_factory(dns_servers, timeout)
    hosts, failures = [], []
    if smart_hosts:
        for name in smart_hosts:
            entry, failure = _host_entry(lookup, _norm_name(name), "smart_host", None)
            hosts.extend([entry] if entry else [])
            failures.extend([failure] if failure else [])
    else:
        for domain in _route_domains(recipient_domains, None):
            entries, domain_failures = _domain_entries(lookup, domain)
            hosts.extend(entries)
            failures.extend(domain_failures)
    for entry in hosts:
        mapped = hostmap.lookup_entry(host_map, entry["host"])
        if mapped and mapped[1]:
            entry["port"] = mapped[1]
    return {"hosts": hosts, "failures": failures}


# ---------------------------------------------------------------- whole route


def _pool_map(func, items, max_workers):
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(int(max_workers), len(items)))) as pool:
        return list(pool.map(func, items))


def _delivery_plan(route, recipients, smart_hosts, results):
    """[(target, recipients)]: each recipient goes through the first passing host of its route."""
    passing = {}
    for entry, result in zip(_targets(route), results):
        if result["ok"]:
            passing.setdefault(entry[0]["via"], entry)
    plan = {}
    for rcpt in recipients:
        key = "smart_host" if smart_hosts else _via_for(passing, _recipient_domain(rcpt))
        if key in passing:
            plan.setdefault(key, (passing[key], []))[1].append(rcpt)
    return list(plan.values())


def _via_for(passing, domain):
    for via in ("mx:" + domain, "a:" + domain):
        if via in passing:
            return via
    return None


def _targets(route):
    return [(entry, ip) for entry in route["hosts"] for ip in entry["ips"]]


def validate_route(smart_hosts=None, recipient_domains=None, recipients=None, tls_mode="certificate_validation",
                   tls_domain=None, ca_path=None, dns_servers=None, smtp_port=25, timeout=10.0, sender=None,
                   send=False, max_workers=16, host_map=None):
    """Resolve the route, probe every host concurrently and optionally deliver a test message per recipient."""
    tls_mode = _checked_mode(tls_mode, tls_domain)
    smtp_port = 25 if smtp_port is None else int(smtp_port)
    timeout = 10.0 if timeout is None else float(timeout)
    if not smart_hosts and not _route_domains(recipient_domains, recipients):
        raise ConfigurationError("validate_route needs smart_hosts, or recipient_domains/recipients for MX routing")
    recipients = list(recipients or [])
    route = resolve_route(smart_hosts, _route_domains(recipient_domains, recipients), dns_servers, min(timeout, 10.0),
                          host_map=host_map)
    options = dict(tls_mode=tls_mode, tls_domain=tls_domain, ca_path=ca_path, timeout=timeout, sender=sender)

    def run(item, send_to=None):
        (entry, ip) = item
        return probe_host(entry["host"], ip=ip, port=entry.get("port", smtp_port), recipients=send_to,
                          send=bool(send_to), **options)

    targets = _targets(route)
    results = _pool_map(run, targets, max_workers)
    if send and recipients:
        plan = _delivery_plan(route, recipients, smart_hosts, results)
        sent = _pool_map(lambda job: (job[0], run(job[0], job[1])), plan, max_workers)
        for target, result in sent:
            results[targets.index(target)] = result
    failures = route["failures"] + [f for result in results for f in result["failures"]]
    return {"validated": not failures and bool(results), "hosts": results, "failures": failures, "route": route}


# ---------------------------------------------------------------- Validate-OutboundConnector result tree


_STEP_TASKS = {
    "connect": "Connect to {host}:{port}", "timeout": "Connect to {host}:{port}", "ehlo": "SMTP EHLO {host}",
    "ehlo_tls": "SMTP EHLO {host}", "starttls": "STARTTLS {host}", "certificate": "Certificate {host}",
}


def _task(name, ok, detail, subtasks=None):
    return {"TaskName": name, "IsTaskSuccessful": bool(ok), "TaskDetail": detail,
            "SubTaskResults": list(subtasks or []), "ChangedProperties": []}


def format_task_detail(failure):
    """TaskDetail for a failure: "[class] message | fix: ... | host: ... | ... | evidence: ..." (evidence last)."""
    parts = ["[%s] %s" % (failure["class"], _one_line(failure["message"]))]
    for key in _DETAIL_FIELDS:
        value = failure.get(key)
        if value is not None and value != "":
            parts.append("%s: %s" % (key, _one_line(value) if key != "evidence" else str(value).replace("\n", " ")))
    return " | ".join(parts)


def _one_line(value):
    return str(value).replace("|", "/").replace("\n", " ")


def classify_task_detail(text):
    """Failure class carried by a TaskDetail string, or None."""
    match = _DETAIL_RE.match(text or "")
    if match and match.group(1) in FAILURE_CLASSES:
        return match.group(1)
    return None


def parse_task_detail(text):
    """Failure dict from a TaskDetail made by format_task_detail (None when it carries no class)."""
    cls = classify_task_detail(text)
    if cls is None:
        return None
    body = _DETAIL_RE.sub("", text, count=1)
    head, _sep, evidence = body.partition(" | evidence: ")
    pieces = head.split(" | ")
    failure = {"class": cls, "message": pieces[0], "host": None, "ip": None, "port": None, "step": None,
               "evidence": evidence, "fix": ""}
    for piece in pieces[1:]:
        key, _sep, value = piece.partition(": ")
        if key in _DETAIL_FIELDS:
            failure[key] = value
    if failure["port"] and str(failure["port"]).isdigit():
        failure["port"] = int(failure["port"])
    if "temporary" in failure:
        failure["temporary"] = failure["temporary"] == "True"
    return failure


# Task names of the real service are not documented; the admin center names these tasks (connector_cmdlets.md 4).
_TASK_NAME_CLASSES = (
    ("resolve", "resolve", "Check the smart host or MX name for typos and that it has MX or A records in public DNS"),
    ("connect", "connect", "Open TCP port 25 on the partner's server to the Exchange Online Protection IP ranges"),
    ("ehlo", "ehlo", "Point the connector at the partner's mail server; the host answered but is not an SMTP server"),
    ("tls", "starttls", "Ask the partner to offer STARTTLS with a valid certificate on port 25"),
    ("certificate", "certificate_untrusted", "Ask the partner for a certificate from a public CA matching the TLS domain"),
    ("send", "recipient_rejected", "Ask the partner to accept mail from O365ConnectorValidation@<tenant> to the recipients"),
    ("email", "recipient_rejected", "Ask the partner to accept mail from O365ConnectorValidation@<tenant> to the recipients"),
)


def _failure_from_task_name(node):
    """A failure for a failed task of the real service, whose TaskDetail carries no class prefix."""
    name = str(node.get("TaskName") or "")
    for keyword, cls, fix in _TASK_NAME_CLASSES:
        if keyword in name.lower():
            break
    else:
        cls, fix = "unknown", "Read the failing task in service_result"
    return {"class": cls, "message": "%s failed" % (name or "a validation task"), "host": None, "ip": None, "port": None,
            "step": name, "evidence": str(node.get("TaskDetail") or ""), "fix": fix}


def _failed(node):
    return isinstance(node, dict) and not node.get("IsTaskSuccessful", True)


def _walk(tree):
    nodes = list(tree) if isinstance(tree, list) else [tree]
    while nodes:
        node = nodes.pop(0)
        if isinstance(node, dict):
            children = list(node.get("SubTaskResults") or [])
            yield node, children
            nodes[0:0] = children


def failures_from_tree(tree):
    """All failures in a Validate-OutboundConnector result tree (dict or list of roots), depth first.

    Details made by ``format_task_detail`` carry their class (the sandbox tenant's tree). A tree in which no
    failure carries one (the real service) has its failed leaf tasks classified from their task names.
    """
    found = [parse_task_detail(node.get("TaskDetail")) for node, _children in _walk(tree) if _failed(node)]
    found = [f for f in found if f]
    if found:
        return found
    return [_failure_from_task_name(node) for node, children in _walk(tree)
            if _failed(node) and not any(_failed(child) for child in children)]


def _resolve_tasks(route):
    tasks = [_task("Resolve %s" % entry["host"], True, "%s -> %s" % (entry["via"], ", ".join(entry["ips"])))
             for entry in route["hosts"]]
    tasks.extend(_task("Resolve %s" % f["host"], False, format_task_detail(f)) for f in route["failures"])
    return tasks


def _host_tasks(result):
    tasks = []
    for step in result["steps"]:
        template = _STEP_TASKS.get(step["step"])
        if template:
            tasks.append(_task(template.format(host=result["host"], port=result["port"]), step["ok"],
                               _step_detail(result, step)))
    return tasks


def _step_detail(result, step):
    if step["ok"]:
        return "%s (%s)" % (step["detail"], result["ip"])
    failure = next(f for f in result["failures"] if f["step"] == step["step"])
    return format_task_detail(failure)


def _send_tasks(report, recipients):
    tasks = []
    for rcpt in recipients:
        failure = next((f for f in report["failures"] if f.get("recipient") == rcpt), None)
        host = next((r for r in report["hosts"] if rcpt in r["delivered"]), None)
        if host:
            detail = "Delivered via %s (%s:%s), queue id %s, Message-ID %s" % (
                host["host"], host["ip"], host["port"], host.get("queue_id"), host.get("message_id"))
            tasks.append(_task("Send test email to %s" % rcpt, True, detail))
        elif failure:
            tasks.append(_task("Send test email to %s" % rcpt, False, format_task_detail(failure)))
        else:
            tasks.append(_task("Send test email to %s" % rcpt, False, "Not sent: no host on the route to %s passed "
                               "validation" % _recipient_domain(rcpt)))
    return tasks


def service_validation(connector, recipients, sender, dns_servers=None, smtp_port=25, ca_path=None, timeout=10.0,
                       host_map=None):
    """Validate-OutboundConnector for the sandbox tenant: probe the connector's route and send test messages."""
    use_mx = connector.get("UseMXRecord", True)
    smart_hosts = None if use_mx else list(connector.get("SmartHosts") or [])
    recipients = list(recipients or [])
    report = validate_route(smart_hosts=smart_hosts, recipients=recipients,
                            tls_mode=normalize_tls_mode(connector.get("TlsSettings")),
                            tls_domain=connector.get("TlsDomain"), ca_path=ca_path, dns_servers=dns_servers,
                            smtp_port=smtp_port, timeout=timeout, sender=sender, send=True, host_map=host_map)
    subtasks = _resolve_tasks(report["route"])
    for result in report["hosts"]:
        subtasks.extend(_host_tasks(result))
    subtasks.extend(_send_tasks(report, recipients))
    ok = report["validated"] and all(task["IsTaskSuccessful"] for task in subtasks)
    return _task("Validate outbound connector %s" % connector.get("Name"), ok, _root_detail(report, subtasks), subtasks)


def _root_detail(report, subtasks):
    failed = [task for task in subtasks if not task["IsTaskSuccessful"]]
    if not failed:
        return "All %d task(s) succeeded on %d host(s)" % (len(subtasks), len(report["hosts"]))
    classes = sorted(set(filter(None, (classify_task_detail(t["TaskDetail"]) for t in failed))))
    return "%d of %d task(s) failed; failure classes: %s" % (len(failed), len(subtasks), ", ".join(classes) or "none")
