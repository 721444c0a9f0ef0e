// Helpers the SDK flow scripts share: reading dann's vector files, checks
// that stop the script with a message, recall.
import { readFileSync } from 'node:fs';

export function check(cond, msg) {
  if (!cond) {
    console.error('FAIL: ' + msg);
    process.exit(1);
  }
}

// A Milvus status (or a response holding one) must be Success.
export function ok(res, what) {
  const st = res && res.status ? res.status : res;
  check(st && st.error_code === 'Success' && Number(st.code || 0) === 0,
    `${what}: ${JSON.stringify(st)}`);
  return res;
}

// .fbin / .ibin: int32 rows, int32 columns, then rows*columns values.
export function readBin(path, kind) {
  const buf = readFileSync(path);
  const n = buf.readInt32LE(0), d = buf.readInt32LE(4);
  const body = buf.buffer.slice(buf.byteOffset + 8, buf.byteOffset + 8 + n * d * 4);
  const all = kind === 'i32' ? new Int32Array(body) : new Float32Array(body);
  return { n, d, row: (i) => Array.from(all.subarray(i * d, (i + 1) * d)) };
}

export function recallAt(k, got, gt) {
  let hit = 0;
  for (let q = 0; q < got.length; q++) {
    const truth = new Set(gt.row(q).slice(0, k).map(Number));
    for (const id of got[q].slice(0, k)) if (truth.has(Number(id))) hit++;
  }
  return hit / (got.length * k);
}
