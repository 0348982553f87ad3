#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: partner_outbound_connector
short_description: Manage an Exchange Online outbound connector to a partner organisation
version_added: 0.1.0
description:
  - Creates, updates or removes an outbound connector of type C(Partner) in Exchange Online, the connector that
    sends mail to a partner organisation, either for the partner's recipient domains or only for messages that a
    mail flow rule routes to it, delivered through the partner's MX records or through smart hosts, with the TLS
    the partner needs.
  - Secure by default, as the admin center wizard is. O(tls_settings) defaults to V(certificate_validation), that is
    TLS required and a certificate issued by a trusted CA. Opportunistic TLS only when you ask for it with
    V(opportunistic).
  - Idempotent; values are compared as Exchange Online stores them (domains without case, lists as sets). An
    update sends one call with only the properties that differ, including the ones that must change together
    (becoming rule-scoped clears the recipient domains; leaving domain validation clears O(tls_domain)).
  - List values are normalised before they are compared and before they are sent, with one entry per value
    (C([adatum.com, ADATUM.com]) is sent as C([adatum.com])) and host and domain names without a trailing dot
    (C(mail.adatum.com.) is C(mail.adatum.com), as the service stores it).
  - Bad input is refused before any call to the tenant, with the option and the fix in the message.
author:
  - m365.mailflow contributors (@m365-mailflow)
options:
  name:
    description:
      - Name of the connector, unique among outbound connectors (case-insensitive). At most 64 characters.
      - A name that begins or ends with white space is refused, because Exchange Online does not allow it.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the connector, V(absent) removes it.
      - A connector that mail flow rules still route to cannot be removed, disabled or taken out of rule scope;
        the module names those rules.
    type: str
    choices: [present, absent]
    default: present
  recipient_domains:
    description:
      - The recipient domains this connector delivers for. C(adatum.com) is that domain only, C(*.adatum.com) the
        domain and its subdomains. A wildcard inside a name is refused.
      - C(*) (every domain no other connector names, so all of the tenant's outbound mail to the internet goes
        through this connector) needs O(catch_all=true).
      - Unicode (internationalised) names such as C(bücher.example) are accepted and converted to their A-label
        form C(xn--bcher-kva.example), which is what is sent, compared and stored.
      - Required unless O(transport_rule_scoped=true); cannot be combined with it. When given, the list replaces
        the current one; V([]) clears it.
    type: list
    elements: str
  transport_rule_scoped:
    description:
      - Use the connector only for messages that a mail flow rule routes to it (the rule's
        C(route_message_outbound_connector) action), not for recipient domains.
    type: bool
  use_mx_record:
    description:
      - Deliver through the MX records of the recipient domains (V(true)) or through O(smart_hosts) (V(false)).
      - Defaults to V(false) when O(smart_hosts) is given, otherwise to the service default (MX delivery).
    type: bool
  smart_hosts:
    description:
      - Host names or public IPv4 addresses to deliver to when O(use_mx_record=false). Exchange Online always uses
        port 25, so a port (C(host:587)) is refused, as are private and reserved IPv4 addresses, a URL
        (C(smtp://host)) and a CIDR block with host bits set.
      - A host name in a Unicode domain (C(mx.bücher.example)) is converted to its A-label form.
      - Giving them together with O(use_mx_record=true) is refused, because the service would silently drop them.
    type: list
    elements: str
  tls_settings:
    description:
      - How Exchange Online secures the connection. V(certificate_validation) (default) requires TLS and a
        certificate issued by a trusted CA; V(domain_validation) also requires the certificate's subject or a SAN to
        match O(tls_domain); V(encryption_only) requires TLS but accepts any certificate, self-signed included;
        V(opportunistic) uses TLS when offered and sends in clear text otherwise (the service's C($null)).
      - With smart hosts these settings cover only the hop between Microsoft 365 and the smart host, not the hop
        from the smart host to the partner.
    type: str
    choices: [certificate_validation, domain_validation, encryption_only, opportunistic]
    default: certificate_validation
  tls_domain:
    description:
      - The name the partner's certificate must carry, a domain or C(*.domain) (bare C(*) is refused). Required by
        and only valid with O(tls_settings=domain_validation). An empty string clears it.
      - A Unicode name is converted to its A-label form.
    type: str
  validation_recipients:
    description:
      - Email addresses in the partner's domains that connector validation sends test messages to
        (see m365.mailflow.connector_validate). Set with a separate call after the connector is created, as the
        service requires.
      - The domain part of an address in a Unicode domain is converted to its A-label form.
    type: list
    elements: str
  test_mode:
    description:
      - Put the connector in test mode. Test-mode connectors are hidden from a plain C(Get-OutboundConnector), which
        warns about them; the module reads with C(IncludeTestModeConnectors), finds both kinds and does not pass
        that warning on.
    type: bool
  enabled:
    description:
      - Whether the connector is enabled. New connectors are enabled unless this is V(false).
    type: bool
  comment:
    description:
      - Free text, at most 1024 characters. An empty string clears it. Line breaks and tabs are kept; other control
        characters are refused.
    type: str
  mta_sts_mode:
    description:
      - Whether MTA-STS policies of the recipient domains are honoured. Recent in Exchange Online (documented in
        2026); a tenant that does not know it yet rejects the parameter.
    type: str
    choices: [opportunistic, none]
  smtp_dane_mode:
    description:
      - Whether DANE (TLSA records) of the recipient domains is used. Recent in Exchange Online (documented in
        2026); a tenant that does not know it yet rejects the parameter.
    type: str
    choices: [opportunistic, mandatory, none]
  route_all_messages_via_on_premises:
    description:
      - Only for OnPremises connectors; V(true) is refused on a partner connector. Accepted (as V(false)) so that
        exported definitions can be applied as they are.
    type: bool
  cloud_services_mail_enabled:
    description:
      - Only for OnPremises (hybrid) connectors; V(true) is refused on a partner connector.
    type: bool
  all_accepted_domains:
    description:
      - Only for OnPremises connectors; V(true) is refused on a partner connector.
    type: bool
  sender_rewriting_enabled:
    description:
      - Only for OnPremises connectors (sender rewriting, SRS); V(true) is refused on a partner connector.
    type: bool
  catch_all:
    description:
      - The opt-in that O(recipient_domains) with C(*) needs. Such a connector takes all of the tenant's outbound mail
        to the internet (every domain no other connector names) to the partner; without V(true) it is refused before
        any call, so that a stray C(*) cannot reroute a tenant's mail.
      - Not a property of the connector; nothing is sent for it.
    type: bool
    default: false
extends_documentation_fragment:
  - m365.mailflow.connection
  - m365.mailflow.attributes
notes:
  - The connector is always of type C(Partner). An existing connector of the same name but of type C(OnPremises)
    is refused, never converted.
  - C(Get-OutboundConnector) is documented to return either test-mode connectors or the others, not both; the
    module asks both ways, so a connector in test mode is never mistaken for a missing one.
seealso:
  - module: m365.mailflow.mail_flow_rule
  - module: m365.mailflow.partner_inbound_connector
  - name: New-OutboundConnector
    description: The Exchange Online cmdlet behind this module.
    link: https://learn.microsoft.com/powershell/module/exchangepowershell/new-outboundconnector
"""

EXAMPLES = r"""
- name: Route partner mail through connectors
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/m365.mailflow.exchange:
      tenant: contoso.onmicrosoft.com
      client_id: 00000000-0000-0000-0000-000000000000
      certificate_path: /etc/exo/app.pem
  tasks:
    - name: Only mail flow rules route to Adatum, through its smart host, with a *.adatum.com certificate
      m365.mailflow.partner_outbound_connector:
        name: Adatum outbound
        transport_rule_scoped: true
        smart_hosts: [mail.adatum.com]
        tls_settings: domain_validation
        tls_domain: "*.adatum.com"
        validation_recipients: [postmaster@adatum.com]

    - name: All mail to Fabrikam's domains through its MX records, certificate from a trusted CA
      m365.mailflow.partner_outbound_connector:
        name: Fabrikam outbound
        recipient_domains: [fabrikam.com, "*.fabrikam.com"]
        use_mx_record: true

    - name: A partner with a self-signed certificate (TLS still required)
      m365.mailflow.partner_outbound_connector:
        name: Litware outbound
        recipient_domains: [litware.example]
        smart_hosts: [smtp.litware.example]
        tls_settings: encryption_only
"""

RETURN = r"""
connector:
  description:
    - The connector as it stands after the task, in module option names (in check mode, as it would stand). Empty
      when the connector is absent.
    - Read-only facts come with it; C(last_validation_timestamp) is in UTC (C(YYYY-MM-DDTHH:MM:SSZ)).
  returned: always
  type: dict
  sample:
    name: Adatum outbound
    recipient_domains: []
    transport_rule_scoped: true
    use_mx_record: false
    smart_hosts: [mail.adatum.com]
    tls_settings: domain_validation
    tls_domain: "*.adatum.com"
    validation_recipients: [postmaster@adatum.com]
    test_mode: false
    enabled: true
    comment: null
    mta_sts_mode: opportunistic
    smtp_dane_mode: opportunistic
    route_all_messages_via_on_premises: false
    cloud_services_mail_enabled: false
    all_accepted_domains: false
    sender_rewriting_enabled: false
    guid: 2c9f3d8e-8a61-4b0e-9f0b-6a1e5d4c3b2a
    identity: Adatum outbound
    connector_type: Partner
    connector_source: Default
    is_validated: false
    last_validation_timestamp: null
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
  sample: [{"property": "tls_settings", "before": "encryption_only", "after": "certificate_validation"}]
changed_properties:
  description: The options whose values changed (or would change).
  returned: always
  type: list
  elements: str
  sample: [recipient_domains, transport_rule_scoped]
commands:
  description: The write calls made (or, in check mode, that would be made), each with the cmdlet and its parameters.
  returned: always
  type: list
  elements: dict
  sample:
    - cmdlet: Set-OutboundConnector
      parameters:
        Identity: 2c9f3d8e-8a61-4b0e-9f0b-6a1e5d4c3b2a
        IsTransportRuleScoped: true
        RecipientDomains: null
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: outbound connector 'Adatum outbound' created
service_warnings:
  description: Warnings Exchange Online returned.
  returned: when the service returned warnings
  type: list
  elements: str
"""

from ansible_collections.m365.mailflow.plugins.module_utils.module import MailflowModule
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import (
    OutboundConnectorSpec, argument_spec as argument_spec_of_outbound,
)


def main():
    argument_spec = argument_spec_of_outbound()
    module = MailflowModule(argument_spec)
    spec = OutboundConnectorSpec(catch_all=module.params["catch_all"])
    module.ensure(spec, module.params["name"], module.params["state"], spec.desired_state(module.params))


if __name__ == "__main__":
    main()
