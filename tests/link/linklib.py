"""The VM link for tests: vmdesk-guest-wayland standing in for the guest, on
this machine, and vmdesk-proxy dialling it over the unix: carrier through
the same transport code a VM uses.

    with Sway() as comp, Chain(comp, vm="work", args=["--color", "green"]) as c:
        c.socket            # the guest session's Wayland socket (the bridge's)
        c.env(comp)         # env for a guest client
        c.proxy, c.bridge   # the two processes (Proxy, Bridge)
        c.wait_linked()     # until the proxy logs that the link is up

A relay (Relay) between them can cut the link without either end knowing.
Both programs must exit 0 on SIGTERM with no sanitizer report.
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading

from compositor import become_subreaper, reap_group, wait_for
from proxy import Proxy, ProxyError, proxy_env, sanitizer_report, is_listening

__all__ = ["Bridge", "Chain", "Relay", "bridge_binary"]

STOP_TIMEOUT = 15


def bridge_binary():
	path = os.environ.get("VMDESK_GUEST_WAYLAND")
	if not path:
		root = os.environ.get("VMDESK_BUILD_ROOT", "build")
		path = os.path.join(root, "guest", "wayland", "vmdesk-guest-wayland")
	if not os.access(path, os.X_OK):
		raise ProxyError("vmdesk-guest-wayland not found at %r (set VMDESK_GUEST_WAYLAND)"
		                 % path)
	return os.path.abspath(path)


def _tail(text, limit=8000):
	return text if len(text) <= limit else "[...]\n" + text[-limit:]


class Bridge:
	"""vmdesk-guest-wayland --listen LISTEN --display SOCKET [args] as a context manager."""

	def __init__(self, listen, display, args=(), env=None):
		self.listen = listen
		self.display = display
		self.args = list(args)
		self._env = env
		self.proc = None
		self.dir = tempfile.mkdtemp(prefix="vmdesk-bridge-")
		self._log_path = os.path.join(self.dir, "bridge.log")
		self._stopped = False
		self._problem = None

	def command(self):
		return [bridge_binary(), "--listen", self.listen, "--display", self.display,
		        "--log-level", "debug"] + self.args

	def start(self):
		become_subreaper()
		self._stopped = False
		self._problem = None
		log = open(self._log_path, "ab")
		self.proc = subprocess.Popen(self.command(), env=proxy_env(self._env),
		                             stdin=subprocess.DEVNULL, stdout=log,
		                             stderr=subprocess.STDOUT, start_new_session=True)
		log.close()
		wait_for(lambda: is_listening(self.display), timeout=10,
		         what="vmdesk-guest-wayland to serve %s" % self.display, check=self._check)
		return self

	def _check(self):
		if self.proc.poll() is not None:
			raise ProxyError("vmdesk-guest-wayland exited with status %s\n--- log ---\n%s"
			                 % (self.proc.returncode, _tail(self.log())))

	def check_alive(self):
		self._check()

	def alive(self):
		return self.proc is not None and self.proc.poll() is None

	@property
	def pid(self):
		return self.proc.pid

	def log(self):
		try:
			with open(self._log_path, "rb") as f:
				return f.read().decode(errors="replace")
		except OSError:
			return ""

	def wait_log(self, pattern, timeout=10, what=None):
		regex = re.compile(pattern, re.M)
		return wait_for(lambda: regex.search(self.log()), timeout=timeout,
		                what=what or "the bridge's log to match %r" % pattern)

	def stop(self, sig=signal.SIGTERM):
		"""Stops it; returns a problem string or None (the same on later calls)."""
		if self.proc is None or self._stopped:
			return self._problem
		self._stopped = True
		dead = self.proc.poll() is not None
		if not dead:
			self.proc.send_signal(sig)
		try:
			self.proc.wait(timeout=STOP_TIMEOUT)
			hung = False
		except subprocess.TimeoutExpired:
			hung = True
		reap_group(self.proc.pid)
		log = self.log()
		problem = None
		if hung:
			problem = "vmdesk-guest-wayland did not exit within %ds" % STOP_TIMEOUT
		elif dead:
			problem = "vmdesk-guest-wayland died (status %s)" % self.proc.returncode
		elif sig == signal.SIGTERM and self.proc.returncode != 0:
			problem = "vmdesk-guest-wayland exited with status %s" % self.proc.returncode
		marker = sanitizer_report(log)
		if marker:
			problem = (problem + "; " if problem else "") + "sanitizer report (%s)" % marker
		if problem:
			self._problem = "%s\n--- log ---\n%s" % (problem, _tail(log, 30000))
		return self._problem

	def kill(self):
		"""SIGKILL (a crash): no status or log check."""
		if self.proc is not None and self.proc.poll() is None:
			self.proc.kill()
			self.proc.wait()
		self._stopped = True

	def __enter__(self):
		return self.start()

	def __exit__(self, exc_type, exc, tb):
		problem = self.stop()
		shutil.rmtree(self.dir, ignore_errors=True)
		if problem and exc_type is None:
			raise ProxyError(problem)
		return False


class Relay:
	"""Passes bytes between a Unix socket it listens on and one it connects to,
	one connection at a time; cut() closes the current one (the link breaks
	under both ends without either closing it)."""

	def __init__(self, listen, upstream):
		self.listen = listen
		self.upstream = upstream
		self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		self.server.bind(listen)
		self.server.listen(4)
		self.pairs = []
		self.connections = 0
		self._lock = threading.Lock()
		self._stop = False
		self._thread = threading.Thread(target=self._run, daemon=True)
		self._thread.start()

	def _run(self):
		while not self._stop:
			try:
				client, _ = self.server.accept()
			except OSError:
				return
			try:
				up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
				up.connect(self.upstream)
			except OSError:
				client.close()
				continue
			with self._lock:
				self.pairs.append((client, up))
				self.connections += 1
			threading.Thread(target=self._pump, args=(client, up), daemon=True).start()

	def _pump(self, a, b):
		socks = [a, b]
		try:
			while True:
				ready, _, _ = select.select(socks, [], [], 0.5)
				if self._stop:
					return
				for s in ready:
					data = s.recv(1 << 20)
					if not data:
						return
					(b if s is a else a).sendall(data)
		except OSError:
			return
		finally:
			for s in socks:
				try:
					s.close()
				except OSError:
					pass

	def cut(self):
		"""Breaks every current connection."""
		with self._lock:
			pairs, self.pairs = self.pairs, []
		for a, b in pairs:
			for s in (a, b):
				try:
					s.shutdown(socket.SHUT_RDWR)
				except OSError:
					pass

	def close(self):
		self._stop = True
		self.cut()
		self.server.close()
		try:
			os.unlink(self.listen)
		except OSError:
			pass


class Chain:
	"""The guest bridge and the VM's proxy dialling it, on compositor comp.

	relay=True puts a Relay between them (cut_link()); socket=True gives the
	proxy a local socket too (local_socket), for clients on the host."""

	def __init__(self, comp, vm="work", args=(), bridge_args=(), relay=False, socket=False,
	             env=None):
		self.comp = comp
		self.vm = vm
		self.args = list(args)
		self.bridge_args = list(bridge_args)
		self.use_relay = relay
		self.want_socket = socket
		self._env = env
		self.dir = tempfile.mkdtemp(prefix="vmdesk-chain-")
		self.link = os.path.join(self.dir, "link.sock")
		self.socket = os.path.join(self.dir, "wayland-guest")
		self.relay = None
		self.bridge = None
		self.proxy = None

	def proxy_address(self):
		return self.relay.listen if self.relay else self.link

	def make_proxy(self):
		args = ["--guest", "unix:" + self.proxy_address(), "--log-level", "debug"] + self.args
		return Proxy(vm=self.vm, upstream=self.comp.display, args=args, env=self._env,
		             socket_name="vmdesk-%s-local.sock" % self.vm)

	def make_bridge(self):
		return Bridge("unix:" + self.link, self.socket, self.bridge_args, env=self._env)

	def __enter__(self):
		become_subreaper()
		try:
			self.bridge = self.make_bridge().start()
			if self.use_relay:
				self.relay = Relay(os.path.join(self.dir, "relay.sock"), self.link)
			self.proxy = self.make_proxy().__enter__()
			self.wait_linked()
		except BaseException:
			self._close()
			raise
		return self

	@property
	def local_socket(self):
		return self.proxy.socket

	def wait_linked(self, count=1, timeout=15):
		"""Until the proxy has logged `count` links to the guest."""
		pattern = re.compile(r"vm=%s: linked to the guest" % re.escape(self.vm))
		wait_for(lambda: len(pattern.findall(self.proxy.log())) >= count, timeout=timeout,
		         what="link %d of vm %s (proxy log:\n%s)" % (count, self.vm,
		                                                      _tail(self.proxy.log(), 2000)),
		         check=self.check_alive)

	def links(self):
		return len(re.findall(r"vm=%s: linked to the guest" % re.escape(self.vm),
		                      self.proxy.log()))

	def check_alive(self):
		self.proxy.check_alive()
		self.bridge.check_alive()

	def env(self, comp=None, **extra):
		extra["WAYLAND_DISPLAY"] = self.socket
		return (comp or self.comp).env(**extra)

	def cut_link(self):
		self.relay.cut()

	def restart_bridge(self):
		problem = self.bridge.stop()
		if problem:
			raise ProxyError(problem)
		self.bridge = self.make_bridge().start()

	def restart_proxy(self):
		problem = self.proxy.stop()
		self.proxy._cleanup()
		if problem:
			raise ProxyError(problem)
		self.proxy = self.make_proxy().__enter__()

	def _close(self):
		problems = []
		if self.proxy is not None:
			try:
				self.proxy.__exit__(None, None, None)
			except ProxyError as e:
				problems.append(str(e))
			self.proxy = None
		if self.relay is not None:
			self.relay.close()
		if self.bridge is not None:
			problem = self.bridge.stop()
			if problem:
				problems.append(problem)
			shutil.rmtree(self.bridge.dir, ignore_errors=True)
			self.bridge = None
		shutil.rmtree(self.dir, ignore_errors=True)
		return problems

	def __exit__(self, exc_type, exc, tb):
		problems = self._close()
		if problems and exc_type is None:
			raise ProxyError("\n".join(problems))
		return False
