"""A raw wl_shm client that paints frames the way real toolkits do, for
checking by pixel that what crosses the VM link is exactly what the client
drew: several buffers in turn, each commit damaging only what changed since
the surface's last frame, and every buffer kept equal to the picture outside
that damage (what the protocol asks; clients do it by copying from their last
buffer or redrawing). The test compares the screen with `picture`.

    p = Painter(client, "painter", 240, 160, buffers=3)
    p.fill_rect(10, 10, 50, 20, 0xFF00FF00)   # one frame: draw, damage, commit
    p.picture_pixel(x, y)                     # (r, g, b) the window must show
"""

import mmap
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "frames"))
import framelib as fl  # noqa: E402
import wlwire as w

SURFACE_SET_BUFFER_SCALE = 8
SURFACE_DAMAGE_BUFFER = 9
SURFACE_FRAME = 3


class Painter:
	def __init__(self, client, app_id, width, height, buffers=3, scale=1, one_pool=False,
	             background=0xFF404040):
		self.client = client
		self.conn = client.conn
		self.width, self.height, self.scale = width, height, scale
		self.stride = width * 4
		self.size = self.stride * height
		self.picture = bytearray(struct.pack("=I", background) * (width * height))
		self.frames = 0
		c = self.conn
		self.surface = client.surface()
		self.xdg_surface = c.new_id("xdg_surface")
		self.configured = False
		c.on(self.xdg_surface, self._on_xdg_surface)
		c.send(client.wm_base, w.WM_BASE_GET_XDG_SURFACE, w.new_id(self.xdg_surface),
		       w.obj(self.surface))
		self.toplevel = c.new_id("xdg_toplevel")
		c.on(self.toplevel, lambda ev: None)
		c.send(self.xdg_surface, w.XDG_SURFACE_GET_TOPLEVEL, w.new_id(self.toplevel))
		c.send(self.toplevel, w.XDG_TOPLEVEL_SET_APP_ID, w.string(app_id))
		if scale != 1:
			c.send(self.surface, SURFACE_SET_BUFFER_SCALE, w.int_(scale))
		c.send(self.surface, w.SURFACE_COMMIT)
		c.dispatch_until(lambda: self.configured, what="xdg_surface.configure")
		self.buffers = []
		if one_pool:
			fd = w.memfd(self.size * buffers)
			pool = c.new_id("wl_shm_pool")
			c.send(client.shm, w.SHM_CREATE_POOL, w.new_id(pool), w.int_(self.size * buffers),
			       fds=[fd])
			memory = mmap.mmap(fd, self.size * buffers)
			os.close(fd)
			for i in range(buffers):
				self.buffers.append(self._buffer(pool, memory, i * self.size))
			c.send(pool, w.SHM_POOL_DESTROY)
		else:
			for _ in range(buffers):
				fd = w.memfd(self.size)
				pool = c.new_id("wl_shm_pool")
				c.send(client.shm, w.SHM_CREATE_POOL, w.new_id(pool), w.int_(self.size),
				       fds=[fd])
				memory = mmap.mmap(fd, self.size)
				os.close(fd)
				self.buffers.append(self._buffer(pool, memory, 0))
				c.send(pool, w.SHM_POOL_DESTROY)
		self.next = 0
		# the first frame: everything
		self._frame([(0, 0, width, height)])

	def _buffer(self, pool, memory, offset):
		buf = self.conn.new_id("wl_buffer")
		entry = {"id": buf, "memory": memory, "offset": offset, "busy": False,
		         "stale": [(0, 0, self.width, self.height)]}
		self.conn.on(buf, lambda ev, e=entry: e.update(busy=False))
		self.conn.send(pool, w.SHM_POOL_CREATE_BUFFER, w.new_id(buf), w.int_(offset),
		               w.int_(self.width), w.int_(self.height), w.int_(self.stride),
		               w.uint(w.SHM_FORMAT_XRGB8888))
		return entry

	def _on_xdg_surface(self, ev):
		if ev.opcode == w.XDG_SURFACE_EV_CONFIGURE:
			self.conn.send(self.xdg_surface, w.XDG_SURFACE_ACK_CONFIGURE, w.uint(ev.uint(0)))
			self.configured = True

	def _take_buffer(self):
		"""The next buffer in turn that the compositor released (waits for one)."""
		for _ in range(2):
			for i in range(len(self.buffers)):
				entry = self.buffers[(self.next + i) % len(self.buffers)]
				if not entry["busy"]:
					self.next = (self.next + i + 1) % len(self.buffers)
					return entry
			self.conn.dispatch_until(lambda: any(not e["busy"] for e in self.buffers),
			                         timeout=10, what="a buffer released")
		raise AssertionError("no buffer released")

	def _copy_rect(self, entry, rect):
		x, y, width, height = rect
		base = entry["offset"]
		for row in range(y, y + height):
			start = row * self.stride + x * 4
			entry["memory"][base + start:base + start + width * 4] = \
				self.picture[start:start + width * 4]

	def _frame(self, damage):
		"""Brings the next buffer up to the picture (what changed since it was
		last used, and the damage) and commits it with that damage."""
		entry = self._take_buffer()
		for rect in entry["stale"] + damage:
			self._copy_rect(entry, rect)
		entry["stale"] = []
		for other in self.buffers:
			if other is not entry:
				other["stale"].extend(damage)
		entry["busy"] = True
		c = self.conn
		c.send(self.surface, w.SURFACE_ATTACH, w.obj(entry["id"]), w.int_(0), w.int_(0))
		for x, y, width, height in damage:
			c.send(self.surface, SURFACE_DAMAGE_BUFFER, w.int_(x), w.int_(y), w.int_(width),
			       w.int_(height))
		c.send(self.surface, w.SURFACE_COMMIT)
		self.frames += 1
		c.roundtrip()

	def fill_rect(self, x, y, width, height, color):
		"""One frame: a rectangle of color (0xAARRGGBB) in the picture."""
		x0, y0 = max(x, 0), max(y, 0)
		x1, y1 = min(x + width, self.width), min(y + height, self.height)
		if x1 <= x0 or y1 <= y0:
			return
		row = struct.pack("=I", color) * (x1 - x0)
		for yy in range(y0, y1):
			start = yy * self.stride + x0 * 4
			self.picture[start:start + len(row)] = row
		self._frame([(x0, y0, x1 - x0, y1 - y0)])

	def scroll(self, dy, fill):
		"""One frame: the picture moves up by dy rows, new rows of fill at the bottom;
		the whole picture is damaged (as a terminal does)."""
		keep = (self.height - dy) * self.stride
		self.picture[0:keep] = self.picture[dy * self.stride:]
		self.picture[keep:] = struct.pack("=I", fill) * (dy * self.width)
		self._frame([(0, 0, self.width, self.height)])

	def picture_pixel(self, x, y):
		return fl.rgb(struct.unpack_from("=I", self.picture, (y * self.width + x) * 4)[0])

	def mismatches(self, img, origin, step=1):
		"""Pixels of the window (at origin on the screen, buffer scale applied) that
		differ from the picture: a list of strings, the first 12."""
		wrong = []
		count = 0
		step = max(step, self.scale)
		for y in range(0, self.height, step):
			for x in range(0, self.width, step):
				want = self.picture_pixel(x, y)
				got = img.pixel(origin[0] + x // self.scale, origin[1] + y // self.scale)
				if got != want:
					count += 1
					if len(wrong) < 12:
						wrong.append("(%d,%d) is %r, the client drew %r" % (x, y, got, want))
		if count:
			wrong.insert(0, "%d pixels differ" % count)
		return wrong
