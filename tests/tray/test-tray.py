#!/usr/bin/env python3
"""VM tray items end to end, with real peers: an Ayatana AppIndicator applet
(python3-gi, GTK on a headless sway) registers with vmdesk-guestd's
StatusNotifierWatcher on the guest's private bus; vmdesk-hostd shows it on
the host's private bus as an item of its own, registered with a test
watcher that reads it as a panel does: Id and Title "[VM] ...", icons with a
border in the VM's color, the menu as dbusmenu; a menu click in the host
reaches the applet's handler, so do the secondary activation and scrolls;
updates are followed; items vanish with the applet, the VM and are shown
again to a watcher that restarts; a VM with tray = no shows none."""

import os
import signal
import subprocess
import sys
import time

import dbus
import ayatana_helper
import tap
from compositor import Sway
from desklib import (Desk, TrayHost, color_near, find_label, pixmap_pixel, pump, wait)

suite = tap.Suite()
desk = Desk()
HERE = os.path.dirname(os.path.abspath(__file__))
RED = (0xcc, 0x00, 0x00)
sway = None
host = None
applets = {}


def start_applet(vm, name):
    proc, d = ayatana_helper.start(desk, sway, vm, name)
    applets[name] = (proc, d)
    return proc, d


def host_item(vm_name, count=1):
    items = host.wait_items(count)
    for service in items:
        if str(host.props(service)["Id"]).startswith("[%s]" % vm_name):
            return service
    raise AssertionError("no item of %s among %s" % (vm_name, items))


@suite.test
def setup():
    global sway, host
    sway = Sway(width=640, height=480).__enter__()
    host = TrayHost(desk.host_bus)
    desk.start_notifyd()
    desk.add_vm("work", "red")
    desk.add_vm("quiet", "blue", tray=False)
    desk.start_hostd()
    desk.wait_vm(desk.vms["work"])
    desk.wait_vm(desk.vms["quiet"])


@suite.test
def an_applet_in_the_vm_appears_on_the_host_in_the_vm_color():
    start_applet(desk.vms["work"], "work")
    service = host_item("work")
    props = host.props(service)
    assert str(props["Id"]) == "[work] vmdesk-test-applet", props["Id"]
    assert str(props["Title"]) == "[work] Test applet", props["Title"]
    assert str(props["Status"]) == "Active" and str(props["Category"]) == "Communications"
    assert str(props["IconName"]) == "" and str(props["IconThemePath"]) == ""
    tooltip = props["ToolTip"]
    assert str(tooltip[2]).startswith("[work]"), tooltip
    pixmaps = sorted(props["IconPixmap"], key=lambda p: int(p[0]))
    assert [int(p[0]) for p in pixmaps] == [24, 48], [(p[0], p[1]) for p in pixmaps]
    for p in pixmaps:
        size = int(p[0])
        assert len(p[2]) == size * size * 4
        assert color_near(pixmap_pixel(p, 0, 0)[:3], RED), pixmap_pixel(p, 0, 0)
        assert color_near(pixmap_pixel(p, size // 2, size // 2)[:3], (0, 200, 0)), \
            pixmap_pixel(p, size // 2, size // 2)
    attention = props["AttentionIconPixmap"]
    assert attention and color_near(pixmap_pixel(attention[0], 12, 12)[:3], (0, 0, 255))
    assert str(props["Menu"]) == "/MenuBar"


@suite.test
def the_menu_is_a_copy_and_a_host_click_reaches_the_applet():
    service = host_item("work")
    # the item may show before its menu came over the link (the host then
    # emits LayoutUpdated, as dbusmenu has it): wait for the menu
    wait(lambda: host.layout(service)[1]["children"], "the item's menu on the host")
    _rev, root = host.layout(service)
    labels = [c["props"].get("label") for c in root["children"]]
    assert labels[:2] == ["Say hello", "More"], labels
    assert any(c["props"].get("type") == "separator" for c in root["children"]), root
    more = find_label(root, "More")
    assert more["props"].get("children-display") == "submenu"
    assert [c["props"].get("label") for c in more["children"]] == ["Deep item"]
    check = find_label(root, "Enabled")
    assert check["props"].get("toggle-type") == "checkmark" and check["props"]["toggle-state"] == 1
    _proc, d = applets["work"]
    host.menu(service).AboutToShow(dbus.Int32(0), dbus_interface="com.canonical.dbusmenu")
    host.event(service, find_label(root, "Say hello")["id"])
    wait(lambda: os.path.exists(os.path.join(d, "hello")), "the applet's handler")
    host.event(service, find_label(root, "Deep item")["id"])
    wait(lambda: os.path.exists(os.path.join(d, "deep")), "the submenu item's handler")
    try:
        host.event(service, 999999)
    except dbus.DBusException as e:
        assert "InvalidArgs" in e.get_dbus_name()
    else:
        raise AssertionError("an event for an item that does not exist was accepted")


@suite.test
def activation_and_scrolls_reach_the_applet():
    service = host_item("work")
    _proc, d = applets["work"]
    host.call(service, "SecondaryActivate", dbus.Int32(5), dbus.Int32(5))
    wait(lambda: os.path.exists(os.path.join(d, "secondary")), "the secondary activation")
    host.call(service, "Scroll", dbus.Int32(-120), "vertical")
    host.call(service, "Scroll", dbus.Int32(2 ** 31 - 1), "horizontal")
    wait(lambda: len(desk.read(os.path.join(d, "scroll")).split()) >= 2, "two scrolls")
    host.call(service, "Activate", dbus.Int32(1), dbus.Int32(1))


@suite.test
def updates_are_followed():
    service = host_item("work")
    proc, _d = applets["work"]
    n = len(host.signals)
    proc.send_signal(signal.SIGUSR1)
    wait(lambda: str(host.props(service)["Status"]) == "NeedsAttention", "NeedsAttention")
    wait(lambda: find_label(host.layout(service)[1], "Say goodbye") is not None,
         "the new label")
    wait(lambda: {"NewStatus", "LayoutUpdated"} <= {s[3] for s in host.signals[n:]},
         "NewStatus and LayoutUpdated")


@suite.test
def a_vm_with_tray_off_shows_none():
    start_applet(desk.vms["quiet"], "quiet")
    pump(2.0)
    assert len(host.items) == 1, host.items
    assert "vm=quiet connected" in desk.hostd_output()
    line = [l for l in desk.hostd_output().splitlines() if "vm=quiet connected" in l][-1]
    assert " tray" not in line and " notify" in line, line


@suite.test
def a_restarted_watcher_gets_the_items_again():
    global host
    host.close()
    pump(0.5)
    host = TrayHost(desk.host_bus)
    service = host_item("work")
    assert str(host.props(service)["Title"]) == "[work] Test applet"


@suite.test
def icons_can_wear_a_tint_instead_of_a_border():
    service = host_item("work")
    border = sorted(host.props(service)["IconPixmap"], key=lambda p: int(p[0]))[-1]
    assert color_near(pixmap_pixel(border, 0, 0)[:3], RED), pixmap_pixel(border, 0, 0)
    assert desk.stop_hostd() == 0
    host.wait_items(0, "items after hostd went")
    desk.start_hostd(["--tray-icons", "tint"])
    service = host_item("work")  # guestd sends its items again to the new link
    tinted = sorted(host.props(service)["IconPixmap"], key=lambda p: int(p[0]))[-1]
    size = int(tinted[0])
    # the applet's green square keeps its lightness and takes the VM's hue: red over green
    r, g, b, a = pixmap_pixel(tinted, size // 2, size // 2)
    assert a == 255 and r > g + 40 and r > b + 40, (r, g, b, a)
    # no border: the corner is the applet's own (transparent) corner, tinted or not
    assert not color_near(pixmap_pixel(tinted, 0, 0)[:3], RED) or \
        pixmap_pixel(tinted, 0, 0)[3] < 255, pixmap_pixel(tinted, 0, 0)
    assert str(host.props(service)["Title"]) == "[work] Test applet"


@suite.test
def items_vanish_with_the_applet_and_with_the_vm():
    proc, _d = applets.pop("work")
    desk.stop(proc)
    host.wait_items(0, "items after the applet went")
    start_applet(desk.vms["work"], "work")
    host_item("work")
    desk.stop(desk.vms["work"].proc)  # the VM's agent goes
    host.wait_items(0, "items after the VM went")
    assert desk.hostd_alive() and desk.host_bus.alive()


@suite.test
def daemons_exit_cleanly():
    for proc, _d in applets.values():
        desk.stop(proc)
    desk.stop_daemons_checked()


failed = suite.run(exit=False)
if host is not None:
    try:
        host.close()
    except Exception:
        pass
desk.close()
if sway is not None:
    sway.__exit__(None, None, None)
sys.exit(1 if failed else 0)
