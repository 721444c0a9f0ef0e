#!/usr/bin/python3
"""Vamana (bench_vamana) against hnswlib in one run, on the same data,
queries, ground truth and thread count.

  /usr/bin/python3 bench/vamana_hnswlib.py --bench build/bench_vamana \
      --dataset fmnist --threads 2 [--n N] [--nq 1000] [--quick] [--json]

bench_vamana --dump writes the base vectors, queries and exact ground truth
to a temporary directory; hnswlib (M=32, ef_construction=200) is built and
swept over ef there; bench_vamana --from then builds and sweeps L on the
same files. Search is timed one query at a time on one thread for both
(wall clock, and the search thread's CPU time for a shared machine);
builds use --threads. Extra arguments after -- go to bench_vamana (e.g.
-- --passes 2 --build-ram 268435456).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import hnswlib

SWEEP = [10, 20, 30, 40, 50, 70, 100, 150, 200]


def read_bin(path, dtype):
    with open(path, "rb") as f:
        n, dim = np.fromfile(f, dtype=np.int32, count=2)
        return np.fromfile(f, dtype=dtype, count=int(n) * int(dim)).reshape(n, dim)


def run_hnswlib(d, dtype, threads, M, efc):
    base = read_bin(os.path.join(d, "base.bin"), dtype).astype(np.float32)
    q = read_bin(os.path.join(d, "query.bin"), np.float32)
    gt = read_bin(os.path.join(d, "gt.ibin"), np.int32)
    k = gt.shape[1]
    idx = hnswlib.Index(space="l2", dim=base.shape[1])
    t0, c0 = time.perf_counter(), time.process_time()
    idx.init_index(max_elements=base.shape[0], M=M, ef_construction=efc, random_seed=100)
    idx.add_items(base, np.arange(base.shape[0]), num_threads=threads)
    build, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    sweep = []
    for ef in SWEEP:
        idx.set_ef(max(ef, k))
        # One batch call on one thread: a C loop over the queries, so no
        # Python overhead per query is charged to hnswlib.
        t0, c0 = time.perf_counter(), time.thread_time()
        labels, _ = idx.knn_query(q, k=k, num_threads=1)
        dt, ct = time.perf_counter() - t0, time.thread_time() - c0
        hits = sum(len(set(labels[i].tolist()) & set(gt[i].tolist())) for i in range(q.shape[0]))
        sweep.append({"L": ef, "recall": hits / (q.shape[0] * k), "qps": q.shape[0] / dt,
                      "cpu_qps": q.shape[0] / ct})
    return {"build_s": build, "build_cpu_s": build_cpu, "sweep": sweep, "n": int(base.shape[0])}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build/bench_vamana")
    ap.add_argument("--dataset", default="fmnist", choices=["fmnist", "synth"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--M", type=int, default=32)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="10k points, 200 queries")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("rest", nargs="*", help="extra bench_vamana options (after --)")
    a = ap.parse_args()
    common = ["--dataset", a.dataset, "--nq", str(a.nq)]
    if a.n:
        common += ["--n", str(a.n)]
    if a.quick:
        common += ["--quick"]
    d = tempfile.mkdtemp(prefix="vamhnsw")
    try:
        subprocess.run([a.bench] + common + ["--dump", d], check=True)
        dtype = np.uint8 if a.dataset == "fmnist" else np.float32
        h = run_hnswlib(d, dtype, a.threads, a.M, a.efc)
        out = subprocess.run([a.bench] + common + ["--from", d, "--threads", str(a.threads), "--json"]
                             + a.rest, check=True, capture_output=True, text=True).stdout
        v = json.loads(out)
    finally:
        shutil.rmtree(d)
    if a.json:
        print(json.dumps({"bench": "vamana_vs_hnswlib", "dataset": a.dataset, "threads": a.threads,
                          "hnswlib": {"M": a.M, "efc": a.efc, **h}, "vamana": v}))
        return
    print(f"{a.dataset}: n={h['n']} threads={a.threads} simd={v['simd']}")
    print(f"build: vamana R={v['R']} L={v['L']} alpha={v['alpha']} passes={v['passes']} "
          f"{v['build_s']:.1f} s, {v['build_cpu_s']:.1f} CPU s (mean degree {v['mean_degree']:.1f}); "
          f"hnswlib M={a.M} efC={a.efc} {h['build_s']:.1f} s, {h['build_cpu_s']:.1f} CPU s; "
          f"ratio {v['build_s'] / h['build_s']:.2f} wall, {v['build_cpu_s'] / h['build_cpu_s']:.2f} CPU")
    print("QPS: one thread, wall clock; cpu-QPS: per second of the search thread's CPU time")
    print(f"{'L/ef':>5} {'vam recall':>11} {'vam QPS':>9} {'vam cpuQPS':>10} "
          f"{'hnsw recall':>12} {'hnsw QPS':>9} {'hnsw cpuQPS':>11}")
    for x, y in zip(v["sweep"], h["sweep"]):
        print(f"{x['L']:>5} {x['recall']:>11.4f} {x['qps']:>9.0f} {x['cpu_qps']:>10.0f} "
              f"{y['recall']:>12.4f} {y['qps']:>9.0f} {y['cpu_qps']:>11.0f}")


if __name__ == "__main__":
    sys.exit(main())
