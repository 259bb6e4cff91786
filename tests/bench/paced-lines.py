#!/usr/bin/python3
"""Print the numbers 1..N, one per line, spread evenly over S seconds.

    paced-lines.py N S

What a terminal shows when a log or a long file scrolls by at a steady rate
(the link benchmark runs it in foot): a few lines per millisecond, so that
every frame the terminal draws scrolls by a few lines.
"""

import sys
import time

BLOCK = 4  # lines per write


def main():
    total, seconds = int(sys.argv[1]), float(sys.argv[2])
    out = sys.stdout
    start = time.monotonic()
    done = 0
    while done < total:
        block = min(BLOCK, total - done)
        out.write("".join("%d\n" % n for n in range(done + 1, done + block + 1)))
        out.flush()
        done += block
        wait = start + seconds * done / total - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    return 0


if __name__ == "__main__":
    sys.exit(main())
