# -*- coding: utf-8 -*-
"""meta/execution-environment.yml makes an image that can run the collection: the build context that
``ansible-builder create`` makes from it (what ``make ee`` does) holds the collection tarball of ``make build``, every
Python and system requirement, and pins the base image and ansible-core.

No container engine runs here, so the image itself is not built; what its galaxy stage does with the context
(``ansible-galaxy collection install -r requirements.yml`` in the context's _build directory) is run here.
"""

from __future__ import absolute_import, division, print_function

import filecmp
import json
import os
import re
import shutil
import subprocess
import tarfile

import pytest
import yaml

from tests.support.ansible_runner import BIN, REPO

META = os.path.join(REPO, "meta")


def load(*path):
    with open(os.path.join(REPO, *path)) as handle:
        return yaml.safe_load(handle)


def requirement_lines(path):
    with open(path) as handle:
        return sorted(line.split("#")[0].strip() for line in handle if line.split("#")[0].strip())


@pytest.fixture(scope="module")
def context(collection_tarball, tmp_path_factory):
    """ansible-builder create on a copy of meta/ (symlinks stay symlinks) beside a .build/dist with the tarball."""
    root = tmp_path_factory.mktemp("ee")
    (root / "meta").mkdir()
    for name in os.listdir(META):
        shutil.copy2(os.path.join(META, name), str(root / "meta" / name), follow_symlinks=False)
    (root / ".build" / "dist").mkdir(parents=True)
    shutil.copy(collection_tarball, str(root / ".build" / "dist"))
    out = root / "context"
    proc = subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "-f", str(root / "meta" / "execution-environment.yml"),
                           "-c", str(out), "--output-filename", "Containerfile", "-v", "3"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No matches" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr  # an additional build file missing
    return out


def test_context_holds_the_collection_tarball_and_the_image_installs_it(context, collection_tarball, tmp_path):
    build = context / "_build"
    entries = yaml.safe_load((build / "requirements.yml").read_text())["collections"]
    assert len(entries) == 1 and entries[0]["type"] == "file", entries
    tarball = build / entries[0]["name"]
    assert tarball.is_file() and not tarball.is_symlink(), sorted(str(p) for p in build.rglob("*"))
    assert tarball.name == "m365-mailflow-%s.tar.gz" % load("galaxy.yml")["version"], tarball.name
    assert filecmp.cmp(str(tarball), collection_tarball, shallow=False)
    with tarfile.open(str(tarball)) as archive:
        info = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    assert (info["namespace"], info["name"]) == ("m365", "mailflow")

    # The galaxy stage copies _build to /build, works there and installs requirements.yml.
    containerfile = (context / "Containerfile").read_text()
    assert "COPY _build /build\nWORKDIR /build" in containerfile, containerfile
    assert re.search(r"^RUN .*ansible-galaxy collection install .*-r requirements\.yml", containerfile, re.M), containerfile
    collections = tmp_path / "collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1")
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-r", "requirements.yml",
                           "--collections-path", str(collections)], cwd=str(build), env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = collections / "ansible_collections" / "m365" / "mailflow"
    assert sorted(p.name for p in (installed / "plugins" / "modules").glob("*.py")) == sorted(
        n for n in os.listdir(os.path.join(REPO, "plugins", "modules")) if n.endswith(".py"))


def test_context_holds_every_python_and_system_requirement(context):
    build = context / "_build"
    for name in ("requirements.txt", "bindep.txt"):
        path = build / name
        # ansible-builder copies a symlink as a symlink, which would dangle in the context.
        assert path.is_file() and not path.is_symlink(), "%s in the context is not a file" % name
        assert requirement_lines(str(path)) == requirement_lines(os.path.join(REPO, name)), name
    python = requirement_lines(str(build / "requirements.txt"))
    for package in ("msal", "cryptography", "dnspython", "requests"):
        assert any(re.match(re.escape(package) + r"\b", line) for line in python), (package, python)
    containerfile = (context / "Containerfile").read_text()
    introspect = [line for line in containerfile.splitlines() if "introspect.py introspect" in line]
    assert introspect and "--user-pip=requirements.txt" in introspect[0] and "--user-bindep=bindep.txt" in introspect[0], \
        introspect


def test_base_image_and_ansible_core_are_pinned_to_a_tested_release(context):
    definition = load("meta", "execution-environment.yml")
    image = definition["images"]["base_image"]["name"]
    match = re.match(r"^[\w.-]+(?::\d+)?/[\w./-]+(?::(?P<tag>[\w.-]+))?(?:@sha256:[0-9a-f]{64})?$", image)
    assert match and (match.group("tag") or "@sha256:" in image), "base image %s has no tag or digest" % image
    assert match.group("tag") != "latest", image
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="%s"' % image in containerfile

    dependencies = definition["dependencies"]
    core = re.match(r"^ansible-core==(\d+)\.(\d+)\.(\d+)$", dependencies["ansible_core"]["package_pip"])
    assert core, dependencies["ansible_core"]
    assert re.match(r"^ansible-runner==\d+\.\d+\.\d+$", dependencies["ansible_runner"]["package_pip"]), dependencies
    version = tuple(int(part) for part in core.groups())
    # Within what the collection supports (meta/runtime.yml) and what the tests run (tests/requirements.txt).
    minimum = re.match(r"^>=(\d+)\.(\d+)", load("meta", "runtime.yml")["requires_ansible"])
    assert version[:2] >= tuple(int(part) for part in minimum.groups()), version
    with open(os.path.join(REPO, "tests", "requirements.txt")) as handle:
        tested = re.search(r"^ansible-core>=[\d.]+,<(\d+)\.(\d+)", handle.read(), re.M)
    assert version[:2] < tuple(int(part) for part in tested.groups()), version
    assert 'ARG ANSIBLE_INSTALL_REFS="%s %s"' % (dependencies["ansible_core"]["package_pip"],
                                                 dependencies["ansible_runner"]["package_pip"]) in containerfile
    # ansible-core 2.20 and later need Python 3.12 or later; the interpreter is the base image's python3.
    assert dependencies["python_interpreter"]["python_path"] == "/usr/bin/python3"
