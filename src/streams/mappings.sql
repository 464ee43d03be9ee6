-- Event source mappings (src/streams/esm_catalog.c, esm_runner.c): a
-- function called by background workers with batches of a stream's records,
-- as the mapping's owner, the call and the checkpoint in one transaction.

CREATE TABLE kinesis.event_source_mappings (
    mapping_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id integer NOT NULL REFERENCES kinesis.streams ON DELETE CASCADE,
    function_name text NOT NULL,   -- regprocedure as text: pg_upgrade refuses reg* columns (function OIDs change)
    owner regrole NOT NULL,
    batch_size integer NOT NULL CHECK (batch_size BETWEEN 1 AND 10000),
    maximum_batching_window interval NOT NULL,
    starting_position text NOT NULL CHECK (starting_position IN ('TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP')),
    starting_position_timestamp timestamptz,
    parallelization_factor integer NOT NULL CHECK (parallelization_factor BETWEEN 1 AND 10),
    maximum_retry_attempts integer NOT NULL CHECK (maximum_retry_attempts BETWEEN -1 AND 10000),
    maximum_record_age interval,
    bisect_batch_on_function_error boolean NOT NULL,
    on_failure_destination text,
    enabled boolean NOT NULL DEFAULT true,
    generation integer NOT NULL DEFAULT 1,       -- bumped on every change: runners restart
    last_error text,
    last_error_at timestamptz,
    last_processing_result text,
    last_processed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

-- Position per shard and parallelization slot (records whose partition key
-- hashes to the slot), and the failed attempts of the batch at that position.
CREATE TABLE kinesis.event_source_mapping_shards (
    mapping_id bigint NOT NULL REFERENCES kinesis.event_source_mappings ON DELETE CASCADE,
    shard_index integer NOT NULL,
    slot integer NOT NULL,
    checkpoint bigint NOT NULL,
    finished boolean NOT NULL DEFAULT false,
    attempts integer NOT NULL DEFAULT 0,
    PRIMARY KEY (mapping_id, shard_index, slot)
);
GRANT SELECT ON kinesis.event_source_mappings, kinesis.event_source_mapping_shards TO PUBLIC;

CREATE FUNCTION kinesis.create_event_source_mapping(stream_name text, function_name regproc,
        batch_size integer DEFAULT 100, maximum_batching_window interval DEFAULT '0',
        starting_position text DEFAULT 'LATEST', starting_position_timestamp timestamptz DEFAULT NULL,
        parallelization_factor integer DEFAULT 1, maximum_retry_attempts integer DEFAULT -1,
        maximum_record_age interval DEFAULT NULL, bisect_batch_on_function_error boolean DEFAULT false,
        on_failure_destination text DEFAULT NULL)
    RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_create_event_source_mapping';

CREATE FUNCTION kinesis.update_event_source_mapping(mapping_id bigint, function_name regproc DEFAULT NULL,
        batch_size integer DEFAULT NULL, maximum_batching_window interval DEFAULT NULL,
        parallelization_factor integer DEFAULT NULL, maximum_retry_attempts integer DEFAULT NULL,
        maximum_record_age interval DEFAULT NULL, bisect_batch_on_function_error boolean DEFAULT NULL,
        on_failure_destination text DEFAULT NULL, enabled boolean DEFAULT NULL)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_update_event_source_mapping';

CREATE FUNCTION kinesis.enable_event_source_mapping(mapping_id bigint) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT kinesis.update_event_source_mapping(mapping_id, enabled => true) $$;
CREATE FUNCTION kinesis.disable_event_source_mapping(mapping_id bigint) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT kinesis.update_event_source_mapping(mapping_id, enabled => false) $$;

CREATE FUNCTION kinesis.delete_event_source_mapping(mapping_id bigint)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_delete_event_source_mapping';

CREATE VIEW kinesis.event_source_mapping_status AS
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
GRANT SELECT ON kinesis.event_source_mapping_status TO PUBLIC;
