"""Run vmdesk-proxy (binary from $VMDESK_PROXY) for tests.

    from proxy import Proxy, run_through_proxy

    with Proxy(vm="work", upstream=comp.display, args=["--color", "green"]) as p:
        p.socket        # absolute path of its listening socket (waits until it listens)
        p.env(comp)     # env for a client: comp's XDG_RUNTIME_DIR, WAYLAND_DISPLAY=p.socket
        p.log()         # its stderr so far
        p.fd_count()    # open fds of the proxy (/proc/PID/fd)

On exit the proxy gets SIGTERM; then it must have exited 0 with no sanitizer
report on stderr, or ProxyError is raised with its log.

    result = run_through_proxy("work", comp.display, ["foot", "-e", "true"], timeout=20)
    result.returncode, result.stdout, result.stderr
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile

from compositor import become_subreaper, reap_group, wait_for

__all__ = ["Proxy", "ProxyError", "run_through_proxy", "proxy_binary", "default_policy",
           "sanitizer_report", "fd_count", "fd_targets", "is_listening", "SANITIZER_MARKERS",
           "parse_policy", "wayland_globals", "Client", "proxy_env"]

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
STOP_TIMEOUT = 15  # ASan's leak check at exit can take a moment on a busy machine


class ProxyError(AssertionError):
	pass


def proxy_binary():
	path = os.environ.get("VMDESK_PROXY")
	if not path:
		root = os.environ.get("VMDESK_BUILD_ROOT", "build")
		path = os.path.join(root, "proxy", "vmdesk-proxy")
	if not os.access(path, os.X_OK):
		raise ProxyError("vmdesk-proxy not found at %r (set VMDESK_PROXY)" % path)
	return os.path.abspath(path)


def default_policy():
	path = os.environ.get("VMDESK_DEFAULT_POLICY")
	if not path:
		root = os.environ.get("VMDESK_SOURCE_ROOT", ".")
		path = os.path.join(root, "proxy", "default.policy")
	return os.path.abspath(path)


def sanitizer_report(text):
	"""The first sanitizer marker found in text, or None."""
	for marker in SANITIZER_MARKERS:
		if marker in text:
			return marker
	return None


def fd_targets(pid):
	"""{fd: readlink target} of a process's open file descriptors."""
	fds = {}
	base = "/proc/%d/fd" % pid
	for name in os.listdir(base):
		try:
			fds[int(name)] = os.readlink(os.path.join(base, name))
		except OSError:  # closed meanwhile
			pass
	return fds


def fd_count(pid):
	"""Number of open file descriptors of a process."""
	return len(os.listdir("/proc/%d/fd" % pid))


def is_listening(path):
	"""True if a Unix stream socket is bound to path and listening (from /proc/net/unix)."""
	with open("/proc/net/unix") as f:
		next(f)
		for line in f:
			fields = line.split()
			# Num RefCount Protocol Flags Type St Inode [Path]
			if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
				return True
	return False


_LSAN_SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lsan.supp")


def proxy_env(env=None):
	"""Environment for running vmdesk-proxy: env (default os.environ) without inherited
	Wayland/activation variables, with the test suite's sanitizer options."""
	env = dict(os.environ if env is None else env)
	for var in ("WAYLAND_SOCKET", "WAYLAND_DEBUG", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
		env.pop(var, None)
	# Outside meson test (a script run by hand), use the same sanitizer settings.
	env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=23")
	env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=24")
	if "LSAN_OPTIONS" not in env and os.path.exists(_LSAN_SUPP):
		env["LSAN_OPTIONS"] = "suppressions=" + os.path.abspath(_LSAN_SUPP)
	return env


class Proxy:
	"""vmdesk-proxy --vm VM --display UPSTREAM --socket TMP/SOCK [args...] as a context manager."""

	def __init__(self, vm="test", upstream=None, args=(), env=None, binary=None,
	             socket_name=None, expect_status=0):
		self.vm = vm
		self.upstream = upstream
		self.args = list(args)
		self.binary = binary or proxy_binary()
		self.socket_name = socket_name or "vmdesk-%s.sock" % vm
		self.expect_status = expect_status
		self._env = env
		self.proc = None
		self.dir = None
		self.socket = None
		self._log_path = None
		self._log_file = None
		self._stopped = False
		self._stop_problem = None

	def command(self):
		cmd = [self.binary, "--vm", self.vm]
		if self.upstream is not None:
			cmd += ["--display", self.upstream]
		return cmd + ["--socket", self.socket] + self.args

	def __enter__(self):
		become_subreaper()
		self.dir = tempfile.mkdtemp(prefix="vmdesk-proxy-")
		self.socket = os.path.join(self.dir, self.socket_name)
		self._log_path = os.path.join(self.dir, "proxy.log")
		self._log_file = open(self._log_path, "wb")
		try:
			self.proc = subprocess.Popen(self.command(), env=proxy_env(self._env),
			                             stdin=subprocess.DEVNULL, stdout=self._log_file,
			                             stderr=subprocess.STDOUT, start_new_session=True)
			wait_for(lambda: is_listening(self.socket), timeout=10,
			         what="vmdesk-proxy to listen on %s" % self.socket, check=self._check_alive)
		except BaseException as e:
			self._kill()
			log = self.log()
			self._cleanup()
			raise ProxyError("vmdesk-proxy did not start: %s\n--- command ---\n%s\n--- log ---\n%s"
			                 % (e, " ".join(self.command()), log)) from None
		return self

	def __exit__(self, exc_type, exc, tb):
		try:
			problem = self.stop()
			if problem:
				raise ProxyError(problem)
			if exc is not None and hasattr(exc, "add_note"):
				exc.add_note("--- vmdesk-proxy log ---\n" + _tail(self.log()))
		finally:
			self._cleanup()
		return False

	def stop(self):
		"""SIGTERM, wait, check the status and the log; returns a problem string or None.

		A test may call it to stop the proxy early; later calls return the same result."""
		if self.proc is None:
			return None
		if self._stopped:
			return self._stop_problem
		self._stopped = True
		already_dead = self.proc.poll() is not None
		if not already_dead:
			self.proc.send_signal(signal.SIGTERM)
		try:
			self.proc.wait(timeout=STOP_TIMEOUT)
			hung = False
		except subprocess.TimeoutExpired:
			hung = True
		self._kill()
		log = self.log()
		problem = None
		if hung:
			problem = "vmdesk-proxy did not exit within %ds of SIGTERM" % STOP_TIMEOUT
		elif already_dead:
			problem = "vmdesk-proxy died during the test (status %s)" % self.proc.returncode
		elif self.proc.returncode != self.expect_status:
			problem = "vmdesk-proxy exited with status %s after SIGTERM (expected %s)" % (
				self.proc.returncode, self.expect_status)
		marker = sanitizer_report(log)
		if marker:
			problem = (problem + "; " if problem else "") + "sanitizer report (%s)" % marker
		if problem:
			self._stop_problem = "%s\n--- command ---\n%s\n--- log ---\n%s" % (
				problem, " ".join(self.command()), _tail(log, 30000))
		return self._stop_problem

	def _kill(self):
		if self.proc is not None:
			reap_group(self.proc.pid)
			try:
				self.proc.wait(timeout=STOP_TIMEOUT)
			except subprocess.TimeoutExpired:
				pass

	def _cleanup(self):
		if self._log_file is not None:
			self._log_file.close()
			self._log_file = None
		if self.dir is not None:
			shutil.rmtree(self.dir, ignore_errors=True)
			self.dir = None

	def _check_alive(self):
		if self.proc.poll() is not None:
			raise ProxyError("vmdesk-proxy exited with status %d" % self.proc.returncode)

	# -- helpers --
	@property
	def pid(self):
		return self.proc.pid

	def alive(self):
		return self.proc is not None and self.proc.poll() is None

	def check_alive(self):
		"""Raise (with the log) if the proxy is no longer running."""
		if not self.alive():
			raise ProxyError("vmdesk-proxy is not running (status %s)\n--- log ---\n%s"
			                 % (self.proc.returncode, _tail(self.log())))

	def env(self, comp, **extra):
		"""Environment for a client: comp's XDG_RUNTIME_DIR, WAYLAND_DISPLAY=our socket."""
		extra["WAYLAND_DISPLAY"] = self.socket
		return comp.env(**extra)

	def log(self):
		if not self._log_path:
			return ""
		try:
			with open(self._log_path, "rb") as f:
				return f.read().decode(errors="replace")
		except OSError:
			return ""

	def wait_log(self, pattern, timeout=10, what=None):
		"""Wait until the regex pattern matches the log; returns the match."""
		regex = re.compile(pattern, re.M)

		def match():
			return regex.search(self.log())

		return wait_for(match, timeout=timeout, what=what or "proxy log to match %r" % pattern,
		                check=self.check_alive)

	def client_lines(self, pid):
		"""Log lines about the client with this pid."""
		needle = re.compile(r"\bvm=%s pid=%d\b" % (re.escape(self.vm), pid))
		return [line for line in self.log().splitlines() if needle.search(line)]

	def wait_client_done(self, pid, timeout=10):
		"""Wait for 'pid=PID disconnected'; assert it also connected and had no protocol error."""
		self.wait_log(r"\bvm=%s pid=%d disconnected" % (re.escape(self.vm), pid), timeout=timeout,
		              what="the proxy to log that client %d disconnected" % pid)
		lines = self.client_lines(pid)
		text = "\n".join(lines)
		if not any(line.endswith(" connected") for line in lines):
			raise ProxyError("no 'connected' line for client %d:\n%s" % (pid, text))
		bad = [line for line in lines if "protocol error" in line]
		if bad:
			raise ProxyError("client %d had protocol errors:\n%s\n--- log ---\n%s"
			                 % (pid, "\n".join(bad), _tail(self.log())))
		return lines

	def fd_count(self):
		return fd_count(self.proc.pid)

	def fds(self):
		return fd_targets(self.proc.pid)


def _tail(text, limit=8000):
	if len(text) <= limit:
		return text
	return "[... %d bytes cut ...]\n%s" % (len(text) - limit, text[-limit:])


def run_through_proxy(vm, upstream, argv, timeout=30, args=(), env=None, binary=None,
                      check_sanitizer=True, input=None):
	"""Run `vmdesk-proxy --vm VM --display UPSTREAM [args] -- argv`; returns CompletedProcess
	(text stdout/stderr). Raises ProxyError on a timeout or a sanitizer report."""
	become_subreaper()
	cmd = [binary or proxy_binary(), "--vm", vm]
	if upstream is not None:
		cmd += ["--display", upstream]
	cmd += list(args) + ["--"] + list(argv)
	proc = subprocess.Popen(cmd, env=proxy_env(env), stdin=subprocess.PIPE if input else
	                        subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
	                        start_new_session=True)
	try:
		out, err = proc.communicate(input=input, timeout=timeout)
	except subprocess.TimeoutExpired:
		reap_group(proc.pid)
		out, err = proc.communicate()
		raise ProxyError("%s timed out after %ss\n--- stderr ---\n%s"
		                 % (" ".join(cmd), timeout, _tail(err.decode(errors="replace"))))
	finally:
		reap_group(proc.pid)
	result = subprocess.CompletedProcess(cmd, proc.returncode, out.decode(errors="replace"),
	                                     err.decode(errors="replace"))
	marker = sanitizer_report(result.stderr)
	if check_sanitizer and marker:
		raise ProxyError("sanitizer report (%s) from %s\n--- stderr ---\n%s"
		                 % (marker, " ".join(cmd), _tail(result.stderr, 30000)))
	return result


def parse_policy(path):
	"""{interface: max_version or None} of the `allow` lines of a policy file."""
	allowed = {}
	with open(path) as f:
		for line in f:
			words = line.split("#", 1)[0].split()
			if len(words) >= 2 and words[0] == "allow":
				allowed[words[1]] = int(words[2]) if len(words) > 2 else None
	return allowed


_GLOBAL_RE = re.compile(r"interface: '([A-Za-z0-9_]+)',\s*version:\s*(\d+),\s*name:\s*(\d+)")


def wayland_globals(env, timeout=15):
	"""{interface: version} advertised to a client with this env (runs wayland-info).

	Raises ProxyError if wayland-info fails. An interface advertised twice
	(several outputs) keeps its highest version."""
	out = subprocess.run(["wayland-info"], env=env, stdin=subprocess.DEVNULL,
	                     capture_output=True, timeout=timeout)
	text = out.stdout.decode(errors="replace")
	if out.returncode != 0:
		raise ProxyError("wayland-info failed (%d) on %s:\n%s%s"
		                 % (out.returncode, env.get("WAYLAND_DISPLAY"), text,
		                    out.stderr.decode(errors="replace")))
	found = {}
	for name, version, _ in _GLOBAL_RE.findall(text):
		found[name] = max(found.get(name, 0), int(version))
	return found


class Client:
	"""A client process in its own process group; always killed and reaped on exit.

	    with Client(["weston-terminal"], env=p.env(comp)) as c:
	        c.pid, c.proc, c.wait(timeout), c.output()
	"""

	def __init__(self, argv, env, cwd=None):
		self.argv = list(argv)
		self.env = env
		self.cwd = cwd
		self.proc = None
		self._out = None

	def __enter__(self):
		become_subreaper()
		self._out = tempfile.TemporaryFile()
		self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd,
		                             stdin=subprocess.DEVNULL, stdout=self._out,
		                             stderr=subprocess.STDOUT, start_new_session=True)
		return self

	def __exit__(self, exc_type, exc, tb):
		if self.proc.poll() is None:
			self.proc.kill()
		try:
			self.proc.wait(timeout=STOP_TIMEOUT)
		except subprocess.TimeoutExpired:
			pass
		reap_group(self.proc.pid)
		if exc is not None and hasattr(exc, "add_note"):
			exc.add_note("--- output of %s ---\n%s" % (self.argv[0], _tail(self.output(), 4000)))
		self._out.close()
		return False

	@property
	def pid(self):
		return self.proc.pid

	def alive(self):
		return self.proc.poll() is None

	def wait(self, timeout=10):
		"""Wait for the client to exit; returns its status (raises on timeout)."""
		try:
			return self.proc.wait(timeout=timeout)
		except subprocess.TimeoutExpired:
			raise TimeoutError("%s (pid %d) still running after %ss\n--- output ---\n%s"
			                   % (self.argv[0], self.pid, timeout, _tail(self.output(), 4000)))

	def stop(self, sig=signal.SIGTERM, timeout=10):
		"""Send sig and wait; returns the exit status."""
		if self.proc.poll() is None:
			self.proc.send_signal(sig)
		return self.wait(timeout)

	def output(self):
		self._out.flush()
		self._out.seek(0)
		return self._out.read().decode(errors="replace")
