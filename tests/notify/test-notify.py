#!/usr/bin/env python3
"""VM notifications end to end, with real peers: a private session bus per
guest with vmdesk-guestd on it, vmdesk-hostd over the unix: carrier, a
private host bus with a notification server that records every field;
notify-send (libnotify) with actions and --wait, a GDBus (python3-gi) client
with an image, python-dbus clients for replace, close and signals; two VMs
that cannot touch each other's notifications; a restart of the host's
server; a VM that goes; the rate limit."""

import os
import struct
import sys
import subprocess
import time
import zlib

import dbus
import tap
from desklib import (Desk, Signals, color_near, image_pixel, no_raw_controls, pump, wait)
from gi.repository import Gio, GLib

suite = tap.Suite()
desk = Desk()
RED = (0xcc, 0x00, 0x00)  # Qubes' red label
BURST = 20


def notify_send(vm, *args, wait_exit=True, **kw):
    argv = ["notify-send"] + list(args)
    if wait_exit:
        return subprocess.run(argv, env=vm.env(), capture_output=True, timeout=30, **kw)
    return subprocess.Popen(argv, env=vm.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def host_side_ok():
    """The host bus, hostd and the other VM all still work."""
    assert desk.hostd_alive(), "hostd died:\n" + desk.hostd_output()[-3000:]
    assert desk.host_bus.alive(), "the host bus died"
    marker = "still there %f" % time.monotonic()
    desk.vms["bank"].notify(marker)
    desk.wait_record(lambda r: r["summary"] == "[bank] " + marker, "bank's notification")


@suite.test
def setup():
    desk.start_notifyd()
    desk.add_vm("work", "red")
    desk.add_vm("bank", "blue")
    desk.add_vm("flood", "green")
    desk.start_hostd(["--notify-burst", str(BURST), "--notify-interval-ms", "500"])
    for vm in desk.vms.values():
        desk.wait_vm(vm)


@suite.test
def notify_send_shows_vm_name_color_and_checked_fields():
    work = desk.vms["work"]
    r = notify_send(work, "-a", "Mailer", "-u", "critical", "-c", "email.arrived", "-t", "5000",
                    "Summary text", "Body text\nsecond line")
    assert r.returncode == 0, r.stderr
    rec = desk.wait_record(lambda r: r["summary"] == "[work] Summary text", "the notification")
    assert rec["app"] == "vmdesk: work", rec
    assert rec["body"] == "Body text\nsecond line", rec
    assert rec["icon"] == "", rec
    assert rec["replaces_id"] == 0, rec
    assert rec["expire"] == 5000, rec
    hints = rec["hints"]
    assert hints["urgency"] == 2, hints
    assert hints["category"] == "email.arrived", hints
    assert hints["x-vmdesk-vm"] == "work", hints
    assert hints["x-vmdesk-color"] == "#cc0000", hints
    # no image from the guest: the VM's badge, a square in its color
    image = hints["image-data"]
    assert image["width"] == image["height"] == 64 and image["channels"] == 4, image
    assert color_near(image_pixel(image, 1, 1)[:3], RED), image_pixel(image, 1, 1)
    assert set(hints) <= {"urgency", "category", "x-vmdesk-vm", "x-vmdesk-color", "image-data",
                          "transient", "resident"}, hints


@suite.test
def actions_and_wait_round_trip():
    work = desk.vms["work"]
    proc = notify_send(work, "-A", "default=Open", "-A", "later=Remind me later", "--wait",
                       "Meeting", "in 5 minutes", wait_exit=False)
    rec = desk.wait_record(lambda r: r["summary"] == "[work] Meeting", "the notification")
    assert rec["actions"] == ["default", "Open", "later", "Remind me later"], rec["actions"]
    desk.test_iface().Invoke(dbus.UInt32(rec["id"]), "later", dbus_interface="org.vmdesk.Test")
    desk.test_iface().Close(dbus.UInt32(rec["id"]), dbus.UInt32(2),
                            dbus_interface="org.vmdesk.Test")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out.decode().strip() == "later", (out, err)


@suite.test
def replace_and_close_map_through_the_vm_table():
    work = desk.vms["work"]
    sigs = Signals(work.bus.conn)
    first = work.notify("Download 10%")
    rec1 = desk.wait_record(lambda r: r["summary"] == "[work] Download 10%", "first")
    second = work.notify("Download 90%", replaces=first)
    assert second == first, (first, second)
    rec2 = desk.wait_record(lambda r: r["summary"] == "[work] Download 90%", "replacement")
    assert rec2["replaces_id"] == rec1["id"], (rec1, rec2)
    work.call("CloseNotification", dbus.UInt32(first))
    desk.wait_record(lambda r: r["id"] == rec1["id"], "CloseNotification on the host",
                     call="CloseNotification")
    wait(lambda: sigs.of("NotificationClosed", first), "NotificationClosed in the guest")
    assert sigs.of("NotificationClosed", first)[0][2] == 3, sigs.seen


@suite.test
def server_information_and_capabilities():
    work = desk.vms["work"]
    info = [str(s) for s in work.call("GetServerInformation")]
    assert info[0] == "vmdesk-guestd" and info[3] == "1.2", info
    caps = sorted(str(c) for c in work.call("GetCapabilities"))
    # what the host's server has and vmdesk carries: never body-markup (the host escapes)
    assert caps == ["actions", "body", "icon-static", "persistence"], caps


def png(width, height, rgba):
    raw = b"".join(b"\0" + bytes(rgba) * width for _ in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@suite.test
def gi_notification_with_an_image_gets_a_border_in_the_vm_color():
    work = desk.vms["work"]
    # a GDBus client (python3-gi), as GTK applications send it: image-data (iiibiiay)
    conn = Gio.DBusConnection.new_for_address_sync(
        work.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    green = bytes([0, 255, 0, 255]) * (32 * 32)
    image = GLib.Variant("(iiibiiay)", (32, 32, 32 * 4, True, 8, 4, green))
    hints = {"image-data": image, "desktop-entry": GLib.Variant("s", "evil.desktop")}
    args = GLib.Variant("(susssasa{sv}i)", ("gi-app", 0, "", "Picture", "with an image", [],
                                            hints, -1))
    reply = conn.call_sync("org.freedesktop.Notifications", "/org/freedesktop/Notifications",
                           "org.freedesktop.Notifications", "Notify", args,
                           GLib.VariantType("(u)"), Gio.DBusCallFlags.NONE, 10000, None)
    assert reply.unpack()[0] > 0
    conn.close_sync(None)
    rec = desk.wait_record(lambda r: r["summary"] == "[work] Picture", "the image notification")
    img = rec["hints"]["image-data"]
    assert img["width"] == img["height"] == 48, img  # 32 px scaled into the smallest image size
    assert color_near(image_pixel(img, 0, 0)[:3], RED), image_pixel(img, 0, 0)
    assert color_near(image_pixel(img, 24, 24)[:3], (0, 255, 0)), image_pixel(img, 24, 24)
    assert "desktop-entry" not in rec["hints"], rec["hints"]


@suite.test
def image_path_is_decoded_in_the_guest():
    work = desk.vms["work"]
    path = desk.path("guest-picture.png")
    with open(path, "wb") as f:
        f.write(png(64, 64, (0, 0, 255, 255)))
    work.notify("From a file", hints={"image-path": dbus.String("file://" + path)})
    rec = desk.wait_record(lambda r: r["summary"] == "[work] From a file", "the notification")
    img = rec["hints"]["image-data"]
    assert img["width"] == 64, img
    assert color_near(image_pixel(img, 0, 0)[:3], RED), image_pixel(img, 0, 0)
    assert color_near(image_pixel(img, 32, 32)[:3], (0, 0, 255)), image_pixel(img, 32, 32)


@suite.test
def vms_cannot_replace_close_or_hear_each_other():
    work, bank = desk.vms["work"], desk.vms["bank"]
    work_sigs, bank_sigs = Signals(work.bus.conn), Signals(bank.bus.conn)
    wid = work.notify("Work secret", actions=["open", "Open"])
    wrec = desk.wait_record(lambda r: r["summary"] == "[work] Work secret", "work's")
    # bank knows work's guest id (guessed): it is its own table that counts
    for attempt in range(3):
        bid = bank.notify("Bank %d" % attempt, replaces=wid)
        brec = desk.wait_record(lambda r, a=attempt: r["summary"] == "[bank] Bank %d" % a,
                                "bank's")
        assert brec["replaces_id"] != wrec["id"], (wrec, brec)
    bank.call("CloseNotification", dbus.UInt32(wid))
    bank.call("CloseNotification", dbus.UInt32(wrec["id"]))
    pump(0.5)
    closes = [r["id"] for r in desk.records("CloseNotification")]
    assert wrec["id"] not in closes, closes
    # the host's signals for work's notification reach work alone
    desk.test_iface().Invoke(dbus.UInt32(wrec["id"]), "open", dbus_interface="org.vmdesk.Test")
    wait(lambda: work_sigs.of("ActionInvoked", wid), "ActionInvoked in work")
    pump(0.3)
    assert not bank_sigs.of("ActionInvoked"), bank_sigs.seen
    assert work_sigs.of("ActionInvoked", wid)[0][2] == "open"
    # a host program that is not the server cannot speak for it
    desk.test_iface().Forge("ActionInvoked", dbus.UInt32(wrec["id"]), "forged",
                            dbus_interface="org.vmdesk.Test")
    pump(0.5)
    assert [s for s in work_sigs.seen if s[2] == "forged"] == [], work_sigs.seen
    assert bid != 0


@suite.test
def a_restart_of_the_host_server_is_followed():
    work = desk.vms["work"]
    sigs = Signals(work.bus.conn)
    nid = work.notify("Before restart")
    desk.wait_record(lambda r: r["summary"] == "[work] Before restart", "before")
    desk.stop_notifyd()
    wait(lambda: sigs.of("NotificationClosed", nid), "the guest hears that it is gone")
    desk.start_notifyd()
    desk.wait_log("notification server")
    nid2 = work.notify("After restart", actions=["default", "Go"])
    rec = desk.wait_record(lambda r: r["summary"] == "[work] After restart", "after")
    assert rec["actions"] == ["default", "Go"], rec
    assert nid2 != 0


@suite.test
def a_restart_of_hostd_closes_them_and_is_followed():
    work = desk.vms["work"]
    sigs = Signals(work.bus.conn)
    nid = work.notify("Before hostd restart", expire=0)
    rec = desk.wait_record(lambda r: r["summary"] == "[work] Before hostd restart", "before")
    assert desk.stop_hostd() == 0
    desk.wait_record(lambda r: r["id"] == rec["id"], "hostd closing what it showed",
                     call="CloseNotification")
    # the guest's server forgets what went with the link, and says so
    wait(lambda: sigs.of("NotificationClosed", nid), "the guest hears that it is gone")
    desk.start_hostd(["--notify-burst", str(BURST), "--notify-interval-ms", "500"])
    for vm in desk.vms.values():
        wait(lambda: desk.hostd_output().count("vm=%s connected" % vm.name) >= 2,
             "%s connected again" % vm.name)
    nid2 = work.notify("After hostd restart", actions=["default", "Go"])
    desk.wait_record(lambda r: r["summary"] == "[work] After hostd restart", "after")
    assert nid2 != 0 and work.proc.poll() is None
    host_side_ok()


@suite.test
def a_vm_that_goes_takes_its_notifications_along():
    gone = desk.add_vm("gone", "purple")  # hostd sees the new definition (inotify)
    desk.wait_vm(gone)
    gone.notify("Soon gone", expire=0)
    rec = desk.wait_record(lambda r: r["summary"] == "[gone] Soon gone", "gone's")
    desk.stop(gone.proc)  # its agent goes: the link drops
    desk.wait_record(lambda r: r["id"] == rec["id"], "its notification closed",
                     call="CloseNotification")
    host_side_ok()


@suite.test
def rate_limit_drops_the_excess_with_one_log_line():
    flood = desk.vms["flood"]
    before = len([r for r in desk.records() if r["summary"].startswith("[flood]")])
    start = time.monotonic()
    errors = 0
    for i in range(300):
        try:
            flood.notify("Flood %d" % i)
        except dbus.DBusException:
            errors += 1
    pump(1.0)
    elapsed = time.monotonic() - start
    shown = len([r for r in desk.records() if r["summary"].startswith("[flood]")]) - before
    # a burst, then one per 500 ms: an upper bound from the time it took, never a timing
    assert BURST <= shown <= BURST + int(elapsed * 2) + 1, (shown, elapsed)
    lines = [l for l in desk.hostd_output().splitlines()
             if "vm=flood notifications dropped" in l]
    assert len(lines) == 1, lines
    assert errors == 0, errors
    host_side_ok()


@suite.test
def logs_hold_no_raw_controls():
    for path in [desk.hostd_log] + [vm.log for vm in desk.vms.values()]:
        assert no_raw_controls(desk.read(path)), path


@suite.test
def daemons_exit_cleanly():
    desk.stop_daemons_checked()


failed = suite.run(exit=False)
desk.close()
sys.exit(1 if failed else 0)
