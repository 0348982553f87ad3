# -*- coding: utf-8 -*-
"""The transport-rule vocabulary table (rule_parameters) is complete and consistent with itself."""

from __future__ import absolute_import, division, print_function

import collections
import re

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import rule_parameters as rp

SECTIONS = ("conditions", "exceptions", "actions", "properties")
# Options whose name is not the plain snake_case of the parameter (acronyms the rule below splits differently).
SNAKE_OVERRIDES = {"RemoveOMEv2": "remove_ome_v2"}


def snake(name):
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def test_every_cmdlet_parameter_goes_somewhere_exactly_once():
    placed = collections.Counter([e["param"] for e in rp.ALL_OPTIONS] + list(rp.NOT_OPTIONS))
    assert sorted(p for p, n in placed.items() if n > 1) == []
    assert sorted(set(rp.CMDLET_PARAMETERS) - set(placed)) == []
    assert sorted(set(placed) - set(rp.CMDLET_PARAMETERS)) == []


def test_the_reference_list_has_the_documented_shape():
    assert len(rp.CMDLET_PARAMETERS) == len(set(p.lower() for p in rp.CMDLET_PARAMETERS)) == 178
    assert len(set(rp.CMDLET_PARAMETERS) - set(rp.SET_ONLY)) == 177  # New-TransportRule
    assert len(set(rp.CMDLET_PARAMETERS) - set(rp.NEW_ONLY)) == 176  # Set-TransportRule
    new_only = set(e["param"] for e in rp.PARAMETERS if e.get("new_only"))
    assert new_only == set(rp.NEW_ONLY)


def test_every_except_if_parameter_pairs_with_its_condition():
    names = set(rp.CMDLET_PARAMETERS)
    conditions = set(e["param"] for e in rp.CONDITIONS)
    for param in names:
        if param.startswith(rp.EXCEPT_PREFIX):
            base = param[len(rp.EXCEPT_PREFIX):]
            assert base in names, param
            # an exception is an option exactly when its condition is one, with the same value kind
            assert (base in conditions) == (param.lower() in rp.BY_PARAMETER), param
            if base in rp.NOT_OPTIONS:
                assert param in rp.NOT_OPTIONS and rp.NOT_OPTION_KINDS[param] == rp.NOT_OPTION_KINDS[base], param
    for entry in rp.CONDITIONS:
        assert rp.EXCEPT_PREFIX + entry["param"] in names, entry["param"]
    for entry in rp.ACTIONS + rp.PROPERTIES:
        assert rp.EXCEPT_PREFIX + entry["param"] not in names, "%s has an ExceptIf form" % entry["param"]


def test_exceptions_mirror_conditions():
    assert len(rp.EXCEPTIONS) == len(rp.CONDITIONS)
    for cond, exc in zip(rp.CONDITIONS, rp.EXCEPTIONS):
        assert exc["param"] == rp.EXCEPT_PREFIX + cond["param"]
        want = ("exceptions", cond["option"], cond["sub"], cond["kind"])
        assert (exc["section"], exc["option"], exc["sub"], exc["kind"]) == want


@pytest.mark.parametrize("section", SECTIONS)
def test_option_names_are_unique_per_section(section):
    entries = [e for e in rp.ALL_OPTIONS if e["section"] == section]
    keys = collections.Counter((e["option"], e["sub"]) for e in entries)
    assert [k for k, n in keys.items() if n > 1] == []
    flat = set(e["option"] for e in entries if e["sub"] is None)
    grouped = set(e["option"] for e in entries if e["sub"] is not None)
    assert flat & grouped == set(), "an option is both a group and a plain parameter"
    for entry in entries:
        for name in (entry["option"], entry["sub"]):
            assert name is None or re.match(r"^[a-z][a-z0-9_]*[a-z0-9]$", name), name


def test_plain_options_are_the_snake_case_of_their_parameter():
    for entry in rp.PARAMETERS:
        if entry["sub"] is None:
            assert entry["option"] == SNAKE_OVERRIDES.get(entry["param"], snake(entry["param"])), entry["param"]
    assert set(SNAKE_OVERRIDES) <= set(e["param"] for e in rp.PARAMETERS)


def test_entries_use_known_kinds_and_keys():
    known_keys = {"param", "section", "option", "sub", "kind", "values", "range", "max_length", "default", "object",
                  "role", "net_class", "read_back", "new_only", "requires", "eo_note"}
    for entry in rp.ALL_OPTIONS:
        assert entry["kind"] in rp.KINDS, entry
        assert set(entry) <= known_keys, sorted(set(entry) - known_keys)
        assert entry["section"] in SECTIONS
        assert (entry["kind"] == "object_name") == ("object" in entry), entry["param"]
        assert (entry["kind"] in ("recipients",)) == ("role" in entry), entry["param"]
        assert (entry["kind"] == "int") == ("range" in entry), entry["param"]
        if "range" in entry:
            low, high = entry["range"]
            assert low < high
        if "max_length" in entry:
            assert isinstance(entry["max_length"], int) and entry["max_length"] > 0
        for required in entry.get("requires", ()):
            assert required.lower() in rp.BY_PARAMETER, required
    for kind in rp.NOT_OPTION_KINDS.values():
        assert kind in rp.KINDS
    # every kind is used by something, and says how it reads back
    used = set(e["kind"] for e in rp.ALL_OPTIONS) | set(rp.NOT_OPTION_KINDS.values())
    assert used == set(rp.KINDS) == set(rp.READ_BACK)


def test_enums_are_non_empty_and_their_choices_do_not_collide():
    for entry in rp.ALL_OPTIONS:
        if entry["kind"] in ("enum", "enum_list"):
            values = entry.get("values")
            assert values and all(isinstance(v, str) and v for v in values), entry["param"]
            # the option takes the snake_case of each value: two values must never become one choice
            assert len(set(snake(v) for v in values)) == len(values), entry["param"]
            assert len(set(v.lower() for v in values)) == len(values), entry["param"]
            if "default" in entry:
                assert entry["default"] in values, entry["param"]
        else:
            assert "values" not in entry, entry["param"]
    assert not set(rp.SENT_TO_SCOPES_ON_PREMISES) & set(rp.BY_PARAMETER["senttoscope"]["values"])


def test_groups_are_complete():
    found = collections.defaultdict(list)
    for entry in rp.PARAMETERS:
        if entry["sub"] is not None:
            found[(entry["section"], entry["option"])].append(entry["sub"])
    assert set(found) == set(rp.GROUPS)
    for key, group in rp.GROUPS.items():
        assert tuple(found[key]) == group["subs"], key
        assert set(group["required"]) <= set(group["subs"]), key
        members = [e for e in rp.PARAMETERS if (e["section"], e["option"]) == key]
        assert len(members) >= 2, key
        # one predicate/action carries the whole group
        assert len(set(e.get("net_class") for e in members)) == 1, key
        # a sub-key that may be left out takes the service's default, except where either may be left out
        for entry in members:
            if entry["sub"] not in group["required"] and group["required"]:
                assert "default" in entry or entry["kind"] == "enum_list", (key, entry["sub"])


def test_every_non_option_has_a_category_a_reason_and_a_kind():
    assert set(rp.NOT_OPTION_KINDS) == set(rp.NOT_OPTIONS)
    for param, (category, reason, replacement) in rp.NOT_OPTIONS.items():
        assert category in rp.NOT_OPTION_CATEGORIES, param
        assert isinstance(reason, str) and len(reason) > 10, param
        if replacement is not None:
            section_option = replacement.split(":", maxsplit=1)[0].split(".")
            if len(section_option) == 1:
                assert any(e["option"] == section_option[0] for e in rp.PROPERTIES), param
            else:
                assert any(e["section"] == section_option[0] and e["option"] == section_option[1]
                           for e in rp.ALL_OPTIONS), param


def test_options_that_exist_today_keep_their_names():
    today = {
        "conditions": ("from", "from_scope", "from_member_of", "from_address_contains_words", "sent_to",
                       "sent_to_scope", "sent_to_member_of", "recipient_address_contains_words", "sender_domain_is",
                       "recipient_domain_is", "sender_ad_attribute_contains_words",
                       "sender_ad_attribute_matches_patterns", "sender_ip_ranges", "subject_contains_words",
                       "subject_or_body_contains_words", "header_contains"),
        "actions": ("route_message_outbound_connector", "route_message_outbound_require_tls", "set_header",
                    "remove_header", "prepend_subject", "set_scl", "add_to_recipients", "copy_to", "blind_copy_to",
                    "redirect_message_to", "stop_rule_processing", "reject_message"),
        "properties": ("name", "priority", "enabled", "mode", "comments", "activation_date", "expiry_date"),
    }
    supported = [e for e in rp.PARAMETERS if e["param"] in rp.SUPPORTED_BEFORE]
    assert len(supported) == len(rp.SUPPORTED_BEFORE)
    for section, options in today.items():
        assert set(e["option"] for e in supported if e["section"] == section) == set(options), section
    assert rp.GROUPS[("actions", "set_header")]["subs"] == ("name", "value")
    assert rp.GROUPS[("actions", "reject_message")]["subs"] == ("reason", "status_code")
    assert rp.GROUPS[("conditions", "header_contains")]["subs"] == ("header", "words")


def test_lookup_by_parameter_is_case_insensitive_and_complete():
    assert rp.BY_PARAMETER["exceptifattachmentsizeover"]["option"] == "attachment_size_over"
    assert rp.BY_PARAMETER["exceptifattachmentsizeover"]["section"] == "exceptions"
    assert len(rp.BY_PARAMETER) == len(rp.ALL_OPTIONS)
