# -*- coding: utf-8 -*-
"""Ansible callback (tests only): after every task, a checkpoint of what the task said and what is true.

Enabled by tests/support/checkpoints.py for one ansible-playbook run. For each task result it writes
``<dir>/NNNN.json`` with the task name, the registered result, the tenant state read directly from its SandboxTenant
file (no fault, no request through the emulator, so it is not counted and draws no random fault) and, for an emulator,
how long its request log is at that moment (after waiting for answers still held by a fault). The strategy calls
callbacks before it starts the next task, so each checkpoint shows the tenant between two tasks.

Environment: MAILFLOW_CHECKPOINT_DIR (required), MAILFLOW_CHECKPOINT_STATE (the tenant file), MAILFLOW_CHECKPOINT_URL
and MAILFLOW_CHECKPOINT_CA (the emulator's URL and CA, optional).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import ssl
import urllib.request

from ansible.plugins.callback import CallbackBase

# What a checkpoint reads of the tenant: every connector (test-mode ones too) and every rule.
READS = (
    ("inbound", "Get-InboundConnector", {}),
    ("outbound", "Get-OutboundConnector", {"IncludeTestModeConnectors": True}),
    ("rules", "Get-TransportRule", {}),
)


def tenant_state(path):
    """{"inbound": [...], "outbound": [...], "rules": [...]} as the tenant file holds them now."""
    from ansible_collections.m365.mailflow.plugins.module_utils import wire
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
    tenant = SandboxTenant(path)  # (without replication lag: a lagging tenant would hide new objects here too)
    return dict((key, wire.parse_response(tenant.execute(cmdlet, params), cmdlet).objects) for key, cmdlet, params in READS)


def emulator_log_length(url, ca_path):
    context = ssl.create_default_context(cafile=ca_path)
    with urllib.request.urlopen(url.rstrip("/") + "/_emulator/calls?wait=30", context=context, timeout=60) as answer:
        return len(json.loads(answer.read().decode("utf-8"))["log"])


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "mailflow_checkpoint"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.directory = os.environ.get("MAILFLOW_CHECKPOINT_DIR")
        self.state = os.environ.get("MAILFLOW_CHECKPOINT_STATE")
        self.url = os.environ.get("MAILFLOW_CHECKPOINT_URL")
        self.ca_path = os.environ.get("MAILFLOW_CHECKPOINT_CA")
        self.count = 0

    def _checkpoint(self, result, failed=False):
        if not self.directory:
            return
        registered = dict(result._result)  # pylint: disable=protected-access
        if failed:
            registered["failed"] = True  # as the registered variable says it
        record = {"index": self.count, "task": result.task_name, "result": registered}
        if self.url:
            record["log_length"] = emulator_log_length(self.url, self.ca_path)
        if self.state:
            record["tenant"] = tenant_state(self.state)
        with open(os.path.join(self.directory, "%04d.json" % self.count), "w") as handle:
            json.dump(record, handle, default=str)
        self.count += 1

    def v2_runner_on_ok(self, result):
        self._checkpoint(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._checkpoint(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._checkpoint(result)
