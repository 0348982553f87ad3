# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transport floor: how InvokeCommand requests reach Exchange Online (REST and its token provider)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
