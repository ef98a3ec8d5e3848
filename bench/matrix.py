#!/usr/bin/env python3
"""MatrixBox kernels against NumPy, per operation rather than per program.

Runs bench/programs/matmul.mir (N = 256, 512, 1024) and elementwise.mir
(1e7 elements) beside their NumPy twins in bench/peers/, each with two
repetition counts; the difference of the best wall times over the
difference of the counts is the time of one operation, without start-up
and input generation. Prints GFLOP/s of the products and the time of one
in-place add, and checks that the checksums agree.

Usage: python3 bench/matrix.py [--mir13 PATH] [--backend vm|interp|jit]
(build first: cargo build --release).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def best(cmd, runs):
    """Best wall time of `cmd` over `runs` runs, and its output."""
    fastest, out = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest, out


def per_op(command, reps, runs):
    """Seconds per operation: the slope between two repetition counts."""
    (t1, c1), (t2, c2) = (best(command(r), runs) for r in reps)
    return (t2 - t1) / (reps[1] - reps[0]), (c1, c2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mir13", default=str(BENCH.parent / "target" / "release" / "mir13"))
    parser.add_argument("--backend", default="vm")
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args()
    mir = lambda name, *args: [opts.mir13, "run", "--backend", opts.backend, str(BENCH / "programs" / name), "--", *args]
    py = lambda name, *args: [sys.executable, str(BENCH / "peers" / name), *args]
    failures = []
    for n, reps in ((256, (1, 201)), (512, (1, 41)), (1024, (1, 11))):
        flops = 2 * n**3
        tm, cm = per_op(lambda r: mir("matmul.mir", str(n), str(r)), reps, opts.runs)
        tp, cp = per_op(lambda r: py("matmul.py", str(n), str(r)), reps, opts.runs)
        print(f"matmul {n:4}: mir13 {flops / tm / 1e9:6.1f} GFLOP/s   numpy {flops / tp / 1e9:6.1f} GFLOP/s"
              f"   mir13/numpy {tp / tm:.2f}", flush=True)
        if cm != cp:
            failures.append(f"matmul {n}: checksums differ: {cm} {cp}")
    n = "10000000"
    tm, cm = per_op(lambda r: mir("elementwise.mir", n, str(r)), (0, 50), max(opts.runs // 2, 1))
    tp, cp = per_op(lambda r: py("elementwise.py", n, str(r)), (0, 50), max(opts.runs // 2, 1))
    print(f"add 1e7 f64 in place: mir13 {tm * 1e3:.2f} ms   numpy a += b {tp * 1e3:.2f} ms   mir13/numpy {tm / tp:.2f}x")
    if cm != cp:
        failures.append(f"elementwise: checksums differ: {cm} {cp}")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
