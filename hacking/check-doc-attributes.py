#!/usr/bin/env python
"""Every module documents its attributes completely, through the shared fragment (called by check-docs.sh).

Reads the JSON ansible-doc prints for the given modules on stdin and checks, for each module:

- its DOCUMENTATION extends ``m365.mailflow.attributes`` (one place for the shared attributes), when it is an
  Exchange module (it extends ``m365.mailflow.connection``);
- the rendered doc has the attributes ``check_mode``, ``diff_mode``, ``platform`` and ``action_group``, each with a
  description and a support level, ``platform`` with its ``platforms`` and ``action_group`` with the membership
  ``m365.mailflow.exchange`` (an Exchange module); any other module (such as ``write_files``, which is not in the
  group) has no ``action_group`` attribute.

Exits 1 and names each problem otherwise.
"""

from __future__ import absolute_import, division, print_function

import ast
import json
import os
import sys

import yaml

REQUIRED = ("check_mode", "diff_mode", "platform", "action_group")
SUPPORT = ("full", "partial", "none", "N/A")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def source_fragments(name):
    path = os.path.join(REPO, "plugins", "modules", name + ".py")
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value).get("extends_documentation_fragment") or []
    return []


def problems(docs):
    found = []
    for fqcn, entry in sorted(docs.items()):
        name = fqcn.split(".")[-1]
        fragments = source_fragments(name)
        exchange = "m365.mailflow.connection" in fragments
        if exchange and "m365.mailflow.attributes" not in fragments:
            found.append("%s: DOCUMENTATION does not extend m365.mailflow.attributes" % fqcn)
        attributes = (entry.get("doc") or {}).get("attributes") or {}
        for key in REQUIRED if exchange else [k for k in REQUIRED if k != "action_group"]:
            attribute = attributes.get(key)
            if not attribute:
                found.append("%s: attribute %s missing" % (fqcn, key))
                continue
            if not attribute.get("description"):
                found.append("%s: attribute %s has no description" % (fqcn, key))
            if attribute.get("support") not in SUPPORT:
                found.append("%s: attribute %s has support %r, not one of %s"
                             % (fqcn, key, attribute.get("support"), ", ".join(SUPPORT)))
        if attributes.get("platform") and not attributes["platform"].get("platforms"):
            found.append("%s: attribute platform does not say which platforms" % fqcn)
        group = attributes.get("action_group")
        if group and exchange and "m365.mailflow.exchange" not in (group.get("membership") or []):
            found.append("%s: attribute action_group does not name m365.mailflow.exchange" % fqcn)
        if group and not exchange:
            found.append("%s: takes no connection options, so it is in no action group: drop attribute action_group"
                         % fqcn)
    return found


def main():
    docs = json.load(sys.stdin)
    if len(sys.argv) > 1:
        missing = sorted(set(sys.argv[1:]) - set(docs))
        if missing:
            print("check-doc-attributes: ansible-doc returned nothing for %s" % ", ".join(missing))
            return 1
    found = problems(docs)
    for line in found:
        print("check-doc-attributes: FAILED  " + line)
    if not found:
        print("check-doc-attributes: ok      %d module(s) document %s (action_group: the Exchange modules)"
              % (len(docs), ", ".join(REQUIRED)))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
