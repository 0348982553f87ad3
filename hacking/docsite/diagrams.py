#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Mermaid diagrams of the docs: the demo world's mail flow, and rendering with the Mermaid CLI.

The demo world is the sandbox tenant of `make demo`: the example partners (examples/partners/*.yml, the files
onboarding and the drift report use without an inventory) onboarded into an empty sandbox. Here they are seeded with
``sandbox_seed`` (the objects onboarding makes, through the modules' own path) into a temporary tenant, read once with
``tenant_view.summarise`` (mail_flow_info's result) and drawn with ``diagram.mermaid`` as the export and the drift
report draw a tenant without an inventory (title ``sandbox``).

docs/*.md show diagrams as ```mermaid fenced blocks (GitHub and GitLab render them); the docs site shows them as
SVG images rendered at build time (hacking/docsite/md2rst.lua turns the n-th mermaid block of a guide into the image
``<guide>-mermaid-<n>.svg``). A block whose marker is ``<!-- doc-test: mermaid demo-world -->`` must be the demo
world's diagram as the code draws it now: the docs build and tests/integration/test_docs.py fail otherwise.

    hacking/docsite/diagrams.py render DIR   check, then render every mermaid block of the guides to DIR (build.sh)
    hacking/docsite/diagrams.py check        only check that the demo-world blocks and the golden file are current
    hacking/docsite/diagrams.py update       rewrite the demo-world blocks of docs/*.md and the golden file
                                             tests/unit/fixtures/diagram_demo_world.mmd from the code
    hacking/docsite/diagrams.py print        print the demo world's diagram

Rendering uses the Mermaid CLI of hacking/mermaid-cli.sh (.build/mermaid, make mermaid-cli) with Debian's Chromium
(hacking/system-deps.sh); no network. ``render`` is also what tests/support/mermaid.py uses to check diagrams with
Mermaid's own parser.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
DOCS = os.path.join(REPO, "docs")
GOLDEN = os.path.join(REPO, "tests", "unit", "fixtures", "diagram_demo_world.mmd")
DEMO_PARTNERS = [os.path.join(REPO, "examples", "partners", name + ".yml") for name in ("adatum", "fabrikam", "litware")]
DEMO_TITLE = "sandbox"
MMDC = os.path.join(REPO, ".build", "mermaid", "node_modules", ".bin", "mmdc")
BROWSERS = ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium")
RENDER_TIMEOUT = 300
_FENCE = re.compile(r"^\s*```mermaid\s*$")
_MARKER = re.compile(r"^\s*<!-- doc-test: (?P<spec>.*?) -->\s*$")


class RenderError(Exception):
    pass


# --------------------------------------------------------------------------------------------------- demo world

def _collection():
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)
    if not os.path.exists(os.path.join(COLLECTIONS, "ansible_collections", "m365", "mailflow", "galaxy.yml")):
        raise SystemExit("diagrams: %s/ansible_collections/m365/mailflow missing; run make collection" % COLLECTIONS)


def demo_world_info(partner_files=None):
    """mail_flow_info's result for the demo world: the partner files seeded into a temporary sandbox tenant."""
    _collection()
    from ansible_collections.m365.mailflow.plugins.module_utils import sandbox_seed  # pylint: disable=import-error
    from ansible_collections.m365.mailflow.plugins.module_utils.connection import connect  # pylint: disable=import-error
    from ansible_collections.m365.mailflow.plugins.module_utils.resources import tenant_view  # pylint: disable=import-error
    workdir = tempfile.mkdtemp(prefix="mailflow-demo-world-")
    try:
        params = dict(sandbox=os.path.join(workdir, "tenant.db"), retries=1, retry_delay=0.01, timeout=60,
                      token_cache=False, tenant_domain=None, accepted_domains=None, recipients=None, network=None,
                      objects=None, objects_files=list(partner_files or DEMO_PARTNERS))
        sandbox_seed.run(params)
        return tenant_view.summarise(connect(params))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def demo_world_diagram():
    _collection()
    from ansible_collections.m365.mailflow.plugins.module_utils import diagram  # pylint: disable=import-error
    return diagram.mermaid(demo_world_info(), title=DEMO_TITLE)


# --------------------------------------------------------------------------------------------------- docs blocks

def guides():
    with open(os.path.join(DOCS, "docsite", "extra-docs.yml")) as handle:
        index = yaml.safe_load(handle)
    return [entry if isinstance(entry, str) else entry["ref"]
            for section in index.get("sections") or [] for entry in section.get("toctree") or []]


def mermaid_blocks(path):
    """[(number from 1, marker spec or None, first line index, end line index, text)] of the ```mermaid blocks."""
    with open(path) as handle:
        lines = handle.read().split("\n")
    out, index = [], 0
    while index < len(lines):
        if _FENCE.match(lines[index]):
            end = index + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            marker = _MARKER.match(lines[index - 1]) if index > 0 else None
            out.append((len(out) + 1, marker.group("spec") if marker else None, index, end,
                        "\n".join(lines[index + 1:end]) + "\n"))
            index = end
        index += 1
    return out


def stale(current):
    """Messages for every demo-world block of the guides (and the golden file) that differs from ``current``."""
    problems = []
    for name in guides():
        path = os.path.join(DOCS, name + ".md")
        for number, spec, first, _end, text in mermaid_blocks(path):
            if spec == "mermaid demo-world" and text != current:
                problems.append("docs/%s.md line %d: the demo world's diagram is out of date" % (name, first + 1))
    with open(GOLDEN) as handle:
        if handle.read() != current:
            problems.append("%s: out of date" % os.path.relpath(GOLDEN, REPO))
    return problems


def update(current):
    for name in guides():
        path = os.path.join(DOCS, name + ".md")
        with open(path) as handle:
            lines = handle.read().split("\n")
        for _number, spec, first, end, _text in reversed(mermaid_blocks(path)):
            if spec == "mermaid demo-world":
                lines[first + 1:end] = current.rstrip("\n").split("\n")
        with open(path, "w") as handle:
            handle.write("\n".join(lines))
    with open(GOLDEN, "w") as handle:
        handle.write(current)


# --------------------------------------------------------------------------------------------------- rendering

def browser():
    for candidate in (os.environ.get("MAILFLOW_CHROMIUM"),) + BROWSERS:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def missing_tools():
    """What rendering lacks (empty when it can run)."""
    missing = []
    if not os.access(MMDC, os.X_OK):
        missing.append("the Mermaid CLI (%s: make mermaid-cli)" % os.path.relpath(MMDC, REPO))
    if browser() is None:
        missing.append("Chromium (%s: hacking/system-deps.sh)" % " or ".join(BROWSERS))
    return missing


def render(texts, dest, html_labels=True, fmt="svg"):
    """Render each Mermaid text of ``texts`` with the Mermaid CLI (one browser for all) into ``dest``; returns the
    image paths in order. Raises RenderError with Mermaid's message when a diagram does not parse."""
    missing = missing_tools()
    if missing:
        raise RenderError("cannot render Mermaid: missing %s" % ", ".join(missing))
    os.makedirs(dest, exist_ok=True)
    work = tempfile.mkdtemp(prefix="mailflow-mmdc-")
    try:
        source = os.path.join(work, "diagrams.md")
        with open(source, "w") as handle:
            handle.write("".join("```mermaid\n%s```\n\n" % text for text in texts))
        executable = browser()
        puppeteer = {"executablePath": executable, "args": ["--no-sandbox", "--disable-gpu"],
                     "headless": "shell" if executable.endswith("headless-shell") else True}
        config = {"flowchart": {"htmlLabels": bool(html_labels)}, "htmlLabels": bool(html_labels)}
        for name, data in (("puppeteer.json", puppeteer), ("mermaid.json", config)):
            with open(os.path.join(work, name), "w") as handle:
                json.dump(data, handle)
        command = [MMDC, "--quiet", "-p", os.path.join(work, "puppeteer.json"), "-c", os.path.join(work, "mermaid.json"),
                   "-i", source, "-o", os.path.join(work, "out.md"), "-a", work, "-e", fmt, "-b", "white"]
        env = dict(os.environ, PUPPETEER_SKIP_DOWNLOAD="1")
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=RENDER_TIMEOUT, env=env, check=False)
        except subprocess.TimeoutExpired:
            raise RenderError("mmdc did not finish within %d s" % RENDER_TIMEOUT)
        if proc.returncode != 0:
            raise RenderError("mmdc failed (exit %d): %s%s" % (proc.returncode, proc.stderr[-4000:], proc.stdout[-2000:]))
        paths = []
        for number in range(1, len(texts) + 1):
            made = os.path.join(work, "out-%d.%s" % (number, fmt))
            if not os.path.exists(made):
                raise RenderError("mmdc made no %s; it said: %s" % (os.path.basename(made), proc.stderr[-2000:]))
            target = os.path.join(dest, "diagram-%d.%s" % (number, fmt))
            shutil.move(made, target)
            paths.append(target)
        return paths
    finally:
        shutil.rmtree(work, ignore_errors=True)


def render_docs(dest):
    """Every mermaid block of the guides as ``dest/<guide>-mermaid-<n>.svg`` (the names md2rst.lua links to), after
    checking that the demo-world blocks are current."""
    problems = stale(demo_world_diagram())
    if problems:
        raise SystemExit("diagrams: %s; run hacking/docsite/diagrams.py update" % "; ".join(problems))
    jobs = [("%s-mermaid-%d.svg" % (name, number), text) for name in guides()
            for number, _spec, _first, _end, text in mermaid_blocks(os.path.join(DOCS, name + ".md"))]
    if not jobs:
        return []
    work = tempfile.mkdtemp(prefix="mailflow-docs-diagrams-")
    try:
        # SVG text labels (no HTML in a foreignObject): the page shows the file with <img>.
        made = render([text for _name, text in jobs], work, html_labels=False)
        os.makedirs(dest, exist_ok=True)
        for (name, _text), path in zip(jobs, made):
            shutil.move(path, os.path.join(dest, name))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [os.path.join(dest, name) for name, _text in jobs]


def main(argv):
    if len(argv) < 1 or argv[0] not in ("render", "check", "update", "print") or (argv[0] == "render") != (len(argv) == 2):
        sys.stderr.write(__doc__)
        return 2
    if argv[0] == "render":
        try:
            paths = render_docs(argv[1])
        except RenderError as exc:
            sys.stderr.write("diagrams: %s\n" % exc)
            return 1
        print("diagrams: rendered %s" % ", ".join(os.path.basename(p) for p in paths))
        return 0
    current = demo_world_diagram()
    if argv[0] == "print":
        sys.stdout.write(current)
        return 0
    if argv[0] == "update":
        update(current)
        print("diagrams: wrote the demo world's diagram into the docs and %s" % os.path.relpath(GOLDEN, REPO))
        return 0
    problems = stale(current)
    for problem in problems:
        print("diagrams: %s" % problem)
    if problems:
        print("diagrams: run hacking/docsite/diagrams.py update")
        return 1
    print("diagrams: the demo world's diagram is current in %d guide block(s) and the golden file" % sum(
        1 for name in guides() for b in mermaid_blocks(os.path.join(DOCS, name + ".md")) if b[1] == "mermaid demo-world"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
