#!/usr/bin/python3
"""VM frames around real clients on headless sway (floating, sway's borders off).

Every check is on pixels of a screenshot, at the documented offsets from the
window rect sway reports (which includes the frame): the VM color on all four
sides, exactly VD_FRAME_BORDER wide (the pixels just outside and just inside
are something else), the title strip VD_FRAME_TITLE_HEIGHT high with text in
the color's text color; and on the names sway shows ("[vm] ...",
"vmdesk.vm.app_id").
"""

import os

import framelib as fl
import tap
from compositor import Sway
from proxy import Client, Proxy

suite = tap.Suite()
HERE = os.path.dirname(os.path.abspath(__file__))
GTK_WINDOW = os.path.join(HERE, "gtk-window.py")
GTK_ENV = {"NO_AT_BRIDGE": "1", "GTK_A11Y": "none", "GDK_BACKEND": "wayland"}


def check_names(win, vm, app_id=None):
	assert win["name"].startswith("[%s] " % vm) or win["name"] == "[%s]" % vm, \
		"title %r does not start with [%s]" % (win["name"], vm)
	prefix = "vmdesk.%s." % vm
	assert win["app_id"].startswith(prefix), "app_id %r does not start with %s" % (
		win["app_id"], prefix)
	if app_id is not None:
		assert win["app_id"] == prefix + app_id, "app_id %r, expected %r" % (
			win["app_id"], prefix + app_id)


def check_label(img, win, color_name, minimum=40):
	"""The title strip carries text in the color's text color (black or white)."""
	count = fl.text_pixels(img, win["rect"], fl.TEXT_COLORS[color_name])
	other = fl.WHITE if fl.TEXT_COLORS[color_name] == fl.BLACK else fl.BLACK
	wrong = fl.text_pixels(img, win["rect"], other, tolerance=30)
	tap.diag("%s: %d text pixels in the title strip, %d of the wrong text color" % (
		win["app_id"], count, wrong))
	assert count >= minimum, "only %d pixels of text color %r in the title strip of %r" % (
		count, fl.TEXT_COLORS[color_name], win["name"])
	assert wrong == 0, "%d pixels of %r in the title strip (text must be %r on %s)" % (
		wrong, other, fl.TEXT_COLORS[color_name], color_name)


def framed_client(argv, app_id, vm="work", color="green", size=None, comp_size=(1024, 768),
                  env=None, inner=True):
	"""Runs argv through a proxy on a fresh sway; checks frame, label and names."""
	with Sway(*comp_size) as comp, Proxy(vm=vm, upstream=comp.display,
	                                     args=["--color", color]) as p:
		with Client(argv, env=p.env(comp, **(env or {}))):
			win, img = fl.wait_frame(comp, "vmdesk.%s.%s" % (vm, app_id), fl.COLORS[color],
			                         size=size, inner=inner)
			tap.diag("%s: %r at %r" % (argv[0], win["name"], win["rect"]))
			check_names(win, vm, app_id)
			check_label(img, win, color)
			p.check_alive()


@suite.test
def test_documented_constants():
	fl.check_constants()


@suite.test
def test_foot_framed():
	# foot -w gives the window geometry exactly: the frame adds 8 x 28
	framed_client(["foot", "-w", "600x400", "-a", "foot"], "foot",
	              size=fl.framed_size(600, 400))


@suite.test
def test_weston_terminal_framed():
	framed_client(["weston-terminal"], "org.freedesktop.weston.wayland-terminal")


@suite.test
def test_gtk_window_framed():
	# GTK draws client-side decorations and shadows; its window geometry
	# excludes the shadows, and the frame must sit on that geometry.
	framed_client(["/usr/bin/python3", GTK_WINDOW, "gtkframe", "400", "300"], "gtkframe",
	              env=GTK_ENV)


@suite.test
def test_gtk3_widget_factory_framed():
	# about 1415 x 730: a wider output so that the whole frame is on screen
	framed_client(["gtk3-widget-factory"], "gtk3-widget-factory", comp_size=(1600, 1000),
	              env=GTK_ENV)


@suite.test
def test_two_vms_two_colors():
	vms = [("work", "green", 40), ("banking", "red", 520)]
	with Sway() as comp, Proxy(vm="work", upstream=comp.display,
	                           args=["--color", "green"]) as work, \
			Proxy(vm="banking", upstream=comp.display, args=["--color", "red"]) as banking, \
			Client(["foot", "-w", "400x300", "-a", "term"], env=work.env(comp)), \
			Client(["foot", "-w", "420x320", "-a", "term"], env=banking.env(comp)):
		sizes = {"work": fl.framed_size(400, 300), "banking": fl.framed_size(420, 320)}
		for vm, _, x in vms:
			win = fl.wait_window(comp, "vmdesk.%s.term" % vm, sizes[vm])
			comp.swaymsg("[con_id=%d] move position %d 100" % (win["id"], x))
		for vm, color, x in vms:
			win, img = fl.wait_frame(comp, "vmdesk.%s.term" % vm, fl.COLORS[color],
			                         size=sizes[vm])
			assert (win["rect"]["x"], win["rect"]["y"]) == (x, 100), \
				"%s window at %r, moved to (%d, 100)" % (vm, win["rect"], x)
			check_names(win, vm, "term")
			check_label(img, win, color)
		for proxy in (work, banking):
			proxy.check_alive()


def wait_resized(comp, app_id, color, width, height):
	"""Waits for sway's rect to be width x height and the frame to follow it."""
	win, _ = fl.wait_frame(comp, app_id, fl.COLORS[color], size=(width, height))
	return win


def foot_window(comp, p, width, height):
	"""foot -w WIDTHxHEIGHT through the proxy, framed; returns the Client."""
	return Client(["foot", "-w", "%dx%d" % (width, height), "-a", "foot"], env=p.env(comp))


@suite.test
def test_sway_resize():
	app_id = "vmdesk.work.foot"
	with Sway() as comp, Proxy(vm="work", upstream=comp.display,
	                           args=["--color", "green"]) as p, foot_window(comp, p, 400, 300):
		fl.wait_frame(comp, app_id, fl.COLORS["green"], size=fl.framed_size(400, 300))
		for width, height in ((500, 400), (333, 257), (700, 520)):
			comp.swaymsg('[app_id="%s"] resize set %d %d' % (app_id, width, height))
			win = wait_resized(comp, app_id, "green", width, height)
			tap.diag("resize set %d %d: rect %r" % (width, height, win["rect"]))
		p.check_alive()


@suite.test
def test_sway_tiled_fills_workspace():
	# sway has no floating maximize: tiling the only window makes it fill the
	# workspace, with the frame on the screen's edges
	app_id = "vmdesk.work.foot"
	with Sway() as comp, Proxy(vm="work", upstream=comp.display,
	                           args=["--color", "green"]) as p, foot_window(comp, p, 400, 300):
		fl.wait_frame(comp, app_id, fl.COLORS["green"], size=fl.framed_size(400, 300))
		comp.swaymsg('[app_id="%s"] floating disable' % app_id)
		win = wait_resized(comp, app_id, "green", comp.width, comp.height)
		assert (win["rect"]["x"], win["rect"]["y"]) == (0, 0), "tiled at %r" % win["rect"]
		comp.swaymsg('[app_id="%s"] floating enable' % app_id)
		win = fl.wait_frame(comp, app_id, fl.COLORS["green"], size=fl.framed_size(400, 300))[0]
		tap.diag("floating again: rect %r" % win["rect"])
		p.check_alive()


def drag_until(comp, pointer, app_id, x, y, dx, dy, changed, extra=30):
	"""Presses the left button at (x, y) and moves by (dx, dy) per step until
	changed(rect) (the compositor's grab has begun: it starts when the proxy's
	move/resize request arrives, which the test cannot observe otherwise),
	then `extra` steps more; releases. Returns the rect before and after."""
	before = rect_tuple(fl.find_window(comp, app_id))
	pointer.move_to(x, y)
	pointer.button(True)
	state = {"x": x, "y": y}

	def step():
		state["x"] += dx
		state["y"] += dy
		pointer.move_to(state["x"], state["y"])
		return changed(before, rect_tuple(fl.find_window(comp, app_id)))
	try:
		comp.wait_for(step, timeout=10, what="the window to follow the drag")
		for _ in range(extra):
			step()
	finally:
		pointer.button(False)
		# the headless output draws the cursor into screenshots: park it
		pointer.move_to(comp.width - 1, comp.height - 1)
	return before, rect_tuple(fl.find_window(comp, app_id))


def rect_tuple(win):
	r = win["rect"]
	return (r["x"], r["y"], r["width"], r["height"])


@suite.test
def test_drag_title_strip_moves():
	app_id = "vmdesk.work.foot"
	with Sway() as comp, fl.VirtualPointer(comp) as pointer, \
			Proxy(vm="work", upstream=comp.display, args=["--color", "green"]) as p, \
			foot_window(comp, p, 400, 300):
		win, _ = fl.wait_frame(comp, app_id, fl.COLORS["green"], size=fl.framed_size(400, 300))
		x, y, width, height = rect_tuple(win)
		before, after = drag_until(comp, pointer, app_id, x + 150, y + fl.TITLE // 2, 2, 0,
		                           lambda old, new: old[:2] != new[:2])
		tap.diag("title strip drag: %r -> %r" % (before, after))
		assert after[0] >= before[0] + 30 and after[1:] == before[1:], \
			"a drag right on the title strip took the window from %r to %r" % (before, after)
		fl.wait_frame(comp, app_id, fl.COLORS["green"], size=(width, height))
		p.check_alive()


@suite.test
def test_drag_edges_resize():
	app_id = "vmdesk.work.foot"
	with Sway() as comp, fl.VirtualPointer(comp) as pointer, \
			Proxy(vm="work", upstream=comp.display, args=["--color", "green"]) as p, \
			foot_window(comp, p, 400, 300):
		win, _ = fl.wait_frame(comp, app_id, fl.COLORS["green"], size=fl.framed_size(400, 300))
		x, y, width, height = rect_tuple(win)
		# the right strip, away from the corners: only the width grows
		before, after = drag_until(comp, pointer, app_id, x + width - 2, y + height // 2, 2, 0,
		                           lambda old, new: old != new)
		tap.diag("right strip drag: %r -> %r" % (before, after))
		assert after[2] >= before[2] + 30 and after[:2] + after[3:] == before[:2] + before[3:], \
			"a drag right on the right strip took the window from %r to %r" % (before, after)
		win, _ = fl.wait_frame(comp, app_id, fl.COLORS["green"], size=after[2:])
		x, y, width, height = after
		# the bottom strip: only the height grows
		before, after = drag_until(comp, pointer, app_id, x + width // 2, y + height - 2, 0, 2,
		                           lambda old, new: old != new)
		tap.diag("bottom strip drag: %r -> %r" % (before, after))
		assert after[3] >= before[3] + 30 and after[:3] == before[:3], \
			"a drag down on the bottom strip took the window from %r to %r" % (before, after)
		fl.wait_frame(comp, app_id, fl.COLORS["green"], size=after[2:])
		p.check_alive()


if __name__ == "__main__":
	suite.run()
