#!/usr/bin/python3
"""A GTK 3 window whose only widget is a button that opens a menu (a
grabbing xdg_popup on Wayland), for the link tests.

    gtk-menu.py APP_ID

Runs until killed."""

import os
import sys

os.environ.setdefault("GDK_BACKEND", "wayland")
os.environ.setdefault("NO_AT_BRIDGE", "1")
os.environ.setdefault("GTK_A11Y", "none")

import gi  # noqa: E402

gi.require_version("Gtk", "3.0")
from gi.repository import GLib, Gtk  # noqa: E402


def main():
	GLib.set_prgname(sys.argv[1])
	win = Gtk.Window(title="menu test")
	win.set_default_size(300, 200)
	menu = Gtk.Menu()
	for label in ("Open", "Save", "Save as...", "Print", "Close"):
		menu.append(Gtk.MenuItem(label=label))
	menu.show_all()
	button = Gtk.MenuButton(label="Menu")
	button.set_popup(menu)
	win.add(button)
	win.connect("destroy", Gtk.main_quit)
	win.show_all()
	Gtk.main()


if __name__ == "__main__":
	main()
