# -*- coding: utf-8 -*-
"""Loopback stand-ins for the endpoints secretless authentication talks to (tests only).

Nothing a test runs may reach 169.254.169.254 or any address outside loopback. Every managed identity environment
msal knows is pointed at a stand-in here through the environment variables msal reads (msal/managed_identity.py):

    with IdentityEndpoint("app_service", emulator, user_ids=[uid]) as ep:
        env = ep.environ()          # IDENTITY_ENDPOINT + IDENTITY_HEADER, ... (secret_names(): the secret ones)
        ...                         # a module with managed_identity: system (or uid) and that environment
        ep.tokens, ep.requests      # tokens issued, requests received
        ep.problems                 # what was wrong in what it received (empty when the client did it right)

Kinds and what each checks before it answers (a wrong request is answered 400 and noted in ``problems``):

* ``app_service`` (also Functions, Automation): GET, ``X-IDENTITY-HEADER`` = the secret, ``Metadata: true``,
  ``api-version=2019-08-01``, ``resource``, ``client_id`` for a user-assigned identity; answers ``expires_on``.
* ``service_fabric``: HTTPS with a self-signed certificate (``IDENTITY_SERVER_THUMBPRINT``), GET, ``Secret`` header,
  ``api-version=2019-07-01-preview``, ``resource``; answers with the identity configured "in the cluster"
  (``cluster_identity``), whatever the client asks.
* ``machine_learning``: GET, ``secret`` header, ``api-version=2017-09-01``, ``resource``, ``clientid`` (Azure ML's
  spelling) for a user-assigned identity.
* ``azure_arc``: GET, ``Metadata: true``, ``api-version=2020-06-01``, ``resource``; a first request without
  credentials gets 401 with ``WWW-Authenticate: Basic realm=<key_dir>/<name>.key``, the second must carry
  ``Authorization: Basic <that file's content>``; answers echo the ``client_id`` asked for.
* ``imds`` (VM, scale set; reached through ``AZURE_POD_IDENTITY_AUTHORITY_HOST``): GET
  ``/metadata/identity/oauth2/token``, ``Metadata: true``, ``api-version=2018-02-01``, ``resource``, ``client_id``.
* ``cloud_shell``: POST ``http://localhost:50342/oauth2/token`` (msal's fixed address, so a fixed port, taken under
  a lock shared by concurrent test runs), ``Metadata: true``, form ``resource``; answers a delegated token.
* ``github_actions``: GET with ``Authorization: bearer <request token>`` and ``audience=api://AzureADTokenExchange``;
  answers ``{"value": <a token of the FederationIssuer>}``.

Tokens are the emulator's (``Emulator.issue_token``), so the emulator accepts them; ``resource`` is the Exchange
Online host of the cloud asked for. ``fail(kind, count)``: "404", "500" (HTML), "malformed" (200 that is not JSON),
"no_token" (200 JSON without a token), "hold" (answer after ``hold`` seconds), "other_identity" (a token of another
identity). ``loopback_only()`` makes any connection of this process outside loopback fail (and records it).
"""

from __future__ import absolute_import, division, print_function

import base64
import contextlib
import errno
import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support import pki

RESOURCE = "https://outlook.office365.com"
FEDERATION_AUDIENCE = "api://AzureADTokenExchange"
CLOUD_SHELL_PORT = 50342  # msal/cloudshell.py posts to http://localhost:50342/oauth2/token
ARC_KEY_DIRECTORY = "/var/opt/azcmagent/tokens"  # msal reads the Arc key file from there (Linux), nowhere else
ARC_AGENT = "/opt/azcmagent/bin/himds"
MAX_HOLD = 10.0
KINDS = ("app_service", "service_fabric", "machine_learning", "azure_arc", "imds", "cloud_shell", "github_actions")
SECRET_VARIABLES = ("IDENTITY_HEADER", "MSI_SECRET", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --------------------------------------------------------------------------- federated tokens

class FederationIssuer(object):
    """An OIDC issuer of federated tokens (GitHub Actions, a Kubernetes service account): RS256 JWTs of its own key."""

    def __init__(self, issuer="https://token.actions.githubusercontent.com", subject="repo:contoso/mailflow:pull_request",
                 audience=FEDERATION_AUDIENCE):
        self.issuer, self.subject, self.audience = issuer, subject, audience
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.minted = []

    @property
    def public_key(self):
        return self.key.public_key()

    def mint(self, lifetime=600, **claims):
        now = int(time.time())
        body = {"iss": self.issuer, "sub": self.subject, "aud": self.audience, "iat": now, "nbf": now,
                "exp": now + lifetime, "jti": str(uuid.uuid4())}
        body.update(claims)
        signing_input = "%s.%s" % (_b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "stand-in"}).encode()),
                                   _b64url(json.dumps(body).encode()))
        signature = self.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        token = "%s.%s" % (signing_input, _b64url(signature))
        self.minted.append(token)
        return token


# --------------------------------------------------------------------------- the guard

@contextlib.contextmanager
def loopback_only():
    """Refuse every connection of this process to an address outside loopback; yield the list of refused ones."""
    refused = []
    original = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        try:
            ok = host == "localhost" or ipaddress.ip_address(str(host).split("%", maxsplit=1)[0]).is_loopback
        except ValueError:
            ok = False
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not ok:
            refused.append(address)
            raise OSError(errno.ENETUNREACH, "test guard: %r is not a loopback address" % (address,))
        return original(sock, address)

    socket.socket.connect = guarded
    try:
        yield refused
    finally:
        socket.socket.connect = original


@contextlib.contextmanager
def _machine_lock(name, wait=300.0):
    """An exclusive lock shared by every process of this machine (concurrent test runs of two ansible-core releases)."""
    path = os.path.join(tempfile.gettempdir(), "m365-mailflow-%s.lock" % name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.time() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("%s is held by another test run for more than %d s" % (path, wait))
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def arc_key_directory():
    """The directory msal reads Azure Arc key files from, made for the test: yields it, or None when that cannot be
    done here (not root; or a real Arc agent is installed, whose directory is not touched). Held under a machine-wide
    lock; what the test made is removed afterwards."""
    if os.path.exists(ARC_AGENT):
        yield None
        return
    with _machine_lock("arc-key-directory"):
        made = []
        path = ARC_KEY_DIRECTORY
        missing = []
        while not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        try:
            for directory in reversed(missing):
                os.mkdir(directory, 0o755)
                made.append(directory)
        except OSError:
            for directory in reversed(made):
                os.rmdir(directory)
            yield None
            return
        try:
            yield ARC_KEY_DIRECTORY
        finally:
            for directory in reversed(made):  # the key directory first (the stand-ins removed their key files)
                shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------- the stand-ins

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (a held answer) is what the test wants


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 65536)) if length else b""
        status, payload, headers = self.server.endpoint.handle(self.command, self.path, self.headers, body)
        if isinstance(payload, bytes):
            data = payload
        else:
            data = json.dumps(payload).encode("utf-8")
            headers = dict({"Content-Type": "application/json; charset=utf-8"}, **(headers or {}))
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve


class IdentityEndpoint(object):
    """One stand-in (see module docstring). A context manager, or start() / stop()."""

    def __init__(self, kind, emulator=None, resource=None, user_ids=(), system_id=None, cluster_identity=None,
                 key_dir=None, issuer=None, lifetime=3600, hold=3.0, secret=None):
        if kind not in KINDS:
            raise ValueError(kind)
        self.kind = kind
        self.emulator = emulator
        self.resource = resource or getattr(emulator, "resource", RESOURCE)
        self.user_ids = set(u.lower() for u in user_ids)
        self.system_id = system_id or str(uuid.uuid4())
        self.cluster_identity = cluster_identity or self.system_id
        self.key_dir = key_dir
        self.issuer = issuer
        self.lifetime = lifetime
        self.hold = min(float(hold), MAX_HOLD)
        self.secret = secret or "stand-in-secret-" + uuid.uuid4().hex
        self.key_name = "arc-" + uuid.uuid4().hex[:12]
        self.key_secret = uuid.uuid4().hex + uuid.uuid4().hex
        self.requests = 0
        self.tokens = 0
        self.issued = []
        self.problems = []
        self.seen = []
        self._faults = []
        self._lock = threading.Lock()
        self._httpd = None
        self._thread = None
        self._stack = contextlib.ExitStack()
        self._tls_dir = None
        self.thumbprint = None
        self.port = None

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        port = 0
        if self.kind == "cloud_shell":
            port = CLOUD_SHELL_PORT
            self._stack.enter_context(_machine_lock("cloud-shell-%d" % port))
        deadline = time.time() + 15
        while True:
            try:
                self._httpd = _Server(("127.0.0.1", port), _Handler)
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or time.time() > deadline:
                    self._stack.close()
                    raise
                time.sleep(0.3)
        self._httpd.endpoint = self
        self.port = self._httpd.server_address[1]
        if self.kind == "service_fabric":
            self._tls_dir = tempfile.mkdtemp(prefix="m365-sf-")
            pair = pki.issue_cert(None, self._tls_dir, "sf", self_signed=True, ip_addresses=["127.0.0.1"])
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(pair.cert, pair.key)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            self.thumbprint = hashlib.sha1(pair.cert_obj.public_bytes(serialization.Encoding.DER)).hexdigest()  # nosec
        if self.kind == "azure_arc" and self.key_dir:
            path = os.path.join(self.key_dir, self.key_name + ".key")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.key_secret)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="identity-%s" % self.kind, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)
            self._httpd = None
        if self.kind == "azure_arc" and self.key_dir:
            try:
                os.unlink(os.path.join(self.key_dir, self.key_name + ".key"))
            except OSError:
                pass
        if self._tls_dir:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
        self._stack.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ what a client needs
    @property
    def origin(self):
        host = "localhost" if self.kind == "cloud_shell" else "127.0.0.1"
        return "%s://%s:%d" % ("https" if self.kind == "service_fabric" else "http", host, self.port)

    @property
    def url(self):
        return self.origin + {"app_service": "/msi/token", "service_fabric": "/metadata/identity/oauth2/token",
                              "machine_learning": "/msi/token", "azure_arc": "/metadata/identity/oauth2/token",
                              "imds": "/metadata/identity/oauth2/token", "cloud_shell": "/oauth2/token",
                              "github_actions": "/_apis/distributedtask/oidc/token"}[self.kind]

    def environ(self):
        """The environment variables that make msal (or the module, for GitHub Actions) use this stand-in."""
        return {
            "app_service": {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.secret},
            "service_fabric": {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.secret,
                               "IDENTITY_SERVER_THUMBPRINT": self.thumbprint},
            "machine_learning": {"MSI_ENDPOINT": self.url, "MSI_SECRET": self.secret},
            "azure_arc": {"IDENTITY_ENDPOINT": self.url, "IMDS_ENDPOINT": self.origin},
            "imds": {"AZURE_POD_IDENTITY_AUTHORITY_HOST": self.origin},
            "cloud_shell": {"AZUREPS_HOST_ENVIRONMENT": "cloud-shell/1.0"},
            "github_actions": {"ACTIONS_ID_TOKEN_REQUEST_URL": self.url + "?api-version=2.0",
                               "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.secret},
        }[self.kind]

    def secrets(self):
        """Every secret this stand-in hands out or expects: none may ever show in a module's output."""
        return [self.secret, self.key_secret] + list(self.issued) + list(self.issuer.minted if self.issuer else [])

    def fail(self, kind, count=None):
        """Answer the next ``count`` requests (every one when None) with fault ``kind`` (see module docstring)."""
        with self._lock:
            self._faults.append({"kind": kind, "count": count})

    # ------------------------------------------------------------------ answers
    def _fault(self):
        with self._lock:
            for fault in self._faults:
                if fault["count"] is None or fault["count"] > 0:
                    if fault["count"] is not None:
                        fault["count"] -= 1
                    return fault["kind"]
        return None

    def _problem(self, text):
        with self._lock:
            self.problems.append(text)
        return 400, {"error": "invalid_request", "error_description": "stand-in %s: %s" % (self.kind, text)}, {}

    def _token(self, appid, delegated=False):
        extra = {"scp": "AdminApi.AccessAsUser.All", "upn": "admin@%s" % (getattr(self.emulator, "tenant_domain", None)
                                                                          or "contoso.onmicrosoft.com"),
                 "roles": [], "idtyp": "user"} if delegated else {}
        if self.emulator is not None:
            token = self.emulator.issue_token(client_id=appid, lifetime=self.lifetime, **extra)
        else:
            claims = dict({"aud": self.resource, "appid": appid, "exp": int(time.time()) + self.lifetime}, **extra)
            token = "%s.%s.%s" % (_b64url(b'{"alg":"none"}'), _b64url(json.dumps(claims).encode()), _b64url(b"sig"))
        with self._lock:
            self.tokens += 1
            self.issued.append(token)
        return token

    def handle(self, method, path, headers, body):
        with self._lock:
            self.requests += 1
        parts = urlsplit(path)
        query = dict((k, v[0]) for k, v in parse_qs(parts.query, keep_blank_values=True).items())
        form = dict((k, v[0]) for k, v in parse_qs(body.decode("utf-8", "replace")).items()) if body else {}
        with self._lock:
            self.seen.append({"method": method, "path": parts.path, "query": query, "form": sorted(form)})
        fault = self._fault()
        if fault == "404":
            return 404, {"error": {"code": "NotFound", "message": "stand-in: not found"}}, {}
        if fault == "500":
            return 500, b"<html><body>Internal Server Error</body></html>", {"Content-Type": "text/html"}
        if fault == "malformed":
            return 200, b"<html>this is not a token answer</html>", {"Content-Type": "text/html"}
        if fault == "no_token":
            return 200, {"token_type": "Bearer"}, {}
        if fault == "hold":
            time.sleep(self.hold)
        return getattr(self, "_" + self.kind)(method, parts.path, query, form, headers, fault)

    def _expect(self, checks):
        for ok, text in checks:
            if not ok:
                return self._problem(text)
        return None

    def _common(self, method, path, query, api_version, expected_method="GET"):
        return [(method == expected_method, "method %s, expected %s" % (method, expected_method)),
                (path == urlsplit(self.url).path, "path %s" % path),
                (query.get("api-version") == api_version,
                 "api-version %r, expected %s" % (query.get("api-version"), api_version)),
                (query.get("resource") == self.resource,
                 "resource %r, expected %s" % (query.get("resource"), self.resource))]

    def _identity(self, query, name):
        """The identity asked for: system, or a known user-assigned client ID (else a problem text)."""
        others = [k for k in ("client_id", "clientid", "object_id", "mi_res_id", "msi_res_id") if k in query and k != name]
        if others:
            return None, "unexpected identity parameter %s" % others
        asked = query.get(name)
        if asked is None:
            return self.system_id, None
        if asked.lower() not in self.user_ids:
            return None, "%s %s is not a user-assigned identity of this host" % (name, asked)
        return asked.lower(), None

    def _appid(self, identity, fault):
        return str(uuid.uuid4()) if fault == "other_identity" else identity

    def _app_service(self, method, path, query, form, headers, fault):
        identity, problem = self._identity(query, "client_id")
        refused = self._expect(self._common(method, path, query, "2019-08-01") + [
            (headers.get("X-IDENTITY-HEADER") == self.secret, "X-IDENTITY-HEADER is not IDENTITY_HEADER"),
            (headers.get("Metadata") == "true", "Metadata header %r" % headers.get("Metadata")),
            (problem is None, problem)])
        if refused:
            return refused
        return 200, {"access_token": self._token(self._appid(identity, fault)), "token_type": "Bearer",
                     "expires_on": str(int(time.time()) + self.lifetime), "resource": self.resource,
                     "client_id": identity}, {}

    def _service_fabric(self, method, path, query, form, headers, fault):
        refused = self._expect(self._common(method, path, query, "2019-07-01-preview") + [
            (headers.get("Secret") == self.secret, "Secret header is not IDENTITY_HEADER")])
        if refused:
            return refused
        return 200, {"access_token": self._token(self._appid(self.cluster_identity, fault)), "token_type": "Bearer",
                     "expires_on": int(time.time()) + self.lifetime, "resource": self.resource}, {}

    def _machine_learning(self, method, path, query, form, headers, fault):
        identity, problem = self._identity(query, "clientid")  # Azure ML's 2017 API spells it clientid
        refused = self._expect(self._common(method, path, query, "2017-09-01") + [
            (headers.get("secret") == self.secret, "secret header is not MSI_SECRET"), (problem is None, problem)])
        if refused:
            return refused
        return 200, {"access_token": self._token(self._appid(identity, fault)), "token_type": "Bearer",
                     "expires_on": str(int(time.time()) + self.lifetime), "resource": self.resource}, {}

    def _azure_arc(self, method, path, query, form, headers, fault):
        identity, problem = self._identity(query, "client_id")
        refused = self._expect(self._common(method, path, query, "2020-06-01") + [
            (headers.get("Metadata") == "true", "Metadata header %r" % headers.get("Metadata")),
            (problem is None, problem)])
        if refused:
            return refused
        authorization = headers.get("Authorization")
        if authorization is None:
            realm = os.path.join(self.key_dir or ARC_KEY_DIRECTORY, self.key_name + ".key")
            return 401, {"error": "unauthorized"}, {"WWW-Authenticate": "Basic realm=%s" % realm}
        if authorization != "Basic %s" % self.key_secret:
            return self._problem("Authorization is not the content of the challenge's key file")
        answer = {"access_token": self._token(self._appid(identity, fault)), "token_type": "Bearer",
                  "expires_in": self.lifetime, "resource": self.resource}
        if "client_id" in query:
            answer["client_id"] = query["client_id"]  # an agent that knows user-assigned identities echoes it
        return 200, answer, {}

    def _imds(self, method, path, query, form, headers, fault):
        identity, problem = self._identity(query, "client_id")
        refused = self._expect(self._common(method, path, query, "2018-02-01") + [
            (headers.get("Metadata") == "true", "Metadata header %r" % headers.get("Metadata")),
            (problem is None, problem)])
        if refused:
            return refused
        now = int(time.time())
        return 200, {"access_token": self._token(self._appid(identity, fault)), "token_type": "Bearer",
                     "expires_in": str(self.lifetime), "expires_on": str(now + self.lifetime),
                     "resource": self.resource, "client_id": identity}, {}

    def _cloud_shell(self, method, path, query, form, headers, fault):
        refused = self._expect([
            (method == "POST", "method %s, expected POST" % method), (path == "/oauth2/token", "path %s" % path),
            (headers.get("Metadata") == "true", "Metadata header %r" % headers.get("Metadata")),
            (form.get("resource") == self.resource,
             "resource %r, expected %s" % (form.get("resource"), self.resource))])
        if refused:
            return refused
        return 200, {"access_token": self._token(self.system_id, delegated=True), "token_type": "Bearer",
                     "expires_in": self.lifetime}, {}

    def _github_actions(self, method, path, query, form, headers, fault):
        refused = self._expect([
            (method == "GET", "method %s, expected GET" % method), (path == urlsplit(self.url).path, "path %s" % path),
            ((headers.get("Authorization") or "").lower() == "bearer %s" % self.secret,
             "Authorization is not the bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
            (query.get("api-version") == "2.0", "the query of ACTIONS_ID_TOKEN_REQUEST_URL was not kept"),
            (query.get("audience") == FEDERATION_AUDIENCE, "audience %r" % query.get("audience"))])
        if refused:
            return refused
        with self._lock:
            self.tokens += 1
        return 200, {"count": 1, "value": self.issuer.mint()}, {}
