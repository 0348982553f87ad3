# -*- coding: utf-8 -*-
"""Replication lag, test-mode reads and unsure writes: the engine, the specs and connector_validate on a lagging
sandbox tenant whose clock the client's pauses move on (no real waiting)."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import engine, wire
from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary as vocabulary
from ansible_collections.m365.mailflow.plugins.module_utils.resources import transport_rule as rules
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import tenant as sandbox
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import store as sandbox_store
from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError, InvalidParameterError
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import OutboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTransport
from ansible_collections.m365.mailflow.plugins.module_utils.validation.connector_validation import Validation

LAG = 20.0


class Clock(object):
    def __init__(self):
        self.now = 2000000.0
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Recording(object):
    """A transport on the sandbox that records cmdlets, and can answer 503 after running a cmdlet (``after``) or
    answer 404 to one cmdlet before running it (``miss``)."""

    name = "recording"

    def __init__(self, inner):
        self.inner = inner
        self.sent = []
        self.after = {}
        self.miss = {}

    def send(self, cmdlet, parameters, next_link=None):
        self.sent.append(cmdlet)
        if self.miss.get(cmdlet):
            self.miss[cmdlet] -= 1
            return wire.json_response(404, wire.error_body(
                404, "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                "The operation couldn't be performed because object '%s' couldn't be found." % parameters.get("Identity")))
        raw = self.inner.send(cmdlet, parameters, next_link=next_link)
        if self.after.get(cmdlet):
            self.after[cmdlet] -= 1
            return wire.json_response(503, wire.error_body(503, "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                                                           "The service is temporarily unavailable."))
        return raw

    def writes(self, cmdlet=None):
        return [c for c in self.sent if not c.startswith("Get-") and (cmdlet is None or c == cmdlet)]

    def close(self):
        pass


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(sandbox_store, "time", fake)
    return fake


@pytest.fixture
def tenant(tmp_path, clock):
    transport = Recording(SandboxTransport(str(tmp_path / "tenant.db")))
    transport.inner.tenant.configure(replication_lag=LAG)
    return transport


def client_for(transport, clock, retries=5):
    """One task of a run: each gets a new Client, all share the run's memo (as the memo file does)."""
    memo = getattr(transport, "memo", None)
    client = Client(transport, retries=retries, retry_delay=1.0, sleep=clock.sleep, memo=memo)
    transport.memo = client.memo
    return client


def connector(**kwargs):
    desired = dict((f.option, None) for f in OutboundConnectorSpec.fields)
    desired.update(transport_rule_scoped=True, smart_hosts=["mail.adatum.example"], tls_settings="encryption_only")
    desired.update(kwargs)
    return desired


RULE = {"name": "Route Adatum", "state": "present", "conditions": {"recipient_domain_is": ["adatum.example"]},
        "actions": {"route_message_outbound_connector": "Adatum outbound"}}


def rule_params(**kwargs):
    params = dict((k, None) for k in vocabulary.argument_spec())
    params.update(purge_conditions=True, purge_exceptions=True, purge_actions=True, apply_to_all_messages=False)
    params.update(RULE)
    params.update(kwargs)
    return params


def create_connector(tenant, clock, **kwargs):
    return engine.ensure(client_for(tenant, clock), OutboundConnectorSpec(), "Adatum outbound", "present", connector(**kwargs))


def test_rule_routing_to_a_connector_created_moments_ago_waits_for_it(tenant, clock):
    assert create_connector(tenant, clock).action == "create"
    result = rules.ensure_rule(client_for(tenant, clock), rule_params())
    assert result["changed"] is True and result["action"] == "create", result
    assert result["rule"]["actions"]["route_message_outbound_connector"] == "Adatum outbound"
    assert len(tenant.writes("New-TransportRule")) > 1  # refused while the connector replicates, then accepted
    assert clock.sleeps == sorted(clock.sleeps) and len(set(clock.sleeps)) > 1  # growing pauses


def test_set_right_after_new_waits_for_the_new_object(tenant, clock):
    outcome = create_connector(tenant, clock, validation_recipients=["postmaster@adatum.example"])
    assert outcome.action == "create" and [c["cmdlet"] for c in outcome.commands] == [
        "New-OutboundConnector", "Set-OutboundConnector"]
    assert len(tenant.writes("Set-OutboundConnector")) > 1
    clock.now += LAG
    assert OutboundConnectorSpec().read(client_for(tenant, clock), "Adatum outbound")["ValidationRecipients"] == [
        "postmaster@adatum.example"]


def test_removing_a_rule_then_its_connector_back_to_back(tenant, clock):
    tenant.inner.tenant.configure(replication_lag=0)
    create_connector(tenant, clock)
    rules.ensure_rule(client_for(tenant, clock), rule_params())
    tenant.inner.tenant.configure(replication_lag=LAG)
    assert rules.ensure_rule(client_for(tenant, clock), rule_params(state="absent"))["action"] == "delete"
    gone = engine.ensure(client_for(tenant, clock), OutboundConnectorSpec(), "Adatum outbound", "absent", {})
    assert gone.action == "delete" and gone.changed
    assert len(tenant.writes("Remove-OutboundConnector")) > 1  # "still referenced" while the removal replicates


def test_a_lag_error_for_an_object_we_did_not_create_fails_at_once(tenant, clock):
    client = client_for(tenant, clock)
    client.invoke("New-OutboundConnector", {"Name": "Adatum outbound", "IsTransportRuleScoped": True, "UseMXRecord": False,
                                            "SmartHosts": ["mail.adatum.example"]}, write=True)  # not through the engine
    with pytest.raises(ConfigurationError) as exc:
        rules.ensure_rule(client_for(tenant, clock), rule_params())
    assert "does not exist" in exc.value.msg and "moments ago" in exc.value.msg
    assert tenant.writes("New-TransportRule") == [] and clock.sleeps == []


def test_still_referenced_by_a_rule_removed_outside_this_run_is_not_retried(tenant, clock):
    tenant.inner.tenant.configure(replication_lag=0)
    create_connector(tenant, clock)
    rules.ensure_rule(client_for(tenant, clock), rule_params())
    tenant.inner.tenant.configure(replication_lag=LAG)
    client_for(tenant, clock).invoke("Remove-TransportRule", {"Identity": "Route Adatum", "Confirm": False}, write=True)
    with pytest.raises(InvalidParameterError) as exc:
        engine.ensure(client_for(tenant, clock), OutboundConnectorSpec(), "Adatum outbound", "absent", {})
    assert "StillReferenced" in exc.value.exception_type and "replication" not in exc.value.msg
    assert len(tenant.writes("Remove-OutboundConnector")) == 1 and clock.sleeps == []


def test_when_the_wait_runs_out_the_failure_says_replication_and_what_to_do(tenant, clock):
    tenant.inner.tenant.configure(replication_lag=10000)
    create_connector(tenant, clock)
    with pytest.raises(InvalidParameterError) as exc:
        rules.ensure_rule(client_for(tenant, clock, retries=2), rule_params())
    assert "replication delay" in exc.value.msg and "re-run" in exc.value.msg and "retries" in exc.value.msg
    assert len(tenant.writes("New-TransportRule")) == 3


def test_connector_validate_right_after_create(tenant, clock, monkeypatch):
    tree = {"TaskName": "Validate", "IsTaskSuccessful": True, "TaskDetail": "ok", "SubTaskResults": []}
    monkeypatch.setattr(sandbox, "service_validation", lambda *args, **kwargs: tree)
    create_connector(tenant, clock, validation_recipients=["postmaster@adatum.example"])
    params = {"name": "Adatum outbound", "direction": "outbound", "recipients": None, "service_validation": True,
              "probe": False, "record": True, "smtp_port": 25, "dns_servers": None, "probe_ca_path": None,
              "probe_timeout": 10.0}
    tenant.miss["Validate-OutboundConnector"] = 1  # visible to Get first, not yet to Validate (another replica)
    result = Validation(client_for(tenant, clock), params, False).run()
    assert result["validated"] is True and result["recorded"] is True, result
    assert tenant.writes("Validate-OutboundConnector") == ["Validate-OutboundConnector"] * 2
    assert result["last_validation_timestamp"].endswith("Z")


def test_connector_validate_of_a_connector_we_did_not_create_is_not_waited_for(tenant, clock):
    client = client_for(tenant, clock)
    client.invoke("New-OutboundConnector", {"Name": "Adatum outbound", "IsTransportRuleScoped": True}, write=True)
    params = {"name": "Adatum outbound", "direction": "outbound", "recipients": ["a@adatum.example"],
              "service_validation": True, "probe": False, "record": True, "smtp_port": 25, "dns_servers": None,
              "probe_ca_path": None, "probe_timeout": 10.0}
    with pytest.raises(ConfigurationError) as exc:
        Validation(client_for(tenant, clock), params, False).run()
    assert "does not exist" in exc.value.msg and clock.sleeps == []


def test_create_answered_503_after_it_ran_is_reported_as_the_create_it_was(tenant, clock):
    tenant.after["New-OutboundConnector"] = 1  # runs, then 503; the read-back misses it; the resend says duplicate
    outcome = create_connector(tenant, clock, validation_recipients=["postmaster@adatum.example"])
    assert outcome.changed is True and outcome.action == "create"
    assert outcome.after["validation_recipients"] == ["postmaster@adatum.example"]
    assert [c["cmdlet"] for c in outcome.commands] == ["New-OutboundConnector", "Set-OutboundConnector"]
    clock.now += LAG
    client = client_for(tenant, clock)
    assert len(client.invoke("Get-OutboundConnector", {"IncludeTestModeConnectors": True})) == 1
    again = engine.ensure(client, OutboundConnectorSpec(), "Adatum outbound", "present",
                          connector(validation_recipients=["postmaster@adatum.example"]))
    assert again.action == "none"


def test_remove_answered_503_after_it_ran_then_not_found_is_the_delete_it_was(tenant, clock):
    tenant.inner.tenant.configure(replication_lag=0)
    create_connector(tenant, clock)
    tenant.after["Remove-OutboundConnector"] = 1  # removed, then 503 ...
    spec = OutboundConnectorSpec()
    stale = [spec.read(client_for(tenant, clock), "Adatum outbound")]
    original = spec.read
    calls = []

    def lagging_read(client, name):  # ... and the read-back still shows it (a lagging replica)
        calls.append(name)
        return stale[0] if len(calls) == 2 else original(client, name)

    spec.read = lagging_read
    outcome = engine.ensure(client_for(tenant, clock), spec, "Adatum outbound", "absent", {})
    assert outcome.changed is True and outcome.action == "delete"
    assert tenant.writes("Remove-OutboundConnector") == ["Remove-OutboundConnector"] * 2


def test_remove_of_an_object_someone_else_removed_meanwhile_is_already_absent(tenant, clock):
    tenant.inner.tenant.configure(replication_lag=0)
    create_connector(tenant, clock)
    spec = OutboundConnectorSpec()
    other = Client(tenant, retry_delay=0.0, sleep=clock.sleep)  # another run: its memo knows nothing
    tenant.miss["Remove-OutboundConnector"] = 1
    outcome = engine.ensure(other, spec, "Adatum outbound", "absent", {})
    assert outcome.changed is False and outcome.action == "none"


def test_test_mode_warning_is_not_passed_on_and_one_read_finds_either_kind(tmp_path):
    client = Client(SandboxTransport(str(tmp_path / "t.db")), retry_delay=0.0, sleep=lambda s: None)
    spec = OutboundConnectorSpec()
    engine.ensure(client, spec, "Trial", "present", connector(test_mode=True))
    engine.ensure(client, spec, "Normal", "present", connector())
    for name in ("Trial", "Normal"):
        read = Client(client.transport, retry_delay=0.0, sleep=lambda s: None)
        assert spec.read(read, name)["Name"] == name
        assert [c["cmdlet"] for c in read.calls] == ["Get-OutboundConnector"] and read.warnings == []
    read = Client(client.transport, retry_delay=0.0, sleep=lambda s: None)
    assert rules.TransportRuleSpec().check_connector(read, "Trial") is None and read.warnings == []
    plain = read.invoke("Get-OutboundConnector")
    assert [o["Name"] for o in plain] == ["Normal"] and any("test mode connector" in w for w in read.warnings)


def test_only_test_mode_connectors_need_the_plain_read_too_and_its_warning_is_dropped(tmp_path):
    client = Client(SandboxTransport(str(tmp_path / "t.db")), retry_delay=0.0, sleep=lambda s: None)
    spec = OutboundConnectorSpec()
    engine.ensure(client, spec, "Trial", "present", connector(test_mode=True))
    read = Client(client.transport, retry_delay=0.0, sleep=lambda s: None)
    assert spec.read(read, "Nothing") is None  # the $true answer holds only test-mode ones: a plain read follows
    assert [c["parameters"] for c in read.calls] == [{"IncludeTestModeConnectors": True}, {}]
    assert read.warnings == []


def test_validate_refuses_impossible_settings_before_any_call(tmp_path):
    transport = Recording(SandboxTransport(str(tmp_path / "t.db")))
    client = Client(transport, retry_delay=0.0, sleep=lambda s: None)
    base = {"name": "X", "direction": "outbound", "recipients": None, "service_validation": True, "probe": True,
            "record": True, "smtp_port": 25, "dns_servers": None, "probe_ca_path": None, "probe_timeout": 10.0}
    for change, words in [
        ({"smtp_port": 0}, ("smtp_port", "1 to 65535")),
        ({"smtp_port": 70000}, ("smtp_port", "1 to 65535")),
        ({"probe_timeout": 0.0}, ("probe_timeout", "positive")),
        ({"probe_timeout": -2.5}, ("probe_timeout", "positive")),
        ({"dns_servers": ["192.0.2.53:0"]}, ("dns_servers", "1 to 65535")),
        ({"dns_servers": ["192.0.2.53:99999"]}, ("dns_servers", "1 to 65535")),
        ({"dns_servers": ["dns.example"]}, ("dns_servers", "not an IP address")),
        ({"dns_servers": ["300.1.1.1"]}, ("dns_servers", "not an IP address")),
        ({"dns_servers": ["[2001:db8::53]:x"]}, ("dns_servers", "port")),
    ]:
        with pytest.raises(ConfigurationError) as exc:
            Validation(client, dict(base, **change), False).run()
        assert all(word in exc.value.msg for word in words), exc.value.msg
    assert transport.sent == []
    for good in (["192.0.2.53"], ["192.0.2.53:5353"], ["[2001:db8::53]:53"], ["2001:db8::53"]):
        with pytest.raises(ConfigurationError) as exc:
            Validation(client, dict(base, dns_servers=good), False).run()
        assert "does not exist" in exc.value.msg  # got past the checks to the read


def test_last_validation_timestamp_is_shown_in_utc(tmp_path):
    from ansible_collections.m365.mailflow.plugins.module_utils import values as n
    assert n.utc_timestamp("2026-07-24T18:59:12.0000000") == "2026-07-24T18:59:12Z"  # live form: no offset, UTC
    assert n.utc_timestamp("2026-07-24T20:59:12+02:00") == "2026-07-24T18:59:12Z"
    assert n.utc_timestamp(None) is None
    client = Client(SandboxTransport(str(tmp_path / "t.db")), retry_delay=0.0, sleep=lambda s: None)
    spec = OutboundConnectorSpec()
    made = engine.ensure(client, spec, "O", "present", connector())
    client.invoke("Set-OutboundConnector", {"Identity": "O", "LastValidationTimestamp": "2026-07-24T18:59:12"}, write=True)
    raw = spec.read(client, "O")
    assert raw["LastValidationTimestamp"] == "2026-07-24T18:59:12.0000000" and made.action == "create"
    assert spec.view(raw)["last_validation_timestamp"] == "2026-07-24T18:59:12Z"


def test_memo_records_writes_in_the_engine_only(tenant, clock):
    create_connector(tenant, clock)
    memo = tenant.memo
    assert memo.recent("outbound connector", "adatum OUTBOUND", ("create",))
    assert not memo.recent("mail flow rule", "Route Adatum")
    rules.ensure_rule(client_for(tenant, clock), rule_params())
    assert memo.recent("mail flow rule", "Route Adatum", ("create",))
    rules.ensure_rule(client_for(tenant, clock), rule_params(state="absent"))
    assert memo.recent("mail flow rule", "Route Adatum", ("delete",))
    assert engine.released_recently(client_for(tenant, clock), "outbound connector", "Adatum outbound")


class StaleRules(Recording):
    """Get-TransportRule still lists the rules in ``stale`` (a lagging replica)."""

    def __init__(self, inner):
        super(StaleRules, self).__init__(inner)
        self.stale = []

    def send(self, cmdlet, parameters, next_link=None):
        raw = super(StaleRules, self).send(cmdlet, parameters, next_link=next_link)
        if cmdlet != "Get-TransportRule" or not self.stale:
            return raw
        objects = wire.parse_response(raw, cmdlet).objects + [dict(r) for r in self.stale]
        return wire.json_response(200, wire.success_body(objects))


@pytest.mark.parametrize("ours", [True, False], ids=["removed-by-this-run", "removed-elsewhere"])
def test_outbound_guard_and_a_lagging_rule_list(tmp_path, clock, ours):
    tenant = StaleRules(SandboxTransport(str(tmp_path / "tenant.db")))
    create_connector(tenant, clock)
    rules.ensure_rule(client_for(tenant, clock), rule_params())
    client = client_for(tenant, clock)
    stale = [r for r in client.invoke("Get-TransportRule") if r["Name"] == "Route Adatum"]
    tenant.inner.tenant.configure(replication_lag=LAG)
    if ours:
        rules.ensure_rule(client_for(tenant, clock), rule_params(state="absent"))
    else:
        client.invoke("Remove-TransportRule", {"Identity": "Route Adatum", "Confirm": False}, write=True)
    tenant.stale = stale
    if ours:
        gone = engine.ensure(client_for(tenant, clock), OutboundConnectorSpec(), "Adatum outbound", "absent", {})
        assert gone.action == "delete" and len(tenant.writes("Remove-OutboundConnector")) > 1
    else:
        with pytest.raises(ConfigurationError) as exc:
            engine.ensure(client_for(tenant, clock), OutboundConnectorSpec(), "Adatum outbound", "absent", {})
        assert "still route" in exc.value.msg and tenant.writes("Remove-OutboundConnector") == []


def test_a_rule_this_run_changed_but_that_still_routes_keeps_the_refusal(tenant, clock):
    tenant.inner.tenant.configure(replication_lag=0)
    create_connector(tenant, clock)
    rules.ensure_rule(client_for(tenant, clock), rule_params())
    rules.ensure_rule(client_for(tenant, clock), rule_params(name="Second route", conditions={
        "recipient_domain_is": ["second.example"]}))
    tenant.inner.tenant.configure(replication_lag=LAG)
    rules.ensure_rule(client_for(tenant, clock), rule_params(state="absent"))  # releases the connector ...
    rules.ensure_rule(client_for(tenant, clock), rule_params(name="Second route", comments="still routing", conditions={
        "recipient_domain_is": ["second.example"]}))  # ... this one still routes to it
    with pytest.raises(ConfigurationError) as exc:
        engine.ensure(client_for(tenant, clock), OutboundConnectorSpec(), "Adatum outbound", "absent", {})
    assert "'Second route'" in exc.value.msg and "Route Adatum" not in exc.value.msg
    assert tenant.writes("Remove-OutboundConnector") == []
