# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Field descriptors: how one managed property is declared, validated, compared, shown and sent.

A ``Value`` type says how one kind of value behaves (free text, a set of words or domains, recipients, a
size, an enum, a date...): its value check, its comparable form (``key``), how a read-back value is shown
(``display``), what is sent (``send``). A ``Field`` binds a value type to a module option (or a path in a
section, ``conditions.sender_ip_ranges``) and one cmdlet parameter; a ``Pair`` to two parameters set
together. Every object family uses them: the connector specs with ``Plain`` values (given by their key, display,
send and check functions), the rule vocabulary with the typed ones."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import Problem
from ansible_collections.m365.mailflow.plugins.module_utils.service_data import AD_ATTRIBUTES


_STATUS = re.compile(r"^5\.7\.(1|9\d\d)$")
# A header name: printable ASCII without space or colon (RFC 5322 field-name), at most 64 characters as the sandbox
# tenant enforces it (the length limit is inferred).
_HEADER_NAME = re.compile(r"^[\x21-\x39\x3b-\x7e]{1,64}$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_AD_BY_LOWER = dict((a.lower(), a) for a in AD_ATTRIBUTES)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name):
    """The option form of a cmdlet name or enum value: ``NotInOrganization`` -> ``not_in_organization``,
    ``AutoForward`` -> ``auto_forward``, ``OOF`` -> ``oof``, ``IdMatch`` -> ``id_match``."""
    return _CAMEL.sub("_", name).lower()


def choices(values, keep_case=False):
    """An enum table (option value -> canonical name) from the canonical names: snake_case option values, or the
    canonical names themselves (``keep_case``, for long lists of proper names such as AD attributes)."""
    return dict(((v if keep_case else snake(v)), v) for v in values)


class Value(object):
    """How one kind of value is declared, validated, compared, shown and sent."""

    multi = False
    arg = {"type": "str"}
    clear = None  # what is sent to remove the value

    def absent(self, value):
        return value is None or (isinstance(value, (str, list, dict)) and not value)

    def empty(self):
        return [] if self.multi else ""

    def error(self, field, value):
        return None

    def key(self, value):
        return value

    def display(self, raw):
        return raw

    def send(self, value):
        return value

    def shown(self, value):
        """How a value the user gave will read back (check-mode predictions)."""
        return value

    def read_back(self, raw):
        """The value in option form from what the service reads back, None when not set."""
        if self.multi:
            if raw in (None, ""):
                return None
            items = [self.display(v) for v in (raw if isinstance(raw, list) else [raw]) if v not in (None, "")]
            return items or None
        if raw is None or raw == "":
            return None
        value = self.display(raw)
        return None if self.absent(value) else value


class Plain(Value):
    """A value type given by its functions (the connector modules' fields): ``key`` its comparable form, ``display``
    a read-back value as a user writes it, ``send`` what the cmdlet is given, ``check(field, value, **check_args)``
    the value check (of each entry of a list). An unset value reads back as ``[]`` (lists) or ``unset`` (for example
    ``opportunistic`` for TlsSettings $null); an empty value and ``unset`` clear the parameter ($null)."""

    def __init__(self, multi=False, key=None, display=None, send=None, unset=None, check=None, **check_args):
        self.multi = multi
        self.arg = {"type": "list", "elements": "str"} if multi else {"type": "raw"}
        self.unset = unset
        self._key, self._display, self._send = key, display, send
        self.check, self.check_args = check, check_args

    def absent(self, value):
        return value in ("", [], None) or (self.unset is not None and value == self.unset)

    def error(self, field, value):
        return self.check(field, value, **self.check_args) if self.check else None

    def key(self, value):
        return self._key(value) if self._key else value

    def display(self, raw):
        return self._display(raw) if self._display else raw

    def send(self, value):
        return self._send(value) if self._send else value

    def read_back(self, raw):
        if self.multi:
            if raw is None:
                return []
            return [self.display(v) for v in (raw if isinstance(raw, list) else [raw])]
        return self.display(raw) if raw is not None else self.unset


class Text(Value):
    """Free text (subject prefix, header value, reason, comments), compared and sent exactly as given.

    The service stores text as given: a live record keeps ``"PrependSubject": "EXTERNAL: "`` with its trailing
    space (live_evidence.md), and the cmdlet reference recommends ending a prefix with a space. No text value is
    known to be trimmed by the service, so nothing is stripped here. ``blank`` False refuses a value of only white
    space (the sandbox and the service's non-empty text types); ``maximum`` limits the length.
    """

    def __init__(self, blank=True, maximum=None, controls=True):
        self.blank = blank
        self.maximum = maximum
        self.controls = controls  # False: control characters other than line breaks and tabs are refused

    def error(self, field, value):
        if not isinstance(value, str):
            return None
        if not self.blank and not value.strip():
            return "%s: a value of only white space is not allowed; give text, or '' to remove it" % field
        if not self.controls and n.control_character_error(field, value):
            return n.control_character_error(field, value)
        return n.length_error(field, value, self.maximum) if self.maximum else None


class CiText(Value):
    """A name compared case-insensitively (connector names)."""

    def key(self, value):
        return n.ci_key(value)


class HeaderName(CiText):
    """A message header name: printable ASCII without spaces or ':'; compared without case."""

    def error(self, field, value):
        if not _HEADER_NAME.match(str(value).strip()):
            return ("%s: '%s' is not a message header name; use printable ASCII without spaces or ':', at most 64 "
                    "characters (for example X-Partner)" % (field, value))
        return None


class Words(Value):
    """A list compared as a case-insensitive set, one entry per value (words). Blanks around a word are not part
    of it (list entries are trimmed when the service binds them: inferred, as the sandbox does)."""

    multi = True
    arg = {"type": "list", "elements": "str"}

    def error(self, field, value):
        if not isinstance(value, str) or not value.strip():
            return "%s: an empty word is not allowed; remove it from the list" % field
        return None

    def key(self, value):
        return n.ci_key(str(value))

    def send(self, value):
        return n.text_strip(value)


class Domains(Words):
    def error(self, field, value):
        return n.domain_error(field, value, allow_subdomain_wildcard=False)

    def key(self, value):
        return n.domain_key(str(value))

    def send(self, value):
        return n.domain_text(value)


class Recipients(Words):
    """Recipients (``From``, ``SentTo``, ``*MemberOf``, ``AddToRecipients``, ``CopyTo``...): a name, alias,
    display name or address, which the service resolves and stores as the recipient's primary SMTP address.

    The task resolves each value the same way first (``TransportRuleSpec.prepare``), so values compare as
    addresses without case. ``role`` says what the service requires of the recipient (read in the decompiled
    transport rule tasks, ``Utils.ValidateRecipientIdParameters`` and ``CheckRuleForOrganizationLimits``):
    ``sent_to`` and ``added`` (the actions that add recipients) refuse distribution groups; ``member_of`` expects
    a group (not enforced by the service: a warning here); ``sender`` takes any recipient.
    """

    def __init__(self, role="sender"):
        self.role = role

    def error(self, field, value):
        if not isinstance(value, str) or not value.strip():
            return "%s: an empty recipient is not allowed; give a name, alias or email address" % field
        return None

    def problem(self, field, value, found):
        """Why the resolved ``found`` cannot be used here (a failure), or None."""
        if found.get("problem"):
            return "%s: %s" % (field, found["problem"])
        if found.get("group") and self.role == "sent_to":
            return ("%s: '%s' is a group (%s), and Exchange Online refuses groups here; use %s_member_of to match "
                    "its members" % (field, value, found["address"], field))
        if found.get("group") and self.role == "moderator":
            return ("%s: '%s' is a group (%s); a moderator must be a person (Exchange Online refuses groups here). "
                    "Give the moderator's address" % (field, value, found["address"]))
        if found.get("group") and self.role == "added":
            return ("%s: '%s' is a group (%s), and Exchange Online does not let a mail flow rule add a group as a "
                    "recipient; give the addresses of people or mailboxes" % (field, value, found["address"]))
        return None

    def caution(self, field, value, found):
        """A warning about the resolved ``found`` (not a failure), or None."""
        if self.role != "member_of" or found.get("group"):
            return None
        if found.get("internal"):
            return ("%s: '%s' (%s) is not a group; Exchange Online accepts it, but the condition is about members of "
                    "a group" % (field, value, found["address"]))
        return ("%s: '%s' is not a recipient of the organisation, so it is not a group of it; Exchange Online keeps "
                "the address, but the condition is about members of a group" % (field, value))


class Recipient(Recipients):
    """One recipient (``GenerateIncidentReport``): resolved and compared like ``Recipients``, a single value."""

    multi = False
    arg = {"type": "str"}

    def empty(self):
        return ""


class Size(Value):
    """A ``ByteQuantifiedSize`` (``AttachmentSizeOver``...): written ``10MB``, ``10 MB``, ``10485760``..., read back
    ``10 MB (10,485,760 bytes)``, compared by bytes."""

    arg = {"type": "raw"}

    def error(self, field, value):
        return n.size_error(field, value)

    def key(self, value):
        size = n.parse_size(value)
        return value if size is None else size

    def shown(self, value):
        size = n.parse_size(value)
        return value if size is None else n.size_display(size)


class IpRanges(Words):
    """Rule IP ranges (``SenderIpRanges``): a CIDR block is sent as the network the service stores
    (``values.ip_range_text``), so what is predicted is what reads back."""

    def error(self, field, value):
        return n.ip_range_error(field, value)

    def send(self, value):
        return n.ip_range_text(value)

    def key(self, value):
        return n.ip_range_key(value)


class AdAttributes(Words):
    """``Attribute:value`` entries; the attribute must be one Exchange Online knows."""

    def __init__(self, patterns=False):
        self.patterns = patterns

    def error(self, field, value):
        attribute, sep, rest = str(value).partition(":")
        if not sep or not rest.strip():
            return ("%s: '%s' is not 'Attribute:%s' (for example Department:Accounting)"
                    % (field, value, "pattern" if self.patterns else "word1,word2"))
        if attribute.strip().lower() not in _AD_BY_LOWER:
            return ("%s: '%s' is not an attribute Exchange Online can match; use one of %s"
                    % (field, attribute.strip(), ", ".join(AD_ATTRIBUTES)))
        if self.patterns:
            return n.regex_error(field, rest.strip())
        return None

    def key(self, value):
        attribute, _sep, rest = str(value).partition(":")
        attribute = _AD_BY_LOWER.get(attribute.strip().lower(), attribute.strip()).lower()
        if self.patterns:
            return "%s:%s" % (attribute, rest.strip())
        return "%s:%s" % (attribute, ",".join(sorted(w.strip().lower() for w in rest.split(",") if w.strip())))


class PatternList(Words):
    """Regular expressions (``*MatchesPatterns``): each must be one the service's .NET engine accepts, refused up
    front with the option name; compared exactly (a pattern's case is part of it), as a set."""

    def error(self, field, value):
        if not isinstance(value, str) or not value:
            return "%s: an empty pattern is not allowed; remove it from the list" % field
        return n.regex_error(field, value)

    def key(self, value):
        return str(value)

    def send(self, value):
        return value


class PropertyWords(Words):
    """``Property:word1,word2`` entries (``AttachmentPropertyContainsWords``): any document property name;
    the words compare without case and order."""

    def error(self, field, value):
        name, sep, rest = str(value).partition(":")
        if not sep or not name.strip() or not rest.strip():
            return ("%s: '%s' is not 'Property:word1,word2' (for example 'Division:Sales,Finance')" % (field, value))
        return None

    def key(self, value):
        name, _sep, rest = str(value).partition(":")
        return "%s:%s" % (name.strip().lower(), ",".join(sorted(w.strip().lower() for w in rest.split(",") if w.strip())))


class Enum(Value):
    """snake_case choices mapped to the service's enum names, compared case-insensitively. ``canonical``: the value
    is written and shown as the service's name in any case (``extra_parameters``: ``medium`` = ``Medium``)."""

    def __init__(self, table, canonical=False):
        self.table = table
        self.canonical = canonical
        self.names = dict((v.lower(), v) for v in table.values())
        self.reverse = dict((v.lower(), k) for k, v in table.items())
        self.arg = {"type": "str", "choices": sorted(table)}

    def _name(self, value):
        """The service's name of an option value (or of a name in any case, when ``canonical``), or None."""
        if value in self.table:
            return self.table[value]
        return self.names.get(str(value).strip().lower()) if self.canonical else None

    def error(self, field, value):
        if self._name(value) is None:
            shown = sorted(self.names.values()) if self.canonical else sorted(self.table)
            return "%s: '%s' is not one of %s" % (field, value, ", ".join(shown))
        return None

    def key(self, value):
        return str(self._name(value) or value).lower()

    def display(self, raw):
        if self.canonical:
            return self.names.get(str(raw).lower(), raw)
        return self.reverse.get(str(raw).lower(), raw)

    def send(self, value):
        return self._name(value) or value

    def shown(self, value):
        return self.display(self.send(value))


class EnumList(Enum):
    """A list of enum values (``IncidentReportContent``): canonical names, compared as a set without case."""

    multi = True

    def __init__(self, table, canonical=False):
        super(EnumList, self).__init__(table, canonical)
        self.arg = {"type": "list", "elements": "str", "choices": sorted(table)}

    def empty(self):
        return []


class Flag(Value):
    """A boolean action: false (the read-back of an unused action) means 'not set'."""

    arg = {"type": "bool"}
    clear = False

    def absent(self, value):
        return value is None or value == "" or self.key(value) is False

    def empty(self):
        return False

    def key(self, value):
        """True/False, also from ``"true"``/``"false"`` (as ``extra_parameters`` may give them)."""
        return value if isinstance(value, bool) else str(value).strip().lower() == "true"

    display = key
    send = key
    shown = key


class Bool(Value):
    """A boolean property where false is a value (enabled)."""

    arg = {"type": "bool"}

    def absent(self, value):
        return value is None


class RuleState(Bool):
    """``enabled`` reads back as State Enabled/Disabled."""

    def display(self, raw):
        return raw if isinstance(raw, bool) else str(raw).lower() == "enabled"


class Int(Value):
    """An integer within ``minimum``..``maximum`` (inclusive); an empty string clears it. Numbers written as strings
    compare as numbers (the service reads back an int)."""

    arg = {"type": "raw"}
    what = "an integer"

    def __init__(self, minimum=None, maximum=None):
        self.minimum, self.maximum = minimum, maximum

    def error(self, field, value):
        number = self._int(value)
        if (number is None or (self.minimum is not None and number < self.minimum)
                or (self.maximum is not None and number > self.maximum)):
            return ("%s: '%s' is not %s from %s to %s; or give an empty string to remove it"
                    % (field, value, self.what, self.minimum, self.maximum))
        return None

    @staticmethod
    def _int(value):
        if isinstance(value, bool):
            return None
        try:
            return int(str(value).strip())
        except ValueError:
            return None

    def key(self, value):
        return self._int(value)

    display = key
    send = key
    shown = key


class Scl(Int):
    """Spam confidence level -1..9 (``SetSCL``, ``SCLOver``); an empty string clears it."""

    def __init__(self):
        super(Scl, self).__init__(-1, 9)

    def error(self, field, value):
        number = self._int(value)
        if number is None or not -1 <= number <= 9:
            return ("%s: '%s' is not a spam confidence level; give an integer from -1 (bypass spam filtering) to 9, "
                    "or an empty string to remove the action" % (field, value))
        return None


class StatusCode(Value):
    def error(self, field, value):
        if not _STATUS.match(str(value).strip()):
            return ("%s: '%s' is not an enhanced status code Exchange Online accepts for a rejection; use 5.7.1 or a "
                    "code from 5.7.900 to 5.7.999" % (field, value))
        return None

    def key(self, value):
        return str(value).strip()


class Date(Value):
    def error(self, field, value):
        if n.parse_date(value) is None:
            return ("%s: '%s' is not a date; write YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM "
                    "offset (no offset means UTC), for example 2026-07-01T08:00:00Z" % (field, value))
        return None

    def key(self, value):
        stamp = n.parse_date(value, strict=False)
        return stamp.isoformat() if stamp else value

    display = staticmethod(n.date_display)
    send = staticmethod(n.date_wire)
    shown = staticmethod(n.date_display)


def _raw_item(value, ci):
    """Comparison form of one ``extra_parameters`` value: typed like the service reads it back."""
    if value is None:
        return ("z", "")
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", float(value))
    if isinstance(value, dict):
        return ("d", tuple(sorted(((str(k).lower(), _raw_item(v, True)) for k, v in value.items()), key=repr)))
    text = str(value)
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return ("b", lowered == "true")  # a boolean written as a string
    if _NUMBER.match(text.strip()):
        return ("n", float(text.strip()))  # a number written as a string
    if ci or _IDENTIFIER.match(text.strip()):
        # Enums read back in their canonical case (SetAuditSeverity: medium -> Medium); list entries (words,
        # domains, names) compare without case like the module's own list keys. Inferred for parameters of
        # unknown type: a single word of letters and digits is taken to be an enum or a name.
        return ("s", lowered)
    return ("s", text)


class Raw(Value):
    """``extra_parameters`` of no known type: sent as given, compared like the service reads them back. Booleans
    and numbers are typed (``"true"`` = ``true``, ``"5"`` = ``5``), a single word compares without case (enums come
    back in canonical case), lists compare as sets (a single value equals a list holding only it), other text
    exactly."""

    arg = {"type": "raw"}

    def key(self, value):
        if isinstance(value, (list, tuple)):
            return tuple(sorted(set(_raw_item(v, True) for v in value), key=repr))
        return (_raw_item(value, False),)


class Patterns(Raw):
    """``extra_parameters`` that take regular expressions (``*MatchesPatterns``), compared exactly as a set.
    ``attribute`` patterns are ``Attribute:pattern`` (``*ADAttributeMatchesPatterns``)."""

    def __init__(self, attribute=False):
        self.attribute = attribute

    def error(self, field, value):
        for item in value if isinstance(value, list) else [value]:
            pattern = str(item)
            if self.attribute:
                _attribute, sep, pattern = pattern.partition(":")
                if not sep:
                    return "%s: '%s' is not 'Attribute:pattern' (for example Title:^Head)" % (field, item)
            problem = n.regex_error(field, pattern.strip() if self.attribute else pattern)
            if problem:
                return problem
        return None

    def key(self, value):
        return tuple(sorted(set(str(v) for v in (value if isinstance(value, list) else [value]))))


class Field(object):
    """One managed property: module option (or ``section.option`` path) <-> one cmdlet parameter, read back from
    ``read`` (default the parameter), its values described by ``value`` (a ``Value`` type). The one descriptor of
    every object family: the engine compares, sends and shows every field through it, and a spec's pre-flight runs
    every field's value check (``errors``)."""

    def __init__(self, option, param, value=None, read=None, section=""):
        self.section = section
        self.option = option
        self.path = "%s.%s" % (section, option) if section else option
        self.param = param
        self.read = read or param
        self.value = value if value is not None else Plain()

    @property
    def params(self):
        return (self.param,)

    def arg(self):
        return dict(self.value.arg)

    def absent(self, value):
        return self.value.absent(value)

    def empty(self):
        return self.value.empty()

    def current(self, obj):
        """The value in option form as read back (what ``value.read_back`` makes of it)."""
        return self.value.read_back(obj.get(self.read))

    def comparable(self, value):
        if self.absent(value):
            return None
        if self.value.multi:
            items = [value] if isinstance(value, str) else value  # one value for a list: bound as a list of it
            return tuple(sorted(set(self.value.key(v) for v in items)))
        return self.value.key(value)

    def differs(self, desired, current):
        return self.comparable(desired) != self.comparable(current)

    def shown(self, value):
        """How a desired value will read back (for check-mode predictions)."""
        if self.absent(value):
            return None
        if self.value.multi:
            return [self.value.send(v) for v in n.unique(value, self.value.key)]
        return self.value.shown(value)

    def to_params(self, value):
        """The parameters that set ``value``: lists with one entry per value, in the form the service stores."""
        if self.absent(value):
            return {self.param: self.value.clear}
        if self.value.multi:
            return {self.param: [self.value.send(v) for v in n.unique(value, self.value.key)]}
        return {self.param: self.value.send(value)}

    def errors(self, value):
        """The value check's problems (``errors.Problem`` records: this field's path, the list entry's index)."""
        if self.absent(value):
            return []
        if self.value.multi:
            if not isinstance(value, list):
                return [Problem(self.path, "give a list")]
            found = ((index, self.value.error(self.path, v)) for index, v in enumerate(value))
            return [Problem.of(self.path, text, entry=index) for index, text in found if text]
        text = self.value.error(self.path, value)
        return [Problem.of(self.path, text)] if text else []


class Pair(Field):
    """A property made of several parameters that travel together (header_contains, set_header, reject_message).

    ``required``: every sub-key must be given; otherwise at least one must be, and a sub-key left out is the
    service's default (not compared, not sent).
    """

    def __init__(self, option, subs, required=True, section="", needs=()):
        self.section = section
        self.needs = tuple(needs)  # sub-keys that must be given even when the others take their defaults
        self.option = option
        self.path = "%s.%s" % (section, option)
        self.subs = [Field("%s.%s" % (option, sub), param, value, section=section) for sub, param, value in subs]
        self.names = [sub for sub, _param, _value in subs]
        self.required = required

    @property
    def params(self):
        return tuple(p.param for p in self.subs)

    def arg(self):
        return {"type": "dict", "options": dict((name, sub.arg()) for name, sub in zip(self.names, self.subs))}

    def _items(self, value):
        value = value or {}
        return [(name, sub, value.get(name)) for name, sub in zip(self.names, self.subs)]

    def absent(self, value):
        return value is None or (isinstance(value, dict) and all(sub.absent(v) for _name, sub, v in self._items(value)))

    def empty(self):
        return {}

    def current(self, obj):
        value = dict((name, sub.current(obj)) for name, sub in zip(self.names, self.subs))
        return None if self.absent(value) else value

    def comparable(self, value):
        if self.absent(value):
            return None
        return tuple(sub.comparable(v) for _name, sub, v in self._items(value))

    def differs(self, desired, current):
        if self.absent(desired) or self.absent(current):
            return self.absent(desired) != self.absent(current)
        for _name, sub, want in self._items(desired):
            if sub.absent(want) and not self.required:
                continue  # left to the service's default
            if sub.differs(want, (current or {}).get(_name)):
                return True
        return False

    def shown(self, value):
        if self.absent(value):
            return None
        return dict((name, sub.shown(v)) for name, sub, v in self._items(value))

    def to_params(self, value):
        params = {}
        if self.absent(value):
            for sub in self.subs:
                params[sub.param] = sub.value.clear
            return params
        for _name, sub, v in self._items(value):
            if not sub.absent(v) or self.required:
                params.update(sub.to_params(v))
        return params

    def errors(self, value):
        if self.absent(value):
            return []
        if not isinstance(value, dict):
            return [Problem(self.path, "give a dictionary with %s" % " and ".join(self.names))]
        unknown = sorted(set(value) - set(self.names))
        if unknown:
            return [Problem(self.path, "unknown key(s) %s; it takes %s" % (", ".join(unknown), " and ".join(self.names)))]
        missing = [name for name, sub, v in self._items(value) if sub.absent(v)]
        errors = []
        if self.required and missing:
            errors.append(Problem(self.path, "%s missing; %s must be given together (Exchange Online needs the pair)"
                                  % (" and ".join(missing), " and ".join(self.names))))
        elif not self.required and [m for m in missing if m in self.needs]:
            errors.append(Problem(self.path, "%s missing; it is needed whenever %s is set (the other keys take the "
                                             "service's default)"
                                  % (" and ".join(m for m in missing if m in self.needs), self.path)))
        for _name, sub, v in self._items(value):
            errors.extend(sub.errors(v))
        return errors
