# -*- coding: utf-8 -*-
"""wire: a 2xx that is not a result envelope is a transient fault (never "no objects"), Retry-After forms, dehydrated
tenants."""

from __future__ import absolute_import, division, print_function

import email.utils
import gzip
import json
import time

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    InvalidParameterError,
    MailflowError,
    ThrottledError,
    TransientError,
)

ENVELOPE = wire.success_body([{"Name": "a"}], tenant="contoso.onmicrosoft.com")


@pytest.mark.parametrize("body, headers, what", [
    (b"", {}, "an empty body"),
    (b"  \r\n", {}, "an empty body"),
    (b"\x00" * 64, {}, "an empty body"),
    (b"{}", {}, "without a result"),
    (b'{"status": "ok"}', {}, "without a result"),
    (b"[]", {}, "not an object (list)"),
    (b'"done"', {}, "not an object (str)"),
    (b"null", {}, "JSON null"),
    (b'{"value": {"Name": "a"}, "@adminapi.warnings": []}', {}, "value that is not a list"),
    (b'{"value": [{"Name": "a"}], "@odata.nextLink": 5}', {}, "nextLink that is not a string"),
    (json.dumps(ENVELOPE).encode("utf-8")[:40], {}, "not valid JSON"),
    (b"<html><body>Service Unavailable</body></html>", {}, "not valid JSON"),
    (gzip.compress(json.dumps(ENVELOPE).encode("utf-8"), mtime=0)[:30], {"Content-Encoding": "gzip"}, "cannot be decompressed"),
])
def test_a_2xx_that_is_not_an_envelope_is_transient(body, headers, what):
    for status in (200, 204):
        with pytest.raises(TransientError) as info:
            wire.parse_response(wire.RawResponse(status, headers, body), "Get-InboundConnector")
        assert what in info.value.msg and "instead of a result" in info.value.msg
        assert info.value.status == status and info.value.cmdlet == "Get-InboundConnector"


@pytest.mark.parametrize("doc", [
    {"@odata.context": "x", "adminapi.warnings@odata.type": "#Collection(String)", "@adminapi.warnings": []},
    {"@odata.context": "x", "@adminapi.warnings": [], "value": None},
    {"value": []},
])
def test_envelopes_with_no_objects(doc):
    # exo_rest_api.md 4.1: an empty result comes with value empty, absent or null beside the envelope members
    parsed = wire.parse_response(wire.json_response(200, doc), "Get-InboundConnector")
    assert parsed.objects == [] and parsed.next_link is None


def test_gzip_envelope_and_string_warning():
    doc = dict(ENVELOPE, **{"@adminapi.warnings": "one warning"})
    raw = wire.RawResponse(200, {"Content-Encoding": "gzip"}, gzip.compress(json.dumps(doc).encode("utf-8")))
    parsed = wire.parse_response(raw, "Get-InboundConnector")
    assert parsed.objects == [{"Name": "a"}] and parsed.warnings == ["one warning"]


def test_damaged_gzip_error_body_still_gives_the_status_error():
    raw = wire.RawResponse(503, {"Content-Encoding": "gzip"}, b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(TransientError, match="HTTP 503"):
        wire.parse_response(raw, "Get-InboundConnector")


# ----------------------------------------------------------------------------- Retry-After

def test_retry_after_seconds_forms():
    now = 1700000000.0
    assert wire.retry_after_seconds("0.5") == 0.5
    assert wire.retry_after_seconds("7") == 7.0
    assert wire.retry_after_seconds("-3") == 0.0
    assert wire.retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert wire.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0  # in the past: at once
    assert wire.retry_after_seconds("soon") is None
    assert wire.retry_after_seconds("") is None and wire.retry_after_seconds(None) is None


def test_429_with_an_http_date():
    date = email.utils.formatdate(time.time() + 20, usegmt=True)
    raw = wire.RawResponse(429, {"Retry-After": date}, b"Too many requests")
    with pytest.raises(ThrottledError) as info:
        wire.parse_response(raw, "Get-InboundConnector")
    assert 15.0 <= info.value.retry_after <= 20.0


# ----------------------------------------------------------------------------- dehydrated tenant

@pytest.mark.parametrize("status", [400, 500])
def test_dehydrated_tenant_says_to_enable_customization(status):
    body = wire.error_body(status, "Microsoft.Exchange.Management.Tasks.InvalidOperationInDehydratedContextException",
                           "The operation on this object isn't supported because the tenant is dehydrated. Run "
                           "Enable-OrganizationCustomization.")
    with pytest.raises(MailflowError) as info:
        wire.parse_response(wire.json_response(status, body), "New-InboundConnector")
    error = info.value
    assert not isinstance(error, (TransientError, InvalidParameterError))  # not retried, not a parameter problem
    assert "Enable-OrganizationCustomization once" in error.msg and "New-InboundConnector" in error.msg
    assert error.exception_type.endswith("InvalidOperationInDehydratedContextException")
