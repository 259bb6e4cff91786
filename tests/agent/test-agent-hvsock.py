#!/usr/bin/env python3
"""The hybrid vsock carrier (cloud-hypervisor / Firecracker): hostd connects to
the VMM's Unix socket, sends "CONNECT <port>\\n" and expects "OK <n>\\n". Test
listeners stand in for the VMM: one that answers OK and then relays to a real
vmdesk-guestd, one that answers garbage, one that answers nothing."""

import socket
import threading

import tap
from agentlib import Bench, wait_for

suite = tap.Suite()
bench = Bench()
seen_lines = {}


def read_line(conn, limit=64):
    line = b""
    while not line.endswith(b"\n") and len(line) < limit:
        chunk = conn.recv(1)
        if not chunk:
            break
        line += chunk
    return line


def relay(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def listener(name, behaviour, guest_sock=None):
    """A fake VMM socket. behaviour: 'good', 'garbage' or 'silent'."""
    path = bench.path(name + ".vsock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    held = []

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            line = read_line(conn)
            seen_lines.setdefault(name, []).append(line)
            if behaviour == "good":
                conn.sendall(b"OK 1073741824\n")
                up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                up.connect(guest_sock)
                threading.Thread(target=relay, args=(conn, up), daemon=True).start()
                threading.Thread(target=relay, args=(up, conn), daemon=True).start()
            elif behaviour == "garbage":
                conn.sendall(b"HELLO \x1b[31mTHERE\n")
                conn.close()
            else:
                held.append(conn)  # never answers

    threading.Thread(target=serve, daemon=True).start()
    return path


@suite.test
def setup():
    _proc, guest_sock = bench.start_guestd("vm", args=["--no-apps"])
    bench.write_vm("good", agent="hvsock:%s:5000" % listener("good", "good", guest_sock))
    bench.write_vm("garbage", agent="hvsock:%s:5001" % listener("garbage", "garbage"))
    bench.write_vm("silent", agent="hvsock:%s:5002" % listener("silent", "silent"))
    bench.write_vm("vsock", agent="vsock:1:5123")
    bench.start_hostd(["--no-menu", "--connect-timeout-ms", "500"])


@suite.test
def good_handshake_carries_the_agent_protocol():
    bench.wait_channel("good")
    assert seen_lines["good"][0] == b"CONNECT 5000\n", seen_lines["good"]
    r = bench.cli("run", "good", "--wait", "--", "echo", "through hvsock")
    assert r.returncode == 0 and r.stdout == b"through hvsock\n", r


@suite.test
def garbage_answer_is_refused_and_shown():
    text = wait_for(lambda: "unexpected reply" in bench.status("garbage")
                    and bench.status("garbage"), "garbage refusal in status")
    assert "channel: disconnected" in text, text
    assert 'unexpected reply "HELLO ?[31mTHERE"' in text, text
    assert "next attempt in:" in text, text
    r = bench.cli("run", "garbage", "--", "true")
    assert r.returncode == 125 and b"agent not connected" in r.stderr, r


@suite.test
def silent_listener_times_out_and_retries():
    text = wait_for(lambda: "timed out" in bench.status("silent") and bench.status("silent"),
                    "silent timeout in status")
    assert "hybrid vsock handshake timed out" in text, text
    # Retries with backoff: more than one CONNECT arrives over time.
    wait_for(lambda: len(seen_lines.get("silent", [])) >= 2, "a second attempt")
    assert all(line == b"CONNECT 5002\n" for line in seen_lines["silent"])


@suite.test
def vsock_address_is_dialled_and_failures_shown():
    # No vsock loopback or VM here: the AF_VSOCK dial fails or times out, visibly.
    text = wait_for(lambda: "last error: connect" in bench.status("vsock")
                    and bench.status("vsock"), "a vsock connect error in status")
    assert "agent: vsock:1:5123\n" in text and "channel: connected" not in text, text


@suite.test
def other_vms_unaffected_while_one_is_stuck():
    r = bench.cli("run", "good", "--wait", "--", "sh", "-c", "echo still; exit 4")
    assert r.returncode == 4 and r.stdout == b"still\n", r


@suite.test
def daemons_exit_cleanly():
    bench.stop_daemons_checked()


try:
    failed = suite.run(exit=False)
finally:
    bench.close()
raise SystemExit(1 if failed else 0)
