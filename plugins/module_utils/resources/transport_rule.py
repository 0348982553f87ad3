# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mail flow (transport) rules: the condition / exception / action table, priorities and pre-flight rules.

The user writes ``conditions``, ``exceptions`` and ``actions`` as dictionaries with snake_case keys. Internally a
rule is handled in *flat* form, one entry per property path (``conditions.sender_ip_ranges``, ``actions.set_header``,
``mode``, ``extra_parameters.SetAuditSeverity``...), each described by a ``Prop`` that knows its cmdlet
parameter(s), how to validate, compare, show and send its value. ``None`` in the desired state means "not
managed"; an empty value (``[]``, ``""``, ``{}``, ``false`` for flags) means "must not be set" and clears it.

All rules are read with one ``Get-TransportRule -ResultSize Unlimited``; the list gives the rule, the priorities
needed to place it (``position``) and, compared with the list after the task, the rules whose priority shifted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.m365.mailflow.plugins.module_utils import engine
from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.resources import outbound_connector as outbound
from ansible_collections.m365.mailflow.plugins.module_utils.engine import ResourceSpec
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    ConfigurationError,
    InvalidParameterError,
    MailflowError,
    NotFoundError,
)
from ansible_collections.m365.mailflow.plugins.module_utils.service_data import GROUP_RECIPIENT_TYPES, RULE_SIZE_MAX

NAME_MAX = 64
COMMENTS_MAX = 1024
SECTIONS = ("conditions", "exceptions", "actions")

# Attributes Exchange Online accepts in SenderADAttributeContainsWords / ...MatchesPatterns.
AD_ATTRIBUTES = tuple(
    ["City", "Company", "Country", "Department", "DisplayName", "Email", "FaxNumber", "FirstName", "HomePhoneNumber",
     "Initials", "LastName", "Manager", "MobileNumber", "Notes", "Office", "OtherFaxNumber", "OtherHomePhoneNumber",
     "OtherPhoneNumber", "PagerNumber", "PhoneNumber", "POBox", "State", "Street", "Title", "UserLogonName", "ZipCode"]
    + ["CustomAttribute%d" % i for i in range(1, 16)])
_AD_BY_LOWER = dict((a.lower(), a) for a in AD_ATTRIBUTES)

# Cmdlet parameters that are rule actions or rule properties, never conditions: used to tell whether
# ``extra_parameters`` adds a condition (a rule without any condition or exception applies to all mail).
NON_CONDITION_PARAMETERS = frozenset(p.lower() for p in (
    "AddManagerAsRecipientType", "AddToRecipients", "ApplyClassification", "ApplyHtmlDisclaimerFallbackAction",
    "ApplyHtmlDisclaimerLocation", "ApplyHtmlDisclaimerText", "ApplyOME", "ApplyRightsProtectionCustomizationTemplate",
    "ApplyRightsProtectionTemplate", "BlindCopyTo", "CopyTo", "DeleteMessage", "GenerateIncidentReport",
    "GenerateNotification", "IncidentReportContent", "ModerateMessageByManager", "ModerateMessageByUser",
    "NotifySender", "PrependSubject", "Quarantine", "RedirectMessageTo", "RejectMessageEnhancedStatusCode",
    "RejectMessageReasonText", "RemoveHeader", "RemoveOME", "RemoveOMEv2", "RemoveRMSAttachmentEncryption",
    "RouteMessageOutboundConnector", "RouteMessageOutboundRequireTls", "SetAuditSeverity", "SetHeaderName",
    "SetHeaderValue", "SetSCL", "SmtpRejectMessageRejectStatusCode", "SmtpRejectMessageRejectText",
    "StopRuleProcessing", "RuleErrorAction", "SenderAddressLocation", "RuleSubType", "UseLegacyRegex",
    "DlpPolicy",
))
# Parameters that have their own module option (or are the identity): refused in extra_parameters.
RESERVED_PARAMETERS = {
    "name": "name", "identity": "name", "priority": "priority or position", "enabled": "enabled",
    "state": "enabled", "mode": "mode", "comments": "comments", "activationdate": "activation_date",
    "expirydate": "expiry_date", "confirm": None, "whatif": None,
}

_DATE = re.compile(
    r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<frac>\.\d+)?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)
_MS_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?:[+-]\d{4})?\)/$")
_STATUS = re.compile(r"^5\.7\.(1|9\d\d)$")
_PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
# A header name: printable ASCII without space or colon (RFC 5322 field-name), at most 64 characters as the sandbox
# tenant enforces it (the length limit is inferred).
_HEADER_NAME = re.compile(r"^[\x21-\x39\x3b-\x7e]{1,64}$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
REASON_MAX = 1024  # RejectMessageReasonText (the sandbox's limit; inferred)

# extra_parameters whose values the service reads back in another form than they are written, by cmdlet parameter
# (New-TransportRule reference, parameter types). Sizes are ByteQuantifiedSize ("10 MB (10,485,760 bytes)");
# recipients are RecipientIdParameter[] (read back as primary SMTP addresses, like the module's own recipient keys);
# patterns are regular expressions (validated like the module's *_matches_patterns keys).
SIZE_PARAMETERS = frozenset(p.lower() for p in (
    "AttachmentSizeOver", "ExceptIfAttachmentSizeOver", "MessageSizeOver", "ExceptIfMessageSizeOver"))
RECIPIENT_PARAMETERS = dict((p.lower(), role) for p, role in (
    ("AnyOfToHeader", "sender"), ("ExceptIfAnyOfToHeader", "sender"),
    ("AnyOfCcHeader", "sender"), ("ExceptIfAnyOfCcHeader", "sender"),
    ("AnyOfToCcHeader", "sender"), ("ExceptIfAnyOfToCcHeader", "sender"),
    ("AnyOfToHeaderMemberOf", "member_of"), ("ExceptIfAnyOfToHeaderMemberOf", "member_of"),
    ("AnyOfCcHeaderMemberOf", "member_of"), ("ExceptIfAnyOfCcHeaderMemberOf", "member_of"),
    ("AnyOfToCcHeaderMemberOf", "member_of"), ("ExceptIfAnyOfToCcHeaderMemberOf", "member_of"),
    ("BetweenMemberOf1", "member_of"), ("ExceptIfBetweenMemberOf1", "member_of"),
    ("BetweenMemberOf2", "member_of"), ("ExceptIfBetweenMemberOf2", "member_of"),
    ("ManagerAddresses", "sender"), ("ExceptIfManagerAddresses", "sender"), ("ModerateMessageByUser", "sender"),
))


# --------------------------------------------------------------------------- dates

def parse_date(value, strict=True):
    """A timezone-aware UTC datetime from ``value``, or None when it is not a date.

    ``strict`` accepts what a user may write (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]`` with an optional ``Z``
    or ``+HH:MM``; no offset means UTC). Read-back values may also carry fractions and ``/Date(ms)/``.
    """
    if isinstance(value, datetime.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return stamp.astimezone(datetime.timezone.utc)
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _MS_DATE.match(text)
    if match and not strict:
        return datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(milliseconds=int(match.group("ms")))
    match = _DATE.match(text)
    if not match or (strict and match.group("frac")):
        return None
    tz = datetime.timezone.utc
    offset = match.group("tz")
    if offset and offset.upper() != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        stamp = datetime.datetime(int(match.group("y")), int(match.group("m")), int(match.group("d")),
                                  int(match.group("H") or 0), int(match.group("M") or 0), int(match.group("S") or 0),
                                  tzinfo=tz)
    except ValueError:
        return None
    return stamp.astimezone(datetime.timezone.utc)


def _value_bytes(value):
    """Bytes of the text of a value (UTF-8, without separators): a lower bound of what it takes in the rule."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, dict):
        return sum(_value_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_value_bytes(v) for v in value)
    return len(str(value).encode("utf-8"))


def date_display(value):
    stamp = parse_date(value, strict=False)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else value


def date_wire(value):
    """The form the real module sends: ``yyyy-MM-ddTHH:mm:ss`` in UTC, without a zone suffix."""
    return parse_date(value).strftime("%Y-%m-%dT%H:%M:%S")


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


# --------------------------------------------------------------------------- value types

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


class Text(Value):
    """Free text (subject prefix, header value, reason, comments), compared and sent exactly as given.

    The service stores text as given: a live record keeps ``"PrependSubject": "EXTERNAL: "`` with its trailing
    space (live_evidence.md), and the cmdlet reference recommends ending a prefix with a space. No text value is
    known to be trimmed by the service, so nothing is stripped here. ``blank`` False refuses a value of only white
    space (the sandbox and the service's non-empty text types); ``maximum`` limits the length.
    """

    def __init__(self, blank=True, maximum=None):
        self.blank = blank
        self.maximum = maximum

    def error(self, field, value):
        if not isinstance(value, str):
            return None
        if not self.blank and not value.strip():
            return "%s: a value of only white space is not allowed; give text, or '' to remove it" % field
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
    def error(self, field, value):
        return n.ip_range_error(field, value)

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


class Enum(Value):
    """snake_case choices mapped to the service's enum names, compared case-insensitively."""

    def __init__(self, table):
        self.table = table
        self.reverse = dict((v.lower(), k) for k, v in table.items())
        self.arg = {"type": "str", "choices": sorted(table)}

    def error(self, field, value):
        if value not in self.table:
            return "%s: '%s' is not one of %s" % (field, value, ", ".join(sorted(self.table)))
        return None

    def key(self, value):
        return str(self.table.get(value, value)).lower()

    def display(self, raw):
        return self.reverse.get(str(raw).lower(), raw)

    def send(self, value):
        return self.table.get(value, value)


class Flag(Value):
    """A boolean action: false (the read-back of an unused action) means 'not set'."""

    arg = {"type": "bool"}
    clear = False

    def absent(self, value):
        return value is None or value is False or value == ""

    def empty(self):
        return False

    def display(self, raw):
        return raw if isinstance(raw, bool) else str(raw).lower() == "true"


class Bool(Value):
    """A boolean property where false is a value (enabled)."""

    arg = {"type": "bool"}

    def absent(self, value):
        return value is None


class RuleState(Bool):
    """``enabled`` reads back as State Enabled/Disabled."""

    def display(self, raw):
        return raw if isinstance(raw, bool) else str(raw).lower() == "enabled"


class Scl(Value):
    """Spam confidence level -1..9; an empty string clears it."""

    arg = {"type": "raw"}

    @staticmethod
    def _int(value):
        if isinstance(value, bool):
            return None
        try:
            return int(str(value).strip())
        except ValueError:
            return None

    def error(self, field, value):
        number = self._int(value)
        if number is None or not -1 <= number <= 9:
            return ("%s: '%s' is not a spam confidence level; give an integer from -1 (bypass spam filtering) to 9, "
                    "or an empty string to remove the action" % (field, value))
        return None

    def key(self, value):
        return self._int(value)

    display = key
    send = key
    shown = key


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
        if parse_date(value) is None:
            return ("%s: '%s' is not a date; write YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM "
                    "offset (no offset means UTC), for example 2026-07-01T08:00:00Z" % (field, value))
        return None

    def key(self, value):
        stamp = parse_date(value, strict=False)
        return stamp.isoformat() if stamp else value

    display = staticmethod(date_display)
    send = staticmethod(date_wire)
    shown = staticmethod(date_display)


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


def extra_value(param):
    """The value type of an ``extra_parameters`` entry, by its cmdlet parameter name."""
    lowered = param.lower()
    if lowered in SIZE_PARAMETERS:
        return Size()
    if lowered in RECIPIENT_PARAMETERS:
        return Recipients(RECIPIENT_PARAMETERS[lowered])
    if lowered.endswith("matchespatterns"):
        return Patterns(attribute="adattribute" in lowered)
    return Raw()


# --------------------------------------------------------------------------- properties

class Prop(object):
    """One rule property in flat form: option path <-> one cmdlet parameter."""

    def __init__(self, section, option, param, value, read=None):
        self.section = section
        self.option = option
        self.path = "%s.%s" % (section, option) if section else option
        self.param = param
        self.read = read or param
        self.value = value

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
        """The value in option form as read back, None when not set."""
        raw = obj.get(self.read)
        if self.value.multi:
            if raw in (None, ""):
                return None
            items = [self.value.display(v) for v in (raw if isinstance(raw, list) else [raw]) if v not in (None, "")]
            return items or None
        if raw is None or raw == "":
            return None
        value = self.value.display(raw)
        return None if self.absent(value) else value

    def comparable(self, value):
        if self.absent(value):
            return None
        if self.value.multi:
            return tuple(sorted(set(self.value.key(v) for v in value)))
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
        if self.absent(value):
            return []
        if self.value.multi:
            if not isinstance(value, list):
                return ["%s: give a list" % self.path]
            return [self.value.error(self.path, v) for v in value]
        return [self.value.error(self.path, value)]


class Pair(Prop):
    """A property made of several parameters that travel together (header_contains, set_header, reject_message).

    ``required``: every sub-key must be given; otherwise at least one must be, and a sub-key left out is the
    service's default (not compared, not sent).
    """

    def __init__(self, section, option, subs, required=True):
        self.section = section
        self.option = option
        self.path = "%s.%s" % (section, option)
        self.subs = [Prop(section, "%s.%s" % (option, sub), param, value) for sub, param, value in subs]
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
            return ["%s: give a dictionary with %s" % (self.path, " and ".join(self.names))]
        unknown = sorted(set(value) - set(self.names))
        if unknown:
            return ["%s: unknown key(s) %s; it takes %s" % (self.path, ", ".join(unknown), " and ".join(self.names))]
        missing = [name for name, sub, v in self._items(value) if sub.absent(v)]
        errors = []
        if self.required and missing:
            errors.append("%s: %s missing; %s must be given together (Exchange Online needs the pair)"
                          % (self.path, " and ".join(missing), " and ".join(self.names)))
        for _name, sub, v in self._items(value):
            errors.extend(sub.errors(v))
        return errors


SCOPES = {"in_organization": "InOrganization", "not_in_organization": "NotInOrganization"}
MODES = {"enforce": "Enforce", "audit": "Audit", "audit_and_notify": "AuditAndNotify"}

# snake_case key -> (parameter, value type). Exceptions use the same keys with the ExceptIf prefix.
PREDICATES = (
    ("from", "From", Recipients("sender")),
    ("from_scope", "FromScope", Enum(SCOPES)),
    ("from_member_of", "FromMemberOf", Recipients("member_of")),
    ("from_address_contains_words", "FromAddressContainsWords", Words()),
    ("sent_to", "SentTo", Recipients("sent_to")),
    ("sent_to_scope", "SentToScope", Enum(SCOPES)),
    ("sent_to_member_of", "SentToMemberOf", Recipients("member_of")),
    ("recipient_address_contains_words", "RecipientAddressContainsWords", Words()),
    ("sender_domain_is", "SenderDomainIs", Domains()),
    ("recipient_domain_is", "RecipientDomainIs", Domains()),
    ("sender_ad_attribute_contains_words", "SenderADAttributeContainsWords", AdAttributes()),
    ("sender_ad_attribute_matches_patterns", "SenderADAttributeMatchesPatterns", AdAttributes(patterns=True)),
    ("sender_ip_ranges", "SenderIpRanges", IpRanges()),
    ("subject_contains_words", "SubjectContainsWords", Words()),
    ("subject_or_body_contains_words", "SubjectOrBodyContainsWords", Words()),
    ("header_contains", (("header", "HeaderContainsMessageHeader", HeaderName()),
                         ("words", "HeaderContainsWords", Words())), True),
)

ACTIONS = (
    ("route_message_outbound_connector", "RouteMessageOutboundConnector", CiText()),
    ("route_message_outbound_require_tls", "RouteMessageOutboundRequireTls", Flag()),
    ("set_header", (("name", "SetHeaderName", HeaderName()), ("value", "SetHeaderValue", Text(blank=False))), True),
    ("remove_header", "RemoveHeader", HeaderName()),
    ("prepend_subject", "PrependSubject", Text(blank=False)),
    ("set_scl", "SetSCL", Scl()),
    ("add_to_recipients", "AddToRecipients", Recipients("added")),
    ("copy_to", "CopyTo", Recipients("added")),
    ("blind_copy_to", "BlindCopyTo", Recipients("added")),
    ("redirect_message_to", "RedirectMessageTo", Recipients("added")),
    ("stop_rule_processing", "StopRuleProcessing", Flag()),
    ("reject_message", (("reason", "RejectMessageReasonText", Text(maximum=REASON_MAX)),
                        ("status_code", "RejectMessageEnhancedStatusCode", StatusCode())), False),
)

ROUTE = "actions.route_message_outbound_connector"


def _props(section, table, prefix=""):
    props = []
    for entry in table:
        option, target = entry[0], entry[1]
        if isinstance(target, tuple):
            subs = [(sub, prefix + param, value) for sub, param, value in target]
            props.append(Pair(section, option, subs, required=entry[2]))
        else:
            props.append(Prop(section, option, prefix + target, entry[2]))
    return props


TOP_PROPS = (
    Prop("", "enabled", "Enabled", RuleState(), read="State"),
    Prop("", "mode", "Mode", Enum(MODES)),
    Prop("", "comments", "Comments", Text()),
    Prop("", "activation_date", "ActivationDate", Date()),
    Prop("", "expiry_date", "ExpiryDate", Date()),
)
TABLE = tuple(TOP_PROPS) + tuple(_props("conditions", PREDICATES) + _props("exceptions", PREDICATES, "ExceptIf")
                                 + _props("actions", ACTIONS))
BY_PATH = dict((p.path, p) for p in TABLE)
BY_PARAM = dict((param.lower(), p) for p in TABLE for param in p.params)


def section_argument_spec(section):
    return dict((p.option, p.arg()) for p in TABLE if p.section == section)


def argument_spec():
    """The module's own options (the connection options are added by MailflowModule)."""
    return dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        enabled=dict(type="bool"),
        mode=dict(type="str", choices=sorted(MODES)),
        comments=dict(type="str"),
        activation_date=dict(type="str"),
        expiry_date=dict(type="str"),
        priority=dict(type="int"),
        position=dict(type="raw"),
        conditions=dict(type="dict", options=section_argument_spec("conditions")),
        exceptions=dict(type="dict", options=section_argument_spec("exceptions")),
        actions=dict(type="dict", options=section_argument_spec("actions")),
        purge_conditions=dict(type="bool", default=True),
        purge_exceptions=dict(type="bool", default=True),
        purge_actions=dict(type="bool", default=True),
        apply_to_all_messages=dict(type="bool", default=False),
        extra_parameters=dict(type="dict"),
    )


# --------------------------------------------------------------------------- desired state

def _position(value):
    """('top'|'bottom'|'before'|'after', rule name or None) from the ``position`` option, or raise."""
    if isinstance(value, str) and value.strip().lower() in ("top", "bottom"):
        return value.strip().lower(), None
    if isinstance(value, dict) and len(value) == 1:
        where, other = list(value.items())[0]
        if where in ("before", "after") and isinstance(other, str) and other.strip():
            return where, other.strip()
    raise ConfigurationError(
        "position: '%s' is not a position; write top, bottom, {before: <rule name>} or {after: <rule name>}" % (value,))


def desired_state(params):
    """The flat desired state from module options (raises ConfigurationError for unknown keys).

    A section (``conditions``...) that is not given at all is not managed. When it is given and its purge option is
    true, every key it does not set must be absent from the rule.
    """
    desired = dict((p.path, params.get(p.option)) for p in TOP_PROPS)
    desired["priority"] = params.get("priority")
    desired["position"] = params.get("position")
    errors = []
    for section in SECTIONS:
        given = params.get(section)
        if given is None:
            continue
        if not isinstance(given, dict):
            errors.append("%s: give a dictionary of %s" % (section, section))
            continue
        known = dict((p.option, p) for p in TABLE if p.section == section)
        for key in sorted(set(given) - set(known)):
            errors.append("%s: unknown key '%s'. Known keys: %s. Pass other cmdlet parameters through "
                          "extra_parameters with their cmdlet name" % (section, key, ", ".join(sorted(known))))
        purge = params.get("purge_" + section, True)
        for option, prop in known.items():
            value = given.get(option)
            if value is None and purge:
                value = prop.empty()
            desired[prop.path] = value
    for param, value in sorted((params.get("extra_parameters") or {}).items()):
        desired["extra_parameters." + str(param)] = value
    n.raise_errors(errors)
    return desired


_TOP_ORDER = ("name", "state", "priority", "enabled", "mode", "comments", "activation_date", "expiry_date")
_GROUPS = SECTIONS + ("extra_parameters",)


def _path_sort(path):
    head = path.split(".", 1)[0]
    if path in _TOP_ORDER:
        return (0, _TOP_ORDER.index(path), path)
    if head in _GROUPS:
        return (1, _GROUPS.index(head), path)
    return (2, 0, path)


def nest(flat, keep_none=False):
    """Option form of a flat view: sections become dictionaries holding only their set keys."""
    out = {}
    for path in sorted(flat, key=_path_sort):
        value = flat[path]
        head, sep, rest = path.partition(".")
        if sep and head in _GROUPS:
            if value is None and not keep_none:
                out.setdefault(head, {})
                continue
            out.setdefault(head, {})[rest] = value
        else:
            out[path] = value
    return out


# --------------------------------------------------------------------------- recipients

def _is_group(obj):
    kinds = (obj.get("RecipientType"), obj.get("RecipientTypeDetails"))
    return any(str(k) in GROUP_RECIPIENT_TYPES + ("GroupMailbox", "RoomList") for k in kinds if k)


class RecipientResolver(object):
    """What the service stores for a recipient value, the way ``New-TransportRule`` resolves it.

    Facts (decompiled transport rule tasks, ``Utils.ValidateRecipient`` and ``Utils.BuildSmtpAddressArray``, read
    in code; live ``Get-TransportRule`` dumps show addresses): the value is looked up in the directory like any
    ``RecipientIdParameter`` (name, alias, display name, any proxy address, GUID...). Found once: the recipient's
    primary SMTP address is stored, so a secondary address reads back as the primary one. Found several times: the
    service refuses the value as ambiguous. Not found: a valid SMTP address (also ``Name <address>``) is stored as
    given, which is how external senders and recipients are used; anything else is refused as not found.

    Every distinct value is looked up once per task (an address too: it may be a secondary proxy address), with
    ``Get-Recipient`` (read-only, so also in check mode).
    """

    def __init__(self, client):
        self.client = client
        self.cache = {}

    def resolve(self, value):
        """``{"address", "group", "internal", "problem"}`` for one value (``problem`` set when it cannot be used)."""
        text = str(value).strip()
        address = n.smtp_address(text)
        identity = address or text
        if identity.lower() not in self.cache:
            self.cache[identity.lower()] = self._lookup(identity, address)
        return self.cache[identity.lower()]

    def _lookup(self, identity, address):
        try:
            found = [o for o in self.client.invoke("Get-Recipient", {"Identity": identity}) if isinstance(o, dict)]
        except NotFoundError:
            found = []
        except InvalidParameterError as exc:
            if "ambiguous" not in ("%s %s" % (exc.exception_type, exc.msg)).lower() and "multiple" not in exc.msg:
                raise
            return {"address": identity, "problem": "'%s' matches more than one recipient of the organisation; give "
                                                    "the email address of the one you mean" % identity}
        if len(found) > 1:
            matches = sorted(str(o.get("PrimarySmtpAddress") or o.get("Name")) for o in found)
            return {"address": identity, "problem": "'%s' matches more than one recipient (%s); give the email "
                                                    "address of the one you mean" % (identity, ", ".join(matches))}
        if found:
            primary = str(found[0].get("PrimarySmtpAddress") or "").strip()
            if not primary:
                return {"address": identity, "problem": "recipient '%s' has no email address, so a mail flow rule "
                                                        "cannot use it" % identity}
            return {"address": primary, "group": _is_group(found[0]), "internal": True}
        if address:
            return {"address": address, "group": False, "internal": False}  # kept as given, like the service
        return {"address": identity, "problem": "there is no recipient '%s' in the organisation (Get-Recipient finds "
                                                "no name, alias, display name or address like it). Correct it, or "
                                                "give an email address" % identity}


# --------------------------------------------------------------------------- the spec

class TransportRuleSpec(ResourceSpec):
    noun = "mail flow rule"
    result_key = "rule"
    get_cmdlet = "Get-TransportRule"
    new_cmdlet = "New-TransportRule"
    set_cmdlet = "Set-TransportRule"
    remove_cmdlet = "Remove-TransportRule"

    def __init__(self, extra_parameters=None, apply_to_all_messages=False):
        super(TransportRuleSpec, self).__init__()
        self.props = dict(BY_PATH)
        for param in sorted(extra_parameters or {}):
            prop = Prop("extra_parameters", str(param), str(param), extra_value(str(param)))
            self.props[prop.path] = prop
        self.extra = sorted(str(p) for p in (extra_parameters or {}))
        self.apply_to_all_messages = apply_to_all_messages
        self.rules = []
        self.snapshot = None
        self.read_after = None  # client.writes_done when the rules were last read (see ensure_rule)
        self.aliases = {}
        self.check_mode = False
        self.warnings = []

    # ---- reads -------------------------------------------------------------------------------------------------
    def read(self, client, name):
        """One Get-TransportRule for all rules; keeps the list for priorities and shift reports."""
        self.rules = client.invoke(self.get_cmdlet, {"ResultSize": "Unlimited"})
        self.read_after = client.writes_done
        if self.snapshot is None:
            self.snapshot = self.priorities()
        return self.match(self.rules, name)

    def priorities(self, rules=None):
        return dict((r.get("Name"), r.get("Priority")) for r in (self.rules if rules is None else rules))

    def ordered(self, exclude=None):
        """Rule names by priority, without ``exclude`` (an object)."""
        skip = (exclude or {}).get("Guid") or (exclude or {}).get("Name")
        rules = [r for r in self.rules if not skip or (r.get("Guid") or r.get("Name")) != skip]
        return [r.get("Name") for r in sorted(rules, key=lambda r: (r.get("Priority") is None, r.get("Priority") or 0))]

    # ---- priority arithmetic -------------------------------------------------------------------------------------
    def target_priority(self, desired, current):
        """The priority the rule must have, or None when the task does not manage it. Raises for bad targets."""
        priority, position = desired.get("priority"), desired.get("position")
        if priority is None and position is None:
            return None
        others = self.ordered(exclude=current)
        if priority is not None:
            if not 0 <= priority <= len(others):
                raise ConfigurationError(
                    "priority: %d is out of range; with %d other rule(s) in the tenant it must be from 0 (first) to %d "
                    "(last). Or use position: top / bottom / {before: <rule>} / {after: <rule>}"
                    % (priority, len(others), len(others)))
            return priority
        where, other = _position(position)
        if where == "top":
            return 0
        if where == "bottom":
            return len(others)
        lowered = [o.lower() for o in others]
        if other.lower() not in lowered:
            if current is not None and other.lower() == str(current.get("Name", "")).lower():
                raise ConfigurationError("position: a rule cannot be placed %s itself; name another rule" % where)
            raise ConfigurationError(
                "position: there is no mail flow rule named '%s' to place this rule %s. Existing rules: %s. Fix the "
                "name, or use top or bottom" % (other, where, ", ".join("'%s'" % o for o in others) or "none"))
        index = lowered.index(other.lower())
        return index if where == "before" else index + 1

    # ---- recipients ---------------------------------------------------------------------------------------------
    def normalise(self, desired):
        """``extra_parameters`` of a list type given as a single value become a list of it (as the cmdlet binds it)."""
        out = dict(desired)
        for path, value in desired.items():
            prop = self.props.get(path)
            if prop is not None and prop.section == "extra_parameters" and prop.value.multi and isinstance(value, str):
                out[path] = [value] if value else []
        return out

    def prepare(self, client, name, desired):
        """Resolve every recipient value to the primary SMTP address the service will store (one Get-Recipient per
        distinct value, read-only, in check mode too), so that names, aliases and secondary addresses compare equal
        to what Get-TransportRule reads back; refuse unknown and ambiguous recipients and groups where the service
        refuses them, naming the option, before any write."""
        resolver = RecipientResolver(client)
        out, errors = dict(desired), []
        for path in sorted(desired, key=_path_sort):
            prop, value = self.props.get(path), desired[path]
            if not isinstance(getattr(prop, "value", None), Recipients) or value is None or prop.absent(value):
                continue
            addresses = []
            for item in value:
                found = resolver.resolve(item)
                problem = prop.value.problem(path, item, found)
                if problem:
                    errors.append(problem)
                    continue
                caution = prop.value.caution(path, item, found)
                if caution and caution not in self.warnings:
                    self.warnings.append(caution)
                addresses.append(found["address"])
            out[path] = n.unique(addresses, n.ci_key)
        n.raise_errors(errors)
        return out

    # ---- checks -------------------------------------------------------------------------------------------------
    def preflight(self, name, desired):
        errors = [
            "name: an empty name is not allowed" if not (name or "").strip() else None,
            n.length_error("name", name, NAME_MAX),
            n.length_error("comments", desired.get("comments"), COMMENTS_MAX),
        ]
        if desired.get("priority") is not None and desired.get("position") is not None:
            errors.append("priority and position are both set; give one: priority (0 is first) or position (top, "
                          "bottom, {before: <rule>}, {after: <rule>})")
        if desired.get("priority") is not None and desired["priority"] < 0:
            errors.append("priority: %d is negative; 0 is the first rule" % desired["priority"])
        if desired.get("position") is not None:
            try:
                where, other = _position(desired["position"])
                if other and other.lower() == (name or "").strip().lower():
                    errors.append("position: a rule cannot be placed %s itself; name another rule" % where)
            except ConfigurationError as exc:
                errors.append(exc.msg)
        for path, value in sorted(desired.items()):
            if path in self.props and value is not None:
                errors.extend(self.props[path].errors(value))
        errors.extend(self._extra_errors())
        errors.append(self._window_error(desired.get("activation_date"), desired.get("expiry_date")))
        errors.append(self._size_error(desired))
        n.raise_errors(errors)

    @staticmethod
    def _size_error(desired):
        """A rule whose condition, exception and action values alone exceed the service's limit for one rule."""
        sizes = dict((path, _value_bytes(value)) for path, value in desired.items()
                     if path.split(".", 1)[0] in _GROUPS and value is not None)
        total = sum(sizes.values())
        if total <= RULE_SIZE_MAX:
            return None
        largest = max(sorted(sizes), key=lambda path: sizes[path])
        return ("%s: the values of this rule's conditions, exceptions and actions take %d bytes (%s alone %d), more "
                "than the %d bytes Exchange Online allows for one rule. Split them over several rules"
                % (largest, total, largest, sizes[largest], RULE_SIZE_MAX))

    def _extra_errors(self):
        errors = []
        for param in self.extra:
            lowered = param.lower()
            field = "extra_parameters.%s" % param
            if not _PARAM_NAME.match(param):
                errors.append("%s: '%s' is not a cmdlet parameter name" % (field, param))
            elif lowered in RESERVED_PARAMETERS:
                option = RESERVED_PARAMETERS[lowered]
                errors.append("%s: %s" % (field, ("use the module option %s instead" % option) if option
                                          else "the module sets it itself; remove it"))
            elif lowered.startswith("exceptif") and lowered[8:] in BY_PARAM and BY_PARAM[lowered[8:]].section == "conditions":
                errors.append("%s: use exceptions.%s instead" % (field, BY_PARAM[lowered[8:]].option))
            elif lowered in BY_PARAM:
                errors.append("%s: use %s instead" % (field, BY_PARAM[lowered].path))
        return errors

    @staticmethod
    def _window_error(activation, expiry):
        start, end = parse_date(activation, strict=False), parse_date(expiry, strict=False)
        if start and end and end <= start:
            return ("expiry_date: %s is not after activation_date %s; the rule would never be active. Move "
                    "expiry_date later or activation_date earlier" % (date_display(expiry), date_display(activation)))
        return None

    def _merged(self, desired, current):
        """The rule as it will stand: desired values over the current ones (flat)."""
        merged = self.view(current) if current is not None else {}
        for path, value in desired.items():
            if value is not None and path in self.props:
                merged[path] = None if self.props[path].absent(value) else value
        return merged

    def _has_predicates(self, merged, current):
        if any(merged.get(p.path) is not None for p in self.props.values() if p.section in ("conditions", "exceptions")):
            return True
        for param in self.extra:
            value = merged.get("extra_parameters." + param)
            if value not in (None, "", [], False) and param.lower() not in NON_CONDITION_PARAMETERS:
                return True
        if current is not None:  # predicates set outside this module's table stay in place
            known = sum(1 for p in BY_PATH.values() if p.section == "conditions" and p.current(current) is not None)
            known_except = sum(1 for p in BY_PATH.values() if p.section == "exceptions" and p.current(current) is not None)
            if len(current.get("Conditions") or []) > known or len(current.get("Exceptions") or []) > known_except:
                return True
        return False

    def preflight_current(self, name, desired, current):
        if desired is None:
            return
        merged = self._merged(desired, current)
        n.raise_errors([self._window_error(merged.get("activation_date"), merged.get("expiry_date"))])
        self.target_priority(desired, current)
        if not self.apply_to_all_messages and not self._has_predicates(merged, current):
            raise ConfigurationError(
                "mail flow rule '%s' would have no condition and no exception, so it would apply to every message "
                "in the organisation. Add conditions (for example recipient_domain_is), or set "
                "apply_to_all_messages: true if that is intended" % name)

    def guard(self, client, name, changes, current):
        """A new or changed routing target must be an existing, enabled, rule-scoped connector (reads, no write)."""
        connector = (changes or {}).get(ROUTE)
        if connector is None or self.props[ROUTE].absent(connector):
            return
        try:
            self.check_connector(client, connector)
        except ConfigurationError as exc:
            if not self.check_mode:
                raise
            # an earlier task of the same check-mode run may create or fix the connector
            self.warnings.append("%s (check mode: reported as a warning because an earlier task may create or "
                                 "fix the connector; a real run fails here, before any write)" % exc.msg)

    def check_connector(self, client, connector):
        """The rule may only route to an existing, enabled, rule-scoped outbound connector (test-mode ones too)."""
        wanted = connector.strip().lower()
        matches = [o for o in outbound.outbound_connectors(client, connector)
                   if wanted in (str(o.get("Name", "")).lower(), str(o.get("Guid", "")).lower())]
        field = ROUTE
        if not matches and engine.made_recently(client, outbound.NOUN, connector):
            # An earlier task of this run created it moments ago and replication does not show it yet: the service
            # checks it when the rule is written, and a "not found" then is waited for (lagging).
            return
        if not matches:
            raise ConfigurationError(
                "%s: outbound connector '%s' does not exist in the tenant (looked with and without "
                "IncludeTestModeConnectors). Create it first, scoped to mail flow rules (m365.mailflow."
                "partner_outbound_connector with transport_rule_scoped: true), or correct the name. If it was created "
                "moments ago outside this run, Exchange Online may not show it yet: re-run in a few minutes"
                % (field, connector))
        if len(matches) > 1:
            raise ConfigurationError("%s: more than one outbound connector matches '%s'; give its exact name or GUID"
                                     % (field, connector))
        obj = matches[0]
        label = obj.get("Name") or connector
        if obj.get("Enabled") is False:
            raise ConfigurationError(
                "%s: outbound connector '%s' is disabled, and a mail flow rule can only route to an enabled "
                "connector. Enable it first (m365.mailflow.partner_outbound_connector with enabled: true)" % (field, label))
        if not obj.get("IsTransportRuleScoped"):
            raise ConfigurationError(
                "%s: outbound connector '%s' is not scoped to mail flow rules (IsTransportRuleScoped is false), so a "
                "rule cannot route to it. Set transport_rule_scoped: true on it (m365.mailflow."
                "partner_outbound_connector; its recipient_domains must then be empty)" % (field, label))
        self.aliases[wanted] = label

    # ---- replication lag -----------------------------------------------------------------------------------------
    def lagging(self, client, error, cmdlet, parameters, name):
        """Also: New/Set refused because the connector it routes to, created by this run moments ago, is not found
        yet (the refusal must name that connector)."""
        reason = super(TransportRuleSpec, self).lagging(client, error, cmdlet, parameters, name)
        target = (parameters or {}).get("RouteMessageOutboundConnector")
        if reason is not None or not isinstance(target, str) or not target.strip():
            return reason
        text = (error.msg or "").lower()
        if (isinstance(error, (NotFoundError, InvalidParameterError)) and target.strip().lower() in text
                and ("found" in text or "exist" in text) and engine.made_recently(client, outbound.NOUN, target)):
            return ("outbound connector '%s' was created or changed by this run moments ago and %s does not find it yet"
                    % (target, cmdlet))
        return None

    def released(self, current, changes):
        """The connector this rule routed to, when the rule is removed or routed elsewhere (or nowhere)."""
        route = self.props[ROUTE].current(current)
        if not route:
            return []
        if changes is None or (ROUTE in changes and self.props[ROUTE].differs(self._effective(ROUTE, changes[ROUTE]), route)):
            return [(outbound.NOUN, route)]
        return []

    # ---- desired versus current ----------------------------------------------------------------------------------
    def _effective(self, path, value):
        if path == ROUTE and isinstance(value, str):
            return self.aliases.get(value.strip().lower(), value)
        return value

    def changes(self, desired, current):
        out = {}
        for path, value in desired.items():
            if value is None or path not in self.props:
                continue
            prop = self.props[path]
            value = self._effective(path, value)
            have = prop.current(current)
            if path == "activation_date" and have is None and not prop.absent(value):
                if parse_date(value, strict=False) and parse_date(value, strict=False) <= _utcnow():
                    continue  # the service drops a past activation date: the rule is already active
            if prop.differs(value, have):
                out[path] = value
        target = self.target_priority(desired, current)
        if target is not None and target != current.get("Priority"):
            out["priority"] = target
        return out

    def create_parameters(self, name, desired):
        params = {"Name": name}
        for path, value in sorted(desired.items()):
            if value is None or path not in self.props or self.props[path].absent(value):
                continue
            params.update(self.props[path].to_params(value))
        target = self.target_priority(desired, None)
        if target is not None and target != len(self.ordered()):
            params["Priority"] = target
        return params

    def update_commands(self, current, changes):
        identity = self.identity(current)
        params = {"Identity": identity}
        for path, value in sorted(changes.items()):
            if path == "enabled":
                continue
            if path == "priority":
                params["Priority"] = value
                continue
            params.update(self.props[path].to_params(value))
        commands = []
        if len(params) > 1:
            commands.append({"cmdlet": self.set_cmdlet, "parameters": params})
        if "enabled" in changes:
            if changes["enabled"]:
                commands.append({"cmdlet": "Enable-TransportRule", "parameters": {"Identity": identity}})
            else:
                commands.append({"cmdlet": "Disable-TransportRule", "parameters": {"Identity": identity, "Confirm": False}})
        return commands

    def command_changes(self, command, changes):
        """Enable/Disable-TransportRule apply ``enabled``; the Set applies everything else."""
        if command["cmdlet"] in ("Enable-TransportRule", "Disable-TransportRule"):
            return dict((k, v) for k, v in changes.items() if k == "enabled")
        return dict((k, v) for k, v in changes.items() if k != "enabled")

    # ---- views ---------------------------------------------------------------------------------------------------
    def view(self, obj):
        """Flat view: every property path (None when not set), priority and read-only facts."""
        if obj is None:
            return {}
        out = {"name": obj.get("Name"), "priority": obj.get("Priority")}
        for path, prop in self.props.items():
            out[path] = prop.current(obj)
        out.update(self.facts(obj))
        return out

    def facts(self, obj):
        return {"guid": obj.get("Guid"), "identity": obj.get("Identity")}

    def predict(self, current_view, name, changes):
        if current_view:
            after = dict(current_view)
        else:
            after = dict((path, None) for path in self.props)
            after.update({"name": name, "enabled": True, "mode": "enforce", "guid": None, "identity": name,
                          "priority": len(self.ordered())})
        for path, value in changes.items():
            if path == "priority":
                after["priority"] = value
            elif path in self.props and value is not None:
                after[path] = self.props[path].shown(self._effective(path, value))
        if not current_view:
            target = self.target_priority(changes, None)
            if target is not None:
                after["priority"] = target
        return after

    # ---- priority shifts ---------------------------------------------------------------------------------------------
    def shifted(self, name, action, final_priority, predicted):
        """[{name, before, after}] of the other rules whose priority changed (predicted in check mode)."""
        before = self.snapshot or {}
        if predicted:
            order = [r for r in sorted(before, key=lambda k: (before[k] is None, before[k] or 0))
                     if r.lower() != name.lower()]
            if action in ("create", "update") and final_priority is not None:
                order.insert(min(final_priority, len(order)), name)
            after = dict((rule, index) for index, rule in enumerate(order))
        else:
            after = self.priorities()
        shifts = [{"name": rule, "before": before[rule], "after": after[rule]} for rule in before
                  if rule.lower() != name.lower() and rule in after and after[rule] != before[rule]]
        return sorted(shifts, key=lambda s: (s["after"] is None, s["after"]))


# --------------------------------------------------------------------------- one task

def _result_view(flat):
    if not flat:
        return {}
    view = nest(flat)
    view["state"] = "present"
    return view


def _diff(outcome, before, after):
    header = "mail flow rule %s" % outcome.name
    if outcome.action == "create":
        return {"before": {}, "after": _result_view(after), "before_header": header, "after_header": header}
    if outcome.action == "delete":
        return {"before": _result_view(before), "after": {}, "before_header": header, "after_header": header}
    keys = outcome.changed_properties
    return {
        "before": nest(dict((k, before.get(k)) for k in keys), keep_none=True),
        "after": nest(dict((k, after.get(k)) for k in keys), keep_none=True),
        "before_header": header,
        "after_header": header,
    }


def ensure_rule(client, params, check_mode=False, diff_mode=False):
    """Converge one mail flow rule from module options; return the module result."""
    name, state = params["name"], params.get("state") or "present"
    spec = TransportRuleSpec(params.get("extra_parameters"), bool(params.get("apply_to_all_messages")))
    spec.check_mode = check_mode
    desired = spec.normalise(desired_state(params)) if state == "present" else {}
    outcome = engine.ensure(client, spec, name, state, desired, check_mode=check_mode)
    if outcome.changed and not check_mode:
        # The rule as it stands and the priorities of the others (shifted_rules) are read after the last write. A
        # read-back while a write was retried (client verify) came before that write completed: it does not count.
        if spec.read_after != client.writes_done:
            try:
                final = spec.read(client, name)
            except MailflowError:
                final = None
            if final is not None or outcome.action == "delete":
                outcome.after = spec.view(final)
    if outcome.action == "create":
        outcome.changed_properties = sorted(
            [p for p, v in desired.items() if p in spec.props and v is not None and not spec.props[p].absent(v)]
            + (["priority"] if desired.get("priority") is not None or desired.get("position") is not None else []))
    result = outcome.result(check_mode, False, warnings=list(client.warnings) + spec.warnings)
    before, after = outcome.before, outcome.after
    result.update({
        "before": _result_view(before),
        "after": _result_view(after),
        "rule": _result_view(after),
        "priority": after.get("priority") if after else None,
        "shifted_rules": spec.shifted(name, outcome.action, after.get("priority") if after else None,
                                      predicted=check_mode and outcome.changed),
    })
    if diff_mode:
        result["diff"] = _diff(outcome, before, after)
    return result
