// A collection on a dannd whose flushed segments live in an object store
// (test_srv_tier.c): `fill` creates it and writes SEGS flushed segments of
// ROWS rows each; `check` (after the segments were uploaded and evicted
// from the local disk, and after a restart) finds every probed row as its
// own nearest neighbour, reads stored vectors back and counts the rows.
// usage: node tier.mjs HOST:PORT fill|check
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { check, ok } from './lib.mjs';

const client = new MilvusClient({ address: process.argv[2] });
const mode = process.argv[3];
const name = 'tiered';
const dim = 16, SEGS = 3, ROWS = 200;
const vec = (i) => Array.from({ length: dim }, (_, d) => Math.sin(i * 31 + d * 7) + (d === i % dim ? 2 : 0));
const probes = [0, 7, 199, 200, 333, 401, 599];

async function probe(what) {
  const res = ok(await client.search({ collection_name: name, data: probes.map(vec), limit: 5, output_fields: [] }), `search ${what}`);
  probes.forEach((p, i) => check(Number(res.results[i][0].id) === p, `${what}: nearest to row ${p} is ${JSON.stringify(res.results[i][0])}`));
}

if (mode === 'fill') {
  ok(await client.createCollection({ collection_name: name, dimension: dim }), 'create_collection');
  for (let s = 0; s < SEGS; s++) {
    const rows = [];
    for (let i = s * ROWS; i < (s + 1) * ROWS; i++) rows.push({ id: i, vector: vec(i) });
    const ins = ok(await client.insert({ collection_name: name, data: rows }), 'insert');
    check(Number(ins.insert_cnt) === ROWS, `insert_cnt ${ins.insert_cnt}`);
    ok(await client.flushSync({ collection_names: [name] }), 'flush');
  }
  await probe('before the upload');
} else if (mode === 'check') {
  await probe('from the object store');
  const q = ok(await client.query({ collection_name: name, filter: 'id in [5, 250, 590]', output_fields: ['vector'] }), 'query');
  check(q.data.length === 3, `query: ${q.data.length} rows of 3`);
  for (const r of q.data) {
    const want = vec(Number(r.id));
    check(r.vector.every((x, d) => Math.abs(x - want[d]) < 1e-6), `query: stored vector of ${r.id}`);
  }
  const st = ok(await client.getCollectionStatistics({ collection_name: name }), 'stats');
  check(Number(st.data.row_count) === SEGS * ROWS, `row_count ${st.data.row_count}`);
} else {
  check(false, `unknown mode ${mode}`);
}
console.log(`tier ${mode}: ok`);
process.exit(0);
