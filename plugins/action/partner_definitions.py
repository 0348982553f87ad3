# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of m365.mailflow.partner_definitions: load and check every partner definition of a run.

Runs on the controller: takes the run's variables as the user wrote them (lists, comma-separated text, YAML text,
booleans as true/yes/1), loads the partner files (vault-encrypted ones too) and inline definitions, checks them with
``module_utils/partners.py`` (the role's argument spec, the cross-field rules, the modules' own pre-flight code),
then reads the tenant once through the module of the same name (connectors and rules, 4 calls) for the checks that
need it. Every problem is reported at once, each as ``<source>: <field>: <message>``; on success it returns the
checked, normalised partner list that the playbooks hand to the roles. The documentation is in
plugins/modules/partner_definitions.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.m365.mailflow.plugins.plugin_utils.run_vars import empty as _empty, raw as _raw

from ansible_collections.m365.mailflow.plugins.module_utils import values as n
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partner_format as pf
from ansible_collections.m365.mailflow.plugins.module_utils.resources import partners as pu
from ansible_collections.m365.mailflow.plugins.module_utils.connection import connection_argument_spec

MODULE = "m365.mailflow.partner_definitions"
_SPECS = {}


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML as Ansible reads it (safe, 1.1 booleans), plus a record of keys given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen = set()
            for key_node, _value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in seen:
                        self.duplicates.append((key, key_node.start_mark.line + 1))
                    seen.add(key)
                except TypeError:
                    pass
        return super(_Loader, self).construct_mapping(node, deep=deep)


def load_yaml(text):
    """(data, [(key, line) given twice]); raises yaml.YAMLError."""
    loader = _Loader(str(text))  # a plain str: the C parser refuses str subclasses (Ansible's tagged values)
    loader.duplicates = []
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()


def yaml_error(exc):
    mark = getattr(exc, "problem_mark", None)
    where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
    return "not valid YAML%s: %s" % (where, getattr(exc, "problem", None) or exc)


def specs():
    """The partner, validation and connection specs (argument-spec options), built once per process: the partner-file
    format is ``partner_format.partner_options`` (the one source; the roles' argument specs are generated from it)."""
    if not _SPECS:
        _SPECS["partner"] = pu.definition_options()
        _SPECS["validation"] = pf.validation_options()
        connection = {}
        for key, spec in connection_argument_spec().items():
            connection[key] = dict((k, v) for k, v in spec.items() if k in ("type", "choices", "no_log", "elements"))
        _SPECS["connection"] = connection
    return _SPECS


def _as_given(value, variable, task_vars):
    """The run variable ``variable`` itself when ansible-core turned it into text on its way here.

    ansible-core before 2.19 templates an argument such as ``{{ partner_files | default(omit) }}`` into text, so an
    extra variable given as a number (``-e '{"partner_files": 42}'``) arrives as ``'42'``, which reads as a file name.
    The variable in ``task_vars`` still has its own type: a text argument that is exactly that value as text is taken
    as the variable, so the message is the same on every ansible-core release.
    """
    if isinstance(value, str) and variable in task_vars:
        given = task_vars[variable]
        if given is not None and not isinstance(given, (str, bytes, list, tuple, dict)) and str(given) == value:
            return given
    return value


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        self._pending = {}
        self.origin = None
        args = dict(self._task.args)
        names = dict(pu.DEFAULT_NAMES)
        names.update(dict((str(k), str(v)) for k, v in (args.get("variables") or {}).items()))
        report = pu.Report()
        mode = args.get("mode") or "onboard"
        label = args.get("tenant_label") or task_vars.get("inventory_hostname") or "localhost"
        if mode not in ("onboard", "offboard"):
            return self._fail(result, report, label, extra="mode: '%s' is not one of onboard, offboard" % mode)

        adopt = self._flag(args.get("adopt"), names["adopt"], report)
        force = self._flag(args.get("force"), names["force"], report)
        connection = self._connection_options(args, names["connection"], report)
        validation = self._validation_settings(args.get("validation"), names["validation"], report)
        plan_variable = args.get("plan_variable")
        if plan_variable and not _empty(task_vars.get(str(plan_variable))):
            # A saved plan is applied as it was made: the partner files are not read (m365.mailflow.partners reads
            # the plan from the same variable, as data).
            if report.errors:
                return self._fail(result, report, label)
            result.update({"changed": False, "origin": "plan", "applying_plan": True, "partners": [],
                           "adopt": adopt, "force": force, "validation": validation, "tenant_read": False,
                           "msg": "applying the saved plan given in %s: the partner definitions are not read" %
                                  plan_variable})
            return result
        partners = self._load_definitions(args, names, mode, task_vars, report)
        pu.check_definitions(partners, specs()["partner"], report, mode=mode, run_validation=validation)

        tenant_read = False
        read = pu.to_bool(args.get("read_tenant", True))
        if not report.errors and partners and read is not False:
            tenant, failure = self._read_tenant(connection, task_vars)
            if failure is not None:
                result.update(failure)
                return result
            tenant_read = True
            pu.check_tenant(partners, tenant, report, mode=mode, adopt=adopt, force=force, names=names)
            result["tenant_calls"] = tenant.get("calls")

        if mode == "offboard" and not report.errors:
            self._still_onboarded(partners, args, task_vars, report, names)
        for key, values in self._pending.items():
            result.setdefault(key, []).extend(values)
        if report.warnings:
            result.setdefault("warnings", []).extend(report.warnings)
        if report.errors:
            return self._fail(result, report, label)
        result.update({
            "changed": False,
            "origin": self.origin,
            "partners": [p.result() for p in partners],
            "adopt": adopt,
            "force": force,
            "validation": validation,
            "tenant_read": tenant_read,
            "msg": "%d partner definition(s) checked for tenant %s%s" % (
                len(partners), label, "" if tenant_read else " (the tenant was not read)"),
        })
        return result

    # ------------------------------------------------------------------------------------------------ results
    @staticmethod
    def _fail(result, report, label, extra=None):
        errors = list(report.errors) + ([extra] if extra else [])
        result.update({
            "failed": True,
            "changed": False,
            "problems": errors,
            "msg": "tenant %s: %d problem%s in the partner definitions or the run's variables; nothing was changed in "
                   "the tenant:\n%s" % (label, len(errors), "" if len(errors) == 1 else "s",
                                        "\n".join("- " + e for e in errors)),
        })
        return result

    # ------------------------------------------------------------------------------------------------ variables
    @staticmethod
    def _flag(value, var, report):
        if value is None or (isinstance(value, str) and not value.strip()):
            return False
        flag = pu.to_bool(value)
        if flag is None:
            report.error("", var, "expected true or false (true, yes, 1 or false, no, 0), got %s" % pu.describe(value))
            return False
        return flag

    def _connection_options(self, args, var, report):
        """Connection options: those of the task (module_defaults of the action group) under ``connection``."""
        spec = specs()["connection"]
        given = dict((k, v) for k, v in args.items() if k in spec and v is not None)
        value = args.get("connection")
        if value is None or (isinstance(value, str) and not value.strip()):
            value = {}
        if not isinstance(value, dict):
            report.error("", var, "expected a mapping of connection options (tenant, client_id, certificate_path, "
                                  "sandbox, ...), got %s; see docs/connecting-a-tenant.md" % _secretless(value))
            return given
        checked = pu.check_options(value, spec, var, report, "", strict_text=())
        given.update(checked or {})
        return given

    @staticmethod
    def _validation_settings(value, var, report):
        """The run-wide validation settings (they override every definition's), checked like a definition's."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return {}
        checked = pu.check_options(value, pf.validation_overrides(), var, report, "", strict_text=()) or {}
        for problem in n.probe_settings_problems(checked):
            report.error("", pu.place(problem, var, checked), problem.message)
        return checked

    def _load_definitions(self, args, names, mode, task_vars, report):
        """Every definition of the run as Partner objects: the inline ones, else the files. Where they came from is
        kept in ``self.origin`` (definition, partners, file, files, default_files)."""
        inline = args.get("definition")
        variable = args.get("definition_variable")
        if _empty(inline) and variable:
            # An inline definition (an extra var, an AWX survey answer) is data, never a template: it is taken as the
            # run gave it, before Ansible renders it (a {{ lookup('pipe', ...) }} in it must not run on the
            # controller, and its text must reach the comment as written).
            names["definition"] = str(variable)
            inline = _raw(task_vars.get(str(variable)))
        loaded = self._inline(inline, names["definition"], report, names["file"])
        self.origin = "definition" if loaded is not None else None
        if loaded is None and args.get("partners") is not None:
            loaded = self._preloaded(args["partners"], names["partners"], report)
            self.origin = "partners"
        if loaded is None:
            entries = None
            for key in ("file", "files", "default_files"):
                value = _as_given(args.get(key), names.get(key, key), task_vars) if key != "default_files" else args.get(key)
                entries = self._file_list(value, names.get(key, key), report)
                if entries is not None:
                    self.origin = key
                    break
            if entries is None:
                if not report.errors:
                    report.error("", names["files"], self._nothing_given(mode, names, task_vars))
                return []
            loaded = self._read_files(entries, args, task_vars, report)
        return [pu.Partner(source, data) for source, data in loaded]

    @staticmethod
    def _nothing_given(mode, names, task_vars):
        host = task_vars.get("inventory_hostname", "localhost")
        if mode == "offboard":
            return ("nothing to offboard for %s: name the partner with -e %s=FILE or -e %s=YAML, or set %s for the "
                    "tenant in the inventory (offboarding never takes the tenant's onboarding list)"
                    % (host, names["file"], names["definition"], names["files"]))
        return ("no partner definition for %s: set %s for this tenant in the inventory, or give -e %s=FILE or -e "
                "%s=YAML" % (host, names["files"], names["file"], names["definition"]))

    @staticmethod
    def _inline(value, var, report, file_var="partner_file"):
        """[(source, data)] from partner_definition (mapping, YAML text, or a list of them), or None if not given."""
        if _empty(value):
            return None
        if isinstance(value, str):
            try:
                value, duplicates = load_yaml(value)
            except yaml.YAMLError as exc:
                report.error("", var, "%s; give the partner definition as YAML text (partner: {name: ..., inbound: "
                                      "...})" % yaml_error(exc))
                return []
            for key, line in duplicates:
                report.error(var, "line %d" % line, "the key '%s' is given twice in one mapping; YAML would keep only "
                                                    "the last one" % key)
            if isinstance(value, str) or value is None or isinstance(value, (int, float, bool)):
                report.error("", var, "%s is not a partner definition; give YAML text or a mapping with the key partner "
                                      "(partner: {name: ..., inbound: ..., outbound: ...}), or a file with -e %s=FILE"
                             % (pu.describe(value), file_var))
                return []
        if isinstance(value, (list, tuple)):
            return [("%s[%d]" % (var, i), item) for i, item in enumerate(value)]
        return [(var, value)]

    @staticmethod
    def _preloaded(value, var, report):
        if not isinstance(value, (list, tuple)):
            report.error("", var, "expected a list of {source, definition}, got %s" % pu.describe(value))
            return []
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, dict) or "definition" not in item:
                report.error("", "%s[%d]" % (var, index), "expected a mapping with source and definition, got %s"
                             % pu.describe(item))
                continue
            out.append((str(item.get("source") or "%s[%d]" % (var, index)), item["definition"]))
        return out

    @staticmethod
    def _file_list(value, var, report):
        """[(label, path)] from a list, comma-separated text or a YAML list as text; None when not given."""
        if _empty(value):
            return None
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("[") or text.startswith("- ") or "\n" in text:
                try:
                    value, _duplicates = load_yaml(text)
                except yaml.YAMLError as exc:
                    report.error("", var, "%s; give a YAML list ([a.yml, b.yml]) or comma-separated file names "
                                          "(a.yml,b.yml)" % yaml_error(exc))
                    return []
                if isinstance(value, str):
                    value = [value]
            else:
                parts = [part.strip() for part in text.split(",")]
                if len(parts) == 1:
                    return [(var, parts[0])]
                value = parts
        if not isinstance(value, (list, tuple)):
            report.error("", var, "expected the partner files as a list (a YAML list, or comma-separated text such as "
                                  "a.yml,b.yml), got %s" % pu.describe(value))
            return []
        entries = []
        for index, item in enumerate(value):
            label = "%s[%d]" % (var, index)
            if isinstance(item, str) and item.strip():
                entries.append((label, item.strip()))
            else:
                report.error("", label, "expected a partner file path (text), got %s" % pu.describe(item))
        return entries

    def _search_paths(self, args, task_vars):
        given = args.get("search_paths")
        if given is None:
            given = [task_vars.get("inventory_dir"), task_vars.get("playbook_dir")]
        if isinstance(given, str):
            given = [given]
        out = [os.getcwd()]
        for path in given:
            path = os.path.normpath(os.path.abspath(str(path))) if path else None
            if path and path not in out:
                out.append(path)
        return out

    def _read_files(self, entries, args, task_vars, report):
        search = self._search_paths(args, task_vars)
        seen = {}
        loaded = []
        for label, path in entries:
            found = self._resolve(path, search)
            folder = self._folder(path, search) if found is None else None
            if folder is not None:
                report.error("", label, _folder_message(path, folder))
                continue
            if found is None:
                where = "the current directory %s" % search[0] if not os.path.isabs(os.path.expanduser(path)) else ""
                others = ", ".join(search[1:])
                report.error("", label, "'%s' not found%s; give the path of a partner file%s" % (
                    path, " (looked in %s%s)" % (where, (" and in " + others) if others else "") if where else "",
                    "" if path.endswith((".yml", ".yaml")) else " (a .yml file)"))
                continue
            real = os.path.realpath(found)
            if real in seen:
                report.error("", label, "'%s' is the same file as %s; list each partner file once" % (path, seen[real]))
                continue
            seen[real] = label
            data = self._read_one(path, found, report)
            if data is not _MISSING:
                loaded.append((path, data))
        return loaded

    @staticmethod
    def _resolve(path, search, exists=os.path.isfile):
        """The first of the search paths where ``path`` names a file (or what ``exists`` accepts), or None."""
        path = os.path.expanduser(path)
        candidates = [path] if os.path.isabs(path) else [os.path.join(d, path) for d in search]
        for candidate in candidates:
            if exists(candidate):
                return candidate
        return None

    @classmethod
    def _folder(cls, path, search):
        """The directory a partner file path names (where a file was expected), or None."""
        return cls._resolve(path, search, os.path.isdir)

    def _read_one(self, source, path, report):
        real, data = None, b""
        try:
            real = self._loader.get_real_file(path, decrypt=True)  # vault-encrypted files are decrypted
            with open(real, "rb") as handle:
                data = handle.read()
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.error(source, "", _encoding_message(data, exc))
            return _MISSING
        except (AnsibleError, OSError, UnicodeError) as exc:
            report.error(source, "", "cannot be read: %s" % to_text(exc))
            return _MISSING
        finally:
            if real is not None and real != path:
                self._loader.cleanup_tmp_file(real)
        try:
            data, duplicates = load_yaml(text)
        except yaml.YAMLError as exc:
            report.error(source, "", yaml_error(exc))
            return _MISSING
        for key, line in duplicates:
            report.error(source, "line %d" % line, "the key '%s' is given twice in one mapping; YAML would keep only "
                                                   "the last one" % key)
        return data

    def _still_onboarded(self, partners, args, task_vars, report, names):
        """Offboarding a partner that the tenant's onboarding list (``onboarding_files``, the inventory's
        partner_files) still holds: the next onboarding recreates it. Said as a warning naming the file; files of the
        list that cannot be read are not judged here (onboarding reports them)."""
        listed = self._file_list(_as_given(args.get("onboarding_files"), names["files"], task_vars), names["files"],
                                 pu.Report())
        if not listed:
            return
        wanted = dict((str(p.name).strip().lower(), p) for p in partners if p.name)
        quiet = pu.Report()
        for label, path in listed:
            found = self._resolve(path, self._search_paths(args, task_vars))
            if found is None:
                continue
            data = self._read_one(path, found, quiet)
            name = ((data or {}).get("partner") or {}).get("name") if isinstance(data, dict) else None
            partner = wanted.get(str(name).strip().lower()) if isinstance(name, str) else None
            if partner is not None:
                report.warn(partner.source, "", "partner '%s' is still in the tenant's partner_files (%s: %s) of %s; "
                                                "the next onboarding of the tenant recreates it. Remove it from the "
                                                "inventory" % (partner.name, label, path,
                                                               task_vars.get("inventory_hostname", "this tenant")))

    # ------------------------------------------------------------------------------------------------ the tenant
    def _read_tenant(self, connection, task_vars):
        """The tenant's connectors and rules, read by the module on the target (4 calls); (tenant, failure)."""
        outcome = self._execute_module(module_name=MODULE, module_args=dict(connection), task_vars=task_vars)
        if outcome.get("failed"):
            failure = dict((k, v) for k, v in outcome.items() if k not in ("invocation",))
            failure["changed"] = False
            failure["msg"] = ("reading the tenant before any change failed, nothing was changed: %s"
                              % outcome.get("msg", "no message"))
            return None, failure
        for key in ("warnings", "deprecations"):  # e.g. about the connection settings: shown once, here
            if outcome.get(key):
                self._pending.setdefault(key, []).extend(outcome[key])
        return outcome.get("tenant") or {}, None


_MISSING = object()
_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
         (b"\xfe\xff", "UTF-16"))


def _encoding_message(data, exc):
    """What is wrong with a partner file that is not UTF-8, and where: the line and column of the first byte that is
    not, or the encoding its byte order mark names."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return ("is %s text (it starts with a %s byte order mark); a partner file is YAML in UTF-8. Save it as "
                    "UTF-8 (in most editors: Save with Encoding, UTF-8)" % (name, name))
    before = data[:exc.start]
    line = before.count(b"\n") + 1
    column = exc.start - (before.rfind(b"\n") + 1) + 1
    return ("is not UTF-8 text: byte 0x%02x at line %d, column %d is not UTF-8 (the file was probably saved as "
            "Windows-1252 or Latin-1); a partner file is YAML in UTF-8. Save it as UTF-8 (in most editors: Save with "
            "Encoding, UTF-8)" % (data[exc.start], line, column))


def _folder_message(path, folder):
    """A directory given where a partner file belongs: say so, and name the partner files in it."""
    try:
        names = sorted(f for f in os.listdir(folder) if f.endswith((".yml", ".yaml"))
                       and os.path.isfile(os.path.join(folder, f)))
    except OSError:
        names = []
    if names:
        shown = ", ".join(names[:5]) + (" and %d more" % (len(names) - 5) if len(names) > 5 else "")
        hint = "it holds %s: list the ones to onboard, such as %s" % (shown, os.path.join(path, names[0]))
    else:
        hint = "it holds no .yml file"
    return ("'%s' is a directory (%s), not a partner file; give the path of each partner file (a .yml file): %s"
            % (path, os.path.abspath(folder), hint))


def _secretless(value):
    """describe() for a value that may hold secrets: its kind only, never its text."""
    if isinstance(value, str):
        return "text"
    return pu.describe(value) if not isinstance(value, (list, tuple, dict)) else "a %s" % (
        "list" if isinstance(value, (list, tuple)) else "mapping")
