# -*- coding: utf-8 -*-
"""RestTransport: URL, headers, paging, token refresh, network errors, and real-shaped responses through wire."""

from __future__ import absolute_import, division, print_function

import json
import os
import socket
from http.client import BadStatusLine, IncompleteRead, RemoteDisconnected

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from ansible_collections.m365.mailflow.plugins.module_utils.transport import rest
from ansible_collections.m365.mailflow.plugins.module_utils.transport.auth import decode_jwt_payload
from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.memo import TenantMemo
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidParameterError,
    MailflowError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
    TransientError,
)
from tests.emulator.fake import client_settings
from tests.emulator.fixtures import clean, emulator, tenant  # noqa: F401  pylint: disable=unused-import

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures")


def fixture_response(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        doc = json.load(handle)
    return wire.RawResponse(doc["status"], doc["headers"], json.dumps(doc["body"]).encode("utf-8"))


def transport(emulator, credential="certificate", memo=None, **overrides):
    return rest.RestTransport(client_settings(emulator, credential, **overrides), memo=memo)


# ----------------------------------------------------------------------------- canned real-shaped responses

def test_error_json_7_2():
    with pytest.raises(InvalidParameterError) as info:
        wire.parse_response(fixture_response("error_ambiguous_parameter.json"), "Set-InboundConnector")
    assert "BogusParameter" in info.value.msg
    assert info.value.exception_type.endswith("AmbiguousParameterSetException")
    assert info.value.request_id == "5b1c2f0e-6a55-4f37-9d2c-0f4b3a1e7c11"


def test_not_found_json():
    with pytest.raises(NotFoundError) as info:
        wire.parse_response(fixture_response("error_not_found.json"), "Get-InboundConnector")
    assert "Missing Partner" in info.value.msg and info.value.status == 404


def test_invalid_enum_json():
    with pytest.raises(InvalidParameterError, match="OnPremises, Partner"):
        wire.parse_response(fixture_response("error_invalid_enum.json"), "New-InboundConnector")


def test_envelope_with_sidecars():
    parsed = wire.parse_response(fixture_response("envelope_with_sidecars.json"), "Get-TransportRule")
    assert parsed.warnings == [] and parsed.next_link is None
    rule = parsed.objects[0]
    assert rule["Priority"] == 0 and rule["Exceptions"] is None and rule["Guid"].startswith("ae0627d4")
    assert not [k for k in rule if "@" in k]


def test_get_inbound_connector_record():
    (record,) = wire.parse_response(fixture_response("get_inbound_connector.json"), "Get-InboundConnector").objects
    assert record["SenderDomains"] == ["smtp:*;1"] and record["RequireTls"] is True
    assert record["TlsSenderCertificateName"] == "*.example.com" and record["Identity"] == "connectortest"
    assert not [k for k in record if "@" in k]


def test_paged_response():
    parsed = wire.parse_response(fixture_response("paged_first_page.json"), "Get-InboundConnector")
    assert [o["Name"] for o in parsed.objects] == ["a", "b"]
    assert parsed.next_link.endswith("InvokeCommand?$skiptoken=eyJvIjoyfQ")
    assert parsed.warnings == [wire.PAGINATION_WARNING]


# ----------------------------------------------------------------------------- URL and headers (no network)

@pytest.mark.parametrize("cloud, host", [("commercial", "outlook.office365.com"), ("gcc_high", "outlook.office365.us"),
                                         ("dod", "outlook-dod.office365.us"), ("china", "partner.outlook.cn")])
def test_url_per_cloud(cloud, host):
    assert rest.invoke_url({"cloud": cloud, "tenant": "t1"}) == "https://%s/adminapi/beta/t1/InvokeCommand" % host


def test_api_url_override():
    assert rest.invoke_url({"cloud": "commercial", "tenant": "t1", "api_url": "https://127.0.0.1:8443/"}) == \
        "https://127.0.0.1:8443/adminapi/beta/t1/InvokeCommand"


class _Response(object):
    def __init__(self, status, body):
        self.status, self.body = status, body
        self.headers = {"Content-Type": "application/json"}

    def getcode(self):
        return self.status

    def read(self):
        return self.body

    def close(self):
        pass


def test_headers_and_request_ids(monkeypatch):
    sent = []

    def fake_open_url(url, data=None, headers=None, method=None, **kwargs):
        sent.append({"url": url, "data": json.loads(data), "headers": headers, "method": method, "kwargs": kwargs})
        return _Response(200, b'{"value": []}')

    monkeypatch.setattr(rest, "open_url", fake_open_url)
    token = "a.%s.c" % "eyJ0aWQiOiJ0ZW5hbnQtZ3VpZCJ9"  # {"tid":"tenant-guid"}
    t = rest.RestTransport({"tenant": "contoso.onmicrosoft.com", "access_token": token, "cloud": "commercial",
                            "ca_path": "/ca.pem"})
    t.send("Get-InboundConnector", {"Identity": "x"})
    t.send("Get-InboundConnector", {"Identity": "x"}, next_link="https://outlook.office365.com/next?$skiptoken=1")
    t.send("Set-InboundConnector", {"Identity": "x", "Enabled": False})
    first, page, other = sent
    assert first["url"] == "https://outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
    assert first["method"] == "POST"
    assert first["data"] == {"CmdletInput": {"CmdletName": "Get-InboundConnector", "Parameters": {"Identity": "x"}}}
    h = first["headers"]
    assert h["Authorization"] == "Bearer " + token
    assert h["X-AnchorMailbox"] == "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@tenant-guid"
    assert h["Content-Type"] == "application/json" and h["Accept"] == "application/json"
    assert h["X-CmdletName"] == "Get-InboundConnector" and h["X-ResponseFormat"] == "json"
    assert h["Prefer"] == "odata.maxpagesize=1000" and h["X-ClientApplication"] == "m365.mailflow"
    assert first["kwargs"]["ca_path"] == "/ca.pem" and first["kwargs"]["validate_certs"] is True
    assert first["kwargs"]["timeout"] == 960
    assert page["url"] == "https://outlook.office365.com/next?$skiptoken=1" and page["data"] == first["data"]
    assert page["headers"]["client-request-id"] == h["client-request-id"]
    assert other["headers"]["client-request-id"] != h["client-request-id"]
    assert len(set(s["headers"]["connection-id"] for s in sent)) == 1
    assert t.requests == 3


def test_caller_request_id(monkeypatch):
    sent = []
    monkeypatch.setattr(rest, "open_url", lambda url, **kw: sent.append(kw["headers"]) or _Response(200, b"{}"))
    t = rest.RestTransport({"tenant": "t", "access_token": "x"})
    t.send("Get-InboundConnector", {}, request_id="11111111-0000-0000-0000-000000000000")
    assert sent[0]["client-request-id"] == "11111111-0000-0000-0000-000000000000"


# ----------------------------------------------------------------------------- against the emulator

@pytest.mark.parametrize("credential", ["certificate", "encrypted_pem", "pfx", "secret"])
def test_invoke_end_to_end(emulator, tenant, credential):
    tenant.add("InboundConnector", "Partner A", SenderDomains=["smtp:contoso.com;1"])
    t = transport(emulator, credential)
    raw = t.send("Get-InboundConnector", {"Identity": "Partner A"})
    assert raw.status == 200 and raw.headers["request-id"] and "rate-limit-remaining" in raw.headers
    (obj,) = wire.parse_response(raw, "Get-InboundConnector").objects
    assert obj["SenderDomains"] == ["smtp:contoso.com;1"]
    calls = emulator.calls()
    assert calls["tokens"] == 1 and calls["reads"] == 1 and calls["cmdlets"] == {"Get-InboundConnector": 1}


def test_transports_share_cached_token(emulator, tmp_path):
    settings = client_settings(emulator, token_cache=True, token_cache_dir=str(tmp_path / "cache"))
    for _unused in range(2):
        t = rest.RestTransport(settings)
        assert t.send("Get-InboundConnector", {}).status == 200
        t.close()
    assert emulator.calls()["tokens"] == 1 and emulator.calls()["requests"] == 2


def test_not_found_is_a_response(emulator):
    raw = transport(emulator).send("Get-InboundConnector", {"Identity": "nope"})
    assert raw.status == 404
    with pytest.raises(NotFoundError):
        wire.parse_response(raw, "Get-InboundConnector")


def test_expired_token_is_refreshed_once(emulator):
    t = transport(emulator)
    assert t.send("Get-InboundConnector", {}).status == 200
    emulator.add_faults([{"expire_tokens": True}])
    raw = t.send("Get-InboundConnector", {})
    assert raw.status == 200 and t.requests == 3 and t.tokens.token_requests == 2
    assert [entry["status"] for entry in emulator.calls()["log"]] == [200, 401, 200]


def test_given_access_token(emulator):
    t = transport(emulator, "access_token")
    assert t.send("Get-InboundConnector", {}).status == 200
    assert emulator.calls()["tokens"] == 0
    emulator.add_faults([{"expire_tokens": True}])
    raw = t.send("Get-InboundConnector", {})
    assert raw.status == 401 and t.requests == 2  # cannot refresh: not retried
    assert raw.headers["www-authenticate"].startswith("Bearer")
    with pytest.raises(AuthenticationError, match="Exchange.ManageAsApp"):
        wire.parse_response(raw, "Get-InboundConnector")


def test_token_for_other_tenant_rejected(emulator):
    t = transport(emulator, "access_token", access_token=emulator.issue_token(tid="00000000-0000-0000-0000-000000000000"))
    assert t.send("Get-InboundConnector", {}).status == 401


def test_forbidden_names_the_exchange_role(emulator):
    emulator.add_faults([{"forbidden": True}])
    raw = transport(emulator).send("New-InboundConnector", {"Name": "x", "SenderDomains": ["a.com"]})
    assert raw.status == 403 and raw.body.strip(b"\x00") == b""
    with pytest.raises(PermissionDeniedError) as info:
        wire.parse_response(raw, "New-InboundConnector")
    assert "Exchange Administrator" in info.value.msg


def test_paging_through_next_link(emulator, tenant):
    for i in range(7):
        tenant.add("InboundConnector", "c%d" % i)
    t = transport(emulator, page_size=3)
    first = wire.parse_response(t.send("Get-InboundConnector", {}), "Get-InboundConnector")
    assert [o["Name"] for o in first.objects] == ["c0", "c1", "c2"]
    assert wire.PAGINATION_WARNING in first.warnings and "$skiptoken=" in first.next_link
    client = Client(t, retries=0)
    names = [o["Name"] for o in client.invoke("Get-InboundConnector")]
    assert names == ["c%d" % i for i in range(7)]
    log = emulator.calls()["log"]
    assert len(log) == 4 and emulator.calls()["reads"] == 4


def test_throttle_fault(emulator):
    emulator.add_faults([{"cmdlet": "Get-InboundConnector", "status": 429, "count": 1, "retry_after": "0.5"}])
    t = transport(emulator)
    with pytest.raises(ThrottledError) as info:
        wire.parse_response(t.send("Get-InboundConnector", {}), "Get-InboundConnector")
    assert info.value.retry_after == 0.5
    assert t.send("Get-InboundConnector", {}).status == 200


def test_lost_response_fault(emulator, tenant):
    emulator.add_faults([{"cmdlet": "New-InboundConnector", "status": 504, "after_execute": True}])
    raw = transport(emulator).send("New-InboundConnector", {"Name": "lost", "SenderDomains": ["a.com"]})
    with pytest.raises(TransientError):
        wire.parse_response(raw, "New-InboundConnector")
    assert tenant.objects["inboundconnector"][0]["Name"] == "lost"


def test_timeout_is_transient(emulator):
    emulator.add_faults([{"latency": 1.5}])
    t = transport(emulator, timeout=0.5)
    with pytest.raises(TransientError) as info:
        t.send("Get-InboundConnector", {})
    assert "127.0.0.1" in info.value.msg


def test_connection_refused_is_transient():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    t = rest.RestTransport({"tenant": "t", "access_token": "x", "api_url": "https://127.0.0.1:%d" % port, "timeout": 5})
    with pytest.raises(TransientError, match="127.0.0.1:%d" % port):
        t.send("Get-InboundConnector", {})


def test_untrusted_certificate_is_a_configuration_error(emulator):
    t = rest.RestTransport({"tenant": emulator.tenant_id, "access_token": emulator.issue_token(), "api_url": emulator.url})
    with pytest.raises(ConfigurationError, match="ca_path"):
        t.send("Get-InboundConnector", {})
    insecure = rest.RestTransport({"tenant": emulator.tenant_id, "access_token": emulator.issue_token(),
                                   "api_url": emulator.url, "validate_certs": False})
    assert insecure.send("Get-InboundConnector", {}).status == 200


def test_token_claims_for_app(emulator):
    t = transport(emulator)
    t.send("Get-InboundConnector", {})
    claims = decode_jwt_payload(t.tokens.get_token())
    assert claims["appid"] == emulator.app["client_id"] and claims["tid"] == emulator.tenant_id
    assert emulator.calls()["log"][0]["status"] == 200


# ----------------------------------------------------------------------------- tenant redirects

def _memo(tmp_path, key="rest|commercial|emulator|t"):
    return TenantMemo(key, directory=str(tmp_path / "cache"))


def test_redirect_is_followed_pinned_and_remembered(emulator, tenant, tmp_path):
    tenant.add("InboundConnector", "Partner A")
    tenant_url = emulator.set_redirect(True)
    memo = _memo(tmp_path)
    t = transport(emulator, memo=memo)
    raw = t.send("Get-InboundConnector", {"Identity": "Partner A"})
    assert raw.status == 200 and wire.parse_response(raw, "Get-InboundConnector").objects[0]["Name"] == "Partner A"
    assert t.redirects == 1 and t.url == tenant_url + "/adminapi/beta/%s/InvokeCommand" % emulator.tenant_id
    assert memo.get(rest.MEMO_HOST) == tenant_url
    # the rest of the task stays on the tenant host: writes too, Authorization sent again (the write is authenticated)
    assert t.send("New-InboundConnector", {"Name": "Partner B"}).status == 200
    calls = emulator.calls()
    assert calls["redirects"] == 1 and calls["hosts"] == {"front": 1, "tenant": 2} and calls["writes"] == 1
    assert [e["status"] for e in calls["log"]] == [302, 200, 200]
    # a later task of the same tenant starts on the remembered host: no redirect at all
    emulator.reset()
    later = transport(emulator, memo=_memo(tmp_path))
    assert later.url.startswith(tenant_url) and later.send("Get-InboundConnector", {}).status == 200
    assert emulator.calls()["redirects"] == 0 and emulator.calls()["hosts"] == {"front": 0, "tenant": 1}


def test_redirected_paging_sends_every_page_to_the_pinned_host(emulator, tenant):
    for i in range(5):
        tenant.add("InboundConnector", "c%d" % i)
    emulator.set_redirect(True)
    t = transport(emulator, page_size=2)
    names = [o["Name"] for o in Client(t, retries=0).invoke("Get-InboundConnector")]
    assert names == ["c%d" % i for i in range(5)]
    calls = emulator.calls()
    # the emulator's continuation links name the front host: they are sent to the tenant host all the same
    assert calls["redirects"] == 1 and calls["hosts"] == {"front": 1, "tenant": 3}


def test_a_continuation_link_never_takes_the_token_to_another_host(monkeypatch):
    sent = []

    def fake_open_url(url, data=None, headers=None, **kwargs):
        sent.append((url, headers.get("Authorization")))
        return _Response(200, b'{"value": []}')

    monkeypatch.setattr(rest, "open_url", fake_open_url)
    t = rest.RestTransport({"tenant": "t", "access_token": "secret-token"})
    t.send("Get-TransportRule", {}, next_link="https://evil.example:8443/adminapi/beta/t/InvokeCommand?$skiptoken=x")
    t.send("Get-TransportRule", {}, next_link="/adminapi/beta/t/InvokeCommand?$skiptoken=y")
    assert [u for u, _unused in sent] == ["https://outlook.office365.com/adminapi/beta/t/InvokeCommand?$skiptoken=x",
                                          "https://outlook.office365.com/adminapi/beta/t/InvokeCommand?$skiptoken=y"]


def _scripted_open_url(monkeypatch, answers):
    """open_url answering from ``answers``: (status, headers) tuples; 3xx and errors come as HTTPError like urllib."""
    from urllib.error import HTTPError
    sent = []

    def fake_open_url(url, data=None, headers=None, method=None, **kwargs):
        sent.append({"url": url, "data": data, "headers": headers, "method": method,
                     "follow_redirects": kwargs.get("follow_redirects")})
        status, hdrs = answers.pop(0)
        if status == 200:
            return _Response(200, b'{"value": [{"Name": "x"}]}')
        raise HTTPError(url, status, "Found", hdrs, None)

    monkeypatch.setattr(rest, "open_url", fake_open_url)
    return sent


def test_redirect_port_446_becomes_443_and_the_request_is_sent_again_whole(monkeypatch):
    sent = _scripted_open_url(monkeypatch, [
        (302, {"Location": "https://EMEA01.Outlook.Office365.com:446/adminapi/beta/t/InvokeCommand"}), (200, {})])
    t = rest.RestTransport({"tenant": "t", "access_token": "tok"})
    raw = t.send("Set-InboundConnector", {"Identity": "x", "Comment": "c"})
    assert raw.status == 200 and t.redirects == 1
    first, second = sent
    assert first["follow_redirects"] == "none"  # urllib never follows (it would drop the body or the token)
    assert second["url"] == "https://emea01.outlook.office365.com/adminapi/beta/t/InvokeCommand"
    assert second["method"] == "POST" and second["data"] == first["data"]
    assert second["headers"]["Authorization"] == "Bearer tok"
    assert second["headers"]["client-request-id"] == first["headers"]["client-request-id"]


@pytest.mark.parametrize("location, why", [
    ("http://emea01.outlook.office365.com/adminapi/beta/t/InvokeCommand", "not an https URL"),
    ("/adminapi/beta/t/InvokeCommand", "not an https URL"),
    ("https:///adminapi", "no host"),
    ("https://user:pw@emea01.outlook.office365.com/x", "credentials"),
    ("https://emea01.outlook.office365.com:99999/x", "not followed"),
    (None, "without a Location"),
])
def test_bad_redirects_are_refused_clearly(monkeypatch, location, why):
    sent = _scripted_open_url(monkeypatch, [(302, {"Location": location} if location else {})])
    t = rest.RestTransport({"tenant": "t", "access_token": "tok"})
    with pytest.raises(MailflowError) as info:
        t.send("New-InboundConnector", {"Name": "x"})
    assert why in info.value.msg and "Nothing was run" in info.value.msg
    assert not isinstance(info.value, TransientError)  # not retried: a 3xx is routing, nothing ran
    assert len(sent) == 1


def test_too_many_redirects(monkeypatch):
    hop = [(307, {"Location": "https://a.outlook.office365.com/x"}), (307, {"Location": "https://b.outlook.office365.com/x"})]
    sent = _scripted_open_url(monkeypatch, hop * 3)
    memo = TenantMemo()
    t = rest.RestTransport({"tenant": "t", "access_token": "tok"}, memo=memo)
    with pytest.raises(MailflowError) as info:
        t.send("Get-InboundConnector", {})
    assert "more than %d times" % rest.MAX_REDIRECTS in info.value.msg
    assert "outlook.office365.com -> a.outlook.office365.com -> b.outlook.office365.com" in info.value.msg
    assert len(sent) == rest.MAX_REDIRECTS + 1
    assert memo.get(rest.MEMO_HOST) is None and t.url.startswith("https://outlook.office365.com/")


def test_redirect_loop_on_the_emulator_fails_cleanly(emulator):
    emulator.set_redirect(True, location=emulator.url + "/adminapi/beta/%s/InvokeCommand" % emulator.tenant_id)
    with pytest.raises(MailflowError, match="redirected New-InboundConnector more than"):
        transport(emulator).send("New-InboundConnector", {"Name": "x"})
    assert emulator.calls()["writes"] == 0 and emulator.calls()["redirects"] == rest.MAX_REDIRECTS + 1


def test_https_origin():
    assert rest.https_origin("https://Host.Example:446/a?b") == "https://host.example"
    assert rest.https_origin("https://host.example:443/a") == "https://host.example"
    assert rest.https_origin("https://127.0.0.1:8443/a") == "https://127.0.0.1:8443"
    assert rest.https_origin("https://[::1]:8443/") == "https://[::1]:8443"
    for bad in ("http://h/", "ftp://h/", "https://", "//h/x", "https://u@h/", "https://h:x/"):
        with pytest.raises(ValueError):
            rest.https_origin(bad)


def test_a_remembered_host_that_fails_is_forgotten(emulator, tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead = "https://127.0.0.1:%d" % sock.getsockname()[1]
    sock.close()
    memo = _memo(tmp_path)
    memo.set(rest.MEMO_HOST, dead)
    t = transport(emulator, memo=memo)
    assert t.url.startswith(dead)
    assert t.send("Get-InboundConnector", {}).status == 200  # refused there: asked the configured host at once
    assert t.url.startswith(emulator.url) and memo.get(rest.MEMO_HOST) is None
    assert emulator.calls()["hosts"] == {"front": 1, "tenant": 0}


def test_a_remembered_host_that_times_out_is_forgotten_and_the_error_reported(emulator, tmp_path):
    tenant_url = emulator.set_redirect(True)
    memo = _memo(tmp_path)
    t = transport(emulator, memo=memo, timeout=0.5)
    assert t.send("Get-InboundConnector", {}).status == 200 and memo.get(rest.MEMO_HOST) == tenant_url
    emulator.add_faults([{"kind": "timeout", "hold": 1.5}])
    with pytest.raises(TransientError, match="no answer within"):
        t.send("Get-InboundConnector", {})  # the request may have reached the host: reported, the client decides
    assert memo.get(rest.MEMO_HOST) is None and t.url.startswith(emulator.url)
    assert t.send("Get-InboundConnector", {}).status == 200  # the front host redirects again, and is pinned again
    assert memo.get(rest.MEMO_HOST) == tenant_url and emulator.calls()["redirects"] == 2


def test_remembered_value_that_is_not_an_https_origin_is_ignored(tmp_path):
    memo = _memo(tmp_path)
    memo.set(rest.MEMO_HOST, "http://plain.example")
    t = rest.RestTransport({"tenant": "t", "access_token": "x"}, memo=memo)
    assert t.url == "https://outlook.office365.com/adminapi/beta/t/InvokeCommand" and memo.get(rest.MEMO_HOST) is None


# ----------------------------------------------------------------------------- transport faults

@pytest.mark.parametrize("fault, text", [
    ({"kind": "reset"}, "Cannot reach Exchange Online"),
    ({"kind": "close"}, "Cannot reach Exchange Online"),
    ({"kind": "reset", "after_execute": True}, "Cannot reach Exchange Online"),
    ({"kind": "truncated"}, "the answer was cut short"),
    ({"kind": "timeout", "hold": 1.5}, "no answer within 0.5 seconds"),
    ({"kind": "timeout", "hold": 1.5, "after_execute": True}, "no answer within 0.5 seconds"),
    ({"kind": "garbled"}, "not valid JSON"),
    ({"kind": "empty"}, "an empty body"),
    ({"kind": "empty_object"}, "without a result"),
    ({"kind": "not_object"}, "not an object"),
])
def test_transport_faults_are_transient_and_retried_for_reads(emulator, tenant, fault, text):
    tenant.add("InboundConnector", "Partner A")
    emulator.add_faults([dict(fault, cmdlet="Get-InboundConnector")])
    t = transport(emulator, timeout=0.5)
    with pytest.raises(TransientError) as info:
        wire.parse_response(t.send("Get-InboundConnector", {"Identity": "Partner A"}), "Get-InboundConnector")
    assert text in info.value.msg
    emulator.add_faults([dict(fault, cmdlet="Get-InboundConnector")])
    objects = Client(t, retries=1, retry_delay=0.01).invoke("Get-InboundConnector", {"Identity": "Partner A"})
    assert [o["Name"] for o in objects] == ["Partner A"]


class _CutShort(_Response):
    def read(self):
        raise IncompleteRead(b'{"value": [', 300)


@pytest.mark.parametrize("failure", [
    IncompleteRead(b'{"value": [', 300),
    BadStatusLine("garbage"),
    RemoteDisconnected("Remote end closed connection without response"),
    ConnectionResetError(104, "Connection reset by peer"),
])
def test_exceptions_out_of_a_response_are_transient(monkeypatch, failure):
    def fake_open_url(url, **kwargs):
        if isinstance(failure, IncompleteRead):
            return _CutShort(200, b"")  # the status line came, the body was cut short
        raise failure

    monkeypatch.setattr(rest, "open_url", fake_open_url)
    t = rest.RestTransport({"tenant": "t", "access_token": "x"})
    with pytest.raises(TransientError, match="Cannot reach Exchange Online at outlook.office365.com for New-X"):
        t.send("New-X", {})


def test_a_body_cut_short_reading_an_error_answer_is_transient(monkeypatch):
    from urllib.error import HTTPError

    class _Body(object):
        def read(self, *args):
            raise IncompleteRead(b"{", 80)

        def close(self):
            pass

    def fake_open_url(url, **kwargs):
        raise HTTPError(url, 404, "Not Found", {"Content-Type": "application/json"}, _Body())

    monkeypatch.setattr(rest, "open_url", fake_open_url)
    with pytest.raises(TransientError, match="cut short"):
        rest.RestTransport({"tenant": "t", "access_token": "x"}).send("Get-InboundConnector", {"Identity": "a"})
