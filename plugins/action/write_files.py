# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of m365.mailflow.write_files: write a set of text files under one directory, in one task.

Runs on the controller only (there is no module to send): every path is checked first (relative, inside ``dest``,
not a directory, given once), so a bad entry writes nothing. Then each file whose bytes or mode differ is written to
a temporary file beside it and renamed over it (atomic per file); a file whose content is the same is not touched.
``changed`` only when a file was written. Check mode writes nothing and reports what would change; diff mode shows
each changed file. The documentation is in plugins/modules/write_files.py.

One task instead of an ``ansible.builtin.copy`` loop: a copy item runs two modules (stat, copy) through the
connection, about 1.8 s each on the test machines; 100 exported partner files took three minutes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = dict(
    dest=dict(type="path", required=True),
    files=dict(type="list", elements="dict", required=True, options=dict(
        path=dict(type="str", required=True),
        content=dict(type="raw"),
        json=dict(type="raw"),
    )),
    mode=dict(type="raw", default="0644"),
    directory_mode=dict(type="raw", default="0755"),
)


def json_text(data):
    """``data`` as the JSON text a file gets: sorted keys, indent 2, ASCII, one newline at the end (stable bytes)."""
    return json.dumps(data, indent=2, sort_keys=True, separators=(",", ": "), default=to_text) + "\n"


def parse_mode(option, value):
    """An octal permission mode from ``0644``, ``'644'`` or an integer (as YAML reads 0644); raise otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    else:
        text = to_text(value).strip()
        try:
            mode = int(text, 8)
        except ValueError:
            mode = -1
    if not 0 <= mode <= 0o7777:
        raise AnsibleActionFail("%s: '%s' is not a permission mode; write it in octal, quoted, such as '0644'"
                                % (option, value))
    return mode


def _inside(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def plan(dest, files):
    """[(relative path, target, bytes)] for ``files`` under the real path of ``dest``, or raise naming every bad
    entry (nothing is written then)."""
    root = os.path.realpath(dest)
    errors, seen, out = [], {}, []
    if os.path.lexists(root) and not os.path.isdir(root):
        raise AnsibleActionFail("dest: %s exists and is not a directory" % dest)
    for index, entry in enumerate(files):
        where = "files[%d].path" % index
        rel, content = entry.get("path"), entry.get("content")
        if (content is None) == (entry.get("json") is None):
            errors.append("files[%d]: give exactly one of content (text) and json (data written as JSON)" % index)
            content = None
        elif content is None:
            content = json_text(entry["json"])
        elif not isinstance(content, str):
            errors.append("files[%d].content: give text (a string), not %s; for JSON files give the data as json"
                          % (index, type(content).__name__))
        rel = to_text(rel or "")
        parts = rel.replace("\\", "/").split("/")
        if not rel.strip() or "\x00" in rel or os.path.isabs(rel) or rel.startswith(("/", "\\")) \
                or any(p in ("", ".", "..") for p in parts):
            errors.append("%s: '%s' is not a plain relative file path inside dest (no leading /, no '.' or '..' "
                          "parts, no empty parts)" % (where, rel))
            continue
        target = os.path.join(root, *parts)
        parent = os.path.realpath(os.path.dirname(target))
        if not _inside(parent, root):
            errors.append("%s: '%s' leads outside %s (through a symbolic link)" % (where, rel, root))
            continue
        key = os.path.normcase(target)
        if key in seen:
            errors.append("%s: '%s' is given twice (also files[%d].path)" % (where, rel, seen[key]))
            continue
        seen[key] = index
        if os.path.isdir(target) and not os.path.islink(target):
            errors.append("%s: %s is a directory" % (where, target))
            continue
        if isinstance(content, str):
            out.append((rel, target, to_bytes(content, errors="surrogate_or_strict")))
    if errors:
        raise AnsibleActionFail("write_files: nothing was written. " + "; ".join(errors))
    return root, out


def current(target):
    """(bytes, mode) of a regular file at ``target`` (not followed if it is a link), or (None, None)."""
    try:
        info = os.lstat(target)
    except OSError:
        return None, None
    if not stat.S_ISREG(info.st_mode):
        return None, None
    with open(target, "rb") as handle:
        return handle.read(), stat.S_IMODE(info.st_mode)


def write_atomic(target, data, mode):
    """Write ``data`` to a temporary file beside ``target``, then rename it over ``target``."""
    folder = os.path.dirname(target)
    handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(target), suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, mode)
        os.rename(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def make_dirs(path, mode):
    """Create ``path`` and its missing parents with ``mode`` (not changed by the umask)."""
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for folder in reversed(missing):
        os.mkdir(folder)
        os.chmod(folder, mode)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False  # controller-side only (ansible-core >= 2.16 honours it)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        self._done = 0
        try:
            result.update(self._write())
        except AnsibleActionFail as exc:
            # changed when files before the failing one were written: the task never hides a change it made
            result.update(failed=True, changed=self._done > 0, msg=to_text(exc.message))
        return result

    def _write(self):
        result = {}
        _validated, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        mode = parse_mode("mode", args["mode"])
        directory_mode = parse_mode("directory_mode", args["directory_mode"])
        root, planned = plan(args["dest"], args["files"])
        check = bool(self._task.check_mode)
        diff = bool(self._task.diff)
        states, diffs = [], []
        for rel, target, data in planned:
            before, before_mode = current(target)
            if before is None:
                state = "absent" if not os.path.lexists(target) else "replaced"
            elif before != data:
                state = "updated"
            elif before_mode != mode:
                state = "mode"
            else:
                state = "unchanged"
            if state != "unchanged":
                if not check:
                    try:
                        make_dirs(os.path.dirname(target), directory_mode)
                        if state == "mode":
                            os.chmod(target, mode)
                        else:
                            write_atomic(target, data, mode)
                        self._done += 1
                    except (IOError, OSError) as exc:
                        raise AnsibleActionFail("write_files: %s could not be written (%s); %d file(s) before it "
                                                "were written, a re-run writes the rest"
                                                % (target, to_native(exc), self._done))
                if diff and state != "mode":
                    diffs.append({"before_header": target if before is not None else "%s (absent)" % target,
                                  "after_header": target,
                                  "before": to_text(before or b"", errors="surrogate_or_strict"),
                                  "after": to_text(data, errors="surrogate_or_strict")})
            states.append({"path": rel, "dest": target,
                           "state": {"absent": "created", "replaced": "created", "mode": "mode changed"}.get(
                               state, state)})
        counts = dict((name, sum(1 for s in states if s["state"] == name))
                      for name in ("created", "updated", "mode changed", "unchanged"))
        written = len(states) - counts["unchanged"]
        result.update(
            changed=written > 0,
            dest=root,
            files=states,
            created=counts["created"],
            updated=counts["updated"] + counts["mode changed"],
            unchanged=counts["unchanged"],
            msg="%s %d of %d file(s) in %s (%d created, %d updated, %d unchanged)" % (
                "would write" if check else "wrote", written, len(states), root, counts["created"],
                counts["updated"] + counts["mode changed"], counts["unchanged"]),
        )
        if diff and diffs:
            result["diff"] = diffs
        return result
