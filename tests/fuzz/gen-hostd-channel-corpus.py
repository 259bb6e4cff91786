#!/usr/bin/env python3
"""Writes seed inputs for fuzz-hostd-channel into corpus/fuzz-hostd-channel/.

The records (tests/fuzz/fuzz-hostd-channel.c): GUEST frames by their place
among the messages a guest may send (link-gen.h: SMALL k, fields left to
their first valid value), RAW bytes, CONTROL actions of hostd.
"""
import os

import fuzzrec as fr

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST, RAW, CONTROL = range(3)
(C_RUN, C_RUN_APP, C_ACK, C_SIGNAL, C_INPUT, C_DETACH, C_HANGUP, C_STOP_READING, C_WAIT,
 C_STATUS) = range(10)
TYPES = 12  # more than the guest's messages: k wraps around


def header(flags=0, caps=0):
    return bytes([flags, caps, 0, 0])


def frame(w, k, run=0, shape=0, *fields):
    w.record(GUEST, fr.small(k) + fr.sel(run) + fr.small(shape) + b"".join(fields))


def control(w, op, *values):
    w.record(CONTROL, fr.small(op) + b"".join(values))


def every_message():
    w = fr.Writer()
    for k in range(TYPES):
        frame(w, k)
    control(w, C_STATUS)
    return header() + w.data


def runs():
    w = fr.Writer()
    control(w, C_RUN, fr.small(1))
    control(w, C_RUN_APP, fr.small(1))
    control(w, C_RUN, fr.small(0))
    for run in range(3):
        for k in range(TYPES):
            frame(w, k, run)
    control(w, C_ACK, fr.sel(0), fr.number(4096))
    control(w, C_SIGNAL, fr.sel(0), fr.small(15))
    control(w, C_INPUT, fr.sel(0), fr.blob(b"input\n"), fr.small(1))
    control(w, C_DETACH, fr.sel(1))
    control(w, C_STATUS)
    return header() + w.data


def snapshots():
    w = fr.Writer()
    for _ in range(3):
        for k in range(TYPES):
            frame(w, k, 0, 0, fr.small(3))
            frame(w, k, 0, 0, fr.special(2))
    control(w, C_STATUS)
    return header() + w.data


def flow():
    w = fr.Writer()
    control(w, C_RUN, fr.small(1))
    control(w, C_STOP_READING, fr.small(0))
    for k in range(TYPES):
        frame(w, k, 0, 0, fr.small(1), fr.length(60000))
    control(w, C_STOP_READING, fr.small(1))
    control(w, C_WAIT, fr.small(2))
    control(w, C_HANGUP)
    control(w, C_STATUS)
    return header() + w.data


def hostile():
    w = fr.Writer()
    for k in range(TYPES):
        for shape in (1, 2, 4, 8, 16):
            frame(w, k, 0, shape, fr.special(2))
    w.record(RAW, b"\xff" * 32)
    return header(flags=1, caps=0x80) + w.data


SEEDS = {"every-message": every_message, "runs": runs, "snapshots": snapshots, "flow": flow,
         "hostile": hostile}


def main():
    out = os.path.join(HERE, "corpus", "fuzz-hostd-channel")
    os.makedirs(out, exist_ok=True)
    for name, make in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(make())


if __name__ == "__main__":
    main()
