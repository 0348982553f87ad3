# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A file only its owner can read, shared by the processes of a run: the token cache and the tenant memo.

``PrivateFile(path)``: the file is created with mode 0600 in a directory of mode 0700, replaced atomically
(``write``), and read and changed under an exclusive lock (``locked``) held on a ``<path>.lock`` beside it, so that
concurrent Ansible forks see one consistent file. Every failure is an ``OSError`` (or ``IOError``); the caller decides
what it means (the token cache reports it, the memo carries on in memory).

The directory: created 0700 when missing. An existing directory of ours that others may read or enter is tightened
to 0700. A directory that is not ours (or a sticky shared one such as /tmp) and that others may read or write is
refused, never changed: its mode is not ours to change, and a file in a directory others can write may be replaced
under us.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import os
import stat
import tempfile

try:
    import fcntl
    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not on POSIX
    HAS_FCNTL = False


class SharedDirectoryError(OSError):
    """The directory is open to other users and is not ours to tighten."""


def private_directory(directory):
    """Create ``directory`` with mode 0700, or make sure an existing one is private (see module docstring)."""
    try:
        os.makedirs(directory, 0o700)
    except OSError:
        if not os.path.isdir(directory):  # another fork may have created it meanwhile
            raise
    info = os.stat(directory)
    if not info.st_mode & 0o077:
        return
    ours = not hasattr(os, "geteuid") or info.st_uid == os.geteuid()
    if ours and not info.st_mode & stat.S_ISVTX:
        os.chmod(directory, 0o700)
        return
    if info.st_mode & 0o022 or not ours:
        raise SharedDirectoryError(errno.EPERM, "the directory is shared with other users (mode %o%s)" % (
            stat.S_IMODE(info.st_mode), "" if ours else ", owned by another user"), directory)


class PrivateFile(object):
    """One 0600 file (see module docstring)."""

    def __init__(self, path):
        self.path = path
        self.directory = os.path.dirname(path)

    @contextlib.contextmanager
    def locked(self):
        """Hold the file's exclusive lock (the directory is made private first)."""
        private_directory(self.directory)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path + ".lock", flags, 0o600)
        try:
            if HAS_FCNTL:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield self
        finally:
            os.close(fd)  # releases the lock

    def read(self):
        """The file's text, or None when it does not exist or cannot be read."""
        try:
            with open(self.path, "r") as handle:
                return handle.read()
        except (IOError, OSError, UnicodeError):
            return None

    def write(self, text):
        """Replace the file with ``text`` atomically: a 0600 temporary file in the same directory, then a rename."""
        fd, tmp = tempfile.mkstemp(prefix=".%s-" % os.path.basename(self.path), dir=self.directory)  # created 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
