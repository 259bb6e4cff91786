#!/usr/bin/python3
"""vmdesk-guest-wayland as its systemd user units start it (issue 8): the
socket unit holds $XDG_RUNTIME_DIR/wayland-0 and hands it over (LISTEN_FDS)
when the first client connects; the service takes the link's carrier from
VMDESK_WAYLAND_LISTEN (a vmdesk image's /run/vmdesk/guest.env), no
--listen. systemd-socket-activate plays the socket unit. A client that
connected before the bridge ran maps its window in the VM's frame."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "frames"))
import framelib as fl  # noqa: E402
import tap  # noqa: E402
from compositor import Sway  # noqa: E402
from linklib import Bridge, Chain, bridge_binary  # noqa: E402
from proxy import Client  # noqa: E402

suite = tap.Suite()
VM = "units"
GREEN = fl.COLORS["green"]
SOURCE = os.environ.get("VMDESK_SOURCE_ROOT", os.path.join(HERE, "..", ".."))


class ActivatedBridge(Bridge):
	"""The bridge behind systemd-socket-activate, configured by environment only."""

	def command(self):
		return ["systemd-socket-activate", "--listen", self.display,
		        "--setenv", "VMDESK_WAYLAND_LISTEN=" + self.listen,
		        bridge_binary(), "--log-level", "debug"] + self.args


class ActivatedChain(Chain):
	def make_bridge(self):
		return ActivatedBridge("unix:" + self.link, self.socket, self.bridge_args,
		                       env=self._env)

	def __enter__(self):
		# the bridge starts with the first client: the proxy links after it
		self.bridge = self.make_bridge().start()
		self.proxy = self.make_proxy().__enter__()
		return self


def unit_lines(name):
	with open(os.path.join(SOURCE, "guest", "wayland", name)) as f:
		return [line.strip() for line in f if line.strip() and not line.startswith("#")]


@suite.test
def test_units_say_what_the_test_does():
	"""The units the test plays: the socket is wayland-0 in the runtime dir, the
	service has no --listen of its own (VMDESK_WAYLAND_LISTEN decides)."""
	socket = unit_lines("vmdesk-guest-wayland.socket")
	assert "ListenStream=%t/wayland-0" in socket, socket
	service = unit_lines("vmdesk-guest-wayland.service.in")
	execs = [line for line in service if line.startswith("ExecStart=")]
	assert execs == ["ExecStart=@bindir@/vmdesk-guest-wayland"], execs
	assert "Requires=vmdesk-guest-wayland.socket" in service, service


@suite.test
def test_socket_activation():
	with Sway() as comp, ActivatedChain(comp, vm=VM, args=["--color", "green"]) as c:
		with Client(["foot", "-w", "300x200", "-a", "activated", "sh", "-c", "sleep 60"],
		            env=c.env()):
			c.wait_linked(1)
			fl.wait_frame(comp, "vmdesk.%s.activated" % VM, GREEN,
			              size=fl.framed_size(300, 200), timeout=30)
		log = c.bridge.log()
		assert "the host reaches us at unix:%s" % c.link in log, log[-2000:]
		c.check_alive()


if __name__ == "__main__":
	suite.run()
