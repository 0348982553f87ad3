#!/usr/bin/env python
"""Fail unless meta/runtime.yml action_groups.exchange lists exactly the Exchange modules under plugins/modules/.

An Exchange module is one whose DOCUMENTATION extends the m365.mailflow.connection fragment (it takes the connection
options the group shares through module_defaults). A module that does not talk to Exchange Online (write_files, which
writes files on the controller) must not be in the group: module_defaults would hand it the connection options.

Usage: hacking/check-action-group.py [REPO_ROOT]
"""

from __future__ import annotations

import ast
import os
import sys

import yaml

GROUP = "exchange"
COLLECTION = "m365.mailflow"


def takes_connection(path):
    """Whether the module's DOCUMENTATION extends m365.mailflow.connection."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            doc = yaml.safe_load(node.value.value) or {}
            return COLLECTION + ".connection" in (doc.get("extends_documentation_fragment") or [])
    return False


def module_names(repo_root):
    modules_dir = os.path.join(repo_root, "plugins", "modules")
    names = set()
    if os.path.isdir(modules_dir):
        for entry in os.listdir(modules_dir):
            base, ext = os.path.splitext(entry)
            if ext == ".py" and base != "__init__" and not base.startswith("_") \
                    and takes_connection(os.path.join(modules_dir, entry)):
                names.add(base)
    return names


def group_names(repo_root):
    with open(os.path.join(repo_root, "meta", "runtime.yml"), encoding="utf-8") as handle:
        runtime = yaml.safe_load(handle) or {}
    entries = (runtime.get("action_groups") or {}).get(GROUP)
    if entries is None:
        return None
    names = set()
    for entry in entries:
        if isinstance(entry, dict):  # {metadata: {extend_group: [...]}}
            continue
        if entry.startswith(COLLECTION + "."):
            entry = entry[len(COLLECTION) + 1:]
        names.add(entry)
    return names


def main():
    repo_root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    modules = module_names(repo_root)
    group = group_names(repo_root)
    if group is None:
        sys.stderr.write("meta/runtime.yml: action_groups.%s is missing\n" % GROUP)
        return 1
    status = 0
    for name in sorted(modules - group):
        sys.stderr.write("plugins/modules/%s.py is not listed in meta/runtime.yml action_groups.%s\n" % (name, GROUP))
        status = 1
    for name in sorted(group - modules):
        sys.stderr.write("meta/runtime.yml action_groups.%s lists %s, but plugins/modules/%s.py does not exist or does not "
                         "take the connection options\n" % (GROUP, name, name))
        status = 1
    if status == 0:
        sys.stdout.write("action group %s.%s matches plugins/modules/ (%d modules)\n" % (COLLECTION, GROUP, len(modules)))
    return status


if __name__ == "__main__":
    sys.exit(main())
