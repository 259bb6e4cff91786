#!/usr/bin/env python3
"""Writes seed conversations for fuzz-proxy into corpus/fuzz-proxy/.

A record is: 1 byte direction (0 client, 1 compositor), 2 bytes LE length,
the bytes. The seeds follow what the proxy does: its own wl_registry is the
compositor's ID 2, so the client's IDs shift by one on the compositor side.
"""
import os
import struct
import sys


def msg(obj, opcode, *args):
    body = b''
    for a in args:
        if isinstance(a, str):
            raw = a.encode() + b'\0'
            body += struct.pack('<I', len(raw)) + raw + b'\0' * (-len(raw) % 4)
        elif isinstance(a, bytes):
            body += struct.pack('<I', len(a)) + a + b'\0' * (-len(a) % 4)
        else:
            body += struct.pack('<I', a & 0xffffffff)
    return struct.pack('<II', obj, (8 + len(body)) << 16 | opcode) + body


def rec(direction, data):
    return struct.pack('<BH', direction, len(data)) + data


C, S = 0, 1


def basic():
    out = b''
    out += rec(C, msg(1, 1, 2) + msg(1, 0, 3))  # get_registry(2), sync(3)
    globals_ = [(1, 'wl_compositor', 4), (2, 'wl_shm', 1), (3, 'wl_subcompositor', 1),
                (4, 'xdg_wm_base', 2), (5, 'zwlr_layer_shell_v1', 4), (6, 'wl_seat', 7)]
    # the proxy's registry (2), then the client's (3)
    out += rec(S, b''.join(msg(2, 0, n, i, v) for n, i, v in globals_))
    out += rec(S, b''.join(msg(3, 0, n, i, v) for n, i, v in globals_))
    out += rec(S, msg(4, 0, 7) + msg(1, 1, 4))  # callback done, delete_id
    # bind compositor (name 1) as 3, xdg_wm_base (name 4) as 4, seat (name 5) as 5
    out += rec(C, msg(2, 0, 1, 'wl_compositor', 4, 3) + msg(2, 0, 4, 'xdg_wm_base', 2, 4) +
               msg(2, 0, 5, 'wl_seat', 7, 5))
    # surface 6, xdg_surface 7, toplevel 8, title, commit
    out += rec(C, msg(3, 0, 6) + msg(4, 2, 7, 6) + msg(7, 1, 8) +
               msg(8, 2, '\x1b]0;evil\x07 title') + msg(8, 3, 'org.example') +
               msg(7, 3, 0, 0, 200, 100) + msg(6, 6))
    # compositor: configure toplevel and xdg_surface (client 8 -> 13, 7 -> 12 roughly)
    out += rec(S, msg(13, 0, 640, 480, b'\x01\0\0\0') + msg(12, 0, 42))
    out += rec(C, msg(7, 4, 42) + msg(8, 11, 0) + msg(6, 6))  # ack, set_fullscreen, commit
    out += rec(C, msg(5, 0, 9))  # get_pointer
    out += rec(C, msg(8, 0) + msg(7, 0) + msg(6, 0))  # destroy all
    return out


def focus():
    """The proxy's own seat (ID 3 on the compositor side, after its registry)
    and keyboard (4): capabilities, enter, key, leave, a client's selection,
    losing the keyboard, global_remove."""
    out = rec(S, msg(2, 0, 6, 'wl_seat', 7))
    out += rec(S, msg(3, 0, 3) + msg(3, 1, 'seat0'))  # capabilities: pointer+keyboard
    out += rec(S, msg(4, 1, 10, 99, b'') + msg(4, 3, 11, 0, 30, 1) + msg(4, 4, 12, 0, 0, 0, 0))
    out += rec(C, msg(1, 1, 2) + msg(1, 0, 3))  # get_registry(2), sync(3)
    out += rec(S, msg(5, 0, 1, 'wl_data_device_manager', 3) + msg(5, 0, 6, 'wl_seat', 7) +
               msg(6, 0, 7) + msg(1, 1, 6))
    # bind ddm as 4, seat as 5; device 6, source 7 with a type, selection with serial 11
    out += rec(C, msg(2, 0, 1, 'wl_data_device_manager', 3, 4) + msg(2, 0, 2, 'wl_seat', 7, 5) +
               msg(4, 1, 6, 5) + msg(4, 0, 7) + msg(7, 0, 'text/plain') + msg(6, 1, 7, 11))
    out += rec(S, msg(4, 2, 13, 99))  # leave
    out += rec(C, msg(6, 1, 7, 11))  # the serial expired
    out += rec(S, msg(4, 1, 14, 99, b'') + msg(3, 0, 1))  # enter, then no keyboard
    out += rec(S, msg(3, 0, 2) + msg(4, 1, 15, 99, b''))  # a keyboard again
    out += rec(S, msg(2, 1, 6))  # global_remove of the seat
    return out


def hostile():
    out = rec(C, msg(1, 1, 2))
    out += rec(C, msg(2, 0, 99, 'wl_compositor', 4, 3))  # bind to a hidden name
    return out


def garbage_upstream():
    return rec(C, msg(1, 0, 2)) + rec(S, msg(77, 3, 1, 2, 3)) + rec(S, b'\xff' * 12)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), 'corpus', 'fuzz-proxy')
    os.makedirs(out_dir, exist_ok=True)
    for name, data in (('basic', basic()), ('hostile', hostile()),
                       ('garbage-upstream', garbage_upstream()), ('focus', focus())):
        with open(os.path.join(out_dir, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
