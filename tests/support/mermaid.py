# -*- coding: utf-8 -*-
"""Reading back the Mermaid text of plugins/module_utils/diagram.py, and rendering it with the real Mermaid.

``parse(text)`` reads exactly the statements diagram.mermaid writes (a strict subset of the flowchart syntax: a line
it does not know fails the test) into nodes (id -> label with the entity codes decoded and ``<br>`` as a newline,
shape, subgraph), edges (source, arrow, target), subgraphs (id -> title, members) and classes (name -> ids), so that
tests assert the structure whatever the order of the statements.

``render(texts, dest)`` renders with the Mermaid CLI (hacking/docsite/diagrams.py; make mermaid-cli and Debian's
Chromium), ``svg_labels(path)`` reads the text of every node and subgraph label of the SVG it made.
"""

from __future__ import absolute_import, division, print_function

import collections
import importlib.util
import os
import re
import xml.etree.ElementTree as ET

from tests.support.ansible_runner import REPO
from tests.support.mailservers import unavailable

_ID = r"[A-Za-z][A-Za-z0-9_]*"
_LABEL = r'"(?P<label>[^"]*)"'
_SHAPES = (("[[", "]]", "subroutine"), ("([", "])", "stadium"), (">", "]", "flag"), ("[", "]", "box"))
_NODE = re.compile(r"^  (?:  )?(?P<id>%s)(?P<open>\[\[|\(\[|>|\[)%s(?P<close>\]\]|\]\)|\])$" % (_ID, _LABEL))
_SUBGRAPH = re.compile(r"^  subgraph (?P<id>%s) \[%s\]$" % (_ID, _LABEL))
_EDGE = re.compile(r"^  (?P<source>%s) (?P<arrow>-->|-\.->|<-->|~~~) (?P<target>%s)$" % (_ID, _ID))
_CLASSDEF = re.compile(r"^  classDef (?P<name>[a-z]+) (?P<style>[^;{}\"]+)$")
_CLASS = re.compile(r"^  class (?P<ids>%s(?:,%s)*) (?P<name>[a-z]+)$" % (_ID, _ID))
_ENTITY = re.compile(r"#(\d+);")

Node = collections.namedtuple("Node", "id label shape subgraph")
Chart = collections.namedtuple("Chart", "nodes edges subgraphs classes")


def decode(text):
    """A label as Mermaid shows it: entity codes ``#NNN;`` decoded, ``<br>`` a line break."""
    return _ENTITY.sub(lambda m: chr(int(m.group(1))), text.replace("<br>", "\n"))


def parse(text):
    lines = text.split("\n")
    assert lines[0] == "flowchart LR", lines[0]
    assert lines[-1] == "", "the text ends with one newline"
    nodes, edges, subgraphs, classes, classdefs = {}, [], collections.OrderedDict(), {}, {}
    current = None
    for number, line in enumerate(lines[1:-1], 2):
        match = _NODE.match(line)
        if match:
            shape = [s for o, c, s in _SHAPES if o == match.group("open") and c == match.group("close")]
            assert shape, "line %d: unknown shape: %r" % (number, line)
            assert match.group("id") not in nodes, "line %d: node %s drawn twice" % (number, match.group("id"))
            assert (line.startswith("    ") and not line.startswith("     ")) == (current is not None), \
                "line %d: indentation does not match the subgraph: %r" % (number, line)
            nodes[match.group("id")] = Node(match.group("id"), decode(match.group("label")), shape[0], current)
            if current:
                subgraphs[current]["members"].append(match.group("id"))
            continue
        match = _SUBGRAPH.match(line)
        if match:
            assert current is None, "line %d: nested subgraph" % number
            current = match.group("id")
            assert current not in subgraphs, "line %d: subgraph %s twice" % (number, current)
            subgraphs[current] = {"title": decode(match.group("label")), "members": []}
            continue
        if line == "  end":
            assert current is not None, "line %d: end without subgraph" % number
            current = None
            continue
        match = _EDGE.match(line)
        if match:
            edges.append((match.group("source"), match.group("arrow"), match.group("target")))
            continue
        match = _CLASSDEF.match(line)
        if match:
            classdefs[match.group("name")] = match.group("style")
            continue
        match = _CLASS.match(line)
        if match:
            assert match.group("name") in classdefs, "line %d: class %s without classDef" % (number, match.group("name"))
            classes.setdefault(match.group("name"), set()).update(match.group("ids").split(","))
            continue
        raise AssertionError("line %d is not a statement diagram.mermaid writes: %r" % (number, line))
    assert current is None, "subgraph %s not closed" % current
    known = set(nodes) | set(subgraphs)
    for source, _arrow, target in edges:
        assert source in known and target in known, "edge %s -> %s between unknown nodes" % (source, target)
    for name, ids in classes.items():
        assert ids <= set(nodes), "class %s names unknown nodes %s" % (name, ids - set(nodes))
    return Chart(nodes, edges, subgraphs, classes)


def fenced(markdown):
    """The texts of the ```mermaid blocks of a Markdown text."""
    return [m.group(1) for m in re.finditer(r"^```mermaid\n(.*?)^```$", markdown, re.M | re.S)]


def name_of(node):
    """The first line of a node's label: the object's name."""
    return node.label.split("\n")[0]


def by_name(chart):
    return dict((name_of(n), n) for n in chart.nodes.values())


# --------------------------------------------------------------------------------------------------- real Mermaid

def _diagrams_module():
    path = os.path.join(REPO, "hacking", "docsite", "diagrams.py")
    spec = importlib.util.spec_from_file_location("mailflow_docs_diagrams", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DIAGRAMS = _diagrams_module()


def require_renderer():
    """Skip (fail with MAILFLOW_REQUIRE_SERVERS=1) when the Mermaid CLI or Chromium is missing."""
    missing = DIAGRAMS.missing_tools()
    if missing:
        unavailable("rendering Mermaid needs %s" % ", ".join(missing))


def render(texts, dest):
    """SVG paths, one per text (HTML labels, as GitHub renders); raises DIAGRAMS.RenderError on a parse error."""
    return DIAGRAMS.render(texts, str(dest))


def _text(element):
    parts = []

    def walk(el):
        if el.tag.rsplit("}", 1)[-1] == "br":
            parts.append("\n")
        if el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)
    walk(element)
    return "".join(parts)


def svg_labels(path):
    """The texts of the node and subgraph labels of a Mermaid SVG (HTML labels), line breaks as newlines."""
    root = ET.parse(str(path)).getroot()
    out = []
    for element in root.iter():
        if "nodeLabel" in (element.get("class") or "").split():  # nodes and subgraph titles (no edge has a label)
            text = _text(element)
            if text.strip():
                out.append(text)
    return out


# --------------------------------------------------------------------------------------------------- test data
# mail_flow_info results made by hand (the shape of tenant_view.summarise), for tests of diagram.mermaid

def inbound(name, owner=None, **options):
    opts = dict(name=name, sender_domains=["%s.example" % name.split()[0].lower()], require_tls=True, enabled=True)
    opts.update(options)
    return {"options": opts, "facts": {"managed_by": owner, "connector_type": "Partner"}}


def outbound(name, owner=None, **options):
    opts = dict(name=name, recipient_domains=["%s.example" % name.split()[0].lower()], smart_hosts=["mail.x.example"],
                tls_settings="encryption_only", enabled=True, test_mode=False, transport_rule_scoped=False)
    opts.update(options)
    return {"options": opts, "facts": {"managed_by": owner, "connector_type": "Partner"}}


def rule(name, target, owner=None, priority=0, **options):
    opts = dict(name=name, enabled=True, mode="enforce", conditions={"recipient_domain_is": ["x.example"]},
                actions={"route_message_outbound_connector": target} if target else {"prepend_subject": "X"})
    opts.update(options)
    return {"options": opts, "facts": {"managed_by": owner, "priority": priority}}


def tenant(partners=(), unmanaged=(), drift=None):
    """A mail_flow_info result: ``partners`` [(name, [(kind, entry)])], ``unmanaged`` [(kind, entry)]."""
    info = dict(inbound_connectors=[], outbound_connectors=[], mail_flow_rules=[], partners=[], unmanaged=[])
    for name, objects in partners:
        info["partners"].append({"partner": {"name": name}})
        for kind, entry in objects:
            info[kind].append(entry)
    for kind, entry in unmanaged:
        info[kind].append(entry)
        info["unmanaged"].append({"kind": kind, "options": entry["options"], "facts": entry["facts"]})
    if drift is not None:
        info["drift"] = drift
    return info


def partner(name, rules=0, hosts=1, **outbound_options):
    objects = [("inbound_connectors", inbound("%s inbound" % name, name)),
               ("outbound_connectors", outbound("%s outbound" % name, name, smart_hosts=[
                   "mx%d.%s.example" % (n, name.lower()) for n in range(hosts)], **outbound_options))]
    objects += [("mail_flow_rules", rule("%s - rule %d" % (name, n), "%s outbound" % name, name, priority=n))
                for n in range(rules)]
    return (name, objects)


TRICKY = [
    'Quote "A" and \'B\'',
    "Bracket ] [ ) ( } {",
    "Pipe | and hash # and semicolon ;",
    "Back`tick` **bold** _it_ <b>html</b> &amp; &#35; #35; #quot;",
    "%%{init: {'securityLevel': 'loose'}}%% end subgraph",
    "style x fill:#f00; classDef y fill:#0f0;",
    u"Unicod\u00e9 M\u00fcller \u65e5\u672c \U0001F4E7 \u202eRTL \ufb02\u00b0 \u00b6\u00df",
    "line\nbreak\ttab\r\x00nul",
    "A---oB -.-> C ==> D ~~~ E",
]


def tricky_tenant():
    objects = []
    for number, name in enumerate(TRICKY):
        objects.append(("inbound_connectors", inbound(name + " in", None, sender_domains=["d%d.example" % number])))
        objects.append(("outbound_connectors", outbound(name + " out", None, smart_hosts=["h%d.example" % number],
                                                        recipient_domains=[])))
        objects.append(("mail_flow_rules", rule(name + " rule", name + " out", None, priority=number, conditions={
            "subject_contains_words": [name], "header_contains": {"header": "X-" + name, "words": [name]}})))
    return tenant(partners=[(TRICKY[0][:20], [("inbound_connectors", inbound("P\"]|# in", TRICKY[0][:20]))])],
                  unmanaged=objects)


def shown(text):
    """A name as the diagram shows it: control characters and line breaks as a space, a word joiner inside Mermaid's
    placeholder pairs, cut at diagram.MAX_LINE."""
    from ansible_collections.m365.mailflow.plugins.module_utils import diagram
    text = re.sub(u"[\x00-\x1f\x7f\u2028\u2029]", " ", text)
    for pair in (u"\ufb02\u00b0", u"\u00b6\u00df"):
        text = text.replace(pair, pair[0] + u"\u2060" + pair[1])
    return diagram.clip(text)
