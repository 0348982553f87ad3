# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rule patterns as Exchange Online applies them: .NET regular expressions, run with Python's ``re``.

Exchange Online evaluates the ``*MatchesPatterns`` conditions with .NET's ``Regex`` (New-TransportRule reference;
``UseLegacyRegex $false``, the default, is the Exchange 2013 and later syntax). The two engines share most of their
syntax; ``translate`` rewrites what is spelled differently and refuses, with the reason, what Python cannot do, so a
simulation never silently matches differently from the service:

==================================  =========================================  ===================================
.NET                                Python                                     here
==================================  =========================================  ===================================
``(?<name>x)``, ``(?'name'x)``      ``(?P<name>x)``                            rewritten
``\\k<name>``, ``\\k'name'``        ``(?P=name)``                              rewritten
``\\z`` (end of text)               ``\\Z``                                    rewritten
``\\Z`` (end, or before a final     (no such anchor)                           rewritten to ``(?=\\n?\\Z)``
newline)
``\\e``, ``\\cX``                   ``\\x1b``, ``\\xNN``                        rewritten
``{,n}`` (literal text in .NET)     a quantifier {0,n} in Python               the brace escaped
``(?i)`` anywhere                   only at the start                          dropped (matching is always without
                                                                               case, see below)
``(?n)``, ``n`` in ``(?n:...)``     (no explicit-capture option)               dropped when the pattern has no
                                                                               numbered back-reference, else refused
``[a-z-[aeiou]]`` (subtraction)     (none)                                     refused
``\\p{L}``, ``\\P{Lu}`` (Unicode     (none in ``re``)                           refused
categories)
``\\G``, balancing groups            (none)                                     refused
``(?<a-b>x)``
``(?(expr)yes|no)`` with an         only a group name or number                refused unless a name or number
expression
variable-width look-behind          fixed width only                           refused (Python's own error)
``(?P<...>)`` (Python syntax)       valid in Python                            refused: .NET rejects it
==================================  =========================================  ===================================

Matching is ``re.search`` (the pattern may match anywhere, as ``Regex.IsMatch``) without case (``IGNORECASE``):
Exchange's text conditions do not depend on case; that the patterns do not either is inferred, and the answer of a
simulation lists it among its assumptions. ``\\w``, ``\\d`` and ``\\s`` are Unicode-aware in both engines; their exact
character sets differ in rare code points (for example .NET's ``\\w`` includes the connector punctuation and mark
categories), which is not modelled.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import warnings


class PatternError(ValueError):
    """A pattern the simulator cannot evaluate as .NET would; ``reason`` says why and what to do."""

    def __init__(self, pattern, reason):
        super(PatternError, self).__init__("'%s': %s" % (pattern, reason))
        self.pattern = pattern
        self.reason = reason


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPTIONS = re.compile(r"\(\?([imnsx]*)(?:-([imnsx]*))?([:)])")
_QUANTIFIER = re.compile(r"\{\d+(?:,\d*)?\}")
_CACHE = {}
_CACHE_MAX = 4096


def _control(letter):
    return "\\x%02x" % (ord(letter.upper()) - 64)


def _escape(pattern, i, in_class):
    """(python text, new index) for the escape starting at ``pattern[i]`` (a backslash)."""
    if i + 1 >= len(pattern):
        raise PatternError(pattern, "ends with a lone backslash (illegal in .NET too)")
    c = pattern[i + 1]
    if c in "pP":
        raise PatternError(pattern, "uses the Unicode category \\%s{...}, which Python's re cannot evaluate; write the "
                                    "characters as a class such as [A-Za-z] to simulate it" % c)
    if c == "G":
        raise PatternError(pattern, "uses \\G (the end of the previous match), which has no meaning for a single match "
                                    "and no equivalent in Python's re")
    if c == "e":
        return "\\x1b", i + 2
    if c == "c":
        if i + 2 >= len(pattern) or not pattern[i + 2].isalpha():
            raise PatternError(pattern, "\\c must be followed by a letter (a control character)")
        return _control(pattern[i + 2]), i + 3
    if not in_class:
        if c == "z":
            return "\\Z", i + 2
        if c == "Z":
            return "(?=\\n?\\Z)", i + 2
        if c == "k" and i + 2 < len(pattern) and pattern[i + 2] in "<'":
            close = ">" if pattern[i + 2] == "<" else "'"
            end = pattern.find(close, i + 3)
            name = pattern[i + 3:end] if end > 0 else ""
            if not name:
                raise PatternError(pattern, "has an unterminated \\k back-reference")
            if name.isdigit():
                return "(?:\\%s)" % name, end + 1
            return "(?P=%s)" % name, end + 1
    if c == "x" and pattern[i + 2:i + 3] == "{":
        raise PatternError(pattern, "uses \\x{...}, which .NET does not accept either; write \\xNN or \\uNNNN")
    return pattern[i:i + 2], i + 2


def _class(pattern, i):
    """(python text, new index) for the character class starting at ``pattern[i]`` ('[')."""
    out = ["["]
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        out.append("^")
        j += 1
    first = True
    while j < len(pattern):
        c = pattern[j]
        if c == "]" and not first:
            out.append("]")
            return "".join(out), j + 1
        if c == "\\":
            text, j = _escape(pattern, j, in_class=True)
            out.append(text)
        elif c == "-" and pattern[j + 1:j + 2] == "[":
            raise PatternError(pattern, "uses character class subtraction ([a-z-[aeiou]]), which Python's re cannot "
                                        "evaluate; list the characters of the class instead")
        elif c in "[&~|":
            out.append("\\" + c)  # literal in a .NET class; escaped so Python never reads a set operation
            j += 1
        elif c == "-" and pattern[j + 1:j + 2] == "-":
            out.append("\\-")
            j += 1
        else:
            out.append(c)
            j += 1
        first = False
    raise PatternError(pattern, "has an unterminated character class (illegal in .NET too)")


def translate(pattern):
    """The Python ``re`` form of the .NET pattern ``pattern``, or raise ``PatternError``."""
    if not isinstance(pattern, str) or not pattern:
        raise PatternError(pattern, "is empty; give a regular expression")
    out = []
    i = 0
    numbered_backref = re.search(r"\\[1-9]", pattern) is not None
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            text, i = _escape(pattern, i, in_class=False)
            out.append(text)
            continue
        if c == "[":
            text, i = _class(pattern, i)
            out.append(text)
            continue
        if c == "{":
            if not _QUANTIFIER.match(pattern, i):
                out.append("\\{")  # .NET reads a brace that does not start {n}, {n,} or {n,m} as text
                i += 1
                continue
            end = pattern.index("}", i)
            out.append(pattern[i:end + 1])
            i = end + 1
            continue
        if c == "(" and pattern[i + 1:i + 2] == "?":
            text, i = _group_open(pattern, i, numbered_backref, at_start=not "".join(out))
            out.append(text)
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _group_open(pattern, i, numbered_backref, at_start):
    """(python text, new index) for a group opening ``(?`` at ``pattern[i]``."""
    rest = pattern[i + 2:]
    if rest.startswith("P"):
        raise PatternError(pattern, "uses Python's (?P...) group syntax, which .NET rejects; write (?<name>...)")
    if rest.startswith("<") and rest[1:2] not in ("=", "!"):
        return _named(pattern, i, i + 3, ">")
    if rest.startswith("'"):
        return _named(pattern, i, i + 3, "'")
    if rest.startswith("("):
        inner = re.match(r"\(([A-Za-z_][A-Za-z0-9_]*|\d+)\)", rest)
        if not inner:
            raise PatternError(pattern, "uses a conditional group with an expression (?(expression)yes|no), which "
                                        "Python's re cannot evaluate; only (?(name)...) or (?(1)...) can be simulated")
        return "(?(" + inner.group(1) + ")", i + 3 + len(inner.group(1)) + 1
    match = _OPTIONS.match(pattern, i)
    if match:
        on, off, tail = match.group(1), match.group(2) or "", match.group(3)
        if "n" in on + off:
            if numbered_backref:
                raise PatternError(pattern, "uses the explicit-capture option (?n) with numbered back-references, "
                                            "whose numbering Python's re cannot reproduce")
            on, off = on.replace("n", ""), off.replace("n", "")
        on = on.replace("i", "")  # every pattern is matched without case already
        if tail == ")":
            if off and "i" in off:
                raise PatternError(pattern, "turns case sensitivity on in the middle ((?-i)); the simulator matches "
                                            "without case, as the service does for rule text, and cannot scope it")
            off = off.replace("i", "")
            if not on and not off:
                return "", match.end()
            if at_start and not off:
                return "(?%s)" % on, match.end()
            raise PatternError(pattern, "changes options in the middle of the pattern ((?%s%s)), which Python's re "
                                        "allows only at the start; use a scoped group (?%s:...)"
                                        % (on, "-" + off if off else "", on or "-" + off))
        off = off.replace("i", "")
        flags = on + ("-" + off if off else "")
        return "(?%s:" % flags if flags else "(?:", match.end()
    return "(?", i + 2


def _named(pattern, i, start, close):
    end = pattern.find(close, start)
    name = pattern[start:end] if end > 0 else ""
    if "-" in name:
        raise PatternError(pattern, "uses a balancing group (?<%s>...), which Python's re cannot evaluate" % name)
    if not _NAME.fullmatch(name):
        if name.isdigit():
            return "(", end + 1  # (?<1>...) is group number 1: an ordinary group
        raise PatternError(pattern, "has a group name '%s' Python's re cannot take" % name)
    return "(?P<%s>" % name, end + 1


def compile_pattern(pattern):
    """The compiled form of a .NET pattern (searched without case), cached; raise ``PatternError``."""
    compiled = _CACHE.get(pattern)
    if compiled is not None:
        return compiled
    text = translate(pattern)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = re.compile(text, re.IGNORECASE)
    except re.error as exc:
        raise PatternError(pattern, "cannot be evaluated by Python's re (%s); .NET may accept it (for example a "
                                    "variable-width look-behind), so the simulator cannot say how it matches" % exc)
    except (OverflowError, RecursionError):
        raise PatternError(pattern, "is too large for Python's re")
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[pattern] = compiled
    return compiled
