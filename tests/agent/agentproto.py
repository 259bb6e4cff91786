"""The vmdesk agent protocol in Python, for test peers (see protocols/agent-protocol.md).

Encoding only what the tests need; the hostile tests bend it on purpose.
"""

import struct

MAGIC = 0x47414456
VERSION = 1
MAX_PAYLOAD = 1024 * 1024

HELLO = 0x0001
ERROR = 0x0002
RUN = 0x0100
RUN_APP = 0x0101
RUN_STARTED = 0x0102
RUN_OUTPUT = 0x0103
RUN_EXIT = 0x0104
SIGNAL = 0x0105
RUN_ACK = 0x0106
APPS_BEGIN = 0x0200
APP = 0x0201
APPS_END = 0x0202
IDLE = 0x0300
CTL_RUN = 0x7F00
CTL_RUN_APP = 0x7F01
CTL_APPS = 0x7F02
CTL_LIST = 0x7F03
CTL_STATUS = 0x7F04
CTL_TEXT = 0x7F05
CTL_SIGNAL = 0x7F06

CAP_RUN = 1
CAP_APPS = 2
CAP_IDLE = 4
CAPS_ALL = CAP_RUN | CAP_APPS | CAP_IDLE


def frame(msg_type, payload=b"", msg_id=0, flags=0, length=None):
    """One frame; length can lie on purpose."""
    if length is None:
        length = len(payload)
    return struct.pack("<IHHI", length, msg_type, flags, msg_id) + payload


def s16(value):
    """A u16-length string."""
    if isinstance(value, str):
        value = value.encode()
    return struct.pack("<H", len(value)) + value


def hello(caps=CAPS_ALL, software="fake-guest 1"):
    return frame(HELLO, struct.pack("<IHHI", MAGIC, VERSION, VERSION, caps) + s16(software))


def run(argv, flags=0, env=(), msg_id=1):
    payload = struct.pack("<IH", flags, len(argv)) + b"".join(s16(a) for a in argv)
    payload += struct.pack("<H", len(env)) + b"".join(s16(k) + s16(v) for k, v in env)
    return frame(RUN, payload, msg_id)


def apps_begin(count, generation=1):
    return frame(APPS_BEGIN, struct.pack("<II", generation, count))


def apps_end(generation=1):
    return frame(APPS_END, struct.pack("<I", generation))


def app(desktop_id, name, generic="", comment="", categories="", icon_name="", wm_class="",
        png=b"", width=0, height=0):
    payload = b"".join(s16(v) for v in (desktop_id, name, generic, comment, categories,
                                        icon_name, wm_class))
    payload += struct.pack("<HHI", width, height, len(png)) + png
    return frame(APP, payload)


def idle(is_idle, seconds):
    return frame(IDLE, struct.pack("<BI", is_idle, seconds))


def run_started(msg_id, pid):
    return frame(RUN_STARTED, struct.pack("<I", pid), msg_id)


def run_output(msg_id, stream, data):
    return frame(RUN_OUTPUT, struct.pack("<BI", stream, len(data)) + data, msg_id)


def run_exit(msg_id, kind, value):
    return frame(RUN_EXIT, struct.pack("<BI", kind, value), msg_id)


def error(msg_id, code, message):
    return frame(ERROR, struct.pack("<I", code) + s16(message), msg_id)


def tiny_png(width, height, rgb=(0, 128, 255)):
    """A valid RGB PNG of the given size, without external modules."""
    import zlib

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    raw = row * height
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


class Reader:
    """Splits a byte stream into (type, id, payload) frames."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= 12:
            length, msg_type, _flags, msg_id = struct.unpack("<IHHI", self.buf[:12])
            if len(self.buf) < 12 + length:
                break
            out.append((msg_type, msg_id, self.buf[12:12 + length]))
            self.buf = self.buf[12 + length:]
        return out
