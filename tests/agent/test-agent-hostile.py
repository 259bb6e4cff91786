#!/usr/bin/env python3
"""A hostile guest: a fake agent speaking the link badly (oversize and
truncated frames, unknown and host-local types, invalid UTF-8, a million apps,
../ desktop IDs, shell syntax, lying icons, a guest that stops reading, a guest
that never reads while a run waits, snapshots that never end, names that
squat another VM's menu entries). Each is refused with a log line,
vmdesk-hostd keeps serving another VM (a real guestd), costs bounded memory,
and nothing is written outside the menu and icon directories."""

import glob
import os
import signal
import socket
import subprocess
import threading
import time

import tap
import vdlink as v
from agentlib import Bench, wait_for

suite = tap.Suite()
bench = Bench()
# glibc then catches a double free at once instead of corrupting the heap quietly
bench.env["GLIBC_TUNABLES"] = "glibc.malloc.tcache_count=0"
apps_dir = os.path.join(bench.data, "applications")
G = "guest"


def frame(msg_name, msg_id=0, /, **fields):
    return v.encode(G, msg_name, msg_id=msg_id, **fields)


def app(desktop_id, name, icon=b"", width=0, height=0, **fields):
    values = dict(id=desktop_id, name=name, generic_name="", comment="", categories="",
                  icon_name="", wm_class="", icon_width=width, icon_height=height, icon=icon)
    values.update(fields)
    return frame("app", **values)


def rgba(width, height, pixel=(0, 128, 255, 255)):
    return bytes(pixel) * (width * height)


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

    def start(self, scenario):
        self.done.clear()
        self.result = None
        with self.lock:
            self.scenario = scenario

    def run(self, scenario, timeout=60):
        self.start(scenario)
        assert self.done.wait(timeout), "the scenario did not run"
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def handshake(conn, reader=None):
    """Sends our HELLO and reads the host's; returns the reader."""
    conn.sendall(v.hello(G, software="fake-guest 1"))
    reader = reader or v.Reader()
    conn.settimeout(10)
    while True:
        frames = reader.feed(conn.recv(4096))
        if frames:
            assert frames[0][0] == v.HELLO, frames
            return reader


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
            try:
                conn.sendall(f)
            except (BrokenPipeError, ConnectionResetError):
                return True  # dropped before the last frame went: what is expected
        return host_closes(conn)
    return scenario


def log_mark():
    return len(bench.hostd_output())


def wait_new_log(mark, text, timeout=15):
    return wait_for(lambda: text in bench.hostd_output()[mark:], "hostd log: " + text, timeout)


def good_vm_still_serves():
    r = bench.cli("run", "good", "--wait", "--", "echo", "alive")
    assert r.returncode == 0 and r.stdout == b"alive\n", r


def hostd_alive():
    assert bench.hostd.poll() is None, "hostd died:\n" + bench.hostd_output()[-4000:]


def refused_with_drop(frames, text, hello=True):
    mark = log_mark()
    assert fake.run(send_and_expect_drop(*frames, hello=hello)), "hostd kept the channel"
    wait_new_log(mark, "vm=bad protocol error: ")
    wait_new_log(mark, text)
    good_vm_still_serves()


def hostd_rss_kb():
    with open("/proc/%d/status" % bench.hostd.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def hostd_cpu_seconds():
    with open("/proc/%d/stat" % bench.hostd.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    refused_with_drop([v.frame(v.APP, b"", length=1048577)],
                      "frame of 1048577 bytes over the 1048576-byte limit")


@suite.test
def truncated_frame():
    def scenario(conn):
        handshake(conn)
        conn.sendall(frame("idle", idle=1, seconds=5)[:7])
        conn.shutdown(socket.SHUT_WR)
        return host_closes(conn)
    mark = log_mark()
    assert fake.run(scenario)
    wait_new_log(mark, "truncated frame (7 bytes) at end of stream")
    good_vm_still_serves()


@suite.test
def unknown_message_type():
    refused_with_drop([v.frame(0x1000, b"notification?")], "unknown message type 0x1000")


@suite.test
def host_local_messages_do_not_exist_on_a_guest_link():
    ctl = v.encode("host", "ctl_run", vm="good", flags=1, argv=["id"], env=[])
    refused_with_drop([ctl], "unknown message type 0x8000")


@suite.test
def host_only_message_from_guest():
    refused_with_drop([frame("run", 1, flags=0, argv=["sh", "-c", "id"], env=[])],
                      "RUN may not come from the guest")


@suite.test
def message_before_hello():
    refused_with_drop([frame("apps_begin", generation=1, count=1)],
                      "APPS_BEGIN before HELLO", hello=False)


@suite.test
def version_mismatch():
    bad_hello = v.hello(G, min_version=2, max_version=3)
    mark = log_mark()
    assert fake.run(send_and_expect_drop(bad_hello, hello=False)), "hostd kept the channel"
    wait_new_log(mark, "vm=bad disconnected: no common link version (the peer speaks 2..3")
    good_vm_still_serves()


@suite.test
def a_million_apps():
    refused_with_drop([v.frame(v.APPS_BEGIN, v.struct.pack("<II", 1, 1000000))],
                      "APPS_BEGIN: count 1000000 not in 0..1000")


@suite.test
def more_apps_than_announced():
    refused_with_drop([frame("apps_begin", generation=1, count=1), app("a.desktop", "A"),
                       app("b.desktop", "B")],
                      "APP outside a snapshot or beyond its announced count")


def snapshot_scenario(frames, wait_text="vm=bad: "):
    """Sends frames, waits for hostd to log wait_text, then hangs up."""
    def scenario(conn):
        handshake(conn)
        conn.sendall(b"".join(frames))
        wait_for(lambda: wait_text in bench.hostd_output()[scenario.mark:], wait_text)
        return True
    scenario.mark = log_mark()
    return scenario


def snapshot(apps):
    return [frame("apps_begin", generation=1, count=len(apps))] + apps + \
        [frame("apps_end", generation=1)]


def raw_app(desktop_id, name, icon=b"", width=0, height=0):
    """An APP built by hand, for what the encoder refuses to make."""
    s = lambda b: v.struct.pack("<H", len(b)) + b + b"\0"  # noqa: E731
    payload = b"".join(s(x if isinstance(x, bytes) else x.encode())
                       for x in (desktop_id, name, "", "", "", "", ""))
    payload += v.struct.pack("<HHI", width, height, len(icon)) + icon
    return v.frame(v.APP, payload)


@suite.test
def bad_entries_are_refused_one_by_one():
    icon16 = rgba(16, 16)
    apps = [
        raw_app("utf8.desktop", b"Bad \xc0\xaf name"),
        raw_app("../evil.desktop", "Evil"),
        raw_app("a/b.desktop", "Slash"),
        raw_app("x..y.desktop", "Dots"),
        raw_app("esc.desktop", "Esc \x1b[31m"),
        raw_app("bidi.desktop", "Invoice \u202etxt.exe"),
        raw_app("liar.desktop", "Liar", icon=icon16, width=64, height=64),
        raw_app("fat.desktop", "Fat", icon=rgba(256, 256) + b"\0" * 4, width=256, height=256),
        app("ok.desktop", "Fine", categories="Utility;Screensaver;TrayIcon;X-Evil;",
            icon=icon16, width=16, height=16),
    ]
    mark = log_mark()
    assert fake.run(snapshot_scenario(snapshot(apps), "vm=bad: 1 applications"))
    wait_new_log(mark, "vm=bad: 1 applications (8 refused)")
    wait_new_log(mark, "vm=bad: menu has 1 entries")  # the menu writer is done
    log = bench.hostd_output()[mark:]
    for text in ("APP: invalid name", "APP: invalid id", "icon of 1024 bytes is not 64x64 RGBA",
                 "icon length 262148 over 262144"):
        assert "vm=bad app refused: " in log and text in log, (text, log)
    assert "vmdesk.bad.ok.desktop" in os.listdir(apps_dir)
    with open(os.path.join(apps_dir, "vmdesk.bad.ok.desktop")) as f:
        entry = f.read()
    assert "Categories=Utility;X-Vmdesk;X-Vmdesk-VM-bad;\n" in entry, entry
    assert not glob.glob(bench.path("**", "*evil*"), recursive=True)
    good_vm_still_serves()


@suite.test
def shell_syntax_is_inert():
    pwned = bench.path("pwned")
    name = "Sh $(touch %s); `touch %s` | rm -rf ~ \\ %%u" % (pwned, pwned)
    apps = [app("shell.desktop", name, comment="a;b && c")]
    mark = log_mark()
    assert fake.run(snapshot_scenario(snapshot(apps), "vm=bad: 1 applications"))
    wait_new_log(mark, "vm=bad: 1 applications (0 refused)")
    wait_new_log(mark, "vm=bad: menu has 1 entries")
    path = os.path.join(apps_dir, "vmdesk.bad.shell.desktop")
    with open(path) as f:
        entry = f.read()
    assert "\nExec=%s run bad --app shell.desktop\n" % os.environ["VMDESK_CLI"] in entry, entry
    assert "\nIcon=application-x-executable\n" in entry, entry
    r = subprocess.run(["desktop-file-validate", path], capture_output=True)
    assert r.returncode == 0 and b"error" not in r.stdout + r.stderr, r
    assert not os.path.exists(pwned)


@suite.test
def icons_are_pixels_framed_by_the_host():
    # RGBA with channels above alpha (QSB-104): premultiplied by the host without wrapping
    pixels = bytes((255, 250, 0, 254)) * (32 * 32)
    mark = log_mark()
    assert fake.run(snapshot_scenario(snapshot([app("px.desktop", "Pixels", icon=pixels,
                                                    width=32, height=32)]),
                                      "vm=bad: 1 applications"))
    wait_new_log(mark, "vm=bad: 1 applications (0 refused)")
    wait_new_log(mark, "vm=bad: menu has 1 entries")
    icons = glob.glob(os.path.join(bench.data, "icons/hicolor/32x32/apps/vmdesk.bad.px.png"))
    assert len(icons) == 1, icons
    out = subprocess.run(["convert", icons[0], "-format", "%[fx:int(255*p{0,0}.r)],"
                          "%[fx:int(255*p{16,16}.r)],%[fx:int(255*p{16,16}.g)]", "info:"],
                         capture_output=True, check=True).stdout.decode().split(",")
    # the border in the VM's color (Qubes' orange), the pixel's red and green intact
    assert int(out[0]) == 0xF5 and int(out[1]) >= 250 and 240 <= int(out[2]) <= 255, out


@suite.test
def unfinished_snapshots_leave_nothing_behind():
    # Finding: each APP was written at once, and a guest that hung up before
    # APPS_END left its files; reconnecting grew the menu without bound.
    before = set(os.listdir(apps_dir))
    for round_ in range(3):
        apps = [app("half%d-%03d.desktop" % (round_, i), "Half %d" % i, icon=rgba(64, 64),
                    width=64, height=64) for i in range(150)]

        def scenario(conn):
            handshake(conn)
            conn.sendall(frame("apps_begin", generation=1, count=300) + b"".join(apps))
            time.sleep(0.5)  # hostd reads them all, and the guest goes
            return True
        mark = log_mark()
        fake.run(scenario)
        wait_new_log(mark, "vm=bad disconnected")
    left = set(os.listdir(apps_dir)) - before
    icons = glob.glob(os.path.join(bench.data, "icons/hicolor/*/apps/vmdesk*half*"))
    assert not left and not icons, (sorted(left)[:5], len(left), icons[:3])
    good_vm_still_serves()


@suite.test
def menu_bytes_per_vm_are_capped():
    # 90 apps with 256x256 icons of noise: 23 MiB of PNG; the staged icons stop
    # at the per-VM cap, the entries go on without icons.
    frames = [frame("apps_begin", generation=1, count=90)]
    noise = os.urandom(256 * 256 * 4)  # incompressible icons
    for i in range(90):
        frames.append(app("big-%03d.desktop" % i, "Big %d" % i, icon=noise, width=256,
                          height=256))
    frames.append(frame("apps_end", generation=1))
    mark = log_mark()
    rss_before = hostd_rss_kb()
    assert fake.run(snapshot_scenario(frames, "vm=bad: 90 applications"), timeout=240)
    wait_new_log(mark, "vm=bad: menu has 90 entries", timeout=120)
    log = bench.hostd_output()[mark:]
    assert "icons over 16 MiB: the rest get none" in log, log[-2000:]
    icons = glob.glob(os.path.join(bench.data, "icons/hicolor/256x256/apps/vmdesk.bad.big-*"))
    assert 0 < len(icons) < 90, len(icons)
    size = sum(os.path.getsize(p) for p in icons)
    assert size <= 16 * 1024 * 1024, size
    tap.diag("hostd RSS %d -> %d kB" % (rss_before, hostd_rss_kb()))
    hostd_alive()


@suite.test
def one_vm_cannot_squat_another_vms_entry():
    # Finding: "vmdesk-<vm>-<id>" was ambiguous: VM work's banking-mail.desktop and
    # VM work-banking's mail.desktop were one file, and the first writer won.
    second = FakeGuest(bench.path("squat.sock"))
    os.rename(os.path.join(bench.vms_dir, "bad.conf"), bench.path("bad.conf.away"))
    bench.write_vm("work", agent="unix:" + bench.path("bad.sock"), color="green")
    bench.write_vm("work-banking", agent="unix:" + bench.path("squat.sock"), color="red")
    mark = log_mark()
    fake.start(snapshot_scenario(snapshot([app("banking-mail.desktop", "Mail",
                                               wm_class="firefox")]), "vm=work: 1 appl"))
    second.start(snapshot_scenario(snapshot([app("mail.desktop", "Mail",
                                                 wm_class="org.gnome.Evolution")]),
                                   "vm=work-banking: 1 appl"))
    bench.hostd.send_signal(signal.SIGHUP)
    wait_new_log(mark, "vm=work: 1 applications", timeout=30)
    wait_new_log(mark, "vm=work-banking: 1 applications", timeout=30)
    wait_new_log(mark, "vm=work: menu has 1 entries", timeout=30)
    wait_new_log(mark, "vm=work-banking: menu has 1 entries", timeout=30)
    assert fake.done.wait(30) and second.done.wait(30)
    entries = os.listdir(apps_dir)
    assert "vmdesk.work.banking-mail.desktop" in entries, entries
    assert "vmdesk.work-banking.mail.desktop" in entries, entries
    with open(os.path.join(apps_dir, "vmdesk.work.banking-mail.desktop")) as f:
        text = f.read()
    # a window class of the guest's choosing names the proxy's app id, never a host app's
    assert "\nStartupWMClass=vmdesk.work.firefox\n" in text, text
    assert "X-Vmdesk-VM=work\n" in text
    for vm in ("work", "work-banking"):
        os.unlink(os.path.join(bench.vms_dir, vm + ".conf"))
    os.rename(bench.path("bad.conf.away"), os.path.join(bench.vms_dir, "bad.conf"))
    bench.hostd.send_signal(signal.SIGHUP)
    wait_for(lambda: not [e for e in os.listdir(apps_dir) if e.startswith("vmdesk.work")],
             "the removed VMs' entries to go")
    second.srv.close()


@suite.test
def app_list_flood_is_cut_off():
    snapshots = [f for g in range(12) for f in (frame("apps_begin", generation=g, count=0),
                                                 frame("apps_end", generation=g))]
    refused_with_drop(snapshots, "app lists sent too often")


@suite.test
def guest_that_stops_reading_is_dropped():
    stop = threading.Event()

    def scenario(conn):
        handshake(conn)
        stop.wait(60)  # never reads again
        return True

    mark = log_mark()
    fake.start(scenario)
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


WAITERS = 40


@suite.test
def guest_that_never_reads_while_runs_wait():
    # Finding: with the queue toward a guest that never reads at its cap (big
    # requests, then an acknowledgement per byte of output), the hangup hostd
    # sends when a waiting command goes away dropped the channel and freed the
    # requests inside the call; hostd then wrote to the command's request and
    # freed it again (ASan: use after free; glibc: double free).
    stop = threading.Event()
    state = {"runs": []}

    def scenario(conn):
        reader = handshake(conn)
        while len(state["runs"]) < WAITERS:
            for t, msg_id, _payload in reader.feed(conn.recv(65536)):
                if t == v.RUN:
                    state["runs"].append(msg_id)
        conn.sendall(b"".join(frame("run_started", r, pid=4242) for r in state["runs"]))
        state["conn"] = conn
        stop.wait(120)  # never reads again
        return True

    mark = log_mark()
    fake.start(scenario)
    bench.wait_channel("bad")
    clis = []
    for _ in range(WAITERS):
        cli = subprocess.Popen([os.environ["VMDESK_CLI"], "run", "bad", "--wait", "--", "cat"],
                               env=bench.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        bench.procs.append(cli)
        threading.Thread(target=lambda c=cli: [None for _ in iter(lambda: c.stdout.read(65536),
                                                                 b"")], daemon=True).start()
        clis.append(cli)
    wait_for(lambda: state.get("conn"), "the runs to start")
    rss = hostd_rss_kb()
    # the queue toward the guest near its 4 MiB cap, each request still accepted ...
    fillers = [bench.cli_popen("run", "bad", "--", "true", *(["x" * 60000] * 15))
               for _ in range(4)]
    fillers += [bench.cli_popen("run", "bad", "--", "true", "x" * 60000) for _ in range(9)]
    time.sleep(3)
    hostd_alive()
    # ... then past it with acknowledgements: a byte of output of each run, round by round
    burst = b"".join(frame("run_output", r, stream=1, data=b"x") for r in state["runs"])
    try:
        for _ in range(1500):
            state["conn"].sendall(burst)
            time.sleep(0.001)
    except OSError:
        pass  # hostd dropped the channel
    time.sleep(1)
    hostd_alive()
    clis[0].kill()  # a waiting command goes: hostd hangs its program up
    clis[0].wait(10)
    time.sleep(2)
    stop.set()
    for proc in fillers + clis:
        proc.kill()
    hostd_alive()
    log = bench.hostd_output()[mark:]
    assert "AddressSanitizer" not in log and "double free" not in log, log[-3000:]
    wait_new_log(mark, "vm=bad guest is not reading")
    growth = hostd_rss_kb() - rss
    tap.diag("hostd RSS grew by %d kB" % growth)
    assert growth < 64 * 1024, "hostd grew by %d kB" % growth
    fake.done.wait(30)
    good_vm_still_serves()


@suite.test
def an_idle_guest_that_never_reads_costs_no_cpu():
    stop = threading.Event()

    def scenario(conn):
        handshake(conn)
        stop.wait(30)
        return True
    fake.start(scenario)
    bench.wait_channel("bad")
    cpu = hostd_cpu_seconds()
    time.sleep(2)
    used = hostd_cpu_seconds() - cpu
    stop.set()
    fake.done.wait(10)
    assert used < 0.5, "hostd used %.2f s of CPU in 2 s" % used


@suite.test
def nothing_written_outside_menu_dirs_and_logs_clean():
    allowed = ("data/applications/", "data/icons/hicolor/", "data/desktop-directories/",
               "config/menus/applications-merged/", "run/vmdesk/", "config/vmdesk/vms/")
    new = bench.files() - bench.before
    stray = [f for f in new if not f.startswith(allowed) and not f.startswith("guest-")
             and not f.endswith((".log", ".sock"))]
    assert not stray, stray
    log = bench.hostd_output()
    assert "\x1b" not in log, "raw escape in the log"
    hostd_alive()
    bench.stop_daemons_checked()


try:
    failed = suite.run(exit=False)
finally:
    bench.close()
raise SystemExit(1 if failed else 0)
