#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: onboarding N generated partners into one tenant, then the same run again (a no-op), with the playbook
users run (playbooks/onboard_partner.yml: the partner files are checked, then one m365.mailflow.partners task plans and
applies every partner of the tenant).

For each N (default 10, 100 and 1,000) and each target (the sandbox tenant, and the HTTPS emulator of the REST
endpoint, whose call counter gives the reads and writes), it times the first onboarding and the no-op re-run, and
prints a table. Targets, as ratios measured in one run:

- the no-op makes at most 4 reads and 0 writes per tenant, whatever N is (emulator call counter);
- the no-op of the largest N takes at most 3 times as long as that of the smallest;
- the first onboarding grows linearly with N (per-partner cost of the largest N within 1.5 times that of the middle
  one: fixed costs make smaller runs dearer per partner, never cheaper).

Partners: every fifth has a mail flow rule (a rule-scoped outbound connector through a smart host), the others an
outbound connector for their recipient domains; a tenant holds at most 300 rules, so 1,000 partners have 200.
Validation is off (-e mailflow_validate=never): it probes partner servers, which these partners do not have.

    .venv/bin/python benchmarks/partners_scale.py [--sizes 10 100 1000] [--targets sandbox emulator]
"""

from __future__ import absolute_import, division, print_function

import argparse
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

from tests.integration.conftest import emulator_defaults  # noqa: E402
from tests.support.ansible_runner import BIN, ansible_env  # noqa: E402

ONBOARD = os.path.join(REPO, "playbooks", "onboard_partner.yml")


def partner(index):
    name, domain = "Partner %04d" % index, "p%04d.example" % index
    data = {"name": name,
            "inbound": {"sender_domains": [domain, "*." + domain], "tls_sender_certificate_name": "*." + domain,
                        "restrict_domains_to_certificate": True},
            "outbound": {"smart_hosts": ["mail." + domain], "tls_settings": "domain_validation",
                         "tls_domain": "*." + domain, "validation_recipients": ["postmaster@" + domain]}}
    if index % 5 == 0:
        data["rules"] = [{"name": "Accounting", "conditions": {
            "sender_ad_attribute_contains_words": ["Department:Accounting"], "recipient_domain_is": [domain]}}]
    else:
        data["outbound"]["recipient_domains"] = [domain, "*." + domain]
    return {"partner": data}


def write_partners(folder, size):
    os.makedirs(folder)
    files = []
    for index in range(size):
        path = os.path.join(folder, "partner-%04d.yml" % index)
        with open(path, "w") as handle:
            yaml.safe_dump(partner(index), handle, sort_keys=False)
        files.append(path)
    return files


def run(workdir, inventory):
    cmd = [os.path.join(BIN, "ansible-playbook"), ONBOARD, "-i", inventory, "-e", "mailflow_validate=never"]
    start = time.time()
    proc = subprocess.run(cmd, cwd=workdir, env=ansible_env(home=workdir), capture_output=True, text=True, check=False)
    elapsed = time.time() - start
    if proc.returncode != 0:
        raise SystemExit("ansible-playbook failed:\n%s\n%s" % (proc.stdout[-4000:], proc.stderr[-2000:]))
    return elapsed


def inventory(workdir, connection, files):
    path = os.path.join(workdir, "tenants.yml")
    with open(path, "w") as handle:
        yaml.safe_dump({"tenants": {"hosts": {"tenant": {"mailflow_connection": connection, "partner_files": files}},
                                    "vars": {"ansible_connection": "local"}}}, handle)
    return path


def measure(target, size, workdir):
    files = write_partners(os.path.join(workdir, "partners"), size)
    emu = None
    if target == "emulator":
        from tests.emulator import Emulator
        emu = Emulator(os.path.join(workdir, "tenant.db"), cert_dir=os.path.join(workdir, "pki"))
        emu.start()
        connection = dict(emulator_defaults(emu))
    else:
        connection = {"sandbox": os.path.join(workdir, "tenant.db")}
    try:
        inv = inventory(workdir, connection, files)
        first = run(workdir, inv)
        writes = emu.calls()["writes"] if emu else None
        if emu:
            emu.reset()
        noop = run(workdir, inv)
        calls = emu.calls() if emu else None
    finally:
        if emu:
            emu.stop()
    row = {"target": target, "partners": size, "first": first, "noop": noop, "first_writes": writes}
    if calls:
        row["noop_reads"] = calls["reads"]
        row["noop_writes"] = calls["writes"]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--targets", nargs="+", default=["sandbox", "emulator"], choices=["sandbox", "emulator"])
    args = parser.parse_args()
    rows = []
    base = tempfile.mkdtemp(prefix="partners-scale-")
    try:
        for target in args.targets:
            for size in args.sizes:
                workdir = os.path.join(base, "%s-%d" % (target, size))
                os.makedirs(workdir)
                rows.append(measure(target, size, workdir))
                row = rows[-1]
                print("%-8s %5d partners: first onboarding %7.1f s (%s writes), no-op %6.1f s (%s reads, %s writes)"
                      % (target, size, row["first"], row.get("first_writes", "-"), row["noop"],
                         row.get("noop_reads", "-"), row.get("noop_writes", "-")), flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("\n| target | partners | first onboarding (s) | per partner (ms) | no-op (s) | no-op reads | no-op writes |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| %s | %d | %.1f | %.0f | %.1f | %s | %s |" % (
            row["target"], row["partners"], row["first"], 1000.0 * row["first"] / row["partners"], row["noop"],
            row.get("noop_reads", "-"), row.get("noop_writes", "-")))
    verdicts = []
    small, large = min(args.sizes), max(args.sizes)
    middle = sorted(args.sizes)[len(args.sizes) // 2]
    for target in args.targets:
        by = dict((r["partners"], r) for r in rows if r["target"] == target)
        ratio = by[large]["noop"] / by[small]["noop"]
        verdicts.append("%s: no-op of %d partners / no-op of %d = %.2f (target <= 3): %s"
                        % (target, large, small, ratio, "OK" if ratio <= 3 else "TOO SLOW"))
        if middle != large:
            growth = (by[large]["first"] / large) / (by[middle]["first"] / middle)
            verdicts.append("%s: first onboarding per partner, %d vs %d = %.2f (linear: about 1, target <= 1.5): %s"
                            % (target, large, middle, growth, "OK" if growth <= 1.5 else "NOT LINEAR"))
        if target == "emulator":
            worst = max(by.values(), key=lambda r: r["noop_reads"])
            writes = sum(r["noop_writes"] for r in by.values())
            verdicts.append("emulator: no-op reads per tenant at most %d (target <= 4), writes %d (target 0): %s"
                            % (worst["noop_reads"], writes, "OK" if worst["noop_reads"] <= 4 and writes == 0 else "FAIL"))
    print("\n" + "\n".join(verdicts))


if __name__ == "__main__":
    main()
