# -*- coding: utf-8 -*-
"""Mail flow rules: the key table, normalisation, position arithmetic, pre-flight errors and the whole flow."""

from __future__ import absolute_import, division, print_function

import datetime

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary as vocabulary
from ansible_collections.m365.mailflow.plugins.module_utils import values as rule_values
from ansible_collections.m365.mailflow.plugins.module_utils import fields
from ansible_collections.m365.mailflow.plugins.module_utils.resources import transport_rule as rules
from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError


def options(**kwargs):
    """Module options as AnsibleModule would give them (sections filled with None for unset keys)."""
    params = dict((k, None) for k in vocabulary.argument_spec())
    params.update(state="present", purge_conditions=True, purge_exceptions=True, purge_actions=True,
                  apply_to_all_messages=False)
    for section in vocabulary.SECTIONS:
        given = kwargs.pop(section, None)
        if given is not None:
            full = dict((k, None) for k in vocabulary.section_argument_spec(section))
            full.update(given)
            given = full
        params[section] = given
    params.update(kwargs)
    return params


# --------------------------------------------------------------------------- table and normalisation

def test_table_maps_keys_to_parameters():
    assert vocabulary.BY_PATH["conditions.sender_ad_attribute_contains_words"].param == "SenderADAttributeContainsWords"
    assert vocabulary.BY_PATH["exceptions.sender_ip_ranges"].param == "ExceptIfSenderIpRanges"
    assert vocabulary.BY_PATH["conditions.header_contains"].params == ("HeaderContainsMessageHeader", "HeaderContainsWords")
    assert vocabulary.BY_PATH["exceptions.header_contains"].params == ("ExceptIfHeaderContainsMessageHeader",
                                                                       "ExceptIfHeaderContainsWords")
    assert vocabulary.BY_PATH["actions.set_header"].params == ("SetHeaderName", "SetHeaderValue")
    assert vocabulary.BY_PATH["actions.reject_message"].params == ("RejectMessageReasonText", "RejectMessageEnhancedStatusCode")
    for section in vocabulary.SECTIONS:
        assert set(vocabulary.section_argument_spec(section)) == set(p.option for p in vocabulary.TABLE if p.section == section)
    # every parameter belongs to exactly one key
    params = [param for p in vocabulary.TABLE for param in p.params]
    assert len(params) == len(set(x.lower() for x in params))


@pytest.mark.parametrize("path,desired,read_back", [
    ("conditions.recipient_domain_is", ["Adatum.Example", "fabrikam.example"], ["fabrikam.example", "adatum.example"]),
    ("conditions.subject_contains_words", ["Invoice", "PAYMENT"], ["payment", "invoice"]),
    ("conditions.sender_ip_ranges", ["192.0.2.1", "198.51.100.0/24"], ["198.51.100.0/24", "192.0.2.1/32"]),
    ("conditions.sender_ad_attribute_contains_words", ["department:accounting,Finance"], ["Department:Finance,Accounting"]),
    ("conditions.from_scope", "not_in_organization", "NotInOrganization"),
    ("actions.route_message_outbound_connector", "adatum OUTBOUND", "Adatum outbound"),
    ("actions.set_scl", "5", 5),
    ("activation_date", "2026-07-01T10:00:00+02:00", "2026-07-01T08:00:00.0000000+00:00"),
    ("expiry_date", "2026-08-01", "2026-08-01T00:00:00"),
    ("mode", "audit_and_notify", "AuditAndNotify"),
])
def test_equal_values_compare_equal(path, desired, read_back):
    prop = vocabulary.BY_PATH[path]
    obj = dict((p, read_back) for p in prop.params) if len(prop.params) == 1 else {}
    assert not prop.differs(desired, prop.current(obj)), (desired, prop.current(obj))


def test_pairs_compare_and_send_together():
    header = vocabulary.BY_PATH["conditions.header_contains"]
    obj = {"HeaderContainsMessageHeader": "X-Partner", "HeaderContainsWords": ["Adatum"]}
    assert header.current(obj) == {"header": "X-Partner", "words": ["Adatum"]}
    assert not header.differs({"header": "x-partner", "words": ["adatum"]}, header.current(obj))
    assert header.differs({"header": "X-Other", "words": ["adatum"]}, header.current(obj))
    assert header.to_params({"header": "X-Partner", "words": ["b"]}) == {
        "HeaderContainsMessageHeader": "X-Partner", "HeaderContainsWords": ["b"]}
    assert header.to_params({}) == {"HeaderContainsMessageHeader": None, "HeaderContainsWords": None}
    reject = vocabulary.BY_PATH["actions.reject_message"]
    stored = reject.current({"RejectMessageReasonText": "No", "RejectMessageEnhancedStatusCode": "5.7.1"})
    # a status code the user left to the service's default is not compared and not sent
    assert not reject.differs({"reason": "No", "status_code": None}, stored)
    assert reject.to_params({"reason": "Go away", "status_code": None}) == {"RejectMessageReasonText": "Go away"}


def test_flags_and_clearing():
    stop = vocabulary.BY_PATH["actions.stop_rule_processing"]
    assert stop.current({"StopRuleProcessing": False}) is None
    assert stop.current({"StopRuleProcessing": True}) is True
    assert stop.to_params(False) == {"StopRuleProcessing": False}
    words = vocabulary.BY_PATH["conditions.subject_contains_words"]
    assert words.current({"SubjectContainsWords": []}) is None
    assert words.to_params([]) == {"SubjectContainsWords": None}
    assert vocabulary.BY_PATH["comments"].to_params("") == {"Comments": None}


def test_dates_are_sent_in_utc_without_zone():
    assert rule_values.date_wire("2026-07-01T10:00+02:00") == "2026-07-01T08:00:00"
    assert rule_values.date_wire("2026-07-01") == "2026-07-01T00:00:00"
    assert rule_values.date_display("2026-07-01T08:00:00.0000000+00:00") == "2026-07-01T08:00:00Z"
    assert rule_values.parse_date("2026-07-01T08:00:00.123Z") is None  # fractions are not user input
    assert rule_values.parse_date("2026-13-01") is None
    assert rule_values.parse_date("/Date(0)/", strict=False) == datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


# --------------------------------------------------------------------------- desired state

def test_purge_applies_only_to_given_sections():
    desired = vocabulary.desired_state(options(conditions={"recipient_domain_is": ["adatum.example"]}))
    assert desired["conditions.recipient_domain_is"] == ["adatum.example"]
    assert desired["conditions.sender_ip_ranges"] == []  # purged
    assert desired["conditions.header_contains"] == {}
    assert "actions.set_header" not in desired  # actions not given: unmanaged
    kept = vocabulary.desired_state(options(conditions={"recipient_domain_is": ["a.example"]}, purge_conditions=False))
    assert kept["conditions.sender_ip_ranges"] is None
    flags = vocabulary.desired_state(options(actions={"prepend_subject": "x"}))
    assert flags["actions.stop_rule_processing"] is False


def test_unknown_key_names_the_section_and_extra_parameters():
    with pytest.raises(ConfigurationError) as err:
        vocabulary.desired_state(options(conditions={"sender_is_nice": True}))
    assert "conditions.sender_is_nice: unknown key 'sender_is_nice'" in err.value.msg and "extra_parameters" in err.value.msg


def test_nest_builds_option_form():
    flat = {"name": "R", "priority": 2, "enabled": True, "conditions.from": None,
            "conditions.recipient_domain_is": ["a.example"], "actions.set_header": {"name": "X", "value": "1"}}
    assert vocabulary.nest(flat) == {"name": "R", "priority": 2, "enabled": True, "conditions": {"recipient_domain_is": ["a.example"]},
                                     "actions": {"set_header": {"name": "X", "value": "1"}}}


# --------------------------------------------------------------------------- position arithmetic

def spec_with(*names):
    spec = rules.TransportRuleSpec()
    spec.rules = [{"Name": name, "Guid": "g-%s" % name, "Priority": index} for index, name in enumerate(names)]
    return spec


def rule(spec, name):
    return [r for r in spec.rules if r["Name"] == name][0]


@pytest.mark.parametrize("position,new,existing_c", [
    ("top", 0, 0),
    ("bottom", 4, 3),
    ({"before": "A"}, 0, 0),
    ({"before": "B"}, 1, 1),
    ({"before": "D"}, 3, 2),  # C is directly before D already: no move
    ({"after": "A"}, 1, 1),
    ({"after": "B"}, 2, 2),  # C is directly after B already
    ({"after": "D"}, 4, 3),
    ({"before": "d"}, 3, 2),  # names are case-insensitive
])
def test_position_targets(position, new, existing_c):
    spec = spec_with("A", "B", "C", "D")
    assert spec.target_priority({"position": position}, None) == new
    assert spec.target_priority({"position": position}, rule(spec, "C")) == existing_c


def test_position_that_holds_is_no_change():
    spec = spec_with("A", "B", "C", "D")
    current = dict(rule(spec, "C"), State="Enabled")
    assert spec.changes({"position": {"before": "D"}}, current) == {}
    assert spec.changes({"position": {"after": "B"}}, current) == {}
    assert spec.changes({"position": "top"}, current) == {"priority": 0}
    assert spec.changes({"priority": 2}, current) == {}
    assert spec.changes({"priority": 3}, current) == {"priority": 3}


def test_priority_out_of_range_and_missing_anchor():
    spec = spec_with("A", "B")
    with pytest.raises(ConfigurationError) as err:
        spec.target_priority({"priority": 2}, rule(spec, "B"))
    assert "priority: 2 is out of range" in err.value.msg and "0 (first) to 1" in err.value.msg
    assert spec.target_priority({"priority": 2}, None) == 2  # a new rule may be appended
    with pytest.raises(ConfigurationError) as err:
        spec.target_priority({"position": {"after": "Nope"}}, None)
    assert "no mail flow rule named 'Nope'" in err.value.msg


def test_shift_prediction():
    spec = spec_with("A", "B", "C", "D")
    spec.snapshot = spec.priorities()
    assert spec.shifted("New", "create", 1, predicted=True) == [
        {"name": "B", "before": 1, "after": 2}, {"name": "C", "before": 2, "after": 3},
        {"name": "D", "before": 3, "after": 4}]
    assert spec.shifted("D", "update", 0, predicted=True) == [
        {"name": "A", "before": 0, "after": 1}, {"name": "B", "before": 1, "after": 2},
        {"name": "C", "before": 2, "after": 3}]
    assert spec.shifted("B", "delete", None, predicted=True) == [
        {"name": "C", "before": 2, "after": 1}, {"name": "D", "before": 3, "after": 2}]
    assert spec.shifted("B", "none", 1, predicted=False) == []


# --------------------------------------------------------------------------- pre-flight

BAD = [
    ({"name": "x" * 65}, "name: 65 characters is too long"),
    ({"comments": "c" * 1025}, "comments: 1025 characters is too long"),
    ({"priority": 1, "position": "top"}, "priority and position are both set"),
    ({"priority": -1}, "priority: -1 is negative"),
    ({"position": "middle"}, "position: 'middle' is not a position"),
    ({"position": {"before": "R"}}, "cannot be placed before itself"),
    ({"conditions": {"sender_ip_ranges": ["192.0.2.300"]}}, "conditions.sender_ip_ranges: '192.0.2.300'"),
    ({"conditions": {"sender_ip_ranges": ["192.0.2.9-192.0.2.1"]}}, "not an ascending range"),
    ({"exceptions": {"sender_ip_ranges": ["nope"]}}, "exceptions.sender_ip_ranges"),
    ({"actions": {"set_scl": 10}}, "actions.set_scl: '10' is not a spam confidence level"),
    ({"actions": {"set_scl": "high"}}, "from -1 (bypass spam filtering) to 9"),
    ({"actions": {"reject_message": {"reason": "no", "status_code": "5.1.1"}}},
     "actions.reject_message.status_code: '5.1.1'"),
    ({"conditions": {"header_contains": {"header": "X-A", "words": None}}},
     "conditions.header_contains: words missing; header and words must be given together"),
    ({"actions": {"set_header": {"name": None, "value": "1"}}}, "actions.set_header: name missing"),
    ({"activation_date": "2026-08-01", "expiry_date": "2026-07-01"}, "expiry_date: 2026-07-01T00:00:00Z is not after"),
    ({"activation_date": "1st of July"}, "activation_date: '1st of July' is not a date; write YYYY-MM-DD"),
    ({"expiry_date": "2026-07-01T25:00"}, "expiry_date: '2026-07-01T25:00' is not a date"),
    ({"conditions": {"sender_ad_attribute_contains_words": ["Accounting"]}}, "is not 'Attribute:word1,word2'"),
    ({"conditions": {"sender_ad_attribute_contains_words": ["Dept:Accounting"]}}, "'Dept' is not an attribute"),
    ({"conditions": {"recipient_domain_is": ["*.adatum.example"]}}, "conditions.recipient_domain_is"),
    ({"extra_parameters": {"SenderIpRanges": ["192.0.2.1"]}}, "use conditions.sender_ip_ranges instead"),
    ({"extra_parameters": {"ExceptIfFromScope": "InOrganization"}}, "use exceptions.from_scope instead"),
    ({"extra_parameters": {"Priority": 1}}, "use the module option priority or position instead"),
    ({"extra_parameters": {"Bad Name": 1}}, "is not a cmdlet parameter name"),
]


class NoCalls(object):
    name = "none"

    def send(self, cmdlet, parameters, next_link=None):
        raise AssertionError("no call expected, got %s" % cmdlet)

    def close(self):
        pass


@pytest.mark.parametrize("change,fragment", BAD, ids=[b[1][:40] for b in BAD])
def test_bad_input_fails_before_any_call(change, fragment):
    params = options(name="R", conditions={"recipient_domain_is": ["adatum.example"]})
    change = dict(change)
    for section in vocabulary.SECTIONS:
        if section in change:
            full = dict((k, None) for k in vocabulary.section_argument_spec(section))
            full.update(change.pop(section))
            params[section] = full
    params.update(change)
    client = Client(NoCalls(), retry_delay=0, sleep=lambda s: None)
    with pytest.raises(ConfigurationError) as err:
        rules.ensure_rule(client, params)
    assert fragment in err.value.msg, err.value.msg
    assert client.calls == []


def test_a_rule_larger_than_the_service_allows_fails_before_any_call():
    """8 KB for the conditions, exceptions and actions of one rule (service limits); 2,000 words are more than that in
    their text alone. The sandbox refused it only when it was written, in cmdlet words."""
    words = ["word%04d" % i for i in range(2000)]
    client = Client(NoCalls(), retry_delay=0, sleep=lambda s: None)
    with pytest.raises(ConfigurationError) as err:
        rules.ensure_rule(client, options(name="R", conditions={"subject_contains_words": words}))
    assert err.value.msg.startswith("conditions.subject_contains_words: the values of this rule's conditions, "
                                    "exceptions and actions take 16000 bytes"), err.value.msg
    assert client.calls == []
    # the limit is on the values of the rule, not on one list: just under it passes the pre-flight
    assert rules.TransportRuleSpec._size_error({"conditions.subject_contains_words": words[:1024]}) is None


# --------------------------------------------------------------------------- the whole flow on a small fake tenant

class FakeRulesTenant(object):
    """Just enough of Exchange Online's transport rules and outbound connectors to drive the flow.

    (The integration tests run the same flows against the real sandbox tenant and the HTTPS emulator.)
    """

    name = "fake"

    def __init__(self, documented=True):
        self.rules = []
        self.connectors = []
        self.recipients = []
        self.sent = []
        # Get-OutboundConnector -IncludeTestModeConnectors: the cmdlet page's semantics (True returns only test-mode
        # connectors, a plain Get only the others) or the observed ones (True returns all; live_evidence.md).
        self.documented = documented

    def add_recipient(self, name, primary, alias=None, display=None, kind="UserMailbox", secondary=()):
        self.recipients.append({"Name": name, "Alias": alias or name, "DisplayName": display or name,
                                "PrimarySmtpAddress": primary, "RecipientType": kind, "RecipientTypeDetails": kind,
                                "EmailAddresses": ["SMTP:" + primary] + ["smtp:" + a for a in secondary]})

    def add_connector(self, name, enabled=True, scoped=True, test_mode=False):
        self.connectors.append({"Name": name, "Guid": "c-" + name, "Enabled": enabled, "IsTransportRuleScoped": scoped,
                                "TestMode": test_mode})

    def _find(self, identity):
        return [r for r in self.rules if identity.lower() in (r["Name"].lower(), r["Guid"].lower())][0]

    def _place(self, rule, priority):
        order = sorted((r for r in self.rules if r is not rule), key=lambda r: r["Priority"])
        order.insert(len(order) if priority is None else priority, rule)
        for index, item in enumerate(order):
            item["Priority"] = index

    def send(self, cmdlet, parameters, next_link=None):
        from ansible_collections.m365.mailflow.plugins.module_utils import wire
        params = dict(parameters or {})
        self.sent.append((cmdlet, params))
        objects = []
        if cmdlet == "Get-TransportRule":
            objects = [dict(r) for r in sorted(self.rules, key=lambda r: r["Priority"])]
        elif cmdlet == "Get-Recipient":
            wanted = params["Identity"].lower()
            objects = [dict(r) for r in self.recipients
                       if wanted in [r[k].lower() for k in ("Name", "Alias", "DisplayName")]
                       + [a.split(":", 1)[1].lower() for a in r["EmailAddresses"]]]
            if not objects:
                return wire.json_response(404, wire.error_body(
                    404, "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                    "The operation couldn't be performed because object '%s' couldn't be found." % params["Identity"]))
        elif cmdlet == "Get-OutboundConnector":
            test_mode = bool(params.get("IncludeTestModeConnectors"))
            objects = [dict(c) for c in self.connectors
                       if c["TestMode"] == test_mode or (test_mode and not self.documented)]
        elif cmdlet == "New-TransportRule":
            new = {"Name": params.pop("Name"), "Guid": "g-%d" % len(self.sent), "Mode": "Enforce", "Priority": None,
                   "State": "Enabled" if params.pop("Enabled", True) else "Disabled"}
            new["Identity"] = new["Name"]
            priority = params.pop("Priority", None)
            new.update(params)
            self.rules.append(new)
            self._place(new, priority)
            objects = [dict(new)]
        elif cmdlet == "Set-TransportRule":
            found = self._find(params.pop("Identity"))
            if "Priority" in params:
                self._place(found, params.pop("Priority"))
            found.update(params)
        elif cmdlet in ("Enable-TransportRule", "Disable-TransportRule"):
            self._find(params["Identity"])["State"] = "Enabled" if cmdlet.startswith("Enable") else "Disabled"
        elif cmdlet == "Remove-TransportRule":
            self.rules.remove(self._find(params["Identity"]))
            for index, item in enumerate(sorted(self.rules, key=lambda r: r["Priority"])):
                item["Priority"] = index
        else:
            raise AssertionError(cmdlet)
        return wire.json_response(200, wire.success_body(objects))

    def writes(self):
        return [c for c, _p in self.sent if not c.startswith("Get-")]

    def close(self):
        pass


@pytest.fixture
def tenant():
    return FakeRulesTenant()


def run(tenant, args=None, check_mode=False, diff_mode=True, **kwargs):
    client = Client(tenant, retry_delay=0, sleep=lambda s: None)
    params = dict(args or {}, **kwargs)
    params.setdefault("name", "Route Accounting")
    return rules.ensure_rule(client, options(**params), check_mode=check_mode, diff_mode=diff_mode)


ROUTE = dict(conditions={"sender_ad_attribute_contains_words": ["Department:Accounting"],
                         "recipient_domain_is": ["adatum.example"]},
             actions={"route_message_outbound_connector": "Adatum outbound"})


def test_flow_create_noop_update_clear_move_disable_delete(tenant):
    tenant.add_connector("Adatum outbound", test_mode=True)  # only visible with IncludeTestModeConnectors
    run(tenant, name="First", conditions={"sender_domain_is": ["a.example"]})
    run(tenant, name="Second", conditions={"sender_domain_is": ["b.example"]})

    created = run(tenant, ROUTE, position={"before": "Second"})
    assert created["action"] == "create" and created["priority"] == 1, created
    assert created["shifted_rules"] == [{"name": "Second", "before": 1, "after": 2}]
    assert created["rule"]["conditions"] == ROUTE["conditions"]
    assert created["rule"]["actions"] == {"route_message_outbound_connector": "Adatum outbound"}
    assert created["commands"][0]["parameters"]["Priority"] == 1
    assert sorted(created["changed_properties"]) == sorted([
        "actions.route_message_outbound_connector", "conditions.recipient_domain_is",
        "conditions.sender_ad_attribute_contains_words", "priority"])

    # no-op: one read, no write; the position still holds; case differences are no change
    tenant.sent[:] = []
    same = dict(ROUTE, conditions={"sender_ad_attribute_contains_words": ["department:ACCOUNTING"],
                                   "recipient_domain_is": ["Adatum.Example"]})
    noop = run(tenant, same, position={"before": "Second"})
    assert noop["changed"] is False and noop["commands"] == [] and noop["shifted_rules"] == []
    assert [c for c, _p in tenant.sent] == ["Get-TransportRule"]

    # check mode: predicted, zero writes
    tenant.sent[:] = []
    change = dict(ROUTE, conditions=dict(ROUTE["conditions"], sender_ip_ranges=["192.0.2.0/24"]), enabled=False)
    checked = run(tenant, change, check_mode=True)
    assert checked["changed"] is True and tenant.writes() == []
    assert checked["changed_properties"] == ["conditions.sender_ip_ranges", "enabled"]
    assert checked["diff"]["before"] == {"enabled": True, "conditions": {"sender_ip_ranges": None}}
    assert checked["diff"]["after"] == {"enabled": False, "conditions": {"sender_ip_ranges": ["192.0.2.0/24"]}}
    assert [c["cmdlet"] for c in checked["commands"]] == ["Set-TransportRule", "Disable-TransportRule"]

    updated = run(tenant, change)
    assert tenant.writes() == ["Set-TransportRule", "Disable-TransportRule"]
    assert updated["commands"][0]["parameters"] == {"Identity": updated["rule"]["guid"],
                                                    "SenderIpRanges": ["192.0.2.0/24"]}
    assert updated["rule"]["enabled"] is False
    assert run(tenant, change)["changed"] is False

    # clearing by purge: the condition left out is sent as null
    cleared = run(tenant, ROUTE)
    assert cleared["commands"][0]["parameters"] == {"Identity": cleared["rule"]["guid"], "SenderIpRanges": None}
    assert "sender_ip_ranges" not in cleared["rule"]["conditions"]

    # move to the top, then after Second
    top = run(tenant, ROUTE, position="top")
    assert top["priority"] == 0 and top["shifted_rules"] == [{"name": "First", "before": 0, "after": 1}]
    after = run(tenant, ROUTE, position={"after": "Second"})
    assert after["priority"] == 2
    assert after["shifted_rules"] == [{"name": "First", "before": 1, "after": 0}, {"name": "Second", "before": 2, "after": 1}]

    removed = run(tenant, state="absent")
    assert removed["action"] == "delete" and removed["rule"] == {} and removed["priority"] is None
    assert run(tenant, state="absent")["changed"] is False


def test_explicit_empty_clears_without_purge(tenant):
    tenant.add_connector("Adatum outbound")
    actions = dict(ROUTE["actions"], set_header={"name": "X-A", "value": "1"}, stop_rule_processing=True)
    run(tenant, dict(ROUTE, actions=actions))
    result = run(tenant, purge_actions=False, actions={"set_header": {}, "stop_rule_processing": False})
    assert result["commands"][0]["parameters"] == {"Identity": result["rule"]["guid"], "SetHeaderName": None,
                                                   "SetHeaderValue": None, "StopRuleProcessing": False}
    assert result["rule"]["actions"] == {"route_message_outbound_connector": "Adatum outbound"}


@pytest.mark.parametrize("setup,fragment", [
    ({}, "does not exist in the tenant"),
    ({"enabled": False}, "is disabled"),
    ({"scoped": False}, "is not scoped to mail flow rules"),
])
def test_routing_to_a_bad_connector_fails_before_any_write(tenant, setup, fragment):
    if setup:
        tenant.add_connector("Adatum outbound", **setup)
    with pytest.raises(ConfigurationError) as err:
        run(tenant, ROUTE)
    assert fragment in err.value.msg and "Adatum outbound" in err.value.msg
    assert tenant.writes() == []
    reads = [(c, p) for c, p in tenant.sent if c == "Get-OutboundConnector"]
    # documented semantics: the test-mode-only answer cannot prove completeness, so a plain read follows
    assert [p for _c, p in reads] == [{"IncludeTestModeConnectors": True}, {}]


@pytest.mark.parametrize("documented", [True, False], ids=["documented", "observed"])
@pytest.mark.parametrize("test_mode", [True, False], ids=["test-mode", "normal"])
def test_route_target_found_under_both_semantics_in_fewest_reads(documented, test_mode):
    tenant = FakeRulesTenant(documented=documented)
    tenant.add_connector("Other outbound", test_mode=False)
    tenant.add_connector("Adatum outbound", test_mode=test_mode)
    assert run(tenant, ROUTE)["changed"] is True
    reads = [p for c, p in tenant.sent if c == "Get-OutboundConnector"]
    # observed semantics (the real service): one read with IncludeTestModeConnectors; documented ones: one more
    # only when the connector is not in test mode
    assert reads == [{"IncludeTestModeConnectors": True}] + ([{}] if documented and not test_mode else [])


def test_bad_connector_is_a_warning_in_check_mode(tenant):
    """In check mode an earlier task of the same run may create the connector: warn, predict, write nothing."""
    result = run(tenant, ROUTE, check_mode=True)
    assert result["changed"] is True and tenant.writes() == []
    assert "does not exist" in result["service_warnings"][0] and "check mode" in result["service_warnings"][0]


def test_rule_for_all_mail_needs_consent(tenant):
    with pytest.raises(ConfigurationError) as err:
        run(tenant, actions={"prepend_subject": "[x] "})
    assert "apply to every message" in err.value.msg and "apply_to_all_messages: true" in err.value.msg
    assert tenant.writes() == []
    assert run(tenant, actions={"prepend_subject": "[x] "}, apply_to_all_messages=True)["changed"] is True
    # a condition given through extra_parameters counts as a condition
    assert run(tenant, name="Big", actions={"prepend_subject": "[big] "},
               extra_parameters={"AttachmentSizeOver": "10 MB"})["changed"] is True
    # purging the last condition of an existing rule is refused too
    run(tenant, name="Scoped", conditions={"sender_domain_is": ["a.example"]})
    with pytest.raises(ConfigurationError):
        run(tenant, name="Scoped", conditions={})


def test_extra_parameters_and_dates(tenant):
    params = dict(conditions={"sender_domain_is": ["a.example"]}, extra_parameters={"SetAuditSeverity": "Medium"},
                  activation_date="2030-01-01T10:00+02:00", expiry_date="2030-02-01")
    created = run(tenant, params)
    new = created["commands"][0]["parameters"]
    assert new["ActivationDate"] == "2030-01-01T08:00:00" and new["ExpiryDate"] == "2030-02-01T00:00:00"
    assert new["SetAuditSeverity"] == "Medium"
    assert created["rule"]["activation_date"] == "2030-01-01T08:00:00Z"
    assert created["rule"]["extra_parameters"] == {"SetAuditSeverity": "Medium"}
    assert run(tenant, dict(params, activation_date="2030-01-01T08:00:00Z"))["changed"] is False
    # a past activation date is satisfied by a rule without one (the service drops past activation dates)
    assert run(tenant, dict(params, activation_date=""))["changed"] is True
    assert run(tenant, dict(params, activation_date="2020-01-01"))["changed"] is False
    run(tenant, params)
    tenant.sent[:] = []
    with pytest.raises(ConfigurationError) as err:
        run(tenant, dict(params, activation_date=None, expiry_date="2029-12-01"))  # before the stored activation
    assert "expiry_date: 2029-12-01T00:00:00Z is not after activation_date 2030-01-01T08:00:00Z" in err.value.msg
    assert tenant.writes() == []


# --------------------------------------------------------------------------- the same flow on the sandbox tenant

class Counting(object):
    name = "counting"

    def __init__(self, inner):
        self.inner = inner
        self.sent = []

    def send(self, cmdlet, parameters, next_link=None):
        self.sent.append((cmdlet, dict(parameters or {})))
        return self.inner.send(cmdlet, parameters, next_link=next_link)

    def writes(self):
        return [c for c, _p in self.sent if not c.startswith("Get-")]

    def close(self):
        self.inner.close()


@pytest.fixture
def sandbox(tmp_path):
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTransport
    return Counting(SandboxTransport(str(tmp_path / "tenant.db")))


def test_sandbox_round_trip_of_every_key(sandbox):
    """Every key of the table survives New and Get on the sandbox, and the same input is then no change."""
    from ansible_collections.m365.mailflow.plugins.module_utils import wire
    wire.parse_response(sandbox.inner.send("New-OutboundConnector", {
        "Name": "Adatum outbound", "IsTransportRuleScoped": True, "UseMXRecord": False,
        "SmartHosts": ["mail.adatum.example"]}, None), "New-OutboundConnector")
    conditions = {
        "from": ["alice@contoso.example"], "from_scope": "in_organization", "from_member_of": ["Accounting"],
        "sent_to": ["bob@adatum.example"], "sent_to_scope": "not_in_organization", "sent_to_member_of": ["Partners"],
        "sender_domain_is": ["contoso.example"], "recipient_domain_is": ["adatum.example"],
        "sender_ad_attribute_contains_words": ["Department:Accounting"],
        "sender_ad_attribute_matches_patterns": ["Title:^Head"], "sender_ip_ranges": ["192.0.2.0/24", "198.51.100.1-198.51.100.9"],
        "subject_contains_words": ["invoice"], "subject_or_body_contains_words": ["payment"],
        "header_contains": {"header": "X-Partner", "words": ["adatum"]},
        "from_address_contains_words": ["billing"], "recipient_address_contains_words": ["invoices"],
    }
    actions = {
        "route_message_outbound_connector": "Adatum outbound", "route_message_outbound_require_tls": True,
        "set_header": {"name": "X-Routed", "value": "adatum"}, "remove_header": "X-Internal", "prepend_subject": "[A] ",
        "set_scl": -1, "blind_copy_to": ["audit@contoso.example"], "stop_rule_processing": True,
        "add_to_recipients": ["records@contoso.example"], "copy_to": ["Bob Baker"],
        "reject_message": {"reason": "No", "status_code": "5.7.901"},
    }
    args = dict(conditions=conditions, exceptions={"sender_ip_ranges": ["203.0.113.5"]}, actions=actions,
                mode="audit_and_notify", comments="all keys", extra_parameters={"SetAuditSeverity": "High"})
    created = run(sandbox, args)
    assert created["rule"]["conditions"]["from_scope"] == "in_organization"
    assert created["rule"]["actions"]["set_scl"] == -1
    sandbox.sent[:] = []
    noop = run(sandbox, args)
    assert noop["changed"] is False, noop["changed_properties"]
    # one Get-Recipient per distinct recipient value (names resolve to addresses), one Get-TransportRule, no write
    assert [c for c, _p in sandbox.sent] == ["Get-Recipient"] * 7 + ["Get-TransportRule"]
    assert noop["rule"]["conditions"]["from_member_of"] == ["accounting@contoso.com"]
    assert noop["rule"]["actions"]["copy_to"] == ["bob@contoso.com"]
    for key in sorted(conditions):
        assert noop["rule"]["conditions"][key] is not None, key
    assert noop["rule"]["extra_parameters"] == {"SetAuditSeverity": "High"}
    # purge everything but one condition and one action, in one Set
    small = run(sandbox, conditions={"recipient_domain_is": ["adatum.example"]}, exceptions={},
                actions={"prepend_subject": "[A]"})
    assert sandbox.writes() == ["Set-TransportRule"]
    assert small["rule"]["conditions"] == {"recipient_domain_is": ["adatum.example"]}
    assert small["rule"]["exceptions"] == {} and list(small["rule"]["actions"]) == ["prepend_subject"]
    assert run(sandbox, conditions={"recipient_domain_is": ["adatum.example"]}, exceptions={},
               actions={"prepend_subject": "[A]"})["changed"] is False


def test_sandbox_verify_after_lost_response_does_not_duplicate(sandbox):
    """A position change is verified by reading the list back (engine verify uses spec.changes)."""
    for name in ("A", "B"):
        run(sandbox, name=name, conditions={"sender_domain_is": ["%s.example" % name.lower()]})
    moved = run(sandbox, name="B", position="top", conditions={"sender_domain_is": ["b.example"]})
    assert moved["priority"] == 0 and moved["shifted_rules"] == [{"name": "A", "before": 0, "after": 1}]


# --------------------------------------------------------------------------- values as the service stores them

def test_text_is_compared_exactly_like_the_service_stores_it():
    prefix = vocabulary.BY_PATH["actions.prepend_subject"]
    stored = prefix.current({"PrependSubject": "EXTERNAL: "})
    assert stored == "EXTERNAL: "
    assert prefix.differs("EXTERNAL:", stored)  # only the trailing space differs: a change
    assert not prefix.differs("EXTERNAL: ", stored)
    assert prefix.to_params("EXTERNAL: ") == {"PrependSubject": "EXTERNAL: "}
    header = vocabulary.BY_PATH["actions.set_header"]
    assert header.differs({"name": "X-A", "value": "yes "}, header.current({"SetHeaderName": "x-a", "SetHeaderValue": "yes"}))
    reason = vocabulary.BY_PATH["actions.reject_message"]
    assert reason.differs({"reason": " No", "status_code": None},
                          reason.current({"RejectMessageReasonText": "No", "RejectMessageEnhancedStatusCode": "5.7.1"}))


def test_lists_are_sent_with_one_entry_per_value_and_domains_without_trailing_dot():
    domains = vocabulary.BY_PATH["conditions.recipient_domain_is"]
    assert domains.to_params(["adatum.com", "ADATUM.com", "fabrikam.example."]) == {
        "RecipientDomainIs": ["adatum.com", "fabrikam.example"]}
    assert not domains.differs(["fabrikam.example."], domains.current({"RecipientDomainIs": ["fabrikam.example"]}))
    ips = vocabulary.BY_PATH["exceptions.sender_ip_ranges"]
    assert ips.to_params(["198.51.100.1", "198.51.100.1/32"]) == {"ExceptIfSenderIpRanges": ["198.51.100.1"]}
    words = vocabulary.BY_PATH["conditions.subject_contains_words"]
    assert words.to_params(["Invoice", "invoice ", "payment"]) == {"SubjectContainsWords": ["Invoice", "payment"]}


EXTRA_EQUAL = [
    ("AttachmentSizeOver", "10MB", "10 MB (10,485,760 bytes)"),
    ("AttachmentSizeOver", "10 MB", "10 MB (10,485,760 bytes)"),
    ("AttachmentSizeOver", 10485760, "10 MB (10,485,760 bytes)"),
    ("ExceptIfMessageSizeOver", "10240", "10 KB (10,240 bytes)"),
    ("SetAuditSeverity", "medium", "Medium"),
    ("SenderAddressLocation", "headerorenvelope", "HeaderOrEnvelope"),
    ("HasNoClassification", "true", True),
    ("SCLOver", "5", 5),
    ("AttachmentExtensionMatchesWords", ["EXE", "dll", "exe"], ["exe", "dll"]),
    ("AnyOfRecipientAddressContainsWords", "adatum", ["adatum"]),
]
EXTRA_DIFFERENT = [
    ("AttachmentSizeOver", "11MB", "10 MB (10,485,760 bytes)"),
    ("SetAuditSeverity", "High", "Medium"),
    ("HasNoClassification", "false", True),
    ("ApplyHtmlDisclaimerText", "<p>Confidential</p>", "<p>confidential</p>"),
    ("AttachmentExtensionMatchesWords", ["exe"], ["exe", "dll"]),
]


def test_extra_parameters_compare_like_the_service_reads_them_back():
    for expected, table in ((False, EXTRA_EQUAL), (True, EXTRA_DIFFERENT)):
        for param, desired, read_back in table:
            prop = rules.TransportRuleSpec({param: desired}).props["extra_parameters." + param]
            assert prop.differs(desired, prop.current({param: read_back})) is expected, (param, desired, read_back)


def test_extra_size_is_predicted_in_the_read_back_form():
    spec = rules.TransportRuleSpec({"AttachmentSizeOver": "10MB"})
    assert spec.props["extra_parameters.AttachmentSizeOver"].shown("10MB") == "10 MB (10,485,760 bytes)"


EXTRA_BAD = [
    ({"AttachmentSizeOver": "10 XB"}, "extra_parameters.AttachmentSizeOver: '10 XB' is not a size"),
    ({"SubjectMatchesPatterns": ["ok", "(unclosed"]}, "extra_parameters.SubjectMatchesPatterns: '(unclosed' is not a valid"),
    ({"RecipientADAttributeMatchesPatterns": ["Title:[a"]}, "extra_parameters.RecipientADAttributeMatchesPatterns: '[a'"),
    ({"CopyTo": ["a@b.example"]}, "use actions.copy_to instead"),
]


@pytest.mark.parametrize("extra,fragment", EXTRA_BAD, ids=[e[1][:40] for e in EXTRA_BAD])
def test_bad_extra_parameters_fail_before_any_call(extra, fragment):
    client = Client(NoCalls(), retry_delay=0, sleep=lambda s: None)
    with pytest.raises(ConfigurationError) as err:
        rules.ensure_rule(client, options(name="R", conditions={"recipient_domain_is": ["a.example"]},
                                          extra_parameters=extra))
    assert fragment in err.value.msg, err.value.msg
    assert client.calls == []


VALUE_BAD = [
    ({"conditions": {"sender_ad_attribute_matches_patterns": ["Title:(Head"]}},
     "conditions.sender_ad_attribute_matches_patterns: '(Head' is not a valid regular expression"),
    ({"exceptions": {"sender_ad_attribute_matches_patterns": ["Title:a{3,1}"]}},
     "exceptions.sender_ad_attribute_matches_patterns"),
    ({"conditions": {"subject_contains_words": ["invoice", " "]}}, "conditions.subject_contains_words: an empty word"),
    ({"conditions": {"header_contains": {"header": "X Partner", "words": ["a"]}}},
     "conditions.header_contains.header: 'X Partner' is not a message header name"),
    ({"actions": {"remove_header": "X:Bad"}}, "actions.remove_header"),
    ({"actions": {"prepend_subject": "   "}}, "actions.prepend_subject: a value of only white space"),
    ({"actions": {"reject_message": {"reason": "r" * 1025}}}, "actions.reject_message.reason: 1025 characters"),
    ({"conditions": {"from": ["alice@contoso.example", ""]}}, "conditions.from: an empty recipient"),
    ({"name": " Leading"}, "name: ' Leading' begins or ends with white space"),
    ({"name": "Trailing ", "state": "absent"}, "name: 'Trailing ' begins or ends with white space"),
]


@pytest.mark.parametrize("change,fragment", VALUE_BAD, ids=[b[1][:40] for b in VALUE_BAD])
def test_bad_values_fail_before_any_call(change, fragment):
    test_bad_input_fails_before_any_call(change, fragment)


def test_copy_to_is_an_action():
    assert vocabulary.BY_PATH["actions.copy_to"].param == "CopyTo"
    assert isinstance(vocabulary.BY_PATH["actions.copy_to"].value, fields.Recipients)


# --------------------------------------------------------------------------- recipients resolved to addresses

@pytest.fixture
def directory(tenant):
    tenant.add_recipient("Accounting Team", "accounting@contoso.com", alias="accounting",
                         kind="MailUniversalDistributionGroup", secondary=["finance@contoso.com"])
    tenant.add_recipient("alice", "alice@contoso.com", display="Alice Adams", secondary=["alice.adams@contoso.com"])
    tenant.add_recipient("bob", "bob@contoso.com", display="Bob Baker")
    tenant.add_recipient("bob2", "bob.b@contoso.com", display="Bob Baker")
    return tenant


RECIPIENT_RULE = dict(conditions={"from": ["Alice Adams", "alice.adams@contoso.com", "Carol@Partner.Example"],
                                  "from_member_of": ["Accounting Team"]},
                      actions={"copy_to": ["ALICE"], "prepend_subject": "EXTERNAL: "})


def test_recipients_are_resolved_once_each_compared_and_sent_as_addresses(directory):
    created = run(directory, RECIPIENT_RULE)
    new = created["commands"][0]["parameters"]
    # the secondary address and the display name are one recipient: sent once, as the primary address
    assert new["From"] == ["alice@contoso.com", "Carol@Partner.Example"]
    assert new["FromMemberOf"] == ["accounting@contoso.com"] and new["CopyTo"] == ["alice@contoso.com"]
    lookups = [p["Identity"] for c, p in directory.sent if c == "Get-Recipient"]
    assert sorted(lookups) == sorted(["Alice Adams", "alice.adams@contoso.com", "Carol@Partner.Example",
                                      "Accounting Team", "ALICE"])
    directory.sent[:] = []
    again = run(directory, RECIPIENT_RULE)
    assert again["changed"] is False and directory.writes() == [], again["changed_properties"]
    # check mode resolves too (reads only) and sees a real change
    checked = run(directory, dict(RECIPIENT_RULE, conditions=dict(RECIPIENT_RULE["conditions"], from_member_of=[])),
                  check_mode=True)
    assert checked["changed"] is True and checked["changed_properties"] == ["conditions.from_member_of"]
    assert directory.writes() == []


def test_unknown_recipient_fails_naming_the_option_before_any_write(directory):
    with pytest.raises(ConfigurationError) as err:
        run(directory, conditions={"from": ["Acounting Team"]}, actions={"blind_copy_to": ["nobody"]})
    assert "conditions.from: there is no recipient 'Acounting Team'" in err.value.msg
    assert "actions.blind_copy_to: there is no recipient 'nobody'" in err.value.msg
    assert directory.writes() == [] and "Get-TransportRule" not in [c for c, _p in directory.sent]


def test_unknown_recipient_fails_in_check_mode_too(directory):
    with pytest.raises(ConfigurationError):
        run(directory, conditions={"sent_to": ["Nobody Here"]}, check_mode=True)


def test_ambiguous_recipient_fails(directory):
    with pytest.raises(ConfigurationError) as err:
        run(directory, conditions={"from": ["Bob Baker"]})
    assert "conditions.from: 'Bob Baker' matches more than one recipient (bob.b@contoso.com, bob@contoso.com)" in err.value.msg


@pytest.mark.parametrize("path", ["conditions.sent_to", "exceptions.sent_to", "actions.add_to_recipients",
                                  "actions.copy_to", "actions.blind_copy_to", "actions.redirect_message_to"])
def test_groups_are_refused_where_the_service_refuses_them(directory, path):
    section, key = path.split(".")
    args = {section: {key: ["Accounting Team"]}}
    if section != "conditions":
        args["conditions"] = {"recipient_domain_is": ["adatum.example"]}
    with pytest.raises(ConfigurationError) as err:
        run(directory, args)
    assert err.value.msg.startswith("%s: 'Accounting Team' is a group" % path), err.value.msg
    assert directory.writes() == []


def test_member_of_a_non_group_is_a_warning(directory):
    result = run(directory, conditions={"sent_to_member_of": ["bob", "x@partner.example"]})
    assert result["changed"] is True
    warnings = result["service_warnings"]
    assert any("conditions.sent_to_member_of: 'bob' (bob@contoso.com) is not a group" in w for w in warnings), warnings
    assert any("'x@partner.example' is not a recipient of the organisation" in w for w in warnings), warnings


def test_ambiguity_reported_as_an_error_by_the_service_is_understood(tenant):
    from ansible_collections.m365.mailflow.plugins.module_utils import wire

    class Ambiguous(FakeRulesTenant):
        def send(self, cmdlet, parameters, next_link=None):
            if cmdlet == "Get-Recipient":
                return wire.json_response(400, wire.error_body(
                    400, "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
                    "The operation couldn't be performed because 'Bob' matches multiple entries."))
            return FakeRulesTenant.send(self, cmdlet, parameters, next_link)

    with pytest.raises(ConfigurationError) as err:
        run(Ambiguous(), conditions={"from": ["Bob"]})
    assert "conditions.from: 'Bob' matches more than one recipient" in err.value.msg


def test_recipient_extra_parameters_are_resolved_too(directory):
    created = run(directory, conditions={"recipient_domain_is": ["a.example"]},
                  extra_parameters={"AnyOfToHeader": "Alice Adams"})
    assert created["commands"][0]["parameters"]["AnyOfToHeader"] == ["alice@contoso.com"]
    assert run(directory, conditions={"recipient_domain_is": ["a.example"]},
               extra_parameters={"AnyOfToHeader": ["alice"]})["changed"] is False
