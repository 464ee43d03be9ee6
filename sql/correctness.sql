--
-- correctness: behaviours of issue 15 that users rely on.
--   read-your-writes of resharding and mode changes in list_shards and
--   describe_stream_summary; split_shard's pattern-then-range validation;
--   Firehose creation / update timestamps, IncomingRecords counted at put,
--   put on a KinesisStreamAsSource delivery stream, one object per buffer
--   whatever its arrival times span; Glue deletes of missing names, EVENT
--   BatchSize 1-100.  (errored_actions in workflow run statistics and
--   get_clip's [start, end] are tested at the end of glue_workflows and
--   video_streams: job runs and video fragments take numbers from global
--   sequences, which the files after this one print.)
-- Streams, delivery streams, jobs and triggers of this file are named
-- 'cx*'; objects go under /tmp/kg_regress_correctness (removed first).
--
\set VERBOSITY default
SET timezone = 'UTC';
\! rm -rf /tmp/kg_regress_correctness

--
-- read-your-writes: a transaction sees its own reshards and mode change;
-- producers inside it keep the committed layout
--
SELECT kinesis.create_stream('cx.ryw', 4);
BEGIN;
SELECT kinesis.update_shard_count('cx.ryw', 8);
SELECT count(*) AS open_after_update FROM kinesis.list_shards('cx.ryw') WHERE ending_sequence_number IS NULL;
SELECT open_shard_count FROM kinesis.describe_stream_summary('cx.ryw');
-- the first open shard, as this transaction sees it, split in two
SELECT kinesis.split_shard('cx.ryw', shard_id, div(starting_hash_key + ending_hash_key, 2))
  FROM kinesis.list_shards('cx.ryw') WHERE ending_sequence_number IS NULL ORDER BY starting_hash_key LIMIT 1;
SELECT count(*) AS open_after_split FROM kinesis.list_shards('cx.ryw') WHERE ending_sequence_number IS NULL;
-- and its two children merged again
SELECT kinesis.merge_shards('cx.ryw', a.shard_id, b.shard_id)
  FROM (SELECT shard_id, ending_hash_key FROM kinesis.list_shards('cx.ryw')
         WHERE ending_sequence_number IS NULL ORDER BY starting_hash_key LIMIT 1) a,
       kinesis.list_shards('cx.ryw') b
 WHERE b.ending_sequence_number IS NULL AND b.starting_hash_key = a.ending_hash_key + 1;
SELECT count(*) AS open_after_merge, count(*) FILTER (WHERE parent_shard_id IS NOT NULL) AS with_parents
  FROM kinesis.list_shards('cx.ryw') WHERE ending_sequence_number IS NULL;
SELECT kinesis.update_stream_mode('cx.ryw', 'ON_DEMAND');
SELECT stream_mode, open_shard_count FROM kinesis.describe_stream_summary('cx.ryw');
-- a put in the resharding transaction routes with the committed layout
SELECT shard_id FROM kinesis.put_record('cx.ryw', 'k', '\x01');
ROLLBACK;
SELECT stream_mode, open_shard_count FROM kinesis.describe_stream_summary('cx.ryw');
SELECT count(*) AS open_after_rollback FROM kinesis.list_shards('cx.ryw') WHERE ending_sequence_number IS NULL;
-- a reshard rolled back to a savepoint is gone from the transaction's view too
BEGIN;
SAVEPOINT s;
SELECT kinesis.update_shard_count('cx.ryw', 2);
SELECT open_shard_count AS in_savepoint FROM kinesis.describe_stream_summary('cx.ryw');
ROLLBACK TO SAVEPOINT s;
SELECT open_shard_count AS after_rollback_to FROM kinesis.describe_stream_summary('cx.ryw');
SELECT kinesis.update_shard_count('cx.ryw', 2);
COMMIT;
SELECT count(*) AS open_after_commit FROM kinesis.list_shards('cx.ryw') WHERE ending_sequence_number IS NULL;
SELECT kinesis.delete_stream('cx.ryw');

--
-- split_shard: the pattern 0|([1-9]\d{0,38}) first (ValidationException),
-- then the shard's range (InvalidArgumentException, naming the range)
--
SELECT kinesis.create_stream('cx.split', 1);
SELECT kg_try($$SELECT kinesis.split_shard('cx.split', 'shardId-000000000000',
                                           340282366920938463463374607431768211456)$$) AS two_to_128;
SELECT kg_try($$SELECT kinesis.split_shard('cx.split', 'shardId-000000000000',
                                           999999999999999999999999999999999999999)$$) AS largest_39_digits;
SELECT kg_try($$SELECT kinesis.split_shard('cx.split', 'shardId-000000000000',
                                           1000000000000000000000000000000000000000)$$) AS forty_digits;
SELECT kg_try($$SELECT kinesis.split_shard('cx.split', 'shardId-000000000000', -1)$$) AS negative,
       kg_try($$SELECT kinesis.split_shard('cx.split', 'shardId-000000000000', 1.5)$$) AS fraction;
-- the range needs the shard: a missing shard is found missing first
SELECT kg_try($$SELECT kinesis.split_shard('cx.split', 'shardId-000000000009',
                                           340282366920938463463374607431768211456)$$) AS missing_shard;
SELECT kinesis.split_shard('cx.split', 'shardId-000000000000', 170141183460469231731687303715884105728.000);
SELECT count(*) AS open_shards FROM kinesis.list_shards('cx.split') WHERE ending_sequence_number IS NULL;
SELECT kinesis.delete_stream('cx.split');

--
-- Firehose
--
CREATE TABLE cx_fh (data jsonb);
SELECT firehose.create_delivery_stream('cx.fh', 'cx_fh', record_format => 'jsonb', data_column => 'data',
                                       buffering_interval => '900 s');
-- creation and last-update timestamps
SELECT create_timestamp <= clock_timestamp() AS has_create_timestamp,
       last_update_timestamp IS NULL AS never_updated
  FROM firehose.describe_delivery_stream('cx.fh');
SELECT firehose.update_destination('cx.fh', 1, buffering_interval => '899 s');
SELECT last_update_timestamp > create_timestamp AS updated_after_creation, version_id
  FROM firehose.describe_delivery_stream('cx.fh');
-- IncomingRecords / IncomingBytes count records when their put commits
SELECT count(*) FROM firehose.put_record_batch('cx.fh', ARRAY['{"a": 1}', '{"a": 22}', '{"a": 333}']::bytea[]);
SELECT incoming_records, incoming_bytes, records_delivered, pending_records
  FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'cx.fh';
SELECT firehose.flush('cx.fh');
SELECT incoming_records, incoming_bytes, records_delivered, pending_records
  FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'cx.fh';
-- a rolled-back put does not count
BEGIN;
SELECT firehose.put_record('cx.fh', '{"a": 4}') IS NOT NULL AS put;
ROLLBACK;
SELECT incoming_records FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'cx.fh';

-- put on a delivery stream that reads a Kinesis stream
SELECT kinesis.create_stream('cx.src', 1);
SELECT firehose.create_delivery_stream('cx.ks', 'cx_fh', delivery_stream_type => 'KinesisStreamAsSource',
                                       kinesis_stream_name => 'cx.src', record_format => 'jsonb', data_column => 'data');
SELECT kg_try($$SELECT firehose.put_record('cx.ks', '{}')$$) AS put_record;
SELECT kg_try($$SELECT * FROM firehose.put_record_batch('cx.ks', ARRAY['{}']::bytea[])$$) AS put_record_batch;
\set VERBOSITY verbose
SELECT firehose.put_record('cx.ks', '{}');
\set VERBOSITY default
-- records of a Kinesis source count as the delivery stream reads them
SELECT count(*) FROM kinesis.put_record('cx.src', 'k', '{"a": 5}');
SELECT incoming_records, pending_records FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'cx.ks';
SELECT firehose.flush('cx.ks');
SELECT incoming_records, records_delivered FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'cx.ks';

-- !{timestamp:...} is evaluated once per object, at its oldest record's
-- arrival: records that arrive milliseconds apart make one object
SELECT firehose.create_delivery_stream('cx.files', destination_directory => '/tmp/kg_regress_correctness',
                                       prefix => 'at=!{timestamp:yyyy-MM-dd-HH-mm-ss-SSS}/', buffering_interval => '900 s');
SELECT count(*) FROM (SELECT firehose.put_record('cx.files', convert_to('{"n": ' || i || '}', 'UTF8')), pg_sleep(0.003)
                        FROM generate_series(1, 5) i) p;
SELECT count(DISTINCT approximate_arrival_timestamp) > 1 AS arrivals_differ
  FROM kinesis.read_shard('firehose-cx.files', 'shardId-000000000000');
SELECT firehose.flush('cx.files');
SELECT count(*) AS objects, sum(records) AS records,
       bool_and(o.object_path LIKE '/tmp/kg_regress_correctness/'
                || firehose._evaluate_prefix('at=!{timestamp:yyyy-MM-dd-HH-mm-ss-SSS}/',
                       (SELECT min(approximate_arrival_timestamp)
                          FROM kinesis.read_shard('firehose-cx.files', 'shardId-000000000000')), '{}')
                || '%') AS named_by_oldest_arrival
  FROM firehose.delivered_objects o JOIN firehose.delivery_streams d USING (delivery_stream_id)
 WHERE d.delivery_stream_name = 'cx.files';
-- with dynamic partitioning, one object per partition key value, each
-- named by its own oldest record
SELECT firehose.create_delivery_stream('cx.parts', destination_directory => '/tmp/kg_regress_correctness',
                                       prefix => 'k=!{partitionKeyFromQuery:k}/!{timestamp:ss-SSS}/',
                                       partition_keys => '{"k": "$.k"}', buffering_interval => '900 s');
SELECT count(*) FROM (SELECT firehose.put_record('cx.parts', convert_to(format('{"k": "%s"}', k), 'UTF8')), pg_sleep(0.003)
                        FROM unnest(ARRAY['a', 'b', 'a', 'b', 'a']) k) p;
SELECT firehose.flush('cx.parts');
SELECT o.records, bool_and(o.object_path LIKE '/tmp/kg_regress_correctness/'
                           || firehose._evaluate_prefix('k=!{partitionKeyFromQuery:k}/!{timestamp:ss-SSS}/',
                                  (SELECT min(r.approximate_arrival_timestamp)
                                     FROM kinesis.read_shard('firehose-cx.parts', 'shardId-000000000000') r
                                    WHERE convert_from(r.data, 'UTF8')::jsonb ->> 'k' = substr(o.object_path, 31, 1)),
                                  jsonb_build_object('k', substr(o.object_path, 31, 1)))
                           || '%') AS named_by_oldest_arrival
  FROM firehose.delivered_objects o JOIN firehose.delivery_streams d USING (delivery_stream_id)
 WHERE d.delivery_stream_name = 'cx.parts'
 GROUP BY o.records ORDER BY o.records;
SELECT firehose.delete_delivery_stream(n) FROM unnest(ARRAY['cx.fh', 'cx.ks', 'cx.files', 'cx.parts']) n;
SELECT kinesis.delete_stream('cx.src');
DROP TABLE cx_fh;

--
-- Glue
--
-- deleting what does not exist succeeds, as DeleteJob and DeleteTrigger do
SELECT glue.delete_job('cx_missing') AS deleted_job, glue.delete_trigger('cx_missing') AS deleted_trigger;
-- EVENT triggers: BatchSize 1-100
SELECT kinesis.create_stream('cx.ev', 1);
SELECT glue.create_job('cx_job', script => 'SELECT 1');
SELECT kg_try($$SELECT glue.create_trigger('cx_ev', 'EVENT', '[{"job_name": "cx_job"}]',
                   event_batching_condition => '{"stream_name": "cx.ev", "batch_size": 101}')$$) AS batch_101,
       kg_try($$SELECT glue.create_trigger('cx_ev', 'EVENT', '[{"job_name": "cx_job"}]',
                   event_batching_condition => '{"stream_name": "cx.ev", "batch_size": 0}')$$) AS batch_0;
SELECT glue.create_trigger('cx_ev', 'EVENT', '[{"job_name": "cx_job"}]',
                           event_batching_condition => '{"stream_name": "cx.ev", "batch_size": 100}');
SELECT kg_try($$SELECT glue.update_trigger('cx_ev', event_batching_condition => '{"stream_name": "cx.ev", "batch_size": 1000}')$$) AS update_1000;
-- activation stamps the moment records start to count, in its own transaction
BEGIN;
SELECT glue.start_trigger('cx_ev');
SELECT state, activated_on BETWEEN now() AND clock_timestamp() AS stamped_by_activation FROM glue.triggers WHERE trigger_name = 'cx_ev';
ROLLBACK;
SELECT glue.delete_trigger('cx_ev') AS deleted_trigger, glue.delete_trigger('cx_ev') AS deleted_again;
SELECT glue.delete_job('cx_job') AS deleted_job, glue.delete_job('cx_job') AS deleted_again;
SELECT kinesis.delete_stream('cx.ev');

-- where a read after a checkpoint starts (kinesis.read_shard_start): NULL
-- (from the trim horizon) for a new checkpoint of any shard, else the
-- checkpoint itself
SELECT kinesis.create_stream('cx.start', 2);
SELECT shard_id, kinesis.read_shard_start('cx.start', shard_id, starting_sequence_number - 1) AS new_checkpoint,
       kinesis.read_shard_start('cx.start', shard_id, starting_sequence_number + 65536 * 5)
         = starting_sequence_number + 65536 * 5 AS checkpoint_kept
  FROM kinesis.list_shards('cx.start') ORDER BY shard_id;
SELECT kg_try($$SELECT kinesis.read_shard_start('cx.start', 'shardId-000000000009', 1)$$) AS missing_shard;
SELECT kinesis.delete_stream('cx.start');
