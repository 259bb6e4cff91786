"""Helpers for the notification and tray tests: private session buses (one
for the host, one per guest), vmdesk-guestd on each guest bus and
vmdesk-hostd on the host bus (over the unix: carrier), the recording
notification server, D-Bus clients on either side, and a fake guest that
speaks the link by hand.

    with Desk() as desk:
        desk.start_notifyd()
        work = desk.add_vm("work", "red")
        desk.start_hostd()
        desk.wait_vm(work)
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import dbus
import dbus.bus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

import vdlink as v
from agentlib import Bench, wait_for

DBusGMainLoop(set_as_default=True)
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
NOTIFY = "org.freedesktop.Notifications"
NOTIFY_PATH = "/org/freedesktop/Notifications"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def pump(seconds=0.0):
    """Runs the GLib main context (D-Bus signals of in-process clients) for a while."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + seconds
    while True:
        while ctx.iteration(False):
            pass
        if time.monotonic() >= deadline:
            return
        time.sleep(0.01)


def wait(predicate, what, timeout=15.0):
    """wait_for, with the main context running between tries."""
    def check():
        pump()
        return predicate()
    return wait_for(check, what, timeout)


class Bus:
    """A dbus-daemon of our own: no service directories, so nothing is auto-started."""

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "bus.sock")
        conf = os.path.join(directory, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONFIG % self.path)
        self.address = "unix:path=" + self.path
        self.proc = subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.path), "dbus-daemon " + self.path)
        self._conn = None

    def connect(self):
        """A new client connection (python-dbus, on the GLib main context)."""
        conn = dbus.bus.BusConnection(self.address)
        return conn

    @property
    def conn(self):
        if self._conn is None:
            self._conn = self.connect()
        return self._conn

    def alive(self):
        return self.proc.poll() is None and bool(self.conn.list_names())

    def stop(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class VM:
    def __init__(self, name, color, bus, proc, sock, log):
        self.name, self.color, self.bus, self.proc, self.sock, self.log = (name, color, bus, proc,
                                                                           sock, log)

    def env(self, **extra):
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address, NO_AT_BRIDGE="1",
                   GTK_A11Y="none")
        env.update(extra)
        return env

    def notify(self, summary, body="", app="app", replaces=0, icon="", actions=(), hints=None,
               expire=-1, conn=None, wait_reply=True):
        """Notify on the guest's bus; returns the id (or raises the D-Bus error).

        wait_reply=False sends the call and returns None at once: a flood then
        arrives as fast as it is sent, however slow each round trip is."""
        conn = conn or self.bus.conn
        proxy = conn.get_object(NOTIFY, NOTIFY_PATH)
        args = (app, dbus.UInt32(replaces), icon, summary, body,
                dbus.Array(list(actions), signature="s"),
                dbus.Dictionary(hints or {}, signature="sv"), dbus.Int32(expire))
        if not wait_reply:
            proxy.Notify(*args, dbus_interface=NOTIFY, ignore_reply=True)
            return None
        return int(proxy.Notify(*args, dbus_interface=NOTIFY, timeout=10))

    def call(self, method, *args, conn=None):
        conn = conn or self.bus.conn
        proxy = conn.get_object(NOTIFY, NOTIFY_PATH)
        return proxy.get_dbus_method(method, NOTIFY)(*args, timeout=10)


class Signals:
    """Records the notification signals one connection sees."""

    def __init__(self, conn):
        self.seen = []
        for member in ("NotificationClosed", "ActionInvoked"):
            conn.add_signal_receiver(self._handler(member), signal_name=member,
                                     dbus_interface=NOTIFY)

    def _handler(self, member):
        def handle(nid, arg):
            self.seen.append((member, int(nid), arg if member == "ActionInvoked" else int(arg)))
        return handle

    def of(self, member, nid=None):
        pump()
        return [s for s in self.seen if s[0] == member and (nid is None or s[1] == nid)]


class Desk(Bench):
    """agentlib.Bench with a host bus, guest buses and the recording notification server."""

    def __init__(self):
        super().__init__()
        self.host_bus = Bus(self.path("host-bus"))
        self.env["DBUS_SESSION_BUS_ADDRESS"] = self.host_bus.address
        self.vms = {}
        self.record_log = self.path("notifications.jsonl")
        self.notifyd = None

    def start_notifyd(self, caps=None):
        argv = [PY, os.path.join(HERE, "record-notifyd.py"), self.record_log]
        if caps is not None:
            argv += ["--caps", ",".join(caps)]
        ready = self.record_log + ".ready"
        if os.path.exists(ready):
            os.unlink(ready)
        self.notifyd = self.spawn(argv, self.path("notifyd.log"))
        wait_for(lambda: os.path.exists(ready) or self.notifyd.poll() is not None,
                 "the recording notification server")
        assert self.notifyd.poll() is None, self.read(self.path("notifyd.log"))
        return self.notifyd

    def stop_notifyd(self):
        self.stop(self.notifyd)
        self.notifyd = None

    def records(self, call="Notify"):
        out = []
        try:
            with open(self.record_log) as f:
                for line in f:
                    # a line being written is read next time; and stop there: the
                    # iterator would hand the rest of it over as a line of its own
                    if not line.endswith("\n"):
                        break
                    out.append(json.loads(line))
        except FileNotFoundError:
            return []
        return [r for r in out if call is None or r["call"] == call]

    def wait_record(self, predicate, what, timeout=15.0, call="Notify"):
        def check():
            for r in self.records(call):
                if predicate(r):
                    return r
            return None
        return wait(check, what, timeout)

    def test_iface(self):
        return self.host_bus.conn.get_object(NOTIFY, NOTIFY_PATH)

    def add_vm(self, name, color="red", args=(), tray=None, guest_bus=True):
        bus = Bus(self.path("bus-" + name)) if guest_bus else None
        extra = {"DBUS_SESSION_BUS_ADDRESS": bus.address} if bus else {}
        proc, sock = self.start_guestd(name, args=["--no-apps", "--log-level", "debug"] +
                                       list(args), extra_env=extra)
        text = "[vm]\ncolor = %s\nagent = unix:%s\n" % (color, sock)
        if tray is not None:
            text += "tray = %s\n" % ("yes" if tray else "no")
        self.write_vm(name, text=text)
        vm = VM(name, color, bus, proc, sock, self.path("guestd-%s.log" % name))
        self.vms[name] = vm
        return vm

    def wait_vm(self, vm, text="notify"):
        wait_for(lambda: ("vm=%s connected" % vm.name) in self.hostd_output(),
                 "VM %s connected" % vm.name)
        if vm.bus is not None:
            wait(lambda: NOTIFY in vm.bus.conn.list_names(),
                 "guestd serving notifications on %s's bus" % vm.name)

    def start_hostd(self, args=()):
        """Starts hostd; with the recording server up, waits until hostd knows it.

        Until hostd's own session bus is ready and the server has answered
        GetCapabilities, hostd refuses a guest's notification (the guest hears
        NotificationClosed): a test's first notification must not race that."""
        known = self.server_known_count()
        proc = super().start_hostd(["--no-menu", "--no-clipboard"] + list(args))
        if self.notifyd is not None and "--no-notifications" not in args:
            wait(lambda: self.server_known_count() > known,
                 "hostd to know the notification server")
        return proc

    def server_known_count(self):
        """How many times hostd's log says it learned a notification server's capabilities."""
        return len(re.findall(r"notification server \S+: actions ", self.hostd_output()))

    def hostd_alive(self):
        return self.hostd is not None and self.hostd.poll() is None

    def close(self):
        super().close()
        for vm in self.vms.values():
            if vm.bus is not None:
                vm.bus.stop()
        self.host_bus.stop()


class FakeGuest:
    """A guest agent written by hand: listens on a unix socket, shakes hands as role
    guest with the given capabilities, then sends whatever a test says and records
    what vmdesk-hostd sends back."""

    def __init__(self, path, caps=v.CAP_NOTIFY | v.CAP_TRAY):
        self.path = path
        self.caps = caps
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.conn = None
        self.frames = []
        self.closed = threading.Event()
        self.ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            self.closed.clear()
            self.ready.clear()
            self.frames = []
            self.conn = conn
            conn.sendall(v.hello("guest", caps=self.caps, nonce=7))
            reader = v.Reader()
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    break
                for msg_type, msg_id, payload in reader.feed(data):
                    if msg_type == v.HELLO:
                        self.ready.set()
                        continue
                    try:
                        fields = v.decode("guest", msg_type, payload)
                    except v.LinkError as e:
                        fields = {"error": str(e)}
                    self.frames.append((v.name_of("guest", msg_type), msg_id, fields))
            self.closed.set()
            conn.close()

    def send(self, *frames):
        for f in frames:
            self.conn.sendall(f)

    def got(self, name, msg_id=None):
        return [f for f in list(self.frames) if f[0] == name and (msg_id is None or f[1] == msg_id)]

    def stop(self):
        self.srv.close()
        if self.conn is not None:
            self.conn.close()


def frame(msg_name, msg_id=0, **fields):
    return v.encode("guest", msg_name, msg_id=msg_id, **fields)


def notify_frame(msg_id, summary="s", body="", **fields):
    values = dict(flags=0, app_name="app", summary=summary, body=body, actions=[], urgency=1,
                  category="", expire_ms=v.NOTIFY_EXPIRE_DEFAULT, image_width=0,
                  image_height=0, image=b"")
    values.update(fields)
    return frame("notify", msg_id, **values)


def image_pixel(image, x, y):
    """(r, g, b, a) of a recorded image-data hint."""
    data = bytes.fromhex(image["data"])
    off = y * image["rowstride"] + x * image["channels"]
    return tuple(data[off:off + 4])


def color_near(a, b, tolerance=24):
    return all(abs(int(x) - int(y)) <= tolerance for x, y in zip(a, b))


def no_raw_controls(text):
    """No byte a terminal would act on, no bidi control: what every log line must keep."""
    bad = [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f
           or 0x202a <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069]
    return not bad


WATCHER = "org.kde.StatusNotifierWatcher"
ITEM = "org.kde.StatusNotifierItem"
MENU = "com.canonical.dbusmenu"


class TrayHost(dbus.service.Object):
    """A panel's tray on a bus: an org.kde.StatusNotifierWatcher that records the
    items registered with it, drops them when their owner goes, and reads them
    as a tray host does."""

    def __init__(self, bus):
        self.conn = bus.connect()
        super().__init__(self.conn, "/StatusNotifierWatcher")
        self.bus_name = dbus.service.BusName(WATCHER, self.conn, do_not_queue=True)
        self.items = []
        self.signals = []  # (sender, path, interface, member)
        self.conn.add_signal_receiver(self._owner_changed, "NameOwnerChanged",
                                      "org.freedesktop.DBus", "org.freedesktop.DBus")
        self.conn.add_signal_receiver(self._signal, interface_keyword="iface",
                                      member_keyword="member", sender_keyword="sender",
                                      path_keyword="path")

    def _owner_changed(self, name, old, new):
        if not new:
            self.items = [s for s in self.items if s != name and not s.startswith(name + "/")]

    def _signal(self, *args, iface=None, member=None, sender=None, path=None):
        if iface in (ITEM, MENU):
            self.signals.append((sender, path, iface, member))

    @dbus.service.method(WATCHER, in_signature="s", out_signature="", sender_keyword="sender")
    def RegisterStatusNotifierItem(self, service, sender=None):
        service = str(service)
        if service.startswith("/"):
            service = sender + service
        if service not in self.items:
            self.items.append(service)

    @dbus.service.method(WATCHER, in_signature="s", out_signature="")
    def RegisterStatusNotifierHost(self, service):
        pass

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, iface, prop):
        return self.GetAll(iface)[prop]

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="s", out_signature="a{sv}")
    def GetAll(self, iface):
        return {"RegisteredStatusNotifierItems": dbus.Array(self.items, signature="s"),
                "IsStatusNotifierHostRegistered": True, "ProtocolVersion": dbus.Int32(0)}

    def wait_items(self, count, what="tray items", timeout=20.0):
        wait(lambda: len(self.items) == count, "%d %s (have %s)" % (count, what, self.items),
             timeout)
        return list(self.items)

    @staticmethod
    def split(service):
        if "/" in service:
            name, path = service.split("/", 1)
            return name, "/" + path
        return service, "/StatusNotifierItem"

    def proxy(self, service, path=None):
        name, item_path = self.split(service)
        return self.conn.get_object(name, path or item_path, introspect=False)

    def props(self, service):
        return self.proxy(service).GetAll(ITEM, dbus_interface=dbus.PROPERTIES_IFACE, timeout=10)

    def call(self, service, method, *args):
        return self.proxy(service).get_dbus_method(method, ITEM)(*args, timeout=10)

    def menu(self, service):
        path = self.props(service)["Menu"]
        return self.proxy(service, path)

    def layout(self, service):
        """The menu as nested dicts: {id, props, children}."""
        revision, root = self.menu(service).GetLayout(0, -1, dbus.Array([], signature="s"),
                                                      dbus_interface=MENU, timeout=10)

        def walk(node):
            nid, props, children = node
            return {"id": int(nid), "props": {str(k): val for k, val in props.items()},
                    "children": [walk(c) for c in children]}
        return int(revision), walk(root)

    def event(self, service, item_id, name="clicked"):
        self.menu(service).Event(dbus.Int32(item_id), name, dbus.Int32(0, variant_level=1),
                                 dbus.UInt32(0),
                                 dbus_interface=MENU, timeout=10)

    def close(self):
        self.remove_from_connection()
        self.conn.close()


def pixmap_pixel(pixmap, x, y):
    """(r, g, b, a) of one SNI pixmap (w, h, ARGB32 big-endian bytes)."""
    w, _h, data = int(pixmap[0]), int(pixmap[1]), bytes(bytearray(pixmap[2]))
    a, r, g, b = data[(y * w + x) * 4:(y * w + x) * 4 + 4]
    return (r, g, b, a)


def find_label(node, label):
    if node["props"].get("label") == label:
        return node
    for child in node["children"]:
        found = find_label(child, label)
        if found:
            return found
    return None


def depth_of(node):
    return 1 + max([depth_of(c) for c in node["children"]], default=0)


def count_items(node):
    return 1 + sum(count_items(c) for c in node["children"])
