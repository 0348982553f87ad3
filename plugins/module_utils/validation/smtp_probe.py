# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SMTP/TLS probe of a partner mail route, run from the control node.

Resolves the route (``routes``: smart hosts, or MX of the recipient domains), then for every host: TCP connect,
banner, EHLO, STARTTLS, TLS handshake and a certificate check (``certificates``) that follows the outbound
connector's TlsSettings (EncryptionOnly, CertificateValidation, DomainValidation + TlsDomain), and optionally
delivers a test message. Every failure is a dict with a fixed ``class`` (``failures.FAILURE_CLASSES``), evidence
and a one-line fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import errno
import os.path
import re
import smtplib
import socket
import ssl
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.validation.certificates import (
    certificate_facts, certificate_names, classify_verify_code, describe_certificate, hostname_matches,
)
from ansible_collections.m365.mailflow.plugins.module_utils.validation.failures import is_ip, make_failure
from ansible_collections.m365.mailflow.plugins.module_utils.service_data import TLS_SETTINGS
from ansible_collections.m365.mailflow.plugins.module_utils.validation.routes import recipient_domain, resolve_route, route_domains

# The connector's TLS modes (service_data.TLS_SETTINGS); None is opportunistic TLS. CERT_MODES verify the certificate.
TLS_MODES = (None,) + tuple(mode for mode, _setting in TLS_SETTINGS)
CERT_MODES = ("certificate_validation", "domain_validation")
TLS_SETTINGS_TO_MODE = dict([(None, None), ("", None)] + [(setting.lower(), mode) for mode, setting in TLS_SETTINGS])
TEST_SUBJECT = "Connector validation test from m365.mailflow"
PROBE_HEADER = "X-M365-Mailflow-Probe"
_QUEUE_ID_RE = re.compile(r"queued as ([A-Za-z0-9]+)")


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
        failure = make_failure(cls, step, message, evidence, host=self.host, ip=self.ip, port=self.port, **fix_args)
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
        server_hostname = None if is_ip(self.host) else self.host
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
        key = "smart_host" if smart_hosts else _via_for(passing, recipient_domain(rcpt))
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
                   send=False, max_workers=16):
    """Resolve the route, probe every host concurrently and optionally deliver a test message per recipient."""
    tls_mode = _checked_mode(tls_mode, tls_domain)
    smtp_port = 25 if smtp_port is None else int(smtp_port)
    timeout = 10.0 if timeout is None else float(timeout)
    if not smart_hosts and not route_domains(recipient_domains, recipients):
        raise ConfigurationError("validate_route needs smart_hosts, or recipient_domains/recipients for MX routing")
    recipients = list(recipients or [])
    route = resolve_route(smart_hosts, route_domains(recipient_domains, recipients), dns_servers, min(timeout, 10.0))
    options = dict(port=smtp_port, tls_mode=tls_mode, tls_domain=tls_domain, ca_path=ca_path, timeout=timeout, sender=sender)

    def run(item, send_to=None):
        (entry, ip) = item
        return probe_host(entry["host"], ip=ip, recipients=send_to, send=bool(send_to), **options)

    targets = _targets(route)
    results = _pool_map(run, targets, max_workers)
    if send and recipients:
        plan = _delivery_plan(route, recipients, smart_hosts, results)
        sent = _pool_map(lambda job: (job[0], run(job[0], job[1])), plan, max_workers)
        for target, result in sent:
            results[targets.index(target)] = result
    failures = route["failures"] + [f for result in results for f in result["failures"]]
    return {"validated": not failures and bool(results), "hosts": results, "failures": failures, "route": route}
