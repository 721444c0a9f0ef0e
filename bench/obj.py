#!/usr/bin/python3
"""bench/obj.py — object-store throughput: `dann obj` uploads and downloads
against s3rver on loopback and against the file:// backend, next to fio's
sequential write and read of the same size on the same filesystem, plus the
time to bring a segment directory (a built disk index) back from the store,
the time to open a data dir whose segments are all evicted, and the
multi-tenant case tiering exists for (bench_tier: 20 collections,
Zipf choice of collection, cache at 100/50/25% of the data: QPS, p99,
recall, fetches per minute).

Prints one JSON object per row with --json (bench/run's obj stage), a table
otherwise. Nothing passes or fails on a timing.

    bench/obj.py --dann build/dann [--quick] [--json]

Caveats, stated in the rows: s3rver is a Node.js server writing to the same
disk, so its figures bound what the client can do through it, not S3's; the
file:// download reads a file the upload just wrote, usually from the page
cache (no root here to drop caches), so it can exceed fio's O_DIRECT read.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_DIR = os.path.join(ROOT, "tests", "node")
REPS = 3


def run(argv, env=None, check=True):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(argv, env=e, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr[-2000:]}")
    return p.stdout


def start_s3rver(data):
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "s3rver")):
        run(["npm", "ci", "--prefix", NODE_DIR, "--no-audit", "--no-fund"])
    p = subprocess.Popen(["node", "--openssl-legacy-provider", os.path.join(NODE_DIR, "s3rver-launch.js"),
                          "--dir", data, "--bucket", "bench"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.match(r"ready (\d+) (\d+)", line)
    if not m:
        p.kill()
        raise RuntimeError(f"s3rver did not start: {line!r}")
    # the proxy adds a hop; the benchmark talks to s3rver itself
    return p, f"http://127.0.0.1:{m.group(1)}"


def fio_seq(path, size_mib, rw):
    out = run(["fio", "--name=seq", f"--filename={path}", f"--size={size_mib}M", f"--rw={rw}", "--bs=1M",
               "--direct=1", "--ioengine=psync", "--end_fsync=1", "--output-format=json"])
    job = json.loads(out)["jobs"][0]
    side = job["write" if rw == "write" else "read"]
    return side["bw_bytes"] / 1e6


def dann_rate(dann, argv, env):
    out = run([dann, "obj"] + argv, env=env)
    m = re.search(r"in ([0-9.]+) s: ([0-9.]+) MB/s", out)
    if not m:
        raise RuntimeError(f"dann obj {' '.join(argv)} printed: {out!r}")
    return float(m.group(2)), float(m.group(1))


def median_rate(dann, argv_fn, env, cleanup):
    rates = []
    for i in range(REPS):
        cleanup(i)
        rates.append(dann_rate(dann, argv_fn(i), env))
    return statistics.median(r for r, _ in rates), statistics.median(s for _, s in rates)


def multi_tenant(args, work):
    """bench_tier (beside the dann binary): 20 collections in one tiered data
    dir (file:// store), searches choosing a collection by a Zipf law, the
    local cache at 100%, 50% and 25% of the data."""
    bench = os.path.join(os.path.dirname(os.path.abspath(args.dann)), "bench_tier")
    argv = [bench, "--json", "--dir", work, "--colls", "20"]
    argv += ["--rows", "2000", "--queries", "600"] if args.quick else ["--rows", "10000", "--queries", "3000"]
    rows = []
    for line in run(argv).splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            r.pop("bench", None)
            rows.append({"backend": "file://", "op": f"multi-tenant search, cache {r['cache_fraction']:.0%}", **r})
    return rows


def open_evicted(args, work, stores, env):
    """Opening a tiered data dir whose segments are all evicted (`dann
    collection describe` under DANN_STORE, a one-byte cache): from the stubs
    beside the evicted directories, and with the stubs removed (a data dir
    that kept only its catalog: each segment's MANIFEST, keys, index header
    and delete bitmap are fetched). The whole command, process start
    included."""
    data = os.path.join(work, "open.fbin")
    plain = os.path.join(work, "open-plain")
    n = 20000 if args.quick else 100000
    run([args.dann, "gen", "--n", str(n), "--dim", "64", "--out", data, "--seed", "5"])
    run([args.dann, "collection", "create", "--data-dir", plain, "--name", "docs", "--dim", "64",
         "--seal-rows", str(n // 10), "-R", "32", "-L", "64"])
    run([args.dann, "insert", "--data-dir", plain, "--name", "docs", "--vectors", data, "--first-id", "0",
         "--batch", str(n // 10)])
    run([args.dann, "flush", "--data-dir", plain, "--name", "docs"])
    rows = []
    for name, uri in stores:
        tenv = dict(env, DANN_STORE=uri + "-open", DANN_TIER_CACHE_BYTES="1")
        evicted = os.path.join(work, "open-evicted")
        shutil.rmtree(evicted, ignore_errors=True)
        shutil.copytree(plain, evicted, symlinks=True)
        run([args.dann, "flush", "--data-dir", evicted, "--name", "docs"], env=tenv)
        segs = len([f for f in os.listdir(os.path.join(evicted, "c1")) if f.endswith(".stub")])
        for how in ("stubs", "no stubs"):
            times = []
            for _ in range(REPS):
                d = os.path.join(work, "open-run")
                shutil.rmtree(d, ignore_errors=True)
                shutil.copytree(evicted, d, symlinks=True)
                if how == "no stubs":
                    for f in os.listdir(os.path.join(d, "c1")):
                        if f.endswith(".stub"):
                            os.remove(os.path.join(d, "c1", f))
                t0 = time.monotonic()
                run([args.dann, "collection", "describe", "--data-dir", d, "--name", "docs"], env=tenv)
                times.append(time.monotonic() - t0)
            rows.append({"backend": name, "op": f"open, {segs} segments evicted ({how})",
                         "seconds": round(statistics.median(times), 3)})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dann", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    size_mib = 64 if args.quick else 512
    work = tempfile.mkdtemp(prefix="bench_obj_", dir=os.path.join(ROOT, "bench", "data")
                            if os.path.isdir(os.path.join(ROOT, "bench", "data")) else None)
    rows = []
    srv = None
    try:
        src = os.path.join(work, "src.bin")
        with open(src, "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(size_mib):
                f.write(chunk)
        fio_w = fio_seq(os.path.join(work, "fio.bin"), size_mib, "write")
        fio_r = fio_seq(os.path.join(work, "fio.bin"), size_mib, "read")
        os.remove(os.path.join(work, "fio.bin"))
        rows.append({"backend": "fio (O_DIRECT, 1 MiB)", "op": "write", "mib": size_mib, "mb_s": round(fio_w, 1)})
        rows.append({"backend": "fio (O_DIRECT, 1 MiB)", "op": "read", "mib": size_mib, "mb_s": round(fio_r, 1)})

        srv, endpoint = start_s3rver(os.path.join(work, "s3rver"))
        env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}
        stores = [("file://", "file://" + os.path.join(work, "store")), ("s3rver", "s3://bench/b")]
        # a segment directory: a small disk index built here
        data = os.path.join(work, "seg.fbin")
        seg = os.path.join(work, "seg")
        n = "20000" if args.quick else "100000"
        run([args.dann, "gen", "--n", n, "--dim", "64", "--out", data, "--seed", "3"])
        run([args.dann, "build", "--data", data, "--out", seg, "-R", "32", "-L", "64", "--threads", "2"])
        seg_bytes = sum(os.path.getsize(os.path.join(seg, f)) for f in os.listdir(seg))
        for name, uri in stores:
            up, up_s = median_rate(args.dann, lambda i: ["put", uri, f"big{i}", src], env, lambda i: None)
            dst = os.path.join(work, "dst.bin")

            def rm_dst(i):
                if os.path.exists(dst):
                    os.remove(dst)
            down, down_s = median_rate(args.dann, lambda i: ["get", uri, f"big{i}", dst], env, rm_dst)
            rows.append({"backend": name, "op": "upload", "mib": size_mib, "mb_s": up, "seconds": up_s,
                         "fraction_of_fio": round(up / fio_w, 3)})
            rows.append({"backend": name, "op": "download", "mib": size_mib, "mb_s": down, "seconds": down_s,
                         "fraction_of_fio": round(down / fio_r, 3)})
            run([args.dann, "obj", "put-dir", uri, "seg", seg], env=env)
            back = os.path.join(work, "seg-back")

            def rm_back(i):
                shutil.rmtree(back, ignore_errors=True)
            fetch, fetch_s = median_rate(args.dann, lambda i: ["get-dir", uri, "seg", back], env, rm_back)
            rows.append({"backend": name, "op": "segment fetch (get-dir)", "mib": round(seg_bytes / 2**20, 1),
                         "mb_s": fetch, "seconds": fetch_s})
        rows += open_evicted(args, work, stores, env)
        rows += multi_tenant(args, work)
    finally:
        if srv:
            srv.terminate()
            try:
                srv.wait(timeout=10)
            except subprocess.TimeoutExpired:
                srv.kill()
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        for r in rows:
            print(json.dumps(r))
    else:
        for r in rows:
            print(r)


if __name__ == "__main__":
    sys.exit(main())
