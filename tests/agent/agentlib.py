"""Helpers for the agent tests: a private XDG tree, vmdesk-hostd and
vmdesk-guestd as child processes, the vmdesk CLI, and bounded waits.

Nothing here touches the real home: every XDG_* variable points into a
temporary directory that is removed afterwards.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HOSTD = os.environ.get("VMDESK_HOSTD", "")
GUESTD = os.environ.get("VMDESK_GUESTD", "")
CLI = os.environ.get("VMDESK_CLI", "")


from compositor import proc_status  # noqa: E402,F401 (the agent tests' too)


def wait_for(predicate, what, timeout=15.0, interval=0.05):
    """Polls predicate until it returns a true value; fails with what after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


class Bench:
    """A temporary root with XDG directories, and the processes started in it."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="vmdesk-agent-")
        self.procs = []
        self.daemons = []  # (process, log path)
        self.config = os.path.join(self.root, "config")
        self.data = os.path.join(self.root, "data")
        self.runtime = os.path.join(self.root, "run")
        self.home = os.path.join(self.root, "home")
        self.vms_dir = os.path.join(self.config, "vmdesk", "vms")
        for d in (self.config, self.data, self.home, self.vms_dir):
            os.makedirs(d, exist_ok=True)
        os.makedirs(self.runtime, mode=0o700, exist_ok=True)
        self.env = dict(os.environ)
        self.env.update({
            "XDG_CONFIG_HOME": self.config,
            "XDG_DATA_HOME": self.data,
            "XDG_RUNTIME_DIR": self.runtime,
            "HOME": self.home,
        })
        self.env.pop("VMDESK_SOCKET", None)
        self.hostd = None
        self.hostd_log = os.path.join(self.root, "hostd.log")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def write_vm(self, name, agent=None, color="red", text=None):
        if text is None:
            text = "[vm]\ncolor = %s\n" % color
            if agent is not None:
                text += "agent = %s\n" % agent
        with open(os.path.join(self.vms_dir, name + ".conf"), "w") as f:
            f.write(text)

    def spawn(self, argv, log, env=None):
        out = open(log, "ab")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                env=env or self.env)
        out.close()
        self.procs.append(proc)
        return proc

    def start_guestd(self, name, data_dirs="/usr/share", args=(), data_home=None,
                     extra_env=None):
        """A guest agent listening on unix:ROOT/NAME.sock, its own XDG data."""
        sock = self.path(name + ".sock")
        env = dict(self.env)
        env.update(extra_env or {})
        env["XDG_DATA_HOME"] = data_home or self.path("guest-" + name)
        env["XDG_DATA_DIRS"] = data_dirs
        env["HOME"] = self.path("guest-home-" + name)
        os.makedirs(env["HOME"], exist_ok=True)
        log = self.path("guestd-%s.log" % name)
        proc = self.spawn([GUESTD, "--listen", "unix:" + sock] + list(args), log, env)
        self.daemons.append((proc, log))
        wait_for(lambda: os.path.exists(sock) or proc.poll() is not None,
                 "guestd socket " + sock)
        assert proc.poll() is None, "guestd exited: " + self.read(log)
        return proc, sock

    def start_hostd(self, args=()):
        argv = [HOSTD, "--system-config-dir", "", "--retry-max-ms", "200",
                "--connect-timeout-ms", "1000", "--log-level", "debug"] + list(args)
        self.hostd = self.spawn(argv, self.hostd_log)
        self.daemons.append((self.hostd, self.hostd_log))
        sock = os.path.join(self.runtime, "vmdesk", "hostd.sock")
        wait_for(lambda: os.path.exists(sock) or self.hostd.poll() is not None, "hostd socket")
        assert self.hostd.poll() is None, "hostd exited: " + self.read(self.hostd_log)
        return self.hostd

    def stop(self, proc, sig=signal.SIGTERM, timeout=10):
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def stop_hostd(self):
        rc = self.stop(self.hostd)
        self.hostd = None
        return rc

    def cli(self, *args, timeout=60, argv0=None):
        argv = [argv0 or CLI] + list(args)
        return subprocess.run(argv, executable=CLI, env=self.env, capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def cli_popen(self, *args):
        proc = subprocess.Popen([CLI] + list(args), env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def status(self, vm):
        return self.cli("status", vm).stdout.decode()

    def wait_channel(self, vm, state="connected", timeout=15.0):
        return wait_for(lambda: ("channel: %s\n" % state) in self.status(vm),
                        "VM %s channel %s" % (vm, state), timeout)

    def read(self, path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def hostd_output(self):
        return self.read(self.hostd_log)

    def wait_log(self, text, timeout=15.0):
        return wait_for(lambda: text in self.hostd_output(), "hostd log line: " + text, timeout)

    def files(self):
        """Every file under the root (relative paths), for what-was-written checks."""
        out = set()
        for dirpath, _dirs, names in os.walk(self.root):
            for n in names:
                out.add(os.path.relpath(os.path.join(dirpath, n), self.root))
        return out

    def stop_daemons_checked(self):
        """Stops every daemon still running with SIGTERM: each must exit 0, and no
        log may hold a sanitizer report."""
        problems = []
        for proc, log in self.daemons:
            if proc.poll() is None:
                rc = self.stop(proc)
                if rc != 0:
                    problems.append("%s exited %d" % (os.path.basename(log), rc))
            text = self.read(log)
            for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                if marker in text:
                    problems.append("%s: %s\n%s" % (os.path.basename(log), marker, text[-3000:]))
        assert not problems, "\n".join(problems)

    def close(self):
        for proc in reversed(self.procs):
            self.stop(proc, signal.SIGKILL if proc.args[0] == CLI else signal.SIGTERM)
        for proc in self.procs:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        if os.environ.get("VMDESK_TEST_KEEP"):
            sys.stderr.write("kept %s\n" % self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
