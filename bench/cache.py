#!/usr/bin/python3
"""The node cache's two policies at a few RAM budgets, in one run
(bench/run --only cache): no cache, breadth-first from the entry points,
and visit counts from 2000 warm-up searches (dann search --cache-policy).

Per data set (the indexes bench/opq.py builds: Fashion-MNIST 60k x 784 and
`dann gen` 100k x 128; the OPQ index when it exists), `dann search` at
each L (O_DIRECT, W 4, T 2, 16 in flight) in alternating rounds; medians of
QPS, CPU per query and latency over the rounds; recall@10, reads per query
and cache hit rate. Each budget is a fraction of the node file (--frac, a
comma-separated list, default 0.5%,1%,2%,5%), given as --cache-frac;
"none" is --cache-frac 0. One JSON object per row on stdout.
"""
import argparse
import json
import os
import statistics
import sys
import time

from opq import emit, prepare, run, say, build  # noqa: F401 (same data and indexes)


def search(a, idx, q, gt, Ls, frac, policy):
    argv = [a.dann, "search", "--index", idx, "--queries", q, "--gt", gt, "-k", "10",
            "-L", ",".join(map(str, Ls)), "-W", "4", "-T", str(a.threads), "--inflight", "16",
            "--json"]
    argv += ["--cache-frac", str(frac)] + (["--cache-policy", policy] if frac else [])
    t0 = time.time()
    out, _, _ = run(argv)
    return json.loads(out), " ".join(argv[1:]), time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dann", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--datasets", default="gen,fmnist")
    ap.add_argument("--frac", default="0.005,0.01,0.02,0.05")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gen-n", type=int, default=100000)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.gen_n, a.nq, a.rounds = 10000, 100, 1
    for name in a.datasets.split(","):
        base, q, gt, M = prepare(a, name)
        idx = os.path.join(a.work, name, f"index-opq-{M}")
        if not os.path.exists(os.path.join(idx, "MANIFEST")):
            idx = os.path.join(a.work, name, f"index-pq-{M}")
            build(a, base, idx, M, False)
        node_mib = os.path.getsize(os.path.join(idx, "disk.index")) / 2**20
        fracs = [float(f) for f in a.frac.split(",")]
        mibs = {f: round(node_mib * f, 2) for f in fracs}
        Ls = [10, 20, 40, 80] if a.quick else [10, 15, 20, 30, 40, 60, 80]
        confs = [("none", 0, 0)] + [(pol, f, mibs[f]) for f in fracs for pol in ("bfs", "visits")]
        per, cmds = {}, {}
        say(f"{name}: {os.path.basename(idx)}, node file {node_mib:.0f} MiB, cache MiB {mibs}")
        for _ in range(a.rounds):
            for pol, f, m in confs:
                rows, cmds[pol, f], secs = search(a, idx, q, gt, Ls, f, pol)
                for r in rows:
                    per.setdefault((pol, f), {}).setdefault(r["L"], []).append(r)
        for pol, f, m in confs:
            for L, rs in sorted(per[pol, f].items()):
                med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
                emit({"bench": "cache", "dataset": name, "index": os.path.basename(idx),
                      "policy": pol, "frac": f, "cache_mib": m, "L": L,
                      "recall": rs[0]["recall"], "qps": round(med("qps")),
                      "cpu_us_per_query": round(med("cpu_us_per_query"), 1),
                      "mean_ms": round(med("mean_latency_ms"), 3), "p99_ms": round(med("p99_ms"), 3),
                      "mean_reads": rs[0]["mean_reads"], "hit_rate": rs[0].get("cache_hit_rate"),
                      "rounds": len(rs), "command": "dann " + cmds[pol, f]})


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
