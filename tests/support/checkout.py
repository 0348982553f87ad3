# -*- coding: utf-8 -*-
"""A fresh clone of the checkout under test, as CI sees it: a git repository whose only commit holds the files of the
working tree that git tracks or would track (tracked, and untracked but not ignored, with their working-tree content;
so a test of uncommitted work sees that work, and never .venv, .build, .sandbox or other ignored output)."""

from __future__ import absolute_import, division, print_function

import os
import subprocess

from tests.support.collection import REPO


def working_tree_files(repo=REPO):
    """Paths of ``repo`` that a commit of its working tree would hold (and that exist in the working tree)."""
    out = subprocess.run(["git", "-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, check=True, timeout=60).stdout
    names = sorted({name for name in out.split(b"\0") if name})
    return [name for name in names if os.path.lexists(os.path.join(repo.encode(), name))]


def fresh_clone(dest, repo=REPO):
    """Make ``dest`` (a path that does not exist yet) a clone of ``repo``'s working tree; return ``dest``."""
    dest = str(dest)
    os.makedirs(dest)
    archive = subprocess.run(["tar", "--null", "--no-recursion", "-T", "-", "-cf", "-"], cwd=repo,
                             input=b"\0".join(working_tree_files(repo)), capture_output=True, check=True,
                             timeout=120).stdout
    subprocess.run(["tar", "-xf", "-"], cwd=dest, input=archive, check=True, timeout=120)
    git = ["git", "-c", "user.name=tests", "-c", "user.email=tests@localhost", "-c", "init.defaultBranch=main",
           "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "--no-verify", "-m", "the checkout under test"]):
        subprocess.run(git + args, cwd=dest, capture_output=True, check=True, timeout=120)
    return dest
