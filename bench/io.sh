#!/bin/sh
# Runs bench_io (engine/io next to fio: random 4 KiB O_DIRECT reads at
# QD 1, 8, 32, 128 for io_uring, libaio and pread) from the repository root,
# building it first, and keeps the table and the JSON rows under
# bench/results/ (git-ignored).
#   bench/io.sh            4 GiB file (created once in bench/data/), 5 s per point, ~4 min
#   bench/io.sh --quick    256 MiB file, 1 s per point (CI)
# Other options go to bench_io as they are (bench_io --help).
set -eu
cd "$(dirname "$0")/.."
command -v fio >/dev/null || echo "bench/io.sh: fio missing (scripts/install-deps); dann columns only" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target bench_io >/dev/null
mkdir -p bench/data bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/io-$stamp
./build/bench_io --json "$@" >"$out.jsonl" 2>"$out.txt" || { cat "$out.txt" >&2; exit 1; }
cat "$out.txt"
echo "rows: $out.jsonl"
