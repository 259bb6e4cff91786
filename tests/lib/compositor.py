"""Headless compositors for tests: sway (in a user namespace) and weston.

    from compositor import Sway, Weston

    with Sway(width=1024, height=768) as comp:
        comp.display            # absolute path of its Wayland socket
        comp.runtime_dir        # its XDG_RUNTIME_DIR (a fresh temp dir)
        comp.env(FOO="1")       # environment for a client of this compositor
        comp.screenshot(path)   # grim (sway) / weston-screenshooter (Weston(debug=True))
        comp.pixel(x, y)        # (r, g, b) at a screen position
        comp.tree()             # sway: parsed `swaymsg -t get_tree`
        comp.windows()          # sway: mapped views [{app_id, name, rect, pid, ...}]
        comp.wait_for(pred, timeout=10, what="...")

    with Weston() as comp: ...

Every process a fixture starts runs in its own process group; teardown kills
that group, waits for the compositor and reaps the rest (this process is made
a child subreaper, so the helpers the compositors double-fork, like swaybg,
come back to us instead of lingering as zombies), then removes the temp dir.
"""

import ctypes
import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import zlib

__all__ = ["Sway", "Weston", "CompositorError", "Image", "load_png", "wait_for",
           "reap_group", "become_subreaper"]

START_TIMEOUT = 15
STOP_TIMEOUT = 5
BACKGROUND = (0x33, 0x44, 0x55)

# Variables that would make a compositor or a client talk to something else.
_FOREIGN_VARS = ("WAYLAND_DISPLAY", "WAYLAND_SOCKET", "DISPLAY", "SWAYSOCK", "I3SOCK",
                 "WAYLAND_DEBUG", "WLR_BACKENDS", "WLR_RENDERER")


class CompositorError(RuntimeError):
	pass


_subreaper = False


def become_subreaper():
	"""Make orphaned descendants of this process our children (PR_SET_CHILD_SUBREAPER)."""
	global _subreaper
	if _subreaper:
		return
	try:
		libc = ctypes.CDLL(None, use_errno=True)
		if libc.prctl(36, 1, 0, 0, 0) == 0:  # PR_SET_CHILD_SUBREAPER
			_subreaper = True
	except (OSError, AttributeError):
		pass


def wait_for(predicate, timeout=10, what="condition", interval=0.05, check=None):
	"""Call predicate until it returns a true value, which is returned.

	Raises TimeoutError naming `what` after `timeout` seconds. `check`, if
	given, is called each round and may raise (e.g. when a process died).
	The last exception raised by predicate is included in the message.
	"""
	deadline = time.monotonic() + timeout
	last_error = None
	while True:
		if check is not None:
			check()
		try:
			value = predicate()
			if value:
				return value
			last_error = None
		except Exception as e:  # the predicate may fail while things come up
			last_error = e
		if time.monotonic() >= deadline:
			msg = "timed out after %gs waiting for %s" % (timeout, what)
			if last_error is not None:
				msg += " (last error: %r)" % (last_error,)
			raise TimeoutError(msg)
		time.sleep(interval)


def reap_group(pgid, timeout=STOP_TIMEOUT):
	"""SIGKILL a process group and reap every member that is our child."""
	try:
		os.killpg(pgid, signal.SIGKILL)
	except ProcessLookupError:
		pass
	deadline = time.monotonic() + timeout
	while True:
		try:
			pid, _ = os.waitpid(-pgid, os.WNOHANG)
		except ChildProcessError:
			return
		if pid == 0:
			if time.monotonic() >= deadline:
				return
			time.sleep(0.02)


def proc_status(pid, field):
	"""A field of /proc/PID/status, or None."""
	with open("/proc/%d/status" % pid) as f:
		for line in f:
			key, _, value = line.partition(":")
			if key == field:
				return value.strip()
	return None


def stop_process(proc, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
	"""Signal a Popen started with start_new_session=True, wait, then kill its group."""
	if proc.poll() is None:
		try:
			proc.send_signal(sig)
			proc.wait(timeout=timeout)
		except subprocess.TimeoutExpired:
			pass
	reap_group(proc.pid)
	try:
		proc.wait(timeout=timeout)
	except subprocess.TimeoutExpired:
		pass
	return proc.returncode


class Image:
	"""A decoded RGB image: width, height, pixel(x, y) -> (r, g, b)."""

	def __init__(self, width, height, rows, channels):
		self.width = width
		self.height = height
		self._rows = rows
		self._channels = channels

	def pixel(self, x, y):
		if not (0 <= x < self.width and 0 <= y < self.height):
			raise IndexError("pixel (%d,%d) outside %dx%d" % (x, y, self.width, self.height))
		row = self._rows[y]
		i = x * self._channels
		return (row[i], row[i + 1], row[i + 2])

	def data(self):
		"""All pixel bytes, row after row (for comparing two captures)."""
		return b"".join(bytes(row) for row in self._rows)

	def count_not(self, color, rect=None, step=4):
		"""Number of sampled pixels (every `step`) in rect (x, y, w, h) differing from color."""
		x0, y0, w, h = rect if rect else (0, 0, self.width, self.height)
		count = 0
		for y in range(max(y0, 0), min(y0 + h, self.height), step):
			for x in range(max(x0, 0), min(x0 + w, self.width), step):
				if self.pixel(x, y) != tuple(color):
					count += 1
		return count


def _unfilter(data, width, height, bpp):
	stride = width * bpp
	rows = []
	prev = bytearray(stride)
	pos = 0
	for _ in range(height):
		ftype = data[pos]
		line = bytearray(data[pos + 1:pos + 1 + stride])
		pos += 1 + stride
		if ftype == 1:
			for i in range(bpp, stride):
				line[i] = (line[i] + line[i - bpp]) & 0xff
		elif ftype == 2:
			for i in range(stride):
				line[i] = (line[i] + prev[i]) & 0xff
		elif ftype == 3:
			for i in range(stride):
				left = line[i - bpp] if i >= bpp else 0
				line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
		elif ftype == 4:
			for i in range(stride):
				a = line[i - bpp] if i >= bpp else 0
				b = prev[i]
				c = prev[i - bpp] if i >= bpp else 0
				p = a + b - c
				pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
				pred = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
				line[i] = (line[i] + pred) & 0xff
		elif ftype != 0:
			raise ValueError("bad PNG filter type %d" % ftype)
		rows.append(line)
		prev = line
	return rows


def load_png(path):
	"""Decode an 8-bit, non-interlaced RGB or RGBA PNG (what grim and weston write)."""
	with open(path, "rb") as f:
		blob = f.read()
	if blob[:8] != b"\x89PNG\r\n\x1a\n":
		raise ValueError("%s is not a PNG" % path)
	pos = 8
	idat = []
	header = None
	while pos + 8 <= len(blob):
		length, ctype = struct.unpack(">I4s", blob[pos:pos + 8])
		body = blob[pos + 8:pos + 8 + length]
		pos += 12 + length
		if ctype == b"IHDR":
			header = struct.unpack(">IIBBBBB", body)
		elif ctype == b"IDAT":
			idat.append(body)
		elif ctype == b"IEND":
			break
	if header is None:
		raise ValueError("%s has no IHDR" % path)
	width, height, depth, color, _, _, interlace = header
	channels = {2: 3, 6: 4}.get(color)
	if depth != 8 or channels is None or interlace:
		raise ValueError("unsupported PNG (depth %d, color type %d, interlace %d)"
		                 % (depth, color, interlace))
	rows = _unfilter(zlib.decompress(b"".join(idat)), width, height, channels)
	return Image(width, height, rows, channels)


def parse_ppm(blob):
	"""Decode a binary PPM (P6, maxval 255) into an Image."""
	fields = []
	pos = 0
	while len(fields) < 4:
		while blob[pos:pos + 1].isspace():
			pos += 1
		if blob[pos:pos + 1] == b"#":
			pos = blob.index(b"\n", pos) + 1
			continue
		end = pos
		while end < len(blob) and not blob[end:end + 1].isspace():
			end += 1
		fields.append(blob[pos:end])
		pos = end
	pos += 1  # the single whitespace after maxval
	if fields[0] != b"P6" or int(fields[3]) != 255:
		raise ValueError("unsupported PPM header %r" % (fields,))
	width, height = int(fields[1]), int(fields[2])
	stride = width * 3
	data = blob[pos:pos + stride * height]
	if len(data) != stride * height:
		raise ValueError("short PPM: %d bytes for %dx%d" % (len(data), width, height))
	rows = [data[y * stride:(y + 1) * stride] for y in range(height)]
	return Image(width, height, rows, 3)


class _Compositor:
	name = "compositor"

	def __init__(self, width=1024, height=768):
		self.width = width
		self.height = height
		self.proc = None
		self.runtime_dir = None
		self.display = None
		self._log_file = None
		self._log_path = None

	# -- subclass hooks --
	def _command(self):
		raise NotImplementedError

	def _find_display(self):
		"""Absolute path of the Wayland socket once it exists, else None."""
		raise NotImplementedError

	def _extra_ready(self):
		return True

	# -- lifecycle --
	def __enter__(self):
		become_subreaper()
		self.runtime_dir = tempfile.mkdtemp(prefix="vmdesk-%s-" % self.name)
		os.chmod(self.runtime_dir, 0o700)
		try:
			self._start()
		except BaseException:
			self._stop()
			raise
		return self

	def __exit__(self, exc_type, exc, tb):
		died = self.proc is not None and self.proc.poll() is not None
		self._stop()
		if died and exc_type is None:
			raise CompositorError("%s exited during the test (status %s)\n--- log ---\n%s"
			                      % (self.name, self.proc.returncode, self.log()))
		return False

	def _base_env(self):
		env = dict(os.environ)
		for var in _FOREIGN_VARS:
			env.pop(var, None)
		env["XDG_RUNTIME_DIR"] = self.runtime_dir
		return env

	def _start(self):
		self._log_path = os.path.join(self.runtime_dir, "%s.log" % self.name)
		self._log_file = open(self._log_path, "wb")
		cmd, env = self._command()
		self.proc = subprocess.Popen(cmd, env=env, cwd=self.runtime_dir, stdin=subprocess.DEVNULL,
		                             stdout=self._log_file, stderr=subprocess.STDOUT,
		                             start_new_session=True)
		try:
			wait_for(self._ready, timeout=START_TIMEOUT, what="%s to be ready" % self.name,
			         check=self._check_alive)
		except (TimeoutError, CompositorError) as e:
			raise CompositorError("%s did not start: %s\n--- command ---\n%s\n--- log ---\n%s"
			                      % (self.name, e, " ".join(cmd), self.log())) from None

	def _check_alive(self):
		if self.proc.poll() is not None:
			raise CompositorError("%s exited with status %d" % (self.name, self.proc.returncode))

	def _ready(self):
		display = self._find_display()
		if not display:
			return False
		self.display = display
		out = subprocess.run(["wayland-info"], env=self.env(), stdin=subprocess.DEVNULL,
		                     capture_output=True, timeout=5)
		if out.returncode != 0 or b"'wl_output'" not in out.stdout:
			return False
		return self._extra_ready()

	def _stop(self):
		if self.proc is not None:
			stop_process(self.proc)
		if self._log_file is not None:
			self._log_file.close()
			self._log_file = None
		if self.runtime_dir is not None:
			shutil.rmtree(self.runtime_dir, ignore_errors=True)

	# -- helpers --
	def log(self):
		"""The compositor's stdout+stderr so far."""
		if not self._log_path:
			return ""
		try:
			with open(self._log_path, "rb") as f:
				return f.read().decode(errors="replace")
		except OSError:
			return ""

	def alive(self):
		return self.proc is not None and self.proc.poll() is None

	def env(self, **extra):
		"""os.environ + XDG_RUNTIME_DIR and WAYLAND_DISPLAY of this compositor (+extra;
		an extra set to None is removed)."""
		env = dict(os.environ)
		for var in ("WAYLAND_SOCKET", "DISPLAY", "WAYLAND_DEBUG"):
			env.pop(var, None)
		env["XDG_RUNTIME_DIR"] = self.runtime_dir
		env["WAYLAND_DISPLAY"] = self.display
		for key, value in extra.items():
			if value is None:
				env.pop(key, None)
			else:
				env[key] = str(value)
		return env

	def wait_for(self, predicate, timeout=10, what="condition"):
		"""Poll predicate until true (returned); clear error on timeout or compositor death."""
		return wait_for(predicate, timeout=timeout, what=what, check=self._check_alive)

	def run(self, argv, timeout=10, **kw):
		"""Run a client to completion against this compositor (capture output)."""
		kw.setdefault("env", self.env())
		kw.setdefault("stdin", subprocess.DEVNULL)
		kw.setdefault("capture_output", True)
		return subprocess.run(argv, timeout=timeout, **kw)

	def image(self):
		"""A screenshot of the whole output, decoded."""
		path = os.path.join(self.runtime_dir, "shot-%d.png" % time.monotonic_ns())
		try:
			self.screenshot(path)
			return load_png(path)
		finally:
			try:
				os.unlink(path)
			except OSError:
				pass


class Sway(_Compositor):
	"""Headless sway 1.7 with the pixman renderer, run in a user namespace (it refuses root)."""

	name = "sway"

	def __init__(self, width=1024, height=768, config_extra="", borders=False):
		"""borders=True keeps sway's default borders and title bars (else none)."""
		super().__init__(width, height)
		self.config_extra = config_extra
		self.borders = borders
		self.swaysock = None

	def _command(self):
		config = os.path.join(self.runtime_dir, "sway.conf")
		with open(config, "w") as f:
			f.write("output HEADLESS-1 resolution %dx%d bg #%02x%02x%02x solid_color\n"
			        % ((self.width, self.height) + BACKGROUND))
			if not self.borders:
				f.write("default_border none\n")
				f.write("default_floating_border none\n")
			f.write("for_window [app_id=\".*\"] floating enable\n")
			f.write("xwayland disable\n")
			f.write(self.config_extra)
		env = self._base_env()
		env.update(WLR_BACKENDS="headless", WLR_LIBINPUT_NO_DEVICES="1", WLR_RENDERER="pixman")
		cmd = ["unshare", "--user", "--map-user=1000", "--map-group=1000",
		       "sway", "-c", config]
		return cmd, env

	def _find_display(self):
		for path in sorted(glob.glob(os.path.join(self.runtime_dir, "wayland-*"))):
			if not path.endswith(".lock"):
				return path
		return None

	def _extra_ready(self):
		socks = glob.glob(os.path.join(self.runtime_dir, "sway-ipc.*.sock"))
		if not socks:
			return False
		self.swaysock = socks[0]
		return True

	def swaymsg(self, *args, timeout=10):
		"""Run swaymsg against this sway; returns its stdout (raises on failure)."""
		env = self.env(SWAYSOCK=self.swaysock)
		out = subprocess.run(["swaymsg"] + list(args), env=env, stdin=subprocess.DEVNULL,
		                     capture_output=True, timeout=timeout)
		if out.returncode != 0:
			raise CompositorError("swaymsg %s failed (%d): %s"
			                      % (" ".join(args), out.returncode,
			                         (out.stdout + out.stderr).decode(errors="replace")))
		return out.stdout.decode()

	def tree(self):
		return json.loads(self.swaymsg("-r", "-t", "get_tree"))

	def windows(self):
		"""The mapped views: dicts with id (con_id), app_id, name, rect, pid, focused, visible,
		fullscreen_mode (0 none, 1 output, 2 global)."""
		found = []

		def walk(node):
			if node.get("type") in ("con", "floating_con") and "pid" in node:
				rect = node.get("rect", {})
				found.append({
					"id": node.get("id"),
					"app_id": node.get("app_id"),
					"name": node.get("name"),
					"rect": {k: rect.get(k) for k in ("x", "y", "width", "height")},
					"pid": node.get("pid"),
					"focused": node.get("focused"),
					"visible": node.get("visible"),
					"fullscreen_mode": node.get("fullscreen_mode"),
				})
			for child in node.get("nodes", []) + node.get("floating_nodes", []):
				walk(child)

		walk(self.tree())
		return found

	def screenshot(self, path):
		out = self.run(["grim", path])
		if out.returncode != 0:
			raise CompositorError("grim failed (%d): %s"
			                      % (out.returncode, out.stderr.decode(errors="replace")))
		return path

	def capture(self, x, y, width, height):
		"""A region of the screen as an Image (grim -t ppm, no PNG decoding)."""
		out = self.run(["grim", "-g", "%d,%d %dx%d" % (x, y, width, height), "-t", "ppm", "-"])
		if out.returncode != 0:
			raise CompositorError("grim failed (%d): %s"
			                      % (out.returncode, out.stderr.decode(errors="replace")))
		return parse_ppm(out.stdout)

	def image(self):
		return self.capture(0, 0, self.width, self.height)

	def pixel(self, x, y):
		return self.capture(x, y, 1, 1).pixel(0, 0)


class Weston(_Compositor):
	"""Headless weston 10 (pixman, desktop-shell, no seat), run as root."""

	name = "weston"
	SOCKET = "wayland-weston"

	def __init__(self, width=1024, height=768, debug=False, shell="desktop-shell.so", gl=False):
		"""gl=True: the GL renderer (llvmpipe here), which releases shm buffers
		as soon as it has uploaded them, as GPU compositors do."""
		super().__init__(width, height)
		self.debug = debug
		self.shell = shell
		self.gl = gl

	def _command(self):
		config = os.path.join(self.runtime_dir, "weston.ini")
		with open(config, "w") as f:
			# A solid background and no panel: any other pixel is a client's.
			f.write("[shell]\nbackground-color=0xff%02x%02x%02x\npanel-position=none\n"
			        % BACKGROUND)
			f.write("[input-method]\npath=\n")
		cmd = ["weston", "--backend=headless-backend.so", "--socket=" + self.SOCKET,
		       "--width=%d" % self.width, "--height=%d" % self.height,
		       "--use-gl" if self.gl else "--use-pixman",
		       "--idle-time=0", "-c", config, "--shell=" + self.shell]
		if self.debug:
			cmd.append("--debug")
		return cmd, self._base_env()

	def _find_display(self):
		path = os.path.join(self.runtime_dir, self.SOCKET)
		return path if os.path.exists(path) else None

	def _extra_ready(self):
		# With screenshots available, ready means the shell has drawn the background.
		if not self.debug or self.shell != "desktop-shell.so":
			return True
		return self.pixel(self.width // 2, self.height // 2) == BACKGROUND

	def screenshot(self, path):
		if not self.debug:
			raise CompositorError("weston screenshots need Weston(debug=True)")
		shot_dir = tempfile.mkdtemp(prefix="shot-", dir=self.runtime_dir)
		try:
			out = self.run(["weston-screenshooter"], cwd=shot_dir)
			shots = glob.glob(os.path.join(shot_dir, "wayland-screenshot-*.png"))
			if out.returncode != 0 or len(shots) != 1:
				raise CompositorError("weston-screenshooter failed (%d, files %r): %s"
				                      % (out.returncode, shots,
				                         (out.stdout + out.stderr).decode(errors="replace")))
			shutil.move(shots[0], path)
		finally:
			shutil.rmtree(shot_dir, ignore_errors=True)
		return path

	def pixel(self, x, y):
		return self.image().pixel(x, y)


def _selftest():
	"""python3 compositor.py: start each compositor once and print what it sees."""
	with Sway() as comp:
		print("sway", comp.display, comp.pixel(5, 5), len(comp.windows()))
	with Weston(debug=True) as comp:
		img = comp.image()
		print("weston", comp.display, img.width, img.height, img.pixel(500, 500))


if __name__ == "__main__":
	_selftest()
