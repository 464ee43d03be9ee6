--
-- streams: the Data Streams control plane.
--   create_stream, delete_stream, list_streams, describe_stream_summary,
--   list_shards, increase/decrease_stream_retention_period,
--   kinesis_glue.wake_worker and the kinesis_glue.workers view.
-- Every stream of this file is named 'cp.*' (or is deleted before the end);
-- listings are filtered on that prefix so other files do not matter.
-- Timestamps are never printed, only compared.
--
\set VERBOSITY default

-- a stream's status, mode, retention and counts, without the timestamp
CREATE FUNCTION pg_temp.summary(name text)
RETURNS TABLE (stream_name text, stream_status text, stream_mode text,
               retention_period interval, open_shard_count int, consumer_count int,
               created_in_past boolean)
LANGUAGE sql AS $$
    SELECT d.stream_name, d.stream_status, d.stream_mode, d.retention_period,
           d.open_shard_count, d.consumer_count,
           d.stream_creation_timestamp <= clock_timestamp()
      FROM kinesis.describe_stream_summary(name) d
$$;

--
-- create_stream: defaults
--
SELECT kinesis.create_stream('cp.one');
SELECT * FROM pg_temp.summary('cp.one');
SELECT * FROM kinesis.list_shards('cp.one');
-- ON_DEMAND starts with 4 shards
SELECT kinesis.create_stream('cp.ondemand', stream_mode => 'ON_DEMAND');
SELECT * FROM pg_temp.summary('cp.ondemand');
SELECT shard_id, starting_hash_key, ending_hash_key FROM kinesis.list_shards('cp.ondemand');
-- explicit NULLs mean the defaults
SELECT kinesis.create_stream('cp.nulls', NULL, NULL, NULL);
SELECT stream_name, stream_mode, retention_period = interval '24 hours' AS retention_24h,
       open_shard_count
  FROM pg_temp.summary('cp.nulls');
-- named arguments, a retention other than the default
SELECT kinesis.create_stream(stream_name => 'cp.week', shard_count => 2,
                             retention_period => interval '7 days');
SELECT * FROM pg_temp.summary('cp.week');

--
-- initial hash key ranges for N = 1..5 (reference, section 1.4):
-- h = floor(2^128 / N), shard i = [i*h, (i+1)*h - 1], the last ends at 2^128-1
--
SELECT kinesis.create_stream('cp.n' || n, n) FROM generate_series(1, 5) n;
SELECT n, l.shard_id, l.starting_hash_key, l.ending_hash_key
  FROM generate_series(1, 5) n, kinesis.list_shards('cp.n' || n) l
 ORDER BY n, l.shard_id;
-- lineage and sequence ranges of new shards: no parents, open, starting
-- sequence number = the shard index (counter 0)
SELECT n, l.shard_id, l.parent_shard_id, l.adjacent_parent_shard_id,
       l.starting_sequence_number, l.ending_sequence_number
  FROM generate_series(1, 5) n, kinesis.list_shards('cp.n' || n) l
 ORDER BY n, l.shard_id;
-- the same, computed: every range matches the formula and they tile the space
WITH RECURSIVE two AS (SELECT 340282366920938463463374607431768211456::numeric AS p128)
SELECT n,
       bool_and(l.starting_hash_key = i * floor(p128 / n)) AS starts_ok,
       bool_and(l.ending_hash_key = CASE WHEN i = n - 1 THEN p128 - 1
                                         ELSE (i + 1) * floor(p128 / n) - 1 END) AS ends_ok,
       count(*) AS shards
  FROM two, generate_series(1, 5) n,
       LATERAL (SELECT s.*, (substr(s.shard_id, 9))::int AS i
                  FROM kinesis.list_shards('cp.n' || n) s) l
 GROUP BY n ORDER BY n;

--
-- shard_count bounds: 1..10000
--
SELECT kinesis.create_stream('cp.max', 10000);
SELECT count(*), min(shard_id), max(shard_id),
       max(ending_hash_key) = 340282366920938463463374607431768211455 AS covers_top
  FROM kinesis.list_shards('cp.max');
SELECT open_shard_count FROM kinesis.describe_stream_summary('cp.max');
SELECT kinesis.delete_stream('cp.max');
SELECT kinesis.create_stream('cp.bad', 0);
SELECT kinesis.create_stream('cp.bad', -1);
SELECT kinesis.create_stream('cp.bad', 10001);
-- ON_DEMAND takes no shard count; the mode is an enum (case-sensitive)
SELECT kinesis.create_stream('cp.bad', 2, 'ON_DEMAND');
SELECT kinesis.create_stream('cp.bad', 1, 'on_demand');
SELECT kinesis.create_stream('cp.bad', 1, 'SERVERLESS');
SELECT kinesis.create_stream('cp.bad', 1, '');

--
-- retention bounds: 24 h .. 8760 h
--
SELECT kinesis.create_stream('cp.bad', 1, 'PROVISIONED', interval '23 hours 59 minutes 59 seconds');
SELECT kinesis.create_stream('cp.bad', 1, 'PROVISIONED', interval '8760 hours 1 second');
SELECT kinesis.create_stream('cp.bad', 1, 'PROVISIONED', interval '366 days');
SELECT kinesis.create_stream('cp.bad', 1, 'PROVISIONED', interval '-1 day');
SELECT kinesis.create_stream('cp.bad', 1, 'PROVISIONED', interval '0');
SELECT kinesis.create_stream('cp.maxret', 1, 'PROVISIONED', interval '8760 hours');
SELECT stream_name, retention_period FROM pg_temp.summary('cp.maxret');
SELECT kinesis.create_stream('cp.minret', 1, 'PROVISIONED', interval '1 day');
SELECT stream_name, retention_period FROM pg_temp.summary('cp.minret');

--
-- stream names: 1-128 characters of [a-zA-Z0-9_.-]
--
SELECT kinesis.create_stream(NULL);
SELECT kinesis.create_stream('');
SELECT kinesis.create_stream('cp.' || repeat('x', 126));   -- 129 characters
SELECT kinesis.create_stream('cp bad');
SELECT kinesis.create_stream('cp/bad');
SELECT kinesis.create_stream('cp.bad;');
SELECT kinesis.create_stream('cp."bad"');
SELECT kinesis.create_stream('cp.bäd');
SELECT kinesis.create_stream(E'cp.bad\t');
-- none of the failed calls left anything behind
SELECT count(*) FROM kinesis.streams WHERE stream_name LIKE 'cp.bad%';
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'kinesis_records' AND c.relname LIKE 'cp.bad%';
-- every allowed character, mixed case
SELECT kinesis.create_stream('cp.Mixed-Case_09');
SELECT stream_name, record_table FROM kinesis.streams WHERE stream_name = 'cp.Mixed-Case_09';
-- names are case-sensitive: a different stream, a different record table
SELECT kinesis.create_stream('CP.mixed-case_09');
SELECT stream_name, record_table FROM kinesis.streams
 WHERE lower(stream_name) = 'cp.mixed-case_09' ORDER BY stream_name COLLATE "C";
SELECT kinesis.delete_stream('CP.mixed-case_09');
-- exactly 128 characters works; its record table name is shortened to
-- the first 40 characters and the stream id
SELECT kinesis.create_stream('cp.' || repeat('y', 125));
SELECT length(s.stream_name) AS name_length, n.nspname,
       c.relname = left(s.stream_name, 40) || '_' || s.stream_id AS table_named_prefix_and_id
  FROM kinesis.streams s JOIN pg_class c ON c.oid = s.record_table
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE s.stream_name = 'cp.' || repeat('y', 125);
SELECT * FROM pg_temp.summary('cp.' || repeat('y', 125));
-- 63 characters still fits a table name, 64 no longer does
SELECT kinesis.create_stream('cp.' || repeat('z', 60));
SELECT kinesis.create_stream('cp.' || repeat('w', 61));
SELECT length(s.stream_name) AS name_length,
       c.relname = s.stream_name AS table_is_name,
       c.relname = left(s.stream_name, 40) || '_' || s.stream_id AS table_is_prefix_and_id
  FROM kinesis.streams s JOIN pg_class c ON c.oid = s.record_table
 WHERE s.stream_name IN ('cp.' || repeat('z', 60), 'cp.' || repeat('w', 61))
 ORDER BY 1;
-- a long name whose shortened table name is already taken (by the record
-- table of a stream literally named like that) still gets a stream
SELECT last_value AS last_stream_id FROM kinesis.streams_stream_id_seq \gset
SELECT kinesis.create_stream('cp.' || repeat('v', 37) || '_' || (:last_stream_id + 2));
SELECT kinesis.create_stream('cp.' || repeat('v', 100));
SELECT count(*) AS streams, count(DISTINCT record_table) AS record_tables
  FROM kinesis.streams WHERE stream_name LIKE 'cp.vvv%';
SELECT kinesis.delete_stream('cp.' || repeat('v', 37) || '_' || (:last_stream_id + 2));
SELECT kg_try(format('SELECT kinesis.delete_stream(%L)', 'cp.' || repeat('v', 100)));

--
-- duplicate names: ResourceInUseException (55006), nothing changed
--
SELECT kinesis.create_stream('cp.one');
SELECT kinesis.create_stream('cp.one', 3);
SELECT kg_try($$SELECT kinesis.create_stream('cp.one')$$);
SELECT * FROM pg_temp.summary('cp.one');

--
-- list_streams: every stream, by name (C collation)
--
SELECT stream_name, stream_status, stream_mode,
       stream_creation_timestamp <= clock_timestamp() AS created_in_past
  FROM kinesis.list_streams() WHERE stream_name LIKE 'cp.%';
-- the order is the function's own
SELECT array_agg(stream_name) = array_agg(stream_name ORDER BY stream_name COLLATE "C") AS sorted
  FROM kinesis.list_streams();

--
-- describe_stream_summary / list_shards errors
--
SELECT * FROM kinesis.describe_stream_summary('cp.nope');
SELECT * FROM kinesis.describe_stream_summary(NULL);
SELECT * FROM kinesis.describe_stream_summary('cp bad');
SELECT * FROM kinesis.list_shards('cp.nope');
SELECT * FROM kinesis.list_shards(NULL);
SELECT * FROM kinesis.list_shards('');
SELECT kg_try($$SELECT kinesis.describe_stream_summary('cp.nope')$$);

--
-- retention changes
--
SELECT retention_period FROM pg_temp.summary('cp.one');
SELECT kinesis.increase_stream_retention_period('cp.one', interval '48 hours');
SELECT retention_period FROM pg_temp.summary('cp.one');
-- equal to the current value is accepted by both
SELECT kinesis.increase_stream_retention_period('cp.one', interval '48 hours');
SELECT kinesis.decrease_stream_retention_period('cp.one', interval '2 days');
SELECT retention_period FROM pg_temp.summary('cp.one');
-- the wrong direction
SELECT kinesis.increase_stream_retention_period('cp.one', interval '47 hours');
SELECT kinesis.decrease_stream_retention_period('cp.one', interval '49 hours');
SELECT kg_try($$SELECT kinesis.increase_stream_retention_period('cp.one', interval '25 hours')$$);
SELECT kg_try($$SELECT kinesis.decrease_stream_retention_period('cp.one', interval '100 hours')$$);
-- out of range, either way
SELECT kinesis.increase_stream_retention_period('cp.one', interval '8761 hours');
SELECT kinesis.decrease_stream_retention_period('cp.one', interval '23 hours');
SELECT kinesis.increase_stream_retention_period('cp.one', interval '-48 hours');
-- bad stream, NULLs
SELECT kinesis.increase_stream_retention_period('cp.nope', interval '48 hours');
SELECT kinesis.decrease_stream_retention_period('cp.nope', interval '24 hours');
SELECT kinesis.increase_stream_retention_period('cp.one', NULL);
SELECT kinesis.decrease_stream_retention_period(NULL, interval '24 hours');
-- nothing changed by the failures
SELECT retention_period FROM pg_temp.summary('cp.one');
-- to the bounds and back
SELECT kinesis.increase_stream_retention_period('cp.one', interval '8760 hours');
SELECT retention_period FROM pg_temp.summary('cp.one');
SELECT kinesis.decrease_stream_retention_period('cp.one', interval '24 hours');
SELECT retention_period FROM pg_temp.summary('cp.one');
-- a rolled back change is not seen
BEGIN;
SELECT kinesis.increase_stream_retention_period('cp.one', interval '72 hours');
SELECT retention_period FROM pg_temp.summary('cp.one');
ROLLBACK;
SELECT retention_period FROM pg_temp.summary('cp.one');
-- describe after changes: everything else is unchanged
SELECT * FROM pg_temp.summary('cp.one');
-- one measure of an interval for validation and comparison: '1 year' is
-- accepted at create as 360 days (PostgreSQL's interval ordering, 30-day
-- months), so 8760 hours is longer than it, not shorter
SELECT interval '1 year' < interval '8760 hours' AS year_is_shorter;
SELECT kinesis.create_stream('cp.year', 1, 'PROVISIONED', interval '1 year');
SELECT kinesis.decrease_stream_retention_period('cp.year', interval '8760 hours');
SELECT kinesis.increase_stream_retention_period('cp.year', interval '8760 hours');
SELECT retention_period FROM pg_temp.summary('cp.year');
SELECT kinesis.delete_stream('cp.year');

--
-- read-only transactions change nothing
--
BEGIN READ ONLY;
SELECT kinesis.create_stream('cp.ro');
ROLLBACK;
BEGIN READ ONLY;
SELECT kinesis.delete_stream('cp.one');
ROLLBACK;
BEGIN READ ONLY;
SELECT kinesis.increase_stream_retention_period('cp.one', interval '48 hours');
ROLLBACK;
BEGIN READ ONLY;
SELECT kinesis.decrease_stream_retention_period('cp.one', interval '24 hours');
ROLLBACK;
SELECT kg_try($$SELECT kinesis.create_stream('cp.ro')$$) FROM (SELECT set_config('transaction_read_only', 'on', true)) x;
-- reading the catalog is fine in a read-only transaction
BEGIN READ ONLY;
SELECT stream_name FROM kinesis.list_streams() WHERE stream_name = 'cp.one';
SELECT stream_name, open_shard_count FROM kinesis.describe_stream_summary('cp.one');
SELECT count(*) FROM kinesis.list_shards('cp.n3');
COMMIT;
SELECT count(*) FROM kinesis.streams WHERE stream_name = 'cp.ro';

--
-- a two-phase transaction cannot change a stream
--
BEGIN;
SELECT kinesis.create_stream('cp.twophase');
PREPARE TRANSACTION 'kg_create';
SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'kg_create';
SELECT count(*) FROM kinesis.streams WHERE stream_name = 'cp.twophase';

--
-- a delete that rolls back changes nothing
--
BEGIN;
SELECT kinesis.delete_stream('cp.n2');
SELECT count(*) FROM kinesis.streams WHERE stream_name = 'cp.n2';
ROLLBACK;
SELECT * FROM pg_temp.summary('cp.n2');
SELECT * FROM kinesis.put_record('cp.n2', 'a', 'after rollback of delete');

--
-- delete_stream
--
SELECT kinesis.delete_stream('cp.nope');
SELECT kinesis.delete_stream(NULL);
SELECT kinesis.delete_stream('cp nope');
SELECT kg_try($$SELECT kinesis.delete_stream('cp.nope')$$);
SELECT kinesis.delete_stream('cp.n1');
SELECT kinesis.delete_stream('cp.n2', enforce_consumer_deletion => true);
SELECT stream_name FROM kinesis.list_streams() WHERE stream_name LIKE 'cp.n_';
SELECT * FROM kinesis.describe_stream_summary('cp.n1');
SELECT * FROM kinesis.list_shards('cp.n2');
SELECT * FROM kinesis.put_record('cp.n1', 'a', 'x');
SELECT kinesis.delete_stream('cp.n1');
-- the record table and the segments are gone with the stream
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'kinesis_records' AND c.relname IN ('cp.n1', 'cp.n2');
SELECT count(*) FROM kinesis.shards sh
 WHERE NOT EXISTS (SELECT 1 FROM kinesis.streams s WHERE s.stream_id = sh.stream_id);
SELECT count(*) FROM kinesis.segments sg
 WHERE NOT EXISTS (SELECT 1 FROM kinesis.streams s WHERE s.stream_id = sg.stream_id);
-- a deleted name can be used again, with fresh shards and numbering
SELECT kinesis.create_stream('cp.n1', 3);
SELECT shard_id, starting_sequence_number FROM kinesis.list_shards('cp.n1');
SELECT * FROM kinesis.put_record('cp.n1', 'a', 'x');

--
-- the background worker of this database
--
SELECT kinesis_glue.wake_worker();
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM kinesis_glue.workers
                           WHERE database = current_database() AND pid IS NOT NULL);
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT database = current_database() AS this_database, pid IS NOT NULL AS running,
       wanted, stopping, started_at <= clock_timestamp() AS started_in_past
  FROM kinesis_glue.workers WHERE database = current_database();
SELECT count(*) FROM pg_stat_activity
 WHERE pid = (SELECT pid FROM kinesis_glue.workers WHERE database = current_database());
SELECT kinesis_glue.wake_worker();
SELECT kinesis_glue.wake_worker() FROM generate_series(1, 3);
-- the functions behind the views
SELECT wanted, stopping, pid IS NOT NULL AS running FROM kinesis_glue.worker_status()
 WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database());
SELECT * FROM kinesis._stream_stability(-1);
SELECT current_sequence_number, last_stable_sequence_number, open_producers
  FROM kinesis._stream_stability((SELECT stream_id FROM kinesis.streams WHERE stream_name = 'cp.n1'));

--
-- clean up
--
SELECT kinesis.delete_stream(stream_name) FROM kinesis.list_streams()
 WHERE stream_name LIKE 'cp.%' ORDER BY stream_name COLLATE "C";
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name LIKE 'cp.%';
