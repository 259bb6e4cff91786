"""The paths a benchmark client can take to the compositor (one headless sway).

    direct         client -> sway
    waypipe        client -> waypipe server ==link==> waypipe client -> sway
                   (waypipe 0.8.4, --no-gpu -c none, the link a Unix socket)
    vmdesk-socket  client -> vmdesk-proxy --socket -> sway   (today's host-side path)
    vmdesk-chain   client -> vmdesk-guest-wayland ==link==> vmdesk-proxy --guest -> sway
                   (the unix: carrier standing in for vsock / virtio-serial)

    with PATH_CLASSES["waypipe"](ctx, measure=False) as path:
        path.env()             # environment for a client of this path
        path.snapshot()        # CPU of each end, the compositor's; link bytes; census
        path.check()           # BenchError if a process of the path died

A path lives for a whole suite; every run is a new client of it. With
measure=True two counting relays are spliced in: wl-census in front of the
path's entry (what the client really changes per frame) and wl-forward
--count inside the link (the bytes that cross it). Relays add a hop, so
measuring paths are used only for byte counts, never for times or CPU.
"""

import os
import subprocess
import tempfile
import time

from benchlib import BenchError, read_counters, run_to_end, tree_cpu
from compositor import stop_process, wait_for

START_TIMEOUT = 30

# wl-census counters (wl-census.c)
CENSUS_KEYS = ("messages", "frames", "changed_bytes", "damage_bytes", "buffer_bytes",
               "unparsed", "other_buffers", "connections")
# wl-forward --count counters (wl-forward.c)
LINK_KEYS = ("to_upstream", "to_client", "connections", "fds")


class Context:
    """What every path needs: the compositor, the runner's arguments, a temp dir."""

    def __init__(self, comp, args, tmp):
        self.comp = comp
        self.args = args
        self.tmp = tmp


class Service:
    """A long-lived process of a path, logging to a file."""

    def __init__(self, directory, name, argv, env):
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(directory, "%s.log" % name.rsplit("-", 1)[-1])
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-3000:]
        except OSError:
            return ""

    def check(self):
        if self.proc.poll() is not None:
            raise BenchError("%s exited with status %d\n--- command ---\n%s\n--- log ---\n%s"
                             % (self.name, self.proc.returncode, " ".join(self.argv),
                                self.log()))

    def stop(self):
        stop_process(self.proc)
        self.log_file.close()


class Path:
    name = None
    has_link = False

    def __init__(self, ctx, measure=False):
        self.ctx = ctx
        self.measure = measure
        self.services = []
        self.entry = None  # the socket a client connects to
        self.census_file = None
        self.link_file = None
        self.dir = None

    @classmethod
    def unavailable(cls, args):
        """None if this path can run here, else why not."""
        return None

    # -- subclass hooks --
    def start(self):
        raise NotImplementedError

    def ends(self):
        """{'guest end' / 'host end': Service} of the path's own processes."""
        return {}

    # -- helpers for subclasses --
    def service(self, name, argv, env=None):
        svc = Service(self.dir, "%s%s-%s" % (self.name, "-measure" if self.measure else "",
                                             name), argv,
                      env if env is not None else self.ctx.comp.env())
        self.services.append(svc)
        return svc

    def wait_socket(self, path, what):
        wait_for(lambda: os.path.exists(path), timeout=START_TIMEOUT, what=what,
                 check=self.check)

    def link_relay(self, listen, upstream):
        """In measuring paths, a counting relay listening at `listen` in front of
        `upstream`; returns the path the near end must dial."""
        if not self.measure:
            return upstream
        self.link_file = os.path.join(self.dir, "link.counters")
        self.service("link-counter", [self.ctx.args.wl_forward, "--count", self.link_file,
                                      listen, upstream])
        self.wait_socket(listen, "the link counter's socket")
        return listen

    # -- lifecycle --
    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="%s%s-" % (self.name, "-measure" if self.measure
                                                      else ""), dir=self.ctx.tmp)
        try:
            self.start()
            if self.measure:
                census_sock = os.path.join(self.dir, "census.sock")
                self.census_file = os.path.join(self.dir, "census.counters")
                self.service("census", [self.ctx.args.wl_census, census_sock, self.entry,
                                        self.census_file])
                self.wait_socket(census_sock, "wl-census's socket")
                self.entry = census_sock
            self.probe()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for svc in reversed(self.services):
            svc.stop()
        self.services = []
        return False

    def probe(self):
        """Wait until a client gets a round trip through the path."""
        def works():
            try:
                run_to_end([self.ctx.args.wl_bench, "roundtrip", "3"], self.env(),
                           "a probe through %s" % self.name, timeout=5)
                return True
            except BenchError:
                return False
        wait_for(works, timeout=START_TIMEOUT, what="a round trip through %s" % self.name,
                 interval=0.2, check=self.check)

    def check(self):
        for svc in self.services:
            svc.check()

    def env(self, **extra):
        extra.setdefault("WAYLAND_DISPLAY", self.entry)
        return self.ctx.comp.env(**extra)

    def snapshot(self):
        """CPU seconds so far of each end and of the compositor, link bytes, census."""
        snap = {"cpu": {label: tree_cpu(svc.pid) for label, svc in self.ends().items()},
                "compositor": tree_cpu(self.ctx.comp.proc.pid),
                "time": time.monotonic()}
        if self.link_file is not None:
            words = read_counters(self.link_file, len(LINK_KEYS))
            snap["link"] = dict(zip(LINK_KEYS, words)) if words else None
        if self.census_file is not None:
            words = read_counters(self.census_file, len(CENSUS_KEYS))
            snap["census"] = dict(zip(CENSUS_KEYS, words)) if words else None
        return snap


def delta(before, after):
    """What happened between two snapshots: cpu per end, compositor, link bytes, census."""
    out = {"cpu": {k: after["cpu"][k] - before["cpu"].get(k, 0.0) for k in after["cpu"]},
           "compositor": after["compositor"] - before["compositor"],
           "seconds": after["time"] - before["time"]}
    if after.get("link") and before.get("link"):
        out["link_bytes"] = sum(after["link"][k] - before["link"][k]
                                for k in ("to_upstream", "to_client"))
        out["link_fds"] = after["link"]["fds"] - before["link"]["fds"]
    if after.get("census") and before.get("census"):
        out["census"] = {k: after["census"][k] - before["census"][k] for k in CENSUS_KEYS}
    return out


class Direct(Path):
    name = "direct"

    def start(self):
        self.entry = self.ctx.comp.display


class Waypipe(Path):
    name = "waypipe"
    has_link = True

    @classmethod
    def unavailable(cls, args):
        try:
            out = subprocess.run([args.waypipe, "--version"], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            return "cannot run %s: %s" % (args.waypipe, e)
        return None if out.returncode == 0 else "%s --version failed" % args.waypipe

    def start(self):
        args = self.ctx.args
        common = [args.waypipe, "--no-gpu", "-c", "none"]
        client_sock = os.path.join(self.dir, "waypipe-client.sock")
        self.host = self.service("client", common + ["-s", client_sock, "client"])
        self.wait_socket(client_sock, "the waypipe client's socket")
        link = self.link_relay(os.path.join(self.dir, "link.sock"), client_sock)
        server_dir = os.path.join(self.dir, "server")
        os.mkdir(server_dir, 0o700)
        display = os.path.join(server_dir, "wayland-waypipe")
        # The server runs a placeholder command and serves every client that
        # connects to its display, each over its own connection to the link socket.
        env = self.ctx.comp.env(XDG_RUNTIME_DIR=server_dir, WAYLAND_DISPLAY=None)
        self.guest = self.service("server", common + ["-s", link, "--display", display,
                                                      "server", "--", "sleep", "1000000"],
                                  env=env)
        self.wait_socket(display, "the waypipe server's display")
        self.entry = display

    def ends(self):
        return {"guest end": self.guest, "host end": self.host}


def proxy_argv(args, display):
    argv = [args.proxy, "--vm", "bench", "--display", display]
    if args.no_frames:
        argv.append("--no-frames")
    return argv


class VmdeskSocket(Path):
    name = "vmdesk-socket"

    def start(self):
        sock = os.path.join(self.dir, "proxy.sock")
        self.host = self.service("proxy", proxy_argv(self.ctx.args, self.ctx.comp.display) +
                                 ["--socket", sock])
        self.wait_socket(sock, "the proxy's socket")
        self.entry = sock

    def ends(self):
        return {"host end": self.host}


def _help_text(argv):
    try:
        out = subprocess.run(argv + ["--help"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout + out.stderr).decode(errors="replace")


class VmdeskChain(Path):
    name = "vmdesk-chain"
    has_link = True

    @classmethod
    def unavailable(cls, args):
        guest = args.guest_wayland
        if not guest or not os.access(guest, os.X_OK):
            return "no vmdesk-guest-wayland at %s (it comes with the guest bridge)" % guest
        if "--listen" not in _help_text([guest]):
            return "%s --help does not mention --listen" % guest
        if "--guest" not in _help_text([args.proxy]):
            return "%s has no --guest option (it comes with the guest bridge)" % args.proxy
        return None

    def start(self):
        args = self.ctx.args
        guest_link = os.path.join(self.dir, "link-guest.sock")
        display = os.path.join(self.dir, "wayland-guest")
        # As inside a VM: no host compositor in its environment.
        env = self.ctx.comp.env(XDG_RUNTIME_DIR=self.dir, WAYLAND_DISPLAY=None)
        self.guest = self.service("guest", [args.guest_wayland, "--listen", "unix:" + guest_link,
                                            "--display", display], env=env)
        self.wait_socket(guest_link, "the guest bridge's link socket")
        link = self.link_relay(os.path.join(self.dir, "link-host.sock"), guest_link)
        self.host = self.service("proxy", proxy_argv(args, self.ctx.comp.display)[:3] +
                                 ["--guest", "unix:" + link] +
                                 proxy_argv(args, self.ctx.comp.display)[3:])
        self.wait_socket(display, "the guest bridge's display socket")
        self.entry = display

    def ends(self):
        return {"guest end": self.guest, "host end": self.host}


PATH_CLASSES = {cls.name: cls for cls in (Direct, Waypipe, VmdeskSocket, VmdeskChain)}
PATH_NAMES = tuple(PATH_CLASSES)
