// The searcher through the Node.js SDK: many single-query Search RPCs at
// once (dannd started with search_inflight on) each get their own answer —
// the row nearest its query first, the limit and filter it asked for —
// whatever slots and threads they shared; requests with other limits and
// filtered ones share the slots too (all 3 rounds x 48 go through it:
// test_srv_searcher.c counts them).
// With "ids-only", every search asks for no output field (pymilvus's
// default; the Node SDK's is '*'), which dannd answers from the searcher's
// thread without a worker waiting.
// usage: node searcher_flow.mjs HOST:PORT [ids-only]
import { MilvusClient, DataType } from '@zilliz/milvus2-sdk-node';
import { check, ok } from './lib.mjs';

const idsOnly = process.argv[3] === 'ids-only';
const client = new MilvusClient({ address: process.argv[2], timeout: 120000 });
const name = 'batched';
const dim = 16, N = 400, ROUNDS = 3, CONCURRENT = 48;
const vec = (i) => Array.from({ length: dim }, (_, d) => Math.sin(i * 0.71 + d * 2.3) + (d === i % dim ? 3 : 0));

ok(await client.createCollection({
  collection_name: name,
  fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
    { name: 'vector', data_type: DataType.FloatVector, dim },
    { name: 'tag', data_type: DataType.Int32 },
  ],
}), 'create');
ok(await client.createIndex({ collection_name: name, field_name: 'vector', index_type: 'DISKANN', metric_type: 'L2' }), 'index');
ok(await client.loadCollectionSync({ collection_name: name }), 'load');
const rows = Array.from({ length: N }, (_, i) => ({ id: i, vector: vec(i), tag: i % 4 }));
ok(await client.insert({ collection_name: name, data: rows.slice(0, N / 2) }), 'insert');
ok(await client.flush({ collection_names: [name] }), 'flush');   // one disk segment ...
ok(await client.insert({ collection_name: name, data: rows.slice(N / 2) }), 'insert'); // ... and a growing one

for (let round = 0; round < ROUNDS; round++) {
  const calls = [];
  for (let j = 0; j < CONCURRENT; j++) {
    const i = (round * 131 + j * 7) % N;
    const limit = j % 3 === 0 ? 3 : 5;                     // two groups
    const filter = j % 8 === 0 ? 'tag == 1' : undefined;     // and filtered ones
    const req = { collection_name: name, data: vec(i), limit, filter, params: { search_list: 50 } };
    if (idsOnly) req.output_fields = [];
    calls.push(client.search(req)
      .then((res) => ({ res, i, limit, filter })));
  }
  for (const { res, i, limit, filter } of await Promise.all(calls)) {
    ok(res, `search ${i}`);
    check(res.results.length === limit, `query ${i}: ${res.results.length} hits, limit ${limit}`);
    if (filter) {
      check(res.results.every((h) => Number(h.id) % 4 === 1), `query ${i}: filtered hits ${JSON.stringify(res.results)}`);
    } else {
      check(Number(res.results[0].id) === i && res.results[0].score < 1e-3, `query ${i}: nearest ${JSON.stringify(res.results[0])}`);
      for (let h = 1; h < limit; h++) check(res.results[h].score >= res.results[h - 1].score, `query ${i}: distances ascend`);
    }
  }
}
console.log('searcher_flow: ok');
process.exit(0);
