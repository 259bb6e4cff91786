#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-tray-props: Properties.GetAll answers of a
StatusNotifierItem (the body of a{sv}, little-endian D-Bus marshalling
written out here): a plain item, pixmaps that lie about their size, many, large and
thin ones, wrong types, a tooltip, names with a theme path.

    tests/fuzz/gen-tray-props-corpus.py [CORPUS_DIR]
"""

import os
import struct
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus",
                                                          "fuzz-tray-props")


class Out:
    def __init__(self):
        self.b = bytearray()

    def align(self, n):
        while len(self.b) % n:
            self.b.append(0)

    def i32(self, v, fmt="<i"):
        self.align(4)
        self.b += struct.pack(fmt, v)

    def string(self, s, sig=False):
        data = s.encode()
        if sig:
            self.b.append(len(data))
        else:
            self.i32(len(data), "<I")
        self.b += data + b"\0"

    def array(self, align, fill):
        self.i32(0, "<I")
        at = len(self.b) - 4
        self.align(align)
        start = len(self.b)
        fill()
        struct.pack_into("<I", self.b, at, len(self.b) - start)

    def pixmaps(self, pixmaps):
        def fill():
            for w, h, data in pixmaps:
                self.align(8)
                self.i32(w)
                self.i32(h)
                self.array(1, lambda d=data: self.b.extend(d))
        self.array(8, fill)

    def variant(self, kind, v):
        self.string(kind, sig=True)
        if kind in ("s", "o"):
            self.string(v)
        elif kind == "i":
            self.i32(v)
        elif kind == "b":
            self.i32(1 if v else 0, "<I")
        elif kind == "a(iiay)":
            self.pixmaps(v)
        elif kind == "(sa(iiay)ss)":
            name, pixmaps, title, body = v
            self.align(8)
            self.string(name)
            self.pixmaps(pixmaps)
            self.string(title)
            self.string(body)


def body(props):
    o = Out()

    def fill():
        for key, (kind, v) in props:
            o.align(8)
            o.string(key)
            o.variant(kind, v)
    o.array(8, fill)
    return bytes(o.b)


def argb(w, h):
    return bytes([0xff, 0xc0, 0x20, 0x20]) * (w * h)


PLAIN = [("Id", ("s", "applet")), ("Title", ("s", "An applet")), ("Status", ("s", "Active")),
         ("Category", ("s", "ApplicationStatus")), ("Menu", ("o", "/MenuBar")),
         ("ItemIsMenu", ("b", False)), ("IconPixmap", ("a(iiay)", [(16, 16, argb(16, 16)),
                                                                  (48, 48, argb(48, 48))]))]

SEEDS = {
    "plain": PLAIN,
    "tooltip": PLAIN + [("ToolTip", ("(sa(iiay)ss)", ("", [(4, 4, argb(4, 4))], "title",
                                                      "<b>body</b>\u202e")))],
    "lying": [("IconPixmap", ("a(iiay)", [(64, 64, argb(2, 2)), (0, 0, b""), (-1, 5, b"x"),
                                          (100000, 1, argb(1, 1))])),
              ("AttentionIconPixmap", ("a(iiay)", [(2, 2, argb(3, 3))]))],
    # more than MAX_PIXMAPS, small ones, so that the fuzzer's inputs stay small and fast
    "many": [("IconPixmap", ("a(iiay)", [(n % 5 + 1, n % 5 + 1, argb(n % 5 + 1, n % 5 + 1))
                                         for n in range(40)] + [(49, 49, argb(49, 49))]))],
    # scaled down, not square; and a thin one whose scaled height rounds to 0
    "large": [("OverlayIconPixmap", ("a(iiay)", [(120, 50, argb(120, 50))]))],
    "thin": [("AttentionIconPixmap", ("a(iiay)", [(4096, 1, argb(4096, 1)),
                                                  (1, 300, argb(1, 300))]))],
    "wrong-types": [("Id", ("i", 3)), ("IconPixmap", ("s", "x")), ("ToolTip", ("s", "tip")),
                    ("ItemIsMenu", ("s", "yes")), ("Title", ("b", True))],
    "names": [("IconThemePath", ("s", "/nonexistent")), ("IconName", ("s", "../../etc/passwd")),
              ("AttentionIconName", ("s", "x" * 300)), ("OverlayIconName", ("s", ""))],
}

os.makedirs(root, exist_ok=True)
for name, props in SEEDS.items():
    with open(os.path.join(root, name), "wb") as f:
        f.write(body(props))
