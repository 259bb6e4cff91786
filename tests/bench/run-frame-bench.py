#!/usr/bin/python3
"""What VM frames cost: commit-to-frame-callback time, with and without frames.

On one headless sway, runs frame-bench (a window that redraws on every
frame callback, and one that also resizes on every frame) three ways:

    direct     frame-bench -> sway
    frames     frame-bench -> vmdesk-proxy (frames drawn) -> sway
    no-frames  frame-bench -> vmdesk-proxy --no-frames -> sway

and prints p50/p99 of commit-to-frame-callback time, the proxy's CPU time
per frame, and the ratio frames/no-frames (the target: under 1.10, with no
added round trip). A headless output repaints at 60 Hz, so times are near
16.7 ms whatever the path: the ratio and the CPU time are the signal.
Benchmarks are not tests: exit status 0 whatever the numbers.

    run-frame-bench.py [--frame-bench PATH] [--proxy PATH] [--frames N] [--repeat R]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

from compositor import Sway

CONFIGS = ("direct", "frames", "no-frames")


def parse_args():
    build_root = os.environ.get("VMDESK_BUILD_ROOT", "")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frame-bench",
                        default=os.path.join(build_root, "tests/bench/frame-bench"))
    parser.add_argument("--proxy", default=os.environ.get("VMDESK_PROXY", "vmdesk-proxy"))
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    return parser.parse_args()


def parse_line(text):
    values = {}
    for word in text.split():
        key, _, value = word.partition("=")
        values[key] = value
    return values


def proxy_cpu_ms(pid):
    """utime + stime of a process, from /proc (read before it exits)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def run_once(args, comp, config, mode):
    env = comp.env()
    argv = [args.frame_bench, mode, str(args.frames)]
    if config == "direct":
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError("frame-bench failed: %s" % out.stderr)
        return parse_line(out.stdout), None
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "bench.sock")
        proxy_argv = [args.proxy, "--vm", "bench", "--color", "green", "--log-level", "error",
                      "--display", comp.display, "--socket", sock]
        if config == "no-frames":
            proxy_argv.insert(1, "--no-frames")
        proxy = subprocess.Popen(proxy_argv, env=env, stderr=subprocess.DEVNULL)
        try:
            comp.wait_for(lambda: os.path.exists(sock), timeout=10, what="the proxy socket")
            before = proxy_cpu_ms(proxy.pid)
            env["WAYLAND_DISPLAY"] = sock
            out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
            cpu = proxy_cpu_ms(proxy.pid) - before
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)
        if out.returncode != 0:
            raise RuntimeError("frame-bench through the proxy failed: %s" % out.stderr)
        return parse_line(out.stdout), cpu


def main():
    args = parse_args()
    results = {(c, m): [] for c in CONFIGS for m in ("redraw", "resize")}
    with Sway() as comp:
        for _ in range(args.repeat):
            for mode in ("redraw", "resize"):
                for config in CONFIGS:
                    values, cpu = run_once(args, comp, config, mode)
                    results[(config, mode)].append((float(values["p50_us"]),
                                                    float(values["p99_us"]), cpu))
    print("frame-bench, %d frames x %d runs (medians), headless sway 60 Hz" % (
        args.frames, args.repeat))
    print("%-8s %-10s %12s %12s %16s" % ("mode", "path", "p50 (us)", "p99 (us)",
                                         "proxy CPU/frame"))
    for mode in ("redraw", "resize"):
        p50 = {}
        for config in CONFIGS:
            rows = results[(config, mode)]
            p50[config] = statistics.median(r[0] for r in rows)
            p99 = statistics.median(r[1] for r in rows)
            cpus = [r[2] for r in rows if r[2] is not None]
            cpu = ("%.1f us" % (statistics.median(cpus) * 1000.0 / args.frames)
                   if cpus else "n/a")
            print("%-8s %-10s %12.1f %12.1f %16s" % (mode, config, p50[config], p99, cpu))
        ratio = p50["frames"] / p50["no-frames"]
        print("%-8s frames/no-frames p50 = %.3f (%s: under 1.10)" % (
            mode, ratio, "PASS" if ratio < 1.10 else "MISS"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
