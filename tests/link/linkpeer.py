"""A link peer in raw frames (the generated Python codec, vdlink.py): a fake
guest bridge that vmdesk-proxy dials, or a fake host that dials
vmdesk-guest-wayland. It does the nonce handshake of the Wayland set and
then sends whatever a test wants, well-formed or not.

    with FakeGuest(path) as g:          # listens at path
        g.accept()                      # the proxy dialled
        g.handshake()                   # HELLO both ways, WL_LIMITS both ways
        g.send("wl_open", 1)
        g.send("wl_data", 1, data=wire_bytes)
        g.frames(lambda f: f[0] == v.WL_DATA)   # what came back
"""

import os
import select
import socket
import struct
import time

import vdlink as v

SET = "wayland"


def wl_message(object_id, opcode, payload=b""):
	"""One Wayland message: header and arguments (already encoded)."""
	return struct.pack("=IHH", object_id, opcode, 8 + len(payload)) + payload


def wl_string(text):
	data = text.encode() + b"\0"
	return struct.pack("=I", len(data)) + data + b"\0" * (-len(data) % 4)


class Peer:
	"""One end of a Wayland link in raw frames, role "host" or "guest"."""

	role = None

	def __init__(self):
		self.sock = None
		self.reader = v.Reader()
		self.received = []  # (type, id, payload)
		self.nonce = int.from_bytes(os.urandom(7), "little") | 1
		self.peer_nonce = 0
		self.closed = False
		self.answer_pings = True
		self.mark = 0  # wait() looks at frames from here on

	def send_raw(self, data):
		self.sock.sendall(data)

	def send(self, name, msg_id=0, **fields):
		self.send_raw(v.encode(SET, name, msg_id, **fields))

	def pump(self, timeout=0.0):
		"""Reads what is there (waiting up to timeout for the first bytes)."""
		deadline = time.monotonic() + timeout
		while True:
			left = max(deadline - time.monotonic(), 0)
			ready, _, _ = select.select([self.sock], [], [], left)
			if not ready:
				return
			try:
				data = self.sock.recv(1 << 20)
			except (ConnectionResetError, BrokenPipeError):
				data = b""
			if not data:
				self.closed = True
				return
			for frame in self.reader.feed(data):
				self.received.append(frame)
				if frame[0] == v.WL_PING and self.answer_pings:
					seq = v.decode(SET, frame[0], frame[2])["seq"]
					try:
						self.send("wl_pong", seq=seq)
					except (ConnectionResetError, BrokenPipeError):
						# the proxy closed the link after what it read (a protocol
						# error, say) before our answer to its ping
						self.closed = True
						return
			deadline = time.monotonic()

	def wait(self, predicate, timeout=10, what="a frame"):
		"""Until a received frame satisfies predicate(type, id, payload); returns it."""
		deadline = time.monotonic() + timeout
		seen = self.mark
		while True:
			for frame in self.received[seen:]:
				if predicate(*frame):
					return frame
			seen = len(self.received)
			if self.closed:
				raise AssertionError("the link closed while waiting for %s" % what)
			if time.monotonic() >= deadline:
				raise AssertionError("no %s in %ss (got %s)" % (
					what, timeout, [v.name_of(SET, f[0]) or hex(f[0]) for f in self.received[-20:]]))
			self.pump(0.05)

	def wait_closed(self, timeout=10):
		deadline = time.monotonic() + timeout
		while not self.closed:
			if time.monotonic() >= deadline:
				raise AssertionError("the link stayed open")
			self.pump(0.05)

	def since_mark(self):
		"""Frames received after the handshake (or the last mark)."""
		return self.received[self.mark:]

	def decoded(self, frame):
		return v.decode(SET, frame[0], frame[2])

	def handshake(self, window=1 << 20, pipe_window=1 << 16):
		"""The nonce handshake (a new session of ours), then WL_LIMITS both ways."""
		self.mark = len(self.received)
		self.nonce = int.from_bytes(os.urandom(7), "little") | 1
		self.send_raw(v.hello(SET, nonce=self.nonce, peer_nonce=0, software="test-" + self.role))
		hello = self.wait(lambda t, i, p: t == v.HELLO, what="HELLO")
		self.peer_nonce = self.decoded(hello)["nonce"]
		self.send_raw(v.hello(SET, nonce=self.nonce, peer_nonce=self.peer_nonce,
		                      software="test-" + self.role))
		limits = self.wait(lambda t, i, p: t == v.WL_LIMITS, what="WL_LIMITS")
		self.mark = len(self.received)
		self.limits = self.decoded(limits)
		self.send("wl_limits", window=window, pipe_window=pipe_window,
		          max_channels=0 if self.role == "guest" else 256,
		          max_pools=0 if self.role == "guest" else 256,
		          pool_mirror=0 if self.role == "guest" else 1 << 28,
		          vm_mirror=0 if self.role == "guest" else 1 << 29)
		return self.limits

	def close(self):
		if self.sock is not None:
			self.sock.close()
			self.sock = None

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()


class FakeGuest(Peer):
	"""Listens where vmdesk-proxy --guest unix:PATH dials."""

	role = "guest"

	def __init__(self, path):
		super().__init__()
		self.path = path
		self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		self.server.bind(path)
		self.server.listen(4)

	def accept(self, timeout=15):
		ready, _, _ = select.select([self.server], [], [], timeout)
		assert ready, "the proxy did not dial in %ss" % timeout
		self.close()
		self.sock, _ = self.server.accept()
		self.reader = v.Reader()
		self.received = []
		self.closed = False
		self.nonce = int.from_bytes(os.urandom(7), "little") | 1
		return self

	def close(self):
		super().close()

	def shutdown(self):
		self.close()
		self.server.close()
		try:
			os.unlink(self.path)
		except OSError:
			pass

	def __exit__(self, *exc):
		self.shutdown()


class FakeHost(Peer):
	"""Dials vmdesk-guest-wayland --listen unix:PATH."""

	role = "host"

	def __init__(self, path):
		super().__init__()
		self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		self.sock.connect(path)
