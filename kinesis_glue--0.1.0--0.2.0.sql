-- kinesis_glue 0.1.0 -> 0.2.0 (ALTER EXTENSION kinesis_glue UPDATE)
--
-- Hand-written; read with `git diff 6194b42 -- src/'*.sql'` (6194b42 is
-- the released 0.1.0, frozen in kinesis_glue--0.1.0.sql).  Every later
-- schema change to the component files adds its step here, and
-- test/t/096_upgrade.pl compares the upgraded schema with a fresh 0.2.0
-- install (new columns go last in the CREATE TABLE of the component file,
-- where ADD COLUMN puts them).  The DDL guard lets this script change the
-- stream storage (src/worker/ddl_guard.c).
\echo Use "ALTER EXTENSION kinesis_glue UPDATE TO '0.2.0'" to load this file. \quit

-- 1. Stream storage belongs to the extension owner (commit 6741fdb).  The
--    creator, who owned the record table or fragment table, becomes the
--    stream's owner (streams.owner) and keeps SELECT and INSERT on it WITH
--    GRANT OPTION; the grants it made to others stay (ALTER ... OWNER moves
--    them to the new owner as grantor).  Segments and indexes follow.

ALTER TABLE kinesis.streams ADD COLUMN owner regrole;
UPDATE kinesis.streams s SET owner = c.relowner::regrole
  FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) s.record_table;
UPDATE kinesis.streams SET owner = (SELECT e.extowner::regrole FROM pg_catalog.pg_extension e
                                     WHERE e.extname OPERATOR(pg_catalog.=) 'kinesis_glue')
 WHERE owner IS NULL;
ALTER TABLE kinesis.streams ALTER COLUMN owner SET NOT NULL;

ALTER TABLE kinesis_video.streams ADD COLUMN owner regrole;
UPDATE kinesis_video.streams s SET owner = c.relowner::regrole
  FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) s.media_table;
UPDATE kinesis_video.streams SET owner = (SELECT e.extowner::regrole FROM pg_catalog.pg_extension e
                                           WHERE e.extname OPERATOR(pg_catalog.=) 'kinesis_glue')
 WHERE owner IS NULL;
ALTER TABLE kinesis_video.streams ALTER COLUMN owner SET NOT NULL;

DO $$
DECLARE
    ext_owner text := (SELECT pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(e.extowner))
                         FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'kinesis_glue');
    r record;
BEGIN
    -- every table of the storage schemas (partitioned tables do not pass
    -- OWNER TO on to their partitions; indexes follow their table)
    FOR r IN SELECT c.oid::regclass AS rel
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
              WHERE n.nspname IN ('kinesis_records', 'kinesis_segments', 'kinesis_video_media', 'kinesis_video_segments')
                AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %s', r.rel, ext_owner);
    END LOOP;
    FOR r IN SELECT record_table AS rel, owner FROM kinesis.streams WHERE record_table IS NOT NULL
             UNION ALL
             SELECT media_table, owner FROM kinesis_video.streams WHERE media_table IS NOT NULL
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT ON %s TO %s WITH GRANT OPTION', r.rel, r.owner);
    END LOOP;
END
$$;

-- 2. kinesis_video._owns asks the stream's owner, not the table's.
DROP POLICY owned ON kinesis_video.streams;
DROP FUNCTION kinesis_video._owns(regclass);
-- Does the current user have the privileges of this stream owner?
-- (Superusers always do, even when the role no longer exists.)
CREATE FUNCTION kinesis_video._owns(owner regrole) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT pg_has_role(current_user, owner, 'USAGE')
$$;
CREATE POLICY owned ON kinesis_video.streams FOR UPDATE
    USING (kinesis_video._owns(owner)) WITH CHECK (kinesis_video._owns(owner));

-- The stream row; ResourceNotFoundException when absent; with must_own,
-- AccessDeniedException unless the caller owns it; with lock, FOR UPDATE.
CREATE OR REPLACE FUNCTION kinesis_video._get(name text, must_own boolean DEFAULT false, lock boolean DEFAULT false)
    RETURNS kinesis_video.streams
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams;
BEGIN
    SELECT * INTO s FROM kinesis_video.streams WHERE stream_name = name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: video stream "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List them with kinesis_video.list_streams().';
    END IF;
    IF must_own AND NOT kinesis_video._owns(s.owner) THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of video stream "%"', name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF lock THEN
        SELECT * INTO s FROM kinesis_video.streams WHERE stream_id = s.stream_id FOR UPDATE;
    END IF;
    RETURN s;
END
$$;

-- 3. Catalog rows are part of pg_dump (src/common/dump.sql; keep in step).
-- (one statement each: every call updates the pg_extension row)
SELECT pg_catalog.pg_extension_config_dump('kinesis.streams', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.shards', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.segments', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.scaling_actions', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.consumers', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.consumer_shards', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.event_source_mappings', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.event_source_mapping_shards', '');
SELECT pg_catalog.pg_extension_config_dump('firehose.delivery_streams', '');
SELECT pg_catalog.pg_extension_config_dump('firehose.delivery_errors', '');
SELECT pg_catalog.pg_extension_config_dump('firehose.delivered_objects', '');
SELECT pg_catalog.pg_extension_config_dump('glue.databases', '');
SELECT pg_catalog.pg_extension_config_dump('glue.tables', '');
SELECT pg_catalog.pg_extension_config_dump('glue.table_versions', '');
SELECT pg_catalog.pg_extension_config_dump('glue.partitions', '');
SELECT pg_catalog.pg_extension_config_dump('glue.crawlers', '');
SELECT pg_catalog.pg_extension_config_dump('glue.crawls', '');
SELECT pg_catalog.pg_extension_config_dump('glue.crawl_files', '');
SELECT pg_catalog.pg_extension_config_dump('glue.crawler_folders', '');
SELECT pg_catalog.pg_extension_config_dump('glue.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('glue.job_runs', '');
SELECT pg_catalog.pg_extension_config_dump('glue.job_bookmarks', '');
SELECT pg_catalog.pg_extension_config_dump('glue.triggers', '');
SELECT pg_catalog.pg_extension_config_dump('glue.trigger_seen_crawls', '');
SELECT pg_catalog.pg_extension_config_dump('glue.workflows', '');
SELECT pg_catalog.pg_extension_config_dump('glue.workflow_runs', '');
SELECT pg_catalog.pg_extension_config_dump('glue.workflow_crawls', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis_video.streams', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis_video.segments', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis_video.stream_processors', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis_video.stream_processor_failures', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis_video.fragment_numbers', '');

-- 4. Identity sequences move past restored ids (src/common/dump.sql; keep in step).
-- Identity columns: pg_dump restores the rows of these catalogs with their
-- ids but not the identity sequences behind them; after each INSERT
-- statement that left ids above the sequence (only a restore or a hand
-- COPY writes ids) the sequence moves past them (src/common/kg_dump.c).
CREATE FUNCTION kinesis_glue._ids_past_rows() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'kg_ids_past_rows';
REVOKE ALL ON FUNCTION kinesis_glue._ids_past_rows() FROM PUBLIC;

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT a.attrelid::regclass AS rel, a.attname
               FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_depend d
                 ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = a.attrelid AND d.deptype = 'e'
              WHERE a.attidentity <> '' AND NOT a.attisdropped
                AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'kinesis_glue')
              ORDER BY 1, 2
    LOOP
        EXECUTE format('CREATE TRIGGER ids_past_rows AFTER INSERT ON %s FOR EACH STATEMENT '
                       'EXECUTE FUNCTION kinesis_glue._ids_past_rows(%L)', r.rel, r.attname);
    END LOOP;
END
$$;

-- 5. Function references are stored as text (regprocedure's output,
--    schema-qualified), not as regproc/regprocedure: pg_upgrade refuses
--    reg* columns other than regclass, regrole and regtype, because
--    function OIDs change.  The views that show them keep their regproc
--    column (to_regprocedure: NULL once the function is gone); they are
--    pointed away from the column while its type changes.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- qualified text

CREATE OR REPLACE VIEW kinesis.event_source_mapping_status AS
    SELECT m.mapping_id, s.stream_name, NULL::pg_catalog.regproc AS function_name, m.owner,
           CASE WHEN m.enabled THEN 'Enabled' ELSE 'Disabled' END AS state,
           m.batch_size, m.maximum_batching_window, m.parallelization_factor,
           m.maximum_retry_attempts, m.maximum_record_age, m.bisect_batch_on_function_error,
           m.on_failure_destination, m.last_processing_result, m.last_processed_at,
           m.last_error, m.last_error_at
      FROM kinesis.event_source_mappings m JOIN kinesis.streams s USING (stream_id);
CREATE OR REPLACE VIEW kinesis_video.stream_processor_status AS
    SELECT p.name, s.stream_name AS input_video_stream,
           NULL::pg_catalog.regproc AS function_name, p.output_stream, p.owner,
           p.status, p.last_fragment_number, p.fragments_processed, p.events_emitted, p.fragments_failed,
           p.failed_attempts, p.next_attempt_at, p.last_error, p.last_error_at,
           p.creation_timestamp, p.last_update_timestamp
      FROM kinesis_video.stream_processors p JOIN kinesis_video.streams s USING (stream_id);

ALTER TABLE kinesis.event_source_mappings
    ALTER COLUMN function_name TYPE text USING function_name::regprocedure::text;
ALTER TABLE firehose.delivery_streams
    ALTER COLUMN transform_function TYPE text USING transform_function::regprocedure::text;
ALTER TABLE kinesis_video.stream_processors
    ALTER COLUMN function_name TYPE text USING function_name::regprocedure::text;
ALTER TABLE glue.jobs
    ALTER COLUMN procedure TYPE text USING procedure::text;

CREATE OR REPLACE VIEW kinesis.event_source_mapping_status AS
    SELECT m.mapping_id, s.stream_name, pg_catalog.to_regprocedure(m.function_name)::pg_catalog.regproc AS function_name, m.owner,
           CASE WHEN m.enabled THEN 'Enabled' ELSE 'Disabled' END AS state,
           m.batch_size, m.maximum_batching_window, m.parallelization_factor,
           m.maximum_retry_attempts, m.maximum_record_age, m.bisect_batch_on_function_error,
           m.on_failure_destination, m.last_processing_result, m.last_processed_at,
           m.last_error, m.last_error_at
      FROM kinesis.event_source_mappings m JOIN kinesis.streams s USING (stream_id);
CREATE OR REPLACE VIEW kinesis_video.stream_processor_status AS
    SELECT p.name, s.stream_name AS input_video_stream,
           pg_catalog.to_regprocedure(p.function_name)::pg_catalog.regproc AS function_name, p.output_stream, p.owner,
           p.status, p.last_fragment_number, p.fragments_processed, p.events_emitted, p.fragments_failed,
           p.failed_attempts, p.next_attempt_at, p.last_error, p.last_error_at,
           p.creation_timestamp, p.last_update_timestamp
      FROM kinesis_video.stream_processors p JOIN kinesis_video.streams s USING (stream_id);

-- the functions that read or write those columns (tools/sql_functions.py)
-- from src/firehose/firehose.sql
CREATE OR REPLACE FUNCTION firehose.create_delivery_stream(delivery_stream_name text,
        destination_table regclass DEFAULT NULL,
        delivery_stream_type text DEFAULT 'DirectPut',
        kinesis_stream_name text DEFAULT NULL,
        starting_position text DEFAULT 'LATEST',
        record_format text DEFAULT 'columns',
        data_column name DEFAULT NULL,
        buffering_size_mib integer DEFAULT 5,
        buffering_interval interval DEFAULT '300 s',
        transform_function regproc DEFAULT NULL,
        transform_retries integer DEFAULT 3,
        destination_directory text DEFAULT NULL,
        destination_program text DEFAULT NULL,
        file_format text DEFAULT 'jsonlines',
        file_columns text[] DEFAULT NULL,
        file_header boolean DEFAULT false,
        compression text DEFAULT 'UNCOMPRESSED',
        prefix text DEFAULT '',
        partition_keys jsonb DEFAULT '{}',
        file_extension text DEFAULT NULL,
        retry_duration interval DEFAULT '300 s',
        backup_mode text DEFAULT 'Disabled',
        backup_table regclass DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams;
    cons text := 'firehose-' || delivery_stream_name;
BEGIN
    PERFORM firehose._check_name(delivery_stream_name);
    IF EXISTS (SELECT 1 FROM firehose.delivery_streams x WHERE x.delivery_stream_name = create_delivery_stream.delivery_stream_name) THEN
        RAISE EXCEPTION 'ResourceInUseException: delivery stream "%" already exists', delivery_stream_name
            USING ERRCODE = 'object_in_use';
    END IF;
    PERFORM firehose._check_buffering(buffering_size_mib, buffering_interval);
    d.delivery_stream_name := delivery_stream_name;
    d.owner := current_user::regrole;
    d.destination_type := firehose._destination_type(destination_table, destination_directory, destination_program);
    IF d.destination_type = 'table' THEN
        d.destination_table := destination_table;
        d.record_format := record_format;
        d.data_column := data_column;
    ELSE
        d.destination_directory := rtrim(destination_directory, '/');
        d.destination_program := destination_program;
        d.file_format := file_format;
        d.file_columns := file_columns;
    END IF;
    d.file_header := coalesce(file_header, false);
    d.compression := coalesce(compression, 'UNCOMPRESSED');
    d.prefix := coalesce(prefix, '');
    d.partition_keys := coalesce(partition_keys, '{}');
    d.file_extension := file_extension;
    d.buffering_size_bytes := buffering_size_mib::bigint * 1024 * 1024;
    d.buffering_interval := buffering_interval;
    d.transform_function := transform_function::regprocedure::text;
    d.transform_retries := transform_retries;
    d.retry_duration := retry_duration;
    d.backup_mode := backup_mode;
    d.backup_table := backup_table;
    PERFORM firehose._check_config(d);

    IF delivery_stream_type = 'DirectPut' THEN
        IF kinesis_stream_name IS NOT NULL THEN
            RAISE EXCEPTION 'InvalidArgumentException: a DirectPut delivery stream reads no kinesis stream'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- the records wait in an internal data stream of its own
        d.source_stream := 'firehose-' || delivery_stream_name;
        PERFORM kinesis.create_stream(d.source_stream, 1);
        PERFORM kinesis.register_stream_consumer(d.source_stream, cons, 'TRIM_HORIZON');
    ELSIF delivery_stream_type = 'KinesisStreamAsSource' THEN
        IF kinesis_stream_name IS NULL THEN
            RAISE EXCEPTION 'InvalidArgumentException: KinesisStreamAsSource needs kinesis_stream_name'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        d.source_stream := kinesis_stream_name;
        PERFORM kinesis.register_stream_consumer(d.source_stream, cons, starting_position);
    ELSE
        RAISE EXCEPTION 'InvalidArgumentException: delivery stream type "%" is not one of DirectPut, KinesisStreamAsSource',
                delivery_stream_type USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO firehose.delivery_streams (delivery_stream_name, delivery_stream_type, source_stream,
            consumer_name, owner, destination_type, destination_table, record_format, data_column,
            destination_directory, destination_program, file_format, file_columns, file_header, compression,
            prefix, partition_keys, file_extension, buffering_size_bytes, buffering_interval,
            transform_function, transform_retries, retry_duration, backup_mode, backup_table)
    VALUES (d.delivery_stream_name, delivery_stream_type, d.source_stream, cons, d.owner,
            d.destination_type, d.destination_table, d.record_format, d.data_column,
            d.destination_directory, d.destination_program, d.file_format, d.file_columns, d.file_header,
            d.compression, d.prefix, d.partition_keys, d.file_extension, d.buffering_size_bytes,
            d.buffering_interval, d.transform_function, d.transform_retries, d.retry_duration,
            d.backup_mode, d.backup_table);
    PERFORM kinesis_glue.wake_worker();
END
$$;

-- from src/firehose/firehose.sql
CREATE OR REPLACE FUNCTION firehose.describe_delivery_stream(delivery_stream_name text)
    RETURNS TABLE (delivery_stream_name text, delivery_stream_type text, delivery_stream_status text,
                   source_stream text, destination_type text, destination_table regclass, record_format text,
                   destination_directory text, destination_program text, file_format text,
                   compression text, prefix text, partition_keys jsonb,
                   buffering_size_mib integer, buffering_interval interval, transform_function regproc,
                   retry_duration interval, backup_mode text, backup_table regclass,
                   version_id integer, records_delivered bigint, records_failed bigint,
                   last_delivery_at timestamptz, last_error text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.delivery_stream_name, d.delivery_stream_type,
           CASE WHEN d.enabled THEN 'ACTIVE' ELSE 'STOPPED' END, d.source_stream, d.destination_type,
           d.destination_table, d.record_format, d.destination_directory, d.destination_program,
           d.file_format, d.compression, d.prefix, d.partition_keys,
           (d.buffering_size_bytes / 1024 / 1024)::integer, d.buffering_interval,
           to_regprocedure(d.transform_function)::regproc, d.retry_duration, d.backup_mode, d.backup_table, d.version_id,
           d.records_delivered,
           d.processing_failed + d.delivery_failed + d.format_failed + d.partitioning_failed + d.destination_failed,
           d.last_delivery_at, d.last_error
      FROM firehose._get($1, false) AS d
$$;

-- from src/firehose/firehose.sql
CREATE OR REPLACE FUNCTION firehose.update_destination(delivery_stream_name text, current_version_id integer,
        destination_table regclass DEFAULT NULL, record_format text DEFAULT NULL, data_column name DEFAULT NULL,
        buffering_size_mib integer DEFAULT NULL, buffering_interval interval DEFAULT NULL,
        transform_function regproc DEFAULT NULL,
        destination_directory text DEFAULT NULL, destination_program text DEFAULT NULL,
        file_format text DEFAULT NULL, file_columns text[] DEFAULT NULL, file_header boolean DEFAULT NULL,
        compression text DEFAULT NULL, prefix text DEFAULT NULL, partition_keys jsonb DEFAULT NULL,
        file_extension text DEFAULT NULL, retry_duration interval DEFAULT NULL,
        backup_mode text DEFAULT NULL, backup_table regclass DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get(delivery_stream_name, true, true);
    switching boolean := num_nonnulls(destination_table, destination_directory, destination_program) > 0;
BEGIN
    IF current_version_id IS DISTINCT FROM d.version_id THEN
        RAISE EXCEPTION 'ConcurrentModificationException: delivery stream "%" is at version %, not %',
                delivery_stream_name, d.version_id, current_version_id
            USING ERRCODE = 'object_in_use', HINT = 'Read the current version with firehose.describe_delivery_stream().';
    END IF;
    PERFORM firehose._check_buffering(buffering_size_mib, buffering_interval);
    IF switching THEN
        d.destination_type := firehose._destination_type(destination_table, destination_directory, destination_program);
        d.destination_table := destination_table;
        d.destination_directory := rtrim(destination_directory, '/');
        d.destination_program := destination_program;
        IF d.destination_type = 'table' THEN
            d.record_format := coalesce(record_format, d.record_format, 'columns');
            d.file_format := NULL;
            d.prefix := '';
            d.partition_keys := '{}';
        ELSE
            d.record_format := NULL;
            d.data_column := NULL;
            d.file_format := coalesce(file_format, d.file_format, 'jsonlines');
            IF d.destination_type = 'program' THEN
                d.prefix := '';
                d.partition_keys := '{}';
            END IF;
        END IF;
    END IF;
    d.record_format := coalesce(record_format, d.record_format);
    d.data_column := coalesce(data_column, d.data_column);
    d.file_format := coalesce(file_format, d.file_format);
    d.file_columns := coalesce(file_columns, d.file_columns);
    d.file_header := coalesce(file_header, d.file_header);
    d.compression := coalesce(compression, d.compression);
    d.prefix := coalesce(prefix, d.prefix);
    d.partition_keys := coalesce(partition_keys, d.partition_keys);
    d.file_extension := coalesce(file_extension, d.file_extension);
    d.buffering_size_bytes := coalesce(buffering_size_mib::bigint * 1024 * 1024, d.buffering_size_bytes);
    d.buffering_interval := coalesce(buffering_interval, d.buffering_interval);
    d.transform_function := coalesce(transform_function::regprocedure::text, d.transform_function);
    d.retry_duration := coalesce(retry_duration, d.retry_duration);
    d.backup_mode := coalesce(backup_mode, d.backup_mode);
    d.backup_table := CASE WHEN d.backup_mode = 'Disabled' THEN NULL ELSE coalesce(backup_table, d.backup_table) END;
    PERFORM firehose._check_config(d);
    UPDATE firehose.delivery_streams u SET
        destination_type = d.destination_type, destination_table = d.destination_table,
        record_format = d.record_format, data_column = d.data_column,
        destination_directory = d.destination_directory, destination_program = d.destination_program,
        file_format = d.file_format, file_columns = d.file_columns, file_header = d.file_header,
        compression = d.compression, prefix = d.prefix, partition_keys = d.partition_keys,
        file_extension = d.file_extension, buffering_size_bytes = d.buffering_size_bytes,
        buffering_interval = d.buffering_interval, transform_function = d.transform_function,
        retry_duration = d.retry_duration, backup_mode = d.backup_mode, backup_table = d.backup_table,
        -- a new destination starts with a clean slate of retries
        failing_since = NULL, failed_attempts = 0, next_attempt_at = NULL,
        version_id = u.version_id + 1, last_update_timestamp = clock_timestamp()
     WHERE u.delivery_stream_id = d.delivery_stream_id;
END
$$;

-- from src/firehose/firehose_delivery.sql
CREATE OR REPLACE FUNCTION firehose._transform(d firehose.delivery_streams, recs kinesis.record[],
        OUT delivered kinesis.record[], OUT dropped integer, OUT failed integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    transformed firehose.transformed_record[];
    err text;
    attempts integer := 0;
    reported kinesis.record[];
    bad kinesis.record[];
BEGIN
    dropped := 0;
    failed := 0;
    IF d.transform_function IS NULL THEN
        delivered := recs;
        RETURN;
    END IF;
    FOR attempt IN 1 .. d.transform_retries + 1 LOOP
        attempts := attempt;
        BEGIN
            EXECUTE format('SELECT array_agg(t::firehose.transformed_record) FROM %s($1) t', d.transform_function::regprocedure::regproc)
               INTO transformed USING recs;
            err := NULL;
            EXIT;
        EXCEPTION WHEN OTHERS THEN
            err := SQLERRM;
        END;
    END LOOP;
    IF err IS NOT NULL THEN
        failed := firehose._fail(d, recs, 'ProcessingFailed', err, attempts);
        delivered := '{}';
        RETURN;
    END IF;

    -- each input record's result (the first, if the function returned several)
    WITH res AS (
        SELECT u.ord, ROW(u.shard_id, u.sequence_number, u.approximate_arrival_timestamp, u.partition_key,
                          u.data)::kinesis.record AS rec,
               u.shard_id, u.sequence_number, u.approximate_arrival_timestamp, u.partition_key,
               t.result, t.data
          FROM unnest(recs) WITH ORDINALITY
               AS u(shard_id, sequence_number, approximate_arrival_timestamp, partition_key, data, ord)
          LEFT JOIN (SELECT DISTINCT ON (x.record_id) x.record_id, x.result, x.data
                       FROM unnest(transformed) x) t ON t.record_id = u.sequence_number)
    SELECT coalesce(array_agg(ROW(shard_id, sequence_number, approximate_arrival_timestamp, partition_key,
                                  data)::kinesis.record ORDER BY ord)
                        FILTER (WHERE result = 'Ok' AND data IS NOT NULL), '{}'),
           count(*) FILTER (WHERE result = 'Dropped'),
           array_agg(rec ORDER BY ord) FILTER (WHERE result = 'ProcessingFailed'),
           array_agg(rec ORDER BY ord) FILTER (WHERE result IS NULL OR result NOT IN ('Ok', 'Dropped', 'ProcessingFailed')
                                                  OR (result = 'Ok' AND data IS NULL))
      INTO delivered, dropped, reported, bad
      FROM res;
    failed := firehose._fail(d, reported, 'ProcessingFailed', 'the transform reported ProcessingFailed', attempts)
              + firehose._fail(d, bad, 'ProcessingFailed',
                               'the transform returned no valid result for the record', attempts);
END
$$;

-- from src/video/video_processors.sql
CREATE OR REPLACE FUNCTION kinesis_video.create_stream_processor(name text, input_video_stream text,
        function_name regproc, output_data_stream text, starting_position text DEFAULT 'NOW',
        maximum_retry_attempts integer DEFAULT 5, start boolean DEFAULT true)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams;
    out_table regclass;
    f pg_proc;
    pos bigint := 0;
    id bigint;
BEGIN
    IF name IS NULL OR name !~ '^[a-zA-Z0-9_.\-]{1,128}$' THEN
        RAISE EXCEPTION 'InvalidArgumentException: stream processor name must have 1 to 128 characters of [a-zA-Z0-9_.-]'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF starting_position IS NULL OR starting_position NOT IN ('NOW', 'EARLIEST') THEN
        RAISE EXCEPTION 'InvalidArgumentException: starting position must be NOW or EARLIEST'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF maximum_retry_attempts IS NULL OR maximum_retry_attempts NOT BETWEEN -1 AND 10000 THEN
        RAISE EXCEPTION 'InvalidArgumentException: maximum_retry_attempts must be between -1 and 10000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    s := kinesis_video._get_readable(input_video_stream);
    SELECT record_table INTO out_table FROM kinesis.streams WHERE stream_name = output_data_stream;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: data stream "%" does not exist', output_data_stream
            USING ERRCODE = 'undefined_object', HINT = 'Create it with kinesis.create_stream().';
    END IF;
    IF NOT has_table_privilege(out_table, 'INSERT') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied to put records to data stream "%"', output_data_stream
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO f FROM pg_proc WHERE oid = function_name;
    IF NOT FOUND OR f.pronargs <> 1 OR f.proargtypes[0] <> 'kinesis_video.fragment'::regtype
       OR f.prorettype NOT IN ('jsonb'::regtype, 'json'::regtype) OR f.prokind <> 'f' THEN
        RAISE EXCEPTION 'InvalidArgumentException: function % must take one kinesis_video.fragment and return json or jsonb (or a set of them)', function_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT has_function_privilege(function_name, 'EXECUTE') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied to execute function %', function_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT 1 FROM kinesis_video.stream_processors sp WHERE sp.name = create_stream_processor.name) THEN
        RAISE EXCEPTION 'ResourceInUseException: stream processor "%" already exists', name
            USING ERRCODE = 'object_in_use';
    END IF;
    IF starting_position = 'NOW' THEN
        EXECUTE format('SELECT coalesce(max(fragment_number), 0) FROM %s', s.media_table) INTO pos;
    END IF;
    INSERT INTO kinesis_video.stream_processors (name, stream_id, function_name, output_stream, owner, status,
                                                 last_fragment_number, maximum_retry_attempts)
         VALUES (name, s.stream_id, function_name::regprocedure::text, output_data_stream, current_user::regrole,
                 CASE WHEN start THEN 'RUNNING' ELSE 'STOPPED' END, pos, maximum_retry_attempts)
      RETURNING processor_id INTO id;
    RETURN id;
END
$$;

-- from src/video/video_processors.sql
CREATE OR REPLACE FUNCTION kinesis_video._process(id bigint) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p kinesis_video.stream_processors;
    s kinesis_video.streams;
    f record;
    ev jsonb;
    n integer := 0;
    k integer;
    attempts integer;
    msg text;
BEGIN
    SELECT * INTO p FROM kinesis_video.stream_processors WHERE processor_id = id FOR UPDATE SKIP LOCKED;
    IF NOT FOUND OR p.status <> 'RUNNING' OR p.next_attempt_at > clock_timestamp() THEN
        RETURN 0;
    END IF;
    SELECT * INTO s FROM kinesis_video.streams WHERE stream_id = p.stream_id;
    attempts := p.failed_attempts;
    FOR f IN EXECUTE format('SELECT * FROM %s WHERE fragment_number > $1 AND server_timestamp >= $2 '
                            'ORDER BY fragment_number LIMIT 10', s.media_table)
             USING p.last_fragment_number, kinesis_video._horizon(s)
    LOOP
        BEGIN
            k := 0;
            FOR ev IN EXECUTE format('SELECT e::jsonb FROM %s($1) AS e', p.function_name::regprocedure::regproc)
                      USING ROW(s.stream_name, f.fragment_number, f.producer_timestamp, f.server_timestamp,
                                f.fragment_length_in_milliseconds, f.fragment_size_in_bytes,
                                f.fragment_metadata, f.media)::kinesis_video.fragment
            LOOP
                CONTINUE WHEN ev IS NULL;
                PERFORM kinesis.put_record(p.output_stream, s.stream_name,
                            convert_to(kinesis_video._event(p, s, f.fragment_number, f.producer_timestamp,
                                                            f.server_timestamp, ev)::text, 'UTF8'));
                k := k + 1;
            END LOOP;
            UPDATE kinesis_video.stream_processors
               SET last_fragment_number = f.fragment_number, fragments_processed = fragments_processed + 1,
                   events_emitted = events_emitted + k, failed_attempts = 0, next_attempt_at = NULL
             WHERE processor_id = id;
            attempts := 0;
            n := n + 1;
        EXCEPTION WHEN OTHERS OR query_canceled THEN     -- (query_canceled: kinesis_glue.mapping_timeout)
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            attempts := attempts + 1;
            IF p.maximum_retry_attempts >= 0 AND attempts > p.maximum_retry_attempts THEN
                -- out of retries: record the fragment and go on with the next
                INSERT INTO kinesis_video.stream_processor_failures (processor_id, fragment_number, error_message, attempts)
                     VALUES (id, f.fragment_number, msg, attempts);
                UPDATE kinesis_video.stream_processors
                   SET last_fragment_number = f.fragment_number, fragments_failed = fragments_failed + 1,
                       failed_attempts = 0, next_attempt_at = NULL, last_error = msg, last_error_at = clock_timestamp()
                 WHERE processor_id = id;
                attempts := 0;
                n := n + 1;
            ELSE
                UPDATE kinesis_video.stream_processors
                   SET failed_attempts = attempts, last_error = msg, last_error_at = clock_timestamp(),
                       next_attempt_at = clock_timestamp()
                           + least(interval '1 second' * power(2, attempts - 1), interval '5 minutes')
                 WHERE processor_id = id;
                RETURN n;
            END IF;
        END;
    END LOOP;
    RETURN n;
END
$$;

-- from src/glue/jobs.sql
CREATE OR REPLACE FUNCTION glue._check_job(j glue.jobs) RETURNS glue.jobs
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p pg_proc;
BEGIN
    IF (j.script IS NULL) = (j.procedure IS NULL) THEN
        PERFORM glue._invalid('a job needs either a script or a procedure',
                              'Pass script => ''INSERT INTO ...'' or procedure => ''my_schema.my_proc(jsonb)''.');
    END IF;
    IF j.script IS NOT NULL AND (btrim(j.script) = '' OR length(j.script) > 1048576) THEN
        PERFORM glue._invalid('a job script must have 1 to 1048576 characters');
    END IF;
    IF j.procedure IS NOT NULL THEN
        SELECT * INTO p FROM pg_proc WHERE oid = to_regprocedure(j.procedure);
        IF p.prokind <> 'p' OR p.pronargs > 1 OR (p.pronargs = 1 AND p.proargtypes[0] <> 'jsonb'::regtype) THEN
            PERFORM glue._invalid(format('%s is not a procedure taking no argument or one jsonb argument', j.procedure));
        END IF;
        IF NOT has_function_privilege(j.owner::oid, j.procedure::regprocedure::oid, 'EXECUTE') THEN
            RAISE EXCEPTION 'AccessDeniedException: job owner % may not execute %', j.owner, j.procedure
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    j.default_arguments := glue._check_arguments('default_arguments', j.default_arguments);
    j.non_overridable_arguments := glue._check_arguments('non_overridable_arguments', j.non_overridable_arguments);
    IF j.max_concurrent_runs IS NULL OR j.max_concurrent_runs NOT BETWEEN 1 AND 1000 THEN
        PERFORM glue._invalid('max_concurrent_runs must be between 1 and 1000');
    END IF;
    IF j.timeout IS NULL OR j.timeout < '1 second' OR j.timeout > '7 days' THEN
        PERFORM glue._invalid('timeout must be between 1 second and 7 days');
    END IF;
    IF j.max_retries IS NULL OR j.max_retries NOT BETWEEN 0 AND 10 THEN
        PERFORM glue._invalid('max_retries must be between 0 and 10');
    END IF;
    PERFORM glue._check_length('description', j.description, 2048);
    RETURN j;
END
$$;

-- from src/glue/jobs.sql
CREATE OR REPLACE FUNCTION glue._job_definition(j glue.jobs) RETURNS glue.job_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).job_name, ($1).owner, ($1).description, ($1).script, to_regprocedure(($1).procedure), ($1).default_arguments,
           ($1).non_overridable_arguments, ($1).max_concurrent_runs, ($1).job_run_queuing, ($1).timeout,
           ($1).max_retries, ($1).version, ($1).created_on, ($1).last_modified_on
$$;

-- from src/glue/jobs.sql
CREATE OR REPLACE FUNCTION glue.create_job(name text, script text DEFAULT NULL, procedure regprocedure DEFAULT NULL,
        default_arguments jsonb DEFAULT '{}', non_overridable_arguments jsonb DEFAULT '{}',
        max_concurrent_runs integer DEFAULT 1, job_run_queuing boolean DEFAULT false,
        timeout interval DEFAULT '48 hours', max_retries integer DEFAULT 0, description text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    j glue.jobs;
BEGIN
    j.job_name := glue._job_name(name);
    j.owner := current_user::regrole;
    j.script := script;
    j.procedure := procedure::text;              -- qualified: search_path is pinned
    j.default_arguments := default_arguments;
    j.non_overridable_arguments := non_overridable_arguments;
    j.max_concurrent_runs := max_concurrent_runs;
    j.job_run_queuing := coalesce(job_run_queuing, false);
    j.timeout := timeout;
    j.max_retries := max_retries;
    j.description := nullif(description, '');
    j := glue._check_job(j);
    BEGIN
        INSERT INTO glue.jobs (job_name, owner, description, script, procedure, default_arguments,
                               non_overridable_arguments, max_concurrent_runs, job_run_queuing, timeout, max_retries)
        VALUES (j.job_name, j.owner, j.description, j.script, j.procedure, j.default_arguments,
                j.non_overridable_arguments, j.max_concurrent_runs, j.job_run_queuing, j.timeout, j.max_retries);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'AlreadyExistsException: job "%" already exists', j.job_name
            USING ERRCODE = 'duplicate_object';
    END;
    RETURN j.job_name;
END
$$;

-- from src/glue/jobs.sql
CREATE OR REPLACE FUNCTION glue.update_job(name text, script text DEFAULT NULL, procedure regprocedure DEFAULT NULL,
        default_arguments jsonb DEFAULT NULL, non_overridable_arguments jsonb DEFAULT NULL,
        max_concurrent_runs integer DEFAULT NULL, job_run_queuing boolean DEFAULT NULL,
        timeout interval DEFAULT NULL, max_retries integer DEFAULT NULL, description text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    j glue.jobs := glue._job(name, true);
BEGIN
    IF script IS NOT NULL AND procedure IS NOT NULL THEN
        PERFORM glue._invalid('a job needs either a script or a procedure, not both');
    ELSIF script IS NOT NULL THEN
        j.script := script;
        j.procedure := NULL;
    ELSIF procedure IS NOT NULL THEN
        j.procedure := procedure::text;
        j.script := NULL;
    END IF;
    j.default_arguments := coalesce(update_job.default_arguments, j.default_arguments);
    j.non_overridable_arguments := coalesce(update_job.non_overridable_arguments, j.non_overridable_arguments);
    j.max_concurrent_runs := coalesce(update_job.max_concurrent_runs, j.max_concurrent_runs);
    j.job_run_queuing := coalesce(update_job.job_run_queuing, j.job_run_queuing);
    j.timeout := coalesce(update_job.timeout, j.timeout);
    j.max_retries := coalesce(update_job.max_retries, j.max_retries);
    j.description := glue._updated(description, j.description);
    j := glue._check_job(j);
    UPDATE glue.jobs x SET script = j.script, procedure = j.procedure, default_arguments = j.default_arguments,
           non_overridable_arguments = j.non_overridable_arguments, max_concurrent_runs = j.max_concurrent_runs,
           job_run_queuing = j.job_run_queuing, timeout = j.timeout, max_retries = j.max_retries,
           description = j.description, version = x.version + 1, last_modified_on = clock_timestamp()
     WHERE x.job_id = j.job_id;
    PERFORM glue._wake_at_commit();                 -- a higher max_concurrent_runs releases WAITING runs
    RETURN j.job_name;
END
$$;

-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue._job_run_body(run_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs;
    j glue.jobs;
    proc regprocedure;
    n bigint := 0;
BEGIN
    SELECT * INTO r FROM glue.job_runs x WHERE x.run_id = _job_run_body.run_id;
    IF NOT FOUND OR r.worker_pid IS DISTINCT FROM pg_backend_pid() OR r.state NOT IN ('RUNNING', 'STOPPING') THEN
        -- only the job worker that took the run executes it (as the owner)
        RAISE EXCEPTION 'InvalidInputException: run % is not executing in this session', run_id
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Start runs with glue.start_job_run() or glue.run_job().';
    END IF;
    SELECT * INTO j FROM glue.jobs x WHERE x.job_id = r.job_id;
    PERFORM set_config('glue_job.run_id', r.run_id::text, true);
    PERFORM set_config('glue_job.job_name', j.job_name, true);
    proc := j.procedure::regprocedure;                  -- resolved before the user's search path
    -- the script sees the owner's usual search path (or --search_path)
    PERFORM set_config('search_path', coalesce(r.arguments ->> '--search_path', '"$user", public'), true);
    IF j.script IS NOT NULL THEN
        EXECUTE glue._substitute(j.script, r.arguments);
        GET DIAGNOSTICS n = ROW_COUNT;
    ELSIF (SELECT p.pronargs FROM pg_catalog.pg_proc p WHERE p.oid = proc) = 1 THEN
        EXECUTE format('CALL %I.%I($1)', (SELECT n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = proc),
                       (SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid = proc))
            USING r.arguments;
    ELSE
        EXECUTE format('CALL %I.%I()', (SELECT n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = proc),
                       (SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid = proc));
    END IF;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    UPDATE glue.job_runs x SET state = 'SUCCEEDED', completed_on = clock_timestamp(), last_modified_on = clock_timestamp(),
           rows_affected = n
     WHERE x.run_id = r.run_id;
    RETURN n;
END
$$;

