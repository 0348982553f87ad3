# -*- coding: utf-8 -*-
"""Every value type of the rule vocabulary compares a user's value with the service's read-back form (issue 11)."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import rule_parameters as table
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary as vocabulary
from ansible_collections.m365.mailflow.plugins.module_utils.resources import transport_rule as rules

# (path, value as the user writes it, the raw Get-TransportRule record, equal?)
COMPARISONS = [
    # sizes by bytes, against the read-back form
    ("conditions.attachment_size_over", "10MB", {"AttachmentSizeOver": "10 MB (10,485,760 bytes)"}, True),
    ("conditions.attachment_size_over", "10 mb", {"AttachmentSizeOver": "10 MB (10,485,760 bytes)"}, True),
    ("conditions.attachment_size_over", 10485760, {"AttachmentSizeOver": "10 MB (10,485,760 bytes)"}, True),
    ("exceptions.message_size_over", "1.5 KB", {"ExceptIfMessageSizeOver": "1.5 KB (1,536 bytes)"}, True),
    ("conditions.attachment_size_over", "11MB", {"AttachmentSizeOver": "10 MB (10,485,760 bytes)"}, False),
    # enums: snake_case option, canonical read-back in any case
    ("conditions.message_type_matches", "auto_forward", {"MessageTypeMatches": "AutoForward"}, True),
    ("conditions.message_type_matches", "oof", {"MessageTypeMatches": "OOF"}, True),
    ("conditions.with_importance", "high", {"WithImportance": "High"}, True),
    ("conditions.with_importance", "low", {"WithImportance": "High"}, False),
    ("exceptions.from_scope", "not_in_organization", {"ExceptIfFromScope": "NotInOrganization"}, True),
    ("actions.set_audit_severity", "do_not_audit", {"SetAuditSeverity": "DoNotAudit"}, True),
    ("sender_address_location", "header_or_envelope", {"SenderAddressLocation": "HeaderOrEnvelope"}, True),
    ("rule_error_action", "defer", {"RuleErrorAction": "Ignore"}, False),
    # enum lists as sets
    ("actions.generate_incident_report", {"to": "soc@adatum.example", "content": ["subject", "cc", "sender"]},
     {"GenerateIncidentReport": "soc@adatum.example", "IncidentReportContent": ["Sender", "Subject", "CC"]}, True),
    ("actions.generate_incident_report", {"to": "soc@adatum.example", "content": ["subject"]},
     {"GenerateIncidentReport": "soc@adatum.example", "IncidentReportContent": ["Sender", "Subject"]}, False),
    # patterns exactly (case is part of a pattern), as a set
    ("conditions.subject_matches_patterns", ["^Re:", "PO-\\d+"], {"SubjectMatchesPatterns": ["PO-\\d+", "^Re:"]}, True),
    ("conditions.subject_matches_patterns", ["^re:"], {"SubjectMatchesPatterns": ["^Re:"]}, False),
    # words without case
    ("conditions.attachment_extension_matches_words", ["EXE", "js"], {"AttachmentExtensionMatchesWords": ["exe", "JS"]},
     True),
    ("conditions.attachment_property_contains_words", ["division:sales, legal"],
     {"AttachmentPropertyContainsWords": ["Division:Legal,Sales"]}, True),
    # flags: false / unset are the same
    ("actions.quarantine", True, {"Quarantine": True}, True),
    ("actions.quarantine", False, {"Quarantine": False}, True),
    ("conditions.attachment_is_unsupported", True, {"AttachmentIsUnsupported": False}, False),
    # ints as numbers
    ("conditions.scl_over", "5", {"SCLOver": 5}, True),
    ("actions.set_scl", -1, {"SetSCL": "-1"}, True),
    # status codes, text exactly, header names without case, object names without case
    ("actions.reject_message", {"status_code": "5.7.900"},
     {"RejectMessageReasonText": "Delivery not authorized, message refused", "RejectMessageEnhancedStatusCode": "5.7.900"},
     True),
    ("actions.generate_notification", "<p>Checked</p>", {"GenerateNotification": "<p>checked</p>"}, False),
    ("conditions.header_matches_patterns", {"header": "x-ticket", "patterns": ["^T-\\d+$"]},
     {"HeaderMatchesMessageHeader": "X-Ticket", "HeaderMatchesPatterns": ["^T-\\d+$"]}, True),
    ("actions.apply_classification", "confidential", {"ApplyClassification": "Confidential"}, True),
    # groups: a sub-key left out is the service's default
    ("actions.apply_html_disclaimer", {"text": "<p>Legal</p>"},
     {"ApplyHtmlDisclaimerText": "<p>Legal</p>", "ApplyHtmlDisclaimerLocation": "Append",
      "ApplyHtmlDisclaimerFallbackAction": "Wrap"}, True),
    ("actions.apply_html_disclaimer", {"text": "<p>Legal</p>", "location": "prepend"},
     {"ApplyHtmlDisclaimerText": "<p>Legal</p>", "ApplyHtmlDisclaimerLocation": "Append",
      "ApplyHtmlDisclaimerFallbackAction": "Wrap"}, False),
    ("conditions.ad_attribute_comparison", {"attribute": "Department"},
     {"ADComparisonAttribute": "Department", "ADComparisonOperator": "Equal"}, True),
    # dates as instants
    ("expiry_date", "2027-01-01T00:00:00Z", {"ExpiryDate": "2027-01-01T00:00:00"}, True),
    ("use_legacy_regex", False, {"UseLegacyRegex": False}, True),
]


@pytest.mark.parametrize("path, value, record, equal", COMPARISONS, ids=[c[0] + "-" + str(i) for i, c in enumerate(COMPARISONS)])
def test_value_compares_with_the_read_back_form(path, value, record, equal):
    field = vocabulary.BY_PATH[path]
    assert field.differs(value, field.current(record)) is not equal


def test_every_kind_of_the_table_has_a_value_type_and_every_parameter_an_option():
    options = dict((param.lower(), field) for field in vocabulary.TABLE for param in field.params)
    for entry in table.ALL_OPTIONS:
        if entry["param"] not in ("Name", "Priority"):  # the module's own name and priority/position options
            assert entry["param"].lower() in options, entry["param"]
    spec = vocabulary.argument_spec()
    assert set(spec["conditions"]["options"]) == set(spec["exceptions"]["options"])
    assert len(spec["conditions"]["options"]) == len(set(e["option"] for e in table.CONDITIONS))
    assert len(spec["actions"]["options"]) == len(set(e["option"] for e in table.ACTIONS))


def test_size_is_shown_and_sent_in_the_service_forms():
    field = vocabulary.BY_PATH["conditions.attachment_size_over"]
    assert field.shown("10MB") == "10 MB (10,485,760 bytes)"
    assert field.current({"AttachmentSizeOver": "10 MB (10,485,760 bytes)"}) == "10 MB (10,485,760 bytes)"


def test_enum_is_sent_in_canonical_case_and_read_back_as_the_option():
    field = vocabulary.BY_PATH["conditions.message_type_matches"]
    assert field.to_params("permission_controlled") == {"MessageTypeMatches": "PermissionControlled"}
    assert field.current({"MessageTypeMatches": "PermissionControlled"}) == "permission_controlled"
    content = vocabulary.BY_PATH["actions.generate_incident_report"]
    assert content.to_params({"to": "a@b.example", "content": ["cc", "id_match"]}) == {
        "GenerateIncidentReport": "a@b.example", "IncidentReportContent": ["CC", "IdMatch"]}


BAD = [
    ({"conditions": {"subject_matches_patterns": ["ok", "(unclosed"]}}, "conditions.subject_matches_patterns"),
    ({"exceptions": {"header_matches_patterns": {"header": "X-A", "patterns": ["[a-"]}}},
     "exceptions.header_matches_patterns.patterns"),
    ({"conditions": {"attachment_size_over": "ten megabytes"}}, "conditions.attachment_size_over"),
    ({"conditions": {"scl_over": 10}}, "conditions.scl_over"),
    ({"conditions": {"attachment_property_contains_words": ["Division"]}}, "conditions.attachment_property_contains_words"),
    ({"actions": {"apply_html_disclaimer": {"location": "prepend"}}}, "actions.apply_html_disclaimer: text missing"),
    ({"actions": {"generate_incident_report": {"content": ["sender"]}}}, "actions.generate_incident_report: to missing"),
    ({"conditions": {"attachment_size_over": "10MB"}, "extra_parameters": {"AttachmentSizeOver": "10MB"}},
     "extra_parameters.AttachmentSizeOver: conditions.attachment_size_over is given too"),
]


@pytest.mark.parametrize("params, message", BAD, ids=[b[1] for b in BAD])
def test_bad_values_are_refused_before_any_call(params, message):
    class NoCalls(object):
        warnings = []
        calls = []

        def invoke(self, *args, **kwargs):
            raise AssertionError("a call was made: %s" % (args,))

    with pytest.raises(ConfigurationError) as info:
        args = dict(name="Bad", **params)
        spec, name, state, desired = rules.rule_task(args)
        spec.warnings, spec.check_mode = [], False
        spec.preflight(name, desired)
    assert message in info.value.msg, info.value.msg


def test_a_new_only_property_is_refused_on_an_existing_rule():
    spec, name, _state, desired = rules.rule_task({"name": "R", "use_legacy_regex": True})
    spec.warnings, spec.check_mode, spec.rules = [], False, []
    with pytest.raises(ConfigurationError) as info:
        spec.changes(desired, {"Name": "R", "UseLegacyRegex": False, "Priority": 0})
    assert "use_legacy_regex" in info.value.msg and "Set-TransportRule cannot change it" in info.value.msg


def test_extra_parameter_that_is_an_option_now_still_works_with_a_warning():
    params = {"name": "R", "conditions": {"subject_contains_words": ["x"]},
              "extra_parameters": {"AttachmentSizeOver": "10MB"}}
    spec, name, _state, desired = rules.rule_task(params)
    spec.warnings, spec.check_mode = [], False
    spec.preflight(name, desired)
    assert desired["conditions.attachment_size_over"] is None  # not managed (not purged) by the option
    assert any("conditions.attachment_size_over" in w for w in spec.warnings)
    prop = spec.props["extra_parameters.AttachmentSizeOver"]
    assert not prop.differs("10MB", prop.current({"AttachmentSizeOver": "10 MB (10,485,760 bytes)"}))
