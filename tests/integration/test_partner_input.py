# -*- coding: utf-8 -*-
"""Every input of the onboarding and offboarding playbooks is checked before the first write (issue 15).

Through real ``ansible-playbook`` runs of playbooks/onboard_partner.yml and offboard_partner.yml. To keep CI short,
most cases share one run: an inventory with one host per case, each host a tenant with its own sandbox state file
and its own variables (host variables reach the playbook exactly as extra variables do). Every bad-input case must
fail with a message naming the file or variable and the field, and leave its sandbox file byte-identical. The
variables the issue gives as ``-e`` are also run as real extra variables.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.integration.test_onboarding import EXAMPLES, OFFBOARD, ONBOARD, extra, objects, playbook, recap

MARKER = "Managed by m365.mailflow partner "


# --------------------------------------------------------------------------------------------------- helpers

def sandbox_tenant(path):
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
    return SandboxTenant(path)


def seed(path, *objects_):
    """Create objects directly in a sandbox state file: ("inbound"|"outbound"|"rule", parameters)."""
    cmdlets = {"inbound": "New-InboundConnector", "outbound": "New-OutboundConnector", "rule": "New-TransportRule"}
    tenant = sandbox_tenant(path)
    for kind, params in objects_ or (("inbound", {"Name": "Seed inbound", "SenderDomains": ["seed.example"],
                                                  "Comment": "made by hand"}),):
        params = dict(params)
        if kind != "rule":
            params.setdefault("ConnectorType", "Partner")
        raw = tenant.execute(cmdlets[kind], params)
        assert raw.status == 200, raw.body
    return path


def partner_objects(name, comment=None, rule="Accounting"):
    """The objects onboarding makes for a partner with inbound, a rule-scoped outbound and one rule."""
    comment = MARKER + name if comment is None else comment
    return (
        ("inbound", {"Name": "%s inbound" % name, "SenderDomains": ["%s.example" % name.lower()], "Comment": comment}),
        ("outbound", {"Name": "%s outbound" % name, "IsTransportRuleScoped": True, "UseMXRecord": False,
                      "SmartHosts": ["mail.%s.example" % name.lower()], "Comment": comment}),
        ("rule", {"Name": "%s - %s" % (name, rule), "RecipientDomainIs": ["%s.example" % name.lower()],
                  "RouteMessageOutboundConnector": "%s outbound" % name, "Comments": comment}),
    )


def digest(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def failures(stdout):
    """{host: failed result} from the default callback's 'fatal: [host]: FAILED! => {...}' lines."""
    out = {}
    for host, body in re.findall(r"^fatal: \[([^\]]+)\]: FAILED! => (\{.*\})$", stdout, re.M):
        out[host] = json.loads(body)
    return out


def text(result):
    return " ".join(str(result.get("msg", "")).split())


def write(folder, name, data):
    path = os.path.join(str(folder), name)
    with open(path, "w") as handle:
        if isinstance(data, str):
            handle.write(data)
        else:
            yaml.safe_dump(data, handle, sort_keys=False)
    return path


def example(name):
    with open(os.path.join(EXAMPLES, name + ".yml")) as handle:
        return yaml.safe_load(handle)


def simple(name, domain=None, **sections):
    """A small valid partner: inbound for ``domain``; outbound by MX when ``outbound=True``."""
    domain = domain or "%s.example" % name.lower()
    partner = {"name": name, "inbound": {"sender_domains": [domain]}}
    partner.update(sections)
    return {"partner": partner}


def inventory(tmp_path, hosts, common=None):
    """One host per case; each gets its own sandbox tenant unless it sets mailflow_connection."""
    for name, host_vars in hosts.items():
        host_vars.setdefault("mailflow_connection", {"sandbox": str(tmp_path / ("%s.db" % name))})
    group_vars = {"ansible_connection": "local", "mailflow_validation": {"enabled": False}}
    group_vars.update(common or {})
    path = tmp_path / "cases.yml"
    path.write_text(yaml.safe_dump({"cases": {"hosts": hosts, "vars": group_vars}}))
    return str(path)


# --------------------------------------------------------------------------------------------------- onboarding: bad input

def test_bad_inputs_fail_before_any_write_naming_file_and_field(tmp_path):
    files = tmp_path / "partners"
    files.mkdir()
    for name in ("litware", "fabrikam", "adatum"):
        shutil.copy(os.path.join(EXAMPLES, name + ".yml"), str(files / (name + ".yml")))
    rule_less = example("adatum")
    rule_less["partner"]["rules"] = [{"name": "Everything"}]
    badhost = example("litware")
    badhost["partner"].update(name="Badhost")
    badhost["partner"]["inbound"]["sender_domains"] = ["badhost.example"]
    badhost["partner"]["outbound"].update(recipient_domains=["badhost.example"], smart_hosts=["mail.badhost.example:587"],
                                          validation_recipients=["it@badhost.example"])
    badip = example("fabrikam")
    badip["partner"].update(name="Badip")
    badip["partner"]["inbound"].update(sender_domains=["badip.example"], sender_ip_addresses=["10.1.2.3"])
    badip["partner"]["outbound"]["recipient_domains"] = ["badip.example"]
    named = {
        "noconds.yml": rule_less,
        "name42.yml": "partner:\n  name: 42\n  inbound:\n    sender_domains: [n42.example]\n",
        "noname.yml": "partner:\n  name: ''\n  inbound:\n    sender_domains: [noname.example]\n",
        "dup1.yml": simple("Dup"),
        "dup2.yml": simple("dup", "dup2.example"),
        "one.yml": simple("One", "shared.example"),
        "two.yml": simple("Two", "shared.example"),
        "badhost.yml": badhost,
        "badip.yml": badip,
        "list.yml": "- partner:\n    name: Listed\n",
        "empty.yml": "",
        "ab.yml": {"partner": {"name": "A - B", "outbound": {"validation_recipients": ["x@ab.example"]},
                               "rules": [{"name": "C", "apply_to_all_messages": True}]}},
        "a.yml": {"partner": {"name": "A", "outbound": {"validation_recipients": ["x@a.example"]},
                              "rules": [{"name": "B - C", "apply_to_all_messages": True}]}},
        "twice.yml": "partner:\n  name: Twice\n  inbound:\n    sender_domains: [twice.example]\n  inbound:\n"
                     "    sender_domains: [other.example]\n",
    }
    # issue 22: values the service would store misleadingly or act on never, and files that cannot be read
    urlhost = simple("Urlhost", outbound={"smart_hosts": ["https://mail.urlhost.example/"], "recipient_domains": [
        "urlhost.example"]})
    hostbits = simple("Hostbits", inbound={
        "sender_domains": ["hostbits.example"], "comment": "line one\nbell\x07",
        "sender_ip_addresses": ["198.51.100.7/24"], "restrict_domains_to_ip_addresses": True})
    ips = [simple("Ipone", inbound={"sender_domains": ["ipone.example"], "sender_ip_addresses": ["203.0.113.0/24"],
                                    "restrict_domains_to_ip_addresses": True}),
           simple("Iptwo", inbound={"sender_domains": ["iptwo.example"], "sender_ip_addresses": ["203.0.113.9"],
                                    "restrict_domains_to_ip_addresses": True})]
    never = {"partner": {"name": "Never", "outbound": {"smart_hosts": ["mail.never.example"],
                                                       "validation_recipients": ["it@never.example"]},
                         "rules": [{"name": "Excepted", "conditions": {"recipient_domain_is": ["never.example"]},
                                    "exceptions": {"recipient_domain_is": ["never.example"]}},
                                   {"name": "Internal", "conditions": {"sent_to_scope": "in_organization"}},
                                   {"name": "Pattern", "conditions": {"subject_matches_patterns": ["(?P<n>x)"]},
                                    "extra_parameters": {"SetAuditSeverty": "High"}}]}}
    named.update({"urlhost.yml": urlhost, "hostbits.yml": hostbits, "ipone.yml": ips[0], "iptwo.yml": ips[1],
                  "never.yml": never})
    for name, data in named.items():
        write(files, name, data)
    with open(str(files / "latin.yml"), "wb") as handle:
        handle.write("partner:\n  name: Caf\u00e9\n  inbound:\n    sender_domains: [latin.example]\n".encode("cp1252"))
    (files / "folder").mkdir()
    write(files / "folder", "inner.yml", simple("Inner"))

    def f(*names):
        return [str(files / n) for n in names]

    handmade = ("inbound", {"Name": "Litware inbound", "SenderDomains": ["litware.example"], "Comment": "made by hand"})
    other = ("inbound", {"Name": "Other inbound", "SenderDomains": ["fabrikam.example"], "Comment": "made by hand"})
    cases = {
        # host: (host vars, seeded objects, expected message fragments)
        "no_conditions": ({"partner_files": f("noconds.yml")}, (),
                          ["noconds.yml: rules[0]: rule 'Everything' has no conditions", "apply_to_all_messages: true"]),
        "name_number": ({"partner_files": f("name42.yml")}, (), ["name42.yml: name: expected text, got 42 (a number)"]),
        "name_empty": ({"partner_files": f("noname.yml")}, (), ["noname.yml: name: empty; a partner name is 1 to 40"]),
        "dup_names": ({"partner_files": f("dup1.yml", "dup2.yml")}, (),
                      ["dup2.yml: name: 'dup' is also the name of the partner in %s ('Dup')" % f("dup1.yml")[0]]),
        "shared_domain": ({"partner_files": f("one.yml", "two.yml")}, (),
                          ["two.yml: inbound.sender_domains[0]: 'shared.example' is also a sender domain of partner "
                           "'One' (%s" % f("one.yml")[0]]),
        "three": ({"partner_files": f("litware.yml", "badhost.yml", "badip.yml")}, (),
                  ["badhost.yml: outbound.smart_hosts[0]: 'mail.badhost.example:587' has a port",
                   "badip.yml: inbound.sender_ip_addresses[0]: '10.1.2.3' is in the reserved or private range"]),
        "list_file": ({"partner_files": f("list.yml")}, (), ["list.yml: holds a list of 1 entry; it must hold one mapping"]),
        "empty_file": ({"partner_files": f("empty.yml")}, (), ["empty.yml: empty; it must hold a mapping with the key partner"]),
        "definition_text": ({"partner_definition": "hello"}, (), ["partner_definition: 'hello' (text) is not a partner definition"]),
        "files_one_name": ({"partner_files": "foo"}, (), ["partner_files: 'foo' not found (looked in the current directory"]),
        "files_number": ({"partner_files": 42}, (), ["partner_files: expected the partner files as a list", "got 42 (a number)"]),
        "files_entry": ({"partner_files": [f("litware.yml")[0], 7]}, (),
                        ["partner_files[1]: expected a partner file path (text), got 7 (a number)"]),
        "connection_type": ({"mailflow_connection": {"sandbox": str(tmp_path / "connection_type.db"), "retries": "many",
                                                     "tenat": "x"}, "partner_files": f("litware.yml")}, (),
                            ["mailflow_connection.retries: expected a whole number, got 'many' (text)",
                             "mailflow_connection.tenat: unknown key (did you mean tenant?)"]),
        "validation_type": ({"mailflow_validation": {"probe_timeout": "soon"}, "partner_files": f("litware.yml")}, (),
                            ["mailflow_validation.probe_timeout: expected a number, got 'soon' (text)"]),
        "adopt_value": ({"partner_adopt": "maybe", "partner_files": f("litware.yml")}, (),
                        ["partner_adopt: expected true or false (true, yes, 1 or false, no, 0), got 'maybe' (text)"]),
        "handmade": ({"partner_files": f("litware.yml")}, (handmade,),
                     ["litware.yml: inbound: inbound connector 'Litware inbound' already exists in the tenant without "
                      "the marker 'Managed by m365.mailflow partner Litware' (its comment is 'made by hand')",
                      "-e partner_adopt=true"]),
        "other_marker": ({"partner_files": f("litware.yml")},
                         (("inbound", dict(handmade[1], Comment=MARKER + "Litware Two")),),
                         ["it carries the marker of partner 'Litware Two'"]),
        "tenant_domain": ({"partner_files": f("fabrikam.yml")}, (other,),
                          ["fabrikam.yml: inbound.sender_domains[0]: 'fabrikam.example' is already a sender domain of "
                           "the inbound connector 'Other inbound' in the tenant (not managed by m365.mailflow)"]),
        "collision": ({"partner_files": f("ab.yml", "a.yml")}, (),
                      ["a.yml: rules[0]: mail flow rule 'A - B - C' would also be written for partner 'A - B'"]),
        "duplicate_key": ({"partner_files": f("twice.yml")}, (),
                          ["twice.yml: line 5: the key 'inbound' is given twice in one mapping"]),
        "same_file": ({"partner_files": f("litware.yml", "litware.yml")}, (),
                      ["partner_files[1]: '%s' is the same file as partner_files[0]" % f("litware.yml")[0]]),
        "url_smart_host": ({"partner_files": f("urlhost.yml")}, (),
                           ["urlhost.yml: outbound.smart_hosts[0]: 'https://mail.urlhost.example/' is a URL",
                            "write mail.urlhost.example"]),
        "host_bits": ({"partner_files": f("hostbits.yml")}, (),
                      ["hostbits.yml: inbound.sender_ip_addresses[0]: '198.51.100.7/24' has host bits set",
                       "Write 198.51.100.0/24 for the whole block, or 198.51.100.7 for the one address",
                       "hostbits.yml: inbound.comment: holds the control character U+0007"]),
        "ip_overlap": ({"partner_files": f("ipone.yml", "iptwo.yml")}, (),
                       ["iptwo.yml: inbound.sender_ip_addresses[0]: '203.0.113.9' overlaps '203.0.113.0/24', a sender "
                        "IP address of partner 'Ipone' (%s, inbound.sender_ip_addresses[0])" % f("ipone.yml")[0]]),
        "rules_never_apply": ({"partner_files": f("never.yml")}, (),
                              ["never.yml: rules[0].exceptions.recipient_domain_is: has the same value as "
                               "conditions.recipient_domain_is",
                               "never.yml: rules[1].conditions.sent_to_scope: in_organization selects mail to "
                               "recipients inside the organization",
                               "never.yml: rules[2].conditions.subject_matches_patterns[0]: '(?P<n>x)' uses Python's "
                               "named group", "write (?<n>...)",
                               "never.yml: rules[2].extra_parameters.SetAuditSeverty: 'SetAuditSeverty' is not a "
                               "parameter of New-TransportRule", "did you mean SetAuditSeverity?"]),
        "not_utf8": ({"partner_files": f("latin.yml")}, (),
                     ["latin.yml: is not UTF-8 text: byte 0xe9 at line 2, column 12", "Save it as UTF-8"]),
        "directory": ({"partner_files": f("folder")}, (),
                      ["partner_files[0]: '%s' is a directory" % f("folder")[0], "it holds inner.yml"]),
    }
    hosts, before = {}, {}
    for host, (host_vars, seeded, _expected) in cases.items():
        hosts[host] = dict(host_vars)
        state = (host_vars.get("mailflow_connection") or {}).get("sandbox") or str(tmp_path / ("%s.db" % host))
        seed(state, *seeded)
        before[host] = (state, digest(state))
    run = playbook(ONBOARD, tmp_path, ["-i", inventory(tmp_path, hosts), "--forks", "4"])
    assert run.returncode != 0
    failed = failures(run.stdout)
    for host, (_vars, _seeded, expected) in cases.items():
        assert host in failed, "%s did not fail:\n%s" % (host, run.stdout[-3000:])
        message = text(failed[host])
        assert "nothing was changed in the tenant" in message, message
        for fragment in expected:
            assert fragment in message, "%s: %r not in %s" % (host, fragment, message)
        state, hashed = before[host]
        assert digest(state) == hashed, "%s: the sandbox changed" % host
    assert recap(run.stdout)["three"]["changed"] == 0
    # [litware, badhost, badip]: every problem at once, and Litware is not onboarded either.
    three = failed["three"]["problems"]
    assert len(three) == 2 and all("litware.yml" not in p for p in three), three
    assert sorted(name for _k, name in objects(before["three"][0])) == ["Seed inbound"]


def test_bad_extra_vars_fail_naming_the_variable(tmp_path):
    """The forms the issue lists, as real extra variables (no inventory: the sandbox tenant)."""
    state = seed(str(tmp_path / "tenant.db"))
    hashed = digest(state)
    env = {"EXO_SANDBOX": state}
    cases = [
        (["-e", "partner_definition=hello"], "partner_definition: 'hello' (text) is not a partner definition"),
        (["-e", "partner_files=foo"], "partner_files: 'foo' not found"),
        (["-e", '{"partner_files": 42}'], "partner_files: expected the partner files as a list"),
        (["-e", "mailflow_connection=foo"], "mailflow_connection: expected a mapping of connection options"),
        (["-e", "partner_file=%s" % os.path.join(EXAMPLES, "litware.yml"), "-e", "partner_adopt=perhaps"],
         "partner_adopt: expected true or false"),
        (["-e", "mailflow_hosts=contosso"], "mailflow_hosts 'contosso' matches no host: no inventory was given (-i)"),
    ]
    for args, expected in cases:
        run = playbook(ONBOARD, tmp_path, args, env=env)
        assert run.returncode != 0, run.stdout
        assert expected in " ".join(run.stdout.replace("\\n", " ").split()), (args, run.stdout[-2000:])
        assert digest(state) == hashed, args


def test_host_pattern_that_matches_nothing_fails(tmp_path):
    """An AWX job whose tenant pattern has a typo must fail, not succeed having done nothing."""
    state = seed(str(tmp_path / "contoso.db"))
    hashed = digest(state)
    inv = tmp_path / "tenants.yml"
    inv.write_text(yaml.safe_dump({"tenants": {"hosts": {"contoso": {
        "ansible_connection": "local", "mailflow_connection": {"sandbox": state},
        "partner_files": [os.path.join(EXAMPLES, "litware.yml")]}}}}))
    for path in (ONBOARD, OFFBOARD):
        run = playbook(path, tmp_path, ["-i", str(inv), "-e", "mailflow_hosts=contosso"])
        assert run.returncode != 0, run.stdout
        assert ("mailflow_hosts 'contosso' matches no host of the inventory (its hosts: contoso)"
                in " ".join(run.stdout.split())), run.stdout
        assert "PLAY RECAP" in run.stdout and "skipping: no hosts matched" not in run.stdout
    assert digest(state) == hashed


# --------------------------------------------------------------------------------------------------- onboarding: accepted forms

def test_documented_shapes_and_variable_forms_are_accepted(tmp_path):
    folder = tmp_path / "partners"
    folder.mkdir()
    for name in ("adatum", "fabrikam", "litware"):
        shutil.copy(os.path.join(EXAMPLES, name + ".yml"), str(folder / (name + ".yml")))
    everything = {"partner": {"name": "Everything", "outbound": {
        "smart_hosts": ["mail.everything.example"], "validation_recipients": ["it@everything.example"]},
        "rules": [{"name": "All mail", "apply_to_all_messages": True}]}}
    write(folder, "everything.yml", everything)
    fabrikam_adopt = example("fabrikam")
    fabrikam_adopt["partner"]["adopt"] = True
    write(folder, "fabrikam-adopt.yml", fabrikam_adopt)
    write(folder, "wildsub.yml", simple("Wildsub", inbound={"sender_domains": ["wildsub.example"], "sender_ip_addresses": [
        "203.0.113.5"], "restrict_domains_to_ip_addresses": True}, outbound={"recipient_domains": ["mail.wild.example"]}))
    adatum, fabrikam, litware = (str(folder / (n + ".yml")) for n in ("adatum", "fabrikam", "litware"))
    handmade_litware = ("inbound", {"Name": "Litware inbound", "SenderDomains": ["litware.example"],
                                    "Comment": "made by hand"})
    handmade_fabrikam = ("inbound", {"Name": "Fabrikam inbound", "SenderDomains": ["fabrikam.example"]})
    hosts = {
        "everything": {"partner_files": [str(folder / "everything.yml")]},
        "csv": {"partner_files": "%s, %s" % (adatum, fabrikam)},
        "yaml_text": {"partner_files": "[%s, %s]" % (adatum, litware)},
        "adopt_run": {"partner_files": [litware], "partner_adopt": "yes"},
        "adopt_file": {"partner_files": [str(folder / "fabrikam-adopt.yml")]},
        "warnings": {"partner_files": [str(folder / "wildsub.yml")]},
    }
    # issue 22: a domain under another connector's wildcard, an address in another connector's block: warned
    wild = (("outbound", {"Name": "Wild outbound", "RecipientDomains": ["*.wild.example"], "Comment": "made by hand"}),
            ("inbound", {"Name": "Net inbound", "SenderDomains": ["net.example"], "SenderIPAddresses": ["203.0.113.0/24"],
                         "RestrictDomainsToIPAddresses": True}))
    seeded = {"adopt_run": (handmade_litware,), "adopt_file": (handmade_fabrikam,), "warnings": wild}
    for host in hosts:
        seed(str(tmp_path / ("%s.db" % host)), *seeded.get(host, ()))
    run = playbook(ONBOARD, tmp_path, ["-i", inventory(tmp_path, hosts), "--forks", "4"])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]

    def names(host):
        return sorted(name for _k, name in objects(str(tmp_path / ("%s.db" % host))) if name != "Seed inbound")

    everything_state = objects(str(tmp_path / "everything.db"))
    rule = everything_state[("rule", "Everything - All mail")]
    assert rule["RouteMessageOutboundConnector"] == "Everything outbound"
    assert names("csv") == ["Adatum - Accounting", "Adatum inbound", "Adatum outbound", "Fabrikam inbound",
                            "Fabrikam outbound"]
    assert names("yaml_text") == ["Adatum - Accounting", "Adatum inbound", "Adatum outbound", "Litware inbound",
                                  "Litware outbound"]
    adopted = objects(str(tmp_path / "adopt_run.db"))[("inbound", "Litware inbound")]
    assert adopted["Comment"].startswith(MARKER + "Litware"), adopted
    assert objects(str(tmp_path / "adopt_file.db"))[("inbound", "Fabrikam inbound")]["Comment"] == MARKER + "Fabrikam"
    flat = " ".join((run.stdout + run.stderr).split())  # warnings go to stderr
    assert "adopting the existing inbound connector 'Litware inbound' (its comment is 'made by hand')" in flat
    assert ("wildsub.yml: outbound.recipient_domains[0]: 'mail.wild.example' is covered by '*.wild.example', a "
            "recipient domain of the outbound connector 'Wild outbound' in the tenant (not managed by m365.mailflow); "
            "the more specific entry wins") in flat, flat[-3000:]
    assert ("wildsub.yml: inbound.sender_ip_addresses[0]: '203.0.113.5' overlaps '203.0.113.0/24', a sender IP "
            "address of the inbound connector 'Net inbound' in the tenant") in flat
    assert names("warnings") == ["Net inbound", "Wild outbound", "Wildsub inbound", "Wildsub outbound"]

    # The same comma-separated form as a real extra variable, and check mode on a tenant that is up to date.
    again = playbook(ONBOARD, tmp_path, ["-e", "partner_files=%s,%s" % (adatum, fabrikam), "--check"],
                     env={"EXO_SANDBOX": str(tmp_path / "csv.db")})
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap(again.stdout)["localhost"]["changed"] == 0, again.stdout


# --------------------------------------------------------------------------------------------------- offboarding

def test_offboarding_checks_every_partner_before_the_first_removal(tmp_path):
    folder = tmp_path / "partners"
    folder.mkdir()
    typo = example("adatum")
    typo["partner"]["inboud"] = typo["partner"].pop("inbound")
    write(folder, "adatum-typo.yml", typo)
    for name in ("litware", "fabrikam", "adatum"):
        shutil.copy(os.path.join(EXAMPLES, name + ".yml"), str(folder / (name + ".yml")))
    litware_objects = (
        ("inbound", {"Name": "Litware inbound", "SenderDomains": ["litware.example"], "Comment": MARKER + "Litware"}),
        ("outbound", {"Name": "Litware outbound", "RecipientDomains": ["litware.example"], "Comment": MARKER + "Litware"}),
    )
    foreign_rule = ("rule", {"Name": "Route to Adatum", "RecipientDomainIs": ["adatum.example"],
                             "RouteMessageOutboundConnector": "Adatum outbound", "Comments": "made by hand"})
    hosts = {
        "typo_second": {"offboard_partner_files": [str(folder / "litware.yml"), str(folder / "adatum-typo.yml")]},
        "foreign_second": {"offboard_partner_files": [str(folder / "litware.yml"), str(folder / "fabrikam.yml")]},
        "routing_second": {"offboard_partner_files": [str(folder / "litware.yml"), str(folder / "adatum.yml")]},
    }
    seeded = {
        "typo_second": litware_objects + partner_objects("Adatum"),
        "foreign_second": litware_objects + (("inbound", {"Name": "Fabrikam inbound", "SenderDomains": [
            "fabrikam.example"], "Comment": "made by hand"}),),
        "routing_second": litware_objects + partner_objects("Adatum") + (foreign_rule,),
    }
    expected = {
        "typo_second": "adatum-typo.yml: inboud: unknown key (did you mean inbound?)",
        "foreign_second": "fabrikam.yml: inbound: refusing to offboard Fabrikam, nothing was removed: inbound connector "
                          "'Fabrikam inbound' was not created by partner_onboarding for this partner",
        "routing_second": "adatum.yml: outbound: refusing to offboard Adatum, nothing was removed: mail flow rules that "
                          "the partner definition does not name route to 'Adatum outbound': 'Route to Adatum'",
    }
    before = {}
    for host in hosts:
        before[host] = digest(seed(str(tmp_path / ("%s.db" % host)), *seeded[host]))
    run = playbook(OFFBOARD, tmp_path, ["-i", inventory(tmp_path, hosts), "--forks", "3"])
    assert run.returncode != 0
    failed = failures(run.stdout)
    for host, fragment in expected.items():
        assert fragment in text(failed.get(host, {})), "%s: %s" % (host, run.stdout[-3000:])
        assert digest(str(tmp_path / ("%s.db" % host))) == before[host], host  # Litware (the first) not removed


def test_offboarding_force_as_text_and_check_mode_counts(tmp_path):
    litware = os.path.join(EXAMPLES, "litware.yml")
    state = seed(str(tmp_path / "tenant.db"), ("inbound", {"Name": "Litware inbound", "SenderDomains": [
        "litware.example"], "Comment": "made by hand"}))
    run = playbook(OFFBOARD, tmp_path, extra(partner_file=litware) + ["-e", "partner_offboarding_force=true"],
                   env={"EXO_SANDBOX": state})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert objects(state) == {}

    # --check plans exactly the removals a real run makes: the rule, the outbound and inbound connectors, in that order.
    adatum_state = seed(str(tmp_path / "adatum.db"), *partner_objects("Adatum"))
    dry = playbook(OFFBOARD, tmp_path, extra(partner_file=os.path.join(EXAMPLES, "adatum.yml")) + ["--check"],
                   env={"EXO_SANDBOX": adatum_state})
    assert dry.returncode == 0, dry.stdout[-3000:]
    assert recap(dry.stdout)["localhost"]["changed"] == 1, dry.stdout
    planned = [line.rsplit(":", 1)[0] for line in dry.stdout.splitlines() if line.strip().rstrip(",").endswith(": would remove\"")]
    real = playbook(OFFBOARD, tmp_path, extra(partner_file=os.path.join(EXAMPLES, "adatum.yml")),
                    env={"EXO_SANDBOX": adatum_state})
    assert real.returncode == 0, real.stdout[-3000:]
    assert recap(real.stdout)["localhost"]["changed"] == 1, real.stdout
    removed = [line.rsplit(":", 1)[0] for line in real.stdout.splitlines() if line.strip().rstrip(",").endswith(": removed\"")]
    assert len(planned) == 3 and planned == removed, (planned, removed)
    assert objects(adatum_state) == {}


# --------------------------------------------------------------------------------------------------- a read-only tenant

def _read_only(folder, command):
    """``command`` run with ``folder`` mounted read-only (a private mount namespace: nothing else sees it)."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(folder)] + list(command)


def test_a_dry_run_reads_a_read_only_sandbox(tmp_path):
    """Issue 22: a dry run only reads, so a sandbox file on a read-only file system (or one the user cannot write)
    is planned against; a real run is refused at its first write, naming the file, and changes nothing."""
    from tests.support.ansible_runner import BIN, ansible_env
    folder = tmp_path / "ro"
    folder.mkdir()
    state = seed(str(folder / "tenant.db"), *partner_objects("Adatum"))
    hashed = digest(state)
    if subprocess.run(_read_only(folder, ["true"]), capture_output=True, check=False).returncode != 0:
        pytest.skip("a read-only mount needs unshare -m (CAP_SYS_ADMIN in a user or mount namespace)")
    adatum = os.path.join(EXAMPLES, "adatum.yml")

    def run(*args):
        cmd = [os.path.join(BIN, "ansible-playbook"), ONBOARD] + extra(partner_file=adatum) + list(args)
        return subprocess.run(_read_only(folder, cmd), cwd=str(tmp_path), capture_output=True, text=True,
                              timeout=300, check=False,
                              env=ansible_env({"EXO_SANDBOX": state}, home=str(tmp_path)))

    dry = run("--check")
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-2000:]
    assert "would change" in dry.stdout or "would create" in dry.stdout, dry.stdout[-3000:]
    real = run()
    assert real.returncode != 0
    flat = " ".join(real.stdout.split())
    assert ("sandbox: cannot use '%s' as the sandbox tenant file: its directory %s is not writable" % (state, folder)
            in flat), flat[-3000:]
    assert digest(state) == hashed and sorted(os.listdir(str(folder))) == ["tenant.db"]
