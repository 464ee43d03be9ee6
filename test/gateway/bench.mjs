// Load generator for test/bench/gateway.sh: the AWS SDK for JavaScript v3
// against kinesis_glue_gateway.  Prints one JSON line {records, seconds}.
//
//   node bench.mjs ENDPOINT put|get CLIENTS SECONDS STREAM [h1|h2] [FIRST_SHARD]
//
// put: each client loops PutRecords of 500 records of 100 B.
// get: client i loops GetShardIterator(TRIM_HORIZON) + GetRecords(Limit
//      10000) on shard (FIRST_SHARD + i) % 4.
import * as K from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const [endpoint, mode, clients, seconds, stream, proto = 'h2', first = '0'] = process.argv.slice(2);
const credentials = { accessKeyId: 'AKIDEXAMPLE00000000', secretAccessKey: 'x'.repeat(40) };
const deadline = Date.now() + Number(seconds) * 1000;
const payload = new Uint8Array(100).fill(120);
const batch = Array.from({ length: 500 }, (_, i) => ({ PartitionKey: `key-${i}`, Data: payload }));

async function worker(i) {
  const c = new K.KinesisClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1,
    ...(proto === 'h1' ? { requestHandler: new NodeHttpHandler() } : {}) });
  let n = 0;
  while (Date.now() < deadline) {
    if (mode === 'put') {
      const r = await c.send(new K.PutRecordsCommand({ StreamName: stream, Records: batch }));
      if (r.FailedRecordCount) throw new Error(`${r.FailedRecordCount} records failed`);
      n += 500;
    } else {
      const it = await c.send(new K.GetShardIteratorCommand({ StreamName: stream,
        ShardId: `shardId-00000000000${(i + Number(first)) % 4}`, ShardIteratorType: 'TRIM_HORIZON' }));
      const g = await c.send(new K.GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 10000 }));
      n += g.Records.length;
    }
  }
  c.destroy();
  return n;
}

const t0 = Date.now();
const counts = await Promise.all(Array.from({ length: Number(clients) }, (_, i) => worker(i)));
console.log(JSON.stringify({ records: counts.reduce((a, b) => a + b, 0), seconds: (Date.now() - t0) / 1000 }));
