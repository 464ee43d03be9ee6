-- case 3d, kinesis side: read_shard of the same 10,000 records (from the
-- trim horizon, the first 10,000 of the stream) to the client
SELECT * FROM kinesis.read_shard('bench_get', 'shardId-000000000000', NULL, 10000);
