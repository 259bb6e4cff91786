#!/usr/bin/python3
"""A hostile StatusNotifierItem for tests, written with python-dbus.

    raw-item.py DIR MODE

Registers with the watcher on DBUS_SESSION_BUS_ADDRESS by object path and
serves org.kde.StatusNotifierItem and com.canonical.dbusmenu the way MODE
says (see MODES). Writes DIR/ready when registered, DIR/getlayout and
DIR/getall with one line per call; SIGUSR1 sends a storm of 5,000
LayoutUpdated and NewIcon signals.
"""

import os
import signal
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

ITEM = "org.kde.StatusNotifierItem"
MENU = "com.canonical.dbusmenu"
DIR, MODE = sys.argv[1], sys.argv[2]
PATH = "/org/test/Item"
MENU_PATH = "/org/test/Menu"


def argb(w, h, pixel=(255, 0, 200, 0)):
    return dbus.Array(bytes(pixel) * (w * h), signature="y")


def pixmaps():
    if MODE == "pixmaps-none":
        return dbus.Array([], signature="(iiay)")
    if MODE == "pixmaps-lying":
        return dbus.Array([
            dbus.Struct((dbus.Int32(0), dbus.Int32(0), argb(1, 1))),
            dbus.Struct((dbus.Int32(65536), dbus.Int32(1), argb(4, 4))),
            dbus.Struct((dbus.Int32(-16), dbus.Int32(16), argb(16, 16))),
            dbus.Struct((dbus.Int32(16), dbus.Int32(16), argb(16, 15))),
            dbus.Struct((dbus.Int32(16), dbus.Int32(16), argb(17, 16))),
        ], signature="(iiay)")
    if MODE == "pixmaps-many":
        return dbus.Array([dbus.Struct((dbus.Int32(8), dbus.Int32(8), argb(8, 8)))] * 1000,
                          signature="(iiay)")
    if MODE == "pixmaps-huge":
        return dbus.Array([dbus.Struct((dbus.Int32(4096), dbus.Int32(64),
                                        argb(4096, 64)))], signature="(iiay)")
    return dbus.Array([dbus.Struct((dbus.Int32(16), dbus.Int32(16), argb(16, 16)))],
                      signature="(iiay)")


def props():
    title = "Raw item"
    tip_title, tip_body = "Tip", "Body"
    status, item_id = "Active", "raw-item"
    if MODE == "text":
        title = "\x1b[31mRed\x1b[0m \u202eevil\u202c\x07 [vault] fake"
        item_id = "id\nwith\x00".replace("\x00", "") + "\u2066x"
        tip_title = "<b>bold</b>\x1b]0;x\x07"
        tip_body = "<a href='file:///etc/passwd'>x</a> &amp;\n" + "d" * (2 * 1024 * 1024)
        status = "Bogus"
    return {
        "Category": dbus.String("Nonsense"), "Id": dbus.String(item_id),
        "Title": dbus.String(title), "Status": dbus.String(status),
        "WindowId": dbus.Int32(7), "IconName": dbus.String(""),
        "IconThemePath": dbus.String("/etc"), "IconPixmap": pixmaps(),
        "AttentionIconPixmap": dbus.Array([], signature="(iiay)"),
        "OverlayIconPixmap": dbus.Array([], signature="(iiay)"),
        "ToolTip": dbus.Struct((dbus.String(""), dbus.Array([], signature="(iiay)"),
                                dbus.String(tip_title), dbus.String(tip_body)),
                               signature="sa(iiay)ss"),
        "ItemIsMenu": dbus.Boolean(False), "Menu": dbus.ObjectPath(MENU_PATH),
    }


def node(nid, props, children=()):
    return dbus.Struct((dbus.Int32(nid), dbus.Dictionary(props, signature="sv"),
                        dbus.Array([dbus.Struct(c, signature="ia{sv}av", variant_level=1)
                                    for c in children], signature="v")),
                       signature="ia{sv}av")


def layout():
    label = {"label": dbus.String("Item")}
    if MODE == "menu-deep":
        child = node(12, {"label": dbus.String("level 12")})
        for i in range(11, 0, -1):
            child = node(i, {"label": dbus.String("level %d" % i)}, [child])
        return node(0, {}, [child])
    if MODE == "menu-wide":
        return node(0, {}, [node(i, {"label": dbus.String("item %d" % i)})
                            for i in range(1, 20001)])
    if MODE == "menu-bad":
        png_bomb = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (100000).to_bytes(4, "big") * 2 +
                    b"\x08\x06\x00\x00\x00" + b"\x00" * 4)
        return node(0, {}, [
            node(-5, {"label": dbus.String("negative")}),
            node(0, {"label": dbus.String("zero")}),
            node(1, {"label": dbus.String("L" * (1024 * 1024))}),
            node(1, {"label": dbus.String("duplicate of 1")}),
            node(2, {"label": dbus.String("wrong types"), "enabled": dbus.String("no"),
                     "visible": dbus.Int32(0), "toggle-state": dbus.String("1"),
                     "type": dbus.Int32(3)}),
            node(3, {"label": dbus.String("bomb"),
                     "icon-data": dbus.Array(png_bomb, signature="y")}),
            node(4, {"label": dbus.String("\x1b[2J\u202eclear"), "x-vendor": dbus.String("x"),
                     "shortcut": dbus.Array([dbus.Array(["Control", "q"], signature="s")],
                                            signature="as")}, [node(1, label)]),
        ])
    return node(0, {}, [node(1, label)])


def log(name):
    with open(os.path.join(DIR, name), "a") as f:
        f.write("1\n")


class Item(dbus.service.Object):
    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="s", out_signature="a{sv}",
                         async_callbacks=("ok", "err"))
    def GetAll(self, iface, ok, err):
        log("getall")
        if MODE == "silent":
            return  # never answers
        if MODE == "vanish":
            os._exit(0)  # its owner goes in the middle of the call
        ok(props())

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, iface, name):
        return props()[name]

    @dbus.service.method(ITEM, in_signature="ii")
    def Activate(self, x, y):
        log("activate")

    @dbus.service.signal(ITEM, signature="")
    def NewIcon(self):
        pass


class Menu(dbus.service.Object):
    @dbus.service.method(MENU, in_signature="iias", out_signature="u(ia{sv}av)")
    def GetLayout(self, parent, depth, names):
        log("getlayout")
        return dbus.UInt32(1), layout()

    @dbus.service.method(MENU, in_signature="isvu")
    def Event(self, nid, name, data, ts):
        log("event-%d" % nid)

    @dbus.service.method(MENU, in_signature="i", out_signature="b")
    def AboutToShow(self, nid):
        return False

    @dbus.service.signal(MENU, signature="ui")
    def LayoutUpdated(self, revision, parent):
        pass


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    item = Item(bus, PATH)
    menu = Menu(bus, MENU_PATH)
    watcher = bus.get_object("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher")
    watcher.RegisterStatusNotifierItem(PATH, dbus_interface="org.kde.StatusNotifierWatcher")
    log("ready")

    def storm():
        for i in range(5000):
            menu.LayoutUpdated(dbus.UInt32(i), dbus.Int32(0))
            item.NewIcon()
        log("stormed")
        return True

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, storm)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
