# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each condition (and, with ``ExceptIf``, each exception) of a mail flow rule means for one message and one
recipient: one evaluator per option of the rule vocabulary (``rule_parameters.CONDITIONS``).

Every evaluator answers a ``Verdict``: matched (True), not matched (False) or unknown (None: the simulator cannot
see what the condition looks at, such as the text of an attachment or a group membership nobody gave), with the
detail shown in the answer. The semantics are written from the New-TransportRule reference (the offline copy in
``shared/reference/cmdlets``); where the reference leaves a choice open, ``SEMANTICS`` says which reading is
simulated, and ``engine.ASSUMPTIONS`` holds the sentence an answer quotes when the reading mattered. Values of one
condition are ORed (any value matches); conditions are ANDed by the engine.

Scope: a condition about *the* recipient (``SentTo``, ``RecipientDomainIs``...) is judged for the recipient being
evaluated; the reference says the ``AnyOf*`` conditions apply the rule "to all recipients of the message", so they
are judged on the whole message (``scope`` "message"). The engine evaluates the rules once per recipient.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.m365.mailflow.plugins.module_utils import rule_parameters as table
from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.service_data import AD_ATTRIBUTES
from ansible_collections.m365.mailflow.plugins.module_utils.simulation import directory as dirs
from ansible_collections.m365.mailflow.plugins.module_utils.simulation.dotnet_regex import PatternError, compile_pattern

# Only the first 150 KB of an attachment are scanned for patterns (New-TransportRule, AttachmentMatchesPatterns).
ATTACHMENT_SCAN_BYTES = 150 * 1024
_ATTRIBUTES = dict((a.lower(), a) for a in AD_ATTRIBUTES)
_IN_ORGANIZATION_DOMAINS = ("Authoritative", "InternalRelay")


class Verdict(object):
    __slots__ = ("result", "detail", "assumptions")

    def __init__(self, result, detail, assumptions=()):
        self.result = result
        self.detail = detail
        self.assumptions = assumptions


def yes(detail, *assumptions):
    return Verdict(True, detail, assumptions)


def no(detail, *assumptions):
    return Verdict(False, detail, assumptions)


def unknown(detail, *assumptions):
    return Verdict(None, detail, assumptions)


# --------------------------------------------------------------------------------------------------- value forms

def _enum_key(value):
    return re.sub(r"[^a-z0-9]", "", str(value).lower())


def canonical_enum(value, choices):
    """The canonical spelling among ``choices`` of ``value`` written in any case or in snake_case."""
    key = _enum_key(value)
    for choice in choices:
        if _enum_key(choice) == key:
            return choice
    return str(value)


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


class Words(object):
    """Words or phrases, each matched as a whole word without case: a word that begins (ends) with a letter or digit
    matches only where no letter or digit precedes (follows) it; blanks inside a phrase match any white space."""

    def __init__(self, words):
        self.items = []
        for word in _as_list(words):
            text = str(word).strip()
            if not text:
                continue
            body = r"\s+".join(re.escape(part) for part in text.split())
            lead = r"(?<!\w)" if re.match(r"\w", text[0]) else ""
            tail = r"(?!\w)" if re.match(r"\w", text[-1]) else ""
            self.items.append((text, re.compile(lead + body + tail, re.IGNORECASE)))

    def find(self, text):
        """The words that occur in ``text`` (a string or a list of strings)."""
        texts = [t for t in _as_list(text) if t]
        return [word for word, regex in self.items if any(regex.search(str(t)) for t in texts)]

    def __str__(self):
        return ", ".join("'%s'" % w for w, _r in self.items)


class Patterns(object):
    """.NET patterns; those the simulator cannot evaluate are kept with the reason (``dotnet_regex``)."""

    def __init__(self, patterns):
        self.items, self.refused = [], []
        for pattern in _as_list(patterns):
            try:
                self.items.append((pattern, compile_pattern(str(pattern))))
            except PatternError as exc:
                self.refused.append((pattern, exc.reason))

    def find(self, text):
        texts = [t for t in _as_list(text) if t is not None]
        return [p for p, regex in self.items if any(regex.search(str(t)) for t in texts)]

    def unresolved(self):
        return "; ".join("pattern '%s' %s" % (p, why) for p, why in self.refused)

    def __str__(self):
        return ", ".join("'%s'" % p for p, _r in self.items + self.refused)


def _split_values(text, patterns):
    """The comma-separated values after ``Attribute:``; for patterns a comma inside {}, [] or () is kept."""
    if not patterns:
        return [v.strip() for v in text.split(",") if v.strip()]
    out, depth, current = [], 0, []
    for ch in text:
        if ch in "{[(":
            depth += 1
        elif ch in "}])" and depth:
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return [v.strip() for v in out if v.strip()]


class Keyed(object):
    """``Attribute:value1,value2`` entries (AD attributes, document properties): [(key, Words or Patterns)]."""

    def __init__(self, entries, patterns=False, attributes=True):
        self.items = []
        for entry in _as_list(entries):
            key, _sep, rest = str(entry).partition(":")
            key = key.strip()
            if attributes:
                key = _ATTRIBUTES.get(key.lower(), key)
            values = _split_values(rest, patterns)
            self.items.append((key, Patterns(values) if patterns else Words(values)))


class Domains(object):
    """Domains that match themselves and their subdomains (``contoso.com`` matches ``eu.contoso.com``)."""

    def __init__(self, domains):
        self.items = [n.domain_key(str(v).strip().lstrip("*").lstrip(".")) for v in _as_list(domains) if str(v).strip()]
        self._set = frozenset(self.items)

    def match(self, domain):
        """The domain of the list that ``domain`` is, or is a subdomain of; None."""
        labels = domain.split(".")
        for start in range(len(labels)):
            suffix = ".".join(labels[start:])
            if suffix in self._set:
                return suffix
        return None

    def __str__(self):
        return ", ".join(self.items)


class Ranges(object):
    """IP addresses, CIDR blocks and ``a-b`` ranges."""

    def __init__(self, ranges):
        self.items = []
        for value in _as_list(ranges):
            text = str(value).strip()
            try:
                if "-" in text:
                    self.items.append((text, n.range_ends(text)))
                else:
                    self.items.append((text, ipaddress.ip_network(text, strict=False)))
            except ValueError:
                continue

    def find(self, ip):
        out = []
        for text, item in self.items:
            if isinstance(item, tuple):
                if ip.version == item[0].version and item[0] <= ip <= item[1]:
                    out.append(text)
            elif ip.version == item.version and ip in item:
                out.append(text)
        return out


def prepare(entry, value):
    """The evaluation form of an option value (``entry``: its ``rule_parameters`` table entry)."""
    kind = entry["kind"]
    if kind == "words":
        return Words(value)
    if kind == "patterns":
        return Patterns(value)
    if kind in ("recipients", "recipient"):
        return [str(v).strip() for v in _as_list(value) if str(v).strip()]
    if kind == "domains":
        return Domains(value)
    if kind == "ip_ranges":
        return Ranges(value)
    if kind == "size":
        return n.parse_size(value)
    if kind in ("enum", "enum_list"):
        values = [canonical_enum(v, entry.get("values") or ()) for v in _as_list(value)]
        return values if kind == "enum_list" else (values[0] if values else None)
    if kind in ("flag", "bool"):
        return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "yes", "1", "on")
    if kind == "int":
        return int(value)
    if kind in ("ad_attribute_words", "ad_attribute_patterns"):
        return Keyed(value, patterns=kind == "ad_attribute_patterns")
    if kind == "property_words":
        return Keyed(value, attributes=False)
    if kind == "header_name":
        return str(value).strip().lower()
    return value


# --------------------------------------------------------------------------------------------------- the people

class Party(object):
    """The sender or a recipient: the address as written, the directory record, the attributes the message gives."""

    def __init__(self, address, directory, given=None):
        self.address = address
        self.key = address.lower()
        self.record = directory.find(address)
        self.primary = (self.record.get("PrimarySmtpAddress") if self.record is not None else None) or address
        self.given = given or {}
        self.domain = n.domain_key(address.rpartition("@")[2])
        self._directory = directory
        self._groups = False

    def attribute(self, name):
        return dirs.attribute(self.record, self.given, name)

    def keys(self):
        """Every spelling that names this person (lower case)."""
        keys = set((self.key, self.primary.lower()))
        if self.record is not None:
            keys |= self._directory.identities(self.primary)
        return keys

    def groups(self):
        """Lower-case identities of the groups the person is a member of, or None when nobody said."""
        if self._groups is False:
            listed = self.given.get("MemberOf")
            if listed is None and self.record is not None:
                listed = self.record.get("MemberOf")
            if listed is None:
                self._groups = None
            else:
                keys = set()
                for group in _as_list(listed):
                    keys |= self._directory.identities(group)
                self._groups = keys
        return self._groups

    def in_organization(self):
        """In the organization by the reference's criteria: a mailbox, mail user, group or public folder of the
        directory, or an address in an authoritative or internal relay accepted domain."""
        if self.record is not None and self.record.get("RecipientTypeDetails", self.record.get("RecipientType")) \
                in dirs.IN_ORGANIZATION_TYPES:
            return True
        return self._directory.domain_type(self.address) in _IN_ORGANIZATION_DOMAINS


def _members(ctx, party, groups, who):
    """Verdict: is ``party`` a member of any of ``groups``?"""
    have = party.groups()
    if have is None:
        return unknown("the groups of %s %s are not known (give %s_attributes: {MemberOf: [...]})"
                       % (who, party.address, "sender" if who == "sender" else "recipient"))
    found = [g for g in groups if ctx.directory.identities(g) & have]
    if found:
        return yes("%s %s is a member of %s" % (who, party.address, ", ".join(found)))
    return no("%s %s is not a member of %s" % (who, party.address, ", ".join(groups)))


# --------------------------------------------------------------------------------------------------- evaluators

def _senders(ctx):
    """The sender addresses the rule examines (SenderAddressLocation: Header, Envelope or HeaderOrEnvelope)."""
    location = ctx.rule.sender_address_location
    if location == "Envelope":
        return [ctx.envelope]
    if location == "HeaderOrEnvelope" and ctx.envelope.key != ctx.sender.key:
        return [ctx.sender, ctx.envelope]
    return [ctx.sender]


def _recipient_address(ctx, party):
    """The address of a recipient the rule examines (RecipientAddressType: Resolved = the primary SMTP address)."""
    return party.address if ctx.rule.recipient_address_type == "Original" else party.primary


def _addresses_in(ctx, values, addresses, who):
    wanted = set()
    for value in values:
        wanted |= ctx.directory.identities(value)
    hit = [a for a in addresses if a.lower() in wanted]
    if hit:
        return yes("%s %s is one of %s" % (who, ", ".join(hit), ", ".join(values)))
    return no("%s %s is none of %s" % (who, ", ".join(addresses) or "(none)", ", ".join(values)))


def c_from(ctx, value):
    return _addresses_in(ctx, value, [p.primary for p in _senders(ctx)], "sender")


def c_from_scope(ctx, value):
    parties = _senders(ctx)
    if value == "InOrganization":
        inside = [p for p in parties if p.in_organization()]
        if inside and ctx.authenticated:
            return yes("sender %s is inside the organization and the message was sent over an authenticated "
                       "connection" % inside[0].address, "from_scope")
        if inside:
            return no("sender %s has an address of the organization, but the message did not come over an "
                      "authenticated connection (%s mail)" % (inside[0].address, ctx.msg.direction), "from_scope")
        return no("sender %s is not inside the organization" % parties[0].address)
    outside = [p for p in parties if not p.in_organization()]
    if outside:
        return yes("sender %s is outside the organization (not in an authoritative or internal relay accepted "
                   "domain)" % outside[0].address)
    return no("sender %s is in an accepted domain of the organization" % parties[0].address)


def c_from_member_of(ctx, value):
    verdicts = [_members(ctx, p, value, "sender") for p in _senders(ctx)]
    return _any(verdicts)


def _any(verdicts):
    for v in verdicts:
        if v.result:
            return v
    for v in verdicts:
        if v.result is None:
            return v
    return verdicts[0]


def c_from_address_contains_words(ctx, value):
    addresses = [p.address for p in _senders(ctx)]
    found = value.find(addresses)
    if found:
        return yes("sender address %s contains %s" % (", ".join(addresses), ", ".join(found)), "words")
    return no("sender address %s contains none of %s" % (", ".join(addresses), value), "words")


def c_from_address_matches_patterns(ctx, value):
    return _patterns(value, [p.address for p in _senders(ctx)], "sender address")


def _patterns(value, texts, what):
    found = value.find(texts)
    shown = ", ".join("'%s'" % t for t in _as_list(texts)) if len(repr(texts)) < 200 else "(%d characters)" % len(
        "".join(str(t) for t in _as_list(texts)))
    if found:
        return yes("%s %s matches %s" % (what, shown, ", ".join("'%s'" % p for p in found)), "patterns")
    if value.refused:
        return unknown("%s cannot be evaluated: %s" % (what, value.unresolved()), "patterns")
    return no("%s %s matches none of %s" % (what, shown, value), "patterns")


def c_sender_domain_is(ctx, value):
    for party in _senders(ctx):
        hit = value.match(party.domain)
        if hit:
            return yes("sender domain %s is %s or a subdomain of it" % (party.domain, hit))
    return no("sender domain %s is not %s nor a subdomain of them" % (_senders(ctx)[0].domain, value))


def c_sender_ip_ranges(ctx, value):
    if ctx.msg.sender_ip is None:
        return unknown("the message has no sender_ip (the IP address of the last hop before Exchange Online)")
    hit = value.find(ctx.msg.sender_ip)
    if hit:
        return yes("sender IP %s is in %s" % (ctx.msg.sender_ip, hit[0]))
    return no("sender IP %s is in none of %s" % (ctx.msg.sender_ip, ", ".join(t for t, _i in value.items)))


def _attribute_words(party, value, who, patterns):
    """Any ``Attribute:values`` entry whose attribute of ``party`` contains a word (matches a pattern)."""
    unknowns = []
    for attr, values in value.items:
        known, current = party.attribute(attr)
        if not known:
            unknowns.append(attr)
            continue
        found = values.find(current)
        if found:
            verb = "matches" if patterns else "contains"
            hits = ", ".join("'%s'" % f for f in found)
            return yes("%s's %s '%s' %s %s" % (who, attr, _shown(current), verb, hits),
                       "patterns" if patterns else "words")
        if patterns and values.refused:
            return unknown("%s's %s: %s" % (who, attr, values.unresolved()), "patterns")
    if unknowns:
        return unknown("%s %s's %s %s not known (not in the directory record; give %s_attributes)"
                       % (who, party.address, ", ".join(unknowns), "is" if len(unknowns) == 1 else "are",
                          "sender" if who == "sender" else "recipient"))
    shown = "; ".join("%s '%s'" % (a, _shown(party.attribute(a)[1])) for a, _v in value.items)
    return no("%s's %s %s none of the values" % (who, shown, "matches" if patterns else "contains"),
              "patterns" if patterns else "words")


def _shown(value):
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def c_sender_ad_attribute_contains_words(ctx, value):
    return _any([_attribute_words(p, value, "sender", False) for p in _senders(ctx)])


def c_sender_ad_attribute_matches_patterns(ctx, value):
    return _any([_attribute_words(p, value, "sender", True) for p in _senders(ctx)])


def _manager_of(ctx, person, other):
    """Verdict: is ``other`` the manager of ``person`` (``person``'s Manager attribute names ``other``)?"""
    known, manager = person.attribute("Manager")
    if not known:
        return unknown("the Manager of %s is not known (not in the directory record; give the Manager attribute)"
                       % person.address)
    if not manager:
        return no("%s has no manager" % person.address)
    if ctx.directory.identities(manager) & other.keys():
        return yes("%s is the manager of %s" % (other.address, person.address))
    return no("the manager of %s is %s, not %s" % (person.address, _shown(manager), other.address))


def c_sender_management_relationship(ctx, value):
    if value == "Manager":  # the sender is the manager of a recipient
        return _manager_of(ctx, ctx.recipient, ctx.sender)
    return _manager_of(ctx, ctx.sender, ctx.recipient)  # DirectReport: a recipient is the manager of the sender


def c_manager_for_evaluated_user(ctx, value):
    person = ctx.recipient if value.get("evaluated_user") == "Recipient" else ctx.sender
    known, manager = person.attribute("Manager")
    if not known:
        return unknown("the Manager of %s is not known (not in the directory record; give the Manager attribute)"
                       % person.address)
    wanted = set()
    for address in value.get("addresses") or []:
        wanted |= ctx.directory.identities(address)
    listed = ", ".join(value.get("addresses") or [])
    if manager and ctx.directory.identities(manager) & wanted:
        return yes("the manager of %s (%s) is one of %s" % (person.address, _shown(manager), listed))
    return no("the manager of %s (%s) is none of %s" % (person.address, _shown(manager) or "none", listed))


def c_ad_attribute_comparison(ctx, value):
    attr = _ATTRIBUTES.get(str(value.get("attribute")).lower(), value.get("attribute"))
    operator = value.get("operator") or "Equal"
    known_s, sender = ctx.sender.attribute(attr)
    known_r, recipient = ctx.recipient.attribute(attr)
    if not (known_s and known_r):
        who = ctx.sender.address if not known_s else ctx.recipient.address
        return unknown("the %s of %s is not known (give it in the message's attributes)" % (attr, who))
    equal = _shown(sender).strip().lower() == _shown(recipient).strip().lower()
    matched = equal if operator == "Equal" else not equal
    verdict = yes if matched else no
    relation = "equals" if equal else "differs from"
    shown = (attr, _shown(sender), relation, _shown(recipient), operator)
    return verdict("sender's %s '%s' %s recipient's '%s' (%s)" % shown, "ad_comparison")


def c_sent_to(ctx, value):
    return _addresses_in(ctx, value, [_recipient_address(ctx, ctx.recipient)], "recipient")


def c_sent_to_scope(ctx, value):
    inside = ctx.recipient.in_organization()
    if value == "InOrganization":
        verdict = yes if inside else no
        return verdict("recipient %s is %sinside the organization" % (ctx.recipient.address, "" if inside else "not "),
                       "sent_to_scope")
    verdict = no if inside else yes
    return verdict("recipient %s is %s the organization" % (ctx.recipient.address, "inside" if inside else "outside"),
                   "sent_to_scope")


def c_sent_to_member_of(ctx, value):
    return _members(ctx, ctx.recipient, value, "recipient")


def c_recipient_address_contains_words(ctx, value):
    address = _recipient_address(ctx, ctx.recipient)
    found = value.find(address)
    if found:
        return yes("recipient address %s contains %s" % (address, ", ".join(found)), "words")
    return no("recipient address %s contains none of %s" % (address, value), "words")


def c_recipient_address_matches_patterns(ctx, value):
    return _patterns(value, [_recipient_address(ctx, ctx.recipient)], "recipient address")


def c_recipient_domain_is(ctx, value):
    domain = ctx.recipient.domain
    hit = value.match(domain)
    if hit:
        return yes("recipient domain %s is %s or a subdomain of it" % (domain, hit))
    return no("recipient domain %s is not %s nor a subdomain of them" % (domain, value))


def c_recipient_ad_attribute_contains_words(ctx, value):
    return _attribute_words(ctx.recipient, value, "recipient", False)


def c_recipient_ad_attribute_matches_patterns(ctx, value):
    return _attribute_words(ctx.recipient, value, "recipient", True)


def _header_parties(ctx, which):
    return {"to": ctx.to, "cc": ctx.cc, "to_cc": ctx.to + ctx.cc}[which]


def _any_of_header(which, label):
    def evaluate(ctx, value):
        # The reference: only the recipient's primary address matches, not a proxy address: compared as written.
        return _addresses_in(ctx, value, [p.address for p in _header_parties(ctx, which)], "%s address" % label)
    return evaluate


def _any_of_header_member_of(which, label):
    def evaluate(ctx, value):
        parties = _header_parties(ctx, which)
        if not parties:
            return no("the %s field is empty" % label)
        return _any([_members(ctx, p, value, "%s recipient" % label) for p in parties])
    return evaluate


def c_any_of_recipient_address_contains_words(ctx, value):
    addresses = [p.address for p in ctx.recipients]
    found = value.find(addresses)
    if found:
        return yes("a recipient address (%s) contains %s" % (", ".join(addresses), ", ".join(found)), "words")
    return no("no recipient address (%s) contains %s" % (", ".join(addresses), value), "words")


def c_any_of_recipient_address_matches_patterns(ctx, value):
    return _patterns(value, [p.address for p in ctx.recipients], "recipient addresses")


def c_between_member_of(ctx, value):
    first = _members(ctx, ctx.sender, value.get("first") or [], "sender")
    if not first.result:
        return first
    second = _members(ctx, ctx.recipient, value.get("second") or [], "recipient")
    if not second.result:
        return second
    return yes("%s; %s" % (first.detail, second.detail), "between_member_of")


def _text_words(get, what):
    def evaluate(ctx, value):
        text = get(ctx)
        found = value.find(text)
        if found:
            return yes("%s contains %s" % (what, ", ".join("'%s'" % f for f in found)), "words")
        return no("%s contains none of %s" % (what, value), "words")
    return evaluate


def _text_patterns(get, what):
    def evaluate(ctx, value):
        return _patterns(value, get(ctx), what)
    return evaluate


def _subject(ctx):
    return ctx.state.subject


def _subject_or_body(ctx):
    return [ctx.state.subject, ctx.state.body]


def c_header_contains(ctx, value):
    name = value.get("header")
    present = ctx.state.headers.get(name)
    if not present:
        return no("the message has no %s header" % name)
    found = value["words"].find(present)
    if found:
        return yes("header %s contains %s" % (name, ", ".join("'%s'" % f for f in found)), "words")
    return no("header %s '%s' contains none of %s" % (name, _shown(present), value["words"]), "words")


def c_header_matches_patterns(ctx, value):
    name = value.get("header")
    present = ctx.state.headers.get(name)
    if not present:
        return no("the message has no %s header" % name)
    return _patterns(value["patterns"], present, "header %s" % name)


def c_content_character_set_contains_words(ctx, value):
    if ctx.msg.character_sets is None:
        return unknown("the message does not say its character sets (give character_sets)")
    found = value.find(ctx.msg.character_sets)
    if found:
        return yes("character set %s is one of %s" % (", ".join(ctx.msg.character_sets), ", ".join(found)))
    return no("character sets %s are none of %s" % (", ".join(ctx.msg.character_sets) or "(none)", value))


def _scanned(ctx):
    """(attachments whose text is given, names of supported attachments without text)."""
    known = [a for a in ctx.msg.attachments if not a.unsupported and a.content is not None]
    missing = [a.name for a in ctx.msg.attachments if not a.unsupported and a.content is None]
    return known, missing


def c_attachment_contains_words(ctx, value):
    known, missing = _scanned(ctx)
    for attachment in known:
        found = value.find(attachment.content)
        if found:
            return yes("attachment %s contains %s" % (attachment.name, ", ".join("'%s'" % f for f in found)), "words")
    if missing:
        return unknown("the content of attachment %s is not given (attachments[].content); the simulator cannot "
                       "read it" % ", ".join(missing))
    return no("no attachment contains %s" % value if ctx.msg.attachments else "the message has no attachment")


def c_attachment_matches_patterns(ctx, value):
    known, missing = _scanned(ctx)
    for attachment in known:
        found = value.find(attachment.content.encode("utf-8")[:ATTACHMENT_SCAN_BYTES].decode("utf-8", "ignore"))
        if found:
            return yes("attachment %s matches %s" % (attachment.name, ", ".join("'%s'" % f for f in found)),
                       "patterns")
    if value.refused:
        return unknown("attachment patterns cannot be evaluated: %s" % value.unresolved(), "patterns")
    if missing:
        return unknown("the content of attachment %s is not given (attachments[].content); the simulator cannot "
                       "read it" % ", ".join(missing))
    return no("no attachment matches %s" % value if ctx.msg.attachments else "the message has no attachment")


def c_attachment_extension_matches_words(ctx, value):
    extensions = [a.extension for a in ctx.msg.attachments if a.extension]
    wanted = dict((w.lstrip(".").lower(), w) for w, _r in value.items)
    hit = [e for e in extensions if e in wanted]
    if hit:
        return yes("attachment extension %s is one of %s" % (hit[0], value))
    return no("attachment extensions %s are none of %s" % (", ".join(extensions) or "(none)", value))


def c_attachment_name_matches_patterns(ctx, value):
    if not ctx.msg.attachments:
        return no("the message has no attachment")
    return _patterns(value, [a.name for a in ctx.msg.attachments], "attachment name")


def c_attachment_property_contains_words(ctx, value):
    missing = []
    for attachment in ctx.msg.attachments:
        if attachment.properties is None:
            missing.append(attachment.name)
            continue
        props = dict((k.lower(), v) for k, v in attachment.properties.items())
        for prop, words in value.items:
            found = words.find(props.get(prop.lower()))
            if found:
                return yes("attachment %s property %s contains %s" % (attachment.name, prop, ", ".join(found)),
                           "words")
    if missing:
        return unknown("the document properties of attachment %s are not given (attachments[].properties)"
                       % ", ".join(missing))
    return no("no attachment has the properties" if ctx.msg.attachments else "the message has no attachment")


def c_attachment_size_over(ctx, value):
    big = [a for a in ctx.msg.attachments if a.size >= value]
    if big:
        shown = (big[0].name, n.size_display(big[0].size), n.size_display(value))
        return yes("attachment %s (%s) is at least %s" % shown, "size_boundary")
    return no("no attachment is %s or more" % n.size_display(value), "size_boundary")


def _attachment_flag(flag, what):
    def evaluate(ctx, value):
        if not value:
            return yes("not set (false)")
        hit = [a.name for a in ctx.msg.attachments if getattr(a, flag)]
        if hit:
            return yes("attachment %s %s" % (hit[0], what))
        return no("no attachment %s" % what if ctx.msg.attachments else "the message has no attachment")
    return evaluate


def c_message_size_over(ctx, value):
    size = ctx.msg.size
    notes = ("size_boundary",)
    if size is None:
        size = ctx.msg.estimated_size()
        notes = ("size_boundary", "size_estimated")
    if size >= value:
        return yes("message size %s is at least %s" % (n.size_display(size), n.size_display(value)), *notes)
    return no("message size %s is below %s" % (n.size_display(size), n.size_display(value)), *notes)


def c_message_type_matches(ctx, value):
    kind = ctx.msg.message_type
    if kind == value:
        return yes("the message is of type %s" % value)
    return no("the message is %s, not %s" % ("of type %s" % kind if kind else "an ordinary message", value))


def c_with_importance(ctx, value):
    importance = ctx.msg.importance
    if importance == value:
        return yes("importance is %s" % value)
    return no("importance is %s, not %s" % (importance, value))


def c_scl_over(ctx, value):
    scl = ctx.state.scl
    if scl is None:
        return unknown("the message's spam confidence level is not known (give scl)")
    if scl >= value:
        return yes("SCL %d is %d or higher" % (scl, value))
    return no("SCL %d is below %d" % (scl, value))


def c_has_classification(ctx, value):
    wanted = ctx.directory.identities(value) | set([str(value).lower()])
    hit = [c for c in ctx.state.classifications if c.lower() in wanted]
    if hit:
        return yes("the message has the classification %s" % hit[0])
    return no("the message does not have the classification %s" % value)


def c_has_no_classification(ctx, value):
    if not value:
        return yes("not set (false)")
    if ctx.state.classifications:
        return no("the message has the classification %s" % ", ".join(ctx.state.classifications))
    return yes("the message has no classification")


# option -> (scope, evaluator, what the simulator does: the docs' table)
SEMANTICS = {
    "from": ("message", c_from, "the sender's primary address (header From, envelope or both by "
                                "sender_address_location) is one of the recipients given"),
    "from_scope": ("message", c_from_scope, "in_organization: sender in the directory or an authoritative/internal "
                                            "relay accepted domain AND an authenticated connection (outbound mail, or "
                                            "inbound over an OnPremises connector); not_in_organization: the sender's "
                                            "domain is not such an accepted domain"),
    "from_member_of": ("message", c_from_member_of, "the sender is a member of one of the groups (MemberOf given)"),
    "from_address_contains_words": ("message", c_from_address_contains_words, "a word occurs in the sender's address"),
    "from_address_matches_patterns": ("message", c_from_address_matches_patterns,
                                      "a pattern matches the sender's address"),
    "sender_domain_is": ("message", c_sender_domain_is, "the sender's domain is one of the domains or a subdomain"),
    "sender_ip_ranges": ("message", c_sender_ip_ranges, "sender_ip is in one of the ranges"),
    "sender_ad_attribute_contains_words": ("message", c_sender_ad_attribute_contains_words,
                                           "the sender's attribute contains one of the words"),
    "sender_ad_attribute_matches_patterns": ("message", c_sender_ad_attribute_matches_patterns,
                                             "the sender's attribute matches one of the patterns"),
    "sender_management_relationship": ("recipient", c_sender_management_relationship,
                                       "manager: the recipient's Manager is the sender; direct_report: the sender's "
                                       "Manager is the recipient"),
    "manager_for_evaluated_user": ("recipient", c_manager_for_evaluated_user,
                                   "the Manager of the sender (or recipient) is one of the addresses"),
    "ad_attribute_comparison": ("recipient", c_ad_attribute_comparison,
                                "the attribute of the sender equals (not_equal: differs from) the recipient's"),
    "sent_to": ("recipient", c_sent_to, "the recipient's address (primary when recipient_address_type is resolved) is "
                                        "one of the recipients given"),
    "sent_to_scope": ("recipient", c_sent_to_scope, "in_organization: recipient in the directory or an "
                                                    "authoritative/internal relay accepted domain; not_in_organization: "
                                                    "the opposite"),
    "sent_to_member_of": ("recipient", c_sent_to_member_of, "the recipient is a member of one of the groups"),
    "recipient_address_contains_words": ("recipient", c_recipient_address_contains_words,
                                         "a word occurs in the recipient's address"),
    "recipient_address_matches_patterns": ("recipient", c_recipient_address_matches_patterns,
                                           "a pattern matches the recipient's address"),
    "recipient_domain_is": ("recipient", c_recipient_domain_is,
                            "the recipient's domain is one of the domains or a subdomain"),
    "recipient_ad_attribute_contains_words": ("recipient", c_recipient_ad_attribute_contains_words,
                                              "the recipient's attribute contains one of the words"),
    "recipient_ad_attribute_matches_patterns": ("recipient", c_recipient_ad_attribute_matches_patterns,
                                                "the recipient's attribute matches one of the patterns"),
    "any_of_to_header": ("message", _any_of_header("to", "To"), "an address of the To field is one of them"),
    "any_of_to_header_member_of": ("message", _any_of_header_member_of("to", "To"),
                                   "a To recipient is a member of one of the groups"),
    "any_of_cc_header": ("message", _any_of_header("cc", "Cc"), "an address of the Cc field is one of them"),
    "any_of_cc_header_member_of": ("message", _any_of_header_member_of("cc", "Cc"),
                                   "a Cc recipient is a member of one of the groups"),
    "any_of_to_cc_header": ("message", _any_of_header("to_cc", "To/Cc"),
                            "an address of the To or Cc field is one of them"),
    "any_of_to_cc_header_member_of": ("message", _any_of_header_member_of("to_cc", "To/Cc"),
                                      "a To or Cc recipient is a member of one of the groups"),
    "any_of_recipient_address_contains_words": ("message", c_any_of_recipient_address_contains_words,
                                                "a word occurs in any recipient's address"),
    "any_of_recipient_address_matches_patterns": ("message", c_any_of_recipient_address_matches_patterns,
                                                  "a pattern matches any recipient's address"),
    "between_member_of": ("recipient", c_between_member_of,
                          "the sender is a member of a first group and the recipient of a second group"),
    "subject_contains_words": ("message", _text_words(_subject, "subject"), "a word occurs in the subject"),
    "subject_matches_patterns": ("message", _text_patterns(_subject, "subject"), "a pattern matches the subject"),
    "subject_or_body_contains_words": ("message", _text_words(_subject_or_body, "subject or body"),
                                       "a word occurs in the subject or the body"),
    "subject_or_body_matches_patterns": ("message", _text_patterns(_subject_or_body, "subject or body"),
                                         "a pattern matches the subject or the body"),
    "header_contains": ("message", c_header_contains, "a word occurs in a value of the header"),
    "header_matches_patterns": ("message", c_header_matches_patterns, "a pattern matches a value of the header"),
    "content_character_set_contains_words": ("message", c_content_character_set_contains_words,
                                             "a character set of the message is one of the names"),
    "attachment_contains_words": ("message", c_attachment_contains_words,
                                  "a word occurs in an attachment's content (content given)"),
    "attachment_matches_patterns": ("message", c_attachment_matches_patterns,
                                    "a pattern matches the first 150 KB of an attachment's content"),
    "attachment_extension_matches_words": ("message", c_attachment_extension_matches_words,
                                           "an attachment's extension is one of the words"),
    "attachment_name_matches_patterns": ("message", c_attachment_name_matches_patterns,
                                         "a pattern matches an attachment's file name"),
    "attachment_property_contains_words": ("message", c_attachment_property_contains_words,
                                           "a document property of an attachment contains one of the words"),
    "attachment_size_over": ("message", c_attachment_size_over, "an attachment is at least the size"),
    "attachment_has_executable_content": ("message", _attachment_flag("executable", "is executable"),
                                          "an attachment has executable: true"),
    "attachment_is_password_protected": ("message", _attachment_flag("password_protected", "is password protected"),
                                         "an attachment has password_protected: true"),
    "attachment_is_unsupported": ("message", _attachment_flag("unsupported", "is of an unsupported type"),
                                  "an attachment has unsupported: true"),
    "attachment_processing_limit_exceeded": ("message", _attachment_flag("processing_limit_exceeded",
                                                                         "could not be scanned completely"),
                                             "an attachment has processing_limit_exceeded: true"),
    "message_size_over": ("message", c_message_size_over, "the message is at least the size"),
    "message_type_matches": ("message", c_message_type_matches, "message_type is the type"),
    "with_importance": ("message", c_with_importance, "importance is the level"),
    "scl_over": ("message", c_scl_over, "the SCL (scl given, or set by an earlier rule) is at least the value"),
    "has_classification": ("message", c_has_classification, "the message carries the classification"),
    "has_no_classification": ("message", c_has_no_classification, "the message carries no classification"),
}

# Condition and exception parameters that are not options of the vocabulary (rule_parameters.NOT_OPTIONS): the
# simulator cannot evaluate them (sensitive information types need the content; the others are reserved for
# Microsoft's internal use or apply on-premises only). A rule using one follows unknown_conditions.
OPAQUE = dict((p.lower(), why) for p, (category, why, _use) in table.NOT_OPTIONS.items()
              if category in ("dlp", "internal") and p != "NotifySender")
