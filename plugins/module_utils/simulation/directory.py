# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a simulation knows about the tenant's directory: its recipients (``Get-Recipient`` records) and its accepted
domains (``Get-AcceptedDomain`` records, or domain names).

Rule conditions look at the directory in three ways: the address a rule compares (a recipient's primary SMTP
address, ``RecipientAddressType Resolved``), the AD attributes (``Department``...) of the sender and the recipients,
and whether an address is inside the organization (``FromScope`` / ``SentToScope``, by the accepted domains and the
directory). What the directory does not say is *unknown*, never assumed empty: an attribute is known when the
message gives it (``sender_attributes`` / ``recipient_attributes``) or when the person's ``Get-Recipient`` record has
the property (a property read back as null is known to be empty).

The AD attribute names of the rule vocabulary are mapped to ``Get-Recipient`` properties below. ``Get-Recipient``
returns a reduced recipient (``ReducedRecipient``: Exchange API reference, documented): the attributes it does not
carry (``Initials``, ``FaxNumber``, ``HomePhoneNumber``, ``MobileNumber``, ``PagerNumber``, ``POBox``, ``Street`` and
the "Other" phone numbers) are unknown unless the message gives them. The mapping of each name is inferred from the
property names; ``Manager`` holds the manager's identity (a name), resolved against the directory.

Group membership is not in a ``Get-Recipient`` record and would cost one read per group (``Get-DistributionGroupMember``):
it is known only when the message gives ``MemberOf`` for the person (or a record carries a ``MemberOf`` list, as
records given as data may).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.mailflow.plugins.module_utils import values as n

# Rule AD attribute -> Get-Recipient property (None: not in a Get-Recipient record).
ATTRIBUTE_PROPERTIES = {
    "City": "City", "Company": "Company", "Country": "CountryOrRegion", "Department": "Department",
    "DisplayName": "DisplayName", "Email": "PrimarySmtpAddress", "FirstName": "FirstName", "LastName": "LastName",
    "Manager": "Manager", "Notes": "Notes", "Office": "Office", "PhoneNumber": "Phone", "State": "StateOrProvince",
    "Title": "Title", "UserLogonName": "WindowsLiveID", "ZipCode": "PostalCode",
    "FaxNumber": None, "HomePhoneNumber": None, "Initials": None, "MobileNumber": None, "OtherFaxNumber": None,
    "OtherHomePhoneNumber": None, "OtherPhoneNumber": None, "PagerNumber": None, "POBox": None, "Street": None,
}
ATTRIBUTE_PROPERTIES.update(("CustomAttribute%d" % i, "CustomAttribute%d" % i) for i in range(1, 16))
DOMAIN_TYPES = ("Authoritative", "InternalRelay", "ExternalRelay")
# Recipient types that are "in the organization" for the scope conditions (New-TransportRule reference, FromScope /
# SentToScope: a mailbox, mail user, group or mail-enabled public folder; a mail contact is not).
IN_ORGANIZATION_TYPES = ("UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox", "MailUser", "GroupMailbox",
                         "MailUniversalDistributionGroup", "MailUniversalSecurityGroup", "MailNonUniversalGroup",
                         "DynamicDistributionGroup", "PublicFolder", "MailEnabledPublicFolder")


def accepted_domains(value):
    """{domain (lower case, A-label): DomainType} from domain names, ``{name, type}`` mappings, Get-AcceptedDomain
    records (``DomainName``, ``DomainType``) or a mapping ``{domain: type}``."""
    out = {}
    if value is None:
        return out
    items = value.items() if isinstance(value, dict) else [(None, v) for v in value]
    for key, item in items:
        kind = "Authoritative"
        if key is not None:
            name, kind = key, item or kind
        elif isinstance(item, dict):
            name = item.get("DomainName") or item.get("name") or item.get("Name")
            kind = item.get("DomainType") or item.get("type") or kind
        else:
            name = item
        if not name:
            continue
        canonical = [t for t in DOMAIN_TYPES if t.lower() == str(kind).strip().lower()]
        out[n.domain_key(str(name).strip())] = canonical[0] if canonical else str(kind)
    return out


def _addresses(record):
    found = []
    for value in record.get("EmailAddresses") or []:
        text = str(value)
        prefix, sep, rest = text.partition(":")
        if sep and prefix.lower() == "smtp":
            found.append(rest)
        elif not sep:
            found.append(text)
    if record.get("PrimarySmtpAddress"):
        found.append(record["PrimarySmtpAddress"])
    return [a.lower() for a in found]


class Directory(object):
    """Lookups over the tenant's recipients and accepted domains. ``records`` None: the directory was not read."""

    def __init__(self, records=None, domains=None):
        self.read = records is not None
        self.records = list(records or [])
        self.domains = accepted_domains(domains)
        self.by_address = {}
        self.by_identity = {}
        for record in self.records:
            for address in _addresses(record):
                self.by_address.setdefault(address, record)
            for key in ("Name", "Alias", "DisplayName", "Guid", "ExternalDirectoryObjectId", "DistinguishedName",
                        "Identity", "WindowsLiveID"):
                value = record.get(key)
                if value:
                    self.by_identity.setdefault(str(value).lower(), []).append(record)

    # ------------------------------------------------------------------ recipients
    def find(self, address):
        """The record whose addresses include ``address`` (any proxy address), or None."""
        return self.by_address.get(str(address or "").lower())

    def resolve(self, identity):
        """The one record an identity (address, name, alias, display name, GUID, DN) finds, or None."""
        text = str(identity or "").strip().lower()
        if not text:
            return None
        record = self.by_address.get(text)
        if record is not None:
            return record
        found = self.by_identity.get(text) or []
        unique = dict((id(r), r) for r in found)
        return list(unique.values())[0] if len(unique) == 1 else None

    def identities(self, identity):
        """Every spelling that names the same recipient as ``identity`` (lower case): the value itself, and when the
        directory finds it, its addresses, name, alias and display name."""
        keys = set([str(identity or "").strip().lower()])
        record = self.resolve(identity)
        if record is not None:
            keys.update(_addresses(record))
            keys.update(str(record.get(k)).lower() for k in ("Name", "Alias", "DisplayName", "Identity")
                        if record.get(k))
        keys.discard("")
        return keys

    def primary(self, address):
        """The primary SMTP address of the recipient ``address`` reaches, or ``address`` itself."""
        record = self.find(address)
        return record["PrimarySmtpAddress"] if record is not None and record.get("PrimarySmtpAddress") else address

    # ------------------------------------------------------------------ accepted domains
    def domain_type(self, address_or_domain):
        """The DomainType of the accepted domain an address (or domain) is in, or None."""
        domain = str(address_or_domain or "").rpartition("@")[2]
        return self.domains.get(n.domain_key(domain)) if domain else None


def attribute(record, given, name):
    """(known, value) of the AD attribute ``name`` for a person: what the message gives wins, then the record."""
    if name in given:
        return True, given[name]
    if record is None:
        return False, None
    prop = ATTRIBUTE_PROPERTIES.get(name)
    if prop is None or prop not in record:
        return False, None
    value = record.get(prop)
    if isinstance(value, dict):  # CountryInfo and similar read back as objects
        value = value.get("DisplayName") or value.get("Name") or ""
    return True, value if value is not None else ""
