# -*- coding: utf-8 -*-
"""The shared connection options: combinations, environment fallbacks."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.connection import (
    check_connection,
    connection_argument_spec,
    settings_from_params,
)
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError

TENANT = "11111111-2222-3333-4444-555555555555"


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
    assert check_connection(params(tenant=TENANT, client_id="c", certificate_path="/x.pem", client_secret="",
                                   access_token="")) == "certificate_path"
    settings = settings_from_params(params(tenant=TENANT, client_id="c", certificate_path="/x.pem", client_secret=""))
    assert settings["client_secret"] is None and settings["authority"] is None
