#!/usr/bin/python3
"""The clipboard of a VM whose clients come over the link (issue 8): VM "a"
is vmdesk-guest-wayland + vmdesk-proxy --guest, VM "b" a proxy with local
clients as before; both joined to vmdesk-clipd (the global clipboard).
wl-copy and wl-paste run as clients of the VM, their pipes crossing the link
(WL_PIPE, WL_PIPE_DATA) while the proxy serves the VM's clipboard itself."""

import hashlib
import os
import subprocess
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clipboard"))
import tap  # noqa: E402
from cliplib import Desk  # noqa: E402
from linklib import Chain  # noqa: E402

suite = tap.Suite()


class LinkDesk(Desk):
	"""Desk with VM a behind the VM link."""

	def proxy(self, vm):
		args = ["--hostd", self.clipd.socket, "--log-level", "debug"]
		if vm == "a":
			return Chain(self.comp, vm="a", args=args)
		return super().proxy(vm)

	def stop_copier(self, domain, primary=False):
		"""Ends the wl-copy copy_in left running in domain, for good: a paste into
		the domain cancels its selection, and wait_paste would start it again."""
		entry = self._copiers.pop((self._key(domain), primary), None)
		if entry is not None:
			entry[2].kill()
			entry[2].wait()


def unique(prefix):
	return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


@suite.test
def test_copy_and_paste_inside_the_vm():
	"""wl-copy in a, wl-paste in a (both over the link) gets it; b and the host do
	not: clipboard and primary selection."""
	with LinkDesk() as d:
		for primary in (False, True):
			text = unique("primary" if primary else "clip")
			d.copy_in(d.a, text, primary=primary)
			d.wait_paste(d.a, text, primary=primary)
			assert d.paste_in(d.b, primary=primary) != text
			assert d.paste_in("host", primary=primary) != text
		d.a.check_alive()


@suite.test
def test_large_paste_inside_the_vm():
	"""4 MiB pasted between two clients of the link VM arrive whole, through two
	pipes and their windows on the link."""
	with LinkDesk() as d:
		data = os.urandom(3 << 20).hex()[: 4 << 20]
		path = os.path.join(d.a.dir, "big.txt")
		with open(path, "w") as f:
			f.write(data)
		copier = subprocess.Popen(["wl-copy", "--foreground", "--type", "text/plain"],
		                          stdin=open(path, "rb"), env=d.a.env(d.comp),
		                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
		                          start_new_session=True)
		try:
			def pasted():
				r = subprocess.run(["wl-paste", "-n"], env=d.a.env(d.comp),
				                   capture_output=True, timeout=30)
				return r.returncode == 0 and len(r.stdout) == len(data) and \
					hashlib.sha256(r.stdout).hexdigest() == \
					hashlib.sha256(data.encode()).hexdigest()
			d.comp.wait_for(pasted, timeout=30, what="4 MiB pasted whole in a")
		finally:
			copier.kill()
			copier.wait()
		d.a.check_alive()


@suite.test
def test_global_clipboard_from_and_to_the_link_vm():
	"""Global copy with a's window focused takes a's text (read from its client over
	the link); a global paste into b gives it to b. Then the other way: from b
	into a, whose clients read the proxy's own data through a link pipe."""
	with LinkDesk() as d:
		text = unique("from-a")
		d.copy_in(d.a, text)
		d.wait_paste(d.a, text)
		with d.window(d.a) as wa:
			d.wait_focus("a", [wa])
			r = d.clip("copy", windows=[wa])
			assert r.returncode == 0 and "from a" in r.stdout, r
			with d.window(d.b) as wb:
				d.wait_focus("b", [wa, wb])
				r = d.clip("paste", windows=[wa, wb])
				assert r.returncode == 0, r
				d.wait_paste(d.b, text)
		d.stop_copier(d.a)
		back = unique("from-b")
		d.copy_in(d.b, back)
		d.wait_paste(d.b, back)
		with d.window(d.b) as wb:
			d.wait_focus("b", [wb])
			r = d.clip("copy", windows=[wb])
			assert r.returncode == 0, r
			with d.window(d.a) as wa:
				d.wait_focus("a", [wa, wb])
				r = d.clip("paste", windows=[wa, wb])
				assert r.returncode == 0 and "into a" in r.stdout, r
				d.wait_paste(d.a, back)
		assert d.paste_in("host") not in (text, back)
		d.a.check_alive()


if __name__ == "__main__":
	suite.run()
