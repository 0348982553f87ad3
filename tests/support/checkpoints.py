# -*- coding: utf-8 -*-
"""One ansible-playbook run of many tasks, with a checkpoint after every task (tests/support/callbacks).

A checkpoint holds the task's registered result, the tenant state read directly from its SandboxTenant file right
after the task (the truth, read without faults and without a request through the emulator), and for an emulator the
length of its request log at that moment, so ``requests(i)`` are exactly the InvokeCommand requests task ``i`` made.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import sys
import tempfile

from tests.support.ansible_runner import run_playbook

CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callbacks")


class CheckpointRun(object):
    def __init__(self, proc, checkpoints, log, before):
        self.proc = proc
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.checkpoints = checkpoints
        self.log = log  # the emulator's request log after the run (None for the sandbox)
        self.before = before  # the tenant state before the first task

    @property
    def results(self):
        return [c["result"] for c in self.checkpoints]

    def tenant_before(self, index):
        return self.before if index == 0 else self.checkpoints[index - 1]["tenant"]

    def tenant_after(self, index):
        return self.checkpoints[index]["tenant"]

    def requests(self, index):
        """The emulator log entries of the requests task ``index`` made."""
        start = 0 if index == 0 else self.checkpoints[index - 1]["log_length"]
        return self.log[start:self.checkpoints[index]["log_length"]]


def run_checkpointed(tasks, workdir, module_defaults, state_path, emulator=None, env=None, timeout=1800):
    """Run ``tasks`` (task dicts: ``name``, one module key with its arguments, any task keyword) in one play.

    Every task is registered and ``ignore_errors``, so the play goes on; the emulator log is assumed to start empty
    (reset it first).
    """
    from tests.support.callbacks.mailflow_checkpoint import tenant_state  # the same read the checkpoints make
    outdir = tempfile.mkdtemp(prefix="checkpoints-", dir=workdir)
    play_tasks = []
    for index, task in enumerate(tasks):
        task = dict(task)
        task.setdefault("name", "task %d" % index)
        task.update(register="r%d" % index, ignore_errors=True)
        play_tasks.append(task)
    play = {"name": "checkpointed", "hosts": "localhost", "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "module_defaults": {"group/m365.mailflow.exchange": module_defaults}, "tasks": play_tasks}
    extra = {"ANSIBLE_CALLBACK_PLUGINS": CALLBACKS, "ANSIBLE_CALLBACKS_ENABLED": "mailflow_checkpoint",
             "ANSIBLE_PIPELINING": "True",  # local tasks start faster (no module file per task)
             "MAILFLOW_CHECKPOINT_DIR": outdir, "MAILFLOW_CHECKPOINT_STATE": state_path}
    if emulator is not None:
        extra.update(MAILFLOW_CHECKPOINT_URL=emulator.url, MAILFLOW_CHECKPOINT_CA=emulator.ca_path)
    extra.update(env or {})
    before = tenant_state(state_path)
    proc = run_playbook([play], workdir, env=extra, timeout=timeout)
    checkpoints = []
    for name in sorted(n for n in os.listdir(outdir) if n[0].isdigit()):
        with open(os.path.join(outdir, name)) as handle:
            checkpoints.append(json.load(handle))
    log = emulator.calls(wait=30)["log"] if emulator is not None else None
    with open(os.path.join(outdir, "log.json"), "w") as handle:  # for a human replaying a failure
        json.dump({"before": before, "log": log, "output": proc.stdout + proc.stderr}, handle, indent=1)
    return CheckpointRun(proc, checkpoints, log, before)
