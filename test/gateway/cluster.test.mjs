// The wire gateway with routing = cluster, through an unchanged AWS SDK for JavaScript v3 client.
//
// Run by test/t/098_cluster_gateway.pl, which starts three kinesis_glue nodes, a PL/Proxy proxy
// (kinesis_glue_cluster) and two gateways, and sets:
//   GW_CLUSTER  endpoint of a gateway with routing = cluster on the proxy database
//   GW_LOCAL    endpoint of a gateway with routing = local on node 0's database
//   GW_CLUSTER_SIGV4, GW_APP_KEY, GW_APP_SECRET   a routing = cluster gateway with auth = sigv4
//               and a key mapped to role app (098_cluster_gateway.pl checks the owner on the nodes)
// Every client runs with maxAttempts 1, so an error is the gateway's answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import * as K from '@aws-sdk/client-kinesis';

import { kinesis, rejects, enc, dec } from './lib.mjs';

const cluster = kinesis(process.env.GW_CLUSTER);
const clusterH1 = kinesis(process.env.GW_CLUSTER, undefined, true);
const local = kinesis(process.env.GW_LOCAL);
const SPACE = 2n ** 128n;
const NOT_ROUTED = /(is|are) not available through a gateway in routing = cluster mode/;
const node = (shardId) => shardId.slice(8, 11);     // shardId-NNN...: the node's 3 digits

// Every record of a shard, read with GetRecords pages of limit records from TRIM_HORIZON.
async function readShard(c, stream, shardId, limit) {
  const it = await c.send(new K.GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
  assert.match(it.ShardIterator, /^n\d+\./, 'a cluster iterator names its node');
  let iter = it.ShardIterator;
  const out = [];
  for (let i = 0; i < 100 && iter; i++) {
    const g = await c.send(new K.GetRecordsCommand({ ShardIterator: iter, Limit: limit }));
    assert.ok(g.Records.length <= limit);
    assert.equal(typeof g.MillisBehindLatest, 'number');
    out.push(...g.Records);
    if (g.Records.length === 0) break;
    iter = g.NextShardIterator;
  }
  return out;
}

test('a stream spanning the nodes: create, list, describe, put, read, split, delete', async () => {
  const name = 'gw-cluster';
  await cluster.send(new K.CreateStreamCommand({ StreamName: name, ShardCount: 6 }));
  // a node's error comes back as the node said it (not PL/Proxy's wrapping)
  const dup = await rejects(cluster.send(new K.CreateStreamCommand({ StreamName: name, ShardCount: 6 })), 'ResourceInUseException');
  assert.doesNotMatch(dup.message, /REMOTE ERROR|kinesis_cluster\./);
  assert.match(dup.message, /gw-cluster/);

  const ls = await cluster.send(new K.ListStreamsCommand({}));
  assert.deepEqual(ls.StreamNames, [name]);
  assert.equal(ls.StreamSummaries[0].StreamStatus, 'ACTIVE');

  const sum = (await cluster.send(new K.DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary;
  assert.equal(sum.StreamName, name);
  assert.equal(sum.OpenShardCount, 6);
  assert.equal(sum.RetentionPeriodHours, 24);
  assert.equal(sum.StreamModeDetails.StreamMode, 'PROVISIONED');
  assert.ok(sum.StreamCreationTimestamp instanceof Date);
  await rejects(cluster.send(new K.DescribeStreamSummaryCommand({ StreamName: 'gw-missing' })), 'ResourceNotFoundException');

  // every node's shards, paged with NextToken
  const p1 = await cluster.send(new K.ListShardsCommand({ StreamName: name, MaxResults: 4 }));
  assert.equal(p1.Shards.length, 4);
  assert.ok(p1.NextToken);
  const p2 = await cluster.send(new K.ListShardsCommand({ NextToken: p1.NextToken, MaxResults: 4 }));
  assert.equal(p2.NextToken, undefined);
  const shards = [...p1.Shards, ...p2.Shards];
  assert.deepEqual(shards.map((s) => node(s.ShardId)), ['000', '000', '001', '001', '002', '002']);
  // the cluster hash key ranges tile the key space
  const ranges = shards.map((s) => [BigInt(s.HashKeyRange.StartingHashKey), BigInt(s.HashKeyRange.EndingHashKey)])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
  assert.equal(ranges[0][0], 0n);
  assert.equal(ranges[5][1], SPACE - 1n);
  for (let i = 1; i < 6; i++) assert.equal(ranges[i][0], ranges[i - 1][1] + 1n);
  const ds = await clusterH1.send(new K.DescribeStreamCommand({ StreamName: name }));
  assert.deepEqual(ds.StreamDescription.Shards.map((s) => s.ShardId), shards.map((s) => s.ShardId));
  assert.equal(ds.StreamDescription.HasMoreShards, false);

  // one PutRecords batch spanning all nodes: 60 keyed records (the JSON fast path) ...
  const recs = [];
  for (let i = 0; i < 60; i++) recs.push({ PartitionKey: `key-${i}`, Data: enc(`record ${i}`) });
  const pr = await cluster.send(new K.PutRecordsCommand({ StreamName: name, Records: recs }));
  assert.equal(pr.FailedRecordCount, 0);
  assert.equal(pr.Records.length, 60);
  assert.deepEqual([...new Set(pr.Records.map((r) => node(r.ShardId)))].sort(), ['000', '001', '002']);
  // ... and one with an explicit hash key at each node's start (the unnest path)
  const third = SPACE / 3n;
  const explicit = [0n, third + 5n, 2n * third + 5n].map((h, i) => ({
    PartitionKey: `explicit-${i}`, ExplicitHashKey: h.toString(), Data: enc(`explicit ${i}`) }));
  const pe = await clusterH1.send(new K.PutRecordsCommand({ StreamName: name, Records: explicit }));
  assert.equal(pe.FailedRecordCount, 0);
  assert.deepEqual(pe.Records.map((r) => node(r.ShardId)), ['000', '001', '002'], 'each explicit key on its node');
  const one = await cluster.send(new K.PutRecordCommand({ StreamName: name, PartitionKey: 'single', Data: enc('single') }));
  assert.match(one.ShardId, /^shardId-\d{12}$/);

  // what each shard should hold, in put order
  const expected = new Map(shards.map((s) => [s.ShardId, []]));
  recs.forEach((r, i) => expected.get(pr.Records[i].ShardId).push([pr.Records[i].SequenceNumber, r.PartitionKey, dec(r.Data)]));
  explicit.forEach((r, i) => expected.get(pe.Records[i].ShardId).push([pe.Records[i].SequenceNumber, r.PartitionKey, dec(r.Data)]));
  expected.get(one.ShardId).push([one.SequenceNumber, 'single', 'single']);
  let total = 0;
  for (const s of shards) {
    const got = await readShard(s.ShardId.endsWith('1') ? clusterH1 : cluster, name, s.ShardId, 7);
    assert.deepEqual(got.map((r) => [r.SequenceNumber, r.PartitionKey, dec(r.Data)]), expected.get(s.ShardId),
      `shard ${s.ShardId} reads back exactly what was put in it`);
    for (const r of got) assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
    total += got.length;
  }
  assert.equal(total, 64);
  await rejects(cluster.send(new K.GetRecordsCommand({ ShardIterator: 'not-a-cluster-iterator' })), 'InvalidArgumentException');
  await rejects(cluster.send(new K.GetShardIteratorCommand({ StreamName: name, ShardId: 'shardId-1', ShardIteratorType: 'LATEST' })),
    'InvalidArgumentException');

  // resharding on a node; merging across nodes is refused by kinesis_cluster
  const s0 = shards[0];
  const mid = (BigInt(s0.HashKeyRange.StartingHashKey) + BigInt(s0.HashKeyRange.EndingHashKey)) / 2n;
  await cluster.send(new K.SplitShardCommand({ StreamName: name, ShardToSplit: s0.ShardId, NewStartingHashKey: mid.toString() }));
  const after = (await cluster.send(new K.ListShardsCommand({ StreamName: name }))).Shards;
  assert.equal(after.length, 8);
  assert.equal(after.filter((s) => s.ParentShardId === s0.ShardId).length, 2);
  assert.equal((await cluster.send(new K.ListShardsCommand({ StreamName: name, ShardFilter: { Type: 'AT_LATEST' } }))).Shards.length, 7);
  const e = await rejects(cluster.send(new K.MergeShardsCommand({ StreamName: name, ShardToMerge: shards[1].ShardId,
    AdjacentShardToMerge: shards[2].ShardId })), 'InvalidArgumentException');
  assert.match(e.message, /different nodes/);
  // the end of the split parent names its children
  const endIt = await cluster.send(new K.GetShardIteratorCommand({ StreamName: name, ShardId: s0.ShardId, ShardIteratorType: 'LATEST' }));
  const end = await cluster.send(new K.GetRecordsCommand({ ShardIterator: endIt.ShardIterator }));
  assert.deepEqual(end.ChildShards.map((c) => c.ShardId).sort(),
    after.filter((s) => s.ParentShardId === s0.ShardId).map((s) => s.ShardId).sort());

  await cluster.send(new K.DeleteStreamCommand({ StreamName: name }));
  assert.deepEqual((await cluster.send(new K.ListStreamsCommand({}))).StreamNames, []);
});

test('operations kinesis_cluster does not route answer InvalidArgumentException with the reason', async () => {
  await cluster.send(new K.CreateStreamCommand({ StreamName: 'gw-other', ShardCount: 3 }));
  const arn = (await cluster.send(new K.DescribeStreamSummaryCommand({ StreamName: 'gw-other' }))).StreamDescriptionSummary.StreamARN;
  for (const cmd of [
    new K.RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: 'c1' }),
    new K.AddTagsToStreamCommand({ StreamName: 'gw-other', Tags: { a: 'b' } }),
    new K.UpdateShardCountCommand({ StreamName: 'gw-other', TargetShardCount: 6, ScalingType: 'UNIFORM_SCALING' }),
    new K.DescribeLimitsCommand({}),
  ]) {
    const e = await rejects(cluster.send(cmd), 'InvalidArgumentException');
    assert.match(e.message, NOT_ROUTED);
    assert.match(e.message, new RegExp(cmd.constructor.name.replace(/Command$/, '')));
  }
  const m = await rejects(cluster.send(new K.CreateStreamCommand({ StreamName: 'gw-od', StreamModeDetails: { StreamMode: 'ON_DEMAND' } })),
    'InvalidArgumentException');
  assert.match(m.message, NOT_ROUTED);
  const t = await rejects(cluster.send(new K.CreateStreamCommand({ StreamName: 'gw-tags', ShardCount: 3, Tags: { a: 'b' } })),
    'InvalidArgumentException');
  assert.match(t.message, NOT_ROUTED);
  assert.deepEqual((await cluster.send(new K.ListStreamsCommand({}))).StreamNames, ['gw-other'], 'nothing refused was created');
  await cluster.send(new K.DeleteStreamCommand({ StreamName: 'gw-other' }));
});

test('routing = local is unchanged: kinesis.* on its own database, consumers included', async () => {
  await local.send(new K.CreateStreamCommand({ StreamName: 'gw-local', ShardCount: 1 }));
  const arn = (await local.send(new K.DescribeStreamSummaryCommand({ StreamName: 'gw-local' }))).StreamDescriptionSummary.StreamARN;
  const c = await local.send(new K.RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: 'c1' }));
  assert.equal(c.Consumer.ConsumerName, 'c1');
  const p = await local.send(new K.PutRecordCommand({ StreamName: 'gw-local', PartitionKey: 'k', Data: enc('local') }));
  assert.equal(p.ShardId, 'shardId-000000000000');
  const it = await local.send(new K.GetShardIteratorCommand({ StreamName: 'gw-local', ShardId: p.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
  assert.doesNotMatch(it.ShardIterator, /^n\d+\./);
  const g = await local.send(new K.GetRecordsCommand({ ShardIterator: it.ShardIterator }));
  assert.deepEqual(g.Records.map((r) => dec(r.Data)), ['local']);
  // a node-local stream is not a cluster stream
  const nf = await rejects(cluster.send(new K.DescribeStreamSummaryCommand({ StreamName: 'gw-local' })), 'ResourceNotFoundException');
  assert.match(nf.message, /^stream "gw-local" does not exist/);
});

test('auth = sigv4 on the proxy: a signed request runs as the key\'s role', async () => {
  const signed = kinesis(process.env.GW_CLUSTER_SIGV4,
    { accessKeyId: process.env.GW_APP_KEY, secretAccessKey: process.env.GW_APP_SECRET });
  await signed.send(new K.CreateStreamCommand({ StreamName: 'gw-signed', ShardCount: 3 }));
  const pr = await signed.send(new K.PutRecordsCommand({ StreamName: 'gw-signed',
    Records: [0, 1, 2, 3, 4, 5].map((i) => ({ PartitionKey: `s${i}`, Data: enc(`s${i}`) })) }));
  assert.equal(pr.FailedRecordCount, 0);
  await rejects(kinesis(process.env.GW_CLUSTER_SIGV4).send(new K.ListStreamsCommand({})), 'UnrecognizedClientException');
});
