# -*- coding: utf-8 -*-
"""The shared connection options: combinations, environment fallbacks."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.connection import (
    AKS_VARIABLES,
    METHODS,
    check_connection,
    connection_argument_spec,
    connection_warnings,
    effective_params,
    settings_from_params,
)
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"


@pytest.fixture(autouse=True)
def no_aks_variables(monkeypatch):
    """The AKS workload identity variables of the machine running the tests must not fill in credentials."""
    for name in AKS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def params(**kwargs):
    base = dict((k, v.get("default")) for k, v in connection_argument_spec().items())
    base.update(kwargs)
    return base


def test_every_option_has_an_exo_environment_fallback():
    for name, spec in connection_argument_spec().items():
        assert spec["fallback"][1] == ["EXO_%s" % name.upper()], name


def test_secrets_are_no_log():
    spec = connection_argument_spec()
    for name in ("client_secret", "certificate_password", "access_token"):
        assert spec[name]["no_log"] is True


def test_sandbox_needs_no_credentials():
    assert check_connection(params(sandbox="/tmp/t.db")) == "sandbox"


def test_sandbox_with_credentials_is_contradictory():
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(sandbox="/tmp/t.db", client_secret="s", client_id="c"))
    assert "client_secret" in exc.value.msg and "EXO_SANDBOX" in exc.value.msg


def test_missing_tenant_names_option_and_env():
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(client_id="c", client_secret="s"))
    assert "tenant" in exc.value.msg and "EXO_TENANT" in exc.value.msg


def test_missing_credentials_lists_the_choices():
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(tenant=TENANT))
    for word in ("certificate_path", "client_secret", "access_token", "EXO_CLIENT_ID"):
        assert word in exc.value.msg


def test_two_credentials_are_contradictory():
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(tenant=TENANT, client_id="c", client_secret="s", certificate_path="/x.pem"))
    assert "exactly one" in exc.value.msg


def test_certificate_needs_client_id():
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(tenant=TENANT, certificate_path="/x.pem"))
    assert "client_id" in exc.value.msg


def test_password_without_certificate():
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(tenant=TENANT, access_token="t", certificate_password="p"))
    assert "certificate_password" in exc.value.msg


def test_bad_tenant_and_url():
    with pytest.raises(ConfigurationError):
        check_connection(params(tenant="not a tenant", access_token="t"))
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(tenant=TENANT, access_token="t", api_url="http://127.0.0.1:1"))
    assert "api_url" in exc.value.msg


def test_empty_strings_from_awx_count_as_not_given():
    assert check_connection(params(tenant=TENANT, client_id=CLIENT, certificate_path="/x.pem", client_secret="",
                                   access_token="")) == "certificate_path"
    settings = settings_from_params(params(tenant=TENANT, client_id=CLIENT, certificate_path="/x.pem", client_secret=""))
    assert settings["client_secret"] is None and settings["authority"] is None


# ----------------------------------------------------------------------------- issue 15 point 7

@pytest.mark.parametrize("extra", [{"tenant": TENANT}, {"tenant": "contoso.onmicrosoft.com"}])
def test_sandbox_with_tenant_is_refused(extra):
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(sandbox="/tmp/t.db", **extra))
    assert "tenant / EXO_TENANT" in exc.value.msg and "EXO_SANDBOX" in exc.value.msg


@pytest.mark.parametrize("value", ["tenant.db", "sub/tenant.db", "./tenant.db", "../tenant.db"])
def test_relative_sandbox_is_refused_with_the_fix(value):
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(sandbox=value))
    msg = exc.value.msg
    assert msg.startswith("sandbox: '%s' is a relative path" % value)
    assert "EXO_SANDBOX" in msg and "$PWD/" in msg and "{{ playbook_dir }}/" in msg and os.getcwd() in msg


def test_absolute_and_home_sandbox_paths_are_accepted():
    assert check_connection(params(sandbox="/tmp/t.db")) == "sandbox"
    assert check_connection(params(sandbox="~/t.db")) == "sandbox"


@pytest.mark.parametrize("value", ["my-app", "c", "11111111222233334444555555555555", "{%s}" % CLIENT, CLIENT + "0"])
def test_client_id_that_is_not_a_guid_is_refused(value):
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(tenant=TENANT, client_id=value, client_secret="s"))
    assert exc.value.msg.startswith("client_id: '%s' is not an application (client) ID" % value)
    assert "EXO_CLIENT_ID" in exc.value.msg and "GUID" in exc.value.msg


def test_client_id_guid_in_any_case_and_with_blanks_is_accepted_and_stripped():
    assert check_connection(params(tenant=TENANT, client_id=CLIENT.upper(), client_secret="s")) == "client_secret"
    assert check_connection(params(tenant=TENANT, client_id=" %s\n" % CLIENT, client_secret="s")) == "client_secret"
    assert settings_from_params(params(tenant=TENANT, client_id=" %s\n" % CLIENT))["client_id"] == CLIENT


def _ca_params(path):
    return params(tenant=TENANT, access_token="t", ca_path=path)


def test_missing_ca_path_is_named(tmp_path):
    path = str(tmp_path / "missing-ca.pem")
    with pytest.raises(ConfigurationError) as exc:
        check_connection(_ca_params(path))
    assert exc.value.msg.startswith("ca_path: '%s' does not exist" % path)
    assert "EXO_CA_PATH" in exc.value.msg and "PEM" in exc.value.msg


def test_ca_path_directory_or_without_certificates_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="^ca_path: .* is not a file"):
        check_connection(_ca_params(str(tmp_path)))
    text = tmp_path / "notes.txt"
    text.write_text("not a certificate\n")
    with pytest.raises(ConfigurationError, match="^ca_path: cannot use .*holds no PEM CA certificate.*EXO_CA_PATH"):
        check_connection(_ca_params(str(text)))


def test_ca_path_with_a_ca_is_accepted(tmp_path):
    from tests.support import pki
    ca = pki.make_ca(str(tmp_path))
    assert check_connection(_ca_params(ca.cert)) == "access_token"


def test_validate_certs_false_warns_naming_both_endpoints():
    warnings = connection_warnings(params(tenant=TENANT, client_id=CLIENT, client_secret="s", validate_certs=False))
    assert len(warnings) == 1
    text = warnings[0]
    assert text.startswith("validate_certs is false (EXO_VALIDATE_CERTS)")
    assert "outlook.office365.com" in text and "login.microsoftonline.com" in text
    assert "ca_path (EXO_CA_PATH)" in text and "api_url" in text


def test_validate_certs_warning_names_overridden_endpoints_and_cloud():
    text = connection_warnings(params(tenant=TENANT, access_token="t", validate_certs=False,
                                      api_url="https://127.0.0.1:8443/"))[0]
    assert "127.0.0.1:8443" in text and "token endpoint" not in text  # an access token needs no token endpoint
    text = connection_warnings(params(tenant=TENANT, client_id=CLIENT, client_secret="s", validate_certs=False,
                                      cloud="gcc_high", authority_url="https://127.0.0.1:9443"))[0]
    assert "outlook.office365.us" in text and "127.0.0.1:9443" in text


def test_no_warning_when_verifying_or_on_the_sandbox():
    assert connection_warnings(params(tenant=TENANT, access_token="t")) == []
    assert connection_warnings(params(sandbox="/tmp/t.db", validate_certs=False)) == []


@pytest.mark.parametrize("option, value", [
    ("retries", -1), ("retry_delay", -0.5), ("retry_delay", float("nan")), ("retry_delay", float("inf")),
    ("timeout", 0), ("timeout", -5),
])
def test_unusable_numbers_are_refused_naming_the_option(option, value):
    """A negative timeout used to reach the HTTP libraries and fail as 'Cannot use authority'; a negative retries was
    taken silently as 0."""
    for kind in (dict(sandbox="/tmp/t.db"), dict(tenant=TENANT, access_token="t")):
        with pytest.raises(ConfigurationError) as err:
            check_connection(params(**dict(kind, **{option: value})))
        assert err.value.msg.startswith("%s: " % option), err.value.msg


def test_usable_numbers_pass():
    assert check_connection(params(sandbox="/tmp/t.db", retries=0, retry_delay=0.0, timeout=1)) == "sandbox"


# ----------------------------------------------------------------------------- issue 26: secretless credentials

CREDENTIAL_VALUES = {
    "access_token": {"access_token": "t"},
    "managed_identity": {"managed_identity": "system"},
    "client_secret": {"client_id": CLIENT, "client_secret": "s"},
    "certificate_path": {"client_id": CLIENT, "certificate_path": "/x.pem"},
    "federated_token_file": {"client_id": CLIENT, "federated_token_file": "/var/run/token"},
    "federated_token": {"client_id": CLIENT, "federated_token": "github_actions"},
}


def test_every_credential_alone_is_accepted():
    assert sorted(CREDENTIAL_VALUES) == sorted(METHODS)
    for method, values in CREDENTIAL_VALUES.items():
        assert check_connection(params(tenant=TENANT, **values)) == method


@pytest.mark.parametrize("first", sorted(CREDENTIAL_VALUES))
@pytest.mark.parametrize("second", sorted(CREDENTIAL_VALUES))
def test_any_two_credentials_are_contradictory(first, second):
    if first >= second:
        return
    values = dict(CREDENTIAL_VALUES[first], **CREDENTIAL_VALUES[second])
    values.pop("client_id", None)  # managed_identity refuses client_id on its own; here the pair itself must be named
    if "managed_identity" not in (first, second):
        values["client_id"] = CLIENT
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(tenant=TENANT, **values))
    assert exc.value.msg.startswith("Contradictory credentials: ")
    assert first in exc.value.msg and second in exc.value.msg and "exactly one" in exc.value.msg


@pytest.mark.parametrize("value", ["system", "System", CLIENT, CLIENT.upper()])
def test_managed_identity_is_system_or_a_client_id(value):
    assert check_connection(params(tenant=TENANT, managed_identity=value)) == "managed_identity"
    assert settings_from_params(params(tenant=TENANT, managed_identity=" %s " % value))["managed_identity"] == value


@pytest.mark.parametrize("value", ["my-identity", "/subscriptions/x/resourceGroups/y/providers/Microsoft.ManagedIdentity/"
                                   "userAssignedIdentities/z", "user", CLIENT + "1"])
def test_managed_identity_of_another_shape_is_refused(value):
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(tenant=TENANT, managed_identity=value))
    assert exc.value.msg.startswith("managed_identity: '%s' is neither system" % value)
    assert "EXO_MANAGED_IDENTITY" in exc.value.msg and "client ID" in exc.value.msg


def test_managed_identity_with_client_id_is_refused():
    """client_id names an app registration; a user-assigned identity's client ID goes in managed_identity."""
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(tenant=TENANT, managed_identity="system", client_id=CLIENT))
    assert "managed_identity and client_id are both set" in exc.value.msg and "EXO_CLIENT_ID" in exc.value.msg


@pytest.mark.parametrize("method", ["federated_token_file", "federated_token"])
def test_federated_tokens_need_client_id(method):
    values = dict(CREDENTIAL_VALUES[method])
    values.pop("client_id")
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(tenant=TENANT, **values))
    assert exc.value.msg.startswith("%s is set but client_id is not" % method)


def test_federated_token_value_and_env():
    spec = connection_argument_spec()
    assert "choices" not in spec["federated_token"]  # EXO_FEDERATED_TOKEN="" (an empty AWX field) is "not given"
    assert check_connection(params(tenant=TENANT, client_id=CLIENT, federated_token="", certificate_path="/x.pem")) == \
        "certificate_path"
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(tenant=TENANT, client_id=CLIENT, federated_token="gitlab"))
    assert exc.value.msg.startswith("federated_token: 'gitlab' is not a source") and "github_actions" in exc.value.msg
    assert "federated_token_file" in exc.value.msg
    assert spec["managed_identity"]["fallback"][1] == ["EXO_MANAGED_IDENTITY"]
    assert spec["federated_token_file"]["fallback"][1] == ["EXO_FEDERATED_TOKEN_FILE"] and \
        spec["federated_token_file"]["type"] == "path"
    for name in ("managed_identity", "federated_token_file", "federated_token"):
        assert spec[name].get("no_log") is not True  # identifiers and paths, not secrets


@pytest.mark.parametrize("method", sorted(set(CREDENTIAL_VALUES) - {"access_token"}))
def test_sandbox_with_a_new_credential_is_refused(method):
    with pytest.raises(ConfigurationError) as exc:
        check_connection(params(sandbox="/tmp/t.db", **CREDENTIAL_VALUES[method]))
    assert "sandbox is set" in exc.value.msg and "%s / EXO_%s" % (method, method.upper()) in exc.value.msg


def test_validate_certs_warning_of_a_managed_identity_names_no_token_endpoint():
    text = connection_warnings(params(tenant=TENANT, managed_identity="system", validate_certs=False))[0]
    assert "outlook.office365.com" in text and "token endpoint" not in text


AKS = {"AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
       "AZURE_CLIENT_ID": "77777777-8888-9999-aaaa-bbbbbbbbbbbb", "AZURE_TENANT_ID": TENANT}


def _aks(monkeypatch, **env):
    for name, value in dict(AKS, **env).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_aks_workload_identity_is_used_when_no_credential_is_set_and_the_task_says_so(monkeypatch):
    _aks(monkeypatch)
    bare = params()
    assert check_connection(bare) == "federated_token_file"
    settings = settings_from_params(bare)
    assert settings["federated_token_file"] == AKS["AZURE_FEDERATED_TOKEN_FILE"]
    assert settings["client_id"] == AKS["AZURE_CLIENT_ID"] and settings["tenant"] == TENANT
    assert settings["federated_token_option"].startswith("AZURE_FEDERATED_TOKEN_FILE")
    (warning,) = connection_warnings(bare)
    assert warning.startswith("No credential is set, so the AKS workload identity of this pod is used")
    for word in (AKS["AZURE_FEDERATED_TOKEN_FILE"], AKS["AZURE_CLIENT_ID"], "AZURE_TENANT_ID",
                 "federated_token_file (EXO_FEDERATED_TOKEN_FILE)"):
        assert word in warning


def test_aks_variables_keep_an_explicit_tenant_and_client_id(monkeypatch):
    _aks(monkeypatch)
    given = params(tenant="contoso.onmicrosoft.com", client_id=CLIENT)
    settings = settings_from_params(given)
    assert settings["client_id"] == CLIENT and settings["tenant"] == "contoso.onmicrosoft.com"
    assert "AZURE_CLIENT_ID" not in connection_warnings(given)[0]


@pytest.mark.parametrize("method", sorted(CREDENTIAL_VALUES))
def test_aks_variables_are_not_used_when_a_credential_is_set(monkeypatch, method):
    """Neither the option (nor its EXO_* variable, which Ansible turns into the option) nor another credential."""
    _aks(monkeypatch)
    given = params(tenant=TENANT, **CREDENTIAL_VALUES[method])
    assert effective_params(given) is given and connection_warnings(given) == []
    if method == "federated_token_file":
        assert settings_from_params(given)["federated_token_file"] == "/var/run/token"


@pytest.mark.parametrize("missing", AKS_VARIABLES)
def test_aks_variables_are_used_only_all_together(monkeypatch, missing):
    _aks(monkeypatch, **{missing: None})
    with pytest.raises(ConfigurationError):
        check_connection(params(tenant=TENANT))
    assert connection_warnings(params(tenant=TENANT)) == []


def test_aks_variables_never_turn_a_sandbox_into_a_tenant(monkeypatch):
    _aks(monkeypatch)
    assert check_connection(params(sandbox="/tmp/t.db")) == "sandbox"
    assert connection_warnings(params(sandbox="/tmp/t.db")) == []
