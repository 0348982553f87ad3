# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Value validators of the sandbox tenant, written from the cmdlet reference: domains, addresses, names,
IPv4 ranges, smart hosts, sizes and patterns; each raises the error the service raises."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re
import warnings

from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.binding import ARGUMENT, NS_SCT, fail, transformation
from ansible_collections.m365.mailflow.plugins.module_utils.service_data import RESERVED_IPV4_NETWORKS, SIZE_UNITS


# re.ASCII: with re.I alone, [a-z] would also match the Kelvin sign and the long s, which are not ASCII.
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$", re.I | re.ASCII)
_SMTP = re.compile(r"^[^@\s;,<>()\"]+@[^@\s;,<>()\"]+$")


def is_domain(text):
    text = (text or "").rstrip(".")
    labels = text.split(".")
    return bool(text) and len(text) <= 255 and len(labels) >= 2 and all(_LABEL.match(label) for label in labels)


def ascii_domain(name, value, text):
    """Domain and host names are taken in their ASCII form only: an internationalised name must be given as its
    A-label (``xn--bcher-kva.example``), a U-label (``bücher.example``) is refused. Inferred: the SMTP domain types
    of the service are ASCII and the reference says nothing about IDN; the client converts before sending."""
    if any(ord(c) > 127 for c in text):
        fail("InvalidDomain", "The value '%s' is not valid for %s: a domain name must be given in its ASCII form; "
             "write an internationalized domain name as its A-label (xn--...)." % (value, name), ARGUMENT)


def domain_with_subdomains(name, value, allow_star=True):
    """A domain, ``*.domain`` or (``allow_star``) a bare ``*``; embedded wildcards are rejected."""
    text = value.strip()
    ascii_domain(name, value, text)
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
    ascii_domain(name, value, text)
    if not is_domain(text):
        fail("InvalidDomain", "The value '%s' is not valid for %s: expected a domain name such as contoso.com." % (value, name),
             ARGUMENT)
    return text


def smtp_address(name, value):
    text = value.strip()
    if _SMTP.match(text):
        ascii_domain(name, value, text.rsplit("@", 1)[1])
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
    ascii_domain(name, value, text)
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


def rule_ip_range(name, value):
    """SenderIpRanges of a rule: as ``ip_range_any``, stored as the service stores it: the rule keeps
    ``IPRange.ToString()``, which prints a CIDR block with its host bits cleared (``198.51.100.7/24`` reads back as
    ``198.51.100.0/24``; decompiled SenderIpRangesPredicate.ToInternalCondition and IPRange.SetAddressesFromCIDR)."""
    text = ip_range_any(name, value)
    if "/" in text and "-" not in text:
        return str(ipaddress.ip_network(text, strict=False))
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


def _dotnet_refusal(value):
    """The .NET parser's refusal of a construct Python's re accepts (so the compile below cannot see it), or None:
    Python's named groups and back-references (?P...), inline options other than i, m, n, s, x, possessive
    quantifiers (a*+), the escapes \\N and \\U (dotnet/runtime RegexParserTests: "(?P<>a)", "(?a)a", "a*+",
    "a{1}+", "\\U123")."""
    shown, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            if value[i + 1:i + 2] in ("N", "U"):
                return "Unrecognized escape sequence \\%s" % value[i + 1]
            shown.append("E")
            i += 2
            continue
        if c == "[":
            j = i + 1 + (value[i + 1:i + 2] == "^")
            j += value[j:j + 1] == "]"
            while j < len(value) and value[j] != "]":
                if value[j] == "\\" and value[j + 1:j + 2] in ("N", "U"):
                    return "Unrecognized escape sequence \\%s" % value[j + 1]
                j += 2 if value[j] == "\\" else 1
            shown.append("C")
            i = j + 1
            continue
        shown.append(c)
        i += 1
    text = "".join(shown)
    options = re.search(r"\(\?([A-Za-z-]+)[:)]", text)
    if re.search(r"\(\?P", text) or (options and set(options.group(1)) - set("imnsxIMNSX-")):
        return "Unrecognized grouping construct"
    if re.search(r"(?:[*+]|[^(]\?|\{\d+(?:,\d*)?\})\+", text):
        return "Nested quantifier '+'"
    return None


def regex_pattern(name, value):
    """A regular expression the service's (.NET) engine accepts. Errors .NET raises as well are refused: unbalanced
    parentheses, an unterminated class, a quantifier without anything to repeat, {n,m} with n > m, a reversed range,
    and what .NET refuses although Python accepts it (``_dotnet_refusal``); constructs Python lacks (\\p{L}, \\z,
    variable look-behind...) are accepted, and so are a quantifier after an anchor (\\b*) and a brace that is not
    a quantifier ({,3}), which .NET takes."""
    if not value:
        fail("EmptyPattern", "%s cannot contain an empty pattern." % name, ARGUMENT)
    refused = _dotnet_refusal(value)
    if refused:
        fail("InvalidPattern", "The pattern '%s' in %s isn't a valid regular expression: %s." % (value, name, refused),
             ARGUMENT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(re.sub(r"\(\?<(?![=!])(\w+)>", r"(?P<\1>", value))
    except re.error as exc:
        before = value[:exc.pos or 0]
        dotnet_syntax = str(exc.msg).startswith("nothing to repeat") and (
            re.search(r"(?:^|[^\\])(?:\\\\)*(?:\^|\$|\\[bBAZzG])$", before)
            or (value[exc.pos or 0:(exc.pos or 0) + 1] == "{" and not re.match(r"\{\d+(?:,\d*)?\}", value[exc.pos:]))
        ) or (str(exc.msg).startswith("bad character range") and str(exc.msg).endswith("-["))  # [a-[:lower:]]
        if not dotnet_syntax and str(exc.msg).startswith((
                "missing )", "unbalanced parenthesis", "unterminated character set", "nothing to repeat",
                "multiple repeat", "min repeat greater than max repeat", "bad character range")):
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
