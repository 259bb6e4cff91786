#!/usr/bin/env python3
"""Writes seed inputs for fuzz-proxy into corpus/fuzz-proxy/.

usage: gen-proxy-corpus.py BUILD_DIR

The inputs are records of tests/fuzz/proxy-harness.h, written with
fuzzrec.py against the protocol tables that BUILD_DIR generated: each seed
is what a real client does (bind the globals, make a window with a shm
buffer, copy and paste, open a popup, ...), with the compositor's answers
the harness does not make by itself, so that the fuzzer starts deep in the
proxy's hooks. The regress-* files next to them are inputs that once found
a bug; they are kept as they are.
"""
import sys

import fuzzrec as fr



class Seed:
    def __init__(self, tables, flags=0):
        self.t = tables
        self.header = fr.proxy_header(flags)
        self.w = fr.Writer()

    def _target(self, iface, k, opname, request):
        i = self.t[iface]
        op, _ = i.request(opname) if request else i.event(opname)
        assert op is not None, (iface, opname)
        return fr.u8(i.index) + fr.sel(k) + (fr.small(op) if op < 32 else fr.u32(op))

    def req(self, iface, opname, *args, k=0, kind=0):
        self.w.record(fr.K_REQUEST | kind, self._target(iface, k, opname, True) + b"".join(args))

    def evt(self, iface, opname, *args, k=0, kind=fr.F_MIRROR):
        self.w.record(fr.K_EVENT | kind, self._target(iface, k, opname, False) + b"".join(args))

    def bind(self, iface, kind=0):
        """wl_registry.bind of the global of that interface, at its version."""
        self.req("wl_registry", "bind", fr.u8(self.t[iface].index), fr.small(0), kind=kind)

    def control(self, op, *args, kind=0):
        self.w.record(fr.K_CONTROL | kind, fr.small(op) + b"".join(args))

    def hostd(self, *values):
        self.w.record(fr.K_HOSTD, b"".join(values))

    def raw(self, data, client=True):
        self.w.record(fr.K_RAW_CLIENT if client else fr.K_RAW_COMPOSITOR, data)

    def data(self):
        return self.header + self.w.data


# the seeds' shorthand (fuzzrec.py)
NEW, NUL, s, n, text = fr.NEW, fr.NUL, fr.sel, fr.number, fr.blob


def start(seed, extra=(), kind=0):
    seed.req("wl_display", "get_registry", NEW, kind=kind)
    seed.req("wl_display", "sync", NEW, kind=kind)
    for iface in ("wl_compositor", "wl_shm", "xdg_wm_base", "wl_seat") + tuple(extra):
        seed.bind(iface, kind=kind)


def window(seed, title="Online Banking", app_id="org.example.App", kind=0, k=0):
    seed.req("wl_compositor", "create_surface", NEW, kind=kind)
    seed.req("xdg_wm_base", "get_xdg_surface", NEW, s(k), kind=kind)
    seed.req("xdg_surface", "get_toplevel", NEW, k=k, kind=kind)
    seed.req("xdg_toplevel", "set_title", text(title), k=k, kind=kind)
    seed.req("xdg_toplevel", "set_app_id", text(app_id), k=k, kind=kind)
    seed.req("wl_surface", "commit", k=k, kind=kind)


def buffer(seed, k=0, width=64, height=48, kind=0):
    # a memfd of the pages needed; create_pool's size: that fd's size (SPECIAL 16)
    pages = (width * height * 4 + 4095) // 4096
    seed.req("wl_shm", "create_pool", NEW, n(pages), fr.special(16), kind=kind)
    seed.req("wl_shm_pool", "create_buffer", NEW, n(0), n(width), n(height), n(width * 4),
             n(0), k=k, kind=kind)
    seed.req("wl_surface", "attach", s(k), n(0), n(0), k=k, kind=kind)
    seed.req("wl_surface", "damage_buffer", n(0), n(0), n(width), n(height), k=k, kind=kind)
    seed.req("wl_surface", "frame", NEW, k=k, kind=kind)
    seed.req("wl_surface", "commit", k=k, kind=kind)


def basic(t):
    seed = Seed(t)
    start(seed, ("wl_subcompositor", "wp_viewporter", "zxdg_decoration_manager_v1",
                 "wl_output"))
    window(seed)
    buffer(seed)
    seed.req("zxdg_decoration_manager_v1", "get_toplevel_decoration", NEW, s(0))
    seed.req("zxdg_toplevel_decoration_v1", "set_mode", n(2))
    seed.req("wp_viewporter", "get_viewport", NEW, s(0))
    seed.req("wp_viewport", "set_destination", n(32), n(24))
    seed.req("xdg_toplevel", "set_fullscreen", NUL)
    seed.req("xdg_toplevel", "set_maximized")
    seed.req("xdg_surface", "set_window_geometry", n(0), n(0), n(64), n(48))
    seed.req("wl_surface", "commit")
    seed.evt("xdg_toplevel", "configure", n(800), n(600), fr.blob(b"\x01\x00\x00\x00"))
    seed.evt("xdg_surface", "configure", s(0), kind=fr.F_MIRROR)
    seed.req("xdg_surface", "ack_configure", s(0))
    seed.req("wl_surface", "commit")
    seed.evt("xdg_toplevel", "close")
    seed.req("xdg_toplevel", "destroy")
    seed.req("xdg_surface", "destroy")
    seed.req("wl_surface", "destroy")
    return seed


def subsurfaces(t):
    seed = Seed(t)
    start(seed, ("wl_subcompositor", "wp_viewporter"))
    window(seed)
    buffer(seed)
    seed.req("wl_compositor", "create_surface", NEW)
    seed.req("wl_subcompositor", "get_subsurface", NEW, s(1), s(0))
    seed.req("wl_subsurface", "set_position", n(-20), n(-20))
    seed.req("wl_subsurface", "set_desync")
    buffer(seed, k=1, width=200, height=200)
    seed.req("wl_compositor", "create_region", NEW)
    seed.req("wl_region", "add", n(0), n(0), n(10), n(10))
    seed.req("wl_surface", "set_input_region", s(0), k=1)
    seed.req("wl_surface", "set_opaque_region", s(0), k=1)
    seed.req("wl_surface", "commit", k=1)
    seed.req("wl_surface", "commit")
    seed.req("wl_subsurface", "destroy")
    seed.req("wl_surface", "commit")
    return seed


def popup(t):
    seed = Seed(t)
    start(seed)
    window(seed)
    buffer(seed)
    seed.req("xdg_wm_base", "create_positioner", NEW)
    seed.req("xdg_positioner", "set_size", n(100), n(50))
    seed.req("xdg_positioner", "set_anchor_rect", n(0), n(0), n(10), n(10))
    seed.req("xdg_positioner", "set_offset", n(-500), n(-500))
    seed.req("wl_compositor", "create_surface", NEW)
    seed.req("xdg_wm_base", "get_xdg_surface", NEW, s(1))
    seed.req("xdg_surface", "get_popup", NEW, s(0), s(0), k=1)
    seed.req("xdg_popup", "grab", s(0), s(0))
    seed.req("wl_surface", "commit", k=1)
    seed.evt("xdg_popup", "configure", n(0), n(0), n(100), n(50))
    seed.evt("xdg_surface", "configure", s(0), k=1)
    seed.req("xdg_surface", "ack_configure", s(0), k=1)
    buffer(seed, k=1, width=100, height=50)
    seed.evt("xdg_popup", "popup_done")
    seed.req("xdg_popup", "destroy")
    return seed


def input_(t):
    seed = Seed(t)
    start(seed, ("zwp_relative_pointer_manager_v1", "zwp_pointer_constraints_v1"))
    window(seed)
    buffer(seed)
    seed.req("wl_seat", "get_keyboard", NEW)
    seed.req("wl_seat", "get_pointer", NEW)
    seed.req("wl_seat", "get_touch", NEW)
    bcast = fr.F_BROADCAST | fr.F_MIRROR
    seed.evt("wl_keyboard", "keymap", n(1), fr.small(1), n(4096), kind=bcast)
    seed.evt("wl_keyboard", "enter", s(0), s(0), fr.blob(b""), kind=bcast)
    seed.evt("wl_keyboard", "key", s(0), n(10), n(30), n(1), kind=bcast)
    seed.evt("wl_keyboard", "modifiers", s(0), n(4), n(0), n(0), n(0), kind=bcast)
    seed.evt("wl_pointer", "enter", s(0), s(0), n(10), n(10), kind=bcast)
    seed.evt("wl_pointer", "motion", n(1), n(12), n(12), kind=bcast)
    seed.evt("wl_pointer", "button", s(0), n(2), n(272), n(1), kind=bcast)
    seed.evt("wl_pointer", "frame", kind=bcast)
    seed.req("wl_pointer", "set_cursor", s(0), NUL, n(0), n(0))
    seed.req("zwp_pointer_constraints_v1", "lock_pointer", NEW, s(0), s(0), NUL, n(1))
    seed.req("zwp_relative_pointer_manager_v1", "get_relative_pointer", NEW, s(0))
    seed.evt("wl_keyboard", "leave", s(0), s(0), kind=bcast)
    seed.evt("wl_pointer", "leave", s(0), s(0), kind=bcast)
    seed.req("wl_keyboard", "release")
    return seed


def input_frame(t):
    """Pointer and touch on the frame's own surfaces (the proxy's strips: a
    press there moves the window) and on the client's, whose coordinates
    the proxy shifts."""
    seed = Seed(t)
    start(seed)
    window(seed)
    buffer(seed)
    seed.req("wl_seat", "get_pointer", NEW)
    seed.req("wl_seat", "get_touch", NEW)
    bcast = fr.F_BROADCAST | fr.F_MIRROR
    comp = fr.F_BROADCAST  # surfaces from the compositor's view: the frame's too
    for k in range(6):  # the client's surface, then the frame's
        seed.evt("wl_pointer", "enter", s(0), s(k), n(10), n(4), kind=comp)
        seed.evt("wl_pointer", "motion", n(1), n(12), n(3), kind=bcast)
        seed.evt("wl_pointer", "button", s(0), n(2), n(0x110), n(1), kind=bcast)
        seed.evt("wl_pointer", "axis", n(3), n(0), n(10), kind=bcast)
        seed.evt("wl_pointer", "frame", kind=bcast)
        seed.evt("wl_pointer", "leave", s(0), s(k), kind=comp)
        seed.evt("wl_touch", "down", s(0), n(4), s(k), n(k), n(5), n(5), kind=comp)
        seed.evt("wl_touch", "motion", n(5), n(k), n(6), n(6), kind=bcast)
        seed.evt("wl_touch", "up", s(0), n(6), n(k), kind=bcast)
        seed.evt("wl_touch", "frame", kind=bcast)
    seed.evt("wl_touch", "down", s(0), n(7), s(1), n(9), n(5), n(5), kind=comp)
    seed.evt("wl_touch", "cancel", kind=bcast)
    seed.req("wl_pointer", "release")
    seed.req("wl_touch", "release")
    return seed


def focused_window(seed, extra):
    """A window with a buffer whose client's keyboard has focus; returns the
    flags of events to every keyboard (one serial for all)."""
    start(seed, extra)
    window(seed)
    buffer(seed)
    bcast = fr.F_BROADCAST | fr.F_MIRROR
    seed.req("wl_seat", "get_keyboard", NEW)
    seed.evt("wl_keyboard", "enter", s(0), s(0), fr.blob(b""), kind=bcast)
    return bcast


def clipboard(t):
    seed = Seed(t)
    bcast = focused_window(seed, ("wl_data_device_manager",
                                  "zwp_primary_selection_device_manager_v1"))
    seed.req("wl_data_device_manager", "get_data_device", NEW, s(0))
    seed.req("wl_data_device_manager", "create_data_source", NEW)
    seed.req("wl_data_source", "offer", text("text/plain;charset=utf-8"))
    seed.req("wl_data_source", "offer", text("UTF8_STRING"))
    seed.req("wl_data_device", "set_selection", s(0), s(0))
    seed.control(fr.C_SEND_DATA, n(200))
    seed.control(fr.C_CLOSE_SEND)
    seed.req("zwp_primary_selection_device_manager_v1", "get_device", NEW, s(0))
    seed.req("zwp_primary_selection_device_manager_v1", "create_source", NEW)
    seed.req("zwp_primary_selection_source_v1", "offer", text("text/plain"))
    seed.req("zwp_primary_selection_device_v1", "set_selection", s(0), s(0))
    # the host's selection arrives: an offer to the proxy's own devices
    seed.evt("wl_data_device", "data_offer", NEW, kind=fr.F_BROADCAST)
    seed.evt("wl_data_offer", "offer", text("text/plain"), kind=fr.F_BROADCAST)
    seed.evt("wl_data_device", "selection", s(0), kind=fr.F_BROADCAST)
    seed.control(fr.C_WAIT, n(1))
    seed.req("wl_data_offer", "receive", text("text/plain"), fr.special(2))
    seed.req("wl_data_source", "destroy")
    seed.req("wl_data_device", "release")
    seed.evt("wl_keyboard", "leave", s(0), s(0), kind=bcast)
    return seed


def hostd(t):
    """The global clipboard's link: the proxy's client, hostd's frames."""
    seed = Seed(t)
    start(seed, ("wl_data_device_manager",))
    window(seed)
    bcast = fr.F_BROADCAST | fr.F_MIRROR
    seed.req("wl_seat", "get_keyboard", NEW)
    seed.evt("wl_keyboard", "enter", s(0), s(0), fr.blob(b""), kind=bcast)
    seed.req("wl_data_device_manager", "get_data_device", NEW, s(0))
    seed.req("wl_data_device_manager", "create_data_source", NEW)
    seed.req("wl_data_source", "offer", text("text/plain"))
    seed.req("wl_data_device", "set_selection", s(0), s(0))
    for kind in range(5):
        for shape in (0, 0, 16):
            seed.hostd(fr.small(kind), fr.sel(0), fr.small(shape))
    seed.control(fr.C_SEND_DATA, n(64), fr.small(1))
    seed.control(fr.C_HOSTD_RAW, fr.blob(b"\x00" * 24))
    seed.control(fr.C_HOSTD_HANGUP)
    seed.control(fr.C_WAIT, n(2))
    return seed


# the host set's frames hostd sends a proxy (protocols/link.xml)
CLIP_COPY_REQUEST, CLIP_PASTE_REQUEST = 0x8102, 0x8104


def global_clipboard(t):
    """Copy to the global clipboard and paste from it: hostd asks for the VM's
    selection (the proxy reads it from the client's source), then pastes into
    the VM (the proxy owns the selection and writes it to a client)."""
    seed = Seed(t)
    bcast = focused_window(seed, ("wl_data_device_manager",
                                  "zwp_primary_selection_device_manager_v1"))
    seed.evt("wl_keyboard", "key", s(0), n(10), n(30), n(1), kind=bcast)
    seed.req("wl_data_device_manager", "get_data_device", NEW, s(0))
    seed.req("wl_data_device_manager", "create_data_source", NEW)
    seed.req("wl_data_source", "offer", text("text/plain;charset=utf-8"))
    seed.req("wl_data_device", "set_selection", s(0), s(0))
    # copy: max_size, timeout_ms, mimes
    seed.hostd(fr.u32(CLIP_COPY_REQUEST), n(5), fr.small(0), n(4096), n(1000), fr.small(1),
               fr.blob(b"text/plain;charset=utf-8"))
    seed.control(fr.C_SEND_DATA, n(200))
    seed.control(fr.C_WAIT, n(1))
    # paste: mimes, data
    seed.hostd(fr.u32(CLIP_PASTE_REQUEST), n(6), fr.small(0), fr.small(1),
               fr.blob(b"text/plain;charset=utf-8"), fr.blob(b"pasted from the global clipboard"))
    seed.req("wl_data_offer", "receive", text("text/plain;charset=utf-8"), fr.special(2))
    seed.req("wl_data_offer", "receive", text("text/plain"), fr.special(2))
    seed.control(fr.C_WAIT, n(1))
    # a copy that times out, a copy too large, a paste nobody reads
    seed.hostd(fr.u32(CLIP_COPY_REQUEST), n(7), fr.small(0), n(16), n(1), fr.small(1),
               fr.blob(b"text/plain;charset=utf-8"))
    seed.control(fr.C_WAIT, n(2))
    seed.hostd(fr.u32(CLIP_COPY_REQUEST), n(8), fr.small(0), n(16), n(1000), fr.small(1),
               fr.blob(b"text/plain;charset=utf-8"))
    seed.control(fr.C_SEND_DATA, n(100))
    seed.req("wl_data_source", "destroy")
    seed.hostd(fr.u32(CLIP_COPY_REQUEST), n(9), fr.small(0), n(4096), n(1000), fr.small(1),
               fr.blob(b"text/plain"))
    seed.evt("wl_keyboard", "leave", s(0), s(0), kind=bcast)
    seed.hostd(fr.u32(CLIP_PASTE_REQUEST), n(10), fr.small(0), fr.small(1),
               fr.blob(b"text/plain"), fr.blob(b"while not focused"))
    return seed


def two_clients(t):
    seed = Seed(t)
    start(seed, ("wl_data_device_manager",))
    start(seed, ("wl_data_device_manager",), kind=fr.F_SESSION)
    window(seed)
    window(seed, title="\x1b]0;evil\x07 [work] Mail", kind=fr.F_SESSION)
    buffer(seed, kind=fr.F_SESSION)
    seed.control(fr.C_CLIENT_READING, n(0))
    for _ in range(8):
        seed.req("wl_display", "sync", NEW)
    seed.control(fr.C_CLIENT_READING, n(1))
    seed.control(fr.C_CLIENT_HANGUP, kind=fr.F_SESSION)
    seed.control(fr.C_COMPOSITOR_HANGUP)
    return seed


def hostile(t):
    seed = Seed(t, flags=0x80)  # small limits
    start(seed)
    window(seed)
    # a pool larger than its fd, a buffer past the pool, a stride that lies
    seed.req("wl_shm", "create_pool", NEW, fr.small(1), fr.special(18))
    seed.req("wl_shm", "create_pool", NEW, fr.small(1), fr.special(16))
    seed.req("wl_shm_pool", "create_buffer", NEW, n(4000), n(64), n(64), n(256), n(0), k=1)
    seed.req("wl_shm_pool", "resize", fr.special(3), k=1)
    seed.req("wl_surface", "attach", s(0), n(0), n(0))
    seed.req("wl_surface", "commit")
    # an object that does not exist, a destroyed one, a version too new
    seed.w.record(fr.K_REQUEST | fr.F_EXACT, fr.u8(0) + fr.u32(999) + fr.small(0))
    seed.req("wl_registry", "bind", fr.u8(t["wl_compositor"].index), fr.special(3))
    seed.raw(b"\x01\x00\x00\x00\x0c\x00\x00\x00\x02\x00\x00\x00")
    return seed


def upstream(t):
    """A compositor that misbehaves: unknown objects, events too new, garbage."""
    seed = Seed(t, flags=0x10)  # the compositor answers nothing by itself
    start(seed)
    window(seed)
    seed.evt("wl_registry", "global", n(99), text("wl_compositor"), n(1000), kind=0)
    seed.evt("wl_registry", "global_remove", n(1), kind=0)
    seed.w.record(fr.K_EVENT | fr.F_EXACT, fr.u8(0) + fr.u32(0xff000100) + fr.small(0))
    seed.raw(b"\x01\x00\x00\x00\x0c\x00\x01\x00\x05\x00\x00\x00", client=False)
    seed.raw(b"\xff" * 16, client=False)
    return seed


SEEDS = {
    "basic": basic, "subsurfaces": subsurfaces, "popup": popup, "input": input_,
    "input-frame": input_frame,
    "clipboard": clipboard, "hostd": hostd, "global-clipboard": global_clipboard,
    "two-clients": two_clients,
    "hostile": hostile, "upstream": upstream,
}


if __name__ == "__main__":
    sys.exit(fr.write_seeds(sys.argv, "fuzz-proxy", SEEDS))
