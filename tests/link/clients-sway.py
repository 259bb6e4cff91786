#!/usr/bin/python3
"""Windows from inside a VM (issue 8) on headless sway: real clients connect to
vmdesk-guest-wayland (standing in for the guest) and reach sway through the
VM link (the unix: carrier) and vmdesk-proxy --guest, wearing the VM's frame.

Checks are on pixels of screenshots (the frame's color and width, the
window's contents drawn exactly) and on what sway reports (names, sizes)."""

import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "frames"))
import framelib as fl  # noqa: E402
import tap
from compositor import Sway
from linklib import Chain
from painter import Painter
from proxy import Client

suite = tap.Suite()
HERE = os.path.dirname(os.path.abspath(__file__))
GTK_WINDOW = os.path.join(HERE, "..", "frames", "gtk-window.py")
GTK_MENU = os.path.join(HERE, "gtk-menu.py")
GTK_ENV = {"NO_AT_BRIDGE": "1", "GTK_A11Y": "none", "GDK_BACKEND": "wayland"}
VM = "work"
COLOR = "green"


def chain(comp, **kw):
	return Chain(comp, vm=VM, args=["--color", COLOR], **kw)


def check_names(win, app_id=None):
	assert win["name"].startswith("[%s]" % VM), "title %r lacks [%s]" % (win["name"], VM)
	if app_id is not None:
		assert win["app_id"] == "vmdesk.%s.%s" % (VM, app_id), "app_id %r" % win["app_id"]


def framed(argv, app_id, size=None, comp_size=(1024, 768), env=None, inner=True):
	"""argv in the VM: its window maps on the host, framed in the VM's color."""
	with Sway(*comp_size) as comp, chain(comp) as c:
		with Client(argv, env=c.env(**(env or {}))):
			win, _ = fl.wait_frame(comp, "vmdesk.%s.%s" % (VM, app_id), fl.COLORS[COLOR],
			                       size=size, inner=inner, timeout=20)
			tap.diag("%s: %r at %r" % (argv[0], win["name"], win["rect"]))
			check_names(win, app_id)
			c.check_alive()
		assert "channel=1 connected" in c.proxy.log(), c.proxy.log()[-2000:]


@suite.test
def test_foot():
	framed(["foot", "-w", "600x400", "-a", "foot"], "foot", size=fl.framed_size(600, 400))


@suite.test
def test_weston_terminal():
	framed(["weston-terminal", "--shell=/bin/sh"], "org.freedesktop.weston.wayland-terminal")


# (weston-simple-shm and weston-simple-damage give up on sway 1.7, whose
# renderer keeps their wl_shm buffers: "Both buffers busy". They run on
# weston: weston.py.)


@suite.test
def test_weston_subsurfaces():
	framed(["weston-subsurfaces"], "org.freedesktop.weston.wayland-sub-surface-demo",
	       inner=False)


@suite.test
def test_gtk3_widget_factory():
	framed(["gtk3-widget-factory"], "gtk3-widget-factory", comp_size=(1600, 1000), env=GTK_ENV)


@suite.test
def test_gtk_window():
	framed(["/usr/bin/python3", GTK_WINDOW, "gtkframe", "400", "300"], "gtkframe", env=GTK_ENV)


def painter_window(comp, c, app_id, width, height, **kw):
	client = fl.Client(c.socket)
	painter = Painter(client, app_id, width, height, **kw)
	size = fl.framed_size(width // painter.scale, height // painter.scale)
	win = fl.wait_window(comp, "vmdesk.%s.%s" % (VM, app_id), size)
	return client, painter, win


def wait_picture(comp, painter, win, what):
	rect = fl.content_rect(win["rect"])
	origin = (rect["x"], rect["y"])
	fl.wait_image(comp, lambda img: painter.mismatches(img, origin), what)


@suite.test
def test_contents_exact_through_three_buffers():
	"""Random rectangles, each frame damaging only itself, in three buffers that
	take turns (one pool each, then one pool for all): the window shows exactly
	what the client drew, frame after frame."""
	rng = random.Random(8)
	with Sway() as comp, chain(comp) as c:
		for one_pool in (False, True):
			app_id = "painter-%d" % one_pool
			client, painter, win = painter_window(comp, c, app_id, 240, 160, buffers=3,
			                                      one_pool=one_pool)
			for i in range(60):
				color = 0xFF000000 | rng.randrange(1 << 24)
				painter.fill_rect(rng.randrange(-20, 240), rng.randrange(-20, 160),
				                  rng.randrange(1, 90), rng.randrange(1, 60), color)
				if i % 20 == 19:
					wait_picture(comp, painter, win, "%s after %d frames" % (app_id, i + 1))
			client.close()
			comp.wait_for(lambda: fl.find_window(comp, "vmdesk.%s.%s" % (VM, app_id)) is None,
			              what="the window to go")
		c.check_alive()


@suite.test
def test_contents_exact_while_scrolling():
	"""A terminal's way: the picture scrolls by a few rows per frame, all damaged;
	bands of color keep coming in at the bottom."""
	with Sway() as comp, chain(comp) as c:
		client, painter, win = painter_window(comp, c, "scroller", 200, 150, buffers=2)
		for i in range(40):
			painter.fill_rect(10 + (i * 7) % 150, 100, 30, 12, 0xFF000000 | (i * 0x10305))
			painter.scroll(5, 0xFF000000 | (0x204060 + i * 0x010203))
		wait_picture(comp, painter, win, "after 40 scrolls")
		client.close()
		c.check_alive()


@suite.test
def test_buffer_scale_2():
	"""A scale-2 client: its 2x buffer shows at half the size, exactly."""
	rng = random.Random(2)
	with Sway() as comp, chain(comp) as c:
		client, painter, win = painter_window(comp, c, "scaled", 320, 200, buffers=2, scale=2)
		assert (win["rect"]["width"], win["rect"]["height"]) == fl.framed_size(160, 100), \
			win["rect"]
		for _ in range(20):
			painter.fill_rect(2 * rng.randrange(0, 160), 2 * rng.randrange(0, 100),
			                  2 * rng.randrange(1, 40), 2 * rng.randrange(1, 30),
			                  0xFF000000 | rng.randrange(1 << 24))
		wait_picture(comp, painter, win, "the scale-2 window")
		client.close()
		c.check_alive()


@suite.test
def test_popups():
	"""A menu and a submenu (xdg_popup) of a VM window: each with the VM's 2 px
	border, the window's frame whole."""
	with Sway() as comp, chain(comp) as c:
		client = fl.Client(c.socket)
		top = fl.Toplevel(client, "menus", 400, 300, fl.GREY)
		win, _ = fl.wait_frame(comp, "vmdesk.%s.menus" % VM, fl.COLORS[COLOR],
		                       size=fl.framed_size(400, 300))
		fl.Popup(client, top.xdg_surface, 40, 40, 120, 100, fl.CYAN)
		inner = fl.content_rect(win["rect"])
		ring = {"x": inner["x"] + 40 - fl.POPUP_BORDER, "y": inner["y"] + 40 - fl.POPUP_BORDER,
		        "width": 120 + 2 * fl.POPUP_BORDER, "height": 100 + 2 * fl.POPUP_BORDER}

		def check(img):
			return (fl.frame_problems(img, ring, fl.COLORS[COLOR], border=fl.POPUP_BORDER,
			                          title=fl.POPUP_BORDER, text_free=False, outer=False) +
			        fl.frame_problems(img, win["rect"], fl.COLORS[COLOR], inner=False))
		fl.wait_image(comp, check, "the popup's border")
		client.close()
		c.check_alive()


@suite.test
def test_gtk_menu():
	"""A GTK menu opened by a click (a grabbing xdg_popup): it shows with the VM's
	border next to the framed window."""
	with Sway(1024, 768) as comp, fl.VirtualPointer(comp) as pointer, chain(comp) as c, \
			Client(["/usr/bin/python3", GTK_MENU, "gtkmenu"], env=c.env(**GTK_ENV)):
		app_id = "vmdesk.%s.gtkmenu" % VM
		win, _ = fl.wait_frame(comp, app_id, fl.COLORS[COLOR], timeout=20, inner=False)
		inner = fl.content_rect(win["rect"])
		green = fl.COLORS[COLOR]

		def outside_frame(img):
			r = win["rect"]
			n = 0
			for y in range(0, img.height, 2):
				for x in range(0, img.width, 2):
					if r["x"] <= x < r["x"] + r["width"] and r["y"] <= y < r["y"] + r["height"]:
						continue
					if img.pixel(x, y) == green:
						n += 1
			return n

		before = outside_frame(comp.image())
		# the button fills the window: click its middle until the menu shows
		def menu_shown():
			pointer.move_to(inner["x"] + inner["width"] // 2, inner["y"] + inner["height"] // 2)
			pointer.button(True)
			pointer.button(False)
			pointer.move_to(comp.width - 1, comp.height - 1)
			return comp.wait_for(lambda: outside_frame(comp.image()) > before + 40, timeout=3,
			                     what="a menu border")
		try:
			menu_shown()
		except TimeoutError:
			menu_shown()
		tap.diag("green pixels outside the window's frame: %d before, %d with the menu" % (
			before, outside_frame(comp.image())))
		c.check_alive()


@suite.test
def test_sway_resize():
	app_id = "vmdesk.%s.foot" % VM
	with Sway() as comp, chain(comp) as c, \
			Client(["foot", "-w", "400x300", "-a", "foot"], env=c.env()):
		fl.wait_frame(comp, app_id, fl.COLORS[COLOR], size=fl.framed_size(400, 300))
		for width, height in ((500, 400), (333, 257), (700, 520)):
			comp.swaymsg('[app_id="%s"] resize set %d %d' % (app_id, width, height))
			win, _ = fl.wait_frame(comp, app_id, fl.COLORS[COLOR], size=(width, height))
			tap.diag("resize set %d %d: %r" % (width, height, win["rect"]))
		c.check_alive()


@suite.test
def test_wtype_reaches_foot():
	"""Keys typed on the host (wtype, a virtual keyboard of sway's) reach a shell in
	foot in the VM: the keymap and the key events cross the link."""
	with Sway() as comp, chain(comp) as c, tempfile.TemporaryDirectory() as tmp:
		out = os.path.join(tmp, "typed")
		script = "IFS= read -r line; printf '%s' \"$line\" > " + out
		with Client(["foot", "-w", "400x300", "-a", "typing", "sh", "-c", script],
		            env=c.env()) as foot:
			app_id = "vmdesk.%s.typing" % VM
			fl.wait_frame(comp, app_id, fl.COLORS[COLOR], size=fl.framed_size(400, 300))
			comp.wait_for(lambda: fl.find_window(comp, app_id)["focused"], timeout=10,
			              what="foot focused")
			text = "hello from the host 42"
			# (a pause first: wtype's new keymap reaches the client before its keys)
			r = subprocess.run(["wtype", "-s", "300", text + "\n"], env=comp.env(),
			                   capture_output=True, timeout=20)
			assert r.returncode == 0, r
			comp.wait_for(lambda: os.path.exists(out) and open(out).read() == text,
			              timeout=15, what="the typed line in the VM's shell")
			foot.wait(timeout=10)
		c.check_alive()


@suite.test
def test_many_clients_and_exits():
	"""Clients come and go: each is a channel and a session, logged as
	vm=NAME channel=N; none is left when they are gone."""
	with Sway() as comp, chain(comp) as c:
		for round_ in range(3):
			clients = [Client(["foot", "-w", "200x100", "-a", "n%d" % i, "sh", "-c", "sleep 30"],
			                  env=c.env()) for i in range(3)]
			for client in clients:
				client.__enter__()
			for i in range(3):
				fl.wait_window(comp, "vmdesk.%s.n%d" % (VM, i))
			for client in clients:
				client.__exit__(None, None, None)
			comp.wait_for(lambda: not comp.windows(), timeout=15, what="every window gone")
		log = c.proxy.log()
		opened = log.count(" connected\n")
		closed = log.count(" disconnected (")
		tap.diag("%d channels connected, %d disconnected" % (opened, closed))
		assert opened == 9 and closed == 9, log[-3000:]
		assert "vm=%s channel=9 connected" % VM in log
		c.check_alive()


if __name__ == "__main__":
	suite.run()
