"""Writing inputs of the structure-aware fuzz targets (tests/fuzz/record.h).

    import fuzzrec as fr
    w = fr.Writer()
    w.record(kind, fr.sel(0) + fr.number(3) + fr.blob(b"text"))
    data = header + w.data

Values: small(p), u8(v), number(v) (exact: U8/U32/U64), blob(bytes), sel(k),
special(p), length(n). Records: kind byte, u16 LE payload length, payload.

The Wayland tables (for fuzz-proxy): WaylandTables(build_dir) reads the
protocol XML the build generated protocols/vd-tables.c from, with
protocols/gen-tables.py's own reader, so the interfaces are numbered as in
vd_interfaces[] (sorted by name).
"""

import importlib.util
import json
import os
import struct
import subprocess
import sys

SMALL, U8, U32, U64, BYTES, SEL, SPECIAL, LEN = range(8)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))


def tag(cls, p):
    return bytes([(cls << 5) | (p & 31)])


def small(p):
    assert 0 <= p < 32
    return tag(SMALL, p)


def u8(v):
    return tag(U8, 0) + bytes([v & 0xff])


def u32(v):
    return tag(U32, 0) + struct.pack("<I", v & 0xffffffff)


def u64(v):
    return tag(U64, 0) + struct.pack("<Q", v & 0xffffffffffffffff)


def number(v):
    """A number exactly (negative numbers as 32-bit two's complement)."""
    if v < 0:
        v &= 0xffffffff
    if v < 256:
        return u8(v)
    if v <= 0xffffffff:
        return u32(v)
    return u64(v)


def blob(data):
    if isinstance(data, str):
        data = data.encode()
    data = data[:0xffff]
    if len(data) < 31:
        return tag(BYTES, len(data)) + data
    return tag(BYTES, 31) + struct.pack("<H", len(data)) + data


def sel(k):
    if k < 31:
        return tag(SEL, k)
    return tag(SEL, 31) + bytes([k & 0xff])


def special(p):
    return tag(SPECIAL, p)


NEW = small(0)  # a new ID
NUL = special(0)  # number 0; object: null


def length(n):
    return tag(LEN, 0) + struct.pack("<H", min(n, 0xffff))


def record(kind, payload):
    payload = payload[:0xffff]
    return struct.pack("<BH", kind, len(payload)) + payload


class Writer:
    def __init__(self):
        self.data = b""

    def record(self, kind, payload):
        self.data += record(kind, payload)


# ---- the Wayland tables, as the build generated them ----

def _load_gen_tables():
    path = os.path.join(SOURCE_ROOT, "protocols", "gen-tables.py")
    spec = importlib.util.spec_from_file_location("gen_tables", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _protocol_xml(build_dir):
    out = subprocess.run(["meson", "introspect", build_dir, "--targets"], check=True,
                         capture_output=True, text=True).stdout
    for target in json.loads(out):
        if target["name"] == "vd-tables":
            return [os.path.normpath(p) for p in target["target_sources"][0]["sources"]]
    raise RuntimeError("%s has no vd-tables target" % build_dir)


class Message:
    def __init__(self, name, since, args, destructor):
        self.name = name
        self.since = since
        self.args = args  # [(type, nullable, interface name or None)]
        self.destructor = destructor


class Interface:
    def __init__(self, name, index, version, requests, events):
        self.name = name
        self.index = index
        self.version = version
        self.requests = requests
        self.events = events

    def request(self, name):
        for i, m in enumerate(self.requests):
            if m.name == name:
                return i, m
        return None, None

    def event(self, name):
        for i, m in enumerate(self.events):
            if m.name == name:
                return i, m
        return None, None


class WaylandTables:
    def __init__(self, build_dir):
        gen = _load_gen_tables()
        ifaces, known = gen.load(_protocol_xml(build_dir))
        names = sorted(iface.get("name") for _, iface in ifaces)
        self.by_name = {}
        for _, iface in ifaces:
            name = iface.get("name")
            kinds = {}
            for kind in ("request", "event"):
                msgs = []
                for m in iface.findall(kind):
                    info = gen.message(name, m, known, [])
                    args = [(t.replace("VD_ARG_", "").lower(), nullable, ai)
                            for t, nullable, ai in info["args"]]
                    msgs.append(Message(info["name"], info["since"], args, info["destructor"]))
                kinds[kind] = msgs
            self.by_name[name] = Interface(name, names.index(name), int(iface.get("version", "1")),
                                           kinds["request"], kinds["event"])
        self.count = len(names)

    def __getitem__(self, name):
        return self.by_name[name]

    def get(self, name):
        return self.by_name.get(name)


# fuzz-proxy's kinds and flags (tests/fuzz/proxy-harness.h)
K_REQUEST, K_EVENT, K_RAW_CLIENT, K_RAW_COMPOSITOR, K_HOSTD, K_CONTROL = range(6)
F_SESSION, F_EXACT, F_MIRROR, F_BROADCAST, F_BATCH = 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7
(C_CLIENT_HANGUP, C_COMPOSITOR_HANGUP, C_CLIENT_READING, C_COMPOSITOR_READING, C_SEND_DATA,
 C_CLOSE_SEND, C_HOSTD_HANGUP, C_WAIT, C_HOSTD_RAW) = range(9)


def proxy_header(flags=0, caps=0, globals_off=0):
    return bytes([flags, caps, globals_off, 0])


# fuzz-proxy-vm-link's kinds, operations, controls and header flags (fuzz-proxy-vm-link.c)
VK_REQUEST, VK_EVENT, VK_FRAME, VK_RAW_LINK, VK_CHANNEL, VK_CONTROL, VK_HOSTD = range(7)
(OP_OPEN, OP_CLOSE, OP_CLOSE_MID, OP_POOL_DATA, OP_POOL_DIFF, OP_POOL_COPY, OP_POOL_DISCARD,
 OP_POOL_RESIZE, OP_POOL_SEALED, OP_POOL_FREE, OP_ACK, OP_PIPE_DATA, OP_PIPE_CLOSE) = range(13)
(VC_COMPOSITOR_HANGUP, VC_COMPOSITOR_READING, VC_LINK_READING, VC_LINK_HANGUP, VC_RESTART,
 VC_LIMITS, VC_WAIT, VC_HOSTD_RAW, VC_PONG) = range(9)
(V_DIAL, V_NO_ACK, V_NO_PONG, V_FEW, V_NO_LIMITS, V_SMALL_WINDOW, V_SHORT_TIMEOUT,
 V_NO_CONTENTS) = (1 << i for i in range(8))


def vm_header(flags=0, caps=0, globals_off=0, vm_flags=0):
    return bytes([flags, caps, globals_off, vm_flags])


def save_seeds(target, seeds):
    """Writes each of seeds (name: bytes) to corpus/TARGET/NAME."""
    out = os.path.join(HERE, "corpus", target)
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def write_seeds(argv, target, seeds):
    """The main of a seed generator over the Wayland tables: argv is [PROGRAM,
    BUILD_DIR]; each of seeds (name: make(tables) -> Writer) is written to
    corpus/TARGET/NAME. Returns the exit status."""
    if len(argv) != 2:
        sys.stderr.write("usage: %s BUILD_DIR\n" % argv[0])
        return 2
    tables = WaylandTables(argv[1])
    save_seeds(target, {name: make(tables).data() for name, make in seeds.items()})
    return 0
