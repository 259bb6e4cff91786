"""Hostile clients against vmdesk-proxy, in raw wire bytes (TAP).

One headless sway, one proxy, and a well-behaved window (a raw client of our
own, through the proxy) that stays mapped for the whole run. Each case opens a
fresh connection to the proxy and does one bad thing; then:
  - the hostile client got wl_display.error (with the expected code, when the
    protocol defines one) and/or was disconnected, as the case says;
  - the proxy still runs, the witness window still round-trips and is still in
    sway's tree, and a new, normal connection works (registry + round trip);
  - the proxy's open fds come back to their baseline once the client is gone.
Valid-but-unusual traffic (ids reused after delete_id, fds ahead of their
request, many registries) is checked to still work. Cases that can kill the
proxy or sway (xdg-shell rule breaking, requests that crash sway 1.7) run last.
At the end the proxy gets SIGTERM and must exit 0 with no sanitizer report.

Run: meson test -C BUILD hostile   (or with VMDESK_PROXY, VMDESK_DEFAULT_POLICY and
PYTHONPATH=tests/lib set: /usr/bin/python3 tests/hostile/test_hostile.py)
"""

import os
import random
import select
import socket
import sys
import time
import types
import contextlib
from array import array

import tap
import wlwire as w
from wlwire import uint, int_, string, new_id, obj, message, untyped_new_id
from compositor import Sway
from proxy import Proxy, parse_policy, default_policy

suite = tap.Suite()
S = types.SimpleNamespace(stack=None, comp=None, proxy=None, witness=None, fd_base=None,
                          rss_base=None, direct_globals=None)

WITNESS_APP_ID = "hostile-witness"
HIDDEN = ("zwlr_layer_shell_v1", "zwlr_screencopy_manager_v1", "zwlr_data_control_manager_v1",
          "zwp_virtual_keyboard_manager_v1")
MAX_OBJECTS = 50000  # the proxy's default --max-objects
MAX_FDS = 256  # the proxy's default --max-fds
RSS_SLACK_KIB = 64 * 1024
DISCONNECT_TIMEOUT = 10  # a hang guard, not a performance bound

# opcodes (request index in wayland.xml / xdg-shell.xml)
COMPOSITOR_CREATE_SURFACE = 0
COMPOSITOR_CREATE_REGION = 1
REGION_DESTROY = 0
REGION_ADD = 1
SHM_CREATE_POOL = 0
POOL_CREATE_BUFFER = 0
POOL_RESIZE = 2
SURFACE_ATTACH = 1
SURFACE_COMMIT = 6
SURFACE_OFFSET = 10  # since wl_surface version 5
WM_BASE_GET_XDG_SURFACE = 2
XDG_SURFACE_GET_TOPLEVEL = 1
TOPLEVEL_SET_TITLE = 2
TOPLEVEL_SET_APP_ID = 3

# error codes
INVALID_OBJECT = w.DISPLAY_ERROR_INVALID_OBJECT
INVALID_METHOD = w.DISPLAY_ERROR_INVALID_METHOD
SHM_INVALID_FORMAT = 0
SHM_INVALID_STRIDE = 1
SHM_INVALID_FD = 2


# --- process measurements ---

def proxy_rss_kib():
	with open("/proc/%d/status" % S.proxy.pid) as f:
		for line in f:
			if line.startswith("VmRSS:"):
				return int(line.split()[1])
	raise AssertionError("no VmRSS for the proxy")


def proxy_fds():
	return S.proxy.fd_count()


def wait_fds_at_baseline(what):
	try:
		S.comp.wait_for(lambda: proxy_fds() <= S.fd_base, timeout=10,
		                what="proxy fds back to %d %s" % (S.fd_base, what))
	except TimeoutError:
		raise AssertionError("proxy has %d open fds after %s, baseline %d: %r"
		                     % (proxy_fds(), what, S.fd_base, S.proxy.fds())) from None


# --- the well-behaved side ---

def witness_windows():
	return [v for v in S.comp.windows()
	        if WITNESS_APP_ID in (v.get("app_id") or "") or WITNESS_APP_ID in (v.get("name") or "")]


def check_others(what):
	"""The proxy, the witness window and a new connection all still work."""
	S.proxy.check_alive()
	S.witness.roundtrip()
	assert len(witness_windows()) == 1, \
		"witness window gone from sway after %s: %r" % (what, S.comp.windows())
	with w.connect(S.proxy.socket) as c:
		interfaces = {iface for iface, _ in c.globals.values()}
		assert "wl_compositor" in interfaces, "new connection after %s: globals %r" % (
			what, sorted(interfaces))
		c.roundtrip()
		assert c.error is None and not c.closed
	wait_fds_at_baseline(what)


def hostile():
	"""A fresh connection to the proxy with the registry and the globals known."""
	return w.connect(S.proxy.socket)


def send_quietly(conn, data, fds=()):
	"""Sends, ignoring a disconnect: the proxy may close before reading it all."""
	try:
		conn.send_raw(data, fds)
		return True
	except w.Disconnected:
		return False


def expect_error(conn, what, codes=None, objects=None):
	"""conn gets wl_display.error (code in codes, object in objects), then is disconnected."""
	gone = conn.wait_disconnect(DISCONNECT_TIMEOUT)
	err = conn.error
	assert err is not None, "%s: no wl_display.error (disconnected: %s)" % (what, gone)
	if codes is not None:
		assert err[1] in codes, "%s: error code %d, expected one of %r: %r" % (
			what, err[1], sorted(codes), err)
	if objects is not None:
		assert err[0] in objects, "%s: error on object %d, expected one of %r: %r" % (
			what, err[0], sorted(objects), err)
	assert gone, "%s: got %r but the proxy did not close the connection" % (what, err)
	return err


def expect_disconnect(conn, what):
	assert conn.wait_disconnect(DISCONNECT_TIMEOUT), "%s: the proxy did not close the connection" \
		% what


def run_case(what, body):
	"""Runs body(conn) on a fresh hostile connection, then checks everyone else."""
	conn = hostile()
	try:
		body(conn)
	finally:
		conn.close()
	check_others(what)


def region(conn):
	compositor = conn.bind_global("wl_compositor", 4)
	region_id = conn.new_id("wl_region")
	conn.send(compositor, COMPOSITOR_CREATE_REGION, new_id(region_id))
	return compositor, region_id


def toplevel(conn):
	compositor = conn.bind_global("wl_compositor", 4)
	wm_base = conn.bind_global("xdg_wm_base", 1)
	surface = conn.new_id("wl_surface")
	conn.send(compositor, COMPOSITOR_CREATE_SURFACE, new_id(surface))
	xdg_surface = conn.new_id("xdg_surface")
	conn.send(wm_base, WM_BASE_GET_XDG_SURFACE, new_id(xdg_surface), obj(surface))
	top = conn.new_id("xdg_toplevel")
	conn.send(xdg_surface, XDG_SURFACE_GET_TOPLEVEL, new_id(top))
	conn.roundtrip()
	return top


def shm_pool(conn, size, fd_size=None):
	"""Binds wl_shm and creates a pool of size over a memfd of fd_size bytes."""
	shm = conn.bind_global("wl_shm", 1)
	conn.on(shm, lambda ev: None)
	fd = w.memfd(size if fd_size is None else fd_size)
	pool = conn.new_id("wl_shm_pool")
	try:
		conn.send(shm, SHM_CREATE_POOL, new_id(pool), int_(size), fds=[fd])
	finally:
		os.close(fd)
	return shm, pool


def create_buffer(conn, pool, offset, width, height, stride, fmt=w.SHM_FORMAT_ARGB8888):
	buf = conn.new_id("wl_buffer")
	send_quietly(conn, message(pool, POOL_CREATE_BUFFER, new_id(buf), int_(offset), int_(width),
	                           int_(height), int_(stride), uint(fmt)))
	return buf


def roundtrip_ok(conn, what, timeout=None):
	"""A round trip that must succeed; on failure says what the proxy answered."""
	try:
		conn.roundtrip(timeout)
	except (w.ProtocolError, w.Disconnected, TimeoutError) as e:
		conn.wait_disconnect(2)
		raise AssertionError("%s: %s (wl_display.error: %r)" % (what, e, conn.error)) from None


def roundtrip_then_error(conn, what, codes=None, objects=None):
	"""Asks for a round trip (which must not complete normally), expects an error."""
	send_quietly(conn, message(1, 0, new_id(conn.new_id("wl_callback"))))
	return expect_error(conn, what, codes, objects)


# --- setup ---

@suite.test
def test_setup():
	S.stack = contextlib.ExitStack()
	S.comp = S.stack.enter_context(Sway())
	with w.connect(S.comp.display) as direct:
		S.direct_globals = dict(direct.globals)
	# Under ASan, freed memory sits in a 256 MiB quarantine by default, which
	# would make the RSS bounds below measure ASan rather than the proxy.
	env = dict(os.environ)
	env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=16"]))
	S.proxy = Proxy(vm="work", upstream=S.comp.display, env=env)
	S.proxy.__enter__()
	idle_fds = proxy_fds()
	S.witness = w.Window(S.proxy.socket, WITNESS_APP_ID, title="witness")
	S.comp.wait_for(lambda: len(witness_windows()) == 1, timeout=10, what="the witness window")
	# The witness is the only connection so far: nothing is still closing.
	S.fd_base = proxy_fds()
	S.rss_base = proxy_rss_kib()
	tap.diag("proxy pid %d: %d fds idle, %d fds and VmRSS %d KiB with the witness"
	         % (S.proxy.pid, idle_fds, S.fd_base, S.rss_base))


# --- the registry ---

@suite.test
def test_hidden_globals_never_shown():
	direct = {iface for iface, _ in S.direct_globals.values()}
	for iface in HIDDEN:
		assert iface in direct, "sway itself does not advertise %s: %r" % (iface, sorted(direct))
	allowed = parse_policy(default_policy())
	with w.connect(S.proxy.socket) as c:
		shown = {iface for iface, _ in c.globals.values()}
	for iface in HIDDEN:
		assert iface not in shown, "%s visible through the proxy" % iface
	assert shown <= set(allowed), "globals not in the policy shown: %r" % sorted(shown - set(allowed))
	assert {"wl_compositor", "wl_shm", "xdg_wm_base"} <= shown, sorted(shown)


@suite.test
def test_bind_hidden_name_9999():
	def body(c):
		assert 9999 not in c.globals
		c.bind(9999, "wl_compositor", 1)
		roundtrip_then_error(c, "bind name 9999", {INVALID_OBJECT})
	run_case("bind of name 9999", body)


@suite.test
def test_bind_compositor_numbering():
	"""Names of hidden globals as sway numbers them must not reach sway."""
	for iface in HIDDEN:
		upstream_name = next(n for n, (i, _) in S.direct_globals.items() if i == iface)

		def body(c):
			shown = c.globals.get(upstream_name)
			assert shown is None or shown[0] != iface
			c.bind(upstream_name, iface, 1)
			roundtrip_then_error(c, "bind %s by sway's name %d" % (iface, upstream_name),
			                     {INVALID_OBJECT})
		run_case("bind of sway's name for " + iface, body)


@suite.test
def test_bind_above_shown_version():
	def body(c):
		name = c.global_name("wl_compositor")
		c.bind(name, "wl_compositor", c.globals[name][1] + 1)
		roundtrip_then_error(c, "bind above version", {INVALID_OBJECT})
	run_case("bind above the shown version", body)


@suite.test
def test_bind_version_zero():
	def body(c):
		c.bind(c.global_name("wl_compositor"), "wl_compositor", 0)
		roundtrip_then_error(c, "bind version 0", {INVALID_OBJECT})
	run_case("bind at version 0", body)


@suite.test
def test_bind_wrong_interface():
	def body(c):
		c.bind(c.global_name("wl_compositor"), "wl_shm", 1)
		roundtrip_then_error(c, "bind with a wrong interface", {INVALID_OBJECT})
	run_case("bind with a wrong interface name", body)


@suite.test
def test_bind_hidden_interface_on_shown_name():
	def body(c):
		c.bind(c.global_name("wl_compositor"), "zwlr_screencopy_manager_v1", 1)
		roundtrip_then_error(c, "bind zwlr_screencopy_manager_v1 on wl_compositor's name",
		                     {INVALID_OBJECT})
	run_case("bind of a hidden interface on a shown name", body)


@suite.test
def test_bind_before_globals():
	"""get_registry and a bind by sway's number for a hidden global, in the first write."""
	for iface in HIDDEN:
		upstream_name = next(n for n, (i, _) in S.direct_globals.items() if i == iface)

		def body(c):
			c.registry = c.new_id("wl_registry")
			bound = c.new_id(iface)
			send_quietly(c, message(1, 1, new_id(c.registry))
			             + message(c.registry, 0, uint(upstream_name),
			                       untyped_new_id(iface, 1, bound))
			             + message(1, 0, new_id(c.new_id("wl_callback"))))
			expect_error(c, "early bind of %s" % iface, {INVALID_OBJECT})
		conn = w.Connection(S.proxy.socket)
		try:
			body(conn)
		finally:
			conn.close()
		check_others("an early bind of " + iface)


@suite.test
def test_many_registries():
	"""Valid: 50 wl_registry objects on one connection each get the same globals.

	(Not many more: sway drops a client whose burst of events overflows its
	socket buffer, and 200 registries do that even without the proxy.)"""
	conn = hostile()
	try:
		expected = dict(conn.globals)
		registries = {}
		for _ in range(50):
			reg = conn.new_id("wl_registry")
			registries[reg] = {}
			conn.on(reg, lambda ev, reg=reg: registries[reg].__setitem__(ev.uint(0), ev.opcode))
			conn.send(1, 1, new_id(reg))
		roundtrip_ok(conn, "50 registries")
		for reg, names in registries.items():
			assert set(names) == set(expected), "registry %d got %r, expected %r" % (
				reg, sorted(names), sorted(expected))
	finally:
		conn.close()
	check_others("50 registries")


# --- bad objects and opcodes ---

@suite.test
def test_bad_opcode_display():
	def body(c):
		send_quietly(c, message(1, 7))
		expect_error(c, "wl_display opcode 7", {INVALID_METHOD})
	run_case("bad opcode on wl_display", body)


@suite.test
def test_bad_opcode_compositor():
	def body(c):
		compositor = c.bind_global("wl_compositor", 4)
		send_quietly(c, message(compositor, 2, new_id(c.new_id())))
		roundtrip_then_error(c, "wl_compositor opcode 2", {INVALID_METHOD})
	run_case("bad opcode on wl_compositor", body)


@suite.test
def test_opcode_above_bound_version():
	def body(c):
		compositor = c.bind_global("wl_compositor", 4)
		surface = c.new_id("wl_surface")
		c.send(compositor, COMPOSITOR_CREATE_SURFACE, new_id(surface))
		send_quietly(c, message(surface, SURFACE_OFFSET, int_(1), int_(1)))
		roundtrip_then_error(c, "wl_surface.offset on a version 4 surface", {INVALID_METHOD})
	run_case("request newer than the bound version", body)


@suite.test
def test_unknown_object():
	def body(c):
		send_quietly(c, message(555, 0))
		expect_error(c, "request on object 555", {INVALID_OBJECT})
	run_case("unknown object", body)


@suite.test
def test_object_zero_and_server_range():
	for target in (0, w.SERVER_ID_START, 0xFFFFFFFF):
		def body(c):
			send_quietly(c, message(target, 0))
			expect_error(c, "request on object %#x" % target, {INVALID_OBJECT})
		run_case("request on object %#x" % target, body)


@suite.test
def test_unknown_object_argument():
	def body(c):
		compositor = c.bind_global("wl_compositor", 4)
		surface = c.new_id("wl_surface")
		c.send(compositor, COMPOSITOR_CREATE_SURFACE, new_id(surface))
		send_quietly(c, message(surface, 4, obj(777)))  # set_opaque_region(777)
		roundtrip_then_error(c, "object argument 777", {INVALID_OBJECT, INVALID_METHOD})
	run_case("unknown object as an argument", body)


@suite.test
def test_wrong_type_object_argument():
	def body(c):
		compositor, region_id = region(c)
		surface = c.new_id("wl_surface")
		c.send(compositor, COMPOSITOR_CREATE_SURFACE, new_id(surface))
		send_quietly(c, message(surface, 1, obj(region_id), int_(0), int_(0)))  # attach(region)
		roundtrip_then_error(c, "wl_region passed as a wl_buffer", {INVALID_OBJECT, INVALID_METHOD})
	run_case("object argument of the wrong interface", body)


@suite.test
def test_use_after_destroy():
	def body(c):
		_compositor, region_id = region(c)
		c.send(region_id, REGION_DESTROY)
		c.roundtrip()
		send_quietly(c, message(region_id, REGION_ADD, int_(0), int_(0), int_(1), int_(1)))
		roundtrip_then_error(c, "wl_region.add after destroy", {INVALID_OBJECT})
	run_case("use of a destroyed wl_region", body)


@suite.test
def test_use_after_destroy_same_batch():
	"""destroy and use in one write: no delete_id in between."""
	def body(c):
		_compositor, region_id = region(c)
		send_quietly(c, message(region_id, REGION_DESTROY)
		             + message(region_id, REGION_ADD, int_(0), int_(0), int_(1), int_(1)))
		roundtrip_then_error(c, "wl_region.add right after destroy", {INVALID_OBJECT})
	run_case("use of a destroyed wl_region in the same write", body)


@suite.test
def test_id_reuse_before_delete_id():
	"""Destroy and re-create the same id before delete_id came back.

	libwayland's server accepts it; the proxy may refuse it, but must stay
	consistent: either an error and a disconnect, or a working connection."""
	def body(c):
		compositor, region_id = region(c)
		c.roundtrip()
		send_quietly(c, message(region_id, REGION_DESTROY)
		             + message(compositor, COMPOSITOR_CREATE_REGION, new_id(region_id))
		             + message(region_id, REGION_ADD, int_(0), int_(0), int_(1), int_(1)))
		try:
			c.roundtrip()
		except (w.ProtocolError, w.Disconnected):
			expect_error(c, "id reused before delete_id", {INVALID_OBJECT, INVALID_METHOD})
			return
		c.send(region_id, REGION_DESTROY)
		c.roundtrip()
		assert c.deleted.count(region_id) >= 1, c.deleted
	run_case("id reused before its delete_id", body)


@suite.test
def test_id_reuse_after_delete_id():
	"""Valid: ids come back after delete_id and may be reused for another interface."""
	conn = hostile()
	try:
		compositor = conn.bind_global("wl_compositor", 4)
		regions = [conn.new_id("wl_region") for _ in range(10)]
		for region_id in regions:
			conn.send(compositor, COMPOSITOR_CREATE_REGION, new_id(region_id))
		for region_id in regions:
			conn.send(region_id, REGION_DESTROY)
		conn.roundtrip()
		assert set(regions) <= set(conn.deleted), "no delete_id for %r" % sorted(
			set(regions) - set(conn.deleted))
		# reuse them out of order, as wl_surface this time
		for surface in reversed(regions[::2]):
			conn.send(compositor, COMPOSITOR_CREATE_SURFACE, new_id(surface))
			conn.send(surface, SURFACE_COMMIT)
		roundtrip_ok(conn, "ids reused after delete_id")
	finally:
		conn.close()
	check_others("id reuse after delete_id")


@suite.test
def test_destroy_with_events_in_flight():
	"""Valid: bind and release in one write, while the compositor's events are on the way."""
	conn = hostile()
	try:
		for _ in range(20):
			batch = b""
			released = []
			for iface, version, release in (("wl_output", 3, 0), ("wl_seat", 5, 3),
			                                ("xdg_wm_base", 1, 0)):
				name = conn.global_name(iface)
				if name is None or conn.globals[name][1] < version:
					continue
				object_id = conn.new_id(iface)
				conn.on(object_id, lambda ev: None)
				batch += message(conn.registry, 0, uint(name),
				                 untyped_new_id(iface, version, object_id))
				batch += message(object_id, release)
				released.append(object_id)
			assert released, "no releasable global to bind: %r" % conn.globals
			conn.send_raw(batch)
			roundtrip_ok(conn, "bind and release of %r" % released)
			assert set(released) <= set(conn.deleted), "no delete_id for %r" % released
	finally:
		conn.close()
	check_others("objects released with events in flight")


@suite.test
def test_hostile_title_and_app_id():
	"""The longest title and app_id a message can hold, full of junk: still "[work] "."""
	rng = random.Random(99)
	junk = bytearray(b"[host] \xe2\x80\xae\x1b[2J\n\r")
	while len(junk) < 4083:
		junk += bytes([rng.choice(b"\xff\xc0\x80\x01\x7f aZ\xe2\x80\xae\xcc\x81")])
	junk = bytes(junk[:4083]).replace(b"\0", b"x")
	app_id = "hostile-title-" + "x" * 4000
	with w.Window(S.proxy.socket, app_id, title=junk) as win:
		win.roundtrip()
		views = S.comp.wait_for(lambda: [v for v in S.comp.windows()
		                                 if "hostile-title-" in (v.get("app_id") or "")],
		                        timeout=10, what="the hostile-title window")
		assert len(views) == 1, views
		name, got_app_id = views[0]["name"], views[0]["app_id"]
		tap.diag("title %d bytes: %r..., app_id %d bytes" % (len(name.encode()), name[:24],
		                                                      len(got_app_id.encode())))
		assert name.startswith("[work] "), "title without the VM prefix: %r" % name[:80]
		assert len(name.encode()) <= 512, "title of %d bytes shown" % len(name.encode())
		assert got_app_id.startswith("vmdesk.work."), got_app_id[:80]
		assert len(got_app_id.encode()) <= 512, "app_id of %d bytes" % len(got_app_id.encode())
	S.comp.wait_for(lambda: not [v for v in S.comp.windows()
	                             if "hostile-title-" in (v.get("app_id") or "")],
	                timeout=10, what="the hostile-title window to go")
	check_others("a hostile title")


# --- new_id abuse ---

@suite.test
def test_new_id_reuse():
	def body(c):
		compositor, region_id = region(c)
		send_quietly(c, message(compositor, COMPOSITOR_CREATE_REGION, new_id(region_id)))
		roundtrip_then_error(c, "new_id of a live object", {INVALID_OBJECT, INVALID_METHOD})
	run_case("new_id reuse", body)


@suite.test
def test_new_id_display():
	def body(c):
		compositor = c.bind_global("wl_compositor", 4)
		send_quietly(c, message(compositor, COMPOSITOR_CREATE_REGION, new_id(1)))
		roundtrip_then_error(c, "new_id 1", {INVALID_OBJECT, INVALID_METHOD})
	run_case("new_id 1 (wl_display)", body)


@suite.test
def test_new_id_zero():
	def body(c):
		compositor = c.bind_global("wl_compositor", 4)
		send_quietly(c, message(compositor, COMPOSITOR_CREATE_REGION, new_id(0)))
		roundtrip_then_error(c, "new_id 0", {INVALID_OBJECT, INVALID_METHOD})
	run_case("new_id 0", body)


@suite.test
def test_new_id_server_range():
	for new in (w.SERVER_ID_START, w.SERVER_ID_START + 5, 0xFFFFFFFF):
		def body(c):
			compositor = c.bind_global("wl_compositor", 4)
			send_quietly(c, message(compositor, COMPOSITOR_CREATE_REGION, new_id(new)))
			roundtrip_then_error(c, "new_id %#x" % new, {INVALID_OBJECT, INVALID_METHOD})
		run_case("new_id %#x in the server range" % new, body)


@suite.test
def test_new_id_far_above_next():
	def body(c):
		compositor = c.bind_global("wl_compositor", 4)
		send_quietly(c, message(compositor, COMPOSITOR_CREATE_REGION, new_id(c.next_id + 1000)))
		roundtrip_then_error(c, "new_id 1000 above the next free id",
		                     {INVALID_OBJECT, INVALID_METHOD})
	run_case("new_id far above the next free id", body)


@suite.test
def test_new_id_reuse_in_bind():
	def body(c):
		compositor = c.bind_global("wl_compositor", 4)
		name = c.global_name("wl_shm")
		send_quietly(c, message(c.registry, 0, uint(name), untyped_new_id("wl_shm", 1,
		                                                                  compositor)))
		roundtrip_then_error(c, "bind into a live id", {INVALID_OBJECT, INVALID_METHOD})
	run_case("bind with a live new_id", body)


# --- malformed messages ---

@suite.test
def test_size_below_header():
	for size in (0, 4):
		def body(c):
			send_quietly(c, message(1, 0, new_id(c.new_id()), size=size))
			expect_error(c, "size %d" % size, {INVALID_METHOD})
		run_case("size field %d" % size, body)


@suite.test
def test_size_not_multiple_of_4():
	def body(c):
		send_quietly(c, message(1, 0, new_id(c.new_id()), b"\0" * 4, size=14))
		expect_error(c, "size 14", {INVALID_METHOD})
	run_case("size field not a multiple of 4", body)


@suite.test
def test_size_above_4096():
	for size in (4100, 0xFFFC):
		def body(c):
			send_quietly(c, message(1, 0, new_id(c.new_id()), b"\0" * (size - 12), size=size))
			expect_error(c, "size %d" % size, {INVALID_METHOD})
		run_case("size field %d" % size, body)


@suite.test
def test_size_too_small_for_args():
	def body(c):
		send_quietly(c, message(1, 0, size=8))  # wl_display.sync without its new_id
		expect_error(c, "sync without arguments", {INVALID_METHOD})
	run_case("message shorter than its arguments", body)


@suite.test
def test_size_larger_than_args():
	def body(c):
		send_quietly(c, message(1, 0, new_id(c.new_id()), uint(0), uint(0)))
		expect_error(c, "sync with trailing words", {INVALID_METHOD})
	run_case("message longer than its arguments", body)


@suite.test
def test_truncated_message():
	"""The header says 16 bytes, 12 arrive, then the write side closes."""
	def body(c):
		compositor = c.bind_global("wl_compositor", 4)
		c.roundtrip()
		data = message(compositor, COMPOSITOR_CREATE_REGION, new_id(c.new_id()), uint(0))
		assert len(data) == 16
		send_quietly(c, data[:12])
		c.shutdown_write()
		expect_disconnect(c, "truncated message then EOF")
	run_case("truncated message", body)


@suite.test
def test_truncated_header_then_close():
	def body(c):
		send_quietly(c, message(1, 0, new_id(c.new_id()))[:5])
		c.shutdown_write()
		expect_disconnect(c, "half a header then EOF")
	run_case("truncated header", body)


@suite.test
def test_string_unterminated():
	def body(c):
		top = toplevel(c)
		send_quietly(c, message(top, TOPLEVEL_SET_APP_ID, uint(4), b"abcd"))
		roundtrip_then_error(c, "unterminated string", {INVALID_METHOD})
	run_case("unterminated string", body)


@suite.test
def test_string_length_past_message():
	def body(c):
		top = toplevel(c)
		send_quietly(c, message(top, TOPLEVEL_SET_APP_ID, uint(100), b"abc\0"))
		roundtrip_then_error(c, "string length past the message", {INVALID_METHOD})
	run_case("string length past the message", body)


@suite.test
def test_string_length_huge():
	def body(c):
		top = toplevel(c)
		send_quietly(c, message(top, TOPLEVEL_SET_TITLE, uint(0xFFFFFFF0), b"abc\0"))
		roundtrip_then_error(c, "string length 0xfffffff0", {INVALID_METHOD})
	run_case("string length near 2^32", body)


@suite.test
def test_string_embedded_nul_short():
	"""Length says 8 but the NUL is at 3: libwayland takes the length's last byte."""
	def body(c):
		top = toplevel(c)
		send_quietly(c, message(top, TOPLEVEL_SET_TITLE, uint(8), b"ab\0defgh"))
		roundtrip_then_error(c, "string whose last byte is not NUL", {INVALID_METHOD})
	run_case("string not NUL-terminated at its length", body)


@suite.test
def test_string_embedded_nul():
	"""The compositor would see "ab", a checker reading to the length something else."""
	def body(c):
		top = toplevel(c)
		send_quietly(c, message(top, TOPLEVEL_SET_TITLE, uint(8), b"ab\0defg\0"))
		roundtrip_then_error(c, "string with an embedded NUL", {INVALID_METHOD})
	run_case("string with an embedded NUL", body)


@suite.test
def test_null_string_not_allowed():
	def body(c):
		top = toplevel(c)
		send_quietly(c, message(top, TOPLEVEL_SET_APP_ID, string(None)))
		roundtrip_then_error(c, "null app_id", {INVALID_METHOD})
	run_case("null string where not allowed", body)


@suite.test
def test_null_object_not_allowed():
	def body(c):
		wm_base = c.bind_global("xdg_wm_base", 1)
		send_quietly(c, message(wm_base, WM_BASE_GET_XDG_SURFACE, new_id(c.new_id()), obj(0)))
		roundtrip_then_error(c, "null wl_surface for get_xdg_surface",
		                     {INVALID_OBJECT, INVALID_METHOD})
	run_case("null object where not allowed", body)


@suite.test
def test_bind_interface_length_past_message():
	def body(c):
		send_quietly(c, message(c.registry, 0, uint(1), uint(64), b"wl_compositor\0\0\0",
		                        uint(1), uint(c.new_id())))
		roundtrip_then_error(c, "bind interface length past the message", {INVALID_METHOD})
	run_case("bind with an interface length past the message", body)


@suite.test
def test_random_garbage():
	for seed in range(20):
		def body(c):
			rng = random.Random(seed)
			send_quietly(c, bytes(rng.getrandbits(8) for _ in range(16384)))
			c.shutdown_write()  # a partial last message must not keep it waiting
			expect_disconnect(c, "16 KiB of garbage (seed %d)" % seed)
			if c.error is not None:
				assert c.error[1] in (INVALID_OBJECT, INVALID_METHOD), c.error
		run_case("random garbage (seed %d)" % seed, body)


@suite.test
def test_garbage_after_valid_prefix():
	def body(c):
		compositor, region_id = region(c)
		c.roundtrip()
		rng = random.Random(4242)
		send_quietly(c, message(region_id, REGION_ADD, int_(0), int_(0), int_(5), int_(5))
		             + bytes(rng.getrandbits(8) for _ in range(4096)))
		c.shutdown_write()
		expect_disconnect(c, "garbage after a valid request")
	run_case("garbage after a valid prefix", body)


@suite.test
def test_compositor_errors_reach_the_client():
	"""Errors sway raises come back with the client's object ids, then a disconnect."""
	def scale_zero(c):
		compositor = c.bind_global("wl_compositor", 4)
		for _ in range(7):  # so that the client's ids are not sway's
			c.send(compositor, COMPOSITOR_CREATE_REGION, new_id(c.new_id("wl_region")))
		surface = c.new_id("wl_surface")
		c.send(compositor, COMPOSITOR_CREATE_SURFACE, new_id(surface))
		send_quietly(c, message(surface, 8, int_(0)) + message(surface, SURFACE_COMMIT))
		roundtrip_then_error(c, "wl_surface.set_buffer_scale(0)", {0}, {surface})
	run_case("wl_surface.set_buffer_scale(0)", scale_zero)

	def bad_serial(c):
		top = toplevel(c)
		wm_base = c.global_name("xdg_wm_base") and next(
			i for i, iface in c.interfaces.items() if iface == "xdg_wm_base")
		xdg_surface = top - 1
		assert c.interfaces[xdg_surface] == "xdg_surface"
		send_quietly(c, message(xdg_surface, 4, uint(123456)))  # ack_configure
		# wlroots posts xdg_wm_base.invalid_surface_state (4) on the wm_base
		roundtrip_then_error(c, "ack_configure(123456)", {4}, {wm_base, xdg_surface})
	run_case("xdg_surface.ack_configure with a wrong serial", bad_serial)


# --- fds ---

@suite.test
def test_fd_missing():
	def body(c):
		shm = c.bind_global("wl_shm", 1)
		send_quietly(c, message(shm, SHM_CREATE_POOL, new_id(c.new_id()), int_(4096)))
		roundtrip_then_error(c, "create_pool without an fd")
		err = c.error
		assert (err[0], err[1]) in ((1, INVALID_METHOD), (shm, SHM_INVALID_FD)), err
	run_case("message needing an fd sent with none", body)


@suite.test
def test_fd_extra():
	"""An fd attached to a request that takes none: refused, or kept and closed, never leaked.

	(Like libwayland, a proxy may keep it for a later request: fds can arrive
	before the bytes of the request that carries them.)"""
	def body(c):
		fd = w.memfd(4096)
		try:
			send_quietly(c, message(1, 0, new_id(c.new_id("wl_callback"))), fds=[fd])
		finally:
			os.close(fd)
		try:
			c.roundtrip()
		except (w.ProtocolError, w.Disconnected):
			expect_error(c, "fd with wl_display.sync")
	run_case("fd sent with a request that takes none", body)


@suite.test
def test_fd_ahead_of_its_message():
	"""Valid: one write of 16 KiB of 8-byte requests, then create_pool, its fd attached.

	The kernel hands the fd over with the first bytes of the write; a reader
	that takes less than the whole write sees the fd before the request that
	carries it, possibly at a message boundary. That is not an error."""
	conn = hostile()
	try:
		compositor = conn.bind_global("wl_compositor", 4)
		shm = conn.bind_global("wl_shm", 1)
		conn.on(shm, lambda ev: None)
		surface = conn.new_id("wl_surface")
		conn.send(compositor, COMPOSITOR_CREATE_SURFACE, new_id(surface))
		conn.roundtrip()
		for commits in (2048, 4096, 8192):
			fd = w.memfd(4096)
			pool = conn.new_id("wl_shm_pool")
			try:
				conn.send_raw(message(surface, SURFACE_COMMIT) * commits
				              + message(shm, SHM_CREATE_POOL, new_id(pool), int_(4096)), fds=[fd])
			finally:
				os.close(fd)
			roundtrip_ok(conn, "%d commits then create_pool, fd attached to the write" % commits)
	finally:
		conn.close()
	check_others("an fd ahead of its message")


def open_fds(count):
	return [os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC) for _ in range(count)]


def close_fds(fds):
	for fd in fds:
		os.close(fd)


@suite.test
def test_fd_flood_one_sendmsg():
	def body(c):
		fds = open_fds(253)  # SCM_MAX_FD: the most one sendmsg can carry
		try:
			send_quietly(c, message(1, 0, new_id(c.new_id("wl_callback"))), fds=fds)
		finally:
			close_fds(fds)
		try:
			c.roundtrip()
		except (w.ProtocolError, w.Disconnected):
			expect_disconnect(c, "253 fds in one sendmsg")
			return
		held = proxy_fds() - S.fd_base
		assert held <= MAX_FDS + 4, "proxy holds %d extra fds for one client" % held
	run_case("253 fds in one sendmsg", body)


@suite.test
def test_fd_flood_many_sendmsg():
	def body(c):
		peak = 0
		for _ in range(40):
			fds = open_fds(28)
			try:
				ok = send_quietly(c, message(1, 0, new_id(c.new_id("wl_callback"))), fds=fds)
			finally:
				close_fds(fds)
			if not ok:
				break
			peak = max(peak, proxy_fds() - S.fd_base)
		try:
			c.roundtrip()
		except (w.ProtocolError, w.Disconnected):
			expect_disconnect(c, "40 x 28 fds")
		peak = max(peak, proxy_fds() - S.fd_base)
		assert peak <= MAX_FDS + 4, "proxy held up to %d extra fds for one client" % peak
	run_case("1120 fds over 40 sendmsgs", body)


@suite.test
def test_fd_flood_with_fd_requests():
	"""Valid create_pool requests, each with its fd, far more than --max-fds at once."""
	def body(c):
		shm = c.bind_global("wl_shm", 1)
		c.on(shm, lambda ev: None)
		c.roundtrip()
		for _ in range(60):
			batch = b""
			fds = []
			for _ in range(8):
				fds.append(w.memfd(4096))
				batch += message(shm, SHM_CREATE_POOL, new_id(c.new_id("wl_shm_pool")),
				                 int_(4096))
			try:
				ok = send_quietly(c, batch, fds=fds)
			finally:
				close_fds(fds)
			if not ok:
				break
		try:
			c.roundtrip()
		except (w.ProtocolError, w.Disconnected):
			pass  # refusing is fine; leaking is not (checked after close)
	run_case("480 valid pools created in 60 writes", body)


# --- wl_shm ---

@suite.test
def test_shm_pool_larger_than_fd():
	def body(c):
		shm, pool = shm_pool(c, 1 << 20, fd_size=4096)
		create_buffer(c, pool, 0, 256, 256, 1024)
		roundtrip_then_error(c, "pool of 1 MiB over a 4 KiB memfd", {SHM_INVALID_FD,
		                                                              SHM_INVALID_STRIDE},
		                     {shm, pool})
	run_case("create_pool larger than the memfd", body)


@suite.test
def test_shm_pool_bad_sizes():
	for size in (0, -4096):
		def body(c):
			shm, _pool = shm_pool(c, size, fd_size=4096)
			roundtrip_then_error(c, "pool of size %d" % size, {SHM_INVALID_STRIDE, SHM_INVALID_FD},
			                     {shm})
		run_case("create_pool of size %d" % size, body)


@suite.test
def test_shm_pool_fd_not_mappable():
	def body(c):
		shm = c.bind_global("wl_shm", 1)
		rd, wr = os.pipe2(os.O_CLOEXEC)
		try:
			send_quietly(c, message(shm, SHM_CREATE_POOL, new_id(c.new_id()), int_(4096)),
			             fds=[rd])
		finally:
			os.close(rd)
			os.close(wr)
		roundtrip_then_error(c, "pool over a pipe", {SHM_INVALID_FD}, {shm})
	run_case("create_pool over a pipe", body)


SHM_BAD_BUFFERS = [
	# (what, offset, width, height, stride)
	("outside its pool", 0, 32, 33, 128),
	("offset past the pool", 4096, 1, 1, 4),
	("negative offset", -4, 1, 1, 4),
	("negative width", 0, -1, 4, 128),
	("negative height", 0, 4, -1, 128),
	("zero width", 0, 0, 4, 128),
	("huge width and height", 0, 0x7FFFFFFF, 0x7FFFFFFF, 4),
	("height * stride overflowing 32 bits", 0, 1, 0x40000001, 4),
	("negative stride", 0, 4, 4, -16),
	("stride too small for the width", 0, 16, 4, 32),
]


@suite.test
def test_shm_bad_buffers():
	for what, offset, width, height, stride in SHM_BAD_BUFFERS:
		def body(c):
			_shm, pool = shm_pool(c, 4096)
			create_buffer(c, pool, offset, width, height, stride)
			roundtrip_then_error(c, "create_buffer " + what, {SHM_INVALID_STRIDE}, {pool})
		run_case("create_buffer " + what, body)


@suite.test
def test_shm_unknown_format():
	def body(c):
		_shm, pool = shm_pool(c, 4096)
		create_buffer(c, pool, 0, 16, 4, 64, fmt=0x12345678)
		roundtrip_then_error(c, "create_buffer format 0x12345678", {SHM_INVALID_FORMAT}, {pool})
	run_case("create_buffer with an unknown format", body)


@suite.test
def test_shm_pool_shrink():
	def body(c):
		_shm, pool = shm_pool(c, 4096)
		send_quietly(c, message(pool, POOL_RESIZE, int_(1024)))
		roundtrip_then_error(c, "resize 4096 -> 1024", {SHM_INVALID_STRIDE, SHM_INVALID_FD},
		                     {pool})
	run_case("resize a pool smaller", body)


@suite.test
def test_shm_pool_grow_past_fd():
	"""A pool resized past its memfd. The proxy keeps no pool fd (one fd per
	pool would let a guest fill the proxy's fd table and lock every other
	client out), so it checks a pool's size against its fd at create_pool
	and only growth at resize. A buffer beyond the file is then the
	compositor's to refuse: libwayland maps pools under a SIGBUS guard. The
	client may get the compositor's error; the proxy and everyone else must
	go on, which run_case checks."""
	def body(c):
		_shm, pool = shm_pool(c, 4096)
		send_quietly(c, message(pool, POOL_RESIZE, int_(1 << 24)))
		buf = create_buffer(c, pool, 0, 1024, 1024, 4096)
		compositor = c.bind_global("wl_compositor", 4)
		surface = c.new_id("wl_surface")
		send_quietly(c, message(compositor, COMPOSITOR_CREATE_SURFACE, new_id(surface)))
		send_quietly(c, message(surface, SURFACE_ATTACH, obj(buf), int_(0), int_(0)))
		send_quietly(c, message(surface, SURFACE_COMMIT))
		try:
			c.roundtrip()
		except (w.ProtocolError, w.Disconnected) as e:
			tap.diag("resize past the memfd: the compositor answered %r" % (e,))
	run_case("resize a pool past its memfd", body)


@suite.test
def test_shm_valid_pool_still_works():
	"""Control: the same calls with sane values are accepted."""
	conn = hostile()
	try:
		_shm, pool = shm_pool(conn, 4096)
		create_buffer(conn, pool, 0, 16, 16, 64)
		conn.send(pool, POOL_RESIZE, int_(4096))
		roundtrip_ok(conn, "a valid pool and buffer")
		assert conn.error is None and not conn.closed
	finally:
		conn.close()
	check_others("a valid pool")


# --- resource exhaustion ---

@suite.test
def test_object_limit():
	count = 2 * MAX_OBJECTS

	def body(c):
		compositor = c.bind_global("wl_compositor", 4)
		c.roundtrip()
		first = c.next_id
		ids = array("I", range(first, first + count))
		words = array("I", [0]) * (3 * count)
		words[0::3] = array("I", [compositor]) * count
		words[1::3] = array("I", [(12 << 16) | COMPOSITOR_CREATE_REGION]) * count
		words[2::3] = ids
		c.next_id += count
		data = words.tobytes()
		for start in range(0, len(data), 1 << 16):
			if not send_quietly(c, data[start:start + (1 << 16)]):
				break
			c.read_some(0)  # keep the reply path open, as a client would
		roundtrip_then_error(c, "%d wl_regions" % count)
		assert c.error[1] in (w.DISPLAY_ERROR_NO_MEMORY, w.DISPLAY_ERROR_IMPLEMENTATION,
		                      INVALID_OBJECT, INVALID_METHOD), c.error
	run_case("%d objects" % count, body)
	rss = proxy_rss_kib()
	tap.diag("after %d objects: VmRSS %d KiB (baseline %d)" % (count, rss, S.rss_base))
	assert rss - S.rss_base < RSS_SLACK_KIB, "VmRSS grew by %d KiB" % (rss - S.rss_base)


@suite.test
def test_objects_below_limit_are_fine():
	"""Control: 40000 live objects (under the limit) work and are freed at disconnect."""
	count = MAX_OBJECTS - 10000

	def body(c):
		compositor = c.bind_global("wl_compositor", 4)
		data = b"".join(message(compositor, COMPOSITOR_CREATE_REGION, new_id(c.new_id()))
		                for _ in range(count))
		c.send_raw(data)
		roundtrip_ok(c, "%d wl_regions" % count, timeout=30)
	run_case("%d objects" % count, body)


def peer_closed(conn):
	"""True if the other end closed conn (checked without reading)."""
	poller = select.poll()
	poller.register(conn.sock, select.POLLRDHUP | select.POLLHUP)
	return any(ev & (select.POLLRDHUP | select.POLLHUP) for _, ev in poller.poll(0))


@suite.test
def test_flood_never_reading():
	"""A client sends wl_display.sync without end and never reads: backpressure, not RSS."""
	count = 1000000
	words = array("I", [0]) * (3 * count)
	words[0::3] = array("I", [1]) * count
	words[1::3] = array("I", [12 << 16]) * count
	words[2::3] = array("I", range(2, 2 + count))
	data = memoryview(words.tobytes())
	flood = w.Connection(S.proxy.socket)
	try:
		sent = 0
		stalled = 0.0
		while sent < len(data) and stalled < 3.0:
			try:
				n = flood.try_send(data[sent:sent + (1 << 16)])
			except w.Disconnected:
				time.sleep(0.5)
				raise AssertionError("the proxy closed the flooding client after %d bytes "
				                     "instead of pushing back\n--- vmdesk-proxy log ---\n%s"
				                     % (sent, S.proxy.log()[-3000:])) from None
			if n:
				sent += n
				stalled = 0.0
			else:
				poller = select.poll()
				poller.register(flood.sock, select.POLLOUT)
				if not poller.poll(200):
					stalled += 0.2
		rss = proxy_rss_kib()
		tap.diag("flood: %d of %d bytes accepted before the proxy stopped reading; VmRSS %d KiB "
		         "(baseline %d)" % (sent, len(data), rss, S.rss_base))
		assert sent < len(data), "the proxy read all %d bytes: no backpressure" % len(data)
		assert not peer_closed(flood), "the proxy closed the flooding client instead of " \
			"pushing back"
		# others are served while the flooder is stuck
		S.proxy.check_alive()
		S.witness.roundtrip()
		with w.connect(S.proxy.socket) as c:
			c.roundtrip()
		assert rss - S.rss_base < RSS_SLACK_KIB, "VmRSS grew by %d KiB" % (rss - S.rss_base)
	finally:
		flood.close()
	check_others("a client flooding without reading")
	rss = proxy_rss_kib()
	assert rss - S.rss_base < RSS_SLACK_KIB, "VmRSS grew by %d KiB" % (rss - S.rss_base)


@suite.test
def test_connect_disconnect_200():
	for _ in range(200):
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
		s.connect(S.proxy.socket)
		s.close()
	check_others("200 connect/disconnect")


@suite.test
def test_disconnect_with_requests_in_flight():
	for _ in range(20):
		c = hostile()
		compositor = c.bind_global("wl_compositor", 4)
		c.send_raw(b"".join(message(compositor, COMPOSITOR_CREATE_SURFACE, new_id(c.new_id()))
		                    for _ in range(200)) + message(1, 0, new_id(c.new_id())))
		c.close()
	check_others("20 clients closing with requests in flight")


# --- cases that reach deep: each on its own sway and proxy ---
# A proxy or sway crash here must not hide the other cases, so each runs on a
# fresh sway with a fresh proxy (and witness window) and all are reported.

def outcome_of(conn):
	"""Round trip after a bad request: "accepted" or the error that ended it."""
	try:
		conn.roundtrip()
		return "accepted"
	except (w.ProtocolError, w.Disconnected):
		conn.wait_disconnect(DISCONNECT_TIMEOUT)
		return "error %r" % (conn.error,)


def first_line(exc):
	text = str(exc).strip()
	head = text.splitlines()[0] if text else type(exc).__name__
	report = [line.strip() for line in text.splitlines()[1:]
	          if "ERROR: AddressSanitizer" in line or "runtime error:" in line
	          or line.strip().startswith("#0 ") or line.strip().startswith("#1 ")]
	return " | ".join([head] + report[:3])


def in_fresh_session(what, action):
	"""action(comp, proxy) on a new sway + proxy + witness; returns a problem or None.

	Afterwards sway and the proxy must be alive, the witness must round-trip,
	a new client must work, no window of the hostile client may be left, and
	the proxy must exit cleanly on SIGTERM (no sanitizer report)."""
	try:
		with Sway() as comp:
			try:
				with Proxy(vm="work", upstream=comp.display) as p:
					with w.Window(p.socket, WITNESS_APP_ID) as witness:
						action(comp, p)
						p.check_alive()
						witness.roundtrip()
						with w.connect(p.socket) as c:
							c.roundtrip()
						comp.wait_for(lambda: [v["app_id"] for v in comp.windows()]
						              == ["vmdesk.work." + WITNESS_APP_ID], timeout=10,
						              what="only the witness window to be left")
			except Exception:
				if not comp.alive():
					return "%s: sway crashed (status %s)" % (what, comp.proc.poll())
				raise
	except Exception as e:  # each case is reported, none hides the next
		return "%s: %s" % (what, first_line(e))
	return None


def run_fresh_cases(cases):
	problems = []
	for what, action in cases:
		problem = in_fresh_session(what, action)
		if problem:
			tap.diag("FAILED " + problem)
			problems.append(problem)
	assert not problems, "%d of %d cases failed:\n%s" % (len(problems), len(cases),
	                                                      "\n".join(problems))


def subsurface_of_itself(win):
	c = win.conn
	sub = c.bind_global("wl_subcompositor", 1)
	return message(sub, 1, new_id(c.new_id("wl_subsurface")), obj(win.surface),
	               obj(win.surface))


MAPPED_WINDOW_CASES = [
	# (what, win -> bytes to send)
	("wl_surface destroyed before its xdg_surface",
	 lambda win: message(win.surface, 0)),
	("xdg_surface destroyed before its xdg_toplevel",
	 lambda win: message(win.xdg_surface, 0)),
	("xdg_wm_base destroyed with a live toplevel",
	 lambda win: message(win.wm_base, 0)),
	("attached wl_buffer destroyed, then commit",
	 lambda win: message(win.buffer, 0) + message(win.surface, SURFACE_COMMIT)),
	("second xdg_toplevel for the same xdg_surface",
	 lambda win: message(win.xdg_surface, XDG_SURFACE_GET_TOPLEVEL,
	                     new_id(win.conn.new_id("xdg_toplevel")))),
	("second xdg_surface for the same wl_surface",
	 lambda win: message(win.wm_base, WM_BASE_GET_XDG_SURFACE,
	                     new_id(win.conn.new_id("xdg_surface")), obj(win.surface))),
	("wl_surface used as its own subsurface parent", subsurface_of_itself),
	("xdg_toplevel set_parent to itself",
	 lambda win: message(win.toplevel, 1, obj(win.toplevel))),
	("xdg_toplevel destroyed, then the surface commits a buffer",
	 lambda win: message(win.toplevel, 0)
	 + message(win.surface, 1, obj(win.buffer), int_(0), int_(0))
	 + message(win.surface, SURFACE_COMMIT)),
]


@suite.test
def test_mapped_window_rule_breaking():
	"""A mapped window breaks xdg-shell's rules: the proxy (and its frame) must cope.

	Sway decides whether each is an error; either way the proxy survives, and
	once the client is gone its window is gone too."""
	def case(what, build):
		def action(comp, p):
			with w.Window(p.socket, "hostile-shell") as win:
				comp.wait_for(lambda: len(comp.windows()) == 2, timeout=10,
				              what="the hostile window")
				send_quietly(win.conn, build(win))
				tap.diag("%s: %s" % (what, outcome_of(win.conn)))
		return what, action
	run_fresh_cases([case(what, build) for what, build in MAPPED_WINDOW_CASES])


# Requests that kill sway 1.7 (wlroots 0.15, SIGSEGV) when sent to it directly.

def crash_popup_parent_itself(c):
	compositor = c.bind_global("wl_compositor", 4)
	wm_base = c.bind_global("xdg_wm_base", 1)
	c.on(wm_base, lambda ev: None)
	surface = c.new_id("wl_surface")
	c.send(compositor, COMPOSITOR_CREATE_SURFACE, new_id(surface))
	xdg_surface = c.new_id("xdg_surface")
	c.send(wm_base, WM_BASE_GET_XDG_SURFACE, new_id(xdg_surface), obj(surface))
	positioner = c.new_id("xdg_positioner")
	c.send(wm_base, 1, new_id(positioner))
	c.send(positioner, 1, int_(10), int_(10))  # set_size
	c.send(positioner, 2, int_(0), int_(0), int_(10), int_(10))  # set_anchor_rect
	send_quietly(c, message(xdg_surface, 2, new_id(c.new_id("xdg_popup")), obj(xdg_surface),
	                        obj(positioner)))


def crash_toplevel_request_after_surface_destroy(c):
	compositor = c.bind_global("wl_compositor", 4)
	wm_base = c.bind_global("xdg_wm_base", 1)
	c.on(wm_base, lambda ev: None)
	surface = c.new_id("wl_surface")
	c.send(compositor, COMPOSITOR_CREATE_SURFACE, new_id(surface))
	xdg_surface = c.new_id("xdg_surface")
	c.send(wm_base, WM_BASE_GET_XDG_SURFACE, new_id(xdg_surface), obj(surface))
	top = c.new_id("xdg_toplevel")
	c.send(xdg_surface, XDG_SURFACE_GET_TOPLEVEL, new_id(top))
	c.send(surface, 0)  # wl_surface.destroy, role objects still alive
	send_quietly(c, message(top, TOPLEVEL_SET_TITLE, string("after the surface")))


@suite.test
def test_compositor_crashers_stopped():
	"""The proxy must not forward what is known to crash the compositor."""
	def case(what, body):
		def action(comp, p):
			with w.connect(p.socket) as conn:
				body(conn)
				tap.diag("%s: %s" % (what, outcome_of(conn)))
		return what, action
	run_fresh_cases([
		case("xdg_popup whose parent is its own xdg_surface", crash_popup_parent_itself),
		case("xdg_toplevel.set_title after its wl_surface was destroyed",
		     crash_toplevel_request_after_surface_destroy),
	])


# --- teardown ---

@suite.test
def test_proxy_survived_and_exits_clean():
	S.proxy.check_alive()
	check_others("all cases")
	rss = proxy_rss_kib()
	tap.diag("end: %d fds (baseline %d), VmRSS %d KiB (baseline %d)"
	         % (proxy_fds(), S.fd_base, rss, S.rss_base))
	S.witness.close()
	S.witness = None
	proxy, S.proxy = S.proxy, None
	proxy.__exit__(None, None, None)  # SIGTERM; raises on a bad status or a sanitizer report


def main():
	try:
		failed = suite.run(exit=False)
	finally:
		if S.witness is not None:
			S.witness.close()
		if S.proxy is not None:
			problem = S.proxy.stop()
			S.proxy._cleanup()
			if problem:
				tap.diag(problem)
		if S.stack is not None:
			try:
				S.stack.close()
			except Exception as e:  # e.g. sway died: already a failed test
				tap.diag("teardown: %s" % str(e).splitlines()[0])
				failed = failed or 1
	sys.exit(1 if failed else 0)


if __name__ == "__main__":
	main()
