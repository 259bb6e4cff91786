"""Helpers for the vm tests: the cached test image, a QEMU VM started with the
argv host/vmm.c plans (through tests/vm/vmm-plan), its serial console, QMP and
its virtio-serial ports.

Every wait has a generous bound and fails with what was seen; nothing here
asserts on how fast something happened. Times are reported as TAP diagnostics.
"""

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import tap

SOURCE = os.environ["VMDESK_SOURCE_ROOT"]
BUILD = os.environ["VMDESK_BUILD_ROOT"]
BUILDER = os.path.join(SOURCE, "host", "image", "vmdesk-image")
VMM_PLAN = os.environ["VMDESK_VMM_PLAN"]
# Images and the debootstrap cache outlive the build directories: CI builds
# the image once per machine, plain and ASan builds share the Debian base.
CACHE = os.environ.get("VMDESK_TEST_CACHE", "/var/tmp/vmdesk-test")
IMAGES = os.path.join(CACHE, "images")
BUILD_CACHE = os.path.join(CACHE, "build")



def unbuildable_reason():
	"""Why no guest image can be built on this machine, or None. In a root
	mounted nodev (a bubblewrap root such as ../shared/tools/fresh-debian)
	debootstrap cannot make the root's device nodes; a real machine or VM
	can. Nothing of vmdesk can be tested without an image there."""
	path = CACHE
	while not os.path.exists(path):
		path = os.path.dirname(path)
	if os.statvfs(path).f_flag & os.ST_NODEV:
		return "no guest image can be built here: %s is on a nodev mount " \
			"(debootstrap makes device nodes)" % path
	return None


def no_image_reason(names=None):
	"""Why no guest image can be had here, or None: none can be built
	(unbuildable_reason) and none is built already (of names, if given)."""
	reason = unbuildable_reason()
	if reason is None:
		return None
	built = [d for d in (os.listdir(IMAGES) if os.path.isdir(IMAGES) else [])
	         if os.path.exists(os.path.join(IMAGES, d, "image.conf"))]
	if names is not None:
		built = [d for d in built if d in names]
	return None if built else reason


def skip_suite_without_image():
	"""Every test of a vm suite needs an image: where none can be had, the
	whole file is skipped, saying why. Each vm test file calls this first."""
	reason = no_image_reason()
	if reason is not None:
		print("1..0 # SKIP %s" % reason)
		sys.stdout.flush()
		sys.exit(0)

BOOT_TIMEOUT = 600  # TCG on a loaded 2-core machine; a bound, not an expectation
STEP_TIMEOUT = 120


def image_name():
	"""One test image per build directory (plain and ASan builds differ, and so do
	the build directories of two checkouts that share the cache)."""
	path = os.path.abspath(BUILD)
	base = re.sub(r"[^A-Za-z0-9_-]", "-", os.path.basename(path))
	tag = hashlib.sha256(path.encode()).hexdigest()[:6]
	return ("test-" + base)[:18] + "-" + tag


def run_builder(*args, timeout=1800, user=None):
	"""Runs vmdesk-image; returns (exit status, output)."""
	cmd = [BUILDER] + list(args)
	if user is not None:
		cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
	env = dict(os.environ, LC_ALL="C.UTF-8")
	proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
	                      stdin=subprocess.DEVNULL, timeout=timeout, env=env)
	return proc.returncode, proc.stdout.decode("utf-8", "replace")


def build_image(name=None, guest_dir=None, packages=None):
	"""Builds (or finds up to date) the test image. Returns (dir, output, seconds)."""
	name = name or image_name()
	guest_dir = guest_dir or os.path.join(BUILD, "guest")
	start = time.monotonic()
	extra = ["--packages", packages] if packages else []
	status, out = run_builder("build", name, "--guest-programs", guest_dir,
	                          "--dir", IMAGES, "--cache", BUILD_CACHE, *extra)
	seconds = time.monotonic() - start
	if status != 0 and "needs root" in out and os.geteuid() != 0:
		tap.skip("building the test image needs root (vmdesk-image: %s)" % out.strip())
	if status != 0 and "mounted with noexec or nodev" in out:
		# e.g. a bubblewrap root (../shared/tools/fresh-debian): debootstrap cannot
		# make the root's device nodes there; a real machine or VM can
		tap.skip("debootstrap cannot make device nodes under %s (mounted noexec or nodev)"
		         % CACHE)
	assert status == 0, "vmdesk-image build failed (%d):\n%s" % (status, out)
	return os.path.join(IMAGES, name), out, seconds


def image_conf(image_dir):
	conf = {}
	with open(os.path.join(image_dir, "image.conf")) as f:
		for line in f:
			key, _, value = line.rstrip("\n").partition("=")
			conf[key] = value
	return conf


def wait_for(what, predicate, timeout):
	deadline = time.monotonic() + timeout
	while True:
		value = predicate()
		if value:
			return value
		if time.monotonic() > deadline:
			raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))
		time.sleep(0.05)


def connect_unix(path, timeout=STEP_TIMEOUT):
	def attempt():
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
		try:
			s.connect(path)
			return s
		except OSError:
			s.close()
			return None
	return wait_for("a connection to " + path, attempt, timeout)


class Console:
	"""The VM's serial console socket: read until a pattern, type lines."""

	def __init__(self, path):
		self.sock = connect_unix(path)
		self.sock.settimeout(0.2)
		self.buf = b""
		self.seen = b""  # everything, for failure messages

	def _read(self):
		try:
			data = self.sock.recv(65536)
		except socket.timeout:
			return True
		if not data:
			return False
		self.buf += data
		self.seen += data
		return True

	def expect(self, pattern, timeout=STEP_TIMEOUT):
		"""Waits for a regex (bytes); consumes the buffer up to its end; returns the match."""
		regex = re.compile(pattern)
		deadline = time.monotonic() + timeout
		while True:
			m = regex.search(self.buf)
			if m:
				self.buf = self.buf[m.end():]
				return m
			if time.monotonic() > deadline:
				raise AssertionError("timed out after %d s waiting for %r on the console; "
				                     "last output:\n%s" % (timeout, pattern, self.tail()))
			if not self._read():
				raise AssertionError("the console closed while waiting for %r; last output:\n%s"
				                     % (pattern, self.tail()))

	def drain(self, timeout=STEP_TIMEOUT):
		"""Reads until the VMM closes the console (it exited)."""
		deadline = time.monotonic() + timeout
		while self._read():
			if time.monotonic() > deadline:
				raise AssertionError("the console is still open after %d s" % timeout)

	def send(self, text):
		self.sock.sendall(text.encode())

	def tail(self, n=3000):
		return self.seen[-n:].decode("utf-8", "replace")

	def close(self):
		self.sock.close()


class Shell:
	"""A root shell on the console: run(cmd) returns (status, output).

	The console's login shell is bash, whose line editor draws what is typed
	whatever the terminal's echo says: the shell replaces itself with dash,
	with the terminal's echo off and no prompt.
	"""

	def __init__(self, console, prompt_first=True):
		self.console = console
		if prompt_first:
			console.expect(rb"press Enter to activate this console", BOOT_TIMEOUT)
			console.send("\r")
		console.send("stty -echo; PS1= PS2= exec /bin/sh\r")
		# Until dash runs, what is typed may be lost (a terminal mode change can
		# flush it): ask again until it answers. The marker is computed, so that
		# an echo of the line itself does not match it.
		deadline = time.monotonic() + STEP_TIMEOUT
		while True:
			console.send("echo @@READY$((6*7))@@\r")
			try:
				console.expect(rb"@@READY42@@\r?\n", 2)
				break
			except AssertionError:
				if time.monotonic() > deadline:
					raise
		# Answers to the repeated lines may still come: skip them.
		console.send("echo @@SYNC$((6*7))@@\r")
		console.expect(rb"@@SYNC42@@\r?\n")
		self.count = 0

	def run(self, cmd, timeout=STEP_TIMEOUT):
		self.count += 1
		marker = "@@%d@@" % self.count
		self.console.send("%s; echo \"%s $?\"\r" % (cmd, marker))
		m = self.console.expect(re.escape(marker.encode()) + rb" (\d+)\r?\n", timeout)
		out = m.string[:m.start()].decode("utf-8", "replace").replace("\r", "")
		return int(m.group(1)), out.strip("\n")

	def check(self, cmd, timeout=STEP_TIMEOUT):
		status, out = self.run(cmd, timeout)
		assert status == 0, "%s: exit %d:\n%s" % (cmd, status, out)
		return out


class QMP:
	def __init__(self, path):
		self.sock = connect_unix(path)
		self.sock.settimeout(STEP_TIMEOUT)
		self.file = self.sock.makefile("rb")
		greeting = json.loads(self.file.readline())
		assert "QMP" in greeting, greeting
		self.execute("qmp_capabilities")

	def execute(self, command):
		self.sock.sendall(json.dumps({"execute": command}).encode())
		while True:
			reply = json.loads(self.file.readline())
			if "event" in reply:
				continue
			assert "return" in reply, "QMP %s: %s" % (command, reply)
			return reply["return"]

	def close(self):
		self.file.close()
		self.sock.close()


def plan(image_dir, sockets_dir, cmdline, overlay=None, shares=(), name="vmtest",
         memory=1024, cpus=2):
	"""The QEMU plan host/vmm.c makes for this machine, with virtio-serial ports."""
	conf = image_conf(image_dir)
	# KVM when this machine has it; never vhost-vsock: the tests are about the
	# virtio-serial path (there is no /dev/vhost-vsock here nor in CI anyway).
	kvm = ["--kvm"] if os.access("/dev/kvm", os.R_OK | os.W_OK) else []
	args = [VMM_PLAN, "--vmm", "qemu"] + kvm + ["--name", name,
	        "--kernel", os.path.join(image_dir, conf["kernel"]),
	        "--initrd", os.path.join(image_dir, conf["initrd"]),
	        "--root", os.path.join(image_dir, conf["root"]),
	        "--sockets", sockets_dir, "--memory", str(memory), "--cpus", str(cpus),
	        "--cmdline", " ".join(filter(None, [conf.get("cmdline", ""), cmdline]))]
	if overlay:
		args += ["--overlay", overlay]
	for share in shares:
		args += ["--share", share]
	out = subprocess.run(args, check=True, stdout=subprocess.PIPE).stdout
	return json.loads(out)


class VM:
	"""A QEMU VM of the test image; use as a context manager."""

	def __init__(self, image_dir, cmdline="", overlay=None, shares=(), name="vmtest"):
		# Unix socket paths must stay short: a directory of our own under /tmp.
		self.dir = tempfile.mkdtemp(prefix="vmdesk-vm-", dir="/tmp")
		self.plan = plan(image_dir, self.dir, cmdline, overlay, shares, name)
		self.log = open(os.path.join(self.dir, "qemu.log"), "wb")
		self.started = time.monotonic()
		self.proc = subprocess.Popen(self.plan["argv"], stdin=subprocess.DEVNULL,
		                             stdout=self.log, stderr=subprocess.STDOUT)
		self.console = Console(self.plan["sockets"]["console"])

	def agent_socket(self):
		"""The host end of the agent's virtio-serial port (unix:PATH)."""
		kind, _, path = self.plan["agent"].partition(":")
		assert kind == "unix", "the tests run QEMU without vhost-vsock: %s" % self.plan["agent"]
		return path

	def link_socket(self):
		kind, _, path = self.plan["link"].partition(":")
		assert kind == "unix", self.plan["link"]
		return path

	def wait_minimal_ready(self):
		m = self.console.expect(rb"vmdesk-init: minimal init ready after ([0-9.]+) s",
		                        BOOT_TIMEOUT)
		return float(m.group(1)), time.monotonic() - self.started

	def powerdown(self):
		"""A clean power-off through QMP (ACPI power button); returns the seconds it took."""
		start = time.monotonic()
		qmp = QMP(self.plan["sockets"]["control"])
		qmp.execute("system_powerdown")
		try:
			status = self.proc.wait(STEP_TIMEOUT)
		finally:
			qmp.close()
		assert status == 0, "QEMU exited with %d:\n%s" % (status, self.qemu_log())
		seconds = time.monotonic() - start
		self.console.drain()
		return seconds

	def qemu_log(self):
		self.log.flush()
		with open(os.path.join(self.dir, "qemu.log"), "rb") as f:
			return f.read().decode("utf-8", "replace")

	def close(self):
		if self.proc.poll() is None:
			self.proc.kill()
		self.proc.wait()
		self.console.close()
		self.log.close()
		shutil.rmtree(self.dir, ignore_errors=True)

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()
