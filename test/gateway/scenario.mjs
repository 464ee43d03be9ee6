// The differential scenario (test/t/097_gateway_differential.pl): the same
// AWS SDK for JavaScript v3 calls against kinesis_glue_gateway and against
// kinesis-local (kinesis-mock), each answer normalised where the two may
// legitimately differ, printed as one JSON array of {step, result}.
//
//   node scenario.mjs ENDPOINT STREAM_NAME
//
// Normalised: sequence numbers become "<seq>" (their values are
// implementation-defined; their order within a shard is checked by the
// "order" steps instead), shard iterators "<iterator>", timestamps
// "<recent>" when within an hour of now, the creation epoch in consumer ARNs,
// request ids and error messages (only the error type and HTTP status are
// compared).  Everything else is compared as it is: shard ids, hash key
// ranges, parent shards, record data and keys, error types, statuses.
import * as K from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const [endpoint, stream] = process.argv.slice(2);
const client = new K.KinesisClient({
  endpoint, region: 'us-east-1', maxAttempts: 1, requestHandler: new NodeHttpHandler(),
  credentials: { accessKeyId: 'AKIDDIFFERENTIAL0000', secretAccessKey: 'x'.repeat(40) },
});
const steps = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TWO_127 = 2n ** 127n;

function norm(v, key = '') {
  if (v instanceof Date) return Math.abs(Date.now() - v.getTime()) < 3600e3 ? '<recent>' : v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (Array.isArray(v)) return v.map((x) => norm(x, key));
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) {
      if (k === '$metadata' || v[k] === undefined) continue;
      o[k] = norm(v[k], k);
    }
    return o;
  }
  if (typeof v === 'string') {
    if (/SequenceNumber$/.test(key)) return '<seq>';
    if (/ShardIterator$/.test(key)) return '<iterator>';
    if (/ARN$/.test(key)) return v.replace(/:\d+$/, ':<epoch>');
  }
  return v;
}

// Run one call; record its normalised answer or error type and status.
async function step(name, command, pick = (x) => x) {
  let out;
  try {
    const r = await client.send(command);
    out = { ok: norm(pick(r)) };
    steps.push({ step: name, result: out });
    return r;
  } catch (e) {
    out = { error: e.name, status: e.$metadata?.httpStatusCode };
    steps.push({ step: name, result: out });
    return null;
  }
}

// Poll (not recorded) until the stream is ACTIVE.
async function waitActive() {
  for (let i = 0; i < 200; i++) {
    const d = await client.send(new K.DescribeStreamSummaryCommand({ StreamName: stream })).catch(() => null);
    if (d && d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') return;
    await sleep(50);
  }
  throw new Error('the stream did not become ACTIVE');
}

async function waitConsumer(arn, status) {
  for (let i = 0; i < 200; i++) {
    const d = await client.send(new K.DescribeStreamConsumerCommand({ ConsumerARN: arn })).catch(() => null);
    if (status ? d?.ConsumerDescription.ConsumerStatus === status : !d) return;
    await sleep(50);
  }
  throw new Error(`the consumer did not become ${status || 'gone'}`);
}

const seqOrder = (recs) => recs.every((r, i) => i === 0 || BigInt(r.SequenceNumber) > BigInt(recs[i - 1].SequenceNumber));
const shardsOf = (r) => r.Shards;
const data = (s) => new TextEncoder().encode(s);

// ---- streams ----
const t0 = new Date(Date.now() - 1000);
await step('create stream with 2 shards', new K.CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
await waitActive();
await step('create the same stream again', new K.CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
await step('create with ShardCount 0', new K.CreateStreamCommand({ StreamName: `${stream}-zero`, ShardCount: 0 }));
await step('describe stream summary', new K.DescribeStreamSummaryCommand({ StreamName: stream }),
  (r) => { const s = { ...r.StreamDescriptionSummary }; delete s.StreamCreationTimestamp; return s; });
await step('list shards', new K.ListShardsCommand({ StreamName: stream }), shardsOf);
await step('list streams contains it', new K.ListStreamsCommand({}), (r) => r.StreamNames.includes(stream));
await step('describe a missing stream', new K.DescribeStreamSummaryCommand({ StreamName: `${stream}-missing` }));

// ---- put and get ----
await step('put record, hash key 0', new K.PutRecordCommand({ StreamName: stream, PartitionKey: 'a',
  Data: data('first'), ExplicitHashKey: '0' }));
await step('put records with explicit hash keys', new K.PutRecordsCommand({ StreamName: stream, Records: [
  { PartitionKey: 'b', Data: data('second'), ExplicitHashKey: '1' },
  { PartitionKey: 'c', Data: data('third'), ExplicitHashKey: TWO_127.toString() },
  { PartitionKey: 'd', Data: data('fourth'), ExplicitHashKey: (2n ** 128n - 1n).toString() },
  { PartitionKey: 'e', Data: data('fifth'), ExplicitHashKey: (TWO_127 - 2n).toString() },
] }));
await step('put record to a missing stream', new K.PutRecordCommand({ StreamName: `${stream}-missing`,
  PartitionKey: 'a', Data: data('x') }));
await step('put record with a hash key out of range', new K.PutRecordCommand({ StreamName: stream,
  PartitionKey: 'a', Data: data('x'), ExplicitHashKey: (2n ** 128n).toString() }));

const iter = (ShardId, ShardIteratorType, extra = {}) =>
  new K.GetShardIteratorCommand({ StreamName: stream, ShardId, ShardIteratorType, ...extra });
let it = await step('iterator TRIM_HORIZON shard 0', iter('shardId-000000000000', 'TRIM_HORIZON'));
const all0 = await step('get records shard 0', new K.GetRecordsCommand({ ShardIterator: it?.ShardIterator }),
  (r) => ({ Records: r.Records, MillisBehindLatest: r.MillisBehindLatest, next: typeof r.NextShardIterator }));
steps.push({ step: 'shard 0 sequence numbers increase', result: all0 && seqOrder(all0.Records) });
const seq2 = all0?.Records[1]?.SequenceNumber;
it = await step('iterator AT_SEQUENCE_NUMBER', iter('shardId-000000000000', 'AT_SEQUENCE_NUMBER',
  { StartingSequenceNumber: seq2 }));
await step('get records at the 2nd', new K.GetRecordsCommand({ ShardIterator: it?.ShardIterator, Limit: 1 }),
  (r) => r.Records.map((x) => x.PartitionKey));
it = await step('iterator AFTER_SEQUENCE_NUMBER', iter('shardId-000000000000', 'AFTER_SEQUENCE_NUMBER',
  { StartingSequenceNumber: seq2 }));
await step('get records after the 2nd', new K.GetRecordsCommand({ ShardIterator: it?.ShardIterator }),
  (r) => r.Records.map((x) => x.PartitionKey));
it = await step('iterator LATEST', iter('shardId-000000000001', 'LATEST'));
await step('get records from LATEST', new K.GetRecordsCommand({ ShardIterator: it?.ShardIterator }),
  (r) => r.Records.length);
it = await step('iterator AT_TIMESTAMP before the puts', iter('shardId-000000000001', 'AT_TIMESTAMP',
  { Timestamp: t0 }));
await step('get records shard 1 from the timestamp', new K.GetRecordsCommand({ ShardIterator: it?.ShardIterator }),
  (r) => r.Records.map((x) => [x.PartitionKey, Buffer.from(x.Data).toString()]));
await step('iterator for a missing shard', iter('shardId-000000000009', 'TRIM_HORIZON'));
await step('iterator of an unknown type', iter('shardId-000000000000', 'SIDEWAYS'));
await step('iterator AT_SEQUENCE_NUMBER without a number', iter('shardId-000000000000', 'AT_SEQUENCE_NUMBER'));
await step('get records with a malformed iterator', new K.GetRecordsCommand({ ShardIterator: 'not-an-iterator' }));
await step('get records with Limit 0', new K.GetRecordsCommand({ ShardIterator: it?.ShardIterator, Limit: 0 }));

// ---- retention ----
await step('increase retention to 48 h', new K.IncreaseStreamRetentionPeriodCommand({ StreamName: stream,
  RetentionPeriodHours: 48 }));
await step('retention is 48 h', new K.DescribeStreamSummaryCommand({ StreamName: stream }),
  (r) => r.StreamDescriptionSummary.RetentionPeriodHours);
await step('increase retention to less', new K.IncreaseStreamRetentionPeriodCommand({ StreamName: stream,
  RetentionPeriodHours: 30 }));
await step('decrease retention to 24 h', new K.DecreaseStreamRetentionPeriodCommand({ StreamName: stream,
  RetentionPeriodHours: 24 }));
await step('decrease retention below 24 h', new K.DecreaseStreamRetentionPeriodCommand({ StreamName: stream,
  RetentionPeriodHours: 12 }));
await step('retention is 24 h', new K.DescribeStreamSummaryCommand({ StreamName: stream }),
  (r) => r.StreamDescriptionSummary.RetentionPeriodHours);

// ---- consumers ----
const summary = await client.send(new K.DescribeStreamSummaryCommand({ StreamName: stream }));
const StreamARN = summary.StreamDescriptionSummary.StreamARN;
const reg = await step('register consumer', new K.RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'c1' }),
  (r) => ({ ...r.Consumer, ConsumerStatus: undefined }));
if (reg) await waitConsumer(reg.Consumer.ConsumerARN, 'ACTIVE');
await step('register it again', new K.RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'c1' }));
await step('list consumers', new K.ListStreamConsumersCommand({ StreamARN }), (r) => r.Consumers);
await step('describe consumer by name', new K.DescribeStreamConsumerCommand({ StreamARN, ConsumerName: 'c1' }),
  (r) => r.ConsumerDescription);
await step('describe a missing consumer', new K.DescribeStreamConsumerCommand({ StreamARN, ConsumerName: 'c9' }));
await step('deregister consumer', new K.DeregisterStreamConsumerCommand({ StreamARN, ConsumerName: 'c1' }));
if (reg) await waitConsumer(reg.Consumer.ConsumerARN, null);
await step('no consumers left', new K.ListStreamConsumersCommand({ StreamARN }), (r) => r.Consumers);

// ---- resharding ----
await step('split shard 0 in the middle', new K.SplitShardCommand({ StreamName: stream,
  ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (2n ** 126n).toString() }));
await waitActive();
await step('split a missing shard', new K.SplitShardCommand({ StreamName: stream,
  ShardToSplit: 'shardId-000000000009', NewStartingHashKey: '5' }));
await step('shards after the split', new K.ListShardsCommand({ StreamName: stream }), shardsOf);
await step('merge the two children', new K.MergeShardsCommand({ StreamName: stream,
  ShardToMerge: 'shardId-000000000002', AdjacentShardToMerge: 'shardId-000000000003' }));
await waitActive();
await step('merge shards that are not adjacent', new K.MergeShardsCommand({ StreamName: stream,
  ShardToMerge: 'shardId-000000000001', AdjacentShardToMerge: 'shardId-000000000004' }));
await step('shards after the merge', new K.ListShardsCommand({ StreamName: stream }), shardsOf);
await step('open shards only', new K.ListShardsCommand({ StreamName: stream,
  ShardFilter: { Type: 'AT_LATEST' } }), (r) => r.Shards.map((s) => s.ShardId));
await step('put after the merge, hash key 0', new K.PutRecordCommand({ StreamName: stream, PartitionKey: 'f',
  Data: data('sixth'), ExplicitHashKey: '0' }), (r) => r.ShardId);
it = await step('iterator TRIM_HORIZON closed shard 0', iter('shardId-000000000000', 'TRIM_HORIZON'));
await step('read the closed shard', new K.GetRecordsCommand({ ShardIterator: it?.ShardIterator }),
  (r) => ({ keys: r.Records.map((x) => x.PartitionKey), next: r.NextShardIterator === undefined ? 'none' : 'some',
    children: (r.ChildShards || []).map((c) => c.ShardId) }));

await step('put at hash key 2^127 - 1', new K.PutRecordCommand({ StreamName: stream, PartitionKey: 'g',
  Data: data('seventh'), ExplicitHashKey: (TWO_127 - 1n).toString() }), (r) => r.ShardId);

// ---- deletion ----
await step('delete stream', new K.DeleteStreamCommand({ StreamName: stream }));
for (let i = 0; i < 200; i++) {
  const d = await client.send(new K.DescribeStreamSummaryCommand({ StreamName: stream })).catch(() => null);
  if (!d) break;
  await sleep(50);
}
await step('describe the deleted stream', new K.DescribeStreamSummaryCommand({ StreamName: stream }));
await step('delete it again', new K.DeleteStreamCommand({ StreamName: stream }));

client.destroy();
console.log(JSON.stringify(steps));
