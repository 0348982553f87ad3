# -*- coding: utf-8 -*-
"""The shared connection options: combinations, environment fallbacks."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.connection import (
    check_connection,
    connection_argument_spec,
    connection_warnings,
    settings_from_params,
)
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"


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
