--
-- security_storage: the storage of data streams and video streams belongs
-- to the extension, so a stream's owner (a role without special
-- attributes) cannot attach code to it that would later run as the
-- extension owner; the DDL guard cannot be switched off by a caught
-- error; owners that go away behave as for PostgreSQL objects; retention
-- limits do not overflow.  Each attack is written as the attacker would.
-- Streams are 'ss.*', roles regress_ss_*, dropped at the end.
--
\set VERBOSITY default

CREATE ROLE regress_ss_attacker;
CREATE ROLE regress_ss_reader;
GRANT CREATE ON SCHEMA kinesis_records, kinesis_video_media TO regress_ss_attacker;
CREATE SCHEMA regress_ss AUTHORIZATION regress_ss_attacker;

SET ROLE regress_ss_attacker;
-- The attacker's code: immutable, so the planner and DDL fold it when its
-- arguments are constant.  It reports when it runs with superuser rights.
CREATE FUNCTION regress_ss.probe(i integer) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE AS
$$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RAISE WARNING 'attacker code ran with superuser rights';
    END IF;
    RETURN i;
END
$$;
SELECT kinesis.create_stream('ss.s', 1);
SELECT kinesis_video.create_stream('ss.cam', data_retention_in_hours => 1) IS NOT NULL AS created;
-- the attacker owns the streams, not their storage
SELECT stream_name, owner, pg_get_userbyid(c.relowner) = 'regress_ss_attacker' AS owns_table
  FROM kinesis.streams s JOIN pg_class c ON c.oid = s.record_table WHERE stream_name = 'ss.s';
SELECT stream_name, owner, pg_get_userbyid(c.relowner) = 'regress_ss_attacker' AS owns_table
  FROM kinesis_video.streams s JOIN pg_class c ON c.oid = s.media_table WHERE stream_name = 'ss.cam';

--
-- 1. CREATE STATISTICS with a function expression on the fragment table,
--    then put_media (which plans a query on that table as the extension
--    owner): refused, and nothing of the attacker's runs
--
SELECT kg_try($$CREATE STATISTICS regress_ss.st ON (fragment_number + regress_ss.probe(1)), media_sequence
                FROM kinesis_video_media."ss.cam"$$) AS video_statistics;
SELECT kg_try($$CREATE STATISTICS regress_ss.st2 ON (shard_index + regress_ss.probe(1)), sequence_number
                FROM kinesis_records."ss.s"$$) AS stream_statistics;
SELECT fragment_number > 0 AS put FROM kinesis_video.put_media('ss.cam', '\x00', now(), 1000);
SELECT count(*) AS attacker_statistics FROM pg_statistic_ext WHERE stxnamespace = 'regress_ss'::regnamespace;

--
-- 2. After a caught error inside the extension (put_media to a missing
--    stream), the DDL guard is still up: CREATE INDEX ON ONLY with the
--    attacker's predicate, disabling the DML trigger, dropping the
--    storage are refused; creating a segment (split_shard) runs nothing of
--    the attacker's
--
BEGIN;
DO $$
BEGIN
    PERFORM kinesis_video.put_media('ss.missing', '\x00', now(), 1000);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'caught: %', SQLERRM;
END
$$;
SELECT kg_try($$CREATE INDEX ON ONLY kinesis_records."ss.s" (shard_index) WHERE regress_ss.probe(1) = 1$$) AS index_on_only;
SELECT kg_try($$CREATE INDEX ON kinesis_video_media."ss.cam" (media_sequence) WHERE regress_ss.probe(1) = 1$$) AS video_index;
-- a new segment (for the child shards) clones the indexes of the record table
SELECT kinesis.split_shard('ss.s', 'shardId-000000000000', 170141183460469231731687303715884105728);
SELECT kg_try($$ALTER TABLE kinesis_records."ss.s" DISABLE TRIGGER forbid_direct_dml$$) AS disable_trigger;
SELECT kg_try($$INSERT INTO kinesis_records."ss.s" VALUES (0, 1, now(), 'k', 'forged')$$) AS forged_insert;
SELECT kg_try($$DROP TABLE kinesis_records."ss.s"$$) AS drop_storage;
COMMIT;
-- the same with the guard lowered in a subtransaction that is rolled back
BEGIN;
SAVEPOINT a;
SELECT kinesis_video.put_media('ss.missing', '\x00', now(), 1000);
ROLLBACK TO SAVEPOINT a;
SELECT kg_try($$ALTER TABLE kinesis_records."ss.s" DISABLE TRIGGER forbid_truncate$$) AS after_rollback_to;
COMMIT;
SELECT count(*) AS attacker_indexes FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE pg_get_expr(i.indpred, i.indrelid) LIKE '%probe%';
SELECT shard_id FROM kinesis.list_shards('ss.s') ORDER BY 1;

--
-- 3. Tables of the attacker's that would share the storage: a partition
--    of the record table, a child inheriting from it, attaching a segment
--
CREATE TABLE regress_ss.mine (shard_index integer, sequence_number bigint,
                              approximate_arrival_timestamp timestamptz, partition_key text, data bytea);
SELECT kg_try($$CREATE TABLE regress_ss.part PARTITION OF kinesis_records."ss.s"
                FOR VALUES FROM (4611686018427387904) TO (4611686018427387905)$$) AS partition_of;
SELECT kg_try($$CREATE TABLE regress_ss.child () INHERITS (kinesis_records."ss.s")$$) AS inherits;
SELECT kg_try($$ALTER TABLE regress_ss.mine INHERIT kinesis_records."ss.s"$$) AS alter_inherit;
SELECT kg_try($$ALTER TABLE kinesis_records."ss.s" ATTACH PARTITION regress_ss.mine
                FOR VALUES FROM (4611686018427387904) TO (4611686018427387905)$$) AS attach;
-- the owner still shares its stream with GRANT, as the README shows
GRANT SELECT ON kinesis_records."ss.s" TO regress_ss_reader;
GRANT INSERT ON kinesis_video_media."ss.cam" TO regress_ss_reader;
RESET ROLE;
-- the guard refuses superusers too (defence in depth), also when the
-- storage is named on the other side of an ALTER
SELECT kg_try($$CREATE STATISTICS regress_ss.st3 ON (shard_index + 1), sequence_number
                FROM kinesis_records."ss.s"$$) AS superuser_statistics;
CREATE TABLE regress_ss.p2 (LIKE kinesis_records."ss.s") PARTITION BY RANGE (sequence_number);
SELECT kg_try(format('ALTER TABLE regress_ss.p2 ATTACH PARTITION %s FOR VALUES FROM (0) TO (1)',
                     (SELECT relation FROM kinesis.segments s JOIN kinesis.streams USING (stream_id)
                       WHERE stream_name = 'ss.s' ORDER BY segment_no LIMIT 1))) AS attach_segment;
DROP TABLE regress_ss.p2;
SET ROLE regress_ss_reader;
SELECT count(*) >= 0 AS reader_reads FROM kinesis.read_shard('ss.s', 'shardId-000000000001');
SELECT fragment_number > 0 AS reader_puts FROM kinesis_video.put_media('ss.cam', '\x01', now(), 1000);
RESET ROLE;

--
-- 4. Retention limits: an interval too long for microseconds is too long,
--    not too short
--
SET ROLE regress_ss_attacker;
SELECT kg_try($$SELECT kinesis.increase_stream_retention_period('ss.s', '1000000 years')$$) AS increase_huge;
SELECT kg_try($$SELECT kinesis.increase_stream_retention_period('ss.s', '178000000 years')$$) AS increase_max_interval;
SELECT kg_try($$SELECT kinesis.decrease_stream_retention_period('ss.s', '-1000000 years')$$) AS decrease_negative;
SELECT kg_try($$SELECT kinesis.create_stream('ss.long', 1, 'PROVISIONED', '1000000 years')$$) AS create_huge;
SELECT kg_try($$SELECT kinesis_video.create_stream('ss.longcam', data_retention_in_hours => 2147483647)$$) AS video_create_huge;
SELECT kg_try(format($$SELECT kinesis_video.update_data_retention('ss.cam', %s, 'INCREASE_DATA_RETENTION', 2147483647)$$,
                     (SELECT version FROM kinesis_video.streams WHERE stream_name = 'ss.cam'))) AS video_increase_huge;
SELECT retention_period FROM kinesis.describe_stream_summary('ss.s');
RESET ROLE;

--
-- 5. Owners that go away.  A stream owner holds privileges on the storage,
--    so DROP ROLE is refused until DROP OWNED (which deletes its streams)
--    or REASSIGN OWNED (which hands them to another role)
--
CREATE ROLE regress_ss_gone;
CREATE ROLE regress_ss_old;
CREATE ROLE regress_ss_new;
GRANT CREATE ON SCHEMA kinesis_records, kinesis_video_media TO regress_ss_gone, regress_ss_old;
SET ROLE regress_ss_gone;
SELECT kinesis.create_stream('ss.gone', 1);
SELECT kinesis_video.create_stream('ss.gonecam') IS NOT NULL AS created;
GRANT SELECT ON kinesis_records."ss.gone" TO regress_ss_reader;
SELECT kinesis.register_stream_consumer('ss.gone', 'gone-consumer') IS NOT NULL AS registered;
SET ROLE regress_ss_old;
SELECT kinesis.create_stream('ss.old', 1);
SELECT kinesis_video.create_stream('ss.oldcam') IS NOT NULL AS created;
GRANT SELECT ON kinesis_records."ss.old" TO regress_ss_reader;
RESET ROLE;
REVOKE CREATE ON SCHEMA kinesis_records, kinesis_video_media FROM regress_ss_gone, regress_ss_old;
SELECT kg_try('DROP ROLE regress_ss_gone') AS drop_role_with_streams;
DROP OWNED BY regress_ss_gone;
SELECT count(*) AS left_of_gone FROM (
    SELECT stream_name FROM kinesis.streams WHERE stream_name = 'ss.gone'
    UNION ALL SELECT stream_name FROM kinesis_video.streams WHERE stream_name = 'ss.gonecam'
    UNION ALL SELECT relname::text FROM pg_class WHERE relname IN ('ss.gone', 'ss.gonecam')) x;
DROP ROLE regress_ss_gone;
-- REASSIGN OWNED: the new owner administers and shares the streams
SELECT kg_try('DROP ROLE regress_ss_old') AS drop_role_with_streams;
REASSIGN OWNED BY regress_ss_old TO regress_ss_new;
SELECT stream_name, owner FROM kinesis.streams WHERE stream_name = 'ss.old';
SELECT stream_name, owner FROM kinesis_video.streams WHERE stream_name = 'ss.oldcam';
DROP OWNED BY regress_ss_old;
DROP ROLE regress_ss_old;
SET ROLE regress_ss_new;
GRANT INSERT ON kinesis_records."ss.old" TO regress_ss_reader;
SELECT kinesis.increase_stream_retention_period('ss.old', '48 hours');
SELECT kinesis_video.delete_stream('ss.oldcam');
RESET ROLE;
-- (as for any table, what the old owner granted went with DROP OWNED BY it)
SELECT has_table_privilege('regress_ss_reader', 'kinesis_records."ss.old"', 'SELECT') AS old_grant_went_with_old,
       has_table_privilege('regress_ss_reader', 'kinesis_records."ss.old"', 'INSERT') AS new_grant;
-- a superuser deletes any stream, whoever owns it
SELECT kinesis.delete_stream('ss.old');
-- DROP OWNED of a video stream another role's processor reads: RESTRICT refuses
CREATE ROLE regress_ss_cam;
GRANT CREATE ON SCHEMA kinesis_video_media TO regress_ss_cam;
SET ROLE regress_ss_cam;
SELECT kinesis_video.create_stream('ss.camp') IS NOT NULL AS created;
RESET ROLE;
REVOKE CREATE ON SCHEMA kinesis_video_media FROM regress_ss_cam;
CREATE FUNCTION regress_ss.detect(f kinesis_video.fragment) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb';
SELECT kinesis_video.create_stream_processor('ss.proc', 'ss.camp', 'regress_ss.detect', 'ss.s') IS NOT NULL AS processor;
SELECT kg_try('DROP OWNED BY regress_ss_cam') AS drop_owned_restrict;
DROP OWNED BY regress_ss_cam CASCADE;
SELECT count(*) AS processors_left FROM kinesis_video.stream_processors WHERE name = 'ss.proc';
DROP ROLE regress_ss_cam;

--
-- clean up
--
SELECT kinesis.delete_stream('ss.s');
SELECT kinesis_video.delete_stream('ss.cam');
DROP SCHEMA regress_ss CASCADE;
REVOKE CREATE ON SCHEMA kinesis_records, kinesis_video_media FROM regress_ss_attacker;
DROP OWNED BY regress_ss_attacker;
DROP ROLE regress_ss_attacker, regress_ss_reader, regress_ss_new;
