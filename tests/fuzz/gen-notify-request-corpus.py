#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-notify-request: Notify calls' arguments
(the body of susssasa{sv}i, little-endian D-Bus marshalling written out
here): plain, actions (odd, bad keys, too many), hints of every kind and of
wrong types, image-data true and lying, image-path, a long body.

    tests/fuzz/gen-notify-request-corpus.py [CORPUS_DIR]
"""

import os
import struct
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus",
                                                          "fuzz-notify-request")


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
        data = s.encode("utf-8", "surrogatepass")
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

    def variant(self, kind, v):
        self.string(kind, sig=True)
        if kind == "s":
            self.string(v)
        elif kind == "y":
            self.b.append(v)
        elif kind in ("i", "b"):
            self.i32(int(v))
        elif kind == "(iiibiiay)":
            w, h, stride, alpha, bits, channels, data = v
            self.align(8)
            for n in (w, h, stride, int(alpha), bits, channels):
                self.i32(n)
            self.array(1, lambda: self.b.extend(data))


def body(app="app", replaces=0, icon="", summary="Summary", text="Body", actions=(), hints=(),
         expire=-1):
    o = Out()
    o.string(app)
    o.i32(replaces, "<I")
    o.string(icon)
    o.string(summary)
    o.string(text)
    o.array(4, lambda: [o.string(a) for a in actions])

    def fill():
        for key, kind, v in hints:
            o.align(8)
            o.string(key)
            o.variant(kind, v)
    o.array(8, fill)
    o.i32(expire)
    return bytes(o.b)


def rgba(w, h, channels=4):
    return bytes([0x20, 0xc0, 0x20, 0xff][:channels]) * (w * h)


SEEDS = {
    "plain": body(),
    "actions": body(actions=["default", "Open", "reply", "Reply", "odd"]),
    "bad-actions": body(actions=["bad key!", "x", "", "empty key", "ok", "\u202eevil"] +
                        sum([["k%d" % i, "l"] for i in range(12)], [])),
    "hints": body(hints=[("urgency", "y", 2), ("category", "s", "email.arrived"),
                         ("transient", "b", True), ("resident", "b", True),
                         ("suppress-sound", "b", False), ("x-other", "s", "ignored")]),
    "wrong-hints": body(hints=[("urgency", "i", 9), ("category", "s", "Bad Category!"),
                               ("transient", "s", "yes"), ("image-data", "s", "no")]),
    "image": body(hints=[("image-data", "(iiibiiay)", (8, 8, 32, True, 8, 4, rgba(8, 8)))]),
    "image-rgb": body(hints=[("image_data", "(iiibiiay)", (5, 3, 16, False, 8, 3,
                                                           rgba(5, 3, 3) + b"\0" * 3))]),
    "image-lying": body(hints=[("image-data", "(iiibiiay)", (4096, 4096, 16384, True, 8, 4,
                                                             rgba(2, 2)))]),
    "image-path": body(icon="/nonexistent.png", hints=[("image-path", "s", "file:///etc/passwd")]),
    "expire": body(expire=-7),
    "long": body(summary="S" * 3000, text=("line\u202e\u0007\n" * 2000)),
}

os.makedirs(root, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(root, name), "wb") as f:
        f.write(data)
