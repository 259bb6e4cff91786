#!/usr/bin/env python3
"""Writes seed inputs for fuzz-hostd-modules into corpus/fuzz-hostd-modules/.

The records (tests/fuzz/fuzz-hostd-modules.c): GUEST frames by their message
type (U32) with exact fields, RAW bytes, HOST actions (the notification
server's signals and modes, the panel's calls of items and menus, the
virtual clock); the kind byte's bit 2 names the guest (work, banking), bit 3
asks for no settling after the record. Method numbers are hostd-peers.c's.
"""
import struct

import fuzzrec as fr

GUEST, RAW, HOST = range(3)
BANKING, NO_SETTLE = 1 << 2, 1 << 3
(A_ACTION_INVOKED, A_CLOSED, A_SPOOF, A_SERVER_MODE, A_SERVER_ANSWER, A_SERVER_RESTART,
 A_TRAY_CALL, A_WATCHER_RESTART, A_ADVANCE, A_WAIT, A_HANGUP, A_RECONNECT,
 A_STOP_READING) = range(13)
ANSWER, ERROR, ZERO, REUSE, HOLD = range(5)
(M_ACTIVATE, M_SECONDARY, M_CONTEXT_MENU, M_SCROLL, M_TOKEN, M_GET, M_GET_ALL, M_SET,
 M_INTROSPECT, M_LAYOUT, M_GROUP, M_PROPERTY, M_EVENT, M_EVENT_GROUP, M_ABOUT, M_ABOUT_GROUP,
 M_MENU_GET, M_MENU_GET_ALL, M_MENU_INTROSPECT, M_BAD_ARGS, M_UNKNOWN) = range(21)
# protocols/link.xml, the guest set
NOTIFY, NOTIFY_CLOSE = 0x0400, 0x0401
TRAY_ITEM, TRAY_ICON, TRAY_MENU, TRAY_REMOVE = 0x0500, 0x0501, 0x0502, 0x0503
REPLACE, TRANSIENT, RESIDENT, SUPPRESS_SOUND = 1, 2, 4, 8
LOW, NORMAL, CRITICAL = range(3)
ICON, ATTENTION, OVERLAY = 1, 2, 3
PASSIVE, ACTIVE, NEEDS_ATTENTION = 1, 2, 3
STANDARD, SEPARATOR = 1, 2
ENABLED, VISIBLE, SUBMENU = 1, 2, 4
NONE, CHECKMARK, RADIO = range(3)
ALL_NAMES = 0xff  # every menu property name (bit i: the i-th)
EXPIRE_DEFAULT = 0xffffffff


def header(work_caps=0, banking_caps=0, banking_no_tray=False, tint=False):
    return bytes([work_caps, banking_caps, (1 if banking_no_tray else 0) | (2 if tint else 0), 0])


def frame(w, type_, id_, *fields, guest=0, flags=0, shape=0):
    w.record(GUEST | guest | flags, fr.u32(type_) + fr.number(id_) + fr.small(shape) +
             b"".join(fields))


def host(w, op, *values, flags=0):
    w.record(HOST | flags, fr.small(op) + b"".join(values))


def pixels(width, height, seed=0):
    """RGBA, not premultiplied: a gradient with some transparency."""
    out = bytearray()
    for y in range(height):
        for x in range(width):
            out += bytes([(x * 37 + seed) & 0xff, (y * 59) & 0xff, (x ^ y) & 0xff,
                          255 if (x + y) % 3 else 128])
    return bytes(out)


def image_value(width, height):
    """The data field: exact pixels when they fit a record, else a pattern of the length."""
    n = width * height * 4
    return fr.blob(pixels(width, height)) if n < 0xffff else fr.u32(n)


def notify(w, id_, summary=b"Meeting", body=b"in five minutes", actions=(), urgency=NORMAL,
           category=b"", expire=EXPIRE_DEFAULT, image=None, flags=0, guest=0, rec_flags=0,
           app=b"Calendar"):
    acts = fr.small(len(actions)) + b"".join(fr.blob(k) + fr.blob(l) for k, l in actions)
    if image is None:
        img = fr.number(0) + fr.number(0) + fr.blob(b"")
    else:
        iw, ih = image
        img = fr.number(iw) + fr.number(ih) + image_value(iw, ih)
    frame(w, NOTIFY, id_, fr.number(flags), fr.blob(app), fr.blob(summary), fr.blob(body), acts,
          fr.number(urgency), fr.blob(category), fr.number(expire), img, guest=guest,
          flags=rec_flags)


def tray_item(w, id_, title=b"Mail", tooltip=b"3 unread", body=b"from alice\nand bob",
              status=ACTIVE, category=1, has_menu=1, item_is_menu=0, guest=0, item_id=b"mail"):
    frame(w, TRAY_ITEM, id_, fr.blob(item_id), fr.blob(title), fr.number(category),
          fr.number(status), fr.blob(tooltip), fr.blob(body), fr.number(item_is_menu),
          fr.number(has_menu), guest=guest)


def tray_icon(w, id_, kind, width, height, guest=0, data=None):
    frame(w, TRAY_ICON, id_, fr.number(kind), fr.number(width), fr.number(height),
          data if data is not None else image_value(width, height), guest=guest)


def menu_item(id_, parent=0, label=b"Item", type_=STANDARD, flags=ENABLED | VISIBLE,
              toggle=NONE, state=0, icon=None):
    out = (fr.number(id_) + fr.number(parent) + fr.number(type_) + fr.number(flags) +
           fr.number(toggle) + fr.number(state) + fr.blob(label))
    if icon is None:
        return out + fr.number(0) + fr.number(0) + fr.blob(b"")
    iw, ih = icon
    return out + fr.number(iw) + fr.number(ih) + fr.blob(pixels(iw, ih, 7))


def tray_menu(w, id_, items, guest=0, rec_flags=0):
    frame(w, TRAY_MENU, id_, fr.small(len(items)) if len(items) < 32 else fr.u32(len(items)),
          *items, guest=guest, flags=rec_flags)


def call(w, method, a=b"", b_=b"", c=b"", item=0, flags=0):
    host(w, A_TRAY_CALL, fr.sel(item), fr.small(method), a, b_, c, flags=flags)


def nested_menu():
    return [
        menu_item(1, label=b"Open", icon=(16, 16)),
        menu_item(2, label=b"_Settings", flags=ENABLED | VISIBLE | SUBMENU),
        menu_item(3, parent=2, label=b"Dark mode", toggle=CHECKMARK, state=1),
        menu_item(4, parent=2, label=b"Light", toggle=RADIO, state=0, icon=(1, 1)),
        menu_item(5, parent=2, label=b"Auto", toggle=RADIO, state=2),
        menu_item(6, type_=SEPARATOR, label=b""),
        menu_item(7, parent=2, label=b"More", flags=ENABLED | VISIBLE | SUBMENU),
        menu_item(8, parent=7, label=b"Deeper", flags=VISIBLE),
        menu_item(9, parent=8, label=b"Deepest", flags=ENABLED),
        menu_item(10, label=b"Quit", icon=(16, 8)),
    ]


# ---- notifications ----

def notify_basic():
    """A notification with body and actions, clicked, then closed by the server."""
    w = fr.Writer()
    notify(w, 1, actions=((b"default", b"Open"), (b"snooze", b"Snooze 5 min")),
           category=b"im.received")
    host(w, A_ACTION_INVOKED, fr.sel(0), fr.small(1))
    host(w, A_ACTION_INVOKED, fr.sel(0), fr.small(0))
    host(w, A_CLOSED, fr.sel(0), fr.number(2))
    return header() + w.data


def notify_images():
    """Images of a few sizes: 1x1, small, wide, the cap (256x256), none (the badge)."""
    w = fr.Writer()
    notify(w, 1, image=(1, 1), body=b"one pixel")
    notify(w, 2, image=(24, 24), urgency=LOW)
    notify(w, 3, image=(120, 30), urgency=CRITICAL)
    notify(w, 4, image=(256, 256), summary=b"big")
    notify(w, 5, image=(256, 1), summary=b"a line")
    notify(w, 6, summary=b"no image")
    notify(w, 1, image=(3, 200), guest=BANKING, summary=b"banking's")
    return header() + w.data


def notify_replace_close():
    """Replace, close by the guest, close before the server answered, expire caps."""
    w = fr.Writer()
    notify(w, 1, summary=b"Download", body=b"10%", expire=5000)
    notify(w, 1, summary=b"Download", body=b"50%", flags=REPLACE, expire=999999999)
    frame(w, NOTIFY_CLOSE, 1)
    notify(w, 2, body=b"transient", flags=TRANSIENT | RESIDENT | SUPPRESS_SOUND, expire=0)
    host(w, A_SERVER_MODE, fr.small(HOLD))
    notify(w, 3, body=b"held")
    frame(w, NOTIFY_CLOSE, 3)
    notify(w, 4, body=b"held too")
    notify(w, 4, body=b"replaced while held", flags=REPLACE)
    host(w, A_SERVER_ANSWER)
    frame(w, NOTIFY_CLOSE, 2)
    frame(w, NOTIFY_CLOSE, 77)  # never shown
    return header() + w.data


def notify_server_modes():
    """The server refuses, answers id 0, reuses an id, restarts and goes."""
    w = fr.Writer()
    notify(w, 1)
    host(w, A_SERVER_MODE, fr.small(ERROR))
    notify(w, 2)
    host(w, A_SERVER_MODE, fr.small(ZERO))
    notify(w, 3)
    host(w, A_SERVER_MODE, fr.small(REUSE))
    notify(w, 4)
    notify(w, 5, guest=BANKING)
    host(w, A_SERVER_MODE, fr.small(ANSWER))
    host(w, A_SERVER_RESTART, fr.number(0x03))  # actions and body only
    notify(w, 6, body=b"<b>not markup</b> & co", actions=((b"default", b"x"),))
    host(w, A_SERVER_RESTART, fr.number(0x100))  # gone
    notify(w, 7)
    host(w, A_SERVER_RESTART, fr.number(0x3f))
    notify(w, 8)
    return header() + w.data


def notify_two_vms():
    """Two VMs with the same ids; signals for each; the panel spoofs a click."""
    w = fr.Writer()
    notify(w, 1, actions=((b"default", b"Open"),))
    notify(w, 1, actions=((b"default", b"Open"),), guest=BANKING)
    host(w, A_ACTION_INVOKED, fr.sel(1), fr.small(0))
    host(w, A_ACTION_INVOKED, fr.sel(0), fr.blob(b"not-an-action"))
    host(w, A_SPOOF, fr.sel(0))
    host(w, A_CLOSED, fr.sel(1), fr.number(1))
    host(w, A_CLOSED, fr.sel(0), fr.number(99))  # a reason outside the spec
    notify(w, 1, flags=REPLACE, guest=BANKING)
    return header() + w.data


def notify_hostile():
    """Ids that do not exist, a flood past the rate limit, a VM that goes."""
    w = fr.Writer()
    host(w, A_ACTION_INVOKED, fr.number(12345), fr.blob(b"default"))
    host(w, A_CLOSED, fr.number(0), fr.number(1))
    for i in range(14):  # a burst of 10, then one per 2 s
        notify(w, 1 + i, body=b"flood %d" % i, rec_flags=NO_SETTLE if i % 2 else 0)
    host(w, A_ADVANCE, fr.number(2000))
    notify(w, 30, body=b"after the pause")
    host(w, A_SERVER_MODE, fr.small(HOLD))
    notify(w, 31, body=b"never answered")
    host(w, A_ADVANCE, fr.number(10001))  # the call times out
    frame(w, NOTIFY, 0)  # id 0: a protocol error
    notify(w, 40, guest=BANKING, body=("\u202eevil " + "x" * 3000 + "\n" * 40).encode())
    host(w, A_HANGUP, flags=BANKING)
    return header() + w.data


def notify_many():
    """More than a VM may show at once: the oldest make room."""
    w = fr.Writer()
    for i in range(70):
        if i % 10 == 9:
            host(w, A_ADVANCE, fr.number(20000))
        notify(w, 1 + i, summary=b"n", body=b"")
    return header() + w.data


# ---- tray ----

def tray_basic():
    """An item with icons, tooltip, status and a menu; the host reads and clicks it."""
    w = fr.Writer()
    tray_item(w, 1)
    tray_icon(w, 1, ICON, 22, 22)
    tray_icon(w, 1, ATTENTION, 16, 16)
    tray_icon(w, 1, OVERLAY, 8, 8)
    tray_menu(w, 1, nested_menu())
    host(w, A_ADVANCE, fr.number(150))
    call(w, M_GET_ALL)
    call(w, M_GET, b_=fr.number(7))  # IconPixmap
    call(w, M_GET, b_=fr.number(13))  # ToolTip
    call(w, M_GET, b_=fr.number(15))  # Menu
    call(w, M_INTROSPECT)
    call(w, M_ACTIVATE, fr.number(10), fr.number(20))
    call(w, M_SECONDARY, fr.number(0), fr.number(0))
    call(w, M_CONTEXT_MENU, fr.number(5), fr.number(5))
    call(w, M_SCROLL, fr.number(120), fr.small(0))
    call(w, M_SCROLL, fr.number(-5000), fr.small(1))
    call(w, M_TOKEN, fr.blob(b"token"))
    call(w, M_LAYOUT, fr.number(0), fr.number(-1), fr.number(ALL_NAMES))
    call(w, M_LAYOUT, fr.number(2), fr.number(1), fr.number(0x4))
    call(w, M_LAYOUT, fr.number(0), fr.number(0), fr.number(0))
    call(w, M_GROUP, fr.sel(4), fr.number(ALL_NAMES))
    call(w, M_GROUP, b"", fr.number(0))
    call(w, M_PROPERTY, fr.number(1), fr.small(7))  # icon-data
    call(w, M_PROPERTY, fr.number(3), fr.small(6))
    call(w, M_EVENT, fr.number(1), fr.small(0))  # clicked
    call(w, M_EVENT, fr.number(0), fr.small(2))  # opened
    call(w, M_EVENT_GROUP, fr.sel(0), fr.small(4))
    call(w, M_ABOUT, fr.number(2))
    call(w, M_ABOUT_GROUP, fr.sel(8))
    call(w, M_MENU_GET, b_=fr.blob(b"Version"))
    call(w, M_MENU_GET_ALL)
    call(w, M_MENU_INTROSPECT)
    return header() + w.data


def tray_updates():
    """Updates of title, status and icons, coalesced then flushed by the clock."""
    w = fr.Writer()
    tray_item(w, 1, has_menu=0)
    tray_item(w, 1, title=b"Mail (1)", status=NEEDS_ATTENTION, has_menu=0)
    tray_icon(w, 1, ICON, 48, 48)
    tray_item(w, 1, title=b"Mail (2)", status=PASSIVE, has_menu=1, category=4)
    tray_menu(w, 1, [menu_item(1, label=b"Only")])
    host(w, A_ADVANCE, fr.number(100))
    tray_icon(w, 1, ICON, 0, 0, data=fr.blob(b""))  # back to the badge
    tray_icon(w, 1, ATTENTION, 0, 0, data=fr.blob(b""))
    host(w, A_ADVANCE, fr.number(100))
    call(w, M_GET_ALL)
    tray_item(w, 2, title=b"Tinted", guest=BANKING)
    tray_icon(w, 2, ICON, 256, 256, guest=BANKING)
    tray_icon(w, 2, ICON, 200, 3, guest=BANKING)
    call(w, M_GET_ALL, item=1)
    call(w, M_GET, b_=fr.number(7), item=1)
    host(w, A_WATCHER_RESTART, fr.number(0))
    host(w, A_ADVANCE, fr.number(100))
    call(w, M_GET_ALL, item=0)
    return header(tint=True) + w.data


def tray_menu_edges():
    """Wide and deep menus, toggles, icons of every size, a menu replaced."""
    w = fr.Writer()
    tray_item(w, 1)
    items = [menu_item(i, label=b"item %d" % i, toggle=i % 3, state=i % 3,
                       icon=((i % 16) + 1, ((i * 7) % 16) + 1) if i % 4 == 0 else None)
             for i in range(1, 60)]
    tray_menu(w, 1, items)
    call(w, M_LAYOUT, fr.number(0), fr.number(-1), fr.number(ALL_NAMES))
    chain = [menu_item(1, label=b"a", flags=ENABLED | VISIBLE | SUBMENU)]
    for depth in range(2, 6):
        chain.append(menu_item(depth, parent=depth - 1, label=b"level %d" % depth))
    tray_menu(w, 1, chain)  # one level too deep: refused by the codec
    tray_menu(w, 1, chain[:4])
    call(w, M_LAYOUT, fr.number(0), fr.number(-7), fr.number(ALL_NAMES))
    call(w, M_LAYOUT, fr.number(1), fr.number(2), fr.number(0x100))
    call(w, M_LAYOUT, fr.number(999), fr.number(-1), fr.number(0))  # no such item
    call(w, M_GROUP, fr.number(-3), fr.number(0xff))
    call(w, M_PROPERTY, fr.number(0), fr.small(0))
    call(w, M_PROPERTY, fr.number(999), fr.small(2))
    call(w, M_PROPERTY, fr.number(1), fr.blob(b"bogus"))
    call(w, M_EVENT, fr.number(-1), fr.small(0))
    call(w, M_EVENT, fr.number(3), fr.blob(b"weird"))
    call(w, M_ABOUT, fr.number(12345))
    call(w, M_ABOUT_GROUP, fr.number(-5))
    tray_menu(w, 1, [])
    call(w, M_LAYOUT, fr.number(0), fr.number(-1), fr.number(ALL_NAMES))
    return header() + w.data


def tray_hostile():
    """A flood of items, an item removed while its menu is asked, bad calls, hangups."""
    w = fr.Writer()
    for i in range(18):  # 16 at most
        tray_item(w, 1 + i, title=b"item %d" % i, has_menu=1)
    tray_menu(w, 3, nested_menu())
    call(w, M_LAYOUT, fr.number(0), fr.number(-1), fr.number(ALL_NAMES), item=2,
         flags=NO_SETTLE)
    frame(w, TRAY_REMOVE, 3)
    call(w, M_LAYOUT, fr.number(0), fr.number(-1), fr.number(ALL_NAMES), item=3,
         flags=NO_SETTLE)
    frame(w, TRAY_REMOVE, 4, flags=NO_SETTLE)
    call(w, M_GET_ALL, item=3)
    call(w, M_ACTIVATE, item=0x1f, flags=NO_SETTLE)
    host(w, A_TRAY_CALL, fr.special(0), fr.small(M_GET_ALL))  # an item that went
    host(w, A_TRAY_CALL, fr.special(1), fr.small(M_LAYOUT))
    frame(w, TRAY_REMOVE, 999)
    frame(w, TRAY_ICON, 999, fr.number(ICON), fr.number(2), fr.number(2), fr.blob(b"x" * 16))
    frame(w, TRAY_MENU, 999, fr.small(0))
    for m in (M_BAD_ARGS, M_UNKNOWN, M_SET):
        for k in range(6):
            call(w, m, fr.number(k), fr.blob(b"Id"), fr.number(k))
    for i in range(520):  # past the burst of 500 (flushes by the clock are rare)
        frame(w, TRAY_ICON, 1, fr.number(ICON), fr.number(1), fr.number(1),
              fr.blob(bytes([i & 0xff, 0, 0, 255])), flags=NO_SETTLE)
    host(w, A_ADVANCE, fr.number(50))
    tray_item(w, 1, title=b"after")
    frame(w, TRAY_ITEM, 0)  # id 0: a protocol error
    tray_item(w, 1, guest=BANKING)
    host(w, A_STOP_READING, fr.number(0), flags=BANKING)
    call(w, M_ACTIVATE, item=0)
    host(w, A_RECONNECT, flags=BANKING)
    tray_item(w, 1, guest=BANKING)
    return header() + w.data


def tray_no_tray():
    """banking's definition says tray = no: its items never show."""
    w = fr.Writer()
    tray_item(w, 1, guest=BANKING)
    notify(w, 1, guest=BANKING)
    tray_item(w, 1)
    call(w, M_GET_ALL)
    return header(banking_no_tray=True) + w.data


def mixed_caps():
    """Guests that offer no notify, or no tray."""
    w = fr.Writer()
    notify(w, 1)
    tray_item(w, 1)
    notify(w, 1, guest=BANKING)
    tray_item(w, 1, guest=BANKING)
    call(w, M_GET_ALL)
    return header(work_caps=0x10, banking_caps=0x08) + w.data


def raw_bytes():
    """Raw bytes after a valid start, and a notification cut short."""
    w = fr.Writer()
    tray_item(w, 1)
    w.record(RAW, b"\xff" * 16)
    w.record(RAW | BANKING, struct.pack(">IHHI", 100, NOTIFY, 0, 1) + b"\0" * 10)
    return header() + w.data


SEEDS = {
    "notify-basic": notify_basic, "notify-images": notify_images,
    "notify-replace-close": notify_replace_close, "notify-server-modes": notify_server_modes,
    "notify-two-vms": notify_two_vms, "notify-hostile": notify_hostile,
    "notify-many": notify_many, "tray-basic": tray_basic, "tray-updates": tray_updates,
    "tray-menu-edges": tray_menu_edges, "tray-hostile": tray_hostile,
    "tray-no-tray": tray_no_tray, "mixed-caps": mixed_caps, "raw-bytes": raw_bytes,
}


if __name__ == "__main__":
    fr.save_seeds("fuzz-hostd-modules", {name: make() for name, make in SEEDS.items()})
