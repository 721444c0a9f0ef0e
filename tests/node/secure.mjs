// The Node.js SDK with credentials and over TLS, as Milvus users configure
// it: the right user and password work; a wrong password or none is refused
// (UNAUTHENTICATED); TLS verifies dannd's certificate.
// usage: node secure.mjs auth HOST:PORT USER PASSWORD
//        node secure.mjs tls HOST:PORT CERT.pem
//        node secure.mjs cluster HOST:PORT OTHER CERT.pem USER PASSWORD
// cluster: two dannd of one cluster, both with TLS and credentials; a
// collection made on HOST:PORT is written and read through OTHER, which
// forwards the calls (over TLS, with the caller's credentials).
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { check, ok } from './lib.mjs';

const [mode, address, a, b, c, d] = process.argv.slice(2);

async function refused(client, what) {
  let err = null, res = null;
  // The SDK's constructor starts a Connect call; with bad credentials it
  // fails like every other call.
  if (client.connectPromise) await client.connectPromise.catch(() => null);
  try { res = await client.showCollections(); } catch (e) { err = e; }
  const text = err ? `${err.code} ${err.details || err.message}` : JSON.stringify(res);
  check(err ? err.code === 16 || /UNAUTHENTICATED|16/.test(text) : false, `${what}: not refused (${text})`);
}

if (mode === 'auth') {
  const good = new MilvusClient({ address, username: a, password: b });
  ok(await good.showCollections(), 'with credentials');
  ok(await good.createCollection({ collection_name: 'secured', dimension: 4 }), 'create with credentials');
  await refused(new MilvusClient({ address, username: a, password: b + 'x' }), 'wrong password');
  await refused(new MilvusClient({ address, token: `${a}:${b}x` }), 'wrong token');
  ok(await new MilvusClient({ address, token: `${a}:${b}` }).showCollections(), 'with a token');
  await refused(new MilvusClient({ address }), 'no credentials');
} else if (mode === 'tls') {
  const client = new MilvusClient({ address, tls: { rootCertPath: a, serverName: 'localhost' } });
  const v = ok(await client.getVersion(), 'version over TLS');
  check(v.version.startsWith('v2.'), `version ${v.version}`);
  ok(await client.createCollection({ collection_name: 'over_tls', dimension: 4 }), 'create over TLS');
  ok(await client.insert({ collection_name: 'over_tls', data: [{ id: 1, vector: [1, 2, 3, 4] }] }), 'insert over TLS');
} else if (mode === 'cluster') {
  const tls = { rootCertPath: b, serverName: 'localhost' };
  const owner = new MilvusClient({ address, tls, username: c, password: d });
  const other = new MilvusClient({ address: a, tls, username: c, password: d });
  ok(await owner.createCollection({ collection_name: 'fwd_secure', dimension: 4 }), 'create on the owner');
  const rows = [1, 2, 3].map((i) => ({ id: i, vector: [i, 1, 0, 0] }));
  const ins = ok(await other.insert({ collection_name: 'fwd_secure', data: rows }), 'insert through the other node');
  check(Number(ins.insert_cnt) === 3, `insert_cnt ${ins.insert_cnt}`);
  const res = ok(await other.search({ collection_name: 'fwd_secure', data: [3, 1, 0, 0], limit: 3 }), 'search through the other node');
  check(Number(res.results[0].id) === 3, `nearest: ${JSON.stringify(res.results[0])}`);
  const q = ok(await other.query({ collection_name: 'fwd_secure', filter: 'id in [1, 2, 3]' }), 'query');
  check(q.data.length === 3, `query: ${q.data.length} rows`);
  await refused(new MilvusClient({ address: a, tls, username: c, password: d + 'x' }), 'wrong password at the other node');
} else {
  check(false, `unknown mode ${mode}`);
}
console.log(`secure ${mode}: ok`);
process.exit(0);
