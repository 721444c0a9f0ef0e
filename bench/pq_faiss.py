#!/usr/bin/python3
"""faiss's ProductQuantizer on the data bench_pq measures dann's PQ on.

Run by bench_pq (bench/pq.c) in the same run, on the same .fbin file, same
M, 8 bits, same queries and the same id lists, and prints one JSON object
per line on stdout. Figures:
  train_s          ProductQuantizer.train on the whole base (faiss then
                   subsamples max_points_per_centroid * 256 = 65536 rows
                   per sub-space, its default)
  encode_per_s     compute_codes over the whole base, vectors per second
  mse              mean over the base of ||x - decode(encode(x))||^2
  table_us         compute_distance_tables, per query
  list_codes_per_s the id-list scan: gather each query's codes by id
                   (numpy take) and scan them with ProductQuantizer.search
                   (distance table + lookup scan + a 1-heap), one thread
  block_codes_per_s the same scan over the contiguous code array
Usage: pq_faiss.py --base F.fbin --queries Q.fbin --ids IDS.u32 --M M [--M M2 ...]
"""
import argparse
import json
import sys
import time

import numpy as np

try:
    import faiss
except ImportError:  # reported, not fatal: bench_pq prints dann's side alone
    print(json.dumps({"error": "python3-faiss is not installed"}))
    sys.exit(0)


def read_fbin(path):
    with open(path, "rb") as f:
        n, d = np.fromfile(f, dtype=np.int32, count=2)
        x = np.fromfile(f, dtype=np.float32, count=int(n) * int(d))
    return x.reshape(int(n), int(d))


def scan(pq, q, codes):
    """One query against a code array: faiss's table + lookup scan."""
    dist = np.empty((1, 1), dtype=np.float32)
    lab = np.empty((1, 1), dtype=np.int64)
    heap = faiss.float_maxheap_array_t()
    heap.nh, heap.k = 1, 1
    heap.val = faiss.swig_ptr(dist)
    heap.ids = faiss.swig_ptr(lab)
    pq.search(faiss.swig_ptr(q), 1, faiss.swig_ptr(codes), codes.shape[0], heap, True)
    return dist[0, 0]


def run(x, q, ids, M, threads):
    d = x.shape[1]
    out = {"M": M, "n": x.shape[0], "dim": d}
    faiss.omp_set_num_threads(threads)
    pq = faiss.ProductQuantizer(d, M, 8)
    t = time.perf_counter()
    pq.train(x)
    out["train_s"] = time.perf_counter() - t
    t = time.perf_counter()
    codes = pq.compute_codes(x)
    out["encode_per_s"] = x.shape[0] / (time.perf_counter() - t)
    err = 0.0
    for i in range(0, x.shape[0], 65536):
        r = pq.decode(codes[i:i + 65536]) - x[i:i + 65536]
        err += float(np.einsum("ij,ij->", r, r, dtype=np.float64))
    out["mse"] = err / x.shape[0]
    # ADC on one thread, as a search thread runs it.
    faiss.omp_set_num_threads(1)
    tables = np.empty((q.shape[0], M * 256), dtype=np.float32)
    t = time.perf_counter()
    pq.compute_distance_tables(q.shape[0], faiss.swig_ptr(q), faiss.swig_ptr(tables))
    out["table_us"] = (time.perf_counter() - t) / q.shape[0] * 1e6
    total, t = 0, time.perf_counter()
    for qi in range(q.shape[0]):
        gathered = np.take(codes, ids, axis=0)
        scan(pq, q[qi:qi + 1], gathered)
        total += ids.shape[0]
    out["list_codes_per_s"] = total / (time.perf_counter() - t)
    total, t = 0, time.perf_counter()
    for qi in range(q.shape[0]):
        scan(pq, q[qi:qi + 1], codes)
        total += codes.shape[0]
    out["block_codes_per_s"] = total / (time.perf_counter() - t)
    out["threads"] = threads
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--ids", required=True, help="uint32 ids, one list scanned per query")
    ap.add_argument("--M", type=int, action="append", required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    x = np.ascontiguousarray(read_fbin(a.base))
    q = np.ascontiguousarray(read_fbin(a.queries))
    ids = np.fromfile(a.ids, dtype=np.uint32).astype(np.int64)
    for M in a.M:
        r = run(x, q, ids, M, a.threads)
        r["faiss"] = faiss.__version__
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
