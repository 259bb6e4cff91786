#!/usr/bin/env python3
"""Writes seed inputs for fuzz-menu-writer into corpus/fuzz-menu-writer/.

The records (tests/fuzz/fuzz-menu-writer.c): HOSTD frames by their type
(link-gen.h: U32, the exact type; fields left to their first valid value
unless given), RAW bytes. What hostd sends (a list per VM, its end, an
abort, a prune) and what a hostd a VM took over might (a VM nobody defined,
apps without a list, lists that never end, interleaved lists, other
messages of the host set, which the writer does not offer).
"""

import fuzzrec as fr

HOSTD, RAW = range(2)
BEGIN, APP, END, ABORT, PRUNE = range(0x8300, 0x8305)
# link-gen's string samples that pass vm_name: 0 "work", 1 "banking", 2
# "hello" (no definition), 5 "work-2"
WORK, BANKING, UNDEFINED, WORK2 = 0, 1, 2, 5


def header(flags=0):
    return bytes([flags, 0, 0, 0])


def frame(w, type_, shape=0, *fields):
    w.record(HOSTD, fr.u32(type_) + fr.small(0) + fr.small(shape) + b"".join(fields))


def app(w, vm, k, icon=None):
    """An APP of vm: its k-th desktop id, name, ... (samples); icon: (w, h) of pixels."""
    fields = [fr.small(vm), fr.small(k), fr.small(k), fr.small(0), fr.small(0),
              fr.small(k), fr.small(0), fr.small(k)]
    if icon is not None:
        width, height = icon
        fields += [fr.number(width), fr.number(height), fr.number(width * height * 4)]
    frame(w, APP, 0, *fields)


def one_list():
    w = fr.Writer()
    frame(w, BEGIN, 0, fr.small(WORK))
    for k in range(3):
        app(w, WORK, k, icon=(16, 16) if k == 1 else None)
    frame(w, END, 0, fr.small(WORK))
    return header() + w.data


def two_vms_interleaved():
    w = fr.Writer()
    frame(w, BEGIN, 0, fr.small(WORK))
    frame(w, BEGIN, 0, fr.small(BANKING))
    app(w, BANKING, 0, icon=(32, 8))
    app(w, WORK, 1)
    frame(w, BEGIN, 0, fr.small(WORK2))
    app(w, WORK2, 2, icon=(1, 200))
    frame(w, END, 0, fr.small(WORK2))
    frame(w, END, 0, fr.small(BANKING))
    frame(w, ABORT, 0, fr.small(WORK))
    frame(w, PRUNE)
    return header() + w.data


def hostile():
    w = fr.Writer()
    app(w, WORK, 0)  # no list open
    frame(w, END, 0, fr.small(WORK))
    frame(w, BEGIN, 0, fr.small(UNDEFINED))  # a VM name nobody defined
    app(w, UNDEFINED, 0)
    frame(w, END, 0, fr.small(UNDEFINED))
    frame(w, BEGIN, 0, fr.small(WORK))
    frame(w, BEGIN, 0, fr.small(WORK))  # again: replaces the open one
    app(w, WORK, 0, icon=(256, 256))
    app(w, WORK, 0)  # the same id twice
    frame(w, BEGIN, 1, fr.small(WORK))  # header flags set
    w.record(HOSTD, fr.small(0))  # the host set's first client message (not offered)
    return header() + w.data


def raw_start():
    w = fr.Writer()
    w.record(RAW, b"\x00" * 12)
    frame(w, PRUNE)
    return header(1) + w.data


SEEDS = {
    "one-list": one_list(),
    "two-vms-interleaved": two_vms_interleaved(),
    "hostile": hostile(),
    "raw-start": raw_start(),
}

if __name__ == "__main__":
    fr.save_seeds("fuzz-menu-writer", SEEDS)
