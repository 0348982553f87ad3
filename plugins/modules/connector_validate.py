#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: connector_validate
short_description: Prove that a partner connector delivers, and say exactly why when it does not
version_added: 0.1.0
description:
  - Validates an outbound partner connector the way the admin center's wizard does at its end, and explains a
    failure well enough to fix it. The connector stays saved whatever the outcome.
  - B(Service validation) runs C(Validate-OutboundConnector), which connects to the connector's smart hosts and
    sends a real test message from C(O365ConnectorValidation@<tenant>) to O(recipients). Its result tree is
    returned as it came. When it passes (and O(record=true)) the connector is marked validated with the time, as
    the admin center does and the cmdlet does not.
  - B(Local probe) from the control node, before and independent of the service. It works out the route (the
    smart hosts, or the MX records of each recipient domain, then their addresses), connects on port 25, sends
    EHLO and STARTTLS, and checks the certificate the way the connector's TLS settings will (any certificate,
    a chain to a trusted CA, or a subject or SAN matching the TLS domain), including expiry and self-signed
    certificates. Hosts are probed concurrently with bounded timeouts.
  - Every failure is classified (C(resolve), C(resolver_timeout), C(connect), C(ehlo), C(starttls),
    C(certificate_untrusted), C(certificate_self_signed), C(certificate_expired), C(subject_mismatch),
    C(recipient_rejected)) with the host, the evidence and a one-line fix. A DNS lookup that times out is
    C(resolver_timeout) (check O(dns_servers) and that the resolver is reachable), not a missing record.
  - Impossible settings (O(smtp_port) outside 1-65535, O(probe_timeout) of 0 or less, a O(dns_servers) entry that
    is not an IP address with an optional port from 1 to 65535) are refused before any call.
  - A connector created by an earlier task of the same run moments ago may not be visible yet (replication delay);
    the module waits for it within O(retries) and O(retry_delay).
  - A failed validation is a result, not a task failure, so a play can save the connector and still report why
    it does not deliver; set O(fail_on_invalid=true) to make it fatal.
  - For an inbound connector, which the service cannot validate, the module checks what can be checked from
    here (the partner's MX hosts present a certificate matching the required certificate name; sender IP forms)
    and says that the final proof is a test message from the partner.
author:
  - m365.mailflow contributors (@m365-mailflow)
options:
  name:
    description:
      - Name of the connector to validate.
    type: str
    required: true
  direction:
    description:
      - Whether O(name) is an outbound or an inbound connector.
    type: str
    choices: [outbound, inbound]
    default: outbound
  recipients:
    description:
      - Addresses in the partner's domains that the test message goes to. Defaults to the connector's
        C(validation_recipients).
      - The partner must accept mail from C(O365ConnectorValidation@<tenant>.onmicrosoft.com).
    type: list
    elements: str
  service_validation:
    description:
      - Run C(Validate-OutboundConnector) in the tenant. Not run in check mode (it sends real messages), and not
        available for inbound connectors.
    type: bool
    default: true
  probe:
    description:
      - Probe the route from the control node (DNS, SMTP, STARTTLS, certificate). The probe never sends a message.
      - The control node's view of DNS and the network can differ from Microsoft 365's; a probe failure that the
        service validation does not show usually means a local firewall or resolver.
    type: bool
    default: true
  record:
    description:
      - After a service validation, keep the connector's C(IsValidated) mark in line with the result, setting
        C(LastValidationTimestamp) when it passes. Nothing is written when the mark already matches, so a re-run
        reports no change.
    type: bool
    default: true
  fail_on_invalid:
    description:
      - Fail the task when the connector does not validate. By default a failed validation is returned as a result.
    type: bool
    default: false
  smtp_port:
    description:
      - Port the probe connects to (1-65535). Exchange Online always uses 25; change it only for tests.
    type: int
    default: 25
  dns_servers:
    description:
      - DNS servers (C(ip), C(ip:port) or C([ipv6]:port), port 1-65535) the probe asks instead of the system
        resolver, for split-horizon networks or tests.
    type: list
    elements: str
  probe_ca_path:
    description:
      - CA bundle (PEM file or directory) the probe trusts instead of the system store when checking the partner's
        certificate.
    type: path
  probe_timeout:
    description:
      - Timeout of each network step of the probe, in seconds; more than 0.
    type: float
    default: 10.0
extends_documentation_fragment:
  - m365.mailflow.connection
  - m365.mailflow.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode no test message is sent and nothing is written; only the local probe runs.
  diff_mode:
    support: none
    details:
      - The only write is the connector's validation mark (O(record)); it is reported in C(changed), without a diff.
notes:
  - How C(Validate-OutboundConnector) reports its tasks over the REST endpoint (task names, nesting) is not
    documented by Microsoft; failures are classified from the task names and details, and anything not recognised
    is returned with class C(unknown) and the raw tree in RV(service_result).
seealso:
  - module: m365.mailflow.partner_outbound_connector
  - name: Validate-OutboundConnector
    description: The Exchange Online cmdlet behind the service validation.
    link: https://learn.microsoft.com/powershell/module/exchangepowershell/validate-outboundconnector
"""

EXAMPLES = r"""
- name: Validate Adatum's connector and keep going whatever the result
  m365.mailflow.connector_validate:
    name: Adatum outbound
    recipients: [postmaster@adatum.com]
  register: adatum_validation

- name: Report why it failed
  ansible.builtin.debug:
    msg: "{{ adatum_validation.summary }}"
  when: not adatum_validation.validated

- name: Only the local probe, against a split-horizon resolver, failing the play when it does not pass
  m365.mailflow.connector_validate:
    name: Fabrikam outbound
    service_validation: false
    recipients: [it@fabrikam.com]
    dns_servers: [10.0.0.53]
    fail_on_invalid: true

- name: Check what can be checked for an inbound connector
  m365.mailflow.connector_validate:
    name: Adatum inbound
    direction: inbound
"""

RETURN = r"""
validated:
  description: True only if every check that ran passed (every probed host and the service validation).
  returned: always
  type: bool
  sample: false
failures:
  description: Every failure found, each classified.
  returned: always
  type: list
  elements: dict
  contains:
    class:
      description:
        - One of C(resolve), C(resolver_timeout), C(connect), C(ehlo), C(starttls), C(certificate_untrusted),
          C(certificate_self_signed), C(certificate_expired), C(subject_mismatch), C(recipient_rejected),
          C(sender_ip) (inbound), C(unknown).
      type: str
      sample: subject_mismatch
    host:
      description: The host (or address) concerned.
      type: str
      sample: mail.adatum.com
    message:
      description: What failed, in one line.
      type: str
    evidence:
      description: What was seen (DNS answer, SMTP reply, certificate subject and names, ...).
      type: str
    fix:
      description: What to do about it, in one line.
      type: str
    source:
      description: Where the failure was found, C(probe), C(service) or C(check).
      type: str
  sample:
    - class: subject_mismatch
      host: mail.adatum.com
      message: certificate presented by mail.adatum.com does not match *.adatum.com
      evidence: "subject CN=mail.other.example; SANs: mail.other.example"
      fix: Install a certificate whose subject or SAN matches *.adatum.com, or change tls_domain
      source: probe
failure_classes:
  description: The distinct failure classes, sorted.
  returned: always
  type: list
  elements: str
  sample: [subject_mismatch]
summary:
  description: One line with the verdict and, on failure, the first cause and its fix.
  returned: always
  type: str
  sample: "outbound connector 'Adatum outbound' failed validation: [subject_mismatch] ... Fix: ..."
service_result:
  description: The C(Validate-OutboundConnector) result tree (TaskName, IsTaskSuccessful, TaskDetail, SubTaskResults).
  returned: when the service validation ran
  type: dict
probe_results:
  description: The local probe's route and per-host results (steps, certificate facts, failures).
  returned: when the probe ran
  type: dict
recorded:
  description: Whether the connector's validation mark was written (or, in check mode, would have been).
  returned: always
  type: bool
notes:
  description: What was skipped and why (check mode, inbound connectors, nothing to probe).
  returned: always
  type: list
  elements: str
connector:
  description: Name of the validated connector.
  returned: always
  type: str
last_validation_timestamp:
  description:
    - When the connector was last marked validated (the time just recorded when this task recorded a pass), in UTC
      (C(YYYY-MM-DDTHH:MM:SSZ)); null when it never was.
  returned: always
  type: str
  sample: "2026-07-24T18:59:12Z"
commands:
  description: The write calls made to record the result.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.m365.mailflow.plugins.module_utils.module import MailflowModule
from ansible_collections.m365.mailflow.plugins.module_utils.validation.connector_validation import Validation


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        direction=dict(type="str", choices=["outbound", "inbound"], default="outbound"),
        recipients=dict(type="list", elements="str"),
        service_validation=dict(type="bool", default=True),
        probe=dict(type="bool", default=True),
        record=dict(type="bool", default=True),
        fail_on_invalid=dict(type="bool", default=False),
        smtp_port=dict(type="int", default=25),
        dns_servers=dict(type="list", elements="str"),
        probe_ca_path=dict(type="path"),
        probe_timeout=dict(type="float", default=10.0),
    )
    module = MailflowModule(argument_spec)

    def work(mod):
        result = Validation(mod.client, mod.params, mod.check_mode).run()
        if mod.params["fail_on_invalid"] and not result["validated"]:
            mod.module.fail_json(**result)
        return result

    module.run(work)


if __name__ == "__main__":
    main()
