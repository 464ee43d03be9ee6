#!/usr/bin/env python3
"""boto3 (Debian python3-boto3) producer and consumer against kinesis_glue_gateway.

Usage: boto3_test.py ENDPOINT STREAM   (exit 0 when every check passed)
boto3 speaks HTTP/1.1 and application/x-amz-json-1.1 and does not send
x-amz-content-sha256, so the gateway hashes the body itself.
"""
import sys

import boto3
from botocore.config import Config

endpoint, stream = sys.argv[1], sys.argv[2]
k = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="AKIDEXAMPLE00000000", aws_secret_access_key="x" * 40,
                 config=Config(retries={"max_attempts": 1}))

k.create_stream(StreamName=stream, ShardCount=1)
k.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
sent = [("key-%d" % i, ("record %d" % i).encode()) for i in range(20)]
out = k.put_records(StreamName=stream, Records=[{"PartitionKey": p, "Data": d} for p, d in sent])
assert out["FailedRecordCount"] == 0, out
shard = k.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
it = k.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
got = []
while it and len(got) < len(sent):
    r = k.get_records(ShardIterator=it, Limit=7)
    got += [(x["PartitionKey"], x["Data"]) for x in r["Records"]]
    it = r["NextShardIterator"]
assert got == sent, got
try:
    k.describe_stream(StreamName=stream + "-missing")
    raise AssertionError("describe_stream of a missing stream succeeded")
except k.exceptions.ResourceNotFoundException:
    pass
k.delete_stream(StreamName=stream)
print("boto3: %d records put and read back in order" % len(got))
