# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recipients of the sandbox tenant: a small directory, ``Get-Recipient``, and the resolution of recipient values
that transport rules use (``From``, ``SentTo``, ``*MemberOf``, ``AddToRecipients``, ``CopyTo``...).

Written from the cmdlet reference and the decompiled tasks (``RecipientIdParameter.GetObjectsInOrganization``,
``Utils.ValidateRecipient`` / ``BuildSmtpAddressArray`` of the transport rule tasks):

* an identity matches a recipient by name, alias, display name (``*`` as a wildcard in those three), any SMTP proxy
  address, the user principal name, or a GUID, without case;
* ``Get-Recipient -Identity`` returns every match (inferred: a Get task writes all the objects an identity finds),
  and answers ``ManagementObjectNotFoundException`` when there is none;
* a rule stores the primary SMTP address of the one recipient a value finds; a value that finds none is kept when it
  is an SMTP address (also ``Name <address>``) and refused otherwise; a value that finds several is refused;
* ``SentTo`` refuses distribution groups, and so do the actions that add recipients (``AddToRecipients``,
  ``CopyTo``, ``BlindCopyTo``, ``RedirectMessageTo``); ``*MemberOf`` takes any recipient.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import json
import re
import uuid

from ansible_collections.m365.mailflow.plugins.module_utils.rule_parameters import ALL_OPTIONS
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.binding import (
    ARGUMENT, FOREST, NOT_FOUND, CmdletError, HashUpdate, Param, not_found, schema,
)
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.store import limit_results
from ansible_collections.m365.mailflow.plugins.module_utils.service_data import GROUP_RECIPIENT_TYPES

AMBIGUOUS = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException"
INVALID_OPERATION = "System.InvalidOperationException"

RECIPIENT_TYPES = ("UserMailbox", "MailUser", "MailContact", "MailUniversalDistributionGroup",
                   "MailUniversalSecurityGroup", "DynamicDistributionGroup", "GroupMailbox", "SharedMailbox")
_TYPE_OF_DETAILS = {"GroupMailbox": "MailUniversalDistributionGroup", "SharedMailbox": "UserMailbox"}
_ADDRESS = re.compile(r"^[^@\s;,<>()\"\[\]]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_NAMED = re.compile(r"^[^<>]*<([^<>]+)>$")

# The directory a new sandbox tenant starts with (primary addresses in contoso.com, an accepted domain of every
# sandbox tenant; a second address in the tenant's own domain). Tests and users add more with
# SandboxTenant.add_recipient().
SEED = (
    {"name": "alice", "display_name": "Alice Adams", "alias": "alice", "primary": "alice@contoso.com",
     "secondary": ["alice.adams@contoso.com", "alice@{tenant}"], "kind": "UserMailbox"},
    {"name": "bob", "display_name": "Bob Baker", "alias": "bob", "primary": "bob@contoso.com",
     "secondary": ["bob@{tenant}"], "kind": "UserMailbox"},
    {"name": "Accounting Team", "display_name": "Accounting Team", "alias": "accounting",
     "primary": "accounting@contoso.com", "secondary": ["finance@contoso.com", "accounting@{tenant}"],
     "kind": "MailUniversalDistributionGroup"},
    {"name": "Partners", "display_name": "Partners", "alias": "partners", "primary": "partners@contoso.com",
     "secondary": [], "kind": "MailUniversalSecurityGroup"},
    {"name": "Sales", "display_name": "Sales", "alias": "sales", "primary": "sales@contoso.com", "secondary": [],
     "kind": "MailUniversalDistributionGroup"},
    {"name": "Operations", "display_name": "Operations", "alias": "ops", "primary": "ops@contoso.com",
     "secondary": [], "kind": "MailUniversalDistributionGroup"},
)


# Directory attributes of a Get-Recipient record (the ReducedRecipient properties of the Exchange API reference:
# City, Company, CountryOrRegion, CustomAttribute1-15, Department, FirstName, LastName, Manager, Notes, Office, Phone,
# PostalCode, StateOrProvince, Title; documented), read back as null when unset. Mail flow rules match the AD
# attributes of senders and recipients against them (SenderADAttributeContainsWords...).
ATTRIBUTES = ("City", "Company", "CountryOrRegion", "Department", "FirstName", "LastName", "Manager", "Notes",
              "Office", "Phone", "PostalCode", "StateOrProvince", "Title") + tuple(
    "CustomAttribute%d" % i for i in range(1, 16))


def attribute_name(name):
    """The canonical spelling of a directory attribute of ``ATTRIBUTES`` (any case), or None."""
    wanted = str(name).strip().lower()
    return next((a for a in ATTRIBUTES if a.lower() == wanted), None)


# --------------------------------------------------------------------------- records

def make_recipient(tenant_domain, tenant_id, name, display_name=None, alias=None, primary=None, secondary=(),
                   kind="UserMailbox", attributes=None):
    """A Get-Recipient record (the properties transport rules and the client use, in the service's shapes).
    ``attributes``: directory attributes of ``ATTRIBUTES`` (any case), the others read back as null."""
    if kind not in RECIPIENT_TYPES:
        raise ValueError("kind must be one of %s" % ", ".join(RECIPIENT_TYPES))
    values = dict((a, None) for a in ATTRIBUTES)
    for key, value in (attributes or {}).items():
        canonical = attribute_name(key)
        if canonical is None:
            raise ValueError("%s is not a directory attribute; use one of %s" % (key, ", ".join(ATTRIBUTES)))
        values[canonical] = None if value is None else str(value)
    alias = alias or re.sub(r"[^A-Za-z0-9._-]", "", name) or "recipient"
    primary = primary or "%s@%s" % (alias, tenant_domain)
    addresses = ["SMTP:" + primary] + ["smtp:" + a.replace("{tenant}", tenant_domain) for a in secondary]
    guid = str(uuid.uuid4())
    ou = "OU=%s,OU=Microsoft Exchange Hosted Organizations,%s" % (tenant_domain, FOREST)
    record = {
        "Name": name, "DisplayName": display_name or name, "Alias": alias, "PrimarySmtpAddress": primary,
        "EmailAddresses": addresses, "RecipientType": _TYPE_OF_DETAILS.get(kind, kind), "RecipientTypeDetails": kind,
        "WindowsLiveID": primary if kind in ("UserMailbox", "MailUser") else "",
        "ExternalDirectoryObjectId": str(uuid.uuid4()), "ExchangeObjectId": guid, "Guid": guid, "Identity": name,
        "Id": name, "DistinguishedName": "CN=%s,%s" % (name, ou),
        "OrganizationId": "NAMPR08A008.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/%s - %s"
                          % (tenant_domain, tenant_id),
        "IsValid": True,
    }
    record.update(values)
    return record


def is_group(recipient):
    return recipient.get("RecipientType") in GROUP_RECIPIENT_TYPES


def directory(conn):
    """Every recipient of the tenant (the ``recipients`` table of an open connection), by name."""
    return [json.loads(row[0]) for row in conn.execute("SELECT data FROM recipients ORDER BY name_lc")]


# --------------------------------------------------------------------------- finding recipients

def _like(pattern, value):
    value = (value or "").lower()
    if "*" in pattern:
        return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]").replace("?", "[?]"))
    return value == pattern


def matches(store, identity):
    """Every recipient ``identity`` finds (see the module docstring for the properties it is matched against)."""
    wanted = str(identity).strip().lower()
    if not wanted:
        return []
    found = []
    for rec in directory(store.conn):
        proxies = [a.split(":", 1)[-1].lower() for a in rec.get("EmailAddresses") or []]
        exact = (wanted in proxies or wanted in (rec["Guid"].lower(), rec["ExternalDirectoryObjectId"].lower(),
                                                 (rec.get("WindowsLiveID") or "").lower(),
                                                 rec["DistinguishedName"].lower()))
        if exact or any(_like(wanted, rec.get(k)) for k in ("Name", "Alias", "DisplayName")):
            found.append(rec)
    return sorted(found, key=lambda r: r["Name"].lower())


def get_recipients(store, bound):
    recipients = directory(store.conn)
    if bound.get("Identity") is not None:
        recipients = matches(store, bound["Identity"])
        if not recipients:
            not_found(bound["Identity"])
    if bound.get("RecipientTypeDetails"):
        kinds = set(k.lower() for k in bound["RecipientTypeDetails"])
        recipients = [r for r in recipients if r["RecipientTypeDetails"].lower() in kinds]
    return limit_results(store, recipients, bound)


# --------------------------------------------------------------------------- rule parameters

# Recipient parameters of New/Set-TransportRule the sandbox knows, and what each refuses.
SENT_TO = ("SentTo", "ExceptIfSentTo")
ADDED = ("AddToRecipients", "CopyTo", "BlindCopyTo", "RedirectMessageTo")
# REF (ModerateMessageByUser): "You can't use distribution groups" (the role the shared table records).
MODERATORS = tuple(e["param"] for e in ALL_OPTIONS if e.get("role") == "moderator")
# Every recipient parameter of the shared constant table (its kind says which take recipients), ExceptIf forms too.
RULE_PARAMETERS = tuple(e["param"] for e in ALL_OPTIONS if e["kind"] in ("recipients", "recipient"))


def _resolve_one(store, parameter, value):
    """The address a rule stores for ``value`` given to ``parameter``, or raise the service's error."""
    found = matches(store, value)
    if len(found) > 1:
        raise CmdletError("The operation couldn't be performed because '%s' matches multiple entries." % value,
                          exc_type=AMBIGUOUS, key="RecipientNotUnique")
    if not found:
        named = _NAMED.match(value)
        address = (named.group(1) if named else value).strip()
        if _ADDRESS.match(address):
            if named:
                return _resolve_one(store, parameter, address)
            return address  # an address outside the directory is kept as given
        raise CmdletError("Couldn't find object \"%s\". Please make sure that it was spelled correctly or specify a "
                          "different object." % value, exc_type=NOT_FOUND, status=404, key="RecipientNotFound")
    recipient = found[0]
    if parameter in SENT_TO and is_group(recipient):
        raise CmdletError("The recipient '%s' in the %s condition can't be a distribution group; use %sMemberOf to "
                          "match its members." % (value, parameter, parameter), exc_type=ARGUMENT,
                          key="SentToDistributionGroup")
    if parameter in MODERATORS and is_group(recipient):
        raise CmdletError("The moderator '%s' given to %s can't be a distribution group; give a user." % (value, parameter),
                          exc_type=ARGUMENT, key="ModeratorDistributionGroup")
    if parameter in ADDED and is_group(recipient):
        raise CmdletError("The recipient '%s' added by the %s action can't be a distribution group." % (value, parameter),
                          exc_type=INVALID_OPERATION, key="AddedRecipientDistributionGroup")
    return recipient["PrimarySmtpAddress"]


def resolve_rule_recipients(store, bound):
    """``bound`` with every recipient value replaced by the address the rule stores (New and Set, Add/Remove too)."""
    out = dict(bound)
    for parameter in RULE_PARAMETERS:
        value = bound.get(parameter)
        if isinstance(value, HashUpdate):
            out[parameter] = HashUpdate([_resolve_one(store, parameter, v) for v in value.add],
                                        [_resolve_one(store, parameter, v) for v in value.remove])
        elif isinstance(value, str) and value:
            out[parameter] = _resolve_one(store, parameter, value)
        elif value:
            out[parameter] = [_resolve_one(store, parameter, v) for v in value]
    return out


SCHEMAS = {
    "get-recipient": schema((Param("Identity"), Param("ResultSize", "any"),
                             Param("RecipientTypeDetails", "list", type_name="Microsoft.Exchange.Data.Directory."
                                   "Recipient.RecipientTypeDetails"))),
}
# Get-AcceptedDomain is answered with the organization's settings (sandbox/organization.py).
HANDLERS = {"get-recipient": get_recipients}
