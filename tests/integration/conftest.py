# -*- coding: utf-8 -*-
"""Targets for integration tests: the embedded sandbox tenant and the HTTPS emulator (REST transport)."""

from __future__ import absolute_import, division, print_function

import glob
import os
import subprocess

import pytest

from tests.support.ansible_runner import BIN, REPO, run_tasks


EMULATOR_STATE = "emulator-tenant.db"


class Target(object):
    """Where module tasks go, and how to count the calls they made (emulator only)."""

    def __init__(self, kind, workdir, module_defaults, state_path, emulator=None):
        self.kind = kind
        self.state_path = state_path
        self.workdir = str(workdir)
        self.module_defaults = module_defaults
        self.emulator = emulator

    def run(self, *tasks, **kwargs):
        defaults = dict(self.module_defaults)
        defaults.update(kwargs.pop("defaults", {}))
        return run_tasks(list(tasks), self.workdir, module_defaults=defaults, **kwargs)

    def task(self, module, args, **kwargs):
        return self.run((module, args), **kwargs).result

    def tenant(self):
        """Direct access to the tenant state (both targets keep it in a SandboxTenant file), for test setup."""
        from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
        return SandboxTenant(self.state_path)

    def execute(self, cmdlet, parameters):
        """Run a cmdlet directly on the tenant state (test setup only) and return the objects."""
        from ansible_collections.m365.mailflow.plugins.module_utils import wire
        return wire.parse_response(self.tenant().execute(cmdlet, parameters), cmdlet).objects

    def calls(self):
        return self.emulator.calls() if self.emulator else None

    def reset_calls(self):
        if self.emulator:
            self.emulator.reset()


def emulator_defaults(emulator):
    return {
        "tenant": emulator.tenant_id,
        "client_id": emulator.app["client_id"],
        "certificate_path": emulator.app["certificate_path"],
        "api_url": emulator.url,
        "authority_url": emulator.url,
        "ca_path": emulator.ca_path,
        "retry_delay": 0.05,
    }


@pytest.fixture
def emulator(tmp_path):
    from tests.emulator import Emulator
    emu = Emulator(str(tmp_path / EMULATOR_STATE), cert_dir=str(tmp_path / "pki"))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def sandbox_target(tmp_path):
    path = str(tmp_path / "tenant.db")
    return Target("sandbox", tmp_path, {"sandbox": path}, path)


@pytest.fixture
def emulator_target(tmp_path, emulator):
    return Target("emulator", tmp_path, emulator_defaults(emulator), str(tmp_path / EMULATOR_STATE), emulator=emulator)


@pytest.fixture(params=["sandbox", "emulator"])
def target(request, tmp_path):
    if request.param == "sandbox":
        return request.getfixturevalue("sandbox_target")
    return request.getfixturevalue("emulator_target")


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory):
    """The collection tarball, built from this checkout as ``make build`` builds it (hacking/build.py: the files git
    tracks), once per test session."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([os.path.join(BIN, "python"), os.path.join(REPO, "hacking", "build.py"), "--output-path", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarballs = glob.glob(str(out / "*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    return tarballs[0]
