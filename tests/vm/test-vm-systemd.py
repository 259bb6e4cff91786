#!/usr/bin/env python3
"""The test image with its default init, systemd, as a real install runs it:
the session user's manager comes up at boot (lingering), vmdesk-session.service
starts graphical-session.target, which starts vmdesk-guestd's own user unit
with the carrier the kernel command line names; udev gives the vmdesk ports to
the session user; the ACPI power button powers the VM off cleanly. Reports
the boot times (slow under TCG: see host/image/README.md).

Then the same image with systemd through vmdesk-hostd, as a user runs it:
`vmdesk start` to the agent answering over virtio-serial (the time is
reported), and `vmdesk run VM -- foot`: foot, started by guestd's user unit,
connects to the session's wayland-0, which vmdesk-guest-wayland.socket holds;
the bridge it activates carries the window over virtio-serial to the VM's
vmdesk-proxy, and the window maps on headless sway in the VM's frame.
"""

import os
import shutil
import sys
import time

import bridge
import tap
import vmlib
from agentlib import Bench

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "frames"))
import framelib as fl  # noqa: E402

vmlib.skip_suite_without_image()
suite = tap.Suite()
state = {}
USER_SYSTEMCTL = "runuser -u user -- env XDG_RUNTIME_DIR=/run/user/1000 systemctl --user"


@suite.test
def test_boot_systemd():
	image_dir, _, _ = vmlib.build_image()
	machine = vmlib.VM(image_dir, "", name="sysd")
	state["vm"] = machine
	machine.console.expect(rb"starting the systemd init", vmlib.BOOT_TIMEOUT)
	# serial-getty on ttyS0 logs root in (vmdesk console); the hostname is the VM's name.
	machine.console.expect(rb"root@sysd:~#", vmlib.BOOT_TIMEOUT)
	tap.diag("systemd: a root shell on the console after %.1f s wall"
	         % (time.monotonic() - machine.started))
	shell = vmlib.Shell(machine.console, prompt_first=False)
	state["shell"] = shell
	status, out = shell.run("for i in $(seq 1200); do %s is-active vmdesk-session.service "
	                        ">/dev/null 2>&1 && break; sleep 0.5; done; "
	                        "cut -d' ' -f1 /proc/uptime" % USER_SYSTEMCTL, vmlib.BOOT_TIMEOUT)
	tap.diag("systemd: the user session is active after %s s guest time, %.1f s wall"
	         % (out.strip(), time.monotonic() - machine.started))
	tap.diag(shell.check("systemd-analyze | head -2"))
	with open("/proc/loadavg") as f:
		tap.diag("load average: " + f.read().strip())


@suite.test
def test_user_session():
	shell = state["shell"]
	assert shell.check(USER_SYSTEMCTL + " is-active vmdesk-session.service") == "active"
	assert shell.check(USER_SYSTEMCTL + " is-active graphical-session.target") == "active"
	# guestd's unit ran with the address from the kernel command line. (Until
	# the serial: carrier exists, guestd refuses it and the unit restarts.)
	execstart = shell.check(USER_SYSTEMCTL + " show -p ExecStart vmdesk-guestd.service")
	assert "/usr/bin/vmdesk-guestd" in execstart, execstart
	assert shell.check("cat /run/vmdesk/guest.env | head -1") == \
		"VMDESK_AGENT_LISTEN=serial:/dev/virtio-ports/vmdesk.agent"
	started = shell.check(USER_SYSTEMCTL + " show -p ExecMainStartTimestampMonotonic "
	                      "vmdesk-guestd.service")
	assert started.split("=", 1)[1] not in ("", "0"), started
	env = shell.check(USER_SYSTEMCTL + " show-environment")
	assert "WAYLAND_DISPLAY=wayland-0" in env, env


@suite.test
def test_ports_for_the_session_user():
	shell = state["shell"]
	for port in ("vmdesk.agent", "vmdesk.wayland"):
		owner = shell.check("stat -L -c '%U %a' /dev/virtio-ports/" + port)
		assert owner == "user 600", (port, owner)


@suite.test
def test_powerdown():
	machine = state.pop("vm")
	try:
		tap.diag("systemd: power-off took %.1f s" % machine.powerdown())
	finally:
		machine.close()


def need_hostd(*keys):
	missing = bridge.missing()
	if missing:
		tap.skip("the guest Wayland bridge is not in this build: " + missing)
	for tool in ("sway", "unshare", "grim"):
		if shutil.which(tool) is None:
			tap.skip(tool + " is not installed")
	for k in keys:
		assert k in state, "an earlier step failed (no %s)" % k


def listed(bench, vm):
	for line in bench.cli("list").stdout.decode().splitlines():
		fields = line.split("\t")
		if fields[0] == vm:
			return fields
	raise AssertionError("%s is not listed" % vm)


@suite.test
def test_start_to_agent_with_systemd():
	need_hostd()
	from compositor import Sway
	image_dir, _, _ = vmlib.build_image()
	state["comp"] = comp = Sway(width=1024, height=768).__enter__()
	state["bench"] = bench = Bench()
	bench.env["XDG_STATE_HOME"] = bench.path("state")
	bench.env["WAYLAND_DISPLAY"] = comp.display
	# the image's default init is systemd; said here so that it is not a default's doing
	bench.write_vm("sysd", text="[vm]\ncolor = green\nimage = %s\ncmdline = vmdesk.init=systemd\n"
	               % os.path.basename(image_dir))
	bench.start_hostd(["--no-menu", "--display", comp.display, "--images-dir", vmlib.IMAGES,
	                   "--stop-timeout", "120"])
	t0 = time.monotonic()
	r = bench.cli("start", "sysd", "--timeout", str(vmlib.BOOT_TIMEOUT), timeout=900)
	seconds = time.monotonic() - t0
	for line in r.stdout.decode().splitlines():
		tap.diag(line)
	assert r.returncode == 0 and "agent connected" in r.stdout.decode(), r
	fields = listed(bench, "sysd")
	assert fields[1] == "running" and fields[5] == "connected", fields
	tap.diag("systemd: vmdesk start to the agent: %.1f s wall" % seconds)
	with open("/proc/loadavg") as f:
		tap.diag("load average: " + f.read().strip())
	state["started"] = True


@suite.test
def test_bridge_maps_a_window_from_the_systemd_guest():
	need_hostd("started")
	comp, bench = state["comp"], state["bench"]
	# guestd's unit (the user manager's environment: WAYLAND_DISPLAY=wayland-0)
	r = bench.cli("run", "sysd", "--wait", "--", "sh", "-c",
	              "systemctl --user is-active vmdesk-guest-wayland.socket; "
	              "echo $WAYLAND_DISPLAY; ls -l $XDG_RUNTIME_DIR/wayland-0", timeout=120)
	out = r.stdout.decode()
	tap.diag("guest: " + " | ".join(out.splitlines()))
	assert r.returncode == 0, r
	lines = out.splitlines()
	assert lines[0] == "active" and lines[1] == "wayland-0", out
	assert lines[2].startswith("s"), "wayland-0 is not a socket: " + out
	t0 = time.monotonic()
	r = bench.cli("run", "sysd", "--", "foot", "--app-id=sysd", "sleep", "600")
	assert r.returncode == 0, r
	comp.wait_for(lambda: fl.find_window(comp, "vmdesk.sysd.sysd"), timeout=300,
	              what="foot from the systemd guest")
	tap.diag("systemd: vmdesk run -- foot to its window: %.1f s" % (time.monotonic() - t0))
	win, _img = fl.wait_frame(comp, "vmdesk.sysd.sysd", fl.COLORS["green"], timeout=120)
	assert win["name"].startswith("[sysd]"), win
	# the bridge that carried it is the socket-activated unit, on the serial carrier
	r = bench.cli("run", "sysd", "--wait", "--", "sh", "-c",
	              "systemctl --user is-active vmdesk-guest-wayland.service; "
	              "pid=$(systemctl --user show -p MainPID --value vmdesk-guest-wayland.service); "
	              "readlink /proc/$pid/exe; tr '\\0' '\\n' < /proc/$pid/environ | "
	              "grep -E '^(VMDESK_WAYLAND_LISTEN|LISTEN_FDS)='", timeout=120)
	out = r.stdout.decode()
	tap.diag("bridge: " + " | ".join(out.splitlines()))
	assert r.returncode == 0, r
	lines = out.splitlines()
	assert lines[0] == "active" and lines[1] == "/usr/bin/vmdesk-guest-wayland", out
	assert "VMDESK_WAYLAND_LISTEN=serial:/dev/virtio-ports/vmdesk.wayland" in lines, out
	assert "LISTEN_FDS=1" in lines, out


@suite.test
def test_stop_the_systemd_guest():
	need_hostd("started")
	comp, bench = state["comp"], state["bench"]
	t0 = time.monotonic()
	r = bench.cli("stop", "sysd", timeout=300)
	assert r.returncode == 0 and "powered off (vmdesk stop)" in r.stdout.decode(), r
	tap.diag("systemd: vmdesk stop (ACPI) took %.1f s" % (time.monotonic() - t0))
	comp.wait_for(lambda: not fl.find_window(comp, "vmdesk.sysd.sysd"), timeout=30,
	              what="the window to go")
	state["bench"].stop_daemons_checked()


def close():
	if "vm" in state:
		state["vm"].close()
	if "bench" in state:
		state["bench"].close()
	if "comp" in state:
		state.pop("comp").__exit__(None, None, None)


try:
	suite.run()
finally:
	close()
