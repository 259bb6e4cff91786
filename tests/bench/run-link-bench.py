#!/usr/bin/python3
"""Benchmark a VM's Wayland link: vmdesk's chain against waypipe and a direct client.

On one headless sway (pixman renderer, one 3840x2160 output refreshing at
--refresh Hz, 1000 by default, so that frame rates show what a path can
carry rather than the display's 60 Hz), every client runs through each path:

    direct         client -> sway
    waypipe        client -> waypipe server ==link==> waypipe client -> sway
                   (0.8.4, --no-gpu -c none, over a Unix socket)
    vmdesk-socket  client -> vmdesk-proxy --socket -> sway (today's host path; no link)
    vmdesk-chain   client -> vmdesk-guest-wayland --listen unix:LINK ==link==>
                   vmdesk-proxy --vm bench --guest unix:LINK -> sway
                   (skipped, with the reason, while the binaries lack it)

Suites (--suite, comma-separated; default all):

    protocol  wl-bench: round trip p50/p99, small-request throughput, CPU of both
              ends per million requests
    pixels    shm-bench full: every pixel changes every frame, at each --sizes:
              frames per second, link bytes per frame, CPU per frame of each end,
              of the compositor and of the client
    damage    shm-bench square (one 64x64 square per frame in a 1920x1080 window)
              and foot printing --foot-lines lines: link bytes per frame against
              the bytes that really changed
    input     key-bench: a key pressed on a virtual keyboard of sway until the
              client through the path receives it, p50/p99

Times and CPU come from --repeat runs interleaved across the paths (medians;
ratios are medians of per-repetition ratios). Byte counts come from one more
run through the same path with two counting relays spliced in (wl-census in
front of the client, what it really changes per frame; wl-forward --count
inside the link), which are never used for times. CPU is each process's
schedstat time (/proc/PID/task/*/schedstat, utime + stime where absent) over
exactly the measured frames. The machine (CPU model, cores, load during the
run) and its memcpy bandwidth, measured in the same run, are printed with
the figures; every byte figure is also given as the time one memcpy of it
takes.

Not a test: prints tables and whether each target was met or missed, and
exits 0 whatever the numbers (1 only when a path could not run at all).

    run-link-bench.py [--suite protocol,pixels,damage,input] [--paths direct,waypipe,...]
                      [--repeat R] [--seconds S] [--sizes 1920x1080,3840x2160]
                      [--refresh HZ] [--no-frames] [--markdown]
"""

import argparse
import contextlib
import datetime
import os
import shutil
import subprocess
import sys
import tempfile

from benchlib import (BenchError, LineProcess, Machine, fmt_bytes, fmt_ratio, fmt_value,
                      median, median_ratio, parse_values, print_table, run_to_end)
from benchpaths import PATH_CLASSES, PATH_NAMES, Context, delta
from compositor import Sway

SUITES = ("protocol", "pixels", "damage", "input")
OUTPUT = (3840, 2160)
SQUARE_SIZE = "1920x1080"
SQUARE_CHANGED = 64 * 64 * 4
FOOT_SIZE = "1920x1080"
PACED_LINES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "paced-lines.py")


def parse_args():
    build_root = os.environ.get("VMDESK_BUILD_ROOT", "")
    bench_dir = os.path.join(build_root, "tests/bench")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for tool in ("wl-bench", "shm-bench", "key-bench", "memcpy-bench", "wl-forward",
                 "wl-census"):
        parser.add_argument("--" + tool, default=os.path.join(bench_dir, tool))
    parser.add_argument("--proxy", default=os.environ.get("VMDESK_PROXY", "vmdesk-proxy"))
    parser.add_argument("--guest-wayland",
                        default=os.path.join(build_root, "guest/vmdesk-guest-wayland"))
    parser.add_argument("--waypipe", default="waypipe")
    parser.add_argument("--foot", default="foot")
    parser.add_argument("--suite", default=",".join(SUITES))
    parser.add_argument("--paths", default=",".join(PATH_NAMES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="measured seconds of each shm-bench run")
    parser.add_argument("--sizes", default="1920x1080,3840x2160")
    parser.add_argument("--refresh", type=int, default=1000,
                        help="the output's refresh rate in Hz (headless: at most 1000)")
    parser.add_argument("--roundtrips", type=int, default=10000)
    parser.add_argument("--messages", type=int, default=1000000)
    parser.add_argument("--key-samples", type=int, default=1000)
    parser.add_argument("--foot-lines", type=int, default=20000)
    parser.add_argument("--foot-seconds", type=float, default=2.0,
                        help="foot prints --foot-lines lines evenly over this time")
    parser.add_argument("--no-frames", action="store_true",
                        help="run vmdesk-proxy with --no-frames")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    args.suite = [s for s in args.suite.split(",") if s]
    args.paths = [p for p in args.paths.split(",") if p]
    args.sizes = [s for s in args.sizes.split(",") if s]
    for suite in args.suite:
        if suite not in SUITES:
            parser.error("unknown suite %r (%s)" % (suite, ", ".join(SUITES)))
    for path in args.paths:
        if path not in PATH_CLASSES:
            parser.error("unknown path %r (%s)" % (path, ", ".join(PATH_NAMES)))
    if "direct" not in args.paths:
        parser.error("the direct path is the baseline and cannot be left out")
    if args.repeat < 1 or args.seconds <= 0 or not 1 <= args.refresh <= 1000:
        parser.error("--repeat >= 1, --seconds > 0, --refresh 1..1000")
    return args


def log(msg):
    sys.stderr.write("run-link-bench: %s\n" % msg)
    sys.stderr.flush()


# -- results ------------------------------------------------------------------------

class Samples:
    """Per path and metric, one value per repetition (None where a run had none)."""

    def __init__(self):
        self.data = {}

    def add(self, path, key, value):
        self.data.setdefault(path, {}).setdefault(key, []).append(value)

    def values(self, path, key):
        return self.data.get(path, {}).get(key)

    def value(self, path, key):
        return median(self.values(path, key) or [])

    def ratio(self, a, b, key):
        return median_ratio(self.values(a, key), self.values(b, key))


class Section:
    """One printed table: rows of metrics across the paths, notes and targets."""

    def __init__(self, title, paths, samples):
        self.title = title
        self.paths = paths
        self.samples = samples
        self.metrics = []  # (key, label, formatter, with ratios)
        self.notes = []
        self.targets = []  # (verdict, text)

    def metric(self, key, label, fmt=fmt_value, ratios=True):
        self.metrics.append((key, label, fmt, ratios))

    def ratio_columns(self):
        cols = [(p, "direct") for p in self.paths if p != "direct"]
        if "vmdesk-chain" in self.paths and "waypipe" in self.paths:
            cols.append(("vmdesk-chain", "waypipe"))
        return cols

    def target(self, text, ok, detail):
        verdict = "n/a" if ok is None else ("met" if ok else "MISSED")
        self.targets.append((verdict, "%s (%s)" % (text, detail)))

    def print(self, markdown):
        print(("### " if markdown else "== ") + self.title)
        print()
        cols = self.ratio_columns()
        header = ["metric"] + list(self.paths) + ["%s/%s" % (a, b) for a, b in cols]
        rows = []
        for key, label, fmt, ratios in self.metrics:
            row = [label] + [fmt(self.samples.value(p, key)) for p in self.paths]
            row += [fmt_ratio(self.samples.ratio(a, b, key)) if ratios else ""
                    for a, b in cols]
            if markdown:  # the README's units
                row[0] = row[0].replace("(us)", "(µs)").replace("copy us", "copy µs")
                row = [cell[:-1] + "×" if cell.endswith("x") else cell for cell in row]
            rows.append(row)
        print_table(header, rows, markdown)
        print()
        for verdict, text in self.targets:
            if markdown:
                print("- **%s** %s" % (verdict, text.replace("x)", "×)")))
            else:
                print("%-6s  %s" % (verdict, text))
        if self.targets and self.notes:
            print()
        for note in self.notes:
            print(("- %s" if markdown else "%s") % note)
        print()


class Bandwidth:
    """memcpy bandwidth measured during the run (one sample per repetition)."""

    def __init__(self, args):
        self.args = args
        self.samples = []
        self.best = []

    def measure(self):
        values = run_to_end([self.args.memcpy_bench, "--seconds", "0.3"], None,
                            "memcpy-bench")
        self.samples.append(values["memcpy_median_bytes_per_s"])
        self.best.append(values["memcpy_best_bytes_per_s"])

    def value(self):
        return median(self.samples)

    def copy_us(self, nbytes):
        """Microseconds one memcpy of nbytes takes at the measured bandwidth."""
        bw = self.value()
        if nbytes is None or not bw:
            return None
        return nbytes / bw * 1e6

    def line(self):
        if not self.samples:
            return None
        return ("memcpy bandwidth (one thread, 64 MiB blocks, measured %d times during the run):"
                " median %.1f GB/s, best %.1f GB/s; 'copy us' = bytes / the median"
                % (len(self.samples), self.value() / 1e9, max(self.best) / 1e9))


OPS = {"<": lambda r, x: r < x, "<=": lambda r, x: r <= x, ">": lambda r, x: r > x,
       ">=": lambda r, x: r >= x}


def compare(section, text, a, b, key, op, limit, paths):
    """A target: the ratio a/b of key, compared (op) with limit."""
    if a not in paths or b not in paths:
        section.target(text, None, "%s not run" % (a if a not in paths else b))
        return
    r = section.samples.ratio(a, b, key)
    section.target(text, None if r is None else OPS[op](r, limit),
                   "%s/%s = %s" % (a, b, fmt_ratio(r)))


# -- one client run -----------------------------------------------------------------

def shm_run(ctx, path, mode, size, seconds, warmup=20):
    """One shm-bench run through path; per-frame figures over exactly the measured frames."""
    argv = [ctx.args.shm_bench, mode, size, "--seconds", str(seconds), "--warmup", str(warmup),
            "--sync"]
    proc = LineProcess(argv, path.env(), "shm-bench %s %s through %s" % (mode, size, path.name))
    try:
        line = proc.readline(timeout=60)
        if line != "ready":
            raise BenchError("%s said %r, not ready" % (proc.what, line))
        before = path.snapshot()
        proc.write("go")
        first = proc.readline(timeout=seconds + 60)
        after = path.snapshot()
        values = parse_values(first + "\n" + proc.rest(timeout=30))
    finally:
        proc.stop()
    path.check()
    d = delta(before, after)
    frames = values["frames"]
    out = {
        "fps": values["fps"],
        "frame_p50_us": values["frame_p50_us"],
        "client_cpu_us": values["cpu_s"] * 1e6 / frames,
        "compositor_cpu_us": d["compositor"] * 1e6 / frames,
        "frames": frames,
        "damage_bytes": values["damage_bytes_per_frame"],
    }
    for label, cpu in d["cpu"].items():
        out["%s_cpu_us" % label.split()[0]] = cpu * 1e6 / frames
    if d["cpu"]:
        out["ends_cpu_us"] = sum(d["cpu"].values()) * 1e6 / frames
    if "link_bytes" in d:
        out["link_bytes"] = d["link_bytes"] / frames
        out["link_fds"] = d["link_fds"]
    if "census" in d:
        census = d["census"]
        out["census"] = census
        if census["frames"]:
            out["changed_bytes"] = census["changed_bytes"] / census["frames"]
    return out


# -- suites ---------------------------------------------------------------------------

def open_paths(stack, ctx, names, measure):
    return [stack.enter_context(PATH_CLASSES[n](ctx, measure=measure)) for n in names]


def suite_protocol(ctx, names, bandwidth):
    args = ctx.args
    samples = Samples()
    counts = {"roundtrip": args.roundtrips, "throughput": args.messages}
    with contextlib.ExitStack() as stack:
        paths = open_paths(stack, ctx, names, measure=False)
        for rep in range(args.repeat):
            for mode, count in counts.items():
                for path in paths:
                    before = path.snapshot()
                    values = run_to_end([args.wl_bench, mode, str(count)], path.env(),
                                        "wl-bench %s through %s" % (mode, path.name))
                    d = delta(before, path.snapshot())
                    path.check()
                    for key, value in values.items():
                        if key.startswith(mode):
                            samples.add(path.name, key, value)
                    if mode == "throughput":
                        per_m = 1e3 / (count / 1e6)  # seconds -> ms per 1M requests
                        ends = sum(d["cpu"].values()) if d["cpu"] else None
                        samples.add(path.name, "ends_cpu_ms", ends * per_m if ends else None)
                        samples.add(path.name, "comp_cpu_ms", d["compositor"] * per_m)
                    log("protocol run %d/%d %-13s %-10s %s" % (
                        rep + 1, args.repeat, path.name, mode,
                        " ".join("%s=%g" % (k, v) for k, v in sorted(values.items())
                                 if k.startswith(mode) and isinstance(v, float))))
    sec = Section("Protocol path: %d wl_display.sync round trips, %d wl_region.add requests"
                  % (args.roundtrips, args.messages), names, samples)
    sec.metric("roundtrip_p50_us", "round trip p50 (us)")
    sec.metric("roundtrip_p99_us", "round trip p99 (us)")
    sec.metric("roundtrip_mean_us", "round trip mean (us)")
    sec.metric("throughput_msgs_per_s", "throughput (requests/s)",
               lambda v: fmt_value(v, "msg/s"))
    sec.metric("ends_cpu_ms", "CPU of both ends per 1M requests (ms)")
    sec.metric("comp_cpu_ms", "compositor CPU per 1M requests (ms)")
    for p in ("vmdesk-chain", "vmdesk-socket"):
        if p in names:
            compare(sec, "%s round trip p50 below waypipe's" % p, p, "waypipe",
                    "roundtrip_p50_us", "<", 1, names)
            compare(sec, "%s throughput above waypipe's" % p, p, "waypipe",
                    "throughput_msgs_per_s", ">", 1, names)
    return [sec]


def pixel_section(title, names, samples):
    sec = Section(title, names, samples)
    sec.metric("fps", "frames per second")
    sec.metric("frame_p50_us", "commit to frame callback p50 (us)")
    sec.metric("link_bytes", "link bytes per frame", fmt_bytes)
    sec.metric("link_copy_us", "  copy us (link bytes / memcpy bandwidth)")
    sec.metric("guest_cpu_us", "CPU per frame, guest end (us)")
    sec.metric("host_cpu_us", "CPU per frame, host end (us)")
    sec.metric("ends_cpu_us", "CPU per frame, both ends (us)")
    sec.metric("compositor_cpu_us", "CPU per frame, compositor (us)")
    sec.metric("client_cpu_us", "CPU per frame, client (us)")
    return sec


def add_shm(samples, name, values, keys):
    for key in keys:
        samples.add(name, key, values.get(key))


TIMED_KEYS = ("fps", "frame_p50_us", "guest_cpu_us", "host_cpu_us", "ends_cpu_us",
              "compositor_cpu_us", "client_cpu_us")


def timed_shm(ctx, names, bandwidth, cases):
    """cases: [(key, mode, size)] -> {key: Samples} with every TIMED_KEYS figure."""
    args = ctx.args
    results = {key: Samples() for key, _, _ in cases}
    with contextlib.ExitStack() as stack:
        paths = open_paths(stack, ctx, names, measure=False)
        for rep in range(args.repeat):
            bandwidth.measure()
            for key, mode, size in cases:
                for path in paths:
                    values = shm_run(ctx, path, mode, size, args.seconds)
                    add_shm(results[key], path.name, values, TIMED_KEYS)
                    log("%s run %d/%d %-13s fps=%.1f both-ends=%s us/frame compositor=%.0f"
                        " us/frame" % (key, rep + 1, args.repeat, path.name, values["fps"],
                                       fmt_value(values.get("ends_cpu_us")),
                                       values["compositor_cpu_us"]))
    return results


def fd_note(name, fds):
    return ("%s: %d fds crossed its link, so memory was shared and its link bytes do not"
            " count the pixels (a VM link cannot pass fds)" % (name, fds))


def measured_shm(ctx, names, bandwidth, cases, results):
    """One run per path and case through the counting relays: bytes per frame."""
    notes = {key: [] for key, _, _ in cases}
    with contextlib.ExitStack() as stack:
        paths = open_paths(stack, ctx, names, measure=True)
        for key, mode, size in cases:
            for path in paths:
                values = shm_run(ctx, path, mode, size, min(ctx.args.seconds, 1.0), warmup=10)
                samples = results[key]
                census = values.get("census") or {}
                changed = values.get("changed_bytes")
                link = values.get("link_bytes")
                # One measuring run: the same value stands for every repetition.
                for _ in range(ctx.args.repeat):
                    samples.add(path.name, "changed_bytes", changed)
                    samples.add(path.name, "link_bytes", link)
                    samples.add(path.name, "link_copy_us", bandwidth.copy_us(link))
                    samples.add(path.name, "link_per_changed",
                                link / changed if link is not None and changed else None)
                if values.get("link_fds"):
                    notes[key].append(fd_note(path.name, values["link_fds"]))
                if census.get("unparsed") or census.get("frames") != values["frames"]:
                    notes[key].append("%s: the census saw %d frames of %d (%d requests it"
                                      " could not follow)"
                                      % (path.name, census.get("frames", 0), values["frames"],
                                         census.get("unparsed", 0)))
                log("%s bytes %-13s changed=%s link=%s per frame" % (
                    key, path.name, fmt_bytes(changed), fmt_bytes(link)))
    return notes


def link_notes(section, names):
    linkless = [name for name in names if not PATH_CLASSES[name].has_link]
    if linkless:
        section.notes.append("%s: no link; the pixels reach the compositor in shared memory"
                             % " and ".join(linkless))


def suite_pixels(ctx, names, bandwidth):
    args = ctx.args
    cases = [("full-%s" % size, "full", size) for size in args.sizes]
    results = timed_shm(ctx, names, bandwidth, cases)
    notes = measured_shm(ctx, names, bandwidth, cases, results)
    sections = []
    for key, mode, size in cases:
        w, h = (int(x) for x in size.split("x"))
        frame_bytes = w * h * 4
        sec = pixel_section("Full redraw at %s: every pixel changes every frame (%s per"
                            " frame; one memcpy of it: %s us)"
                            % (size, fmt_bytes(frame_bytes),
                               fmt_value(bandwidth.copy_us(frame_bytes))),
                            names, results[key])
        sec.notes += notes[key]
        link_notes(sec, names)
        for p in ("vmdesk-chain", "vmdesk-socket"):
            if p not in names:
                continue
            compare(sec, "%s fps >= waypipe's" % p, p, "waypipe", "fps", ">=", 1, names)
            compare(sec, "%s fps >= 90%% of direct" % p, p, "direct", "fps", ">=", 0.9, names)
            compare(sec, "%s CPU per frame of both ends below waypipe's" % p, p, "waypipe",
                    "ends_cpu_us", "<", 1, names)
        sections.append(sec)
    return sections


def foot_config(ctx):
    path = os.path.join(ctx.tmp, "foot.ini")
    with open(path, "w") as f:
        f.write("[main]\nfont=monospace:size=10\n[scrollback]\nlines=1000\n")
    return path


def foot_run(ctx, path, config):
    """foot printing --foot-lines lines through path, until it exits."""
    args = ctx.args
    argv = [args.foot, "-c", config, "--window-size-pixels=%s" % FOOT_SIZE,
            "--app-id=foot-bench", sys.executable, PACED_LINES, str(args.foot_lines),
            str(args.foot_seconds)]
    env = path.env(LC_ALL="C.UTF-8")
    before = path.snapshot()
    run_to_end(argv, env, "foot through %s" % path.name, timeout=300)
    after = path.snapshot()
    path.check()
    return delta(before, after)


def suite_damage(ctx, names, bandwidth):
    args = ctx.args
    cases = [("square", "square", SQUARE_SIZE)]
    results = timed_shm(ctx, names, bandwidth, cases)
    notes = measured_shm(ctx, names, bandwidth, cases, results)
    square = pixel_section("One 64x64 square changes per frame in a %s window (%s changed"
                           " per frame)" % (SQUARE_SIZE, fmt_bytes(SQUARE_CHANGED)),
                           names, results["square"])
    square.metrics.insert(2, ("changed_bytes", "changed bytes per frame (census)", fmt_bytes,
                              False))
    square.metrics.insert(5, ("link_per_changed", "  link bytes / changed bytes", fmt_value,
                              False))
    square.notes += notes["square"]
    link_notes(square, names)

    config = foot_config(ctx)
    foot = Samples()
    with contextlib.ExitStack() as stack:
        paths = open_paths(stack, ctx, names, measure=False)
        for rep in range(args.repeat):
            for path in paths:
                d = foot_run(ctx, path, config)
                foot.add(path.name, "seconds", d["seconds"])
                foot.add(path.name, "ends_cpu_ms", sum(d["cpu"].values()) * 1e3
                         if d["cpu"] else None)
                foot.add(path.name, "compositor_cpu_ms", d["compositor"] * 1e3)
                log("foot run %d/%d %-13s %.2f s" % (rep + 1, args.repeat, path.name,
                                                       d["seconds"]))
    foot_notes = []
    with contextlib.ExitStack() as stack:
        paths = open_paths(stack, ctx, names, measure=True)
        for path in paths:
            d = foot_run(ctx, path, config)
            census = d.get("census") or {}
            frames = census.get("frames") or 0
            per = (lambda n: n / frames if frames and n is not None else None)
            link = per(d.get("link_bytes"))
            changed = per(census.get("changed_bytes"))
            for _ in range(args.repeat):
                foot.add(path.name, "frames", frames)
                foot.add(path.name, "changed_bytes", changed)
                foot.add(path.name, "damage_bytes", per(census.get("damage_bytes")))
                foot.add(path.name, "link_bytes", link)
                foot.add(path.name, "link_copy_us", bandwidth.copy_us(link))
                foot.add(path.name, "link_per_changed", link / changed
                         if link is not None and changed else None)
            if d.get("link_fds"):
                foot_notes.append(fd_note(path.name, d["link_fds"]))
            if census.get("unparsed"):
                foot_notes.append("%s: the census could not follow %d of foot's requests"
                                  % (path.name, census["unparsed"]))
            log("foot bytes %-13s frames=%d changed=%s link=%s per frame" % (
                path.name, frames, fmt_bytes(changed), fmt_bytes(link)))
    sec = Section("foot (%s) scrolling: %d lines printed evenly over %g s"
                  % (FOOT_SIZE, args.foot_lines, args.foot_seconds), names, foot)
    sec.metric("seconds", "seconds until foot exits")
    sec.metric("frames", "frames (census run)", lambda v: fmt_value(v, "int"), False)
    sec.metric("changed_bytes", "changed bytes per frame (census)", fmt_bytes, False)
    sec.metric("damage_bytes", "damaged bytes per frame (census)", fmt_bytes, False)
    sec.metric("link_bytes", "link bytes per frame", fmt_bytes, False)
    sec.metric("link_per_changed", "  link bytes / changed bytes", fmt_value, False)
    sec.metric("link_copy_us", "  copy us (link bytes / memcpy bandwidth)", fmt_value, False)
    sec.metric("ends_cpu_ms", "CPU of both ends, whole run (ms)")
    sec.metric("compositor_cpu_ms", "compositor CPU, whole run (ms)")
    sec.notes += foot_notes
    sec.notes.append("frames and bytes per frame come from one run through the counting"
                     " relays: foot draws as often as its output allows, so the frames differ"
                     " by path; 'changed' counts the pixels that differ from the previous"
                     " frame (x4)")
    link_notes(sec, names)
    for s in (square, sec):
        for p in ("vmdesk-chain", "waypipe"):
            if p not in names:
                continue
            if p == "waypipe" and "vmdesk-chain" in names:
                continue
            ratio = s.samples.value(p, "link_per_changed")
            s.target("%s link bytes per frame <= 2x the changed bytes" % p,
                     None if ratio is None else ratio <= 2.0,
                     "%s" % ("n/a" if ratio is None else "%.2fx" % ratio))
        if "vmdesk-chain" in names and "waypipe" in names:
            ratio = s.samples.value("waypipe", "link_per_changed")
            s.notes.append("waypipe, for reference: link bytes / changed bytes = %s"
                           % fmt_value(ratio))
    return [square, sec]


def key_run(ctx, path):
    args = ctx.args
    read_fd, write_fd = os.pipe2(0)
    inject = target = None
    try:
        inject = LineProcess([args.key_bench, "inject", "--report-fd", str(read_fd),
                              "--samples", str(args.key_samples)], ctx.comp.env(),
                             "key-bench inject", pass_fds=[read_fd],
                             stdin=subprocess.DEVNULL)
        line = inject.readline(timeout=30)
        if line != "ready":
            raise BenchError("key-bench inject said %r, not ready" % line)
        target = LineProcess([args.key_bench, "target", "--report-fd", str(write_fd)],
                             path.env(), "key-bench target through %s" % path.name,
                             pass_fds=[write_fd], stdin=subprocess.DEVNULL)
        os.close(read_fd)
        os.close(write_fd)
        read_fd = write_fd = None
        try:
            values = parse_values(inject.rest(timeout=120))
        except BenchError as e:
            if target.proc.poll() is not None:
                raise BenchError("%s\n--- the target (status %s) ---\n%s"
                                 % (e, target.proc.returncode, target.stderr())) from None
            raise
    finally:
        for fd in (read_fd, write_fd):
            if fd is not None:
                os.close(fd)
        for proc in (target, inject):
            if proc is not None:
                proc.stop()
    path.check()
    return values


def suite_input(ctx, names, bandwidth):
    args = ctx.args
    samples = Samples()
    with contextlib.ExitStack() as stack:
        paths = open_paths(stack, ctx, names, measure=False)
        for rep in range(args.repeat):
            for path in paths:
                values = key_run(ctx, path)
                for key in ("p50_us", "p99_us", "mean_us"):
                    samples.add(path.name, key, values[key])
                log("input run %d/%d %-13s p50=%.1f us p99=%.1f us" % (
                    rep + 1, args.repeat, path.name, values["p50_us"], values["p99_us"]))
    sec = Section("Input latency: a key pressed on a virtual keyboard of sway until the"
                  " client receives it (%d keys per run, one at a time)" % args.key_samples,
                  names, samples)
    sec.metric("p50_us", "key latency p50 (us)")
    sec.metric("p99_us", "key latency p99 (us)")
    sec.metric("mean_us", "key latency mean (us)")
    return [sec]


SUITE_FUNCS = {"protocol": suite_protocol, "pixels": suite_pixels, "damage": suite_damage,
               "input": suite_input}


def main():
    args = parse_args()
    for tool in ("wl_bench", "shm_bench", "key_bench", "memcpy_bench", "wl_forward",
                 "wl_census", "proxy"):
        path = getattr(args, tool)
        if not os.access(path, os.X_OK) and shutil.which(path) is None:
            log("not executable: %s" % path)
            return 1
    names, skipped = [], {}
    for name in args.paths:
        reason = PATH_CLASSES[name].unavailable(args)
        if reason is None:
            names.append(name)
        else:
            skipped[name] = reason
            log("%s skipped: %s" % (name, reason))
    started = datetime.datetime.now(datetime.timezone.utc)
    machine = Machine()
    machine.start()
    bandwidth = Bandwidth(args)
    sections = []
    config = "output HEADLESS-1 mode --custom %dx%d@%dHz\n" % (OUTPUT + (args.refresh,))
    try:
        with Sway(width=OUTPUT[0], height=OUTPUT[1], config_extra=config) as comp:
            tmp = tempfile.mkdtemp(prefix="vmdesk-link-bench-")
            try:
                ctx = Context(comp, args, tmp)
                for suite in args.suite:
                    log("suite %s" % suite)
                    sections += SUITE_FUNCS[suite](ctx, names, bandwidth)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except BenchError as e:
        log("error: %s" % e)
        return 1
    if not bandwidth.samples:
        bandwidth.measure()
    machine.finish()

    md = args.markdown
    header = [
        "VM link benchmark (%s), %s; suites: %s; median of %d interleaved runs"
        % (", ".join(names), started.strftime("%Y-%m-%d %H:%M UTC"), ", ".join(args.suite),
           args.repeat),
        "headless sway 1.7, pixman renderer, one %dx%d output at %d Hz; vmdesk-proxy %s"
        % (OUTPUT + (args.refresh, "--no-frames" if args.no_frames else "with frames")),
        "ratios are medians of per-repetition ratios (runs of one repetition are close in"
        " time), so they can differ from the ratio of two medians",
    ] + machine.lines() + [bandwidth.line()]
    header += ["%s skipped: %s" % kv for kv in skipped.items()]
    if md:
        print("  \n".join(header))
    else:
        print("\n".join("# " + line for line in header))
    print()
    for section in sections:
        section.print(md)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
