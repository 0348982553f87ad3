# -*- coding: utf-8 -*-
"""HTTPS emulator of Exchange Online's InvokeCommand endpoint and of the Entra ID token endpoint.

Serves, on loopback only:

* ``GET  /{tenant}/v2.0/.well-known/openid-configuration`` and ``POST /{tenant}/oauth2/v2.0/token``
  (client credentials with a certificate assertion or a client secret, as msal sends them);
* ``POST /adminapi/beta/{tenant}/InvokeCommand`` backed by a ``SandboxTenant`` (or any object with
  ``tenant_id``, ``tenant_domain`` and ``execute(cmdlet, parameters) -> wire.RawResponse``), with paging
  through ``@odata.nextLink``;
* a control API without authentication: ``GET /_emulator/calls`` (``?wait=N``: once no request is being answered,
  at most N seconds), ``POST /_emulator/reset``,
  ``POST /_emulator/faults``, ``POST /_emulator/redirect``, ``GET /_emulator/info``.

A redirecting tenant (``set_redirect`` or ``Emulator(..., redirect=True)``): a second listener (``tenant_url``) serves
the tenant and every InvokeCommand on the front listener (``url``) answers 302 with a ``Location`` on it, as the
service does for tenants it pins to a tenant-specific host. Continuation links keep naming the front host.

Call counting: ``requests`` counts every InvokeCommand HTTP request (redirected ones included); ``hosts`` splits them
by listener (``front``, ``tenant``); ``redirects`` counts the 3xx answers; ``cmdlets``/``reads``/``writes`` count the
requests that passed authentication (faulted ones included); ``tokens`` the token requests and ``discovery`` the
OpenID configuration requests; ``log`` has one entry per InvokeCommand request (rejected and redirected ones included)
with the status answered (None when no answer was sent), for an injected fault its kind under ``fault``, and under
``executed`` the status the tenant answered when the cmdlet ran (None when it did not run: a fault before execution,
a rejected request), so a write that took effect behind a fault shows as ``executed: 200``; ``faults`` lists every
fault injected (``kind``, ``endpoint``, ``cmdlet``, ``after_execute``, ``random``).
"""

from __future__ import absolute_import, division, print_function

import base64
import datetime
import email.utils
import hashlib
import hmac
import json
import os
import random
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from tests.support import pki

RESOURCE = "https://outlook.office365.com"
FEDERATION_AUDIENCE = "api://AzureADTokenExchange"
EXCHANGE_ROLE = "Exchange.ManageAsApp"
FAULT_STATUSES = (429, 500, 503, 504)
RATE_LIMIT = 30000
NUL_BODY = b"\x00" * 512
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_HOLD = 60.0

# Fault kinds of InvokeCommand and whether each happens after the cmdlet ran by default (see tests/emulator/__init__).
INVOKE_KINDS = {
    "status": False,        # an error status (429 with Retry-After, 500, 503, 504)
    "timeout": False,       # hold the answer ``hold`` seconds: before execution then drop it, after execution send it late
    "reset": False,         # close the connection with a TCP reset, no answer
    "close": False,         # close the connection cleanly (FIN), no answer
    "garbled": True,        # 200 with a body that is not JSON (or ``body``)
    "empty": True,          # 200 with an empty body
    "empty_object": True,   # 200 with {}
    "not_object": True,     # 200 with a JSON array
    "truncated": True,      # 200 with a Content-Length larger than what is sent, then the connection is closed
    "refuse": False,        # 400 InvalidOperationException: the service refuses this write (``identity`` selects it)
}
TOKEN_KINDS = {
    "token_500": "token",            # the token endpoint answers 500 with an HTML page
    "token_malformed": "token",      # the token endpoint answers 200 with JSON cut short
    "token_timeout": "token",        # the token endpoint holds ``hold`` seconds, then drops the connection
    "token_reset": "token",          # the token endpoint resets the connection
    "invalid_client": "token",       # 401 invalid_client (the secret or certificate is refused)
    "unauthorized_client": "token",  # 400 unauthorized_client (the application is not known in the tenant)
    "discovery_500": "discovery",    # the OpenID configuration answers 500 with an HTML page
    "discovery_malformed": "discovery",  # the OpenID configuration answers 200 with a body that is not JSON
}
HOLD_KINDS = ("timeout", "token_timeout")
FAULT_KEYS = ("kind", "cmdlet", "status", "count", "retry_after", "retry_after_date", "after_execute", "hold", "body",
              "identity")
RANDOM_KEYS = ("rate", "seed", "kinds", "max_consecutive", "cmdlet", "hold", "retry_after")
HTML_500 = (b"<!DOCTYPE html><html><head><title>500 - Internal server error.</title></head><body><h1>Server Error</h1>"
            b"<p>There is a problem with the resource you are looking for, and it cannot be displayed.</p></body></html>")


# --------------------------------------------------------------------------- helpers

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    text = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text.encode("ascii"))


def split_jwt(token):
    """(header, claims, signing_input, signature) of a compact JWT; ValueError when malformed."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("not a JWT")
    return header, claims, ("%s.%s" % (parts[0], parts[1])).encode("ascii"), b64url_decode(parts[2])


def _iso(seconds):
    return datetime.datetime.fromtimestamp(float(seconds), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def aad_error(status, error, code, text):
    """An Entra ID style error answer (msal hands these back as error dicts)."""
    body = {
        "error": error,
        "error_description": "AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s" % (
            code, text, uuid.uuid4(), uuid.uuid4(), datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")),
        "error_codes": [code],
        "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }
    return status, body


class _Action(object):
    """An answer that is not a plain HTTP answer: ``reset`` or ``close`` the connection, or send a ``truncated`` body."""

    def __init__(self, kind, body=b""):
        self.kind = kind
        self.body = body


def _shorthand(name):
    """A random-mode kind name as a fault: "503", "503_after", "429", "429_date", "reset_after", "garbled", ..."""
    after = None
    base = name
    if name.endswith("_after"):
        base, after = name[:-len("_after")], True
    fault = {}
    if base.isdigit():
        fault.update(kind="status", status=int(base))
    elif base == "429_date":
        fault.update(kind="status", status=429, retry_after_date=1)
    elif base in INVOKE_KINDS or base in TOKEN_KINDS:
        fault["kind"] = base
    else:
        raise ValueError("unknown fault kind %r" % name)
    if after is not None:
        fault["after_execute"] = True
    return fault


class _Reject(Exception):
    """An answer decided while checking a request (status, JSON body or bytes, extra headers)."""

    def __init__(self, status, body=None, headers=None):
        super(_Reject, self).__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


# --------------------------------------------------------------------------- test application

def load_or_create_app(cert_dir):
    """The registered test application; kept in ``cert_dir/app.json`` so restarts keep the credentials."""
    info_path = os.path.join(cert_dir, "app.json")
    if os.path.exists(info_path):
        with open(info_path) as handle:
            app = json.load(handle)
        if all(os.path.exists(app[k]) for k in ("certificate_path", "pfx_path", "ca_path", "server_cert", "server_key")):
            return app
    os.makedirs(cert_dir, exist_ok=True)
    os.chmod(cert_dir, 0o700)
    ca = pki.make_ca(cert_dir, "m365.mailflow emulator CA")
    server = pki.issue_cert(ca, cert_dir, "server", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    app_cert = pki.issue_cert(None, cert_dir, "app", self_signed=True, common_name="m365.mailflow emulator app")
    password = "emulator-" + uuid.uuid4().hex[:12]
    encrypted = pki.issue_cert(None, cert_dir, "app-encrypted", self_signed=True, common_name="m365.mailflow emulator app 2",
                               key_password=password)
    pfx_path = pki.make_pfx(app_cert.cert, app_cert.key, password, os.path.join(cert_dir, "app.pfx"))
    app = {
        "client_id": str(uuid.uuid4()),
        "client_secret": "emu~" + uuid.uuid4().hex + uuid.uuid4().hex[:8],
        "certificate_path": app_cert.pem,            # certificate + unencrypted key
        "certificate_cert_path": app_cert.cert,
        "certificate_key_path": app_cert.key,
        "encrypted_certificate_path": encrypted.pem,  # another registered certificate, key encrypted with the password
        "pfx_path": pfx_path,                        # the first certificate as PKCS#12, with the password
        "certificate_password": password,
        "ca_path": ca.cert,
        "server_cert": server.cert,
        "server_key": server.key,
    }
    fd = os.open(info_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(app, handle, indent=1)
    return app


def _load_cert(path):
    with open(path, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


# --------------------------------------------------------------------------- HTTP plumbing

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, emulator, context, role="front"):
        self.emulator = emulator
        self.ssl_context = context
        self.role = role
        ThreadingHTTPServer.__init__(self, address, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return  # client gave up or rejected our certificate
        ThreadingHTTPServer.finish_request(self, request, client_address)

    def handle_error(self, request, client_address):
        pass  # a client that disconnects mid-request is not our problem


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "m365-mailflow-emulator/1.0"

    def log_message(self, *args):
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status, body=None, headers=None):
        hdrs = {}
        if body is None:
            data = b""
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json; charset=utf-8"
        hdrs.update(headers or {})
        self.send_response(status)
        for key, value in hdrs.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _act(self, status, action, headers):
        """Answer in a way that is not a plain HTTP answer (see _Action)."""
        self.close_connection = True
        if action.kind == "truncated":
            self.send_response(status)
            for key, value in (headers or {}).items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(action.body) + 64))
            self.end_headers()
            self.wfile.write(action.body[:len(action.body) // 2])
            self.wfile.flush()
        if action.kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # let go of the socket's files first so that close() resets it at once
            self.wfile.close()
            self.connection.close()
            return
        try:
            self.connection.shutdown(socket.SHUT_RDWR)  # a FIN without TLS close_notify: the client reads EOF
        except OSError:
            pass

    def _dispatch(self):
        emulator = self.server.emulator
        control = self.path.startswith("/_emulator/")
        if not control:
            emulator.busy(1)
        try:
            try:
                body = self._body()
                status, payload, headers = emulator.handle(self.command, self.path, self.headers, body, via=self.server.role)
            except Exception as exc:  # pylint: disable=broad-except
                status, payload, headers = 500, {"error": {"code": "InternalServerError", "message": "emulator bug: %r" % exc}}, {}
            if isinstance(payload, _Action):
                self._act(status, payload, headers)
                return
            self._answer(status, payload, headers)
        finally:
            if not control:
                emulator.busy(-1)

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch
    do_PATCH = _dispatch


# --------------------------------------------------------------------------- the emulator

class Emulator(object):
    """See the module docstring. Use as a context manager or call start() / stop()."""

    def __init__(self, state_path, host="127.0.0.1", port=0, cert_dir=None, tenant_domain=None, backend=None,
                 expires_in=3600, redirect=False, resource=RESOURCE):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the emulator listens on loopback only")
        self.resource = resource  # the Exchange Online host of the emulated cloud: token audience and scope
        self.state_path = state_path
        self.host = host
        self.port = port
        self._own_cert_dir = cert_dir is None
        self.cert_dir = cert_dir or tempfile.mkdtemp(prefix="m365-emulator-")
        if backend is None:
            from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
            backend = SandboxTenant(state_path, tenant_domain=tenant_domain)
        self.backend = backend
        self.tenant_id = backend.tenant_id
        self.tenant_domain = backend.tenant_domain
        self.expires_in = expires_in
        self.app = load_or_create_app(self.cert_dir)
        self.ca_path = self.app["ca_path"]
        self._certs = [_load_cert(self.app["certificate_cert_path"]),
                       _load_cert(self.app["encrypted_certificate_path"])]
        self._signing_key = os.urandom(32)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._token_serial = 0
        self._min_token_serial = 0
        self._federated = {}  # client_id (lower) -> federated identity credentials of that app registration
        self._httpd = None
        self._thread = None
        self._tenant_httpd = None
        self._tenant_thread = None
        self.url = None
        self.tenant_url = None
        self._context = None
        self._redirect = {"enabled": bool(redirect), "status": 302, "location": None}
        self._reset_counters()
        self._reset_faults()

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.app["server_cert"], self.app["server_key"])
        self._context = context
        self._httpd = _Server((self.host, self.port), self, context)
        self.port = self._httpd.server_address[1]
        self.url = "https://%s:%d" % ("127.0.0.1" if self.host == "localhost" else self.host, self.port)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="m365-emulator", daemon=True)
        self._thread.start()
        if self._redirect["enabled"]:
            self._start_tenant_host()
        return self

    def _start_tenant_host(self):
        """The tenant-specific host of a redirecting tenant: a second listener on another loopback port."""
        if self._tenant_httpd is not None or self._context is None:
            return
        self._tenant_httpd = _Server((self.host, 0), self, self._context, role="tenant")
        self.tenant_url = "https://%s:%d" % ("127.0.0.1" if self.host == "localhost" else self.host,
                                             self._tenant_httpd.server_address[1])
        self._tenant_thread = threading.Thread(target=self._tenant_httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                               name="m365-emulator-tenant", daemon=True)
        self._tenant_thread.start()

    def stop(self):
        for server, thread in ((self._tenant_httpd, self._tenant_thread), (self._httpd, self._thread)):
            if server is not None:
                server.shutdown()
                server.server_close()
                thread.join(5)
        self._httpd = self._tenant_httpd = None
        if self._own_cert_dir:
            shutil.rmtree(self.cert_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def info(self):
        """What a client needs to connect (printed by ``python -m tests.emulator``)."""
        return {"url": self.url, "tenant_url": self.tenant_url, "redirect": self._redirect["enabled"],
                "ca_path": self.ca_path, "tenant_id": self.tenant_id, "tenant_domain": self.tenant_domain,
                "client_id": self.app["client_id"], "certificate_path": self.app["certificate_path"],
                "client_secret": self.app["client_secret"], "pfx_path": self.app["pfx_path"],
                "certificate_password": self.app["certificate_password"]}

    # ------------------------------------------------------------------ control API (also as methods)
    def _reset_counters(self):
        self._calls = {"cmdlets": {}, "reads": 0, "writes": 0, "tokens": 0, "discovery": 0, "requests": 0,
                       "redirects": 0, "hosts": {"front": 0, "tenant": 0}, "log": [], "faults": [],
                       "tokens_by_client": {}, "assertions": []}

    def _reset_faults(self):
        self._faults = []
        self._latency = 0.0
        if getattr(self, "_lag_in_backend", False):
            self.backend.configure(replication_lag=0.0)
        self._lag_in_backend = False
        self._replication_delay = 0.0
        self._hidden = []  # (noun, created_at, set of lower-cased identities)
        self._forbidden = False
        self._page_cap = 1000
        self._random = None

    def _set_replication_delay(self, seconds):
        """A SandboxTenant backend lags itself (its ``replication_lag`` setting: new objects invisible to Get, Set,
        Remove, Validate and to rules routing to them; removed rules still referenced), so the REST path sees exactly
        the misses the sandbox path sees. Any other backend: new objects are hidden from Get-* here."""
        configure = getattr(self.backend, "configure", None)
        if configure is not None and "replication_lag" in (getattr(self.backend, "settings", lambda: {})() or {}):
            configure(replication_lag=seconds)
            self._lag_in_backend = True
            self._replication_delay = 0.0
        else:
            self._replication_delay = seconds

    def calls(self, wait=None):
        """The counters and the log. ``wait`` (seconds): first wait, that long at most, until no request is being
        answered (a fault holding its answer for a client that gave up logs it late), so the log is complete."""
        with self._idle:
            if wait:
                self._idle.wait_for(lambda: self._in_flight <= 0, timeout=min(float(wait), MAX_HOLD))
            return json.loads(json.dumps(self._calls))

    def set_redirect(self, enabled=True, status=302, location=None):
        """Make the tenant a redirecting one (or not): InvokeCommand on ``url`` answers ``status`` with a Location on
        ``tenant_url`` (or ``location`` as given, to test bad ones). A property of the tenant: reset() keeps it."""
        if status not in REDIRECT_STATUSES:
            raise ValueError("redirect status must be one of %s" % (REDIRECT_STATUSES,))
        if location is not None and not isinstance(location, str):
            raise ValueError("location must be a string")
        with self._lock:
            self._redirect = {"enabled": bool(enabled), "status": int(status), "location": location}
        if enabled:
            self._start_tenant_host()
        return self.tenant_url

    def busy(self, delta):
        """Count the requests being answered (a held or slow answer included), so that reset() can wait for them."""
        with self._idle:
            self._in_flight += delta
            if not self._in_flight:
                self._idle.notify_all()

    def reset(self, wait=10.0):
        """Clear counters and faults (not the tenant state, nor its redirect).

        Waits (at most ``wait`` seconds) for the requests still being answered, for example a fault holding its answer
        for a client that gave up, so that they do not count in what follows.
        """
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight <= 0, timeout=wait)
            self._reset_counters()
            self._reset_faults()
            self._min_token_serial = 0

    def add_faults(self, faults):
        """Add faults: see the module docstring of tests.emulator for the shapes. ValueError when malformed."""
        if isinstance(faults, dict):
            faults = [faults]
        checked = [self._check_fault(f) for f in faults]
        with self._lock:
            for fault in checked:
                if "latency" in fault:
                    self._latency = float(fault["latency"])
                elif "replication_delay" in fault:
                    self._set_replication_delay(float(fault["replication_delay"]))
                elif "forbidden" in fault:
                    self._forbidden = bool(fault["forbidden"])
                elif "expire_tokens" in fault:
                    if fault["expire_tokens"]:
                        self._min_token_serial = self._token_serial + 1
                elif "page_size" in fault:
                    self._page_cap = fault["page_size"]
                elif "random" in fault:
                    self._random = fault["random"]
                else:
                    self._faults.append(fault)

    @classmethod
    def _check_fault(cls, fault):
        if not isinstance(fault, dict):
            raise ValueError("a fault must be a JSON object, got %r" % (fault,))
        for key in ("latency", "replication_delay", "forbidden", "expire_tokens", "page_size", "random"):
            if key in fault:
                if len(fault) != 1:
                    raise ValueError("%s must be alone in its fault object" % key)
                if key == "page_size":
                    if not isinstance(fault[key], int) or isinstance(fault[key], bool) or not 1 <= fault[key] <= 1000:
                        raise ValueError("page_size must be an integer in 1-1000")
                if key == "random":
                    return {"random": cls._check_random(fault[key])}
                return dict(fault)
        return cls._normal_fault(fault, in_random=False)

    @staticmethod
    def _normal_fault(fault, in_random):
        """One fault in its full form (see FAULT_KEYS); ValueError naming what is wrong."""
        unknown = set(fault) - set(FAULT_KEYS)
        if unknown:
            raise ValueError("fault %r: unknown keys %s (expected %s)" % (fault, sorted(unknown), ", ".join(FAULT_KEYS)))
        kind = fault.get("kind") or ("status" if "status" in fault else None)
        if kind not in INVOKE_KINDS and kind not in TOKEN_KINDS:
            raise ValueError("fault %r: give kind (one of %s) or status" % (fault, ", ".join(sorted(INVOKE_KINDS) + sorted(TOKEN_KINDS))))
        if kind == "status":
            if fault.get("status") not in FAULT_STATUSES:
                raise ValueError("fault status must be one of %s" % (FAULT_STATUSES,))
        elif "status" in fault:
            raise ValueError("status is only for kind status")
        if (fault.get("retry_after") is not None or fault.get("retry_after_date") is not None) and fault.get("status") != 429:
            raise ValueError("retry_after and retry_after_date are only for status 429")
        if fault.get("hold") is not None and kind not in HOLD_KINDS:
            raise ValueError("hold is only for kinds %s" % ", ".join(HOLD_KINDS))
        if fault.get("body") is not None and (kind != "garbled" or not isinstance(fault["body"], str)):
            raise ValueError("body is only for kind garbled, as a string")
        if fault.get("identity") is not None and kind != "refuse":
            raise ValueError("identity is only for kind refuse")
        if kind == "refuse" and fault.get("after_execute"):
            raise ValueError("a refusal happens before execution")
        if kind in TOKEN_KINDS and ("cmdlet" in fault or "after_execute" in fault):
            raise ValueError("cmdlet and after_execute are not for token endpoint faults")
        if in_random and ("count" in fault or "cmdlet" in fault):
            raise ValueError("count and cmdlet are not for the kinds of random mode")
        hold = float(fault.get("hold") if fault.get("hold") is not None else 5.0)
        if not 0 < hold <= MAX_HOLD:
            raise ValueError("hold must be in (0, %s] seconds" % MAX_HOLD)
        return {"kind": kind, "cmdlet": str(fault.get("cmdlet") or "*"), "status": fault.get("status"),
                "count": int(fault.get("count", 1)),
                "retry_after": None if fault.get("retry_after") is None else str(fault["retry_after"]),
                "retry_after_date": None if fault.get("retry_after_date") is None else float(fault["retry_after_date"]),
                "after_execute": bool(fault.get("after_execute", INVOKE_KINDS.get(kind, False))),
                "hold": hold, "body": fault.get("body"),
                "identity": None if fault.get("identity") is None else str(fault["identity"]).lower()}

    @classmethod
    def _check_random(cls, spec):
        """Random mode: ``{"rate", "seed", "kinds", "max_consecutive", "cmdlet", "hold", "retry_after"}`` (or None)."""
        if spec in (None, False):
            return None
        if not isinstance(spec, dict) or set(spec) - set(RANDOM_KEYS):
            raise ValueError("random must be an object with keys %s" % ", ".join(RANDOM_KEYS))
        rate = float(spec.get("rate", 0.3))
        if not 0.0 <= rate <= 1.0:
            raise ValueError("random rate must be in [0, 1]")
        kinds = spec.get("kinds") or ["429", "503", "503_after", "timeout", "reset", "garbled", "empty", "truncated"]
        if not isinstance(kinds, list):
            raise ValueError("random kinds must be a list")
        normal = []
        for kind in kinds:
            fault = _shorthand(kind) if isinstance(kind, str) else kind
            if not isinstance(fault, dict):
                raise ValueError("random kinds are names or fault objects, got %r" % (kind,))
            fault = dict(fault)
            if spec.get("hold") is not None and fault.get("kind") in HOLD_KINDS:
                fault.setdefault("hold", spec["hold"])
            if fault.get("status") == 429 and fault.get("retry_after_date") is None:
                fault.setdefault("retry_after", spec.get("retry_after", "0.05"))
            normal.append(cls._normal_fault(fault, in_random=True))
        limit = spec.get("max_consecutive")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ValueError("random max_consecutive must be a positive integer")
        seed = spec.get("seed", 0)
        return {"rate": rate, "seed": seed, "rng": random.Random(seed), "cmdlet": str(spec.get("cmdlet") or "*"),
                "max_consecutive": limit, "runs": {"invoke": 0, "token": 0, "discovery": 0},
                "kinds": {"invoke": [f for f in normal if f["kind"] in INVOKE_KINDS],
                          "token": [f for f in normal if TOKEN_KINDS.get(f["kind"]) == "token"],
                          "discovery": [f for f in normal if TOKEN_KINDS.get(f["kind"]) == "discovery"]}}

    # ------------------------------------------------------------------ routing
    def handle(self, method, path, headers, body, via="front"):
        """(status, JSON-able or bytes body or _Action, headers) for one HTTP request on the ``via`` listener."""
        parts = urlsplit(path)
        segments = [s for s in parts.path.split("/") if s]
        query = parse_qs(parts.query)
        try:
            if segments[:1] == ["_emulator"]:
                return self._control(method, segments[1:], body, query)
            if len(segments) == 4 and segments[0].lower() == "adminapi" and segments[3].lower() == "invokecommand":
                if method != "POST" or segments[1].lower() != "beta":
                    raise _Reject(405, wire.error_body(405, "System.NotSupportedException", "The requested resource does not "
                                                       "support http method '%s'." % method, code="MethodNotAllowed"))
                with self._lock:
                    redirect = dict(self._redirect)
                if redirect["enabled"] and via == "front":
                    return self._redirect_answer(redirect, path, headers, body)
                return self._invoke(segments[2], query, headers, body, via=via)
            if len(segments) == 4 and segments[1:] == ["v2.0", ".well-known", "openid-configuration"] and method == "GET":
                with self._lock:
                    self._calls["discovery"] += 1
                fault = self._take_endpoint_fault("discovery")
                if fault:
                    return self._token_fault_answer(fault, {})
                return self._openid_configuration(segments[0])
            if len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "token"] and method == "POST":
                return self._token(segments[0], headers, body)
            raise _Reject(404, {"error": {"code": "NotFound", "message": "No route for %s %s" % (method, parts.path)}})
        except _Reject as reject:
            return reject.status, reject.body, reject.headers

    def _control(self, method, segments, body, query=None):
        if segments == ["calls"] and method == "GET":
            try:
                wait = float((query or {}).get("wait", ["0"])[0])
            except ValueError:
                raise _Reject(400, {"error": "wait must be a number of seconds"})
            return 200, self.calls(wait=wait), {}
        if segments == ["info"] and method == "GET":
            return 200, self.info(), {}
        if segments == ["reset"] and method == "POST":
            self.reset()
            return 200, {"reset": True}, {}
        if segments == ["faults"] and method == "POST":
            try:
                self.add_faults(json.loads(body.decode("utf-8") or "[]"))
            except ValueError as exc:
                raise _Reject(400, {"error": str(exc)})
            return 200, {"faults": len(self._faults)}, {}
        if segments == ["redirect"] and method == "POST":
            try:
                spec = json.loads(body.decode("utf-8") or "{}")
                if not isinstance(spec, dict) or set(spec) - {"enabled", "status", "location"}:
                    raise ValueError("expected an object with enabled, status, location")
                tenant_url = self.set_redirect(spec.get("enabled", True), spec.get("status", 302), spec.get("location"))
            except ValueError as exc:
                raise _Reject(400, {"error": str(exc)})
            return 200, {"redirect": bool(spec.get("enabled", True)), "tenant_url": tenant_url}, {}
        raise _Reject(404, {"error": "unknown control endpoint"})

    # ------------------------------------------------------------------ tenant names
    def _is_tenant(self, name):
        name = (name or "").lower()
        return name in (str(self.tenant_id).lower(), str(self.tenant_domain or "").lower())

    def _endpoint(self, tenant):
        return "%s/%s/oauth2/v2.0/token" % (self.url, tenant)

    # ------------------------------------------------------------------ token endpoint
    def _openid_configuration(self, tenant):
        if not self._is_tenant(tenant):
            status, body = aad_error(400, "invalid_tenant", 90002, "Tenant '%s' not found. Check to make sure you have the "
                                     "correct tenant ID and are signing into the correct cloud." % tenant)
            return status, body, {}
        base = "%s/%s" % (self.url, tenant)
        return 200, {
            "token_endpoint": self._endpoint(tenant),
            "authorization_endpoint": base + "/oauth2/v2.0/authorize",
            "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
            "issuer": "%s/%s/v2.0" % (self.url, self.tenant_id),
            "jwks_uri": base + "/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
        }, {}

    def _token(self, tenant, headers, body):
        with self._lock:
            self._calls["tokens"] += 1
        form = dict((k, v[0]) for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items())
        fault = self._take_endpoint_fault("token")
        if fault:
            return self._token_fault_answer(fault, form)
        if not self._is_tenant(tenant):
            status, err = aad_error(400, "invalid_request", 90002, "Tenant '%s' not found." % tenant)
            raise _Reject(status, err)
        if form.get("grant_type") != "client_credentials":
            raise _Reject(*aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."))
        client_id = form.get("client_id", "")
        secret = form.get("client_secret")
        auth = headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            client_id, _unused, secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
        with self._lock:
            by_client = self._calls["tokens_by_client"]
            by_client[client_id.lower()] = by_client.get(client_id.lower(), 0) + 1
        assertion = form.get("client_assertion", "")
        if client_id.lower() in self._federated and secret is None and assertion:
            return self._federated_token(tenant, client_id, assertion, form)
        if client_id.lower() != self.app["client_id"].lower():
            raise _Reject(*aad_error(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found in "
                                     "the directory '%s'. This can happen if the application has not been installed by the "
                                     "administrator of the tenant." % (client_id, self.tenant_domain or self.tenant_id)))
        if secret is not None:
            if not hmac.compare_digest(secret.encode("utf-8"), self.app["client_secret"].encode("utf-8")):
                raise _Reject(*aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                                         "being sent in the request is the client secret value, not the client secret ID, "
                                         "for a secret added to app '%s'." % client_id))
        elif form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            problem = self._check_assertion(form.get("client_assertion", ""), client_id, tenant)
            if problem:
                raise _Reject(*aad_error(401, "invalid_client", 700027, "Client assertion failed signature validation. (%s)"
                                         % problem))
        else:
            raise _Reject(*aad_error(401, "invalid_client", 7000218, "The request body must contain the following parameter: "
                                     "'client_assertion' or 'client_secret'."))
        return self._token_answer(client_id, form)

    def _token_answer(self, client_id, form):
        scope = form.get("scope", "")
        if scope.rstrip("/") not in (self.resource + "/.default", self.resource + "//.default"):
            raise _Reject(*aad_error(400, "invalid_resource", 500011, "The resource principal named %s was not found in the "
                                     "tenant." % scope.rsplit("/", 1)[0]))
        token = self.issue_token(client_id)
        return 200, {"token_type": "Bearer", "expires_in": self.expires_in, "ext_expires_in": self.expires_in,
                     "access_token": token}, {"Cache-Control": "no-store, no-cache"}

    # ------------------------------------------------------------------ workload identity federation
    def add_federated_credential(self, issuer, subject, key, audience=FEDERATION_AUDIENCE, client_id=None):
        """A federated identity credential on an app registration (a new one when ``client_id`` is new: it then has
        no certificate nor secret). ``key``: the issuer's public key (cryptography RSA key) that signs its tokens.
        Returns the client ID."""
        client_id = (client_id or str(uuid.uuid4())).lower()
        with self._lock:
            self._federated.setdefault(client_id, []).append(
                {"issuer": issuer, "subject": subject, "audience": audience, "key": key})
        return client_id

    def _federated_token(self, tenant, client_id, assertion, form):
        """Entra ID's exchange of a federated token: a credential of the app must match issuer, subject and audience
        exactly (case-sensitive), the token must be signed by the issuer and be within its validity."""
        with self._lock:
            self._calls["assertions"].append({"client_id": client_id.lower(), "assertion": assertion})
            credentials = list(self._federated.get(client_id.lower(), []))
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            raise _Reject(*aad_error(401, "invalid_client", 7000218, "The request body must contain the following "
                                     "parameter: 'client_assertion_type'."))
        try:
            header, claims, signing_input, signature = split_jwt(assertion)
        except (ValueError, UnicodeError):
            raise _Reject(*aad_error(400, "invalid_request", 50027, "JWT token is invalid or malformed."))
        issuer, subject, audience = claims.get("iss"), claims.get("sub"), claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        same_issuer = [c for c in credentials if c["issuer"] == issuer]
        if not same_issuer:
            raise _Reject(*aad_error(400, "invalid_request", 700211, "No matching federated identity record found for "
                                     "presented assertion issuer '%s'. Please check your federated identity credential "
                                     "Subject, Audience and Issuer against the presented assertion." % issuer))
        matching = [c for c in same_issuer if c["subject"] == subject]
        if not matching:
            raise _Reject(*aad_error(400, "invalid_request", 700213, "No matching federated identity record found for "
                                     "presented assertion subject '%s'. Check your federated identity credential "
                                     "Subject, Audience and Issuer against the presented assertion." % subject))
        matching = [c for c in matching if c["audience"] in audiences]
        if not matching:
            raise _Reject(*aad_error(400, "invalid_request", 700212, "No matching federated identity record found for "
                                     "presented assertion audience '%s'." % audience))
        if header.get("alg") != "RS256":
            raise _Reject(*aad_error(401, "invalid_client", 700027, "Client assertion failed signature validation. "
                                     "(unsupported alg %r)" % header.get("alg")))
        try:
            matching[0]["key"].verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise _Reject(*aad_error(401, "invalid_client", 700027, "Client assertion failed signature validation."))
        now = time.time()
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now or \
                (isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + 300):
            raise _Reject(*aad_error(400, "invalid_client", 700024, "Client assertion is not within its valid time range. "
                                     "Current time: %s, expiry time of assertion %s." % (
                                         _iso(now), _iso(claims.get("exp") or 0))))
        return self._token_answer(client_id, form)

    def _token_fault_answer(self, fault, form):
        kind = fault["kind"]
        if kind in ("token_500", "discovery_500"):
            return 500, HTML_500, {"Content-Type": "text/html; charset=utf-8"}
        if kind == "token_malformed":
            return 200, b'{"token_type":"Bearer","expires_in":3599,"access_tok', {"Content-Type": "application/json; charset=utf-8"}
        if kind == "discovery_malformed":
            return 200, b'{"token_endpoint":"https://', {"Content-Type": "application/json; charset=utf-8"}
        if kind == "token_timeout":
            time.sleep(fault["hold"])
            return None, _Action("close"), {}
        if kind == "token_reset":
            return None, _Action("reset"), {}
        if kind == "unauthorized_client":
            return aad_error(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the "
                             "directory '%s' (emulator fault)." % (form.get("client_id"), self.tenant_domain or self.tenant_id)) + ({},)
        if form.get("client_secret") is not None:
            return aad_error(401, "invalid_client", 7000215, "Invalid client secret provided (emulator fault).") + ({},)
        return aad_error(401, "invalid_client", 700027, "Client assertion failed signature validation (emulator fault).") + ({},)

    def _check_assertion(self, assertion, client_id, tenant):
        try:
            header, claims, signing_input, signature = split_jwt(assertion)
        except (ValueError, UnicodeError):
            return "malformed JWT"
        cert = None
        for candidate in self._certs:
            der = candidate.public_bytes(Encoding.DER)
            # base64url with or without padding (msal keeps the padding)
            if str(header.get("x5t", "")).rstrip("=") == b64url(hashlib.sha1(der).digest()) or \
                    str(header.get("x5t#S256", "")).rstrip("=") == b64url(hashlib.sha256(der).digest()):
                cert = candidate
                break
        if cert is None:
            return "no certificate registered on the app has the thumbprint in the assertion header (x5t / x5t#S256)"
        alg = header.get("alg")
        if alg == "RS256":
            pad = padding.PKCS1v15()
        elif alg == "PS256":
            pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        else:
            return "unsupported alg %r" % alg
        try:
            cert.public_key().verify(signature, signing_input, pad, hashes.SHA256())
        except InvalidSignature:
            return "signature does not verify against the registered certificate"
        now = time.time()
        if claims.get("aud") != self._endpoint(tenant):
            return "aud %r is not the token endpoint" % claims.get("aud")
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            return "iss and sub must be the client id"
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now:
            return "assertion expired"
        if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + 300:
            return "assertion not yet valid"
        return None

    def issue_token(self, client_id=None, lifetime=None, **extra):
        """A signed access token as the token endpoint would issue (tests may call it directly)."""
        now = int(time.time())
        with self._lock:
            self._token_serial += 1
            serial = self._token_serial
        claims = {
            "aud": self.resource, "iss": "https://sts.windows.net/%s/" % self.tenant_id, "iat": now, "nbf": now,
            "exp": now + int(self.expires_in if lifetime is None else lifetime), "tid": self.tenant_id,
            "appid": client_id or self.app["client_id"], "app_displayname": "m365.mailflow emulator app",
            "idtyp": "app", "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id or self.app["client_id"])),
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id or self.app["client_id"])),
            "roles": [EXCHANGE_ROLE], "ver": "1.0", "uti": serial,
        }
        claims.update(extra)
        header = b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode("utf-8"))
        payload = b64url(json.dumps(claims).encode("utf-8"))
        signing_input = "%s.%s" % (header, payload)
        signature = hmac.new(self._signing_key, signing_input.encode("ascii"), hashlib.sha256).digest()
        return "%s.%s" % (signing_input, b64url(signature))

    def _check_bearer(self, tenant, headers):
        """None when the Authorization header carries a valid token for this tenant, else the reason."""
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return "missing bearer token"
        try:
            _header, claims, signing_input, signature = split_jwt(auth[7:].strip())
        except (ValueError, UnicodeError):
            return "malformed token"
        expected = hmac.new(self._signing_key, signing_input, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            return "invalid signature"
        if claims.get("exp", 0) < time.time():
            return "token expired"
        if claims.get("uti", 0) < self._min_token_serial:
            return "token revoked"
        if claims.get("aud") != self.resource:
            return "wrong audience"
        if str(claims.get("tid")).lower() != str(self.tenant_id).lower() or not self._is_tenant(tenant):
            return "token is for another tenant"
        if EXCHANGE_ROLE not in (claims.get("roles") or []) and not claims.get("scp"):
            return "missing Exchange.ManageAsApp"
        return None

    # ------------------------------------------------------------------ InvokeCommand
    def _response_headers(self, request_headers):
        with self._lock:
            remaining = max(0, RATE_LIMIT - self._calls["requests"])
        reset = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
        hdrs = {"request-id": str(uuid.uuid4()), "Rate-Limit-Limit": str(RATE_LIMIT), "Rate-Limit-Remaining": str(remaining),
                "Rate-Limit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (reset.microsecond // 1000),
                "X-CalculatedBETarget": "EMULATOR01.PROD.OUTLOOK.COM"}
        if request_headers.get("client-request-id"):
            hdrs["client-request-id"] = request_headers["client-request-id"]
        return hdrs

    def _log(self, cmdlet, parameters, status, fault=None, executed=None):
        entry = {"cmdlet": cmdlet, "parameters": parameters, "status": status, "executed": executed}
        if fault:
            entry["fault"] = fault
        with self._lock:
            self._calls["log"].append(entry)

    def _count(self, cmdlet):
        with self._lock:
            counts = self._calls["cmdlets"]
            counts[cmdlet] = counts.get(cmdlet, 0) + 1
            self._calls["reads" if cmdlet.lower().startswith("get-") else "writes"] += 1

    def _note_fault(self, fault, endpoint, cmdlet=None, chosen_at_random=False):
        """Record an injected fault (the caller holds the lock) and return it."""
        self._calls["faults"].append({"kind": fault["kind"], "endpoint": endpoint, "cmdlet": cmdlet,
                                      "after_execute": fault["after_execute"] if endpoint == "invoke" else None,
                                      "status": fault.get("status"), "random": chosen_at_random})
        return dict(fault)

    def _draw(self, endpoint, cmdlet=None):
        """Random mode: a fault for this request or None, from the seeded generator (the caller holds the lock)."""
        spec = self._random
        if spec is None or not spec["kinds"][endpoint]:
            return None
        if endpoint == "invoke" and spec["cmdlet"].lower() not in ("*", (cmdlet or "").lower()):
            return None
        rng = spec["rng"]
        roll, pick = rng.random(), rng.randrange(len(spec["kinds"][endpoint]))
        limit = spec["max_consecutive"]
        if roll < spec["rate"] and (limit is None or spec["runs"][endpoint] < limit):
            spec["runs"][endpoint] += 1
            return self._note_fault(spec["kinds"][endpoint][pick], endpoint, cmdlet, chosen_at_random=True)
        spec["runs"][endpoint] = 0
        return None

    def _take_fault(self, cmdlet, parameters=None):
        with self._lock:
            for fault in self._faults:
                if fault.get("identity") is not None and fault["identity"] not in (
                        str((parameters or {}).get("Name") or "").lower(),
                        str((parameters or {}).get("Identity") or "").lower()):
                    continue
                if fault["kind"] in INVOKE_KINDS and fault["count"] > 0 and fault["cmdlet"].lower() in ("*", cmdlet.lower()):
                    fault["count"] -= 1
                    return self._note_fault(fault, "invoke", cmdlet)
            return self._draw("invoke", cmdlet)

    def _take_endpoint_fault(self, endpoint):
        with self._lock:
            for fault in self._faults:
                if TOKEN_KINDS.get(fault["kind"]) == endpoint and fault["count"] > 0:
                    fault["count"] -= 1
                    return self._note_fault(fault, endpoint)
            return self._draw(endpoint)

    @staticmethod
    def _cmdlet_of(headers, body):
        try:
            doc = json.loads(body.decode("utf-8"))
            cmdlet_input = doc["CmdletInput"]
            cmdlet, parameters = cmdlet_input["CmdletName"], cmdlet_input.get("Parameters") or {}
            if not isinstance(cmdlet, str) or not isinstance(parameters, dict):
                raise TypeError
            return cmdlet, parameters
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeError):
            return None, None

    def _redirect_answer(self, redirect, path, headers, body):
        """The front host of a redirecting tenant: 3xx to the same path and query on the tenant host (no auth check:
        the redirect is routing, not a cmdlet result; nothing runs)."""
        with self._lock:
            self._calls["requests"] += 1
            self._calls["redirects"] += 1
            self._calls["hosts"]["front"] += 1
        cmdlet, parameters = self._cmdlet_of(headers, body)
        self._log(cmdlet or headers.get("X-CmdletName") or "", parameters or {}, redirect["status"])
        location = redirect["location"] if redirect["location"] is not None else self.tenant_url + path
        hdrs = {"Location": location, "request-id": str(uuid.uuid4()), "Content-Type": "text/html; charset=utf-8"}
        return redirect["status"], b"<html><body>Object moved</body></html>", hdrs

    def _invoke(self, tenant, query, headers, body, via="front"):
        with self._lock:
            self._calls["requests"] += 1
            self._calls["hosts"][via] += 1
        hdrs = self._response_headers(headers)
        cmdlet, parameters = self._cmdlet_of(headers, body)
        if cmdlet is None:
            cmdlet, parameters = headers.get("X-CmdletName") or "", {}
            self._log(cmdlet, parameters, 400)
            raise _Reject(400, wire.error_body(400, "Microsoft.OData.ODataException", "The request body is not a valid "
                                               "CmdletInput JSON document."), hdrs)
        problem = self._check_bearer(tenant, headers)
        if problem:
            self._log(cmdlet, parameters, 401)
            hdrs["WWW-Authenticate"] = 'Bearer realm="", authorization_uri="%s/common/oauth2/authorize", error="invalid_token", ' \
                                       'error_description="%s"' % (self.url, problem)
            raise _Reject(401, None, hdrs)
        if not headers.get("X-AnchorMailbox"):
            self._log(cmdlet, parameters, 400)
            raise _Reject(400, wire.error_body(400, "Microsoft.Exchange.Data.Common.RoutingHintMissingException",
                                               "The X-AnchorMailbox header is required."), hdrs)
        self._count(cmdlet)
        with self._lock:
            latency, forbidden = self._latency, self._forbidden
        if latency:
            time.sleep(latency)
        if forbidden:
            self._log(cmdlet, parameters, 403)
            raise _Reject(403, NUL_BODY, dict(hdrs, **{"Content-Encoding": "gzip"}))
        fault = self._take_fault(cmdlet, parameters)
        if fault and not fault["after_execute"]:
            return self._fault_answer(cmdlet, parameters, fault, hdrs)
        raw = self._execute(cmdlet, parameters, headers, query, tenant)
        if fault:
            return self._fault_answer(cmdlet, parameters, fault, hdrs, raw)
        self._log(cmdlet, parameters, raw.status, executed=raw.status)
        out = dict(raw.headers)
        out.update(hdrs)
        return raw.status, raw.body, out

    def _fault_answer(self, cmdlet, parameters, fault, hdrs, raw=None):
        """The answer of an injected fault; ``raw`` is the real answer when the cmdlet ran (after_execute)."""
        kind = fault["kind"]
        executed = raw.status if raw is not None else None
        if kind == "status":
            self._log(cmdlet, parameters, fault["status"], fault=kind, executed=executed)
            if fault["status"] == 429:
                if fault["retry_after"] is not None:
                    hdrs["Retry-After"] = fault["retry_after"]
                elif fault["retry_after_date"] is not None:
                    hdrs["Retry-After"] = email.utils.formatdate(time.time() + fault["retry_after_date"], usegmt=True)
                body = wire.error_body(429, "Microsoft.Exchange.Admin.OData.Core.ThrottlingException",
                                       "Too many requests (emulator fault).", code="TooManyRequests")
            else:
                body = wire.error_body(fault["status"], "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                                       "The service is temporarily unavailable (emulator fault).")
            return fault["status"], body, hdrs
        if kind == "refuse":
            self._log(cmdlet, parameters, 400, fault=kind, executed=executed)
            body = wire.error_body(400, "System.InvalidOperationException", "The service refused %s for '%s' (emulator "
                                   "fault)." % (cmdlet, fault["identity"]))
            return 400, body, hdrs
        if kind == "timeout":
            time.sleep(fault["hold"])
            if raw is None:
                self._log(cmdlet, parameters, None, fault=kind)
                return None, _Action("close"), {}
            self._log(cmdlet, parameters, raw.status, fault=kind, executed=executed)  # sent late, to a client that gave up
            out = dict(raw.headers)
            out.update(hdrs)
            return raw.status, raw.body, out
        if kind in ("reset", "close"):
            self._log(cmdlet, parameters, None, fault=kind, executed=executed)
            return None, _Action(kind), {}
        real = raw.body if raw is not None and raw.status == 200 else json.dumps(
            wire.success_body([], tenant=self.tenant_domain or "")).encode("utf-8")
        self._log(cmdlet, parameters, 200, fault=kind, executed=executed)
        hdrs["Content-Type"] = "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"
        if kind == "truncated":
            return 200, _Action("truncated", real), hdrs
        body = {"garbled": (fault["body"].encode("utf-8") if fault["body"] is not None
                            else real[:max(1, len(real) // 2)] + b"\x00\x1f<garbled>"),
                "empty": b"", "empty_object": b"{}", "not_object": b"[]"}[kind]
        return 200, body, hdrs

    # ------------------------------------------------------------------ execution, replication delay, paging
    def _execute(self, cmdlet, parameters, headers, query, tenant):
        verb, _unused, noun = cmdlet.lower().partition("-")
        if verb == "get" and self._hidden_identity(noun, parameters):
            return wire.json_response(404, wire.error_body(
                404, "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                "The operation couldn't be performed because object '%s' couldn't be found on "
                "'EMULATOR01.PROD.OUTLOOK.COM'." % self._param(parameters, "Identity"), string_id="Ex6F9304"))
        raw = self.backend.execute(cmdlet, parameters)
        if raw.status != 200:
            return raw
        if verb == "new":
            self._note_created(noun, raw)
        if verb != "get":
            return raw
        return self._page(raw, cmdlet, parameters, headers, query, tenant)

    @staticmethod
    def _param(parameters, name):
        for key, value in parameters.items():
            if key.lower() == name.lower():
                return value
        return None

    @staticmethod
    def _identities(obj):
        return set(str(obj.get(k)).lower() for k in ("Identity", "Name", "Guid", "DistinguishedName", "ExchangeObjectId")
                   if obj.get(k))

    def _note_created(self, noun, raw):
        with self._lock:
            if not self._replication_delay:
                return
            delay = self._replication_delay
        doc = json.loads(raw.body.decode("utf-8") or "{}")
        now = time.time()
        with self._lock:
            for obj in doc.get("value") or []:
                self._hidden.append((noun, now + delay, self._identities(obj)))

    def _hidden_sets(self, noun):
        now = time.time()
        with self._lock:
            self._hidden = [h for h in self._hidden if h[1] > now]
            return [h[2] for h in self._hidden if h[0] == noun]

    def _hidden_identity(self, noun, parameters):
        identity = self._param(parameters, "Identity")
        if identity is None:
            return False
        return any(str(identity).lower() in ids for ids in self._hidden_sets(noun))

    def _page(self, raw, cmdlet, parameters, headers, query, tenant):
        doc = json.loads(raw.body.decode("utf-8") or "{}")
        values = doc.get("value") or []
        hidden = self._hidden_sets(cmdlet.lower().partition("-")[2])
        if hidden:
            values = [v for v in values if not any(self._identities(v) & ids for ids in hidden)]
        page_size = self._page_size(headers)
        offset = 0
        if "$skiptoken" in query:
            try:
                token = json.loads(b64url_decode(query["$skiptoken"][0]))
                offset = int(token["o"])
                if token["c"] != cmdlet.lower():
                    raise ValueError("cmdlet mismatch")
            except (ValueError, KeyError, TypeError):
                return wire.json_response(400, wire.error_body(
                    400, "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                    "Expired or Invalid pagination request. Default Expiry time is 00:30:00"))
        page = values[offset:offset + page_size]
        warnings = [w for w in doc.get("@adminapi.warnings") or [] if w != wire.PAGINATION_WARNING]
        doc["value"] = page
        doc.pop("@odata.nextLink", None)
        if offset + page_size < len(values):
            skiptoken = b64url(json.dumps({"o": offset + page_size, "c": cmdlet.lower(), "t": int(time.time())}).encode("utf-8"))
            doc["@odata.nextLink"] = "%s/adminapi/beta/%s/InvokeCommand?$skiptoken=%s" % (self.url, tenant, skiptoken)
            warnings.append(wire.PAGINATION_WARNING)
        doc["@adminapi.warnings"] = warnings
        return wire.RawResponse(raw.status, raw.headers, json.dumps(doc).encode("utf-8"))

    def _page_size(self, headers):
        prefer = headers.get("Prefer") or ""
        with self._lock:
            cap = self._page_cap
        for item in prefer.split(";"):
            name, _unused, value = item.strip().partition("=")
            if name.lower() == "odata.maxpagesize":
                try:
                    return max(1, min(cap, int(value)))
                except ValueError:
                    break
        return cap
