# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""REST transport: ``POST {api}/adminapi/beta/{tenant}/InvokeCommand``.

Sends one cmdlet per request with the headers the ExchangeOnlineManagement
module sends, and returns the response untouched as a ``wire.RawResponse``
(HTTP errors included). Network failures, and answers cut short while they are
read, raise TransientError. A 401 is retried once with a freshly acquired token
when the credentials allow it.

Tenant redirects: some tenants are redirected from the cloud's REST host to a
tenant-specific host; the InvokeCommand POST then answers 3xx with a
``Location``. The transport follows it (the same request to the same path on
the new host), pins that host for the rest of the task (continuation pages
included) and remembers it in the tenant memo so that later tasks start there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import ssl
import uuid

from http.client import HTTPException, IncompleteRead
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible.module_utils.urls import SSLValidationError, open_url
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from ansible_collections.m365.mailflow.plugins.module_utils.transport.auth import TokenProvider, cloud_info
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError, MailflowError, TransientError

DEFAULT_TIMEOUT = 960  # seconds; the service gives up on a cmdlet after about 900 s
MAX_PAGE_SIZE = 1000
CLIENT_APPLICATION = "m365.mailflow"

# Tenant redirects (live_evidence.md, confirmed in code): ScubaGear's EXORestHelper.psm1 (Get-ExchangeOnlineApiEndpoint,
# "Some tenants get redirected") probes the front host with redirects off and moves to the tenant-specific host of the
# 3xx Location; a Go client (stored index id 60515997077) follows the 302 of the InvokeCommand POST itself, rewrites a
# ":446" port in the Location to ":443", sends Authorization again and pins the new host for later calls. Which status
# codes and how many hops the service uses is not known: any of these, at most MAX_REDIRECTS hops, https only.
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3
MEMO_HOST = "rest_host"  # TenantMemo value: the https origin (scheme://host[:port]) this tenant was redirected to


def invoke_url(settings):
    """The InvokeCommand URL for the settings (api_url overrides the cloud's REST host)."""
    base = (settings.get("api_url") or cloud_info(settings.get("cloud"))["resource"]).rstrip("/")
    return base + wire.API_PATH.format(tenant=settings.get("tenant"))


def https_origin(url):
    """``https://host[:port]`` of an absolute https URL, port 446 rewritten to 443 (the default port is left out).

    Raises ValueError saying what is wrong (not https, no host, credentials in it, a bad port).
    """
    parts = urlsplit(str(url or "").strip())
    if parts.scheme.lower() != "https":
        raise ValueError("not an https URL")
    if not parts.hostname:
        raise ValueError("no host in it")
    if "@" in parts.netloc:
        raise ValueError("it carries credentials")
    port = parts.port  # ValueError for a port that is not a number in 0-65535
    if port == 446:  # the backend port the Go client rewrites to the public listener (see above)
        port = 443
    host = parts.hostname.lower()
    if ":" in host:
        host = "[%s]" % host
    return "https://%s" % (host if port in (None, 443) else "%s:%d" % (host, port))


def _path_and_query(url):
    parts = urlsplit(url)
    return (parts.path or "/") + ("?" + parts.query if parts.query else "")


def _is_cert_failure(exc):
    reason = getattr(exc, "reason", exc)
    return (isinstance(reason, (ssl.SSLCertVerificationError, SSLValidationError))
            or "CERTIFICATE_VERIFY_FAILED" in str(reason))


def _never_connected(exc):
    """True when a network failure happened before the request could reach the host (name, refused, TLS trust)."""
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, (socket.gaierror, ConnectionRefusedError)) or _is_cert_failure(exc)


class RestTransport(object):
    """The Transport contract (see docs/dev/architecture.md) over HTTPS.

    ``memo`` (a TenantMemo) remembers the host a tenant was redirected to across tasks; without it the transport
    starts every task on the configured host.
    """

    name = "rest"

    def __init__(self, settings, token_provider=None, memo=None):
        self.settings = dict(settings or {})
        self.configured_url = invoke_url(self.settings)
        configured = urlsplit(self.configured_url)
        self.path = configured.path
        self.configured_origin = "%s://%s" % (configured.scheme, configured.netloc)
        self.memo = memo
        self.timeout = self.settings.get("timeout") or DEFAULT_TIMEOUT
        self.tokens = token_provider if token_provider is not None else TokenProvider(self.settings)
        self.connection_id = str(uuid.uuid4())
        self.page_size = int(self.settings.get("page_size") or MAX_PAGE_SIZE)
        self.requests = 0
        self.redirects = 0
        self._request_id = None
        self._use(self.configured_origin)
        remembered = memo.get(MEMO_HOST) if memo is not None else None
        if remembered:
            try:
                self._use(https_origin(remembered))
            except ValueError:
                memo.set(MEMO_HOST, None)  # not ours or damaged: forget it

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
        target = _path_and_query(next_link) if next_link else self.path
        raw = self._exchange(target, cmdlet, body, self.tokens.get_token())
        if raw.status == 401 and self.tokens.can_refresh:
            raw = self._exchange(target, cmdlet, body, self.tokens.get_token(force_refresh=True))
        return raw

    @property
    def principal(self):
        """Who the token is for, as Exchange Online's 401 and 403 should name it (wire.raise_for_response)."""
        principal = getattr(self.tokens, "principal", None)
        return principal() if principal else None

    def close(self):
        close = getattr(self.tokens, "close", None)
        if close:
            close()

    # ------------------------------------------------------------------ hosts and redirects
    def _use(self, origin):
        self.origin = origin
        self.url = origin + self.path
        self.host = urlsplit(origin).netloc

    def _pin(self, origin):
        """Use ``origin`` for the rest of the task and remember it for the later tasks of this tenant."""
        self._use(origin)
        if self.memo is not None:
            self.memo.set(MEMO_HOST, None if origin == self.configured_origin else origin)

    def _forget(self):
        """The redirected host failed at the network level: back to the configured host, now and for later tasks."""
        self._use(self.configured_origin)
        if self.memo is not None:
            self.memo.set(MEMO_HOST, None)

    def _exchange(self, target, cmdlet, body, token):
        """POST ``target`` (a path and query) on the pinned host, following tenant redirects.

        A continuation link is always sent to the pinned host, whatever host it names: the token never goes to a
        host the service did not redirect us to, and a link that still names the front host (it may) costs no extra
        redirect.
        """
        chain = [self.host]
        for hop in range(MAX_REDIRECTS + 1):
            raw = self._post_pinned(target, cmdlet, body, token)
            if raw.status not in REDIRECT_STATUSES:
                return raw
            location = raw.headers.get("location")
            if not location:
                raise MailflowError("Exchange Online answered %s with HTTP %d but without a Location to follow (at %s). "
                                    "Nothing was run; re-run the task, and check api_url if it persists."
                                    % (cmdlet, raw.status, self.host), cmdlet=cmdlet, status=raw.status)
            try:
                origin = https_origin(location)
            except ValueError as exc:
                raise MailflowError(
                    "Exchange Online redirected %s from %s to '%s', which is not followed: %s (only https hosts are "
                    "followed, so that the access token never travels in clear text). Nothing was run; check api_url "
                    "and any proxy between this host and Exchange Online." % (cmdlet, self.host, location, exc),
                    cmdlet=cmdlet, status=raw.status)
            chain.append(urlsplit(origin).netloc)
            if hop == MAX_REDIRECTS:
                break
            self.redirects += 1
            self._pin(origin)
        self._forget()
        raise MailflowError("Exchange Online redirected %s more than %d times (%s): not followed further. Nothing was "
                            "run; re-run the task later, and check api_url if it persists."
                            % (cmdlet, MAX_REDIRECTS, " -> ".join(chain)), cmdlet=cmdlet, status=raw.status)

    def _post_pinned(self, target, cmdlet, body, token):
        try:
            return self._post(self.origin + target, cmdlet, body, token)
        except (TransientError, ConfigurationError) as exc:
            if self.origin == self.configured_origin:
                raise
            never_connected = getattr(exc, "never_connected", False)
            self._forget()
            if never_connected:  # nothing reached the redirected host: ask the configured host at once
                return self._post(self.origin + target, cmdlet, body, token)
            raise

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
            status, headers = response.getcode(), dict(response.headers.items())
        except HTTPError as exc:  # an answer with an error or redirect status: its body is read below
            response, status, headers = exc, exc.code, dict(exc.headers.items()) if exc.headers else {}
        except (URLError, SSLValidationError, UrlsConnectionError, HTTPException, OSError) as exc:
            # OSError covers ssl.SSLError, socket timeouts, resets and RemoteDisconnected (no status line);
            # HTTPException a damaged status line or headers.
            raise self._network_error(cmdlet, exc)
        try:
            content = response.read()
        except (AttributeError, KeyError, ValueError):
            content = b""  # an HTTPError without a body
        except (HTTPException, OSError) as exc:
            # Cut short while reading the body (IncompleteRead), reset, TLS failure or timeout mid-body: the service
            # may have run the cmdlet, so this is an unknown outcome, never a result.
            raise self._network_error(cmdlet, exc, reading=True)
        finally:
            try:
                response.close()
            except (AttributeError, HTTPException, OSError):
                pass
        return wire.RawResponse(status, headers, content)

    def _network_error(self, cmdlet, exc, reading=False):
        if not reading and _is_cert_failure(exc):
            error = ConfigurationError(
                "TLS certificate verification of %s failed (%s). Set ca_path (EXO_CA_PATH) to the CA bundle that signs "
                "the endpoint's certificate, or validate_certs=false for a test endpoint." % (self.host, getattr(exc, "reason", exc)),
                cmdlet=cmdlet)
            error.never_connected = True
            return error
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, socket.timeout) or "timed out" in str(reason):
            cause = "no answer within %s seconds" % self.timeout
        elif isinstance(reason, IncompleteRead):
            cause = "the answer was cut short (%d bytes read, %s more expected)" % (
                len(reason.partial or b""), reason.expected if reason.expected is not None else "some")
        else:
            cause = "%s%s" % (type(reason).__name__, (": %s" % reason) if str(reason) else "")
        if reading:
            cause = "while reading the answer: " + cause
        error = TransientError("Cannot reach Exchange Online at %s for %s: %s" % (self.host, cmdlet, cause), cmdlet=cmdlet)
        error.never_connected = not reading and _never_connected(exc)
        return error
