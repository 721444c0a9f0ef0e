#!/usr/bin/python3
"""bench/fwd.py — the cost of a dannd cluster's forwarding: a collection on
node 1, the same calls sent to node 1 (direct) and to node 2 (forwarded to
node 1 over gRPC, server/srv_fwd.c), in alternating rounds in one run.

Starts two dannd processes on loopback (node 1 alone at its Raft address,
node 2 with --join, added by `dann cluster add`), fills a collection of
--rows 16-d rows through tests/python/dannd_meta.py, then per round: --calls
single-vector Search calls and --calls Insert calls of 10 rows, one at a
time from one client, on each node. Prints one JSON object per (call,
path) with --json: median and p90 latency in ms, and the forwarded median's
ratio to the direct one. Nothing passes or fails on a timing.

    bench/fwd.py --build build-release [--rounds 5] [--calls 200] [--json]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO = os.path.join(ROOT, "server", "proto")
PY = "/usr/bin/python3"
START_S = 30
DIM = 16


def free_pair():
    """A loopback port P with P + 1 free too (Raft, meta requests)."""
    for _ in range(200):
        a, b = socket.socket(), socket.socket()
        try:
            a.bind(("127.0.0.1", 0))
            p = a.getsockname()[1]
            b.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
        finally:
            a.close()
            b.close()
    raise RuntimeError("no free port pair")


def start(build, work, node, raft, extra):
    log = open(os.path.join(work, f"node{node}.log"), "w+")
    p = subprocess.Popen([os.path.join(build, "dannd"), "--data-dir", os.path.join(work, f"d{node}"), "--listen",
                          "127.0.0.1:0", "--metrics", "", "--node-id", str(node), "--raft-listen", raft] + extra,
                         stdout=subprocess.PIPE, stderr=log, text=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < START_S:
        line = p.stdout.readline()
        if "listening on port" in line:
            return p, int(line.split("listening on port")[1].split(",")[0])
        if not line and p.poll() is not None:
            break
    p.kill()
    log.seek(0)
    raise RuntimeError(f"dannd node {node} did not start: {log.read()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.calls, a.rows = 2, 50, 1000
    work = tempfile.mkdtemp(prefix="bench_fwd.")
    procs = []
    try:
        stubs = os.path.join(work, "stubs")
        os.mkdir(stubs)
        subprocess.run([PY, "-m", "grpc_tools.protoc", "-I" + PROTO, "--python_out=" + stubs,
                        "--grpc_python_out=" + stubs] + [os.path.join(PROTO, f) for f in
                                                         ("common.proto", "schema.proto", "milvus.proto")],
                       check=True)
        r1, r2 = free_pair(), free_pair()
        p1, g1 = start(a.build, work, 1, f"127.0.0.1:{r1}", [])
        procs.append(p1)
        p2, g2 = start(a.build, work, 2, f"127.0.0.1:{r2}", ["--join", "true"])
        procs.append(p2)
        subprocess.run([os.path.join(a.build, "dann"), "cluster", "add", "--peers", f"127.0.0.1:{r1}", "--node",
                        f"2@127.0.0.1:{r2}"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([PY, os.path.join(ROOT, "tests", "python", "dannd_meta.py"), stubs, "fill",
                        f"127.0.0.1:{g1}", "fwd", str(a.rows)], check=True, stdout=subprocess.DEVNULL)
        rows = measure(stubs, a, {"direct": f"127.0.0.1:{g1}", "forwarded": f"127.0.0.1:{g2}"})
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)
    for r in rows:
        print(json.dumps(r) if a.json else
              f"{r['call']:7s} {r['path']:9s} median {r['median_ms']:.3f} ms  p90 {r['p90_ms']:.3f} ms"
              + (f"  x{r['ratio_to_direct']:.2f}" if "ratio_to_direct" in r else ""))


def measure(stubs, a, addrs):
    sys.path.insert(0, stubs)
    import grpc
    import numpy as np
    import common_pb2
    import milvus_pb2
    import milvus_pb2_grpc
    import schema_pb2

    stub = {k: milvus_pb2_grpc.MilvusServiceStub(grpc.insecure_channel(v)) for k, v in addrs.items()}
    rng = np.random.default_rng(7)
    pg = common_pb2.PlaceholderGroup()
    pv = pg.placeholders.add(tag="$0", type=common_pb2.FloatVector)
    pv.values.append(rng.standard_normal(DIM).astype("<f4").tobytes())
    sq = milvus_pb2.SearchRequest(collection_name="fwd", placeholder_group=pg.SerializeToString(), nq=1)
    for key, val in (("topk", "10"), ("anns_field", "vector")):
        sq.search_params.add(key=key, value=val)
    next_key = [10 ** 9]

    def insert_req():
        q = milvus_pb2.InsertRequest(collection_name="fwd", num_rows=10)
        f = q.fields_data.add(type=schema_pb2.Int64, field_name="id")
        f.scalars.long_data.data.extend(range(next_key[0], next_key[0] + 10))
        next_key[0] += 10
        v = q.fields_data.add(type=schema_pb2.FloatVector, field_name="vector")
        v.vectors.dim = DIM
        v.vectors.float_vector.data.extend(rng.standard_normal(10 * DIM).astype("float32").tolist())
        return q

    times = {(c, p): [] for c in ("search", "insert") for p in addrs}
    for _ in range(a.rounds):
        for path in addrs:
            for call in ("search", "insert"):
                for _ in range(a.calls):
                    q = sq if call == "search" else insert_req()
                    t0 = time.perf_counter()
                    r = (stub[path].Search if call == "search" else stub[path].Insert)(q, timeout=30)
                    times[(call, path)].append(time.perf_counter() - t0)
                    if r.status.code != 0:
                        raise RuntimeError(f"{call} via {path}: {r.status}")
    out = []
    for call in ("search", "insert"):
        med = {}
        for path in addrs:
            t = sorted(times[(call, path)])
            med[path] = statistics.median(t) * 1e3
            row = {"call": call, "path": path, "calls": len(t), "median_ms": med[path],
                   "p90_ms": t[int(0.9 * (len(t) - 1))] * 1e3}
            if path == "forwarded":
                row["ratio_to_direct"] = med[path] / med["direct"]
            out.append(row)
    return out


main()
