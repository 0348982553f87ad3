#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: write_files
short_description: Write a set of text files under one directory on the controller, in one task
version_added: 0.1.0
description:
  - Writes every file of O(files) under the directory O(dest) in one task, on the controller. The export and drift
    report playbooks write their files with it.
  - A file is written only when its bytes or its mode differ from what is there; the task reports C(changed) only
    then, so writing the same content again changes nothing and leaves the files untouched (byte-identical, same
    modification time).
  - Each file is written to a temporary file beside it and renamed over it, so a reader never sees a half-written
    file.
  - Every path is checked before anything is written. A path that is absolute, has C(.) or C(..) parts, leads
    outside O(dest) through a symbolic link, names a directory, or is given twice is refused, and nothing is
    written.
  - Missing directories (O(dest) and the folders of the paths) are created with O(directory_mode).
author:
  - m365.mailflow contributors (@m365-mailflow)
options:
  dest:
    description:
      - The directory the files are written under, on the controller.
    type: path
    required: true
  files:
    description:
      - The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - The file's path relative to O(dest), such as V(adatum.yml) or V(tenant_a/adatum.yml).
        type: str
        required: true
      content:
        description:
          - The file's text, written as UTF-8 exactly as given (no newline is added).
          - Exactly one of O(files[].content) and O(files[].json) is given.
        type: raw
      json:
        description:
          - Data written as JSON text (keys sorted, indented by 2, ASCII, one newline at the end), serialised by the
            action itself. Use it instead of O(files[].content) for JSON files, because ansible-core before 2.19
            turns a templated string that looks like JSON back into data before the action sees it.
        type: raw
  mode:
    description:
      - The permission mode of the files, in octal (quote it, V('0644')). A file whose mode differs is changed.
    type: raw
    default: '0644'
  directory_mode:
    description:
      - The permission mode of the directories this task creates, in octal. Existing directories are left as they
        are.
    type: raw
    default: '0755'
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying the files.
    support: full
    details:
      - Nothing is written; the result says which files would be created or updated.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode).
    support: full
    details:
      - One diff per file that changes, its content before and after.
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on
      the controller.
    support: full
    details:
      - The whole task runs on the controller; nothing is sent to the host of the task.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - The files are written on the controller, whatever the host of the task is.
notes:
  - Files in O(dest) that O(files) does not name are left as they are.
  - It is not in the C(group/m365.mailflow.exchange) action group; it does not talk to Exchange Online.
seealso:
  - name: ansible.builtin.copy
    description: Copies one file per task (and per loop item), to the managed host.
    link: https://docs.ansible.com/ansible/latest/collections/ansible/builtin/copy_module.html
"""

EXAMPLES = r"""
- name: Write the exported partner files of a tenant, each only when its content changed
  m365.mailflow.write_files:
    dest: exported/tenant_a
    files:
      - path: adatum.yml
        content: "{{ adatum | to_nice_yaml }}"
      - path: unmanaged.yml
        content: "---\n[]\n"
"""

RETURN = r"""
dest:
  description: The real path of O(dest).
  returned: success
  type: str
files:
  description: Each file of O(files), in order, and what was done with it.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The path as given in O(files).
      type: str
    dest:
      description: The file's full path.
      type: str
    state:
      description: V(created), V(updated), V(mode changed) or V(unchanged) (what would be done, in check mode).
      type: str
  sample: [{"path": "adatum.yml", "dest": "/srv/exported/tenant_a/adatum.yml", "state": "unchanged"}]
created:
  description: The number of files created (or that would be).
  returned: success
  type: int
updated:
  description: The number of existing files rewritten or given a new mode (or that would be).
  returned: success
  type: int
unchanged:
  description: The number of files left as they are.
  returned: success
  type: int
"""
