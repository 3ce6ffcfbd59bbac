#!/usr/bin/python3
"""The Python side of //bench:memoize_compare: joblib.Memory and diskcache
memoizing the same numeric kernel as the C++ side, timed the same way.

Prints one line per measurement, "<tool> <measurement> <microseconds>":
medians of --reps runs (small_hit_us: the mean over --small-calls calls). A "fresh" hit runs in a new
interpreter (this script with --child) and times, inside it, opening the
cache plus one call: interpreter start-up and imports are not counted, as
process start-up is not counted on the C++ side.

    memoize_compare.py --n 1000000 --reps 5 --dir /tmp/somewhere
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def kernel(n, rep):
    """The same function the C++ side memoizes: n float64 values."""
    i = np.arange(n, dtype=np.float64)
    return np.sin(i * 0.001 + rep) * np.exp(-i * 1e-7)


def make(tool, directory, mmap=False):
    if tool == "joblib":
        import joblib

        memory = joblib.Memory(directory, verbose=0,
                               mmap_mode="r" if mmap else None)
        return memory.cache(kernel), memory.cache(small)
    import diskcache

    cache = diskcache.Cache(directory)
    return cache.memoize()(kernel), cache.memoize()(small)


def small(x):
    return x * x


def us(seconds):
    return seconds * 1e6


def child(args):
    """One fresh-process hit: open the cache, call once, print microseconds."""
    __import__(args.tool)  # imports are start-up, not the hit
    start = time.perf_counter()
    f, _ = make(args.tool, args.dir, mmap=args.mmap)
    value = f(args.n, 0)
    took = time.perf_counter() - start
    assert value.shape == (args.n,)
    print(us(took))


def measure(tool, args):
    directory = os.path.join(args.dir, tool)
    f, g = make(tool, directory)
    misses = []
    for rep in range(args.reps):
        start = time.perf_counter()
        f(args.n, rep)
        misses.append(time.perf_counter() - start)
    same = []
    for _ in range(args.reps):
        start = time.perf_counter()
        f(args.n, 0)
        same.append(time.perf_counter() - start)
    fresh = []
    for _ in range(args.reps):
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--tool", tool, "--dir",
             directory, "--n", str(args.n)],
            check=True, capture_output=True, text=True).stdout
        fresh.append(float(out) / 1e6)
    result = {
        "miss_us": us(statistics.median(misses)),
        "hit_same_us": us(statistics.median(same)),
        "hit_fresh_us": us(statistics.median(fresh)),
    }
    if tool == "joblib":
        # joblib's zero-copy form: results memory-mapped from its .npy files.
        zero = []
        for _ in range(args.reps):
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--tool", tool, "--dir",
                 directory, "--n", str(args.n), "--mmap"],
                check=True, capture_output=True, text=True).stdout
            zero.append(float(out) / 1e6)
        result["hit_zero_copy_fresh_us"] = us(statistics.median(zero))
    g(3)
    calls = max(1000, args.small_calls)
    start = time.perf_counter()
    for _ in range(calls):
        g(3)
    result["small_hit_us"] = us((time.perf_counter() - start) / calls)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--small-calls", type=int, default=20000)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--mmap", action="store_true")
    parser.add_argument("--tool", choices=["joblib", "diskcache"])
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    for tool in ("joblib", "diskcache"):
        for name, value in measure(tool, args).items():
            print(tool, name, "%.3f" % value, flush=True)


if __name__ == "__main__":
    main()
