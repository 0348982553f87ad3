# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper action (tests/support/ansible_runner.py): write ``content`` to the controller file ``dest``.

What ``ansible.builtin.copy`` with ``content`` did for the tests, without running a module: a copy task cost as much
CPU as the module task whose result it saved. Found through ANSIBLE_ACTION_PLUGINS (ansible_env); not shipped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dest, content = self._task.args["dest"], self._task.args["content"]
        with open(dest, "w") as handle:
            handle.write(content)
        result.update(changed=False, dest=dest)
        return result
