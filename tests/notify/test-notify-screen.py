#!/usr/bin/env python3
"""A VM's notification on a real host desktop: mako (a notification server
on the host's private bus) on a headless sway shows what vmdesk-hostd sends:
the "[work]" summary (makoctl reads it back) and the image with its border
in the VM's color (counted in a screenshot). The screenshot is kept as
notify-screen.png in the build directory (the README's
tests/screenshots/notification.png)."""

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

import tap
from compositor import Sway
from desklib import Desk, color_near, wait

suite = tap.Suite()
desk = Desk()
sway = None
mako = None
OUT = os.path.join(os.environ.get("VMDESK_BUILD_ROOT", "."), "notify-screen.png")
RED = (0xcc, 0x00, 0x00)


def png(width, height, rgba):
    raw = b"".join(b"\0" + bytes(rgba) * width for _ in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def makoctl(*args):
    env = sway.env(DBUS_SESSION_BUS_ADDRESS=desk.host_bus.address)
    return subprocess.run(["makoctl"] + list(args), env=env, capture_output=True, timeout=10)


@suite.test
def setup():
    global sway, mako
    sway = Sway(width=640, height=240).__enter__()
    conf = desk.path("mako.conf")
    with open(conf, "w") as f:
        f.write("font=DejaVu Sans 11\nwidth=420\nheight=120\nmax-icon-size=64\n"
                "default-timeout=0\nbackground-color=#202020\ntext-color=#ffffff\n"
                "border-color=#808080\nanchor=top-center\nmargin=20\n")
    env = sway.env(DBUS_SESSION_BUS_ADDRESS=desk.host_bus.address)
    mako = subprocess.Popen(["mako", "-c", conf], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(desk.path("mako.log"), "w"))
    desk.procs.append(mako)
    wait(lambda: "org.freedesktop.Notifications" in desk.host_bus.conn.list_names()
         or mako.poll() is not None, "mako on the host bus")
    assert mako.poll() is None, desk.read(desk.path("mako.log"))
    desk.add_vm("work", "red")
    desk.start_hostd()
    desk.wait_vm(desk.vms["work"])


@suite.test
def mako_shows_the_vm_name_and_the_colored_image():
    path = desk.path("mail.png")
    with open(path, "wb") as f:
        f.write(png(48, 48, (250, 250, 250, 255)))
    env = desk.vms["work"].env()
    r = subprocess.run(["notify-send", "-a", "Mail", "-i", path, "Invoice overdue",
                        "Pay <b>now</b> at http://example.invalid"], env=env, timeout=30,
                       capture_output=True)
    assert r.returncode == 0, r.stderr

    def listed():
        out = makoctl("list")
        if out.returncode != 0:
            return None
        data = json.loads(out.stdout)
        items = data.get("data", [[]])[0]
        return items or None
    items = wait(listed, "mako's notification")
    summary = items[0]["summary"]["data"]
    assert summary == "[work] Invoice overdue", summary
    assert items[0]["app-name"]["data"] == "vmdesk: work", items[0]["app-name"]
    body = items[0]["body"]["data"]
    assert "<b>" in body or "&lt;b&gt;" in body, body  # shown as written, never bold

    def drawn():
        img = sway.image()
        reds = sum(1 for y in range(0, img.height, 2) for x in range(0, img.width, 2)
                   if color_near(img.pixel(x, y), RED, 30))
        return reds if reds >= 40 else None
    reds = wait(drawn, "the red border of the image on screen", 20)
    sway.screenshot(OUT)
    tap.diag("%d red samples; screenshot %s" % (reds, OUT))
    dest = os.environ.get("VMDESK_SCREENSHOT_DIR")
    if dest:
        shutil.copy(OUT, os.path.join(dest, "notification.png"))


@suite.test
def daemons_exit_cleanly():
    desk.stop(mako)
    desk.stop_daemons_checked()


failed = suite.run(exit=False)
desk.close()
if sway is not None:
    sway.__exit__(None, None, None)
sys.exit(1 if failed else 0)
