"""Benchmark (not a test): pasting 1 MiB of text
  - on the host, wl-copy/wl-paste directly on sway (data-control),
  - within VM a (wl-copy and wl-paste both through proxy a),
  - across VMs (vmdesk-clip copy a, vmdesk-clip paste b, wl-paste in b),
in one run; prints medians and the ratios to the host's.

    VMDESK_BUILD_ROOT=build /usr/bin/python3 tests/clipboard/bench-clip.py [ROUNDS]
(PYTHONPATH must hold tests/lib and tests/clipboard, as meson's test env does.)
"""

import statistics
import subprocess
import sys
import time

from cliplib import Desk

SIZE = 1 << 20
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 7


def payload():
	line = b"the quick brown fox jumps over the lazy dog 0123456789\n"
	data = (line * (SIZE // len(line) + 1))[:SIZE - 1] + b"\n"
	assert len(data) == SIZE
	return data


def wl_copy(d, domain, data):
	"""wl-copy --foreground reading data from stdin, in domain; returns the process."""
	proc = subprocess.Popen(["wl-copy", "--foreground", "--type", "text/plain;charset=utf-8"],
	                        env=d.env_of(domain), stdin=subprocess.PIPE,
	                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
	                        start_new_session=True)
	proc.stdin.write(data)
	proc.stdin.close()
	return proc


def wl_paste(d, domain):
	start = time.perf_counter()
	r = subprocess.run(["wl-paste", "-n"], env=d.env_of(domain), capture_output=True,
	                   timeout=30)
	return time.perf_counter() - start, r.stdout


def time_paste(d, domain, data, rounds):
	"""Median seconds of a wl-paste in domain that returns data."""
	times = []
	attempts = 0
	while len(times) < rounds:
		attempts += 1
		if attempts > rounds * 10:
			raise RuntimeError("wl-paste in %s keeps failing" % getattr(domain, "vm", domain))
		seconds, got = wl_paste(d, domain)
		if got == data:
			times.append(seconds)
	return statistics.median(times)


def with_copier(d, domain, data, fn):
	proc = wl_copy(d, domain, data)
	try:
		deadline = time.monotonic() + 15
		while wl_paste(d, domain)[1] != data:  # wl-copy has set its selection
			if proc.poll() is not None:
				proc = wl_copy(d, domain, data)  # lost the focus race: again
			if time.monotonic() > deadline:
				raise RuntimeError("wl-copy in %s did not take" % getattr(domain, "vm", domain))
		return fn()
	finally:
		proc.kill()
		proc.wait()


def across(d, data, rounds):
	"""Median seconds of copy a -> global, paste global -> b, wl-paste in b, and of
	the three together."""
	parts = {"copy": [], "paste": [], "wl-paste": [], "total": []}
	while len(parts["total"]) < rounds:
		t0 = time.perf_counter()
		r = d.clip("copy", "a")
		assert r.returncode == 0, r
		t1 = time.perf_counter()
		r = d.clip("paste", "b")
		assert r.returncode == 0, r
		t2 = time.perf_counter()
		seconds, got = wl_paste(d, d.b)
		if got != data:
			continue
		t3 = time.perf_counter()
		for key, value in (("copy", t1 - t0), ("paste", t2 - t1), ("wl-paste", t3 - t2),
		                   ("total", t3 - t0)):
			parts[key].append(value)
	return {key: statistics.median(values) for key, values in parts.items()}


def main():
	data = payload()
	with Desk(clipd_args=("--max-size", str(SIZE))) as d:
		host = with_copier(d, "host", data, lambda: time_paste(d, "host", data, ROUNDS))
		vm = with_copier(d, d.a, data, lambda: time_paste(d, d.a, data, ROUNDS))
		cross = with_copier(d, d.a, data, lambda: across(d, data, ROUNDS))
	print("1 MiB paste, median of %d:" % ROUNDS)
	print("  host (wl-copy/wl-paste on sway)     %7.1f ms" % (host * 1000))
	print("  within VM a (through the proxy)     %7.1f ms   x%.2f" % (vm * 1000, vm / host))
	total = cross["total"]
	print("  across VMs (copy a, paste b, paste) %7.1f ms   x%.2f" % (total * 1000, total / host))
	print("    of which vmdesk-clip copy %.1f ms, vmdesk-clip paste %.1f ms, wl-paste in b "
	      "%.1f ms (x%.2f)" % (cross["copy"] * 1000, cross["paste"] * 1000,
	                           cross["wl-paste"] * 1000, cross["wl-paste"] / host))


if __name__ == "__main__":
	main()
