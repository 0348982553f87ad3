# -*- coding: utf-8 -*-
"""Helpers for tests that drive a SandboxTenant directly through execute()."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from ansible_collections.m365.mailflow.plugins.module_utils.errors import InvalidParameterError


def run(tenant, cmdlet, params=None):
    return wire.parse_response(tenant.execute(cmdlet, params or {}), cmdlet)


def objs(tenant, cmdlet, params=None):
    return run(tenant, cmdlet, params).objects


def fails(tenant, cmdlet, params, error=InvalidParameterError, *words):
    """Assert that the cmdlet fails with ``error`` and that its message names every word."""
    with pytest.raises(error) as info:
        run(tenant, cmdlet, params)
    for word in words:
        assert word.lower() in info.value.msg.lower(), info.value.msg
    return info.value
