# -*- coding: utf-8 -*-
"""Run the emulator in the foreground: python -m tests.emulator --state FILE [--port N] [--cert-dir DIR] [--tenant-domain D]
[--redirect].

Prints one JSON line (url, ca_path, tenant_id, tenant_domain, client_id, certificate_path, client_secret, ...) once it
listens, then serves until SIGTERM or SIGINT.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import signal
import sys
import threading

# The package __init__ (imported before this file) has put .build/collections on sys.path.


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--state", required=True, help="SQLite state file of the sandbox tenant")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--cert-dir", help="where to keep the test CA, server and app certificates (kept across runs)")
    parser.add_argument("--tenant-domain", help="tenant domain, e.g. contoso.onmicrosoft.com")
    parser.add_argument("--redirect", action="store_true",
                        help="a redirecting tenant: InvokeCommand on url answers 302 to tenant_url (a second port)")
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
        sys.stdout.write(json.dumps(emulator.info()) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
