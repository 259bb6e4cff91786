#!/usr/bin/env python3
"""A hostile guest: a fake agent speaking the framing badly (oversize and
truncated frames, unknown types, invalid UTF-8, a million apps, ../ desktop
IDs, shell syntax, lying icons, a guest that stops reading). Each is refused
with a log line, vmdesk-hostd keeps serving another VM (a real guestd), and
nothing is written outside the menu and icon directories."""

import glob
import os
import socket
import struct
import subprocess
import threading

import agentproto as p
import tap
from agentlib import Bench, wait_for

suite = tap.Suite()
bench = Bench()
apps_dir = os.path.join(bench.data, "applications")


class FakeGuest:
    """Listens like vmdesk-guestd; each connection runs the current scenario."""

    def __init__(self, path):
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(8)
        self.lock = threading.Lock()
        self.scenario = None
        self.done = threading.Event()
        self.result = None
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            with self.lock:
                scenario, self.scenario = self.scenario, None
            if scenario is None:
                conn.close()
                continue
            threading.Thread(target=self.play, args=(scenario, conn), daemon=True).start()

    def play(self, scenario, conn):
        try:
            self.result = scenario(conn)
        except Exception as e:  # reported by run()
            self.result = e
        finally:
            conn.close()
            self.done.set()

    def run(self, scenario):
        self.done.clear()
        self.result = None
        with self.lock:
            self.scenario = scenario
        assert self.done.wait(30), "the scenario did not run"
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def handshake(conn):
    """Sends our HELLO and reads the host's."""
    conn.sendall(p.hello())
    reader = p.Reader()
    conn.settimeout(10)
    while True:
        frames = reader.feed(conn.recv(4096))
        if frames:
            assert frames[0][0] == p.HELLO, frames
            return


def host_closes(conn, timeout=10):
    """True once the host closes the channel (it reads and drops anything else)."""
    conn.settimeout(timeout)
    try:
        while conn.recv(65536):
            pass
    except socket.timeout:
        return False
    except OSError:
        pass
    return True


def send_and_expect_drop(*frames, hello=True):
    def scenario(conn):
        if hello:
            handshake(conn)
        for f in frames:
            conn.sendall(f)
        return host_closes(conn)
    return scenario


def log_mark():
    return len(bench.hostd_output())


def wait_new_log(mark, text):
    return wait_for(lambda: text in bench.hostd_output()[mark:], "hostd log: " + text)


def good_vm_still_serves():
    r = bench.cli("run", "good", "--wait", "--", "echo", "alive")
    assert r.returncode == 0 and r.stdout == b"alive\n", r


def refused_with_drop(frames, text, hello=True):
    mark = log_mark()
    assert fake.run(send_and_expect_drop(*frames, hello=hello)), "hostd kept the channel"
    wait_new_log(mark, "vm=bad protocol error: ")
    wait_new_log(mark, text)
    good_vm_still_serves()


fake = None


@suite.test
def setup():
    global fake
    fake = FakeGuest(bench.path("bad.sock"))
    _proc, sock = bench.start_guestd("good", args=["--no-apps"])
    bench.write_vm("good", agent="unix:" + sock, color="green")
    bench.write_vm("bad", agent="unix:" + bench.path("bad.sock"), color="orange")
    bench.before = bench.files()
    bench.start_hostd(["--retry-max-ms", "100"])
    bench.wait_channel("good")


@suite.test
def oversize_frame():
    refused_with_drop([p.frame(p.APP, b"", length=p.MAX_PAYLOAD + 1)],
                      "frame of 1048577 bytes over the 1048576-byte limit")


@suite.test
def truncated_frame():
    def scenario(conn):
        handshake(conn)
        conn.sendall(p.idle(1, 5)[:7])
        conn.shutdown(socket.SHUT_WR)
        return host_closes(conn)
    mark = log_mark()
    assert fake.run(scenario)
    wait_new_log(mark, "truncated frame (7 bytes) at end of stream")
    good_vm_still_serves()


@suite.test
def unknown_message_type():
    refused_with_drop([p.frame(0x1000, b"notification?")], "unknown message type 0x1000")


@suite.test
def host_only_message_from_guest():
    refused_with_drop([p.run(["sh", "-c", "id"])], "unexpected RUN from the guest")


@suite.test
def message_before_hello():
    refused_with_drop([p.apps_begin(1)], "APPS_BEGIN before HELLO", hello=False)


@suite.test
def version_mismatch():
    bad_hello = p.frame(p.HELLO, struct.pack("<IHHI", p.MAGIC, 2, 3, 7) + p.s16("future"))
    refused_with_drop([bad_hello], "no common protocol version", hello=False)


@suite.test
def a_million_apps():
    refused_with_drop([p.apps_begin(1000000)], "1000000 apps over the limit of 1000")


@suite.test
def more_apps_than_announced():
    refused_with_drop([p.apps_begin(1), p.app("a.desktop", "A"), p.app("b.desktop", "B")],
                      "APP outside a snapshot or beyond its announced count")


def snapshot_scenario(apps):
    """Sends one snapshot, waits for hostd to commit it, then hangs up."""
    def scenario(conn):
        handshake(conn)
        conn.sendall(p.apps_begin(len(apps)) + b"".join(apps) + p.apps_end())
        wait_for(lambda: "vm=bad: " in bench.hostd_output()[scenario.mark:], "the commit")
        return True
    scenario.mark = log_mark()
    return scenario


@suite.test
def bad_entries_are_refused_one_by_one():
    png16 = p.tiny_png(16, 16)
    apps = [
        p.app("utf8.desktop", b"Bad \xc0\xaf name"),
        p.app("../evil.desktop", "Evil"),
        p.app("a/b.desktop", "Slash"),
        p.app("x..y.desktop", "Dots"),
        p.app("esc.desktop", "Esc \x1b[31m"),
        p.app("bidi.desktop", "Invoice \u202etxt.exe"),
        p.app("liar.desktop", "Liar", png=png16, width=64, height=64),
        p.app("fat.desktop", "Fat", png=png16 + b"\0" * (256 * 1024), width=16, height=16),
        p.app("ok.desktop", "Fine", categories="Utility;Screensaver;TrayIcon;X-Evil;",
              png=png16, width=16, height=16),
    ]
    mark = log_mark()
    assert fake.run(snapshot_scenario(apps))
    wait_new_log(mark, "vm=bad: 1 applications (8 refused)")
    log = bench.hostd_output()[mark:]
    for text in ("Name is not valid UTF-8", "invalid desktop ID",
                 "icon is not a PNG of the stated size 64x64",
                 "icon of %d bytes over the 262144-byte limit" % (len(png16) + 256 * 1024)):
        assert "vm=bad app refused: " + text in log, (text, log)
    assert os.listdir(apps_dir) and "vmdesk-bad-ok.desktop" in os.listdir(apps_dir)
    with open(os.path.join(apps_dir, "vmdesk-bad-ok.desktop")) as f:
        entry = f.read()
    assert "Categories=Utility;X-Vmdesk;X-Vmdesk-VM-bad;\n" in entry, entry
    assert not glob.glob(bench.path("**", "*evil*"), recursive=True)
    good_vm_still_serves()


@suite.test
def shell_syntax_is_inert():
    pwned = bench.path("pwned")
    name = "Sh $(touch %s); `touch %s` | rm -rf ~ \\ %%u" % (pwned, pwned)
    png = p.tiny_png(8, 8)
    corrupt = png[:33] + b"\0\0\0\x04IDATjunk\0\0\0\0" + png[-12:]
    apps = [p.app("shell.desktop", name, comment="a;b && c", png=corrupt, width=8, height=8)]
    mark = log_mark()
    assert fake.run(snapshot_scenario(apps))
    wait_new_log(mark, "vm=bad: 1 applications (0 refused)")
    assert "icon refused" in bench.hostd_output()[mark:]
    path = os.path.join(apps_dir, "vmdesk-bad-shell.desktop")
    with open(path) as f:
        entry = f.read()
    assert "\nExec=%s run bad --app shell.desktop\n" % os.environ["VMDESK_CLI"] in entry, entry
    assert "\nIcon=application-x-executable\n" in entry, entry
    r = subprocess.run(["desktop-file-validate", path], capture_output=True)
    assert r.returncode == 0 and b"error" not in r.stdout + r.stderr, r
    assert not os.path.exists(pwned)


@suite.test
def app_list_flood_is_cut_off():
    snapshots = [p.apps_begin(0, g) + p.apps_end(g) for g in range(12)]
    refused_with_drop(snapshots, "app lists sent too often")


@suite.test
def guest_that_stops_reading_is_dropped():
    stop = threading.Event()

    def scenario(conn):
        handshake(conn)
        stop.wait(60)  # never reads again
        return True

    mark = log_mark()
    with fake.lock:
        fake.done.clear()
        fake.scenario = scenario
    bench.wait_channel("bad")
    big = ["x" * 60000] * 15  # about 900 KB per request
    clis = [bench.cli_popen("run", "bad", "--", "true", *big) for _ in range(12)]
    try:
        wait_new_log(mark, "vm=bad guest is not reading")
        good_vm_still_serves()  # hostd was not blocked meanwhile
        for proc in clis:
            _out, err = proc.communicate(timeout=30)
            assert proc.returncode == 125, (proc.returncode, err)
    finally:
        stop.set()
        fake.done.wait(10)


@suite.test
def nothing_written_outside_menu_dirs_and_logs_clean():
    allowed = ("data/applications/", "data/icons/hicolor/", "data/desktop-directories/",
               "config/menus/applications-merged/", "run/vmdesk/")
    new = bench.files() - bench.before
    stray = [f for f in new if not f.startswith(allowed) and not f.startswith("guest-")
             and not f.endswith((".log", ".sock"))]
    assert not stray, stray
    log = bench.hostd_output()
    assert "\x1b" not in log, "raw escape in the log"
    assert bench.hostd.poll() is None, "hostd died"
    bench.stop_daemons_checked()


try:
    failed = suite.run(exit=False)
finally:
    bench.close()
raise SystemExit(1 if failed else 0)
