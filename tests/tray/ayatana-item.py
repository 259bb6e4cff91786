#!/usr/bin/python3
"""An ordinary tray applet: an Ayatana AppIndicator (python3-gi) with a menu.

    ayatana-item.py DIR

Its icon is DIR/icons/vmdesk-test-NAME.png (a theme path), its menu has
"Say hello" (writes DIR/hello when clicked), a submenu with "Deep item"
(writes DIR/deep), a check item and a separator. SIGUSR1 switches it to
its second state: the attention icon, status NeedsAttention, a new label.
Scrolls write DIR/scroll, the secondary activation DIR/secondary. It
writes DIR/ready once it runs.
"""

import os
import signal
import sys

import gi
gi.require_version("Gtk", "3.0")
gi.require_version("AyatanaAppIndicator3", "0.1")
from gi.repository import AyatanaAppIndicator3 as AppIndicator  # noqa: E402
from gi.repository import GLib, Gtk  # noqa: E402

DIR = sys.argv[1]


def touch(name, text="1"):
    with open(os.path.join(DIR, name), "a") as f:
        f.write(text + "\n")


def main():
    Gtk.init([])
    icons = os.path.join(DIR, "icons")
    ind = AppIndicator.Indicator.new("vmdesk-test-applet", "vmdesk-test-normal",
                                     AppIndicator.IndicatorCategory.COMMUNICATIONS)
    ind.set_icon_theme_path(icons)
    ind.set_attention_icon_full("vmdesk-test-attention", "attention")
    ind.set_title("Test applet")
    ind.set_status(AppIndicator.IndicatorStatus.ACTIVE)
    menu = Gtk.Menu()
    hello = Gtk.MenuItem.new_with_label("Say hello")
    hello.connect("activate", lambda *_: touch("hello"))
    menu.append(hello)
    sub_item = Gtk.MenuItem.new_with_label("More")
    sub = Gtk.Menu()
    deep = Gtk.MenuItem.new_with_label("Deep item")
    deep.connect("activate", lambda *_: touch("deep"))
    sub.append(deep)
    sub_item.set_submenu(sub)
    menu.append(sub_item)
    menu.append(Gtk.SeparatorMenuItem())
    check = Gtk.CheckMenuItem.new_with_label("Enabled")
    check.set_active(True)
    menu.append(check)
    secondary = Gtk.MenuItem.new_with_label("Middle click")
    secondary.connect("activate", lambda *_: touch("secondary"))
    menu.append(secondary)
    menu.show_all()
    ind.set_menu(menu)
    ind.set_secondary_activate_target(secondary)
    ind.connect("scroll-event", lambda _i, delta, direction: touch("scroll", str(direction)))

    def second_state():
        ind.set_status(AppIndicator.IndicatorStatus.ATTENTION)
        hello.set_label("Say goodbye")
        return False

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, second_state)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, Gtk.main_quit)
    touch("ready")
    Gtk.main()


if __name__ == "__main__":
    main()
