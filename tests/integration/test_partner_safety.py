# -*- coding: utf-8 -*-
"""Partner-level safety (issue 22): nothing a mail admin runs may report success while doing the wrong thing.

A table of cases at the playbook level. Each case is one tenant (an inventory host with its own sandbox tenant), so
that one ``ansible-playbook`` run of onboard_partner.yml (or offboard_partner.yml) runs the whole table; every case
compares its tenant before and after. A case is either **refused** (the host fails, the message names the file, the
field and the fix, and the tenant is unchanged: no partial write) or **handled** (the host succeeds and its check
holds). The runs that need their own command line (a wrong -i path, check mode) and the two runs started together
are tests of their own.

Where each item of issue 22 is checked:
  1 misspelt offboarding: OFFBOARD_CASES; 2 catch-all: catch_all_*, two_catch_alls, any_sender_without_restriction;
  3 wrong -i: test_a_wrong_inventory_path_reads_nothing (and test_docs: the guides' commands from a fresh clone);
  4 checked before the first write: priority_*, position_*, unknown_group, unknown_redirect, unknown_extra_parameter,
  disabled_outbound_with_rules, bad_validation_settings; 5 two runs at once: test_two_runs_at_once_*;
  6 rule_disabled_by_hand; 7 test_fail_on_invalid_*; 8 inline_definition_is_data; 9 OFFBOARD_CASES;
  10 condition_and_exception_alike, route_for_internal_mail, python_only_regex;
  11 test_release (the tarball from tracked files), test_docs (make build after the guides);
  12 smart_host_as_a_url, not_utf8, directory_as_partner_file, certificate_without_its_key, route_given_in_the_file,
  validation_off_for_the_run, fixes in option words (test_connector_validate);
  13 test_a_dry_run_creates_no_sandbox_directory, test_partner_input (a read-only sandbox's dry run),
  test_collection_install (an installed collection's sandbox), under_a_tenant_wildcard,
  sender_ips_of_two_partners_overlap, host_bits_in_a_block, control_character_in_a_comment, test_export_drift (no
  service defaults in exports), test_docs (the README's emulator block), test_release (make build makes its venv).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import time

import pytest
import yaml

from tests.integration.conftest import emulator_defaults
from tests.integration.test_onboarding import OFFBOARD, ONBOARD, objects, playbook, recap
from tests.integration.test_partner_input import MARKER, failures, partner_objects, seed, text, write
from tests.support.ansible_runner import BIN, ansible_env

SUMMARY_TASK = "Summary | "


def partner(name, domain=None, **sections):
    domain = domain or "%s.example" % name.lower()
    data = {"name": name, "inbound": {"sender_domains": [domain]}}
    data.update(sections)
    return {"partner": data}


def routed(name, rule=None, **outbound):
    """A partner whose outbound connector is scoped to one rule (recipient_domain_is its domain)."""
    domain = "%s.example" % name.lower()
    rule = rule or {"name": "Mail", "conditions": {"recipient_domain_is": [domain]}}
    out = {"smart_hosts": ["mail.%s" % domain], "validation_recipients": ["postmaster@%s" % domain]}
    out.update(outbound)
    return partner(name, outbound=out, rules=[rule])


# Each case: the partner files of the tenant, its other host variables, objects seeded first, and what must happen.
# ``refused``: fragments of the failure message (all must be there); ``handled``: a check of the tenant afterwards.
ONBOARD_CASES = {
    "catch_all_outbound": {
        "files": [partner("Wide", outbound={"recipient_domains": ["*"], "validation_recipients": ["a@wide.example"]})],
        "refused": ["outbound.recipient_domains: '*' sends all of the tenant's outbound mail", "catch_all: true"]},
    "two_catch_alls": {
        "files": [partner(n, outbound={"recipient_domains": ["*"], "catch_all": True,
                                       "validation_recipients": ["a@%s.example" % n.lower()]}) for n in ("One", "Two")],
        "refused": ["outbound.recipient_domains: '*' (every domain) is also given to partner 'One'",
                    "a tenant can have one catch-all outbound connector"]},
    "catch_all_taken_in_tenant": {
        "seed": [("outbound", {"Name": "Everything", "RecipientDomains": ["*"], "Comment": "made by hand"})],
        "files": [partner("Wide", outbound={"recipient_domains": ["*"], "catch_all": True,
                                            "validation_recipients": ["a@wide.example"]})],
        "refused": ["'*' (every domain) is already taken by the outbound connector 'Everything'"]},
    "any_sender_without_restriction": {
        "files": [partner("Any", domain="*")],
        "refused": ["inbound.sender_domains: '*' (any sender domain) identifies the partner by nothing",
                    "restrict_domains_to_ip_addresses: true"]},
    "priority_beyond_the_rules": {
        "files": [routed("Prio", rule={"name": "Mail", "priority": 5,
                                       "conditions": {"recipient_domain_is": ["prio.example"]}})],
        "refused": ["rules[0].priority: 5 is out of range; with 0 other rule(s) in the tenant"]},
    "position_of_a_missing_rule": {
        "files": [routed("Pos", rule={"name": "Mail", "position": {"after": "No such rule"},
                                      "conditions": {"recipient_domain_is": ["pos.example"]}})],
        "refused": ["rules[0].position: there is no mail flow rule named 'No such rule'"]},
    "unknown_group": {
        "files": [routed("Grp", rule={"name": "Mail", "conditions": {"from_member_of": ["No Such Group"],
                                                                     "recipient_domain_is": ["grp.example"]}})],
        "refused": ["rules[0].conditions.from_member_of[0]", "there is no recipient 'No Such Group'"]},
    "unknown_redirect": {
        "files": [routed("Red", rule={"name": "Mail", "conditions": {"recipient_domain_is": ["red.example"]},
                                      "actions": {"redirect_message_to": ["nobody-here"]}})],
        "refused": ["rules[0].actions.redirect_message_to[0]", "there is no recipient 'nobody-here'"]},
    "disabled_outbound_with_rules": {
        "files": [routed("Off", enabled=False)],
        "refused": ["outbound.enabled: false, but the partner's rules route to 'Off outbound'"]},
    "bad_validation_settings": {
        "files": [partner("Val", outbound={"recipient_domains": ["val.example"],
                                           "validation_recipients": ["a@val.example"]},
                          validation={"probe_timeout": -1, "smtp_port": 70000, "dns_servers": ["dns.example"]})],
        "vars": {"mailflow_validation": {}},
        "refused": ["validation.probe_timeout: -1.0 is not a usable timeout", "validation.smtp_port: 70000 is not a TCP port",
                    "validation.dns_servers[0]: 'dns.example' is not an IP address of a DNS server"]},
    "route_given_in_the_file": {
        "files": [routed("Rte", rule={"name": "Mail", "conditions": {"recipient_domain_is": ["rte.example"]},
                                      "actions": {"route_message_outbound_connector": "Other outbound"}})],
        "refused": ["rules[0].actions.route_message_outbound_connector: onboarding sets the route itself"]},
    "validation_off_for_the_run": {
        # The documented run-wide switch lifts the need for validation recipients.
        "files": [partner("Quiet", outbound={"recipient_domains": ["quiet.example"]})],
        "vars": {"mailflow_validation": {"enabled": False}},
        "handled": lambda found: ("outbound", "Quiet outbound") in found},
    "rule_disabled_by_hand": {
        # The partner file is the desired state: a rule disabled in the admin center is enabled again.
        "seed": [("inbound", {"Name": "Dis inbound", "SenderDomains": ["dis.example"], "Comment": MARKER + "Dis"}),
                 ("outbound", {"Name": "Dis outbound", "IsTransportRuleScoped": True, "UseMXRecord": False,
                               "SmartHosts": ["mail.dis.example"], "Comment": MARKER + "Dis"}),
                 ("rule", {"Name": "Dis - Mail", "RecipientDomainIs": ["dis.example"],
                           "RouteMessageOutboundConnector": "Dis outbound", "Comments": MARKER + "Dis"})],
        "then": [("Disable-TransportRule", {"Identity": "Dis - Mail", "Confirm": False})],
        "files": [routed("Dis")],
        "summary": ["- mail flow rule 'Dis - Mail': changed (enabled: false -> true)"],
        "handled": lambda found: found[("rule", "Dis - Mail")].get("State") == "Enabled"},
    # item 10: rules that cannot work
    "condition_and_exception_alike": {
        "files": [routed("Same", rule={"name": "Mail", "conditions": {"recipient_domain_is": ["same.example"]},
                                       "exceptions": {"recipient_domain_is": ["same.example"]}})],
        "refused": ["rules[0].exceptions.recipient_domain_is: has the same value as conditions.recipient_domain_is",
                    "would never apply"]},
    "route_for_internal_mail": {
        "files": [routed("Int", rule={"name": "Mail", "conditions": {"sent_to_scope": "in_organization"}})],
        "refused": ["rules[0].conditions.sent_to_scope: in_organization", "never through an outbound connector"]},
    "python_only_regex": {
        "files": [routed("Rgx", rule={"name": "Mail", "conditions": {"recipient_domain_is": ["rgx.example"],
                                                                     "subject_matches_patterns": ["(?P<n>inv)oice"]}})],
        "refused": ["rules[0].conditions.subject_matches_patterns[0]", "write (?<n>...)"]},
    # item 4: an unknown extra_parameters key, refused before the connectors are written
    "unknown_extra_parameter": {
        "files": [routed("Xtra", rule={"name": "Mail", "conditions": {"recipient_domain_is": ["xtra.example"]},
                                       "extra_parameters": {"SetAuditSeverty": "High"}})],
        "refused": ["rules[0].extra_parameters.SetAuditSeverty", "did you mean SetAuditSeverity?"]},
    # item 12: messages that mislead
    "smart_host_as_a_url": {
        "files": [partner("Url", outbound={"recipient_domains": ["url.example"],
                                           "smart_hosts": ["https://mail.url.example/"]})],
        "refused": ["outbound.smart_hosts[0]: 'https://mail.url.example/' is a URL", "write mail.url.example"]},
    "not_utf8": {
        "raw_files": ["partner:\n  name: Caf\u00e9\n  inbound: {sender_domains: [cafe.example]}\n".encode("cp1252")],
        "refused": ["is not UTF-8 text: byte 0xe9 at line 2, column 12", "Save it as UTF-8"]},
    "directory_as_partner_file": {
        "vars": {"partner_files": ["%(files)s"]},
        "refused": ["partner_files[0]:", "is a directory", "not a partner file", "list the ones to onboard"]},
    "certificate_without_its_key": {
        "connection": "cert_only",
        "files": [partner("Pem")],
        "refused": ["the PEM file holds the certificate but not its private key",
                    "Append the private key (-----BEGIN PRIVATE KEY-----)"]},
    # item 13
    "host_bits_in_a_block": {
        "files": [partner("Bits", inbound={"sender_domains": ["bits.example"], "restrict_domains_to_ip_addresses": True,
                                           "sender_ip_addresses": ["198.51.100.7/24"]})],
        "refused": ["inbound.sender_ip_addresses[0]: '198.51.100.7/24' has host bits set",
                    "Write 198.51.100.0/24 for the whole block, or 198.51.100.7 for the one address"]},
    "control_character_in_a_comment": {
        "files": [partner("Ctl", inbound={"sender_domains": ["ctl.example"], "comment": "ring \x07 the bell"})],
        "refused": ["inbound.comment", "control character U+0007"]},
    "sender_ips_of_two_partners_overlap": {
        "files": [partner(n, inbound={"sender_domains": ["%s.example" % n.lower()], "sender_ip_addresses": [ip],
                                      "restrict_domains_to_ip_addresses": True})
                  for n, ip in (("Ipa", "198.51.100.0/24"), ("Ipb", "198.51.100.77"))],
        "refused": ["inbound.sender_ip_addresses[0]: '198.51.100.77' overlaps '198.51.100.0/24', a sender IP address "
                    "of partner 'Ipa'"]},
    "under_a_tenant_wildcard": {
        "seed": [("outbound", {"Name": "Wild outbound", "RecipientDomains": ["*.wild.example"], "Comment": "by hand"})],
        "files": [partner("Sub", outbound={"recipient_domains": ["mail.wild.example"],
                                           "validation_recipients": ["a@mail.wild.example"]})],
        "warned": ["outbound.recipient_domains[0]: 'mail.wild.example' is covered by '*.wild.example', a recipient "
                   "domain of the outbound connector 'Wild outbound'"],
        "handled": lambda found: ("outbound", "Sub outbound") in found},
    "inline_definition_is_data": {
        "vars": {"partner_definition": "partner:\n  name: Tpl\n  inbound:\n    sender_domains: [tpl.example]\n"
                                       "    comment: \"{{ lookup('pipe', 'touch %(marker)s; echo ran') }}\"\n"},
        "handled": lambda found: found[("inbound", "Tpl inbound")]["Comment"].startswith(
            "Managed by m365.mailflow partner Tpl. {{ lookup('pipe', 'touch ")
        and found[("inbound", "Tpl inbound")]["Comment"].endswith("; echo ran') }}")},
}


def _connection(tmp_path, kind, state):
    if kind == "cert_only":
        # an app registration's certificate without its private key: refused before the tenant is reached
        from tests.support.pki import make_ca
        pem = str(tmp_path / "app.pem")
        with open(make_ca(str(tmp_path / "pki")).cert, "rb") as cert, open(pem, "wb") as out:
            out.write(cert.read())  # the certificate alone
        return {"tenant": "contoso.onmicrosoft.com", "client_id": "00000000-0000-0000-0000-000000000000",
                "certificate_path": pem, "api_url": "https://127.0.0.1:9", "authority_url": "https://127.0.0.1:9",
                "retries": 0}
    return {"sandbox": state}


def _hosts(tmp_path, cases):
    hosts, files_dir = {}, tmp_path / "files"
    files_dir.mkdir(exist_ok=True)
    marker = str(tmp_path / "templated")
    for name, case in cases.items():
        state = str(tmp_path / ("%s.db" % name))
        if case.get("seed"):
            seed(state, *case["seed"])
        for cmdlet, parameters in case.get("then") or []:
            from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
            assert SandboxTenant(state).execute(cmdlet, parameters).status == 200
        host = {"mailflow_connection": _connection(tmp_path, case.get("connection"), state)}
        host.update(json.loads(json.dumps(case.get("vars") or {}).replace("%(marker)s", marker)
                               .replace("%(files)s", str(files_dir))))
        if case.get("files"):
            host["partner_files"] = [write(files_dir, "%s-%d.yml" % (name, i), data)
                                     for i, data in enumerate(case["files"])]
        for i, raw in enumerate(case.get("raw_files") or []):
            path = files_dir / ("%s-raw-%d.yml" % (name, i))
            path.write_bytes(raw)
            host.setdefault("partner_files", []).append(str(path))
        hosts[name] = host
    return hosts, marker


def _inventory(tmp_path, hosts, name="cases.yml"):
    group_vars = {"ansible_connection": "local", "mailflow_validation": {"enabled": False}}
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"cases": {"hosts": hosts, "vars": group_vars}}))
    return str(path)


def _state(tmp_path, name):
    path = str(tmp_path / ("%s.db" % name))
    return objects(path) if os.path.exists(path) else {}


def _summaries(stdout):
    """{host: [summary lines]} of the tasks 'Summary | <tenant>'."""
    out = {}
    for task in stdout.split("TASK [")[1:]:
        if SUMMARY_TASK not in task.split("]", 1)[0]:
            continue
        for host, body in re_results(task):
            out[host] = json.loads(body)["msg"]
    return out


def re_results(task):
    import re
    return re.findall(r"^(?:ok|changed): \[([^\]]+)\] => (\{.*?\n\})", task, re.S | re.M)


def run_table(tmp_path, cases, book):
    hosts, marker = _hosts(tmp_path, cases)
    before = dict((name, _state(tmp_path, name)) for name in cases)
    run = playbook(book, tmp_path, ["-i", _inventory(tmp_path, hosts), "--forks", "5"], timeout=600)
    counts, failed, summaries = recap(run.stdout), failures(run.stdout), _summaries(run.stdout)
    warnings = " ".join((run.stdout + run.stderr).split())  # Ansible prints warnings on stderr, wrapped
    report = []
    for name, case in sorted(cases.items()):
        after = _state(tmp_path, name)
        if "refused" in case:
            message = text(failed.get(name, {}))
            ok = counts[name]["failed"] == 1 and all(f in message for f in case["refused"])
            report.append((name, "refused" if ok else "NOT REFUSED AS EXPECTED: %s" % (message or counts[name]),
                           after == before[name]))
        else:
            ok = counts[name]["failed"] == 0 and case["handled"](after)
            lines = summaries.get(name) or []
            ok = ok and all(line in lines for line in case.get("summary") or [])
            ok = ok and all(fragment in warnings for fragment in case.get("warned") or [])
            report.append((name, "handled" if ok else "NOT HANDLED: %s %s" % (text(failed.get(name, {})), lines),
                           None))
    return run, report, marker


def test_onboarding_table(tmp_path):
    run, report, marker = run_table(tmp_path, ONBOARD_CASES, ONBOARD)
    wrong = [r for r in report if r[1] not in ("refused", "handled")]
    partial = [r[0] for r in report if r[2] is False]
    assert not wrong, "\n".join("%s: %s" % (r[0], r[1]) for r in wrong) + "\n" + run.stdout[-3000:]
    assert not partial, "partial writes: %s" % partial  # the table's "Partial write" count is zero
    assert not os.path.exists(marker)  # the inline definition's lookup never ran
    assert "Traceback" not in run.stdout + run.stderr


OFFBOARD_CASES = {
    "misspelt_partner": {
        "seed": partner_objects("Fabrikam"),
        "vars": {"offboard_partner_files": None},
        "files": [partner("Fabrikm", domain="fabrikam.example")],
        "refused": ["partner 'Fabrikm' has no connector or rule in the tenant, but fabrikam.example is a sender domain "
                    "of the inbound connector 'Fabrikam inbound' (partner 'Fabrikam')", "nothing was removed"]},
    "still_in_partner_files": {
        "seed": partner_objects("Listed"),
        "files": [routed("Listed", rule={"name": "Accounting",
                                         "conditions": {"recipient_domain_is": ["listed.example"]}})],
        "handled": lambda found: found == {}},
}


def test_offboarding_table(tmp_path):
    cases = dict(OFFBOARD_CASES)
    hosts, _marker = _hosts(tmp_path, cases)
    for name, host in hosts.items():
        # offboarding takes offboard_partner_files; the tenant's onboarding list stays partner_files
        host["offboard_partner_files"] = host.pop("partner_files")
        if name == "still_in_partner_files":
            host["partner_files"] = list(host["offboard_partner_files"])
    before = dict((name, _state(tmp_path, name)) for name in cases)
    run = playbook(OFFBOARD, tmp_path, ["-i", _inventory(tmp_path, hosts, "off.yml")], timeout=600)
    counts, failed = recap(run.stdout), failures(run.stdout)
    message = text(failed.get("misspelt_partner", {}))
    assert counts["misspelt_partner"]["failed"] == 1, run.stdout[-3000:]
    for fragment in OFFBOARD_CASES["misspelt_partner"]["refused"]:
        assert fragment in message, message
    assert _state(tmp_path, "misspelt_partner") == before["misspelt_partner"]
    assert counts["still_in_partner_files"]["failed"] == 0 and _state(tmp_path, "still_in_partner_files") == {}
    warning = " ".join((run.stdout + run.stderr).split())  # Ansible prints warnings on stderr
    assert "partner 'Listed' is still in the tenant's partner_files" in warning, run.stdout[-3000:]
    assert "the next onboarding of the tenant recreates it" in warning


def test_a_wrong_inventory_path_reads_nothing(tmp_path):
    sandbox = tmp_path / "default.db"
    run = playbook(ONBOARD, tmp_path, ["-i", str(tmp_path / "inventroy" / "tenants.yml")],
                   env={"EXO_SANDBOX": str(sandbox)})
    assert run.returncode != 0
    assert "gave no host: it does not exist, could not be parsed" in " ".join(run.stdout.split()), run.stdout[-2000:]
    assert "did not fall back to the sandbox tenant" in " ".join(run.stdout.split())
    assert not sandbox.exists()


def test_a_dry_run_creates_no_sandbox_directory(tmp_path):
    sandbox = tmp_path / "not-yet" / "tenant.db"
    run = playbook(ONBOARD, tmp_path, ["--check"], env={"EXO_SANDBOX": str(sandbox)})
    assert run.returncode == 0, run.stdout[-3000:]
    assert "would create" in run.stdout
    assert not sandbox.parent.exists()


def test_fail_on_invalid_fails_that_partner_after_the_summary_and_the_others_run(tmp_path):
    """validation.fail_on_invalid fails the partner after its summary; the other partners and the prune still run."""
    state = str(tmp_path / "tenant.db")
    seed(state, *partner_objects("Gone"))
    folder = tmp_path / "files"
    folder.mkdir()
    strict = partner("Strict", outbound={"recipient_domains": ["strict.invalid"],
                                         "validation_recipients": ["a@strict.invalid"]},
                     validation={"enabled": True, "fail_on_invalid": True, "service_validation": False,
                                 "probe_timeout": 2, "dns_servers": ["127.0.0.1:9"]})
    other = partner("Other", outbound={"recipient_domains": ["other.example"]}, validation={"enabled": False})
    files = [write(folder, "strict.yml", strict), write(folder, "other.yml", other)]
    inv = tmp_path / "one.yml"
    inv.write_text(yaml.safe_dump({"t": {"hosts": {"tenant": {"mailflow_connection": {"sandbox": state},
                                                              "partner_files": files, "ansible_connection": "local"}}}}))
    run = playbook(ONBOARD, tmp_path, ["-i", str(inv), "-e", "mailflow_prune=true"])
    assert run.returncode != 0 and recap(run.stdout)["tenant"]["failed"] == 1
    lines = _summaries(run.stdout)["tenant"]
    assert any(line.startswith("- validation: FAILED") for line in lines), lines
    found = objects(state)
    assert ("outbound", "Other outbound") in found and ("outbound", "Strict outbound") in found
    assert not [k for k in found if k[1].startswith("Gone")]  # the prune ran
    assert "Strict (%s): the outbound connector failed validation and validation.fail_on_invalid is true" % files[0] \
        in " ".join(run.stdout.split())


@pytest.mark.parametrize("kind", ["sandbox", "emulator"])
def test_two_runs_at_once_claiming_one_domain_end_with_one_connector(tmp_path, kind, request):
    """Two onboarding runs started together for two partners that claim one sender domain: one connector keeps it,
    the other run is refused, naming the connector that has it."""
    if kind == "emulator":
        emu = request.getfixturevalue("emulator")
        emu.add_faults([{"latency": 0.5}])  # slow answers: both runs read the tenant before either writes
        connection = dict(emulator_defaults(emu), token_cache=False)
        state = emu.state_path
    else:
        state = str(tmp_path / "tenant.db")
        connection = {"sandbox": state}
    folder = tmp_path / "files"
    folder.mkdir()
    procs = []
    for name in ("First", "Second"):
        path = write(folder, name.lower() + ".yml", partner(name, domain="shared.example"))
        inv = tmp_path / ("%s.yml" % name)
        inv.write_text(yaml.safe_dump({"t": {"hosts": {"tenant": {
            "mailflow_connection": connection, "partner_files": [path], "ansible_connection": "local"}}}}))
        cmd = [os.path.join(BIN, "ansible-playbook"), ONBOARD, "-i", str(inv)]
        procs.append(subprocess.Popen(cmd, cwd=str(tmp_path), env=ansible_env(home=str(tmp_path / name)),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    deadline = time.time() + 300
    for proc in procs:
        outputs.append(proc.communicate(timeout=max(1, deadline - time.time()))[0])
    codes = [proc.returncode for proc in procs]
    holders = [name for (kind_, name), obj in objects(state).items()
               if kind_ == "inbound" and "shared.example" in str(obj.get("SenderDomains"))]
    assert len(holders) == 1, (holders, outputs)
    assert sorted(codes)[0] == 0 and sorted(codes)[1] != 0, (codes, outputs)
    refused = outputs[codes.index(max(codes))]
    flat = " ".join(refused.split())
    assert ("'shared.example' is already a sender domain of the inbound connector '%s'" % holders[0] in flat
            or "shared.example is claimed at the same time by the inbound connector '%s'" % holders[0] in flat), flat
