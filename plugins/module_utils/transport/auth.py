# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Access tokens for the Exchange Online InvokeCommand endpoint.

``TokenProvider`` returns a bearer token from one of three sources: an access
token given as-is, an app registration with a certificate (PEM or PFX file),
or an app registration with a client secret. The last two go through msal's
client-credentials flow. Tokens are kept in an msal token cache persisted to
a 0600 file (one file per cloud, authority, tenant, client and credential
kind) under a file lock, so that concurrent Ansible forks share one token.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import contextlib
import datetime
import hashlib
import json
import logging
import os
import tempfile
import time

from urllib.parse import urlsplit

from ansible_collections.m365.mailflow.plugins.module_utils.memo import default_cache_dir
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    AuthenticationError,
    ConfigurationError,
    DependencyError,
    TransientError,
)

try:
    import fcntl
    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not on POSIX
    HAS_FCNTL = False

# msal, requests and cryptography are imported on first need (_import_libraries): a task that finds a valid token
# in the cache file needs none of them, which keeps a no-op task as fast as a plain HTTP call.
msal = requests = x509 = hashes = serialization = pkcs12 = None


class MsalServiceError(Exception):
    """Stands for msal.exceptions.MsalServiceError until msal is imported (then it is that class)."""


HAS_MSAL = HAS_REQUESTS = HAS_CRYPTOGRAPHY = True  # until an import says otherwise
_IMPORTED = False


def _import_libraries():
    global msal, requests, x509, hashes, serialization, pkcs12, HAS_MSAL, HAS_REQUESTS, HAS_CRYPTOGRAPHY, _IMPORTED
    global MsalServiceError
    if _IMPORTED:
        return
    _IMPORTED = True
    try:
        import msal as _msal
        msal = _msal
    except ImportError:
        HAS_MSAL = False
    else:
        # msal logs a failed token answer with its traceback; without a handler of the caller's, Python's last-resort
        # handler would print it on stderr. The failure is reported through our own error instead.
        logging.getLogger("msal").addHandler(logging.NullHandler())
        try:
            from msal.exceptions import MsalServiceError as _MsalServiceError
            MsalServiceError = _MsalServiceError
        except ImportError:  # pragma: no cover - every msal release we support has it
            pass
    try:
        import requests as _requests
        requests = _requests
    except ImportError:
        HAS_REQUESTS = False
    try:
        from cryptography import x509 as _x509
        from cryptography.hazmat.primitives import hashes as _hashes, serialization as _serialization
        from cryptography.hazmat.primitives.serialization import pkcs12 as _pkcs12
        x509, hashes, serialization, pkcs12 = _x509, _hashes, _serialization, _pkcs12
    except ImportError:
        HAS_CRYPTOGRAPHY = False


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
MAX_TOKEN_WAIT = 60.0  # seconds, the longest pause between two attempts at the token endpoint
# OAuth error codes that say "try again" (RFC 6749 4.1.2.1); every other error answer is final.
TRANSIENT_OAUTH_ERRORS = ("temporarily_unavailable", "server_error")
REFRESH_MARGIN = 300  # seconds; a cached token closer to expiry than this is renewed
APP_ANCHOR_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"

INSTALL_HINT = "install it on the host that runs the module: pip install -r requirements.txt (or pip install msal cryptography requests)"

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


def require_libraries(*names):
    """Raise DependencyError naming the first missing library among msal, requests, cryptography."""
    _import_libraries()
    flags = {"msal": HAS_MSAL, "requests": HAS_REQUESTS, "cryptography": HAS_CRYPTOGRAPHY}
    missing = [name for name in names if not flags[name]]
    if missing:
        raise DependencyError("The Python librar%s %s needed for Entra ID authentication %s not installed: %s."
                              % ("ies" if len(missing) > 1 else "y", " and ".join(missing),
                                 "are" if len(missing) > 1 else "is", INSTALL_HINT))


def cloud_info(cloud):
    try:
        return CLOUDS[cloud or "commercial"]
    except KeyError:
        raise ConfigurationError("cloud: '%s' is not one of %s" % (cloud, ", ".join(sorted(CLOUDS))))


def decode_jwt_payload(token):
    """The claims of a JWT, without verifying it. Empty dict when it is not a JWT."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")).decode("utf-8"))
    except (IndexError, ValueError, TypeError, UnicodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def anchor_for_claims(claims, tenant):
    """The X-AnchorMailbox value for a token: UPN:<user> when delegated, else the app system mailbox."""
    if claims.get("scp"):
        upn = claims.get("upn") or claims.get("unique_name") or claims.get("preferred_username")
        if upn:
            return "UPN:%s" % upn
    return "APP:%s@%s" % (APP_ANCHOR_MAILBOX, claims.get("tid") or tenant)


# --------------------------------------------------------------------------- certificates

def _cert_error(path, why, fix):
    return ConfigurationError("certificate_path: cannot use '%s': %s. %s" % (path, why, fix))


def _load_pem(path, data, password):
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise _cert_error(path, "the PEM file holds no certificate",
                          "Put the certificate and its private key in one PEM file, or use a PFX file")
    if b"PRIVATE KEY-----" not in data:
        raise _cert_error(path, "the PEM file holds no private key",
                          "Append the private key (-----BEGIN PRIVATE KEY-----) to the certificate file")
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError:
        if password is None:
            raise ConfigurationError("certificate_password: the private key in '%s' is encrypted; set certificate_password "
                                     "(EXO_CERTIFICATE_PASSWORD) to its passphrase." % path)
        raise ConfigurationError("certificate_password is set but the private key in '%s' is not encrypted: unset "
                                 "certificate_password." % path)
    except ValueError:
        if password is not None:
            raise ConfigurationError("certificate_password: the private key in '%s' could not be decrypted; check "
                                     "certificate_password (EXO_CERTIFICATE_PASSWORD)." % path)
        raise _cert_error(path, "the private key cannot be read", "Use an unencrypted PKCS#8 or RSA PEM private key")
    return key, certs


def _load_pfx(path, data, password):
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        if password is None:
            raise ConfigurationError("certificate_path: '%s' is neither a PEM file nor a PFX file that opens without a "
                                     "password; if it is a PFX, set certificate_password (EXO_CERTIFICATE_PASSWORD)." % path)
        raise ConfigurationError("certificate_password: '%s' could not be opened as a PFX/PKCS#12 file with that "
                                 "password; check certificate_password, or that the file is a PEM or PFX file." % path)
    if key is None:
        raise _cert_error(path, "the PFX file holds no private key", "Export the certificate with its private key")
    certs = ([cert] if cert is not None else []) + list(extra or [])
    if not certs:
        raise _cert_error(path, "the PFX file holds no certificate", "Export the certificate with its private key")
    return key, certs


def _utc_bounds(cert):
    """notBefore and notAfter as aware UTC datetimes (``*_utc`` since cryptography 42, naive UTC before)."""
    try:
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    except AttributeError:  # pragma: no cover - cryptography < 42
        return (cert.not_valid_before.replace(tzinfo=datetime.timezone.utc),
                cert.not_valid_after.replace(tzinfo=datetime.timezone.utc))


def _check_validity(path, cert, now=None):
    """Refuse a certificate outside its validity period before it signs a client assertion.

    Entra ID does not accept a certificate outside its validity window: it answers with an AADSTS error about the
    client assertion or the app's keys (AADSTS1000502 "certificate outside of the validity window" per
    AzureAD/microsoft-identity-web PR #2840; not captured live here, so inferred), which points at the app
    registration rather than at the file. Checked against this host's clock, with no tolerance: a clock that is off
    shows in the message.
    """
    not_before, not_after = _utc_bounds(cert)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if not_before <= now <= not_after:
        return
    stamp = "%Y-%m-%d %H:%M:%S UTC"
    what = "the certificate %s (thumbprint %s) in '%s'" % (
        cert.subject.rfc4514_string() or "without subject", cert.fingerprint(hashes.SHA1()).hex().upper(),  # nosec
        path)
    period = "valid from %s to %s; it is now %s on this host" % (
        not_before.strftime(stamp), not_after.strftime(stamp), now.strftime(stamp))
    if now > not_after:
        raise ConfigurationError(
            "certificate_path: %s expired on %s (%s), and Entra ID refuses an expired certificate. Renew it: create a "
            "new certificate, upload its public part (.cer/.crt) to the app registration (Certificates & secrets), "
            "and set certificate_path (EXO_CERTIFICATE_PATH) to the new PEM or PFX file."
            % (what, not_after.strftime(stamp), period))
    raise ConfigurationError(
        "certificate_path: %s is not valid yet (%s), and Entra ID refuses a certificate before its start date. Wait "
        "until %s, check this host's clock, or set certificate_path (EXO_CERTIFICATE_PATH) to a certificate that is "
        "valid now and uploaded to the app registration (Certificates & secrets)."
        % (what, period, not_before.strftime(stamp)))


def load_certificate(path, password=None):
    """Read a PEM (certificate + key) or PFX file; return the msal client_credential dict.

    Raises ConfigurationError naming certificate_path / certificate_password when
    the file cannot be used, or when its certificate is expired or not valid yet.
    """
    require_libraries("cryptography")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise _cert_error(path, exc.strerror or "it cannot be read",
                          "Set certificate_path to a readable PEM (certificate + private key) or PFX file")
    secret = password.encode("utf-8") if password else None
    if b"-----BEGIN" in data:
        key, certs = _load_pem(path, data, secret)
    else:
        key, certs = _load_pfx(path, data, secret)
    key_der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    cert = None
    for candidate in certs:
        if candidate.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo) == key_der:
            cert = candidate
            break
    if cert is None:
        raise _cert_error(path, "no certificate in the file matches its private key",
                          "Use the certificate that belongs to the private key")
    _check_validity(path, cert)
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    return {
        "private_key": pem_key,
        "thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper(),  # nosec - SHA-1 thumbprint is what Entra uses
        "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    }


# --------------------------------------------------------------------------- provider

def _session_class():
    class TokenSession(requests.Session):
        """A requests session with a default timeout that counts token endpoint calls (msal POSTs only there)."""

        token_requests = 0
        timeout = TOKEN_TIMEOUT
        last = None  # what the last request got: {"method", "url", "status", "content_type", "retry_after"}

        def request(self, method, url, *args, **kwargs):  # pylint: disable=arguments-differ
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = self.timeout
            if method.upper() == "POST":
                self.token_requests += 1
            self.last = {"method": method.upper(), "url": str(url).split("?", 1)[0], "status": None}
            response = super(TokenSession, self).request(method, url, *args, **kwargs)
            self.last.update(status=response.status_code, content_type=response.headers.get("Content-Type", ""),
                             retry_after=response.headers.get("Retry-After"))
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


class _TokenFault(Exception):
    """A failure of the token endpoint or its OpenID discovery that another attempt may cure (see _acquire_once)."""

    def __init__(self, text, status=None, retry_after=None):
        super(_TokenFault, self).__init__(text)
        self.text = text
        self.status = status
        self.retry_after = retry_after


class TokenProvider(object):
    """Bearer tokens for one tenant and identity. See module docstring.

    Failures of the token endpoint that another attempt may cure (5xx, an answer that is not a token answer, a
    network failure, a failing OpenID discovery) are retried up to ``retries`` times with the client's backoff
    (``retry_delay * 2**n``); then a TransientError that is not retried again (``retryable`` False) names the endpoint,
    the status and what to check. A refusal of the credentials (``invalid_client``, ``unauthorized_client``, any
    other OAuth error) is an AuthenticationError at once, naming the option to fix.
    """

    def __init__(self, settings, sleep=None):
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
        self._token = self.settings.get("access_token") or None
        if self._token:
            self.kind = "access_token"
        elif self.settings.get("certificate_path"):
            self.kind = "certificate"
        elif self.settings.get("client_secret"):
            self.kind = "client_secret"
        else:
            raise ConfigurationError("No credentials: set access_token, or client_id with certificate_path or client_secret.")
        if self.kind != "access_token" and not (self.settings.get("client_id") and self.tenant):
            raise ConfigurationError("%s needs client_id and tenant to be set." % self.kind)
        self._app = None
        self._cache = None
        self._session = None
        self.cache_path = self._cache_file() if self.kind != "access_token" else None

    # ------------------------------------------------------------------ public
    @property
    def can_refresh(self):
        return self.kind != "access_token"

    @property
    def token_requests(self):
        return self._past_token_requests + (self._session.token_requests if self._session is not None else 0)

    def get_token(self, force_refresh=False):
        """A bearer token; a new one from Entra ID when ``force_refresh`` (ignored for a given access_token)."""
        if self.kind == "access_token":
            return self._token
        if not force_refresh and self._app is None:
            cached = self._cached_token()
            if cached:
                self._token = cached
                return cached
        attempt = 0
        while True:
            try:
                result = self._acquire_once(force_refresh)
                break
            except _TokenFault as fault:
                # A fresh msal app for the next attempt: msal replays a 5xx answer from its own throttle cache for a
                # few seconds, and a failed discovery leaves no app to reuse.
                self._discard_app()
                if attempt >= self.retries:
                    raise self._endpoint_error(fault, attempt + 1)
                wait = min(self.retry_delay * (2 ** attempt), MAX_TOKEN_WAIT)
                if fault.retry_after is not None:
                    wait = max(wait, min(fault.retry_after, MAX_TOKEN_WAIT))
                self._sleep(wait)
                attempt += 1
        if "access_token" not in result:
            raise self._auth_error(result)
        self._token = result["access_token"]
        return self._token

    def anchor(self):
        """The X-AnchorMailbox header value for the current token."""
        token = self._token or self.get_token()
        return anchor_for_claims(decode_jwt_payload(token), self.tenant)

    def close(self):
        if self._session is not None:
            self._session.close()

    def _discard_app(self):
        if self._session is not None:
            self._past_token_requests += self._session.token_requests
            self._session.close()
        self._app = self._session = None

    def _acquire_once(self, force_refresh):
        """One attempt: build the msal app if needed (OpenID discovery) and ask for a token; raise _TokenFault."""
        if self._app is None:
            self._app = self._build_app()
        with self._cache_lock():
            self._load_cache()
            if force_refresh:
                self._drop_access_tokens()
            result = self._acquire()
            self._save_cache()
        if not isinstance(result, dict):
            raise self._fault("%s instead of a token answer" % type(result).__name__)
        if "access_token" not in result:
            last = (self._session.last if self._session is not None else None) or {}
            if result.get("error") in TRANSIENT_OAUTH_ERRORS or last.get("status") == 429:
                raise self._fault("the OAuth error '%s'" % result.get("error", "throttled"))
            if not result.get("error"):
                raise self._fault("an answer with neither an access token nor an error")
        return result

    # ------------------------------------------------------------------ msal
    def _verify(self):
        if not self.settings.get("validate_certs", True):
            return False
        return self.settings.get("ca_path") or True

    def _build_app(self):
        require_libraries("msal", "requests", "cryptography")
        if self.kind == "certificate":
            credential = load_certificate(self.settings["certificate_path"], self.settings.get("certificate_password"))
        else:
            credential = self.settings["client_secret"]
        self._session = _session_class()()
        self._session.timeout = min(self.settings.get("timeout") or TOKEN_TIMEOUT, TOKEN_TIMEOUT)
        # trust_env=False: REQUESTS_CA_BUNDLE / proxies from the environment must not override verify=.
        self._session.trust_env = False
        self._session.verify = self._verify()
        # trust_env=False also drops proxy variables: apply them explicitly (honouring no_proxy for this host).
        self._session.proxies = requests.utils.get_environ_proxies(self.authority)
        self._cache = self._new_cache()
        kwargs = {}
        if self.settings.get("authority"):
            kwargs.update(validate_authority=False, instance_discovery=False)
        # What escapes msal (1.2x-1.3x) while it builds the app, that is while it fetches the OpenID configuration
        # (msal/authority.py tenant_discovery): requests exceptions for the network; MsalServiceError from msal's own
        # response wrapper for a 5xx (older msal: requests' HTTPError); RuntimeError for another odd status; a
        # ValueError for a 4xx (unknown tenant, wrong authority) and for a 200 that is not JSON (re-raised by
        # Authority with the JSONDecodeError as its context); KeyError/AttributeError/TypeError for a JSON document
        # without the endpoints. The session's record of the last answer says which endpoint failed and how.
        try:
            return msal.ConfidentialClientApplication(
                self.settings["client_id"], client_credential=credential, authority="%s/%s" % (self.authority, self.tenant),
                token_cache=self._cache, http_client=self._session, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise self._request_failure(exc)
        except (MsalServiceError, RuntimeError):
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
        try:
            return self._app.acquire_token_for_client(scopes=[self.scope])
        except requests.exceptions.RequestException as exc:
            raise self._request_failure(exc)
        except MsalServiceError:
            raise self._fault("an unexpected status")
        except ValueError as exc:
            raise self._fault("a body that is not JSON" if _json_failure(exc) else "a token answer msal cannot use (%s)"
                              % _first_line(exc))
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
        url = last.get("url") or "%s/%s" % (self.authority, self.tenant)
        if "openid-configuration" in url or last.get("method") == "GET":
            return "the OpenID discovery document %s" % url
        return "the token endpoint %s" % url

    def _fault(self, what):
        """A _TokenFault describing the last answer of the token or discovery endpoint."""
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
        retry_after = None
        try:
            retry_after = float(last.get("retry_after")) if last.get("retry_after") else None
        except ValueError:
            pass
        return _TokenFault(text, status=status, retry_after=retry_after)

    def _request_failure(self, exc):
        """A requests exception out of msal: TLS trust is a configuration error, anything else a _TokenFault."""
        if isinstance(exc, requests.exceptions.SSLError):
            host = urlsplit(self._last().get("url") or self.authority).netloc
            return ConfigurationError("TLS verification of the token endpoint %s failed (%s). Set ca_path (EXO_CA_PATH) to "
                                      "the CA bundle that signs it, or validate_certs=false for a test endpoint."
                                      % (host, type(exc).__name__))
        response = getattr(exc, "response", None)
        if isinstance(exc, requests.exceptions.HTTPError) and response is not None:
            return self._fault("an unexpected status")
        if isinstance(exc, requests.exceptions.Timeout):
            cause = "no answer within %s seconds" % (self._session.timeout if self._session is not None else TOKEN_TIMEOUT)
        else:
            cause = type(exc).__name__
        fault = self._fault("")
        fault.text = "%s could not be reached: %s" % (self._endpoint_name(), cause)
        fault.status = None
        return fault

    def _endpoint_error(self, fault, attempts):
        """The final error after ``attempts`` failed attempts: not retried again by the client."""
        host = urlsplit(self.authority).netloc
        error = TransientError(
            "Cannot get an access token for tenant %s: %s (gave up after %d attempt%s). Check authority_url "
            "(EXO_AUTHORITY_URL, now %s) and cloud, check tenant, and check the network between this host and %s (DNS, "
            "proxy, firewall); if all are right the endpoint is failing: re-run the task later."
            % (self.tenant, fault.text, attempts, "" if attempts == 1 else "s", self.authority, host),
            status=fault.status, exception_type="TokenEndpointError")
        error.retryable = False  # retried here already; the request to Exchange Online was never sent
        return error

    def _auth_error(self, result):
        description = (result.get("error_description") or "").splitlines()
        first = description[0] if description else ""
        code = first.split(":", 1)[0] if first.startswith("AADSTS") else ""
        if not code and result.get("error_codes"):
            code = "AADSTS%s" % result["error_codes"][0]
        hint = None
        for prefix, text in _AADSTS_HINTS:
            if code == prefix:
                hint = text
                break
        if hint is None:
            hint = self._credential_hint(result.get("error"))
        return AuthenticationError("Entra ID refused a token for client_id %s in tenant %s (%s%s): %s. %s" % (
            self.settings.get("client_id"), self.tenant, result.get("error", "error"), (", " + code) if code else "", hint,
            first or "no description"), exception_type=code or result.get("error"))

    def _credential_hint(self, error):
        """What to fix for an OAuth error without a known AADSTS code: name the option."""
        if error == "invalid_client":
            if self.kind == "certificate":
                return ("the app registration refused the certificate: check certificate_path (EXO_CERTIFICATE_PATH) is the "
                        "certificate uploaded under 'Certificates & secrets' of the app client_id (and "
                        "certificate_password for an encrypted key or PFX)")
            return ("the app registration refused the secret: check client_secret (EXO_CLIENT_SECRET) is the secret's "
                    "Value (not its ID) of the app client_id and has not expired")
        if error == "unauthorized_client":
            return ("the application is not known or not allowed in the tenant: check client_id (EXO_CLIENT_ID) is the "
                    "application (client) ID of an app registration in, or consented to by, tenant")
        return "check tenant, client_id and the credential (certificate_path or client_secret)"

    def _cached_token(self):
        """A still valid token from the cache file, found without msal.

        The file is msal's token cache (its documented cross-language schema: an ``AccessToken`` map of entries with
        ``client_id``, ``target``, ``secret`` and ``expires_on``). Reading it directly spares a later task of the play
        the import of msal and the OpenID discovery request of building the app. A token with less than
        REFRESH_MARGIN seconds left is not used, so msal renews it before it expires.
        """
        if not self.cache_path:
            return None
        try:
            with open(self.cache_path, "r") as handle:
                entries = (json.load(handle).get("AccessToken") or {}).values()
        except (IOError, OSError, ValueError, AttributeError):
            return None
        client_id = self.settings["client_id"].lower()
        now = time.time()
        for entry in entries:
            try:
                if (str(entry.get("client_id", "")).lower() == client_id
                        and self.scope.lower() in str(entry.get("target", "")).lower().split()
                        and int(entry.get("expires_on", 0)) - now > REFRESH_MARGIN and entry.get("secret")):
                    return entry["secret"]
            except (TypeError, ValueError, AttributeError):
                continue
        return None

    def _drop_access_tokens(self):
        query = {"client_id": self.settings["client_id"]}
        found = list(self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN, query=query))
        for entry in found:
            self._cache.remove_at(entry)

    # ------------------------------------------------------------------ persistent cache
    def _cache_file(self):
        """The cache file for this cloud, authority, tenant, client and credential kind; None when not persisted."""
        if self.settings.get("token_cache", True) is False or not HAS_FCNTL:
            return None
        directory = self.settings.get("token_cache_dir") or default_cache_dir()
        key = "|".join([self.cloud, self.authority, str(self.tenant).lower(), self.settings["client_id"].lower(), self.kind])
        return os.path.join(directory, "token-%s.json" % hashlib.sha256(key.encode("utf-8")).hexdigest())

    def _new_cache(self):
        return msal.SerializableTokenCache() if self.cache_path else msal.TokenCache()

    def _ensure_dir(self):
        directory = os.path.dirname(self.cache_path)
        try:
            try:
                os.makedirs(directory, 0o700)
            except OSError:
                if not os.path.isdir(directory):  # another fork may have created it meanwhile
                    raise
            if os.stat(directory).st_mode & 0o077:
                os.chmod(directory, 0o700)
        except OSError as exc:
            raise ConfigurationError("Cannot create the token cache directory %s (%s): make it writable, set "
                                     "token_cache_dir, or set token_cache=false." % (directory, exc.strerror))

    @contextlib.contextmanager
    def _cache_lock(self):
        if not self.cache_path:
            yield
            return
        self._ensure_dir()
        fd = os.open(self.cache_path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _load_cache(self):
        if not self.cache_path:
            return
        try:
            with open(self.cache_path, "r") as handle:
                data = handle.read()
            self._cache.deserialize(data)
        except (IOError, OSError, ValueError):
            return  # no cache yet, or unreadable: start empty, it will be rewritten

    def _save_cache(self):
        if not self.cache_path or not self._cache.has_state_changed:
            return
        directory = os.path.dirname(self.cache_path)
        fd, tmp = tempfile.mkstemp(prefix=".token-", dir=directory)  # mkstemp creates the file 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(self._cache.serialize())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.cache_path)
        except (IOError, OSError) as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise ConfigurationError("Cannot write the token cache in %s (%s): make it writable, set token_cache_dir, "
                                     "or set token_cache=false." % (directory, exc.strerror))
        self._cache.has_state_changed = False
