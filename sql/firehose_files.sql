--
-- firehose_files: Firehose file and program destinations (src/firehose).
--   validation of directories, formats, prefixes, partition keys, retries
--   and backups; objects in JSON lines (with dynamic partitioning), csv
--   (gzip, header) and text; programs; the error output by kind; retries
--   that give up after retry_duration; backups; switching destinations;
--   recovery of objects a crash left behind; the metrics view; rights.
-- Objects go under /tmp/kg_regress_firehose (removed at the start); their
-- names carry times and sequence numbers, which kg_mask hides.
--
\set VERBOSITY default
SELECT pg_catalog.set_config('kg.dir', '/tmp/kg_regress_firehose', false);
\! rm -rf /tmp/kg_regress_firehose

CREATE FUNCTION kg_mask(path text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(regexp_replace(path, '\d{4}(/\d\d){0,3}/', 'DATE/'),
                          '-\d+-\d{4}(-\d\d){5}-\d+-\d+', '-VERSION-TIME-SEQS')
$$;
-- the objects of a delivery stream, masked, with their content
CREATE FUNCTION kg_objects(ds text) RETURNS TABLE (object text, records integer, content text)
LANGUAGE sql AS $$
    SELECT kg_mask(o.object_path), o.records,
           CASE WHEN o.object_path LIKE '%.gz' THEN '(gzip)' ELSE pg_read_file(o.object_path) END
      FROM firehose.delivered_objects o JOIN firehose.delivery_streams d USING (delivery_stream_id)
     WHERE d.delivery_stream_name = ds ORDER BY 1
$$;
CREATE FUNCTION kg_errors(ds text) RETURNS TABLE (error_code text, error_message text, raw_data text, attempts integer)
LANGUAGE sql AS $$
    SELECT e.error_code, e.error_message, encode(e.raw_data, 'escape'), e.attempts_made
      FROM firehose.delivery_errors e JOIN firehose.delivery_streams d USING (delivery_stream_id)
     WHERE d.delivery_stream_name = ds ORDER BY e.error_id
$$;
CREATE FUNCTION kg_put(ds text, VARIADIC recs text[]) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FILTER (WHERE error_code IS NULL)
      FROM firehose.put_record_batch(ds, ARRAY(SELECT convert_to(r, 'UTF8') FROM unnest(recs) r))
$$;

-- validation: one destination, absolute directories, formats, options
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', destination_program => 'cat')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => 'relative/dir')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/../etc')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp//x')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', file_format => 'parquet')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', compression => 'SNAPPY')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', file_columns => '{a}')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', file_format => 'csv', file_columns => '{}')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', file_format => 'csv', file_columns => '{a,NULL}')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', file_extension => '../x')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_program => '')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', retry_duration => '7201 s')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', retry_duration => '-1 s')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', backup_mode => 'AllData')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', backup_mode => 'Sometimes')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_program => 'cat', prefix => 'x/')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', 'pg_class', prefix => 'x/')$$);
-- prefixes and partition keys
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', prefix => '!{nope:x}/')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', prefix => '!{timestamp:yyyy')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', prefix => '!{timestamp:QQ}/')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', prefix => '!{timestamp:''open}/')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', prefix => '/abs/')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', prefix => 'a/../b/')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', prefix => 'a//b/')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', prefix => 'a{b}/')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', prefix => '!{partitionKeyFromQuery:k}/')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', prefix => repeat('a', 600) || '/')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', partition_keys => '[1]')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', partition_keys => '{"k": 1}')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', partition_keys => '{"bad key": "$.k"}')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x', partition_keys => '{"k": "$.("}')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fv', destination_directory => '/tmp/x',
                   partition_keys => (SELECT jsonb_object_agg('k' || i, '$.a') FROM generate_series(1, 51) i))$$);
SELECT kg_try($$SELECT firehose._check_prefix('!{timestamp:yyyy-MM-dd''T''HH}/!{firehose:random-string}/', '{}')$$) AS prefix_ok;
-- evaluation: the timestamp in UTC, key values encoded into one safe path component
SELECT firehose._evaluate_prefix('y=!{timestamp:yyyy}/m=!{timestamp:MM}/d=!{timestamp:dd}/h=!{timestamp:HH}/!{timestamp:mm:ss.SSS DDD yy}/',
                                 '2024-02-29 23:59:58.123+00', '{}');
SELECT firehose._evaluate_prefix('!{timestamp:yyyy}/', '2024-03-01 01:00:00+02', '{}');
SELECT firehose._evaluate_prefix('data/', '2024-03-01 01:00:00+00', '{}') AS default_time_folders;
SELECT firehose._evaluate_prefix('', '2024-03-01 01:00:00+00', '{}') AS empty_prefix;
SELECT firehose._evaluate_prefix('k=!{partitionKeyFromQuery:k}/!{timestamp:yyyy}/', '2024-03-01', jsonb_build_object('k', v))
  FROM unnest(ARRAY['plain-Value_1.x=y', '../../etc', '..', '.', 'a/b', 'späť', '100%']) v;
SELECT firehose._evaluate_prefix('!{partitionKeyFromQuery:k}/', now(), '{}') IS NULL AS no_value,
       firehose._evaluate_prefix('!{partitionKeyFromQuery:k}/', now(), '{"k": ""}') IS NULL AS empty_value,
       firehose._evaluate_prefix('!{partitionKeyFromQuery:k}/', now(), jsonb_build_object('k', repeat('x', 600))) IS NULL AS too_long;
SELECT firehose._evaluate_prefix('!{firehose:random-string}/!{timestamp:yyyy}', '2024-01-01', '{"firehose:random-string": "abc"}');
SELECT length(firehose._evaluate_prefix('!{firehose:random-string}/!{timestamp:yyyy}', now(), '{}')) AS random_len;
-- nothing of the failed attempts is left behind
SELECT count(*) FROM firehose.delivery_streams;

-- JSON lines with dynamic partitioning
SELECT firehose.create_delivery_stream('fh.json', destination_directory => current_setting('kg.dir') || '/json/',
        prefix => 'type=!{partitionKeyFromQuery:type}/!{timestamp:yyyy}/', partition_keys => '{"type": "$.type"}',
        buffering_interval => '900 s');
SELECT destination_type, destination_directory, file_format, compression, prefix, partition_keys, retry_duration
  FROM firehose.describe_delivery_stream('fh.json');
SELECT kg_put('fh.json', '{"type": "click", "n": 1}', '{"type": "view", "n": 2}', '{"n": 3}',
              '{"type": "../../etc", "n": 4}', 'not json', E'{"type": "click",\n "n": 5}',
              '{"type": {"nested": true}, "n": 6}', '{"type": null, "n": 7}', '{"type": "", "n": 8}',
              '{"type": 9, "n": 9}');
SELECT count(*) FROM firehose.put_record_batch('fh.json', ARRAY['\xff206e6f74207574663820'::bytea]);
SELECT firehose.flush('fh.json');
SELECT * FROM kg_objects('fh.json');
SELECT * FROM kg_errors('fh.json');
-- nothing under a temporary name is left; flushing again delivers nothing
SELECT count(*) AS temporary_files FROM pg_ls_dir(current_setting('kg.dir') || '/json/type=click/' ||
       extract(year FROM now())) f WHERE f LIKE '.%';
SELECT firehose.flush('fh.json');
SELECT count(*) FROM firehose.delivered_objects;

-- csv with columns, a header and gzip; COPY reads the object back
SELECT firehose.create_delivery_stream('fh.csv', destination_directory => current_setting('kg.dir') || '/csv',
        file_format => 'csv', file_columns => '{id,name,tags}', file_header => true, compression => 'GZIP',
        prefix => '!{timestamp:yyyy}/', buffering_interval => '900 s');
SELECT kg_put('fh.csv', '{"id": 1, "name": "a,b"}', '{"id": 2}', '{"id": 3, "name": ""}',
              '{"id": 4, "name": "say \"hi\"", "tags": ["x", "y"]}', '{"id": 5, "name": "two\nlines"}',
              '[1, 2]', '{"id": 6, "name": null, "extra": 1}');
SELECT firehose.flush('fh.csv');
SELECT * FROM kg_objects('fh.csv');
SELECT * FROM kg_errors('fh.csv');
CREATE TABLE fh_csv_back (id int, name text, tags jsonb);
DO $$
BEGIN
    EXECUTE format('COPY fh_csv_back FROM PROGRAM %L (FORMAT csv, HEADER)',
                   'gzip -dc ' || (SELECT object_path FROM firehose.delivered_objects o
                                     JOIN firehose.delivery_streams d USING (delivery_stream_id)
                                    WHERE d.delivery_stream_name = 'fh.csv'));
END
$$;
SELECT id, name, name IS NULL AS is_null, tags FROM fh_csv_back ORDER BY id;

-- text: the record as one field, or columns separated by tabs
SELECT firehose.create_delivery_stream('fh.text', destination_directory => current_setting('kg.dir') || '/text',
        file_format => 'text', prefix => 'raw/!{timestamp:yyyy}/', file_extension => '.log',
        buffering_interval => '900 s');
SELECT kg_put('fh.text', E'tab\there', 'back\slash', E'two\nlines', 'plain');
SELECT firehose.flush('fh.text');
SELECT * FROM kg_objects('fh.text');
CREATE TABLE fh_text_back (line text);
DO $$
BEGIN
    EXECUTE format('COPY fh_text_back FROM %L', (SELECT object_path FROM firehose.delivered_objects o
                                                   JOIN firehose.delivery_streams d USING (delivery_stream_id)
                                                  WHERE d.delivery_stream_name = 'fh.text'));
END
$$;
SELECT line FROM fh_text_back;
SELECT firehose.update_destination('fh.text', 1, file_columns => '{a,b}');
SELECT kg_put('fh.text', '{"a": "x\ty", "b": 2}', '{"b": true}', 'not an object');
SELECT firehose.flush('fh.text');
SELECT content FROM kg_objects('fh.text') WHERE object LIKE '%.log' AND records = 2;
SELECT * FROM kg_errors('fh.text');

-- program destinations: the batch on standard input, a batch id in the environment
SELECT firehose.create_delivery_stream('fh.prog',
        destination_program => 'cat > ' || current_setting('kg.dir') || '/prog-"$FIREHOSE_DELIVERY_STREAM".out',
        buffering_interval => '900 s');
SELECT kg_put('fh.prog', '{"p": 1}', '{"p": 2}');
SELECT firehose.flush('fh.prog');
SELECT pg_read_file(current_setting('kg.dir') || '/prog-fh.prog.out');
-- a failing program: retried with backoff, then the records go to the error output
SELECT firehose.create_delivery_stream('fh.fail', destination_program => 'cat > /dev/null; exit 3',
        retry_duration => '1 s', buffering_interval => '900 s');
SELECT kg_put('fh.fail', '{"f": 1}', '{"f": 2}');
SELECT firehose.flush('fh.fail');
SELECT status, failed_attempts, failed_attempts_total, next_attempt_at > failing_since AS backing_off, last_error
  FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'fh.fail';
SELECT count(*) AS errors_yet FROM kg_errors('fh.fail');
SELECT pg_sleep(1.1);
SELECT firehose.flush('fh.fail');
SELECT status, failed_attempts, failed_attempts_total, destination_failed, failing_since IS NULL AS reset
  FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'fh.fail';
SELECT * FROM kg_errors('fh.fail');
-- retry_duration 0: the first failure gives up
SELECT firehose.create_delivery_stream('fh.fail0', destination_program => 'exit 1', retry_duration => '0 s',
        buffering_interval => '900 s');
SELECT kg_put('fh.fail0', '{"g": 1}');
SELECT firehose.flush('fh.fail0');
SELECT error_code, attempts FROM kg_errors('fh.fail0');

-- backups: every source record, or the failed ones
CREATE TABLE fh_backup_all (raw_data bytea, sequence_number bigint, delivery_stream_name text, error_code text);
CREATE TABLE fh_backup_failed (raw_data bytea, error_code text, error_message text);
SELECT firehose.create_delivery_stream('fh.bk.all', destination_directory => current_setting('kg.dir') || '/bk',
        backup_mode => 'AllData', backup_table => 'fh_backup_all', buffering_interval => '900 s');
SELECT firehose.create_delivery_stream('fh.bk.failed', destination_directory => current_setting('kg.dir') || '/bk',
        backup_mode => 'FailedDataOnly', backup_table => 'fh_backup_failed', buffering_interval => '900 s');
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.bk.bad', destination_directory => '/tmp/x',
        backup_mode => 'AllData', backup_table => 'fh_csv_back')$$);
SELECT kg_put('fh.bk.all', '{"b": 1}', 'broken');
SELECT kg_put('fh.bk.failed', '{"b": 2}', 'broken too');
SELECT firehose.flush('fh.bk.all') + firehose.flush('fh.bk.failed') AS flushed;
SELECT convert_from(raw_data, 'UTF8'), sequence_number IS NOT NULL AS has_seq, delivery_stream_name, error_code
  FROM fh_backup_all ORDER BY sequence_number;
SELECT convert_from(raw_data, 'UTF8'), error_code, error_message FROM fh_backup_failed;
SELECT delivery_stream_name, records_backed_up FROM firehose.delivery_stream_metrics
 WHERE delivery_stream_name LIKE 'fh.bk.%' ORDER BY 1;

-- switching destinations: table -> files -> table
CREATE TABLE fh_switch (n int);
SELECT firehose.create_delivery_stream('fh.switch', 'fh_switch', buffering_interval => '900 s');
SELECT kg_put('fh.switch', '{"n": 1}');
SELECT firehose.update_destination('fh.switch', 1, destination_directory => current_setting('kg.dir') || '/switch');
SELECT destination_type, destination_table, record_format, file_format, version_id
  FROM firehose.describe_delivery_stream('fh.switch');
SELECT kg_put('fh.switch', '{"n": 2}');
SELECT firehose.flush('fh.switch');
SELECT firehose.update_destination('fh.switch', 2, destination_table => 'fh_switch');
SELECT destination_type, destination_directory, file_format, record_format, version_id
  FROM firehose.describe_delivery_stream('fh.switch');
SELECT kg_put('fh.switch', '{"n": 3}');
SELECT firehose.flush('fh.switch');
SELECT n FROM fh_switch ORDER BY n;
SELECT object, records FROM kg_objects('fh.switch');
SELECT kg_try($$SELECT firehose.update_destination('fh.switch', 3, destination_table => 'fh_switch',
                                                   destination_program => 'cat')$$);
SELECT kg_try($$SELECT firehose.update_destination('fh.switch', 3, prefix => 'p/')$$);

-- recovery of what a crash leaves: a committed object still under its
-- temporary name is renamed, an uncommitted one removed, others' left alone
SELECT delivery_stream_id AS json_id, current_setting('kg.dir') || '/json/' AS json_dir
  FROM firehose.delivery_streams WHERE delivery_stream_name = 'fh.json' \gset
INSERT INTO firehose.delivered_objects (delivery_stream_id, object_path, first_sequence_number,
        last_sequence_number, records, bytes)
VALUES (:json_id, :'json_dir' || 'recovered.jsonl', 1, 1, 1, 8)
RETURNING :'json_dir' || '.recovered.jsonl.' || :json_id || '.' || writer_xid || '.kgtmp' AS committed_tmp,
          :'json_dir' || '.lost.jsonl.' || :json_id || '.3.kgtmp' AS lost_tmp,
          :'json_dir' || '.lost-in-crash.jsonl.' || :json_id || '.' || (writer_xid::text::bigint + 100000) || '.kgtmp' AS future_tmp,
          :'json_dir' || '.other.jsonl.' || (:json_id + 1000) || '.5.kgtmp' AS others_tmp \gset
COPY (SELECT '{"recovered": true}') TO :'committed_tmp';
COPY (SELECT 2) TO :'lost_tmp';
COPY (SELECT 2) TO :'future_tmp';
COPY (SELECT 3) TO :'others_tmp';
SELECT firehose.recover_objects('fh.json') AS acted;
SELECT regexp_replace(f, '\.\d+\.5\.kgtmp$', '.<id>.5.kgtmp') AS f
  FROM pg_ls_dir(current_setting('kg.dir') || '/json') f WHERE f NOT LIKE 'type=%' ORDER BY f;
SELECT pg_read_file(current_setting('kg.dir') || '/json/recovered.jsonl');
SELECT firehose.recover_objects('fh.json') AS acted_again;
DELETE FROM firehose.delivered_objects WHERE object_path LIKE '%/recovered.jsonl';
SELECT firehose.recover_objects('fh.switch') AS table_destination;

-- a transaction that delivered objects cannot be prepared; it rolls back and leaves no file
SELECT kg_put('fh.json', '{"type": "prepared"}');
BEGIN;
SELECT firehose.flush('fh.json');
PREPARE TRANSACTION 'fh';
SELECT count(*) AS prepared_objects
  FROM pg_ls_dir(current_setting('kg.dir') || '/json/type=prepared/' || extract(year FROM now())) f;
SELECT count(*) AS prepared_xacts FROM pg_prepared_xacts;
SELECT firehose.flush('fh.json');
SELECT object, records FROM kg_objects('fh.json') WHERE object LIKE '%prepared%';

-- the metrics view
SELECT delivery_stream_name, status, destination_type, incoming_records, records_delivered, objects_delivered,
       format_failed, partitioning_failed, destination_failed, pending_records, last_error
  FROM firehose.delivery_stream_metrics ORDER BY delivery_stream_name COLLATE "C";
SELECT incoming_bytes >= bytes_delivered AS bytes_ok, data_freshness IS NULL AS nothing_waits
  FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'fh.json';

-- rights: a file or program destination needs pg_write_server_files /
-- pg_execute_server_program on its owner, at creation and at every delivery
CREATE ROLE regress_fh_files;
GRANT CREATE ON SCHEMA kinesis_records TO regress_fh_files;
SET ROLE regress_fh_files;
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.nofile', destination_directory => '/tmp/x')$$);
SELECT kg_try($$SELECT firehose.create_delivery_stream('fh.noprog', destination_program => 'cat')$$);
SELECT kg_try($$SELECT firehose._write_object('/tmp', 'x', 1, 'jsonlines', NULL, false, false, '{}')$$);
SELECT kg_try($$SELECT firehose.recover_objects('fh.json')$$);
RESET ROLE;
GRANT pg_write_server_files TO regress_fh_files;
SET ROLE regress_fh_files;
SELECT firehose.create_delivery_stream('fh.mine', destination_directory => current_setting('kg.dir') || '/mine',
        buffering_interval => '900 s');
SELECT kg_put('fh.mine', '{"m": 1}');
RESET ROLE;
REVOKE pg_write_server_files FROM regress_fh_files;
SET ROLE regress_fh_files;
SELECT firehose.flush('fh.mine');
SELECT status, failed_attempts, last_error FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'fh.mine';
SELECT firehose.delete_delivery_stream('fh.mine');
RESET ROLE;

-- clean up
SELECT firehose.delete_delivery_stream(delivery_stream_name) FROM firehose.list_delivery_streams();
SELECT count(*) FROM firehose.delivered_objects;
DROP TABLE fh_csv_back, fh_text_back, fh_backup_all, fh_backup_failed, fh_switch;
DROP FUNCTION kg_mask, kg_objects, kg_errors, kg_put;
REVOKE CREATE ON SCHEMA kinesis_records FROM regress_fh_files;
DROP ROLE regress_fh_files;
\! rm -rf /tmp/kg_regress_firehose
