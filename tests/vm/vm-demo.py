#!/usr/bin/env python3
"""The quick start's demo with a real VM (./tests/quickstart demo runs this).

    vm-demo.py --check                 prints why no VM can run here and exits 3,
                                       or exits 0 saying nothing
    vm-demo.py [--build DIR] [--out PNG] [--display SOCKET] [--hold SECONDS]

Builds the guest image `demo` with `vmdesk image build` (cached, shared with
the vm tests in /var/tmp/vmdesk-test), starts vmdesk-hostd in a private XDG
tree, `vmdesk start demo` (QEMU; KVM when usable, else TCG), and opens foot
inside the VM with `vmdesk run demo -- foot`: the window comes to the host
through the guest Wayland bridge, virtio-serial and the VM's vmdesk-proxy,
in the VM's green frame. With --display (a running desktop) it opens there
and the demo waits until the window is closed; without, on a headless sway
whose screenshot goes to --out. Then `vmdesk stop demo`, and nothing is left
running. Every step is printed with its time.

The pieces are the end-to-end test's (tests/vm/test-vm-e2e.py): vmlib's image
rule and cache, agentlib's Bench (hostd, the vmdesk CLI), compositor's Sway
and framelib's frame check.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
VM = "demo"
IMAGE = "demo"
PACKAGES = "foot"
NO_VM = 3  # the exit status of --check when no VM can run here


def setup_env(build):
	"""What meson's test environment gives the vm tests, for this build tree."""
	env = {
		"VMDESK_SOURCE_ROOT": SOURCE,
		"VMDESK_BUILD_ROOT": build,
		"VMDESK_VMM_PLAN": os.path.join(build, "tests", "vm", "vmm-plan"),
		"VMDESK_HOSTD": os.path.join(build, "host", "vmdesk-hostd"),
		"VMDESK_CLI": os.path.join(build, "host", "vmdesk"),
		"VMDESK_GUESTD": os.path.join(build, "guest", "vmdesk-guestd"),
	}
	os.environ.update(env)
	for d in ("lib", "agent", "frames", "vm"):
		sys.path.insert(0, os.path.join(SOURCE, "tests", d))


class Clock:
	def __init__(self):
		self.t0 = time.monotonic()

	def now(self):
		return time.monotonic() - self.t0

	def step(self, text):
		print("[%6.1f s] %s" % (self.now(), text), flush=True)


def no_vm_reason():
	import shutil

	import vmlib
	reason = vmlib.no_image_reason([IMAGE])
	if reason is None and os.geteuid() != 0:
		# vmdesk-image needs root to build; the image and its cache are root's
		reason = "not root: the guest image is built and kept as root (use sudo)"
	if reason is None and shutil.which("qemu-system-x86_64") is None:
		reason = "qemu-system-x86_64 is not installed"
	return reason


def build_image(clock, cli, images, cache):
	"""vmdesk image build, its progress indented; returns the seconds it took."""
	start = time.monotonic()
	argv = [cli, "image", "build", IMAGE, "--packages", PACKAGES, "--dir", images,
	        "--cache", cache]
	clock.step("image: vmdesk image build %s --packages %s (cached in %s)"
	           % (IMAGE, PACKAGES, images))
	proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
	                        stdin=subprocess.DEVNULL, env=dict(os.environ, LC_ALL="C.UTF-8"))
	for line in proc.stdout:
		print("            " + line.decode("utf-8", "replace").rstrip("\n"), flush=True)
	if proc.wait() != 0:
		raise SystemExit("vm-demo: vmdesk image build failed (exit %d)" % proc.returncode)
	return time.monotonic() - start


def listed(bench):
	"""vmdesk list's line for the demo VM: name state pid uptime windows channel ..."""
	for line in bench.cli("list").stdout.decode().splitlines():
		fields = line.split("\t")
		if fields[0] == VM:
			return fields
	return None


def text_drawn(comp, win):
	"""Whether foot drew text: the window's inside is not one color any more."""
	r = win["rect"]
	import framelib as fl
	img = comp.capture(r["x"] + fl.BORDER, r["y"] + fl.TITLE, r["width"] - 2 * fl.BORDER,
	                   r["height"] - fl.TITLE - fl.BORDER)
	background = img.pixel(img.width - 1, img.height - 1)
	return img.count_not(background) > 50


def run(args, clock, times):
	import vmlib
	from agentlib import Bench, wait_for

	kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
	clock.step("a real VM: QEMU with %s; foot runs inside it" %
	           ("KVM" if kvm else "TCG (no usable /dev/kvm here, so the boot is slow)"))
	times["image build"] = build_image(clock, os.environ["VMDESK_CLI"], vmlib.IMAGES,
	                                   vmlib.BUILD_CACHE)
	clock.step("image ready after %.1f s" % times["image build"])

	comp = None
	if args.display:
		display = args.display
		clock.step("your Wayland desktop: %s" % display)
	else:
		from compositor import Sway
		comp = Sway(width=1024, height=768).__enter__()
		display = comp.display
		clock.step("no Wayland desktop here: a headless sway (%s)" % display)
	bench = Bench()
	state = {"comp": comp, "bench": bench, "running": False}
	try:
		bench.env["XDG_STATE_HOME"] = bench.path("state")
		bench.env["WAYLAND_DISPLAY"] = display
		bench.write_vm(VM, text="[vm]\ncolor = green\nimage = %s\ncmdline = vmdesk.init=minimal\n"
		               % IMAGE)
		bench.start_hostd(["--no-menu", "--display", display, "--images-dir", vmlib.IMAGES,
		                   "--stop-timeout", "120"])
		clock.step("vmdesk-hostd started (pid %d), its files in %s" % (bench.hostd.pid, bench.root))

		clock.step("vmdesk start %s" % VM)
		start = time.monotonic()
		state["running"] = True
		proc = subprocess.Popen([os.environ["VMDESK_CLI"], "start", VM, "--timeout", "900"],
		                        env=bench.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
		                        stderr=subprocess.STDOUT)
		for line in proc.stdout:
			print("            " + line.decode("utf-8", "replace").rstrip("\n"), flush=True)
		proc.stdout.close()
		if proc.wait() != 0:
			raise SystemExit("vm-demo: vmdesk start failed (exit %d)\n--- hostd's log ---\n%s"
			                 % (proc.returncode, bench.hostd_output()[-3000:]))
		fields = listed(bench)
		if fields and fields[2].isdigit():
			state["vmm"] = int(fields[2])
		times["boot to agent"] = time.monotonic() - start
		clock.step("the VM's agent answers: %.1f s after vmdesk start" % times["boot to agent"])

		banner = ("Hello from inside the VM '%s' (Linux $(uname -r), $(nproc) CPUs)! "
		          "This foot runs in the guest; vmdesk-proxy on the host frames it in green."
		          % VM)
		if comp is not None:
			shell = "printf '%%s\\n' \"%s\"; exec sleep 600" % banner
		else:
			shell = "printf '%%s\\n\\n' \"%s\"; printf 'Close this window (exit) " \
			        "to stop the VM.\\n\\n'; exec bash" % banner
		clock.step("vmdesk run %s -- foot (through the guest's bridge, virtio-serial and "
		           "vmdesk-proxy)" % VM)
		start = time.monotonic()
		r = bench.cli("run", VM, "--", "foot", "--app-id=demo", "sh", "-c", shell)
		if r.returncode != 0:
			raise SystemExit("vm-demo: vmdesk run failed: %r" % (r,))
		if comp is not None:
			import framelib as fl
			app_id = "vmdesk.%s.demo" % VM
			comp.wait_for(lambda: fl.find_window(comp, app_id), timeout=300,
			              what="foot from the VM")
			times["window mapped"] = time.monotonic() - start
			clock.step("window mapped on sway: %.1f s after vmdesk run" % times["window mapped"])
			win, _ = fl.wait_frame(comp, app_id, fl.COLORS["green"], timeout=120)
			clock.step("its frame is on screen: green, titled %r" % win["name"])
			try:
				comp.wait_for(lambda: text_drawn(comp, fl.find_window(comp, app_id)),
				              timeout=60, what="foot's text")
			except TimeoutError:
				clock.step("foot has not drawn its text after 60 s: taking the picture anyway")
			time.sleep(args.hold)
			comp.screenshot(args.out)
			clock.step("screenshot: %s" % args.out)
		else:
			wait_for(lambda: (listed(bench) or [""] * 5)[4] not in ("", "0"),
			         "foot's window on your desktop", 300)
			times["window mapped"] = time.monotonic() - start
			clock.step("window mapped on your desktop: %.1f s after vmdesk run; close it "
			           "(type exit) to stop the VM" % times["window mapped"])
			wait_for(lambda: (listed(bench) or [""] * 5)[4] == "0", "the window to close",
			         timeout=24 * 3600, interval=0.5)

		clock.step("vmdesk stop %s" % VM)
		start = time.monotonic()
		r = bench.cli("stop", VM, timeout=300)
		if r.returncode != 0:
			raise SystemExit("vm-demo: vmdesk stop failed: %r" % (r,))
		state["running"] = False
		times["stop"] = time.monotonic() - start
		clock.step("VM stopped (%s) after %.1f s"
		           % (r.stdout.decode().strip().splitlines()[-1], times["stop"]))
	finally:
		finish(state, clock)


def finish(state, clock):
	"""Stops what the demo started (also after a failure or Ctrl-C): the VM, hostd,
	sway; then checks that none of their processes is left."""
	bench, comp = state["bench"], state["comp"]
	pids = []
	if bench.hostd is not None:
		pids.append(bench.hostd.pid)
		if state["running"]:
			clock.step("stopping the VM at once (vmdesk stop --force)")
			bench.cli("stop", VM, "--force", timeout=60)
		bench.close()  # SIGTERM to hostd, which stops what is left of its VM
	if comp is not None:
		pids.append(comp.proc.pid)
		comp.__exit__(None, None, None)
	if "vmm" in state:
		pids.append(state["vmm"])
	left = [p for p in pids if os.path.exists("/proc/%d" % p)]
	if left:
		clock.step("left running: pids %s" % " ".join(map(str, left)))
	else:
		clock.step("%s are gone; nothing left running"
		           % ("QEMU, hostd and sway" if comp is not None else "QEMU and hostd"))


def main():
	parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	parser.add_argument("--check", action="store_true",
	                    help="print why no VM can run here and exit 3 (else exit 0)")
	parser.add_argument("--build", default=os.path.join(SOURCE, "build"),
	                    help="the meson build tree (default: build)")
	parser.add_argument("--out", default=os.path.join(os.getcwd(), "vmdesk-demo.png"),
	                    help="the screenshot (headless sway only)")
	parser.add_argument("--display", help="a running desktop's Wayland socket")
	parser.add_argument("--hold", type=float, default=1.0,
	                    help="seconds between foot's text and the screenshot")
	args = parser.parse_args()
	setup_env(os.path.abspath(args.build))
	if args.check:
		reason = no_vm_reason()
		if reason:
			print(reason)
			return NO_VM
		return 0
	clock = Clock()
	times = {}
	# SIGTERM (and SIGHUP) end the demo as Ctrl-C does: through the cleanup
	signal.signal(signal.SIGTERM, signal.default_int_handler)
	signal.signal(signal.SIGHUP, signal.default_int_handler)
	run(args, clock, times)
	print("demo: a real VM; " + ", ".join("%s %.1f s" % kv for kv in times.items()), flush=True)
	return 0


if __name__ == "__main__":
	sys.exit(main())
