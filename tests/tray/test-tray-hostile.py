#!/usr/bin/env python3
"""Hostile tray items (qubes-integration.md §10, lines 49-52), each checked to
leave the host bus, vmdesk-hostd and another VM's item working: pixmaps
that are empty, lying, a thousand or huge; titles, ids and tooltips with
escapes, bidi controls, markup and 2 MB; a bogus status; menus too deep,
too wide, with negative, zero and duplicate ids, a 1 MB label, wrong types
and a PNG bomb; an item that never answers, one whose owner goes in the
middle of a call, a storm of updates; and a fake guest that writes the link
by hand: cycles, unknown parents, depth, lying icons, too many items,
another VM's ids, a flood."""

import os
import signal
import subprocess
import sys
import time

import tap
import vdlink as v
from desklib import (PY, Desk, FakeGuest, TrayHost, color_near, count_items, depth_of, frame,
                     no_raw_controls, pixmap_pixel, pump, wait)

suite = tap.Suite()
desk = Desk()
HERE = os.path.dirname(os.path.abspath(__file__))
RED = (0xcc, 0x00, 0x00)
host = None
evil = None
bank_item = None


def start_raw(vm_name, mode, expect_item=True):
    d = desk.path("raw-%s-%s-%f" % (vm_name, mode, time.monotonic()))
    os.makedirs(d)
    proc = subprocess.Popen([PY, os.path.join(HERE, "raw-item.py"), d, mode],
                            env=desk.vms[vm_name].env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(d + ".log", "w"))
    desk.procs.append(proc)
    wait(lambda: os.path.exists(os.path.join(d, "ready")) or proc.poll() is not None,
         "raw item " + mode)
    return proc, d


class raw:
    """A raw item of a VM for the length of a with block; its host item goes with it."""

    def __init__(self, vm_name, mode):
        self.vm_name, self.mode = vm_name, mode

    def __enter__(self):
        self.proc, self.dir = start_raw(self.vm_name, self.mode)
        return self

    def __exit__(self, *exc):
        desk.stop(self.proc)
        wait(lambda: item_of(self.vm_name) is None, "%s's item to go" % self.vm_name)
        return False


def item_of(vm_name):
    for service in list(host.items):
        try:
            if str(host.props(service)["Id"]).startswith("[%s]" % vm_name):
                return service
        except Exception:
            continue
    return None


def count_of(vm_name):
    n = 0
    for service in list(host.items):
        try:
            n += str(host.props(service)["Id"]).startswith("[%s]" % vm_name)
        except Exception:
            continue
    return n


def wait_item(vm_name):
    return wait(lambda: item_of(vm_name), "a host item of " + vm_name, 20)


def host_side_ok():
    assert desk.hostd_alive(), "hostd died:\n" + desk.hostd_output()[-3000:]
    assert desk.host_bus.alive(), "the host bus died"
    props = host.props(bank_item)
    assert str(props["Title"]) == "[bank] Raw item", props["Title"]


def center(service):
    pixmaps = sorted(host.props(service)["IconPixmap"], key=lambda p: int(p[0]))
    assert [int(p[0]) for p in pixmaps] == [24, 48], [int(p[0]) for p in pixmaps]
    big = pixmaps[1]
    assert color_near(pixmap_pixel(big, 0, 0)[:3], RED), pixmap_pixel(big, 0, 0)
    return pixmap_pixel(big, 24, 24)[:3]


@suite.test
def setup():
    global host, evil, bank_item
    host = TrayHost(desk.host_bus)
    desk.add_vm("work", "red")
    desk.add_vm("bank", "blue")
    evil = FakeGuest(desk.path("evil.sock"))
    desk.write_vm("evil", text="[vm]\ncolor = orange\nagent = unix:%s\n" % evil.path)
    desk.start_hostd()
    desk.wait_vm(desk.vms["work"])
    desk.wait_vm(desk.vms["bank"])
    wait(lambda: evil.ready.is_set(), "the fake guest's handshake")
    start_raw("bank", "normal")
    bank_item = wait_item("bank")


@suite.test
def pixmaps_empty_lying_many_and_huge():
    for mode, want in (("pixmaps-none", None), ("pixmaps-lying", None),
                       ("pixmaps-many", (0, 200, 0)), ("pixmaps-huge", (0, 200, 0))):
        with raw("work", mode):
            service = wait_item("work")
            got = center(service)
            if want is None:  # the VM's badge: its color, the VM's initial in the middle
                pixmaps = sorted(host.props(service)["IconPixmap"], key=lambda p: int(p[0]))
                assert color_near(pixmap_pixel(pixmaps[1], 2, 24)[:3], RED), mode
            else:
                assert color_near(got, want), (mode, got)
        host_side_ok()


@suite.test
def titles_ids_and_tooltips_are_sanitized_and_escaped():
    with raw("work", "text"):
        props = host.props(wait_item("work"))
    title, item_id = str(props["Title"]), str(props["Id"])
    assert title == "[work] [31mRed[0m evil [vault] fake", repr(title)
    assert item_id == "[work] id withx", repr(item_id)  # the isolate is gone, not a space
    tip_title, tip_body = str(props["ToolTip"][2]), str(props["ToolTip"][3])
    assert tip_title == "[work] &lt;b&gt;bold&lt;/b&gt;]0;x", repr(tip_title)
    assert tip_body.startswith("&lt;a href=&apos;file:///etc/passwd&apos;&gt;x&lt;/a&gt; "
                               "&amp;amp;\n"), tip_body[:100]
    assert len(tip_body.encode()) <= 4096 * 6, len(tip_body)
    for text in (title, item_id, tip_title, tip_body):
        assert no_raw_controls(text), repr(text)
    assert str(props["Status"]) == "Active" and str(props["Category"]) == "ApplicationStatus"
    assert int(props["WindowId"]) == 0 and str(props["IconThemePath"]) == ""
    host_side_ok()


@suite.test
def menus_too_deep_too_wide_and_broken_are_cut():
    with raw("work", "menu-deep"):
        service = wait_item("work")
        wait(lambda: host.layout(service)[1]["children"], "the deep menu")
        _rev, root = host.layout(service)
        assert depth_of(root) == 5, depth_of(root)  # the root and 4 levels
    with raw("work", "menu-wide"):
        service = wait_item("work")
        wait(lambda: host.layout(service)[1]["children"], "the wide menu")
        _rev, root = host.layout(service)
        assert count_items(root) == 257, count_items(root)
    with raw("work", "menu-bad") as item:
        service = wait_item("work")
        wait(lambda: host.layout(service)[1]["children"], "the broken menu")
        _rev, root = host.layout(service)
        check_broken_menu(service, root, item.dir)
    host_side_ok()


def check_broken_menu(service, root, d):
    ids = []

    def walk(n):
        ids.append(n["id"])
        for c in n["children"]:
            walk(c)
    walk(root)
    assert ids[0] == 0 and all(i > 0 for i in ids[1:]) and len(set(ids)) == len(ids), ids
    by_id = {}

    def index(n):
        by_id[n["id"]] = n
        for c in n["children"]:
            index(c)
    index(root)
    assert len(by_id[1]["props"]["label"].encode()) <= 256, len(by_id[1]["props"]["label"])
    assert set(by_id[2]["props"]) == {"label"}, by_id[2]["props"]  # wrong types: defaults
    assert "icon-data" not in by_id[3]["props"], by_id[3]["props"]  # the PNG bomb
    assert by_id[4]["props"]["label"] == "[2Jclear", repr(by_id[4]["props"]["label"])
    assert set(by_id[4]["props"]) <= {"label", "children-display"}, by_id[4]["props"]
    host.event(service, 4)
    wait(lambda: os.path.exists(os.path.join(d, "event-4")), "the click on the item")


@suite.test
def an_item_that_never_answers_costs_a_timeout():
    mark = len(desk.read(desk.vms["work"].log))
    with raw("work", "silent"):
        wait(lambda: "its properties cannot be read" in desk.read(desk.vms["work"].log)[mark:],
             "the guest to give up on it")
        assert item_of("work") is None, host.items
        host_side_ok()  # meanwhile the host and bank's item work
    with raw("work", "vanish"):
        wait(lambda: "gone" in desk.read(desk.vms["work"].log)[mark:], "the vanished item")
        assert item_of("work") is None
    host_side_ok()


@suite.test
def a_storm_of_updates_is_rate_limited_on_both_sides():
    with raw("work", "normal") as item:
        storm(item.proc, item.dir, wait_item("work"))
    host_side_ok()


def storm(proc, d, service):
    name = service.split("/")[0]
    pump(0.5)
    calls = lambda f: len(desk.read(os.path.join(d, f)).split())  # noqa: E731
    before_layout, before_all = calls("getlayout"), calls("getall")
    n = len(host.signals)
    start = time.monotonic()
    proc.send_signal(signal.SIGUSR1)
    wait(lambda: os.path.exists(os.path.join(d, "stormed")), "the storm", 60)
    pump(1.0)
    elapsed = time.monotonic() - start
    # 10,000 signals: the guest reads the item at most every 200 ms
    layouts, alls = calls("getlayout") - before_layout, calls("getall") - before_all
    assert 1 <= layouts <= elapsed / 0.2 + 2, (layouts, elapsed)
    assert 1 <= alls <= elapsed / 0.2 + 2, (alls, elapsed)
    mine = [s for s in host.signals[n:] if s[0] == name or s[0].startswith(":")]
    assert len(mine) <= (elapsed / 0.1 + 2) * 6, (len(mine), elapsed)


# ---- a guest that writes the link by hand ----

def item_frames(msg_id, title="evil item"):
    return [frame("tray_item", msg_id, item_id="evil", title=title, category=1, status=2,
                  tooltip_title="", tooltip_body="", item_is_menu=0, has_menu=1)]


def menu_item(mid, parent, label="x", icon=b"", w=0, h=0):
    return (mid, parent, 1, 3, 0, 0, label, w, h, icon)


def evil_dropped(*frames, why="protocol error"):
    mark = len(desk.hostd_output())
    evil.send(*frames)
    wait(lambda: evil.closed.is_set(), "hostd to drop the evil guest")
    wait(lambda: why in desk.hostd_output()[mark:], "the reason in hostd's log: " + why)
    wait(lambda: evil.ready.is_set() and not evil.closed.is_set(), "the evil guest back", 20)
    wait(lambda: item_of("evil") is None, "evil's items gone with its link")
    host_side_ok()


def raw_menu(items):
    return v.frame(v.TRAY_MENU, v.payload("guest", "tray_menu", items=items), msg_id=1)


@suite.test
def broken_menus_from_the_link_drop_it():
    evil.send(*item_frames(1))
    wait(lambda: item_of("evil"), "evil's item")
    evil_dropped(raw_menu([menu_item(1, 2), menu_item(2, 1)]), why="parent 2 not before it")
    evil.send(*item_frames(1))
    evil_dropped(raw_menu([menu_item(1, 0), menu_item(1, 0)]), why="menu item 1 twice")
    evil.send(*item_frames(1))
    deep = [menu_item(i, i - 1) for i in range(1, 6)]
    evil_dropped(raw_menu(deep), why="deeper than 4 levels")
    evil.send(*item_frames(1))
    evil_dropped(raw_menu([menu_item(1, 0, icon=b"\0" * 10, w=2, h=2)]), why="menu icon")


@suite.test
def lying_icons_and_missing_ids_drop_the_link():
    evil.send(*item_frames(1))
    raw = v.payload("guest", "tray_icon", kind=1, width=16, height=16, data=b"\xff" * 100)
    evil_dropped(v.frame(v.TRAY_ICON, raw, msg_id=1), why="icon of 100 bytes")
    evil_dropped(*item_frames(0), why="without an item id")


@suite.test
def too_many_items_another_vms_ids_and_a_flood():
    start_raw("work", "normal")
    work_service = wait_item("work")
    frames = []
    for i in range(1, 18):
        frames += item_frames(i, "item %d" % i)
    evil.send(*frames)
    wait(lambda: count_of("evil") == 16, "16 of evil's items")
    assert "vm=evil tray items beyond 16 ignored" in desk.hostd_output()
    # work's guest item has id 1 too: removing evil's 1 leaves work's alone
    evil.send(frame("tray_remove", 1))
    wait(lambda: count_of("evil") == 15, "15 of evil's items")
    assert str(host.props(work_service)["Title"]) == "[work] Raw item"
    icon = v.encode("guest", "tray_icon", msg_id=2, kind=1, width=16, height=16,
                    data=bytes([0, 0, 255, 255]) * 256)
    evil.send(icon * 2000)
    wait(lambda: "vm=evil tray updates dropped" in desk.hostd_output(), "the flood's log line")
    assert desk.hostd_output().count("vm=evil tray updates dropped") == 1
    host_side_ok()
    assert str(host.props(work_service)["Title"]) == "[work] Raw item"


@suite.test
def logs_hold_no_raw_controls():
    for path in [desk.hostd_log] + [vm.log for vm in desk.vms.values()]:
        assert no_raw_controls(desk.read(path)), path


@suite.test
def daemons_exit_cleanly():
    evil.stop()
    desk.stop_daemons_checked()


failed = suite.run(exit=False)
if host is not None:
    try:
        host.close()
    except Exception:
        pass
desk.close()
sys.exit(1 if failed else 0)
