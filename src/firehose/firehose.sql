-- Firehose delivery streams (src/firehose), the catalog and the API: a
-- delivery stream reads a kinesis data stream (its own internal one for
-- Direct PUT) through a named consumer, buffers by size and time,
-- optionally transforms with a SQL function, and delivers into a table,
-- into files ("objects") under a server directory, or to a program.  The
-- delivery itself is in firehose_delivery.sql; the worker runs it as the
-- delivery stream's owner (src/firehose/delivery.c).
--
-- Locking: a change of a delivery stream and a delivery both lock its row
-- (FOR UPDATE), so a delivery stream delivers one batch at a time and a
-- batch sees one configuration.

CREATE TABLE firehose.delivery_streams (
    delivery_stream_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_stream_name text NOT NULL UNIQUE,
    delivery_stream_type text NOT NULL CHECK (delivery_stream_type IN ('DirectPut', 'KinesisStreamAsSource')),
    source_stream text NOT NULL,              -- the kinesis stream read
    consumer_name text NOT NULL,              -- the named consumer that holds the position
    owner regrole NOT NULL,
    destination_type text NOT NULL CHECK (destination_type IN ('table', 'files', 'program')),
    -- table destinations
    destination_table regclass,
    record_format text CHECK (record_format IN ('columns', 'jsonb', 'bytea')),
    data_column name,                         -- for jsonb / bytea formats
    -- file and program destinations
    destination_directory text,
    destination_program text,
    file_format text CHECK (file_format IN ('jsonlines', 'csv', 'text')),
    file_columns text[],
    file_header boolean NOT NULL DEFAULT false,
    compression text NOT NULL DEFAULT 'UNCOMPRESSED' CHECK (compression IN ('UNCOMPRESSED', 'GZIP')),
    prefix text NOT NULL DEFAULT '',
    partition_keys jsonb NOT NULL DEFAULT '{}',  -- {name: jsonpath}
    file_extension text,
    -- buffering, transformation, failures
    buffering_size_bytes bigint NOT NULL,
    buffering_interval interval NOT NULL,
    transform_function text,       -- regprocedure as text: pg_upgrade refuses reg* columns (function OIDs change)
    transform_retries integer NOT NULL,
    retry_duration interval NOT NULL,
    backup_mode text NOT NULL DEFAULT 'Disabled' CHECK (backup_mode IN ('Disabled', 'AllData', 'FailedDataOnly')),
    backup_table regclass,
    enabled boolean NOT NULL DEFAULT true,
    version_id integer NOT NULL DEFAULT 1,
    create_timestamp timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_update_timestamp timestamptz,
    -- the failing destination: retried with backoff until retry_duration has passed
    failing_since timestamptz,
    failed_attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    -- metrics (firehose.delivery_stream_metrics)
    incoming_records bigint NOT NULL DEFAULT 0,
    incoming_bytes bigint NOT NULL DEFAULT 0,
    records_delivered bigint NOT NULL DEFAULT 0,
    bytes_delivered bigint NOT NULL DEFAULT 0,
    objects_delivered bigint NOT NULL DEFAULT 0,
    records_dropped bigint NOT NULL DEFAULT 0,
    processing_failed bigint NOT NULL DEFAULT 0,     -- the transform failed them
    delivery_failed bigint NOT NULL DEFAULT 0,       -- the table rejected them
    format_failed bigint NOT NULL DEFAULT 0,         -- not writable in the file format
    partitioning_failed bigint NOT NULL DEFAULT 0,   -- a partition key was missing
    destination_failed bigint NOT NULL DEFAULT 0,    -- retries exhausted
    failed_attempts_total bigint NOT NULL DEFAULT 0,
    records_backed_up bigint NOT NULL DEFAULT 0,
    last_delivery_at timestamptz,
    last_error text,
    last_error_at timestamptz
);

-- The error output: records a transform failed, the destination rejected,
-- or that could not be delivered within retry_duration.
CREATE TABLE firehose.delivery_errors (
    error_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_stream_id integer NOT NULL REFERENCES firehose.delivery_streams ON DELETE CASCADE,
    shard_id text,
    sequence_number bigint,
    error_code text NOT NULL,
    error_message text,
    raw_data bytea,
    approximate_arrival_timestamp timestamptz,
    attempts_made integer NOT NULL DEFAULT 1,
    failed_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX ON firehose.delivery_errors (delivery_stream_id, error_id);

-- The objects delivered to file destinations, written in the transaction
-- that delivered them (src/firehose/objects.c renames a committed object
-- from its temporary name by this row).
CREATE TABLE firehose.delivered_objects (
    delivery_stream_id integer NOT NULL REFERENCES firehose.delivery_streams ON DELETE CASCADE,
    object_path text NOT NULL,
    writer_xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    first_sequence_number bigint NOT NULL,
    last_sequence_number bigint NOT NULL,
    records integer NOT NULL,
    bytes bigint NOT NULL,
    delivered_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (delivery_stream_id, object_path, writer_xid)
);

-- Row-level security: everybody may see the delivery streams (like
-- pg_class); only an owner (or a member of its role) sees its error output
-- and objects.  PUBLIC may only read: the rows are written by the
-- run-as-owner functions below (README "Catalogs"), which check the
-- caller's rights; the worker runs deliveries as the owner, and the
-- delivery functions record their outcome through those writers.
ALTER TABLE firehose.delivery_streams ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON firehose.delivery_streams FOR SELECT USING (true);
CREATE POLICY owned ON firehose.delivery_streams FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT ON firehose.delivery_streams TO PUBLIC;   -- written only through the functions (README "Catalogs")
ALTER TABLE firehose.delivery_errors ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON firehose.delivery_errors FOR ALL
    USING (EXISTS (SELECT 1 FROM firehose.delivery_streams d
                    WHERE d.delivery_stream_id OPERATOR(pg_catalog.=) delivery_errors.delivery_stream_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, d.owner, 'USAGE')));
GRANT SELECT ON firehose.delivery_errors TO PUBLIC;
ALTER TABLE firehose.delivered_objects ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON firehose.delivered_objects FOR ALL
    USING (EXISTS (SELECT 1 FROM firehose.delivery_streams d
                    WHERE d.delivery_stream_id OPERATOR(pg_catalog.=) delivered_objects.delivery_stream_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, d.owner, 'USAGE')));
GRANT SELECT ON firehose.delivered_objects TO PUBLIC;

CREATE TYPE firehose.transformed_record AS (record_id bigint, result text, data bytea);

-- C helpers of file and program destinations (src/firehose/*.c)
CREATE FUNCTION firehose._record_problem(file_format text, columns text[], data bytea) RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'kg_firehose_record_problem';
CREATE FUNCTION firehose._json_or_null(data bytea) RETURNS jsonb
    LANGUAGE c STRICT IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'kg_firehose_json_or_null';
CREATE FUNCTION firehose._json_object(data bytea) RETURNS jsonb
    LANGUAGE c STRICT IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'kg_firehose_json_object';
CREATE FUNCTION firehose._check_prefix(prefix text, partition_keys jsonb) RETURNS void
    LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'kg_firehose_check_prefix';
CREATE FUNCTION firehose._evaluate_prefix(prefix text, arrival timestamptz, key_values jsonb) RETURNS text
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_firehose_evaluate_prefix';
CREATE FUNCTION firehose._write_object(directory text, object_key text, delivery_stream_id integer,
        file_format text, columns text[], header boolean, gzip boolean, records bytea[])
    RETURNS text LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_firehose_write_object';
CREATE FUNCTION firehose._pipe_to_program(command text, delivery_stream_name text, batch_id text,
        file_format text, columns text[], header boolean, gzip boolean, records bytea[])
    RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_firehose_pipe_to_program';
CREATE FUNCTION firehose._recover_objects(delivery_stream_id integer, directory text) RETURNS integer
    LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'kg_firehose_recover_objects';
REVOKE ALL ON FUNCTION firehose._write_object, firehose._pipe_to_program, firehose._recover_objects FROM PUBLIC;
GRANT EXECUTE ON FUNCTION firehose._write_object, firehose._pipe_to_program, firehose._recover_objects
    TO pg_write_server_files, pg_execute_server_program;

CREATE FUNCTION firehose._check_name(name text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF name IS NULL OR length(name) NOT BETWEEN 1 AND 64 OR name !~ '^[a-zA-Z0-9_.-]+$' THEN
        RAISE EXCEPTION 'ValidationException: delivery stream name must have 1 to 64 characters of [a-zA-Z0-9_.-]'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- The delivery stream row, checked to exist (and, with must_own, owned by
-- the caller); with lock, locked FOR UPDATE.
CREATE FUNCTION firehose._get(name text, must_own boolean, lock boolean DEFAULT false)
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

-- ERROR unless role holds the predefined role that the destination needs
-- (the same rule as COPY TO a file or program).
CREATE FUNCTION firehose._check_server_role(role regrole, needed text, what text) RETURNS void
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF NOT pg_has_role(role, needed, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied to %', what
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The delivery stream''s owner %s lacks the privileges of the %s role.', role, needed),
                  HINT = format('GRANT %s TO %s, or deliver into a table.', needed, role);
    END IF;
END
$$;

-- ERROR unless the table exists, the owner may insert into it, and it has
-- a column of that name and type (when column is given).
CREATE FUNCTION firehose._check_table(owner regrole, tab regclass, col name, typ regtype, what text) RETURNS void
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF NOT has_table_privilege(owner, tab, 'INSERT') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied to insert into %', tab
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF typ IS NOT NULL AND (col IS NULL OR NOT EXISTS (
           SELECT 1 FROM pg_attribute a
            WHERE a.attrelid = tab AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped
              AND a.atttypid = typ)) THEN
        IF what = 'backup' THEN
            RAISE EXCEPTION 'InvalidArgumentException: backup table % needs a bytea column raw_data', tab
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RAISE EXCEPTION 'InvalidArgumentException: % needs data_column naming a % column of %', what, typ, tab
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Check a whole configuration (a row about to be inserted or updated):
-- exactly one destination and its options, buffering, transform, retries,
-- backup.  Rights are checked for d.owner.
CREATE FUNCTION firehose._check_config(d firehose.delivery_streams) RETURNS void
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

-- Buffering hints in range (NULL: not given, nothing to check).
CREATE FUNCTION firehose._check_buffering(size_mib integer, buffer_interval interval) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF size_mib NOT BETWEEN 1 AND 128 THEN
        RAISE EXCEPTION 'InvalidArgumentException: buffering size must be between 1 and 128 MiB'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF buffer_interval < interval '0' OR buffer_interval > interval '900 s' THEN
        RAISE EXCEPTION 'InvalidArgumentException: buffering interval must be between 0 and 900 seconds'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- The destination type the arguments name: exactly one destination.
CREATE FUNCTION firehose._destination_type(destination_table regclass, destination_directory text,
        destination_program text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF num_nonnulls(destination_table, destination_directory, destination_program) <> 1 THEN
        RAISE EXCEPTION 'InvalidArgumentException: give exactly one destination: destination_table, destination_directory or destination_program'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN CASE WHEN destination_table IS NOT NULL THEN 'table'
                WHEN destination_directory IS NOT NULL THEN 'files' ELSE 'program' END;
END
$$;

CREATE FUNCTION firehose.create_delivery_stream(delivery_stream_name text,
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

CREATE FUNCTION firehose.delete_delivery_stream(delivery_stream_name text) RETURNS void
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

-- Writers (run as the extension owner; anyone may call them, so each checks
-- the caller's rights and its arguments) ---------------------------------------

-- Insert the delivery stream d that create_delivery_stream prepared: the
-- caller owns it, its configuration passes the checks again, and its
-- source consumer is the caller's.
CREATE FUNCTION firehose._insert_delivery_stream(d firehose.delivery_streams) RETURNS void
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

-- Delete a delivery stream's row (members of its owner); returns it.
CREATE FUNCTION firehose._delete_delivery_stream(name text) RETURNS firehose.delivery_streams
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get(name, true, true);
BEGIN
    DELETE FROM firehose.delivery_streams WHERE delivery_stream_id = d.delivery_stream_id;
    RETURN d;
END
$$;

CREATE FUNCTION firehose.list_delivery_streams()
    RETURNS TABLE (delivery_stream_name text, delivery_stream_type text, delivery_stream_status text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.delivery_stream_name, d.delivery_stream_type, CASE WHEN d.enabled THEN 'ACTIVE' ELSE 'STOPPED' END
      FROM firehose.delivery_streams d ORDER BY d.delivery_stream_name COLLATE "C"
$$;

CREATE FUNCTION firehose.describe_delivery_stream(delivery_stream_name text)
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

-- Change the destination or its options (NULL: leave as is).  Giving one
-- of destination_table, destination_directory, destination_program
-- switches to that destination.  Optimistic: current_version_id must be the
-- version described; the version goes up by one.
CREATE FUNCTION firehose.update_destination(delivery_stream_name text, current_version_id integer,
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

-- Start or stop delivering (owners only).
CREATE FUNCTION firehose._set_enabled(delivery_stream_name text, enabled boolean) RETURNS void
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

CREATE FUNCTION firehose.start_delivery_stream(delivery_stream_name text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT firehose._set_enabled($1, true) $$;

CREATE FUNCTION firehose.stop_delivery_stream(delivery_stream_name text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT firehose._set_enabled($1, false) $$;

-- Observability: one row per delivery stream (the CloudWatch metrics of
-- Firehose).  data_freshness is the age of the oldest record not yet
-- delivered (NULL when nothing waits, or the caller cannot read the source).
-- incoming_records / incoming_bytes count a Direct PUT record once its put
-- commits: those a delivery has taken plus those waiting for one (the
-- waiting ones count only for roles that may read the source, as pending
-- does); a KinesisStreamAsSource delivery stream takes in records as it
-- reads them.
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

-- Direct PUT ---------------------------------------------------------------

CREATE FUNCTION firehose.put_record_batch(delivery_stream_name text, records bytea[])
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

CREATE FUNCTION firehose.put_record(delivery_stream_name text, record bytea) RETURNS text
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT record_id FROM firehose.put_record_batch(delivery_stream_name, ARRAY[record])
$$;

