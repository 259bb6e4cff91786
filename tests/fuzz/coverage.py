#!/usr/bin/env python3
"""Source coverage of the fuzz targets over their corpora: lines and branches
of each file under test, per target (llvm-cov, clang's source-based coverage).

    tests/fuzz/coverage.py BUILD_DIR [TARGET ...] [--corpus TARGET=DIR ...]
                           [--files] [--markdown]

BUILD_DIR is made if it does not exist: a clang build with
-fprofile-instr-generate -fcoverage-mapping and no libFuzzer, so each target
is linked with replay.c and runs every file of its corpus once. Only the
fuzz targets are built. The corpus of a target is tests/fuzz/corpus/TARGET,
and DIR too where --corpus names one (a campaign's). TARGET: all by default.

"Aimed at" is the code a target is written for (AIMS below); "all it
links" counts every project file the target links (the harness, tests/
and generated tables left out), with every function they have, also ones
the target cannot call. A file is cold when none of its lines ran.
--files lists every file; --markdown prints the README's table rows.
Needs clang and llvm (llvm-profdata, llvm-cov).
"""
import argparse
import fnmatch
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FLAGS = "-fprofile-instr-generate -fcoverage-mapping"


# The code each target is written for (fnmatch patterns): the rest of what it
# links is there for that code's sake.
AIMS = {
    "fuzz-clipd": ["host/clipboard/clipboard*.c", "host/clipboard/policy.c"],
    "fuzz-color": ["decoration/color.c"],
    "fuzz-dbusmenu": ["guest/tray-menu.c"],
    "fuzz-hostd-channel": ["host/channel*.c"],
    "fuzz-hostd-modules": ["host/notify*.c", "host/tray*.c", "decoration/icon.c"],
    "fuzz-link-*": ["protocols/link.c", "protocols/link-reader.c", "protocols/link-checks.c"],
    "fuzz-log": ["protocols/log.c"],
    "fuzz-menu-writer": ["host/menu.c", "host/menu-icon.c", "host/menu-writer-process.c"],
    "fuzz-notify-request": ["guest/notify-request.c"],
    "fuzz-policy": ["proxy/policy.c"],
    "fuzz-proxy": ["proxy/*.c", "proxy/wl/*.c"],
    "fuzz-proxy-vm-link": ["proxy/vm-link.c", "proxy/channel.c", "proxy/mirror.c",
                           "proxy/wl/channel-in.c"],
    "fuzz-text-block": ["decoration/title.c"],
    "fuzz-title": ["decoration/title.c"],
    "fuzz-spawn-guard": ["host/spawn-guard.c"],
    "fuzz-spawner": ["protocols/spawner-process.c"],
    "fuzz-tray-props": ["guest/tray-props.c"],
    "fuzz-vmm": ["host/vmm*.c"],
    "fuzz-vmstate": ["host/vmstate.c"],
    "fuzz-wire": ["protocols/wire.c"],
}
# fuzz-proxy's aim, less what fuzz-proxy-vm-link is for (it cannot reach it)
AIMS_EXCEPT = {"fuzz-proxy": AIMS["fuzz-proxy-vm-link"]}


def aimed(target, files):
    """The files of files the target is written for."""
    pats = next((v for k, v in AIMS.items() if fnmatch.fnmatch(target, k)), [])
    skip = AIMS_EXCEPT.get(target, [])
    return {f: v for f, v in files.items() if any(fnmatch.fnmatch(f, p) for p in pats) and
            not any(fnmatch.fnmatch(f, p) for p in skip)}


def tool(name):
    for candidate in (name, name + "-14", name + "-15", name + "-16"):
        path = shutil.which(candidate)
        if path:
            return path
    sys.exit("coverage.py: %s not found (apt-get install llvm)" % name)


def setup(build):
    if not os.path.exists(os.path.join(build, "build.ninja")):
        env = dict(os.environ, CC="clang")
        subprocess.run(["meson", "setup", build, "-Dfuzz=disabled", "-Dbuildtype=debug",
                        "-Dc_args=" + FLAGS, "-Dc_link_args=" + FLAGS],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    targets = subprocess.run(["ninja", "-C", build, "-t", "targets", "all"], check=True,
                             capture_output=True, text=True).stdout
    names = sorted({line.split(":")[0] for line in targets.splitlines()
                    if line.startswith("tests/fuzz/fuzz-") and ".p/" not in line.split(":")[0]})
    subprocess.run(["ninja", "-C", build] + names, check=True, stdout=subprocess.DEVNULL)
    return [os.path.basename(n) for n in names]


def under_test(path):
    rel = os.path.relpath(os.path.normpath(path), ROOT)
    if rel.startswith("..") or rel.startswith("tests/") or not rel.endswith(".c"):
        return None
    if not os.path.exists(os.path.join(ROOT, rel)):
        return None  # generated in the build directory
    return rel


def measure(build, target, extra, work):
    exe = os.path.join(build, "tests", "fuzz", target)
    dirs = [os.path.join(HERE, "corpus", target)] + extra
    raw = os.path.join(work, target + "-%p.profraw")
    env = dict(os.environ, LLVM_PROFILE_FILE=raw,
               LSAN_OPTIONS="suppressions=" + os.path.join(ROOT, "tests", "lsan.supp"))
    inputs = 0
    for d in dirs:
        files = sorted(glob.glob(os.path.join(d, "*")))
        inputs += len(files)
        # replay.c takes at most 4096 files a run
        for i in range(0, len(files), 4000):
            subprocess.run([exe] + files[i:i + 4000], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd=work)
    profdata = os.path.join(work, target + ".profdata")
    subprocess.run([tool("llvm-profdata"), "merge", "-sparse", "-o", profdata] +
                   glob.glob(os.path.join(work, target + "-*.profraw")), check=True)
    out = subprocess.run([tool("llvm-cov"), "export", exe, "-instr-profile=" + profdata,
                          "-summary-only"], check=True, capture_output=True, text=True).stdout
    files = {}
    for f in json.loads(out)["data"][0]["files"]:
        rel = under_test(f["filename"])
        if rel is not None:
            s = f["summary"]
            files[rel] = (s["lines"]["covered"], s["lines"]["count"],
                          s["branches"]["covered"], s["branches"]["count"])
    return inputs, files


def pct(a, b):
    return "%d%%" % (100 * a // b) if b else "-"


def ratio(a, b):
    return f"{a:,} of {b:,} ({pct(a, b)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("targets", nargs="*")
    ap.add_argument("--corpus", action="append", default=[], metavar="TARGET=DIR")
    ap.add_argument("--files", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    available = setup(build)
    targets = args.targets or available
    extra = {}
    for c in args.corpus:
        t, _, d = c.partition("=")
        extra.setdefault(t, []).append(os.path.abspath(d))
    with tempfile.TemporaryDirectory(prefix="vd-cov-") as work:
        for target in targets:
            if target not in available:
                sys.exit("coverage.py: no target %s in %s" % (target, build))
            inputs, files = measure(build, target, extra.get(target, []), work)
            lines = [sum(v[i] for v in files.values()) for i in range(4)]
            aim = aimed(target, files)
            alines = [sum(v[i] for v in aim.values()) for i in range(4)]
            cold = sorted(f for f, v in files.items() if v[0] == 0)
            if args.markdown:
                pats = next((v for k, v in AIMS.items() if fnmatch.fnmatch(target, k)), [])
                what = ", ".join("`%s`" % p for p in pats)
                if target in AIMS_EXCEPT:
                    what += " but " + ", ".join("`%s`" % p for p in AIMS_EXCEPT[target])
                print("| %s | %d | %s | %s | %s | %s | %s |" % (
                    target, inputs, what,
                    ratio(alines[0], alines[1]), ratio(alines[2], alines[3]),
                    ratio(lines[0], lines[1]), ", ".join("`%s`" % f for f in cold) or "none"))
                continue
            print("%s: %d inputs; aimed at (%s): lines %s, branches %s; all it links: "
                  "lines %s, branches %s; cold: %s" % (
                      target, inputs, ", ".join(sorted(aim)), ratio(alines[0], alines[1]),
                      ratio(alines[2], alines[3]), ratio(lines[0], lines[1]),
                      ratio(lines[2], lines[3]), ", ".join(cold) or "none"))
            if args.files:
                for f, v in sorted(files.items()):
                    print("  %-48s lines %5d/%-5d %4s  branches %5d/%-5d %4s" % (
                        f, v[0], v[1], pct(v[0], v[1]), v[2], v[3], pct(v[2], v[3])))


if __name__ == "__main__":
    main()
