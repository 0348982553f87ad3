# -*- coding: utf-8 -*-
"""The connector validation probe (validation/) without real mail servers: name matching, verify codes, task details, route ordering, a stub SMTP."""

from __future__ import absolute_import, division, print_function

import collections
import datetime
import json
import ssl

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.validation import certificates
from ansible_collections.m365.mailflow.plugins.module_utils.validation import failures
from ansible_collections.m365.mailflow.plugins.module_utils.validation import routes
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import validation as sandbox_validation
from ansible_collections.m365.mailflow.plugins.module_utils.validation import service_tree
from ansible_collections.m365.mailflow.plugins.module_utils.validation import smtp_probe as probe
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from tests.support import pki
from tests.support.mailservers import SlowSmtpStub, free_port


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("presented,required,expected", [
    ("mail.adatum.example", "mail.adatum.example", True),
    ("MAIL.Adatum.Example.", "mail.adatum.example", True),
    ("*.adatum.example", "mail.adatum.example", True),
    ("*.adatum.example", "a.b.adatum.example", False),      # a certificate wildcard covers exactly one label
    ("*.adatum.example", "adatum.example", False),
    ("*.example", "adatum.example", False),                 # no wildcard directly under a single-label parent
    ("m*.adatum.example", "mail.adatum.example", False),    # partial-label wildcards are not honoured
    ("mail.adatum.example", "*.adatum.example", True),      # required wildcard: any host under the domain
    ("a.b.adatum.example", "*.adatum.example", True),
    ("*.adatum.example", "*.adatum.example", True),
    ("*.sub.adatum.example", "*.adatum.example", False),
    ("adatum.example", "*.adatum.example", False),
    ("mail.other.example", "*.adatum.example", False),
    ("evil-adatum.example", "*.adatum.example", False),
    ("", "mail.adatum.example", False),
])
def test_hostname_matches(presented, required, expected):
    assert certificates.hostname_matches(presented, required) is expected


def test_certificate_names_include_cn_and_sans():
    facts = {"san_dns": ["a.example", "b.example"], "common_name": "c.example"}
    assert certificates.certificate_names(facts) == ["a.example", "b.example", "c.example"]


# ---------------------------------------------------------------- verify codes


@pytest.mark.parametrize("code,leaf_self_signed,expected", [
    (10, False, "certificate_expired"),
    (9, False, "certificate_expired"),
    (18, False, "certificate_self_signed"),
    (19, False, "certificate_untrusted"),
    (19, True, "certificate_self_signed"),
    (20, False, "certificate_untrusted"),
    (21, False, "certificate_untrusted"),
    (20, True, "certificate_self_signed"),
    (7, False, "certificate_untrusted"),
    (62, False, "subject_mismatch"),
])
def test_classify_verify_code(code, leaf_self_signed, expected):
    assert certificates.classify_verify_code(code, leaf_self_signed) == expected


@pytest.mark.parametrize("value,expected", [
    (None, None), ("EncryptionOnly", "encryption_only"), ("CertificateValidation", "certificate_validation"),
    ("domainvalidation", "domain_validation"), ("domain_validation", "domain_validation"),
])
def test_normalize_tls_mode(value, expected):
    assert probe.normalize_tls_mode(value) == expected


def test_bad_tls_mode_and_missing_tls_domain():
    with pytest.raises(ConfigurationError):
        probe.normalize_tls_mode("strict")
    with pytest.raises(ConfigurationError, match="tls_domain"):
        probe.probe_host("127.0.0.1", tls_mode="domain_validation")


# ---------------------------------------------------------------- task details


def _failure(cls, **extra):
    failure = {"class": cls, "host": "mail.adatum.example", "ip": "127.0.0.2", "port": 25, "step": "certificate",
               "evidence": "subject=CN=x | issuer=CN=y; verify error 18 (self signed certificate)",
               "message": "certificate of mail.adatum.example is broken", "fix": "Do the thing | now"}
    failure.update(extra)
    return failure


@pytest.mark.parametrize("cls", failures.FAILURE_CLASSES)
def test_task_detail_round_trip(cls):
    failure = _failure(cls)
    text = service_tree.format_task_detail(failure)
    assert text.startswith("[%s] " % cls) and "\n" not in text
    assert service_tree.classify_task_detail(text) == cls
    parsed = service_tree.parse_task_detail(text)
    assert parsed["evidence"] == failure["evidence"]          # evidence is kept verbatim (it is last)
    assert parsed["fix"] == "Do the thing / now"
    for key in ("class", "host", "ip", "port", "step", "message"):
        assert parsed[key] == failure[key]


def test_task_detail_keeps_recipient_and_temporary():
    text = service_tree.format_task_detail(_failure("recipient_rejected", step="rcpt", recipient="a@b.example", temporary=True))
    parsed = service_tree.parse_task_detail(text)
    assert (parsed["recipient"], parsed["temporary"]) == ("a@b.example", True)


@pytest.mark.parametrize("text", [None, "", "All good", "[unknown_class] nope", "x [connect] not a prefix"])
def test_classify_task_detail_none(text):
    assert service_tree.classify_task_detail(text) is None


def test_failures_from_tree_nested_and_list():
    bad = service_tree.task_node("Connect to h:25", False, service_tree.format_task_detail(_failure("connect", step="connect")))
    good = service_tree.task_node("Resolve h", True, "[resolve] ignored because the task succeeded")
    unclassified = service_tree.task_node("Send test email to a@b", False, "Not sent: no host on the route passed validation")
    inner = service_tree.task_node("group", False, "2 failed", [bad, unclassified])
    tree = service_tree.task_node("Validate outbound connector X", False, "failed", [good, inner])
    assert [f["class"] for f in service_tree.failures_from_tree(tree)] == ["connect"]
    assert [f["class"] for f in service_tree.failures_from_tree(json.loads(json.dumps([tree, tree])))] == ["connect", "connect"]


# ---------------------------------------------------------------- route ordering with a fake resolver

MX = collections.namedtuple("MX", "preference exchange")


class Name(str):
    def to_text(self):
        return str(self)


class Addr(str):
    def to_text(self):
        return str(self)


def fake_lookup(zone):
    def lookup(name, rdtype):
        records = zone.get((name, rdtype))
        if records is None:
            if any(key[0] == name for key in zone):
                raise routes._LookupFailure("nodata", "%s %s: NOERROR, no %s records" % (rdtype, name, rdtype))
            raise routes._LookupFailure("nxdomain", "%s %s: NXDOMAIN" % (rdtype, name))
        if isinstance(records, Exception):
            raise records
        return records
    return lookup


@pytest.fixture
def zone(monkeypatch):
    data = {
        ("adatum.example", "MX"): [MX(20, Name("mx2.adatum.example.")), MX(5, Name("mx0.adatum.example.")),
                                   MX(10, Name("MX1.adatum.example."))],
        ("mx0.adatum.example", "A"): [Addr("192.0.2.10")],
        ("mx1.adatum.example", "A"): [Addr("192.0.2.11"), Addr("192.0.2.12")],
        ("mx2.adatum.example", "TXT"): ["exists"],
        ("mx2.adatum.example", "AAAA"): [Addr("2001:db8::2")],
        ("plain.example", "A"): [Addr("192.0.2.20")],
        ("nullmx.example", "MX"): [MX(0, Name("."))],
        ("slow.example", "MX"): routes._LookupFailure("timeout", "MX slow.example: timed out after 5.0s"),
        ("smart.example", "A"): [Addr("192.0.2.30")],
    }
    monkeypatch.setattr(routes, "_lookup_factory", lambda servers, timeout: fake_lookup(data))
    return data


def test_mx_route_ordered_by_preference_then_address_fallbacks(zone):
    route = routes.resolve_route(recipient_domains=["adatum.example", "plain.example"])
    assert route["failures"] == []
    assert [(h["host"], h["preference"], h["via"], h["ips"]) for h in route["hosts"]] == [
        ("mx0.adatum.example", 5, "mx:adatum.example", ["192.0.2.10"]),
        ("mx1.adatum.example", 10, "mx:adatum.example", ["192.0.2.11", "192.0.2.12"]),
        ("mx2.adatum.example", 20, "mx:adatum.example", ["2001:db8::2"]),     # AAAA only when there is no A
        ("plain.example", 0, "a:plain.example", ["192.0.2.20"]),             # RFC 5321 implicit MX
    ]


def test_route_failures_are_resolve_class_and_a_timeout_is_the_resolvers(zone):
    route = routes.resolve_route(recipient_domains=["nullmx.example", "slow.example", "gone.example", "*.wild.example"])
    assert [(f["class"], f["host"]) for f in route["failures"]] == [
        ("resolve", "nullmx.example"), ("resolver_timeout", "slow.example"), ("resolve", "gone.example")]
    assert "null MX" in route["failures"][0]["evidence"] and "timed out" in route["failures"][1]["evidence"]
    assert "NXDOMAIN" in route["failures"][2]["evidence"] and "does not exist" in route["failures"][2]["message"]
    assert all(f["fix"] and f["step"] == "resolve" for f in route["failures"])
    timeout = route["failures"][1]
    assert "dns_servers" in timeout["fix"] and "Publish" not in timeout["fix"]  # not "publish the missing record"


def test_address_lookup_timeout_is_the_resolvers(zone):
    zone[("slowhost.example", "A")] = routes._LookupFailure("timeout", "A slowhost.example @192.0.2.53: timed out after 5.0s")
    zone[("halfslow.example", "A")] = routes._LookupFailure("nodata", "A halfslow.example: NOERROR, no A records")
    zone[("halfslow.example", "AAAA")] = routes._LookupFailure("timeout", "AAAA halfslow.example: timed out after 5.0s")
    route = routes.resolve_route(smart_hosts=["slowhost.example", "halfslow.example", "missing.example"])
    assert [(f["class"], f["host"]) for f in route["failures"]] == [
        ("resolver_timeout", "slowhost.example"), ("resolver_timeout", "halfslow.example"), ("resolve", "missing.example")]
    assert "has no A/AAAA record" not in route["failures"][0]["message"]


def test_smart_hosts_take_precedence(zone):
    route = routes.resolve_route(smart_hosts=["Smart.Example.", "198.51.100.7"], recipient_domains=["adatum.example"])
    assert [(h["host"], h["ips"], h["via"]) for h in route["hosts"]] == [
        ("smart.example", ["192.0.2.30"], "smart_host"), ("198.51.100.7", ["198.51.100.7"], "smart_host")]


@pytest.mark.parametrize("server,expected", [
    ("127.0.0.1", ("127.0.0.1", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)), ("[::1]:5300", ("::1", 5300)),
    ("::1", ("::1", 53)),
])
def test_split_dns_server(server, expected):
    assert routes._split_server(server) == expected


@pytest.mark.parametrize("server", ["dns.example", "127.0.0.1:x", "1.2.3.4:5:6:"])
def test_split_dns_server_rejects(server):
    with pytest.raises(ConfigurationError):
        routes._split_server(server)


def test_validate_route_needs_a_route():
    with pytest.raises(ConfigurationError):
        probe.validate_route(recipient_domains=["*"], tls_mode=None)


# ---------------------------------------------------------------- certificate facts


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("pki"))
    ca = pki.make_ca(directory, "unit CA")
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "ca": ca,
        "good": pki.issue_cert(ca, directory, "good", dns_names=("*.adatum.example",), common_name="mail.adatum.example"),
        "self": pki.issue_cert(None, directory, "self", dns_names=("self.example",), self_signed=True),
        "expired": pki.issue_cert(ca, directory, "expired", dns_names=("old.example",),
                                  not_before=now - datetime.timedelta(days=9), not_after=now - datetime.timedelta(days=2)),
    }


def _der(pair):
    return ssl.PEM_cert_to_DER_cert(open(pair.cert).read())


def test_certificate_facts(certs):
    good = certificates.certificate_facts(_der(certs["good"]))
    assert (good["common_name"], good["san_dns"], good["self_signed"], good["expired"]) == (
        "mail.adatum.example", ["*.adatum.example"], False, False)
    assert good["issuer"] == "CN=unit CA" and len(good["sha256"]) == 95
    assert certificates.certificate_facts(_der(certs["self"]))["self_signed"] is True
    assert certificates.certificate_facts(_der(certs["ca"]))["self_signed"] is True
    expired = certificates.certificate_facts(_der(certs["expired"]))
    assert expired["expired"] is True and expired["not_yet_valid"] is False
    assert "self_signed=False" in certificates.describe_certificate(expired)


# ---------------------------------------------------------------- probe_host against a stub SMTP server


@pytest.fixture
def stub_factory():
    stubs = []

    def make(cert=None, delay=0.0):
        stub = SlowSmtpStub("127.0.0.1", 0, delay=delay, cert=cert).start()
        stubs.append(stub)
        return stub
    yield make
    for stub in stubs:
        stub.stop()


def test_stub_good_certificate_and_delivery(stub_factory, certs):
    stub = stub_factory(certs["good"])
    result = probe.probe_host("mail.adatum.example", ip="127.0.0.1", port=stub.port, tls_mode="domain_validation",
                              tls_domain="*.adatum.example", ca_path=certs["ca"].cert, send=True,
                              sender="s@contoso.example", recipients=["a@adatum.example"])
    assert result["ok"], result["failures"]
    assert result["delivered"] == ["a@adatum.example"] and result["queue_id"].startswith("STUB")


@pytest.mark.parametrize("cert,mode,tls_domain,expected", [
    ("self", "certificate_validation", None, "certificate_self_signed"),
    ("expired", "certificate_validation", None, "certificate_expired"),
    ("good", "domain_validation", "other.example", "subject_mismatch"),
    ("self", "encryption_only", None, None),
    ("expired", None, None, None),
])
def test_stub_certificate_classes(stub_factory, certs, cert, mode, tls_domain, expected):
    stub = stub_factory(certs[cert])
    result = probe.probe_host("127.0.0.1", port=stub.port, tls_mode=mode, tls_domain=tls_domain,
                              ca_path=certs["ca"].cert, send=True, sender="s@contoso.example", recipients=["a@x.example"])
    assert [f["class"] for f in result["failures"]] == ([expected] if expected else [])
    assert result["certificate"]["sha256"]
    assert result["delivered"] == ([] if expected else ["a@x.example"])


def test_stub_without_starttls(stub_factory):
    stub = stub_factory(None)
    failing = probe.probe_host("127.0.0.1", port=stub.port, tls_mode="encryption_only")
    assert [f["class"] for f in failing["failures"]] == ["starttls"]
    assert probe.probe_host("127.0.0.1", port=stub.port, tls_mode=None)["ok"]


def test_connect_refused_and_timeout(stub_factory):
    port = free_port(["127.0.0.1"])
    refused = probe.probe_host("127.0.0.1", port=port, tls_mode=None, timeout=2)
    assert [(f["class"], f["step"]) for f in refused["failures"]] == [("connect", "connect")]
    assert "ECONNREFUSED" in refused["failures"][0]["evidence"]
    slow = stub_factory(None, delay=1.5)
    timed_out = probe.probe_host("127.0.0.1", port=slow.port, tls_mode=None, timeout=0.5)
    assert [f["class"] for f in timed_out["failures"]] == ["connect"]
    assert "timed out" in timed_out["failures"][0]["evidence"] and timed_out["elapsed"] < 1.4


# ---------------------------------------------------------------- service tree from a canned report


def test_service_validation_tree_from_report(monkeypatch):
    cert_failure = failures.make_failure("subject_mismatch", "certificate", "certificate of mx.a.example does not match *.a.example",
                                         "presented CN=x SAN=y", host="mx.a.example", ip="192.0.2.1", port=25,
                                         required="*.a.example", presented="x")
    host = {"host": "mx.a.example", "ip": "192.0.2.1", "port": 25, "ok": False, "certificate": None, "delivered": [],
            "failures": [cert_failure],
            "steps": [{"step": "connect", "ok": True, "detail": "220 hi"}, {"step": "ehlo", "ok": True, "detail": "250"},
                      {"step": "starttls", "ok": True, "detail": "TLSv1.3"},
                      {"step": "certificate", "ok": False, "detail": "[subject_mismatch] ..."}]}
    report = {"validated": False, "hosts": [host], "failures": [cert_failure],
              "route": {"hosts": [{"host": "mx.a.example", "ips": ["192.0.2.1"], "via": "mx:a.example", "preference": 10}],
                        "failures": []}}
    seen = {}

    def fake_validate_route(**kwargs):
        seen.update(kwargs)
        return report
    monkeypatch.setattr(sandbox_validation, "validate_route", fake_validate_route)
    record = {"Name": "A", "UseMXRecord": True, "TlsSettings": "DomainValidation", "TlsDomain": "*.a.example"}
    tree = sandbox_validation.service_validation(record, ["r@a.example"], "s@t.example")
    assert seen["tls_mode"] == "domain_validation" and seen["send"] is True and seen["smart_hosts"] is None
    assert [(t["TaskName"], t["IsTaskSuccessful"]) for t in tree["SubTaskResults"]] == [
        ("Resolve mx.a.example", True), ("Connect to mx.a.example:25", True), ("SMTP EHLO mx.a.example", True),
        ("STARTTLS mx.a.example", True), ("Certificate mx.a.example", False), ("Send test email to r@a.example", False)]
    assert [f["class"] for f in service_tree.failures_from_tree(tree)] == ["subject_mismatch"]
    assert "subject_mismatch" in tree["TaskDetail"] and service_tree.classify_task_detail(tree["TaskDetail"]) is None


@pytest.mark.parametrize("banner,evidence", [(b"554 5.3.2 no service here\r\n", "554"), (b"", "closed"),
                                             (b"HTTP/1.1 400 Bad Request\r\n\r\n", "")])
def test_bad_banner_is_ehlo_class(banner, evidence):
    import socket
    import threading
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)

    def serve():
        try:
            conn, _addr = server.accept()
        except OSError:
            return
        with conn:
            conn.sendall(banner)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = probe.probe_host("127.0.0.1", port=server.getsockname()[1], tls_mode=None, timeout=3)
    finally:
        thread.join(5)
        server.close()
    assert [(f["class"], f["step"]) for f in result["failures"]] == [("ehlo", "connect")]
    assert evidence in result["failures"][0]["evidence"] or evidence in result["failures"][0]["message"]


def test_failures_from_a_real_service_tree_are_classified_by_task_name():
    failures_from_tree = service_tree.failures_from_tree
    tree = {"TaskName": "Validate connector", "IsTaskSuccessful": False, "TaskDetail": "",
            "SubTaskResults": [
                {"TaskName": "Resolve task", "IsTaskSuccessful": True, "TaskDetail": "ok", "SubTaskResults": []},
                {"TaskName": "Connection task", "IsTaskSuccessful": False, "TaskDetail": "450 4.4.316 Connection refused",
                 "SubTaskResults": []},
                {"TaskName": "Something new", "IsTaskSuccessful": False, "TaskDetail": "??", "SubTaskResults": []}]}
    failures = failures_from_tree(tree)
    assert [f["class"] for f in failures] == ["connect", "unknown"]
    assert failures[0]["evidence"] == "450 4.4.316 Connection refused"
    assert "port 25" in failures[0]["fix"]
