--
-- get_records_rows: get_records as rows (a row per record, then one last
-- row holding next_shard_iterator, millis_behind_latest and child_shards),
-- and the rows of read_shard and get_records, which copy the stored rows'
-- bytes where they can (src/streams/record_rows.c): every way returns the
-- same records, byte for byte, small, compressed in line and TOASTed out
-- of line.  Streams of this file are named 'gr.*' and deleted at the end.
-- Iterator tokens and timestamps are never printed.
--
\set VERBOSITY default

SELECT kinesis.create_stream('gr.s', 1);
-- small records, a compressible 40 kB one (compressed in line), an
-- incompressible 300 kB one (out of line), a multibyte key, an empty record
SELECT count(*) FROM kinesis.put_records('gr.s',
       ARRAY(SELECT 'key-' || i FROM generate_series(1, 20) i),
       ARRAY(SELECT convert_to('data-' || i, 'UTF8') FROM generate_series(1, 20) i));
SELECT sequence_number FROM kinesis.put_record('gr.s', 'big-compressible',
       convert_to(repeat('abcdefgh', 5000), 'UTF8'));
SELECT sequence_number FROM kinesis.put_record('gr.s', 'big-random',
       (SELECT string_agg(sha256(int4send(i)), ''::bytea) FROM generate_series(1, 9600) i));
SELECT sequence_number FROM kinesis.put_record('gr.s', 'clé-ü', convert_to('ÿ', 'UTF8'));
SELECT sequence_number FROM kinesis.put_record('gr.s', 'empty', ''::bytea);
SELECT count(*) FROM kinesis.put_records('gr.s',
       ARRAY(SELECT 'more-' || i FROM generate_series(1, 5) i),
       ARRAY(SELECT convert_to('more-' || i, 'UTF8') FROM generate_series(1, 5) i));
-- the two big ones are stored as meant: one compressed in line, one out of line
SELECT partition_key, pg_column_compression(data) IS NOT NULL AS compressed,
       pg_column_size(data) < 8000 AS in_line
  FROM kinesis.read_shard('gr.s', 'shardId-000000000000', NULL, 10000)
 WHERE partition_key LIKE 'big-%' ORDER BY sequence_number;

SELECT kinesis.get_shard_iterator('gr.s', 'shardId-000000000000', 'TRIM_HORIZON') AS it \gset

-- one row per record in sequence order, then the last row
SELECT count(*) AS rows,
       count(sequence_number) AS records,
       count(*) FILTER (WHERE sequence_number IS NULL AND next_shard_iterator IS NOT NULL
                          AND millis_behind_latest IS NOT NULL AND child_shards IS NULL) AS last_rows,
       count(*) FILTER (WHERE sequence_number IS NOT NULL AND (next_shard_iterator IS NOT NULL
                          OR millis_behind_latest IS NOT NULL OR child_shards IS NOT NULL)) AS records_with_extras
  FROM kinesis.get_records_rows(:'it');
SELECT bool_and(ord = expected) AS in_order, bool_and(ord < last_ord) AS last_row_is_last
  FROM (SELECT ord, row_number() OVER (ORDER BY sequence_number) AS expected,
               max(ord) OVER () AS last_ord, sequence_number
          FROM kinesis.get_records_rows(:'it') WITH ORDINALITY AS r(shard_id, sequence_number,
               approximate_arrival_timestamp, partition_key, data, next_shard_iterator,
               millis_behind_latest, child_shards, ord)) x
 WHERE sequence_number IS NOT NULL;

-- the same records, byte for byte, as get_records unnested and read_shard
CREATE TEMP TABLE gr_rows AS
SELECT shard_id, sequence_number, approximate_arrival_timestamp, partition_key, data
  FROM kinesis.get_records_rows(:'it') WHERE sequence_number IS NOT NULL;
CREATE TEMP TABLE gr_unnest AS
SELECT r.* FROM kinesis.get_records(:'it') g, unnest(g.records) r;
CREATE TEMP TABLE gr_read AS
SELECT * FROM kinesis.read_shard('gr.s', 'shardId-000000000000', NULL, 10000);
SELECT (SELECT count(*) FROM gr_rows) AS rows, (SELECT count(*) FROM gr_unnest) AS unnested,
       (SELECT count(*) FROM gr_read) AS read_shard,
       (SELECT count(*) FROM (TABLE gr_rows EXCEPT ALL TABLE gr_unnest) a)
     + (SELECT count(*) FROM (TABLE gr_unnest EXCEPT ALL TABLE gr_rows) b)
     + (SELECT count(*) FROM (TABLE gr_rows EXCEPT ALL TABLE gr_read) c)
     + (SELECT count(*) FROM (TABLE gr_read EXCEPT ALL TABLE gr_rows) d) AS differ;
-- ... and as they were put (content and size of every record)
SELECT partition_key, octet_length(data) AS bytes, md5(data) = md5(
         CASE partition_key
           WHEN 'big-compressible' THEN convert_to(repeat('abcdefgh', 5000), 'UTF8')
           WHEN 'big-random' THEN (SELECT string_agg(sha256(int4send(i)), ''::bytea) FROM generate_series(1, 9600) i)
           WHEN 'clé-ü' THEN convert_to('ÿ', 'UTF8')
           WHEN 'empty' THEN ''::bytea
           ELSE convert_to(replace(partition_key, 'key-', 'data-'), 'UTF8') END) AS same
  FROM gr_rows ORDER BY sequence_number;
-- the composites of get_records and of a record built by hand are equal
SELECT count(*) FILTER (WHERE r IS DISTINCT FROM ROW(u.shard_id, u.sequence_number, u.approximate_arrival_timestamp,
                                                     u.partition_key, u.data)::kinesis.record) AS differ
  FROM kinesis.get_records(:'it') g, unnest(g.records) r, gr_unnest u
 WHERE u.sequence_number = r.sequence_number;

-- a limit: that many records; the next iterator goes on from there, and
-- the last row says the caller is behind
SELECT count(sequence_number) AS records,
       bool_and(millis_behind_latest >= 0) FILTER (WHERE sequence_number IS NULL) AS behind_known
  FROM kinesis.get_records_rows(:'it', 3);
SELECT next_shard_iterator AS it2 FROM kinesis.get_records_rows(:'it', 3) WHERE sequence_number IS NULL \gset
SELECT array_agg(partition_key ORDER BY sequence_number) AS next_three
  FROM kinesis.get_records_rows(:'it2', 3) WHERE sequence_number IS NOT NULL;
SELECT array_agg(r.partition_key ORDER BY r.sequence_number) AS same_with_get_records
  FROM kinesis.get_records((kinesis.get_records(:'it', 3)).next_shard_iterator, 3) g, unnest(g.records) r;

-- at the tip: only the last row, with a next iterator and no lag
SELECT next_shard_iterator AS it_tip FROM kinesis.get_records_rows(:'it') WHERE sequence_number IS NULL \gset
SELECT count(*) AS rows, bool_and(sequence_number IS NULL AND next_shard_iterator IS NOT NULL
                                  AND millis_behind_latest = 0) AS only_last_row
  FROM kinesis.get_records_rows(:'it_tip');
-- a waiting call on an empty shard comes back with the last row only
SELECT count(*) AS rows FROM kinesis.get_records_rows(:'it_tip', 10, wait => '50 ms');
-- a record put meanwhile is read from the tip's iterator
SELECT sequence_number FROM kinesis.put_record('gr.s', 'late', '\x01'::bytea);
SELECT partition_key, data FROM kinesis.get_records_rows(:'it_tip') WHERE sequence_number IS NOT NULL;

-- a closed shard read to its end: no next iterator, its children named
SELECT kinesis.split_shard('gr.s', 'shardId-000000000000', 170141183460469231731687303715884105728);
SELECT count(sequence_number) AS records,
       bool_and(next_shard_iterator IS NULL) FILTER (WHERE sequence_number IS NULL) AS no_next,
       string_agg(child_shards::text, ',') FILTER (WHERE sequence_number IS NULL) AS children
  FROM kinesis.get_records_rows(:'it');
SELECT r.child_shards AS get_records_children FROM kinesis.get_records(:'it') r;

-- errors as get_records'
SELECT kg_try('SELECT * FROM kinesis.get_records_rows(NULL)');
SELECT kg_try(format('SELECT * FROM kinesis.get_records_rows(%L, 0)', :'it'));
SELECT kg_try(format('SELECT * FROM kinesis.get_records_rows(%L, 10001)', :'it'));
SELECT kg_try('SELECT * FROM kinesis.get_records_rows(''garbage'')');
SELECT kg_try(format('SELECT * FROM kinesis.get_records_rows(%L, 10, wait => ''2 hours'')', :'it'));
-- a role without SELECT on the stream's records may not read them this way either
CREATE ROLE gr_reader;
SET ROLE gr_reader;
SELECT kg_try(format('SELECT * FROM kinesis.get_records_rows(%L)', :'it'));
RESET ROLE;
DROP ROLE gr_reader;

-- the record table's index and its segments' skip btree deduplication
-- (their keys are unique; a deduplication pass before each split is waste)
SELECT count(*) >= 2 AS indexes, bool_and(c.reloptions @> ARRAY['deduplicate_items=off']) AS no_dedup
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = (SELECT record_table FROM kinesis.streams WHERE stream_name = 'gr.s')
    OR i.indrelid IN (SELECT inhrelid FROM pg_inherits
                       WHERE inhparent = (SELECT record_table FROM kinesis.streams WHERE stream_name = 'gr.s'));

SELECT kinesis.delete_stream('gr.s');
