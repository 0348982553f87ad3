#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: simulating mail flow (m365.mailflow.mail_flow_simulate's engine) for many messages and rules.

Builds a tenant in the mail_flow_info format with R mail flow rules (each with two or three conditions of different
kinds: recipient domains, AD attributes, words, patterns, sizes, headers; every other rule with an exception; a third
of them routing to a rule-scoped connector, the others setting headers or prefixing the subject, a few with
stop_rule_processing), R/2 outbound connectors (half rule-scoped, half scoped to domains, some with wildcards), a
directory of 1,000 recipients with departments, and M messages (random senders, one to three recipients, subjects,
bodies, attachments), then times ``engine.simulate`` (the pure evaluation, as the module and the onboarding planner
call it; the tenant reads are one per object type and are not part of it). Every rule is evaluated for every
recipient, and the answer lists every rule with why it matched or not.

Prints the wall and CPU time of each size and the CPU cost per message-recipient-rule evaluation (CPU time, since
the machine may be shared); the engine is linear when the ratios are close to 1. Target: 1,000 messages against 500 rules in seconds.

    .venv/bin/python benchmarks/simulate.py [--messages 100 1000] [--rules 500] [--seed 24]
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from ansible_collections.m365.mailflow.plugins.module_utils.simulation.engine import simulate  # noqa: E402

DEPARTMENTS = ("Accounting", "Sales", "Legal", "Research", "Support", "Marketing")
WORDS = ("invoice", "contract", "payroll", "offer", "urgent", "report", "draft", "secret")


def tenant(rules, rng):
    connectors, entries = [], []
    for index in range(rules // 2):
        domain = "partner%03d.example" % index
        if index % 2:
            connectors.append({"options": {"name": "P%03d outbound" % index, "transport_rule_scoped": True,
                                           "use_mx_record": False, "smart_hosts": ["mail." + domain],
                                           "tls_settings": "domain_validation", "tls_domain": "*." + domain,
                                           "enabled": True}, "facts": {"connector_type": "Partner"}})
        else:
            spaces = [domain] if index % 4 else ["*." + domain]
            connectors.append({"options": {"name": "P%03d outbound" % index, "recipient_domains": spaces,
                                           "use_mx_record": True, "tls_settings": "certificate_validation",
                                           "enabled": True, "test_mode": index % 50 == 0},
                               "facts": {"connector_type": "Partner"}})
    for index in range(rules):
        partner = index % (rules // 2)
        conditions = {"recipient_domain_is": ["partner%03d.example" % partner]}
        kind = index % 5
        if kind == 0:
            conditions["sender_ad_attribute_contains_words"] = ["Department:%s" % rng.choice(DEPARTMENTS)]
        elif kind == 1:
            conditions["subject_contains_words"] = rng.sample(WORDS, 2)
        elif kind == 2:
            conditions["subject_or_body_matches_patterns"] = ["\\b%s-\\d{3}\\b" % rng.choice(WORDS)]
        elif kind == 3:
            conditions["message_size_over"] = "%d KB" % rng.randint(10, 500)
        else:
            conditions["header_contains"] = {"header": "X-Class", "words": [rng.choice(WORDS)]}
        options = {"name": "Rule %03d" % index, "conditions": conditions, "mode": "enforce" if index % 7 else "audit"}
        if index % 2:
            options["exceptions"] = {"subject_contains_words": ["private"]}
        if index % 3 == 0 and partner % 2:
            options["actions"] = {"route_message_outbound_connector": "P%03d outbound" % partner}
        elif index % 3 == 1:
            options["actions"] = {"set_header": {"name": "X-Rule", "value": str(index)}}
        else:
            options["actions"] = {"prepend_subject": "[%d] " % index}
        if index % 97 == 0:
            options["actions"]["stop_rule_processing"] = True
        entries.append({"options": options, "facts": {"priority": index, "state": "Enabled"}})
    return {"inbound_connectors": [], "outbound_connectors": connectors, "mail_flow_rules": entries}


def directory(size):
    out = []
    for index in range(size):
        address = "user%04d@contoso.com" % index
        out.append({"Name": "User %04d" % index, "PrimarySmtpAddress": address, "EmailAddresses": ["SMTP:" + address],
                    "RecipientTypeDetails": "UserMailbox", "Department": DEPARTMENTS[index % len(DEPARTMENTS)],
                    "City": None, "Manager": None})
    return out


def messages(count, rules, rng):
    out = []
    for index in range(count):
        recipients = ["r%d@partner%03d.example" % (i, rng.randrange(rules // 2)) for i in range(rng.randint(1, 3))]
        words = rng.sample(WORDS, 3)
        out.append({
            "name": "message %04d" % index, "sender": "user%04d@contoso.com" % rng.randrange(1000),
            "recipients": recipients, "subject": "%s %s-%03d" % (words[0], words[1], index % 1000),
            "body": "Please find the %s attached. %s" % (words[2], "private" if index % 10 == 0 else ""),
            "headers": {"X-Class": words[1]}, "sent": "2026-06-01T09:00:00Z",
            "attachments": [{"name": "file%d.pdf" % index, "size": rng.randint(1, 900) * 1024}],
        })
    return out


def measure(objects, batch, people):
    """(wall seconds, CPU seconds, result): CPU time too, since the machine may be shared."""
    started, cpu = time.perf_counter(), time.process_time()
    result = simulate(objects, batch, {"contoso.com": "Authoritative"}, people)
    return time.perf_counter() - started, time.process_time() - cpu, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--messages", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    objects = tenant(args.rules, rng)
    people = directory(1000)
    print("tenant: %d rules, %d outbound connectors, %d recipients in the directory"
          % (len(objects["mail_flow_rules"]), len(objects["outbound_connectors"]), len(people)))
    rows = []
    for count in args.messages:
        batch = messages(count, args.rules, rng)
        elapsed, cpu, result = measure(objects, batch, people)
        recipients = result["summary"]["recipients"]
        evaluated = sum(1 for m in result["messages"] for r in m["recipients"] for x in r["rules"]
                        if x["status"] != "not_evaluated")
        size = len(json.dumps(result))
        rows.append((count, recipients, evaluated, cpu))
        print("%5d messages, %5d recipients, %7d rule evaluations: %6.2f s (CPU %.2f s, %4.1f us per evaluation), "
              "%d through a connector, answer %.1f MB of JSON"
              % (count, recipients, evaluated, elapsed, cpu, 1e6 * cpu / max(evaluated, 1),
                 result["summary"]["through_connector"], size / 1e6))
    if len(rows) > 1:
        base = rows[0][3] / max(rows[0][2], 1)
        for count, _recipients, evaluated, elapsed in rows[1:]:
            print("CPU cost per evaluation at %d messages / at %d messages: %.2f (linear: close to 1)"
                  % (count, rows[0][0], (elapsed / max(evaluated, 1)) / base))


if __name__ == "__main__":
    main()
