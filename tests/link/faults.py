#!/usr/bin/python3
"""The VM link's faults (issue 8): the link cut under both ends, the guest's
bridge restarted, the proxy restarted. Each time the VM's windows go, the
link comes back (the proxy dials again with its backoff) and new windows map;
the compositor, the proxy's local clients and other VMs are untouched. While
there is no link the bridge keeps its socket: a client that connects waits
(bounded, --wait-link) and either goes on when the link comes, or is told
why it cannot, in a wl_display.error."""

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "frames"))
import framelib as fl  # noqa: E402
import tap  # noqa: E402
import wlwire as w  # noqa: E402
from compositor import Sway  # noqa: E402
from linklib import Chain  # noqa: E402
from proxy import Client, Proxy  # noqa: E402

suite = tap.Suite()
VM = "work"
GREEN = fl.COLORS["green"]


def chain(comp, **kw):
	return Chain(comp, vm=VM, args=["--color", "green"], **kw)


def foot(c, app_id, size=(300, 200)):
	return Client(["foot", "-w", "%dx%d" % size, "-a", app_id, "sh", "-c", "sleep 60"],
	              env=c.env())


def mapped(comp, app_id, size=(300, 200)):
	return fl.wait_frame(comp, "vmdesk.%s.%s" % (VM, app_id), GREEN,
	                     size=fl.framed_size(*size), timeout=20)[0]


def gone(comp, app_id):
	comp.wait_for(lambda: fl.find_window(comp, "vmdesk.%s.%s" % (VM, app_id)) is None,
	              timeout=20, what="the window %s to go" % app_id)


class Bystanders:
	"""What must not notice: a local client of the same proxy, a window of another
	VM (its own proxy), and a window straight on the compositor."""

	def __init__(self, comp, c):
		self.comp = comp
		self.other = Proxy(vm="other", upstream=comp.display, args=["--color", "red"]).__enter__()
		self.local = fl.Client(c.local_socket)
		fl.Toplevel(self.local, "local", 200, 100, fl.GREY)
		self.remote = fl.Client(self.other.socket)
		fl.Toplevel(self.remote, "remote", 200, 100, fl.GREY)
		self.direct = fl.Client(comp.display)
		fl.Toplevel(self.direct, "direct", 200, 100, fl.GREY)
		for app_id in ("vmdesk.%s.local" % VM, "vmdesk.other.remote", "direct"):
			fl.wait_window(comp, app_id)

	def check(self):
		for client in (self.local, self.remote, self.direct):
			client.roundtrip(timeout=10)
		for app_id in ("vmdesk.%s.local" % VM, "vmdesk.other.remote", "direct"):
			assert fl.find_window(self.comp, app_id) is not None, "%s went" % app_id
		self.other.check_alive()

	def close(self):
		for client in (self.local, self.remote, self.direct):
			client.close()
		problem = self.other.stop()
		self.other._cleanup()
		assert problem is None, problem


@suite.test
def test_link_cut_mid_session():
	with Sway() as comp, chain(comp, relay=True) as c:
		by = Bystanders(comp, c)
		with foot(c, "before"):
			mapped(comp, "before")
			c.cut_link()
			gone(comp, "before")
			c.proxy.wait_log(r"vm=%s: link to the guest at \S+ lost: .*1 client closed" % VM)
			c.wait_linked(2)
			with foot(c, "after"):
				mapped(comp, "after")
			by.check()
		by.close()
		c.check_alive()


@suite.test
def test_bridge_restarted():
	with Sway() as comp, chain(comp) as c:
		by = Bystanders(comp, c)
		with foot(c, "before"):
			mapped(comp, "before")
			c.restart_bridge()
			gone(comp, "before")
			c.wait_linked(2)
			with foot(c, "after"):
				mapped(comp, "after")
			by.check()
		by.close()
		c.check_alive()


@suite.test
def test_proxy_restarted():
	with Sway() as comp, chain(comp) as c:
		with foot(c, "before") as before:
			mapped(comp, "before")
			c.restart_proxy()
			gone(comp, "before")
			c.bridge.wait_log(r"link to the host closed|a new host connection")
			c.wait_linked(1)
			with foot(c, "after"):
				mapped(comp, "after")
			# the old client was told, in its own log
			before.wait(timeout=10)
		c.check_alive()


@suite.test
def test_bridge_crash_and_backoff():
	"""The bridge dies (SIGKILL): the proxy dials with a growing pause, quietly, and
	links again when a bridge is back."""
	with Sway() as comp, chain(comp) as c:
		c.bridge.kill()
		c.proxy.wait_log(r"link to the guest at \S+ lost")
		time.sleep(2)
		log = c.proxy.log()
		delays = [int(m) for m in re.findall(r"dialling again in (\d+) ms", log)]
		tap.diag("redial pauses so far: %r" % delays)
		c.bridge = c.make_bridge().start()
		c.wait_linked(2, timeout=20)
		with foot(c, "again"):
			mapped(comp, "again")
		c.check_alive()


@suite.test
def test_client_waits_for_the_link():
	"""No link yet: a client that connects waits unread; when the link comes it
	goes on and maps."""
	with Sway() as comp, chain(comp) as c:
		problem = c.proxy.stop()
		c.proxy._cleanup()
		assert problem is None, problem
		c.bridge.wait_log(r"link to the host closed")
		with foot(c, "waiting") as client:
			time.sleep(1)
			assert client.alive(), client.output()
			c.proxy = c.make_proxy().__enter__()
			c.wait_linked(1)
			mapped(comp, "waiting")
		c.check_alive()


@suite.test
def test_client_told_when_no_link_comes():
	"""No link for longer than --wait-link: the client gets wl_display.error saying
	so, and the bridge keeps serving."""
	with Sway() as comp, chain(comp, bridge_args=["--wait-link", "500"]) as c:
		problem = c.proxy.stop()
		c.proxy._cleanup()
		assert problem is None, problem
		conn = w.Connection(c.socket)
		conn.get_registry()
		conn.sync()
		conn.wait_disconnect(timeout=10)
		assert conn.error is not None, "no wl_display.error"
		obj, code, message = conn.error
		tap.diag("the client was told: %r" % (conn.error,))
		assert code == w.DISPLAY_ERROR_IMPLEMENTATION and "no link to the host" in message, \
			conn.error
		c.bridge.check_alive()
		c.bridge.wait_log(r"error: vmdesk-guest-wayland: no link to the host")
		c.proxy = c.make_proxy().__enter__()
		c.wait_linked(1)
		with foot(c, "later"):
			mapped(comp, "later")


@suite.test
def test_clients_told_when_the_link_is_lost():
	"""A client of the VM whose link goes gets a wl_display.error naming why."""
	with Sway() as comp, chain(comp, relay=True) as c:
		conn = w.Connection(c.socket)
		conn.get_registry()
		conn.roundtrip()
		c.cut_link()
		conn.wait_disconnect(timeout=20)
		assert conn.error is not None and "the link to the host was lost" in conn.error[2], \
			conn.error
		c.wait_linked(2)


if __name__ == "__main__":
	suite.run()
