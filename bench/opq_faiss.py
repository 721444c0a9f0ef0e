#!/usr/bin/python3
"""faiss's ProductQuantizer and OPQMatrix + ProductQuantizer on the files
bench_opq (bench/opq.c) measures dann's PQ and OPQ on: same base, queries,
ground truth, M, 8 bits. One JSON object per quantizer on stdout:
  train_s       training (OPQMatrix: its defaults, 50 rounds of 4 PQ
                iterations on at most 65,536 rows; --opq-niter changes the
                rounds; then IndexPQ.train on the rotated base)
  mse           mean over the base of ||x - decode(encode(x))||^2
  adc_recall10  recall@10 of the ADC ranking over the whole base
                (IndexPQ.search: every code scored, top 10)
Usage: opq_faiss.py --base F --queries Q --gt GT.ibin --M M [--threads 2]
"""
import argparse
import json
import sys
import time

import numpy as np

try:
    import faiss
except ImportError:  # reported, not fatal: bench/opq.py prints dann's side alone
    print(json.dumps({"error": "python3-faiss is not installed"}))
    sys.exit(0)

from vecio import read_bin, recall_at  # noqa: E402


def measure(name, index, x, q, gt, M, opq_niter=None):
    t = time.perf_counter()
    index.train(x)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    index.add(x)
    encode_s = time.perf_counter() - t
    err = 0.0
    for i in range(0, x.shape[0], 65536):
        xb = x[i:i + 65536]
        r = index.sa_decode(index.sa_encode(xb)) - xb
        err += float(np.einsum("ij,ij->", r, r, dtype=np.float64))
    _, ids = index.search(q, 10)
    out = {"system": name, "M": M, "n": x.shape[0], "dim": x.shape[1],
           "train_s": round(train_s, 2), "encode_s": round(encode_s, 2),
           "mse": err / x.shape[0], "adc_recall10": recall_at(ids, gt, 10),
           "faiss": faiss.__version__}
    if opq_niter is not None:
        out["opq_iters"] = opq_niter
    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--M", type=int, required=True)
    ap.add_argument("--opq-niter", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    faiss.omp_set_num_threads(a.threads)
    x = np.ascontiguousarray(read_bin(a.base), dtype=np.float32)
    q = np.ascontiguousarray(read_bin(a.queries), dtype=np.float32)
    gt = np.asarray(read_bin(a.gt))
    d = x.shape[1]
    measure("faiss-pq", faiss.IndexPQ(d, a.M, 8), x, q, gt, a.M)
    opq = faiss.OPQMatrix(d, a.M)
    opq.niter = a.opq_niter
    measure("faiss-opq", faiss.IndexPreTransform(opq, faiss.IndexPQ(d, a.M, 8)), x, q, gt, a.M,
            a.opq_niter)


if __name__ == "__main__":
    main()
