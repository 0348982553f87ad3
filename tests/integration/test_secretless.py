# -*- coding: utf-8 -*-
"""Secretless authentication through real ansible-playbook runs (issue 26), every case a row of one play.

Each managed identity environment msal knows (system and user-assigned where it takes one), workload identity
federation from a token file (rotated between two tasks), from GitHub Actions' OIDC endpoint and from AKS's
variables, and the failures of an identity endpoint, against loopback stand-ins (tests/support/identity.py) and the
emulator, which accepts the tokens they issue. Nothing is sent outside loopback: every row's environment points msal
at a stand-in, AZURE_POD_IDENTITY_AUTHORITY_HOST is a closed loopback port unless a row sets its stand-in, and a
proxy on a closed loopback port catches any request to another host (no_proxy: loopback).

A row's variables are task ``environment``, shown by ansible-playbook at -vvv: the secret ones (IDENTITY_HEADER,
MSI_SECRET, ACTIONS_ID_TOKEN_REQUEST_TOKEN) are the run's own environment instead, one value each for all rows, as
a platform gives them. Azure Arc needs a run of its own (its rows must not see IDENTITY_HEADER) and a key file where
msal reads it (/var/opt/azcmagent/tokens): it is skipped where that directory cannot be made.

Both runs are at -vvvv, and no secret, token or federated assertion may appear in their output.
"""

from __future__ import absolute_import, division, print_function

import os
import uuid

import pytest

from tests.emulator import Emulator
from tests.integration.conftest import EMULATOR_STATE
from tests.support.ansible_runner import run_tasks
from tests.support.identity import FederationIssuer, IdentityEndpoint, arc_key_directory
from tests.support.mailservers import free_port

MODULE = "m365.mailflow.partner_inbound_connector"
USER = "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"
K8S_ISSUER = "https://oidc.prod-aks.azure.com/11111111-2222-3333-4444-555555555555/"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def target(name):
    return {"name": "Secretless %s" % name, "state": "absent"}  # one Get-InboundConnector, nothing written


def base_env():
    dead = "http://127.0.0.1:%d" % free_port(["127.0.0.1"])
    return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": dead, "http_proxy": dead, "https_proxy": dead, "HTTP_PROXY": dead,
            "HTTPS_PROXY": dead, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}


def public(endpoint):
    """The endpoint's variables that are not secret (the secret ones are the run's own environment)."""
    return dict((k, v) for k, v in endpoint.environ().items()
                if k not in ("IDENTITY_HEADER", "MSI_SECRET", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"))


def assert_clean_failure(result, *words):
    assert result.get("failed") is True, result
    msg = result.get("msg", "")
    assert "MODULE FAILURE" not in msg and "Traceback" not in msg + result.get("module_stderr", ""), result
    for word in words:
        assert word in msg, (word, msg)
    return msg


def assert_no_secret(run, secrets):
    shown = run.stdout + run.stderr
    assert "-vvvv" in shown or "ansible-playbook [core" in shown  # the run really was verbose
    leaked = [secret[:12] + "..." for secret in secrets if secret and secret in shown]
    assert not leaked, "secrets in the -vvvv output: %s" % leaked


@pytest.mark.emulator
def test_secretless_rows(tmp_path, emulator):
    connection = {"tenant": emulator.tenant_id, "api_url": emulator.url, "authority_url": emulator.url,
                  "ca_path": emulator.ca_path, "retry_delay": 0.05}
    header, msi_secret, request_token = ("header-" + uuid.uuid4().hex, "msi-" + uuid.uuid4().hex,
                                         "gh-" + uuid.uuid4().hex)
    gcc = Emulator(str(tmp_path / ("gcc-" + EMULATOR_STATE)), cert_dir=str(tmp_path / "pki-gcc"),
                   resource="https://outlook.office365.us").start()
    stand_ins = {
        "app_service": IdentityEndpoint("app_service", emulator, user_ids=[USER], secret=header),
        "service_fabric": IdentityEndpoint("service_fabric", emulator, secret=header),
        "service_fabric_user": IdentityEndpoint("service_fabric", emulator, secret=header, cluster_identity=USER),
        "machine_learning": IdentityEndpoint("machine_learning", emulator, user_ids=[USER], secret=msi_secret),
        "imds": IdentityEndpoint("imds", emulator, user_ids=[USER]),
        "cloud_shell": IdentityEndpoint("cloud_shell", emulator),
        "gcc_high": IdentityEndpoint("app_service", gcc, secret=header),
    }
    faults = {"404": "404", "500": "500", "malformed": "malformed", "timeout": "hold"}
    for name in faults:
        stand_ins["fault_" + name] = IdentityEndpoint("app_service", emulator, user_ids=[USER], secret=header, hold=3)
    k8s, github = FederationIssuer(K8S_ISSUER, "system:serviceaccount:awx:awx-ee"), FederationIssuer(GITHUB_ISSUER)
    stand_ins["github"] = IdentityEndpoint("github_actions", issuer=github, secret=request_token)
    apps = dict((name, emulator.add_federated_credential(issuer.issuer, issuer.subject, issuer.public_key))
                for name, issuer in (("file", k8s), ("rotated", k8s), ("github", github), ("aks", k8s)))
    apps["mismatch"] = emulator.add_federated_credential(k8s.issuer, "system:serviceaccount:awx:other", k8s.public_key)
    tokens = {"file": k8s.mint(), "rotated": k8s.mint(), "rotated_next": k8s.mint(), "aks": k8s.mint(),
              "mismatch": k8s.mint()}
    files = {}
    for name in ("file", "rotated", "rotated_next", "aks", "mismatch"):
        files[name] = str(tmp_path / ("%s.token" % name))
        with open(files[name], "w") as handle:
            handle.write(tokens[name])
    try:
        for name, fault in faults.items():
            stand_ins["fault_" + name].start().fail(fault)
        for name, endpoint in stand_ins.items():
            if not name.startswith("fault_"):
                endpoint.start()
        refused_url = "http://127.0.0.1:%d/msi/token" % free_port(["127.0.0.1"])

        rows = []  # (label, module args, task keywords, number of tasks)

        def row(label, args, environment, count=2, **keywords):
            for _unused in range(count):
                rows.append((label, dict(target(label), **args), dict(keywords, environment=environment)))

        # Two tasks of one identity per environment show the token cache at work; one task for the other identity.
        mi = dict(connection)
        row("app_service system", dict(mi, managed_identity="system"), public(stand_ins["app_service"]))
        row("app_service user", dict(mi, managed_identity=USER), public(stand_ins["app_service"]), count=1)
        row("service_fabric system", dict(mi, managed_identity="system"), public(stand_ins["service_fabric"]))
        row("service_fabric user", dict(mi, managed_identity=USER), public(stand_ins["service_fabric_user"]), count=1)
        row("machine_learning system", dict(mi, managed_identity="system"), public(stand_ins["machine_learning"]),
            count=1)
        row("machine_learning user", dict(mi, managed_identity=USER), public(stand_ins["machine_learning"]))
        row("imds system", dict(mi, managed_identity="system"), public(stand_ins["imds"]), count=1)
        row("imds user", dict(mi, managed_identity=USER), public(stand_ins["imds"]))
        row("cloud_shell", dict(mi, managed_identity="system"), public(stand_ins["cloud_shell"]))
        row("gcc_high", dict(tenant=gcc.tenant_id, api_url=gcc.url, authority_url=gcc.url, ca_path=gcc.ca_path,
                             cloud="gcc_high", managed_identity="system"), public(stand_ins["gcc_high"]), count=1)
        failing = dict(mi, managed_identity=USER, retries=1, timeout=1)
        row("refused", failing, {"IDENTITY_ENDPOINT": refused_url}, count=1)
        for name in faults:
            row("fault " + name, failing, public(stand_ins["fault_" + name]), count=1)
        fed = dict(connection)
        row("federated file", dict(fed, client_id=apps["file"], federated_token_file=files["file"]), {})
        row("federated rotated", dict(fed, client_id=apps["rotated"], federated_token_file=files["rotated"],
                                      token_cache=False), {}, count=1)
        rows.append(("rotate", {"argv": ["mv", files["rotated_next"], files["rotated"]]}, {}))
        row("federated rotated", dict(fed, client_id=apps["rotated"], federated_token_file=files["rotated"],
                                      token_cache=False), {}, count=1)
        row("github", dict(fed, client_id=apps["github"], federated_token="github_actions"),
            public(stand_ins["github"]))
        row("aks", dict((k, v) for k, v in fed.items() if k != "tenant"),
            {"AZURE_FEDERATED_TOKEN_FILE": files["aks"], "AZURE_CLIENT_ID": apps["aks"],
             "AZURE_TENANT_ID": emulator.tenant_id}, count=1)
        row("mismatch", dict(fed, client_id=apps["mismatch"], federated_token_file=files["mismatch"]), {}, count=1)

        tasks = [("ansible.builtin.command" if label == "rotate" else MODULE, args, keywords)
                 for label, args, keywords in rows]
        env = dict(base_env(), IDENTITY_HEADER=header, MSI_SECRET=msi_secret, ACTIONS_ID_TOKEN_REQUEST_TOKEN=request_token)
        run = run_tasks(tasks, str(tmp_path), env=env, extra_args=("-vvvv",))
        assert len(run.results) == len(rows), (len(run.results), run.stdout[-3000:], run.stderr[-2000:])
        results = {}
        for (label, _args, _kw), result in zip(rows, run.results):
            results.setdefault(label, []).append(result)

        # Every managed identity row: the module ran against the emulator with the stand-in's token, one token request
        # per identity for the play (the second task took it from the 0600 token cache).
        for label in ("app_service system", "app_service user", "service_fabric system", "service_fabric user",
                      "machine_learning system", "machine_learning user", "imds system", "imds user", "cloud_shell",
                      "gcc_high"):
            for result in results[label]:
                assert not result.get("failed") and result.get("changed") is False, (label, result)
        for name, endpoint in stand_ins.items():
            assert endpoint.problems == [], (name, endpoint.problems)
        per_identity = {"app_service": 2, "service_fabric": 1, "service_fabric_user": 1, "machine_learning": 2,
                        "imds": 2, "cloud_shell": 1, "gcc_high": 1, "github": 1}
        for name, expected in per_identity.items():
            assert stand_ins[name].tokens == expected, (name, stand_ins[name].tokens, stand_ins[name].seen)
        for name in ("app_service", "imds"):
            assert sorted(seen["query"].get("client_id", "system") for seen in stand_ins[name].seen) == \
                sorted(["system", USER])
        assert sorted(seen["query"].get("clientid", "system") for seen in stand_ins["machine_learning"].seen) == \
            sorted(["system", USER])
        assert gcc.calls()["reads"] == 1 and stand_ins["gcc_high"].seen[0]["query"]["resource"] == \
            "https://outlook.office365.us"

        # Failures of the identity endpoint: a clear error naming the endpoint, the identity and what to check.
        who = "the user-assigned managed identity with client ID %s" % USER
        assert_clean_failure(results["refused"][0], refused_url, who, "the connection was refused", "IDENTITY_ENDPOINT")
        for name, words in (("404", ["HTTP 404", "refused a token"]), ("500", ["answered HTTP 500"]),
                            ("malformed", ["a body that is not JSON"]), ("timeout", ["no answer within 1 seconds"])):
            assert_clean_failure(results["fault " + name][0], stand_ins["fault_" + name].url, who, "Check", *words)

        # Federation: the file's token is the client assertion, read again after the rotation; one token request per
        # play and app through the cache; GitHub's token fetched from its endpoint; AKS's variables used and said so.
        calls = emulator.calls()
        sent = dict((apps[name], []) for name in apps)
        for entry in calls["assertions"]:
            sent[entry["client_id"]].append(entry["assertion"])
        assert sent[apps["file"]] == [tokens["file"]]
        assert sent[apps["rotated"]] == [tokens["rotated"], tokens["rotated_next"]]
        assert sent[apps["github"]] == github.minted and len(github.minted) == 1
        assert sent[apps["aks"]] == [tokens["aks"]]
        for label in ("federated file", "federated rotated", "github", "aks"):
            for result in results[label]:
                assert not result.get("failed") and result.get("changed") is False, (label, result)
        (aks,) = results["aks"]
        assert [w for w in aks.get("warnings", []) if w.startswith("No credential is set, so the AKS workload identity")]
        assert_clean_failure(results["mismatch"][0], "AADSTS700213", "subject system:serviceaccount:awx:awx-ee",
                             "issuer %s" % K8S_ISSUER, "audience api://AzureADTokenExchange", apps["mismatch"])

        secrets = [header, msi_secret, request_token] + list(tokens.values()) + github.minted
        for endpoint in stand_ins.values():
            secrets.extend(endpoint.secrets())
        assert_no_secret(run, secrets)
    finally:
        for endpoint in stand_ins.values():
            endpoint.stop()
        gcc.stop()


@pytest.mark.emulator
def test_azure_arc_rows(tmp_path, emulator):
    with arc_key_directory() as key_dir:
        if key_dir is None:
            pytest.skip("msal reads Azure Arc key files only from /var/opt/azcmagent/tokens, which cannot be made here "
                        "(not root, or a real Arc agent is installed); tests/unit/.../test_identity.py covers Arc")
        with IdentityEndpoint("azure_arc", emulator, user_ids=[USER], key_dir=key_dir) as arc:
            connection = {"tenant": emulator.tenant_id, "api_url": emulator.url, "ca_path": emulator.ca_path,
                          "retry_delay": 0.05}
            tasks = [(MODULE, dict(target("arc"), managed_identity=identity, **connection), {"environment": arc.environ()})
                     for identity in ("system", "system", USER)]
            run = run_tasks(tasks, str(tmp_path), env=base_env(), extra_args=("-vvvv",))
            assert len(run.results) == 3, run.stdout[-3000:]
            for result in run.results:
                assert not result.get("failed") and result.get("changed") is False, result
            assert arc.problems == []
            assert arc.tokens == 2  # one per identity: the challenge answered with the key file, then the cache
            asked = [seen["query"].get("client_id", "system") for seen in arc.seen]
            assert asked == ["system", "system", USER, USER]  # each token: the challenge, then the answer
            assert_no_secret(run, arc.secrets())
    assert not os.path.exists(os.path.join(key_dir, arc.key_name + ".key"))
