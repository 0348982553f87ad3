# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cmdlet errors of the sandbox tenant and its parameter binder: each cmdlet's parameter schema, and how
one JSON value is bound to a parameter (booleans, numbers, enums, lists and their Add/Remove form, dates)
the way PowerShell binds it, with the service's transformation and binding errors."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re
import zlib


# --------------------------------------------------------------------------- exception types

NS_CMD = "Microsoft.Exchange.AdminApi.CommandInvocation."
NS_SCT = "Microsoft.Exchange.Management.SystemConfigurationTasks."
NS_RULES = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks."

AMBIGUOUS = NS_CMD + "AmbiguousParameterSetException"
TRANSFORMATION = NS_CMD + "ParameterTransformationException"
BINDING = "System.Management.Automation.ParameterBindingException"
DATA_VALIDATION = "Microsoft.Exchange.Data.DataValidationException"
ARGUMENT = "System.ArgumentException"
NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
INVALID_OPERATION = "Microsoft.Exchange.Configuration.Tasks.TaskInvalidOperationException"
STILL_REFERENCED = NS_SCT + "ConnectorIncorrectUsageConnectorStillReferencedException"

SERVER = "NAMPR08A008DC001.NAMPR08A008.PROD.OUTLOOK.COM"
FOREST = "DC=NAMPR08A008,DC=PROD,DC=OUTLOOK,DC=COM"
EXCHANGE_VERSION = "0.1 (8.0.535.0)"
ADMIN = "Sandbox Administrator"


def string_id(key):
    """A stable ``ExNNNNNN`` string id per error kind (the real ids are unknown)."""
    return "Ex%06X" % (zlib.crc32(key.encode("utf-8")) & 0xFFFFFF)


class CmdletError(Exception):
    """A terminating cmdlet error: becomes ``wire.error_body(status, exc_type, message, string_id)``."""

    def __init__(self, message, exc_type=DATA_VALIDATION, status=400, key=None, sid=None):
        super(CmdletError, self).__init__(message)
        self.message = message
        self.exc_type = exc_type
        self.status = status
        if sid is None:
            sid = string_id(key or exc_type)
        self.sid = sid


def fail(key, message, exc_type=DATA_VALIDATION):
    """Raise a 400 validation error; ``key`` names the reference rule (I2, O5...) for a stable string id."""
    raise CmdletError(message, exc_type=exc_type, key=key)


def not_found(identity):
    raise CmdletError("The operation couldn't be performed because object '%s' couldn't be found on '%s'." % (identity, SERVER),
                      exc_type=NOT_FOUND, status=404, sid="Ex6F9304")


def ambiguous(name):
    raise CmdletError("Parameter set cannot be resolved using the specified named parameters. "
                      "Invalid cmdlet parameters specified. %s" % name, exc_type=AMBIGUOUS, sid="")


def transformation(name, value, type_name, detail):
    raise CmdletError("Cannot process argument transformation on parameter '%s'. Cannot convert value \"%s\" to type "
                      "\"%s\". Error: \"%s\"" % (name, value, type_name, detail), exc_type=TRANSFORMATION, sid="")


# --------------------------------------------------------------------------- parameter schema

HASH_TYPE = "#Exchange.GenericHashTable"


class Param(object):
    """One cmdlet parameter.

    ``kind``: str, bool, int, enum, list, date, any. ``values``: enum names. ``scope``: both, new or set.
    ``nullable``: whether $null is a valid value. ``check``: item validator ``check(name, value) -> value``.
    """

    __slots__ = ("name", "kind", "values", "scope", "nullable", "check", "type_name")

    def __init__(self, name, kind="str", values=None, scope="both", nullable=True, check=None, type_name=None):
        self.name = name
        self.kind = kind
        self.values = tuple(values or ())
        self.scope = scope
        self.nullable = nullable
        self.check = check
        self.type_name = type_name or ("Microsoft.Exchange.Data." + name)


class HashUpdate(object):
    """The ``@{Add=...; Remove=...}`` form of a multi-valued parameter."""

    __slots__ = ("add", "remove")

    def __init__(self, add, remove):
        self.add = add
        self.remove = remove

    def apply(self, current):
        items = list(current or [])
        drop = set(v.lower() for v in self.remove)
        items = [v for v in items if v.lower() not in drop]
        have = set(v.lower() for v in items)
        for value in self.add:
            if value.lower() not in have:
                items.append(value)
                have.add(value.lower())
        return items


COMMON = (
    Param("Confirm", "bool"), Param("WhatIf", "bool"), Param("ErrorAction", "any"), Param("WarningAction", "any"),
)

COMMON_NAMES = frozenset(p.name for p in COMMON)


def schema(*groups):
    """A cmdlet schema: lower-case name -> Param, common parameters included."""
    out = {}
    for group in groups + (COMMON,):
        for param in group:
            out[param.name.lower()] = param
    return out


def _as_items(param, value):
    if isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    out = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, (dict, list)):
            transformation(param.name, item, param.type_name, "A value of a multi-valued parameter must be a string")
        if isinstance(item, bool):
            item = "True" if item else "False"
        out.append(str(item).strip())
    return out


def _check_items(param, items):
    if param.check is None:
        return items
    return [param.check(param.name, item) for item in items]


def coerce(param, value, verb):
    """Bind one JSON value to ``param``: return the coerced value or raise a transformation error."""
    if value is None:
        return None
    kind = param.kind
    if kind == "any":
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        transformation(param.name, value, "System.Boolean", "Boolean parameters accept only Boolean values and numbers, "
                       "such as $True, $False, 1 or 0.")
    if kind == "int":
        try:
            if isinstance(value, bool):
                raise ValueError
            number = int(str(value).strip())
        except ValueError:
            transformation(param.name, value, "System.Int32", "Input string was not in a correct format.")
        return param.check(param.name, number) if param.check else number
    if kind == "enum":
        if isinstance(value, str):
            for name in param.values:
                if name.lower() == value.strip().lower():
                    return name
        transformation(param.name, value, param.type_name,
                       "Unable to match the identifier name %s to a valid enumerator name. Specify one of the following "
                       "enumerator names and try again: %s" % (value, ", ".join(param.values)))
    if kind == "list":
        if isinstance(value, dict):
            if verb != "set" or str(value.get("@odata.type", HASH_TYPE)) != HASH_TYPE:
                transformation(param.name, value, param.type_name,
                               "The Add/Remove form of a multi-valued parameter is only accepted by Set cmdlets")
            lowered = dict((str(k).lower(), v) for k, v in value.items() if k != "@odata.type")
            unknown = [k for k in lowered if k not in ("add", "remove")]
            if unknown:
                transformation(param.name, value, param.type_name,
                               "Only the keys Add and Remove are allowed in a multi-valued update, not %s" % ", ".join(unknown))
            return HashUpdate(_check_items(param, _as_items(param, lowered.get("add"))),
                              _check_items(param, _as_items(param, lowered.get("remove"))))
        return _check_items(param, _as_items(param, value))
    if kind == "date":
        return parse_date(param.name, value)
    # str
    if isinstance(value, (dict, list)):
        if isinstance(value, list) and len(value) == 1 and not isinstance(value[0], (dict, list)):
            value = value[0]
        else:
            transformation(param.name, value, "System.String", "Cannot convert a collection to a single string value.")
    if isinstance(value, bool):
        value = "True" if value else "False"
    value = str(value)
    return param.check(param.name, value) if param.check else value


def bind(cmd_schema, parameters, verb):
    """Canonicalise and coerce a parameter dict; unknown names give AmbiguousParameterSetException."""
    if parameters is not None and not isinstance(parameters, dict):
        ambiguous(str(parameters))
    bound = {}
    for raw_name, value in (parameters or {}).items():
        if str(raw_name).endswith("@odata.type"):
            continue
        param = cmd_schema.get(str(raw_name).lower())
        if param is None or (param.scope != "both" and param.scope != verb):
            ambiguous(raw_name)
        if value is None and not param.nullable:
            transformation(param.name, "", param.type_name, "The argument is null. Provide a valid value for the argument.")
        bound[param.name] = coerce(param, value, verb)
    return bound


_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
                   re.I)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def parse_date(name, value):
    """``yyyy-MM-ddTHH:mm:ss`` (UTC, as the module sends it) or with ``Z``/offset -> aware UTC datetime."""
    match = _DATE.match(str(value).strip())
    if not match:
        transformation(name, value, "System.DateTime", "String '%s' was not recognized as a valid DateTime." % value)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        stamp = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                                  int((fraction or "0").ljust(6, "0")[:6]), tzinfo=datetime.timezone.utc)
    except ValueError:
        transformation(name, value, "System.DateTime", "String '%s' was not recognized as a valid DateTime." % value)
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        stamp -= sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return stamp


def require(bound, cmdlet, *names):
    missing = [name for name in names if bound.get(name) in (None, "", [])]
    if missing:
        raise CmdletError("Cannot process command because of one or more missing mandatory parameters: %s." % " ".join(missing),
                          exc_type=BINDING, sid="")
