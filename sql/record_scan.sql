--
-- KinesisRecordScan (src/streams/record_scan.c): read_shard and
-- get_records_rows in FROM run as a custom scan that returns each record as
-- it is read, without a function scan's tuplestore (put_record's one row
-- too, near the end).  It must return exactly what the function scan
-- returns, be chosen only where it means the same, check what the function
-- scan checks, and end cleanly when stopped early.
-- Streams of this file are named 'rs.*' and deleted at the end.  Sequence
-- numbers, iterators and timestamps are never printed.
--
\set VERBOSITY default

SELECT kinesis.create_stream('rs.s', 2);
SELECT count(*) FROM kinesis.put_records('rs.s',
       ARRAY(SELECT 'key-' || i FROM generate_series(1, 300) i),
       ARRAY(SELECT convert_to('data-' || i, 'UTF8') FROM generate_series(1, 300) i));
-- compressed in line, out of line (TOASTed), empty
SELECT shard_id FROM kinesis.put_record('rs.s', 'key-1', convert_to(repeat('abcdefgh', 5000), 'UTF8'));
SELECT shard_id FROM kinesis.put_record('rs.s', 'key-1',
       (SELECT string_agg(sha256(int4send(i)), ''::bytea) FROM generate_series(1, 9600) i));
SELECT shard_id FROM kinesis.put_record('rs.s', 'key-1', ''::bytea);

-- the plans: the custom scan where it means the same as the function scan
EXPLAIN (COSTS OFF, VERBOSE)
SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 10);
EXPLAIN (COSTS OFF)
SELECT partition_key FROM kinesis.read_shard('rs.s', 'shardId-000000000000') r
 WHERE r.partition_key LIKE 'key-1%';
EXPLAIN (COSTS OFF)
SELECT count(*) FROM kinesis.get_records_rows('some iterator', 10);
-- ROWS FROM of the one function is the same
EXPLAIN (COSTS OFF)
SELECT * FROM ROWS FROM (kinesis.read_shard('rs.s', 'shardId-000000000000'));
-- ... and the function scan elsewhere: a whole-row reference, ORDINALITY,
-- ROWS FROM of two functions, a LATERAL argument, the setting off
EXPLAIN (COSTS OFF)
SELECT r FROM kinesis.read_shard('rs.s', 'shardId-000000000000') r;
EXPLAIN (COSTS OFF)
SELECT r.partition_key FROM kinesis.read_shard('rs.s', 'shardId-000000000000') r
 WHERE r IS NOT NULL;
EXPLAIN (COSTS OFF)
SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000000') WITH ORDINALITY;
EXPLAIN (COSTS OFF)
SELECT * FROM ROWS FROM (kinesis.read_shard('rs.s', 'shardId-000000000000'), generate_series(1, 3));
EXPLAIN (COSTS OFF)
SELECT count(*) FROM kinesis.list_shards('rs.s') s,
       LATERAL kinesis.read_shard('rs.s', s.shard_id, NULL, 10000) r;
SET kinesis_glue.enable_record_scan = off;
EXPLAIN (COSTS OFF)
SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000000');
RESET kinesis_glue.enable_record_scan;
-- a function of the same name and result that is not ours: a function scan
CREATE FUNCTION public.read_shard(text, text, bigint, integer) RETURNS SETOF kinesis.record
    LANGUAGE sql AS 'SELECT * FROM kinesis.read_shard($1, $2, $3, $4)';
EXPLAIN (COSTS OFF)
SELECT * FROM public.read_shard('rs.s', 'shardId-000000000000', NULL, 10);
DROP FUNCTION public.read_shard(text, text, bigint, integer);
-- glue.bookmark_records runs as the scan too; its SET clause
-- (search_path) is the one the scan applies; another SET clause: a
-- function scan.  Outside a job run it fails the same way both ways.
EXPLAIN (COSTS OFF)
SELECT r.sequence_number FROM glue.bookmark_records('rs.s', 10) r;
ALTER FUNCTION glue.bookmark_records(text, integer) SET work_mem = '8MB';
EXPLAIN (COSTS OFF)
SELECT r.sequence_number FROM glue.bookmark_records('rs.s', 10) r;
ALTER FUNCTION glue.bookmark_records(text, integer) RESET work_mem;
EXPLAIN (COSTS OFF)
SELECT r.sequence_number FROM glue.bookmark_records('rs.s', 10) r;
SELECT * FROM glue.bookmark_records('rs.s');
SELECT * FROM glue.bookmark_records(NULL);
SELECT * FROM glue.bookmark_records('rs.s', 0);
SET kinesis_glue.enable_record_scan = off;
SELECT * FROM glue.bookmark_records('rs.s');
RESET kinesis_glue.enable_record_scan;

-- the same rows, byte for byte, both ways, from both shards
CREATE TEMP TABLE rs_scan AS
SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 10000)
UNION ALL
SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000001', NULL, 10000);
SET kinesis_glue.enable_record_scan = off;
CREATE TEMP TABLE rs_function AS
SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 10000)
UNION ALL
SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000001', NULL, 10000);
RESET kinesis_glue.enable_record_scan;
SELECT (SELECT count(*) FROM rs_scan) AS scanned, (SELECT count(*) FROM rs_function) AS function_rows,
       (SELECT count(*) FROM (TABLE rs_scan EXCEPT ALL TABLE rs_function) d) AS only_scanned,
       (SELECT count(*) FROM (TABLE rs_function EXCEPT ALL TABLE rs_scan) d) AS only_function,
       (SELECT max(length(data)) FROM rs_scan) AS longest;
-- in sequence order, as the function returns them
SELECT bool_and(ordered) AS in_order FROM (
    SELECT sequence_number > lag(sequence_number) OVER () AS ordered
      FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 10000)) o
 WHERE ordered IS NOT NULL;

-- get_records_rows: the records, then the last row, both ways
SELECT kinesis.get_shard_iterator('rs.s', 'shardId-000000000001', 'TRIM_HORIZON') AS it \gset
CREATE TEMP TABLE rs_rows_scan AS SELECT * FROM kinesis.get_records_rows(:'it', 50);
SET kinesis_glue.enable_record_scan = off;
CREATE TEMP TABLE rs_rows_function AS SELECT * FROM kinesis.get_records_rows(:'it', 50);
RESET kinesis_glue.enable_record_scan;
SELECT count(*) AS rows, count(sequence_number) AS records,
       count(*) FILTER (WHERE sequence_number IS NULL AND next_shard_iterator IS NOT NULL) AS last_rows
  FROM rs_rows_scan;
SELECT count(*) AS differing FROM (
    (SELECT shard_id, sequence_number, approximate_arrival_timestamp, partition_key, data,
            millis_behind_latest IS NOT NULL, child_shards FROM rs_rows_scan
     EXCEPT ALL
     SELECT shard_id, sequence_number, approximate_arrival_timestamp, partition_key, data,
            millis_behind_latest IS NOT NULL, child_shards FROM rs_rows_function)
    UNION ALL
    (SELECT shard_id, sequence_number, approximate_arrival_timestamp, partition_key, data,
            millis_behind_latest IS NOT NULL, child_shards FROM rs_rows_function
     EXCEPT ALL
     SELECT shard_id, sequence_number, approximate_arrival_timestamp, partition_key, data,
            millis_behind_latest IS NOT NULL, child_shards FROM rs_rows_scan)) d;
-- the next iterator goes on where the 50 records ended, both ways
SELECT (SELECT min(sequence_number) FROM kinesis.get_records_rows(
            (SELECT next_shard_iterator FROM rs_rows_scan WHERE sequence_number IS NULL), 10))
     > (SELECT max(sequence_number) FROM rs_rows_scan) AS resumes_after,
       (SELECT min(sequence_number) FROM kinesis.get_records_rows(
            (SELECT next_shard_iterator FROM rs_rows_scan WHERE sequence_number IS NULL), 10))
     = (SELECT min(sequence_number) FROM kinesis.get_records_rows(
            (SELECT next_shard_iterator FROM rs_rows_function WHERE sequence_number IS NULL), 10))
       AS same_as_function;

-- stopped early: LIMIT, then a cursor fetched in parts and closed half way
SELECT partition_key FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 10000)
 ORDER BY sequence_number LIMIT 0;
SELECT count(*) FROM (SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 10000)
                       LIMIT 3) l;
BEGIN;
DECLARE rs_c CURSOR FOR
    SELECT partition_key, length(data) AS len
      FROM kinesis.read_shard('rs.s', 'shardId-000000000001', NULL, 10000);
FETCH 2 FROM rs_c;
-- other statements between the fetches, reading the same shard
SELECT count(*) FROM kinesis.read_shard('rs.s', 'shardId-000000000001', NULL, 10000);
SELECT count(*) FROM kinesis.put_record('rs.s', 'key-2', '\x01'::bytea);
MOVE FORWARD 10 IN rs_c;
FETCH 1 FROM rs_c;
CLOSE rs_c;
DECLARE rs_c2 CURSOR FOR
    SELECT count(*) FROM kinesis.read_shard('rs.s', 'shardId-000000000001', NULL, 10000);
FETCH ALL FROM rs_c2;
COMMIT;
-- a scroll cursor runs backwards over a materialized copy
BEGIN;
DECLARE rs_back SCROLL CURSOR FOR
    SELECT partition_key FROM kinesis.read_shard('rs.s', 'shardId-000000000001', NULL, 3);
FETCH 3 FROM rs_back;
FETCH BACKWARD 2 FROM rs_back;
COMMIT;

-- rescans: an outer parameter in a subquery reads every shard again
SELECT s.shard_id,
       (SELECT count(*) FROM kinesis.read_shard('rs.s', s.shard_id, NULL, 10000)) AS records
  FROM kinesis.list_shards('rs.s') s ORDER BY 1;
SET kinesis_glue.enable_record_scan = off;
SELECT s.shard_id,
       (SELECT count(*) FROM kinesis.read_shard('rs.s', s.shard_id, NULL, 10000)) AS records
  FROM kinesis.list_shards('rs.s') s ORDER BY 1;
RESET kinesis_glue.enable_record_scan;
-- a join that scans the read again with the same arguments (the inner side
-- of a nested loop) sees the same rows every time, as from a function scan:
-- one read, one next iterator (a second read would issue another)
SET enable_material = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM generate_series(1, 3) g
  CROSS JOIN kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 5) r;
SELECT count(*) FROM generate_series(1, 3) g
  CROSS JOIN kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 5) r;
SELECT count(*) AS rows, count(DISTINCT next_shard_iterator) AS iterators,
       count(DISTINCT sequence_number) AS records
  FROM generate_series(1, 3) g CROSS JOIN kinesis.get_records_rows(:'it', 4) r;
RESET enable_material;
RESET enable_hashjoin;
RESET enable_mergejoin;

-- a prepared statement: parameters, a generic plan, the same result
PREPARE rs_read(text, integer) AS
    SELECT count(*) FROM kinesis.read_shard('rs.s', $1, NULL, $2);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE rs_read('shardId-000000000000', 7);
EXECUTE rs_read('shardId-000000000000', 7);
EXECUTE rs_read('shardId-000000000001', 10000);
RESET plan_cache_mode;
DEALLOCATE rs_read;

-- errors come as from the function, and change nothing
SELECT * FROM kinesis.read_shard('rs.nonesuch', 'shardId-000000000000');
SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000009');
SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 0);
SELECT * FROM kinesis.read_shard(NULL, 'shardId-000000000000');
SELECT * FROM kinesis.get_records_rows('not an iterator');
SELECT * FROM kinesis.get_records_rows(NULL);
SELECT * FROM kinesis.get_records_rows(:'it', 10, interval '2 hours');

-- rights: EXECUTE on the function as for a function scan, SELECT on the stream
CREATE ROLE regress_kg_rs_reader;
CREATE ROLE regress_kg_rs_nobody;
GRANT SELECT ON kinesis_records."rs.s" TO regress_kg_rs_reader;
SET ROLE regress_kg_rs_nobody;
SELECT count(*) FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 10000);
SELECT count(*) FROM kinesis.get_records_rows(:'it', 5);
RESET ROLE;
SET ROLE regress_kg_rs_reader;
SELECT count(*) FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 10000);
SELECT count(*) FROM kinesis.get_records_rows(:'it', 5);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION kinesis.read_shard(text, text, bigint, integer) FROM PUBLIC;
SET ROLE regress_kg_rs_reader;
SELECT count(*) FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 10000);
EXPLAIN (COSTS OFF) SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000000');
RESET ROLE;
GRANT EXECUTE ON FUNCTION kinesis.read_shard(text, text, bigint, integer) TO PUBLIC;
-- a prepared plan made while it was allowed is checked again when it runs
SET ROLE regress_kg_rs_reader;
PREPARE rs_again AS SELECT count(*) FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 10000);
EXECUTE rs_again;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION kinesis.read_shard(text, text, bigint, integer) FROM PUBLIC;
SET ROLE regress_kg_rs_reader;
EXECUTE rs_again;
RESET ROLE;
GRANT EXECUTE ON FUNCTION kinesis.read_shard(text, text, bigint, integer) TO PUBLIC;
DEALLOCATE rs_again;
REVOKE SELECT ON kinesis_records."rs.s" FROM regress_kg_rs_reader;
DROP ROLE regress_kg_rs_reader;
DROP ROLE regress_kg_rs_nobody;

-- put_record runs as the scan too: the put when the scan starts, then its
-- one row.  It must put exactly as the function scan does: once for a
-- join that scans it again with the same arguments, not at all under
-- LIMIT 0 (nothing is fetched), with the same errors
EXPLAIN (COSTS OFF, VERBOSE)
SELECT * FROM kinesis.put_record('rs.s', 'put-1', '\x01'::bytea);
SELECT shard_id, sequence_number > 0 AS numbered FROM kinesis.put_record('rs.s', 'put-1', '\x01'::bytea);
SET enable_material = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM generate_series(1, 3) g
  CROSS JOIN kinesis.put_record('rs.s', 'put-rewind', '\x02'::bytea) p;
SELECT count(*) AS rows, count(DISTINCT p.sequence_number) AS puts FROM generate_series(1, 3) g
  CROSS JOIN kinesis.put_record('rs.s', 'put-rewind', '\x02'::bytea) p;
SET kinesis_glue.enable_record_scan = off;
SELECT count(*) AS rows, count(DISTINCT p.sequence_number) AS puts FROM generate_series(1, 3) g
  CROSS JOIN kinesis.put_record('rs.s', 'put-rewind', '\x02'::bytea) p;
RESET kinesis_glue.enable_record_scan;
RESET enable_material;
RESET enable_hashjoin;
RESET enable_mergejoin;
SELECT * FROM kinesis.put_record('rs.s', 'put-limit', '\x03'::bytea) LIMIT 0;
SET kinesis_glue.enable_record_scan = off;
SELECT * FROM kinesis.put_record('rs.s', 'put-limit', '\x03'::bytea) LIMIT 0;
RESET kinesis_glue.enable_record_scan;
-- a new parameter value scans again: one put per outer row
SELECT count(DISTINCT p.sequence_number) AS puts
  FROM (VALUES ('put-param-a'), ('put-param-b')) k(key),
       LATERAL (SELECT * FROM kinesis.put_record('rs.s', k.key, '\x05'::bytea) OFFSET 0) p;
SELECT partition_key, count(*) FROM (
    SELECT partition_key FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 10000)
    UNION ALL
    SELECT partition_key FROM kinesis.read_shard('rs.s', 'shardId-000000000001', NULL, 10000)) r
 WHERE partition_key LIKE 'put-%' GROUP BY 1 ORDER BY 1;
SELECT * FROM kinesis.put_record(NULL, 'put-err', '\x01'::bytea);
SELECT * FROM kinesis.put_record('rs.nonesuch', 'put-err', '\x01'::bytea);
SELECT * FROM kinesis.put_record('rs.s', 'put-err', '\x01'::bytea, sequence_number_for_ordering => -1);
-- with track_functions = all the scan's reads and puts count as calls, as
-- function scans' do
SET track_functions = 'all';
BEGIN;
SELECT count(*) FROM kinesis.put_record('rs.s', 'put-stats', '\x04'::bytea);
SELECT count(*) FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 5);
SELECT pg_stat_get_xact_function_calls('kinesis.put_record(text,text,bytea,numeric,bigint)'::regprocedure) AS put_record_calls,
       pg_stat_get_xact_function_calls('kinesis.read_shard(text,text,bigint,integer)'::regprocedure) AS read_shard_calls;
SET LOCAL kinesis_glue.enable_record_scan = off;
SELECT count(*) FROM kinesis.put_record('rs.s', 'put-stats', '\x04'::bytea);
SELECT count(*) FROM kinesis.read_shard('rs.s', 'shardId-000000000000', NULL, 5);
SELECT pg_stat_get_xact_function_calls('kinesis.put_record(text,text,bytea,numeric,bigint)'::regprocedure) AS put_record_calls,
       pg_stat_get_xact_function_calls('kinesis.read_shard(text,text,bigint,integer)'::regprocedure) AS read_shard_calls;
ROLLBACK;
RESET track_functions;

-- a stream deleted while an iterator is out: ResourceNotFoundException
SELECT kinesis.delete_stream('rs.s');
SELECT * FROM kinesis.get_records_rows(:'it', 5);
SELECT * FROM kinesis.read_shard('rs.s', 'shardId-000000000000');
