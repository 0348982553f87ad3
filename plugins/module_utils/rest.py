# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""REST transport: ``POST {api}/adminapi/beta/{tenant}/InvokeCommand``.

Sends one cmdlet per request with the headers the ExchangeOnlineManagement
module sends, and returns the response untouched as a ``wire.RawResponse``
(HTTP errors included). Only network failures raise. A 401 is retried once
with a freshly acquired token when the credentials allow it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import ssl
import uuid

from urllib.error import HTTPError, URLError
from urllib.parse import urlparse

from ansible.module_utils.urls import SSLValidationError, open_url
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from ansible_collections.m365.mailflow.plugins.module_utils.auth import TokenProvider, cloud_info
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError, TransientError

DEFAULT_TIMEOUT = 960  # seconds; the service gives up on a cmdlet after about 900 s
MAX_PAGE_SIZE = 1000
CLIENT_APPLICATION = "m365.mailflow"


def invoke_url(settings):
    """The InvokeCommand URL for the settings (api_url overrides the cloud's REST host)."""
    base = (settings.get("api_url") or cloud_info(settings.get("cloud"))["resource"]).rstrip("/")
    return base + wire.API_PATH.format(tenant=settings.get("tenant"))


def _is_cert_failure(exc):
    reason = getattr(exc, "reason", exc)
    return (isinstance(reason, (ssl.SSLCertVerificationError, SSLValidationError))
            or "CERTIFICATE_VERIFY_FAILED" in str(reason))


class RestTransport(object):
    """The Transport contract (see docs/dev/architecture.md) over HTTPS."""

    name = "rest"

    def __init__(self, settings, token_provider=None):
        self.settings = dict(settings or {})
        self.url = invoke_url(self.settings)
        self.host = urlparse(self.url).netloc
        self.timeout = self.settings.get("timeout") or DEFAULT_TIMEOUT
        self.tokens = token_provider if token_provider is not None else TokenProvider(self.settings)
        self.connection_id = str(uuid.uuid4())
        self.page_size = int(self.settings.get("page_size") or MAX_PAGE_SIZE)
        self.requests = 0
        self._request_id = None

    # ------------------------------------------------------------------ Transport
    def send(self, cmdlet, parameters, next_link=None, request_id=None):
        """POST the cmdlet (or the continuation ``next_link``) and return the RawResponse.

        ``client-request-id`` is new for each cmdlet and kept for its continuation
        pages (or the caller's ``request_id``).
        """
        if request_id:
            self._request_id = request_id
        elif not next_link or not self._request_id:
            self._request_id = str(uuid.uuid4())
        body = json.dumps(wire.request_body(cmdlet, parameters)).encode("utf-8")
        url = next_link or self.url
        raw = self._post(url, cmdlet, body, self.tokens.get_token())
        if raw.status == 401 and self.tokens.can_refresh:
            raw = self._post(url, cmdlet, body, self.tokens.get_token(force_refresh=True))
        return raw

    def close(self):
        close = getattr(self.tokens, "close", None)
        if close:
            close()

    # ------------------------------------------------------------------ HTTP
    def headers(self, cmdlet, token):
        return {
            "Authorization": "Bearer %s" % token,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Charset": "UTF-8",
            "Accept-Encoding": "gzip",
            "X-CmdletName": cmdlet,
            "X-ResponseFormat": "json",
            "X-ClientApplication": CLIENT_APPLICATION,
            "X-AnchorMailbox": self.tokens.anchor(),
            "Prefer": "odata.maxpagesize=%d" % self.page_size,
            "client-request-id": self._request_id,
            "connection-id": self.connection_id,
        }

    def _post(self, url, cmdlet, body, token):
        self.requests += 1
        try:
            response = open_url(url, data=body, headers=self.headers(cmdlet, token), method="POST",
                                validate_certs=self.settings.get("validate_certs", True) is not False,
                                ca_path=self.settings.get("ca_path"), timeout=self.timeout,
                                follow_redirects="none", decompress=False)
            try:
                return wire.RawResponse(response.getcode(), dict(response.headers.items()), response.read())
            finally:
                response.close()
        except HTTPError as exc:
            try:
                content = exc.read()
            except (IOError, OSError, AttributeError):
                content = b""
            return wire.RawResponse(exc.code, dict(exc.headers.items()) if exc.headers else {}, content)
        except (URLError, SSLValidationError, UrlsConnectionError, ssl.SSLError, socket.timeout, OSError) as exc:
            raise self._network_error(cmdlet, exc)

    def _network_error(self, cmdlet, exc):
        if _is_cert_failure(exc):
            return ConfigurationError(
                "TLS certificate verification of %s failed (%s). Set ca_path (EXO_CA_PATH) to the CA bundle that signs "
                "the endpoint's certificate, or validate_certs=false for a test endpoint." % (self.host, getattr(exc, "reason", exc)),
                cmdlet=cmdlet)
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, socket.timeout) or "timed out" in str(reason):
            cause = "no answer within %s seconds" % self.timeout
        else:
            cause = str(reason) or type(reason).__name__
        return TransientError("Cannot reach Exchange Online at %s for %s: %s" % (self.host, cmdlet, cause), cmdlet=cmdlet)
