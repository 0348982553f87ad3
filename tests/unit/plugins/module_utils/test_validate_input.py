# -*- coding: utf-8 -*-
"""connector_validate: settings no probe can use are refused before any call, naming the option."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.validation.connector_validation import preflight


def params(**kwargs):
    base = dict(probe=True, smtp_port=25, probe_timeout=10.0, dns_servers=None, probe_ca_path=None)
    base.update(kwargs)
    return base


def test_a_missing_probe_ca_path_is_refused_up_front(tmp_path):
    """It used to fail only when a probe reached STARTTLS, as 'ca_path ... cannot be loaded'."""
    missing = str(tmp_path / "no-ca.pem")
    with pytest.raises(ConfigurationError) as err:
        preflight(params(probe_ca_path=missing))
    assert err.value.msg.startswith("probe_ca_path: '%s' does not exist" % missing)
    preflight(params(probe=False, probe_ca_path=missing))  # no probe, nothing uses it
    (tmp_path / "ca.pem").write_text("x")
    preflight(params(probe_ca_path=str(tmp_path / "ca.pem")))
    preflight(params(probe_ca_path=str(tmp_path)))  # a directory of CA certificates is used as such
