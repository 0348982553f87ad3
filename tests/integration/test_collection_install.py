# -*- coding: utf-8 -*-
"""The collection as a user gets it: the tarball of ``make build`` holds what a user needs and nothing else, and,
installed with ``ansible-galaxy collection install`` into an empty collections path, its modules, roles and playbooks
run from there (no copy of the checkout in sight)."""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import subprocess
import sys
import tarfile

import pytest
import yaml

from tests.integration.test_onboarding import objects
from tests.support.ansible_runner import BIN, REPO

# Top-level entries of the tarball; below them, everything of the checkout goes in except what galaxy.yml's
# build_ignore leaves out (checked by FORBIDDEN and the per-directory allowlists below).
TOP_LEVEL = {"MANIFEST.json", "FILES.json", "README.md", "LICENSE", "LICENSES", "CHANGELOG.rst", "requirements.txt",
             "bindep.txt", "meta", "plugins", "roles", "playbooks", "examples", "docs", "changelogs", "tests"}
ONLY = {
    "tests": {"tests/config.yml"},
    "changelogs": {"changelogs/changelog.yaml", "changelogs/config.yaml"},
}
FORBIDDEN = re.compile(r"(^|/)(__pycache__|\.pytest_cache|\.sandbox|\.venv[^/]*|\.build)(/|$)|\.pyc$|\.tar\.gz$")


def galaxy():
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        return yaml.safe_load(handle)


def members(tarball):
    with tarfile.open(tarball) as archive:
        return {member.name.rstrip("/"): member for member in archive.getmembers()}


def test_tarball_holds_what_a_user_needs_and_nothing_else(collection_tarball):
    found = members(collection_tarball)
    names = set(found)
    assert {name.split("/")[0] for name in names} <= TOP_LEVEL, sorted({n.split("/")[0] for n in names} - TOP_LEVEL)
    for top, allowed in ONLY.items():
        extra = {n for n in names if n.startswith(top + "/")} - allowed
        assert not extra, "%s/ should hold only %s, not %s" % (top, sorted(allowed), sorted(extra))
    assert not [n for n in names if FORBIDDEN.search(n)], sorted(n for n in names if FORBIDDEN.search(n))

    # Everything a user runs or reads is there.
    needed = {"README.md", "LICENSE", "meta/runtime.yml", "meta/execution-environment.yml", "meta/requirements.txt",
              "meta/bindep.txt", "requirements.txt", "bindep.txt", "playbooks/onboard_partner.yml",
              "playbooks/offboard_partner.yml", "changelogs/changelog.yaml", "docs/docsite/extra-docs.yml",
              "docs/docsite/links.yml", "tests/config.yml"}
    for folder in ("plugins/modules", "plugins/module_utils", "plugins/doc_fragments", "plugins/action",
                   "examples/partners", "docs/docsite/rst"):
        for name in os.listdir(os.path.join(REPO, folder)):
            if not name.startswith((".", "__pycache__")):
                needed.add("%s/%s" % (folder, name))
    for role in os.listdir(os.path.join(REPO, "roles")):
        for sub in ("meta/argument_specs.yml", "meta/main.yml", "tasks/main.yml"):
            needed.add("roles/%s/%s" % (role, sub))
    for guide in os.listdir(os.path.join(REPO, "docs")):
        if guide.endswith(".md"):
            needed.add("docs/" + guide)
    assert not needed - names, sorted(needed - names)
    # requirements.txt and bindep.txt at the root point at meta/ (see meta/execution-environment.yml).
    for name in ("requirements.txt", "bindep.txt"):
        assert found[name].issym() and found[name].linkname == "meta/" + name, (name, found[name].linkname)

    with tarfile.open(collection_tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("m365", "mailflow", galaxy()["version"])
    assert os.path.basename(collection_tarball) == "m365-mailflow-%s.tar.gz" % galaxy()["version"]


def clean_env(tmp_path, collections):
    """Only ``collections`` is searched for collections: not the checkout's .build/collections, not ~/.ansible."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANSIBLE_", "EXO_")) and key != "PYTHONPATH"}
    env.update({
        "PATH": BIN + os.pathsep + env.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "ANSIBLE_HOME": str(tmp_path / "home" / ".ansible"),
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    })
    return env


def run(args, cwd, env, timeout=300):
    return subprocess.run(args, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def installed(collection_tarball, tmp_path):
    collections = tmp_path / "collections"
    collections.mkdir()
    (tmp_path / "home").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    env = clean_env(tmp_path, collections)
    proc = run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", collection_tarball, "-p", str(collections)],
               work, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    root = collections / "ansible_collections" / "m365" / "mailflow"
    assert (root / "MANIFEST.json").is_file()
    return root, work, env


def test_installed_tarball_runs_its_modules_from_an_empty_collections_path(installed):
    root, work, env = installed
    # The only m365.mailflow Ansible sees is the installed one.
    proc = run([os.path.join(BIN, "ansible-galaxy"), "collection", "list", "m365.mailflow", "--format", "json"], work, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = json.loads(proc.stdout)
    assert list(listed) == [str(root.parent.parent)], listed
    proc = run([os.path.join(BIN, "ansible-doc"), "--json", "-t", "module", "m365.mailflow.partner_inbound_connector"],
               work, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)["m365.mailflow.partner_inbound_connector"]["doc"]
    assert os.path.realpath(doc["filename"]).startswith(os.path.realpath(str(root)) + os.sep), doc["filename"]

    state = work / "tenant.db"
    task = {"m365.mailflow.partner_inbound_connector": {
        "name": "Adatum inbound", "sender_domains": ["adatum.example"], "sandbox": str(state)}}
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": sys.executable},
             "tasks": [dict(task, register="first"), dict(task, register="second"),
                       {"ansible.builtin.copy": {"dest": str(work / "results.json"),
                                                 "content": "{{ [first, second] | to_json }}"}}]}]
    (work / "play.yml").write_text(yaml.safe_dump(play))
    proc = run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "play.yml"], work, env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    first, second = json.loads((work / "results.json").read_text())
    assert first["changed"] is True and not first.get("failed"), first
    assert second["changed"] is False and not second.get("failed"), second
    assert state.is_file()


def test_installed_collection_playbook_onboards_the_examples(installed):
    """m365.mailflow.onboard_partner from the installed collection (its roles, tasks and examples), with no inventory
    and no EXO_SANDBOX: a dry run plans the three example partners and writes nothing, then a run onboards them into
    the sandbox tenant .sandbox/tenant.db of the directory it runs from, never into the collection's own directory."""
    root, work, env = installed
    state = work / ".sandbox" / "tenant.db"
    args = [os.path.join(BIN, "ansible-playbook"), "m365.mailflow.onboard_partner",
            "-e", json.dumps({"mailflow_validation": {"enabled": False}})]
    proc = run(args + ["--check"], work, env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Target: sandbox tenant %s (no inventory given); check mode" % os.path.realpath(str(state)) in proc.stdout, \
        proc.stdout[:3000]
    for partner in ("Adatum", "Fabrikam", "Litware"):
        assert "- inbound connector '%s inbound': would create" % partner in proc.stdout, proc.stdout[-4000:]
    assert not state.exists() or objects(str(state)) == {}

    proc = run(args, work, env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    for partner in ("Adatum", "Fabrikam", "Litware"):
        assert "- inbound connector '%s inbound': created" % partner in proc.stdout, proc.stdout[-4000:]
    names = {name for _kind, name in objects(str(state))}
    assert {"Adatum inbound", "Fabrikam outbound", "Litware inbound"} <= names, names
    inside = [os.path.join(top, name) for top, dirs, files in os.walk(str(root)) for name in dirs + files
              if name == ".sandbox" or name.endswith(".db")]
    assert not inside, inside
