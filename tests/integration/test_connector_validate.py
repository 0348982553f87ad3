# -*- coding: utf-8 -*-
"""connector_validate end to end: a real Postfix (STARTTLS, test CA) and dnsmasq on loopback as the partner.

Against the sandbox tenant the module's Validate-OutboundConnector really delivers over SMTP; against the emulator
the same happens behind the REST transport. The local probe runs from the module in both cases.
"""

from __future__ import absolute_import, division, print_function

import pytest

from tests.support.mailservers import (  # noqa: F401  pylint: disable=unused-import
    NODATA_DOMAIN, NXDOMAIN_DOMAIN, REJECTED_LOCALPART, dnsmasq_server, mail_pki, postfix_lab,
)

pytestmark = pytest.mark.servers

CONNECTOR = "m365.mailflow.partner_outbound_connector"
VALIDATE = "m365.mailflow.connector_validate"


@pytest.fixture
def partner(target, postfix_lab, dnsmasq_server, mail_pki):
    """The target tenant, set up so that its own validation reaches the loopback partner servers."""
    target.tenant().configure(dns_servers=[dnsmasq_server.address], smtp_port=postfix_lab.port,
                              ca_path=mail_pki.ca.cert, timeout=5.0)
    target.probe_options = {"dns_servers": [dnsmasq_server.address], "smtp_port": postfix_lab.port,
                            "probe_ca_path": mail_pki.ca.cert, "probe_timeout": 5.0}
    target.postfix = postfix_lab
    return target


def connector(partner, name, host, tls_settings, tls_domain=None, recipients=None):
    args = {"name": name, "recipient_domains": [host.split(".", 1)[1]], "smart_hosts": [host],
            "tls_settings": tls_settings}
    if tls_domain:
        args["tls_domain"] = tls_domain
    if recipients:
        args["validation_recipients"] = recipients
    result = partner.task(CONNECTOR, args)
    assert not result.get("failed"), result
    return result


def validate(partner, name, check=False, **kwargs):
    args = dict(partner.probe_options, name=name)
    args.update(kwargs)
    return partner.task(VALIDATE, args, check=check)


def delivered(partner, domain):
    return len(partner.postfix.received_messages(domain))


def test_good_certificate_with_domain_validation_delivers_and_is_recorded(partner):
    connector(partner, "Adatum outbound", "mail.adatum.example", "domain_validation", "*.adatum.example",
              recipients=["postmaster@adatum.example"])
    before = delivered(partner, "adatum.example")
    result = validate(partner, "Adatum outbound")
    assert result["validated"] is True, result["summary"]
    assert result["failures"] == []
    assert result["service_result"]["IsTaskSuccessful"] is True
    assert result["recorded"] is True and result["changed"] is True
    partner.postfix.wait_for_message("To", "postmaster@adatum.example")
    assert delivered(partner, "adatum.example") == before + 1
    state = partner.task(CONNECTOR, {"name": "Adatum outbound", "smart_hosts": ["mail.adatum.example"],
                                     "recipient_domains": ["adatum.example"], "tls_settings": "domain_validation",
                                     "tls_domain": "*.adatum.example"})
    assert state["connector"]["is_validated"] is True and state["connector"]["last_validation_timestamp"]
    again = validate(partner, "Adatum outbound")
    assert again["validated"] is True and again["changed"] is False  # the mark already says so


SCENARIOS = [
    # name, smart host, tls_settings, tls_domain, expected class
    ("mismatch", "mx.mismatch.example", "domain_validation", "*.mismatch.example", "subject_mismatch"),
    ("selfsigned-strict", "mx.selfsigned.example", "certificate_validation", None, "certificate_self_signed"),
    ("expired", "mx.expired.example", "certificate_validation", None, "certificate_expired"),
    ("notls", "mx.notls.example", "certificate_validation", None, "starttls"),
    ("closed", "mx.closed.example", "encryption_only", None, "connect"),
]


@pytest.mark.parametrize("label,host,tls,tls_domain,expected", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_failure_is_classified_with_evidence_and_fix(partner, label, host, tls, tls_domain, expected):
    domain = host.split(".", 1)[1]
    connector(partner, "Partner %s" % label, host, tls, tls_domain)
    before = delivered(partner, domain)
    result = validate(partner, "Partner %s" % label, recipients=["postmaster@%s" % domain])
    assert result.get("failed") is not True, result  # a failed validation is a result
    assert result["validated"] is False
    assert result["failure_classes"] == [expected], result["failures"]
    sources = set()
    for failure in result["failures"]:
        assert failure["class"] == expected and failure["evidence"] and failure["fix"], failure
        # the fix in the words of the options the user writes, not the cmdlets' (issue 22)
        assert not [w for w in ("TlsSettings", "SmartHosts", "TlsDomain", "ValidationRecipients", "UseMXRecord")
                    if w in failure["fix"]], failure["fix"]
        sources.add(failure["source"])
    if expected == "certificate_self_signed":
        assert "tls_settings: encryption_only" in " ".join(f["fix"] for f in result["failures"]), result["failures"]
    assert sources == {"probe", "service"}  # both the local probe and the tenant's validation saw it
    assert expected in result["summary"] and "Fix:" in result["summary"]
    assert delivered(partner, domain) == before  # nothing delivered over a connection the settings refuse
    assert result["recorded"] is False


def test_self_signed_passes_with_encryption_only(partner):
    connector(partner, "Litware outbound", "mx.selfsigned.example", "encryption_only")
    result = validate(partner, "Litware outbound", recipients=["postmaster@selfsigned.example"])
    assert result["validated"] is True, result["failures"]


@pytest.mark.parametrize("domain", [NODATA_DOMAIN, NXDOMAIN_DOMAIN])
def test_no_mx_and_nxdomain_fail_to_resolve(partner, domain):
    result = partner.task(CONNECTOR, {"name": "MX %s" % domain, "recipient_domains": [domain], "use_mx_record": True})
    assert not result.get("failed"), result
    result = validate(partner, "MX %s" % domain, recipients=["postmaster@%s" % domain])
    assert result["validated"] is False
    assert result["failure_classes"] == ["resolve"], result["failures"]
    assert all(domain in f["evidence"] or domain in f["message"] for f in result["failures"]), result["failures"]


def test_recipient_rejected_by_the_partner(partner):
    connector(partner, "Adatum outbound", "mail.adatum.example", "domain_validation", "*.adatum.example")
    result = validate(partner, "Adatum outbound", recipients=["%s@adatum.example" % REJECTED_LOCALPART])
    assert result["validated"] is False
    assert result["failure_classes"] == ["recipient_rejected"], result["failures"]
    failure = result["failures"][0]
    assert failure["source"] == "service" and "550" in failure["evidence"]


def test_check_mode_sends_nothing_and_writes_nothing(partner):
    connector(partner, "Adatum outbound", "mail.adatum.example", "domain_validation", "*.adatum.example",
              recipients=["postmaster@adatum.example"])
    before = delivered(partner, "adatum.example")
    queued = partner.postfix.queue_count()
    partner.reset_calls()
    result = validate(partner, "Adatum outbound", check=True)
    assert result["validated"] is True and result["service_result"] is None
    assert any("check mode" in note for note in result["notes"])
    assert delivered(partner, "adatum.example") == before and partner.postfix.queue_count() == queued
    if partner.emulator:
        calls = partner.calls()["cmdlets"]
        assert set(calls) == {"Get-OutboundConnector"}, calls


def test_fail_on_invalid_makes_it_fatal(partner):
    connector(partner, "Partner closed", "mx.closed.example", "encryption_only")
    result = validate(partner, "Partner closed", recipients=["postmaster@closed.example"], fail_on_invalid=True)
    assert result["failed"] is True and "[connect]" in result["msg"]


def test_inbound_connector_checks_the_partner_certificate(partner):
    inbound = partner.task("m365.mailflow.partner_inbound_connector", {
        "name": "Mismatch inbound", "sender_domains": ["mismatch.example"],
        "tls_sender_certificate_name": "*.mismatch.example"})
    assert not inbound.get("failed"), inbound
    result = validate(partner, "Mismatch inbound", direction="inbound")
    assert result["validated"] is False and result["failure_classes"] == ["subject_mismatch"]
    assert any("test message" in note for note in result["notes"])
    good = partner.task("m365.mailflow.partner_inbound_connector", {
        "name": "Adatum inbound", "sender_domains": ["adatum.example"], "tls_sender_certificate_name": "*.adatum.example"})
    assert not good.get("failed"), good
    assert validate(partner, "Adatum inbound", direction="inbound")["validated"] is True


def test_validate_right_after_create_waits_for_the_new_connector(partner):
    """In lag mode a connector created moments ago is not found at first (Get and Validate): the task waits."""
    partner.tenant().configure(replication_lag=15.0)  # outlasts the gap between two tasks
    run = partner.run(
        (CONNECTOR, {"name": "Adatum outbound", "recipient_domains": ["adatum.example"],
                     "smart_hosts": ["mail.adatum.example"], "tls_settings": "domain_validation",
                     "tls_domain": "*.adatum.example"}),
        (VALIDATE, dict(partner.probe_options, name="Adatum outbound", recipients=["postmaster@adatum.example"])),
        defaults={"retry_delay": 1.0})
    created, result = run.results
    assert created["action"] == "create" and not created.get("failed"), created
    assert result.get("failed") is not True, result
    assert result["validated"] is True and result["recorded"] is True, result["summary"]
    assert result["last_validation_timestamp"].endswith("Z")


@pytest.fixture
def silent_dns():
    """A UDP port on loopback that receives DNS queries and never answers."""
    import socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield "127.0.0.1:%d" % sock.getsockname()[1]
    finally:
        sock.close()


def test_a_dns_timeout_is_the_resolvers_not_a_missing_record(target, silent_dns):
    made = target.task(CONNECTOR, {"name": "Adatum outbound", "recipient_domains": ["adatum.example"],
                                   "smart_hosts": ["mail.adatum.example"], "tls_settings": "encryption_only"})
    assert not made.get("failed"), made
    result = target.task(VALIDATE, {"name": "Adatum outbound", "service_validation": False, "dns_servers": [silent_dns],
                                    "probe_timeout": 1.0, "recipients": ["postmaster@adatum.example"]})
    assert result.get("failed") is not True, result
    assert result["failure_classes"] == ["resolver_timeout"], result["failures"]
    failure = result["failures"][0]
    assert "timed out" in failure["evidence"] and "dns_servers" in failure["fix"], failure


@pytest.mark.parametrize("change,option", [
    ({"smtp_port": 0}, "smtp_port"), ({"smtp_port": 65536}, "smtp_port"), ({"probe_timeout": 0}, "probe_timeout"),
    ({"probe_timeout": -1}, "probe_timeout"), ({"dns_servers": ["127.0.0.1:0"]}, "dns_servers"),
    ({"dns_servers": ["127.0.0.1:70000"]}, "dns_servers"), ({"dns_servers": ["ns.adatum.example"]}, "dns_servers"),
], ids=["port-0", "port-65536", "timeout-0", "timeout-negative", "dns-port-0", "dns-port-70000", "dns-name"])
def test_impossible_settings_are_refused_before_any_call(emulator_target, change, option):
    result = emulator_target.task(VALIDATE, dict({"name": "Adatum outbound"}, **change))
    assert result["failed"] is True and result["msg"].startswith(option), result["msg"]
    assert emulator_target.calls()["requests"] == 0
