#!/usr/bin/env python3
"""Mutation campaign: hostile variants of the tiny fixture's files, run through
`gencast-run check-config` and `gencast-run forecast` under a time limit.

Each mutant changes one file of a run (the input NetCDF, one statistics file,
the checkpoint .npz or the run spec) with a seeded random edit (bit flips,
random or zeroed byte ranges, truncation, duplicated or deleted ranges; for the
YAML spec also line and token edits). The run must end with exit 0, 1 or 2
within the time limit: a signal (or an exit code >= 128) is a crash, running
past the limit a hang. After a failed run no output or partial file may be left,
and the run's own files must be unchanged (SHA-256 before and after).

Usage:
  scripts/mutation_campaign.py --binary build-cpu/app/gencast-run [--count 400]
      [--seed 1] [--timeout 30] [--kinds input,stats,checkpoint,spec]
      [--commands check-config,forecast] [--keep DIR] [--json FILE] [--jobs 2]
      [--flags "--no-probe"] [--per-kind input=200,stats=100,checkpoint=100,spec=100]
      [--table] [--probe-timeout 20]

Prints one line per mutant that crashed, hung or broke a promise, then the
outcome counts (with --table also as the Markdown table of docs/bad-inputs.md:
one row per mutated file and command, the slowest run of each). Crashing and
hanging mutants are kept under --keep (default
$TMPDIR/gencast-mutants-failed/), each a folder with its run.yaml: `gencast-run check-config run.yaml` in it reproduces the run. Exit status 1 when
any mutant crashed, hung or broke a promise.
"""
import argparse
import collections
import concurrent.futures
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "data", "gencast_tiny")
STATS = ["mean_by_level.nc", "stddev_by_level.nc", "diffs_stddev_by_level.nc", "min_by_level.nc"]
SPEC = """model:
  checkpoint: {checkpoint}
  stats_dir: {stats}
input:
  path: {input}
  init_time: 2019-03-29T12:00
forecast:
  steps: 1
  members: 2
  seed: 3
output:
  path: {output}
  compression: 1
runtime:
  device: cpu
  batch: 1
"""


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---- byte-level edits -------------------------------------------------------


def mutate_bytes(data, rng):
    """One random edit of a binary file; returns (new bytes, description)."""
    n = len(data)
    b = bytearray(data)
    op = rng.choice(["flip", "flip", "random", "zero", "truncate", "delete", "duplicate",
                     "header"])
    if op == "header":  # HDF5 superblock, object headers and zip directories live near the ends
        region = rng.choice([(0, min(n, 4096)), (max(0, n - 4096), n)])
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(*region)
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b), "flip bits near offset %d" % region[0]
    if op == "flip":
        k = rng.randint(1, 16)
        for _ in range(k):
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b), "flip %d bits" % k
    start = rng.randrange(n)
    length = min(n - start, rng.choice([1, 2, 4, 8, 16, 64, 512, 4096]))
    if op == "random":
        b[start:start + length] = bytes(rng.randrange(256) for _ in range(length))
        return bytes(b), "random bytes at %d+%d" % (start, length)
    if op == "zero":
        b[start:start + length] = bytes(length)
        return bytes(b), "zero bytes at %d+%d" % (start, length)
    if op == "truncate":
        return bytes(b[:start]), "truncate to %d bytes" % start
    if op == "delete":
        del b[start:start + length]
        return bytes(b), "delete %d+%d" % (start, length)
    chunk = b[start:start + length]
    at = rng.randrange(n)
    b[at:at] = chunk
    return bytes(b), "duplicate %d+%d at %d" % (start, length, at)


YAML_TOKENS = ["\t", ":", " ", "-", "[", "]", "{", "}", "'", '"', "#", "\n", "&a", "*a", "!!str",
               "99999999999999999999", "-1", "0", "1e309", ".nan", "null", "~", "true",
               "members: 0", "steps: -5", "seed: -1", "  extra: 1", "model:", "%YAML 1.2",
               "\x00", "\xff", "<<: *a"]


def mutate_text(text, rng):
    """One random edit of the YAML spec."""
    lines = text.split("\n")
    op = rng.choice(["insert", "delete_char", "dup_line", "del_line", "swap_lines", "number",
                     "indent", "bytes"])
    if op == "insert":
        i = rng.randrange(len(text) + 1)
        tok = rng.choice(YAML_TOKENS)
        return text[:i] + tok + text[i:], "insert %r at %d" % (tok, i)
    if op == "delete_char":
        i = rng.randrange(len(text))
        return text[:i] + text[i + 1:], "delete char %d" % i
    if op == "dup_line":
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return "\n".join(lines), "duplicate line %d" % (i + 1)
    if op == "del_line":
        i = rng.randrange(len(lines))
        del lines[i]
        return "\n".join(lines), "delete line %d" % (i + 1)
    if op == "swap_lines":
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines), "swap lines %d and %d" % (i + 1, j + 1)
    if op == "number":
        value = rng.choice(["0", "-1", "-9223372036854775809", "18446744073709551616", "1e999",
                            "0x7fffffffffffffff", "3.5", "''", "[1, 2]", "{a: 1}"])
        key = rng.choice(["steps", "members", "seed", "compression", "batch"])
        out = [(l.split(":")[0] + ": " + value) if l.strip().startswith(key + ":") else l
               for l in lines]
        return "\n".join(out), "%s: %s" % (key, value)
    if op == "indent":
        i = rng.randrange(len(lines))
        lines[i] = rng.choice(["\t", " ", "   "]) + lines[i]
        return "\n".join(lines), "indent line %d" % (i + 1)
    data, what = mutate_bytes(text.encode(), rng)
    return data.decode("latin-1"), "bytes: " + what


# ---- one mutant ---------------------------------------------------------------


def classify(rc, timed_out):
    if timed_out:
        return "hang"
    if rc < 0 or rc >= 128:
        return "crash"
    if rc in (0, 1, 2):
        return "exit %d" % rc
    return "exit %d (unexpected)" % rc


def schedule(args):
    """The kind of each mutant index: --kinds in turn, or with --per-kind the
    kinds in turn until each has its count (so every prefix mixes the kinds)."""
    if not args.per_kind:
        return [args.kinds[i % len(args.kinds)] for i in range(args.count)]
    left = dict(args.per_kind)
    kinds = []
    while any(left.values()):
        for kind, _ in args.per_kind:
            if left[kind]:
                kinds.append(kind)
                left[kind] -= 1
    return kinds


def run_one(args, index, kind):
    rng = random.Random("%d/%d" % (args.seed, index))
    work = tempfile.mkdtemp(prefix="gencast-mutant-%d-" % index, dir=args.tmp)
    try:
        stats = os.path.join(work, "stats")
        os.mkdir(stats)
        paths = {"checkpoint": os.path.join(TINY, "tiny_checkpoint.npz"),
                 "input": os.path.join(TINY, "source_tiny.nc")}
        for s in STATS:
            os.symlink(os.path.join(TINY, s), os.path.join(stats, s))
        what = ""
        target = None
        if kind == "input":
            target = os.path.join(work, "source.nc")
            data, what = mutate_bytes(open(paths["input"], "rb").read(), rng)
            paths["input"] = target
        elif kind == "stats":
            name = rng.choice(STATS)
            target = os.path.join(stats, name)
            os.unlink(target)
            data, what = mutate_bytes(open(os.path.join(TINY, name), "rb").read(), rng)
            what = name + ": " + what
        elif kind == "checkpoint":
            target = os.path.join(work, "checkpoint.npz")
            data, what = mutate_bytes(open(paths["checkpoint"], "rb").read(), rng)
            paths["checkpoint"] = target
        if target:
            with open(target, "wb") as f:
                f.write(data)
        output = os.path.join(work, "out", "forecast.nc")
        os.mkdir(os.path.dirname(output))
        # Paths inside the mutant's folder are relative, so a kept copy reproduces it.
        rel = lambda q: os.path.relpath(q, work) if q.startswith(work) else q
        spec_text = SPEC.format(checkpoint=rel(paths["checkpoint"]), stats=rel(stats),
                                input=rel(paths["input"]), output=rel(output))
        if kind == "spec":
            spec_text, what = mutate_text(spec_text, rng)
        spec = os.path.join(work, "run.yaml")
        with open(spec, "w", encoding="latin-1", errors="replace") as f:
            f.write(spec_text)

        watched = [spec, paths["checkpoint"], paths["input"]] + \
                  [os.path.join(stats, s) for s in STATS]
        before = {p: sha256(p) for p in watched if os.path.isfile(p)}
        results = []
        for command in args.commands:
            argv = [args.binary, command, spec] + args.flags
            start = time.monotonic()
            timed_out = False
            try:
                p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   timeout=args.timeout, start_new_session=True, env=args.env)
                rc, err = p.returncode, p.stderr.decode("utf-8", "replace")
            except subprocess.TimeoutExpired as e:
                timed_out, rc = True, None
                err = (e.stderr or b"").decode("utf-8", "replace")
            seconds = time.monotonic() - start
            outcome = classify(rc if rc is not None else 0, timed_out)
            broken = []
            # A successful forecast leaves its one output (a mutated spec may have
            # renamed it); anything else, or anything after a failure, is left over.
            files = sorted(os.listdir(os.path.dirname(output)))
            finished = [f for f in files if ".partial" not in f][:1] if rc == 0 else []
            leftovers = [f for f in files if f not in finished]
            if leftovers and command == "forecast":
                broken.append("left files behind: " + ", ".join(leftovers))
            if command == "check-config" and os.listdir(os.path.dirname(output)):
                broken.append("check-config wrote into the output folder")
            changed = [os.path.basename(q) for q, h in before.items()
                       if not os.path.isfile(q) or sha256(q) != h]
            if changed:
                broken.append("changed its inputs: " + ", ".join(changed))
            # The first problem line ("error: ..." or check-config's "  - ...").
            last = [l.strip() for l in err.split("\n")
                    if l.startswith("error:") or l.startswith("  - ")]
            # Exit 2 because the file probe saw the NetCDF/HDF5 (or GRIB) library
            # crash or hang on the file: contained, but worth counting.
            contained = "library crashed" in err or "library hung" in err
            results.append({"command": command, "outcome": outcome, "rc": rc,
                            "contained": contained,
                            "seconds": round(seconds, 2), "broken": broken,
                            "message": last[0][:300] if last else ""})
            for f in os.listdir(os.path.dirname(output)):
                os.unlink(os.path.join(os.path.dirname(output), f))
        bad = any(r["outcome"] in ("crash", "hang") or r["broken"] for r in results)
        kept = None
        if bad:
            kept = os.path.join(args.keep, "mutant-%04d-%s" % (index, kind))
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(work, kept, symlinks=False)
        return {"index": index, "kind": kind, "mutation": what, "results": results,
                "kept": kept}
    finally:
        shutil.rmtree(work, ignore_errors=True)


TABLE_NAMES = {"input": "input NetCDF", "stats": "statistics file", "checkpoint": "checkpoint (npz)",
               "spec": "run spec (YAML)"}


def print_table(args, counts, slowest, contained):
    """docs/bad-inputs.md's table: one row per mutated file and command."""
    kinds = [k for k, _ in args.per_kind] or list(dict.fromkeys(args.kinds))
    columns = ["exit 0", "exit 1", "exit 2", "crash", "hang"]
    print("| mutated file | command | mutants | " + " | ".join(columns) +
          " | other | library crash/hang contained (exit 2) | slowest run (s) |")
    print("| --- | --- | ---: | " + " | ".join("---:" for _ in columns) +
          " | ---: | ---: | ---: |")
    for kind in kinds:
        for command in args.commands:
            row = {o: n for (k, c, o), n in counts.items() if k == kind and c == command}
            other = sum(n for o, n in row.items() if o not in columns)
            print("| %s | `%s` | %d | %s | %d | %d | %.1f |" % (
                TABLE_NAMES[kind], command, sum(row.values()),
                " | ".join(str(row.get(o, 0)) for o in columns), other,
                contained[(kind, command)], slowest[(kind, command)]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build-cpu", "app", "gencast-run"))
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--kinds", default="input,stats,checkpoint,spec")
    ap.add_argument("--commands", default="check-config,forecast")
    ap.add_argument("--keep", default=os.path.join(tempfile.gettempdir(), "gencast-mutants-failed"))
    ap.add_argument("--json", help="write every mutant's outcome here")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--tmp", default=None, help="folder for the mutants (default: $TMPDIR)")
    ap.add_argument("--per-kind", default="",
                    help="mutants of each kind, e.g. input=200,stats=100,checkpoint=100,spec=100 "
                         "(replaces --count and --kinds)")
    ap.add_argument("--probe-timeout", type=float, default=20,
                    help="GENCAST_PROBE_TIMEOUT for the runs (seconds; 0 = the program's "
                         "default, 300 s): a library that hangs on a mutant is reported when "
                         "the probe's limit ends, which must come before --timeout")
    ap.add_argument("--table", action="store_true",
                    help="also print the outcome counts as docs/bad-inputs.md's Markdown table")
    ap.add_argument("--flags", default="",
                    help="extra flags for both commands, e.g. --no-probe (to see what the "
                         "file probe contains)")
    args = ap.parse_args()
    args.kinds = args.kinds.split(",")
    args.per_kind = [(k, int(n)) for k, n in
                     (item.split("=") for item in args.per_kind.split(",") if item)]
    for kind, _ in args.per_kind:
        if kind not in ("input", "stats", "checkpoint", "spec"):
            sys.exit("--per-kind: unknown kind %r (input, stats, checkpoint, spec)" % kind)
    kinds = schedule(args)
    args.count = len(kinds)
    args.commands = args.commands.split(",")
    args.flags = args.flags.split()
    args.binary = os.path.abspath(args.binary)
    args.env = dict(os.environ)
    if args.probe_timeout > 0:
        args.env["GENCAST_PROBE_TIMEOUT"] = "%g" % args.probe_timeout
    if not os.access(args.binary, os.X_OK):
        sys.exit("no gencast-run binary at %s (build it, or pass --binary)" % args.binary)
    os.makedirs(args.keep, exist_ok=True)

    counts = collections.Counter()
    slowest = collections.defaultdict(float)
    contained = collections.Counter()
    all_results = []
    bad = 0
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for r in pool.map(lambda i: run_one(args, i, kinds[i]), range(args.count)):
            all_results.append(r)
            for res in r["results"]:
                counts[(r["kind"], res["command"], res["outcome"])] += 1
                if res["contained"]:
                    contained[(r["kind"], res["command"])] += 1
                key = (r["kind"], res["command"])
                slowest[key] = max(slowest[key], res["seconds"])
                if res["outcome"] in ("crash", "hang") or res["broken"]:
                    bad += 1
                    print("mutant %d (%s: %s): %s %s -> %s %s; kept in %s" %
                          (r["index"], r["kind"], r["mutation"], res["command"],
                           res["outcome"], res["rc"], "; ".join(res["broken"]), r["kept"]),
                          flush=True)
    elapsed = time.monotonic() - start
    print("%d mutants (seed %d) in %.0f s; outcome counts:" % (args.count, args.seed, elapsed))
    totals = collections.Counter()
    for (kind, command, outcome), n in sorted(counts.items()):
        print("  %-10s %-12s %-24s %5d" % (kind, command, outcome, n))
        totals[(command, outcome)] += n
    print("totals:")
    for (command, outcome), n in sorted(totals.items()):
        print("  %-12s %-24s %5d" % (command, outcome, n))
    # check-config promises what forecast then does: both end the same way.
    disagree = [r["index"] for r in all_results
                if len({res["outcome"] for res in r["results"]}) > 1]
    print("commands gave different outcomes on %d mutant(s)%s" %
          (len(disagree), (": " + " ".join(map(str, disagree[:20]))) if disagree else ""))
    if args.table:
        print_table(args, counts, slowest, contained)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seed": args.seed, "count": args.count, "seconds": elapsed,
                       "mutants": all_results}, f, indent=1)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
