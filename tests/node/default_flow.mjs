// Field defaults (FieldSchema.default_value) through the Node.js SDK
// against dannd: CreateCollection with a default on every scalar type,
// DescribeCollection gives them back, Insert and Upsert rows that leave the
// fields out (the SDK sends them as null) or give null store the default,
// filters and output fields see it, on a growing and a flushed segment; a
// varchar default longer than max_length is refused naming the field.
// usage: node default_flow.mjs HOST:PORT
import { MilvusClient, DataType } from '@zilliz/milvus2-sdk-node';
import { check, ok } from './lib.mjs';

const client = new MilvusClient({ address: process.argv[2], timeout: 60000 });
const name = 'defaults';
const dim = 4, N = 40;
const vec = (i) => Array.from({ length: dim }, (_, d) => Math.sin(i * 0.7 + d));
const DEF = { n: 5, big: -7, flag: true, price: 2.5, score: 0.25, tag: 'none', sm: -3 };

// Even rows give every field (tag null on rows divisible by 4); odd rows
// give none of them.
function row(i, gen = 0) {
  const r = { id: i, vector: vec(i) };
  if (i % 2 === 0) {
    Object.assign(r, { n: i + gen, big: i * 10, flag: false, price: i + 0.5, score: i * 0.125, sm: i % 100 });
    r.tag = i % 4 === 0 ? null : `t${i % 10}`;
  }
  return r;
}
const want = (r, f) => (r[f] === undefined || r[f] === null ? DEF[f] : r[f]);

let rows = new Map();
for (let i = 0; i < N; i++) rows.set(i, row(i));

async function refused(p, pattern, what) {
  const res = await p.catch((e) => ({ error_code: 'thrown', reason: e instanceof Error ? e.message : JSON.stringify(e) }));
  const st = res.status || res;
  check(st && st.error_code !== 'Success' && pattern.test(st.reason), `${what}: ${JSON.stringify(st)}`);
}

const OUT = Object.keys(DEF);
async function queryCheck(filter, pred, what) {
  const ids = [...rows.values()].filter(pred).map((r) => r.id).sort((a, b) => a - b);
  const q = ok(await client.query({ collection_name: name, filter, output_fields: OUT }), `query ${what}`);
  const got = q.data.map((r) => Number(r.id)).sort((a, b) => a - b);
  check(JSON.stringify(got) === JSON.stringify(ids), `${what}: ${JSON.stringify(got)} != ${JSON.stringify(ids)}`);
  for (const g of q.data) {
    const r = rows.get(Number(g.id));
    for (const f of OUT) {
      const w = want(r, f);
      const ok2 = typeof w === 'number' ? Math.abs(Number(g[f]) - w) < 1e-6 : g[f] === w;
      check(ok2, `${what}: row ${g.id} field ${f} ${JSON.stringify(g[f])} != ${JSON.stringify(w)}`);
    }
  }
}

await refused(client.createCollection({
  collection_name: 'bad',
  fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'vector', data_type: DataType.FloatVector, dim },
    { name: 'short', data_type: DataType.VarChar, max_length: 4, default_value: 'too long' },
  ],
}), /short/, 'a varchar default over max_length names the field');

ok(await client.createCollection({
  collection_name: name,
  fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
    { name: 'vector', data_type: DataType.FloatVector, dim },
    { name: 'n', data_type: DataType.Int32, default_value: DEF.n },
    { name: 'big', data_type: DataType.Int64, nullable: true, default_value: DEF.big },
    { name: 'flag', data_type: DataType.Bool, default_value: DEF.flag },
    { name: 'price', data_type: DataType.Float, default_value: DEF.price },
    { name: 'score', data_type: DataType.Double, default_value: DEF.score },
    { name: 'tag', data_type: DataType.VarChar, max_length: 8, nullable: true, default_value: DEF.tag },
    { name: 'sm', data_type: DataType.Int8, default_value: DEF.sm },
  ],
}), 'create');
const desc = ok(await client.describeCollection({ collection_name: name }), 'describe');
for (const f of OUT) {
  const fs = desc.schema.fields.find((x) => x.name === f);
  const w = DEF[f];
  const g = fs && fs.default_value;
  check(typeof w === 'number' ? Number(g) === w : g === w, `describe: ${f} default ${JSON.stringify(g)} != ${JSON.stringify(w)}`);
}
ok(await client.createIndex({ collection_name: name, field_name: 'vector', index_type: 'DISKANN', metric_type: 'L2' }), 'index');
ok(await client.loadCollectionSync({ collection_name: name }), 'load');
const ins = ok(await client.insert({ collection_name: name, data: [...rows.values()] }), 'insert');
check(Number(ins.insert_cnt) === N, `insert_cnt ${ins.insert_cnt}`);

const FILTERS = [
  ['n == 5', (r) => want(r, 'n') === 5, 'int32 default'],
  ['tag == "none"', (r) => want(r, 'tag') === 'none', 'varchar default and null'],
  ['big == -7 and flag == true and sm == -3', (r) => r.big === undefined, 'int64, bool, int8 defaults'],
  ['price == 2.5 or score == 0.25', (r) => r.price === undefined || r.score === 0.25, 'float and double defaults'],
  ['tag is null', () => false, 'no nulls stored where a default is'],
];
for (const [f, p, w] of FILTERS) await queryCheck(f, p, w + ' (growing)');

// Upsert: rows 0..9 give nothing now, so they take the defaults.
const up = Array.from({ length: 10 }, (_, i) => ({ id: i, vector: vec(i) }));
for (const r of up) rows.set(r.id, r);
ok(await client.upsert({ collection_name: name, data: up }), 'upsert');
for (const [f, p, w] of FILTERS) await queryCheck(f, p, w + ' (upserted)');

ok(await client.flush({ collection_names: [name] }), 'flush');
for (const [f, p, w] of FILTERS) await queryCheck(f, p, w + ' (flushed)');
console.log('default_flow: ok');
process.exit(0);
