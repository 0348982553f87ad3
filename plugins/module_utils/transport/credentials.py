# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who the token is for and what proves it: the credentials of the connection options.

``from_settings(settings)`` returns one credential:

* ``AccessToken``: a token obtained elsewhere, used as given;
* ``Certificate`` (a PEM or PFX file, loaded and checked here: ``load_certificate``) and ``Secret``: an app
  registration's own credential;
* ``FederatedToken``: workload identity federation, a token of another identity provider presented as the app's client
  assertion, read afresh for every token request from a file (``TokenFile``: AKS workload identity, or any provider
  that writes one) or fetched from GitHub Actions' OIDC endpoint (``GitHubActionsToken``);
* ``ManagedIdentity``: the Azure managed identity of the host (``system``) or a user-assigned one (its client ID),
  through the endpoint of the environment the host runs in (``identity_source``, as msal detects it).

Each says who it is (``describe``), the cache key that keeps its tokens apart from other identities' (``cache_key``)
and how Exchange Online refusals are to be explained for it (``principal``, see ``wire.raise_for_response``). Getting
the token is ``auth.TokenProvider``'s work.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import json
import os
import sys
from urllib.parse import quote, urlsplit

from ansible_collections.m365.mailflow.plugins.module_utils.errors import AuthenticationError, ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.wire import APP_PRINCIPAL
from ansible_collections.m365.mailflow.plugins.module_utils.transport import libraries

FEDERATION_AUDIENCE = "api://AzureADTokenExchange"  # Entra ID's audience for federated tokens (GitHub, AKS default)
SYSTEM = "system"
# The client_id msal's ManagedIdentityClient files a system-assigned identity's tokens under: it means to use
# SYSTEM_ASSIGNED_MANAGED_IDENTITY, but reads the identity's "Id", which is there and None (msal 1.29 to 1.39).
MSAL_SYSTEM_IDS = (None, "SYSTEM_ASSIGNED_MANAGED_IDENTITY")

# The environments msal's ManagedIdentityClient (and, for Cloud Shell, PublicClientApplication) gets a token in, in
# the order msal tries them (msal/managed_identity.py get_managed_identity_source and _obtain_token, read at msal 1.29
# to 1.39). ``user_assigned``: "parameter" (the client ID is sent), "cluster" (Service Fabric gives the application
# the identity configured in the cluster and ignores the parameter), "none" (Cloud Shell yields the signed-in user's
# token).
IMDS_HOST = "http://169.254.169.254"
IMDS_PATH = "/metadata/identity/oauth2/token"
ARC_AGENT = "/opt/azcmagent/bin/himds"
ARC_ENDPOINT = "http://localhost:40342/metadata/identity/oauth2/token"
ARC_KEY_DIRECTORY = "/var/opt/azcmagent/tokens"
CLOUD_SHELL_ENDPOINT = "http://localhost:50342/oauth2/token"

_SOURCES = {
    "service_fabric": (
        "Service Fabric", "cluster",
        "that the application has a managed identity in the cluster's configuration (Service Fabric gives the "
        "application that identity whatever managed_identity says) and that IDENTITY_SERVER_THUMBPRINT is the "
        "thumbprint of the endpoint's certificate"),
    "app_service": (
        "App Service, Azure Functions or Azure Automation", "parameter",
        "that the identity is on for this app, function app or Automation account (Identity: the system-assigned one "
        "on, or the user-assigned one added) and that the platform set IDENTITY_ENDPOINT and IDENTITY_HEADER"),
    "machine_learning": (
        "Azure Machine Learning", "parameter",
        "that the identity is assigned to the compute instance or cluster, and that Azure Machine Learning set "
        "MSI_ENDPOINT and MSI_SECRET"),
    "azure_arc": (
        "Azure Arc", "parameter",
        "that the Azure Connected Machine agent (himds) runs on this server and that the user running Ansible may read "
        "its key files in %s (root, or a member of the himds group)" % ARC_KEY_DIRECTORY),
    "cloud_shell": (
        "Azure Cloud Shell", "none",
        "that this runs in an Azure Cloud Shell session (the token is the signed-in user's)"),
    "vm": (
        "an Azure VM or virtual machine scale set (Instance Metadata Service)", "parameter",
        "that this host is an Azure VM or scale-set instance with the identity assigned (Identity: the system-assigned "
        "one on, or the user-assigned one added) and that it reaches the Instance Metadata Service at "
        "169.254.169.254 without a proxy (add 169.254.169.254 to no_proxy); off Azure there is no managed identity: "
        "use a certificate or workload identity federation (federated_token_file) instead"),
}


class IdentitySource(object):
    """Where a managed identity token comes from on this host (see _SOURCES)."""

    def __init__(self, name, endpoint, variables):
        self.name = name
        self.label, self.user_assigned, self.check = _SOURCES[name]
        self.endpoint = endpoint
        self.variables = variables  # the environment variables that chose it

    def __repr__(self):
        return "IdentitySource(%s, %s)" % (self.name, self.endpoint)


def identity_source(environ=None):
    """The managed identity environment of this host, decided as msal decides it (msal reads os.environ)."""
    env = os.environ if environ is None else environ
    if "IDENTITY_ENDPOINT" in env and "IDENTITY_HEADER" in env and "IDENTITY_SERVER_THUMBPRINT" in env:
        return IdentitySource("service_fabric", env["IDENTITY_ENDPOINT"],
                              ["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT"])
    if "IDENTITY_ENDPOINT" in env and "IDENTITY_HEADER" in env:
        return IdentitySource("app_service", env["IDENTITY_ENDPOINT"], ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"])
    if "MSI_ENDPOINT" in env and "MSI_SECRET" in env:
        return IdentitySource("machine_learning", env["MSI_ENDPOINT"], ["MSI_ENDPOINT", "MSI_SECRET"])
    if "IDENTITY_ENDPOINT" in env and "IMDS_ENDPOINT" in env:
        return IdentitySource("azure_arc", env["IDENTITY_ENDPOINT"], ["IDENTITY_ENDPOINT", "IMDS_ENDPOINT"])
    if sys.platform == "linux" and os.path.exists(ARC_AGENT):
        return IdentitySource("azure_arc", ARC_ENDPOINT, [])
    if env.get("AZUREPS_HOST_ENVIRONMENT", "").startswith("cloud-shell"):
        return IdentitySource("cloud_shell", CLOUD_SHELL_ENDPOINT, ["AZUREPS_HOST_ENVIRONMENT"])
    host = env.get("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    return IdentitySource("vm", (host or IMDS_HOST).strip("/") + IMDS_PATH,
                          ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] if host else [])


class EndpointFault(Exception):
    """A failure of an endpoint on the way to a token that another attempt may cure (auth.TokenProvider retries it).

    ``text`` says which endpoint and what it did; ``check`` what to check when the attempts run out (None: the
    token endpoint's own advice).
    """

    def __init__(self, text, status=None, retry_after=None, check=None):
        super(EndpointFault, self).__init__(text)
        self.text = text
        self.status = status
        self.retry_after = retry_after
        self.check = check


def decode_jwt_payload(token):
    """The claims of a JWT, without verifying it. Empty dict when it is not a JWT."""
    try:
        payload = str(token).split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")).decode("utf-8"))
    except (IndexError, ValueError, TypeError, UnicodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def retry_after_header(value):
    """Retry-After in seconds (the decimal form only), or None."""
    try:
        return max(0.0, float(value)) if value else None
    except (TypeError, ValueError):
        return None


def stamp(seconds):
    try:
        return datetime.datetime.fromtimestamp(float(seconds), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(seconds)


# --------------------------------------------------------------------------- the credentials

class Credential(object):
    kind = None
    option = None
    refreshable = True

    def __init__(self, settings):
        self.settings = settings
        self.client_id = (settings.get("client_id") or "").strip() or None

    def describe(self):
        return "the app registration %s" % self.client_id

    def cache_key(self, cloud, authority, tenant):
        return [cloud, authority, str(tenant).lower(), (self.client_id or "").lower(), self.kind]

    def principal(self):
        return dict(APP_PRINCIPAL)


class AccessToken(Credential):
    kind = "access_token"
    option = "access_token"
    refreshable = False

    def describe(self):
        return "the given access token"


class Certificate(Credential):
    kind = "certificate"
    option = "certificate_path"

    def msal_credential(self, session=None):
        return load_certificate(self.settings["certificate_path"], self.settings.get("certificate_password"))


class Secret(Credential):
    kind = "client_secret"
    option = "client_secret"

    def msal_credential(self, session=None):
        return self.settings["client_secret"]


class TokenFile(object):
    """A federated token kept in a file by someone else (the kubelet, a CI step): read afresh every time."""

    def __init__(self, path, option):
        self.path = path
        self.option = option  # how the user set it: "federated_token_file (EXO_FEDERATED_TOKEN_FILE)" or the AKS variable

    def describe(self):
        return "the federated token file %s" % self.path

    def read(self, session=None):
        try:
            with open(self.path, "r") as handle:
                token = handle.read().strip()
        except (IOError, OSError, UnicodeError) as exc:
            raise ConfigurationError(
                "%s: cannot read the federated token file '%s' (%s). In AKS the workload identity webhook mounts it "
                "when the pod's service account carries the azure.workload.identity/client-id annotation and the pod "
                "the label azure.workload.identity/use: \"true\"; elsewhere the step that writes the identity "
                "provider's token must run first (or use federated_token: github_actions in GitHub Actions)."
                % (self.option, self.path, getattr(exc, "strerror", None) or type(exc).__name__))
        if token.count(".") != 2:
            raise ConfigurationError(
                "%s: the federated token file '%s' %s, not a token (a JWT: three dot-separated parts). Point it at "
                "the file the identity provider writes its token to." % (
                    self.option, self.path, "is empty" if not token else "holds something else"))
        return token


class GitHubActionsToken(object):
    """The job's OIDC token from GitHub Actions, fetched for every token request (it lives a few minutes).

    GET ``ACTIONS_ID_TOKEN_REQUEST_URL`` plus ``&audience=api://AzureADTokenExchange`` with the bearer
    ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``; the answer is ``{"value": "<JWT>"}``. GitHub sets both variables only in a job
    with ``permissions: id-token: write``.
    """

    CHECK = ("that the job has 'permissions: id-token: write' (GitHub sets ACTIONS_ID_TOKEN_REQUEST_URL and "
             "ACTIONS_ID_TOKEN_REQUEST_TOKEN only then) and that the runner reaches its OIDC endpoint")

    def __init__(self, url, request_token, audience=FEDERATION_AUDIENCE):
        self.url = url
        self.request_token = request_token
        self.audience = audience
        parts = urlsplit(url or "")
        self.endpoint = "%s://%s%s" % (parts.scheme, parts.netloc, parts.path)  # without the query: shown in messages

    def describe(self):
        return "GitHub Actions' OIDC token (audience %s)" % self.audience

    def read(self, session):
        url = "%s%saudience=%s" % (self.url, "&" if "?" in self.url else "?", quote(self.audience, safe=""))
        name = "GitHub Actions' OIDC token endpoint %s" % self.endpoint
        requests = libraries.requests
        try:
            response = session.get(url, headers={"Authorization": "bearer %s" % self.request_token,
                                                 "Accept": "application/json; api-version=2.0"})
        except requests.exceptions.SSLError as exc:
            raise ConfigurationError("TLS verification of %s failed (%s). Set ca_path (EXO_CA_PATH) to the CA bundle "
                                     "that signs it." % (name, type(exc).__name__))
        except requests.exceptions.Timeout:
            raise EndpointFault("%s could not be reached: no answer in time" % name, check=self.CHECK)
        except requests.exceptions.RequestException as exc:
            raise EndpointFault("%s could not be reached: %s" % (name, type(exc).__name__), check=self.CHECK)
        status = response.status_code
        if status == 429 or status >= 500:
            raise EndpointFault("%s answered HTTP %d" % (name, status), status=status,
                                retry_after=retry_after_header(response.headers.get("Retry-After")), check=self.CHECK)
        if status != 200:
            raise AuthenticationError(
                "%s refused the job's OIDC token request (HTTP %d). Check %s; the request token expires with the job."
                % (name, status, self.CHECK), status=status, exception_type="GitHubOidcError")
        try:
            value = response.json().get("value")
        except (ValueError, AttributeError):
            value = None
        if not isinstance(value, str) or value.count(".") != 2:
            raise EndpointFault("%s answered HTTP 200 without a token (a JSON object with a JWT in 'value')" % name,
                                status=status, check=self.CHECK)
        return value


class FederatedToken(Credential):
    """Workload identity federation: the app registration ``client_id`` proven by another provider's token."""

    kind = "federated"

    def __init__(self, settings, source):
        super(FederatedToken, self).__init__(settings)
        self.source = source
        self.option = "federated_token" if isinstance(source, GitHubActionsToken) else "federated_token_file"

    def describe(self):
        return "the app registration %s with %s" % (self.client_id, self.source.describe())

    last_claims = None  # issuer, subject, audience and expiry of the last token presented (for messages)

    def msal_credential(self, session=None):
        # A callable: msal calls it for every token request, so a rotated file (or a new GitHub token) is used.
        def assertion():
            token = self.source.read(session)
            claims = decode_jwt_payload(token)
            self.last_claims = dict((k, claims[k]) for k in ("iss", "sub", "aud", "exp") if k in claims)
            return token
        return {"client_assertion": assertion}

    def principal(self):
        principal = dict(APP_PRINCIPAL)
        principal["on_401"] = ("Check that the app registration has the 'Exchange.ManageAsApp' application permission "
                               "with admin consent and that tenant and client_id are right.")
        return principal


class ManagedIdentity(Credential):
    """An Azure managed identity: ``system`` (the host's own) or the client ID of a user-assigned one."""

    kind = "managed_identity"
    option = "managed_identity"

    def __init__(self, settings, environ=None):
        super(ManagedIdentity, self).__init__(settings)
        value = str(settings.get("managed_identity")).strip()
        self.identity = SYSTEM if value.lower() == SYSTEM else value.lower()
        self.source = identity_source(environ)
        if self.user_assigned and self.source.user_assigned == "none":
            raise ConfigurationError(
                "managed_identity: %s has no user-assigned identities: it gives the token of the user signed in to the "
                "portal. Set managed_identity to system to use that (the tasks then run with that user's Exchange "
                "roles), or use a certificate or workload identity federation." % self.source.label)

    @property
    def user_assigned(self):
        return self.identity != SYSTEM

    @property
    def delegated(self):
        """Cloud Shell: a token of the signed-in user, through msal's PublicClientApplication."""
        return self.source.name == "cloud_shell"

    @property
    def cache_client_ids(self):
        """The client_id msal's ManagedIdentityClient files this identity's tokens under (see MSAL_SYSTEM_IDS)."""
        return (self.identity,) if self.user_assigned else MSAL_SYSTEM_IDS

    def describe(self):
        if self.delegated:
            return "the signed-in user of Azure Cloud Shell"
        if self.user_assigned:
            return "the user-assigned managed identity with client ID %s" % self.identity
        return "the system-assigned managed identity"

    def cache_key(self, cloud, authority, tenant):
        key = [self.kind, cloud, self.source.name, self.source.endpoint, self.identity]
        if self.delegated:  # a user's token: also per tenant and authority
            key += [authority, str(tenant).lower()]
        return key

    def msal_identity(self):
        msal = libraries.msal
        if self.user_assigned:
            return msal.UserAssignedManagedIdentity(client_id=self.identity)
        return msal.SystemAssignedManagedIdentity()

    def check(self):
        """What to check when the identity endpoint fails."""
        text = self.source.check
        if self.user_assigned:
            text += ("; that managed_identity (EXO_MANAGED_IDENTITY) is the identity's client ID (its Overview page), "
                     "not its object (principal) ID")
        return text

    def principal(self):
        if self.delegated:
            return {"who": "The signed-in user of Azure Cloud Shell", "assignee": "that user",
                    "on_401": "The token is the Cloud Shell user's own: check that this user belongs to tenant and "
                              "may manage Exchange Online."}
        name = self.describe()
        return {
            "who": name[0].upper() + name[1:],
            "assignee": "the managed identity's service principal",
            "on_401": "Check that %s has been granted the 'Exchange.ManageAsApp' app role of Office 365 Exchange Online "
                      "(a managed identity has no API permissions page: grant it with "
                      "New-MgServicePrincipalAppRoleAssignment, see docs/connecting-a-tenant.md) and that tenant is "
                      "the tenant the identity belongs to." % name,
        }


def from_settings(settings, environ=None):
    """The credential the connection settings (``connection.settings_from_params``) ask for."""
    settings = settings or {}
    if settings.get("access_token"):
        return AccessToken(settings)
    if settings.get("managed_identity"):
        return ManagedIdentity(settings, environ)
    if settings.get("certificate_path"):
        credential = Certificate(settings)
    elif settings.get("client_secret"):
        credential = Secret(settings)
    elif settings.get("federated_token_file"):
        option = settings.get("federated_token_option") or "federated_token_file (EXO_FEDERATED_TOKEN_FILE)"
        credential = FederatedToken(settings, TokenFile(settings["federated_token_file"], option))
    elif settings.get("federated_token"):
        credential = FederatedToken(settings, github_actions(settings.get("federated_token"), environ))
    else:
        raise ConfigurationError("No credentials: set access_token, managed_identity, or client_id with "
                                 "certificate_path, client_secret, federated_token_file or federated_token.")
    if not (credential.client_id and settings.get("tenant")):
        raise ConfigurationError("%s needs client_id and tenant to be set." % credential.option)
    return credential


def github_actions(value, environ=None):
    """The GitHubActionsToken of ``federated_token: github_actions`` from the job's environment."""
    env = os.environ if environ is None else environ
    if value != "github_actions":
        raise ConfigurationError("federated_token: '%s' is not a source of federated tokens; the one known is "
                                 "github_actions." % value)
    url, token = env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not token:
        if not (url or token):
            missing = "neither is"
        else:
            missing = "%s is" % ("ACTIONS_ID_TOKEN_REQUEST_URL" if not url else "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        raise ConfigurationError(
            "federated_token: github_actions needs the job's ACTIONS_ID_TOKEN_REQUEST_URL and "
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN, and %s not set: GitHub sets them only in a GitHub Actions job with "
            "'permissions: id-token: write' (in the workflow or the job)." % missing)
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigurationError("federated_token: ACTIONS_ID_TOKEN_REQUEST_URL is not an https:// URL (%s://%s); the "
                                 "request token is not sent there." % (parts.scheme, parts.netloc))
    return GitHubActionsToken(url, token)


# --------------------------------------------------------------------------- certificates

def _cert_error(path, why, fix):
    return ConfigurationError("certificate_path: cannot use '%s': %s. %s" % (path, why, fix))


def _load_pem(path, data, password):
    try:
        certs = libraries.x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise _cert_error(path, "the PEM file holds no certificate",
                          "Put the certificate and its private key in one PEM file, or use a PFX file")
    if b"PRIVATE KEY-----" not in data:
        raise _cert_error(path, "the PEM file holds the certificate but not its private key, which signs the token "
                                "request", "Append the private key (-----BEGIN PRIVATE KEY-----) to the certificate "
                                           "file, or use the PFX file exported with the key")
    try:
        key = libraries.serialization.load_pem_private_key(data, password=password)
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


def _der_certificate(data):
    """Whether ``data`` is one certificate in DER form (a .cer/.crt file as the portal takes it), without a key."""
    try:
        libraries.x509.load_der_x509_certificate(data)
    except ValueError:
        return False
    return True


def _load_pfx(path, data, password):
    try:
        key, cert, extra = libraries.pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        if _der_certificate(data):
            raise _cert_error(path, "it is a certificate alone (DER, as a .cer file is, the public part uploaded to the "
                                    "app registration): the private key is missing",
                              "Set certificate_path to the PEM file with the certificate and its private key, or to "
                              "the PFX file exported with the key")
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
        cert.subject.rfc4514_string() or "without subject", cert.fingerprint(libraries.hashes.SHA1()).hex().upper(),  # nosec
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
    libraries.require("cryptography")
    ser = libraries.serialization
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

    def public_der(item):
        return item.public_key().public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)

    key_der = public_der(key)
    cert = None
    for candidate in certs:
        if public_der(candidate) == key_der:
            cert = candidate
            break
    if cert is None:
        raise _cert_error(path, "no certificate in the file matches its private key",
                          "Use the certificate that belongs to the private key")
    _check_validity(path, cert)
    pem_key = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()).decode("ascii")
    return {
        "private_key": pem_key,
        "thumbprint": cert.fingerprint(libraries.hashes.SHA1()).hex().upper(),  # nosec - SHA-1 thumbprint is what Entra uses
        "public_certificate": cert.public_bytes(ser.Encoding.PEM).decode("ascii"),
    }
