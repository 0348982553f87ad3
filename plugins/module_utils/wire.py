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

import json
import re

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


def _load_json(raw):
    if not raw.body:
        return None
    body = raw.body
    if raw.headers.get("content-encoding", "").lower() == "gzip" and body[:2] == b"\x1f\x8b":
        import gzip
        body = gzip.decompress(body)
    if not body.strip(b"\x00 \r\n\t"):
        return None
    try:
        return json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return None


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


def raise_for_response(raw, cmdlet):
    """Raise the typed error a failed response stands for. Returns nothing for 2xx."""
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
        retry_after = None
        value = raw.headers.get("retry-after")
        if value:
            try:
                retry_after = max(0.0, float(value))
            except ValueError:
                retry_after = None
        raise ThrottledError("%s was throttled by Exchange Online (HTTP 429)%s" % (
            cmdlet, (": " + text) if text else ""), retry_after=retry_after, **ctx)
    if status == 401:
        raise AuthenticationError(
            "Exchange Online rejected the access token for %s (HTTP 401). Check that the app registration has the "
            "'Exchange.ManageAsApp' application permission with admin consent, that tenant and client_id are right, "
            "and that the certificate or secret is the one registered on the app." % cmdlet, **ctx)
    if status == 403 and doc is None:
        if CONCURRENCY_TEXT in text:
            raise TransientError("Exchange Online refused %s: %s" % (cmdlet, text), **ctx)
        raise PermissionDeniedError(
            "Exchange Online refused %s (HTTP 403 with no error body). The app is authenticated but its service "
            "principal lacks the Exchange role for this cmdlet: assign %s to the app's service principal, wait for "
            "the role to replicate (up to an hour), then retry. (An unknown cmdlet name gives the same answer.)"
            % (cmdlet, permission_hint(cmdlet)), **ctx)
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


def parse_response(raw, cmdlet):
    """Objects, warnings, non-terminating errors and next link of a response, or a typed error."""
    raise_for_response(raw, cmdlet)
    doc = _load_json(raw)
    if doc is None:
        return ParsedResponse([], [], [], None)
    if not isinstance(doc, dict):
        raise TransientError("%s returned an unexpected body (not a JSON object)" % cmdlet, cmdlet=cmdlet, status=raw.status)
    values = doc.get("value") or []
    objects = [strip_sidecars(v) if isinstance(v, dict) else v for v in values]
    warnings = [w for w in (doc.get("@adminapi.warnings") or []) if w]
    errors = [e for e in (doc.get("@adminapi.errors") or []) if e]
    return ParsedResponse(objects, warnings, errors, doc.get("@odata.nextLink"))
