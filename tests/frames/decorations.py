#!/usr/bin/python3
"""Who decorates (issue 13, items 2, 3 and 13): the proxy draws the frame, so it
tells the compositor to draw nothing (xdg-decoration, client-side) and tells
the VM's toolkits to draw nothing either (it serves xdg-decoration and KDE's
server-decoration itself, always server-side). Fullscreen keeps the frame.
"""

import os

import framelib as fl
import tap
import wlwire as w
from compositor import Sway
from proxy import Client, Proxy

suite = tap.Suite()
HERE = os.path.dirname(os.path.abspath(__file__))
GTK_WINDOW = os.path.join(HERE, "gtk-window.py")
GTK_ENV = {"NO_AT_BRIDGE": "1", "GTK_A11Y": "none", "GDK_BACKEND": "wayland"}
GREEN = fl.COLORS["green"]

XDG_DECORATION_GET = 1
XDG_DECORATION_SET_MODE = 1
XDG_DECORATION_EV_CONFIGURE = 0
KDE_CREATE = 0
KDE_REQUEST_MODE = 1
MODE_CLIENT_SIDE = 1
MODE_SERVER_SIDE = 2
KDE_MODE_CLIENT = 1
KDE_MODE_SERVER = 2


def sway_node(comp, app_id):
	def walk(node):
		if node.get("app_id") == app_id:
			return node
		for child in node.get("nodes", []) + node.get("floating_nodes", []):
			found = walk(child)
			if found is not None:
				return found
		return None
	return walk(comp.tree())


@suite.test
def test_sway_draws_no_border_of_its_own():
	# sway's default config: a border and a title bar around every window,
	# unless the window decorates itself
	with Sway(borders=True) as comp, Proxy(vm="work", upstream=comp.display,
	                                       args=["--color", "green"]) as p, \
			Client(["foot", "-w", "600x400", "-a", "foot"], env=p.env(comp)):
		win, _ = fl.wait_frame(comp, "vmdesk.work.foot", GREEN, size=fl.framed_size(600, 400))
		node = sway_node(comp, "vmdesk.work.foot")
		tap.diag("sway: border %r, deco_rect %r" % (node.get("border"), node.get("deco_rect")))
		assert node.get("border") == "csd", "sway decorates the window: border %r" % (
			node.get("border"),)
		p.check_alive()


@suite.test
def test_served_decoration_globals_answer_server_side():
	with Sway() as comp, Proxy(vm="work", upstream=comp.display,
	                           args=["--color", "green"]) as p, fl.Client(p.socket) as c:
		names = sorted(i for i, _ in c.conn.globals.values())
		for interface in ("zxdg_decoration_manager_v1", "org_kde_kwin_server_decoration_manager"):
			assert names.count(interface) == 1, "%s listed %d times in %r" % (
				interface, names.count(interface), names)
		conn = c.conn
		surface = c.surface()
		xdg = conn.new_id("xdg_surface")
		conn.on(xdg, lambda ev: None)
		conn.send(c.wm_base, w.WM_BASE_GET_XDG_SURFACE, w.new_id(xdg), w.obj(surface))
		toplevel = conn.new_id("xdg_toplevel")
		conn.on(toplevel, lambda ev: None)
		conn.send(xdg, w.XDG_SURFACE_GET_TOPLEVEL, w.new_id(toplevel))
		manager = conn.bind_global("zxdg_decoration_manager_v1", 1)
		decoration = conn.new_id("zxdg_toplevel_decoration_v1")
		modes = []
		conn.on(decoration, lambda ev: modes.append(ev.uint(0)))
		conn.send(manager, XDG_DECORATION_GET, w.new_id(decoration), w.obj(toplevel))
		conn.send(decoration, XDG_DECORATION_SET_MODE, w.uint(MODE_CLIENT_SIDE))
		kde = conn.bind_global("org_kde_kwin_server_decoration_manager", 1)
		defaults = []
		conn.on(kde, lambda ev: defaults.append(ev.uint(0)))
		kde_decoration = conn.new_id("org_kde_kwin_server_decoration")
		kde_modes = []
		conn.on(kde_decoration, lambda ev: kde_modes.append(ev.uint(0)))
		conn.send(kde, KDE_CREATE, w.new_id(kde_decoration), w.obj(surface))
		conn.send(kde_decoration, KDE_REQUEST_MODE, w.uint(KDE_MODE_CLIENT))
		c.roundtrip()
		assert modes and set(modes) == {MODE_SERVER_SIDE}, "xdg-decoration modes %r" % modes
		assert defaults == [KDE_MODE_SERVER], "KDE default mode %r" % defaults
		assert kde_modes and set(kde_modes) == {KDE_MODE_SERVER}, "KDE modes %r" % kde_modes
		p.check_alive()


@suite.test
def test_gtk3_draws_no_title_bar_of_its_own():
	# a GTK 3 window without a header bar: with server-side decorations GTK
	# draws no title bar and no shadow, so its window is exactly its size
	with Sway() as comp, Proxy(vm="work", upstream=comp.display,
	                           args=["--color", "green"]) as p, \
			Client(["/usr/bin/python3", GTK_WINDOW, "gtkssd", "400", "300"],
			       env=p.env(comp, **GTK_ENV)):
		win, img = fl.wait_frame(comp, "vmdesk.work.gtkssd", GREEN,
		                         size=fl.framed_size(400, 300))
		inner = fl.content_rect(win["rect"])
		# GTK's body (magenta) right below vmdesk's title strip: no second bar
		for x in (inner["x"] + 5, inner["x"] + 200, inner["x"] + 395):
			got = img.pixel(x, inner["y"] + 2)
			assert got == fl.rgb(fl.MAGENTA), "(%d,%d) below the title strip is %r, not " \
				"the window's magenta: a second title bar" % (x, inner["y"] + 2, got)
		p.check_alive()


@suite.test
def test_foot_fullscreen_on_floating_sway_keeps_the_frame():
	with Sway() as comp, Proxy(vm="work", upstream=comp.display,
	                           args=["--color", "green"]) as p, \
			Client(["foot", "-F", "-a", "foot"], env=p.env(comp)):
		comp.wait_for(lambda: (sway_node(comp, "vmdesk.work.foot") or {}).get(
			"fullscreen_mode") == 1, what="foot fullscreen")
		screen = {"x": 0, "y": 0, "width": comp.width, "height": comp.height}
		fl.wait_image(comp, lambda img: fl.frame_problems(img, screen, GREEN, outer=False),
		              "the frame around the whole output")
		p.check_alive()


if __name__ == "__main__":
	suite.run()
