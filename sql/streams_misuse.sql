--
-- streams_misuse: a stream created in a rolled-back transaction, and a
-- record table dropped behind the extension's back by the stream's owner.
-- Neither may break the session, the worker or the server.  Kept in a file
-- of its own that runs last: with the bugs these tests were written
-- against, the first crashed the backend and the second put the server
-- into a crash-restart loop (see the commit message).
-- Streams of this file are named 'mu.*'.
--
\set VERBOSITY default

--
-- A stream created in a transaction that rolls back is gone, also for the
-- session that created it; the name is free again and a new stream of that
-- name works in this session.
--
BEGIN;
SELECT kinesis.create_stream('mu.rolledback', 2);
SELECT stream_name, open_shard_count FROM kinesis.describe_stream_summary('mu.rolledback');
SELECT * FROM kinesis.put_record('mu.rolledback', 'a', 'x');
ROLLBACK;
SELECT count(*) FROM kinesis.streams WHERE stream_name = 'mu.rolledback';
SELECT * FROM kinesis.put_record('mu.rolledback', 'a', 'x');
SELECT * FROM kinesis.read_shard('mu.rolledback', 'shardId-000000000000');
SELECT * FROM kinesis.get_shard_iterator('mu.rolledback', 'shardId-000000000000', 'TRIM_HORIZON');
SELECT * FROM kinesis.list_shards('mu.rolledback');
SELECT * FROM kinesis.describe_stream_summary('mu.rolledback');
SELECT kinesis.delete_stream('mu.rolledback');
SELECT kinesis.create_stream('mu.rolledback', 2);
SELECT stream_name, open_shard_count FROM kinesis.describe_stream_summary('mu.rolledback');
SELECT shard_id, starting_sequence_number FROM kinesis.list_shards('mu.rolledback');
SELECT * FROM kinesis.put_record('mu.rolledback', 'a', 'x');
SELECT shard_id, sequence_number, partition_key, data
  FROM kinesis.read_shard('mu.rolledback', 'shardId-000000000000');
SELECT kinesis.delete_stream('mu.rolledback');

--
-- The owner of a stream drops its record table directly.  Whatever DROP
-- TABLE does (refused, or allowed), the stream can still be deleted and the
-- background worker and the server keep running.
--
CREATE ROLE regress_kg_dropper;
GRANT CREATE ON SCHEMA kinesis_records TO regress_kg_dropper;
SET ROLE regress_kg_dropper;
SELECT kinesis.create_stream('mu.victim');
SELECT * FROM kinesis.put_record('mu.victim', 'k', 'x');
SELECT kg_try($$DROP TABLE kinesis_records."mu.victim"$$) IS NOT NULL AS attempted;
RESET ROLE;
-- give the worker two rounds to trip over it
SELECT kinesis_glue.wake_worker();
SELECT pg_sleep(1);
SELECT kinesis_glue.wake_worker();
SELECT pg_sleep(1);
SET ROLE regress_kg_dropper;
SELECT kg_try($$SELECT kinesis.delete_stream('mu.victim')$$);
RESET ROLE;
SELECT count(*) FROM kinesis.streams WHERE stream_name = 'mu.victim';
-- the name is free again
SELECT kinesis.create_stream('mu.victim');
SELECT * FROM kinesis.put_record('mu.victim', 'k', 'x');
SELECT kinesis.delete_stream('mu.victim');
-- the worker of this database is (still, or again) running
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM kinesis_glue.workers
                           WHERE database = current_database() AND pid IS NOT NULL);
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT pid IS NOT NULL AS running FROM kinesis_glue.workers WHERE database = current_database();
REVOKE CREATE ON SCHEMA kinesis_records FROM regress_kg_dropper;
DROP ROLE regress_kg_dropper;
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name LIKE 'mu.%';
