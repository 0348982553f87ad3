# -*- coding: utf-8 -*-
"""Real loopback mail servers for connector validation tests: a private Postfix instance and dnsmasq.

Postfix (one instance per test session, config under a private /tmp dir) listens on several loopback IPs on
ONE free port, one smtpd per scenario:

    ip          scenario     DNS (dnsmasq)                                    certificate
    127.0.0.2   good         adatum.example MX 10 mail.adatum.example         *.adatum.example + mail.adatum.example (test CA)
    127.0.0.3   mismatch     mismatch.example MX 10 mx.mismatch.example       mail.other.example (test CA)
    127.0.0.4   selfsigned   selfsigned.example MX 10 mx.selfsigned.example   self-signed mx.selfsigned.example
    127.0.0.5   expired      expired.example MX 10 mx.expired.example         expired mx.expired.example (test CA)
    127.0.0.6   notls        notls.example MX 10 mx.notls.example             none (no STARTTLS)
    127.0.0.7   closed       closed.example MX 10 mx.closed.example           nothing listens

Other DNS names: backup.example (MX 20 -> 127.0.0.3 host, MX 10 -> 127.0.0.2 host), amx.example (A only ->
127.0.0.2, implicit MX), nodata.example (exists, TXT only: NOERROR/NODATA), anything else under .example is
NXDOMAIN (``--local``, no upstream). Recipients ``nobody@<domain>`` get a real 550 and ``busy@<domain>`` a 450
on every scenario; all other recipients of the test domains are delivered to a Maildir per domain
(``received_messages()``), so tests can assert that Postfix received (or did not receive) a message.

Fixtures: ``mail_pki``, ``postfix_lab``, ``dnsmasq_server`` (session scoped). When a binary is missing the
tests are skipped, unless MAILFLOW_REQUIRE_SERVERS=1, then they fail with an explanation.
``SlowSmtpStub`` is a tiny threaded SMTP server with an artificial greeting delay (for benchmarks).
"""

from __future__ import absolute_import, division, print_function

import collections
import contextlib
import datetime
import email.parser
import email.policy
import fcntl
import os
import pwd
import grp
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from tests.support import pki

POSTFIX_BINARIES = ("postfix", "postconf")
DNSMASQ_BINARIES = ("dnsmasq",)
INSTALL_HINT = ("install them with: apt-get update && echo 'postfix postfix/main_mailer_type select No configuration' | "
                "debconf-set-selections && DEBIAN_FRONTEND=noninteractive apt-get install -y postfix swaks dnsmasq-base")
SBIN_PATH = os.pathsep.join(["/usr/sbin", "/usr/bin", "/sbin", "/bin", os.environ.get("PATH", "")])

Scenario = collections.namedtuple("Scenario", "name ip host domain cert listening")

# name, ip, MX host, recipient domain, certificate kind (None = no STARTTLS), listening
SCENARIOS = (
    ("good", "127.0.0.2", "mail.adatum.example", "adatum.example", "good", True),
    ("mismatch", "127.0.0.3", "mx.mismatch.example", "mismatch.example", "mismatch", True),
    ("selfsigned", "127.0.0.4", "mx.selfsigned.example", "selfsigned.example", "selfsigned", True),
    ("expired", "127.0.0.5", "mx.expired.example", "expired.example", "expired", True),
    ("notls", "127.0.0.6", "mx.notls.example", "notls.example", None, True),
    ("closed", "127.0.0.7", "mx.closed.example", "closed.example", None, False),
)
REJECTED_LOCALPART = "nobody"
DEFERRED_LOCALPART = "busy"
NODATA_DOMAIN = "nodata.example"
NXDOMAIN_DOMAIN = "missing.example"
IMPLICIT_MX_DOMAIN = "amx.example"
BACKUP_DOMAIN = "backup.example"
ALT_CONFIG_LOCK = "/etc/postfix/.mailflow-alternate-config.lock"


def scenario_table(mail_pki=None):
    """OrderedDict name -> Scenario(name, ip, host, domain, cert Pair or None (= no STARTTLS), listening)."""
    certs = mail_pki.certs if mail_pki else {}
    return collections.OrderedDict(
        (name, Scenario(name, ip, host, domain, certs.get(cert) if cert else None, listening))
        for name, ip, host, domain, cert, listening in SCENARIOS)


# ---------------------------------------------------------------- binaries, ports, waiting


def missing_binaries(names):
    return [name for name in names if shutil.which(name, path=SBIN_PATH) is None]


def require_binaries(names, what):
    """Skip (or fail when MAILFLOW_REQUIRE_SERVERS=1) when one of ``names`` is not installed."""
    missing = missing_binaries(names)
    if missing:
        unavailable("%s needs %s, not installed; %s" % (what, ", ".join(missing), INSTALL_HINT))


def unavailable(message):
    """Skip the test, or fail it when MAILFLOW_REQUIRE_SERVERS=1."""
    if os.environ.get("MAILFLOW_REQUIRE_SERVERS") == "1":
        pytest.fail("MAILFLOW_REQUIRE_SERVERS=1: " + message, pytrace=False)
    pytest.skip(message)


def _binary(name):
    return shutil.which(name, path=SBIN_PATH)


def _can_bind(ip, port, kind=socket.SOCK_STREAM):
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def free_port(ips, kinds=(socket.SOCK_STREAM,), attempts=200):
    """A port that is free on every IP in ``ips`` (for every socket kind); bounded number of attempts."""
    for _attempt in range(attempts):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.bind((ips[0], 0))
        port = probe.getsockname()[1]
        probe.close()
        if all(_can_bind(ip, port, kind) for ip in ips for kind in kinds):
            return port
    raise RuntimeError("no free port on %s after %d attempts" % (", ".join(ips), attempts))


def wait_until(predicate, timeout, interval=0.1, what="condition"):
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` seconds pass (then raise)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("%s not reached within %.1fs" % (what, timeout))
        time.sleep(interval)


def _port_open(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=0.5):
            return True
    except OSError:
        return False


def _run(args, **kwargs):
    kwargs.setdefault("timeout", 60)
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          env=dict(os.environ, PATH=SBIN_PATH), check=False, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (%s): %s" % (" ".join(args), proc.returncode, proc.stdout))
    return proc.stdout


# ---------------------------------------------------------------- PKI


MailPki = collections.namedtuple("MailPki", "directory ca certs")


def make_mail_pki(directory):
    """The test CA and one certificate per scenario kind (see module docstring)."""
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    ca = pki.make_ca(directory, "m365.mailflow test mail CA")
    now = datetime.datetime.now(datetime.timezone.utc)
    certs = {
        "good": pki.issue_cert(ca, directory, "good", dns_names=("*.adatum.example", "mail.adatum.example"),
                               common_name="mail.adatum.example"),
        "mismatch": pki.issue_cert(ca, directory, "mismatch", dns_names=("mail.other.example",)),
        "selfsigned": pki.issue_cert(None, directory, "selfsigned", dns_names=("mx.selfsigned.example",), self_signed=True),
        "expired": pki.issue_cert(ca, directory, "expired", dns_names=("mx.expired.example",),
                                  not_before=now - datetime.timedelta(days=60), not_after=now - datetime.timedelta(days=1)),
    }
    return MailPki(directory, ca, certs)


# ---------------------------------------------------------------- Postfix


_MASTER_CF = """\
# private m365.mailflow test instance (generated)
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixLab(object):
    """A private Postfix instance in ``base`` serving every scenario on its own loopback IP and one port."""

    def __init__(self, base, mail_pki, port=None):
        self.base = base
        self.pki = mail_pki
        self.config_dir = os.path.join(base, "etc")
        self.queue_dir = os.path.join(base, "queue")
        self.data_dir = os.path.join(base, "data")
        self.mail_dir = os.path.join(base, "mail")
        self.maillog = os.path.join(base, "maillog")
        self.port = port or free_port([s[1] for s in SCENARIOS])
        self.scenarios = scenario_table(mail_pki)
        self.started = False

    # -- configuration
    @property
    def domains(self):
        return [s.domain for s in self.scenarios.values()] + [IMPLICIT_MX_DOMAIN, BACKUP_DOMAIN]

    def _main_cf(self):
        postfix = pwd.getpwnam("postfix")
        access = os.path.join(self.config_dir, "recipient_access")
        return {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "syslog_name": "postfix-mailflow-test",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": "/var, /dev/stdout, /tmp, %s" % self.base,
            "myhostname": "mx.mailflow-test.example",
            "mydomain": "mailflow-test.example",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "smtputf8_enable": "no",
            "smtpd_banner": "$myhostname ESMTP m365.mailflow test Postfix",
            "smtpd_peername_lookup": "no",
            "smtpd_recipient_restrictions": "check_recipient_access texthash:%s, permit_mynetworks, "
                                            "reject_unauth_destination" % access,
            "virtual_mailbox_domains": " ".join(self.domains),
            "virtual_mailbox_base": self.mail_dir,
            "virtual_mailbox_maps": "texthash:" + os.path.join(self.config_dir, "vmailbox"),
            "virtual_uid_maps": "static:%d" % postfix.pw_uid,
            "virtual_gid_maps": "static:%d" % postfix.pw_gid,
            "virtual_minimum_uid": str(min(100, postfix.pw_uid)),
            "smtpd_tls_security_level": "none",
            "smtp_tls_security_level": "none",
            "smtp_dns_support_level": "disabled",
        }

    def _smtpd_line(self, scenario):
        line = "%s:%d inet n - n - - smtpd -o syslog_name=postfix-mailflow-test/%s" % (scenario.ip, self.port, scenario.name)
        if scenario.cert is None:
            return line + " -o smtpd_tls_security_level=none"
        return line + (" -o smtpd_tls_security_level=may -o smtpd_tls_cert_file=%s -o smtpd_tls_key_file=%s"
                       % (scenario.cert.cert, scenario.cert.key))

    def write_config(self):
        for path in (self.base, self.config_dir, self.queue_dir):
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o755)
        postfix = pwd.getpwnam("postfix")
        for path in (self.data_dir, self.mail_dir):
            os.makedirs(path, exist_ok=True)
            os.chown(path, postfix.pw_uid, postfix.pw_gid)
            os.chmod(path, 0o700)
        with open(os.path.join(self.config_dir, "main.cf"), "w") as handle:
            handle.write("".join("%s = %s\n" % item for item in self._main_cf().items()))
        lines = [self._smtpd_line(s) for s in self.scenarios.values() if s.listening]
        with open(os.path.join(self.config_dir, "master.cf"), "w") as handle:
            handle.write(_MASTER_CF + "\n".join(lines) + "\n")
        with open(os.path.join(self.config_dir, "vmailbox"), "w") as handle:
            handle.write("".join("@%s %s/\n" % (domain, domain) for domain in self.domains))
        with open(os.path.join(self.config_dir, "recipient_access"), "w") as handle:
            for domain in self.domains:
                handle.write("%s@%s 550 5.1.1 mailbox unavailable (m365.mailflow test)\n" % (REJECTED_LOCALPART, domain))
                handle.write("%s@%s 450 4.2.1 mailbox busy, try later (m365.mailflow test)\n" % (DEFERRED_LOCALPART, domain))
        open(self.maillog, "a").close()

    # -- the default instance must list our config dir
    @contextlib.contextmanager
    def _default_main_cf(self):
        with open(ALT_CONFIG_LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not os.path.exists("/etc/postfix/main.cf"):
                    with open("/etc/postfix/main.cf", "w") as handle:
                        handle.write("# minimal default instance (created by m365.mailflow tests)\n"
                                     "compatibility_level = 3.6\nmaillog_file = /dev/stdout\n")
                current = _run(["postconf", "-h", "alternate_config_directories"]).strip()
                entries = [e for e in current.replace(",", " ").split() if e]
                yield entries
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _set_alternate(self, add):
        with self._default_main_cf() as entries:
            entries = [e for e in entries if e != self.config_dir] + ([self.config_dir] if add else [])
            _run(["postconf", "-e", "alternate_config_directories = " + " ".join(entries)])

    # -- lifecycle
    def start(self, timeout=30):
        self.write_config()
        self._set_alternate(True)
        try:
            _run(["postfix", "-c", self.config_dir, "check"])
            _run(["postfix", "-c", self.config_dir, "start"])
            self.started = True
            listening = [s for s in self.scenarios.values() if s.listening]
            wait_until(lambda: all(_port_open(s.ip, self.port) for s in listening), timeout,
                       what="Postfix listening on port %d (log: %s)" % (self.port, self.maillog))
        except Exception:
            self.stop()
            raise
        return self

    def master_pid(self):
        try:
            with open(os.path.join(self.queue_dir, "pid", "master.pid")) as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout=15):
        pid = self.master_pid()
        if self.started:
            subprocess.run([_binary("postfix"), "-c", self.config_dir, "stop"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60, check=False)
            self.started = False
        if pid:
            try:
                wait_until(lambda: not _pid_alive(pid), timeout, what="Postfix master %d exit" % pid)
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
        self._set_alternate(False)

    # -- inspection
    def log(self):
        with open(self.maillog, "r", errors="replace") as handle:
            return handle.read()

    def queue_count(self):
        """Messages in the queue (maildrop, incoming, active, deferred, hold)."""
        count = 0
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _root, _dirs, files in os.walk(os.path.join(self.queue_dir, sub)):
                count += len(files)
        return count

    def received_messages(self, domain=None):
        """Messages delivered to the Maildirs: dicts with mailbox, path, headers (dict), message (email object)."""
        messages = []
        parser = email.parser.BytesParser(policy=email.policy.default)
        for mailbox in sorted(os.listdir(self.mail_dir)) if os.path.isdir(self.mail_dir) else []:
            if domain and mailbox != domain:
                continue
            for sub in ("new", "cur"):
                folder = os.path.join(self.mail_dir, mailbox, sub)
                for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                    path = os.path.join(folder, name)
                    with open(path, "rb") as handle:
                        message = parser.parse(handle)
                    messages.append({"mailbox": mailbox, "path": path, "message": message,
                                     "headers": {k: str(v) for k, v in message.items()}})
        return messages

    def wait_for_message(self, header, value, timeout=15):
        """The received message whose ``header`` equals ``value`` (delivery after 250 is asynchronous)."""
        def find():
            return next((m for m in self.received_messages() if m["headers"].get(header) == value), None)
        return wait_until(find, timeout, interval=0.2, what="message with %s: %s in %s" % (header, value, self.mail_dir))

    def wait_queue_empty(self, timeout=15):
        return wait_until(lambda: self.queue_count() == 0 or None, timeout, interval=0.2, what="empty Postfix queue") is None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------- dnsmasq


def dnsmasq_records(scenarios):
    """dnsmasq options for the test zone (see module docstring)."""
    options = ["--local=/example/"]
    for s in scenarios.values():
        options += ["--mx-host=%s,%s,10" % (s.domain, s.host), "--host-record=%s,%s" % (s.host, s.ip)]
    good, mismatch = scenarios["good"], scenarios["mismatch"]
    options += [
        "--mx-host=%s,mx2.%s,20" % (BACKUP_DOMAIN, BACKUP_DOMAIN), "--host-record=mx2.%s,%s" % (BACKUP_DOMAIN, mismatch.ip),
        "--mx-host=%s,mx1.%s,10" % (BACKUP_DOMAIN, BACKUP_DOMAIN), "--host-record=mx1.%s,%s" % (BACKUP_DOMAIN, good.ip),
        "--host-record=%s,%s" % (IMPLICIT_MX_DOMAIN, good.ip),
        "--txt-record=%s,no mail here" % NODATA_DOMAIN,
    ]
    return options


class DnsmasqServer(object):
    """dnsmasq on 127.0.0.1:<free port>, authoritative-ish for the test zone, no upstream, NXDOMAIN otherwise."""

    def __init__(self, base, scenarios=None, ip="127.0.0.1"):
        self.base = base
        self.ip = ip
        self.scenarios = scenarios or scenario_table()
        self.port = None
        self.proc = None
        self.log_path = os.path.join(base, "dnsmasq.log")

    @property
    def address(self):
        return "%s:%d" % (self.ip, self.port)

    def command(self):
        return [_binary("dnsmasq"), "--no-resolv", "--no-hosts", "--no-poll", "--keep-in-foreground", "--bind-interfaces",
                "--listen-address=%s" % self.ip, "--port=%d" % self.port, "--pid-file=", "--user=root",
                "--log-queries", "--log-facility=%s" % self.log_path] + dnsmasq_records(self.scenarios)

    def start(self, timeout=15, attempts=3):
        os.makedirs(self.base, exist_ok=True)
        for attempt in range(attempts):
            self.port = free_port([self.ip], kinds=(socket.SOCK_STREAM, socket.SOCK_DGRAM))
            self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                wait_until(self._answers, timeout, interval=0.1, what="dnsmasq answering on %s" % self.address)
                return self
            except TimeoutError:
                output = self.stop()
                if attempt == attempts - 1:
                    raise RuntimeError("dnsmasq did not start: %s" % output)
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise TimeoutError("dnsmasq exited with %s" % self.proc.returncode)
        import dns.resolver
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [self.ip]
        resolver.port = self.port
        resolver.lifetime = 0.5
        try:
            return bool(resolver.resolve("mail.adatum.example", "A"))
        except Exception:  # pylint: disable=broad-except
            return False

    def stop(self):
        if self.proc is None:
            return ""
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""


# ---------------------------------------------------------------- a slow SMTP stub (benchmarks)


class _StubHandler(socketserver.StreamRequestHandler):
    timeout = 15

    def reply(self, text):
        self.wfile.write(text.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self):
        stub = self.server.stub
        time.sleep(stub.delay)
        self.reply("220 %s ESMTP m365.mailflow stub" % stub.name)
        for _count in range(100):
            line = self.rfile.readline(1024)
            if not line:
                return
            verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if not self.dispatch(stub, verb):
                return

    def dispatch(self, stub, verb):
        if verb == "EHLO":
            extensions = ["STARTTLS"] if stub.tls_context and not isinstance(self.connection, ssl.SSLSocket) else []
            lines = [stub.name] + extensions + ["8BITMIME"]
            for index, text in enumerate(lines):
                self.reply("250%s%s" % (" " if index == len(lines) - 1 else "-", text))
        elif verb == "STARTTLS" and stub.tls_context:
            self.reply("220 2.0.0 ready")
            self.connection = self.request = stub.tls_context.wrap_socket(self.connection, server_side=True)
            self.rfile = self.connection.makefile("rb")
            self.wfile = self.connection.makefile("wb")
        elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
            self.reply("250 2.0.0 ok")
        elif verb == "DATA":
            self.reply("354 go ahead")
            for _count in range(10000):
                if self.rfile.readline(65536) in (b".\r\n", b""):
                    break
            self.reply("250 2.0.0 Ok: queued as STUB%d" % int(time.time() * 1000))
        elif verb == "QUIT":
            self.reply("221 2.0.0 bye")
            return False
        else:
            self.reply("502 5.5.2 not implemented")
        return True


class _ThreadingServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SlowSmtpStub(object):
    """Threaded SMTP stub on (ip, port) that waits ``delay`` seconds before its banner."""

    def __init__(self, ip, port, delay=0.0, cert=None, name="stub.mailflow-test.example"):
        self.ip, self.port, self.delay, self.name = ip, port, delay, name
        self.tls_context = None
        if cert is not None:
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(cert.cert, cert.key)
        self.server = None
        self.thread = None

    def start(self):
        self.server = _ThreadingServer((self.ip, self.port), _StubHandler)
        self.server.stub = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            self.server = None


# ---------------------------------------------------------------- pytest fixtures


def _session_dir(prefix):
    base = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(base, 0o755)
    return base


@pytest.fixture(scope="session")
def mail_pki():
    base = _session_dir("mailflow-pki-")
    try:
        yield make_mail_pki(os.path.join(base, "pki"))
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postfix_lab(mail_pki):
    require_binaries(POSTFIX_BINARIES, "the loopback Postfix test server")
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError:
        unavailable("the loopback Postfix test server needs the postfix user and postdrop group; " + INSTALL_HINT)
    if os.geteuid() != 0:
        unavailable("the loopback Postfix test server must run as root (postfix start, chown, /etc/postfix/main.cf)")
    base = _session_dir("mailflow-postfix-")
    lab = PostfixLab(base, mail_pki)
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()
        if os.environ.get("MAILFLOW_KEEP_SERVERS") != "1":
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def dnsmasq_server():
    require_binaries(DNSMASQ_BINARIES, "the loopback dnsmasq test server")
    base = _session_dir("mailflow-dnsmasq-")
    server = DnsmasqServer(base)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
