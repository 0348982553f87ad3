#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""make build: the collection tarball, built from the files git tracks in this checkout, and nothing else.

    hacking/build.py [--output-path DIR]      (make build: .build/dist)

The guides have users create files in a checkout (exported/, drift/, ci/, .sandbox/ with tenant state, plan files,
certificates, venvs, inventories, partner files); built from the directory, ansible-galaxy would pack every one of
them that galaxy.yml's build_ignore does not name. So the files git tracks (``git ls-files``: committed or added with
``git add``) are copied into a temporary directory, with their working-tree content (make release's new version and
changelog are in; a tracked file deleted in the working tree, such as a fragment the release consumed, is left out),
and the tarball is built from there. galaxy.yml's build_ignore still applies, as a second line: it leaves out the
tracked files a user does not need (tests, hacking/, the Makefile).

ansible-galaxy is the one next to the Python running this script (the venv's). Prints the tarball's path.
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tracked_files(repo):
    """The paths git tracks in ``repo`` that exist in its working tree (files and symlinks), relative to it."""
    proc = subprocess.run(["git", "-C", repo, "ls-files", "-z", "--cached"], capture_output=True, check=False,
                          timeout=120)
    if proc.returncode != 0:
        raise SystemExit("build: %s is not a git checkout (%s): make build packs the files git tracks; build from a "
                         "clone of the repository" % (repo, proc.stderr.decode(errors="replace").strip()))
    names = [name.decode("utf-8", "surrogateescape") for name in proc.stdout.split(b"\0") if name]
    return [name for name in names if os.path.lexists(os.path.join(repo, name))]


def stage(repo, files, dest):
    """Copy ``files`` of ``repo`` into ``dest``, symlinks as symlinks."""
    for name in files:
        source, target = os.path.join(repo, name), os.path.join(dest, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.islink(source):
            os.symlink(os.readlink(source), target)
        elif os.path.isfile(source):
            shutil.copy2(source, target)
        # a directory here is a submodule: the collection has none, and it would not be packed


def build(repo, output_path):
    files = tracked_files(repo)
    if "galaxy.yml" not in files:
        raise SystemExit("build: galaxy.yml is not tracked in %s" % repo)
    galaxy = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    os.makedirs(output_path, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="m365-mailflow-build-") as tmp:
        source = os.path.join(tmp, "mailflow")
        os.makedirs(source)
        stage(repo, files, source)
        proc = subprocess.run([galaxy, "collection", "build", "--force", "--output-path", os.path.abspath(output_path),
                               source], check=False, timeout=600)
        if proc.returncode != 0:
            raise SystemExit(proc.returncode)
    with open(os.path.join(repo, "galaxy.yml")) as handle:
        meta = yaml.safe_load(handle)
    tarball = os.path.join(output_path, "%s-%s-%s.tar.gz" % (meta["namespace"], meta["name"], meta["version"]))
    if not os.path.isfile(tarball):
        raise SystemExit("build: ansible-galaxy did not write %s" % tarball)
    return tarball


def main(argv=None):
    parser = argparse.ArgumentParser(prog="hacking/build.py", description=__doc__.splitlines()[0])
    parser.add_argument("--output-path", default=os.path.join(REPO, ".build", "dist"),
                        help="where the tarball goes (default: .build/dist)")
    args = parser.parse_args(argv)
    print("build: %s" % build(REPO, args.output_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
