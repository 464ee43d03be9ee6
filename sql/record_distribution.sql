--
-- record_distribution: the record distribution strategy of a stream
-- (kinesis.update_stream_record_distribution_strategy, README "Record
-- distribution strategy"):
--   1. a new stream is USER_PARTITION_KEY; describe_stream_settings reports
--      the strategy of ON_DEMAND streams only (NULL for PROVISIONED);
--   2. USER_PARTITION_KEY: a NULL partition key is refused, one key goes to
--      one shard;
--   3. AUTO: put_record and both forms of put_records ignore partition and
--      explicit hash keys and deal the records out evenly over the open
--      shards; a NULL partition key is accepted and stored as '', a given one
--      as given (and still checked);
--   4. the rules: PROVISIONED refuses AUTO, update_stream_mode to PROVISIONED
--      refuses an AUTO stream, bad and NULL values, a missing stream, a
--      non-owner (who cannot write the catalog either);
--   5. back to USER_PARTITION_KEY: puts see it at once after the commit;
--   6. create + AUTO in one transaction (as the gateway's CreateStream does),
--      and a refused AUTO that takes the create back with it.
-- Streams are 'rd.*'; roles regress_rd_*, dropped at the end.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE ROLE regress_rd_owner;
CREATE ROLE regress_rd_producer;
CREATE ROLE regress_rd_mallory;
GRANT CREATE ON SCHEMA kinesis_records TO regress_rd_owner;

SET ROLE regress_rd_owner;
SELECT kinesis.create_stream('rd.od', stream_mode => 'ON_DEMAND');
SELECT kinesis.create_stream('rd.prov', 2);
GRANT INSERT, SELECT ON kinesis_records."rd.od" TO regress_rd_producer;

-- 1. the default, reported for ON_DEMAND streams only
SELECT stream_name, stream_mode, record_distribution_strategy
  FROM kinesis.streams WHERE stream_name LIKE 'rd.%' ORDER BY stream_name;
SELECT 'rd.od' AS stream, record_distribution_strategy FROM kinesis.describe_stream_settings('rd.od')
UNION ALL
SELECT 'rd.prov', record_distribution_strategy FROM kinesis.describe_stream_settings('rd.prov');

-- 2. USER_PARTITION_KEY: no NULL key; one key, one shard
SELECT * FROM kinesis.put_record('rd.od', NULL, 'x');
SELECT kg_try($$SELECT * FROM kinesis.put_records('rd.od', ARRAY['k', NULL], ARRAY['a', 'b']::bytea[])$$) AS null_in_batch;
SELECT count(DISTINCT shard_id) AS shards_for_one_key
  FROM kinesis.put_records('rd.od', array_fill('same'::text, ARRAY[8]), array_fill('\x01'::bytea, ARRAY[8]));

-- 3. AUTO
SELECT kinesis.update_stream_record_distribution_strategy('rd.od', 'AUTO');
SELECT stream_mode, record_distribution_strategy FROM kinesis.streams WHERE stream_name = 'rd.od';
SELECT record_distribution_strategy FROM kinesis.describe_stream_settings('rd.od');
-- one partition key, 8 records: 2 on each of the 4 shards
SELECT shard_id, count(*) AS records
  FROM kinesis.put_records('rd.od', array_fill('same'::text, ARRAY[8]), array_fill('\x02'::bytea, ARRAY[8]))
 GROUP BY shard_id ORDER BY shard_id;
-- no partition keys, the same explicit hash key on each: spread all the same
SELECT shard_id, count(*) AS records
  FROM kinesis.put_records('rd.od', ARRAY(SELECT ROW(NULL, '\x03'::bytea, 0)::kinesis.put_records_entry
                                            FROM generate_series(1, 8)))
 GROUP BY shard_id ORDER BY shard_id;
-- put_record, NULL key and explicit hash key 0, four calls: four shards
SELECT count(DISTINCT p.shard_id) AS shards_of_4_puts
  FROM generate_series(1, 4) g, LATERAL kinesis.put_record('rd.od', NULL, convert_to(g::text, 'UTF8'), 0) p;
-- a producer with INSERT puts without a key too; mallory (no INSERT) is refused as always
SET ROLE regress_rd_producer;
SELECT shard_id LIKE 'shardId-%' AS put FROM kinesis.put_record('rd.od', NULL, '\x05');
SET ROLE regress_rd_mallory;
SELECT kg_try($$SELECT * FROM kinesis.put_record('rd.od', NULL, 'x')$$) AS mallory_put;
SET ROLE regress_rd_owner;
-- a given key is still checked (1 to 256 characters), and so is an explicit hash key
SELECT kg_try($$SELECT * FROM kinesis.put_record('rd.od', '', 'x')$$) AS empty_key,
       kg_try($$SELECT * FROM kinesis.put_record('rd.od', 'k', 'x', -1)$$) AS bad_hash_key;
-- what was stored: '' for a missing key, the key given otherwise
SELECT r.partition_key, count(*) AS records, count(DISTINCT r.shard_id) AS shards
  FROM kinesis.list_shards('rd.od') l, LATERAL kinesis.read_shard('rd.od', l.shard_id) r
 GROUP BY r.partition_key ORDER BY r.partition_key;

-- 4. the rules
SELECT kinesis.update_stream_record_distribution_strategy('rd.prov', 'AUTO');
SELECT kinesis.update_stream_mode('rd.od', 'PROVISIONED');
SELECT kg_try($$SELECT kinesis.update_stream_record_distribution_strategy('rd.od', 'auto')$$) AS lower_case,
       kg_try($$SELECT kinesis.update_stream_record_distribution_strategy('rd.od', 'RANDOM')$$) AS unknown,
       kg_try($$SELECT kinesis.update_stream_record_distribution_strategy('rd.od', NULL)$$) AS null_strategy,
       kg_try($$SELECT kinesis.update_stream_record_distribution_strategy(NULL, 'AUTO')$$) AS null_stream,
       kg_try($$SELECT kinesis.update_stream_record_distribution_strategy('rd.nope', 'AUTO')$$) AS missing;
-- USER_PARTITION_KEY is what a PROVISIONED stream does: accepted, nothing changes
SELECT kinesis.update_stream_record_distribution_strategy('rd.prov', 'USER_PARTITION_KEY');
SET ROLE regress_rd_mallory;
SELECT kinesis.update_stream_record_distribution_strategy('rd.od', 'USER_PARTITION_KEY');
SELECT kg_try($$UPDATE kinesis.streams SET record_distribution_strategy = 'USER_PARTITION_KEY'$$) AS catalog_dml;
SET ROLE regress_rd_producer;
SELECT kg_try($$SELECT kinesis.update_stream_record_distribution_strategy('rd.od', 'USER_PARTITION_KEY')$$) AS producer;
SET ROLE regress_rd_owner;
SELECT stream_mode, record_distribution_strategy FROM kinesis.streams WHERE stream_name = 'rd.od';

-- 5. back to USER_PARTITION_KEY: the cached entry of this session moves with the commit
SELECT kinesis.update_stream_record_distribution_strategy('rd.od', 'USER_PARTITION_KEY');
SELECT kg_try($$SELECT * FROM kinesis.put_record('rd.od', NULL, 'x')$$) AS null_key_again;
SELECT count(DISTINCT shard_id) AS shards_for_one_key
  FROM kinesis.put_records('rd.od', array_fill('same'::text, ARRAY[8]), array_fill('\x06'::bytea, ARRAY[8]));
SELECT kinesis.update_stream_mode('rd.od', 'PROVISIONED');
SELECT record_distribution_strategy FROM kinesis.describe_stream_settings('rd.od');

-- 6. in the transaction that creates the stream
BEGIN;
SELECT kinesis.create_stream('rd.tx', NULL, 'ON_DEMAND');
SELECT kinesis.update_stream_record_distribution_strategy('rd.tx', 'AUTO');
COMMIT;
SELECT stream_mode, record_distribution_strategy FROM kinesis.describe_stream_settings('rd.tx')
  CROSS JOIN kinesis.describe_stream_summary('rd.tx');
SELECT count(DISTINCT shard_id) AS shards_of_4_records
  FROM kinesis.put_records('rd.tx', ARRAY[NULL, NULL, NULL, NULL]::text[], array_fill('\x07'::bytea, ARRAY[4]));
BEGIN;
SELECT kinesis.create_stream('rd.tx2', 1);
SELECT kinesis.update_stream_record_distribution_strategy('rd.tx2', 'AUTO');
ROLLBACK;
SELECT count(*) AS tx2_streams FROM kinesis.streams WHERE stream_name = 'rd.tx2';

SELECT kinesis.delete_stream('rd.od');
SELECT kinesis.delete_stream('rd.prov');
SELECT kinesis.delete_stream('rd.tx');
RESET ROLE;
REVOKE CREATE ON SCHEMA kinesis_records FROM regress_rd_owner;
DROP OWNED BY regress_rd_owner, regress_rd_producer, regress_rd_mallory;
DROP ROLE regress_rd_owner, regress_rd_producer, regress_rd_mallory;
