#!/usr/bin/python3
"""Node order on disk x use of a sector's other nodes, in one run
(bench/run --only layout; issue 16, "Layout").

Per data set (the files bench/opq.py makes: `dann gen` 100k x 128 float32
with seed 42, and Fashion-MNIST 60k x 784 uint8; 1000 queries, ground truth
from `dann gt`):
  1. one index per node order (--order locality, the default, and shuffle:
     Starling's block shuffling), R 64, L 100, built with one build thread
     so that both orders lay out the same graph;
  2. `dann search` on each (O_DIRECT, no node cache, W 4, T 2, 16 in
     flight) with each --sector-expand mode (off; on: peers in or entering
     the list by PQ are expanded; exact, the default: Starling's in-block
     search), every (order, mode) once per round, every other round in
     reverse order;
     medians of QPS and CPU per query over the rounds; recall@10, reads per
     query and sector use (peers expanded / peers fetched) from the first;
     With --base-dann (the previous commit's CLI), the locality index is
     also searched by it with its defaults (mode "base") in the same
     rounds;
  3. per target recall (0.95, 0.99): the first L reaching it per (order,
     mode), its reads and QPS as ratios to the reference: "base" when
     given, else this build's default (locality, exact).
One JSON object per row on stdout; progress on stderr.
"""
import argparse
import json
import os
import re
import statistics
import struct
import sys

import numpy as np

from opq import emit, prepare, run, say  # noqa: E402 (same data files)

DEFAULT = ("locality", "exact")


def build(a, base, out, M, order):
    if os.path.exists(os.path.join(out, "MANIFEST")):
        return None
    argv = ["/usr/bin/time", "-f", "maxrss_kb %M", a.dann, "build", "--data", base, "--out", out,
            "--metric", "l2", "-R", "64", "-L", "100", "--pq-bytes", str(M), "--order", order,
            "--threads", "1"]
    out_, err, secs = run(argv)
    kb = int(re.search(r"maxrss_kb (\d+)", err).group(1))
    ph = re.search(r"phases:(.*)", out_ + err)
    return {"seconds": round(secs, 1), "maxrss_mib": round(kb / 1024, 1),
            "phases": ph.group(1).strip() if ph else "", "command": " ".join(argv[3:])}


def sector_edges(idx):
    """(nodes per sector, % of graph edges whose ends share a sector) from
    disk.index and slots.bin (the header layout of dix_format.h)."""
    raw = np.fromfile(os.path.join(idx, "disk.index"), dtype=np.uint8)
    h = raw[:4096].tobytes()
    dtype, dim = struct.unpack_from("<2I", h, 16)
    n, = struct.unpack_from("<Q", h, 24)
    R, = struct.unpack_from("<I", h, 32)
    node_bytes, nps, _, layout = struct.unpack_from("<4I", h, 72)
    vb = (dim * (4 if dtype == 0 else 1) + 3) & ~3
    slot = np.fromfile(os.path.join(idx, "slots.bin"), dtype=np.uint32) if layout else \
        np.arange(n, dtype=np.uint32)
    block = slot // nps
    secs = raw[4096:].reshape(-1, 4096)
    same = total = 0
    for s in range(nps):
        ids = np.arange(len(secs)) * nps + s  # slots in this position
        ok = ids < n
        rec = secs[ok, s * node_bytes:(s + 1) * node_bytes]
        deg = rec[:, vb:vb + 4].copy().view(np.uint32).ravel()
        nb = rec[:, vb + 4:vb + 4 + 4 * R].copy().view(np.uint32)
        live = np.arange(R)[None, :] < deg[:, None]
        same += int(((block[nb] == (ids[ok] // nps)[:, None]) & live).sum())
        total += int(live.sum())
    return nps, round(100 * same / total, 2)


def search(a, idx, q, gt, Ls, mode):
    argv = [a.base_dann if mode == "base" else a.dann, "search", "--index", idx, "--queries", q,
            "--gt", gt, "-k", "10", "-L", ",".join(map(str, Ls)), "-W", "4", "-T", str(a.threads),
            "--inflight", "16", "--cache-nodes", "0", "--json"] + \
        ([] if mode == "base" else ["--sector-expand", mode])
    out, _, _ = run(argv)
    return json.loads(out), ("base " if mode == "base" else "") + "dann " + " ".join(argv[1:])


def first_at(rows, target):
    for r in sorted(rows, key=lambda r: r["L"]):
        if r["recall"] is not None and r["recall"] >= target:
            return r
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dann", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--datasets", default="gen,fmnist")
    ap.add_argument("--orders", default="locality,shuffle")
    ap.add_argument("--modes", default="on,exact,off")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gen-n", type=int, default=100000)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--base-dann", default="",
                    help="the previous commit's dann: searches the locality index as mode 'base'")
    ap.add_argument("--Ls", default="", help="comma-separated L values (default: 10 to 250)")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.gen_n, a.nq, a.rounds = 10000, 100, 1
    orders, modes = a.orders.split(","), a.modes.split(",")
    combos = ([("locality", "base")] if a.base_dann else []) + \
        [(o, m) for o in orders for m in modes]
    ref_combo = ("locality", "base") if a.base_dann else DEFAULT
    for name in a.datasets.split(","):
        base, q, gt, M = prepare(a, name)
        idx = {}
        for order in orders:
            idx[order] = os.path.join(a.work, name, f"index-{order}")
            say(f"{name}: build --order {order}")
            b = build(a, base, idx[order], M, order) or {}
            nps, pct = sector_edges(idx[order])
            emit(dict(b, bench="layout_build", dataset=name, order=order, nodes_per_sector=nps,
                      same_sector_edges_pct=pct))
        Ls = [int(x) for x in a.Ls.split(",")] if a.Ls else [10, 20, 40, 80] if a.quick else \
            [10, 15, 20, 25, 30, 35, 40, 50, 60, 80, 100, 130, 160, 200, 250]
        per, cmds = {}, {}
        for rnd in range(a.rounds):
            say(f"{name}: round {rnd + 1}/{a.rounds}")
            # every other round in reverse, so that no combination always
            # runs first or last in a round (the load of other jobs drifts)
            for order, mode in (combos if rnd % 2 == 0 else combos[::-1]):
                rows, cmds[order, mode] = search(a, idx[order], q, gt, Ls, mode)
                for r in rows:
                    per.setdefault((order, mode), {}).setdefault(r["L"], []).append(r)
        table = {}
        for (order, mode), byL in per.items():
            for L, rs in sorted(byL.items()):
                med = lambda f: statistics.median(r[f] for r in rs)  # noqa: E731
                su = rs[0].get("sector_use")
                row = emit({"bench": "layout_search", "dataset": name, "order": order,
                            "mode": mode, "L": L, "recall": rs[0]["recall"],
                            "mean_reads": rs[0]["mean_reads"],
                            "sector_use": None if su is None else round(100 * su, 1),
                            "qps": round(med("qps")),
                            "cpu_us_per_query": round(med("cpu_us_per_query"), 1),
                            "mean_ms": round(med("mean_latency_ms"), 3),
                            "rounds": len(rs), "command": cmds[order, mode]})
                table.setdefault((order, mode), []).append(row)
        for target in (0.95, 0.99):
            ref = first_at(table.get(ref_combo, []), target)
            for (order, mode), rows in table.items():
                hit = first_at(rows, target)
                if not hit:
                    emit({"bench": "layout_summary", "dataset": name, "recall>=": target,
                          "order": order, "mode": mode, "L": None})
                    continue
                emit({"bench": "layout_summary", "dataset": name, "recall>=": target,
                      "order": order, "mode": mode, "L": hit["L"], "recall": hit["recall"],
                      "mean_reads": hit["mean_reads"], "qps": hit["qps"],
                      "cpu_us_per_query": hit["cpu_us_per_query"],
                      "reads_ratio": round(hit["mean_reads"] / ref["mean_reads"], 2) if ref else None,
                      "qps_ratio": round(hit["qps"] / ref["qps"], 2) if ref else None})


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
