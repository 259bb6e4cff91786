"""Starts tests/tray/ayatana-item.py in a VM: GTK on the given sway, the VM's bus."""

import os
import struct
import subprocess
import zlib

from desklib import PY, wait

HERE = os.path.dirname(os.path.abspath(__file__))


def png(width, height, rgba):
    raw = b"".join(b"\0" + bytes(rgba) * width for _ in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def start(desk, sway, vm, name):
    """Returns (process, directory); icons: green (normal) and blue (attention) squares."""
    d = desk.path("applet-" + name)
    os.makedirs(os.path.join(d, "icons"), exist_ok=True)
    for icon, color in (("normal", (0, 200, 0, 255)), ("attention", (0, 0, 255, 255))):
        with open(os.path.join(d, "icons", "vmdesk-test-%s.png" % icon), "wb") as f:
            f.write(png(32, 32, color))
    env = vm.env(WAYLAND_DISPLAY=sway.display, XDG_RUNTIME_DIR=sway.runtime_dir,
                 GDK_BACKEND="wayland")
    proc = subprocess.Popen([PY, os.path.join(HERE, "ayatana-item.py"), d], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(desk.path("applet-%s.log" % name), "w"))
    desk.procs.append(proc)
    wait(lambda: os.path.exists(os.path.join(d, "ready")) or proc.poll() is not None,
         "the applet " + name)
    assert proc.poll() is None, desk.read(desk.path("applet-%s.log" % name))
    return proc, d
