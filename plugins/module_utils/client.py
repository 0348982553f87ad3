# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one client every module uses: ``invoke(cmdlet, parameters)``.

It sits on a transport (REST or sandbox), turns responses into objects or typed
errors through ``wire.parse_response``, retries what may be retried and never
duplicates a write: after a transient failure of a write it reads back (through
the caller's ``verify``) before deciding whether to send the write again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import time

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from ansible_collections.m365.mailflow.plugins.module_utils.memo import TenantMemo
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    MailflowError,
    ThrottledError,
    TransientError,
)

MAX_PAGES = 100  # 100 pages of 1000 objects: far beyond any tenant's connectors or 300 rules


class Client(object):
    """Invoke cmdlets with bounded retries.

    ``retries`` is the number of retries after the first attempt (the real
    module uses 5). Backoff is ``retry_delay * 2**n`` (capped by
    ``max_retry_wait``) with a little jitter; a 429 waits ``Retry-After`` when
    the service gives it.
    """

    def __init__(self, transport, retries=5, retry_delay=2.0, max_retry_wait=60.0, sleep=None, log=None, memo=None):
        self.transport = transport
        # What the tasks of a run remember about the tenant (redirected host, our recent writes): see memo.py.
        self.memo = memo if memo is not None else TenantMemo()
        self.retries = max(0, int(retries))
        self.retry_delay = max(0.0, float(retry_delay))
        self.max_retry_wait = max(0.0, float(max_retry_wait))
        self._sleep = sleep or time.sleep
        self._log = log
        self.calls = []
        self.warnings = []
        self.retried = 0
        # Writes completed (answered, or proved applied by reading back). A read that must see every write of the task
        # compares this with the count at its own end: a read-back inside a write's retries comes before that write
        # completes, although ``calls`` lists it after the write.
        self.writes_done = 0

    # ------------------------------------------------------------------ helpers
    def _wait_for(self, error, attempt):
        if isinstance(error, ThrottledError) and error.retry_after is not None:
            wait = error.retry_after
        else:
            wait = self.retry_delay * (2 ** attempt)
            wait += random.uniform(0, wait * 0.1)
        return min(wait, self.max_retry_wait)

    def _debug(self, msg):
        if self._log:
            self._log(msg)

    def _collect(self, cmdlet, parsed):
        for warning in parsed.warnings:
            if warning == wire.PAGINATION_WARNING:
                continue
            self.warnings.append("%s: %s" % (cmdlet, warning))
        for err in parsed.errors:
            self.warnings.append("%s: %s" % (cmdlet, err))

    def _send(self, cmdlet, parameters, next_link=None, write=False, verify=None):
        """One request with bounded retries: the parsed response, or None when a write proved already applied.

        After a transient failure of a write, ``verify`` reads the tenant: True (applied: not sent again), False (not
        applied: sent again). When that read fails too, the outcome is still unknown, so the write is not sent again;
        the read is tried again after the next pause, within the same ``retries``, and when they run out the task
        fails saying that the write may or may not have been applied (it reads the tenant first when re-run).
        """
        attempt = 0
        uncertain = None  # the transient failure of an earlier attempt of this write, which may have applied it
        unread = None  # why reading the tenant back after such a failure failed: the outcome is still unknown
        error = None
        while True:
            if unread is None:
                try:
                    raw = self.transport.send(cmdlet, parameters, next_link=next_link)
                    return wire.parse_response(raw, cmdlet, getattr(self.transport, "principal", None))
                except ThrottledError as exc:
                    error = exc  # the service refused before doing any work: safe to resend
                except TransientError as exc:
                    if not exc.retryable:
                        raise  # already retried where it happened (the token endpoint); the request was never sent
                    error = exc
                    if write:
                        uncertain = uncertain or exc.msg
                    if write and verify is None:
                        raise self._unsure(cmdlet, exc)
                except MailflowError as exc:
                    # A refusal of a resent write ("already exists", "not found") may be the first attempt's own
                    # effect: say so, and let the caller decide what the task did (engine.ensure).
                    if uncertain is not None:
                        exc.earlier_attempt = uncertain
                    raise
            if attempt >= self.retries:
                if unread is not None:
                    raise self._unsure(cmdlet, error, "reading the tenant back to find out failed too: %s" % unread.msg)
                raise type(error)(
                    "%s (gave up after %d attempts)" % (error.msg, attempt + 1), cmdlet=cmdlet,
                    status=error.status, exception_type=error.exception_type, request_id=error.request_id)
            self._sleep(self._wait_for(unread or error, attempt))
            attempt += 1
            self.retried += 1
            if write and (unread is not None or isinstance(error, TransientError)):
                try:
                    applied = bool(verify())
                except MailflowError as exc:
                    unread = exc
                    self._debug("%s: outcome unknown after %s, and reading back failed: %s" % (cmdlet, error.msg, exc.msg))
                    continue
                unread = None
                if applied:
                    self._debug("%s: applied despite %s; not sent again" % (cmdlet, error.msg))
                    return None
            self._debug("%s: retry %d after %s" % (cmdlet, attempt, error.msg))

    @staticmethod
    def _unsure(cmdlet, error, more=None):
        """The failure of a write whose outcome is unknown: never sent again, reported as such."""
        return TransientError(
            "%s may or may not have been applied: %s%s. Re-run the task: it reads the tenant first and converges."
            % (cmdlet, error.msg, ("; " + more) if more else ""), cmdlet=cmdlet, status=error.status,
            exception_type=error.exception_type, request_id=error.request_id)

    # ------------------------------------------------------------------ public
    def invoke(self, cmdlet, parameters=None, write=False, verify=None):
        """Run ``cmdlet`` and return the list of objects it returned (every page).

        For a write, ``verify`` is a callable that reads the tenant and returns
        True when the write has already taken effect; it is called after a
        transient failure (503/504/500 or a network error) before any resend.
        Without ``verify``, or when reading back fails too, a write is not
        resent after such a failure.
        """
        parameters = dict(parameters or {})
        self.calls.append({"cmdlet": cmdlet, "parameters": parameters})
        parsed = self._send(cmdlet, parameters, write=write, verify=verify)
        if write:
            self.writes_done += 1
        if parsed is None:
            return []
        objects = []
        pages = 0
        while True:
            self._collect(cmdlet, parsed)
            objects.extend(parsed.objects)
            pages += 1
            if not parsed.next_link or pages >= MAX_PAGES:
                return objects
            parsed = self._send(cmdlet, parameters, next_link=parsed.next_link)

    def pause(self, attempt):
        """Wait before looking again for an object replication has not made visible yet (bounded backoff)."""
        self._sleep(min(max(self.retry_delay, 0.05) * (2 ** attempt), self.max_retry_wait))

    def close(self):
        self.transport.close()
