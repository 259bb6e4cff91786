#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-clip-link: one file per message kind, valid
and broken. Input format: u16 type (LE), then the payload; the whole input is
also read as a stream of frames (u32 length, u16 type, u16 0, payload)."""

import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus",
                                                          "fuzz-clip-link")
os.makedirs(out, exist_ok=True)


def s(text):
	b = text.encode() if isinstance(text, str) else text
	return struct.pack("<H", len(b)) + b


def by(data):
	return struct.pack("<I", len(data)) + data


def mimes(*names):
	return struct.pack("<H", len(names)) + b"".join(s(n) for n in names)


def u8(v):
	return struct.pack("<B", v)


def u32(v):
	return struct.pack("<I", v)


TEXT = ("text/plain;charset=utf-8", "UTF8_STRING", "text/plain", "TEXT", "STRING")
payloads = {
	"hello": (1, u32(1) + s("work")),
	"hello-bad-name": (1, u32(1) + s("1work")),
	"hello-version": (1, u32(2) + s("work")),
	"focus-in": (2, u8(1)),
	"focus-bad": (2, u8(2)),
	"copy-reply": (3, u32(7) + u8(0) + s(TEXT[0]) + by("héllo".encode()) + s("")),
	"copy-reply-fail": (3, u32(7) + u8(5) + s("") + by(b"") + s("did not send in time")),
	"copy-reply-data-on-fail": (3, u32(7) + u8(3) + s("") + by(b"x") + s("")),
	"copy-reply-ctrl-text": (3, u32(7) + u8(1) + s("") + by(b"") + s("a\x1b[2Jb")),
	"paste-reply": (4, u32(9) + u8(0) + s("")),
	"copy-request": (5, u32(3) + u32(1 << 20) + u32(2000) + mimes(*TEXT)),
	"copy-request-17-mimes": (5, u32(3) + u32(10) + u32(10) + mimes(*(["text/plain"] * 17))),
	"copy-request-bad-mime": (5, u32(3) + u32(10) + u32(10) + mimes("text/plain\x01")),
	"paste-request": (6, u32(4) + mimes(*TEXT) + by(b"pasted text\n")),
	"paste-request-huge": (6, u32(4) + mimes("TEXT") + u32(0xffffffff)),
	"command-copy": (7, u8(1) + s("")),
	"command-paste-vm": (7, u8(2) + s("banking")),
	"command-bad": (7, u8(9) + s("")),
	"command-reply": (8, u8(0) + s("global clipboard: empty\nfocus: host")),
	"unknown-type": (99, b""),
	"trailing": (2, u8(1) + b"\0"),
	"nul-in-string": (1, u32(1) + s(b"wo\0rk")),
}
for name, (mtype, payload) in payloads.items():
	with open(os.path.join(out, name), "wb") as f:
		f.write(struct.pack("<H", mtype) + payload)


def frame(mtype, payload, reserved=0, length=None):
	return struct.pack("<IHH", len(payload) if length is None else length, mtype,
	                   reserved) + payload


streams = {
	"stream-proxy": frame(1, u32(1) + s("work")) + frame(2, u8(1)) +
	frame(3, u32(1) + u8(0) + s("TEXT") + by(b"abc") + s("")),
	"stream-oversized": frame(6, b"", length=0x7fffffff),
	"stream-reserved": frame(2, u8(1), reserved=1),
	"stream-truncated": frame(2, u8(1))[:-1],
}
for name, data in streams.items():
	# as a stream, and as a "type + payload" input it is garbage: both are useful
	with open(os.path.join(out, name), "wb") as f:
		f.write(data)
