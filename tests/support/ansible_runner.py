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

from tests.support.collection import REPO, ensure_collection_link

# mailflow_test_save: writes a task's results to a file on the controller without running a module
ACTION_PLUGINS = os.path.join(REPO, "tests", "support", "action_plugins")
BIN = os.path.dirname(sys.executable)


def ansible_env(extra=None, home=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": ensure_collection_link(),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_ACTION_PLUGINS": ACTION_PLUGINS,
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


def run_tasks(tasks, workdir, module_defaults=None, check=False, diff=False, env=None, extra_args=()):
    """Run module tasks in one play; each task's registered result is returned in order.

    A task is ``(module, args)`` or ``(module, args, keywords)``, ``keywords`` being task keywords such as
    ``environment`` or ``no_log``. ``extra_args`` go to ansible-playbook (``-vvvv``).

    Failures do not stop the play (``ignore_errors``), so a test can assert on the failure message. The results are
    saved once, after the last task (in ``always``: the results of the tasks that ran are saved whatever happens), by
    the controller-side ``mailflow_test_save`` (tests/support/action_plugins): a save with ``ansible.builtin.copy``
    after each task cost as much CPU as the task itself.
    """
    outdir = tempfile.mkdtemp(prefix="results-", dir=workdir)
    names = ["r%d" % index for index in range(len(tasks))]
    play_tasks = []
    for index, task in enumerate(tasks):
        module, args = task[0], task[1]
        entry = {"name": "task %d" % index, module: args, "register": names[index], "ignore_errors": True}
        entry.update(task[2] if len(task) > 2 else {})
        play_tasks.append(entry)
    save = {
        "name": "save",
        "mailflow_test_save": {
            "dest": os.path.join(outdir, "results.json"),
            "content": "{{ [%s] | to_json }}" % ", ".join("%s | default(None)" % name for name in names),
        },
        "check_mode": False,
        "diff": False,
    }
    play = {
        "name": "test",
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "module_defaults": {"group/m365.mailflow.exchange": module_defaults or {}},
        "tasks": [{"block": play_tasks, "always": [save]}],
    }
    proc = run_playbook([play], workdir, check=check, diff=diff, env=env, extra_args=extra_args)
    results = []
    path = os.path.join(outdir, "results.json")
    if os.path.exists(path):
        with open(path) as handle:
            # None: a task the play did not reach (the old per-task saves left no file for it either)
            results = [result for result in json.load(handle) if result is not None]
    return Run(proc.returncode, results, proc.stdout, proc.stderr)


def make_workdir(base=None):
    return tempfile.mkdtemp(prefix="mailflow-it-", dir=base)
