# -*- coding: utf-8 -*-
"""HTTPS emulator of the Exchange Online InvokeCommand endpoint and its Entra ID token endpoint (tests only).

    with Emulator(state_path, cert_dir=tmp) as emu:
        emu.url, emu.ca_path, emu.tenant_id, emu.app["client_id"], emu.app["certificate_path"]
        emu.add_faults([{"cmdlet": "Get-InboundConnector", "status": 503, "count": 1}])
        emu.calls()   # {"cmdlets": {...}, "reads", "writes", "tokens", "requests", "log": [...]}
        emu.reset()

Fault shapes for add_faults / POST /_emulator/faults (a list of any of):
    {"cmdlet": "Get-X" or "*", "status": 429|500|503|504, "count": N, "retry_after": "0.5", "after_execute": False}
    {"latency": seconds}            every InvokeCommand is delayed
    {"replication_delay": seconds}  replication lag: on a SandboxTenant backend its replication_lag setting (objects
                                    created from now on are invisible to Get, Set, Remove, Validate and to rules
                                    routing to them for that long; a removed rule is still referenced by its
                                    connector for that long); on another backend new objects are hidden from Get-*
    {"forbidden": True}             every InvokeCommand answers 403 with a NUL-byte body
    {"expire_tokens": True}         every token issued so far is rejected with 401
"""

import os
import sys

# ``python -m tests.emulator`` from the repo root: make the collection importable (see tests/conftest.py).
_COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".build", "collections")
if os.path.isdir(_COLLECTIONS) and _COLLECTIONS not in sys.path:
    sys.path.append(_COLLECTIONS)

from tests.emulator.server import Emulator  # noqa: E402,F401

__all__ = ["Emulator"]
