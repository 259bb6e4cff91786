"""Hostile VM clients against the proxy's notion of keyboard focus (issue 11,
finding 2), on headless sway with vmdesk-hostd holding the global clipboard.

"The focused domain" decides where `vmdesk clip paste` puts the global
clipboard. A VM client must not be able to keep its VM "focused" after the
user moved to a host window (keyboard or seat released, a second keyboard,
its surface destroyed, several clients of one VM), nor hide focus it has (no
keyboard at all); and input serials expire with focus. Each attack ends the
same way: focus on a host window, `vmdesk clip paste`, and the VM must never
receive the global clipboard's secret.

Run: meson test -C BUILD hostile-focus
"""

import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clipboard"))

import tap
import wlwire as w
from cliplib import (VMDESK, Desk, HostdClipboard, KbWindow, write_and_close,
                     SEAT_GET_KEYBOARD)

suite = tap.Suite()
UTF8 = "text/plain;charset=utf-8"

# wayland.xml request opcodes
KEYBOARD_RELEASE = 0  # wl_keyboard.release, since 3
SEAT_RELEASE = 3  # wl_seat.release, since 5
XDG_TOPLEVEL_DESTROY = 0
XDG_SURFACE_DESTROY = 0


def unique(prefix):
	return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def vmdesk_clip(d, *args, windows=()):
	return d.clip(*args, windows=windows, cli=(VMDESK, "clip"))


def put_secret_on_global(d):
	"""The global clipboard holds a secret copied from VM b (the host clipboard
	is empty). Returns the secret."""
	secret = unique("hunter2 host secret")
	d.copy_in(d.b, secret)
	d.wait_paste(d.b, secret)
	r = vmdesk_clip(d, "copy", "b")
	assert r.returncode == 0, r
	assert d.paste_in("host") is None
	return secret


def focus_reported(d, domain, windows=(), field="focus"):
	"""Waits for hostd to report domain as focused; False if it never does (a
	hang guard: the proxy reports focus changes as they happen). field
	"keyboard focus" is what the proxies report, "focus" what copy and paste
	use (the compositor's activated window, when hostd sees it)."""
	try:
		d.wait_focus(domain, windows, field)
		return True
	except TimeoutError:
		return False


def host_window(d):
	"""A host window with a keyboard, mapped: sway gives it keyboard focus."""
	win = KbWindow(d.comp.display, unique("host-window"))
	win.wait_enter()
	return win


def paste_goes_to_host(d, secret, vm_windows, what):
	"""With a host window focused: `vmdesk clip paste` must go to the host (or
	be refused), never into VM a; a's clients never see the secret."""
	host = host_window(d)
	try:
		windows = list(vm_windows) + [host]
		for win in vm_windows:
			if not win.conn.closed:
				win.roundtrip()  # what the proxy had from the compositor is done
		reported = focus_reported(d, "host", windows)
		shown = d.show()
		r = vmdesk_clip(d, "paste", windows=windows)
		for win in vm_windows:
			if not win.conn.closed:
				win.pump()
		got = d.paste_in(d.a)
		assert got is None or secret not in got, \
			"%s: the paste meant for the host went into VM a (a pastes %r; vmdesk clip " \
			"paste said %r)" % (what, got, r.stdout + r.stderr)
		assert "from the global clipboard" not in d.a.log(), \
			"%s: proxy a took the global clipboard:\n%s" % (what, d.a.log()[-3000:])
		assert reported, "%s: focus not reported on the host (show: %r)" % (what, shown)
		assert r.returncode in (0, 1), r
		if r.returncode == 0:
			assert "into host" in r.stdout, "%s: %r" % (what, r)
			d.wait_paste("host", secret)
	finally:
		host.close()


def focused_vm_window(d, keyboard=True):
	"""A window of VM a that has keyboard focus (and that hostd sees focused)."""
	if keyboard:
		win = KbWindow(d.a.socket, unique("a-window"))
		win.wait_enter()
	else:
		win = w.Window(d.a.socket, unique("a-nokeyboard"))
	assert focus_reported(d, "a", [win]), "the focused window of a is not reported: %r" % (
		d.show(),)
	return win


def run_attack(what, attack, keyboard=True):
	with Desk(daemon=HostdClipboard) as d:
		secret = put_secret_on_global(d)
		win = focused_vm_window(d, keyboard)
		try:
			extra = attack(d, win) or []
			paste_goes_to_host(d, secret, [win] + extra, what)
		except BaseException:
			tap.diag("--- proxy a ---\n" + d.a.log()[-6000:])
			raise
		finally:
			win.close()


# --- the attacks ---

@suite.test
def test_keyboard_release_keeps_no_focus():
	"""The issue's proof of concept: a client of a gets keyboard focus, releases
	its wl_keyboard (so it never gets a leave), the user moves to a host window:
	the paste goes to the host, never into a."""
	def attack(d, win):
		win.conn.send(win.keyboard, KEYBOARD_RELEASE)
		win.roundtrip()
	run_attack("wl_keyboard.release", attack)


@suite.test
def test_seat_release_keeps_no_focus():
	def attack(d, win):
		win.conn.send(win.seat, SEAT_RELEASE)
		win.roundtrip()
	run_attack("wl_seat.release", attack)


@suite.test
def test_keyboard_and_seat_release_keep_no_focus():
	def attack(d, win):
		win.conn.send(win.keyboard, KEYBOARD_RELEASE)
		win.conn.send(win.seat, SEAT_RELEASE)
		win.roundtrip()
	run_attack("wl_keyboard.release + wl_seat.release", attack)


@suite.test
def test_second_keyboard_keeps_no_focus():
	"""A second keyboard made while focused, then both released one by one."""
	def attack(d, win):
		c = win.conn
		second = c.new_id("wl_keyboard")
		c.on(second, lambda ev: os.close(c.take_fd()) if ev.opcode == 0 else None)
		c.send(win.seat, SEAT_GET_KEYBOARD, w.new_id(second))
		win.roundtrip()
		c.send(win.keyboard, KEYBOARD_RELEASE)
		win.roundtrip()
		c.send(second, KEYBOARD_RELEASE)
		win.roundtrip()
	run_attack("a second keyboard, both released", attack)


@suite.test
def test_surface_destroyed_while_focused():
	"""The focused client destroys its window (toplevel, xdg_surface, surface)
	but stays connected, its keyboard released."""
	def attack(d, win):
		c = win.conn
		c.on(win.xdg_surface, lambda ev: None)  # no ack_configure once it is gone
		c.send(win.keyboard, KEYBOARD_RELEASE)
		c.send(win.toplevel, XDG_TOPLEVEL_DESTROY)
		c.send(win.xdg_surface, XDG_SURFACE_DESTROY)
		c.send(win.surface, w.SURFACE_DESTROY)
		win.roundtrip()
	run_attack("the focused surface destroyed", attack)


@suite.test
def test_no_keyboard_focus_is_tracked():
	"""A client that never creates a keyboard: its window's focus is still the
	VM's focus (copy and paste go to a), and losing it is still seen."""
	run_attack("a window without a keyboard", lambda d, win: None, keyboard=False)


@suite.test
def test_several_clients_of_one_vm():
	"""Two clients of a: the first releases its keyboard, the second maps (a is
	still focused), then closes (focus back on the first); a host window then
	takes focus: the paste goes to the host."""
	def attack(d, win):
		win.conn.send(win.keyboard, KEYBOARD_RELEASE)
		win.roundtrip()
		second = KbWindow(d.a.socket, unique("a-second"))
		second.wait_enter()
		assert focus_reported(d, "a", [win, second]), d.show()
		second.conn.send(second.keyboard, KEYBOARD_RELEASE)
		second.roundtrip()
		second.close()
		assert focus_reported(d, "a", [win]), d.show()
		return []
	run_attack("two clients of a", attack)


@suite.test
def test_keyboard_capability_lost_is_a_leave():
	"""The seat loses its keyboard (the virtual keyboard goes away): a's proxy no
	longer reports focus; a keyboard comes back: it does again. (Copy and paste
	follow the compositor's activated window, which sway keeps on a's window
	without a keyboard: checked on what the proxies report.)"""
	with Desk(daemon=HostdClipboard) as d:
		win = focused_vm_window(d)
		try:
			win.conn.send(win.keyboard, KEYBOARD_RELEASE)
			win.roundtrip()
			d.keyboard.terminate()
			d.keyboard.wait(timeout=10)
			assert focus_reported(d, "host", [win], "keyboard focus"), \
				"a still focused without a keyboard: %r" % (d.show(),)
			d.keyboard = d.spawn(["wtype", "-s", "600000", "x"], d.comp.env())
			d.wait_keyboard()
			assert focus_reported(d, "a", [win], "keyboard focus"), \
				"a's window has focus again, not reported: %r" % (d.show(),)
		finally:
			win.close()


def copied_from_a(d, win):
	"""`vmdesk clip copy a`: the size of a's clipboard (its text is ours)."""
	r = vmdesk_clip(d, "copy", "a", windows=[win])
	assert r.returncode == 0, r
	return int(d.show()["size"])


@suite.test
def test_stale_serials_are_refused():
	"""Serials expire with focus: the serial of an enter is refused once that
	focus is gone (while the client has no focus, and after it got focus
	again); the serial of the new enter works."""
	with Desk(daemon=HostdClipboard) as d:
		win = focused_vm_window(d)
		try:
			first = win.wait_enter()
			win.set_selection([UTF8], write_and_close(b"1234567"), serial=first)
			assert copied_from_a(d, win) == 7

			host = host_window(d)
			try:
				win.roundtrip()
				assert not win.focused
				assert focus_reported(d, "host", [win, host]), d.show()
				last = win.enter_serial  # of the focus it just lost
				win.set_selection([UTF8], write_and_close(b"unfocused"), serial=last)
				assert copied_from_a(d, win) == 7, "set_selection without focus"
			finally:
				host.close()
			again = win.wait_enter()
			assert again not in (first, last), (first, last, again)
			assert focus_reported(d, "a", [win]), d.show()
			for stale in (first, last):
				win.set_selection([UTF8], write_and_close(b"stale"), serial=stale)
				assert copied_from_a(d, win) == 7, "stale serial %d accepted" % stale
			assert "selection refused" in d.a.log()
			win.set_selection([UTF8], write_and_close(b"fresh"), serial=again)
			assert copied_from_a(d, win) == 5, "the serial of the current enter refused"
		finally:
			win.close()


if __name__ == "__main__":
	suite.run()
