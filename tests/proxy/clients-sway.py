#!/usr/bin/python3
"""Real clients through vmdesk-proxy on headless sway.

Each test starts a fresh sway and proxy, runs one client through the proxy,
waits until sway shows its window with drawn content, closes the window the
way a user would (sway's `kill` = xdg_toplevel.close) or lets the client
finish, and checks that the client exited 0, that the proxy logged a clean
connect/disconnect for it, and that the proxy still serves new clients.
"""

import os
import tempfile

import tap
from compositor import BACKGROUND, Sway
from proxy import Client, Proxy, default_policy, wayland_globals

suite = tap.Suite()
VM = "work"


def find_window(comp, app_id=None, title=None):
	"""The one mapped window whose app_id or title contains the given text."""
	for win in comp.windows():
		if app_id is not None and app_id in (win["app_id"] or ""):
			return win
		if title is not None and title in (win["name"] or ""):
			return win
	return None


def wait_window(comp, app_id=None, title=None):
	what = "a window (app_id %r, title %r); windows: see tree" % (app_id, title)
	return comp.wait_for(lambda: find_window(comp, app_id, title), timeout=15, what=what)


def drawn_fraction(comp, rect):
	"""Fraction of the window's sampled pixels that are not the background."""
	img = comp.capture(rect["x"], rect["y"], rect["width"], rect["height"])
	total = len(range(0, img.width, 4)) * len(range(0, img.height, 4))
	return img.count_not(BACKGROUND) / total


def wait_drawn(comp, win):
	"""Wait until most of the window's area shows the client's pixels."""
	rect = win["rect"]
	assert rect["width"] > 0 and rect["height"] > 0, "empty window rect %r" % rect
	comp.wait_for(lambda: drawn_fraction(comp, rect) > 0.5, timeout=10,
	              what="window %r to show its content" % win["name"])


def wait_animating(comp, win):
	"""Wait until the window's content changes: frame callbacks keep flowing."""
	r = win["rect"]
	first = comp.capture(r["x"], r["y"], r["width"], r["height"]).data()
	comp.wait_for(lambda: comp.capture(r["x"], r["y"], r["width"], r["height"]).data() != first,
	              timeout=10, what="window %r to draw a new frame" % win["name"])


def check_serving(p, comp):
	"""The proxy is alive and a new client still gets the core globals."""
	p.check_alive()
	found = wayland_globals(p.env(comp))
	for name in ("wl_compositor", "wl_shm", "xdg_wm_base", "wl_output"):
		assert name in found, "%s missing through the proxy after a client left: %r" % (
			name, sorted(found))


def close_and_check(comp, p, client, win):
	"""Close the window from the compositor side; the client must exit 0."""
	comp.swaymsg("[con_id=%d] kill" % win["id"])
	status = client.wait(timeout=10)
	assert status == 0, "%s exited with %d after its window was closed" % (client.argv[0], status)
	p.wait_client_done(client.pid)
	comp.wait_for(lambda: find_window(comp, title=win["name"]) is None, timeout=10,
	              what="the window to be unmapped")
	check_serving(p, comp)


def run_closable(argv, app_id=None, title=None, animated=False):
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display) as p:
		with Client(argv, env=p.env(comp)) as client:
			win = wait_window(comp, app_id, title)
			wait_drawn(comp, win)
			if animated:
				wait_animating(comp, win)
			tap.diag("%s: window %r app_id %r %dx%d" % (argv[0], win["name"], win["app_id"],
			         win["rect"]["width"], win["rect"]["height"]))
			close_and_check(comp, p, client, win)


@suite.test
def test_foot_maps_and_exits_with_its_command():
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display) as p, \
			tempfile.TemporaryDirectory() as tmp:
		go = os.path.join(tmp, "go")
		script = "echo vmdesk-test-banner; while [ ! -e %s ]; do sleep 0.05; done; exit 0" % go
		with Client(["foot", "-e", "sh", "-c", script], env=p.env(comp)) as client:
			win = wait_window(comp, app_id="foot")
			wait_drawn(comp, win)
			assert client.alive(), "foot exited early"
			open(go, "w").close()  # let the shell finish: foot exits with its status
			status = client.wait(timeout=10)
			assert status == 0, "foot exited with %d" % status
			p.wait_client_done(client.pid)
			comp.wait_for(lambda: find_window(comp, app_id="foot") is None, timeout=10,
			              what="foot's window to go away")
			check_serving(p, comp)


@suite.test
def test_foot_keyboard_input():
	"""Keys typed on the host (wtype, a virtual keyboard on sway) reach a proxied foot:
	the keymap fd and the key events pass the proxy."""
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display) as p, \
			tempfile.TemporaryDirectory() as tmp:
		typed = os.path.join(tmp, "typed")
		script = "read line; printf '%%s' \"$line\" > %s.part && mv %s.part %s" % (
			typed, typed, typed)
		with Client(["foot", "-e", "sh", "-c", script], env=p.env(comp)) as client:
			win = wait_window(comp, app_id="foot")
			wait_drawn(comp, win)
			comp.wait_for(lambda: find_window(comp, app_id="foot")["focused"], timeout=10,
			              what="foot to have focus")
			# -s 500: give the new virtual keyboard's keymap time to reach foot.
			out = comp.run(["wtype", "-s", "500", "vmdesk 42", "-k", "Return"], timeout=20)
			assert out.returncode == 0, "wtype failed: %s" % out.stderr.decode(errors="replace")
			status = client.wait(timeout=15)
			assert status == 0, "foot exited with %d" % status
			with open(typed) as f:
				assert f.read() == "vmdesk 42", "foot read something else"
			p.wait_client_done(client.pid)


def foot_fullscreen_mode(comp, env):
	"""Start `foot --fullscreen` with env; return sway's fullscreen_mode of its window."""
	with Client(["foot", "--fullscreen", "-e", "sleep", "30"], env=env) as client:
		win = wait_window(comp, app_id="foot")
		wait_drawn(comp, win)
		mode = find_window(comp, app_id="foot")["fullscreen_mode"]
		client.stop()
	comp.wait_for(lambda: find_window(comp, app_id="foot") is None, timeout=10,
	              what="foot's window to go away")
	return mode


@suite.test
def test_fullscreen_follows_the_policy():
	"""Fullscreen works under both policies: the default keeps the VM's frame around
	the fullscreen window (tests/frames/decorations.py checks the pixels), a policy
	with `set fullscreen allow` makes it frameless. Directly on sway, foot does go
	fullscreen."""
	with Sway() as comp, tempfile.TemporaryDirectory() as tmp:
		assert foot_fullscreen_mode(comp, comp.env()) == 1, "foot --fullscreen is not fullscreen"
		with Proxy(vm=VM, upstream=comp.display) as p:
			assert foot_fullscreen_mode(comp, p.env(comp)) == 1, \
				"fullscreen with the frame kept refused"
		policy = os.path.join(tmp, "fullscreen.policy")
		with open(default_policy()) as src, open(policy, "w") as dst:
			text = src.read()
			assert "set fullscreen deny" in text
			dst.write(text.replace("set fullscreen deny", "set fullscreen allow"))
		with Proxy(vm=VM, upstream=comp.display, args=["--policy", policy]) as p:
			assert foot_fullscreen_mode(comp, p.env(comp)) == 1, "fullscreen allowed but refused"


@suite.test
def test_foot_lots_of_output():
	"""A terminal scrolling 100000 lines: many frames, buffers and damage through the proxy."""
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display) as p:
		with Client(["foot", "-e", "sh", "-c", "seq 1 100000; exit 0"], env=p.env(comp)) as client:
			status = client.wait(timeout=60)
			assert status == 0, "foot exited with %d" % status
			p.wait_client_done(client.pid)
		check_serving(p, comp)


@suite.test
def test_resize_from_the_compositor():
	"""sway resizes the window: the configure passes the proxy, the client redraws at the
	new size."""
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display) as p:
		with Client(["weston-terminal", "--shell=/bin/sh"], env=p.env(comp)) as client:
			win = wait_window(comp, app_id="wayland-terminal")
			wait_drawn(comp, win)
			old = win["rect"]
			comp.swaymsg("[con_id=%d] resize set 500 300" % win["id"])

			def resized():
				now = find_window(comp, app_id="wayland-terminal")
				r = now["rect"]
				return now if (r["width"], r["height"]) != (old["width"], old["height"]) else None

			win = comp.wait_for(resized, timeout=10, what="the window to change size")
			tap.diag("resized from %dx%d to %dx%d" % (old["width"], old["height"],
			         win["rect"]["width"], win["rect"]["height"]))
			assert abs(win["rect"]["width"] - 500) <= 40, win["rect"]
			assert abs(win["rect"]["height"] - 300) <= 60, win["rect"]
			wait_drawn(comp, win)
			close_and_check(comp, p, client, win)


@suite.test
def test_weston_terminal():
	run_closable(["weston-terminal", "--shell=/bin/sh"], app_id="wayland-terminal")


@suite.test
def test_weston_subsurfaces():
	run_closable(["weston-subsurfaces"], app_id="sub-surface-demo", animated=True)


@suite.test
def test_weston_scaler_viewporter():
	run_closable(["weston-scaler"], app_id="scaler-test-box")


@suite.test
def test_weston_presentation_shm():
	run_closable(["weston-presentation-shm"], title="presentation-shm", animated=True)


@suite.test
def test_weston_confine_pointer_constraints():
	run_closable(["weston-confine"], app_id="wayland-confine")


def window_size(comp, env, argv, app_id=None, title=None):
	"""(width, height) of the client's window in sway once drawn; the client is closed."""
	with Client(argv, env=env) as client:
		win = wait_window(comp, app_id, title)
		wait_drawn(comp, win)
		size = (win["rect"]["width"], win["rect"]["height"])
		client.stop()
	comp.wait_for(lambda: not comp.windows(), timeout=10, what="the window to go away")
	return size


@suite.test
def test_window_sizes_match_direct_plus_frame():
	"""Through the proxy a window is its direct size plus the same frame for every client,
	including one that sizes its surface with wp_viewport (weston-scaler)."""
	clients = [
		(["weston-presentation-shm"], None, "presentation-shm"),
		(["weston-confine"], "wayland-confine", None),
		(["weston-subsurfaces"], "sub-surface-demo", None),
		(["weston-scaler"], "scaler-test-box", None),
	]
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display) as p:
		deltas = {}
		for argv, app_id, title in clients:
			direct = window_size(comp, comp.env(), argv, app_id, title)
			proxied = window_size(comp, p.env(comp), argv, app_id, title)
			deltas[argv[0]] = (proxied[0] - direct[0], proxied[1] - direct[1])
			tap.diag("%s: direct %dx%d, through the proxy %dx%d" % (
				(argv[0],) + direct + proxied))
		frame = deltas["weston-presentation-shm"]
		wrong = {name: d for name, d in deltas.items() if d != frame}
		assert not wrong, "frame size (w, h added) differs from %r: %r" % (frame, wrong)


@suite.test
def test_two_clients_at_once():
	"""Two clients of one VM share the proxy; closing one leaves the other working."""
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display) as p:
		with Client(["weston-confine"], env=p.env(comp)) as first, \
				Client(["weston-scaler"], env=p.env(comp)) as second:
			win1 = wait_window(comp, app_id="wayland-confine")
			win2 = wait_window(comp, app_id="scaler-test-box")
			wait_drawn(comp, win1)
			wait_drawn(comp, win2)
			close_and_check(comp, p, first, win1)
			assert second.alive(), "the second client died when the first one left"
			assert find_window(comp, app_id="scaler-test-box"), "the second window went away"
			close_and_check(comp, p, second, win2)


@suite.test
def test_sigterm_with_clients_connected():
	"""SIGTERM while clients draw: the proxy exits 0 without leaks, the clients see
	their connection end and exit, their windows go away."""
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display) as p:
		with Client(["weston-presentation-shm"], env=p.env(comp)) as first, \
				Client(["weston-confine"], env=p.env(comp)) as second:
			wait_drawn(comp, wait_window(comp, title="presentation-shm"))
			wait_drawn(comp, wait_window(comp, app_id="wayland-confine"))
			problem = p.stop()
			assert problem is None, problem
			for client in (first, second):
				status = client.wait(timeout=10)
				tap.diag("%s exited with %d when the proxy went away" % (client.argv[0], status))
			comp.wait_for(lambda: not comp.windows(), timeout=10, what="the windows to go away")


suite.run()
