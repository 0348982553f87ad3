# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run variables taken as data by the collection's action plugins (controller side).

An inline partner definition (``partner_definition``, an AWX survey answer) and a saved plan (``mailflow_plan``, an AWX
workflow artifact) are data like a partner file: they hold the partners' texts, and a ``{{ lookup('pipe', ...) }}`` in
one of them must neither run on the controller nor vanish. The action plugins read them from the task's variables
under the name the playbook gives (``definition_variable``, ``plan_variable``), before Ansible renders them, and copy
them as plain data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def raw(value):
    """A run variable's value as plain data: text as text (never rendered), containers copied as they are."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return dict((str(k), raw(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [raw(v) for v in value]
    return value


def empty(value):
    """Not given: null, empty or blank text, an empty list or mapping (as an empty AWX survey answer is)."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, (list, tuple, dict)) and not value)
