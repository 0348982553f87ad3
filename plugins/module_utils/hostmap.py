# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A static host map for the validation's network view: host name -> IP address and optional SMTP port.

Like ``/etc/hosts`` for the sandbox tenant's ``Validate-OutboundConnector``: a name in the map is answered from it
(an A or AAAA record, no MX, so a recipient domain in the map is its own implicit MX), every other name goes to DNS.
A port given with the address replaces the sandbox's ``smtp_port`` for that host, so that several partner servers
can listen on one loopback address without root (the demo world, a CI job). Exchange Online has no such thing: it
always resolves with public DNS and delivers on port 25; the map exists only in the sandbox's settings.

Stdlib only (the sandbox tenant checks its settings with it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_FORMS = "'ip' or 'ip:port' (for example 127.0.0.1 or 127.0.0.1:2525, [::1]:2525 for IPv6)"


def host_name_error(name):
    """Why ``name`` is not a host name the map can hold, or None."""
    text = str(name).strip().rstrip(".").lower()
    if not text or len(text) > 253 or not all(_LABEL.match(label) for label in text.split(".")):
        return "'%s' is not a host name (letters, digits, '-' and '.', such as mail.adatum.example)" % name
    return None


def parse_address(value):
    """(ip, port or None) of a map value ``ip``, ``ip:port``, ``[v6]`` or ``[v6]:port``; raises ValueError."""
    text = str(value).strip()
    if text.startswith("["):
        address, _sep, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(text)
        port = rest[1:]
    elif text.count(":") == 1:
        address, _sep, port = text.partition(":")
    else:
        address, port = text, ""
    ip = ipaddress.ip_address(address)
    if port:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(text)
        return str(ip), int(port)
    return str(ip), None


def format_address(ip, port):
    if port is None:
        return ip
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


def check_host_map(value, field="hosts"):
    """The map in its stored form ({name: 'ip' or 'ip:port'}, names lower case without a trailing dot), or None for
    an empty map. Raises ConfigurationError naming every bad entry and the fix."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise ConfigurationError("%s: give a mapping of host names to addresses, such as {mail.adatum.example: "
                                 "127.0.0.1:2525}, not %s" % (field, type(value).__name__))
    out, errors = {}, []
    for name, address in sorted(value.items(), key=lambda item: str(item[0])):
        problem = host_name_error(name)
        if problem:
            errors.append("%s: %s" % (field, problem))
            continue
        key = str(name).strip().rstrip(".").lower()
        try:
            stored = format_address(*parse_address(address))
        except ValueError:
            errors.append("%s.%s: '%s' is not an address; write %s, port 1-65535" % (field, key, address, _FORMS))
            continue
        if key in out and out[key] != stored:
            errors.append("%s: '%s' is given twice with different addresses (%s and %s); keep one"
                          % (field, key, out[key], stored))
            continue
        out[key] = stored
    if errors:
        raise ConfigurationError("; ".join(errors), details=errors)
    return out


def lookup_entry(host_map, name):
    """(ip, port or None) of ``name`` in a stored map, or None when the map does not hold it."""
    if not host_map:
        return None
    stored = host_map.get(str(name or "").strip().rstrip(".").lower())
    return parse_address(stored) if stored else None
