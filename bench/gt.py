#!/usr/bin/python3
"""bench/gt.py — `dann gt` against faiss IndexFlatL2 on Fashion-MNIST.

Both compute exact L2 k-NN of the 10k t10k images against the 60k train
images, from the same float32 files, with the same number of threads, in the
same run. Prints both wall times, the ratio (the goal is dann <= 1.5x faiss)
and how far the ids agree.

OpenBLAS picks its kernels from the CPU model when it loads; a release older
than the CPU falls back to a generic SSE3 kernel. `dann gt` corrects that by
re-running itself with OPENBLAS_CORETYPE set (tools/blascpu.h); faiss gets
the same setting here so both use the same sgemm kernels. faiss with
OpenBLAS's own choice is timed too, for reference.

usage: /usr/bin/python3 bench/gt.py [--dann build/dann] [--k 100] [--threads 2]
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

FMNIST = "/usr/share/datasets/fashion-mnist"


def read_bin(path, dtype):
    n, d = np.fromfile(path, dtype=np.int32, count=2)
    return np.fromfile(path, dtype=dtype, offset=8).reshape(n, d)


def faiss_child(args):
    """Runs in a fresh interpreter so that OPENBLAS_CORETYPE takes effect."""
    import faiss
    faiss.omp_set_num_threads(args.threads)
    base = read_bin(args.base, np.float32)
    queries = read_bin(args.queries, np.float32)
    t0, c0 = time.perf_counter(), time.process_time()
    index = faiss.IndexFlatL2(base.shape[1])
    index.add(base)
    dist, ids = index.search(queries, args.k)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    ids.astype(np.int32).tofile(args.out)
    print(f"{seconds:.4f} {cpu:.4f}")


def run_faiss(script, base, queries, k, threads, out, coretype):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    res = subprocess.run([sys.executable, script, "--faiss-child", "--base", base,
                          "--queries", queries, "--k", str(k), "--threads", str(threads),
                          "--out", out], env=env, check=True, capture_output=True, text=True)
    wall, cpu = res.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dann", default=os.path.join(os.path.dirname(__file__), "..", "build", "dann"))
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--faiss-child", action="store_true")
    ap.add_argument("--base")
    ap.add_argument("--queries")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.faiss_child:
        return faiss_child(args)

    tmp = tempfile.mkdtemp(prefix="dann-bench-gt-")
    try:
        base, queries = os.path.join(tmp, "train.fbin"), os.path.join(tmp, "t10k.fbin")
        for src, dst in (("train-images-idx3-ubyte.gz", base), ("t10k-images-idx3-ubyte.gz", queries)):
            subprocess.run([args.dann, "convert", "--in", os.path.join(FMNIST, src), "--out", dst],
                           check=True)
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        env.pop("OPENBLAS_CORETYPE", None)
        coretype, dann_s, dann_cpu = None, {}, {}
        for par in ("queries", "blas"):
            gt = os.path.join(tmp, f"gt-{par}.ibin")
            t0, c0 = time.perf_counter(), children_cpu()
            res = subprocess.run([args.dann, "gt", "--base", base, "--queries", queries, "-k",
                                  str(args.k), "--metric", "l2", "--out", gt, "--parallel", par],
                                 env=env, check=True, capture_output=True, text=True)
            dann_s[par] = time.perf_counter() - t0
            dann_cpu[par] = children_cpu() - c0
            for line in res.stderr.splitlines():
                if "OPENBLAS_CORETYPE=" in line:
                    coretype = line.split("OPENBLAS_CORETYPE=")[1].split()[0]
                print("  " + line)
        gt = os.path.join(tmp, "gt-queries.ibin")
        same_both = open(gt, "rb").read() == open(os.path.join(tmp, "gt-blas.ibin"), "rb").read()

        script = os.path.abspath(__file__)
        fout = os.path.join(tmp, "faiss.i32")
        faiss_s, faiss_cpu = run_faiss(script, base, queries, args.k, args.threads, fout, coretype)
        faiss_default_s, faiss_default_cpu = (
            run_faiss(script, base, queries, args.k, args.threads, fout + ".d", None)
            if coretype else (faiss_s, faiss_cpu))

        ids = read_bin(gt, np.int32)
        fids = np.fromfile(fout, dtype=np.int32).reshape(ids.shape)
        same_rank = float((ids == fids).mean())
        overlap = np.mean([len(np.intersect1d(a, b, assume_unique=True)) for a, b in zip(ids, fids)]) / args.k
        nq, nb = read_bin(queries, np.float32).shape[0], read_bin(base, np.float32).shape[0]

        print(f"Fashion-MNIST exact L2 ground truth: {nq} queries x {nb} base, dim 784, "
              f"k = {args.k}, {args.threads} threads")
        print(f"  OpenBLAS core for both: {coretype or 'as OpenBLAS chose'}")
        print(f"  load average (1 min) at the end: {os.getloadavg()[0]:.1f} (other work here inflates wall time, less so CPU time)")
        print("                                              wall s     CPU s")
        print(f"  dann gt (whole command, files in and out): {dann_s['queries']:8.3f}  {dann_cpu['queries']:8.3f}")
        print(f"  dann gt --parallel blas (threaded sgemm):  {dann_s['blas']:8.3f}  {dann_cpu['blas']:8.3f}"
              f"   (same ids: {'yes' if same_both else 'NO'})")
        print(f"  faiss IndexFlatL2 add+search (in memory):  {faiss_s:8.3f}  {faiss_cpu:8.3f}")
        if coretype:
            print(f"  faiss with OpenBLAS's own core choice:     {faiss_default_s:8.3f}  {faiss_default_cpu:8.3f}")
        print(f"  ratio dann / faiss: wall {dann_s['queries'] / faiss_s:.2f}x, "
              f"CPU {dann_cpu['queries'] / faiss_cpu:.2f}x   (goal <= 1.5x)")
        print(f"  ids equal at the same rank: {same_rank:.4f}; same k-sets: {overlap:.4f}")
        print("  (differences are ties and float rounding in faiss: dann's distances are exact)")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
