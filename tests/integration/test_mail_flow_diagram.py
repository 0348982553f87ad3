# -*- coding: utf-8 -*-
"""The diagrams of plugins/module_utils/diagram.py rendered by the real Mermaid (the Mermaid CLI of make mermaid-cli,
with Debian's Chromium; one browser run for all of them): the demo world, names made to break the syntax, the
collapsed forms of large tenants and a drift report's marks all parse, and every node and subgraph label shows
exactly the text the diagram means (the entity codes decoded as tests/support/mermaid.py decodes them: the names as
written). Skipped when the renderer is missing, failed instead with MAILFLOW_REQUIRE_SERVERS=1 (make test)."""

from __future__ import absolute_import, division, print_function

import collections

from ansible_collections.m365.mailflow.plugins.module_utils import diagram
from tests.support.mermaid import (DIAGRAMS, TRICKY, parse, partner, render, require_renderer, shown, svg_labels,
                                   tenant, tricky_tenant)


def cases():
    drift = {"partners": [{"name": "Adatum", "objects": [
        {"kind": "inbound_connectors", "name": "Adatum inbound", "status": "drifted",
         "properties": [{"property": "enabled"}]},
        {"kind": "mail_flow_rules", "name": "Adatum - Legal", "status": "missing", "properties": []}]}]}
    big = tenant(partners=[partner("P%03d" % n, rules=2) for n in range(200)])
    with open(DIAGRAMS.GOLDEN) as handle:
        demo = handle.read()
    return [
        ("demo world", demo),
        ("tricky names", diagram.mermaid(tricky_tenant(), title=TRICKY[0], max_unmanaged=100)),
        ("one node per partner", diagram.mermaid(tenant(partners=[partner("P%02d" % n, rules=1) for n in range(20)]))),
        ("200 partners", diagram.mermaid(big, title=TRICKY[6])),
        ("unmanaged collapsed", diagram.mermaid(tricky_tenant())),
        ("drift", diagram.mermaid(tenant(partners=[partner("Adatum", rules=1), partner("Litware")], drift=drift))),
    ]


def test_mermaid_renders_every_diagram_with_the_labels_as_written(tmp_path):
    require_renderer()
    named = cases()
    paths = render([text for _name, text in named], tmp_path)
    for (name, text), path in zip(named, paths):
        chart = parse(text)
        meant = [node.label for node in chart.nodes.values()] + [s["title"] for s in chart.subgraphs.values()]
        assert collections.Counter(svg_labels(path)) == collections.Counter(meant), name
    tricky = svg_labels(paths[1])
    for text in TRICKY:
        assert [label for label in tricky if label.startswith(shown(text + " in") + "\n")], text
