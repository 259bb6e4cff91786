#!/usr/bin/env python3
"""One VM name rule for every program (protocols/names.c): the same 30 names
fed to vmdesk-proxy --vm, to VM definition files (vmdesk list), to the
clipboard link (CLIP_JOIN) and to the menu's file names (menu-names) are
accepted or refused alike, and the accepted ones are exactly the expected set."""

import os
import socket
import subprocess

import tap
import vdlink as v
from agentlib import Bench, wait_for
from proxy import is_listening

suite = tap.Suite()
bench = Bench()

GOOD = ["a", "z", "work", "work-2", "a-b-c", "x9", "q1-2-3", "web-", "banking", "my-vm",
        "abcdefghijklmnopqrstuvwxyz012345"]
BAD = ["host", "Work", "WORK", "Host", "2work", "-x", "a_b", "a.b", "a b", "_a", "w\u00f6rk",
       "abcdefghijklmnopqrstuvwxyz0123456", "work/x", "..", "a\\b", "x\x1b", "a:b", "a@b", ""]
NAMES = GOOD + BAD
assert len(NAMES) == 30

results = {}


def accepted(kind):
    return {name for name, ok in results[kind].items() if ok}


@suite.test
def proxy_vm_option():
    results["proxy"] = {}
    for name in NAMES:
        r = subprocess.run([os.environ["VMDESK_PROXY"], "--vm", name, "--display",
                            bench.path("no-compositor"), "--hostd", "none", "--", "true"],
                           env=bench.env, capture_output=True, timeout=30)
        assert r.returncode in (0, 2), (name, r)
        results["proxy"][name] = r.returncode == 0


@suite.test
def definition_files():
    results["conf"] = {}
    writable = []
    for name in NAMES:
        path = os.path.join(bench.vms_dir, name + ".conf")
        if "/" in name or name in ("", ".."):
            results["conf"][name] = False  # cannot be a file name in the directory
            continue
        with open(path, "w") as f:
            f.write("[vm]\ncolor = green\n")
        writable.append(name)
    bench.start_hostd(["--no-clipboard", "--no-menu"])
    listed = {line.split("\t")[0] for line in bench.cli("list").stdout.decode().splitlines()}
    for name in writable:
        results["conf"][name] = name in listed
    assert listed <= set(NAMES), listed
    bench.stop_hostd()
    for name in writable:
        os.unlink(os.path.join(bench.vms_dir, name + ".conf"))


def join(sock_path, name):
    """CLIP_JOIN with name (bytes as they come); True if the clipboard keeps the link."""
    raw = name.encode()
    payload = v.struct.pack("<H", len(raw)) + raw + b"\0"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(sock_path)
        sock.sendall(v.hello("host", caps=v.CAP_CLIPBOARD) + v.frame(v.CLIP_JOIN, payload))
        sock.settimeout(1.0)
        reader = v.Reader()
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return False
                for t, _id, _p in reader.feed(data):
                    if t == v.ERROR:
                        return False
        except socket.timeout:
            return True


@suite.test
def clipboard_link():
    results["clipboard"] = {}
    clipd = subprocess.Popen([os.environ["VMDESK_CLIPD"], "--socket", bench.path("clip.sock"),
                              "--display", "none", "--no-notify", "--policy",
                              bench.path("clip.policy")], env=bench.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bench.procs.append(clipd)
    wait_for(lambda: is_listening(bench.path("clip.sock")), "vmdesk-clipd")
    for name in NAMES:
        results["clipboard"][name] = join(bench.path("clip.sock"), name)
    bench.stop(clipd)


@suite.test
def menu_file_names():
    r = subprocess.run([os.environ["VMDESK_MENU_NAMES"]] + NAMES, env=bench.env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r
    lines = r.stdout.decode().split("\n")[:len(NAMES)]
    results["menu"] = {name: line.endswith(" ok") for name, line in zip(NAMES, lines)}
    entries = [e for e in os.listdir(os.path.join(bench.data, "applications"))
               if e.startswith("vmdesk")]
    for name in GOOD:
        assert "vmdesk.%s.names-test.desktop" % name in entries, (name, entries)
    assert len(entries) == len(GOOD), entries


@suite.test
def an_empty_policy_is_warned_about():
    empty = bench.path("empty.policy")
    with open(empty, "w") as f:
        f.write("# nothing allowed\n")
    r = subprocess.run([os.environ["VMDESK_PROXY"], "--vm", "work", "--policy", empty,
                        "--display", bench.path("no-compositor"), "--hostd", "none", "--",
                        "true"], env=bench.env, capture_output=True, timeout=30)
    assert r.returncode == 0 and b"allows no interface" in r.stderr, r


@suite.test
def every_program_accepts_the_same_names():
    for kind in ("proxy", "conf", "clipboard", "menu"):
        assert accepted(kind) == set(GOOD), (kind, sorted(accepted(kind) ^ set(GOOD)))


try:
    failed = suite.run(exit=False)
finally:
    bench.close()
raise SystemExit(1 if failed else 0)
