#!/usr/bin/python3
"""A GTK 3 window for the frame tests (run it with /usr/bin/python3).

    gtk-window.py APP_ID WIDTH HEIGHT [TITLE]

Maps a WIDTH x HEIGHT window (GTK's client-side decorations and shadows
included: GTK sets the window geometry without the shadows) with a flat
magenta body; TITLE "@N" means N characters "x". Runs until killed.
"""

import os
import sys

os.environ.setdefault("GDK_BACKEND", "wayland")
os.environ.setdefault("NO_AT_BRIDGE", "1")
os.environ.setdefault("GTK_A11Y", "none")

import gi  # noqa: E402

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

CSS = b"window, window.background { background-color: #ff00ff; }"


def main():
	app_id, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	title = sys.argv[4] if len(sys.argv) > 4 else "GTK frame test"
	if title.startswith("@"):
		title = "x" * int(title[1:])
	GLib.set_prgname(app_id)  # the xdg_toplevel app_id of a GtkWindow without a GtkApplication
	provider = Gtk.CssProvider()
	provider.load_from_data(CSS)
	Gtk.StyleContext.add_provider_for_screen(Gdk.Screen.get_default(), provider,
		Gtk.STYLE_PROVIDER_PRIORITY_USER)
	win = Gtk.Window(title=title)
	win.set_default_size(width, height)
	win.connect("destroy", Gtk.main_quit)
	win.show_all()
	Gtk.main()


if __name__ == "__main__":
	main()
