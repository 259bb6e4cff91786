#!/usr/bin/env python3
"""Benchmark (not a test): `vmdesk run --wait VM -- true` round trips per
second over the unix: carrier, hostd and guestd as in the tests.

    VMDESK_HOSTD=... VMDESK_GUESTD=... VMDESK_CLI=... bench-agent.py [SECONDS]
"""

import sys
import time

from agentlib import Bench


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    with Bench() as bench:
        _g, sock = bench.start_guestd("bench", args=["--no-apps"])
        bench.write_vm("bench", agent="unix:" + sock)
        bench.start_hostd(["--no-menu", "--log-level", "warn"])
        bench.wait_channel("bench")
        count = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            r = bench.cli("run", "bench", "--wait", "--", "true")
            assert r.returncode == 0, r
            count += 1
        elapsed = time.monotonic() - start
        print("vmdesk run --wait -- true: %d round trips in %.2f s = %.0f/s (%.2f ms each)"
              % (count, elapsed, count / elapsed, 1000 * elapsed / count))


if __name__ == "__main__":
    main()
