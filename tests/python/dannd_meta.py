"""dannd with its catalog in Raft (server/srv_meta.c), through Python grpcio
with stubs generated from dann's .proto at test time.

usage: dannd_meta.py STUBDIR MODE ADDR [ARGS]
  fill ADDR NAME N     create NAME (index, load), insert N rows in batches,
                       flush; prints the insert and flush times
  verify ADDR NAME N   NAME is listed and has N rows, every key is there,
                       a search finds row 0 first
  create ADDR NAME     CreateCollection only
  insert ADDR NAME FROM N  inserts rows FROM..FROM+N-1 (the vectors fill
                       gives them) and flushes: through a node that does
                       not own NAME, the calls are forwarded to its owner
  foreign ADDR NAME OWNER  a data request for NAME (owned by node OWNER)
                       marked as forwarded by another node is refused,
                       naming the owner and its address, which ADDR knows
                       from forwarding before (a node never forwards twice)
  unreachable ADDR NAME OWNER  NAME's owner is down: UNAVAILABLE naming
                       the owner and its address
  flushmix ADDR NAME NAME2  one Flush naming collections of two nodes is
                       refused, naming both
  cross ADDR NAME ADDR2 NAME2 THREADS CALLS  NAME lives on ADDR, NAME2 on
                       ADDR2: THREADS clients each make CALLS statistics
                       calls for NAME through ADDR2 and for NAME2 through
                       ADDR at once (every call forwarded, both ways); a
                       RESOURCE_EXHAUSTED answer is retried; every call
                       must finish
  listed ADDR NAME...  HasCollection and ShowCollections name each NAME
                       (retried for up to 15 s: a node's copy of the
                       catalog may lag the leader's by a heartbeat)
  serve ADDR NAME N    NAME (made without the server, e.g. by the dann CLI
                       from the rows `vectors` wrote) gets an index and is
                       loaded, then verify
  vectors PATH N       writes the N rows fill inserts as PATH (.fbin), for
                       the dann CLI
"""
import sys
import time

import grpc
import numpy as np

sys.path.insert(0, sys.argv[1])
import common_pb2  # noqa: E402
import milvus_pb2  # noqa: E402
import milvus_pb2_grpc  # noqa: E402
import schema_pb2  # noqa: E402

MODE, ADDR = sys.argv[2], sys.argv[3]
DIM = 16
TIMEOUT = 60
BATCH = 500
LIST_WAIT_S = 15


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def ok(resp, what):
    st = resp if isinstance(resp, common_pb2.Status) else resp.status
    check(st.code == 0 and st.error_code == common_pb2.Success, f"{what}: {st}")
    return resp


def schema_bytes(name):
    s = schema_pb2.CollectionSchema(name=name)
    s.fields.add(name="id", data_type=schema_pb2.Int64, is_primary_key=True)
    v = s.fields.add(name="vector", data_type=schema_pb2.FloatVector)
    v.type_params.add(key="dim", value=str(DIM))
    return s.SerializeToString()


def vectors(n):
    return np.random.default_rng(5).standard_normal((n, DIM)).astype("float32")


def create(stub, name):
    ok(stub.CreateCollection(milvus_pb2.CreateCollectionRequest(collection_name=name, schema=schema_bytes(name)),
                             timeout=TIMEOUT), f"create {name}")


def fill(stub, name, n):
    create(stub, name)
    ci = milvus_pb2.CreateIndexRequest(collection_name=name, field_name="vector", index_name="vidx")
    ci.extra_params.add(key="index_type", value="DISKANN")
    ci.extra_params.add(key="metric_type", value="L2")
    ci.extra_params.add(key="params", value='{"max_degree": 16, "search_list_size": 32}')
    ok(stub.CreateIndex(ci, timeout=TIMEOUT), "create index")
    ok(stub.LoadCollection(milvus_pb2.LoadCollectionRequest(collection_name=name), timeout=TIMEOUT), "load")
    t0 = time.monotonic()
    insert(stub, name, 0, n)
    t1 = time.monotonic()
    ok(stub.Flush(milvus_pb2.FlushRequest(collection_names=[name]), timeout=TIMEOUT), "flush")
    t2 = time.monotonic()
    print(f"inserted {n} rows in {t1 - t0:.2f} s ({n / max(t1 - t0, 1e-9):.0f} rows/s), "
          f"flush {t2 - t1:.2f} s", flush=True)
    rows(stub, name, n)


def insert(stub, name, first, n):
    vecs = vectors(first + n)
    for k0 in range(first, first + n, BATCH):
        k1 = min(first + n, k0 + BATCH)
        q = milvus_pb2.InsertRequest(collection_name=name, num_rows=k1 - k0)
        f = q.fields_data.add(type=schema_pb2.Int64, field_name="id")
        f.scalars.long_data.data.extend(range(k0, k1))
        v = q.fields_data.add(type=schema_pb2.FloatVector, field_name="vector")
        v.vectors.dim = DIM
        v.vectors.float_vector.data.extend(vecs[k0:k1].reshape(-1).tolist())
        r = ok(stub.Insert(q, timeout=TIMEOUT), "insert")
        check(r.insert_cnt == k1 - k0, f"insert_cnt {r.insert_cnt}, sent {k1 - k0}")


def rows(stub, name, n):
    st = ok(stub.GetCollectionStatistics(milvus_pb2.GetCollectionStatisticsRequest(collection_name=name),
                                         timeout=TIMEOUT), "stats")
    got = int(dict((kv.key, kv.value) for kv in st.stats)["row_count"])
    check(got == n, f"{name}: {got} rows, expected {n}")


def verify(stub, name, n):
    listed(stub, [name])
    rows(stub, name, n)
    for k0 in range(0, n, 1000):
        keys = list(range(k0, min(n, k0 + 1000)))
        qr = ok(stub.Query(milvus_pb2.QueryRequest(collection_name=name, expr=f"id in {keys}"), timeout=TIMEOUT),
                "query")
        got = list(qr.fields_data[0].scalars.long_data.data)
        check(got == keys, f"keys {k0}..: {len(got)} of {len(keys)} present")
    pg = common_pb2.PlaceholderGroup()
    pv = pg.placeholders.add(tag="$0", type=common_pb2.FloatVector)
    pv.values.append(np.asarray(vectors(n)[0], dtype="<f4").tobytes())
    q = milvus_pb2.SearchRequest(collection_name=name, placeholder_group=pg.SerializeToString(), nq=1)
    for key, val in (("topk", "5"), ("anns_field", "vector")):
        q.search_params.add(key=key, value=val)
    sr = ok(stub.Search(q, timeout=TIMEOUT), "search")
    ids = list(sr.results.ids.int_id.data)
    check(ids and ids[0] == 0, f"search for row 0 found {ids}")
    print(f"{name}: {n} rows, every key present, search finds row 0", flush=True)


def serve(stub, name, n):
    ci = milvus_pb2.CreateIndexRequest(collection_name=name, field_name="vector", index_name="vidx")
    ci.extra_params.add(key="index_type", value="DISKANN")
    ci.extra_params.add(key="metric_type", value="L2")
    ok(stub.CreateIndex(ci, timeout=TIMEOUT), f"create index on {name}")
    ok(stub.LoadCollection(milvus_pb2.LoadCollectionRequest(collection_name=name), timeout=TIMEOUT), f"load {name}")
    verify(stub, name, n)


def write_vectors(path, n):
    with open(path, "wb") as f:
        np.asarray([n, DIM], dtype="<i4").tofile(f)
        vectors(n).astype("<f4").tofile(f)


def listed(stub, names):
    t0 = time.monotonic()
    deadline = t0 + LIST_WAIT_S
    while True:
        shown = set(ok(stub.ShowCollections(milvus_pb2.ShowCollectionsRequest(), timeout=TIMEOUT),
                       "show").collection_names)
        has = [ok(stub.HasCollection(milvus_pb2.HasCollectionRequest(collection_name=x), timeout=TIMEOUT),
                  "has").value for x in names]
        if all(has) and set(names) <= shown:
            print(f"listed on {ADDR} after {time.monotonic() - t0:.2f} s: {sorted(shown)}", flush=True)
            return
        if time.monotonic() > deadline:
            fail(f"on {ADDR}: HasCollection {dict(zip(names, has))}, ShowCollections {sorted(shown)}")
        time.sleep(0.1)


def foreign(stub, name, owner):
    st = stub.GetCollectionStatistics(milvus_pb2.GetCollectionStatisticsRequest(collection_name=name),
                                      timeout=TIMEOUT, metadata=(("dann-forwarded-by", "9"),)).status
    check(st.code != 0 and f"served by node {owner} at 127.0.0.1:" in st.reason, f"{name} on {ADDR}: {st}")
    print(f"{name} on {ADDR}: {st.reason}", flush=True)


def unreachable(stub, name, owner):
    try:
        r = stub.GetCollectionStatistics(milvus_pb2.GetCollectionStatisticsRequest(collection_name=name),
                                         timeout=TIMEOUT)
        fail(f"{name} on {ADDR} answered while its owner is down: {r}")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNAVAILABLE and f"served by node {owner} of the cluster at 127.0.0.1:"
              in e.details(), f"{name} on {ADDR}: {e.code()} {e.details()}")
        print(f"{name} on {ADDR}: {e.code()} {e.details()}", flush=True)


def flushmix(stub, names):
    st = stub.Flush(milvus_pb2.FlushRequest(collection_names=names), timeout=TIMEOUT).status
    check(st.code != 0 and "served by different nodes" in st.reason and all(n in st.reason for n in names),
          f"Flush {names} on {ADDR}: {st}")
    print(f"Flush {names} on {ADDR}: {st.reason}", flush=True)


def cross(name_a, addr_b, name_b, threads, calls):
    import threading
    stubs = {ADDR: milvus_pb2_grpc.MilvusServiceStub(grpc.insecure_channel(ADDR)),
             addr_b: milvus_pb2_grpc.MilvusServiceStub(grpc.insecure_channel(addr_b))}
    counts = {"ok": 0, "busy": 0}
    errors = []
    lock = threading.Lock()

    def run(i):
        for k in range(calls):
            via, name = (addr_b, name_a) if (i + k) % 2 == 0 else (ADDR, name_b)
            for _ in range(1000):
                try:
                    ok(stubs[via].GetCollectionStatistics(
                        milvus_pb2.GetCollectionStatisticsRequest(collection_name=name), timeout=20), "stats")
                    with lock:
                        counts["ok"] += 1
                    break
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                        with lock:
                            errors.append(f"{name} via {via}: {e.code()} {e.details()}")
                        return
                    with lock:
                        counts["busy"] += 1
                    time.sleep(0.01)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, f"{len(errors)} calls failed, first: {errors[:1]}")
    check(counts["ok"] == threads * calls, f"{counts['ok']} of {threads * calls} calls answered")
    print(f"{counts['ok']} forwarded calls both ways, {counts['busy']} retried after RESOURCE_EXHAUSTED", flush=True)


def main():
    if MODE == "vectors":
        write_vectors(ADDR, int(sys.argv[4]))
        print("vectors: ok", flush=True)
        return
    stub = milvus_pb2_grpc.MilvusServiceStub(grpc.insecure_channel(ADDR))
    if MODE == "fill":
        fill(stub, sys.argv[4], int(sys.argv[5]))
    elif MODE == "verify":
        verify(stub, sys.argv[4], int(sys.argv[5]))
    elif MODE == "create":
        create(stub, sys.argv[4])
    elif MODE == "insert":
        insert(stub, sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
        ok(stub.Flush(milvus_pb2.FlushRequest(collection_names=[sys.argv[4]]), timeout=TIMEOUT), "flush")
    elif MODE == "foreign":
        foreign(stub, sys.argv[4], sys.argv[5])
    elif MODE == "flushmix":
        flushmix(stub, sys.argv[4:])
    elif MODE == "cross":
        cross(sys.argv[4], sys.argv[5], sys.argv[6], int(sys.argv[7]), int(sys.argv[8]))
    elif MODE == "unreachable":
        unreachable(stub, sys.argv[4], sys.argv[5])
    elif MODE == "listed":
        listed(stub, sys.argv[4:])
    elif MODE == "serve":
        serve(stub, sys.argv[4], int(sys.argv[5]))
    else:
        fail(f"unknown mode {MODE}")
    print(f"{MODE}: ok", flush=True)


main()
