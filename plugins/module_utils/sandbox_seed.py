# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configure and seed a sandbox tenant (m365.mailflow.sandbox_tenant): its domain, accepted domains, recipients, the
network view of its validation, and connectors and rules loaded from data.

Seeded objects are written through the modules' own path: each entry is checked against the argument spec of its
module (``resources.inbound_connector.argument_spec``, ``resources.outbound_connector.argument_spec``,
``resources.rule_vocabulary.argument_spec``) and converged with ``engine.ensure`` (``transport_rule.ensure_rule``
for rules) on a ``Client`` over the sandbox transport, so a seeded object is exactly
what the module would have made, and a module task with the same options afterwards is a no-op.

Every change is first rehearsed on a copy of the tenant file (SQLite backup): an entry that the backend refuses
(a rule routing to a connector that is not rule-scoped, a recipient that does not resolve...) fails the task before
anything is written to the real file, and check mode reports what the rehearsal did, without touching the file.

Object data comes in two formats:

* the ``mail_flow_info`` format: a mapping with the lists ``inbound_connectors``, ``outbound_connectors`` and
  ``mail_flow_rules``, each entry the options of partner_inbound_connector, partner_outbound_connector or
  mail_flow_rule (a ``facts`` key in an entry is ignored);
* a partner definition (``partner: {...}``, docs/partner-definitions.md): its objects with the names, marker comments
  and defaults that partner onboarding gives them (``partner_format.inbound_parameters`` and friends), so a later
  onboarding of the same file sees them as its own and changes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import os
import re
import shutil
import sqlite3
import ssl
import tempfile

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.m365.mailflow.plugins.module_utils import engine, hostmap
from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.connection import check_connection, connect
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError, MailflowError
from ansible_collections.m365.mailflow.plugins.module_utils.resources import inbound_connector as inbound_utils
from ansible_collections.m365.mailflow.plugins.module_utils.resources import outbound_connector as outbound_utils
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format
from ansible_collections.m365.mailflow.plugins.module_utils.resources import rule_vocabulary
from ansible_collections.m365.mailflow.plugins.module_utils.resources import transport_rule
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.recipients import (
    ATTRIBUTES, RECIPIENT_TYPES, attribute_name, make_recipient)
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant

DOMAIN_TYPES = ("Authoritative", "InternalRelay", "ExternalRelay")
NETWORK_KEYS = ("dns_servers", "hosts", "smtp_port", "ca_path", "timeout")
_DOMAIN = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$")
_ADDRESS = re.compile(r"^[^@\s;,<>()\"\[\]]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$")


class Kind(object):
    """One kind of seeded object: the key of its list, its module's argument spec and how it is converged."""

    def spec(self, params):
        """The resource spec of one entry (an outbound connector's catch_all opt-in is the spec's)."""
        if "catch_all" in self.argument_spec():
            return self.spec_class(catch_all=params.get("catch_all"))
        return self.spec_class()

    def __init__(self, key, noun, module, argument_spec, spec_class=None):
        self.key, self.noun, self.module = key, noun, module
        self.argument_spec = argument_spec
        self.spec_class = spec_class


KINDS = (
    Kind("inbound_connectors", "inbound connector", "m365.mailflow.partner_inbound_connector",
         inbound_utils.argument_spec, inbound_utils.InboundConnectorSpec),
    Kind("outbound_connectors", "outbound connector", "m365.mailflow.partner_outbound_connector",
         outbound_utils.argument_spec, outbound_utils.OutboundConnectorSpec),
    Kind("mail_flow_rules", "mail flow rule", "m365.mailflow.mail_flow_rule", rule_vocabulary.argument_spec),
)
KIND_KEYS = tuple(kind.key for kind in KINDS)


# --------------------------------------------------------------------------------------------------- the options

def argument_spec():
    """The module's own options (the connection options are added by MailflowModule)."""
    return dict(
        tenant_domain=dict(type="str"),
        accepted_domains=dict(type="list", elements="raw"),
        recipients=dict(type="list", elements="dict", options=dict(
            name=dict(type="str", required=True),
            alias=dict(type="str"),
            address=dict(type="str"),
            display_name=dict(type="str"),
            addresses=dict(type="list", elements="str", default=[]),
            type=dict(type="str", choices=list(RECIPIENT_TYPES), default="UserMailbox"),
            attributes=dict(type="dict"),
        )),
        network=dict(type="dict", options=dict(
            dns_servers=dict(type="list", elements="str"),
            hosts=dict(type="dict"),
            smtp_port=dict(type="int"),
            ca_path=dict(type="path"),
            timeout=dict(type="float"),
        )),
        objects=dict(type="raw"),
        objects_files=dict(type="list", elements="path"),
    )


class Plan(object):
    """The checked input: what the tenant should hold."""

    def __init__(self):
        self.tenant_domain = None
        self.accepted_domains = None  # {domain: type}
        self.recipients = None  # [recipient options]
        self.network = {}  # {setting: value} of the settings given
        self.objects = []  # [(kind, name, params, source)]


def _absolute(field, path, what):
    path = os.path.expanduser(str(path))
    if not os.path.isabs(path):
        return None, ("%s: '%s' is a relative path; a module runs in the playbook's directory, not where ansible-playbook "
                      "was started, so give an absolute path (for example \"{{ playbook_dir }}/%s\") to the %s"
                      % (field, path, path, what))
    return path, None


def _check_domain_name(field, value):
    text = str(value).strip().rstrip(".").lower()
    if not _DOMAIN.match(text):
        return None, "%s: '%s' is not a domain name (such as contoso.com)" % (field, value)
    return text, None


def _check_accepted_domains(values, errors):
    out = {}
    for index, entry in enumerate(values):
        field = "accepted_domains[%d]" % index
        kind = "Authoritative"
        if isinstance(entry, dict):
            unknown = sorted(set(entry) - set(("name", "type")))
            if unknown or "name" not in entry:
                errors.append("%s: give a domain name, or a mapping with name and type (Authoritative, InternalRelay "
                              "or ExternalRelay)%s" % (field, "; unknown key(s): %s" % ", ".join(unknown) if unknown else ""))
                continue
            kind = next((t for t in DOMAIN_TYPES if t.lower() == str(entry.get("type") or kind).lower()), None)
            if kind is None:
                errors.append("%s.type: '%s' is not a domain type; use Authoritative, InternalRelay or ExternalRelay"
                              % (field, entry.get("type")))
                continue
            entry = entry["name"]
        if not isinstance(entry, str):
            errors.append("%s: give a domain name (text), not %s" % (field, type(entry).__name__))
            continue
        domain, problem = _check_domain_name(field, entry)
        if problem:
            errors.append(problem)
        elif domain in out and out[domain] != kind:
            errors.append("%s: '%s' is given twice with different types (%s and %s); keep one"
                          % (field, domain, out[domain], kind))
        else:
            out[domain] = kind
    return out


def _check_recipients(values, errors):
    seen = {}
    for index, entry in enumerate(values):
        field = "recipients[%d]" % index
        name = (entry.get("name") or "").strip()
        if not name or name != entry["name"]:
            errors.append("%s.name: '%s' is empty or begins or ends with white space; give the recipient's name"
                          % (field, entry["name"]))
            continue
        if name.lower() in seen:
            errors.append("%s.name: '%s' is also recipients[%d]; names are unique without case"
                          % (field, name, seen[name.lower()]))
        seen[name.lower()] = index
        if entry.get("alias") is not None and not re.match(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$", entry["alias"]):
            errors.append("%s.alias: '%s' is not an alias (letters, digits and . - _, no spaces)" % (field, entry["alias"]))
        given = [("address", entry.get("address"))]
        given.extend(("addresses[%d]" % i, a) for i, a in enumerate(entry.get("addresses") or []))
        for key, address in given:
            if address is not None and not _ADDRESS.match(address):
                errors.append("%s.%s: '%s' is not an SMTP address (name@domain)" % (field, key, address))
        for key, value in sorted((entry.get("attributes") or {}).items()):
            if attribute_name(key) is None:
                errors.append("%s.attributes.%s: not a directory attribute of a recipient; use one of %s"
                              % (field, key, ", ".join(ATTRIBUTES)))
            elif value is not None and not isinstance(value, (str, int, float)):
                errors.append("%s.attributes.%s: give a text value, not %s" % (field, key, type(value).__name__))
    return values


def _check_network(network, errors):
    given = dict((k, v) for k, v in (network or {}).items() if v is not None)
    out = {}
    if "dns_servers" in given:
        errors.extend(n.dns_server_error("network.dns_servers", server) for server in given["dns_servers"]
                      if n.dns_server_error("network.dns_servers", server))
        out["dns_servers"] = [str(s).strip() for s in given["dns_servers"]] or None
    if "hosts" in given:
        try:
            out["hosts"] = hostmap.check_host_map(given["hosts"], field="network.hosts")
        except ConfigurationError as exc:
            errors.extend(exc.details or [exc.msg])
    if "smtp_port" in given:
        if not 1 <= given["smtp_port"] <= 65535:
            errors.append("network.smtp_port: %s is not a TCP port; give a number from 1 to 65535 (Exchange Online "
                          "delivers on 25, the default)" % given["smtp_port"])
        out["smtp_port"] = given["smtp_port"]
    if "timeout" in given:
        if not given["timeout"] > 0 or given["timeout"] != given["timeout"]:
            errors.append("network.timeout: %s is not a usable timeout; give a positive number of seconds (default 10)"
                          % given["timeout"])
        out["timeout"] = float(given["timeout"])
    if "ca_path" in given:
        out["ca_path"] = _check_ca_path(given["ca_path"], errors)
    return out


def _check_ca_path(value, errors):
    if value == "":
        return None
    path, problem = _absolute("network.ca_path", value, "PEM file of the CA certificates")
    fix = ("give a PEM file (or a directory) of the CA certificates that sign the partner servers' certificates, or "
           "\"\" for the system's trusted CAs")
    if problem:
        errors.append(problem)
    elif not os.path.exists(path):
        errors.append("network.ca_path: '%s' does not exist; %s" % (path, fix))
    elif os.path.isfile(path):
        try:
            ssl.create_default_context(cafile=path)
        except (IOError, OSError) as exc:  # ssl.SSLError is an OSError
            why = "it holds no PEM CA certificate" if isinstance(exc, ssl.SSLError) else (exc.strerror or str(exc))
            errors.append("network.ca_path: cannot use '%s': %s; %s" % (path, why, fix))
    return path


# --------------------------------------------------------------------------------------------------- object data

def _load_files(paths, errors):
    """[(source, data)] of each YAML/JSON document of each file."""
    import yaml  # a dependency of ansible-core

    loaded = []
    for index, value in enumerate(paths or []):
        field = "objects_files[%d]" % index
        path, problem = _absolute(field, value, "file")
        if problem:
            errors.append(problem)
            continue
        try:
            with open(path) as handle:
                documents = [doc for doc in yaml.safe_load_all(handle) if doc is not None]
        except (IOError, OSError) as exc:
            errors.append("%s: cannot read '%s' (%s); give the path of a YAML or JSON file" % (field, path,
                                                                                               exc.strerror or exc))
            continue
        except yaml.YAMLError as exc:
            errors.append("%s: '%s' is not valid YAML or JSON: %s" % (field, path, str(exc).replace("\n", " ")))
            continue
        if not documents:
            errors.append("%s: '%s' is empty; it must hold lists inbound_connectors, outbound_connectors or "
                          "mail_flow_rules (the mail_flow_info format), or a partner definition (partner: ...)"
                          % (field, path))
        for number, doc in enumerate(documents):
            loaded.append(("%s%s" % (os.path.basename(path), "#%d" % (number + 1) if len(documents) > 1 else ""), doc))
    return loaded


def collect_objects(objects, files, errors):
    """[(kind, name, params, source)] from the ``objects`` option and the files, in the order they are written:
    inbound connectors, outbound connectors, then rules (a rule can only route to a connector that exists)."""
    sources = []
    if objects is not None:
        items = objects if isinstance(objects, list) else [objects]
        for index, item in enumerate(items):
            sources.append(("objects" if not isinstance(objects, list) else "objects[%d]" % index, item))
    sources.extend(_load_files(files, errors))
    found = dict((kind.key, []) for kind in KINDS)
    for source, data in sources:
        if not isinstance(data, dict):
            errors.append("%s: holds %s; give a mapping with the lists inbound_connectors, outbound_connectors and "
                          "mail_flow_rules (the mail_flow_info format), or a partner definition (partner: ...)"
                          % (source, type(data).__name__))
        elif "partner" in data:
            _from_partner(source, data, found, errors)
        else:
            _from_info(source, data, found, errors)
    ordered = []
    for kind in KINDS:
        seen = {}
        for name, params, source in found[kind.key]:
            if name.lower() in seen:
                errors.append("%s: %s '%s' is also in %s; each object once"
                              % (source, kind.noun, name, seen[name.lower()]))
                continue
            seen[name.lower()] = source
            ordered.append((kind, name, params, source))
    return ordered


def _from_info(source, data, found, errors):
    present = [key for key in KIND_KEYS if key in data]
    for key in data:
        close = difflib.get_close_matches(str(key), KIND_KEYS, n=1, cutoff=0.75)
        if key not in KIND_KEYS and close:
            errors.append("%s: %s: unknown key; did you mean %s?" % (source, key, close[0]))
    if not present:
        errors.append("%s: holds none of inbound_connectors, outbound_connectors, mail_flow_rules (the mail_flow_info "
                      "format) and no partner (a partner definition)" % source)
    for kind in KINDS:
        entries = data.get(kind.key)
        if entries is None:
            continue
        if not isinstance(entries, list):
            errors.append("%s: %s: give a list of %s options, not %s"
                          % (source, kind.key, kind.module, type(entries).__name__))
            continue
        for index, entry in enumerate(entries):
            where = "%s: %s[%d]" % (source, kind.key, index)
            if not isinstance(entry, dict):
                errors.append("%s: give the options of %s as a mapping, not %s"
                              % (where, kind.module, type(entry).__name__))
                continue
            params = dict((k, v) for k, v in entry.items() if k != "facts")
            _check_entry(kind, params, where, found, errors)


def _from_partner(source, data, found, errors):
    """The objects partner onboarding writes for a definition, with its names, marker comments and defaults."""
    raw = data.get("partner")
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"].strip():
        errors.append("%s: partner: give a mapping with at least name (docs/partner-definitions.md)" % source)
        return
    for key, wanted in (("inbound", dict), ("outbound", dict), ("rules", list)):
        if raw.get(key) is not None and not isinstance(raw[key], wanted):
            errors.append("%s: partner.%s: give a %s (docs/partner-definitions.md)"
                          % (source, key, "mapping" if wanted is dict else "list"))
            return
    for index, rule in enumerate(raw.get("rules") or []):
        if not isinstance(rule, dict) or not isinstance(rule.get("name"), str):
            errors.append("%s: partner.rules[%d]: give a mapping with name" % (source, index))
            return
    name = raw["name"]
    if raw.get("inbound") is not None:
        params = dict(partner_format.inbound_parameters(raw), name=partner_format.inbound_name(name))
        _check_entry(KINDS[0], params, "%s: partner.inbound" % source, found, errors)
    if raw.get("outbound") is not None:
        params = dict(partner_format.outbound_parameters(raw), name=partner_format.outbound_name(name))
        if raw["outbound"].get("catch_all"):
            params["catch_all"] = True
        _check_entry(KINDS[1], params, "%s: partner.outbound" % source, found, errors)
    for index, rule in enumerate(raw.get("rules") or []):
        params = partner_format.rule_parameters(raw, rule)
        _check_entry(KINDS[2], params, "%s: partner.rules[%d]" % (source, index), found, errors)


def _check_entry(kind, params, where, found, errors):
    """The entry checked as its module checks its options (argument spec, then pre-flight)."""
    # A null value is an option not given (as the partner files' conversion and mail_flow_info write them).
    params = dict((k, v) for k, v in params.items() if v is not None)
    result = ArgumentSpecValidator(kind.argument_spec()).validate(params)
    problems = [m for m in result.error_messages if "Supported parameters include" not in m]
    if result.unsupported_parameters:
        problems.append("unknown option(s) %s of %s (its options: %s)" % (
            ", ".join(sorted(str(p) for p in result.unsupported_parameters)), kind.module,
            ", ".join(sorted(kind.argument_spec()))))
    name = params.get("name")
    label = "%s (%s)" % (where, name) if isinstance(name, str) else where
    if problems:
        errors.extend("%s: %s" % (label, p) for p in problems)
        return
    params = result.validated_parameters
    try:
        if kind.spec_class is not None:
            spec = kind.spec(params)
            spec.check_name(params["name"])
            if params["state"] == "present":
                spec.preflight(params["name"], spec.desired_state(params))
        else:
            spec, name, state, desired = transport_rule.rule_task(params)
            spec.check_name(name)
            if state == "present":
                spec.preflight(name, desired)
    except ConfigurationError as exc:
        details = exc.details if isinstance(exc.details, list) and exc.details else [exc.msg]
        errors.extend("%s: %s" % (label, d) for d in details)
        return
    found[kind.key].append((params["name"], params, where))


# --------------------------------------------------------------------------------------------------- checking

def check_params(params):
    """Every input problem at once (ConfigurationError), before anything is read or written; else the Plan."""
    errors = []
    plan = Plan()
    if params.get("tenant_domain") is not None:
        plan.tenant_domain, problem = _check_domain_name("tenant_domain", params["tenant_domain"])
        if problem:
            errors.append(problem + "; the sandbox tenant's own domain, for example contoso.onmicrosoft.com")
    if params.get("accepted_domains") is not None:
        plan.accepted_domains = _check_accepted_domains(params["accepted_domains"], errors)
    if params.get("recipients") is not None:
        plan.recipients = _check_recipients(params["recipients"], errors)
    plan.network = _check_network(params.get("network"), errors)
    plan.objects = collect_objects(params.get("objects"), params.get("objects_files"), errors)
    if errors:
        raise ConfigurationError("; ".join(errors), details=errors)
    return plan


def require_sandbox(params):
    """This module configures the sandbox tenant only: a real tenant connection is refused before anything."""
    if not params.get("sandbox"):
        given = [k for k in ("tenant", "client_id", "certificate_path", "client_secret", "access_token", "api_url")
                 if params.get(k)]
        raise ConfigurationError(
            "m365.mailflow.sandbox_tenant configures the embedded sandbox tenant only, and sandbox (EXO_SANDBOX) is not "
            "set%s. Set sandbox to the path of the sandbox tenant file (for example sandbox: \"{{ playbook_dir }}/"
            ".sandbox/tenant.db\"); a real Exchange Online tenant is never changed by this module."
            % (" (the connection is a real tenant: %s)" % ", ".join(given) if given else ""))
    check_connection(params)


# --------------------------------------------------------------------------------------------------- applying

def _is_new(path):
    return not os.path.exists(path) or os.path.getsize(path) == 0


def recipient_view(record):
    addresses = [a.split(":", 1)[1] for a in record.get("EmailAddresses") or [] if not a.startswith("SMTP:")]
    view = {"display_name": record.get("DisplayName"), "alias": record.get("Alias"),
            "address": record.get("PrimarySmtpAddress"), "addresses": addresses, "type": record.get("RecipientTypeDetails")}
    attributes = dict((a, record[a]) for a in ATTRIBUTES if record.get(a) is not None)
    if attributes:
        view["attributes"] = attributes
    return view


def _state(tenant):
    """The configuration part of the tenant, as the module shows it (before/after)."""
    settings = tenant.settings()
    return {
        "tenant_domain": tenant.tenant_domain,
        "accepted_domains": tenant.accepted_domain_types(),
        "recipients": dict((r["Name"], recipient_view(r)) for r in tenant.recipients()),
        "network": dict((k, settings.get(k)) for k in NETWORK_KEYS),
    }


def _configure(tenant, plan):
    """Converge the configuration part; returns the changes made, one line each."""
    changes = []
    if plan.accepted_domains:
        current = dict((d.lower(), t) for d, t in tenant.accepted_domain_types().items())
        for domain, kind in sorted(plan.accepted_domains.items()):
            if current.get(domain) != kind:
                tenant.add_accepted_domain(domain, kind)
                changes.append("accepted domain %s %s" % (domain, "added (%s)" % kind if domain not in current
                                                          else "changed to %s" % kind))
    if plan.recipients:
        current = dict((r["Name"].lower(), r) for r in tenant.recipients())
        for entry in plan.recipients:
            record = make_recipient(tenant.tenant_domain, tenant.tenant_id, entry["name"],
                                    display_name=entry.get("display_name"), alias=entry.get("alias"),
                                    primary=entry.get("address"), secondary=entry.get("addresses") or [],
                                    kind=entry.get("type") or "UserMailbox", attributes=entry.get("attributes"))
            have = current.get(entry["name"].lower())
            if have is not None and have["Name"] == entry["name"] and recipient_view(have) == recipient_view(record):
                continue
            if have is not None:
                tenant.remove_recipient(have["Name"])
            tenant.add_recipient(entry["name"], display_name=entry.get("display_name"), alias=entry.get("alias"),
                                 primary=entry.get("address"), secondary=entry.get("addresses") or [],
                                 kind=entry.get("type") or "UserMailbox", attributes=entry.get("attributes"))
            changes.append("recipient %s %s" % (entry["name"], "added" if have is None else "changed"))
    if plan.network:
        settings = tenant.settings()
        wanted = dict((k, v) for k, v in plan.network.items() if settings.get(k) != v)
        if wanted:
            tenant.configure(**wanted)
            changes.extend("network %s set" % k for k in sorted(wanted))
    return changes


def _seed(client, plan, diff_mode):
    """Converge every seeded object through the modules' backend; [(object report, diff or None)]."""
    out = []
    for kind, name, params, source in plan.objects:
        if kind.spec_class is not None:
            spec = kind.spec(params)
            outcome = engine.ensure(client, spec, name, params["state"], spec.desired_state(params))
            result = outcome.result(False, diff_mode)
        else:
            result = transport_rule.ensure_rule(client, params, check_mode=False, diff_mode=diff_mode)
        out.append(({"kind": kind.noun, "name": name, "source": source, "action": result["action"],
                     "changed": bool(result["changed"]), "changed_properties": result.get("changed_properties") or []},
                    result.get("diff") if result["changed"] else None))
    return out


def _apply(path, plan, params, diff_mode, create):
    """Everything on the tenant file at ``path``: (report, diffs)."""
    before = None
    if create:
        tenant = SandboxTenant(path, tenant_domain=plan.tenant_domain)
    else:
        tenant = SandboxTenant(path)
        before = _state(tenant)
    changes = (["sandbox tenant created (%s)" % tenant.tenant_domain] if create else []) + _configure(tenant, plan)
    after = _state(tenant)
    objects = []
    diffs = []
    if plan.objects:
        conn_params = dict(params, sandbox=path)
        client = connect(conn_params)
        try:
            for report, diff in _seed(client, plan, diff_mode):
                objects.append(report)
                if diff:
                    diffs.append(diff)
        finally:
            client.close()
    if changes:
        diffs.insert(0, {"before": before or {}, "after": after, "before_header": "sandbox tenant %s" % path,
                         "after_header": "sandbox tenant %s" % path})
    return {"changes": changes, "objects": objects, "tenant": dict(after, path=path, tenant_id=tenant.tenant_id)}, diffs


def _rehearsal_copy(path, directory):
    """A copy of the tenant file (SQLite backup: a consistent snapshot, the original is only read)."""
    copy = os.path.join(directory, "rehearsal.db")
    if _is_new(path):
        return copy, True
    source = sqlite3.connect(path, timeout=120.0)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return copy, False


def run(params, check_mode=False, diff_mode=False):
    """The module's work: the result dict (raises MailflowError)."""
    require_sandbox(params)
    plan = check_params(params)
    path = os.path.abspath(os.path.expanduser(str(params["sandbox"])))
    create = _is_new(path)
    if not create:
        existing = SandboxTenant(path)  # refuses a file that is not a sandbox tenant, without writing to it
        if plan.tenant_domain and plan.tenant_domain != existing.tenant_domain:
            raise ConfigurationError(
                "tenant_domain: the sandbox tenant in %s has the domain %s, not %s; a tenant's domain is set when its "
                "file is created. Remove tenant_domain (or set it to %s), or set sandbox to a new file for a tenant "
                "of %s." % (path, existing.tenant_domain, plan.tenant_domain, existing.tenant_domain, plan.tenant_domain))
    # A rehearsal on a copy first: whatever the backend refuses fails the task before the real file is touched.
    # Its client does not remember anything across tasks (token_cache false: no memo file for the copy).
    workdir = tempfile.mkdtemp(prefix="mailflow-sandbox-")
    try:
        copy, copy_is_new = _rehearsal_copy(path, workdir)
        rehearsal_params = dict(params, token_cache=False)
        report, diffs = _apply(copy, plan, rehearsal_params, diff_mode, copy_is_new)
    except MailflowError as exc:
        raise ConfigurationError("nothing was changed in %s: %s" % (path, exc.msg), details=exc.details)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not check_mode:
        report, diffs = _apply(path, plan, params, diff_mode, create)
    report["tenant"]["path"] = path
    if check_mode and create:
        report["tenant"]["tenant_id"] = None  # made when the file is created
    changed = bool(report["changes"]) or any(o["changed"] for o in report["objects"])
    counts = {}
    for obj in report["objects"]:
        counts[obj["action"]] = counts.get(obj["action"], 0) + 1
    words = ", ".join("%d %s" % (n, a) for a, n in sorted(counts.items()))
    msg = "sandbox tenant %s %s%s" % (
        path, ("would change: " if check_mode else "changed: ") + "; ".join(report["changes"]) if report["changes"]
        else "configuration unchanged", "; objects: %s" % words if words else "")
    result = {"changed": changed, "msg": msg, "changes": report["changes"], "objects": report["objects"],
              "tenant": report["tenant"]}
    if diff_mode:
        result["diff"] = diffs
    return result
