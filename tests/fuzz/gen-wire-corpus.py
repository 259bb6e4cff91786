#!/usr/bin/env python3
# Writes the seed corpus of fuzz-wire: a few valid and invalid messages.
#
# usage: gen-wire-corpus.py BUILD/protocols/vd-tables.c OUTDIR
#
# A fuzz-wire input is: interface index (byte), message selector (byte: bit 0
# set for an event, opcode << 1), then the message. The indices come from the
# generated tables, so rerun this when the protocol XML list changes (stale
# seeds are still valid inputs, only aimed at other messages).
import os
import re
import struct
import sys


def load_tables(path):
    text = open(path).read()
    order = re.search(r'vd_interfaces\[\] = \{(.*?)\};', text, re.S).group(1)
    names = re.findall(r'&vd_iface_(\w+),', order)
    messages = {}
    for iface, kind, body in re.findall(
            r'static const struct vd_message vd_(\w+?)_(request|event)s\[\] = \{(.*?)\n\};',
            text, re.S):
        messages[(iface, kind)] = re.findall(r'\{ "(\w+)",', body)
    return names, messages


def u32(v):
    return struct.pack('<I', v & 0xffffffff)


def string(s):
    if s is None:
        return u32(0)
    b = s.encode() + b'\0'
    return u32(len(b)) + b + b'\0' * (-len(b) % 4)


def array(b):
    return u32(len(b)) + b + b'\0' * (-len(b) % 4)


def message(obj, opcode, body, size=None):
    if size is None:
        size = 8 + len(body)
    return u32(obj) + u32(size << 16 | opcode) + body


def main():
    tables, out = sys.argv[1], sys.argv[2]
    names, messages = load_tables(tables)

    def seed(name, iface, kind, msg_name, body, obj=3, size=None):
        opcode = messages[(iface, kind)].index(msg_name)
        selector = opcode << 1 | (1 if kind == 'event' else 0)
        data = bytes([names.index(iface), selector]) + message(obj, opcode, body, size)
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)

    os.makedirs(out, exist_ok=True)
    bind = u32(7) + string('wl_compositor') + u32(4) + u32(5)
    seed('bind', 'wl_registry', 'request', 'bind', bind, obj=2)
    seed('bind-truncated', 'wl_registry', 'request', 'bind', u32(7) + string('wl_shm'), obj=2)
    seed('bind-null-id', 'wl_registry', 'request', 'bind',
         u32(7) + string('wl_shm') + u32(1) + u32(0), obj=2)
    seed('global', 'wl_registry', 'event', 'global', u32(1) + string('wl_seat') + u32(8), obj=2)
    seed('create-pool', 'wl_shm', 'request', 'create_pool', u32(9) + u32(4096))
    seed('create-pool-trailing', 'wl_shm', 'request', 'create_pool', u32(9) + u32(4096) + u32(0))
    seed('set-title', 'xdg_toplevel', 'request', 'set_title', string('hello w\u00f6rld'))
    seed('set-title-unterminated', 'xdg_toplevel', 'request', 'set_title', u32(4) + b'abcd')
    seed('set-title-huge-length', 'xdg_toplevel', 'request', 'set_title', u32(0xffffffff) + b'abc\0')
    seed('set-title-embedded-nul', 'xdg_toplevel', 'request', 'set_title', u32(5) + b'ab\0c\0\0\0\0')
    seed('set-title-null', 'xdg_toplevel', 'request', 'set_title', u32(0))
    seed('accept-null', 'wl_data_offer', 'request', 'accept', u32(1) + string(None))
    seed('keyboard-enter', 'wl_keyboard', 'event', 'enter',
         u32(5) + u32(10) + array(struct.pack('<3I', 30, 31, 32)), obj=0xff000001)
    seed('keyboard-enter-array-past-end', 'wl_keyboard', 'event', 'enter',
         u32(5) + u32(10) + u32(64) + u32(30), obj=0xff000001)
    seed('keymap', 'wl_keyboard', 'event', 'keymap', u32(1) + u32(4096), obj=0xff000001)
    seed('get-subsurface', 'wl_subcompositor', 'request', 'get_subsurface', u32(10) + u32(11) + u32(12))
    seed('get-subsurface-null', 'wl_subcompositor', 'request', 'get_subsurface', u32(10) + u32(0) + u32(12))
    seed('attach-null', 'wl_surface', 'request', 'attach', u32(0) + u32(0xfffffffb) + u32(0))
    seed('dmabuf-add', 'zwp_linux_buffer_params_v1', 'request', 'add',
         u32(0) + u32(0) + u32(7680) + u32(0) + u32(0))
    seed('display-error', 'wl_display', 'event', 'error', u32(3) + u32(1) + string('bad'), obj=1)
    seed('size-too-small', 'wl_compositor', 'request', 'create_surface', u32(3), size=4)
    seed('size-unaligned', 'wl_compositor', 'request', 'create_surface', u32(3) + b'\0\0', size=14)
    seed('size-too-large', 'wl_compositor', 'request', 'create_surface', u32(3), size=0xfffc)


if __name__ == '__main__':
    main()
