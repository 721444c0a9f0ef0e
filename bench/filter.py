#!/usr/bin/python3
"""bench/filter.py: filtered search: dann's plans next to faiss's IDSelector.

Filters allowing about 50%, 10%, 1% and 0.1% of the rows come from a
synthetic field r, uniform in 0..999 from a fixed hash of the row number
(independent of where a row lies); two more follow the vectors, as real
attributes do: Fashion-MNIST's class label (label==3, 10%, with --labels)
and c, the rank in 0..999 of a row's projection on a fixed random
direction (c<100, 10% of the rows, all on one side of the data):

    none       every row (the unfiltered baseline, same index, same queries)
    r<500      50%        r<200      20% (the planner's exact/beam border)
    label==3   10%        c<100      10%        r<100   10%
    r<10       1%         r<1        0.1%

Ground truth is exact (faiss IndexFlatL2) over the allowed rows only. dann
runs in one bench_filter process over every filter: its plans (auto, beam
with L grown by 1/selectivity, uncounted: excluded nodes not counted into
L, exact) side by side for each L of a sweep. faiss runs IndexIVFFlat with
IDSelectorBitmap (a sweep of nprobe) and IndexFlatL2 with the same
selector (exact). One JSON object per line on stdout:

  dann:  {system, name, selectivity, plan, plan_ran, L, recall, qps, mean_reads}
         and per filter and plan {system, summary: true, ..., target, reached}
  faiss: {system, name, selectivity, nprobe, recall, qps}

Nothing here passes or fails on time.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vecio import read_bin  # noqa: E402

K = 10
FILTERS = [("none", None), ("r<500", ("r", 500)), ("r<200", ("r", 200)),
           ("label==3", ("label", 3)), ("c<100", ("c", 100)), ("r<100", ("r", 100)),
           ("r<10", ("r", 10)), ("r<1", ("r", 1))]


def log(msg):
    print(f"[filter {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def read_labels(path, n):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=8)[:n].astype(np.int32)


def synthetic_r(n):
    """The r field: a multiplicative hash of the row number, mod 1000."""
    i = np.arange(n, dtype=np.uint64)
    return ((i * np.uint64(2654435761)) % np.uint64(1 << 32) % np.uint64(1000)).astype(np.int32)


def projection_rank(base):
    """The c field: each row's rank (0..999) along a fixed random direction."""
    u = np.random.default_rng(7).standard_normal(base.shape[1]).astype(np.float32)
    proj = np.concatenate([np.asarray(base[i:i + 65536], dtype=np.float32) @ u
                           for i in range(0, base.shape[0], 65536)])
    rank = np.empty(len(proj), dtype=np.int64)
    rank[np.argsort(proj, kind="stable")] = np.arange(len(proj))
    return (rank * 1000 // len(proj)).astype(np.int32)


def write_ibin(path, ids):
    with open(path, "wb") as f:
        np.array(ids.shape, dtype=np.int32).tofile(f)
        ids.astype(np.int32).tofile(f)


def truth(faiss, base, queries, allowed):
    rows = np.nonzero(allowed)[0]
    k = min(K, len(rows))
    if k == 0:
        return np.full((len(queries), K), -1, dtype=np.int64)
    idx = faiss.IndexFlatL2(base.shape[1])
    idx.add(np.ascontiguousarray(base[rows], dtype=np.float32))
    _, got = idx.search(queries, k)
    out = np.full((len(queries), K), -1, dtype=np.int64)
    out[:, :k] = rows[got]
    return out


def recall(found, gt):
    hits = total = 0
    for row, t in zip(found, gt):
        t = [x for x in t[:K].tolist() if x >= 0]
        total += len(t)
        hits += len(set(row[:K].tolist()) & set(t))
    return hits / total if total else 1.0


def run_faiss(faiss, base, queries, masks, nprobes, threads):
    faiss.omp_set_num_threads(threads)
    n, d = base.shape
    nlist = max(16, int(4 * np.sqrt(n)))
    xb = np.ascontiguousarray(base, dtype=np.float32)
    quant = faiss.IndexFlatL2(d)
    ivf = faiss.IndexIVFFlat(quant, d, nlist)
    ivf.train(xb[np.random.default_rng(1).choice(n, min(n, 64 * nlist), replace=False)])
    ivf.add(xb)
    flat = faiss.IndexFlatL2(d)
    flat.add(xb)
    rows = []
    for name, allowed, gt in masks:
        bits = np.packbits(allowed.astype(np.uint8), bitorder="little")
        sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits)) if name != "none" else None
        sel_ = sel
        for nprobe in nprobes:
            params = faiss.SearchParametersIVF(sel=sel_, nprobe=nprobe) if sel_ else \
                faiss.SearchParametersIVF(nprobe=nprobe)
            t0 = time.time()
            _, got = ivf.search(queries, K, params=params)
            dt = time.time() - t0
            rows.append({"system": "faiss-ivf", "name": name, "selectivity": float(allowed.mean()),
                         "nprobe": nprobe, "recall": round(recall(got, gt), 4),
                         "qps": round(len(queries) / dt, 1)})
        params = faiss.SearchParameters(sel=sel_) if sel_ else None
        t0 = time.time()
        _, got = flat.search(queries, K, params=params) if params else flat.search(queries, K)
        dt = time.time() - t0
        rows.append({"system": "faiss-flat", "name": name, "selectivity": float(allowed.mean()),
                     "nprobe": 0, "recall": round(recall(got, gt), 4),
                     "qps": round(len(queries) / dt, 1)})
        del sel
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dann", required=True, help="the dann CLI")
    ap.add_argument("--bench", required=True, help="bench_filter")
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--labels", help="train-labels-idx1-ubyte.gz (Fashion-MNIST's classes)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pq-bytes", type=int, default=64)
    ap.add_argument("--L", default="10,12,16,20,24,32,48,64,100,150")
    ap.add_argument("--nprobe", default="1,2,4,8,16,32,64")
    ap.add_argument("--plans", default="auto,beam,uncounted,exact")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--max-reads", type=int, default=3000)
    ap.add_argument("--R", type=int, default=64)
    ap.add_argument("--no-faiss", action="store_true", help="dann's plans only")
    args = ap.parse_args()

    import faiss
    os.makedirs(args.work, exist_ok=True)
    base = read_bin(args.base)
    n = base.shape[0]
    q_all = read_bin(args.queries)
    nq = min(args.nq, q_all.shape[0])
    queries = np.ascontiguousarray(q_all[:nq], dtype=np.float32)
    qpath = os.path.join(args.work, f"queries-{nq}.fbin")
    with open(qpath, "wb") as f:
        np.array([nq, queries.shape[1]], dtype=np.int32).tofile(f)
        queries.tofile(f)
    index = os.path.join(args.work, "index")
    if not os.path.exists(os.path.join(index, "MANIFEST")):
        log("building the index")
        subprocess.run([args.dann, "build", "--data", args.base, "--out", index, "-R", str(args.R),
                        "-L", "100", "--pq-bytes", str(args.pq_bytes)], check=True,
                       env=dict(os.environ, OMP_WAIT_POLICY="passive"))
    fields = {"r": synthetic_r(n), "c": projection_rank(base)}
    if args.labels:
        fields["label"] = read_labels(args.labels, n)
    masks, cases = [], []
    for name, f in FILTERS:
        if f is not None and f[0] not in fields:
            continue
        allowed = np.ones(n, dtype=bool) if f is None else \
            (fields[f[0]] == f[1] if f[0] == "label" else fields[f[0]] < f[1])
        gt = truth(faiss, base, queries, allowed)
        gpath = os.path.join(args.work, f"gt-{name}.ibin")
        write_ibin(gpath, gt)
        mpath = "-"
        if f is not None:
            mpath = os.path.join(args.work, f"mask-{name}.bin")
            words = np.zeros((n + 63) // 64 * 64, dtype=np.uint8)
            words[:n] = allowed
            np.packbits(words, bitorder="little").tofile(mpath)
        masks.append((name, allowed, gt))
        cases += ["--case", f"{name},{mpath},{gpath}"]
    # One process, every filter: the plans run side by side at each L; a
    # plan stops one L past the target, or past --max-reads reads/query
    # (the grown beam at 0.1% would otherwise take the stage's hour).
    cmd = [args.bench, "--index", index, "--queries", qpath, "--threads", str(args.threads),
           "--plans", args.plans, "--L", args.L, "--reps", str(args.reps),
           "--max-reads", str(args.max_reads)] + cases
    log(" ".join(cmd))
    out = subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE).stdout
    for line in out.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            row["system"] = "dann"
            print(json.dumps(row), flush=True)
    if args.no_faiss:
        return
    for row in run_faiss(faiss, base, queries, masks, [int(x) for x in args.nprobe.split(",")],
                         args.threads):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
