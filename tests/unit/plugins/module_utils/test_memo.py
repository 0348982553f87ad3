# -*- coding: utf-8 -*-
"""What the tasks of a run remember about a tenant (memo.py)."""

from __future__ import absolute_import, division, print_function

import json
import os
import stat

from ansible_collections.m365.mailflow.plugins.module_utils.connection import connect, memo_key
from ansible_collections.m365.mailflow.plugins.module_utils.memo import WRITE_TTL, TenantMemo


class Clock(object):
    def __init__(self):
        self.now = 1000000.0

    def __call__(self):
        return self.now


def test_values_and_writes_survive_into_a_new_memo_of_the_same_tenant(tmp_path):
    first = TenantMemo("rest|commercial||t1", directory=str(tmp_path))
    first.set("api_host", "https://tenant.example:443")
    first.remember("outbound connector", "Adatum Outbound", "create")
    later = TenantMemo("rest|commercial||t1", directory=str(tmp_path))
    assert later.get("api_host") == "https://tenant.example:443"
    assert later.recent("Outbound Connector", "adatum outbound")
    assert later.recent("outbound connector", "Adatum Outbound", ops=("create",))
    assert not later.recent("outbound connector", "Adatum Outbound", ops=("delete",))
    assert not later.recent("inbound connector", "Adatum Outbound")
    other = TenantMemo("rest|commercial||t2", directory=str(tmp_path))
    assert other.get("api_host") is None and not other.recent("outbound connector", "Adatum Outbound")


def test_the_file_is_private(tmp_path):
    memo = TenantMemo("sandbox|/x", directory=str(tmp_path / "cache"))
    memo.set("k", 1)
    assert stat.S_IMODE(os.stat(memo.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(tmp_path / "cache")).st_mode) == 0o700
    assert json.load(open(memo.path))["values"]["k"]["value"] == 1


def test_old_writes_are_forgotten(tmp_path):
    clock = Clock()
    memo = TenantMemo("sandbox|/x", directory=str(tmp_path), clock=clock)
    memo.remember("rule", "R", "delete")
    clock.now += WRITE_TTL + 1
    assert not memo.recent("rule", "R")
    assert not TenantMemo("sandbox|/x", directory=str(tmp_path), clock=clock).recent("rule", "R")


def test_unwritable_directory_keeps_working_in_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    memo = TenantMemo("sandbox|/x", directory=str(blocker / "sub"))
    memo.remember("rule", "R", "create")
    assert memo.recent("rule", "R")
    assert memo.path is None


def test_a_corrupt_file_is_ignored(tmp_path):
    memo = TenantMemo("sandbox|/x", directory=str(tmp_path))
    memo.set("k", "v")
    with open(memo.path, "w") as handle:
        handle.write("{not json")
    again = TenantMemo("sandbox|/x", directory=str(tmp_path))
    assert again.get("k") is None
    again.set("k", "w")
    assert TenantMemo("sandbox|/x", directory=str(tmp_path)).get("k") == "w"


def test_no_key_or_no_persistence_is_memory_only(tmp_path):
    assert TenantMemo().path is None
    assert TenantMemo("k", directory=str(tmp_path), persist=False).path is None


def test_connect_gives_each_tenant_its_own_memo(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    base = {"sandbox": str(tmp_path / "a.db"), "retries": 1, "retry_delay": 0.0, "token_cache": True}
    client = connect(base)
    assert client.memo.key == memo_key(base) == "sandbox|%s" % (tmp_path / "a.db")
    assert client.memo.path.startswith(str(tmp_path / "m365.mailflow"))
    assert connect(dict(base, token_cache=False)).memo.path is None
    rest = {"tenant": "Contoso.onmicrosoft.com", "access_token": "x", "cloud": "commercial", "api_url": None}
    assert memo_key(rest) == "rest|commercial||contoso.onmicrosoft.com"
