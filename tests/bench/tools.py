#!/usr/bin/python3
"""The link benchmark's instruments count what they claim (TAP; no timing).

wl-census must count exactly the pixels a client changes, and wl-forward
--count exactly the bytes and fds that cross it; shm-bench draws known
amounts (every pixel of every frame, or one 64x64 square), and wl-bench
throughput sends requests of a known size.

    tools.py [--bench-dir BUILD/tests/bench]
"""

import argparse
import os
import subprocess
import sys
import tempfile

import tap
from benchlib import read_counters, run_to_end
from compositor import Sway, stop_process, wait_for

CENSUS_KEYS = ("messages", "frames", "changed_bytes", "damage_bytes", "buffer_bytes",
               "unparsed", "other_buffers", "connections")
LINK_KEYS = ("to_upstream", "to_client", "connections", "fds")
W, H = 320, 240
REGION_ADD_BYTES = 8 + 4 * 4  # header + x, y, width, height

suite = tap.Suite()
state = {}


class Relay:
    """wl-census or wl-forward --count in front of the compositor."""

    def __init__(self, comp, argv_for, keys):
        self.dir = tempfile.mkdtemp(prefix="bench-tools-")
        self.socket = os.path.join(self.dir, "relay.sock")
        self.counters = os.path.join(self.dir, "counters")
        self.keys = keys
        self.comp = comp
        self.proc = subprocess.Popen(argv_for(self.socket, comp.display, self.counters),
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def __enter__(self):
        wait_for(lambda: os.path.exists(self.socket), timeout=10, what="the relay's socket")
        return self

    def __exit__(self, *exc):
        stop_process(self.proc)
        return False

    def env(self, **extra):
        return self.comp.env(WAYLAND_DISPLAY=self.socket, **extra)

    def read(self):
        assert self.proc.poll() is None, "the relay died"
        return dict(zip(self.keys, read_counters(self.counters, len(self.keys))))


def census(comp):
    return Relay(comp, lambda s, up, c: [state["dir"] + "/wl-census", s, up, c], CENSUS_KEYS)


def counter(comp):
    return Relay(comp, lambda s, up, c: [state["dir"] + "/wl-forward", "--count", c, s, up],
                 LINK_KEYS)


def shm_bench(relay, mode, frames, warmup):
    return run_to_end([state["dir"] + "/shm-bench", mode, "%dx%d" % (W, H), "--frames",
                       str(frames), "--warmup", str(warmup), "--seconds", "60"], relay.env(),
                      "shm-bench %s" % mode, timeout=60)


@suite.test
def census_counts_every_pixel_of_a_full_redraw():
    with census(state["comp"]) as relay:
        values = shm_bench(relay, "full", 30, 5)
        c = relay.read()
    frames = 35
    assert values["frames"] == 30, values
    frame = W * H * 4
    assert c["frames"] == frames, c
    assert c["changed_bytes"] == frames * frame, c
    assert c["damage_bytes"] == frames * frame, c
    assert c["buffer_bytes"] == frames * frame, c
    assert c["unparsed"] == 0 and c["other_buffers"] == 0 and c["connections"] == 1, c


@suite.test
def census_counts_only_the_square():
    with census(state["comp"]) as relay:
        shm_bench(relay, "square", 40, 0)
        c = relay.read()
    frame, square = W * H * 4, 64 * 64 * 4
    assert c["frames"] == 40, c
    # The first frame is all new; after it only the square changes, even when a
    # second buffer is painted whole (and damaged whole) for the first time.
    assert c["changed_bytes"] == frame + 39 * square, c
    # Each buffer is damaged whole once (when first painted), then only the square.
    whole, rest = divmod(c["damage_bytes"] - 40 * square, frame - square)
    assert rest == 0 and whole in (2, 3, 4), c
    assert c["unparsed"] == 0, c


@suite.test
def census_follows_foot():
    with census(state["comp"]) as relay:
        run_to_end(["foot", "--app-id=bench-tools", "sh", "-c", "seq 1 500; sleep 0.3"],
                   relay.env(LC_ALL="C.UTF-8"), "foot", timeout=60)
        c = relay.read()
    assert c["frames"] >= 1 and c["changed_bytes"] > 0, c
    assert c["unparsed"] == 0, c
    assert c["changed_bytes"] <= c["buffer_bytes"], c


@suite.test
def counter_counts_request_bytes():
    n = 20000
    with counter(state["comp"]) as relay:
        values = run_to_end([state["dir"] + "/wl-bench", "throughput", str(n)], relay.env(),
                            "wl-bench throughput")
        c = relay.read()
    assert values["throughput_n"] == n
    # The requests, plus the registry, a bind, create_region, two syncs and a destroy.
    assert n * REGION_ADD_BYTES < c["to_upstream"] < n * REGION_ADD_BYTES + 1024, c
    assert c["to_client"] > 0 and c["connections"] == 1 and c["fds"] == 0, c


@suite.test
def counter_counts_fds():
    with counter(state["comp"]) as relay:
        values = shm_bench(relay, "square", 10, 0)
        c = relay.read()
    # One pool per buffer, each passed once.
    assert c["fds"] == values["buffers"], (c, values)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench-dir", default=os.path.join(
        os.environ.get("VMDESK_BUILD_ROOT", "build"), "tests/bench"))
    args = parser.parse_args()
    state["dir"] = os.path.abspath(args.bench_dir)
    with Sway() as comp:
        state["comp"] = comp
        failed = suite.run(exit=False)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
