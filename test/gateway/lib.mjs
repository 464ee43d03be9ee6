// Helpers shared by the JS gateway tests (gateway.test.mjs, newest_ops.test.mjs):
// clients with maxAttempts 1 (an error is the gateway's answer), the
// expected-error check, and hand-built CBOR requests over HTTP/1.1 and h2.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import cborLib from 'cbor';

import * as K from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

// AWS's CBOR timestamps are tag 1 around epoch *milliseconds* (the Java SDK's
// convention), not the seconds of RFC 8949: keep the raw number.
export const cborDecode = (buf) =>
  cborLib.decodeFirstSync(buf, { tags: { 1: (v) => ({ epochMillis: Number(v) }) } });

export const OPEN = process.env.GW_OPEN;
export const SIGV4 = process.env.GW_SIGV4;
export const dummy = { accessKeyId: 'AKIDEXAMPLE00000000', secretAccessKey: 'x'.repeat(40) };
// the keys 097_gateway.pl maps to a role that may create streams and to one with no rights
export const admin = () => ({ accessKeyId: process.env.GW_ADMIN_KEY, secretAccessKey: process.env.GW_ADMIN_SECRET });
export const reader = () => ({ accessKeyId: process.env.GW_READER_KEY, secretAccessKey: process.env.GW_READER_SECRET });

export function kinesis(endpoint, credentials = dummy, h1 = false, extra = {}) {
  return new K.KinesisClient({
    endpoint, region: 'us-east-1', credentials, maxAttempts: 1,
    ...(h1 ? { requestHandler: new NodeHttpHandler() } : {}), ...extra,
  });
}

export async function rejects(promise, name, status = 400) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    assert.equal(e.$metadata?.httpStatusCode, status);
    return e;
  }
  assert.fail(`expected ${name}, the call succeeded`);
}

export const enc = (s) => new TextEncoder().encode(s);
export const dec = (b) => new TextDecoder().decode(b);

// Minimal CBOR writer for the request maps (text keys; strings, byte strings,
// integers, tag 1 with epoch milliseconds).
export function cbor(v) {
  const head = (major, n) => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    if (n < 65536) { const b = Buffer.alloc(3); b[0] = (major << 5) | 25; b.writeUInt16BE(n, 1); return b; }
    if (n < 2 ** 32) { const b = Buffer.alloc(5); b[0] = (major << 5) | 26; b.writeUInt32BE(n, 1); return b; }
    const b = Buffer.alloc(9); b[0] = (major << 5) | 27; b.writeBigUInt64BE(BigInt(n), 1); return b;
  };
  if (v instanceof Date) return Buffer.concat([Buffer.from([0xc1]), cbor(v.getTime())]);
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  if (typeof v === 'string') { const b = Buffer.from(v); return Buffer.concat([head(3, b.length), b]); }
  if (typeof v === 'number') return head(0, v);
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(cbor)]);
  const keys = Object.keys(v);
  return Buffer.concat([head(5, keys.length), ...keys.flatMap((k) => [cbor(k), cbor(v[k])])]);
}

export function postH1(endpoint, op, body, type = 'application/x-amz-cbor-1.1') {
  const u = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: 'POST', path: '/', headers: {
      'content-type': type, 'x-amz-target': op, 'content-length': body.length } }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function postH2(endpoint, op, body, type = 'application/x-amz-cbor-1.1') {
  return new Promise((resolve, reject) => {
    const s = http2.connect(endpoint);
    s.on('error', reject);
    const req = s.request({ ':method': 'POST', ':path': '/', 'content-type': type, 'x-amz-target': op });
    const chunks = [];
    let status, ctype;
    req.on('response', (h) => { status = h[':status']; ctype = h['content-type']; });
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => { s.close(); resolve({ status, type: ctype, body: Buffer.concat(chunks) }); });
    req.on('error', reject);
    req.end(body);
  });
}
