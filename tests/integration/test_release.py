# -*- coding: utf-8 -*-
"""``make release VERSION=x.y.z`` (hacking/release.py, then the build) on a fresh clone of the checkout: the next
release is cut from the fragments in changelogs/fragments, with CHANGELOG.rst, the version in galaxy.yml and in the
execution environment, and a tarball of that version holding the changelog. The checkout itself is never touched.

``make build`` (hacking/build.py) packs the files git tracks and nothing else: not what the guides have users create in
a checkout (exports, drift reports, CI files, sandbox tenants, plan files, keys, venvs, their inventory and partner
files), not an untracked file among the plugins; and it creates the venv it runs in first."""

from __future__ import absolute_import, division, print_function

import fnmatch
import json
import os
import pathlib
import subprocess
import tarfile

import yaml

from tests.support.ansible_runner import BIN, REPO
from tests.support.checkout import fresh_clone


def checkout_copy(root):
    """A fresh clone of the checkout (tests/support/checkout.py), where antsibull-changelog finds the collection."""
    return pathlib.Path(fresh_clone(root / "ansible_collections" / "m365" / "mailflow"))


def build(copy, out, env):
    """What make build runs (after its venv): hacking/build.py, with the venv running the tests."""
    return subprocess.run([os.path.join(BIN, "python"), "hacking/build.py", "--output-path", str(out)], cwd=str(copy),
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def load(path):
    with open(str(path)) as handle:
        return yaml.safe_load(handle)


def next_version(copy):
    """galaxy.yml's version (the next release) unless it is released already, then the patch release after it."""
    version = load(copy / "galaxy.yml")["version"]
    if version in ((load(copy / "changelogs" / "changelog.yaml") or {}).get("releases") or {}):
        major, minor, patch = (int(part) for part in version.split("."))
        version = "%d.%d.%d" % (major, minor, patch + 1)
    return version


def test_release_writes_the_changelog_bumps_the_version_and_builds_the_tarball(tmp_path):
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        galaxy_before = handle.read()
    copy = checkout_copy(tmp_path)
    version = next_version(copy)
    fragments = sorted(os.listdir(str(copy / "changelogs" / "fragments")))
    assert fragments, "no changelog fragments: nothing to release"
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_COLLECTIONS_PATH=str(tmp_path), SUMMARY="A release cut by tests/integration/test_release.py.")
    proc = subprocess.run([os.path.join(BIN, "python"), "hacking/release.py", version], cwd=str(copy), env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    assert load(copy / "galaxy.yml")["version"] == version
    ee = load(copy / "meta" / "execution-environment.yml")
    assert ee["dependencies"]["galaxy"]["collections"][0]["name"] == "collections/m365-mailflow-%s.tar.gz" % version
    assert ee["additional_build_files"][0]["src"] == "../.build/dist/m365-mailflow-%s.tar.gz" % version
    assert "ansible-galaxy collection install m365-mailflow-%s.tar.gz" % version in (copy / "README.md").read_text()
    assert 'COLLECTION_VERSION = "%s"' % version in (copy / "plugins" / "module_utils" / "partner_work.py").read_text()
    release = load(copy / "changelogs" / "changelog.yaml")["releases"][version]
    assert release["changes"]["release_summary"] == "A release cut by tests/integration/test_release.py."
    left = [n for n in os.listdir(str(copy / "changelogs" / "fragments")) if n.endswith((".yml", ".yaml"))]
    assert left == [], left  # consumed into changelog.yaml
    changelog = (copy / "CHANGELOG.rst").read_text()
    assert ("v%s\n%s" % (version, "=" * (len(version) + 1))) in changelog, changelog[:500]
    assert "A release cut by tests/integration/test_release.py." in changelog
    if not (load(os.path.join(REPO, "changelogs", "changelog.yaml")) or {}).get("releases"):
        # The first release lists every module and role as new (their version_added).
        modules = sorted(n[:-3] for n in os.listdir(os.path.join(REPO, "plugins", "modules")) if n.endswith(".py"))
        assert sorted(m["name"] for m in release["modules"]) == modules, release.get("modules")
        assert sorted(r["name"] for r in release["objects"]["role"]) == sorted(os.listdir(os.path.join(REPO, "roles")))
        assert "New Modules\n-----------" in changelog and "New Roles\n---------" in changelog, changelog[-2000:]

    # make release then builds: the tarball of that version, with the changelog.
    out = tmp_path / "dist"
    proc = build(copy, out, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarball = out / ("m365-mailflow-%s.tar.gz" % version)
    with tarfile.open(str(tarball)) as archive:
        names = archive.getnames()
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    assert manifest["version"] == version
    assert "CHANGELOG.rst" in names and "changelogs/changelog.yaml" in names
    assert not [n for n in names if n.startswith("changelogs/fragments/")]

    # The same version again, or an older one, is refused before anything changes.
    for again in (version, "0.0.1"):
        proc = subprocess.run([os.path.join(BIN, "python"), "hacking/release.py", again], cwd=str(copy), env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 1 and ("already released" in proc.stderr or "older than" in proc.stderr), \
            (again, proc.stderr)
    assert load(copy / "galaxy.yml")["version"] == version

    # The checkout itself is untouched.
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        assert handle.read() == galaxy_before
    assert sorted(os.listdir(os.path.join(REPO, "changelogs", "fragments"))) == fragments


def test_release_refuses_a_malformed_version(tmp_path):
    copy = checkout_copy(tmp_path)
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    for bad in ("1.0", "v1.0.0", "0.0.0-dev", ""):
        proc = subprocess.run([os.path.join(BIN, "python"), "hacking/release.py", bad], cwd=str(copy), env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 2 and "VERSION=X.Y.Z" in proc.stderr, (bad, proc.stderr)
    assert load(copy / "galaxy.yml") == load(os.path.join(REPO, "galaxy.yml"))


# What the guides have users create in a checkout (and what a developer leaves there), as path -> content.
DOC_OUTPUTS = {
    "exported/contoso/fabrikam.yml": "partner: {name: Fabrikam}\n",
    "exported/contoso/unmanaged.yml": "# 203.0.113.9: the tenant's unmanaged connectors\n",
    "drift/index.md": "# Drift\n",
    "drift/contoso.json": "{}\n",
    "ci/inventory.yml": "tenants: {}\n",
    "ci/tenant-objects.yml": "inbound_connectors: []\n",
    ".sandbox/tenant.db": "SQLite format 3\n",
    ".sandbox/demo-world/ca.pem": "-----BEGIN CERTIFICATE-----\n",
    "playbooks/.sandbox/tenant.db": "SQLite format 3\n",
    "plan.json": "{}\n",
    "plan.md": "# Plan\n",
    "second-run.txt": "PLAY RECAP\n",
    "app.key": "-----BEGIN PRIVATE KEY-----\n",
    "app.pem": "-----BEGIN PRIVATE KEY-----\n",
    "app.crt": "-----BEGIN CERTIFICATE-----\n",
    "inventory/tenants.yml": "tenants: {}\n",
    "inventory/host_vars/contoso.yml": "mailflow_connection: {}\n",
    "partners/adatum.yml": "partner: {name: Adatum}\n",
    "examples/inventory/group_vars/tenants/accepted-findings.yml": "mailflow_accepted_findings: []\n",
    ".venv/pyvenv.cfg": "home = /usr/bin\n",
    ".venv-2.17/pyvenv.cfg": "home = /usr/bin\n",
    "venv/pyvenv.cfg": "home = /usr/bin\n",
    ".build/emulator/env": "export EXO_TENANT=x\n",
    "mail-flow-1.svg": "<svg/>\n",
    "plugins/modules/scratch.py": "# not added to git\n",
    "docs/notes.md": "# not added to git\n",
}


def tarball_files(path):
    with tarfile.open(str(path)) as archive:
        return {m.name for m in archive.getmembers() if not m.isdir()} - {"MANIFEST.json", "FILES.json"}


def test_build_packs_the_tracked_files_and_nothing_the_guides_create(tmp_path):
    copy = checkout_copy(tmp_path)
    tracked = set(subprocess.run(["git", "ls-files"], cwd=str(copy), capture_output=True, text=True, check=True,
                                 timeout=60).stdout.splitlines())
    assert not set(DOC_OUTPUTS) & tracked
    for name, content in DOC_OUTPUTS.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text(content)
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    proc = build(copy, tmp_path / "dist", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    packed = tarball_files(tmp_path / "dist" / ("m365-mailflow-%s.tar.gz" % load(copy / "galaxy.yml")["version"]))
    assert not packed & set(DOC_OUTPUTS), sorted(packed & set(DOC_OUTPUTS))
    # Exactly the tracked files that galaxy.yml's build_ignore keeps (fnmatch on each directory's and the file's path,
    # as ansible-galaxy matches, after its own patterns).
    ignore = ["MANIFEST.json", "FILES.json", "galaxy.yml", "galaxy.yaml", ".git", "*.pyc", "*.retry", "tests/output",
              "m365-mailflow-*.tar.gz"] + load(copy / "galaxy.yml")["build_ignore"]
    kept = {name for name in tracked
            if not any(fnmatch.fnmatch(prefix, pattern) for pattern in ignore
                       for prefix in ["/".join(name.split("/")[:n]) for n in range(1, name.count("/") + 2)])}
    assert packed == kept, (sorted(packed - kept), sorted(kept - packed))

    # build_ignore, the second line, leaves out the guides' outputs also from a build of the directory itself; only
    # untracked files among the collection's own folders can then get in.
    direct = tmp_path / "direct"
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(direct)],
                          cwd=str(copy), env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    leaked = tarball_files(next(direct.glob("*.tar.gz"))) & set(DOC_OUTPUTS)
    assert leaked == {"plugins/modules/scratch.py", "docs/notes.md",
                      "examples/inventory/group_vars/tenants/accepted-findings.yml"}, sorted(leaked)


def test_make_build_creates_its_venv_first(tmp_path):
    """make build on a fresh clone, which has no .venv: the venv is made (hacking/venv.sh) before the build runs in it
    (make -n: what make would run, in order; the venv itself is not built here)."""
    copy = checkout_copy(tmp_path)
    proc = subprocess.run(["make", "-n", "build"], cwd=str(copy), capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    venv = [n for n, line in enumerate(lines) if "hacking/venv.sh" in line and str(copy / ".venv") in line]
    builds = [n for n, line in enumerate(lines) if "hacking/build.py" in line]
    assert venv and builds and venv[0] < builds[0], proc.stdout
    assert str(copy / ".venv" / "bin" / "python") in lines[builds[0]], lines[builds[0]]
