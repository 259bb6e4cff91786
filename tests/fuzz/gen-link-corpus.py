#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz-link-* targets (tests/fuzz/fuzz-link.c)
with the generated link codec (the Wayland set's targets too): for each direction, every message that role
sends, as one stream and as single frames, plus broken streams (oversize,
flags, truncated, garbage before SYNC, a role's message from the wrong side).
The first byte of an input is the read piece size minus one.

    PYTHONPATH=BUILD/protocols tests/fuzz/gen-link-corpus.py [CORPUS_DIR]
"""

import os
import struct
import sys

import vdlink as v

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")

PNG_FREE_ICON = bytes(range(256)) * (4 * 4 * 4 // 256 + 1)

SAMPLES = {
    "hello": dict(magic=v.MAGIC, set=1, min_version=1, max_version=1, max_frame=65536, caps=7,
                  nonce=5, peer_nonce=0, software="seed"),
    "error": dict(code=v.ERROR_CODE_NOT_FOUND, message="no such program"),
    "run": dict(flags=3, argv=["sh", "-c", "echo hi"], env=[("LANG", "C.UTF-8")]),
    "run_app": dict(flags=1, app_id="foot.desktop"),
    "run_started": dict(pid=4242),
    "run_output": dict(stream=1, data=b"hello\n"),
    "run_exit": dict(kind=1, value=15),
    "signal": dict(signo=15),
    "run_ack": dict(bytes=4096),
    "run_input": dict(eof=1, data=b"input"),
    "run_input_ack": dict(bytes=5),
    "apps_begin": dict(generation=1, count=1),
    "app": dict(id="foot.desktop", name="Foot", generic_name="Terminal", comment="",
                categories="System;TerminalEmulator;", icon_name="foot", wm_class="foot",
                icon_width=4, icon_height=4, icon=PNG_FREE_ICON[:64]),
    "apps_end": dict(generation=1),
    "menu_app": dict(vm="work", id="foot.desktop", name="Foot", generic_name="Terminal",
                     comment="", categories="System;TerminalEmulator;", icon_name="foot",
                     wm_class="foot", icon_width=4, icon_height=4, icon=PNG_FREE_ICON[:64]),
    "idle": dict(idle=1, seconds=300),
    "notify": dict(flags=1, app_name="mail", summary="New mail", body="From: a\nHi",
                   actions=[("default", ""), ("reply", "Reply")], urgency=1,
                   category="email.arrived", expire_ms=5000, image_width=2, image_height=2,
                   image=PNG_FREE_ICON[:16]),
    "notify_close": dict(),
    "notify_closed": dict(reason=2),
    "notify_action": dict(key="reply"),
    "notify_caps": dict(caps=3),
    "tray_item": dict(item_id="nm-applet", title="Network", category=3, status=2,
                      tooltip_title="Wired", tooltip_body="Connected\n10.0.0.2",
                      item_is_menu=0, has_menu=1),
    "tray_icon": dict(kind=1, width=2, height=2, data=PNG_FREE_ICON[:16]),
    "tray_menu": dict(items=[(1, 0, 1, 7, 0, 0, "Open", 1, 1, PNG_FREE_ICON[:4]),
                             (2, 1, 1, 3, 1, 1, "Check", 0, 0, b""),
                             (3, 0, 2, 2, 0, 0, "", 0, 0, b"")]),
    "tray_remove": dict(),
    "tray_event": dict(kind=4, delta=0xFFFFFF88),
    "tray_menu_event": dict(menu_id=2, event=1),
    "ctl_run": dict(vm="work", flags=1, argv=["true"], env=[]),
    "ctl_run_app": dict(vm="work", flags=0, app_id="foot.desktop"),
    "ctl_apps": dict(vm="work"),
    "ctl_list": dict(),
    "ctl_status": dict(vm="work-2"),
    "ctl_text": dict(text="work\tconnected\n"),
    "ctl_signal": dict(signo=2),
    "ctl_started": dict(pid=7),
    "ctl_output": dict(stream=2, data=b"err"),
    "ctl_exit": dict(kind=0, value=3),
    "ctl_input": dict(eof=0, data=b"x"),
    "ctl_input_ack": dict(bytes=1),
    "ctl_start": dict(vm="work", flags=2, timeout_s=300),
    "ctl_stop": dict(vm="work", flags=1),
    "ctl_console": dict(vm="work"),
    "ctl_progress": dict(text="VMM started (0.1 s)"),
    "clip_join": dict(vm="banking"),
    "clip_focus": dict(focused=1),
    "clip_copy_request": dict(max_size=1048576, timeout_ms=2000,
                              mimes=["text/plain;charset=utf-8", "TEXT"]),
    "clip_copy_reply": dict(status=0, mime="TEXT", data=b"copied", text=""),
    "clip_paste_request": dict(mimes=["UTF8_STRING"], data=b"pasted"),
    "clip_paste_reply": dict(status=2, text="denied by policy"),
    "clip_command": dict(command=1, domain="host"),
    "clip_command_reply": dict(status=0, text="Copied 6 bytes"),
    "vm_windows": dict(count=2),
    "menu_begin": dict(vm="work"),
    "menu_end": dict(vm="work"),
    "menu_abort": dict(vm="banking"),
    "menu_prune": dict(),
    "menu_done": dict(changed=1),
    "wl_limits": dict(window=262144, pipe_window=65536, max_channels=256, max_pools=256,
                      pool_mirror=1 << 28, vm_mirror=1 << 29),
    "wl_ping": dict(seq=7),
    "wl_pong": dict(seq=7),
    "wl_open": dict(),
    "wl_close": dict(reason="closed by the host"),
    "wl_data": dict(data=bytes.fromhex("01000000 01000c00 02000000".replace(" ", ""))),
    "wl_ack": dict(bytes=12),
    "wl_pool": dict(pool=1, size=65536),
    "wl_pool_resize": dict(pool=1, size=131072),
    "wl_pool_sealed": dict(pool=1),
    "wl_pool_discard": dict(pool=1, offset=4096, length=4096),
    "wl_pool_free": dict(pool=1),
    "wl_pool_data": dict(pool=1, offset=64, stride=256, width=16, data=b"\x11" * 48),
    "wl_pool_diff": dict(pool=1, offset=0, data=bytes([1, 1]) + b"abcd" + bytes([2, 2])
                         + b"efghijkl"),
    "wl_pool_copy": dict(src_pool=1, src_offset=0, src_stride=256, dst_pool=1,
                         dst_offset=4096, dst_stride=256, width=256, rows=4),
    "wl_pipe": dict(pipe=3, end=v.PIPE_END_WRITE),
    "wl_pipe_data": dict(pipe=3, data=b"text/plain contents"),
    "wl_pipe_ack": dict(pipe=3, bytes=19),
    "wl_pipe_close": dict(pipe=3),
    "wl_file": dict(contents=b"xkb_keymap { };\n"),
}

DIRECTIONS = {
    "fuzz-link-from-guest": ("guest", "guest"),
    "fuzz-link-from-host": ("guest", "host"),
    "fuzz-link-from-client": ("host", "client"),
    "fuzz-link-from-server": ("host", "server"),
    # the Wayland channels: what vmdesk-proxy reads from a VM's bridge, and back
    "fuzz-link-wayland-from-guest": ("wayland", "guest"),
    "fuzz-link-wayland-from-host": ("wayland", "host"),
}


def write(directory, name, step, data):
    with open(os.path.join(directory, name), "wb") as f:
        f.write(bytes([step - 1]) + data)


for target, (set_name, role) in DIRECTIONS.items():
    directory = os.path.join(root, target)
    os.makedirs(directory, exist_ok=True)
    s = v.SETS[set_name]
    hello = dict(SAMPLES["hello"], set=s["id"], caps=s["caps"], max_frame=s["max_frame"])
    stream = v.hello(set_name)
    mine, theirs = [], []
    for msg_type, (_t, name, sender, _fields) in sorted(s["by_type"].items()):
        fields = hello if name == "hello" else SAMPLES[name]
        frame = v.encode(set_name, name, msg_id=msg_type & 0xff, **fields)
        if sender in (role, "both"):
            mine.append(frame)
            write(directory, name, 256, frame)
        else:
            theirs.append(frame)
    stream += b"".join(mine)
    write(directory, "stream", 256, stream)
    write(directory, "stream-bytewise", 1, stream)
    write(directory, "stream-7", 7, stream)
    if theirs:
        write(directory, "wrong-side", 256, theirs[0])
    write(directory, "oversize", 256, v.frame(0x0002, b"", length=s["max_frame"] + 1))
    write(directory, "flags", 256, v.frame(0x0002, b"", flags=1))
    write(directory, "truncated", 256, mine[-1][:-3])
    write(directory, "garbage-then-sync", 13,
          bytes((i * 37 + 0xF0) & 0xFF for i in range(100)) + stream)
    write(directory, "trailing-byte", 256,
          struct.pack("<IHHI", len(mine[-1]) - 11, *struct.unpack("<HHI", mine[-1][4:12]))
          + mine[-1][12:] + b"\0")
