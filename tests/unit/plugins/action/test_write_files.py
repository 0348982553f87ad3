# -*- coding: utf-8 -*-
"""write_files: one task writes a set of files, only those whose bytes differ; check and diff mode; bad paths refused
before anything is written."""

from __future__ import absolute_import, division, print_function

import os

from unittest.mock import MagicMock

from ansible_collections.m365.mailflow.plugins.action.write_files import ActionModule


def run(args, check=False, diff=False):
    task = MagicMock(args=args, async_val=0, check_mode=check, diff=diff, action="m365.mailflow.write_files")
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars={})


def snapshot(root):
    """{relative path: (bytes, mtime_ns, mode)} of every file under ``root``."""
    out = {}
    for folder, _dirs, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(folder, name)
            info = os.stat(path)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, str(root))] = (handle.read(), info.st_mtime_ns, info.st_mode & 0o7777)
    return out


FILES = [{"path": "adatum.yml", "content": "---\npartner:\n  name: Adatum\n"},
         {"path": "sub/ünïcode.yml", "content": "# Zoë\n"},
         {"path": "unmanaged.yml", "content": "---\n[]\n"}]


def test_writes_all_files_then_a_rerun_touches_nothing(tmp_path):
    dest = tmp_path / "out" / "tenant_a"
    first = run({"dest": str(dest), "files": FILES})
    assert not first.get("failed"), first
    assert first["changed"] is True and first["created"] == 3 and first["unchanged"] == 0
    files = snapshot(dest)
    assert files["adatum.yml"][0] == b"---\npartner:\n  name: Adatum\n"
    assert files[os.path.join("sub", "ünïcode.yml")][0] == "# Zoë\n".encode("utf-8")
    assert all(mode == 0o644 for _data, _mtime, mode in files.values())
    assert os.stat(str(dest)).st_mode & 0o777 == 0o755
    again = run({"dest": str(dest), "files": FILES})
    assert again["changed"] is False and again["unchanged"] == 3
    assert [f["state"] for f in again["files"]] == ["unchanged"] * 3
    assert snapshot(dest) == files  # not rewritten: same bytes and same modification time
    assert not [n for n in os.listdir(str(dest)) if n.endswith(".tmp")]


def test_only_the_file_whose_content_differs_is_written(tmp_path):
    run({"dest": str(tmp_path), "files": FILES})
    before = snapshot(tmp_path)
    changed = [dict(FILES[0], content="---\npartner:\n  name: Adatum\n  adopt: true\n")] + FILES[1:]
    result = run({"dest": str(tmp_path), "files": changed})
    assert result["changed"] is True and result["updated"] == 1 and result["unchanged"] == 2
    after = snapshot(tmp_path)
    assert after["adatum.yml"][0].endswith(b"adopt: true\n")
    assert dict((k, v) for k, v in after.items() if k != "adatum.yml") == \
        dict((k, v) for k, v in before.items() if k != "adatum.yml")


def test_a_different_mode_is_a_change(tmp_path):
    run({"dest": str(tmp_path), "files": FILES[:1]})
    os.chmod(str(tmp_path / "adatum.yml"), 0o600)
    result = run({"dest": str(tmp_path), "files": FILES[:1]})
    assert result["changed"] is True and result["files"][0]["state"] == "mode changed"
    assert os.stat(str(tmp_path / "adatum.yml")).st_mode & 0o777 == 0o644


def test_check_mode_writes_nothing_and_diff_shows_each_changed_file(tmp_path):
    dest = tmp_path / "new"
    result = run({"dest": str(dest), "files": FILES}, check=True, diff=True)
    assert result["changed"] is True and result["created"] == 3
    assert not dest.exists()
    assert [d["after"] for d in result["diff"]] == [f["content"] for f in FILES]
    run({"dest": str(dest), "files": FILES})
    before = snapshot(dest)
    edited = [dict(FILES[0], content="---\npartner:\n  name: Adatum2\n")] + FILES[1:]
    result = run({"dest": str(dest), "files": edited}, check=True, diff=True)
    assert result["changed"] is True and result["updated"] == 1
    assert result["diff"] == [{"before_header": str(dest / "adatum.yml"), "after_header": str(dest / "adatum.yml"),
                               "before": FILES[0]["content"], "after": edited[0]["content"]}]
    assert snapshot(dest) == before


def test_paths_outside_dest_are_refused_and_nothing_is_written(tmp_path):
    dest = tmp_path / "dest"
    outside = tmp_path / "outside"
    outside.mkdir()
    dest.mkdir()
    os.symlink(str(outside), str(dest / "link"))
    (dest / "folder").mkdir()
    bad = [{"path": "../escape.yml", "content": "x"}, {"path": str(tmp_path / "abs.yml"), "content": "x"},
           {"path": "link/through.yml", "content": "x"}, {"path": "a/./b.yml", "content": "x"},
           {"path": "folder", "content": "x"}, {"path": "", "content": "x"}]
    for entry in bad:
        result = run({"dest": str(dest), "files": [FILES[0], entry]})
        assert result["failed"] is True and result["changed"] is False, entry
        assert "files[1].path" in result["msg"] and "nothing was written" in result["msg"], result["msg"]
    twice = run({"dest": str(dest), "files": [FILES[0], FILES[0]]})
    assert twice["failed"] is True and "given twice" in twice["msg"]
    not_text = run({"dest": str(dest), "files": [{"path": "a.yml", "content": {"partner": 1}}]})
    assert not_text["failed"] is True and "files[0].content: give text" in not_text["msg"]
    assert sorted(os.listdir(str(dest))) == ["folder", "link"] and os.listdir(str(outside)) == []


def test_a_bad_mode_is_refused(tmp_path):
    result = run({"dest": str(tmp_path), "files": FILES, "mode": "rw-r--r--"})
    assert result["failed"] is True and result["msg"].startswith("mode: 'rw-r--r--' is not a permission mode")
    assert os.listdir(str(tmp_path)) == []


def test_json_data_is_written_as_stable_json_text_and_content_or_json_is_required(tmp_path):
    # ansible-core before 2.19 turns a templated JSON string back into data, so JSON files are given as data
    data = {"tenant": "b\u00fccher", "totals": {"drifted": 1, "in_sync": 2}, "ok": False, "none": None}
    first = run({"dest": str(tmp_path), "files": [{"path": "t.json", "json": data}]})
    assert first["changed"] is True, first
    text = (tmp_path / "t.json").read_bytes()
    assert text == (b'{\n  "none": null,\n  "ok": false,\n  "tenant": "b\\u00fccher",\n  "totals": {\n'
                    b'    "drifted": 1,\n    "in_sync": 2\n  }\n}\n')
    assert run({"dest": str(tmp_path), "files": [{"path": "t.json", "json": dict(reversed(list(data.items())))}]})[
        "changed"] is False
    for entry in ({"path": "x.json"}, {"path": "x.json", "json": {}, "content": "{}"}):
        result = run({"dest": str(tmp_path), "files": [entry]})
        assert result.get("failed") and "files[0]: give exactly one of content (text) and json" in result["msg"], result
    assert not (tmp_path / "x.json").exists()
