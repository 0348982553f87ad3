# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Value normalisers and input validators shared by every resource.

Normalisers turn a value, as the user wrote it or as Exchange Online reads it
back, into one canonical form so that equal settings compare equal
(``Contoso.COM`` = ``smtp:contoso.com;1``, ``192.0.2.1`` = ``192.0.2.1/32``,
lists in any order). Validators reject what the service would reject, with a
message that names the field and the fix, before any call is made.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import re

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_ADDRESS_SPACE = re.compile(r"^smtp:(?P<domain>[^;]+)(?:;(?P<cost>\d+))?$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

# IPv4 ranges Exchange Online refuses in connector IP lists (connector_cmdlets.md 2.1 and 3.1).
RESERVED_IPV4 = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16",
    "100.64.0.0/10", "224.0.0.0/4", "240.0.0.0/4",
))


# --------------------------------------------------------------------------- domains

def domain_error(field, value, allow_subdomain_wildcard=True, allow_star=False):
    """Return why ``value`` is not a valid domain for ``field``, or None."""
    if not isinstance(value, str) or not value.strip():
        return "%s: an empty value is not a domain" % field
    text = value.strip().rstrip(".").lower()
    if text == "*":
        if allow_star:
            return None
        return "%s: a bare '*' is not allowed; give a domain such as contoso.com or *.contoso.com" % field
    labels = text.split(".")
    if labels[0] == "*":
        if not allow_subdomain_wildcard:
            return "%s: '%s' has a wildcard; give a plain domain such as contoso.com" % (field, value)
        labels = labels[1:]
    if any("*" in label for label in labels):
        return ("%s: '%s' has a wildcard inside the name; only a leading '*.' is allowed (for example "
                "*.contoso.com for contoso.com and all its subdomains)" % (field, value))
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        return "%s: '%s' is not a valid domain name (expected something like contoso.com)" % (field, value)
    if len(text) > 253:
        return "%s: '%s' is longer than 253 characters" % (field, value)
    return None


def domain_key(value):
    """Canonical comparison form of a domain: lower case, no trailing dot."""
    return value.strip().rstrip(".").lower()


def parse_address_space(value):
    """(domain, cost) of ``contoso.com``, ``*.contoso.com``, ``*`` or ``smtp:contoso.com;1``."""
    text = value.strip()
    match = _ADDRESS_SPACE.match(text)
    if match:
        return domain_key(match.group("domain")), int(match.group("cost") or 1)
    return domain_key(text), 1


def address_space_key(value):
    domain, cost = parse_address_space(value)
    return "%s;%d" % (domain, cost)


def address_space_display(value):
    """What a user would write: the bare domain when the cost is the default 1."""
    domain, cost = parse_address_space(value)
    return domain if cost == 1 else "smtp:%s;%d" % (domain, cost)


def sender_domain_error(field, value):
    if not isinstance(value, str):
        return "%s: '%s' is not a string" % (field, value)
    match = _ADDRESS_SPACE.match(value.strip())
    if value.strip().lower().startswith("smtp:") and not match:
        return "%s: '%s' is not a valid address space; write contoso.com or smtp:contoso.com;1" % (field, value)
    domain = match.group("domain") if match else value
    return domain_error(field, domain, allow_subdomain_wildcard=True, allow_star=True)


# --------------------------------------------------------------------------- IPv4

def ipv4_connector_error(field, value, min_prefix=24):
    """Why ``value`` is not a single IPv4 address or a CIDR block of /min_prefix to /32, or None."""
    text = str(value).strip()
    if "-" in text:
        return ("%s: '%s' is a range; Exchange Online accepts only a single IPv4 address or a CIDR block from /%d to "
                "/32 here. Write the range as CIDR blocks (for example 198.51.100.0/24)" % (field, value, min_prefix))
    if ":" in text:
        return "%s: '%s' is IPv6; Exchange Online accepts only IPv4 addresses here" % (field, value)
    try:
        network = ipaddress.IPv4Network(text, strict=False)
    except (ValueError, ipaddress.AddressValueError, ipaddress.NetmaskValueError):
        return "%s: '%s' is not an IPv4 address or CIDR block (expected 198.51.100.7 or 198.51.100.0/24)" % (field, value)
    if "/" in text and network.prefixlen < min_prefix:
        return ("%s: '%s' is a /%d block; the shortest prefix Exchange Online accepts is /%d. Split it into /%d "
                "blocks" % (field, value, network.prefixlen, min_prefix, min_prefix))
    for reserved in RESERVED_IPV4:
        if network.overlaps(reserved):
            return ("%s: '%s' is in the reserved or private range %s, which Exchange Online refuses in a connector; "
                    "give the partner's public IPv4 address" % (field, value, reserved))
    return None


def ipv4_key(value):
    """``192.0.2.1`` and ``192.0.2.1/32`` compare equal; host bits are ignored."""
    try:
        return str(ipaddress.IPv4Network(str(value).strip(), strict=False))
    except ValueError:
        return str(value).strip().lower()


def ip_range_key(value):
    """Rule SenderIpRanges: single, CIDR or ``a-b``; single equals /32."""
    text = str(value).strip()
    if "-" in text:
        start, _sep, end = text.partition("-")
        try:
            return "%s-%s" % (ipaddress.ip_address(start.strip()), ipaddress.ip_address(end.strip()))
        except ValueError:
            return text.lower()
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return text.lower()


def ip_range_error(field, value):
    text = str(value).strip()
    try:
        if "-" in text:
            start, _sep, end = text.partition("-")
            first, last = ipaddress.ip_address(start.strip()), ipaddress.ip_address(end.strip())
            if first.version != last.version or int(first) > int(last):
                return "%s: '%s' is not an ascending range of one IP version" % (field, value)
        else:
            ipaddress.ip_network(text, strict=False)
    except ValueError:
        return "%s: '%s' is not an IP address, a CIDR block or a range like 192.0.2.1-192.0.2.9" % (field, value)
    return None


# --------------------------------------------------------------------------- misc

def smart_host_error(field, value):
    text = str(value).strip()
    if not text:
        return "%s: an empty smart host is not allowed" % field
    if ":" in text and text.count(":") <= 1:
        return ("%s: '%s' has a port; Exchange Online always delivers to smart hosts on port 25 and does not accept "
                "ports. Remove ':%s'" % (field, value, text.rsplit(":", 1)[1]))
    if re.match(r"^[0-9./]+$", text):
        return ipv4_connector_error(field, text, min_prefix=0)
    if ":" in text:
        return "%s: '%s' is IPv6; smart hosts must be a host name or an IPv4 address" % (field, value)
    return domain_error(field, text, allow_subdomain_wildcard=False)


def email_error(field, value):
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        return "%s: '%s' is not an email address" % (field, value)
    return domain_error(field, value.strip().rsplit("@", 1)[1], allow_subdomain_wildcard=False)


def length_error(field, value, maximum):
    if value is not None and len(value) > maximum:
        return "%s: %d characters is too long; the maximum is %d" % (field, len(value), maximum)
    return None


def ci_key(value):
    return value.strip().lower() if isinstance(value, str) else value


def raise_errors(errors):
    """Raise one ConfigurationError listing every problem found (None entries are ignored)."""
    errors = [e for e in errors if e]
    if errors:
        raise ConfigurationError("; ".join(errors) if len(errors) > 1 else errors[0])


def check_each(field, values, check, **kwargs):
    return [check(field, value, **kwargs) for value in (values or [])]


# --------------------------------------------------------------------------- timestamps

_STAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)
_MS_STAMP = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")


def utc_datetime(value):
    """A timezone-aware UTC datetime from a timestamp the service reads back, or None when it is not one.

    A value without an offset is UTC: Exchange Online stores ``LastValidationTimestamp`` in UTC (Set-OutboundConnector
    reference: "Specify the date/time value in UTC") and reads it back without an offset (live record
    ``"2026-07-24T18:59:12.0000000"``, live_evidence.md, confirmed).
    """
    if isinstance(value, datetime.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return stamp.astimezone(datetime.timezone.utc)
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _MS_STAMP.match(text)
    if match:
        return datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(milliseconds=int(match.group(1)))
    match = _STAMP.match(text)
    if not match:
        return None
    zone = match.group(7)
    tz = datetime.timezone.utc
    if zone and zone.upper() != "Z":
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        tz = datetime.timezone(-offset if zone[0] == "-" else offset)
    try:
        stamp = datetime.datetime(*[int(g or 0) for g in match.groups()[:6]], tzinfo=tz)
    except ValueError:
        return None
    return stamp.astimezone(datetime.timezone.utc)


def utc_timestamp(value):
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC) for a timestamp the service reads back; other values unchanged."""
    stamp = utc_datetime(value)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else value
