# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors raised by the m365.mailflow backend.

Every failure that reaches a module is one of these, so a module can turn it
into a ``fail_json`` with an actionable message and never a traceback.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class MailflowError(Exception):
    """Base class. ``msg`` is the human message; the other attributes give context."""

    retryable = False
    # Set by the client when an earlier attempt of the same write failed in a way that may have applied it (a 5xx or
    # a network failure after the request was sent): "already exists" or "not found" may then be our own doing.
    earlier_attempt = None
    # Set when the task changed the tenant before it failed (for example created an object it then could not read).
    changed = False

    def __init__(self, msg, cmdlet=None, status=None, exception_type=None, request_id=None, details=None):
        super(MailflowError, self).__init__(msg)
        self.msg = msg
        self.cmdlet = cmdlet
        self.status = status
        self.exception_type = exception_type
        self.request_id = request_id
        self.details = details

    def to_result(self):
        """Extra keys safe to put in a module result (never secrets)."""
        result = {}
        for key in ("cmdlet", "status", "exception_type", "request_id"):
            value = getattr(self, key)
            if value is not None:
                result[key if key != "status" else "http_status"] = value
        if self.changed:
            result["changed"] = True
        return result


class ConfigurationError(MailflowError):
    """Bad or contradictory input, detected before any call to the tenant. ``details``: the ``Problem`` records."""


class Problem(str):
    """One problem with the input, as a record: ``path`` (the option it is about, ``tls_domain``,
    ``conditions.sender_ip_ranges``; '' for the whole object), ``message`` (what is wrong and the fix, without the
    path), ``entry`` (the index of the list entry it is about, or None), ``related`` (the other options a rule
    between options involves: ``tls_settings`` for a problem at ``tls_domain``). As text it reads ``path: message``,
    so it can be shown as it is; callers that place it elsewhere (the partner files: ``outbound.tls_domain``) use the
    record and never parse the text."""

    def __new__(cls, path, message, entry=None, related=()):
        self = str.__new__(cls, "%s: %s" % (path, message) if path else message)
        self.path = path or ""
        self.message = message
        self.entry = entry
        self.related = tuple(related)
        return self

    def __reduce__(self):
        return (Problem, (self.path, self.message, self.entry, self.related))

    @classmethod
    def of(cls, path, text, entry=None):
        """A Problem from a check's text, which names ``path`` first by convention (``'path: ...'``)."""
        if isinstance(text, Problem):
            return text if entry is None or text.entry is not None else cls(text.path, text.message, entry)
        prefix = "%s: " % path
        if path and text.startswith(prefix):
            return cls(path, text[len(prefix):], entry)
        return cls(path, text, entry)


class NotFoundError(MailflowError):
    """The service said the object does not exist (ManagementObjectNotFoundException / 404)."""


class InvalidParameterError(MailflowError):
    """The service rejected a parameter, a parameter set or a combination of values."""


class DuplicateError(MailflowError):
    """The service says an object with that name already exists."""


class AuthenticationError(MailflowError):
    """No valid token: wrong credentials, expired token, or missing Exchange.ManageAsApp."""


class PermissionDeniedError(MailflowError):
    """Authenticated, but the identity lacks the Exchange role the cmdlet needs."""


class ThrottledError(MailflowError):
    """HTTP 429. ``retry_after`` is in seconds when the service said so."""

    retryable = True

    def __init__(self, msg, retry_after=None, **kwargs):
        super(ThrottledError, self).__init__(msg, **kwargs)
        self.retry_after = retry_after


class TransientError(MailflowError):
    """503/504/500 or a named transient Exchange exception, or a network failure."""

    retryable = True


class DependencyError(MailflowError):
    """A Python library the chosen connection method needs is not installed."""
