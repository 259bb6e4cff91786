"""Helpers for the global clipboard tests: vmdesk-clipd, vmdesk-clip, a
keyboard holder, windows with a keyboard and a data device (raw wlwire
clients), wl-copy/wl-paste runners.

    with Desk() as d:             # sway, clipd, proxies "a" and "b", a keyboard
        d.clip("copy")            # vmdesk-clip copy -> CompletedProcess
        d.paste_in(d.a)           # wl-paste -n through proxy a -> str or None
        with d.window(d.b) as w:  # a window of b, focused
            d.wait_focus("b")
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import wlwire as w
from compositor import Sway, become_subreaper, reap_group, wait_for, stop_process
from proxy import Proxy, is_listening, sanitizer_report

BUILD = os.environ.get("VMDESK_BUILD_ROOT", "build")
CLIPD = os.environ.get("VMDESK_CLIPD") or os.path.join(BUILD, "host", "clipboard", "vmdesk-clipd")
HOSTD = os.environ.get("VMDESK_HOSTD") or os.path.join(BUILD, "host", "vmdesk-hostd")
VMDESK = os.environ.get("VMDESK_CLI") or os.path.join(BUILD, "host", "vmdesk")
CLIP = os.environ.get("VMDESK_CLIP") or os.path.join(BUILD, "host", "clipboard", "vmdesk-clip")

# wl_seat, wl_keyboard, wl_data_device_manager, wl_data_source, wl_data_device
SEAT_GET_KEYBOARD = 1
KEYBOARD_EV_KEYMAP = 0
KEYBOARD_EV_ENTER = 1
KEYBOARD_EV_LEAVE = 2
DDM_CREATE_DATA_SOURCE = 0
DDM_GET_DATA_DEVICE = 1
SOURCE_OFFER = 0
SOURCE_EV_SEND = 1
SOURCE_EV_CANCELLED = 2
DEVICE_SET_SELECTION = 1
DEVICE_EV_DATA_OFFER = 0
OFFER_RECEIVE = 1


class Clipd:
	"""vmdesk-clipd on a private socket, as a context manager."""

	def __init__(self, display, args=(), policy=None, bus=None):
		self.display = display
		self.args = list(args)
		self.bus = bus  # a session bus address: notifications on
		self.dir = tempfile.mkdtemp(prefix="vmdesk-clipd-")
		self.socket = os.path.join(self.dir, "clipboard.sock")
		self.policy = policy or os.path.join(self.dir, "clipboard.policy")
		self.proc = None
		self._log = os.path.join(self.dir, "clipd.log")

	def command(self):
		notify = [] if self.bus else ["--no-notify"]
		return [CLIPD, "--socket", self.socket, "--display", self.display, "--policy",
		        self.policy, "--log-level", "debug"] + notify + self.args

	def environment(self, env):
		return env

	def start(self):
		become_subreaper()
		log = open(self._log, "ab")
		env = dict(os.environ)
		env.pop("DBUS_SESSION_BUS_ADDRESS", None)
		if self.bus:
			env["DBUS_SESSION_BUS_ADDRESS"] = self.bus
		env = self.environment(env)
		self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
		                             stderr=subprocess.STDOUT, env=env, start_new_session=True)
		log.close()
		wait_for(lambda: is_listening(self.socket), timeout=10, what="vmdesk-clipd to listen",
		         check=self._check)
		return self

	def _check(self):
		if self.proc.poll() is not None:
			raise AssertionError("vmdesk-clipd exited (%s):\n%s" % (self.proc.returncode,
			                     self.log()))

	def stop(self):
		"""SIGTERM; asserts a clean exit without sanitizer reports."""
		if self.proc is None:
			return
		proc, self.proc = self.proc, None
		died = proc.poll() is not None
		status = stop_process(proc)
		marker = sanitizer_report(self.log())
		assert not died, "vmdesk-clipd died during the test (%s):\n%s" % (status, self.log())
		assert status == 0 and not marker, "vmdesk-clipd exit %s %s:\n%s" % (
			status, marker or "", self.log()[-20000:])

	def log(self):
		try:
			with open(self._log, errors="replace") as f:
				return f.read()
		except OSError:
			return ""

	def alive(self):
		return self.proc is not None and self.proc.poll() is None

	def __enter__(self):
		return self.start()

	def __exit__(self, *exc):
		try:
			self.stop()
		finally:
			shutil.rmtree(self.dir, ignore_errors=True)
		return False


class KbWindow(w.Window):
	"""A mapped window that also has a keyboard and a data device, so it gets
	keyboard focus (and the proxy reports it) and can set the selection. The
	seat objects exist before the window maps, as in a real client."""

	def __init__(self, path, app_id):
		c = self.conn = w.connect(path)
		self.enter_serial = None
		self.focused = False
		self.sends = []  # (mime, fd) asked of our sources
		self.on_send = {}  # source id -> its on_send
		self.offers = []
		self.seat = c.bind_global("wl_seat", 5)
		c.on(self.seat, lambda ev: None)
		self.keyboard = c.new_id("wl_keyboard")
		c.on(self.keyboard, self._on_keyboard)
		c.send(self.seat, SEAT_GET_KEYBOARD, w.new_id(self.keyboard))
		self.ddm = c.bind_global("wl_data_device_manager", 3)
		self.device = c.new_id("wl_data_device")
		c.on(self.device, self._on_device)
		c.send(self.ddm, DDM_GET_DATA_DEVICE, w.new_id(self.device), w.obj(self.seat))
		c.roundtrip()
		self._map(app_id)

	def _map(self, app_id, width=200, height=150, color=0xFF2080C0):
		c = self.conn
		self.app_id = app_id
		self.configured = False
		self.compositor = c.bind_global("wl_compositor", 4)
		self.shm = c.bind_global("wl_shm", 1)
		self.wm_base = c.bind_global("xdg_wm_base", 1)
		c.on(self.wm_base, self._on_wm_base)
		c.on(self.shm, lambda ev: None)
		stride = width * 4
		size = stride * height
		fd = w.memfd(size, struct.pack("=I", color))
		pool = c.new_id("wl_shm_pool")
		c.send(self.shm, w.SHM_CREATE_POOL, w.new_id(pool), w.int_(size), fds=[fd])
		os.close(fd)
		self.buffer = c.new_id("wl_buffer")
		c.on(self.buffer, lambda ev: None)
		c.send(pool, w.SHM_POOL_CREATE_BUFFER, w.new_id(self.buffer), w.int_(0),
		       w.int_(width), w.int_(height), w.int_(stride), w.uint(w.SHM_FORMAT_XRGB8888))
		self.surface = c.new_id("wl_surface")
		c.on(self.surface, lambda ev: None)
		c.send(self.compositor, w.COMPOSITOR_CREATE_SURFACE, w.new_id(self.surface))
		self.xdg_surface = c.new_id("xdg_surface")
		c.on(self.xdg_surface, self._on_xdg_surface)
		c.send(self.wm_base, w.WM_BASE_GET_XDG_SURFACE, w.new_id(self.xdg_surface),
		       w.obj(self.surface))
		self.toplevel = c.new_id("xdg_toplevel")
		c.on(self.toplevel, lambda ev: None)
		c.send(self.xdg_surface, w.XDG_SURFACE_GET_TOPLEVEL, w.new_id(self.toplevel))
		c.send(self.toplevel, w.XDG_TOPLEVEL_SET_APP_ID, w.string(app_id))
		c.send(self.surface, w.SURFACE_COMMIT)
		c.dispatch_until(lambda: self.configured, what="xdg_surface.configure")
		c.send(self.surface, w.SURFACE_ATTACH, w.obj(self.buffer), w.int_(0), w.int_(0))
		c.send(self.surface, w.SURFACE_DAMAGE, w.int_(0), w.int_(0), w.int_(width),
		       w.int_(height))
		c.send(self.surface, w.SURFACE_COMMIT)
		c.roundtrip()

	def _on_keyboard(self, ev):
		if ev.opcode == KEYBOARD_EV_KEYMAP:
			os.close(self.conn.take_fd())
		elif ev.opcode == KEYBOARD_EV_ENTER:
			self.enter_serial = ev.uint(0)
			self.focused = True
		elif ev.opcode == KEYBOARD_EV_LEAVE:
			self.focused = False

	def _on_device(self, ev):
		if ev.opcode == DEVICE_EV_DATA_OFFER:
			offer = ev.uint(0)
			self.offers.append(offer)
			self.conn.interfaces[offer] = "wl_data_offer"
			self.conn.on(offer, lambda ev: None)

	def _on_source(self, ev):
		if ev.opcode == SOURCE_EV_SEND:
			mime, _ = w.decode_string(ev.payload, 0)
			fd = self.conn.take_fd()
			self.sends.append((mime, fd))
			self.on_send[ev.object_id](mime, fd)

	def wait_enter(self, timeout=10):
		"""Until the window has keyboard focus; returns the serial of its enter.

		Serials expire when focus leaves (another window, e.g. a wl-paste, took it
		meanwhile): what the compositor sent so far is read first."""
		self.conn.roundtrip()
		self.conn.dispatch_until(lambda: self.focused, timeout, "wl_keyboard.enter")
		return self.enter_serial

	def set_selection(self, mimes, on_send, serial=None):
		"""Offers mimes from a new source; on_send(mime, fd) serves each request
		made of that source (it owns fd)."""
		c = self.conn
		source = c.new_id("wl_data_source")
		self.on_send[source] = on_send
		c.on(source, self._on_source)
		c.send(self.ddm, DDM_CREATE_DATA_SOURCE, w.new_id(source))
		for mime in mimes:
			c.send(source, SOURCE_OFFER, w.string(mime))
		if serial is None:
			serial = self.wait_enter()
		c.send(self.device, DEVICE_SET_SELECTION, w.obj(source), w.uint(serial))
		c.roundtrip()
		return source


def write_and_close(data):
	"""An on_send that writes data (in a thread: it may be large) and closes."""
	def serve(mime, fd):
		def run():
			try:
				os.set_blocking(fd, True)
				view = memoryview(data)
				while view:
					n = os.write(fd, view[:65536])
					view = view[n:]
			except OSError:
				pass  # the reader stopped reading: that is the point of some tests
			finally:
				os.close(fd)
		threading.Thread(target=run, daemon=True).start()
	return serve


class HostdClipboard(Clipd):
	"""The same global clipboard, run inside vmdesk-hostd as users run it: its
	socket is $XDG_RUNTIME_DIR/vmdesk/clipboard.sock, its policy
	$XDG_CONFIG_HOME/vmdesk/clipboard.policy, the host's display
	$WAYLAND_DISPLAY."""

	def __init__(self, display, args=(), policy=None, bus=None):
		super().__init__(display, args, policy, bus)
		os.makedirs(os.path.join(self.dir, "vmdesk"), mode=0o700)
		os.makedirs(os.path.join(self.dir, "config", "vmdesk", "vms"))
		self.socket = os.path.join(self.dir, "vmdesk", "clipboard.sock")
		self.policy = policy or os.path.join(self.dir, "config", "vmdesk", "clipboard.policy")

	def command(self):
		return [HOSTD, "--socket", os.path.join(self.dir, "vmdesk", "hostd.sock"),
		        "--system-config-dir", "", "--no-menu", "--log-level", "debug"]

	def environment(self, env):
		env["XDG_RUNTIME_DIR"] = self.dir
		env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
		env["WAYLAND_DISPLAY"] = self.display
		override = getattr(self, "environment_override", None)
		if override is not None:
			override(env)
		return env


class Desk:
	"""Headless sway, vmdesk-clipd, proxies a and b joined to it, and a
	virtual keyboard (wtype holding one) so that windows get keyboard focus."""

	def __init__(self, clipd_args=("--timeout-ms", "1500"), policy_text=None, bus=None,
	             daemon=Clipd):
		self.clipd_args = list(clipd_args)
		self.daemon = daemon
		self.bus = bus
		self.policy_text = policy_text
		self._stack = contextlib.ExitStack()
		self._procs = []
		self._copiers = {}  # (domain, primary) -> (argv, domain, wl-copy process)

	def __enter__(self):
		s = self._stack
		try:
			self.comp = s.enter_context(Sway())
			self.clipd = self.daemon(self.comp.display, self.clipd_args, bus=self.bus)
			if self.policy_text is not None:
				with open(self.clipd.policy, "w") as f:
					f.write(self.policy_text)
			s.enter_context(self.clipd)
			self.a = s.enter_context(self.proxy("a"))
			self.b = s.enter_context(self.proxy("b"))
			s.callback(self._stop_procs)
			self.keyboard = self.spawn(["wtype", "-s", "600000", "x"], self.comp.env())
			self.wait_keyboard()
			self.wait_joined("a", "b")
		except BaseException:
			s.close()
			raise
		return self

	def __exit__(self, *exc):
		self._stack.close()
		return False

	def wait_keyboard(self):
		"""Until the seat has wtype's keyboard (a client asking for a keyboard
		before that is a protocol error on sway)."""
		def has_keyboard():
			seats = json.loads(self.comp.swaymsg("-t", "get_seats"))
			return any(seat["capabilities"] & 2 for seat in seats)
		wait_for(has_keyboard, timeout=10, what="the virtual keyboard (wtype)")

	def proxy(self, vm):
		return Proxy(vm=vm, upstream=self.comp.display,
		             args=["--hostd", self.clipd.socket, "--log-level", "debug"])

	def spawn(self, argv, env, **kw):
		proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
		                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
		                        start_new_session=True, **kw)
		self._procs.append(proc)
		return proc

	def _stop_procs(self):
		for proc in self._procs:
			if proc.poll() is None:
				stop_process(proc, timeout=3)

	def clip(self, *args, windows=(), timeout=20, cli=(CLIP,)):
		"""vmdesk-clip ARGS against our clipd, pumping windows meanwhile; cli may
		be (VMDESK, "clip") for the vmdesk command."""
		argv = list(cli) + ["--socket", self.clipd.socket] + list(args)
		if not windows:
			return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
		proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
		deadline = time.monotonic() + timeout
		while proc.poll() is None:
			for win in windows:
				win.pump()
			if time.monotonic() > deadline:
				proc.kill()
			time.sleep(0.002)
		out, err = proc.communicate()
		return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(),
		                                   err.decode())

	def show(self):
		r = self.clip("show")
		assert r.returncode == 0, r
		fields = {}
		for line in r.stdout.splitlines():
			key, _, value = line.partition(": ")
			fields[key] = value
		return fields

	def wait_joined(self, *vms):
		wait_for(lambda: set(vms) <= set(self.show().get("vms", "").split()), timeout=10,
		         what="proxies %s to join the global clipboard" % (vms,))

	def wait_focus(self, domain, windows=(), field="focus"):
		"""field "focus": the domain copy and paste are for (the compositor's
		activated window when hostd can see it); "keyboard focus": what the
		proxies report."""
		def check():
			for win in windows:
				win.pump()
			return self.show().get(field) == domain
		wait_for(check, timeout=10, what="%s on %s (show: %r)" % (field, domain, self.show()))

	def window(self, proxy, app_id=None):
		win = KbWindow(proxy.socket, app_id or "win-" + proxy.vm)
		return win

	def env_of(self, domain):
		if domain == "host":
			return self.comp.env()
		return domain.env(self.comp)

	def copy_in(self, domain, text, primary=False):
		"""wl-copy --foreground TEXT in a domain (a Proxy, or "host"), kept running.

		wl-copy and wl-paste each map a surface to get keyboard focus; when a
		wl-paste takes the focus between wl-copy's enter and its set_selection,
		the proxy refuses the selection (no focus) and wl-copy exits. wait_paste
		starts such a wl-copy again."""
		argv = ["wl-copy", "--foreground"] + (["--primary"] if primary else []) + ["--", text]
		proc = self.spawn(argv, self.env_of(domain))
		self._copiers[(self._key(domain), primary)] = (argv, domain, proc)
		return proc

	def _key(self, domain):
		return getattr(domain, "vm", domain)

	def _respawn_copier(self, domain, primary):
		entry = self._copiers.get((self._key(domain), primary))
		if entry is not None and entry[2].poll() is not None:
			argv, domain, _ = entry
			proc = self.spawn(argv, self.env_of(domain))
			self._copiers[(self._key(domain), primary)] = (argv, domain, proc)

	def paste_in(self, domain, primary=False, mime=None):
		"""wl-paste -n in a domain; the text, or None if there is no selection."""
		argv = ["wl-paste", "-n"] + (["--primary"] if primary else [])
		if mime:
			argv += ["--type", mime]
		r = subprocess.run(argv, env=self.env_of(domain), stdin=subprocess.DEVNULL,
		                   capture_output=True, timeout=20)
		if r.returncode != 0:
			return None
		return r.stdout.decode(errors="replace")

	def wait_paste(self, domain, text, primary=False):
		def check():
			self._respawn_copier(domain, primary)
			return self.paste_in(domain, primary) == text
		wait_for(check, timeout=10, what="%r pasted in %s" % (text, self._key(domain)))


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class PrivateBus:
	"""A dbus-daemon with no service directories (nothing gets auto-started),
	and optionally the fake notification server on it:

	    with PrivateBus(notifyd=True) as bus:
	        bus.address; bus.notifications()  # [{"summary": ..., "body": ..., "urgency": ...}]
	"""

	def __init__(self, notifyd=False):
		self.notifyd = notifyd
		self._procs = []

	def __enter__(self):
		become_subreaper()
		self.dir = tempfile.mkdtemp(prefix="vmdesk-bus-")
		conf = os.path.join(self.dir, "bus.conf")
		with open(conf, "w") as f:
			f.write(BUS_CONFIG % os.path.join(self.dir, "bus.sock"))
		self.address = "unix:path=" + os.path.join(self.dir, "bus.sock")
		try:
			self._procs.append(subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork"],
			                                    stdin=subprocess.DEVNULL,
			                                    stdout=subprocess.DEVNULL,
			                                    stderr=subprocess.DEVNULL,
			                                    start_new_session=True))
			wait_for(lambda: is_listening(os.path.join(self.dir, "bus.sock")), timeout=10,
			         what="dbus-daemon")
			self.log = os.path.join(self.dir, "notifications.jsonl")
			if self.notifyd:
				env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address)
				script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
				                      "fake-notifyd.py")
				self._procs.append(subprocess.Popen(["/usr/bin/python3", script, self.log],
				                                    env=env, stdin=subprocess.DEVNULL,
				                                    start_new_session=True))
				wait_for(lambda: os.path.exists(self.log + ".ready"), timeout=10,
				         what="the fake notification server")
		except BaseException:
			self.__exit__(None, None, None)
			raise
		return self

	def notifications(self):
		import json
		try:
			with open(self.log) as f:
				return [json.loads(line) for line in f if line.strip()]
		except FileNotFoundError:
			return []

	def __exit__(self, *exc):
		for proc in reversed(self._procs):
			stop_process(proc, timeout=3)
		shutil.rmtree(self.dir, ignore_errors=True)
		return False
