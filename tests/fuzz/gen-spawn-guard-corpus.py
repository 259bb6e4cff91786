#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-spawn-guard (tests/fuzz/fuzz-spawn-guard.c):
adoptions of processes that run a known command (a program's argv, a
script's after its interpreter), a VMM's program whose definition changed
(with a socket in the run directory, a script with and without its
interpreter's argument), and of others (the program outside vmdesk, sleep,
an argument glued onto a command, no NULs at all, nothing); spawns of known
commands, with an environment, unknown or detaching flags, an argument
more, one without its NUL.

Byte 0: bit 0 spawn, bits 1-2 the environment's size, bits 3-7 the flags;
byte 1: the exe (0 a known command's program, 1 python3, 2 sleep, 3 sh);
then tokens: 0 LEN BYTES (literal), 1 K (known command K whole), 2 (the
run directory and '/'), 3 (a NUL).

    tests/fuzz/gen-spawn-guard-corpus.py [CORPUS_DIR]
"""

import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
out = os.path.join(root, "fuzz-spawn-guard")

KNOWN_EXE, PYTHON, SLEEP, SH = 0, 1, 2, 3
SEARCH_PATH, DETACH, CHDIR_HOME, PIDFD = 1, 2, 4, 8


def lit(b):
    assert len(b) < 256
    return bytes([0, len(b)]) + b


def known(k):
    return bytes([1, k])


RUN = bytes([2])
NUL = bytes([3])


def adopt(exe, *tokens):
    return bytes([0, exe]) + b"".join(tokens)


def spawn(*tokens, env=0, flags=PIDFD | SEARCH_PATH):
    return bytes([1 | (env << 1) | (flags << 3), 0]) + b"".join(tokens)


seeds = {}
for k in range(8):
    seeds["adopt-known-%d" % k] = adopt(KNOWN_EXE, known(k))
    seeds["spawn-known-%d" % k] = spawn(known(k))
seeds["adopt-script"] = adopt(PYTHON, lit(b"/usr/bin/python3\0"), known(2))
seeds["adopt-changed-vmm"] = adopt(KNOWN_EXE, lit(b"/bin/true\0-m\0004096\0-chardev\0path="),
                                   RUN, lit(b"work/control.sock,server=on"), NUL)
seeds["adopt-changed-script"] = adopt(PYTHON, lit(b"/usr/bin/python3\0/bin/true\0-m\0"), RUN,
                                      lit(b"work/agent.sock"), NUL)
seeds["adopt-changed-script-interp-arg"] = adopt(SH, lit(b"/bin/sh\0-e\0/bin/true\0"), RUN,
                                                 lit(b"work/x"))
seeds["adopt-outside-vmdesk"] = adopt(KNOWN_EXE, lit(b"/bin/true\0-m\0004096\0"))
seeds["adopt-beside-run-dir"] = adopt(KNOWN_EXE, lit(b"/bin/true\0"), RUN, lit(b"x"))
seeds["adopt-sleep-naming-run-dir"] = adopt(SLEEP, lit(b"sleep\00060\0"), RUN, lit(b"work/s"))
seeds["adopt-glued"] = adopt(SH, lit(b"sh\0-c\0x"), known(2))
seeds["adopt-no-nul"] = adopt(KNOWN_EXE, lit(b"/bin/true"))
seeds["adopt-nothing"] = adopt(KNOWN_EXE)
seeds["adopt-only-nuls"] = adopt(KNOWN_EXE, NUL, NUL, NUL)
seeds["spawn-with-env"] = spawn(known(2), env=1)
seeds["spawn-detached"] = spawn(known(2), flags=DETACH | SEARCH_PATH)
seeds["spawn-unknown-flag"] = spawn(known(2), flags=16)
seeds["spawn-argument-more"] = spawn(known(2), lit(b"-S\0"))
seeds["spawn-no-nul"] = spawn(lit(b"/bin/true"))

os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(seeds), out))
