# -*- coding: utf-8 -*-
"""Bad input, as an adversarial user would write it, for every option of every module and the connection options.

One table of cases, run as one play per target (the sandbox tenant and the HTTPS emulator, both plays at once). A
checkpoint after every task (tests/support/checkpoints.py) gives its result, the tenant as it stands after it and, on
the emulator, the requests it made. Each case is one of:

* ``refused``: the task fails with a message that names the option (``names``), without a traceback, and makes no
  request at all (on the emulator; ``reads`` lists the reads a refusal legitimately needs first, e.g. checks against
  the tenant), so the tenant is unchanged (both targets);
* ``accepted``: the task succeeds, and the same task again reports no change and makes no write: it converges;
* ``either``: refused as above, or accepted and converging. Used where a later change is planned, so that this
  test holds before and after it (Unicode domains used it until their IDNA conversion).

Names are free text for the service (the cmdlet reference gives only a length limit, 64, and Exchange refuses
leading or trailing white space): quotes, ``;``, backticks, ``$(...)``, ``&``, ``|``, ``<>``, Unicode and a newline
inside a name are accepted and must converge; they travel as JSON strings in the request body, never as PowerShell
text. What a case expects, and why, is in its ``why``.
"""

from __future__ import absolute_import, division, print_function

import collections
import json
import threading

from tests.integration.conftest import emulator_defaults
from tests.support.checkpoints import run_checkpointed

INBOUND = "m365.mailflow.partner_inbound_connector"
OUTBOUND = "m365.mailflow.partner_outbound_connector"
RULE = "m365.mailflow.mail_flow_rule"
VALIDATE = "m365.mailflow.connector_validate"
KIND = {INBOUND: "inbound", OUTBOUND: "outbound", RULE: "rules", VALIDATE: "outbound"}
WRITE_VERBS = ("new", "set", "remove", "enable", "disable", "validate")

Case = collections.namedtuple("Case", "id module args expect names reads targets why")

IN_BASE = {"name": "Bad base in", "sender_domains": ["base-in.example"]}
OUT_BASE = {"name": "Bad base out", "recipient_domains": ["base-out.example"]}
RULE_BASE = {"name": "Bad base rule", "conditions": {"subject_contains_words": ["base"]}}
VAL_BASE = {"name": "Bad base out", "probe": False, "service_validation": False}
BASE = {INBOUND: IN_BASE, OUTBOUND: OUT_BASE, RULE: RULE_BASE, VALIDATE: VAL_BASE}

SEEDS = [
    ("New-InboundConnector", {"Name": "Bad base in", "ConnectorType": "Partner", "SenderDomains": ["base-in.example"]}),
    ("New-OutboundConnector", {"Name": "Bad base out", "ConnectorType": "Partner", "UseMXRecord": True,
                               "RecipientDomains": ["base-out.example"]}),
    ("New-TransportRule", {"Name": "Bad base rule", "SubjectContainsWords": ["base"]}),
]

ODD_NAME = 'Partner "Q" \'q\' ; `t` $(whoami) & | <x>'
HUGE = 2000


def refused(case_id, module, changes, names, reads=(), targets=("sandbox", "emulator"), why=""):
    return Case(case_id, module, dict(BASE[module], **changes), "refused", tuple(names), tuple(reads), targets, why)


def accepted(case_id, module, args, why="", expect="accepted", names=()):
    return Case(case_id, module, args, expect, tuple(names), (), ("sandbox", "emulator"), why)


def either(case_id, module, args, names, why=""):
    return accepted(case_id, module, args, why, expect="either", names=names)


def _connection_cases():
    why_conflict = "on the sandbox target: a real-tenant option next to sandbox is a contradiction, named"
    return [
        refused("tenant", INBOUND, {"tenant": "not a tenant!"}, ["tenant"], why=why_conflict),
        refused("client_id", INBOUND, {"client_id": "my-app"}, ["client_id"]),
        refused("certificate_path", INBOUND, {"certificate_path": "/nonexistent/app.pem"}, ["certificate_path"]),
        refused("certificate_password", INBOUND, {"certificate_path": None, "client_secret": "s3cr3t",
                                                  "certificate_password": "pw"}, ["certificate_password"]),
        refused("client_secret", INBOUND, {"client_secret": "s3cr3t"}, ["client_secret"],
                why="emulator: a secret next to certificate_path is contradictory"),
        refused("access_token", INBOUND, {"access_token": "eyJ0eXAi.e30.x"}, ["access_token"]),
        refused("managed_identity", INBOUND, {"managed_identity": "system"}, ["managed_identity"],
                why="emulator: a managed identity next to client_id and certificate_path is contradictory"),
        refused("federated_token_file", INBOUND, {"federated_token_file": "/var/run/token"}, ["federated_token_file"]),
        refused("federated_token", INBOUND, {"federated_token": "gitlab"}, ["federated_token"]),
        refused("cloud", INBOUND, {"cloud": "mars"}, ["cloud"]),
        refused("api_url", INBOUND, {"api_url": "http://127.0.0.1:1"}, ["api_url"], why="https only"),
        refused("authority_url", INBOUND, {"authority_url": "ftp://login.example"}, ["authority_url"]),
        refused("validate_certs type", INBOUND, {"validate_certs": "maybe"}, ["validate_certs"]),
        refused("ca_path", INBOUND, {"ca_path": "/nonexistent/ca.pem"}, ["ca_path"], targets=("emulator",),
                why="the sandbox makes no TLS connection, so it does not use ca_path"),
        refused("token_cache type", INBOUND, {"token_cache": "sometimes"}, ["token_cache"]),
        refused("sandbox relative", INBOUND, {"sandbox": "relative/tenant.db"}, ["sandbox"]),
        refused("retries negative", INBOUND, {"retries": -1}, ["retries"]),
        refused("retries type", INBOUND, {"retries": "many"}, ["retries"]),
        refused("retry_delay negative", INBOUND, {"retry_delay": -1.5}, ["retry_delay"]),
        refused("timeout zero", INBOUND, {"timeout": 0}, ["timeout"]),
        refused("timeout negative", INBOUND, {"timeout": -5}, ["timeout"],
                why="used to reach the HTTP libraries and fail as 'Cannot use authority'"),
    ]


def _inbound_cases():
    return [
        refused("in name 300", INBOUND, {"name": "n" * 300}, ["name"], why="64 at most"),
        refused("in name leading space", INBOUND, {"name": " Bad base in"}, ["name"]),
        refused("in name empty", INBOUND, {"name": ""}, ["name"]),
        accepted("in name odd characters", INBOUND, {"name": "In " + ODD_NAME, "sender_domains": ["odd.example"]},
                 why="free text; sent as a JSON string"),
        accepted("in name newline", INBOUND, {"name": "In line one\nline two", "sender_domains": ["nl.example"]},
                 why="no character limit is documented; the sandbox stores it as given"),
        accepted("in name unicode", INBOUND, {"name": "In Partenaire Ünïcødé 日本", "sender_domains": ["uni.example"]}),
        refused("in unknown option", INBOUND, {"sender_domain": ["typo.example"]}, ["sender_domain"]),
        refused("in state", INBOUND, {"state": "gone"}, ["state"]),
        refused("sender_domains empty", INBOUND, {"sender_domains": []}, ["sender_domains"]),
        refused("sender_domains type", INBOUND, {"sender_domains": {"a": 1}}, ["sender_domains"]),
        refused("sender_domains bad", INBOUND, {"sender_domains": ["not a domain"]}, ["sender_domains"]),
        refused("sender_domains cost 0", INBOUND, {"sender_domains": ["smtp:base-in.example;0"]}, ["sender_domains"]),
        accepted("sender_domains unicode", INBOUND, {"name": "In idna", "sender_domains": ["bücher.example"]},
                 why="converted to its A-label xn--bcher-kva.example (values.idna_name), which the tenant stores"),
        accepted("sender_domains huge", INBOUND, {"name": "In huge", "sender_domains": [
            "d%04d.example" % i for i in range(HUGE)]}, why="no documented limit on entries"),
        accepted("sender_domains duplicates", INBOUND, {"name": "In dup", "sender_domains": [
            "dup.example", "DUP.example.", "smtp:dup.example;1"]}, why="one entry per value is sent"),
        refused("sender_ip /23", INBOUND, {"sender_ip_addresses": ["198.51.100.0/23"],
                                           "restrict_domains_to_ip_addresses": True}, ["sender_ip_addresses"],
                why="/24 to /32 only"),
        accepted("sender_ip /24", INBOUND, {"name": "In cidr24", "sender_domains": ["cidr.example"],
                                            "sender_ip_addresses": ["198.51.100.0/24"],
                                            "restrict_domains_to_ip_addresses": True}),
        refused("sender_ip /0", INBOUND, {"sender_ip_addresses": ["0.0.0.0/0"]}, ["sender_ip_addresses"]),
        refused("sender_ip /33", INBOUND, {"sender_ip_addresses": ["198.51.100.1/33"]}, ["sender_ip_addresses"]),
        refused("sender_ip ipv6", INBOUND, {"sender_ip_addresses": ["2001:db8::1"]}, ["sender_ip_addresses"]),
        refused("sender_ip private", INBOUND, {"sender_ip_addresses": ["10.1.2.3"]}, ["sender_ip_addresses"]),
        refused("require_tls type", INBOUND, {"require_tls": "maybe"}, ["require_tls"]),
        refused("tls_sender_certificate_name", INBOUND, {"tls_sender_certificate_name": "bad name!"},
                ["tls_sender_certificate_name"]),
        refused("restrict_domains_to_certificate type", INBOUND, {"restrict_domains_to_certificate": "x"},
                ["restrict_domains_to_certificate"]),
        refused("restrict_domains_to_certificate alone", INBOUND, {"restrict_domains_to_certificate": True},
                ["restrict_domains_to_certificate"], reads=["Get-InboundConnector"],
                why="needs the certificate name, which the connector as it is lacks (read first)"),
        refused("restrict_domains_to_ip_addresses alone", INBOUND, {"restrict_domains_to_ip_addresses": True},
                ["restrict_domains_to_ip_addresses"], reads=["Get-InboundConnector"]),
        refused("trusted_organizations wildcard", INBOUND, {"trusted_organizations": ["*.wild.example"]},
                ["trusted_organizations"]),
        refused("associated_accepted_domains", INBOUND, {"associated_accepted_domains": ["not a domain"]},
                ["associated_accepted_domains"]),
        refused("in enabled type", INBOUND, {"enabled": "x"}, ["enabled"]),
        refused("in comment 1025", INBOUND, {"comment": "c" * 1025}, ["comment"]),
        accepted("in comment odd", INBOUND, {"name": "In comment", "sender_domains": ["comment.example"],
                                             "comment": 'two\nlines "quoted" ; `t` $(whoami) Ünï'}),
        refused("ef_skip_ips private", INBOUND, {"ef_skip_ips": ["10.0.0.0/8"]}, ["ef_skip_ips"]),
        refused("ef_skip_ips /33", INBOUND, {"ef_skip_ips": ["198.51.100.1/33"]}, ["ef_skip_ips"]),
        refused("ef_skip_last_ip type", INBOUND, {"ef_skip_last_ip": "x"}, ["ef_skip_last_ip"]),
        refused("ef_users", INBOUND, {"ef_users": ["not-an-address"]}, ["ef_users"]),
        refused("sender_ip host bits", INBOUND, {"sender_ip_addresses": ["198.51.100.7/24"],
                                                 "restrict_domains_to_ip_addresses": True}, ["sender_ip_addresses"],
                why="reads as one address and means 256; the connector keeps the text as given (issue 22)"),
        refused("ef_skip_ips host bits", INBOUND, {"ef_skip_ips": ["198.51.100.7/24"]}, ["ef_skip_ips"]),
        refused("in comment control character", INBOUND, {"comment": "bell\x07 and escape\x1b[0m"}, ["comment"],
                why="invisible in every view; line breaks stay accepted (in comment odd)"),
    ]


def _outbound_cases():
    return [
        refused("out name 300", OUTBOUND, {"name": "n" * 300}, ["name"]),
        accepted("out name odd characters", OUTBOUND, {"name": "Out " + ODD_NAME, "recipient_domains": ["o.example"]}),
        refused("out state", OUTBOUND, {"state": "gone"}, ["state"]),
        refused("recipient_domains bad", OUTBOUND, {"recipient_domains": ["bad..example"]}, ["recipient_domains"]),
        refused("recipient_domains type", OUTBOUND, {"recipient_domains": {"a": 1}}, ["recipient_domains"]),
        accepted("recipient_domains unicode", OUTBOUND, {"name": "Out idna", "recipient_domains": ["bücher.example"]},
                 why="converted to its A-label xn--bcher-kva.example (values.idna_name), which the tenant stores"),
        accepted("recipient_domains huge", OUTBOUND, {"name": "Out huge", "recipient_domains": [
            "r%04d.example" % i for i in range(HUGE)]}),
        refused("transport_rule_scoped with domains", OUTBOUND, {"transport_rule_scoped": True},
                ["recipient_domains"], why="O5: the given domains and the scope exclude each other"),
        refused("transport_rule_scoped type", OUTBOUND, {"transport_rule_scoped": "x"}, ["transport_rule_scoped"]),
        refused("use_mx_record with smart_hosts", OUTBOUND, {"use_mx_record": True, "smart_hosts": ["mail.x.example"]},
                ["smart_hosts"]),
        refused("use_mx_record type", OUTBOUND, {"use_mx_record": "x"}, ["use_mx_record"]),
        refused("smart_hosts port", OUTBOUND, {"smart_hosts": ["mail.x.example:2525"]}, ["smart_hosts"]),
        refused("smart_hosts ipv6", OUTBOUND, {"smart_hosts": ["2001:db8::25"]}, ["smart_hosts"]),
        refused("smart_hosts /33", OUTBOUND, {"smart_hosts": ["198.51.100.0/33"]}, ["smart_hosts"]),
        refused("smart_hosts /0", OUTBOUND, {"smart_hosts": ["0.0.0.0/0"]}, ["smart_hosts"]),
        accepted("smart_hosts duplicates", OUTBOUND, {"name": "Out dup", "recipient_domains": ["dup.example"],
                                                      "smart_hosts": ["mail.dup.example.", "MAIL.dup.example"]}),
        refused("tls_settings", OUTBOUND, {"tls_settings": "strict"}, ["tls_settings"]),
        refused("tls_domain without domain_validation", OUTBOUND, {"tls_settings": "encryption_only",
                                                                   "tls_domain": "*.x.example"}, ["tls_domain"]),
        refused("tls_domain bad", OUTBOUND, {"tls_settings": "domain_validation", "tls_domain": "bad domain"},
                ["tls_domain"]),
        refused("validation_recipients", OUTBOUND, {"validation_recipients": ["nobody"]}, ["validation_recipients"]),
        refused("test_mode type", OUTBOUND, {"test_mode": "x"}, ["test_mode"]),
        refused("out enabled type", OUTBOUND, {"enabled": "x"}, ["enabled"]),
        refused("out comment 1025", OUTBOUND, {"comment": "c" * 1025}, ["comment"]),
        refused("mta_sts_mode", OUTBOUND, {"mta_sts_mode": "strict"}, ["mta_sts_mode"]),
        refused("smtp_dane_mode", OUTBOUND, {"smtp_dane_mode": "always"}, ["smtp_dane_mode"]),
        refused("on-premises options", OUTBOUND, {"route_all_messages_via_on_premises": True,
                                                  "cloud_services_mail_enabled": True, "all_accepted_domains": True,
                                                  "sender_rewriting_enabled": True},
                ["route_all_messages_via_on_premises", "cloud_services_mail_enabled", "all_accepted_domains",
                 "sender_rewriting_enabled"], why="OnPremises connectors only"),
        refused("sender_rewriting_enabled type", OUTBOUND, {"sender_rewriting_enabled": "x"},
                ["sender_rewriting_enabled"]),
        refused("smart_hosts url", OUTBOUND, {"smart_hosts": ["https://mail.x.example/"]}, ["smart_hosts", "is a URL",
                                                                                            "write mail.x.example"]),
        refused("smart_hosts host bits", OUTBOUND, {"smart_hosts": ["198.51.100.7/30"]}, ["smart_hosts"]),
        refused("out comment control character", OUTBOUND, {"comment": "tab\tok, bell\x07 not"}, ["comment"]),
    ]


BAD_PREDICATES = {
    "from": [""], "from_member_of": [" "], "from_address_contains_words": [""], "sent_to": [""],
    "sent_to_member_of": [""], "recipient_address_contains_words": [" "], "sender_domain_is": ["bad domain"],
    "recipient_domain_is": ["*.wild.example"], "sender_ad_attribute_contains_words": ["Shoe:size"],
    "sender_ad_attribute_matches_patterns": ["Title:(unclosed"], "sender_ip_ranges": ["198.51.100.300"],
    "subject_contains_words": [""], "subject_or_body_contains_words": [""],
    "header_contains": {"header": "X Bad", "words": ["w"]},
}
BAD_ACTIONS = {
    "set_header": {"name": "X-Only-Name"}, "remove_header": "Bad Header:", "prepend_subject": "   ", "set_scl": 10,
    "add_to_recipients": [""], "copy_to": [""], "blind_copy_to": [""], "redirect_message_to": [""],
    "reject_message": {"status_code": "5.0.0"},
}
BAD_EXTRA = {"Priority": 1, "Bad Name!": 1, "ExceptIfFrom": ["x@example.com"], "AttachmentSizeOver": "ten megabytes",
             "SubjectMatchesPatterns": ["(unclosed"]}


def _rule_cases():
    def section(name, values):
        return ["%s.%s" % (name, key) for key in values]

    return [
        refused("rule name 300", RULE, {"name": "n" * 300}, ["name"]),
        refused("rule name leading space", RULE, {"name": " Bad base rule"}, ["name"]),
        accepted("rule name odd characters", RULE, {"name": "Rule " + ODD_NAME,
                                                    "conditions": {"subject_contains_words": ["odd"]}}),
        accepted("rule name newline", RULE, {"name": "Rule line one\nline two",
                                             "conditions": {"subject_contains_words": ["nl"]}}),
        refused("rule state", RULE, {"state": "gone"}, ["state"]),
        refused("rule enabled type", RULE, {"enabled": "x"}, ["enabled"]),
        refused("mode", RULE, {"mode": "loud"}, ["mode"]),
        refused("comments 1025", RULE, {"comments": "c" * 1025}, ["comments"]),
        accepted("comments odd", RULE, {"name": "Rule comments", "conditions": {"subject_contains_words": ["c"]},
                                        "comments": 'two\nlines "quoted" ; `t` $(whoami)'}),
        refused("activation_date", RULE, {"activation_date": "tomorrow"}, ["activation_date"]),
        refused("expiry_date", RULE, {"expiry_date": "2030-13-01"}, ["expiry_date"]),
        refused("expiry before activation", RULE, {"activation_date": "2030-01-02", "expiry_date": "2030-01-01"},
                ["expiry_date"]),
        refused("priority negative", RULE, {"priority": -1}, ["priority"]),
        refused("priority out of range", RULE, {"priority": 1000}, ["priority"], reads=["Get-TransportRule"],
                why="the range depends on the rules of the tenant (read first)"),
        refused("priority type", RULE, {"priority": "first"}, ["priority"]),
        refused("position", RULE, {"position": "middle"}, ["position"]),
        refused("position unknown rule", RULE, {"position": {"before": "No such rule"}}, ["position"],
                reads=["Get-TransportRule"]),
        refused("priority and position", RULE, {"priority": 0, "position": "top"}, ["priority", "position"]),
        refused("conditions type", RULE, {"conditions": ["subject_contains_words"]}, ["conditions"]),
        refused("conditions unknown key", RULE, {"conditions": {"subject_has": ["x"]}}, ["subject_has"]),
        refused("conditions values", RULE, {"conditions": BAD_PREDICATES}, section("conditions", BAD_PREDICATES)),
        refused("conditions.from_scope", RULE, {"conditions": {"from_scope": "outside"}}, ["from_scope"]),
        refused("conditions.sent_to_scope", RULE, {"conditions": {"sent_to_scope": "outside"}}, ["sent_to_scope"]),
        refused("exceptions values", RULE, {"exceptions": BAD_PREDICATES}, section("exceptions", BAD_PREDICATES)),
        refused("exceptions.from_scope", RULE, {"exceptions": {"from_scope": "outside"}}, ["from_scope"]),
        refused("exceptions.sent_to_scope", RULE, {"exceptions": {"sent_to_scope": "outside"}}, ["sent_to_scope"]),
        refused("actions values", RULE, {"actions": BAD_ACTIONS}, section("actions", BAD_ACTIONS)),
        refused("actions.route_message_outbound_connector", RULE,
                {"actions": {"route_message_outbound_connector": "No such connector"}},
                ["actions.route_message_outbound_connector"], reads=["Get-TransportRule", "Get-OutboundConnector"],
                why="checked against the connectors of the tenant before any write"),
        refused("actions.route_message_outbound_require_tls type", RULE,
                {"actions": {"route_message_outbound_require_tls": "x"}}, ["route_message_outbound_require_tls"]),
        refused("actions.stop_rule_processing type", RULE, {"actions": {"stop_rule_processing": "x"}},
                ["stop_rule_processing"]),
        refused("unknown recipient", RULE, {"conditions": {"from": ["Nobody Known"]}}, ["conditions.from"],
                reads=["Get-Recipient"], why="resolved like the service does (read first)"),
        refused("purge_conditions type", RULE, {"purge_conditions": "x"}, ["purge_conditions"]),
        refused("purge_exceptions type", RULE, {"purge_exceptions": "x"}, ["purge_exceptions"]),
        refused("purge_actions type", RULE, {"purge_actions": "x"}, ["purge_actions"]),
        refused("apply_to_all_messages type", RULE, {"apply_to_all_messages": "x"}, ["apply_to_all_messages"]),
        refused("rule for every message", RULE, {"name": "Bad no condition", "conditions": None,
                                                 "actions": {"prepend_subject": "[all] "}},
                ["apply_to_all_messages"], reads=["Get-TransportRule"]),
        refused("extra_parameters type", RULE, {"extra_parameters": ["SetAuditSeverity"]}, ["extra_parameters"]),
        refused("extra_parameters values", RULE, {"extra_parameters": BAD_EXTRA}, section("extra_parameters", BAD_EXTRA)),
        refused("conditions huge", RULE, {"conditions": {"subject_contains_words": [
            "word%04d" % i for i in range(HUGE)]}}, ["conditions.subject_contains_words"],
            why="more than the 8 KB of one rule; used to reach the service"),
        accepted("conditions duplicates", RULE, {"name": "Rule dup", "conditions": {"recipient_domain_is": [
            "dup.example", "DUP.example."]}}),
        accepted("sender_ip_ranges ipv6", RULE, {"name": "Rule ipv6", "conditions": {"sender_ip_ranges": [
            "2001:db8::/32", "198.51.100.0/24"]}}, why="rules take IPv6 ranges (connectors do not)"),
        accepted("recipient_domain_is unicode", RULE, {"name": "Rule idna", "conditions": {"recipient_domain_is": [
            "bücher.example"]}}, why="converted to its A-label xn--bcher-kva.example (values.idna_name)"),
        refused("extra_parameters unknown key", RULE, {"extra_parameters": {"SetAuditSeverty": "High"}},
                ["extra_parameters.SetAuditSeverty", "did you mean SetAuditSeverity"],
                why="New-TransportRule refuses it; checked against every New-/Set-TransportRule parameter"),
        refused("condition excepted", RULE, {"exceptions": {"subject_contains_words": ["BASE"]}},
                ["exceptions.subject_contains_words", "conditions.subject_contains_words"],
                why="every message the condition selects is excepted: the rule never applies"),
        refused("route inside the organization", RULE, {"conditions": {"sent_to_scope": "in_organization"},
                                                        "actions": {"route_message_outbound_connector": "Bad base out"}},
                ["conditions.sent_to_scope"], why="mail to internal recipients never uses an outbound connector"),
        refused("python regex", RULE, {"conditions": {"subject_matches_patterns": [
            "(?P<n>inv)", "a*+", "\\N{EURO SIGN}", "(?a)x", "a{,3}"]}},
            ["conditions.subject_matches_patterns", "(?<n>...)", "(?>a*)", "\\uXXXX", "inline flag a", "{0,3}"],
            why=".NET refuses these (or reads {,3} as text) at New-TransportRule"),
        accepted("dotnet regex", RULE, {"name": "Rule dotnet regex", "conditions": {"subject_matches_patterns": [
            "\\binv\\b*", "(?<n>x)\\k<n>", "\\k<m>(?<m>y)", "[a-z-[aeiou]]", "\\p{Lu}"]}},
            why=".NET syntax Python's re refuses: left to the service, which takes it"),
        refused("comments control character", RULE, {"comments": "bell\x07"}, ["comments"]),
        accepted("sender_ip_ranges host bits", RULE, {"name": "Rule hostbits", "conditions": {"sender_ip_ranges": [
            "198.51.100.7/24"]}}, why="a rule stores the network (198.51.100.0/24), which is sent and compared"),
    ]


def _validate_cases():
    return [
        refused("validate unknown connector", VALIDATE, {"name": "No such connector"}, ["name"],
                reads=["Get-OutboundConnector"]),
        refused("direction", VALIDATE, {"direction": "sideways"}, ["direction"]),
        refused("recipients", VALIDATE, {"service_validation": True, "recipients": ["nobody"]}, ["recipients"],
                reads=["Get-OutboundConnector"]),
        refused("service_validation type", VALIDATE, {"service_validation": "x"}, ["service_validation"]),
        refused("probe type", VALIDATE, {"probe": "x"}, ["probe"]),
        refused("record type", VALIDATE, {"record": "x"}, ["record"]),
        refused("fail_on_invalid type", VALIDATE, {"fail_on_invalid": "x"}, ["fail_on_invalid"]),
        refused("smtp_port 0", VALIDATE, {"smtp_port": 0}, ["smtp_port"]),
        refused("smtp_port 65536", VALIDATE, {"smtp_port": 65536}, ["smtp_port"]),
        refused("dns_servers port", VALIDATE, {"dns_servers": ["198.51.100.53:0"]}, ["dns_servers"]),
        refused("dns_servers name", VALIDATE, {"dns_servers": ["dns.example"]}, ["dns_servers"]),
        refused("probe_ca_path", VALIDATE, {"probe": True, "probe_ca_path": "/nonexistent/ca.pem"}, ["probe_ca_path"]),
        refused("probe_timeout", VALIDATE, {"probe_timeout": 0}, ["probe_timeout"]),
        accepted("validate nothing", VALIDATE, VAL_BASE, why="nothing to validate is a result, not an error"),
    ]


CASES = _connection_cases() + _inbound_cases() + _outbound_cases() + _rule_cases() + _validate_cases()


def plan(target):
    """(case, run) per task of the play of ``target``: accepted and either cases run twice."""
    out = []
    for case in CASES:
        if target in case.targets:
            out.append((case, 1))
            if case.expect != "refused":
                out.append((case, 2))
    return out


def tasks(planned):
    return [{"name": "%03d %s (%d)" % (index, case.id, run), case.module: case.args}
            for index, (case, run) in enumerate(planned)]


def _clean(case, result):
    text = json.dumps(result)
    assert "Traceback" not in text and "MODULE FAILURE" not in text, text[:2000]


def _refusal(case, result, requests):
    assert result.get("failed") is True, ("not refused", result.get("msg"), result.get("changed"))
    assert not result.get("changed")
    for option in case.names:
        assert option in result["msg"], (option, result["msg"])
    if requests is not None:
        assert set(e["cmdlet"] for e in requests) <= set(case.reads), [e["cmdlet"] for e in requests]


def _writes(requests):
    return [e for e in requests or [] if e["cmdlet"].split("-")[0].lower() in WRITE_VERBS]


def check_play(target, planned, run):
    """Assert every case of one play; return ({case id: "refused" | "accepted"}, [problems])."""
    assert len(run.checkpoints) == len(planned), run.output[-3000:]
    assert "Traceback" not in run.output and "MODULE FAILURE" not in run.output, run.output[-3000:]
    outcome, problems = {}, []
    for index, (case, attempt) in enumerate(planned):
        try:
            _check_task(run, index, case, attempt, outcome)
        except AssertionError as exc:
            problems.append("%s %s (run %d): %s" % (target, case.id, attempt, exc))
    return outcome, problems


def _check_task(run, index, case, attempt, outcome):
    result = run.results[index]
    requests = run.requests(index) if run.log is not None else None
    _clean(case, result)
    if attempt == 1 and (case.expect == "refused" or (case.expect == "either" and result.get("failed"))):
        _refusal(case, result, requests)
        assert run.tenant_after(index) == run.tenant_before(index), "the tenant changed"
        outcome[case.id] = "refused"
        return
    if attempt == 2 and outcome.get(case.id) == "refused":
        _refusal(case, result, requests)  # the same refusal again
        return
    assert not result.get("failed"), result.get("msg")
    if attempt == 1:
        outcome[case.id] = "accepted"
        return
    # the same task again: converged, nothing to change, nothing written
    assert result.get("changed") is False, result.get("changed_properties")
    assert _writes(requests) == [], _writes(requests)
    assert run.tenant_after(index) == run.tenant_before(index), "the tenant changed"


def test_bad_input_table(tmp_path):
    from tests.emulator import Emulator
    from ansible_collections.m365.mailflow.plugins.module_utils import wire
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant

    targets = {}
    for kind in ("sandbox", "emulator"):
        workdir = tmp_path / kind
        workdir.mkdir()
        state = str(workdir / "tenant.db")
        tenant = SandboxTenant(state)
        for cmdlet, params in SEEDS:
            wire.parse_response(tenant.execute(cmdlet, params), cmdlet)
        targets[kind] = {"workdir": str(workdir), "state": state}
    emulator = Emulator(targets["emulator"]["state"], cert_dir=str(tmp_path / "pki")).start()
    try:
        targets["sandbox"]["defaults"] = {"sandbox": targets["sandbox"]["state"]}
        targets["emulator"]["defaults"] = emulator_defaults(emulator)
        runs = {}

        def play(kind):
            planned = plan(kind)
            runs[kind] = (planned, run_checkpointed(tasks(planned), targets[kind]["workdir"], targets[kind]["defaults"],
                                                    targets[kind]["state"],
                                                    emulator=emulator if kind == "emulator" else None))

        threads = [threading.Thread(target=play, args=(kind,)) for kind in targets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        checked = dict((kind, check_play(kind, *runs[kind])) for kind in ("sandbox", "emulator"))
    finally:
        emulator.stop()
    problems = checked["sandbox"][1] + checked["emulator"][1]
    assert not problems, "\n".join(problems)
    outcomes = dict((kind, checked[kind][0]) for kind in checked)
    # both targets decide every case alike; the record of what is refused and what is accepted
    common = set(outcomes["sandbox"]) & set(outcomes["emulator"])
    assert dict((c, outcomes["sandbox"][c]) for c in common) == dict((c, outcomes["emulator"][c]) for c in common)
    for case in CASES:
        if case.expect == "either":
            print("bad input: %s was %s" % (case.id, outcomes["emulator"][case.id]))
    print("bad input: %d cases, %d tasks per target" % (len(CASES), len(plan("emulator"))))
