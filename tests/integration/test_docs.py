# -*- coding: utf-8 -*-
"""Docs as tests: every fenced block of README.md and docs/*.md says how it is tested, and those that can run do.

The line before each fenced block is a marker, ``<!-- doc-test: KIND [ARGS] -->`` (invisible when rendered):

- ``sh [ID]``: shell commands, run as written with bash (``set -euo pipefail``) in a copy of the documented layout:
  the repository's playbooks and examples, ``partners/`` (the examples), ``inventory/tenants.yml`` from the docs with
  ``contoso`` given a sandbox tenant, ``.venv`` (the venv running the tests) and ``.build/collections`` as ``make``
  makes them, and ``EXO_SANDBOX`` pointing into the copy (so the no-inventory runs never touch the checkout's
  ``.sandbox/``);
- ``play``: a playbook; all of them run in one ``ansible-playbook`` run, with ``module_defaults`` connection settings
  replaced by a sandbox tenant;
- ``partner FILE``: a partner definition; checked (``m365.mailflow.partner_definitions``) against a sandbox tenant;
- ``check-file FILE`` and ``check-output FILE``: a partner file and the exact problems the check reports for it;
- ``file PATH``: a file of the documented layout, written into the copy;
- ``mermaid demo-world``: the mail flow diagram of the demo world, exactly as diagram.mermaid draws it now
  (hacking/docsite/diagrams.py update rewrites it; the docs site shows it as an image rendered at build time);
- ``output``: sample output, not run; ``skip: REASON``: cannot run here, and why.

A block without a marker fails ``test_every_block_says_how_it_is_tested``, so new docs cannot silently go untested.
"""

from __future__ import absolute_import, division, print_function

import glob
import json
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest
import yaml

from tests.integration.conftest import emulator_defaults
from tests.support.ansible_runner import BIN, REPO, ansible_env
from tests.support.mermaid import DIAGRAMS

DOCS = ["README.md"] + sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "docs", "*.md")))
KINDS = ("sh", "play", "partner", "check-file", "check-output", "file", "mermaid", "output", "skip:")
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")
_MARKER = re.compile(r"^\s*<!-- doc-test: (?P<spec>.*?) -->\s*$")


class Block(object):
    def __init__(self, path, line, heading, lang, marker, text):
        self.path, self.line, self.heading, self.lang, self.marker, self.text = path, line, heading, lang, marker, text
        parts = (marker or "").split(None, 1)
        self.kind = parts[0] if parts else None
        self.arg = parts[1].strip() if len(parts) > 1 else ""

    @property
    def id(self):
        return "%s:%d" % (self.path, self.line)

    def __repr__(self):
        return "%s (%s, %s)" % (self.id, self.heading, self.marker)


def blocks():
    out = []
    for path in DOCS:
        with open(os.path.join(REPO, path)) as handle:
            lines = handle.read().split("\n")
        heading, index = "", 0
        while index < len(lines):
            line = lines[index]
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
            match = _FENCE.match(line)
            if match:
                indent = match.group("indent")
                end = index + 1
                while end < len(lines) and lines[end].strip() != "```":
                    end += 1
                body = [text[len(indent):] if text.startswith(indent) else text.lstrip() for text in lines[index + 1:end]]
                marker = _MARKER.match(lines[index - 1]) if index > 0 else None
                out.append(Block(path, index + 1, heading, match.group("lang"), marker.group("spec") if marker else None,
                                 "\n".join(body) + "\n"))
                index = end
            index += 1
    return out


BLOCKS = blocks()


def of_kind(kind):
    return [b for b in BLOCKS if b.kind == kind]


def test_every_block_says_how_it_is_tested():
    assert len(BLOCKS) >= 20
    unmarked = [b for b in BLOCKS if b.kind is None]
    assert not unmarked, "fenced blocks without a <!-- doc-test: ... --> marker: %s" % unmarked
    unknown = [b for b in BLOCKS if b.kind not in KINDS]
    assert not unknown, "unknown doc-test kinds: %s" % unknown
    assert all(b.arg for b in BLOCKS if b.kind == "skip:"), "a skipped block must say why"
    # Every command and snippet that can run is run: the test below runs each of these.
    assert len(of_kind("sh")) >= 6 and len(of_kind("play")) >= 2


def test_documented_diagrams_are_the_demo_world_as_the_code_draws_it():
    diagrams = of_kind("mermaid")
    assert diagrams and all(b.arg == "demo-world" and b.lang == "mermaid" for b in diagrams), diagrams
    current = DIAGRAMS.demo_world_diagram()
    for block in diagrams:
        assert block.text == current, "%s is out of date: run hacking/docsite/diagrams.py update" % block


# --------------------------------------------------------------------------------------------------- the layout

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the layout the docs describe, in which their commands run as written."""
    root = tmp_path_factory.mktemp("docs-project")
    shutil.copytree(os.path.join(REPO, "playbooks"), str(root / "playbooks"))
    shutil.copytree(os.path.join(REPO, "examples"), str(root / "examples"))
    shutil.copytree(os.path.join(REPO, "examples", "partners"), str(root / "partners"))
    os.symlink(sys.prefix, str(root / ".venv"))  # the venv running the tests (.venv, .venv-2.17, ...)
    link = root / ".build" / "collections" / "ansible_collections" / "m365"
    link.mkdir(parents=True)
    os.symlink(REPO, str(link / "mailflow"))
    (root / ".sandbox").mkdir()
    for block in of_kind("file"):
        target = root / block.arg
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.text)
    host_vars = root / "inventory" / "host_vars"
    host_vars.mkdir(parents=True, exist_ok=True)
    (host_vars / "contoso.yml").write_text(yaml.safe_dump({
        "mailflow_connection": {"sandbox": str(root / ".sandbox" / "contoso.db")},
        "mailflow_validation": {"probe_timeout": 1},
    }))
    return root


def project_env(root):
    return ansible_env({"EXO_SANDBOX": str(root / ".sandbox" / "tenant.db")}, home=str(root))


def bash(text, cwd, env, timeout=900):
    return subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=str(cwd), env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.mark.parametrize("block", [b for b in of_kind("sh") if not b.arg], ids=lambda b: b.id)
def test_documented_commands_run(project, block):
    proc = bash(block.text, project, project_env(project))
    assert proc.returncode == 0, "%s\n%s\n%s" % (block, proc.stdout[-4000:], proc.stderr[-3000:])
    assert "PLAY RECAP" in proc.stdout, proc.stdout[-2000:]


def test_certificate_commands_leave_the_private_key_readable_by_the_owner_only(tmp_path):
    block = [b for b in of_kind("sh") if b.arg == "pem"]
    assert len(block) == 1
    proc = bash("umask 022\n" + block[0].text, tmp_path, dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    pem = (tmp_path / "app.pem").read_text()
    assert "PRIVATE KEY-----" in pem and "BEGIN CERTIFICATE-----" in pem
    for name in ("app.key", "app.pem"):
        mode = stat.S_IMODE(os.stat(str(tmp_path / name)).st_mode)
        assert mode & 0o077 == 0, "%s is mode %o: readable by others" % (name, mode)


# --------------------------------------------------------------------------------------------------- snippets

def sandboxed(plays, root, index):
    """A play's module_defaults connection settings replaced by a sandbox tenant of its own."""
    out = []
    for number, play in enumerate(plays):
        play = dict(play)
        defaults = dict(play.get("module_defaults") or {})
        if "group/m365.mailflow.exchange" in defaults:
            defaults["group/m365.mailflow.exchange"] = {"sandbox": str(root / ".sandbox" / ("play-%d-%d.db" % (index, number)))}
            play["module_defaults"] = defaults
        out.append(play)
    return out


def test_documented_snippets_run(project):
    """Every play, partner definition and check example of the docs, in one ansible-playbook run."""
    results = project / "snippet-results"
    results.mkdir()
    checks = []
    for block in of_kind("check-file") + of_kind("partner"):
        (project / block.arg).write_text(block.text)
    for index, block in enumerate(of_kind("partner") + of_kind("check-output")):
        task = {"name": "check %s" % block.id, "register": "r%d" % index, "ignore_errors": True,
                "m365.mailflow.partner_definitions": {"files": [block.arg]}}
        if block.kind == "partner":
            task["m365.mailflow.partner_definitions"]["connection"] = {
                "sandbox": str(project / ".sandbox" / ("partner-%d.db" % index))}
        else:
            task["m365.mailflow.partner_definitions"]["read_tenant"] = False
        checks.append(task)
        checks.append({"name": "save %d" % index, "mailflow_test_save": {  # tests/support/action_plugins
            "dest": str(results / ("%d.json" % index)), "content": "{{ r%d | to_json }}" % index}})
    plays = [{"name": "docs checks", "hosts": "localhost", "gather_facts": False,
              "vars": {"ansible_python_interpreter": sys.executable}, "tasks": checks}]
    for index, block in enumerate(of_kind("play")):
        plays.extend(sandboxed(yaml.safe_load(block.text), project, index))
    path = project / "doc-snippets.yml"
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "inventory/tenants.yml", str(path)],
                          cwd=str(project), env=project_env(project), capture_output=True, text=True, timeout=900,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", proc.stdout, re.M):
        assert " failed=0 " in counters + " ", (host, counters)
    for index, block in enumerate(of_kind("partner") + of_kind("check-output")):
        with open(str(results / ("%d.json" % index))) as handle:
            result = json.load(handle)
        if block.kind == "partner":
            assert not result.get("failed"), (block, result.get("msg"))
            assert result["partners"][0]["source"] == block.arg
        else:
            expected = [line for line in block.text.splitlines() if line.strip()]
            assert result.get("problems") == expected, "%s\nthe check says:\n%s" % (
                block, "\n".join(result.get("problems") or [result.get("msg", "")]))
    assert "Adatum inbound" in json.dumps(objects_names(project / ".sandbox" / "contoso.db"))  # the role snippet ran


def objects_names(path):
    from tests.integration.test_onboarding import objects
    return sorted(name for _kind, name in objects(str(path)))


def test_role_snippet_runs_with_the_interpreter_ansible_discovers(tmp_path, emulator):
    """The "role on its own" play needs no ansible_python_interpreter: the role runs its modules with the Python
    that runs Ansible even when the interpreter Ansible would use lacks the collection's requirements (msal)."""
    snippet = [b for b in of_kind("play") if b.path == "docs/onboarding.md"]
    assert len(snippet) == 1
    bare = tmp_path / "bare-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    bare_python = str(bare / "bin" / "python")
    assert subprocess.run([bare_python, "-c", "import msal"], capture_output=True, check=False).returncode != 0
    (tmp_path / "partners").mkdir()
    shutil.copy(os.path.join(REPO, "examples", "partners", "adatum.yml"), str(tmp_path / "partners" / "adatum.yml"))
    connection = emulator_defaults(emulator)
    connection["token_cache"] = False
    (tmp_path / "tenants.yml").write_text(yaml.safe_dump({"tenants": {"hosts": {"contoso": {
        "ansible_connection": "local", "mailflow_connection": connection}}}}))
    (tmp_path / "role.yml").write_text(snippet[0].text)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "tenants.yml", "role.yml"], cwd=str(tmp_path),
                          env=ansible_env({"ANSIBLE_PYTHON_INTERPRETER": bare_python}, home=str(tmp_path)),
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    calls = emulator.calls()["cmdlets"]
    assert calls.get("New-InboundConnector") == 1 and calls.get("New-TransportRule") == 1, calls


# --------------------------------------------------------------------------------------------------- AWX

def test_awx_setup_creates_everything_its_job_template_uses():
    """docs/awx.md says setup.yml sets up everything; the job template's inventory, project, credentials and
    execution environment must be created by earlier tasks of it (awx.awx cannot run here: this checks the playbook's
    own references)."""
    with open(os.path.join(REPO, "docs", "awx", "setup.yml")) as handle:
        play = yaml.safe_load(handle)[0]
    variables = dict(play.get("vars") or {})

    def value(text):
        match = re.match(r"^\{\{\s*(\w+)\s*\}\}$", str(text))
        return variables.get(match.group(1), text) if match else text

    created, template = {}, None
    for task in play["tasks"]:
        module = [k for k in task if k.startswith("awx.awx.")][0].split(".")[-1]
        args = task["awx.awx." + module]
        if module == "job_template":
            template = args
            break
        if module == "host":
            assert value(args["inventory"]) in created.get("inventory", set()), "a host of an inventory not created"
        if module == "project" and "default_environment" in args:
            assert value(args["default_environment"]) in created.get("execution_environment", set()), \
                "the project's default execution environment is not created"
        created.setdefault(module, set()).add(value(args["name"]))
    assert template is not None
    assert value(template["inventory"]) in created.get("inventory", set()), created
    assert value(template["project"]) in created.get("project", set()), created
    assert value(template["execution_environment"]) in created.get("execution_environment", set()), created
    for credential in template["credentials"]:
        assert value(credential) in created.get("credential", set()), created
    assert created.get("host"), "the inventory has no tenant host"
