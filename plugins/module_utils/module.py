# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``MailflowModule``: the wrapper every module is built on.

It merges the shared connection options into the module's own, builds the
``AnsibleModule`` (check mode always supported), creates the client, runs the
work and turns every backend error into ``fail_json`` with an actionable
message: never a traceback, never a secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m365.mailflow.plugins.module_utils import engine
from ansible_collections.m365.mailflow.plugins.module_utils.connection import (
    connect,
    connection_argument_spec,
    connection_warnings,
)
from ansible_collections.m365.mailflow.plugins.module_utils.errors import MailflowError


# What ansible-core says, without naming the option, when an option of type dict with sub-options gets a string or a
# list of strings (its no_log pass converts each element and lets the error out unnamed; seen with ansible-core 2.19).
_UNNAMED_DICT_ERRORS = (
    "dictionary requested, could not parse JSON or key=value",
    "unable to evaluate string as dictionary",
    'unable to evaluate string in the "key=value" format as dictionary',
)


def misshapen_dicts(argument_spec, params, prefix=""):
    """Paths of the options of type dict whose value is given but is not a dictionary (sub-options included)."""
    found = []
    for name, spec in (argument_spec or {}).items():
        value = (params or {}).get(name)
        if spec.get("type") != "dict" or value is None:
            continue
        if not isinstance(value, dict):
            found.append(prefix + name)
        elif spec.get("options"):
            found.extend(misshapen_dicts(spec["options"], value, prefix + name + "."))
    return found


class _AnsibleModule(AnsibleModule):
    """AnsibleModule that names the option when ansible-core's argument validation does not (see above)."""

    def fail_json(self, msg=None, **kwargs):  # pylint: disable=arguments-differ
        if msg in _UNNAMED_DICT_ERRORS:
            named = misshapen_dicts(getattr(self, "argument_spec", None), getattr(self, "params", None))
            if named:
                msg = ("%s: give a dictionary of its keys (for example {recipient_domain_is: [adatum.com]}), not a "
                       "string or a list (%s)" % (" and ".join(named), msg))
        super(_AnsibleModule, self).fail_json(msg=msg, **kwargs)


class MailflowModule(object):

    def __init__(self, argument_spec, module_class=_AnsibleModule, **kwargs):
        spec = connection_argument_spec()
        spec.update(argument_spec)
        kwargs.setdefault("supports_check_mode", True)
        self.module = module_class(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.diff_mode = self.module._diff
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = connect(self.params, log=self.module.debug)
            for warning in connection_warnings(self.params):  # once per task: the client is made once
                self.module.warn(warning)
        return self._client

    def fail(self, error, **extra):
        result = error.to_result()
        result.update(extra)
        if self._client is not None:
            result.setdefault("calls", self._client.calls)  # every call made before the failure, reads included
        self.module.fail_json(msg=error.msg, **result)

    def _finish(self, result):
        warnings = result.pop("service_warnings", None) or []
        for warning in warnings:
            self.module.warn(warning)
        if warnings:
            result["service_warnings"] = warnings
        self.module.exit_json(**result)

    def summarised_invocation(self, large):
        """The invocation echo with the options ``large`` (megabytes of definitions) summarised: Ansible would
        otherwise copy and scan every value of them into the result."""
        args = dict((k, v) for k, v in self.params.items() if k not in large)
        for key in large:
            value = self.params.get(key)
            args[key] = "(%d entries)" % len(value) if isinstance(value, list) else value
        return {"module_args": args}

    def run(self, work):
        """Run ``work(self)`` returning a result dict; exit with it or fail cleanly."""
        try:
            result = work(self)
        except MailflowError as error:
            self.close()
            self.fail(error)
            return
        self.close()
        self._finish(result)

    def close(self):
        if self._client is not None:
            try:
                self._client.close()
            except MailflowError:
                pass

    def ensure(self, spec, name, state, desired):
        """Converge one object of ``spec`` and exit with the engine's result."""

        def work(mod):
            outcome = engine.ensure(mod.client, spec, name, state, desired, check_mode=mod.check_mode)
            return outcome.result(mod.check_mode, mod.diff_mode, warnings=list(mod.client.warnings) + spec.warnings)

        self.run(work)
