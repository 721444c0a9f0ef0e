// Scalar fields and filter expressions through the Node.js SDK against
// dannd: a schema with every scalar type dann stores (bool, int8..int64,
// float, double, varchar, JSON, nullable fields, the dynamic field); rows
// written with Insert and Upsert; Search with a filter (on schema fields,
// JSON paths and dynamic keys) and output fields; Query by any expression
// with limit/offset; count(*) with a filter; Delete by expression; the same
// on a flushed (disk) segment; bad expressions answered with a status that
// names the column or the field, changing nothing. Every answer is checked
// against the same predicate evaluated here in JavaScript.
// usage: node filter_flow.mjs HOST:PORT
import { MilvusClient, DataType } from '@zilliz/milvus2-sdk-node';
import { check, ok } from './lib.mjs';

const client = new MilvusClient({ address: process.argv[2], timeout: 120000 });
const name = 'shop';
const dim = 8, N = 300;
const colors = ['red', 'green', 'blue'];
const vec = (i) => Array.from({ length: dim }, (_, d) => Math.cos(i * 0.37 + d * 1.3) + (d === i % dim ? 1.5 : 0));

// Row i's values; `gen` changes them for the upsert.
function row(i, gen = 0) {
  const r = {
    id: i, vector: vec(i),
    b: (i + gen) % 2 === 0,
    i8: ((i * 7 + gen) % 256) - 128,
    i16: (i * 113 + gen) % 30000 - 15000,
    i32: i * 3 + gen,
    i64: i * 1000003 + gen,
    f: (i + gen) * 0.5,
    d: (i + gen) * 0.25 - 20,
    s: `item_${i}_${gen}`,
    j: { k: i % 10, tags: i % 4 === 0 ? ['x', 'y'] : ['y'] },
  };
  if (i % 5 !== 0) r.note = `n${i % 7}`;          // nullable varchar: null on every fifth row
  if (i % 3 !== 0) r.n32 = i % 11;                 // nullable int32: null on every third row
  if (i % 2 === 0) r.jn = { v: i % 13 };           // nullable JSON: null on odd rows
  r.color = colors[i % 3];                          // dynamic keys
  if (i % 2) r.size = i % 9;
  return r;
}

let rows = new Map();
for (let i = 0; i < N; i++) rows.set(i, row(i));

function sameRow(got, want, fields) {
  for (const f of fields) {
    const w = want[f] === undefined ? null : want[f];
    // The SDK's query() leaves dynamic keys inside "$meta"; search() lifts
    // them out. A key a row lacks is absent.
    const meta = got.$meta || {};
    const g = got[f] !== undefined ? got[f] : f in meta ? meta[f] : null;
    if (f === 'j' || f === 'jn') check(JSON.stringify(g) === JSON.stringify(w), `row ${want.id}: field j ${JSON.stringify(g)} != ${JSON.stringify(w)}`);
    else if (f === 'f' || f === 'd') check(Math.abs(g - w) < 1e-6, `row ${want.id}: field ${f} ${g} != ${w}`);
    else if (f === 'i64') check(Number(g) === w, `row ${want.id}: field i64 ${g} != ${w}`);
    else check(g === w, `row ${want.id}: field ${f} ${JSON.stringify(g)} != ${JSON.stringify(w)}`);
  }
}

const ALL = ['b', 'i8', 'i16', 'i32', 'i64', 'f', 'd', 's', 'j', 'note', 'n32', 'jn', 'color', 'size'];

// Search with filter: every hit passes pred, hits come back in score order,
// and the output fields hold the row's values.
async function searchCheck(filter, pred, what) {
  const want = [...rows.values()].filter(pred).length;
  const res = ok(await client.search({ collection_name: name, data: [vec(11), vec(200)], filter, limit: 20, output_fields: ALL, params: { search_list: 100 } }), `search ${what}`);
  check(res.results.length === 2, `${what}: two result lists`);
  for (const list of res.results) {
    check(list.length === Math.min(20, want), `${what}: ${list.length} hits, ${want} rows pass`);
    for (const h of list) {
      const r = rows.get(Number(h.id));
      check(r && pred(r), `${what}: hit ${h.id} does not pass`);
      sameRow(h, r, ALL);
    }
  }
}

// Query: the exact set of rows passing pred, with their fields.
async function queryCheck(filter, pred, what) {
  const want = [...rows.values()].filter(pred).map((r) => r.id).sort((a, b) => a - b);
  const q = ok(await client.query({ collection_name: name, filter, output_fields: ALL }), `query ${what}`);
  const got = q.data.map((r) => Number(r.id)).sort((a, b) => a - b);
  check(JSON.stringify(got) === JSON.stringify(want), `${what}: query gave ${got.length} rows, ${want.length} pass`);
  for (const r of q.data) sameRow(r, rows.get(Number(r.id)), ALL);
  const c = ok(await client.count({ collection_name: name, expr: filter }), `count ${what}`);
  check(c.data === want.length, `${what}: count(*) ${c.data}, ${want.length} pass`);
}

async function refused(p, pattern, what) {
  const res = await p.catch((e) => ({ status: { error_code: 'thrown', reason: String(e) } }));
  const st = res.status;
  check(st && st.error_code !== 'Success' && pattern.test(st.reason), `${what}: ${JSON.stringify(st)}`);
}

const FILTERS = [
  ['i32 % 3 == 0 and s like "item_1%"', (r) => r.i32 % 3 === 0 && r.s.startsWith('item_1'), 'arithmetic and like'],
  ['b == true && 100 <= i64 / 1000003 < 200', (r) => r.b && r.id >= 100 && r.id < 200, 'bool and range chain'],
  ['i8 < 0 or i16 > 10000', (r) => r.i8 < 0 || r.i16 > 10000, 'int8 or int16'],
  ['f >= 50.5 and d < 30', (r) => r.f >= 50.5 && r.d < 30, 'float and double'],
  ['j["k"] in [1, 2] and json_contains(j["tags"], "x")', (r) => [1, 2].includes(r.j.k) && r.j.tags.includes('x'), 'JSON path and json_contains'],
  ['note is null', (r) => r.note === undefined, 'is null'],
  ['n32 > 5', (r) => r.n32 !== undefined && r.n32 > 5, 'nullable int (null is not > 5)'],
  ['not (n32 > 5)', (r) => r.n32 !== undefined && !(r.n32 > 5), 'not over null stays unknown'],
  ['jn["v"] > 10 or jn is null', (r) => r.jn === undefined || r.jn.v > 10, 'nullable JSON'],
  ['color == "red"', (r) => r.color === 'red', 'dynamic key by name'],
  ['$meta["color"] in ["green"] and size >= 4', (r) => r.color === 'green' && r.size !== undefined && r.size >= 4, 'dynamic key by $meta'],
];

ok(await client.createCollection({
  collection_name: name,
  enable_dynamic_field: true,
  fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
    { name: 'vector', data_type: DataType.FloatVector, dim },
    { name: 'b', data_type: DataType.Bool },
    { name: 'i8', data_type: DataType.Int8 },
    { name: 'i16', data_type: DataType.Int16 },
    { name: 'i32', data_type: DataType.Int32 },
    { name: 'i64', data_type: DataType.Int64 },
    { name: 'f', data_type: DataType.Float },
    { name: 'd', data_type: DataType.Double },
    { name: 's', data_type: DataType.VarChar, max_length: 32 },
    { name: 'j', data_type: DataType.JSON },
    { name: 'note', data_type: DataType.VarChar, max_length: 16, nullable: true },
    { name: 'n32', data_type: DataType.Int32, nullable: true },
    { name: 'jn', data_type: DataType.JSON, nullable: true },
  ],
}), 'create');
const desc = ok(await client.describeCollection({ collection_name: name }), 'describe');
const types = Object.fromEntries(desc.schema.fields.map((f) => [f.name, f.data_type]));
check(types.b === 'Bool' && types.i8 === 'Int8' && types.i16 === 'Int16' && types.i32 === 'Int32' &&
  types.i64 === 'Int64' && types.f === 'Float' && types.d === 'Double' && types.s === 'VarChar' &&
  types.j === 'JSON' && types.note === 'VarChar' && types.n32 === 'Int32', `schema types: ${JSON.stringify(types)}`);
check(desc.schema.fields.find((f) => f.name === 'note').nullable === true, 'note is nullable');
ok(await client.createIndex({ collection_name: name, field_name: 'vector', index_type: 'DISKANN', metric_type: 'L2' }), 'index');
ok(await client.loadCollectionSync({ collection_name: name }), 'load');
const ins = ok(await client.insert({ collection_name: name, data: [...rows.values()] }), 'insert');
check(Number(ins.insert_cnt) === N, `insert_cnt ${ins.insert_cnt}`);

// A collection without the field a filter names, a bad parse, a type error.
await refused(client.search({ collection_name: name, data: [vec(1)], filter: 'i32 > ', limit: 5 }), /column 7/, 'parse error names the column');
await refused(client.query({ collection_name: name, filter: 's > 3', output_fields: ['s'] }), /field 's'/, 'type error names the field');
await refused(client.query({ collection_name: name, filter: 'b + 1 > 0', output_fields: ['b'] }), /b/, 'arithmetic on bool names the field');
// (count() itself throws on an error status: it reads the count from the data.)
await refused(client.query({ collection_name: name, filter: '(i32 > 1', output_fields: ['count(*)'] }), /column 9/, 'count: parse error');
await refused(client.delete({ collection_name: name, filter: 'i32 >>> 3' }), /column/, 'delete: parse error');
await refused(client.query({ collection_name: name, filter: '', output_fields: ['s'] }), /limit/, 'empty filter needs a limit');
await refused(client.insert({ collection_name: name, data: [{ ...row(N + 1), i8: 300 }] }), /i8/, 'int8 out of range names the field');
await refused(client.insert({ collection_name: name, data: [{ ...row(N + 1), s: 'x'.repeat(40) }] }), /max_length|s:/, 'varchar too long');
const c0 = ok(await client.count({ collection_name: name }), 'count all');
check(c0.data === N, `nothing written by refused requests: ${c0.data}`);

for (const [f, p, w] of FILTERS) {
  await searchCheck(f, p, w + ' (growing)');
  await queryCheck(f, p, w + ' (growing)');
}

// Paging through a filter with limit/offset visits every passing row once.
const pred = (r) => r.i32 % 2 === 1;
const seen = [];
for (let off = 0; off < N; off += 40) {
  const page = ok(await client.query({ collection_name: name, filter: 'i32 % 2 == 1', output_fields: ['s'], limit: 40, offset: off }), 'page');
  check(page.data.length <= 40, `page at ${off}: ${page.data.length} rows`);
  for (const r of page.data) check(r.s === rows.get(Number(r.id)).s, `page: s of ${r.id}`);
  seen.push(...page.data.map((r) => Number(r.id)));
}
check(seen.length === [...rows.values()].filter(pred).length && new Set(seen).size === seen.length, `pages: ${seen.length} rows`);
const lim = ok(await client.query({ collection_name: name, filter: '', output_fields: ['i32'], limit: 7 }), 'empty filter with a limit');
check(lim.data.length === 7, `limit 7: ${lim.data.length}`);

// Expression templates (the SDK's exprValues): the same answers as the
// values typed in; a placeholder without a value is refused naming it.
{
  const exprValues = { ids: [3, 6, 9, 12, 600], pre: 'item_1%', lo: 0.5, flag: true };
  const pred = (r) => [3, 6, 9, 12, 600].includes(r.i32) && r.s.startsWith('item_1') || (r.f >= 0.5 && r.b === true && r.i32 > 880);
  const filter = 'i32 in {ids} and s like {pre} or (f >= {lo} and b == {flag} and i32 > 880)';
  const want = [...rows.values()].filter(pred).map((r) => r.id).sort((a, b) => a - b);
  const q = ok(await client.query({ collection_name: name, filter, exprValues, output_fields: ['i32'] }), 'query with a template');
  check(JSON.stringify(q.data.map((r) => Number(r.id)).sort((a, b) => a - b)) === JSON.stringify(want), `template query: ${JSON.stringify(q.data)} want ${want}`);
  const res = ok(await client.search({ collection_name: name, data: [vec(9)], filter, exprValues, limit: 50, output_fields: ['i32'] }), 'search with a template');
  check(res.results.length === want.length && res.results.every((h) => pred(rows.get(Number(h.id)))), `template search: ${res.results.length} hits, ${want.length} pass`);
  await refused(client.query({ collection_name: name, filter: 'i32 > {nope}', exprValues: { other: 1 }, output_fields: ['i32'] }), /\{nope\}/, 'template without a value');
}

// Upsert new values; the filters see them.
const upIds = Array.from({ length: 30 }, (_, k) => k * 10 + 3);
for (const i of upIds) rows.set(i, row(i, 1));
ok(await client.upsert({ collection_name: name, data: upIds.map((i) => rows.get(i)) }), 'upsert');
await queryCheck('s like "%_1"', (r) => r.s.endsWith('_1'), 'upserted rows');

// Delete by expression.
const delPred = (r) => r.j.k === 7 && r.i8 < 0;
const nDel = [...rows.values()].filter(delPred).length;
const del = ok(await client.delete({ collection_name: name, filter: 'j["k"] == {k} and i8 < {zero}', exprValues: { k: 7, zero: 0 } }), 'delete by expression (a template)');
check(Number(del.delete_cnt) === nDel, `delete_cnt ${del.delete_cnt}, ${nDel} pass`);
for (const [i, r] of [...rows]) if (delPred(r)) rows.delete(i);
await queryCheck('i32 >= 0', () => true, 'after delete');

// The same filters on a flushed (disk) segment.
// Flush answers once the segment is a disk index (flushSync would not show
// a failed Flush: it polls GetFlushState).
ok(await client.flush({ collection_names: [name] }), 'flush');
for (const [f, p, w] of FILTERS) {
  await searchCheck(f, p, w + ' (flushed)');
  await queryCheck(f, p, w + ' (flushed)');
}
console.log('filter_flow: ok');
process.exit(0);
