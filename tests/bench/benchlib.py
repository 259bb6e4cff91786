"""Shared helpers of the benchmarks in tests/bench (not tests: they only measure).

    cpu = tree_cpu(pid)            # CPU seconds of a process and its descendants
    m = Machine(); ...; m.finish() # CPU model, cores, load and busy share during a run
    read_counters(path, n)         # the 64-bit words a tool keeps in a counters file
    run_to_end(argv, env, what)    # run a tool, parse its key=value lines
    LineProcess(argv, env, what)   # a tool the runner talks to line by line
    fmt_value / fmt_ratio / median_ratio / print_table
"""

import math
import os
import resource
import select
import statistics
import struct
import subprocess
import time

from compositor import reap_group, stop_process

CLK_TCK = os.sysconf("SC_CLK_TCK")
RUN_TIMEOUT = 180


class BenchError(RuntimeError):
    """A configuration could not run at all (crash, protocol error, timeout)."""


def log(msg, prog="bench"):
    import sys
    sys.stderr.write("%s: %s\n" % (prog, msg))
    sys.stderr.flush()


# -- CPU accounting ---------------------------------------------------------

def _stat_fields(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    # The command name is in parentheses and may contain spaces.
    return data[data.rindex(")") + 2:].split()


def _children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(_stat_fields(int(entry))[1]) == pid:
                kids.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return kids


def _own_cpu(pid, fields):
    """CPU seconds of pid's live threads: from schedstat (ns) when the kernel has it,
    else from utime + stime (clock ticks, 10 ms steps)."""
    try:
        total_ns = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total_ns += int(f.read().split()[0])
        return total_ns / 1e9
    except (OSError, ValueError, IndexError):
        return sum(int(x) for x in fields[11:13]) / CLK_TCK


def tree_cpu(pid):
    """CPU seconds of pid, its reaped children and its live descendants."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    # Fields after the name: utime, stime, cutime, cstime are 0-based 11..14.
    total = _own_cpu(pid, fields) + sum(int(x) for x in fields[13:15]) / CLK_TCK
    for kid in _children(pid):
        total += tree_cpu(kid)
    return total


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the machine -------------------------------------------------------------

def _proc_stat_cpu():
    """(busy, total, steal) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    steal = fields[7] if len(fields) > 7 else 0
    return total - idle, total, steal


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


class Machine:
    """What the machine was doing during a run: start() before, finish() after, then
    lines() describes it. 'ours' is the CPU time of this process and everything it
    started and reaped, so busy - ours is what other users of the machine took."""

    def start(self):
        self.load_before = load_average()
        self.stat_before = _proc_stat_cpu()
        self.ours_before = self_cpu() + children_cpu()
        self.wall_before = time.monotonic()

    def finish(self):
        self.load_after = load_average()
        busy0, total0, steal0 = self.stat_before
        busy1, total1, steal1 = _proc_stat_cpu()
        cores = os.cpu_count() or 1
        wall = time.monotonic() - self.wall_before
        self.wall = wall
        self.busy_share = (busy1 - busy0) / max(total1 - total0, 1)
        self.steal_share = (steal1 - steal0) / max(total1 - total0, 1)
        ours = self_cpu() + children_cpu() - self.ours_before
        self.ours_share = ours / (wall * cores) if wall > 0 else 0.0

    def lines(self):
        cores = os.cpu_count() or 1
        return [
            "machine: %s, %d cores, kernel %s" % (cpu_model(), cores, os.uname().release),
            "load average %s before, %s after; during the run (%.0f s) the cores were %.0f%%"
            " busy: %.0f%% this benchmark, %.0f%% other work%s"
            % (self.load_before, self.load_after, self.wall, self.busy_share * 100,
               self.ours_share * 100, max(self.busy_share - self.ours_share, 0) * 100,
               ", %.0f%% stolen by the hypervisor" % (self.steal_share * 100)
               if self.steal_share >= 0.005 else ""),
        ]


# -- tools ---------------------------------------------------------------------

def read_counters(path, count):
    """The first `count` 64-bit little-endian words of a counters file (counters.h)."""
    with open(path, "rb") as f:
        data = f.read(8 * count)
    if len(data) < 8 * count:
        return None
    return struct.unpack("<%dQ" % count, data)


def parse_values(text):
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            try:
                values[key.strip()] = float(value)
            except ValueError:
                values[key.strip()] = value.strip()
    return values


def run_to_end(argv, env, what, timeout=RUN_TIMEOUT):
    """Run argv to completion; returns the key=value lines of its stdout as a dict."""
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc, timeout=2)
        raise BenchError("%s timed out after %ds" % (what, timeout)) from None
    finally:
        reap_group(proc.pid, timeout=1)
    if proc.returncode != 0:
        raise BenchError("%s exited with status %d:\n%s"
                         % (what, proc.returncode, err.decode(errors="replace")[-3000:]))
    return parse_values(out.decode())


class LineProcess:
    """A tool the runner talks to: lines on its stdin and stdout."""

    def __init__(self, argv, env, what, pass_fds=(), stdin=subprocess.PIPE):
        self.what = what
        self.proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, pass_fds=pass_fds,
                                     start_new_session=True)
        self._buf = b""

    def readline(self, timeout=RUN_TIMEOUT):
        """The next line of stdout (without newline); BenchError on EOF or timeout."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError("%s: no output for %gs" % (self.what, timeout))
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                self.proc.wait(timeout=5)
                raise BenchError("%s ended (status %s):\n%s"
                                 % (self.what, self.proc.returncode, self.stderr()))
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode(errors="replace")

    def write(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def rest(self, timeout=RUN_TIMEOUT):
        """Everything it still prints, until it exits with status 0."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise BenchError("%s did not finish within %gs" % (self.what, timeout)) from None
        text = (self._buf + out).decode(errors="replace")
        self._buf = b""
        if self.proc.returncode != 0:
            raise BenchError("%s exited with status %d:\n%s"
                             % (self.what, self.proc.returncode,
                                err.decode(errors="replace")[-3000:]))
        return text

    def stderr(self):
        try:
            return self.proc.stderr.read().decode(errors="replace")[-3000:]
        except (OSError, ValueError):
            return ""

    def stop(self):
        stop_process(self.proc, timeout=2)


# -- statistics and tables --------------------------------------------------------

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def median_ratio(a, b):
    """Median of per-repetition ratios a[i]/b[i]: runs of one repetition are close in
    time, so load that drifts during the benchmark cancels out of them."""
    pairs = [(x, y) for x, y in zip(a or [], b or []) if x is not None and y]
    if not pairs:
        return None
    return statistics.median(x / y for x, y in pairs)


def fmt_value(value, unit=""):
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if unit in ("msg/s", "B"):
        return "{:,.0f}".format(value)
    if unit == "int":
        return "%d" % value
    if value == 0:
        return "0"
    # Three significant digits, trailing zeros kept (0.270, 3.80, 77.8, 165).
    digits = 2 - math.floor(math.log10(abs(value)))
    if digits <= 0:
        return "{:,.0f}".format(value)
    return "%.*f" % (digits, value)


def fmt_ratio(value):
    return "n/a" if value is None else "%.2fx" % value


def fmt_bytes(value):
    if value is None:
        return "n/a"
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= scale:
            return "%s %s" % (fmt_value(value / scale), unit)
    return "%s B" % fmt_value(value)


def print_table(header, rows, markdown=False):
    """rows: lists of strings, first column left-aligned, the rest right-aligned."""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return " | ".join([first] + rest)

    print(line(header))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
