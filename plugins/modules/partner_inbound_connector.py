#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: partner_inbound_connector
short_description: Manage an Exchange Online inbound connector for a partner organisation
version_added: 0.1.0
description:
  - Creates, updates or removes an inbound connector of type C(Partner) in Exchange Online, the connector that
    identifies mail from a partner organisation by its sender domains, its sending IP addresses or the TLS
    certificate it presents, and can require TLS for that mail or reject mail that does not come from the partner.
  - Idempotent. Values are compared the way Exchange Online stores them, so C(Adatum.com) equals the
    C(smtp:adatum.com;1) the service reads back, C(198.51.100.7) equals C(198.51.100.7/32), and lists are compared
    as sets. Only options you set are managed; an update sends only the properties that differ.
  - List values are normalised before they are compared and before they are sent, with one entry per value
    (C([adatum.com, ADATUM.com]) is sent as C([adatum.com]), C([198.51.100.1, 198.51.100.1/32]) as
    C([198.51.100.1])) and domains without a trailing dot (C(adatum.com.) is C(adatum.com)).
  - Bad input is refused before any call to the tenant, with the option and the fix in the message.
author:
  - m365.mailflow contributors (@m365-mailflow)
options:
  name:
    description:
      - Name of the connector, unique among inbound connectors (case-insensitive). At most 64 characters.
      - A name that begins or ends with white space is refused, because Exchange Online does not allow it.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the connector, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  sender_domains:
    description:
      - Sender domains of the partner. C(adatum.com) is that domain only, C(*.adatum.com) the domain and all its
        subdomains, C(*) any domain (when the partner is identified by IP address or certificate). The address
        space form C(smtp:adatum.com;1) is accepted too, with a cost from 1 to 100.
      - Required to create the connector; when given, the list replaces the current one.
      - A wildcard inside a name (C(mail.*.adatum.com)) is refused.
      - Unicode (internationalised) names such as C(bücher.example) are accepted and converted to their A-label
        form C(xn--bcher-kva.example), which is what is sent, compared and stored.
    type: list
    elements: str
  sender_ip_addresses:
    description:
      - Public IPv4 addresses the partner sends from, each a single address or a CIDR block from C(/24) to C(/32).
      - Ranges (C(a-b)), IPv6, blocks wider than C(/24) and private or reserved ranges are refused, as Exchange
        Online refuses them. So is a block with host bits set (C(198.51.100.7/24)); write the network
        (C(198.51.100.0/24)) or the single address. An empty list clears the addresses.
      - Exchange Online uses them only when O(restrict_domains_to_ip_addresses=true); given without it (on the
        task or on the connector), the module warns that they are ignored.
    type: list
    elements: str
  require_tls:
    description:
      - Reject mail from the partner that is not sent over TLS. The admin center wizard and this module default
        to V(true).
    type: bool
    default: true
  tls_sender_certificate_name:
    description:
      - The subject the partner's TLS certificate must carry, a domain or C(*.domain) (for example
        C(*.adatum.com)). A bare C(*) is refused. An empty string clears it.
      - A Unicode name (C(*.bücher.example)) is converted to its A-label form (C(*.xn--bcher-kva.example)).
      - Requires O(require_tls=true).
    type: str
  restrict_domains_to_certificate:
    description:
      - Reject mail from O(sender_domains) that is not sent with a certificate matching
        O(tls_sender_certificate_name).
      - Cannot be combined with O(restrict_domains_to_ip_addresses=true).
    type: bool
  restrict_domains_to_ip_addresses:
    description:
      - Reject mail from O(sender_domains) that does not come from O(sender_ip_addresses).
      - Requires O(sender_ip_addresses). Cannot be combined with O(restrict_domains_to_certificate=true).
    type: bool
  trusted_organizations:
    description:
      - Other Microsoft 365 organisations (by domain) trusted by this connector. When given, the list replaces the
        current one.
    type: list
    elements: str
  associated_accepted_domains:
    description:
      - Accepted domains of your organisation the connector applies to; each must be an accepted domain of the
        tenant. Empty means all accepted domains.
    type: list
    elements: str
  enabled:
    description:
      - Whether the connector is enabled. New connectors are enabled unless this is V(false).
    type: bool
  comment:
    description:
      - Free text, at most 1024 characters. An empty string clears it. Line breaks and tabs are kept; other control
        characters are refused.
    type: str
  ef_skip_ips:
    description:
      - Enhanced Filtering for Connectors; the IP addresses (single, CIDR or C(a-b) ranges) of hops to skip when
        finding the original source of a message. Only useful when mail reaches Microsoft 365 through another
        service first.
      - Private and reserved IPv4 addresses are refused, as Exchange Online refuses them (it skips them by itself).
    type: list
    elements: str
  ef_skip_last_ip:
    description:
      - Enhanced Filtering for Connectors; skip only the last hop.
    type: bool
  ef_users:
    description:
      - Enhanced Filtering for Connectors; the recipients it applies to (email addresses). Empty means all.
      - The domain part of an address in a Unicode domain is converted to its A-label form.
    type: list
    elements: str
extends_documentation_fragment:
  - m365.mailflow.connection
  - m365.mailflow.attributes
notes:
  - The connector is always of type C(Partner). An existing connector of the same name but of type C(OnPremises)
    is refused, never converted.
  - The service's documented default of C(RequireTls) differs between Microsoft sources; this module always sends
    O(require_tls) explicitly, so the result does not depend on it.
  - Changes to connectors can take a while to replicate in Exchange Online; a connector created a moment ago may
    not be readable yet. The module waits for it, bounded by O(retries).
seealso:
  - name: New-InboundConnector
    description: The Exchange Online cmdlet behind this module.
    link: https://learn.microsoft.com/powershell/module/exchangepowershell/new-inboundconnector
"""

EXAMPLES = r"""
- name: Connection settings once for the whole play
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/m365.mailflow.exchange:
      tenant: contoso.onmicrosoft.com
      client_id: 00000000-0000-0000-0000-000000000000
      certificate_path: /etc/exo/app.pem
  tasks:
    - name: Accept Adatum's mail only over TLS with a certificate for *.adatum.com
      m365.mailflow.partner_inbound_connector:
        name: Adatum inbound
        sender_domains:
          - adatum.com
          - "*.adatum.com"
        require_tls: true
        tls_sender_certificate_name: "*.adatum.com"
        restrict_domains_to_certificate: true
        comment: Managed by Ansible

    - name: Identify Fabrikam by IP address and reject mail from elsewhere
      m365.mailflow.partner_inbound_connector:
        name: Fabrikam inbound
        sender_domains: [fabrikam.com]
        sender_ip_addresses:
          - 198.51.100.0/24
          - 203.0.113.25
        restrict_domains_to_ip_addresses: true

- name: Try it against the embedded sandbox tenant (no credentials)
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create a connector in the sandbox tenant
      m365.mailflow.partner_inbound_connector:
        sandbox: /tmp/sandbox-tenant.db
        name: Adatum inbound
        sender_domains: [adatum.com]
      register: adatum

    - name: Show what the tenant holds now
      ansible.builtin.debug:
        var: adatum.connector

    - name: Remove the connector
      m365.mailflow.partner_inbound_connector:
        sandbox: /tmp/sandbox-tenant.db
        name: Adatum inbound
        state: absent
"""

RETURN = r"""
connector:
  description:
    - The connector as it stands after the task, in module option names (in check mode, as it would stand). Empty
      when the connector is absent.
  returned: always
  type: dict
  sample:
    name: Adatum inbound
    sender_domains: [adatum.com]
    sender_ip_addresses: []
    require_tls: true
    tls_sender_certificate_name: "*.adatum.com"
    restrict_domains_to_certificate: true
    restrict_domains_to_ip_addresses: false
    trusted_organizations: []
    associated_accepted_domains: []
    enabled: true
    comment: Managed by Ansible
    ef_skip_ips: []
    ef_skip_last_ip: false
    ef_users: []
    guid: 5a0e6e1c-1b6f-4a55-9c39-63d0f7f2b0e4
    identity: Adatum inbound
    connector_type: Partner
    connector_source: Default
    when_changed_utc: "2026-11-26T10:00:00.0000000Z"
before:
  description: The connector before the task, in the same form as RV(connector); empty if it did not exist.
  returned: always
  type: dict
after:
  description: Same as RV(connector).
  returned: always
  type: dict
action:
  description: What the task did or, in check mode, would do; one of C(create), C(update), C(delete), C(none).
  returned: always
  type: str
  sample: update
changes:
  description:
    - Each property that changed (or would change), with its value before and after as the service reads it back;
      the same shape as the C(changes) of M(m365.mailflow.partners)' objects.
  returned: always
  type: list
  elements: dict
  sample: [{"property": "sender_ip_addresses", "before": ["198.51.100.25"], "after": ["198.51.100.26"]}]
changed_properties:
  description: The options whose values changed (or would change).
  returned: always
  type: list
  elements: str
  sample: [comment, sender_ip_addresses]
commands:
  description:
    - The write calls made (or, in check mode, that would be made), each with the cmdlet and its parameters.
  returned: always
  type: list
  elements: dict
  sample:
    - cmdlet: Set-InboundConnector
      parameters:
        Identity: 5a0e6e1c-1b6f-4a55-9c39-63d0f7f2b0e4
        Comment: Managed by Ansible
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: inbound connector 'Adatum inbound' updated
service_warnings:
  description:
    - Warnings Exchange Online returned (for example about IP ranges that overlap another connector), and warnings
      about the input (O(sender_ip_addresses) without O(restrict_domains_to_ip_addresses=true)).
  returned: when there are warnings
  type: list
  elements: str
"""

from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import (
    InboundConnectorSpec, argument_spec as argument_spec_of_inbound,
)
from ansible_collections.m365.mailflow.plugins.module_utils.module import MailflowModule


def main():
    argument_spec = argument_spec_of_inbound()
    module = MailflowModule(argument_spec)
    spec = InboundConnectorSpec()
    module.ensure(spec, module.params["name"], module.params["state"], spec.desired_state(module.params))


if __name__ == "__main__":
    main()
