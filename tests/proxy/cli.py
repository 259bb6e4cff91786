#!/usr/bin/python3
"""vmdesk-proxy's command line: the `-- COMMAND` form, socket activation,
bad arguments (exit 2 with a precise message), a missing upstream."""

import os
import signal
import socket
import subprocess
import tempfile

import tap
from compositor import Sway, reap_group, wait_for
from proxy import (Client, Proxy, is_listening, proxy_binary, proxy_env, run_through_proxy,
                   sanitizer_report, wayland_globals)

suite = tap.Suite()
VM = "work"
# Argument checks must not depend on a compositor: a well-formed upstream path
# that is never connected to (nothing in these tests gets that far).
UPSTREAM = "/nonexistent/vmdesk-test-wayland"


def run_proxy(args, timeout=15, env=None):
	"""Run the proxy with these arguments to completion (no compositor needed)."""
	env = proxy_env(env)
	env.pop("WAYLAND_DISPLAY", None)
	out = subprocess.run([proxy_binary()] + args, env=env, stdin=subprocess.DEVNULL,
	                     capture_output=True, timeout=timeout, start_new_session=True)
	stderr = out.stderr.decode(errors="replace")
	marker = sanitizer_report(stderr)
	assert not marker, "sanitizer report (%s):\n%s" % (marker, stderr)
	return out.returncode, out.stdout.decode(errors="replace"), stderr


def expect_usage_error(args, *words):
	"""The proxy refuses args with status 2 and a message naming each of words."""
	status, out, err = run_proxy(args)
	assert status == 2, "vmdesk-proxy %s: status %d, expected 2\nstderr: %s" % (
		" ".join(args), status, err)
	assert err.strip(), "vmdesk-proxy %s: no message on stderr" % " ".join(args)
	for word in words:
		assert word in err, "vmdesk-proxy %s: message does not mention %r:\n%s" % (
			" ".join(args), word, err)
	tap.diag("%s -> %s" % (" ".join(args), err.strip().splitlines()[0]))


# --- the `-- COMMAND` form --------------------------------------------------------

@suite.test
def test_command_exit_status_is_returned():
	with Sway() as comp:
		for code in (0, 7, 1):
			result = run_through_proxy(VM, comp.display, ["sh", "-c", "exit %d" % code],
			                           timeout=20)
			assert result.returncode == code, "sh -c 'exit %d' through the proxy gave %d\n%s" % (
				code, result.returncode, result.stderr)


@suite.test
def test_command_gets_absolute_wayland_display():
	with Sway() as comp:
		script = 'case "$WAYLAND_DISPLAY" in /*) ;; *) exit 3;; esac; test -S "$WAYLAND_DISPLAY"'
		result = run_through_proxy(VM, comp.display, ["sh", "-c", script], timeout=20)
		assert result.returncode == 0, "WAYLAND_DISPLAY is not an absolute socket path (%d)\n%s" % (
			result.returncode, result.stderr)


@suite.test
def test_command_wayland_info_sees_filtered_globals():
	with Sway() as comp:
		result = run_through_proxy(VM, comp.display, ["wayland-info"], timeout=20)
		assert result.returncode == 0, result.stderr
		assert "'wl_compositor'" in result.stdout, result.stdout
		assert "zwlr_screencopy_manager_v1" not in result.stdout, "screencopy leaked"


@suite.test
def test_trace_prints_every_message_with_client_ids():
	"""--trace (and VMDESK_TRACE=1) print one line per message, requests "->",
	events "<-", messages the proxy drops " x", all with the client's IDs."""
	with Sway() as comp:
		for args, env in ((["--trace"], None), ([], dict(os.environ, VMDESK_TRACE="1"))):
			result = run_through_proxy(VM, comp.display, ["wayland-info"], args=args, env=env,
			                           timeout=20)
			assert result.returncode == 0, result
			lines = result.stderr.splitlines()
			wanted = ("-> wl_display@1.get_registry(new wl_registry@2)",
			          "<- wl_registry@2.global(1, \"",
			          " x wl_registry@2.global(")  # a global the policy hides
			for part in wanted:
				assert any(part in line for line in lines), \
					"no trace line with %r in:\n%s" % (part, "\n".join(lines[:40]))
			hidden = [line for line in lines if " x wl_registry@2.global(" in line]
			assert any("zwlr_layer_shell_v1" in line for line in hidden), hidden[:5]
		quiet = run_through_proxy(VM, comp.display, ["wayland-info"], timeout=20)
		assert "wl_display@1.get_registry" not in quiet.stderr, "trace without --trace"


@suite.test
def test_command_foot_with_color_maps_a_window():
	with Sway() as comp, tempfile.TemporaryDirectory() as tmp:
		go = os.path.join(tmp, "go")
		argv = [proxy_binary(), "--vm", "demo", "--color", "green", "--display", comp.display,
		        "--", "foot", "-e", "sh", "-c",
		        "while [ ! -e %s ]; do sleep 0.05; done; exit 5" % go]
		env = proxy_env(comp.env(WAYLAND_DISPLAY=None))
		with Client(argv, env=env) as proxy:
			win = comp.wait_for(lambda: [w for w in comp.windows() if w["app_id"] and
			                             "foot" in w["app_id"]], timeout=15,
			                    what="foot's window")[0]
			tap.diag("foot through the proxy: title %r app_id %r" % (win["name"], win["app_id"]))
			# The user must be able to tell the VM: its name in the title, and a frame in
			# its color (a left-edge pixel, mid-height, is clearly green).
			assert "demo" in win["name"], "no VM name in the title %r" % win["name"]
			rect = win["rect"]
			x, y = rect["x"] + 1, rect["y"] + rect["height"] // 2

			def green_edge():
				r, g, b = comp.pixel(x, y)
				return g > r + 60 and g > b + 60

			comp.wait_for(green_edge, timeout=10, what="a green frame at (%d,%d)" % (x, y))
			open(go, "w").close()
			status = proxy.wait(timeout=15)
			out = proxy.output()
			assert status == 5, "proxy -- foot returned %d, expected foot's 5\n%s" % (status, out)
			assert not sanitizer_report(out), out


@suite.test
def test_command_killed_by_signal():
	"""A command that dies of a signal: the proxy reports it as 128+N, like a shell."""
	with Sway() as comp:
		result = run_through_proxy(VM, comp.display, ["sh", "-c", "kill -TERM $$"], timeout=20)
		assert result.returncode == 128 + signal.SIGTERM, (
			"command killed by SIGTERM: proxy returned %d (expected %d)\n%s"
			% (result.returncode, 128 + signal.SIGTERM, result.stderr))


@suite.test
def test_command_not_found():
	with Sway() as comp:
		result = run_through_proxy(VM, comp.display, ["/nonexistent/vmdesk-no-such-cmd"],
		                           timeout=20)
		assert result.returncode in (126, 127), "missing command gave status %d\n%s" % (
			result.returncode, result.stderr)
		assert "vmdesk-no-such-cmd" in result.stderr, "no message naming the command:\n%s" % (
			result.stderr)


# --- bad arguments ----------------------------------------------------------------

@suite.test
def test_help_and_version():
	status, out, err = run_proxy(["--help"])
	assert status == 0, "--help: status %d\n%s" % (status, err)
	assert "--vm" in out and "--socket" in out, "--help output lacks the options:\n%s" % out
	status, out, err = run_proxy(["--version"])
	assert status == 0, "--version: status %d\n%s" % (status, err)
	assert "0." in out, "--version prints no version: %r" % out


@suite.test
def test_no_arguments():
	expect_usage_error([], "--vm")


@suite.test
def test_unknown_option():
	expect_usage_error(["--vm", VM, "--display", UPSTREAM, "--socket", "/tmp/x.sock", "--bogus-option"],
	                   "--bogus-option")


@suite.test
def test_missing_vm():
	expect_usage_error(["--socket", "/tmp/vmdesk-test-unused.sock"], "--vm")


@suite.test
def test_option_without_value():
	expect_usage_error(["--vm"], "--vm")


@suite.test
def test_bad_color():
	expect_usage_error(["--vm", VM, "--display", UPSTREAM, "--color", "notacolor", "--socket", "/tmp/x.sock"],
	                   "notacolor")


@suite.test
def test_bad_numbers():
	for option in ("--max-objects", "--max-queue", "--max-fds"):
		for value in ("abc", "-1", "12x", "99999999999999999999999"):
			expect_usage_error(["--vm", VM, "--display", UPSTREAM, option, value, "--socket", "/tmp/x.sock"], option)


@suite.test
def test_bad_log_level():
	expect_usage_error(["--vm", VM, "--display", UPSTREAM, "--log-level", "loud", "--socket", "/tmp/x.sock"], "loud")


@suite.test
def test_neither_socket_nor_command():
	expect_usage_error(["--vm", VM, "--display", UPSTREAM], "--socket")


@suite.test
def test_missing_policy_file():
	path = "/nonexistent/vmdesk-test.policy"
	expect_usage_error(["--vm", VM, "--display", UPSTREAM, "--policy", path,
	                    "--socket", "/tmp/x.sock"], path)


@suite.test
def test_bad_policy_line():
	with tempfile.NamedTemporaryFile("w", suffix=".policy") as f:
		f.write("allow wl_compositor\nallow vmdesk_no_such_interface_v1\n")
		f.flush()
		expect_usage_error(["--vm", VM, "--display", UPSTREAM, "--policy", f.name,
		                    "--socket", "/tmp/x.sock"], "%s:2" % f.name)


@suite.test
def test_bad_vm_names():
	for name in ("bad name", "", "9lives", "a/b", "x" * 40):
		expect_usage_error(["--vm", name, "--display", UPSTREAM, "--socket", "/tmp/x.sock"],
		                   "'%s'" % name)


@suite.test
def test_socket_path_too_long():
	path = "/tmp/" + "d" * 120 + ".sock"
	expect_usage_error(["--vm", VM, "--display", UPSTREAM, "--socket", path], "too long")


@suite.test
def test_socket_in_missing_directory():
	path = "/nonexistent/vmdesk-dir/p.sock"
	status, out, err = run_proxy(["--vm", VM, "--display", UPSTREAM, "--socket", path])
	assert status != 0, "listening in a missing directory: status 0"
	assert "/nonexistent/vmdesk-dir/p.sock" in err, "no message naming the socket:\n%s" % err


@suite.test
def test_second_proxy_on_a_live_socket_is_refused():
	"""A second proxy must not steal (unlink and rebind) a socket another proxy serves."""
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display) as first:
		status, out, err = run_proxy(["--vm", "other", "--display", comp.display,
		                              "--socket", first.socket])
		tap.diag("second proxy: status %d: %s" % (status, err.strip().splitlines()[-1:]))
		assert status != 0, "a second proxy started on a live socket:\n%s" % err
		assert first.socket in err, "the message does not name the socket:\n%s" % err
		assert is_listening(first.socket), "the first proxy's socket is gone"
		found = wayland_globals(first.env(comp))
		assert "wl_compositor" in found, "the first proxy no longer serves"


@suite.test
def test_missing_upstream_is_reported():
	"""A nonexistent upstream: refused at start, or each client gets a clear error."""
	missing = "/nonexistent/vmdesk-wayland-9"
	with tempfile.TemporaryDirectory() as tmp:
		sock = os.path.join(tmp, "p.sock")
		argv = [proxy_binary(), "--vm", VM, "--display", missing, "--socket", sock]
		env = proxy_env(dict(os.environ, XDG_RUNTIME_DIR=tmp))
		env.pop("WAYLAND_DISPLAY", None)
		with Client(argv, env=env) as proxy:
			wait_for(lambda: not proxy.alive() or is_listening(sock), timeout=10,
			         what="the proxy to exit or listen")
			if not proxy.alive():
				status = proxy.wait()
				out = proxy.output()
				tap.diag("missing upstream: exits at start with %d: %s" % (status, out.strip()))
				assert status != 0, "exited 0 without an upstream"
				assert missing in out, "the message does not name the upstream:\n%s" % out
				return
			tap.diag("missing upstream: proxy listens, fails per client")
			client_env = dict(env, WAYLAND_DISPLAY=sock)
			out = subprocess.run(["wayland-info"], env=client_env, stdin=subprocess.DEVNULL,
			                     capture_output=True, timeout=15)
			err = out.stderr.decode(errors="replace")
			assert b"interface:" not in out.stdout, "a client got globals with no upstream"
			# libwayland prints the wl_display.error the client received.
			assert "error" in err, "the client got no protocol error: %r" % err
			tap.diag("client saw: %s" % err.strip())
			wait_for(lambda: missing in proxy.output(), timeout=10,
			         what="the proxy to log the missing upstream %s" % missing)
			assert proxy.alive(), "the proxy died after the client:\n%s" % proxy.output()
			assert proxy.stop() == 0, proxy.output()
			assert not sanitizer_report(proxy.output()), proxy.output()


@suite.test
def test_default_upstream_is_wayland_display():
	"""Without --display the proxy uses $WAYLAND_DISPLAY (a name under XDG_RUNTIME_DIR)."""
	with Sway() as comp, tempfile.TemporaryDirectory() as tmp:
		sock = os.path.join(tmp, "p.sock")
		env = proxy_env(comp.env(WAYLAND_DISPLAY=os.path.basename(comp.display)))
		argv = [proxy_binary(), "--vm", VM, "--socket", sock]
		with Client(argv, env=env) as proxy:
			def check():
				assert proxy.alive(), "the proxy exited:\n" + proxy.output()

			wait_for(lambda: is_listening(sock), timeout=10, what="the proxy to listen",
			         check=check)
			found = wayland_globals(comp.env(WAYLAND_DISPLAY=sock))
			assert "wl_compositor" in found, found
			assert proxy.stop() == 0, proxy.output()


# --- socket activation ------------------------------------------------------------

# Puts the inherited socket on fd 3, sets LISTEN_PID to its own pid and execs the
# proxy, which keeps that pid.
ACTIVATE = """
import os, sys
fd = int(sys.argv[1])
os.dup2(fd, 3)
if fd != 3:
    os.close(fd)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid()) if sys.argv[2] == "self" else "1"
os.execv(sys.argv[3], sys.argv[3:])
"""


def activated_proxy(comp, sock_path, pid_mode="self"):
	listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	listener.bind(sock_path)
	listener.listen(16)
	argv = ["/usr/bin/python3", "-c", ACTIVATE, str(listener.fileno()), pid_mode,
	        proxy_binary(), "--vm", VM, "--display", comp.display]
	env = proxy_env(comp.env(WAYLAND_DISPLAY=None))
	proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
	                        stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),),
	                        start_new_session=True)
	listener.close()
	return proc


def finish(proc):
	if proc.poll() is None:
		proc.send_signal(signal.SIGTERM)
	try:
		out, _ = proc.communicate(timeout=15)
	finally:
		reap_group(proc.pid)
	return proc.returncode, out.decode(errors="replace")


@suite.test
def test_socket_activation():
	with Sway() as comp, tempfile.TemporaryDirectory() as tmp:
		sock = os.path.join(tmp, "activated.sock")
		proc = activated_proxy(comp, sock)
		try:
			for _ in range(2):
				found = wayland_globals(comp.env(WAYLAND_DISPLAY=sock))
				assert "wl_compositor" in found and "zwlr_screencopy_manager_v1" not in found, found
			assert proc.poll() is None, "the activated proxy exited"
		finally:
			status, out = finish(proc)
		tap.diag("activated proxy log: %d lines" % len(out.splitlines()))
		assert status == 0, "activated proxy exited %d after SIGTERM:\n%s" % (status, out)
		assert not sanitizer_report(out), out
		assert out.count(" connected") >= 2, "no connect lines in the log:\n%s" % out


@suite.test
def test_socket_activation_for_another_pid_is_ignored():
	"""LISTEN_PID naming another process: the fds are not ours (sd_listen_fds rule)."""
	with Sway() as comp, tempfile.TemporaryDirectory() as tmp:
		sock = os.path.join(tmp, "activated.sock")
		proc = activated_proxy(comp, sock, pid_mode="other")
		try:
			proc.wait(timeout=15)
		except subprocess.TimeoutExpired:
			pass
		status, out = finish(proc)
		assert status == 2, ("with LISTEN_PID of another process and no --socket the proxy "
		                     "should refuse to start (2), got %d:\n%s" % (status, out))


suite.run()
