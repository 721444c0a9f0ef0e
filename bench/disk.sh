#!/bin/sh
# Runs bench/disk.py (the disk index from SSD next to fio: T x inflight
# sweep, reads/query at recall 0.95/0.99 by node order and cache size,
# search RSS, and the issue's SSD-bound and latency goals) from the
# repository root, building dann first. Datasets and indexes are made once
# in bench/data/ (git-ignored); JSON rows go to bench/results/.
#   bench/disk.sh            Fashion-MNIST 60k and 1M x 128 generated (long: the 1M build)
#   bench/disk.sh --quick    Fashion-MNIST 60k and 100k x 128, shorter runs
#   bench/disk.sh --datasets fmnist
#   bench/disk.sh --datasets gen --orders locality   (skip the plain-order build)
set -eu
cd "$(dirname "$0")/.."
command -v fio >/dev/null || { echo "bench/disk.sh: fio missing (scripts/install-deps)" >&2; exit 1; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target dann-cli >/dev/null
exec /usr/bin/python3 bench/disk.py "$@"
