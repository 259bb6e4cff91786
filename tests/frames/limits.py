#!/usr/bin/python3
"""Frames at their limits: a very wide window at buffer scale 8 (issue 11,
finding 4), frame buffers on a compositor that releases buffers early
(finding 5), titles of a client that commits only a subsurface (issue 13,
item 12) and popups whose buffer is larger than their geometry (items 5, 14).
"""

import contextlib
import re

import framelib as fl
import tap
import wlwire as w
from compositor import Sway, Weston
from proxy import Proxy

suite = tap.Suite()
VM = "work"
GREEN = fl.COLORS["green"]
SURFACE_FRAME = 3
SURFACE_SET_BUFFER_SCALE = 8
VIEWPORTER_GET_VIEWPORT = 1
VIEWPORT_SET_DESTINATION = 2


@contextlib.contextmanager
def bench(comp_factory, proxy_args=()):
	with comp_factory() as comp, Proxy(vm=VM, upstream=comp.display,
	                                   args=["--color", "green"] + list(proxy_args)) as p, \
			fl.Client(p.socket) as client:
		yield comp, p, client


@suite.test
def test_wide_window_at_scale_8_keeps_its_title():
	# an 8x8 buffer at scale 8 stretched to 4100x600: the strips would be
	# 32,832 px wide at scale 8, past cairo's 32,767
	with bench(Sway) as (comp, p, c):
		def scale_8(top):
			c.conn.send(top.surface, SURFACE_SET_BUFFER_SCALE, w.int_(8))
		top = fl.Toplevel(c, "wide", 8, 8, fl.GREY, title="wide", geometry=None,
		                  before_map=scale_8)
		viewporter = c.conn.bind_global("wp_viewporter", 1)
		vp = c.conn.new_id("wp_viewport")
		c.conn.send(viewporter, VIEWPORTER_GET_VIEWPORT, w.new_id(vp), w.obj(top.surface))
		c.conn.send(vp, VIEWPORT_SET_DESTINATION, w.int_(4100), w.int_(600))
		top.commit()
		c.roundtrip()
		win = fl.wait_window(comp, "vmdesk.work.wide", fl.framed_size(4100, 600))
		comp.swaymsg("[con_id=%d] move position 0 0" % win["id"])
		visible = {"x": 0, "y": 0, "width": comp.width, "height": fl.TITLE}

		def title_shown(img):
			text = fl.text_pixels(img, visible, fl.BLACK)
			problems = [] if text >= 40 else ["%d text pixels in the title strip" % text]
			for x in (0, 2, 300, 1000):
				problems += fl.pixel_problem(img, x, 1, GREEN, "the title strip")
			problems += fl.pixel_problem(img, 1, 300, GREEN, "the left border")
			return problems
		fl.wait_image(comp, title_shown, "the title strip with the VM's name")
		assert "cannot draw" not in p.log(), p.log()
		p.check_alive()


def weston_frame_mappings(comp):
	"""Frame buffers the compositor still holds: its mappings of our memfds."""
	with open("/proc/%d/maps" % comp.proc.pid) as f:
		return sum(1 for line in f if "vmdesk-frame" in line)


def wait_painted(client, top):
	"""Commits top with a frame callback and waits until the compositor painted."""
	c = client.conn
	callback = c.new_id("wl_callback")  # wlwire records its done event
	c.send(top.surface, SURFACE_FRAME, w.new_id(callback))
	c.send(top.surface, w.SURFACE_DAMAGE, w.int_(0), w.int_(0), w.int_(1), w.int_(1))
	top.commit()
	c.dispatch_until(lambda: callback in c._done, what="a frame callback")


@suite.test
def test_frame_buffers_freed_on_an_early_releasing_compositor():
	# weston's GL renderer releases shm buffers once uploaded, while they are
	# still attached: each redraw of the title strip must still free the
	# buffer it replaces
	with bench(lambda: Weston(gl=True)) as (comp, p, c):
		top = fl.Toplevel(c, "leak", 300, 100, fl.GREY, title="t", geometry=(0, 0, 300, 100))
		c.roundtrip()
		comp.wait_for(lambda: weston_frame_mappings(comp) >= 5, what="the frame's buffers")
		start = weston_frame_mappings(comp)
		redraws = 100
		for i in range(redraws):
			top.set_title("title %d" % i)
			wait_painted(c, top)
		state = {}

		def bounded():
			state["n"] = weston_frame_mappings(comp)
			return state["n"] <= 15
		try:
			comp.wait_for(bounded, timeout=10, what="frame buffers to be freed")
		except TimeoutError:
			raise AssertionError("after %d title redraws weston maps %d frame buffers "
			                     "(%d at the start): they leak" % (redraws, state["n"],
			                                                      start)) from None
		tap.diag("frame buffers mapped by weston: %d at the start, %d after %d redraws" % (
			start, state["n"], redraws))
		p.check_alive()


@suite.test
def test_title_shown_when_only_a_subsurface_commits():
	# like Firefox: a desynchronized subsurface commits, the main surface not
	with bench(Sway) as (comp, p, c):
		top = fl.Toplevel(c, "stale", 500, 200, fl.GREY, title="a", geometry=(0, 0, 500, 200))
		win, img = fl.wait_frame(comp, "vmdesk.work.stale", GREEN, size=fl.framed_size(500, 200))
		short = fl.text_pixels(img, win["rect"], fl.BLACK)
		surface, sub = c.subsurface(top.surface, 10, 10, 50, 50, fl.CYAN)
		c.conn.send(sub, fl.SUBSURFACE_SET_DESYNC)
		top.commit()
		c.roundtrip()
		top.set_title("a much longer title that fills the strip")
		for i in range(3):
			c.attach(surface, c.buffer(50, 50, fl.MAGENTA if i % 2 else fl.CYAN), 50, 50)
			c.roundtrip()

		def longer():
			return fl.text_pixels(comp.image(), win["rect"], fl.BLACK) > short + 100
		comp.wait_for(longer, timeout=5, what="the title strip to show the new title")
		p.check_alive()


@suite.test
def test_popup_border_on_its_geometry():
	# a menu whose buffer has a 30 px "shadow" around its 100x50 geometry:
	# the 2 px border hugs the geometry and the shadow is not shown
	with bench(Sway) as (comp, p, c):
		top = fl.Toplevel(c, "menu", 300, 200, fl.GREY, geometry=(0, 0, 300, 200))
		win, _ = fl.wait_frame(comp, "vmdesk.work.menu", GREEN, size=fl.framed_size(300, 200))
		positioner = c.conn.new_id("xdg_positioner")
		c.conn.send(c.wm_base, fl.WM_BASE_CREATE_POSITIONER, w.new_id(positioner))
		c.conn.send(positioner, fl.POSITIONER_SET_SIZE, w.int_(100), w.int_(50))
		c.conn.send(positioner, fl.POSITIONER_SET_ANCHOR_RECT, w.int_(20), w.int_(30), w.int_(1),
		            w.int_(1))
		c.conn.send(positioner, fl.POSITIONER_SET_ANCHOR, w.uint(fl.ANCHOR_TOP_LEFT))
		c.conn.send(positioner, fl.POSITIONER_SET_GRAVITY, w.uint(fl.GRAVITY_BOTTOM_RIGHT))
		surface = c.surface()
		xdg = c.conn.new_id("xdg_surface")
		serial = {}
		c.conn.on(xdg, lambda ev: serial.setdefault("s", ev.uint(0)))
		c.conn.send(c.wm_base, w.WM_BASE_GET_XDG_SURFACE, w.new_id(xdg), w.obj(surface))
		popup = c.conn.new_id("xdg_popup")
		c.conn.on(popup, lambda ev: None)
		c.conn.send(xdg, fl.XDG_SURFACE_GET_POPUP, w.new_id(popup), w.obj(top.xdg_surface),
		            w.obj(positioner))
		c.conn.send(xdg, fl.XDG_SURFACE_SET_WINDOW_GEOMETRY, w.int_(30), w.int_(30), w.int_(100),
		            w.int_(50))
		c.commit(surface)
		c.conn.dispatch_until(lambda: "s" in serial, what="the popup's configure")
		c.conn.send(xdg, w.XDG_SURFACE_ACK_CONFIGURE, w.uint(serial["s"]))
		c.attach(surface, c.buffer(160, 110, fl.CYAN), 160, 110)
		c.roundtrip()
		inner = fl.content_rect(win["rect"])
		box = {"x": inner["x"] + 20 - 2, "y": inner["y"] + 30 - 2, "width": 104, "height": 54}

		def hugged(img):
			problems = fl.frame_problems(img, box, GREEN, border=fl.POPUP_BORDER,
			                             title=fl.POPUP_BORDER, text_free=False, inner=False)
			cyan = sum(1 for y in range(img.height) for x in range(img.width)
			           if img.pixel(x, y) == fl.rgb(fl.CYAN))
			if cyan != 100 * 50:
				problems.append("%d cyan pixels: the menu shows more than its geometry" % cyan)
			return problems
		fl.wait_image(comp, hugged, "the border on the menu's geometry")
		p.check_alive()


if __name__ == "__main__":
	suite.run()
