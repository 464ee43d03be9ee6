--
-- get_records then unnest(records) in FROM: get_records runs as a
-- KinesisRecordScan (its array goes on as built, src/streams/record_read.c)
-- and unnest() of a kinesis.record[] as a KinesisRecordUnnest
-- (src/streams/unnest_scan.c), which takes each element apart straight from
-- the array.  Both must return exactly what the function scans return, be
-- chosen only where they mean the same, and rescan correctly.  Streams of
-- this file are named 'ru.*' and deleted at the end.  Sequence numbers,
-- iterators and timestamps are never printed.
--
\set VERBOSITY default

SELECT kinesis.create_stream('ru.s', 1);
SELECT count(*) FROM kinesis.put_records('ru.s',
       ARRAY(SELECT 'key-' || i FROM generate_series(1, 200) i),
       ARRAY(SELECT convert_to('data-' || i, 'UTF8') FROM generate_series(1, 200) i));
-- compressed in line, out of line (TOASTed), empty
SELECT shard_id FROM kinesis.put_record('ru.s', 'key-1', convert_to(repeat('abcdefgh', 5000), 'UTF8'));
SELECT shard_id FROM kinesis.put_record('ru.s', 'key-1',
       (SELECT string_agg(sha256(int4send(i)), ''::bytea) FROM generate_series(1, 9600) i));
SELECT shard_id FROM kinesis.put_record('ru.s', 'key-1', ''::bytea);
SELECT kinesis.get_shard_iterator('ru.s', 'shardId-000000000000', 'TRIM_HORIZON') AS it \gset

-- the plans: both nodes for the README's way, with the wait variant too
EXPLAIN (COSTS OFF)
SELECT r.* FROM kinesis.get_records(:'it', 1000) g, unnest(g.records) r;
EXPLAIN (COSTS OFF)
SELECT r.partition_key FROM kinesis.get_records(:'it', 1000, interval '0 s') g, unnest(g.records) r
 WHERE r.partition_key LIKE 'key-1%';
-- unnest of a kinesis.record[] from anywhere (a constant, a parameter)
EXPLAIN (COSTS OFF)
SELECT * FROM unnest(ARRAY[ROW('s', 1, now(), 'k', '\x01')::kinesis.record]) r;
-- ... and function scans elsewhere: a whole-row reference (to either),
-- ORDINALITY, a volatile argument, another row type, the setting off
EXPLAIN (COSTS OFF)
SELECT g FROM kinesis.get_records(:'it', 1000) g;
EXPLAIN (COSTS OFF)
SELECT r FROM kinesis.get_records(:'it', 1000) g, unnest(g.records) r;
EXPLAIN (COSTS OFF)
SELECT * FROM kinesis.get_records(:'it', 1000) g, unnest(g.records) WITH ORDINALITY r;
EXPLAIN (COSTS OFF)
SELECT * FROM unnest(CASE WHEN random() < 2 THEN ARRAY[ROW('s', 1, now(), 'k', '\x01')::kinesis.record] END) r;
CREATE TYPE public.ru_pair AS (a int, b text);
EXPLAIN (COSTS OFF)
SELECT * FROM unnest(ARRAY[ROW(1, 'x')::public.ru_pair]) r;
DROP TYPE public.ru_pair;
SET kinesis_glue.enable_record_scan = off;
EXPLAIN (COSTS OFF)
SELECT r.* FROM kinesis.get_records(:'it', 1000) g, unnest(g.records) r;
RESET kinesis_glue.enable_record_scan;

-- the same rows, byte for byte, both ways, and the same other columns
CREATE TEMP TABLE ru_scan AS
SELECT r.*, g.next_shard_iterator IS NOT NULL AS has_next, g.millis_behind_latest, g.child_shards
  FROM kinesis.get_records(:'it', 1000) g, unnest(g.records) r;
SET kinesis_glue.enable_record_scan = off;
CREATE TEMP TABLE ru_function AS
SELECT r.*, g.next_shard_iterator IS NOT NULL AS has_next, g.millis_behind_latest, g.child_shards
  FROM kinesis.get_records(:'it', 1000) g, unnest(g.records) r;
RESET kinesis_glue.enable_record_scan;
SELECT (SELECT count(*) FROM ru_scan) AS scanned, (SELECT count(*) FROM ru_function) AS function_rows,
       (SELECT count(*) FROM (TABLE ru_scan EXCEPT ALL TABLE ru_function) d) AS only_scanned,
       (SELECT count(*) FROM (TABLE ru_function EXCEPT ALL TABLE ru_scan) d) AS only_function,
       (SELECT max(length(data)) FROM ru_scan) AS longest,
       (SELECT bool_and(has_next) FROM ru_scan) AS next_iterators;
-- in the array's order
SELECT bool_and(ordered) AS in_order FROM (
    SELECT sequence_number > lag(sequence_number) OVER () AS ordered
      FROM kinesis.get_records(:'it', 1000) g, unnest(g.records) r) o
 WHERE ordered IS NOT NULL;
-- get_records alone: the one row, its columns as the function's
SELECT cardinality(g.records) AS records, g.next_shard_iterator IS NOT NULL AS has_next,
       g.millis_behind_latest >= 0 AS behind, g.child_shards
  FROM kinesis.get_records(:'it', 5) g;

-- NULL array: no rows; empty array: none; NULL elements: rows of NULLs
SELECT * FROM unnest(NULL::kinesis.record[]) r;
SELECT * FROM unnest('{}'::kinesis.record[]) r;
SELECT shard_id, sequence_number, partition_key, data
  FROM unnest(ARRAY[NULL, ROW('s', 1, now(), 'k', '\x01')::kinesis.record, NULL]) r;
-- an array stored in a table, compressed and out of line: fetched, the same
CREATE TEMP TABLE ru_arrays (id int, recs kinesis.record[]);
INSERT INTO ru_arrays
SELECT 1, g.records FROM kinesis.get_records(:'it', 1000) g
UNION ALL
SELECT 2, ARRAY(SELECT ROW('s', i, '2026-01-01', 'k' || i, convert_to(repeat('z', 50), 'UTF8'))::kinesis.record
                  FROM generate_series(1, 400) i)
UNION ALL
SELECT 3, NULL;
SELECT id, pg_column_size(recs) < octet_length(recs::text) AS compressed FROM ru_arrays ORDER BY id;
-- LATERAL over several outer rows (a rescan with a new array each time)
EXPLAIN (COSTS OFF, VERBOSE)
SELECT a.id, r.* FROM ru_arrays a, unnest(a.recs) r;
CREATE TEMP TABLE ru_lateral_scan AS
SELECT a.id, r.* FROM ru_arrays a, unnest(a.recs) r;
SET kinesis_glue.enable_record_scan = off;
CREATE TEMP TABLE ru_lateral_function AS
SELECT a.id, r.* FROM ru_arrays a, unnest(a.recs) r;
RESET kinesis_glue.enable_record_scan;
SELECT id, count(*) FROM ru_lateral_scan GROUP BY id ORDER BY id;
SELECT (SELECT count(*) FROM (TABLE ru_lateral_scan EXCEPT ALL TABLE ru_lateral_function) d) AS only_scanned,
       (SELECT count(*) FROM (TABLE ru_lateral_function EXCEPT ALL TABLE ru_lateral_scan) d) AS only_function;
-- a filter on the elements
SELECT count(*) FROM ru_arrays a, unnest(a.recs) r WHERE r.partition_key LIKE 'k1%';
-- a count alone, and the inner side of a nested loop with the same array:
-- every pass the same
EXPLAIN (COSTS OFF)
SELECT count(*) FROM unnest(ARRAY[ROW('s', 1, now(), 'k', '\x01')::kinesis.record, NULL]) r;
SET enable_material = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM generate_series(1, 3) x
  CROSS JOIN unnest(ARRAY[ROW('s', 1, now(), 'k', '\x01')::kinesis.record, NULL]) r;
SELECT count(*), count(r.sequence_number) FROM generate_series(1, 3) x
  CROSS JOIN unnest(ARRAY[ROW('s', 1, now(), 'k', '\x01')::kinesis.record, NULL]) r;
-- ... and rescanned as the inner side, once per outer row
EXPLAIN (COSTS OFF)
SELECT x, r.sequence_number FROM generate_series(1, 3) x,
       LATERAL unnest(ARRAY[ROW('s', x, now(), 'k', '\x01')::kinesis.record, NULL]) r;
SELECT x, r.sequence_number FROM generate_series(1, 3) x,
       LATERAL unnest(ARRAY[ROW('s', x, now(), 'k', '\x01')::kinesis.record, NULL]) r;
-- get_records as the inner side: one read, one next iterator
SELECT count(*) AS rows, count(DISTINCT g.next_shard_iterator) AS iterators
  FROM generate_series(1, 3) x CROSS JOIN kinesis.get_records(:'it', 4) g;
RESET enable_material;
RESET enable_hashjoin;
RESET enable_mergejoin;
-- a PL/pgSQL variable (a parameter), as the README's mapping functions use
CREATE FUNCTION public.ru_count(recs kinesis.record[]) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM unnest(recs) r WHERE r.data IS NOT NULL);
END $$;
SELECT public.ru_count(recs) FROM ru_arrays ORDER BY id;
DROP FUNCTION public.ru_count(kinesis.record[]);

-- errors come as from the function
SELECT * FROM kinesis.get_records('not an iterator') g, unnest(g.records) r;
SELECT * FROM kinesis.get_records(:'it', 0) g;
SELECT * FROM kinesis.get_records(:'it', 10, interval '2 hours') g;

SELECT kinesis.delete_stream('ru.s');
