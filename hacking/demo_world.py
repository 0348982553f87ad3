#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The demo world of `make demo`: three partner mail servers on 127.0.0.1 for the duration of one command.

    hacking/demo_world.py [--state DIR] [--sandbox FILE] -- COMMAND [ARG...]

starts the servers, runs COMMAND with ``-e @DIR/world.yml`` appended and ``EXO_SANDBOX`` set, prints what each
server received, stops the servers and exits with COMMAND's status. The servers are threads of this process
(aiosmtpd, STARTTLS), so nothing outlives it: not a failed command, not Ctrl-C, not SIGTERM. No root, no system
service, nothing but loopback.

    partner    host (static host map)   certificate                                      outbound TLS setting
    Fabrikam   fabrikam.example         demo CA -> fabrikam.example                      certificate_validation
    Litware    smtp.litware.example     self-signed smtp.litware.example                 encryption_only
    Adatum     mail.adatum.example      demo CA -> mail.adatum-legacy.example (wrong)    domain_validation *.adatum.example

The partners are examples/partners/*.yml, unchanged: the world gives their names servers. DIR (default
.sandbox/demo-world) keeps the demo CA and certificates (remade when missing or close to expiry) and the ports of
the last run, which are taken again when free, so that a second run configures nothing new (changed=0). world.yml
holds the variables the demo playbooks read: ``demo_world`` (sandbox file, host map, CA file) and
``mailflow_validation`` (the local probe is off: the control node's DNS does not know the demo names; the sandbox's
Validate-OutboundConnector does, through the host map).
"""

from __future__ import absolute_import, division, print_function

import argparse
import datetime
import email
import email.policy
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
CHILD_GRACE = 15.0

# name, host in the host map, domains the server accepts mail for, certificate kind, names on the certificate
PARTNERS = (
    ("Fabrikam", "fabrikam.example", ("fabrikam.example",), "ca", ("fabrikam.example", "mx.fabrikam.example")),
    ("Litware", "smtp.litware.example", ("litware.example",), "self", ("smtp.litware.example",)),
    ("Adatum", "mail.adatum.example", ("adatum.example",), "ca", ("mail.adatum-legacy.example",)),
)


def _missing(what, exc):
    sys.stderr.write("demo world: %s is not installed (%s). Run `make venv` (tests/requirements.txt) first.\n"
                     % (what, exc))
    sys.exit(2)


_AIOSMTPD_ERROR = _CRYPTOGRAPHY_ERROR = None
try:
    from aiosmtpd.controller import Controller
except ImportError as exc:  # pragma: no cover - depends on the venv
    Controller = None
    _AIOSMTPD_ERROR = exc
try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
except ImportError as exc:  # pragma: no cover - depends on the venv
    x509 = None
    _CRYPTOGRAPHY_ERROR = exc


# ------------------------------------------------------------------------------------------------ certificates

def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _write(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "m365.mailflow demo world"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, key, signing_key, names=(), ca=False, days=30):
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(_now() - datetime.timedelta(minutes=5))
               .not_valid_after(_now() + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(cert, key):
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _valid_for_a_while(path):
    try:
        with open(path, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
    except (IOError, OSError, ValueError):
        return False
    not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return not_after - _now() > datetime.timedelta(days=2)


def make_certificates(directory):
    """The demo CA and one certificate per partner, kept in ``directory`` while they are valid for 2 more days."""
    if x509 is None:
        _missing("cryptography", _CRYPTOGRAPHY_ERROR)
    paths = {"ca": os.path.join(directory, "demo-ca.pem")}
    for name, _host, _domains, _kind, _names in PARTNERS:
        paths[name] = (os.path.join(directory, "%s.crt" % name.lower()), os.path.join(directory, "%s.key" % name.lower()))
    if all(_valid_for_a_while(p[0] if isinstance(p, tuple) else p) for p in paths.values()):
        return paths
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("m365.mailflow demo CA")
    ca_cert = _certificate(ca_name, ca_name, ca_key, ca_key, ca=True, days=60)
    for name, _host, _domains, kind, names in PARTNERS:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(names[0])
        if kind == "self":
            cert = _certificate(subject, subject, key, key, names=names)
        else:
            cert = _certificate(subject, ca_name, key, ca_key, names=names)
        cert_pem, key_pem = _pem(cert, key)
        _write(paths[name][0], cert_pem + (ca_cert.public_bytes(serialization.Encoding.PEM) if kind == "ca" else b""),
               0o644)
        _write(paths[name][1], key_pem)
    _write(paths["ca"], ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return paths


# ------------------------------------------------------------------------------------------------ servers

class Mailbox(object):
    """aiosmtpd handler of one partner: accepts its domains' recipients, keeps each message as a file."""

    def __init__(self, partner, domains, directory):
        self.partner, self.domains, self.directory = partner, tuple(domains), directory
        self.received = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        del server, session, rcpt_options
        if address.rpartition("@")[2].lower() not in self.domains:
            return "550 5.1.1 <%s>: this demo server takes mail for %s only" % (address, ", ".join(self.domains))
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        del server
        message = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        with self.lock:
            number = len(os.listdir(self.directory)) + 1
            path = os.path.join(self.directory, "%04d.eml" % number)
            _write(path, envelope.original_content or b"", 0o644)
            self.received.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                  "subject": str(message.get("Subject", "")), "tls": bool(session.ssl), "file": path})
        return "250 2.0.0 OK: queued as DEMO%04d" % number


def _port_free(port):
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _free_port():
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
    finally:
        probe.close()


class World(object):
    """The three servers; ``start()`` then ``stop()`` (also as a context manager)."""

    def __init__(self, state_dir):
        self.state_dir = os.path.abspath(state_dir)
        self.controllers = []
        self.mailboxes = {}
        self.ports = {}

    def _remembered_ports(self):
        try:
            with open(os.path.join(self.state_dir, "ports.json")) as handle:
                return dict((k, int(v)) for k, v in json.load(handle).items())
        except (IOError, OSError, ValueError, TypeError, AttributeError):
            return {}

    def start(self):
        if Controller is None:
            _missing("aiosmtpd", _AIOSMTPD_ERROR)
        os.makedirs(self.state_dir, exist_ok=True)
        certs = make_certificates(self.state_dir)
        self.ca_path = certs["ca"]
        remembered = self._remembered_ports()
        for name, host, domains, _kind, _names in PARTNERS:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*certs[name])
            inbox = os.path.join(self.state_dir, "received", name.lower())
            os.makedirs(inbox, exist_ok=True)
            for old in os.listdir(inbox):  # what the servers received in this run only
                os.remove(os.path.join(inbox, old))
            mailbox = Mailbox(name, domains, inbox)
            port = remembered.get(name)
            for _attempt in range(5):  # bounded: a port taken between the check and the bind is tried again
                if not port or not _port_free(port):
                    port = _free_port()
                controller = Controller(mailbox, hostname="127.0.0.1", port=port, ready_timeout=READY_TIMEOUT,
                                        server_hostname=host, ident="m365.mailflow demo world (%s)" % name,
                                        tls_context=context, require_starttls=False)
                try:
                    controller.start()
                    break
                except (OSError, RuntimeError, TimeoutError):
                    port = None
            else:
                raise RuntimeError("demo world: no free port on 127.0.0.1 for %s's server" % name)
            self.controllers.append(controller)
            self.mailboxes[name] = mailbox
            self.ports[name] = port
        with open(os.path.join(self.state_dir, "ports.json"), "w") as handle:
            json.dump(self.ports, handle, indent=2, sort_keys=True)
        return self

    def stop(self):
        while self.controllers:
            controller = self.controllers.pop()
            try:
                controller.stop()
            except (RuntimeError, OSError, AssertionError):
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def host_map(self):
        return dict((host, "127.0.0.1:%d" % self.ports[name]) for name, host, _d, _k, _n in PARTNERS)

    def variables(self, sandbox):
        return {
            "demo_world": {"sandbox": sandbox, "hosts": self.host_map(), "ca_path": self.ca_path, "timeout": 5},
            "mailflow_validation": {"probe": False},
        }

    def report(self):
        lines = ["", "Demo world: what the partner servers on 127.0.0.1 received in this run"]
        for name, host, _domains, _kind, names in PARTNERS:
            got = self.mailboxes[name].received
            what = "; ".join("'%s' to %s%s" % (m["subject"], ", ".join(m["to"]), " over TLS" if m["tls"] else "")
                             for m in got) or "nothing"
            lines.append("  %-9s %s (%s, certificate for %s): %d message(s): %s"
                         % (name, host, self.host_map()[host], ", ".join(names), len(got), what))
        return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ running

class _Stop(Exception):
    pass


def _on_signal(signum, frame):
    del frame
    raise _Stop(signum)


def run(state_dir, sandbox, command):
    """Start the world, run ``command`` with the world's variables, stop the world; the command's exit status."""
    previous = signal.signal(signal.SIGTERM, _on_signal)
    world = World(state_dir)
    child = None
    try:
        world.start()
        vars_file = os.path.join(world.state_dir, "world.yml")
        with open(vars_file, "w") as handle:
            json.dump(world.variables(sandbox), handle, indent=2, sort_keys=True)  # JSON is YAML
        env = dict(os.environ, EXO_SANDBOX=sandbox)
        sys.stdout.write("Demo world: partner servers on 127.0.0.1 (%s); variables in %s\n"
                         % (", ".join("%s %s" % (h, a) for h, a in sorted(world.host_map().items())), vars_file))
        sys.stdout.flush()
        child = subprocess.Popen(list(command) + ["-e", "@" + vars_file], env=env)
        status = child.wait()
        sys.stdout.write(world.report())
        return status
    except (KeyboardInterrupt, _Stop):
        sys.stderr.write("\ndemo world: interrupted; stopping the servers\n")
        return 130
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(CHILD_GRACE)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(CHILD_GRACE)
        world.stop()
        signal.signal(signal.SIGTERM, previous)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--state", default=os.path.join(REPO, ".sandbox", "demo-world"),
                        help="directory for the certificates, ports and received messages")
    parser.add_argument("--sandbox", default=os.environ.get("EXO_SANDBOX") or os.path.join(REPO, ".sandbox", "tenant.db"),
                        help="the sandbox tenant file (default: EXO_SANDBOX or .sandbox/tenant.db)")
    parser.add_argument("command", nargs="+", help="the command to run while the world is up")
    args = parser.parse_args(argv)
    return run(args.state, os.path.abspath(args.sandbox), args.command)


if __name__ == "__main__":
    sys.exit(main())
