// s3rver-launch.js — starts s3rver (the S3-compatible server the object-store
// tests run against) on 127.0.0.1, with a small fault-injecting HTTP proxy in
// front of it, and prints "ready <s3rver port> <proxy port>" once both listen.
//
//   node --openssl-legacy-provider s3rver-launch.js --dir D [--port P] [--proxy-port Q] [--bucket B]...
//
// (s3rver 3.7.1 makes ListObjectsV2 continuation tokens with DES, which
// OpenSSL 3 only has in its legacy provider: without the flag a listing of
// more than one page fails with InternalError.)
// Ports default to 0 (a free one). The process exits when its stdin closes
// (the test that started it has gone), on SIGTERM, or when a "kill" fault
// fires (SIGKILL to itself: a server dying in the middle of a request).
//
// The proxy forwards every request unchanged, except as told by its control
// endpoints (requests to /__ctl/..., never forwarded):
//   POST /__ctl/fault  JSON {method, match, action, status, skip, count, after}
//        a rule: requests whose method equals `method` (any if absent) and
//        whose URL contains `match` are counted; after the first `skip` of
//        them, the next `count` get `action`:
//          "status"  the request body is read, then answered with HTTP
//                    `status` and an S3 error document (SlowDown for 503);
//          "reset"   the connection is destroyed after `after` body bytes;
//          "kill"    the whole process SIGKILLs itself after `after` body bytes;
//          "corrupt" forwarded, but byte 0 of the reply body is flipped;
//          "cut"     forwarded, but the connection is destroyed after `after`
//                    bytes of the reply body;
//          "stall"   never answered (the connection stays open until the
//                    client gives up);
//   GET  /__ctl/count?method=M&match=S   how many requests matched so far
//   POST /__ctl/clear                    drops every rule and the request log
'use strict';

const http = require('http');
const S3rver = require('s3rver');

function parseArgs(argv) {
  const o = { port: 0, proxyPort: 0, buckets: [] };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--dir') o.dir = v;
    else if (a === '--port') o.port = Number(v);
    else if (a === '--proxy-port') o.proxyPort = Number(v);
    else if (a === '--bucket') o.buckets.push(v);
    else throw new Error(`unknown argument ${a}`);
    i++;
  }
  if (!o.dir) throw new Error('--dir is required');
  return o;
}

const errorCodes = {
  500: 'InternalError', 503: 'SlowDown', 429: 'TooManyRequests', 400: 'BadRequest', 404: 'NoSuchUpload',
};

function startProxy(upstreamPort, port) {
  let rules = [];
  let log = [];

  function control(req, res, body) {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/__ctl/fault') {
      const r = JSON.parse(body.toString() || '{}');
      rules.push({ skip: 0, count: 1, after: 0, status: 503, ...r, seen: 0, fired: 0 });
      res.end('ok');
    } else if (url.pathname === '/__ctl/count') {
      const m = url.searchParams.get('method');
      const s = url.searchParams.get('match') || '';
      res.end(String(log.filter(e => (!m || e.method === m) && e.url.includes(s)).length));
    } else if (url.pathname === '/__ctl/clear') {
      rules = [];
      log = [];
      res.end('ok');
    } else {
      res.statusCode = 404;
      res.end('unknown control');
    }
  }

  function pickRule(req) {
    for (const r of rules) {
      if ((r.method && r.method !== req.method) || !req.url.includes(r.match || '')) continue;
      r.seen++;
      if (r.seen > r.skip && r.fired < r.count) {
        r.fired++;
        return r;
      }
    }
    return null;
  }

  // fires fn once `after` bytes of the request body have arrived (or at its end)
  function afterBytes(req, after, fn) {
    let got = 0;
    let done = false;
    const fire = () => { if (!done) { done = true; fn(); } };
    if (after <= 0) return fire();
    req.on('data', c => { got += c.length; if (got >= after) fire(); });
    req.on('end', fire);
  }

  function forward(req, res, corrupt, cutAfter) {
    const headers = { ...req.headers };
    delete headers.expect;
    const up = http.request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers },
      ur => {
        res.writeHead(ur.statusCode, ur.headers);
        let first = corrupt;
        let sent = 0;
        ur.on('data', c => {
          if (first && c.length) { c = Buffer.from(c); c[0] ^= 0xff; first = false; }
          if (cutAfter !== undefined && sent + c.length > cutAfter) {
            res.write(c.subarray(0, cutAfter - sent));
            ur.destroy();
            res.socket.destroy();
            return;
          }
          sent += c.length;
          res.write(c);
        });
        ur.on('end', () => res.end());
        ur.on('error', () => res.destroy());
      });
    up.on('error', () => res.destroy());
    req.pipe(up);
  }

  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/__ctl/')) {
      const chunks = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => control(req, res, Buffer.concat(chunks)));
      return;
    }
    log.push({ method: req.method, url: req.url });
    const rule = pickRule(req);
    if (!rule) return forward(req, res, false);
    if (rule.action === 'corrupt') return forward(req, res, true);
    if (rule.action === 'cut') return forward(req, res, false, rule.after);
    if (rule.action === 'stall') return req.resume();
    if (rule.action === 'reset') return afterBytes(req, rule.after, () => req.socket.destroy());
    if (rule.action === 'kill') return afterBytes(req, rule.after, () => process.kill(process.pid, 'SIGKILL'));
    // "status": answer once the body is in, as a server would
    req.resume();
    req.on('end', () => {
      const code = errorCodes[rule.status] || 'InternalError';
      res.writeHead(rule.status, { 'Content-Type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
              `<Message>injected by the test proxy</Message></Error>`);
    });
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

async function main() {
  const o = parseArgs(process.argv);
  const s3 = new S3rver({
    address: '127.0.0.1',
    port: o.port,
    directory: o.dir,
    silent: true,
    configureBuckets: o.buckets.map(name => ({ name, configs: [] })),
  });
  const addr = await s3.run();
  const proxy = await startProxy(addr.port, o.proxyPort);
  process.stdout.write(`ready ${addr.port} ${proxy.address().port}\n`);
  const stop = () => { proxy.close(); s3.close(() => process.exit(0)); setTimeout(() => process.exit(0), 2000); };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

main().catch(err => {
  process.stderr.write(`s3rver-launch: ${err.stack || err}\n`);
  process.exit(1);
});
