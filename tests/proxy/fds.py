#!/usr/bin/python3
"""After clients come and go, vmdesk-proxy holds no more fds than before.

Baseline: the proxy's open fds after one warm-up client has left. Then many
clients connect and leave (one after another, several at once, some killed
with SIGKILL mid-session while their shm buffers and frame callbacks are in
flight); once every one of them is logged as disconnected, the fd count must
be back to the baseline.
"""

import re
import signal

import tap
from compositor import BACKGROUND, Sway, Weston, wait_for
from proxy import Client, Proxy, wayland_globals

suite = tap.Suite()
VM = "work"


def disconnects(p):
	return len(re.findall(r"\bvm=%s pid=\d+ disconnected" % VM, p.log()))


def connects(p):
	return len(re.findall(r"\bvm=%s pid=\d+ connected" % VM, p.log()))


def wait_all_gone(p, expected):
	wait_for(lambda: disconnects(p) >= expected, timeout=20, check=p.check_alive,
	         what="%d disconnect lines in the proxy log" % expected)
	assert connects(p) == disconnects(p) == expected, (
		"connected %d, disconnected %d, expected %d each" % (connects(p), disconnects(p), expected))


def check_baseline(comp, p, baseline):
	try:
		comp.wait_for(lambda: p.fd_count() == baseline, timeout=10,
		              what="the proxy's fd count to return to %d" % baseline)
	except TimeoutError:
		fds = p.fds()
		raise AssertionError("proxy holds %d fds, baseline %d:\n%s" % (
			len(fds), baseline, "\n".join("%d -> %s" % kv for kv in sorted(fds.items()))))


def warm_up(comp, p):
	wayland_globals(p.env(comp))
	wait_all_gone(p, 1)
	baseline = p.fd_count()
	tap.diag("baseline: %d fds: %s" % (baseline, sorted(p.fds().values())))
	return baseline


def drawing_clients(comp, p, argv, count, timeout=15):
	"""Start count copies of argv, wait until each is connected, return the Clients."""
	clients = [Client(argv, env=p.env(comp)).__enter__() for _ in range(count)]
	for c in clients:
		p.wait_log(r"\bvm=%s pid=%d connected" % (VM, c.pid), timeout=timeout)
	return clients


@suite.test
def test_sequential_and_concurrent_clients_on_sway():
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display) as p:
		baseline = warm_up(comp, p)
		for _ in range(15):
			wayland_globals(p.env(comp))
		total = 16
		# Several drawing clients at once, then killed without a goodbye.
		clients = drawing_clients(comp, p, ["weston-presentation-shm"], 4)
		try:
			comp.wait_for(lambda: len(comp.windows()) == 4, timeout=15, what="4 windows")
			for c in clients:
				c.proc.send_signal(signal.SIGKILL)
		finally:
			for c in clients:
				c.__exit__(None, None, None)
		total += 4
		wait_all_gone(p, total)
		check_baseline(comp, p, baseline)
		# And closed politely by the compositor.
		clients = drawing_clients(comp, p, ["weston-scaler"], 3)
		try:
			wins = comp.wait_for(lambda: len(comp.windows()) == 3 and comp.windows(),
			                     timeout=15, what="3 windows")
			for win in wins:
				comp.swaymsg("[con_id=%d] kill" % win["id"])
			for c in clients:
				assert c.wait(10) == 0
		finally:
			for c in clients:
				c.__exit__(None, None, None)
		total += 3
		wait_all_gone(p, total)
		check_baseline(comp, p, baseline)
		p.check_alive()


@suite.test
def test_shm_clients_on_weston():
	with Weston(debug=True) as comp, Proxy(vm=VM, upstream=comp.display) as p:
		baseline = warm_up(comp, p)
		total = 1
		for sig in (signal.SIGINT, signal.SIGKILL):
			clients = drawing_clients(comp, p, ["weston-simple-shm"], 3)
			try:
				# Their shm pool fds went through the proxy once frames are on screen.
				comp.wait_for(lambda: comp.image().count_not(BACKGROUND) > 500, timeout=15,
				              what="the clients to draw")
				assert all(c.alive() for c in clients), "a client exited early"
				for c in clients:
					c.proc.send_signal(sig)
			finally:
				for c in clients:
					c.__exit__(None, None, None)
			total += 3
			wait_all_gone(p, total)
			check_baseline(comp, p, baseline)
		p.check_alive()


suite.run()
