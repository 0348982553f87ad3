# -*- coding: utf-8 -*-
"""Rule patterns are .NET regular expressions: what Python spells differently is rewritten, what it cannot do is
refused with the reason (simulation/dotnet_regex.py)."""

from __future__ import absolute_import, division, print_function

import sys

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils.simulation.dotnet_regex import (
    PatternError, compile_pattern, translate)


@pytest.mark.parametrize("pattern,text,matches", [
    (r"(?<year>\d{4})-\k<year>", "2026-2026", True),
    (r"(?'y'\d{2})\k'y'", "1212", True),
    (r"(?<1>a)\1", "aa", True),
    (r"end\z", "the end", True),
    (r"end\z", "the end\n", False),
    (r"end\Z", "the end\n", True),
    (r"end$", "the end\n", True),
    (r"a{,2}", "a{,2}", True),  # literal text in .NET, a quantifier in Python
    (r"a{,2}", "aa", False),
    (r"x{2}", "xx", True),
    (r"\e", "\x1b", True),
    (r"\cA", "\x01", True),
    (r"(?i)ABC", "abc", True),
    (r"x(?i)ABC", "xabc", True),  # matching is without case anyway
    (r"(?n)(a)b", "ab", True),
    (r"(?s:a.b)", "a\nb", True),
    (r"[a&&b]", "&", True),  # literal in a .NET class, a set operation Python warns about
    (r"[[x]", "[", True),
    (r"^RE:", "re: hi", True),
    (r"\bIBAN\b", "my iban", True),
    (r"(?<!\d)\d{3}(?!\d)", "a 123 b", True),
    pytest.param(r"(?>a+)b", "aab", True, marks=pytest.mark.skipif(sys.version_info < (3, 11),
                                                                   reason="atomic groups need Python 3.11")),
])
def test_dotnet_patterns_match_as_dotnet_does(pattern, text, matches):
    assert bool(compile_pattern(pattern).search(text)) is matches, translate(pattern)


@pytest.mark.parametrize("pattern,reason", [
    (r"\p{Lu}", "Unicode category"),
    (r"[\p{L}]", "Unicode category"),
    (r"[a-z-[aeiou]]", "subtraction"),
    (r"(?P<x>a)", "(?P"),
    (r"\Ga", "\\G"),
    (r"(?<a-b>x)", "balancing"),
    (r"(?(?=a)a|b)", "conditional"),
    (r"(?n)(a)\1", "explicit-capture"),
    (r"a(?-i)b", "case sensitivity"),
    (r"a(?m)b", "middle"),
    (r"(?<=a+)b", "variable-width"),
    (r"[abc", "unterminated"),
    ("", "empty"),
])
def test_patterns_python_cannot_evaluate_are_refused_with_the_reason(pattern, reason):
    with pytest.raises(PatternError) as info:
        compile_pattern(pattern)
    assert reason in info.value.reason


def test_translation_keeps_what_both_engines_share():
    for pattern in (r"^[A-Z]{2}\d{2}[A-Z0-9]{4}\d{7}([A-Z0-9]?){0,16}$", r"\w+@contoso\.com", r"(a|b)*c+?"):
        assert translate(pattern) == pattern
