# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a Validate-OutboundConnector result tree: the failures it reports, as the probe's failure dicts.

The sandbox tenant writes each failed task's TaskDetail as ``[class] message | fix: ... | evidence: ...``
(``format_task_detail``); the real service's task details carry no class, so its failed leaf tasks are
classified by their task names."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.m365.mailflow.plugins.module_utils.validation.failures import FAILURE_CLASSES


_DETAIL_RE = re.compile(r"^\s*\[([a-z_]+)\]\s*")
_DETAIL_FIELDS = ("fix", "host", "ip", "port", "step", "recipient", "temporary", "evidence")


def task_node(name, ok, detail, subtasks=None):
    return {"TaskName": name, "IsTaskSuccessful": bool(ok), "TaskDetail": detail,
            "SubTaskResults": list(subtasks or []), "ChangedProperties": []}


def format_task_detail(failure):
    """TaskDetail for a failure: "[class] message | fix: ... | host: ... | ... | evidence: ..." (evidence last)."""
    parts = ["[%s] %s" % (failure["class"], _one_line(failure["message"]))]
    for key in _DETAIL_FIELDS:
        value = failure.get(key)
        if value is not None and value != "":
            parts.append("%s: %s" % (key, _one_line(value) if key != "evidence" else str(value).replace("\n", " ")))
    return " | ".join(parts)


def _one_line(value):
    return str(value).replace("|", "/").replace("\n", " ")


def classify_task_detail(text):
    """Failure class carried by a TaskDetail string, or None."""
    match = _DETAIL_RE.match(text or "")
    if match and match.group(1) in FAILURE_CLASSES:
        return match.group(1)
    return None


def parse_task_detail(text):
    """Failure dict from a TaskDetail made by format_task_detail (None when it carries no class)."""
    cls = classify_task_detail(text)
    if cls is None:
        return None
    body = _DETAIL_RE.sub("", text, count=1)
    head, _sep, evidence = body.partition(" | evidence: ")
    pieces = head.split(" | ")
    failure = {"class": cls, "message": pieces[0], "host": None, "ip": None, "port": None, "step": None,
               "evidence": evidence, "fix": ""}
    for piece in pieces[1:]:
        key, _sep, value = piece.partition(": ")
        if key in _DETAIL_FIELDS:
            failure[key] = value
    if failure["port"] and str(failure["port"]).isdigit():
        failure["port"] = int(failure["port"])
    if "temporary" in failure:
        failure["temporary"] = failure["temporary"] == "True"
    return failure


# Task names of the real service are not documented; the admin center names these tasks (connector_cmdlets.md 4).
_TASK_NAME_CLASSES = (
    ("resolve", "resolve", "Check smart_hosts (or recipient_domains, when the connector delivers by MX) for typos, and "
                           "that the name has MX or A records in public DNS"),
    ("connect", "connect", "Open TCP port 25 on the partner's server to the Exchange Online Protection IP ranges"),
    ("ehlo", "ehlo", "Point the connector at the partner's mail server; the host answered but is not an SMTP server"),
    ("tls", "starttls", "Ask the partner to offer STARTTLS with a valid certificate on port 25"),
    ("certificate", "certificate_untrusted", "Ask the partner for a certificate from a public CA matching tls_domain"),
    ("send", "recipient_rejected", "Ask the partner to accept mail from O365ConnectorValidation@<tenant> to the "
                                   "validation_recipients"),
    ("email", "recipient_rejected", "Ask the partner to accept mail from O365ConnectorValidation@<tenant> to the "
                                    "validation_recipients"),
)


def _failure_from_task_name(node):
    """A failure for a failed task of the real service, whose TaskDetail carries no class prefix."""
    name = str(node.get("TaskName") or "")
    for keyword, cls, fix in _TASK_NAME_CLASSES:
        if keyword in name.lower():
            break
    else:
        cls, fix = "unknown", "Read the failing task in service_result"
    return {"class": cls, "message": "%s failed" % (name or "a validation task"), "host": None, "ip": None, "port": None,
            "step": name, "evidence": str(node.get("TaskDetail") or ""), "fix": fix}


def _failed(node):
    return isinstance(node, dict) and not node.get("IsTaskSuccessful", True)


def _walk(tree):
    nodes = list(tree) if isinstance(tree, list) else [tree]
    while nodes:
        node = nodes.pop(0)
        if isinstance(node, dict):
            children = list(node.get("SubTaskResults") or [])
            yield node, children
            nodes[0:0] = children


def failures_from_tree(tree):
    """All failures in a Validate-OutboundConnector result tree (dict or list of roots), depth first.

    Details made by ``format_task_detail`` carry their class (the sandbox tenant's tree). A tree in which no
    failure carries one (the real service) has its failed leaf tasks classified from their task names.
    """
    found = [parse_task_detail(node.get("TaskDetail")) for node, _children in _walk(tree) if _failed(node)]
    found = [f for f in found if f]
    if found:
        return found
    return [_failure_from_task_name(node) for node, children in _walk(tree)
            if _failed(node) and not any(_failed(child) for child in children)]
