--
-- firehose: Firehose delivery streams into tables (src/firehose).
--   create/list/describe/update/stop/start/delete, put_record(_batch) and
--   their limits, delivery in 'columns', 'jsonb' and 'bytea' formats, the
--   error output, transforms, KinesisStreamAsSource, exactly-once flushes,
--   ownership and row-level security of the error output.
-- Every delivery stream here buffers 900 s / 5 MiB so the background worker
-- never delivers on its own during the test; firehose.flush() delivers.
-- Sequence numbers, timestamps and pids are never printed.
--
\set VERBOSITY default

CREATE TABLE fh_events (id int PRIMARY KEY, name text, qty int CHECK (qty >= 0),
                        sequence_number bigint, partition_key text,
                        approximate_arrival_timestamp timestamptz);
CREATE TABLE fh_plain (id int, name text);
CREATE TABLE fh_docs (doc jsonb, note text);
CREATE TABLE fh_raw (raw bytea, doc jsonb);

-- create_delivery_stream validations
SELECT kg_try($$SELECT firehose.create_delivery_stream('', 'fh_plain')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream(repeat('a', 65), 'fh_plain')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('bad name', 'fh_plain')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('bad/name', 'fh_plain')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream(NULL, 'fh_plain')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.bufsize', 'fh_plain', buffering_size_mib => 0)$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.bufsize', 'fh_plain', buffering_size_mib => 129)$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.interval', 'fh_plain', buffering_interval => '-1 s')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.interval', 'fh_plain', buffering_interval => '901 s')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.type', 'fh_plain', delivery_stream_type => 'S3')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.dp', 'fh_plain', kinesis_stream_name => 'fh.src')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.ks', 'fh_plain', delivery_stream_type => 'KinesisStreamAsSource')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.fmt', 'fh_plain', record_format => 'csv')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.fmt', 'fh_docs', record_format => 'jsonb')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.fmt', 'fh_docs', record_format => 'jsonb', data_column => 'note')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.fmt', 'fh_docs', record_format => 'jsonb', data_column => 'nope')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.fmt', 'fh_raw', record_format => 'bytea', data_column => 'doc')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.fmt', 'fh_raw', record_format => 'bytea')$$);
-- nothing of the failed attempts is left behind
SELECT count(*) FROM firehose.delivery_streams;
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name LIKE 'firehose-%';

-- the delivery streams of this file
SELECT firehose.create_delivery_stream('fh.events', 'fh_events', buffering_interval => '900 s');
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.events', 'fh_plain', buffering_interval => '900 s')$$);
SELECT firehose.create_delivery_stream('fh.docs', 'fh_docs', record_format => 'jsonb', data_column => 'doc',
                                       buffering_interval => '900 s');
SELECT firehose.create_delivery_stream('fh.raw', 'fh_raw', record_format => 'bytea', data_column => 'raw',
                                       buffering_interval => '900 s');
SELECT firehose.create_delivery_stream('A-' || repeat('z', 62), 'fh_plain', buffering_interval => '900 s');
SELECT * FROM firehose.list_delivery_streams();
SELECT stream_name, stream_status FROM kinesis.list_streams()
 WHERE stream_name LIKE 'firehose-%' ORDER BY stream_name COLLATE "C";
SELECT delivery_stream_name, delivery_stream_type, delivery_stream_status, source_stream, destination_table,
       record_format, buffering_size_mib, buffering_interval, transform_function, version_id,
       records_delivered, records_failed, last_delivery_at IS NULL AS never_delivered, last_error
  FROM firehose.describe_delivery_stream('fh.docs');
SELECT kg_try($$SELECT * FROM firehose.describe_delivery_stream('fh.none')$$);
SELECT firehose.delete_delivery_stream('A-' || repeat('z', 62));

-- put_record / put_record_batch and their limits
SELECT kg_try($$SELECT firehose.put_record('fh.none', '{}')$$);
SELECT kg_try($$SELECT firehose.put_record('fh.plain', NULL)$$);
SELECT kg_try($$SELECT firehose.put_record('fh.raw', NULL)$$);
SELECT kg_try($$SELECT firehose.put_record('fh.raw', convert_to(repeat('x', 1024001), 'UTF8'))$$);
SELECT kg_try($$SELECT * FROM firehose.put_record_batch('fh.raw', ARRAY[]::bytea[])$$);
SELECT kg_try($$SELECT * FROM firehose.put_record_batch('fh.raw', NULL)$$);
SELECT kg_try($$SELECT * FROM firehose.put_record_batch('fh.raw', ARRAY['a', NULL]::bytea[])$$);
SELECT kg_try($$SELECT * FROM firehose.put_record_batch('fh.raw',
                   array_fill('x'::bytea, ARRAY[501]))$$);
SELECT kg_try($$SELECT * FROM firehose.put_record_batch('fh.raw',
                   array_fill(convert_to(repeat('x', 1000000), 'UTF8'), ARRAY[5]))$$);
-- nothing of the rejected puts was buffered
SELECT firehose.flush('fh.raw');
-- the largest record, the largest batch count, a batch of exactly 4 MiB
SELECT firehose.put_record('fh.raw', convert_to(repeat('x', 1024000), 'UTF8')) IS NOT NULL AS put;
SELECT count(*) AS records, count(record_id) AS with_id, count(error_code) AS failed
  FROM firehose.put_record_batch('fh.raw', array_fill('\x00ff'::bytea, ARRAY[500]));
SELECT firehose.flush('fh.raw');
-- 4 x 1,000 KiB + 98,304 bytes = 4 MiB exactly; one byte more is refused
SELECT kg_try($$SELECT * FROM firehose.put_record_batch('fh.raw',
                   array_fill(convert_to(repeat('y', 1024000), 'UTF8'), ARRAY[4])
                   || convert_to(repeat('y', 98305), 'UTF8'))$$);
SELECT count(*) AS records, count(error_code) AS failed
  FROM firehose.put_record_batch('fh.raw', array_fill(convert_to(repeat('y', 1024000), 'UTF8'), ARRAY[4])
                                           || convert_to(repeat('y', 98304), 'UTF8'));
SELECT firehose.flush('fh.raw');
SELECT octet_length(raw) AS bytes, count(*) FROM fh_raw GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM fh_raw WHERE raw = '\x00ff';
SELECT count(*) FROM fh_raw WHERE doc IS NOT NULL;
-- flushing again delivers nothing: exactly once
SELECT firehose.flush('fh.raw');
SELECT count(*) FROM fh_raw;

-- 'columns' delivery: keys to columns by name, rejected rows to the error output
SELECT count(*) AS records, count(error_code) AS failed
  FROM firehose.put_record_batch('fh.events', ARRAY[
    '{"id": 1, "name": "one", "qty": 2, "extra": "ignored"}',
    '{"id": 2}',
    '{"id": 3, "name": "negative", "qty": -1}',
    '{"id": 4, "qty": "many"}',
    'not json',
    '[{"id": 6}]',
    '{"id": 1, "name": "duplicate"}',
    '{"id": 7, "name": "seven", "qty": 0}'
  ]::text[]::bytea[]);
SELECT count(*) AS not_yet_delivered FROM fh_events;
SELECT firehose.flush('fh.events');
SELECT id, name, qty, sequence_number IS NOT NULL AS has_seq, partition_key IS NOT NULL AS has_pk,
       approximate_arrival_timestamp IS NOT NULL AS has_arrival
  FROM fh_events ORDER BY id;
SELECT count(DISTINCT sequence_number) AS distinct_seqs FROM fh_events;
SELECT e.error_code, e.error_message, convert_from(e.raw_data, 'UTF8') AS raw_data, e.attempts_made,
       e.shard_id IS NOT NULL AS has_shard, e.sequence_number IS NOT NULL AS has_seq,
       e.approximate_arrival_timestamp IS NOT NULL AS has_arrival
  FROM firehose.delivery_errors e JOIN firehose.delivery_streams d USING (delivery_stream_id)
 WHERE d.delivery_stream_name = 'fh.events' ORDER BY e.sequence_number;
SELECT records_delivered, records_failed, last_delivery_at IS NOT NULL AS delivered
  FROM firehose.describe_delivery_stream('fh.events');
SELECT firehose.flush('fh.events');
SELECT count(*) FROM fh_events;
-- a table without metadata columns
SELECT firehose.create_delivery_stream('fh.plain', 'fh_plain', buffering_interval => '900 s');
SELECT firehose.put_record('fh.plain', '{"id": 10, "name": "ten", "sequence_number": 5}') IS NOT NULL AS put;
SELECT firehose.flush('fh.plain');
SELECT * FROM fh_plain;

-- 'jsonb' format
SELECT count(*) AS records, count(error_code) AS failed
  FROM firehose.put_record_batch('fh.docs', ARRAY[
    '{"a": 1}', '[1, 2]', '"text"', 'not json']::text[]::bytea[]);
SELECT firehose.flush('fh.docs');
SELECT doc, note FROM fh_docs ORDER BY doc::text;
SELECT e.error_code, e.error_message, convert_from(e.raw_data, 'UTF8') AS raw_data
  FROM firehose.delivery_errors e JOIN firehose.delivery_streams d USING (delivery_stream_id)
 WHERE d.delivery_stream_name = 'fh.docs' ORDER BY e.sequence_number;

-- transforms: every input record comes back Ok, Dropped or ProcessingFailed
CREATE FUNCTION fh_transform(recs kinesis.record[]) RETURNS SETOF firehose.transformed_record
LANGUAGE plpgsql AS $$
DECLARE
    r kinesis.record;
    j jsonb;
    o firehose.transformed_record;
BEGIN
    FOREACH r IN ARRAY recs LOOP
        j := convert_from(r.data, 'UTF8')::jsonb;
        o.record_id := r.sequence_number;
        o.data := r.data;
        CASE j->>'action'
            WHEN 'ok' THEN
                o.result := 'Ok';
                o.data := convert_to(jsonb_build_object('id', j->'id', 'name', upper(j->>'name'))::text, 'UTF8');
            WHEN 'drop' THEN
                o.result := 'Dropped';
                o.data := NULL;
            WHEN 'fail' THEN
                o.result := 'ProcessingFailed';
            WHEN 'bogus' THEN
                o.result := 'Maybe';
            ELSE
                CONTINUE;  -- 'skip': no result for this record
        END CASE;
        RETURN NEXT o;
    END LOOP;
END
$$;
CREATE TABLE fh_transformed (id int, name text);
SELECT firehose.create_delivery_stream('fh.transform', 'fh_transformed', buffering_interval => '900 s',
                                       transform_function => 'fh_transform');
SELECT count(*) AS records, count(error_code) AS failed
  FROM firehose.put_record_batch('fh.transform', ARRAY[
    '{"id": 1, "name": "one", "action": "ok"}',
    '{"id": 2, "name": "two", "action": "drop"}',
    '{"id": 3, "name": "three", "action": "fail"}',
    '{"id": 4, "name": "four", "action": "skip"}',
    '{"id": 5, "name": "five", "action": "ok"}',
    '{"id": 6, "name": "six", "action": "bogus"}',
    '{"id": 7, "name": "seven", "action": "ok"}'
  ]::text[]::bytea[]);
SELECT firehose.flush('fh.transform');
-- 1, 5 and 7 transformed (names upper-cased); 2 dropped; 3, 4 and 6 failed.
-- A record without a valid result must not make the records after it fail.
SELECT * FROM fh_transformed ORDER BY id;
SELECT e.error_code, e.error_message, convert_from(e.raw_data, 'UTF8')::jsonb->'id' AS id
  FROM firehose.delivery_errors e JOIN firehose.delivery_streams d USING (delivery_stream_id)
 WHERE d.delivery_stream_name = 'fh.transform' ORDER BY e.sequence_number;
SELECT records_delivered, records_failed, transform_function
  FROM firehose.describe_delivery_stream('fh.transform');

-- a transform that raises: retried transform_retries times, then every record fails
CREATE SEQUENCE fh_attempts;
CREATE FUNCTION fh_broken(recs kinesis.record[]) RETURNS SETOF firehose.transformed_record
LANGUAGE plpgsql AS $$
BEGIN
    -- qualified: a transform runs with the search_path of firehose._deliver
    PERFORM nextval('public.fh_attempts');
    RAISE EXCEPTION 'transform is broken';
END
$$;
SELECT firehose.create_delivery_stream('fh.broken', 'fh_transformed', buffering_interval => '900 s',
                                       transform_function => 'fh_broken', transform_retries => 2);
SELECT count(*) AS records, count(error_code) AS failed
  FROM firehose.put_record_batch('fh.broken', ARRAY['{"id": 100}', '{"id": 101}']::text[]::bytea[]);
SELECT firehose.flush('fh.broken');
SELECT nextval('fh_attempts') - 1 AS attempts;
SELECT count(*) FROM fh_transformed WHERE id >= 100;
SELECT e.error_code, e.error_message, e.attempts_made, convert_from(e.raw_data, 'UTF8') AS raw_data
  FROM firehose.delivery_errors e JOIN firehose.delivery_streams d USING (delivery_stream_id)
 WHERE d.delivery_stream_name = 'fh.broken' ORDER BY e.sequence_number;
SELECT records_delivered, records_failed, last_error FROM firehose.describe_delivery_stream('fh.broken');

-- KinesisStreamAsSource: TRIM_HORIZON reads what is there, LATEST only what comes later
SELECT kinesis.create_stream('fh.src', 1);
SELECT count(*) FROM kinesis.put_record('fh.src', 'k', '{"id": 1, "name": "before"}');
CREATE TABLE fh_from_th (id int, name text, partition_key text);
CREATE TABLE fh_from_latest (id int, name text, partition_key text);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.nosrc', 'fh_from_th',
        delivery_stream_type => 'KinesisStreamAsSource', kinesis_stream_name => 'fh.none')$$) LIKE '%: %' AS fails;
SELECT firehose.create_delivery_stream('fh.th', 'fh_from_th', delivery_stream_type => 'KinesisStreamAsSource',
                                       kinesis_stream_name => 'fh.src', starting_position => 'TRIM_HORIZON',
                                       buffering_interval => '900 s');
SELECT firehose.create_delivery_stream('fh.latest', 'fh_from_latest', delivery_stream_type => 'KinesisStreamAsSource',
                                       kinesis_stream_name => 'fh.src', buffering_interval => '900 s');
SELECT count(*) FROM kinesis.put_record('fh.src', 'k2', '{"id": 2, "name": "after"}');
SELECT kg_try($$SELECT firehose.put_record('fh.th', '{"id": 3}')$$);
SELECT kg_try($$SELECT * FROM firehose.put_record_batch('fh.latest', ARRAY['{"id": 3}']::bytea[])$$);
SELECT firehose.flush('fh.th');
SELECT firehose.flush('fh.latest');
SELECT * FROM fh_from_th ORDER BY id;
SELECT * FROM fh_from_latest ORDER BY id;
SELECT firehose.flush('fh.th');
SELECT firehose.flush('fh.latest');
SELECT delivery_stream_name, delivery_stream_type, source_stream
  FROM firehose.describe_delivery_stream('fh.th');

-- update_destination: optimistic concurrency on the version
SELECT kg_try($$SELECT firehose.update_destination('fh.plain', 0, buffering_size_mib => 2)$$);
SELECT firehose.update_destination('fh.plain', 1, buffering_size_mib => 2);
SELECT kg_try($$SELECT firehose.update_destination('fh.plain', 1, buffering_interval => '600 s')$$);
SELECT kg_try($$SELECT firehose.update_destination('fh.plain', 2, buffering_size_mib => 129)$$);
SELECT kg_try($$SELECT firehose.update_destination('fh.plain', 2, buffering_interval => '901 s')$$);
SELECT kg_try($$SELECT firehose.update_destination('fh.plain', 2, record_format => 'jsonb')$$);
SELECT firehose.update_destination('fh.plain', 2, destination_table => 'fh_docs', record_format => 'jsonb',
                                   data_column => 'doc');
SELECT version_id, destination_table, record_format, buffering_size_mib, buffering_interval
  FROM firehose.describe_delivery_stream('fh.plain');
SELECT firehose.put_record('fh.plain', '{"updated": true}') IS NOT NULL AS put;
SELECT firehose.flush('fh.plain');
SELECT doc FROM fh_docs WHERE doc ? 'updated';
SELECT kg_try($$SELECT firehose.update_destination('fh.none', 1)$$);

-- stop / start
SELECT firehose.stop_delivery_stream('fh.events');
SELECT * FROM firehose.list_delivery_streams() WHERE delivery_stream_name = 'fh.events';
SELECT delivery_stream_status FROM firehose.describe_delivery_stream('fh.events');
SELECT firehose.start_delivery_stream('fh.events');
SELECT * FROM firehose.list_delivery_streams() WHERE delivery_stream_name = 'fh.events';
SELECT kg_try($$SELECT firehose.stop_delivery_stream('fh.none')$$);

-- ownership: another role sees the delivery streams but cannot change them,
-- flush them, or see their error output
CREATE ROLE regress_fh_other;
CREATE TABLE fh_other (id int);
GRANT INSERT, SELECT ON fh_other TO regress_fh_other;
SELECT count(*) > 0 AS superuser_sees_errors FROM firehose.delivery_errors;
SET ROLE regress_fh_other;
SELECT count(*) AS visible_streams FROM firehose.list_delivery_streams();
SELECT count(*) AS visible_errors FROM firehose.delivery_errors;
SELECT kg_try($$SELECT firehose.update_destination('fh.events', 1, buffering_size_mib => 3)$$);
SELECT kg_try($$SELECT firehose.delete_delivery_stream('fh.events')$$);
SELECT kg_try($$SELECT firehose.flush('fh.events')$$);
SELECT kg_try($$SELECT firehose.stop_delivery_stream('fh.events')$$);
SELECT kg_try($$SELECT firehose._deliver((SELECT delivery_stream_id FROM firehose.delivery_streams
                                           WHERE delivery_stream_name = 'fh.events'), true)$$);
SELECT kg_try($$UPDATE firehose.delivery_streams SET enabled = false WHERE delivery_stream_name = 'fh.events'$$);
SELECT count(*) AS rows_changed FROM firehose.delivery_streams WHERE NOT enabled;
SELECT kg_try($$DELETE FROM firehose.delivery_errors$$);
-- no INSERT privilege on the destination
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.denied', 'fh_events')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.allowed', 'fh_other', buffering_interval => '900 s')$$);
RESET ROLE;
-- with CREATE on kinesis_records (for its internal stream) it creates its own
GRANT CREATE ON SCHEMA kinesis_records TO regress_fh_other;
SET ROLE regress_fh_other;
SELECT firehose.create_delivery_stream('fh.allowed', 'fh_other', buffering_interval => '900 s');
SELECT firehose.put_record('fh.allowed', '{"id": 42}') IS NOT NULL AS put;
SELECT firehose.put_record('fh.allowed', '{"id": "x"}') IS NOT NULL AS put;
SELECT firehose.flush('fh.allowed');
SELECT * FROM fh_other;
SELECT count(*) AS visible_errors FROM firehose.delivery_errors;
SELECT firehose.stop_delivery_stream('fh.allowed');
SELECT firehose.update_destination('fh.allowed', 1, buffering_size_mib => 1);
RESET ROLE;
SELECT delivery_stream_status FROM firehose.describe_delivery_stream('fh.events');
SELECT delivery_stream_name, owner, enabled, version_id FROM firehose.delivery_streams
 WHERE delivery_stream_name IN ('fh.denied', 'fh.allowed') ORDER BY 1;
SELECT count(*) FROM firehose.delivery_errors e JOIN firehose.delivery_streams d USING (delivery_stream_id)
 WHERE d.delivery_stream_name = 'fh.events';

-- delete_delivery_stream
SELECT kg_try($$SELECT firehose.delete_delivery_stream('fh.none')$$);
SELECT firehose.delete_delivery_stream('fh.events');
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name = 'firehose-fh.events';
SELECT count(*) FROM firehose.delivery_errors e
 WHERE NOT EXISTS (SELECT 1 FROM firehose.delivery_streams d WHERE d.delivery_stream_id = e.delivery_stream_id);
SELECT kg_try($$SELECT firehose.put_record('fh.events', '{}')$$);
-- a KinesisStreamAsSource delivery stream leaves its source stream alone
SELECT firehose.delete_delivery_stream('fh.th');
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name = 'fh.src';
SELECT firehose.flush('fh.latest');

-- clean up
SELECT count(firehose.delete_delivery_stream(delivery_stream_name))
  FROM (SELECT delivery_stream_name FROM firehose.list_delivery_streams() ORDER BY 1) l;
SELECT kinesis.delete_stream('fh.src');
SELECT count(*) FROM firehose.delivery_streams;
SELECT count(*) FROM firehose.delivery_errors;
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name LIKE 'firehose-%';
DROP TABLE fh_events, fh_plain, fh_docs, fh_raw, fh_transformed, fh_from_th, fh_from_latest, fh_other;
DROP FUNCTION fh_transform, fh_broken;
DROP SEQUENCE fh_attempts;
REVOKE CREATE ON SCHEMA kinesis_records FROM regress_fh_other;
DROP ROLE regress_fh_other;

-- the validation helpers on their own
SELECT kg_try($$SELECT firehose._check_name('ok-name.1')$$) AS good_name,
       kg_try($$SELECT firehose._check_name('bad name')$$) AS bad_name;
CREATE TABLE fh_check (id int, doc jsonb);
SELECT kg_try($$SELECT firehose._check_table(current_user::regrole, 'fh_check', 'doc', 'jsonb', 'jsonb format')$$) AS jsonb_doc,
       kg_try($$SELECT firehose._check_table(current_user::regrole, 'fh_check', 'doc', 'bytea', 'bytea format')$$) AS bytea_doc,
       kg_try($$SELECT firehose._check_table(current_user::regrole, 'fh_check', NULL, NULL, 'columns format')$$) AS columns;
SELECT kg_try($$SELECT firehose._destination_type('fh_check', '/tmp', NULL)$$) AS two,
       kg_try($$SELECT firehose._destination_type(NULL, NULL, NULL)$$) AS none,
       kg_try($$SELECT firehose._destination_type(NULL, NULL, 'cat')$$) AS program;
DROP TABLE fh_check;
