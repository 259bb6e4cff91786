#!/usr/bin/env python3
"""The test image with its default init, systemd, as a real install runs it:
the session user's manager comes up at boot (lingering), vmdesk-session.service
starts graphical-session.target, which starts vmdesk-guestd's own user unit
with the carrier the kernel command line names; udev gives the vmdesk ports to
the session user; the ACPI power button powers the VM off cleanly. Reports
the boot times (slow under TCG: see host/image/README.md).
"""

import time

import tap
import vmlib

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


try:
	suite.run()
finally:
	if "vm" in state:
		state["vm"].close()
