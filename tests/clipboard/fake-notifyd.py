"""A notification server for tests: owns org.freedesktop.Notifications on the
session bus (DBUS_SESSION_BUS_ADDRESS) and appends one JSON line per Notify
call (app, summary, body, urgency) to the file named by argv[1]. Creates
argv[1] + ".ready" once it owns the name."""

import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = "org.freedesktop.Notifications"


class Server(dbus.service.Object):
	def __init__(self, bus, path):
		super().__init__(bus, "/org/freedesktop/Notifications")
		self.path = path
		self.next_id = 1

	@dbus.service.method(NAME, in_signature="susssasa{sv}i", out_signature="u")
	def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
		urgency = int(hints.get("urgency", 1))
		with open(self.path, "a") as f:
			f.write(json.dumps({"app": str(app), "summary": str(summary), "body": str(body),
			                    "urgency": urgency}) + "\n")
		self.next_id += 1
		return self.next_id - 1

	@dbus.service.method(NAME, in_signature="", out_signature="ssss")
	def GetServerInformation(self):
		return ("fake-notifyd", "vmdesk-tests", "1", "1.2")


def main():
	DBusGMainLoop(set_as_default=True)
	bus = dbus.SessionBus()
	name = dbus.service.BusName(NAME, bus)
	server = Server(bus, sys.argv[1])
	open(sys.argv[1] + ".ready", "w").close()
	GLib.MainLoop().run()
	del name, server


if __name__ == "__main__":
	main()
