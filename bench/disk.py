#!/usr/bin/python3
"""bench/disk.py — the disk index measured from SSD, next to fio.

A stage of bench/run (`bench/run --only sweep` runs it alone), given a
dataset's base, a query subset with its ground truth and the locality-
ordered index bench/run's disk stage built. With --plain-index it also
builds (once) the same index in plain node order. Then:
  fio     4 KiB O_DIRECT random reads of the index's node file (io_uring):
          one job at QD 128 (one core is its limit here), as many jobs as
          search threads at QD 128 / jobs each (the disk's limit from that
          many cores: the ceiling the search is held to, and the figure
          every "fraction of the disk" uses), and one job at QD 4;
  sweep   T = 1, 2 x inflight = 1, 4, 16, 64, W = 4, cache 0 (every read
          goes to the SSD): recall@10, QPS, latency, reads/query per L;
  reads   reads/query at recall 0.95 and 0.99 for locality vs plain order
          and cache 0 vs 1% of the nodes (T 2, inflight 16);
  memory  the search process's peak RSS vs PQ codes + cache + 64 MiB;
and checks the disk search goals:
  SSD-bound  at recall >= 0.95 with T = 2: QPS x reads/query >= 0.8 x fio
             IOPS with 2 jobs (QD 64 each);
  latency    T = 1, inflight = 1, W = 4: mean latency <= 1.3 x mean hops x
             fio mean latency at QD 4.
Reads go through O_DIRECT (the search never uses the page cache), so the
node file's residency in the page cache does not matter.

Every figure is one JSON object per line on stdout (key "bench": fio,
sweep, reads, build, goals); a readable summary goes to stderr.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

DANN = None
ENV = dict(os.environ, OMP_WAIT_POLICY="passive")  # spinning OpenMP threads starve a shared box
ORDERS = ("locality",)


def emit(row):
    row = dict(row)
    print(json.dumps(row), flush=True)
    return row


def say(*a):
    print(*a, file=sys.stderr)


def run(args, **kw):
    t0 = time.time()
    p = subprocess.run(args, env=ENV, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit("bench/disk.py: %s failed (%d):\n%s%s" % (" ".join(args), p.returncode,
                                                            p.stdout, p.stderr))
    return p.stdout, p.stderr, time.time() - t0


def build_plain(a):
    """The plain-order twin of the locality index, built once."""
    if os.path.exists(os.path.join(a.plain_index, "MANIFEST")):
        return
    inf = info(a.index)
    _, err, secs = run(["/usr/bin/time", "-f", "maxrss_kb %M", DANN, "build", "--data", a.base,
                        "--out", a.plain_index, "--metric", a.metric,
                        "--pq-bytes", str(inf["pq_bytes"]), "--order", "plain"])
    kb = int(re.search(r"maxrss_kb (\d+)", err).group(1))
    emit({"bench": "build", "dataset": a.name, "order": "plain", "seconds": round(secs, 1),
          "maxrss_mib": round(kb / 1024, 1)})


def info(path):
    out, _, _ = run([DANN, "info", path])
    m = re.search(r"points\s+(\d+) x (\d+)", out)
    nb = re.search(r"nodes\s+(\d+) bytes", out)
    pq = re.search(r"pq\s+(\d+) bytes", out)
    return {"n": int(m.group(1)), "dim": int(m.group(2)), "node_bytes": int(nb.group(1)),
            "pq_bytes": int(pq.group(1)),
            "disk_bytes": os.path.getsize(os.path.join(path, "disk.index"))}


def fio(path, qd, secs, jobs=1):
    """fio's random 4 KiB O_DIRECT reads: jobs processes of queue depth qd
    each, their IOPS summed (group reporting)."""
    out, _, _ = run(["fio", "--name=disk", "--filename=" + os.path.join(path, "disk.index"),
                     "--readonly", "--direct=1", "--rw=randread", "--bs=4k",
                     "--ioengine=io_uring", "--iodepth=%d" % qd, "--numjobs=%d" % jobs,
                     "--group_reporting", "--time_based",
                     "--runtime=%g" % secs, "--output-format=json"])
    j = json.loads(out[out.index("{"):])["jobs"][0]
    r = j["read"]
    cpu_s = (j["usr_cpu"] + j["sys_cpu"]) / 100 * secs * jobs
    return {"jobs": jobs, "iops": round(r["iops"]), "mean_lat_us": round(r["lat_ns"]["mean"] / 1000, 1),
            "cpu_us_per_read": round(cpu_s * 1e6 / max(1, r["total_ios"]), 2)}


def search(idx, q, gt, Ls, T=2, inflight=16, W=4, cache=0, extra=(), rss=False):
    args = [DANN, "search", "--index", idx, "--queries", q, "--gt", gt, "-k", "10",
            "-L", ",".join(map(str, Ls)), "-W", str(W), "-T", str(T),
            "--inflight", str(inflight), "--cache-nodes", str(cache), "--json"] + list(extra)
    if rss:
        args = ["/usr/bin/time", "-f", "maxrss_kb %M"] + args
    out, err, _ = run(args)
    rows = json.loads(out)
    if rss:
        kb = int(re.search(r"maxrss_kb (\d+)", err).group(1))
        for r in rows:
            r["maxrss_mib"] = round(kb / 1024, 1)
    return rows


def at_recall(rows, target):
    """The first L reaching target recall (rows ascending in L), or None."""
    for r in rows:
        if r["recall"] is not None and r["recall"] >= target:
            return r
    return None


def bench_dataset(a):
    name, q, gt, quick = a.name, a.queries, a.gt, a.quick
    idx = {"locality": a.index}
    if a.plain_index:
        build_plain(a)
        idx["plain"] = a.plain_index
    inf = info(idx["locality"])
    fio_secs = 1 if quick else 4
    f128 = emit(dict(bench="fio", dataset=name, qd=128, **fio(idx["locality"], 128, fio_secs)))
    # The disk's limit from as many cores as the search has threads: the
    # same total queue depth, spread over T jobs.
    fN = emit(dict(bench="fio", dataset=name, qd=128 // a.threads,
                   **fio(idx["locality"], 128 // a.threads, fio_secs, jobs=a.threads)))
    f4 = emit(dict(bench="fio", dataset=name, qd=4, **fio(idx["locality"], 4, fio_secs)))
    Ls = [20, 40, 80] if quick else [10, 20, 30, 40, 60, 80, 120]
    sweep = {}
    for T in sorted({1, a.threads}):
        for infl in (1, 4, 16, 64):
            rows = search(idx["locality"], q, gt, Ls, T=T, inflight=infl)
            for r in rows:
                emit(dict(bench="sweep", dataset=name, order="locality", T=T, inflight=infl,
                          W=4, cache_nodes=0, **r))
            sweep[(T, infl)] = rows
    reads = {}
    RL = [10, 15, 20, 30, 40, 60, 80, 120, 160, 240] if not quick else [10, 20, 40, 80, 160]
    one_pct = max(1, inf["n"] // 100)
    for order in ORDERS:
        for cache in (0, one_pct):
            rows = search(idx[order], q, gt, RL, cache=cache, rss=(cache == one_pct and
                                                                   order == "locality"))
            for r in rows:
                emit(dict(bench="reads", dataset=name, order=order, T=2, inflight=16, W=4,
                          cache_nodes=cache, **r))
            reads[(order, cache)] = rows
    # Goals.
    best = None
    for infl in (1, 4, 16, 64):
        r = at_recall(sweep[(a.threads, infl)], 0.95)
        if r and (best is None or r["qps"] * r["mean_reads"] > best[1]["qps"] * best[1]["mean_reads"]):
            best = (infl, r)
    lat = at_recall(sweep[(1, 1)], 0.95) or sweep[(1, 1)][-1]
    goals = {"bench": "goals", "dataset": name, "fio_1job_qd128_iops": f128["iops"],
             "fio_jobs": fN["jobs"], "fio_njobs_iops": fN["iops"],
             "fio_qd4_mean_lat_us": f4["mean_lat_us"]}
    if best:
        iops = best[1]["qps"] * best[1]["mean_reads"]
        goals.update(ssd_inflight=best[0], ssd_L=best[1]["L"], ssd_recall=best[1]["recall"],
                     ssd_read_iops=round(iops), ssd_ratio=round(iops / fN["iops"], 3),
                     ssd_goal_met=iops >= 0.8 * fN["iops"],
                     ssd_cpu_us_per_query=best[1].get("cpu_us_per_query"))
    bound_ms = 1.3 * lat["mean_hops"] * f4["mean_lat_us"] / 1000
    goals.update(lat_L=lat["L"], lat_recall=lat["recall"], lat_mean_ms=lat["mean_latency_ms"],
                 lat_hops=lat["mean_hops"], lat_bound_ms=round(bound_ms, 3),
                 lat_goal_met=lat["mean_latency_ms"] <= bound_ms)
    rl = reads[("locality", one_pct)][0]
    pq_codes = inf["n"] * inf["pq_bytes"]
    cache_bytes = one_pct * (inf["node_bytes"] + 32)
    goals.update(rss_mib=rl["maxrss_mib"],
                 rss_bound_mib=round((pq_codes + cache_bytes) / 2**20 + 64, 1),
                 rss_goal_met=rl["maxrss_mib"] <= (pq_codes + cache_bytes) / 2**20 + 64)
    for order in ORDERS:
        for cache in (0, one_pct):
            for t in (0.95, 0.99):
                r = at_recall(reads[(order, cache)], t)
                goals["reads_%s_cache%s_at%d" % (order, "1pct" if cache else "0", t * 100)] = \
                    r["mean_reads"] if r else None
    emit(goals)
    report(name, inf, f128, fN, f4, sweep, reads, one_pct, goals, a.threads)


def report(name, inf, f128, fN, f4, sweep, reads, one_pct, g, T):
    say("\n== %s: %d x %d, node file %.1f MiB (O_DIRECT reads)" %
          (name, inf["n"], inf["dim"], inf["disk_bytes"] / 2**20))
    say("fio 4 KiB randread io_uring: 1 job QD128 %d IOPS (%.2f us CPU/read); %d jobs QD%d "
        "%d IOPS (%.2f us CPU/read); QD4 mean latency %.1f us" %
        (f128["iops"], f128["cpu_us_per_read"], fN["jobs"], 128 // fN["jobs"], fN["iops"],
         fN["cpu_us_per_read"], f4["mean_lat_us"]))
    say("%2s %8s %5s %7s %9s %9s %9s %9s %8s %9s" % ("T", "inflight", "L", "recall", "QPS", "cpu_us/q",
                                                    "mean_ms", "p99_ms", "reads/q", "disk_frac"))
    for (t, infl), rows in sorted(sweep.items()):
        for r in rows:
            say("%2d %8d %5d %7.4f %9.1f %9.1f %9.3f %9.3f %8.2f %9.3f" %
                  (t, infl, r["L"], r["recall"], r["qps"], r.get("cpu_us_per_query") or 0,
                   r["mean_latency_ms"], r["p99_ms"], r["mean_reads"],
                   r["qps"] * r["mean_reads"] / fN["iops"]))
    say("reads/query at recall (T %d, inflight 16):" % T)
    say("%-9s %-12s %8s %8s" % ("order", "cache", "@0.95", "@0.99"))
    for order in ORDERS:
        for cache in (0, one_pct):
            k = "reads_%s_cache%s_at" % (order, "1pct" if cache else "0")
            f = lambda v: "%8.2f" % v if v is not None else "%8s" % "-"
            say("%-9s %-12s %s %s" % (order, "%d nodes" % cache, f(g[k + "95"]), f(g[k + "99"])))
    if "ssd_ratio" in g:
        say("SSD-bound: T %d inflight %d L %d recall %.4f: %d reads/s = %.2f x fio %d jobs (goal 0.8): %s" %
              (T, g["ssd_inflight"], g["ssd_L"], g["ssd_recall"], g["ssd_read_iops"], g["ssd_ratio"],
               g["fio_jobs"], "met" if g["ssd_goal_met"] else "NOT met"))
    say("latency: T 1 inflight 1 W 4 L %d recall %.4f: %.3f ms vs 1.3 x %.1f hops x %.1f us = %.3f ms: %s" %
          (g["lat_L"], g["lat_recall"], g["lat_mean_ms"], g["lat_hops"], g["fio_qd4_mean_lat_us"],
           g["lat_bound_ms"], "met" if g["lat_goal_met"] else "NOT met"))
    say("memory: search peak RSS %.1f MiB vs PQ codes + cache + 64 MiB = %.1f MiB: %s" %
          (g["rss_mib"], g["rss_bound_mib"], "met" if g["rss_goal_met"] else "NOT met"))


def main():
    global DANN, ORDERS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dann", required=True, help="the dann CLI")
    ap.add_argument("--name", required=True, help="dataset name for the rows")
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True, help="a subset: every point runs it many times")
    ap.add_argument("--gt", required=True)
    ap.add_argument("--metric", default="l2")
    ap.add_argument("--index", required=True, help="the locality-ordered index")
    ap.add_argument("--plain-index", help="where the plain-order twin is (built if missing)")
    ap.add_argument("--quick", action="store_true", help="fewer L values, 1 s of fio")
    ap.add_argument("--threads", type=int, default=2,
                    help="search threads, and fio's jobs for the disk's limit")
    a = ap.parse_args()
    DANN = a.dann
    ORDERS = ("locality", "plain") if a.plain_index else ("locality",)
    bench_dataset(a)


if __name__ == "__main__":
    main()
