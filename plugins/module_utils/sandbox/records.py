# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the sandbox tenant writes its records: dates in the service's read-back forms, the identity,
distinguished name and timestamps every configuration object carries, and bound values written into a
record."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.binding import (
    COMMON_NAMES, EXCHANGE_VERSION, FOREST, SERVER, HashUpdate, parse_date,
)


def fmt_date(stamp):
    """``2026-07-23T22:55:13.0000000+00:00``"""
    if stamp is None:
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + ".%07d+00:00" % (stamp.microsecond * 10)


def fmt_unzoned(stamp):
    """``2026-07-24T18:59:12.0000000`` (UTC, no offset): how LastValidationTimestamp reads back (live_evidence.md)."""
    if stamp is None:
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + ".%07d" % (stamp.microsecond * 10)


def fmt_utc(stamp):
    """``2026-07-23T22:55:13.0000000Z``"""
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + ".%07dZ" % (stamp.microsecond * 10)


def read_date(text):
    return parse_date("date", text) if text else None


def dn_escape(name):
    return re.sub(r'([,+"\\<>;=])', r"\\\1", name)


def common_tail(obj, container, object_class, tenant, org_id):
    """Identity, DN, timestamps and the other members every configuration object carries."""
    name = obj["Name"]
    dn = "CN=%s,%sCN=Configuration,CN=%s,CN=ConfigurationUnits,%s" % (dn_escape(name), container, tenant, FOREST)
    changed = read_date(obj.get("WhenChanged"))
    created = read_date(obj.get("WhenCreated"))
    obj.update({
        "AdminDisplayName": obj.get("AdminDisplayName") or "",
        "ExchangeVersion": EXCHANGE_VERSION,
        "DistinguishedName": dn,
        "Identity": name,
        "Id": name,
        "ObjectCategory": "%s/Configuration/Schema/%s" % ("NAMPR08A008.PROD.OUTLOOK.COM", object_class),
        "ObjectClass": ["top", object_class],
        "WhenChanged": fmt_date(changed),
        "WhenCreated": fmt_date(created),
        "WhenChangedUTC": fmt_utc(changed),
        "WhenCreatedUTC": fmt_utc(created),
        "ExchangeObjectId": obj["Guid"],
        "OrganizationId": "NAMPR08A008.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/%s - %s" % (tenant, org_id),
        "OriginatingServer": SERVER,
        "IsValid": True,
        "ObjectState": "Unchanged",
    })
    return obj


def apply_bound(obj, bound, params):
    """Write bound values of ``params`` (lower-case name -> Param) into ``obj``: lists replace or Add/Remove,
    $null clears a list to [], dates are formatted."""
    for name, value in bound.items():
        param = params.get(name.lower())
        if param is None or name in COMMON_NAMES:
            continue
        if isinstance(value, HashUpdate):
            obj[name] = value.apply(obj.get(name))
        elif param.kind == "list":
            obj[name] = list(value or [])
        elif param.kind == "date":
            obj[name] = fmt_date(value)
        else:
            obj[name] = value
    return obj
