"""A small raw Wayland client for tests: exact wire bytes in, decoded events out.

    import wlwire as w
    c = w.Connection("/run/user/0/wayland-1")
    c.get_registry()
    c.roundtrip()                                   # fills c.globals (or: w.connect(path))
    comp = c.bind(c.global_name("wl_compositor"), "wl_compositor", 4)
    region = c.new_id("wl_region")
    c.send(comp, 1, w.new_id(region))               # wl_compositor.create_region
    c.send_raw(w.message(1, 7))                     # wl_display has no request 7
    c.send_raw(w.message(1, 0, size=4))             # a header that claims 4 bytes
    c.wait_disconnect()
    c.error                                         # (object, code, message) or None

Nothing is checked on the way out: a test can send any bytes and any fds. On
the way in, wl_display.error, wl_display.delete_id, wl_registry.global(_remove)
and wl_callback.done are decoded; every other event is kept raw (Event.payload)
for handlers registered with Connection.on(object_id, handler).

Opcodes are the index of a request or event within its interface, in the order
of the protocol XML (wayland.xml, xdg-shell.xml).
"""

import os
import select
import socket
import struct
import time

__all__ = [
	"uint", "int_", "fixed", "string", "array", "new_id", "obj", "untyped_new_id", "message",
	"Connection", "Event", "Disconnected", "ProtocolError", "Window",
	"DISPLAY_ERROR_INVALID_OBJECT", "DISPLAY_ERROR_INVALID_METHOD",
	"DISPLAY_ERROR_NO_MEMORY", "DISPLAY_ERROR_IMPLEMENTATION", "SERVER_ID_START",
	"SHM_FORMAT_ARGB8888", "SHM_FORMAT_XRGB8888", "memfd", "connect",
]

DISPLAY_ERROR_INVALID_OBJECT = 0
DISPLAY_ERROR_INVALID_METHOD = 1
DISPLAY_ERROR_NO_MEMORY = 2
DISPLAY_ERROR_IMPLEMENTATION = 3

SERVER_ID_START = 0xFF000000
MAX_MESSAGE_SIZE = 4096
SHM_FORMAT_ARGB8888 = 0
SHM_FORMAT_XRGB8888 = 1

# wl_display
DISPLAY_SYNC = 0
DISPLAY_GET_REGISTRY = 1
DISPLAY_EV_ERROR = 0
DISPLAY_EV_DELETE_ID = 1
# wl_registry
REGISTRY_BIND = 0
REGISTRY_EV_GLOBAL = 0
REGISTRY_EV_GLOBAL_REMOVE = 1
# wl_callback
CALLBACK_EV_DONE = 0


# --- argument encoders: each returns the argument's wire bytes ---

def uint(value):
	return struct.pack("=I", value & 0xFFFFFFFF)


def int_(value):
	return struct.pack("=i", value)


def fixed(value):
	return struct.pack("=i", int(round(value * 256.0)))


def _pad(data):
	return data + b"\0" * (-len(data) % 4)


def string(value):
	"""A string argument; None encodes the null string (length 0)."""
	if value is None:
		return uint(0)
	if isinstance(value, str):
		value = value.encode()
	data = value + b"\0"
	return uint(len(data)) + _pad(data)


def array(data):
	return uint(len(data)) + _pad(bytes(data))


def new_id(object_id):
	return uint(object_id)


def obj(object_id):
	"""An object argument; 0 is the null object."""
	return uint(object_id)


def untyped_new_id(interface, version, object_id):
	"""A new_id without an interface in the XML (wl_registry.bind)."""
	return string(interface) + uint(version) + uint(object_id)


def message(object_id, opcode, *args, size=None):
	"""Header plus the concatenated argument bytes; size overrides the header's size field."""
	payload = b"".join(args)
	if size is None:
		size = 8 + len(payload)
	return struct.pack("=II", object_id & 0xFFFFFFFF, ((size & 0xFFFF) << 16) | (opcode & 0xFFFF)) \
		+ payload


class Disconnected(Exception):
	"""The server closed the connection (EOF or ECONNRESET)."""


class ProtocolError(Exception):
	"""The server sent wl_display.error."""

	def __init__(self, error):
		self.error = error
		super().__init__("wl_display.error: object %d code %d: %s" % error)


class Event:
	"""One event: sender object id, opcode, argument bytes. Received fds are not
	matched to events; take them in order with Connection.take_fd()."""

	def __init__(self, object_id, opcode, payload):
		self.object_id = object_id
		self.opcode = opcode
		self.payload = payload

	def uint(self, index):
		return struct.unpack_from("=I", self.payload, 4 * index)[0]

	def int_(self, index):
		return struct.unpack_from("=i", self.payload, 4 * index)[0]

	def __repr__(self):
		return "Event(%d, %d, %r)" % (self.object_id, self.opcode, self.payload)


def decode_string(payload, offset):
	"""Returns (str or None, offset after the string)."""
	(length,) = struct.unpack_from("=I", payload, offset)
	offset += 4
	if length == 0:
		return None, offset
	data = payload[offset:offset + length]
	if len(data) != length or data[-1] != 0:
		raise ValueError("malformed string in event")
	return data[:-1].decode(errors="replace"), offset + length + (-length % 4)


class Connection:
	"""One raw client connection. Object ids are handed out from 2 upward."""

	def __init__(self, path, timeout=10.0):
		self.timeout = timeout
		self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
		try:
			self.sock.connect(path)
		except OSError:
			self.sock.close()
			raise
		self.sock.setblocking(False)
		self._in = b""
		self._in_fds = []
		self.closed = False
		self.error = None  # (object_id, code, message) once wl_display.error arrived
		self.deleted = []  # ids from wl_display.delete_id, in order
		self.globals = {}  # name -> (interface, version)
		self.registry = None
		self.next_id = 2
		self.interfaces = {1: "wl_display"}
		self.events = []  # events nobody handled, in order
		self._handlers = {}
		self._done = set()  # wl_callback ids that got done

	# --- ids and handlers ---

	def new_id(self, interface="?"):
		object_id = self.next_id
		self.next_id += 1
		self.interfaces[object_id] = interface
		return object_id

	def on(self, object_id, handler):
		"""handler(event) runs for every event on object_id (instead of queueing it)."""
		self._handlers[object_id] = handler

	# --- sending ---

	def send_raw(self, data, fds=()):
		"""Sends bytes (and fds in one SCM_RIGHTS message). Blocks until all is written."""
		if not isinstance(data, (bytes, bytearray)):
			data = bytes(data)
		view = memoryview(data)
		fds = list(fds)
		deadline = time.monotonic() + self.timeout
		while view or fds:
			try:
				if fds:
					n = socket.send_fds(self.sock, [view], fds)
					fds = []
				else:
					n = self.sock.send(view)
			except BlockingIOError:
				if time.monotonic() > deadline:
					raise TimeoutError("server does not read (send blocked %.0f s)" % self.timeout)
				self._wait(select.POLLOUT, 0.05)
				continue
			except (BrokenPipeError, ConnectionResetError) as e:
				# The server's last words (wl_display.error) may still be unread:
				# closed is set when reading reaches EOF.
				raise Disconnected(str(e)) from e
			view = view[n:]

	def try_send(self, data):
		"""One non-blocking send; returns the bytes written (0 when the socket is full)."""
		try:
			return self.sock.send(data)
		except BlockingIOError:
			return 0
		except (BrokenPipeError, ConnectionResetError) as e:
			raise Disconnected(str(e)) from e

	def send(self, object_id, opcode, *args, fds=()):
		self.send_raw(message(object_id, opcode, *args), fds)

	def shutdown_write(self):
		self.sock.shutdown(socket.SHUT_WR)

	def close(self):
		if self.sock is not None:
			self.sock.close()
			self.sock = None
		for fd in self._in_fds:
			os.close(fd)
		self._in_fds = []
		self.closed = True

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()

	def fileno(self):
		return self.sock.fileno()

	# --- receiving ---

	def _wait(self, events, timeout):
		poller = select.poll()
		poller.register(self.sock, events)
		return poller.poll(max(0, timeout) * 1000)

	def read_some(self, timeout=0.0):
		"""Reads what is available (waiting up to timeout); dispatches whole messages.

		Returns False once the connection is closed by the server."""
		if self.closed:
			return False
		if not self._wait(select.POLLIN, timeout):
			return True
		try:
			data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 253)
		except BlockingIOError:
			return True
		except ConnectionResetError:
			data, fds = b"", []
		self._in_fds.extend(fds)
		if not data:
			self.closed = True
			self._dispatch()
			return False
		self._in += data
		self._dispatch()
		return True

	def _dispatch(self):
		while len(self._in) >= 8:
			object_id, word = struct.unpack_from("=II", self._in, 0)
			size, opcode = word >> 16, word & 0xFFFF
			if size < 8 or size % 4:
				raise ValueError("server sent a bad message size %d" % size)
			if len(self._in) < size:
				break
			payload = self._in[8:size]
			self._in = self._in[size:]
			self._handle(Event(object_id, opcode, payload))

	def take_fd(self):
		"""Takes ownership of the oldest received fd (for events that carry one)."""
		return self._in_fds.pop(0)

	def _handle(self, ev):
		if ev.object_id == 1 and ev.opcode == DISPLAY_EV_ERROR:
			obj_id, code = struct.unpack_from("=II", ev.payload, 0)
			msg, _ = decode_string(ev.payload, 8)
			self.error = (obj_id, code, msg)
			return
		if ev.object_id == 1 and ev.opcode == DISPLAY_EV_DELETE_ID:
			self.deleted.append(ev.uint(0))
			return
		if ev.object_id == self.registry and ev.opcode == REGISTRY_EV_GLOBAL:
			name = ev.uint(0)
			interface, offset = decode_string(ev.payload, 4)
			(version,) = struct.unpack_from("=I", ev.payload, offset)
			self.globals[name] = (interface, version)
			return
		if ev.object_id == self.registry and ev.opcode == REGISTRY_EV_GLOBAL_REMOVE:
			self.globals.pop(ev.uint(0), None)
			return
		if self.interfaces.get(ev.object_id) == "wl_callback" and ev.opcode == CALLBACK_EV_DONE:
			self._done.add(ev.object_id)
			return
		handler = self._handlers.get(ev.object_id)
		if handler is not None:
			handler(ev)
		else:
			self.events.append(ev)

	def dispatch_until(self, predicate, timeout=None, what="condition"):
		"""Reads and dispatches until predicate() is true.

		Raises ProtocolError on wl_display.error, Disconnected on EOF and
		TimeoutError when nothing satisfies predicate within timeout."""
		timeout = self.timeout if timeout is None else timeout
		deadline = time.monotonic() + timeout
		while True:
			if self.error is not None:
				raise ProtocolError(self.error)
			if predicate():
				return
			if self.closed:
				raise Disconnected("server closed the connection while waiting for " + what)
			left = deadline - time.monotonic()
			if left <= 0:
				raise TimeoutError("no %s within %.1f s" % (what, timeout))
			self.read_some(min(left, 0.5))

	def sync(self):
		"""Sends wl_display.sync; returns the callback id."""
		callback = self.new_id("wl_callback")
		self.send(1, DISPLAY_SYNC, new_id(callback))
		return callback

	def roundtrip(self, timeout=None):
		callback = self.sync()
		self.dispatch_until(lambda: callback in self._done, timeout, "wl_callback.done")
		self._done.discard(callback)

	def wait_disconnect(self, timeout=None):
		"""Reads (keeping the error, if any) until the server closes the connection.

		Returns True on disconnect, False if the connection is still open after timeout."""
		timeout = self.timeout if timeout is None else timeout
		deadline = time.monotonic() + timeout
		while not self.closed:
			left = deadline - time.monotonic()
			if left <= 0:
				return False
			try:
				self.read_some(min(left, 0.5))
			except ValueError:
				# garbage from the server: treat as broken, drop the rest
				self._in = b""
		return True

	# --- registry ---

	def get_registry(self):
		self.registry = self.new_id("wl_registry")
		self.send(1, DISPLAY_GET_REGISTRY, new_id(self.registry))
		return self.registry

	def global_name(self, interface):
		for name, (iface, _version) in self.globals.items():
			if iface == interface:
				return name
		return None

	def bind(self, name, interface, version):
		"""wl_registry.bind; returns the new object id (nothing checked)."""
		object_id = self.new_id(interface)
		self.send(self.registry, REGISTRY_BIND, uint(name), untyped_new_id(interface, version,
			object_id))
		return object_id

	def bind_global(self, interface, version=None):
		"""Binds the advertised global named interface (at its version, or less)."""
		name = self.global_name(interface)
		if name is None:
			raise LookupError("no global %s advertised" % interface)
		advertised = self.globals[name][1]
		return self.bind(name, interface, advertised if version is None else min(version,
			advertised))


def connect(path, timeout=10.0):
	"""Connects, gets the registry and round-trips once (globals are known)."""
	conn = Connection(path, timeout)
	conn.get_registry()
	conn.roundtrip()
	return conn


# --- a well-behaved client that maps a real xdg_toplevel with an shm buffer ---

# opcodes (request index in the XML)
COMPOSITOR_CREATE_SURFACE = 0
COMPOSITOR_CREATE_REGION = 1
SHM_CREATE_POOL = 0
SHM_POOL_CREATE_BUFFER = 0
SHM_POOL_DESTROY = 1
SHM_POOL_RESIZE = 2
BUFFER_DESTROY = 0
SURFACE_DESTROY = 0
SURFACE_ATTACH = 1
SURFACE_DAMAGE = 2
SURFACE_COMMIT = 6
REGION_DESTROY = 0
REGION_ADD = 1
WM_BASE_GET_XDG_SURFACE = 2
WM_BASE_PONG = 3
WM_BASE_EV_PING = 0
XDG_SURFACE_GET_TOPLEVEL = 1
XDG_SURFACE_ACK_CONFIGURE = 4
XDG_SURFACE_EV_CONFIGURE = 0
XDG_TOPLEVEL_SET_TITLE = 2
XDG_TOPLEVEL_SET_APP_ID = 3


def memfd(size, fill=None):
	"""A memfd of size bytes (CLOEXEC), optionally filled with a repeated 4-byte pixel."""
	fd = os.memfd_create("wlwire-shm", os.MFD_CLOEXEC)
	os.ftruncate(fd, size)
	if fill is not None and size:
		os.pwrite(fd, fill * (size // len(fill)), 0)
	return fd


class Window:
	"""Maps a width x height xdg_toplevel with app_id, answering pings, until closed.

	Call pump() now and then (or roundtrip()) so pings get answered."""

	def __init__(self, path, app_id, width=200, height=150, title=None, color=0xFF2080C0):
		self.conn = connect(path)
		c = self.conn
		self.app_id = app_id
		self.configured = False
		self.compositor = c.bind_global("wl_compositor", 4)
		self.shm = c.bind_global("wl_shm", 1)
		self.wm_base = c.bind_global("xdg_wm_base", 1)
		c.on(self.wm_base, self._on_wm_base)
		c.on(self.shm, lambda ev: None)  # wl_shm.format

		stride = width * 4
		size = stride * height
		fd = memfd(size, struct.pack("=I", color))
		self.pool = c.new_id("wl_shm_pool")
		c.send(self.shm, SHM_CREATE_POOL, new_id(self.pool), int_(size), fds=[fd])
		os.close(fd)
		self.buffer = c.new_id("wl_buffer")
		c.on(self.buffer, lambda ev: None)  # wl_buffer.release
		c.send(self.pool, SHM_POOL_CREATE_BUFFER, new_id(self.buffer), int_(0), int_(width),
			int_(height), int_(stride), uint(SHM_FORMAT_XRGB8888))

		self.surface = c.new_id("wl_surface")
		c.on(self.surface, lambda ev: None)  # enter/leave
		c.send(self.compositor, COMPOSITOR_CREATE_SURFACE, new_id(self.surface))
		self.xdg_surface = c.new_id("xdg_surface")
		c.on(self.xdg_surface, self._on_xdg_surface)
		c.send(self.wm_base, WM_BASE_GET_XDG_SURFACE, new_id(self.xdg_surface),
			obj(self.surface))
		self.toplevel = c.new_id("xdg_toplevel")
		c.on(self.toplevel, lambda ev: None)  # configure/close: size is ours to choose
		c.send(self.xdg_surface, XDG_SURFACE_GET_TOPLEVEL, new_id(self.toplevel))
		c.send(self.toplevel, XDG_TOPLEVEL_SET_APP_ID, string(app_id))
		if title is not None:
			c.send(self.toplevel, XDG_TOPLEVEL_SET_TITLE, string(title))
		c.send(self.surface, SURFACE_COMMIT)
		c.dispatch_until(lambda: self.configured, what="xdg_surface.configure")
		c.send(self.surface, SURFACE_ATTACH, obj(self.buffer), int_(0), int_(0))
		c.send(self.surface, SURFACE_DAMAGE, int_(0), int_(0), int_(width), int_(height))
		c.send(self.surface, SURFACE_COMMIT)
		c.roundtrip()

	def _on_wm_base(self, ev):
		if ev.opcode == WM_BASE_EV_PING:
			self.conn.send(self.wm_base, WM_BASE_PONG, uint(ev.uint(0)))

	def _on_xdg_surface(self, ev):
		if ev.opcode == XDG_SURFACE_EV_CONFIGURE:
			self.conn.send(self.xdg_surface, XDG_SURFACE_ACK_CONFIGURE, uint(ev.uint(0)))
			self.configured = True

	def pump(self):
		"""Handles pending events without blocking; False once disconnected."""
		return self.conn.read_some(0)

	def roundtrip(self, timeout=None):
		self.conn.roundtrip(timeout)

	def close(self):
		self.conn.close()

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()
