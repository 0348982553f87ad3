# -*- coding: utf-8 -*-
"""The one locked 0600 file of the token cache and the tenant memo (private_file.PrivateFile)."""

from __future__ import absolute_import, division, print_function

import os
import stat
import threading

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.memo import TenantMemo
from ansible_collections.m365.mailflow.plugins.module_utils.private_file import PrivateFile, SharedDirectoryError
from ansible_collections.m365.mailflow.plugins.module_utils.transport.token_cache import TokenCache


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_written_0600_in_a_0700_directory_and_replaced_whole(tmp_path):
    target = PrivateFile(str(tmp_path / "new" / "f.json"))
    with target.locked():
        target.write("one")
        target.write("two")
    assert target.read() == "two" and mode(target.path) == 0o600 and mode(tmp_path / "new") == 0o700
    assert sorted(os.listdir(str(tmp_path / "new"))) == ["f.json", "f.json.lock"]  # no temporary file left
    assert PrivateFile(str(tmp_path / "missing")).read() is None


@pytest.mark.parametrize("start", [0o755, 0o777, 0o750])
def test_an_open_directory_of_ours_is_tightened(tmp_path, start):
    directory = tmp_path / "cache"
    directory.mkdir()
    os.chmod(str(directory), start)
    with PrivateFile(str(directory / "f")).locked():
        pass
    assert mode(directory) == 0o700


def test_a_shared_sticky_directory_is_refused_and_left_as_it_is(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o1777)  # like /tmp
    with pytest.raises(SharedDirectoryError):
        with PrivateFile(str(shared / "f")).locked():
            pass
    assert stat.S_IMODE(os.stat(str(shared)).st_mode) == 0o1777 and os.listdir(str(shared)) == []
    # The token cache says so and what to do; the memo keeps to memory.
    cache = TokenCache(["k"], directory=str(shared))
    with pytest.raises(ConfigurationError) as info:
        with cache.session():
            pass
    assert "token_cache_dir" in info.value.msg and "shared with other users" in info.value.msg
    memo = TenantMemo("sandbox|/x", directory=str(shared))
    memo.set("k", 1)
    assert memo.get("k") == 1 and memo.path is None and os.listdir(str(shared)) == []


def test_a_directory_of_another_user_open_to_others_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs to give a directory away (root)")
    directory = tmp_path / "theirs"
    directory.mkdir()
    os.chmod(str(directory), 0o755)
    os.chown(str(directory), 65534, 65534)
    with pytest.raises(SharedDirectoryError):
        with PrivateFile(str(directory / "f")).locked():
            pass
    assert mode(directory) == 0o755


def test_the_lock_serialises_read_modify_write(tmp_path):
    target = PrivateFile(str(tmp_path / "counter"))
    with target.locked():
        target.write("0")

    def bump():
        for _unused in range(20):
            with target.locked():
                target.write(str(int(target.read()) + 1))

    threads = [threading.Thread(target=bump) for _unused in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert target.read() == "80"
