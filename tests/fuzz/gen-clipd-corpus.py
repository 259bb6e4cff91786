#!/usr/bin/env python3
"""Writes seed inputs for fuzz-clipd into corpus/fuzz-clipd/.

The records (tests/fuzz/fuzz-clipd.c): FRAMEs of a peer (a proxy or a
command) by their message type (U32), RAW bytes, CONTROL actions; the
kind byte's bits 2-3 name the peer (0-3). Strings are given exactly.
"""
import fuzzrec as fr

FRAME, RAW, CONTROL = range(3)
C_CONNECT, C_HANGUP, C_STOP_READING, C_WAIT, C_OP_TIMEOUT = range(5)
# protocols/link.xml, the host set
JOIN, FOCUS, COPY_REPLY, PASTE_REPLY, COMMAND = 0x8100, 0x8101, 0x8103, 0x8105, 0x8106
VM_WINDOWS = 0x8200
CTL_LIST = 0x8003
COPY, PASTE, SHOW, CLEAR = range(4)  # clip_op entries by place (SMALL k)
OK, EMPTY, DENIED, TOO_LARGE, INVALID = range(5)  # clip_status by place
P_NONE, P_RULES, P_STRICT, P_HOST = range(4)
EXISTS = 4


def header(policy=P_NONE, flags=0):
    return bytes([policy | flags, 0, 0, 0])


def frame(w, peer, type_, req=0, shape=0, *fields):
    w.record(FRAME | peer << 2, fr.u32(type_) + fr.sel(req) + fr.small(shape) + b"".join(fields))


def control(w, peer, op, *values):
    w.record(CONTROL | peer << 2, fr.small(op) + b"".join(values))


def join(w, peer, vm, focused=True):
    frame(w, peer, JOIN, 0, 0, fr.blob(vm))
    frame(w, peer, VM_WINDOWS, 0, 0, fr.number(2))
    if focused:
        frame(w, peer, FOCUS, 0, 0, fr.number(1))


def command(w, peer, op, domain=b""):
    frame(w, peer, COMMAND, 0, 0, fr.small(op), fr.blob(domain))


def copy_reply(w, peer, data, mime=b"text/plain;charset=utf-8", status=OK, text=b""):
    frame(w, peer, COPY_REPLY, 0, 0, fr.small(status), fr.blob(mime), fr.blob(data),
          fr.blob(text))


def paste_reply(w, peer, status=OK, text=b""):
    frame(w, peer, PASTE_REPLY, 0, 0, fr.small(status), fr.blob(text))


def copy_paste(policy):
    """work copies into the global clipboard, banking pastes it."""
    def make():
        w = fr.Writer()
        join(w, 0, b"work")
        command(w, 1, COPY)
        copy_reply(w, 0, b"an account number from work")
        command(w, 1, SHOW)
        join(w, 2, b"banking")
        command(w, 3, PASTE)
        paste_reply(w, 2)
        command(w, 1, SHOW)
        return header(policy, EXISTS) + w.data
    return make


def by_name():
    """Commands that name the domain; a VM nobody knows; the host."""
    w = fr.Writer()
    join(w, 0, b"untrusted", focused=False)
    command(w, 1, COPY, b"untrusted")
    copy_reply(w, 0, b"x" * 2000)
    command(w, 1, PASTE, b"host")
    command(w, 1, COPY, b"nosuchvm")
    command(w, 1, PASTE, b"work")
    command(w, 1, CLEAR)
    command(w, 1, SHOW)
    return header(P_HOST, EXISTS) + w.data


def refusals():
    """Replies nobody waits for, a second proxy of a VM, bad types and text."""
    w = fr.Writer()
    join(w, 0, b"work")
    join(w, 1, b"work")  # refused: busy
    copy_reply(w, 0, b"unasked")
    paste_reply(w, 0)
    command(w, 2, COPY)
    copy_reply(w, 0, b"\xff\xfe not text", mime=b"image/png")
    command(w, 2, COPY)
    copy_reply(w, 0, b"ok", status=DENIED, text=b"the user said no")
    command(w, 2, COPY)
    copy_reply(w, 0, b"\x1b[31mred\x00nul")
    command(w, 3, PASTE)
    paste_reply(w, 0, status=INVALID, text=b"line\nbreak")
    frame(w, 0, CTL_LIST)  # a capability the clipboard does not offer
    frame(w, 0, COMMAND, 0, 0, fr.small(COPY))  # a proxy sends a command
    return header(P_RULES) + w.data


def timeouts():
    """An operation that times out; peers that hang up or stop reading."""
    w = fr.Writer()
    join(w, 0, b"work")
    command(w, 1, COPY)
    control(w, 1, C_OP_TIMEOUT)
    copy_reply(w, 0, b"too late")
    command(w, 2, COPY)
    control(w, 0, C_HANGUP)
    control(w, 3, C_STOP_READING, fr.small(0))
    command(w, 3, SHOW)
    control(w, 3, C_WAIT, fr.small(2))
    control(w, 3, C_STOP_READING, fr.small(1))
    control(w, 0, C_CONNECT, fr.number(0x100))  # no HELLO
    control(w, 0, C_WAIT, fr.small(2))
    return header(P_STRICT) + w.data


def hostile():
    """Broken frames of every shape, raw bytes, a silent peer."""
    w = fr.Writer()
    for type_ in (JOIN, FOCUS, COPY_REPLY, PASTE_REPLY, COMMAND, VM_WINDOWS):
        for shape in (1, 2, 4, 8, 16):
            frame(w, 0, type_, 0, shape, fr.special(2), fr.special(1))
            control(w, 0, C_CONNECT)
    w.record(RAW | 1 << 2, b"\xff" * 32)
    frame(w, 2, JOIN, 0, 0, fr.blob(b"../etc"))
    frame(w, 2, JOIN, 0, 0, fr.special(2))
    frame(w, 3, COPY_REPLY, 0, 0, fr.small(OK), fr.blob(b"text/plain"), fr.length(60000))
    return header(P_RULES, EXISTS) + w.data


SEEDS = {"copy-paste": copy_paste(P_NONE), "copy-paste-rules": copy_paste(P_RULES),
         "copy-paste-strict": copy_paste(P_STRICT), "by-name": by_name, "refusals": refusals,
         "timeouts": timeouts, "hostile": hostile}


if __name__ == "__main__":
    fr.save_seeds("fuzz-clipd", {name: make() for name, make in SEEDS.items()})
