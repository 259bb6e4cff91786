#!/usr/bin/env python3
"""vmdesk-image, the guest image builder: the cached build, rebuilds only when
an input changes, `show`, `overlay-disk`, and clear errors for bad arguments
and for a build without root.
"""

import os
import shutil
import subprocess
import tempfile

import tap
import vmlib

vmlib.skip_suite_without_image()
suite = tap.Suite()
NOBODY = 65534


@suite.test
def test_build_and_up_to_date():
	image_dir, out, seconds = vmlib.build_image()
	for line in out.splitlines():
		tap.diag(line)
	tap.diag("build took %.1f s" % seconds)
	_, out, seconds = vmlib.build_image()
	assert "is up to date" in out, out
	tap.diag("up-to-date check: %.1f s" % seconds)


@suite.test
def test_rebuild_when_an_input_changes():
	# Another guest program set (same guestd, a changed unit file) is another
	# input: the image is rebuilt, from the cached Debian base, then up to date.
	guest = tempfile.mkdtemp(prefix="vmdesk-guest-")
	name = vmlib.image_name()[:26] + "-rb"
	try:
		src = os.path.join(vmlib.BUILD, "guest")
		shutil.copy(os.path.join(src, "vmdesk-guestd"), guest)
		shutil.copy(os.path.join(src, "vmdesk-guestd.service"), guest)
		_, out, _ = vmlib.build_image(name, guest)
		with open(os.path.join(guest, "vmdesk-guestd.service"), "a") as f:
			f.write("# changed\n")
		_, out, seconds = vmlib.build_image(name, guest)
		assert "is up to date" not in out and "cached" in out, out
		tap.diag("rebuild from the cached base: %.1f s" % seconds)
		for line in out.splitlines():
			tap.diag(line)
		_, out, _ = vmlib.build_image(name, guest)
		assert "is up to date" in out, out
		# The changed unit is in the image.
		image_dir = os.path.join(vmlib.IMAGES, name)
		with open(os.path.join(image_dir, "manifest")) as f:
			assert "unit=vmdesk-guestd.service" in f.read()
	finally:
		shutil.rmtree(guest, ignore_errors=True)
		shutil.rmtree(os.path.join(vmlib.IMAGES, name), ignore_errors=True)


@suite.test
def test_show():
	image_dir, _, _ = vmlib.build_image()
	status, out = vmlib.run_builder("show", vmlib.image_name(), "--dir", vmlib.IMAGES)
	assert status == 0, out
	facts = dict(line.split("=", 1) for line in out.splitlines())
	assert facts["dir"] == image_dir, facts
	assert facts["kernel"] == os.path.join(image_dir, "vmlinuz"), facts
	assert facts["root"] == os.path.join(image_dir, "root.erofs"), facts
	status, out = vmlib.run_builder("show", "no-such-image", "--dir", vmlib.IMAGES)
	assert status == 1 and "no image no-such-image" in out, out


@suite.test
def test_needs_root():
	# Not up to date and not root: a clear error, before anything is written.
	if os.geteuid() != 0:
		tap.skip("needs root to run the builder as another user")
	tmp = tempfile.mkdtemp(prefix="vmdesk-noroot-")
	os.chmod(tmp, 0o777)
	try:
		status, out = vmlib.run_builder(
			"build", "other", "--guest-programs", os.path.join(vmlib.BUILD, "guest"),
			"--dir", os.path.join(tmp, "images"), "--cache", os.path.join(tmp, "cache"),
			user=NOBODY)
		assert status == 1, (status, out)
		assert "needs root" in out and "sudo vmdesk image build other" in out, out
		assert not os.path.exists(os.path.join(tmp, "images")), "wrote before the check"
	finally:
		shutil.rmtree(tmp, ignore_errors=True)


@suite.test
def test_bad_arguments():
	cases = [
		(["build", "../x"], "bad image name"),
		(["build", "a" * 33], "bad image name"),
		(["build", "ok", "--size", "2X"], "bad --size"),
		(["build", "ok", "--packages", "foot bash"], "bad --packages"),
		(["build", "ok", "--packages", "foot,,bash"], "bad --packages"),
		(["build", "ok", "--packages", "-oAPT::x=1"], "bad --packages"),
		(["build", "ok", "--frobnicate"], "unknown option --frobnicate"),
		(["build", "one", "two"], "one image name only"),
		(["build", "ok", "--guest-programs", "/nonexistent"], "no such directory"),
		(["build", "ok", "--guest-programs", "/tmp", "--dir", "/tmp/x"], "no vmdesk-guestd"),
		(["frob"], "unknown command"),
		(["overlay-disk", "/tmp/x.img", "1M"], "at least 64M"),
		(["overlay-disk", "/tmp/x.img", "big"], "bad size"),
	]
	for args, want in cases:
		status, out = vmlib.run_builder(*args)
		assert status in (1, 2) and want in out, "%s: %d %s" % (args, status, out)
	status, out = vmlib.run_builder()
	assert status == 2 and "usage:" in out, out


@suite.test
def test_overlay_disk():
	tmp = tempfile.mkdtemp(prefix="vmdesk-disk-")
	disk = os.path.join(tmp, "o.img")
	try:
		status, out = vmlib.run_builder("overlay-disk", disk, "128M")
		assert status == 0, out
		assert os.path.getsize(disk) == 128 * 1024 * 1024
		info = subprocess.run(["dumpe2fs", "-h", disk], stdout=subprocess.PIPE,
		                      stderr=subprocess.DEVNULL, check=True).stdout.decode()
		assert "vmdesk-overlay" in info, info
		status, out = vmlib.run_builder("overlay-disk", disk, "128M")
		assert status == 1 and "never overwritten" in out, out
	finally:
		shutil.rmtree(tmp, ignore_errors=True)


suite.run()
