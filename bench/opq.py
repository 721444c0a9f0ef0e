#!/usr/bin/python3
"""OPQ against plain PQ, in one run, on the same files (bench/run --only opq).

Per data set (Fashion-MNIST 60k x 784, and `dann gen` 100k x 128 with its
24-dimensional latent space):
  1. the quantizers alone: bench_opq (dann PQ, dann OPQ) and opq_faiss.py
     (faiss ProductQuantizer, faiss OPQMatrix + ProductQuantizer): training
     time, MSE over the base, recall@10 of the ADC ranking over the base;
  2. two disk indexes, same R, L and PQ bytes, without and with --opq:
     build time and peak RSS;
  3. `dann search` on both (O_DIRECT, no node cache, W 4, T 2, 16 in
     flight) at each L, in alternating rounds; medians of QPS and CPU per
     query over the rounds; recall@10 and reads per query.
Prints one JSON object per row on stdout; progress on stderr.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
FMNIST = "/usr/share/datasets/fashion-mnist"
ENV = dict(os.environ, OMP_WAIT_POLICY="passive")


def say(*a):
    print(*a, file=sys.stderr, flush=True)


def emit(row):
    print(json.dumps(row), flush=True)
    return row


def run(argv):
    t0 = time.time()
    p = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("bench/opq.py: %s failed (%d):\n%s%s" % (" ".join(argv), p.returncode,
                                                           p.stdout, p.stderr))
    return p.stdout, p.stderr, time.time() - t0


def prepare(a, name):
    """(base, queries, gt, M) for a data set, made once in the work dir."""
    d = os.path.join(a.work, name)
    os.makedirs(d, exist_ok=True)
    gt = os.path.join(d, "gt.ibin")
    if name == "fmnist":
        base, q = os.path.join(d, "base.u8bin"), os.path.join(d, "queries.u8bin")
        if not os.path.exists(base):
            run([a.dann, "convert", "--in", f"{FMNIST}/train-images-idx3-ubyte.gz", "--out", base]
                + (["--limit", "10000"] if a.quick else []))
        if not os.path.exists(q):
            run([a.dann, "convert", "--in", f"{FMNIST}/t10k-images-idx3-ubyte.gz", "--out", q,
                 "--limit", str(a.nq)])
        M = 16 if a.quick else 56  # faiss needs M to divide dim (784)
    else:
        base, q = os.path.join(d, "base.fbin"), os.path.join(d, "queries.fbin")
        if not os.path.exists(base):
            run([a.dann, "gen", "--n", str(a.gen_n), "--dim", "128", "--queries", str(a.nq),
                 "--seed", "42", "--out", base, "--queries-out", q])
        M = 32
    if not os.path.exists(gt):
        run([a.dann, "gt", "--base", base, "--queries", q, "-k", "100", "--metric", "l2",
             "--out", gt])
    return base, q, gt, M


def build(a, base, out, M, opq):
    if os.path.exists(os.path.join(out, "MANIFEST")):
        return None
    argv = ["/usr/bin/time", "-f", "maxrss_kb %M", a.dann, "build", "--data", base, "--out", out,
            "--metric", "l2", "-R", "64", "-L", "100", "--pq-bytes", str(M)] + (["--opq"] if opq else [])
    out_, err, secs = run(argv)
    kb = int(re.search(r"maxrss_kb (\d+)", err).group(1))
    ph = re.search(r"phases:(.*)", out_ + err)
    return {"seconds": round(secs, 1), "maxrss_mib": round(kb / 1024, 1),
            "phases": ph.group(1).strip() if ph else "", "command": " ".join(argv[3:])}


def search(a, idx, q, gt, Ls):
    argv = [a.dann, "search", "--index", idx, "--queries", q, "--gt", gt, "-k", "10",
            "-L", ",".join(map(str, Ls)), "-W", "4", "-T", str(a.threads), "--inflight", "16",
            "--cache-nodes", "0", "--json"]
    out, _, _ = run(argv)
    return json.loads(out), " ".join(argv[1:])


def sweep(a, name, idx, q, gt, Ls):
    """Alternating rounds over the indexes; medians of QPS and CPU/query."""
    per = {k: {} for k in idx}
    cmds = {}
    for _ in range(a.rounds):
        for k, path in idx.items():
            rows, cmds[k] = search(a, path, q, gt, Ls)
            for r in rows:
                per[k].setdefault(r["L"], []).append(r)
    out = []
    for k in idx:
        for L, rs in sorted(per[k].items()):
            med = lambda f: statistics.median(r[f] for r in rs)  # noqa: E731
            out.append(emit({"bench": "search", "dataset": name, "pq": k, "L": L,
                             "recall": rs[0]["recall"], "qps": round(med("qps")),
                             "cpu_us_per_query": round(med("cpu_us_per_query"), 1),
                             "mean_ms": round(med("mean_latency_ms"), 3), "p99_ms": round(med("p99_ms"), 3),
                             "mean_reads": rs[0]["mean_reads"], "rounds": len(rs),
                             "command": "dann " + cmds[k]}))
    return out


def quantizers(a, name, base, q, gt, M):
    say(f"{name}: quantizers (M {M})")
    out, _, _ = run([a.bench_opq, "--base", base, "--queries", q, "--gt", gt, "--M", str(M),
                     "--threads", str(a.threads)])
    for line in out.splitlines():
        emit(dict(json.loads(line), bench="quantizer", dataset=name))
    out, _, _ = run([PY, os.path.join(BENCH, "opq_faiss.py"), "--base", base, "--queries", q,
                     "--gt", gt, "--M", str(M), "--threads", str(a.threads),
                     "--opq-niter", str(a.faiss_opq_niter)])
    for line in out.splitlines():
        emit(dict(json.loads(line), bench="quantizer", dataset=name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dann", required=True)
    ap.add_argument("--bench-opq", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--datasets", default="gen,fmnist")
    ap.add_argument("--gen-n", type=int, default=100000)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--faiss-opq-niter", type=int, default=50)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-quantizers", action="store_true",
                    help="skip step 1 (faiss's OPQMatrix alone takes minutes)")
    a = ap.parse_args()
    if a.quick:
        a.gen_n, a.nq, a.rounds = 10000, 100, 1
    for name in a.datasets.split(","):
        base, q, gt, M = prepare(a, name)
        if not a.no_quantizers:
            quantizers(a, name, base, q, gt, M)
        idx = {}
        for k, opq in (("pq", False), ("opq", True)):
            idx[k] = os.path.join(a.work, name, f"index-{k}-{M}")
            say(f"{name}: build {k}")
            b = build(a, base, idx[k], M, opq)
            if b:
                emit(dict(b, bench="build", dataset=name, pq=k))
        Ls = [10, 20, 40, 80] if a.quick else [10, 15, 20, 30, 40, 60, 80, 120, 160]
        say(f"{name}: search sweep")
        sweep(a, name, idx, q, gt, Ls)


if __name__ == "__main__":
    main()
