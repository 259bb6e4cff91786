#!/usr/bin/python3
"""The frame promise against a hostile VM (issue 11, finding 3), on headless sway:

    no pixel a VM draws lies outside its own frame, and nothing a VM draws
    covers any frame.

Raw wire clients (framelib, on wlwire) of a green "work" VM try to forge a
red "banking" frame or to cover their own: a 1x1 window geometry on a big
buffer holding a pixel-exact red frame drawn by vmdesk-proxy itself, a popup
laying a fake title strip over the real one, subsurfaces (nested) outside the
geometry, popups over each side of the frame, negative geometry, geometry
larger than the buffer, viewports that stretch or shift. Every check is on
the pixels of a screenshot.
"""

import contextlib
import struct

import framelib as fl
import tap
import wlwire as w
from compositor import Sway
from proxy import Proxy

suite = tap.Suite()
VM = "work"
GREEN = fl.COLORS["green"]
RED = fl.COLORS["red"]
MAGENTA = fl.rgb(fl.MAGENTA)
CYAN = fl.rgb(fl.CYAN)

VIEWPORTER_GET_VIEWPORT = 1
VIEWPORT_SET_SOURCE = 1
VIEWPORT_SET_DESTINATION = 2
SURFACE_SET_BUFFER_SCALE = 8
POSITIONER_SET_OFFSET = 6


class Bench:
	"""sway + one proxy (vm work, green) + one raw client connection."""

	def __init__(self, width=1024, height=768):
		self.size = (width, height)

	def __enter__(self):
		with contextlib.ExitStack() as stack:
			self.comp = stack.enter_context(Sway(*self.size))
			self.proxy = stack.enter_context(Proxy(vm=VM, upstream=self.comp.display,
			                                       args=["--color", "green"]))
			self.client = stack.enter_context(fl.Client(self.proxy.socket))
			self._stack = stack.pop_all()
		return self

	def __exit__(self, *exc):
		return self._stack.__exit__(*exc)


def app(app_id):
	return "vmdesk.%s.%s" % (VM, app_id)


def pixel_buffer(client, width, height, pixels):
	"""An XRGB8888 buffer from a list of rows of (r, g, b)."""
	data = bytearray()
	for row in pixels:
		for r, g, b in row:
			data += struct.pack("=I", 0xFF000000 | r << 16 | g << 8 | b)
	c = client.conn
	size = len(data)
	fd = w.memfd(size)
	import os
	os.pwrite(fd, bytes(data), 0)
	pool = c.new_id("wl_shm_pool")
	c.send(client.shm, w.SHM_CREATE_POOL, w.new_id(pool), w.int_(size), fds=[fd])
	os.close(fd)
	buf = c.new_id("wl_buffer")
	c.on(buf, lambda ev: None)
	c.send(pool, w.SHM_POOL_CREATE_BUFFER, w.new_id(buf), w.int_(0), w.int_(width),
	       w.int_(height), w.int_(width * 4), w.uint(w.SHM_FORMAT_XRGB8888))
	c.send(pool, w.SHM_POOL_DESTROY)
	return buf


def count(img, color, rect=None, step=1):
	"""Pixels of exactly color (in rect x, y, w, h), every step-th row and column."""
	x0, y0, width, height = rect or (0, 0, img.width, img.height)
	color = tuple(color)
	return sum(1 for y in range(max(0, y0), min(img.height, y0 + height), step)
	           for x in range(max(0, x0), min(img.width, x0 + width), step)
	           if img.pixel(x, y) == color)


def outside(img, color, rect, step=2):
	"""Pixels of color outside rect (a framed window's rect), as problems."""
	found = []
	x0, y0, x1, y1 = rect["x"], rect["y"], rect["x"] + rect["width"], rect["y"] + rect["height"]
	for y in range(0, img.height, step):
		for x in range(0, img.width, step):
			if not (x0 <= x < x1 and y0 <= y < y1) and img.pixel(x, y) == tuple(color):
				found.append((x, y))
	return ["%d pixels of %r outside the frame %r, e.g. %r" % (len(found), color, rect,
	                                                           found[:5])] if found else []


def on_ring(img, color, rect, border=fl.BORDER, title=fl.TITLE):
	"""Pixels of color on the frame strips of rect, as problems."""
	found = []
	for side, (x, y, wd, ht) in fl.frame_regions(rect, border, title).items():
		for yy in range(y, y + ht):
			for xx in range(x, x + wd):
				if 0 <= xx < img.width and 0 <= yy < img.height and \
						img.pixel(xx, yy) == tuple(color):
					found.append((side, xx, yy))
	return ["%d pixels of %r on the frame, e.g. %r" % (len(found), color, found[:5])] \
		if found else []


class Popup:
	"""An xdg_popup of parent with any positioner and a buffer (width x height,
	color) whose window geometry is `geometry` (x, y, w, h of the buffer)."""

	def __init__(self, client, parent, anchor, size, buffer_size, geometry, color=fl.CYAN,
	             buffer=None):
		self.client = client
		c = client.conn
		self.configured = None
		self.done = False
		self.serial = None
		positioner = c.new_id("xdg_positioner")
		c.send(client.wm_base, fl.WM_BASE_CREATE_POSITIONER, w.new_id(positioner))
		c.send(positioner, fl.POSITIONER_SET_SIZE, w.int_(size[0]), w.int_(size[1]))
		c.send(positioner, fl.POSITIONER_SET_ANCHOR_RECT, w.int_(anchor[0]), w.int_(anchor[1]),
		       w.int_(1), w.int_(1))
		c.send(positioner, fl.POSITIONER_SET_ANCHOR, w.uint(fl.ANCHOR_TOP_LEFT))
		c.send(positioner, fl.POSITIONER_SET_GRAVITY, w.uint(fl.GRAVITY_BOTTOM_RIGHT))
		self.surface = client.surface()
		self.xdg_surface = c.new_id("xdg_surface")
		c.on(self.xdg_surface, self._on_xdg_surface)
		c.send(client.wm_base, w.WM_BASE_GET_XDG_SURFACE, w.new_id(self.xdg_surface),
		       w.obj(self.surface))
		self.popup = c.new_id("xdg_popup")
		c.on(self.popup, self._on_popup)
		c.send(self.xdg_surface, fl.XDG_SURFACE_GET_POPUP, w.new_id(self.popup), w.obj(parent),
		       w.obj(positioner))
		c.send(positioner, 0)
		c.send(self.xdg_surface, fl.XDG_SURFACE_SET_WINDOW_GEOMETRY, *[w.int_(v) for v in geometry])
		c.send(self.surface, w.SURFACE_COMMIT)
		c.dispatch_until(lambda: self.serial is not None or self.done, what="popup configure")
		if self.serial is not None:
			buf = buffer if buffer is not None else client.buffer(*buffer_size, color)
			client.attach(self.surface, buf, *buffer_size)
		c.roundtrip()

	def _on_xdg_surface(self, ev):
		if ev.opcode == w.XDG_SURFACE_EV_CONFIGURE:
			self.serial = ev.uint(0)
			self.client.conn.send(self.xdg_surface, w.XDG_SURFACE_ACK_CONFIGURE,
			                      w.uint(self.serial))

	def _on_popup(self, ev):
		if ev.opcode == fl.POPUP_EV_CONFIGURE:
			self.configured = struct.unpack_from("=iiii", ev.payload, 0)
		elif ev.opcode == fl.POPUP_EV_DONE:
			self.done = True


def red_frame_pixels(comp, title):
	"""A real red "banking" frame as vmdesk-proxy draws it: its pixels, read back
	from the screen (560 x 340 of white inside)."""
	with Proxy(vm="banking", upstream=comp.display, args=["--color", "red"]) as bank, \
			fl.Client(bank.socket) as client:
		fl.Toplevel(client, "bank", 560, 340, fl.WHITE_PIXEL, title=title,
		            geometry=(0, 0, 560, 340))
		win, _ = fl.wait_frame(comp, "vmdesk.banking.bank", RED, size=fl.framed_size(560, 340))
		comp.swaymsg("[con_id=%d] move position 0 0" % win["id"])
		win, img = fl.wait_frame(comp, "vmdesk.banking.bank", RED, size=fl.framed_size(560, 340))
		r = win["rect"]
		shot = comp.capture(r["x"], r["y"], r["width"], r["height"])
		rows = [[shot.pixel(x, y) for x in range(shot.width)] for y in range(shot.height)]
	comp.wait_for(lambda: fl.find_window(comp, "vmdesk.banking.bank") is None,
	              what="the banking window to go")
	return shot.width, shot.height, rows


@suite.test
def test_forged_frame_on_a_big_buffer():
	# finding 3a: a 1x1 window geometry, a 568x368 buffer holding a
	# pixel-exact red banking frame (taken from a real one)
	with Bench() as b:
		width, height, rows = red_frame_pixels(b.comp, "Online Banking - Transfer")
		assert count_rows(rows, RED) > 1000, "the captured frame is not red"
		c = b.client
		top = fl.Toplevel(c, "forge", 1, 1, fl.GREY, geometry=(284, 184, 1, 1),
		                  title="Online Banking - Transfer")
		buf = pixel_buffer(c, width, height, rows)
		c.attach(top.surface, buf, width, height)
		c.roundtrip()
		win = fl.wait_window(b.comp, app("forge"), fl.framed_size(1, 1))

		def check(img):
			return (["%d red pixels on screen" % n for n in [count(img, RED, step=2)] if n]
			        + fl.frame_problems(img, win["rect"], GREEN, inner=False, text_free=False))
		fl.wait_image(b.comp, check, "no red frame, the real green one around 1x1")
		b.proxy.check_alive()


def count_rows(rows, color):
	return sum(1 for row in rows for p in row if p == tuple(color))


@suite.test
def test_popup_lays_a_fake_title_strip():
	# finding 3b: a popup with a 1x1 geometry at (-4, -24) of its parent's
	# geometry, on a buffer holding a red strip as wide as the title strip
	with Bench() as b:
		c = b.client
		top = fl.Toplevel(c, "victim", 300, 200, fl.GREY, geometry=(0, 0, 300, 200))
		win, _ = fl.wait_frame(b.comp, app("victim"), GREEN, size=fl.framed_size(300, 200))
		strip = [[RED] * 308 for _ in range(24)]
		buf = pixel_buffer(c, 308, 24, strip)
		popup = Popup(c, top.xdg_surface, (-4, -24), (1, 1), (308, 24), (0, 0, 1, 1), buffer=buf)
		tap.diag("popup configure %r, done %r" % (popup.configured, popup.done))
		rect = win["rect"]

		def check(img):
			return (on_ring(img, RED, rect) + fl.frame_problems(img, rect, GREEN, inner=False)
			        + ["%d red pixels" % n for n in [count(img, RED)] if n > 1])
		fl.wait_image(b.comp, check, "the real title strip, whole and green")
		b.proxy.check_alive()


@suite.test
def test_subsurfaces_outside_the_geometry():
	with Bench() as b:
		c = b.client
		top = fl.Toplevel(c, "subs", 300, 200, fl.GREY, geometry=(0, 0, 300, 200))
		win, _ = fl.wait_frame(b.comp, app("subs"), GREEN, size=fl.framed_size(300, 200))
		# straddling the top-left corner, wholly outside on the right, and a
		# nested one below the bottom edge of its straddling parent
		c.subsurface(top.surface, -50, -50, 100, 100, fl.MAGENTA, above=top.surface)
		c.subsurface(top.surface, 320, 20, 60, 60, fl.MAGENTA)
		mid, mid_sub = c.subsurface(top.surface, 200, 150, 80, 80, fl.CYAN)
		c.subsurface(mid, 40, 40, 90, 90, fl.MAGENTA)
		c.commit(mid)
		top.commit()
		c.roundtrip()
		rect = win["rect"]
		inner = fl.content_rect(rect)

		def check(img):
			problems = outside(img, MAGENTA, rect) + outside(img, CYAN, rect)
			problems += fl.frame_problems(img, rect, GREEN, inner=False)
			problems += on_ring(img, MAGENTA, rect) + on_ring(img, CYAN, rect)
			# the parts inside the geometry are shown
			problems += fl.pixel_problem(img, inner["x"] + 10, inner["y"] + 10, MAGENTA,
			                             "the corner subsurface inside the geometry")
			problems += fl.pixel_problem(img, inner["x"] + 250, inner["y"] + 170, CYAN,
			                             "the straddling subsurface inside")
			problems += fl.pixel_problem(img, inner["x"] + 295, inner["y"] + 195, MAGENTA,
			                             "the nested subsurface inside")
			return problems
		fl.wait_image(b.comp, check, "subsurfaces cropped to the geometry")
		# move one further out, then back in
		c.conn.send(mid_sub, fl.SUBSURFACE_SET_POSITION, w.int_(400), w.int_(400))
		top.commit()
		c.roundtrip()
		fl.wait_image(b.comp, lambda img: outside(img, CYAN, rect) + outside(img, MAGENTA, rect)
		              + fl.frame_problems(img, rect, GREEN, inner=False)
		              + (["the moved subsurface still shows"]
		                 if count(img, CYAN, (inner["x"], inner["y"], 300, 200)) else []),
		              "a subsurface moved out of the geometry is hidden")
		c.conn.send(mid_sub, fl.SUBSURFACE_SET_POSITION, w.int_(10), w.int_(100))
		top.commit()
		c.roundtrip()
		fl.wait_image(b.comp, lambda img: fl.pixel_problem(
			img, inner["x"] + 20, inner["y"] + 110, CYAN, "the subsurface moved back in")
			+ outside(img, MAGENTA, rect), "a subsurface moved back in shows")
		b.proxy.check_alive()


@suite.test
def test_desync_subsurface_grows_outside():
	# a desynchronized subsurface commits a larger buffer on its own: it
	# stays cropped (its commit reaches the screen only with the root's)
	with Bench() as b:
		c = b.client
		top = fl.Toplevel(c, "desync", 300, 200, fl.GREY, geometry=(0, 0, 300, 200))
		win, _ = fl.wait_frame(b.comp, app("desync"), GREEN, size=fl.framed_size(300, 200))
		surface, sub = c.subsurface(top.surface, 250, 150, 40, 40, fl.CYAN)
		c.conn.send(sub, fl.SUBSURFACE_SET_DESYNC)
		top.commit()
		c.roundtrip()
		rect = win["rect"]
		inner = fl.content_rect(rect)
		for size in (60, 120, 240, 500):
			c.attach(surface, c.buffer(size, size, fl.MAGENTA), size, size)
			c.roundtrip()
		fl.wait_image(b.comp, lambda img: outside(img, MAGENTA, rect)
		              + fl.pixel_problem(img, inner["x"] + 290, inner["y"] + 190, MAGENTA,
		                                 "the grown subsurface inside")
		              + fl.frame_problems(img, rect, GREEN, inner=False),
		              "a desynchronized subsurface grown past the geometry is cropped")
		b.proxy.check_alive()


def popup_side_cases():
	# (side, anchor in the parent's geometry, popup size): each overlaps one strip
	return [
		("title strip", (100, -20), (80, 40)),
		("left border", (-30, 80), (60, 40)),
		("right border", (280, 80), (60, 40)),
		("bottom border", (100, 185), (80, 40)),
	]


@suite.test
def test_popups_over_each_side():
	for side, anchor, size in popup_side_cases():
		with Bench() as b:
			c = b.client
			top = fl.Toplevel(c, "sides", 300, 200, fl.GREY, geometry=(0, 0, 300, 200))
			win, _ = fl.wait_frame(b.comp, app("sides"), GREEN, size=fl.framed_size(300, 200))
			popup = Popup(c, top.xdg_surface, anchor, size, size, (0, 0) + size)
			rect = win["rect"]
			tap.diag("%s: configure %r, done %r" % (side, popup.configured, popup.done))

			def check(img):
				# (a popup moved beside the frame has its green border next to it)
				return on_ring(img, CYAN, rect) + fl.frame_problems(img, rect, GREEN,
				                                                     inner=False, outer=False)
			fl.wait_image(b.comp, check, "%s: the frame uncovered" % side)
			if not popup.done:
				# moved off the frame: shown whole, with its border
				img = b.comp.image()
				assert count(img, CYAN) == size[0] * size[1], \
					"%s: the moved popup shows %d of %d pixels" % (side, count(img, CYAN),
					                                               size[0] * size[1])
			b.proxy.check_alive()


@suite.test
def test_nested_popup_over_the_parent_popup_border():
	with Bench() as b:
		c = b.client
		top = fl.Toplevel(c, "nest", 400, 300, fl.GREY, geometry=(0, 0, 400, 300))
		win, _ = fl.wait_frame(b.comp, app("nest"), GREEN, size=fl.framed_size(400, 300))
		menu = Popup(c, top.xdg_surface, (50, 50), (100, 100), (100, 100), (0, 0, 100, 100),
		             color=fl.WHITE_PIXEL)
		# a submenu over the menu's right border and the window's title strip
		sub = Popup(c, menu.xdg_surface, (95, -100), (100, 140), (100, 140), (0, 0, 100, 140))
		tap.diag("menu %r, submenu %r done %r" % (menu.configured, sub.configured, sub.done))
		rect = win["rect"]
		inner = fl.content_rect(rect)
		menu_frame = {"x": inner["x"] + 50 - 2, "y": inner["y"] + 50 - 2, "width": 104,
		              "height": 104}
		fl.wait_image(b.comp, lambda img: on_ring(img, CYAN, rect) + on_ring(
			img, CYAN, menu_frame, 2, 2) + fl.frame_problems(img, rect, GREEN, inner=False),
			"the submenu covers no frame")
		b.proxy.check_alive()


@suite.test
def test_negative_geometry():
	with Bench() as b:
		c = b.client
		fl.Toplevel(c, "neg", 300, 200, fl.MAGENTA, geometry=(-20, -30, 200, 150))
		# clamped to the surface: 180 x 120 from its corner
		win, img = fl.wait_frame(b.comp, app("neg"), GREEN, size=fl.framed_size(180, 120),
		                         inner=False)
		fl.wait_image(b.comp, lambda img: outside(img, MAGENTA, win["rect"]),
		              "nothing outside the frame")


@suite.test
def test_geometry_larger_than_the_buffer():
	with Bench() as b:
		c = b.client
		fl.Toplevel(c, "large", 300, 200, fl.MAGENTA, geometry=(-50, -50, 1000, 1000))
		win, _ = fl.wait_frame(b.comp, app("large"), GREEN, size=fl.framed_size(300, 200),
		                       inner=False)
		fl.wait_image(b.comp, lambda img: outside(img, MAGENTA, win["rect"]),
		              "nothing outside the frame")


def viewport(client, surface):
	c = client.conn
	viewporter = c.bind_global("wp_viewporter", 1)
	vp = c.new_id("wp_viewport")
	c.send(viewporter, VIEWPORTER_GET_VIEWPORT, w.new_id(vp), w.obj(surface))
	return vp


@suite.test
def test_viewport_stretches_past_the_geometry():
	with Bench() as b:
		c = b.client
		# a 100x100 buffer stretched to 600x400, geometry 300x200 at (100, 100)
		top = fl.Toplevel(c, "stretch", 100, 100, fl.MAGENTA, geometry=None,
		                  before_map=lambda t: None)
		vp = viewport(c, top.surface)
		c.conn.send(vp, VIEWPORT_SET_DESTINATION, w.int_(600), w.int_(400))
		top.set_geometry(100, 100, 300, 200)
		top.commit()
		c.roundtrip()
		win, _ = fl.wait_frame(b.comp, app("stretch"), GREEN, size=fl.framed_size(300, 200),
		                       inner=False)
		rect = win["rect"]
		# a subsurface with its own viewport stretched over the frame
		surface, sub = c.subsurface(top.surface, 0, 0, 10, 10, fl.CYAN)
		svp = viewport(c, surface)
		c.conn.send(svp, VIEWPORT_SET_SOURCE, w.fixed(2), w.fixed(2), w.fixed(6), w.fixed(6))
		c.conn.send(svp, VIEWPORT_SET_DESTINATION, w.int_(1000), w.int_(1000))
		c.commit(surface)
		top.commit()
		c.roundtrip()
		inner = fl.content_rect(rect)
		fl.wait_image(b.comp, lambda img: outside(img, MAGENTA, rect) + outside(img, CYAN, rect)
		              + on_ring(img, CYAN, rect) + fl.frame_problems(img, rect, GREEN, inner=False)
		              + fl.pixel_problem(img, inner["x"] + 150, inner["y"] + 100, CYAN,
		                                 "the stretched subsurface inside"),
		              "viewports confined to the frame")
		b.proxy.check_alive()


@suite.test
def test_viewport_source_out_of_the_buffer_is_an_error():
	with Bench() as b:
		b.window = fl.Toplevel(b.client, "bystander", 200, 100, fl.GREY, geometry=(0, 0, 200, 100))
		with fl.Client(b.proxy.socket) as evil:
			top = fl.Toplevel(evil, "evil", 100, 100, fl.MAGENTA, geometry=(0, 0, 100, 100))
			vp = viewport(evil, top.surface)
			evil.conn.send(vp, VIEWPORT_SET_SOURCE, w.fixed(50), w.fixed(50), w.fixed(100),
			               w.fixed(100))
			evil.conn.send(vp, VIEWPORT_SET_DESTINATION, w.int_(100), w.int_(100))
			top.commit()
			try:
				evil.roundtrip()
			except (w.ProtocolError, w.Disconnected):
				pass
			assert evil.conn.wait_disconnect(), "a source outside the buffer was accepted"
			tap.diag("error: %r" % (evil.conn.error,))
		b.proxy.check_alive()
		fl.wait_frame(b.comp, app("bystander"), GREEN, size=fl.framed_size(200, 100))


@suite.test
def test_shadow_cropped():
	# a 360x260 buffer whose window geometry is the 300x200 at (30, 20): the
	# rest is "shadow", which is not shown (as on Qubes)
	with Bench() as b:
		fl.Toplevel(b.client, "shadow", 360, 260, fl.MAGENTA, geometry=(30, 20, 300, 200))
		win, _ = fl.wait_frame(b.comp, app("shadow"), GREEN, size=fl.framed_size(300, 200),
		                       inner=False)
		fl.wait_image(b.comp, lambda img: outside(img, MAGENTA, win["rect"]),
		              "no shadow outside the frame")


if __name__ == "__main__":
	suite.run()
