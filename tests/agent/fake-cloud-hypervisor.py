#!/usr/bin/env python3
"""A stand-in for cloud-hypervisor and ch-remote, for the launcher's tests on
machines without KVM (cloud-hypervisor needs it; it is not packaged for
Debian 12 anyway). Its "guest" is a real vmdesk-guestd on the host, reached
through a real hybrid-vsock handshake, so hostd's launcher, channel and
transport code run as they would with the real VMM.

As cloud-hypervisor (vmdesk-hostd --vmm-path cloud-hypervisor=THIS), it
takes the argv host/vmm-cloud-hypervisor.c writes and
  - listens on --api-socket path=P for the commands of its ch-remote twin
    ("power-button": the guest powers off, that is guestd ends and this
    exits 0; "shutdown-vmm": exits at once);
  - listens on --serial socket=S: a console that says who it is and echoes;
  - listens on --vsock cid=N,socket=V: "CONNECT 5000\\n" connects to the
    guest's agent and answers "OK 1073741824\\n", then relays;
  - runs vmdesk-guestd (VMDESK_GUESTD) as the guest's agent, with the
    --idle-seconds of vmdesk.idle-seconds= on --cmdline; guestd dies with it.
Its argv is written to FAKE_VMM_LOG (a file) if set.

As ch-remote (--vmm-path ch-remote=THIS): `--api-socket P COMMAND` sends
COMMAND to P and exits 0 once it was taken.
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def option(args, name):
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
    return None


def keyvalues(text):
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    return s


def relay(a, b):
    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    threading.Thread(target=pump, args=(a, b), daemon=True).start()
    threading.Thread(target=pump, args=(b, a), daemon=True).start()


def ch_remote(args):
    path, command = option(args, "--api-socket"), args[-1]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(command.encode() + b"\n")
    reply = s.recv(64)
    sys.exit(0 if reply.startswith(b"OK") else 1)


def vmm(args):
    if os.environ.get("FAKE_VMM_LOG"):
        with open(os.environ["FAKE_VMM_LOG"], "a") as f:
            f.write("\0".join([sys.argv[0]] + args) + "\n")
    api = keyvalues(option(args, "--api-socket"))["path"]
    console = keyvalues(option(args, "--serial"))["socket"]
    vsock = keyvalues(option(args, "--vsock"))["socket"]
    cmdline = option(args, "--cmdline") or ""
    idle = "300"
    for word in cmdline.split():
        if word.startswith("vmdesk.idle-seconds="):
            idle = word.split("=", 1)[1]
    name = "vm"
    for word in cmdline.split():
        if word.startswith("vmdesk.name="):
            name = word.split("=", 1)[1]
    guest = tempfile.mkdtemp(prefix="fake-ch-guest-")
    agent_sock = os.path.join(guest, "agent.sock")
    env = dict(os.environ, HOME=guest, XDG_DATA_HOME=os.path.join(guest, "data"),
               XDG_DATA_DIRS=os.path.join(guest, "none"), XDG_RUNTIME_DIR=guest)
    env.pop("WAYLAND_DISPLAY", None)
    libc = ctypes.CDLL(None)
    guestd = subprocess.Popen(
        [os.environ["VMDESK_GUESTD"], "--listen", "unix:" + agent_sock, "--no-apps",
         "--idle-seconds", idle],
        env=env, stdin=subprocess.DEVNULL,
        preexec_fn=lambda: libc.prctl(1, signal.SIGKILL))  # PR_SET_PDEATHSIG

    powering_off = threading.Event()

    def power_off(status=0):
        powering_off.set()  # the agent's end below is ours, not a crash
        if guestd.poll() is None:
            guestd.terminate()
            try:
                guestd.wait(10)
            except subprocess.TimeoutExpired:
                guestd.kill()
        shutil.rmtree(guest, ignore_errors=True)
        os._exit(status)

    signal.signal(signal.SIGTERM, lambda *_: power_off(0))
    api_srv, console_srv, vsock_srv = listen(api), listen(console), listen(vsock)

    def serve_api():
        while True:
            c, _ = api_srv.accept()
            command = c.recv(64).strip()
            c.sendall(b"OK\n")
            c.close()
            if command == b"power-button":
                # the guest takes a moment to power off
                threading.Timer(0.3, power_off).start()
            elif command == b"shutdown-vmm":
                power_off()

    def serve_console():
        while True:
            c, _ = console_srv.accept()
            c.sendall(("fake console of %s\r\n" % name).encode())
            try:
                while True:
                    data = c.recv(4096)
                    if not data:
                        break
                    c.sendall(data)
            except OSError:
                pass
            c.close()

    def serve_vsock():
        while True:
            c, _ = vsock_srv.accept()
            line = b""
            while not line.endswith(b"\n") and len(line) < 64:
                chunk = c.recv(1)
                if not chunk:
                    break
                line += chunk
            if line.strip() != b"CONNECT 5000":
                c.close()  # nobody listens on that port in this guest
                continue
            g = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                g.connect(agent_sock)
            except OSError:
                c.close()
                g.close()
                continue
            c.sendall(b"OK 1073741824\n")
            relay(c, g)

    for serve in (serve_api, serve_console, serve_vsock):
        threading.Thread(target=serve, daemon=True).start()
    while True:
        if guestd.poll() is not None and not powering_off.is_set():
            # the guest's agent ended on its own: the guest "crashed"
            power_off(1)
        time.sleep(0.2)


def main():
    args = sys.argv[1:]
    api = option(args, "--api-socket")
    if api is not None and not api.startswith("path="):
        ch_remote(args)
    else:
        vmm(args)


if __name__ == "__main__":
    main()
