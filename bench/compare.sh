#!/usr/bin/env bash
# Builds mir13 in release mode, installs what the comparison needs when it
# is missing (hyperfine, Lua 5.4, LuaJIT), then runs bench/compare.py, which
# writes bench/RESULTS.md and bench/results.csv. Pass --quick for a smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v lua5.4 >/dev/null || missing+=(lua5.4)
command -v luajit >/dev/null || missing+=(luajit)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y "${missing[@]}" || { $sudo apt-get update && $sudo apt-get install -y "${missing[@]}"; }
fi

# The NumPy twins of the MatrixBox benchmarks (bench/peers/matmul.py, elementwise.py).
if ! python3 -c 'import numpy' 2>/dev/null; then
    python3 -m pip install numpy || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"; $sudo apt-get install -y python3-numpy; }
fi

cargo build --release --bin mir13
python3 bench/compare.py "$@"
