# -*- coding: utf-8 -*-
"""TokenProvider: certificate (PEM, encrypted PEM, PFX) and secret auth through msal against the emulator, cache, errors."""

from __future__ import absolute_import, division, print_function

import base64
import datetime
import json
import os
import stat
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ansible_collections.m365.mailflow.plugins.module_utils.transport import auth, credentials, libraries
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    AuthenticationError,
    ConfigurationError,
    DependencyError,
    TransientError,
)
from tests.emulator import Emulator
from tests.emulator.fake import FakeTenant, client_settings
from tests.support import pki


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    base = tmp_path_factory.mktemp("auth-emulator")
    with Emulator(str(base / "state.db"), cert_dir=str(base / "pki"), backend=FakeTenant()) as emu:
        yield emu


@pytest.fixture(autouse=True)
def clean(emulator):
    emulator.reset()


def _jwt(claims):
    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return "%s.%s.sig" % (enc({"alg": "none"}), enc(claims))


def test_clouds_table():
    assert auth.CLOUDS["commercial"] == {"resource": "https://outlook.office365.com", "authority": "https://login.microsoftonline.com"}
    assert auth.CLOUDS["gcc_high"]["resource"] == "https://outlook.office365.us"
    assert auth.CLOUDS["dod"] == {"resource": "https://outlook-dod.office365.us", "authority": "https://login.microsoftonline.us"}
    assert auth.CLOUDS["china"]["resource"] == "https://partner.outlook.cn"
    provider = auth.TokenProvider({"tenant": "t", "access_token": "x", "cloud": "dod"})
    assert provider.scope == "https://outlook-dod.office365.us/.default"
    with pytest.raises(ConfigurationError):
        auth.TokenProvider({"tenant": "t", "access_token": "x", "cloud": "mars"})


@pytest.mark.parametrize("credential", ["certificate", "encrypted_pem", "pfx", "secret"])
def test_token_through_msal(emulator, credential):
    provider = auth.TokenProvider(client_settings(emulator, credential))
    token = provider.get_token()
    claims = auth.decode_jwt_payload(token)
    assert claims["aud"] == "https://outlook.office365.com"
    assert claims["tid"] == emulator.tenant_id
    assert claims["roles"] == ["Exchange.ManageAsApp"]
    assert provider.token_requests == 1 and emulator.calls()["tokens"] == 1
    assert provider.can_refresh
    # msal answers from its cache until the token nears expiry
    assert provider.get_token() == token and emulator.calls()["tokens"] == 1
    # force_refresh bypasses the cache
    assert provider.get_token(force_refresh=True) != token
    assert emulator.calls()["tokens"] == 2


def test_tenant_given_as_domain(emulator):
    provider = auth.TokenProvider(client_settings(emulator, tenant=emulator.tenant_domain))
    assert auth.decode_jwt_payload(provider.get_token())["tid"] == emulator.tenant_id


def test_requests_ca_bundle_does_not_override_ca_path(emulator, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/bundle.pem")
    assert auth.TokenProvider(client_settings(emulator)).get_token()


def test_system_bundle_rejects_test_ca(emulator):
    provider = auth.TokenProvider(client_settings(emulator, ca_path=None))
    with pytest.raises(ConfigurationError, match="ca_path"):
        provider.get_token()


def test_validate_certs_false(emulator):
    assert auth.TokenProvider(client_settings(emulator, ca_path=None, validate_certs=False)).get_token()


def test_persistent_cache_is_shared_and_private(emulator, tmp_path):
    cache_dir = str(tmp_path / "cache")
    settings = client_settings(emulator, token_cache=True, token_cache_dir=cache_dir)
    first = auth.TokenProvider(settings)
    second = auth.TokenProvider(settings)
    assert first.cache_path == second.cache_path
    token = first.get_token()
    assert second.get_token() == token
    assert emulator.calls()["tokens"] == 1
    assert second.token_requests == 0
    assert stat.S_IMODE(os.stat(first.cache_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    with open(first.cache_path) as handle:
        content = handle.read()
    assert emulator.app["client_secret"] not in content and "PRIVATE KEY" not in content


def test_cache_default_dir_follows_xdg(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    provider = auth.TokenProvider(client_settings(emulator, token_cache=True))
    assert provider.cache_path.startswith(str(tmp_path / "xdg" / "m365.mailflow") + os.sep)
    provider.get_token()
    assert os.path.exists(provider.cache_path)


def test_no_cache_file_when_disabled(emulator, tmp_path):
    cache_dir = tmp_path / "cache"
    settings = client_settings(emulator, token_cache=False, token_cache_dir=str(cache_dir))
    auth.TokenProvider(settings).get_token()
    auth.TokenProvider(settings).get_token()
    assert emulator.calls()["tokens"] == 2
    assert not cache_dir.exists()


def test_cache_entries_are_per_tenant_client_and_kind(emulator, tmp_path):
    cache_dir = str(tmp_path / "cache")
    base = client_settings(emulator, token_cache=True, token_cache_dir=cache_dir)
    paths = set()
    for change in ({}, {"tenant": emulator.tenant_domain}, {"client_id": "00000000-0000-0000-0000-000000000001"},
                   {"certificate_path": None, "client_secret": "s"}, {"cloud": "gcc_high"}, {"authority": "https://127.0.0.2:1"}):
        settings = dict(base, **change)
        paths.add(auth.TokenProvider(settings).cache_path)
    assert len(paths) == 6
    # GUID and domain are different cache entries: two real token requests
    auth.TokenProvider(base).get_token()
    auth.TokenProvider(dict(base, tenant=emulator.tenant_domain)).get_token()
    assert emulator.calls()["tokens"] == 2
    assert len([n for n in os.listdir(cache_dir) if n.endswith(".json")]) == 2


def test_concurrent_providers_share_one_token(emulator, tmp_path):
    settings = client_settings(emulator, token_cache=True, token_cache_dir=str(tmp_path / "cache"))
    tokens, errors = [], []

    def worker():
        try:
            tokens.append(auth.TokenProvider(settings).get_token())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _unused in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert len(set(tokens)) == 1 and emulator.calls()["tokens"] == 1


def test_access_token_used_as_given(emulator):
    token = emulator.issue_token()
    provider = auth.TokenProvider({"tenant": emulator.tenant_id, "access_token": token})
    assert provider.get_token() == token and provider.get_token(force_refresh=True) == token
    assert not provider.can_refresh and provider.token_requests == 0 and provider.cache_path is None
    assert emulator.calls()["tokens"] == 0


@pytest.mark.parametrize("claims, tenant, expected", [
    ({"tid": "tid-guid", "roles": ["Exchange.ManageAsApp"]}, "contoso.onmicrosoft.com",
     "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@tid-guid"),
    ({"roles": []}, "contoso.onmicrosoft.com", "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.onmicrosoft.com"),
    ({"tid": "x", "scp": "AdminApi.AccessAsUser.All", "upn": "admin@contoso.com"}, "x", "UPN:admin@contoso.com"),
    ({"tid": "x", "scp": "Exchange.Manage", "unique_name": "ops@contoso.com"}, "x", "UPN:ops@contoso.com"),
])
def test_anchor(claims, tenant, expected):
    provider = auth.TokenProvider({"tenant": tenant, "access_token": _jwt(claims)})
    assert provider.anchor() == expected


def test_anchor_for_opaque_token():
    assert auth.TokenProvider({"tenant": "t1", "access_token": "opaque"}).anchor().endswith("@t1")


# ----------------------------------------------------------------------------- Entra ID errors

def _refused(settings):
    with pytest.raises(AuthenticationError) as info:
        auth.TokenProvider(settings).get_token()
    return str(info.value)


def test_unknown_client(emulator):
    msg = _refused(client_settings(emulator, client_id="00000000-0000-0000-0000-00000000dead"))
    assert "AADSTS700016" in msg and "client_id" in msg


def test_wrong_secret_is_not_echoed(emulator):
    msg = _refused(client_settings(emulator, "secret", client_secret="not-the-secret-123"))
    assert "AADSTS7000215" in msg and "client_secret" in msg and "not-the-secret-123" not in msg


def test_unregistered_certificate(emulator, tmp_path):
    other = pki.issue_cert(None, str(tmp_path), "stranger", self_signed=True, common_name="stranger")
    msg = _refused(client_settings(emulator, certificate_path=other.pem))
    assert "AADSTS700027" in msg and "certificate" in msg


def test_unknown_tenant(emulator):
    msg = _refused(client_settings(emulator, tenant="fabrikam.onmicrosoft.com"))
    assert "tenant" in msg


def test_auth_error_hints():
    provider = auth.TokenProvider({"tenant": "t", "client_id": "c", "client_secret": "s", "token_cache": False})
    err = provider._auth_error({"error": "invalid_client", "error_description": "AADSTS7000222: The provided client secret keys "
                                "for app 'c' are expired.\r\nTrace ID: x", "error_codes": [7000222]})
    assert "AADSTS7000222" in err.msg and "expired" in err.msg and "Trace ID" not in err.msg
    err = provider._auth_error({"error": "invalid_request", "error_codes": [90002]})
    assert "AADSTS90002" in err.msg and "tenant" in err.msg


# ----------------------------------------------------------------------------- certificate files

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    plain = pki.issue_cert(None, d, "plain", self_signed=True)
    encrypted = pki.issue_cert(None, d, "encrypted", self_signed=True, key_password="pw1")
    pfx = pki.make_pfx(plain.cert, plain.key, "pw2", os.path.join(d, "plain.pfx"))
    garbage = os.path.join(d, "garbage.bin")
    with open(garbage, "wb") as handle:
        handle.write(b"\x01\x02 not a certificate")
    return {"dir": d, "plain": plain, "encrypted": encrypted, "pfx": pfx, "garbage": garbage}


def _sha1(pair):
    return pair.cert_obj.fingerprint(hashes.SHA1()).hex().upper()


def test_load_pem(certs):
    cred = credentials.load_certificate(certs["plain"].pem)
    assert cred["thumbprint"] == _sha1(certs["plain"])
    assert cred["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert x509.load_pem_x509_certificate(cred["public_certificate"].encode()) == certs["plain"].cert_obj


def test_load_encrypted_pem(certs):
    cred = credentials.load_certificate(certs["encrypted"].pem, "pw1")
    assert cred["thumbprint"] == _sha1(certs["encrypted"]) and "ENCRYPTED" not in cred["private_key"]
    with pytest.raises(ConfigurationError, match="certificate_password"):
        credentials.load_certificate(certs["encrypted"].pem)
    with pytest.raises(ConfigurationError, match="certificate_password") as info:
        credentials.load_certificate(certs["encrypted"].pem, "wrong-pw")
    assert "wrong-pw" not in str(info.value)


def test_load_pfx(certs):
    assert credentials.load_certificate(certs["pfx"], "pw2")["thumbprint"] == _sha1(certs["plain"])
    with pytest.raises(ConfigurationError, match="certificate_password"):
        credentials.load_certificate(certs["pfx"], "nope")
    with pytest.raises(ConfigurationError, match="certificate_password"):
        credentials.load_certificate(certs["pfx"])


@pytest.mark.parametrize("name, match", [("missing", "certificate_path"), ("cert_only", "not its private key"),
                                         ("der_only", "certificate alone .* the private key is missing"),
                                         ("garbage", "certificate_path"), ("mismatch", "matches")])
def test_bad_certificate_files(certs, name, match):
    path = {"missing": os.path.join(certs["dir"], "missing.pem"), "cert_only": certs["plain"].cert,
            "garbage": certs["garbage"]}.get(name)
    if name == "der_only":  # the .cer uploaded to the app registration: the certificate in DER, without a key
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        cert = x509.load_pem_x509_certificate(open(certs["plain"].cert, "rb").read())
        path = os.path.join(certs["dir"], "app.cer")
        with open(path, "wb") as handle:
            handle.write(cert.public_bytes(serialization.Encoding.DER))
        for password in (None, "pw"):
            with pytest.raises(ConfigurationError, match=match) as info:
                credentials.load_certificate(path, password)
            assert "neither a PEM" not in str(info.value) and str(info.value).startswith("certificate_path:")
        return
    if name == "mismatch":
        path = os.path.join(certs["dir"], "mismatch.pem")
        with open(path, "wb") as handle:
            handle.write(open(certs["plain"].cert, "rb").read() + open(certs["encrypted"].key, "rb").read())
        with pytest.raises(ConfigurationError, match=match):
            credentials.load_certificate(path, "pw1")
        return
    with pytest.raises(ConfigurationError, match=match):
        credentials.load_certificate(path)


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    """Certificates outside their validity period, as PEM and as PFX."""
    d = str(tmp_path_factory.mktemp("dated"))
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = pki.issue_cert(None, d, "expired", self_signed=True, common_name="expired app",
                             not_before=now - datetime.timedelta(days=400), not_after=now - datetime.timedelta(days=35))
    future = pki.issue_cert(None, d, "future", self_signed=True, common_name="future app",
                            not_before=now + datetime.timedelta(days=3), not_after=now + datetime.timedelta(days=400))
    return {
        "expired": expired, "future": future,
        "expired_pfx": pki.make_pfx(expired.cert, expired.key, "pw3", os.path.join(d, "expired.pfx")),
        "future_pfx": pki.make_pfx(future.cert, future.key, "pw3", os.path.join(d, "future.pfx")),
    }


def _day(moment):
    return moment.strftime("%Y-%m-%d")


@pytest.mark.parametrize("kind", ["pem", "pfx"])
def test_expired_certificate_is_refused_with_its_dates(dated, kind):
    pair = dated["expired"]
    path, password = (pair.pem, None) if kind == "pem" else (dated["expired_pfx"], "pw3")
    with pytest.raises(ConfigurationError) as info:
        credentials.load_certificate(path, password)
    msg = info.value.msg
    assert msg.startswith("certificate_path: the certificate CN=expired app (thumbprint %s) in '%s' expired on %s"
                          % (_sha1(pair), path, _day(pair.cert_obj.not_valid_after_utc)))
    assert "valid from %s" % _day(pair.cert_obj.not_valid_before_utc) in msg
    assert "EXO_CERTIFICATE_PATH" in msg and "Renew" in msg and "app registration" in msg and "pw3" not in msg


@pytest.mark.parametrize("kind", ["pem", "pfx"])
def test_not_yet_valid_certificate_is_refused_with_its_dates(dated, kind):
    pair = dated["future"]
    path, password = (pair.pem, None) if kind == "pem" else (dated["future_pfx"], "pw3")
    with pytest.raises(ConfigurationError) as info:
        credentials.load_certificate(path, password)
    msg = info.value.msg
    assert msg.startswith("certificate_path: the certificate CN=future app")
    assert "is not valid yet (valid from %s" % _day(pair.cert_obj.not_valid_before_utc) in msg
    assert "this host's clock" in msg and "EXO_CERTIFICATE_PATH" in msg


def test_validity_bounds_are_inclusive(certs):
    cert = certs["plain"].cert_obj
    credentials._check_validity("x.pem", cert, now=cert.not_valid_before_utc)
    credentials._check_validity("x.pem", cert, now=cert.not_valid_after_utc)
    with pytest.raises(ConfigurationError, match="expired on"):
        credentials._check_validity("x.pem", cert, now=cert.not_valid_after_utc + datetime.timedelta(seconds=1))
    with pytest.raises(ConfigurationError, match="not valid yet"):
        credentials._check_validity("x.pem", cert, now=cert.not_valid_before_utc - datetime.timedelta(seconds=1))


def test_expired_certificate_never_reaches_the_token_endpoint(emulator, dated):
    """Before: msal signed an assertion with it and the token endpoint blamed the app registration."""
    settings = client_settings(emulator, certificate_path=dated["expired"].pem)
    with pytest.raises(ConfigurationError, match="^certificate_path: .* expired on"):
        auth.TokenProvider(settings).get_token()
    assert emulator.calls()["tokens"] == 0


def test_certificate_problem_reported_before_network():
    provider = auth.TokenProvider({"tenant": "t", "client_id": "c", "certificate_path": "/nonexistent.pem",
                                   "authority": "https://127.0.0.1:9", "token_cache": False})
    with pytest.raises(ConfigurationError, match="certificate_path"):
        provider.get_token()


# ----------------------------------------------------------------------------- dependencies

@pytest.mark.parametrize("flag, library", [("HAS_MSAL", "msal"), ("HAS_CRYPTOGRAPHY", "cryptography"), ("HAS_REQUESTS", "requests")])
def test_missing_dependency(monkeypatch, flag, library):
    monkeypatch.setattr(libraries, flag, False)
    provider = auth.TokenProvider({"tenant": "t", "client_id": "c", "client_secret": "s", "token_cache": False})
    with pytest.raises(DependencyError) as info:
        provider.get_token()
    assert library in str(info.value) and "pip install" in str(info.value)


def test_missing_credentials():
    with pytest.raises(ConfigurationError):
        auth.TokenProvider({"tenant": "t"})
    with pytest.raises(ConfigurationError, match="client_id"):
        auth.TokenProvider({"tenant": "t", "client_secret": "s"})


def test_token_endpoint_timeout(emulator):
    provider = auth.TokenProvider(client_settings(emulator, timeout=960))
    provider.get_token()
    assert provider._session.timeout == auth.TOKEN_TIMEOUT
    assert auth.TokenProvider(client_settings(emulator, timeout=5)).get_token()


def test_unreachable_authority_is_transient(tmp_path):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    sleeps = []
    provider = auth.TokenProvider({"tenant": "t", "client_id": "c", "client_secret": "s", "token_cache": False,
                                   "authority": "https://127.0.0.1:%d" % port, "timeout": 5, "retries": 1,
                                   "retry_delay": 0.5}, sleep=sleeps.append)
    with pytest.raises(TransientError, match="127.0.0.1:%d" % port) as info:
        provider.get_token()
    # retried within retries / retry_delay, then not retried again by the client (the request was never sent)
    assert sleeps == [0.5] and "gave up after 2 attempts" in info.value.msg and info.value.retryable is False


def test_cached_token_is_used_without_building_the_msal_app(tmp_path):
    """A later task finds the token in the 0600 cache without any request (no discovery, no token call)."""
    from tests.emulator import Emulator
    from tests.emulator.fake import FakeTenant, client_settings
    from ansible_collections.m365.mailflow.plugins.module_utils.transport.auth import TokenProvider
    with Emulator(str(tmp_path / "t.db"), cert_dir=str(tmp_path / "pki"), backend=FakeTenant()) as emu:
        settings = client_settings(emu, "certificate", token_cache=True, token_cache_dir=str(tmp_path / "cache"))
        first = TokenProvider(settings)
        token = first.get_token()
        before = emu.calls()["requests"], emu.calls()["tokens"]
        second = TokenProvider(settings)
        assert second.get_token() == token
        assert second._app is None  # no msal app, hence no OpenID discovery request
        assert (emu.calls()["requests"], emu.calls()["tokens"]) == before
        assert second.get_token(force_refresh=True) != token


# ----------------------------------------------------------------------------- token endpoint faults

def _provider(emulator, credential="certificate", **overrides):
    sleeps = []
    settings = client_settings(emulator, credential, **dict({"retries": 2, "retry_delay": 0.01, "timeout": 1}, **overrides))
    return auth.TokenProvider(settings, sleep=sleeps.append), sleeps


@pytest.mark.parametrize("kind, endpoint, status", [
    ("token_500", "the token endpoint %s/%s/oauth2/v2.0/token answered HTTP 500 (an HTML page)", 500),
    ("token_malformed", "the token endpoint %s/%s/oauth2/v2.0/token answered HTTP 200 with a body that is not JSON", 200),
    ("token_timeout", "the token endpoint %s/%s/oauth2/v2.0/token could not be reached: no answer within 1 seconds", None),
    ("token_reset", "the token endpoint %s/%s/oauth2/v2.0/token could not be reached", None),
    ("discovery_500", "the OpenID discovery document %s/%s/v2.0/.well-known/openid-configuration answered HTTP 500", 500),
    ("discovery_malformed", "the OpenID discovery document %s/%s/v2.0/.well-known/openid-configuration answered HTTP "
                            "200 with a body that is not JSON", 200),
])
def test_token_endpoint_failures_are_retried_then_explained(emulator, kind, endpoint, status):
    emulator.add_faults([dict({"kind": kind, "count": 10}, **({"hold": 1.5} if kind == "token_timeout" else {}))])
    provider, sleeps = _provider(emulator)
    with pytest.raises(TransientError) as info:
        provider.get_token()
    error = info.value
    assert endpoint % (emulator.url, emulator.tenant_id) in error.msg
    assert "gave up after 3 attempts" in error.msg
    for hint in ("authority_url", "tenant", "network"):
        assert hint in error.msg
    assert error.status == status and error.retryable is False  # the client must not retry it again
    assert sleeps == [0.01, 0.02]
    calls = emulator.calls()
    assert calls["tokens" if kind.startswith("token") else "discovery"] == 3


@pytest.mark.parametrize("kind", ["token_500", "discovery_500", "token_malformed", "token_reset"])
def test_one_token_endpoint_failure_is_overcome(emulator, kind):
    emulator.add_faults([{"kind": kind, "count": 1}])
    provider, sleeps = _provider(emulator)
    assert auth.decode_jwt_payload(provider.get_token())["tid"] == emulator.tenant_id
    assert sleeps == [0.01]
    # msal replays a 5xx from its own throttle cache for seconds: the retry must really reach the endpoint again
    assert provider.token_requests == emulator.calls()["tokens"] == (1 if kind.startswith("discovery") else 2)


@pytest.mark.parametrize("kind, credential, option", [
    ("invalid_client", "secret", "client_secret"),
    ("invalid_client", "certificate", "certificate_path"),
    ("unauthorized_client", "certificate", "client_id"),
])
def test_refused_credentials_name_the_option_and_are_not_retried(emulator, kind, credential, option):
    emulator.add_faults([{"kind": kind, "count": 10}])
    provider, sleeps = _provider(emulator, credential)
    with pytest.raises(AuthenticationError) as info:
        provider.get_token()
    assert option in info.value.msg and kind in info.value.msg
    assert sleeps == [] and emulator.calls()["tokens"] == 1


def test_credential_hints_without_a_known_code():
    secret = auth.TokenProvider({"tenant": "t", "client_id": "c", "client_secret": "s", "token_cache": False})
    assert "client_secret" in secret._auth_error({"error": "invalid_client"}).msg
    cert = auth.TokenProvider({"tenant": "t", "client_id": "c", "certificate_path": "/c.pem", "token_cache": False})
    assert "certificate_path" in cert._auth_error({"error": "invalid_client"}).msg
    assert "client_id" in cert._auth_error({"error": "unauthorized_client"}).msg


def test_token_failure_before_a_write_sends_nothing_to_exchange(emulator):
    from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
    from ansible_collections.m365.mailflow.plugins.module_utils.transport.rest import RestTransport
    emulator.add_faults([{"kind": "token_500", "count": 10}])
    sleeps = []
    settings = client_settings(emulator, retries=1, retry_delay=0.01)
    client = Client(RestTransport(settings, token_provider=auth.TokenProvider(settings, sleep=sleeps.append)),
                    retries=5, retry_delay=0.01, sleep=sleeps.append)
    with pytest.raises(TransientError) as info:
        client.invoke("New-InboundConnector", {"Name": "x"}, write=True, verify=lambda: False)
    assert "token endpoint" in info.value.msg and "may or may not" not in info.value.msg
    assert sleeps == [0.01]  # the token provider's one retry, none by the client on top
    assert emulator.calls()["requests"] == 0 and emulator.calls()["tokens"] == 2


def test_msal_does_not_print_its_tracebacks(emulator):
    """msal logs a token answer that is not JSON with its traceback; in a module process (no logging set up) that
    would land on stderr. Run in a fresh interpreter: pytest's own log handlers would hide it here."""
    import subprocess
    import sys
    emulator.add_faults([{"kind": "token_malformed", "count": 10}])
    settings = client_settings(emulator, retries=0)
    script = ("import json, sys\n"
              "from ansible_collections.m365.mailflow.plugins.module_utils.transport import auth\n"
              "from ansible_collections.m365.mailflow.plugins.module_utils.errors import TransientError\n"
              "try:\n"
              "    auth.TokenProvider(json.loads(sys.argv[1])).get_token()\n"
              "except TransientError as exc:\n"
              "    print(exc.msg)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(settings)], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=os.path.join(root, ".build", "collections")), check=False)
    assert "answered HTTP 200 with a body that is not JSON" in proc.stdout, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip() == ""
