# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate-OutboundConnector of the sandbox tenant: the service's result tree, built from a real probe.

The sandbox runs the control node's probe (``validation.smtp_probe``) on the connector's route, as the service
runs its own validation from its datacenter, and shapes the probe's structured report (resolve, host and send
steps, each failure a dict) as an OutboundConnectorValidationResult tree. A failed task's TaskDetail carries the
failure (``validation.service_tree.format_task_detail``), which is how the tree reaches the client over the wire.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.mailflow.plugins.module_utils.validation.routes import recipient_domain
from ansible_collections.m365.mailflow.plugins.module_utils.validation.service_tree import classify_task_detail, format_task_detail, task_node
from ansible_collections.m365.mailflow.plugins.module_utils.validation.smtp_probe import normalize_tls_mode, validate_route

# Task names of the tree (the real service's are not documented; connector_cmdlets.md 4 has the admin center's).
_STEP_TASKS = {
    "connect": "Connect to {host}:{port}", "timeout": "Connect to {host}:{port}", "ehlo": "SMTP EHLO {host}",
    "ehlo_tls": "SMTP EHLO {host}", "starttls": "STARTTLS {host}", "certificate": "Certificate {host}",
}


def _resolve_tasks(route):
    tasks = [task_node("Resolve %s" % entry["host"], True, "%s -> %s" % (entry["via"], ", ".join(entry["ips"])))
             for entry in route["hosts"]]
    tasks.extend(task_node("Resolve %s" % f["host"], False, format_task_detail(f)) for f in route["failures"])
    return tasks


def _host_tasks(result):
    tasks = []
    for step in result["steps"]:
        template = _STEP_TASKS.get(step["step"])
        if template:
            tasks.append(task_node(template.format(host=result["host"], port=result["port"]), step["ok"],
                                   _step_detail(result, step)))
    return tasks


def _step_detail(result, step):
    if step["ok"]:
        return "%s (%s)" % (step["detail"], result["ip"])
    failure = next(f for f in result["failures"] if f["step"] == step["step"])
    return format_task_detail(failure)


def _send_tasks(report, recipients):
    tasks = []
    for rcpt in recipients:
        failure = next((f for f in report["failures"] if f.get("recipient") == rcpt), None)
        host = next((r for r in report["hosts"] if rcpt in r["delivered"]), None)
        if host:
            detail = "Delivered via %s (%s:%s), queue id %s, Message-ID %s" % (
                host["host"], host["ip"], host["port"], host.get("queue_id"), host.get("message_id"))
            tasks.append(task_node("Send test email to %s" % rcpt, True, detail))
        elif failure:
            tasks.append(task_node("Send test email to %s" % rcpt, False, format_task_detail(failure)))
        else:
            tasks.append(task_node("Send test email to %s" % rcpt, False, "Not sent: no host on the route to %s passed "
                                   "validation" % recipient_domain(rcpt)))
    return tasks


def service_validation(connector, recipients, sender, dns_servers=None, smtp_port=25, ca_path=None, timeout=10.0):
    """Validate-OutboundConnector for the sandbox tenant: probe the connector's route and send test messages."""
    use_mx = connector.get("UseMXRecord", True)
    smart_hosts = None if use_mx else list(connector.get("SmartHosts") or [])
    recipients = list(recipients or [])
    report = validate_route(smart_hosts=smart_hosts, recipients=recipients,
                            tls_mode=normalize_tls_mode(connector.get("TlsSettings")),
                            tls_domain=connector.get("TlsDomain"), ca_path=ca_path, dns_servers=dns_servers,
                            smtp_port=smtp_port, timeout=timeout, sender=sender, send=True)
    subtasks = _resolve_tasks(report["route"])
    for result in report["hosts"]:
        subtasks.extend(_host_tasks(result))
    subtasks.extend(_send_tasks(report, recipients))
    ok = report["validated"] and all(task["IsTaskSuccessful"] for task in subtasks)
    return task_node("Validate outbound connector %s" % connector.get("Name"), ok, _root_detail(report, subtasks), subtasks)


def _root_detail(report, subtasks):
    failed = [task for task in subtasks if not task["IsTaskSuccessful"]]
    if not failed:
        return "All %d task(s) succeeded on %d host(s)" % (len(subtasks), len(report["hosts"]))
    classes = sorted(set(filter(None, (classify_task_detail(t["TaskDetail"]) for t in failed))))
    return "%d of %d task(s) failed; failure classes: %s" % (len(failed), len(subtasks), ", ".join(classes) or "none")
