"""dannd through Python grpcio, with stubs generated from dann's own .proto
files at test time (grpc_tools.protoc): the wire protocol checked without
any Milvus SDK in between.

usage: dannd_flow.py STUBDIR MODE ADDR [ARGS]
  basic ADDR        version, health, UNIMPLEMENTED, create/index/load,
                    insert (NaN refused), search (IP scores checked against
                    numpy), query, delete
  limits ADDR       a request over max_recv_bytes is RESOURCE_EXHAUSTED; a
                    burst past queue_max gets RESOURCE_EXHAUSTED, the rest
                    answers; a passed deadline is DEADLINE_EXCEEDED
  auth ADDR USER PW calls without or with wrong credentials are
                    UNAUTHENTICATED, with the right ones they work
  tls ADDR CERT     TLS with the server's certificate works
  kill_load ADDR F  inserts batches until killed, appending each
                    acknowledged batch's last key to F
  kill_verify ADDR F every key acknowledged before the kill is there
"""
import base64
import concurrent.futures
import os
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
TIMEOUT = 120


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


def schema_bytes(name, dim=DIM):
    s = schema_pb2.CollectionSchema(name=name)
    s.fields.add(name="id", data_type=schema_pb2.Int64, is_primary_key=True)
    v = s.fields.add(name="vector", data_type=schema_pb2.FloatVector)
    v.type_params.add(key="dim", value=str(dim))
    return s.SerializeToString()


def insert_req(name, keys, vecs):
    q = milvus_pb2.InsertRequest(collection_name=name, num_rows=len(keys))
    k = q.fields_data.add(type=schema_pb2.Int64, field_name="id")
    k.scalars.long_data.data.extend(int(x) for x in keys)
    v = q.fields_data.add(type=schema_pb2.FloatVector, field_name="vector")
    v.vectors.dim = vecs.shape[1]
    v.vectors.float_vector.data.extend(vecs.reshape(-1).tolist())
    return q


def search_req(name, queries, k, extra=None):
    pg = common_pb2.PlaceholderGroup()
    pv = pg.placeholders.add(tag="$0", type=common_pb2.FloatVector)
    for qv in queries:
        pv.values.append(np.asarray(qv, dtype="<f4").tobytes())
    q = milvus_pb2.SearchRequest(collection_name=name, placeholder_group=pg.SerializeToString(), nq=len(queries))
    q.search_params.add(key="topk", value=str(k))
    q.search_params.add(key="anns_field", value="vector")
    for key, val in (extra or {}).items():
        q.search_params.add(key=key, value=val)
    return q


def setup(stub, name, metric, n, seed=1, md=None):
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, DIM)).astype("float32")
    ok(stub.CreateCollection(milvus_pb2.CreateCollectionRequest(collection_name=name, schema=schema_bytes(name)),
                             timeout=TIMEOUT, metadata=md), "create")
    ci = milvus_pb2.CreateIndexRequest(collection_name=name, field_name="vector", index_name="vidx")
    ci.extra_params.add(key="index_type", value="DISKANN")
    ci.extra_params.add(key="metric_type", value=metric)
    ci.extra_params.add(key="params", value='{"max_degree": 16, "search_list_size": 32}')
    ok(stub.CreateIndex(ci, timeout=TIMEOUT, metadata=md), "create index")
    ok(stub.LoadCollection(milvus_pb2.LoadCollectionRequest(collection_name=name), timeout=TIMEOUT, metadata=md),
       "load")
    return vecs


def basic(stub, channel):
    v = ok(stub.GetVersion(milvus_pb2.GetVersionRequest(), timeout=TIMEOUT), "version")
    check(v.version.startswith("v2."), f"version {v.version}")
    check(ok(stub.CheckHealth(milvus_pb2.CheckHealthRequest(), timeout=TIMEOUT), "health").isHealthy, "healthy")
    unserved = channel.unary_unary("/milvus.proto.milvus.MilvusService/CreatePartition",
                                   request_serializer=lambda x: x, response_deserializer=lambda x: x)
    try:
        unserved(b"", timeout=TIMEOUT)
        fail("CreatePartition answered")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNIMPLEMENTED and "CreatePartition" in e.details(),
              f"unserved: {e.code()} {e.details()}")

    n, k = 500, 10
    vecs = setup(stub, "py", "IP", n)
    bad = vecs[:3].copy()
    bad[2, 5] = np.nan
    r = stub.Insert(insert_req("py", [1, 2, 3], bad), timeout=TIMEOUT)
    check(r.status.code == 1100 and "row 2" in r.status.reason and "NaN" in r.status.reason,
          f"NaN insert: {r.status}")
    r = ok(stub.Insert(insert_req("py", range(n), vecs), timeout=TIMEOUT), "insert")
    check(r.insert_cnt == n and list(r.IDs.int_id.data) == list(range(n)), "insert ids")

    queries = vecs[:20] + 0.01
    res = ok(stub.Search(search_req("py", queries, k), timeout=TIMEOUT), "search").results
    check(res.num_queries == 20 and list(res.topks) == [k] * 20, f"topks {list(res.topks)}")
    ids = np.array(res.ids.int_id.data).reshape(20, k)
    scores = np.array(res.scores).reshape(20, k)
    exact = queries @ vecs.T
    for i in range(20):
        check(set(ids[i]) == set(np.argsort(-exact[i])[:k]), f"query {i}: top-{k} by inner product")
        check(np.allclose(scores[i], exact[i][ids[i]], rtol=1e-4, atol=1e-4), f"query {i}: IP scores")
        check(all(scores[i][j] >= scores[i][j + 1] for j in range(k - 1)), "scores descend")

    qr = ok(stub.Query(milvus_pb2.QueryRequest(collection_name="py", expr="id in [4, 9]",
                                               output_fields=["vector"]), timeout=TIMEOUT), "query")
    cols = {f.field_name: f for f in qr.fields_data}
    check(list(cols["id"].scalars.long_data.data) == [4, 9], "query keys")
    got = np.array(cols["vector"].vectors.float_vector.data, dtype="float32").reshape(2, DIM)
    check(np.array_equal(got, vecs[[4, 9]]), "query returns the stored vectors")
    d = ok(stub.Delete(milvus_pb2.DeleteRequest(collection_name="py", expr="id in [4, 9]"), timeout=TIMEOUT), "delete")
    check(d.delete_cnt == 2, f"delete_cnt {d.delete_cnt}")
    res = ok(stub.Search(search_req("py", vecs[[4, 9]], k), timeout=TIMEOUT), "search deleted").results
    check(not {4, 9} & set(res.ids.int_id.data), "deleted keys never return")
    nf = stub.DescribeCollection(milvus_pb2.DescribeCollectionRequest(collection_name="none"), timeout=TIMEOUT)
    check(nf.status.code == 100 and nf.status.error_code == common_pb2.CollectionNotExists, f"{nf.status}")


def limits(stub, channel):
    vecs = setup(stub, "lim", "L2", 2000)
    big = np.zeros((20000, DIM), dtype="float32")  # ~1.3 MB on the wire, over the 1 MiB limit
    try:
        stub.Insert(insert_req("lim", range(20000), big), timeout=TIMEOUT)
        fail("an oversized request was accepted")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, f"oversized: {e.code()} {e.details()}")
    ok(stub.Insert(insert_req("lim", range(2000), vecs), timeout=TIMEOUT), "insert")

    req = search_req("lim", vecs[:4000 // 4 * 4][:1000], 10)
    codes = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as ex:
        futs = [ex.submit(stub.Search.future(req, timeout=TIMEOUT).exception) for _ in range(64)]
        for f in futs:
            e = f.result()
            codes.append(grpc.StatusCode.OK if e is None else e.code())
    over = codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED)
    check(over > 0 and codes.count(grpc.StatusCode.OK) > 0 and over + codes.count(grpc.StatusCode.OK) == 64,
          f"burst: {over} RESOURCE_EXHAUSTED, codes {set(codes)}")
    try:
        stub.Search(search_req("lim", vecs[:1000], 10), timeout=0.0005)
        fail("a search past its deadline answered")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline: {e.code()}")
    # The server recovers: once the abandoned search has let go of the one
    # worker, calls are served again (RESOURCE_EXHAUSTED means retry later).
    for attempt in range(100):
        try:
            ok(stub.CheckHealth(milvus_pb2.CheckHealthRequest(), timeout=TIMEOUT), "health after the burst")
            break
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and attempt < 99, f"health: {e.code()}")
            time.sleep(0.1)
    print(f"burst: {over} of 64 refused with RESOURCE_EXHAUSTED")


def auth(stub, user, pw):
    good = [("authorization", base64.b64encode(f"{user}:{pw}".encode()).decode())]
    wrong = [("authorization", base64.b64encode(f"{user}:not-{pw}".encode()).decode())]
    for md, what in ((None, "no credentials"), (wrong, "wrong password")):
        try:
            stub.ShowCollections(milvus_pb2.ShowCollectionsRequest(), timeout=TIMEOUT, metadata=md)
            fail(f"{what}: answered")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.UNAUTHENTICATED, f"{what}: {e.code()} {e.details()}")
    ok(stub.ShowCollections(milvus_pb2.ShowCollectionsRequest(), timeout=TIMEOUT, metadata=good), "with credentials")


def kill_load(stub, path):
    setup(stub, "durable", "L2", 0)
    rng = np.random.default_rng(7)
    key = 0
    with open(path, "a") as out:
        while True:
            n = 200
            ok(stub.Insert(insert_req("durable", range(key, key + n), rng.standard_normal((n, DIM)).astype("float32")),
                           timeout=TIMEOUT), "insert")
            key += n
            out.write(f"{key}\n")
            out.flush()
            os.fsync(out.fileno())


def kill_verify(stub, path):
    with open(path) as f:
        acked = max([int(x) for x in f.read().split()] or [0])
    check(acked > 0, "no insert was acknowledged before the kill")
    st = ok(stub.GetCollectionStatistics(milvus_pb2.GetCollectionStatisticsRequest(collection_name="durable"),
                                         timeout=TIMEOUT), "stats")
    rows = int(dict((kv.key, kv.value) for kv in st.stats)["row_count"])
    check(rows >= acked, f"{rows} rows after restart, {acked} acknowledged")
    for k0 in range(0, acked, 1000):
        keys = list(range(k0, min(acked, k0 + 1000)))
        qr = ok(stub.Query(milvus_pb2.QueryRequest(collection_name="durable", expr=f"id in {keys}"),
                           timeout=TIMEOUT), "query")
        got = list(qr.fields_data[0].scalars.long_data.data)
        check(got == keys, f"acknowledged keys {k0}..: {len(got)} of {len(keys)} present")
    print(f"all {acked} acknowledged rows present ({rows} rows)")


def main():
    if MODE == "tls":
        with open(sys.argv[4], "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        channel = grpc.secure_channel(ADDR, creds)
    else:
        channel = grpc.insecure_channel(ADDR)
    stub = milvus_pb2_grpc.MilvusServiceStub(channel)
    if MODE == "basic":
        basic(stub, channel)
    elif MODE == "limits":
        limits(stub, channel)
    elif MODE == "auth":
        auth(stub, sys.argv[4], sys.argv[5])
    elif MODE == "tls":
        check(ok(stub.GetVersion(milvus_pb2.GetVersionRequest(), timeout=TIMEOUT), "version over TLS").version,
              "version")
    elif MODE == "kill_load":
        kill_load(stub, sys.argv[4])
    elif MODE == "kill_verify":
        kill_verify(stub, sys.argv[4])
    else:
        fail(f"unknown mode {MODE}")
    print(f"{MODE}: ok", flush=True)


main()
