# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The token cache shared by the tasks of a run: msal's token cache persisted in a 0600 file, one file per identity.

``TokenCache(key)`` names its file after a digest of ``key`` (the parts that identify who the token is for: cloud,
authority, tenant and app, or the managed identity and its endpoint) under ``token_cache_dir`` (default
``$XDG_CACHE_HOME/m365.mailflow``). ``cached_token`` finds a still valid token in the file without msal (a later task
of the play needs neither the msal import nor the OpenID discovery); ``session()`` holds the file's lock while msal
reads and may add to the cache, and writes it back when it changed. The file is a ``private_file.PrivateFile``, the
helper the tenant memo uses too. ``persist`` False (``token_cache: false``) keeps tokens in memory for the task.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import hashlib
import json
import os
import time

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.memo import default_cache_dir
from ansible_collections.m365.mailflow.plugins.module_utils.private_file import HAS_FCNTL, PrivateFile
from ansible_collections.m365.mailflow.plugins.module_utils.transport import libraries

REFRESH_MARGIN = 300  # seconds; a cached token closer to expiry than this is renewed (msal's own margin, too)


class TokenCache(object):
    """See module docstring. ``path`` is None when tokens are not persisted."""

    def __init__(self, key, directory=None, persist=True):
        self.path = None
        if persist and HAS_FCNTL:
            digest = hashlib.sha256("|".join(str(part) for part in key).encode("utf-8")).hexdigest()
            self.path = os.path.join(directory or default_cache_dir(), "token-%s.json" % digest)
        self._file = PrivateFile(self.path) if self.path else None
        self._msal_cache = None

    @property
    def msal_cache(self):
        """The msal token cache: serializable when persisted."""
        if self._msal_cache is None:
            libraries.require("msal")
            msal = libraries.msal
            self._msal_cache = msal.SerializableTokenCache() if self.path else msal.TokenCache()
        return self._msal_cache

    def cached_token(self, client_ids, target, margin=REFRESH_MARGIN):
        """``(token, expires_on)`` of a still valid access token for one of ``client_ids`` and ``target`` (a scope or
        a resource) from the file, or None.

        The file is msal's token cache in its documented cross-language schema: an ``AccessToken`` map of entries with
        ``client_id``, ``target``, ``secret`` and ``expires_on``. A token with less than ``margin`` seconds left is not
        used, so that msal renews it before it expires.
        """
        text = self._file.read() if self._file is not None else None
        if not text:
            return None
        try:
            entries = (json.loads(text).get("AccessToken") or {}).values()
        except (ValueError, AttributeError):
            return None
        client_ids = set(str(client_id or "").lower() for client_id in client_ids)
        target, now = str(target).lower(), time.time()
        for entry in entries:
            try:
                if (str(entry.get("client_id") or "").lower() in client_ids
                        and target in str(entry.get("target", "")).lower().split()
                        and int(entry.get("expires_on", 0)) - now > margin and entry.get("secret")):
                    return entry["secret"], int(entry["expires_on"])
            except (TypeError, ValueError, AttributeError):
                continue
        return None

    @contextlib.contextmanager
    def session(self):
        """Lock the file, load it into ``msal_cache``, yield that, and write it back if msal changed it."""
        cache = self.msal_cache
        if self._file is None:
            yield cache
            return
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self._file.locked())
            except (IOError, OSError) as exc:
                raise ConfigurationError("Cannot use the token cache directory %s (%s): make it a directory only you "
                                         "can read and write, set token_cache_dir, or set token_cache=false."
                                         % (self._file.directory, exc.strerror or exc))
            text = self._file.read()
            if text:
                try:
                    cache.deserialize(text)
                except ValueError:
                    pass  # unreadable: start empty, it will be rewritten
            yield cache
            if cache.has_state_changed:
                try:
                    self._file.write(cache.serialize())
                except (IOError, OSError) as exc:
                    raise ConfigurationError("Cannot write the token cache in %s (%s): make it writable, set "
                                             "token_cache_dir, or set token_cache=false."
                                             % (self._file.directory, exc.strerror or exc))
                cache.has_state_changed = False

    def drop(self, client_ids):
        """Forget the access tokens of ``client_ids`` (call inside ``session``): the next request gets a new one."""
        cache = self.msal_cache
        for client_id in client_ids:
            kind = libraries.msal.TokenCache.CredentialType.ACCESS_TOKEN
            for entry in list(cache.search(kind, query={"client_id": client_id})):
                cache.remove_at(entry)
