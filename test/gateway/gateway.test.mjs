// Tests of kinesis_glue_gateway with unchanged AWS SDK for JavaScript v3 clients.
//
// Run by test/t/097_gateway.pl, which starts PostgreSQL, two gateways and sets:
//   GW_OPEN     endpoint of a gateway with auth = none (login: a superuser)
//   GW_SIGV4    endpoint of a gateway with auth = sigv4
//   GW_ADMIN_KEY / GW_ADMIN_SECRET    a key mapped to a role that may create streams
//   GW_READER_KEY / GW_READER_SECRET  a key mapped to a role with no rights on them
//   GW_FIREHOSE a Direct PUT delivery stream made in SQL
// Every client runs with maxAttempts 1, so an error is the gateway's answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';

import * as K from '@aws-sdk/client-kinesis';
import * as F from '@aws-sdk/client-firehose';
import { NodeHttpHandler, NodeHttp2Handler } from '@smithy/node-http-handler';

import { cborDecode, OPEN, SIGV4, dummy, admin, reader, kinesis, rejects, enc, dec, cbor, postH1, postH2 } from './lib.mjs';

// The whole Data Streams API through one client.
async function streamsFlow(c, name) {
  await c.send(new K.CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
  await rejects(c.send(new K.CreateStreamCommand({ StreamName: name, ShardCount: 2 })), 'ResourceInUseException');
  await rejects(c.send(new K.CreateStreamCommand({ StreamName: 'bad name!', ShardCount: 1 })), 'ValidationException');

  const sum = await c.send(new K.DescribeStreamSummaryCommand({ StreamName: name }));
  const d = sum.StreamDescriptionSummary;
  assert.equal(d.StreamName, name);
  assert.equal(d.StreamStatus, 'ACTIVE');
  assert.equal(d.OpenShardCount, 2);
  assert.equal(d.RetentionPeriodHours, 24);
  assert.equal(d.StreamModeDetails.StreamMode, 'PROVISIONED');
  assert.ok(d.StreamCreationTimestamp instanceof Date);
  assert.ok(Math.abs(d.StreamCreationTimestamp.getTime() - Date.now()) < 600000);
  const arn = d.StreamARN;
  assert.equal(arn, `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`);
  await rejects(c.send(new K.DescribeStreamSummaryCommand({ StreamName: name + '-missing' })), 'ResourceNotFoundException');

  const ds = await c.send(new K.DescribeStreamCommand({ StreamARN: arn }));
  assert.equal(ds.StreamDescription.Shards.length, 2);
  assert.equal(ds.StreamDescription.HasMoreShards, false);
  assert.equal(ds.StreamDescription.Shards[1].HashKeyRange.EndingHashKey, '340282366920938463463374607431768211455');

  const ls = await c.send(new K.ListStreamsCommand({}));
  assert.ok(ls.StreamNames.includes(name));
  assert.ok(ls.StreamSummaries.some((s) => s.StreamARN === arn));

  // pagination of ListShards by NextToken
  const p1 = await c.send(new K.ListShardsCommand({ StreamName: name, MaxResults: 1 }));
  assert.equal(p1.Shards.length, 1);
  assert.ok(p1.NextToken);
  const p2 = await c.send(new K.ListShardsCommand({ NextToken: p1.NextToken, MaxResults: 1 }));
  assert.deepEqual(p2.Shards.map((s) => s.ShardId), ['shardId-000000000001']);
  assert.equal(p2.NextToken, undefined);

  // put and read back
  const pr = await c.send(new K.PutRecordCommand({ StreamARN: arn, PartitionKey: 'k1', Data: enc('first') }));
  assert.match(pr.SequenceNumber, /^\d+$/);
  const prs = await c.send(new K.PutRecordsCommand({
    StreamName: name,
    Records: [
      { PartitionKey: 'k1', Data: enc('second') },
      { PartitionKey: 'k2', Data: new Uint8Array([0, 255, 1, 254]) },
      { PartitionKey: 'any', Data: enc('third'), ExplicitHashKey: '0' },
    ],
  }));
  assert.equal(prs.FailedRecordCount, 0);
  assert.equal(prs.Records.length, 3);
  assert.equal(prs.Records[2].ShardId, 'shardId-000000000000');
  await rejects(c.send(new K.PutRecordCommand({ StreamName: name, PartitionKey: '', Data: enc('x') })), 'ValidationException');
  await rejects(c.send(new K.PutRecordCommand({ StreamName: name + '-missing', PartitionKey: 'a', Data: enc('x') })), 'ResourceNotFoundException');

  const all = [];
  for (const s of ds.StreamDescription.Shards) {
    const it = await c.send(new K.GetShardIteratorCommand({ StreamName: name, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
    const gr = await c.send(new K.GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 100 }));
    assert.ok(gr.NextShardIterator);
    assert.equal(typeof gr.MillisBehindLatest, 'number');
    for (const r of gr.Records) {
      assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
      all.push({ shard: s.ShardId, seq: r.SequenceNumber, key: r.PartitionKey, data: Buffer.from(r.Data).toString('hex') });
    }
  }
  assert.equal(all.length, 4);
  assert.ok(all.some((r) => r.key === 'k1' && r.data === Buffer.from('first').toString('hex') && r.seq === pr.SequenceNumber));
  assert.ok(all.some((r) => r.key === 'k2' && r.data === '00ff01fe'));
  // AFTER_SEQUENCE_NUMBER on the first record's shard skips it
  const after = await c.send(new K.GetShardIteratorCommand({ StreamName: name, ShardId: pr.ShardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: pr.SequenceNumber }));
  const ga = await c.send(new K.GetRecordsCommand({ ShardIterator: after.ShardIterator }));
  assert.ok(ga.Records.every((r) => BigInt(r.SequenceNumber) > BigInt(pr.SequenceNumber)));
  // AT_TIMESTAMP an hour ago: everything in the shard; in the future: refused
  const at = await c.send(new K.GetShardIteratorCommand({ StreamName: name, ShardId: pr.ShardId, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Date.now() - 3600e3) }));
  assert.equal((await c.send(new K.GetRecordsCommand({ ShardIterator: at.ShardIterator }))).Records.length,
    all.filter((r) => r.shard === pr.ShardId).length);
  await rejects(c.send(new K.GetShardIteratorCommand({ StreamName: name, ShardId: pr.ShardId, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Date.now() + 3600e3) })), 'InvalidArgumentException');
  await rejects(c.send(new K.GetRecordsCommand({ ShardIterator: 'AAAA' + 'x'.repeat(64) })), 'InvalidArgumentException');
  await rejects(c.send(new K.GetShardIteratorCommand({ StreamName: name, ShardId: 'shardId-000000000009', ShardIteratorType: 'LATEST' })), 'ResourceNotFoundException');

  // retention
  await c.send(new K.IncreaseStreamRetentionPeriodCommand({ StreamName: name, RetentionPeriodHours: 48 }));
  assert.equal((await c.send(new K.DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary.RetentionPeriodHours, 48);
  await c.send(new K.DecreaseStreamRetentionPeriodCommand({ StreamARN: arn, RetentionPeriodHours: 24 }));
  await rejects(c.send(new K.DecreaseStreamRetentionPeriodCommand({ StreamName: name, RetentionPeriodHours: 1 })), 'InvalidArgumentException');

  // consumers
  const reg = await c.send(new K.RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: 'app1' }));
  assert.equal(reg.Consumer.ConsumerName, 'app1');
  assert.ok(reg.Consumer.ConsumerARN.startsWith(`${arn}/consumer/app1:`));
  const lc = await c.send(new K.ListStreamConsumersCommand({ StreamARN: arn }));
  assert.deepEqual(lc.Consumers.map((x) => x.ConsumerName), ['app1']);
  const dc = await c.send(new K.DescribeStreamConsumerCommand({ ConsumerARN: reg.Consumer.ConsumerARN }));
  assert.equal(dc.ConsumerDescription.StreamARN, arn);
  assert.equal(dc.ConsumerDescription.ConsumerName, 'app1');
  const dc2 = await c.send(new K.DescribeStreamConsumerCommand({ StreamARN: arn, ConsumerName: 'app1' }));
  assert.equal(dc2.ConsumerDescription.ConsumerARN, reg.Consumer.ConsumerARN);
  await rejects(c.send(new K.DescribeStreamConsumerCommand({ StreamARN: arn, ConsumerName: 'nobody' })), 'ResourceNotFoundException');
  await rejects(c.send(new K.DeleteStreamCommand({ StreamName: name })), 'ResourceInUseException');
  await c.send(new K.DeregisterStreamConsumerCommand({ ConsumerARN: reg.Consumer.ConsumerARN }));
  assert.equal((await c.send(new K.ListStreamConsumersCommand({ StreamARN: arn }))).Consumers.length, 0);

  // resharding
  await c.send(new K.SplitShardCommand({ StreamName: name, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: '85070591730234615865843651857942052864' }));
  await rejects(c.send(new K.SplitShardCommand({ StreamName: name, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: '1' })), 'ResourceNotFoundException').catch(async () => {});
  let shards = (await c.send(new K.ListShardsCommand({ StreamName: name }))).Shards;
  assert.equal(shards.length, 4);
  assert.equal(shards.find((s) => s.ShardId === 'shardId-000000000002').ParentShardId, 'shardId-000000000000');
  const open = (await c.send(new K.ListShardsCommand({ StreamName: name, ShardFilter: { Type: 'AT_LATEST' } }))).Shards;
  assert.deepEqual(open.map((s) => s.ShardId), ['shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003']);
  await c.send(new K.MergeShardsCommand({ StreamName: name, ShardToMerge: 'shardId-000000000002', AdjacentShardToMerge: 'shardId-000000000003' }));
  await rejects(c.send(new K.MergeShardsCommand({ StreamName: name, ShardToMerge: 'shardId-000000000001', AdjacentShardToMerge: 'shardId-000000000004' })), 'InvalidArgumentException');
  // reading a closed parent to its end names its children
  const pit = await c.send(new K.GetShardIteratorCommand({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
  const pend = await c.send(new K.GetRecordsCommand({ ShardIterator: pit.ShardIterator }));
  assert.equal(pend.NextShardIterator, undefined);
  assert.deepEqual(pend.ChildShards.map((s) => s.ShardId).sort(), ['shardId-000000000002', 'shardId-000000000003']);
  // with their parents and hash key ranges, which together cover the parent's
  assert.deepEqual(pend.ChildShards.map((s) => s.ParentShards), [['shardId-000000000000'], ['shardId-000000000000']]);
  assert.deepEqual(pend.ChildShards.map((s) => [s.HashKeyRange.StartingHashKey, s.HashKeyRange.EndingHashKey]),
    [['0', '85070591730234615865843651857942052863'], ['85070591730234615865843651857942052864', '170141183460469231731687303715884105727']]);
  const usc = await c.send(new K.UpdateShardCountCommand({ StreamName: name, TargetShardCount: 4, ScalingType: 'UNIFORM_SCALING' }));
  assert.equal(usc.CurrentShardCount, 2);
  assert.equal(usc.TargetShardCount, 4);
  assert.equal((await c.send(new K.DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary.OpenShardCount, 4);
  await rejects(c.send(new K.UpdateShardCountCommand({ StreamName: name, TargetShardCount: 100 })), 'InvalidArgumentException');

  await c.send(new K.UpdateStreamModeCommand({ StreamARN: arn, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
  assert.equal((await c.send(new K.DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary.StreamModeDetails.StreamMode, 'ON_DEMAND');
  await rejects(c.send(new K.SplitShardCommand({ StreamName: name, ShardToSplit: 'shardId-000000000001', NewStartingHashKey: '200000000000000000000000000000000000000' })), 'ValidationException');

  await c.send(new K.DeleteStreamCommand({ StreamARN: arn }));
  await rejects(c.send(new K.DescribeStreamCommand({ StreamName: name })), 'ResourceNotFoundException');
  await rejects(c.send(new K.DescribeStreamCommand({})), 'ValidationException');
}

test('JS v3 Kinesis client, default HTTP/2 handler: every operation and its errors', async () => {
  const c = kinesis(OPEN);
  try { await streamsFlow(c, 'js-h2'); } finally { c.destroy(); }
});

test('JS v3 Kinesis client, NodeHttpHandler (HTTP/1.1): every operation and its errors', async () => {
  const c = kinesis(OPEN, dummy, true);
  try { await streamsFlow(c, 'js-h1'); } finally { c.destroy(); }
});

// Tags, resource policies, encryption, enhanced monitoring, limits: stored and returned as given.
async function metadataFlow(c, name) {
  const arn = `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`;
  await c.send(new K.CreateStreamCommand({ StreamName: name, ShardCount: 1, Tags: { team: 'billing', env: 'prod' } }));
  let t = await c.send(new K.ListTagsForStreamCommand({ StreamName: name }));
  assert.deepEqual(t.Tags, [{ Key: 'env', Value: 'prod' }, { Key: 'team', Value: 'billing' }]);
  assert.equal(t.HasMoreTags, false);
  await c.send(new K.AddTagsToStreamCommand({ StreamARN: arn, Tags: { env: 'staging', Zb: '', 'a b': 'é ü' } }));
  t = await c.send(new K.ListTagsForStreamCommand({ StreamName: name, Limit: 2 }));
  assert.deepEqual(t.Tags.map((x) => x.Key), ['Zb', 'a b']);
  assert.equal(t.HasMoreTags, true);
  t = await c.send(new K.ListTagsForStreamCommand({ StreamName: name, ExclusiveStartTagKey: 'a b', Limit: 2 }));
  assert.deepEqual(t.Tags, [{ Key: 'env', Value: 'staging' }, { Key: 'team', Value: 'billing' }]);
  assert.equal(t.HasMoreTags, false);
  await c.send(new K.RemoveTagsFromStreamCommand({ StreamName: name, TagKeys: ['Zb', 'a b', 'missing'] }));
  await rejects(c.send(new K.AddTagsToStreamCommand({ StreamName: name, Tags: { 'bad!': 'x' } })), 'InvalidArgumentException');
  await rejects(c.send(new K.AddTagsToStreamCommand({ StreamName: name, Tags: { 'aws:k': 'x' } })), 'InvalidArgumentException');
  const many = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, 'v']));
  const e = await rejects(c.send(new K.AddTagsToStreamCommand({ StreamName: name, Tags: many })), 'LimitExceededException');
  assert.match(e.message, /more than 50 tags/);
  await rejects(c.send(new K.ListTagsForStreamCommand({ StreamName: name, Limit: 51 })), 'ValidationException');
  await rejects(c.send(new K.ListTagsForStreamCommand({ StreamName: name + '-missing' })), 'ResourceNotFoundException');
  // TagResource & co. by stream ARN and by consumer ARN, apart from each other
  await c.send(new K.TagResourceCommand({ ResourceARN: arn, Tags: { cost: '7' } }));
  const reg = await c.send(new K.RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: 'tagged' }));
  const carn = reg.Consumer.ConsumerARN;
  await c.send(new K.TagResourceCommand({ ResourceARN: carn, Tags: { owner: 'app' } }));
  assert.deepEqual((await c.send(new K.ListTagsForResourceCommand({ ResourceARN: carn }))).Tags, [{ Key: 'owner', Value: 'app' }]);
  assert.deepEqual((await c.send(new K.ListTagsForResourceCommand({ ResourceARN: arn }))).Tags.map((x) => x.Key), ['cost', 'env', 'team']);
  await c.send(new K.UntagResourceCommand({ ResourceARN: carn, TagKeys: ['owner'] }));
  assert.deepEqual((await c.send(new K.ListTagsForResourceCommand({ ResourceARN: carn }))).Tags, []);
  await rejects(c.send(new K.ListTagsForResourceCommand({ ResourceARN: carn.replace('/tagged:', '/nobody:') })), 'ResourceNotFoundException');
  // resource policies
  const policy = '{"Version": "2012-10-17",  "Statement": []}';
  assert.equal((await c.send(new K.GetResourcePolicyCommand({ ResourceARN: arn }))).Policy, '{}');
  await c.send(new K.PutResourcePolicyCommand({ ResourceARN: arn, Policy: policy }));
  assert.equal((await c.send(new K.GetResourcePolicyCommand({ ResourceARN: arn }))).Policy, policy);
  await c.send(new K.PutResourcePolicyCommand({ ResourceARN: carn, Policy: '{"Id": "c"}' }));
  assert.equal((await c.send(new K.GetResourcePolicyCommand({ ResourceARN: carn }))).Policy, '{"Id": "c"}');
  await rejects(c.send(new K.PutResourcePolicyCommand({ ResourceARN: arn, Policy: '[1, 2]' })), 'InvalidArgumentException');
  await c.send(new K.DeleteResourcePolicyCommand({ ResourceARN: carn }));
  await rejects(c.send(new K.DeleteResourcePolicyCommand({ ResourceARN: carn })), 'ResourceNotFoundException');
  await rejects(c.send(new K.GetResourcePolicyCommand({ ResourceARN: arn.replace(name, name + '-missing') })), 'ResourceNotFoundException');
  // encryption and enhanced monitoring, reflected in DescribeStream(Summary)
  let d = (await c.send(new K.DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary;
  assert.equal(d.EncryptionType, 'NONE');
  assert.equal(d.KeyId, undefined);
  assert.deepEqual(d.EnhancedMonitoring, [{ ShardLevelMetrics: [] }]);
  await c.send(new K.StartStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }));
  const m = await c.send(new K.EnableEnhancedMonitoringCommand({ StreamName: name, ShardLevelMetrics: ['IncomingBytes', 'IteratorAgeMilliseconds'] }));
  assert.deepEqual(m.CurrentShardLevelMetrics, []);
  assert.deepEqual(m.DesiredShardLevelMetrics, ['IncomingBytes', 'IteratorAgeMilliseconds']);
  assert.equal(m.StreamARN, arn);
  const all = await c.send(new K.EnableEnhancedMonitoringCommand({ StreamARN: arn, ShardLevelMetrics: ['ALL'] }));
  assert.equal(all.DesiredShardLevelMetrics.length, 7);
  const off = await c.send(new K.DisableEnhancedMonitoringCommand({ StreamName: name, ShardLevelMetrics: ['IncomingBytes', 'OutgoingBytes'] }));
  assert.equal(off.CurrentShardLevelMetrics.length, 7);
  assert.deepEqual(off.DesiredShardLevelMetrics, ['IncomingRecords', 'OutgoingRecords', 'WriteProvisionedThroughputExceeded',
    'ReadProvisionedThroughputExceeded', 'IteratorAgeMilliseconds']);
  await rejects(c.send(new K.EnableEnhancedMonitoringCommand({ StreamName: name, ShardLevelMetrics: ['Nope'] })), 'ValidationException');
  d = (await c.send(new K.DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary;
  assert.equal(d.EncryptionType, 'KMS');
  assert.equal(d.KeyId, 'alias/aws/kinesis');
  assert.deepEqual(d.EnhancedMonitoring[0].ShardLevelMetrics, off.DesiredShardLevelMetrics);
  const full = (await c.send(new K.DescribeStreamCommand({ StreamName: name }))).StreamDescription;
  assert.equal(full.EncryptionType, 'KMS');
  assert.deepEqual(full.EnhancedMonitoring, d.EnhancedMonitoring);
  await rejects(c.send(new K.StopStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: 'other' })), 'InvalidArgumentException');
  await c.send(new K.StopStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }));
  assert.equal((await c.send(new K.DescribeStreamCommand({ StreamName: name }))).StreamDescription.EncryptionType, 'NONE');
  // limits: this stream's shard is counted
  const l1 = await c.send(new K.DescribeLimitsCommand({}));
  assert.equal(l1.ShardLimit, 20000);
  assert.equal(l1.OnDemandStreamCountLimit, 50);
  await c.send(new K.DeleteStreamCommand({ StreamName: name, EnforceConsumerDeletion: true }));
  const l2 = await c.send(new K.DescribeLimitsCommand({}));
  assert.equal(l2.OpenShardCount, l1.OpenShardCount - 1);
  // a stream re-created under the name starts without the old tags
  await c.send(new K.CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  assert.deepEqual((await c.send(new K.ListTagsForStreamCommand({ StreamName: name }))).Tags, []);
  await c.send(new K.DeleteStreamCommand({ StreamName: name }));
}

for (const h1 of [false, true]) {
  test(`JS v3 Kinesis client (${h1 ? 'HTTP/1.1' : 'HTTP/2'}): tags, resource policies, encryption, enhanced monitoring, limits`, async () => {
    const c = kinesis(OPEN, dummy, h1);
    try { await metadataFlow(c, `meta-${h1 ? 'h1' : 'h2'}`); } finally { c.destroy(); }
  });
}

test('account settings, record size and warm throughput: recorded, or accepted only as far as they hold', async () => {
  const c = kinesis(OPEN, dummy, true);
  try {
    const before = await c.send(new K.DescribeAccountSettingsCommand({}));
    assert.equal(before.MinimumThroughputBillingCommitment.Status, 'DISABLED');
    const on = await c.send(new K.UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status: 'ENABLED' } }));
    assert.equal(on.MinimumThroughputBillingCommitment.Status, 'ENABLED');
    assert.ok(on.MinimumThroughputBillingCommitment.StartedAt instanceof Date);
    assert.equal((await c.send(new K.DescribeAccountSettingsCommand({}))).MinimumThroughputBillingCommitment.StartedAt.getTime(),
      on.MinimumThroughputBillingCommitment.StartedAt.getTime());
    const off = await c.send(new K.UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status: 'DISABLED' } }));
    assert.equal(off.MinimumThroughputBillingCommitment.Status, 'DISABLED');
    assert.ok(off.MinimumThroughputBillingCommitment.EndedAt instanceof Date);
    await rejects(c.send(new K.UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status: 'MAYBE' } })), 'ValidationException');

    await c.send(new K.CreateStreamCommand({ StreamName: 'record-size', ShardCount: 1, MaxRecordSizeInKiB: 1024 }));
    assert.equal((await c.send(new K.DescribeStreamSummaryCommand({ StreamName: 'record-size' }))).StreamDescriptionSummary.MaxRecordSizeInKiB, 1024);
    const arn = 'arn:aws:kinesis:us-east-1:000000000000:stream/record-size';
    await c.send(new K.UpdateMaxRecordSizeCommand({ StreamARN: arn, MaxRecordSizeInKiB: 1024 }));
    await rejects(c.send(new K.UpdateMaxRecordSizeCommand({ StreamARN: arn, MaxRecordSizeInKiB: 2048 })), 'InvalidArgumentException');
    await rejects(c.send(new K.UpdateMaxRecordSizeCommand({ StreamARN: arn, MaxRecordSizeInKiB: 20000 })), 'ValidationException');
    await rejects(c.send(new K.UpdateMaxRecordSizeCommand({ StreamARN: arn.replace('record-size', 'nope'), MaxRecordSizeInKiB: 1024 })), 'ResourceNotFoundException');
    await rejects(c.send(new K.CreateStreamCommand({ StreamName: 'record-size-2', ShardCount: 1, MaxRecordSizeInKiB: 4096 })), 'InvalidArgumentException');
    await rejects(c.send(new K.UpdateStreamWarmThroughputCommand({ StreamARN: arn, WarmThroughputMiBps: 100 })), 'InvalidArgumentException');
    await rejects(c.send(new K.CreateStreamCommand({ StreamName: 'warm', StreamModeDetails: { StreamMode: 'ON_DEMAND' }, WarmThroughputMiBps: 100 })), 'InvalidArgumentException');
    await rejects(c.send(new K.DescribeStreamSummaryCommand({ StreamName: 'warm' })), 'ResourceNotFoundException');
    await c.send(new K.DeleteStreamCommand({ StreamName: 'record-size' }));
  } finally { c.destroy(); }
});

test('ListStreamConsumers and ListDeliveryStreams page', async () => {
  const c = kinesis(OPEN, dummy, true);
  const f = new F.FirehoseClient({ endpoint: OPEN, region: 'us-east-1', credentials: dummy, maxAttempts: 1,
    requestHandler: new NodeHttpHandler() });
  try {
    await c.send(new K.CreateStreamCommand({ StreamName: 'page-consumers', ShardCount: 1 }));
    const arn = 'arn:aws:kinesis:us-east-1:000000000000:stream/page-consumers';
    for (const n of ['c-a', 'c-b', 'c-c']) await c.send(new K.RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: n }));
    const names = [];
    let token;
    do {
      const r = await c.send(new K.ListStreamConsumersCommand({ StreamARN: arn, MaxResults: 2, ...(token ? { NextToken: token } : {}) }));
      assert.ok(r.Consumers.length <= 2);
      names.push(...r.Consumers.map((x) => x.ConsumerName));
      token = r.NextToken;
    } while (token);
    assert.deepEqual(names, ['c-a', 'c-b', 'c-c']);
    // StreamCreationTimestamp picks the stream of that name created then, or none
    const created = (await c.send(new K.DescribeStreamSummaryCommand({ StreamARN: arn }))).StreamDescriptionSummary.StreamCreationTimestamp;
    assert.equal((await c.send(new K.ListStreamConsumersCommand({ StreamARN: arn, StreamCreationTimestamp: created }))).Consumers.length, 3);
    await rejects(c.send(new K.ListStreamConsumersCommand({ StreamARN: arn, StreamCreationTimestamp: new Date(created.getTime() - 60000) })),
      'ResourceNotFoundException');
    await rejects(c.send(new K.ListStreamConsumersCommand({ StreamARN: arn, NextToken: Buffer.from('other\nc-a').toString('base64') })), 'InvalidArgumentException');
    await c.send(new K.DeleteStreamCommand({ StreamName: 'page-consumers', EnforceConsumerDeletion: true }));

    psql("SELECT firehose.create_delivery_stream('gw-fh-page', 'fh_out')");
    const all = (await f.send(new F.ListDeliveryStreamsCommand({ Limit: 100 }))).DeliveryStreamNames;
    assert.ok(all.includes(process.env.GW_FIREHOSE) && all.includes('gw-fh-page'));
    const seen = [];
    let start;
    for (;;) {
      const r = await f.send(new F.ListDeliveryStreamsCommand({ Limit: 1, ...(start ? { ExclusiveStartDeliveryStreamName: start } : {}) }));
      assert.equal(r.DeliveryStreamNames.length, 1);
      seen.push(r.DeliveryStreamNames[0]);
      start = r.DeliveryStreamNames[0];
      if (!r.HasMoreDeliveryStreams) break;
    }
    assert.deepEqual(seen, all);
    psql("SELECT firehose.delete_delivery_stream('gw-fh-page')");
  } finally { c.destroy(); f.destroy(); }
});

for (const h1 of [false, true]) {
  test(`large bodies (${h1 ? 'HTTP/1.1' : 'HTTP/2 flow control'}): a 1000 KiB record and 500 x 8 KB, read back in one GetRecords`, async () => {
    const c = kinesis(OPEN, dummy, h1);
    const name = `big-${h1 ? 'h1' : 'h2'}`;
    try {
      await c.send(new K.CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      const big = new Uint8Array(1000 * 1024).map((_, i) => i % 251);
      const p = await c.send(new K.PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: big }));
      const recs = Array.from({ length: 500 }, (_, i) => ({ PartitionKey: `k${i}`, Data: new Uint8Array(8000).fill(i % 256) }));
      assert.equal((await c.send(new K.PutRecordsCommand({ StreamName: name, Records: recs }))).FailedRecordCount, 0);
      const it = await c.send(new K.GetShardIteratorCommand({ StreamName: name, ShardId: p.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
      const g = await c.send(new K.GetRecordsCommand({ ShardIterator: it.ShardIterator }));
      assert.equal(g.Records.length, 501);
      assert.ok(Buffer.from(g.Records[0].Data).equals(Buffer.from(big)));
      assert.ok(g.Records.slice(1).every((r, i) => r.Data.length === 8000 && r.Data[0] === i % 256));
      await c.send(new K.DeleteStreamCommand({ StreamName: name }));
    } finally { c.destroy(); }
  });
}

test('ListStreams pages by NextToken', async () => {
  const c = kinesis(OPEN, dummy, true);
  try {
    for (const n of ['page-a', 'page-b', 'page-c']) await c.send(new K.CreateStreamCommand({ StreamName: n, ShardCount: 1 }));
    const names = [];
    let token;
    do {
      const r = await c.send(new K.ListStreamsCommand({ Limit: 1, ...(token ? { NextToken: token } : {}) }));
      assert.ok(r.StreamNames.length <= 1);
      names.push(...r.StreamNames);
      token = r.NextToken;
      assert.equal(r.HasMoreStreams, Boolean(token));
    } while (token);
    assert.deepEqual(names.filter((n) => n.startsWith('page-')), ['page-a', 'page-b', 'page-c']);
    for (const n of ['page-a', 'page-b', 'page-c']) await c.send(new K.DeleteStreamCommand({ StreamName: n }));
  } finally { c.destroy(); }
});

for (const h1 of [false, true]) {
  // The Firehose client's default handler is HTTP/1.1 (unlike Kinesis'): h2 is asked for explicitly.
  test(`JS v3 Firehose client (${h1 ? 'HTTP/1.1' : 'HTTP/2'}): Direct PUT, describe, list, delete, errors`, async () => {
    const f = new F.FirehoseClient({
      endpoint: OPEN, region: 'us-east-1', credentials: dummy, maxAttempts: 1,
      requestHandler: h1 ? new NodeHttpHandler() : new NodeHttp2Handler(),
    });
    const name = process.env.GW_FIREHOSE;
    try {
      const one = await f.send(new F.PutRecordCommand({ DeliveryStreamName: name, Record: { Data: enc('{"id": 1}') } }));
      assert.match(one.RecordId, /^\d+$/);
      const b = await f.send(new F.PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: enc('{"id": 2}') }, { Data: enc('{"id": 3}') }] }));
      assert.equal(b.FailedPutCount, 0);
      assert.equal(b.RequestResponses.length, 2);
      assert.ok(b.RequestResponses.every((x) => /^\d+$/.test(x.RecordId)));
      const d = await f.send(new F.DescribeDeliveryStreamCommand({ DeliveryStreamName: name }));
      assert.equal(d.DeliveryStreamDescription.DeliveryStreamName, name);
      assert.equal(d.DeliveryStreamDescription.DeliveryStreamType, 'DirectPut');
      assert.equal(d.DeliveryStreamDescription.DeliveryStreamStatus, 'ACTIVE');
      const l = await f.send(new F.ListDeliveryStreamsCommand({}));
      assert.ok(l.DeliveryStreamNames.includes(name));
      await rejects(f.send(new F.DescribeDeliveryStreamCommand({ DeliveryStreamName: 'nope' })), 'ResourceNotFoundException');
      await rejects(f.send(new F.PutRecordBatchCommand({ DeliveryStreamName: name, Records: [] })), 'InvalidArgumentException');
      await rejects(f.send(new F.CreateDeliveryStreamCommand({ DeliveryStreamName: 'x', DeliveryStreamType: 'DirectPut' })), 'InvalidArgumentException');
      const doomed = `gw-fh-delete-${h1 ? 'h1' : 'h2'}`;
      psql(`SELECT firehose.create_delivery_stream('${doomed}', 'fh_out')`);
      await f.send(new F.DeleteDeliveryStreamCommand({ DeliveryStreamName: doomed }));
      await rejects(f.send(new F.DescribeDeliveryStreamCommand({ DeliveryStreamName: doomed })), 'ResourceNotFoundException');
      await rejects(f.send(new F.DeleteDeliveryStreamCommand({ DeliveryStreamName: doomed })), 'ResourceNotFoundException');
    } finally { f.destroy(); }
  });
}

// ---- hand-built CBOR (application/x-amz-cbor-1.1), as the Java SDK sends it (lib.mjs) ----

for (const [label, post] of [['HTTP/1.1', postH1], ['HTTP/2', postH2]]) {
  test(`hand-built CBOR requests over ${label}: byte strings, tag 1 timestamps, CBOR errors`, async () => {
    const T = 'Kinesis_20131202.';
    const name = `cbor-${label === 'HTTP/2' ? 'h2' : 'h1'}`;
    let r = await post(OPEN, T + 'CreateStream', cbor({ StreamName: name, ShardCount: 1 }));
    assert.equal(r.status, 200);
    assert.equal(r.type, 'application/x-amz-cbor-1.1');
    const before = new Date(Date.now() - 60000);
    const payload = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]);
    r = await post(OPEN, T + 'PutRecord', cbor({ StreamName: name, PartitionKey: 'p', Data: payload }));
    assert.equal(r.status, 200);
    const put = cborDecode(r.body);
    assert.equal(put.ShardId, 'shardId-000000000000');
    r = await post(OPEN, T + 'GetShardIterator', cbor({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: before }));
    assert.equal(r.status, 200);
    const it = cborDecode(r.body).ShardIterator;
    r = await post(OPEN, T + 'GetRecords', cbor({ ShardIterator: it }));
    assert.equal(r.status, 200);
    // the raw bytes: Data is a byte string (major type 2), the timestamp is tag 1 (0xc1)
    assert.ok(r.body.includes(Buffer.concat([Buffer.from([0x45]), payload])), 'Data as a 5-byte CBOR byte string');
    assert.ok(r.body.includes(Buffer.from([0xc1])), 'a tag 1 timestamp');
    const got = cborDecode(r.body);
    assert.equal(got.Records.length, 1);
    assert.deepEqual(Buffer.from(got.Records[0].Data), payload);
    assert.equal(got.Records[0].SequenceNumber, put.SequenceNumber);
    const ms = got.Records[0].ApproximateArrivalTimestamp.epochMillis;
    assert.ok(Math.abs(ms - Date.now()) < 60000, `arrival ${ms} is epoch milliseconds`);
    // errors come back as CBOR maps
    r = await post(OPEN, T + 'DescribeStreamSummary', cbor({ StreamName: 'no-such-stream' }));
    assert.equal(r.status, 400);
    assert.equal(r.type, 'application/x-amz-cbor-1.1');
    assert.equal(cborDecode(r.body).__type, 'ResourceNotFoundException');
    r = await post(OPEN, T + 'PutRecord', Buffer.from([0xbf, 0x61]));
    assert.equal(r.status, 400);
    assert.equal(cborDecode(r.body).__type, 'SerializationException');
    r = await post(OPEN, T + 'NoSuchOperation', cbor({}));
    assert.equal(cborDecode(r.body).__type, 'UnknownOperationException');
    r = await post(OPEN, T + 'DeleteStream', cbor({ StreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${name}` }));
    assert.equal(r.status, 200);
  });
}

test('hand-built CBOR (HTTP/2): CreateStream with Tags, ListTagsForStream, DescribeLimits', async () => {
  const T = 'Kinesis_20131202.';
  let r = await postH2(OPEN, T + 'CreateStream', cbor({ StreamName: 'cbor-tags', ShardCount: 1, Tags: { k: 'v', a: '' } }));
  assert.equal(r.status, 200);
  r = await postH2(OPEN, T + 'ListTagsForStream', cbor({ StreamName: 'cbor-tags', Limit: 1 }));
  assert.equal(r.type, 'application/x-amz-cbor-1.1');
  assert.deepEqual(cborDecode(r.body), { Tags: [{ Key: 'a', Value: '' }], HasMoreTags: true });
  r = await postH2(OPEN, T + 'DescribeLimits', cbor({}));
  assert.equal(cborDecode(r.body).ShardLimit, 20000);
  r = await postH2(OPEN, T + 'AddTagsToStream', cbor({ StreamName: 'cbor-tags', Tags: { 'aws:x': 'y' } }));
  assert.equal(r.status, 400);
  assert.equal(cborDecode(r.body).__type, 'InvalidArgumentException');
  r = await postH2(OPEN, T + 'DeleteStream', cbor({ StreamName: 'cbor-tags' }));
  assert.equal(r.status, 200);
});

test('malformed JSON bodies get SerializationException, the gateway stays up', async () => {
  const J = 'application/x-amz-json-1.1';
  for (const body of ['{', '[]', '{"StreamName": 1}x', '\u0000\u0001', '{"Records": "nope", "StreamName": "s"}']) {
    const r = await postH1(OPEN, 'Kinesis_20131202.PutRecords', Buffer.from(body), J);
    assert.equal(r.status, 400, body);
    assert.match(JSON.parse(r.body).__type, /SerializationException|ValidationException/);
  }
  const r = await postH1(OPEN, 'Kinesis_20131202.PutRecord', Buffer.from('{"StreamName": "s", "PartitionKey": "k", "Data": "not base64!"}'), J);
  assert.equal(JSON.parse(r.body).__type, 'SerializationException');
  const ok = await postH1(OPEN, 'Kinesis_20131202.ListStreams', Buffer.from('{}'), J);
  assert.equal(ok.status, 200);
});

// PutRecords' JSON fast path (yajl, no json-c tree) takes only bodies of the plain shape; a
// member with a number ("__slow": 0, ignored by PutRecords) sends the same body through json-c.
// Both must answer alike, and the records of the fast path must read back as sent.
test('PutRecords JSON: the fast path answers as the json-c path does', async () => {
  const J = 'application/x-amz-json-1.1';
  const c = kinesis(OPEN);
  const s = `fastpath-${Date.now()}`;
  await c.send(new K.CreateStreamCommand({ StreamName: s, ShardCount: 1 }));
  const R = (k, d) => `{"PartitionKey":${JSON.stringify(k)},"Data":${JSON.stringify(d)}}`;
  const keys = ['plain', "<>&'", 'sl/ash', 'üñí 😀', 'x'.repeat(256)]; // no escapes: the fast path
  const slowKeys = ['q"uo\\te', 'nl\n', 'ctl\u0001']; // escapes: json-c
  const bodies = [
    `{"StreamName":"${s}","Records":[${keys.map((k, i) => R(k, Buffer.from(`d${i}\u0000\u00ff`).toString('base64'))).join(',')},${R('e', '')}]}`,
    `{"StreamName":"${s}","Records":[${slowKeys.map((k) => R(k, 'QQ==')).join(',')}]}`,
    `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/${s}","Records":[${R('a', 'QQ==')}],"Other":"x"}`,
    `{"StreamName":"${s}","Records":[{"PartitionKey":"k","Data":"QQ==","ExplicitHashKey":"7","Extra":"e"}]}`,
    `{"StreamName":"${s}","Records":[{"PartitionKey":"k","Data":"QQ==","ExplicitHashKey":"x"}]}`,
    `{"StreamName":"other","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/${s}","Records":[${R('a', 'QQ==')}]}`,
    `{"StreamName":"${s}x","Records":[${R('a', 'QQ==')}]}`,
    `{"StreamName":"${s}","Records":[]}`,
    `{"StreamName":"${s}","Records":[${R('a', 'QQ=')}]}`,
    `{"StreamName":"${s}","Records":[{"Data":"QQ=="}]}`,
    `{"StreamName":"${s}","Records":[${R('', 'QQ==')}]}`,
    `{"StreamName":"${s}","Records":[${R('x'.repeat(257), 'QQ==')}]}`,
    `{"StreamName":"${s}","Records":[${Array.from({ length: 501 }, (_, i) => R(`k${i}`, 'QQ==')).join(',')}]}`,
  ];
  const answer = async (body) => {
    const r = await postH1(OPEN, 'Kinesis_20131202.PutRecords', Buffer.from(body), J);
    return `${r.status} ${r.body.toString().replace(/"SequenceNumber":"\d+"/g, '"SequenceNumber":"S"')}`;
  };
  for (const body of bodies)
    assert.equal(await answer(body), await answer(`{"__slow":0,${body.slice(1)}`), body.slice(0, 200));
  const it = await c.send(new K.GetShardIteratorCommand({ StreamName: s, ShardId: 'shardId-000000000000',
    ShardIteratorType: 'TRIM_HORIZON' }));
  const g = await c.send(new K.GetRecordsCommand({ ShardIterator: it.ShardIterator }));
  const first = g.Records.slice(0, keys.length + 1);
  assert.deepEqual(first.map((x) => x.PartitionKey), [...keys, 'e']);
  assert.deepEqual(first.map((x) => Buffer.from(x.Data).toString()),
    [...keys.map((_, i) => `d${i}\u0000\u00ff`), '']);
  await c.send(new K.DeleteStreamCommand({ StreamName: s }));
});

// ---- SigV4 (keys: admin() and reader() of lib.mjs) ----

for (const h1 of [false, true]) {
  test(`SigV4 (${h1 ? 'HTTP/1.1' : 'HTTP/2 :authority'}): good and bad signatures, keys map to roles, GRANTs decide`, async () => {
    const name = `signed-${h1 ? 'h1' : 'h2'}`;
    const a = kinesis(SIGV4, admin(), h1);
    const rd = kinesis(SIGV4, reader(), h1);
    const bad = kinesis(SIGV4, { ...admin(), secretAccessKey: 'wrong'.repeat(8) }, h1);
    const unknown = kinesis(SIGV4, { accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'y'.repeat(40) }, h1);
    const skewed = kinesis(SIGV4, admin(), h1, { systemClockOffset: -900000 });
    try {
      await a.send(new K.CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      const p = await a.send(new K.PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: enc('signed') }));
      assert.match(p.SequenceNumber, /^\d+$/);
      await rejects(bad.send(new K.ListStreamsCommand({})), 'InvalidSignatureException');
      await rejects(unknown.send(new K.ListStreamsCommand({})), 'UnrecognizedClientException');
      await rejects(skewed.send(new K.ListStreamsCommand({})), 'InvalidSignatureException');
      // the reader's role has no INSERT on the stream's records: refused by PostgreSQL
      const e = await rejects(rd.send(new K.PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: enc('no') })), 'AccessDeniedException');
      assert.match(e.message, /permission denied|AccessDenied/i);
      await rejects(rd.send(new K.DeleteStreamCommand({ StreamName: name })), 'AccessDeniedException');
      // but it may list
      assert.ok((await rd.send(new K.ListStreamsCommand({}))).StreamNames.includes(name));
      if (!h1) {
        // SubscribeToShard runs as the key's role on its own connection too
        const arn = `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`;
        const reg = await a.send(new K.RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: 'efo' }));
        await rejects(rd.send(new K.SubscribeToShardCommand({ ConsumerARN: reg.Consumer.ConsumerARN,
          ShardId: 'shardId-000000000000', StartingPosition: { Type: 'TRIM_HORIZON' } })), 'AccessDeniedException');
        const sub = await a.send(new K.SubscribeToShardCommand({ ConsumerARN: reg.Consumer.ConsumerARN,
          ShardId: 'shardId-000000000000', StartingPosition: { Type: 'TRIM_HORIZON' } }));
        for await (const ev of sub.EventStream) {
          assert.equal(dec(ev.SubscribeToShardEvent.Records[0].Data), 'signed');
          break;
        }
        await a.send(new K.DeregisterStreamConsumerCommand({ ConsumerARN: reg.Consumer.ConsumerARN }));
      }
      await a.send(new K.DeleteStreamCommand({ StreamName: name }));
    } finally { for (const c of [a, rd, bad, unknown, skewed]) c.destroy(); }
  });
}

test('SigV4: only the stream owner changes tags, policies, encryption and monitoring; a role with no rights may not even read them', async () => {
  const a = kinesis(SIGV4, admin(), true);
  const rd = kinesis(SIGV4, reader(), true);
  const name = 'signed-meta';
  const arn = `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`;
  try {
    await a.send(new K.CreateStreamCommand({ StreamName: name, ShardCount: 1, Tags: { team: 'admins' } }));
    await a.send(new K.PutResourcePolicyCommand({ ResourceARN: arn, Policy: '{"Id": "p"}' }));
    await rejects(rd.send(new K.AddTagsToStreamCommand({ StreamName: name, Tags: { pwned: '1' } })), 'AccessDeniedException');
    await rejects(rd.send(new K.RemoveTagsFromStreamCommand({ StreamName: name, TagKeys: ['team'] })), 'AccessDeniedException');
    await rejects(rd.send(new K.ListTagsForStreamCommand({ StreamName: name })), 'AccessDeniedException');
    await rejects(rd.send(new K.PutResourcePolicyCommand({ ResourceARN: arn, Policy: '{}' })), 'AccessDeniedException');
    await rejects(rd.send(new K.GetResourcePolicyCommand({ ResourceARN: arn })), 'AccessDeniedException');
    await rejects(rd.send(new K.DeleteResourcePolicyCommand({ ResourceARN: arn })), 'AccessDeniedException');
    await rejects(rd.send(new K.StartStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: 'k' })), 'AccessDeniedException');
    await rejects(rd.send(new K.EnableEnhancedMonitoringCommand({ StreamName: name, ShardLevelMetrics: ['ALL'] })), 'AccessDeniedException');
    await rejects(rd.send(new K.UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status: 'ENABLED' } })), 'AccessDeniedException');
    assert.equal((await rd.send(new K.DescribeAccountSettingsCommand({}))).MinimumThroughputBillingCommitment.Status, 'DISABLED');
    // the stream is public metadata: the reader still describes it, and nothing changed
    const d = (await rd.send(new K.DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary;
    assert.equal(d.EncryptionType, 'NONE');
    assert.deepEqual(d.EnhancedMonitoring, [{ ShardLevelMetrics: [] }]);
    assert.deepEqual((await a.send(new K.ListTagsForStreamCommand({ StreamName: name }))).Tags, [{ Key: 'team', Value: 'admins' }]);
    assert.equal((await a.send(new K.GetResourcePolicyCommand({ ResourceARN: arn }))).Policy, '{"Id": "p"}');
    await a.send(new K.DeleteStreamCommand({ StreamName: name }));
  } finally { a.destroy(); rd.destroy(); }
});

test('SigV4: an unsigned request is refused', async () => {
  const r = await postH1(SIGV4, 'Kinesis_20131202.ListStreams', Buffer.from('{}'), 'application/x-amz-json-1.1');
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.body).__type, 'MissingAuthenticationTokenException');
});

// ---- TLS with ALPN (a self-signed certificate; GW_TLS is its https endpoint) ----

test('TLS: ALPN picks h2 for the default handler and http/1.1 for NodeHttpHandler', { skip: !process.env.GW_TLS }, async () => {
  const TLS = process.env.GW_TLS;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';   // the test certificate is self-signed
  const s = http2.connect(TLS);
  await new Promise((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  assert.equal(s.alpnProtocol, 'h2');
  s.close();
  const https = await import('node:https');
  const proto = await new Promise((resolve, reject) => {
    const req = https.request(TLS, { method: 'POST', ALPNProtocols: ['http/1.1'], headers: {
      'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.ListStreams' } }, (res) => {
      res.resume();
      res.on('end', () => resolve([req.socket.alpnProtocol, res.statusCode]));
    });
    req.on('error', reject);
    req.end('{}');
  });
  assert.deepEqual(proto, ['http/1.1', 200]);
  for (const h1 of [false, true]) {
    const c = kinesis(TLS, dummy, h1);
    try {
      const name = `tls-${h1 ? 'h1' : 'h2'}`;
      await c.send(new K.CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      const p = await c.send(new K.PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: enc('over TLS') }));
      const it = await c.send(new K.GetShardIteratorCommand({ StreamName: name, ShardId: p.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
      const g = await c.send(new K.GetRecordsCommand({ ShardIterator: it.ShardIterator }));
      assert.equal(dec(g.Records[0].Data), 'over TLS');
      await c.send(new K.DeleteStreamCommand({ StreamName: name }));
    } finally { c.destroy(); }
  }
});

// ---- SubscribeToShard (the open gateway runs with subscribe_seconds = 5) ----

import { execFileSync } from 'node:child_process';
import { EventStreamCodec } from '@smithy/eventstream-codec';
const toUtf8 = (b) => new TextDecoder().decode(b);
const fromUtf8 = (s) => new TextEncoder().encode(s);

function psql(sql) {
  return execFileSync('psql', ['-X', '-q', '-At', '-h', process.env.GW_PGHOST, '-p', process.env.GW_PGPORT,
    '-d', 'postgres', '-c', sql]).toString().trim();
}

async function efoStream(c, name, shards = 1) {
  await c.send(new K.CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  const arn = `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`;
  const reg = await c.send(new K.RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: 'efo' }));
  return reg.Consumer.ConsumerARN;
}

test('SubscribeToShard (JS v3, HTTP/2): records, one put by SQL pushed at once, heartbeats, one subscription per consumer and shard, the end after subscribe_seconds', async () => {
  const c = kinesis(OPEN);
  try {
    const carn = await efoStream(c, 'efo-js');
    await c.send(new K.PutRecordCommand({ StreamName: 'efo-js', PartitionKey: 'a', Data: enc('before') }));
    const t0 = Date.now();
    const out = await c.send(new K.SubscribeToShardCommand({ ConsumerARN: carn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'TRIM_HORIZON' } }));
    await rejects(c.send(new K.SubscribeToShardCommand({ ConsumerARN: carn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'LATEST' } })), 'ResourceInUseException');
    await rejects(c.send(new K.SubscribeToShardCommand({ ConsumerARN: carn.replace('/efo:', '/nobody:'), ShardId: 'shardId-000000000000', StartingPosition: { Type: 'LATEST' } })), 'ResourceNotFoundException');
    let putAt = 0;
    const timer = setTimeout(() => { putAt = Date.now(); psql("SELECT kinesis.put_record('efo-js', 'b', '\\x7371'::bytea)"); }, 1000);
    const events = [];
    for await (const ev of out.EventStream) events.push({ at: Date.now(), ev: ev.SubscribeToShardEvent });
    clearTimeout(timer);
    const ended = Date.now() - t0;
    const recs = events.flatMap((e) => e.ev.Records.map((r) => ({ at: e.at, data: dec(r.Data), seq: r.SequenceNumber })));
    assert.deepEqual(recs.map((r) => r.data), ['before', 'sq']);
    const viaSql = recs[1];
    assert.ok(viaSql.at - putAt < 2000, `the SQL put arrived ${viaSql.at - putAt} ms after the commit, before any heartbeat`);
    assert.ok(events.some((e) => e.ev.Records.length === 0), 'an empty event keeps the subscription alive');
    for (let i = 1; i < events.length; i++) assert.ok(events[i].at - events[i - 1].at <= 5000);
    assert.equal(events.at(-1).ev.ContinuationSequenceNumber, viaSql.seq);
    assert.ok(ended >= 3500 && ended < 9000, `ended after ${ended} ms`);
    // after the end the same consumer may subscribe again, from where it stopped
    const again = await c.send(new K.SubscribeToShardCommand({ ConsumerARN: carn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: viaSql.seq } }));
    for await (const ev of again.EventStream) { assert.equal(ev.SubscribeToShardEvent.Records.length, 0); break; }
    await c.send(new K.DeleteStreamCommand({ StreamName: 'efo-js', EnforceConsumerDeletion: true }));
  } finally { c.destroy(); }
});

test('SubscribeToShard over HTTP/1.1 is refused; a closed parent shard ends the subscription with its children', async () => {
  const h1 = kinesis(OPEN, dummy, true);
  const c = kinesis(OPEN);
  try {
    const carn = await efoStream(c, 'efo-split');
    await rejects(h1.send(new K.SubscribeToShardCommand({ ConsumerARN: carn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'LATEST' } })), 'InvalidArgumentException');
    await c.send(new K.PutRecordCommand({ StreamName: 'efo-split', PartitionKey: 'a', Data: enc('parent') }));
    await c.send(new K.SplitShardCommand({ StreamName: 'efo-split', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: '170141183460469231731687303715884105728' }));
    const t0 = Date.now();
    const out = await c.send(new K.SubscribeToShardCommand({ ConsumerARN: carn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'TRIM_HORIZON' } }));
    const events = [];
    for await (const ev of out.EventStream) events.push(ev.SubscribeToShardEvent);
    assert.ok(Date.now() - t0 < 3000, 'the subscription ended at the end of the closed shard');
    assert.deepEqual(events.flatMap((e) => e.Records.map((r) => dec(r.Data))), ['parent']);
    assert.deepEqual(events.at(-1).ChildShards.map((s) => s.ShardId).sort(), ['shardId-000000000001', 'shardId-000000000002']);
    assert.deepEqual(events.at(-1).ChildShards.map((s) => [s.ParentShards, s.HashKeyRange.StartingHashKey, s.HashKeyRange.EndingHashKey]),
      [[['shardId-000000000000'], '0', '170141183460469231731687303715884105727'],
       [['shardId-000000000000'], '170141183460469231731687303715884105728', '340282366920938463463374607431768211455']]);
    await c.send(new K.DeleteStreamCommand({ StreamName: 'efo-split', EnforceConsumerDeletion: true }));
  } finally { h1.destroy(); c.destroy(); }
});

test('SubscribeToShard frames decoded with @smithy/eventstream-codec: initial-response first, CBOR events for a CBOR request', async () => {
  const c = kinesis(OPEN);
  try {
    const carn = await efoStream(c, 'efo-raw');
    await c.send(new K.PutRecordCommand({ StreamName: 'efo-raw', PartitionKey: 'a', Data: new Uint8Array([1, 2, 3]) }));
    for (const type of ['application/x-amz-json-1.1', 'application/x-amz-cbor-1.1']) {
      const args = { ConsumerARN: carn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'TRIM_HORIZON' } };
      const body = type.includes('cbor') ? cbor(args) : Buffer.from(JSON.stringify(args));
      const s = http2.connect(OPEN);
      const req = s.request({ ':method': 'POST', ':path': '/', 'content-type': type, 'x-amz-target': 'Kinesis_20131202.SubscribeToShard' });
      let buf = Buffer.alloc(0);
      const msgs = [];
      const codec = new EventStreamCodec(toUtf8, fromUtf8);
      let ctype;
      req.on('response', (h) => { ctype = h['content-type']; });
      await new Promise((resolve, reject) => {
        req.on('data', (d) => {
          buf = Buffer.concat([buf, d]);
          while (buf.length >= 4 && buf.length >= buf.readUInt32BE(0)) {
            const n = buf.readUInt32BE(0);
            msgs.push(codec.decode(new Uint8Array(buf.subarray(0, n))));   // checks both CRCs
            buf = buf.subarray(n);
            if (msgs.length === 2) { req.close(); resolve(); }
          }
        });
        req.on('error', reject);
        req.on('end', resolve);
        req.end(body);
      });
      s.close();
      assert.equal(ctype, 'application/vnd.amazon.eventstream');
      const h = (m, k) => m.headers[k]?.value;
      assert.equal(h(msgs[0], ':message-type'), 'event');
      assert.equal(h(msgs[0], ':event-type'), 'initial-response');
      assert.equal(h(msgs[1], ':event-type'), 'SubscribeToShardEvent');
      assert.equal(h(msgs[1], ':content-type'), type);
      const ev = type.includes('cbor') ? cborDecode(Buffer.from(msgs[1].body)) : JSON.parse(toUtf8(msgs[1].body));
      assert.equal(ev.Records.length, 1);
      assert.deepEqual([...(type.includes('cbor') ? ev.Records[0].Data : Buffer.from(ev.Records[0].Data, 'base64'))], [1, 2, 3]);
      // the stream was reset by the client: the lock is released at once
      await new Promise((r) => setTimeout(r, 300));
    }
    await c.send(new K.DeleteStreamCommand({ StreamName: 'efo-raw', EnforceConsumerDeletion: true }));
  } finally { c.destroy(); }
});
