# -*- coding: utf-8 -*-
"""Fault soak: every module, one play, through the HTTPS emulator injecting a seeded random mix of faults.

About 30% of the requests to Exchange Online, to the token endpoint and to OpenID discovery get a fault (429 with
``Retry-After`` in seconds and as an HTTP date, 500/503/504 before and after the cmdlet ran, timeouts before and after
execution with the client's ``timeout`` below the hold, resets, closed connections, garbled, empty, ``{}``, array and
cut-short 200 bodies; token endpoint 500s, malformed answers, timeouts and resets, failing discovery). Half the tasks
run without the token cache, so each of them asks the token endpoint; every fifth runs with ``retries: 1`` so that
faults also exhaust the retries and the failure path is exercised.

A callback (tests/support/checkpoints.py) records, after every task, its result, the tenant as its SandboxTenant file
holds it (read directly: no fault, no request through the emulator) and where the emulator's request log stands. For
every task:

* the output holds no traceback and no MODULE FAILURE; a failure has a message that names what failed;
* a task that succeeded tells the truth: ``changed`` and ``action`` match what happened to its object between the
  checkpoints before and after it, the object it returns is the tenant's, the rule's placement and reported shifts
  are the tenant's, a recorded validation is the tenant's mark; check mode changes nothing and writes nothing;
* a task that failed says ``changed: true`` when its object changed, or says the write may or may not have been
  applied; a task that says ``changed: true`` did change it;
* no write took effect twice: in the emulator log each New/Set/Remove/Enable/Disable of a task ran successfully at
  most once per object.

The tasks are written so that the whole play is idempotent (updates set what the creating task does not manage,
removals and moves are of seeded objects, placements are consistent with each other). Then the same play, without
faults, converges (every task succeeds) and once more changes nothing (changed false everywhere, no write).

The seed is printed; replay a failure with ``MAILFLOW_SOAK_SEED=<seed> pytest tests/integration/test_fault_soak.py``
(CI runs the fixed default). ``MAILFLOW_SOAK_RATE`` changes the fault rate.
"""

from __future__ import absolute_import, division, print_function

import collections
import json
import os
import socket

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.resources import transport_rule as rules
from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import OutboundConnectorSpec
from tests.integration.conftest import emulator_defaults
from tests.support.checkpoints import run_checkpointed

SEED = int(os.environ.get("MAILFLOW_SOAK_SEED", "1"))  # 1 failed before the fixes it found
RATE = float(os.environ.get("MAILFLOW_SOAK_RATE", "0.3"))
CLIENT_TIMEOUT = 4  # seconds: the client's timeout option
HOLD = 5.0  # seconds an emulator timeout fault holds its answer: longer than CLIENT_TIMEOUT

INVOKE_KINDS = ["429", "429_date", "500", "503", "503_after", "504_after", "timeout", "timeout_after", "reset",
                "reset_after", "close", "garbled", "empty", "empty_object", "not_object", "truncated"]
TOKEN_KINDS = ["token_500", "token_malformed", "token_timeout", "token_reset", "discovery_500", "discovery_malformed"]

INBOUND = "m365.mailflow.partner_inbound_connector"
OUTBOUND = "m365.mailflow.partner_outbound_connector"
RULE = "m365.mailflow.mail_flow_rule"
VALIDATE = "m365.mailflow.connector_validate"
KIND = {INBOUND: "inbound", OUTBOUND: "outbound", RULE: "rules", VALIDATE: "outbound"}
WRITE_VERBS = ("new", "set", "remove", "enable", "disable")

# --------------------------------------------------------------------------------------------- the tenant to start

SEEDS = [
    ("New-InboundConnector", {"Name": "Soak seed in update", "ConnectorType": "Partner",
                              "SenderDomains": ["seed-u.example"], "Comment": "seed"}),
    ("New-InboundConnector", {"Name": "Soak seed in delete", "ConnectorType": "Partner",
                              "SenderDomains": ["seed-d.example"]}),
    ("New-OutboundConnector", {"Name": "Soak seed out update", "ConnectorType": "Partner",
                               "RecipientDomains": ["seed-ou.example"], "UseMXRecord": True}),
    ("New-OutboundConnector", {"Name": "Soak seed out delete", "ConnectorType": "Partner",
                               "RecipientDomains": ["seed-od.example"], "UseMXRecord": True}),
    ("New-OutboundConnector", {"Name": "Soak route target", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
                               "UseMXRecord": False, "SmartHosts": ["mail.route.example"]}),
    ("New-OutboundConnector", {"Name": "Soak validate", "ConnectorType": "Partner",
                               "RecipientDomains": ["val.example"], "UseMXRecord": False,
                               "SmartHosts": ["mail.val.example"]}),
    ("Set-OutboundConnector", {"Identity": "Soak validate", "IsValidated": True,
                               "ValidationRecipients": ["postmaster@val.example"]}),
] + [("New-TransportRule", {"Name": "Soak %s" % name, "SubjectContainsWords": ["seed %s" % name]})
     for name in ("A", "B", "S1", "S2")]


# --------------------------------------------------------------------------------------------- the play

def _tasks():
    """(module, args, keywords) in play order. Rule placements end as R1 A S1 B R2 R4 R3, consistent with every
    position asked for, so that a re-run moves nothing."""
    in1 = {"name": "Soak in 1", "sender_domains": ["p1.example"], "tls_sender_certificate_name": "*.p1.example",
           "restrict_domains_to_certificate": True}
    in2 = {"name": "Soak in 2", "sender_domains": ["p2.example"], "require_tls": False,
           "sender_ip_addresses": ["198.51.100.0/24", "203.0.113.7"], "restrict_domains_to_ip_addresses": True}
    in3 = {"name": "Soak in 3", "sender_domains": ["smtp:p3.example;1"], "tls_sender_certificate_name": "mail.p3.example",
           "restrict_domains_to_certificate": True, "associated_accepted_domains": ["contoso.com"],
           "trusted_organizations": ["p3.example"]}
    out1 = {"name": "Soak out 1", "recipient_domains": ["o1.example"], "smart_hosts": ["mail.o1.example"],
            "tls_settings": "domain_validation", "tls_domain": "*.o1.example"}
    out2 = {"name": "Soak out 2", "transport_rule_scoped": True, "smart_hosts": ["mail.o2.example"],
            "tls_settings": "encryption_only", "test_mode": True, "validation_recipients": ["postmaster@o2.example"]}
    out3 = {"name": "Soak out 3", "recipient_domains": ["o3.example"], "use_mx_record": True,
            "tls_settings": "opportunistic", "mta_sts_mode": "none"}
    r1 = {"name": "Soak R1", "position": {"before": "Soak A"}, "conditions": {"from": ["Alice Adams"]},
          "actions": {"prepend_subject": "[R1] "}}
    r2 = {"name": "Soak R2", "position": {"after": "Soak B"},
          "conditions": {"sender_domain_is": ["r2.example"], "sent_to": ["bob"]},
          "actions": {"set_header": {"name": "X-Soak", "value": "r2"}}}
    r3 = {"name": "Soak R3", "position": "bottom", "conditions": {"recipient_domain_is": ["r3.example"]},
          "actions": {"route_message_outbound_connector": "Soak route target"}, "purge_actions": False}
    r4 = {"name": "Soak R4", "position": {"after": "Soak R2"}, "conditions": {"subject_contains_words": ["r4"]},
          "actions": {"stop_rule_processing": True}}
    check = {"check_mode": True}
    return [
        (INBOUND, in1, {}),
        (INBOUND, in1, {}),
        (INBOUND, dict(in1, comment="soak comment"), check),
        (INBOUND, dict(in1, comment="soak comment"), {}),
        (INBOUND, in2, {}),
        (INBOUND, dict(in2, ef_skip_ips=["203.0.113.0/24"], ef_users=["alice@contoso.com"]), {}),
        (INBOUND, {"name": "Soak seed in update", "sender_domains": ["seed-u.example", "seed-u2.example"],
                   "enabled": False, "comment": "updated"}, {}),
        (INBOUND, {"name": "Soak seed in delete", "state": "absent"}, {}),
        (INBOUND, {"name": "Soak seed in delete", "state": "absent"}, {}),
        (INBOUND, in3, {}),
        (INBOUND, in3, {}),
        (OUTBOUND, out1, {}),
        (OUTBOUND, out1, {}),
        (OUTBOUND, dict(out1, comment="soak"), {}),
        (OUTBOUND, out2, {}),
        (OUTBOUND, out2, {}),
        (OUTBOUND, {"name": "Soak seed out update", "recipient_domains": ["seed-ou.example", "more.example"],
                    "enabled": False}, {}),
        (OUTBOUND, {"name": "Soak seed out delete", "state": "absent"}, {}),
        (OUTBOUND, {"name": "Soak seed out delete", "state": "absent"}, {}),
        (OUTBOUND, out3, {}),
        (RULE, r1, {}),
        (RULE, r1, {}),
        (RULE, r2, {}),
        (RULE, {"name": "Soak R2", "comments": "r2 off", "enabled": False}, {}),
        (RULE, {"name": "Soak S2", "state": "absent"}, {}),
        (RULE, {"name": "Soak S2", "state": "absent"}, {}),
        (RULE, {"name": "Soak S1", "position": {"before": "Soak B"}}, {}),
        (RULE, {"name": "Soak S1", "comments": "moved"}, {}),
        (RULE, r3, {}),
        (RULE, {"name": "Soak R3", "actions": {"prepend_subject": "[R3] "}, "purge_actions": False}, {}),
        (RULE, r4, check),
        (RULE, r4, {}),
        (RULE, {"name": "Soak R1", "enabled": False}, {}),
        (RULE, {"name": "Soak R4", "mode": "audit"}, {}),
        (VALIDATE, {"name": "Soak validate", "probe": False}, {}),
        (VALIDATE, {"name": "Soak validate", "probe": False}, {}),
        (VALIDATE, {"name": "Soak out 1", "probe": False, "service_validation": False}, {}),
        (VALIDATE, {"name": "Soak in 1", "direction": "inbound", "probe": False}, {}),
    ]


def play(tasks):
    """Ansible task dicts: every other task without the token cache, every fifth with retries: 1."""
    out = []
    for index, (module, args, keywords) in enumerate(tasks):
        args = dict(args)
        if index % 2:
            args["token_cache"] = False
        if index % 5 == 4:
            args["retries"] = 1
        task = {"name": "%02d %s %s" % (index, module.rsplit(".", 1)[1], args["name"]), module: args}
        task.update(keywords)
        out.append(task)
    return out


# --------------------------------------------------------------------------------------------- what is true

def by_name(objects):
    return dict((str(o["Name"]).lower(), o) for o in objects)


def order(tenant):
    return [r["Name"] for r in sorted(tenant["rules"], key=lambda r: r["Priority"])]


def clean(result):
    """The task's own output says nothing of a crash, and a failure names what failed."""
    text = json.dumps(result)
    assert "Traceback" not in text and "MODULE FAILURE" not in text, text[:3000]
    if result.get("failed"):
        msg = result.get("msg") or ""
        assert len(msg) > 20 and any(word in msg for word in (
            "Exchange Online", "token", "connector", "rule", "-InboundConnector", "-OutboundConnector",
            "-TransportRule", "Get-Recipient")), msg


def _view(kind, obj, args):
    if kind == "inbound":
        return InboundConnectorSpec().view(obj)
    if kind == "outbound":
        return OutboundConnectorSpec().view(obj)
    spec = rules.TransportRuleSpec(args.get("extra_parameters"))
    return spec.result_view(spec.view(obj))


def _desired_holds(kind, obj, args):
    """Every option the task gave is what the tenant holds (connectors; rules are proven by the re-runs)."""
    spec = InboundConnectorSpec() if kind == "inbound" else OutboundConnectorSpec()
    desired = dict((f.option, args.get(f.option)) for f in spec.fields)
    if kind == "inbound" and desired.get("require_tls") is None:
        desired["require_tls"] = True  # the module's default
    if kind == "outbound" and desired.get("tls_settings") is None:
        desired["tls_settings"] = "certificate_validation"
    assert spec.changes(desired, obj) == {}, (args, obj)


def check_placement(args, name, after, result):
    names = [n.lower() for n in order(after)]
    where = args.get("position")
    here = names.index(name.lower())
    assert result["priority"] == here, (result["priority"], order(after))
    if where == "top":
        assert here == 0
    elif where == "bottom":
        assert here == len(names) - 1, order(after)
    elif isinstance(where, dict):
        (side, other), = where.items()
        there = names.index(other.lower())
        assert here == (there - 1 if side == "before" else there + 1), (where, order(after))


def check_shifts(name, before, after, result):
    """shifted_rules lists exactly the other rules whose priority changed, with their priorities before and after."""
    old = dict((r["Name"], r["Priority"]) for r in before["rules"])
    new = dict((r["Name"], r["Priority"]) for r in after["rules"])
    moved = set(n for n in old if n in new and old[n] != new[n] and n.lower() != name.lower())
    reported = dict((s["name"], s) for s in result["shifted_rules"])
    assert set(reported) == moved, (result["shifted_rules"], old, new)
    for rule_name, shift in reported.items():
        assert (shift["before"], shift["after"]) == (old[rule_name], new[rule_name]), shift


def check_task(run, index, module, args, keywords):
    """Assert that task ``index`` told the truth about the tenant (see the module docstring)."""
    result = run.results[index]
    clean(result)
    kind, name = KIND[module], args["name"]
    before = by_name(run.tenant_before(index)[kind]).get(name.lower())
    after = by_name(run.tenant_after(index)[kind]).get(name.lower())
    touched = before != after  # any write to the object changes it (WhenChanged at least)
    writes = [e for e in run.requests(index) if e["cmdlet"].split("-")[0].lower() in WRITE_VERBS]
    took_effect = collections.Counter(
        (e["cmdlet"], str(e["parameters"].get("Name") or e["parameters"].get("Identity")).lower())
        for e in writes if e["executed"] == 200)
    assert all(count == 1 for count in took_effect.values()), ("a write took effect twice", took_effect)
    if keywords.get("check_mode"):
        assert not writes and not touched, writes
    if result.get("failed"):
        if touched:  # a failed task that changed the tenant says so
            assert result.get("changed") is True or "may or may not have been applied" in result["msg"], result
        if result.get("changed"):
            assert touched, result
        return "failed"
    if module == VALIDATE:
        assert result["connector"].lower() == name.lower() and result["changed"] is result["recorded"]
        if result["recorded"]:
            assert before["IsValidated"] is not result["validated"] and after["IsValidated"] is result["validated"]
        else:
            assert not touched, (before, after)
        return "validated"
    action, changed = result["action"], result["changed"]
    assert changed is (action != "none"), result
    if keywords.get("check_mode"):
        pass
    elif action == "create":
        assert before is None and after is not None, result["msg"]
    elif action == "delete":
        assert before is not None and after is None, result["msg"]
    elif action == "update":
        assert before is not None and after is not None and before["Guid"] == after["Guid"] and touched, result["msg"]
    else:
        assert not touched, (result["msg"], before, after)
    if args.get("state") == "absent":
        assert after is None or keywords.get("check_mode"), after
        if kind == "rules" and not keywords.get("check_mode"):
            check_shifts(name, run.tenant_before(index), run.tenant_after(index), result)
        return action
    if keywords.get("check_mode"):
        return action
    assert after is not None
    key = "rule" if kind == "rules" else "connector"
    assert result[key] == _view(kind, after, args), (result[key], after)
    if kind == "rules":
        check_placement(args, name, run.tenant_after(index), result)
        check_shifts(name, run.tenant_before(index), run.tenant_after(index), result)
    else:
        _desired_holds(kind, after, args)
    return action


# --------------------------------------------------------------------------------------------- the soak

def closed_udp_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def soak_target(emulator_target):
    tenant = emulator_target.tenant()
    # Validate-OutboundConnector of the sandbox behind the emulator fails fast: its resolver is a closed port.
    tenant.configure(dns_servers=["127.0.0.1:%d" % closed_udp_port()], timeout=0.2)
    for cmdlet, params in SEEDS:
        emulator_target.execute(cmdlet, params)
    emulator_target.module_defaults = dict(emulator_defaults(emulator_target.emulator), timeout=CLIENT_TIMEOUT)
    return emulator_target


def run_play(target, tasks):
    target.emulator.reset()
    return run_checkpointed(play(tasks), target.workdir, target.module_defaults, target.state_path,
                            emulator=target.emulator)


def check_run(run, tasks):
    assert len(run.checkpoints) == len(tasks), run.output[-5000:]
    assert "Traceback" not in run.output and "MODULE FAILURE" not in run.output, run.output[-5000:]
    outcomes = []
    for index, task in enumerate(tasks):
        try:
            outcomes.append(check_task(run, index, *task))
        except AssertionError as exc:
            raise AssertionError("task %s (seed %d): %s" % (run.checkpoints[index]["task"], SEED, exc))
    return outcomes


def test_fault_soak(soak_target):
    emulator = soak_target.emulator
    tasks = _tasks()
    print("fault soak: seed %d (replay with MAILFLOW_SOAK_SEED=%d), rate %.2f" % (SEED, SEED, RATE))

    emulator.reset()
    emulator.add_faults([{"random": {"rate": RATE, "seed": SEED, "kinds": INVOKE_KINDS + TOKEN_KINDS,
                                     "max_consecutive": 2, "hold": HOLD, "retry_after": "0.05"}}])
    run = run_checkpointed(play(tasks), soak_target.workdir, soak_target.module_defaults, soak_target.state_path,
                           emulator=emulator)
    calls = emulator.calls(wait=30)
    faults = collections.Counter("%s%s" % (f["kind"] if f["kind"] != "status" else f["status"],
                                           "_after" if f["after_execute"] else "") for f in calls["faults"])
    print("fault soak: %d requests, %d token and %d discovery requests, %d faults: %s"
          % (calls["requests"], calls["tokens"], calls["discovery"], sum(faults.values()), dict(faults)))
    for checkpoint in run.checkpoints:
        if checkpoint["result"].get("failed"):
            print("  task %s failed: %s" % (checkpoint["task"], checkpoint["result"].get("msg", "")[:300]))
    outcomes = check_run(run, tasks)
    print("fault soak: outcomes %s" % dict(collections.Counter(outcomes)))
    # no object of the play is removed and made again, so each New took effect at most once per name in the run
    made = collections.Counter(e["parameters"]["Name"] for e in run.log
                               if e["cmdlet"].startswith("New-") and e["executed"] == 200)
    assert all(count == 1 for count in made.values()), made
    # the soak really soaked: faults of every endpoint, at about the rate asked for
    assert sum(faults.values()) >= RATE * (calls["requests"] + calls["tokens"] + calls["discovery"]) / 2, faults
    assert any(k.startswith("token") or k.startswith("discovery") for k in faults), faults
    assert outcomes.count("failed") < len(tasks) / 2, outcomes

    # without faults, the same play converges: every task succeeds and tells the truth
    converge = run_play(soak_target, tasks)
    check_run(converge, tasks)
    for checkpoint in converge.checkpoints:
        assert not checkpoint["result"].get("failed"), checkpoint
    # and once more it changes nothing and writes nothing
    steady = run_play(soak_target, tasks)
    check_run(steady, tasks)
    for checkpoint in steady.checkpoints:
        assert checkpoint["result"].get("changed") is False, checkpoint
    assert [e for e in steady.log if e["cmdlet"].split("-")[0].lower() in WRITE_VERBS] == []
