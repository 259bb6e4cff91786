#!/usr/bin/env python3
"""vmdesk-hostd and vmdesk-guestd over unix:, driven by the vmdesk CLI: running
programs (waited for and detached), their output and exit status, signals,
VM definitions, reconnection, a guest that vanishes mid-command, idleness."""

import os
import signal
import subprocess
import time

import tap
from agentlib import Bench, proc_status, wait_for

suite = tap.Suite()
bench = Bench()
guest = None


@suite.test
def setup():
    global guest
    guest, sock = bench.start_guestd("work", args=["--idle-seconds", "1", "--no-apps"])
    bench.write_vm("work", agent="unix:" + sock, color="blue")
    bench.write_vm("broken", text="[vm]\ncolor = red\ncolor = nonsense-color\n")
    bench.write_vm("noagent", color="green")
    bench.start_hostd(["--no-menu"])
    bench.wait_channel("work")


@suite.test
def run_wait_returns_output_and_status():
    r = bench.cli("run", "work", "--wait", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.returncode == 3, r
    assert r.stdout == b"out\n", r.stdout
    assert r.stderr == b"err\n", r.stderr


@suite.test
def programs_run_outside_the_agents_filter():
    # the agent is filtered (README, "Sandbox"); what it runs starts in its
    # spawner, forked before the filter: no filter, no no_new_privs (sudo works).
    # "None" means none added by the agent: the program has what this test has
    # (a sandbox around the whole run, as bubblewrap's no_new_privs, is inherited).
    wait_for(lambda: proc_status(guest.pid, "Seccomp") == "2", "guestd's filter")
    # Seccomp_filters counts them: the agent has one more than this test.
    keys = ("Seccomp", "Seccomp_filters", "NoNewPrivs")
    ours = {k: proc_status(os.getpid(), k) for k in keys}
    agent = int(proc_status(guest.pid, "Seccomp_filters"))
    assert agent == int(ours["Seccomp_filters"]) + 1, (agent, ours)
    r = bench.cli("run", "work", "--wait", "--", "grep", "-E",
                  "^(Seccomp|Seccomp_filters|NoNewPrivs):", "/proc/self/status")
    assert r.returncode == 0, r
    got = dict(line.split(":\t") for line in r.stdout.decode().splitlines())
    assert got == ours, "the program has %r, this test %r" % (got, ours)
    # and a detached one too
    marker = bench.path("unfiltered-marker")
    r = bench.cli("run", "work", "--", "sh", "-c", "grep ^Seccomp: /proc/self/status > " + marker)
    assert r.returncode == 0, r
    wait_for(lambda: os.path.exists(marker) and open(marker).read().strip(), "the marker")
    assert open(marker).read().split() == ["Seccomp:", ours["Seccomp"]], open(marker).read()


@suite.test
def run_wait_streams_large_output():
    r = bench.cli("run", "work", "--wait", "--", "seq", "1", "200000")
    want = subprocess.run(["seq", "1", "200000"], capture_output=True).stdout
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == len(want) and r.stdout == want, (len(r.stdout), len(want))


@suite.test
def slow_reader_gets_all_output():
    # 40 MB while the reader pauses: the guest must wait for acknowledgements
    # (without flow control hostd would queue it all, then drop the reader).
    proc = bench.cli_popen("run", "work", "--wait", "--", "head", "-c", "40000000", "/dev/zero")
    time.sleep(1.5)
    total = 0
    while True:
        chunk = proc.stdout.read(1 << 20)
        if not chunk:
            break
        assert chunk.count(0) == len(chunk)
        total += len(chunk)
    proc.wait(timeout=60)
    assert proc.returncode == 0 and total == 40000000, (proc.returncode, total,
                                                         proc.stderr.read())


@suite.test
def run_wait_passes_stdin_with_its_end():
    r = subprocess.run([os.environ["VMDESK_CLI"], "run", "work", "--wait", "--", "cat"],
                       env=bench.env, input=b"x\n", capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout == b"x\n", r
    # more than the window, through a program that answers as it reads
    data = os.urandom(3 * 1024 * 1024 + 17)
    r = subprocess.run([os.environ["VMDESK_CLI"], "run", "work", "--wait", "--", "sh", "-c",
                        "sha256sum; echo done >&2"], env=bench.env, input=data,
                       capture_output=True, timeout=60)
    want = subprocess.run(["sha256sum"], input=data, capture_output=True).stdout
    assert r.returncode == 0 and r.stdout == want and r.stderr == b"done\n", r
    # a program that stops reading early ends normally
    r = subprocess.run([os.environ["VMDESK_CLI"], "run", "work", "--wait", "--", "head", "-c",
                        "5"], env=bench.env, input=os.urandom(4 * 1024 * 1024),
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and len(r.stdout) == 5, r


@suite.test
def run_without_wait_reads_dev_null():
    marker = bench.path("stdin-marker")
    r = subprocess.run([os.environ["VMDESK_CLI"], "run", "work", "--", "sh", "-c",
                        "wc -c > %s" % marker], env=bench.env, input=b"secret input",
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r
    wait_for(lambda: os.path.exists(marker) and open(marker).read().strip() == "0",
             "the detached program's empty input")


@suite.test
def run_passes_argv_without_a_shell():
    arg = "$(touch %s) `id` ; | & * \\ 'q' \"dq\" \x01\xff".encode("latin-1")
    r = subprocess.run([os.environ["VMDESK_CLI"], "run", "work", "--wait", "--", "printf",
                        "%s", arg], env=bench.env, capture_output=True, timeout=30)
    assert r.returncode == 0, r
    assert r.stdout == arg, r.stdout


@suite.test
def run_detached_starts_and_returns():
    marker = bench.path("detached-marker")
    r = bench.cli("run", "work", "--", "sh", "-c", "sleep 0.2; echo ran > " + marker)
    assert r.returncode == 0, r
    assert r.stdout == b"", r.stdout
    wait_for(lambda: os.path.exists(marker) and open(marker).read() == "ran\n",
             "the detached program's marker file")


@suite.test
def run_reports_missing_program():
    r = bench.cli("run", "work", "--wait", "--", "/nonexistent/program")
    assert r.returncode == 127, r
    assert b"No such file" in r.stderr, r.stderr


@suite.test
def run_reports_signal_as_128_plus():
    r = bench.cli("run", "work", "--wait", "--", "sh", "-c", "kill -TERM $$")
    assert r.returncode == 128 + signal.SIGTERM, r


@suite.test
def interrupt_is_forwarded_to_the_program():
    proc = bench.cli_popen("run", "work", "--wait", "--", "sh", "-c",
                           "trap 'echo got-int; exit 7' INT; echo ready; "
                           "while :; do sleep 0.1; done")
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=20)
    assert proc.returncode == 7, proc.returncode
    assert out == b"got-int\n", out


@suite.test
def vm_run_alias_and_env_whitelist():
    r = bench.cli("work", "--wait", "--env", "LANG=C.UTF-8", "--", "sh", "-c", "echo $LANG",
                  argv0="vm-run")
    assert r.returncode == 0 and r.stdout == b"C.UTF-8\n", r
    r = bench.cli("run", "work", "--env", "LD_PRELOAD=/tmp/x.so", "--", "true")
    assert r.returncode == 2 and b"may be set" in r.stderr, r


@suite.test
def list_and_status_show_channels():
    out = bench.cli("list").stdout.decode()
    # VM, state, pid, uptime, windows ("-": vmdesk does not start these VMs), channel, ...
    assert "work\t-\t-\t-\t-\tconnected\tblue\tunix:" in out, out
    assert "noagent\t-\t-\t-\t-\tno agent configured" in out, out
    assert "broken\t-\t-\t-\t-\tconfiguration error" in out, out
    status = bench.status("work")
    assert "capabilities: run apps idle" not in status, "--no-apps guest offers apps"
    assert "capabilities: run idle" in status, status
    assert "guest agent: vmdesk-guestd" in status, status


@suite.test
def config_errors_name_file_and_line():
    status = bench.status("broken")
    assert "broken.conf:3: duplicate key" in status, status
    r = bench.cli("run", "broken", "--", "true")
    assert r.returncode == 125 and b"broken.conf:3" in r.stderr, r
    r = bench.cli("run", "noagent", "--", "true")
    assert r.returncode == 125 and b"no agent address" in r.stderr, r
    r = bench.cli("run", "nosuchvm", "--", "true")
    assert r.returncode == 125 and b"no VM named nosuchvm" in r.stderr, r


@suite.test
def idle_is_reported():
    wait_for(lambda: "idle: yes" in bench.status("work"), "idle report")
    proc = bench.cli_popen("run", "work", "--wait", "--", "sh", "-c", "echo go; sleep 30")
    assert proc.stdout.readline() == b"go\n"
    wait_for(lambda: "idle: no" in bench.status("work"), "busy report")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM, proc.returncode


@suite.test
def guest_vanishing_mid_command_fails_the_command():
    global guest
    proc = bench.cli_popen("run", "work", "--wait", "--", "sh", "-c", "echo up; sleep 60")
    assert proc.stdout.readline() == b"up\n"
    bench.stop(guest, signal.SIGKILL)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 125, proc.returncode
    assert b"channel closed during the command" in err, err
    bench.wait_channel("work", "disconnected")
    # The agent comes back: hostd reconnects by itself.
    guest, _sock = bench.start_guestd("work", args=["--no-apps"])
    bench.wait_channel("work")
    r = bench.cli("run", "work", "--wait", "--", "echo", "back")
    assert r.returncode == 0 and r.stdout == b"back\n", r
    assert "connections: 2" in bench.status("work")


@suite.test
def daemons_exit_cleanly():
    bench.stop_daemons_checked()


try:
    failed = suite.run(exit=False)
finally:
    bench.close()
raise SystemExit(1 if failed else 0)
