# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connector validation: the service's Validate-OutboundConnector, the local SMTP/TLS probe, and a diagnosis.

A failed validation is a result, not an error: the connector stays saved, and the caller gets ``validated``,
every failure with its class, host, evidence and fix, and a one-line summary.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.m365.mailflow.plugins.module_utils import engine
from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.validation import service_tree
from ansible_collections.m365.mailflow.plugins.module_utils.validation import smtp_probe as probe
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.resources.inbound_connector import InboundConnectorSpec
from ansible_collections.m365.mailflow.plugins.module_utils.resources.outbound_connector import OutboundConnectorSpec


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _nothing_to_read_back():
    """The verify of a call that leaves nothing in the tenant: it was not applied, send it again."""
    return False


def _plain_domains(domains):
    """Domains a probe can look up: address spaces and wildcards reduced to their base domain, '*' dropped."""
    out = []
    for value in domains or []:
        domain = n.parse_address_space(value)[0]
        if domain.startswith("*."):
            domain = domain[2:]
        if domain != "*" and domain not in out:
            out.append(domain)
    return out


def _recipient_domains(recipients):
    return _plain_domains(r.rsplit("@", 1)[1] for r in recipients or [])


def preflight(params):
    """Refuse settings no probe can use, naming the option and the fix, before any call."""
    n.raise_errors(n.probe_settings_problems(params))


class Validation(object):
    """One validation run; ``result()`` is the module result."""

    def __init__(self, client, params, check_mode, connector=None):
        self.client = client
        self.given = connector  # the connector as the caller already knows it (the partners module): no read
        self.params = params
        self.check_mode = check_mode
        self.failures = []
        self.notes = []
        self.service_result = None
        self.probe_results = None
        self.recorded = False
        self.record_command = None
        self.connector = None
        self.spec = None

    # ------------------------------------------------------------------ entry
    def run(self):
        preflight(self.params)
        name = self.params["name"]
        direction = self.params["direction"]
        self.spec = spec = OutboundConnectorSpec() if direction == "outbound" else InboundConnectorSpec()
        self.connector = self.given if self.given is not None else spec.read(self.client, name)
        if self.connector is None and engine.made_recently(self.client, spec.noun, name):
            # Created by an earlier task of this run: replication may not show it yet (live_evidence.md).
            self.connector = engine.await_visible(self.client, spec, name)
            if self.connector is None:
                engine.forget(self.client, spec, name)
                raise ConfigurationError(
                    "%s connector '%s' was created or changed by an earlier task of this run but Exchange Online does not show "
                    "it yet (replication delay). Re-run the task in a few minutes (it then takes the tenant as it reads "
                    "it), or raise retries or retry_delay." % (direction, name))
        if self.connector is None:
            raise ConfigurationError(
                "%s connector '%s' does not exist in the tenant: create it first (m365.mailflow.partner_%s_connector) "
                "or check the name" % (direction, name, direction))
        if direction == "outbound":
            self._outbound()
        else:
            self._inbound()
        return self.result()

    def _probe_options(self):
        return dict(
            ca_path=self.params.get("probe_ca_path"),
            dns_servers=self.params.get("dns_servers"),
            smtp_port=self.params.get("smtp_port"),
            timeout=self.params.get("probe_timeout"),
        )

    # ------------------------------------------------------------------ outbound
    def _outbound(self):
        connector = self.connector
        recipients = self.params.get("recipients") or connector.get("ValidationRecipients") or []
        errors = n.check_each("recipients", recipients, n.email_error)
        if self.params["service_validation"] and not recipients:
            errors.append("recipients: no recipients to send the test message to. Give recipients (addresses in the "
                          "partner's domains), or set validation_recipients on the connector")
        n.raise_errors(errors)
        # A recipient in a Unicode domain (anna@bücher.example) is looked up, probed and sent in its A-label form.
        recipients = [n.address_text(r) for r in recipients]
        use_mx = connector.get("UseMXRecord") is not False
        smart_hosts = [] if use_mx else list(connector.get("SmartHosts") or [])
        domains = _recipient_domains(recipients) or _plain_domains(connector.get("RecipientDomains"))
        tls_mode = probe.TLS_SETTINGS_TO_MODE.get(str(connector.get("TlsSettings") or "").lower())

        if self.params["probe"]:
            if not smart_hosts and not domains:
                self.notes.append("probe skipped: the connector delivers by MX and no recipient domain is known; give "
                                  "recipients")
            else:
                self.probe_results = probe.validate_route(
                    smart_hosts=smart_hosts or None, recipient_domains=None if smart_hosts else domains,
                    recipients=recipients, tls_mode=tls_mode, tls_domain=connector.get("TlsDomain"), send=False,
                    **self._probe_options())
                self.failures.extend(self._tag(self.probe_results.get("failures") or [], "probe"))

        if self.params["service_validation"]:
            if self.check_mode:
                self.notes.append("service validation (Validate-OutboundConnector) not run in check mode: it sends "
                                  "real test messages")
            else:
                # A connector created moments ago may not be found yet: waited for (engine.send, spec.lagging).
                # Validate-OutboundConnector changes nothing in the tenant (it sends test messages and reports; it
                # does not touch IsValidated, cmdlet reference), so after a transient failure it is simply sent again
                # (verify: "not applied"), within the retries, instead of failing the task as an unsure write.
                tree = engine.send(self.client, self.spec, self.params["name"], "Validate-OutboundConnector",
                                   {"Identity": connector.get("Guid") or connector.get("Name"), "Recipients": recipients},
                                   verify=_nothing_to_read_back)
                self.service_result = tree[0] if len(tree) == 1 else {"SubTaskResults": tree}
                # Every failed leaf task is classified (from its task name when its detail carries no class).
                self.failures.extend(self._tag(service_tree.failures_from_tree(self.service_result), "service"))
        self._record()

    @staticmethod
    def _tag(failures, source):
        out = []
        for failure in failures:
            failure = dict(failure)
            failure.setdefault("source", source)
            out.append(failure)
        return out

    def _ran_something(self):
        return self.probe_results is not None or self.service_result is not None

    @property
    def validated(self):
        return self._ran_something() and not self.failures

    def _record(self):
        """Keep IsValidated in line with the latest service validation, as the admin center does (the cmdlet does not).

        Only a service validation is recorded. A pass marks the connector validated with the time; a failure clears
        the mark. Nothing is written when the mark already says the same, so a re-run reports no change.
        """
        if not self.params["record"] or self.service_result is None:
            return
        if self.validated == (self.connector.get("IsValidated") is True):
            return
        params = {"Identity": self.connector.get("Guid") or self.connector.get("Name"), "IsValidated": self.validated}
        if self.validated:
            params["LastValidationTimestamp"] = _utc_now()
        engine.send(self.client, self.spec, self.params["name"], "Set-OutboundConnector", params,
                    verify=self._mark_reads(self.validated))
        self.record_command = {"cmdlet": "Set-OutboundConnector", "parameters": params}
        self.recorded = True

    def _mark_reads(self, validated):
        """After a transient failure of the Set that records the result: has it taken effect? (read back)"""

        def check():
            now = self.spec.read(self.client, self.params["name"])
            return now is not None and (now.get("IsValidated") is True) == validated

        return check

    # ------------------------------------------------------------------ inbound
    def _inbound(self):
        connector = self.connector
        self.notes.append("Exchange Online cannot validate inbound connectors; the final proof is a test message "
                          "that the partner sends to you")
        for ip in connector.get("SenderIPAddresses") or []:
            problem = n.ipv4_connector_error("sender_ip_addresses", ip)
            if problem:
                self.failures.append({"class": "sender_ip", "host": ip, "message": problem, "evidence": ip,
                                      "fix": "Correct the address in sender_ip_addresses", "source": "check"})
        cert_name = connector.get("TlsSenderCertificateName")
        domains = _plain_domains(connector.get("SenderDomains"))
        if not self.params["probe"]:
            return
        if not domains:
            self.notes.append("probe skipped: the connector accepts any sender domain, so there are no partner MX "
                              "hosts to look at")
            return
        tls_mode = "domain_validation" if cert_name else ("certificate_validation" if connector.get("RequireTls") else None)
        self.probe_results = probe.validate_route(
            recipient_domains=domains, tls_mode=tls_mode, tls_domain=cert_name, send=False, **self._probe_options())
        self.failures.extend(self._tag(self.probe_results.get("failures") or [], "probe"))

    # ------------------------------------------------------------------ result
    def summary(self):
        name = self.params["name"]
        if not self._ran_something():
            return "%s connector '%s': nothing was validated (%s)" % (self.params["direction"], name, "; ".join(self.notes))
        if self.validated:
            return "%s connector '%s' validated" % (self.params["direction"], name)
        first = self.failures[0]
        more = " (+%d more)" % (len(self.failures) - 1) if len(self.failures) > 1 else ""
        return "%s connector '%s' failed validation: [%s] %s%s. Fix: %s" % (
            self.params["direction"], name, first.get("class"), first.get("message"), more, first.get("fix"))

    def _last_validation(self):
        """When the connector was last marked validated, in UTC with a Z (the service reads it back without an
        offset, live_evidence.md); the time just written when this run recorded a pass."""
        written = (self.record_command or {}).get("parameters", {}).get("LastValidationTimestamp")
        return n.utc_timestamp(written or self.connector.get("LastValidationTimestamp"))

    def result(self):
        result = {
            "changed": self.recorded,
            "validated": self.validated,
            "failures": self.failures,
            "failure_classes": sorted(set(f.get("class") for f in self.failures)),
            "service_result": self.service_result,
            "probe_results": self.probe_results,
            "recorded": self.recorded,
            "notes": self.notes,
            "summary": self.summary(),
            "msg": self.summary(),
            "connector": self.connector.get("Name"),
            "last_validation_timestamp": self._last_validation(),
            "commands": [self.record_command] if self.record_command else [],
        }
        return result
