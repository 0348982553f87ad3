# -*- coding: utf-8 -*-
"""What a task sent to the tenant, from the call summary of the sandbox or the emulator (``target.calls()``)."""

from __future__ import absolute_import, division, print_function


def writes(calls):
    """{cmdlet: count} of the calls that are not reads (every cmdlet but Get-*); None when there is no summary."""
    if not calls:
        return None
    return dict((k, v) for k, v in calls["cmdlets"].items() if not k.lower().startswith("get-"))
