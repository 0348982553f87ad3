# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mail-flow posture: the risky connectors and rules of a tenant, each with its reason, its source and its fix.

Computed from what one read of the tenant returned (``tenant_view.read_objects``: the service's own objects per kind,
plus, when read, the accepted domains and the organization config), never from a second read, and never writing.
Every finding has a stable ``id`` (``CHECKS``, documented in docs/posture.md), a ``severity`` (``high``, ``medium``,
``low``), the ``objects`` involved (names), the ``reason`` with its ``source``, and the ``fix``: the partner-file
change (for an object carrying a partner's marker) or the module option that removes it.

Which objects count (the rules of every check, written out once):

* connectors: ``Partner`` connectors that are enabled (a disabled connector carries no mail; the partner modules
  manage only Partner connectors);
* rules: a rule *acts* when it is enabled, in mode ``Enforce`` (``Audit``/``AuditAndNotify`` take no action that
  affects delivery: New-TransportRule reference, -Mode) and not past its ``ExpiryDate`` (-ExpiryDate: "the rule
  doesn't take any action on messages after the specified date/time"); a future ``ActivationDate`` still counts
  (the rule will act). Findings about what a rule does are about acting rules only.

Time: ``now`` and the audit threshold are parameters (tests pass them). How long a rule has been in audit mode is
not exposed by the service; ``WhenChanged`` (the last change of any property) is used: every switch to audit mode
is a change, so a rule in audit mode unchanged since ``WhenChanged`` has been in audit mode at least that long.
It is a lower bound: any later edit (a comment, a condition) restarts the count, so the finding can come late but
never early.

Suppressions (accepted findings): records ``{id, objects (optional), reason, expires, source (optional)}``, checked
by ``check_suppressions`` (every problem named with its field) and applied by ``apply_suppressions``: a finding is
accepted when a record of its id names all its objects (or names none); a record past ``expires`` stops
accepting and is reported ``expired``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import difflib
import fnmatch

from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import NotFoundError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format as pf

INBOUND, OUTBOUND, RULES = "inbound_connectors", "outbound_connectors", "mail_flow_rules"
ACCEPTED_DOMAINS, ORGANIZATION = "accepted_domains", "organization_config"
SETTINGS = (ACCEPTED_DOMAINS, ORGANIZATION)  # read only when asked (mail_flow_info gather)
SEVERITIES = ("high", "medium", "low")
AUDIT_DAYS = 30
MODULES = {
    INBOUND: "m365.mailflow.partner_inbound_connector",
    OUTBOUND: "m365.mailflow.partner_outbound_connector",
    RULES: "m365.mailflow.mail_flow_rule",
}
ALIASES = {"inbound": INBOUND, "outbound": OUTBOUND, "rules": RULES}  # partners.py's names of the same reads
# Headers whose presence makes Defender for Office 365 skip Safe Attachments / Safe Links (ORCA 189, 189-2).
SKIP_HEADERS = ("x-ms-exchange-organization-skipsafeattachmentprocessing",
                "x-ms-exchange-organization-skipsafelinksprocessing")
# Rule conditions that look at the sender's address or domain, which the sender chooses (spoofable).
SENDER_CONDITIONS = ("SenderDomainIs", "From", "FromAddressContainsWords", "FromAddressMatchesPatterns")


# --------------------------------------------------------------------------------------------------- reads

def read_settings(client, gather):
    """``{accepted_domains: [...], organization_config: {...} or None}`` for the kinds of ``gather`` among
    ``SETTINGS``: one read each (``Get-AcceptedDomain``, ``Get-OrganizationConfig``)."""
    out = {}
    if ACCEPTED_DOMAINS in gather:
        try:
            found = client.invoke("Get-AcceptedDomain", {"ResultSize": "Unlimited"})
        except NotFoundError:
            found = []
        out[ACCEPTED_DOMAINS] = sorted(found, key=lambda d: str(_domain_name(d)))
    if ORGANIZATION in gather:
        found = client.invoke("Get-OrganizationConfig", {})
        out[ORGANIZATION] = found[0] if found else None
    return out


def _domain_name(record):
    return n.domain_key(str(record.get("DomainName") or record.get("Name") or "")) if isinstance(record, dict) \
        else n.domain_key(str(record))


def settings_view(settings):
    """What mail_flow_info returns of the settings read: accepted domains as ``{domain, type, default}`` and the
    organization config as ``{identity, reject_direct_send}``."""
    out = {}
    if ACCEPTED_DOMAINS in settings:
        out[ACCEPTED_DOMAINS] = [{"domain": _domain_name(d), "type": d.get("DomainType"), "default": d.get("Default")}
                                 for d in settings[ACCEPTED_DOMAINS] or []]
    if ORGANIZATION in settings:
        org = settings[ORGANIZATION]
        out[ORGANIZATION] = None if org is None else {
            "identity": org.get("Identity") or org.get("Name"), "reject_direct_send": org.get("RejectDirectSend")}
    return out


# --------------------------------------------------------------------------------------------------- helpers

def _text(value):
    return str(value) if value is not None else ""


def _list(value):
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _flag(value):
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _enabled_connector(obj):
    return obj.get("Enabled") is not False and _text(obj.get("ConnectorType") or "Partner") == "Partner"


def _state(rule):
    return _text(rule.get("State") or "Enabled")


def _mode(rule):
    return _text(rule.get("Mode") or "Enforce")


def _date(value):
    return n.parse_date(value, strict=False)


def _expired(rule, now):
    expiry = _date(rule.get("ExpiryDate"))
    return expiry is not None and expiry <= now


def _acting(rule, now):
    return _state(rule) == "Enabled" and _mode(rule) == "Enforce" and not _expired(rule, now)


def _owner(obj):
    """The partner whose m365.mailflow marker the object's comment carries, or None (as tenant_view.managed_by)."""
    comment = obj.get("Comment") if "Comment" in obj else obj.get("Comments")
    return pf.managed_by(comment)


def _sender_domains(obj):
    return [n.parse_address_space(_text(v))[0] for v in _list(obj.get("SenderDomains")) if _text(v).strip()]


def _recipient_domains(obj):
    return [n.domain_key(_text(v)) for v in _list(obj.get("RecipientDomains")) if _text(v).strip()]


def _covers(pattern, domain):
    """Whether address space ``pattern`` (``d``, ``*.d`` or ``*``) covers ``domain`` (``*.d`` is d and its
    subdomains: New-OutboundConnector / New-InboundConnector reference)."""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        base = pattern[2:]
        return domain == base or domain.endswith("." + base)
    return pattern == domain


def _scl(rule):
    value = rule.get("SetSCL")
    try:
        return int(_text(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


def _quote(names):
    return ", ".join("'%s'" % x for x in names)


def _rule_short(rule_name, owner):
    prefix = "%s - " % owner
    return rule_name[len(prefix):] if rule_name.lower().startswith(prefix.lower()) else rule_name


class Context(object):
    """What the checks read: the objects by kind, the settings read, ``now`` and the thresholds."""

    def __init__(self, objects, settings, now, audit_days):
        self.objects = objects
        self.settings = settings
        self.now = now
        self.audit_days = audit_days
        self.accepted = None
        if settings.get(ACCEPTED_DOMAINS) is not None:
            self.accepted = sorted(set(_domain_name(d) for d in settings[ACCEPTED_DOMAINS] if _domain_name(d)))

    def of(self, kind):
        return self.objects.get(kind) or []

    def internal(self, address):
        """Whether an address's domain is an accepted domain (or under a wildcard accepted domain)."""
        domain = n.domain_key(address.rsplit("@", 1)[1]) if "@" in address else ""
        return bool(domain) and any(_covers(d, domain) for d in self.accepted or [])


def _fix(kind, obj, partner_change, module_change, rule_name=None):
    """The fix of an object: its partner file's change when it carries a partner's marker, else the module option
    (and how to bring it under a partner file)."""
    owner = _owner(obj)
    name = _text(obj.get("Name"))
    if owner:
        where = "partner file of %s" % owner
        if kind == RULES:
            where += ", rule '%s'" % (rule_name or _rule_short(name, owner))
        return "%s: %s" % (where, partner_change)
    return "%s '%s': %s (or adopt it into a partner file: %s)" % (MODULES[kind], name, module_change, partner_change)


def _finding(check, objects, reason, fix, kind=None, owner=None, details=None, severity=None):
    return {"id": check.id, "title": check.title, "severity": severity or check.severity, "kind": kind,
            "objects": list(objects), "partner": owner, "reason": reason, "source": check.source, "fix": fix,
            "details": details or {}}


# --------------------------------------------------------------------------------------------------- checks

class Check(object):
    """One posture check: stable ``id``, default ``severity``, ``title``, the kinds it ``needs`` read, its
    ``source`` (where the risk is stated), and ``run(check, ctx)`` yielding findings."""

    def __init__(self, id, severity, title, needs, source, run):  # pylint: disable=redefined-builtin
        self.id, self.severity, self.title, self.needs, self.source, self.run = id, severity, title, needs, source, run


def _inbound_domain_only(check, ctx):
    for obj in ctx.of(INBOUND):
        if not _enabled_connector(obj) or _list(obj.get("TrustedOrganizations")):
            continue
        if _flag(obj.get("RestrictDomainsToIPAddresses")) or _flag(obj.get("RestrictDomainsToCertificate")):
            continue
        domains = _sender_domains(obj)
        ips, cert = _list(obj.get("SenderIPAddresses")), _text(obj.get("TlsSenderCertificateName")).strip()
        if domains == ["*"] and (ips or cert):
            continue  # any sender domain, identified by IP address or certificate: the documented pattern
        if ips:
            change = "inbound.restrict_domains_to_ip_addresses: true"
            option = "restrict_domains_to_ip_addresses: true"
        elif cert:
            change = "inbound.restrict_domains_to_certificate: true"
            option = "restrict_domains_to_certificate: true"
        else:
            change = ("inbound.sender_ip_addresses with inbound.restrict_domains_to_ip_addresses: true, or "
                      "inbound.tls_sender_certificate_name with inbound.restrict_domains_to_certificate: true")
            option = ("sender_ip_addresses with restrict_domains_to_ip_addresses: true, or tls_sender_certificate_name "
                      "with restrict_domains_to_certificate: true")
        if ips or cert:
            known = "it lists the partner's %s but does not restrict the domains to %s" % (
                ("IP addresses", "them") if ips else ("certificate name", "it"))
        else:
            known = "it has neither IP addresses nor a certificate name to tell the partner's servers apart"
        reason = ("partner inbound connector '%s' takes mail from %s by sender domain alone (%s): anyone can send "
                  "with these domains in the envelope, so the partner's identity is spoofable; Microsoft's guidance is "
                  "that partner connectors are looked up by IP address or certificate, and a restricting connector "
                  "for the same domains takes precedence over this one" % (obj.get("Name"), _quote(domains) or "no domain",
                                                                           known))
        yield _finding(check, [obj.get("Name")], reason, _fix(INBOUND, obj, change, option), INBOUND, _owner(obj),
                       {"sender_domains": domains, "sender_ip_addresses": ips, "tls_sender_certificate_name": cert or None})


def _inbound_ip_and_certificate(check, ctx):
    for obj in ctx.of(INBOUND):
        ips, cert = _list(obj.get("SenderIPAddresses")), _text(obj.get("TlsSenderCertificateName")).strip()
        if not _enabled_connector(obj) or not ips or not cert:
            continue
        reason = ("partner inbound connector '%s' identifies the partner by both IP addresses (%s) and a certificate "
                  "('%s'); Microsoft advises one identification per partner connector, in separate connectors, and "
                  "the service refuses restricting to both at once" % (obj.get("Name"), ", ".join(ips), cert))
        change = ("keep one identification: inbound.sender_ip_addresses: [] or inbound.tls_sender_certificate_name: "
                  "\"\" (a second partner file can hold the other)")
        option = "sender_ip_addresses: [] or tls_sender_certificate_name: \"\""
        yield _finding(check, [obj.get("Name")], reason, _fix(INBOUND, obj, change, option), INBOUND, _owner(obj),
                       {"sender_ip_addresses": ips, "tls_sender_certificate_name": cert})


def _inbound_tls_optional(check, ctx):
    for obj in ctx.of(INBOUND):
        if not _enabled_connector(obj) or obj.get("RequireTls") is None or _flag(obj.get("RequireTls")):
            continue
        reason = ("partner inbound connector '%s' does not require TLS (RequireTls false): the partner's mail may "
                  "arrive in clear text" % obj.get("Name"))
        yield _finding(check, [obj.get("Name")], reason,
                       _fix(INBOUND, obj, "inbound.require_tls: true", "require_tls: true"), INBOUND, _owner(obj))


def _outbound_tls(check, ctx, wanted):
    for obj in ctx.of(OUTBOUND):
        setting = obj.get("TlsSettings") or None
        if not _enabled_connector(obj) or setting != wanted:
            continue
        if wanted is None:
            reason = ("partner outbound connector '%s' has no TLS setting (TlsSettings $null, opportunistic): mail to "
                      "the partner is sent in clear text whenever the receiving server does not offer TLS"
                      % obj.get("Name"))
        else:
            reason = ("partner outbound connector '%s' requires TLS but accepts any certificate (TlsSettings "
                      "EncryptionOnly: no certificate authentication), so a server posing as the partner's is "
                      "not detected" % obj.get("Name"))
        change = "outbound.tls_settings: certificate_validation (or domain_validation with outbound.tls_domain)"
        option = "tls_settings: certificate_validation (or domain_validation with tls_domain)"
        yield _finding(check, [obj.get("Name")], reason, _fix(OUTBOUND, obj, change, option), OUTBOUND, _owner(obj),
                       {"tls_settings": setting})


def _outbound_tls_optional(check, ctx):
    return _outbound_tls(check, ctx, None)


def _outbound_any_certificate(check, ctx):
    return _outbound_tls(check, ctx, "EncryptionOnly")


def _outbound_test_mode(check, ctx):
    for obj in ctx.of(OUTBOUND):
        if not _enabled_connector(obj) or not _flag(obj.get("TestMode")):
            continue
        reason = ("partner outbound connector '%s' is left in test mode; a plain Get-OutboundConnector does not list "
                  "test-mode connectors, so other tools and admins may not see it" % obj.get("Name"))
        yield _finding(check, [obj.get("Name")], reason,
                       _fix(OUTBOUND, obj, "outbound.test_mode: false", "test_mode: false"), OUTBOUND, _owner(obj))


def _routes(ctx):
    """{connector name (lower case): [acting rules routing to it]}."""
    out = {}
    for rule in ctx.of(RULES):
        target = _text(rule.get("RouteMessageOutboundConnector")).strip()
        if target and _acting(rule, ctx.now):
            out.setdefault(target.lower(), []).append(rule)
    return out


def _outbound_unused(check, ctx):
    routes = _routes(ctx)
    for obj in ctx.of(OUTBOUND):
        if not _enabled_connector(obj) or not _flag(obj.get("IsTransportRuleScoped")):
            continue
        if routes.get(_text(obj.get("Name")).lower()):
            continue
        idle = [r.get("Name") for r in ctx.of(RULES)
                if _text(r.get("RouteMessageOutboundConnector")).lower() == _text(obj.get("Name")).lower()]
        reason = ("partner outbound connector '%s' is scoped to mail flow rules, but no rule that acts (enabled, "
                  "mode Enforce, not expired) routes to it%s: it carries no mail and is left for a future rule to "
                  "send through, unreviewed" % (obj.get("Name"),
                                                " (only %s, which do not act)" % _quote(idle) if idle else ""))
        change = "add the rules that route to it (rules), or remove the outbound section and offboard the connector"
        option = "state: absent, or a mail flow rule with route_message_outbound_connector: '%s'" % obj.get("Name")
        yield _finding(check, [obj.get("Name")], reason, _fix(OUTBOUND, obj, change, option), OUTBOUND, _owner(obj),
                       {"rules_not_acting": idle})


def _rule_route_broken(check, ctx):
    by_name = dict((_text(c.get("Name")).lower(), c) for c in ctx.of(OUTBOUND))
    for rule in ctx.of(RULES):
        target = _text(rule.get("RouteMessageOutboundConnector")).strip()
        if not target or not _acting(rule, ctx.now):
            continue
        conn = by_name.get(target.lower())
        if conn is None:
            problem = "does not exist"
            change = "onboard the partner's outbound section again (it creates '%s'), or remove the rule" % target
        elif conn.get("Enabled") is False:
            problem = "is disabled"
            change = "outbound.enabled: true (on the partner of '%s'), or remove the rule" % target
        elif not _flag(conn.get("IsTransportRuleScoped")):
            problem = "is not scoped to mail flow rules"
            change = "outbound.transport_rule_scoped: true (on the partner of '%s'), or remove the rule" % target
        else:
            continue
        reason = ("mail flow rule '%s' routes to outbound connector '%s', which %s; the service requires the "
                  "connector a rule routes to to exist, be enabled and be scoped to mail flow rules, so the rule "
                  "cannot route as written (what happens to the messages then is decided by its RuleErrorAction, "
                  "'%s')" % (rule.get("Name"), target, problem, rule.get("RuleErrorAction") or "Ignore"))
        yield _finding(check, [rule.get("Name"), target], reason,
                       _fix(RULES, rule, change, change), RULES, _owner(rule), {"connector": target, "problem": problem})


def _rule_expired(check, ctx):
    for rule in ctx.of(RULES):
        if not _expired(rule, ctx.now):
            continue
        expiry = n.utc_timestamp(rule.get("ExpiryDate"))
        reason = ("mail flow rule '%s' expired on %s: it no longer acts on any message, yet it stays in the tenant, "
                  "counts against the 300 rules and reads as if it still applied" % (rule.get("Name"), expiry))
        change = "remove the rule from rules, or set a later rules[].expiry_date (\"\" clears it)"
        option = "state: absent, or a later expiry_date (\"\" clears it)"
        yield _finding(check, [rule.get("Name")], reason, _fix(RULES, rule, change, option), RULES, _owner(rule),
                       {"expiry_date": expiry})


def _rule_audit_stale(check, ctx):
    limit = datetime.timedelta(days=ctx.audit_days)
    for rule in ctx.of(RULES):
        if _state(rule) != "Enabled" or _mode(rule) not in ("Audit", "AuditAndNotify") or _expired(rule, ctx.now):
            continue
        changed = _date(rule.get("WhenChangedUTC") or rule.get("WhenChanged"))
        if changed is None or ctx.now - changed <= limit:
            continue
        days = (ctx.now - changed).days
        reason = ("mail flow rule '%s' has been in mode %s for at least %d days (unchanged since %s; the threshold is "
                  "%d days): audit mode is for testing a rule before it is enforced, and meanwhile nothing it does "
                  "affects delivery" % (rule.get("Name"), _mode(rule), days, n.utc_timestamp(changed), ctx.audit_days))
        change = "rules[].mode: enforce, or remove the rule"
        yield _finding(check, [rule.get("Name")], reason, _fix(RULES, rule, change, "mode: enforce, or state: absent"),
                       RULES, _owner(rule), {"mode": _mode(rule), "unchanged_since": n.utc_timestamp(changed),
                                             "days": days, "threshold_days": ctx.audit_days})


def _bypass(rule):
    """What a rule does to bypass filtering: ['SetSCL -1', 'SetHeader X-MS-...'] (empty when nothing)."""
    out = []
    if _scl(rule) == -1:
        out.append("SetSCL -1")
    header = _text(rule.get("SetHeaderName")).strip()
    if header.lower() in SKIP_HEADERS:
        out.append("SetHeaderName %s" % header)
    return out


def _authenticated(rule):
    """Whether a rule's bypass is tied to something the sender cannot choose: the connecting IP (SenderIpRanges) or
    an Authentication-Results header check (as ORCA 118 accepts)."""
    if _list(rule.get("SenderIpRanges")):
        return True
    for prefix in ("", "ExceptIf"):
        name = _text(rule.get(prefix + "HeaderContainsMessageHeader")).lower()
        if name == "authentication-results" and _list(rule.get(prefix + "HeaderContainsWords")):
            return True
        name = _text(rule.get(prefix + "HeaderMatchesMessageHeader")).lower()
        if "authentication-results" in name and _list(rule.get(prefix + "HeaderMatchesPatterns")):
            return True
    return False


def _allow_list(rule):
    """The sender conditions that make a bypass rule a spoofable allow-list: {condition: values} (empty if not)."""
    if _authenticated(rule):
        return {}
    return dict((cond, _list(rule.get(cond))) for cond in SENDER_CONDITIONS if _list(rule.get(cond)))


_BYPASS_FIX = ("remove actions.set_scl (or set 0 or higher) and a Skip*Processing actions.set_header; trust a "
               "partner through an inbound connector restricted to its IP addresses or certificate instead")
_BYPASS_OPTION = "actions without set_scl -1 and without the Skip*Processing set_header (purge_actions: true)"


def _rule_sender_allow_list(check, ctx):
    for rule in ctx.of(RULES):
        if not _acting(rule, ctx.now):
            continue
        bypass, senders = _bypass(rule), _allow_list(rule)
        if not bypass or not senders:
            continue
        values = [v for vs in senders.values() for v in vs]
        own = [v for v in values if ctx.accepted and any(_covers(d, n.domain_key(_text(v).rsplit("@", 1)[-1]))
                                                         for d in ctx.accepted)]
        reason = ("mail flow rule '%s' bypasses filtering (%s) for messages whose sender matches %s (%s): the sender "
                  "address is chosen by whoever sends, so anyone can use this allow-list by spoofing it%s"
                  % (rule.get("Name"), ", ".join(bypass), ", ".join(sorted(senders)), ", ".join(_text(v) for v in values),
                     "; it includes your own domains (%s), the most spoofed of all" % ", ".join(own) if own else ""))
        yield _finding(check, [rule.get("Name")], reason, _fix(RULES, rule, _BYPASS_FIX, _BYPASS_OPTION), RULES,
                       _owner(rule), {"bypass": bypass, "sender_conditions": senders, "own_domains": own})


def _rule_filter_bypass(check, ctx):
    for rule in ctx.of(RULES):
        if not _acting(rule, ctx.now):
            continue
        bypass = _bypass(rule)
        if not bypass or _allow_list(rule):
            continue  # a sender-conditioned bypass is rule_sender_allow_list
        reason = ("mail flow rule '%s' bypasses filtering (%s): SetSCL -1 asks Exchange Online to skip most spam "
                  "filtering, and the Skip*Processing headers skip Safe Attachments or Safe Links, for every message "
                  "the rule matches" % (rule.get("Name"), ", ".join(bypass)))
        yield _finding(check, [rule.get("Name")], reason, _fix(RULES, rule, _BYPASS_FIX, _BYPASS_OPTION), RULES,
                       _owner(rule), {"bypass": bypass})


def _rule_external_copy(check, ctx):
    for rule in ctx.of(RULES):
        if not _acting(rule, ctx.now):
            continue
        external = {}
        for prop in ("RedirectMessageTo", "BlindCopyTo"):
            found = [_text(a) for a in _list(rule.get(prop)) if "@" in _text(a) and not ctx.internal(_text(a))]
            if found:
                external[prop] = found
        if not external:
            continue
        what = "; ".join("%s %s" % ("redirects to" if p == "RedirectMessageTo" else "sends a blind copy to",
                                    ", ".join(v)) for p, v in sorted(external.items()))
        reason = ("mail flow rule '%s' %s, outside the organization's accepted domains: matching messages leave the "
                  "organization without the sender or the recipients seeing it" % (rule.get("Name"), what))
        change = "remove actions.redirect_message_to / actions.blind_copy_to, or point them at internal recipients"
        option = "actions without the external redirect_message_to / blind_copy_to (purge_actions: true)"
        yield _finding(check, [rule.get("Name")], reason, _fix(RULES, rule, change, option), RULES, _owner(rule),
                       {"external": external})


def _direct_send(check, ctx):
    org = ctx.settings.get(ORGANIZATION)
    if org is None or org.get("RejectDirectSend") is None or _flag(org.get("RejectDirectSend")):
        return
    keeps = []
    for obj in ctx.of(INBOUND):
        if not _enabled_connector(obj):
            continue
        if not (_list(obj.get("SenderIPAddresses")) or _text(obj.get("TlsSenderCertificateName")).strip()):
            continue
        domains = _sender_domains(obj)
        if ctx.accepted is None or any(_covers(s, d) for s in domains for d in ctx.accepted):
            keeps.append(obj.get("Name"))
    name = org.get("Identity") or org.get("Name") or "organization config"
    if keeps:
        flowing = ("these partner connectors (identified by IP address or certificate%s) would then keep their "
                   "senders flowing: %s" % ("" if ctx.accepted is None else ", for your accepted domains", _quote(keeps)))
    else:
        flowing = ("no partner inbound connector identified by IP address or certificate covers %s, so every "
                   "Direct Send source would be rejected: give each legitimate one a partner connector first"
                   % ("your accepted domains" if ctx.accepted is not None else "any domain"))
    reason = ("RejectDirectSend is off: anyone can send anonymous mail to your mailboxes with one of your own accepted "
              "domains as the envelope sender (Direct Send), and only SPF, DKIM and DMARC stand against the "
              "spoofing; with it on, such mail is rejected (550 5.7.68) unless it matches an inbound connector; "
              + flowing)
    fix = ("give every legitimate Direct Send source (devices, applications, services sending as your domains) a "
           "partner file whose inbound connector identifies it (inbound.sender_domains: [your domain], "
           "inbound.sender_ip_addresses with inbound.restrict_domains_to_ip_addresses: true, or the certificate pair), "
           "then run Set-OrganizationConfig -RejectDirectSend $true (no module of the collection changes organization "
           "settings)")
    yield _finding(check, [name], reason, fix, ORGANIZATION, None,
                   {"keeps_flowing": keeps, "accepted_domains_read": ctx.accepted is not None})


def _overlap(first, second):
    """[(a, b, exact)] of the recipient domains of two connectors that overlap (``*`` excluded)."""
    out = []
    for a in first:
        for b in second:
            if "*" in (a, b):
                continue
            if a == b:
                out.append((a, b, True))
            elif (a.startswith("*.") and _covers(a, b[2:] if b.startswith("*.") else b)) or \
                    (b.startswith("*.") and _covers(b, a[2:] if a.startswith("*.") else a)):
                out.append((a, b, False))
    return out


def _suffixes(domain):
    """The parent domains of ``domain``, nearest first (``a.b.c`` -> ``b.c``, ``c``)."""
    parts = domain.split(".")
    return [".".join(parts[i:]) for i in range(1, len(parts))]


def _overlap_candidates(domains):
    """The pairs (i, j), i < j, of connectors whose recipient domains may overlap, found through an index of the
    domains rather than by comparing every pair (a tenant may have thousands of partner connectors)."""
    exact, wildcard = {}, {}
    for index, names in enumerate(domains):
        for name in names:
            if name == "*":
                continue
            base = name[2:] if name.startswith("*.") else name
            exact.setdefault(base, set()).add(index)
            if name.startswith("*."):
                wildcard.setdefault(base, set()).add(index)
    pairs = set()
    for index, names in enumerate(domains):
        for name in names:
            if name == "*":
                continue
            base = name[2:] if name.startswith("*.") else name
            found = set(exact.get(base, ()))  # the same domain, or a wildcard and its base
            for parent in _suffixes(base):
                # a wildcard over a parent covers this domain (the wildcard's own connector finds the pair from here)
                found |= wildcard.get(parent, set())
            pairs.update((min(index, other), max(index, other)) for other in found if other != index)
    return sorted(pairs)


def _outbound_domain_overlap(check, ctx):
    connectors = [c for c in ctx.of(OUTBOUND) if _enabled_connector(c) and _recipient_domains(c)]
    connectors.sort(key=lambda c: _text(c.get("Name")).lower())
    domains = [_recipient_domains(c) for c in connectors]
    for index, other in _overlap_candidates(domains):
        first, second = connectors[index], connectors[other]
        pairs = _overlap(domains[index], domains[other])
        if not pairs:
            continue
        exact = any(p[2] for p in pairs)
        shown = ", ".join(a if e else "%s / %s" % (a, b) for a, b, e in pairs)
        names = [first.get("Name"), second.get("Name")]
        reason = ("outbound connectors %s both deliver for %s; which connector Exchange Online picks for an "
                  "overlapping recipient domain is not documented (on-premises Exchange picks the most specific "
                  "address space, then the cost, then the name)" % (_quote(names), shown))
        owners = [_owner(c) for c in (first, second)]
        partners = [o for o in owners if o]
        change = ("give each domain to one partner: remove it from outbound.recipient_domains of one of the "
                  "partner files%s" % (" (%s)" % ", ".join(partners) if partners else ""))
        fix = ("%s; for a connector outside the partner files, %s recipient_domains" % (change, MODULES[OUTBOUND])
               if len(partners) < 2 else change)
        yield _finding(check, names, reason, fix, OUTBOUND, owners[0] or owners[1],
                       {"domains": [{"first": a, "second": b, "same": e} for a, b, e in pairs]},
                       severity=None if exact else "low")


_DOCS_INBOUND = "New-InboundConnector reference"
CHECKS = (
    Check("inbound_domain_only", "high", "Partner inbound connector identifies the partner by sender domain only",
          (INBOUND,), "%s (RestrictDomainsToIPAddresses, RestrictDomainsToCertificate); MicrosoftDocs/OfficeDocs-Exchange"
          "#1041 (partner connectors are looked up by IP address or certificate; a restricting connector takes "
          "precedence over an allow-by-domain one)" % _DOCS_INBOUND, _inbound_domain_only),
    Check("inbound_ip_and_certificate", "medium", "Partner inbound connector mixes IP addresses and a certificate",
          (INBOUND,), "MicrosoftDocs/OfficeDocs-Exchange#1041 (\"You should not have IPs and Cert configured in the "
          "same Partner connector\"); New-InboundConnector refuses both restrictions together "
          "(InboundConnectorInvalidIPCertificateCombinations)", _inbound_ip_and_certificate),
    Check("inbound_tls_optional", "medium", "Partner inbound connector does not require TLS", (INBOUND,),
          "%s (RequireTls: $true rejects messages not sent over TLS; the default, and the admin center's)"
          % _DOCS_INBOUND, _inbound_tls_optional),
    Check("outbound_tls_optional", "medium", "Partner outbound connector does not require TLS", (OUTBOUND,),
          "New-OutboundConnector reference (TlsSettings: $null, the default, sets no TLS requirement)",
          _outbound_tls_optional),
    Check("outbound_any_certificate", "medium", "Partner outbound connector accepts any certificate (encryption_only)",
          (OUTBOUND,), "New-OutboundConnector reference (TlsSettings EncryptionOnly: \"No certificate authentication is "
          "performed\"); SEPPmail365 maps self-signed certificates to EncryptionOnly and advises against it in "
          "production", _outbound_any_certificate),
    Check("outbound_test_mode", "low", "Outbound connector left in test mode", (OUTBOUND,),
          "New-OutboundConnector reference (TestMode); live evidence: a plain Get-OutboundConnector leaves test-mode "
          "connectors out (live_evidence.md)", _outbound_test_mode),
    Check("outbound_unused", "low", "Rule-scoped outbound connector that no acting rule routes to", (OUTBOUND, RULES),
          "New-OutboundConnector reference (IsTransportRuleScoped: used only by rules with "
          "RouteMessageOutboundConnector); New-TransportRule reference (-Mode, -ExpiryDate)", _outbound_unused),
    Check("outbound_domain_overlap", "medium", "Outbound connectors with overlapping recipient domains", (OUTBOUND,),
          "No Microsoft text documents the choice between overlapping RecipientDomains in Exchange Online; on-premises: "
          "\"Connector selection in external message routing\" (most specific address space, cost, name)",
          _outbound_domain_overlap),
    Check("rule_route_broken", "high", "Rule routes to a missing, disabled or not rule-scoped connector",
          (RULES, OUTBOUND), "New-TransportRule RouteMessageOutboundConnector: the connector must exist, be enabled and "
          "be scoped to rules (decompiled Exchange code, connector_cmdlets.md 5.2)", _rule_route_broken),
    Check("rule_expired", "low", "Rule past its expiry date", (RULES,),
          "New-TransportRule reference (-ExpiryDate: the rule takes no action after it); 300 rules per organization "
          "(Exchange Online limits)", _rule_expired),
    Check("rule_audit_stale", "low", "Rule left in audit mode", (RULES,),
          "New-TransportRule reference (-Mode Audit/AuditAndNotify: no action that affects delivery); Microsoft's "
          "mail flow rules page: audit mode is how a rule is tested before it is enforced", _rule_audit_stale),
    Check("rule_sender_allow_list", "high", "Rule bypasses filtering for sender domains or addresses (spoofable allow-list)",
          (RULES,), "ORCA 118-2 and 118-4 (domain allow-listing in transport rules; own domains critical), Maester "
          "MT.1043 (SCL -1 rules), ORCA 189/189-2 (Skip*Processing headers); New-TransportRule SetSCL", _rule_sender_allow_list),
    Check("rule_filter_bypass", "medium", "Rule bypasses spam filtering, Safe Attachments or Safe Links", (RULES,),
          "Maester MT.1043 (SCL -1 in transport rules); ORCA 189 and 189-2 (SkipSafeAttachmentProcessing, "
          "SkipSafeLinksProcessing headers); New-TransportRule SetSCL (-1 requests a bypass of most spam filtering)",
          _rule_filter_bypass),
    Check("rule_external_copy", "high", "Rule redirects or blind-copies messages to external addresses",
          (RULES, ACCEPTED_DOMAINS), "New-TransportRule reference (RedirectMessageTo, BlindCopyTo); external = not in "
          "an accepted domain (Get-AcceptedDomain); the classification as a risk is the collection's (issue 25), "
          "not a cited baseline", _rule_external_copy),
    Check("reject_direct_send_off", "medium", "RejectDirectSend is off", (ORGANIZATION, INBOUND),
          "Set-OrganizationConfig reference (RejectDirectSend; MicrosoftDocs/office-docs-powershell#13210); Exchange "
          "team blog \"Introducing more control over Direct Send\" (4408790), MC1093237 (default off, 5.7.68, the "
          "fix is a partner connector); Maester MT.1062", _direct_send),
)
IDS = tuple(c.id for c in CHECKS)
BY_ID = dict((c.id, c) for c in CHECKS)


def _now(now):
    if now is None:
        return n.utcnow()
    stamp = n.parse_date(now, strict=False)
    if stamp is None:
        raise ValueError("now: %r is not a date" % (now,))
    return stamp


def findings(objects, settings=None, now=None, audit_days=AUDIT_DAYS):
    """The posture findings of a tenant read once.

    ``objects``: ``{kind: [service objects]}`` as ``tenant_view.read_objects`` returns them (any subset of
    inbound_connectors, outbound_connectors, mail_flow_rules; the keys inbound, outbound and rules of the partner
    checks' tenant read are taken too); ``settings``: ``read_settings``' answer
    (``accepted_domains``, ``organization_config``), or None; ``now``: a datetime or timestamp text (default: the
    current time, UTC); ``audit_days``: how long a rule may stay in audit mode.

    Returns ``(found, not_checked)``: the findings (sorted by severity, id, objects) and ``[{id, needs}]`` of the
    checks that could not run because a kind they need was not read."""
    settings = settings or {}
    objects = dict((ALIASES.get(k, k), v) for k, v in (objects or {}).items())
    read = set(k for k in (INBOUND, OUTBOUND, RULES) if k in objects) | set(k for k in SETTINGS if k in settings)
    ctx = Context(objects, settings, _now(now), audit_days)
    found, skipped = [], []
    for check in CHECKS:
        missing = [k for k in check.needs if k not in read]
        if missing:
            skipped.append({"id": check.id, "needs": missing})
            continue
        found.extend(check.run(check, ctx))
    found.sort(key=sort_key)
    return found, skipped


def sort_key(finding):
    return (SEVERITIES.index(finding["severity"]), finding["id"], [_text(o).lower() for o in finding["objects"]])


# --------------------------------------------------------------------------------------------------- suppressions

RECORD_KEYS = ("expires", "id", "objects", "reason", "source")


def _expiry(value):
    """The instant a suppression stops accepting: the end of the given day (UTC), or the given time."""
    if isinstance(value, datetime.datetime):
        return n.parse_date(value)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc) + datetime.timedelta(days=1)
    if not isinstance(value, str):
        return None
    text = value.strip()
    stamp = n.parse_date(text)
    if stamp is None:
        return None
    return stamp + datetime.timedelta(days=1) if len(text) == 10 else stamp


def _expires_text(value):
    if isinstance(value, datetime.datetime):
        return n.utc_timestamp(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return _text(value).strip()


def suppression_errors(records, field="suppressions"):
    """``(checked, errors)``: the suppression records in their checked form (``id``, ``objects`` or None,
    ``reason``, ``expires`` as written, ``source``) and every problem as ``<field>[i].<key>: <message>``."""
    checked, errors = [], []
    if records is None:
        return checked, errors
    if not isinstance(records, (list, tuple)):
        return checked, ["%s: must be a list of accepted findings, each a mapping with id, reason and expires "
                         "(and optionally objects)" % field]
    for index, record in enumerate(records):
        where = "%s[%d]" % (field, index)
        if not isinstance(record, dict):
            errors.append("%s: must be a mapping with id, reason and expires (and optionally objects), not %r"
                          % (where, record))
            continue
        problems = []
        for key in sorted(set(record) - set(RECORD_KEYS)):
            close = difflib.get_close_matches(str(key), RECORD_KEYS, 1)
            problems.append("%s: unknown key '%s'%s; the keys are %s" % (
                where, key, " (did you mean %s?)" % close[0] if close else "", ", ".join(RECORD_KEYS)))
        ident = record.get("id")
        if ident is None or ident == "":
            problems.append("%s.id: required: the id of the accepted finding (one of %s)" % (where, ", ".join(IDS)))
        elif not isinstance(ident, str) or ident.strip() not in BY_ID:
            close = difflib.get_close_matches(str(ident), IDS, 1)
            problems.append("%s.id: '%s' is not a finding id%s; the ids are %s" % (
                where, ident, " (did you mean %s?)" % close[0] if close else "", ", ".join(IDS)))
        reason = record.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            problems.append("%s.reason: required: say why the finding is accepted (who decided, which ticket)" % where)
        expires = record.get("expires")
        if expires is None or expires == "":
            problems.append("%s.expires: required: the date (YYYY-MM-DD) until which the finding is accepted; an "
                            "accepted risk is reviewed again when it expires" % where)
        elif isinstance(expires, bool) or _expiry(expires) is None:
            problems.append("%s.expires: '%s' is not a date; write YYYY-MM-DD (the suppression holds until the end "
                            "of that day, UTC) or YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM" % (where, expires))
        objects = record.get("objects")
        if isinstance(objects, str):
            objects = [objects]
        if objects is not None:
            if not isinstance(objects, (list, tuple)) or not objects:
                problems.append("%s.objects: must be a list of object names (shell patterns such as 'Adatum*' "
                                "allowed); leave it out to accept the finding for every object" % where)
            else:
                for pos, name in enumerate(objects):
                    if not isinstance(name, str) or not name.strip():
                        problems.append("%s.objects[%d]: '%s' is not an object name" % (where, pos, name))
        source = record.get("source")
        if source is not None and not isinstance(source, str):
            problems.append("%s.source: must be text (where the record comes from, for example a file name)" % where)
        if problems:
            errors.extend(problems)
            continue
        checked.append({"id": ident.strip(), "objects": [o.strip() for o in objects] if objects else None,
                        "reason": reason.strip(), "expires": _expires_text(expires), "source": source or where})
    return checked, errors


def check_suppressions(records, field="suppressions"):
    """The checked suppression records; raises ``ConfigurationError`` naming every problem with its field."""
    checked, errors = suppression_errors(records, field)
    n.raise_errors(errors)
    return checked


def _matches(record, finding):
    if record["id"] != finding["id"]:
        return False
    if not record["objects"]:
        return True
    patterns = [p.lower() for p in record["objects"]]
    return all(any(_text(o).lower() == p or fnmatch.fnmatchcase(_text(o).lower(), p) for p in patterns)
               for o in finding["objects"])


def apply_suppressions(found, records, now=None, field="suppressions"):
    """Split ``found`` (``findings``' list) by the suppression ``records`` (checked here, see
    ``check_suppressions``).

    Returns ``{findings, accepted, suppressions}``: the new findings (not accepted), the accepted ones (each with
    ``accepted``: ``{reason, expires, source}``), and each record with ``status`` (``active``: it accepted a finding;
    ``unused``: it is in force but matched nothing; ``expired``: past ``expires``, it accepts nothing) and
    ``matched`` (the findings it accepts, or for an expired record, those it would have: ``[{id, objects}]``)."""
    records = check_suppressions(records, field)
    stamp = _now(now)
    status = []
    for record in records:
        status.append(dict(record, status="expired" if _expiry(record["expires"]) <= stamp else "unused", matched=[]))
    new, accepted = [], []
    for finding in found:
        taken = None
        for entry in status:
            if not _matches(entry, finding):
                continue
            if entry["status"] == "expired":
                entry["matched"].append({"id": finding["id"], "objects": finding["objects"]})
                continue
            if taken is None:
                taken = entry
        if taken is None:
            new.append(finding)
            continue
        taken["status"] = "active"
        taken["matched"].append({"id": finding["id"], "objects": finding["objects"]})
        accepted.append(dict(finding, accepted={"reason": taken["reason"], "expires": taken["expires"],
                                                "source": taken["source"]}))
    return {"findings": new, "accepted": accepted, "suppressions": status}


def summary(found, applied, not_checked):
    """Counts for reports: ``{total, new, accepted, by_severity (new ones), expired_suppressions,
    unused_suppressions, not_checked}``."""
    new = applied["findings"]
    return {
        "total": len(found), "new": len(new), "accepted": len(applied["accepted"]),
        "by_severity": dict((s, sum(1 for f in new if f["severity"] == s)) for s in SEVERITIES),
        "expired_suppressions": sum(1 for s in applied["suppressions"] if s["status"] == "expired"),
        "unused_suppressions": sum(1 for s in applied["suppressions"] if s["status"] == "unused"),
        "not_checked": not_checked,
    }


def _keep(names):
    if not names:
        return lambda finding: True
    patterns = [str(p).strip().lower() for p in names]

    def keep(finding):
        return any(_text(o).lower() == p or fnmatch.fnmatchcase(_text(o).lower(), p)
                   for o in finding["objects"] for p in patterns)
    return keep


def evaluate(objects, settings=None, suppressions=None, now=None, audit_days=AUDIT_DAYS, names=None):
    """What mail_flow_info returns of the posture: ``findings`` (new), ``accepted_findings``, ``suppressions``
    (with their status) and ``findings_summary``; ``names`` keeps the findings that involve one of these objects
    (exact without case, or shell patterns), after the checks ran over everything read."""
    found, not_checked = findings(objects, settings, now=now, audit_days=audit_days)
    found = [f for f in found if _keep(names)(f)]
    applied = apply_suppressions(found, suppressions or [], now=now)
    return {"findings": applied["findings"], "accepted_findings": applied["accepted"],
            "suppressions": applied["suppressions"], "findings_summary": summary(found, applied, not_checked)}
