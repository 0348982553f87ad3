# -*- coding: utf-8 -*-
"""Run a module task through a real ``ansible-playbook`` and return its registered result.

Integration tests use this so that every assertion is about what Ansible really did: argument parsing,
AnsiballZ packaging of module_utils, check and diff mode, module_defaults of the action group.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
BIN = os.path.dirname(sys.executable)


def ensure_collection_link():
    link = os.path.join(COLLECTIONS, "ansible_collections", "m365", "mailflow")
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    return COLLECTIONS


def ansible_env(extra=None, home=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": ensure_collection_link(),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "PATH": BIN + os.pathsep + env.get("PATH", ""),
    })
    for key in [k for k in env if k.startswith("EXO_")]:
        del env[key]
    if home:
        env["XDG_CACHE_HOME"] = os.path.join(home, "cache")
        env["ANSIBLE_LOCAL_TEMP"] = os.path.join(home, "ansible-tmp")
    env.update(extra or {})
    return env


class Run(object):
    def __init__(self, rc, results, stdout, stderr):
        self.rc = rc
        self.results = results
        self.stdout = stdout
        self.stderr = stderr

    @property
    def result(self):
        return self.results[-1] if self.results else {}


def run_playbook(plays, workdir, check=False, diff=False, env=None, extra_args=(), timeout=600):
    """Run ``plays`` (a list of plays as Python data) and return rc, stdout, stderr."""
    path = os.path.join(workdir, "play-%d.yml" % len(os.listdir(workdir)))
    with open(path, "w") as handle:
        yaml.safe_dump(plays, handle, sort_keys=False)
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", path]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    cmd.extend(extra_args)
    proc = subprocess.run(cmd, cwd=workdir, env=ansible_env(env, home=workdir), capture_output=True, text=True,
                          timeout=timeout, check=False)
    return proc


def run_tasks(tasks, workdir, module_defaults=None, check=False, diff=False, env=None):
    """Run module tasks in one play; each task's registered result is returned in order.

    Failures do not stop the play (``ignore_errors``), so a test can assert on the failure message.
    """
    outdir = tempfile.mkdtemp(prefix="results-", dir=workdir)
    play_tasks = []
    for index, (module, args) in enumerate(tasks):
        var = "r%d" % index
        play_tasks.append({"name": "task %d" % index, module: args, "register": var, "ignore_errors": True})
        play_tasks.append({
            "name": "save %d" % index,
            "ansible.builtin.copy": {"dest": os.path.join(outdir, "%03d.json" % index), "content": "{{ %s | to_json }}" % var},
            "check_mode": False,
            "diff": False,
        })
    play = {
        "name": "test",
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "module_defaults": {"group/m365.mailflow.exchange": module_defaults or {}},
        "tasks": play_tasks,
    }
    proc = run_playbook([play], workdir, check=check, diff=diff, env=env)
    results = []
    for name in sorted(os.listdir(outdir)):
        with open(os.path.join(outdir, name)) as handle:
            results.append(json.load(handle))
    return Run(proc.returncode, results, proc.stdout, proc.stderr)


def make_workdir(base=None):
    return tempfile.mkdtemp(prefix="mailflow-it-", dir=base)
