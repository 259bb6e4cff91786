#!/usr/bin/env python3
"""Not a test: notification latency from a guest's Notify call to the host's
server (p50, p90), tray icon update latency from a guest item's NewIcon to
the host item's NewIcon (p50, p90), and vmdesk-hostd's CPU while a guest
floods notifications at the rate limit. Prints a table; exits 0.

    bench-notify.py [SAMPLES]
"""

import os
import sys
import time

import dbus
import dbus.service
from desklib import Desk, TrayHost, pump
from gi.repository import GLib

SAMPLES = int(sys.argv[1]) if len(sys.argv) > 1 else 200
ITEM = "org.kde.StatusNotifierItem"


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


class Item(dbus.service.Object):
    """A guest tray item whose icon changes color on demand."""

    def __init__(self, conn):
        super().__init__(conn, "/bench/Item")
        self.color = 0

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="s", out_signature="a{sv}")
    def GetAll(self, iface):
        px = bytes([255, self.color, 255 - self.color, 0]) * (32 * 32)
        return {"Id": "bench", "Title": "Bench", "Status": "Active",
                "IconPixmap": dbus.Array([dbus.Struct((dbus.Int32(32), dbus.Int32(32),
                                                       dbus.Array(px, signature="y")))],
                                         signature="(iiay)")}

    @dbus.service.signal(ITEM, signature="")
    def NewIcon(self):
        pass


def main():
    desk = Desk()
    try:
        desk.start_notifyd()
        work = desk.add_vm("work", "red")
        desk.start_hostd(["--notify-burst", "100", "--notify-interval-ms", "100",
                          "--log-level", "info"])
        desk.wait_vm(work)
        # notification latency, one at a time
        lat = []
        for i in range(SAMPLES):
            t0 = time.monotonic()
            work.notify("bench %d" % i)
            rec = desk.wait_record(lambda r, i=i: r["summary"] == "[work] bench %d" % i, "rec")
            lat.append((rec["t"] - t0) * 1000)
            if i % 20 == 19:
                time.sleep(2.1)  # stay inside the rate limit: 100 at once, 10 a second
        # tray icon update latency
        host = TrayHost(desk.host_bus)
        conn = work.bus.connect()
        item = Item(conn)
        watcher = conn.get_object("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher")
        watcher.RegisterStatusNotifierItem("/bench/Item",
                                           dbus_interface="org.kde.StatusNotifierWatcher")
        host.wait_items(1)
        tray = []
        for i in range(min(SAMPLES, 100)):
            pump(0.35)  # past the guest's 200 ms and the host's 100 ms spacing
            n = len(host.signals)
            item.color = ((i + 1) * 37) % 256  # never the color before
            t0 = time.monotonic()
            item.NewIcon()
            ctx = GLib.MainContext.default()
            while not any(s[3] == "NewIcon" for s in host.signals[n:]):
                ctx.iteration(True)  # the next event, no polling interval in the measure
                if time.monotonic() - t0 > 10:
                    raise AssertionError("no NewIcon from the host item")
            tray.append((time.monotonic() - t0) * 1000)
        # hostd CPU while a guest floods at the rate limit
        pid = desk.hostd.pid
        c0, t0 = cpu_seconds(pid), time.monotonic()
        sent = 0
        while time.monotonic() - t0 < 10:
            work.notify("flood %d" % sent)
            sent += 1
        wall = time.monotonic() - t0
        cpu = cpu_seconds(pid) - c0
        print("| metric | value |")
        print("| --- | ---: |")
        print("| notification latency, guest Notify -> host server, p50 (ms) | %.2f |"
              % pct(lat, 0.5))
        print("| notification latency p90 (ms) | %.2f |" % pct(lat, 0.9))
        print("| tray icon update latency, guest NewIcon -> host NewIcon, p50 (ms) | %.2f |"
              % pct(tray, 0.5))
        print("| tray icon update latency p90 (ms) | %.2f |" % pct(tray, 0.9))
        print("| flood: Notify calls sent in %.0f s | %d (%.0f/s) |" % (wall, sent, sent / wall))
        print("| flood: hostd CPU | %.1f%% of a core |" % (100 * cpu / wall))
        print("(%d notification samples, %d tray samples)" % (len(lat), len(tray)))
    finally:
        desk.close()


main()
