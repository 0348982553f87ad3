# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about one tenant that the later tasks of a run reuse, kept in a 0600 file beside the token cache.

Each task is a new process, so what one task learns about a tenant is lost unless it is written down. Two kinds of
facts are worth keeping:

* values (``get``/``set``), for example the tenant-specific REST host the service redirected us to, so that a play
  pays the redirect once;
* the writes this collection made recently (``remember``/``recent``): Exchange Online replicates changes with a
  delay, so a later write that fails only because our own earlier change is not visible yet may be retried, and
  any other failure is not.

The memo is a hint, never a source of truth: when the file cannot be read or written the memo works in memory for
the current task only, and nothing fails because of it. The file is a ``private_file.PrivateFile`` (0600, in a 0700
directory, changed under a lock), the same helper the token cache uses.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import time

from ansible_collections.m365.mailflow.plugins.module_utils.private_file import HAS_FCNTL, PrivateFile

WRITE_TTL = 1800.0  # seconds during which a write we made may still be replicating
VALUE_TTL = 86400.0  # seconds a remembered value is trusted


def default_cache_dir():
    """``$XDG_CACHE_HOME/m365.mailflow`` or ``~/.cache/m365.mailflow`` (the token cache lives there too)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "m365.mailflow")


def _entry_key(kind, name):
    return "%s|%s" % (str(kind).lower(), str(name).strip().lower())


class TenantMemo(object):
    """What the tasks of a run remember about one tenant (see module docstring).

    ``key`` names the tenant (for example ``rest|commercial|https://outlook.office365.com|<tenant>`` or
    ``sandbox|/abs/path``); ``persist`` False (or no key) keeps everything in memory.
    """

    def __init__(self, key=None, directory=None, persist=True, clock=None):
        self.key = key
        self._clock = clock or time.time
        self._data = {"values": {}, "writes": {}}
        self.path = None
        if persist and key and HAS_FCNTL:
            digest = hashlib.sha256(str(key).encode("utf-8")).hexdigest()[:32]
            self.path = os.path.join(directory or default_cache_dir(), "tenant-%s.json" % digest)
        self._file = PrivateFile(self.path) if self.path else None

    # ------------------------------------------------------------------ values
    def get(self, name, default=None):
        entry = self._read()["values"].get(name)
        if not isinstance(entry, dict) or self._clock() - float(entry.get("at", 0)) > VALUE_TTL:
            return default
        return entry.get("value", default)

    def set(self, name, value):
        def change(data):
            if value is None:
                data["values"].pop(name, None)
            else:
                data["values"][name] = {"value": value, "at": self._clock()}
        self._update(change)

    # ------------------------------------------------------------------ recent writes
    def remember(self, kind, name, op):
        """Note that this collection just did ``op`` (``create``, ``update``, ``delete``) on ``kind`` ``name``."""
        def change(data):
            data["writes"][_entry_key(kind, name)] = {"op": op, "at": self._clock()}
        self._update(change)

    def recent(self, kind, name, ops=None, within=WRITE_TTL):
        """True when this collection did one of ``ops`` (any when None) on ``kind`` ``name`` within ``within`` s."""
        entry = self._read()["writes"].get(_entry_key(kind, name))
        if not isinstance(entry, dict):
            return False
        if ops is not None and entry.get("op") not in ops:
            return False
        try:
            return self._clock() - float(entry.get("at", 0)) <= within
        except (TypeError, ValueError):
            return False

    # ------------------------------------------------------------------ storage
    def _fresh(self, data):
        now = self._clock()
        out = {"values": {}, "writes": {}}
        for section, ttl in (("values", VALUE_TTL), ("writes", WRITE_TTL)):
            items = data.get(section) if isinstance(data, dict) else None
            for key, entry in (items or {}).items() if isinstance(items, dict) else ():
                try:
                    if isinstance(entry, dict) and now - float(entry.get("at", 0)) <= ttl:
                        out[section][key] = entry
                except (TypeError, ValueError):
                    continue
        return out

    def _read(self):
        if self.path is None:
            return self._data
        text = self._file.read()
        if text is not None:  # no file yet, or unreadable: what this task knows in memory
            try:
                self._data = self._fresh(json.loads(text))
            except ValueError:
                pass
        return self._data

    def _update(self, change):
        if self.path is None:
            change(self._data)
            return
        try:
            with self._file.locked():
                data = self._read()
                change(data)
                self._file.write(json.dumps(self._fresh(data), sort_keys=True))
        except (IOError, OSError):
            self.path = self._file = None  # cannot persist: keep working in memory for this task
            change(self._data)
