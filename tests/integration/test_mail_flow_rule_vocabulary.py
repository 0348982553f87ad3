# -*- coding: utf-8 -*-
"""Every condition, exception and action of mail_flow_rule, end to end, table-driven (issue 11).

One ansible-playbook run per backend (sandbox and emulator, in parallel), of a few rules that between them use every
condition (also as an exception) and every action at realistic values: each rule is created, the same task is run
again (no change, no write), every value is changed, and everything is cleared. The emulator's request log must hold exactly the writes the tasks reported.
"""

from __future__ import absolute_import, division, print_function

import json
import threading

from tests.integration.conftest import emulator_defaults
from tests.support.ansible_runner import run_tasks
from tests.support.calls import writes

MODULE = "m365.mailflow.mail_flow_rule"
CONNECTOR_MODULE = "m365.mailflow.partner_outbound_connector"

PARTNER = "partner@adatum.example"
GROUP = "finance-partners@adatum.example"

# option -> (value on create, value on change); a flag has no other value than true (None: not changed)
CONDITIONS = {
    "from": ([PARTNER], ["billing@fabrikam.example"]),
    "from_scope": ("not_in_organization", "in_organization"),
    "from_member_of": ([GROUP], ["auditors@fabrikam.example"]),
    "from_address_contains_words": (["invoice"], ["billing", "payments"]),
    "from_address_matches_patterns": (["^billing@.*\\.example$"], ["^pay(ments)?@"]),
    "sender_domain_is": (["adatum.example"], ["fabrikam.example"]),
    "sender_ip_ranges": (["198.51.100.0/24"], ["203.0.113.10"]),
    "sender_ad_attribute_contains_words": (["Department:Accounting"], ["Department:Finance,Audit"]),
    "sender_ad_attribute_matches_patterns": (["Title:^Head of"], ["Title:Director$"]),
    "sender_management_relationship": ("manager", "direct_report"),
    "manager_for_evaluated_user": ({"evaluated_user": "sender", "addresses": [PARTNER]},
                                   {"evaluated_user": "recipient", "addresses": [PARTNER]}),
    "ad_attribute_comparison": ({"attribute": "Department", "operator": "equal"},
                                {"attribute": "Office", "operator": "not_equal"}),
    "sent_to": ([PARTNER], ["orders@fabrikam.example"]),
    "sent_to_scope": ("not_in_organization", "in_organization"),
    "sent_to_member_of": ([GROUP], ["auditors@fabrikam.example"]),
    "recipient_address_contains_words": (["orders"], ["sales"]),
    "recipient_address_matches_patterns": (["^orders@"], ["^sales@"]),
    "recipient_domain_is": (["adatum.example"], ["fabrikam.example"]),
    "recipient_ad_attribute_contains_words": (["Company:Adatum"], ["Company:Fabrikam"]),
    "recipient_ad_attribute_matches_patterns": (["City:^Lon"], ["City:^Par"]),
    "any_of_to_header": ([PARTNER], ["orders@fabrikam.example"]),
    "any_of_to_header_member_of": ([GROUP], ["auditors@fabrikam.example"]),
    "any_of_cc_header": ([PARTNER], ["orders@fabrikam.example"]),
    "any_of_cc_header_member_of": ([GROUP], ["auditors@fabrikam.example"]),
    "any_of_to_cc_header": ([PARTNER], ["orders@fabrikam.example"]),
    "any_of_to_cc_header_member_of": ([GROUP], ["auditors@fabrikam.example"]),
    "any_of_recipient_address_contains_words": (["adatum"], ["fabrikam"]),
    "any_of_recipient_address_matches_patterns": (["@adatum\\.example$"], ["@fabrikam\\.example$"]),
    "between_member_of": ({"first": [GROUP], "second": ["auditors@fabrikam.example"]},
                          {"first": [GROUP], "second": ["board@fabrikam.example"]}),
    "subject_contains_words": (["Invoice"], ["Purchase order"]),
    "subject_matches_patterns": (["^\\[EXT\\]"], ["PO-\\d{6}"]),
    "subject_or_body_contains_words": (["confidential"], ["secret"]),
    "subject_or_body_matches_patterns": (["\\b\\d{3}-\\d{2}-\\d{4}\\b"], ["\\bIBAN\\b"]),
    "header_contains": ({"header": "X-Partner", "words": ["adatum"]}, {"header": "X-Partner", "words": ["fabrikam"]}),
    "header_matches_patterns": ({"header": "X-Ticket", "patterns": ["^T-\\d+$"]},
                                {"header": "X-Ticket", "patterns": ["^INC\\d+$"]}),
    "content_character_set_contains_words": (["koi8-r"], ["iso-2022-jp"]),
    "attachment_contains_words": (["payroll"], ["salary"]),
    "attachment_matches_patterns": (["\\d{16}"], ["\\bSWIFT\\b"]),
    "attachment_extension_matches_words": (["exe", "js"], ["vbs"]),
    "attachment_name_matches_patterns": (["\\.docm$"], ["\\.xlsm$"]),
    "attachment_property_contains_words": (["Division:Sales"], ["Division:Finance,Legal"]),
    "attachment_size_over": ("10MB", "25 MB"),
    "attachment_has_executable_content": (True, None),
    "attachment_is_password_protected": (True, None),
    "attachment_is_unsupported": (True, None),
    "attachment_processing_limit_exceeded": (True, None),
    "message_size_over": ("10485760", "20 MB"),
    "message_type_matches": ("auto_forward", "encrypted"),
    "with_importance": ("high", "low"),
    "scl_over": (5, 7),
    "has_classification": ("Confidential", "Internal only"),
    "has_no_classification": (True, None),
}
ACTIONS = {
    "route_message_outbound_connector": ("Vocab partner A", "Vocab partner B"),
    "route_message_outbound_require_tls": (True, None),
    "redirect_message_to": (["review@adatum.example"], ["hold@adatum.example"]),
    "add_to_recipients": (["archive@adatum.example"], ["records@adatum.example"]),
    "copy_to": (["archive@adatum.example"], ["records@adatum.example"]),
    "blind_copy_to": (["journal@adatum.example"], ["records@adatum.example"]),
    "add_manager_as_recipient_type": ("cc", "bcc"),
    "moderate_message_by_user": (["moderator@adatum.example"], ["approver@adatum.example"]),
    "moderate_message_by_manager": (True, None),
    "quarantine": (True, None),
    "delete_message": (True, None),
    "reject_message": ({"reason": "Blocked by policy", "status_code": "5.7.900"},
                       {"reason": "Blocked by policy", "status_code": "5.7.901"}),
    "stop_rule_processing": (True, None),
    "prepend_subject": ("[EXTERNAL] ", "[PARTNER] "),
    "set_header": ({"name": "X-Routed", "value": "adatum"}, {"name": "X-Routed", "value": "fabrikam"}),
    "remove_header": ("X-Internal-Tag", "X-Debug"),
    "set_scl": (-1, 6),
    "apply_html_disclaimer": ({"text": "<p>Confidential</p>", "location": "append", "fallback_action": "wrap"},
                              {"text": "<p>Confidential</p>", "location": "prepend", "fallback_action": "reject"}),
    "apply_classification": ("Confidential", "Internal only"),
    "apply_ome": (True, None),
    "apply_rights_protection_template": ("Do Not Forward", "Encrypt"),
    "apply_rights_protection_customization_template": ("Adatum branding", "Fabrikam branding"),
    "remove_ome": (True, None),
    "remove_ome_v2": (True, None),
    "remove_rms_attachment_encryption": (True, None),
    "generate_notification": ("<p>This message was checked by policy.</p>", "<p>Checked.</p>"),
    "generate_incident_report": ({"to": "incidents@adatum.example", "content": ["sender", "subject"]},
                                 {"to": "incidents@adatum.example", "content": ["sender", "subject", "bcc"]}),
    "set_audit_severity": ("medium", "high"),
}


def _changed(pair):
    return pair[1] if pair[1] is not None else pair[0]


# A condition and its exception with the same value could never apply, and are refused (issue 22): a key with one
# value (flags) is a condition when the rule is created and moves to the exceptions when it changes.
SINGLE = frozenset(k for k, pair in CONDITIONS.items() if pair[1] is None)
# in_organization as a condition of a rule that routes to an outbound connector is refused too (internal mail never
# goes through a connector): sent_to_scope keeps not_in_organization as the condition, in_organization as the exception.
KEPT = frozenset(["sent_to_scope"])


CHUNKS = 4  # rules per play: each carries a quarter of the conditions (also as exceptions) and of the actions


def cases():
    """(rule name, condition keys, action keys): every condition and every action in one of CHUNKS rules."""
    conditions, actions = sorted(CONDITIONS), sorted(ACTIONS)
    return [("Vocabulary %d" % index, conditions[index::CHUNKS], actions[index::CHUNKS]) for index in range(CHUNKS)]


def plan():
    """The play's tasks ([(module, args)]) and what each is: (case, step)."""
    tasks, steps = [], []
    for name in ("Vocab partner A", "Vocab partner B"):
        tasks.append((CONNECTOR_MODULE, {"name": name, "transport_rule_scoped": True,
                                         "smart_hosts": ["mail.%s.example" % name[-1].lower()]}))
        steps.append((None, "connector"))
    for index, case in enumerate(cases()):
        name, ckeys, akeys = case
        create = {"name": name, "conditions": dict((k, CONDITIONS[k][0]) for k in ckeys),
                  "exceptions": dict((k, _changed(CONDITIONS[k])) for k in ckeys if k not in SINGLE),
                  "actions": dict((k, ACTIONS[k][0]) for k in akeys)}
        change = {"name": name,
                  "conditions": dict((k, CONDITIONS[k][0] if k in KEPT else _changed(CONDITIONS[k]))
                                     for k in ckeys if k not in SINGLE),
                  "exceptions": dict((k, _changed(CONDITIONS[k]) if k in KEPT else CONDITIONS[k][0]) for k in ckeys),
                  "actions": dict((k, _changed(ACTIONS[k])) for k in akeys)}
        # cleared: no condition, no exception, one action of another rule's share
        anchor = cases()[(index + 1) % CHUNKS][2][-1]
        clear = {"name": name, "conditions": {}, "exceptions": {}, "actions": {anchor: ACTIONS[anchor][0]},
                 "apply_to_all_messages": True}
        for step, args in (("create", create), ("again", create), ("change", change), ("clear", clear)):
            tasks.append((MODULE, args))
            steps.append((case, step))
    return tasks, steps


def check(kind, steps, results, calls):
    """Problems found in one backend's play (an empty list when everything holds)."""
    problems = []
    assert len(results) == len(steps), (kind, len(results), len(steps))
    for (case, step), result in zip(steps, results):
        label = "%s %s %s" % (kind, case[0] if case else "connector", step)
        text = json.dumps(result)
        if result.get("failed") or "Traceback" in text:
            problems.append("%s failed: %s" % (label, result.get("msg")))
            continue
        if case is None:
            continue
        _name, ckeys, akeys = case
        rule = result.get("rule") or {}
        if step == "create":
            ok = (result["changed"] and result["action"] == "create" and sorted(rule["conditions"]) == ckeys
                  and sorted(rule["exceptions"]) == [k for k in ckeys if k not in SINGLE]
                  and sorted(rule["actions"]) == akeys)
        elif step == "again":
            ok = result["changed"] is False and result["commands"] == []
        elif step == "change":
            expected = sorted(["conditions.%s" % k for k in ckeys if k not in KEPT]
                              + ["exceptions.%s" % k for k in ckeys if k not in KEPT]
                              + ["actions.%s" % k for k in akeys if ACTIONS[k][1] is not None])
            ok = result["changed"] is True and sorted(result["changed_properties"]) == expected
        else:
            ok = (result["changed"] and rule["conditions"] == {} and rule["exceptions"] == {}
                  and len(rule["actions"]) == 1 and not set(rule["actions"]) & set(akeys))
        if not ok:
            problems.append("%s: %s" % (label, json.dumps(dict((k, result.get(k)) for k in (
                "changed", "action", "changed_properties", "commands", "rule")))[:1500]))
    if calls is not None:
        reported = {}
        for result in results:
            for command in result.get("commands") or []:
                reported[command["cmdlet"]] = reported.get(command["cmdlet"], 0) + 1
        if writes(calls) != reported:
            problems.append("%s: the emulator saw writes %s, the tasks reported %s" % (kind, writes(calls), reported))
    return problems


def test_every_condition_exception_and_action(tmp_path):
    from tests.emulator import Emulator
    tasks, steps = plan()
    assert sorted(k for _n, ks, _a in cases() for k in ks) == sorted(CONDITIONS)
    assert sorted(a for _n, _k, acts in cases() for a in acts) == sorted(ACTIONS)
    workdirs = dict((kind, tmp_path / kind) for kind in ("sandbox", "emulator"))
    for workdir in workdirs.values():
        workdir.mkdir()
    emulator = Emulator(str(workdirs["emulator"] / "tenant.db"), cert_dir=str(tmp_path / "pki")).start()
    try:
        defaults = {"sandbox": {"sandbox": str(workdirs["sandbox"] / "tenant.db")},
                    "emulator": emulator_defaults(emulator)}
        runs = {}

        def play(kind):
            runs[kind] = run_tasks(tasks, str(workdirs[kind]), module_defaults=defaults[kind])

        threads = [threading.Thread(target=play, args=(kind,)) for kind in defaults]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        calls = emulator.calls()
    finally:
        emulator.stop()
    problems = (check("sandbox", steps, runs["sandbox"].results, None)
                + check("emulator", steps, runs["emulator"].results, calls))
    assert not problems, "\n".join(problems[:40])
