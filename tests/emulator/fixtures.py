# -*- coding: utf-8 -*-
"""pytest fixtures: one emulator per test module, backed by an in-memory FakeTenant that is emptied between tests.

Import ``tenant``, ``emulator`` and ``clean`` into a test module to use them (``clean`` is autouse there).
"""

from __future__ import absolute_import, division, print_function

import pytest

from tests.emulator import Emulator
from tests.emulator.fake import FakeTenant


@pytest.fixture(scope="module")
def tenant():
    return FakeTenant()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, tenant):  # pylint: disable=redefined-outer-name
    base = tmp_path_factory.mktemp("emulator")
    with Emulator(str(base / "state.db"), cert_dir=str(base / "pki"), backend=tenant) as emu:
        yield emu


@pytest.fixture(autouse=True)
def clean(emulator, tenant):  # pylint: disable=redefined-outer-name
    emulator.reset()
    emulator.set_redirect(False)
    tenant.objects.clear()
