# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's partner mail flow as a Mermaid flowchart, from one ``mail_flow_info`` result.

    text = mermaid(info, title="contoso", max_partners=15, max_listed=60, max_unmanaged=20)

``info`` is the result of ``m365.mailflow.mail_flow_info`` (``inbound_connectors``, ``outbound_connectors``,
``mail_flow_rules`` as ``{options, facts}`` entries, ``partners``, ``unmanaged``; with ``drift`` when it was read
with ``compare_with``, as the drift report reads it). The result is the text of a Mermaid ``flowchart LR``, without
a Markdown fence, ending with a newline. Pure standard library, no import from the rest of the collection: modules,
action and filter plugins (``m365.mailflow.mail_flow_diagram``) and scripts all use it.

What is drawn (docs/export-and-drift.md, "Mail flow diagram"):

* a node for the tenant (``title``), with the number of partners and unmanaged objects;
* one subgraph per partner: its inbound connector (how the partner is recognised: sender domains, sender IP
  addresses, certificate name; what it requires: TLS, the certificate, the sender IP addresses), with an edge to the
  tenant; the mail flow rules that route to its outbound connector (conditions and exceptions in a few words, and
  priority), with edges tenant -> rule -> connector; the outbound connector (scope: recipient domains, with an edge
  from the tenant, or rules only; TLS mode and TLS domain) and its delivery: one node per smart host, or the MX of the
  recipient's domain;
* one subgraph for the unmanaged objects (``unmanaged``: no marker, or not named as onboarding names them), drawn the
  same way (a rule routing to a partner's connector gets its edge); rules that route nowhere are only counted;
* marks: a last line in capitals (DISABLED, TEST MODE, UNMANAGED; with drift data DRIFTED and the properties,
  MISSING for objects of the partner files that the tenant lacks, and a partner in the tenant but not in the
  files), a class per mark (``classDef``) and dotted edges to and from disabled, test-mode and missing objects.

Size (the limits are the keyword arguments and the constants below): up to ``max_partners`` partners every partner
is drawn in detail (at most ``MAX_RULES`` rules per partner, ``MAX_HOSTS`` smart hosts per connector,
``MAX_VALUES`` values per list, ``MAX_LINE`` characters per line; the rest as "and N more"). With more partners each
partner collapses into one node with counts (up to ``max_listed`` partners); beyond that all partners collapse into
one node of totals. Unmanaged objects beyond ``max_unmanaged`` collapse into counts. Whatever the input, the text
stays within ``MAX_TEXT`` characters and ``MAX_EDGES`` edges (Mermaid refuses more than 50,000 characters and 500
edges by default: ``maxTextSize``, ``maxEdges``): a level of detail that would exceed them is replaced by the next
one. When details are collapsed, a note node says so and why.

Escaping (the Mermaid flowchart syntax, mermaid-js/mermaid ``docs/syntax/flowchart.md``: "Special characters that
break syntax" and "Entity codes to escape characters"; and ``encodeEntities``/``decodeEntities`` in its
``mermaidAPI``, which every renderer runs over the whole text before parsing):

* every label is a double-quoted string (``id["..."]``, ``subgraph id ["..."]``; edges have no label); inside it only
  ASCII letters, digits, space and ``. , - _ / @ ( ) ' + * = ? !`` are written as they are;
* every other character is written as a decimal entity code ``#NNN;`` (Mermaid turns ``#NNN;`` into the HTML
  character reference ``&#NNN;``): ``"`` is ``#34;``, ``#`` ``#35;``, ``;`` ``#59;``, ``:`` ``#58;``, ``|``
  ``#124;``, ``[`` ``]`` ``#91;`` ``#93;``, ``<`` ``>`` ``#60;`` ``#62;``, ``&`` ``#38;``, a backtick ``#96;`` (a
  label starting with one would be a Markdown string), ``%`` ``#37;`` and ``{`` ``}`` (``%%{...}%%`` is a
  directive anywhere in the text), and every non-ASCII character (``ü`` is ``#252;``): so no name can end a string,
  a label or a statement, inject HTML, a directive or an entity, and the text is pure ASCII;
* ``:`` is escaped because ``encodeEntities`` drops the last ``;`` of any line matching ``style.*:\\S*#.*;`` or
  ``classDef.*:\\S*#.*;`` (a name containing "style" followed by a colon would otherwise lose the ``;`` of its last
  entity code);
* the placeholders ``encodeEntities`` uses (``ﬂ°`` and ``¶ß``) are non-ASCII, so never written raw; but Mermaid
  (11.x, seen with the Mermaid CLI) also runs ``decodeEntities`` over the decoded label, so a name with the characters
  ``ﬂ°`` or ``¶ß`` side by side would show ``&`` or ``;``: an invisible word joiner (U+2060, ``#8288;``) is written
  between the two;
* line breaks and other control characters in names become a space (a line of a label is one line of text); the
  labels' own line breaks are ``<br>``, the only markup written;
* node and subgraph ids are generated (``tenant``, ``p1``, ``p1_in``, ``p1_r2``, ``um_out3``, ``limits``...), never
  taken from names; none is a Mermaid keyword or starts with ``o`` or ``x`` (``A---oB`` is a circle edge).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import unicodedata

INBOUND, OUTBOUND, RULES = "inbound_connectors", "outbound_connectors", "mail_flow_rules"
KINDS = (INBOUND, OUTBOUND, RULES)
ROUTE = "route_message_outbound_connector"

MAX_PARTNERS = 15     # partners drawn in detail (one subgraph each)
MAX_LISTED = 60       # partners drawn as one node with counts each; beyond, one node of totals
MAX_UNMANAGED = 20    # unmanaged connectors and routing rules drawn; beyond, counts
MAX_RULES = 8         # rules drawn per partner (the others: "and N more rules")
MAX_HOSTS = 4         # smart hosts drawn per connector
MAX_VALUES = 3        # values shown of a list in a label line
MAX_LINE = 72         # characters of a label line (before escaping)
MAX_TEXT = 40000      # characters of the whole text (Mermaid's default maxTextSize is 50,000)
MAX_EDGES = 400       # edges (Mermaid's default maxEdges is 500)

# Characters written as they are inside a quoted label; everything else is an entity code.
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,-_/@()'+*=?!")
# Mermaid's own placeholders of entity codes (decodeEntities: "\ufb02\u00b0" -> "&", "\u00b6\u00df" -> ";"), which it
# also applies to the decoded text: written with an invisible word joiner between the two characters.
_PLACEHOLDERS = (u"\ufb02\u00b0", u"\u00b6\u00df")
_JOINER = u"\u2060"

# How a rule condition reads in a few words (the others: the option's words, "sender_domain_is" -> "sender domain is").
_CONDITION_WORDS = {
    "recipient_domain_is": "to domain",
    "sender_domain_is": "from domain",
    "from": "from",
    "sent_to": "to",
    "from_member_of": "from member of",
    "sent_to_member_of": "to member of",
    "from_scope": "from",
    "sent_to_scope": "to",
    "sender_ad_attribute_contains_words": "sender attribute",
    "recipient_ad_attribute_contains_words": "recipient attribute",
    "from_address_contains_words": "sender contains",
    "from_address_matches_patterns": "sender matches",
    "recipient_address_contains_words": "recipient contains",
    "recipient_address_matches_patterns": "recipient matches",
    "subject_contains_words": "subject contains",
    "subject_matches_patterns": "subject matches",
    "subject_or_body_contains_words": "subject or body contains",
    "header_contains": "header",
    "header_matches_patterns": "header",
    "sender_ip_ranges": "from IPs",
}

_CLASSES = (
    ("disabled", "stroke-dasharray:4 4,stroke:#888,color:#666"),
    ("testmode", "stroke-dasharray:2 2,stroke:#b07d00,stroke-width:2px"),
    ("unmanaged", "fill:#f2f2f2,stroke:#999"),
    ("drifted", "stroke:#c0392b,stroke-width:3px"),
    ("missing", "stroke-dasharray:6 3,stroke:#c0392b,fill:#fff5f5,color:#8a1f11"),
)


# --------------------------------------------------------------------------------------------------- text

def clip(text, limit=MAX_LINE):
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + u"\u2026"


def escape(text):
    """``text`` as it may stand inside a double-quoted Mermaid label (the rules in this module's docstring)."""
    out = []
    for pair in _PLACEHOLDERS:
        text = str(text).replace(pair, pair[0] + _JOINER + pair[1])
    for char in str(text):
        if char in _PLAIN:
            out.append(char)
        elif char.isspace() or unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            out.append(" ")
        else:
            out.append("#%d;" % ord(char))
    return "".join(out)


def label(lines):
    """The quoted label of ``lines`` (each clipped and escaped, joined with ``<br>``)."""
    return '"%s"' % "<br>".join(escape(clip(line)) for line in lines if line is not None and line != "")


def values(items, limit=MAX_VALUES):
    """``a, b, c and 2 more``."""
    items = [str(i) for i in items or []]
    if len(items) <= limit:
        return ", ".join(items)
    return "%s and %d more" % (", ".join(items[:limit]), len(items) - limit)


def plural(count, word, words=None):
    return "%d %s" % (count, word if count == 1 else (words or word + "s"))


def _value_words(value):
    if isinstance(value, dict):
        if value.get("header") and (value.get("words") or value.get("patterns")):  # header_contains / _matches_patterns
            return "%s %s %s" % (value["header"], "contains" if value.get("words") else "matches",
                                 values(value.get("words") or value.get("patterns")))
        return " ".join("%s %s" % (k, _value_words(v)) for k, v in sorted(value.items()) if v not in (None, [], ""))
    if isinstance(value, (list, tuple)):
        return values(value)
    if value is True:
        return ""
    return str(value).replace("_", " ") if isinstance(value, str) and value.islower() and " " not in value else \
        str(value)


def predicates(section, joiner=" and "):
    """Conditions (or exceptions) in a few words: ``to domain adatum.example and sender attribute Department:Accounting``
    (a rule's conditions must all match: ``and``; any one of its exceptions is enough: ``or``)."""
    parts = []
    for key in sorted(section or {}):
        value = section[key]
        if value in (None, [], "", {}):
            continue
        words = _CONDITION_WORDS.get(key, key.replace("_", " "))
        shown = _value_words(value)
        parts.append(("%s %s" % (words, shown)).strip())
    return joiner.join(parts)


# --------------------------------------------------------------------------------------------------- reading info

def _key(name):
    return str(name or "").lower()


def _entries(info, kind):
    return [e for e in info.get(kind) or [] if isinstance(e, dict) and isinstance(e.get("options"), dict)]


def _enabled(entry):
    return entry["options"].get("enabled") is not False


class _Drift(object):
    """What ``info['drift']`` says: status and drifted properties by (kind, name), missing objects by partner."""

    def __init__(self, drift):
        self.present = isinstance(drift, dict)
        self.status, self.missing, self.partners = {}, {}, set()
        for partner in (drift.get("partners") or []) if self.present else []:
            self.partners.add(_key(partner.get("name")))
            for obj in partner.get("objects") or []:
                where = (obj.get("kind"), _key(obj.get("name")))
                self.status[where] = (obj.get("status"), [p.get("property") for p in obj.get("properties") or []])
                if obj.get("status") == "missing":
                    self.missing.setdefault(_key(partner.get("name")), (partner.get("name"), []))[1].append(obj)

    def marks(self, kind, name):
        status, props = self.status.get((kind, _key(name)), (None, []))
        if status == "drifted":
            return ["DRIFTED %s" % values(props, 4)] if props else ["DRIFTED"], ["drifted"]
        return [], []


class _Partner(object):
    def __init__(self, name):
        self.name = name
        self.inbound, self.outbound, self.rules, self.missing = [], [], [], []
        self.in_files = True


def _group(info, drift):
    """(partners sorted by name, unmanaged entries by kind): the objects of each partner as mail_flow_info groups
    them (``unmanaged`` lists what belongs to no partner; the rest belongs to the partner of its marker)."""
    listed = info.get("unmanaged")
    unmanaged_keys = None
    if isinstance(listed, list):
        unmanaged_keys = set((u.get("kind"), _key((u.get("options") or {}).get("name"))) for u in listed
                             if isinstance(u, dict))
    names = {}
    for item in info.get("partners") or []:
        name = ((item or {}).get("partner") or {}).get("name")
        if name:
            names[_key(name)] = name
    partners, unmanaged = {}, dict((kind, []) for kind in KINDS)
    for kind in KINDS:
        for entry in _entries(info, kind):
            owner = (entry.get("facts") or {}).get("managed_by")
            key = (kind, _key(entry["options"].get("name")))
            if not owner or (unmanaged_keys is not None and key in unmanaged_keys):
                unmanaged[kind].append(entry)
                continue
            partner = partners.setdefault(_key(owner), _Partner(names.get(_key(owner), owner)))
            {INBOUND: partner.inbound, OUTBOUND: partner.outbound, RULES: partner.rules}[kind].append(entry)
    for key, (name, objects) in sorted(drift.missing.items()):
        partners.setdefault(key, _Partner(name)).missing.extend(objects)
    for key, partner in partners.items():
        partner.in_files = key in drift.partners if drift.present else True
        partner.inbound.sort(key=_by_name)
        partner.outbound.sort(key=_by_name)
        partner.rules.sort(key=_priority)
    for kind in (INBOUND, OUTBOUND):
        unmanaged[kind].sort(key=_by_name)
    unmanaged[RULES].sort(key=_priority)
    return [partners[k] for k in sorted(partners)], unmanaged


def _by_name(entry):
    return (_key(entry["options"].get("name")), str(entry["options"].get("name")))


def _priority(entry):
    priority = (entry.get("facts") or {}).get("priority")
    return (priority is None, priority if isinstance(priority, int) else 0, _key(entry["options"].get("name")))


# --------------------------------------------------------------------------------------------------- labels

def _object_marks(kind, entry, drift, unmanaged=False):
    """(lines, classes) marking an object: disabled, test mode, unmanaged, drifted."""
    options = entry["options"]
    lines, classes = [], []
    if not _enabled(entry):
        lines.append("DISABLED")
        classes.append("disabled")
    if kind == OUTBOUND and options.get("test_mode"):
        lines.append("TEST MODE")
        classes.append("testmode")
    if kind == RULES and options.get("mode") not in (None, "enforce"):
        lines.append("TEST MODE (%s)" % str(options["mode"]).replace("_", " "))
        classes.append("testmode")
    if unmanaged:
        lines.append("UNMANAGED")
        classes.append("unmanaged")
    more, more_classes = drift.marks(kind, options.get("name"))
    return lines + more, classes + more_classes


def inbound_lines(entry):
    """How the partner is recognised and what the connector requires."""
    options, facts = entry["options"], entry.get("facts") or {}
    lines = [options.get("name"), "inbound connector"]
    if facts.get("connector_type") not in (None, "Partner"):
        lines[1] = "inbound connector, type %s" % facts["connector_type"]
    if options.get("sender_domains"):
        lines.append("from %s" % values(options["sender_domains"]))
    if options.get("sender_ip_addresses"):
        lines.append("IPs %s" % values(options["sender_ip_addresses"]))
    if options.get("tls_sender_certificate_name"):
        lines.append("certificate %s" % options["tls_sender_certificate_name"])
    needs = []
    if options.get("require_tls"):
        needs.append("TLS")
    if options.get("restrict_domains_to_certificate"):
        needs.append("the certificate")
    if options.get("restrict_domains_to_ip_addresses"):
        needs.append("the IPs")
    lines.append("requires %s" % " and ".join(needs) if needs else "requires no TLS")
    return lines


def outbound_lines(entry, routed):
    """Scope, TLS mode and domain of an outbound connector (its delivery is drawn as nodes)."""
    options, facts = entry["options"], entry.get("facts") or {}
    lines = [options.get("name"), "outbound connector"]
    if facts.get("connector_type") not in (None, "Partner"):
        lines[1] = "outbound connector, type %s" % facts["connector_type"]
    if options.get("transport_rule_scoped"):
        lines.append("only for mail routed by rules" if routed else "only for mail routed by rules (none routes here)")
    if options.get("recipient_domains"):
        lines.append("to %s" % values(options["recipient_domains"]))
    tls = str(options.get("tls_settings") or "opportunistic").replace("_", " ")
    if options.get("tls_domain"):
        tls += " of %s" % options["tls_domain"]
    lines.append("TLS %s" % tls)
    return lines


def rule_lines(entry):
    """Name, priority, conditions and exceptions in a few words."""
    options, facts = entry["options"], entry.get("facts") or {}
    lines = [options.get("name")]
    lines.append("rule, priority %s" % facts["priority"] if facts.get("priority") is not None else "rule")
    when = predicates(options.get("conditions"))
    if options.get("apply_to_all_messages") and not when:
        when = "all messages"
    if when:
        lines.append("if %s" % when)
    unless = predicates(options.get("exceptions"), " or ")
    if unless:
        lines.append("except %s" % unless)
    return lines


# --------------------------------------------------------------------------------------------------- drawing

class _Chart(object):
    """The statements of a flowchart, in the order they are added (nodes and subgraphs, then edges, then classes)."""

    def __init__(self):
        self.body, self.edges, self.classes = [], [], {}

    def node(self, ident, lines, shape="[]", classes=(), indent="  "):
        self.body.append("%s%s%s%s%s" % (indent, ident, shape[:len(shape) // 2], label(lines), shape[len(shape) // 2:]))
        for name in classes:
            self.classes.setdefault(name, []).append(ident)

    def open(self, ident, lines):
        self.body.append("  subgraph %s [%s]" % (ident, label(lines)))

    def close(self):
        self.body.append("  end")

    def edge(self, source, target, dotted=False, arrow=None):
        self.edges.append("  %s %s %s" % (source, arrow or ("-.->" if dotted else "-->"), target))

    def text(self):
        lines = ["flowchart LR"] + self.body + self.edges
        for name, style in _CLASSES:
            if self.classes.get(name):
                lines.append("  classDef %s %s" % (name, style))
        for name, _style in _CLASSES:
            if self.classes.get(name):
                lines.append("  class %s %s" % (",".join(self.classes[name]), name))
        return "\n".join(lines) + "\n"


class _Drawing(object):
    """One diagram being drawn: the chart, the outbound connectors' node ids by name, the rules left to attach."""

    def __init__(self, drift):
        self.chart = _Chart()
        self.drift = drift
        self.connectors = {}   # outbound connector name (lower) -> (node id, quiet: disabled or test mode)
        self.routes = []       # (rule node id, connector name, quiet)

    def inbound(self, ident, entry, unmanaged=False, indent="    "):
        marks, classes = _object_marks(INBOUND, entry, self.drift, unmanaged)
        self.chart.node(ident, inbound_lines(entry) + marks, classes=classes, indent=indent)
        self.chart.edge(ident, "tenant", dotted=not _enabled(entry))

    def outbound(self, ident, entry, routed, unmanaged=False, indent="    "):
        options = entry["options"]
        marks, classes = _object_marks(OUTBOUND, entry, self.drift, unmanaged)
        quiet = not _enabled(entry) or bool(options.get("test_mode"))
        self.chart.node(ident, outbound_lines(entry, routed) + marks, classes=classes, indent=indent)
        self.connectors[_key(options.get("name"))] = (ident, quiet)
        if options.get("recipient_domains"):
            self.chart.edge("tenant", ident, dotted=quiet)
        hosts = list(options.get("smart_hosts") or [])
        if options.get("use_mx_record"):
            self.chart.node(ident + "_mx", ["MX of the recipient's domain"], shape="([])", indent=indent)
            self.chart.edge(ident, ident + "_mx", dotted=quiet)
        for number, host in enumerate(hosts[:MAX_HOSTS], 1):
            self.chart.node("%s_h%d" % (ident, number), [host, "smart host"], shape="([])", indent=indent)
            self.chart.edge(ident, "%s_h%d" % (ident, number), dotted=quiet)
        if len(hosts) > MAX_HOSTS:
            self.chart.node(ident + "_hmore", ["and %s" % plural(len(hosts) - MAX_HOSTS, "more smart host")],
                            shape="([])", indent=indent)
            self.chart.edge(ident, ident + "_hmore", dotted=quiet)

    def rule(self, ident, entry, unmanaged=False, indent="    "):
        marks, classes = _object_marks(RULES, entry, self.drift, unmanaged)
        self.chart.node(ident, rule_lines(entry) + marks, classes=classes, indent=indent)
        quiet = not _enabled(entry) or entry["options"].get("mode") not in (None, "enforce")
        self.chart.edge("tenant", ident, dotted=quiet)
        self.routes.append((ident, (entry["options"].get("actions") or {}).get(ROUTE), quiet))

    def missing(self, ident, obj, partner, indent="    "):
        noun = {INBOUND: "inbound connector", OUTBOUND: "outbound connector", RULES: "rule"}.get(obj.get("kind"), "object")
        self.chart.node(ident, [obj.get("name"), noun, "MISSING (in the partner file, not in the tenant)"],
                        classes=["missing"], indent=indent)
        if obj.get("kind") == INBOUND:
            self.chart.edge(ident, "tenant", dotted=True)
        elif obj.get("kind") == OUTBOUND:
            self.connectors.setdefault(_key(obj.get("name")), (ident, True))
        elif obj.get("kind") == RULES:
            self.chart.edge("tenant", ident, dotted=True)
            self.routes.append((ident, "%s outbound" % partner, True))  # onboarding's rules route there

    def attach_routes(self):
        """Edges rule -> connector, once every connector is drawn (a rule may route to another group's connector)."""
        for ident, target, quiet in self.routes:
            if not target:
                continue
            node = self.connectors.get(_key(target))
            if node is None:
                node = (ident + "_to", True)
                self.chart.node(node[0], [target, "outbound connector not in the tenant"], classes=["missing"])
                self.connectors[_key(target)] = node
            self.chart.edge(ident, node[0], dotted=quiet or node[1])


def _routed_names(info):
    return set(_key((e["options"].get("actions") or {}).get(ROUTE)) for e in _entries(info, RULES)
               if (e["options"].get("actions") or {}).get(ROUTE))


def _counts(partner):
    parts = []
    for count, word in ((len(partner.inbound), "inbound"), (len(partner.outbound), "outbound"),
                        (len(partner.rules), "rule")):
        if count:
            parts.append("%d %s" % (count, word + ("s" if word == "rule" and count != 1 else "")))
    return ", ".join(parts) or "no object in the tenant"


def _marks_count(objects, drift):
    """``2 disabled, 1 test mode, 1 drifted`` over (kind, entry) pairs."""
    tally = {}
    for kind, entry in objects:
        _lines, classes = _object_marks(kind, entry, drift)
        for name in classes:
            tally[name] = tally.get(name, 0) + 1
    words = {"disabled": "disabled", "testmode": "test mode", "drifted": "drifted"}
    return ", ".join("%d %s" % (tally[k], words[k]) for k in ("disabled", "testmode", "drifted") if tally.get(k))


def _objects(partner):
    return ([(INBOUND, e) for e in partner.inbound] + [(OUTBOUND, e) for e in partner.outbound]
            + [(RULES, e) for e in partner.rules])


def _partner_title(partner):
    # One line: Mermaid does not make room for a second line of a subgraph's title.
    return ["Partner %s%s" % (partner.name, "" if partner.in_files else " (not in the partner files)")]


def _draw_partner_detail(drawing, number, partner, routed):
    chart = drawing.chart
    ident = "p%d" % number
    chart.open(ident, _partner_title(partner))
    for index, entry in enumerate(partner.inbound, 1):
        drawing.inbound("%s_in%s" % (ident, "" if index == 1 else index), entry)
    rules = partner.rules
    for index, entry in enumerate(rules[:MAX_RULES], 1):
        drawing.rule("%s_r%d" % (ident, index), entry)
    if len(rules) > MAX_RULES:
        chart.node(ident + "_rmore", ["and %s" % plural(len(rules) - MAX_RULES, "more rule")], indent="    ")
        chart.edge("tenant", ident + "_rmore")
        if partner.outbound:
            chart.edge(ident + "_rmore", "%s_out" % ident)
    for index, entry in enumerate(partner.outbound, 1):
        drawing.outbound("%s_out%s" % (ident, "" if index == 1 else index), entry,
                         _key(entry["options"].get("name")) in routed)
    for index, obj in enumerate(partner.missing, 1):
        drawing.missing("%s_m%d" % (ident, index), obj, partner.name)
    chart.close()


def _draw_unmanaged(drawing, unmanaged, routed, limit):
    """The unmanaged group: connectors and routing rules up to ``limit`` objects, the rest as counts."""
    chart = drawing.chart
    routing = [e for e in unmanaged[RULES] if (e["options"].get("actions") or {}).get(ROUTE)]
    other_rules = len(unmanaged[RULES]) - len(routing)
    drawn = [(INBOUND, e) for e in unmanaged[INBOUND]] + [(OUTBOUND, e) for e in unmanaged[OUTBOUND]] + \
        [(RULES, e) for e in routing]
    if not drawn and not other_rules:
        return False
    chart.open("um", ["Unmanaged objects (no partner)"])
    shown = drawn if len(drawn) <= limit else []
    numbers = {}
    for kind, entry in shown:
        numbers[kind] = numbers.get(kind, 0) + 1
        ident = "um_%s%d" % ({INBOUND: "in", OUTBOUND: "out", RULES: "r"}[kind], numbers[kind])
        if kind == INBOUND:
            drawing.inbound(ident, entry, unmanaged=True)
        elif kind == OUTBOUND:
            drawing.outbound(ident, entry, _key(entry["options"].get("name")) in routed, unmanaged=True)
        else:
            drawing.rule(ident, entry, unmanaged=True)
    if not shown and drawn:
        counts = "%s, %s, %s" % (plural(len(unmanaged[INBOUND]), "inbound connector"),
                                 plural(len(unmanaged[OUTBOUND]), "outbound connector"),
                                 plural(len(routing), "routing rule"))
        chart.node("um_all", ["%d unmanaged objects" % len(drawn), counts,
                              "not drawn: more than %d" % limit], classes=["unmanaged"], indent="    ")
        chart.edge("um_all", "tenant", dotted=True)
    if other_rules:
        chart.node("um_rest", [plural(other_rules, "other mail flow rule"), "not routing to a connector"],
                   classes=["unmanaged"], indent="    ")
    chart.close()
    return True


def _tenant(chart, title, partners, unmanaged):
    total = sum(len(v) for v in unmanaged.values())
    chart.node("tenant", ["Tenant %s" % title if title else "Tenant", "%s, %s" % (
        plural(len(partners), "partner"), plural(total, "unmanaged object"))], shape="[[]]")


def _note(chart, reason):
    chart.node("limits", ["Details collapsed into counts"] + reason + ["see docs/export-and-drift.md, Mail flow diagram"],
               shape=">]")
    chart.edge("limits", "tenant", arrow="~~~")


def _detail(info, title, partners, unmanaged, drift, max_unmanaged):
    drawing = _Drawing(drift)
    routed = _routed_names(info)
    _tenant(drawing.chart, title, partners, unmanaged)
    for number, partner in enumerate(partners, 1):
        _draw_partner_detail(drawing, number, partner, routed)
    _draw_unmanaged(drawing, unmanaged, routed, max_unmanaged)
    drawing.attach_routes()
    return drawing.chart


def _compact(info, title, partners, unmanaged, drift, max_unmanaged, reason):
    drawing = _Drawing(drift)
    chart = drawing.chart
    _tenant(chart, title, partners, unmanaged)
    _note(chart, reason)
    chart.open("partners", ["%s, one node each" % plural(len(partners), "partner")])
    for number, partner in enumerate(partners, 1):
        marks = _marks_count(_objects(partner), drift)
        missing = ("%d missing" % len(partner.missing)) if partner.missing else ""
        classes = [c for c, on in (("drifted", "drifted" in marks), ("missing", bool(missing))) if on]
        chart.node("p%d" % number, [partner.name, _counts(partner), ", ".join(x for x in (marks, missing) if x),
                                    "not in the partner files" if not partner.in_files else None],
                   classes=classes, indent="    ")
    chart.close()
    chart.edge("partners", "tenant", arrow="<-->")
    for number, partner in enumerate(partners, 1):
        for entry in partner.outbound:
            drawing.connectors[_key(entry["options"].get("name"))] = ("p%d" % number, False)
    _draw_unmanaged(drawing, unmanaged, _routed_names(info), max_unmanaged)
    drawing.attach_routes()
    return chart


def _totals(title, partners, unmanaged, drift, reason):
    chart = _Chart()
    _tenant(chart, title, partners, unmanaged)
    _note(chart, reason)
    objects = [o for p in partners for o in _objects(p)]
    tally = dict((kind, sum(1 for k, _e in objects if k == kind)) for kind in KINDS)
    missing = sum(len(p.missing) for p in partners)
    marks = ", ".join(x for x in (_marks_count(objects, drift), ("%d missing" % missing) if missing else "") if x)
    chart.node("partners", [plural(len(partners), "partner"), "%s, %s" % (
        plural(tally[INBOUND], "inbound connector"), plural(tally[OUTBOUND], "outbound connector")),
        plural(tally[RULES], "routing rule"), marks])
    chart.edge("partners", "tenant", arrow="<-->")
    routing = sum(1 for e in unmanaged[RULES] if (e["options"].get("actions") or {}).get(ROUTE))
    if any(unmanaged.values()):
        chart.node("um", ["Unmanaged objects (no partner)", "%s, %s" % (
            plural(len(unmanaged[INBOUND]), "inbound connector"), plural(len(unmanaged[OUTBOUND]), "outbound connector")),
            "%s, %s" % (plural(routing, "routing rule"), plural(len(unmanaged[RULES]) - routing, "other rule"))],
            classes=["unmanaged"])
        chart.edge("um", "tenant", arrow="<-->")
    return chart


def _fits(chart):
    """(text, whether it is within MAX_TEXT characters and MAX_EDGES edges)."""
    text = chart.text()
    return text, len(text) <= MAX_TEXT and len(chart.edges) <= MAX_EDGES


def limit(option, value):
    """``value`` as a limit (an integer from 0), or ValueError naming ``option``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or number < 0 or (isinstance(value, float) and value != number):
        raise ValueError("%s: %r is not a number of objects; give an integer from 0, such as %d" % (
            option, value, {"max_partners": MAX_PARTNERS, "max_listed": MAX_LISTED}.get(option, MAX_UNMANAGED)))
    return number


def mermaid(info, title=None, max_partners=MAX_PARTNERS, max_listed=MAX_LISTED, max_unmanaged=MAX_UNMANAGED):
    """The Mermaid flowchart text of the tenant read as ``info`` (the result of mail_flow_info; see the module's
    docstring for what is drawn, the limits and the escaping). ``title``: the tenant's name in the tenant node.
    Deterministic: the same ``info`` gives the same text (partners by name, rules by priority, values in the order
    the tenant reads them back)."""
    if not isinstance(info, dict):
        raise TypeError("expected the result of m365.mailflow.mail_flow_info (a mapping with inbound_connectors, "
                        "outbound_connectors, mail_flow_rules, partners, unmanaged), got %s" % type(info).__name__)
    max_partners = limit("max_partners", max_partners)
    max_listed = limit("max_listed", max_listed)
    max_unmanaged = limit("max_unmanaged", max_unmanaged)
    drift = _Drift(info.get("drift"))
    partners, unmanaged = _group(info, drift)
    if len(partners) <= max_partners:
        text, fits = _fits(_detail(info, title, partners, unmanaged, drift, max_unmanaged))
        if fits:
            return text
        reason = ["the detailed diagram is too large for Mermaid", "(over %d characters or %d edges)" % (
            MAX_TEXT, MAX_EDGES)]
    else:
        reason = ["more than %d partners (max_partners)" % max_partners]
    if len(partners) <= max_listed:
        text, fits = _fits(_compact(info, title, partners, unmanaged, drift, max_unmanaged, reason))
        if fits:
            return text
        reason = ["one node per partner is too large for Mermaid", "(over %d characters or %d edges)" % (
            MAX_TEXT, MAX_EDGES)]
    else:
        reason = ["more than %d partners (max_listed)" % max_listed]
    return _totals(title, partners, unmanaged, drift, reason).text()
