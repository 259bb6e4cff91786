#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-spawner (tests/fuzz/fuzz-spawner.c): the
spawner's requests (protocols/spawner-private.h) as vmdesk-hostd sends them
(spawns with fds and an environment, signals, start times, adoptions,
several in one stream) and as a hostd a VM took over might (a size of 0 or past the cap,
more strings than counted, an environment entry without a name, fds that
do not match the mask, unknown types and flags). Byte 0 of an input is the
number of fds that go with the first bytes.

    tests/fuzz/gen-spawner-corpus.py [CORPUS_DIR]
"""

import os
import struct
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
out = os.path.join(root, "fuzz-spawner")

SPAWN, SIGNAL, START_TIME, ADOPT = 1, 2, 3, 4
PIDFD, SEARCH_PATH, DETACH, CHDIR_HOME = 1, 2, 4, 8


def request(type_, flags=0, argc=0, envc=0, fd_mask=0, inherit_mask=0, pid=0, signo=0,
            size=None, strings=b""):
    if size is None:
        size = len(strings)
    return struct.pack("<IIIIIIiiI", type_, flags, argc, envc, fd_mask, inherit_mask, pid,
                       signo, size) + strings


def spawn(argv, env=(), flags=PIDFD | SEARCH_PATH, fd_mask=0, inherit_mask=0, **kw):
    strings = b"".join(a.encode() + b"\0" for a in list(argv) + list(env))
    return request(SPAWN, flags, len(argv), len(env), fd_mask, inherit_mask, strings=strings,
                   **kw)


QEMU = ["qemu-system-x86_64", "-name", "work,process=vmdesk-work", "-m", "2048",
        "-chardev", "socket,id=console,path=/run/user/1000/vmdesk/vms/work/console.sock,"
        "server=on,wait=off", "-serial", "chardev:console"]

SEEDS = {
    # what hostd sends: a VMM with stdout and stderr on its log
    "vmm": (2, spawn(QEMU, fd_mask=6)),
    "menu": (0, spawn(["/usr/bin/update-desktop-database", "-q",
                       "/home/u/.local/share/applications"], flags=PIDFD)),
    "guestd-run": (3, spawn(["sh", "-c", "echo hi"], env=["LANG=C.UTF-8", "A=b=c"],
                           flags=SEARCH_PATH | DETACH | CHDIR_HOME, fd_mask=7)),
    "inherit": (1, spawn(["true"], fd_mask=1, inherit_mask=6)),
    "signal": (0, request(SIGNAL, 1, pid=1234, signo=15)),
    "start-time": (0, request(START_TIME, pid=1)),
    # a VMM a previous hostd left (its pid: often one that runs, a kernel
    # thread, or none)
    "adopt": (0, request(ADOPT, pid=2) + request(ADOPT, pid=7) + request(ADOPT, pid=300)),
    "stream": (2, spawn(QEMU, fd_mask=6) + request(SIGNAL, pid=42, signo=9) +
               request(START_TIME, pid=42) + spawn(["true"])),
    # what a hostd a VM took over may send
    "size-zero": (0, request(SPAWN, argc=1, size=0)),
    "size-past-cap": (0, request(SPAWN, argc=1, size=(4 << 20) + 1)),
    "size-short": (0, request(SPAWN, argc=1, size=100, strings=b"sh\0")),
    "more-strings": (0, request(SPAWN, argc=1, strings=b"a\0b\0c\0")),
    "no-nul": (0, request(SPAWN, argc=1, strings=b"sh")),
    "env-no-name": (0, request(SPAWN, argc=1, envc=1, strings=b"sh\0=x\0")),
    "env-no-eq": (0, request(SPAWN, argc=1, envc=1, strings=b"sh\0PATH\0")),
    "argc-zero": (0, request(SPAWN, argc=0, strings=b"sh\0")),
    "fds-not-masked": (3, spawn(["true"], fd_mask=1)),
    "mask-overlap": (1, spawn(["true"], fd_mask=1, inherit_mask=1)),
    "flags-unknown": (0, spawn(["true"], flags=0x100)),
    "signal-range": (0, request(SIGNAL, pid=-1, signo=65)),
    "signal-fds": (1, request(SIGNAL, pid=1, signo=0)),
    "start-time-zero": (0, request(START_TIME, pid=0)),
    "adopt-init": (0, request(ADOPT, pid=1) + request(ADOPT, pid=-1)),
    "adopt-fds": (2, request(ADOPT, pid=2)),
    "type-unknown": (0, request(9)),
    "cut-header": (0, request(SPAWN)[:20]),
}


def main():
    os.makedirs(out, exist_ok=True)
    for name, (nfds, data) in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([nfds]) + data)
    print("%d seeds in %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main()
