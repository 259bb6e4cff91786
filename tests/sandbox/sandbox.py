"""Every vmdesk daemon runs under its seccomp filter once started, and a call
outside its list kills it (README, "Sandbox").

A preload shim (tests/sandbox/shim.c, built for tests only) makes the daemon
attempt one forbidden call on SIGUSR2: execve, socket(AF_INET) or open of a new
file for writing. Enforcing (the default), the daemon dies of SIGSYS; with
--seccomp=log it lives on and the kernel logs the call (type=1326); with
--seccomp=off the call simply happens, which shows that the shim works and the
death is the filter's doing.
"""

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import tap
from compositor import become_subreaper, proc_status, stop_process, wait_for
from proxy import is_listening, proxy_binary, proxy_env, sanitizer_report

# usage: sandbox.py SHIM.so VMDESK-CLIPD VMDESK-GUEST-WAYLAND VMDESK-GUESTD VMDESK-HOSTD
# (tests/sandbox/meson.build)
SHIM, CLIPD, BRIDGE, GUESTD, HOSTD = sys.argv[1:6]
# vmdesk-hostd writes files (menu entries, icons, state, logs) and reads some
# (VM definitions, images, fonts) by design: its seccomp list allows opens for
# writing and reading; Landlock confines both to its directories, so a new
# file elsewhere, or a user's file read, is refused (EACCES), not killed
CALLS = {"vmdesk-hostd": ("execve", "socket-inet", "fork", "open-new", "read-file"),
         # vmdesk-proxy and vmdesk-clipd may read (fonts, a policy) and remove
         # (their socket) by seccomp; Landlock confines both: a user's file is
         # refused (EACCES)
         "vmdesk-proxy": ("execve", "socket-inet", "open-new", "fork", "read-file", "unlink"),
         "vmdesk-clipd": ("execve", "socket-inet", "open-new", "fork", "read-file", "unlink")}
# the daemons that link GLib (pango, librsvg)
GLIB_USERS = ("vmdesk-proxy", "vmdesk-hostd", "vmdesk-guestd")
# what Landlock refuses (the call returns -1) rather than the filter killing
LANDLOCK_CALLS = {"vmdesk-hostd": ("open-new", "read-file"),
                  "vmdesk-proxy": ("read-file", "unlink"),
                  "vmdesk-clipd": ("read-file", "unlink")}
DEFAULT_CALLS = ("execve", "socket-inet", "open-new", "fork")
# x86_64 numbers of what each shim call traps on (the audit line names them)
SYSCALL_NR = {"execve": "59", "socket-inet": "41", "open-new": "257", "fork": "56"}
BINARIES = {}


def sanitized(name):
	"""A sanitizer build adds its runtime's calls to every list, clone among them
	(LeakSanitizer's tracer at exit): there a fork is not the filter's to stop."""
	with open(BINARIES[name], "rb") as f:
		data = f.read()
	return b"__asan_init" in data or b"__ubsan_handle" in data

suite = tap.Suite()


class Daemon:
	"""A daemon with the shim preloaded, on a private socket in a temporary dir."""

	def __init__(self, name, seccomp=None, call=None, config_dir=None, shim_path=None):
		self.name = name
		self.dir = tempfile.mkdtemp(prefix="vmdesk-sandbox-")
		# vmdesk-hostd's VM definitions: the temporary dir (its $HOME), or a
		# directory beneath it that need not exist yet
		self.config_dir = os.path.join(self.dir, config_dir) if config_dir else self.dir
		self.socket = os.path.join(self.dir, "sock")
		self.new_file = os.path.join(self.dir, "new-file")
		# a user's file, outside every directory of the daemon's
		self.victim_dir = tempfile.mkdtemp(prefix="vmdesk-sandbox-victim-")
		self.victim = os.path.join(self.victim_dir, "secret")
		with open(self.victim, "w") as f:
			f.write("not for the VM\n")
		self.log_path = os.path.join(self.dir, "log")
		extra = [] if seccomp is None else ["--seccomp=" + seccomp]
		if name == "vmdesk-proxy":
			self.argv = [proxy_binary(), "--vm", "sbx", "--display",
			             os.path.join(self.dir, "no-compositor"), "--hostd", "none",
			             "--socket", self.socket] + extra
		elif name == "vmdesk-guest-wayland":
			# its Wayland socket, and the link's listening socket on the unix: carrier
			self.argv = [BRIDGE, "--display", self.socket, "--listen",
			             "unix:" + os.path.join(self.dir, "link")] + extra
		elif name == "vmdesk-guestd":
			# the agent link on the unix: carrier; its app scanner reads /usr/share
			self.argv = [GUESTD, "--listen", "unix:" + self.socket, "--notifications", "off",
			             "--tray", "off"] + extra
		elif name == "vmdesk-hostd":
			# the control socket in a directory of its own (hostd may write there),
			# VM definitions and menu entries in the temporary dir
			os.mkdir(os.path.join(self.dir, "run"))
			self.socket = os.path.join(self.dir, "run", "sock")
			self.argv = [HOSTD, "--socket", self.socket, "--config-dir", self.config_dir,
			             "--system-config-dir", "", "--display", "none", "--no-clipboard",
			             "--no-notifications", "--no-tray", "--proxy", "none"] + extra
		else:
			self.argv = [CLIPD, "--socket", self.socket, "--display", "none",
			             "--no-notify", "--policy", os.path.join(self.dir, "policy")] + extra
		env = proxy_env()
		env.pop("DBUS_SESSION_BUS_ADDRESS", None)
		if name == "vmdesk-hostd":
			for var in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
				env[var] = self.dir
		env["LD_PRELOAD"] = SHIM
		# the shim is not instrumented: ASan must not insist on coming first
		env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
		if call:
			env["VD_SHIM_CALL"] = call
			env["VD_SHIM_PATH"] = shim_path or (self.new_file if call == "open-new" else
			                                    self.victim)
		self.env = env
		self.proc = None

	def __enter__(self):
		become_subreaper()
		with open(self.log_path, "wb") as log:
			self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
			                             stdout=log, stderr=subprocess.STDOUT,
			                             start_new_session=True)
		wait_for(lambda: is_listening(self.socket) and self.status("Seccomp") is not None,
		         timeout=20, what="%s to listen" % self.name, check=self._check)
		return self

	def _check(self):
		if self.proc.poll() is not None:
			raise AssertionError("%s exited (%s):\n%s" % (self.name, self.proc.returncode,
			                     self.log()))

	def status(self, field):
		"""A field of /proc/PID/status, or None."""
		try:
			with open("/proc/%d/status" % self.proc.pid) as f:
				for line in f:
					key, _, value = line.partition(":")
					if key == field:
						return value.strip()
		except OSError:
			pass
		return None

	def wait_filtered(self, mode="2"):
		"""Waits until the filter is in (startup done); Seccomp is 0 before it."""
		wait_for(lambda: self.status("Seccomp") == mode, timeout=20,
		         what="%s to enter its sandbox (Seccomp: %s)" % (self.name, mode),
		         check=self._check)

	def log(self):
		with open(self.log_path, errors="replace") as f:
			return f.read()

	def __exit__(self, *exc):
		try:
			if self.proc.poll() is None:
				stop_process(self.proc)
		finally:
			shutil.rmtree(self.dir, ignore_errors=True)
			shutil.rmtree(self.victim_dir, ignore_errors=True)
		return False


def kernel_log():
	"""The kernel log, or None if this process may not read it."""
	try:
		return subprocess.run(["dmesg"], capture_output=True, text=True, timeout=20,
		                      check=True).stdout
	except (OSError, subprocess.SubprocessError):
		return None


def check_audit_line(before, proc, nr):
	"""The kernel logged the call (SCMP_ACT_LOG: code 0x7ffc0000). Without auditd the
	kernel prints audit records through printk's rate limit (10 per 5 s), which other
	tests' kills share: when no line comes, the call is made again after the limit's
	interval, up to three times.

	The line is matched by the daemon's executable (exe="...") and a count that
	grows, not by its pid: in a child pid namespace (bubblewrap's --unshare-pid)
	the kernel logs the pid of the initial namespace, which this one cannot name,
	and /proc, mounted for the child namespace, does not show it either. Only
	this file's daemons run in log mode, one at a time."""
	exe = os.path.realpath("/proc/%d/exe" % proc.pid)
	pattern = re.compile(r"type=1326 .*exe=\"%s\" .*syscall=%s .*code=0x7ffc0000"
	                     % (re.escape(exe), nr))
	seen = len(pattern.findall(before))
	for attempt in range(3):
		try:
			wait_for(lambda: len(pattern.findall(kernel_log() or "")) > seen, timeout=6,
			         what="the audit line %r" % pattern.pattern)
			return
		except TimeoutError:
			if attempt == 2:
				raise
			os.kill(proc.pid, signal.SIGUSR2)


def check_running_filtered(name):
	with Daemon(name) as d:
		d.wait_filtered()
		assert d.status("NoNewPrivs") == "1", d.status("NoNewPrivs")
		assert int(d.status("Seccomp_filters")) >= 1
		stop_process(d.proc)
		assert d.proc.returncode == 0, "%s exited %s:\n%s" % (name, d.proc.returncode, d.log())
		assert not sanitizer_report(d.log()), d.log()


def check_forbidden_kills(name, call):
	with Daemon(name, call=call) as d:
		d.wait_filtered()
		os.kill(d.proc.pid, signal.SIGUSR2)
		status = d.proc.wait(timeout=30)
		assert status == -signal.SIGSYS, "%s after %s: status %s, not SIGSYS:\n%s" % (
			name, call, status, d.log())
		assert "vmdesk-shim:" not in d.log(), d.log()
		assert not os.path.exists(d.new_file)


def check_landlock_refuses(name, call):
	"""Landlock confines what the filter lets through: vmdesk-hostd writes only in
	its directories, vmdesk-proxy reads only fonts and removes only its socket.
	The shim's call on a file elsewhere returns -1 (EACCES), the file is as it
	was, and the daemon lives on and cleans up at exit."""
	with Daemon(name, call=call) as d:
		d.wait_filtered()
		os.kill(d.proc.pid, signal.SIGUSR2)
		wait_for(lambda: "vmdesk-shim: %s returned" % call in d.log(), timeout=20,
		         what="the shim's call", check=d._check)
		if "offers no Landlock" in d.log():
			tap.skip("this kernel offers no Landlock")
		assert "vmdesk-shim: %s returned -1 (errno %d)" % (call, errno.EACCES) in d.log(), d.log()
		assert not os.path.exists(d.new_file)
		assert os.path.exists(d.victim)
		if name == "vmdesk-hostd":
			# what it must write still works: its menu directory was made, and is writable
			assert os.path.isdir(os.path.join(d.dir, "applications")), os.listdir(d.dir)
		stop_process(d.proc)
		assert d.proc.returncode == 0, d.log()
		if name in ("vmdesk-proxy", "vmdesk-clipd"):
			# what it must remove still goes: its socket and lock
			assert sorted(os.listdir(d.dir)) == ["log"], os.listdir(d.dir)


@suite.test
def hostd_reads_no_other_process_in_proc():
	"""/proc is not among hostd's places (its start times come from its spawner):
	the environment of the user's other programs (tokens in a shell's) is refused."""
	if sanitized("vmdesk-hostd"):
		# protocols/landlock.c: a sanitizer's runtime reads /proc for its reports
		tap.skip("a sanitizer build reads /proc (its runtime's maps)")
	env = dict(os.environ, VMDESK_SANDBOX_TOKEN="not-for-the-vm")
	other = subprocess.Popen(["sleep", "60"], env=env)
	try:
		with Daemon("vmdesk-hostd", call="read-file",
		            shim_path="/proc/%d/environ" % other.pid) as d:
			d.wait_filtered()
			os.kill(d.proc.pid, signal.SIGUSR2)
			wait_for(lambda: "vmdesk-shim: read-file returned" in d.log(), timeout=20,
			         what="the shim's call", check=d._check)
			if "offers no Landlock" in d.log():
				tap.skip("this kernel offers no Landlock")
			assert "vmdesk-shim: read-file returned -1 (errno %d)" % errno.EACCES in d.log(), \
				d.log()
			stop_process(d.proc)
			assert d.proc.returncode == 0, d.log()
	finally:
		other.kill()
		other.wait()


def write_definition(directory, vm):
	os.makedirs(directory, exist_ok=True)
	with open(os.path.join(directory, vm + ".conf"), "w") as f:
		f.write("[vm]\ncolor = green\nagent = unix:/nonexistent/agent.sock\n")


def test_hostd_reads_definitions_made_later():
	"""Under Landlock hostd still reads what it needs: a definitions directory
	made after it started, beneath its nearest existing parent (not $HOME), is
	read when inotify tells of it, and so is the next definition added."""
	daemon = Daemon("vmdesk-hostd", config_dir="defs/vms")
	os.mkdir(os.path.join(daemon.dir, "defs"))
	with daemon as d:
		d.wait_filtered()
		assert "does not exist" not in d.log(), d.log()
		write_definition(d.config_dir, "later")
		wait_for(lambda: "vm=later: new definition" in d.log(), timeout=20,
		         what="the new definition", check=d._check)
		write_definition(d.config_dir, "second")
		wait_for(lambda: "vm=second: new definition" in d.log(), timeout=20,
		         what="the second definition", check=d._check)
		assert "Permission denied" not in d.log(), d.log()
		stop_process(d.proc)
		assert d.proc.returncode == 0, d.log()


def test_hostd_reads_no_directory_made_later_in_home():
	"""A definitions directory missing at startup whose nearest parent is $HOME
	is not covered (that would open the whole home): hostd says so at startup,
	and when the directory comes its reload is refused (EACCES, logged)
	rather than reading $HOME."""
	with Daemon("vmdesk-hostd", config_dir="vms") as d:
		d.wait_filtered()
		if "offers no Landlock" in d.log():
			tap.skip("this kernel offers no Landlock")
		assert "does not exist; made later, it is read after a restart" in d.log(), d.log()
		write_definition(d.config_dir, "later")
		os.kill(d.proc.pid, signal.SIGHUP)
		wait_for(lambda: "VM definitions in %s: Permission denied" % d.config_dir in d.log(),
		         timeout=20, what="the refused reload", check=d._check)
		assert "vm=later" not in d.log(), d.log()
		stop_process(d.proc)
		assert d.proc.returncode == 0, d.log()


def menu_writer_pid(hostd):
	"""The pid of hostd's menu writer (its child named vmdesk-menu), once it named itself."""
	def find():
		for entry in os.listdir("/proc"):
			if not entry.isdigit():
				continue
			try:
				with open("/proc/%s/status" % entry) as f:
					fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
			except OSError:
				continue
			if fields.get("Name") == "vmdesk-menu" and fields.get("PPid") == str(hostd.proc.pid):
				return int(entry)
		return None
	wait_for(lambda: find() is not None, timeout=20, what="hostd's menu writer",
	         check=hostd._check)
	return find()


def test_hostd_writes_no_menu_entry():
	"""hostd has no access to the menu's directories (only its menu writer
	does): a desktop entry of its own in ~/.local/share/applications, whose
	Exec line would run on the user's click, is refused (EACCES), and the
	directory is there (made by the writer)."""
	daemon = Daemon("vmdesk-hostd", call="open-new")
	evil = os.path.join(daemon.dir, "applications", "vmdesk.evil.desktop")
	daemon.env["VD_SHIM_PATH"] = evil
	with daemon as d:
		d.wait_filtered()
		menu_writer_pid(d)
		os.kill(d.proc.pid, signal.SIGUSR2)
		wait_for(lambda: "vmdesk-shim: open-new returned" in d.log(), timeout=20,
		         what="the shim's call", check=d._check)
		if "offers no Landlock" in d.log():
			tap.skip("this kernel offers no Landlock")
		assert "vmdesk-shim: open-new returned -1 (errno %d)" % errno.EACCES in d.log(), d.log()
		assert not os.path.exists(evil)
		assert os.path.isdir(os.path.join(d.dir, "applications")), os.listdir(d.dir)
		stop_process(d.proc)
		assert d.proc.returncode == 0, d.log()


def test_menu_writer_runs_filtered():
	"""hostd's menu writer has its own filter (no_new_privs, Seccomp: 2), and
	ends with hostd."""
	with Daemon("vmdesk-hostd") as d:
		d.wait_filtered()
		pid = menu_writer_pid(d)
		wait_for(lambda: proc_status(pid, "Seccomp") == "2", timeout=20,
		         what="the menu writer's filter", check=d._check)
		assert proc_status(pid, "NoNewPrivs") == "1"
		stop_process(d.proc)
		assert d.proc.returncode == 0, d.log()
		assert not os.path.exists("/proc/%d" % pid), "the menu writer outlived hostd"
		assert not sanitizer_report(d.log()), d.log()


def check_menu_writer_call(call, shim_path=None, until=None):
	"""The shim makes hostd's menu writer attempt call; hostd's log says how it
	went, once until(log, pid) (by default: the shim's line, or the writer gone)."""
	daemon = Daemon("vmdesk-hostd", call=call)
	daemon.env["VD_SHIM_PROCESS"] = "vmdesk-menu"
	if shim_path is not None:
		daemon.env["VD_SHIM_PATH"] = shim_path(daemon)
	if until is None:
		until = lambda log, pid: ("vmdesk-shim: %s returned" % call in log or
		                          "the menu writer (pid %d) is gone" % pid in log)
	with daemon as d:
		d.wait_filtered()
		pid = menu_writer_pid(d)
		wait_for(lambda: proc_status(pid, "Seccomp") == "2", timeout=20,
		         what="the menu writer's filter", check=d._check)
		os.kill(pid, signal.SIGUSR2)
		wait_for(lambda: until(d.log(), pid), timeout=20,
		         what="the shim's call in the menu writer", check=d._check)
		log = d.log()
		gone = not os.path.exists("/proc/%d" % pid)
		stop_process(d.proc)
		assert d.proc.returncode == 0, d.log()
		return d, log, gone


def test_menu_writer_execve_kills():
	"""A forbidden call kills the menu writer (SIGSYS); hostd lives on and says so."""
	d, log, gone = check_menu_writer_call("execve")
	assert "killed by signal %d" % signal.SIGSYS in log, log
	assert "vmdesk-shim:" not in log, log


def test_menu_writer_socket_inet_kills():
	d, log, gone = check_menu_writer_call("socket-inet")
	assert "killed by signal %d" % signal.SIGSYS in log, log


def test_menu_writer_writes_only_in_the_menu_dirs():
	"""Landlock: the writer may create files only in the menu's directories;
	one elsewhere is refused (EACCES) and the writer lives on."""
	d, log, gone = check_menu_writer_call("open-new",
	                                lambda d: os.path.join(d.victim_dir, "vmdesk.desktop"))
	if "offers no Landlock" in log:
		tap.skip("this kernel offers no Landlock")
	assert "vmdesk-shim: open-new returned -1 (errno %d)" % errno.EACCES in log, log
	assert "the menu writer" not in log or "is gone" not in log, log


def test_menu_writer_stuck_is_killed():
	"""A menu writer taken over that sends garbage and then reads no more
	cannot hold hostd up: hostd fails its link, kills it once it has not
	ended 2 s later, says so, and lives on to a clean stop."""
	d, log, gone = check_menu_writer_call(
		"garble-hang", until=lambda log, pid: "the menu writer (pid %d) is gone" % pid in log)
	assert re.search(r"vmdesk-shim: garble-hang returned [1-9]", log), log
	assert "still running 2000 ms after its link closed: killed" in log, log
	assert gone, "the stuck writer lives on"


def check_glib_warning_logged(name):
	"""A GLib message after startup (pango's, when a font fails to load) goes to
	the daemon's log: GLib's own writer would first ask whether stderr is the
	journal (getpeername), which no filter allows."""
	with Daemon(name, call="glib-warning") as d:
		d.wait_filtered()
		os.kill(d.proc.pid, signal.SIGUSR2)
		wait_for(lambda: "vmdesk-shim: glib-warning returned" in d.log(), timeout=20,
		         what="the shim's call", check=d._check)
		assert "vmdesk-shim: glib-warning returned 0" in d.log(), d.log()
		assert re.search(r"\[glib\] warning: vmdesk-shim: a warning, as pango's", d.log()), d.log()
		stop_process(d.proc)
		assert d.proc.returncode == 0, d.log()


def check_log_mode(name, call):
	with Daemon(name, seccomp="log", call=call) as d:
		d.wait_filtered()
		before = kernel_log()
		os.kill(d.proc.pid, signal.SIGUSR2)
		wait_for(lambda: "vmdesk-shim: %s returned" % call in d.log(), timeout=20,
		         what="the shim's call", check=d._check)
		assert d.proc.poll() is None
		result = int(re.search(r"vmdesk-shim: %s returned (-?\d+)" % call, d.log()).group(1))
		if call == "open-new":
			assert os.path.exists(d.new_file), "log mode did not let the open through"
		elif call in ("socket-inet", "fork", "read-file"):
			assert result >= 0, "log mode did not let %s through: %d" % (call, result)
		if call == "unlink":
			assert not os.path.exists(d.victim), "log mode did not let the unlink through"
		if call in LANDLOCK_CALLS.get(name, ()):
			pass  # the filter allows the call (Landlock, which has no log mode, is off)
		elif before is None:
			tap.diag("kernel log not readable here: the audit line is not checked")
		else:
			check_audit_line(before, d.proc, SYSCALL_NR[call])
		stop_process(d.proc)
		assert d.proc.returncode == 0, d.log()


def check_off_lets_through(name, call):
	with Daemon(name, seccomp="off", call=call) as d:
		d.wait_filtered(mode="0")
		os.kill(d.proc.pid, signal.SIGUSR2)
		wait_for(lambda: "vmdesk-shim: %s returned" % call in d.log(), timeout=20,
		         what="the shim's call", check=d._check)
		line = re.search(r"vmdesk-shim: %s returned (-?\d+)" % call, d.log()).group(1)
		if call == "execve":
			assert line == "-1", line  # ENOENT: the call got to the kernel's path lookup
		else:
			assert int(line) >= 0, "%s failed without a filter: %s" % (call, line)
		if call == "unlink":
			assert not os.path.exists(d.victim), "the shim's unlink did not happen"
		stop_process(d.proc)
		assert d.proc.returncode == 0, d.log()


def add_tests(name):
	short = name.replace("vmdesk-", "")

	def running():
		check_running_filtered(name)
	running.__name__ = "test_%s_runs_filtered" % short
	suite.test(running)
	if name in GLIB_USERS:
		def glib():
			check_glib_warning_logged(name)
		glib.__name__ = "test_%s_glib_warning_is_logged" % short
		suite.test(glib)
	for call in CALLS.get(name, DEFAULT_CALLS):
		if call == "fork" and sanitized(name):
			continue
		tag = "test_%s_%s" % (short, call.replace("-", "_"))
		if call in LANDLOCK_CALLS.get(name, ()):
			def refused(call=call):
				check_landlock_refuses(name, call)
			refused.__name__ = tag + "_outside_its_dirs_refused"
			suite.test(refused)

			def off(call=call):
				check_off_lets_through(name, call)
			off.__name__ = tag + "_off_lets_through"
			suite.test(off)
			if name != "vmdesk-hostd":
				def logs(call=call):
					check_log_mode(name, call)
				logs.__name__ = tag + "_log_mode_lets_through"
				suite.test(logs)
			continue
		def kills(call=call):
			check_forbidden_kills(name, call)
		kills.__name__ = "test_%s_%s_kills" % (short, call.replace("-", "_"))
		suite.test(kills)

		def logs(call=call):
			check_log_mode(name, call)
		logs.__name__ = "test_%s_%s_log_mode_survives" % (short, call.replace("-", "_"))
		suite.test(logs)

		def off(call=call):
			check_off_lets_through(name, call)
		off.__name__ = "test_%s_%s_off_lets_through" % (short, call.replace("-", "_"))
		suite.test(off)


BINARIES.update({"vmdesk-proxy": proxy_binary(), "vmdesk-clipd": CLIPD,
                 "vmdesk-guest-wayland": BRIDGE, "vmdesk-guestd": GUESTD, "vmdesk-hostd": HOSTD})
for program in ("vmdesk-proxy", "vmdesk-clipd", "vmdesk-guest-wayland", "vmdesk-guestd",
                "vmdesk-hostd"):
	add_tests(program)
suite.test(test_hostd_reads_definitions_made_later)
suite.test(test_hostd_reads_no_directory_made_later_in_home)
suite.test(test_hostd_writes_no_menu_entry)
suite.test(test_menu_writer_runs_filtered)
suite.test(test_menu_writer_execve_kills)
suite.test(test_menu_writer_socket_inet_kills)
suite.test(test_menu_writer_writes_only_in_the_menu_dirs)
suite.test(test_menu_writer_stuck_is_killed)

suite.run()
