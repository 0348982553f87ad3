#!/usr/bin/env python
"""Prepare release X.Y.Z in the work tree (make release VERSION=X.Y.Z; make then builds the tarball).

1. checks X.Y.Z: three numbers, newer than every release in changelogs/changelog.yaml;
2. sets the version in galaxy.yml, in the tarball name meta/execution-environment.yml and the README install,
   and in the version saved plans record (plugins/module_utils/partner_work.py);
3. with SUMMARY in the environment, adds it as the release summary (changelogs/fragments/vX.Y.Z-summary.yml);
4. runs antsibull-changelog release: changelogs/changelog.yaml gets the release (its fragments are removed, new
   modules and roles are listed from version_added, read afresh: a stale plugin cache is removed first) and
   CHANGELOG.rst is written.

Nothing is committed, tagged or published: the script ends with the commands for that.
"""

from __future__ import absolute_import, division, print_function

import os
import re
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
EE_TARBALL = re.compile(r"m365-mailflow-\d+\.\d+\.\d+\.tar\.gz")


def parse(version):
    match = VERSION.match(version)
    return tuple(int(part) for part in match.groups()) if match else None


def released():
    with open(os.path.join(REPO, "changelogs", "changelog.yaml")) as handle:
        return sorted((yaml.safe_load(handle) or {}).get("releases") or {}, key=lambda v: parse(v) or (0,))


def rewrite(path, pattern, replacement, count_expected):
    with open(path) as handle:
        text = handle.read()
    new, count = pattern.subn(replacement, text)
    if count != count_expected:
        raise SystemExit("release: expected %d version reference(s) in %s, found %d" % (count_expected, path, count))
    with open(path, "w") as handle:
        handle.write(new)


def set_version(version):
    rewrite(os.path.join(REPO, "galaxy.yml"), re.compile(r"^version: .*$", re.M), "version: %s" % version, 1)
    rewrite(os.path.join(REPO, "meta", "execution-environment.yml"), EE_TARBALL, "m365-mailflow-%s.tar.gz" % version, 2)
    rewrite(os.path.join(REPO, "README.md"), EE_TARBALL, "m365-mailflow-%s.tar.gz" % version, 1)
    # Saved plans record the version that wrote them; the modules run without galaxy.yml, so it is a constant.
    rewrite(os.path.join(REPO, "plugins", "module_utils", "partner_work.py"),
            re.compile(r'^COLLECTION_VERSION = "[^"]*"$', re.M), 'COLLECTION_VERSION = "%s"' % version, 1)


def main(argv):
    if len(argv) != 1 or parse(argv[0]) is None:
        print("usage: make release VERSION=X.Y.Z [SUMMARY='one paragraph']", file=sys.stderr)
        return 2
    version = argv[0]
    done = released()
    if version in done:
        print("release: %s is already released (changelogs/changelog.yaml)" % version, file=sys.stderr)
        return 1
    if done and parse(version) < parse(done[-1]):
        print("release: %s is older than the last release %s" % (version, done[-1]), file=sys.stderr)
        return 1

    set_version(version)
    summary = os.environ.get("SUMMARY", "").strip()
    if summary:
        path = os.path.join(REPO, "changelogs", "fragments", "v%s-summary.yml" % version)
        with open(path, "w") as handle:
            yaml.safe_dump({"release_summary": summary}, handle, default_flow_style=False, width=110)
    # antsibull-changelog lists new modules from a cache of the plugins' version_added; a cache from an earlier run
    # does not know modules added or corrected since, so the release always reads them afresh.
    cache = os.path.join(REPO, "changelogs", ".plugin-cache.yaml")
    if os.path.exists(cache):
        os.remove(cache)
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run([os.path.join(bindir, "antsibull-changelog"), "release", "--version", version], cwd=REPO,
                          env=env, check=False)
    if proc.returncode != 0:
        print("release: antsibull-changelog release failed; galaxy.yml and meta/execution-environment.yml already say "
              "%s (git checkout them to undo)" % version, file=sys.stderr)
        return proc.returncode
    print("release: %s prepared: galaxy.yml, meta/execution-environment.yml, changelogs/changelog.yaml, CHANGELOG.rst; "
          "fragments consumed." % version)
    print("release: next: review `git diff`, then\n"
          "  git add -A changelogs CHANGELOG.rst galaxy.yml meta/execution-environment.yml\n"
          "  git commit -m 'Release %s' && git tag %s\n"
          "  ansible-galaxy collection publish .build/dist/m365-mailflow-%s.tar.gz   # with a Galaxy API token"
          % (version, version, version))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
