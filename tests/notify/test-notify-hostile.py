#!/usr/bin/env python3
"""Hostile notifications (qubes-integration.md §10, lines 35-42), each checked
to leave the host bus, vmdesk-hostd and another VM working: markup and
escape injection, bidi overrides, a summary posing as another VM, 501
lines, a line of a million characters, a 10 MB body, bad actions, bad
hints and lying images, bad expire times and replace ids, a flood; and
from a fake guest that writes the link by hand: ids of another VM, frames
that break the link's rules, oversized frames. Logs stay escaped."""

import os
import sys
import time

import dbus
import tap
import vdlink as v
from desklib import (Desk, FakeGuest, Signals, color_near, image_pixel, no_raw_controls,
                     notify_frame, pump, wait)

suite = tap.Suite()
desk = Desk()
RED = (0xcc, 0x00, 0x00)
evil = None


def host_side_ok():
    assert desk.hostd_alive(), "hostd died:\n" + desk.hostd_output()[-3000:]
    assert desk.host_bus.alive(), "the host bus died"
    marker = "still there %f" % time.monotonic()
    desk.vms["bank"].notify(marker)
    desk.wait_record(lambda r: r["summary"] == "[bank] " + marker, "bank's notification")


def shown(summary, **kw):
    """Sends from work, returns what the host's server got."""
    work = desk.vms["work"]
    tag = "t%f" % time.monotonic()
    work.notify(tag + summary, **kw)
    return desk.wait_record(lambda r: r["summary"].startswith("[work] " + tag), tag)


@suite.test
def setup():
    global evil
    desk.start_notifyd()
    desk.add_vm("work", "red")
    desk.add_vm("bank", "blue")
    evil = FakeGuest(desk.path("evil.sock"))
    desk.write_vm("evil", text="[vm]\ncolor = orange\nagent = unix:%s\n" % evil.path)
    desk.start_hostd(["--notify-burst", "200", "--notify-interval-ms", "10"])
    desk.wait_vm(desk.vms["work"])
    desk.wait_vm(desk.vms["bank"])
    wait(lambda: evil.ready.is_set(), "the fake guest's handshake")


@suite.test
def markup_is_escaped_never_parsed():
    body = ('<b>bold</b> <a href="file:///etc/passwd">x</a> <img src="/home/u/.ssh/id_rsa"/> '
            '&amp; <b unterminated &#x1b; \' "')
    rec = shown("<i>sum</i>", body=body)
    assert rec["body"] == ("&lt;b&gt;bold&lt;/b&gt; &lt;a href=&quot;file:///etc/passwd&quot;&gt;"
                           "x&lt;/a&gt; &lt;img src=&quot;/home/u/.ssh/id_rsa&quot;/&gt; "
                           "&amp;amp; &lt;b unterminated &amp;#x1b; &apos; &quot;"), rec["body"]
    # the summary is never markup in the spec: sanitized, not escaped
    assert rec["summary"].endswith("<i>sum</i>"), rec["summary"]
    host_side_ok()


@suite.test
def escapes_bidi_and_invisible_characters_are_removed():
    summary = "\x1b[31mred\x1b[0m \u202eevil\u202c \u2066iso\u2069 zero\u200bwidth\u00ad \x07bell"
    body = "line\x1b]0;title\x07\r\nnext\u202e\rthird\u2028fourth\x85"
    rec = shown(summary, body=body)
    for text in (rec["summary"], rec["body"]):
        assert no_raw_controls(text), repr(text)
        for ch in "\u202e\u202c\u2066\u2069\u200b\u00ad\u2028\x85":
            assert ch not in text, (ch, text)
    assert rec["summary"].endswith("[31mred[0m evil iso zerowidth bell"), rec["summary"]
    assert rec["body"].split("\n")[:3] == ["line]0;title", "next", "third fourth"], rec["body"]
    host_side_ok()


@suite.test
def a_summary_posing_as_another_vm_keeps_the_real_prefix_first():
    work = desk.vms["work"]
    work.notify("[vault] Password expired")
    rec = desk.wait_record(lambda r: "Password expired" in r["summary"], "the notification")
    assert rec["summary"] == "[work] [vault] Password expired", rec["summary"]
    assert rec["hints"]["x-vmdesk-vm"] == "work"
    host_side_ok()


@suite.test
def long_bodies_are_wrapped_and_cut():
    rec = shown("501 lines", body="\n".join("line %d" % i for i in range(501)))
    lines = rec["body"].split("\n")
    assert len(lines) == 500 and lines[-1].endswith("\u2026"), (len(lines), lines[-1])
    rec = shown("long line", body="x" * 1000001)
    lines = rec["body"].split("\n")
    assert all(len(l) <= 1000 for l in lines), max(len(l) for l in lines)
    assert len(rec["body"].encode()) <= 65536, len(rec["body"])
    rec = shown("10 MB", body="\u00e9" * (5 * 1024 * 1024))  # 10 MiB of UTF-8
    assert len(rec["body"].encode()) <= 65536 and rec["body"].endswith("\u2026")
    host_side_ok()


@suite.test
def bad_actions_are_dropped_one_by_one():
    actions = ["good", "Good", "", "empty key", "1abc", "digit", "k" * 256, "long", "a b",
               "space", "a/b", "slash", "\u00e9t\u00e9", "utf8", "ok.key:2-x", "Label\x1b[2J\n",
               "odd-one-out"]
    rec = shown("actions", actions=actions)
    assert rec["actions"] == ["good", "Good", "ok.key:2-x", "Label[2J"], rec["actions"]
    many = []
    for i in range(1000):
        many += ["a%d" % i, "Action %d" % i]
    rec = shown("1000 actions", actions=many)
    assert len(rec["actions"]) == 16, len(rec["actions"])
    host_side_ok()


def image_data(w, h, stride, alpha, bits, channels, data):
    return dbus.Struct((dbus.Int32(w), dbus.Int32(h), dbus.Int32(stride), dbus.Boolean(alpha),
                        dbus.Int32(bits), dbus.Int32(channels),
                        dbus.Array(data, signature="y")), signature="iiibiiay")


def is_badge(rec):
    img = rec["hints"]["image-data"]
    return img["width"] == 64 and color_near(image_pixel(img, 32, 2)[:3], RED)


@suite.test
def bad_hints_are_ignored():
    rec = shown("urgency int32", hints={"urgency": dbus.Int32(2), "category": "Email"})
    assert rec["hints"]["urgency"] == 1 and "category" not in rec["hints"], rec["hints"]
    rec = shown("urgency 3", hints={"urgency": dbus.Byte(3), "category": "a.."})
    assert rec["hints"]["urgency"] == 1 and "category" not in rec["hints"], rec["hints"]
    for category in ("email.", "x" * 65, "e-mail", "\u00e9"):
        rec = shown("category", hints={"category": category})
        assert "category" not in rec["hints"], (category, rec["hints"])
    for hints in ({"desktop-entry": "firefox"}, {"image-path": "/etc/shadow"},
                  {"image-path": "../../../../etc/passwd"}, {"sound-file": "/dev/zero"},
                  {"x": dbus.Int32(0), "y": dbus.Int32(0)}):
        rec = shown("hints", hints=hints)
        assert set(rec["hints"]) == {"urgency", "x-vmdesk-vm", "x-vmdesk-color",
                                     "image-data"}, rec["hints"]
        assert is_badge(rec), rec["hints"]["image-data"]["width"]
    rec = shown("app_icon", icon="file:///")
    assert is_badge(rec)
    host_side_ok()


@suite.test
def lying_and_huge_images_are_refused_in_the_guest():
    px = [0, 255, 0, 255]
    cases = [
        (0, 16, 64, True, 8, 4, px * 16),  # zero width
        (16, 0, 64, True, 8, 4, px * 16),
        (16, 16, 8, True, 8, 4, px * 256),  # stride too small
        (16, 16, 64, True, 8, 4, px * 100),  # data short
        (16, 16, 128, True, 16, 4, px * 512),  # 16 bits per sample
        (16, 16, 64, False, 8, 4, px * 256),  # four channels without alpha
        (16, 16, 48, True, 8, 3, [0, 255, 0] * 256),  # three channels with alpha
        (5000, 1, 20000, True, 8, 4, px * 5000),  # wider than any source
        (-1, -1, -4, True, 8, 4, px),
    ]
    for case in cases:
        rec = shown("bad image", hints={"image-data": image_data(*case)})
        assert is_badge(rec), case[:6]
    # a good one of 256x256 and one of 2.5 MiB (1000x640) are scaled, framed
    for w, h in ((256, 256), (1000, 640)):
        rec = shown("big image", hints={"image-data": image_data(w, h, w * 4, True, 8, 4,
                                                                 px * (w * h))})
        img = rec["hints"]["image-data"]
        assert img["width"] == 128 and color_near(image_pixel(img, 0, 0)[:3], RED), img["width"]
        assert color_near(image_pixel(img, 64, 64)[:3], (0, 255, 0)), image_pixel(img, 64, 64)
    host_side_ok()


@suite.test
def expire_times_and_replace_ids_are_checked():
    work = desk.vms["work"]
    for expire in (-2, -2147483648):
        try:
            work.notify("bad expire", expire=expire)
        except dbus.DBusException as e:
            assert "InvalidArgs" in e.get_dbus_name(), e
        else:
            raise AssertionError("expire %d accepted" % expire)
    rec = shown("capped", expire=2147483647)
    assert rec["expire"] == 120000, rec["expire"]
    rec = shown("never", expire=0)
    assert rec["expire"] == 0, rec["expire"]
    rec = shown("random replace", replaces=0xdeadbeef)
    assert rec["replaces_id"] == 0, rec
    host_side_ok()


@suite.test
def a_flood_of_notify_calls_is_rate_limited():
    bank = desk.vms["bank"]
    pump(2.5)  # bank's bucket refills: its own traffic must not count against work below
    work = desk.vms["work"]
    before = len(desk.records())
    start = time.monotonic()
    # sent without waiting for each reply: with a round trip of 5 ms or more
    # (ASan, a loaded machine) calls one by one would never pass 100 a second
    for i in range(2000):
        work.notify("flood %d" % i, wait_reply=False)
    wait(lambda: "vm=work notifications dropped" in desk.hostd_output(),
         "hostd to drop work's excess")
    pump(0.5)
    elapsed = time.monotonic() - start
    got = len(desk.records()) - before
    assert got <= 200 + int(elapsed * 100) + 1, (got, elapsed)
    assert bank is not None
    pump(2.5)
    host_side_ok()


# ---- a guest that writes the link by hand ----

def evil_dropped(*frames, why):
    mark = len(desk.hostd_output())
    evil.send(*frames)
    wait(lambda: evil.closed.is_set(), "hostd to drop the evil guest")
    wait(lambda: why in desk.hostd_output()[mark:], "the reason in hostd's log: " + why)
    wait(lambda: evil.ready.is_set() and not evil.closed.is_set(), "the evil guest back", 20)
    host_side_ok()


@suite.test
def another_vms_ids_mean_nothing_to_the_fake_guest():
    work = desk.vms["work"]
    wid = work.notify("work's own")
    wrec = desk.wait_record(lambda r: r["summary"] == "[work] work's own", "work's")
    sigs = Signals(work.bus.conn)
    evil.send(notify_frame(wid, "replacing work's", flags=v.NOTIFY_FLAGS_REPLACE),
              v.encode("guest", "notify_close", msg_id=wid))
    erec = desk.wait_record(lambda r: r["summary"] == "[evil] replacing work's", "evil's")
    assert erec["replaces_id"] == 0, erec
    wait(lambda: evil.got("notify_closed", wid), "evil's own close answered")
    closes = [r["id"] for r in desk.records("CloseNotification")]
    assert erec["id"] in closes and wrec["id"] not in closes, (wrec, erec, closes)
    # the host's server answers about work's notification: evil hears nothing of it
    desk.test_iface().Invoke(dbus.UInt32(wrec["id"]), "default", dbus_interface="org.vmdesk.Test")
    wait(lambda: work_sigs_action(sigs, wid), "work's ActionInvoked")
    pump(0.3)
    assert not [f for f in evil.frames if f[0] == "notify_action"], evil.frames
    host_side_ok()


def work_sigs_action(sigs, wid):
    return sigs.of("ActionInvoked", wid)


@suite.test
def a_notification_without_an_id_drops_the_link():
    evil_dropped(notify_frame(0, "no id"), why="without a notification id")


@suite.test
def frames_that_break_the_rules_drop_the_link():
    invalid_utf8 = notify_frame(1, "x@x")[12:].replace(b"x@x", b"x\xffx")
    evil_dropped(v.frame(v.NOTIFY, invalid_utf8, msg_id=1), why="protocol error")
    control = notify_frame(3, "bad \x01")[12:]
    evil_dropped(v.frame(v.NOTIFY, control, msg_id=3), why="protocol error")
    raw = v.payload("guest", "notify", flags=0, app_name="a", summary="s", body="",
                    actions=[], urgency=1, category="", expire_ms=v.NOTIFY_EXPIRE_DEFAULT,
                    image_width=2, image_height=2, image=b"\0" * 15)
    evil_dropped(v.frame(v.NOTIFY, raw, msg_id=5), why="image of 15 bytes")
    raw = v.payload("guest", "notify", flags=0, app_name="a", summary="s", body="",
                    actions=[], urgency=1, category="", expire_ms=0x7fffffff,
                    image_width=0, image_height=0, image=b"")
    evil_dropped(v.frame(v.NOTIFY, raw, msg_id=6), why="expire timeout")
    raw = v.payload("guest", "notify", flags=0, app_name="a", summary="s", body="",
                    actions=[("1bad", "x")], urgency=1, category="", expire_ms=0,
                    image_width=0, image_height=0, image=b"")
    evil_dropped(v.frame(v.NOTIFY, raw, msg_id=7), why="protocol error")
    evil_dropped(v.frame(v.NOTIFY, b"\0" * 100, msg_id=8, length=2 * 1024 * 1024),
                 why="protocol error")


@suite.test
def logs_hold_no_raw_controls():
    for path in [desk.hostd_log] + [vm.log for vm in desk.vms.values()]:
        assert no_raw_controls(desk.read(path)), path


@suite.test
def daemons_exit_cleanly():
    evil.stop()
    desk.stop_daemons_checked()


failed = suite.run(exit=False)
desk.close()
sys.exit(1 if failed else 0)
