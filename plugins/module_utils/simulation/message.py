# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A sample message of a mail-flow simulation: its argument spec (``MESSAGE_SPEC``, the one definition the module
``mail_flow_simulate`` and the ``expect:`` messages of partner files share) and its checked, normalised form.

``normalise(raw, where)`` checks one message given as data (module options, or a partner file's YAML as loaded) and
returns a ``Message``, or raises ``ConfigurationError`` listing every problem as ``<where>.<field>: <message>``. It
converts values the way Ansible would (``"yes"``, ``"5"``), so that data that never went through an argument spec
is taken too. Stdlib only (and ``values``), so that it runs on the controller as well as in a module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.m365.mailflow.plugins.module_utils import rule_parameters as table
from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.service_data import AD_ATTRIBUTES


def snake(name):
    """``AutoForward`` -> ``auto_forward``, ``OOF`` -> ``oof`` (the collection's option form of an enum value)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


MESSAGE_TYPES = dict((snake(t), t) for t in table.MESSAGE_TYPES)
IMPORTANCE = dict((snake(t), t) for t in table.IMPORTANCE)
DIRECTIONS = ("outbound", "inbound")
ATTACHMENT_FLAGS = ("password_protected", "executable", "unsupported", "processing_limit_exceeded")
MEMBER_OF = "MemberOf"
# Directory attributes a message may give for its sender or recipients: the AD attributes of the rule vocabulary
# (New-TransportRule reference), and the groups the person is a member of (for the *MemberOf conditions).
ATTRIBUTE_NAMES = dict((a.lower(), a) for a in AD_ATTRIBUTES + (MEMBER_OF,))

EXPECT_SPEC = dict(
    connector=dict(type="str"),
    rules=dict(type="list", elements="str"),
    rejected=dict(type="bool"),
)
ATTACHMENT_SPEC = dict(
    name=dict(type="str", required=True),
    size=dict(type="raw"),
    content=dict(type="str"),
    properties=dict(type="dict"),
    password_protected=dict(type="bool"),
    executable=dict(type="bool"),
    unsupported=dict(type="bool"),
    processing_limit_exceeded=dict(type="bool"),
)
# The message format, as an Ansible argument spec (suboptions of a list of dictionaries). One definition, shared by
# m365.mailflow.mail_flow_simulate and the expect: messages of partner files.
MESSAGE_SPEC = dict(
    name=dict(type="str", required=True),
    direction=dict(type="str", choices=list(DIRECTIONS)),
    sender=dict(type="str", required=True),
    envelope_sender=dict(type="str"),
    recipients=dict(type="list", elements="str", required=True),
    cc=dict(type="list", elements="str"),
    bcc=dict(type="list", elements="str"),
    subject=dict(type="str"),
    body=dict(type="str"),
    headers=dict(type="dict"),
    size=dict(type="raw"),
    importance=dict(type="str", choices=sorted(IMPORTANCE)),
    message_type=dict(type="str", choices=sorted(MESSAGE_TYPES)),
    scl=dict(type="int"),
    classifications=dict(type="list", elements="str"),
    character_sets=dict(type="list", elements="str"),
    attachments=dict(type="list", elements="dict", options=ATTACHMENT_SPEC),
    sent=dict(type="str"),
    sender_attributes=dict(type="dict"),
    recipient_attributes=dict(type="dict"),
    sender_ip=dict(type="str"),
    tls=dict(type="bool"),
    certificate_subject=dict(type="str"),
    expect=dict(type="dict", options=EXPECT_SPEC),
)

_TRUE = ("yes", "on", "1", "true", "y", "t")
_FALSE = ("no", "off", "0", "false", "n", "f")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_NAMED = re.compile(r"^[^<>]*<([^<>]+)>\s*$")


class Attachment(object):
    __slots__ = ("name", "extension", "size", "content", "properties") + ATTACHMENT_FLAGS

    def __init__(self, **kwargs):
        for key in self.__slots__:
            setattr(self, key, kwargs.get(key))


class Message(object):
    """A checked sample message. Addresses keep their spelling; ``*_key`` forms are lower case."""

    def __init__(self):
        self.name = None
        self.direction = "outbound"
        self.sender = None
        self.envelope_sender = None
        self.to, self.cc, self.bcc = [], [], []
        self.subject = ""
        self.body = ""
        self.headers = {}  # lower-case name -> [values]
        self.size = None  # bytes; None: estimated (see estimated_size)
        self.importance = "Normal"
        self.message_type = None
        self.scl = None
        self.classifications = []
        self.character_sets = None  # None: not described
        self.attachments = []
        self.sent = None  # datetime (UTC) or None: the time of the simulation
        self.sender_attributes = {}  # canonical attribute -> value (str, or list for MemberOf)
        self.recipient_attributes = {}  # "*" or address key -> {attribute: value}
        self.sender_ip = None
        self.tls = None
        self.certificate_subject = None
        self.expect = None

    @property
    def recipients(self):
        """Every envelope recipient (To, Cc, Bcc), each once, in that order."""
        seen, out = set(), []
        for address in self.to + self.cc + self.bcc:
            if address.lower() not in seen:
                seen.add(address.lower())
                out.append(address)
        return out

    def estimated_size(self):
        """Bytes of subject, body, headers and attachments: the size when ``size`` is not given (an estimate)."""
        total = len(self.subject.encode("utf-8")) + len(self.body.encode("utf-8"))
        total += sum(len(k) + sum(len(str(v)) for v in vals) + 4 for k, vals in self.headers.items())
        total += sum(a.size or 0 for a in self.attachments)
        return total


def _bool(value, field, errors):
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    errors.append("%s: '%s' is not true or false" % (field, value))
    return None


def _str(value, field, errors):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    errors.append("%s: expected text, got %s" % (field, type(value).__name__))
    return None


def _list(value, field, errors):
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        errors.append("%s: expected a list, got %s" % (field, type(value).__name__))
        return []
    out = []
    for index, item in enumerate(value):
        text = _str(item, "%s[%d]" % (field, index), errors)
        if text is not None:
            out.append(text.strip())
    return out


def address_of(value):
    """The address of ``value`` (``Name <a@b>`` -> ``a@b``), its domain part in A-label form; None if it is none."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    named = _NAMED.match(text)
    if named:
        text = named.group(1).strip()
    if not _ADDRESS.match(text):
        return None
    return n.address_text(text)


def _addresses(value, field, errors, required=False):
    out = []
    for index, item in enumerate(_list(value, field, errors)):
        address = address_of(item)
        if address is None:
            errors.append("%s[%d]: '%s' is not an email address (name@domain)" % (field, index, item))
        else:
            out.append(address)
    if required and not out and not any(e.startswith(field) for e in errors):
        errors.append("%s: give at least one recipient address" % field)
    return out


def _attributes(value, field, errors):
    """{canonical attribute: value} from ``{Department: Accounting, MemberOf: [...]}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append("%s: expected a mapping of directory attributes (for example {Department: Accounting}), got %s"
                      % (field, type(value).__name__))
        return {}
    out = {}
    for key, item in value.items():
        name = ATTRIBUTE_NAMES.get(str(key).strip().lower())
        if name is None:
            errors.append("%s.%s: unknown directory attribute; use one of %s" % (field, key, ", ".join(
                sorted(ATTRIBUTE_NAMES.values()))))
            continue
        if name == MEMBER_OF:
            out[name] = _list(item, "%s.%s" % (field, key), errors)
        elif isinstance(item, (list, tuple)):
            out[name] = [str(v) for v in item]
        else:
            out[name] = "" if item is None else str(item)
    return out


def _recipient_attributes(value, field, errors):
    """``{Department: Sales}`` (every recipient) or ``{anna@x: {Department: Sales}}`` (per recipient)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append("%s: expected a mapping (attributes of every recipient, or recipient address -> attributes), "
                      "got %s" % (field, type(value).__name__))
        return {}
    per, common = {}, {}
    for key, item in value.items():
        if "@" in str(key):
            address = address_of(str(key))
            if address is None:
                errors.append("%s: '%s' is not an email address" % (field, key))
                continue
            per[address.lower()] = _attributes(item, "%s.%s" % (field, key), errors)
        else:
            common[key] = item
    out = dict(per)
    if common:
        out["*"] = _attributes(common, field, errors)
    return out


def _size(value, field, errors):
    if value is None or value == "":
        return None
    size = n.parse_size(value if not isinstance(value, float) else int(value))
    if size is None:
        errors.append("%s: '%s' is not a size; write a number of bytes or a number with B, KB, MB, GB or TB (10 MB)"
                      % (field, value))
    return size


def _choice(value, field, choices, errors):
    if value is None:
        return None
    key = str(value).strip()
    found = choices.get(key) or choices.get(snake(key))
    if found is None:
        errors.append("%s: '%s' is not one of %s" % (field, value, ", ".join(sorted(choices))))
    return found


def _int(value, field, errors, low=None, high=None):
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or (low is not None and number < low) or (high is not None and number > high):
        limits = " from %d to %d" % (low, high) if low is not None else ""
        errors.append("%s: '%s' is not a whole number%s" % (field, value, limits))
        return None
    return number


def _attachment(value, field, errors):
    if not isinstance(value, dict):
        errors.append("%s: expected a mapping with name (and size, flags...), got %s" % (field, type(value).__name__))
        return None
    for key in sorted(set(value) - set(ATTACHMENT_SPEC)):
        errors.append("%s.%s: unknown key; the keys of an attachment are %s" % (field, key, ", ".join(sorted(
            ATTACHMENT_SPEC))))
    name = _str(value.get("name"), field + ".name", errors)
    if not name:
        errors.append("%s.name: give the file name of the attachment (report.pdf)" % field)
        return None
    extension = name.rsplit(".", 1)[1].lower() if "." in name.strip(".") else ""
    properties = value.get("properties")
    if properties is not None and not isinstance(properties, dict):
        errors.append("%s.properties: expected a mapping of document properties" % field)
        properties = None
    flags = dict((flag, bool(_bool(value.get(flag), "%s.%s" % (field, flag), errors))) for flag in ATTACHMENT_FLAGS)
    return Attachment(name=name, extension=extension, size=_size(value.get("size"), field + ".size", errors) or 0,
                      content=_str(value.get("content"), field + ".content", errors),
                      properties=dict((str(k), "" if v is None else str(v)) for k, v in properties.items())
                      if properties is not None else None, **flags)


def _headers(value, field, errors):
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append("%s: expected a mapping of header name to value (or list of values)" % field)
        return {}
    out = {}
    for key, item in value.items():
        name = str(key).strip()
        if not name or ":" in name or " " in name:
            errors.append("%s: '%s' is not a header name" % (field, key))
            continue
        items = item if isinstance(item, (list, tuple)) else [item]
        out.setdefault(name.lower(), []).extend("" if v is None else str(v) for v in items)
    return out


def _expect(value, field, errors):
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.append("%s: expected a mapping with connector, rules and/or rejected" % field)
        return None
    for key in sorted(set(value) - set(EXPECT_SPEC)):
        errors.append("%s.%s: unknown key; expect takes connector, rules and rejected" % (field, key))
    out = {}
    if value.get("connector") is not None:
        out["connector"] = _str(value["connector"], field + ".connector", errors)
    if value.get("rules") is not None:
        out["rules"] = _list(value["rules"], field + ".rules", errors)
    if value.get("rejected") is not None:
        out["rejected"] = _bool(value["rejected"], field + ".rejected", errors)
    if not out and not errors:
        errors.append("%s: give at least one of connector, rules and rejected" % field)
    return out


def normalise(raw, where="messages[0]"):
    """A ``Message`` from one message given as data, or raise ``ConfigurationError`` naming every problem."""
    errors = []
    if not isinstance(raw, dict):
        raise ConfigurationError("%s: expected a mapping with name, sender and recipients, got %s"
                                 % (where, type(raw).__name__))
    for key in sorted(set(raw) - set(MESSAGE_SPEC)):
        errors.append("%s.%s: unknown key; a message takes %s" % (where, key, ", ".join(sorted(MESSAGE_SPEC))))

    def f(key):
        return "%s.%s" % (where, key)

    msg = Message()
    msg.name = _str(raw.get("name"), f("name"), errors)
    if not msg.name:
        errors.append("%s: give the message a name (it names the message in the answer)" % f("name"))
    msg.direction = (_str(raw.get("direction"), f("direction"), errors) or "outbound").strip().lower()
    if msg.direction not in DIRECTIONS:
        errors.append("%s: '%s' is not outbound or inbound" % (f("direction"), raw.get("direction")))
    msg.sender = address_of(raw.get("sender"))
    if msg.sender is None:
        errors.append("%s: '%s' is not an email address (name@domain)" % (f("sender"), raw.get("sender")))
    envelope = raw.get("envelope_sender")
    msg.envelope_sender = address_of(envelope) if envelope is not None else msg.sender
    if envelope is not None and msg.envelope_sender is None:
        errors.append("%s: '%s' is not an email address" % (f("envelope_sender"), envelope))
    msg.to = _addresses(raw.get("recipients"), f("recipients"), errors, required=True)
    msg.cc = _addresses(raw.get("cc"), f("cc"), errors)
    msg.bcc = _addresses(raw.get("bcc"), f("bcc"), errors)
    msg.subject = _str(raw.get("subject"), f("subject"), errors) or ""
    msg.body = _str(raw.get("body"), f("body"), errors) or ""
    msg.headers = _headers(raw.get("headers"), f("headers"), errors)
    msg.size = _size(raw.get("size"), f("size"), errors)
    msg.importance = _choice(raw.get("importance"), f("importance"), IMPORTANCE, errors) or "Normal"
    msg.message_type = _choice(raw.get("message_type"), f("message_type"), MESSAGE_TYPES, errors)
    msg.scl = _int(raw.get("scl"), f("scl"), errors, -1, 9)
    msg.classifications = _list(raw.get("classifications"), f("classifications"), errors)
    if raw.get("character_sets") is not None:
        msg.character_sets = [c.lower() for c in _list(raw.get("character_sets"), f("character_sets"), errors)]
    attachments = raw.get("attachments") or []
    if not isinstance(attachments, (list, tuple)):
        errors.append("%s: expected a list of attachments" % f("attachments"))
        attachments = []
    msg.attachments = [a for a in (_attachment(item, "%s[%d]" % (f("attachments"), i), errors)
                                   for i, item in enumerate(attachments)) if a is not None]
    sent = raw.get("sent")
    if sent is not None and sent != "":
        msg.sent = n.parse_date(sent if not hasattr(sent, "isoformat") else sent.isoformat(), strict=False)
        if msg.sent is None:
            errors.append("%s: '%s' is not a time; write YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] with an optional Z or "
                          "+HH:MM offset (no offset means UTC)" % (f("sent"), sent))
    msg.sender_attributes = _attributes(raw.get("sender_attributes"), f("sender_attributes"), errors)
    msg.recipient_attributes = _recipient_attributes(raw.get("recipient_attributes"), f("recipient_attributes"), errors)
    ip = _str(raw.get("sender_ip"), f("sender_ip"), errors)
    if ip:
        try:
            msg.sender_ip = ipaddress.ip_address(ip.strip())
        except ValueError:
            errors.append("%s: '%s' is not an IP address" % (f("sender_ip"), ip))
    msg.tls = _bool(raw.get("tls"), f("tls"), errors)
    subject = _str(raw.get("certificate_subject"), f("certificate_subject"), errors)
    msg.certificate_subject = subject.strip() if subject else None
    if msg.certificate_subject and msg.tls is False:
        errors.append("%s: a certificate is presented only over TLS, and tls is false" % f("certificate_subject"))
    msg.expect = _expect(raw.get("expect"), f("expect"), errors)
    if errors:
        raise ConfigurationError("; ".join(errors), details=errors)
    return msg


def normalise_all(raws, where="messages"):
    """``[Message]`` from a list of messages; every problem of every message in one ``ConfigurationError``, and
    message names unique (without case), since the answer and the expectations name messages."""
    if not isinstance(raws, (list, tuple)) or not raws:
        raise ConfigurationError("%s: give a list of at least one message" % where)
    errors, out, names = [], [], {}
    for index, raw in enumerate(raws):
        here = "%s[%d]" % (where, index)
        try:
            msg = normalise(raw, here)
        except ConfigurationError as exc:
            errors.extend(exc.details or [exc.msg])
            continue
        key = msg.name.strip().lower()
        if key in names:
            errors.append("%s.name: '%s' is also the name of %s[%d]; message names are unique (without case)"
                          % (here, msg.name, where, names[key]))
        names[key] = index
        out.append(msg)
    if errors:
        raise ConfigurationError("; ".join(errors), details=errors)
    return out
