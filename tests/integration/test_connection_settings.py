# -*- coding: utf-8 -*-
"""Connection settings checked before any call (issue 15 point 7, issue 9 point 7), through real ansible-playbook runs.

Module tasks against the sandbox and the HTTPS emulator, and the onboarding/offboarding playbooks with a relative
EXO_SANDBOX and with a sandbox next to a real tenant's EXO_TENANT.
"""

from __future__ import absolute_import, division, print_function

import datetime
import os
import shutil
import sqlite3

import pytest

from tests.integration.test_onboarding import EXAMPLES, OFFBOARD, ONBOARD, extra, objects, playbook, recap
from tests.support import pki
from tests.support.ansible_runner import REPO, run_tasks

MODULE = "m365.mailflow.partner_inbound_connector"
CONNECTOR = {"name": "Adatum inbound", "sender_domains": ["adatum.example"]}


def snapshot(path):
    """The file's bytes and time, or None when there is no file (a run that changes nothing creates none)."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return handle.read(), os.stat(path).st_mtime_ns


def assert_clean_failure(result, *words):
    """Failed with our message (no traceback, no raw SQLite text) that contains every word."""
    assert result.get("failed") is True, result
    msg = result.get("msg", "")
    assert "MODULE FAILURE" not in msg and "Traceback" not in msg + result.get("module_stderr", ""), result
    assert "Traceback" not in str(result.get("exception", "")), result  # 2.19 adds "(traceback unavailable)"
    assert "sqlite3." not in msg and "OperationalError" not in msg and "DatabaseError" not in msg, msg
    for word in words:
        assert word in msg, (word, msg)
    return msg


# ----------------------------------------------------------------------------------------- sandbox, module tasks

def test_relative_sandbox_is_refused_by_a_module_task(tmp_path):
    """Before: created in the module's working directory (the playbook's), whatever the user meant."""
    run = run_tasks([(MODULE, dict(CONNECTOR, sandbox="rel/tenant.db"))], str(tmp_path))
    msg = assert_clean_failure(run.result, "sandbox: 'rel/tenant.db' is a relative path", "EXO_SANDBOX",
                               "{{ playbook_dir }}/rel/tenant.db")
    assert str(tmp_path) in msg  # the directory the module ran in
    assert not (tmp_path / "rel").exists()
    # The same through the environment fallback.
    run = run_tasks([(MODULE, CONNECTOR)], str(tmp_path), env={"EXO_SANDBOX": "env.db"})
    assert_clean_failure(run.result, "sandbox: 'env.db' is a relative path")
    assert not (tmp_path / "env.db").exists()


def test_sandbox_with_tenant_is_refused_and_the_sandbox_untouched(tmp_path):
    """Before: EXO_TENANT (e.g. left over from a real tenant) was silently ignored and the sandbox changed."""
    state = str(tmp_path / "tenant.db")
    assert run_tasks([(MODULE, dict(CONNECTOR, sandbox=state))], str(tmp_path)).result["changed"] is True
    before = snapshot(state)
    changed = dict(CONNECTOR, sandbox=state, comment="changed")
    run = run_tasks([(MODULE, changed)], str(tmp_path), env={"EXO_TENANT": "contoso.onmicrosoft.com"})
    assert_clean_failure(run.result, "sandbox is set", "tenant / EXO_TENANT", "EXO_SANDBOX")
    run = run_tasks([(MODULE, dict(changed, tenant="11111111-2222-3333-4444-555555555555"))], str(tmp_path))
    assert_clean_failure(run.result, "tenant / EXO_TENANT")
    assert snapshot(state) == before


def test_bad_sandbox_files_are_named_and_left_untouched(tmp_path):
    """Before: raw SQLite errors (a traceback), and tables created inside someone else's SQLite database."""
    folder = tmp_path / "folder"
    folder.mkdir()
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    other = str(tmp_path / "other-app.db")
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE settings (key TEXT, value TEXT)")
    conn.commit()
    conn.close()
    before = {str(text): snapshot(str(text)), other: snapshot(other)}
    run = run_tasks([(MODULE, dict(CONNECTOR, sandbox=str(folder))),
                     (MODULE, dict(CONNECTOR, sandbox=str(text))),
                     (MODULE, dict(CONNECTOR, sandbox=other))], str(tmp_path))
    directory, not_sqlite, foreign = run.results
    assert_clean_failure(directory, "sandbox: cannot use '%s'" % folder, "it is a directory", "EXO_SANDBOX",
                         str(folder / "tenant.db"))
    assert_clean_failure(not_sqlite, "sandbox: cannot use '%s'" % text, "not an SQLite database", "left untouched")
    assert_clean_failure(foreign, "sandbox: cannot use '%s'" % other, "SQLite database of something else (tables: "
                         "settings)", "left untouched")
    assert os.listdir(str(folder)) == []
    assert dict((path, snapshot(path)) for path in before) == before
    conn = sqlite3.connect(other)
    try:
        assert [row[0] for row in conn.execute("SELECT name FROM sqlite_master")] == ["settings"]
    finally:
        conn.close()


# ----------------------------------------------------------------------------------------- REST, module tasks

def _dated_cert(directory, expired):
    now = datetime.datetime.now(datetime.timezone.utc)
    if expired:
        bounds = dict(not_before=now - datetime.timedelta(days=400), not_after=now - datetime.timedelta(days=2))
    else:
        bounds = dict(not_before=now + datetime.timedelta(days=2), not_after=now + datetime.timedelta(days=400))
    return pki.issue_cert(None, directory, "expired" if expired else "future", self_signed=True,
                          common_name="mailflow app", **bounds)


@pytest.mark.emulator
@pytest.mark.parametrize("expired", [True, False], ids=["expired", "not-yet-valid"])
@pytest.mark.parametrize("kind", ["pem", "pfx"])
def test_certificate_outside_its_validity_never_reaches_the_token_endpoint(emulator_target, tmp_path, expired, kind):
    """Before: the assertion was sent and the token endpoint's answer blamed the app registration."""
    pair = _dated_cert(str(tmp_path / "certs"), expired)
    defaults = {"certificate_path": pair.pem}
    if kind == "pfx":
        defaults = {"certificate_path": pki.make_pfx(pair.cert, pair.key, "pfx-pw", str(tmp_path / "certs" / "a.pfx")),
                    "certificate_password": "pfx-pw"}
    result = emulator_target.task(MODULE, CONNECTOR, defaults=defaults)
    word = "expired on" if expired else "is not valid yet"
    msg = assert_clean_failure(result, "certificate_path: the certificate CN=mailflow app", word, "valid from",
                               "EXO_CERTIFICATE_PATH", "app registration")
    assert "pfx-pw" not in msg and "AADSTS" not in msg
    calls = emulator_target.calls()
    assert calls["tokens"] == 0 and calls["cmdlets"] == {}, calls


@pytest.mark.emulator
def test_client_id_that_is_not_a_guid_never_reaches_the_token_endpoint(emulator_target):
    result = emulator_target.task(MODULE, CONNECTOR, defaults={"client_id": "mailflow-app"})
    assert_clean_failure(result, "client_id: 'mailflow-app' is not an application (client) ID", "EXO_CLIENT_ID")
    assert emulator_target.calls()["requests"] == 0


@pytest.mark.emulator
def test_missing_ca_path_is_named(emulator_target, tmp_path):
    missing = str(tmp_path / "no-such-ca.pem")
    result = emulator_target.task(MODULE, CONNECTOR, defaults={"ca_path": missing})
    assert_clean_failure(result, "ca_path: '%s' does not exist" % missing, "EXO_CA_PATH")
    assert emulator_target.calls()["requests"] == 0


@pytest.mark.emulator
def test_validate_certs_false_warns_once_per_task(emulator_target):
    run = emulator_target.run((MODULE, CONNECTOR), (MODULE, CONNECTOR),
                              defaults={"validate_certs": False, "ca_path": None})
    created, unchanged = run.results
    assert created["changed"] is True and unchanged["changed"] is False, run.results
    for result in run.results:
        warnings = [w for w in result.get("warnings", []) if "validate_certs" in w]
        assert len(warnings) == 1, result.get("warnings")
        assert "127.0.0.1:%d" % emulator_target.emulator.port in warnings[0] and "ca_path (EXO_CA_PATH)" in warnings[0]
    shown = (run.stdout + run.stderr).replace("\n", " ")
    assert shown.count("[WARNING]: validate_certs is false (EXO_VALIDATE_CERTS)") == 1, shown  # ansible dedups
    quiet = emulator_target.run((MODULE, CONNECTOR))
    assert not [w for w in quiet.result.get("warnings", []) if "validate_certs" in w]


# ----------------------------------------------------------------------------------------- onboarding playbooks

@pytest.mark.parametrize("relative", ["tenant.db", "sub/dir/tenant.db"])
def test_relative_exo_sandbox_goes_where_the_target_line_says(tmp_path, relative):
    """Before: 'tenant.db' failed creating the directory '' and 'sub/dir/tenant.db' was written under playbooks/."""
    partner = os.path.join(EXAMPLES, "fabrikam.yml")
    expected = os.path.join(str(tmp_path), relative)
    wrong = os.path.join(REPO, "playbooks", relative.split("/")[0])
    existed = os.path.exists(wrong)
    try:
        env = {"EXO_SANDBOX": relative}
        first = playbook(ONBOARD, tmp_path, extra(partner_file=partner), env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "Target: sandbox tenant %s (no inventory given)" % expected in first.stdout
        assert sorted(name for _kind, name in objects(expected)) == ["Fabrikam inbound", "Fabrikam outbound"]
        assert not os.path.exists(wrong) or existed
        gone = playbook(OFFBOARD, tmp_path, extra(partner_file=partner), env=env)
        assert gone.returncode == 0, gone.stdout + gone.stderr
        assert "Target: sandbox tenant %s (no inventory given)" % expected in gone.stdout
        assert objects(expected) == {}
    finally:
        if not existed and os.path.exists(wrong):
            (shutil.rmtree if os.path.isdir(wrong) else os.remove)(wrong)


def test_exo_sandbox_with_home_goes_where_the_target_line_says(tmp_path):
    """Before: the Target line printed <cwd>/~/tenant.db while the module wrote $HOME/tenant.db."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"EXO_SANDBOX": "~/tenant.db", "HOME": str(home)}
    run = playbook(ONBOARD, tmp_path, extra(partner_file=os.path.join(EXAMPLES, "fabrikam.yml")), env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Target: sandbox tenant %s (no inventory given)" % (home / "tenant.db") in run.stdout
    assert objects(str(home / "tenant.db"))
    assert not (tmp_path / "~").exists()


def test_onboarding_refuses_a_sandbox_next_to_a_tenant(tmp_path):
    """Before: EXO_TENANT was ignored and the partner was onboarded into the sandbox."""
    state = str(tmp_path / "tenant.db")
    partner = extra(partner_file=os.path.join(EXAMPLES, "fabrikam.yml"))
    assert playbook(OFFBOARD, tmp_path, partner, env={"EXO_SANDBOX": state}).returncode == 0  # nothing to remove
    before = snapshot(state)
    run = playbook(ONBOARD, tmp_path, partner, env={"EXO_SANDBOX": state, "EXO_TENANT": "contoso.onmicrosoft.com"})
    assert run.returncode != 0, run.stdout
    assert "unset tenant / EXO_TENANT, or unset sandbox" in run.stdout
    assert recap(run.stdout)["localhost"]["failed"] == 1
    assert snapshot(state) == before


def test_onboarding_names_a_sandbox_that_is_not_one(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("my notes\n")
    before = snapshot(str(text))
    run = playbook(ONBOARD, tmp_path, extra(partner_file=os.path.join(EXAMPLES, "fabrikam.yml")),
                   env={"EXO_SANDBOX": "notes.txt"})
    assert run.returncode != 0, run.stdout
    assert "sandbox: cannot use '%s' as the sandbox tenant file: it is not a sandbox tenant file" % text in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert snapshot(str(text)) == before
