// Load generator for test/bench/gateway.sh against kinesis_glue_gateway or
// kinesis-local.  Prints one JSON line {records, seconds}.
//
//   node bench.mjs ENDPOINT put|get|fill CLIENTS SECONDS STREAM [h1|h2|raw] [FIRST_SHARD] [START_AT]
//
// START_AT (epoch milliseconds): the clients wait until then, so that the
// processes of one measurement start together after node has loaded.
// put: each client loops PutRecords of 500 records of 100 B.
// get: client i loops GetShardIterator(TRIM_HORIZON) + GetRecords(Limit
//      10000) on shard (FIRST_SHARD + i) % 4.
// fill: one PutRecords of 500 records into each of the 4 shards (explicit
//      hash keys), with the raw client, then exit (the get case's data).
// h2 / h1: the AWS SDK for JavaScript v3 (default HTTP/2 handler, or
// NodeHttpHandler); it base64-encodes, serialises and signs every request in
// JavaScript, which costs about as much CPU as the gateway spends.  raw: a
// light client that writes a prebuilt JSON request on a keep-alive
// HTTP/1.1 connection per client (one request in flight, with an
// Authorization header that is not checked by auth = none or kinesis-local)
// and reads the answer (checked by searching it, not parsed), so that
// mostly the server is measured.
import * as net from 'node:net';
import * as K from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const [endpoint, mode, clients, seconds, stream, proto = 'h2', first = '0', startAt = '0'] = process.argv.slice(2);
const credentials = { accessKeyId: 'AKIDEXAMPLE00000000', secretAccessKey: 'x'.repeat(40) };
let deadline;
const payload = new Uint8Array(100).fill(120);
const batch = Array.from({ length: 500 }, (_, i) => ({ PartitionKey: `key-${i}`, Data: payload }));
const shardOf = (i) => `shardId-00000000000${(i + Number(first)) % 4}`;

// A client ready to run (connected, the SDK's first call made); returns its loop.
async function sdkWorker(i) {
  const c = new K.KinesisClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1,
    ...(proto === 'h1' ? { requestHandler: new NodeHttpHandler() } : {}) });
  await c.send(new K.ListShardsCommand({ StreamName: stream }));
  return async () => {
    let n = 0;
    while (Date.now() < deadline) {
      if (mode === 'put') {
        const r = await c.send(new K.PutRecordsCommand({ StreamName: stream, Records: batch }));
        if (r.FailedRecordCount) throw new Error(`${r.FailedRecordCount} records failed`);
        n += 500;
      } else {
        const it = await c.send(new K.GetShardIteratorCommand({ StreamName: stream,
          ShardId: shardOf(i), ShardIteratorType: 'TRIM_HORIZON' }));
        const g = await c.send(new K.GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 10000 }));
        n += g.Records.length;
      }
    }
    c.destroy();
    return n;
  };
}

// One keep-alive HTTP/1.1 connection; call(op, body) resolves to the answer's bytes.
function rawConnection() {
  const url = new URL(endpoint);
  const sock = net.connect(Number(url.port), url.hostname);
  sock.setNoDelay(true);
  let buf = Buffer.alloc(0),
    pending = null;
  sock.on('data', (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    const he = buf.indexOf('\r\n\r\n');
    if (he < 0 || !pending) return;
    const head = buf.subarray(0, he).toString('latin1');
    const len = Number(/content-length: *(\d+)/i.exec(head)[1]);
    if (buf.length < he + 4 + len) return;
    const body = buf.subarray(he + 4, he + 4 + len);
    buf = buf.subarray(he + 4 + len);
    const p = pending;
    pending = null;
    if (!/^HTTP\/1\.1 200/.test(head)) p.reject(new Error(`${head.split('\r\n')[0]}: ${body}`));
    else p.resolve(body);
  });
  sock.on('error', (e) => pending && pending.reject(e));
  const ready = new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  const call = async (op, body) => {
    await ready;
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    const head = `POST / HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/x-amz-json-1.1\r\n` +
      `X-Amz-Target: Kinesis_20131202.${op}\r\nX-Amz-Date: 20260101T000000Z\r\n` +
      'Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE00000000/20260101/us-east-1/kinesis/aws4_request, ' +
      `SignedHeaders=host, Signature=${'0'.repeat(64)}\r\nContent-Length: ${b.length}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      pending = { resolve, reject };
      sock.write(Buffer.concat([Buffer.from(head), b]));
    });
  };
  return { call, close: () => sock.destroy() };
}

// occurrences of needle in the buffer b
function count(b, needle) {
  let n = 0;
  for (let at = b.indexOf(needle); at >= 0; at = b.indexOf(needle, at + needle.length)) n++;
  return n;
}

async function rawWorker(i) {
  const c = rawConnection();
  const put = Buffer.from(JSON.stringify({ StreamName: stream, Records: batch.map((r) => ({
    PartitionKey: r.PartitionKey, Data: Buffer.from(r.Data).toString('base64') })) }));
  await c.call('ListShards', JSON.stringify({ StreamName: stream }));
  return async () => {
    let n = 0;
    while (Date.now() < deadline) {
      if (mode === 'put') {
        const r = await c.call('PutRecords', put);
        if (!/"FailedRecordCount" *: *0[,}]/.test(r.toString('latin1'))) throw new Error(`records failed: ${r}`);
        n += 500;
      } else {
        const it = JSON.parse(await c.call('GetShardIterator', JSON.stringify({ StreamName: stream,
          ShardId: shardOf(i), ShardIteratorType: 'TRIM_HORIZON' })));
        const g = await c.call('GetRecords', JSON.stringify({ ShardIterator: it.ShardIterator, Limit: 10000 }));
        n += count(g, '"SequenceNumber"');
      }
    }
    c.close();
    return n;
  };
}

if (mode === 'fill') {
  const c = rawConnection();
  for (let s = 0n; s < 4n; s++) {
    const r = JSON.parse(await c.call('PutRecords', JSON.stringify({ StreamName: stream, Records: batch.map((x) => ({
      PartitionKey: x.PartitionKey, ExplicitHashKey: (s * 2n ** 126n + 12345n).toString(),
      Data: Buffer.from(x.Data).toString('base64') })) })));
    if (r.FailedRecordCount) throw new Error(`${r.FailedRecordCount} records failed`);
  }
  c.close();
  console.log(JSON.stringify({ records: 2000, seconds: 0 }));
  process.exit(0);
}

const loops = await Promise.all(Array.from({ length: Number(clients) },
  (_, i) => (proto === 'raw' ? rawWorker(i) : sdkWorker(i))));
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
const t0 = Date.now();
deadline = t0 + Number(seconds) * 1000;
const counts = await Promise.all(loops.map((run) => run()));
console.log(JSON.stringify({ records: counts.reduce((a, b) => a + b, 0), seconds: (Date.now() - t0) / 1000 }));
