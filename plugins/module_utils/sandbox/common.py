# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared machinery of the sandbox tenant: cmdlet errors, the parameter schema and binder, value validators,
record formatting and the object store on top of one SQLite connection.

Nothing here knows about a particular object family; see ``sandbox_connectors`` and ``sandbox_rules``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import json
import re
import warnings
import time
import zlib

from ansible_collections.m365.mailflow.plugins.module_utils.service_data import RESERVED_IPV4_NETWORKS, SIZE_UNITS

# --------------------------------------------------------------------------- exception types

NS_CMD = "Microsoft.Exchange.AdminApi.CommandInvocation."
NS_SCT = "Microsoft.Exchange.Management.SystemConfigurationTasks."
NS_RULES = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks."

AMBIGUOUS = NS_CMD + "AmbiguousParameterSetException"
TRANSFORMATION = NS_CMD + "ParameterTransformationException"
BINDING = "System.Management.Automation.ParameterBindingException"
DATA_VALIDATION = "Microsoft.Exchange.Data.DataValidationException"
ARGUMENT = "System.ArgumentException"
NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
INVALID_OPERATION = "Microsoft.Exchange.Configuration.Tasks.TaskInvalidOperationException"
STILL_REFERENCED = NS_SCT + "ConnectorIncorrectUsageConnectorStillReferencedException"

SERVER = "NAMPR08A008DC001.NAMPR08A008.PROD.OUTLOOK.COM"
FOREST = "DC=NAMPR08A008,DC=PROD,DC=OUTLOOK,DC=COM"
EXCHANGE_VERSION = "0.1 (8.0.535.0)"
ADMIN = "Sandbox Administrator"


def string_id(key):
    """A stable ``ExNNNNNN`` string id per error kind (the real ids are unknown)."""
    return "Ex%06X" % (zlib.crc32(key.encode("utf-8")) & 0xFFFFFF)


class CmdletError(Exception):
    """A terminating cmdlet error: becomes ``wire.error_body(status, exc_type, message, string_id)``."""

    def __init__(self, message, exc_type=DATA_VALIDATION, status=400, key=None, sid=None):
        super(CmdletError, self).__init__(message)
        self.message = message
        self.exc_type = exc_type
        self.status = status
        if sid is None:
            sid = string_id(key or exc_type)
        self.sid = sid


def fail(key, message, exc_type=DATA_VALIDATION):
    """Raise a 400 validation error; ``key`` names the reference rule (I2, O5...) for a stable string id."""
    raise CmdletError(message, exc_type=exc_type, key=key)


def not_found(identity):
    raise CmdletError("The operation couldn't be performed because object '%s' couldn't be found on '%s'." % (identity, SERVER),
                      exc_type=NOT_FOUND, status=404, sid="Ex6F9304")


def ambiguous(name):
    raise CmdletError("Parameter set cannot be resolved using the specified named parameters. "
                      "Invalid cmdlet parameters specified. %s" % name, exc_type=AMBIGUOUS, sid="")


def transformation(name, value, type_name, detail):
    raise CmdletError("Cannot process argument transformation on parameter '%s'. Cannot convert value \"%s\" to type "
                      "\"%s\". Error: \"%s\"" % (name, value, type_name, detail), exc_type=TRANSFORMATION, sid="")


# --------------------------------------------------------------------------- parameter schema

HASH_TYPE = "#Exchange.GenericHashTable"


class Param(object):
    """One cmdlet parameter.

    ``kind``: str, bool, int, enum, list, date, any. ``values``: enum names. ``scope``: both, new or set.
    ``nullable``: whether $null is a valid value. ``check``: item validator ``check(name, value) -> value``.
    """

    __slots__ = ("name", "kind", "values", "scope", "nullable", "check", "type_name")

    def __init__(self, name, kind="str", values=None, scope="both", nullable=True, check=None, type_name=None):
        self.name = name
        self.kind = kind
        self.values = tuple(values or ())
        self.scope = scope
        self.nullable = nullable
        self.check = check
        self.type_name = type_name or ("Microsoft.Exchange.Data." + name)


class HashUpdate(object):
    """The ``@{Add=...; Remove=...}`` form of a multi-valued parameter."""

    __slots__ = ("add", "remove")

    def __init__(self, add, remove):
        self.add = add
        self.remove = remove

    def apply(self, current):
        items = list(current or [])
        drop = set(v.lower() for v in self.remove)
        items = [v for v in items if v.lower() not in drop]
        have = set(v.lower() for v in items)
        for value in self.add:
            if value.lower() not in have:
                items.append(value)
                have.add(value.lower())
        return items


COMMON = (
    Param("Confirm", "bool"), Param("WhatIf", "bool"), Param("ErrorAction", "any"), Param("WarningAction", "any"),
)

COMMON_NAMES = frozenset(p.name for p in COMMON)


def schema(*groups):
    """A cmdlet schema: lower-case name -> Param, common parameters included."""
    out = {}
    for group in groups + (COMMON,):
        for param in group:
            out[param.name.lower()] = param
    return out


def _as_items(param, value):
    if isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    out = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, (dict, list)):
            transformation(param.name, item, param.type_name, "A value of a multi-valued parameter must be a string")
        if isinstance(item, bool):
            item = "True" if item else "False"
        out.append(str(item).strip())
    return out


def _check_items(param, items):
    if param.check is None:
        return items
    return [param.check(param.name, item) for item in items]


def coerce(param, value, verb):
    """Bind one JSON value to ``param``: return the coerced value or raise a transformation error."""
    if value is None:
        return None
    kind = param.kind
    if kind == "any":
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        transformation(param.name, value, "System.Boolean", "Boolean parameters accept only Boolean values and numbers, "
                       "such as $True, $False, 1 or 0.")
    if kind == "int":
        try:
            if isinstance(value, bool):
                raise ValueError
            number = int(str(value).strip())
        except ValueError:
            transformation(param.name, value, "System.Int32", "Input string was not in a correct format.")
        return param.check(param.name, number) if param.check else number
    if kind == "enum":
        if isinstance(value, str):
            for name in param.values:
                if name.lower() == value.strip().lower():
                    return name
        transformation(param.name, value, param.type_name,
                       "Unable to match the identifier name %s to a valid enumerator name. Specify one of the following "
                       "enumerator names and try again: %s" % (value, ", ".join(param.values)))
    if kind == "list":
        if isinstance(value, dict):
            if verb != "set" or str(value.get("@odata.type", HASH_TYPE)) != HASH_TYPE:
                transformation(param.name, value, param.type_name,
                               "The Add/Remove form of a multi-valued parameter is only accepted by Set cmdlets")
            lowered = dict((str(k).lower(), v) for k, v in value.items() if k != "@odata.type")
            unknown = [k for k in lowered if k not in ("add", "remove")]
            if unknown:
                transformation(param.name, value, param.type_name,
                               "Only the keys Add and Remove are allowed in a multi-valued update, not %s" % ", ".join(unknown))
            return HashUpdate(_check_items(param, _as_items(param, lowered.get("add"))),
                              _check_items(param, _as_items(param, lowered.get("remove"))))
        return _check_items(param, _as_items(param, value))
    if kind == "date":
        return parse_date(param.name, value)
    # str
    if isinstance(value, (dict, list)):
        if isinstance(value, list) and len(value) == 1 and not isinstance(value[0], (dict, list)):
            value = value[0]
        else:
            transformation(param.name, value, "System.String", "Cannot convert a collection to a single string value.")
    if isinstance(value, bool):
        value = "True" if value else "False"
    value = str(value)
    return param.check(param.name, value) if param.check else value


def bind(cmd_schema, parameters, verb):
    """Canonicalise and coerce a parameter dict; unknown names give AmbiguousParameterSetException."""
    if parameters is not None and not isinstance(parameters, dict):
        ambiguous(str(parameters))
    bound = {}
    for raw_name, value in (parameters or {}).items():
        if str(raw_name).endswith("@odata.type"):
            continue
        param = cmd_schema.get(str(raw_name).lower())
        if param is None or (param.scope != "both" and param.scope != verb):
            ambiguous(raw_name)
        if value is None and not param.nullable:
            transformation(param.name, "", param.type_name, "The argument is null. Provide a valid value for the argument.")
        bound[param.name] = coerce(param, value, verb)
    return bound


# --------------------------------------------------------------------------- value validators

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$", re.I)
_SMTP = re.compile(r"^[^@\s;,<>()\"]+@[^@\s;,<>()\"]+$")


def is_domain(text):
    text = (text or "").rstrip(".")
    labels = text.split(".")
    return bool(text) and len(text) <= 255 and len(labels) >= 2 and all(_LABEL.match(label) for label in labels)


def domain_with_subdomains(name, value, allow_star=True):
    """A domain, ``*.domain`` or (``allow_star``) a bare ``*``; embedded wildcards are rejected."""
    text = value.strip()
    if text == "*":
        if allow_star:
            return text
        fail("StarNotAllowed", "The value '*' is not valid for %s: a bare wildcard is not allowed here. Use a domain "
             "such as contoso.com or *.contoso.com." % name, ARGUMENT)
    body = text[2:] if text.startswith("*.") else text
    if "*" in body:
        fail("EmbeddedWildcard", "The value '%s' is not valid for %s: a wildcard is only allowed as the first label "
             "('*.contoso.com'); embedded wildcards such as 'mail.*.contoso.com' are not allowed." % (text, name), ARGUMENT)
    if not is_domain(body):
        fail("InvalidDomain", "The value '%s' is not valid for %s: expected an SMTP domain such as contoso.com or "
             "*.contoso.com%s." % (text, name, ", or *" if allow_star else ""), ARGUMENT)
    return text.rstrip(".")


def domain_no_star(name, value):
    return domain_with_subdomains(name, value, allow_star=False)


def plain_domain(name, value):
    text = value.strip().rstrip(".")
    if not is_domain(text):
        fail("InvalidDomain", "The value '%s' is not valid for %s: expected a domain name such as contoso.com." % (value, name),
             ARGUMENT)
    return text


def smtp_address(name, value):
    text = value.strip()
    if not _SMTP.match(text) or not is_domain(text.rsplit("@", 1)[1]):
        fail("InvalidSmtpAddress", "The value '%s' is not valid for %s: expected an email address such as "
             "user@contoso.com." % (value, name), ARGUMENT)
    return text


def non_empty(name, value):
    if not value.strip():
        fail("EmptyValue", "%s cannot contain an empty value." % name, ARGUMENT)
    return value


def max_length(limit):
    def check(name, value):
        if len(value) > limit:
            fail("MaxLength", "The length of %s is %d characters; the maximum is %d." % (name, len(value), limit))
        return value
    return check


def object_name(name, value):
    """Names of configuration objects: no leading or trailing white space (NoLeadingOrTrailingWhitespaceConstraint
    on the directory Name property; for connectors and rules inferred). The name is stored and found as given."""
    if value != value.strip():
        fail("NameWhitespace", "The value \"%s\" of property %s isn't valid: it can't begin or end with white space."
             % (value, name))
    return value


def connector_name(name, value):
    if not value.strip():
        fail("EmptyName", "%s cannot be empty." % name, ARGUMENT)
    return max_length(64)(name, object_name(name, value))


# The reserved networks are shared constant data (service_data.py, from the service's IPAddressValidation).
RESERVED_V4 = tuple(ipaddress.ip_network(n) for n in RESERVED_IPV4_NETWORKS)


def _ipv4_network(name, text, reserved_key):
    """Parse an IPv4 address or CIDR for a connector field; rejects IPv6, bad addresses and reserved ranges."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        try:
            ipaddress.IPv6Address(text.split("/")[0])
        except ValueError:
            if re.match(r"^\d+(\.\d+){3}(/\d+)?$", text):
                fail("ConnectorIPRangeContainsInvalidIPv4Address", "The IP address '%s' in %s is not a valid IPv4 address: "
                     "each octet must be 0-255 and the first octet 1-255." % (text, name), ARGUMENT)
            return None
        fail("IPv6AddressesRangesAreNotAllowedInConnector", "The value '%s' in %s is an IPv6 address; connectors accept IPv4 "
             "addresses only." % (text, name), ARGUMENT)
    if network.version != 4:
        fail("IPv6AddressesRangesAreNotAllowedInConnector", "The value '%s' in %s is an IPv6 address; connectors accept IPv4 "
             "addresses only." % (text, name), ARGUMENT)
    if network.network_address.packed[0] == 0 and int(network.network_address) != 0:
        fail("ConnectorIPRangeContainsInvalidIPv4Address", "The IP address '%s' in %s is not a valid IPv4 address: the "
             "first octet must be 1-255." % (text, name), ARGUMENT)
    for reserved in RESERVED_V4:
        if network.overlaps(reserved):
            fail(reserved_key, "The IP address or range '%s' in %s contains reserved or private IP addresses (%s), which are "
                 "not allowed in a connector. Use the partner's public IPv4 addresses." % (text, name, reserved), ARGUMENT)
    return network


def connector_ip(name, value):
    """I8: SenderIPAddresses: IPv4 single IP or CIDR /24-/32; no ranges, no IPv6, no reserved ranges."""
    text = value.strip()
    if re.match(r"^[0-9.]+\s*-\s*[0-9.]+$", text):
        fail("InvalidIPRangeFormat", "The value '%s' in %s is an IP address range; only a single IPv4 address or a CIDR "
             "range from /24 to /32 (for example 192.0.2.0/24) is allowed." % (text, name), ARGUMENT)
    if "/" in text:
        prefix = text.split("/", 1)[1]
        if not prefix.isdigit() or not 24 <= int(prefix) <= 32:
            if prefix.isdigit() and int(prefix) <= 32 and ":" not in text:
                fail("InvalidCidrRange", "The CIDR range '%s' in %s is too large: the prefix length must be 24 to 32." % (text, name),
                     ARGUMENT)
    network = _ipv4_network(name, text, "IPRangeInConnectorContainsReservedIPAddresses")
    if network is None:
        fail("InvalidIPRangeFormat", "The value '%s' in %s is not a valid IPv4 address (203.0.113.10) or CIDR range from /24 to /32 (203.0.113.0/24)."
             % (text, name),
             ARGUMENT)
    return text


def smart_host(name, value):
    """SmartHosts: FQDN, IPv4 or IPv4 CIDR; no port, no IPv6, no reserved ranges."""
    text = value.strip()
    if re.match(r"^\[?[^\[\]]+\]?:\d+$", text) and text.count(":") == 1:
        fail("SmartHostPortNotAllowed", "The smart host '%s' in %s contains a port; smart hosts use port 25 and a port cannot "
             "be given. Use a host name or IPv4 address only." % (text, name), ARGUMENT)
    if ":" in text:
        fail("SmartHostsIPValidationFailed", "The smart host '%s' in %s is an IPv6 address; only FQDNs and IPv4 addresses are "
             "allowed." % (text, name), NS_SCT + "SmartHostsIPValidationFailedException")
    if re.match(r"^[0-9./]+$", text):
        if _ipv4_network(name, text, "SmartHostReservedIP") is None:
            fail("SmartHostsIPValidationFailed", "The smart host '%s' in %s is not a valid IPv4 address or CIDR range." % (text, name),
                 NS_SCT + "SmartHostsIPValidationFailedException")
        return text
    if not is_domain(text):
        fail("InvalidSmartHost", "The smart host '%s' in %s is not valid: expected a fully qualified domain name (such as "
             "mail.contoso.com) or an IPv4 address." % (text, name), ARGUMENT)
    return text.rstrip(".")


def ip_range_any(name, value):
    """A single IP, an ``a-b`` range or a CIDR (IPv4 or IPv6): EFSkipIPs and SenderIpRanges."""
    text = value.strip()
    try:
        if "-" in text:
            low, high = [ipaddress.ip_address(p.strip()) for p in text.split("-", 1)]
            if low.version != high.version or int(low) > int(high):
                raise ValueError
        else:
            ipaddress.ip_network(text, strict=False)
    except ValueError:
        fail("InvalidIPRange", "The value '%s' in %s is not valid: expected a single IP address (192.0.2.1), a range "
             "(192.0.2.1-192.0.2.20) or a CIDR range (192.0.2.0/24)." % (text, name), ARGUMENT)
    return text


def ef_skip_ip(name, value):
    """EFSkipIPs: like ip_range_any, but private and reserved IPv4 addresses can't be added (Enhanced Filtering skips
    them by itself: OfficeDocs-Exchange#1960 / PR #1982)."""
    text = ip_range_any(name, value)
    if "-" in text:
        low, high = [ipaddress.ip_address(p.strip()) for p in text.split("-", 1)]
        blocks = list(ipaddress.summarize_address_range(low, high)) if low.version == 4 else []
    else:
        network = ipaddress.ip_network(text, strict=False)
        blocks = [network] if network.version == 4 else []
    for reserved in RESERVED_V4:
        if any(block.overlaps(reserved) for block in blocks):
            fail("IPRangeInConnectorContainsReservedIPAddresses", "The IP address or range '%s' in %s contains reserved or "
                 "private IP addresses (%s), which can't be added; private IP addresses are skipped automatically."
                 % (text, name, reserved), ARGUMENT)
    return text


def byte_size(name, value):
    """A ByteQuantifiedSize (AttachmentSizeOver, MessageSizeOver): '10MB', '10 MB', '1.5 GB', '10485760' (bytes) or
    the read-back form; stored in the read-back form '10 MB (10,485,760 bytes)'. From the struct's parser (a number
    of up to 15 characters ending in a digit, an optional unit after at most one space, or the bytes in brackets)."""
    text = str(value).strip()
    match = re.match(r"^(\S{0,14}\d)(?: ?([KMGT]?B)(?: \((\S+) bytes\))?)?$", text, re.I)
    size = None
    if match and match.group(3):
        digits = match.group(3).replace(",", "")
        size = int(digits) if digits.isdigit() else None
    elif match:
        number = match.group(1).replace(",", "")
        factor = dict(SIZE_UNITS)[(match.group(2) or "B").upper()]
        if re.match(r"^\+?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$", number, re.I):
            size = int(number) * factor if number.lstrip("+").isdigit() else int(float(number) * factor)
    if size is None or size < 0 or size >= 1 << 64:
        transformation(name, value, "Microsoft.Exchange.Data.ByteQuantifiedSize",
                       "The value '%s' isn't a valid size; use a number with an optional unit B, KB, MB, GB or TB." % value)
    return format_size(size)


def format_size(size):
    """'<value:G4> <unit> (<bytes:N0> bytes)' in the largest unit the size holds at least once."""
    for unit, factor in SIZE_UNITS:
        if size >= factor or factor == 1:
            return "%s %s (%s bytes)" % ("%.4G" % (float(size) / factor), unit, "{:,}".format(size))
    return str(size)


def regex_pattern(name, value):
    """A regular expression the service's (.NET) engine accepts. Only errors .NET raises as well are refused:
    unbalanced parentheses, an unterminated class, a quantifier without anything to repeat, {n,m} with n > m, a
    reversed range; constructs Python lacks (\\p{L}, \\z, variable look-behind...) are accepted."""
    if not value:
        fail("EmptyPattern", "%s cannot contain an empty pattern." % name, ARGUMENT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(re.sub(r"\(\?<(?![=!])(\w+)>", r"(?P<\1>", value))
    except re.error as exc:
        if str(exc.msg).startswith(("missing )", "unbalanced parenthesis", "unterminated character set",
                                    "nothing to repeat", "multiple repeat", "min repeat greater than max repeat",
                                    "bad character range")):
            fail("InvalidPattern", "The pattern '%s' in %s isn't a valid regular expression: %s." % (value, name, exc.msg),
                 ARGUMENT)
    return value


def networks_of(entries):
    out = []
    for entry in entries or []:
        try:
            out.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return out


# --------------------------------------------------------------------------- dates and record formatting

_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
                   re.I)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def parse_date(name, value):
    """``yyyy-MM-ddTHH:mm:ss`` (UTC, as the module sends it) or with ``Z``/offset -> aware UTC datetime."""
    match = _DATE.match(str(value).strip())
    if not match:
        transformation(name, value, "System.DateTime", "String '%s' was not recognized as a valid DateTime." % value)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        stamp = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                                  int((fraction or "0").ljust(6, "0")[:6]), tzinfo=datetime.timezone.utc)
    except ValueError:
        transformation(name, value, "System.DateTime", "String '%s' was not recognized as a valid DateTime." % value)
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        stamp -= sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return stamp


def fmt_date(stamp):
    """``2026-07-23T22:55:13.0000000+00:00``"""
    if stamp is None:
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + ".%07d+00:00" % (stamp.microsecond * 10)


def fmt_unzoned(stamp):
    """``2026-07-24T18:59:12.0000000`` (UTC, no offset): how LastValidationTimestamp reads back (live_evidence.md)."""
    if stamp is None:
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + ".%07d" % (stamp.microsecond * 10)


def fmt_utc(stamp):
    """``2026-07-23T22:55:13.0000000Z``"""
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + ".%07dZ" % (stamp.microsecond * 10)


def read_date(text):
    return parse_date("date", text) if text else None


def dn_escape(name):
    return re.sub(r'([,+"\\<>;=])', r"\\\1", name)


def common_tail(obj, container, object_class, tenant, org_id):
    """Identity, DN, timestamps and the other members every configuration object carries."""
    name = obj["Name"]
    dn = "CN=%s,%sCN=Configuration,CN=%s,CN=ConfigurationUnits,%s" % (dn_escape(name), container, tenant, FOREST)
    changed = read_date(obj.get("WhenChanged"))
    created = read_date(obj.get("WhenCreated"))
    obj.update({
        "AdminDisplayName": obj.get("AdminDisplayName") or "",
        "ExchangeVersion": EXCHANGE_VERSION,
        "DistinguishedName": dn,
        "Identity": name,
        "Id": name,
        "ObjectCategory": "%s/Configuration/Schema/%s" % ("NAMPR08A008.PROD.OUTLOOK.COM", object_class),
        "ObjectClass": ["top", object_class],
        "WhenChanged": fmt_date(changed),
        "WhenCreated": fmt_date(created),
        "WhenChangedUTC": fmt_utc(changed),
        "WhenCreatedUTC": fmt_utc(created),
        "ExchangeObjectId": obj["Guid"],
        "OrganizationId": "NAMPR08A008.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/%s - %s" % (tenant, org_id),
        "OriginatingServer": SERVER,
        "IsValid": True,
        "ObjectState": "Unchanged",
    })
    return obj


# --------------------------------------------------------------------------- store

class Store(object):
    """Objects of one tenant on an open SQLite connection (inside the caller's transaction).

    Replication lag (setting ``replication_lag``, seconds; 0, the default, means none): Exchange Online replicates
    changes with a delay (a Get 6 s after New answered 404; "outbound connector changes may take time to
    replicate": live_evidence.md). With a lag, an object is invisible for that long after it was created to every
    lookup by identity and every list (Get, Set, Remove, Validate, a rule routing to it), though its name is taken;
    and a rule removed or routed elsewhere still counts for that long as a reference of the connector it routed to.
    """

    def __init__(self, conn, tenant_domain, tenant_id, settings):
        self.conn = conn
        self.tenant_domain = tenant_domain
        self.tenant_id = tenant_id
        self.settings = settings
        self.warnings = []
        self.lag = float(settings.get("replication_lag") or 0.0)
        self.now = time.time()
        self._pending = {}

    def all(self, kind):
        rows = self.conn.execute("SELECT data FROM objects WHERE kind = ?", (kind,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    # ---- replication lag
    def pending(self, kind):
        """Guids of the ``kind`` objects that replication does not show yet."""
        if self.lag <= 0:
            return frozenset()
        if kind not in self._pending:
            rows = self.conn.execute("SELECT guid FROM replication WHERE kind = ? AND event = 'created' AND until > ?",
                                     (kind, self.now)).fetchall()
            self._pending[kind] = frozenset(row[0] for row in rows)
        return self._pending[kind]

    def visible(self, kind, objects):
        hidden = self.pending(kind)
        return [obj for obj in objects if obj["Guid"] not in hidden] if hidden else list(objects)

    def note_created(self, kind, obj):
        if self.lag > 0:
            self.conn.execute("DELETE FROM replication WHERE until <= ?", (self.now,))
            self.conn.execute("INSERT INTO replication (kind, guid, event, name, target, until) VALUES (?, ?, 'created', ?, "
                              "NULL, ?)", (kind, obj["Guid"], obj["Name"], self.now + self.lag))

    def note_unreferenced(self, kind, obj, target):
        """``obj`` stopped referring to ``target`` (a connector name): it still counts as a reference for a while."""
        if self.lag > 0 and target:
            self.conn.execute("INSERT INTO replication (kind, guid, event, name, target, until) VALUES (?, ?, "
                              "'unreferenced', ?, ?, ?)", (kind, obj["Guid"], obj["Name"], target.lower(), self.now + self.lag))

    def stale_references(self, kind, target):
        """Names of ``kind`` objects that stopped referring to ``target`` less than the lag ago."""
        if self.lag <= 0:
            return []
        rows = self.conn.execute("SELECT name FROM replication WHERE kind = ? AND event = 'unreferenced' AND target = ? "
                                 "AND until > ?", (kind, target.lower(), self.now)).fetchall()
        return [row[0] for row in rows]

    def find(self, kind, identity, candidates=None):
        """Match Name, Guid or DistinguishedName case-insensitively (objects replication does not show yet: never)."""
        wanted = str(identity).strip().lower()
        hidden = self.pending(kind)
        for obj in self.all(kind) if candidates is None else candidates:
            if obj["Guid"] in hidden:
                continue
            if wanted in (obj["Name"].lower(), obj["Guid"].lower(), obj.get("DistinguishedName", "").lower()):
                return obj
        return None

    def get(self, kind, identity):
        obj = self.find(kind, identity)
        if obj is None:
            not_found(identity)
        return obj

    def name_taken(self, kind, name, guid=None):
        row = self.conn.execute("SELECT guid FROM objects WHERE kind = ? AND name_lc = ?", (kind, name.lower())).fetchone()
        return row is not None and row[0] != guid

    def save(self, kind, obj):
        row = (obj["Name"].lower(), json.dumps(obj), obj["Guid"], kind)
        if not self.conn.execute("UPDATE objects SET name_lc = ?, data = ? WHERE guid = ? AND kind = ?", row).rowcount:
            self.conn.execute("INSERT INTO objects (name_lc, data, guid, kind) VALUES (?, ?, ?, ?)", row)

    def delete(self, kind, obj):
        self.conn.execute("DELETE FROM objects WHERE kind = ? AND guid = ?", (kind, obj["Guid"]))

    def accepted_domains(self):
        return [(row[0], row[1]) for row in self.conn.execute("SELECT domain, domain_type FROM accepted_domains ORDER BY domain")]

    def warn(self, text):
        self.warnings.append(text)


# --------------------------------------------------------------------------- helpers shared by the object families

PAGINATION_WARNING = ("There are more results available than are currently displayed. "
                      "To view them, increase the value for the ResultSize parameter.")


def limit_results(store, objects, bound):
    """Apply ResultSize (default 1000, or Unlimited) and warn like the service when results were cut."""
    size = bound.get("ResultSize")
    if size is None:
        limit = 1000
    elif str(size).strip().lower() == "unlimited":
        return objects
    else:
        try:
            limit = int(str(size).strip())
        except ValueError:
            transformation("ResultSize", size, "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
                           "The value must be a positive number or 'Unlimited'.")
        if limit <= 0:
            transformation("ResultSize", size, "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
                           "The value must be a positive number or 'Unlimited'.")
    if len(objects) > limit:
        store.warn(PAGINATION_WARNING)
        return objects[:limit]
    return objects


def apply_bound(obj, bound, params):
    """Write bound values of ``params`` (lower-case name -> Param) into ``obj``: lists replace or Add/Remove,
    $null clears a list to [], dates are formatted."""
    for name, value in bound.items():
        param = params.get(name.lower())
        if param is None or name in COMMON_NAMES:
            continue
        if isinstance(value, HashUpdate):
            obj[name] = value.apply(obj.get(name))
        elif param.kind == "list":
            obj[name] = list(value or [])
        elif param.kind == "date":
            obj[name] = fmt_date(value)
        else:
            obj[name] = value
    return obj


def require(bound, cmdlet, *names):
    missing = [name for name in names if bound.get(name) in (None, "", [])]
    if missing:
        raise CmdletError("Cannot process command because of one or more missing mandatory parameters: %s." % " ".join(missing),
                          exc_type=BINDING, sid="")


def unchanged_warning(identity):
    return "The command completed successfully but no settings of '%s' have been modified." % identity
