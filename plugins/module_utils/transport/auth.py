# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Access tokens for the Exchange Online InvokeCommand endpoint: token acquisition.

``TokenProvider`` returns a bearer token for the credential of the connection settings (``credentials.py``): an
access token given as-is; an app registration with a certificate, a client secret or a federated token (msal's
``ConfidentialClientApplication``, client-credentials flow); or a managed identity (msal's ``ManagedIdentityClient``
against the identity endpoint of the environment the host runs in; in Azure Cloud Shell, the signed-in user's token
through ``PublicClientApplication``). Tokens go through the token cache (``token_cache.py``): a 0600 file per
identity shared by the tasks of a run, so that a play asks for a token once.

Failures of the endpoints on the way to a token that another attempt may cure (5xx, 429, an answer that is not a
token answer, a network failure) are retried here, within ``retries`` and ``retry_delay``; then a TransientError that
the client does not retry again names the endpoint, the identity and what to check. A refusal (of the credentials,
of the identity) is an AuthenticationError at once, naming the option to fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from urllib.parse import urlsplit

from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    AuthenticationError,
    ConfigurationError,
    TransientError,
)
from ansible_collections.m365.mailflow.plugins.module_utils.transport import credentials, libraries
from ansible_collections.m365.mailflow.plugins.module_utils.transport.credentials import EndpointFault, decode_jwt_payload
from ansible_collections.m365.mailflow.plugins.module_utils.transport.token_cache import REFRESH_MARGIN, TokenCache

require_libraries = libraries.require
INSTALL_HINT = libraries.INSTALL_HINT

# REST host (= token resource) and Entra authority per cloud (exo_rest_api.md 1.2).
# China: msal treats login.chinacloudapi.cn as a deprecated alias, so we use
# login.partner.microsoftonline.cn (also the host Microsoft's China docs use as assertion audience).
# DoD: the REST host is outlook-dod.office365.us (webmail.apps.mil is only the old RPS endpoint).
CLOUDS = {
    "commercial": {"resource": "https://outlook.office365.com", "authority": "https://login.microsoftonline.com"},
    "gcc_high": {"resource": "https://outlook.office365.us", "authority": "https://login.microsoftonline.us"},
    "dod": {"resource": "https://outlook-dod.office365.us", "authority": "https://login.microsoftonline.us"},
    "china": {"resource": "https://partner.outlook.cn", "authority": "https://login.partner.microsoftonline.cn"},
}

TOKEN_TIMEOUT = 60  # seconds for a token endpoint call (the cmdlet timeout can be 960 s)
IDENTITY_CONNECT_TIMEOUT = 5  # seconds to connect to a managed identity endpoint (a local one, or IMDS on link-local)
MAX_TOKEN_WAIT = 60.0  # seconds, the longest pause between two attempts at the token endpoint
# OAuth error codes that say "try again" (RFC 6749 4.1.2.1); every other error answer is final.
TRANSIENT_OAUTH_ERRORS = ("temporarily_unavailable", "server_error")
APP_ANCHOR_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
# The public client msal's PublicClientApplication needs a client ID for in Cloud Shell (Azure CLI's). Cloud Shell's
# token endpoint is sent only the resource, so the ID just labels the cached token.
CLOUD_SHELL_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

_AADSTS_HINTS = (
    ("AADSTS700016", "the application (client_id) was not found in the tenant: check client_id, check tenant, and that "
                     "the app registration exists in (or was consented to by) that tenant"),
    ("AADSTS700027", "the certificate is not registered on the app registration (or the thumbprint does not match): "
                     "upload the public certificate of certificate_path under 'Certificates & secrets' of the app"),
    ("AADSTS7000215", "the client secret is wrong: use the secret's Value (not its Secret ID) in client_secret"),
    ("AADSTS7000222", "the client secret has expired: create a new secret on the app registration and update client_secret"),
    ("AADSTS90002", "the tenant was not found: check tenant (a tenant ID GUID or its onmicrosoft.com domain) and cloud"),
    ("AADSTS90023", "the tenant was not found or the request was malformed: check tenant and cloud"),
    ("AADSTS50034", "the account does not exist in the tenant: check tenant"),
    ("AADSTS500011", "the Exchange Online resource is not available in the tenant: check cloud"),
)
# Entra ID's answers to a federated token that no federated credential of the app matches: 70021 (no match),
# 700211 (issuer), 700213 and 7002137/7002138 (subject; 7002138: it matches only without case) are quoted in public
# issue threads (Azure/azure-workload-identity#340, #1200; Azure/login#482, #515; microsoft/Agents#202); 700212 for
# the audience is inferred from the series.
_FEDERATION_MISMATCH = ("AADSTS70021", "AADSTS700211", "AADSTS700212", "AADSTS700213", "AADSTS7002137", "AADSTS7002138")
_ASSERTION_TIME = "AADSTS700024"  # "Client assertion is not within its valid time range" (Azure/login#180, #372)


def cloud_info(cloud):
    try:
        return CLOUDS[cloud or "commercial"]
    except KeyError:
        raise ConfigurationError("cloud: '%s' is not one of %s" % (cloud, ", ".join(sorted(CLOUDS))))


def anchor_for_claims(claims, tenant):
    """The X-AnchorMailbox value for a token: UPN:<user> when delegated, else the app system mailbox."""
    if claims.get("scp"):
        upn = claims.get("upn") or claims.get("unique_name") or claims.get("preferred_username")
        if upn:
            return "UPN:%s" % upn
    return "APP:%s@%s" % (APP_ANCHOR_MAILBOX, claims.get("tid") or tenant)


# --------------------------------------------------------------------------- HTTP

def _session_class():
    requests = libraries.requests

    class TokenSession(requests.Session):
        """The requests session msal uses: a default timeout, the environment's proxies for each URL (``trust_env`` is
        off so that REQUESTS_CA_BUNDLE cannot override ``verify``), a count of token requests and a record of the
        last answer (for the messages).

        ``identity`` True (a managed identity endpoint): GETs are token requests and connecting is given
        IDENTITY_CONNECT_TIMEOUT. The record is kept by a response hook, which msal copies into the session it derives
        for Service Fabric's certificate pinning.
        """

        token_requests = 0
        timeout = TOKEN_TIMEOUT
        identity = False
        last = None  # what the last request got: {"method", "url", "status", "content_type", "retry_after"}

        def __init__(self):
            super(TokenSession, self).__init__()
            self.trust_env = False
            self.hooks["response"].append(self._answered)

        def request(self, method, url, *args, **kwargs):  # pylint: disable=arguments-differ
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = (min(IDENTITY_CONNECT_TIMEOUT, self.timeout), self.timeout) if self.identity \
                    else self.timeout
            if kwargs.get("proxies") is None:
                kwargs["proxies"] = requests.utils.get_environ_proxies(url)  # honours no_proxy for this URL
            if method.upper() == "POST":
                self.token_requests += 1
            self.last = {"method": method.upper(), "url": str(url).split("?", 1)[0], "status": None}
            return super(TokenSession, self).request(method, url, *args, **kwargs)

        def _answered(self, response, *args, **kwargs):
            method = response.request.method.upper() if response.request is not None else "GET"
            if self.identity and method == "GET":
                self.token_requests += 1
            self.last = {"method": method, "url": str(response.url).split("?", 1)[0], "status": response.status_code,
                         "content_type": response.headers.get("Content-Type", ""),
                         "retry_after": response.headers.get("Retry-After")}
            return response

    return TokenSession


def _json_failure(exc):
    """True when a ValueError is (or was raised while handling) json's decode error: the body was not JSON."""
    while exc is not None:
        if isinstance(exc, json.JSONDecodeError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _first_line(exc):
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


_TokenFault = EndpointFault  # a failure another attempt may cure (see _acquire_once)


# --------------------------------------------------------------------------- provider

class TokenProvider(object):
    """Bearer tokens for one tenant and identity. See module docstring.

    ``environ`` (tests): the environment the managed identity source is read from (default os.environ, which is what
    msal reads too).
    """

    def __init__(self, settings, sleep=None, environ=None):
        self.settings = dict(settings or {})
        self.retries = max(0, int(self.settings.get("retries") if self.settings.get("retries") is not None else 5))
        self.retry_delay = max(0.0, float(self.settings.get("retry_delay") if self.settings.get("retry_delay") is not None
                                          else 2.0))
        self._sleep = sleep or time.sleep
        self._past_token_requests = 0
        self.tenant = self.settings.get("tenant")
        self.cloud = self.settings.get("cloud") or "commercial"
        info = cloud_info(self.cloud)
        self.resource = info["resource"]
        self.scope = self.resource + "/.default"
        self.authority = (self.settings.get("authority") or info["authority"]).rstrip("/")
        self.credential = credentials.from_settings(self.settings, environ)
        self.kind = self.credential.kind
        self._token = self.settings.get("access_token") or None
        self._expires_at = None
        self._app = None
        self._session = None
        self.cache = None
        self.cache_path = None
        if self.kind != "access_token":
            self.cache = TokenCache(self.credential.cache_key(self.cloud, self.authority, self.tenant),
                                    directory=self.settings.get("token_cache_dir"),
                                    persist=self.settings.get("token_cache", True) is not False)
            self.cache_path = self.cache.path

    # ------------------------------------------------------------------ public
    @property
    def can_refresh(self):
        return self.credential.refreshable

    @property
    def token_requests(self):
        return self._past_token_requests + (self._session.token_requests if self._session is not None else 0)

    @property
    def managed(self):
        """A managed identity through ManagedIdentityClient (not Cloud Shell's user token)."""
        return self.kind == "managed_identity" and not self.credential.delegated

    def describe(self):
        """Who the tokens are for, for messages (never a secret)."""
        return self.credential.describe()

    def principal(self):
        """How Exchange Online's 401 and 403 are explained for this identity (wire.raise_for_response)."""
        return self.credential.principal()

    def get_token(self, force_refresh=False):
        """A bearer token; a new one when ``force_refresh`` (ignored for a given access_token)."""
        if self.kind == "access_token":
            return self._token
        if not force_refresh:
            if self._token and self._expires_at is not None and self._expires_at - time.time() > REFRESH_MARGIN:
                return self._token
            if self._app is None:
                cached = self.cache.cached_token(*self._cache_entry())
                if cached:
                    self._token, self._expires_at = cached
                    return self._token
        attempt = 0
        while True:
            try:
                result = self._acquire_once(force_refresh)
                break
            except _TokenFault as fault:
                # A fresh msal app for the next attempt: msal replays a 5xx answer from its own throttle cache for a
                # few seconds, and a failed discovery leaves no app to reuse.
                self._discard_app()
                if attempt >= self.retries or getattr(fault, "final", False):
                    raise self._endpoint_error(fault, attempt + 1)
                wait = min(self.retry_delay * (2 ** attempt), MAX_TOKEN_WAIT)
                if fault.retry_after is not None:
                    wait = max(wait, min(fault.retry_after, MAX_TOKEN_WAIT))
                self._sleep(wait)
                attempt += 1
        if "access_token" not in result:
            raise self._auth_error(result)
        self._token = result["access_token"]
        try:
            self._expires_at = time.time() + int(result.get("expires_in"))
        except (TypeError, ValueError):
            self._expires_at = None
        return self._token

    def anchor(self):
        """The X-AnchorMailbox header value for the current token."""
        token = self._token or self.get_token()
        return anchor_for_claims(decode_jwt_payload(token), self.tenant)

    def close(self):
        if self._session is not None:
            self._session.close()

    # ------------------------------------------------------------------ one attempt
    def _cache_entry(self):
        """(client IDs, target) under which msal files this identity's tokens."""
        if self.kind == "managed_identity":
            if self.credential.delegated:
                return (CLOUD_SHELL_CLIENT_ID,), self.scope
            return self.credential.cache_client_ids, self.resource
        return (self.credential.client_id,), self.scope

    def _discard_app(self):
        if self._session is not None:
            self._past_token_requests += self._session.token_requests
            self._session.close()
        self._app = self._session = None

    def _acquire_once(self, force_refresh):
        """One attempt: build the msal app if needed and ask for a token; raise _TokenFault for what may pass."""
        if self._app is None:
            self._app = self._build_app()
        mismatch = None
        with self.cache.session():
            if force_refresh:
                self.cache.drop(self._cache_entry()[0])
            result = self._acquire()
            if isinstance(result, dict) and result.get("access_token"):
                mismatch = self._other_identity(result["access_token"])
                if mismatch:
                    self.cache.drop(self._cache_entry()[0])  # never serve that token to a later task
        if mismatch:
            raise mismatch
        if not isinstance(result, dict):
            raise self._fault("%s instead of a token answer" % type(result).__name__)
        if "access_token" not in result:
            last = self._last()
            status = last.get("status")
            if self.managed:
                if status is None or status == 200 or status == 429 or status >= 500 or \
                        (self.credential.source.name == "vm" and status in (404, 410)):
                    # IMDS answers 404 while an identity is being assigned and 410 while it updates: "retry" (Azure
                    # docs, quoted in msal/managed_identity.py); a 200 without a token is a malformed answer.
                    raise self._fault("an answer without an access token" if status in (None, 200)
                                      else "an unexpected status")
                return result
            if result.get("error") in TRANSIENT_OAUTH_ERRORS or status == 429 or (status or 0) >= 500:
                raise self._fault("the OAuth error '%s'" % result.get("error", "throttled"))
            if not result.get("error"):
                raise self._fault("an answer with neither an access token nor an error")
        return result

    def _other_identity(self, token):
        """An AuthenticationError when a user-assigned identity's endpoint answered with another identity's token."""
        if not (self.managed and self.credential.user_assigned):
            return None
        claims = decode_jwt_payload(token)
        got = str(claims.get("appid") or claims.get("azp") or "")
        if not got or got.lower() == self.credential.identity:
            return None
        why = {
            "service_fabric": "Service Fabric gives the application the identity configured in the cluster, whatever "
                              "managed_identity says: configure %s for the application there" % self.credential.identity,
            "azure_arc": "an Azure Arc agent that does not know user-assigned identities answers with the machine's "
                         "system-assigned one: update the agent, or use managed_identity: system",
        }.get(self.credential.source.name, "check that the identity %s is assigned to this resource"
              % self.credential.identity)
        return AuthenticationError(
            "The managed identity endpoint %s (%s) answered with a token for the identity with client ID %s, not for "
            "managed_identity %s; it is not used: %s." % (self.credential.source.endpoint, self.credential.source.label,
                                                          got, self.credential.identity, why),
            exception_type="ManagedIdentityMismatch")

    # ------------------------------------------------------------------ msal
    def _verify(self):
        if not self.settings.get("validate_certs", True):
            return False
        return self.settings.get("ca_path") or True

    def _new_session(self, identity=False):
        self._session = _session_class()()
        self._session.timeout = min(self.settings.get("timeout") or TOKEN_TIMEOUT, TOKEN_TIMEOUT)
        self._session.identity = identity
        self._session.verify = self._verify()
        return self._session

    def _build_app(self):
        if self.kind == "managed_identity":
            libraries.require_managed_identity("managed_identity")
            if self.credential.delegated:
                return self._build_client_app(libraries.msal.PublicClientApplication, CLOUD_SHELL_CLIENT_ID, {})
            session = self._new_session(identity=True)
            return libraries.msal.ManagedIdentityClient(self.credential.msal_identity(), http_client=session,
                                                        token_cache=self.cache.msal_cache)
        libraries.require("msal", "requests", "cryptography")
        kwargs = {}
        if self.kind != "federated":  # a certificate is loaded (and checked) before any request
            kwargs["client_credential"] = self.credential.msal_credential()
        return self._build_client_app(libraries.msal.ConfidentialClientApplication, self.credential.client_id, kwargs)

    def _build_client_app(self, app_class, client_id, kwargs):
        session = self._new_session()
        if self.kind == "federated":  # the assertion is read (or fetched) through this session
            kwargs["client_credential"] = self.credential.msal_credential(session)
        if self.settings.get("authority"):
            kwargs.update(validate_authority=False, instance_discovery=False)
        # What escapes msal (1.2x-1.3x) while it builds the app, that is while it fetches the OpenID configuration
        # (msal/authority.py tenant_discovery): requests exceptions for the network; MsalServiceError from msal's own
        # response wrapper for a 5xx (older msal: requests' HTTPError); RuntimeError for another odd status; a
        # ValueError for a 4xx (unknown tenant, wrong authority) and for a 200 that is not JSON (re-raised by
        # Authority with the JSONDecodeError as its context); KeyError/AttributeError/TypeError for a JSON document
        # without the endpoints. The session's record of the last answer says which endpoint failed and how.
        requests = libraries.requests
        try:
            return app_class(client_id, authority="%s/%s" % (self.authority, self.tenant),
                             token_cache=self.cache.msal_cache, http_client=session, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise self._request_failure(exc)
        except (libraries.MsalServiceError, RuntimeError):
            raise self._fault("an unexpected status")
        except ValueError as exc:
            if _json_failure(exc):
                raise self._fault("a body that is not JSON")
            last = self._last()
            detail = "%s answered HTTP %d" % (self._endpoint_name(last), last["status"]) if self._answered() \
                else _first_line(exc)
            raise AuthenticationError("Cannot use authority %s/%s: %s. Check tenant (a tenant ID GUID or its onmicrosoft.com "
                                      "domain), cloud and authority_url." % (self.authority, self.tenant, detail))
        except (KeyError, AttributeError, TypeError) as exc:
            if self._answered():
                raise self._fault("a JSON document without the endpoints (%s)" % type(exc).__name__)
            raise AuthenticationError("msal could not be set up for authority %s/%s (%s: %s). Check tenant, cloud and "
                                      "authority_url." % (self.authority, self.tenant, type(exc).__name__, exc))

    def _acquire(self):
        # What escapes msal's acquire_token_for_client (msal/oauth2cli/oauth2.py _obtain_token): requests exceptions
        # for the network; MsalServiceError (older msal: requests' HTTPError) for a 5xx; json's ValueError for an
        # answer that is not JSON (any status below 500); ValueError/KeyError/AttributeError/TypeError while msal
        # reads a JSON answer of the wrong shape (a list, a non-numeric expires_in). An OAuth error answer (4xx JSON)
        # comes back as a dict with "error" and is judged by _acquire_once / _auth_error.
        # ManagedIdentityClient (msal/managed_identity.py) lets the same requests and json exceptions out, plus its
        # ManagedIdentityError (a ValueError) for what it refuses itself (Azure Arc's challenge, a Service Fabric
        # thumbprint) and OSError when Azure Arc's key file cannot be read; an answer of the endpoint that is JSON but
        # no token comes back as a dict with "error".
        # Cloud Shell (msal/cloudshell.py, through acquire_token_interactive with prompt "none") lets out requests and
        # json exceptions, and KeyError for an answer without the token fields.
        requests = libraries.requests
        try:
            if self.managed:
                return self._app.acquire_token_for_client(resource=self.resource)
            if self.kind == "managed_identity":
                return self._app.acquire_token_interactive(scopes=[self.scope], prompt="none")
            return self._app.acquire_token_for_client(scopes=[self.scope])
        except requests.exceptions.RequestException as exc:
            raise self._request_failure(exc)
        except libraries.MsalServiceError:
            raise self._fault("an unexpected status")
        except libraries.ManagedIdentityError as exc:
            raise AuthenticationError("%s refused to give a token for %s: %s. Check %s." % (
                self._endpoint_name(), self.describe(), _first_line(exc), self.credential.check()),
                exception_type="ManagedIdentityError")
        except ValueError as exc:
            raise self._fault("a body that is not JSON" if _json_failure(exc) else "a token answer msal cannot use (%s)"
                              % _first_line(exc))
        except (IOError, OSError) as exc:
            if not self.managed:
                raise
            raise ConfigurationError("Cannot get a token for %s from %s: %s (%s). Check %s." % (
                self.describe(), self._endpoint_name(), getattr(exc, "filename", None) or "a file it needs",
                exc.strerror or type(exc).__name__, self.credential.check()))
        except (KeyError, AttributeError, TypeError) as exc:
            if self._answered():
                raise self._fault("a token answer of the wrong shape (%s)" % type(exc).__name__)
            raise

    # ------------------------------------------------------------------ failures
    def _last(self):
        return (self._session.last if self._session is not None else None) or {}

    def _answered(self):
        return self._last().get("status") is not None

    def _endpoint_name(self, last=None):
        last = last or self._last()
        if self.managed:
            source = self.credential.source
            return "the managed identity endpoint %s (%s)" % (last.get("url") or source.endpoint, source.label)
        url = last.get("url") or "%s/%s" % (self.authority, self.tenant)
        if "openid-configuration" in url or (last.get("method") == "GET" and self.kind != "federated"):
            return "the OpenID discovery document %s" % url
        if self.kind == "managed_identity":
            return "Azure Cloud Shell's token endpoint %s" % url
        return "the token endpoint %s" % url

    def _fault(self, what):
        """A _TokenFault describing the last answer of the endpoint in use."""
        last = self._last()
        status = last.get("status")
        if status is None:
            text = "%s gave no answer" % self._endpoint_name(last)
        else:
            kind = ""
            if "html" in (last.get("content_type") or "").lower():
                kind = " (an HTML page)"
            if what == "an unexpected status" or status >= 500:
                text = "%s answered HTTP %d%s" % (self._endpoint_name(last), status, kind)
                if what != "an unexpected status":
                    text += " with %s" % what
            else:
                text = "%s answered HTTP %d with %s%s" % (self._endpoint_name(last), status, what, kind)
        return _TokenFault(text, status=status, retry_after=credentials.retry_after_header(last.get("retry_after")))

    def _request_failure(self, exc):
        """A requests exception out of msal: TLS trust is a configuration error, anything else a _TokenFault."""
        requests = libraries.requests
        if isinstance(exc, requests.exceptions.SSLError):
            if self.managed and self.credential.source.name == "service_fabric":
                return ConfigurationError(
                    "TLS check of %s failed (%s): its certificate is not the one IDENTITY_SERVER_THUMBPRINT names. "
                    "Check %s." % (self._endpoint_name(), _first_line(exc), self.credential.check()))
            host = urlsplit(self._last().get("url") or self.authority).netloc
            what = "the managed identity endpoint" if self.managed else "the token endpoint"
            return ConfigurationError("TLS verification of %s %s failed (%s). Set ca_path (EXO_CA_PATH) to the CA bundle "
                                      "that signs it, or validate_certs=false for a test endpoint."
                                      % (what, host, type(exc).__name__))
        response = getattr(exc, "response", None)
        if isinstance(exc, requests.exceptions.HTTPError) and response is not None:
            return self._fault("an unexpected status")
        timeout = self._session.timeout if self._session is not None else TOKEN_TIMEOUT
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            cause = "no connection within %s seconds" % (min(IDENTITY_CONNECT_TIMEOUT, timeout) if self.managed
                                                         else timeout)
        elif isinstance(exc, requests.exceptions.Timeout):
            cause = "no answer within %s seconds" % timeout
        elif "refused" in str(exc).lower():
            cause = "the connection was refused (nothing listens there)"
        else:
            cause = type(exc).__name__
        fault = self._fault("")
        fault.text = "%s could not be reached: %s" % (self._endpoint_name(), cause)
        fault.status = None
        source = self.credential.source if self.managed else None
        if source is not None and source.name == "vm" and urlsplit(source.endpoint).hostname == "169.254.169.254" and \
                isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ConnectTimeout)) and \
                not isinstance(exc, requests.exceptions.ReadTimeout):
            # The Instance Metadata Service is on every Azure VM and answers at once; no connection to it means this
            # host is not one (or a proxy is in the way): trying again only makes the task wait.
            fault.text += ", so this host does not look like an Azure VM or scale-set instance"
            fault.final = True
        return fault

    def _endpoint_error(self, fault, attempts):
        """The final error after ``attempts`` failed attempts: not retried again by the client."""
        tries = "gave up after %d attempt%s" % (attempts, "" if attempts == 1 else "s")
        if self.managed or self.kind == "managed_identity":
            error = TransientError(
                "Cannot get a token for Exchange Online (resource %s) for %s: %s (%s). Check %s; if all is right the "
                "endpoint is failing: re-run the task later."
                % (self.resource, self.describe(), fault.text, tries, self.credential.check()),
                status=fault.status, exception_type="ManagedIdentityEndpointError")
        elif fault.check:
            error = TransientError(
                "Cannot get an access token for tenant %s as %s: %s (%s). Check %s; if all is right the endpoint is "
                "failing: re-run the task later." % (self.tenant, self.describe(), fault.text, tries, fault.check),
                status=fault.status, exception_type="FederatedTokenError")
        else:
            host = urlsplit(self.authority).netloc
            error = TransientError(
                "Cannot get an access token for tenant %s: %s (%s). Check authority_url (EXO_AUTHORITY_URL, now %s) and "
                "cloud, check tenant, and check the network between this host and %s (DNS, proxy, firewall); if all "
                "are right the endpoint is failing: re-run the task later."
                % (self.tenant, fault.text, tries, self.authority, host),
                status=fault.status, exception_type="TokenEndpointError")
        error.retryable = False  # retried here already; the request to Exchange Online was never sent
        return error

    def _auth_error(self, result):
        description = (result.get("error_description") or "").splitlines()
        first = description[0][:300] if description else ""
        if self.kind == "managed_identity":
            status = self._last().get("status")
            return AuthenticationError("%s refused a token for %s (%s%s): %s. Check %s." % (
                self._endpoint_name(), self.describe(), ("HTTP %d, " % status) if status else "",
                result.get("error", "error"), first or "no description", self.credential.check()),
                status=status, exception_type=result.get("error") or "ManagedIdentityError")
        code = first.split(":", 1)[0] if first.startswith("AADSTS") else ""
        if not code and result.get("error_codes"):
            code = "AADSTS%s" % result["error_codes"][0]
        hint = self._federation_hint(code) if self.kind == "federated" else None
        if hint is None:
            for prefix, text in _AADSTS_HINTS:
                if code == prefix:
                    hint = text
                    break
        if hint is None:
            hint = self._credential_hint(result.get("error"))
        who = "client_id %s" % self.settings.get("client_id") if self.kind != "managed_identity" else self.describe()
        return AuthenticationError("Entra ID refused a token for %s in tenant %s (%s%s): %s. %s" % (
            who, self.tenant, result.get("error", "error"), (", " + code) if code else "", hint,
            first or "no description"), exception_type=code or result.get("error"))

    def _federation_hint(self, code):
        """What to fix when Entra ID refuses a federated token (the token's claims are named, the token never)."""
        claims = getattr(self.credential, "last_claims", None) or {}
        if code in _FEDERATION_MISMATCH or code.startswith("AADSTS70021"):
            return ("no federated credential of the app registration %s matches the presented token (issuer %s, "
                    "subject %s, audience %s): add one with exactly these values under Certificates & secrets > "
                    "Federated credentials (the match is case-sensitive), or have the token issued for the subject "
                    "and audience the credential names" % (self.credential.client_id, claims.get("iss", "unknown"),
                                                           claims.get("sub", "unknown"), claims.get("aud", "unknown")))
        if code == _ASSERTION_TIME:
            return ("the federated token is outside its validity (it expires %s; it is now %s on this host): %s must "
                    "hold a fresh token (in AKS the kubelet rotates the projected token; in CI, write it right before "
                    "the play or use federated_token: github_actions)" % (
                        credentials.stamp(claims.get("exp")), credentials.stamp(time.time()),
                        self.credential.source.describe()))
        return None

    def _credential_hint(self, error):
        """What to fix for an OAuth error without a known AADSTS code: name the option."""
        if error == "invalid_client":
            if self.kind == "certificate":
                return ("the app registration refused the certificate: check certificate_path (EXO_CERTIFICATE_PATH) is the "
                        "certificate uploaded under 'Certificates & secrets' of the app client_id (and "
                        "certificate_password for an encrypted key or PFX)")
            if self.kind == "federated":
                return ("the app registration refused the federated token: check its federated credentials (issuer, "
                        "subject and audience must match the token's exactly) and %s" % self.credential.option)
            return ("the app registration refused the secret: check client_secret (EXO_CLIENT_SECRET) is the secret's "
                    "Value (not its ID) of the app client_id and has not expired")
        if error == "unauthorized_client":
            return ("the application is not known or not allowed in the tenant: check client_id (EXO_CLIENT_ID) is the "
                    "application (client) ID of an app registration in, or consented to by, tenant")
        if self.kind == "federated":
            return "check tenant, client_id and %s" % self.credential.option
        return "check tenant, client_id and the credential (certificate_path or client_secret)"
