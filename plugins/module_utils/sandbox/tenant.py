# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The embedded sandbox tenant: Exchange Online partner mail flow persisted in one SQLite file.

``SandboxTenant(path).execute(cmdlet, parameters)`` answers like the InvokeCommand endpoint (a ``wire.RawResponse``
with the same status codes, envelopes and error bodies), so nothing above the transport can tell it from the real
service. Each call is one SQLite transaction (``BEGIN IMMEDIATE`` with a long busy timeout), safe for concurrent
Ansible forks and threads. The object families live in ``connectors``, ``rules`` and ``recipients``; the
store, binder and validators in ``store``, ``binding`` and ``checks``, the organization's settings and accepted
domains in ``organization`` (this package).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import os
import pathlib
import sqlite3
import uuid

from ansible_collections.m365.mailflow.plugins.module_utils import hostmap, wire
from ansible_collections.m365.mailflow.plugins.module_utils.errors import ConfigurationError
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.binding import (
    CmdletError, Param, bind, require, schema,
)
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.checks import smtp_address
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.store import Store
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import connectors as sandbox_connectors
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import organization as sandbox_organization
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import recipients as sandbox_recipients
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import rules as sandbox_rules
from ansible_collections.m365.mailflow.plugins.module_utils.sandbox import validation

DEFAULT_DOMAIN = "sandbox.onmicrosoft.com"
EXTRA_ACCEPTED_DOMAINS = ("contoso.com",)
BUSY_TIMEOUT = 120.0
NUL_BODY = b"\x00" * 2048
SIDECARS = {"Priority": "System.Int32"}
DEFAULT_SETTINGS = {"dns_servers": None, "smtp_port": 25, "ca_path": None, "timeout": 10.0, "replication_lag": 0.0,
                    "hosts": None}

# Cmdlets that only read the tenant: all a tenant file that cannot be written answers (Validate-OutboundConnector
# sends a test message and changes nothing in the tenant).
READ_VERBS = ("get", "validate")
_TABLES = ("meta", "objects", "accepted_domains", "recipients", "replication")
_DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS objects (guid TEXT PRIMARY KEY, kind TEXT NOT NULL, name_lc TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS objects_kind_name ON objects (kind, name_lc)",
    "CREATE TABLE IF NOT EXISTS accepted_domains (domain TEXT PRIMARY KEY COLLATE NOCASE, "
    "domain_type TEXT NOT NULL DEFAULT 'Authoritative')",
    # The directory (Get-Recipient): apart from the configuration objects, as in the service.
    "CREATE TABLE IF NOT EXISTS recipients (guid TEXT PRIMARY KEY, name_lc TEXT NOT NULL UNIQUE, data TEXT NOT NULL)",
    # Replication lag (settings: replication_lag): objects not visible yet, references that still count.
    "CREATE TABLE IF NOT EXISTS replication (kind TEXT NOT NULL, guid TEXT NOT NULL, event TEXT NOT NULL, "
    "name TEXT NOT NULL, target TEXT, until REAL NOT NULL)",
)


# --------------------------------------------------------------------------- Validate-OutboundConnector

class _Deferred(object):
    """Work to run after the transaction is committed (network probes must not hold the database lock)."""

    def __init__(self, func):
        self.func = func


def _validate_connector(store, bound):
    require(bound, "Validate", "Identity", "Recipients")
    connector = store.get(sandbox_connectors.OUTBOUND, bound["Identity"])
    recipients = list(bound["Recipients"])
    sender = "O365ConnectorValidation@%s" % store.tenant_domain
    settings = dict(store.settings)
    # Does not touch IsValidated / LastValidationTimestamp (the docs say so).
    return [_Deferred(lambda: service_validation(connector, recipients, sender, settings))]


def service_validation(connector, recipients, sender, settings):
    """The OutboundConnectorValidationResult tree of ``connector`` (``sandbox.validation``)."""
    return validation.service_validation(
        connector, recipients, sender, dns_servers=settings.get("dns_servers"), smtp_port=settings.get("smtp_port") or 25,
        ca_path=settings.get("ca_path"), timeout=float(settings.get("timeout") or 10.0),
        host_map=settings.get("hosts"))


# --------------------------------------------------------------------------- cmdlet table

SCHEMAS = dict(sandbox_connectors.SCHEMAS)
SCHEMAS.update(sandbox_rules.SCHEMAS)
SCHEMAS.update(sandbox_recipients.SCHEMAS)
SCHEMAS.update(sandbox_organization.SCHEMAS)
SCHEMAS["validate-outboundconnector"] = schema((Param("Identity", nullable=False),
                                                Param("Recipients", "list", check=smtp_address, nullable=False)))
HANDLERS = dict(sandbox_connectors.HANDLERS)
HANDLERS.update(sandbox_rules.HANDLERS)
HANDLERS.update(sandbox_recipients.HANDLERS)
HANDLERS.update(sandbox_organization.HANDLERS)
HANDLERS["validate-outboundconnector"] = _validate_connector

CANONICAL = dict((name.lower(), name) for name in (
    "Get-InboundConnector", "New-InboundConnector", "Set-InboundConnector", "Remove-InboundConnector",
    "Get-OutboundConnector", "New-OutboundConnector", "Set-OutboundConnector", "Remove-OutboundConnector",
    "Validate-OutboundConnector", "Get-TransportRule", "New-TransportRule", "Set-TransportRule", "Remove-TransportRule",
    "Enable-TransportRule", "Disable-TransportRule", "Get-Recipient", "Get-AcceptedDomain", "Get-OrganizationConfig",
    "Set-OrganizationConfig"))


def _check_settings(settings):
    out = {}
    for key, value in settings.items():
        if key not in DEFAULT_SETTINGS:
            raise ConfigurationError("Unknown sandbox setting '%s'; known settings: %s" % (key, ", ".join(sorted(DEFAULT_SETTINGS))))
        if key == "dns_servers" and value is not None:
            value = [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
            for server in value:
                host, _sep, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
                try:
                    ipaddress.ip_address(host or server)
                    if port and not 0 < int(port) < 65536:
                        raise ValueError
                except ValueError:
                    raise ConfigurationError("dns_servers entry '%s' is not 'ip' or 'ip:port'" % server)
        elif key == "smtp_port" and value is not None:
            if isinstance(value, bool) or not 0 < int(value) < 65536:
                raise ConfigurationError("smtp_port must be a TCP port number (1-65535), not %r" % (value,))
            value = int(value)
        elif key == "timeout" and value is not None:
            if isinstance(value, bool) or float(value) <= 0:
                raise ConfigurationError("timeout must be a positive number of seconds, not %r" % (value,))
            value = float(value)
        elif key == "replication_lag":
            try:
                if isinstance(value, bool) or float(value) < 0 or float(value) != float(value):
                    raise ValueError
            except (TypeError, ValueError):
                raise ConfigurationError("replication_lag must be 0 (no lag) or a positive number of seconds, not %r"
                                         % (value,))
            value = float(value)
        elif key == "ca_path" and value is not None:
            value = str(value)
        elif key == "hosts":
            value = hostmap.check_host_map(value)
        out[key] = value
    return out


# --------------------------------------------------------------------------- the state file

SQLITE_HEADER = b"SQLite format 3\x00"
_STATE_FIX = ("Set sandbox (EXO_SANDBOX) to the path of a new file (the sandbox tenant is created in it on first use) "
              "or of an existing sandbox tenant file.")
_PERMISSION_FIX = ("Make it readable and writable by the user running Ansible, or set sandbox (EXO_SANDBOX) to "
                   "another file.")


def _state_error(path, why, fix=_STATE_FIX):
    return ConfigurationError("sandbox: cannot use '%s' as the sandbox tenant file: %s. %s" % (path, why, fix))


def _check_state_file(path):
    """What the file system says about the sandbox path, checked before SQLite opens (and could create) anything.

    A file that is not empty and does not start with the SQLite header is refused without SQLite touching it.
    Whether an SQLite database is a sandbox tenant is decided in ``SandboxTenant._open`` under the write lock, before
    anything is written. (A read-only look first would leave -wal/-shm files beside a WAL database of someone else,
    and an ``immutable`` one could read a tenant file torn by another fork's commit.)

    Returns None when the tenant can be written, else the ConfigurationError a write gets: an existing tenant file
    that is read-only, or in a read-only directory, is opened read-only (a dry run, mail_flow_info and the export
    only read; ``SandboxTenant.execute`` refuses every write with that error).
    """
    if os.path.isdir(path):
        raise _state_error(path, "it is a directory", "Set sandbox (EXO_SANDBOX) to a file in it, such as %s."
                           % os.path.join(path, "tenant.db"))
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        blocker = parent
        while blocker != os.path.dirname(blocker) and not os.path.exists(blocker):
            blocker = os.path.dirname(blocker)
        if not os.path.isdir(blocker):
            raise _state_error(path, "%s, on its directory path, is a file, not a directory" % blocker)
        try:
            os.makedirs(parent)
        except OSError as exc:
            if not os.path.isdir(parent):  # another fork may have created it meanwhile
                raise _state_error(path, "its directory %s cannot be created (%s)" % (parent, exc.strerror or exc),
                                   "Create the directory, or set sandbox (EXO_SANDBOX) to a path in a writable one.")
    read_only = None
    if not os.access(parent, os.W_OK | os.X_OK):
        read_only = _state_error(path, "its directory %s is not writable (SQLite keeps a journal file beside the "
                                       "database)" % parent,
                                 "Make the directory writable by the user running Ansible, or set sandbox "
                                 "(EXO_SANDBOX) to a path in a writable one.")
        if not os.path.exists(path):
            raise read_only
    if not os.path.exists(path):
        return None
    if not os.path.isfile(path):
        raise _state_error(path, "it is not a regular file")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except (IOError, OSError) as exc:
        raise _state_error(path, "it cannot be read (%s)" % (exc.strerror or exc), _PERMISSION_FIX)
    if read_only is None and not os.access(path, os.R_OK | os.W_OK):
        read_only = _state_error(path, "it is not writable", _PERMISSION_FIX)
    if header != SQLITE_HEADER and header.strip(b"\x00"):
        raise _not_a_sandbox(path, "not sqlite")
    if read_only is not None and header != SQLITE_HEADER:
        raise read_only  # an empty file becomes a tenant only if it can be written
    # Empty: a new tenant. Zeros only: possibly a file another fork is creating; SQLite decides under its lock.
    return read_only


def _state_file_kind(conn):
    """'new', 'sandbox' (a tenant: meta holds tenant_id) or the names of the tables of something else.

    'new' is a file without tables (empty, or an SQLite database with nothing in it): there is nothing to lose.
    """
    tables = sorted(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    if not tables:
        return "new"
    if "meta" in tables:
        try:
            if conn.execute("SELECT 1 FROM meta WHERE key = 'tenant_id'").fetchone():
                return "sandbox"
        except sqlite3.OperationalError:  # a table called meta without our columns
            pass
    return tables


def _not_a_sandbox(path, kind):
    if kind == "not sqlite":
        what = "it is not a sandbox tenant file (not an SQLite database)"
    else:
        shown = ", ".join(kind[:5]) + (", ..." if len(kind) > 5 else "")
        what = "it is an SQLite database of something else (tables: %s), not a sandbox tenant file" % shown
    return _state_error(path, what + "; it was left untouched")


def _state_file_error(path, exc):
    """An SQLite failure while opening the state file, in the option's words."""
    text = str(exc).lower()
    if "not a database" in text or "malformed" in text or "encrypted" in text:
        why = "it is not a sandbox tenant file (a damaged or foreign SQLite file); it was left untouched"
    elif "locked" in text or "busy" in text:
        return ConfigurationError("sandbox: the sandbox tenant file '%s' stayed locked by another process for more than "
                                  "%d seconds. Let that process finish (or stop it), then run again."
                                  % (path, int(BUSY_TIMEOUT)))
    elif "readonly" in text or "read-only" in text or "unable to open" in text:
        return _state_error(path, "it cannot be opened for reading and writing", _PERMISSION_FIX)
    else:
        why = "SQLite cannot use it (%s)" % exc
    return _state_error(path, why)


# --------------------------------------------------------------------------- the tenant

class SandboxTenant(object):
    """An Exchange Online tenant in one SQLite file. See the module docstring."""

    def __init__(self, path, tenant_domain=None):
        self.path = os.path.abspath(os.path.expanduser(str(path)))
        # None, or the error every write gets: the tenant file (or its directory) cannot be written, so it is read
        # without writing (Get cmdlets and Validate-OutboundConnector work, as for a dry run).
        self.read_only = _check_state_file(self.path)
        try:
            meta = self._open_read_only() if self.read_only is not None else self._open(tenant_domain)
        except sqlite3.Error as exc:
            raise _state_file_error(self.path, exc)
        self.tenant_id = meta["tenant_id"]
        self.tenant_domain = meta["tenant_domain"]

    def _open_read_only(self):
        """Open an existing tenant that cannot be written: it must be a sandbox tenant with every table."""
        conn = self._connect()
        try:
            kind = _state_file_kind(conn)
            if kind != "sandbox":
                raise self.read_only if kind == "new" else _not_a_sandbox(self.path, kind)
            tables = set(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
            missing = sorted(set(_TABLES) - tables)
            if missing:
                raise _state_error(self.path, "it is read-only and was made by an older version of the collection "
                                              "(no table %s), which cannot be brought up to date without writing"
                                   % ", ".join(missing), _PERMISSION_FIX)
            return dict(conn.execute("SELECT key, value FROM meta").fetchall())
        finally:
            conn.close()

    def _writable(self):
        """Raise the error of a write when the tenant file cannot be written."""
        if self.read_only is not None:
            raise ConfigurationError(self.read_only.msg)

    def _open(self, tenant_domain):
        """Create the tenant in a new (or empty) file, or open an existing one; never write to a foreign file."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            # Decided under the write lock: a file another fork is creating right now is seen complete.
            kind = _state_file_kind(conn)
            if kind != "new" and kind != "sandbox":
                raise _not_a_sandbox(self.path, kind)
            for ddl in _DDL:
                conn.execute(ddl)
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if "tenant_id" not in meta:
                domain = (tenant_domain or DEFAULT_DOMAIN).strip().lower()
                meta = {"tenant_id": str(uuid.uuid4()), "tenant_domain": domain, "settings": json.dumps(DEFAULT_SETTINGS)}
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", sorted(meta.items()))
                for accepted in (domain,) + EXTRA_ACCEPTED_DOMAINS:
                    conn.execute("INSERT OR IGNORE INTO accepted_domains (domain) VALUES (?)", (accepted,))
            if "recipients_seeded" not in meta:  # also for tenant files made before the sandbox had recipients
                for seed in sandbox_recipients.SEED:
                    self._insert_recipient(conn, sandbox_recipients.make_recipient(
                        meta["tenant_domain"], meta["tenant_id"], seed["name"], display_name=seed["display_name"],
                        alias=seed["alias"], primary=seed["primary"], secondary=seed["secondary"], kind=seed["kind"]))
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('recipients_seeded', '1')")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
        return meta

    def _connect(self):
        if getattr(self, "read_only", None) is not None:
            # mode=ro: SQLite opens the file read-only and never creates a journal (reads need none)
            conn = sqlite3.connect("%s?mode=ro" % pathlib.Path(self.path).as_uri(), uri=True, timeout=BUSY_TIMEOUT,
                                   isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = %d" % int(BUSY_TIMEOUT * 1000))
            return conn
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = %d" % int(BUSY_TIMEOUT * 1000))
        return conn

    # ------------------------------------------------------------------ settings and accepted domains
    def configure(self, **settings):
        """Persist sandbox settings: dns_servers, smtp_port, ca_path, timeout (used by Validate-OutboundConnector) and
        replication_lag (seconds during which a new object stays invisible and a removed rule's reference still
        counts; 0, the default, means none: see ``store.Store``)."""
        self._writable()
        checked = _check_settings(settings)
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            current = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()[0])
            current.update(checked)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'settings'", (json.dumps(current),))
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
        return current

    def settings(self):
        conn = self._connect()
        try:
            return self._settings_in(conn)
        finally:
            conn.close()

    def accepted_domains(self):
        conn = self._connect()
        try:
            return [row[0] for row in conn.execute("SELECT domain FROM accepted_domains ORDER BY domain")]
        finally:
            conn.close()

    def accepted_domain_types(self):
        """{domain: DomainType} of every accepted domain (Authoritative, InternalRelay or ExternalRelay)."""
        conn = self._connect()
        try:
            return dict(conn.execute("SELECT domain, domain_type FROM accepted_domains ORDER BY domain").fetchall())
        finally:
            conn.close()

    def add_accepted_domain(self, domain, domain_type="Authoritative"):
        """Test helper: add an accepted domain (``Authoritative`` or ``InternalRelay``/``ExternalRelay``)."""
        self._writable()
        conn = self._connect()
        try:
            conn.execute("INSERT OR REPLACE INTO accepted_domains (domain, domain_type) VALUES (?, ?)", (domain, domain_type))
        finally:
            conn.close()

    # ------------------------------------------------------------------ recipients
    @staticmethod
    def _insert_recipient(conn, record):
        conn.execute("INSERT INTO recipients (guid, name_lc, data) VALUES (?, ?, ?)",
                     (record["Guid"], record["Name"].lower(), json.dumps(record)))

    def add_recipient(self, name, display_name=None, alias=None, primary=None, secondary=(), kind="UserMailbox",
                      attributes=None):
        """Add a recipient to the tenant's directory (what Get-Recipient finds and transport rules resolve).

        ``kind`` is its RecipientTypeDetails (``UserMailbox``, ``MailUser``, ``MailContact``,
        ``MailUniversalDistributionGroup``, ``MailUniversalSecurityGroup``, ``DynamicDistributionGroup``,
        ``GroupMailbox``, ``SharedMailbox``); ``secondary`` are more SMTP addresses (``{tenant}`` stands for the
        tenant's domain); ``attributes`` its directory attributes (``Department``..., ``recipients.ATTRIBUTES``).
        Returns the Get-Recipient record.
        """
        self._writable()
        record = sandbox_recipients.make_recipient(self.tenant_domain, self.tenant_id, name, display_name=display_name,
                                                   alias=alias, primary=primary, secondary=secondary, kind=kind,
                                                   attributes=attributes)
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._insert_recipient(conn, record)
            except sqlite3.IntegrityError:
                raise ConfigurationError("A recipient named '%s' already exists in the sandbox tenant" % name)
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
        return record

    def remove_recipient(self, name):
        """Remove a recipient from the directory by name (without case); True when there was one."""
        self._writable()
        conn = self._connect()
        try:
            return conn.execute("DELETE FROM recipients WHERE name_lc = ?", (str(name).lower(),)).rowcount > 0
        finally:
            conn.close()

    def recipients(self):
        """The tenant's directory (Get-Recipient records), by name."""
        conn = self._connect()
        try:
            return sandbox_recipients.directory(conn)
        finally:
            conn.close()

    # ------------------------------------------------------------------ InvokeCommand
    def execute(self, cmdlet, parameters=None):
        """Run one cmdlet; returns a ``wire.RawResponse`` shaped like the real service's answer."""
        key = str(cmdlet or "").strip().lower()
        handler = HANDLERS.get(key)
        if handler is None:
            return wire.RawResponse(403, {"Content-Encoding": "gzip", "Content-Type": "application/json"}, NUL_BODY)
        verb = key.split("-", 1)[0]
        if verb not in READ_VERBS:
            self._writable()
        try:
            bound = bind(SCHEMAS[key], parameters, verb)
            preview = bool(bound.get("WhatIf")) or bool(bound.get("Confirm"))
            objects, warnings = self._run(handler, bound, commit=not preview)
            if preview:
                body = wire.success_body([], tenant=self.tenant_domain, warnings=warnings)
                target = bound.get("Identity") or bound.get("Name") or ""
                body["@adminapi.confirmationmessage"] = 'Performing the operation "%s" on target "%s".' % (CANONICAL[key], target)
                return self._respond(200, body)
            objects = [item.func() if isinstance(item, _Deferred) else item for item in objects]
            return self._respond(200, wire.success_body(objects, tenant=self.tenant_domain, warnings=warnings, sidecars=SIDECARS))
        except CmdletError as exc:
            return self._respond(exc.status, wire.error_body(exc.status, exc.exc_type, exc.message, string_id=exc.sid))
        except sqlite3.OperationalError as exc:
            return self._respond(503, wire.error_body(
                503, "Microsoft.Exchange.Data.Directory.ADTransientException",
                "The sandbox tenant database is busy or unavailable (%s): %s" % (self.path, exc), top_message="Service Unavailable"))

    def _run(self, handler, bound, commit=True):
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE" if self.read_only is None else "BEGIN")  # a read needs no write lock
            store = Store(conn, self.tenant_domain, self.tenant_id, self._settings_in(conn))
            objects = handler(store, bound)
            conn.execute("COMMIT" if commit else "ROLLBACK")
            return objects, store.warnings
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()

    @staticmethod
    def _settings_in(conn):
        current = dict(DEFAULT_SETTINGS)
        current.update(json.loads(conn.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()[0]))
        return current

    @staticmethod
    def _respond(status, body):
        return wire.json_response(status, body, headers={"OData-Version": "4.0", "request-id": str(uuid.uuid4())})


class SandboxTransport(object):
    """Transport contract (architecture.md) on a ``SandboxTenant``."""

    name = "sandbox"

    def __init__(self, path, tenant_domain=None):
        self.tenant = SandboxTenant(path, tenant_domain=tenant_domain)

    def send(self, cmdlet, parameters, next_link=None):
        del next_link  # the sandbox never pages
        return self.tenant.execute(cmdlet, parameters)

    def close(self):
        """Nothing to release: every call opens and closes its own connection."""
