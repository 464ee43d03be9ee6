-- Stream processors (src/video): the in-database stand-in for a
-- Rekognition Video stream processor.  The worker hands each new fragment
-- of the input video stream to a SQL function (kinesis_video.fragment ->
-- zero or more json/jsonb events); each event, with the fragment's number
-- and timestamps added under "InputInformation", is put to the output
-- kinesis data stream (partition key: the video stream name).  From there
-- an event source mapping can raise alerts (README).
--
-- Execution: the worker (video_worker.c) runs kinesis_video._process(id)
-- as the processor's owner in a security-restricted context, one
-- transaction per batch of fragments; the events of a fragment, their puts
-- and the processor's position commit together (each fragment once).  A
-- fragment whose call fails is retried with backoff (1 s doubling to 5
-- min) up to maximum_retry_attempts (-1: forever), then recorded in
-- kinesis_video.stream_processor_failures and skipped.  A failing
-- processor never holds up the others.
--
-- Privileges: creating one needs SELECT on the video stream's fragment
-- table, INSERT on the output data stream's record table and EXECUTE on
-- the function; row-level security lets only the owner change it or see
-- its failures.
--
-- Locking: _process and every change lock the processor's row (FOR
-- UPDATE; the worker skips a locked one).

CREATE TABLE kinesis_video.stream_processors (
    processor_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    stream_id integer NOT NULL REFERENCES kinesis_video.streams,
    function_name text NOT NULL,   -- regprocedure as text: pg_upgrade refuses reg* columns (function OIDs change)
    output_stream text NOT NULL,
    owner regrole NOT NULL,
    status text NOT NULL CHECK (status IN ('STOPPED', 'RUNNING')),
    last_fragment_number bigint NOT NULL,
    maximum_retry_attempts integer NOT NULL CHECK (maximum_retry_attempts BETWEEN -1 AND 10000),
    failed_attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    fragments_processed bigint NOT NULL DEFAULT 0,
    events_emitted bigint NOT NULL DEFAULT 0,
    fragments_failed bigint NOT NULL DEFAULT 0,
    last_error text,
    last_error_at timestamptz,
    creation_timestamp timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_update_timestamp timestamptz
);

CREATE TABLE kinesis_video.stream_processor_failures (
    processor_id bigint NOT NULL REFERENCES kinesis_video.stream_processors ON DELETE CASCADE,
    fragment_number bigint NOT NULL,
    error_message text,
    attempts integer NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX ON kinesis_video.stream_processor_failures (processor_id, fragment_number);

ALTER TABLE kinesis_video.stream_processors ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON kinesis_video.stream_processors FOR SELECT USING (true);
CREATE POLICY owned ON kinesis_video.stream_processors FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT ON kinesis_video.stream_processors TO PUBLIC;   -- written only through the functions (README "Catalogs")
ALTER TABLE kinesis_video.stream_processor_failures ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON kinesis_video.stream_processor_failures FOR ALL
    USING (EXISTS (SELECT 1 FROM kinesis_video.stream_processors p
                    WHERE p.processor_id OPERATOR(pg_catalog.=) stream_processor_failures.processor_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, p.owner, 'USAGE')));
GRANT SELECT ON kinesis_video.stream_processor_failures TO PUBLIC;

-- The processor row (ResourceNotFoundException when absent), checked to be
-- the caller's with must_own, locked with lock.
CREATE FUNCTION kinesis_video._get_processor(name text, must_own boolean, lock boolean DEFAULT false)
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

CREATE FUNCTION kinesis_video.create_stream_processor(name text, input_video_stream text,
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

CREATE FUNCTION kinesis_video._set_processor_status(name text, new_status text) RETURNS void
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

CREATE FUNCTION kinesis_video.start_stream_processor(name text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT kinesis_video._set_processor_status(name, 'RUNNING') $$;
CREATE FUNCTION kinesis_video.stop_stream_processor(name text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT kinesis_video._set_processor_status(name, 'STOPPED') $$;

CREATE FUNCTION kinesis_video.delete_stream_processor(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    p kinesis_video.stream_processors := kinesis_video._get_processor(name, true, true);
BEGIN
    DELETE FROM kinesis_video.stream_processors WHERE processor_id = p.processor_id;
END
$$;

CREATE VIEW kinesis_video.stream_processor_status AS
    SELECT p.name, s.stream_name AS input_video_stream,
           pg_catalog.to_regprocedure(p.function_name)::pg_catalog.regproc AS function_name, p.output_stream, p.owner,
           p.status, p.last_fragment_number, p.fragments_processed, p.events_emitted, p.fragments_failed,
           p.failed_attempts, p.next_attempt_at, p.last_error, p.last_error_at,
           p.creation_timestamp, p.last_update_timestamp,
           kinesis_glue._runner_waiting_reason('processor', p.processor_id) AS waiting_reason
      FROM kinesis_video.stream_processors p JOIN kinesis_video.streams s USING (stream_id);
GRANT SELECT ON kinesis_video.stream_processor_status TO PUBLIC;

CREATE FUNCTION kinesis_video.describe_stream_processor(name text)
    RETURNS SETOF kinesis_video.stream_processor_status
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM kinesis_video._get_processor(name, false);
    RETURN QUERY SELECT * FROM kinesis_video.stream_processor_status v WHERE v.name = describe_stream_processor.name;
END
$$;

CREATE FUNCTION kinesis_video.list_stream_processors()
    RETURNS TABLE (name text, status text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT p.name, p.status FROM kinesis_video.stream_processors p ORDER BY p.name COLLATE "C"
$$;

-- The record put for one event: the event (an object, or wrapped as
-- {"Event": ...}) with InputInformation and StreamProcessorInformation set
-- by us (the function cannot forge them).
CREATE FUNCTION kinesis_video._event(p kinesis_video.stream_processors, s kinesis_video.streams,
        fragment_number bigint, producer_timestamp timestamptz, server_timestamp timestamptz, event jsonb)
    RETURNS jsonb
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT CASE WHEN jsonb_typeof(event) = 'object' THEN event ELSE jsonb_build_object('Event', event) END
        || jsonb_build_object(
               'InputInformation', jsonb_build_object('KinesisVideo', jsonb_build_object(
                   'StreamArn', s.stream_arn, 'StreamName', s.stream_name,
                   'FragmentNumber', fragment_number::text,
                   'ProducerTimestamp', round(extract(epoch FROM producer_timestamp) * 1000),
                   'ServerTimestamp', round(extract(epoch FROM server_timestamp) * 1000))),
               'StreamProcessorInformation', jsonb_build_object('Name', p.name, 'Status', p.status))
$$;

-- One batch of a processor (run by the worker as its owner): up to 10 new
-- fragments, each in a subtransaction.  Returns the fragments handled.
CREATE FUNCTION kinesis_video._process(id bigint) RETURNS integer
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

-- Writers (run as the extension owner; anyone may call them, so each checks
-- the caller's rights and its arguments: README "Catalogs") ------------------

-- Insert a processor for the caller, who must still read the video stream,
-- put to the output data stream and execute the function.
CREATE FUNCTION kinesis_video._insert_processor(name text, stream_id integer, function_name regproc,
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

-- Lock processor id for a batch (NULL row when another session holds it),
-- for a member of its owner.
CREATE FUNCTION kinesis_video._claim_processor(id bigint) RETURNS kinesis_video.stream_processors
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

-- The outcome of one fragment of processor id: 'processed' (k events),
-- 'failed' (out of retries: recorded, skipped) or 'retry' (attempts so far,
-- back off).  Only forward from the processor's position.
CREATE FUNCTION kinesis_video._processor_outcome(id bigint, outcome text, fragment_number bigint, k integer,
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
