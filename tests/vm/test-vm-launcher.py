#!/usr/bin/env python3
"""vmdesk-hostd's launcher with real VMs: the test image (vmdesk image build,
cached) booted by QEMU under TCG with the argv host/vmm.c plans, through
`vmdesk start`, `stop`, `stop --force`, `console`, a VMM killed from outside,
hostd leaving with its VMs kept and finding them again, hostd leaving with
its VMs powered off, and autostart. The image's minimal init is used (see
host/image/README.md). The guest's agent listens on its virtio-serial port
(the serial carrier of the guest Wayland bridge, issue 8); in a build without
it a start waits for an agent that does not come, and says so.
"""

import os
import re
import signal
import time

import bridge
import tap
import vmlib
from agentlib import Bench, wait_for
from ptyterm import Terminal

vmlib.skip_suite_without_image()
suite = tap.Suite()
bench = Bench()
bench.env["XDG_STATE_HOME"] = bench.path("state")
CLI = os.environ["VMDESK_CLI"]
run_dir = os.path.join(bench.runtime, "vmdesk", "vms")
log_path = os.path.join(bench.path("state"), "vmdesk", "work.log")
STEP = re.compile(r"^\[ *\d+\.\d s\] ", re.M)
NO_BRIDGE = bridge.missing()
state = {}


def hostd(extra=()):
    bench.start_hostd(["--no-menu", "--display", "none", "--images-dir", vmlib.IMAGES,
                       "--stop-timeout", "120"] + list(extra))


def listed(vm="work"):
    for line in bench.cli("list").stdout.decode().splitlines():
        fields = line.split("\t")
        if fields[0] == vm:
            return fields
    raise AssertionError("%s is not listed" % vm)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def console_log(vm="work"):
    try:
        with open(os.path.join(run_dir, vm, "console.log"), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def start_vm(vm="work"):
    """vmdesk start --no-wait; waits for the minimal init (console.log); returns the VMM pid."""
    t0 = time.monotonic()
    r = bench.cli("start", vm, "--no-wait")
    assert r.returncode == 0, r
    out = r.stdout.decode()
    assert "VMM started" in out and "VMM ready" in out, out
    assert len(STEP.findall(out)) >= 3, out
    pid = int(listed(vm)[2])
    m = wait_for(lambda: re.search(rb"minimal init ready after ([0-9.]+) s", console_log(vm)),
                 "the guest's minimal init", vmlib.BOOT_TIMEOUT)
    tap.diag("boot to the minimal init: %s s guest, %.1f s wall" % (m.group(1).decode(),
                                                                      time.monotonic() - t0))
    return pid


def vmm_gone(pid):
    wait_for(lambda: not alive(pid), "QEMU (pid %d) to go" % pid, vmlib.STEP_TIMEOUT)
    assert not os.path.exists(os.path.join(run_dir, "work")), os.listdir(run_dir)


@suite.test
def image_build_through_vmdesk():
    r = bench.cli("image", "build", vmlib.image_name(), "--dir", vmlib.IMAGES, "--cache",
                  vmlib.BUILD_CACHE, timeout=1800)
    out = (r.stdout + r.stderr).decode()
    if r.returncode != 0 and "needs root" in out and os.geteuid() != 0:
        tap.skip("building the test image needs root")
    assert r.returncode == 0, out
    assert "is up to date" in out or "built in" in out, out
    for line in out.splitlines():
        tap.diag(line)
    state["image"] = True


@suite.test
def start_boots_and_the_agent_is_dialled():
    assert state.get("image"), "no image"
    bench.write_vm("work", text="[vm]\ncolor = green\nimage = %s\ncmdline = vmdesk.init=minimal\n"
                   % vmlib.image_name())
    hostd()
    pid = start_vm()
    state["pid"] = pid
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().split(b"\0")
    assert b"-sandbox" in argv and any(b"readonly=on" in a for a in argv), argv
    fields = listed()
    assert fields[1] == "starting" and re.match(r"\d+s$", fields[3]), fields
    # the agent's address is QEMU's end of the vmdesk.agent port
    assert fields[7] == "unix:%s/work/agent.sock" % run_dir, fields
    status = bench.status("work")
    assert "pid: %d" % pid in status and "vmm: qemu" in status, status
    if NO_BRIDGE:
        # hostd is connected to the port and says HELLO; no agent answers yet
        assert "channel: handshake" in status, status
        r = bench.cli("start", "work", "--timeout", "3")
        assert r.returncode == 1 and b"did not answer within 3 s; the VM runs on" in r.stderr, r
        assert alive(pid)
        tap.diag("no agent in the guest yet: " + NO_BRIDGE)
    else:
        r = bench.cli("start", "work")
        assert r.returncode == 0 and b"is running" in r.stdout, r
        r = bench.cli("run", "work", "--wait", "--", "uname", "-r")
        assert r.returncode == 0, r


@suite.test
def console_reaches_the_guests_shell():
    assert "pid" in state, "no VM"
    with Terminal([CLI, "console", "work"], bench.env) as t:
        t.expect(rb"Connected to VM work \(detach: Ctrl-\]\)")
        assert t.echo_off(), "the terminal is not in raw mode"
        r = bench.cli("console", "work")
        assert r.returncode == 1 and b"in use" in r.stderr, r
        # the minimal init offers a root shell after Enter
        deadline = time.monotonic() + vmlib.STEP_TIMEOUT
        while True:
            t.send(b"\r")
            try:
                t.expect(rb"[#$] ", timeout=3)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
        t.send(b"echo console-$((6*7)); uname -r\r")
        t.expect(rb"console-42\r?\n")
        kernel = vmlib.image_conf(os.path.join(vmlib.IMAGES, vmlib.image_name()))["kernel-version"]
        t.expect(re.escape(kernel.encode()))
        t.send(b"\x1d")
        assert t.wait() == 0, t.text()
        assert "Detached from VM work" in t.text()
    assert alive(state["pid"]), "detaching stopped the VM"


@suite.test
def stop_powers_off_cleanly():
    pid = state.pop("pid")
    t0 = time.monotonic()
    r = bench.cli("stop", "work", timeout=300)
    assert r.returncode == 0, r
    tap.diag("vmdesk stop (ACPI power-off) took %.1f s" % (time.monotonic() - t0))
    out = r.stdout.decode()
    assert out.splitlines()[-1] == "VM work is stopped: powered off (vmdesk stop)", out
    assert not alive(pid)
    vmm_gone(pid)
    log = bench.read(log_path)
    assert "the VMM exited with status 0" in log, log[-2000:]
    # the console's last lines outlive the run directory
    assert "the console's last" in log and "vmdesk-init: powering off" in log, log[-3000:]
    fields = listed()
    assert fields[1:5] == ["stopped", "-", "-", "-"] and fields[5] == "VM not running", fields


@suite.test
def stop_force_quits_at_once():
    pid = start_vm()
    r = bench.cli("stop", "work", "--force")
    assert r.returncode == 0, r
    assert "killed (vmdesk stop --force)" in r.stdout.decode(), r
    vmm_gone(pid)


@suite.test
def a_vmm_killed_from_outside_is_noticed():
    pid = start_vm()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: listed()[1] == "stopped", "the VM to be stopped")
    status = bench.status("work")
    assert "last stop: the VMM killed by signal 9" in status, status
    assert "channel: VM not running" in status, status
    vmm_gone(pid)
    assert bench.hostd.poll() is None


@suite.test
def hostd_leaving_keeps_the_vm_and_a_new_one_finds_it():
    assert bench.stop_hostd() == 0
    hostd(["--on-exit", "keep"])
    pid = start_vm()
    assert bench.stop_hostd() == 0
    assert alive(pid), "QEMU stopped with hostd (--on-exit keep)"
    hostd(["--on-exit", "stop"])
    fields = listed()
    assert fields[1] in ("starting", "running") and int(fields[2]) == pid, fields
    assert "found running" in bench.hostd_output()
    with Terminal([CLI, "console", "work"], bench.env) as t:
        t.expect(rb"Connected to VM work")
        t.send(b"\x1d")
        assert t.wait() == 0, t.text()
    # --on-exit stop: hostd powers the VM off, then exits
    t0 = time.monotonic()
    assert bench.stop(bench.hostd, timeout=300) == 0, bench.hostd_output()[-3000:]
    bench.hostd = None
    tap.diag("hostd stopping with one VM took %.1f s" % (time.monotonic() - t0))
    vmm_gone(pid)


@suite.test
def autostart_starts_with_hostd():
    bench.write_vm("work", text="[vm]\ncolor = green\nimage = %s\ncmdline = vmdesk.init=minimal\n"
                   "autostart = true\n" % vmlib.image_name())
    hostd()
    wait_for(lambda: listed()[1] in ("starting", "running"), "autostart")
    pid = int(listed()[2])
    r = bench.cli("stop", "work", "--force")
    assert r.returncode == 0, r
    vmm_gone(pid)


@suite.test
def daemons_exit_cleanly():
    bench.stop_daemons_checked()


suite.run(exit=False)
bench.close()
