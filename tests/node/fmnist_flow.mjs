// A collection's whole life through the Node.js SDK on Fashion-MNIST:
//   phase "load":   create (int64 key, 784-d float vector), DISKANN index
//                   (L2), load, insert 60k rows in batches, flush, search
//                   the queries (many per request) for recall@10 against
//                   `dann gt`, delete some keys and check they never come
//                   back, upsert them with new vectors and query them;
//   phase "verify": after dannd restarted on the same data dir, the
//                   collection, its row count, the upserted vectors and the
//                   recall are all still there.
// usage: node fmnist_flow.mjs load|verify HOST:PORT base.fbin queries.fbin gt.ibin
import { MilvusClient, DataType } from '@zilliz/milvus2-sdk-node';
import { check, ok, readBin, recallAt } from './lib.mjs';

const [phase, address, basePath, queryPath, gtPath] = process.argv.slice(2);
const client = new MilvusClient({ address, timeout: 600000 });
const name = 'fmnist';
const base = readBin(basePath), queries = readBin(queryPath), gt = readBin(gtPath, 'i32');
const BATCH = 5000, NQ_PER_REQUEST = 100, K = 10, SEARCH_LIST = 60;
const deletedIds = Array.from({ length: 50 }, (_, i) => i * 997 % base.n);
const newVec = (id) => base.row(id).map((x, d) => (d === 0 ? 255 + id % 7 : x));

async function searchAll() {
  const got = [];
  for (let q0 = 0; q0 < queries.n; q0 += NQ_PER_REQUEST) {
    const data = [];
    for (let q = q0; q < Math.min(queries.n, q0 + NQ_PER_REQUEST); q++) data.push(queries.row(q));
    const res = ok(await client.search({ collection_name: name, data, limit: K, params: { search_list: SEARCH_LIST }, output_fields: [] }), 'search');
    check(res.results.length === data.length, `nq ${data.length} -> ${res.results.length} lists`);
    for (const r of res.results) {
      for (let j = 1; j < r.length; j++) check(r[j].score >= r[j - 1].score, 'L2 distances ascend');
      got.push(r.map((h) => Number(h.id)));
    }
  }
  return got;
}

async function checkUpserted() {
  const q = ok(await client.query({ collection_name: name, filter: `id in [${deletedIds.join(',')}]`, output_fields: ['vector'] }), 'query upserted');
  check(q.data.length === deletedIds.length, `query: ${q.data.length} of ${deletedIds.length} upserted rows`);
  for (const r of q.data) {
    const want = newVec(Number(r.id));
    check(r.vector.length === 784 && r.vector.every((x, d) => x === want[d]), `stored vector of ${r.id}`);
  }
}

if (phase === 'load') {
  ok(await client.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
      { name: 'vector', data_type: DataType.FloatVector, dim: 784 },
    ],
  }), 'create');
  ok(await client.createIndex({ collection_name: name, field_name: 'vector', index_type: 'DISKANN', metric_type: 'L2', params: { max_degree: 32, search_list_size: 64 } }), 'create index');
  const di = ok(await client.describeIndex({ collection_name: name }), 'describe index');
  check(di.index_descriptions[0].params.some((p) => p.key === 'index_type' && p.value === 'DISKANN'), 'index type DISKANN');
  ok(await client.loadCollectionSync({ collection_name: name }), 'load');
  for (let i0 = 0; i0 < base.n; i0 += BATCH) {
    const rows = [];
    for (let i = i0; i < Math.min(base.n, i0 + BATCH); i++) rows.push({ id: i, vector: base.row(i) });
    const r = ok(await client.insert({ collection_name: name, data: rows }), `insert at ${i0}`);
    check(Number(r.insert_cnt) === rows.length, `insert_cnt ${r.insert_cnt}`);
  }
  ok(await client.flushSync({ collection_names: [name] }), 'flush');
  const st = ok(await client.getCollectionStatistics({ collection_name: name }), 'stats');
  check(Number(st.data.row_count) === base.n, `row_count ${st.data.row_count}`);
  const recall = recallAt(K, await searchAll(), gt);
  console.log(`recall@${K} after flush: ${recall.toFixed(4)}`);
  check(recall >= 0.95, `recall@${K} ${recall} < 0.95`);

  const del = ok(await client.delete({ collection_name: name, ids: deletedIds }), 'delete');
  check(Number(del.delete_cnt) === deletedIds.length, `delete_cnt ${del.delete_cnt}`);
  for (let i = 0; i < deletedIds.length; i += 10) {
    const data = deletedIds.slice(i, i + 10).map((id) => base.row(id));
    const res = ok(await client.search({ collection_name: name, data, limit: K, output_fields: [] }), 'search deleted');
    for (const r of res.results) for (const h of r) check(!deletedIds.includes(Number(h.id)), `deleted id ${h.id} came back`);
  }
  const q = ok(await client.query({ collection_name: name, filter: `id in [${deletedIds.join(',')}]` }), 'query deleted');
  check(q.data.length === 0, `query finds ${q.data.length} deleted rows`);
  const up = ok(await client.upsert({ collection_name: name, data: deletedIds.map((id) => ({ id, vector: newVec(id) })) }), 'upsert');
  check(Number(up.upsert_cnt) === deletedIds.length, `upsert_cnt ${up.upsert_cnt}`);
  await checkUpserted();
  const st2 = ok(await client.getCollectionStatistics({ collection_name: name }), 'stats after upsert');
  check(Number(st2.data.row_count) === base.n, `row_count after upsert ${st2.data.row_count}`);
} else if (phase === 'verify') {
  const list = ok(await client.showCollections(), 'list');
  check(list.data.some((c) => c.name === name), 'collection listed after restart');
  const ls = ok(await client.getLoadState({ collection_name: name }), 'load state');
  check(ls.state === 'LoadStateLoaded', `still loaded: ${ls.state}`);
  const st = ok(await client.getCollectionStatistics({ collection_name: name }), 'stats');
  check(Number(st.data.row_count) === base.n, `row_count after restart ${st.data.row_count}`);
  await checkUpserted();
  const recall = recallAt(K, await searchAll(), gt);
  console.log(`recall@${K} after restart: ${recall.toFixed(4)}`);
  check(recall >= 0.95, `recall@${K} after restart ${recall} < 0.95`);
} else {
  check(false, `unknown phase ${phase}`);
}
console.log(`fmnist ${phase}: ok`);
process.exit(0);
