"""Helpers for the frame tests: the documented frame geometry, pixel checks
and raw xdg-shell clients (toplevels, subsurfaces, popups) built on wlwire.

The numbers below are the documented ones (decoration/render.h,
decoration/color.h); check_constants() fails loudly if the headers change, so
a test never fails later with a puzzling pixel.

A framed toplevel as the compositor sees it (sway's rect), for a client
window geometry of w x h:

    x, y                        the title strip's top-left corner
    width  = w + 2 * BORDER     left and right strips are BORDER wide
    height = h + TITLE + BORDER the title strip is TITLE high, the bottom BORDER
"""

import os
import re
import struct

import wlwire as w

BORDER = 4  # VD_FRAME_BORDER
TITLE = 24  # VD_FRAME_TITLE_HEIGHT
POPUP_BORDER = 2  # VD_POPUP_BORDER
TEXT_PADDING = 8  # decoration/render.c: no text in the first/last 8 columns of the strip
TITLE_MAX_BYTES = 256  # VD_TITLE_MAX_BYTES

# Qubes' label colors (decoration/color.c).
COLORS = {
	"green": (0x73, 0xd2, 0x16),
	"red": (0xcc, 0x00, 0x00),
	"blue": (0x34, 0x65, 0xa4),
	"orange": (0xf5, 0x79, 0x00),
}
BLACK = (0, 0, 0)
WHITE = (0xff, 0xff, 0xff)
# Text on the strip: black or white by WCAG contrast (vd_color_text_for).
TEXT_COLORS = {"green": BLACK, "red": WHITE, "blue": WHITE, "orange": BLACK}

# Contents of our own clients: far from every frame color and the background.
MAGENTA = 0xFFFF00FF
CYAN = 0xFF00FFFF
GREY = 0xFF808080
WHITE_PIXEL = 0xFFFFFFFF


def rgb(pixel):
	"""0xAARRGGBB -> (r, g, b)."""
	return ((pixel >> 16) & 0xff, (pixel >> 8) & 0xff, pixel & 0xff)


def check_constants():
	"""The documented constants are what the headers say."""
	root = os.environ.get("VMDESK_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
	with open(os.path.join(root, "decoration", "render.h")) as f:
		render = f.read()
	with open(os.path.join(root, "decoration", "title.h")) as f:
		title = f.read()
	expected = [(render, "VD_FRAME_BORDER", BORDER), (render, "VD_FRAME_TITLE_HEIGHT", TITLE),
	            (render, "VD_POPUP_BORDER", POPUP_BORDER),
	            (title, "VD_TITLE_MAX_BYTES", TITLE_MAX_BYTES)]
	for text, name, value in expected:
		m = re.search(r"#define %s (\d+)" % name, text)
		assert m, "%s not found in the headers" % name
		assert int(m.group(1)) == value, "%s is %s in the header, the tests document %d" % (
			name, m.group(1), value)


# --- pixel checks ----------------------------------------------------------------

def spread(first, last, count):
	"""count positions spread evenly over [first, last] (both included)."""
	if last <= first:
		return [first]
	count = min(count, last - first + 1)
	return sorted({first + (last - first) * i // (count - 1) for i in range(count)}) \
		if count > 1 else [first]


def frame_regions(rect, border=BORDER, title=TITLE):
	"""{side: (x, y, w, h)} of the four strips of a framed window's rect (screen coords)."""
	x, y, width, height = rect["x"], rect["y"], rect["width"], rect["height"]
	return {
		"top": (x, y, width, title),
		"left": (x, y + title, border, height - title - border),
		"right": (x + width - border, y + title, border, height - title - border),
		"bottom": (x, y + height - border, width, border),
	}


def frame_problems(img, rect, color, border=BORDER, title=TITLE, samples=9, inner=True,
                   outer=True, text_free=True):
	"""Pixels that contradict a frame of `color` around rect; [] when all is right.

	Checks, on every side, several pixels across the whole strip width (every
	column of the left/right/bottom strips, every row of the title strip at its
	text-free ends), that the pixel just outside is not the color (the frame
	is no wider than documented; only inside the screen) and, with inner, that
	the pixel just inside is not the color either (the client's content is not
	that color, so the frame is no wider inside).
	"""
	color = tuple(color)
	problems = []
	x0, y0, width, height = rect["x"], rect["y"], rect["width"], rect["height"]
	x1, y1 = x0 + width - 1, y0 + height - 1  # last column / row of the frame

	def expect(x, y, what, want=True):
		if not (0 <= x < img.width and 0 <= y < img.height):
			if want:
				problems.append("%s (%d,%d) is off screen" % (what, x, y))
			return
		got = img.pixel(x, y)
		if want and got != color:
			problems.append("%s (%d,%d) is #%02x%02x%02x, not the frame color #%02x%02x%02x"
			                % ((what, x, y) + got + color))
		elif not want and got == color:
			problems.append("%s (%d,%d) has the frame color: frame too wide" % (what, x, y))

	rows = spread(y0 + title, y1 - border, samples)
	cols = spread(x0, x1, samples)
	for yy in rows:
		for i in range(border):
			expect(x0 + i, yy, "left strip")
			expect(x1 - i, yy, "right strip")
		if outer:
			expect(x0 - 1, yy, "left of the frame", False)
			expect(x1 + 1, yy, "right of the frame", False)
		if inner:
			expect(x0 + border, yy, "inside the left strip", False)
			expect(x1 - border, yy, "inside the right strip", False)
	for xx in cols:
		for i in range(border):
			expect(xx, y1 - i, "bottom strip")
		expect(xx, y0, "title strip top row")
		if outer:
			expect(xx, y0 - 1, "above the frame", False)
			expect(xx, y1 + 1, "below the frame", False)
		if inner and x0 + border <= xx <= x1 - border:
			expect(xx, y0 + title, "below the title strip", False)
			expect(xx, y1 - border, "above the bottom strip", False)
	if text_free:
		for yy in range(y0, y0 + title):
			for i in range(border):
				expect(x0 + i, yy, "title strip, left end")
				expect(x1 - i, yy, "title strip, right end")
	return problems


def assert_frame(img, rect, color, what="window", **kw):
	problems = frame_problems(img, rect, color, **kw)
	if problems:
		raise AssertionError("%s at %r: %d pixels wrong, e.g.:\n  %s" % (
			what, rect, len(problems), "\n  ".join(problems[:12])))


def text_pixels(img, rect, text_color, title=TITLE, tolerance=60):
	"""Pixels of the title strip's text area close to text_color (glyph cores)."""
	count = 0
	x0, y0 = rect["x"] + TEXT_PADDING, rect["y"]
	for y in range(y0, y0 + title):
		for x in range(x0, min(rect["x"] + rect["width"] - TEXT_PADDING, img.width)):
			p = img.pixel(x, y)
			if max(abs(p[i] - text_color[i]) for i in range(3)) <= tolerance:
				count += 1
	return count


def content_rect(rect, border=BORDER, title=TITLE):
	"""The client's window geometry inside a framed rect, in screen coordinates."""
	return {"x": rect["x"] + border, "y": rect["y"] + title,
	        "width": rect["width"] - 2 * border, "height": rect["height"] - title - border}


def framed_size(width, height):
	"""The compositor's size of a window whose own geometry is width x height."""
	return width + 2 * BORDER, height + TITLE + BORDER


# --- finding windows ---------------------------------------------------------------

def find_window(comp, app_id):
	for win in comp.windows():
		if win["app_id"] == app_id:
			return win
	return None


def _size_problem(win, app_id, size):
	if win is None:
		return "no window with app_id %r" % app_id
	if size is not None and (win["rect"]["width"], win["rect"]["height"]) != tuple(size):
		return "window %r is %dx%d, expected %dx%d" % (
			app_id, win["rect"]["width"], win["rect"]["height"], size[0], size[1])
	return None


def wait_window(comp, app_id, size=None, timeout=15):
	"""The window with this app_id once sway maps it (with this framed size, if given)."""
	state = {}

	def found():
		win = find_window(comp, app_id)
		state["problem"] = _size_problem(win, app_id, size)
		return None if state["problem"] else win
	try:
		return comp.wait_for(found, timeout=timeout, what="window %r" % app_id)
	except TimeoutError:
		raise AssertionError("%s after %ss (windows: %r)" % (
			state.get("problem"), timeout,
			[(x["app_id"], x["rect"]) for x in comp.windows()])) from None


def wait_frame(comp, app_id, color, size=None, timeout=10, **kw):
	"""Waits until the window exists (at this framed size, if given) and its frame is
	right on screen; returns (win, img). The assertion names the wrong pixels."""
	state = {"problems": ["no screenshot"]}

	def good():
		win = find_window(comp, app_id)
		state["win"] = win
		problem = _size_problem(win, app_id, size)
		if problem:
			state["problems"] = [problem]
			return False
		img = comp.image()
		state["img"] = img
		state["problems"] = frame_problems(img, win["rect"], color, **kw)
		return not state["problems"]

	try:
		comp.wait_for(good, timeout=timeout, what="the frame of %s" % app_id)
	except TimeoutError:
		problems = state["problems"]
		raise AssertionError("frame of %s at %r never right after %ss; %d problems, e.g.:\n  %s"
		                     % (app_id, (state.get("win") or {}).get("rect"), timeout,
		                        len(problems), "\n  ".join(problems[:12]))) from None
	return state["win"], state["img"]


# --- raw xdg-shell clients ------------------------------------------------------------

# wl_subcompositor / wl_subsurface
SUBCOMPOSITOR_GET_SUBSURFACE = 1
SUBSURFACE_SET_POSITION = 1
SUBSURFACE_PLACE_ABOVE = 2
SUBSURFACE_PLACE_BELOW = 3
SUBSURFACE_SET_DESYNC = 5
# xdg_wm_base / xdg_positioner
WM_BASE_CREATE_POSITIONER = 1
POSITIONER_SET_SIZE = 1
POSITIONER_SET_ANCHOR_RECT = 2
POSITIONER_SET_ANCHOR = 3
POSITIONER_SET_GRAVITY = 4
ANCHOR_TOP_LEFT = 5
GRAVITY_BOTTOM_RIGHT = 8
# xdg_surface
XDG_SURFACE_GET_POPUP = 2
XDG_SURFACE_SET_WINDOW_GEOMETRY = 3
# xdg_toplevel
TOPLEVEL_SET_MAX_SIZE = 7
TOPLEVEL_SET_MIN_SIZE = 8
TOPLEVEL_SET_MAXIMIZED = 9
TOPLEVEL_SET_FULLSCREEN = 11
TOPLEVEL_UNSET_FULLSCREEN = 12
TOPLEVEL_EV_CONFIGURE = 0
TOPLEVEL_EV_CLOSE = 1
STATE_MAXIMIZED = 1
STATE_FULLSCREEN = 2
# xdg_popup
POPUP_EV_CONFIGURE = 0
POPUP_EV_DONE = 1


class Client:
	"""One raw connection with the globals a window needs; answers pings."""

	def __init__(self, path):
		self.conn = w.connect(path)
		c = self.conn
		self.compositor = c.bind_global("wl_compositor", 4)
		self.subcompositor = c.bind_global("wl_subcompositor", 1)
		self.shm = c.bind_global("wl_shm", 1)
		self.wm_base = c.bind_global("xdg_wm_base", 2)
		c.on(self.shm, lambda ev: None)  # wl_shm.format
		c.on(self.wm_base, self._on_wm_base)
		self._released = set()

	def _on_wm_base(self, ev):
		if ev.opcode == w.WM_BASE_EV_PING:
			self.conn.send(self.wm_base, w.WM_BASE_PONG, w.uint(ev.uint(0)))

	def buffer(self, width, height, color):
		"""A width x height XRGB8888 buffer filled with color (0xAARRGGBB)."""
		c = self.conn
		stride = width * 4
		size = stride * height
		fd = w.memfd(size, struct.pack("=I", color))
		pool = c.new_id("wl_shm_pool")
		c.send(self.shm, w.SHM_CREATE_POOL, w.new_id(pool), w.int_(size), fds=[fd])
		os.close(fd)
		buf = c.new_id("wl_buffer")
		c.on(buf, lambda ev: self._released.add(buf))
		c.send(pool, w.SHM_POOL_CREATE_BUFFER, w.new_id(buf), w.int_(0), w.int_(width),
		       w.int_(height), w.int_(stride), w.uint(w.SHM_FORMAT_XRGB8888))
		c.send(pool, w.SHM_POOL_DESTROY)
		return buf

	def surface(self):
		s = self.conn.new_id("wl_surface")
		self.conn.on(s, lambda ev: None)  # enter/leave
		self.conn.send(self.compositor, w.COMPOSITOR_CREATE_SURFACE, w.new_id(s))
		return s

	def attach(self, surface, buf, width, height, commit=True):
		c = self.conn
		c.send(surface, w.SURFACE_ATTACH, w.obj(buf), w.int_(0), w.int_(0))
		c.send(surface, w.SURFACE_DAMAGE, w.int_(0), w.int_(0), w.int_(width), w.int_(height))
		if commit:
			c.send(surface, w.SURFACE_COMMIT)

	def commit(self, surface):
		self.conn.send(surface, w.SURFACE_COMMIT)

	def subsurface(self, parent, x, y, width, height, color, above=None):
		"""A subsurface of parent at (x, y) with a buffer; place_above `above` if given.

		The parent must commit for the position and stacking to apply."""
		c = self.conn
		surface = self.surface()
		sub = c.new_id("wl_subsurface")
		c.send(self.subcompositor, SUBCOMPOSITOR_GET_SUBSURFACE, w.new_id(sub), w.obj(surface),
		       w.obj(parent))
		c.send(sub, SUBSURFACE_SET_POSITION, w.int_(x), w.int_(y))
		if above is not None:
			c.send(sub, SUBSURFACE_PLACE_ABOVE, w.obj(above))
		self.attach(surface, self.buffer(width, height, color), width, height)
		return surface, sub

	def roundtrip(self, timeout=None):
		self.conn.roundtrip(timeout)

	def close(self):
		self.conn.close()

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()


class Toplevel:
	"""An xdg_toplevel of a Client, mapped with a solid buffer of width x height.

	geometry: (x, y, w, h) for xdg_surface.set_window_geometry, or None to
	leave it unset (the surface size is the geometry). configures keeps every
	xdg_toplevel.configure as (width, height, states)."""

	def __init__(self, client, app_id, width=300, height=200, color=GREY, title=None,
	             geometry=None, before_map=None):
		self.client = client
		c = client.conn
		self.configures = []
		self.closed = False
		self._serial = None
		self.surface = client.surface()
		self.xdg_surface = c.new_id("xdg_surface")
		c.on(self.xdg_surface, self._on_xdg_surface)
		c.send(client.wm_base, w.WM_BASE_GET_XDG_SURFACE, w.new_id(self.xdg_surface),
		       w.obj(self.surface))
		self.toplevel = c.new_id("xdg_toplevel")
		c.on(self.toplevel, self._on_toplevel)
		c.send(self.xdg_surface, w.XDG_SURFACE_GET_TOPLEVEL, w.new_id(self.toplevel))
		if app_id is not None:
			c.send(self.toplevel, w.XDG_TOPLEVEL_SET_APP_ID, w.string(app_id))
		if title is not None:
			self.set_title(title)
		if before_map is not None:
			before_map(self)
		c.send(self.surface, w.SURFACE_COMMIT)
		c.dispatch_until(lambda: self._serial is not None, what="xdg_surface.configure")
		self.resize(width, height, color, geometry)
		c.roundtrip()

	def _on_xdg_surface(self, ev):
		if ev.opcode == w.XDG_SURFACE_EV_CONFIGURE:
			self._serial = ev.uint(0)
			self.client.conn.send(self.xdg_surface, w.XDG_SURFACE_ACK_CONFIGURE,
			                      w.uint(self._serial))

	def _on_toplevel(self, ev):
		if ev.opcode == TOPLEVEL_EV_CONFIGURE:
			width, height, length = struct.unpack_from("=iiI", ev.payload, 0)
			states = struct.unpack_from("=%dI" % (length // 4), ev.payload, 12)
			self.configures.append((width, height, set(states)))
		elif ev.opcode == TOPLEVEL_EV_CLOSE:
			self.closed = True

	def set_title(self, title):
		"""title: str or bytes (sent as is, NUL-terminated)."""
		self.client.conn.send(self.toplevel, w.XDG_TOPLEVEL_SET_TITLE, w.string(title))

	def set_geometry(self, x, y, width, height):
		self.client.conn.send(self.xdg_surface, XDG_SURFACE_SET_WINDOW_GEOMETRY, w.int_(x),
		                      w.int_(y), w.int_(width), w.int_(height))

	def resize(self, width, height, color=GREY, geometry=None, commit=True):
		"""A new buffer of width x height (and window geometry, if given), committed."""
		if geometry is not None:
			self.set_geometry(*geometry)
		buf = self.client.buffer(width, height, color)
		self.client.attach(self.surface, buf, width, height, commit=commit)
		self.width, self.height = width, height

	def request(self, opcode, *args):
		self.client.conn.send(self.toplevel, opcode, *args)

	def commit(self):
		self.client.commit(self.surface)

	def last_configure(self):
		return self.configures[-1] if self.configures else None

	def wait_configure(self, predicate, what="a configure", timeout=10):
		"""Dispatches until the last xdg_toplevel.configure satisfies predicate."""
		self.client.conn.dispatch_until(
			lambda: self.configures and predicate(*self.configures[-1]), timeout=timeout,
			what=what)
		return self.configures[-1]


class Popup:
	"""An xdg_popup (no grab) of a parent xdg_surface, anchored at (x, y) of the
	parent's window geometry, growing down and right, with a solid buffer."""

	def __init__(self, client, parent, x, y, width, height, color=CYAN):
		self.client = client
		c = client.conn
		self.configured = None  # (x, y, width, height) of xdg_popup.configure
		self.done = False
		self._serial = None
		positioner = c.new_id("xdg_positioner")
		c.send(client.wm_base, WM_BASE_CREATE_POSITIONER, w.new_id(positioner))
		c.send(positioner, POSITIONER_SET_SIZE, w.int_(width), w.int_(height))
		c.send(positioner, POSITIONER_SET_ANCHOR_RECT, w.int_(x), w.int_(y), w.int_(1),
		       w.int_(1))
		c.send(positioner, POSITIONER_SET_ANCHOR, w.uint(ANCHOR_TOP_LEFT))
		c.send(positioner, POSITIONER_SET_GRAVITY, w.uint(GRAVITY_BOTTOM_RIGHT))
		self.surface = client.surface()
		self.xdg_surface = c.new_id("xdg_surface")
		c.on(self.xdg_surface, self._on_xdg_surface)
		c.send(client.wm_base, w.WM_BASE_GET_XDG_SURFACE, w.new_id(self.xdg_surface),
		       w.obj(self.surface))
		self.popup = c.new_id("xdg_popup")
		c.on(self.popup, self._on_popup)
		c.send(self.xdg_surface, XDG_SURFACE_GET_POPUP, w.new_id(self.popup), w.obj(parent),
		       w.obj(positioner))
		c.send(positioner, 0)  # xdg_positioner.destroy
		# like toolkits do: the popup's own geometry is its buffer
		c.send(self.xdg_surface, XDG_SURFACE_SET_WINDOW_GEOMETRY, w.int_(0), w.int_(0),
		       w.int_(width), w.int_(height))
		c.send(self.surface, w.SURFACE_COMMIT)
		c.dispatch_until(lambda: self._serial is not None, what="popup configure")
		client.attach(self.surface, client.buffer(width, height, color), width, height)
		c.roundtrip()

	def _on_xdg_surface(self, ev):
		if ev.opcode == w.XDG_SURFACE_EV_CONFIGURE:
			self._serial = ev.uint(0)
			self.client.conn.send(self.xdg_surface, w.XDG_SURFACE_ACK_CONFIGURE,
			                      w.uint(self._serial))

	def _on_popup(self, ev):
		if ev.opcode == POPUP_EV_CONFIGURE:
			self.configured = struct.unpack_from("=iiii", ev.payload, 0)
		elif ev.opcode == POPUP_EV_DONE:
			self.done = True


# --- input on the host side (sway): a wlr virtual pointer --------------------------

VPOINTER_MANAGER_CREATE = 0
VPOINTER_MOTION_ABSOLUTE = 1
VPOINTER_BUTTON = 2
VPOINTER_FRAME = 4
BTN_LEFT = 0x110


class VirtualPointer:
	"""A zwlr_virtual_pointer_v1 on the compositor itself (not through a proxy):
	gives the headless seat a pointer, moved in absolute output coordinates."""

	def __init__(self, comp):
		self.comp = comp
		self.conn = w.connect(comp.display)
		manager = self.conn.bind_global("zwlr_virtual_pointer_manager_v1", 1)
		self.pointer = self.conn.new_id("zwlr_virtual_pointer_v1")
		self.conn.send(manager, VPOINTER_MANAGER_CREATE, w.obj(0), w.new_id(self.pointer))
		self.conn.roundtrip()
		self.time = 1000

	def _tick(self):
		self.time += 16
		return w.uint(self.time)

	def move_to(self, x, y):
		self.conn.send(self.pointer, VPOINTER_MOTION_ABSOLUTE, self._tick(), w.uint(x), w.uint(y),
		               w.uint(self.comp.width), w.uint(self.comp.height))
		self.conn.send(self.pointer, VPOINTER_FRAME)
		self.conn.roundtrip()

	def button(self, pressed, button=BTN_LEFT):
		self.conn.send(self.pointer, VPOINTER_BUTTON, self._tick(), w.uint(button),
		               w.uint(1 if pressed else 0))
		self.conn.send(self.pointer, VPOINTER_FRAME)
		self.conn.roundtrip()

	def close(self):
		self.conn.close()

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()


def wait_image(comp, check, what, timeout=10):
	"""Screenshots until check(img) returns no problems (a list of strings); returns
	the image. The compositor may show a transient state for a frame after a
	commit (sway once drew a new popup at the output's origin), so every
	screenshot check polls. Raises AssertionError with the last problems."""
	state = {"problems": ["no screenshot"]}

	def good():
		img = comp.image()
		state["problems"] = list(check(img))
		return img if not state["problems"] else None

	try:
		return comp.wait_for(good, timeout=timeout, what=what)
	except TimeoutError:
		problems = state["problems"]
		raise AssertionError("%s: still wrong after %ss; %d problems, e.g.:\n  %s" % (
			what, timeout, len(problems), "\n  ".join(problems[:12]))) from None


def pixel_problem(img, x, y, color, what):
	"""[] if the pixel (x, y) is color, else a one-item list saying what is wrong."""
	got = img.pixel(x, y)
	if got == tuple(color):
		return []
	return ["%s (%d,%d) is %r, expected %r" % (what, x, y, got, tuple(color))]
