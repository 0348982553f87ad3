#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: checking N generated partner definitions with m365.mailflow.partner_definitions.

Generates N partner files (inbound connector, rule-scoped outbound connector through a smart host, one mail flow
rule each), seeds a sandbox tenant with the objects of every partner (with the marker, as onboarding leaves them),
and times one ``ansible-playbook`` run of the check task alone, as the onboarding playbook runs it before its first
write: load every file, check shape, cross-field rules, the modules' pre-flight, names and domains across the
partners, then read the tenant once and check it. Runs N=100 and N=1000 in one go and prints the time of the check task (measured inside the play, without
ansible-playbook's start-up) and the ratio of the per-partner costs: the check is linear when it is close to 1. Target: 1,000 partners in under 30 s.

    .venv/bin/python benchmarks/partner_check.py [--sizes 100 1000] [--no-seed]
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from tests.support.ansible_runner import run_playbook  # noqa: E402

MARKER = "Managed by m365.mailflow partner "


def partner(index):
    name = "Partner %04d" % index
    domain = "p%04d.example" % index
    return name, domain, {"partner": {
        "name": name,
        "inbound": {"sender_domains": [domain, "*." + domain], "tls_sender_certificate_name": "*." + domain,
                    "restrict_domains_to_certificate": True},
        "outbound": {"smart_hosts": ["mail." + domain], "tls_settings": "domain_validation", "tls_domain": "*." + domain,
                     "validation_recipients": ["postmaster@" + domain]},
        "rules": [{"name": "Accounting", "conditions": {"sender_ad_attribute_contains_words": ["Department:Accounting"],
                                                        "recipient_domain_is": [domain]}}],
    }}


def seed(state, partners):
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
    tenant = SandboxTenant(state)
    for name, domain, _data in partners:
        marker = MARKER + name
        tenant.execute("New-InboundConnector", {"Name": name + " inbound", "ConnectorType": "Partner",
                                                "SenderDomains": [domain, "*." + domain], "Comment": marker})
        tenant.execute("New-OutboundConnector", {"Name": name + " outbound", "ConnectorType": "Partner",
                                                 "IsTransportRuleScoped": True, "UseMXRecord": False,
                                                 "SmartHosts": ["mail." + domain], "Comment": marker})
        tenant.execute("New-TransportRule", {"Name": name + " - Accounting", "RecipientDomainIs": [domain],
                                             "RouteMessageOutboundConnector": name + " outbound", "Comments": marker})


def measure(size, workdir, with_seed):
    folder = os.path.join(workdir, "partners-%d" % size)
    os.makedirs(folder)
    partners = [partner(i) for i in range(size)]
    files = []
    for name, _domain, data in partners:
        path = os.path.join(folder, name.replace(" ", "-").lower() + ".yml")
        with open(path, "w") as handle:
            yaml.safe_dump(data, handle, sort_keys=False)
        files.append(path)
    state = os.path.join(workdir, "tenant-%d.db" % size)
    if with_seed:
        seed(state, partners)
    out = os.path.join(workdir, "result-%d.json" % size)
    play = [{
        "name": "check %d partners" % size, "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": [
            {"name": "start", "ansible.builtin.set_fact": {"t0": "{{ now(fmt='%s.%f') }}"}},
            {"name": "check", "m365.mailflow.partner_definitions": {"files": files, "connection": {"sandbox": state}},
             "register": "checked"},
            {"name": "stop", "ansible.builtin.set_fact": {"t1": "{{ now(fmt='%s.%f') }}"}},
            {"name": "save", "ansible.builtin.copy": {
                "dest": out, "content": "{{ {'count': checked.partners | length, 'tenant_read': checked.tenant_read,"
                                        " 'calls': checked.tenant_calls, 'task': t1 | float - t0 | float} | to_json }}"}},
        ],
    }]
    start = time.time()
    proc = run_playbook(play, workdir)
    elapsed = time.time() - start
    if proc.returncode != 0:
        raise SystemExit("the %d-partner run failed:\n%s\n%s" % (size, proc.stdout[-3000:], proc.stderr[-2000:]))
    with open(out) as handle:
        result = json.load(handle)
    assert result["count"] == size, result
    return elapsed, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--no-seed", action="store_true", help="an empty tenant instead of one holding every partner")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="partner-check-")
    try:
        results = {}
        for size in args.sizes:
            elapsed, result = measure(size, workdir, not args.no_seed)
            results[size] = (elapsed, result["task"])
            print("%d partners: the check task %.2f s (%.2f ms per partner), the whole ansible-playbook run %.1f s; "
                  "tenant read: %s, %s calls" % (size, result["task"], 1000.0 * result["task"] / size, elapsed,
                                                 result["tenant_read"], result["calls"]))
        if len(args.sizes) >= 2:
            small, large = min(args.sizes), max(args.sizes)
            ratio = (results[large][1] / large) / (results[small][1] / small)
            print("per-partner cost ratio %d vs %d: %.2f (1.0 = linear, below 1: fixed costs shared); %d partners "
                  "checked in %.1f s, whole run %.1f s (target < 30 s): %s"
                  % (large, small, ratio, large, results[large][1], results[large][0],
                     "OK" if results[large][0] < 30 else "TOO SLOW"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
