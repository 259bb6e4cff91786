#!/usr/bin/env python3
"""A stand-in for `vmdesk-proxy --guest ADDRESS` until the guest Wayland
bridge (which gives the proxy --guest) is merged: the launcher's tests use it
to check that hostd starts a VM's proxy with the right argv, restarts it when
it dies, and takes it down with its VMM. It appends its argv to
FAKE_PROXY_LOG and waits for SIGTERM (exit 0)."""

import os
import signal
import sys
import time

with open(os.environ["FAKE_PROXY_LOG"], "a") as f:
    f.write("%d %s\n" % (os.getpid(), " ".join(sys.argv[1:])))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(3600)
