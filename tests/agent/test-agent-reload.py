#!/usr/bin/env python3
"""VM definitions change under a running vmdesk-hostd: on SIGHUP, and when a
file in the definitions directory changes, hostd reloads them and touches
only the VMs that changed (a running command keeps its channel, the global
clipboard keeps its socket); definition files warn about what they ignore,
and a second hostd fails without touching the first one's socket."""

import os
import shutil
import signal
import subprocess
import tempfile

import tap
from agentlib import Bench, wait_for

suite = tap.Suite()
bench = Bench()
state = {}


def listed():
    return {line.split("\t")[0]: line for line in bench.cli("list").stdout.decode().splitlines()}


def clip_inode():
    return os.stat(os.path.join(bench.runtime, "vmdesk", "clipboard.sock")).st_ino


@suite.test
def setup():
    _g, sock = bench.start_guestd("work", args=["--no-apps"])
    bench.write_vm("work", agent="unix:" + sock, color="blue")
    bench.start_hostd(["--no-menu", "--display", "none"])
    bench.wait_channel("work")
    state["clip"] = clip_inode()
    # a command that keeps running through every reload below
    state["run"] = bench.cli_popen("run", "work", "--wait", "--", "sh", "-c",
                                   "echo up; sleep 60")
    assert state["run"].stdout.readline() == b"up\n"


@suite.test
def a_new_definition_is_picked_up_without_a_signal():
    _g, sock = bench.start_guestd("second", args=["--no-apps"])
    state["second_sock"] = sock
    bench.write_vm("second", agent="unix:" + sock, color="red")
    wait_for(lambda: "second" in listed(), "the new VM to be listed")
    bench.wait_channel("second")
    assert "connections: 1\n" in bench.status("work"), bench.status("work")


@suite.test
def sighup_reloads_and_keeps_unchanged_vms():
    bench.hostd.send_signal(signal.SIGHUP)
    bench.wait_log("VM definitions reloaded: 2 VMs (0 new, 0 changed, 0 removed)")
    assert bench.hostd.poll() is None, "SIGHUP ended hostd"
    assert "connections: 1\n" in bench.status("work"), bench.status("work")


@suite.test
def a_changed_definition_gets_a_new_channel_and_its_warnings():
    bench.write_vm("second", text="[VM]\nlabel = green\nagent = unix:%s\ncolour = pink\n"
                   "[launcher]\nkernel = /vmlinuz\n" % state["second_sock"])
    bench.wait_log("vm=second: definition changed")
    bench.wait_channel("second")
    status = bench.status("second")
    assert "color: green" in status, status
    assert "second.conf:4: unknown key \"colour\"" in status, status
    assert "second.conf:6: unknown section [launcher]" in status, status
    assert "second.conf:4: unknown key" in bench.hostd_output()
    assert "connections: 1\n" in bench.status("work")


@suite.test
def a_removed_definition_goes_alone():
    os.unlink(os.path.join(bench.vms_dir, "second.conf"))
    wait_for(lambda: "second" not in listed(), "the VM to go")
    assert "work" in listed() and "connections: 1\n" in bench.status("work")


@suite.test
def the_running_command_and_the_clipboard_survived():
    proc = state["run"]
    assert proc.poll() is None, "the command ended"
    assert clip_inode() == state["clip"], "the global clipboard was restarted"
    r = bench.cli("clip", "show")
    assert r.returncode == 0 and b"global clipboard: empty" in r.stdout, r
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM, (proc.returncode, err)


@suite.test
def a_second_hostd_touches_nothing():
    inode = os.stat(os.path.join(bench.runtime, "vmdesk", "hostd.sock")).st_ino
    r = subprocess.run([os.environ["VMDESK_HOSTD"], "--system-config-dir", ""], env=bench.env,
                       capture_output=True, timeout=20)
    assert r.returncode == 1, r
    assert b"hostd.sock is already served by pid %d" % bench.hostd.pid in r.stderr, r.stderr
    assert os.stat(os.path.join(bench.runtime, "vmdesk", "hostd.sock")).st_ino == inode
    assert b"connected" in bench.cli("list").stdout


@suite.test
def another_user_is_told_why():
    # hostd of user nobody; root's vmdesk reaches the socket, and must say why it is refused
    run = tempfile.mkdtemp(prefix="vmdesk-nobody-")  # where user nobody can reach it
    state["nobody_run"] = run
    os.makedirs(os.path.join(run, "vmdesk"))
    os.chown(run, 65534, 65534)
    os.chown(os.path.join(run, "vmdesk"), 65534, 65534)
    env = dict(bench.env, XDG_RUNTIME_DIR=run, HOME=run, XDG_CONFIG_HOME=run,
               XDG_DATA_HOME=run)
    proc = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             os.environ["VMDESK_HOSTD"], "--system-config-dir", "",
                             "--no-clipboard", "--no-menu"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    bench.procs.append(proc)
    sock = os.path.join(run, "vmdesk", "hostd.sock")
    wait_for(lambda: os.path.exists(sock) or proc.poll() is not None, "nobody's hostd")
    r = subprocess.run([os.environ["VMDESK_CLI"], "--socket", sock, "list"],
                       capture_output=True, timeout=20)
    assert r.returncode == 125, r
    assert b"serves only that user" in r.stderr and b"not root" in r.stderr, r.stderr
    bench.stop(proc)
    shutil.rmtree(run, ignore_errors=True)


@suite.test
def daemons_exit_cleanly():
    bench.stop_daemons_checked()


try:
    failed = suite.run(exit=False)
finally:
    bench.close()
raise SystemExit(1 if failed else 0)
