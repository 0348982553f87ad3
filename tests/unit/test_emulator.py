# -*- coding: utf-8 -*-
"""The HTTPS emulator itself: routes, control API, faults, token endpoint, paging, replication delay, CLI."""

from __future__ import absolute_import, division, print_function

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from tests.emulator import Emulator
from tests.emulator.fake import FakeTenant, client_settings
from tests.emulator.fixtures import clean, emulator, tenant  # noqa: F401  pylint: disable=unused-import

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def http(emulator, method, path, body=None, headers=None, form=False):
    """(status, headers, parsed JSON or raw bytes) of one request to the emulator."""
    context = ssl.create_default_context(cafile=emulator.ca_path)
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else (
            urllib.parse.urlencode(body) if form else json.dumps(body)).encode("utf-8")
    request = urllib.request.Request(emulator.url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            status, hdrs, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, hdrs, raw = exc.code, dict(exc.headers), exc.read()
    try:
        return status, hdrs, json.loads(raw.decode("utf-8"))
    except ValueError:
        return status, hdrs, raw


def invoke(emulator, cmdlet, parameters=None, token=None, anchor="APP:x", version="beta", tenant=None, prefer=None, url=None):
    headers = {"Content-Type": "application/json"}
    if token is not False:
        headers["Authorization"] = "Bearer " + (token or emulator.issue_token())
    if anchor:
        headers["X-AnchorMailbox"] = anchor
    if prefer:
        headers["Prefer"] = prefer
    path = url[len(emulator.url):] if url else "/adminapi/%s/%s/InvokeCommand" % (version, tenant or emulator.tenant_id)
    return http(emulator, "POST", path, wire.request_body(cmdlet, parameters), headers)


def test_loopback_only(tmp_path):
    with pytest.raises(ValueError):
        Emulator(str(tmp_path / "s.db"), host="0.0.0.0", backend=FakeTenant())


def test_attributes(emulator):
    assert emulator.url.startswith("https://127.0.0.1:")
    assert os.path.exists(emulator.ca_path)
    for key in ("client_id", "certificate_path", "pfx_path", "certificate_password", "client_secret", "encrypted_certificate_path"):
        assert emulator.app[key]
    assert "PRIVATE KEY" in open(emulator.app["certificate_path"]).read()


def test_invoke_and_calls(emulator, tenant):
    tenant.add("InboundConnector", "A")
    status, headers, body = invoke(emulator, "Get-InboundConnector")
    assert status == 200 and body["value"][0]["Name"] == "A"
    assert headers["request-id"] and headers["Rate-Limit-Limit"] == "30000" and "Rate-Limit-Reset" in headers
    invoke(emulator, "New-InboundConnector", {"Name": "B"})
    invoke(emulator, "Validate-OutboundConnector", {"Identity": "x"})
    status, _unused, calls = http(emulator, "GET", "/_emulator/calls")
    assert status == 200
    assert calls["cmdlets"] == {"Get-InboundConnector": 1, "New-InboundConnector": 1, "Validate-OutboundConnector": 1}
    assert calls["reads"] == 1 and calls["writes"] == 2 and calls["requests"] == 3 and calls["tokens"] == 0
    assert [e["status"] for e in calls["log"]] == [200, 200, 403]
    assert calls["log"][1] == {"cmdlet": "New-InboundConnector", "parameters": {"Name": "B"}, "status": 200,
                               "executed": 200}
    assert calls["log"][2]["executed"] == 403  # the tenant itself refused it
    assert emulator.calls() == calls


def test_tenant_domain_in_path(emulator):
    assert invoke(emulator, "Get-InboundConnector", tenant=emulator.tenant_domain)[0] == 200
    assert invoke(emulator, "Get-InboundConnector", tenant="fabrikam.onmicrosoft.com")[0] == 401


def test_v1_is_405(emulator):
    assert invoke(emulator, "Get-InboundConnector", version="v1.0")[0] == 405


@pytest.mark.parametrize("token", [False, "garbage", "a.b.c"])
def test_bad_tokens(emulator, token):
    status, headers, _unused = invoke(emulator, "Get-InboundConnector", token=token)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert emulator.calls()["cmdlets"] == {} and emulator.calls()["log"][0]["status"] == 401


def test_expired_token(emulator):
    token = emulator.issue_token(lifetime=-10)
    assert invoke(emulator, "Get-InboundConnector", token=token)[0] == 401


def test_token_without_exchange_role(emulator):
    assert invoke(emulator, "Get-InboundConnector", token=emulator.issue_token(roles=[]))[0] == 401


def test_missing_anchor(emulator):
    status, _unused, body = invoke(emulator, "Get-InboundConnector", anchor=None)
    assert status == 400 and "X-AnchorMailbox" in json.dumps(body)


def test_bad_body(emulator):
    headers = {"Authorization": "Bearer " + emulator.issue_token(), "X-AnchorMailbox": "APP:x"}
    status, _unused, _unused = http(emulator, "POST", "/adminapi/beta/%s/InvokeCommand" % emulator.tenant_id, b"not json", headers)
    assert status == 400


def test_unknown_route(emulator):
    assert http(emulator, "GET", "/nothing/here")[0] == 404


def test_faults_count_and_wildcard(emulator):
    emulator.add_faults([{"cmdlet": "get-inboundconnector", "status": 503, "count": 2},
                         {"cmdlet": "*", "status": 500, "count": 1}])
    statuses = [invoke(emulator, "Get-InboundConnector")[0] for _unused in range(4)]
    assert statuses == [503, 503, 500, 200]
    calls = emulator.calls()
    assert calls["cmdlets"] == {"Get-InboundConnector": 4} and [e["status"] for e in calls["log"]] == statuses


def test_fault_429_retry_after(emulator):
    http(emulator, "POST", "/_emulator/faults", [{"cmdlet": "Set-InboundConnector", "status": 429, "count": 1, "retry_after": "0.25"}])
    status, headers, body = invoke(emulator, "Set-InboundConnector", {"Identity": "x"})
    assert status == 429 and headers["Retry-After"] == "0.25"
    with pytest.raises(Exception) as info:
        wire.raise_for_response(wire.RawResponse(status, headers, json.dumps(body)), "Set-InboundConnector")
    assert info.value.retry_after == 0.25


def test_after_execute_fault(emulator, tenant):
    emulator.add_faults([{"cmdlet": "New-InboundConnector", "status": 503, "after_execute": True}])
    assert invoke(emulator, "New-InboundConnector", {"Name": "lost"})[0] == 503
    assert tenant.objects["inboundconnector"][0]["Name"] == "lost"
    assert emulator.calls()["writes"] == 1


@pytest.mark.parametrize("fault", [{"status": 418}, {"cmdlet": "x"}, {"status": 503, "retry_after": "1"}, {"latency": 1, "status": 500},
                                   {"status": 503, "bogus": 1}, "string"])
def test_bad_faults_rejected(emulator, fault):
    assert http(emulator, "POST", "/_emulator/faults", [fault])[0] == 400
    with pytest.raises(ValueError):
        emulator.add_faults([fault])


def test_forbidden(emulator):
    emulator.add_faults([{"forbidden": True}])
    status, headers, body = invoke(emulator, "Get-InboundConnector")
    assert status == 403 and body.strip(b"\x00") == b"" and len(body) > 0
    emulator.reset()
    assert invoke(emulator, "Get-InboundConnector")[0] == 200


def test_latency(emulator):
    emulator.add_faults([{"latency": 0.3}])
    start = time.time()
    invoke(emulator, "Get-InboundConnector")
    assert time.time() - start >= 0.3


def test_expire_tokens(emulator):
    old = emulator.issue_token()
    http(emulator, "POST", "/_emulator/faults", [{"expire_tokens": True}])
    assert invoke(emulator, "Get-InboundConnector", token=old)[0] == 401
    assert invoke(emulator, "Get-InboundConnector")[0] == 200  # a token issued afterwards works


def test_reset_keeps_tenant_state(emulator, tenant):
    invoke(emulator, "New-InboundConnector", {"Name": "kept"})
    emulator.add_faults([{"cmdlet": "*", "status": 503, "count": 5}])
    assert http(emulator, "POST", "/_emulator/reset")[0] == 200
    calls = emulator.calls()
    assert calls["requests"] == 0 and calls["log"] == []
    status, _unused, body = invoke(emulator, "Get-InboundConnector", {"Identity": "kept"})
    assert status == 200 and body["value"][0]["Name"] == "kept"


def test_replication_delay(emulator, tenant):
    tenant.add("InboundConnector", "old")
    emulator.add_faults([{"replication_delay": 0.6}])
    assert invoke(emulator, "New-InboundConnector", {"Name": "fresh"})[0] == 200
    status, _unused, body = invoke(emulator, "Get-InboundConnector", {"Identity": "fresh"})
    assert status == 404 and "ManagementObjectNotFoundException" in json.dumps(body)
    assert [o["Name"] for o in invoke(emulator, "Get-InboundConnector")[2]["value"]] == ["old"]
    time.sleep(0.7)
    assert invoke(emulator, "Get-InboundConnector", {"Identity": "fresh"})[0] == 200
    assert len(invoke(emulator, "Get-InboundConnector")[2]["value"]) == 2


def test_paging(emulator, tenant):
    for i in range(5):
        tenant.add("InboundConnector", "c%d" % i)
    status, _unused, page = invoke(emulator, "Get-InboundConnector", prefer="odata.maxpagesize=2")
    names = [o["Name"] for o in page["value"]]
    assert page["@adminapi.warnings"] == [wire.PAGINATION_WARNING]
    while "@odata.nextLink" in page:
        assert page["@odata.nextLink"].startswith(emulator.url + "/adminapi/beta/")
        status, _unused, page = invoke(emulator, "Get-InboundConnector", prefer="odata.maxpagesize=2", url=page["@odata.nextLink"])
        assert status == 200
        names += [o["Name"] for o in page["value"]]
    assert names == ["c0", "c1", "c2", "c3", "c4"] and page["@adminapi.warnings"] == []
    # a skiptoken for another cmdlet is an invalid pagination request
    _unused, _unused, first = invoke(emulator, "Get-InboundConnector", prefer="odata.maxpagesize=2")
    status, _unused, body = invoke(emulator, "Get-OutboundConnector", url=first["@odata.nextLink"])
    assert status == 400 and "pagination" in json.dumps(body)


# ----------------------------------------------------------------------------- token endpoint

def test_openid_configuration(emulator):
    for tenant in (emulator.tenant_id, emulator.tenant_domain):
        status, _unused, doc = http(emulator, "GET", "/%s/v2.0/.well-known/openid-configuration" % tenant)
        assert status == 200
        assert doc["token_endpoint"] == "%s/%s/oauth2/v2.0/token" % (emulator.url, tenant)
        assert doc["authorization_endpoint"] and doc["issuer"] and doc["jwks_uri"]
    status, _unused, doc = http(emulator, "GET", "/nope.onmicrosoft.com/v2.0/.well-known/openid-configuration")
    assert status == 400 and doc["error_codes"] == [90002]


def _token_request(emulator, form):
    return http(emulator, "POST", "/%s/oauth2/v2.0/token" % emulator.tenant_id, form, form=True,
                headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_token_with_secret(emulator):
    form = {"grant_type": "client_credentials", "client_id": emulator.app["client_id"],
            "client_secret": emulator.app["client_secret"], "scope": "https://outlook.office365.com/.default"}
    status, _unused, doc = _token_request(emulator, form)
    assert status == 200 and doc["token_type"] == "Bearer" and doc["expires_in"] == 3600
    assert invoke(emulator, "Get-InboundConnector", token=doc["access_token"])[0] == 200
    assert emulator.calls()["tokens"] == 1


@pytest.mark.parametrize("change, status, code", [
    ({"client_id": "00000000-0000-0000-0000-000000000000"}, 400, 700016),
    ({"client_secret": "wrong"}, 401, 7000215),
    ({"grant_type": "password"}, 400, 70003),
    ({"scope": "https://graph.microsoft.com/.default"}, 400, 500011),
    ({"client_secret": None, "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      "client_assertion": "a.b.c"}, 401, 700027),
])
def test_token_errors(emulator, change, status, code):
    form = {"grant_type": "client_credentials", "client_id": emulator.app["client_id"],
            "client_secret": emulator.app["client_secret"], "scope": "https://outlook.office365.com/.default"}
    form.update(change)
    form = dict((k, v) for k, v in form.items() if v is not None)
    got, _unused, doc = _token_request(emulator, form)
    assert got == status and doc["error_codes"] == [code] and doc["error_description"].startswith("AADSTS%d" % code)


def test_expires_in_is_configurable(tmp_path):
    with Emulator(str(tmp_path / "s.db"), cert_dir=str(tmp_path / "pki"), backend=FakeTenant(), expires_in=120) as emu:
        from ansible_collections.m365.mailflow.plugins.module_utils.transport.auth import TokenProvider, decode_jwt_payload
        claims = decode_jwt_payload(TokenProvider(client_settings(emu)).get_token())
        assert claims["exp"] - claims["iat"] == 120


def test_stop_releases_the_port(tmp_path):
    emu = Emulator(str(tmp_path / "s.db"), backend=FakeTenant()).start()
    port, cert_dir = emu.port, emu.cert_dir
    emu.stop()
    import socket
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.close()
    assert not os.path.exists(cert_dir)  # a temporary cert dir is removed


# ----------------------------------------------------------------------------- with the real SandboxTenant

def _sandbox_available():
    try:
        from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import tenant as sandbox  # noqa: F401
    except ImportError:
        return False
    return True


needs_sandbox = pytest.mark.skipif(not _sandbox_available(), reason="plugins/module_utils/sandbox/ not there yet")


@needs_sandbox
def test_default_backend_is_sandbox(tmp_path):
    from ansible_collections.m365.mailflow.plugins.module_utils.transport.rest import RestTransport
    with Emulator(str(tmp_path / "tenant.db"), cert_dir=str(tmp_path / "pki"), tenant_domain="contoso.onmicrosoft.com") as emu:
        assert emu.tenant_domain == "contoso.onmicrosoft.com"
        t = RestTransport(client_settings(emu))
        raw = t.send("Get-InboundConnector", {})
        assert raw.status == 200 and wire.parse_response(raw, "Get-InboundConnector").objects == []


@needs_sandbox
def test_cli(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "tests.emulator", "--state", str(tmp_path / "t.db"), "--cert-dir",
                             str(tmp_path / "pki"), "--tenant-domain", "contoso.onmicrosoft.com"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        info = json.loads(proc.stdout.readline())
        for key in ("url", "ca_path", "tenant_id", "tenant_domain", "client_id", "certificate_path", "client_secret"):
            assert info[key]
        context = ssl.create_default_context(cafile=info["ca_path"])
        with urllib.request.urlopen(info["url"] + "/_emulator/calls", context=context, timeout=10) as response:
            assert json.loads(response.read())["requests"] == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------------------- transport fault kinds

def _raw_invoke(emulator, cmdlet, parameters=None, timeout=10, path=None, port=None):
    """One InvokeCommand through http.client: (status, headers, body) or the exception it raised."""
    import http.client
    context = ssl.create_default_context(cafile=emulator.ca_path)
    conn = http.client.HTTPSConnection("127.0.0.1", port or emulator.port, context=context, timeout=timeout)
    body = json.dumps(wire.request_body(cmdlet, parameters or {}))
    try:
        conn.request("POST", path or "/adminapi/beta/%s/InvokeCommand" % emulator.tenant_id, body=body,
                     headers={"Authorization": "Bearer " + emulator.issue_token(), "X-AnchorMailbox": "APP:x",
                              "Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    except Exception as exc:  # pylint: disable=broad-except
        return exc
    finally:
        conn.close()


# ----------------------------------------------------------------------------- redirecting tenant

def test_redirecting_tenant(emulator, tenant):
    tenant.add("InboundConnector", "A")
    status, _unused, info = http(emulator, "POST", "/_emulator/redirect", {"enabled": True})
    assert status == 200 and info["tenant_url"].startswith("https://127.0.0.1:") and info["tenant_url"] != emulator.url
    path = "/adminapi/beta/%s/InvokeCommand?$skiptoken=abc" % emulator.tenant_id
    status, headers, _unused = _raw_invoke(emulator, "Get-InboundConnector", path=path)  # http.client never follows
    assert status == 302 and headers["Location"] == info["tenant_url"] + path
    status, _unused, body = _raw_invoke(emulator, "Get-InboundConnector", port=int(info["tenant_url"].rsplit(":", 1)[1]))
    assert status == 200 and json.loads(body)["value"][0]["Name"] == "A"
    calls = emulator.calls()
    assert calls["redirects"] == 1 and calls["hosts"] == {"front": 1, "tenant": 1} and calls["requests"] == 2
    assert [e["status"] for e in calls["log"]] == [302, 200] and calls["cmdlets"] == {"Get-InboundConnector": 1}
    emulator.reset()  # a property of the tenant: kept
    assert _raw_invoke(emulator, "Get-InboundConnector")[0] == 302
    assert http(emulator, "POST", "/_emulator/redirect", {"enabled": False})[0] == 200
    assert invoke(emulator, "Get-InboundConnector")[0] == 200
    assert http(emulator, "POST", "/_emulator/redirect", {"status": 200})[0] == 400


def test_redirect_with_a_given_location(emulator):
    emulator.set_redirect(True, status=307, location="http://insecure.example/x")
    status, headers, _unused = _raw_invoke(emulator, "New-InboundConnector", {"Name": "x"})
    assert status == 307 and headers["Location"] == "http://insecure.example/x" and emulator.calls()["writes"] == 0


@pytest.mark.parametrize("kind, after", [("reset", False), ("reset", True), ("close", False), ("close", True)])
def test_faults_without_an_answer(emulator, tenant, kind, after):
    import http.client
    emulator.add_faults([{"kind": kind, "cmdlet": "New-InboundConnector", "after_execute": after}])
    outcome = _raw_invoke(emulator, "New-InboundConnector", {"Name": "n"})
    assert isinstance(outcome, (http.client.HTTPException, OSError)), outcome
    assert len(tenant.objects.get("inboundconnector", [])) == (1 if after else 0)
    log = emulator.calls()["log"]
    assert log[0]["status"] is None and log[0]["fault"] == kind
    assert log[0]["executed"] == (200 if after else None)  # what the tenant answered when it ran
    assert emulator.calls()["faults"] == [{"kind": kind, "endpoint": "invoke", "cmdlet": "New-InboundConnector",
                                           "after_execute": after, "status": None, "random": False}]


@pytest.mark.parametrize("after", [False, True])
def test_timeout_fault(emulator, tenant, after):
    emulator.add_faults([{"kind": "timeout", "hold": 0.8, "after_execute": after}])
    start = time.time()
    outcome = _raw_invoke(emulator, "New-InboundConnector", {"Name": "n"}, timeout=0.3)
    assert isinstance(outcome, OSError) and "timed out" in str(outcome)
    time.sleep(max(0.0, 0.9 - (time.time() - start)))
    assert len(tenant.objects.get("inboundconnector", [])) == (1 if after else 0)


def test_calls_wait_for_a_held_answer_to_be_logged(emulator, tenant):
    emulator.add_faults([{"kind": "timeout", "hold": 1.0, "after_execute": True}])
    _raw_invoke(emulator, "New-InboundConnector", {"Name": "n"}, timeout=0.2)
    assert emulator.calls()["log"] == []  # still held: logged when it is answered
    status, _unused, calls = http(emulator, "GET", "/_emulator/calls?wait=5")
    assert status == 200 and [(e["status"], e["fault"], e["executed"]) for e in calls["log"]] == [(200, "timeout", 200)]
    assert http(emulator, "GET", "/_emulator/calls?wait=soon")[0] == 400


@pytest.mark.parametrize("kind, body", [("garbled", None), ("empty", b""), ("empty_object", b"{}"), ("not_object", b"[]")])
def test_200_faults_after_execution(emulator, tenant, kind, body):
    emulator.add_faults([{"kind": kind, "cmdlet": "New-InboundConnector"}])
    status, _unused, got = _raw_invoke(emulator, "New-InboundConnector", {"Name": "n"})
    assert status == 200 and len(tenant.objects["inboundconnector"]) == 1
    if body is None:
        with pytest.raises(ValueError):
            json.loads(got.decode("utf-8", "replace"))
        assert got.startswith(b'{"@odata.context"')
    else:
        assert got == body


def test_garbled_body_as_given(emulator):
    emulator.add_faults([{"kind": "garbled", "body": '{"value": 1}'}])
    assert _raw_invoke(emulator, "Get-InboundConnector")[2] == b'{"value": 1}'


def test_truncated_fault(emulator, tenant):
    import http.client
    tenant.add("InboundConnector", "A")
    emulator.add_faults([{"kind": "truncated"}])
    outcome = _raw_invoke(emulator, "Get-InboundConnector")
    assert isinstance(outcome, http.client.IncompleteRead) and outcome.partial.startswith(b'{"@odata.context"')


def test_429_with_a_date(emulator):
    import email.utils
    emulator.add_faults([{"status": 429, "retry_after_date": 30}])
    status, headers, _unused = invoke(emulator, "Get-InboundConnector")
    assert status == 429
    assert 25 <= email.utils.mktime_tz(email.utils.parsedate_tz(headers["Retry-After"])) - time.time() <= 31


def test_page_size_cap(emulator, tenant):
    for i in range(3):
        tenant.add("InboundConnector", "c%d" % i)
    emulator.add_faults([{"page_size": 2}])
    _unused, _unused, page = invoke(emulator, "Get-InboundConnector", prefer="odata.maxpagesize=1000")
    assert len(page["value"]) == 2 and "@odata.nextLink" in page


@pytest.mark.parametrize("fault", [
    {"kind": "nope"}, {"kind": "reset", "status": 503}, {"kind": "reset", "hold": 2}, {"kind": "timeout", "hold": 0},
    {"kind": "timeout", "hold": 120}, {"kind": "empty", "body": "x"}, {"kind": "token_500", "cmdlet": "Get-X"},
    {"status": 503, "retry_after_date": 1}, {"page_size": 0}, {"page_size": 2, "latency": 1},
    {"random": {"rate": 2}}, {"random": {"kinds": ["nope"]}}, {"random": {"kinds": [{"kind": "reset", "count": 2}]}},
    {"random": {"max_consecutive": 0}}, {"random": {"bogus": 1}},
])
def test_bad_new_faults_rejected(emulator, fault):
    assert http(emulator, "POST", "/_emulator/faults", [fault])[0] == 400


# ----------------------------------------------------------------------------- token endpoint faults

def _token_form(emulator):
    return {"grant_type": "client_credentials", "client_id": emulator.app["client_id"],
            "client_secret": emulator.app["client_secret"], "scope": "https://outlook.office365.com/.default"}


@pytest.mark.parametrize("kind, status, check", [
    ("token_500", 500, lambda body: body.startswith(b"<!DOCTYPE html>")),
    ("token_malformed", 200, lambda body: isinstance(body, bytes) and body.startswith(b'{"token_type"')),
    ("invalid_client", 401, lambda body: body["error"] == "invalid_client" and body["error_codes"] == [7000215]),
    ("unauthorized_client", 400, lambda body: body["error"] == "unauthorized_client" and body["error_codes"] == [700016]),
])
def test_token_faults(emulator, kind, status, check):
    emulator.add_faults([{"kind": kind}])
    got, _unused, body = _token_request(emulator, _token_form(emulator))
    assert got == status and check(body)
    assert _token_request(emulator, _token_form(emulator))[0] == 200  # count 1: the next request is served
    assert emulator.calls()["faults"][0]["endpoint"] == "token"


@pytest.mark.parametrize("kind, status", [("discovery_500", 500), ("discovery_malformed", 200)])
def test_discovery_faults(emulator, kind, status):
    emulator.add_faults([{"kind": kind}])
    path = "/%s/v2.0/.well-known/openid-configuration" % emulator.tenant_id
    got, _unused, body = http(emulator, "GET", path)
    assert got == status and isinstance(body, bytes)
    assert http(emulator, "GET", path)[0] == 200 and emulator.calls()["discovery"] == 2


# ----------------------------------------------------------------------------- random mode

def _fault_sequence(emulator, spec, requests=40):
    emulator.reset()
    emulator.add_faults([{"random": spec}])
    statuses = [invoke(emulator, "Get-InboundConnector")[0] for _unused in range(requests)]
    return statuses, emulator.calls()["faults"]


def test_random_mode_is_replayable_from_its_seed(emulator):
    spec = {"rate": 0.5, "seed": 1234, "kinds": ["429", "503", "500", "504"]}
    first = _fault_sequence(emulator, spec)
    assert first == _fault_sequence(emulator, spec)
    statuses, faults = first
    assert 5 < len(faults) < 35 and all(f["random"] for f in faults)
    assert sorted(set(s for s in statuses)) == sorted(set([200] + [f["status"] for f in faults]))
    assert _fault_sequence(emulator, dict(spec, seed=99))[0] != statuses


def test_random_mode_limits_consecutive_faults(emulator):
    statuses, faults = _fault_sequence(emulator, {"rate": 1.0, "seed": 7, "kinds": ["503"], "max_consecutive": 2}, 9)
    assert statuses == [503, 503, 200] * 3 and len(faults) == 6
    statuses, faults = _fault_sequence(emulator, {"rate": 0.0, "seed": 7}, 5)
    assert statuses == [200] * 5 and faults == []


def test_random_mode_kind_shapes(emulator, tenant):
    spec = {"rate": 1.0, "seed": 3, "max_consecutive": 1, "retry_after": "0.2",
            "kinds": ["429", "429_date", "503_after", {"kind": "garbled", "body": "x"}]}
    emulator.add_faults([{"random": spec}])
    seen = {}
    for index in range(16):
        outcome = _raw_invoke(emulator, "New-InboundConnector", {"Name": "n%d" % index})
        if index % 2 == 0:  # every other request is faulted (max_consecutive 1)
            seen.setdefault(outcome[0], outcome)
    faults = emulator.calls()["faults"]
    assert len(faults) == 8 and set(f["kind"] for f in faults) <= {"status", "garbled"}
    if 429 in seen:
        assert seen[429][1]["Retry-After"] in ("0.2",) or "GMT" in seen[429][1]["Retry-After"]
    executed = [f for f in faults if f["after_execute"]]
    # requests not faulted and faults after execution both ran; faults before execution did not
    assert len(tenant.objects["inboundconnector"]) == 8 + len(executed)
    emulator.add_faults([{"random": None}])
    assert invoke(emulator, "Get-InboundConnector")[0] == 200


def test_random_token_faults(emulator):
    emulator.add_faults([{"random": {"rate": 1.0, "seed": 5, "kinds": ["token_500"], "max_consecutive": 1}}])
    assert [_token_request(emulator, _token_form(emulator))[0] for _unused in range(4)] == [500, 200, 500, 200]
    assert invoke(emulator, "Get-InboundConnector")[0] == 200  # no InvokeCommand kinds: not drawn at all


@needs_sandbox
def test_cli_redirecting_tenant(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "tests.emulator", "--state", str(tmp_path / "t.db"), "--cert-dir",
                             str(tmp_path / "pki"), "--redirect"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["redirect"] is True and info["tenant_url"].startswith("https://127.0.0.1:")
        assert info["tenant_url"] != info["url"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
