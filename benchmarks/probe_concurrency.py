#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: validate_route over N smart hosts versus the slowest single probe_host.

Starts N tiny threaded SMTP stubs (tests/support/mailservers.SlowSmtpStub) on loopback IPs 127.0.0.20.. on one
port, each waiting a different time before its banner (up to --max-delay seconds) and offering STARTTLS with a
certificate from a throw-away test CA. It times every host alone (probe_host, certificate_validation), then all
hosts in one validate_route call, and prints the ratio validate_route time / slowest single probe. Target: about
1.0 (hosts are probed concurrently), far below N * average.

    .venv/bin/python benchmarks/probe_concurrency.py [--hosts 10] [--max-delay 1.0] [--rounds 3]
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from ansible_collections.m365.mailflow.plugins.module_utils.validation import smtp_probe as probe  # noqa: E402
from tests.support import pki  # noqa: E402
from tests.support.mailservers import SlowSmtpStub, free_port  # noqa: E402


def start_stubs(count, max_delay, directory):
    ca = pki.make_ca(directory, "benchmark CA")
    ips = ["127.0.0.%d" % (20 + index) for index in range(count)]
    port = free_port(ips)
    stubs = []
    for index, ip in enumerate(ips):
        cert = pki.issue_cert(ca, directory, "host%d" % index, dns_names=("bench%d.example" % index,), ip_addresses=(ip,))
        delay = max_delay * (index + 1) / count
        stubs.append(SlowSmtpStub(ip, port, delay=delay, cert=cert).start())
    return ca, ips, port, stubs


def timed(func, *args, **kwargs):
    started = time.monotonic()
    result = func(*args, **kwargs)
    return time.monotonic() - started, result


def one_round(ips, port, ca_path):
    options = dict(port=port, tls_mode="certificate_validation", ca_path=ca_path, timeout=10.0)
    singles = []
    for ip in ips:
        elapsed, result = timed(probe.probe_host, ip, **options)
        if not result["ok"]:
            raise RuntimeError("probe of %s failed: %s" % (ip, result["failures"]))
        singles.append(elapsed)
    elapsed, report = timed(probe.validate_route, smart_hosts=ips, smtp_port=port, tls_mode="certificate_validation",
                            ca_path=ca_path, timeout=10.0)
    if not report["validated"]:
        raise RuntimeError("validate_route failed: %s" % report["failures"])
    return elapsed, max(singles), sum(singles)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--max-delay", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="mailflow-bench-")
    stubs = []
    try:
        ca, ips, port, stubs = start_stubs(args.hosts, args.max_delay, directory)
        rounds = [one_round(ips, port, ca.cert) for _round in range(args.rounds)]
    finally:
        for stub in stubs:
            stub.stop()
        shutil.rmtree(directory, ignore_errors=True)
    total = statistics.median(r[0] for r in rounds)
    slowest = statistics.median(r[1] for r in rounds)
    sequential = statistics.median(r[2] for r in rounds)
    print("hosts: %d, greeting delays %.2fs..%.2fs, rounds: %d" % (
        args.hosts, args.max_delay / args.hosts, args.max_delay, args.rounds))
    print("validate_route (all hosts): %.3fs" % total)
    print("slowest single probe_host:  %.3fs" % slowest)
    print("sum of single probes:       %.3fs" % sequential)
    print("ratio validate_route / slowest single: %.2f" % (total / slowest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
