"""The per-VM clipboards and the global clipboard (issue 4), end to end:
headless sway, two proxies (VMs a and b) joined to vmdesk-clipd, wl-copy /
wl-paste through the proxies and on the host, vmdesk-clip for copy/paste."""

import os
import socket
import struct
import subprocess
import tempfile
import time
import uuid

import tap
import vdlink as v
import wlwire as w
from cliplib import CLIP, CLIPD, VMDESK, Clipd, Desk, HostdClipboard, PrivateBus, write_and_close
from compositor import Sway, wait_for
from proxy import Proxy

suite = tap.Suite()
UTF8 = "text/plain;charset=utf-8"


def unique(prefix):
	return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def assert_refused(r, *words):
	assert r.returncode == 1, "expected a refusal (exit 1): %r" % (r,)
	for word in words:
		assert word in r.stderr, "%r not in %r" % (word, r.stderr)


def assert_empty_global(d):
	assert d.show()["global clipboard"] == "empty", d.show()


@suite.test
def test_vm_clipboards_are_isolated():
	"""wl-copy in a: another client of a pastes it; b and the host do not (clipboard
	and primary selection)."""
	with Desk() as d:
		for primary in (False, True):
			text = unique("primary" if primary else "clip")
			d.copy_in(d.a, text, primary=primary)
			d.wait_paste(d.a, text, primary=primary)
			assert d.paste_in(d.b, primary=primary) != text
			assert d.paste_in("host", primary=primary) != text
		assert_empty_global(d)


@suite.test
def test_copy_in_a_paste_in_b():
	"""Global copy with a focused, global paste with b focused: b gets a's text, the
	host clipboard is unchanged, the global clipboard is empty afterwards."""
	with Desk() as d:
		host_text = unique("host-keep")
		d.copy_in("host", host_text)
		d.wait_paste("host", host_text)
		text = unique("from-a")
		d.copy_in(d.a, text)
		d.wait_paste(d.a, text)
		with d.window(d.a) as wa:
			d.wait_focus("a", [wa])
			r = d.clip("copy", windows=[wa])
			assert r.returncode == 0, r
			assert "Copied %d bytes from a" % len(text) in r.stdout, r.stdout
			show = d.show()
			assert show["source"] == "a" and show["size"] == str(len(text)), show
			assert d.paste_in(d.b) != text
			with d.window(d.b) as wb:
				d.wait_focus("b", [wa, wb])
				r = d.clip("paste", windows=[wa, wb])
				assert r.returncode == 0, r
				assert "into b" in r.stdout, r.stdout
				d.wait_paste(d.b, text)
		assert d.paste_in("host") == host_text
		assert_empty_global(d)
		r = d.clip("paste", "b")
		assert_refused(r, "empty")


@suite.test
def test_hostd_runs_the_global_clipboard():
	"""The same copy a -> paste b with vmdesk-hostd holding the global clipboard
	and `vmdesk clip` as the user types it."""
	with Desk(daemon=HostdClipboard) as d:
		text = unique("via-hostd")
		d.copy_in(d.a, text)
		d.wait_paste(d.a, text)
		with d.window(d.a) as wa:
			d.wait_focus("a", [wa])
			r = d.clip("copy", windows=[wa], cli=(VMDESK, "clip"))
			assert r.returncode == 0, r
			with d.window(d.b) as wb:
				d.wait_focus("b", [wa, wb])
				r = d.clip("paste", windows=[wa, wb], cli=(VMDESK, "clip"))
				assert r.returncode == 0, r
				d.wait_paste(d.b, text)
		assert d.paste_in("host") != text
		assert_empty_global(d)


@suite.test
def test_hostd_rereads_its_policy_under_landlock():
	"""vmdesk-hostd confines its reads (Landlock) once started: a policy written
	afterwards in its directory is still read, and its rule refuses the paste."""
	with Desk(daemon=HostdClipboard) as d:
		with open(d.clipd.policy, "w") as f:
			f.write("# written after hostd started\nallow host -> *\ndeny a -> b\n")
		text = unique("policy-later")
		d.copy_in(d.a, text)
		d.wait_paste(d.a, text)
		r = d.clip("copy", "a")
		assert r.returncode == 0, r
		r = d.clip("paste", "b")
		assert_refused(r, "denied", "%s:3" % d.clipd.policy)
		assert "Permission denied" not in d.clipd.log(), d.clipd.log()


@suite.test
def test_host_to_vm():
	"""No VM focused: copy takes the host clipboard (data-control); paste into a."""
	with Desk() as d:
		text = unique("from-host")
		d.copy_in("host", text)
		d.wait_paste("host", text)
		d.wait_focus("host")
		r = d.clip("copy")
		assert r.returncode == 0 and "from host" in r.stdout, r
		assert d.paste_in(d.a) != text
		with d.window(d.a) as wa:
			d.wait_focus("a", [wa])
			r = d.clip("paste", windows=[wa])
			assert r.returncode == 0, r
			d.wait_paste(d.a, text)
		assert d.paste_in(d.b) != text


@suite.test
def test_vm_to_host():
	"""Copy from a focused; close a's window; paste goes to the host clipboard."""
	with Desk() as d:
		text = unique("to-host")
		d.copy_in(d.a, text)
		d.wait_paste(d.a, text)
		with d.window(d.a) as wa:
			d.wait_focus("a", [wa])
			r = d.clip("copy", windows=[wa])
			assert r.returncode == 0, r
		assert d.paste_in("host") != text
		d.wait_focus("host")
		r = d.clip("paste")
		assert r.returncode == 0 and "into host" in r.stdout, r
		d.wait_paste("host", text)
		for mime in ("text/plain", "UTF8_STRING"):
			assert d.paste_in("host", mime=mime) == text, mime
		# the host clipboard is now served by the daemon itself: copying it back
		# reads from its own source without blocking
		r = d.clip("copy", "host")
		assert r.returncode == 0 and "Copied %d bytes from host" % len(text) in r.stdout, r


def copy_from_window(d, win, mimes, on_send):
	win.set_selection(mimes, on_send)
	return d.clip("copy", windows=[win])


def check_nothing_leaked(d, marker):
	assert d.clipd.alive()
	assert d.a.alive() and d.b.alive()
	assert_empty_global(d)
	for domain in (d.b, "host"):
		got = d.paste_in(domain)
		assert got is None or marker not in got, got


@suite.test
def test_hostile_sources_are_refused():
	"""A source that never writes, writes 100 MiB, writes invalid UTF-8, offers
	1,000 MIME types or names with control characters: each copy is refused, the
	global clipboard stays empty, nothing reaches b or the host, all keep working."""
	with Desk() as d:
		with d.window(d.a) as wa:
			d.wait_focus("a", [wa])
			held = []
			r = copy_from_window(d, wa, [UTF8], lambda mime, fd: held.append(fd))
			assert_refused(r, "in time")
			check_nothing_leaked(d, "never")

			big = b"y" * (100 << 20)
			r = copy_from_window(d, wa, [UTF8], write_and_close(big))
			assert_refused(r, "larger than the limit")
			check_nothing_leaked(d, "yyyy")

			r = copy_from_window(d, wa, [UTF8], write_and_close(b"bad \xff\xfe utf-8"))
			assert_refused(r, "UTF-8")
			check_nothing_leaked(d, "bad")

			for bad in (b"a\x1b[201~; rm -rf ~\n", b"nul\x00byte", "c1 \u009b2J".encode()):
				r = copy_from_window(d, wa, [UTF8], write_and_close(bad))
				assert_refused(r, "control characters")
				check_nothing_leaked(d, bad[:3].decode())

			many = ["application/x-junk-%d" % i for i in range(1000)] + [UTF8]
			r = copy_from_window(d, wa, many, write_and_close(b"many-types"))
			assert_refused(r, "no text")
			check_nothing_leaked(d, "many-types")
			assert "MIME types refused" in d.a.log()

			r = copy_from_window(d, wa, ["text/plain\x01", UTF8 + "\n", "TEXT "],
			                     write_and_close(b"control-names"))
			assert_refused(r)
			check_nothing_leaked(d, "control-names")

			# a pending copy is superseded by a newer command; its late answer is dropped
			wa.set_selection([UTF8], lambda mime, fd: held.append(fd))
			slow = subprocess.Popen([CLIP, "--socket", d.clipd.socket, "copy"],
			                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
			wait_for(lambda: (wa.pump(), len(held) >= 2)[1], timeout=10,
			         what="the second copy request to reach the window")
			r = d.clip("clear")
			assert r.returncode == 0, r
			out, err = slow.communicate(timeout=20)
			assert slow.returncode == 1 and b"superseded" in err, (slow.returncode, err)
			for fd in held:
				os.close(fd)

			# and a good copy still works
			r = copy_from_window(d, wa, [UTF8, "text/plain"], write_and_close(b"fine \xc3\xa9"))
			assert r.returncode == 0, r
			assert d.show()["size"] == str(len(b"fine \xc3\xa9"))


@suite.test
def test_size_limit_and_replacement():
	"""Exactly the limit is copied, one byte more is refused; a short copy after a
	long one pastes exactly the short one (no tail of the old, Qubes' QSB-11)."""
	with Desk(clipd_args=("--max-size", "1000", "--timeout-ms", "1500")) as d:
		with d.window(d.a) as wa:
			d.wait_focus("a", [wa])
			r = copy_from_window(d, wa, [UTF8], write_and_close(b"L" * 1000))
			assert r.returncode == 0, r
			assert d.show()["size"] == "1000"
			r = copy_from_window(d, wa, [UTF8], write_and_close(b"L" * 1001))
			assert_refused(r, "limit is 1000 bytes")
			assert_empty_global(d)
			r = copy_from_window(d, wa, [UTF8], write_and_close(b"L" * 1000))
			assert r.returncode == 0, r
			r = copy_from_window(d, wa, [UTF8], write_and_close(b"abc"))
			assert r.returncode == 0, r
		r = d.clip("paste", "b")
		assert r.returncode == 0, r
		d.wait_paste(d.b, "abc")


@suite.test
def test_stale_serial_and_foreign_offer():
	"""set_selection with a serial the client never got changes nothing; a receive on
	an offer the client was never given is a protocol error for that client only."""
	with Desk() as d:
		text = unique("legit")
		d.copy_in(d.a, text)
		d.wait_paste(d.a, text)
		with d.window(d.a) as wa:
			serial = wa.wait_enter()
			wa.set_selection([UTF8], write_and_close(b"stale"), serial=serial + 100000)
			wa.roundtrip()
			assert wa.conn.error is None
		d.wait_paste(d.a, text)

		raw = w.connect(d.a.socket)
		ddm = raw.bind_global("wl_data_device_manager", 3)
		raw.roundtrip()
		rfd, wfd = os.pipe()
		try:
			raw.send(ddm + 40, 1, w.string(UTF8), fds=[wfd])  # wl_data_offer.receive
			assert raw.wait_disconnect(10), "the proxy kept a client that misbehaved"
			assert raw.error is not None and raw.error[1] == w.DISPLAY_ERROR_INVALID_OBJECT, \
				raw.error
		finally:
			os.close(rfd)
			os.close(wfd)
			raw.close()
		assert d.a.alive()
		d.wait_paste(d.a, text)
		assert d.paste_in(d.b) != text


@suite.test
def test_clipd_restart():
	"""vmdesk-hostd (holding the global clipboard) restarts under running
	proxies: they reconnect, the VMs' own clipboards survive, copy works again."""
	with Desk(daemon=HostdClipboard) as d:
		text = unique("survivor")
		d.copy_in(d.a, text)
		d.wait_paste(d.a, text)
		d.clipd.stop()
		d.wait_paste(d.a, text)
		d.clipd.start()
		d.wait_joined("a", "b")
		d.wait_paste(d.a, text)
		with d.window(d.a) as wa:
			d.wait_focus("a", [wa])
			r = d.clip("copy", windows=[wa])
			assert r.returncode == 0, r
		assert "linked to the global clipboard" in d.a.log()


@suite.test
def test_policy_denies_a_pair():
	"""'deny a -> b' refuses the paste, names the rule's file:line; a -> host works."""
	with Desk(policy_text="# test policy\nallow host -> *\ndeny a -> b\n") as d:
		text = unique("secret")
		d.copy_in(d.a, text)
		d.wait_paste(d.a, text)
		r = d.clip("copy", "a")
		assert r.returncode == 0, r
		r = d.clip("paste", "b")
		assert_refused(r, "denied", "%s:3" % d.clipd.policy)
		assert d.paste_in(d.b) != text
		assert d.show()["source"] == "a"  # still there: nothing was pasted
		r = d.clip("paste", "host")
		assert r.returncode == 0, r
		d.wait_paste("host", text)


def wait_notification(bus, summary):
	def find():
		for n in bus.notifications():
			if n["summary"] == summary:
				return n
		return None
	return wait_for(find, timeout=10, what="notification %r (got %r)" % (
		summary, bus.notifications()))


@suite.test
def test_notifications():
	"""With a notification server on the session bus: "Copied N bytes from a",
	"Pasted into b", and a critical one for a refused copy."""
	with PrivateBus(notifyd=True) as bus, Desk(bus=bus.address) as d:
		with d.window(d.a) as wa:
			d.wait_focus("a", [wa])
			r = copy_from_window(d, wa, [UTF8], write_and_close(b"12345"))
			assert r.returncode == 0, r
			n = wait_notification(bus, "Copied 5 bytes from a")
			assert n["app"] == "vmdesk" and n["urgency"] == 1, n
			r = copy_from_window(d, wa, [UTF8], write_and_close(b"\xc0\xaf"))
			assert_refused(r, "UTF-8")
			n = wait_notification(bus, "Copy from a refused")
			assert n["urgency"] == 2 and "UTF-8" in n["body"], n
			r = copy_from_window(d, wa, [UTF8], write_and_close(b"again"))
			assert r.returncode == 0, r
		r = d.clip("paste", "b")
		assert r.returncode == 0, r
		n = wait_notification(bus, "Pasted into b")
		assert "5 bytes from a" in n["body"], n


@suite.test
def test_no_notification_server():
	"""A session bus without a notification server: transfers work, messages are logged."""
	with PrivateBus(notifyd=False) as bus, Desk(bus=bus.address) as d:
		text = unique("quiet")
		d.copy_in(d.a, text)
		d.wait_paste(d.a, text)
		r = d.clip("copy", "a")
		assert r.returncode == 0, r
		assert "notification: Copied %d bytes from a" % len(text) in d.clipd.log()


H = "host"


def hello_client():
	return v.hello(H, caps=v.CAP_CLIPBOARD, software="rogue")


def join(name):
	return hello_client() + v.encode(H, "clip_join", vm=name)


def closed_by_peer(sock, timeout=5):
	"""True once the peer closed the connection (EOF or reset)."""
	sock.settimeout(timeout)
	try:
		while True:
			if not sock.recv(65536):
				return True
	except ConnectionResetError:
		return True
	except socket.timeout:
		return False


@suite.test
def test_clipd_drops_malformed_peers():
	"""Local peers that send an oversized frame, a nonzero reserved field, an
	unknown type, a bad name, 'host', a second proxy for a connected VM or a
	reply nobody asked for are cut off; the proxies and the clipboard go on."""
	with Desk() as d:
		bad = {
			"oversized": hello_client() + v.frame(v.CLIP_FOCUS, b"", length=0x7FFFFFFF),
			"flags": hello_client() + v.frame(v.CLIP_FOCUS, b"\x01", flags=1),
			"unknown type": hello_client() + v.frame(0x8777, b""),
			"guest type": hello_client() + v.frame(v.RUN_OUTPUT, b""),
			"control without the capability": hello_client() + v.encode(H, "ctl_list"),
			"no hello": v.encode(H, "clip_join", vm="c"),
			"bad name": hello_client() + v.frame(v.CLIP_JOIN, v.struct.pack("<H", 5) +
			                                    b"1nope\0"),
			"host": hello_client() + v.frame(v.CLIP_JOIN, v.struct.pack("<H", 4) + b"host\0"),
			"duplicate": join("a"),
			"focus first": hello_client() + v.encode(H, "clip_focus", focused=1),
			"trailing bytes": join("c") + v.frame(v.CLIP_FOCUS, b"\x01\x00"),
			"server message": join("c") + v.encode(H, "clip_command_reply", status=0, text="x"),
		}
		for what, data in bad.items():
			with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
				sock.connect(d.clipd.socket)
				sock.sendall(data)
				assert closed_by_peer(sock), "clipd kept a peer that sent %s" % what
		# a reply to a request never made is dropped, the peer stays
		with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
			sock.connect(d.clipd.socket)
			reply = v.encode(H, "clip_copy_reply", 12345, status=0, mime="TEXT",
			                 data=b"fake!", text="")
			sock.sendall(join("rogue") + reply)
			assert not closed_by_peer(sock, timeout=0.5)
			assert_empty_global(d)
		assert d.clipd.alive()
		d.wait_joined("a", "b")
		text = unique("still-fine")
		d.copy_in(d.a, text)
		d.wait_paste(d.a, text)
		r = d.clip("copy", "a")
		assert r.returncode == 0, r


@suite.test
def test_bad_policy_names_file_and_line():
	with tempfile.TemporaryDirectory() as tmp:
		policy = os.path.join(tmp, "p")
		with open(policy, "w") as f:
			f.write("allow a -> b\nallow a b\n")
		r = subprocess.run([CLIPD, "--socket", os.path.join(tmp, "s"), "--display", "none",
		                    "--policy", policy, "--no-notify"], capture_output=True,
		                   timeout=20)
		assert r.returncode == 1, r
		assert ("%s:2:" % policy) in r.stderr.decode(), r.stderr


@suite.test
def test_cli_errors():
	r = subprocess.run([CLIP, "--help"], capture_output=True)
	assert r.returncode == 0 and b"copy" in r.stdout
	r = subprocess.run([CLIP, "frobnicate"], capture_output=True)
	assert r.returncode == 2 and b"unknown command" in r.stderr, r
	with tempfile.TemporaryDirectory() as tmp:
		r = subprocess.run([CLIP, "--socket", os.path.join(tmp, "none.sock"), "show"],
		                   capture_output=True)
		assert r.returncode == 3 and b"cannot reach the global clipboard" in r.stderr, r
		with Clipd("none") as clipd:
			r = subprocess.run([CLIP, "--socket", clipd.socket, "paste", "nosuchvm"],
			                   capture_output=True)
			assert r.returncode == 1 and b"VM nosuchvm is not connected" in r.stderr, r
			r = subprocess.run([CLIP, "--socket", clipd.socket, "copy", "nosuchvm"],
			                   capture_output=True)
			assert r.returncode == 1 and b"nosuchvm" in r.stderr, r
			r = subprocess.run([CLIP, "--socket", clipd.socket, "copy", "host"],
			                   capture_output=True)
			assert r.returncode == 1 and b"not reachable" in r.stderr, r
			assert oct(os.stat(clipd.socket).st_mode & 0o777) == "0o600"


@suite.test
def test_second_proxy_of_a_vm_is_told_why_once():
	"""A second vmdesk-proxy --vm a: the global clipboard refuses it; it says why
	once and asks again only now and then, instead of every 100 ms."""
	with Desk() as d:
		with Proxy(vm="a", upstream=d.comp.display,
		           args=["--hostd", d.clipd.socket, "--log-level", "debug"]) as second:
			wait_for(lambda: "refuses this proxy" in second.log(), timeout=10,
			         what="the second proxy to say why")
			time.sleep(3)
			log = second.log()
			assert log.count("refuses this proxy") == 1, log
			assert "already linked to the global clipboard (pid" in log, log
			assert d.clipd.log().count("refusing a second vmdesk-proxy") <= 2, d.clipd.log()
		d.wait_joined("a", "b")


@suite.test
def test_a_window_of_an_unlinked_proxy_is_not_the_host():
	"""A VM window whose proxy is not linked (--hostd none) has the focus: copy and
	paste refuse, instead of taking the host's clipboard for it."""
	with Desk() as d:
		host_text = unique("host-secret")
		d.copy_in("host", host_text)
		with Proxy(vm="c", upstream=d.comp.display, args=["--hostd", "none"]) as c:
			with d.window(c) as wc:
				def focused():
					wc.pump()
					return '"vmdesk.c.' in d.comp.swaymsg("-t", "get_tree") and \
						d.show().get("focus") == "(none)"
				wait_for(focused, timeout=10, what="the unlinked window to be focused")
				r = d.clip("copy", windows=[wc])
				assert_refused(r, "belongs to VM c", "not linked")
				r = d.clip("paste", windows=[wc])
				assert_refused(r, "belongs to VM c")
		assert_empty_global(d)
		assert host_text not in d.clipd.log()


@suite.test
def test_hostd_finds_the_compositor_later():
	"""vmdesk-hostd started before the compositor (no WAYLAND_DISPLAY, as a user
	unit may be): it joins the host clipboard once a wayland-N socket appears."""
	with Sway() as comp:
		daemon = HostdClipboard("unused")
		daemon.environment_override = lambda env: env.pop("WAYLAND_DISPLAY", None)
		with daemon:
			r = subprocess.run([CLIP, "--socket", daemon.socket, "show"], capture_output=True,
			                   text=True, timeout=20)
			assert "host clipboard: no" in r.stdout, r
			os.symlink(os.path.join(comp.runtime_dir, comp.display),
			           os.path.join(daemon.dir, "wayland-1"))

			def joined():
				r = subprocess.run([CLIP, "--socket", daemon.socket, "show"],
				                   capture_output=True, text=True, timeout=20)
				return "host clipboard: yes" in r.stdout
			wait_for(joined, timeout=20, what="hostd to find the compositor")


@suite.test
def test_hostd_names_a_missing_vm():
	with Desk(daemon=HostdClipboard) as d:
		r = d.clip("paste", "nosuch")
		assert_refused(r, "no such VM: nosuch")
		r = d.clip("copy", "nosuch", cli=(VMDESK, "clip"))
		assert_refused(r, "no such VM: nosuch")


suite.run()
