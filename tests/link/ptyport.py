"""A stand-in for a QEMU virtio-serial port where no virtio-serial exists: a
pseudo-terminal in raw mode. The guest's program opens the pty's slave as it
would /dev/virtio-ports/NAME (a character device it keeps open); the test
holds the master and plays QEMU's chardev: it listens on a Unix socket for
one host at a time and passes bytes between that host and the port.

What it shares with the real port (host/image/README.md, "virtio-serial
ports"): a host may come and go while the guest keeps the port open and sees
no end of stream; a new host's bytes follow whatever the old one left in the
port, with nothing in between; bytes the guest writes while no host is
connected are dropped. What it cannot show: a pty's master cannot come back
once closed, so "no host now" (EOF on the port) is shown once, by away(),
which ends the port for good."""

import os
import select
import socket
import threading
import time
import tty


class PtyPort:
	def __init__(self, listen):
		self.master, slave = os.openpty()
		tty.setraw(slave)
		self.path = os.ttyname(slave)
		os.close(slave)  # the guest's program opens it
		os.set_blocking(self.master, False)
		self.listen = listen
		self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		self.server.bind(listen)
		self.server.listen(4)
		self.host = None
		self.hosts = 0
		self.dropped = 0  # guest bytes written while no host was connected
		self._lock = threading.Lock()
		self._stop = False
		self._pending = b""  # host -> port bytes the pty did not take yet
		self._thread = threading.Thread(target=self._run, daemon=True)
		self._thread.start()

	def inject(self, data):
		"""Bytes into the port as if the host had sent them (stale bytes, garbage)."""
		with self._lock:
			self._pending += data

	def inject_to_host(self, data):
		"""Bytes to the host as if the guest had written them (what a killed guest
		program left half-written)."""
		with self._lock:
			host = self.host
		assert host is not None, "no host on the port"
		host.sendall(data)

	def drop_host(self):
		"""The host's connection ends (QEMU's socket closed by the host); the port
		stays, and the guest sees nothing of it."""
		with self._lock:
			host, self.host = self.host, None
		if host is not None:
			try:
				host.shutdown(socket.SHUT_RDWR)
			except OSError:
				pass

	def away(self):
		"""No host for good: the master closes, the guest's reads see the end."""
		self._stop = True
		self._thread.join(timeout=5)
		self.drop_host()
		if self.master is not None:
			os.close(self.master)
			self.master = None

	def _run(self):
		while not self._stop:
			with self._lock:
				host = self.host
				pending = bool(self._pending)
			rd = [self.master, self.server] + ([host] if host is not None else [])
			wr = [self.master] if pending else []
			try:
				ready, writable, _ = select.select(rd, wr, [], 0.1)
			except (OSError, ValueError):
				ready, writable = [], []
			if self.master in writable:
				with self._lock:
					try:
						n = os.write(self.master, self._pending[:65536])
						self._pending = self._pending[n:]
					except BlockingIOError:
						pass
			if self.server in ready:
				conn, _ = self.server.accept()
				old = None
				with self._lock:
					# QEMU serves one host at a time; the test lets a new one in
					old, self.host = self.host, conn
					self.hosts += 1
				if old is not None:
					old.close()
			if self.master in ready:
				try:
					data = os.read(self.master, 1 << 16)
				except BlockingIOError:
					data = b""
				except OSError:
					# EIO: no program has the slave open (the guest's restarts)
					data = b""
					time.sleep(0.02)
				if data:
					with self._lock:
						host = self.host
					sent = False
					if host is not None:
						try:
							host.sendall(data)
							sent = True
						except OSError:
							self.drop_host()
					if not sent:
						self.dropped += len(data)
			if host is not None and host in ready:
				try:
					data = host.recv(1 << 16)
				except OSError:
					data = b""
				if not data:
					with self._lock:
						if self.host is host:
							self.host = None
					host.close()
				else:
					with self._lock:
						self._pending += data

	def close(self):
		self.away()
		self.server.close()
		try:
			os.unlink(self.listen)
		except OSError:
			pass
