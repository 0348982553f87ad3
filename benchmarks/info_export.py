#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: mail_flow_info and export_partners.yml on a tenant of 500 objects, through the HTTPS emulator.

The tenant holds 100 partners made as onboarding makes them (inbound and outbound connector; half of them with a
rule-scoped outbound connector and two rules) and 200 hand-made rules: 500 objects. The emulator pages at 100
objects (as the service pages, the client follows @odata.nextLink). The script prints, from the emulator's counter,
the calls per cmdlet of one export (target: one read per object type; with the pages of 100, 1 + 1 + 3 requests
here) and
no write, and the ratio of the export's wall time on the 500-object tenant to that on an empty tenant (ansible start
up included in both; target: the 500 objects add seconds, not minutes). Measured on 2 shared cores: 13 s for the
500-object tenant, 3.6 s for the empty one. The files are written by one m365.mailflow.write_files task (on the
controller); with one ansible.builtin.copy loop item per partner file the same export took 181 s.

    .venv/bin/python benchmarks/info_export.py [--partners 100] [--rounds 2]
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from tests.emulator import Emulator  # noqa: E402
from tests.integration.conftest import emulator_defaults  # noqa: E402
from tests.support.ansible_runner import BIN, ansible_env  # noqa: E402

MARK = "Managed by m365.mailflow partner "
EXPORT = os.path.join(REPO, "playbooks", "export_partners.yml")


def seed(state, partners):
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
    tenant = SandboxTenant(state)
    count = 0
    for index in range(partners):
        name = "P%03d" % index
        domain = "p%03d.example" % index
        tenant.execute("New-InboundConnector", {"Name": name + " inbound", "ConnectorType": "Partner",
                                                "SenderDomains": [domain], "Comment": MARK + name})
        scoped = index % 2 == 0
        outbound = {"Name": name + " outbound", "ConnectorType": "Partner", "Comment": MARK + name,
                    "SmartHosts": ["mail." + domain], "UseMXRecord": False, "TlsSettings": "CertificateValidation"}
        outbound.update({"IsTransportRuleScoped": True} if scoped else {"RecipientDomains": [domain]})
        tenant.execute("New-OutboundConnector", outbound)
        count += 2
        if scoped:
            for rule in ("Finance", "Legal"):
                tenant.execute("New-TransportRule", {"Name": "%s - %s" % (name, rule), "Comments": MARK + name,
                                                     "RecipientDomainIs": [domain],
                                                     "SubjectContainsWords": [rule],
                                                     "RouteMessageOutboundConnector": name + " outbound"})
                count += 1
    for index in range(2 * partners):
        tenant.execute("New-TransportRule", {"Name": "Hand %03d" % index, "SubjectContainsWords": ["hand%d" % index],
                                             "PrependSubject": "[%d] " % index})
        count += 1
    return count


def export(emu, workdir, out):
    conn = emulator_defaults(emu)
    inventory = os.path.join(workdir, "inventory.yml")
    with open(inventory, "w") as handle:
        yaml.safe_dump({"all": {"hosts": {"bench": {"mailflow_connection": conn, "ansible_connection": "local"}}}},
                       handle)
    emu.reset()  # counters and faults: the paging setting is set again after it
    emu.add_faults([{"page_size": 100}])
    start = time.time()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, EXPORT, "-e",
                           json.dumps({"export_dir": out})], cwd=workdir, env=ansible_env(home=workdir),
                          capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.time() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-2000:])
    return elapsed, emu.calls()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--partners", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-info-")
    try:
        emus = {}
        for label in ("empty", "full"):
            emus[label] = Emulator(os.path.join(workdir, label + ".db"), cert_dir=os.path.join(workdir, "pki-" + label))
        objects = seed(emus["full"].state_path, args.partners)
        times = {"empty": [], "full": []}
        calls = None
        for label, emu in emus.items():
            emu.start()
        try:
            for _round in range(args.rounds):
                for label, emu in emus.items():
                    elapsed, counted = export(emu, workdir, os.path.join(workdir, "out-" + label))
                    times[label].append(elapsed)
                    if label == "full":
                        calls = counted
        finally:
            for emu in emus.values():
                emu.stop()
        files = os.listdir(os.path.join(workdir, "out-full", "bench"))
        best = dict((label, min(values)) for label, values in times.items())
        print("objects in the tenant: %d (%d partner files, unmanaged.yml)" % (objects, len(files) - 1))
        print("calls of one export: %s; requests (pages included): %d; writes: %d"
              % (json.dumps(calls["cmdlets"], sort_keys=True), calls["requests"], calls["writes"]))
        print("export wall time: %.1f s with %d objects, %.1f s on an empty tenant (ratio %.2f; best of %d)"
              % (best["full"], objects, best["empty"], best["full"] / best["empty"], args.rounds))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
