#!/usr/bin/python3
"""VM frames on headless weston (desktop-shell, screenshots by weston-screenshooter).

weston tells no window positions, so the frame is found as the bounding box
of the VM color's pixels; its size must be the client's window geometry plus
the documented frame, and the frame must be whole on all four sides.
"""

import framelib as fl
import tap
from compositor import Weston
from proxy import Client, Proxy

suite = tap.Suite()
COLOR = "blue"  # Qubes blue: far from weston's own colors and from the clients'


def color_box(img, color, step=1):
	"""{x, y, width, height} bounding the pixels of exactly color, or None."""
	color = tuple(color)
	xs, ys = [], []
	for y in range(0, img.height, step):
		for x in range(0, img.width, step):
			if img.pixel(x, y) == color:
				xs.append(x)
				ys.append(y)
	if not xs:
		return None
	return {"x": min(xs), "y": min(ys), "width": max(xs) - min(xs) + 1,
	        "height": max(ys) - min(ys) + 1}


def wait_framed(comp, size, inner=True):
	"""Waits until the screenshot shows a whole frame of size (w, h); returns the rect."""
	state = {}

	def framed():
		img = comp.image()
		box = color_box(img, fl.COLORS[COLOR])
		state["box"] = box
		if box is None or (box["width"], box["height"]) != tuple(size):
			state["problems"] = ["frame box %r, expected size %r" % (box, size)]
			return False
		state["problems"] = fl.frame_problems(img, box, fl.COLORS[COLOR], inner=inner)
		return not state["problems"]

	try:
		comp.wait_for(framed, timeout=15, what="a framed window")
	except TimeoutError:
		raise AssertionError("no whole frame of %r on weston: %s" % (
			size, "\n  ".join((state.get("problems") or ["no screenshot"])[:12]))) from None
	return state["box"]


@suite.test
def test_raw_window_framed_on_weston():
	with Weston(debug=True) as comp, Proxy(vm="work", upstream=comp.display,
	                                       args=["--color", COLOR]) as p:
		with fl.Client(p.socket) as client:
			fl.Toplevel(client, "raw", 300, 200, fl.GREY, title="on weston",
			            geometry=(0, 0, 300, 200))
			box = wait_framed(comp, fl.framed_size(300, 200))
			tap.diag("frame at %r" % (box,))
			p.check_alive()


@suite.test
def test_weston_simple_shm_framed():
	# 250 x 250, no window geometry: the surface size is the geometry
	with Weston(debug=True) as comp, Proxy(vm="work", upstream=comp.display,
	                                       args=["--color", COLOR]) as p, \
			Client(["weston-simple-shm"], env=p.env(comp)):
		box = wait_framed(comp, fl.framed_size(250, 250), inner=False)
		tap.diag("frame at %r" % (box,))
		p.check_alive()


@suite.test
def test_weston_terminal_framed_on_weston():
	with Weston(debug=True) as comp, Proxy(vm="work", upstream=comp.display,
	                                       args=["--color", COLOR]) as p, \
			Client(["weston-terminal"], env=p.env(comp)):
		# its size depends on the font: any whole frame of a plausible size
		state = {}

		def framed():
			img = comp.image()
			box = color_box(img, fl.COLORS[COLOR])
			state["box"] = box
			if box is None or box["width"] < 200 or box["height"] < 100:
				return False
			state["problems"] = fl.frame_problems(img, box, fl.COLORS[COLOR])
			return not state["problems"]
		try:
			comp.wait_for(framed, timeout=15, what="weston-terminal's frame")
		except TimeoutError:
			raise AssertionError("weston-terminal frame %r: %s" % (
				state.get("box"), "\n  ".join(state.get("problems", [])[:12]))) from None
		tap.diag("frame at %r" % (state["box"],))
		p.check_alive()


@suite.test
def test_crop_shows_the_geometry_on_weston():
	# weston honours a viewport's source offset (sway 1.7's pixman renderer
	# does not): a 360x260 buffer, its 300x200 window geometry at (30, 20)
	# cyan and the "shadow" around it magenta; only the cyan shows, framed
	import forgery
	with Weston(debug=True) as comp, Proxy(vm="work", upstream=comp.display,
	                                       args=["--color", COLOR]) as p:
		with fl.Client(p.socket) as client:
			rows = [[(0, 255, 255) if 30 <= x < 330 and 20 <= y < 220 else (255, 0, 255)
			         for x in range(360)] for y in range(260)]
			top = fl.Toplevel(client, "crop", 360, 260, fl.GREY, geometry=(30, 20, 300, 200))
			client.attach(top.surface, forgery.pixel_buffer(client, 360, 260, rows), 360, 260)
			client.roundtrip()
			box = wait_framed(comp, fl.framed_size(300, 200), inner=False)
			img = comp.image()
			cyan = color_box(img, (0, 255, 255))
			assert color_box(img, (255, 0, 255)) is None, "the shadow shows"
			inner = fl.content_rect(box)
			assert cyan == inner, "the geometry shows at %r, the frame's inside is %r" % (
				cyan, inner)
			p.check_alive()


if __name__ == "__main__":
	suite.run()
