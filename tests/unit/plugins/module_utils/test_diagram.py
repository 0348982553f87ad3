# -*- coding: utf-8 -*-
"""diagram.mermaid (and the filter m365.mailflow.mail_flow_diagram): the demo world's diagram against a golden file
and structurally (parsed back with tests/support/mermaid.py), names that could break Mermaid, marks, drift, and the
size limits of large tenants. The real Mermaid renders these diagrams in tests/integration/test_mail_flow_diagram.py."""

from __future__ import absolute_import, division, print_function

import copy
import re
import unicodedata

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.m365.mailflow.plugins.filter.mail_flow_diagram import FilterModule
from ansible_collections.m365.mailflow.plugins.module_utils import diagram
from tests.support import mermaid
from tests.support.mermaid import (DIAGRAMS, TRICKY, by_name, inbound, name_of, outbound, parse, partner, rule,
                                   shown, tenant, tricky_tenant)

KEYWORDS = {"end", "subgraph", "graph", "flowchart", "style", "classdef", "class", "click", "call", "href",
            "linkstyle", "default", "direction", "interpolate", "acctitle", "accdescr"}


@pytest.fixture(scope="module")
def demo():
    """mail_flow_info's result for the demo world (examples/partners seeded into a sandbox tenant)."""
    return DIAGRAMS.demo_world_info()


# --------------------------------------------------------------------------------------------------- the demo world

def test_the_demo_world_matches_its_golden_file(demo):
    text = diagram.mermaid(demo, title="sandbox")
    with open(DIAGRAMS.GOLDEN) as handle:
        golden = handle.read()
    assert text == golden, "the diagram changed: review it, then run hacking/docsite/diagrams.py update"


def test_the_demo_world_has_every_partner_connector_rule_and_smart_host_with_its_edges(demo):
    chart = parse(diagram.mermaid(demo, title="sandbox"))
    nodes = by_name(chart)
    assert chart.nodes["tenant"].label.startswith("Tenant sandbox\n3 partners, 0 unmanaged objects")
    titles = dict((s["title"], sid) for sid, s in chart.subgraphs.items())
    assert sorted(titles) == ["Partner Adatum", "Partner Fabrikam", "Partner Litware"]
    expected_nodes = {"tenant"}
    for item in demo["partners"]:
        name = item["partner"]["name"]
        sid = titles["Partner %s" % name]
        connector_in, connector_out = nodes["%s inbound" % name], nodes["%s outbound" % name]
        assert connector_in.subgraph == sid and connector_out.subgraph == sid
        assert (connector_in.id, "-->", "tenant") in chart.edges
        expected_nodes.update([connector_in.id, connector_out.id])
    for entry in demo["inbound_connectors"]:
        label = nodes[entry["options"]["name"]].label
        assert "from %s" % ", ".join(entry["options"]["sender_domains"]) in label
        assert "requires TLS" in label
    for entry in demo["outbound_connectors"]:
        options, node = entry["options"], nodes[entry["options"]["name"]]
        assert "TLS %s" % options["tls_settings"].replace("_", " ") in node.label
        if options.get("recipient_domains"):
            assert ("tenant", "-->", node.id) in chart.edges
            assert "to %s" % ", ".join(options["recipient_domains"]) in node.label
        else:
            assert "only for mail routed by rules" in node.label
            assert not [e for e in chart.edges if e[0] == "tenant" and e[2] == node.id]
        for host in options.get("smart_hosts") or []:
            host_node = nodes[host]
            assert host_node.label == "%s\nsmart host" % host and host_node.subgraph == node.subgraph
            assert (node.id, "-->", host_node.id) in chart.edges
            expected_nodes.add(host_node.id)
        if options.get("use_mx_record"):
            mx = [t for s, _a, t in chart.edges if s == node.id and chart.nodes[t].label.startswith("MX of")]
            assert len(mx) == 1
            expected_nodes.add(mx[0])
    for entry in demo["mail_flow_rules"]:
        node = nodes[entry["options"]["name"]]
        target = nodes[entry["options"]["actions"]["route_message_outbound_connector"]]
        assert ("tenant", "-->", node.id) in chart.edges and (node.id, "-->", target.id) in chart.edges
        assert "priority %d" % entry["facts"]["priority"] in node.label
        expected_nodes.add(node.id)
    accounting = nodes["Adatum - Accounting"].label
    assert "if to domain adatum.example and sender attribute Department:Accounting" in accounting
    assert set(chart.nodes) == expected_nodes  # nothing else drawn
    assert len(chart.edges) == 10 and not chart.classes  # nothing disabled, in test mode or unmanaged


def test_the_text_does_not_depend_on_the_order_of_the_input(demo):
    shuffled = copy.deepcopy(demo)
    for key in ("inbound_connectors", "outbound_connectors", "mail_flow_rules", "partners", "unmanaged"):
        shuffled[key] = list(reversed(shuffled[key]))
    assert diagram.mermaid(shuffled, title="sandbox") == diagram.mermaid(demo, title="sandbox")


# --------------------------------------------------------------------------------------------------- escaping

def test_names_that_could_break_mermaid_are_escaped():
    text = diagram.mermaid(tricky_tenant(), title=TRICKY[0], max_unmanaged=100)
    text.encode("ascii")  # every non-ASCII character is an entity code
    assert "{" not in text and "}" not in text and "%%" not in text and "`" not in text and "&" not in text
    for line in text.split("\n"):
        # mermaid's encodeEntities drops the last ';' of such lines before parsing
        assert not re.search(r"style.*:\S*#.*;", line) and not re.search(r"classDef.*:\S*#.*;", line), line
        assert "<" not in line.replace("<br>", "") and ">" not in line.replace("<br>", "").replace("-->", "").replace(
            "-.->", "").replace("<-->", ""), line
    chart = parse(text)
    names = set(name_of(n) for n in chart.nodes.values())
    for name in TRICKY:
        for suffix in (" in", " out", " rule"):
            assert shown(name + suffix) in names, name + suffix
    assert chart.nodes["tenant"].label.split("\n")[0] == "Tenant " + TRICKY[0]
    assert "Partner " + TRICKY[0][:20] in [s["title"] for s in chart.subgraphs.values()]
    # every rule's edge goes to the connector named in its action, however its name is spelled
    nodes = by_name(chart)
    for name in TRICKY:
        assert (nodes[shown(name + " rule")].id, "-->", nodes[shown(name + " out")].id) in chart.edges
        assert "\nif header X-%s" % shown(name)[:10] in nodes[shown(name + " rule")].label
    for ident in list(chart.nodes) + list(chart.subgraphs):
        assert re.match(r"^[a-z][a-z0-9_]*$", ident) and ident[0] not in "ox" and ident.lower() not in KEYWORDS, ident


def test_escape_writes_only_the_plain_set_and_entity_codes_for_every_code_point():
    """The whole BMP and every 97th code point beyond: only the plain set and entity codes are written, and Mermaid's
    decoding gives the character back (white space and control characters: a space)."""
    points = [c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF] + list(range(0x10000, 0x110000, 97)) + [0x10FFFF]
    every = u"".join(chr(c) for c in points)
    escaped = diagram.escape(every)
    assert re.match(r"^(?:[A-Za-z0-9 .,\-_/@()'+*=?!]|#\d+;)*$", escaped)
    spaced = set(c for c in every if c.isspace() or unicodedata.category(c) in ("Cc", "Zl", "Zp"))
    assert "\n" in spaced and "\x00" in spaced and u"\u2028" in spaced and u"\u200b" not in spaced
    assert mermaid.decode(escaped) == u"".join(" " if c in spaced else c for c in every)
    # Mermaid's placeholders side by side get a word joiner, else Mermaid shows them as "&" and ";"
    assert diagram.escape(u"\ufb02\u00b0\u00b6\u00df") == "#64258;#8288;#176;#182;#8288;#223;"


# --------------------------------------------------------------------------------------------------- marks

def test_disabled_test_mode_and_unmanaged_objects_are_marked():
    info = tenant(
        partners=[partner("Adatum", rules=2), ("Litware", [
            ("inbound_connectors", inbound("Litware inbound", "Litware", enabled=False)),
            ("outbound_connectors", outbound("Litware outbound", "Litware", test_mode=True, use_mx_record=True,
                                             smart_hosts=[]))])],
        unmanaged=[("inbound_connectors", dict(inbound("Hand inbound"), facts={"connector_type": "OnPremises"})),
                   ("mail_flow_rules", rule("Stray route", "Adatum outbound", priority=7)),
                   ("mail_flow_rules", rule("Disclaimer", None, priority=8))])
    info["mail_flow_rules"][0]["options"]["enabled"] = False        # Adatum - rule 0
    info["mail_flow_rules"][1]["options"]["mode"] = "audit_and_notify"  # Adatum - rule 1
    chart = parse(diagram.mermaid(info, title="contoso"))
    nodes = by_name(chart)
    assert nodes["Adatum - rule 0"].label.endswith("\nDISABLED") and nodes["Adatum - rule 0"].id in chart.classes["disabled"]
    assert ("tenant", "-.->", nodes["Adatum - rule 0"].id) in chart.edges
    assert (nodes["Adatum - rule 0"].id, "-.->", nodes["Adatum outbound"].id) in chart.edges
    assert nodes["Adatum - rule 1"].label.endswith("\nTEST MODE (audit and notify)")
    assert nodes["Adatum - rule 1"].id in chart.classes["testmode"]
    assert (nodes["Litware inbound"].id, "-.->", "tenant") in chart.edges
    litware_out = nodes["Litware outbound"]
    assert litware_out.label.endswith("\nTEST MODE") and litware_out.id in chart.classes["testmode"]
    assert ("tenant", "-.->", litware_out.id) in chart.edges
    assert [chart.nodes[t].label for s, a, t in chart.edges if s == litware_out.id] == ["MX of the recipient's domain"]
    hand, stray = nodes["Hand inbound"], nodes["Stray route"]
    assert hand.subgraph == stray.subgraph == "um" and chart.subgraphs["um"]["title"] == "Unmanaged objects (no partner)"
    assert "inbound connector, type OnPremises" in hand.label and hand.label.endswith("UNMANAGED")
    assert {hand.id, stray.id, "um_rest"} <= chart.classes["unmanaged"]
    assert (stray.id, "-->", nodes["Adatum outbound"].id) in chart.edges  # a hand-made rule routing to a partner
    assert "Disclaimer" not in nodes and nodes["1 other mail flow rule"].label.endswith("not routing to a connector")
    assert chart.nodes["tenant"].label == "Tenant contoso\n2 partners, 3 unmanaged objects"


def test_drift_marks_drifted_and_missing_objects_and_partners_not_in_the_files():
    drift = {"partners": [
        {"name": "Adatum", "status": "drifted", "objects": [
            {"kind": "inbound_connectors", "name": "Adatum inbound", "status": "drifted", "properties": [
                {"property": "sender_ip_addresses", "expected": [], "actual": []},
                {"property": "enabled", "expected": True, "actual": False}]},
            {"kind": "outbound_connectors", "name": "Adatum outbound", "status": "in_sync", "properties": []},
            {"kind": "mail_flow_rules", "name": "Adatum - Legal", "status": "missing", "properties": []}]},
        {"name": "Litware", "status": "missing", "objects": [
            {"kind": "inbound_connectors", "name": "Litware inbound", "status": "missing", "properties": []},
            {"kind": "outbound_connectors", "name": "Litware outbound", "status": "missing", "properties": []}]}]}
    info = tenant(partners=[partner("Adatum"), partner("Contoso")], drift=drift)
    chart = parse(diagram.mermaid(info))
    nodes = by_name(chart)
    assert nodes["Adatum inbound"].label.endswith("\nDRIFTED sender_ip_addresses, enabled")
    assert chart.classes["drifted"] == {nodes["Adatum inbound"].id}
    legal = nodes["Adatum - Legal"]
    assert legal.label == "Adatum - Legal\nrule\nMISSING (in the partner file, not in the tenant)"
    assert (legal.id, "-.->", nodes["Adatum outbound"].id) in chart.edges and ("tenant", "-.->", legal.id) in chart.edges
    litware = [sid for sid, s in chart.subgraphs.items() if s["title"] == "Partner Litware"]
    assert len(litware) == 1 and sorted(name_of(chart.nodes[m]) for m in chart.subgraphs[litware[0]]["members"]) == [
        "Litware inbound", "Litware outbound"]
    assert chart.classes["missing"] == {legal.id, nodes["Litware inbound"].id, nodes["Litware outbound"].id}
    assert "Partner Contoso (not in the partner files)" in [s["title"] for s in chart.subgraphs.values()]
    assert "Partner Adatum" in [s["title"] for s in chart.subgraphs.values()]


# --------------------------------------------------------------------------------------------------- size

def size_ok(text):
    chart = parse(text)
    assert len(text) <= diagram.MAX_TEXT and len(chart.edges) <= diagram.MAX_EDGES, (len(text), len(chart.edges))
    return chart


def test_a_tenant_with_200_partners_is_one_node_of_totals_within_the_stated_size():
    info = tenant(partners=[partner("P%03d" % n, rules=2, hosts=2) for n in range(200)],
                  unmanaged=[("inbound_connectors", inbound("Hand %d inbound" % n)) for n in range(30)])
    info["inbound_connectors"][0]["options"]["enabled"] = False
    text = diagram.mermaid(info, title="big")
    chart = size_ok(text)
    assert len(text) < 2000 and len(chart.nodes) == 4, text
    assert chart.nodes["tenant"].label == "Tenant big\n200 partners, 30 unmanaged objects"
    assert chart.nodes["limits"].label == ("Details collapsed into counts\nmore than 60 partners (max_listed)\n"
                                           "see docs/export-and-drift.md, Mail flow diagram")
    assert chart.nodes["limits"].shape == "flag" and ("limits", "~~~", "tenant") in chart.edges
    assert chart.nodes["partners"].label == ("200 partners\n200 inbound connectors, 200 outbound connectors\n"
                                             "400 routing rules\n1 disabled")
    assert "30 inbound connectors" in chart.nodes["um"].label


def test_more_than_max_partners_gives_one_node_per_partner_with_counts():
    info = tenant(partners=[partner("P%02d" % n, rules=n % 3) for n in range(16)])
    info["outbound_connectors"][3]["options"]["test_mode"] = True
    chart = size_ok(diagram.mermaid(info))
    assert chart.nodes["limits"].label.split("\n")[1] == "more than 15 partners (max_partners)"
    assert chart.subgraphs["partners"]["title"] == "16 partners, one node each"
    assert len(chart.subgraphs["partners"]["members"]) == 16 and ("partners", "<-->", "tenant") in chart.edges
    assert by_name(chart)["P03"].label == "P03\n1 inbound, 1 outbound\n1 test mode"
    assert by_name(chart)["P02"].label == "P02\n1 inbound, 1 outbound, 2 rules"
    assert parse(diagram.mermaid(info, max_partners=16)).subgraphs.keys() >= {"p1", "p16"}  # the limits are options
    totals = parse(diagram.mermaid(info, max_partners=3, max_listed=10))
    assert totals.nodes["limits"].label.split("\n")[1] == "more than 10 partners (max_listed)"
    assert totals.nodes["partners"].label.startswith("16 partners\n")


def test_the_largest_detailed_tenant_stays_within_the_stated_size():
    """15 partners with 64-character names of 4-byte characters, 40 rules and 9 smart hosts each: the detailed
    diagram would exceed the size Mermaid draws, so it collapses (and says why)."""
    long_name = u"\U0001F4E7" * 40
    partners = []
    for n in range(15):
        name, objects = partner("P%02d" % n, rules=40, hosts=9)
        for _kind, entry in objects:
            entry["options"]["name"] = entry["options"]["name"] + long_name
        partners.append((name, objects))
    text = diagram.mermaid(tenant(partners=partners))
    chart = size_ok(text)
    assert chart.nodes["limits"].label.split("\n")[1:3] == ["the detailed diagram is too large for Mermaid",
                                                            "(over 40000 characters or 400 edges)"]
    assert len(chart.subgraphs["partners"]["members"]) == 15
    small = diagram.mermaid(tenant(partners=[partner("P%02d" % n, rules=12, hosts=6) for n in range(15)]))
    chart = size_ok(small)
    assert "limits" not in chart.nodes and len(chart.subgraphs) == 15
    for more in ("and 4 more rules", "and 2 more smart hosts"):
        assert sorted(n.subgraph for n in chart.nodes.values() if name_of(n) == more) == sorted(chart.subgraphs), more


def test_many_unmanaged_objects_collapse_into_counts():
    info = tenant(unmanaged=[("outbound_connectors", outbound("Out %02d" % n)) for n in range(25)])
    chart = size_ok(diagram.mermaid(info))
    assert by_name(chart)["25 unmanaged objects"].label == (
        "25 unmanaged objects\n0 inbound connectors, 25 outbound connectors, 0 routing rules\nnot drawn: more than 20")
    assert len(chart.nodes) == 2


# --------------------------------------------------------------------------------------------------- interface

def test_bad_input_is_refused_with_the_option_named():
    with pytest.raises(TypeError, match="expected the result of m365.mailflow.mail_flow_info"):
        diagram.mermaid(["not", "a", "mapping"])
    for option, value in (("max_partners", "many"), ("max_listed", -1), ("max_unmanaged", 2.5), ("max_partners", True)):
        with pytest.raises(ValueError, match="^%s: .* is not a number of objects" % option):
            diagram.mermaid({}, **{option: value})
    assert parse(diagram.mermaid({}, max_partners="3")).nodes["tenant"].label == "Tenant\n0 partners, 0 unmanaged objects"


def test_the_filter_is_the_function_and_names_bad_input(demo):
    diagram_filter = FilterModule().filters()["mail_flow_diagram"]
    assert diagram_filter(demo, title="sandbox") == diagram.mermaid(demo, title="sandbox")
    assert diagram_filter(demo, max_partners=2).count("\n    p") == 3  # 3 partners, one node each
    with pytest.raises(AnsibleFilterError, match="m365.mailflow.mail_flow_diagram: max_listed: 'x' is not a number"):
        diagram_filter(demo, max_listed="x")
    with pytest.raises(AnsibleFilterError, match="got str"):
        diagram_filter("text")
