#!/usr/bin/python3
"""Real clients through vmdesk-proxy on headless weston (no seat, desktop-shell).

weston has no window IPC, so a window counts as mapped when the screenshot
shows pixels other than the solid background. Each client is then stopped
with SIGINT (the simple clients exit 0 on it; toytoolkit clients die of it),
its pixels must go away, the proxy must log a clean connect/disconnect for
it and still serve new clients.
"""

import signal

import tap
from compositor import BACKGROUND, Weston
from proxy import Client, Proxy, wayland_globals

suite = tap.Suite()
VM = "work"
# Enough changed pixels (sampled every 4th in x and y) to be a window, not a cursor.
MIN_PIXELS = 500


def changed_pixels(comp):
	return comp.image().count_not(BACKGROUND)


def check_serving(p, comp):
	p.check_alive()
	found = wayland_globals(p.env(comp))
	for name in ("wl_compositor", "wl_shm", "xdg_wm_base", "wl_output"):
		assert name in found, "%s missing through the proxy after a client left: %r" % (
			name, sorted(found))


def run_client(argv, expect_status, animated=False):
	with Weston(debug=True) as comp, Proxy(vm=VM, upstream=comp.display) as p:
		assert changed_pixels(comp) == 0, "the screen is not blank before the client starts"
		with Client(argv, env=p.env(comp)) as client:
			count = comp.wait_for(lambda: changed_pixels(comp) >= MIN_PIXELS and
			                      changed_pixels(comp), timeout=15,
			                      what="%s to draw a window" % argv[0])
			tap.diag("%s drew %d sampled pixels" % (argv[0], count))
			if animated:
				# Frame callbacks keep flowing: the screen changes again.
				first = comp.image().data()
				comp.wait_for(lambda: comp.image().data() != first, timeout=10,
				              what="%s to draw a new frame" % argv[0])
			assert client.alive(), "%s exited while its window was up" % argv[0]
			status = client.stop(signal.SIGINT)
			assert status == expect_status, "%s exited with %d, expected %d" % (
				argv[0], status, expect_status)
			p.wait_client_done(client.pid)
			comp.wait_for(lambda: changed_pixels(comp) == 0, timeout=10,
			              what="%s's window to go away" % argv[0])
			check_serving(p, comp)


@suite.test
def test_weston_terminal():
	run_client(["weston-terminal", "--shell=/bin/sh"], -signal.SIGINT)


@suite.test
def test_weston_subsurfaces():
	run_client(["weston-subsurfaces"], -signal.SIGINT, animated=True)


@suite.test
def test_weston_scaler_viewporter():
	run_client(["weston-scaler"], -signal.SIGINT)


@suite.test
def test_weston_presentation_shm():
	run_client(["weston-presentation-shm"], 0, animated=True)


@suite.test
def test_weston_simple_damage():
	run_client(["weston-simple-damage"], 0, animated=True)


@suite.test
def test_weston_confine_pointer_constraints():
	run_client(["weston-confine"], -signal.SIGINT)


@suite.test
def test_weston_simple_shm():
	run_client(["weston-simple-shm"], 0, animated=True)


suite.run()
