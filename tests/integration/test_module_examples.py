# -*- coding: utf-8 -*-
"""The EXAMPLES of every module are valid for its argument spec, and those that need no outside server really run.

Connection settings in the examples point at a real tenant; here they are replaced by the sandbox tenant
(EXO_SANDBOX), everything else runs as written, in the order the modules are listed. The examples of the filter
plugins (FILTERS) run last in the same run, on the tenant the module examples left.
"""

from __future__ import absolute_import, division, print_function

import ast
import os
import re
import sys

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from tests.support.ansible_runner import REPO, run_playbook

MODULES = ("partner_inbound_connector", "partner_outbound_connector", "mail_flow_rule", "connector_validate",
           "mail_flow_simulate")
RUNNABLE = MODULES[:3]  # connector_validate's examples probe the partners' mail servers on the network
FILTERS = ("mail_flow_diagram",)
PREFIX = "m365.mailflow."


def module_source(name, kind="modules"):
    with open(os.path.join(REPO, "plugins", kind, name + ".py")) as handle:
        return handle.read()


def examples(name, kind="modules"):
    for node in ast.parse(module_source(name, kind)).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "EXAMPLES":
            return yaml.safe_load(node.value.value)
    raise AssertionError("%s has no EXAMPLES" % name)


def plays(doc):
    if all("hosts" in item for item in doc):
        return doc
    return [{"name": "examples", "hosts": "localhost", "gather_facts": False, "tasks": doc}]


def module_tasks(doc):
    for play in plays(doc):
        defaults = (play.get("module_defaults") or {}).get("group/m365.mailflow.exchange") or {}
        for task in play.get("tasks", []):
            for key, args in task.items():
                if key.startswith(PREFIX):
                    yield key[len(PREFIX):], dict(defaults, **args)


def argument_spec(name):
    """The module's full argument spec, captured from its main() without running it."""
    namespace = {"__name__": "example_check"}
    exec(compile(module_source(name), name, "exec"), namespace)  # pylint: disable=exec-used

    class Captured(Exception):
        pass

    def capture(spec, **kwargs):
        from ansible_collections.m365.mailflow.plugins.module_utils.connection import connection_argument_spec
        full = connection_argument_spec()
        full.update(spec)
        raise Captured(full)

    namespace["MailflowModule"] = capture
    with pytest.raises(Captured) as info:
        namespace["main"]()
    return info.value.args[0]


def untemplated(args):
    return dict((k, v) for k, v in args.items() if not (isinstance(v, str) and "{{" in v))


@pytest.mark.parametrize("name", MODULES)
def test_examples_match_the_argument_spec(name):
    spec = argument_spec(name)
    found = list(module_tasks(examples(name)))
    assert found, "%s: EXAMPLES use no m365.mailflow module" % name
    for module, args in found:
        result = ArgumentSpecValidator(argument_spec(module) if module != name else spec).validate(untemplated(args))
        assert not result.error_messages, "%s example of %s: %s" % (name, module, result.error_messages)


def test_examples_run_against_the_sandbox(tmp_path):
    from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.tenant import SandboxTenant
    state = str(tmp_path / "tenant.db")
    SandboxTenant(state).execute("New-TransportRule", {"Name": "Append disclaimer", "FromScope": "InOrganization",
                                                       "ApplyHtmlDisclaimerText": "Confidential",
                                                       "ApplyHtmlDisclaimerLocation": "Append"})
    all_plays = [dict(play, module_defaults={}, vars={"ansible_python_interpreter": sys.executable})
                 for name in RUNNABLE for play in plays(examples(name))]
    all_plays += [dict(play, module_defaults={}, vars={"ansible_python_interpreter": sys.executable})
                  for name in FILTERS for play in plays(examples(name, "filter"))]
    expected = sum(len(play["tasks"]) for play in all_plays)
    proc = run_playbook(all_plays, str(tmp_path), env={"EXO_SANDBOX": state})
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    recap = re.search(r"ok=(\d+)\s+changed=(\d+).*failed=(\d+)\s+skipped=(\d+)", proc.stdout)
    ok, changed, failed, skipped = (int(g) for g in recap.groups())
    assert (ok, failed, skipped) == (expected, 0, 0), proc.stdout[-3000:]
    assert changed >= expected - 6  # every write example changed something; the debug and read tasks do not
    # mail_flow_diagram's example wrote the tenant the module examples left as a diagram
    markdown = (tmp_path / "mail-flow.md").read_text()  # the playbook is in tmp_path
    assert markdown.startswith("# Mail flow of contoso\n\n```mermaid\nflowchart LR\n  tenant[[\"Tenant contoso<br>")
    assert markdown.endswith("```\n") and "Append disclaimer" not in markdown  # a rule that routes nowhere: counted
