# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by every module, and the client they lead to.

One argument spec (documented once in the ``m365.mailflow.connection`` doc
fragment), each option with an ``EXO_*`` environment fallback so that an AWX
credential can inject it. ``connect(params)`` checks the combination and
returns a ``Client`` on the sandbox tenant or on the REST endpoint.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import os
import re
import ssl

from ansible.module_utils.basic import env_fallback

from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.memo import TenantMemo

CLOUD_CHOICES = ["commercial", "gcc_high", "dod", "china"]
FEDERATED_TOKEN_CHOICES = ["github_actions"]
# The credentials, each alone: an access token; a managed identity; an app registration (client_id) with a
# certificate, a secret or a federated token (from a file, or fetched from GitHub Actions).
METHODS = ("access_token", "managed_identity", "client_secret", "certificate_path", "federated_token_file",
           "federated_token")
APP_METHODS = ("client_secret", "certificate_path", "federated_token_file", "federated_token")
# What AKS workload identity's webhook injects into a pod (azure-workload-identity docs, mutating admission webhook).
AKS_VARIABLES = ("AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID")

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_DOMAIN = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$", re.IGNORECASE)


def _env(*names):
    return dict(fallback=(env_fallback, list(names)))


def connection_argument_spec():
    """The argument spec every module merges under its own options."""
    return dict(
        tenant=dict(type="str", **_env("EXO_TENANT")),
        client_id=dict(type="str", **_env("EXO_CLIENT_ID")),
        certificate_path=dict(type="path", **_env("EXO_CERTIFICATE_PATH")),
        certificate_password=dict(type="str", no_log=True, **_env("EXO_CERTIFICATE_PASSWORD")),
        client_secret=dict(type="str", no_log=True, **_env("EXO_CLIENT_SECRET")),
        access_token=dict(type="str", no_log=True, **_env("EXO_ACCESS_TOKEN")),
        managed_identity=dict(type="str", **_env("EXO_MANAGED_IDENTITY")),
        federated_token_file=dict(type="path", no_log=False, **_env("EXO_FEDERATED_TOKEN_FILE")),
        # No ``choices``: an AWX credential injects EXO_FEDERATED_TOKEN="" when the field is empty, which choices would
        # refuse; check_connection checks the value instead (an empty one is not given).
        federated_token=dict(type="str", no_log=False, **_env("EXO_FEDERATED_TOKEN")),
        cloud=dict(type="str", choices=CLOUD_CHOICES, default="commercial", **_env("EXO_CLOUD")),
        api_url=dict(type="str", **_env("EXO_API_URL")),
        authority_url=dict(type="str", **_env("EXO_AUTHORITY_URL")),
        validate_certs=dict(type="bool", default=True, **_env("EXO_VALIDATE_CERTS")),
        ca_path=dict(type="path", **_env("EXO_CA_PATH")),
        token_cache=dict(type="bool", default=True, no_log=False, **_env("EXO_TOKEN_CACHE")),
        sandbox=dict(type="path", **_env("EXO_SANDBOX")),
        retries=dict(type="int", default=5, **_env("EXO_RETRIES")),
        retry_delay=dict(type="float", default=2.0, **_env("EXO_RETRY_DELAY")),
        timeout=dict(type="int", default=960, **_env("EXO_TIMEOUT")),
    )


CONNECTION_OPTIONS = tuple(connection_argument_spec())
_CREDENTIALS = ("client_id", "certificate_path", "certificate_password", "client_secret", "access_token",
                "managed_identity", "federated_token_file", "federated_token")


def _given(params, key):
    value = params.get(key)
    return value not in (None, "")


def _check_numbers(params):
    """retries, retry_delay and timeout must be usable (a negative timeout used to reach the HTTP libraries)."""
    errors = []
    retries = params.get("retries")
    if retries is not None and retries < 0:
        errors.append("retries: %s is negative; give the number of retries after the first attempt, 0 or more (default "
                      "5)" % retries)
    delay = params.get("retry_delay")
    if delay is not None and not (math.isfinite(delay) and delay >= 0):
        errors.append("retry_delay: %s is not a usable pause; give a number of seconds, 0 or more (default 2)" % delay)
    timeout = params.get("timeout")
    if timeout is not None and timeout < 1:
        errors.append("timeout: %s is not a usable HTTP timeout; give a number of seconds, 1 or more (default 960)"
                      % timeout)
    if errors:
        raise ConfigurationError("; ".join(errors))


def aks_workload_identity(params, environ=None):
    """The settings AKS workload identity gives when no credential is set, with a note saying so; else (None, None).

    The webhook injects AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID. They are used only when no
    credential option (nor its EXO_* variable) is set and no sandbox either; tenant and client_id keep their own value
    when they are set.
    """
    env = os.environ if environ is None else environ
    if _given(params, "sandbox") or any(_given(params, k) for k in METHODS):
        return None, None
    if not all(env.get(name) for name in AKS_VARIABLES):
        return None, None
    filled = dict(federated_token_file=env["AZURE_FEDERATED_TOKEN_FILE"])
    used = ["AZURE_FEDERATED_TOKEN_FILE"]
    for key, name in (("client_id", "AZURE_CLIENT_ID"), ("tenant", "AZURE_TENANT_ID")):
        if not _given(params, key):
            filled[key] = env[name]
            used.append(name)
    note = ("No credential is set, so the AKS workload identity of this pod is used: the federated token file %s and %s "
            "from %s. Set federated_token_file (EXO_FEDERATED_TOKEN_FILE) to say so and silence this warning."
            % (filled["federated_token_file"],
               " and ".join("%s %s" % (k, filled[k]) for k in ("client_id", "tenant") if k in filled) or "no other setting",
               ", ".join(used)))
    return filled, note


def effective_params(params, environ=None):
    """``params`` with what AKS workload identity gives filled in (see aks_workload_identity)."""
    filled, _note = aks_workload_identity(params, environ)
    if not filled:
        return params
    params = dict(params)
    params.update(filled)
    params["federated_token_option"] = "AZURE_FEDERATED_TOKEN_FILE (AKS workload identity)"
    return params


def check_connection(params):
    """Reject a missing or contradictory combination with a message naming what to set."""
    params = effective_params(params)
    _check_numbers(params)
    if _given(params, "sandbox"):
        clash = [k for k in ("tenant",) + _CREDENTIALS + ("api_url", "authority_url") if _given(params, k)]
        if clash:
            raise ConfigurationError(
                "sandbox is set (a sandbox tenant needs no tenant and no credentials), but so is %s. Use either the "
                "sandbox (sandbox / EXO_SANDBOX) or a real tenant, not both: unset %s, or unset sandbox (check the "
                "EXO_* environment variables too)."
                % (", ".join(clash), " and ".join("%s / EXO_%s" % (k, k.upper()) for k in clash)))
        _check_sandbox_path(params["sandbox"])
        return "sandbox"
    if not _given(params, "tenant"):
        raise ConfigurationError(
            "No tenant to connect to: set tenant (or EXO_TENANT) to the tenant ID (a GUID) or its "
            "contoso.onmicrosoft.com domain, or set sandbox (EXO_SANDBOX) to a state file path to use the "
            "embedded sandbox tenant.")
    tenant = params["tenant"].strip()
    if not (_GUID.match(tenant) or _DOMAIN.match(tenant)):
        raise ConfigurationError(
            "tenant: '%s' is neither a tenant ID (GUID) nor a domain such as contoso.onmicrosoft.com" % tenant)
    methods = [k for k in METHODS if _given(params, k)]
    if not methods:
        raise ConfigurationError(
            "No credentials for tenant %s: set client_id (EXO_CLIENT_ID) with certificate_path "
            "(EXO_CERTIFICATE_PATH, a PEM or PFX file), with client_secret (EXO_CLIENT_SECRET) or with a federated "
            "token (federated_token_file / EXO_FEDERATED_TOKEN_FILE, or federated_token: github_actions); or set "
            "managed_identity (EXO_MANAGED_IDENTITY: system, or a user-assigned identity's client ID) on an Azure host; "
            "or access_token (EXO_ACCESS_TOKEN)." % tenant)
    if len(methods) > 1:
        raise ConfigurationError(
            "Contradictory credentials: %s are all set; set exactly one of access_token, managed_identity, "
            "client_secret, certificate_path, federated_token_file or federated_token (check the EXO_* environment "
            "variables too)." % " and ".join(methods))
    method = methods[0]
    if method in APP_METHODS and not _given(params, "client_id"):
        raise ConfigurationError(
            "%s is set but client_id is not: set client_id (EXO_CLIENT_ID) to the application (client) ID of the "
            "app registration." % method)
    if method == "managed_identity":
        _check_managed_identity(params)
    if method == "federated_token" and str(params["federated_token"]).strip() not in FEDERATED_TOKEN_CHOICES:
        raise ConfigurationError(
            "federated_token: '%s' is not a source of federated tokens the modules can fetch; the one known is %s (in a "
            "GitHub Actions job). For a token another tool writes to a file, set federated_token_file "
            "(EXO_FEDERATED_TOKEN_FILE) instead." % (params["federated_token"], " and ".join(FEDERATED_TOKEN_CHOICES)))
    if _given(params, "client_id") and not _GUID.match(str(params["client_id"]).strip()):
        raise ConfigurationError(
            "client_id: '%s' is not an application (client) ID. Set client_id (EXO_CLIENT_ID) to the Application "
            "(client) ID of the app registration, a GUID such as 00000000-0000-0000-0000-000000000000 (Entra admin "
            "center > App registrations > the app > Overview), not the app's name or a secret." % params["client_id"])
    if _given(params, "certificate_password") and method != "certificate_path":
        raise ConfigurationError(
            "certificate_password is set without certificate_path: set certificate_path (EXO_CERTIFICATE_PATH) or "
            "unset certificate_password (EXO_CERTIFICATE_PASSWORD).")
    for key in ("api_url", "authority_url"):
        if _given(params, key) and not re.match(r"^https://[^/\s]+", params[key]):
            raise ConfigurationError("%s: '%s' must be an https:// URL such as https://127.0.0.1:8443" % (key, params[key]))
    if _given(params, "ca_path"):
        _check_ca_path(params["ca_path"])
    return method


def _check_managed_identity(params):
    """managed_identity is ``system`` or a client ID; an app registration's client_id does not go with it."""
    value = str(params["managed_identity"]).strip()
    if value.lower() != "system" and not _GUID.match(value):
        raise ConfigurationError(
            "managed_identity: '%s' is neither system (the host's system-assigned identity) nor the client ID of a "
            "user-assigned identity (a GUID from the identity's Overview page; its object (principal) ID and its "
            "resource ID are not taken). Set managed_identity (EXO_MANAGED_IDENTITY) to one of them." % value)
    if _given(params, "client_id"):
        raise ConfigurationError(
            "managed_identity and client_id are both set: client_id names an app registration, which a managed "
            "identity does not use. Unset client_id (EXO_CLIENT_ID); for a user-assigned identity, give its client ID "
            "as managed_identity.")


def _check_sandbox_path(value):
    """A relative sandbox path is refused: the module cannot tell what it is relative to.

    With ``connection: local`` Ansible starts a module in the directory of the playbook (ActionBase sets the local
    connection's cwd to the loader's basedir), not in the directory ansible-playbook was started from, which is what
    a path in EXO_SANDBOX or on the command line means to a user and what the onboarding playbooks print as their
    Target. Those playbooks make the path absolute before they pass it on.
    """
    path = os.path.expanduser(str(value))
    if not os.path.isabs(path):
        raise ConfigurationError(
            "sandbox: '%s' is a relative path, and a module cannot tell what it is relative to: Ansible runs it in "
            "its own working directory (here %s, the playbook's directory with connection: local), not in the "
            "directory ansible-playbook was started from. Set sandbox (EXO_SANDBOX) to an absolute path, e.g. "
            "EXO_SANDBOX=\"$PWD/%s\" in a shell or sandbox: \"{{ playbook_dir }}/%s\" in a playbook."
            % (value, os.getcwd(), path, path))


def _check_ca_path(value):
    """ca_path must be a readable file of PEM CA certificates (open_url and requests take it as a CA file)."""
    path = str(value)
    fix = ("Set ca_path (EXO_CA_PATH) to a PEM file with the CA certificate(s) that sign the endpoint's certificate, "
           "or unset it to use the system's trusted CAs.")
    if not os.path.exists(path):
        raise ConfigurationError("ca_path: '%s' does not exist. %s" % (path, fix))
    if not os.path.isfile(path):
        raise ConfigurationError("ca_path: '%s' is not a file (a directory of CA certificates is not supported). %s"
                                 % (path, fix))
    try:
        ssl.create_default_context(cafile=path)
    except (IOError, OSError) as exc:  # ssl.SSLError is an OSError
        if isinstance(exc, ssl.SSLError):
            why = "it holds no PEM CA certificate"
        else:
            why = "it cannot be read (%s)" % (exc.strerror or exc)
        raise ConfigurationError("ca_path: cannot use '%s': %s. %s" % (path, why, fix))


def connection_warnings(params):
    """Warnings a module gives once per task about its connection settings (see MailflowModule.client)."""
    warnings = []
    _filled, note = aks_workload_identity(params)
    if note:
        warnings.append(note)
    if _given(params, "sandbox") or params.get("validate_certs", True) is not False:
        return warnings
    from ansible_collections.m365.mailflow.plugins.module_utils.transport.auth import CLOUDS
    cloud = CLOUDS.get(params.get("cloud") or "commercial", CLOUDS["commercial"])
    endpoints = ["the Exchange Online endpoint %s" % _host(params.get("api_url") or cloud["resource"])]
    if not (_given(params, "access_token") or _given(params, "managed_identity")):
        endpoints.append("the token endpoint %s" % _host(params.get("authority_url") or cloud["authority"]))
    warnings.append(
        "validate_certs is false (EXO_VALIDATE_CERTS): the TLS certificates of %s are not verified, so whoever can "
        "intercept the connection can read the credential and the access token and change what the tenant answers. "
        "Use it only against a test endpoint (api_url / authority_url). To trust a private CA (a test CA or a "
        "TLS-inspecting proxy), set ca_path (EXO_CA_PATH) to its PEM bundle and leave validate_certs on."
        % " and ".join(endpoints))
    return warnings


def _host(url):
    return str(url).split("://", 1)[-1].split("/", 1)[0]


def settings_from_params(params):
    """The settings dict the REST transport and the token provider take (AKS workload identity filled in)."""
    params = effective_params(params)
    settings = dict((k, params.get(k)) for k in CONNECTION_OPTIONS)
    for key in ("api_url", "authority_url"):
        if settings.get(key):
            settings[key] = settings[key].rstrip("/")
    settings["authority"] = settings.pop("authority_url")
    for key in _CREDENTIALS + ("tenant",):
        if settings.get(key) == "":
            settings[key] = None
    for key in ("client_id", "managed_identity", "federated_token"):
        if settings.get(key):
            settings[key] = str(settings[key]).strip()
    if params.get("federated_token_option"):
        settings["federated_token_option"] = params["federated_token_option"]
    return settings


def memo_key(params):
    """The name under which the tasks of a run remember facts about this tenant (see memo.py)."""
    if _given(params, "sandbox"):
        return "sandbox|%s" % os.path.abspath(os.path.expanduser(str(params["sandbox"])))
    settings = settings_from_params(params)
    return "rest|%s|%s|%s" % (settings.get("cloud") or "commercial", settings.get("api_url") or "",
                              str(settings.get("tenant") or "").strip().lower())


def connect(params, log=None):
    """A Client on the sandbox tenant or the real endpoint, after checking the combination."""
    params = effective_params(params)
    kind = check_connection(params)
    memo = TenantMemo(memo_key(params), persist=params.get("token_cache", True) is not False)
    if kind == "sandbox":
        from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTransport
        transport = SandboxTransport(params["sandbox"])
    else:
        from ansible_collections.m365.mailflow.plugins.module_utils.transport.rest import RestTransport
        transport = RestTransport(settings_from_params(params), memo=memo)
    return Client(transport, retries=params.get("retries", 5), retry_delay=params.get("retry_delay", 2.0), log=log,
                  memo=memo)
