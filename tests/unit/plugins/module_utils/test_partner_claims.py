# -*- coding: utf-8 -*-
"""Two runs that claim one domain at the same time (issue 22): both plan against the same read, in which the domain is
free, and both write. After its connectors are written each run reads them again; the claim of the connector created
first stands, and the other run takes its write back and fails that partner, naming the connector that keeps it."""

from __future__ import absolute_import, division, print_function

from ansible_collections.m365.mailflow.plugins.module_utils.connection import connect
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_plan as pp
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partners as pu
from ansible_collections.m365.mailflow.plugins.module_utils.resources.partner_run import Runner


def _client(path):
    return connect({"sandbox": path, "retries": 1, "retry_delay": 0.01, "timeout": 30, "token_cache": False})


def _plan(client, name, domains, snapshot):
    data = {"name": name, "inbound": {"sender_domains": domains}}
    partner = pu.Partner("%s.yml" % name.lower(), {"partner": data})
    pu.check_definitions([partner], None, pu.Report())
    return pp.Planner(snapshot, client=client).plan([partner])


def test_the_later_claim_is_taken_back(tmp_path):
    path = str(tmp_path / "tenant.db")
    first_client, second_client = _client(path), _client(path)
    empty = pp.Snapshot.read(first_client)
    first = _plan(first_client, "First", ["shared.example", "first.example"], empty)
    second = _plan(second_client, "Second", ["shared.example"], pp.Snapshot.read(second_client))
    assert not first.errors and not second.errors  # both found the domain free

    one, two = Runner(first_client, first, tenant_label="t"), Runner(second_client, second, tenant_label="t")
    one.apply()  # the first run writes and settles (nobody else claims the domain yet)
    two.apply()  # the second run writes, reads the connectors back, and finds the older claim
    assert not first.partners[0].failed
    assert second.partners[0].failed
    assert "shared.example is claimed at the same time by the inbound connector 'First inbound'" in \
        second.partners[0].error
    assert "was removed again" in second.partners[0].error
    names = [o.get("Name") for o in pp.Snapshot.read(first_client).objects[pp.INBOUND]]
    assert names == ["First inbound"]


def test_an_update_that_claims_a_taken_domain_is_restored(tmp_path):
    path = str(tmp_path / "tenant.db")
    client = _client(path)
    base = _plan(client, "Second", ["second.example"], pp.Snapshot.read(client))
    Runner(client, base, tenant_label="t").apply()
    snapshot = pp.Snapshot.read(client)  # both runs read this: Second has second.example only
    grow = _plan(client, "Second", ["second.example", "shared.example"], snapshot)
    first = _plan(client, "First", ["shared.example"], snapshot)
    Runner(client, first, tenant_label="t").apply()
    runner = Runner(client, grow, tenant_label="t")
    runner.apply()
    assert grow.partners[0].failed and "its previous domains restored" in grow.partners[0].error
    found = dict((o.get("Name"), o) for o in pp.Snapshot.read(client).objects[pp.INBOUND])
    assert [d.lower() for d in found["Second inbound"]["SenderDomains"]] == ["smtp:second.example;1"]
