# -*- coding: utf-8 -*-
"""The connector validation probe (validation/) against real loopback servers: a private Postfix instance (one smtpd per scenario) and dnsmasq."""

from __future__ import absolute_import, division, print_function

import json

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.validation import routes
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import validation as sandbox_validation
from ansible_collections.m365.mailflow.plugins.module_utils.validation import service_tree
from ansible_collections.m365.mailflow.plugins.module_utils.validation import smtp_probe as probe
from tests.support.mailservers import (  # noqa: F401  pylint: disable=unused-import
    BACKUP_DOMAIN, IMPLICIT_MX_DOMAIN, NODATA_DOMAIN, NXDOMAIN_DOMAIN, dnsmasq_server, mail_pki, postfix_lab,
)

pytestmark = pytest.mark.servers

SENDER = "O365ConnectorValidation@contoso.onmicrosoft.example"


class Lab(object):
    def __init__(self, postfix, dns, pki):
        self.postfix, self.dns, self.pki = postfix, dns, pki
        self.s = postfix.scenarios

    def options(self, **kwargs):
        options = dict(dns_servers=[self.dns.address], smtp_port=self.postfix.port, ca_path=self.pki.ca.cert,
                       timeout=10.0, sender=SENDER)
        options.update(kwargs)
        return options

    def validate(self, **kwargs):
        return probe.validate_route(**self.options(**kwargs))

    def service(self, connector, recipients):
        options = self.options()
        options.pop("timeout")
        return sandbox_validation.service_validation(connector, recipients, **options)


@pytest.fixture
def lab(postfix_lab, dnsmasq_server, mail_pki):
    return Lab(postfix_lab, dnsmasq_server, mail_pki)


def classes(report):
    return sorted(f["class"] for f in report["failures"])


def only_failure(report, cls):
    assert classes(report) == [cls], json.dumps(report["failures"], indent=1)
    failure = report["failures"][0]
    assert failure["message"] and failure["fix"] and failure["evidence"]
    return failure


def probe_ids(lab):
    return set(m["headers"].get(probe.PROBE_HEADER) for m in lab.postfix.received_messages())


# ---------------------------------------------------------------- passing routes


def test_good_certificate_domain_validation_delivers_test_message(lab):
    report = lab.validate(recipients=["alice@adatum.example"], tls_mode="domain_validation",
                          tls_domain="*.adatum.example", send=True)
    assert report["validated"], report["failures"]
    [host] = report["hosts"]
    assert (host["host"], host["ip"], host["delivered"]) == ("mail.adatum.example", "127.0.0.2", ["alice@adatum.example"])
    assert host["queue_id"]
    cert = host["certificate"]
    assert cert["san_dns"] == ["*.adatum.example", "mail.adatum.example"] and not cert["self_signed"]
    assert len(cert["sha256"].split(":")) == 32
    received = lab.postfix.wait_for_message(probe.PROBE_HEADER, host["probe_id"])
    assert received["mailbox"] == "adatum.example"
    assert received["headers"]["Subject"] == probe.TEST_SUBJECT
    assert received["headers"]["Message-ID"] == host["message_id"]
    assert "with ESMTPS" in received["headers"]["Received"]


def test_exact_tls_domain_matches_wildcard_certificate(lab):
    report = lab.validate(smart_hosts=["mail.adatum.example"], tls_mode="domain_validation", tls_domain="mail.adatum.example")
    assert report["validated"], report["failures"]


def test_probe_without_send_leaves_queue_and_mailboxes_unchanged(lab):
    lab.postfix.wait_queue_empty()
    before = probe_ids(lab)
    report = lab.validate(recipients=["alice@adatum.example"], tls_mode="certificate_validation", send=False)
    assert report["validated"] and report["hosts"][0]["delivered"] == []
    assert [s["step"] for s in report["hosts"][0]["steps"]] == ["connect", "ehlo", "starttls", "certificate", "ehlo_tls"]
    assert lab.postfix.queue_count() == 0
    assert probe_ids(lab) == before


# ---------------------------------------------------------------- certificate failures


def test_subject_mismatch(lab):
    before = probe_ids(lab)
    report = lab.validate(recipients=["alice@mismatch.example"], tls_mode="domain_validation",
                          tls_domain="*.mismatch.example", send=True)
    failure = only_failure(report, "subject_mismatch")
    assert (failure["host"], failure["ip"], failure["port"]) == ("mx.mismatch.example", "127.0.0.3", lab.postfix.port)
    assert "mail.other.example" in failure["evidence"] and "*.mismatch.example" in failure["evidence"]
    assert "*.mismatch.example" in failure["fix"] and "mail.other.example" in failure["fix"]
    assert report["hosts"][0]["delivered"] == [] and probe_ids(lab) == before


def test_mismatched_name_is_fine_for_certificate_validation(lab):
    report = lab.validate(recipients=["alice@mismatch.example"], tls_mode="certificate_validation")
    assert report["validated"], report["failures"]


def test_self_signed_passes_encryption_only_and_delivers(lab):
    report = lab.validate(recipients=["bob@selfsigned.example"], tls_mode="encryption_only", send=True)
    assert report["validated"], report["failures"]
    host = report["hosts"][0]
    assert host["certificate"]["self_signed"] is True
    lab.postfix.wait_for_message(probe.PROBE_HEADER, host["probe_id"])


def test_self_signed_fails_certificate_validation_without_sending(lab):
    before = probe_ids(lab)
    report = lab.validate(recipients=["bob@selfsigned.example"], tls_mode="certificate_validation", send=True)
    failure = only_failure(report, "certificate_self_signed")
    assert "verify error 18" in failure["evidence"] and "mx.selfsigned.example" in failure["evidence"]
    assert report["hosts"][0]["certificate"]["self_signed"] is True
    assert report["hosts"][0]["delivered"] == [] and probe_ids(lab) == before


def test_self_signed_fails_domain_validation_too(lab):
    report = lab.validate(recipients=["bob@selfsigned.example"], tls_mode="domain_validation", tls_domain="mx.selfsigned.example")
    only_failure(report, "certificate_self_signed")


def test_expired_certificate(lab):
    report = lab.validate(recipients=["carol@expired.example"], tls_mode="certificate_validation")
    failure = only_failure(report, "certificate_expired")
    cert = report["hosts"][0]["certificate"]
    assert cert["expired"] is True and cert["not_after"] in failure["evidence"]
    assert "Renew" in failure["fix"]
    assert lab.validate(recipients=["carol@expired.example"], tls_mode="encryption_only")["validated"]


def test_untrusted_when_ca_not_loaded(lab, tmp_path):
    other = tmp_path / "empty-ca.pem"
    other.write_bytes(open(lab.pki.certs["selfsigned"].cert, "rb").read())  # a CA file without the test CA
    report = lab.validate(recipients=["alice@adatum.example"], tls_mode="certificate_validation", ca_path=str(other))
    failure = only_failure(report, "certificate_untrusted")
    assert "verify error 20" in failure["evidence"]


# ---------------------------------------------------------------- transport failures


def test_no_starttls(lab):
    report = lab.validate(recipients=["dave@notls.example"], tls_mode="encryption_only")
    failure = only_failure(report, "starttls")
    assert "EHLO extensions" in failure["evidence"] and "starttls" not in failure["evidence"].lower().split(":", 1)[1]


def test_no_starttls_is_fine_when_opportunistic(lab):
    report = lab.validate(recipients=["dave@notls.example"], tls_mode=None, send=True)
    assert report["validated"], report["failures"]
    lab.postfix.wait_for_message(probe.PROBE_HEADER, report["hosts"][0]["probe_id"])


def test_closed_port(lab):
    report = lab.validate(recipients=["erin@closed.example"], tls_mode="encryption_only")
    failure = only_failure(report, "connect")
    assert failure["ip"] == "127.0.0.7" and "ECONNREFUSED" in failure["evidence"]


@pytest.mark.parametrize("domain,evidence", [(NODATA_DOMAIN, "NOERROR"), (NXDOMAIN_DOMAIN, "NXDOMAIN")])
def test_unresolvable_recipient_domain(lab, domain, evidence):
    report = lab.validate(recipients=["x@" + domain], tls_mode="encryption_only")
    failure = only_failure(report, "resolve")
    assert failure["host"] == domain and evidence in failure["evidence"] and lab.dns.address in failure["evidence"]
    assert report["hosts"] == []


def test_unresolvable_smart_host(lab):
    report = lab.validate(smart_hosts=["smtp.nowhere.example", "127.0.0.2"], tls_mode="certificate_validation")
    failure = only_failure(report, "resolve")
    assert failure["host"] == "smtp.nowhere.example" and "NXDOMAIN" in failure["evidence"]
    assert [h["ip"] for h in report["hosts"]] == ["127.0.0.2"] and report["hosts"][0]["ok"]


# ---------------------------------------------------------------- recipients


def test_recipient_rejected_permanent_and_temporary(lab):
    report = lab.validate(recipients=["nobody@adatum.example", "busy@adatum.example", "frank@adatum.example"],
                          tls_mode="domain_validation", tls_domain="*.adatum.example", send=True)
    assert classes(report) == ["recipient_rejected", "recipient_rejected"]
    by_rcpt = dict((f["recipient"], f) for f in report["failures"])
    assert by_rcpt["nobody@adatum.example"]["temporary"] is False and "550" in by_rcpt["nobody@adatum.example"]["evidence"]
    assert by_rcpt["busy@adatum.example"]["temporary"] is True and "450" in by_rcpt["busy@adatum.example"]["evidence"]
    host = report["hosts"][0]
    assert host["delivered"] == ["frank@adatum.example"]
    received = lab.postfix.wait_for_message(probe.PROBE_HEADER, host["probe_id"])
    assert received["headers"]["Delivered-To"] == "frank@adatum.example"


# ---------------------------------------------------------------- DNS route shapes


def test_mx_preference_order_and_implicit_mx(lab):
    route = routes.resolve_route(recipient_domains=[BACKUP_DOMAIN, IMPLICIT_MX_DOMAIN], dns_servers=[lab.dns.address])
    assert route["failures"] == []
    assert [(h["host"], h["via"], h["preference"], h["ips"]) for h in route["hosts"]] == [
        ("mx1.backup.example", "mx:backup.example", 10, ["127.0.0.2"]),
        ("mx2.backup.example", "mx:backup.example", 20, ["127.0.0.3"]),
        ("amx.example", "a:amx.example", 0, ["127.0.0.2"]),
    ]


def test_delivery_uses_first_passing_mx(lab):
    # mx1 (127.0.0.2, good) passes, mx2 (127.0.0.3) fails the name check: mail still goes through mx1
    report = lab.validate(recipients=["gina@backup.example"], tls_mode="domain_validation", tls_domain="*.adatum.example",
                          send=True)
    assert classes(report) == ["subject_mismatch"]
    delivered = [h for h in report["hosts"] if h["delivered"]]
    assert [(h["host"], h["delivered"]) for h in delivered] == [("mx1.backup.example", ["gina@backup.example"])]
    lab.postfix.wait_for_message(probe.PROBE_HEADER, delivered[0]["probe_id"])


def test_many_hosts_probed_concurrently_keep_order(lab):
    ips = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"] * 2
    report = lab.validate(smart_hosts=ips, tls_mode="certificate_validation")
    assert [h["ip"] for h in report["hosts"]] == ips
    assert [sorted(f["class"] for f in h["failures"]) for h in report["hosts"][:6]] == [
        [], [], ["certificate_self_signed"], ["certificate_expired"], ["starttls"], ["connect"]]


# ---------------------------------------------------------------- Validate-OutboundConnector tree


def connector(name, **kwargs):
    record = {"Name": name, "UseMXRecord": True, "SmartHosts": [], "RecipientDomains": [], "TlsSettings": None,
              "TlsDomain": None}
    record.update(kwargs)
    return record


def test_service_validation_success_tree(lab):
    tree = lab.service(connector("Adatum", RecipientDomains=["adatum.example"], TlsSettings="DomainValidation",
                                 TlsDomain="*.adatum.example"), ["alice@adatum.example"])
    assert tree["TaskName"] == "Validate outbound connector Adatum" and tree["IsTaskSuccessful"], tree
    names = [t["TaskName"] for t in tree["SubTaskResults"]]
    port = lab.postfix.port
    assert names == ["Resolve mail.adatum.example", "Connect to mail.adatum.example:%d" % port,
                     "SMTP EHLO mail.adatum.example", "STARTTLS mail.adatum.example", "Certificate mail.adatum.example",
                     "SMTP EHLO mail.adatum.example", "Send test email to alice@adatum.example"]
    assert tree["ChangedProperties"] == [] and service_tree.failures_from_tree(tree) == []


@pytest.mark.parametrize("record,recipients,expected", [
    (connector("Mismatch", RecipientDomains=["mismatch.example"], TlsSettings="DomainValidation",
               TlsDomain="*.mismatch.example"), ["a@mismatch.example"], ["subject_mismatch"]),
    (connector("SelfSigned", RecipientDomains=["selfsigned.example"], TlsSettings="CertificateValidation"),
     ["a@selfsigned.example"], ["certificate_self_signed"]),
    (connector("Expired", RecipientDomains=["expired.example"], TlsSettings="CertificateValidation"),
     ["a@expired.example"], ["certificate_expired"]),
    (connector("NoTls", RecipientDomains=["notls.example"], TlsSettings="EncryptionOnly"),
     ["a@notls.example"], ["starttls"]),
    (connector("Smart", UseMXRecord=False, SmartHosts=["mx.closed.example", "mail.adatum.example"],
               RecipientDomains=["adatum.example"], TlsSettings="CertificateValidation"),
     ["nobody@adatum.example", "ok@adatum.example"], ["connect", "recipient_rejected"]),
    (connector("Missing", RecipientDomains=["missing.example"]), ["a@missing.example"], ["resolve"]),
])
def test_service_validation_failure_classes_round_trip(lab, record, recipients, expected):
    tree = lab.service(record, recipients)
    assert tree["IsTaskSuccessful"] is False
    assert service_tree.classify_task_detail(tree["TaskDetail"]) is None
    via_rest = json.loads(json.dumps(tree))
    failures = service_tree.failures_from_tree(via_rest)
    assert sorted(f["class"] for f in failures) == expected
    for failure in failures:
        assert failure["fix"] and failure["evidence"] and failure["host"]
        assert failure["port"] in (None, lab.postfix.port)
