#!/usr/bin/python3
"""Windows from inside a VM on headless weston (desktop-shell, pixman): the
wl_shm demo clients that give up on sway 1.7 (weston-simple-shm,
weston-simple-damage) map through the VM link framed, and a raw client's
frames arrive exactly. weston tells no window positions: the frame is found
by its color (tests/frames/weston.py)."""

import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "frames"))
import framelib as fl  # noqa: E402
import tap  # noqa: E402
import weston as wf  # noqa: E402  (tests/frames/weston.py: color_box, wait_framed)
from compositor import Weston  # noqa: E402
from linklib import Chain  # noqa: E402
from painter import Painter  # noqa: E402
from proxy import Client  # noqa: E402

suite = tap.Suite()
COLOR = wf.COLOR


def chain(comp):
	return Chain(comp, vm="work", args=["--color", COLOR])


@suite.test
def test_weston_simple_shm():
	with Weston(debug=True) as comp, chain(comp) as c, \
			Client(["weston-simple-shm"], env=c.env()):
		box = wf.wait_framed(comp, fl.framed_size(250, 250), inner=False)
		tap.diag("frame at %r" % (box,))
		c.check_alive()


@suite.test
def test_weston_simple_damage():
	with Weston(debug=True) as comp, chain(comp) as c, \
			Client(["weston-simple-damage"], env=c.env()) as client:
		box = wf.wait_framed(comp, fl.framed_size(300, 200), inner=False)
		tap.diag("frame at %r" % (box,))
		assert client.alive(), client.output()
		c.check_alive()


@suite.test
def test_contents_exact_on_weston():
	"""weston's pixman renderer reads the whole buffer at every repaint: every
	byte of the mirror must be right, not only the damage."""
	rng = random.Random(10)
	with Weston(debug=True) as comp, chain(comp) as c:
		client = fl.Client(c.socket)
		painter = Painter(client, "painter", 200, 120, buffers=3)
		for _ in range(40):
			painter.fill_rect(rng.randrange(0, 200), rng.randrange(0, 120),
			                  rng.randrange(1, 80), rng.randrange(1, 50),
			                  0xFF000000 | rng.randrange(1 << 24))
		box = wf.wait_framed(comp, fl.framed_size(200, 120), inner=False)
		inner = fl.content_rect(box)
		fl.wait_image(comp, lambda img: painter.mismatches(img, (inner["x"], inner["y"])),
		              "the painted window on weston")
		client.close()
		c.check_alive()


if __name__ == "__main__":
	suite.run()
