# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Attributes shared by m365.mailflow modules."""

    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying the tenant.
    support: full
    details:
      - No write call is made; the result predicts the object after the change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode).
    support: full
    details:
      - The diff holds only the properties that change, before and after.
  action_group:
    description: Use C(group/m365.mailflow.exchange) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - m365.mailflow.exchange
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - "The module runs on the host of the task, usually the control node (C(hosts: localhost) or
        C(delegate_to: localhost)), with the Python requirements installed there. It talks to Exchange Online over
        HTTPS (or to a sandbox tenant file), never to the managed host itself."
"""
