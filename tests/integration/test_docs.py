# -*- coding: utf-8 -*-
"""Docs as tests: every fenced block of README.md and docs/*.md says how it is tested, and those that can run do.

The line before each fenced block is a marker, ``<!-- doc-test: KIND [ARGS] -->`` (invisible when rendered):

- ``sh [ID]``: shell commands. Each guide's commands run as written, in the guide's order, from the root of a fresh
  clone of the checkout (tests/support/checkout.py: what CI sees), with only what a reader has there after the
  README's quick start: ``.venv`` (what ``make venv`` makes: here the venv running the tests), a home directory of
  their own and a usual shell (bash, ``umask 022``, no ``ANSIBLE_*`` or ``EXO_*`` variable, the venv not on PATH).
  Every block runs in that shell after the block marked ``sh setup`` (getting-started.md, "Your shell": ``make
  collection``, the venv activated, ``ANSIBLE_COLLECTIONS_PATH``), with ``bash -euo pipefail``; a block must end
  with status 0, and a block that runs ansible-playbook must reach its PLAY RECAP. Whatever a block leaves running is
  stopped when it ends (its process group). ``ID`` names a block for the checks below; after a guide, the checks of
  ``GUIDE_CHECKS`` look at what its commands did, and the release tarball built from that clone (hacking/build.py,
  what ``make build`` runs) must hold none of the files the guide created;
- ``file PATH``: a file the guide has the reader create, written into the clone when the guide reaches it (a file
  the checkout already has must be shown exactly as it is); also written into the snippets' layout below;
- ``play``: a playbook; all of them run in one ``ansible-playbook`` run, with ``module_defaults`` connection settings
  replaced by a sandbox tenant, in a prepared layout of a user's project (the examples as ``partners/``,
  ``inventory/tenants.yml`` from the docs with ``contoso`` given a sandbox tenant, the ``file`` blocks);
- ``partner FILE``: a partner definition; checked (``m365.mailflow.partner_definitions``) against a sandbox tenant;
- ``check-file FILE`` and ``check-output FILE``: a partner file and the exact problems the check reports for it;
- ``mermaid demo-world``: the mail flow diagram of the demo world, exactly as diagram.mermaid draws it now
  (hacking/docsite/diagrams.py update rewrites it; the docs site shows it as an image rendered at build time);
- ``output``: sample output, not run; ``skip: REASON``: cannot run here, and why (a real tenant's credentials, a
  container engine...).

A block without a marker fails ``test_every_block_says_how_it_is_tested``, so new docs cannot silently go untested.
"""

from __future__ import absolute_import, division, print_function

import glob
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile

import pytest
import yaml

from tests.integration.conftest import emulator_defaults
from tests.support.ansible_runner import BIN, REPO, ansible_env
from tests.support.checkout import fresh_clone
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


# --------------------------------------------------------------------------------------------------- the guides

SETUP = [b for b in of_kind("sh") if b.arg == "setup"]
GUIDES = [path for path in DOCS if any(b.path == path and b.kind == "sh" and b.arg != "setup" for b in BLOCKS)]


def reader_env(home):
    """A reader's shell: no ANSIBLE_*, EXO_* or venv settings of the test run, the venv running the tests off PATH."""
    bins = {BIN, os.path.realpath(BIN)}
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANSIBLE_", "EXO_", "PYTEST_", "VIRTUAL_ENV")) and key not in ("PYTHONPATH", "PS1")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
                                  if p and p not in bins and os.path.realpath(p) not in bins)
    env.update({"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "XDG_CONFIG_HOME": str(home / ".config")})
    home.mkdir(parents=True, exist_ok=True)
    return env


def run_block(script, cwd, env, logs, timeout=600):
    """bash -euo pipefail -c SCRIPT in its own process group, output to files (a server the block starts in the
    background may hold the output open); whatever the block leaves running is killed when it ends."""
    out, err = logs.with_suffix(".out"), logs.with_suffix(".err")
    with open(str(out), "w") as stdout, open(str(err), "w") as stderr:
        proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=str(cwd), env=env, stdout=stdout,
                                stderr=stderr, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = "timeout after %d s" % timeout
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
    return rc, out.read_text(), err.read_text()


def tracked(clone):
    out = subprocess.run(["git", "ls-files", "-z"], cwd=str(clone), capture_output=True, check=True, timeout=60).stdout
    return {name.decode() for name in out.split(b"\0") if name}


def created(clone, before):
    """Every file, link and directory of the clone that the checkout does not hold (symlinks are not followed)."""
    out = set()
    for top, dirs, files in os.walk(str(clone)):
        rel = os.path.relpath(top, str(clone))
        if rel == ".git" or rel.startswith(".git" + os.sep):
            dirs[:] = []
            continue
        for name in dirs + files:
            path = os.path.normpath(os.path.join(rel, name))
            if path != ".git" and path not in before and not any(t.startswith(path + "/") for t in before):
                out.add(path)
    return out


def follow(guide, root):
    """Run the guide's commands as written, in order, in a fresh clone; return the clone and the files it created."""
    clone = root / "checkout"
    fresh_clone(clone)
    before = tracked(clone)
    os.symlink(sys.prefix, str(clone / ".venv"))  # what `make venv` (make demo) makes: the venv running the tests
    env = reader_env(root / "home")
    assert len(SETUP) == 1, SETUP
    for number, block in enumerate(b for b in BLOCKS if b.path == guide):
        if block.kind == "file":
            target = clone / block.arg
            if block.arg in before:
                assert target.read_text() == block.text, "%s shows %s other than the checkout has it" % (block, block.arg)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.text)
        elif block.kind == "sh" and block.arg != "setup":
            script = "umask 022\n" + SETUP[0].text + block.text
            rc, out, err = run_block(script, clone, env, root / ("block-%d" % number))
            assert rc == 0, "%s ended with %s\n%s\n%s" % (block, rc, out[-5000:], err[-3000:])
            if "ansible-playbook" in block.text:
                assert "PLAY RECAP" in out, "%s\n%s" % (block, out[-3000:])
    return clone, created(clone, before)


def names_of(state_path):
    from tests.integration.test_onboarding import objects
    return {name for _kind, name in objects(str(state_path))} if os.path.exists(str(state_path)) else set()


def check_readme(clone):
    pem = (clone / "app.pem").read_text()
    assert "PRIVATE KEY-----" in pem and "BEGIN CERTIFICATE-----" in pem
    for name in ("app.key", "app.pem"):  # umask 077 in the block: the private key is the owner's only
        mode = stat.S_IMODE(os.stat(str(clone / name)).st_mode)
        assert mode & 0o077 == 0, "%s is mode %o: readable by others" % (name, mode)
    # The emulator served the onboarding (through the REST path), and the block stopped it.
    assert {"Litware inbound", "Litware outbound"} <= names_of(clone / ".build" / "emulator" / "tenant.db")
    info = json.loads((clone / ".build" / "emulator" / "info.json").read_text())
    assert info["url"].startswith("https://127.0.0.1:"), info["url"]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(info["url"].rsplit(":", 1)[1])), timeout=5).close()


def check_onboarding(clone):
    lab = names_of(clone / ".sandbox" / "lab-tenant.db")
    assert {"Adatum inbound", "Litware inbound", "Adatum - Accounting"} <= lab, lab
    assert not {"Fabrikam inbound", "Fabrikam outbound"} & lab, lab  # offboarded
    assert {"Adatum inbound", "Fabrikam inbound", "Litware inbound"} <= names_of(clone / ".sandbox" / "tenant.db")


def check_dry_runs(clone):
    assert names_of(clone / ".sandbox" / "lab-tenant.db") == set()  # --check: nothing written


def check_connecting(clone):
    assert names_of(clone / ".sandbox" / "ci.db") == set()  # --check: nothing written


def check_export_and_drift(clone):
    assert {"adatum.yml", "fabrikam.yml", "litware.yml", "unmanaged.yml", "mail-flow.md"} <= set(
        os.listdir(str(clone / "exported" / "sandbox")))
    assert {"index.md", "sandbox.json", "sandbox.md"} <= set(os.listdir(str(clone / "drift")))


def check_getting_started(clone):
    assert {"Northwind inbound", "Northwind invoices", "Litware inbound"} <= names_of(clone / ".sandbox" / "ci-tenant.db")
    assert {"Adatum inbound", "Litware inbound"} <= names_of(clone / ".sandbox" / "tenant.db")


def check_posture(clone):
    report = (clone / "drift" / "lab.md").read_text()
    assert "inbound_domain_only: Litware inbound; accepted until 2030-06-30" in report, report[-3000:]


GUIDE_CHECKS = {
    "README.md": check_readme,
    "docs/onboarding.md": check_onboarding,
    "docs/dry-runs.md": check_dry_runs,
    "docs/connecting-a-tenant.md": check_connecting,
    "docs/export-and-drift.md": check_export_and_drift,
    "docs/getting-started.md": check_getting_started,
    "docs/posture.md": check_posture,
}


def test_every_guide_with_commands_is_checked():
    assert sorted(GUIDES) == sorted(GUIDE_CHECKS), "GUIDE_CHECKS should say what the commands of %s do" % GUIDES


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_commands_run_as_written_from_a_fresh_clone(guide, tmp_path):
    clone, outputs = follow(guide, tmp_path)
    GUIDE_CHECKS[guide](clone)
    # make build after following the guide ships none of what its commands created.
    proc = subprocess.run([sys.executable, str(clone / "hacking" / "build.py"), "--output-path", str(tmp_path / "dist")],
                          cwd=str(clone), env=reader_env(tmp_path / "home"), capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarball = glob.glob(str(tmp_path / "dist" / "*.tar.gz"))
    assert len(tarball) == 1, tarball
    with tarfile.open(tarball[0]) as archive:
        packed = {name.rstrip("/") for name in archive.getnames()}
    assert "playbooks/onboard_partner.yml" in packed
    leaked = sorted(packed & outputs)
    assert not leaked, "the tarball packs what %s had the reader create: %s" % (guide, leaked)


# --------------------------------------------------------------------------------------------------- snippets

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The snippets' layout: a user's project with the examples as partners/, the docs' inventory/tenants.yml with
    contoso given a sandbox tenant, and the docs' files; plays run with the collection of the checkout under test."""
    root = tmp_path_factory.mktemp("docs-project")
    shutil.copytree(os.path.join(REPO, "examples", "partners"), str(root / "partners"))
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
