#!/usr/bin/env python3
"""A real VM: the test image (built by vmdesk-image, cached) boots under QEMU
with the argv host/vmm.c plans for this machine (TCG and virtio-serial here
and in CI), with the minimal init. Checks the console, that the agent's
virtio-serial port carries bytes both ways (the init's echo test mode), the
virtio-serial facts host/image/README.md states (tests/vm/vport-probe in the
guest, driven over the console), a read-only 9p share, a clean power-off by
the ACPI power button, and that a disk overlay is kept while the erofs root
never changes.
"""

import os
import shutil
import socket
import tempfile

import tap
import vmlib

vmlib.skip_suite_without_image()
suite = tap.Suite()
state = {}

PROBE = os.environ["VMDESK_VPORT_PROBE"]
PORT = "/dev/virtio-ports/vmdesk.wayland"  # vmdesk.test=echo: no bridge, free for the probe


def image():
	if "image" not in state:
		image_dir, out, seconds = vmlib.build_image()
		for line in out.splitlines():
			tap.diag(line)
		tap.diag("vmdesk-image build took %.1f s" % seconds)
		state["image"] = image_dir
	return state["image"]


def equal(shell, cmd, want):
	got = shell.check(cmd)
	assert got == want, "%s: got %r, want %r" % (cmd, got, want)


def vm():
	assert "vm" in state, "the VM did not boot (see test_boot_minimal_init)"
	return state["vm"]


@suite.test
def test_image_build():
	image_dir = image()
	for name in ("vmlinuz", "initrd.img", "root.erofs", "manifest", "image.conf"):
		path = os.path.join(image_dir, name)
		assert os.path.getsize(path) > 0, path
	conf = vmlib.image_conf(image_dir)
	assert conf["kernel-version"].endswith("-amd64"), conf
	with open(os.path.join(image_dir, "manifest")) as f:
		manifest = f.read()
	assert "program=vmdesk-guestd " in manifest, manifest
	assert "packages=" in manifest and "foot" in manifest, manifest
	# A second build with the same inputs does nothing.
	_, out, seconds = vmlib.build_image()
	assert "is up to date" in out, out
	tap.diag("an up-to-date check took %.1f s" % seconds)


@suite.test
def test_boot_minimal_init():
	share_dir = tempfile.mkdtemp(prefix="vmdesk-probe-")
	state["share_dir"] = share_dir
	shutil.copy(PROBE, os.path.join(share_dir, "vport-probe"))
	machine = vmlib.VM(image(), "vmdesk.init=minimal vmdesk.test=echo",
	                   shares=["%s:probe:ro" % share_dir])
	state["vm"] = machine
	# Connect to the agent's port before the guest has booted: the bytes wait
	# in QEMU until the guest opens the port.
	early = vmlib.connect_unix(machine.agent_socket())
	early.sendall(b"sent-before-the-guest-booted\n")
	state["early"] = early
	assert machine.plan["warning"] == "" or "TCG" in machine.plan["warning"], machine.plan
	m = machine.console.expect(rb"root mounted after ([0-9.]+) s; starting the minimal init",
	                           vmlib.BOOT_TIMEOUT)
	guest_s, wall_s = machine.wait_minimal_ready()
	tap.diag("boot: root mounted (initramfs done) after %s s guest time; minimal init ready "
	         "after %.2f s guest time, %.1f s wall" % (m.group(1).decode(), guest_s, wall_s))
	with open("/proc/loadavg") as f:
		tap.diag("load average: " + f.read().strip())


@suite.test
def test_agent_port_echo():
	# vmdesk.test=echo: the init runs `cat` on vmdesk.agent as the session user.
	data = os.urandom(256 * 1024)
	sock = state.pop("early")
	sock.settimeout(vmlib.STEP_TIMEOUT)
	first = b"sent-before-the-guest-booted\n"
	assert recv_exactly(sock, len(first)) == first
	got = bytearray()
	sent = 0
	while len(got) < len(data):
		if sent < len(data):
			sock.sendall(data[sent:sent + 16384])
			sent = min(len(data), sent + 16384)
		chunk = sock.recv(65536)
		assert chunk, "the port closed after %d of %d bytes came back" % (len(got), len(data))
		got += chunk
	sock.close()
	assert bytes(got) == data, "the echo differs from what was sent"


@suite.test
def test_console_shell():
	shell = vmlib.Shell(vm().console)
	state["shell"] = shell
	conf = vmlib.image_conf(image())
	equal(shell, "uname -r", conf["kernel-version"])
	cmdline = shell.check("cat /proc/cmdline")
	assert "vmdesk.agent=serial:/dev/virtio-ports/vmdesk.agent" in cmdline, cmdline
	# The root: erofs, read-only, under an overlay with a tmpfs upper layer.
	equal(shell, "findmnt -n -o FSTYPE /", "overlay")
	equal(shell, "findmnt -n -o FSTYPE /run/vmdesk/lower", "erofs")
	assert shell.check("findmnt -n -o OPTIONS /run/vmdesk/lower").startswith("ro,")
	equal(shell, "findmnt -n -o FSTYPE /run/vmdesk/rw", "tmpfs")
	# Stable port names, and the vmdesk ports belong to the session user.
	link = shell.check("readlink /dev/virtio-ports/vmdesk.agent")
	assert link.startswith("../vport"), link
	equal(shell, "stat -L -c '%U %a' /dev/virtio-ports/vmdesk.agent", "user 600")
	equal(shell, "stat -c %U /run/user/1000", "user")
	shell.check("echo written-in-a-tmpfs-overlay > /etc/vmdesk-marker")
	# The init started the agent role as the session user.
	# The init's agent role runs as the session user (vmdesk.test=echo logs who).
	equal(shell, "grep echo-port: /run/vmdesk/agent.log | sort -u", "echo-port: user")


@suite.test
def test_read_only_share():
	shell = state["shell"]
	equal(shell, "findmnt -n -o FSTYPE /mnt/probe", "9p")
	status, out = shell.run("touch /mnt/probe/x")
	assert status != 0 and "Read-only" in out, out
	# Even remounted writable in the guest, QEMU refuses (readonly=on on the host).
	shell.check("mount -o remount,rw /mnt/probe")
	status, out = shell.run("touch /mnt/probe/x")
	assert status != 0, "the guest wrote into a read-only share"
	assert not os.path.exists(os.path.join(state["share_dir"], "x"))


class Probe:
	"""tests/vm/vport-probe on the console: one command, one '= answer' line."""

	def __init__(self, console):
		self.console = console
		console.send("/mnt/probe/vport-probe\r")
		console.expect(rb"= vport-probe ready\r?\n")

	def __call__(self, command, timeout=vmlib.STEP_TIMEOUT):
		self.console.send(command + "\r")
		m = self.console.expect(rb"= ([^\r\n]*)\r?\n", timeout)
		return m.group(1).decode()

	def quit(self):
		self.console.send("quit\r")
		self.console.expect(rb"= bye\r?\n")


def recv_exactly(sock, n):
	data = b""
	while len(data) < n:
		chunk = sock.recv(n - len(data))
		assert chunk, "the host end closed after %r" % data
		data += chunk
	return data


@suite.test
def test_virtio_serial_facts():
	"""host/image/README.md, "virtio-serial ports": each fact, checked."""
	host_path = vm().link_socket()
	probe = Probe(vm().console)
	state["probe"] = probe
	# The port is exclusive: a second open fails.
	assert probe("open " + PORT) == "ok"
	assert probe("open2 " + PORT) == "err EBUSY"

	# No host connection: POLLIN|POLLHUP at once (level-triggered: a busy loop),
	# read() returns 0 even when blocking, write() would block.
	assert probe("poll") == "in,hup"
	assert probe("read") == "eof"
	assert probe("bread 500") == "eof"
	assert probe("write x") == "err EAGAIN"
	assert probe("bwrite 500 x") == "err blocked"
	# Edge-triggered epoll reports the state once, not in a loop.
	assert probe("epollet 1000") == "wakeups=1 last=in,hup"

	# The host connects: POLLHUP goes, POLLOUT comes, SIGIO (O_ASYNC) is sent.
	host = vmlib.connect_unix(host_path)
	host.settimeout(vmlib.STEP_TIMEOUT)
	assert probe("waitfor nohup 60000") == "ok out"
	assert probe("sigio") != "sigio=0"
	assert probe("read") == "err EAGAIN"
	assert probe("bread 300") == "err blocked"
	assert probe("write guest-to-host") == "n=13"
	assert recv_exactly(host, 13) == b"guest-to-host"
	host.sendall(b"host-to-guest")
	assert probe("waitfor in 60000") == "ok in,out"
	assert probe("read") == "n=13 data=host-to-guest"

	# The host disconnects: bytes already sent stay readable, then read() gives 0
	# and POLLHUP is back; writes block again.
	host.sendall(b"AAAA")
	assert probe("waitfor in 60000").startswith("ok in")
	host.close()
	assert probe("waitfor hup 60000") == "ok in,hup"
	assert probe("read") == "n=4 data=AAAA"
	assert probe("read") == "eof"
	assert probe("write x") == "err EAGAIN"

	# Bytes of an old connection that the guest has not read come before the
	# new connection's, with nothing between them.
	host = vmlib.connect_unix(host_path)
	host.settimeout(vmlib.STEP_TIMEOUT)
	host.sendall(b"OLD1")
	assert probe("waitfor in 60000").startswith("ok in")
	host.close()
	assert probe("waitfor hup 60000") == "ok in,hup"
	host = vmlib.connect_unix(host_path)
	host.settimeout(vmlib.STEP_TIMEOUT)
	assert probe("waitfor nohup 60000").startswith("ok")
	host.sendall(b"NEW2")
	got = ""
	for _ in range(10):
		if len(got) >= 8:
			break
		assert probe("waitfor in 60000").startswith("ok in")
		answer = probe("read")
		assert answer.startswith("n="), answer
		got += answer.split("data=", 1)[1]
	assert got == "OLD1NEW2", got

	# The guest closes the port: the host sees nothing, and what the host had
	# sent but the guest not read is gone.
	host.sendall(b"UNREAD")
	assert probe("waitfor in 60000").startswith("ok in")
	assert probe("close") == "ok"
	host.sendall(b"WHILE-CLOSED")  # queued: QEMU reads nothing while the port is closed
	assert probe("open " + PORT) == "ok"
	assert probe("waitfor in 60000").startswith("ok in")
	assert probe("read") == "n=12 data=WHILE-CLOSED"

	# Guest data QEMU holds when the host disconnects is dropped: a new host
	# connection starts with the guest's next bytes.
	answer = probe("fill")
	assert answer.endswith("stop=EAGAIN"), answer
	host.close()
	assert probe("waitfor hup 60000").startswith("ok")
	host = vmlib.connect_unix(host_path)
	host.settimeout(vmlib.STEP_TIMEOUT)
	assert probe("waitfor nohup 60000").startswith("ok")
	assert probe("write MARK") == "n=4"
	assert recv_exactly(host, 4) == b"MARK", "stale guest bytes reached a new connection"

	# One host connection at a time: a second one waits (the kernel accepts the
	# connect) until the first closes, then QEMU serves it.
	second = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	second.settimeout(vmlib.STEP_TIMEOUT)
	second.connect(host_path)
	second.sendall(b"SECOND")
	assert probe("write to-first") == "n=8"
	assert recv_exactly(host, 8) == b"to-first"
	host.close()
	assert probe("waitfor in 60000").startswith("ok in")
	assert probe("read") == "n=6 data=SECOND"
	assert probe("write to-second") == "n=9"
	assert recv_exactly(second, 9) == b"to-second"
	second.close()
	assert probe("close") == "ok"
	probe.quit()


@suite.test
def test_powerdown():
	machine = vm()
	seconds = machine.powerdown()
	tap.diag("QMP system_powerdown to QEMU's exit: %.1f s" % seconds)
	# The init's shutdown ran (a clean power-off, not a killed VMM).
	assert b"vmdesk-init: powering off" in machine.console.seen, machine.console.tail()
	machine.close()
	del state["vm"]


@suite.test
def test_disk_overlay_kept():
	image_dir = image()
	disk_dir = tempfile.mkdtemp(prefix="vmdesk-overlay-")
	disk = os.path.join(disk_dir, "overlay.img")
	try:
		status, out = vmlib.run_builder("overlay-disk", disk, "256M")
		assert status == 0, out
		status, out = vmlib.run_builder("overlay-disk", disk, "256M")
		assert status != 0 and "never overwritten" in out, out
		for boot in (1, 2):
			with vmlib.VM(image_dir, "vmdesk.init=minimal", overlay=disk) as machine:
				machine.wait_minimal_ready()
				shell = vmlib.Shell(machine.console)
				equal(shell, "findmnt -n -o FSTYPE /run/vmdesk/rw", "ext4")
				# The tmpfs boot's change to /etc never reached the erofs root.
				status, _ = shell.run("test -e /etc/vmdesk-marker")
				assert status != 0, "a tmpfs overlay's file survived into another boot"
				if boot == 1:
					shell.check("echo kept > /home/user/kept && sync")
				else:
					equal(shell, "cat /home/user/kept", "kept")
				machine.powerdown()
	finally:
		shutil.rmtree(disk_dir, ignore_errors=True)
		shutil.rmtree(state.get("share_dir", "/nonexistent"), ignore_errors=True)


try:
	suite.run()
finally:
	if "vm" in state:
		state["vm"].close()
