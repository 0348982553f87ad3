# -*- coding: utf-8 -*-
"""``make release VERSION=x.y.z`` (hacking/release.py, then the build) on a copy of the checkout: the next release is
cut from the fragments in changelogs/fragments, with CHANGELOG.rst, the version in galaxy.yml and in the execution
environment, and a tarball of that version holding the changelog. The checkout itself is never touched."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import tarfile

import yaml

from tests.support.ansible_runner import BIN, REPO


def checkout_copy(root):
    """The files of the checkout (tracked, and untracked but not ignored), as a release would see them."""
    dest = root / "ansible_collections" / "m365" / "mailflow"
    dest.mkdir(parents=True)
    files = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           check=True, timeout=60).stdout.split(b"\0")
    files = [name for name in files if name and os.path.lexists(os.path.join(REPO.encode(), name))]
    tar = subprocess.run(["tar", "--null", "--no-recursion", "-T", "-", "-cf", "-"], cwd=REPO, input=b"\0".join(files),
                         capture_output=True, check=True, timeout=120).stdout
    subprocess.run(["tar", "-xf", "-"], cwd=str(dest), input=tar, check=True, timeout=120)
    return dest


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
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out)],
                          cwd=str(copy), env=env, capture_output=True, text=True, timeout=300, check=False)
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
