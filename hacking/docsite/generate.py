#!/usr/bin/env python
"""The Markdown guides of docs/ as RST pages of the collection's docsite (docs/docsite/rst/), with pandoc.

The guides are written and tested (tests/integration/test_docs.py) in Markdown; antsibull-docs takes only RST for a
collection's extra docs. This script converts each guide listed in docs/docsite/extra-docs.yml (the toctree entries
are the guides' file names without .md) with pandoc (pinned through pypandoc-binary in tests/requirements-tools.txt,
so the output does not depend on the machine) and hacking/docsite/md2rst.lua.

    hacking/docsite/generate.py           write docs/docsite/rst/<guide>.rst (make docsite-rst)
    hacking/docsite/generate.py --check   exit 1 when a page is missing, stale or left over (make docs-lint)
"""

from __future__ import absolute_import, division, print_function

import argparse
import difflib
import os
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(REPO, "docs")
RST = os.path.join(DOCS, "docsite", "rst")
FILTER = os.path.join(REPO, "hacking", "docsite", "md2rst.lua")
HEADER = (".. Generated from docs/{name}.md by hacking/docsite/generate.py (make docsite-rst): edit the Markdown, not "
          "this file.\n\n")


def guides():
    with open(os.path.join(DOCS, "docsite", "extra-docs.yml")) as handle:
        index = yaml.safe_load(handle)
    names = []
    for section in index.get("sections") or []:
        for entry in section.get("toctree") or []:
            names.append(entry if isinstance(entry, str) else entry["ref"])
    return names


def blob_url():
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        galaxy = yaml.safe_load(handle)
    return galaxy["repository"].rstrip("/") + "/blob/main/"


def pandoc():
    import pypandoc  # pylint: disable=import-error
    return pypandoc.get_pandoc_path()


def convert(name, names, pandoc_path):
    env = dict(os.environ, MAILFLOW_GUIDE=name, MAILFLOW_GUIDES=" ".join(names), MAILFLOW_BLOB=blob_url())
    source = os.path.join(DOCS, name + ".md")
    proc = subprocess.run([pandoc_path, "--from", "gfm", "--to", "rst", "--wrap", "preserve", "--lua-filter", FILTER,
                           source], env=env, capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise SystemExit("docsite: pandoc failed on %s: %s" % (source, proc.stderr))
    return HEADER.format(name=name) + proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--check", action="store_true", help="only check that the pages are up to date")
    args = parser.parse_args()
    names = guides()
    missing = [n for n in names if not os.path.isfile(os.path.join(DOCS, n + ".md"))]
    if missing:
        print("docsite: extra-docs.yml lists guides without a docs/<name>.md: %s" % ", ".join(missing))
        return 1
    pandoc_path = pandoc()
    stale = []
    for name in names:
        path = os.path.join(RST, name + ".rst")
        want = convert(name, names, pandoc_path)
        have = None
        if os.path.exists(path):
            with open(path) as handle:
                have = handle.read()
        if have == want:
            continue
        if args.check:
            stale.append(path)
            diff = difflib.unified_diff((have or "").splitlines(True), want.splitlines(True), path, "generated")
            sys.stdout.writelines(list(diff)[:40])
        else:
            os.makedirs(RST, exist_ok=True)
            with open(path, "w") as handle:
                handle.write(want)
            print("docsite: wrote %s" % os.path.relpath(path, REPO))
    extra = sorted(f for f in os.listdir(RST) if f.endswith(".rst") and f[:-4] not in names) if os.path.isdir(RST) else []
    if extra:
        print("docsite: pages in docs/docsite/rst/ that extra-docs.yml does not list: %s" % ", ".join(extra))
        if args.check:
            return 1
    if stale:
        print("docsite: %d page(s) out of date with docs/*.md: %s; run make docsite-rst"
              % (len(stale), ", ".join(os.path.relpath(p, REPO) for p in stale)))
        return 1
    if args.check:
        print("docsite: docs/docsite/rst/ is up to date with the %d guides" % len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
