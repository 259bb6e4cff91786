"""A command on a pseudo-terminal, as a user would run it: for `vmdesk
console` (raw mode, Ctrl-] to detach) and for what vmdesk shows only on a
terminal (the progress of a start under `vmdesk run`).

    with Terminal([CLI, "console", "work"], env) as t:
        t.expect(rb"Connected to VM work")
        t.send(b"echo hi\\r")
        t.expect(rb"hi")
        t.send(b"\\x1d")
        assert t.wait() == 0
"""

import os
import pty
import re
import select
import signal
import termios
import time

__all__ = ["Terminal"]


class Terminal:
	def __init__(self, argv, env):
		self.pid, self.fd = pty.fork()
		if self.pid == 0:
			try:
				os.execve(argv[0], argv, env)
			finally:
				os._exit(127)
		self.seen = b""
		self.pos = 0
		self.status = None

	def _read(self, timeout):
		r, _, _ = select.select([self.fd], [], [], timeout)
		if not r:
			return True
		try:
			data = os.read(self.fd, 65536)
		except OSError:
			return False  # the other end closed (the command exited)
		if not data:
			return False
		self.seen += data
		return True

	def expect(self, pattern, timeout=30):
		"""Waits for pattern (bytes regex) after what the last expect matched."""
		regex = re.compile(pattern)
		deadline = time.monotonic() + timeout
		while True:
			m = regex.search(self.seen, self.pos)
			if m:
				self.pos = m.end()
				return m
			if time.monotonic() > deadline:
				raise AssertionError("timed out after %d s waiting for %r on the terminal; "
				                     "it shows:\n%s" % (timeout, pattern, self.text()[-3000:]))
			if not self._read(0.1):
				m = regex.search(self.seen, self.pos)
				if m:
					self.pos = m.end()
					return m
				raise AssertionError("the command ended before %r; it showed:\n%s"
				                     % (pattern, self.text()[-3000:]))

	def send(self, data):
		os.write(self.fd, data)

	def echo_off(self):
		"""True if the terminal is in raw mode now (no echo, no line editing)."""
		attrs = termios.tcgetattr(self.fd)
		return not (attrs[3] & termios.ECHO) and not (attrs[3] & termios.ICANON)

	def wait(self, timeout=30):
		"""Waits for the command to exit; returns its exit status."""
		deadline = time.monotonic() + timeout
		while self.status is None:
			pid, status = os.waitpid(self.pid, os.WNOHANG)
			if pid == self.pid:
				self.status = os.waitstatus_to_exitcode(status)
				break
			if time.monotonic() > deadline:
				raise AssertionError("the command did not exit within %d s; it showed:\n%s"
				                     % (timeout, self.text()[-3000:]))
			self._read(0.1)
		while self._read(0):
			pass
		return self.status

	def text(self):
		return self.seen.decode("utf-8", "replace")

	def close(self):
		if self.status is None:
			try:
				os.kill(self.pid, signal.SIGKILL)
				os.waitpid(self.pid, 0)
			except OSError:
				pass
		os.close(self.fd)

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()
