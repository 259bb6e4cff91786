#!/usr/bin/python3
"""Benchmark vmdesk-proxy against a direct connection and against waypipe.

On one headless sway, runs each wl-bench mode (roundtrip, throughput,
connect) three ways:

    direct   wl-bench -> sway
    vmdesk   wl-bench -> vmdesk-proxy --vm bench --policy default.policy -> sway
    waypipe  wl-bench -> waypipe server -> waypipe client -> sway (--no-gpu -c none)

plus "floor": wl-forward, a bare byte-and-fd forwarder, for what any
out-of-process proxy costs at least (shown below the table).

Each run is repeated (--repeat, interleaved across configurations so that
background noise hits all of them alike) and the median is reported. Prints
a table with ratios to direct, the proxy's CPU time per million messages,
and the targets (round trip p50 within 1.3x of direct, throughput >= 70% of
direct, both ahead of waypipe) as PASS/MISS. Benchmarks are not tests: the
exit status is 0 whatever the numbers; it is 1 only when a configuration
could not run at all (crash, protocol error, timeout).

    run-bench.py [--wl-bench PATH] [--proxy PATH] [--policy FILE] [--markdown]
                 [--roundtrips N] [--messages N] [--connects N] [--repeat R]
                 [--only direct,vmdesk,waypipe,floor] [--proxy-wrapper 'valgrind ...']

Profiling the proxy's hot path (callgrind writes its file when the proxy exits):

    run-bench.py --only direct,vmdesk --repeat 1 --messages 100000 \
        --proxy-wrapper 'valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out'
    callgrind_annotate /tmp/cg.out | head -40
"""

import argparse
import contextlib
import datetime
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import BenchError, children_cpu, tree_cpu
from compositor import Sway, reap_group, stop_process, wait_for

CONFIGS = ("direct", "vmdesk", "waypipe")  # the table's columns
ALL_CONFIGS = CONFIGS + ("floor",)  # floor: wl-forward, a proxy that parses nothing
RUN_TIMEOUT = 180

# (key from wl-bench, label, unit)
METRICS = (
    ("roundtrip_p50_us", "round trip p50", "us"),
    ("roundtrip_p99_us", "round trip p99", "us"),
    ("roundtrip_mean_us", "round trip mean", "us"),
    ("throughput_msgs_per_s", "throughput", "msg/s"),
    ("connect_p50_ms", "connect+registry p50", "ms"),
    ("connect_mean_ms", "connect+registry mean", "ms"),
    ("connect_globals", "globals bound per connection", ""),
    ("peer_cpu_ms_per_m", "proxy CPU per 1M msgs, throughput", "ms"),
)


def parse_args():
    build_root = os.environ.get("VMDESK_BUILD_ROOT", "")
    source_root = os.environ.get("VMDESK_SOURCE_ROOT", "")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wl-bench", default=os.path.join(build_root, "tests/bench/wl-bench"))
    parser.add_argument("--proxy", default=os.environ.get("VMDESK_PROXY", "vmdesk-proxy"))
    parser.add_argument("--policy", default=os.environ.get(
        "VMDESK_DEFAULT_POLICY", os.path.join(source_root, "proxy/default.policy")))
    parser.add_argument("--waypipe", default="waypipe")
    parser.add_argument("--wl-forward", default=os.path.join(build_root,
                                                             "tests/bench/wl-forward"))
    parser.add_argument("--proxy-wrapper", default="",
                        help="command to run the proxy under, e.g. "
                             "'valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out'")
    parser.add_argument("--roundtrips", type=int, default=10000)
    parser.add_argument("--messages", type=int, default=1000000)
    parser.add_argument("--connects", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default=",".join(ALL_CONFIGS),
                        help="comma-separated configurations to run (%s)"
                             % ",".join(ALL_CONFIGS))
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    args.only = [c for c in args.only.split(",") if c]
    for config in args.only:
        if config not in ALL_CONFIGS:
            parser.error("unknown configuration %r" % config)
    if "direct" not in args.only:
        parser.error("the direct configuration is the baseline and cannot be left out")
    return args


def log(msg):
    sys.stderr.write("run-bench: %s\n" % msg)
    sys.stderr.flush()


# -- one wl-bench run -------------------------------------------------------

def parse_output(text):
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = float(value)
    return values


def run_client(argv, env, what):
    """Run argv to completion; returns (values parsed from stdout, CPU of the whole run)."""
    cpu_before = children_cpu()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_process(proc, timeout=2)
        raise BenchError("%s timed out after %ds" % (what, RUN_TIMEOUT)) from None
    finally:
        reap_group(proc.pid, timeout=1)
    if proc.returncode != 0:
        raise BenchError("%s exited with status %d:\n%s"
                         % (what, proc.returncode, err.decode(errors="replace")))
    values = parse_output(out.decode())
    return values, children_cpu() - cpu_before


# -- the configurations ------------------------------------------------------

class Direct:
    name = "direct"

    def __init__(self, comp, args, tmp):
        self.comp = comp
        self.args = args

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def run(self, mode, count):
        values, _ = run_client([self.args.wl_bench, mode, str(count)], self.comp.env(),
                               "direct wl-bench %s" % mode)
        return values


class SocketProxy:
    """A proxy listening on a socket for the whole benchmark; each wl-bench run is a new
    client of it. Subclasses say how to start it."""

    name = None

    def __init__(self, comp, args, tmp):
        self.comp = comp
        self.args = args
        self.socket = os.path.join(tmp, "%s.sock" % self.name)
        self.log_path = os.path.join(tmp, "%s.log" % self.name)
        self.proc = None
        self.log_file = None

    def argv(self):
        raise NotImplementedError

    def __enter__(self):
        argv = self.argv()
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, env=self.comp.env(), stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            wait_for(lambda: os.path.exists(self.socket), timeout=30,
                     what="the %s socket" % self.name, check=self.check)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            stop_process(self.proc)
        if self.log_file is not None:
            self.log_file.close()
        return False

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def check(self):
        if self.proc.poll() is not None:
            raise BenchError("%s exited with status %d:\n%s"
                             % (self.name, self.proc.returncode, self.log()))

    def run(self, mode, count):
        self.check()
        cpu_before = tree_cpu(self.proc.pid)
        env = self.comp.env(WAYLAND_DISPLAY=self.socket)
        try:
            values, _ = run_client([self.args.wl_bench, mode, str(count)], env,
                                   "wl-bench %s through %s" % (mode, self.name))
        except BenchError as e:
            raise BenchError("%s\n--- proxy log (tail) ---\n%s" % (e, self.log())) from None
        time.sleep(0.05)  # let the proxy finish tearing the client down
        self.check()
        values["peer_cpu_s"] = tree_cpu(self.proc.pid) - cpu_before
        return values


class Vmdesk(SocketProxy):
    name = "vmdesk"

    def argv(self):
        return shlex.split(self.args.proxy_wrapper) + [
            self.args.proxy, "--vm", "bench", "--policy", self.args.policy,
            "--display", self.comp.display, "--socket", self.socket]


class Floor(SocketProxy):
    name = "floor"

    def argv(self):
        return [self.args.wl_forward, self.socket, self.comp.display]


class Waypipe:
    """A waypipe client on sway; each wl-bench run goes through a fresh waypipe server."""

    name = "waypipe"

    def __init__(self, comp, args, tmp):
        self.comp = comp
        self.args = args
        self.socket = os.path.join(tmp, "waypipe.sock")
        self.server_dir = os.path.join(tmp, "waypipe-server")
        self.log_path = os.path.join(tmp, "waypipe-client.log")
        self.proc = None
        self.log_file = None

    def __enter__(self):
        os.mkdir(self.server_dir, 0o700)
        argv = [self.args.waypipe, "--no-gpu", "-c", "none", "-s", self.socket, "client"]
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, env=self.comp.env(), stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            wait_for(lambda: os.path.exists(self.socket), timeout=10,
                     what="waypipe's socket", check=self.check)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            stop_process(self.proc)
        if self.log_file is not None:
            self.log_file.close()
        return False

    def check(self):
        if self.proc.poll() is not None:
            raise BenchError("waypipe client exited with status %d" % self.proc.returncode)

    def run(self, mode, count):
        self.check()
        cpu_before = tree_cpu(self.proc.pid)
        display = os.path.join(self.server_dir, "wayland-bench")
        argv = [self.args.waypipe, "--no-gpu", "-c", "none", "-s", self.socket,
                "--display", display, "server", "--", self.args.wl_bench, mode, str(count)]
        env = self.comp.env(XDG_RUNTIME_DIR=self.server_dir, WAYLAND_DISPLAY=None)
        values, run_cpu = run_client(argv, env, "wl-bench %s through waypipe" % mode)
        time.sleep(0.05)  # let the waypipe client reap its connection handler
        self.check()
        # Both waypipe ends: the client (and its handlers) plus the server
        # process tree minus wl-bench itself.
        server_cpu = max(run_cpu - values.get("cpu_s", 0.0), 0.0)
        values["peer_cpu_s"] = tree_cpu(self.proc.pid) - cpu_before + server_cpu
        return values


# -- running and reporting ----------------------------------------------------

def run_all(args):
    """Runs everything; returns {config: {key: [value per repetition]}}."""
    counts = {"roundtrip": args.roundtrips, "throughput": args.messages,
              "connect": args.connects}
    samples = {config: {} for config in args.only}
    classes = {"direct": Direct, "vmdesk": Vmdesk, "waypipe": Waypipe, "floor": Floor}
    with Sway() as comp, contextlib.ExitStack() as stack:
        tmp = tempfile.mkdtemp(prefix="vmdesk-bench-")
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        runners = [stack.enter_context(classes[c](comp, args, tmp)) for c in args.only]
        for rep in range(args.repeat):
            for mode, count in counts.items():
                for runner in runners:
                    values = runner.run(mode, count)
                    peer_cpu = values.pop("peer_cpu_s", None)
                    if mode == "throughput" and peer_cpu is not None:
                        values["peer_cpu_ms_per_m"] = peer_cpu * 1e3 / (count / 1e6)
                    values = {k: v for k, v in values.items()
                              if k.startswith(mode) or k == "peer_cpu_ms_per_m"}
                    log("run %d/%d %-7s %-10s %s" % (
                        rep + 1, args.repeat, runner.name, mode,
                        " ".join("%s=%g" % kv for kv in sorted(values.items()))))
                    for key, value in values.items():
                        samples[runner.name].setdefault(key, []).append(value)
    return samples


class Results:
    """Medians over the repetitions. Ratios are medians of per-repetition ratios:
    runs of one repetition are close in time, so load that drifts during the
    benchmark cancels out of them."""

    def __init__(self, samples):
        self.samples = samples

    def value(self, config, key):
        vals = self.samples.get(config, {}).get(key)
        return statistics.median(vals) if vals else None

    def ratio(self, config, base, key):
        a = self.samples.get(config, {}).get(key)
        b = self.samples.get(base, {}).get(key)
        if not a or not b or len(a) != len(b) or 0 in b:
            return None
        return statistics.median(x / y for x, y in zip(a, b))


def fmt_value(value, unit):
    if value is None:
        return "n/a"
    if unit == "msg/s":
        return "{:,.0f}".format(value)
    if unit == "":
        return "%d" % value
    # Three significant digits, trailing zeros kept (0.270, 3.80, 77.8, 165).
    digits = 2 - math.floor(math.log10(abs(value))) if value else 2
    return "%.*f" % (max(digits, 0), value)


def fmt_ratio(value):
    return "n/a" if value is None else "%.2fx" % value


def table_rows(res):
    rows = []
    for key, label, unit in METRICS:
        name = "%s (%s)" % (label, unit) if unit else label
        cells = [fmt_value(res.value(c, key), unit) for c in CONFIGS]
        if key in ("connect_globals", "peer_cpu_ms_per_m"):
            ratios = ["", ""]
        else:
            ratios = [fmt_ratio(res.ratio("vmdesk", "direct", key)),
                      fmt_ratio(res.ratio("waypipe", "direct", key))]
        rows.append([name] + cells + ratios)
    return rows


def targets(res):
    checks = []

    def check(label, ok, detail):
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        checks.append((verdict, label, detail))

    rt, tp = "roundtrip_p50_us", "throughput_msgs_per_s"
    r = res.ratio("vmdesk", "direct", rt)
    check("round trip p50 within 1.3x of direct", None if r is None else r <= 1.3,
          "vmdesk/direct = %s" % fmt_ratio(r))
    r = res.ratio("vmdesk", "direct", tp)
    check("throughput >= 70% of direct", None if r is None else r >= 0.7,
          "vmdesk/direct = %s" % ("n/a" if r is None else "%.0f%%" % (r * 100)))
    r = res.ratio("vmdesk", "waypipe", rt)
    check("round trip p50 ahead of waypipe", None if r is None else r < 1,
          "vmdesk/waypipe = %s" % fmt_ratio(r))
    r = res.ratio("vmdesk", "waypipe", tp)
    check("throughput ahead of waypipe", None if r is None else r > 1,
          "vmdesk/waypipe = %s" % fmt_ratio(r))
    return checks


def floor_notes(res):
    """Lines comparing the bare forwarder with direct and with vmdesk-proxy."""
    if "floor" not in res.samples:
        return []
    rt, tp = "roundtrip_p50_us", "throughput_msgs_per_s"
    notes = [
        "floor = wl-forward: one process that copies bytes and fds and parses nothing;"
        " what any out-of-process proxy costs at least",
        "floor round trip p50: %s us (%s direct; vmdesk is %s floor)"
        % (fmt_value(res.value("floor", rt), "us"), fmt_ratio(res.ratio("floor", "direct", rt)),
           fmt_ratio(res.ratio("vmdesk", "floor", rt))),
        "floor throughput: %s msg/s (%s direct; vmdesk is %s floor)"
        % (fmt_value(res.value("floor", tp), "msg/s"),
           fmt_ratio(res.ratio("floor", "direct", tp)),
           fmt_ratio(res.ratio("vmdesk", "floor", tp))),
        "floor connect+registry p50: %s ms; floor CPU per 1M msgs: %s ms"
        % (fmt_value(res.value("floor", "connect_p50_ms"), "ms"),
           fmt_value(res.value("floor", "peer_cpu_ms_per_m"), "ms")),
    ]
    return notes


HEADER = ["metric", "direct", "vmdesk", "waypipe", "vmdesk/direct", "waypipe/direct"]


def print_plain(rows, checks, notes):
    widths = [max(len(r[i]) for r in rows + [HEADER]) for i in range(len(HEADER))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return " | ".join([first] + rest)

    print(line(HEADER))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
    print()
    for verdict, label, detail in checks:
        print("%-4s  %s (%s)" % (verdict, label, detail))
    if notes:
        print()
    for note in notes:
        print(note)


def print_markdown(rows, checks, notes):
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join([":---"] + ["---:"] * (len(HEADER) - 1)) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    for verdict, label, detail in checks:
        print("- **%s** %s (%s)" % (verdict, label, detail))
    if notes:
        print()
    for note in notes:
        print("- %s" % note)


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def main():
    args = parse_args()
    needed = [args.wl_bench] + ([args.proxy] if "vmdesk" in args.only else []) + (
        [args.wl_forward] if "floor" in args.only else [])
    for path in needed:
        if not os.access(path, os.X_OK):
            log("not executable: %s" % path)
            return 1
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = load_average()
    try:
        res = Results(run_all(args))
    except BenchError as e:
        log("error: %s" % e)
        return 1
    header = [
        "vmdesk-proxy benchmark, %s, headless sway, %d cores (load %s before, %s after)"
        % (started.strftime("%Y-%m-%d %H:%M UTC"), os.cpu_count(), load_before,
           load_average()),
        "roundtrip N=%d, throughput N=%d wl_region.add, connect N=%d; median of %d runs"
        % (args.roundtrips, args.messages, args.connects, args.repeat),
        "ratios: median of per-run ratios; 'proxy CPU' is vmdesk-proxy's CPU time"
        " (waypipe: both waypipe ends)",
    ]
    if args.markdown:
        print("  \n".join(header))  # a paragraph with line breaks
    else:
        print("\n".join("# " + line for line in header))
    print()
    rows = table_rows(res)
    checks = targets(res)
    notes = floor_notes(res)
    if args.markdown:
        print_markdown(rows, checks, notes)
    else:
        print_plain(rows, checks, notes)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
