# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The idempotent resource engine: desired versus current, one generic comparison.

A ``ResourceSpec`` describes one object family (cmdlets, fields, pre-flight
checks); ``ensure`` reads the object once, plans create / update / delete /
nothing, sends only the parameters that differ, makes no write in check mode,
and returns the object as it stands after the task with a per-property diff.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.mailflow.plugins.module_utils import normalize as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    ConfigurationError,
    DuplicateError,
    MailflowError,
    NotFoundError,
)


def _identity(value):
    return value


class Field(object):
    """One managed property: module option ``option`` <-> cmdlet parameter ``param``.

    ``key`` maps one value (as written by the user or as read back) to its
    comparison form; ``display`` maps a read-back value to what a user would
    write. For ``multi=True`` both apply element-wise and order is ignored.
    ``empty_is_null`` sends ``None`` (PowerShell ``$null``) to clear the value. ``send`` maps a user value to
    the cmdlet's (e.g. ``domain_validation`` -> ``DomainValidation``, ``mail.td.example.`` -> ``mail.td.example``);
    ``null_value`` is how a ``$null`` read back is shown (e.g. ``opportunistic`` for TlsSettings). A list is sent
    with one entry per value: entries with the same ``key`` are sent once, as first written.
    """

    def __init__(self, option, param, multi=False, key=None, display=None, empty_is_null=True, read=None,
                 send=None, null_value=None):
        self.option = option
        self.param = param
        self.multi = multi
        self.key = key or _identity
        self.display = display or _identity
        self.empty_is_null = empty_is_null
        self.read = read or param
        self.send = send or _identity
        self.null_value = null_value

    def current(self, obj):
        """The user-facing value of this field in a read-back object."""
        value = obj.get(self.read)
        if self.multi:
            if value is None:
                return []
            if not isinstance(value, list):
                value = [value]
            return [self.display(v) for v in value]
        return self.display(value) if value is not None else self.null_value

    def comparable(self, value):
        if self.multi:
            return sorted(set(self.key(v) for v in (value or [])))
        if value in ("", None) or value == self.null_value:
            return None
        return self.key(value)

    def differs(self, desired, obj):
        return self.comparable(desired) != self.comparable(self.current(obj))

    def to_param(self, value):
        if (self.empty_is_null and value in ("", [], None)) or (value is not None and value == self.null_value):
            return None
        if self.multi:
            return [self.send(v) for v in n.unique(value, self.key)]
        return self.send(value)


class ResourceSpec(object):
    """Base class for an object family. Subclasses set the class attributes and may override hooks."""

    noun = "object"
    result_key = "object"
    get_cmdlet = new_cmdlet = set_cmdlet = remove_cmdlet = None
    fields = ()
    # Parameters always sent on New (e.g. ConnectorType) that are not user options.
    create_constants = {}

    def __init__(self):
        self.by_option = dict((f.option, f) for f in self.fields)
        self.warnings = []  # warnings about the input (module warnings, not failures)

    # ---- reads -------------------------------------------------------------
    def get_parameters(self, name):
        return {"Identity": name}

    def read(self, client, name):
        """The object named ``name``, or None only when the service said it does not exist."""
        try:
            objects = client.invoke(self.get_cmdlet, self.get_parameters(name))
        except NotFoundError:
            return None
        return self.match(objects, name)

    def match(self, objects, name):
        """Pick ``name`` out of a Get result (Get may return every object when the identity is unknown)."""
        wanted = name.lower()
        found = [o for o in objects if str(o.get("Name", "")).lower() == wanted or str(o.get("Guid", "")).lower() == wanted]
        if len(found) > 1:
            raise MailflowError("%s: more than one %s is named '%s'" % (self.get_cmdlet, self.noun, name))
        return found[0] if found else None

    # ---- hooks ---------------------------------------------------------------
    def check_name(self, name):
        """Checks of the name alone, for every state, before any call. Raise ConfigurationError."""
        n.raise_errors([n.name_error("name", name)])

    def preflight(self, name, desired):
        """Static input checks, before any call. Raise ConfigurationError."""

    def prepare(self, client, name, desired):
        """Reads the desired state needs before it can be compared (for example resolving recipients to the
        addresses the service stores), after the static checks and before the object is read. Returns the
        desired state to use; raise ConfigurationError for input the tenant shows to be wrong."""
        return desired

    def preflight_current(self, name, desired, current):
        """Checks of the desired state merged with the object as it is, before any write."""

    def guard(self, client, name, changes, current):
        """Checks that need more reads, run only when a write is planned, before it: a create (``current`` None,
        ``changes`` = the desired state), an update (``changes`` = what differs) or a removal (``changes`` None)."""

    def identity(self, current):
        return current.get("Guid") or current.get("Name")

    def create_parameters(self, name, desired):
        params = {"Name": name}
        params.update(self.create_constants)
        for option, value in desired.items():
            if value is None or (value in ([], "") and self.by_option[option].empty_is_null):
                continue
            params[self.by_option[option].param] = self.by_option[option].to_param(value)
        return params

    def update_parameters(self, current, changes):
        """Parameters of the one Set call that applies ``changes`` (option -> desired value)."""
        params = {"Identity": self.identity(current)}
        for option, value in changes.items():
            params[self.by_option[option].param] = self.by_option[option].to_param(value)
        return params

    def update_commands(self, current, changes):
        """The write calls that apply ``changes``, in order. Default: one Set with only what differs."""
        return [{"cmdlet": self.set_cmdlet, "parameters": self.update_parameters(current, changes)}]

    def post_create(self, client, name, desired, created, check_mode):
        """Writes that must follow New (e.g. Set-only parameters). Return extra commands."""
        return []

    def remove_parameters(self, current):
        return {"Identity": self.identity(current), "Confirm": False}

    # ---- views ---------------------------------------------------------------
    def view(self, obj):
        """The object as module options (what a user would write), plus read-only facts."""
        if obj is None:
            return {}
        out = {"name": obj.get("Name")}
        for field in self.fields:
            out[field.option] = field.current(obj)
        out.update(self.facts(obj))
        return out

    def facts(self, obj):
        return {"guid": obj.get("Guid"), "identity": obj.get("Identity")}

    def predict(self, current_view, name, changes):
        after = dict(current_view) if current_view else {"name": name}
        for option, value in changes.items():
            after[option] = value if value not in ("",) else None
        return after

    def changes(self, desired, current):
        return dict((o, v) for o, v in desired.items() if v is not None and self.by_option[o].differs(v, current))


class Outcome(object):
    """What ``ensure`` did; ``result()`` is the module result."""

    def __init__(self, spec, name):
        self.spec = spec
        self.name = name
        self.changed = False
        self.action = "none"
        self.before = {}
        self.after = {}
        self.changed_properties = []
        self.commands = []

    def result(self, check_mode, diff_mode, warnings=None):
        verb = {"create": "created", "update": "updated", "delete": "deleted"}.get(self.action)
        if verb:
            msg = "%s '%s' %s%s" % (self.spec.noun, self.name, "would be " if check_mode else "", verb)
        elif self.after:
            msg = "%s '%s' is already as desired" % (self.spec.noun, self.name)
        else:
            msg = "%s '%s' is already absent" % (self.spec.noun, self.name)
        result = {
            "changed": self.changed,
            "msg": msg,
            "action": self.action,
            "changed_properties": self.changed_properties,
            "commands": self.commands,
            "before": self.before,
            "after": self.after,
            self.spec.result_key: self.after,
        }
        if diff_mode:
            result["diff"] = self.diff()
        if warnings:
            result["service_warnings"] = list(warnings)
        return result

    def diff(self):
        header = "%s %s" % (self.spec.noun, self.name)
        if self.action == "create":
            return {"before": {}, "after": self.after, "before_header": header, "after_header": header}
        if self.action == "delete":
            return {"before": self.before, "after": {}, "before_header": header, "after_header": header}
        keys = self.changed_properties
        return {
            "before": dict((k, self.before.get(k)) for k in keys),
            "after": dict((k, self.after.get(k)) for k in keys),
            "before_header": header,
            "after_header": header,
        }


def _await_visible(client, spec, name):
    """After New said 'already exists' for an object our read did not see: replication lag. Wait for it."""
    for attempt in range(client.retries + 1):
        current = spec.read(client, name)
        if current is not None:
            return current
        client.pause(attempt)
    return None


def ensure(client, spec, name, state, desired, check_mode=False):
    """Converge one object. ``desired`` maps option -> value (None = leave unmanaged)."""
    spec.check_name(name)
    if state == "present":
        spec.preflight(name, desired)
        desired = spec.prepare(client, name, desired)
    outcome = Outcome(spec, name)
    current = spec.read(client, name)
    outcome.before = spec.view(current)

    if state == "absent":
        if current is None:
            return outcome
        spec.preflight_current(name, None, current)
        spec.guard(client, name, None, current)
        params = spec.remove_parameters(current)
        outcome.commands.append({"cmdlet": spec.remove_cmdlet, "parameters": params})
        outcome.changed, outcome.action = True, "delete"
        if not check_mode:
            client.invoke(spec.remove_cmdlet, params, write=True, verify=lambda: spec.read(client, name) is None)
        return outcome

    spec.preflight_current(name, desired, current)
    if current is None:
        spec.guard(client, name, desired, None)
        params = spec.create_parameters(name, desired)
        outcome.commands.append({"cmdlet": spec.new_cmdlet, "parameters": params})
        outcome.changed, outcome.action = True, "create"
        outcome.changed_properties = sorted(o for o, v in desired.items() if v is not None)
        if check_mode:
            outcome.after = spec.predict({}, name, dict((o, v) for o, v in desired.items() if v is not None))
            outcome.commands.extend(spec.post_create(client, name, desired, None, True))
            return outcome
        try:
            created = client.invoke(spec.new_cmdlet, params, write=True,
                                    verify=lambda: spec.read(client, name) is not None)
        except DuplicateError:
            current = _await_visible(client, spec, name)
            if current is None:
                raise ConfigurationError(
                    "%s '%s' already exists in the tenant but cannot be read yet (replication delay). Re-run the task "
                    "in a few minutes." % (spec.noun, name))
            fresh = Outcome(spec, name)  # it existed after all: judge it as an update
            fresh.commands = outcome.commands[:-1]
            return _update(client, spec, name, desired, current, fresh, check_mode)
        created = spec.match(created, name) if created else None
        outcome.commands.extend(spec.post_create(client, name, desired, created, False))
        final = created
        if created is None or len(outcome.commands) > 1:
            final = spec.read(client, name) or created
        outcome.after = spec.view(final) if final else spec.predict({}, name, desired)
        return outcome

    return _update(client, spec, name, desired, current, outcome, check_mode)


def _update(client, spec, name, desired, current, outcome, check_mode):
    outcome.before = spec.view(current)
    changes = spec.changes(desired, current)
    if not changes:
        outcome.after = outcome.before
        return outcome
    spec.guard(client, name, changes, current)
    commands = spec.update_commands(current, changes)
    outcome.commands.extend(commands)
    outcome.changed, outcome.action = True, "update"
    outcome.changed_properties = sorted(changes)
    predicted = spec.predict(outcome.before, name, changes)
    if check_mode:
        outcome.after = predicted
        return outcome

    def applied():
        now = spec.read(client, name)
        return now is not None and not spec.changes(changes, now)

    for command in commands:
        client.invoke(command["cmdlet"], command["parameters"], write=True, verify=applied)
    final = spec.read(client, name)
    outcome.after = spec.view(final) if final is not None else predicted
    return outcome
