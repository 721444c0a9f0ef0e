// Milvus's quick start as its users write it, through the Node.js SDK,
// against dannd: quick-setup collection (default schema, AUTOINDEX, loaded
// at once), rows with extra keys kept in the dynamic field, search with
// output_fields, query, delete, and the errors a client must be able to
// read (unknown collection, dimension mismatch).
// usage: node quickstart.mjs HOST:PORT [OTHER]
// With OTHER (another dannd of the same cluster), the collection is created
// on HOST:PORT and every later call goes through OTHER, which forwards the
// collection's calls to its owner.
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { check, ok } from './lib.mjs';

const owner = new MilvusClient({ address: process.argv[2] });
const client = process.argv[3] ? new MilvusClient({ address: process.argv[3] }) : owner;
const name = 'quick_setup';
const dim = 16;
const vec = (i) => Array.from({ length: dim }, (_, d) => Math.sin(i * 31 + d * 7) + (d === i % dim ? 2 : 0));

ok(await client.getVersion(), 'GetVersion');
const health = ok(await client.checkHealth(), 'CheckHealth');
check(health.isHealthy === true, 'CheckHealth: not healthy');

ok(await owner.createCollection({ collection_name: name, dimension: dim }), 'create_collection');
check((await client.hasCollection({ collection_name: name })).value === true, 'has_collection');
const desc = ok(await client.describeCollection({ collection_name: name }), 'describe_collection');
const fields = Object.fromEntries(desc.schema.fields.map((f) => [f.name, f]));
check(fields.id && fields.id.is_primary_key && fields.id.data_type === 'Int64', 'id is the int64 key');
check(fields.vector && fields.vector.data_type === 'FloatVector', 'vector is a float vector');
check(desc.schema.enable_dynamic_field === true, 'dynamic field on');
const ls = ok(await client.getLoadState({ collection_name: name }), 'get_load_state');
check(ls.state === 'LoadStateLoaded', `loaded at once: ${ls.state}`);
const idx = ok(await client.describeIndex({ collection_name: name }), 'describe_index');
check(idx.index_descriptions.length === 1, 'one index');

const rows = [];
for (let i = 0; i < 100; i++) rows.push({ id: i, vector: vec(i), text: `hello ${i}`, subject: i % 2 ? 'odd' : 'even' });
const ins = ok(await client.insert({ collection_name: name, data: rows }), 'insert');
check(Number(ins.insert_cnt) === 100, `insert_cnt ${ins.insert_cnt}`);

const res = ok(await client.search({ collection_name: name, data: [vec(7), vec(42)], limit: 10, output_fields: ['text'] }), 'search');
check(res.results.length === 2, 'two result lists');
check(res.results[0].length === 10, `limit 10: ${res.results[0].length}`);
check(Number(res.results[0][0].id) === 7 && res.results[0][0].text === 'hello 7', `nearest to row 7: ${JSON.stringify(res.results[0][0])}`);
check(Number(res.results[1][0].id) === 42 && res.results[1][0].text === 'hello 42', `nearest to row 42: ${JSON.stringify(res.results[1][0])}`);
check(Math.abs(res.results[0][0].score - 1) < 1e-4, `COSINE similarity of a row with itself is 1: ${res.results[0][0].score}`);
for (let j = 1; j < 10; j++) check(res.results[0][j].score <= res.results[0][j - 1].score, 'scores descend');

const q = ok(await client.query({ collection_name: name, filter: 'id in [3, 5, 1000]', output_fields: ['vector', 'text'] }), 'query');
check(q.data.length === 2, `query: 2 live keys of 3: ${q.data.length}`);
for (const r of q.data) {
  const want = vec(Number(r.id));
  check(r.vector.every((x, d) => Math.abs(x - want[d]) < 1e-6), `query: stored vector of ${r.id}`);
}

const st = ok(await client.getCollectionStatistics({ collection_name: name }), 'stats');
check(Number(st.data.row_count) === 100, `row_count ${st.data.row_count}`);
const del = ok(await client.delete({ collection_name: name, ids: [7, 8] }), 'delete');
check(Number(del.delete_cnt) === 2, `delete_cnt ${del.delete_cnt}`);
const after = ok(await client.search({ collection_name: name, data: vec(7), limit: 10, output_fields: [] }), 'search after delete');
check(after.results.every((r) => Number(r.id) !== 7 && Number(r.id) !== 8), 'deleted rows never return');

// Errors are statuses a client can read, not crashes.
const nf = await client.describeCollection({ collection_name: 'no_such_collection' });
check(nf.status.error_code === 'CollectionNotExists' && Number(nf.status.code) === 100, `not found: ${JSON.stringify(nf.status)}`);
const bad = await client.insert({ collection_name: name, data: [{ id: 500, vector: [1, 2, 3] }] }).catch((e) => ({ status: { reason: String(e), error_code: 'thrown' } }));
check(bad.status.error_code !== 'Success' && /dim/i.test(bad.status.reason), `dimension mismatch: ${JSON.stringify(bad.status)}`);
// (NaN is checked from Python: the Node SDK writes NaN elements as 0.)
// An unserved RPC answers UNIMPLEMENTED (the SDK's retry layer hides the
// status; test_srv_python checks it) and the server carries on.
await client.createPartition({ collection_name: name, partition_name: 'p1' }).catch(() => null);
check(ok(await client.checkHealth(), 'CheckHealth after an unserved RPC').isHealthy, 'healthy');

ok(await client.releaseCollection({ collection_name: name }), 'release');
const rel = await client.search({ collection_name: name, data: vec(1), limit: 3 });
check(rel.status.error_code !== 'Success' && /not loaded/.test(rel.status.reason), `search on released: ${JSON.stringify(rel.status)}`);
ok(await client.dropCollection({ collection_name: name }), 'drop');
check((await owner.hasCollection({ collection_name: name })).value === false, 'dropped');
console.log('quickstart: ok');
process.exit(0);
