# -*- coding: utf-8 -*-
"""Secretless authentication (issue 26): managed identity in every environment msal knows, workload identity
federation from a token file and from GitHub Actions, against loopback stand-ins (tests/support/identity.py) and the
emulator, which accepts the tokens they issue.

Every test runs under ``loopback_only``: a connection of this process to any address outside loopback fails the test
(169.254.169.254 above all), and the environment holds no identity variables but the ones a test sets, with
AZURE_POD_IDENTITY_AUTHORITY_HOST on a closed loopback port (so that falling through to the VM path is refused on
loopback).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import stat

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    AuthenticationError,
    ConfigurationError,
    DependencyError,
    PermissionDeniedError,
    TransientError,
)
from ansible_collections.m365.mailflow.plugins.module_utils.transport import auth, credentials, libraries, rest
from tests.emulator import Emulator
from tests.emulator.fake import FakeTenant
from tests.support.identity import FEDERATION_AUDIENCE, FederationIssuer, IdentityEndpoint, loopback_only
from tests.support.mailservers import free_port

USER = "9d3f1c2e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
OTHER_USER = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
IDENTITY_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT",
                      "MSI_ENDPOINT", "MSI_SECRET", "AZUREPS_HOST_ENVIRONMENT", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                      "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "AZURE_FEDERATED_TOKEN_FILE",
                      "AZURE_CLIENT_ID", "AZURE_TENANT_ID")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    base = tmp_path_factory.mktemp("identity-emulator")
    with Emulator(str(base / "state.db"), cert_dir=str(base / "pki"), backend=FakeTenant()) as emu:
        yield emu


@pytest.fixture(autouse=True)
def guarded(monkeypatch, emulator):
    emulator.reset()
    for name in IDENTITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:%d" % free_port(["127.0.0.1"]))
    with loopback_only() as refused:
        yield
    assert refused == [], "connections outside loopback were attempted: %s" % refused


def mi_settings(emulator, identity="system", **overrides):
    settings = {"tenant": emulator.tenant_id, "managed_identity": identity, "cloud": "commercial",
                "api_url": emulator.url, "authority": emulator.url, "ca_path": emulator.ca_path, "timeout": 30,
                "token_cache": False, "retries": 1, "retry_delay": 0.01}
    settings.update(overrides)
    return settings


def use(monkeypatch, endpoint):
    for name, value in endpoint.environ().items():
        monkeypatch.setenv(name, value)
    return endpoint


@pytest.fixture
def arc_keys(tmp_path, monkeypatch):
    """msal reads Arc key files from /var/opt/azcmagent/tokens only; in-process, point that table at a tmp dir."""
    import msal.managed_identity
    directory = tmp_path / "arc-tokens"
    directory.mkdir()
    monkeypatch.setitem(msal.managed_identity._supported_arc_platforms_and_their_prefixes, "linux", str(directory))
    return str(directory)


def _stand_in(kind, emulator, arc_keys=None, **kwargs):
    kwargs.setdefault("user_ids", [USER])
    if kind == "azure_arc":
        kwargs["key_dir"] = arc_keys
    return IdentityEndpoint(kind, emulator, **kwargs)


ENVIRONMENTS = [("app_service", "system"), ("app_service", USER), ("service_fabric", "system"),
                ("service_fabric", USER), ("machine_learning", "system"), ("machine_learning", USER),
                ("azure_arc", "system"), ("azure_arc", USER), ("imds", "system"), ("imds", USER)]


# --------------------------------------------------------------------------------------------- managed identity

@pytest.mark.parametrize("kind, identity", ENVIRONMENTS)
def test_managed_identity_in_every_environment(emulator, monkeypatch, tmp_path, arc_keys, kind, identity):
    cluster = USER if (kind == "service_fabric" and identity == USER) else None
    with _stand_in(kind, emulator, arc_keys, cluster_identity=cluster) as endpoint:
        use(monkeypatch, endpoint)
        settings = mi_settings(emulator, identity, token_cache=True, token_cache_dir=str(tmp_path / "cache"))
        transport = rest.RestTransport(settings)
        raw = transport.send("Get-InboundConnector", {})
        assert raw.status == 200, raw.body  # the emulator accepted the stand-in's token
        transport.close()
        assert endpoint.problems == []
        assert endpoint.tokens == 1
        claims = auth.decode_jwt_payload(transport.tokens.get_token())
        assert claims["appid"] == (USER if identity == USER else endpoint.system_id)
        assert claims["aud"] == "https://outlook.office365.com"
        asked = endpoint.seen[-1]["query"]
        name = "clientid" if kind == "machine_learning" else "client_id"
        if identity == USER and kind != "service_fabric":  # Service Fabric takes the cluster's identity, no parameter
            assert asked.get(name) == USER
        else:
            assert name not in asked
        # A later task (a new provider) takes the token from the 0600 cache: no second request to the endpoint.
        again = auth.TokenProvider(settings)
        assert again.get_token() == transport.tokens.get_token() and endpoint.tokens == 1 and again._app is None
        assert stat.S_IMODE(os.stat(again.cache_path).st_mode) == 0o600
    assert emulator.calls()["tokens"] == 0  # no Entra ID token endpoint involved


@pytest.mark.parametrize("cloud", ["commercial", "gcc_high", "dod", "china"])
def test_the_resource_is_the_exchange_online_host_of_the_cloud(emulator, monkeypatch, cloud):
    resource = auth.CLOUDS[cloud]["resource"]
    with IdentityEndpoint("imds", None, resource=resource, user_ids=[USER]) as endpoint:
        use(monkeypatch, endpoint)
        provider = auth.TokenProvider(mi_settings(emulator, USER, cloud=cloud))
        assert auth.decode_jwt_payload(provider.get_token())["aud"] == resource
        assert endpoint.problems == [] and endpoint.seen[-1]["query"]["resource"] == resource


def test_another_cloud_end_to_end(tmp_path, monkeypatch):
    """An emulator of GCC High accepts only tokens for its own host; the identity asks for exactly that one."""
    with Emulator(str(tmp_path / "t.db"), cert_dir=str(tmp_path / "pki"), backend=FakeTenant(),
                  resource="https://outlook.office365.us") as gcc:
        with IdentityEndpoint("app_service", gcc) as endpoint:
            use(monkeypatch, endpoint)
            transport = rest.RestTransport(mi_settings(gcc, cloud="gcc_high"))
            assert transport.send("Get-InboundConnector", {}).status == 200
            assert endpoint.problems == []


def test_each_identity_has_its_own_cache_file(emulator, monkeypatch, tmp_path):
    with IdentityEndpoint("app_service", emulator, user_ids=[USER, OTHER_USER]) as endpoint:
        use(monkeypatch, endpoint)
        base = mi_settings(emulator, token_cache=True, token_cache_dir=str(tmp_path / "cache"))
        paths = set()
        for identity in ("system", USER, OTHER_USER):
            provider = auth.TokenProvider(dict(base, managed_identity=identity))
            provider.get_token()
            paths.add(provider.cache_path)
        assert len(paths) == 3 and endpoint.tokens == 3
        for identity in ("system", USER, OTHER_USER):  # each finds its own
            auth.TokenProvider(dict(base, managed_identity=identity)).get_token()
        assert endpoint.tokens == 3
        monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint.url + "?other")  # another endpoint: another entry
        assert auth.TokenProvider(dict(base, managed_identity=USER)).cache_path not in paths


def test_a_token_for_another_identity_is_refused_and_not_cached(emulator, monkeypatch, tmp_path):
    with IdentityEndpoint("imds", emulator, user_ids=[USER]) as endpoint:
        use(monkeypatch, endpoint)
        endpoint.fail("other_identity")
        settings = mi_settings(emulator, USER, token_cache=True, token_cache_dir=str(tmp_path / "cache"))
        provider = auth.TokenProvider(settings)
        with pytest.raises(AuthenticationError) as info:
            provider.get_token()
        msg = info.value.msg
        assert "answered with a token for the identity with client ID" in msg and "managed_identity %s" % USER in msg
        assert endpoint.url.split("?")[0] in msg and "it is not used" in msg
        with open(provider.cache_path) as handle:
            assert not any(token in handle.read() for token in endpoint.issued)


def test_service_fabric_gives_the_cluster_identity_whatever_is_asked(emulator, monkeypatch):
    with IdentityEndpoint("service_fabric", emulator, user_ids=[USER], cluster_identity=OTHER_USER) as endpoint:
        use(monkeypatch, endpoint)
        with pytest.raises(AuthenticationError) as info:
            auth.TokenProvider(mi_settings(emulator, USER)).get_token()
        assert "configured in the cluster" in info.value.msg and OTHER_USER in info.value.msg
        assert endpoint.problems == []


def test_service_fabric_certificate_must_match_the_thumbprint(emulator, monkeypatch):
    with IdentityEndpoint("service_fabric", emulator) as endpoint:
        use(monkeypatch, endpoint)
        monkeypatch.setenv("IDENTITY_SERVER_THUMBPRINT", "00" * 20)
        with pytest.raises(ConfigurationError) as info:
            auth.TokenProvider(mi_settings(emulator)).get_token()
        assert "IDENTITY_SERVER_THUMBPRINT" in info.value.msg and endpoint.tokens == 0
        assert endpoint.secret not in info.value.msg


def test_azure_arc_key_file_that_cannot_be_read(emulator, monkeypatch, arc_keys):
    with IdentityEndpoint("azure_arc", emulator, key_dir=None) as endpoint:  # no key file written
        use(monkeypatch, endpoint)
        with pytest.raises(ConfigurationError) as info:
            auth.TokenProvider(mi_settings(emulator)).get_token()
        msg = info.value.msg
        assert endpoint.key_name + ".key" in msg and "himds" in msg and "Azure Arc" in msg


def test_cloud_shell_gives_the_signed_in_users_token(emulator, monkeypatch):
    with IdentityEndpoint("cloud_shell", emulator) as endpoint:
        use(monkeypatch, endpoint)
        transport = rest.RestTransport(mi_settings(emulator))
        assert transport.send("Get-InboundConnector", {}).status == 200
        assert endpoint.problems == [] and endpoint.tokens == 1
        assert transport.tokens.anchor().startswith("UPN:admin@")  # a delegated token: the user's mailbox anchors
        assert emulator.calls()["tokens"] == 0 and emulator.calls()["discovery"] == 1  # msal's authority discovery
        with pytest.raises(ConfigurationError, match="has no user-assigned identities"):
            auth.TokenProvider(mi_settings(emulator, USER))
        endpoint.fail("404", count=1)
        with pytest.raises(AuthenticationError) as info:
            auth.TokenProvider(mi_settings(emulator)).get_token()
        assert info.value.msg.startswith("Azure Cloud Shell's token endpoint http://localhost:50342/oauth2/token refused "
                                         "a token for the signed-in user of Azure Cloud Shell (HTTP 404, NotFound")
        assert "Cloud Shell session" in info.value.msg


# --------------------------------------------------------------------------------------------- failures

FAILURES = [
    # (fault, error class, words in the message, attempts the endpoint saw)
    ("refused", TransientError, ["could not be reached: the connection was refused", "gave up after 2 attempts"], 0),
    ("404", AuthenticationError, ["refused a token", "HTTP 404"], 1),
    ("500", TransientError, ["answered HTTP 500 (an HTML page)", "gave up after 2 attempts"], 2),
    ("malformed", TransientError, ["answered HTTP 200 with a body that is not JSON", "gave up after 2 attempts"], 2),
    ("no_token", TransientError, ["answered HTTP 200 with an answer without an access token"], 2),
    ("hold", TransientError, ["could not be reached: no answer within 1 seconds", "gave up after 2 attempts"], 2),
]


@pytest.mark.parametrize("fault, error, words, seen", FAILURES, ids=[f[0] for f in FAILURES])
def test_identity_endpoint_failures_are_explained(emulator, monkeypatch, fault, error, words, seen):
    with IdentityEndpoint("app_service", emulator, user_ids=[USER], hold=2.5) as endpoint:
        use(monkeypatch, endpoint)
        url = endpoint.url
        if fault == "refused":
            url = "http://127.0.0.1:%d/msi/token" % free_port(["127.0.0.1"])
            monkeypatch.setenv("IDENTITY_ENDPOINT", url)
        else:
            endpoint.fail(fault)
        sleeps = []
        provider = auth.TokenProvider(mi_settings(emulator, USER, timeout=1), sleep=sleeps.append)
        with pytest.raises(error) as info:
            provider.get_token()
        msg = info.value.msg
        assert "the managed identity endpoint %s (App Service, Azure Functions or Azure Automation)" % url in msg, msg
        assert "the user-assigned managed identity with client ID %s" % USER in msg
        assert "IDENTITY_ENDPOINT and IDENTITY_HEADER" in msg and "client ID (its Overview page)" in msg
        for word in words:
            assert word in msg, (word, msg)
        assert endpoint.secret not in msg and "Traceback" not in msg
        if error is TransientError:
            assert info.value.retryable is False and sleeps == [0.01]  # retried here once, never by the client again
        assert len(endpoint.seen) == seen
    assert emulator.calls()["requests"] == 0


def test_imds_404_is_retried_as_azure_documents(emulator, monkeypatch):
    with IdentityEndpoint("imds", emulator) as endpoint:
        use(monkeypatch, endpoint)
        endpoint.fail("404", count=1)
        sleeps = []
        assert auth.TokenProvider(mi_settings(emulator), sleep=sleeps.append).get_token()
        assert sleeps == [0.01] and endpoint.requests == 2 and endpoint.tokens == 1


def test_off_azure_the_vm_path_names_imds_and_what_to_do(emulator):
    """No identity variable at all: the VM path (here refused on loopback, by the guard's default)."""
    provider = auth.TokenProvider(mi_settings(emulator, retries=0))
    with pytest.raises(TransientError) as info:
        provider.get_token()
    msg = info.value.msg
    assert "Instance Metadata Service" in msg and "169.254.169.254" in msg and "no_proxy" in msg
    assert "federated_token_file" in msg


def test_managed_identity_needs_msal_1_29(emulator, monkeypatch):
    libraries.load()

    class OldMsal(object):
        __version__ = "1.28.1"

    monkeypatch.setattr(libraries, "msal", OldMsal())
    with pytest.raises(DependencyError) as info:
        auth.TokenProvider(mi_settings(emulator)).get_token()
    assert "msal 1.29.0 or later" in info.value.msg and "1.28.1" in info.value.msg and "managed_identity" in info.value.msg


def test_exchange_refusals_name_the_managed_identity(emulator, monkeypatch):
    """401/403 of Exchange Online say which identity to grant what (the app's wording does not fit)."""
    with IdentityEndpoint("app_service", emulator, user_ids=[USER]) as endpoint:
        use(monkeypatch, endpoint)
        transport = rest.RestTransport(mi_settings(emulator, USER))
        principal = transport.principal
    forbidden = wire.RawResponse(403, {}, b"\x00" * 8)
    with pytest.raises(PermissionDeniedError) as info:
        wire.parse_response(forbidden, "New-InboundConnector", principal)
    assert "The user-assigned managed identity with client ID %s is authenticated" % USER in info.value.msg
    assert "the managed identity's service principal" in info.value.msg and "Exchange Administrator" in info.value.msg
    with pytest.raises(AuthenticationError) as info:
        wire.parse_response(wire.RawResponse(401, {}, b""), "Get-InboundConnector", principal)
    assert "Exchange.ManageAsApp" in info.value.msg and "New-MgServicePrincipalAppRoleAssignment" in info.value.msg
    with pytest.raises(PermissionDeniedError) as info:  # an app registration: as before
        wire.parse_response(forbidden, "New-InboundConnector")
    assert "The app is authenticated" in info.value.msg and "the app's service principal" in info.value.msg


def test_identity_source_follows_msal(monkeypatch):
    import msal.managed_identity as mi
    cases = [
        ({"IDENTITY_ENDPOINT": "https://x", "IDENTITY_HEADER": "h", "IDENTITY_SERVER_THUMBPRINT": "t"},
         "service_fabric", mi.SERVICE_FABRIC),
        ({"IDENTITY_ENDPOINT": "http://x", "IDENTITY_HEADER": "h"}, "app_service", mi.APP_SERVICE),
        ({"MSI_ENDPOINT": "http://x", "MSI_SECRET": "s"}, "machine_learning", mi.MACHINE_LEARNING),
        ({"IDENTITY_ENDPOINT": "http://x", "IMDS_ENDPOINT": "http://y"}, "azure_arc", mi.AZURE_ARC),
        ({"AZUREPS_HOST_ENVIRONMENT": "cloud-shell/1.0"}, "cloud_shell", mi.CLOUD_SHELL),
        ({}, "vm", mi.DEFAULT_TO_VM),
    ]
    for env, name, msal_source in cases:
        for key in IDENTITY_VARIABLES:
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        assert credentials.identity_source().name == name
        assert mi.get_managed_identity_source() is msal_source, name
    assert credentials.identity_source().endpoint == "http://169.254.169.254/metadata/identity/oauth2/token"


# --------------------------------------------------------------------------------------------- federation

@pytest.fixture
def issuer():
    return FederationIssuer(issuer="https://oidc.prod-aks.azure.com/tenant/issuer",
                            subject="system:serviceaccount:awx:awx-ee")


def fed_settings(emulator, client_id, **overrides):
    settings = {"tenant": emulator.tenant_id, "client_id": client_id, "cloud": "commercial", "api_url": emulator.url,
                "authority": emulator.url, "ca_path": emulator.ca_path, "timeout": 30, "token_cache": False,
                "retries": 1, "retry_delay": 0.01}
    settings.update(overrides)
    return settings


def write(path, text):
    with open(path, "w") as handle:
        handle.write(text)
    return str(path)


def test_federated_token_file_is_read_for_every_token_request(emulator, issuer, tmp_path):
    client_id = emulator.add_federated_credential(issuer.issuer, issuer.subject, issuer.public_key)
    first, second = issuer.mint(), issuer.mint()
    path = write(tmp_path / "token", first + "\n")
    settings = fed_settings(emulator, client_id, federated_token_file=path)
    transport = rest.RestTransport(settings)
    assert transport.send("Get-InboundConnector", {}).status == 200
    write(tmp_path / "token", second)  # the kubelet rotates the projected token
    transport.tokens.get_token(force_refresh=True)  # the next token request (a new task, or an expired token)
    sent = [entry["assertion"] for entry in emulator.calls()["assertions"]]
    assert sent == [first, second]
    assert emulator.calls()["tokens_by_client"] == {client_id: 2}


def test_federated_token_goes_through_the_cache(emulator, issuer, tmp_path):
    client_id = emulator.add_federated_credential(issuer.issuer, issuer.subject, issuer.public_key)
    settings = fed_settings(emulator, client_id, federated_token_file=write(tmp_path / "token", issuer.mint()),
                            token_cache=True, token_cache_dir=str(tmp_path / "cache"))
    token = auth.TokenProvider(settings).get_token()
    again = auth.TokenProvider(settings)
    assert again.get_token() == token and again._app is None
    assert emulator.calls()["tokens_by_client"] == {client_id: 1}
    with open(again.cache_path) as handle:
        assert issuer.minted[0] not in handle.read()  # the federated token itself is never kept


@pytest.mark.parametrize("change, code, words", [
    ({"subject": "system:serviceaccount:awx:other"}, "AADSTS700213", ["subject system:serviceaccount:awx:other"]),
    ({"issuer": "https://token.actions.githubusercontent.com"}, "AADSTS700211",
     ["issuer https://token.actions.githubusercontent.com"]),
    ({"audience": "api://other"}, "AADSTS700212", ["audience api://other"]),
])
def test_a_federated_credential_that_does_not_match_is_explained(emulator, issuer, tmp_path, change, code, words):
    client_id = emulator.add_federated_credential(issuer.issuer, issuer.subject, issuer.public_key)
    other = FederationIssuer(issuer=change.get("issuer", issuer.issuer), subject=change.get("subject", issuer.subject),
                             audience=change.get("audience", issuer.audience))
    token = other.mint()
    settings = fed_settings(emulator, client_id, federated_token_file=write(tmp_path / "token", token))
    with pytest.raises(AuthenticationError) as info:
        auth.TokenProvider(settings).get_token()
    msg = info.value.msg
    assert code in msg and "no federated credential of the app registration %s matches" % client_id in msg
    assert "Federated credentials" in msg and "case-sensitive" in msg
    for word in words:
        assert word in msg
    assert token not in msg


def test_an_expired_federated_token_is_explained(emulator, issuer, tmp_path):
    client_id = emulator.add_federated_credential(issuer.issuer, issuer.subject, issuer.public_key)
    path = write(tmp_path / "token", issuer.mint(lifetime=-60))
    with pytest.raises(AuthenticationError) as info:
        auth.TokenProvider(fed_settings(emulator, client_id, federated_token_file=path)).get_token()
    assert "AADSTS700024" in info.value.msg and "outside its validity" in info.value.msg and path in info.value.msg


@pytest.mark.parametrize("content, words", [(None, ["cannot read the federated token file", "No such file"]),
                                            ("", ["is empty"]), ('{"token": "x"}', ["holds something else"])])
def test_a_token_file_that_cannot_be_used_is_named(emulator, issuer, tmp_path, content, words):
    client_id = emulator.add_federated_credential(issuer.issuer, issuer.subject, issuer.public_key)
    path = str(tmp_path / "token")
    if content is not None:
        write(path, content)
    with pytest.raises(ConfigurationError) as info:
        auth.TokenProvider(fed_settings(emulator, client_id, federated_token_file=path)).get_token()
    msg = info.value.msg
    assert msg.startswith("federated_token_file (EXO_FEDERATED_TOKEN_FILE): ") and path in msg
    for word in words:
        assert word in msg
    assert emulator.calls()["tokens"] == 0


def test_github_actions_oidc_token(emulator, monkeypatch):
    issuer = FederationIssuer()
    client_id = emulator.add_federated_credential(issuer.issuer, issuer.subject, issuer.public_key)
    with IdentityEndpoint("github_actions", issuer=issuer) as endpoint:
        use(monkeypatch, endpoint)
        transport = rest.RestTransport(fed_settings(emulator, client_id, federated_token="github_actions"))
        assert transport.send("Get-InboundConnector", {}).status == 200
        assert endpoint.problems == [] and endpoint.tokens == 1
        assert [a["assertion"] for a in emulator.calls()["assertions"]] == issuer.minted
        transport.tokens.get_token(force_refresh=True)  # a new token request fetches a new OIDC token
        assert endpoint.tokens == 2 and [a["assertion"] for a in emulator.calls()["assertions"]] == issuer.minted


@pytest.mark.parametrize("fault, error, words", [
    ("500", TransientError, ["GitHub Actions' OIDC token endpoint", "answered HTTP 500", "id-token: write"]),
    ("malformed", TransientError, ["answered HTTP 200 without a token"]),
    ("404", AuthenticationError, ["refused the job's OIDC token request (HTTP 404)", "id-token: write"]),
])
def test_github_actions_endpoint_failures(emulator, monkeypatch, fault, error, words):
    issuer = FederationIssuer()
    client_id = emulator.add_federated_credential(issuer.issuer, issuer.subject, issuer.public_key)
    with IdentityEndpoint("github_actions", issuer=issuer) as endpoint:
        use(monkeypatch, endpoint)
        endpoint.fail(fault)
        with pytest.raises(error) as info:
            auth.TokenProvider(fed_settings(emulator, client_id, federated_token="github_actions"),
                               sleep=lambda s: None).get_token()
        for word in words:
            assert word in info.value.msg, info.value.msg
        assert endpoint.secret not in info.value.msg
        assert emulator.calls()["tokens"] == 0


def test_github_actions_without_its_variables(emulator):
    with pytest.raises(ConfigurationError) as info:
        auth.TokenProvider(fed_settings(emulator, "11111111-2222-3333-4444-555555555555", federated_token="github_actions"))
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" in info.value.msg and "id-token: write" in info.value.msg


def test_github_actions_request_token_goes_only_to_https(monkeypatch):
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "http://pipelines.example/token?api-version=2.0")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "secret-request-token")
    with pytest.raises(ConfigurationError) as info:
        credentials.github_actions("github_actions")
    assert "not an https:// URL" in info.value.msg and "secret-request-token" not in info.value.msg


def test_federation_audience_is_entra_ids():
    assert credentials.FEDERATION_AUDIENCE == FEDERATION_AUDIENCE == "api://AzureADTokenExchange"


def test_the_token_cache_never_holds_a_secret_of_the_identity_endpoint(emulator, monkeypatch, tmp_path):
    with IdentityEndpoint("app_service", emulator) as endpoint:
        use(monkeypatch, endpoint)
        provider = auth.TokenProvider(mi_settings(emulator, token_cache=True, token_cache_dir=str(tmp_path / "c")))
        provider.get_token()
        with open(provider.cache_path) as handle:
            data = json.load(handle)
        assert endpoint.secret not in json.dumps(data)
        assert [entry["client_id"] for entry in data["AccessToken"].values()] == [None]  # msal's way (MSAL_SYSTEM_IDS)


def test_the_guard_keeps_imds_out_of_reach(emulator, monkeypatch):
    """Without the authority-host override msal goes to 169.254.169.254: the guard refuses it (and would fail any test
    that tried), and the task says what IMDS is and what to do off Azure."""
    monkeypatch.delenv("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    with loopback_only() as refused:
        with pytest.raises(TransientError) as info:
            auth.TokenProvider(mi_settings(emulator, retries=0)).get_token()
    assert refused == [("169.254.169.254", 80)]
    assert "the managed identity endpoint http://169.254.169.254/metadata/identity/oauth2/token" in info.value.msg


def test_no_connection_to_imds_is_not_retried(emulator, monkeypatch):
    """IMDS answers at once on every Azure VM: no connection to it means this host is not one, and retries would only
    make the task wait (retry_delay 2: about a minute with the default retries)."""
    monkeypatch.delenv("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    sleeps = []
    with loopback_only() as refused:
        with pytest.raises(TransientError) as info:
            auth.TokenProvider(mi_settings(emulator, retries=5), sleep=sleeps.append).get_token()
    assert refused == [("169.254.169.254", 80)] and sleeps == []
    assert "does not look like an Azure VM" in info.value.msg and "gave up after 1 attempt" in info.value.msg
