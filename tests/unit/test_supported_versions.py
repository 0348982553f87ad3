# -*- coding: utf-8 -*-
"""The ansible-core releases the collection says it supports are the ones make test runs on.

meta/runtime.yml (requires_ansible), the Makefile (CORE_VERSIONS: the releases make test runs the unit, integration
and sanity tests on), tests/requirements.txt (the range pip installs from), the execution environment
(meta/execution-environment.yml) and the README's Install section must agree: the oldest supported release is tested,
the newest tested release is what the execution environment carries.
"""

from __future__ import absolute_import, division, print_function

import os
import re

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(*path):
    with open(os.path.join(REPO, *path)) as handle:
        return handle.read()


def minor(text):
    return tuple(int(part) for part in text.split(".")[:2])


def core_versions():
    match = re.search(r"^CORE_VERSIONS\s*:=\s*(.+)$", read("Makefile"), re.M)
    return sorted((minor(v) for v in match.group(1).split()))


def test_oldest_tested_release_is_the_oldest_supported_one():
    required = re.match(r"^>=(\d+\.\d+)(\.\d+)?$", yaml.safe_load(read("meta", "runtime.yml"))["requires_ansible"])
    assert required, "requires_ansible should be a lower bound (>=X.Y.Z)"
    assert core_versions()[0] == minor(required.group(1)), (core_versions(), required.group(0))


def test_requirement_range_covers_exactly_the_tested_releases():
    match = re.search(r"^ansible-core>=(\d+\.\d+),<(\d+)\.(\d+)$", read("tests", "requirements.txt"), re.M)
    assert match, "tests/requirements.txt: ansible-core>=X.Y,<X.Z"
    lower, upper = minor(match.group(1)), (int(match.group(2)), int(match.group(3)))
    versions = core_versions()
    assert versions[0] == lower and versions[-1] == (upper[0], upper[1] - 1), (versions, lower, upper)
    for version in versions:
        assert "CORE_PYTHONS_%d.%d" % version in read("Makefile"), "no Python list for ansible-core %d.%d" % version


def test_execution_environment_carries_the_newest_tested_release():
    definition = yaml.safe_load(read("meta", "execution-environment.yml"))
    pin = re.match(r"^ansible-core==(\d+\.\d+)\.\d+$", definition["dependencies"]["ansible_core"]["package_pip"])
    assert pin and minor(pin.group(1)) == core_versions()[-1], definition["dependencies"]["ansible_core"]


def test_readme_says_which_releases_are_supported():
    install = read("README.md").split("## Install", 1)[1].split("\n## ", 1)[0]
    oldest, newest = core_versions()[0], core_versions()[-1]
    assert "ansible-core %d.%d to %d.%d" % (oldest + newest) in install, install[:400]


def test_the_msal_floor_is_one_in_every_place():
    """Managed identity needs msal's ManagedIdentityClient (1.29.0): the requirements, the modules' documented
    requirements and the version the code asks for when it is missing say the same."""
    floor = re.search(r"^msal>=(\d+\.\d+\.\d+)$", read("meta", "requirements.txt"), re.M)
    assert floor, "meta/requirements.txt: msal>=X.Y.Z"
    assert minor(floor.group(1)) >= (1, 29)
    assert "msal >= %s" % floor.group(1) in read("plugins", "doc_fragments", "connection.py")
    code = re.search(r'^MSAL_FLOOR = "([\d.]+)"', read("plugins", "module_utils", "transport", "libraries.py"), re.M)
    assert code and code.group(1) == floor.group(1)
    assert "-r ../requirements.txt" in read("tests", "requirements.txt")  # the tests install the same floor
    assert yaml.safe_load(read("meta", "execution-environment.yml"))["dependencies"]["python"] == "requirements.txt"
