# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Organization-wide settings of the sandbox tenant: ``Get-AcceptedDomain``, ``Get-OrganizationConfig`` and the part
of ``Set-OrganizationConfig`` that mail flow posture needs (``RejectDirectSend``).

Written from the reference, not from the client:

* ``RejectDirectSend`` (Boolean, cloud only, default ``$false``): ``$true`` rejects anonymous messages whose P1 MAIL
  FROM domain is an accepted domain of the organization and that match no inbound connector, with ``550 5.7.68``
  (Set-OrganizationConfig reference, MicrosoftDocs/office-docs-powershell#13210; Exchange team blog 4408790;
  MC1093237: default false). Documented.
* ``Set-OrganizationConfig`` returns nothing; a Set that changes nothing warns as every Set does (inferred from the
  other Set cmdlets). Of its hundreds of parameters the sandbox models ``RejectDirectSend`` only: any other is refused
  as an unknown parameter (the real service would take it).
* ``Get-OrganizationConfig`` returns one object. Its ``Name`` and ``Identity`` are the tenant's initial domain and
  ``DisplayName`` the organization's name (inferred from public outputs; not in the reference pages kept here).
* ``Get-AcceptedDomain`` lists the accepted domains with ``DomainName``, ``DomainType`` (``Authoritative``,
  ``InternalRelay``, ``ExternalRelay``) and ``Default``; ``Name`` and ``Identity`` are the domain (inferred: the
  admin center names a domain after itself). The tenant's own domain is the default one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import uuid

from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.binding import (
    Param, not_found, schema, utcnow,
)
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.records import common_tail, fmt_date
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.store import limit_results, unchanged_warning

ORGANIZATION_KEY = "organization"  # the meta row holding the settings Set-OrganizationConfig changed
DEFAULTS = {"RejectDirectSend": False}
_ORG_CONTAINER = "CN=Configuration Units,"
_DOMAIN_CONTAINER = "CN=Accepted Domains,CN=Transport Settings,"
# When the organization and its accepted domains were made: the sandbox does not record it (a fixed, plainly
# artificial date rather than the time of the read).
CREATED = "2020-01-01T00:00:00.0000000+00:00"

SCHEMAS = {
    "get-organizationconfig": schema((Param("Identity"),)),
    "set-organizationconfig": schema((Param("RejectDirectSend", "bool", nullable=False),)),
    "get-accepteddomain": schema((Param("Identity"), Param("ResultSize", "any"))),
}


def _stored(store):
    row = store.conn.execute("SELECT value FROM meta WHERE key = ?", (ORGANIZATION_KEY,)).fetchone()
    settings = dict(DEFAULTS)
    if row:
        settings.update(json.loads(row[0]))
    return settings


def _guid(store, what):
    return str(uuid.uuid5(uuid.UUID(store.tenant_id), what))


def organization_record(store):
    """The Get-OrganizationConfig object of the tenant."""
    settings = _stored(store)
    label = store.tenant_domain.split(".", 1)[0]
    changed = settings.get("WhenChanged") or CREATED
    obj = {"Name": store.tenant_domain, "DisplayName": label, "Guid": _guid(store, "organization"),
           "RejectDirectSend": bool(settings["RejectDirectSend"]), "IsDehydrated": False,
           "WhenChanged": changed, "WhenCreated": CREATED}
    return common_tail(obj, _ORG_CONTAINER, "msExchOrganizationContainer", store.tenant_domain, store.tenant_id)


def get_organization(store, bound):
    identity = bound.get("Identity")
    record = organization_record(store)
    if identity is not None and str(identity).strip().lower() not in (
            record["Name"].lower(), record["Guid"].lower(), record["DisplayName"].lower()):
        not_found(identity)
    return [record]


def set_organization(store, bound):
    settings = _stored(store)
    changed = dict((k, v) for k, v in bound.items() if k in DEFAULTS and settings.get(k) != v)
    if not changed:
        store.warn(unchanged_warning(store.tenant_domain))
        return []
    settings.update(changed)
    settings["WhenChanged"] = fmt_date(utcnow())
    store.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (ORGANIZATION_KEY, json.dumps(settings)))
    return []


def accepted_domain_record(store, domain, domain_type):
    obj = {"Name": domain, "DomainName": domain, "DomainType": domain_type,
           "Default": domain.lower() == store.tenant_domain.lower(), "Guid": _guid(store, "accepted:" + domain.lower()),
           "WhenChanged": CREATED, "WhenCreated": CREATED}
    return common_tail(obj, _DOMAIN_CONTAINER, "msExchAcceptedDomain", store.tenant_domain, store.tenant_id)


def get_accepted_domains(store, bound):
    records = [accepted_domain_record(store, domain, kind) for domain, kind in store.accepted_domains()]
    identity = bound.get("Identity")
    if identity is not None:
        wanted = str(identity).strip().lower()
        found = [r for r in records if wanted in (r["Name"].lower(), r["Guid"].lower())]
        if not found:
            not_found(identity)
        return found
    return limit_results(store, records, bound)


HANDLERS = {
    "get-organizationconfig": get_organization,
    "set-organizationconfig": set_organization,
    "get-accepteddomain": get_accepted_domains,
}
