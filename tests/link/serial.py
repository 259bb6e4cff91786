#!/usr/bin/python3
"""vmdesk-guest-wayland on a serial:DEVICE carrier (issue 8): the port of a
VMM without vsock, whose byte stream outlives both ends. No virtio-serial
exists here, so a raw pty plays the port (ptyport.PtyPort, QEMU's chardev
socket in front of it); the bridge opens it through the same serial: code
it opens /dev/virtio-ports/vmdesk.wayland with.

The handshake's restart rule: either end restarts and the other sees only a
HELLO with a new session (no end of stream): the old session's channels
close, the new one links, windows map again. Stale bytes of an old session
(half a frame) before the new HELLO are skipped. A port with no host keeps
the bridge serving its socket; its clients are told."""

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "frames"))
import framelib as fl  # noqa: E402
import tap  # noqa: E402
import vdlink as v  # noqa: E402
import wlwire as w  # noqa: E402
from compositor import Sway  # noqa: E402
from linklib import Bridge, Chain  # noqa: E402
from proxy import Client  # noqa: E402
from ptyport import PtyPort  # noqa: E402

suite = tap.Suite()
VM = "serial"
GREEN = fl.COLORS["green"]


class SerialChain(Chain):
	"""The chain with the bridge on a pty port and the proxy dialling its chardev."""

	def __enter__(self):
		self.port = PtyPort(os.path.join(tempfile.mkdtemp(prefix="vmdesk-port-"), "port.sock"))
		try:
			return super().__enter__()
		except BaseException:
			self.port.close()
			raise

	def proxy_address(self):
		return self.port.listen

	def make_bridge(self):
		return Bridge("serial:" + self.port.path, self.socket, self.bridge_args, env=self._env)

	def _close(self):
		problems = super()._close()
		self.port.close()
		return problems


def chain(comp, **kw):
	return SerialChain(comp, vm=VM, args=["--color", "green"], **kw)


def foot(c, app_id, size=(300, 200)):
	return Client(["foot", "-w", "%dx%d" % size, "-a", app_id, "sh", "-c", "sleep 60"],
	              env=c.env())


def mapped(comp, app_id, size=(300, 200)):
	return fl.wait_frame(comp, "vmdesk.%s.%s" % (VM, app_id), GREEN,
	                     size=fl.framed_size(*size), timeout=30)[0]


def gone(comp, app_id):
	comp.wait_for(lambda: fl.find_window(comp, "vmdesk.%s.%s" % (VM, app_id)) is None,
	              timeout=20, what="the window %s to go" % app_id)


@suite.test
def test_window_over_a_port():
	with Sway() as comp, chain(comp) as c:
		c.bridge.wait_log(r"linked to the host")
		with foot(c, "port"):
			mapped(comp, "port")
		c.check_alive()


@suite.test
def test_proxy_restarted_on_a_port():
	"""A new proxy on the port: the bridge sees only its HELLO (no end of stream),
	closes the old session's clients and links with it."""
	with Sway() as comp, chain(comp) as c:
		with foot(c, "before"):
			mapped(comp, "before")
			c.restart_proxy()
			c.bridge.wait_log(r"the link to the host started over")
			gone(comp, "before")
			c.wait_linked(1)
		with foot(c, "after"):
			mapped(comp, "after")
		c.check_alive()


@suite.test
def test_bridge_restarted_on_a_port():
	"""A new bridge on the port (the guest's session restarted): the proxy sees
	only its HELLO, ends the old channels and links with it."""
	with Sway() as comp, chain(comp) as c:
		with foot(c, "before"):
			mapped(comp, "before")
			c.restart_bridge()
			c.proxy.wait_log(r"vm=%s: the guest's bridge at \S+ started over: 1 client" % VM)
			gone(comp, "before")
			c.wait_linked(2)
		with foot(c, "after"):
			mapped(comp, "after")
		c.check_alive()


@suite.test
def test_bridge_killed_mid_frame():
	"""A bridge killed (SIGKILL) leaves whatever it wrote; a half frame of its
	session in the port before the new bridge's HELLO: the proxy skips it."""
	with Sway() as comp, chain(comp) as c:
		with foot(c, "before"):
			mapped(comp, "before")
			c.bridge.kill()
			half = v.encode("wayland", "wl_data", 1, data=b"\x55" * 4000)[:1500]
			c.port.inject_to_host(half)
			c.bridge = c.make_bridge().start()
			gone(comp, "before")
			c.wait_linked(2)
		with foot(c, "after"):
			mapped(comp, "after")
		c.check_alive()


@suite.test
def test_stale_bytes_before_a_new_host():
	"""Half a frame of a host that went, then a new host: the bridge finds the
	new HELLO after the stale bytes and links."""
	with Sway() as comp, chain(comp) as c:
		with foot(c, "before"):
			mapped(comp, "before")
			problem = c.proxy.stop()
			c.proxy._cleanup()
			assert problem is None, problem
			c.port.inject(v.encode("wayland", "wl_data", 1, data=b"\xaa" * 4000)[:1700])
			c.proxy = c.make_proxy().__enter__()
			m = c.bridge.wait_log(r"link out of step, resynchronising: .*")
			tap.diag("the bridge: %s" % m.group(0))
			gone(comp, "before")
			c.wait_linked(1)
		with foot(c, "after"):
			mapped(comp, "after")
		c.check_alive()


@suite.test
def test_port_without_host():
	"""The port's host goes for good (EOF on the port): the bridge tells its
	clients, waits for a host without spinning on the hangup, and keeps its
	socket: a new client is told there is no link."""
	with Sway() as comp, chain(comp, bridge_args=["--wait-link", "1000"]) as c:
		conn = w.Connection(c.socket)
		conn.get_registry()
		conn.roundtrip()
		c.port.away()
		c.bridge.wait_log(r"no host on the port: waiting for one")
		conn.wait_disconnect(timeout=15)
		assert conn.error and "link to the host was lost" in conn.error[2], conn.error
		late = w.Connection(c.socket)
		late.get_registry()
		late.wait_disconnect(timeout=15)
		tap.diag("a client after the host went was told %r" % (late.error,))
		assert late.error and "vmdesk-guest-wayland" in late.error[2], late.error
		c.bridge.check_alive()
		with open("/proc/%d/stat" % c.bridge.proc.pid) as f:
			fields = f.read().rsplit(")", 1)[1].split()
		tap.diag("the bridge's CPU time so far: %.2f s" % (
			(int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")))


if __name__ == "__main__":
	suite.run()
