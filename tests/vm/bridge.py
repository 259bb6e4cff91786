"""Whether this build has the guest Wayland bridge and the serial: carrier
(the branch `bridge`, issue 8): vmdesk-guest-wayland, `vmdesk-proxy --guest`
and vmdesk-guestd listening on a virtio-serial port. Until it is merged, the
tests that need a guest agent or a window from a real VM skip, saying so."""

import os
import subprocess

BUILD = os.environ["VMDESK_BUILD_ROOT"]


def missing():
    """None when the bridge is there, else why not (one line)."""
    guestd = os.path.join(BUILD, "guest", "vmdesk-guestd")
    bridge = os.path.join(BUILD, "guest", "wayland", "vmdesk-guest-wayland")
    proxy = os.path.join(BUILD, "proxy", "vmdesk-proxy")
    if not os.path.exists(bridge):
        return "no vmdesk-guest-wayland in this build (the guest Wayland bridge, issue 8)"
    help_text = subprocess.run([proxy, "--help"], capture_output=True).stdout
    if b"--guest" not in help_text:
        return "vmdesk-proxy has no --guest (the VM link, issue 8)"
    r = subprocess.run([guestd, "--listen", "serial:/nonexistent-vmdesk-port"],
                       capture_output=True, timeout=10)
    if b"unknown address" in r.stderr:
        return "vmdesk-guestd cannot listen on serial: (the virtio-serial carrier, issue 8)"
    return None
