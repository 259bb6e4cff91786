#!/usr/bin/env python3
"""Writes seed inputs for fuzz-proxy-vm-link into corpus/fuzz-proxy-vm-link/.

usage: gen-proxy-vm-link-corpus.py BUILD_DIR

The inputs are records of tests/fuzz/fuzz-proxy-vm-link.c, written with
fuzzrec.py against the protocol tables that BUILD_DIR generated: what the
guest's vmdesk-guest-wayland sends for its clients (channels opened, the
clients' requests as WL_DATA with their pools and pipes, buffer contents
before a commit, pool updates), with the compositor's answers the harness
does not make by itself, and a few hostile links (a broken frame, a channel
cut mid-message, limits, a guest that stops answering). The files named by
a hash next to them are inputs of a campaign (libFuzzer's -merge=1, then
the fewest that keep its edges); regression-* files are inputs that once
found a bug. Both are kept as they are.
"""
import sys

import fuzzrec as fr


# the seeds' shorthand (fuzzrec.py)
NEW, NUL, s, n, text = fr.NEW, fr.NUL, fr.sel, fr.number, fr.blob


class Seed:
    def __init__(self, tables, flags=0, vm_flags=0):
        self.t = tables
        self.header = fr.vm_header(flags, vm_flags=vm_flags)
        self.w = fr.Writer()
        self.channel = 0  # the k-th open channel the next records go to

    def _target(self, iface, k, opname, request):
        i = self.t[iface]
        op, _ = i.request(opname) if request else i.event(opname)
        assert op is not None, (iface, opname)
        return fr.u8(i.index) + fr.sel(k) + (fr.small(op) if op < 32 else fr.u32(op))

    def req(self, iface, opname, *args, k=0, kind=0):
        self.w.record(fr.VK_REQUEST | kind, fr.sel(self.channel) +
                      self._target(iface, k, opname, True) + b"".join(args))

    def evt(self, iface, opname, *args, k=0, kind=fr.F_MIRROR):
        self.w.record(fr.VK_EVENT | kind, fr.sel(self.channel) +
                      self._target(iface, k, opname, False) + b"".join(args))

    def bind(self, iface):
        self.req("wl_registry", "bind", fr.u8(self.t[iface].index), fr.small(0))

    def op(self, op, *args, channel=None):
        which = fr.sel(self.channel if channel is None else channel)
        self.w.record(fr.VK_CHANNEL, fr.small(op) + which + b"".join(args))

    def open(self):
        self.w.record(fr.VK_CHANNEL, fr.small(fr.OP_OPEN))

    def control(self, op, *args):
        self.w.record(fr.VK_CONTROL, fr.small(op) + b"".join(args))

    def frame(self, *values):
        self.w.record(fr.VK_FRAME, b"".join(values))

    def raw(self, data):
        self.w.record(fr.VK_RAW_LINK, data)

    def data(self):
        return self.header + self.w.data


def start(seed, extra=()):
    seed.req("wl_display", "get_registry", NEW)
    seed.req("wl_display", "sync", NEW)
    for iface in ("wl_compositor", "wl_shm", "xdg_wm_base", "wl_seat") + tuple(extra):
        seed.bind(iface)


def window(seed, title="Online Banking", k=0):
    seed.req("wl_compositor", "create_surface", NEW)
    seed.req("xdg_wm_base", "get_xdg_surface", NEW, s(k))
    seed.req("xdg_surface", "get_toplevel", NEW, k=k)
    seed.req("xdg_toplevel", "set_title", text(title), k=k)
    seed.req("wl_surface", "commit", k=k)
    seed.evt("xdg_surface", "configure", s(0), k=k)
    seed.req("xdg_surface", "ack_configure", s(0), k=k)


def buffer(seed, k=0, width=64, height=48):
    # the pool's fd: a memfd of the pages needed (WL_POOL); its size as create_pool's
    pages = (width * height * 4 + 4095) // 4096
    seed.req("wl_shm", "create_pool", NEW, n(pages), fr.special(16))
    seed.req("wl_shm_pool", "create_buffer", NEW, n(0), n(width), n(height), n(width * 4),
             n(0), k=k)
    seed.req("wl_surface", "attach", s(k), n(0), n(0), k=k)
    seed.req("wl_surface", "damage_buffer", n(0), n(0), n(width), n(height), k=k)
    seed.req("wl_surface", "frame", NEW, k=k)
    seed.req("wl_surface", "commit", k=k)  # the buffer's rows go first (WL_POOL_DATA)


def toplevel(t):
    """A client makes a toplevel with an shm buffer and commits."""
    seed = Seed(t)
    seed.open()
    start(seed, ("wl_output",))
    window(seed)
    buffer(seed)
    seed.evt("xdg_toplevel", "configure", n(800), n(600), fr.blob(b"\x01\x00\x00\x00"))
    seed.evt("xdg_surface", "configure", s(0))
    seed.req("xdg_surface", "ack_configure", s(0))
    seed.req("wl_surface", "attach", s(0), n(0), n(0))
    seed.req("wl_surface", "damage_buffer", n(0), n(0), n(8), n(8))
    seed.req("wl_surface", "commit")
    seed.evt("xdg_toplevel", "close")
    seed.req("xdg_toplevel", "destroy")
    seed.op(fr.OP_CLOSE)
    return seed


def channels(t):
    """Several clients at once; one leaves, one more comes."""
    seed = Seed(t)
    for c in range(3):
        seed.open()
        seed.channel = c
        start(seed)
        window(seed, title="client %d" % c)
    seed.channel = 1
    buffer(seed)
    seed.op(fr.OP_CLOSE, channel=0)
    seed.open()
    seed.channel = 2
    start(seed)
    seed.req("wl_seat", "get_keyboard", NEW)  # a keymap: WL_FILE
    seed.evt("wl_keyboard", "key", n(1), n(10), n(30), n(1), kind=fr.F_BROADCAST | fr.F_MIRROR)
    seed.channel = 0
    buffer(seed, width=32, height=32)
    return seed


def pools(t):
    """Pool contents: rows (whole and in two writes), diffs, copies, discards, growth."""
    seed = Seed(t)
    seed.open()
    start(seed)
    window(seed)
    buffer(seed, width=128, height=64)
    seed.op(fr.OP_POOL_DATA, s(0), fr.small(0), fr.small(2), fr.small(3), fr.small(4))
    seed.op(fr.OP_POOL_DATA, s(0), fr.small(0), n(512), n(64), n(512), fr.small(1))
    seed.op(fr.OP_POOL_DIFF, s(0), fr.small(0), fr.small(1), fr.small(2), fr.small(3),
            fr.small(1))
    seed.op(fr.OP_POOL_COPY, s(0), s(0), fr.small(0), fr.small(1), fr.small(4), fr.small(8))
    seed.op(fr.OP_POOL_DISCARD, s(0), fr.small(0), fr.small(1))
    seed.op(fr.OP_POOL_DISCARD, s(0), n(100), n(5000))  # parts of pages
    seed.req("wl_shm_pool", "resize", n(65536))  # WL_POOL_RESIZE first
    seed.req("wl_shm_pool", "create_buffer", NEW, n(32768), n(64), n(64), n(256), n(0))
    seed.req("wl_surface", "attach", s(1), n(0), n(0))
    seed.req("wl_surface", "commit")
    seed.op(fr.OP_POOL_RESIZE, s(0), fr.small(3))
    seed.op(fr.OP_POOL_DATA, s(0), n(0x7fff0000), n(64))  # outside the pool
    seed.open()
    seed.channel = 1
    start(seed)
    buffer(seed)
    seed.req("wl_shm_pool", "destroy")  # WL_POOL_SEALED after it
    seed.op(fr.OP_POOL_FREE, s(0))
    seed.open()
    seed.channel = 2
    start(seed)
    buffer(seed)
    seed.req("wl_shm_pool", "destroy")
    seed.op(fr.OP_POOL_RESIZE, s(0))  # a sealed pool grows
    seed.open()
    seed.channel = 2
    start(seed)
    buffer(seed)
    seed.op(fr.OP_POOL_RESIZE, s(0), n(4096))  # a pool shrinks
    return seed


def close_mid(t):
    """A client's last message cut short, then WL_CLOSE; data after the close."""
    seed = Seed(t)
    seed.open()
    start(seed)
    window(seed)
    seed.op(fr.OP_CLOSE_MID, fr.small(5))
    seed.open()
    seed.channel = 0
    start(seed)
    seed.frame(fr.small(3), s(0))  # WL_DATA on the closed channel
    return seed


def broken(t):
    """A broken frame: the proxy resynchronises, shakes hands again, channels start over."""
    seed = Seed(t)
    seed.open()
    start(seed)
    window(seed)
    seed.raw(b"\x10\x00\x00\x00\x12\x10\x00\x00\x01\x00\x00\x00" + b"\xff" * 8)
    seed.raw(b"\xff" * 24)
    seed.open()
    start(seed)
    window(seed)
    seed.frame(fr.u32(0x1012), s(0), fr.small(2))  # a length one too long
    seed.frame(fr.u32(0x1fff), s(0))  # a type the set lacks
    seed.open()
    start(seed)
    return seed


def clipboard(t):
    """Pipes: a receive (the guest's write end), a send (the host's), their data."""
    seed = Seed(t)
    seed.open()
    start(seed, ("wl_data_device_manager",))
    window(seed)
    bcast = fr.F_BROADCAST | fr.F_MIRROR
    seed.req("wl_seat", "get_keyboard", NEW)
    seed.evt("wl_keyboard", "enter", s(0), s(0), fr.blob(b""), kind=bcast)
    seed.req("wl_data_device_manager", "get_data_device", NEW, s(0))
    seed.req("wl_data_device_manager", "create_data_source", NEW)
    seed.req("wl_data_source", "offer", text("text/plain;charset=utf-8"))
    seed.req("wl_data_device", "set_selection", s(0), s(0))
    seed.evt("wl_data_source", "send", text("text/plain;charset=utf-8"), fr.special(1))
    seed.op(fr.OP_PIPE_DATA, s(0), text("hello from the guest"))
    seed.evt("wl_data_device", "data_offer", NEW, kind=fr.F_BROADCAST)
    seed.evt("wl_data_offer", "offer", text("text/plain"), kind=fr.F_BROADCAST)
    seed.evt("wl_data_device", "selection", s(0), kind=fr.F_BROADCAST)
    seed.req("wl_data_offer", "receive", text("text/plain"), fr.special(1))
    seed.op(fr.OP_PIPE_CLOSE, s(1))
    seed.control(fr.VC_WAIT, n(1))
    return seed


def limits(t):
    """Small limits: a channel refused, pools over their number and mirror, windows full."""
    seed = Seed(t, vm_flags=fr.V_FEW | fr.V_SMALL_WINDOW | fr.V_NO_ACK)
    for c in range(3):
        seed.open()
    seed.channel = 0
    start(seed)
    window(seed)
    buffer(seed, width=256, height=256)
    buffer(seed, width=16, height=16)
    buffer(seed, width=16, height=16)
    for _ in range(20):
        seed.req("wl_display", "sync", NEW)
    seed.op(fr.OP_ACK, n(100000))
    return seed


def timeout(t):
    """A guest that stops answering pings, then a restart and a link the guest hangs up."""
    seed = Seed(t, vm_flags=fr.V_SHORT_TIMEOUT | fr.V_NO_PONG)
    seed.open()
    start(seed)
    for _ in range(4):
        seed.control(fr.VC_WAIT, n(2))
    seed.open()
    start(seed)
    seed.control(fr.VC_RESTART)
    seed.open()
    start(seed)
    seed.control(fr.VC_PONG)
    seed.control(fr.VC_LIMITS)
    seed.control(fr.VC_LINK_READING, n(0))
    seed.req("wl_display", "sync", NEW)
    seed.control(fr.VC_LINK_READING, n(1))
    seed.control(fr.VC_LINK_HANGUP)
    seed.open()
    start(seed)
    return seed


def dial(t):
    """The proxy dials the guest's unix: address (the carrier of every transport)."""
    seed = Seed(t, vm_flags=fr.V_DIAL | fr.V_NO_CONTENTS)
    seed.open()
    start(seed)
    window(seed)
    buffer(seed)
    seed.control(fr.VC_COMPOSITOR_HANGUP, s(0))
    return seed


def frames(t):
    """Frames of every type the guest may send, from the tables, some broken."""
    seed = Seed(t, vm_flags=fr.V_NO_LIMITS)
    seed.control(fr.VC_LIMITS)
    seed.open()
    start(seed)
    for kind in range(16):
        seed.frame(fr.small(kind), s(kind % 2))
    seed.frame(fr.special(0), s(0))  # a message of the host's
    seed.frame(fr.small(3), s(0), fr.small(1))  # header flags set
    return seed


def hostile(t):
    """Data after a WL_CLOSE, garbage in WL_DATA, the guest's own ERROR, broken diffs."""
    seed = Seed(t)
    seed.open()
    start(seed)
    window(seed)
    buffer(seed)
    seed.op(fr.OP_POOL_DIFF, s(0), n(0), n(0x7ffff000), fr.small(1))  # a run outside the pool
    seed.open()
    seed.channel = 1
    start(seed)
    buffer(seed)
    seed.op(fr.OP_POOL_DIFF, s(0), n(0), fr.blob(b"\x80\x80\x80"))  # a malformed diff
    seed.open()
    seed.channel = 2
    start(seed)
    buffer(seed, width=256, height=16)
    # rows apart, in two writes: read whole, then copied row by row
    seed.op(fr.OP_POOL_DATA, s(0), fr.small(0), n(256), fr.small(3), n(512), fr.small(1))
    # WL_DATA after the client's WL_CLOSE, before the host ended the channel
    seed.w.record(fr.VK_CHANNEL | fr.F_BATCH, fr.small(fr.OP_CLOSE) + fr.sel(0))
    seed.frame(fr.u32(0x1012), fr.u32(3), fr.small(0), fr.length(12))
    seed.open()
    seed.channel = 0
    start(seed)
    # frames of 64 KiB of bytes that are no Wayland messages, at once
    for i in range(5):
        seed.w.record(fr.VK_FRAME | (fr.F_BATCH if i < 4 else 0),
                      fr.u32(0x1012) + fr.u32(4) + fr.small(0) + fr.length(65535))
    seed.frame(fr.u32(0x0002), fr.small(0), fr.small(0), fr.small(1), fr.small(0))  # ERROR
    return seed


def fds(t):
    """Fds past the limit in flight, a keymap too large to carry, a device as a pipe."""
    seed = Seed(t, flags=0x80, vm_flags=fr.V_FEW)  # 8 fds; 256 KiB of mirror per pool
    seed.open()
    start(seed, ("wl_data_device_manager",))
    window(seed)
    buffer(seed, width=300, height=300)  # more mirror than the pool may have
    seed.open()
    seed.channel = 1
    start(seed, ("wl_data_device_manager",))
    for i in range(10):
        seed.w.record(fr.VK_REQUEST | fr.F_BATCH, fr.sel(1) + seed._target(
            "wl_shm", 0, "create_pool", True) + NEW + fr.small(1) + fr.special(16))
    seed.channel = 0
    seed.req("wl_seat", "get_keyboard", NEW)
    seed.evt("wl_keyboard", "keymap", n(1), n(2000000), n(2000000),
             kind=fr.F_BROADCAST | fr.F_MIRROR)
    seed.req("wl_data_device_manager", "create_data_source", NEW)
    seed.req("wl_data_source", "offer", text("text/plain"))
    seed.evt("wl_data_source", "send", text("text/plain"), fr.special(4))
    return seed


SEEDS = {
    "toplevel": toplevel, "channels": channels, "pools": pools, "close-mid": close_mid,
    "broken": broken, "clipboard": clipboard, "limits": limits, "timeout": timeout,
    "dial": dial, "frames": frames, "hostile": hostile, "fds": fds,
}


if __name__ == "__main__":
    sys.exit(fr.write_seeds(sys.argv, "fuzz-proxy-vm-link", SEEDS))
