# -*- coding: utf-8 -*-
"""Unicode domain and host names, end to end (issue 12, point 5).

One ansible-playbook run per target (the sandbox tenant and the HTTPS emulator): names refused before any call
(a code point IDNA does not allow, a label too long once converted), then connectors, a mail flow rule and
partner files written with Unicode domains, then the same module tasks again, which must change nothing and write
nothing. The tenant stores the A-label forms; messages quote both forms.
"""

from __future__ import absolute_import, division, print_function

import json
import sys

from tests.support.ansible_runner import run_playbook

A = "xn--bcher-kva.example"  # bücher.example
LONG = u"a" * 60 + u"\u00fc.example"  # a label of 68 characters once converted

INBOUND = ("m365.mailflow.partner_inbound_connector", {
    "name": "Uni inbound", "sender_domains": [u"b\u00fccher.example", u"smtp:*.B\u00fcCHER.example;1"],
    "tls_sender_certificate_name": u"*.b\u00fccher.example", "restrict_domains_to_certificate": True})
OUTBOUND = ("m365.mailflow.partner_outbound_connector", {
    "name": "Uni outbound", "recipient_domains": [u"b\u00fccher.example", u"*.b\u00fccher.example."],
    "validation_recipients": [u"postmaster@B\u00fccher.example"]})
ROUTED = ("m365.mailflow.partner_outbound_connector", {
    "name": "Uni routed", "transport_rule_scoped": True, "smart_hosts": [u"MX.b\u00fccher.example."],
    "tls_settings": "domain_validation", "tls_domain": u"*.b\u00fccher.example"})
RULE = ("m365.mailflow.mail_flow_rule", {
    "name": "Uni rule", "conditions": {"sender_domain_is": [u"b\u00fccher.example"]},
    "exceptions": {"recipient_domain_is": [u"m\u00fcnchen.example"]},
    "actions": {"route_message_outbound_connector": "Uni routed", "copy_to": [u"Anna <anna@b\u00fccher.example>"]}})
BAD = [
    ("m365.mailflow.partner_outbound_connector", {"name": "Bad one", "recipient_domains": [u"b\u00fc cher.example"]},
     u"recipient_domains: 'b\u00fc cher.example' is not a domain name that can be converted to its ASCII"),
    ("m365.mailflow.partner_inbound_connector", {"name": "Bad two", "sender_domains": [LONG]},
     u"sender_domains: '%s' is not a domain name that can be converted" % LONG),
    ("m365.mailflow.mail_flow_rule", {"name": "Bad three", "conditions": {"sender_domain_is": [u"b\u00fccher"]},
                                      "actions": {"set_scl": 5}},
     u"conditions.sender_domain_is: 'b\u00fccher' (xn--bcher-kva) is not a valid domain name"),
]
WRITES = ("New-", "Set-", "Remove-", "Enable-", "Disable-")

GOOD_PARTNER = u"""partner:
  name: Mueller
  inbound:
    sender_domains: ["m\u00fcller.example", "*.M\u00dcLLER.example"]
  outbound:
    smart_hosts: ["mx.m\u00fcller.example"]
    validation_recipients: ["postmaster@m\u00fcller.example"]
  rules:
    - name: Orders
      conditions:
        recipient_domain_is: ["m\u00fcller.example"]
"""
# The inbound connector made above already has bücher.example (stored as its A-label): the check must find it.
CLASHING_PARTNER = u"""partner:
  name: Clash
  inbound:
    sender_domains: ["B\u00fcCHER.example"]
"""


def _play(target, tmp_path):
    (tmp_path / "good.yml").write_text(GOOD_PARTNER, encoding="utf-8")
    (tmp_path / "clash.yml").write_text(CLASHING_PARTNER, encoding="utf-8")
    modules = [INBOUND, OUTBOUND, ROUTED, RULE]
    tasks = [(module, args) for module, args, _message in BAD] + modules
    tasks += [("m365.mailflow.partner_definitions", {"files": [str(tmp_path / name)], "connection": target.module_defaults})
              for name in ("good.yml", "clash.yml")]
    tasks += modules
    names = ["r%d" % i for i in range(len(tasks))]
    play_tasks = [{"name": "task %d" % i, module: args, "register": names[i], "ignore_errors": True}
                  for i, (module, args) in enumerate(tasks)]
    out = tmp_path / "results.json"
    save = {"name": "save", "mailflow_test_save": {"dest": str(out), "content": "{{ [%s] | to_json }}" % ", ".join(
        "%s | default(None)" % name for name in names)}}
    play = {"name": "unicode", "hosts": "localhost", "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "module_defaults": {"group/m365.mailflow.exchange": target.module_defaults},
            "tasks": [{"block": play_tasks, "always": [save]}]}
    proc = run_playbook([play], str(tmp_path), diff=True)
    assert out.exists(), proc.stdout + proc.stderr
    with open(str(out), encoding="utf-8") as handle:
        return json.load(handle), proc


def test_unicode_domains_are_sent_as_a_labels_and_converge(tmp_path, target):
    results, proc = _play(target, tmp_path)
    assert "Traceback" not in proc.stdout + proc.stderr
    bad, first, partners, second = results[:3], results[3:7], results[7:9], results[9:]

    # Refused before any call, naming the option and the fix.
    for result, (_module, _args, message) in zip(bad, BAD):
        assert result["failed"], result
        assert message in result["msg"], result["msg"]
        assert "A-label" in result["msg"] or "contoso.com" in result["msg"]
        assert not result.get("commands"), result

    # Created, in A-label form, as the tenant stores them.
    for result in first:
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] and result["action"] == "create", result
    inbound, outbound, routed, rule = first
    assert sorted(inbound["connector"]["sender_domains"]) == sorted([A, "*." + A])
    assert inbound["connector"]["tls_sender_certificate_name"] == "*." + A
    assert sorted(outbound["connector"]["recipient_domains"]) == sorted([A, "*." + A])
    assert outbound["connector"]["validation_recipients"] == ["postmaster@" + A]
    assert routed["connector"]["smart_hosts"] == ["mx." + A] and routed["connector"]["tls_domain"] == "*." + A
    assert rule["rule"]["conditions"]["sender_domain_is"] == [A]
    assert rule["rule"]["exceptions"]["recipient_domain_is"] == ["xn--mnchen-3ya.example"]
    assert rule["rule"]["actions"]["copy_to"] == ["anna@" + A]
    assert A in json.dumps(inbound["diff"])

    tenant = target.tenant()
    from ansible_collections.m365.mailflow.plugins.module_utils import wire
    stored = wire.parse_response(tenant.execute("Get-InboundConnector", {"Identity": "Uni inbound"}),
                                 "Get-InboundConnector").objects[0]
    assert sorted(stored["SenderDomains"]) == sorted(["smtp:%s;1" % A, "smtp:*.%s;1" % A])
    assert stored["TlsSenderCertificateName"] == "*." + A

    # Partner files: a Unicode partner is valid; one whose domain the tenant already has (as its A-label) is not,
    # and the message shows both forms.
    good, clash = partners
    assert not good.get("failed"), good.get("msg")
    assert clash["failed"]
    assert (u"clash.yml: inbound.sender_domains[0]: 'B\u00fcCHER.example' (%s) is already a sender domain of the "
            u"inbound connector 'Uni inbound'" % A) in clash["msg"], clash["msg"]

    # The same tasks again: nothing to change, nothing written.
    for result in second:
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] is False and result["action"] == "none", result
        assert [c for c in result["commands"] if str(c.get("cmdlet", c) if isinstance(c, dict) else c).startswith(
            WRITES)] == [], result["commands"]

    if target.kind == "emulator":
        log = target.calls()["log"]
        written = [e["cmdlet"] for e in log if e["cmdlet"].startswith(WRITES)]
        first_writes = [c for r in first for c in _cmdlets(r) if c.startswith(WRITES)]
        assert written == first_writes  # the refused tasks and the second run wrote nothing
        # The refused tasks came first and sent nothing: the first request is the first good task's read.
        assert log[0]["cmdlet"] == "Get-InboundConnector"
        assert "b\\u00fc" not in json.dumps([e["parameters"] for e in log]).lower()  # no U-label reached the service
        assert u"\u00fc" not in json.dumps([e["parameters"] for e in log], ensure_ascii=False)


def _cmdlets(result):
    return [c["cmdlet"] if isinstance(c, dict) else str(c).split()[0] for c in result.get("commands") or []]
