# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS for the connector validation probe: the hosts of a partner route (the smart hosts, or the MX hosts of
each recipient domain by preference, with their A/AAAA records), asked of the system resolver or given
DNS servers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.validation.failures import is_ip, make_failure, norm_name, require_library

try:
    import dns.exception
    import dns.resolver
    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the environment
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR = exc


class _LookupFailure(Exception):
    def __init__(self, reason, evidence):
        super(_LookupFailure, self).__init__(reason)
        self.reason, self.evidence = reason, evidence


def _make_resolver(dns_servers, timeout):
    """dnspython resolver for ``dns_servers`` ("ip" or "ip:port", also "[v6]:port") or the system configuration."""
    require_library(HAS_DNSPYTHON, DNSPYTHON_IMPORT_ERROR, "dnspython")
    if dns_servers:
        resolver = dns.resolver.Resolver(configure=False)
        servers = [_split_server(server) for server in dns_servers]
        resolver.nameservers = [addr for addr, _port in servers]
        resolver.nameserver_ports = dict(servers)
    else:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration as exc:
            raise ConfigurationError("No system DNS resolver is configured (%s); pass dns_servers" % exc)
    resolver.timeout = min(float(timeout), 3.0)
    resolver.lifetime = float(timeout)
    resolver.cache = None
    return resolver


def _split_server(server):
    server = str(server).strip()
    if server.startswith("["):
        addr, _sep, port = server[1:].partition("]")
        port = port.lstrip(":")
    elif server.count(":") == 1:
        addr, _sep, port = server.partition(":")
    else:
        addr, port = server, ""
    if not is_ip(addr) or (port and not port.isdigit()):
        raise ConfigurationError("dns_servers entries must be 'ip' or 'ip:port', not %r" % server)
    return addr, int(port or 53)


def _lookup_factory(dns_servers, timeout):
    """Return ``lookup(name, rdtype) -> list of rdata``; raises _LookupFailure. Tests replace this."""
    resolver = _make_resolver(dns_servers, timeout)
    where = ",".join(dns_servers) if dns_servers else "system resolver"

    def lookup(name, rdtype):
        query = "%s %s @%s" % (rdtype, name, where)
        try:
            return list(resolver.resolve(name, rdtype, search=False))
        except dns.resolver.NXDOMAIN:
            raise _LookupFailure("nxdomain", query + ": NXDOMAIN")
        except dns.resolver.NoAnswer:
            raise _LookupFailure("nodata", query + ": NOERROR, no %s records" % rdtype)
        except dns.resolver.NoNameservers as exc:
            raise _LookupFailure("servfail", "%s: no server answered (%s)" % (query, exc))
        except dns.exception.Timeout:
            raise _LookupFailure("timeout", "%s: timed out after %.1fs" % (query, timeout))
        except dns.exception.DNSException as exc:
            raise _LookupFailure("error", "%s: %s" % (query, exc))
    return lookup


def _address_records(lookup, name):
    """A records of ``name``; AAAA only when there is no A. Returns (ips, evidence, reason of the failure)."""
    try:
        return [r.to_text() for r in lookup(name, "A")], None, None
    except _LookupFailure as first:
        if first.reason not in ("nodata",):
            return [], first.evidence, first.reason
        try:
            return [r.to_text() for r in lookup(name, "AAAA")], None, None
        except _LookupFailure as second:
            return [], first.evidence + "; " + second.evidence, second.reason


def _resolve_failure(name, message, evidence, reason=None):
    """A failed lookup: a missing record (``resolve``), or a resolver that did not answer (``resolver_timeout``)."""
    if reason == "timeout":
        return make_failure("resolver_timeout", "resolve", "DNS lookup for %s timed out: the resolver did not answer, so "
                            "its records are unknown" % name, evidence, host=name)
    return make_failure("resolve", "resolve", message, evidence, host=name)


def _host_entry(lookup, name, via, preference):
    """Route entry for one host name or IP literal, or a resolve failure."""
    if is_ip(name):
        return {"host": name, "ips": [name], "via": via, "preference": preference}, None
    ips, evidence, reason = _address_records(lookup, name)
    if not ips:
        return None, _resolve_failure(name, "%s has no A/AAAA record" % name, evidence, reason)
    return {"host": name, "ips": ips, "via": via, "preference": preference}, None


def _mx_hosts(lookup, domain):
    """[(preference, host, via)] for a recipient domain (implicit MX when there is none); raises _LookupFailure."""
    try:
        records = lookup(domain, "MX")
    except _LookupFailure as exc:
        if exc.reason != "nodata":
            raise
        return [(0, domain, "a:" + domain)]
    hosts = sorted((r.preference, norm_name(r.exchange.to_text())) for r in records)
    if any(host == "" for _pref, host in hosts):
        raise _LookupFailure("nullmx", "MX %s: null MX (0 .) - the domain accepts no mail" % domain)
    return [(pref, host, "mx:" + domain) for pref, host in hosts]


_MX_MESSAGES = {
    "nxdomain": "recipient domain %s does not exist in DNS (NXDOMAIN)",
    "nullmx": "recipient domain %s publishes a null MX and accepts no mail",
}


def _domain_entries(lookup, domain):
    try:
        targets = _mx_hosts(lookup, domain)
    except _LookupFailure as exc:
        return [], [_resolve_failure(domain, _MX_MESSAGES.get(exc.reason, "MX lookup for %s failed") % domain, exc.evidence,
                                     exc.reason)]
    entries, failures = [], []
    for preference, host, via in targets:
        entry, failure = _host_entry(lookup, host, via, preference)
        if entry:
            entries.append(entry)
        else:
            if via.startswith("a:") and failure["class"] == "resolve":
                failure["message"] = "%s has neither MX nor A/AAAA records" % domain
            failures.append(failure)
    return entries, failures


def route_domains(recipient_domains, recipients):
    domains = []
    for domain in list(recipient_domains or []) + [recipient_domain(r) for r in recipients or []]:
        domain = norm_name(domain)
        if domain and "*" not in domain and domain not in domains:
            domains.append(domain)
    return domains


def recipient_domain(recipient):
    return norm_name(recipient.rpartition("@")[2])


def resolve_route(smart_hosts=None, recipient_domains=None, dns_servers=None, timeout=5.0):
    """Hosts of the route: the smart hosts, else the MX hosts of each recipient domain by preference."""
    lookup = _lookup_factory(dns_servers, timeout)
    hosts, failures = [], []
    if smart_hosts:
        for name in smart_hosts:
            entry, failure = _host_entry(lookup, norm_name(name), "smart_host", None)
            hosts.extend([entry] if entry else [])
            failures.extend([failure] if failure else [])
    else:
        for domain in route_domains(recipient_domains, None):
            entries, domain_failures = _domain_entries(lookup, domain)
            hosts.extend(entries)
            failures.extend(domain_failures)
    return {"hosts": hosts, "failures": failures}
