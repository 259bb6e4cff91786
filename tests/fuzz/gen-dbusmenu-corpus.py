#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-dbusmenu: GetLayout answers (the body of
u(ia{sv}av), little-endian D-Bus marshalling written out here) of a plain
menu, a submenu, toggles, separators, wrong types, deep, wide and repeated
ids.

    tests/fuzz/gen-dbusmenu-corpus.py [CORPUS_DIR]
"""

import os
import struct
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus",
                                                          "fuzz-dbusmenu")


class Out:
    def __init__(self):
        self.b = bytearray()

    def align(self, n):
        while len(self.b) % n:
            self.b.append(0)

    def u32(self, v, fmt="<I"):
        self.align(4)
        self.b += struct.pack(fmt, v)

    def string(self, s, sig=False):
        data = s.encode()
        if sig:
            self.b.append(len(data))
        else:
            self.u32(len(data))
        self.b += data + b"\0"

    def variant(self, value):
        kind, v = value
        self.string(kind, sig=True)
        if kind == "s":
            self.string(v)
        elif kind == "i":
            self.u32(v, "<i")
        elif kind == "b":
            self.u32(1 if v else 0)
        elif kind == "ay":
            self.u32(len(v))
            self.b += v
        elif kind == "(ia{sv}av)":
            self.node(v)

    def node(self, node):
        nid, props, children = node
        self.align(8)
        self.u32(nid, "<i")
        self.u32(0)
        start_len = len(self.b) - 4
        self.align(8)
        start = len(self.b)
        for key, value in props.items():
            self.align(8)
            self.string(key)
            self.variant(value)
        struct.pack_into("<I", self.b, start_len, len(self.b) - start)
        self.u32(0)
        start_len = len(self.b) - 4
        start = len(self.b)
        for child in children:
            self.variant(("(ia{sv}av)", child))
        struct.pack_into("<I", self.b, start_len, len(self.b) - start)


def body(root_node):
    o = Out()
    o.u32(7)
    o.node(root_node)
    return bytes(o.b)


def label(text):
    return {"label": ("s", text)}


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff"
       b"\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")

SEEDS = {
    "plain": (0, {}, [(1, label("Open"), []), (2, label("Quit"), [])]),
    "submenu": (0, {"children-display": ("s", "submenu")},
                [(1, dict(label("More"), **{"children-display": ("s", "submenu")}),
                  [(2, label("Deep"), [(3, label("Deeper"), [])])])]),
    "toggles": (0, {}, [(1, dict(label("Check"), **{"toggle-type": ("s", "checkmark"),
                                                     "toggle-state": ("i", 1)}), []),
                        (2, {"type": ("s", "separator")}, []),
                        (3, dict(label("Radio"), **{"toggle-type": ("s", "radio"),
                                                    "toggle-state": ("i", -1),
                                                    "enabled": ("b", False),
                                                    "visible": ("b", True)}), [])]),
    "wrong-types": (0, {}, [(1, {"label": ("i", 3), "enabled": ("s", "no"),
                                 "icon-data": ("s", "x")}, []),
                            (-1, label("negative"), []), (0, label("zero"), []),
                            (1, label("again"), [])]),
    "icon": (0, {}, [(1, dict(label("Icon"), **{"icon-data": ("ay", PNG),
                                                "icon-name": ("s", "document-open")}), [])]),
    "deep": (0, {}, [(1, label("1"), [(2, label("2"), [(3, label("3"), [(4, label("4"), [
        (5, label("5"), [(6, label("6"), [])])])])])])]),
    "wide": (0, {}, [(i, label("item %d" % i), []) for i in range(1, 300)]),
}

os.makedirs(root, exist_ok=True)
for name, node in SEEDS.items():
    with open(os.path.join(root, name), "wb") as f:
        f.write(body(node))
