#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-agent-wire: one file per message kind, valid
and broken. Run it from anywhere; it writes next to itself."""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agentproto as p  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz-agent-wire")

SEEDS = {
    "hello": p.hello(),
    "hello-bad-magic": p.frame(p.HELLO, struct.pack("<IHHI", 1, 1, 1, 7) + p.s16("x")),
    "error": p.error(3, 3, "no such program"),
    "run": p.run(["sh", "-c", "echo hi"], flags=1, env=[("LANG", "C.UTF-8"), ("TZ", "UTC")]),
    "run-bad-env": p.run(["true"], env=[("LD_PRELOAD", "/x.so")]),
    "run-app": p.frame(p.RUN_APP, struct.pack("<I", 0) + p.s16("org.example.App.desktop"), 4),
    "started-output-exit": p.run_started(1, 42) + p.run_output(1, 1, b"out\n")
    + p.run_output(1, 2, b"\xff\x00err") + p.run_exit(1, 0, 3) + p.run_exit(2, 1, 9),
    "signal": p.frame(p.SIGNAL, struct.pack("<I", 15), 1),
    "run-ack": p.frame(p.RUN_ACK, struct.pack("<I", 65536), 1)
    + p.frame(p.RUN_ACK, struct.pack("<I", 0), 1),
    "apps": p.apps_begin(2) + p.app("a.desktop", "A", "Gen", "Comment", "Utility;", "a", "A")
    + p.app("b.desktop", "B", png=p.tiny_png(2, 3), width=2, height=3) + p.apps_end(),
    "app-lying-icon": p.app("c.desktop", "C", png=p.tiny_png(4, 4), width=8, height=8),
    "app-bad-id": p.app("../x.desktop", "X"),
    "app-bad-utf8": p.app("d.desktop", b"\xc0\xaf"),
    "idle": p.idle(1, 300),
    "ctl": p.frame(p.CTL_RUN, p.s16("work") + struct.pack("<IH", 1, 1) + p.s16("true")
                   + struct.pack("<H", 0)) + p.frame(p.CTL_LIST)
    + p.frame(p.CTL_STATUS, p.s16("work")) + p.frame(p.CTL_TEXT, struct.pack("<I", 3) + b"a\tb")
    + p.frame(p.CTL_SIGNAL, struct.pack("<I", 2)),
    "oversize": p.frame(p.APP, b"", length=p.MAX_PAYLOAD + 1),
    "truncated": p.hello()[:-3],
    "unknown-type": p.frame(0x1000, b"abc"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
