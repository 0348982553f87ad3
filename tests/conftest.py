"""Repository-wide pytest setup: make ``ansible_collections.m365.mailflow`` importable.

The collection must live at ``.../ansible_collections/m365/mailflow``. Instead of moving the checkout we keep a
symlink ``<repo>/.build/collections/ansible_collections/m365/mailflow -> <repo>`` (also made by ``make collection``),
put ``<repo>/.build/collections`` first on ``sys.path`` and export ``ANSIBLE_COLLECTIONS_PATH`` so subprocesses
(ansible-playbook, ansible-doc, modules run by ansible-runner) find the same copy.
"""

from __future__ import annotations

import os
import sys

from tests.support.collection import ensure_collection_link

COLLECTIONS_ROOT = ensure_collection_link()

if COLLECTIONS_ROOT in sys.path:
    sys.path.remove(COLLECTIONS_ROOT)
sys.path.insert(0, COLLECTIONS_ROOT)

_paths = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p and p != COLLECTIONS_ROOT]
os.environ["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join([COLLECTIONS_ROOT] + _paths)
