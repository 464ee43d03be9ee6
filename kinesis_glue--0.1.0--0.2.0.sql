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
-- (the functions that read or write these columns are in 6c)

-- 6. The branches merged into 0.2.0 after 5 was written (security: catalogs
--    written only by run-as-owner functions, structured pg_cron jobs, the
--    glue_tables registry; the runner registry; templates; correctness).

-- 6a. New catalogs.  The database this installation belongs to (a copy made
--     with CREATE DATABASE ... TEMPLATE adopts itself: kinesis_glue._adopt_copy).
CREATE TABLE kinesis_glue.installation (database_oid oid NOT NULL);
INSERT INTO kinesis_glue.installation (database_oid)
    SELECT d.oid FROM pg_catalog.pg_database d
     WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database();
GRANT SELECT ON kinesis_glue.installation TO PUBLIC;

-- The views the extension made in glue_tables, registered by oid (0.1.0
-- marked them with a comment; PUBLIC could create relations there, so only
-- a view with the mark, the catalog table's name and its owner is taken).
CREATE TABLE glue.table_relations (
    table_id integer PRIMARY KEY REFERENCES glue.tables ON DELETE CASCADE,
    relation regclass NOT NULL     -- regclass: a dump restores it by name (src/common/dump.sql)
);
GRANT SELECT ON glue.table_relations TO PUBLIC;
INSERT INTO glue.table_relations (table_id, relation)
SELECT t.table_id, c.oid
  FROM glue.tables t JOIN glue.databases d USING (database_id)
  JOIN pg_catalog.pg_class c ON c.relname = glue._relation_name(d.database_name, t.table_name)
   AND c.relnamespace = 'glue_tables'::regnamespace AND c.relkind = 'v' AND c.relowner = t.owner::oid
 WHERE pg_catalog.obj_description(c.oid, 'pg_class') = 'kinesis_glue catalog table ' || t.table_id;

SELECT pg_catalog.pg_extension_config_dump('glue.table_relations', '');   -- src/common/dump.sql

-- EVENT triggers count records arriving since their activation.
ALTER TABLE glue.triggers ADD COLUMN activated_on timestamptz;

-- 6b. Catalogs are written only through the extension's functions (README
--     "Catalogs"): PUBLIC keeps SELECT (revoking a table privilege revokes
--     the column grants too).  Only the extension creates relations in
--     glue_tables.
REVOKE INSERT, UPDATE, DELETE ON firehose.delivery_streams, firehose.delivery_errors, firehose.delivered_objects,
    glue.databases, glue.tables, glue.table_versions, glue.partitions, glue.crawlers, glue.crawls,
    glue.crawl_files, glue.crawler_folders, glue.jobs, glue.job_runs, glue.job_bookmarks, glue.triggers,
    glue.workflows, glue.workflow_runs, glue.workflow_crawls, kinesis_video.streams,
    kinesis_video.stream_processors, kinesis_video.stream_processor_failures FROM PUBLIC;
REVOKE CREATE ON SCHEMA glue_tables FROM PUBLIC;

-- 6c. Every function changed or added since 0.1.0 (tools/sql_functions.py,
--     in the order of the component files: a function is created before
--     the SQL functions whose bodies name it).  This includes the
--     functions that read or write the columns of 5.  Dropped: the 0.1.0
--     view mark (replaced by glue.table_relations) and two functions whose
--     result type changed, which CREATE OR REPLACE cannot do.
DROP FUNCTION glue._relation_mark(integer);
DROP FUNCTION firehose.describe_delivery_stream(text);
DROP FUNCTION glue._cron_wanted();

-- from src/common/common.sql
CREATE OR REPLACE FUNCTION kinesis_glue.caller() RETURNS regrole
    LANGUAGE c STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'kg_caller';
-- from src/worker/worker.sql
CREATE OR REPLACE FUNCTION kinesis_glue._runners(OUT kind text, OUT datid oid, OUT id bigint, OUT part integer,
                                      OUT generation integer, OUT owner oid, OUT state text, OUT pid integer,
                                      OUT since timestamptz, OUT reason text)
    RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_runners_sql';
-- from src/worker/worker.sql
CREATE OR REPLACE FUNCTION kinesis_glue._adopt_copy() RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    me oid := (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database());
    was oid;
    n integer;
BEGIN
    SELECT i.database_oid INTO was FROM kinesis_glue.installation i FOR UPDATE;
    IF was = me THEN
        RETURN NULL;
    END IF;
    DELETE FROM kinesis_glue.installation;
    INSERT INTO kinesis_glue.installation (database_oid) VALUES (me);
    IF was IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE firehose.delivery_streams d
       SET enabled = false, last_error_at = pg_catalog.clock_timestamp(),
           last_error = pg_catalog.format('stopped: this database is a copy of database %s and would share the destination with it', was)
     WHERE d.enabled AND d.destination_type IN ('files', 'program');
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RAISE WARNING 'kinesis_glue: database "%" is a copy of database %: % delivery stream(s) with a file or program destination stopped',
                      pg_catalog.current_database(), was, n
            USING DETAIL = 'A copy and its template would write objects with the same names to the same destination.',
                  HINT = 'Start them with firehose.start_delivery_stream() if sharing the destination is intended, or re-create them with another destination.';
    END IF;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION kinesis_glue._adopt_copy() FROM PUBLIC;
-- from src/streams/streams.sql
CREATE OR REPLACE FUNCTION kinesis.read_shard_start(stream_name text, shard_id text, checkpoint_sequence_number bigint)
    RETURNS bigint LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'kg_read_shard_after_checkpoint';
-- from src/firehose/firehose.sql
CREATE OR REPLACE FUNCTION firehose._get(name text, must_own boolean, lock boolean DEFAULT false)
    RETURNS firehose.delivery_streams
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams;
BEGIN
    SELECT * INTO d FROM firehose.delivery_streams WHERE delivery_stream_name = name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: delivery stream "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List them with firehose.list_delivery_streams().';
    END IF;
    IF must_own AND NOT pg_has_role(kinesis_glue.caller(), d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of delivery stream "%"', name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF lock THEN
        -- (row-level security shows the row FOR UPDATE to its owners only)
        SELECT * INTO d FROM firehose.delivery_streams WHERE delivery_stream_id = d.delivery_stream_id FOR UPDATE;
    END IF;
    RETURN d;
END
$$;
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
    d.owner := kinesis_glue.caller()::regrole;
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

    d.delivery_stream_type := delivery_stream_type;
    d.consumer_name := cons;
    PERFORM firehose._insert_delivery_stream(d);
    PERFORM kinesis_glue.wake_worker();
END
$$;
-- from src/firehose/firehose.sql
CREATE OR REPLACE FUNCTION firehose.delete_delivery_stream(delivery_stream_name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams := firehose._delete_delivery_stream(delivery_stream_name);
BEGIN
    -- its source stream and consumer belong to the caller: removed as the caller
    IF d.delivery_stream_type = 'DirectPut' THEN
        PERFORM kinesis.delete_stream(d.source_stream, enforce_consumer_deletion => true);
    ELSIF EXISTS (SELECT 1 FROM kinesis.list_streams() s WHERE s.stream_name = d.source_stream) THEN
        PERFORM kinesis.deregister_stream_consumer(d.source_stream, d.consumer_name);
    END IF;
END
$$;
-- from src/firehose/firehose.sql
CREATE OR REPLACE FUNCTION firehose._insert_delivery_stream(d firehose.delivery_streams) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
BEGIN
    PERFORM firehose._check_name(d.delivery_stream_name);
    IF d.owner IS DISTINCT FROM kinesis_glue.caller() THEN
        RAISE EXCEPTION 'AccessDeniedException: a delivery stream belongs to the role that creates it'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM firehose._check_config(d);
    PERFORM firehose._check_buffering((d.buffering_size_bytes / 1048576)::integer, d.buffering_interval);
    IF d.buffering_size_bytes % 1048576 <> 0
       OR d.destination_type IS DISTINCT FROM firehose._destination_type(d.destination_table, d.destination_directory,
                                                                         d.destination_program)
       OR d.delivery_stream_type IS NULL OR d.delivery_stream_type NOT IN ('DirectPut', 'KinesisStreamAsSource') THEN
        RAISE EXCEPTION 'InvalidArgumentException: inconsistent settings for delivery stream "%"', d.delivery_stream_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF d.consumer_name IS DISTINCT FROM 'firehose-' || d.delivery_stream_name
       OR (d.delivery_stream_type = 'DirectPut') <> (d.source_stream IS NOT DISTINCT FROM 'firehose-' || d.delivery_stream_name)
       OR NOT EXISTS (SELECT 1 FROM kinesis.consumers c JOIN kinesis.streams s USING (stream_id)
                       WHERE s.stream_name = d.source_stream AND c.consumer_name = d.consumer_name
                         AND pg_has_role(kinesis_glue.caller(), c.registered_by, 'USAGE')) THEN
        RAISE EXCEPTION 'InvalidArgumentException: the source of delivery stream "%" is not the caller''s consumer', d.delivery_stream_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO firehose.delivery_streams (delivery_stream_name, delivery_stream_type, source_stream,
            consumer_name, owner, destination_type, destination_table, record_format, data_column,
            destination_directory, destination_program, file_format, file_columns, file_header, compression,
            prefix, partition_keys, file_extension, buffering_size_bytes, buffering_interval,
            transform_function, transform_retries, retry_duration, backup_mode, backup_table)
    VALUES (d.delivery_stream_name, d.delivery_stream_type, d.source_stream, d.consumer_name, d.owner,
            d.destination_type, d.destination_table, d.record_format, d.data_column,
            d.destination_directory, d.destination_program, d.file_format, d.file_columns, d.file_header,
            d.compression, d.prefix, d.partition_keys, d.file_extension, d.buffering_size_bytes,
            d.buffering_interval, d.transform_function, d.transform_retries, d.retry_duration,
            d.backup_mode, d.backup_table);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'ResourceInUseException: delivery stream "%" already exists', d.delivery_stream_name
        USING ERRCODE = 'object_in_use';
END
$$;
-- from src/firehose/firehose.sql
CREATE OR REPLACE FUNCTION firehose._delete_delivery_stream(name text) RETURNS firehose.delivery_streams
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get(name, true, true);
BEGIN
    DELETE FROM firehose.delivery_streams WHERE delivery_stream_id = d.delivery_stream_id;
    RETURN d;
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
                   last_delivery_at timestamptz, last_error text,
                   create_timestamp timestamptz, last_update_timestamp timestamptz)
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
           d.last_delivery_at, d.last_error, d.create_timestamp, d.last_update_timestamp
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
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
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
-- from src/firehose/firehose.sql
CREATE OR REPLACE FUNCTION firehose._set_enabled(delivery_stream_name text, enabled boolean) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get($1, true);
BEGIN
    UPDATE firehose.delivery_streams SET enabled = $2 WHERE delivery_stream_id = d.delivery_stream_id;
    IF $2 THEN
        PERFORM kinesis_glue.wake_worker();
    END IF;
END
$$;
-- from src/firehose/firehose.sql
CREATE OR REPLACE FUNCTION firehose.put_record_batch(delivery_stream_name text, records bytea[])
    RETURNS TABLE (record_id text, error_code text, error_message text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get(delivery_stream_name, false);
    n integer := coalesce(cardinality(records), 0);
BEGIN
    IF d.delivery_stream_type <> 'DirectPut' THEN
        RAISE EXCEPTION 'InvalidArgumentException: This operation is not permitted on KinesisStreamAsSource delivery stream type'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Delivery stream "%s" reads the kinesis stream "%s"; put the records there.',
                                delivery_stream_name, d.source_stream);
    END IF;
    IF n NOT BETWEEN 1 AND 500 THEN
        RAISE EXCEPTION 'InvalidArgumentException: a batch holds 1 to 500 records, not %', n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(records) r WHERE r IS NULL OR octet_length(r) > 1024000) THEN
        RAISE EXCEPTION 'InvalidArgumentException: a record must be given and be at most 1,000 KiB'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT sum(octet_length(r)) FROM unnest(records) r) > 4 * 1024 * 1024 THEN
        RAISE EXCEPTION 'InvalidArgumentException: a batch holds at most 4 MiB'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
        SELECT p.sequence_number::text, p.error_code, p.error_message
          FROM kinesis.put_records(d.source_stream,
                                   array_fill('r'::text, ARRAY[n]), records) AS p;
END
$$;
-- from src/firehose/firehose_delivery.sql
CREATE OR REPLACE FUNCTION firehose._fail(d firehose.delivery_streams, recs kinesis.record[], code text,
        message text, attempts integer) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF coalesce(cardinality(recs), 0) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM firehose._add_errors(d.delivery_stream_id, recs, code, message, attempts);
    IF d.backup_mode = 'FailedDataOnly' THEN
        PERFORM firehose._backup(d, recs, code, message);
    END IF;
    RETURN cardinality(recs);
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
            IF to_regprocedure(d.transform_function) IS NULL THEN     -- dropped or renamed since
                RAISE EXCEPTION 'ResourceNotFoundException: transform function % of delivery stream "%" does not exist',
                        d.transform_function, d.delivery_stream_name
                    USING ERRCODE = 'undefined_function';
            END IF;
            EXECUTE format('SELECT array_agg(t::firehose.transformed_record) FROM %s($1) t',
                           to_regprocedure(d.transform_function)::regproc)
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
-- from src/firehose/firehose_delivery.sql
CREATE OR REPLACE FUNCTION firehose._file_records(d firehose.delivery_streams, recs kinesis.record[],
        OUT good firehose._file_record[], OUT format_failed integer, OUT partitioning_failed integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    items firehose._file_record[];
    random_string jsonb := jsonb_build_object('firehose:random-string',
                                              substr(md5(random()::text || clock_timestamp()::text), 1, 11));
    g record;
BEGIN
    format_failed := 0;
    items := ARRAY(
        SELECT ROW(c.ord, c.rec, c.problem,
                   CASE WHEN d.destination_type = 'files' THEN
                       firehose._evaluate_prefix(d.prefix,
                           coalesce(min((c.rec).approximate_arrival_timestamp) FILTER (WHERE c.problem IS NULL)
                                        OVER (PARTITION BY c.vals),
                                    (c.rec).approximate_arrival_timestamp),
                           c.vals || random_string) END
               )::firehose._file_record
          FROM (SELECT u.ord, ROW(u.shard_id, u.sequence_number, u.approximate_arrival_timestamp, u.partition_key,
                                  u.data)::kinesis.record AS rec,
                       firehose._record_problem(d.file_format, d.file_columns, u.data) AS problem,
                       coalesce(kv.vals, '{}') AS vals
                  FROM unnest(recs) WITH ORDINALITY
                       AS u(shard_id, sequence_number, approximate_arrival_timestamp, partition_key, data, ord)
                  LEFT JOIN LATERAL (
                       SELECT jsonb_object_agg(k.key, jsonb_path_query_first(firehose._json_or_null(u.data),
                                                                             k.value::jsonpath, '{}', true) #>> '{}') AS vals
                         FROM jsonb_each_text(d.partition_keys) k
                        WHERE d.partition_keys <> '{}') kv ON true) c
         ORDER BY c.ord);
    FOR g IN SELECT x.problem, array_agg(x.rec ORDER BY x.ord) AS bad FROM unnest(items) x
              WHERE x.problem IS NOT NULL GROUP BY x.problem LOOP
        format_failed := format_failed + firehose._fail(d, g.bad, 'FormatFailed', g.problem, 1);
    END LOOP;
    partitioning_failed := firehose._fail(d,
            ARRAY(SELECT x.rec FROM unnest(items) x
                   WHERE x.problem IS NULL AND x.prefix IS NULL AND d.destination_type = 'files' ORDER BY x.ord),
            'PartitioningFailed',
            'the record gives no object prefix: a partition key is missing or empty, or the prefix is longer than 512 characters', 1);
    good := ARRAY(SELECT x FROM unnest(items) x
                   WHERE x.problem IS NULL AND (x.prefix IS NOT NULL OR d.destination_type <> 'files')
                   ORDER BY x.ord);
END
$$;
-- from src/firehose/firehose_delivery.sql
CREATE OR REPLACE FUNCTION firehose._to_files(d firehose.delivery_streams, recs kinesis.record[],
        OUT delivered integer, OUT delivered_bytes bigint, OUT failed integer,
        OUT partitioning_failed integer, OUT objects integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f record;
    g record;
    key text;
    path text;
    ext text := coalesce(d.file_extension,
                         CASE d.file_format WHEN 'jsonlines' THEN '.jsonl' WHEN 'csv' THEN '.csv' ELSE '.txt' END
                         || CASE WHEN d.compression = 'GZIP' THEN '.gz' ELSE '' END);
BEGIN
    delivered := 0;
    delivered_bytes := 0;
    objects := 0;
    PERFORM firehose._check_server_role(d.owner, 'pg_write_server_files', 'write server files');
    f := firehose._file_records(d, recs);
    failed := f.format_failed;
    partitioning_failed := f.partitioning_failed;
    FOR g IN SELECT x.prefix, array_agg((x.rec).data ORDER BY x.ord) AS datas,
                    min((x.rec).sequence_number) AS first_seq, max((x.rec).sequence_number) AS last_seq,
                    min((x.rec).approximate_arrival_timestamp) AS oldest, count(*) AS n,
                    sum(octet_length((x.rec).data)) AS bytes
               FROM unnest(f.good) x
              GROUP BY x.prefix ORDER BY min(x.ord) LOOP
        key := g.prefix || d.delivery_stream_name || '-' || d.version_id || '-'
               || to_char(g.oldest AT TIME ZONE 'UTC', 'YYYY-MM-DD-HH24-MI-SS') || '-'
               || g.first_seq || '-' || g.last_seq || ext;
        path := firehose._write_object(d.destination_directory, key, d.delivery_stream_id, d.file_format,
                                       d.file_columns, d.file_header, d.compression = 'GZIP', g.datas);
        PERFORM firehose._add_object(d.delivery_stream_id, path, g.first_seq, g.last_seq, g.n, g.bytes);
        delivered := delivered + g.n;
        delivered_bytes := delivered_bytes + g.bytes;
        objects := objects + 1;
    END LOOP;
END
$$;
-- from src/firehose/firehose_delivery.sql
CREATE OR REPLACE FUNCTION firehose._attempt(d firehose.delivery_streams) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    recs kinesis.record[];
    n bigint;
    in_bytes bigint;
    t record;
    out record;
    part_failed integer := 0;
    objs integer := 0;
    backed integer := 0;
BEGIN
    -- the common case in one statement: straight from the stream into the table
    IF d.destination_type = 'table' AND d.transform_function IS NULL AND d.backup_mode <> 'AllData' THEN
        BEGIN
            EXECUTE format('WITH c AS MATERIALIZED (SELECT * FROM kinesis.consume(%L, %L, 10000)), ins AS (%s) '
                           'SELECT count(*), sum(octet_length(c.data)) FROM c',
                           d.source_stream, d.consumer_name, firehose._table_insert_sql(d, 'c'))
               INTO n, in_bytes;
            PERFORM firehose._count_delivery(d.delivery_stream_id, jsonb_build_object(
                        'incoming_records', n, 'incoming_bytes', coalesce(in_bytes, 0),
                        'records_delivered', n, 'bytes_delivered', coalesce(in_bytes, 0)), n > 0, false);
            RETURN n;
        EXCEPTION WHEN data_exception OR integrity_constraint_violation OR raise_exception THEN
            NULL;               -- a row was rejected: the general path finds it
        END;
    END IF;
    SELECT array_agg(c), sum(octet_length(c.data)) INTO recs, in_bytes
      FROM kinesis.consume(d.source_stream, d.consumer_name, 10000) c;
    IF recs IS NULL THEN
        RETURN 0;
    END IF;
    IF d.backup_mode = 'AllData' THEN
        PERFORM firehose._backup(d, recs, NULL, NULL);
        backed := cardinality(recs);
    END IF;
    IF d.transform_function IS NULL THEN
        SELECT recs AS delivered, 0 AS dropped, 0 AS failed INTO t;
    ELSE
        t := firehose._transform(d, recs);
    END IF;
    IF d.destination_type = 'table' THEN
        out := firehose._to_table(d, t.delivered);
    ELSIF d.destination_type = 'files' THEN
        out := firehose._to_files(d, t.delivered);
        part_failed := out.partitioning_failed;
        objs := out.objects;
    ELSE
        out := firehose._to_program(d, t.delivered);
    END IF;
    PERFORM firehose._count_delivery(d.delivery_stream_id, jsonb_build_object(
                'incoming_records', cardinality(recs), 'incoming_bytes', in_bytes,
                'records_delivered', out.delivered, 'bytes_delivered', out.delivered_bytes,
                'objects_delivered', objs, 'records_dropped', t.dropped, 'processing_failed', t.failed,
                'delivery_failed', CASE WHEN d.destination_type = 'table' THEN out.failed ELSE 0 END,
                'format_failed', CASE WHEN d.destination_type = 'table' THEN 0 ELSE out.failed END,
                'partitioning_failed', part_failed,
                'records_backed_up', backed + CASE WHEN d.backup_mode = 'FailedDataOnly'
                                                   THEN t.failed + out.failed + part_failed ELSE 0 END),
            true, t.failed + out.failed + part_failed > 0);
    RETURN cardinality(recs);
END
$$;
-- from src/firehose/firehose_delivery.sql
CREATE OR REPLACE FUNCTION firehose._deliver(id integer, force boolean) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams;
    pending_bytes bigint;
    oldest interval;
    n integer;
    err text;
    attempts integer;
    backoff interval;
    recs kinesis.record[];
BEGIN
    SELECT * INTO d FROM firehose.delivery_streams WHERE delivery_stream_id = id;
    IF NOT FOUND OR (NOT d.enabled AND NOT force) THEN
        RETURN 0;
    END IF;
    IF NOT pg_has_role(kinesis_glue.caller(), d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of delivery stream "%"', d.delivery_stream_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT force THEN
        IF d.next_attempt_at > clock_timestamp() THEN
            RETURN 0;
        END IF;
        SELECT sum(p.lag_bytes), max(p.lag_time) INTO pending_bytes, oldest
          FROM kinesis.consumer_positions p
         WHERE p.stream_name = d.source_stream AND p.consumer_name = d.consumer_name;
        IF coalesce(pending_bytes, 0) = 0 OR
           (pending_bytes < d.buffering_size_bytes AND oldest < d.buffering_interval) THEN
            RETURN 0;
        END IF;
    END IF;
    -- one batch at a time per delivery stream, under one configuration
    d := firehose._lock_delivery(id);

    BEGIN
        n := firehose._attempt(d);
        IF d.failing_since IS NOT NULL THEN
            PERFORM firehose._retry_state(id, 'recovered', NULL, NULL);
        END IF;
        RETURN n;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        -- the attempt is rolled back: checkpoint, rows, objects.  In a
        -- delivery runner (not force) a cancel is the batch's statement
        -- timeout: a failed attempt like any other, so it is recorded and
        -- backed off; a cancel of flush() cancels the caller's statement.
        IF SQLSTATE = '57014' AND force THEN
            RAISE;
        END IF;
        err := CASE WHEN SQLSTATE = '57014'
                    THEN format('the batch ran longer than kinesis_glue.delivery_timeout (%s): %s',
                                current_setting('kinesis_glue.delivery_timeout'), SQLERRM)
                    ELSE SQLERRM END;
    END;

    attempts := d.failed_attempts + 1;
    IF d.retry_duration = interval '0' OR clock_timestamp() >= d.failing_since + d.retry_duration THEN
        -- retries exhausted: the batch goes to the error output
        BEGIN
            recs := ARRAY(SELECT c FROM kinesis.consume(d.source_stream, d.consumer_name, 10000) c);
            n := firehose._fail(d, recs, 'DestinationFailed', err, attempts);
            PERFORM firehose._retry_state(id, 'recovered', NULL, NULL);
            PERFORM firehose._count_delivery(id, jsonb_build_object(
                        'incoming_records', n,
                        'incoming_bytes', coalesce((SELECT sum(octet_length(r.data)) FROM unnest(recs) r), 0),
                        'destination_failed', n, 'failed_attempts_total', 1,
                        'records_backed_up', CASE WHEN d.backup_mode = 'FailedDataOnly' THEN n ELSE 0 END),
                    false, true, err);
            RAISE WARNING 'DeliveryFailed: delivery stream "%" gave up on % record(s) after % attempt(s): %',
                    d.delivery_stream_name, n, attempts, err
                USING HINT = 'The records are in firehose.delivery_errors with error code DestinationFailed.';
            RETURN n;
        EXCEPTION WHEN OTHERS THEN
            err := SQLERRM;
        END;
    END IF;
    -- exponential backoff: 1 s doubling to at most 2 min, +/- 15 % jitter
    backoff := least(power(2, least(attempts - 1, 10)), 120) * (0.85 + 0.3 * random()) * interval '1 s';
    PERFORM firehose._retry_state(id, 'failing', attempts, backoff);
    PERFORM firehose._count_delivery(id, '{"failed_attempts_total": 1}', false, true, err);
    RAISE WARNING 'DeliveryFailed: delivery stream "%" failed (attempt %), will retry: %',
            d.delivery_stream_name, attempts, err
        USING HINT = format('Records wait until the destination works again, for at most retry_duration (%s); '
                            'firehose.delivery_stream_metrics shows the next attempt.', d.retry_duration);
    RETURN 0;
END
$$;
-- from src/firehose/firehose_delivery.sql
CREATE OR REPLACE FUNCTION firehose._lock_delivery(id integer) RETURNS firehose.delivery_streams
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams;
BEGIN
    SELECT * INTO d FROM firehose.delivery_streams x WHERE x.delivery_stream_id = id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: delivery stream % does not exist', id
            USING ERRCODE = 'undefined_object';
    ELSIF NOT pg_has_role(kinesis_glue.caller(), d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of delivery stream "%"', d.delivery_stream_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN d;
END
$$;
-- from src/firehose/firehose_delivery.sql
CREATE OR REPLACE FUNCTION firehose._count_delivery(id integer, counts jsonb, delivered boolean, failed boolean,
        error text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams := firehose._lock_delivery(id);
    k text;
BEGIN
    FOR k IN SELECT jsonb_object_keys(counts) LOOP
        IF k NOT IN ('incoming_records', 'incoming_bytes', 'records_delivered', 'bytes_delivered', 'objects_delivered',
                     'records_dropped', 'processing_failed', 'delivery_failed', 'format_failed', 'partitioning_failed',
                     'records_backed_up', 'destination_failed', 'failed_attempts_total')
           OR jsonb_typeof(counts -> k) NOT IN ('number', 'null') OR coalesce((counts ->> k)::numeric, 0) < 0 THEN
            RAISE EXCEPTION 'invalid delivery count "%"', k USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    UPDATE firehose.delivery_streams x SET
           incoming_records = x.incoming_records + coalesce((counts ->> 'incoming_records')::bigint, 0),
           incoming_bytes = x.incoming_bytes + coalesce((counts ->> 'incoming_bytes')::bigint, 0),
           records_delivered = x.records_delivered + coalesce((counts ->> 'records_delivered')::bigint, 0),
           bytes_delivered = x.bytes_delivered + coalesce((counts ->> 'bytes_delivered')::bigint, 0),
           objects_delivered = x.objects_delivered + coalesce((counts ->> 'objects_delivered')::bigint, 0),
           records_dropped = x.records_dropped + coalesce((counts ->> 'records_dropped')::bigint, 0),
           processing_failed = x.processing_failed + coalesce((counts ->> 'processing_failed')::bigint, 0),
           delivery_failed = x.delivery_failed + coalesce((counts ->> 'delivery_failed')::bigint, 0),
           format_failed = x.format_failed + coalesce((counts ->> 'format_failed')::bigint, 0),
           partitioning_failed = x.partitioning_failed + coalesce((counts ->> 'partitioning_failed')::bigint, 0),
           records_backed_up = x.records_backed_up + coalesce((counts ->> 'records_backed_up')::bigint, 0),
           destination_failed = x.destination_failed + coalesce((counts ->> 'destination_failed')::bigint, 0),
           failed_attempts_total = x.failed_attempts_total + coalesce((counts ->> 'failed_attempts_total')::bigint, 0),
           last_delivery_at = CASE WHEN delivered THEN clock_timestamp() ELSE x.last_delivery_at END,
           last_error = CASE WHEN NOT failed THEN x.last_error
                             ELSE coalesce(error, (SELECT e.error_message FROM firehose.delivery_errors e
                                                    WHERE e.delivery_stream_id = id
                                                    ORDER BY e.error_id DESC LIMIT 1)) END,
           last_error_at = CASE WHEN failed THEN clock_timestamp() ELSE x.last_error_at END
     WHERE x.delivery_stream_id = d.delivery_stream_id;
END
$$;
-- from src/firehose/firehose_delivery.sql
CREATE OR REPLACE FUNCTION firehose._retry_state(id integer, state text, attempts integer, backoff interval) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams := firehose._lock_delivery(id);
BEGIN
    IF state = 'recovered' THEN
        UPDATE firehose.delivery_streams x SET failing_since = NULL, failed_attempts = 0, next_attempt_at = NULL
         WHERE x.delivery_stream_id = d.delivery_stream_id;
    ELSIF state = 'failing' AND attempts >= 1 AND backoff BETWEEN interval '0' AND interval '1 hour' THEN
        UPDATE firehose.delivery_streams x SET failing_since = coalesce(x.failing_since, clock_timestamp()),
               failed_attempts = attempts, next_attempt_at = clock_timestamp() + backoff
         WHERE x.delivery_stream_id = d.delivery_stream_id;
    ELSE
        RAISE EXCEPTION 'invalid retry state' USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
-- from src/firehose/firehose_delivery.sql
CREATE OR REPLACE FUNCTION firehose._add_errors(id integer, recs kinesis.record[], code text, message text, attempts integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams := firehose._lock_delivery(id);
BEGIN
    INSERT INTO firehose.delivery_errors (delivery_stream_id, shard_id, sequence_number, error_code,
            error_message, raw_data, approximate_arrival_timestamp, attempts_made)
    SELECT d.delivery_stream_id, r.shard_id, r.sequence_number, code, message, r.data,
           r.approximate_arrival_timestamp, attempts
      FROM unnest(recs) r;
END
$$;
-- from src/firehose/firehose_delivery.sql
CREATE OR REPLACE FUNCTION firehose._add_object(id integer, path text, first_seq bigint, last_seq bigint, n bigint, bytes bigint)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams := firehose._lock_delivery(id);
BEGIN
    IF d.destination_type <> 'files' OR path IS NULL OR left(path, length(d.destination_directory) + 1) <> d.destination_directory || '/' THEN
        RAISE EXCEPTION 'invalid object path "%" for delivery stream "%"', path, d.delivery_stream_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO firehose.delivered_objects (delivery_stream_id, object_path, first_sequence_number,
            last_sequence_number, records, bytes)
    VALUES (d.delivery_stream_id, path, first_seq, last_seq, n, bytes);
END
$$;
-- from src/glue/catalog.sql
CREATE OR REPLACE FUNCTION glue._database(name text, must_own boolean) RETURNS glue.databases
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    n text := glue._name('database', name);
    d glue.databases;
BEGIN
    SELECT * INTO d FROM glue.databases x WHERE x.database_name = n;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: database "%" does not exist', n
            USING ERRCODE = 'undefined_object', HINT = 'List them with glue.get_databases().';
    END IF;
    IF must_own AND NOT pg_has_role(kinesis_glue.caller(), d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to change database "%"',
                d.owner, d.database_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN d;
END
$$;
-- from src/glue/catalog.sql
CREATE OR REPLACE FUNCTION glue.create_database(name text, description text DEFAULT NULL, location_uri text DEFAULT NULL,
        parameters jsonb DEFAULT '{}')
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    n text := glue._name('database', name);
BEGIN
    PERFORM glue._check_length('description', description, 2048);
    PERFORM glue._check_length('location_uri', location_uri, 1024);
    PERFORM glue._check_map('parameters', parameters);
    INSERT INTO glue.databases (database_name, description, location_uri, parameters, owner)
    VALUES (n, nullif(description, ''), nullif(location_uri, ''), parameters, kinesis_glue.caller()::regrole);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'AlreadyExistsException: database "%" already exists', n
        USING ERRCODE = 'duplicate_object';
END
$$;
-- from src/glue/catalog.sql
CREATE OR REPLACE FUNCTION glue.update_database(name text, description text DEFAULT NULL, location_uri text DEFAULT NULL,
        parameters jsonb DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d glue.databases := glue._database(name, true);
BEGIN
    PERFORM glue._check_length('description', description, 2048);
    PERFORM glue._check_length('location_uri', location_uri, 1024);
    IF parameters IS NOT NULL THEN
        PERFORM glue._check_map('parameters', parameters);
    END IF;
    UPDATE glue.databases u SET
        description = glue._updated(update_database.description, u.description),
        location_uri = glue._updated(update_database.location_uri, u.location_uri),
        parameters = coalesce(update_database.parameters, u.parameters)
     WHERE u.database_id = d.database_id;
END
$$;
-- from src/glue/catalog.sql
CREATE OR REPLACE FUNCTION glue.delete_database(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d glue.databases := glue._database(name, true);
BEGIN
    PERFORM glue._drop_relation(t.table_id) FROM glue.tables t WHERE t.database_id = d.database_id;
    DELETE FROM glue.databases x WHERE x.database_id = d.database_id;
END
$$;
-- from src/glue/catalog.sql
CREATE OR REPLACE FUNCTION glue._table(database_name text, table_name text, must_own boolean) RETURNS glue.tables
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d glue.databases := glue._database(database_name, false);
    n text := glue._name('table', _table.table_name);
    t glue.tables;
BEGIN
    SELECT * INTO t FROM glue.tables x WHERE x.database_id = d.database_id AND x.table_name = n;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: table "%" does not exist in database "%"', n, d.database_name
            USING ERRCODE = 'undefined_object', HINT = 'List them with glue.get_tables(database_name).';
    END IF;
    IF must_own AND NOT pg_has_role(kinesis_glue.caller(), t.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to change table "%.%"',
                t.owner, d.database_name, t.table_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN t;
END
$$;
-- from src/glue/catalog.sql
CREATE OR REPLACE FUNCTION glue.create_table(database_name text, table_name text, columns jsonb,
        partition_keys jsonb DEFAULT '[]', location text DEFAULT NULL, classification text DEFAULT NULL,
        table_type text DEFAULT 'EXTERNAL_TABLE', parameters jsonb DEFAULT '{}', description text DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d glue.databases := glue._database(database_name, false);
    t glue.tables;
BEGIN
    IF NOT pg_has_role(kinesis_glue.caller(), d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to create tables in database "%"',
                d.owner, d.database_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM 1 FROM glue.databases x WHERE x.database_id = d.database_id FOR KEY SHARE;
    IF NOT FOUND THEN                                   -- deleted meanwhile
        PERFORM glue._database(database_name, false);
    END IF;
    t.database_id := d.database_id;
    t.table_name := glue._name('table', table_name);
    t.columns := glue._columns('columns', columns, false);
    t.partition_keys := glue._columns('partition keys', partition_keys, true);
    t.table_type := table_type;
    t.location := nullif(location, '');
    t.description := nullif(description, '');
    IF parameters IS NULL OR jsonb_typeof(parameters) <> 'object' THEN
        PERFORM glue._check_map('parameters', parameters);
    END IF;
    t.parameters := CASE WHEN nullif(classification, '') IS NULL THEN parameters
                         ELSE parameters || jsonb_build_object('classification', classification) END;
    PERFORM glue._check_table(t);
    BEGIN
        INSERT INTO glue.tables (database_id, table_name, description, owner, table_type, location, parameters,
                                 columns, partition_keys)
        VALUES (t.database_id, t.table_name, t.description, kinesis_glue.caller()::regrole, t.table_type, t.location,
                t.parameters, t.columns, t.partition_keys)
        RETURNING * INTO t;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'AlreadyExistsException: table "%" already exists in database "%"', t.table_name, d.database_name
            USING ERRCODE = 'duplicate_object';
    END;
    INSERT INTO glue.table_versions (table_id, version_id, definition)
    VALUES (t.table_id, t.version_id, to_jsonb(glue._definition(t)));
    PERFORM glue._sync_relation(t.table_id);          -- relations.sql
END
$$;
-- from src/glue/catalog.sql
CREATE OR REPLACE FUNCTION glue.update_table(database_name text, table_name text, columns jsonb DEFAULT NULL,
        partition_keys jsonb DEFAULT NULL, location text DEFAULT NULL, classification text DEFAULT NULL,
        parameters jsonb DEFAULT NULL, description text DEFAULT NULL, skip_archive boolean DEFAULT false)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, true);
    old_keys jsonb;
BEGIN
    SELECT * INTO t FROM glue.tables x WHERE x.table_id = t.table_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN                                   -- deleted meanwhile
        PERFORM glue._table(database_name, table_name, false);
    END IF;
    old_keys := t.partition_keys;
    IF columns IS NOT NULL THEN
        t.columns := glue._columns('columns', columns, false);
    END IF;
    IF partition_keys IS NOT NULL THEN
        t.partition_keys := glue._columns('partition keys', partition_keys, true);
        IF (SELECT array_agg(ARRAY[k ->> 'name', glue.pg_type_for(k ->> 'type')] ORDER BY o)
              FROM jsonb_array_elements(old_keys) WITH ORDINALITY AS x(k, o))
           IS DISTINCT FROM
           (SELECT array_agg(ARRAY[k ->> 'name', glue.pg_type_for(k ->> 'type')] ORDER BY o)
              FROM jsonb_array_elements(t.partition_keys) WITH ORDINALITY AS x(k, o))
           AND EXISTS (SELECT 1 FROM glue.partitions p WHERE p.table_id = t.table_id) THEN
            RAISE EXCEPTION 'InvalidInputException: the partition keys of table "%" cannot change while it has partitions',
                    t.table_name
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Delete its partitions first.';
        END IF;
    END IF;
    t.location := glue._updated(location, t.location);
    t.description := glue._updated(description, t.description);
    IF parameters IS NOT NULL THEN
        PERFORM glue._check_map('parameters', parameters);
        t.parameters := CASE WHEN t.parameters ? 'classification' AND NOT parameters ? 'classification'
                             THEN parameters || jsonb_build_object('classification', t.parameters -> 'classification')
                             ELSE parameters END;
    END IF;
    IF classification = '' THEN
        t.parameters := t.parameters - 'classification';
    ELSIF classification IS NOT NULL THEN
        t.parameters := t.parameters || jsonb_build_object('classification', classification);
    END IF;
    PERFORM glue._check_table(t);
    UPDATE glue.tables u SET columns = t.columns, partition_keys = t.partition_keys, location = t.location,
           description = t.description, parameters = t.parameters,
           version_id = u.version_id + CASE WHEN skip_archive THEN 0 ELSE 1 END,
           update_time = clock_timestamp()
     WHERE u.table_id = t.table_id
    RETURNING * INTO t;
    INSERT INTO glue.table_versions AS v (table_id, version_id, definition)
    VALUES (t.table_id, t.version_id, to_jsonb(glue._definition(t)))
    ON CONFLICT (table_id, version_id) DO UPDATE
       SET definition = excluded.definition, archive_time = excluded.archive_time;
    PERFORM glue._sync_relation(t.table_id);          -- relations.sql
END
$$;
-- from src/glue/catalog.sql
CREATE OR REPLACE FUNCTION glue.delete_table(database_name text, table_name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, true);
BEGIN
    PERFORM glue._drop_relation(t.table_id);
    DELETE FROM glue.tables x WHERE x.table_id = t.table_id;
END
$$;
-- from src/glue/catalog.sql
CREATE OR REPLACE FUNCTION glue.delete_table_version(database_name text, table_name text, version_id integer)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, true);
BEGIN
    IF version_id = t.version_id THEN
        RAISE EXCEPTION 'InvalidInputException: version % is the current version of table "%"', version_id, t.table_name
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Only archived versions can be deleted.';
    END IF;
    DELETE FROM glue.table_versions x WHERE x.table_id = t.table_id AND x.version_id = delete_table_version.version_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: version % of table "%" does not exist', version_id, t.table_name
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
-- from src/glue/partitions.sql
CREATE OR REPLACE FUNCTION glue._insert_partition(t glue.tables, vals text[], location text, parameters jsonb)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
BEGIN
    -- anyone may call this: trust only the catalog's row, and the caller's rights in it
    SELECT * INTO t FROM glue.tables x WHERE x.table_id = t.table_id FOR KEY SHARE;
    IF NOT FOUND OR NOT pg_has_role(kinesis_glue.caller(), t.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of the owner of the table to create its partitions'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM glue._check_values(t, vals);
    PERFORM glue._check_length('location', location, 2056);
    PERFORM glue._check_map('parameters', parameters);
    INSERT INTO glue.partitions (table_id, partition_values, location, parameters)
    VALUES (t.table_id, vals, nullif(location, ''), parameters);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'AlreadyExistsException: partition % of table "%" already exists', vals, t.table_name
        USING ERRCODE = 'duplicate_object';
END
$$;
-- from src/glue/partitions.sql
CREATE OR REPLACE FUNCTION glue.create_partition(database_name text, table_name text, "values" text[],
        location text DEFAULT NULL, parameters jsonb DEFAULT '{}')
    RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
    SELECT glue._insert_partition(glue._partition_table($1, $2), $3, $4, $5)
$$;
-- from src/glue/partitions.sql
CREATE OR REPLACE FUNCTION glue.batch_create_partition(database_name text, table_name text, partitions jsonb)
    RETURNS TABLE (partition_values text[], error_code text, error_message text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._partition_table(database_name, table_name);
    e jsonb;
    i integer := 0;
BEGIN
    IF partitions IS NULL OR jsonb_typeof(partitions) <> 'array' OR jsonb_array_length(partitions) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'InvalidInputException: partitions must be a JSON array of 1 to 100 partitions'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example [{"values": ["2024", "01"], "location": "/data/2024/01"}].';
    END IF;
    FOR e IN SELECT x.value FROM jsonb_array_elements(partitions) WITH ORDINALITY x ORDER BY x.ordinality LOOP
        i := i + 1;
        partition_values := NULL;
        BEGIN
            IF jsonb_typeof(e) <> 'object' OR jsonb_typeof(e -> 'values') IS DISTINCT FROM 'array' THEN
                RAISE EXCEPTION 'InvalidInputException: entry % is not an object with a "values" array', i
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF jsonb_typeof(coalesce(e -> 'location', '""')) NOT IN ('string', 'null') THEN
                RAISE EXCEPTION 'InvalidInputException: the location of entry % must be a string', i
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF EXISTS (SELECT 1 FROM jsonb_array_elements(e -> 'values') v WHERE jsonb_typeof(v) <> 'string') THEN
                RAISE EXCEPTION 'InvalidInputException: the values of entry % must be strings', i
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            partition_values := ARRAY(SELECT jsonb_array_elements_text(e -> 'values'));
            PERFORM glue._insert_partition(t, partition_values, e ->> 'location', coalesce(e -> 'parameters', '{}'));
        EXCEPTION WHEN invalid_parameter_value OR duplicate_object THEN
            error_code := split_part(SQLERRM, ':', 1);
            error_message := substr(SQLERRM, length(error_code) + 3);
            RETURN NEXT;
        END;
    END LOOP;
END
$$;
-- from src/glue/partitions.sql
CREATE OR REPLACE FUNCTION glue.update_partition(database_name text, table_name text, "values" text[],
        new_values text[] DEFAULT NULL, location text DEFAULT NULL, parameters jsonb DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._partition_table(database_name, table_name);
    p glue.partitions := glue._partition(t, "values");
BEGIN
    IF new_values IS NOT NULL THEN
        PERFORM glue._check_values(t, new_values);
    END IF;
    PERFORM glue._check_length('location', location, 2056);
    IF parameters IS NOT NULL THEN
        PERFORM glue._check_map('parameters', parameters);
    END IF;
    UPDATE glue.partitions x SET partition_values = coalesce(new_values, x.partition_values),
           location = glue._updated(update_partition.location, x.location),
           parameters = coalesce(update_partition.parameters, x.parameters),
           last_update_time = clock_timestamp()
     WHERE x.partition_id = p.partition_id;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'AlreadyExistsException: partition % of table "%" already exists', new_values, t.table_name
        USING ERRCODE = 'duplicate_object';
END
$$;
-- from src/glue/partitions.sql
CREATE OR REPLACE FUNCTION glue.delete_partition(database_name text, table_name text, "values" text[])
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._partition_table(database_name, table_name);
    p glue.partitions := glue._partition(t, "values");
BEGIN
    DELETE FROM glue.partitions x WHERE x.partition_id = p.partition_id;
END
$$;
-- from src/glue/partitions.sql
CREATE OR REPLACE FUNCTION glue.batch_delete_partition(database_name text, table_name text, partitions_to_delete jsonb)
    RETURNS TABLE (partition_values text[], error_code text, error_message text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._partition_table(database_name, table_name);
    e jsonb;
    i integer := 0;
    id bigint;
BEGIN
    IF partitions_to_delete IS NULL OR jsonb_typeof(partitions_to_delete) <> 'array'
       OR jsonb_array_length(partitions_to_delete) NOT BETWEEN 1 AND 25 THEN
        RAISE EXCEPTION 'InvalidInputException: partitions_to_delete must be a JSON array of 1 to 25 partitions'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example [{"values": ["2024", "01"]}].';
    END IF;
    FOR e IN SELECT x.value FROM jsonb_array_elements(partitions_to_delete) WITH ORDINALITY x ORDER BY x.ordinality LOOP
        i := i + 1;
        partition_values := NULL;
        BEGIN
            IF jsonb_typeof(e) <> 'object' OR jsonb_typeof(e -> 'values') IS DISTINCT FROM 'array'
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(e -> 'values') = 'array'
                                                                  THEN e -> 'values' ELSE '[]' END) v
                           WHERE jsonb_typeof(v) <> 'string') THEN
                RAISE EXCEPTION 'InvalidInputException: entry % is not an object with a "values" array of strings', i
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            partition_values := ARRAY(SELECT jsonb_array_elements_text(e -> 'values'));
            id := (glue._partition(t, partition_values)).partition_id;
            DELETE FROM glue.partitions x WHERE x.partition_id = id;
        EXCEPTION WHEN invalid_parameter_value OR undefined_object THEN
            error_code := split_part(SQLERRM, ':', 1);
            error_message := substr(SQLERRM, length(error_code) + 3);
            RETURN NEXT;
        END;
    END LOOP;
END
$$;
-- from src/glue/relations.sql
CREATE OR REPLACE FUNCTION glue._is_our_view(oid regclass, table_id integer) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT EXISTS (SELECT 1 FROM glue.table_relations r WHERE r.table_id = $2 AND r.relation = $1::oid)
$$;
-- from src/glue/relations.sql
CREATE OR REPLACE FUNCTION glue._drop_view(rel text, table_id integer) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    oid regclass := to_regclass(format('glue_tables.%I', rel));
BEGIN
    IF oid IS NULL THEN
        RETURN;
    END IF;
    IF NOT glue._is_our_view(oid, table_id) THEN
        RETURN;                                         -- not ours: never dropped
    END IF;
    EXECUTE format('DROP VIEW glue_tables.%I', rel);
    DELETE FROM glue.table_relations r WHERE r.table_id = _drop_view.table_id;
END
$$;
-- from src/glue/relations.sql
CREATE OR REPLACE FUNCTION glue._sync_relation(table_id integer) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables;
    db text;
    rel text;
    kind text;
    defs text;
    names text[];
    keys text[];
    src text;
    target text;
    parts text[];
    existing regclass;
BEGIN
    SELECT * INTO t FROM glue.tables x WHERE x.table_id = _sync_relation.table_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT d.database_name INTO db FROM glue.databases d WHERE d.database_id = t.database_id;
    rel := glue._relation_name(db, t.table_name);
    existing := to_regclass(format('glue_tables.%I', rel));
    IF existing IS NOT NULL AND NOT glue._is_our_view(existing, t.table_id) THEN
        RAISE WARNING 'catalog table "%"."%" has no relation: glue_tables.% belongs to something else',
                db, t.table_name, quote_ident(rel)
            USING HINT = 'Two catalog tables whose names join to the same relation name cannot both be queryable; rename one.';
        RETURN NULL;
    END IF;

    kind := t.parameters ->> 'classification';
    SELECT string_agg(format('%I %s', c ->> 'name', glue.pg_type_for(c ->> 'type')), ', ' ORDER BY o),
           array_agg(c ->> 'name' ORDER BY o) FILTER (WHERE NOT k),
           array_agg(c ->> 'name' ORDER BY o) FILTER (WHERE k)
      INTO defs, names, keys
      FROM (SELECT c, o, false AS k FROM jsonb_array_elements(t.columns) WITH ORDINALITY AS a(c, o)
            UNION ALL
            SELECT c, o + 100000, true FROM jsonb_array_elements(t.partition_keys) WITH ORDINALITY AS b(c, o)) x;
    IF defs IS NULL OR t.location IS NULL THEN
        RETURN glue._no_relation(rel, t.table_id);
    END IF;

    IF t.location ~ '^/' AND kind IN ('csv', 'json') THEN
        IF coalesce(t.parameters ->> 'skip.header.line.count', '0') NOT IN ('0', '1') OR
           length(coalesce(t.parameters ->> 'delimiter', ',')) <> 1 THEN
            RAISE EXCEPTION 'InvalidInputException: skip.header.line.count must be 0 or 1, and delimiter one character'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        src := format('SELECT * FROM glue.read_files(%L, %L, %L::text[], %L::text[], %L::boolean, %L) AS f(%s)',
                      t.location, kind, coalesce(names, '{}'), coalesce(keys, '{}'),
                      coalesce(t.parameters ->> 'skip.header.line.count', '0') = '1',
                      coalesce(t.parameters ->> 'delimiter', ','), defs);
    ELSIF t.location ~ '^kinesis://' AND kind = 'json' AND keys IS NULL THEN
        SELECT s.record_table::text INTO target FROM kinesis.streams s WHERE s.stream_name = substr(t.location, 11);
        IF target IS NULL THEN
            RETURN glue._no_relation(rel, t.table_id);
        END IF;
        src := format('SELECT x.* FROM %s r, '
                      'LATERAL jsonb_to_record(firehose._json_or_null(r.data)) AS x(%s) '
                      'WHERE jsonb_typeof(firehose._json_or_null(r.data)) = %L', target, defs, 'object');
    ELSIF t.location ~ '^postgresql://[^/]+/[^/]+$' AND keys IS NULL THEN
        parts := string_to_array(substr(t.location, 14), '/');
        IF to_regclass(format('%I.%I', parts[1], parts[2])) IS NULL THEN
            RETURN glue._no_relation(rel, t.table_id);
        END IF;
        -- each catalog column from the source column of that name, or whose
        -- name folds to it (crawlers fold names to [a-z0-9_]), else NULL
        src := format('SELECT %s FROM %I.%I',
                      (SELECT string_agg(format('%s::%s AS %I',
                                                coalesce(quote_ident(src_col.attname), 'NULL'),
                                                glue.pg_type_for(c ->> 'type'), c ->> 'name'), ', ' ORDER BY o)
                         FROM jsonb_array_elements(t.columns) WITH ORDINALITY AS a(c, o)
                         LEFT JOIN LATERAL (
                              SELECT at.attname FROM pg_attribute at
                               WHERE at.attrelid = to_regclass(format('%I.%I', parts[1], parts[2]))
                                 AND at.attnum > 0 AND NOT at.attisdropped
                                 AND (at.attname = c ->> 'name'
                                      OR regexp_replace(lower(at.attname), '[^a-z0-9_]', '_', 'g') = c ->> 'name')
                               ORDER BY at.attname = c ->> 'name' DESC, at.attnum LIMIT 1) src_col ON true),
                      parts[1], parts[2]);
    ELSE
        RETURN glue._no_relation(rel, t.table_id);
    END IF;
    BEGIN
        IF existing IS NULL THEN
            EXECUTE format('CREATE VIEW glue_tables.%I AS %s', rel, src);
        ELSE
            -- replaced in place when the columns allow it: grants and dependent views stay
            BEGIN
                EXECUTE format('CREATE OR REPLACE VIEW glue_tables.%I AS %s', rel, src);
            EXCEPTION WHEN invalid_table_definition OR datatype_mismatch OR feature_not_supported THEN
                EXECUTE format('DROP VIEW glue_tables.%I', rel);
                EXECUTE format('CREATE VIEW glue_tables.%I AS %s', rel, src);
            END;
        END IF;
        -- the table's owner owns the view: it reads with that role's rights, and that role GRANTs it
        EXECUTE format('ALTER VIEW glue_tables.%I OWNER TO %s', rel, t.owner);
        INSERT INTO glue.table_relations AS r (table_id, relation)
        VALUES (t.table_id, format('glue_tables.%I', rel)::regclass)
        ON CONFLICT ON CONSTRAINT table_relations_pkey DO UPDATE SET relation = excluded.relation;
    EXCEPTION WHEN OTHERS THEN
        -- the catalog change stands; only the relation is missing or stale
        RAISE WARNING 'catalog table "%"."%" has no up-to-date relation: %', db, t.table_name, SQLERRM
            USING HINT = 'Check the location, the columns and views that depend on the relation, then update the table again.';
        RETURN NULL;
    END;
    RETURN 'glue_tables.' || quote_ident(rel);
END
$$;
-- from src/glue/relations.sql
CREATE OR REPLACE FUNCTION glue.table_relation(database_name text, table_name text) RETURNS regclass
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT c.oid::regclass
      FROM glue.tables t JOIN glue.databases d USING (database_id)
      JOIN glue.table_relations r USING (table_id) JOIN pg_class c ON c.oid = r.relation
     WHERE d.database_name = lower($1) AND t.table_name = lower($2)
$$;
-- from src/glue/cron.sql
CREATE OR REPLACE FUNCTION glue._cron_unsupported(schedule text, part text, v text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM glue._invalid(format('schedule "%s": the %s part "%s" uses L, W or #, which pg_cron cannot express',
                                 schedule, part, v),
                          'Use numbers, ranges (a-b), lists (a,b), steps (*/n, a/n) and names (JAN-DEC, SUN-SAT).');
END
$$;
-- from src/glue/cron.sql
CREATE OR REPLACE FUNCTION glue._cron_field(schedule text, part text, v text, lo integer, hi integer,
        names text[] DEFAULT NULL, first_named integer DEFAULT 0, shift integer DEFAULT 0, any_ok boolean DEFAULT false)
    RETURNS text LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    item text;
    m text[];
    out text[] := '{}';
    a integer;
    b integer;
    bounds text[];
BEGIN
    FOREACH item IN ARRAY string_to_array(v, ',') LOOP
        m := regexp_match(upper(item), '^(\*|\?|[0-9A-Z]+(?:-[0-9A-Z]+)?)(?:/([0-9]+))?$');
        IF m IS NULL AND item ~ '[LW#]' THEN
            PERFORM glue._cron_unsupported(schedule, part, v);
        ELSIF m IS NULL OR (m[1] = '?' AND (NOT any_ok OR m[2] IS NOT NULL)) THEN
            PERFORM glue._invalid(format('schedule "%s": the %s part "%s" is not a list of *, a, a-b, each with an optional /step',
                                         schedule, part, v),
                                  'For example cron(0/15 * * * ? *) or */15 * * * *.');
        END IF;
        IF m[1] IN ('*', '?') THEN
            out := out || ('*' || coalesce('/' || m[2], ''));
            CONTINUE;
        END IF;
        bounds := string_to_array(m[1], '-');
        FOR i IN 1 .. cardinality(bounds) LOOP
            IF bounds[i] ~ '^[0-9]{1,4}$' THEN
                bounds[i] := (bounds[i]::integer + shift)::text;
            ELSIF names IS NOT NULL AND array_position(names, bounds[i]) IS NOT NULL THEN
                bounds[i] := (array_position(names, bounds[i]) - 1 + first_named)::text;
            ELSIF bounds[i] ~ '[LW#]' THEN
                PERFORM glue._cron_unsupported(schedule, part, v);
            ELSE
                PERFORM glue._invalid(format('schedule "%s": the %s part "%s" has "%s", which is neither a number nor a name',
                                             schedule, part, v, bounds[i]));
            END IF;
            IF bounds[i]::integer NOT BETWEEN lo AND hi THEN
                PERFORM glue._invalid(format('schedule "%s": the %s part "%s" is out of range', schedule, part, v),
                                      format('The %s part takes %s to %s.', part, lo - shift, hi - shift));
            END IF;
        END LOOP;
        a := bounds[1]::integer;
        b := coalesce(bounds[2]::integer, CASE WHEN m[2] IS NOT NULL THEN hi END, a);
        IF b < a THEN
            PERFORM glue._invalid(format('schedule "%s": the %s part "%s" has a range that ends before it starts',
                                         schedule, part, v));
        END IF;
        IF m[2] IS NOT NULL AND m[2]::integer NOT BETWEEN 1 AND hi - lo + 1 THEN
            PERFORM glue._invalid(format('schedule "%s": the %s part "%s" has a step out of range', schedule, part, v));
        END IF;
        out := out || (a::text || CASE WHEN b <> a THEN '-' || b ELSE '' END || coalesce('/' || m[2], ''));
    END LOOP;
    IF cardinality(out) = 0 THEN
        PERFORM glue._invalid(format('schedule "%s": the %s part is empty', schedule, part));
    END IF;
    RETURN array_to_string(out, ',');
END
$$;
-- from src/glue/cron.sql
CREATE OR REPLACE FUNCTION glue._cron_expression(schedule text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f text[];
    glue_form boolean := schedule ~* '^\s*cron\(.*\)\s*$';
    months text[] := '{JAN,FEB,MAR,APR,MAY,JUN,JUL,AUG,SEP,OCT,NOV,DEC}';
    days text[] := '{SUN,MON,TUE,WED,THU,FRI,SAT}';
BEGIN
    IF schedule IS NULL OR length(schedule) > 256 OR schedule ~ '[[:cntrl:]]' THEN
        PERFORM glue._invalid(format('schedule %s is not a cron expression of at most 256 printable characters',
                                     coalesce(quote_literal(schedule), 'NULL')));
    END IF;
    f := regexp_split_to_array(btrim(CASE WHEN glue_form THEN substring(schedule FROM '\((.*)\)') ELSE schedule END), ' +');
    IF glue_form THEN
        IF cardinality(f) <> 6 THEN
            PERFORM glue._invalid(format('schedule "%s" is not cron(Minutes Hours Day-of-month Month Day-of-week Year)', schedule),
                                  'For example cron(15 12 * * ? *) runs daily at 12:15, cron(0/15 * * * ? *) every 15 minutes.');
        END IF;
        IF f[6] NOT IN ('*', '?') THEN
            PERFORM glue._invalid(format('schedule "%s": the year part "%s" is not *; pg_cron cannot express years', schedule, f[6]),
                                  'Use * as the year.');
        END IF;
        RETURN array_to_string(ARRAY[
            glue._cron_field(schedule, 'minutes', f[1], 0, 59),
            glue._cron_field(schedule, 'hours', f[2], 0, 23),
            glue._cron_field(schedule, 'day-of-month', f[3], 1, 31, any_ok => true),
            glue._cron_field(schedule, 'month', f[4], 1, 12, months, 1),
            glue._cron_field(schedule, 'day-of-week', f[5], 0, 6, days, 0, -1, true)], ' ');
    END IF;
    IF cardinality(f) <> 5 THEN
        PERFORM glue._invalid(format('schedule "%s" is neither cron(Minutes Hours Day-of-month Month Day-of-week Year) '
                                     'nor five cron fields', schedule),
                              'For example cron(0/15 * * * ? *), or */15 * * * *.');
    END IF;
    RETURN array_to_string(ARRAY[
        glue._cron_field(schedule, 'minute', f[1], 0, 59),
        glue._cron_field(schedule, 'hour', f[2], 0, 23),
        glue._cron_field(schedule, 'day-of-month', f[3], 1, 31),
        glue._cron_field(schedule, 'month', f[4], 1, 12, months, 1),
        glue._cron_field(schedule, 'day-of-week', f[5], 0, 7, days, 0)], ' ');
END
$$;
-- from src/glue/crawlers.sql
CREATE OR REPLACE FUNCTION glue._crawler(name text, must_own boolean, lock boolean DEFAULT false) RETURNS glue.crawlers
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    c glue.crawlers;
BEGIN
    SELECT * INTO c FROM glue.crawlers x WHERE x.crawler_name = name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: crawler "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List them with glue.list_crawlers().';
    END IF;
    IF must_own AND NOT pg_has_role(kinesis_glue.caller(), c.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to change crawler "%"', c.owner, name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF lock THEN
        -- NO KEY UPDATE: a running crawl holds KEY SHARE on the row (its
        -- crawls row references it), and must not block start or stop
        SELECT * INTO c FROM glue.crawlers x WHERE x.crawler_id = c.crawler_id FOR NO KEY UPDATE;
        IF NOT FOUND THEN                               -- deleted meanwhile
            RETURN glue._crawler(name, must_own, lock);
        END IF;
    END IF;
    RETURN c;
END
$$;
-- from src/glue/crawlers.sql
CREATE OR REPLACE FUNCTION glue._check_crawler(c glue.crawlers) RETURNS glue.crawlers
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d glue.databases := glue._database(c.database_name, false);
    t jsonb;
    k text;
    n integer := 0;
BEGIN
    c.database_name := d.database_name;
    IF c.schedule IS NOT NULL THEN
        PERFORM glue._cron_expression(c.schedule);     -- the strict parser (cron.sql)
    END IF;
    IF NOT pg_has_role(c.owner, d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: crawler owner % may not create tables in database "%"', c.owner, d.database_name
            USING ERRCODE = 'insufficient_privilege', HINT = format('Tables of database "%s" are created by members of role %s.', d.database_name, d.owner);
    END IF;
    IF c.targets IS NULL OR jsonb_typeof(c.targets) <> 'object'
       OR EXISTS (SELECT 1 FROM jsonb_object_keys(c.targets) x WHERE x NOT IN ('directory_targets', 'table_targets', 'kinesis_targets'))
       OR EXISTS (SELECT 1 FROM jsonb_each(c.targets) x WHERE jsonb_typeof(x.value) <> 'array') THEN
        PERFORM glue._invalid('targets must be a JSON object of directory_targets, table_targets and kinesis_targets arrays',
                              'For example {"directory_targets": [{"path": "/data/sales", "exclusions": ["**/tmp/**"]}]}.');
    END IF;
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'directory_targets', '[]')) x LOOP
        n := n + 1;
        IF jsonb_typeof(t) <> 'object' OR jsonb_typeof(t -> 'path') IS DISTINCT FROM 'string'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(t) x WHERE x NOT IN ('path', 'exclusions', 'sample_files'))
           OR jsonb_typeof(coalesce(t -> 'exclusions', '[]')) <> 'array'
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(t -> 'exclusions', '[]')) e
                       WHERE jsonb_typeof(e) <> 'string' OR length(e #>> '{}') NOT BETWEEN 1 AND 1024)
           OR (t ? 'sample_files' AND (jsonb_typeof(t -> 'sample_files') <> 'number'
                                       OR (t ->> 'sample_files')::numeric NOT BETWEEN 1 AND 249)) THEN
            PERFORM glue._invalid('a directory target is {"path": "/absolute/path", "exclusions": ["glob", ...], "sample_files": 1-249}');
        END IF;
        k := t ->> 'path';
        IF k !~ '^/' OR k ~ '(^|/)\.\.?(/|$)' OR k ~ '//' OR length(k) > 1024 THEN
            PERFORM glue._invalid(format('path "%s" must be an absolute path without "." or ".." components', k));
        END IF;
    END LOOP;
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'table_targets', '[]')) x LOOP
        n := n + 1;
        IF jsonb_typeof(t) <> 'object' OR jsonb_typeof(t -> 'schema') IS DISTINCT FROM 'string'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(t) x WHERE x NOT IN ('schema', 'tables', 'exclusions'))
           OR jsonb_typeof(coalesce(t -> 'tables', '[]')) <> 'array'
           OR jsonb_typeof(coalesce(t -> 'exclusions', '[]')) <> 'array'
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(t -> 'tables', '[]') || coalesce(t -> 'exclusions', '[]')) e
                       WHERE jsonb_typeof(e) <> 'string') THEN
            PERFORM glue._invalid('a table target is {"schema": "name or LIKE pattern", "tables": ["LIKE pattern", ...], "exclusions": ["LIKE pattern", ...]}');
        END IF;
    END LOOP;
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'kinesis_targets', '[]')) x LOOP
        n := n + 1;
        IF jsonb_typeof(t) <> 'object' OR jsonb_typeof(t -> 'stream_name') IS DISTINCT FROM 'string'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(t) x WHERE x NOT IN ('stream_name')) THEN
            PERFORM glue._invalid('a kinesis target is {"stream_name": "name"}');
        END IF;
    END LOOP;
    IF n = 0 THEN
        PERFORM glue._invalid('a crawler needs at least one target');
    END IF;
    IF c.table_prefix IS NULL OR c.table_prefix !~ '^[A-Za-z0-9_]{0,128}$' THEN
        PERFORM glue._invalid('table_prefix must be up to 128 letters, digits and underscores');
    END IF;
    c.table_prefix := lower(c.table_prefix);
    PERFORM glue._check_length('description', c.description, 2048);
    IF c.recrawl_behavior = 'CRAWL_NEW_FOLDERS_ONLY' AND (c.update_behavior <> 'LOG' OR c.delete_behavior <> 'LOG') THEN
        PERFORM glue._invalid('CRAWL_NEW_FOLDERS_ONLY needs update_behavior and delete_behavior LOG',
                              'As in Glue, an incremental crawl only adds; set schema_change_policy to {"update_behavior": "LOG", "delete_behavior": "LOG"}.');
    END IF;
    IF jsonb_typeof(c.configuration) IS DISTINCT FROM 'object' THEN
        PERFORM glue._invalid('configuration must be a JSON object');
    END IF;
    SELECT x.key INTO k FROM jsonb_each(c.configuration) x
     WHERE NOT (x.key IN ('sample_bytes', 'sample_rows', 'stream_sample_records', 'table_level', 'max_files')
                AND jsonb_typeof(x.value) = 'number' AND (x.value #>> '{}')::numeric = trunc((x.value #>> '{}')::numeric)
                AND (x.value #>> '{}')::numeric BETWEEN CASE x.key WHEN 'table_level' THEN 0 ELSE 1 END
                                                    AND CASE x.key WHEN 'sample_bytes' THEN 16777216 WHEN 'sample_rows' THEN 100000
                                                              WHEN 'stream_sample_records' THEN 10000 WHEN 'table_level' THEN 16
                                                              ELSE 1000000 END)
       AND NOT (x.key = 'csv_header' AND x.value #>> '{}' IN ('UNKNOWN', 'PRESENT', 'ABSENT'))
       AND NOT (x.key = 'combine_compatible_schemas' AND jsonb_typeof(x.value) = 'boolean')
     LIMIT 1;
    IF k IS NOT NULL THEN
        PERFORM glue._invalid(format('configuration setting "%s" is not recognized or out of range', k),
                              'Settings: sample_bytes (1-16777216), sample_rows (1-100000), stream_sample_records (1-10000), '
                              'table_level (0-16), max_files (1-1000000), csv_header (UNKNOWN, PRESENT, ABSENT), '
                              'combine_compatible_schemas (true or false).');
    END IF;
    RETURN c;
END
$$;
-- from src/glue/crawlers.sql
CREATE OR REPLACE FUNCTION glue._set_schedule(c glue.crawlers, had_schedule boolean) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF c.schedule IS NULL AND NOT had_schedule THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF c.schedule IS NULL THEN
            RETURN;                                     -- nothing left to remove
        END IF;
        RAISE EXCEPTION 'InvalidInputException: crawler schedules need the pg_cron extension in this database'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, '
                         'run CREATE EXTENSION pg_cron, and grant USAGE ON SCHEMA cron to the crawler''s owner.';
    END IF;
    PERFORM glue._cron_job('glue crawler: ' || c.crawler_name, c.schedule,
                           format('SELECT glue.start_crawler(%L)', c.crawler_name), c.owner, 'crawler');
END
$$;
REVOKE ALL ON FUNCTION glue._set_schedule(glue.crawlers, boolean) FROM PUBLIC;
-- from src/glue/crawlers.sql
CREATE OR REPLACE FUNCTION glue.create_crawler(name text, database_name text, targets jsonb, schedule text DEFAULT NULL,
        table_prefix text DEFAULT '', schema_change_policy jsonb DEFAULT NULL,
        recrawl_policy text DEFAULT 'CRAWL_EVERYTHING', configuration jsonb DEFAULT '{}',
        description text DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    c glue.crawlers;
BEGIN
    c.crawler_name := glue._crawler_name(name);
    c.database_name := database_name;
    c.owner := kinesis_glue.caller()::regrole;
    c.targets := targets;
    c.schedule := nullif(btrim(schedule), '');
    c.table_prefix := table_prefix;
    c.description := nullif(description, '');
    c.configuration := configuration;
    c := glue._apply_policy(c, coalesce(schema_change_policy, '{}'), coalesce(recrawl_policy, 'CRAWL_EVERYTHING'));
    c := glue._check_crawler(c);
    PERFORM glue._check_file_rights(c);
    BEGIN
        INSERT INTO glue.crawlers (crawler_name, database_name, owner, description, targets, schedule, table_prefix,
                                   update_behavior, delete_behavior, recrawl_behavior, configuration)
        VALUES (c.crawler_name, c.database_name, c.owner, c.description, c.targets, c.schedule, c.table_prefix,
                c.update_behavior, c.delete_behavior, c.recrawl_behavior, c.configuration)
        RETURNING * INTO c;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'AlreadyExistsException: crawler "%" already exists', c.crawler_name
            USING ERRCODE = 'duplicate_object';
    END;
    PERFORM glue._set_schedule(c, false);
END
$$;
-- from src/glue/crawlers.sql
CREATE OR REPLACE FUNCTION glue.update_crawler(name text, database_name text DEFAULT NULL, targets jsonb DEFAULT NULL,
        schedule text DEFAULT NULL, table_prefix text DEFAULT NULL, schema_change_policy jsonb DEFAULT NULL,
        recrawl_policy text DEFAULT NULL, configuration jsonb DEFAULT NULL, description text DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    c glue.crawlers := glue._crawler(name, true, true);
    had_schedule boolean := c.schedule IS NOT NULL;
    old_schedule text := c.schedule;
BEGIN
    IF glue._crawler_state(c.crawler_id) <> 'READY' THEN
        RAISE EXCEPTION 'CrawlerRunningException: crawler "%" is running', c.crawler_name
            USING ERRCODE = 'object_in_use', HINT = 'Wait for the crawl to end, or stop it with glue.stop_crawler().';
    END IF;
    c.database_name := coalesce(update_crawler.database_name, c.database_name);
    c.targets := coalesce(update_crawler.targets, c.targets);
    c.schedule := CASE WHEN schedule IS NULL THEN c.schedule ELSE nullif(btrim(schedule), '') END;
    c.table_prefix := coalesce(update_crawler.table_prefix, c.table_prefix);
    c.configuration := coalesce(update_crawler.configuration, c.configuration);
    c.description := glue._updated(description, c.description);
    c := glue._apply_policy(c, schema_change_policy, recrawl_policy);
    c := glue._check_crawler(c);
    PERFORM glue._check_file_rights(c);
    UPDATE glue.crawlers x SET database_name = c.database_name, targets = c.targets, schedule = c.schedule,
           table_prefix = c.table_prefix, configuration = c.configuration, description = c.description,
           update_behavior = c.update_behavior, delete_behavior = c.delete_behavior,
           recrawl_behavior = c.recrawl_behavior, version = x.version + 1, last_updated = clock_timestamp()
     WHERE x.crawler_id = c.crawler_id;
    IF c.schedule IS DISTINCT FROM old_schedule THEN
        PERFORM glue._set_schedule(c, had_schedule);
    END IF;
END
$$;
-- from src/glue/crawlers.sql
CREATE OR REPLACE FUNCTION glue.delete_crawler(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    c glue.crawlers := glue._crawler(name, true, true);
    had_schedule boolean := c.schedule IS NOT NULL;
BEGIN
    IF glue._crawler_state(c.crawler_id) <> 'READY' THEN
        RAISE EXCEPTION 'CrawlerRunningException: crawler "%" is running', c.crawler_name
            USING ERRCODE = 'object_in_use', HINT = 'Stop it with glue.stop_crawler() and wait until it is READY.';
    END IF;
    c.schedule := NULL;
    PERFORM glue._set_schedule(c, had_schedule);
    DELETE FROM glue.crawlers x WHERE x.crawler_id = c.crawler_id;
END
$$;
-- from src/glue/crawlers.sql
CREATE OR REPLACE FUNCTION glue.start_crawler(name text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    c glue.crawlers := glue._crawler(name, true, true);
    id bigint;
BEGIN
    IF glue._crawler_state(c.crawler_id) <> 'READY' THEN
        RAISE EXCEPTION 'CrawlerRunningException: crawler "%" is already running', c.crawler_name
            USING ERRCODE = 'object_in_use', HINT = 'Its progress is in glue.crawler_progress.';
    END IF;
    PERFORM glue._check_crawler(c);
    PERFORM glue._check_file_rights(c);
    INSERT INTO glue.crawls (crawler_id) VALUES (c.crawler_id) RETURNING crawl_id INTO id;
    PERFORM kinesis_glue.wake_worker();
    RETURN id;
END
$$;
-- from src/glue/crawlers.sql
CREATE OR REPLACE FUNCTION glue.stop_crawler(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    c glue.crawlers := glue._crawler(name, true, true);
    s text := glue._crawler_state(c.crawler_id);
BEGIN
    IF s = 'READY' THEN
        RAISE EXCEPTION 'CrawlerNotRunningException: crawler "%" is not running', c.crawler_name
            USING ERRCODE = 'object_in_use';
    ELSIF s = 'STOPPING' THEN
        RAISE EXCEPTION 'CrawlerStoppingException: crawler "%" is already stopping', c.crawler_name
            USING ERRCODE = 'object_in_use';
    END IF;
    UPDATE glue.crawls w SET state = 'CANCELLING' WHERE w.crawler_id = c.crawler_id AND w.state = 'RUNNING';
END
$$;
-- from src/glue/crawl.sql
CREATE OR REPLACE FUNCTION glue._crawl_step(id bigint, phase text, OUT w glue.crawls, OUT c glue.crawlers)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    SELECT * INTO w FROM glue.crawls x WHERE x.crawl_id = id FOR UPDATE;
    IF NOT FOUND OR w.state NOT IN ('RUNNING', 'CANCELLING') THEN
        w := NULL;
        RETURN;
    END IF;
    SELECT * INTO c FROM glue.crawlers x WHERE x.crawler_id = w.crawler_id;
    IF NOT pg_has_role(kinesis_glue.caller(), c.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to run crawler "%"', c.owner, c.crawler_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- the crawler's rights, checked again at each step (it writes as the extension owner)
    IF NOT pg_has_role(c.owner, (glue._database(c.database_name, false)).owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: crawler owner % may no longer create tables in database "%"', c.owner, c.database_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM glue._check_file_rights(c);
    IF w.state = 'CANCELLING' THEN
        UPDATE glue.crawls x SET state = 'CANCELLED', end_time = clock_timestamp() WHERE x.crawl_id = id;
        DELETE FROM glue.crawl_files f WHERE f.crawl_id = id;
        w := NULL;
        RETURN;
    END IF;
    UPDATE glue.crawls x SET phase = _crawl_step.phase WHERE x.crawl_id = id;
END
$$;
-- from src/glue/crawl.sql
CREATE OR REPLACE FUNCTION glue._crawl_prepare(id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    s record := glue._crawl_step(id, 'LISTING');
    c glue.crawlers;
    t jsonb;
    t2 jsonb;
    i integer := 0;
    total bigint;
BEGIN
    IF s.w IS NULL THEN
        RETURN -1;
    END IF;
    c := s.c;
    PERFORM glue._check_file_rights(c);
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'directory_targets', '[]')) x LOOP
        i := i + 1;
        BEGIN
            WITH l AS MATERIALIZED (
                     SELECT * FROM glue._list_files(t ->> 'path',
                              ARRAY(SELECT jsonb_array_elements_text(coalesce(t -> 'exclusions', '[]'))),
                              coalesce((c.configuration ->> 'max_files')::integer, 1000000))
                          WITH ORDINALITY AS f(path, folder, size, mtime, error, ord)),
                 base AS (SELECT coalesce(max(x.file_no), 0) AS n FROM glue.crawl_files x WHERE x.crawl_id = id),
                 ins AS (INSERT INTO glue.crawl_files (crawl_id, file_no, target_no, path, folder, size, mtime)
                         SELECT id, base.n + l.ord, i, l.path,
                                CASE WHEN l.folder = '' THEN '{}'::text[] ELSE string_to_array(l.folder, '/') END,
                                l.size, l.mtime
                           FROM l, base WHERE l.error IS NULL)
            SELECT jsonb_agg(jsonb_build_object('event', 'unreadable', 'path', l.path, 'reason', l.error))
              INTO t2 FROM l WHERE l.error IS NOT NULL;
            IF t2 IS NOT NULL THEN
                UPDATE glue.crawls x SET unreadable_files = x.unreadable_files + jsonb_array_length(t2) WHERE x.crawl_id = id;
                PERFORM glue._crawl_log(id, e) FROM jsonb_array_elements(t2) e;
            END IF;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE;
        WHEN OTHERS THEN
            PERFORM glue._crawl_log(id, jsonb_build_object('event', 'skipped', 'path', t ->> 'path', 'reason', SQLERRM));
            UPDATE glue.crawls x SET failed_targets = x.failed_targets || (t ->> 'path') WHERE x.crawl_id = id;
        END;
        -- sample_files: only the first n files of each folder are read
        IF t ? 'sample_files' THEN
            UPDATE glue.crawl_files f SET to_sample = false
              FROM (SELECT file_no, row_number() OVER (PARTITION BY folder ORDER BY path) AS k
                      FROM glue.crawl_files x WHERE x.crawl_id = id AND x.target_no = i) q
             WHERE f.crawl_id = id AND f.file_no = q.file_no AND q.k > (t ->> 'sample_files')::integer;
        END IF;
    END LOOP;
    IF c.recrawl_behavior = 'CRAWL_NEW_FOLDERS_ONLY' THEN
        UPDATE glue.crawl_files f SET known = true, to_sample = false
          FROM glue.crawler_folders k
         WHERE f.crawl_id = id AND k.crawler_id = c.crawler_id
           AND k.folder = glue._crawl_folder_path(c, f.target_no, f.folder);
    END IF;
    SELECT count(*) INTO total FROM glue.crawl_files f WHERE f.crawl_id = id AND f.to_sample;
    UPDATE glue.crawls x SET files_total = total, phase = 'SAMPLING' WHERE x.crawl_id = id;
    RETURN total;
END
$$;
-- from src/glue/crawl.sql
CREATE OR REPLACE FUNCTION glue._crawl_sample(id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    s record := glue._crawl_step(id, 'SAMPLING');
    c glue.crawlers;
    n bigint;
BEGIN
    IF s.w IS NULL THEN
        RETURN -1;
    END IF;
    c := s.c;
    UPDATE glue.crawl_files f
       SET sampled = true,
           info = glue._sample_file(f.path, coalesce((c.configuration ->> 'sample_bytes')::integer, 1048576),
                                    coalesce((c.configuration ->> 'sample_rows')::integer, 1000),
                                    coalesce(c.configuration ->> 'csv_header', 'UNKNOWN'))
     WHERE f.crawl_id = id
       AND f.file_no IN (SELECT x.file_no FROM glue.crawl_files x
                          WHERE x.crawl_id = id AND x.to_sample AND NOT x.sampled ORDER BY x.file_no LIMIT 200);
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE glue.crawls x SET files_done = x.files_done + n, files_scanned = x.files_scanned + n WHERE x.crawl_id = id;
    RETURN n;
END
$$;
-- from src/glue/crawl.sql
CREATE OR REPLACE FUNCTION glue._crawl_table_target(crawl_id bigint, c glue.crawlers, t jsonb)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r record;
    pats text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(nullif(t -> 'tables', '[]'), '["%"]')));
    excl text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(t -> 'exclusions', '[]')));
BEGIN
    FOR r IN SELECT n.nspname, cl.relname, cl.oid,
                    (SELECT jsonb_agg(jsonb_build_object('name', glue._crawl_name(a.attname),
                                                         'type', glue._glue_type_for(format_type(a.atttypid, a.atttypmod)))
                                      ORDER BY a.attnum)
                       FROM pg_attribute a WHERE a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped) AS cols
               FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace
              WHERE cl.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname LIKE t ->> 'schema'
                AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                AND cl.relname LIKE ANY (pats) AND NOT cl.relname LIKE ANY (excl)
                AND has_table_privilege(c.owner, cl.oid, 'SELECT')
              ORDER BY n.nspname, cl.relname LOOP
        IF r.cols IS NULL OR (SELECT count(DISTINCT e ->> 'name') FROM jsonb_array_elements(r.cols) e) <> jsonb_array_length(r.cols) THEN
            PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'path', format('%I.%I', r.nspname, r.relname),
                        'reason', 'it has no columns, or column names that fold to the same name'));
            CONTINUE;
        END IF;
        PERFORM glue._crawl_write_table(crawl_id, c, c.table_prefix || glue._crawl_name(r.nspname || '_' || r.relname), r.cols,
                    '[]', format('postgresql://%s/%s', r.nspname, r.relname), 'postgresql',
                    jsonb_build_object('typeOfData', 'table', 'connectionName', current_database(),
                                       'sourceSchema', r.nspname, 'sourceTable', r.relname,
                                       'recordCount', greatest((SELECT reltuples FROM pg_class WHERE oid = r.oid), 0)::bigint::text),
                    '[]', false);
    END LOOP;
END
$$;
-- from src/glue/crawl.sql
CREATE OR REPLACE FUNCTION glue._crawl_stream_target(crawl_id bigint, c glue.crawlers, t jsonb)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    n integer := coalesce((c.configuration ->> 'stream_sample_records')::integer, 1000);
    stream text := t ->> 'stream_name';
    records bytea[];
    info jsonb;
BEGIN
    BEGIN
        -- the crawl runs as the extension owner: the crawler's owner must be able to read the stream
        IF NOT EXISTS (SELECT 1 FROM kinesis.streams s WHERE s.stream_name = stream
                          AND has_table_privilege(c.owner, s.record_table, 'SELECT')) THEN
            RAISE EXCEPTION 'AccessDeniedException: crawler owner % may not read stream "%"', c.owner, stream
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT array_agg(r.data) INTO records
          FROM (SELECT r.data FROM kinesis.list_shards(stream) s
                 CROSS JOIN LATERAL kinesis.read_shard(stream, s.shard_id, NULL, n) r
                 LIMIT n) r;
    EXCEPTION WHEN OTHERS THEN
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'stream', stream, 'reason', SQLERRM));
        UPDATE glue.crawls x SET failed_targets = x.failed_targets || ('kinesis:' || stream) WHERE x.crawl_id = _crawl_stream_target.crawl_id;
        RETURN;
    END;
    info := glue._infer_records(coalesce(records, '{}'), n);
    UPDATE glue.crawls x SET invalid_json_records = x.invalid_json_records + (info ->> 'invalid_json')::bigint,
           bad_utf8_lines = x.bad_utf8_lines + (info ->> 'bad_utf8')::bigint
     WHERE x.crawl_id = _crawl_stream_target.crawl_id;
    IF (info ->> 'invalid_json')::bigint + (info ->> 'bad_utf8')::bigint > 0 THEN
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'malformed', 'stream', stream,
                    'invalid_json', (info ->> 'invalid_json')::bigint, 'bad_utf8', (info ->> 'bad_utf8')::bigint));
    END IF;
    IF info ->> 'classification' = 'unknown' OR jsonb_array_length(info -> 'columns') = 0 THEN
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'stream', stream,
                    'reason', 'no JSON object records to sample'));
        UPDATE glue.crawls x SET failed_targets = x.failed_targets || ('kinesis:' || stream) WHERE x.crawl_id = _crawl_stream_target.crawl_id;
        RETURN;
    END IF;
    PERFORM glue._crawl_write_table(crawl_id, c, c.table_prefix || glue._crawl_name(stream), info -> 'columns', '[]',
                'kinesis://' || stream, 'json', jsonb_build_object('typeOfData', 'kinesis', 'streamName', stream,
                                                 'recordCount', (info ->> 'records')), '[]', false);
END
$$;
-- from src/glue/crawl.sql
CREATE OR REPLACE FUNCTION glue._crawl_finish(id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    s record := glue._crawl_step(id, 'CATALOGING');
    c glue.crawlers;
    incremental boolean;
    t jsonb;
    i integer := 0;
    w glue.crawls;
    r record;
BEGIN
    IF s.w IS NULL THEN
        RETURN -1;
    END IF;
    c := s.c;
    incremental := c.recrawl_behavior = 'CRAWL_NEW_FOLDERS_ONLY';
    -- what the samples found wrong
    UPDATE glue.crawls x
       SET bad_utf8_lines = x.bad_utf8_lines + q.bad_utf8, ragged_rows = x.ragged_rows + q.ragged,
           invalid_json_records = x.invalid_json_records + q.invalid_json, unreadable_files = x.unreadable_files + q.errors
      FROM (SELECT coalesce(sum((f.info ->> 'bad_utf8')::bigint), 0) AS bad_utf8,
                   coalesce(sum((f.info ->> 'ragged')::bigint), 0) AS ragged,
                   coalesce(sum((f.info ->> 'invalid_json')::bigint), 0) AS invalid_json,
                   count(*) FILTER (WHERE f.info ? 'error') AS errors
              FROM glue.crawl_files f WHERE f.crawl_id = id AND f.sampled) q
     WHERE x.crawl_id = id;
    PERFORM glue._crawl_log(id, CASE WHEN f.info ? 'error'
                                     THEN jsonb_build_object('event', 'unreadable', 'path', f.path, 'reason', f.info ->> 'error')
                                     ELSE jsonb_build_object('event', 'malformed', 'path', f.path,
                                              'bad_utf8', (f.info ->> 'bad_utf8')::bigint, 'ragged', (f.info ->> 'ragged')::bigint,
                                              'invalid_json', (f.info ->> 'invalid_json')::bigint) END)
       FROM glue.crawl_files f
      WHERE f.crawl_id = id AND f.sampled
        AND (f.info ? 'error' OR (f.info ->> 'bad_utf8')::bigint + (f.info ->> 'ragged')::bigint + (f.info ->> 'invalid_json')::bigint > 0);
    PERFORM glue._crawl_log(id, jsonb_build_object('event', 'skipped', 'path', f.path, 'reason', 'no records could be classified'))
       FROM glue.crawl_files f
      WHERE f.crawl_id = id AND f.sampled AND NOT f.info ? 'error' AND f.info ->> 'classification' = 'unknown';

    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'directory_targets', '[]')) x LOOP
        i := i + 1;
        IF incremental THEN
            PERFORM glue._crawl_new_partitions(id, c, i);
        END IF;
        PERFORM glue._crawl_group(id, c, i, '{}');
    END LOOP;
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'table_targets', '[]')) x LOOP
        PERFORM glue._crawl_table_target(id, c, t);
    END LOOP;
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'kinesis_targets', '[]')) x LOOP
        PERFORM glue._crawl_stream_target(id, c, t);
    END LOOP;

    -- tables this crawler made before whose data is gone
    SELECT * INTO w FROM glue.crawls x WHERE x.crawl_id = id;
    FOR r IN SELECT x.table_name, x.location, x.parameters, x.owner FROM glue.tables x JOIN glue.databases d USING (database_id)
              WHERE d.database_name = c.database_name AND x.parameters ->> 'UPDATED_BY_CRAWLER' = c.crawler_name
                AND NOT w.tables_seen ? x.table_name AND NOT incremental
                AND NOT EXISTS (SELECT 1 FROM unnest(w.failed_targets) ft
                                 WHERE x.location = ft OR x.location LIKE ft || '/%'
                                    OR ft = 'kinesis:' || (x.parameters ->> 'streamName'))
              ORDER BY x.table_name LOOP
        IF NOT pg_has_role(kinesis_glue.caller(), r.owner, 'USAGE') THEN
            CONTINUE;
        ELSIF c.delete_behavior = 'DELETE_FROM_DATABASE' THEN
            PERFORM glue.delete_table(c.database_name, r.table_name);
            PERFORM glue._crawl_count(id, 'tables_deleted', 1);
            PERFORM glue._crawl_log(id, jsonb_build_object('event', 'deleted', 'table', r.table_name, 'reason', 'its data is gone'));
        ELSIF c.delete_behavior = 'DEPRECATE_IN_DATABASE' THEN
            IF NOT r.parameters ? 'DEPRECATED_BY_CRAWLER' THEN
                PERFORM glue.update_table(c.database_name, r.table_name,
                            parameters => r.parameters || jsonb_build_object('DEPRECATED_BY_CRAWLER', id::text));
                PERFORM glue._crawl_count(id, 'tables_deprecated', 1);
                PERFORM glue._crawl_log(id, jsonb_build_object('event', 'deprecated', 'table', r.table_name, 'reason', 'its data is gone'));
            END IF;
        ELSE
            PERFORM glue._crawl_log(id, jsonb_build_object('event', 'vanished', 'table', r.table_name,
                        'reason', 'its data is gone; kept (delete behavior LOG)'));
        END IF;
    END LOOP;

    INSERT INTO glue.crawler_folders (crawler_id, folder, crawl_id)
    SELECT DISTINCT c.crawler_id, glue._crawl_folder_path(c, f.target_no, f.folder), id
      FROM glue.crawl_files f WHERE f.crawl_id = id AND NOT f.known
    ON CONFLICT DO NOTHING;
    DELETE FROM glue.crawl_files f WHERE f.crawl_id = id;
    UPDATE glue.crawls x SET state = 'SUCCEEDED', phase = 'DONE', end_time = clock_timestamp() WHERE x.crawl_id = id;
    RETURN 0;
END
$$;
-- from src/video/video.sql
CREATE OR REPLACE FUNCTION kinesis_video._owns(owner regrole) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT pg_has_role(kinesis_glue.caller(), owner, 'USAGE')
$$;
-- from src/video/video.sql
CREATE OR REPLACE FUNCTION kinesis_video.update_data_retention(stream_name text, current_version integer,
        operation text, data_retention_change_in_hours integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    s kinesis_video.streams;
    new_hours bigint;
BEGIN
    IF operation IS NULL OR operation NOT IN ('INCREASE_DATA_RETENTION', 'DECREASE_DATA_RETENTION') THEN
        RAISE EXCEPTION 'InvalidArgumentException: operation must be INCREASE_DATA_RETENTION or DECREASE_DATA_RETENTION'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF data_retention_change_in_hours IS NULL OR data_retention_change_in_hours < 1 THEN
        RAISE EXCEPTION 'InvalidArgumentException: data retention change must be at least 1 hour'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    s := kinesis_video._get(update_data_retention.stream_name, true, true);
    IF current_version IS NULL OR current_version <> s.version THEN
        RAISE EXCEPTION 'VersionMismatchException: video stream "%" is at version %, not %',
                s.stream_name, s.version, coalesce(current_version::text, 'null')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Read the current version with kinesis_video.describe_stream().';
    END IF;
    new_hours := s.data_retention_in_hours::bigint
                 + CASE WHEN operation = 'INCREASE_DATA_RETENTION' THEN 1 ELSE -1 END
                   * data_retention_change_in_hours;
    IF new_hours NOT BETWEEN 0 AND 87600 THEN
        RAISE EXCEPTION 'InvalidArgumentException: the data retention would become % hours; it must be between 0 and 87600',
                new_hours
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE kinesis_video.streams
       SET data_retention_in_hours = new_hours,
           version = s.version + 1,
           trim_before = CASE WHEN operation = 'INCREASE_DATA_RETENTION'
                              THEN greatest(trim_before, kinesis_video._horizon(s)) ELSE trim_before END
     WHERE stream_id = s.stream_id;
END
$$;
-- from src/video/video_read.sql
CREATE OR REPLACE FUNCTION kinesis_video._range_sql(s kinesis_video.streams, ts_col text) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT format('SELECT DISTINCT ON (%1$I) * FROM %2$s m WHERE m.server_timestamp >= $1 '
                  'AND m.%1$I >= $2 AND ($3::timestamptz IS NULL OR m.%1$I <= $3) '
                  'ORDER BY %1$I, fragment_number DESC', ts_col, ($1).media_table)
$$;
-- from src/video/video_read.sql
CREATE OR REPLACE FUNCTION kinesis_video.get_clip(stream_name text, fragment_selector_type text,
        start_timestamp timestamptz, end_timestamp timestamptz)
    RETURNS TABLE (content_type text, payload bytea, fragment_count integer,
                   first_fragment_number bigint, last_fragment_number bigint)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams := kinesis_video._get_readable(get_clip.stream_name);
    ts_col text := kinesis_video._ts_column(fragment_selector_type, 'fragment selector type');
    sel text;
    n integer;
    bytes bigint;
BEGIN
    PERFORM kinesis_video._require_retention(s);
    IF start_timestamp IS NULL OR end_timestamp IS NULL OR end_timestamp <= start_timestamp
       OR end_timestamp - start_timestamp > interval '24 hours' THEN
        RAISE EXCEPTION 'InvalidArgumentException: a clip needs a start timestamp before its end timestamp, at most 24 hours apart'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    sel := kinesis_video._range_sql(s, ts_col);
    EXECUTE format('SELECT count(*), sum(fragment_size_in_bytes) FROM (%s) c', sel)
       INTO n, bytes USING kinesis_video._horizon(s), start_timestamp, end_timestamp;
    IF n = 0 THEN
        RAISE EXCEPTION 'ResourceNotFoundException: no fragments of video stream "%" in the requested range', s.stream_name
            USING ERRCODE = 'undefined_object';
    END IF;
    IF n > 200 OR bytes > 100 * 1024 * 1024 THEN
        RAISE EXCEPTION 'ClientLimitExceededException: the clip would have % fragments and % bytes', n, bytes
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'A clip has at most 200 fragments and 100 MB.',
                  HINT = 'Ask for a shorter time range.';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT $4, string_agg(media, ''''::bytea ORDER BY fragment_number), count(*)::integer, '
        'min(fragment_number), max(fragment_number) FROM (%s) c', sel)
        USING kinesis_video._horizon(s), start_timestamp, end_timestamp,
              coalesce(s.media_type, 'application/octet-stream');
END
$$;
-- from src/video/video_hls.sql
CREATE OR REPLACE FUNCTION kinesis_video.get_hls_playlist(stream_name text,
        playback_mode text DEFAULT 'LIVE',
        fragment_selector_type text DEFAULT 'SERVER_TIMESTAMP',
        start_timestamp timestamptz DEFAULT NULL, end_timestamp timestamptz DEFAULT NULL,
        max_media_playlist_fragment_results integer DEFAULT NULL,
        discontinuity_mode text DEFAULT NULL,
        display_fragment_timestamp text DEFAULT 'NEVER',
        container_format text DEFAULT 'FRAGMENTED_MP4',
        base_url text DEFAULT '',
        session_start timestamptz DEFAULT NULL)
    RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams := kinesis_video._get_readable(get_hls_playlist.stream_name);
    ts_col text := kinesis_video._ts_column(fragment_selector_type, 'fragment selector type');
    lim integer;
    disc text := coalesce(discontinuity_mode,
                          CASE fragment_selector_type WHEN 'SERVER_TIMESTAMP' THEN 'ALWAYS' ELSE 'NEVER' END);
    ext text;
    sel text;
    frags record;
    out text;
    target integer;
    prev_end timestamptz;
    r record;
    n integer := 0;
BEGIN
    PERFORM kinesis_video._require_retention(s);
    IF playback_mode IS NULL OR playback_mode NOT IN ('LIVE', 'LIVE_REPLAY', 'ON_DEMAND') THEN
        RAISE EXCEPTION 'InvalidArgumentException: playback mode must be LIVE, LIVE_REPLAY or ON_DEMAND'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF disc NOT IN ('ALWAYS', 'NEVER', 'ON_DISCONTINUITY') THEN
        RAISE EXCEPTION 'InvalidArgumentException: discontinuity mode must be ALWAYS, NEVER or ON_DISCONTINUITY'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF display_fragment_timestamp IS NULL OR display_fragment_timestamp NOT IN ('ALWAYS', 'NEVER') THEN
        RAISE EXCEPTION 'InvalidArgumentException: display fragment timestamp must be ALWAYS or NEVER'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ext := CASE container_format WHEN 'FRAGMENTED_MP4' THEN 'mp4' WHEN 'MPEG_TS' THEN 'ts' END;
    IF ext IS NULL THEN
        RAISE EXCEPTION 'InvalidArgumentException: container format must be FRAGMENTED_MP4 or MPEG_TS'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    lim := coalesce(max_media_playlist_fragment_results, CASE playback_mode WHEN 'LIVE' THEN 5 ELSE 1000 END);
    IF lim NOT BETWEEN 1 AND 5000 THEN
        RAISE EXCEPTION 'InvalidArgumentException: max_media_playlist_fragment_results must be between 1 and 5000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF playback_mode = 'LIVE' AND (start_timestamp IS NOT NULL OR end_timestamp IS NOT NULL) THEN
        RAISE EXCEPTION 'InvalidArgumentException: LIVE playback takes no start or end timestamp'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF playback_mode = 'LIVE_REPLAY' AND start_timestamp IS NULL THEN
        RAISE EXCEPTION 'InvalidArgumentException: LIVE_REPLAY playback needs a start timestamp'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF playback_mode = 'ON_DEMAND' AND (start_timestamp IS NULL OR end_timestamp IS NULL
        OR end_timestamp <= start_timestamp OR end_timestamp - start_timestamp > interval '24 hours') THEN
        RAISE EXCEPTION 'InvalidArgumentException: ON_DEMAND playback needs a start timestamp before its end timestamp, at most 24 hours apart'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF playback_mode = 'ON_DEMAND' AND ts_col = 'server_timestamp' AND end_timestamp > clock_timestamp() THEN
        RAISE EXCEPTION 'InvalidArgumentException: with SERVER_TIMESTAMP, an ON_DEMAND end timestamp must be in the past'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF playback_mode = 'LIVE' THEN
        -- the newest fragments by server time; late ones are never back-filled
        sel := format('SELECT * FROM (SELECT * FROM %s m WHERE m.server_timestamp >= $1 '
                      'ORDER BY m.server_timestamp DESC LIMIT $4) x ORDER BY fragment_number', s.media_table);
    ELSE
        -- with PRODUCER_TIMESTAMP, the newest fragment of a producer timestamp wins
        sel := format('SELECT * FROM (%s) x '
                      'WHERE ($5::timestamptz IS NULL OR x.%I - $2 <= clock_timestamp() - $5) '
                      'ORDER BY fragment_number LIMIT $4', kinesis_video._range_sql(s, ts_col), ts_col);
    END IF;

    EXECUTE format('SELECT count(*) AS n, max(fragment_length_in_milliseconds) AS longest, '
                   'min(media_sequence) AS first_seq FROM (%s) f', sel)
       INTO frags USING kinesis_video._horizon(s), start_timestamp, end_timestamp, lim,
                        CASE WHEN playback_mode = 'LIVE_REPLAY' THEN session_start END;
    IF frags.n = 0 THEN
        RAISE EXCEPTION 'ResourceNotFoundException: no fragments of video stream "%" to play', s.stream_name
            USING ERRCODE = 'undefined_object';
    END IF;
    target := ceil(frags.longest / 1000.0)::integer;
    out := E'#EXTM3U\n'
        || format(E'#EXT-X-VERSION:%s\n', CASE ext WHEN 'mp4' THEN 7 ELSE 3 END)
        || format(E'#EXT-X-TARGETDURATION:%s\n', target)
        || format(E'#EXT-X-MEDIA-SEQUENCE:%s\n', frags.first_seq)
        || CASE WHEN playback_mode = 'ON_DEMAND' THEN E'#EXT-X-PLAYLIST-TYPE:VOD\n' ELSE '' END;
    FOR r IN EXECUTE sel USING kinesis_video._horizon(s), start_timestamp, end_timestamp, lim,
                              CASE WHEN playback_mode = 'LIVE_REPLAY' THEN session_start END
    LOOP
        n := n + 1;
        IF disc = 'ALWAYS' OR (disc = 'ON_DISCONTINUITY' AND n > 1 AND
            abs(extract(epoch FROM (CASE ts_col WHEN 'server_timestamp' THEN r.server_timestamp
                                                ELSE r.producer_timestamp END) - prev_end)) > 0.05) THEN
            out := out || E'#EXT-X-DISCONTINUITY\n';
        END IF;
        IF display_fragment_timestamp = 'ALWAYS' THEN
            out := out || format(E'#EXT-X-PROGRAM-DATE-TIME:%s\n',
                                 to_char((CASE ts_col WHEN 'server_timestamp' THEN r.server_timestamp
                                          ELSE r.producer_timestamp END) AT TIME ZONE 'UTC',
                                         'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
        END IF;
        out := out || format(E'#EXTINF:%s,\n%s%s/%s.%s\n',
                             to_char(r.fragment_length_in_milliseconds / 1000.0, 'FM9990.000'),
                             base_url, s.stream_name, r.fragment_number, ext);
        prev_end := (CASE ts_col WHEN 'server_timestamp' THEN r.server_timestamp ELSE r.producer_timestamp END)
                    + r.fragment_length_in_milliseconds * interval '1 millisecond';
    END LOOP;
    -- a replay with an end is complete once paced past it with room to spare
    IF playback_mode = 'ON_DEMAND' OR (playback_mode = 'LIVE_REPLAY' AND end_timestamp IS NOT NULL
        AND frags.n < lim AND (session_start IS NULL OR clock_timestamp() - session_start >= end_timestamp - start_timestamp)) THEN
        out := out || E'#EXT-X-ENDLIST\n';
    END IF;
    RETURN out;
END
$$;
-- from src/video/video_processors.sql
CREATE OR REPLACE FUNCTION kinesis_video._get_processor(name text, must_own boolean, lock boolean DEFAULT false)
    RETURNS kinesis_video.stream_processors
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p kinesis_video.stream_processors;
BEGIN
    SELECT * INTO p FROM kinesis_video.stream_processors sp WHERE sp.name = _get_processor.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: stream processor "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List them with kinesis_video.list_stream_processors().';
    END IF;
    IF must_own AND NOT pg_has_role(kinesis_glue.caller(), p.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of stream processor "%"', name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF lock THEN
        SELECT * INTO p FROM kinesis_video.stream_processors WHERE processor_id = p.processor_id FOR UPDATE;
    END IF;
    RETURN p;
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
    id := kinesis_video._insert_processor(name, s.stream_id, function_name, output_data_stream, start, pos,
                                          maximum_retry_attempts);
    RETURN id;
END
$$;
-- from src/video/video_processors.sql
CREATE OR REPLACE FUNCTION kinesis_video._set_processor_status(name text, new_status text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    p kinesis_video.stream_processors := kinesis_video._get_processor(name, true, true);
BEGIN
    UPDATE kinesis_video.stream_processors
       SET status = new_status, failed_attempts = 0, next_attempt_at = NULL,
           last_update_timestamp = clock_timestamp()
     WHERE processor_id = p.processor_id;
END
$$;
-- from src/video/video_processors.sql
CREATE OR REPLACE FUNCTION kinesis_video.delete_stream_processor(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    p kinesis_video.stream_processors := kinesis_video._get_processor(name, true, true);
BEGIN
    DELETE FROM kinesis_video.stream_processors WHERE processor_id = p.processor_id;
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
    p := kinesis_video._claim_processor(id);
    IF p.processor_id IS NULL OR p.status <> 'RUNNING' OR p.next_attempt_at > clock_timestamp() THEN
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
            IF to_regprocedure(p.function_name) IS NULL THEN     -- dropped or renamed since
                RAISE EXCEPTION 'ResourceNotFoundException: function % of stream processor "%" does not exist',
                        p.function_name, p.name
                    USING ERRCODE = 'undefined_function';
            END IF;
            FOR ev IN EXECUTE format('SELECT e::jsonb FROM %s($1) AS e', to_regprocedure(p.function_name)::regproc)
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
            PERFORM kinesis_video._processor_outcome(id, 'processed', f.fragment_number, k, 0, NULL);
            attempts := 0;
            n := n + 1;
        EXCEPTION WHEN OTHERS OR query_canceled THEN     -- (query_canceled: kinesis_glue.mapping_timeout)
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            attempts := attempts + 1;
            IF p.maximum_retry_attempts >= 0 AND attempts > p.maximum_retry_attempts THEN
                -- out of retries: record the fragment and go on with the next
                PERFORM kinesis_video._processor_outcome(id, 'failed', f.fragment_number, 0, attempts, msg);
                attempts := 0;
                n := n + 1;
            ELSE
                PERFORM kinesis_video._processor_outcome(id, 'retry', f.fragment_number, 0, attempts, msg);
                RETURN n;
            END IF;
        END;
    END LOOP;
    RETURN n;
END
$$;
-- from src/video/video_processors.sql
CREATE OR REPLACE FUNCTION kinesis_video._insert_processor(name text, stream_id integer, function_name regproc,
        output_stream text, start boolean, pos bigint, maximum_retry_attempts integer) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    who regrole := kinesis_glue.caller();
    id bigint;
BEGIN
    IF name IS NULL OR name !~ '^[a-zA-Z0-9_.\-]{1,128}$' OR maximum_retry_attempts NOT BETWEEN -1 AND 10000
       OR pos IS NULL OR pos < 0 THEN
        RAISE EXCEPTION 'InvalidArgumentException: invalid stream processor settings' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM kinesis_video.streams s WHERE s.stream_id = _insert_processor.stream_id
                      AND has_table_privilege(who, s.media_table, 'SELECT'))
       OR NOT EXISTS (SELECT 1 FROM kinesis.streams s WHERE s.stream_name = output_stream
                         AND has_table_privilege(who, s.record_table, 'INSERT'))
       OR NOT has_function_privilege(who, function_name, 'EXECUTE') THEN
        RAISE EXCEPTION 'AccessDeniedException: % may not read the video stream, put to data stream "%" or execute %',
                who, output_stream, function_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO kinesis_video.stream_processors (name, stream_id, function_name, output_stream, owner, status,
                                                 last_fragment_number, maximum_retry_attempts)
         VALUES (name, stream_id, function_name::regprocedure::text, output_stream, who,  -- qualified signature
                 CASE WHEN start THEN 'RUNNING' ELSE 'STOPPED' END, pos, maximum_retry_attempts)
      RETURNING processor_id INTO id;
    RETURN id;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'ResourceInUseException: stream processor "%" already exists', name
        USING ERRCODE = 'object_in_use';
END
$$;
-- from src/video/video_processors.sql
CREATE OR REPLACE FUNCTION kinesis_video._claim_processor(id bigint) RETURNS kinesis_video.stream_processors
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    p kinesis_video.stream_processors;
BEGIN
    SELECT * INTO p FROM kinesis_video.stream_processors x WHERE x.processor_id = id FOR UPDATE SKIP LOCKED;
    IF FOUND AND NOT pg_has_role(kinesis_glue.caller(), p.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of stream processor "%"', p.name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN p;
END
$$;
-- from src/video/video_processors.sql
CREATE OR REPLACE FUNCTION kinesis_video._processor_outcome(id bigint, outcome text, fragment_number bigint, k integer,
        attempts integer, msg text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    p kinesis_video.stream_processors := kinesis_video._claim_processor(id);
BEGIN
    IF p.processor_id IS NULL OR fragment_number <= p.last_fragment_number OR k < 0 OR attempts < 0 THEN
        RAISE EXCEPTION 'invalid outcome for stream processor %', id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF outcome = 'processed' THEN
        UPDATE kinesis_video.stream_processors x
           SET last_fragment_number = fragment_number, fragments_processed = x.fragments_processed + 1,
               events_emitted = x.events_emitted + k, failed_attempts = 0, next_attempt_at = NULL
         WHERE x.processor_id = id;
    ELSIF outcome = 'failed' THEN
        INSERT INTO kinesis_video.stream_processor_failures (processor_id, fragment_number, error_message, attempts)
             VALUES (id, fragment_number, msg, attempts);
        UPDATE kinesis_video.stream_processors x
           SET last_fragment_number = fragment_number, fragments_failed = x.fragments_failed + 1,
               failed_attempts = 0, next_attempt_at = NULL, last_error = msg, last_error_at = clock_timestamp()
         WHERE x.processor_id = id;
    ELSIF outcome = 'retry' THEN
        UPDATE kinesis_video.stream_processors x
           SET failed_attempts = attempts, last_error = msg, last_error_at = clock_timestamp(),
               next_attempt_at = clock_timestamp()
                   + least(interval '1 second' * power(2, attempts - 1), interval '5 minutes')
         WHERE x.processor_id = id;
    ELSE
        RAISE EXCEPTION 'invalid outcome "%"', outcome USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
-- from src/glue/jobs.sql
CREATE OR REPLACE FUNCTION glue._job(name text, lock boolean DEFAULT false) RETURNS glue.jobs
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    j glue.jobs;
BEGIN
    IF lock THEN
        SELECT * INTO j FROM glue.jobs x WHERE x.job_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE') FOR NO KEY UPDATE;
    ELSE
        SELECT * INTO j FROM glue.jobs x WHERE x.job_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE');
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: job "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List your jobs with glue.list_jobs().';
    END IF;
    RETURN j;
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
CREATE OR REPLACE FUNCTION glue._job_run(r glue.job_runs) RETURNS glue.job_run
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).run_id, (SELECT j.job_name FROM glue.jobs j WHERE j.job_id = ($1).job_id), ($1).attempt,
           ($1).previous_run_id, ($1).trigger_name, ($1).workflow_run_id, ($1).state, ($1).arguments,
           ($1).started_on, ($1).completed_on, ($1).last_modified_on,
           CASE WHEN ($1).running_on IS NOT NULL
                THEN date_trunc('milliseconds', coalesce(($1).completed_on, clock_timestamp()) - ($1).running_on) END,
           ($1).timeout, ($1).rows_affected,
           -- a run that waits for a runner slot says so (kinesis_glue.runners)
           coalesce(($1).error_message,
                    CASE WHEN ($1).state = 'STARTING' THEN
                        (SELECT w.reason FROM kinesis_glue._runners() w
                          WHERE w.kind = 'job run' AND w.id = ($1).run_id AND w.state = 'waiting'
                            AND w.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()))
                    END)
$$;
-- from src/glue/jobs.sql
CREATE OR REPLACE FUNCTION glue.create_job(name text, script text DEFAULT NULL, procedure regprocedure DEFAULT NULL,
        default_arguments jsonb DEFAULT '{}', non_overridable_arguments jsonb DEFAULT '{}',
        max_concurrent_runs integer DEFAULT 1, job_run_queuing boolean DEFAULT false,
        timeout interval DEFAULT '48 hours', max_retries integer DEFAULT 0, description text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    j glue.jobs;
BEGIN
    j.job_name := glue._job_name(name);
    j.owner := kinesis_glue.caller()::regrole;
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
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
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
-- from src/glue/jobs.sql
CREATE OR REPLACE FUNCTION glue.delete_job(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    j glue.jobs;
BEGIN
    -- another role's job is as good as missing (the caller cannot see it)
    SELECT * INTO j FROM glue.jobs x WHERE x.job_name = name
       AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE') FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN name;
    END IF;
    IF EXISTS (SELECT 1 FROM glue.job_runs r WHERE r.job_id = j.job_id
                  AND r.state IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING')) THEN
        RAISE EXCEPTION 'ConcurrentModificationException: job "%" has runs in progress', j.job_name
            USING ERRCODE = 'object_in_use', HINT = 'Stop them with glue.stop_job_run() and wait until they end.';
    END IF;
    PERFORM glue.reset_job_bookmark(j.job_name);
    DELETE FROM glue.jobs x WHERE x.job_id = j.job_id;
    RETURN j.job_name;
END
$$;
-- from src/glue/jobs.sql
CREATE OR REPLACE FUNCTION glue._start_run(j glue.jobs, arguments jsonb, timeout interval, trigger_name text,
        workflow_run_id bigint, attempt integer DEFAULT 0, previous_run_id bigint DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    active integer;
    id bigint;
BEGIN
    SELECT count(*) INTO active FROM glue.job_runs r
     WHERE r.job_id = j.job_id AND r.state IN ('STARTING', 'RUNNING', 'STOPPING');
    IF active >= j.max_concurrent_runs AND NOT j.job_run_queuing THEN
        RAISE EXCEPTION 'ConcurrentRunsExceededException: job "%" already has % of % concurrent runs',
                        j.job_name, active, j.max_concurrent_runs
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Wait for a run to end, raise max_concurrent_runs, or let runs queue with job_run_queuing => true.';
    END IF;
    IF timeout IS NOT NULL AND (timeout < '1 second' OR timeout > '7 days') THEN
        PERFORM glue._invalid('timeout must be between 1 second and 7 days');
    END IF;
    INSERT INTO glue.job_runs (job_id, attempt, previous_run_id, trigger_name, workflow_run_id, state, arguments, timeout)
    VALUES (j.job_id, attempt, previous_run_id, trigger_name, workflow_run_id,
            CASE WHEN active >= j.max_concurrent_runs
                   OR EXISTS (SELECT 1 FROM glue.job_runs r WHERE r.job_id = j.job_id AND r.state = 'WAITING')
                 THEN 'WAITING' ELSE 'STARTING' END,
            glue._merge_arguments(j, glue._check_arguments('arguments', arguments)), coalesce(timeout, j.timeout))
    RETURNING run_id INTO id;
    PERFORM glue._wake_at_commit();
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION glue._start_run(glue.jobs, jsonb, interval, text, bigint, integer, bigint) FROM PUBLIC;
-- from src/glue/jobs.sql
CREATE OR REPLACE FUNCTION glue.start_job_run(job_name text, arguments jsonb DEFAULT '{}', timeout interval DEFAULT NULL,
        job_run_id bigint DEFAULT NULL)
    RETURNS bigint LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    j glue.jobs := glue._job(job_name, true);
    p glue.job_runs;
BEGIN
    IF job_run_id IS NOT NULL THEN
        SELECT * INTO p FROM glue.job_runs r WHERE r.run_id = job_run_id AND r.job_id = j.job_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'EntityNotFoundException: job "%" has no run %', j.job_name, job_run_id
                USING ERRCODE = 'undefined_object';
        END IF;
        RETURN glue._start_run(j, CASE WHEN arguments IS NULL OR arguments = '{}' THEN p.arguments ELSE arguments END,
                               timeout, p.trigger_name, p.workflow_run_id, p.attempt + 1, p.run_id);
    END IF;
    RETURN glue._start_run(j, arguments, timeout, NULL, NULL);
END
$$;
-- from src/glue/jobs.sql
CREATE OR REPLACE FUNCTION glue.batch_stop_job_run(job_name text, job_run_ids bigint[])
    RETURNS TABLE (run_id bigint, state text, error_message text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    j glue.jobs := glue._job(job_name, true);
    id bigint;
    r glue.job_runs;
BEGIN
    FOREACH id IN ARRAY coalesce(job_run_ids, '{}') LOOP
        SELECT * INTO r FROM glue.job_runs x WHERE x.run_id = id AND x.job_id = j.job_id FOR UPDATE;
        run_id := id;
        error_message := NULL;
        IF NOT FOUND THEN
            state := NULL;
            error_message := 'EntityNotFoundException: no such run of this job';
        ELSIF r.state IN ('WAITING', 'STARTING') AND r.worker_pid IS NULL THEN
            UPDATE glue.job_runs x SET state = 'STOPPED', completed_on = clock_timestamp(),
                   last_modified_on = clock_timestamp()
             WHERE x.run_id = id;
            state := 'STOPPED';
        ELSIF r.state IN ('RUNNING', 'STARTING') THEN
            UPDATE glue.job_runs x SET state = 'STOPPING', last_modified_on = clock_timestamp() WHERE x.run_id = id;
            state := 'STOPPING';
        ELSE
            state := r.state;
            error_message := format('InvalidInputException: run %s is %s, not running', id, r.state);
        END IF;
        RETURN NEXT;
    END LOOP;
    PERFORM glue._wake_at_commit();
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
    -- re-validated before acting: the worker runs the job as its owner, no other role
    IF current_user::regrole IS DISTINCT FROM j.owner THEN
        RAISE EXCEPTION 'AccessDeniedException: run % of job "%" must execute as its owner %, not %',
                        r.run_id, j.job_name, j.owner, current_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('glue_job.run_id', r.run_id::text, true);
    PERFORM set_config('glue_job.job_name', j.job_name, true);
    proc := to_regprocedure(j.procedure);               -- resolved before the user's search path
    IF j.procedure IS NOT NULL AND proc IS NULL THEN     -- dropped or renamed since
        RAISE EXCEPTION 'EntityNotFoundException: procedure % of job "%" does not exist', j.procedure, j.job_name
            USING ERRCODE = 'undefined_function', HINT = 'Point the job at an existing procedure with glue.update_job().';
    END IF;
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
    PERFORM glue._job_run_succeeded(r.run_id, n);
    RETURN n;
END
$$;
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue._job_run_succeeded(run_id bigint, n bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
BEGIN
    UPDATE glue.job_runs x SET state = 'SUCCEEDED', completed_on = clock_timestamp(), last_modified_on = clock_timestamp(),
           rows_affected = n
     WHERE x.run_id = _job_run_succeeded.run_id AND x.worker_pid = pg_backend_pid() AND x.state IN ('RUNNING', 'STOPPING')
       AND pg_has_role(kinesis_glue.caller(), (SELECT j.owner FROM glue.jobs j WHERE j.job_id = x.job_id), 'USAGE');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'InvalidInputException: run % is not executing in this session', run_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue._job_supervise(retention_seconds integer)
    RETURNS TABLE (action text, run_id bigint, pid integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs;
    j record;
BEGIN
    FOR r IN
        SELECT * FROM glue.job_runs x
         WHERE x.state IN ('RUNNING', 'STOPPING')
           AND (x.running_on < pg_postmaster_start_time()
                OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = x.worker_pid
                                  AND a.backend_type = 'kinesis_glue job'))
           -- a runner the registry still holds is reaped by the supervisor, with its reason
           AND NOT EXISTS (SELECT 1 FROM kinesis_glue._runners() w
                            WHERE w.kind = 'job run' AND w.id = x.run_id AND w.state <> 'idle'
                              AND w.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()))
         ORDER BY x.run_id FOR UPDATE SKIP LOCKED
    LOOP
        r.state := CASE r.state WHEN 'STOPPING' THEN 'STOPPED' ELSE 'FAILED' END;
        UPDATE glue.job_runs x SET state = r.state, completed_on = clock_timestamp(), last_modified_on = clock_timestamp(),
               error_message = 'the run was interrupted: the server restarted or its worker exited'
         WHERE x.run_id = r.run_id;
        PERFORM glue._job_run_retry(r);
    END LOOP;
    -- queued runs move up as runs end
    FOR j IN SELECT x.job_id, x.max_concurrent_runs FROM glue.jobs x
              WHERE EXISTS (SELECT 1 FROM glue.job_runs w WHERE w.job_id = x.job_id AND w.state = 'WAITING') LOOP
        UPDATE glue.job_runs x SET state = 'STARTING', last_modified_on = clock_timestamp()
         WHERE x.run_id IN (SELECT w.run_id FROM glue.job_runs w WHERE w.job_id = j.job_id AND w.state = 'WAITING'
                             ORDER BY w.run_id
                             LIMIT greatest(0, j.max_concurrent_runs
                                               - (SELECT count(*) FROM glue.job_runs a WHERE a.job_id = j.job_id
                                                     AND a.state IN ('STARTING', 'RUNNING', 'STOPPING'))));
    END LOOP;
    DELETE FROM glue.job_runs x
     WHERE x.state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING') AND x.triggers_evaluated
       AND x.completed_on < clock_timestamp() - make_interval(secs => retention_seconds);
    PERFORM glue._evaluate_conditions();
    RETURN QUERY
        -- runs to cancel: the supervisor signals the runner its registry
        -- holds for the run, never a PID read from this table
        SELECT CASE x.state WHEN 'STOPPING' THEN 'stop' ELSE 'timeout' END, x.run_id, NULL::integer
          FROM glue.job_runs x
         WHERE x.worker_pid IS NOT NULL
           AND (x.state = 'STOPPING' OR (x.state = 'RUNNING' AND clock_timestamp() > x.running_on + x.timeout + interval '1 second'))
        UNION ALL
        SELECT * FROM (SELECT 'launch', x.run_id, NULL::integer FROM glue.job_runs x
                        WHERE x.state = 'STARTING' AND x.worker_pid IS NULL ORDER BY x.run_id) l;
END
$$;
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue._job_run_note(run_id bigint, note text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    UPDATE glue.job_runs x SET error_message = coalesce(x.error_message || ' (' || note || ')', note)
     WHERE x.run_id = _job_run_note.run_id
$$;
REVOKE ALL ON FUNCTION glue._job_run_note(bigint, text) FROM PUBLIC;
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue._shard_records(stream_name text, shard_id text, after bigint)
    RETURNS SETOF kinesis.record
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    rec kinesis.record;
    n bigint;
BEGIN
    LOOP
        n := 0;
        FOR rec IN SELECT * FROM kinesis.read_shard(stream_name, shard_id, after, 10000) LOOP
            RETURN NEXT rec;
            after := rec.sequence_number;
            n := n + 1;
        END LOOP;
        EXIT WHEN n = 0;
    END LOOP;
END
$$;
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue._bookmark_run() RETURNS glue.job_runs
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs := glue._current_run();
BEGIN
    IF NOT pg_has_role(kinesis_glue.caller(), (SELECT j.owner FROM glue.jobs j WHERE j.job_id = r.job_id), 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: bookmarks belong to the job''s owner'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN r;
END
$$;
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue._bookmark_lock(src text) RETURNS glue.job_bookmarks
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    r glue.job_runs := glue._bookmark_run();
    b glue.job_bookmarks;
BEGIN
    SELECT * INTO b FROM glue.job_bookmarks x WHERE x.job_id = r.job_id AND x.source = src FOR UPDATE;
    RETURN b;
END
$$;
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue._bookmark_save(src text, kind text, high_water text, previous_high_water text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    r glue.job_runs := glue._bookmark_run();
    enable boolean := glue._bookmark_option(r) = 'job-bookmark-enable';
BEGIN
    IF kind IS NULL OR kind NOT IN ('stream', 'table', 'files') OR src NOT LIKE kind || ':%' THEN
        PERFORM glue._invalid(format('bookmark source "%s" is not of kind %s', src, kind));
    END IF;
    IF kind = 'stream' THEN
        INSERT INTO glue.job_bookmarks AS b (job_id, source, kind, run_id)
        VALUES (r.job_id, src, kind, r.run_id)
        ON CONFLICT (job_id, source) DO UPDATE SET run_id = CASE WHEN enable THEN r.run_id ELSE b.run_id END,
                                                  updated_on = CASE WHEN enable THEN clock_timestamp() ELSE b.updated_on END;
    ELSIF enable THEN
        INSERT INTO glue.job_bookmarks AS b (job_id, source, kind, high_water, previous_high_water, run_id)
        VALUES (r.job_id, src, kind, _bookmark_save.high_water, _bookmark_save.previous_high_water, r.run_id)
        ON CONFLICT (job_id, source) DO UPDATE SET high_water = excluded.high_water,
                                                  previous_high_water = excluded.previous_high_water,
                                                  run_id = r.run_id, updated_on = clock_timestamp();
    END IF;
END
$$;
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue.bookmark_records(stream_name text, max_records integer DEFAULT NULL)
    RETURNS SETOF kinesis.record
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs := glue._current_run();
    opt text := glue._bookmark_option(r);
    consumer text := 'glue-job-' || r.job_id;
    n bigint;
    total bigint := 0;
    s record;
BEGIN
    IF opt = 'job-bookmark-disable' THEN
        FOR s IN SELECT * FROM kinesis.list_shards(stream_name) ORDER BY shard_id LOOP
            RETURN QUERY SELECT * FROM glue._shard_records(stream_name, s.shard_id, NULL);
        END LOOP;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM kinesis.list_stream_consumers(stream_name) c WHERE c.consumer_name = consumer) THEN
        PERFORM kinesis.register_stream_consumer(stream_name, consumer, 'TRIM_HORIZON');
    END IF;
    PERFORM glue._bookmark_save('stream:' || stream_name, 'stream', NULL, NULL);
    IF opt = 'job-bookmark-pause' THEN
        FOR s IN SELECT p.shard_id, p.checkpoint_sequence_number FROM kinesis.consumer_positions p
                  WHERE p.stream_name = bookmark_records.stream_name AND p.consumer_name = consumer ORDER BY p.shard_id LOOP
            RETURN QUERY SELECT * FROM glue._shard_records(stream_name, s.shard_id,
                    kinesis.read_shard_start(stream_name, s.shard_id, s.checkpoint_sequence_number));
        END LOOP;
        RETURN;
    END IF;
    LOOP
        RETURN QUERY SELECT * FROM kinesis.consume(stream_name, consumer,
                                                   least(10000, coalesce(max_records - total, 10000))::integer);
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
        EXIT WHEN n = 0 OR (max_records IS NOT NULL AND total >= max_records);
    END LOOP;
END
$$;
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue.bookmark_range(source regclass, key_column text, typ anyelement,
        OUT after_value anyelement, OUT up_to_value anyelement)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_column
DECLARE
    r glue.job_runs := glue._current_run();
    opt text := glue._bookmark_option(r);
    b glue.job_bookmarks;
    src text := 'table:' || source::text || '.' || key_column;
    lo text;
    hi text;
    newer boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = source AND a.attname = key_column
                      AND a.attnum > 0 AND NOT a.attisdropped) THEN
        PERFORM glue._invalid(format('table %s has no column "%s"', source, key_column));
    END IF;
    b := glue._bookmark_lock(src);
    IF b.run_id = r.run_id THEN               -- asked before in this run
        lo := b.previous_high_water;
        hi := b.high_water;
    ELSE
        lo := CASE WHEN opt = 'job-bookmark-disable' THEN NULL ELSE b.high_water END;
        EXECUTE format('SELECT max(%I)::text FROM %s', key_column, source) INTO hi;
        IF lo IS NOT NULL AND hi IS NOT NULL THEN
            EXECUTE format('SELECT $1::%s > $2::%s', pg_typeof(typ), pg_typeof(typ)) INTO newer USING hi, lo;
            IF NOT newer THEN
                hi := lo;
            END IF;
        END IF;
        hi := coalesce(hi, lo);
        IF opt = 'job-bookmark-enable' THEN
            PERFORM glue._bookmark_save(src, 'table', hi, lo);
        END IF;
    END IF;
    EXECUTE format('SELECT $1::%s, $2::%s', pg_typeof(typ), pg_typeof(typ)) INTO after_value, up_to_value USING lo, hi;
END
$$;
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue.bookmark_files(database_name text, table_name text)
    RETURNS TABLE (path text, size bigint, mtime timestamptz)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_column
DECLARE
    r glue.job_runs := glue._current_run();
    opt text := glue._bookmark_option(r);
    t glue.tables := glue._table(database_name, table_name, false);
    src text := 'files:' || database_name || '.' || table_name;
    b glue.job_bookmarks;
    lo timestamptz;
    hi timestamptz;
    f record;
    cutoff timestamptz := clock_timestamp() - interval '1 second';
BEGIN
    IF t.location IS NULL OR t.location !~ '^/' THEN
        PERFORM glue._invalid(format('table "%s" of database "%s" is not a file table (its location is not a server directory)',
                                     table_name, database_name));
    END IF;
    IF NOT pg_has_role(kinesis_glue.caller(), 'pg_read_server_files', 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied to read server files'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The job''s owner %s lacks the privileges of the pg_read_server_files role.', kinesis_glue.caller()),
                  HINT = format('GRANT pg_read_server_files TO %s.', kinesis_glue.caller());
    END IF;
    b := glue._bookmark_lock(src);
    IF b.run_id = r.run_id THEN               -- asked before in this run
        lo := b.previous_high_water::timestamptz;
        cutoff := b.high_water::timestamptz;
    ELSE
        lo := CASE WHEN opt = 'job-bookmark-disable' THEN NULL ELSE b.high_water::timestamptz END;
    END IF;
    FOR f IN SELECT x.path, x.size, x.mtime FROM glue._list_files(t.location, '{}', 1000000) x
              WHERE x.error IS NULL AND (lo IS NULL OR x.mtime > lo) AND x.mtime <= cutoff
              ORDER BY x.mtime, x.path LOOP
        path := f.path;
        size := f.size;
        mtime := f.mtime;
        hi := greatest(hi, f.mtime);
        RETURN NEXT;
    END LOOP;
    IF opt = 'job-bookmark-enable' AND (b.run_id IS DISTINCT FROM r.run_id) THEN
        PERFORM glue._bookmark_save(src, 'files', coalesce(hi, lo)::text, lo::text);
    END IF;
END
$$;
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue.reset_job_bookmark(job_name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    j glue.jobs := glue._job(job_name, true);
    b glue.job_bookmarks;
BEGIN
    IF EXISTS (SELECT 1 FROM glue.job_runs r WHERE r.job_id = j.job_id AND r.state IN ('RUNNING', 'STOPPING')) THEN
        RAISE EXCEPTION 'ConcurrentModificationException: job "%" is running', j.job_name
            USING ERRCODE = 'object_in_use', HINT = 'Reset the bookmark when no run is in progress.';
    END IF;
    FOR b IN SELECT * FROM glue.job_bookmarks x WHERE x.job_id = j.job_id AND x.kind = 'stream' LOOP
        IF EXISTS (SELECT 1 FROM kinesis.consumers c JOIN kinesis.streams s USING (stream_id)
                    WHERE 'stream:' || s.stream_name = b.source AND c.consumer_name = 'glue-job-' || j.job_id) THEN
            PERFORM kinesis.deregister_stream_consumer(substr(b.source, 8), 'glue-job-' || j.job_id);
        END IF;
    END LOOP;
    DELETE FROM glue.job_bookmarks x WHERE x.job_id = j.job_id;
END
$$;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue._trigger(name text, lock boolean DEFAULT false) RETURNS glue.triggers
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.triggers;
BEGIN
    IF lock THEN
        SELECT * INTO t FROM glue.triggers x WHERE x.trigger_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE') FOR UPDATE;
    ELSE
        SELECT * INTO t FROM glue.triggers x WHERE x.trigger_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE');
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: trigger "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List your triggers with glue.list_triggers().';
    END IF;
    RETURN t;
END
$$;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue._check_trigger(t glue.triggers) RETURNS glue.triggers
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    a jsonb;
    c jsonb;
    o regrole;
BEGIN
    IF t.trigger_name IS NULL OR length(t.trigger_name) NOT BETWEEN 1 AND 255 OR t.trigger_name ~ '[[:cntrl:]]' THEN
        PERFORM glue._invalid('trigger name must have 1 to 255 characters and no control characters');
    END IF;
    IF t.trigger_type IS NULL OR t.trigger_type NOT IN ('ON_DEMAND', 'SCHEDULED', 'CONDITIONAL', 'EVENT') THEN
        PERFORM glue._invalid(format('trigger type "%s" is not ON_DEMAND, SCHEDULED, CONDITIONAL or EVENT', t.trigger_type));
    END IF;
    IF (t.trigger_type = 'SCHEDULED') <> (t.schedule IS NOT NULL) THEN
        PERFORM glue._invalid('a schedule belongs to SCHEDULED triggers, and they need one',
                              'For example schedule => ''*/5 * * * *'' or ''cron(0/15 * * * ? *)''.');
    END IF;
    IF t.schedule IS NOT NULL THEN
        PERFORM glue._cron_expression(t.schedule);
    END IF;
    IF (t.trigger_type = 'CONDITIONAL') <> (t.predicate IS NOT NULL) THEN
        PERFORM glue._invalid('a predicate belongs to CONDITIONAL triggers, and they need one');
    END IF;
    IF t.predicate IS NOT NULL THEN
        IF jsonb_typeof(t.predicate) <> 'object'
           OR coalesce(t.predicate ->> 'logical', 'AND') NOT IN ('AND', 'ANY')
           OR jsonb_typeof(t.predicate -> 'conditions') IS DISTINCT FROM 'array'
           OR jsonb_array_length(t.predicate -> 'conditions') NOT BETWEEN 1 AND 500 THEN
            PERFORM glue._invalid('a predicate is {"logical": "AND" or "ANY", "conditions": [...]} with 1 to 500 conditions');
        END IF;
        FOR c IN SELECT x FROM jsonb_array_elements(t.predicate -> 'conditions') x LOOP
            IF NOT ((c ? 'job_name' AND c ->> 'state' IN ('SUCCEEDED', 'STOPPED', 'FAILED', 'TIMEOUT')
                     AND NOT c ? 'crawler_name')
                    OR (c ? 'crawler_name' AND c ->> 'crawl_state' IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
                        AND NOT c ? 'job_name')) THEN
                PERFORM glue._invalid('a condition is {"job_name", "state": SUCCEEDED, STOPPED, FAILED or TIMEOUT} '
                                      'or {"crawler_name", "crawl_state": SUCCEEDED, FAILED or CANCELLED}');
            END IF;
        END LOOP;
    END IF;
    IF (t.trigger_type = 'EVENT') <> (t.event_batching_condition IS NOT NULL) THEN
        PERFORM glue._invalid('an event_batching_condition belongs to EVENT triggers, and they need one');
    END IF;
    IF t.event_batching_condition IS NOT NULL THEN
        IF jsonb_typeof(t.event_batching_condition -> 'stream_name') IS DISTINCT FROM 'string'
           OR jsonb_typeof(t.event_batching_condition -> 'batch_size') IS DISTINCT FROM 'number'
           OR (t.event_batching_condition ->> 'batch_size')::numeric NOT BETWEEN 1 AND 100
           OR (t.event_batching_condition ? 'batch_window'
               AND (jsonb_typeof(t.event_batching_condition -> 'batch_window') <> 'number'
                    OR (t.event_batching_condition ->> 'batch_window')::numeric NOT BETWEEN 1 AND 900)) THEN
            PERFORM glue._invalid('an event_batching_condition is {"stream_name": "...", "batch_size": 1-100, "batch_window": 1-900 seconds}');
        END IF;
        PERFORM kinesis.describe_stream_summary(t.event_batching_condition ->> 'stream_name');
    END IF;
    IF jsonb_typeof(t.actions) IS DISTINCT FROM 'array' OR jsonb_array_length(t.actions) NOT BETWEEN 1 AND 50 THEN
        PERFORM glue._invalid('actions must be a JSON array of 1 to 50 actions',
                              'For example [{"job_name": "load", "arguments": {"--day": "today"}}, {"crawler_name": "lake"}].');
    END IF;
    FOR a IN SELECT x FROM jsonb_array_elements(t.actions) x LOOP
        IF a ? 'job_name' AND NOT a ? 'crawler_name' THEN
            SELECT j.owner INTO o FROM glue.jobs j WHERE j.job_name = a ->> 'job_name'
               AND pg_has_role(kinesis_glue.caller(), j.owner, 'USAGE');   -- jobs are private
            PERFORM glue._check_arguments('action arguments', a -> 'arguments');
            IF a ? 'timeout' THEN
                PERFORM (a ->> 'timeout')::interval;
            END IF;
        ELSIF a ? 'crawler_name' AND NOT a ? 'job_name' THEN
            SELECT c.owner INTO o FROM glue.crawlers c WHERE c.crawler_name = a ->> 'crawler_name';
        ELSE
            PERFORM glue._invalid('an action is {"job_name", "arguments", "timeout"} or {"crawler_name"}');
        END IF;
        IF o IS NULL THEN
            RAISE EXCEPTION 'EntityNotFoundException: the action''s % does not exist',
                            coalesce('job "' || (a ->> 'job_name') || '"', 'crawler "' || (a ->> 'crawler_name') || '"')
                USING ERRCODE = 'undefined_object';
        END IF;
        IF NOT pg_has_role(t.owner, o, 'USAGE') THEN
            RAISE EXCEPTION 'AccessDeniedException: trigger owner % may not start what role % owns', t.owner, o
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    IF t.workflow_name IS NOT NULL THEN
        SELECT w.owner INTO o FROM glue.workflows w WHERE w.workflow_name = t.workflow_name;
        IF o IS NULL THEN
            RAISE EXCEPTION 'EntityNotFoundException: workflow "%" does not exist', t.workflow_name
                USING ERRCODE = 'undefined_object';
        ELSIF NOT pg_has_role(t.owner, o, 'USAGE') THEN
            RAISE EXCEPTION 'AccessDeniedException: trigger owner % may not add triggers to workflow "%"', t.owner, t.workflow_name
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF t.trigger_type <> 'CONDITIONAL'
           AND EXISTS (SELECT 1 FROM glue.triggers x WHERE x.workflow_name = t.workflow_name
                          AND x.trigger_type <> 'CONDITIONAL' AND x.trigger_name <> t.trigger_name) THEN
            PERFORM glue._invalid(format('workflow "%s" already has a start trigger', t.workflow_name),
                                  'A workflow has one ON_DEMAND, SCHEDULED or EVENT trigger; the others are CONDITIONAL.');
        END IF;
    END IF;
    PERFORM glue._check_length('description', t.description, 2048);
    RETURN t;
END
$$;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue._remote_cron() RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
    SELECT d FROM (SELECT nullif(current_setting('cron.database_name', true), '') AS d) x
     WHERE d <> current_database() AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')
$$;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue._cron_wanted(OUT trigger_name text, OUT schedule text, OUT owner oid) RETURNS SETOF record
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.triggers;
BEGIN
    FOR t IN SELECT * FROM glue.triggers x WHERE x.trigger_type = 'SCHEDULED' AND x.state = 'ACTIVATED'
              ORDER BY x.trigger_name COLLATE "C" LOOP
        BEGIN
            schedule := glue._cron_expression(t.schedule);
            PERFORM glue._cron_user(t.owner, 'trigger');
        EXCEPTION WHEN invalid_parameter_value OR insufficient_privilege THEN
            RAISE WARNING 'trigger "%" is not scheduled: %', t.trigger_name, SQLERRM;
            CONTINUE;
        END;
        trigger_name := t.trigger_name;
        owner := t.owner;
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION glue._cron_wanted() FROM PUBLIC;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue._cron_user(owner regrole, kind text) RETURNS name
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r pg_roles;
BEGIN
    SELECT * INTO r FROM pg_roles x WHERE x.oid = owner;
    IF NOT FOUND OR NOT r.rolcanlogin THEN
        RAISE EXCEPTION 'AccessDeniedException: % owner % cannot log in, and pg_cron runs jobs only as roles that can', kind, owner
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('Create the %s as a role with LOGIN, or ALTER ROLE %s LOGIN.', kind, owner);
    END IF;
    RETURN r.rolname;
END
$$;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue._cron_job(job text, schedule text, command text, owner regrole, kind text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    id bigint;
BEGIN
    FOR id IN SELECT j.jobid FROM cron.job j WHERE j.jobname = job AND j.database = current_database() LOOP
        PERFORM cron.unschedule(id);
    END LOOP;
    IF schedule IS NULL THEN
        RETURN;
    END IF;
    IF NOT has_schema_privilege(owner, 'cron', 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: % owner % may not schedule jobs with pg_cron', kind, owner
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('GRANT USAGE ON SCHEMA cron TO %s.', owner);   -- regrole: quoted as SQL needs
    END IF;
    PERFORM cron.schedule_in_database(job, glue._cron_expression(schedule), command, current_database(),
                                      glue._cron_user(owner, kind), true);
END
$$;
REVOKE ALL ON FUNCTION glue._cron_job(text, text, text, regrole, text) FROM PUBLIC;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue._set_trigger_schedule(t glue.triggers) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    wanted boolean := t.schedule IS NOT NULL AND t.state = 'ACTIVATED';
BEGIN
    IF t.trigger_type <> 'SCHEDULED' THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF glue._remote_cron() IS NOT NULL THEN
            IF wanted THEN
                PERFORM glue._cron_user(t.owner, 'trigger');
            END IF;
            PERFORM glue._wake_at_commit();             -- it syncs the pg_cron database
            RETURN;
        END IF;
        IF NOT wanted THEN
            RETURN;
        END IF;
        RAISE EXCEPTION 'InvalidInputException: scheduled triggers need pg_cron'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'pg_cron is neither installed in this database nor loaded with cron.database_name naming another one.',
                  HINT = 'Add pg_cron to shared_preload_libraries and run CREATE EXTENSION pg_cron in the database named by '
                         'cron.database_name (this one, or another); grant USAGE ON SCHEMA cron to the trigger''s owner '
                         'when pg_cron is in this database.';
    END IF;
    PERFORM glue._cron_job('glue trigger: ' || t.trigger_name, CASE WHEN wanted THEN t.schedule END,
                           format('SELECT glue._fire_trigger(%L)', t.trigger_name), t.owner, 'trigger');
END
$$;
REVOKE ALL ON FUNCTION glue._set_trigger_schedule(glue.triggers) FROM PUBLIC;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue._run_actions(t glue.triggers, workflow_run_id bigint DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    a jsonb;
    j glue.jobs;
    c glue.crawlers;
    n integer := 0;
BEGIN
    FOR a IN SELECT x FROM jsonb_array_elements(t.actions) x LOOP
        BEGIN
            IF a ? 'job_name' THEN
                SELECT * INTO j FROM glue.jobs x WHERE x.job_name = a ->> 'job_name' FOR NO KEY UPDATE;
                IF NOT FOUND OR NOT pg_has_role(t.owner, j.owner, 'USAGE') THEN
                    RAISE EXCEPTION 'EntityNotFoundException: job "%" does not exist', a ->> 'job_name'
                        USING ERRCODE = 'undefined_object';
                END IF;
                PERFORM glue._start_run(j, coalesce(a -> 'arguments', '{}')
                                           || CASE WHEN workflow_run_id IS NULL THEN '{}'::jsonb
                                                   ELSE jsonb_build_object('--WORKFLOW_NAME', t.workflow_name,
                                                                           '--WORKFLOW_RUN_ID', workflow_run_id::text) END,
                                        (a ->> 'timeout')::interval, t.trigger_name, workflow_run_id);
            ELSE
                SELECT * INTO c FROM glue.crawlers x WHERE x.crawler_name = a ->> 'crawler_name';
                IF NOT FOUND OR NOT pg_has_role(t.owner, c.owner, 'USAGE') THEN
                    RAISE EXCEPTION 'EntityNotFoundException: crawler "%" does not exist', a ->> 'crawler_name'
                        USING ERRCODE = 'undefined_object';
                END IF;
                IF workflow_run_id IS NULL THEN
                    PERFORM glue.start_crawler(c.crawler_name);
                ELSE
                    INSERT INTO glue.workflow_crawls VALUES (glue.start_crawler(c.crawler_name), workflow_run_id);
                END IF;
            END IF;
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'trigger "%" could not start an action: %', t.trigger_name, SQLERRM;
        END;
    END LOOP;
    UPDATE glue.triggers x SET last_fired = clock_timestamp() WHERE x.trigger_id = t.trigger_id;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION glue._run_actions(glue.triggers, bigint) FROM PUBLIC;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue._fire_trigger(name text) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers := glue._trigger(name, true);
BEGIN
    IF t.state <> 'ACTIVATED' THEN
        RETURN 0;
    END IF;
    RETURN glue._run_actions(t, CASE WHEN t.workflow_name IS NOT NULL THEN glue._new_workflow_run(t.workflow_name) END);
END
$$;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue.create_trigger(name text, trigger_type text, actions jsonb, schedule text DEFAULT NULL,
        predicate jsonb DEFAULT NULL, event_batching_condition jsonb DEFAULT NULL, workflow_name text DEFAULT NULL,
        start_on_creation boolean DEFAULT false, description text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers;
BEGIN
    t.trigger_name := name;
    t.owner := kinesis_glue.caller()::regrole;
    t.trigger_type := upper(trigger_type);
    t.actions := actions;
    t.schedule := nullif(btrim(schedule), '');
    t.predicate := predicate;
    t.event_batching_condition := event_batching_condition;
    t.workflow_name := workflow_name;
    t.description := nullif(description, '');
    t.state := CASE WHEN start_on_creation AND t.trigger_type <> 'ON_DEMAND' THEN 'ACTIVATED' ELSE 'CREATED' END;
    t := glue._check_trigger(t);
    BEGIN
        INSERT INTO glue.triggers (trigger_name, owner, trigger_type, state, workflow_name, schedule, predicate,
                                   event_batching_condition, actions, description, activated_on)
        VALUES (t.trigger_name, t.owner, t.trigger_type, t.state, t.workflow_name, t.schedule, t.predicate,
                t.event_batching_condition, t.actions, t.description,
                CASE WHEN t.state = 'ACTIVATED' THEN clock_timestamp() END)
        RETURNING * INTO t;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'AlreadyExistsException: trigger "%" already exists', t.trigger_name
            USING ERRCODE = 'duplicate_object';
    END;
    PERFORM glue._set_trigger_schedule(t);
    RETURN t.trigger_name;
END
$$;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue.update_trigger(name text, actions jsonb DEFAULT NULL, schedule text DEFAULT NULL,
        predicate jsonb DEFAULT NULL, event_batching_condition jsonb DEFAULT NULL, description text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers := glue._trigger(name, true);
BEGIN
    t.actions := coalesce(update_trigger.actions, t.actions);
    t.schedule := coalesce(nullif(btrim(schedule), ''), t.schedule);
    t.predicate := coalesce(update_trigger.predicate, t.predicate);
    t.event_batching_condition := coalesce(update_trigger.event_batching_condition, t.event_batching_condition);
    t.description := glue._updated(description, t.description);
    t := glue._check_trigger(t);
    UPDATE glue.triggers x SET actions = t.actions, schedule = t.schedule, predicate = t.predicate,
           event_batching_condition = t.event_batching_condition, description = t.description
     WHERE x.trigger_id = t.trigger_id;
    PERFORM glue._set_trigger_schedule(t);
    RETURN t.trigger_name;
END
$$;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue.delete_trigger(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers;
BEGIN
    -- another role's trigger is as good as missing (the caller cannot see it)
    SELECT * INTO t FROM glue.triggers x WHERE x.trigger_name = name
       AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE') FOR UPDATE;
    IF NOT FOUND THEN
        RETURN name;
    END IF;
    t.state := 'DEACTIVATED';
    PERFORM glue._set_trigger_schedule(t);
    DELETE FROM glue.triggers x WHERE x.trigger_id = t.trigger_id;
    RETURN t.trigger_name;
END
$$;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue.start_trigger(name text) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers := glue._trigger(name, true);
BEGIN
    IF t.trigger_type = 'ON_DEMAND' THEN
        RETURN glue._run_actions(t, CASE WHEN t.workflow_name IS NOT NULL THEN glue._new_workflow_run(t.workflow_name) END);
    END IF;
    -- an EVENT trigger counts the records that arrive from now on
    UPDATE glue.triggers x SET state = 'ACTIVATED', activated_on = clock_timestamp() WHERE x.trigger_id = t.trigger_id;
    t.state := 'ACTIVATED';
    PERFORM glue._set_trigger_schedule(t);
    RETURN 0;
END
$$;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue.stop_trigger(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers := glue._trigger(name, true);
BEGIN
    IF t.trigger_type = 'ON_DEMAND' THEN
        PERFORM glue._invalid(format('trigger "%s" is ON_DEMAND; it has nothing to stop', t.trigger_name));
    END IF;
    UPDATE glue.triggers x SET state = 'DEACTIVATED', event_pending_since = NULL WHERE x.trigger_id = t.trigger_id;
    t.state := 'DEACTIVATED';
    PERFORM glue._set_trigger_schedule(t);
    RETURN t.trigger_name;
END
$$;
-- from src/glue/triggers.sql
CREATE OR REPLACE FUNCTION glue._evaluate_triggers() RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    evs jsonb;
    e record;
    t glue.triggers;
    pending bigint;
    since timestamptz;
BEGIN
    WITH ended AS (
        UPDATE glue.job_runs r SET triggers_evaluated = true
         WHERE NOT r.triggers_evaluated AND r.state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING')
        RETURNING r.run_id AS id, 'job_name' AS k, (SELECT j.job_name FROM glue.jobs j WHERE j.job_id = r.job_id) AS name,
                  r.state, r.workflow_run_id),
    crawled AS (
        INSERT INTO glue.trigger_seen_crawls
        SELECT w.crawl_id FROM glue.crawls w
         WHERE w.state IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND w.end_time > clock_timestamp() - interval '1 day'
        ON CONFLICT DO NOTHING
        RETURNING crawl_id),
    events AS (
        SELECT * FROM ended
        UNION ALL
        SELECT w.crawl_id, 'crawler_name', k.crawler_name, w.state, f.workflow_run_id
          FROM crawled c JOIN glue.crawls w USING (crawl_id) JOIN glue.crawlers k USING (crawler_id)
          LEFT JOIN glue.workflow_crawls f ON f.crawl_id = w.crawl_id)
    SELECT coalesce(jsonb_agg(to_jsonb(events) ORDER BY events.id), '[]') INTO evs FROM events;
    FOR e IN SELECT * FROM jsonb_to_recordset(evs) AS x(id bigint, k text, name text, state text, workflow_run_id bigint)
    LOOP
        FOR t IN
            SELECT * FROM glue.triggers x
             WHERE x.trigger_type = 'CONDITIONAL' AND x.state = 'ACTIVATED'
               AND (x.workflow_name IS NULL) = (e.workflow_run_id IS NULL)
               AND EXISTS (SELECT 1 FROM jsonb_array_elements(x.predicate -> 'conditions') c WHERE c ->> e.k = e.name)
             ORDER BY x.trigger_id FOR UPDATE
        LOOP
            IF e.workflow_run_id IS NOT NULL AND NOT glue._in_workflow_run(t, e.workflow_run_id) THEN
                CONTINUE;
            END IF;
            IF (coalesce(t.predicate ->> 'logical', 'AND') = 'ANY'
                AND EXISTS (SELECT 1 FROM jsonb_array_elements(t.predicate -> 'conditions') c
                             WHERE c ->> e.k = e.name AND coalesce(c ->> 'state', c ->> 'crawl_state') = e.state))
               OR (coalesce(t.predicate ->> 'logical', 'AND') = 'AND'
                   AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(t.predicate -> 'conditions') c
                                    WHERE NOT coalesce(glue._condition_holds(c, e.workflow_run_id, t.last_fired), false))) THEN
                PERFORM glue._run_actions(t, e.workflow_run_id);
            END IF;
        END LOOP;
    END LOOP;
    DELETE FROM glue.trigger_seen_crawls s
     WHERE NOT EXISTS (SELECT 1 FROM glue.crawls w WHERE w.crawl_id = s.crawl_id
                          AND w.end_time > clock_timestamp() - interval '2 days');

    -- EVENT triggers: a consumer per trigger counts the new records, from
    -- the records that arrived at or after the activation (a position
    -- stamped by the activating transaction, so records put right after it
    -- commits count however late this round comes); a consumer of an
    -- earlier activation is replaced
    FOR t IN SELECT * FROM glue.triggers x WHERE x.trigger_type = 'EVENT' AND x.state = 'ACTIVATED'
              ORDER BY x.trigger_id FOR UPDATE SKIP LOCKED LOOP
        BEGIN
            SELECT c.starting_position_timestamp INTO since
              FROM kinesis.consumers c JOIN kinesis.streams s USING (stream_id)
             WHERE s.stream_name = t.event_batching_condition ->> 'stream_name'
               AND c.consumer_name = 'glue-trigger-' || t.trigger_id;
            IF NOT FOUND OR since IS DISTINCT FROM t.activated_on THEN
                IF FOUND THEN
                    PERFORM kinesis.deregister_stream_consumer(t.event_batching_condition ->> 'stream_name',
                                                               'glue-trigger-' || t.trigger_id);
                END IF;
                PERFORM kinesis.register_stream_consumer(t.event_batching_condition ->> 'stream_name',
                                                         'glue-trigger-' || t.trigger_id,
                                                         'AT_TIMESTAMP', coalesce(t.activated_on, clock_timestamp()));
            END IF;
            SELECT coalesce(sum(p.lag_records), 0) INTO pending FROM kinesis.consumer_positions p
             WHERE p.stream_name = t.event_batching_condition ->> 'stream_name'
               AND p.consumer_name = 'glue-trigger-' || t.trigger_id;
            IF pending = 0 THEN
                CONTINUE;
            ELSIF t.event_pending_since IS NULL THEN
                UPDATE glue.triggers x SET event_pending_since = clock_timestamp() WHERE x.trigger_id = t.trigger_id;
                t.event_pending_since := clock_timestamp();
            END IF;
            IF pending >= (t.event_batching_condition ->> 'batch_size')::bigint
               OR clock_timestamp() >= t.event_pending_since
                                       + make_interval(secs => coalesce((t.event_batching_condition ->> 'batch_window')::double precision, 900)) THEN
                -- move the trigger's checkpoint past what it counted
                PERFORM count(*) FROM kinesis.consume(t.event_batching_condition ->> 'stream_name',
                                                      'glue-trigger-' || t.trigger_id, least(pending, 10000)::integer);
                UPDATE glue.triggers x SET event_pending_since = NULL WHERE x.trigger_id = t.trigger_id;
                PERFORM glue._run_actions(t, CASE WHEN t.workflow_name IS NOT NULL THEN glue._new_workflow_run(t.workflow_name) END);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'event trigger "%" could not be evaluated: %', t.trigger_name, SQLERRM;
        END;
    END LOOP;
END
$$;
-- from src/glue/workflows.sql
CREATE OR REPLACE FUNCTION glue._workflow(name text, lock boolean DEFAULT false) RETURNS glue.workflows
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    w glue.workflows;
BEGIN
    IF lock THEN
        SELECT * INTO w FROM glue.workflows x WHERE x.workflow_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE') FOR NO KEY UPDATE;
    ELSE
        SELECT * INTO w FROM glue.workflows x WHERE x.workflow_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE');
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: workflow "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List your workflows with glue.list_workflows().';
    END IF;
    RETURN w;
END
$$;
-- from src/glue/workflows.sql
CREATE OR REPLACE FUNCTION glue.create_workflow(name text, description text DEFAULT NULL,
        default_run_properties jsonb DEFAULT '{}', max_concurrent_runs integer DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
BEGIN
    IF name IS NULL OR length(name) NOT BETWEEN 1 AND 255 OR name ~ '[[:cntrl:]]' THEN
        PERFORM glue._invalid('workflow name must have 1 to 255 characters and no control characters');
    END IF;
    PERFORM glue._check_arguments('default_run_properties', default_run_properties);
    IF max_concurrent_runs IS NOT NULL AND max_concurrent_runs < 1 THEN
        PERFORM glue._invalid('max_concurrent_runs must be at least 1 (NULL: no limit)');
    END IF;
    PERFORM glue._check_length('description', description, 2048);
    INSERT INTO glue.workflows (workflow_name, owner, description, default_run_properties, max_concurrent_runs)
    VALUES (name, kinesis_glue.caller()::regrole, nullif(description, ''), coalesce(default_run_properties, '{}'), max_concurrent_runs);
    RETURN name;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'AlreadyExistsException: workflow "%" already exists', name USING ERRCODE = 'duplicate_object';
END
$$;
-- from src/glue/workflows.sql
CREATE OR REPLACE FUNCTION glue.update_workflow(name text, description text DEFAULT NULL,
        default_run_properties jsonb DEFAULT NULL, max_concurrent_runs integer DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    w glue.workflows := glue._workflow(name, true);
BEGIN
    PERFORM glue._check_arguments('default_run_properties', default_run_properties);
    PERFORM glue._check_length('description', description, 2048);
    UPDATE glue.workflows x SET description = glue._updated(update_workflow.description, x.description),
           default_run_properties = coalesce(update_workflow.default_run_properties, x.default_run_properties),
           max_concurrent_runs = coalesce(update_workflow.max_concurrent_runs, x.max_concurrent_runs),
           last_modified_on = clock_timestamp()
     WHERE x.workflow_id = w.workflow_id;
    RETURN w.workflow_name;
END
$$;
-- from src/glue/workflows.sql
CREATE OR REPLACE FUNCTION glue.delete_workflow(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    w glue.workflows := glue._workflow(name, true);
BEGIN
    IF EXISTS (SELECT 1 FROM glue.workflow_runs r WHERE r.workflow_id = w.workflow_id AND r.status = 'RUNNING') THEN
        RAISE EXCEPTION 'IllegalWorkflowStateException: workflow "%" has a run in progress', w.workflow_name
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Stop it with glue.stop_workflow_run().';
    END IF;
    PERFORM glue.delete_trigger(t.trigger_name) FROM glue.triggers t WHERE t.workflow_name = w.workflow_name;
    DELETE FROM glue.workflows x WHERE x.workflow_id = w.workflow_id;
    RETURN w.workflow_name;
END
$$;
-- from src/glue/workflows.sql
CREATE OR REPLACE FUNCTION glue._new_workflow_run(workflow_name text, run_properties jsonb DEFAULT NULL,
        previous_run_id bigint DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    w glue.workflows := glue._workflow(workflow_name, true);
    id bigint;
BEGIN
    IF w.max_concurrent_runs IS NOT NULL
       AND (SELECT count(*) FROM glue.workflow_runs r WHERE r.workflow_id = w.workflow_id AND r.status = 'RUNNING')
           >= w.max_concurrent_runs THEN
        RAISE EXCEPTION 'ConcurrentRunsExceededException: workflow "%" already has % running', w.workflow_name, w.max_concurrent_runs
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    INSERT INTO glue.workflow_runs (workflow_id, run_properties, previous_run_id)
    VALUES (w.workflow_id, w.default_run_properties || coalesce(run_properties, '{}'), previous_run_id)
    RETURNING workflow_run_id INTO id;
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION glue._new_workflow_run(text, jsonb, bigint) FROM PUBLIC;
-- from src/glue/workflows.sql
CREATE OR REPLACE FUNCTION glue.start_workflow_run(name text, run_properties jsonb DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    w glue.workflows := glue._workflow(name, true);
    t glue.triggers;
    id bigint;
BEGIN
    PERFORM glue._check_arguments('run_properties', run_properties);
    SELECT * INTO t FROM glue.triggers x WHERE x.workflow_name = w.workflow_name AND x.trigger_type <> 'CONDITIONAL'
     ORDER BY x.trigger_id LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'IllegalWorkflowStateException: workflow "%" has no start trigger', w.workflow_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Create an ON_DEMAND trigger with workflow_name => the workflow.';
    END IF;
    id := glue._new_workflow_run(w.workflow_name, run_properties);
    PERFORM glue._run_actions(t, id);
    RETURN id;
END
$$;
-- from src/glue/workflows.sql
CREATE OR REPLACE FUNCTION glue.get_workflow_run(name text, run_id bigint)
    RETURNS TABLE (workflow_run_id bigint, status text, previous_run_id bigint, run_properties jsonb,
                   started_on timestamptz, completed_on timestamptz, statistics jsonb, nodes jsonb)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT r.workflow_run_id, r.status, r.previous_run_id, r.run_properties, r.started_on, r.completed_on,
           (SELECT jsonb_build_object('total_actions', count(*),
                                      'succeeded_actions', count(*) FILTER (WHERE n.state = 'SUCCEEDED'),
                                      'failed_actions', count(*) FILTER (WHERE n.state = 'FAILED'),
                                      'stopped_actions', count(*) FILTER (WHERE n.state = 'STOPPED'),
                                      'timeout_actions', count(*) FILTER (WHERE n.state = 'TIMEOUT'),
                                      'errored_actions', count(*) FILTER (WHERE n.state = 'ERROR'),
                                      'running_actions', count(*) FILTER (WHERE n.state IN ('STARTING', 'RUNNING', 'STOPPING')),
                                      'waiting_actions', count(*) FILTER (WHERE n.state = 'WAITING'))
              FROM glue._workflow_nodes(r.workflow_run_id) n),
           (SELECT coalesce(jsonb_agg(to_jsonb(n) ORDER BY n.name), '[]') FROM glue._workflow_nodes(r.workflow_run_id) n)
      FROM glue._workflow($1) w CROSS JOIN LATERAL glue._workflow_run(w, $2) r
$$;
-- from src/glue/workflows.sql
CREATE OR REPLACE FUNCTION glue.put_workflow_run_properties(name text, run_id bigint, run_properties jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    r glue.workflow_runs := glue._workflow_run(glue._workflow(name), run_id);
BEGIN
    PERFORM glue._check_arguments('run_properties', run_properties);
    UPDATE glue.workflow_runs x SET run_properties = x.run_properties || put_workflow_run_properties.run_properties
     WHERE x.workflow_run_id = r.workflow_run_id;
END
$$;
-- from src/glue/workflows.sql
CREATE OR REPLACE FUNCTION glue.stop_workflow_run(name text, run_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    w glue.workflows := glue._workflow(name, true);
    r glue.workflow_runs := glue._workflow_run(w, run_id);
    j record;
BEGIN
    IF r.status <> 'RUNNING' THEN
        RAISE EXCEPTION 'IllegalWorkflowStateException: run % of workflow "%" is %', run_id, w.workflow_name, r.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    FOR j IN SELECT jb.job_name, x.run_id FROM glue.job_runs x JOIN glue.jobs jb USING (job_id)
              WHERE x.workflow_run_id = r.workflow_run_id AND x.state IN ('WAITING', 'STARTING', 'RUNNING') LOOP
        PERFORM glue.batch_stop_job_run(j.job_name, ARRAY[j.run_id]);
    END LOOP;
    UPDATE glue.workflow_runs x SET status = 'STOPPED', completed_on = clock_timestamp()
     WHERE x.workflow_run_id = r.workflow_run_id;
END
$$;
-- from src/glue/workflows.sql
CREATE OR REPLACE FUNCTION glue.resume_workflow_run(name text, run_id bigint, node_ids text[] DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    w glue.workflows := glue._workflow(name, true);
    r glue.workflow_runs := glue._workflow_run(w, run_id);
    nodes text[];
    n text;
    j glue.jobs;
    id bigint;
BEGIN
    IF r.status = 'RUNNING' THEN
        RAISE EXCEPTION 'IllegalWorkflowStateException: run % of workflow "%" is still running', run_id, w.workflow_name
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Resume a run once it has COMPLETED or STOPPED.';
    END IF;
    nodes := coalesce(node_ids, ARRAY(SELECT x.name FROM glue._workflow_nodes(r.workflow_run_id) x
                                       WHERE x.state IN ('FAILED', 'TIMEOUT', 'STOPPED') ORDER BY x.name));
    IF cardinality(nodes) = 0 OR EXISTS (SELECT 1 FROM unnest(nodes) x
                                         WHERE x NOT IN (SELECT y.name FROM glue._workflow_nodes(r.workflow_run_id) y)) THEN
        PERFORM glue._invalid(format('run %s of workflow "%s" has no such job node to resume: %s', run_id, w.workflow_name,
                                     array_to_string(nodes, ', ')),
                              'Nodes are the job names in glue.get_workflow_run(...).nodes.');
    END IF;
    id := glue._new_workflow_run(w.workflow_name, r.run_properties, r.workflow_run_id);
    FOREACH n IN ARRAY nodes LOOP
        j := glue._job(n, true);
        PERFORM glue._start_run(j, jsonb_build_object('--WORKFLOW_NAME', w.workflow_name, '--WORKFLOW_RUN_ID', id::text),
                                NULL, 'resume', id);
    END LOOP;
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION glue._evaluate_triggers(), glue._complete_workflow_runs() FROM PUBLIC;


-- (a transform function that no longer exists: a clear error)
-- from src/firehose/firehose.sql
CREATE OR REPLACE FUNCTION firehose._check_config(d firehose.delivery_streams) RETURNS void
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    k record;
BEGIN
    IF d.destination_type = 'table' THEN
        IF d.record_format IS NULL OR d.record_format NOT IN ('columns', 'jsonb', 'bytea') THEN
            RAISE EXCEPTION 'InvalidArgumentException: record format "%" is not one of columns, jsonb, bytea', d.record_format
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM firehose._check_table(d.owner, d.destination_table, d.data_column,
                CASE d.record_format WHEN 'jsonb' THEN 'jsonb'::regtype WHEN 'bytea' THEN 'bytea'::regtype END,
                d.record_format || ' format');
    ELSE
        IF d.file_format IS NULL OR d.file_format NOT IN ('jsonlines', 'csv', 'text') THEN
            RAISE EXCEPTION 'InvalidArgumentException: file format "%" is not one of jsonlines, csv, text', d.file_format
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF d.compression IS NULL OR d.compression NOT IN ('UNCOMPRESSED', 'GZIP') THEN
            RAISE EXCEPTION 'InvalidArgumentException: compression "%" is not one of UNCOMPRESSED, GZIP', d.compression
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF d.file_format = 'jsonlines' AND d.file_columns IS NOT NULL THEN
            RAISE EXCEPTION 'InvalidArgumentException: file_columns apply to the csv and text formats only'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF cardinality(d.file_columns) = 0 OR array_position(d.file_columns, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'InvalidArgumentException: file_columns must name at least one column and no NULL'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF d.destination_type = 'files' THEN
        PERFORM firehose._check_server_role(d.owner, 'pg_write_server_files', 'write server files');
        IF d.destination_directory !~ '^/' OR d.destination_directory ~ '(^|/)\.\.?(/|$)' OR
           d.destination_directory ~ '//' OR length(d.destination_directory) > 1024 THEN
            RAISE EXCEPTION 'InvalidArgumentException: destination directory "%" must be an absolute path without "." or ".." components',
                    d.destination_directory
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF jsonb_typeof(d.partition_keys) <> 'object' OR
           (SELECT count(*) FROM jsonb_each(d.partition_keys)) > 50 THEN
            RAISE EXCEPTION 'InvalidArgumentException: partition_keys must be a JSON object of at most 50 keys, each a jsonpath'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR k IN SELECT key, value FROM jsonb_each(d.partition_keys) LOOP
            IF jsonb_typeof(k.value) <> 'string' OR k.key !~ '^[A-Za-z0-9_]{1,64}$' THEN
                RAISE EXCEPTION 'InvalidArgumentException: partition key "%" must be named by [A-Za-z0-9_] and map to a jsonpath string', k.key
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            BEGIN
                PERFORM (k.value #>> '{}')::jsonpath;
            EXCEPTION WHEN syntax_error OR invalid_text_representation THEN
                RAISE EXCEPTION 'InvalidArgumentException: partition key "%" has an invalid jsonpath: %', k.key, SQLERRM
                    USING ERRCODE = 'invalid_parameter_value';
            END;
        END LOOP;
        PERFORM firehose._check_prefix(d.prefix, d.partition_keys);
        IF d.file_extension !~ '^[A-Za-z0-9._-]{0,128}$' THEN
            RAISE EXCEPTION 'InvalidArgumentException: file extension "%" must have at most 128 characters of [A-Za-z0-9._-]',
                    d.file_extension USING ERRCODE = 'invalid_parameter_value';
        END IF;
    ELSIF d.destination_type = 'program' THEN
        PERFORM firehose._check_server_role(d.owner, 'pg_execute_server_program', 'execute server programs');
        IF coalesce(d.destination_program, '') = '' THEN
            RAISE EXCEPTION 'InvalidArgumentException: destination program must be a command'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF d.destination_type <> 'files' AND (d.prefix <> '' OR d.partition_keys <> '{}' OR d.file_extension IS NOT NULL) THEN
        RAISE EXCEPTION 'InvalidArgumentException: prefix, partition_keys and file_extension apply to file destinations only'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    PERFORM firehose._check_buffering((d.buffering_size_bytes / 1024 / 1024)::integer, d.buffering_interval);
    IF d.transform_retries NOT BETWEEN 0 AND 300 THEN
        RAISE EXCEPTION 'InvalidArgumentException: transform retries must be between 0 and 300'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF d.transform_function IS NOT NULL AND to_regprocedure(d.transform_function) IS NULL THEN
        RAISE EXCEPTION 'ResourceNotFoundException: transform function % does not exist', d.transform_function
            USING ERRCODE = 'undefined_function', HINT = 'Pass another transform_function to firehose.update_destination().';
    ELSIF d.transform_function IS NOT NULL AND NOT has_function_privilege(d.owner, d.transform_function, 'EXECUTE') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied for function %', d.transform_function
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF d.retry_duration IS NULL OR d.retry_duration < interval '0' OR d.retry_duration > interval '7200 s' THEN
        RAISE EXCEPTION 'InvalidArgumentException: retry duration must be between 0 and 7200 seconds'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF d.backup_mode IS NULL OR d.backup_mode NOT IN ('Disabled', 'AllData', 'FailedDataOnly') THEN
        RAISE EXCEPTION 'InvalidArgumentException: backup mode "%" is not one of Disabled, AllData, FailedDataOnly', d.backup_mode
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (d.backup_mode = 'Disabled') <> (d.backup_table IS NULL) THEN
        RAISE EXCEPTION 'InvalidArgumentException: backup mode % goes with % backup table', d.backup_mode,
                CASE WHEN d.backup_mode = 'Disabled' THEN 'no' ELSE 'a' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A backup table has a bytea column raw_data, and optionally columns named like those of firehose.delivery_errors.';
    END IF;
    IF d.backup_table IS NOT NULL THEN
        PERFORM firehose._check_table(d.owner, d.backup_table, 'raw_data', 'bytea', 'backup');
    END IF;
END
$$;

-- 6d. Views: the runner registry; the mapping status shows running slots
--     and why a slot waits; Firehose metrics count pending bytes as
--     numeric (sum of bigint), which CREATE OR REPLACE VIEW cannot change.
CREATE VIEW kinesis_glue.runners AS
    SELECT r.kind, d.datname AS database, r.id, r.part, r.generation,
           r.owner::pg_catalog.regrole AS owner, r.state, r.pid, r.since, r.reason
      FROM kinesis_glue._runners() r
      LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) r.datid;
GRANT SELECT ON kinesis_glue.runners TO PUBLIC;

-- Why the runner of (kind, id) in this database waits for a slot (the
-- runner caps), NULL when it does not wait: for the status views.
CREATE FUNCTION kinesis_glue._runner_waiting_reason(kind text, id bigint) RETURNS text
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT min(r.reason) FROM kinesis_glue._runners() r
     WHERE r.kind = $1 AND r.id = $2 AND r.state = 'waiting'
       AND r.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
$$;
-- the stream processors' status says why a processor's runner waits
CREATE OR REPLACE VIEW kinesis_video.stream_processor_status AS
    SELECT p.name, s.stream_name AS input_video_stream,
           pg_catalog.to_regprocedure(p.function_name)::pg_catalog.regproc AS function_name, p.output_stream, p.owner,
           p.status, p.last_fragment_number, p.fragments_processed, p.events_emitted, p.fragments_failed,
           p.failed_attempts, p.next_attempt_at, p.last_error, p.last_error_at,
           p.creation_timestamp, p.last_update_timestamp,
           kinesis_glue._runner_waiting_reason('processor', p.processor_id) AS waiting_reason
      FROM kinesis_video.stream_processors p JOIN kinesis_video.streams s USING (stream_id);
CREATE OR REPLACE VIEW kinesis.event_source_mapping_status AS
    SELECT m.mapping_id, s.stream_name, pg_catalog.to_regprocedure(m.function_name)::pg_catalog.regproc AS function_name, m.owner,
           CASE WHEN m.enabled THEN 'Enabled' ELSE 'Disabled' END AS state,
           m.batch_size, m.maximum_batching_window, m.parallelization_factor,
           m.maximum_retry_attempts, m.maximum_record_age, m.bisect_batch_on_function_error,
           m.on_failure_destination, m.last_processing_result, m.last_processed_at,
           m.last_error, m.last_error_at,
           r.running_slots, r.waiting_reason
      FROM kinesis.event_source_mappings m JOIN kinesis.streams s USING (stream_id)
      -- the runner registry: slots with a runner, and why one waits (caps)
      LEFT JOIN LATERAL (
           SELECT pg_catalog.count(*) FILTER (WHERE x.state OPERATOR(pg_catalog.=) 'running')::integer AS running_slots,
                  pg_catalog.min(x.reason) FILTER (WHERE x.state OPERATOR(pg_catalog.=) 'waiting') AS waiting_reason
             FROM kinesis_glue._runners() x
            WHERE x.kind OPERATOR(pg_catalog.=) 'mapping' AND x.id OPERATOR(pg_catalog.=) m.mapping_id
              AND x.datid OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d
                                                   WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())) r ON true;
DROP VIEW firehose.delivery_stream_metrics;
CREATE VIEW firehose.delivery_stream_metrics AS
    SELECT d.delivery_stream_name,
           CASE WHEN NOT d.enabled THEN 'STOPPED' WHEN d.failing_since IS NOT NULL THEN 'FAILING'
                ELSE 'ACTIVE' END AS status,
           d.destination_type,
           d.incoming_records + CASE WHEN d.delivery_stream_type = 'DirectPut'
                                     THEN coalesce(p.pending_records, 0) ELSE 0 END AS incoming_records,
           d.incoming_bytes + CASE WHEN d.delivery_stream_type = 'DirectPut'
                                   THEN coalesce(p.pending_bytes, 0) ELSE 0 END AS incoming_bytes,
           d.records_delivered, d.bytes_delivered,
           d.objects_delivered, d.records_dropped, d.processing_failed, d.delivery_failed,
           d.format_failed, d.partitioning_failed, d.destination_failed, d.failed_attempts_total,
           d.records_backed_up,
           p.pending_records, p.pending_bytes, p.data_freshness,
           d.last_delivery_at, d.last_error, d.last_error_at, d.failing_since, d.failed_attempts,
           d.next_attempt_at,
           kinesis_glue._runner_waiting_reason('delivery', d.delivery_stream_id) AS waiting_reason
      FROM firehose.delivery_streams d
      LEFT JOIN LATERAL (
           SELECT sum(c.lag_records) AS pending_records, sum(c.lag_bytes) AS pending_bytes,
                  max(c.lag_time) AS data_freshness
             FROM kinesis.consumer_positions c
            WHERE c.stream_name OPERATOR(pg_catalog.=) d.source_stream
              AND c.consumer_name OPERATOR(pg_catalog.=) d.consumer_name) p ON true;
GRANT SELECT ON firehose.delivery_stream_metrics TO PUBLIC;
COMMENT ON VIEW firehose.delivery_stream_metrics IS
    'per delivery stream: records and bytes in and delivered, failures by kind, data freshness, last error, why its runner waits';


-- 7. Reads on hot standbys (scale-out) and put_record's named row type
-- (performance), merged into 0.2.0 after 6 was written.

-- The stable bound the worker publishes in WAL for hot standbys
-- (src/streams/streams.sql).  Not dumped: the worker of a restored database
-- publishes its own (src/common/dump.sql).
CREATE TABLE kinesis.stream_bounds (
    stream_id integer PRIMARY KEY,
    stable_counter bigint NOT NULL,   -- records with a lower counter belong to ended transactions
    published_at timestamptz NOT NULL
);
GRANT SELECT ON kinesis.stream_bounds TO PUBLIC;

-- kinesis.stream_stability gains the published bound and its age: its
-- function's result columns change, so both are made again.
DROP VIEW kinesis.stream_stability;
DROP FUNCTION kinesis._stream_stability(integer);
CREATE FUNCTION kinesis._stream_stability(stream_id integer,
        OUT current_sequence_number bigint, OUT last_stable_sequence_number bigint,
        OUT open_producers integer, OUT oldest_producer_start timestamptz,
        OUT published_stable_sequence_number bigint, OUT published_at timestamptz)
    RETURNS record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_stream_stability_sql';

CREATE VIEW kinesis.stream_stability AS
    SELECT s.stream_name, st.current_sequence_number, st.last_stable_sequence_number,
           st.open_producers,
           pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) st.oldest_producer_start
               AS oldest_producer_age,
           st.published_stable_sequence_number,
           pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) st.published_at AS published_age
      FROM kinesis.streams s, LATERAL kinesis._stream_stability(s.stream_id) st;
GRANT SELECT ON kinesis.stream_stability TO PUBLIC;
COMMENT ON VIEW kinesis.stream_stability IS
    'per stream: highest sequence number handed out, last stable sequence number readers may return, open producer transactions and the age of the oldest, and the bound last published in WAL for hot standbys and its age (on a standby: the replayed bound only)';

-- put_record returns a named row type with the same columns as before
-- (RETURNS TABLE made the executor rebuild the row type on every call); a
-- function's result type cannot change in place.
CREATE TYPE kinesis.put_record_result AS (shard_id text, sequence_number bigint);
DROP FUNCTION kinesis.put_record(text, text, bytea, numeric, bigint);
CREATE FUNCTION kinesis.put_record(stream_name text, partition_key text, data bytea,
                                   explicit_hash_key numeric DEFAULT NULL,
                                   sequence_number_for_ordering bigint DEFAULT NULL)
    RETURNS SETOF kinesis.put_record_result
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 1 AS 'MODULE_PATHNAME', 'kg_put_record';

-- Stream metadata (src/streams/stream_metadata.sql): tags, resource policies,
-- encryption and enhanced-monitoring settings, limits, account settings,
-- child shards.
-- Tags of a stream (consumer_id NULL) or of one of its consumers.
CREATE TABLE kinesis.tags (
    stream_id integer NOT NULL REFERENCES kinesis.streams ON DELETE CASCADE,
    consumer_id integer REFERENCES kinesis.consumers ON DELETE CASCADE,
    tag_key text NOT NULL,
    tag_value text NOT NULL,
    UNIQUE NULLS NOT DISTINCT (stream_id, consumer_id, tag_key)
);

-- The resource policy of a stream (consumer_id NULL) or consumer, as given.
CREATE TABLE kinesis.resource_policies (
    stream_id integer NOT NULL REFERENCES kinesis.streams ON DELETE CASCADE,
    consumer_id integer REFERENCES kinesis.consumers ON DELETE CASCADE,
    policy text NOT NULL,
    UNIQUE NULLS NOT DISTINCT (stream_id, consumer_id)
);
-- tags and policies are read through the functions, which check the caller
REVOKE ALL ON kinesis.tags, kinesis.resource_policies FROM PUBLIC;

-- Encryption and enhanced monitoring of a stream; no row: NONE and none.
CREATE TABLE kinesis.stream_settings (
    stream_id integer PRIMARY KEY REFERENCES kinesis.streams ON DELETE CASCADE,
    encryption_type text NOT NULL DEFAULT 'NONE' CHECK (encryption_type IN ('NONE', 'KMS')),
    key_id text CHECK ((key_id IS NULL) = (encryption_type OPERATOR(pg_catalog.=) 'NONE')),
    shard_level_metrics text[] NOT NULL DEFAULT '{}'
);
GRANT SELECT ON kinesis.stream_settings TO PUBLIC;

-- The stream (and consumer) a metadata call names, with the caller's rights
-- checked: 'write' needs the owner's privileges (for a consumer also those
-- of the role that registered it), 'read' also admits readers of the records.
-- A writer also locks the stream's row.
CREATE FUNCTION kinesis._metadata_target(stream_name text, consumer_name text, access text,
                                         OUT stream_id integer, OUT consumer_id integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis.streams;
    c kinesis.consumers;
    who regrole := kinesis_glue.caller();
BEGIN
    IF stream_name IS NULL THEN
        RAISE EXCEPTION 'ValidationException: stream name must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF access = 'write' THEN
        SELECT * INTO s FROM kinesis.streams x WHERE x.stream_name = _metadata_target.stream_name FOR NO KEY UPDATE;
    ELSE
        SELECT * INTO s FROM kinesis.streams x WHERE x.stream_name = _metadata_target.stream_name;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: stream "%" does not exist', stream_name
            USING ERRCODE = 'undefined_object', HINT = 'List the data streams with kinesis.list_streams().';
    END IF;
    stream_id := s.stream_id;
    IF consumer_name IS NOT NULL THEN
        SELECT * INTO c FROM kinesis.consumers x
         WHERE x.stream_id = s.stream_id AND x.consumer_name = _metadata_target.consumer_name;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ResourceNotFoundException: consumer "%" of stream "%" does not exist', consumer_name, stream_name
                USING ERRCODE = 'undefined_object', HINT = 'List the consumers with kinesis.list_stream_consumers().';
        END IF;
        consumer_id := c.consumer_id;
    END IF;
    IF pg_has_role(who, s.owner, 'USAGE')
       OR (c.registered_by IS NOT NULL AND pg_has_role(who, c.registered_by, 'USAGE')) THEN
        RETURN;
    END IF;
    IF access = 'read' AND s.record_table IS NOT NULL AND has_table_privilege(who, s.record_table, 'SELECT') THEN
        RETURN;
    END IF;
    IF access = 'read' THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner or reader of stream "%" to read its metadata', stream_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Readers of a stream hold SELECT on its records (kinesis_records).';
    END IF;
    RAISE EXCEPTION 'AccessDeniedException: must be owner of stream "%" to change its %', stream_name,
            CASE WHEN consumer_name IS NULL THEN 'metadata' ELSE format('consumer "%s"', consumer_name) END
        USING ERRCODE = 'insufficient_privilege',
              HINT = CASE WHEN consumer_name IS NULL THEN 'Members of the stream''s owner may.'
                          ELSE 'Members of the stream''s owner or of the role that registered the consumer may.' END;
END
$$;

-- Tags ----------------------------------------------------------------------

-- Add or overwrite tags (a JSON object of strings) of a stream or consumer,
-- and remove tag_keys, with Kinesis' rules: keys 1-128 and values 0-256
-- characters of Unicode letters, digits, white space and _ . : / = + - @,
-- no "aws:" prefix, at most 50 tags per resource.
CREATE FUNCTION kinesis._change_tags(stream_name text, consumer_name text, tags jsonb, tag_keys text[])
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t record := kinesis._metadata_target(stream_name, consumer_name, 'write');
    what text := CASE WHEN consumer_name IS NULL THEN format('stream %s', stream_name)
                      ELSE format('consumer %s of stream %s', consumer_name, stream_name) END;
    bad text;
    n integer;
BEGIN
    IF tags IS NOT NULL THEN
        IF jsonb_typeof(tags) <> 'object' OR tags = '{}' THEN
            RAISE EXCEPTION 'ValidationException: tags must be a non-empty JSON object of keys and string values'
                USING ERRCODE = 'invalid_parameter_value', HINT = 'For example ''{"team": "billing"}''.';
        END IF;
        SELECT k INTO bad FROM jsonb_each(tags) e(k, v) WHERE jsonb_typeof(v) <> 'string' LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ValidationException: the value of tag "%" is not a string', bad
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF tag_keys IS NOT NULL AND (cardinality(tag_keys) NOT BETWEEN 1 AND 50 OR array_position(tag_keys, NULL) IS NOT NULL) THEN
        RAISE EXCEPTION 'ValidationException: 1 to 50 tag keys, none NULL, must be given'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- lengths first (as the API's shape checks), then characters
    SELECT k INTO bad
      FROM (SELECT key, value FROM jsonb_each_text(tags) UNION ALL SELECT u, '' FROM unnest(tag_keys) u) e(k, v)
     WHERE length(k) NOT BETWEEN 1 AND 128 OR length(v) > 256 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ValidationException: tag keys must have 1 to 128 characters and values at most 256'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The offending key is "%s".', left(bad, 200));
    END IF;
    IF EXISTS (SELECT FROM jsonb_each_text(tags) e(k, v) WHERE strpos(k || v, '%') > 0) THEN
        RAISE EXCEPTION 'InvalidArgumentException: Failed to add tags to % because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, ''_'','','',''/'',''='',''+'',''-'',''@''.', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Unicode letters and digits are the characters outside ASCII that are
    -- not controls; in ASCII, letters, digits, white space and _ . : / = + - @
    IF EXISTS (SELECT FROM jsonb_each_text(tags) e(k, v)
                WHERE (k || v) ~ '[\x01-\x08\x0e-\x1f!-$&-*,;<>?[-^`{-\x7f\x80-\x9f]') THEN
        RAISE EXCEPTION 'InvalidArgumentException: Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - %% @.'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM jsonb_object_keys(tags) k WHERE lower(k) LIKE 'aws:%') THEN
        RAISE EXCEPTION 'InvalidArgumentException: Failed to add tags to % because the prefix "aws:" is reserved for AWS', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    DELETE FROM kinesis.tags x
     WHERE x.stream_id = t.stream_id AND x.consumer_id IS NOT DISTINCT FROM t.consumer_id
       AND x.tag_key = ANY (tag_keys);
    IF tags IS NOT NULL THEN
        INSERT INTO kinesis.tags (stream_id, consumer_id, tag_key, tag_value)
        SELECT t.stream_id, t.consumer_id, e.key, e.value FROM jsonb_each_text(tags) e
        ON CONFLICT (stream_id, consumer_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value;
        SELECT count(*) INTO n FROM kinesis.tags x
         WHERE x.stream_id = t.stream_id AND x.consumer_id IS NOT DISTINCT FROM t.consumer_id;
        IF n > 50 THEN
            RAISE EXCEPTION 'LimitExceededException: Failed to add tags to % because a given % cannot have more than 50 tags associated with it.', what,
                    CASE WHEN consumer_name IS NULL THEN 'stream' ELSE 'consumer' END
                USING ERRCODE = 'program_limit_exceeded',
                      HINT = format('It has %s tags with these; remove some first.', n);
        END IF;
    END IF;
END
$$;

-- Tags of a stream or consumer in byte order of their keys, after
-- exclusive_start_tag_key, at most "limit" (NULL: all).
CREATE FUNCTION kinesis._list_tags(stream_name text, consumer_name text, exclusive_start_tag_key text, "limit" integer)
    RETURNS TABLE (tag_key text, tag_value text)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t record;
BEGIN
    IF "limit" < 1 THEN
        RAISE EXCEPTION 'ValidationException: limit must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    t := kinesis._metadata_target(stream_name, consumer_name, 'read');
    RETURN QUERY
        SELECT x.tag_key, x.tag_value FROM kinesis.tags x
         WHERE x.stream_id = t.stream_id AND x.consumer_id IS NOT DISTINCT FROM t.consumer_id
           AND (exclusive_start_tag_key IS NULL OR x.tag_key COLLATE "C" > exclusive_start_tag_key)
         ORDER BY x.tag_key COLLATE "C" LIMIT "limit";
END
$$;

CREATE FUNCTION kinesis.add_tags_to_stream(stream_name text, tags jsonb)
    RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$ SELECT kinesis._change_tags(stream_name, NULL, tags, NULL) $$;

CREATE FUNCTION kinesis.remove_tags_from_stream(stream_name text, tag_keys text[])
    RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$ SELECT kinesis._change_tags(stream_name, NULL, NULL, coalesce(tag_keys, '{}')) $$;

CREATE FUNCTION kinesis.list_tags_for_stream(stream_name text, exclusive_start_tag_key text DEFAULT NULL,
                                             "limit" integer DEFAULT NULL)
    RETURNS TABLE (tag_key text, tag_value text) LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$ SELECT * FROM kinesis._list_tags(stream_name, NULL, exclusive_start_tag_key, "limit") $$;

-- TagResource / UntagResource / ListTagsForResource: the stream, or its
-- consumer when consumer_name is given.
CREATE FUNCTION kinesis.tag_resource(stream_name text, tags jsonb, consumer_name text DEFAULT NULL)
    RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$ SELECT kinesis._change_tags(stream_name, consumer_name, tags, NULL) $$;

CREATE FUNCTION kinesis.untag_resource(stream_name text, tag_keys text[], consumer_name text DEFAULT NULL)
    RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$ SELECT kinesis._change_tags(stream_name, consumer_name, NULL, coalesce(tag_keys, '{}')) $$;

CREATE FUNCTION kinesis.list_tags_for_resource(stream_name text, consumer_name text DEFAULT NULL)
    RETURNS TABLE (tag_key text, tag_value text) LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$ SELECT * FROM kinesis._list_tags(stream_name, consumer_name, NULL, NULL) $$;

-- Resource policies ---------------------------------------------------------

-- Attach policy (a JSON object, kept as given) to a stream or consumer.
CREATE FUNCTION kinesis.put_resource_policy(stream_name text, policy text, consumer_name text DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t record := kinesis._metadata_target(stream_name, consumer_name, 'write');
    doc jsonb;
BEGIN
    BEGIN
        doc := policy::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        doc := NULL;
    END;
    IF doc IS NULL OR jsonb_typeof(doc) <> 'object' OR length(policy) > 20480 THEN
        RAISE EXCEPTION 'InvalidArgumentException: the resource policy must be a JSON object of at most 20480 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''{"Version": "2012-10-17", "Statement": [...]}''.';
    END IF;
    INSERT INTO kinesis.resource_policies (stream_id, consumer_id, policy)
    VALUES (t.stream_id, t.consumer_id, policy)
    ON CONFLICT (stream_id, consumer_id) DO UPDATE SET policy = excluded.policy;
END
$$;

-- The policy of a stream or consumer, NULL when none is attached.
CREATE FUNCTION kinesis.get_resource_policy(stream_name text, consumer_name text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t record := kinesis._metadata_target(stream_name, consumer_name, 'read');
BEGIN
    RETURN (SELECT p.policy FROM kinesis.resource_policies p
             WHERE p.stream_id = t.stream_id AND p.consumer_id IS NOT DISTINCT FROM t.consumer_id);
END
$$;

CREATE FUNCTION kinesis.delete_resource_policy(stream_name text, consumer_name text DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t record := kinesis._metadata_target(stream_name, consumer_name, 'write');
BEGIN
    DELETE FROM kinesis.resource_policies p
     WHERE p.stream_id = t.stream_id AND p.consumer_id IS NOT DISTINCT FROM t.consumer_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: no resource policy is attached to %',
                CASE WHEN consumer_name IS NULL THEN format('stream "%s"', stream_name)
                     ELSE format('consumer "%s" of stream "%s"', consumer_name, stream_name) END
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;

-- Encryption and enhanced monitoring ------------------------------------------

-- Record the stream's encryption: KMS with key_id (start), or NONE (stop,
-- which names the key in use as Kinesis requires).
CREATE FUNCTION kinesis._set_encryption(stream_name text, encryption_type text, key_id text, start boolean)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t record := kinesis._metadata_target(stream_name, NULL, 'write');
    cur kinesis.stream_settings;
BEGIN
    IF encryption_type IS DISTINCT FROM 'KMS' THEN
        RAISE EXCEPTION 'InvalidArgumentException: encryption type "%" is not KMS', encryption_type
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The only encryption type is KMS.';
    END IF;
    IF length(key_id) NOT BETWEEN 1 AND 2048 OR key_id IS NULL THEN
        RAISE EXCEPTION 'ValidationException: key id must have 1 to 2048 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO cur FROM kinesis.stream_settings x WHERE x.stream_id = t.stream_id;
    IF NOT start AND cur.key_id IS DISTINCT FROM key_id THEN
        RAISE EXCEPTION 'InvalidArgumentException: stream "%" is not encrypted with key "%"', stream_name, key_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO kinesis.stream_settings AS x (stream_id, encryption_type, key_id)
    VALUES (t.stream_id, CASE WHEN start THEN 'KMS' ELSE 'NONE' END, CASE WHEN start THEN key_id END)
    ON CONFLICT (stream_id) DO UPDATE SET encryption_type = excluded.encryption_type, key_id = excluded.key_id;
END
$$;

CREATE FUNCTION kinesis.start_stream_encryption(stream_name text, encryption_type text, key_id text)
    RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$ SELECT kinesis._set_encryption(stream_name, encryption_type, key_id, true) $$;

CREATE FUNCTION kinesis.stop_stream_encryption(stream_name text, encryption_type text, key_id text)
    RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$ SELECT kinesis._set_encryption(stream_name, encryption_type, key_id, false) $$;

-- Add (enable) or remove the shard-level metrics ("ALL": every one);
-- returns the metrics before and after, in Kinesis' order.
CREATE FUNCTION kinesis._set_enhanced_monitoring(stream_name text, shard_level_metrics text[], enable boolean,
        OUT current_shard_level_metrics text[], OUT desired_shard_level_metrics text[])
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t record := kinesis._metadata_target(stream_name, NULL, 'write');
    known text[] := ARRAY['IncomingBytes', 'IncomingRecords', 'OutgoingBytes', 'OutgoingRecords',
                          'WriteProvisionedThroughputExceeded', 'ReadProvisionedThroughputExceeded',
                          'IteratorAgeMilliseconds'];
    bad text;
    given text[];
BEGIN
    IF cardinality(shard_level_metrics) NOT BETWEEN 1 AND 7 OR shard_level_metrics IS NULL THEN
        RAISE EXCEPTION 'ValidationException: 1 to 7 shard-level metrics must be given'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT m INTO bad FROM unnest(shard_level_metrics) m WHERE m IS NULL OR NOT (m = ANY (known) OR m = 'ALL') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ValidationException: shard-level metric "%" is not one of %, ALL', bad, array_to_string(known, ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    given := CASE WHEN 'ALL' = ANY (shard_level_metrics) THEN known ELSE shard_level_metrics END;
    current_shard_level_metrics := coalesce((SELECT x.shard_level_metrics FROM kinesis.stream_settings x
                                              WHERE x.stream_id = t.stream_id), '{}');
    desired_shard_level_metrics := ARRAY(SELECT k FROM unnest(known) k
                                          WHERE CASE WHEN enable THEN k = ANY (current_shard_level_metrics) OR k = ANY (given)
                                                     ELSE k = ANY (current_shard_level_metrics) AND k <> ALL (given) END);
    INSERT INTO kinesis.stream_settings AS x (stream_id, shard_level_metrics)
    VALUES (t.stream_id, desired_shard_level_metrics)
    ON CONFLICT (stream_id) DO UPDATE SET shard_level_metrics = excluded.shard_level_metrics;
END
$$;

CREATE FUNCTION kinesis.enable_enhanced_monitoring(stream_name text, shard_level_metrics text[],
        OUT current_shard_level_metrics text[], OUT desired_shard_level_metrics text[])
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$ SELECT * FROM kinesis._set_enhanced_monitoring(stream_name, shard_level_metrics, true) $$;

CREATE FUNCTION kinesis.disable_enhanced_monitoring(stream_name text, shard_level_metrics text[],
        OUT current_shard_level_metrics text[], OUT desired_shard_level_metrics text[])
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$ SELECT * FROM kinesis._set_enhanced_monitoring(stream_name, shard_level_metrics, false) $$;

-- What DescribeStream(Summary) adds to describe_stream_summary: the
-- encryption and the shard-level metrics of a stream.
CREATE FUNCTION kinesis.describe_stream_settings(stream_name text,
        OUT encryption_type text, OUT key_id text, OUT shard_level_metrics text[])
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    id integer;
BEGIN
    SELECT s.stream_id INTO id FROM kinesis.streams s WHERE s.stream_name = describe_stream_settings.stream_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: stream "%" does not exist', stream_name
            USING ERRCODE = 'undefined_object', HINT = 'List the data streams with kinesis.list_streams().';
    END IF;
    SELECT coalesce(x.encryption_type, 'NONE'), x.key_id, coalesce(x.shard_level_metrics, '{}')
      INTO encryption_type, key_id, shard_level_metrics
      FROM (SELECT) d LEFT JOIN kinesis.stream_settings x ON x.stream_id = id;
END
$$;

-- Limits ---------------------------------------------------------------------

-- DescribeLimits: the settings kinesis_glue.shard_limit and
-- kinesis_glue.on_demand_stream_count_limit, and what counts against them in
-- this database (open shards of every stream; ON_DEMAND streams).
CREATE FUNCTION kinesis.describe_limits(OUT shard_limit integer, OUT open_shard_count integer,
        OUT on_demand_stream_count integer, OUT on_demand_stream_count_limit integer)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT current_setting('kinesis_glue.shard_limit')::integer,
           (SELECT count(*) FROM kinesis.shards WHERE ending_sequence_number IS NULL)::integer,
           (SELECT count(*) FROM kinesis.streams WHERE stream_mode = 'ON_DEMAND')::integer,
           current_setting('kinesis_glue.on_demand_stream_count_limit')::integer
$$;

-- LimitExceededException when additional_shards more open shards, or one
-- more ON_DEMAND stream (to_on_demand), would pass the limits (called by
-- create_stream, split_shard, update_shard_count and update_stream_mode).
CREATE FUNCTION kinesis._check_limits(stream_name text, additional_shards integer, to_on_demand boolean)
    RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    l record := kinesis.describe_limits();
BEGIN
    IF additional_shards > 0 AND l.open_shard_count + additional_shards > l.shard_limit THEN
        RAISE EXCEPTION 'LimitExceededException: This request would exceed the shard limit for the account. Current shard count for the account: %. Limit: %. Number of additional shards that would have resulted from this request: %.',
                l.open_shard_count, l.shard_limit, additional_shards
            USING ERRCODE = 'program_limit_exceeded', DETAIL = format('The request was for stream "%s".', stream_name),
                  HINT = 'A superuser can raise kinesis_glue.shard_limit.';
    END IF;
    IF to_on_demand AND l.on_demand_stream_count + 1 > l.on_demand_stream_count_limit THEN
        RAISE EXCEPTION 'LimitExceededException: This request would exceed the limit of % ON_DEMAND streams for the account.',
                l.on_demand_stream_count_limit
            USING ERRCODE = 'program_limit_exceeded', DETAIL = format('The request was for stream "%s".', stream_name),
                  HINT = 'A superuser can raise kinesis_glue.on_demand_stream_count_limit.';
    END IF;
END
$$;

-- Account settings ---------------------------------------------------------

-- DescribeAccountSettings / UpdateAccountSettings: the minimum throughput
-- billing commitment of the "account" (this database), recorded as set.
-- One row at most; none: DISABLED, never set.  describe_account_settings()
-- returns (commitment_status, started_at, ended_at).
CREATE TABLE kinesis.account_settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    minimum_throughput_billing_commitment text NOT NULL
        CHECK (minimum_throughput_billing_commitment IN ('ENABLED', 'DISABLED')),
    started_at timestamptz,
    ended_at timestamptz,
    updated_by regrole NOT NULL
);
GRANT SELECT ON kinesis.account_settings TO PUBLIC;

CREATE FUNCTION kinesis.describe_account_settings(
        OUT commitment_status text, OUT started_at timestamptz, OUT ended_at timestamptz)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce(a.minimum_throughput_billing_commitment, 'DISABLED'), a.started_at, a.ended_at
      FROM (SELECT) d LEFT JOIN kinesis.account_settings a ON true
$$;

-- ENABLED starts the commitment (started_at), DISABLED ends it (ended_at);
-- setting what is set changes nothing.  Needs the privileges of the
-- database's owner (the "account" administrator).
CREATE FUNCTION kinesis.update_account_settings(minimum_throughput_billing_commitment text,
        OUT commitment_status text, OUT started_at timestamptz, OUT ended_at timestamptz)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    wanted text := $1;
    cur record := kinesis.describe_account_settings();
BEGIN
    IF wanted IS NULL OR wanted NOT IN ('ENABLED', 'DISABLED') THEN
        RAISE EXCEPTION 'ValidationException: minimum throughput billing commitment "%" is not one of ENABLED, DISABLED', wanted
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT pg_has_role(kinesis_glue.caller(), (SELECT d.datdba FROM pg_database d WHERE d.datname = current_database()), 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of database % to change the account settings', current_database()
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF wanted IS DISTINCT FROM cur.commitment_status THEN
        INSERT INTO kinesis.account_settings AS a (minimum_throughput_billing_commitment, started_at, ended_at, updated_by)
        VALUES (wanted, CASE WHEN wanted = 'ENABLED' THEN clock_timestamp() END,
                CASE WHEN wanted = 'DISABLED' THEN clock_timestamp() END, kinesis_glue.caller())
        ON CONFLICT (singleton) DO UPDATE
           SET minimum_throughput_billing_commitment = excluded.minimum_throughput_billing_commitment,
               started_at = coalesce(excluded.started_at, a.started_at),
               ended_at = excluded.ended_at, updated_by = excluded.updated_by;
    END IF;
    SELECT * INTO commitment_status, started_at, ended_at FROM kinesis.describe_account_settings();
END
$$;

-- Child shards -----------------------------------------------------------------

CREATE FUNCTION kinesis._iterator_position(shard_iterator text,
        OUT stream_id integer, OUT shard_index integer, OUT stream_creation_timestamp timestamptz)
    LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'kg_iterator_position_sql';

-- The children of the shard a shard iterator reads, as GetRecords' and
-- SubscribeToShard's ChildShards list them: id, parents (a merge's shard to
-- merge first, then the adjacent one), hash key range.
-- (get_records names them in child_shards once the closed shard is read to
-- its end; this adds what the wire API returns with them.)
CREATE FUNCTION kinesis.child_shards(shard_iterator text)
    RETURNS TABLE (shard_id text, parent_shards text[], starting_hash_key numeric, ending_hash_key numeric)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT 'shardId-' || lpad(c.shard_index::text, 12, '0'),
           ARRAY(SELECT 'shardId-' || lpad(x::text, 12, '0')
                   FROM unnest(ARRAY[c.parent_shard_index, c.adjacent_parent_shard_index]) WITH ORDINALITY u(x, o)
                  WHERE x IS NOT NULL ORDER BY o),
           c.starting_hash_key, c.ending_hash_key
      FROM kinesis._iterator_position(shard_iterator) p
      JOIN kinesis.streams s ON s.stream_id = p.stream_id AND s.stream_creation_timestamp = p.stream_creation_timestamp
      JOIN kinesis.shards c ON c.stream_id = p.stream_id
                           AND p.shard_index IN (c.parent_shard_index, c.adjacent_parent_shard_index)
     ORDER BY c.shard_index
$$;

SELECT pg_catalog.pg_extension_config_dump('kinesis.tags', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.resource_policies', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.stream_settings', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.account_settings', '');
-- Handing a hash key range from one server to another (kinesis_cluster grows by splitting a shard
-- onto a new node, README "Scaling out"): close_shard closes an open shard without children here and
-- returns its ending sequence number; open_shards opens shards over ranges no open shard covers,
-- numbered above after_sequence_number (creating the stream, without other shards, when it does not
-- exist here).  Both need the stream's owner (open_shards on a new stream: CREATE on kinesis_records).
CREATE FUNCTION kinesis.close_shard(stream_name text, shard_to_close text)
    RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_close_shard_sql';

CREATE FUNCTION kinesis.open_shards(stream_name text, starting_hash_keys numeric[], ending_hash_keys numeric[],
                                    after_sequence_number bigint DEFAULT NULL,
                                    retention_period interval DEFAULT '24 hours')
    RETURNS TABLE (shard_id text, starting_sequence_number bigint)
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_open_shards';
-- get_records as rows (issue 19): a row per record, then one last row with
-- next_shard_iterator, millis_behind_latest and child_shards
CREATE TYPE kinesis.get_records_row AS (shard_id text, sequence_number bigint,
                                        approximate_arrival_timestamp timestamptz,
                                        partition_key text, data bytea, next_shard_iterator text,
                                        millis_behind_latest bigint, child_shards text[]);
-- get_records as rows, without building the records array (README "Reading
-- as rows"); wait as in the waiting get_records (consumers.sql)
CREATE FUNCTION kinesis.get_records_rows(shard_iterator text, "limit" integer DEFAULT 10000,
                                         wait interval DEFAULT NULL)
    RETURNS SETOF kinesis.get_records_row
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 1001 AS 'MODULE_PATHNAME', 'kg_get_records_rows';
-- Record distribution strategy (UpdateStreamRecordDistributionStrategy,
-- CreateStream RecordDistributionStrategy): a catalog column, its update
-- function, and describe_stream_settings reports it (a new OUT column, so
-- the function is dropped and created again).
ALTER TABLE kinesis.streams
    ADD COLUMN record_distribution_strategy text NOT NULL DEFAULT 'USER_PARTITION_KEY'
        CHECK (record_distribution_strategy = 'USER_PARTITION_KEY'
               OR (record_distribution_strategy = 'AUTO' AND stream_mode = 'ON_DEMAND'));
CREATE FUNCTION kinesis.update_stream_record_distribution_strategy(stream_name text, strategy text)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_update_record_distribution';

DROP FUNCTION kinesis.describe_stream_settings(text);
CREATE FUNCTION kinesis.describe_stream_settings(stream_name text,
        OUT encryption_type text, OUT key_id text, OUT shard_level_metrics text[],
        OUT record_distribution_strategy text)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    id integer;
BEGIN
    SELECT s.stream_id, CASE WHEN s.stream_mode = 'ON_DEMAND' THEN s.record_distribution_strategy END
      INTO id, record_distribution_strategy
      FROM kinesis.streams s WHERE s.stream_name = describe_stream_settings.stream_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: stream "%" does not exist', stream_name
            USING ERRCODE = 'undefined_object', HINT = 'List the data streams with kinesis.list_streams().';
    END IF;
    SELECT coalesce(x.encryption_type, 'NONE'), x.key_id, coalesce(x.shard_level_metrics, '{}')
      INTO encryption_type, key_id, shard_level_metrics
      FROM (SELECT) d LEFT JOIN kinesis.stream_settings x ON x.stream_id = id;
END
$$;


-- get_clip in C (issue 19): the result row is built once, each fragment read from TOAST
-- straight into it; the checks move to kinesis_video._clip_plan
-- from src/video/video_read.sql
CREATE FUNCTION kinesis_video._clip_plan(stream_name text, fragment_selector_type text,
        start_timestamp timestamptz, end_timestamp timestamptz,
        OUT content_type text, OUT range_sql text, OUT horizon timestamptz)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams := kinesis_video._get_readable(_clip_plan.stream_name);
    ts_col text := kinesis_video._ts_column(fragment_selector_type, 'fragment selector type');
    n integer;
    bytes bigint;
BEGIN
    PERFORM kinesis_video._require_retention(s);
    IF start_timestamp IS NULL OR end_timestamp IS NULL OR end_timestamp <= start_timestamp
       OR end_timestamp - start_timestamp > interval '24 hours' THEN
        RAISE EXCEPTION 'InvalidArgumentException: a clip needs a start timestamp before its end timestamp, at most 24 hours apart'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    range_sql := kinesis_video._range_sql(s, ts_col);
    horizon := kinesis_video._horizon(s);
    EXECUTE format('SELECT count(*), sum(fragment_size_in_bytes) FROM (%s) c', range_sql)
       INTO n, bytes
       USING horizon, start_timestamp, end_timestamp;
    IF n = 0 THEN
        RAISE EXCEPTION 'ResourceNotFoundException: no fragments of video stream "%" in the requested range', s.stream_name
            USING ERRCODE = 'undefined_object';
    END IF;
    IF n > 200 OR bytes > 100 * 1024 * 1024 THEN
        RAISE EXCEPTION 'ClientLimitExceededException: the clip would have % fragments and % bytes', n, bytes
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'A clip has at most 200 fragments and 100 MB.',
                  HINT = 'Ask for a shorter time range.';
    END IF;
    content_type := coalesce(s.media_type, 'application/octet-stream');
END
$$;

-- from src/video/video_read.sql
CREATE OR REPLACE FUNCTION kinesis_video.get_clip(stream_name text, fragment_selector_type text,
        start_timestamp timestamptz, end_timestamp timestamptz)
    RETURNS TABLE (content_type text, payload bytea, fragment_count integer,
                   first_fragment_number bigint, last_fragment_number bigint)
    LANGUAGE c VOLATILE ROWS 1 SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'kg_video_get_clip';

-- glue.bookmark_records in C: a bookmarked stream read is one call into the
-- statement's rows (job_runs.sql), opened and scanned by these two
-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue.bookmark_records(stream_name text, max_records integer DEFAULT NULL)
    RETURNS SETOF kinesis.record
    LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_bookmark_records';

-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue._bookmark_stream_open(stream_name text, OUT option text, OUT consumer text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs := glue._current_run();
BEGIN
    option := glue._bookmark_option(r);
    IF option = 'job-bookmark-disable' THEN
        RETURN;
    END IF;
    consumer := 'glue-job-' || r.job_id;
    IF NOT EXISTS (SELECT 1 FROM kinesis.list_stream_consumers(stream_name) c WHERE c.consumer_name = consumer) THEN
        PERFORM kinesis.register_stream_consumer(stream_name, consumer, 'TRIM_HORIZON');
    END IF;
    PERFORM glue._bookmark_save('stream:' || stream_name, 'stream', NULL, NULL);
END
$$;

-- from src/glue/job_runs.sql
CREATE OR REPLACE FUNCTION glue._bookmark_stream_scan(stream_name text, consumer text)
    RETURNS SETOF kinesis.record
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s record;
BEGIN
    IF consumer IS NULL THEN
        FOR s IN SELECT * FROM kinesis.list_shards(stream_name) ORDER BY shard_id LOOP
            RETURN QUERY SELECT * FROM glue._shard_records(stream_name, s.shard_id, NULL);
        END LOOP;
        RETURN;
    END IF;
    FOR s IN SELECT p.shard_id, p.checkpoint_sequence_number FROM kinesis.consumer_positions p
              WHERE p.stream_name = _bookmark_stream_scan.stream_name AND p.consumer_name = consumer
              ORDER BY p.shard_id LOOP
        RETURN QUERY SELECT * FROM glue._shard_records(stream_name, s.shard_id,
                kinesis.read_shard_start(stream_name, s.shard_id, s.checkpoint_sequence_number));
    END LOOP;
END
$$;

