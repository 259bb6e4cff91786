#!/usr/bin/env python3
"""A VM's tray applet in a real panel: waybar (its tray is a watcher and a
host on the host's private bus) on a headless sway shows the item
vmdesk-hostd registers for an Ayatana applet in the guest, with its border
in the VM's color (counted in a screenshot of the bar). The screenshot is
kept as tray-screen.png in the build directory (the README's
tests/screenshots/tray.png)."""

import json
import os
import shutil
import subprocess
import sys

import dbus
import tap
from compositor import Sway
from desklib import PY, Desk, color_near, wait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

suite = tap.Suite()
desk = Desk()
sway = None
waybar = None
applet = None
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.environ.get("VMDESK_BUILD_ROOT", "."), "tray-screen.png")
RED = (0xcc, 0x00, 0x00)
WATCHER = "org.kde.StatusNotifierWatcher"


def registered():
    try:
        obj = desk.host_bus.conn.get_object(WATCHER, "/StatusNotifierWatcher", introspect=False)
        return list(obj.Get(WATCHER, "RegisteredStatusNotifierItems",
                            dbus_interface=dbus.PROPERTIES_IFACE))
    except dbus.DBusException:
        return []


@suite.test
def setup():
    global sway, waybar
    sway = Sway(width=640, height=200).__enter__()
    conf, style = desk.path("waybar.json"), desk.path("waybar.css")
    with open(conf, "w") as f:
        json.dump({"layer": "top", "position": "top", "height": 40,
                   "modules-left": ["clock"], "modules-right": ["tray"],
                   "clock": {"format": "vmdesk"}, "tray": {"icon-size": 32, "spacing": 8}}, f)
    with open(style, "w") as f:
        f.write("* { font-family: DejaVu Sans; font-size: 14px; }\n"
                "window#waybar { background: #202020; color: #ffffff; }\n")
    env = sway.env(DBUS_SESSION_BUS_ADDRESS=desk.host_bus.address, NO_AT_BRIDGE="1",
                   GTK_A11Y="none", XDG_CONFIG_HOME=desk.path("waybar-config"))
    waybar = subprocess.Popen(["waybar", "-c", conf, "-s", style], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=open(desk.path("waybar.log"), "w"))
    desk.procs.append(waybar)
    wait(lambda: WATCHER in desk.host_bus.conn.list_names() or waybar.poll() is not None,
         "waybar's tray watcher", 20)
    assert waybar.poll() is None, desk.read(desk.path("waybar.log"))
    desk.add_vm("work", "red")
    desk.start_hostd()
    desk.wait_vm(desk.vms["work"])


@suite.test
def waybar_shows_the_applet_with_a_red_border():
    global applet
    import importlib
    tray_test = importlib.import_module("ayatana_helper")
    applet, _d = tray_test.start(desk, sway, desk.vms["work"], "work")
    wait(lambda: [s for s in registered() if "StatusNotifierItem-" in s], "the host item", 20)

    def drawn():
        img = sway.capture(0, 0, sway.width, 40)
        reds = sum(1 for y in range(img.height) for x in range(img.width)
                   if color_near(img.pixel(x, y), RED, 30))
        return reds if reds >= 30 else None
    reds = wait(drawn, "the red border in the bar", 20)
    sway.screenshot(OUT)
    tap.diag("%d red pixels in the bar; screenshot %s" % (reds, OUT))
    dest = os.environ.get("VMDESK_SCREENSHOT_DIR")
    if dest:
        shutil.copy(OUT, os.path.join(dest, "tray.png"))


@suite.test
def daemons_exit_cleanly():
    if applet is not None:
        desk.stop(applet)
    desk.stop(waybar)
    desk.stop_daemons_checked()


failed = suite.run(exit=False)
desk.close()
if sway is not None:
    sway.__exit__(None, None, None)
sys.exit(1 if failed else 0)
