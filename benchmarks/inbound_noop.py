#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: N no-op partner_inbound_connector tasks versus N ansible.builtin.uri InvokeCommand calls.

Both plays run in one process tree against the same HTTPS emulator, one after the other, and each is timed as a
whole playbook run (start-up included, so both pay it). The script prints the ratio of the per-task cost (the
difference between an N-task and a 1-task run, divided by N-1) and the API calls per task counted by the
emulator. Target: ratio <= 1.25, 1 read and 0 writes per no-op task, at most 1 token request per play.

    .venv/bin/python benchmarks/inbound_noop.py [--tasks 20] [--rounds 3]
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from tests.emulator import Emulator  # noqa: E402
from tests.support.ansible_runner import run_playbook  # noqa: E402

CONNECTOR = {"name": "Bench inbound", "sender_domains": ["bench.example"], "comment": "benchmark"}


def module_play(emulator, tasks):
    return [{
        "name": "module", "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "module_defaults": {"group/m365.mailflow.exchange": {
            "tenant": emulator.tenant_id, "client_id": emulator.app["client_id"],
            "client_secret": emulator.app["client_secret"], "api_url": emulator.url,
            "authority_url": emulator.url, "ca_path": emulator.ca_path}},
        "tasks": [{"name": "noop %d" % i, "m365.mailflow.partner_inbound_connector": CONNECTOR} for i in range(tasks)],
    }]


def uri_play(emulator, tasks):
    token_url = "%s/%s/oauth2/v2.0/token" % (emulator.url, emulator.tenant_id)
    api = "%s/adminapi/beta/%s/InvokeCommand" % (emulator.url, emulator.tenant_id)
    get_token = {
        "name": "token", "register": "tok",
        "ansible.builtin.uri": {
            "url": token_url, "method": "POST", "body_format": "form-urlencoded", "ca_path": emulator.ca_path,
            "body": {"grant_type": "client_credentials", "client_id": emulator.app["client_id"],
                     "client_secret": emulator.app["client_secret"],
                     "scope": "https://outlook.office365.com/.default"}},
    }
    call = {
        "ansible.builtin.uri": {
            "url": api, "method": "POST", "body_format": "json", "ca_path": emulator.ca_path,
            "headers": {"Authorization": "Bearer {{ tok.json.access_token }}",
                        "X-AnchorMailbox": "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@%s" % emulator.tenant_id},
            "body": {"CmdletInput": {"CmdletName": "Get-InboundConnector", "Parameters": {"Identity": CONNECTOR["name"]}}}},
    }
    task_list = [get_token] + [dict(call, name="uri %d" % i) for i in range(tasks)]
    return [{"name": "uri", "hosts": "localhost", "gather_facts": False,
             "vars": {"ansible_python_interpreter": sys.executable}, "tasks": task_list}]


def timed(plays, workdir):
    start = time.perf_counter()
    proc = run_playbook(plays, workdir)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit("playbook failed")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="mailflow-bench-")
    with Emulator(os.path.join(workdir, "tenant.db"), cert_dir=os.path.join(workdir, "pki")) as emulator:
        timed(module_play(emulator, 1), workdir)  # create the connector; later runs are no-ops
        per_task = {"module": [], "uri": []}
        for _round in range(args.rounds):
            for kind, factory in (("module", module_play), ("uri", uri_play)):
                one = timed(factory(emulator, 1), workdir)
                emulator.reset()
                shutil.rmtree(os.path.join(workdir, "cache"), ignore_errors=True)  # each play starts with no token
                many = timed(factory(emulator, args.tasks), workdir)
                calls = emulator.calls()
                per_task[kind].append((many - one) / (args.tasks - 1))
                if kind == "module":
                    module_calls = calls
        module_cost = min(per_task["module"])
        uri_cost = min(per_task["uri"])
        reads = module_calls["reads"] / float(args.tasks)
        writes = module_calls["writes"] / float(args.tasks)
        print("tasks per play:            %d (best of %d rounds)" % (args.tasks, args.rounds))
        print("module no-op per task:     %.3f s" % module_cost)
        print("uri InvokeCommand per task: %.3f s" % uri_cost)
        print("ratio module/uri:          %.2f (target <= 1.25)" % (module_cost / uri_cost))
        print("API calls per module task: %.2f reads, %.2f writes (target 1 and 0)" % (reads, writes))
        print("token requests per play:   %d (target <= 1)" % module_calls["tokens"])


if __name__ == "__main__":
    main()
