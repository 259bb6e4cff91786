#!/usr/bin/python3
"""A notification server for tests that records every field of every call.

    record-notifyd.py LOG [--caps body,actions,...] [--name NAME]

Owns org.freedesktop.Notifications on DBUS_SESSION_BUS_ADDRESS and appends one
JSON line per call to LOG: Notify (app, replaces_id, icon, summary, body,
actions, every hint, the image's size and pixels as hex, expire), and
CloseNotification. Its own interface org.vmdesk.Test on the same path lets
a test emit the spec's signals: Invoke(u id, s key), Close(u id, u reason),
and Forge(s member, u id, s arg) sends a signal from a second connection
(something that is not the server). Creates LOG.ready once it owns the name.
"""

import argparse
import json
import sys
import time

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


def plain(value):
	"""D-Bus values as JSON: image-data structs with their pixels as hex."""
	if isinstance(value, dbus.Struct) and len(value) == 7:
		w, h, stride, alpha, bits, channels, data = value
		return {"width": int(w), "height": int(h), "rowstride": int(stride),
		        "has_alpha": bool(alpha), "bits": int(bits), "channels": int(channels),
		        "data": bytes(bytearray(data)).hex()}
	if isinstance(value, dbus.Boolean):
		return bool(value)
	if isinstance(value, (dbus.Byte, dbus.Int32, dbus.UInt32, dbus.Int64, dbus.UInt64,
	                      dbus.Int16, dbus.UInt16)):
		return int(value)
	if isinstance(value, (dbus.String, dbus.ObjectPath)):
		return str(value)
	if isinstance(value, (list, tuple)):
		return [plain(v) for v in value]
	if isinstance(value, dict):
		return {str(k): plain(v) for k, v in value.items()}
	return str(value)


class Server(dbus.service.Object):
	def __init__(self, bus, log, caps):
		super().__init__(bus, PATH)
		self.log = log
		self.caps = caps
		self.next_id = 100  # ids of its own, unlike any guest's

	def record(self, **entry):
		entry["t"] = time.monotonic()  # CLOCK_MONOTONIC, as the benchmark's own clock
		with open(self.log, "a") as f:
			f.write(json.dumps(entry) + "\n")

	@dbus.service.method(NAME, in_signature="susssasa{sv}i", out_signature="u")
	def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
		if replaces:
			nid = int(replaces)
		else:
			self.next_id += 1
			nid = self.next_id
		self.record(call="Notify", id=nid, app=str(app), replaces_id=int(replaces),
		            icon=str(icon), summary=str(summary), body=str(body),
		            actions=[str(a) for a in actions], hints=plain(hints), expire=int(timeout))
		return nid

	@dbus.service.method(NAME, in_signature="u", out_signature="")
	def CloseNotification(self, nid):
		self.record(call="CloseNotification", id=int(nid))
		self.NotificationClosed(nid, 3)

	@dbus.service.method(NAME, in_signature="", out_signature="as")
	def GetCapabilities(self):
		return self.caps

	@dbus.service.method(NAME, in_signature="", out_signature="ssss")
	def GetServerInformation(self):
		return ("record-notifyd", "vmdesk-tests", "1", "1.2")

	@dbus.service.signal(NAME, signature="uu")
	def NotificationClosed(self, nid, reason):
		pass

	@dbus.service.signal(NAME, signature="us")
	def ActionInvoked(self, nid, key):
		pass

	@dbus.service.method("org.vmdesk.Test", in_signature="us", out_signature="")
	def Invoke(self, nid, key):
		self.ActionInvoked(nid, key)

	@dbus.service.method("org.vmdesk.Test", in_signature="uu", out_signature="")
	def Close(self, nid, reason):
		self.NotificationClosed(nid, reason)

	@dbus.service.method("org.vmdesk.Test", in_signature="sus", out_signature="")
	def Forge(self, member, nid, arg):
		other = dbus.bus.BusConnection(self.connection_address)
		sig = "us" if member == "ActionInvoked" else "uu"
		value = arg if member == "ActionInvoked" else dbus.UInt32(int(arg))
		msg = dbus.lowlevel.SignalMessage(PATH, NAME, member)
		msg.append(dbus.UInt32(nid), value, signature=sig)
		other.send_message(msg)
		other.flush()
		other.close()


def main():
	parser = argparse.ArgumentParser()
	parser.add_argument("log")
	parser.add_argument("--caps", default="actions,body,body-markup,icon-static,persistence")
	args = parser.parse_args()
	DBusGMainLoop(set_as_default=True)
	import os
	bus = dbus.SessionBus()
	name = dbus.service.BusName(NAME, bus, do_not_queue=True)
	server = Server(bus, args.log, [c for c in args.caps.split(",") if c])
	server.connection_address = os.environ["DBUS_SESSION_BUS_ADDRESS"]
	open(args.log + ".ready", "w").close()
	GLib.MainLoop().run()
	del name, server


if __name__ == "__main__":
	sys.exit(main())
