-- Firehose delivery streams (src/firehose): a delivery stream reads a
-- kinesis data stream (its own internal one for Direct PUT) through a named
-- consumer, buffers by size and time, optionally transforms with a SQL
-- function, and delivers into a table.  Delivery and the consumer's
-- checkpoint commit in one transaction: exactly once.  The worker runs
-- deliveries as the delivery stream's owner (src/firehose/delivery.c).
--
-- Built so far: table destinations.  Not yet: file and program (COPY)
-- destinations, dynamic partitioning, compression (see README).

CREATE TABLE firehose.delivery_streams (
    delivery_stream_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_stream_name text NOT NULL UNIQUE,
    delivery_stream_type text NOT NULL CHECK (delivery_stream_type IN ('DirectPut', 'KinesisStreamAsSource')),
    source_stream text NOT NULL,              -- the kinesis stream read
    consumer_name text NOT NULL,              -- the named consumer that holds the position
    owner regrole NOT NULL,
    destination_table regclass NOT NULL,
    record_format text NOT NULL CHECK (record_format IN ('columns', 'jsonb', 'bytea')),
    data_column name,                         -- for jsonb / bytea formats
    buffering_size_bytes bigint NOT NULL,
    buffering_interval interval NOT NULL,
    transform_function regproc,
    transform_retries integer NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    version_id integer NOT NULL DEFAULT 1,
    create_timestamp timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_update_timestamp timestamptz,
    last_delivery_at timestamptz,
    records_delivered bigint NOT NULL DEFAULT 0,
    records_failed bigint NOT NULL DEFAULT 0,
    last_error text
);

-- The error output: records a transform failed or the destination rejected.
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
-- Row-level security: everybody may see the delivery streams (like
-- pg_class); only an owner (or a member of its role) changes one or sees
-- its error output.  The functions below are SECURITY INVOKER; the worker
-- runs deliveries as the owner, so no path widens a role's rights.
ALTER TABLE firehose.delivery_streams ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON firehose.delivery_streams FOR SELECT USING (true);
CREATE POLICY owned ON firehose.delivery_streams FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON firehose.delivery_streams TO PUBLIC;
ALTER TABLE firehose.delivery_errors ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON firehose.delivery_errors FOR ALL
    USING (EXISTS (SELECT 1 FROM firehose.delivery_streams d
                    WHERE d.delivery_stream_id OPERATOR(pg_catalog.=) delivery_errors.delivery_stream_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, d.owner, 'USAGE')));
GRANT SELECT, INSERT ON firehose.delivery_errors TO PUBLIC;

CREATE TYPE firehose.transformed_record AS (record_id bigint, result text, data bytea);

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

-- The delivery stream row, checked to exist (and, with must_own, owned by the caller).
CREATE FUNCTION firehose._get(name text, must_own boolean) RETURNS firehose.delivery_streams
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams;
BEGIN
    SELECT * INTO d FROM firehose.delivery_streams WHERE delivery_stream_name = name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: delivery stream "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List them with firehose.list_delivery_streams().';
    END IF;
    IF must_own AND NOT pg_has_role(current_user, d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of delivery stream "%"', name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN d;
END
$$;

CREATE FUNCTION firehose._check_destination(destination_table regclass, record_format text, data_column name)
    RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF record_format NOT IN ('columns', 'jsonb', 'bytea') THEN
        RAISE EXCEPTION 'InvalidArgumentException: record format "%" is not one of columns, jsonb, bytea', record_format
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT has_table_privilege(destination_table, 'INSERT') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied to insert into %', destination_table
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF record_format <> 'columns' THEN
        IF data_column IS NULL OR NOT EXISTS (
               SELECT 1 FROM pg_attribute a
                WHERE a.attrelid = destination_table AND a.attname = data_column AND a.attnum > 0
                  AND NOT a.attisdropped
                  AND a.atttypid = CASE record_format WHEN 'jsonb' THEN 'jsonb'::regtype ELSE 'bytea'::regtype END) THEN
            RAISE EXCEPTION 'InvalidArgumentException: % format needs data_column naming a % column of %',
                    record_format, record_format, destination_table
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
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

CREATE FUNCTION firehose.create_delivery_stream(delivery_stream_name text,
        destination_table regclass,
        delivery_stream_type text DEFAULT 'DirectPut',
        kinesis_stream_name text DEFAULT NULL,
        starting_position text DEFAULT 'LATEST',
        record_format text DEFAULT 'columns',
        data_column name DEFAULT NULL,
        buffering_size_mib integer DEFAULT 5,
        buffering_interval interval DEFAULT '300 s',
        transform_function regproc DEFAULT NULL,
        transform_retries integer DEFAULT 3)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    src text;
    cons text := 'firehose-' || delivery_stream_name;
BEGIN
    PERFORM firehose._check_name(delivery_stream_name);
    IF EXISTS (SELECT 1 FROM firehose.delivery_streams d WHERE d.delivery_stream_name = create_delivery_stream.delivery_stream_name) THEN
        RAISE EXCEPTION 'ResourceInUseException: delivery stream "%" already exists', delivery_stream_name
            USING ERRCODE = 'object_in_use';
    END IF;
    PERFORM firehose._check_buffering(buffering_size_mib, buffering_interval);
    IF transform_retries NOT BETWEEN 0 AND 300 THEN
        RAISE EXCEPTION 'InvalidArgumentException: transform retries must be between 0 and 300'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM firehose._check_destination(destination_table, record_format, data_column);
    IF transform_function IS NOT NULL AND NOT has_function_privilege(transform_function, 'EXECUTE') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied for function %', transform_function
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    IF delivery_stream_type = 'DirectPut' THEN
        IF kinesis_stream_name IS NOT NULL THEN
            RAISE EXCEPTION 'InvalidArgumentException: a DirectPut delivery stream reads no kinesis stream'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- the records wait in an internal data stream of its own
        src := 'firehose-' || delivery_stream_name;
        PERFORM kinesis.create_stream(src, 1);
        PERFORM kinesis.register_stream_consumer(src, cons, 'TRIM_HORIZON');
    ELSIF delivery_stream_type = 'KinesisStreamAsSource' THEN
        IF kinesis_stream_name IS NULL THEN
            RAISE EXCEPTION 'InvalidArgumentException: KinesisStreamAsSource needs kinesis_stream_name'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        src := kinesis_stream_name;
        PERFORM kinesis.register_stream_consumer(src, cons, starting_position);
    ELSE
        RAISE EXCEPTION 'InvalidArgumentException: delivery stream type "%" is not one of DirectPut, KinesisStreamAsSource',
                delivery_stream_type USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO firehose.delivery_streams (delivery_stream_name, delivery_stream_type, source_stream,
            consumer_name, owner, destination_table, record_format, data_column, buffering_size_bytes,
            buffering_interval, transform_function, transform_retries)
    VALUES (delivery_stream_name, delivery_stream_type, src, cons, current_user::regrole,
            destination_table, record_format, data_column, buffering_size_mib::bigint * 1024 * 1024,
            buffering_interval, transform_function, transform_retries);
    PERFORM kinesis_glue.wake_worker();
END
$$;

CREATE FUNCTION firehose.delete_delivery_stream(delivery_stream_name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get(delivery_stream_name, true);
BEGIN
    IF d.delivery_stream_type = 'DirectPut' THEN
        PERFORM kinesis.delete_stream(d.source_stream, enforce_consumer_deletion => true);
    ELSIF EXISTS (SELECT 1 FROM kinesis.list_streams() s WHERE s.stream_name = d.source_stream) THEN
        PERFORM kinesis.deregister_stream_consumer(d.source_stream, d.consumer_name);
    END IF;
    DELETE FROM firehose.delivery_streams WHERE delivery_stream_id = d.delivery_stream_id;
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
                   source_stream text, destination_table regclass, record_format text,
                   buffering_size_mib integer, buffering_interval interval, transform_function regproc,
                   version_id integer, records_delivered bigint, records_failed bigint,
                   last_delivery_at timestamptz, last_error text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.delivery_stream_name, d.delivery_stream_type,
           CASE WHEN d.enabled THEN 'ACTIVE' ELSE 'STOPPED' END, d.source_stream, d.destination_table,
           d.record_format, (d.buffering_size_bytes / 1024 / 1024)::integer, d.buffering_interval,
           d.transform_function, d.version_id, d.records_delivered, d.records_failed, d.last_delivery_at,
           d.last_error
      FROM firehose._get($1, false) AS d
$$;

CREATE FUNCTION firehose.update_destination(delivery_stream_name text, current_version_id integer,
        destination_table regclass DEFAULT NULL, record_format text DEFAULT NULL, data_column name DEFAULT NULL,
        buffering_size_mib integer DEFAULT NULL, buffering_interval interval DEFAULT NULL,
        transform_function regproc DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get(delivery_stream_name, true);
BEGIN
    IF current_version_id IS DISTINCT FROM d.version_id THEN
        RAISE EXCEPTION 'ConcurrentModificationException: delivery stream "%" is at version %, not %',
                delivery_stream_name, d.version_id, current_version_id
            USING ERRCODE = 'object_in_use', HINT = 'Read the current version with firehose.describe_delivery_stream().';
    END IF;
    PERFORM firehose._check_buffering(buffering_size_mib, buffering_interval);
    PERFORM firehose._check_destination(coalesce(destination_table, d.destination_table),
                                        coalesce(record_format, d.record_format),
                                        coalesce(data_column, d.data_column));
    UPDATE firehose.delivery_streams u SET
        destination_table = coalesce(update_destination.destination_table, u.destination_table),
        record_format = coalesce(update_destination.record_format, u.record_format),
        data_column = coalesce(update_destination.data_column, u.data_column),
        buffering_size_bytes = coalesce(update_destination.buffering_size_mib::bigint * 1024 * 1024, u.buffering_size_bytes),
        buffering_interval = coalesce(update_destination.buffering_interval, u.buffering_interval),
        transform_function = coalesce(update_destination.transform_function, u.transform_function),
        version_id = u.version_id + 1, last_update_timestamp = clock_timestamp()
     WHERE u.delivery_stream_id = d.delivery_stream_id;
END
$$;

-- Start or stop delivering (owners only).
CREATE FUNCTION firehose._set_enabled(delivery_stream_name text, enabled boolean) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    UPDATE firehose.delivery_streams SET enabled = $2
     WHERE delivery_stream_id = (firehose._get($1, true)).delivery_stream_id;
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
        RAISE EXCEPTION 'InvalidSourceException: delivery stream "%" reads the kinesis stream "%"; put records there',
                delivery_stream_name, d.source_stream USING ERRCODE = 'invalid_parameter_value';
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

-- Delivery -----------------------------------------------------------------

-- Deliver one batch of delivery stream id, in the caller's transaction (the
-- worker calls it as the owner; firehose.flush calls it for a user).  Unless
-- force, only when a buffering hint is reached: pending bytes >= size, or
-- the oldest pending record older than the interval.  Returns the number of
-- records taken from the source (0: nothing due).
CREATE FUNCTION firehose._deliver(id integer, force boolean) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams;
    pending_bytes bigint;
    oldest interval;
    recs kinesis.record[];
    r kinesis.record;
    out_data bytea;
    result text;
    payload jsonb;
    meta jsonb;
    attempt integer;
    attempts_used integer := 0;
    err text;                 -- the transform call failed (every record fails)
    rec_err text;             -- this record failed
    transformed firehose.transformed_record[];
    delivered integer := 0;
    failed integer := 0;
    has_seq boolean;
    has_pk boolean;
    has_ts boolean;
BEGIN
    SELECT * INTO d FROM firehose.delivery_streams WHERE delivery_stream_id = id;
    IF NOT FOUND OR (NOT d.enabled AND NOT force) THEN
        RETURN 0;
    END IF;
    IF NOT pg_has_role(current_user, d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of delivery stream "%"', d.delivery_stream_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT force THEN
        SELECT sum(p.lag_bytes), max(p.lag_time) INTO pending_bytes, oldest
          FROM kinesis.consumer_positions p
         WHERE p.stream_name = d.source_stream AND p.consumer_name = d.consumer_name;
        IF coalesce(pending_bytes, 0) = 0 OR
           (pending_bytes < d.buffering_size_bytes AND oldest < d.buffering_interval) THEN
            RETURN 0;
        END IF;
    END IF;

    recs := ARRAY(SELECT c FROM kinesis.consume(d.source_stream, d.consumer_name, 10000) c);
    IF cardinality(recs) = 0 THEN
        RETURN 0;
    END IF;

    -- transformation: every record comes back Ok, Dropped or ProcessingFailed
    IF d.transform_function IS NOT NULL THEN
        FOR attempt IN 1 .. d.transform_retries + 1 LOOP
            attempts_used := attempt;
            BEGIN
                EXECUTE format('SELECT array_agg(t::firehose.transformed_record) FROM %s($1) t', d.transform_function)
                   INTO transformed USING recs;
                err := NULL;
                EXIT;
            EXCEPTION WHEN OTHERS THEN
                err := SQLERRM;
            END;
        END LOOP;
    END IF;

    SELECT bool_or(attname = 'sequence_number'), bool_or(attname = 'partition_key'),
           bool_or(attname = 'approximate_arrival_timestamp')
      INTO has_seq, has_pk, has_ts
      FROM pg_attribute WHERE attrelid = d.destination_table AND attnum > 0 AND NOT attisdropped;

    FOREACH r IN ARRAY recs LOOP
        out_data := r.data;
        result := 'Ok';
        rec_err := NULL;
        IF d.transform_function IS NOT NULL THEN
            IF err IS NOT NULL THEN
                result := 'ProcessingFailed';
                rec_err := err;
            ELSE
                SELECT t.result, t.data INTO result, out_data
                  FROM unnest(transformed) t WHERE t.record_id = r.sequence_number;
                IF NOT FOUND OR result IS NULL OR result NOT IN ('Ok', 'Dropped', 'ProcessingFailed') THEN
                    rec_err := 'the transform returned no valid result for the record';
                    result := 'ProcessingFailed';
                END IF;
            END IF;
        END IF;
        IF result = 'Dropped' THEN
            CONTINUE;
        ELSIF result = 'ProcessingFailed' THEN
            INSERT INTO firehose.delivery_errors (delivery_stream_id, shard_id, sequence_number, error_code,
                    error_message, raw_data, approximate_arrival_timestamp, attempts_made)
            VALUES (id, r.shard_id, r.sequence_number, 'ProcessingFailed',
                    coalesce(rec_err, 'the transform reported ProcessingFailed'), r.data,
                    r.approximate_arrival_timestamp, attempts_used);
            failed := failed + 1;
            CONTINUE;
        END IF;

        -- one subtransaction per record: a row the table rejects goes to the error output
        BEGIN
            IF d.record_format = 'columns' THEN
                payload := convert_from(out_data, 'UTF8')::jsonb;
                IF jsonb_typeof(payload) <> 'object' THEN
                    RAISE EXCEPTION 'the record is not a JSON object' USING ERRCODE = 'invalid_text_representation';
                END IF;
                meta := '{}';
                IF has_seq THEN meta := meta || jsonb_build_object('sequence_number', r.sequence_number); END IF;
                IF has_pk THEN meta := meta || jsonb_build_object('partition_key', r.partition_key); END IF;
                IF has_ts THEN meta := meta || jsonb_build_object('approximate_arrival_timestamp', r.approximate_arrival_timestamp); END IF;
                EXECUTE format('INSERT INTO %s SELECT (jsonb_populate_record(NULL::%s, $1)).*',
                               d.destination_table, d.destination_table)
                   USING meta || payload;
            ELSIF d.record_format = 'jsonb' THEN
                EXECUTE format('INSERT INTO %s (%I) VALUES ($1)', d.destination_table, d.data_column)
                   USING convert_from(out_data, 'UTF8')::jsonb;
            ELSE
                EXECUTE format('INSERT INTO %s (%I) VALUES ($1)', d.destination_table, d.data_column)
                   USING out_data;
            END IF;
            delivered := delivered + 1;
        EXCEPTION WHEN OTHERS THEN
            rec_err := SQLERRM;
            INSERT INTO firehose.delivery_errors (delivery_stream_id, shard_id, sequence_number, error_code,
                    error_message, raw_data, approximate_arrival_timestamp)
            VALUES (id, r.shard_id, r.sequence_number, 'DeliveryFailed', rec_err, r.data,
                    r.approximate_arrival_timestamp);
            failed := failed + 1;
        END;
    END LOOP;

    UPDATE firehose.delivery_streams SET last_delivery_at = clock_timestamp(),
           records_delivered = records_delivered + delivered, records_failed = records_failed + failed,
           last_error = CASE WHEN failed > 0 THEN coalesce(err, rec_err, last_error) ELSE last_error END
     WHERE delivery_stream_id = id;
    RETURN cardinality(recs);
END
$$;

-- Deliver everything buffered now, in the caller's transaction (owner only).
CREATE FUNCTION firehose.flush(delivery_stream_name text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get(delivery_stream_name, true);
    n integer;
    total bigint := 0;
BEGIN
    LOOP
        n := firehose._deliver(d.delivery_stream_id, true);
        EXIT WHEN n = 0;
        total := total + n;
    END LOOP;
    RETURN total;
END
$$;

