# -*- coding: utf-8 -*-
"""HTTPS emulator of the Exchange Online InvokeCommand endpoint and its Entra ID token endpoint (tests only).

    with Emulator(state_path, cert_dir=tmp) as emu:
        emu.url, emu.ca_path, emu.tenant_id, emu.app["client_id"], emu.app["certificate_path"]
        emu.add_faults([{"cmdlet": "Get-InboundConnector", "status": 503, "count": 1}])
        emu.set_redirect(True)   # a redirecting tenant: InvokeCommand on emu.url answers 302 to emu.tenant_url
        emu.calls()   # {"cmdlets", "reads", "writes", "tokens", "discovery", "requests", "redirects",
                      #  "hosts": {"front", "tenant"}, "log": [...], "faults": [...]}
                      # log entries: {"cmdlet", "parameters", "status" (answered), "fault" (kind, when injected),
                      #  "executed" (the tenant's status when the cmdlet ran, else None)}
        emu.calls(wait=5)  # the same once no request is being answered (held answers are logged late), 5 s at most
        emu.reset()   # counters and faults; the tenant state and its redirect stay

Other clouds: ``Emulator(..., resource="https://outlook.office365.us")`` accepts only tokens for that Exchange Online
host (the token scope and the bearer's audience); the default is the commercial host.

Workload identity federation: ``emu.add_federated_credential(issuer, subject, public_key, audience=
"api://AzureADTokenExchange", client_id=None)`` registers a federated credential (on a new app registration when
``client_id`` is new; returns its client ID). A token request of that app whose client assertion is not a certificate
assertion must then be a token of ``issuer`` signed with its key (RS256), for ``subject`` and ``audience`` exactly,
within its validity; else Entra ID's answer: AADSTS700211 (issuer), 700213 (subject), 700212 (audience), 700027
(signature), 700024 (time). ``calls()["assertions"]`` lists the federated assertions received (``client_id``,
``assertion``), ``calls()["tokens_by_client"]`` the token requests per client ID. Managed identity tokens are issued by
the stand-ins of tests/support/identity.py with ``issue_token``, which the emulator accepts like its own.

Faults for add_faults / POST /_emulator/faults: a list of fault objects. Settings (each alone in its object):
    {"latency": seconds}            every InvokeCommand is delayed
    {"replication_delay": seconds}  replication lag: on a SandboxTenant backend its replication_lag setting (objects
                                    created from now on are invisible to Get, Set, Remove, Validate and to rules
                                    routing to them for that long; a removed rule is still referenced by its
                                    connector for that long); on another backend new objects are hidden from Get-*
    {"forbidden": True}             every InvokeCommand answers 403 with a NUL-byte body
    {"expire_tokens": True}         every token issued so far is rejected with 401
    {"page_size": N}                the service pages at N objects at most (whatever Prefer asks for)
    {"random": {...}}               seeded random faults, see below ({"random": None} turns it off)

Counted faults, taken in the order added by the requests they match (``count`` times, default 1):
    {"kind": K, "cmdlet": "Get-X" or "*", "count": N, "after_execute": bool, ...}
InvokeCommand kinds (``cmdlet`` selects the requests; ``after_execute`` True means the cmdlet ran first, so a write
took effect although the client sees the fault):
    "status"        {"status": 429|500|503|504}; a 429 may carry "retry_after": "0.5" (seconds) or
                    "retry_after_date": 2 (an HTTP date that many seconds ahead). The old shape without "kind"
                    ({"status": 503, ...}) means this kind. Default before execution.
    "timeout"       holds the answer "hold" seconds (default 5, at most 60): before execution the connection is then
                    closed without an answer (nothing ran); after execution the real answer is sent late. Set the
                    client's ``timeout`` below "hold" to see a client timeout. Default before execution.
    "reset"         the connection is reset (TCP RST), no answer. Default before execution.
    "close"         the connection is closed (FIN), no answer. Default before execution.
    "garbled"       200 whose body is the real answer cut in half plus garbage (or "body": "..." as given).
    "empty"         200 with an empty body.
    "empty_object"  200 with {}.
    "not_object"    200 with a JSON array.
    "truncated"     200 whose Content-Length is larger than what is sent (half of the real answer), then the
                    connection is closed: the client reads a cut-short body.
    "refuse"        400 InvalidOperationException, before execution: the service refuses the write. "identity" (a name)
                    limits it to requests whose Name or Identity parameter is that name (one partner's object).
    The five 200 kinds default to after execution.
Token endpoint kinds (no cmdlet, no after_execute; every token POST or OpenID discovery GET can take one):
    "token_500" (500 with an HTML page), "token_malformed" (200 with JSON cut short), "token_timeout" (holds "hold"
    seconds, then closes), "token_reset", "invalid_client" (401; AADSTS7000215 for a secret, 700027 for a
    certificate), "unauthorized_client" (400, AADSTS700016), "discovery_500" (the OpenID configuration answers 500
    with an HTML page), "discovery_malformed" (it answers 200 with a body that is not JSON).
The token cache (``token_cache``) and msal's own cache mean a task asks the token endpoint at most once when nothing
fails: disable the cache (token_cache: false) to put every task through it.

Random mode, for soak tests: {"random": {"rate": 0.3, "seed": 42, "kinds": [...], "max_consecutive": 3,
"cmdlet": "*", "hold": 3, "retry_after": "0.05"}}. Every request that no counted fault took draws from a generator
seeded with ``seed``: with probability ``rate`` it gets one of ``kinds``, picked by the same generator, unless
``max_consecutive`` requests of its endpoint in a row were already faulted. The same requests in the same order give
the same faults, so a failing seed replays. ``kinds`` are names ("429", "429_date", "500", "503", "504", "timeout",
"reset", "close", "garbled", "empty", "empty_object", "not_object", "truncated", the token kinds; a name ending in
"_after" happens after execution, e.g. "503_after", "reset_after", "timeout_after") or fault objects without count
and cmdlet. Default kinds: 429, 503, 503_after, timeout, reset, garbled, empty, truncated. InvokeCommand requests,
token requests and discovery requests each draw only among their own kinds (and not at all when they have none).
``calls()["faults"]`` lists every fault injected (kind, endpoint, cmdlet, after_execute, status, random).

Redirect: set_redirect(enabled=True, status=302, location=None) or POST /_emulator/redirect {"enabled", "status",
"location"}: a second listener (``tenant_url``) serves the tenant; every InvokeCommand on ``url`` answers ``status``
with a Location to the same path and query on ``tenant_url`` (or ``location`` verbatim, to test bad ones), before any
authentication. Continuation links keep naming ``url``. ``calls()["redirects"]`` counts the redirect answers and
``calls()["hosts"]`` the InvokeCommand requests per listener.
"""

import os
import sys

# ``python -m tests.emulator`` from the repo root: make the collection importable (see tests/conftest.py).
_COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".build", "collections")
if os.path.isdir(_COLLECTIONS) and _COLLECTIONS not in sys.path:
    sys.path.append(_COLLECTIONS)

from tests.emulator.server import Emulator  # noqa: E402,F401

__all__ = ["Emulator"]
