#!/usr/bin/python3
"""A hostile guest on the VM link, in raw link frames (linkpeer.FakeGuest, the
generated codec vdlink.py), against vmdesk-proxy --guest; and a hostile host
against vmdesk-guest-wayland (linkpeer.FakeHost).

Every attack ends that channel (its session, with a protocol error to the
client and a log line) or the link (a log line; the proxy dials again);
the compositor, the proxy's local clients and another VM's proxy keep
working, and the proxy's memory and fds stay bounded."""

import os
import re
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "frames"))
import framelib as fl  # noqa: E402
import tap  # noqa: E402
import vdlink as v  # noqa: E402
import wlwire as w  # noqa: E402
from compositor import Sway, wait_for  # noqa: E402
from linklib import Bridge  # noqa: E402
from linkpeer import FakeGuest, FakeHost, wl_message, wl_string  # noqa: E402
from proxy import Proxy, is_listening  # noqa: E402

suite = tap.Suite()
VM = "evil"
GET_REGISTRY = wl_message(1, w.DISPLAY_GET_REGISTRY, struct.pack("=I", 2))


def sync(callback):
	return wl_message(1, w.DISPLAY_SYNC, struct.pack("=I", callback))


def rss_kib(pid):
	with open("/proc/%d/status" % pid) as f:
		for line in f:
			if line.startswith("VmRSS:"):
				return int(line.split()[1])
	return 0


class Host:
	"""sway, vmdesk-proxy --guest dialling a FakeGuest (with --socket for a local
	client), another VM's proxy, and a window of each that must keep working."""

	def __init__(self, proxy_args=(), window=1 << 20):
		self.dir = tempfile.mkdtemp(prefix="vmdesk-hostile-link-")
		self.proxy_args = list(proxy_args)
		self.window = window

	def __enter__(self):
		self.comp = Sway().__enter__()
		self.guest = FakeGuest(os.path.join(self.dir, "guest.sock"))
		self.proxy = Proxy(vm=VM, upstream=self.comp.display, args=[
			"--guest", "unix:" + self.guest.path, "--log-level", "debug",
			"--guest-timeout", "1500"] + self.proxy_args).__enter__()
		self.other = Proxy(vm="other", upstream=self.comp.display).__enter__()
		self.local = fl.Client(self.proxy.socket)
		fl.Toplevel(self.local, "local", 120, 80, fl.GREY)
		self.remote = fl.Client(self.other.socket)
		fl.Toplevel(self.remote, "remote", 120, 80, fl.GREY)
		fl.wait_window(self.comp, "vmdesk.%s.local" % VM)
		fl.wait_window(self.comp, "vmdesk.other.remote")
		self.guest.accept()
		self.guest.handshake(window=self.window)
		self.proxy.wait_log(r"vm=%s: linked to the guest" % VM)
		self.fds = self.proxy.fd_count()
		self.rss = rss_kib(self.proxy.pid)
		return self

	def bystanders_fine(self):
		"""The local client, the other VM and the compositor work; the proxy is bounded."""
		self.local.roundtrip(timeout=10)
		self.remote.roundtrip(timeout=10)
		assert fl.find_window(self.comp, "vmdesk.%s.local" % VM) is not None
		assert fl.find_window(self.comp, "vmdesk.other.remote") is not None
		self.proxy.check_alive()
		self.other.check_alive()
		rss = rss_kib(self.proxy.pid)
		tap.diag("proxy: %d fds (%d at the start), RSS %d KiB (%d at the start)" % (
			self.proxy.fd_count(), self.fds, rss, self.rss))
		assert rss < self.rss + 64 * 1024, "the proxy grew from %d to %d KiB" % (self.rss, rss)

	def relink(self):
		"""After a link error: the proxy closed the link (then dials again) or, the
		carrier being one without connections as far as it knows, lost step and
		sends HELLO again. Either way a new session of ours links."""
		g = self.guest
		start = len(g.received)
		deadline = time.monotonic() + 15
		while not g.closed and not any(f[0] == v.HELLO for f in g.received[start:]):
			assert time.monotonic() < deadline, "the proxy neither closed nor said HELLO"
			g.pump(0.05)
		if g.closed:
			g.accept()
		g.handshake(window=self.window)
		return "was closed" if g.closed else "lost step and shook hands again"

	def fds_back(self):
		self.comp.wait_for(lambda: self.proxy.fd_count() <= self.fds + 2, timeout=10,
		                   what="the proxy's fds back to %d (now %d)" % (
			                   self.fds, self.proxy.fd_count()))

	def open_channel(self, channel):
		"""A channel with a registry: the session is up once its globals came."""
		g = self.guest
		g.send("wl_open", channel)
		g.send("wl_data", channel, data=GET_REGISTRY + sync(3))
		done = wl_message(3, w.CALLBACK_EV_DONE, b"")[:6]  # the sync's callback, done

		def answered():
			events = b"".join(g.decoded(f)["data"] for f in g.received
			                  if f[0] == v.WL_DATA and f[1] == channel)
			return any(events[at:at + 6] == done for at in range(0, len(events), 4))
		g.wait(lambda t, i, p: t == v.WL_DATA and i == channel and answered(),
		       what="the answer to wl_display.sync on channel %d" % channel)
		self.proxy.wait_log(r"vm=%s channel=%d connected" % (VM, channel))

	def channel_error(self, channel, pattern):
		"""The session logs a protocol error matching pattern and ends; the guest gets
		the client's wl_display.error and WL_CLOSE."""
		self.proxy.wait_log(r"vm=%s channel=%d protocol error: .*%s" % (VM, channel, pattern))
		self.proxy.wait_log(r"vm=%s channel=%d disconnected" % (VM, channel))
		self.guest.wait(lambda t, i, p: t == v.WL_CLOSE and i == channel, what="WL_CLOSE")

	def __exit__(self, *exc):
		if exc[1] is not None and hasattr(exc[1], "add_note"):
			exc[1].add_note("--- vmdesk-proxy log ---\n" + self.proxy.log()[-6000:])
		for client in (self.local, self.remote):
			client.close()
		problems = [self.proxy.stop(), self.other.stop()]
		self.proxy._cleanup()
		self.other._cleanup()
		self.guest.shutdown()
		self.comp.__exit__(*exc)
		problems = [p for p in problems if p]
		if problems and exc[0] is None:
			raise AssertionError("\n".join(problems))
		return False


def create_pool_request(pool_id, size):
	# wl_shm@? would need a bind: the proxy checks the fd's size whatever the object
	return wl_message(4, w.SHM_CREATE_POOL, struct.pack("=Ii", pool_id, size))


def bind_shm(channel_msgs, name):
	return wl_message(2, w.REGISTRY_BIND, struct.pack("=I", name) + wl_string("wl_shm") +
	                  struct.pack("=II", 1, 4))


def shm_name(h, channel):
	"""The name of wl_shm in the channel's registry events."""
	for t, i, p in h.guest.received:
		if t == v.WL_DATA and i == channel:
			data = h.guest.decoded((t, i, p))["data"]
			at = data.find(b"wl_shm\0")
			if at >= 0:
				return struct.unpack_from("=I", data, at - 8)[0]
	raise AssertionError("no wl_shm global on channel %d" % channel)


@suite.test
def test_lying_pool_size():
	"""A mirror of 4096 bytes under a create_pool that claims 1 GiB: the client's
	protocol error (pool larger than its fd), the channel ends."""
	with Host() as h:
		h.open_channel(1)
		name = shm_name(h, 1)
		h.guest.send("wl_pool", 1, pool=1, size=4096)
		h.guest.send("wl_data", 1, data=bind_shm(None, name) +
		             create_pool_request(5, 1 << 30))
		h.channel_error(1, "larger than its fd")
		h.bystanders_fine()
		h.fds_back()


@suite.test
def test_writes_outside_a_pool():
	with Host() as h:
		h.open_channel(1)
		h.guest.send("wl_pool", 1, pool=1, size=65536)
		h.guest.send("wl_pool_data", 1, pool=1, offset=65000, stride=1000, width=1000,
		             data=b"\xff" * 1000)
		h.channel_error(1, "do not fit in pool 1")
		h.open_channel(2)
		h.guest.send("wl_pool", 2, pool=1, size=65536)
		h.guest.send("wl_pool_copy", 2, src_pool=1, src_offset=0, src_stride=4096,
		             dst_pool=1, dst_offset=60000, dst_stride=4096, width=4096, rows=2)
		h.channel_error(2, "do not fit in pool 1")
		h.open_channel(3)
		h.guest.send("wl_pool", 3, pool=1, size=65536)
		# a diff run that skips past the end
		h.guest.send("wl_pool_diff", 3, pool=1, offset=0, data=bytes([0xff, 0xff, 0x03, 4]) +
		             b"abcd")
		h.channel_error(3, "outside pool 1")
		h.open_channel(4)
		h.guest.send("wl_pool", 4, pool=1, size=65536)
		h.guest.send("wl_pool_diff", 4, pool=1, offset=0, data=bytes([0x80, 0x80]))
		h.channel_error(4, "malformed WL_POOL_DIFF")
		h.bystanders_fine()
		h.fds_back()


@suite.test
def test_data_for_unknown_pools():
	with Host() as h:
		h.open_channel(1)
		h.guest.send("wl_pool_data", 1, pool=7, offset=0, stride=4, width=4, data=b"abcd")
		h.channel_error(1, "pool 7 is not one of this client's")
		h.open_channel(2)
		h.guest.send("wl_pool", 2, pool=3, size=4096)
		h.guest.send("wl_pool", 2, pool=2, size=4096)
		h.channel_error(2, "pool number 2 reused")
		h.bystanders_fine()


@suite.test
def test_mirror_limits():
	"""A pool written beyond --max-pool-mirror, pools of one VM beyond --max-mirror:
	that client ends with a clear error."""
	with Host(["--max-pool-mirror", str(1 << 20), "--max-mirror", str(3 << 20)]) as h:
		h.open_channel(1)
		h.guest.send("wl_pool", 1, pool=1, size=64 << 20)
		chunk = b"\x11" * (256 << 10)
		for i in range(6):
			h.guest.send("wl_pool_data", 1, pool=1, offset=i * len(chunk), stride=len(chunk),
			             width=len(chunk), data=chunk)
		h.channel_error(1, "more than 1048576 bytes of mirror \\(--max-pool-mirror\\)")
		for channel in (2, 3, 4, 5):
			h.open_channel(channel)
			h.guest.send("wl_pool", channel, pool=1, size=4 << 20)
			for i in range(4):
				h.guest.send("wl_pool_data", channel, pool=1, offset=i * len(chunk),
				             stride=len(chunk), width=len(chunk), data=chunk)
		h.channel_error(5, "the VM's pools need more than 3145728 bytes of mirror "
		                "\\(--max-mirror\\)")
		h.bystanders_fine()


@suite.test
def test_window_overrun():
	"""WL_DATA past the window the proxy granted. The guest grants a tiny window
	for events and reads none: the session's events pile up to --max-queue, it
	stops reading requests, and what the guest sends on (valid round trips all)
	passes the window: that channel ends, logged."""
	with Host(window=4096) as h:
		h.open_channel(1)
		window = h.guest.limits["window"]
		# each wl_display.sync owes 24 bytes of events; enough of them for the
		# session's queue (256 KiB) and then a window more
		count = (256 << 10) // 24 + window // 12 + 4096
		syncs = b"".join(sync(4 + i) for i in range(count))
		step = 60000 - 60000 % 12
		h.guest.send_raw(b"".join(v.encode("wayland", "wl_data", 1, data=syncs[at:at + step])
		                          for at in range(0, len(syncs), step)))
		h.proxy.wait_log(r"vm=%s channel=1 protocol error: .*past the window" % VM)
		h.proxy.wait_log(r"vm=%s channel=1 disconnected" % VM)
		h.bystanders_fine()
		h.fds_back()


@suite.test
def test_many_channels():
	"""100,000 WL_OPEN: --max-channels are served, the others refused with WL_CLOSE
	and a log line now and then; the proxy stays bounded and answers."""
	# the Python guest takes seconds to decode 100,000 WL_CLOSE: pings wait behind them
	with Host(["--max-channels", "16", "--guest-timeout", "60000"]) as h:
		burst = b"".join(v.encode("wayland", "wl_open", i) for i in range(1, 100001))
		h.guest.send_raw(burst)
		h.guest.wait(lambda t, i, p: t == v.WL_CLOSE and i == 100000, timeout=60,
		             what="the last channel refused")
		log = h.proxy.log()
		assert "channel 17 refused: 16 clients already" in log, log[-3000:]
		refusals = len(re.findall(r"refused: 16 clients already", log))
		tap.diag("refusal log lines: %d" % refusals)
		assert refusals <= 101, "%d log lines for the refusals" % refusals
		h.bystanders_fine()


@suite.test
def test_link_protocol_errors():
	"""Frames that break the link's rules end the link (logged); the proxy dials
	again and a well-behaved guest links."""
	attacks = [
		("an oversize frame", v.frame(v.WL_DATA, b"", 1, length=64 << 20)),
		("flags", v.frame(v.WL_DATA, v.payload("wayland", "wl_data", data=b"x" * 8), 1,
		                  flags=1)),
		("a channel never opened", v.encode("wayland", "wl_data", 77, data=b"x" * 8)),
		("a host message", v.encode("wayland", "wl_file", 1, contents=b"x")),
		("WL_LIMITS twice", v.encode("wayland", "wl_limits", window=65536, pipe_window=65536,
		                             max_channels=0, max_pools=0, pool_mirror=0,
		                             vm_mirror=0)),
	]
	with Host() as h:
		for n, (what, data) in enumerate(attacks):
			h.open_channel(n + 1)
			h.guest.send_raw(data)
			h.proxy.wait_log(r"vm=%s channel=%d disconnected" % (VM, n + 1))
			tap.diag("%s: the link %s" % (what, h.relink()))
		log = h.proxy.log()
		assert "link out of step" in log or "protocol error" in log, log[-3000:]
		h.bystanders_fine()


@suite.test
def test_half_frame_and_stall():
	"""Half a frame, then nothing (no answer to pings either): the link is cut after
	--guest-timeout, logged; the reader never held more than that frame."""
	with Host() as h:
		h.open_channel(1)
		h.guest.answer_pings = False
		h.guest.send_raw(v.encode("wayland", "wl_data", 1, data=b"x" * 1000)[:500])
		h.proxy.wait_log(r"no answer to a ping", timeout=15)
		h.proxy.wait_log(r"vm=%s channel=1 disconnected" % VM)
		h.bystanders_fine()


@suite.test
def test_guest_never_reads():
	"""A guest that asks for events and never reads them (nor pings): the session's
	queue is bounded by the window, the link is cut after --guest-timeout."""
	with Host() as h:
		h.open_channel(1)
		# a flood of round trips whose answers it never reads
		h.guest.answer_pings = False
		h.guest.send("wl_data", 1, data=b"".join(sync(100 + i) for i in range(5000)))
		h.proxy.wait_log(r"no answer to a ping|does not read", timeout=20)
		h.bystanders_fine()
		h.fds_back()


@suite.test
def test_pipe_abuse():
	"""Pipe numbers reused or from the host's range, data for pipes never opened,
	more pipes than allowed: that channel ends."""
	with Host() as h:
		h.open_channel(1)
		h.guest.send("wl_pipe", 1, pipe=v.WL_HOST_PIPE | 5, end=v.PIPE_END_WRITE)
		h.channel_error(1, "not a new one of the guest's")
		h.open_channel(2)
		h.guest.send("wl_pipe_data", 2, pipe=9, data=b"x")
		h.channel_error(2, "pipe 9 was never opened")
		h.open_channel(3)
		for i in range(1, 40):
			h.guest.send("wl_pipe", 3, pipe=i, end=v.PIPE_END_WRITE)
		h.channel_error(3, "more than 32 pipes open at once")
		h.bystanders_fine()
		h.fds_back()


# ---- a hostile host against the guest's bridge ----


class Guest:
	"""vmdesk-guest-wayland with a FakeHost, and a well-behaved client of it."""

	def __enter__(self):
		self.dir = tempfile.mkdtemp(prefix="vmdesk-hostile-host-")
		self.link = os.path.join(self.dir, "link.sock")
		self.display = os.path.join(self.dir, "wayland-guest")
		self.bridge = Bridge("unix:" + self.link, self.display).__enter__()
		wait_for(lambda: is_listening(self.link), timeout=10,
		         what="vmdesk-guest-wayland to listen at %s" % self.link)
		return self

	def host(self):
		h = FakeHost(self.link)
		h.handshake()
		return h

	def client(self):
		"""A client of the guest session; its channel opens on the host."""
		conn = w.Connection(self.display)
		conn.get_registry()
		conn.sync()
		return conn

	def __exit__(self, *exc):
		if exc[1] is not None and hasattr(exc[1], "add_note"):
			exc[1].add_note("--- vmdesk-guest-wayland log ---\n" + self.bridge.log()[-6000:])
		self.bridge.__exit__(*exc)
		return False


@suite.test
def test_hostile_host():
	"""Each attack of a host ends that client or the link, with a log line; the
	bridge keeps its socket and a new host links."""
	attacks = [
		("garbage", lambda c: b"\x00" * 64 + b"\xff" * 64),
		("an oversize frame", lambda c: v.frame(v.WL_DATA, b"", c, length=64 << 20)),
		("a channel never opened", lambda c: v.encode("wayland", "wl_data", c + 1000,
		                                              data=b"x" * 8)),
		("a guest message", lambda c: v.encode("wayland", "wl_pool", c, pool=1, size=4096)),
		("a pipe from the guest's range", lambda c: v.encode("wayland", "wl_pipe", c, pipe=3,
		                                                     end=v.PIPE_END_WRITE)),
		("data for a pipe never opened", lambda c: v.encode(
			"wayland", "wl_pipe_data", c, pipe=v.WL_HOST_PIPE | 7, data=b"x")),
	]
	with Guest() as g:
		for what, attack in attacks:
			h = g.host()
			conn = g.client()
			channel = h.wait(lambda t, i, p: t == v.WL_OPEN, what="WL_OPEN")[1]
			h.send_raw(attack(channel))
			h.pump(1.0)
			conn.wait_disconnect(timeout=15)
			tap.diag("%s: the client was told %r" % (what, conn.error))
			assert conn.error and "vmdesk-guest-wayland" in conn.error[2], conn.error
			h.close()
			g.bridge.check_alive()
		# malformed Wayland events: that client alone
		h = g.host()
		victim = g.client()
		opened = h.wait(lambda t, i, p: t == v.WL_OPEN, what="WL_OPEN")[1]
		bystander = g.client()
		h.wait(lambda t, i, p: t == v.WL_OPEN and i != opened, what="a second WL_OPEN")
		h.send("wl_data", opened, data=struct.pack("=IHH", 1, 0, 4))  # size 4 < header
		victim.wait_disconnect(timeout=10)
		assert victim.error and "malformed event" in victim.error[2], victim.error
		h.pump(0.5)
		assert not bystander.error, bystander.error
		g.bridge.wait_log(r"the host sent a malformed event")
		g.bridge.check_alive()


@suite.test
def test_host_window_overrun_and_files():
	"""Keymaps (WL_FILE) pass; then events the client never reads: its queue
	fills (1 MiB), the channel takes no more, and what the host sends on either
	passes the window (the link ends) or finds the client's queue full (that
	client ends, told that it does not read), whichever comes first. Either is
	logged, and a new host links and serves a new client."""
	with Guest() as g:
		h = g.host()
		conn = g.client()
		channel = h.wait(lambda t, i, p: t == v.WL_OPEN, what="WL_OPEN")[1]
		# events for the registry once the bridge has seen it made
		h.wait(lambda t, i, p: t == v.WL_DATA and i == channel, what="get_registry")
		h.send("wl_file", channel, contents=b"k" * 1000)
		h.send("wl_file", channel, contents=b"")
		window = h.limits["window"]
		event = wl_message(2, w.REGISTRY_EV_GLOBAL, struct.pack("=I", 9) + wl_string("x") +
		                   struct.pack("=I", 1))
		frame = v.encode("wayland", "wl_data", channel, data=event * (60000 // len(event)))
		try:
			h.send_raw(frame * ((2 * (1 << 20) + window) // 60000 + 8))
		except (BrokenPipeError, ConnectionResetError):
			pass  # the bridge ended the link before all of it went
		conn.wait_disconnect(timeout=15)
		m = g.bridge.wait_log(r"data past the window|the client does not read its events")
		tap.diag("%s; the client was told %r" % (m.group(0), conn.error))
		h.pump(1.0)
		h.close()
		# the bridge serves on
		h = g.host()
		conn = g.client()
		h.wait(lambda t, i, p: t == v.WL_OPEN, what="WL_OPEN on a new link")
		conn.close()
		h.close()
		g.bridge.check_alive()


if __name__ == "__main__":
	suite.run()
