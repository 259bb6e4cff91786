#!/usr/bin/env python3
"""A detached `vmdesk run` starts a real Wayland client "in the guest" whose
session display is a vmdesk-proxy in front of headless sway: the window maps.
Also reports (as a diagnostic, not a check) how long that took compared with
starting the same client directly."""

import os
import shutil
import signal
import subprocess
import time

import tap
from agentlib import Bench
from compositor import Sway
from proxy import Proxy

suite = tap.Suite()
bench = Bench()
pidfile = bench.path("client.pid")


def mapped(comp, app_id):
    return [w for w in comp.windows() if app_id in (w.get("app_id") or "")]


def kill_client():
    try:
        with open(pidfile) as f:
            os.kill(int(f.read().strip()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


@suite.test
def detached_run_maps_a_window_through_the_proxy():
    for tool in ("sway", "foot", "unshare"):
        if shutil.which(tool) is None:
            tap.skip(tool + " is not installed")
    with Sway() as comp, Proxy(vm="work", upstream=comp.display) as proxy:
        _g, sock = bench.start_guestd("work", args=["--no-apps"],
                                      extra_env={"WAYLAND_DISPLAY": proxy.socket})
        bench.write_vm("work", agent="unix:" + sock)
        bench.start_hostd(["--no-menu"])
        bench.wait_channel("work")
        try:
            start = time.monotonic()
            r = bench.cli("run", "work", "--", "foot", "--app-id=vmdesk-agent-test", "sh", "-c",
                          "echo $PPID > %s; exec sleep 60" % pidfile)
            assert r.returncode == 0, r
            comp.wait_for(lambda: mapped(comp, "vmdesk-agent-test"), timeout=20,
                          what="the guest client's window")
            via_agent = time.monotonic() - start
            proxy.wait_log("vm=work", timeout=5)
        finally:
            kill_client()
        comp.wait_for(lambda: not mapped(comp, "vmdesk-agent-test"), timeout=20,
                      what="the window to go")
        # Baseline: the same client started directly on the compositor.
        start = time.monotonic()
        direct = subprocess.Popen(["foot", "--app-id=vmdesk-direct", "sleep", "60"],
                                  env=comp.env(), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            comp.wait_for(lambda: mapped(comp, "vmdesk-direct"), timeout=20,
                          what="the direct client's window")
            direct_time = time.monotonic() - start
        finally:
            direct.terminate()
            direct.wait(10)
        tap.diag("run-to-mapped: %.0f ms via vmdesk run + proxy, %.0f ms direct"
                 % (via_agent * 1000, direct_time * 1000))
        bench.stop_daemons_checked()


try:
    failed = suite.run(exit=False)
finally:
    kill_client()
    bench.close()
raise SystemExit(1 if failed else 0)
