# -*- coding: utf-8 -*-
"""Run the emulator in the foreground: python -m tests.emulator --state FILE [--port N] [--cert-dir DIR] [--tenant-domain D]
[--redirect] [--env-file FILE].

Prints one JSON line (url, ca_path, tenant_id, tenant_domain, client_id, certificate_path, client_secret, ...) once it
listens, then serves until SIGTERM or SIGINT. With --env-file, also writes (complete, at once) the EXO_* variables
that point the modules at it, as ``export`` lines for a shell to source (the README's Development section).
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shlex
import signal
import sys
import threading

# The package __init__ (imported before this file) has put .build/collections on sys.path.


# The connection options a module needs to reach the emulator, as the EXO_* variables they read.
ENV = (("EXO_TENANT", "tenant_id"), ("EXO_CLIENT_ID", "client_id"), ("EXO_CERTIFICATE_PATH", "certificate_path"),
       ("EXO_API_URL", "url"), ("EXO_AUTHORITY_URL", "url"), ("EXO_CA_PATH", "ca_path"))


def write_env_file(path, info):
    """``export`` lines for the EXO_* variables, written to a temporary file and renamed: complete once it exists."""
    lines = ["export %s=%s\n" % (variable, shlex.quote(os.path.abspath(info[key]) if key.endswith("path") else info[key]))
             for variable, key in ENV]
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as handle:
        handle.writelines(lines)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--state", required=True, help="SQLite state file of the sandbox tenant")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--cert-dir", help="where to keep the test CA, server and app certificates (kept across runs)")
    parser.add_argument("--tenant-domain", help="tenant domain, e.g. contoso.onmicrosoft.com")
    parser.add_argument("--redirect", action="store_true",
                        help="a redirecting tenant: InvokeCommand on url answers 302 to tenant_url (a second port)")
    parser.add_argument("--env-file", help="write the EXO_* connection variables here (export lines) once it listens")
    args = parser.parse_args(argv)

    from tests.emulator.server import Emulator

    stop = threading.Event()

    def _stop(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    emulator = Emulator(args.state, port=args.port, cert_dir=args.cert_dir, tenant_domain=args.tenant_domain,
                        redirect=args.redirect)
    emulator.start()
    try:
        info = emulator.info()
        if args.env_file:
            write_env_file(args.env_file, info)
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
