#!/usr/bin/python3
"""Flow control on one VM link: one client's full-screen uploads against
another client's input latency, both through the same path.

For each path (vmdesk-chain and waypipe by default): key-bench's latency (a
key pressed on a virtual keyboard of sway until the client through the path
receives it) with the link idle, then again while shm-bench redraws every
pixel of a --size window (3840x2160: 33 MB per frame) as fast as it can
through the same link. Printed: p50/p99 of both, the delay the uploads add,
and what one of the uploader's frames takes to cross (1/fps), the bound the
issue sets ("no more than one frame's worth of data").

Not a test: prints, exits 0 whatever the numbers (1 when a path cannot run).

    run-link-flow.py [--paths vmdesk-chain,waypipe] [--size 3840x2160]
                     [--key-samples N] [--refresh HZ]
"""

import argparse
import contextlib
import importlib.util
import os
import sys
import tempfile
import shutil

from benchlib import BenchError, LineProcess, Machine, parse_values
from benchpaths import PATH_CLASSES, Context
from compositor import Sway

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("run_link_bench",
                                               os.path.join(HERE, "run-link-bench.py"))
link_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(link_bench)


def log(text):
    sys.stderr.write("run-link-flow: %s\n" % text)
    sys.stderr.flush()


def parse_args():
    sys.argv, extra = [sys.argv[0]], sys.argv[1:]
    mine = argparse.ArgumentParser(add_help=False)
    mine.add_argument("--size", default="3840x2160")
    mine.add_argument("--flow-paths", dest="paths", default="vmdesk-chain,waypipe")
    ours, rest = mine.parse_known_args(extra)
    sys.argv += rest
    args = link_bench.parse_args()  # the tools' paths, --key-samples, --refresh, ...
    args.flow_size = ours.size
    args.flow_paths = [p for p in ours.paths.split(",") if p]
    return args


@contextlib.contextmanager
def uploader(ctx, path, size):
    """shm-bench full SIZE through path, drawing until the block ends."""
    proc = LineProcess([ctx.args.shm_bench, "full", size, "--seconds", "600", "--warmup", "5",
                        "--sync"], path.env(), "shm-bench full %s through %s" % (size, path.name))
    try:
        line = proc.readline(timeout=60)
        if line != "ready":
            raise BenchError("%s said %r, not ready" % (proc.what, line))
        proc.write("go")
        yield proc
    finally:
        proc.stop()


def fps_of(ctx, path, size):
    values = link_bench.shm_run(ctx, path, "full", size, 3.0, warmup=5)
    return values["fps"]


def main():
    args = parse_args()
    machine = Machine()
    machine.start()
    rows = []
    config = "output HEADLESS-1 mode --custom %dx%d@%dHz\n" % (link_bench.OUTPUT +
                                                               (args.refresh,))
    try:
        with Sway(width=link_bench.OUTPUT[0], height=link_bench.OUTPUT[1],
                  config_extra=config) as comp:
            tmp = tempfile.mkdtemp(prefix="vmdesk-link-flow-")
            try:
                ctx = Context(comp, args, tmp)
                for name in args.flow_paths:
                    reason = PATH_CLASSES[name].unavailable(args)
                    if reason is not None:
                        log("%s skipped: %s" % (name, reason))
                        continue
                    with PATH_CLASSES[name](ctx, measure=False) as path:
                        idle = link_bench.key_run(ctx, path)
                        log("%s idle: p50 %.1f us, p99 %.1f us" % (name, idle["p50_us"],
                                                                  idle["p99_us"]))
                        fps = fps_of(ctx, path, args.flow_size)
                        with uploader(ctx, path, args.flow_size):
                            busy = link_bench.key_run(ctx, path)
                        log("%s uploading: p50 %.1f us, p99 %.1f us (uploads alone: %.1f fps)"
                            % (name, busy["p50_us"], busy["p99_us"], fps))
                        rows.append((name, idle, busy, fps))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except BenchError as e:
        log("error: %s" % e)
        return 1
    machine.finish()
    w, h = (int(x) for x in args.flow_size.split("x"))
    print("Flow control: key latency through a path, idle and while another client of the"
          " same path redraws %s (%.1f MB per frame), %d keys per run" % (
              args.flow_size, w * h * 4 / 1e6, args.key_samples))
    print("%-13s %10s %10s %12s %12s %12s %14s" % ("path", "idle p50", "idle p99",
                                                    "busy p50", "busy p99", "added p99",
                                                    "1 frame (1/fps)"))
    for name, idle, busy, fps in rows:
        frame_us = 1e6 / fps if fps else float("nan")
        added = busy["p99_us"] - idle["p99_us"]
        print("%-13s %8.1fus %8.1fus %10.1fus %10.1fus %10.1fus %12.1fus  %s" % (
            name, idle["p50_us"], idle["p99_us"], busy["p50_us"], busy["p99_us"], added,
            frame_us, "within one frame" if added <= frame_us else "MORE than one frame"))
    for line in machine.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
