#!/usr/bin/env python3
"""App menu export: vmdesk-guestd reads the .desktop files and icons Debian
installed in /usr/share (plus one test app with an SVG icon), vmdesk-hostd
writes host menu entries that pass desktop-file-validate, with VM-colored
icons and a per-VM submenu; running an entry's Exec line starts the app in
the guest; entries follow the guest's changes (inotify) and the VM's removal."""

import glob
import os
import shlex
import shutil
import signal
import subprocess
import time

import tap
from agentlib import Bench, wait_for

suite = tap.Suite()
bench = Bench()
guest_home = bench.path("guest-work")
guest_apps = os.path.join(guest_home, "applications")
apps_dir = os.path.join(bench.data, "applications")
icons_dir = os.path.join(bench.data, "icons", "hicolor")
marker = bench.path("launched-marker")
RED = (0xCC, 0x00, 0x00)

SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">
<rect x="8" y="8" width="48" height="48" fill="#00ff00"/></svg>
"""


def write_desktop(name, text):
    os.makedirs(guest_apps, exist_ok=True)
    tmp = os.path.join(guest_apps, "." + name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, os.path.join(guest_apps, name))


def host_entries():
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(apps_dir, "vmdesk*")))


def read_entry(name):
    entry = {}
    with open(os.path.join(apps_dir, name)) as f:
        for line in f:
            if "=" in line:
                key, value = line.rstrip("\n").split("=", 1)
                entry[key] = value
    return entry


def pixel(path, x, y):
    out = subprocess.run(["convert", path, "-format", "%%[fx:int(255*p{%d,%d}.r)],"
                          "%%[fx:int(255*p{%d,%d}.g)],%%[fx:int(255*p{%d,%d}.b)]"
                          % (x, y, x, y, x, y), "info:"], capture_output=True, check=True)
    return tuple(int(v) for v in out.stdout.decode().split(","))


@suite.test
def setup():
    os.makedirs(os.path.join(guest_home, "icons/hicolor/scalable/apps"))
    with open(os.path.join(guest_home, "icons/hicolor/scalable/apps/vmdesk-test.svg"), "w") as f:
        f.write(SVG)
    write_desktop("vmdesk-marker.desktop",
                  "[Desktop Entry]\nType=Application\nName=Marker\nIcon=vmdesk-test\n"
                  "Categories=Utility;\nExec=sh -c \"echo launched > %s\"\n" % marker)
    _proc, sock = bench.start_guestd("work", data_dirs="/usr/share", data_home=guest_home)
    bench.write_vm("work", agent="unix:" + sock, color="red")
    bench.before = bench.files()
    bench.start_hostd()
    bench.wait_channel("work")
    wait_for(lambda: "vmdesk.work.vmdesk-marker.desktop" in host_entries(), "menu entries")


@suite.test
def real_debian_apps_are_exported_and_hidden_ones_are_not():
    listing = bench.cli("apps", "work").stdout.decode()
    ids = [line.split("\t")[0] for line in listing.splitlines()]
    # only what tests/quickstart installs: foot (gtk-3-examples' entries are NoDisplay)
    for desktop in ("foot.desktop", "footclient.desktop", "vmdesk-marker.desktop"):
        assert desktop in ids, listing
    for path in glob.glob("/usr/share/applications/*.desktop"):
        if "NoDisplay=true" in open(path).read():
            assert os.path.basename(path) not in ids, path
    assert "gtk3-widget-factory.desktop" not in ids, listing
    assert host_entries() == sorted("vmdesk.work." + i for i in ids), host_entries()
    tap.diag("%d applications exported" % len(ids))


@suite.test
def every_entry_passes_desktop_file_validate():
    files = [os.path.join(apps_dir, n) for n in host_entries()]
    files.append(os.path.join(bench.data, "desktop-directories", "vmdesk.work.directory"))
    r = subprocess.run(["desktop-file-validate"] + files, capture_output=True)
    output = (r.stdout + r.stderr).decode()
    assert r.returncode == 0 and "error" not in output, output


@suite.test
def entries_name_the_vm_and_never_carry_the_guest_exec():
    for name in host_entries():
        entry = read_entry(name)
        app_id = name[len("vmdesk.work."):]
        assert entry["Name"].startswith("work: "), entry
        assert entry["Exec"] == "%s run work --app %s" % (os.environ["VMDESK_CLI"], app_id), entry
        assert entry["X-Vmdesk-VM"] == "work" and entry["X-Vmdesk-App"] == app_id, entry
        assert "X-Vmdesk-VM-work;" in entry["Categories"], entry


@suite.test
def icons_carry_the_vm_color():
    entry = read_entry("vmdesk.work.vmdesk-marker.desktop")
    icons = glob.glob(os.path.join(icons_dir, "*", "apps", entry["Icon"] + ".png"))
    assert len(icons) == 1, icons
    assert pixel(icons[0], 0, 0) == RED, pixel(icons[0], 0, 0)
    size = int(os.path.basename(os.path.dirname(os.path.dirname(icons[0]))).split("x")[0])
    assert pixel(icons[0], size // 2, size // 2) == (0, 255, 0), "SVG not rendered"
    foot = glob.glob(os.path.join(icons_dir, "*", "apps", "vmdesk.work.foot.png"))
    assert len(foot) == 1 and pixel(foot[0], 0, 0) == RED, foot


@suite.test
def submenu_files_exist():
    with open(os.path.join(bench.config, "menus", "applications-merged", "vmdesk.work.menu")) as f:
        menu = f.read()
    assert "<Category>X-Vmdesk-VM-work</Category>" in menu, menu
    assert "<Directory>vmdesk.work.directory</Directory>" in menu, menu


@suite.test
def running_an_entry_exec_line_starts_the_app_in_the_guest():
    argv = shlex.split(read_entry("vmdesk.work.vmdesk-marker.desktop")["Exec"])
    r = subprocess.run(argv, env=bench.env, capture_output=True, timeout=30)
    assert r.returncode == 0, r
    wait_for(lambda: os.path.exists(marker) and open(marker).read() == "launched\n",
             "the app's marker file")
    r = bench.cli("run", "work", "--app", "not-there.desktop")
    assert r.returncode == 127 and b"no application" in r.stderr, r


@suite.test
def new_and_removed_guest_apps_follow():
    write_desktop("vmdesk-added.desktop", "[Desktop Entry]\nType=Application\nName=Added\n"
                  "Icon=foot\nExec=true\n")
    wait_for(lambda: "vmdesk.work.vmdesk-added.desktop" in host_entries(), "the added entry")
    wait_for(lambda: glob.glob(os.path.join(icons_dir, "*/apps/vmdesk.work.vmdesk-added.png")),
             "the added icon")
    os.unlink(os.path.join(guest_apps, "vmdesk-added.desktop"))
    wait_for(lambda: "vmdesk.work.vmdesk-added.desktop" not in host_entries(), "the removal")
    assert not glob.glob(os.path.join(icons_dir, "*/apps/vmdesk.work.vmdesk-added.png"))


@suite.test
def nothing_written_outside_the_menu_and_icon_dirs():
    allowed = ("data/applications/", "data/icons/hicolor/", "data/desktop-directories/",
               "config/menus/applications-merged/", "run/vmdesk/")
    new = bench.files() - bench.before
    stray = [f for f in new if not f.startswith(allowed) and not f.startswith("guest-")
             and not f.endswith((".log", ".sock")) and f != "launched-marker"]
    assert not stray, stray


@suite.test
def colocated_guest_exports_nothing_hostd_wrote():
    # A guest agent on the host itself, reading the very directory hostd writes
    # menu entries into: it must not send them back (issue: an entry a cycle).
    _proc, sock = bench.start_guestd("self", data_dirs="/nonexistent", data_home=bench.data)
    bench.write_vm("self", agent="unix:" + sock, color="blue")
    bench.hostd.send_signal(signal.SIGHUP)  # reload: "self" is new
    bench.wait_channel("self")
    bench.wait_log("vm=self: 0 applications (0 refused)")
    write_desktop("vmdesk-again.desktop", "[Desktop Entry]\nType=Application\nName=Again\n"
                  "Exec=true\n")
    wait_for(lambda: "vmdesk.work.vmdesk-again.desktop" in host_entries(), "the new entry")
    time.sleep(1.0)  # the co-located guest saw hostd write it; it must still export nothing
    assert bench.cli("apps", "self").stdout == b"", bench.cli("apps", "self")
    assert not [e for e in host_entries() if e.startswith("vmdesk.self.")], host_entries()
    assert "vm=self: 0 applications" in bench.hostd_output()
    assert "vm=self: 1 applications" not in bench.hostd_output()


@suite.test
def entries_disappear_with_their_vm():
    bench.stop_hostd()
    os.unlink(os.path.join(bench.vms_dir, "work.conf"))
    bench.start_hostd()
    wait_for(lambda: not host_entries(), "entries of the removed VM to go")
    assert not glob.glob(os.path.join(icons_dir, "*/apps/vmdesk.work.*"))
    assert not os.path.exists(os.path.join(bench.config, "menus", "applications-merged",
                                           "vmdesk.work.menu"))


@suite.test
def daemons_exit_cleanly():
    bench.stop_daemons_checked()


try:
    failed = suite.run(exit=False)
finally:
    bench.close()
    shutil.rmtree(guest_home, ignore_errors=True)
raise SystemExit(1 if failed else 0)
