# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connectors in a simulation: which outbound connector delivers to a recipient, which inbound connector a message
from a partner is attributed to (or rejected by), and the non-delivery reports that result.

Outbound (reference: mail_flow_semantics.md 3.1, New-OutboundConnector):

1. a rule's ``RouteMessageOutboundConnector`` sends the recipient's copy through that connector; a connector scoped
   to mail flow rules (``IsTransportRuleScoped``) is used *only* this way;
2. otherwise a recipient in an authoritative accepted domain (or in an internal relay domain and in the directory)
   is delivered inside the organization;
3. otherwise among the enabled connectors that are not rule-scoped, those whose ``RecipientDomains`` cover the
   recipient's domain (``contoso.com`` that domain only, ``*.contoso.com`` the domain and its subdomains, ``*``
   every domain): the most specific address space wins, then the lowest name. Exchange Online does not document how
   it chooses among overlapping connectors; this is the on-premises rule (connector selection), and an answer says
   so whenever more than one connector covered the domain;
4. otherwise delivery by MX, without a connector.

Test-mode connectors: the cmdlet pages only say that test mode can be switched on (New/Set-OutboundConnector
``TestMode``) and that a plain ``Get-OutboundConnector`` hides such connectors (the live evidence); what the service
does with mail for them is documented nowhere in the references. The simulation assumes, by default, that a
test-mode connector carries no mail (``test_mode_connectors: ignore``, like a disabled one) and says so whenever a
test-mode connector would otherwise have been used; ``use`` simulates the other reading.

Inbound (mail_flow_semantics.md 3.3, New-InboundConnector): see ``attribute_inbound``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.m365.mailflow.plugins.module_utils import values as n

TEST_MODE_POLICIES = ("ignore", "use")

# Non-delivery reports: status code, text and how sure the code is.
NDR_RULE_DEFAULT_CODE = "5.7.1"
NDR_RULE_DEFAULT_TEXT = "Delivery not authorized, message refused"  # New-TransportRule, RejectMessageReasonText


def rule_ndr(reason=None, status_code=None):
    """The NDR of a rule's reject action: its code and text, each defaulting as the reference says."""
    return {"status_code": status_code or NDR_RULE_DEFAULT_CODE, "text": reason or NDR_RULE_DEFAULT_TEXT,
            "source": "rule", "evidence": "documented (New-TransportRule: RejectMessageEnhancedStatusCode and "
                                          "RejectMessageReasonText with their defaults)"}


def attribution_ndr(connector, why):
    return {"status_code": "5.7.51", "text": "TenantInboundAttribution; Rejecting", "source": "inbound connector",
            "connector": connector, "why": why,
            "evidence": "observed, not documented: seen in the field for partner connectors with "
                        "RestrictDomainsToIPAddresses or RestrictDomainsToCertificate; absent from Microsoft's NDR "
                        "table"}


def tls_ndr(connector):
    return {"status_code": None, "text": "the partner connector requires TLS and the message was not sent over TLS",
            "source": "inbound connector", "connector": connector,
            "evidence": "documented behaviour (New-InboundConnector RequireTls: messages not sent over TLS are "
                        "rejected); the status code and text the service uses are not documented"}


def relay_ndr(domain):
    return {"status_code": "5.4.1", "text": "Relay Access Denied", "source": "service",
            "why": "%s is not an accepted domain of the tenant" % domain,
            "evidence": "documented (NDR table: 5.4.1 Relay Access Denied)"}


# --------------------------------------------------------------------------------------------------- connectors

def _bool(value, default=False):
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "yes", "1", "on")


def _list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _space(value):
    """(domain, wildcard, cost) of an address space: ``adatum.com``, ``*.adatum.com``, ``*``, ``smtp:x;5``."""
    domain, cost = n.parse_address_space(str(value))
    if domain == "*":
        return "*", True, cost
    if domain.startswith("*."):
        return domain[2:], True, cost
    return domain, False, cost


def space_match(space, domain):
    """The specificity of ``space`` for ``domain`` (higher is more specific), or None when it does not cover it:
    an exact domain beats any wildcard, a longer wildcard suffix a shorter one, ``*`` comes last."""
    name, wildcard, _cost = space
    if name == "*":
        return (0, 0)
    if not wildcard:
        return (2, name.count(".") + 1) if domain == name else None
    if domain == name or domain.endswith("." + name):
        return (1, name.count(".") + 1)
    return None


class Outbound(object):
    def __init__(self, entry):
        options, facts = entry.get("options") or {}, entry.get("facts") or {}
        self.name = options.get("name")
        self.guid = facts.get("guid")
        self.type = facts.get("connector_type") or "Partner"
        self.enabled = _bool(options.get("enabled"), True)
        self.test_mode = _bool(options.get("test_mode"))
        self.rule_scoped = _bool(options.get("transport_rule_scoped"))
        self.spaces = [_space(d) for d in _list(options.get("recipient_domains"))]
        self.smart_hosts = _list(options.get("smart_hosts"))
        self.use_mx = _bool(options.get("use_mx_record"), not self.smart_hosts)
        self.tls_settings = options.get("tls_settings") or "opportunistic"
        self.tls_domain = options.get("tls_domain")
        self.all_accepted = _bool(options.get("all_accepted_domains"))
        self.route_all = _bool(options.get("route_all_messages_via_on_premises"))

    def view(self):
        return {"connector_type": self.type, "smart_hosts": self.smart_hosts,
                "use_mx_record": self.use_mx, "tls_settings": self.tls_settings, "tls_domain": self.tls_domain,
                "test_mode": self.test_mode, "transport_rule_scoped": self.rule_scoped}


def outbound_connectors(entries):
    return [Outbound(e) for e in entries or []]


def _find(connectors, identity):
    key = str(identity or "").strip().lower()
    for connector in connectors:
        if str(connector.name or "").lower() == key or str(connector.guid or "").lower() == key:
            return connector
    return None


def _route(connector, chosen_by, require_tls):
    route = {"delivery": "connector", "connector": connector.name, "chosen_by": chosen_by}
    route.update(connector.view())
    route["tls_required"] = connector.tls_settings != "opportunistic" or bool(require_tls)
    return route


def choose_outbound(connectors, domain, internal, rule_route=None, require_tls=None, test_mode="ignore",
                    accepted=False):
    """(route, assumptions, skipped) for one recipient in ``domain``.

    ``rule_route``: (rule name, connector identity) of the rule whose route action applies; ``require_tls``: the
    rule whose RouteMessageOutboundRequireTls applies; ``internal``: the recipient is delivered inside the
    organization; ``accepted``: its domain is an accepted domain (for AllAcceptedDomains connectors)."""
    assumptions, skipped = [], []
    if rule_route is not None:
        rule, identity = rule_route
        connector = _find(connectors, identity)
        problem = None
        if connector is None:
            problem = "connector '%s' does not exist" % identity
        elif not connector.enabled:
            problem = "connector '%s' is disabled" % connector.name
        elif connector.test_mode and test_mode == "ignore":
            problem = "connector '%s' is in test mode" % connector.name
            assumptions.append("test_mode_ignored")
        if problem is None:
            if connector.test_mode:
                assumptions.append("test_mode_used")
            if internal:
                assumptions.append("rule_route_internal")
            return _route(connector, "rule '%s' (route_message_outbound_connector)" % rule, require_tls), \
                assumptions, skipped
        assumptions.append("rule_route_unusable")
        skipped.append({"connector": identity, "why": problem + "; the rule's route cannot be used"})
    if internal:
        return {"delivery": "internal", "connector": None,
                "chosen_by": "the recipient is inside the organization (accepted domain)"}, assumptions, skipped
    candidates = []
    for connector in connectors:
        best = None
        for space in connector.spaces:
            score = space_match(space, domain)
            if score is not None and (best is None or score > best[0]):
                best = (score, space)
        if best is None and connector.all_accepted and accepted:
            best = ((1, 0), ("(all accepted domains)", True, 1))
        if best is None and connector.route_all and connector.type == "OnPremises":
            best = ((0, -1), ("(all mail, centralized transport)", True, 1))
            assumptions.append("centralized_transport")
        if best is None:
            continue
        if connector.rule_scoped:
            skipped.append({"connector": connector.name, "why": "scoped to mail flow rules: used only when a rule "
                                                                "routes to it"})
            continue
        if not connector.enabled:
            skipped.append({"connector": connector.name, "why": "disabled"})
            continue
        if connector.test_mode and test_mode == "ignore":
            skipped.append({"connector": connector.name, "why": "in test mode (assumed to carry no mail)"})
            assumptions.append("test_mode_ignored")
            continue
        candidates.append((best[0], connector, best[1]))
    if candidates:
        candidates.sort(key=lambda c: (tuple(-x for x in c[0]), str(c[1].name).lower()))
        score, connector, space = candidates[0]
        if len(candidates) > 1:
            assumptions.append("connector_overlap")
        if connector.test_mode:
            assumptions.append("test_mode_used")
        if not space[1] or space[0].startswith("(") or space[0] == "*":
            written = space[0]
        else:
            written = "*." + space[0]
        chosen = "recipient domain %s matches %s" % (domain, written)
        if len(candidates) > 1:
            chosen += " (the most specific of %s)" % ", ".join("'%s'" % c[1].name for c in candidates)
        return _route(connector, chosen, require_tls), assumptions, skipped
    return {"delivery": "mx", "connector": None, "tls_required": bool(require_tls),
            "chosen_by": "no outbound connector covers %s: delivery by its MX records" % domain}, assumptions, skipped


# --------------------------------------------------------------------------------------------------- inbound

class Inbound(object):
    def __init__(self, entry):
        options, facts = entry.get("options") or {}, entry.get("facts") or {}
        self.name = options.get("name")
        self.type = facts.get("connector_type") or "Partner"
        self.enabled = _bool(options.get("enabled"), True)
        self.spaces = [_space(d) for d in _list(options.get("sender_domains"))]
        self.networks = []
        for value in _list(options.get("sender_ip_addresses")):
            try:
                self.networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
            except ValueError:
                continue
        self.require_tls = _bool(options.get("require_tls"))
        self.certificate = n.domain_key(options.get("tls_sender_certificate_name")) \
            if options.get("tls_sender_certificate_name") else None
        self.restrict_certificate = _bool(options.get("restrict_domains_to_certificate"))
        self.restrict_ip = _bool(options.get("restrict_domains_to_ip_addresses"))
        self.associated = [n.domain_key(d) for d in _list(options.get("associated_accepted_domains"))]

    def domain_score(self, domain):
        best = None
        for space in self.spaces:
            score = space_match(space, domain)
            if score is not None and (best is None or score > best):
                best = score
        return best

    def ip_match(self, ip):
        return ip is not None and any(ip.version == net.version and ip in net for net in self.networks)

    def certificate_match(self, subject):
        if not subject or not self.certificate:
            return False
        name = self.certificate
        if subject == name:
            return True
        if name.startswith("*."):
            base = name[2:]
            return subject == base or subject.endswith("." + base)
        return False


def inbound_connectors(entries):
    return [Inbound(e) for e in entries or []]


def certificate_name(subject):
    """The host name of a certificate subject written as ``mail.adatum.example`` or ``CN=mail.adatum.example, O=...``."""
    if not subject:
        return None
    text = subject.strip()
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip().upper() == "CN":
            return n.domain_key(value.strip())
    return n.domain_key(text)


def attribute_inbound(connectors, msg, recipient_domains):
    """Which inbound connector a message from outside is attributed to, or why it is rejected.

    Written from New-InboundConnector and mail_flow_semantics.md 3.3:

    * a Partner connector applies to mail whose sender domain (the envelope sender, P1 MAIL FROM: inferred) is in
      its ``SenderDomains`` (``*`` any domain), and, with ``AssociatedAcceptedDomains``, only to recipients in those
      accepted domains;
    * "partner connectors are pulled up by IP or certificate lookup": a connector whose ``SenderIPAddresses`` hold the
      sending IP (with ``RestrictDomainsToIPAddresses``) or whose ``TlsSenderCertificateName`` matches the
      certificate the sender presented over TLS attributes the message first (certificate before IP, then the most
      specific sender domain, then the name); an OnPremises connector is attributed the same way (by certificate or
      IP) and makes the message the organization's own (authenticated);
    * otherwise a connector of the sender's domain that restricts it to IP addresses or to a certificate rejects the
      message (the observed 5.7.51);
    * otherwise the most specific connector of the sender's domain attributes it, and rejects it when it requires TLS
      and the message came without TLS;
    * otherwise no connector applies: ordinary mail from the internet.
    """
    assumptions = []
    domain = n.domain_key(msg.envelope_sender.rpartition("@")[2])
    tls = msg.tls
    if tls is None:
        tls = True
        if any(c.enabled and (c.require_tls or c.certificate) for c in connectors):
            assumptions.append("tls_not_given")
    subject = certificate_name(msg.certificate_subject) if tls else None
    skipped = []
    domain_hits, strong = [], []
    for connector in connectors:
        score = connector.domain_score(domain) if connector.type == "Partner" else None
        by_cert = connector.certificate_match(subject)
        by_ip = connector.ip_match(msg.sender_ip) and (connector.restrict_ip or connector.type == "OnPremises")
        relevant = score is not None or (connector.type == "OnPremises" and (by_cert or by_ip))
        if not relevant:
            continue
        if not connector.enabled:
            skipped.append({"connector": connector.name, "why": "disabled"})
            continue
        if connector.associated and not set(connector.associated) & set(recipient_domains):
            skipped.append({"connector": connector.name, "why": "applies only to recipients in %s"
                            % ", ".join(connector.associated)})
            continue
        if connector.type == "OnPremises" or score is not None:
            if by_cert or by_ip:
                strong.append((connector, "certificate" if by_cert else "sender_ip", score or (0, 0)))
            elif connector.type == "Partner":
                domain_hits.append((connector, score))
    assumptions.append("inbound_sender_domain")
    if strong:
        strong.sort(key=lambda s: (s[1] != "certificate", tuple(-x for x in s[2]), str(s[0].name).lower()))
        connector, by, _score = strong[0]
        if len(strong) > 1:
            assumptions.append("inbound_overlap")
        reason = ("the certificate %s matches %s" % (subject, connector.certificate) if by == "certificate"
                  else "sender IP %s is one of its sender_ip_addresses" % msg.sender_ip)
        if connector.type == "Partner":
            reason = "sender domain %s is one of its sender domains and %s" % (domain, reason)
        result = {"connector": connector.name, "connector_type": connector.type, "by": by, "reason": reason,
                  "rejected": False, "ndr": None}
        if connector.type == "Partner" and connector.require_tls and not tls:
            result.update(rejected=True, ndr=tls_ndr(connector.name))
        return _finish(result, skipped, assumptions)
    restricting = [c for c, _s in domain_hits if c.restrict_ip or c.restrict_certificate]
    if restricting:
        connector = sorted(restricting, key=lambda c: str(c.name).lower())[0]
        if connector.restrict_ip:
            why = ("mail from %s must come from the connector's sender_ip_addresses; %s is not one of them"
                   % (domain, msg.sender_ip if msg.sender_ip is not None else "the message's sender_ip (not given)"))
        elif not tls:
            why = "mail from %s must come over TLS with the certificate %s; it came without TLS" % (
                domain, connector.certificate)
        else:
            why = "mail from %s must come with the certificate %s; it came with %s" % (
                domain, connector.certificate, subject or "no certificate")
        assumptions.append("observed_5_7_51")
        return _finish({"connector": connector.name, "connector_type": connector.type,
                        "by": "sender_domain", "reason": why, "rejected": True,
                        "ndr": attribution_ndr(connector.name, why)}, skipped, assumptions)
    if domain_hits:
        domain_hits.sort(key=lambda h: (tuple(-x for x in h[1]), str(h[0].name).lower()))
        connector = domain_hits[0][0]
        if len(domain_hits) > 1:
            assumptions.append("inbound_overlap")
        result = {"connector": connector.name, "connector_type": connector.type, "by": "sender_domain",
                  "reason": "sender domain %s is one of its sender domains" % domain, "rejected": False, "ndr": None}
        if connector.require_tls and not tls:
            result.update(rejected=True, ndr=tls_ndr(connector.name),
                          reason=result["reason"] + "; it requires TLS and the message came without TLS")
        return _finish(result, skipped, assumptions)
    return _finish({"connector": None, "connector_type": None, "by": None, "rejected": False, "ndr": None,
                    "reason": "no inbound connector applies to mail from %s: ordinary mail from the internet"
                              % domain}, skipped, assumptions)


def _finish(result, skipped, assumptions):
    result["skipped"] = skipped
    result["assumptions"] = assumptions
    return result
