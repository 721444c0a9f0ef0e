#!/usr/bin/python3
"""bench/ab.py — one index searched by two builds of dann side by side,
with the disk's limit measured by fio in the same run.

The comparison a change to the search is judged by: the previous commit's
`dann` (--base-dann) and this one (--dann), plus any variants of this one
(--variant NAME=ARGS, extra `dann search` arguments such as
"--entry-seeds 0"), run in alternating rounds over the same index, queries
and L values, so that a machine shared with other work loads them alike.
A configuration whose arguments hold `--index PATH` searches that index
instead of --index (same base vectors, so the same queries and ground
truth): a change that needs its own index, such as OPQ, runs as
  --variant 'opq=--index gen.opq.index'
next to the previous build on the plain-PQ index (--new-args and
--base-args take --index the same way). Each build runs with its own
`dann search` defaults (a build with a default node cache uses it): give
"--cache-nodes 0" to a configuration to compare without one.
Per configuration and L: medians over rounds of QPS and CPU time per
query (user + system of the `dann search` process, one per L, over its
queries); recall and reads/query do not vary between rounds. Then, per recall target (0.95,
0.99), the first L of each configuration reaching it, its reads/query, QPS
and CPU per query, and their ratios to the base. fio's 4 KiB O_DIRECT
random reads of the index's node file run before and after the rounds:
one job at QD 128 and T jobs at QD 128/T (T = search threads); the
"fraction of the disk" is reads/s over the T-job figure.

Every figure is a JSON object per line on stdout; a summary on stderr.
Nothing passes or fails on a timing.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys

ENV = dict(os.environ, OMP_WAIT_POLICY="passive")


def run(argv):
    p = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("bench/ab.py: %s failed (%d):\n%s%s" % (" ".join(argv), p.returncode, p.stdout, p.stderr))
    return p.stdout


def fio(index, qd, jobs, secs):
    out = run(["fio", "--name=ab", "--filename=" + os.path.join(index, "disk.index"), "--readonly",
               "--direct=1", "--rw=randread", "--bs=4k", "--ioengine=io_uring",
               "--iodepth=%d" % qd, "--numjobs=%d" % jobs, "--group_reporting", "--time_based",
               "--runtime=%g" % secs, "--output-format=json"])
    return json.loads(out[out.index("{"):])["jobs"][0]["read"]["iops"]


def split_index(args, default):
    """(index, the other arguments): a configuration's own `--index PATH`
    (or --index=PATH) taken out of its extra arguments, else default."""
    index, rest, i = default, [], 0
    while i < len(args):
        if args[i] == "--index":
            if i + 1 >= len(args):
                sys.exit("bench/ab.py: --index without a path in %r" % " ".join(args))
            index, i = args[i + 1], i + 2
            continue
        if args[i].startswith("--index="):
            index = args[i][len("--index="):]
        else:
            rest.append(args[i])
        i += 1
    if not os.path.exists(os.path.join(index, "MANIFEST")):
        sys.exit("bench/ab.py: no index at %s (no MANIFEST)" % index)
    return index, rest


def search(dann, a, index, extra, L, nq):
    """One `dann search` process for one L. Its CPU time (user + system,
    the kernel's account of the child) over the queries is the CPU figure
    every configuration gets alike, a previous build that does not print
    one included; it counts the index's open too, a small share of
    thousands of queries."""
    argv = [dann, "search", "--index", index, "--queries", a.queries, "--gt", a.gt, "-k", "10",
            "-L", str(L), "-W", str(a.W), "-T", str(a.threads), "--inflight", str(a.inflight),
            "--json"] + extra
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = json.loads(run(argv))[0]
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    row["search_cpu_us_per_query"] = row.get("cpu_us_per_query")
    row["cpu_us_per_query"] = cpu * 1e6 / nq
    return row


def vf_count(path):
    with open(path, "rb") as f:
        return int.from_bytes(f.read(4), "little")


def at_recall(rows, target):
    for r in sorted(rows, key=lambda r: r["L"]):
        if r["recall"] is not None and r["recall"] >= target:
            return r
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base-dann", required=True, help="the previous commit's dann CLI")
    ap.add_argument("--dann", required=True, help="this commit's dann CLI")
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME=ARGS: this build with extra search arguments (repeatable); "
                         "'--index PATH' among them searches that index instead")
    ap.add_argument("--base-args", default="", help="extra search arguments for the base")
    ap.add_argument("--new-args", default="", help="extra search arguments for this build")
    ap.add_argument("--name", default="", help="dataset name for the rows")
    ap.add_argument("--index", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--Ls", default="10,15,20,25,30,40,50,60,80,100,120,160")
    ap.add_argument("-W", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--inflight", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--fio-secs", type=float, default=4)
    a = ap.parse_args()

    configs = [("base", a.base_dann) + split_index(a.base_args.split(), a.index),
               ("new", a.dann) + split_index(a.new_args.split(), a.index)]
    for v in a.variant:
        name, _, args = v.partition("=")
        if not name or name in [c[0] for c in configs]:
            sys.exit("bench/ab.py: --variant %r: expected a new NAME=ARGS" % v)
        configs.append((name, a.dann) + split_index(args.split(), a.index))
    fio1, fioN = [], []

    def measure_fio():
        fio1.append(fio(a.index, 128, 1, a.fio_secs))
        fioN.append(fio(a.index, 128 // a.threads, a.threads, a.fio_secs))

    measure_fio()
    runs = {name: {} for name, _, _, _ in configs}
    nq = vf_count(a.queries)
    for rep in range(a.reps):
        for L in map(int, a.Ls.split(",")):
            for name, dann, index, extra in configs:
                runs[name].setdefault(L, []).append(search(dann, a, index, extra, L, nq))
    measure_fio()
    f1, fN = statistics.median(fio1), statistics.median(fioN)
    print(json.dumps({"bench": "ab-fio", "dataset": a.name, "fio_1job_qd128_iops": round(f1),
                      "fio_jobs": a.threads, "fio_njobs_iops": round(fN),
                      "fio_1job_all": [round(x) for x in fio1],
                      "fio_njobs_all": [round(x) for x in fioN]}))
    med = {}
    for name, _, index, _ in configs:
        rows = []
        for L, rs in sorted(runs[name].items()):
            row = dict(rs[0])
            for k in ("qps", "cpu_us_per_query", "search_cpu_us_per_query", "mean_latency_ms",
                      "p99_ms"):
                vals = [r[k] for r in rs if r.get(k) is not None]
                row[k] = statistics.median(vals) if vals else None
            row["disk_frac"] = row["qps"] * row["mean_reads"] / fN
            row["runs"] = len(rs)
            rows.append(row)
            print(json.dumps(dict(bench="ab-sweep", dataset=a.name, config=name, index=index, **row)))
        med[name] = rows
    say = lambda *x: print(*x, file=sys.stderr)
    say("\n== %s: %s, T %d, W %d, inflight %d, %d rounds" % (a.name, a.index, a.threads, a.W,
                                                           a.inflight, a.reps))
    say("fio 4 KiB randread O_DIRECT io_uring: 1 job QD128 %.0f IOPS; %d jobs QD%d %.0f IOPS "
        "(medians of before/after)" % (f1, a.threads, 128 // a.threads, fN))
    for name, dann, index, extra in configs:
        say("  %-10s %s --index %s %s" % (name, dann, index, " ".join(extra)))
    say("%-6s %-10s %4s %7s %8s %9s %9s %9s %9s %9s %9s" % ("target", "config", "L", "recall",
                                                          "reads/q", "x base", "QPS", "x base",
                                                          "cpu_us/q", "x base", "disk_frac"))
    for t in (0.95, 0.99):
        b = at_recall(med["base"], t)
        for name, _, index, _ in configs:
            r = at_recall(med[name], t)
            if r is None:
                say("%-6.2f %-10s  (not reached)" % (t, name))
                continue
            ratio = lambda k: r[k] / b[k] if b and b.get(k) else float("nan")
            row = {"bench": "ab-target", "dataset": a.name, "target": t, "config": name, "index": index,
                   "L": r["L"], "recall": r["recall"], "mean_reads": r["mean_reads"],
                   "qps": r["qps"], "cpu_us_per_query": r["cpu_us_per_query"],
                   "reads_vs_base": ratio("mean_reads"), "qps_vs_base": ratio("qps"),
                   "cpu_vs_base": ratio("cpu_us_per_query"), "disk_frac": r["disk_frac"]}
            print(json.dumps(row))
            say("%-6.2f %-10s %4d %7.4f %8.2f %9.3f %9.0f %9.3f %9.1f %9.3f %9.3f" %
                (t, name, r["L"], r["recall"], r["mean_reads"], row["reads_vs_base"], r["qps"],
                 row["qps_vs_base"], r["cpu_us_per_query"], row["cpu_vs_base"], r["disk_frac"]))


if __name__ == "__main__":
    main()
