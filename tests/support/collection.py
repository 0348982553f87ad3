# -*- coding: utf-8 -*-
"""The collection link: ``<repo>/.build/collections/ansible_collections/m365/mailflow -> <repo>`` (also made by
``make collection``), through which pytest, ansible-playbook and ansible-doc import this checkout."""

from __future__ import absolute_import, division, print_function

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
COLLECTION_LINK = os.path.join(COLLECTIONS, "ansible_collections", "m365", "mailflow")


def ensure_collection_link():
    """Make (or repair) the link to this checkout and return the collections root for ANSIBLE_COLLECTIONS_PATH."""
    if os.path.realpath(COLLECTION_LINK) == os.path.realpath(REPO):
        return COLLECTIONS
    os.makedirs(os.path.dirname(COLLECTION_LINK), exist_ok=True)
    if os.path.islink(COLLECTION_LINK):
        # stale link (e.g. the checkout was moved): replace it
        os.unlink(COLLECTION_LINK)
    elif os.path.exists(COLLECTION_LINK):
        raise RuntimeError("%s exists and is not a symlink to %s; remove it" % (COLLECTION_LINK, REPO))
    tmp_link = "%s.%d.tmp" % (COLLECTION_LINK, os.getpid())
    os.symlink(REPO, tmp_link)
    try:
        os.replace(tmp_link, COLLECTION_LINK)  # atomic, safe with pytest-xdist workers
    except OSError:
        os.unlink(tmp_link)
        if os.path.realpath(COLLECTION_LINK) != os.path.realpath(REPO):
            raise
    return COLLECTIONS
