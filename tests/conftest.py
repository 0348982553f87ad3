"""Repository-wide pytest setup: make ``ansible_collections.m365.mailflow`` importable.

The collection must live at ``.../ansible_collections/m365/mailflow``. Instead of moving the checkout we keep a
symlink ``<repo>/.build/collections/ansible_collections/m365/mailflow -> <repo>`` (also made by ``make collection``),
put ``<repo>/.build/collections`` first on ``sys.path`` and export ``ANSIBLE_COLLECTIONS_PATH`` so subprocesses
(ansible-playbook, ansible-doc, modules run by ansible-runner) find the same copy.
"""

from __future__ import annotations

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".build", "collections")
COLLECTION_LINK = os.path.join(COLLECTIONS_ROOT, "ansible_collections", "m365", "mailflow")


def _ensure_collection_link() -> None:
    if os.path.realpath(COLLECTION_LINK) == os.path.realpath(REPO_ROOT):
        return
    os.makedirs(os.path.dirname(COLLECTION_LINK), exist_ok=True)
    if os.path.islink(COLLECTION_LINK):
        # stale link (e.g. the checkout was moved): replace it
        os.unlink(COLLECTION_LINK)
    elif os.path.exists(COLLECTION_LINK):
        raise RuntimeError("%s exists and is not a symlink to %s; remove it" % (COLLECTION_LINK, REPO_ROOT))
    tmp_link = "%s.%d.tmp" % (COLLECTION_LINK, os.getpid())
    os.symlink(REPO_ROOT, tmp_link)
    try:
        os.replace(tmp_link, COLLECTION_LINK)  # atomic, safe with pytest-xdist workers
    except OSError:
        os.unlink(tmp_link)
        if os.path.realpath(COLLECTION_LINK) != os.path.realpath(REPO_ROOT):
            raise


_ensure_collection_link()

if COLLECTIONS_ROOT in sys.path:
    sys.path.remove(COLLECTIONS_ROOT)
sys.path.insert(0, COLLECTIONS_ROOT)

_paths = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p and p != COLLECTIONS_ROOT]
os.environ["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join([COLLECTIONS_ROOT] + _paths)
