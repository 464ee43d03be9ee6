--
-- privileges: PostgreSQL roles and GRANTs decide who creates, writes,
-- reads and administers a stream.
--   CREATE on schema kinesis_records: create streams
--   owner of the stream (kinesis.streams.owner, the creator): delete it,
--   change its retention, GRANT (it holds SELECT and INSERT on
--   kinesis_records.<stream> WITH GRANT OPTION; the table itself belongs
--   to the extension owner, so nobody can attach code to it)
--   INSERT on it: put; SELECT on it: get_shard_iterator, get_records, read_shard
-- Direct DML on a record table is refused for everyone.  More attacks on
-- the storage are in security_storage.sql.  Streams of this
-- file are named 'pv.*'; roles are regress_kg_*, dropped at the end.
--
\set VERBOSITY default

CREATE ROLE regress_kg_owner;
CREATE ROLE regress_kg_member IN ROLE regress_kg_owner;
CREATE ROLE regress_kg_reader;
CREATE ROLE regress_kg_writer;
CREATE ROLE regress_kg_nobody;
GRANT CREATE ON SCHEMA kinesis_records TO regress_kg_owner;

-- no function of the extension widens privileges
SELECT count(*) AS security_definer_functions
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('kinesis', 'kinesis_glue', 'kinesis_records', 'kinesis_segments')
   AND p.prosecdef;

--
-- creating a stream needs CREATE on schema kinesis_records
--
SET ROLE regress_kg_nobody;
SELECT kinesis.create_stream('pv.denied');
SELECT kg_try($$SELECT kinesis.create_stream('pv.denied')$$);
RESET ROLE;
SELECT count(*) FROM kinesis.streams WHERE stream_name = 'pv.denied';

SET ROLE regress_kg_owner;
SELECT kinesis.create_stream('pv.s', 2);
SELECT kinesis.create_stream('pv.other');
RESET ROLE;
-- the creator owns the stream; the extension owner owns the record table,
-- and the creator holds SELECT and INSERT on it with grant option
SELECT s.stream_name, s.owner, t.tableowner = e.extowner::regrole::name AS table_of_extension,
       has_table_privilege('regress_kg_owner', s.record_table, 'SELECT WITH GRANT OPTION') AS sel,
       has_table_privilege('regress_kg_owner', s.record_table, 'INSERT WITH GRANT OPTION') AS ins,
       has_table_privilege('regress_kg_owner', s.record_table, 'UPDATE, DELETE, TRUNCATE, TRIGGER') AS other
  FROM kinesis.streams s
  JOIN pg_tables t ON t.schemaname = 'kinesis_records' AND t.tablename = s.stream_name
  CROSS JOIN pg_extension e
 WHERE e.extname = 'kinesis_glue' AND s.stream_name LIKE 'pv.%' ORDER BY 1;

--
-- the owner puts and reads; direct DML is refused even for the owner
-- (INSERT by the trigger; UPDATE, DELETE and TRUNCATE are not granted)
--
SET ROLE regress_kg_owner;
SELECT * FROM kinesis.put_record('pv.s', 'k1', 'owner 1', 0);
SELECT * FROM kinesis.put_records('pv.s', ARRAY['k2'], ARRAY['owner 2']::bytea[]);
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('pv.s', '0');
INSERT INTO kinesis_records."pv.s" VALUES (0, 999 << 16, now(), 'k', 'direct');
UPDATE kinesis_records."pv.s" SET data = 'changed';
DELETE FROM kinesis_records."pv.s";
TRUNCATE kinesis_records."pv.s";
SELECT kg_try($$INSERT INTO kinesis_records."pv.s" VALUES (0, 999 << 16, now(), 'k', 'direct')$$);
SELECT kg_try($$UPDATE kinesis_records."pv.s" SET data = 'changed'$$);
SELECT kg_try($$DELETE FROM kinesis_records."pv.s"$$);
SELECT kg_try($$TRUNCATE kinesis_records."pv.s"$$);
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('pv.s', '0');
-- nor by switching the guard off first (a duplicate sequence number, a
-- wiped stream)
SELECT kg_try($q$DO $d$ BEGIN
                   ALTER TABLE kinesis_records."pv.s" DISABLE TRIGGER forbid_direct_dml;
                   INSERT INTO kinesis_records."pv.s" VALUES (0, 65536, now(), 'k1', 'duplicate');
               END $d$$q$) <> 'ok' AS insert_refused;
SELECT kg_try($q$DO $d$ BEGIN
                   ALTER TABLE kinesis_records."pv.s" DISABLE TRIGGER forbid_truncate;
                   TRUNCATE kinesis_records."pv.s";
               END $d$$q$) <> 'ok' AS truncate_refused;
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('pv.s', '0');
-- the owner grants: SELECT to the reader, INSERT to the writer
GRANT SELECT ON kinesis_records."pv.s" TO regress_kg_reader;
GRANT INSERT ON kinesis_records."pv.s" TO regress_kg_writer;
SELECT kinesis.get_shard_iterator('pv.s', 'shardId-000000000000', 'TRIM_HORIZON') AS it_owner \gset
RESET ROLE;
-- a superuser is refused direct DML as well
INSERT INTO kinesis_records."pv.s" VALUES (0, 999 << 16, now(), 'k', 'direct');
DELETE FROM kinesis_records."pv.s";

--
-- a role with no grant: 42501 on every data-plane and owner-only call
--
SET ROLE regress_kg_nobody;
SELECT * FROM kinesis.put_record('pv.s', 'k', 'x');
SELECT * FROM kinesis.put_records('pv.s', ARRAY['k'], ARRAY['x']::bytea[]);
SELECT * FROM kinesis.put_records('pv.s', ARRAY[('k', 'x', NULL)]::kinesis.put_records_entry[]);
SELECT kinesis.get_shard_iterator('pv.s', 'shardId-000000000000', 'TRIM_HORIZON');
SELECT * FROM kinesis.get_records(:'it_owner');
SELECT * FROM kinesis.read_shard('pv.s', 'shardId-000000000000');
SELECT kinesis.delete_stream('pv.s');
SELECT kinesis.increase_stream_retention_period('pv.s', interval '48 hours');
SELECT kinesis.decrease_stream_retention_period('pv.s', interval '24 hours');
SELECT kg_try($$SELECT kinesis.put_record('pv.s', 'k', 'x')$$) AS put_record,
       kg_try($$SELECT kinesis.get_shard_iterator('pv.s', '0', 'LATEST')$$) AS get_shard_iterator;
SELECT kg_try(format('SELECT kinesis.get_records(%L)', :'it_owner')) AS get_records,
       kg_try($$SELECT kinesis.read_shard('pv.s', '0')$$) AS read_shard;
SELECT kg_try($$SELECT kinesis.delete_stream('pv.s')$$) AS delete_stream;
-- nor directly
SELECT * FROM kinesis_records."pv.s";
INSERT INTO kinesis_records."pv.s" VALUES (0, 999 << 16, now(), 'k', 'direct');
SELECT count(*) FROM kinesis_segments.s1_0;
SELECT * FROM kinesis.iterator_secret;
INSERT INTO kinesis.streams (stream_name, stream_mode, retention_period, segment_capacity, next_shard_index)
     VALUES ('pv.forged', 'PROVISIONED', '1 day', 1024, 1);
UPDATE kinesis.streams SET retention_period = '8760 hours' WHERE stream_name = 'pv.s';
DELETE FROM kinesis.shards;
SELECT kinesis_glue._register_database();
-- the catalog, the listings, the stability view and the worker view are public
SELECT stream_name, stream_status FROM kinesis.list_streams() WHERE stream_name LIKE 'pv.%';
SELECT stream_name, open_shard_count, retention_period FROM kinesis.describe_stream_summary('pv.s');
SELECT shard_id FROM kinesis.list_shards('pv.s');
SELECT stream_name, open_producers FROM kinesis.stream_stability WHERE stream_name = 'pv.s';
SELECT count(*) FROM kinesis_glue.workers WHERE database = current_database();
-- errors about the stream itself still come first
SELECT * FROM kinesis.put_record('pv.nope', 'k', 'x');
SELECT kinesis.delete_stream('pv.nope');
RESET ROLE;

--
-- the reader reads, and may do nothing else
--
SET ROLE regress_kg_reader;
SELECT (x).shard_id, (x).sequence_number, (x).partition_key, (x).data
  FROM (SELECT unnest(records) AS x FROM kinesis.get_records(:'it_owner')) r;
SELECT (x).sequence_number, (x).data
  FROM (SELECT unnest(records) AS x
          FROM kinesis.get_records(kinesis.get_shard_iterator('pv.s', 'shardId-000000000000', 'TRIM_HORIZON'))) r;
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('pv.s', '0');
SELECT * FROM kinesis.put_record('pv.s', 'k', 'x');
SELECT kinesis.delete_stream('pv.s');
SELECT kinesis.increase_stream_retention_period('pv.s', interval '48 hours');
-- other streams stay closed to it
SELECT * FROM kinesis.read_shard('pv.other', '0');
SELECT kinesis.get_shard_iterator('pv.other', '0', 'LATEST');
RESET ROLE;

--
-- the writer puts, and may do nothing else
--
SET ROLE regress_kg_writer;
SELECT * FROM kinesis.put_record('pv.s', 'w1', 'writer 1', 0);
SELECT * FROM kinesis.put_records('pv.s', ARRAY['w2', 'w3'], ARRAY['writer 2', 'writer 3']::bytea[]);
SELECT * FROM kinesis.put_records('pv.s', ARRAY[('w4', 'writer 4', 0)]::kinesis.put_records_entry[]);
SELECT * FROM kinesis.read_shard('pv.s', '0');
SELECT kinesis.get_shard_iterator('pv.s', '0', 'TRIM_HORIZON');
SELECT * FROM kinesis.get_records(:'it_owner');
SELECT kinesis.decrease_stream_retention_period('pv.s', interval '24 hours');
SELECT kinesis.delete_stream('pv.s');
INSERT INTO kinesis_records."pv.s" VALUES (0, 999 << 16, now(), 'k', 'direct');
SELECT * FROM kinesis.put_record('pv.other', 'k', 'x');
RESET ROLE;

-- everything the owner and the writer put, nothing else
SET ROLE regress_kg_owner;
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('pv.s', '0');
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('pv.s', '1');
-- revoking takes effect at once
REVOKE SELECT ON kinesis_records."pv.s" FROM regress_kg_reader;
REVOKE INSERT ON kinesis_records."pv.s" FROM regress_kg_writer;
RESET ROLE;
SET ROLE regress_kg_reader;
SELECT * FROM kinesis.get_records(:'it_owner');
SELECT * FROM kinesis.read_shard('pv.s', '0');
RESET ROLE;
SET ROLE regress_kg_writer;
SELECT * FROM kinesis.put_record('pv.s', 'k', 'x');
RESET ROLE;

--
-- administration: the owner, members of the owner role and superusers
--
SET ROLE regress_kg_owner;
SELECT kinesis.increase_stream_retention_period('pv.s', interval '48 hours');
SELECT kinesis.decrease_stream_retention_period('pv.s', interval '36 hours');
RESET ROLE;
SET ROLE regress_kg_member;
SELECT kinesis.increase_stream_retention_period('pv.s', interval '72 hours');
SELECT kinesis.delete_stream('pv.other');
RESET ROLE;
SELECT kinesis.decrease_stream_retention_period('pv.s', interval '24 hours');
SELECT stream_name, retention_period FROM kinesis.describe_stream_summary('pv.s');
SET ROLE regress_kg_owner;
SELECT kinesis.delete_stream('pv.s');
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name LIKE 'pv.%';
RESET ROLE;

--
-- clean up
--
REVOKE CREATE ON SCHEMA kinesis_records FROM regress_kg_owner;
DROP ROLE regress_kg_member;
DROP ROLE regress_kg_owner;
DROP ROLE regress_kg_reader;
DROP ROLE regress_kg_writer;
DROP ROLE regress_kg_nobody;
