-- case 3, kinesis side: get_shard_iterator + get_records of 10,000 records
SELECT cardinality((kinesis.get_records(kinesis.get_shard_iterator('bench_get', 'shardId-000000000000', 'TRIM_HORIZON'), 10000)).records);
