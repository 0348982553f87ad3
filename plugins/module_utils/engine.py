# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The idempotent resource engine: desired versus current, one generic comparison.

A ``ResourceSpec`` describes one object family (cmdlets, fields - ``fields.Field`` -, pre-flight
checks); ``ensure`` reads the object once, plans create / update / delete /
nothing, sends only the parameters that differ, makes no write in check mode,
and returns the object as it stands after the task with a per-property diff.

Replication lag. Exchange Online replicates changes with a delay: a new object can be missed by the next read, the
next Set or a rule that routes to it, and a removed rule can still be seen for a while by the connector it routed
to (live_evidence.md; docs/dev/architecture.md "Replication lag and test-mode connectors"). The engine notes every
write it makes in the client's memo (``remember``: one place, shared by the tasks of a run), and ``send`` retries a
write that the service refused only when the spec's ``lagging`` says that refusal is explained by one of those
writes, after a bounded, growing pause, and explains it when the wait runs out. Nothing else is ever resent.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    ConfigurationError,
    DuplicateError,
    MailflowError,
    NotFoundError,
)

# Memo kind under which we note that one of our writes stopped an object referring to an object of ``kind`` (a rule
# removed or re-pointed away from a connector): ``RELEASED % "outbound connector"``.
RELEASED = "reference to %s"


# --------------------------------------------------------------------------- what this run wrote (memo.py)

def remember(client, spec, name, op, current=None, changes=None):
    """Note a successful write of the engine: ``op`` on ``spec.noun`` ``name``, and the references it released
    (under the target, and under the pair target / ``name``)."""
    client.memo.remember(spec.noun, name, op)
    if current is not None:
        for kind, target in spec.released(current, changes):
            client.memo.remember(RELEASED % kind, target, op)
            client.memo.remember(RELEASED % kind, _pair(target, name), op)


def _pair(target, referrer):
    return "%s <- %s" % (target, referrer)


def made_recently(client, kind, name):
    """True when this run created (or since updated) ``kind`` ``name`` recently enough that replication may still
    hide it: by our own successful write it exists, so "not found" can only be replication (or someone removing it
    meanwhile, which the bounded wait then reports)."""
    return bool(name) and client.memo.recent(kind, name, ("create", "update"))


def released_recently(client, kind, name, by=None):
    """True when this run recently removed or re-pointed an object that referred to ``kind`` ``name`` (the object
    named ``by``, when given)."""
    return bool(name) and client.memo.recent(RELEASED % kind, name if by is None else _pair(name, by))


def forget(client, spec_or_kind, name):
    """After a wait for our own object ran out: a later task reads the tenant as it is instead of waiting again (it may
    have been removed by someone else meanwhile)."""
    client.memo.remember(getattr(spec_or_kind, "noun", spec_or_kind), name, "unseen")


def lag_exhausted(error, reason, attempts):
    """``error`` again (same type and context) with the replication explanation and what to do."""
    out = type(error)(
        "%s. This is replication delay: %s. Exchange Online still refused after %d attempts with growing pauses "
        "(retries / retry_delay); wait a few minutes and re-run the task, or raise retries or retry_delay."
        % (error.msg.rstrip("."), reason, attempts),
        cmdlet=error.cmdlet, status=error.status, exception_type=error.exception_type, request_id=error.request_id)
    out.changed = error.changed
    return out


def send(client, spec, name, cmdlet, parameters, verify=None):
    """Send one write of ``spec`` object ``name`` and return what it returned.

    When the service refuses it and ``spec.lagging`` explains the refusal by replication of one of this run's own
    earlier writes, wait (``client.pause``: bounded, growing) and send it again, at most ``client.retries`` times;
    then raise the refusal with the explanation. Any other refusal is raised at once. A refusal that may be the
    effect of an earlier attempt of this very write (``earlier_attempt``) is left to the caller.
    """
    attempt = 0
    while True:
        try:
            return client.invoke(cmdlet, parameters, write=True, verify=verify)
        except MailflowError as exc:
            if exc.earlier_attempt is not None:
                raise
            reason = spec.lagging(client, exc, cmdlet, parameters, name)
            if reason is None:
                raise
            if attempt >= client.retries:
                raise lag_exhausted(exc, reason, attempt + 1)
            client.pause(attempt)
            attempt += 1


def await_visible(client, spec, name):
    """The object ``name`` once replication shows it to ``spec.read`` (bounded, growing pauses), or None."""
    for attempt in range(max(1, client.retries)):
        client.pause(attempt)
        current = spec.read(client, name)
        if current is not None:
            return current
    return None


class ResourceSpec(object):
    """Base class for an object family. Subclasses set the class attributes and may override hooks."""

    noun = "object"
    result_key = "object"
    get_cmdlet = new_cmdlet = set_cmdlet = remove_cmdlet = None
    fields = ()
    # Parameters always sent on New (e.g. ConnectorType) that are not user options.
    create_constants = {}
    # Options that New does not take: set by one Set right after New (post_create).
    set_only = ()

    def __init__(self):
        self.by_option = dict((f.option, f) for f in self.fields)
        # The context every hook sees, set by ``ensure`` for the task: whether it runs in check mode, and the sink of
        # warnings about the input (module warnings, not failures).
        self.check_mode = False
        self.warnings = []

    def desired_state(self, params):
        """The desired state from module options: one entry per field (None = leave unmanaged)."""
        return dict((f.option, params.get(f.option)) for f in self.fields)

    def field_errors(self, desired):
        """The value check of every field given a value (``fields.Field.errors``), in field order."""
        errors = []
        for field in self.fields:
            if desired.get(field.option) is not None:
                errors.extend(field.errors(desired[field.option]))
        return errors

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
            if value is None or value in ([], ""):
                continue
            params.update(self.by_option[option].to_params(value))
        return params

    def update_parameters(self, current, changes):
        """Parameters of the one Set call that applies ``changes`` (option -> desired value)."""
        params = {"Identity": self.identity(current)}
        for option, value in changes.items():
            params.update(self.by_option[option].to_params(value))
        return params

    def update_commands(self, current, changes):
        """The write calls that apply ``changes``, in order. Default: one Set with only what differs."""
        return [{"cmdlet": self.set_cmdlet, "parameters": self.update_parameters(current, changes)}]

    def command_changes(self, command, changes):
        """The part of ``changes`` that one of the ``update_commands`` applies (all of it for a single Set)."""
        return changes

    def post_create(self, name, desired, created):
        """The writes that must follow New: one Set of the ``set_only`` options given (the engine sends it)."""
        rest = dict((o, desired[o]) for o in self.set_only if desired.get(o) not in (None, [], ""))
        if not rest:
            return [], {}
        return self.update_commands(created or {"Name": name}, rest), rest

    # ---- replication lag -----------------------------------------------------
    def lagging(self, client, error, cmdlet, parameters, name):
        """Why replication of this run's own earlier write explains ``error`` of write ``cmdlet``, or None.

        The default: a write to the object that this run created moments ago answered "not found".
        """
        if isinstance(error, NotFoundError) and cmdlet != self.new_cmdlet and made_recently(client, self.noun, name):
            return ("%s '%s' was created or changed by this run moments ago and %s does not see it yet"
                    % (self.noun, name, cmdlet))
        return None

    def released(self, current, changes):
        """[(kind, name)] of the objects that ``current`` stops referring to by this removal (``changes`` None) or
        update: noted in the memo, so that a later write refused because of the old reference may wait."""
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
        return dict((o, v) for o, v in desired.items()
                    if v is not None and self.by_option[o].differs(v, self.by_option[o].current(current)))

    # ---- the task's result -----------------------------------------------------------------------------------
    def finish(self, client, name, desired, outcome):
        """Last word on ``outcome`` after the task's writes (``ensure`` calls it when the object was there or
        created). Default: nothing to add."""

    def result_view(self, view):
        """How a view (``outcome.before`` / ``after``) is shown in the result and the diff."""
        return view

    def result_extra(self, outcome):
        """Members the result adds for this object family."""
        return {}

    def diff(self, outcome):
        """The module's diff of ``outcome``: the object created or removed, or the properties that changed."""
        header = "%s %s" % (self.noun, outcome.name)
        before, after = self.result_view(outcome.before), self.result_view(outcome.after)
        if outcome.action == "create":
            return {"before": {}, "after": after, "before_header": header, "after_header": header}
        if outcome.action == "delete":
            return {"before": before, "after": {}, "before_header": header, "after_header": header}
        keys = outcome.changed_properties
        return {
            "before": dict((k, outcome.before.get(k)) for k in keys),
            "after": dict((k, outcome.after.get(k)) for k in keys),
            "before_header": header,
            "after_header": header,
        }


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
        after = self.spec.result_view(self.after)
        result = {
            "changed": self.changed,
            "msg": msg,
            "action": self.action,
            "changes": self.changes(),
            "changed_properties": self.changed_properties,
            "commands": self.commands,
            "before": self.spec.result_view(self.before),
            "after": after,
            self.spec.result_key: after,
        }
        result.update(self.spec.result_extra(self))
        if diff_mode:
            result["diff"] = self.spec.diff(self)
        if warnings:
            result["service_warnings"] = list(warnings)
        return result

    def diff(self):
        return self.spec.diff(self)

    def changes(self):
        """[{property, before, after}] of every changed property, with the values as the service reads them back on
        both sides (a rule's properties by their path, ``conditions.sender_ip_ranges``): the one shape every module
        and the partners module return, so that no summary re-derives or scrapes values."""
        if self.action not in ("create", "update"):
            return []
        return [{"property": key, "before": (self.before or {}).get(key), "after": (self.after or {}).get(key)}
                for key in self.changed_properties]


def ensure(client, spec, name, state, desired, check_mode=False):
    """Converge one object. ``desired`` maps option -> value (None = leave unmanaged)."""
    spec.check_mode = check_mode
    spec.check_name(name)
    if state == "present":
        spec.preflight(name, desired)
        desired = spec.prepare(client, name, desired)
    outcome = Outcome(spec, name)
    current = spec.read(client, name)
    waited = False
    if current is None and made_recently(client, spec.noun, name):
        # An earlier task of this run created it: replication may not show it yet. Wait rather than conclude
        # that it is absent (which would remove nothing, or create it twice).
        waited = True
        current = await_visible(client, spec, name)
        if current is None and state == "absent":
            forget(client, spec, name)
            raise ConfigurationError(
                "%s '%s' was created or changed by an earlier task of this run but Exchange Online does not show it yet "
                "(replication delay), so it cannot be removed now. Re-run the task in a few minutes (it then takes the "
                "tenant as it reads it), or raise retries or retry_delay." % (spec.noun, name))
    outcome.before = spec.view(current)

    if state == "absent":
        if current is None:
            return outcome
    else:
        spec.preflight_current(name, desired, current)
    done = client.writes_done
    try:
        if state == "absent":
            outcome = _delete(client, spec, name, current, outcome, check_mode)
        elif current is None:
            outcome = _create(client, spec, name, desired, outcome, check_mode, waited)
        else:
            outcome = _update(client, spec, name, desired, current, outcome, check_mode)
    except MailflowError as exc:
        raise _after_writes(exc, client, done, spec, name, outcome)
    spec.finish(client, name, desired, outcome)
    return outcome


def _after_writes(error, client, done, spec, name, outcome):
    """``error`` as the task's failure: when a write of the task had already taken effect (for example a Set that
    succeeded before the read of the result failed, or a New before the Set that follows it), the task changed the
    tenant and must say so (``changed``), and which writes it made."""
    if client.writes_done == done or error.changed:
        return error
    verb = {"create": "created", "update": "updated", "delete": "removed"}.get(outcome.action, "changed")
    error.msg = ("%s '%s' was %s by this task, but then: %s. Re-run the task: it reads the tenant first and "
                 "converges." % (spec.noun, name, verb, error.msg.rstrip(".")))
    error.changed = True
    return error


def _delete(client, spec, name, current, outcome, check_mode):
    spec.preflight_current(name, None, current)
    spec.guard(client, name, None, current)
    params = spec.remove_parameters(current)
    outcome.commands.append({"cmdlet": spec.remove_cmdlet, "parameters": params})
    outcome.changed, outcome.action = True, "delete"
    if check_mode:
        return outcome
    try:
        send(client, spec, name, spec.remove_cmdlet, params, verify=lambda: spec.read(client, name) is None)
    except NotFoundError as exc:
        if exc.earlier_attempt is None:
            if spec.lagging(client, exc, spec.remove_cmdlet, params, name) is not None:
                raise  # our own new object, still not visible to Remove after the wait (explained by send)
            # Gone between our read and the removal (removed by someone else): absent, but not by this task.
            outcome.changed, outcome.action, outcome.commands = False, "none", []
            return outcome
        # The first attempt answered with a transient failure after removing it; the resend found nothing left.
        client.warnings.append("%s: the first attempt failed (%s) but had removed %s '%s'"
                               % (spec.remove_cmdlet, exc.earlier_attempt, spec.noun, name))
    remember(client, spec, name, "delete", current=current)
    return outcome


def _create(client, spec, name, desired, outcome, check_mode, waited):
    spec.guard(client, name, desired, None)
    params = spec.create_parameters(name, desired)
    outcome.commands.append({"cmdlet": spec.new_cmdlet, "parameters": params})
    outcome.changed, outcome.action = True, "create"
    outcome.changed_properties = sorted(o for o, v in desired.items() if v is not None)
    if check_mode:
        outcome.after = spec.predict({}, name, dict((o, v) for o, v in desired.items() if v is not None))
        outcome.commands.extend(spec.post_create(name, desired, None)[0])
        return outcome
    try:
        created = send(client, spec, name, spec.new_cmdlet, params, verify=lambda: spec.read(client, name) is not None)
    except DuplicateError as exc:
        return _created_elsewhere(client, spec, name, desired, outcome, check_mode, waited, exc)
    remember(client, spec, name, "create")
    created = spec.match(created, name) if created else None
    commands, rest = spec.post_create(name, desired, created)
    if commands:
        send_writes(client, spec, name, commands, rest)
        outcome.commands.extend(commands)
    final = created
    if created is None or len(outcome.commands) > 1:
        final = spec.read(client, name) or created
    outcome.after = spec.view(final) if final else spec.predict({}, name, desired)
    return outcome


def _created_elsewhere(client, spec, name, desired, outcome, check_mode, waited, error):
    """New said "already exists" for an object our read did not see: replication delay.

    When an earlier attempt of this New failed after it was sent (a 5xx or a network failure, ``earlier_attempt``),
    the object is this task's own: the outcome stays a create (issue: a create under replication delay is a
    change). Otherwise it existed before the task, and it is judged as an update once it can be read.
    """
    ours = error.earlier_attempt is not None
    if ours:
        remember(client, spec, name, "create")
        client.warnings.append("%s: the first attempt failed (%s) but had created %s '%s'; the resend was refused "
                               "as a duplicate and not applied twice"
                               % (spec.new_cmdlet, error.earlier_attempt, spec.noun, name))
    current = None if waited and not ours else await_visible(client, spec, name)
    if current is None:
        failure = ConfigurationError(
            "%s '%s' %s but Exchange Online does not show it yet (replication delay). Wait a few minutes and re-run "
            "the task: it reads the tenant first and converges." % (
                spec.noun, name, "was created by this task (%s answered '%s' first, then 'already exists')"
                % (spec.new_cmdlet, error.earlier_attempt) if ours else "already exists in the tenant"))
        failure.changed = ours
        raise failure
    fresh = Outcome(spec, name)  # judge what is left to change against the object as it is
    fresh.commands = outcome.commands[:-1]
    _update(client, spec, name, desired, current, fresh, check_mode)
    if not ours:
        return fresh
    outcome.commands.extend(fresh.commands)
    outcome.after = fresh.after
    return outcome


def send_writes(client, spec, name, commands, changes):
    """Send ``commands`` (the writes of one change) in order; a transient failure is settled by reading back.

    Each write is judged by what it carries (``spec.command_changes``): a Set that ran behind a fault is not sent
    again because the Enable or Disable that follows it has not run yet.
    """

    def applied(part):
        now = spec.read(client, name)
        return now is not None and not spec.changes(part, now)

    for command in commands:
        part = spec.command_changes(command, changes)
        send(client, spec, name, command["cmdlet"], command["parameters"], verify=lambda part=part: applied(part))


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
    send_writes(client, spec, name, commands, changes)
    remember(client, spec, name, "update", current=current, changes=changes)
    final = spec.read(client, name)
    outcome.after = spec.view(final) if final is not None else predicted
    return outcome
