"""Log and terminal injection (issue 11, finding 8): a VM client puts newlines,
a forged log line, escape sequences, C1 and bidi controls and invalid UTF-8
into the strings it sends (the interface name of wl_registry.bind, a title,
an app ID, a MIME type). The proxy's log, with and without --trace, must hold
only its own lines, one per message, with no raw control byte.

Run: meson test -C BUILD hostile-log
"""

import contextlib
import re

import tap
import wlwire as w
from compositor import Sway
from proxy import Proxy

suite = tap.Suite()

FORGED = "12:00:00.000 vmdesk-proxy[client] vm=banking pid=1 disconnected (protocol error)"
PAYLOAD = ("\n" + FORGED + "\n" + FORGED + "\r\n\x1b[2J\x1b]0;owned\x07\x1b[1A\x08\x7f"
           + "\u009b31m\u0085\u202eevil\u2066\u2028").encode() + b"\xff\xfe\xc0\xaf\xed\xa0\x80"
# A proxy log line: [time] vmdesk-proxy[tag] [level: ]message
LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3} )?vmdesk-proxy\[[a-z-]+\] (error: |warning: )?(.*)$")
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e"
                    "\u2066-\u2069\u2028\u2029]")

# opcodes (wayland.xml, xdg-shell.xml)
DDM_CREATE_DATA_SOURCE = 0
SOURCE_OFFER = 0
TOPLEVEL_SET_TITLE = 2
TOPLEVEL_SET_APP_ID = 3


def check_log(data, vm, what):
	"""Each line of the proxy's log is one of its own, about its own VM, valid
	UTF-8 without control characters."""
	text = data.decode("utf-8", errors="surrogateescape")  # bad bytes: U+DC80..U+DCFF
	# LeakSanitizer's list of suppressions used (ASan builds) is not the proxy's
	text = re.split(r"(?m)^-+\nSuppressions used:\n", text)[0]
	assert text.endswith("\n"), "%s: the log does not end a line" % what
	for line in text[:-1].split("\n"):
		m = LINE.match(line)
		assert m is not None, "%s: not a line of the proxy: %r" % (what, line)
		message = m.group(3)
		assert not message.startswith("vm=banking"), "%s: forged line %r" % (what, line)
		# what the proxy says itself comes before any escaped or quoted peer string
		for word in re.findall(r"\bvm=([^\s:]+)", re.split(r'[\\"]', message)[0]):
			assert word == vm, "%s: a line about VM %r: %r" % (what, word, line)
		m = UNSAFE.search(line)
		assert m is None, "%s: raw control %r in the log line %r" % (what, m.group(), line)
		m = re.search("[\udc80-\udcff]", line)
		assert m is None, "%s: invalid UTF-8 in the log line %r" % (what, line)


def toplevel(conn):
	compositor = conn.bind_global("wl_compositor", 4)
	wm_base = conn.bind_global("xdg_wm_base", 1)
	surface = conn.new_id("wl_surface")
	conn.send(compositor, w.COMPOSITOR_CREATE_SURFACE, w.new_id(surface))
	xdg_surface = conn.new_id("xdg_surface")
	conn.send(wm_base, w.WM_BASE_GET_XDG_SURFACE, w.new_id(xdg_surface), w.obj(surface))
	top = conn.new_id("xdg_toplevel")
	conn.send(xdg_surface, w.XDG_SURFACE_GET_TOPLEVEL, w.new_id(top))
	return top


def attack_bind(proxy):
	"""The interface name of wl_registry.bind (logged with the protocol error)."""
	with w.connect(proxy.socket) as c:
		name = c.global_name("wl_compositor")
		c.send(c.registry, w.REGISTRY_BIND, w.uint(name),
		       w.string(b"wl_compositor" + PAYLOAD) + w.uint(1) + w.uint(c.new_id()))
		assert c.wait_disconnect(10), "the proxy kept the client"
		assert c.error is not None


def attack_strings(proxy):
	"""Strings that are forwarded or served (traced): title, app ID, MIME type."""
	with w.connect(proxy.socket) as c:
		top = toplevel(c)
		c.send(top, TOPLEVEL_SET_TITLE, w.string(b"title" + PAYLOAD))
		c.send(top, TOPLEVEL_SET_APP_ID, w.string(b"app" + PAYLOAD))
		ddm = c.bind_global("wl_data_device_manager", 3)
		source = c.new_id("wl_data_source")
		c.send(ddm, DDM_CREATE_DATA_SOURCE, w.new_id(source))
		c.send(source, SOURCE_OFFER, w.string(b"text/plain" + PAYLOAD))
		c.send(source, SOURCE_OFFER, w.string(b"\x1b" * 3000))
		c.roundtrip()
		assert c.error is None, c.error


def run(args, what):
	with contextlib.ExitStack() as stack:
		comp = stack.enter_context(Sway())
		proxy = stack.enter_context(Proxy(vm="work", upstream=comp.display,
		                                  args=["--log-level", "debug"] + args))
		if "--trace" in args:
			attack_strings(proxy)
			proxy.wait_log(r'offer\("\S')
		else:
			attack_bind(proxy)
			proxy.wait_log(r"unknown interface wl_compositor")
		problem = proxy.stop()
		assert problem is None, problem
		with open(proxy._log_path, "rb") as f:
			data = f.read()
		check_log(data, "work", what)
		return data.decode()


@suite.test
def test_log_has_no_forged_line():
	"""A bind with an interface name holding newlines, a forged "vm=banking"
	line and escape sequences: the log line about it is one line, escaped."""
	text = run([], "log")
	assert "vm=work pid=" in text and "\\n12:00:00.000 vmdesk-proxy[client] vm=banking" \
		in text, text[-3000:]
	assert "\\x1b[2J\\x1b]0;owned\\x07" in text, text[-3000:]
	assert "\\u009b31m\\u0085\\u202eevil\\u2066\\u2028\\xff\\xfe\\xc0\\xaf\\xed\\xa0\\x80" \
		in text, text[-3000:]


@suite.test
def test_trace_has_no_raw_controls():
	"""The same strings in --trace lines (set_title, set_app_id, offer)."""
	text = run(["--trace"], "--trace")
	assert 'xdg_toplevel@' in text and '.set_title("title\\n12:00:00.000' in text, text[-3000:]
	assert '\\x1b[2J\\x1b]0;owned\\x07' in text
	assert '.offer("\\x1b\\x1b' in text


if __name__ == "__main__":
	suite.run()
