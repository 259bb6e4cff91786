#!/usr/bin/env python3
"""vmdesk-hostd's launcher without a real VM (tests/vm boots real ones):

- `vmdesk start --dry-run` for QEMU (TCG and virtio-serial; KVM and
  vhost-vsock), crosvm (link and cross-domain) and cloud-hypervisor with
  shares, against golden files (tests/agent/launcher-golden/);
- requests refused with their reason (no such VM, not started by vmdesk, a
  broken or duplicate-cid definition, an image not built, bad usage);
- the whole lifecycle with tests/agent/fake-cloud-hypervisor.py as the VMM
  (cloud-hypervisor needs KVM) and a real vmdesk-guestd as its guest's agent
  over the real hybrid-vsock handshake: start with timed steps, the agent,
  runs, the console, stop, --force, a VMM that dies, a proxy that dies,
  `vmdesk run` starting a stopped VM (with progress on a terminal), idle
  shutdown (commands and windows), autostart, hostd leaving with the VMs
  kept and found again, and hostd leaving with the VMs stopped;
- a state file naming a process that is not the VM's is never adopted.

The VM's proxy is tests/agent/fake-proxy.py until the guest Wayland bridge
gives vmdesk-proxy --guest; windows come from a real vmdesk-proxy in front
of headless sway, linked to hostd's global clipboard socket.
"""

import os
import re
import shutil
import signal
import subprocess
import time

import tap
from agentlib import Bench, proc_status, wait_for
from ptyterm import Terminal

suite = tap.Suite()
bench = Bench()
HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_CH = os.path.join(HERE, "fake-cloud-hypervisor.py")
FAKE_PROXY = os.path.join(HERE, "fake-proxy.py")
GOLDEN = os.path.join(HERE, "launcher-golden")
PROXY = os.environ.get("VMDESK_PROXY", "")
proxy_log = bench.path("proxy.log")
vmm_log = bench.path("vmm.log")
bench.env["FAKE_PROXY_LOG"] = proxy_log
bench.env["FAKE_VMM_LOG"] = vmm_log
bench.env["XDG_STATE_HOME"] = bench.path("state")
run_dir = os.path.join(bench.runtime, "vmdesk", "vms")
STEP = re.compile(r"^\[ *\d+\.\d s\] ")


def hostd_args(extra=()):
    return ["--no-menu", "--display", "none", "--host-devices", "kvm",
            "--vmm-path", "cloud-hypervisor=" + FAKE_CH, "--vmm-path", "ch-remote=" + FAKE_CH,
            "--proxy", FAKE_PROXY, "--stop-timeout", "20"] + list(extra)


def fake_vm(name, cid, extra=""):
    """A definition the fake cloud-hypervisor runs (its kernel files are never read)."""
    bench.write_vm(name, text="[vm]\ncolor = green\nvmm = cloud-hypervisor\ncid = %d\n"
                   "kernel = /fake/vmlinuz\ninitrd = /fake/initrd.img\nroot = /fake/root.erofs\n"
                   "%s" % (cid, extra))


def listed(vm):
    for line in bench.cli("list").stdout.decode().splitlines():
        fields = line.split("\t")
        if fields[0] == vm:
            return fields
    raise AssertionError("%s is not listed" % vm)


def state(vm):
    return listed(vm)[1]


def wait_state(vm, want, timeout=30):
    return wait_for(lambda: state(vm) == want, "VM %s %s (is %s)" % (vm, want, state(vm)),
                    timeout)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def proxies():
    """(pid, argv) of each fake proxy that has started so far."""
    try:
        with open(proxy_log) as f:
            return [(int(l.split(" ", 1)[0]), l.split(" ", 1)[1].strip()) for l in f]
    except FileNotFoundError:
        return []


def proxy_of(vm):
    """The running fake proxy of vm: (pid, argv), once it has started."""
    def find():
        for pid, argv in reversed(proxies()):
            if ("--vm %s " % vm) in argv and alive(pid):
                return pid, argv
        return None
    return wait_for(find, "the proxy of " + vm)


def guestd_pids():
    """vmdesk-guestd processes this bench's fake VMMs run (their sockets are in
    fake-ch-guest-*; their environment is the bench's, not that of another run of
    this test, in another build directory, at the same time)."""
    out = []
    mine = ("XDG_CONFIG_HOME=%s" % bench.config).encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if b"vmdesk-guestd" in cmd and b"/fake-ch-guest-" in cmd and mine in env and \
                alive(int(pid)):
            out.append(int(pid))
    return out


def start(vm, *args):
    r = bench.cli("start", vm, *args)
    assert r.returncode == 0, r
    return r.stdout.decode()


def stop(vm, *args):
    r = bench.cli("stop", vm, *args)
    assert r.returncode == 0, r
    return r.stdout.decode()


def restart_hostd(extra=()):
    if bench.hostd is not None:
        assert bench.stop_hostd() == 0, bench.hostd_output()[-3000:]
    bench.start_hostd(hostd_args(extra))


# ---- dry runs and refusals ----

@suite.test
def commands_fail_at_once_without_hostd():
    """A dial that fails at once ends the command (it used to wait forever)."""
    for args in (("list",), ("start", "work"), ("console", "work")):
        r = bench.cli(*args, timeout=20)
        assert r.returncode in (1, 125) and b"(is it running?)" in r.stderr, (args, r)
    r = subprocess.run([os.environ["VMDESK_CLIP"], "show"], env=bench.env, capture_output=True,
                       timeout=20)
    assert r.returncode == 3 and b"(is it running?)" in r.stderr, r


def golden_check(name, text):
    text = text.replace(bench.root, "$ROOT")
    path = os.path.join(GOLDEN, name + ".txt")
    if os.environ.get("VMDESK_GOLDEN_UPDATE"):
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        want = f.read()
    assert text == want, "%s differs from %s:\n%s" % (name, path, text)


@suite.test
def dry_runs_match_the_golden_files():
    images = bench.path("images")
    os.makedirs(os.path.join(images, "debian"))
    for f in ("vmlinuz", "initrd.img", "root.erofs"):
        open(os.path.join(images, "debian", f), "w").close()
    with open(os.path.join(images, "debian", "image.conf"), "w") as f:
        f.write("name=debian\nkernel=vmlinuz\ninitrd=initrd.img\nroot=root.erofs\n"
                "cmdline=panic=-1 quiet\n")
    shared = bench.path("Shared")
    os.makedirs(shared)
    bench.write_vm("qemu", text="[vm]\ncolor = purple\nimage = debian\nmemory = 2048\n"
                   "share = %s:shared:ro\nnetwork = user\ncid = 21\n" % shared)
    bench.write_vm("crosvm", text="[vm]\nvmm = crosvm\nimage = debian\ncid = 22\n"
                   "overlay = tmpfs:512M\n")
    bench.write_vm("cross", text="[vm]\nvmm = crosvm\nimage = debian\ncid = 23\n"
                   "wayland = cross-domain\ngpu = cross-domain\ncolor = red\n")
    bench.write_vm("ch", text="[vm]\nvmm = cloud-hypervisor\nimage = debian\ncid = 24\n"
                   "share = %s:shared\ncpus = 4\noverlay = %s\n" % (shared,
                                                                     bench.path("ch.overlay")))
    common = ["--no-menu", "--display", "none", "--images-dir", images, "--proxy", "vmdesk-proxy"]
    bench.start_hostd(common + ["--host-devices", "none"])
    r = bench.cli("start", "qemu", "--dry-run")
    assert r.returncode == 0, r
    golden_check("qemu-tcg-serial", r.stdout.decode())
    r = bench.cli("start", "crosvm", "--dry-run")
    assert r.returncode == 1 and b"crosvm needs /dev/kvm" in r.stderr, r
    assert not os.path.exists(os.path.join(run_dir, "qemu")), "a dry run made the run directory"
    bench.stop_hostd()
    bench.start_hostd(common + ["--host-devices", "kvm,vhost-vsock"])
    for vm, name in (("qemu", "qemu-kvm-vsock"), ("crosvm", "crosvm-link"),
                     ("cross", "crosvm-cross-domain"), ("ch", "cloud-hypervisor-shares")):
        r = bench.cli("start", vm, "--dry-run")
        assert r.returncode == 0, r
        golden_check(name, r.stdout.decode())
    bench.stop_hostd()
    for vm in ("qemu", "crosvm", "cross", "ch"):
        os.unlink(os.path.join(bench.vms_dir, vm + ".conf"))


IMAGE_NAMES = ["debian", "Debian-12", "a", "0x", "test_build", "x" * 32, "", "-x", "_x", "a.b",
               "a b", "x" * 33, "\u00e9t\u00e9", "..", "a/b"]


@suite.test
def image_names_follow_the_builders_rule():
    """`image = NAME` (vd_image_name_valid) and vmdesk-image take the same names."""
    builder = os.path.join(os.environ["VMDESK_SOURCE_ROOT"], "host", "image", "vmdesk-image")
    empty = bench.path("no-images")
    os.makedirs(empty, exist_ok=True)
    for i, name in enumerate(IMAGE_NAMES):
        bench.write_vm("img%d" % i, text="[vm]\nimage = %s\n" % name)
    bench.start_hostd(hostd_args(["--images-dir", empty]))
    try:
        check_image_names(builder, empty)
    finally:
        bench.stop_hostd()
        for i in range(len(IMAGE_NAMES)):
            os.unlink(os.path.join(bench.vms_dir, "img%d.conf" % i))


def check_image_names(builder, empty):
    for i, name in enumerate(IMAGE_NAMES):
        r = bench.cli("start", "img%d" % i)
        ours = b"is not an image name" not in r.stderr and b"syntax error" not in r.stderr
        assert r.returncode == 1, r
        b = subprocess.run([builder, "show", name, "--dir", empty], capture_output=True,
                           env=bench.env)
        # its own refusals: the name rule, and words its argument parser takes for options
        theirs = not any(w in b.stderr for w in (b"bad image name", b"usage:",
                                                    b"unknown option"))
        assert b.returncode != 0, b
        assert ours == theirs, "%r: vmdesk %s it, vmdesk-image %s it (%r, %r)" % (
            name, "takes" if ours else "refuses", "takes" if theirs else "refuses", r.stderr,
            b.stderr)


@suite.test
def refusals_say_why():
    fake_vm("work", 3)
    fake_vm("xtwin", 3)  # the same cid: the later name is broken
    bench.write_vm("plain", agent="unix:" + bench.path("nowhere.sock"))
    bench.write_vm("noimage", text="[vm]\nimage = missing\n")
    bench.write_vm("clash", text="[vm]\nvmm = qemu\nwayland = cross-domain\n"
                   "gpu = cross-domain\nkernel = /k\ninitrd = /i\nroot = /r\n")
    bench.start_hostd(hostd_args(["--images-dir", bench.path("images")]))
    cases = [
        (("start", "nosuch"), 1, b"no VM named nosuch"),
        (("start", "plain"), 1, b"not started by vmdesk"),
        (("start", "xtwin"), 1, b"xtwin.conf:4: cid 3 is VM work's already"),
        (("start", "noimage"), 1, b"image missing is not built"),
        (("start", "clash"), 1, b"clash.conf: wayland = cross-domain needs crosvm"),
        (("stop", "nosuch"), 1, b"no VM named nosuch"),
        (("console", "work"), 1, b"VM work is not running"),
        (("start", "Work"), 2, b"invalid VM name"),
        (("start",), 2, b"which VM"),
        (("stop", "work", "--dry-run"), 2, b"unexpected --dry-run"),
        (("start", "work", "--timeout", "0"), 2, b"--timeout takes seconds"),
    ]
    for args, status, message in cases:
        r = bench.cli(*args)
        assert r.returncode == status and message in r.stderr, (args, r)
    r = bench.cli("stop", "work")
    assert r.returncode == 0 and b"VM work is not running" in r.stdout, r
    status = bench.status("xtwin")
    assert "config error: " in status and "cid 3 is VM work's already" in status, status
    assert state("work") == "stopped" and state("plain") == "-", bench.cli("list").stdout
    for vm in ("xtwin", "plain", "noimage", "clash"):
        os.unlink(os.path.join(bench.vms_dir, vm + ".conf"))
    bench.stop_hostd()


# ---- the lifecycle, with the fake cloud-hypervisor ----

@suite.test
def start_times_each_step_and_waits_for_the_agent():
    bench.start_hostd(hostd_args())
    out = start("work")
    lines = out.splitlines()
    steps = [l for l in lines if STEP.match(l)]
    for want in ("cloud-hypervisor for work", "VMM started", "VMM ready", "proxy started",
                 "waiting for the agent", "agent connected"):
        assert any(want in l for l in steps), (want, out)
    assert lines[-1] == "VM work is running (VMM pid %s)" % listed("work")[2], out
    fields = listed("work")
    assert fields[1] == "running" and fields[5] == "connected", fields
    pid = int(fields[2])
    assert alive(pid) and re.match(r"\d+s$", fields[3]), fields
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().split(b"\0")
    assert b"--api-socket" in argv and b"--vsock" in argv, argv
    # the agent is dialled at the VMM's hybrid vsock, the proxy gets the link's address
    assert fields[7] == "hvsock:%s/work/vsock.sock:5000" % run_dir, fields
    ppid, pargv = proxy_of("work")
    assert pargv == "--vm work --color green --guest hvsock:%s/work/vsock.sock:5001" % run_dir, \
        pargv
    assert alive(ppid)
    status = bench.status("work")
    for want in ("state: running", "pid: %d" % pid, "proxy: running (pid %d)" % ppid,
                 "vmm: cloud-hypervisor", "channel: connected", "log: "):
        assert want in status, (want, status)
    assert os.path.exists(os.path.join(run_dir, "work", "state"))
    log = os.path.join(bench.path("state"), "vmdesk", "work.log")
    assert "vmm: " + FAKE_CH in bench.read(log), bench.read(log)
    # hostd runs filtered; the VMM and the proxy are its spawner's children, outside
    # that filter (README, "Sandbox"): what they carry is only this test's own
    ours = {k: proc_status(os.getpid(), k) for k in ("Seccomp_filters", "NoNewPrivs")}
    hostd = bench.hostd.pid
    assert proc_status(hostd, "Seccomp") == "2", proc_status(hostd, "Seccomp")
    for child in (pid, ppid):
        parent = int(proc_status(child, "PPid"))
        assert parent != hostd and int(proc_status(parent, "PPid")) == hostd, (child, parent)
        for key, value in ours.items():
            assert proc_status(child, key) == value, (child, key, proc_status(child, key), ours)


@suite.test
def runs_reach_the_guest():
    r = bench.cli("run", "work", "--wait", "--", "sh", "-c", "echo $((6*7))")
    assert r.returncode == 0 and r.stdout == b"42\n" and r.stderr == b"", r


@suite.test
def console_relays_and_detaches_on_ctrl_bracket():
    # hostd connected when the VM started, and logs all of the console itself
    log = os.path.join(run_dir, "work", "console.log")

    def logged():
        try:
            with open(log, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""
    wait_for(lambda: b"fake console of work" in logged(), "the console's greeting logged")
    with Terminal([os.environ["VMDESK_CLI"], "console", "work"], bench.env) as t:
        t.expect(rb"Connected to VM work \(detach: Ctrl-\]\)")
        assert t.echo_off(), "the terminal is not in raw mode"
        # a second console is refused while this one is attached
        r = bench.cli("console", "work")
        assert r.returncode == 1 and b"in use" in r.stderr, r
        t.send(b"typed-into-the-console")
        t.expect(rb"typed-into-the-console")
        # what an attached console sees is logged too
        wait_for(lambda: b"typed-into-the-console" in logged(), "the echo logged")
        t.send(b"\x1d")
        assert t.wait() == 0, t.text()
        assert "Detached from VM work" in t.text(), t.text()
    assert state("work") == "running"


@suite.test
def a_proxy_that_dies_is_started_again():
    ppid, _ = proxy_of("work")
    os.kill(ppid, signal.SIGKILL)
    wait_for(lambda: proxy_of("work")[0] != ppid, "a new proxy")
    new_pid, argv = proxy_of("work")
    assert new_pid != ppid and "--guest hvsock:" in argv, argv
    wait_for(lambda: "proxy: running (pid %d)" % new_pid in bench.status("work"), "status")


@suite.test
def stop_powers_off_and_leaves_nothing():
    pid = int(listed("work")[2])
    ppid, _ = proxy_of("work")
    assert guestd_pids(), "no guest agent runs"
    out = stop("work")
    assert "ACPI power button pressed" in out, out
    assert out.splitlines()[-1] == "VM work is stopped: powered off (vmdesk stop)", out
    assert not alive(pid) and not alive(ppid), (pid, ppid)
    wait_for(lambda: not guestd_pids(), "the guest agent to end")
    assert not os.path.exists(os.path.join(run_dir, "work")), os.listdir(run_dir)
    fields = listed("work")
    assert fields[1:6] == ["stopped", "-", "-", "-", "VM not running"], fields
    assert "last stop: powered off (vmdesk stop)" in bench.status("work")
    r = bench.cli("run", "work", "--", "true")
    assert r.returncode == 0, "run should start the VM: %r" % (r,)
    stop("work")


@suite.test
def stop_force_kills():
    start("work")
    pid = int(listed("work")[2])
    out = stop("work", "--force")
    assert "killed (vmdesk stop --force)" in out, out
    assert not alive(pid)
    wait_for(lambda: not guestd_pids(), "the guest agent to end")


@suite.test
def a_vmm_that_dies_takes_its_proxy_and_channel():
    start("work")
    pid = int(listed("work")[2])
    ppid, _ = proxy_of("work")
    os.kill(pid, signal.SIGKILL)
    wait_state("work", "stopped")
    status = bench.status("work")
    assert "last stop: the VMM killed by signal 9" in status, status
    assert "channel: VM not running" in status, status
    wait_for(lambda: not alive(ppid), "the proxy to go")
    wait_for(lambda: not guestd_pids(), "the guest agent to end")
    assert not os.path.exists(os.path.join(run_dir, "work"))
    assert bench.hostd.poll() is None


@suite.test
def run_starts_a_stopped_vm():
    assert state("work") == "stopped"
    r = bench.cli("run", "work", "--wait", "--", "echo", "from the guest")
    assert r.returncode == 0 and r.stdout == b"from the guest\n", r
    assert r.stderr == b"", "progress goes to a terminal only: %r" % r.stderr
    assert state("work") == "running"
    stop("work")
    # on a terminal the start shows its steps
    with Terminal([os.environ["VMDESK_CLI"], "run", "work", "--wait", "--", "echo", "done"],
                  bench.env) as t:
        t.expect(rb"VM work is not running: starting it")
        t.expect(rb"agent connected")
        t.expect(rb"done")
        assert t.wait() == 0, t.text()
    # a menu click (vmdesk run VM --app ID) takes the same path
    stop("work")
    r = bench.cli("run", "work", "--app", "nosuch.desktop")
    assert state("work") == "running", r
    assert r.returncode == 127 and b"no application nosuch.desktop" in r.stderr, r
    stop("work")


@suite.test
def a_changed_or_removed_definition():
    start("work")
    pid = int(listed("work")[2])
    fake_vm("work", 3, "memory = 2048\n")
    bench.wait_log("vm=work: definition changed")
    wait_for(lambda: "definition: changed since the VM started" in bench.status("work"),
             "the status to say so")
    assert int(listed("work")[2]) == pid, "the VM was restarted"
    # the new channel finds the running VM's agent again
    r = bench.cli("run", "work", "--wait", "--", "echo", "still")
    assert r.returncode == 0 and r.stdout == b"still\n", r
    os.unlink(os.path.join(bench.vms_dir, "work.conf"))
    bench.wait_log("vm=work: its definition is gone: powering it off")
    wait_for(lambda: not alive(pid), "the VM to be powered off")
    wait_for(lambda: "work" not in [l.split("\t")[0] for l in
                                    bench.cli("list").stdout.decode().splitlines()], "work gone")
    fake_vm("work", 3)
    bench.wait_log("vm=work: new definition")


@suite.test
def idle_shutdown_waits_for_commands():
    fake_vm("idler", 5, "idle-shutdown = 2s\n")
    bench.wait_log("vm=idler: new definition")
    start("idler")
    # a command keeps it busy past its idle time; it stops only after that
    proc = bench.cli_popen("run", "idler", "--wait", "--", "sh", "-c", "sleep 5; echo slept")
    wait_for(lambda: "busy: " in bench.status("idler"), "the command to keep it busy")
    time.sleep(4)  # twice its idle time
    assert state("idler") == "running", bench.status("idler")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out == b"slept\n", (proc.returncode, out, err)
    wait_state("idler", "stopped", timeout=30)
    assert "idle-shutdown: no windows and no programs for 2 s" in bench.status("idler")


@suite.test
def idle_shutdown_waits_for_windows():
    for tool in ("sway", "unshare", "foot"):
        if shutil.which(tool) is None:
            tap.skip(tool + " is not installed")
    from compositor import Sway
    start("idler")
    clip = os.path.join(bench.runtime, "vmdesk", "clipboard.sock")
    with Sway() as comp:
        sock = bench.path("idler-proxy.sock")
        proxy = bench.spawn([PROXY, "--vm", "idler", "--display", comp.display, "--socket", sock,
                             "--hostd", clip], bench.path("idler-proxy.log"))
        wait_for(lambda: os.path.exists(sock), "the proxy's socket")
        wait_for(lambda: listed("idler")[4] == "0", "the proxy's window count")
        env = dict(bench.env, WAYLAND_DISPLAY=sock)
        client = subprocess.Popen(["foot", "--app-id=vmdesk-idle-test", "sleep", "60"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: listed("idler")[4] == "1", "a window in vmdesk list")
            time.sleep(4)  # twice its idle time, with a window open
            assert state("idler") == "running", bench.status("idler")
            assert "busy: 1 window open" in bench.status("idler"), bench.status("idler")
        finally:
            client.terminate()
            client.wait()
        wait_for(lambda: listed("idler")[4] == "0", "the window to go")
        wait_state("idler", "stopped", timeout=30)
        bench.stop(proxy)
    os.unlink(os.path.join(bench.vms_dir, "idler.conf"))


@suite.test
def hostd_leaving_keeps_vms_and_finds_them_again():
    fake_vm("auto", 6, "autostart = true\n")
    restart_hostd(["--on-exit", "keep"])
    wait_state("auto", "running")  # started with hostd, nobody asked
    start("work")
    pids = {vm: int(listed(vm)[2]) for vm in ("auto", "work")}
    proxy_pids = sorted(proxy_of(vm)[0] for vm in ("auto", "work"))
    assert bench.stop_hostd() == 0
    for vm, pid in pids.items():
        assert alive(pid), "%s's VMM stopped with hostd (--on-exit keep)" % vm
    assert all(alive(p) for p in proxy_pids)
    bench.start_hostd(hostd_args(["--on-exit", "stop"]))
    for vm, pid in pids.items():
        wait_state(vm, "running")
        assert int(listed(vm)[2]) == pid, listed(vm)
    assert "found running" in bench.hostd_output()
    assert sorted(proxy_of(vm)[0] for vm in ("auto", "work")) == proxy_pids, "proxies restarted"
    r = bench.cli("run", "work", "--wait", "--", "echo", "again")
    assert r.returncode == 0 and r.stdout == b"again\n", r
    # --on-exit stop: hostd powers its VMs off before it exits
    assert bench.stop_hostd() == 0
    for vm, pid in pids.items():
        assert not alive(pid), "%s still runs" % vm
    assert not any(alive(p) for p in proxy_pids)
    assert not guestd_pids()
    assert not os.listdir(run_dir), os.listdir(run_dir)
    os.unlink(os.path.join(bench.vms_dir, "auto.conf"))


def write_state_of(pid, start):
    """VM work's state file naming pid (with start time start) as its VMM and proxy."""
    d = os.path.join(run_dir, "work")
    os.makedirs(d, mode=0o700)
    with open(os.path.join(d, "state"), "w") as f:
        f.write("vmdesk-vmstate 1\nvmm=qemu\nvmm-pid=%d\nvmm-start=%d\nproxy-pid=%d\n"
                "proxy-start=%d\nstarted=0\nagent=unix:/x\nagent-serial=0\ncontrol=qmp\n"
                % (pid, start, pid, start))
    return d


@suite.test
def a_state_file_of_another_process_is_not_adopted():
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        d = write_state_of(sleeper.pid, 1)
        bench.start_hostd(hostd_args())
        time.sleep(0.5)
        assert sleeper.poll() is None, "hostd signalled a process that is not the VM's"
        assert state("work") == "stopped"
        assert not os.path.exists(d), "the stale run directory is left"
        bench.stop_hostd()
    finally:
        sleeper.kill()
        sleeper.wait()


def start_time(pid):
    """Field 22 of /proc/PID/stat, as protocols/proc.c reads it."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


@suite.test
def a_forged_state_file_gets_no_pidfd_of_another_process():
    # A hostd a VM took over could write a state file naming any of the user's
    # processes with its true start time; the next hostd would adopt it and
    # signal it at stop. Its spawner opens the pidfds now, and only of what a
    # definition runs (host/spawn-guard.h).
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        write_state_of(sleeper.pid, start_time(sleeper.pid))
        mark = len(bench.hostd_output())
        bench.start_hostd(hostd_args(["--on-exit", "stop"]))  # it adopts before it listens
        vm_state = state("work")
        bench.stop_hostd()  # --on-exit stop: what it adopted, it stops
        assert sleeper.poll() is None, "hostd signalled a process that is not the VM's"
        assert vm_state == "stopped", vm_state
        assert "refused to adopt pid %d" % sleeper.pid in bench.hostd_output()[mark:]
    finally:
        sleeper.kill()
        sleeper.wait()


@suite.test
def a_lost_spawner_refuses_starts_and_hostd_goes_on():
    """hostd's spawner starts every program (README, "Sandbox"): if it dies, starts
    fail with a clear error, and hostd serves on."""
    bench.start_hostd(hostd_args())
    hostd = bench.hostd.pid
    with open("/proc/%d/task/%d/children" % (hostd, hostd)) as f:
        children = [int(p) for p in f.read().split()]
    assert len(children) == 1, children  # the spawner, and nothing else
    os.kill(children[0], signal.SIGKILL)
    bench.wait_log("the spawner is gone")
    r = bench.cli("start", "work")
    assert r.returncode != 0 and b"vmdesk-hostd's spawner is gone" in r.stderr, r
    assert bench.hostd.poll() is None, bench.hostd_output()[-2000:]
    assert state("work") == "stopped"
    assert bench.stop_hostd() == 0


@suite.test
def daemons_exit_cleanly():
    bench.stop_daemons_checked()


suite.run(exit=False)
bench.close()
