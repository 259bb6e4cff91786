#!/usr/bin/env python3
"""Writes seed inputs for fuzz-hostd-channel into corpus/fuzz-hostd-channel/.

The records (tests/fuzz/fuzz-hostd-channel.c): GUEST frames by their place
among the messages a guest may send (link-gen.h: SMALL k, fields left to
their first valid value), RAW bytes, CONTROL actions of hostd.
"""
import fuzzrec as fr

GUEST, RAW, CONTROL = range(3)
(C_RUN, C_RUN_APP, C_ACK, C_SIGNAL, C_INPUT, C_DETACH, C_HANGUP, C_STOP_READING, C_WAIT,
 C_STATUS) = range(10)
# the guest's messages after HELLO (k = 0; a second one ends the link):
# ERROR, RUN_STARTED, RUN_OUTPUT, RUN_EXIT, RUN_INPUT_ACK, APPS_BEGIN, APP,
# APPS_END, IDLE
TYPES = range(1, 10)
(ERROR, RUN_STARTED, RUN_OUTPUT, RUN_EXIT, RUN_INPUT_ACK, APPS_BEGIN, APP, APPS_END,
 IDLE) = TYPES


def header(flags=0, caps=0):
    return bytes([flags, caps, 0, 0])


def frame(w, k, run=0, shape=0, *fields):
    w.record(GUEST, fr.small(k) + fr.sel(run) + fr.small(shape) + b"".join(fields))


def control(w, op, *values):
    w.record(CONTROL, fr.small(op) + b"".join(values))


def every_message():
    w = fr.Writer()
    for k in TYPES:
        frame(w, k)
    control(w, C_STATUS)
    return header() + w.data


def runs():
    w = fr.Writer()
    control(w, C_RUN, fr.small(1))  # waits for the exit
    control(w, C_RUN_APP, fr.small(1))
    control(w, C_RUN, fr.small(0))
    for run in range(3):
        frame(w, RUN_STARTED, run)
        frame(w, RUN_OUTPUT, run, 0, fr.small(0), fr.small(20))
        control(w, C_ACK, fr.sel(run), fr.number(20))
        control(w, C_INPUT, fr.sel(run), fr.blob(b"input\n"), fr.small(0))
        frame(w, RUN_INPUT_ACK, run)
        control(w, C_SIGNAL, fr.sel(run), fr.small(15))
    control(w, C_DETACH, fr.sel(1))
    frame(w, RUN_EXIT, 0)
    frame(w, ERROR, 2)
    control(w, C_STATUS)
    return header() + w.data


def snapshots():
    w = fr.Writer()
    for generation in range(3):
        frame(w, APPS_BEGIN, 0, 0, fr.number(generation), fr.number(3))
        for i in range(3):
            frame(w, APP, 0, 0, fr.small(i), fr.small(i))
        frame(w, APPS_END, 0, 0, fr.number(generation))
        frame(w, IDLE, 0, 0, fr.small(generation & 1), fr.number(60))
    control(w, C_RUN_APP, fr.small(1))
    control(w, C_RUN_APP, fr.small(5))
    control(w, C_STATUS)
    return header() + w.data


def flow():
    w = fr.Writer()
    control(w, C_RUN, fr.small(1))
    control(w, C_STOP_READING, fr.small(0))
    for k in TYPES:
        frame(w, k, 0, 0, fr.small(1), fr.length(60000))
    control(w, C_STOP_READING, fr.small(1))
    control(w, C_WAIT, fr.small(2))
    control(w, C_HANGUP)
    control(w, C_STATUS)
    return header() + w.data


def hostile():
    w = fr.Writer()
    for k in range(12):
        for shape in (1, 2, 4, 8, 16):
            frame(w, k, 0, shape, fr.special(2))
    w.record(RAW, b"\xff" * 32)
    return header(flags=1, caps=0x80) + w.data


SEEDS = {"every-message": every_message, "runs": runs, "snapshots": snapshots, "flow": flow,
         "hostile": hostile}


if __name__ == "__main__":
    fr.save_seeds("fuzz-hostd-channel", {name: make() for name, make in SEEDS.items()})
