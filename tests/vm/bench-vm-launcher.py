#!/usr/bin/env python3
"""Not a test: what starting a real VM through vmdesk-hostd costs here (QEMU,
TCG unless /dev/kvm is usable), for the README. Prints, over N rounds:
`vmdesk start` to the guest's minimal init being ready (where it starts its
agent) and, with the guest Wayland bridge in the build, to the agent
answering and a `vmdesk run --wait -- true` round trip; `vmdesk stop`; and
host memory per running VM (RSS of QEMU, of the VM's vmdesk-proxy when one
runs, and what vmdesk-hostd grew by). Exits 0 whatever the numbers.

    meson test -C build --benchmark vm-launcher   (or: bench-vm-launcher.py ROUNDS)
"""

import os
import re
import statistics
import sys
import time

import bridge
import vmlib
from agentlib import Bench, wait_for

vmlib.skip_suite_without_image()
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def main():
    no_bridge = bridge.missing()
    image_dir, _out, _s = vmlib.build_image()
    bench = Bench()
    bench.env["XDG_STATE_HOME"] = bench.path("state")
    run_dir = os.path.join(bench.runtime, "vmdesk", "vms")
    bench.write_vm("work", text="[vm]\nimage = %s\ncmdline = vmdesk.init=minimal\n"
                   % vmlib.image_name())
    bench.start_hostd(["--no-menu", "--display", "none", "--images-dir", vmlib.IMAGES,
                       "--log-level", "info"])
    rows = {"start to the minimal init (s)": [], "stop (s)": [], "QEMU RSS (MiB)": [],
            "vmdesk-hostd growth (MiB)": [], "proxy RSS (MiB)": []}
    if not no_bridge:
        rows["start to the agent (s)"] = []
        rows["run --wait round trip (ms)"] = []
    try:
        time.sleep(1)
        hostd_before = rss_kib(bench.hostd.pid)
        for _ in range(ROUNDS):
            t0 = time.monotonic()
            r = bench.cli("start", "work", "--no-wait")
            assert r.returncode == 0, r
            log = os.path.join(run_dir, "work", "console.log")

            def ready():
                try:
                    with open(log, "rb") as f:
                        return re.search(rb"minimal init ready", f.read())
                except FileNotFoundError:
                    return None
            wait_for(ready, "the minimal init", vmlib.BOOT_TIMEOUT, interval=0.02)
            rows["start to the minimal init (s)"].append(time.monotonic() - t0)
            if not no_bridge:
                r = bench.cli("start", "work", timeout=600)
                assert r.returncode == 0, r
                rows["start to the agent (s)"].append(time.monotonic() - t0)
                t1 = time.monotonic()
                for _ in range(10):
                    assert bench.cli("run", "work", "--wait", "--", "true").returncode == 0
                rows["run --wait round trip (ms)"].append((time.monotonic() - t1) * 100)
            time.sleep(3)  # let the guest settle
            fields = bench.cli("list").stdout.decode().split("\t")
            pid = int(fields[2])
            rows["QEMU RSS (MiB)"].append(rss_kib(pid) / 1024)
            rows["vmdesk-hostd growth (MiB)"].append((rss_kib(bench.hostd.pid) - hostd_before)
                                                    / 1024)
            proxy = re.search(r"proxy: running \(pid (\d+)\)", bench.status("work"))
            if proxy:
                rows["proxy RSS (MiB)"].append(rss_kib(int(proxy.group(1))) / 1024)
            t0 = time.monotonic()
            r = bench.cli("stop", "work", timeout=300)
            assert r.returncode == 0, r
            rows["stop (s)"].append(time.monotonic() - t0)
    finally:
        bench.close()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    accel = "KVM" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "TCG"
    print("vmdesk start/stop, QEMU %s, 1024 MiB, 2 vCPUs, %d rounds, load %s%s"
          % (accel, ROUNDS, load, "" if not no_bridge else "; no agent yet: " + no_bridge))
    print("| metric | median | min | max |")
    print("|:---|---:|---:|---:|")
    for name, values in rows.items():
        if values:
            print("| %s | %.1f | %.1f | %.1f |" % (name, statistics.median(values), min(values),
                                                 max(values)))
        else:
            print("| %s | - | - | - |" % name)


if __name__ == "__main__":
    main()
