# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Value normalisers and input validators shared by every resource.

Normalisers turn a value, as the user wrote it or as Exchange Online reads it
back, into one canonical form so that equal settings compare equal
(``Contoso.COM`` = ``smtp:contoso.com;1``, ``192.0.2.1`` = ``192.0.2.1/32``,
``mail.contoso.com.`` = ``mail.contoso.com``, lists in any order and without
duplicates). Validators reject what the service would reject, with a message
that names the field and the fix, before any call is made.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import math
import os
import re
import warnings
from urllib.parse import urlsplit

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError, Problem

try:
    import idna as _idna  # IDNA 2008 with the UTS #46 mapping; installed with requests (a dependency of msal)
except ImportError:  # pragma: no cover - exercised only where requests/idna is missing
    # Without it, Python's own 'idna' codec (IDNA 2003, nameprep) converts the names: the same A-label for ordinary
    # names (bücher.example), but it also takes a few code points IDNA 2008 refuses (symbols, joiners) and maps
    # 'ß' to 'ss' (IDNA 2008: xn--zca). docs/partner-definitions.md says so.
    _idna = None
from ansible_collections.m365.mailflow.plugins.module_utils.service_data import RESERVED_IPV4_NETWORKS, SIZE_UNITS

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_ADDRESS_SPACE = re.compile(r"^smtp:(?P<domain>[^;]+)(?:;(?P<cost>-?\d+))?$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_SMTP = re.compile(r"^[^@\s;,<>()\"\[\]]+@[^@\s;,<>()\"\[\]]+$")
_NAMED_ADDRESS = re.compile(r"^[^<>]*<(?P<address>[^<>]+)>$")
COST_MIN, COST_MAX = 1, 100  # address space cost (SenderDomains smtp:domain;cost), connector_cmdlets.md 2.1

# IPv4 networks Exchange Online refuses in connector IP lists: one list shared with the sandbox (service_data.py
# says where it comes from and why it has these six entries).
RESERVED_IPV4 = tuple(ipaddress.ip_network(n) for n in RESERVED_IPV4_NETWORKS)


# --------------------------------------------------------------------------- domain and host names (IDNA)

# The label separators IDNA (RFC 3490 3.1) reads as a full stop: ideographic, full-width and half-width stops.
_DOTS = re.compile("[\u3002\uff0e\uff61]")


class IdnaError(ValueError):
    """A name that has no A-label form; ``str()`` says why, in the words of the checks' messages."""


def _ascii(text):
    return all(ord(c) < 128 for c in text)


def _label_to_ascii(label):
    """The A-label (``xn--...``) of one non-ASCII label, or IdnaError."""
    if _idna is not None:
        try:
            return _idna.encode(label, uts46=True, transitional=False).decode("ascii")
        except UnicodeError as exc:  # idna.IDNAError and its kinds are UnicodeErrors
            reason = str(exc)
            if "too long" in reason.lower():
                try:
                    alabel = "xn--" + _idna.uts46_remap(label, std3_rules=False, transitional=False).encode(
                        "punycode").decode("ascii")
                except (UnicodeError, ValueError):
                    alabel = None
                if alabel:
                    reason = "the label '%s' becomes %s (%d characters) and a label may have at most 63" % (
                        label, alabel, len(alabel))
            raise IdnaError(reason)
    try:
        return label.encode("idna").decode("ascii")  # IDNA 2003 (see the import above)
    except UnicodeError as exc:
        reason = str(exc)
        if "too long" in reason:
            reason = "the label '%s' is empty or longer than 63 characters after conversion" % label
        raise IdnaError(reason)


def idna_name(value):
    """The A-label (ASCII) form of a domain or host name, the one normaliser of every domain the collection takes.

    Blanks around the name are dropped; a name that is all ASCII is returned as written (an ``xn--`` A-label too),
    so its checks and its case stay what they were. A name with non-ASCII letters (``Bücher.example``) is converted
    label by label with the ``idna`` package (IDNA 2008, UTS #46 mapping: case folded, ``。`` read as a dot) and
    returned in lower case (``xn--bcher-kva.example``); ``*`` labels (``*.bücher.example``, ``*``) and the root's
    trailing dot are kept for the checks to judge. Raises IdnaError when a label has no A-label form (a code point
    IDNA does not allow, a label longer than 63 characters once converted, a hyphen at either end).

    Exchange Online stores and reads back domains in A-label form (SMTP domains are ASCII in its data types); that
    it does so for the connector and rule parameters, and refuses a U-label, is inferred: /work/shared/reference
    says nothing about IDN. So the client converts before it checks, compares or sends anything.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if _ascii(text):
        return text
    labels = _DOTS.sub(".", text).split(".")
    out = []
    for label in labels:
        out.append(label if (_ascii(label) or "*" in label) else _label_to_ascii(label))
    return ".".join(out).lower()


def idna_problem(field, value, example="contoso.com"):
    """Why ``value`` (a domain or host name of option ``field``) cannot be converted to its A-label form, or None."""
    try:
        idna_name(value)
    except IdnaError as exc:
        return ("%s: '%s' is not a domain name that can be converted to its ASCII (A-label, xn--) form: %s. Write the "
                "domain as it is registered (for example %s or bücher.example), or give its A-label form"
                % (field, value, exc, example))
    return None


def idna_shown(value):
    """How a name is quoted in messages: ``'bücher.example' (xn--bcher-kva.example)`` when the user wrote a
    Unicode name (both forms), ``'contoso.com'`` otherwise."""
    text = str(value)
    try:
        alabel = idna_name(text)
    except IdnaError:
        alabel = None
    if alabel is None or _ascii(text.strip()) or not _ascii(alabel):
        return "'%s'" % value
    return "'%s' (%s)" % (value, alabel)


def _idna_or_self(value):
    try:
        return idna_name(value)
    except IdnaError:
        return value.strip() if isinstance(value, str) else value


# --------------------------------------------------------------------------- domains

def domain_error(field, value, allow_subdomain_wildcard=True, allow_star=False):
    """Return why ``value`` is not a valid domain for ``field``, or None (Unicode names are judged in their A-label
    form, and quoted in both forms)."""
    if not isinstance(value, str) or not value.strip():
        return "%s: an empty value is not a domain" % field
    problem = idna_problem(field, value)
    if problem:
        return problem
    shown = idna_shown(value)
    text = idna_name(value).rstrip(".").lower()
    if text == "*":
        if allow_star:
            return None
        return "%s: a bare '*' is not allowed; give a domain such as contoso.com or *.contoso.com" % field
    labels = text.split(".")
    if labels[0] == "*":
        if not allow_subdomain_wildcard:
            return "%s: %s has a wildcard; give a plain domain such as contoso.com" % (field, shown)
        labels = labels[1:]
    if any("*" in label for label in labels):
        return ("%s: %s has a wildcard inside the name; only a leading '*.' is allowed (for example "
                "*.contoso.com for contoso.com and all its subdomains)" % (field, shown))
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        return "%s: %s is not a valid domain name (expected something like contoso.com)" % (field, shown)
    if len(text) > 253:
        return "%s: %s is longer than 253 characters%s" % (
            field, shown, "" if _ascii(value.strip()) else " in its A-label form")
    return None


def domain_key(value):
    """Canonical comparison form of a domain: its A-label form, lower case, no trailing dot."""
    return _idna_or_self(value).rstrip(".").lower()


def domain_text(value):
    """The form sent for a domain or host name: as written (a Unicode name in its A-label form), without
    surrounding blanks or the root's trailing dot.

    ``mail.td.example.`` (fully qualified, with the root label) is the same name as ``mail.td.example``; the
    service stores it without the dot, so it is sent without it.
    """
    return _idna_or_self(value).rstrip(".") if isinstance(value, str) else value


def parse_address_space(value):
    """(domain, cost) of ``contoso.com``, ``*.contoso.com``, ``*`` or ``smtp:contoso.com;1``."""
    text = value.strip()
    match = _ADDRESS_SPACE.match(text)
    if match:
        return domain_key(match.group("domain")), int(match.group("cost") or 1)
    return domain_key(text), 1


def address_space_domain(value):
    """The domain of an address space as written (``smtp:Bücher.example;5`` -> ``Bücher.example``), for messages."""
    text = value.strip()
    match = _ADDRESS_SPACE.match(text)
    return match.group("domain").strip() if match else text


def address_space_key(value):
    domain, cost = parse_address_space(value)
    return "%s;%d" % (domain, cost)


def address_space_display(value):
    """What a user would write: the bare domain when the cost is the default 1."""
    domain, cost = parse_address_space(value)
    return domain if cost == 1 else "smtp:%s;%d" % (domain, cost)


def address_space_text(value):
    """The form sent for an address space: as written, without blanks and without a trailing dot on the domain."""
    if not isinstance(value, str):
        return value
    match = _ADDRESS_SPACE.match(value.strip())
    if match:
        cost = match.group("cost")
        return "smtp:%s%s" % (domain_text(match.group("domain")), (";" + cost) if cost is not None else "")
    return domain_text(value)


def sender_domain_error(field, value):
    if not isinstance(value, str):
        return "%s: '%s' is not a string" % (field, value)
    match = _ADDRESS_SPACE.match(value.strip())
    if value.strip().lower().startswith("smtp:") and not match:
        return "%s: '%s' is not a valid address space; write contoso.com or smtp:contoso.com;1" % (field, value)
    if match and match.group("cost") is not None and not COST_MIN <= int(match.group("cost")) <= COST_MAX:
        return ("%s: '%s' has the cost %s; Exchange Online accepts a cost from %d to %d (write smtp:%s;1, or just "
                "the domain for the default cost 1)" % (field, value, match.group("cost"), COST_MIN, COST_MAX,
                                                        domain_text(match.group("domain"))))
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
    if network.network_address.packed[0] == 0 and int(network.network_address) != 0:
        return "%s: '%s' is not a valid IPv4 address for Exchange Online (the first number must be 1 to 255)" % (
            field, value)
    return reserved_ipv4_error(field, value, network) or host_bits_error(field, value)


def host_bits_error(field, value):
    """Why a CIDR block written with host bits set (``198.51.100.7/24``) is refused, or None.

    The service's IPRange masks the host bits when it parses the block (decompiled ``IPRange.SetAddressesFromCIDR``),
    so ``198.51.100.7/24`` means the whole ``198.51.100.0/24``, while the text is kept as written (``Expression``, the
    original text; that connectors store and read back that text is inferred, connector_cmdlets.md). Such an entry
    reads like one address and acts as 256: it is refused with both readings, for the options that keep it as
    given (connector IP addresses, smart hosts, EFSkipIPs). Rule IP ranges are stored as the network instead
    (``SenderIpRangesPredicate`` stores ``IPRange.ToString()``): ``ip_range_text`` sends that form."""
    text = str(value).strip()
    if "/" not in text or "-" in text:
        return None
    try:
        network = ipaddress.ip_network(text, strict=False)
        address = ipaddress.ip_address(text.split("/", 1)[0].strip())
    except ValueError:
        return None
    if address == network.network_address:
        return None
    return ("%s: '%s' has host bits set: a /%d block starts at %s, so it means every address of %s, not only %s. "
            "Write %s for the whole block, or %s for the one address"
            % (field, value, network.prefixlen, network.network_address, network, address, network, address))


def range_ends(text):
    """The first and last address of an ``a-b`` range; ValueError when either end is not an IP address."""
    start, _sep, end = str(text).partition("-")
    return ipaddress.ip_address(start.strip()), ipaddress.ip_address(end.strip())


def networks(value):
    """The IP networks an address entry covers (a single address, a CIDR block or an ``a-b`` range), [] when it is
    not one: for comparing entries as networks (``198.51.100.7`` overlaps ``198.51.100.0/24``)."""
    text = str(value).strip()
    try:
        if "-" in text:
            first, last = range_ends(text)
            if first.version != last.version or int(first) > int(last):
                return []
            return list(ipaddress.summarize_address_range(first, last))
        return [ipaddress.ip_network(text, strict=False)]
    except (ValueError, TypeError):
        return []


def reserved_ipv4_error(field, value, network):
    """Why ``network`` (an IPv4 network, or a (first, last) pair of addresses) is refused as reserved, or None."""
    if isinstance(network, tuple):
        first, last = network
        blocks = list(ipaddress.summarize_address_range(first, last))
    else:
        blocks = [network]
    for reserved in RESERVED_IPV4:
        if any(block.overlaps(reserved) for block in blocks):
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
        try:
            return "%s-%s" % range_ends(text)
        except ValueError:
            return text.lower()
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return text.lower()


def ip_range_text(value):
    """The form sent for a rule IP range: a CIDR block as the network the service stores
    (``198.51.100.7/24`` -> ``198.51.100.0/24``: ``SenderIpRangesPredicate`` keeps ``IPRange.ToString()``, which
    prints the masked start address, decompiled code), anything else as written without blanks."""
    text = str(value).strip()
    if "/" in text and "-" not in text:
        try:
            return str(ipaddress.ip_network(text, strict=False))
        except ValueError:
            return text
    return text


def ip_range_error(field, value):
    text = str(value).strip()
    try:
        if "-" in text:
            first, last = range_ends(text)
            if first.version != last.version or int(first) > int(last):
                return "%s: '%s' is not an ascending range of one IP version" % (field, value)
        else:
            ipaddress.ip_network(text, strict=False)
    except ValueError:
        return "%s: '%s' is not an IP address, a CIDR block or a range like 192.0.2.1-192.0.2.9" % (field, value)
    return None


def ef_skip_ip_error(field, value):
    """EFSkipIPs: a single IP, a CIDR block or a range, and no private or reserved IPv4 addresses.

    The service refuses private addresses here and skips them by itself (MicrosoftDocs/OfficeDocs-Exchange#1960,
    PR #1982: confirmed for single addresses and CIDR blocks of RFC 1918). That a range ``a-b`` overlapping a
    reserved network is refused too is inferred (the same validator checks each address it is given).
    """
    error = ip_range_error(field, value)
    if error:
        return error
    text = str(value).strip()
    if "-" in text:
        first, last = range_ends(text)
        if first.version != 4:
            return host_bits_error(field, value)
        problem = reserved_ipv4_error(field, value, (first, last))
    else:
        network = ipaddress.ip_network(text, strict=False)
        if network.version != 4:
            return host_bits_error(field, value)
        problem = reserved_ipv4_error(field, value, network)
    if problem:
        return problem.replace("give the partner's public IPv4 address",
                               "Enhanced Filtering skips private addresses by itself; list only public ones")
    return host_bits_error(field, value)


# --------------------------------------------------------------------------- misc

_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")


def smart_host_error(field, value):
    text = str(value).strip()
    if not text:
        return "%s: an empty smart host is not allowed" % field
    url = _URL.match(text)
    if url:
        try:
            host = urlsplit(text).hostname
        except ValueError:
            host = None
        write = ("write %s" % domain_text(host)) if host else "write the host name alone (mail.contoso.com)"
        return ("%s: '%s' is a URL; a smart host is a host name or an IPv4 address, which Exchange Online reaches "
                "by SMTP on port 25, without a scheme, path or port: %s" % (field, value, write))
    if ":" in text and text.count(":") <= 1:
        return ("%s: '%s' has a port; Exchange Online always delivers to smart hosts on port 25 and does not accept "
                "ports. Remove ':%s'" % (field, value, text.rsplit(":", 1)[1]))
    if re.match(r"^[0-9./]+$", text):
        return ipv4_connector_error(field, text, min_prefix=0)
    if ":" in text:
        return "%s: '%s' is IPv6; smart hosts must be a host name or an IPv4 address" % (field, value)
    return domain_error(field, text, allow_subdomain_wildcard=False)


def smart_host_key(value):
    """Smart hosts compare as IPv4 addresses (``192.0.2.1`` = ``192.0.2.1/32``) or as host names (A-label form, no
    case, no trailing dot)."""
    text = str(value).strip()
    if re.match(r"^[0-9./]+$", text):
        return ipv4_key(text)
    return domain_key(text)


def email_error(field, value):
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        return "%s: '%s' is not an email address" % (field, value)
    return domain_error(field, value.strip().rsplit("@", 1)[1], allow_subdomain_wildcard=False)


def address_text(value):
    """The form sent for an email address: without surrounding blanks, its domain part in A-label form
    (``anna@bücher.example`` -> ``anna@xn--bcher-kva.example``); the local part is kept as written."""
    if not isinstance(value, str) or "@" not in value:
        return text_strip(value)
    local, _at, domain = value.strip().rpartition("@")
    return "%s@%s" % (local, domain_text(domain))


def address_key(value):
    """Comparison form of an email address: ``address_text`` without case."""
    return ci_key(address_text(value))


def text_strip(value):
    """The form sent for a list entry compared without case (email addresses, words): without surrounding blanks."""
    return value.strip() if isinstance(value, str) else value


def unique(values, key):
    """``values`` with one entry per ``key``: the first spelling of each value is kept, in the given order."""
    out, seen = [], set()
    for value in values or []:
        marker = key(value)
        if marker in seen:
            continue
        seen.add(marker)
        out.append(value)
    return out


def name_error(field, value):
    """Names (of connectors and rules) must not begin or end with white space.

    Exchange's directory object names carry a ``NoLeadingOrTrailingWhitespaceConstraint`` (read in code on the
    ``Name`` definitions of several configuration object schemas); that connector and transport rule names have it
    too is inferred. Such a name could be created by no client in a form that reads back the same, so it is refused.
    """
    if isinstance(value, str) and value and value != value.strip():
        return Problem(field, "'%s' begins or ends with white space, which Exchange Online does not allow in a name; "
                              "write '%s'" % (value, value.strip()))
    return None


# --------------------------------------------------------------------------- recipients

def smtp_address(value):
    """The SMTP address in ``value`` (``user@domain`` or ``Display Name <user@domain>``), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _NAMED_ADDRESS.match(text)
    if match:
        text = match.group("address").strip()
    if _SMTP.match(text) and domain_error("address", text.rsplit("@", 1)[1], allow_subdomain_wildcard=False) is None:
        return address_text(text)
    return None


# --------------------------------------------------------------------------- sizes (ByteQuantifiedSize)

# The service's parser (ByteQuantifiedSize, read in code): after trimming, up to 15 characters ending in a digit,
# an optional unit (B, KB, MB, GB, TB, any case, one optional space before it) and, in the read-back form, the exact
# number of bytes in brackets, which then wins.
_SIZE = re.compile(r"^(?P<number>\S{0,14}\d)(?: ?(?P<unit>[KMGT]?B)(?: \((?P<bytes>\S+) bytes\))?)?$", re.IGNORECASE)
_UNIT_BYTES = dict(SIZE_UNITS)
_SIZE_MAX = (1 << 64) - 1


def parse_size(value):
    """The number of bytes of a size as written (``10MB``, ``10 mb``, ``1.5 GB``, ``10485760``, an integer) or as
    read back (``10 MB (10,485,760 bytes)``); None when it is not a size."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _SIZE_MAX else None
    if not isinstance(value, str):
        return None
    match = _SIZE.match(value.strip())
    if not match:
        return None
    if match.group("bytes"):
        digits = match.group("bytes").replace(",", "")
        return int(digits) if digits.isdigit() else None
    unit = _UNIT_BYTES[(match.group("unit") or "B").upper()]
    number = match.group("number").replace(",", "")
    if not re.match(r"^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$", number, re.IGNORECASE):
        return None
    amount = float(number)
    if amount < 0 or amount * unit > _SIZE_MAX:
        return None
    if "." not in number and "e" not in number.lower():
        return int(number) * unit  # exact for whole numbers of any size
    return int(amount * unit)


def size_display(size):
    """The service's read-back form of a number of bytes: ``10 MB (10,485,760 bytes)``."""
    for unit, factor in SIZE_UNITS:
        if size >= factor or factor == 1:
            number = "%.4G" % (float(size) / factor)  # .NET "G4": 4 significant digits, E+04 beyond them
            return "%s %s (%s bytes)" % (number, unit, "{:,}".format(size))
    return str(size)  # pragma: no cover - the loop always returns


def size_error(field, value):
    if parse_size(value) is None:
        return ("%s: '%s' is not a size; write a number with an optional unit B, KB, MB, GB or TB (for example 10MB, "
                "10 MB, 1.5 GB) or a number of bytes" % (field, value))
    return None


# --------------------------------------------------------------------------- regular expressions

# Exchange Online evaluates rule patterns with .NET's Regex (New-TransportRule reference). Python's ``re`` compiles
# each pattern here only to find the errors .NET raises for the same pattern too; two lists keep the engines apart:
#
# * constructs Python accepts and .NET refuses (or reads as something else) are found first, by
#   ``_python_only``, and refused with what to write instead: ``(?P<name>...)`` and ``(?P=name)`` (Python's named
#   groups: .NET InvalidGroupingConstruct), the inline flags a, L and u (.NET takes i, m, n, s, x only), possessive
#   quantifiers ``a*+``/``a++``/``a?+``/``a{2}+`` (Python 3.11+; .NET NestedQuantifiersNotParenthesized), ``\N{name}``
#   and ``\UXXXXXXXX`` (.NET UnrecognizedEscape), and ``{,n}`` / ``{,}`` (a quantifier in Python, literal text in
#   .NET, whose quantifiers are only {n}, {n,} and {n,m}). Source: the .NET parser's own test table
#   (dotnet/runtime RegexParserTests: "(?P<>a)", "(?a)a", "(?uq)", "\U123", "a*+", "a{1}+" refused; "a{,1}" accepted);
# * Python's errors that .NET raises too (``_CERTAIN_REGEX_ERRORS``) refuse a pattern; every other Python error is a
#   .NET construct Python lacks (``\p{L}``, ``\z``, ``\G``, variable look-behind, ``(?i)`` in the middle, balancing
#   groups) and is left to the service. Some of Python's errors are .NET syntax in disguise and are not taken as
#   certain either (``_dotnet_reading``): a quantifier after an anchor (``\b*``, ``^*``, ``\A{10}``: .NET accepts
#   them), a back-reference to a group defined later (``\k<a>(?<a>x)``) and a conditional on an expression
#   (``(?(foo)a|b)``), a range ending in ``[`` (``[a-[:lower:]]``, .NET class subtraction).
_CERTAIN_REGEX_ERRORS = (
    "missing ), unterminated subpattern", "unbalanced parenthesis", "unterminated character set", "nothing to repeat",
    "multiple repeat", "min repeat greater than max repeat", "bad character range", "unknown group name",
    "bad escape (end of pattern)", "incomplete escape \\x", "incomplete escape \\u",
)
_DOTNET_ESCAPES = set("abtrvfne0xcuAzZGBdDwWsSpPk123456789")
_DOTNET_OPTIONS = set("imnsxIMNSX")  # RegexParser.OptionFromCode: either case
_DOTNET_QUANTIFIER = re.compile(r"\{\d+(?:,\d*)?\}")
_PYTHON_ONLY_BRACES = re.compile(r"\{,(\d*)\}")
_ANCHORS = ("^", "$", "\\b", "\\B", "\\A", "\\Z", "\\z", "\\G")
_GROUP_NAME = r"(?:\(\?P?<%s>|\(\?'%s')"


def _python_form(pattern):
    """``pattern`` with .NET-only group syntax rewritten to Python's, for validation only."""
    text = re.sub(r"\(\?<(?![=!])([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", pattern)
    text = re.sub(r"\(\?'([A-Za-z_][A-Za-z0-9_]*)'", r"(?P<\1>", text)
    return re.sub(r"\\k<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P=\1)", text)


def _surrogates(code):
    """``\\uD83D\\uDE00``: the UTF-16 code units of a code point beyond U+FFFF, as .NET escapes them."""
    code -= 0x10000
    return "\\u%04X\\u%04X" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))


def _python_escape(pattern, i):
    """What to write instead of the Python-only escape at ``pattern[i]`` (a backslash), or None."""
    letter = pattern[i + 1:i + 2]
    if letter == "N":
        name = re.match(r"\\N\{([^}]*)\}", pattern[i:])
        return ("'%s' (a character by its Unicode name)" % (name.group(0) if name else "\\N"),
                "the character itself, or \\uXXXX with its code")
    if letter == "U":
        digits = re.match(r"\\U([0-9A-Fa-f]{8})", pattern[i:])
        code = int(digits.group(1), 16) if digits else None
        if code is not None and 0x10000 <= code <= 0x10FFFF:
            instead = "the character itself, or its two UTF-16 code units %s" % _surrogates(code)
        elif code is not None and code < 0x10000:
            instead = "\\u%04X" % code
        else:
            instead = "the character itself, or \\uXXXX"
        return "'%s' (an eight-digit character escape)" % (digits.group(0) if digits else "\\U"), instead
    return None


def _scan_class(pattern, i):
    """(index after the character class that starts at ``pattern[i]`` ('['), the first Python-only escape in it or
    None). .NET class subtraction (``[a-z-[aeiou]]``) is one class; an unclosed class ends the pattern (compiling
    says so)."""
    j = i + 1
    if pattern[j:j + 1] == "^":
        j += 1
    if pattern[j:j + 1] == "]":
        j += 1  # a ']' first in a class is literal (both engines)
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            found = _python_escape(pattern, j)
            if found:
                return j, found
            j += 2
        elif c == "-" and pattern[j + 1:j + 2] == "[":
            j, found = _scan_class(pattern, j + 1)
            if found:
                return j, found
        elif c == "]":
            return j + 1, None
        else:
            j += 1
    return len(pattern), None


def _python_only(pattern):
    """(what, instead[, literal]) for the first construct of ``pattern`` that Python's re accepts but .NET refuses or reads
    as something else, or None (see _CERTAIN_REGEX_ERRORS). Escapes, classes and (?#...) comments are skipped as
    .NET reads them; a pattern in free-spacing mode ((?x)) is scanned as written."""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            found = _python_escape(pattern, i)
            if found:
                return found
            i += 2
            continue
        if c == "[":
            i, found = _scan_class(pattern, i)
            if found:
                return found
            continue
        if pattern.startswith("(?#", i):
            end = pattern.find(")", i)
            i = len(pattern) if end < 0 else end + 1
            continue
        if pattern.startswith("(?P", i):
            if pattern.startswith("(?P<", i):
                name = re.match(r"\(\?P<([^>]*)>", pattern[i:])
                return ("Python's named group '(?P<%s>'" % (name.group(1) if name else "name"),
                        "(?<%s>...)" % (name.group(1) if name else "name"))
            if pattern.startswith("(?P=", i):
                name = re.match(r"\(\?P=([^)]*)\)", pattern[i:])
                shown = name.group(0) if name else "(?P=name)"
                return "Python's back-reference '%s'" % shown, "\\k<%s>" % (name.group(1) if name else "name")
            return "Python's '(?P' group syntax", "(?<name>...) for a named group and \\k<name> for a back-reference"
        flags = re.match(r"\(\?([A-Za-z-]+)[:)]", pattern[i:])
        if flags:
            foreign = sorted(set(f for f in flags.group(1) if f != "-" and f not in _DOTNET_OPTIONS))
            if foreign:
                return ("Python's inline flag%s %s in '%s'" % ("s" if len(foreign) > 1 else "", ", ".join(foreign),
                                                               flags.group(0)),
                        "the pattern without %s (.NET takes the inline options i, m, n, s and x%s)"
                        % ("them" if len(foreign) > 1 else "it",
                           "; instead of a (ASCII-only classes) write the classes out, such as [0-9] for \\d"
                           if "a" in foreign else ""))
            i += len(flags.group(0))
            continue
        braces = _PYTHON_ONLY_BRACES.match(pattern, i)
        if c == "{" and braces:
            upper = braces.group(1)
            return ("'%s', a quantifier in Python" % braces.group(0),
                    "%s to repeat, or \\%s for the text" % ("{0,%s}" % upper if upper else "*", braces.group(0)), True)
        quantifier = _DOTNET_QUANTIFIER.match(pattern, i) if c == "{" else None
        if c in "*+?" or quantifier:
            end = quantifier.end() if quantifier else i + 1
            if c in "*+?" and i > 0 and pattern[i - 1] == "(":
                i += 1  # '(?' is a group, handled above; '(*' and '(+' are errors both engines raise
                continue
            if pattern[end:end + 1] == "+":
                atom = pattern[i - 1] if i > 0 and pattern[i - 1].isalnum() and pattern[i - 2:i - 1] != "\\" else "X"
                return ("Python's possessive quantifier '%s%s'" % (atom, pattern[i:end + 1]),
                        "an atomic group instead: (?>%s%s)" % (atom, pattern[i:end]))
            i = end + (1 if pattern[end:end + 1] == "?" else 0)
            continue
        i += 1
    return None


def _ends_with_anchor(before):
    """Whether ``before`` ends with an anchor (``^``, ``$``, ``\\b``...) that is not itself escaped."""
    for anchor in _ANCHORS:
        if before.endswith(anchor):
            head = before[:len(before) - len(anchor)]
            if (len(head) - len(head.rstrip("\\"))) % 2 == 0:
                return True
    return False


def _dotnet_reading(text, message, position):
    """Whether Python's error ``message`` at ``position`` of ``text`` (the pattern in Python's form) is about
    something .NET reads as valid syntax (see _CERTAIN_REGEX_ERRORS)."""
    if message.startswith("nothing to repeat") and position is not None:
        if _ends_with_anchor(text[:position]) or (text[position:position + 1] == "{"
                                                  and not _DOTNET_QUANTIFIER.match(text, position)):
            return True
    if message.startswith("unknown group name"):
        name = re.escape(message.split("'")[1]) if "'" in message else ""
        if name and (re.search(_GROUP_NAME % (name, name), text) or re.search(r"\(\?\(%s\)" % name, text)):
            return True
    if message.startswith("bad character range") and message.endswith("-["):
        return True
    return False


def regex_error(field, pattern):
    """Why ``pattern`` is not a regular expression Exchange Online can use, or None (see _CERTAIN_REGEX_ERRORS)."""
    if not isinstance(pattern, str) or not pattern:
        return "%s: an empty pattern is not allowed; give a regular expression" % field
    found = _python_only(pattern)
    if found:
        what, instead = found[0], found[1]
        if len(found) > 2:  # accepted by .NET, with another meaning
            return ("%s: '%s' has %s, which Exchange Online's .NET regular expressions read as literal text; write %s"
                    % (field, pattern, what, instead))
        return ("%s: '%s' uses %s, which Exchange Online's .NET regular expressions refuse; write %s"
                % (field, pattern, what, instead))
    text = _python_form(pattern)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(text)
    except re.error as exc:
        message = str(exc.msg)
        certain = any(message.startswith(prefix) for prefix in _CERTAIN_REGEX_ERRORS)
        if message.startswith("bad escape") and not message.startswith("bad escape (end"):
            letter = message[len("bad escape \\"):len("bad escape \\") + 1]
            certain = bool(letter) and letter.isalpha() and letter not in _DOTNET_ESCAPES
        if certain and not _dotnet_reading(text, message, exc.pos):
            where = " at position %d" % exc.pos if exc.pos is not None else ""
            return "%s: '%s' is not a valid regular expression (%s%s)" % (field, pattern, message, where)
    except (OverflowError, RecursionError):
        return None
    return None


# Control characters in free text: C0 (U+0000-U+001F) and C1 (U+007F-U+009F). Line breaks and tabs are text
# (a comment of several lines is kept as written: the connector Comment is the directory's AdminDescription, a
# string with a length limit only, decompiled TenantInboundConnectorSchema; rule Comments likewise), the others are
# invisible in every view of the object and would be stored as sent.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_error(field, value):
    """Why the free text ``value`` holds a control character other than a line break or a tab, or None."""
    if not isinstance(value, str):
        return None
    found = _CONTROL.search(value)
    if not found:
        return None
    before = value[:found.start()].rsplit("\n", 1)[-1][-20:]
    return Problem(field, "holds the control character U+%04X (after '%s'), which no view of the object shows; "
                          "remove it (line breaks and tabs are allowed)" % (ord(found.group(0)), before))


def length_error(field, value, maximum):
    if value is not None and len(value) > maximum:
        return Problem(field, "%d characters is too long; the maximum is %d" % (len(value), maximum))
    return None


def ci_key(value):
    return value.strip().lower() if isinstance(value, str) else value


def raise_errors(errors):
    """Raise one ConfigurationError listing every problem found (None entries are ignored); ``details`` keeps them
    one by one as ``errors.Problem`` records (path, message), which the partner definition checks place in the
    partner file by their path. A plain text (no path known) becomes a Problem about the whole object."""
    errors = [e if isinstance(e, Problem) else Problem("", e) for e in errors if e]
    if errors:
        raise ConfigurationError("; ".join(errors) if len(errors) > 1 else errors[0], details=errors)


def check_each(field, values, check, **kwargs):
    return [check(field, value, **kwargs) for value in (values or [])]


# --------------------------------------------------------------------------- dates and timestamps

_DATE = re.compile(
    r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<frac>\.\d+)?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)
_MS_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?:[+-]\d{4})?\)/$")


def parse_date(value, strict=True):
    """A timezone-aware UTC datetime from ``value``, or None when it is not a date.

    ``strict`` accepts what a user may write (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]`` with an optional ``Z``
    or ``+HH:MM``; no offset means UTC). Read-back values (``strict`` False) may also carry fractions and
    ``/Date(ms)/``. A value without an offset is UTC: Exchange Online stores ``LastValidationTimestamp`` in UTC
    (Set-OutboundConnector reference: "Specify the date/time value in UTC") and reads it back without an offset (live
    record ``"2026-07-24T18:59:12.0000000"``, live_evidence.md, confirmed).
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


def date_display(value):
    stamp = parse_date(value, strict=False)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else value


def date_wire(value):
    """The form the real module sends: ``yyyy-MM-ddTHH:mm:ss`` in UTC, without a zone suffix."""
    return parse_date(value).strftime("%Y-%m-%dT%H:%M:%S")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def utc_timestamp(value):
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC) for a timestamp the service reads back; other values unchanged."""
    stamp = parse_date(value, strict=False)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else value


# --------------------------------------------------------------------------- validation settings

def dns_server_error(field, server):
    """Why ``server`` is not a DNS server the probe can ask (``ip``, ``ip:port``, ``[ipv6]:port`` or ``ipv6``)."""
    text = str(server).strip()
    if text.startswith("["):
        address, _sep, port = text[1:].partition("]")
        if port and not port.startswith(":"):
            address = None
        port = port[1:]
    elif text.count(":") == 1:
        address, _sep, port = text.partition(":")
    else:
        address, port = text, ""
    try:
        ipaddress.ip_address(address or "")
    except ValueError:
        return Problem(field, "'%s' is not an IP address of a DNS server; write 'ip' or 'ip:port' (for example "
                              "192.0.2.53 or 192.0.2.53:5353, or [2001:db8::53]:53 for IPv6)" % (server,))
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        return Problem(field, "'%s' has port '%s'; a port is a number from 1 to 65535 (DNS uses 53)" % (server, port))
    return None


def probe_settings_problems(params):
    """The problems of validation settings no probe can use (``smtp_port``, ``probe_timeout``, ``dns_servers``,
    ``probe_ca_path``), naming the setting and the fix: the one home of these checks (connector_validate, and the
    partner files' ``validation`` and the run-wide settings, before any write)."""
    errors = []
    port = params.get("smtp_port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        errors.append(Problem("smtp_port", "%s is not a TCP port; give a number from 1 to 65535 (Exchange Online "
                                           "delivers on 25, the default)" % (port,)))
    timeout = params.get("probe_timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not (timeout > 0 and math.isfinite(timeout))):
        errors.append(Problem("probe_timeout", "%s is not a usable timeout; give a positive number of seconds "
                                               "(default 10)" % (timeout,)))
    for index, server in enumerate(params.get("dns_servers") or []):
        problem = dns_server_error("dns_servers", server)
        if problem:
            errors.append(Problem(problem.path, problem.message, entry=index))
    ca_path = params.get("probe_ca_path")
    if params.get("probe", True) and ca_path and not os.path.exists(os.path.expanduser(str(ca_path))):
        errors.append(Problem("probe_ca_path", "'%s' does not exist; give a PEM file (or a directory) of the CA "
                                               "certificates that sign the partner's certificate, or leave it unset to "
                                               "use the system's trusted CAs" % ca_path))
    return errors
