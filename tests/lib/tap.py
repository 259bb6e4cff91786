"""A tiny TAP (Test Anything Protocol) runner for the python test scripts.

    import tap
    suite = tap.Suite()

    @suite.test
    def test_something():
        assert 1 + 1 == 2      # raise or assert to fail
        tap.skip("reason")     # or skip

    suite.run()                # exits 0 iff no test failed

Each test runs in turn; an exception in one does not stop the others. The
traceback of a failed test is printed as TAP diagnostics ("# ..." lines).
Only TAP goes to stdout; anything a test prints to stderr stays on stderr.
"""

import sys
import traceback

__all__ = ["Suite", "Skip", "skip", "diag"]


class Skip(Exception):
	"""Raised by skip() to end the current test as skipped."""


def skip(reason):
	"""End the current test as skipped, with a reason."""
	raise Skip(reason)


def _single_line(text):
	return " ".join(str(text).split())


def diag(msg):
	"""Print a diagnostic message (each line prefixed with "# ")."""
	text = str(msg)
	lines = text.splitlines() or [""]
	for line in lines:
		sys.stdout.write("# " + line + "\n" if line else "#\n")
	sys.stdout.flush()


class Suite:
	"""A list of tests run in the order they were registered."""

	def __init__(self):
		self.tests = []

	def test(self, func):
		"""Decorator: register func as a test; its name is the function name."""
		self.tests.append((func.__name__, func))
		return func

	def run(self, exit=True):
		"""Run all tests, print TAP, exit 0 iff none failed (or return the count)."""
		failed = 0
		sys.stdout.write("1..%d\n" % len(self.tests))
		sys.stdout.flush()
		for number, (name, func) in enumerate(self.tests, start=1):
			try:
				func()
			except Skip as e:
				sys.stdout.write("ok %d - %s # SKIP %s\n" % (number, name, _single_line(e)))
			except BaseException as e:  # noqa: B902 - a test may raise anything
				failed += 1
				sys.stdout.write("not ok %d - %s\n" % (number, name))
				diag(traceback.format_exc().rstrip())
				if isinstance(e, KeyboardInterrupt):
					sys.stdout.flush()
					raise
			else:
				sys.stdout.write("ok %d - %s\n" % (number, name))
			sys.stdout.flush()
		if failed:
			diag("%d of %d tests failed" % (failed, len(self.tests)))
		sys.stdout.flush()
		if exit:
			sys.exit(1 if failed else 0)
		return failed
