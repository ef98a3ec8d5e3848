#!/usr/bin/env python3
"""Runs every benchmark program on every mir13 backend and every available
peer (CPython, Lua 5.4, LuaJIT, Rust), side by side in one run, with
hyperfine; checks that all of them print the same checksum; writes
bench/RESULTS.md (medians and ratios) and bench/results.csv.

Called by bench/compare.sh, which builds mir13 and installs the tools.
`--quick` runs fewer repetitions (a smoke test of the harness).

Each command runs about `BUDGET_S` seconds in all, from `MIN_RUNS` to
`MAX_RUNS` times: a 10 ms run's median moves with every hiccup of a shared
machine, so short commands get many runs; long ones, already steady, few.

The JIT runs twice: as `mir13 run` runs by default, with its code cache
(`CODE_CACHE`, emptied first: the checksum run and hyperfine's warm-up
fill it, so the timed runs compile nothing), and with `--no-cache`,
compiling every function on every run.
"""

import csv
import functools
import math
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"


def installed(binary):
    """A copy of `binary` in bench/out/installed, where `cargo install` would
    put it: a file the linker has just written starts about 0.4 ms slower
    than a byte-identical copy (`fib.mir -- 1`: 3.45 against 3.05 ms, side
    by side in one directory), an artefact of how the linker wrote it.
    mir13 and the compiled peers are timed from such copies alike."""
    copy = OUT / "installed" / binary.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.unlink(missing_ok=True)
    shutil.copy2(binary, copy)
    return copy


@functools.cache
def mir13():
    """The mir13 binary the runs time: a copy of the one just built."""
    return installed(ROOT / "target" / "release" / "mir13")

# Repetitions of each command (see the module doc).
BUDGET_S = 1.0
MIN_RUNS, MAX_RUNS, QUICK_RUNS = 5, 40, 3

# Every mir13 backend this build has, by runner name: its `mir13 run` flags.
BACKENDS = {
    "interp": ["--backend", "interp"],
    "vm": ["--backend", "vm"],
    "jit": ["--backend", "jit"],
    "jit --no-cache": ["--backend", "jit", "--no-cache"],
}

# The JIT's code cache during the runs (see the module doc).
CODE_CACHE = OUT / "code-cache"


@dataclass
class Program:
    """A benchmark: a .mir program and its twins in other languages."""

    name: str
    args: list
    # Peer name -> file in bench/peers/ (run by the peer's interpreter or compiled).
    peers: dict = field(default_factory=dict)


def twins(name):
    """The Lua, LuaJIT, CPython and Rust twins of bench/programs/NAME.mir."""
    return {"python": f"{name}.py", "lua": f"{name}.lua", "luajit": f"{name}.lua", "rust": f"{name}.rs"}


PROGRAMS = [
    Program("loop", ["100000000"], twins("loop")),
    Program("fib", ["32"], twins("fib")),
    Program("array", ["1000000"], twins("array")),
    Program("nbody", ["250000"], twins("nbody")),
    Program("spectralnorm", ["500"], twins("spectralnorm")),
    Program("strings", ["1000000"], twins("strings")),
    Program("map", ["1000000"], twins("map")),
    Program("sort", ["3000000"], twins("sort")),
    Program("matmul_naive", ["200"], twins("matmul_naive")),
    # A user box's method and fields in a loop, and the same loop with
    # locals and a plain call: the cost of BoxCall dispatch and field access.
    Program("methods", ["10000000"], twins("methods")),
    Program("calls", ["10000000"]),
    Program("concat", ["1000000"]),
    # MatrixBox kernels against NumPy (the "python" twins import numpy): ten
    # 1024x1024 products, and a 1e7-element in-place add chain of 100 steps.
    Program("matmul", ["1024", "10"], {"python": "matmul.py"}),
    Program("elementwise", ["10000000", "100"], {"python": "elementwise.py"}),
]

# Extra runs recorded beside the table: (label, program, args, peer-or-backend).
SCALING = [
    ("concat, 1,000,000 pieces", "concat", ["1000000"], "interp"),
    ("concat, 2,000,000 pieces", "concat", ["2000000"], "interp"),
    ("fib(30), interp", "fib", ["30"], "interp"),
    ("fib(30), CPython", "fib", ["30"], "python"),
]


def peer_command(peer, source, args):
    """The command running `source` (in bench/peers) with `args`, or None if
    the peer's tool is missing."""
    path = BENCH / "peers" / source
    if peer == "python":
        return [sys.executable, str(path), *args]
    if peer in ("lua", "luajit"):
        tool = "lua5.4" if peer == "lua" else "luajit"
        return [tool, str(path), *args] if shutil.which(tool) else None
    if peer == "rust":
        binary = OUT / path.stem
        if not binary.exists() or binary.stat().st_mtime < path.stat().st_mtime:
            OUT.mkdir(exist_ok=True)
            subprocess.run(["rustc", "-O", "-o", str(binary), str(path)], check=True)
        return [str(installed(binary)), *args]
    raise ValueError(f"unknown peer {peer}")


def commands(program):
    """(runner name, command) for every backend and available peer."""
    mir = str(BENCH / "programs" / f"{program.name}.mir")
    runs = [(b, [str(mir13()), "run", *flags, mir, "--", *program.args]) for b, flags in BACKENDS.items()]
    for peer, source in program.peers.items():
        cmd = peer_command(peer, source, program.args)
        if cmd:
            runs.append((peer, cmd))
    return runs


def checksum(cmd):
    """What `cmd` prints, and how long it took to print it, in seconds."""
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return result.stdout.strip(), time.perf_counter() - start


def run_count(seconds, quick):
    """How many timed runs a command that takes `seconds` gets."""
    if quick:
        return QUICK_RUNS
    return max(MIN_RUNS, min(MAX_RUNS, int(BUDGET_S / max(seconds, 1e-3))))


def hyperfine(cmd, runs):
    """Median and mean wall time of `cmd` in seconds."""
    with tempfile.NamedTemporaryFile(suffix=".json") as export:
        subprocess.run(
            # No shell in between: for a 10 ms command, the shell's start-up that
            # hyperfine estimates and subtracts is as large as what remains.
            ["hyperfine", "--style", "none", "--shell", "none", "--warmup", "1", "--runs", str(runs),
             "--export-json", export.name, "--", subprocess.list2cmdline(cmd)],
            check=True, stdout=subprocess.DEVNULL,
        )
        result = json.load(open(export.name))["results"][0]
    return result["median"], result["mean"]


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def tool_versions():
    versions = [subprocess.run([sys.executable, "--version"], capture_output=True, text=True).stdout.strip()]
    for tool, flag in (("lua5.4", "-v"), ("luajit", "-v"), ("rustc", "--version")):
        if shutil.which(tool):
            out = subprocess.run([tool, flag], capture_output=True, text=True)
            versions.append((out.stdout or out.stderr).strip().splitlines()[0])
    return versions


def criterion(bench):
    """(name, ns per iteration) for each benchmark of a criterion bench."""
    out = subprocess.run(
        ["cargo", "bench", "--quiet", "--bench", bench, "--", "--output-format", "bencher"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    results = []
    for line in out.splitlines():
        if line.startswith("test ") and " bench: " in line:
            name = line[5:].split(" ... ")[0]
            ns = int(line.split(" bench: ")[1].split(" ns/iter")[0].replace(",", ""))
            results.append((name, ns))
    return results


def main():
    quick = "--quick" in sys.argv
    shutil.rmtree(CODE_CACHE, ignore_errors=True)
    os.environ["MIR13_CACHE_DIR"] = str(CODE_CACHE)
    rows = []  # (program, runner, median, mean, runs, checksum)
    failures = []
    for program in PROGRAMS:
        results = {}
        for runner, cmd in commands(program):
            results[runner], seconds = checksum(cmd)
            runs = run_count(seconds, quick)
            median, mean = hyperfine(cmd, runs)
            rows.append((program.name, runner, median, mean, runs, results[runner]))
            print(f"{program.name:14} {runner:14} {median * 1000:10.1f} ms  x{runs:<3} {results[runner]}", flush=True)
        if len(set(results.values())) > 1:
            failures.append(f"{program.name}: checksums differ: {results}")
    scaling = []
    for label, name, args, runner in SCALING:
        program = next(p for p in PROGRAMS if p.name == name)
        variant = Program(name, args, program.peers)
        cmd = dict(commands(variant))[runner]
        _, seconds = checksum(cmd)
        median, _ = hyperfine(cmd, run_count(seconds, quick))
        scaling.append((label, median))
        print(f"{label:30} {median * 1000:10.1f} ms", flush=True)

    frontend = criterion("frontend") + criterion("backends")
    for name, ns in frontend:
        print(f"{name:30} {ns / 1e6:10.1f} ms", flush=True)

    with open(BENCH / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["program", "runner", "median_s", "mean_s", "runs", "checksum"])
        writer.writerows(rows)
    write_markdown(rows, scaling, frontend, quick)
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


def geomean(ratios):
    ratios = [r for r in ratios if r]
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else None


def targets(table):
    """(target, measured, goal) rows for the issues' performance targets."""
    def ratio(program, a, b):
        x, y = table.get((program, a)), table.get((program, b))
        return x / y if x and y else None

    def show(r, fmt="{:.2f}x"):
        return fmt.format(r) if r else "—"

    # The VM issue's programs (the matrix ones measure kernels, the same on every backend).
    names = ["fib", "loop", "array", "nbody", "spectralnorm", "strings", "map", "sort", "matmul_naive"]
    core = ["fib", "loop", "array", "nbody", "spectralnorm"]
    rows = [
        ("vm speed-up over interp, geometric mean of the nine VM programs", show(geomean([ratio(n, "interp", "vm") for n in names])), "≥ 4x"),
        ("slowest vm/interp ratio", show(max((ratio(n, "vm", "interp") or 0) for n in names)), "≤ 1"),
        ("jit speed-up over vm (fib loop array nbody spectralnorm)",
         show(geomean([ratio(n, "vm", "jit") for n in core])), "≥ 10x"),
        ("the same, compiling every run (jit --no-cache)",
         show(geomean([ratio(n, "vm", "jit --no-cache") for n in core])), "(the code cache's share)"),
    ]
    for n in ["fib", "loop"]:
        rows.append((f"{n}: vm / Lua 5.4", show(ratio(n, "vm", "lua")), "< 1"))
    for n in ["array", "nbody", "spectralnorm", "strings", "map", "sort", "matmul_naive"]:
        rows.append((f"{n}: vm / Lua 5.4", show(ratio(n, "vm", "lua")), "≤ 1.5"))
    rows += [
        ("fib: jit / Rust", show(ratio("fib", "jit", "rust")), "≤ 1.5"),
        ("fib: jit --no-cache / Rust", show(ratio("fib", "jit --no-cache", "rust")), "(the code cache's share)"),
        ("fib: jit / LuaJIT", show(ratio("fib", "jit", "luajit")), "< 1"),
        ("loop: jit / Rust", show(ratio("loop", "jit", "rust")), "≤ 1.3"),
        ("array: jit / Rust", show(ratio("array", "jit", "rust")), "≤ 1.5"),
        ("matmul 1024: jit / NumPy", show(ratio("matmul", "jit", "python")), "≤ 1.25 (80% of NumPy's GFLOP/s)"),
        ("elementwise: jit / NumPy", show(ratio("elementwise", "jit", "python")), "≤ 2"),
    ]
    # Not an issue's target: the MIR13 paper's claim for method calls
    # through inline caches, against the same loop without a box.
    methods, calls = table.get(("methods", "jit")), table.get(("calls", "jit"))
    rows.append(("methods / calls on the jit (the paper: 1.1–1.3x)",
                 show(methods / calls if methods and calls else None), "(a claim, no target)"))
    rows.append(("methods: jit / LuaJIT", show(ratio("methods", "jit", "luajit")), "(no target)"))
    return rows


def write_markdown(rows, scaling, frontend, quick):
    runners = []
    for _, runner, *_ in rows:
        if runner not in runners:
            runners.append(runner)
    table = {(p, r): m for p, r, m, *_ in rows}
    lines = [
        "# Benchmark results",
        "",
        "Generated by `bash bench/compare.sh`; do not edit by hand (notes live in",
        "bench/NOTES.md, copied below). Wall-clock medians of hyperfine runs after a",
        (f"warm-up ({QUICK_RUNS} runs each, a quick run)" if quick else
         f"warm-up (about {BUDGET_S:g} s of runs each: {MIN_RUNS} for the slowest commands, up to {MAX_RUNS} for the fastest),"),
        "every runner measured side by side in one session on a shared machine, so",
        "compare ratios rather than absolute times.",
        "",
        f"- Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine()}",
        f"- Peers: {'; '.join(tool_versions())}",
        f"- Command: `bash bench/compare.sh{' --quick' if quick else ''}`",
        "",
        "## Medians (ms)",
        "",
        "| program | " + " | ".join(runners) + " |",
        "|---|" + "---:|" * len(runners),
    ]
    for program in PROGRAMS:
        cells = [f"{table[(program.name, r)] * 1000:.1f}" if (program.name, r) in table else "—" for r in runners]
        lines.append(f"| {program.name} {' '.join(program.args)} | " + " | ".join(cells) + " |")
    lines += ["", "## Ratios (runner time / interp time; below 1 is faster than interp)", ""]
    lines += ["| program | " + " | ".join(runners) + " |", "|---|" + "---:|" * len(runners)]
    for program in PROGRAMS:
        base = table.get((program.name, "interp"))
        cells = [f"{table[(program.name, r)] / base:.2f}" if (program.name, r) in table and base else "—"
                 for r in runners]
        lines.append(f"| {program.name} | " + " | ".join(cells) + " |")
    lines += ["", "## Targets", "", "| target | measured | goal |", "|---|---:|---|"]
    lines += [f"| {name} | {value} | {goal} |" for name, value, goal in targets(table)]
    lines += ["", "## Scaling and single comparisons", "", "| run | median (ms) |", "|---|---:|"]
    lines += [f"| {label} | {median * 1000:.1f} |" for label, median in scaling]
    lines += ["", "## Compile times (criterion, in-process)", "",
              "`frontend/*`: parse + verify + analyses (CFG, dominators, types, liveness, drop plan) of a",
              "generated module of ordinary code (`cargo bench --bench frontend`); `compile/*`: that module",
              "to bytecode and to native code; `run/*`: small runs in-process (`cargo bench --bench backends`).", "",
              "| benchmark | ms per iteration | instructions per ms |", "|---|---:|---:|"]
    for name, ns in frontend:
        last = name.rsplit("/", 1)[1]
        rate = f"{int(last) / (ns / 1e6):,.0f}" if last.isdigit() else "—"
        lines.append(f"| {name} | {ns / 1e6:.1f} | {rate} |")
    notes = BENCH / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text().strip()]
    (BENCH / "RESULTS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
