#!/usr/bin/python3
"""Hostile and unusual clients against the VM frame, on headless sway.

Raw wire clients (framelib, on wlwire) try to cover the frame with their own
subsurfaces, go fullscreen, resize in a tight loop, draw shadows around their
window geometry, open popups and send titles and app_ids meant to deceive.
The screenshot must still show the VM's frame where the documentation puts
it, and sway must show the sanitized names.
"""

import contextlib
import os
import tempfile

import framelib as fl
import tap
import wlwire as w
from compositor import Sway
from proxy import Client, Proxy, default_policy

suite = tap.Suite()
HERE = os.path.dirname(os.path.abspath(__file__))
GTK_WINDOW = os.path.join(HERE, "gtk-window.py")
VM = "work"
GREEN = fl.COLORS["green"]
PREFIX = "[%s] " % VM
SURFACE_SET_BUFFER_SCALE = 8


class Bench:
	"""sway + one proxy (vm work, green) + one raw client connection."""

	def __init__(self, proxy_args=()):
		self.proxy_args = list(proxy_args)
		self._stack = None

	def __enter__(self):
		with contextlib.ExitStack() as stack:  # unwinds what was started if a step fails
			self.comp = stack.enter_context(Sway())
			self.proxy = stack.enter_context(Proxy(vm=VM, upstream=self.comp.display,
			                                       args=["--color", "green"] + self.proxy_args))
			self.client = stack.enter_context(fl.Client(self.proxy.socket))
			self._stack = stack.pop_all()
		return self

	def __exit__(self, *exc):
		return self._stack.__exit__(*exc)

	def window(self, app_id, width=300, height=200, color=fl.GREY, geometry=True, **kw):
		"""A mapped toplevel; geometry=True sets the window geometry to the buffer."""
		geom = (0, 0, width, height) if geometry is True else geometry
		return fl.Toplevel(self.client, app_id, width, height, color, geometry=geom, **kw)


def full_app_id(app_id):
	return "vmdesk.%s.%s" % (VM, app_id)


def sway_node(comp, app_id):
	"""The raw get_tree node of the view with this app_id."""
	def walk(node):
		if node.get("app_id") == app_id:
			return node
		for child in node.get("nodes", []) + node.get("floating_nodes", []):
			found = walk(child)
			if found is not None:
				return found
		return None
	return walk(comp.tree())


def pixel_is(img, x, y, color, what):
	got = img.pixel(x, y)
	assert got == tuple(color), "%s (%d,%d) is %r, expected %r" % (what, x, y, got, tuple(color))


# --- subsurfaces over the frame ---------------------------------------------------------

@suite.test
def test_subsurface_over_frame():
	with Bench() as b:
		top = b.window("cover", 300, 200)
		c = b.client
		win, _ = fl.wait_frame(b.comp, full_app_id("cover"), GREEN, size=fl.framed_size(300, 200))
		# a magenta subsurface over the whole frame and beyond, raised above its parent
		c.subsurface(top.surface, -12, -32, 324, 244, fl.MAGENTA, above=top.surface)
		top.commit()
		c.roundtrip()
		rect = win["rect"]
		# shown on the window (so this test can fail), cropped at the frame
		fl.wait_image(b.comp, lambda img: (
			fl.pixel_problem(img, rect["x"] + 50, rect["y"] + 50, fl.rgb(fl.MAGENTA),
			                 "subsurface on the window")
			+ (["the subsurface shows beyond the frame"] if img.pixel(
				rect["x"] - 5, rect["y"] - 5) == fl.rgb(fl.MAGENTA) else [])
			+ fl.frame_problems(img, rect, GREEN, inner=False)),
			"frame over a raised subsurface")

		# more: a second one on top, the first raised above it, a nested one
		second, _ = c.subsurface(top.surface, -8, -28, 316, 236, fl.CYAN)
		nested, nested_sub = c.subsurface(second, -20, -20, 400, 300, fl.WHITE_PIXEL)
		c.conn.send(nested_sub, fl.SUBSURFACE_PLACE_ABOVE, w.obj(second))
		c.commit(second)
		top.commit()
		c.roundtrip()
		fl.wait_image(b.comp, lambda img: (
			fl.pixel_problem(img, rect["x"] + 10, rect["y"] + 30, fl.rgb(fl.WHITE_PIXEL),
			                 "nested subsurface")
			+ (["the nested subsurface shows beyond the frame"] if img.pixel(
				rect["x"] - 10, rect["y"] - 10) == fl.rgb(fl.WHITE_PIXEL) else [])
			+ fl.frame_problems(img, rect, GREEN, inner=False)),
			"frame over three raised subsurfaces")
		b.proxy.check_alive()


@suite.test
def test_subsurface_reordered_above_sibling():
	with Bench() as b:
		top = b.window("reorder", 300, 200)
		c = b.client
		win, _ = fl.wait_frame(b.comp, full_app_id("reorder"), GREEN, size=fl.framed_size(300, 200))
		low, low_sub = c.subsurface(top.surface, -10, -30, 320, 240, fl.MAGENTA)
		high, high_sub = c.subsurface(top.surface, 10, 10, 50, 50, fl.CYAN)
		# the first one goes above the newest sibling: the top of the client's stack
		c.conn.send(low_sub, fl.SUBSURFACE_PLACE_ABOVE, w.obj(high))
		top.commit()
		c.roundtrip()
		rect = win["rect"]
		fl.wait_image(b.comp, lambda img: (
			fl.pixel_problem(img, rect["x"] + 20, rect["y"] + 40, fl.rgb(fl.MAGENTA),
			                 "the reordered subsurface (above its sibling)")
			+ fl.frame_problems(img, rect, GREEN)), "frame under a reordered subsurface")


# --- fullscreen -------------------------------------------------------------------------

def request_fullscreen(b, top):
	top.request(fl.TOPLEVEL_SET_FULLSCREEN, w.obj(0))
	top.commit()
	b.client.roundtrip()
	b.client.roundtrip()


@suite.test
def test_fullscreen_keeps_the_frame():
	with Bench() as b:
		top = b.window("fs", 300, 200)
		request_fullscreen(b, top)
		width, height, states = top.wait_configure(
			lambda w_, h_, s: fl.STATE_FULLSCREEN in s, "a fullscreen configure")
		# the output less the frame
		assert (width, height) == (b.comp.width - 2 * fl.BORDER,
		                           b.comp.height - fl.TITLE - fl.BORDER), \
			"fullscreen configure %dx%d on a %dx%d output" % (width, height, b.comp.width,
			                                                  b.comp.height)
		top.resize(width, height, fl.GREY, geometry=(0, 0, width, height))
		b.client.roundtrip()
		b.comp.wait_for(lambda: sway_node(b.comp, full_app_id("fs"))["fullscreen_mode"] == 1,
		                what="sway to show the window fullscreen")
		screen = {"x": 0, "y": 0, "width": b.comp.width, "height": b.comp.height}
		fl.wait_image(b.comp, lambda img: fl.frame_problems(img, screen, GREEN, outer=False),
		              "the frame around the whole output")
		top.request(fl.TOPLEVEL_UNSET_FULLSCREEN)
		top.commit()
		width, height, states = top.wait_configure(
			lambda w_, h_, s: fl.STATE_FULLSCREEN not in s, "a configure without fullscreen")
		width, height = (width or 300), (height or 200)
		top.resize(width, height, fl.GREY, geometry=(0, 0, width, height))
		b.client.roundtrip()
		fl.wait_frame(b.comp, full_app_id("fs"), GREEN, size=fl.framed_size(width, height))


def policy_allowing_fullscreen(directory):
	with open(default_policy()) as f:
		text = f.read()
	assert "\nset fullscreen deny" in text, "the default policy no longer sets fullscreen deny"
	path = os.path.join(directory, "fullscreen.policy")
	with open(path, "w") as f:
		f.write(text.replace("\nset fullscreen deny", "\nset fullscreen allow"))
	return path


def count_color(img, color, step=8):
	"""Number of sampled pixels (every step-th column and row) of exactly color."""
	color = tuple(color)
	return sum(1 for y in range(0, img.height, step) for x in range(0, img.width, step)
	           if img.pixel(x, y) == color)


@suite.test
def test_fullscreen_allowed_by_policy():
	with tempfile.TemporaryDirectory() as tmp, \
			Bench(["--policy", policy_allowing_fullscreen(tmp)]) as b:
		top = b.window("fs", 300, 200)
		fl.wait_frame(b.comp, full_app_id("fs"), GREEN, size=fl.framed_size(300, 200))
		request_fullscreen(b, top)
		width, height, states = top.wait_configure(
			lambda w_, h_, s: fl.STATE_FULLSCREEN in s, "a fullscreen configure")
		assert (width, height) == (b.comp.width, b.comp.height), \
			"fullscreen configure %dx%d, the output is %dx%d" % (width, height, b.comp.width,
			                                                     b.comp.height)
		top.resize(width, height, fl.GREY, geometry=(0, 0, width, height))
		b.client.roundtrip()
		b.comp.wait_for(lambda: sway_node(b.comp, full_app_id("fs"))["fullscreen_mode"] == 1,
		                what="sway to show the window fullscreen")
		# fullscreen: the client's pixels everywhere (sampled every 4 px), no frame
		b.comp.wait_for(lambda: b.comp.image().count_not(fl.rgb(fl.GREY)) == 0,
		                what="the fullscreen window's grey, and no frame, all over the screen")
		# and back: the frame returns
		top.request(fl.TOPLEVEL_UNSET_FULLSCREEN)
		top.commit()
		width, height, states = top.wait_configure(
			lambda w_, h_, s: fl.STATE_FULLSCREEN not in s, "a configure without fullscreen")
		width, height = (width or 300), (height or 200)
		top.resize(width, height, fl.GREY, geometry=(0, 0, width, height))
		b.client.roundtrip()
		fl.wait_frame(b.comp, full_app_id("fs"), GREEN, size=fl.framed_size(width, height))


# --- sizes ---------------------------------------------------------------------------------

def loop_sizes(count):
	return [(100 + (i * 37) % 301, 80 + (i * 53) % 211) for i in range(count)]


@suite.test
def test_resize_loop_with_geometry():
	with Bench() as b:
		top = b.window("loop", 300, 200)
		for width, height in loop_sizes(200):
			top.resize(width, height, fl.GREY, geometry=(0, 0, width, height))
			b.client.conn.read_some(0)  # answer pings, drop releases
		b.client.roundtrip()
		width, height = loop_sizes(200)[-1]
		win, _ = fl.wait_frame(b.comp, full_app_id("loop"), GREEN, size=fl.framed_size(width,
		                                                                                height))
		tap.diag("after 200 resizes: %dx%d, rect %r" % (width, height, win["rect"]))
		b.proxy.check_alive()


@suite.test
def test_resize_loop_without_geometry():
	with Bench() as b:
		top = b.window("loop", 300, 200, geometry=None)
		for width, height in loop_sizes(200)[::-1]:
			top.resize(width, height, fl.GREY)
			b.client.conn.read_some(0)
		b.client.roundtrip()
		width, height = loop_sizes(200)[0]
		win, _ = fl.wait_frame(b.comp, full_app_id("loop"), GREEN, size=fl.framed_size(width,
		                                                                                height))
		tap.diag("after 200 resizes: %dx%d, rect %r" % (width, height, win["rect"]))
		b.proxy.check_alive()


@suite.test
def test_frame_on_geometry_shadow_cropped():
	# a 360x260 buffer whose window geometry is the 300x200 at (30, 20): the
	# rest is "shadow", cropped away (as on Qubes)
	with Bench() as b:
		b.window("shadow", 360, 260, color=fl.MAGENTA, geometry=(30, 20, 300, 200))
		win, img = fl.wait_frame(b.comp, full_app_id("shadow"), GREEN,
		                         size=fl.framed_size(300, 200), inner=False)
		rect = win["rect"]
		for x, y, what in [(rect["x"] - 1, rect["y"] + 100, "left of the frame"),
		                   (rect["x"] + rect["width"], rect["y"] + 100, "right of the frame"),
		                   (rect["x"] + 100, rect["y"] + rect["height"], "below the frame")]:
			assert img.pixel(x, y) != fl.rgb(fl.MAGENTA), "shadow %s (%d,%d)" % (what, x, y)
		pixel_is(img, rect["x"] + 10, rect["y"] + 40, fl.rgb(fl.MAGENTA), "the window")


@suite.test
def test_geometry_change_moves_frame():
	# same buffer, a smaller window geometry: the frame moves in with it
	with Bench() as b:
		top = b.window("geom", 360, 260, color=fl.MAGENTA)
		fl.wait_frame(b.comp, full_app_id("geom"), GREEN, size=fl.framed_size(360, 260))
		top.set_geometry(30, 20, 300, 200)
		top.commit()
		b.client.roundtrip()
		fl.wait_frame(b.comp, full_app_id("geom"), GREEN, size=fl.framed_size(300, 200),
		              outer=False, inner=False)


@suite.test
def test_buffer_scale_2():
	# a 600x400 buffer at scale 2 is a 300x200 surface
	with Bench() as b:
		def scale_2(top):
			b.client.conn.send(top.surface, SURFACE_SET_BUFFER_SCALE, w.int_(2))
		b.window("scaled", 600, 400, geometry=None, before_map=scale_2)
		fl.wait_frame(b.comp, full_app_id("scaled"), GREEN, size=fl.framed_size(300, 200))


@suite.test
def test_unmap_removes_frame():
	with Bench() as b:
		top = b.window("remap", 300, 200)
		fl.wait_frame(b.comp, full_app_id("remap"), GREEN, size=fl.framed_size(300, 200))
		c = b.client
		# unmap: a NULL buffer; the window and its frame go
		c.conn.send(top.surface, w.SURFACE_ATTACH, w.obj(0), w.int_(0), w.int_(0))
		top.commit()
		c.roundtrip()
		b.comp.wait_for(lambda: fl.find_window(b.comp, full_app_id("remap")) is None,
		                what="the window to be unmapped")
		fl.wait_image(b.comp, lambda img: ["%d frame pixels" % n for n in [count_color(
			img, GREEN, step=2)] if n], "no frame pixels left after the unmap")
		b.proxy.check_alive()
		# (a remap is not tested: sway 1.7 sends no configure after an unmap)


@suite.test
def test_size_kept_without_window_geometry():
	# A client that never sets a window geometry and takes the size sway
	# suggests must keep the size it mapped with: sway's first configure is
	# the mapped size, which reaches the client reduced by the frame.
	with Bench() as b:
		top = b.window("nogeom", 300, 200, geometry=None)
		# sway configures a mapped floating window with its size (and "activated")
		width, height, _ = top.wait_configure(lambda w_, h_, s: w_ > 0 and h_ > 0,
		                                      "a configure with a size after the map")
		if (width, height) != (top.width, top.height):
			top.resize(width, height, fl.GREY)
		b.client.roundtrip()
		tap.diag("configures %r" % (top.configures,))
		win = fl.find_window(b.comp, full_app_id("nogeom"))
		assert (top.width, top.height) == (300, 200), (
			"the window shrank from 300x200 to %dx%d following sway's configures %r "
			"(sway's rect %r): the compositor saw the geometry without the frame" % (
				top.width, top.height, top.configures, win["rect"]))
		fl.wait_frame(b.comp, full_app_id("nogeom"), GREEN, size=fl.framed_size(300, 200))


# --- titles and app_ids ----------------------------------------------------------------------

ELLIPSIS = "\u2026"
TITLE_CASES = [
	# (what, title sent as bytes, title sway must show)
	("plain", b"hello", PREFIX + "hello"),
	("escape sequences", b"\x1b]0;evil\x07\x1b[31mred\x1b[0m", PREFIX + "]0;evil[31mred[0m"),
	("bidi override", "abc\u202egnp.exe\u202c".encode(), PREFIX + "abcgnp.exe"),
	("bidi isolates and marks", "\u2067x\u2069 \u200fy\u200e".encode(), PREFIX + "x y"),
	("invisible characters", "a\u200bb\ufeffc\u00ad\U000e0041".encode(), PREFIX + "abc"),
	("invalid UTF-8", b"ho\xffst \xc3( \xed\xa0\x80end \xc3", PREFIX + "ho\ufffdst \ufffd( \ufffdend \ufffd"),
	("leading [host]", b"[host] root terminal", PREFIX + "[host] root terminal"),
	("other VM's name", b"[banking] Online banking", PREFIX + "[banking] Online banking"),
	("zero-width then [host]", "\u200b\u2066[host]".encode(), PREFIX + "[host]"),
	("whitespace", b"  lots \t of\n\n space \r", PREFIX + "lots of space"),
	("empty", b"", "[%s]" % VM),
	("only controls", "\x1b\x07\u202e\u200b".encode(), "[%s]" % VM),
	("4000 ASCII characters", b"a" * 4000, PREFIX + "a" * 253 + ELLIPSIS),
	("2000 two-byte characters", "\u00e9".encode() * 2000, PREFIX + "\u00e9" * 126 + ELLIPSIS),
	("1000 four-byte characters", "\U0001f600".encode() * 1000,
	 PREFIX + "\U0001f600" * 63 + ELLIPSIS),
]


def wait_title(comp, app_id, expected):
	state = {}

	def shown():
		win = fl.find_window(comp, app_id)
		state["name"] = win and win["name"]
		return win is not None and win["name"] == expected
	try:
		comp.wait_for(shown, timeout=5, what="title %r" % expected)
	except TimeoutError:
		raise AssertionError("sway shows title %r, expected %r" % (state.get("name"),
		                                                            expected)) from None


@suite.test
def test_titles_sanitized():
	with Bench() as b:
		top = b.window("titles", 300, 200)
		failures = []
		for what, sent, expected in TITLE_CASES:
			top.set_title(sent)
			top.commit()
			b.client.roundtrip()
			try:
				wait_title(b.comp, full_app_id("titles"), expected)
			except AssertionError as e:
				failures.append("%s: %s" % (what, e))
		assert not failures, "\n".join(failures)
		b.proxy.check_alive()


@suite.test
def test_title_strip_redrawn():
	with Bench() as b:
		top = b.window("strip", 400, 200, title="a")
		win, img = fl.wait_frame(b.comp, full_app_id("strip"), GREEN, size=fl.framed_size(400, 200))
		short = fl.text_pixels(img, win["rect"], fl.BLACK)
		top.set_title("a much longer title that fills the strip")
		top.commit()
		b.client.roundtrip()

		def longer():
			img = b.comp.image()
			return fl.text_pixels(img, win["rect"], fl.BLACK) > short + 100
		b.comp.wait_for(longer, timeout=5, what="the title strip to show the longer title")


def title_strip(b, app_id, title):
	"""The title strip's pixels once it shows title (after a first title "a")."""
	top = b.window(app_id, 400, 200, title="a")
	win, img = fl.wait_frame(b.comp, full_app_id(app_id), GREEN, size=fl.framed_size(400, 200))
	rect = win["rect"]
	before = fl.text_pixels(img, rect, fl.BLACK)
	top.set_title(title)
	top.commit()
	b.client.roundtrip()
	state = {}

	def redrawn():
		img = b.comp.image()
		count = fl.text_pixels(img, rect, fl.BLACK)
		# drawn, and the same in two shots in a row: not caught mid-update
		done = count > before + 50 and state.get("count") == count
		state.update(count=count, img=img)
		return done
	b.comp.wait_for(redrawn, timeout=10, what="the title strip to show %r" % title)
	img = state["img"]
	return [img.pixel(x, y) for y in range(rect["y"], rect["y"] + fl.TITLE)
	        for x in range(rect["x"], rect["x"] + rect["width"])]


@suite.test
def test_title_in_a_new_script_under_the_sandbox():
	# A title in a script no loaded font has makes fontconfig open a fallback
	# font after startup, under the proxy's Landlock rules (reads only where
	# fontconfig reads): the strip must be the one drawn with no sandbox at all,
	# not boxes (the quickstart installs a CJK font).
	title = "\u6f22\u5b57 \u304b\u306a \ud55c\uae00"
	strips = {}
	for mode in ("enforce", "off"):
		with Bench(proxy_args=["--seccomp", mode]) as b:
			strips[mode] = title_strip(b, "script-" + mode, title)
			b.proxy.check_alive()
	differ = sum(1 for a, c in zip(strips["enforce"], strips["off"]) if a != c)
	assert differ == 0, "the sandboxed proxy drew the title otherwise: %d of %d pixels " \
		"differ" % (differ, len(strips["off"]))


@suite.test
def test_title_too_long_for_a_message():
	# 10,000 bytes do not fit a Wayland message (4096 bytes): the proxy must
	# refuse it like a compositor would, and stay up for its other windows
	with Bench() as b:
		b.window("bystander", 300, 200, title="fine")
		with fl.Client(b.proxy.socket) as evil:
			top = fl.Toplevel(evil, "evil", 200, 100, geometry=(0, 0, 200, 100))
			top.set_title(b"x" * 10000)
			try:
				evil.roundtrip()
			except (w.ProtocolError, w.Disconnected):
				pass
			assert evil.conn.wait_disconnect(), "the proxy kept a client that sent 10 KB titles"
			tap.diag("wl_display.error: %r" % (evil.conn.error,))
		b.proxy.wait_log(r"vm=work pid=\d+ protocol error")
		b.proxy.check_alive()
		b.client.roundtrip()
		wait_title(b.comp, full_app_id("bystander"), PREFIX + "fine")
		for win in b.comp.windows():
			assert len(win["name"].encode()) <= len(PREFIX) + fl.TITLE_MAX_BYTES, win["name"]


@suite.test
def test_gtk_title_of_10000_characters():
	# GTK cuts titles to what fits a message; the proxy to 256 bytes
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display, args=["--color", "green"]) as p, \
			Client(["/usr/bin/python3", GTK_WINDOW, "gtktitle", "300", "200", "@10000"],
			       env=p.env(comp, NO_AT_BRIDGE=1, GTK_A11Y="none", GDK_BACKEND="wayland")):
		fl.wait_frame(comp, full_app_id("gtktitle"), GREEN)
		wait_title(comp, full_app_id("gtktitle"), PREFIX + "x" * 253 + ELLIPSIS)


APP_ID_CASES = [
	("../evil app/\u00e9", "vmdesk.work..._evil_app__"),
	("banking.x", "vmdesk.work.banking.x"),
	("org.host\x1b[0m", "vmdesk.work.org.host__0m"),
]


@suite.test
def test_app_ids_prefixed():
	with Bench() as b:
		for sent, expected in APP_ID_CASES:
			b.window(sent, 120, 80)
			b.comp.wait_for(lambda: fl.find_window(b.comp, expected), timeout=5,
			                what="app_id %r (windows: %r)" % (
				                expected, [x["app_id"] for x in b.comp.windows()]))


# --- popups ----------------------------------------------------------------------------------

def find_color_box(img, color, rect=None):
	"""(x, y, w, h) bounding box of the pixels of exactly color (in rect), or None."""
	x0, y0, width, height = rect or (0, 0, img.width, img.height)
	xs, ys = [], []
	for y in range(max(0, y0), min(img.height, y0 + height)):
		for x in range(max(0, x0), min(img.width, x0 + width)):
			if img.pixel(x, y) == tuple(color):
				xs.append(x)
				ys.append(y)
	if not xs:
		return None
	return (min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1)


def around(rect, margin=60):
	return (rect["x"] - margin, rect["y"] - margin, rect["width"] + 2 * margin,
	        rect["height"] + 2 * margin)


def popup_bench(b):
	top = b.window("menu", 300, 200)
	win, _ = fl.wait_frame(b.comp, full_app_id("menu"), GREEN, size=fl.framed_size(300, 200))
	popup = fl.Popup(b.client, top.xdg_surface, 20, 30, 100, 50, fl.CYAN)
	b.client.roundtrip()
	return win, popup


def popup_box_problems(img, win, found):
	"""Finds the popup's cyan 100x50 near the window (into found["box"]) and checks
	its 2 px border."""
	box = find_color_box(img, fl.rgb(fl.CYAN), around(win["rect"]))
	found["box"] = box
	if box is None:
		return ["the popup is not on screen"]
	if box[2:] != (100, 50):
		return ["popup shows %dx%d at %r, not 100x50" % (box[2], box[3], box[:2])]
	framed = {"x": box[0] - fl.POPUP_BORDER, "y": box[1] - fl.POPUP_BORDER,
	          "width": box[2] + 2 * fl.POPUP_BORDER, "height": box[3] + 2 * fl.POPUP_BORDER}
	return fl.frame_problems(img, framed, GREEN, border=fl.POPUP_BORDER,
	                         title=fl.POPUP_BORDER, text_free=False)


@suite.test
def test_popup_border():
	with Bench() as b:
		win, popup = popup_bench(b)
		found = {}
		fl.wait_image(b.comp, lambda img: popup_box_problems(img, win, found),
		              "a 2 px border around the popup")
		tap.diag("popup at %r, configure %r, parent %r" % (found["box"], popup.configured,
		                                                    win["rect"]))


@suite.test
def test_popup_where_the_client_put_it():
	# xdg_positioner's anchor rect is relative to the parent's window
	# geometry: (20, 30) of the client's own geometry, inside the frame
	with Bench() as b:
		win, popup = popup_bench(b)
		content = fl.content_rect(win["rect"])
		expected = (content["x"] + 20, content["y"] + 30)
		assert popup.configured[:2] == (20, 30), "xdg_popup.configure says %r, asked (20, 30)" % (
			popup.configured,)
		found = {}

		def placed(img):
			problems = popup_box_problems(img, win, found)
			if not problems and found["box"][:2] != expected:
				problems = ["popup at %r on screen, expected %r = the parent's window geometry "
				            "%r + (20, 30); xdg_popup.configure said %r" % (
					            found["box"][:2], expected, content, popup.configured)]
			return problems
		fl.wait_image(b.comp, placed, "the popup where the client put it", timeout=5)


@suite.test
def test_popup_border_above_its_subsurface():
	with Bench() as b:
		win, popup = popup_bench(b)
		found = {}
		fl.wait_image(b.comp, lambda img: popup_box_problems(img, win, found), "the popup")
		box = found["box"]
		c = b.client
		c.subsurface(popup.surface, -6, -6, 112, 62, fl.MAGENTA, above=popup.surface)
		c.commit(popup.surface)
		c.roundtrip()
		framed = {"x": box[0] - fl.POPUP_BORDER, "y": box[1] - fl.POPUP_BORDER,
		          "width": box[2] + 2 * fl.POPUP_BORDER, "height": box[3] + 2 * fl.POPUP_BORDER}
		fl.wait_image(b.comp, lambda img: (
			fl.pixel_problem(img, box[0] + 10, box[1] + 10, fl.rgb(fl.MAGENTA),
			                 "the popup's subsurface")
			+ (["the popup's subsurface shows beyond its border"] if img.pixel(
				framed["x"] - 2, framed["y"] - 2) == fl.rgb(fl.MAGENTA) else [])
			+ fl.frame_problems(img, framed, GREEN, border=fl.POPUP_BORDER,
			                    title=fl.POPUP_BORDER, text_free=False, inner=False)),
			"the popup's border above its raised subsurface, cropped")

if __name__ == "__main__":
	suite.run()
