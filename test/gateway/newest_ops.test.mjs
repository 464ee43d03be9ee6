// The newest operations of the Kinesis API model through the gateway, with
// unchanged AWS SDK for JavaScript v3 clients over h2 (the default handler)
// and HTTP/1.1 (NodeHttpHandler), and hand-built CBOR:
//   - the record distribution strategy: CreateStream RecordDistributionStrategy,
//     UpdateStreamRecordDistributionStrategy, DescribeStreamSummary reporting
//     it (ON_DEMAND only), PutRecord(s) without PartitionKey under AUTO spread
//     over every shard, the refusals (PROVISIONED, a bad value, not the owner);
//   - the channel operations: no channel can exist here (they deliver to
//     Amazon S3): ListChannels is empty, Describe/Update/DeleteChannel are
//     ResourceNotFoundException, CreateChannel InvalidArgumentException naming
//     Firehose delivery streams; required members are checked first.
// Run by test/t/097_gateway.pl with gateway.test.mjs (same environment).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import * as K from '@aws-sdk/client-kinesis';

import { cborDecode, OPEN, SIGV4, dummy, admin, reader, kinesis, rejects, enc, cbor, postH1, postH2 } from './lib.mjs';

const arnOf = (name) => `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`;

// The shard ids of a PutRecords answer, counted.
function perShard(records) {
  const n = {};
  for (const r of records) n[r.ShardId] = (n[r.ShardId] ?? 0) + 1;
  return n;
}

async function distributionFlow(c, name) {
  const summary = async () => (await c.send(new K.DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary;

  await c.send(new K.CreateStreamCommand({ StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' },
    RecordDistributionStrategy: 'AUTO' }));
  let d = await summary();
  assert.equal(d.RecordDistributionStrategy, 'AUTO');
  assert.equal(d.ChannelCount, 0);
  assert.equal(d.OpenShardCount, 4);

  // AUTO: no PartitionKey, and one key for all: 2 records on each of the 4 shards
  let pr = await c.send(new K.PutRecordsCommand({ StreamName: name,
    Records: Array.from({ length: 8 }, (_, i) => ({ Data: enc(`auto-${i}`) })) }));
  assert.equal(pr.FailedRecordCount, 0);
  assert.deepEqual(Object.values(perShard(pr.Records)), [2, 2, 2, 2]);
  pr = await c.send(new K.PutRecordsCommand({ StreamARN: arnOf(name),
    Records: Array.from({ length: 8 }, () => ({ PartitionKey: 'same', ExplicitHashKey: '0', Data: enc('same') })) }));
  assert.equal(Object.keys(perShard(pr.Records)).length, 4);
  const one = await c.send(new K.PutRecordCommand({ StreamName: name, Data: enc('keyless') }));
  const it = await c.send(new K.GetShardIteratorCommand({ StreamName: name, ShardId: one.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
  const got = (await c.send(new K.GetRecordsCommand({ ShardIterator: it.ShardIterator }))).Records;
  const keyless = got.find((r) => r.SequenceNumber === one.SequenceNumber);
  assert.equal(keyless.PartitionKey, '', 'a record put without a key is read back with the empty key');
  assert.ok(got.some((r) => r.PartitionKey === 'same'), 'a given key is kept');

  // AUTO is for ON_DEMAND streams: UpdateStreamMode to PROVISIONED is refused
  await rejects(c.send(new K.UpdateStreamModeCommand({ StreamARN: arnOf(name), StreamModeDetails: { StreamMode: 'PROVISIONED' } })),
    'InvalidArgumentException');
  await rejects(c.send(new K.UpdateStreamRecordDistributionStrategyCommand({ StreamARN: arnOf(name), RecordDistributionStrategy: 'RANDOM' })),
    'ValidationException');
  await rejects(c.send(new K.UpdateStreamRecordDistributionStrategyCommand({ StreamARN: arnOf(name) })), 'ValidationException');
  await rejects(c.send(new K.UpdateStreamRecordDistributionStrategyCommand({ StreamARN: arnOf(name + '-missing'), RecordDistributionStrategy: 'AUTO' })),
    'ResourceNotFoundException');

  // back to partition keys: a key is required again, and one key is one shard
  await c.send(new K.UpdateStreamRecordDistributionStrategyCommand({ StreamARN: arnOf(name), RecordDistributionStrategy: 'USER_PARTITION_KEY' }));
  d = await summary();
  assert.equal(d.RecordDistributionStrategy, 'USER_PARTITION_KEY');
  await rejects(c.send(new K.PutRecordCommand({ StreamName: name, Data: enc('x') })), 'ValidationException');
  await rejects(c.send(new K.PutRecordsCommand({ StreamName: name, Records: [{ PartitionKey: 'k', Data: enc('x') }, { Data: enc('y') }] })),
    'ValidationException');
  pr = await c.send(new K.PutRecordsCommand({ StreamName: name,
    Records: Array.from({ length: 8 }, () => ({ PartitionKey: 'same', Data: enc('pk') })) }));
  assert.equal(Object.keys(perShard(pr.Records)).length, 1);
  await c.send(new K.UpdateStreamModeCommand({ StreamARN: arnOf(name), StreamModeDetails: { StreamMode: 'PROVISIONED' } }));
  d = await summary();
  assert.equal(d.RecordDistributionStrategy, undefined, 'reported for ON_DEMAND streams only');
  assert.equal(d.ChannelCount, 0);
  await c.send(new K.DeleteStreamCommand({ StreamName: name }));

  // a PROVISIONED stream refuses AUTO, and CreateStream with it creates nothing
  await rejects(c.send(new K.CreateStreamCommand({ StreamName: name + '-p', ShardCount: 1, RecordDistributionStrategy: 'AUTO' })),
    'InvalidArgumentException');
  await rejects(c.send(new K.DescribeStreamSummaryCommand({ StreamName: name + '-p' })), 'ResourceNotFoundException');
  await c.send(new K.CreateStreamCommand({ StreamName: name + '-p', ShardCount: 1, RecordDistributionStrategy: 'USER_PARTITION_KEY' }));
  await rejects(c.send(new K.UpdateStreamRecordDistributionStrategyCommand({ StreamARN: arnOf(name + '-p'), RecordDistributionStrategy: 'AUTO' })),
    'InvalidArgumentException');
  await c.send(new K.DeleteStreamCommand({ StreamName: name + '-p' }));
}

async function channelsFlow(c) {
  const carn = 'arn:aws:kinesis:us-east-1:000000000000:channel/ch1';
  const l = await c.send(new K.ListChannelsCommand({}));
  assert.deepEqual(l.ChannelSummaries, []);
  assert.equal(l.NextToken, undefined);
  assert.deepEqual((await c.send(new K.ListChannelsCommand({ MaxResults: 5, StreamFilter: [{ StreamARN: arnOf('any') }] }))).ChannelSummaries, []);
  await rejects(c.send(new K.ListChannelsCommand({ MaxResults: 0 })), 'ValidationException');
  await rejects(c.send(new K.ListChannelsCommand({ NextToken: 'abc' })), 'InvalidArgumentException');
  for (const Cmd of [K.DescribeChannelCommand, K.UpdateChannelCommand, K.DeleteChannelCommand]) {
    await rejects(c.send(new Cmd({ ChannelARN: carn })), 'ResourceNotFoundException');
    await rejects(c.send(new Cmd({})), 'ValidationException');
  }
  const create = {
    ChannelName: 'ch1', ServiceExecutionRoleARN: 'arn:aws:iam::000000000000:role/r',
    StreamConfigurationList: [{ StreamARN: arnOf('any') }],
    S3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::bucket' },
  };
  const e = await rejects(c.send(new K.CreateChannelCommand(create)), 'InvalidArgumentException');
  assert.match(e.message, /firehose\.create_delivery_stream/);
  await rejects(c.send(new K.CreateChannelCommand({ ...create, ServiceExecutionRoleARN: undefined })), 'ValidationException');
  await rejects(c.send(new K.CreateChannelCommand({ ...create, StreamConfigurationList: undefined })), 'ValidationException');
  const lim = await c.send(new K.DescribeLimitsCommand({}));
  assert.equal(lim.ChannelCount, 0);
  assert.equal(lim.ChannelCountLimit, 0);
}

for (const h1 of [false, true]) {
  const label = h1 ? 'HTTP/1.1' : 'HTTP/2';
  test(`newest operations (${label}): record distribution strategy, put without partition keys under AUTO`, async () => {
    const c = kinesis(OPEN, dummy, h1);
    try { await distributionFlow(c, `rd-${h1 ? 'h1' : 'h2'}`); } finally { c.destroy(); }
  });
  test(`newest operations (${label}): the channel operations`, async () => {
    const c = kinesis(OPEN, dummy, h1);
    try { await channelsFlow(c); } finally { c.destroy(); }
  });
}

test('SigV4: only the stream owner changes the record distribution strategy', async () => {
  const a = kinesis(SIGV4, admin());
  const rd = kinesis(SIGV4, reader());
  const name = 'signed-rd';
  try {
    await a.send(new K.CreateStreamCommand({ StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
    await rejects(rd.send(new K.UpdateStreamRecordDistributionStrategyCommand({ StreamARN: arnOf(name), RecordDistributionStrategy: 'AUTO' })),
      'AccessDeniedException');
    assert.equal((await rd.send(new K.DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary.RecordDistributionStrategy,
      'USER_PARTITION_KEY');
    await a.send(new K.UpdateStreamRecordDistributionStrategyCommand({ StreamARN: arnOf(name), RecordDistributionStrategy: 'AUTO' }));
    await a.send(new K.DeleteStreamCommand({ StreamName: name }));
  } finally { a.destroy(); rd.destroy(); }
});

for (const [label, post] of [['HTTP/1.1', postH1], ['HTTP/2', postH2]]) {
  test(`hand-built CBOR over ${label}: the six newest operations`, async () => {
    const T = 'Kinesis_20131202.';
    const name = `cbor-rd-${label === 'HTTP/2' ? 'h2' : 'h1'}`;
    const carn = 'arn:aws:kinesis:us-east-1:000000000000:channel/c';
    const err = (r) => { assert.equal(r.status, 400); assert.equal(r.type, 'application/x-amz-cbor-1.1'); return cborDecode(r.body).__type; };
    let r = await post(OPEN, T + 'ListChannels', cbor({}));
    assert.equal(r.status, 200);
    assert.deepEqual(cborDecode(r.body), { ChannelSummaries: [] });
    for (const op of ['DescribeChannel', 'UpdateChannel', 'DeleteChannel'])
      assert.equal(err(await post(OPEN, T + op, cbor({ ChannelARN: carn }))), 'ResourceNotFoundException');
    assert.equal(err(await post(OPEN, T + 'CreateChannel', cbor({ ChannelName: 'c', ServiceExecutionRoleARN: 'arn:aws:iam::0:role/r',
      StreamConfigurationList: [] }))), 'InvalidArgumentException');
    assert.equal(err(await post(OPEN, T + 'CreateChannel', cbor({ ChannelName: 'c' }))), 'ValidationException');
    r = await post(OPEN, T + 'CreateStream', cbor({ StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
    assert.equal(r.status, 200);
    r = await post(OPEN, T + 'UpdateStreamRecordDistributionStrategy', cbor({ StreamARN: arnOf(name), RecordDistributionStrategy: 'AUTO' }));
    assert.equal(r.status, 200);
    r = await post(OPEN, T + 'PutRecord', cbor({ StreamName: name, Data: Buffer.from([1, 2, 3]) }));
    assert.equal(r.status, 200);
    r = await post(OPEN, T + 'DescribeStreamSummary', cbor({ StreamName: name }));
    assert.equal(cborDecode(r.body).StreamDescriptionSummary.RecordDistributionStrategy, 'AUTO');
    r = await post(OPEN, T + 'DeleteStream', cbor({ StreamName: name }));
    assert.equal(r.status, 200);
  });
}
