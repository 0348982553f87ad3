# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The InvokeCommand wire format, shared by every transport.

Both the REST transport (real service or emulator) and the embedded sandbox
tenant produce a ``RawResponse`` (status, headers, body bytes) in exactly the
shape Exchange Online sends, and ``parse_response`` is the one place that turns
such a response into objects or a typed error. This is why nothing above the
transport can tell the sandbox from the real service.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import json
import re
import time
import zlib

from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    AuthenticationError,
    DuplicateError,
    InvalidParameterError,
    MailflowError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
    TransientError,
)

API_PATH = "/adminapi/beta/{tenant}/InvokeCommand"

# Exchange exceptions the real module retries (ExchangeOnlineManagement Get-WaitTimeForRetry).
TRANSIENT_EXCEPTIONS = (
    "DCOverloadedException",
    "SuitabilityDirectoryException",
    "ServerInMMException",
    "ADServerSettingsChangedException",
    "StorageTransientException",
    "ADTransientException",
)

CONCURRENCY_TEXT = "maximum number of concurrent requests"

# A dehydrated tenant refuses some configuration cmdlets until Enable-OrganizationCustomization has run once.
# Confirmed for other configuration cmdlets (Microsoft365DSC#136, live_evidence.md); not known to happen for connectors
# and transport rules, so this is defensive: the service's own text is kept in the message.
DEHYDRATED_EXCEPTION = "InvalidOperationInDehydratedContextException"

# Members one of which every InvokeCommand result envelope carries (exo_rest_api.md 4.1: ``@odata.context`` and a
# present-and-empty ``@adminapi.warnings`` on every complete response, confirmed live by S3/S4).
ENVELOPE_MEMBERS = ("value", "@odata.context", "@adminapi.warnings")

PAGINATION_WARNING = (
    "There are more results available than are currently displayed. "
    "To view them, increase the value for the ResultSize parameter."
)

_SIDECAR = re.compile(r"@(odata|data)\.type$")


class RawResponse(object):
    """What a transport got back: HTTP status, lower-cased headers, raw body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers=None, body=b""):
        self.status = int(status)
        self.headers = dict((k.lower(), v) for k, v in (headers or {}).items())
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body or b""

    def __repr__(self):
        return "RawResponse(%d, %d bytes)" % (self.status, len(self.body))


class ParsedResponse(object):
    __slots__ = ("objects", "warnings", "errors", "next_link")

    def __init__(self, objects, warnings, errors, next_link):
        self.objects = objects
        self.warnings = warnings
        self.errors = errors
        self.next_link = next_link


# --------------------------------------------------------------------------- building (server side)

def request_body(cmdlet, parameters):
    """The JSON body the real module posts: {"CmdletInput": {"CmdletName", "Parameters"}}."""
    return {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters or {})}}


def success_body(objects, tenant="", warnings=None, errors=None, next_link=None, sidecars=None):
    """A 200 envelope as the service returns it, sidecar annotations included.

    ``sidecars`` maps property name to .NET type name for typed scalar members
    (``{"Priority": "System.Int32"}``), mirroring ``Priority@data.type``.
    """
    body = {
        "@odata.context": "https://outlook.office365.com/adminapi/beta/%s/$metadata#Collection(Exchange.GenericHashTable)" % tenant,
        "adminapi.warnings@odata.type": "#Collection(String)",
        "@adminapi.warnings": list(warnings or []),
    }
    if errors:
        body["@adminapi.errors"] = list(errors)
    out = []
    for obj in objects or []:
        item = {}
        for key, value in obj.items():
            if isinstance(value, list):
                item[key + "@odata.type"] = "#Collection(String)"
            elif sidecars and key in sidecars:
                item[key + "@data.type"] = sidecars[key]
            item[key] = value
        out.append(item)
    body["value"] = out
    if next_link:
        body["@odata.nextLink"] = next_link
    return body


def error_body(status, exception_type, message, string_id="", code=None, top_message=None):
    """An error body in the shape of exo_rest_api.md 7.2 (details[0].message = id|type|text)."""
    if code is None:
        code = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}.get(status, "BadRequest")
    if top_message is None:
        top_message = "Error executing cmdlet" if status == 404 else "Invalid Operation"
    return {
        "error": {
            "code": code,
            "message": top_message,
            "details": [{"code": "Client", "target": "", "message": "%s|%s|%s" % (string_id, exception_type, message)}],
            "innererror": {
                "message": top_message,
                "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                "stacktrace": "",
                "internalexception": {"message": message, "type": exception_type, "stacktrace": ""},
            },
        }
    }


def json_response(status, body, headers=None):
    hdrs = {"Content-Type": "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"}
    hdrs.update(headers or {})
    return RawResponse(status, hdrs, json.dumps(body).encode("utf-8"))


# --------------------------------------------------------------------------- parsing (client side)

def strip_sidecars(obj):
    """Drop OData sidecar annotations (``X@odata.type``, ``X@data.type``)."""
    return dict((k, v) for k, v in obj.items() if not _SIDECAR.search(k) and not k.startswith("@"))


def _decode(raw):
    """``(document, problem)`` of a body: the parsed JSON, or None and why there is none.

    ``problem`` is None for a body that is empty (or only NUL bytes and blanks), else a short description of what is
    wrong with it (cannot be decompressed, not JSON).
    """
    body = raw.body
    if not body:
        return None, None
    if raw.headers.get("content-encoding", "").lower() == "gzip" and body[:2] == b"\x1f\x8b":
        import gzip
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            return None, "a gzip body that cannot be decompressed (cut short or damaged)"
    if not body.strip(b"\x00 \r\n\t"):
        return None, None
    try:
        doc = json.loads(body.decode("utf-8", "replace"))
        return doc, ("JSON null" if doc is None else None)
    except ValueError:
        return None, "a body that is not valid JSON (%d bytes, cut short or garbled)" % len(raw.body)


def _load_json(raw):
    return _decode(raw)[0]


def retry_after_seconds(value, now=None):
    """Seconds to wait from a ``Retry-After`` value: decimal seconds (what the module parses) or an HTTP date.

    The date form is HTTP semantics (RFC 9110 10.2.3), not seen from this endpoint (live_evidence.md: inferred).
    None when the value is neither.
    """
    value = str(value or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    try:
        when = email.utils.mktime_tz(parsed)
    except (OverflowError, ValueError, TypeError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _error_text(doc):
    """(exception_type, string_id, message) from an error document, module precedence."""
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        return None, "", None
    exc_type = None
    string_id = ""
    message = None
    details = err.get("details") or []
    if details and isinstance(details[0], dict) and details[0].get("message"):
        text = details[0]["message"]
        parts = text.split("|", 2)
        if len(parts) == 3:
            string_id, exc_type, message = parts
        else:
            message = text
    inner = (err.get("innererror") or {}).get("internalexception") or {}
    if not message:
        message = inner.get("message")
    if not exc_type:
        exc_type = inner.get("type")
    if not message:
        message = err.get("message")
    return exc_type, string_id, message


def _short_type(exc_type):
    return (exc_type or "").rsplit(".", 1)[-1]


def permission_hint(cmdlet):
    """Which Exchange role a cmdlet needs (least privilege observed on live tenants)."""
    verb = (cmdlet or "").split("-", 1)[0].lower()
    if verb == "get":
        if (cmdlet or "").lower() == "get-transportrule":
            return "a read role such as 'Security Reader' or 'Global Reader' (Exchange 'View-Only Configuration')"
        return "the 'Global Reader' Entra role or the Exchange 'View-Only Configuration' role"
    return ("the 'Exchange Administrator' Entra role, or the Exchange 'Organization Management' role group "
            "(which holds the 'Transport Hygiene' and 'Transport Rules' roles)")


# How 401 and 403 name the identity behind the token and what to check (transport.credentials gives these for a
# managed identity or a federated app): the default is an app registration's.
APP_PRINCIPAL = {
    "who": "The app",
    "assignee": "the app's service principal",
    "on_401": "Check that the app registration has the 'Exchange.ManageAsApp' application permission with admin "
              "consent, that tenant and client_id are right, and that the certificate or secret is the one registered "
              "on the app.",
}


def raise_for_response(raw, cmdlet, principal=None):
    """Raise the typed error a failed response stands for. Returns nothing for 2xx.

    ``principal`` (a dict like APP_PRINCIPAL) says who the token is for in the messages of 401 and 403.
    """
    principal = dict(APP_PRINCIPAL, **(principal or {}))
    status = raw.status
    if 200 <= status < 300:
        return
    doc = _load_json(raw)
    exc_type, string_id, message = _error_text(doc)
    short = _short_type(exc_type)
    request_id = raw.headers.get("request-id") or raw.headers.get("client-request-id")
    ctx = dict(cmdlet=cmdlet, status=status, exception_type=exc_type, request_id=request_id)
    text = message or (raw.body[:300].decode("utf-8", "replace").strip("\x00 \r\n") if raw.body else "")

    if status == 429:
        retry_after = retry_after_seconds(raw.headers.get("retry-after"))
        raise ThrottledError("%s was throttled by Exchange Online (HTTP 429)%s" % (
            cmdlet, (": " + text) if text else ""), retry_after=retry_after, **ctx)
    if status == 401:
        raise AuthenticationError("Exchange Online rejected the access token for %s (HTTP 401). %s"
                                  % (cmdlet, principal["on_401"]), **ctx)
    if status == 403 and doc is None:
        if CONCURRENCY_TEXT in text:
            raise TransientError("Exchange Online refused %s: %s" % (cmdlet, text), **ctx)
        raise PermissionDeniedError(
            "Exchange Online refused %s (HTTP 403 with no error body). %s is authenticated but lacks the Exchange role "
            "for this cmdlet: assign %s to %s, wait for the role to replicate (up to an hour), then retry. (An unknown "
            "cmdlet name gives the same answer.)"
            % (cmdlet, principal["who"], permission_hint(cmdlet), principal["assignee"]), **ctx)
    if DEHYDRATED_EXCEPTION in (exc_type or "") or DEHYDRATED_EXCEPTION in (text or ""):
        raise MailflowError(
            "Exchange Online refused %s because the tenant is not customizable yet ('dehydrated'): run "
            "Enable-OrganizationCustomization once in Exchange Online PowerShell (Connect-ExchangeOnline, then "
            "Enable-OrganizationCustomization), wait for it to complete, then re-run the task. The service said: %s"
            % (cmdlet, text), **ctx)
    if short == "ManagementObjectNotFoundException" or (status == 404 and doc is not None):
        raise NotFoundError("%s: %s" % (cmdlet, text or "object not found"), **ctx)
    if short and any(name in (exc_type or "") or name in (text or "") for name in TRANSIENT_EXCEPTIONS):
        raise TransientError("%s failed with a transient Exchange error: %s" % (cmdlet, text), **ctx)
    if status in (500, 502, 503, 504):
        raise TransientError("%s failed with HTTP %d%s" % (cmdlet, status, (": " + text) if text else ""), **ctx)
    if "AlreadyExist" in short or "AlreadyExist" in (string_id or ""):
        raise DuplicateError("%s: %s" % (cmdlet, text), **ctx)
    if 400 <= status < 500:
        if short == "ParameterTransformationException" or "Pagination" in (text or "") or short:
            raise InvalidParameterError("%s rejected the request: %s" % (cmdlet, text), **ctx)
        raise InvalidParameterError("%s rejected the request (HTTP %d): %s" % (cmdlet, status, text), **ctx)
    raise MailflowError("%s failed with HTTP %d: %s" % (cmdlet, status, text), **ctx)


def _envelope_problem(doc):
    """Why a parsed 200 body is not an InvokeCommand result envelope, or None when it is one."""
    if not isinstance(doc, dict):
        return "JSON that is not an object (%s)" % type(doc).__name__
    if not any(member in doc for member in ENVELOPE_MEMBERS):
        return "a JSON object without a result (no value, @odata.context or @adminapi.warnings)"
    if doc.get("value") is not None and not isinstance(doc["value"], list):
        return "a value that is not a list"
    link = doc.get("@odata.nextLink")
    if link is not None and not isinstance(link, str):
        return "an @odata.nextLink that is not a string"
    return None


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse_response(raw, cmdlet, principal=None):
    """Objects, warnings, non-terminating errors and next link of a response, or a typed error.

    ``principal``: who the token is for, in the messages of 401 and 403 (see raise_for_response).

    A 2xx whose body is not a result envelope (empty, ``{}``, garbled or cut-short JSON, JSON that is not an object,
    a ``value`` that is not a list) raises TransientError: nothing, and above all not "no objects", is concluded from
    it. The client retries it like a 503 for a read, and settles a write by reading back.
    """
    raise_for_response(raw, cmdlet, principal)
    doc, problem = _decode(raw)
    if problem is None:
        problem = "an empty body" if doc is None else _envelope_problem(doc)
    if problem:
        raise TransientError(
            "%s: Exchange Online answered HTTP %d with %s instead of a result; treated as a transient fault"
            % (cmdlet, raw.status, problem), cmdlet=cmdlet, status=raw.status,
            request_id=raw.headers.get("request-id") or raw.headers.get("client-request-id"))
    # ``value`` absent or null with the other envelope members present: an empty result (exo_rest_api.md 4.1 lists
    # empty, absent and null values as observed empty results; inferred for absent).
    values = doc.get("value") or []
    objects = [strip_sidecars(v) if isinstance(v, dict) else v for v in values]
    warnings = [w for w in _as_list(doc.get("@adminapi.warnings")) if w]
    errors = [e for e in _as_list(doc.get("@adminapi.errors")) if e]
    return ParsedResponse(objects, warnings, errors, doc.get("@odata.nextLink"))
