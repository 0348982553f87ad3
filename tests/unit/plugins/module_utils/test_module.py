# -*- coding: utf-8 -*-
"""MailflowModule: the option is named when ansible-core's validation of a dictionary option does not name it."""

from __future__ import absolute_import, division, print_function

from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary as vocabulary
from ansible_collections.m365.mailflow.plugins.module_utils.module import misshapen_dicts


def test_dictionary_options_given_something_else_are_found_by_path():
    spec = vocabulary.argument_spec()
    assert misshapen_dicts(spec, {"conditions": ["subject_contains_words"]}) == ["conditions"]
    assert misshapen_dicts(spec, {"conditions": "recipient_domain_is", "exceptions": None}) == ["conditions"]
    assert misshapen_dicts(spec, {"actions": {"set_header": ["X-A", "1"], "prepend_subject": "[x] "}}) == [
        "actions.set_header"]
    assert misshapen_dicts(spec, {"conditions": {"recipient_domain_is": ["adatum.com"]}}) == []
