# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Constant facts about Exchange Online that the client and the sandbox tenant share.

Data only, no logic: the client (``values``, ``fields``, ``resources``) and the sandbox (``sandbox/``), which is an independent
oracle of the service, both import these tables so that they can never disagree about them. Each fact names its
source and whether it is confirmed or inferred (see also ``docs/dev/architecture.md``, "Values as the service
stores them").
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# IPv4 networks Exchange Online refuses in connector IP lists (SenderIPAddresses, IP smart hosts, EFSkipIPs).
# Source: the service's own validator, ``Microsoft.Exchange.Management.Common.IPAddressValidation`` (decompiled,
# read in code): its "reserved" regular expression is exactly 10.x.x.x, 172.16-31.x.x, 192.168.x.x, 127.0.0.x,
# 169.254.x.x and 0.0.0.0, and the same validator refuses a first octet of 0 as an invalid address (checked
# separately). Note 127.0.0.0/24, not 127/8: the expression only covers 127.0.0.x. Ranges that are merely special
# elsewhere (100.64.0.0/10, multicast, 240.0.0.0/4) are not refused by the service, so they are not here.
# For EFSkipIPs: confirmed by MicrosoftDocs/OfficeDocs-Exchange#1960 (all RFC 1918 ranges refused, as a single
# address and as CIDR) and PR #1982 ("private IPs can't be added; they are skipped automatically").
RESERVED_IPV4_NETWORKS = (
    "0.0.0.0/32",
    "10.0.0.0/8",
    "127.0.0.0/24",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
)

# Units of ``Microsoft.Exchange.Data.ByteQuantifiedSize`` (AttachmentSizeOver, MessageSizeOver...), largest first.
# Source: the decompiled struct (read in code): binary units, "B" or no unit means bytes; read back as
# "<value:G4> <unit> (<bytes:N0> bytes)" in the largest unit of which the size holds at least one, e.g.
# "10 MB (10,485,760 bytes)"; live captures show the same form ("99 GB (106,300,440,576 bytes)", exo_rest_api.md 4.2).
SIZE_UNITS = (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1))

# Recipient types that are groups (ADRecipient RecipientType): the transport rule tasks treat exactly these as
# distribution groups (``Utils.GetRecipientMailEnabledRecipient``, read in code). Microsoft 365 groups are
# RecipientType MailUniversalDistributionGroup (RecipientTypeDetails GroupMailbox).
GROUP_RECIPIENT_TYPES = (
    "MailUniversalDistributionGroup",
    "MailUniversalSecurityGroup",
    "MailNonUniversalGroup",
    "DynamicDistributionGroup",
)

# The most one transport rule's conditions, exceptions and actions may take together: 8 KB. Source: the Exchange
# Online limits page (service description, "Size of one rule"; OfficeDocs-Support #1277 says the same), documented.
# How the service measures it (its own serialisation of the rule) is not known; the client refuses only rules whose
# values alone are longer, which the service's measure cannot be shorter than (inferred).
RULE_SIZE_MAX = 8192
# Transport rules in one organization: at most 300 (Exchange Online limits page, connector_cmdlets.md section 6).
RULES_MAX = 300

# The outbound connector's TLS modes: module option value -> TlsSettings (TlsAuthLevel enum of
# Set-OutboundConnector, cmdlets/New-OutboundConnector.md, documented). TlsSettings $null is opportunistic TLS.
TLS_SETTINGS = (
    ("encryption_only", "EncryptionOnly"),
    ("certificate_validation", "CertificateValidation"),
    ("domain_validation", "DomainValidation"),
)

# Active Directory attributes a transport rule can match (SenderADAttributeContainsWords, ...MatchesPatterns and
# their recipient forms): the list of the New-TransportRule reference (cmdlets/New-TransportRule.md), documented.
AD_ATTRIBUTES = (
    "City", "Company", "Country", "CustomAttribute1", "CustomAttribute2", "CustomAttribute3", "CustomAttribute4",
    "CustomAttribute5", "CustomAttribute6", "CustomAttribute7", "CustomAttribute8", "CustomAttribute9", "CustomAttribute10",
    "CustomAttribute11", "CustomAttribute12", "CustomAttribute13", "CustomAttribute14", "CustomAttribute15", "Department",
    "DisplayName", "Email", "FaxNumber", "FirstName", "HomePhoneNumber", "Initials", "LastName", "Manager", "MobileNumber",
    "Notes", "Office", "OtherFaxNumber", "OtherHomePhoneNumber", "OtherPhoneNumber", "PagerNumber", "PhoneNumber", "POBox",
    "State", "Street", "Title", "UserLogonName", "ZipCode",
)
