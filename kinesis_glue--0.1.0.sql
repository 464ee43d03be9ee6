-- kinesis_glue 0.1.0: generated from src/common/common.sql src/worker/worker.sql src/streams/streams.sql src/streams/consumers.sql src/streams/mappings.sql src/firehose/firehose.sql src/firehose/firehose_delivery.sql src/glue/catalog.sql src/glue/partitions.sql src/glue/relations.sql src/glue/crawlers.sql src/glue/crawl.sql src/glue/crawl_catalog.sql src/video/video.sql src/video/video_read.sql src/video/video_hls.sql src/video/video_processors.sql src/glue/jobs.sql src/glue/job_runs.sql src/glue/triggers.sql src/glue/workflows.sql src/glue/transforms.sql; do not edit
\echo Use "CREATE EXTENSION kinesis_glue" to load this file. \quit

-- ---- src/common/common.sql
-- Schemas shared by every component.  Everything is schema-qualified; no
-- object here depends on the caller's search_path.

CREATE SCHEMA kinesis_glue;        -- extension-wide administration
CREATE SCHEMA kinesis;             -- Data Streams API and catalog
CREATE SCHEMA kinesis_records;     -- one partitioned table per data stream (GRANT here)
CREATE SCHEMA kinesis_segments;    -- the record segments (partitions); internal
CREATE SCHEMA firehose;
CREATE SCHEMA glue;
CREATE SCHEMA kinesis_video;

GRANT USAGE ON SCHEMA kinesis_glue, kinesis, kinesis_records, firehose, glue, kinesis_video TO PUBLIC;
REVOKE ALL ON SCHEMA kinesis_segments FROM PUBLIC;

-- ---- src/worker/worker.sql
-- Background worker administration (src/worker).

CREATE FUNCTION kinesis_glue._register_database() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_register_database';
REVOKE ALL ON FUNCTION kinesis_glue._register_database() FROM PUBLIC;

CREATE FUNCTION kinesis_glue.wake_worker() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_wake_worker_sql';
COMMENT ON FUNCTION kinesis_glue.wake_worker() IS
    'wake this database''s kinesis_glue worker for an immediate round of work';

CREATE FUNCTION kinesis_glue.worker_status(OUT datid oid, OUT wanted boolean,
                                           OUT stopping boolean, OUT pid integer)
    RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_worker_status';

CREATE VIEW kinesis_glue.workers AS
    SELECT d.datname AS database, w.pid, w.wanted, w.stopping,
           a.backend_start AS started_at, a.state
      FROM kinesis_glue.worker_status() w
      JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) w.datid
      LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) w.pid;
GRANT SELECT ON kinesis_glue.workers TO PUBLIC;

-- Start this database's worker once CREATE EXTENSION commits.
SELECT kinesis_glue._register_database();

-- ---- src/streams/streams.sql
-- Data Streams (src/streams): catalog, types and the SQL interface of
-- DESIGN.md.  Catalog tables are written only by the C functions (as the
-- extension owner, after their own privilege checks); users may read them.

CREATE TABLE kinesis.streams (
    stream_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_name text NOT NULL UNIQUE,
    stream_status text NOT NULL DEFAULT 'ACTIVE'
        CHECK (stream_status IN ('CREATING', 'ACTIVE', 'UPDATING', 'DELETING')),
    stream_mode text NOT NULL CHECK (stream_mode IN ('PROVISIONED', 'ON_DEMAND')),
    retention_period interval NOT NULL,
    stream_creation_timestamp timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    record_table regclass,
    segment_capacity bigint NOT NULL CHECK (segment_capacity > 0),
    next_shard_index integer NOT NULL,
    throughput_quotas boolean,     -- NULL: follow kinesis_glue.throughput_quotas
    trim_before timestamptz        -- records older stay expired after a retention increase
);

CREATE TABLE kinesis.shards (
    stream_id integer NOT NULL REFERENCES kinesis.streams ON DELETE CASCADE,
    shard_index integer NOT NULL,
    parent_shard_index integer,
    adjacent_parent_shard_index integer,
    starting_hash_key numeric(39,0) NOT NULL,
    ending_hash_key numeric(39,0) NOT NULL,
    starting_sequence_number bigint NOT NULL,
    ending_sequence_number bigint,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    closed_at timestamptz,
    PRIMARY KEY (stream_id, shard_index)
);

-- Record segments: segment k of a stream holds the counters
-- [k * segment_capacity, (k + 1) * segment_capacity).
CREATE TABLE kinesis.segments (
    stream_id integer NOT NULL REFERENCES kinesis.streams ON DELETE CASCADE,
    segment_no bigint NOT NULL,
    relation regclass NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    opened_at timestamptz,       -- when the worker first saw it current
    closed_at timestamptz,       -- when the worker first saw it full or closed it
    PRIMARY KEY (stream_id, segment_no)
);

-- The key that signs shard iterators; survives restarts; nobody reads it.
CREATE TABLE kinesis.iterator_secret (
    secret bytea NOT NULL CHECK (pg_catalog.length(secret) OPERATOR(pg_catalog.>=) 32)
);
INSERT INTO kinesis.iterator_secret
    SELECT pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
           OPERATOR(pg_catalog.||) pg_catalog.uuid_send(pg_catalog.gen_random_uuid());
REVOKE ALL ON kinesis.iterator_secret FROM PUBLIC;

GRANT SELECT ON kinesis.streams, kinesis.shards, kinesis.segments TO PUBLIC;

CREATE TYPE kinesis.put_records_entry AS (partition_key text, data bytea, explicit_hash_key numeric);
CREATE TYPE kinesis.record AS (shard_id text, sequence_number bigint,
                               approximate_arrival_timestamp timestamptz,
                               partition_key text, data bytea);
CREATE TYPE kinesis.get_records_result AS (records kinesis.record[], next_shard_iterator text,
                                           millis_behind_latest bigint, child_shards text[]);

-- Direct DML on a stream's record table would bypass sequence numbering.
CREATE FUNCTION kinesis.forbid_direct_dml() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RAISE EXCEPTION 'AccessDeniedException: records of a data stream cannot be changed with %', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Use kinesis.put_record or kinesis.put_records; records expire with the retention period.';
END
$$;

-- Control plane ------------------------------------------------------------

CREATE FUNCTION kinesis.create_stream(stream_name text, shard_count integer DEFAULT NULL,
                                      stream_mode text DEFAULT 'PROVISIONED',
                                      retention_period interval DEFAULT '24 hours')
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_create_stream';

CREATE FUNCTION kinesis.delete_stream(stream_name text, enforce_consumer_deletion boolean DEFAULT false)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_delete_stream';

CREATE FUNCTION kinesis.list_streams()
    RETURNS TABLE (stream_name text, stream_status text, stream_mode text,
                   stream_creation_timestamp timestamptz)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT s.stream_name, s.stream_status, s.stream_mode, s.stream_creation_timestamp
      FROM kinesis.streams s ORDER BY s.stream_name COLLATE "C"
$$;

CREATE FUNCTION kinesis.describe_stream_summary(stream_name text)
    RETURNS TABLE (stream_name text, stream_status text, stream_mode text,
                   retention_period interval, open_shard_count integer, consumer_count integer,
                   stream_creation_timestamp timestamptz)
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'kg_describe_stream_summary';

CREATE FUNCTION kinesis.list_shards(stream_name text)
    RETURNS TABLE (shard_id text, parent_shard_id text, adjacent_parent_shard_id text,
                   starting_hash_key numeric, ending_hash_key numeric,
                   starting_sequence_number bigint, ending_sequence_number bigint)
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'kg_list_shards';

CREATE FUNCTION kinesis.increase_stream_retention_period(stream_name text, retention_period interval)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_increase_retention';

CREATE FUNCTION kinesis.decrease_stream_retention_period(stream_name text, retention_period interval)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_decrease_retention';

-- Resharding (src/streams/reshard.c) ----------------------------------------

CREATE FUNCTION kinesis.split_shard(stream_name text, shard_to_split text, new_starting_hash_key numeric)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_split_shard';

CREATE FUNCTION kinesis.merge_shards(stream_name text, shard_to_merge text, adjacent_shard_to_merge text)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_merge_shards';

CREATE FUNCTION kinesis.update_shard_count(stream_name text, target_shard_count integer,
                                           scaling_type text DEFAULT 'UNIFORM_SCALING')
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_update_shard_count';

CREATE FUNCTION kinesis.update_stream_mode(stream_name text, stream_mode text)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_update_stream_mode';

CREATE FUNCTION kinesis.set_throughput_quotas(stream_name text, enabled boolean)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_set_throughput_quotas';
COMMENT ON FUNCTION kinesis.set_throughput_quotas(text, boolean) IS
    'enforce (true), lift (false) or follow kinesis_glue.throughput_quotas (NULL) for one stream';

-- What the on-demand scaler did (src/streams/on_demand.c).
CREATE TABLE kinesis.scaling_actions (
    action_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id integer NOT NULL REFERENCES kinesis.streams ON DELETE CASCADE,
    stream_name text NOT NULL,
    action text NOT NULL CHECK (action IN ('SPLIT', 'MERGE')),
    shards text NOT NULL,
    reason text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
GRANT SELECT ON kinesis.scaling_actions TO PUBLIC;

-- Data plane ---------------------------------------------------------------

CREATE FUNCTION kinesis.put_record(stream_name text, partition_key text, data bytea,
                                   explicit_hash_key numeric DEFAULT NULL,
                                   sequence_number_for_ordering bigint DEFAULT NULL)
    RETURNS TABLE (shard_id text, sequence_number bigint)
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 1 AS 'MODULE_PATHNAME', 'kg_put_record';

CREATE FUNCTION kinesis.put_records(stream_name text, records kinesis.put_records_entry[])
    RETURNS TABLE (shard_id text, sequence_number bigint, error_code text, error_message text)
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 500 AS 'MODULE_PATHNAME', 'kg_put_records';

CREATE FUNCTION kinesis.put_records(stream_name text, partition_keys text[], data bytea[])
    RETURNS TABLE (shard_id text, sequence_number bigint, error_code text, error_message text)
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 500 AS 'MODULE_PATHNAME', 'kg_put_records_arrays';

CREATE FUNCTION kinesis.get_shard_iterator(stream_name text, shard_id text, shard_iterator_type text,
                                           starting_sequence_number bigint DEFAULT NULL,
                                           "timestamp" timestamptz DEFAULT NULL)
    RETURNS text LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'kg_get_shard_iterator';

CREATE FUNCTION kinesis.get_records(shard_iterator text, "limit" integer DEFAULT 10000)
    RETURNS kinesis.get_records_result
    LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'kg_get_records';

CREATE FUNCTION kinesis.read_shard(stream_name text, shard_id text, after_sequence_number bigint DEFAULT NULL,
                                   "limit" integer DEFAULT 1000)
    RETURNS SETOF kinesis.record
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 1000 AS 'MODULE_PATHNAME', 'kg_read_shard';

-- Observability ------------------------------------------------------------

CREATE FUNCTION kinesis._stream_stability(stream_id integer,
        OUT current_sequence_number bigint, OUT last_stable_sequence_number bigint,
        OUT open_producers integer, OUT oldest_producer_start timestamptz)
    RETURNS record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_stream_stability_sql';

CREATE VIEW kinesis.stream_stability AS
    SELECT s.stream_name, st.current_sequence_number, st.last_stable_sequence_number,
           st.open_producers,
           pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) st.oldest_producer_start
               AS oldest_producer_age
      FROM kinesis.streams s, LATERAL kinesis._stream_stability(s.stream_id) st;
GRANT SELECT ON kinesis.stream_stability TO PUBLIC;
COMMENT ON VIEW kinesis.stream_stability IS
    'per stream: highest sequence number handed out, last stable sequence number readers may return, open producer transactions and the age of the oldest';

-- ---- src/streams/consumers.sql
-- Named consumers (src/streams/consumers.c): each consumer keeps its own
-- position in every shard; sessions consuming as one consumer share its
-- shards through leases.

CREATE TABLE kinesis.consumers (
    consumer_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id integer NOT NULL REFERENCES kinesis.streams ON DELETE CASCADE,
    consumer_name text NOT NULL,
    consumer_status text NOT NULL DEFAULT 'ACTIVE'
        CHECK (consumer_status IN ('CREATING', 'ACTIVE', 'DELETING')),
    consumer_creation_timestamp timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    registered_by regrole NOT NULL,
    starting_position text NOT NULL,
    starting_position_timestamp timestamptz,
    UNIQUE (stream_id, consumer_name)
);

-- Position (checkpoint: the last record processed) and lease per shard.
CREATE TABLE kinesis.consumer_shards (
    consumer_id integer NOT NULL REFERENCES kinesis.consumers ON DELETE CASCADE,
    shard_index integer NOT NULL,
    checkpoint bigint NOT NULL,
    finished boolean NOT NULL DEFAULT false,     -- a closed shard read to its end
    lease_owner integer,                         -- backend pid
    lease_session timestamptz,                   -- that backend's start time
    lease_expires_at timestamptz,
    checkpointed_at timestamptz,
    PRIMARY KEY (consumer_id, shard_index)
);
-- Sessions consuming as a consumer, seen within the lease timeout share its shards.
CREATE TABLE kinesis.consumer_sessions (
    consumer_id integer NOT NULL REFERENCES kinesis.consumers ON DELETE CASCADE,
    pid integer NOT NULL,
    session_start timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    PRIMARY KEY (consumer_id, pid, session_start)
);
GRANT SELECT ON kinesis.consumers, kinesis.consumer_shards, kinesis.consumer_sessions TO PUBLIC;

CREATE FUNCTION kinesis.register_stream_consumer(stream_name text, consumer_name text,
        starting_position text DEFAULT 'TRIM_HORIZON', starting_position_timestamp timestamptz DEFAULT NULL)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_register_stream_consumer';

CREATE FUNCTION kinesis.deregister_stream_consumer(stream_name text, consumer_name text)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_deregister_stream_consumer';

CREATE FUNCTION kinesis.list_stream_consumers(stream_name text)
    RETURNS TABLE (consumer_name text, consumer_status text, consumer_creation_timestamp timestamptz)
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'kg_list_stream_consumers';

CREATE FUNCTION kinesis.consume(stream_name text, consumer_name text, max_records integer DEFAULT 1000,
                                wait interval DEFAULT '0')
    RETURNS SETOF kinesis.record
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 1000 AS 'MODULE_PATHNAME', 'kg_consume';

CREATE FUNCTION kinesis.checkpoint(stream_name text, consumer_name text, shard_id text, sequence_number bigint)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_checkpoint';

-- get_records that waits for a producer's commit when nothing is there yet.
CREATE FUNCTION kinesis.get_records(shard_iterator text, "limit" integer, wait interval)
    RETURNS kinesis.get_records_result
    LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'kg_get_records_wait';

CREATE FUNCTION kinesis._shard_lag(stream_id integer, shard_index integer, after_sequence_number bigint,
        OUT records bigint, OUT oldest_arrival timestamptz, OUT bytes bigint)
    RETURNS record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_shard_lag';

CREATE VIEW kinesis.consumer_positions AS
    SELECT s.stream_name, c.consumer_name,
           'shardId-' OPERATOR(pg_catalog.||) pg_catalog.lpad(cs.shard_index::text, 12, '0') AS shard_id,
           cs.checkpoint AS checkpoint_sequence_number, cs.finished, cs.checkpointed_at,
           cs.lease_owner, cs.lease_expires_at,
           lag.records AS lag_records,
           pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) lag.oldest_arrival AS lag_time,
           lag.bytes AS lag_bytes
      FROM kinesis.consumer_shards cs
      JOIN kinesis.consumers c USING (consumer_id)
      JOIN kinesis.streams s USING (stream_id),
           LATERAL kinesis._shard_lag(s.stream_id, cs.shard_index, cs.checkpoint) lag;
GRANT SELECT ON kinesis.consumer_positions TO PUBLIC;
COMMENT ON VIEW kinesis.consumer_positions IS
    'per consumer and shard: checkpoint, lease, and lag in records and in time (records of streams the caller cannot read count as NULL)';

-- ---- src/streams/mappings.sql
-- Event source mappings (src/streams/esm_catalog.c, esm_runner.c): a
-- function called by background workers with batches of a stream's records,
-- as the mapping's owner, the call and the checkpoint in one transaction.

CREATE TABLE kinesis.event_source_mappings (
    mapping_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id integer NOT NULL REFERENCES kinesis.streams ON DELETE CASCADE,
    function_name regproc NOT NULL,
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
    SELECT m.mapping_id, s.stream_name, m.function_name, m.owner,
           CASE WHEN m.enabled THEN 'Enabled' ELSE 'Disabled' END AS state,
           m.batch_size, m.maximum_batching_window, m.parallelization_factor,
           m.maximum_retry_attempts, m.maximum_record_age, m.bisect_batch_on_function_error,
           m.on_failure_destination, m.last_processing_result, m.last_processed_at,
           m.last_error, m.last_error_at
      FROM kinesis.event_source_mappings m JOIN kinesis.streams s USING (stream_id);
GRANT SELECT ON kinesis.event_source_mapping_status TO PUBLIC;

-- ---- src/firehose/firehose.sql
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
    transform_function regproc,
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
-- pg_class); only an owner (or a member of its role) changes one or sees
-- its error output and objects.  The functions are SECURITY INVOKER; the
-- worker runs deliveries as the owner, so no path widens a role's rights.
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
ALTER TABLE firehose.delivered_objects ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON firehose.delivered_objects FOR ALL
    USING (EXISTS (SELECT 1 FROM firehose.delivery_streams d
                    WHERE d.delivery_stream_id OPERATOR(pg_catalog.=) delivered_objects.delivery_stream_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, d.owner, 'USAGE')));
GRANT SELECT, INSERT ON firehose.delivered_objects TO PUBLIC;

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
    IF must_own AND NOT pg_has_role(current_user, d.owner, 'USAGE') THEN
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
    IF d.transform_function IS NOT NULL AND NOT has_function_privilege(d.owner, d.transform_function, 'EXECUTE') THEN
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
    d.transform_function := transform_function;
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

CREATE FUNCTION firehose.delete_delivery_stream(delivery_stream_name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get(delivery_stream_name, true, true);
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
           d.transform_function, d.retry_duration, d.backup_mode, d.backup_table, d.version_id,
           d.records_delivered,
           d.processing_failed + d.delivery_failed + d.format_failed + d.partitioning_failed + d.destination_failed,
           d.last_delivery_at, d.last_error
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
    d.transform_function := coalesce(transform_function, d.transform_function);
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
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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
CREATE VIEW firehose.delivery_stream_metrics AS
    SELECT d.delivery_stream_name,
           CASE WHEN NOT d.enabled THEN 'STOPPED' WHEN d.failing_since IS NOT NULL THEN 'FAILING'
                ELSE 'ACTIVE' END AS status,
           d.destination_type,
           d.incoming_records, d.incoming_bytes, d.records_delivered, d.bytes_delivered,
           d.objects_delivered, d.records_dropped, d.processing_failed, d.delivery_failed,
           d.format_failed, d.partitioning_failed, d.destination_failed, d.failed_attempts_total,
           d.records_backed_up,
           p.pending_records, p.pending_bytes, p.data_freshness,
           d.last_delivery_at, d.last_error, d.last_error_at, d.failing_since, d.failed_attempts,
           d.next_attempt_at
      FROM firehose.delivery_streams d
      LEFT JOIN LATERAL (
           SELECT sum(c.lag_records) AS pending_records, sum(c.lag_bytes) AS pending_bytes,
                  max(c.lag_time) AS data_freshness
             FROM kinesis.consumer_positions c
            WHERE c.stream_name OPERATOR(pg_catalog.=) d.source_stream
              AND c.consumer_name OPERATOR(pg_catalog.=) d.consumer_name) p ON true;
GRANT SELECT ON firehose.delivery_stream_metrics TO PUBLIC;
COMMENT ON VIEW firehose.delivery_stream_metrics IS
    'per delivery stream: records and bytes in and delivered, failures by kind, data freshness, last error';

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


-- ---- src/firehose/firehose_delivery.sql
-- Firehose delivery (src/firehose): one batch of a delivery stream, in the
-- caller's transaction.  The worker calls firehose._deliver(id, false) as
-- the delivery stream's owner; firehose.flush() calls it for an owner.
--
--   _deliver      due?  backing off?  one attempt in a subtransaction;
--                 a failed attempt is rolled back (checkpoint, rows, files)
--                 and retried with exponential backoff until retry_duration
--                 has passed, then its records go to the error output
--   _attempt      consume, back up, transform, deliver, count
--   _transform    the transform function's Ok / Dropped / ProcessingFailed
--   _to_table     one INSERT for the batch; rows the table rejects (data or
--                 constraint errors) go one by one to the error output
--   _to_files     records grouped by evaluated prefix, one object each
--   _to_program   the batch on the program's standard input
--
-- Exactly once: the destination rows or object manifest rows commit with
-- the consumer checkpoint (objects are renamed into place at commit, see
-- objects.c).  Programs are at least once.
--
-- Locking: _deliver locks the delivery stream's row FOR UPDATE for the
-- transaction; the consumer locks its shard rows (kinesis.consume).

-- Send records to the error output (and, with FailedDataOnly, the backup
-- table); returns how many.
CREATE FUNCTION firehose._fail(d firehose.delivery_streams, recs kinesis.record[], code text,
        message text, attempts integer) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF coalesce(cardinality(recs), 0) = 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO firehose.delivery_errors (delivery_stream_id, shard_id, sequence_number, error_code,
            error_message, raw_data, approximate_arrival_timestamp, attempts_made)
    SELECT d.delivery_stream_id, r.shard_id, r.sequence_number, code, message, r.data,
           r.approximate_arrival_timestamp, attempts
      FROM unnest(recs) r;
    IF d.backup_mode = 'FailedDataOnly' THEN
        PERFORM firehose._backup(d, recs, code, message);
    END IF;
    RETURN cardinality(recs);
END
$$;

-- Copy source records into the backup table: raw_data, and whichever of
-- shard_id, sequence_number, partition_key, approximate_arrival_timestamp,
-- delivery_stream_name, error_code, error_message it has.
CREATE FUNCTION firehose._backup(d firehose.delivery_streams, recs kinesis.record[], code text, message text)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cols text;
    vals text;
BEGIN
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg(CASE a.attname WHEN 'raw_data' THEN 'r.data' WHEN 'delivery_stream_name' THEN '$2'
                          WHEN 'error_code' THEN '$3' WHEN 'error_message' THEN '$4'
                          ELSE 'r.' || quote_ident(a.attname) END, ', ' ORDER BY a.attnum)
      INTO cols, vals
      FROM pg_attribute a
     WHERE a.attrelid = d.backup_table AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname IN ('raw_data', 'shard_id', 'sequence_number', 'partition_key',
                         'approximate_arrival_timestamp', 'delivery_stream_name', 'error_code', 'error_message');
    EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM unnest($1) r', d.backup_table, cols, vals)
       USING recs, d.delivery_stream_name, code, message;
END
$$;

-- Run the transform function (with its retries) over recs.  Returns the
-- records to deliver (data replaced by the transform's); failures go to
-- the error output.  dropped and failed count the others.
CREATE FUNCTION firehose._transform(d firehose.delivery_streams, recs kinesis.record[],
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
            EXECUTE format('SELECT array_agg(t::firehose.transformed_record) FROM %s($1) t', d.transform_function)
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

-- The INSERT statement of a table destination, reading the records from
-- source (by default unnest($1), $1 a kinesis.record[]).
-- columns format: JSON keys to columns by name (unknown keys ignored; a
-- missing key takes the column default, or NULL), metadata columns
-- (sequence_number, partition_key, shard_id, approximate_arrival_timestamp)
-- filled from the record unless the JSON has the key.  jsonb / bytea: the
-- record into data_column, plus the metadata columns.
CREATE FUNCTION firehose._table_insert_sql(d firehose.delivery_streams, source text DEFAULT 'unnest($1)') RETURNS text
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cols text;
    vals text;
BEGIN
    IF d.record_format = 'columns' THEN
        -- (OFFSET 0 and the LATERAL call: each record is parsed and populated
        -- once, not once per column)
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
               string_agg(CASE
                   WHEN a.attname IN ('sequence_number', 'partition_key', 'shard_id', 'approximate_arrival_timestamp') THEN
                       format('CASE WHEN x.p ? %L THEN v.%I ELSE x.%I::%s END', a.attname, a.attname, a.attname,
                              format_type(a.atttypid, a.atttypmod))
                   WHEN a.attidentity = 'd' THEN
                       format('CASE WHEN x.p ? %L THEN v.%I ELSE nextval(%L::regclass) END', a.attname, a.attname,
                              pg_get_serial_sequence(d.destination_table::text, a.attname))
                   WHEN a.atthasdef THEN
                       format('CASE WHEN x.p ? %L THEN v.%I ELSE %s END', a.attname, a.attname,
                              pg_get_expr(ad.adbin, ad.adrelid))
                   ELSE format('v.%I', a.attname) END, ', ' ORDER BY a.attnum)
          INTO cols, vals
          FROM pg_attribute a
          LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
         WHERE a.attrelid = d.destination_table AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attgenerated = '' AND a.attidentity <> 'a';
        RETURN format('INSERT INTO %s (%s) SELECT %s FROM (SELECT r.shard_id, r.sequence_number, r.partition_key, '
                      'r.approximate_arrival_timestamp, firehose._json_object(r.data) AS p FROM %s r OFFSET 0) x, '
                      'LATERAL jsonb_populate_record(NULL::%s, x.p) v',
                      d.destination_table, cols, vals, source, d.destination_table);
    END IF;
    SELECT string_agg(', ' || quote_ident(a.attname), '' ORDER BY a.attnum),
           string_agg(', r.' || quote_ident(a.attname), '' ORDER BY a.attnum)
      INTO cols, vals
      FROM pg_attribute a
     WHERE a.attrelid = d.destination_table AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname IN ('sequence_number', 'partition_key', 'shard_id', 'approximate_arrival_timestamp')
       AND a.attname <> d.data_column;
    RETURN format('INSERT INTO %s (%I%s) SELECT %s%s FROM %s r', d.destination_table, d.data_column,
                  coalesce(cols, ''),
                  CASE d.record_format WHEN 'jsonb' THEN 'convert_from(r.data, ''UTF8'')::jsonb' ELSE 'r.data' END,
                  coalesce(vals, ''), source);
END
$$;

-- Deliver recs into the destination table: all in one statement, or, when
-- that fails on a row (a data or constraint error, or a trigger's
-- exception), row by row so that only the rejected rows go to the error
-- output.  Any other error (the table is gone, no privilege) fails the
-- attempt.
CREATE FUNCTION firehose._to_table(d firehose.delivery_streams, recs kinesis.record[],
        OUT delivered integer, OUT delivered_bytes bigint, OUT failed integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    stmt text;
    r kinesis.record;
BEGIN
    delivered := 0;
    delivered_bytes := 0;
    failed := 0;
    IF cardinality(recs) = 0 THEN
        RETURN;
    END IF;
    stmt := firehose._table_insert_sql(d);
    BEGIN
        EXECUTE stmt USING recs;
        delivered := cardinality(recs);
        delivered_bytes := (SELECT sum(octet_length(x.data)) FROM unnest(recs) x);
        RETURN;
    EXCEPTION WHEN data_exception OR integrity_constraint_violation OR raise_exception THEN
        NULL;                   -- find the rejected rows below
    END;
    FOREACH r IN ARRAY recs LOOP
        BEGIN
            EXECUTE stmt USING ARRAY[r];
            delivered := delivered + 1;
            delivered_bytes := delivered_bytes + octet_length(r.data);
        EXCEPTION WHEN data_exception OR integrity_constraint_violation OR raise_exception THEN
            failed := failed + firehose._fail(d, ARRAY[r], 'DeliveryFailed', SQLERRM, 1);
        END;
    END LOOP;
END
$$;

-- A record of a file or program destination, with why the format cannot
-- hold it (NULL: it can) and, for files, the prefix of its object (NULL
-- when its partition keys give none).
CREATE TYPE firehose._file_record AS (ord bigint, rec kinesis.record, problem text, prefix text);

-- recs checked for the destination's format and (files) evaluated prefix;
-- records that fail go to the error output (FormatFailed,
-- PartitioningFailed).  The prefix's timestamp is the record's arrival; a
-- random string is one per batch.
CREATE FUNCTION firehose._file_records(d firehose.delivery_streams, recs kinesis.record[],
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
        SELECT ROW(u.ord, ROW(u.shard_id, u.sequence_number, u.approximate_arrival_timestamp, u.partition_key,
                              u.data)::kinesis.record,
                   firehose._record_problem(d.file_format, d.file_columns, u.data),
                   CASE WHEN d.destination_type = 'files' THEN
                       firehose._evaluate_prefix(d.prefix, u.approximate_arrival_timestamp,
                                                 coalesce(kv.vals, '{}') || random_string) END
               )::firehose._file_record
          FROM unnest(recs) WITH ORDINALITY
               AS u(shard_id, sequence_number, approximate_arrival_timestamp, partition_key, data, ord)
          LEFT JOIN LATERAL (
               SELECT jsonb_object_agg(k.key, jsonb_path_query_first(firehose._json_or_null(u.data),
                                                                     k.value::jsonpath, '{}', true) #>> '{}') AS vals
                 FROM jsonb_each_text(d.partition_keys) k
                WHERE d.partition_keys <> '{}') kv ON true
         ORDER BY u.ord);
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

-- Pipe recs to the program, in the file format (records it cannot take go
-- to the error output first).  $FIREHOSE_BATCH_ID is "<first>-<last>"
-- sequence number: a program can recognise a batch delivered again.
CREATE FUNCTION firehose._to_program(d firehose.delivery_streams, recs kinesis.record[],
        OUT delivered integer, OUT delivered_bytes bigint, OUT failed integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f record := firehose._file_records(d, recs);
BEGIN
    failed := f.format_failed;
    delivered := coalesce(cardinality(f.good), 0);
    delivered_bytes := 0;
    IF delivered > 0 THEN
        PERFORM firehose._check_server_role(d.owner, 'pg_execute_server_program', 'execute server programs');
        PERFORM firehose._pipe_to_program(d.destination_program, d.delivery_stream_name,
                (SELECT min((i.rec).sequence_number) || '-' || max((i.rec).sequence_number) FROM unnest(f.good) i),
                d.file_format, d.file_columns, d.file_header, d.compression = 'GZIP',
                ARRAY(SELECT (i.rec).data FROM unnest(f.good) i ORDER BY i.ord));
        delivered_bytes := (SELECT sum(octet_length((i.rec).data)) FROM unnest(f.good) i);
    END IF;
END
$$;

-- Write recs as objects under the destination directory: one object per
-- evaluated prefix, named
--   <prefix><delivery stream>-<version>-<oldest arrival, UTC>-<first seq>-<last seq><extension>
-- Records without a prefix go to the error output as PartitioningFailed,
-- records the format cannot hold as FormatFailed.
CREATE FUNCTION firehose._to_files(d firehose.delivery_streams, recs kinesis.record[],
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
        INSERT INTO firehose.delivered_objects (delivery_stream_id, object_path, first_sequence_number,
                last_sequence_number, records, bytes)
        VALUES (d.delivery_stream_id, path, g.first_seq, g.last_seq, g.n, g.bytes);
        delivered := delivered + g.n;
        delivered_bytes := delivered_bytes + g.bytes;
        objects := objects + 1;
    END LOOP;
END
$$;

-- One delivery attempt: take a batch from the source, back it up (AllData),
-- transform, deliver, count.  Returns the number of records taken.
CREATE FUNCTION firehose._attempt(d firehose.delivery_streams) RETURNS integer
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
            UPDATE firehose.delivery_streams SET
                   incoming_records = incoming_records + n, incoming_bytes = incoming_bytes + coalesce(in_bytes, 0),
                   records_delivered = records_delivered + n, bytes_delivered = bytes_delivered + coalesce(in_bytes, 0),
                   last_delivery_at = CASE WHEN n > 0 THEN clock_timestamp() ELSE last_delivery_at END
             WHERE delivery_stream_id = d.delivery_stream_id;
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
    UPDATE firehose.delivery_streams SET
           incoming_records = incoming_records + cardinality(recs),
           incoming_bytes = incoming_bytes + in_bytes,
           records_delivered = records_delivered + out.delivered,
           bytes_delivered = bytes_delivered + out.delivered_bytes,
           objects_delivered = objects_delivered + objs,
           records_dropped = records_dropped + t.dropped,
           processing_failed = processing_failed + t.failed,
           delivery_failed = delivery_failed + CASE WHEN d.destination_type = 'table' THEN out.failed ELSE 0 END,
           format_failed = format_failed + CASE WHEN d.destination_type = 'table' THEN 0 ELSE out.failed END,
           partitioning_failed = partitioning_failed + part_failed,
           records_backed_up = records_backed_up + backed
               + CASE WHEN d.backup_mode = 'FailedDataOnly' THEN t.failed + out.failed + part_failed ELSE 0 END,
           last_delivery_at = clock_timestamp(),
           last_error = CASE WHEN t.failed + out.failed + part_failed = 0 THEN last_error
                             ELSE (SELECT e.error_message FROM firehose.delivery_errors e
                                    WHERE e.delivery_stream_id = d.delivery_stream_id
                                    ORDER BY e.error_id DESC LIMIT 1) END,
           last_error_at = CASE WHEN t.failed + out.failed + part_failed = 0 THEN last_error_at
                                ELSE clock_timestamp() END
     WHERE delivery_stream_id = d.delivery_stream_id;
    RETURN cardinality(recs);
END
$$;

-- Deliver one batch of delivery stream id, in the caller's transaction.
-- Unless force, only when due: a buffering hint reached (pending bytes >=
-- size, or the oldest pending record older than the interval) and no
-- backoff pending.  Returns the number of records taken from the source
-- (0: nothing due, or the attempt failed and will be retried).
CREATE FUNCTION firehose._deliver(id integer, force boolean) RETURNS integer
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
    IF NOT pg_has_role(current_user, d.owner, 'USAGE') THEN
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
    SELECT * INTO d FROM firehose.delivery_streams WHERE delivery_stream_id = id FOR UPDATE;

    BEGIN
        n := firehose._attempt(d);
        IF d.failing_since IS NOT NULL THEN
            UPDATE firehose.delivery_streams SET failing_since = NULL, failed_attempts = 0, next_attempt_at = NULL
             WHERE delivery_stream_id = id;
        END IF;
        RETURN n;
    EXCEPTION WHEN OTHERS THEN
        err := SQLERRM;         -- the attempt is rolled back: checkpoint, rows, objects
    END;

    attempts := d.failed_attempts + 1;
    IF d.retry_duration = interval '0' OR clock_timestamp() >= d.failing_since + d.retry_duration THEN
        -- retries exhausted: the batch goes to the error output
        BEGIN
            recs := ARRAY(SELECT c FROM kinesis.consume(d.source_stream, d.consumer_name, 10000) c);
            n := firehose._fail(d, recs, 'DestinationFailed', err, attempts);
            UPDATE firehose.delivery_streams SET failing_since = NULL, failed_attempts = 0, next_attempt_at = NULL,
                   incoming_records = incoming_records + n,
                   incoming_bytes = incoming_bytes + coalesce((SELECT sum(octet_length(r.data)) FROM unnest(recs) r), 0),
                   destination_failed = destination_failed + n, failed_attempts_total = failed_attempts_total + 1,
                   records_backed_up = records_backed_up + CASE WHEN backup_mode = 'FailedDataOnly' THEN n ELSE 0 END,
                   last_error = err, last_error_at = clock_timestamp()
             WHERE delivery_stream_id = id;
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
    UPDATE firehose.delivery_streams SET failing_since = coalesce(failing_since, clock_timestamp()),
           failed_attempts = attempts, next_attempt_at = clock_timestamp() + backoff,
           failed_attempts_total = failed_attempts_total + 1,
           last_error = err, last_error_at = clock_timestamp()
     WHERE delivery_stream_id = id;
    RAISE WARNING 'DeliveryFailed: delivery stream "%" failed (attempt %), will retry: %',
            d.delivery_stream_name, attempts, err
        USING HINT = format('Records wait until the destination works again, for at most retry_duration (%s); '
                            'firehose.delivery_stream_metrics shows the next attempt.', d.retry_duration);
    RETURN 0;
END
$$;

-- Deliver everything buffered now, in the caller's transaction (owner only).
-- A failing destination raises a warning and counts as an attempt.
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

-- Finish the objects of a file destination left by a crash (the worker
-- does this when it starts): rename the committed, remove the others.
CREATE FUNCTION firehose.recover_objects(delivery_stream_name text) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get(delivery_stream_name, true);
BEGIN
    IF d.destination_type <> 'files' THEN
        RETURN 0;
    END IF;
    PERFORM firehose._check_server_role(d.owner, 'pg_write_server_files', 'write server files');
    RETURN firehose._recover_objects(d.delivery_stream_id, d.destination_directory);
END
$$;

-- ---- src/glue/catalog.sql
-- Glue Data Catalog (src/glue/catalog.sql): Glue databases, their tables
-- with column lists, partition keys and numbered table versions, and Glue
-- (Hive) type strings with their PostgreSQL equivalents.  Partitions and
-- the partition filter language are in src/glue/partitions.sql.
--
-- Names: database, table and column names are 1 to 255 characters of
-- letters, digits and underscores, folded to lower case when stored and
-- when looked up (Glue folds names for Hive).  Hyphens are refused, as
-- Athena and Hive refuse them, so that every name is a plain identifier.
-- Errors start with Glue's error name: EntityNotFoundException (42704),
-- AlreadyExistsException (42710), InvalidInputException (22023, also for
-- syntax errors in type strings and partition expressions),
-- AccessDeniedException (42501).
--
-- Ownership: everybody reads the catalog (like pg_class).  Any role may
-- create a Glue database and owns it; only members of a database's owner
-- create tables in it, change it or delete it (deleting cascades to its
-- tables, whoever owns them, like Glue).  A table is changed or deleted,
-- and its versions and partitions changed, only by members of the table's
-- owner.  Row-level security enforces the same on direct DML; the functions
-- are SECURITY INVOKER and check first, for clear errors.
--
-- Locking: create_table takes FOR KEY SHARE on the database row (so the
-- database cannot be deleted under it).  update_table re-reads the table
-- row FOR NO KEY UPDATE before computing the new definition, so concurrent
-- updates serialise and number their versions one after the other;
-- partition writers (partitions.sql) hold FOR SHARE on the table row, so the
-- partition keys cannot change under them.  Uniqueness of names is left to
-- the unique constraints: the loser of a race gets AlreadyExistsException.

CREATE TABLE glue.databases (
    database_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    database_name text NOT NULL UNIQUE CHECK (database_name ~ '^[a-z0-9_]{1,255}$'),
    description text,
    location_uri text,
    parameters jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(parameters) = 'object'),
    owner regrole NOT NULL,
    create_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

CREATE TABLE glue.tables (
    table_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    database_id integer NOT NULL REFERENCES glue.databases ON DELETE CASCADE,
    table_name text NOT NULL CHECK (table_name ~ '^[a-z0-9_]{1,255}$'),
    description text,
    owner regrole NOT NULL,
    table_type text NOT NULL,
    location text,
    parameters jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(parameters) = 'object'),
    columns jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(columns) = 'array'),
    partition_keys jsonb NOT NULL DEFAULT '[]' CHECK (pg_catalog.jsonb_typeof(partition_keys) = 'array'),
    version_id integer NOT NULL DEFAULT 1,
    create_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    update_time timestamptz,
    UNIQUE (database_id, table_name)
);

-- One row per version of a table: the whole definition as it was.
CREATE TABLE glue.table_versions (
    table_id integer NOT NULL REFERENCES glue.tables ON DELETE CASCADE,
    version_id integer NOT NULL,
    definition jsonb NOT NULL,
    archive_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (table_id, version_id)
);

-- Row-level security as described at the top.  Owners, database ids and
-- table ids cannot be changed by UPDATE at all (column privileges).
ALTER TABLE glue.databases ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.databases FOR SELECT USING (true);
CREATE POLICY owned ON glue.databases FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT, INSERT, DELETE ON glue.databases TO PUBLIC;
GRANT UPDATE (description, location_uri, parameters) ON glue.databases TO PUBLIC;

ALTER TABLE glue.tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.tables FOR SELECT USING (true);
CREATE POLICY create_in_owned_database ON glue.tables FOR INSERT
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE')
                AND EXISTS (SELECT 1 FROM glue.databases d
                             WHERE d.database_id OPERATOR(pg_catalog.=) tables.database_id
                               AND pg_catalog.pg_has_role(CURRENT_USER, d.owner, 'USAGE')));
CREATE POLICY change_owned ON glue.tables FOR UPDATE
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
CREATE POLICY delete_owned ON glue.tables FOR DELETE
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT, INSERT, DELETE ON glue.tables TO PUBLIC;
GRANT UPDATE (description, table_type, location, parameters, columns, partition_keys, version_id, update_time)
    ON glue.tables TO PUBLIC;

ALTER TABLE glue.table_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.table_versions FOR SELECT USING (true);
CREATE POLICY owned ON glue.table_versions FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.tables t
                    WHERE t.table_id OPERATOR(pg_catalog.=) table_versions.table_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, t.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.tables t
                         WHERE t.table_id OPERATOR(pg_catalog.=) table_versions.table_id
                           AND pg_catalog.pg_has_role(CURRENT_USER, t.owner, 'USAGE')));
GRANT SELECT, INSERT, DELETE ON glue.table_versions TO PUBLIC;
GRANT UPDATE (definition, archive_time) ON glue.table_versions TO PUBLIC;

-- What get_database(s) return.
CREATE TYPE glue.database_definition AS (name text, description text, location_uri text,
                                         parameters jsonb, owner regrole, create_time timestamptz);
-- What get_table(s) return; table versions hold it as jsonb.
CREATE TYPE glue.table_definition AS (database_name text, name text, description text, owner regrole,
                                      table_type text, location text, classification text,
                                      parameters jsonb, columns jsonb, partition_keys jsonb,
                                      version_id integer, create_time timestamptz, update_time timestamptz);

-- Helpers -------------------------------------------------------------------

-- A database, table or column name checked (1-255 of [A-Za-z0-9_]) and
-- folded to lower case.
CREATE FUNCTION glue._name(kind text, name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9_]{1,255}$' THEN
        RAISE EXCEPTION 'InvalidInputException: % name "%" is not 1 to 255 letters, digits and underscores', kind, name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Glue folds names to lower case; hyphens, dots and spaces are not allowed.';
    END IF;
    RETURN lower(name);
END
$$;

-- A text argument is at most max_length characters (NULL passes).
CREATE FUNCTION glue._check_length(what text, value text, max_length integer) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF length(value) > max_length THEN
        RAISE EXCEPTION 'InvalidInputException: % is longer than % characters', what, max_length
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- A parameters map is a JSON object of string values with keys of 1 to 255
-- characters (Glue's map<string,string>).
CREATE FUNCTION glue._check_map(what text, m jsonb) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF m IS NULL OR jsonb_typeof(m) <> 'object' THEN
        RAISE EXCEPTION 'InvalidInputException: % must be a JSON object of string values', what
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example {"compressionType": "gzip"}.';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_each(m) e
                WHERE jsonb_typeof(e.value) <> 'string' OR length(e.key) NOT BETWEEN 1 AND 255) THEN
        RAISE EXCEPTION 'InvalidInputException: % must be a JSON object of string values', what
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keys have 1 to 255 characters; write numbers and booleans as strings, e.g. {"recordCount": "10"}.';
    END IF;
END
$$;

-- NULL leaves the old value, '' clears it, anything else replaces it.
CREATE FUNCTION glue._updated(new_value text, old_value text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT CASE WHEN new_value IS NULL THEN old_value ELSE nullif(new_value, '') END $$;

-- Glue types -----------------------------------------------------------------

-- Report a malformed Glue type: the problem at character pos of s.
CREATE FUNCTION glue._type_error(s text, pos integer, problem text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RAISE EXCEPTION 'InvalidInputException: invalid Glue type "%" at character %: %', s, pos, problem
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Glue types are string, char(n), varchar(n), boolean, tinyint, smallint, int, bigint, float, '
                     'double, decimal(p,s), date, timestamp, binary, array<T>, map<K,V> and struct<name:T,...>.';
END
$$;

-- Expect the character c (with white space around it) at character pos of
-- s; returns the position after it.
CREATE FUNCTION glue._type_expect(s text, pos integer, c text) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    m text[] := regexp_match(substr(s, pos), '^(\s*' || c || '\s*)');
BEGIN
    IF m IS NULL THEN
        PERFORM glue._type_error(s, pos, 'expected "' || c || '"');
    END IF;
    RETURN pos + length(m[1]);
END
$$;

-- Recursive descent over a Glue type string: parse the type that starts at
-- character pos of s (keywords in any case, white space allowed between
-- tokens).  Returns its PostgreSQL type, whether it is primitive, and the
-- position after it and its trailing white space.
CREATE FUNCTION glue._parse_type(s text, pos integer, depth integer,
        OUT pg_type text, OUT primitive boolean, OUT next_pos integer)
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    m text[];
    word text;
    sub record;
    fields text[] := '{}';
    p integer;
    sc integer;
BEGIN
    IF depth > 32 THEN
        PERFORM glue._type_error(s, pos, 'more than 32 levels of nesting');
    END IF;
    m := regexp_match(substr(s, pos), '^(\s*([a-z]+)\s*)', 'i');
    IF m IS NULL THEN
        PERFORM glue._type_error(s, pos, 'expected a type name');
    END IF;
    word := lower(m[2]);
    next_pos := pos + length(m[1]);
    primitive := true;
    CASE word
    WHEN 'string' THEN pg_type := 'text';
    WHEN 'boolean' THEN pg_type := 'boolean';
    WHEN 'tinyint', 'smallint' THEN pg_type := 'smallint';
    WHEN 'int', 'integer' THEN pg_type := 'integer';
    WHEN 'bigint' THEN pg_type := 'bigint';
    WHEN 'float' THEN pg_type := 'real';
    WHEN 'double' THEN pg_type := 'double precision';
    WHEN 'date' THEN pg_type := 'date';
    WHEN 'timestamp' THEN pg_type := 'timestamp';
    WHEN 'binary' THEN pg_type := 'bytea';
    WHEN 'char', 'varchar' THEN
        m := regexp_match(substr(s, next_pos), '^(\(\s*([0-9]{1,5})\s*\)\s*)');
        p := 65535;                                     -- longest varchar
        IF word = 'char' THEN
            p := 255;
        END IF;
        IF m IS NULL OR m[2]::integer NOT BETWEEN 1 AND p THEN
            PERFORM glue._type_error(s, next_pos, format('expected (n) with n from 1 to %s', p));
        END IF;
        pg_type := word || '(' || m[2]::integer || ')';
        next_pos := next_pos + length(m[1]);
    WHEN 'decimal' THEN
        m := regexp_match(substr(s, next_pos), '^(\(\s*([0-9]{1,3})\s*(,\s*([0-9]{1,3})\s*)?\)\s*)');
        IF m IS NULL AND substr(s, next_pos, 1) = '(' THEN
            PERFORM glue._type_error(s, next_pos, 'expected (precision, scale)');
        ELSIF m IS NULL THEN
            pg_type := 'numeric(10,0)';                -- Hive's default decimal
        ELSE
            p := m[2]::integer;
            sc := coalesce(m[4]::integer, 0);
            IF p NOT BETWEEN 1 AND 38 OR sc > p THEN
                PERFORM glue._type_error(s, next_pos, 'expected a precision from 1 to 38 and a scale from 0 to the precision');
            END IF;
            pg_type := format('numeric(%s,%s)', p, sc);
            next_pos := next_pos + length(m[1]);
        END IF;
    WHEN 'array' THEN
        sub := glue._parse_type(s, glue._type_expect(s, next_pos, '<'), depth + 1);
        next_pos := glue._type_expect(s, sub.next_pos, '>');
        primitive := false;
        pg_type := CASE WHEN sub.primitive THEN sub.pg_type || '[]' ELSE 'jsonb' END;
    WHEN 'map' THEN
        p := glue._type_expect(s, next_pos, '<');
        sub := glue._parse_type(s, p, depth + 1);
        IF NOT sub.primitive THEN
            PERFORM glue._type_error(s, p, 'a map key must have a primitive type');
        END IF;
        sub := glue._parse_type(s, glue._type_expect(s, sub.next_pos, ','), depth + 1);
        next_pos := glue._type_expect(s, sub.next_pos, '>');
        primitive := false;
        pg_type := 'jsonb';
    WHEN 'struct' THEN
        next_pos := glue._type_expect(s, next_pos, '<');
        LOOP
            m := regexp_match(substr(s, next_pos), '^(\s*([a-z0-9_]{1,255})\s*:)', 'i');
            IF m IS NULL THEN
                PERFORM glue._type_error(s, next_pos, 'expected a field name and ":"');
            ELSIF lower(m[2]) = ANY (fields) THEN
                PERFORM glue._type_error(s, next_pos, format('field "%s" appears twice', lower(m[2])));
            END IF;
            fields := fields || lower(m[2]);
            sub := glue._parse_type(s, next_pos + length(m[1]), depth + 1);
            next_pos := sub.next_pos;
            EXIT WHEN substr(s, next_pos, 1) = '>';
            next_pos := glue._type_expect(s, next_pos, ',');
        END LOOP;
        next_pos := glue._type_expect(s, next_pos, '>');
        primitive := false;
        pg_type := 'jsonb';
    ELSE
        PERFORM glue._type_error(s, pos, '"' || m[2] || '" is not a type name');
    END CASE;
END
$$;

-- A whole Glue type string: its PostgreSQL type and whether it is
-- primitive.  InvalidInputException when it is not a Glue type.
CREATE FUNCTION glue._type_info(glue_type text, OUT pg_type text, OUT primitive boolean)
    LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r record;
BEGIN
    IF length(glue_type) > 131072 THEN
        RAISE EXCEPTION 'InvalidInputException: a Glue type has at most 131072 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    r := glue._parse_type(glue_type, 1, 0);
    IF r.next_pos <= length(glue_type) THEN
        PERFORM glue._type_error(glue_type, r.next_pos, 'expected the end of the type');
    END IF;
    pg_type := r.pg_type;
    primitive := r.primitive;
END
$$;

-- The PostgreSQL type for a Glue type: string -> text, int -> integer,
-- decimal(p,s) -> numeric(p,s), array<primitive> -> an array of it, other
-- arrays, maps and structs -> jsonb.  NULL for NULL; InvalidInputException
-- when glue_type is not a Glue type.
CREATE FUNCTION glue.pg_type_for(glue_type text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT (glue._type_info(glue_type)).pg_type $$;

-- A column list (columns or partition keys) checked and normalised: a JSON
-- array of {"name", "type", "comment"?, "parameters"?} objects, names folded
-- to lower case and unique in the list, types valid Glue types (primitive
-- for partition keys), comments up to 255 characters.
CREATE FUNCTION glue._columns(what text, cols jsonb, partition_keys boolean) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    c jsonb;
    bad boolean;
    i integer := 0;
    n text;
    names text[] := '{}';
    result jsonb := '[]';
BEGIN
    IF cols IS NULL OR jsonb_typeof(cols) <> 'array' THEN
        RAISE EXCEPTION 'InvalidInputException: % must be a JSON array of {"name": ..., "type": ...} objects', what
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example [{"name": "id", "type": "bigint"}].';
    END IF;
    FOR c IN SELECT e.value FROM jsonb_array_elements(cols) WITH ORDINALITY e ORDER BY e.ordinality LOOP
        i := i + 1;
        IF jsonb_typeof(c) = 'object' THEN             -- (jsonb_object_keys fails on others)
            bad := jsonb_typeof(c -> 'name') IS DISTINCT FROM 'string'
                   OR jsonb_typeof(c -> 'type') IS DISTINCT FROM 'string'
                   OR jsonb_typeof(coalesce(c -> 'comment', '""')) NOT IN ('string', 'null')
                   OR EXISTS (SELECT 1 FROM jsonb_object_keys(c) k
                               WHERE k NOT IN ('name', 'type', 'comment', 'parameters'));
        END IF;
        IF jsonb_typeof(c) <> 'object' OR bad THEN
            RAISE EXCEPTION 'InvalidInputException: % entry % is not an object with "name" and "type" strings', what, i
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'An entry has the keys name, type, and optionally comment and parameters.';
        END IF;
        n := glue._name('column', c ->> 'name');
        IF n = ANY (names) THEN
            RAISE EXCEPTION 'InvalidInputException: column "%" appears more than once in %', n, what
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        names := names || n;
        IF NOT (glue._type_info(c ->> 'type')).primitive AND partition_keys THEN
            RAISE EXCEPTION 'InvalidInputException: partition key "%" has the type "%", not a primitive type', n, c ->> 'type'
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Partition keys are usually string, int, bigint or date.';
        END IF;
        PERFORM glue._check_length('the comment of column "' || n || '"', c ->> 'comment', 255);
        IF c ? 'parameters' THEN
            PERFORM glue._check_map('the parameters of column "' || n || '"', c -> 'parameters');
        END IF;
        result := result || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                      'name', n, 'type', c ->> 'type', 'comment', c ->> 'comment', 'parameters', c -> 'parameters')));
    END LOOP;
    RETURN result;
END
$$;

-- Databases ----------------------------------------------------------------

-- The database row of a name (folded), checked to exist and, with
-- must_own, to be owned by (a role of) the caller.
CREATE FUNCTION glue._database(name text, must_own boolean) RETURNS glue.databases
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
    IF must_own AND NOT pg_has_role(current_user, d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to change database "%"',
                d.owner, d.database_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN d;
END
$$;

-- Create a Glue database owned by the caller.  Any role may.
CREATE FUNCTION glue.create_database(name text, description text DEFAULT NULL, location_uri text DEFAULT NULL,
        parameters jsonb DEFAULT '{}')
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    n text := glue._name('database', name);
BEGIN
    PERFORM glue._check_length('description', description, 2048);
    PERFORM glue._check_length('location_uri', location_uri, 1024);
    PERFORM glue._check_map('parameters', parameters);
    INSERT INTO glue.databases (database_name, description, location_uri, parameters, owner)
    VALUES (n, nullif(description, ''), nullif(location_uri, ''), parameters, current_user::regrole);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'AlreadyExistsException: database "%" already exists', n
        USING ERRCODE = 'duplicate_object';
END
$$;

-- One database (EntityNotFoundException when there is none).
CREATE FUNCTION glue.get_database(name text) RETURNS SETOF glue.database_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.database_name, d.description, d.location_uri, d.parameters, d.owner, d.create_time
      FROM glue._database(name, false) AS d
$$;

-- Every database, by name.
CREATE FUNCTION glue.get_databases() RETURNS SETOF glue.database_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.database_name, d.description, d.location_uri, d.parameters, d.owner, d.create_time
      FROM glue.databases d ORDER BY d.database_name COLLATE "C"
$$;

-- Change a database (owners only).  NULL leaves a field as it is; '' clears
-- description or location_uri; parameters replaces the whole map.
CREATE FUNCTION glue.update_database(name text, description text DEFAULT NULL, location_uri text DEFAULT NULL,
        parameters jsonb DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Delete a database with its tables, their versions and partitions (owners
-- of the database only; the tables may belong to other roles).
CREATE FUNCTION glue.delete_database(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d glue.databases := glue._database(name, true);
BEGIN
    PERFORM glue._drop_relation(t.table_id) FROM glue.tables t WHERE t.database_id = d.database_id;
    DELETE FROM glue.databases x WHERE x.database_id = d.database_id;
END
$$;

-- Tables -------------------------------------------------------------------

-- The table row of database_name.table_name, checked to exist and, with
-- must_own, to be owned by (a role of) the caller.
CREATE FUNCTION glue._table(database_name text, table_name text, must_own boolean) RETURNS glue.tables
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
    IF must_own AND NOT pg_has_role(current_user, t.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to change table "%.%"',
                t.owner, d.database_name, t.table_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN t;
END
$$;

-- The definition of a table row, as get_table returns it and versions keep it.
CREATE FUNCTION glue._definition(t glue.tables) RETURNS glue.table_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.database_name, ($1).table_name, ($1).description, ($1).owner, ($1).table_type, ($1).location,
           ($1).parameters ->> 'classification', ($1).parameters, ($1).columns, ($1).partition_keys,
           ($1).version_id, ($1).create_time, ($1).update_time
      FROM glue.databases d WHERE d.database_id = ($1).database_id
$$;

-- Checks shared by create_table and update_table on the new row.
CREATE FUNCTION glue._check_table(t glue.tables) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    dup text;
BEGIN
    SELECT c ->> 'name' INTO dup
      FROM jsonb_array_elements(t.columns) c JOIN jsonb_array_elements(t.partition_keys) k
        ON c ->> 'name' = k ->> 'name' LIMIT 1;
    IF dup IS NOT NULL THEN
        RAISE EXCEPTION 'InvalidInputException: "%" is both a column and a partition key', dup
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A partition key is not repeated among the columns.';
    END IF;
    IF t.table_type NOT IN ('EXTERNAL_TABLE', 'MANAGED_TABLE', 'VIRTUAL_VIEW', 'GOVERNED') THEN
        RAISE EXCEPTION 'InvalidInputException: table type "%" is not one of EXTERNAL_TABLE, MANAGED_TABLE, VIRTUAL_VIEW, GOVERNED',
                t.table_type USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM glue._check_length('description', t.description, 2048);
    PERFORM glue._check_length('location', t.location, 2056);
    PERFORM glue._check_map('parameters', t.parameters);
    PERFORM glue._check_length('classification', t.parameters ->> 'classification', 255);
END
$$;

-- Create a table in a database (members of the database's owner only); the
-- caller owns it.  The classification is kept in parameters, as Glue does;
-- a classification argument overrides parameters' one.  Keeps version 1.
CREATE FUNCTION glue.create_table(database_name text, table_name text, columns jsonb,
        partition_keys jsonb DEFAULT '[]', location text DEFAULT NULL, classification text DEFAULT NULL,
        table_type text DEFAULT 'EXTERNAL_TABLE', parameters jsonb DEFAULT '{}', description text DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d glue.databases := glue._database(database_name, false);
    t glue.tables;
BEGIN
    IF NOT pg_has_role(current_user, d.owner, 'USAGE') THEN
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
        VALUES (t.database_id, t.table_name, t.description, current_user::regrole, t.table_type, t.location,
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

-- One table (EntityNotFoundException when there is none).
CREATE FUNCTION glue.get_table(database_name text, table_name text) RETURNS SETOF glue.table_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT def.* FROM glue._table($1, $2, false) AS t CROSS JOIN LATERAL glue._definition(t) AS def
$$;

-- The tables of a database by name; expression, when given, is a regular
-- expression the whole name must match (e.g. 'sales_.*').
CREATE FUNCTION glue.get_tables(database_name text, expression text DEFAULT NULL)
    RETURNS SETOF glue.table_definition
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d glue.databases := glue._database(database_name, false);
    pattern text := '^(?:' || expression || ')$';
BEGIN
    IF expression IS NOT NULL THEN
        BEGIN
            PERFORM '' ~ expression, '' ~ pattern;
        EXCEPTION WHEN invalid_regular_expression THEN
            RAISE EXCEPTION 'InvalidInputException: "%" is not a valid regular expression', expression
                USING ERRCODE = 'invalid_parameter_value', DETAIL = SQLERRM,
                      HINT = 'The expression is a POSIX regular expression that the whole table name must match.';
        END;
    END IF;
    RETURN QUERY
        SELECT def.*
          FROM glue.tables t CROSS JOIN LATERAL glue._definition(t) AS def
         WHERE t.database_id = d.database_id AND (expression IS NULL OR t.table_name ~ pattern)
         ORDER BY t.table_name COLLATE "C";
END
$$;

-- Change a table (members of its owner only).  NULL leaves a field as it
-- is; '' clears location, description or classification; columns,
-- partition_keys and parameters replace the old ones whole.  Partition keys
-- cannot change (names, types or number) while the table has partitions.
-- Keeps the new definition as version n+1; with skip_archive the current
-- version is overwritten instead and the version number stays.
CREATE FUNCTION glue.update_table(database_name text, table_name text, columns jsonb DEFAULT NULL,
        partition_keys jsonb DEFAULT NULL, location text DEFAULT NULL, classification text DEFAULT NULL,
        parameters jsonb DEFAULT NULL, description text DEFAULT NULL, skip_archive boolean DEFAULT false)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Delete a table with its versions and partitions (members of its owner only).
CREATE FUNCTION glue.delete_table(database_name text, table_name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, true);
BEGIN
    PERFORM glue._drop_relation(t.table_id);
    DELETE FROM glue.tables x WHERE x.table_id = t.table_id;
END
$$;

-- Versions -----------------------------------------------------------------

-- The kept versions of a table, newest first; definition is what
-- get_table returned at that version.
CREATE FUNCTION glue.get_table_versions(database_name text, table_name text)
    RETURNS TABLE (version_id integer, definition jsonb, archive_time timestamptz)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT v.version_id, v.definition, v.archive_time
      FROM glue.table_versions v
     WHERE v.table_id = (glue._table($1, $2, false)).table_id
     ORDER BY v.version_id DESC
$$;

-- The definition of one version (NULL: the current one).
CREATE FUNCTION glue.get_table_version(database_name text, table_name text, version_id integer DEFAULT NULL)
    RETURNS jsonb LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, false);
    v jsonb;
BEGIN
    SELECT x.definition INTO v FROM glue.table_versions x
     WHERE x.table_id = t.table_id AND x.version_id = coalesce(get_table_version.version_id, t.version_id);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: version % of table "%" does not exist', version_id, t.table_name
            USING ERRCODE = 'undefined_object', HINT = 'List them with glue.get_table_versions(database_name, table_name).';
    END IF;
    RETURN v;
END
$$;

-- Delete an archived version (members of the table's owner only).  The
-- current version cannot be deleted.
CREATE FUNCTION glue.delete_table_version(database_name text, table_name text, version_id integer)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Every column of every table with its PostgreSQL type: the columns in
-- order, then the partition keys (as Athena shows them).
CREATE VIEW glue.catalog_columns WITH (security_invoker = true) AS
SELECT d.database_name, t.table_name, c.n::integer AS ordinal_position, c.col ->> 'name' AS column_name,
       c.col ->> 'type' AS glue_type, glue.pg_type_for(c.col ->> 'type') AS pg_type,
       c.col ->> 'comment' AS comment, c.is_partition_key
  FROM glue.tables t
  JOIN glue.databases d ON d.database_id = t.database_id
  CROSS JOIN LATERAL (
        SELECT e.value, e.ordinality, false FROM pg_catalog.jsonb_array_elements(t.columns) WITH ORDINALITY e
        UNION ALL
        SELECT e.value, pg_catalog.jsonb_array_length(t.columns) + e.ordinality, true
          FROM pg_catalog.jsonb_array_elements(t.partition_keys) WITH ORDINALITY e
       ) AS c(col, n, is_partition_key);
GRANT SELECT ON glue.catalog_columns TO PUBLIC;

-- ---- src/glue/partitions.sql
-- Glue Data Catalog partitions (src/glue/partitions.sql): the partitions of
-- a catalog table (values in the order of its partition keys, a location,
-- parameters), the single and batch APIs, and Glue's partition filter
-- expression for get_partitions.
--
-- Values: as many as the table has partition keys, none NULL, each up to
-- 1024 characters; a value for a numeric, date, timestamp or boolean key
-- must be a valid value of that type (checked on create and update), so a
-- filter can compare it as one.
--
-- Filter expressions are parsed here (a tokenizer and a recursive descent
-- parser in PL/pgSQL) into a predicate over glue.partitions in which no
-- text of the caller appears: a partition key becomes
-- "p.partition_values[i]" (cast to numeric, date or timestamp when the key
-- has such a type), a literal becomes "$2[j]", a reference to the token
-- array that is passed as a parameter.  Anything else is refused with
-- InvalidInputException (SQLSTATE 22023, also for syntax errors).
--
-- Ownership and locking: partitions are read by everybody and changed only
-- by members of the table's owner (row-level security, as in catalog.sql).
-- Writers hold FOR SHARE on the table row for the rest of the transaction,
-- so update_table cannot change the partition keys under them; uniqueness of
-- a table's values is left to the unique constraint.

CREATE TABLE glue.partitions (
    partition_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_id integer NOT NULL REFERENCES glue.tables ON DELETE CASCADE,
    partition_values text[] NOT NULL CHECK (pg_catalog.array_position(partition_values, NULL) IS NULL),
    location text,
    parameters jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(parameters) = 'object'),
    create_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_update_time timestamptz,
    UNIQUE (table_id, partition_values)
);
ALTER TABLE glue.partitions ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.partitions FOR SELECT USING (true);
CREATE POLICY owned ON glue.partitions FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.tables t
                    WHERE t.table_id OPERATOR(pg_catalog.=) partitions.table_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, t.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.tables t
                         WHERE t.table_id OPERATOR(pg_catalog.=) partitions.table_id
                           AND pg_catalog.pg_has_role(CURRENT_USER, t.owner, 'USAGE')));
GRANT SELECT, INSERT, DELETE ON glue.partitions TO PUBLIC;
GRANT UPDATE (partition_values, location, parameters, last_update_time) ON glue.partitions TO PUBLIC;

-- What get_partition(s) return.
CREATE TYPE glue.partition_definition AS (database_name text, table_name text, "values" text[], location text,
                                          parameters jsonb, create_time timestamptz, last_update_time timestamptz);

-- How a filter compares a partition key of Glue type glue_type: numeric,
-- date, timestamp or text.  The result is spliced into filter SQL, so it
-- is one of these four words and nothing else.
CREATE FUNCTION glue._key_class(glue_type text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT CASE
           WHEN t IN ('smallint', 'integer', 'bigint', 'real', 'double precision') OR t LIKE 'numeric(%' THEN 'numeric'
           WHEN t IN ('date', 'timestamp') THEN t
           ELSE 'text' END
      FROM glue.pg_type_for(glue_type) AS t
$$;

-- The table row for a partition writer: owned by the caller, locked FOR SHARE.
CREATE FUNCTION glue._partition_table(database_name text, table_name text) RETURNS glue.tables
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, true);
BEGIN
    SELECT * INTO t FROM glue.tables x WHERE x.table_id = t.table_id FOR SHARE;
    IF NOT FOUND THEN                                   -- deleted meanwhile
        PERFORM glue._table(database_name, table_name, false);
    END IF;
    RETURN t;
END
$$;

-- Partition values checked against the table's partition keys (see the top).
CREATE FUNCTION glue._check_values(t glue.tables, vals text[]) RETURNS text[]
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    nkeys integer := jsonb_array_length(t.partition_keys);
    k jsonb;
    i integer;
    pg text;
BEGIN
    IF nkeys = 0 THEN
        RAISE EXCEPTION 'InvalidInputException: table "%" has no partition keys', t.table_name
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give it partition keys with glue.update_table().';
    END IF;
    IF array_ndims(vals) > 1 THEN
        RAISE EXCEPTION 'InvalidInputException: partition values must be a one-dimensional array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(cardinality(vals), 0) <> nkeys THEN
        RAISE EXCEPTION 'InvalidInputException: table "%" has % partition keys, but % values were given',
                t.table_name, nkeys, coalesce(cardinality(vals), 0)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give one value per partition key, in the order of the keys: '
                         || (SELECT string_agg(x ->> 'name', ', ') FROM jsonb_array_elements(t.partition_keys) x) || '.';
    END IF;
    FOR i IN 1 .. nkeys LOOP
        k := t.partition_keys -> (i - 1);
        IF vals[i] IS NULL OR length(vals[i]) > 1024 THEN
            RAISE EXCEPTION 'InvalidInputException: the value of partition key "%" must be given and have at most 1024 characters',
                    k ->> 'name' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF glue._key_class(k ->> 'type') <> 'text' OR glue.pg_type_for(k ->> 'type') = 'boolean' THEN
            pg := glue.pg_type_for(k ->> 'type');    -- a PostgreSQL type name built by glue._parse_type
            BEGIN
                EXECUTE format('SELECT $1::%s', pg) USING vals[i];
            EXCEPTION WHEN data_exception THEN
                RAISE EXCEPTION 'InvalidInputException: "%" is not a valid % value for partition key "%"',
                        vals[i], k ->> 'type', k ->> 'name'
                    USING ERRCODE = 'invalid_parameter_value';
            END;
        END IF;
    END LOOP;
    RETURN vals;
END
$$;

-- Insert one partition of table t (already owned and locked).
CREATE FUNCTION glue._insert_partition(t glue.tables, vals text[], location text, parameters jsonb)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
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

-- The partition of table t with these values (EntityNotFoundException).
CREATE FUNCTION glue._partition(t glue.tables, vals text[]) RETURNS glue.partitions
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p glue.partitions;
BEGIN
    SELECT * INTO p FROM glue.partitions x WHERE x.table_id = t.table_id AND x.partition_values = vals;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: partition % of table "%" does not exist', vals, t.table_name
            USING ERRCODE = 'undefined_object', HINT = 'List them with glue.get_partitions(database_name, table_name).';
    END IF;
    RETURN p;
END
$$;

-- Create one partition (members of the table's owner only).
CREATE FUNCTION glue.create_partition(database_name text, table_name text, "values" text[],
        location text DEFAULT NULL, parameters jsonb DEFAULT '{}')
    RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT glue._insert_partition(glue._partition_table($1, $2), $3, $4, $5)
$$;

-- Create up to 100 partitions: partitions is a JSON array of {"values":
-- [...], "location": ..., "parameters": {...}}.  An entry that fails
-- (invalid, or already there) is skipped and reported by one row
-- (partition_values, error_code, error_message), like Glue's Errors; the
-- others are created.  Errors of the whole call (no table, not the owner,
-- not an array of 1 to 100) raise.
CREATE FUNCTION glue.batch_create_partition(database_name text, table_name text, partitions jsonb)
    RETURNS TABLE (partition_values text[], error_code text, error_message text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- One partition (EntityNotFoundException when there is none).
CREATE FUNCTION glue.get_partition(database_name text, table_name text, "values" text[])
    RETURNS SETOF glue.partition_definition LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.database_name, t.table_name, p.partition_values, p.location, p.parameters, p.create_time,
           p.last_update_time
      FROM glue._table($1, $2, false) AS t
      JOIN glue.databases d ON d.database_id = t.database_id
      CROSS JOIN LATERAL glue._partition(t, $3) AS p
$$;

-- Change a partition (members of the table's owner only): new_values
-- renames it, location and parameters replace (NULL leaves, '' clears the
-- location).
CREATE FUNCTION glue.update_partition(database_name text, table_name text, "values" text[],
        new_values text[] DEFAULT NULL, location text DEFAULT NULL, parameters jsonb DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Delete one partition (members of the table's owner only).
CREATE FUNCTION glue.delete_partition(database_name text, table_name text, "values" text[])
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables := glue._partition_table(database_name, table_name);
    p glue.partitions := glue._partition(t, "values");
BEGIN
    DELETE FROM glue.partitions x WHERE x.partition_id = p.partition_id;
END
$$;

-- Delete up to 25 partitions: partitions_to_delete is a JSON array of
-- {"values": [...]}.  One row per entry that failed (not found, invalid).
CREATE FUNCTION glue.batch_delete_partition(database_name text, table_name text, partitions_to_delete jsonb)
    RETURNS TABLE (partition_values text[], error_code text, error_message text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- The partition filter ------------------------------------------------------

-- A tokenized filter expression with the table's partition keys: kinds[i]
-- is 'key' (vals[i] folded), 'kw' (vals[i] upper case), 'str' or 'num'
-- (vals[i] the literal's value), 'op' or 'punct'; at[i] is its character.
CREATE TYPE glue._filter AS (table_name text, keys text[], classes text[],
                             kinds text[], vals text[], at integer[]);

-- Report a syntax error at token i of f.
CREATE FUNCTION glue._filter_error(f glue._filter, i integer, expected text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF i > cardinality(f.kinds) THEN
        RAISE EXCEPTION 'InvalidInputException: syntax error in partition expression at its end: expected %', expected
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RAISE EXCEPTION 'InvalidInputException: syntax error in partition expression at character % ("%"): expected %',
            f.at[i], f.vals[i], expected
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Write comparisons of partition keys with literals, e.g. year = ''2024'' AND month BETWEEN 1 AND 6.';
END
$$;

-- Split expression into tokens (see glue._filter); InvalidInputException for
-- a character that starts no token.
CREATE FUNCTION glue._filter_tokens(f glue._filter, expression text) RETURNS glue._filter
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    pos integer := 1;
    rest text;
    m text[];
BEGIN
    f.kinds := '{}'; f.vals := '{}'; f.at := '{}';
    LOOP
        rest := substr(expression, pos);
        m := regexp_match(rest, '^\s+');
        IF m IS NOT NULL THEN
            pos := pos + length(m[1]);
            rest := substr(expression, pos);
        END IF;
        EXIT WHEN rest = '';
        f.at := f.at || pos;
        IF left(rest, 1) = '''' THEN
            m := regexp_match(rest, '^''((?:[^'']|'''')*)''');
            IF m IS NULL THEN
                RAISE EXCEPTION 'InvalidInputException: unterminated string literal at character % of partition expression', pos
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            f.kinds := f.kinds || 'str'::text;
            f.vals := f.vals || replace(m[1], '''''', '''');
            pos := pos + length(m[1]) + 2;
        ELSIF rest ~ '^-?[0-9]' THEN
            m := regexp_match(rest, '^(-?[0-9]+(?:\.[0-9]+)?)');
            f.kinds := f.kinds || 'num'::text;
            f.vals := f.vals || m[1];
            pos := pos + length(m[1]);
        ELSIF rest ~ '^[A-Za-z_]' THEN
            m := regexp_match(rest, '^([A-Za-z_][A-Za-z0-9_]*)');
            IF upper(m[1]) IN ('AND', 'OR', 'NOT', 'BETWEEN', 'IN', 'LIKE', 'IS', 'NULL') THEN
                f.kinds := f.kinds || 'kw'::text;
                f.vals := f.vals || upper(m[1]);
            ELSE
                f.kinds := f.kinds || 'key'::text;
                f.vals := f.vals || lower(m[1]);
            END IF;
            pos := pos + length(m[1]);
        ELSIF rest ~ '^(<=|>=|<>|!=|=|<|>)' THEN
            m := regexp_match(rest, '^(<=|>=|<>|!=|=|<|>)');
            f.kinds := f.kinds || 'op'::text;
            f.vals := f.vals || CASE m[1] WHEN '!=' THEN '<>' ELSE m[1] END;
            pos := pos + length(m[1]);
        ELSIF left(rest, 1) IN ('(', ')', ',') THEN
            f.kinds := f.kinds || 'punct'::text;
            f.vals := f.vals || left(rest, 1);
            pos := pos + 1;
        ELSE
            RAISE EXCEPTION 'InvalidInputException: unexpected character "%" at character % of partition expression',
                    left(rest, 1), pos
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'An expression has partition keys, quoted strings, numbers, comparison operators, '
                             'parentheses, commas, AND, OR, NOT, BETWEEN, IN, LIKE and IS [NOT] NULL.';
        END IF;
    END LOOP;
    RETURN f;
END
$$;

-- Is token i of f the keyword or punctuation v?
CREATE FUNCTION glue._filter_is(f glue._filter, i integer, v text) RETURNS boolean
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT coalesce(f.kinds[i] IN ('kw', 'punct') AND f.vals[i] = v, false) $$;

-- The SQL of operand token i (a partition key or a literal) compared as
-- class cls: "p.partition_values[k]" or "$2[i]", cast unless text.  A literal
-- is checked to be a valid value of the class.
CREATE FUNCTION glue._filter_operand(f glue._filter, i integer, cls text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    k integer;
BEGIN
    IF cls NOT IN ('text', 'numeric', 'date', 'timestamp') THEN
        RAISE EXCEPTION 'unexpected comparison class "%"', cls;     -- cannot happen
    END IF;
    IF f.kinds[i] = 'key' THEN
        k := array_position(f.keys, f.vals[i]);
        RETURN CASE cls WHEN 'text' THEN format('p.partition_values[%s]', k)
                        ELSE format('(p.partition_values[%s])::%s', k, cls) END;
    END IF;
    BEGIN
        CASE cls
        WHEN 'numeric' THEN PERFORM f.vals[i]::numeric;
        WHEN 'date' THEN PERFORM f.vals[i]::date;
        WHEN 'timestamp' THEN PERFORM f.vals[i]::timestamp;
        ELSE NULL;
        END CASE;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'InvalidInputException: literal "%" at character % of partition expression is not a valid %',
                f.vals[i], f.at[i], CASE cls WHEN 'numeric' THEN 'number' ELSE cls END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A literal compared with a partition key must be a value of the key''s type.';
    END;
    RETURN CASE cls WHEN 'text' THEN format('$2[%s]', i) ELSE format('($2[%s])::%s', i, cls) END;
END
$$;

-- Token i of f is an operand: a partition key of the table or a literal.
CREATE FUNCTION glue._filter_check_operand(f glue._filter, i integer) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF f.kinds[i] IS NULL OR f.kinds[i] NOT IN ('key', 'str', 'num') THEN
        PERFORM glue._filter_error(f, i, 'a partition key or a literal');
    ELSIF f.kinds[i] = 'key' AND f.vals[i] <> ALL (coalesce(f.keys, '{}')) THEN
        RAISE EXCEPTION 'InvalidInputException: "%" at character % of partition expression is not a partition key of table "%"',
                f.vals[i], f.at[i], f.table_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The partition keys are: ' || coalesce(array_to_string(f.keys, ', '), '(none)') || '.';
    END IF;
END
$$;

-- A predicate: operand, then a comparison operator and operand, [NOT]
-- BETWEEN x AND y, [NOT] IN (x, ...), [NOT] LIKE x, or IS [NOT] NULL.
-- Operands are compared as the class of their partition keys (text when
-- keys of different classes meet; numeric for two numbers alone).
CREATE FUNCTION glue._filter_predicate(f glue._filter, i integer, OUT sql text, OUT next_i integer)
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    ops integer[] := ARRAY[i];       -- operand tokens; ops[1] is the left one
    op text;
    neg text := '';
    cls text;
    classes text[];
    j integer;
BEGIN
    PERFORM glue._filter_check_operand(f, i);
    next_i := i + 1;
    IF f.kinds[next_i] = 'op' THEN
        op := f.vals[next_i];
        ops := ops || next_i + 1;
        next_i := next_i + 2;
    ELSIF glue._filter_is(f, next_i, 'IS') THEN
        IF glue._filter_is(f, next_i + 1, 'NOT') THEN
            neg := 'NOT ';
            next_i := next_i + 1;
        END IF;
        IF NOT glue._filter_is(f, next_i + 1, 'NULL') THEN
            PERFORM glue._filter_error(f, next_i + 1, 'NULL');
        END IF;
        sql := format('(%s IS %sNULL)', glue._filter_operand(f, i, 'text'), neg);
        next_i := next_i + 2;
        RETURN;
    ELSE
        IF glue._filter_is(f, next_i, 'NOT') THEN
            neg := 'NOT ';
            next_i := next_i + 1;
        END IF;
        IF glue._filter_is(f, next_i, 'BETWEEN') THEN
            op := 'BETWEEN';
            IF NOT glue._filter_is(f, next_i + 2, 'AND') THEN
                PERFORM glue._filter_error(f, next_i + 2, 'AND');
            END IF;
            ops := ops || next_i + 1 || next_i + 3;
            next_i := next_i + 4;
        ELSIF glue._filter_is(f, next_i, 'LIKE') THEN
            op := 'LIKE';
            ops := ops || next_i + 1;
            next_i := next_i + 2;
        ELSIF glue._filter_is(f, next_i, 'IN') THEN
            op := 'IN';
            IF NOT glue._filter_is(f, next_i + 1, '(') THEN
                PERFORM glue._filter_error(f, next_i + 1, '"("');
            END IF;
            next_i := next_i + 2;
            LOOP
                ops := ops || next_i;
                next_i := next_i + 1;
                EXIT WHEN NOT glue._filter_is(f, next_i, ',');
                next_i := next_i + 1;
            END LOOP;
            IF NOT glue._filter_is(f, next_i, ')') THEN
                PERFORM glue._filter_error(f, next_i, '"," or ")"');
            END IF;
            next_i := next_i + 1;
        ELSE
            PERFORM glue._filter_error(f, next_i, 'a comparison operator, BETWEEN, IN, LIKE or IS');
        END IF;
    END IF;

    -- every operand after the first: a partition key or a literal
    FOR j IN 2 .. cardinality(ops) LOOP
        PERFORM glue._filter_check_operand(f, ops[j]);
    END LOOP;
    -- the class to compare as
    SELECT array_agg(DISTINCT f.classes[array_position(f.keys, f.vals[o])]) INTO classes
      FROM unnest(ops) o WHERE f.kinds[o] = 'key';
    cls := CASE WHEN op = 'LIKE' THEN 'text'
                WHEN cardinality(classes) = 1 THEN classes[1]
                WHEN classes IS NULL AND NOT EXISTS (SELECT 1 FROM unnest(ops) o WHERE f.kinds[o] <> 'num') THEN 'numeric'
                ELSE 'text' END;
    sql := CASE op
           WHEN 'BETWEEN' THEN format('(%s %sBETWEEN %s AND %s)', glue._filter_operand(f, ops[1], cls), neg,
                                      glue._filter_operand(f, ops[2], cls), glue._filter_operand(f, ops[3], cls))
           WHEN 'LIKE' THEN format('(%s %sLIKE %s)', glue._filter_operand(f, ops[1], cls), neg,
                                   glue._filter_operand(f, ops[2], cls))
           WHEN 'IN' THEN format('(%s %sIN (%s))', glue._filter_operand(f, ops[1], cls), neg,
                                 (SELECT string_agg(glue._filter_operand(f, o, cls), ', ' ORDER BY n)
                                    FROM unnest(ops[2:]) WITH ORDINALITY AS x(o, n)))
           ELSE format('(%s %s %s)', glue._filter_operand(f, ops[1], cls), op, glue._filter_operand(f, ops[2], cls))
           END;
END
$$;

-- Recursive descent: level 'OR' is and-terms joined by OR, level 'AND' is
-- factors joined by AND; a factor is NOT factor, ( expression ), or a
-- predicate.  Returns the SQL and the token after it.
CREATE FUNCTION glue._filter_expr(f glue._filter, i integer, level text, depth integer,
        OUT sql text, OUT next_i integer)
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r record;
BEGIN
    IF depth > 100 THEN
        RAISE EXCEPTION 'InvalidInputException: partition expression is nested too deeply'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF level = 'OR' OR level = 'AND' THEN
        r := glue._filter_expr(f, i, CASE level WHEN 'OR' THEN 'AND' ELSE 'FACTOR' END, depth + 1);
        sql := r.sql;
        next_i := r.next_i;
        WHILE glue._filter_is(f, next_i, level) LOOP
            r := glue._filter_expr(f, next_i + 1, CASE level WHEN 'OR' THEN 'AND' ELSE 'FACTOR' END, depth + 1);
            sql := format('(%s %s %s)', sql, level, r.sql);
            next_i := r.next_i;
        END LOOP;
    ELSIF glue._filter_is(f, i, 'NOT') THEN
        r := glue._filter_expr(f, i + 1, 'FACTOR', depth + 1);
        sql := format('(NOT %s)', r.sql);
        next_i := r.next_i;
    ELSIF glue._filter_is(f, i, '(') THEN
        r := glue._filter_expr(f, i + 1, 'OR', depth + 1);
        IF NOT glue._filter_is(f, r.next_i, ')') THEN
            PERFORM glue._filter_error(f, r.next_i, '")"');
        END IF;
        sql := r.sql;
        next_i := r.next_i + 1;
    ELSE
        r := glue._filter_predicate(f, i);
        sql := r.sql;
        next_i := r.next_i;
    END IF;
END
$$;

-- A filter expression over the partition keys of table t, compiled to a
-- predicate on glue.partitions p that takes the table id as $1 and params
-- as $2.  At most 2048 characters.
CREATE FUNCTION glue._filter_compile(t glue.tables, expression text, OUT sql text, OUT params text[])
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f glue._filter;
    r record;
BEGIN
    IF length(expression) > 2048 THEN
        RAISE EXCEPTION 'InvalidInputException: a partition expression has at most 2048 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    f.table_name := t.table_name;
    SELECT array_agg(k ->> 'name' ORDER BY n), array_agg(glue._key_class(k ->> 'type') ORDER BY n)
      INTO f.keys, f.classes
      FROM jsonb_array_elements(t.partition_keys) WITH ORDINALITY AS x(k, n);
    f := glue._filter_tokens(f, expression);
    IF cardinality(f.kinds) = 0 THEN
        sql := 'true';
    ELSE
        r := glue._filter_expr(f, 1, 'OR', 0);
        IF r.next_i <= cardinality(f.kinds) THEN
            PERFORM glue._filter_error(f, r.next_i, 'AND, OR or the end of the expression');
        END IF;
        sql := r.sql;
    END IF;
    params := f.vals;
END
$$;

-- The partitions of a table, by their values; expression, when given, is
-- Glue's filter (see the top of this file), e.g.
-- year = '2024' AND month BETWEEN 1 AND 6 OR region IN ('eu', 'us').
CREATE FUNCTION glue.get_partitions(database_name text, table_name text, expression text DEFAULT NULL)
    RETURNS SETOF glue.partition_definition LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, false);
    c record := glue._filter_compile(t, coalesce(expression, ''));
BEGIN
    RETURN QUERY EXECUTE
        'SELECT d.database_name, t.table_name, p.partition_values, p.location, p.parameters, p.create_time,'
        '       p.last_update_time'
        '  FROM glue.partitions p JOIN glue.tables t ON t.table_id = p.table_id'
        '  JOIN glue.databases d ON d.database_id = t.database_id'
        ' WHERE p.table_id = $1 AND ' || c.sql ||
        ' ORDER BY p.partition_values COLLATE "C"'
        USING t.table_id, c.params;
END
$$;

-- ---- src/glue/relations.sql
-- Queryable catalog tables (src/glue/relations.sql): for a catalog table
-- whose data can be read, a view glue_tables.<database>_<table> with the
-- table's columns and partition keys, in the PostgreSQL types of their Glue
-- types (glue.pg_type_for), kept in step by create_table, update_table,
-- delete_table and delete_database.  What the view reads depends on the
-- location:
--
--   /absolute/path       with classification csv or json: the files under
--                        it, through glue.read_files (file_reader.c);
--                        partition keys come from the folders.  CSV options
--                        from the table parameters: skip.header.line.count
--                        (0 or 1), delimiter (one character).
--   kinesis://<stream>   classification json: the JSON records of a data
--                        stream, read where they are (kinesis_records).
--   postgresql://<schema>/<table>
--                        a table of this database, read where it is.
--
-- Any other table has no relation.  Names longer than 63 bytes are cut and
-- get a hash suffix.
--
-- Rights: the catalog functions run as their caller, a member of the
-- catalog table's owner, who creates the view and owns it, so the view
-- reads tables and streams with that role's privileges, and
-- glue.read_files checks that the querying role holds
-- pg_read_server_files.  Everybody may create in glue_tables (as in the
-- public schema of old); a name taken by somebody else's relation makes the
-- table not queryable, with a warning, and never widens anybody's rights.
-- Nothing about the relation ever fails a catalog change: what cannot be
-- done is a warning.  A view is replaced in place when its columns allow,
-- so grants on it and views over it stay.
-- The view is built only from the catalog row: every name is quoted and
-- every value a literal.  A relation that is not the view of that same
-- catalog table (marked by its comment) is never dropped.
--
-- Locking: the callers hold the catalog table's row lock; DROP/CREATE VIEW
-- take the view's AccessExclusiveLock, so a running query on the view
-- delays a catalog change until it ends.

CREATE SCHEMA glue_tables;
GRANT USAGE, CREATE ON SCHEMA glue_tables TO PUBLIC;

CREATE FUNCTION glue.read_files(location text, file_format text, columns text[], partition_keys text[],
        header boolean DEFAULT false, delimiter text DEFAULT ',')
    RETURNS SETOF record LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'kg_glue_read_files';
COMMENT ON FUNCTION glue.read_files IS
    'rows of the csv or json-lines files under location (gzip too), with partition values from the folders';

-- The name of a catalog table's relation in glue_tables.
CREATE FUNCTION glue._relation_name(database_name text, table_name text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT CASE WHEN octet_length(database_name || '_' || table_name) <= 63
                THEN database_name || '_' || table_name
                ELSE left(database_name || '_' || table_name, 54) || '_' || left(md5(database_name || '_' || table_name), 8)
           END
$$;

-- The comment that marks the view of catalog table id.
CREATE FUNCTION glue._relation_mark(table_id integer) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$ SELECT 'kinesis_glue catalog table ' || table_id $$;

-- Drop the view named rel if it is the view of catalog table id; ERROR if
-- a relation of that name is something else.
CREATE FUNCTION glue._drop_view(rel text, table_id integer) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    oid regclass := to_regclass(format('glue_tables.%I', rel));
BEGIN
    IF oid IS NULL THEN
        RETURN;
    END IF;
    IF obj_description(oid, 'pg_class') IS DISTINCT FROM glue._relation_mark(table_id) THEN
        RAISE EXCEPTION 'AlreadyExistsException: relation glue_tables.% belongs to something else', quote_ident(rel)
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Two catalog tables whose names join to the same relation name cannot both be queryable; rename one.';
    END IF;
    EXECUTE format('DROP VIEW glue_tables.%I', rel);
END
$$;

-- No relation for catalog table id: drop its view rel if there is one;
-- a view that cannot be dropped (other views depend on it, another owner)
-- is left, with a warning.  Returns NULL.
CREATE FUNCTION glue._no_relation(rel text, table_id integer) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM glue._drop_view(rel, table_id);
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'the view glue_tables.% is left: %', quote_ident(rel), SQLERRM
        USING HINT = 'Drop it, or the objects that depend on it, by hand.';
    RETURN NULL;
END
$$;

-- (Re)create the relation of catalog table id (dropping the old one
-- first); returns its name, or NULL when the table has none.  A view that
-- cannot be created (its source is gone, or a column is missing) is a
-- warning, not an error: the catalog change stands.
CREATE FUNCTION glue._sync_relation(table_id integer) RETURNS text
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
    IF existing IS NOT NULL AND obj_description(existing, 'pg_class') IS DISTINCT FROM glue._relation_mark(t.table_id) THEN
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
        EXECUTE format('COMMENT ON VIEW glue_tables.%I IS %L', rel, glue._relation_mark(t.table_id));
    EXCEPTION WHEN OTHERS THEN
        -- the catalog change stands; only the relation is missing or stale
        RAISE WARNING 'catalog table "%"."%" has no up-to-date relation: %', db, t.table_name, SQLERRM
            USING HINT = 'Check the location, the columns and views that depend on the relation, then update the table again.';
        RETURN NULL;
    END;
    RETURN 'glue_tables.' || quote_ident(rel);
END
$$;

-- Drop the relation of catalog table id (before the table is deleted).  A
-- view the caller cannot drop (deleting a database deletes the tables of
-- other roles too; other views depend on it) is left, with a warning.
CREATE FUNCTION glue._drop_relation(table_id integer) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    rel text;
BEGIN
    SELECT glue._relation_name(d.database_name, t.table_name) INTO rel
      FROM glue.tables t JOIN glue.databases d USING (database_id)
     WHERE t.table_id = _drop_relation.table_id;
    IF rel IS NOT NULL THEN
        PERFORM glue._no_relation(rel, table_id);
    END IF;
END
$$;

-- The relation of a catalog table, for users: its name, or NULL.
CREATE FUNCTION glue.table_relation(database_name text, table_name text) RETURNS regclass
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT to_regclass('glue_tables.' || quote_ident(glue._relation_name(d.database_name, t.table_name)))
      FROM glue.tables t JOIN glue.databases d USING (database_id)
     WHERE d.database_name = lower($1) AND t.table_name = lower($2)
$$;

-- ---- src/glue/crawlers.sql
-- Glue crawlers (src/glue/crawlers.sql): the crawler definitions, their
-- crawls (history, metrics, progress) and the API.  What a crawl does is in
-- crawl.sql; the worker that runs it in src/glue/crawler_worker.c.
--
-- A crawler belongs to the role that created it.  Only members of that
-- role change, delete, start or stop it.  The worker runs a crawl as the
-- owner (security-restricted), so a crawl reads only what the owner may
-- read (pg_read_server_files for directories, SELECT for tables, read
-- access for streams) and writes only tables of Glue databases the owner
-- may write.  The owner must have those rights when the crawler is created
-- and each time it runs.
--
-- States: a crawler is READY, RUNNING or STOPPING, derived from its latest
-- crawl (RUNNING -> RUNNING, CANCELLING -> STOPPING, else READY).  A crawl
-- is RUNNING, CANCELLING, then SUCCEEDED, CANCELLED or FAILED.
--
-- Errors: EntityNotFoundException (42704), AlreadyExistsException (42710),
-- InvalidInputException (22023), CrawlerRunningException,
-- CrawlerNotRunningException, CrawlerStoppingException (55006
-- object_in_use), AccessDeniedException (42501).
--
-- Locking: start, stop, update and delete lock the crawler row FOR NO KEY
-- UPDATE (a running crawl holds KEY SHARE on it through its crawls row);
-- a partial unique index allows one active crawl per crawler, so two
-- concurrent starts cannot both succeed.

CREATE TABLE glue.crawlers (
    crawler_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    crawler_name text NOT NULL UNIQUE,
    database_name text NOT NULL,
    owner regrole NOT NULL,
    description text,
    targets jsonb NOT NULL,
    schedule text,
    table_prefix text NOT NULL DEFAULT '',
    update_behavior text NOT NULL DEFAULT 'UPDATE_IN_DATABASE'
        CHECK (update_behavior IN ('UPDATE_IN_DATABASE', 'LOG')),
    delete_behavior text NOT NULL DEFAULT 'DEPRECATE_IN_DATABASE'
        CHECK (delete_behavior IN ('DELETE_FROM_DATABASE', 'DEPRECATE_IN_DATABASE', 'LOG')),
    recrawl_behavior text NOT NULL DEFAULT 'CRAWL_EVERYTHING'
        CHECK (recrawl_behavior IN ('CRAWL_EVERYTHING', 'CRAWL_NEW_FOLDERS_ONLY')),
    configuration jsonb NOT NULL DEFAULT '{}',
    version integer NOT NULL DEFAULT 1,
    creation_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_updated timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

-- One row per crawl: its state, progress and outcome.  log holds the
-- reasons the crawl split, skipped, deprecated or deleted something, and
-- the malformed files it met (at most 1000 entries; log_dropped counts the
-- rest).
CREATE TABLE glue.crawls (
    crawl_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    crawler_id integer NOT NULL REFERENCES glue.crawlers ON DELETE CASCADE,
    state text NOT NULL DEFAULT 'RUNNING'
        CHECK (state IN ('RUNNING', 'CANCELLING', 'CANCELLED', 'SUCCEEDED', 'FAILED')),
    start_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    end_time timestamptz,
    worker_pid integer,
    phase text NOT NULL DEFAULT 'STARTING',
    error_message text,
    files_total integer NOT NULL DEFAULT 0,
    files_done integer NOT NULL DEFAULT 0,
    files_scanned integer NOT NULL DEFAULT 0,
    tables_created integer NOT NULL DEFAULT 0,
    tables_updated integer NOT NULL DEFAULT 0,
    tables_deleted integer NOT NULL DEFAULT 0,
    tables_deprecated integer NOT NULL DEFAULT 0,
    partitions_created integer NOT NULL DEFAULT 0,
    partitions_deleted integer NOT NULL DEFAULT 0,
    bad_utf8_lines bigint NOT NULL DEFAULT 0,
    ragged_rows bigint NOT NULL DEFAULT 0,
    invalid_json_records bigint NOT NULL DEFAULT 0,
    unreadable_files integer NOT NULL DEFAULT 0,
    log jsonb NOT NULL DEFAULT '[]',
    log_dropped integer NOT NULL DEFAULT 0,
    tables_seen jsonb NOT NULL DEFAULT '{}',  -- table name -> location, written by this crawl
    failed_targets text[] NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX crawls_one_active ON glue.crawls (crawler_id) WHERE state IN ('RUNNING', 'CANCELLING');
CREATE INDEX ON glue.crawls (crawler_id, crawl_id);

-- The files of a running crawl (removed when it ends).
CREATE TABLE glue.crawl_files (
    crawl_id bigint NOT NULL REFERENCES glue.crawls ON DELETE CASCADE,
    file_no integer NOT NULL,
    target_no integer NOT NULL,
    path text NOT NULL,
    folder text[] NOT NULL,                  -- relative to the target path
    size bigint,
    mtime timestamptz,
    to_sample boolean NOT NULL DEFAULT true,
    known boolean NOT NULL DEFAULT false,     -- in a folder crawled before (CRAWL_NEW_FOLDERS_ONLY)
    sampled boolean NOT NULL DEFAULT false,
    info jsonb,                               -- what glue._sample_file found
    PRIMARY KEY (crawl_id, file_no)
);
CREATE INDEX ON glue.crawl_files (crawl_id, file_no) WHERE to_sample AND NOT sampled;

-- The folders a crawler has crawled (for CRAWL_NEW_FOLDERS_ONLY).
CREATE TABLE glue.crawler_folders (
    crawler_id integer NOT NULL REFERENCES glue.crawlers ON DELETE CASCADE,
    folder text NOT NULL,
    crawl_id bigint NOT NULL,
    PRIMARY KEY (crawler_id, folder)
);

-- Row-level security: everybody sees crawlers and their crawls (like
-- pg_class); members of the owner change them.
ALTER TABLE glue.crawlers ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.crawlers FOR SELECT USING (true);
CREATE POLICY owned ON glue.crawlers FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT, INSERT, DELETE ON glue.crawlers TO PUBLIC;
GRANT UPDATE (database_name, description, targets, schedule, table_prefix, update_behavior, delete_behavior,
              recrawl_behavior, configuration, version, last_updated) ON glue.crawlers TO PUBLIC;
ALTER TABLE glue.crawls ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.crawls FOR SELECT USING (true);
CREATE POLICY owned ON glue.crawls FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.crawlers c WHERE c.crawler_id OPERATOR(pg_catalog.=) crawls.crawler_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, c.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.crawlers c WHERE c.crawler_id OPERATOR(pg_catalog.=) crawls.crawler_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, c.owner, 'USAGE')));
GRANT SELECT, INSERT ON glue.crawls TO PUBLIC;
GRANT UPDATE (state, end_time, phase, error_message, files_total, files_done, files_scanned, tables_created,
              tables_updated, tables_deleted, tables_deprecated, partitions_created, partitions_deleted,
              bad_utf8_lines, ragged_rows, invalid_json_records, unreadable_files, log, log_dropped,
              tables_seen, failed_targets)
    ON glue.crawls TO PUBLIC;
ALTER TABLE glue.crawl_files ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.crawl_files FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.crawls w JOIN glue.crawlers c USING (crawler_id)
                    WHERE w.crawl_id OPERATOR(pg_catalog.=) crawl_files.crawl_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, c.owner, 'USAGE')));
GRANT SELECT, INSERT, UPDATE, DELETE ON glue.crawl_files TO PUBLIC;
ALTER TABLE glue.crawler_folders ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.crawler_folders FOR SELECT USING (true);
CREATE POLICY owned ON glue.crawler_folders FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.crawlers c WHERE c.crawler_id OPERATOR(pg_catalog.=) crawler_folders.crawler_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, c.owner, 'USAGE')));
GRANT SELECT, INSERT, DELETE ON glue.crawler_folders TO PUBLIC;

-- What get_crawler(s) return.
CREATE TYPE glue.crawler_definition AS (name text, database_name text, owner regrole, description text,
        targets jsonb, schedule text, table_prefix text, schema_change_policy jsonb, recrawl_policy text,
        configuration jsonb, state text, last_crawl jsonb, version integer, creation_time timestamptz,
        last_updated timestamptz);

-- C helpers (src/glue/crawl_*.c).  Reading files needs pg_read_server_files.
CREATE FUNCTION glue._list_files(root text, exclusions text[], max_files integer,
        OUT path text, OUT folder text, OUT size bigint, OUT mtime timestamptz, OUT error text)
    RETURNS SETOF record LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_list_files';
CREATE FUNCTION glue._sample_file(path text, sample_bytes integer, sample_rows integer, csv_header text)
    RETURNS jsonb LANGUAGE c VOLATILE STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_sample_file';
REVOKE ALL ON FUNCTION glue._list_files, glue._sample_file FROM PUBLIC;
GRANT EXECUTE ON FUNCTION glue._list_files, glue._sample_file TO pg_read_server_files;
CREATE FUNCTION glue._infer_records(records bytea[], sample_rows integer) RETURNS jsonb
    LANGUAGE c IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_infer_records';
CREATE FUNCTION glue._glob_match(pattern text, path text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_glob_match';
CREATE FUNCTION glue._widen_type(a text, b text) RETURNS text
    LANGUAGE c IMMUTABLE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_widen_type';

-- Column lists merged by name: a's columns in order (types widened with
-- b's), then b's new ones.
CREATE FUNCTION glue._merge_columns(a jsonb, b jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce(jsonb_agg(jsonb_build_object('name', coalesce(x.n, y.n),
                                                 'type', glue._widen_type(x.t, y.t))
                              ORDER BY (x.o IS NULL), x.o, y.o), '[]')
      FROM (SELECT e ->> 'name' n, e ->> 'type' t, o FROM jsonb_array_elements(coalesce(a, '[]')) WITH ORDINALITY AS q(e, o)) x
      FULL JOIN (SELECT e ->> 'name' n, e ->> 'type' t, o FROM jsonb_array_elements(coalesce(b, '[]')) WITH ORDINALITY AS q(e, o)) y
        ON x.n = y.n
$$;
-- The union of column lists, in order.
CREATE FUNCTION glue._union_columns(lists jsonb[]) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    result jsonb := '[]';
    l jsonb;
BEGIN
    FOREACH l IN ARRAY coalesce(lists, '{}') LOOP
        result := glue._merge_columns(result, l);
    END LOOP;
    RETURN result;
END
$$;

-- Helpers -------------------------------------------------------------------

CREATE FUNCTION glue._crawler_name(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF name IS NULL OR length(name) NOT BETWEEN 1 AND 255 OR name ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'InvalidInputException: crawler name must have 1 to 255 characters and no control characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN name;
END
$$;

-- The crawler row, checked to exist and, with must_own, to be owned by (a
-- role of) the caller; with lock, locked FOR UPDATE.
CREATE FUNCTION glue._crawler(name text, must_own boolean, lock boolean DEFAULT false) RETURNS glue.crawlers
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
    IF must_own AND NOT pg_has_role(current_user, c.owner, 'USAGE') THEN
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

-- READY, RUNNING or STOPPING.
CREATE FUNCTION glue._crawler_state(crawler_id integer) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce((SELECT CASE w.state WHEN 'RUNNING' THEN 'RUNNING' ELSE 'STOPPING' END
                       FROM glue.crawls w
                      WHERE w.crawler_id = $1 AND w.state IN ('RUNNING', 'CANCELLING')), 'READY')
$$;

CREATE FUNCTION glue._invalid(message text, hint text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RAISE EXCEPTION 'InvalidInputException: %', message
        USING ERRCODE = 'invalid_parameter_value', HINT = coalesce(hint, '');
END
$$;

-- The owner's right to read server files (for directory targets).
CREATE FUNCTION glue._check_file_rights(c glue.crawlers) RETURNS void
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF jsonb_array_length(coalesce(c.targets -> 'directory_targets', '[]')) > 0
       AND NOT pg_has_role(c.owner, 'pg_read_server_files', 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied to read server files'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The crawler''s owner %s lacks the privileges of the pg_read_server_files role.', c.owner),
                  HINT = format('GRANT pg_read_server_files TO %s, or crawl tables and streams only.', c.owner);
    END IF;
END
$$;

-- Check a crawler's settings (the whole row); fold the database name.
CREATE FUNCTION glue._check_crawler(c glue.crawlers) RETURNS glue.crawlers
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d glue.databases := glue._database(c.database_name, false);
    t jsonb;
    k text;
    n integer := 0;
BEGIN
    c.database_name := d.database_name;
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

-- The schema change policy from its JSON form into c.
CREATE FUNCTION glue._apply_policy(c glue.crawlers, schema_change_policy jsonb, recrawl_policy text) RETURNS glue.crawlers
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF schema_change_policy IS NOT NULL THEN
        IF jsonb_typeof(schema_change_policy) <> 'object'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(schema_change_policy) k WHERE k NOT IN ('update_behavior', 'delete_behavior'))
           OR coalesce(schema_change_policy ->> 'update_behavior', 'LOG') NOT IN ('UPDATE_IN_DATABASE', 'LOG')
           OR coalesce(schema_change_policy ->> 'delete_behavior', 'LOG') NOT IN ('DELETE_FROM_DATABASE', 'DEPRECATE_IN_DATABASE', 'LOG') THEN
            PERFORM glue._invalid('schema_change_policy is {"update_behavior": "UPDATE_IN_DATABASE" or "LOG", '
                                  '"delete_behavior": "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE" or "LOG"}');
        END IF;
        c.update_behavior := coalesce(schema_change_policy ->> 'update_behavior', c.update_behavior, 'UPDATE_IN_DATABASE');
        c.delete_behavior := coalesce(schema_change_policy ->> 'delete_behavior', c.delete_behavior, 'DEPRECATE_IN_DATABASE');
    END IF;
    IF recrawl_policy IS NOT NULL THEN
        IF recrawl_policy NOT IN ('CRAWL_EVERYTHING', 'CRAWL_NEW_FOLDERS_ONLY') THEN
            PERFORM glue._invalid(format('recrawl policy "%s" is not CRAWL_EVERYTHING or CRAWL_NEW_FOLDERS_ONLY', recrawl_policy));
        END IF;
        c.recrawl_behavior := recrawl_policy;
    END IF;
    RETURN c;
END
$$;

-- Schedules (pg_cron) ----------------------------------------------------------

-- A Glue schedule "cron(m h dom mon dow year)" as a pg_cron expression;
-- other text is passed to pg_cron as it is (5 fields or @daily etc.).
CREATE FUNCTION glue._cron_expression(schedule text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f text[];
BEGIN
    IF schedule ~* '^\s*cron\(.*\)\s*$' THEN
        f := regexp_split_to_array(btrim(substring(schedule FROM '\((.*)\)')), '\s+');
        IF array_length(f, 1) <> 6 OR f[6] NOT IN ('*', '?') THEN
            PERFORM glue._invalid(format('schedule "%s" is not cron(minutes hours day-of-month month day-of-week year) with year *', schedule),
                                  'For example cron(15 12 * * ? *) runs daily at 12:15.');
        END IF;
        RETURN array_to_string(ARRAY[f[1], f[2], replace(f[3], '?', '*'), f[4], replace(f[5], '?', '*')], ' ');
    END IF;
    RETURN btrim(schedule);
END
$$;

-- Create, change or remove the pg_cron job of crawler c (named "glue
-- crawler: <name>"), as the crawler's owner, who then runs it.
CREATE FUNCTION glue._set_schedule(c glue.crawlers, had_schedule boolean) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    job text := 'glue crawler: ' || c.crawler_name;
    prev_role text := current_setting('role');
    has_cron boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron');
BEGIN
    IF c.schedule IS NULL AND NOT had_schedule THEN
        RETURN;
    END IF;
    IF NOT has_cron THEN
        IF c.schedule IS NULL THEN
            RETURN;                                     -- nothing left to remove
        END IF;
        RAISE EXCEPTION 'InvalidInputException: crawler schedules need the pg_cron extension in this database'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, '
                         'run CREATE EXTENSION pg_cron, and grant USAGE ON SCHEMA cron to the crawler''s owner.';
    END IF;
    IF current_user <> pg_get_userbyid(c.owner) THEN
        PERFORM set_config('role', pg_get_userbyid(c.owner), true);
    END IF;
    BEGIN
        IF c.schedule IS NULL THEN
            IF EXISTS (SELECT 1 FROM cron.job j WHERE j.jobname = job AND j.username = pg_get_userbyid(c.owner)) THEN
                EXECUTE 'SELECT cron.unschedule($1)' USING job;
            END IF;
        ELSE
            EXECUTE 'SELECT cron.schedule($1, $2, $3)'
                USING job, glue._cron_expression(c.schedule), format('SELECT glue.start_crawler(%L)', c.crawler_name);
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'AccessDeniedException: crawler owner % may not schedule jobs with pg_cron', c.owner
            USING ERRCODE = 'insufficient_privilege', DETAIL = SQLERRM,
                  HINT = format('GRANT USAGE ON SCHEMA cron TO %s.', c.owner);
    WHEN invalid_parameter_value OR data_exception OR internal_error THEN
        RAISE EXCEPTION 'InvalidInputException: schedule "%" is not a valid cron expression', c.schedule
            USING ERRCODE = 'invalid_parameter_value', DETAIL = SQLERRM,
                  HINT = 'Use five cron fields ("15 3 * * *") or Glue''s cron(15 3 * * ? *).';
    END;
    PERFORM set_config('role', prev_role, true);
END
$$;

-- API ----------------------------------------------------------------------

-- The definition of a crawler row, as get_crawler returns it.
CREATE FUNCTION glue._crawler_definition(c glue.crawlers) RETURNS glue.crawler_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).crawler_name, ($1).database_name, ($1).owner, ($1).description, ($1).targets, ($1).schedule,
           ($1).table_prefix,
           jsonb_build_object('update_behavior', ($1).update_behavior, 'delete_behavior', ($1).delete_behavior),
           ($1).recrawl_behavior, ($1).configuration, glue._crawler_state(($1).crawler_id),
           (SELECT jsonb_build_object('status', w.state, 'error_message', w.error_message,
                                      'start_time', w.start_time, 'end_time', w.end_time)
              FROM glue.crawls w WHERE w.crawler_id = ($1).crawler_id
               AND w.state IN ('SUCCEEDED', 'CANCELLED', 'FAILED')
             ORDER BY w.crawl_id DESC LIMIT 1),
           ($1).version, ($1).creation_time, ($1).last_updated
$$;

-- Create a crawler; the caller owns it.  targets: {"directory_targets":
-- [{"path", "exclusions", "sample_files"}], "table_targets": [{"schema",
-- "tables", "exclusions"}], "kinesis_targets": [{"stream_name"}]}.
CREATE FUNCTION glue.create_crawler(name text, database_name text, targets jsonb, schedule text DEFAULT NULL,
        table_prefix text DEFAULT '', schema_change_policy jsonb DEFAULT NULL,
        recrawl_policy text DEFAULT 'CRAWL_EVERYTHING', configuration jsonb DEFAULT '{}',
        description text DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    c glue.crawlers;
BEGIN
    c.crawler_name := glue._crawler_name(name);
    c.database_name := database_name;
    c.owner := current_user::regrole;
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

CREATE FUNCTION glue.get_crawler(name text) RETURNS SETOF glue.crawler_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue._crawler($1, false) c CROSS JOIN LATERAL glue._crawler_definition(c) d
$$;

CREATE FUNCTION glue.get_crawlers() RETURNS SETOF glue.crawler_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue.crawlers c CROSS JOIN LATERAL glue._crawler_definition(c) d ORDER BY c.crawler_name COLLATE "C"
$$;

CREATE FUNCTION glue.list_crawlers() RETURNS SETOF text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crawler_name FROM glue.crawlers ORDER BY crawler_name COLLATE "C"
$$;

-- Change a crawler that is not running (members of its owner only).  NULL
-- leaves a setting; schedule '' removes the schedule, description ''
-- clears it; targets, configuration and schema_change_policy keys replace.
CREATE FUNCTION glue.update_crawler(name text, database_name text DEFAULT NULL, targets jsonb DEFAULT NULL,
        schedule text DEFAULT NULL, table_prefix text DEFAULT NULL, schema_change_policy jsonb DEFAULT NULL,
        recrawl_policy text DEFAULT NULL, configuration jsonb DEFAULT NULL, description text DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Glue's UpdateCrawlerSchedule: '' or NULL removes the schedule.
CREATE FUNCTION glue.update_crawler_schedule(crawler_name text, schedule text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT glue.update_crawler($1, schedule => coalesce($2, ''))
$$;

-- Delete a crawler that is not running, with its schedule and history.
-- The tables it created stay in the catalog.
CREATE FUNCTION glue.delete_crawler(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Start a crawl; the database's kinesis_glue worker runs it in a
-- background worker as the crawler's owner.  Returns the crawl id.
CREATE FUNCTION glue.start_crawler(name text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Ask a running crawl to stop; it ends as CANCELLED at its next step.
CREATE FUNCTION glue.stop_crawler(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Crawl history, newest first (Glue's ListCrawls).
CREATE FUNCTION glue.list_crawls(crawler_name text, max_results integer DEFAULT 100)
    RETURNS TABLE (crawl_id bigint, state text, start_time timestamptz, end_time timestamptz,
                   duration_seconds double precision, error_message text, summary jsonb, log jsonb)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT w.crawl_id, w.state, w.start_time, w.end_time,
           extract(epoch FROM coalesce(w.end_time, clock_timestamp()) - w.start_time)::double precision,
           w.error_message,
           jsonb_build_object('tables_created', w.tables_created, 'tables_updated', w.tables_updated,
                              'tables_deleted', w.tables_deleted, 'tables_deprecated', w.tables_deprecated,
                              'partitions_created', w.partitions_created, 'partitions_deleted', w.partitions_deleted,
                              'files_total', w.files_total, 'files_scanned', w.files_scanned,
                              'bad_utf8_lines', w.bad_utf8_lines, 'ragged_rows', w.ragged_rows,
                              'invalid_json_records', w.invalid_json_records, 'unreadable_files', w.unreadable_files,
                              'log_dropped', w.log_dropped),
           w.log
      FROM glue._crawler($1, false) c JOIN glue.crawls w ON w.crawler_id = c.crawler_id
     ORDER BY w.crawl_id DESC
     LIMIT greatest(max_results, 0)
$$;

-- Glue's GetCrawlerMetrics: for each crawler (or those named), the
-- estimated time left of a running crawl, the last and median run times of
-- finished crawls, and the tables the last finished crawl created, updated
-- and deleted.
CREATE FUNCTION glue.get_crawler_metrics(crawler_names text[] DEFAULT NULL)
    RETURNS TABLE (crawler_name text, time_left_seconds double precision, still_estimating boolean,
                   last_runtime_seconds double precision, median_runtime_seconds double precision,
                   tables_created integer, tables_updated integer, tables_deleted integer)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT c.crawler_name,
           CASE WHEN r.files_done > 0 AND r.phase = 'SAMPLING'
                THEN extract(epoch FROM clock_timestamp() - r.start_time) * (r.files_total - r.files_done) / r.files_done
                ELSE 0 END,
           r.crawl_id IS NOT NULL AND (r.phase <> 'SAMPLING' OR r.files_done = 0),
           extract(epoch FROM l.end_time - l.start_time)::double precision,
           (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM w.end_time - w.start_time))
              FROM glue.crawls w WHERE w.crawler_id = c.crawler_id AND w.state = 'SUCCEEDED'),
           coalesce(l.tables_created, 0), coalesce(l.tables_updated, 0), coalesce(l.tables_deleted, 0)
      FROM glue.crawlers c
      LEFT JOIN glue.crawls r ON r.crawler_id = c.crawler_id AND r.state IN ('RUNNING', 'CANCELLING')
      LEFT JOIN LATERAL (SELECT * FROM glue.crawls w WHERE w.crawler_id = c.crawler_id AND w.state = 'SUCCEEDED'
                          ORDER BY w.crawl_id DESC LIMIT 1) l ON true
     WHERE $1 IS NULL OR c.crawler_name = ANY ($1)
     ORDER BY c.crawler_name COLLATE "C"
$$;

-- Progress of running crawls: files sampled of those to sample.
CREATE VIEW glue.crawler_progress WITH (security_invoker = true) AS
SELECT c.crawler_name, w.crawl_id, w.state, w.phase, w.files_done, w.files_total,
       CASE WHEN w.files_total > 0 THEN round(100.0 * w.files_done / w.files_total, 1) END AS percent_done,
       w.start_time, pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) w.start_time AS elapsed
  FROM glue.crawls w JOIN glue.crawlers c ON c.crawler_id OPERATOR(pg_catalog.=) w.crawler_id
 WHERE w.state IN ('RUNNING', 'CANCELLING');
GRANT SELECT ON glue.crawler_progress TO PUBLIC;

-- ---- src/glue/crawl.sql
-- Glue crawls (src/glue/crawl.sql): the steps a crawler worker runs as the
-- crawler's owner (src/glue/crawler_worker.c), each in its own
-- transaction, and what they write into the Data Catalog.
--
--   _crawl_prepare(id)  list the files of the directory targets
--   _crawl_sample(id)   sample the next files (glue._sample_file)
--   _crawl_finish(id)   group files into tables and partitions, crawl the
--                       table and kinesis targets, apply the schema change
--                       policy, record the crawled folders
--
-- Grouping (per directory target): starting at the target folder, the
-- files below a folder form one table when they have one classification
-- (and CSV delimiter), sit at one depth, and have similar columns (each
-- column set shares at least half its columns with the most common one;
-- combine_compatible_schemas skips this test); or when the next folders are
-- all Hive-style key=value.  Otherwise the folder is split: each subfolder
-- is tried on its own, and files lying beside those subfolders are
-- skipped.  configuration.table_level fixes the depth of table folders
-- instead (0: the target folder).  The folders below a table's folder are
-- its partitions: key=value names give the key, others partition_0,
-- partition_1, ...; partition keys are strings.  A table's columns are the
-- union of its files' columns, types widened.  Every split and skip is
-- logged with its reason in the crawl's log.
--
-- Every name that reaches the catalog is folded to [a-z0-9_] by the C
-- sampler or here; the catalog functions take values, never SQL text.
--
-- Locking: the catalog functions lock as described in catalog.sql.

-- Append an event to a crawl's log (at most 1000 kept).
CREATE FUNCTION glue._crawl_log(crawl_id bigint, event jsonb) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    UPDATE glue.crawls w
       SET log = CASE WHEN jsonb_array_length(w.log) < 1000 THEN w.log || jsonb_build_array($2) ELSE w.log END,
           log_dropped = w.log_dropped + CASE WHEN jsonb_array_length(w.log) < 1000 THEN 0 ELSE 1 END
     WHERE w.crawl_id = $1
$$;

-- The crawl and its crawler for a step; NULL (after ending the crawl as
-- CANCELLED) when a stop was requested.
CREATE FUNCTION glue._crawl_step(id bigint, phase text, OUT w glue.crawls, OUT c glue.crawlers)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    SELECT * INTO w FROM glue.crawls x WHERE x.crawl_id = id FOR UPDATE;
    IF NOT FOUND OR w.state NOT IN ('RUNNING', 'CANCELLING') THEN
        w := NULL;
        RETURN;
    END IF;
    SELECT * INTO c FROM glue.crawlers x WHERE x.crawler_id = w.crawler_id;
    IF NOT pg_has_role(current_user, c.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to run crawler "%"', c.owner, c.crawler_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF w.state = 'CANCELLING' THEN
        UPDATE glue.crawls x SET state = 'CANCELLED', end_time = clock_timestamp() WHERE x.crawl_id = id;
        DELETE FROM glue.crawl_files f WHERE f.crawl_id = id;
        w := NULL;
        RETURN;
    END IF;
    UPDATE glue.crawls x SET phase = _crawl_step.phase WHERE x.crawl_id = id;
END
$$;

-- A name for the catalog: lower case letters, digits and underscores.
CREATE FUNCTION glue._crawl_name(s text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce(nullif(left(regexp_replace(lower(s), '[^a-z0-9_]', '_', 'g'), 255), ''), 'table')
$$;

-- Step 1: list the files of the directory targets.  Returns how many will
-- be sampled (-1: cancelled).
CREATE FUNCTION glue._crawl_prepare(id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- The absolute path of a folder of a directory target.
CREATE FUNCTION glue._crawl_folder_path(c glue.crawlers, target_no integer, folder text[]) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT rtrim((c).targets -> 'directory_targets' -> (target_no - 1) ->> 'path', '/')
           || CASE WHEN cardinality(folder) = 0 THEN '' ELSE '/' || array_to_string(folder, '/') END
$$;

-- Step 2: sample the next 200 files.  Returns how many (0: all done; -1:
-- cancelled).
CREATE FUNCTION glue._crawl_sample(id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- The Glue type of a column of a PostgreSQL table (by format_type).
CREATE FUNCTION glue._glue_type_for(pg_type text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    m text[];
BEGIN
    IF pg_type ~ '\[\]$' THEN
        RETURN CASE WHEN glue._glue_type_for(regexp_replace(pg_type, '\[\]$', '')) ~ '^(array|struct)'
                    THEN 'string' ELSE 'array<' || glue._glue_type_for(regexp_replace(pg_type, '\[\]$', '')) || '>' END;
    END IF;
    m := regexp_match(pg_type, '^numeric\((\d+),(\d+)\)$');
    IF m IS NOT NULL AND m[1]::integer <= 38 THEN
        RETURN format('decimal(%s,%s)', m[1], m[2]);
    END IF;
    m := regexp_match(pg_type, '^character varying\((\d+)\)$');
    IF m IS NOT NULL AND m[1]::integer <= 65535 THEN
        RETURN format('varchar(%s)', m[1]);
    END IF;
    m := regexp_match(pg_type, '^character\((\d+)\)$');
    IF m IS NOT NULL AND m[1]::integer <= 255 THEN
        RETURN format('char(%s)', m[1]);
    END IF;
    RETURN CASE pg_type
           WHEN 'smallint' THEN 'smallint' WHEN 'integer' THEN 'int' WHEN 'bigint' THEN 'bigint'
           WHEN 'real' THEN 'float' WHEN 'double precision' THEN 'double' WHEN 'numeric' THEN 'double'
           WHEN 'boolean' THEN 'boolean' WHEN 'date' THEN 'date' WHEN 'bytea' THEN 'binary'
           ELSE CASE WHEN pg_type LIKE 'timestamp%' THEN 'timestamp' ELSE 'string' END END;
END
$$;

-- A table target: every table, view, materialized view and foreign table
-- of the schema (LIKE pattern) whose name matches tables (LIKE patterns;
-- default all) and no exclusion, that the owner may SELECT.
CREATE FUNCTION glue._crawl_table_target(crawl_id bigint, c glue.crawlers, t jsonb)
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
                AND has_table_privilege(cl.oid, 'SELECT')
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

-- A kinesis target: up to stream_sample_records records (from the oldest)
-- of the stream's shards, read as the owner, parsed as JSON.
CREATE FUNCTION glue._crawl_stream_target(crawl_id bigint, c glue.crawlers, t jsonb)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    n integer := coalesce((c.configuration ->> 'stream_sample_records')::integer, 1000);
    stream text := t ->> 'stream_name';
    records bytea[];
    info jsonb;
BEGIN
    BEGIN
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

-- Step 3: write the catalog.  Returns 0 (-1: cancelled).
CREATE FUNCTION glue._crawl_finish(id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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
        IF NOT pg_has_role(current_user, r.owner, 'USAGE') THEN
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

-- ---- src/glue/crawl_catalog.sql
-- Glue crawls, part 2 (src/glue/crawl_catalog.sql): the last step of a
-- crawl, which turns the sampled files, tables and stream records into
-- Data Catalog tables and partitions under the crawler's schema change
-- policy.  See crawl.sql for the grouping rules.
--
-- SchemaChangePolicy: a new table is always created.  An existing table
-- whose columns, partition keys, location or classification changed is
-- updated (a new table version) under UPDATE_IN_DATABASE and only logged
-- under LOG (its partitions are still added when the partition keys
-- match).  Tables this crawler wrote before (parameter UPDATED_BY_CRAWLER)
-- whose data is gone, and partitions whose folder is gone, are deleted
-- (DELETE_FROM_DATABASE), marked with parameter DEPRECATED_BY_CRAWLER
-- (DEPRECATE_IN_DATABASE), or logged (LOG).  Tables under a target that
-- could not be listed are left alone.  CRAWL_NEW_FOLDERS_ONLY samples only
-- folders not crawled before, adds them as partitions of the tables they
-- fall under or as new tables, and deletes nothing.
--
-- Locking: as catalog.sql's functions; all catalog writes of a crawl
-- commit together.

-- Add n to a counter of a crawl.
CREATE FUNCTION glue._crawl_count(crawl_id bigint, counter text, n bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF counter NOT IN ('tables_created', 'tables_updated', 'tables_deleted', 'tables_deprecated',
                       'partitions_created', 'partitions_deleted') THEN
        RAISE EXCEPTION 'unrecognized crawl counter "%"', counter;
    END IF;
    EXECUTE format('UPDATE glue.crawls x SET %I = x.%I + $2 WHERE x.crawl_id = $1', counter, counter)
        USING crawl_id, n;
END
$$;

-- Create partitions (a JSON array of {"values", "location"}) of a table,
-- 100 per call; returns how many were created; failures are logged.
CREATE FUNCTION glue._crawl_add_partitions(crawl_id bigint, database_name text, table_name text, parts jsonb)
    RETURNS integer LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    batch jsonb;
    created integer := 0;
    e record;
BEGIN
    FOR batch IN SELECT jsonb_agg(p ORDER BY o) FROM jsonb_array_elements(parts) WITH ORDINALITY AS x(p, o)
                  GROUP BY (o - 1) / 100 ORDER BY (o - 1) / 100 LOOP
        created := created + jsonb_array_length(batch);
        FOR e IN SELECT * FROM glue.batch_create_partition(database_name, table_name, batch) LOOP
            created := created - 1;
            PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'table', table_name,
                        'partition', to_jsonb(e.partition_values), 'reason', e.error_code || ': ' || e.error_message));
        END LOOP;
    END LOOP;
    PERFORM glue._crawl_count(crawl_id, 'partitions_created', created);
    RETURN created;
END
$$;

-- Write one table the crawl found, under the crawler's policy.
CREATE FUNCTION glue._crawl_write_table(crawl_id bigint, c glue.crawlers, table_name text, columns jsonb,
        keys jsonb, location text, classification text, params jsonb, parts jsonb, incremental boolean)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables;
    changes text[] := '{}';
    keys_match boolean;
    gone jsonb;
BEGIN
    UPDATE glue.crawls x SET tables_seen = x.tables_seen || jsonb_build_object(table_name, location)
     WHERE x.crawl_id = _crawl_write_table.crawl_id;
    params := params || jsonb_build_object('UPDATED_BY_CRAWLER', c.crawler_name);
    SELECT x.* INTO t FROM glue.tables x JOIN glue.databases d USING (database_id)
     WHERE d.database_name = c.database_name AND x.table_name = _crawl_write_table.table_name;
    IF NOT FOUND THEN
        PERFORM glue.create_table(c.database_name, table_name, columns, keys, location, classification,
                                  parameters => params);
        PERFORM glue._crawl_count(crawl_id, 'tables_created', 1);
        PERFORM glue._crawl_add_partitions(crawl_id, c.database_name, table_name, parts);
        RETURN;
    END IF;
    IF NOT pg_has_role(current_user, t.owner, 'USAGE') THEN
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'table', table_name,
                    'reason', format('the table belongs to role %s', t.owner)));
        RETURN;
    END IF;
    IF t.columns <> columns THEN
        changes := array_append(changes, 'columns');
    END IF;
    IF t.partition_keys <> keys THEN
        changes := array_append(changes, 'partition keys');
    END IF;
    IF t.location IS DISTINCT FROM location THEN
        changes := array_append(changes, 'location');
    END IF;
    IF t.parameters ->> 'classification' IS DISTINCT FROM classification THEN
        changes := array_append(changes, 'classification');
    END IF;
    IF t.parameters ? 'DEPRECATED_BY_CRAWLER' THEN
        changes := array_append(changes, 'no longer deprecated');
    END IF;
    keys_match := t.partition_keys = keys;
    IF cardinality(changes) > 0 AND c.update_behavior = 'UPDATE_IN_DATABASE' AND NOT incremental THEN
        IF NOT keys_match THEN
            -- the partitions were made for other keys
            PERFORM glue._crawl_count(crawl_id, 'partitions_deleted', count(*))
               FROM glue.partitions p WHERE p.table_id = t.table_id;
            DELETE FROM glue.partitions p WHERE p.table_id = t.table_id;
            keys_match := true;
        END IF;
        PERFORM glue.update_table(c.database_name, table_name, columns => columns, partition_keys => keys,
                                  location => coalesce(location, ''), classification => coalesce(classification, ''),
                                  parameters => params);
        PERFORM glue._crawl_count(crawl_id, 'tables_updated', 1);
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'updated', 'table', table_name,
                    'reason', 'changed: ' || array_to_string(changes, ', ')));
    ELSIF cardinality(changes) > 0 THEN
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'not_updated', 'table', table_name,
                    'reason', format('changed: %s; not applied (update behavior LOG)', array_to_string(changes, ', ')),
                    'columns', columns));
    END IF;
    IF NOT keys_match THEN
        IF jsonb_array_length(parts) > 0 THEN
            PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'table', table_name,
                        'reason', 'Folder partition keys do not match table partition keys',
                        'partitions', jsonb_array_length(parts)));
        END IF;
        RETURN;
    END IF;
    -- new partitions
    PERFORM glue._crawl_add_partitions(crawl_id, c.database_name, table_name,
                coalesce((SELECT jsonb_agg(p) FROM jsonb_array_elements(parts) p
                           WHERE NOT EXISTS (SELECT 1 FROM glue.partitions x WHERE x.table_id = t.table_id
                                               AND x.partition_values = ARRAY(SELECT jsonb_array_elements_text(p -> 'values'))
                                            )), '[]'));
    IF incremental THEN
        RETURN;
    END IF;
    -- partitions whose folder is gone
    SELECT jsonb_agg(jsonb_build_object('values', to_jsonb(x.partition_values), 'parameters', x.parameters))
      INTO gone
      FROM glue.partitions x
     WHERE x.table_id = t.table_id
       AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(parts) p
                        WHERE x.partition_values = ARRAY(SELECT jsonb_array_elements_text(p -> 'values')));
    IF gone IS NULL THEN
        RETURN;
    END IF;
    IF c.delete_behavior = 'DELETE_FROM_DATABASE' THEN
        DELETE FROM glue.partitions x WHERE x.table_id = t.table_id
           AND to_jsonb(x.partition_values) IN (SELECT g -> 'values' FROM jsonb_array_elements(gone) g);
        PERFORM glue._crawl_count(crawl_id, 'partitions_deleted', jsonb_array_length(gone));
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'deleted', 'table', table_name,
                    'partitions', (SELECT jsonb_agg(g -> 'values') FROM jsonb_array_elements(gone) g),
                    'reason', 'their folders are gone'));
    ELSIF c.delete_behavior = 'DEPRECATE_IN_DATABASE' THEN
        UPDATE glue.partitions x
           SET parameters = x.parameters || jsonb_build_object('DEPRECATED_BY_CRAWLER', crawl_id::text),
               last_update_time = clock_timestamp()
         WHERE x.table_id = t.table_id AND NOT x.parameters ? 'DEPRECATED_BY_CRAWLER'
           AND to_jsonb(x.partition_values) IN (SELECT g -> 'values' FROM jsonb_array_elements(gone) g);
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'deprecated', 'table', table_name,
                    'partitions', (SELECT jsonb_agg(g -> 'values') FROM jsonb_array_elements(gone) g),
                    'reason', 'their folders are gone'));
    ELSE
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'vanished', 'table', table_name,
                    'partitions', (SELECT jsonb_agg(g -> 'values') FROM jsonb_array_elements(gone) g),
                    'reason', 'their folders are gone; kept (delete behavior LOG)'));
    END IF;
END
$$;

-- The files of a directory target below folder prefix that take part in
-- grouping.
CREATE FUNCTION glue._crawl_group_files(crawl_id bigint, target_no integer, prefix text[])
    RETURNS SETOF glue.crawl_files LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT f.* FROM glue.crawl_files f
     WHERE f.crawl_id = $1 AND f.target_no = $2 AND NOT f.known AND f.sampled
       AND f.info ->> 'classification' <> 'unknown' AND NOT f.info ? 'error'
       AND f.folder[1:cardinality($3)] = $3
$$;

-- Make one table of the files below folder prefix of a directory target.
CREATE FUNCTION glue._crawl_make_table(crawl_id bigint, c glue.crawlers, target_no integer, prefix text[])
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_variable
DECLARE
    level integer := cardinality(prefix);
    root text := glue._crawl_folder_path(c, target_no, prefix);
    name text := c.table_prefix || glue._crawl_name(regexp_replace(root, '^.*/', ''));
    depth integer;
    keys jsonb := '[]';
    k text;
    columns jsonb;
    fmt record;
    params jsonb;
    parts jsonb;
BEGIN
    IF (SELECT w.tables_seen ? name FROM glue.crawls w WHERE w.crawl_id = _crawl_make_table.crawl_id) THEN
        name := left(name, 246) || '_' || left(md5(root), 8);
    END IF;
    -- the most common depth; files at other depths are skipped
    SELECT cardinality(f.folder) - level INTO depth FROM glue._crawl_group_files(crawl_id, target_no, prefix) f
     GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1;
    PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'path', f.path,
                'reason', format('the folder depth differs from the partitions of table "%s"', name)))
       FROM glue._crawl_group_files(crawl_id, target_no, prefix) f WHERE cardinality(f.folder) - level <> depth;
    FOR i IN 1 .. depth LOOP
        SELECT CASE WHEN bool_and(f.folder[level + i] ~ '^[^=]+=') AND count(DISTINCT split_part(f.folder[level + i], '=', 1)) = 1
                    THEN glue._crawl_name(min(split_part(f.folder[level + i], '=', 1))) END
          INTO k FROM glue._crawl_group_files(crawl_id, target_no, prefix) f WHERE cardinality(f.folder) - level = depth;
        IF k IS NULL OR keys @> jsonb_build_array(jsonb_build_object('name', k, 'type', 'string')) THEN
            k := 'partition_' || (i - 1);
        END IF;
        keys := keys || jsonb_build_array(jsonb_build_object('name', k, 'type', 'string'));
    END LOOP;
    -- the union of the distinct column lists, in the order first seen
    SELECT glue._union_columns(array_agg(q.cols ORDER BY q.first)) INTO columns
      FROM (SELECT f.info -> 'columns' AS cols, min(f.file_no) AS first
              FROM glue._crawl_group_files(crawl_id, target_no, prefix) f
             WHERE cardinality(f.folder) - level = depth GROUP BY 1) q;
    SELECT coalesce(jsonb_agg(col ORDER BY o), '[]') INTO columns
      FROM jsonb_array_elements(columns) WITH ORDINALITY AS x(col, o)
     WHERE NOT keys @> jsonb_build_array(jsonb_build_object('name', col ->> 'name', 'type', 'string'));
    SELECT f.info ->> 'classification' AS classification, f.info ->> 'delimiter' AS delimiter,
           mode() WITHIN GROUP (ORDER BY f.info ->> 'header') AS header,
           CASE WHEN bool_and(f.info ->> 'compression' = 'gzip') THEN 'gzip'
                WHEN bool_and(f.info ->> 'compression' = 'none') THEN 'none' ELSE 'mixed' END AS compression,
           sum((f.info ->> 'records')::bigint) AS records, count(*) AS objects, sum(f.size) AS size
      INTO fmt FROM glue._crawl_group_files(crawl_id, target_no, prefix) f WHERE cardinality(f.folder) - level = depth
     GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1;
    params := jsonb_strip_nulls(jsonb_build_object(
                  'compressionType', fmt.compression, 'typeOfData', 'file',
                  'delimiter', fmt.delimiter,
                  'skip.header.line.count', CASE WHEN fmt.header = 'true' THEN '1' END,
                  'recordCount', fmt.records::text, 'objectCount', fmt.objects::text, 'sizeKey', fmt.size::text,
                  'exclusions', (c.targets -> 'directory_targets' -> (target_no - 1) -> 'exclusions')::text));
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'values', (SELECT jsonb_agg(CASE WHEN position('=' IN v) > 0 THEN substr(v, position('=' IN v) + 1) ELSE v END ORDER BY o)
                            FROM unnest(q.part) WITH ORDINALITY AS u(v, o)),
               'location', glue._crawl_folder_path(c, target_no, prefix || q.part)) ORDER BY q.part), '[]')
      INTO parts
      FROM (SELECT DISTINCT f.folder[level + 1 : level + depth] AS part
              FROM glue._crawl_group_files(crawl_id, target_no, prefix) f
             WHERE cardinality(f.folder) - level = depth AND depth > 0) q;
    PERFORM glue._crawl_write_table(crawl_id, c, name, columns, keys, root, fmt.classification, params, parts, false);
END
$$;

-- Decide whether the files below folder prefix form one table, or split.
CREATE FUNCTION glue._crawl_group(crawl_id bigint, c glue.crawlers, target_no integer, prefix text[])
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_variable
DECLARE
    level integer := cardinality(prefix);
    table_level integer := (c.configuration ->> 'table_level')::integer;
    st record;
    reason text;
    sub text;
BEGIN
    SELECT count(*) AS files,
           count(DISTINCT (f.info ->> 'classification') || coalesce(f.info ->> 'delimiter', '')) AS formats,
           count(DISTINCT cardinality(f.folder)) AS depths,
           count(*) FILTER (WHERE cardinality(f.folder) = level) AS here,
           coalesce(bool_and(f.folder[level + 1] ~ '^[^=]+=') FILTER (WHERE cardinality(f.folder) > level), false) AS hive
      INTO st FROM glue._crawl_group_files(crawl_id, target_no, prefix) f;
    IF st.files = 0 THEN
        RETURN;
    END IF;
    IF table_level IS NOT NULL THEN
        IF level >= table_level THEN
            PERFORM glue._crawl_make_table(crawl_id, c, target_no, prefix);
            RETURN;
        END IF;
        reason := format('above the table level %s', table_level);
    ELSIF st.formats > 1 THEN
        reason := 'the files have different formats';
    ELSIF st.depths > 1 AND NOT (st.hive AND st.here = 0) THEN
        reason := 'the files lie at different folder depths';
    ELSIF NOT coalesce((c.configuration ->> 'combine_compatible_schemas')::boolean, false)
          AND NOT glue._crawl_similar(crawl_id, target_no, prefix) AND NOT (st.hive AND st.here = 0) THEN
        reason := 'the files have dissimilar columns';
    ELSE
        PERFORM glue._crawl_make_table(crawl_id, c, target_no, prefix);
        RETURN;
    END IF;
    PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'split', 'path', glue._crawl_folder_path(c, target_no, prefix),
                'reason', reason));
    PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'path', f.path,
                'reason', 'the file lies beside folders that became separate tables'))
       FROM glue._crawl_group_files(crawl_id, target_no, prefix) f WHERE cardinality(f.folder) = level;
    FOR sub IN SELECT DISTINCT f.folder[level + 1] FROM glue._crawl_group_files(crawl_id, target_no, prefix) f
                WHERE cardinality(f.folder) > level ORDER BY 1 LOOP
        PERFORM glue._crawl_group(crawl_id, c, target_no, prefix || sub);
    END LOOP;
END
$$;

-- Are the column sets of the files below prefix similar: does each share
-- at least half its columns with the most common one?
CREATE FUNCTION glue._crawl_similar(crawl_id bigint, target_no integer, prefix text[]) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    WITH sets AS (SELECT ARRAY(SELECT e ->> 'name' FROM jsonb_array_elements(f.info -> 'columns') e ORDER BY 1) AS names,
                         count(*) AS n
                    FROM glue._crawl_group_files($1, $2, $3) f GROUP BY 1),
         common AS (SELECT names FROM sets ORDER BY n DESC, names LIMIT 1)
    SELECT coalesce(bool_and(2 * (SELECT count(*) FROM unnest(s.names) x WHERE x = ANY (common.names))
                             >= cardinality(s.names)), true)
      FROM sets s, common
$$;

-- CRAWL_NEW_FOLDERS_ONLY: new files below the location of a table this
-- crawler made become its partitions (when their depth and key names
-- match); they are then taken out of grouping.
CREATE FUNCTION glue._crawl_new_partitions(crawl_id bigint, c glue.crawlers, target_no integer)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_variable
DECLARE
    t record;
    base text[];
    nkeys integer;
    parts jsonb;
    bad integer;
BEGIN
    FOR t IN SELECT x.* FROM glue.tables x JOIN glue.databases d USING (database_id)
              WHERE d.database_name = c.database_name AND x.parameters ->> 'UPDATED_BY_CRAWLER' = c.crawler_name
                AND x.location IS NOT NULL
                AND (x.location || '/') LIKE replace(replace(replace(glue._crawl_folder_path(c, target_no, '{}'), '\', '\\'), '%', '\%'), '_', '\_') || '/%'
              ORDER BY length(x.location) DESC LOOP
        base := CASE WHEN t.location = glue._crawl_folder_path(c, target_no, '{}') THEN '{}'::text[]
                     ELSE string_to_array(substr(t.location, length(glue._crawl_folder_path(c, target_no, '{}')) + 2), '/') END;
        nkeys := jsonb_array_length(t.partition_keys);
        IF NOT EXISTS (SELECT 1 FROM glue._crawl_group_files(crawl_id, target_no, base)) THEN
            CONTINUE;
        END IF;
        UPDATE glue.crawls x SET tables_seen = x.tables_seen || jsonb_build_object(t.table_name, t.location)
         WHERE x.crawl_id = _crawl_new_partitions.crawl_id;
        SELECT count(*) INTO bad FROM glue._crawl_group_files(crawl_id, target_no, base) f
         WHERE cardinality(f.folder) - cardinality(base) <> nkeys
            OR EXISTS (SELECT 1 FROM jsonb_array_elements(t.partition_keys) WITH ORDINALITY AS k(key, o)
                        WHERE k.key ->> 'name' !~ '^partition_[0-9]+$'
                          AND split_part(f.folder[cardinality(base) + k.o::integer], '=', 1) <> k.key ->> 'name');
        IF bad > 0 THEN
            PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'table', t.table_name, 'files', bad,
                        'reason', 'Folder partition keys do not match table partition keys'));
        END IF;
        IF EXISTS (SELECT 1 FROM glue._crawl_group_files(crawl_id, target_no, base) f,
                          jsonb_array_elements(f.info -> 'columns') col
                    WHERE NOT t.columns @> jsonb_build_array(jsonb_build_object('name', col ->> 'name'))) THEN
            PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'not_updated', 'table', t.table_name,
                        'reason', 'new folders have new columns; not applied (CRAWL_NEW_FOLDERS_ONLY keeps the schema)'));
        END IF;
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'values', (SELECT jsonb_agg(CASE WHEN position('=' IN v) > 0 THEN substr(v, position('=' IN v) + 1) ELSE v END ORDER BY o)
                                FROM unnest(q.part) WITH ORDINALITY AS u(v, o)),
                   'location', glue._crawl_folder_path(c, target_no, base || q.part)) ORDER BY q.part), '[]')
          INTO parts
          FROM (SELECT DISTINCT f.folder[cardinality(base) + 1 : cardinality(base) + nkeys] AS part
                  FROM glue._crawl_group_files(crawl_id, target_no, base) f
                 WHERE cardinality(f.folder) - cardinality(base) = nkeys AND nkeys > 0) q;
        PERFORM glue._crawl_write_table(crawl_id, c, t.table_name, t.columns, t.partition_keys, t.location,
                                        t.parameters ->> 'classification', t.parameters, parts, true);
        UPDATE glue.crawl_files f SET known = true
         WHERE f.crawl_id = _crawl_new_partitions.crawl_id AND f.target_no = _crawl_new_partitions.target_no
           AND f.folder[1:cardinality(base)] = base;
    END LOOP;
END
$$;

-- ---- src/video/video.sql
-- Kinesis Video Streams (src/video): the catalog, the storage of fragments,
-- the control plane and put_media.  Reads are in video_read.sql, stream
-- processors in video_processors.sql.
--
-- Storage: each video stream has a fragment table
-- kinesis_video_media.<name>, owned by its creator and partitioned by
-- server timestamp into time segments kinesis_video_segments.v<id>_<n>.
-- The worker creates segments ahead of need (the put path never runs DDL)
-- and drops whole segments once they have passed the data retention (no
-- DELETE, no VACUUM).  The media column is stored EXTERNAL: out of line in
-- the segment's TOAST table, without a pglz attempt (media is already
-- compressed), so scans of fragment metadata never read media pages.
--
-- Privileges: CREATE on schema kinesis_video_media creates streams; the
-- owner of the fragment table administers the stream and GRANTs INSERT
-- (put_media) and SELECT (every read).  Direct DML on fragment tables is
-- refused for everyone; DDL on them is refused by the utility hook.
--
-- Locking: puts to one stream serialise on the stream's put lock (an
-- object lock on (kinesis_video.streams, stream_id), held to commit), so
-- fragment numbers commit in increasing order; see video_put.c.
-- Changes of a stream lock its catalog row.

CREATE SCHEMA kinesis_video_media;     -- one partitioned table per video stream (GRANT here)
CREATE SCHEMA kinesis_video_segments;  -- its time segments (partitions); internal
GRANT USAGE ON SCHEMA kinesis_video_media TO PUBLIC;
REVOKE ALL ON SCHEMA kinesis_video_segments FROM PUBLIC;

-- Fragment numbers of every stream: WAL-logged, never handed out twice.
CREATE SEQUENCE kinesis_video.fragment_numbers;
REVOKE ALL ON SEQUENCE kinesis_video.fragment_numbers FROM PUBLIC;

CREATE TABLE kinesis_video.streams (
    stream_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_name text NOT NULL UNIQUE,
    stream_arn text NOT NULL,
    media_type text,
    device_name text,
    kms_key_id text,
    data_retention_in_hours integer NOT NULL CHECK (data_retention_in_hours BETWEEN 0 AND 87600),
    status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('CREATING', 'ACTIVE', 'UPDATING', 'DELETING')),
    version integer NOT NULL DEFAULT 1,
    creation_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    media_table regclass,
    trim_before timestamptz        -- fragments older stay expired after a retention increase
);

-- Time segments: segment_no of a stream holds server timestamps
-- [range_start, range_end); consecutive segments are contiguous.
CREATE TABLE kinesis_video.segments (
    stream_id integer NOT NULL REFERENCES kinesis_video.streams ON DELETE CASCADE,
    segment_no bigint NOT NULL,
    range_start timestamptz NOT NULL,
    range_end timestamptz NOT NULL,
    relation regclass NOT NULL,
    PRIMARY KEY (stream_id, segment_no)
);
CREATE INDEX ON kinesis_video.segments (stream_id, range_start);
GRANT SELECT ON kinesis_video.segments TO PUBLIC;

-- Does the current user own (or belong to the owner of) this fragment table?
CREATE FUNCTION kinesis_video._owns(media_table regclass) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = media_table
$$;

-- Everybody sees the streams (like pg_class); only an owner changes the
-- retention (the other writes are done by the C functions as the
-- extension owner, after their checks).
ALTER TABLE kinesis_video.streams ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON kinesis_video.streams FOR SELECT USING (true);
CREATE POLICY owned ON kinesis_video.streams FOR UPDATE
    USING (kinesis_video._owns(media_table)) WITH CHECK (kinesis_video._owns(media_table));
GRANT SELECT ON kinesis_video.streams TO PUBLIC;
GRANT UPDATE (data_retention_in_hours, version, trim_before) ON kinesis_video.streams TO PUBLIC;

-- What readers and processors receive.
CREATE TYPE kinesis_video.fragment AS (
    stream_name text, fragment_number bigint, producer_timestamp timestamptz,
    server_timestamp timestamptz, fragment_length_in_milliseconds integer,
    fragment_size_in_bytes integer, fragment_metadata jsonb, media bytea);
CREATE TYPE kinesis_video.chunk AS (
    fragment_number bigint, producer_timestamp timestamptz, server_timestamp timestamptz,
    fragment_length_in_milliseconds integer, fragment_size_in_bytes integer,
    fragment_metadata jsonb, media bytea, continuation_token text, millis_behind_now bigint);

-- C helpers (src/video/video_state.c)
CREATE FUNCTION kinesis_video._forbid_direct_dml() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'kg_video_forbid_direct_dml';
CREATE FUNCTION kinesis_video._commit_count(stream_id integer) RETURNS bigint
    LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'kg_video_commit_count';
CREATE FUNCTION kinesis_video._wait_for_commit(stream_id integer, seen bigint, timeout_ms integer)
    RETURNS bigint LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'kg_video_wait_for_commit';
CREATE FUNCTION kinesis_video._retention_now() RETURNS timestamptz
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_video_retention_now';
CREATE FUNCTION kinesis_video._wake_worker() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_video_wake_worker';

-- Control plane ------------------------------------------------------------

CREATE FUNCTION kinesis_video.create_stream(stream_name text, media_type text DEFAULT NULL,
        data_retention_in_hours integer DEFAULT 0, device_name text DEFAULT NULL,
        kms_key_id text DEFAULT NULL)
    RETURNS text LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_video_create_stream';
COMMENT ON FUNCTION kinesis_video.create_stream(text, text, integer, text, text) IS
    'create a video stream; returns its ARN; data_retention_in_hours 0 keeps fragments in a short buffer only';

CREATE FUNCTION kinesis_video.delete_stream(stream_name text, current_version integer DEFAULT NULL)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_video_delete_stream';

-- The data retention of a stream as an interval (0: the buffer).
CREATE FUNCTION kinesis_video._retention(hours integer) RETURNS interval
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT CASE WHEN hours = 0 THEN current_setting('kinesis_glue.video_buffer_retention')::interval
                ELSE make_interval(hours => hours) END
$$;

-- Fragments that arrived (server timestamp) before this have expired.
CREATE FUNCTION kinesis_video._horizon(s kinesis_video.streams) RETURNS timestamptz
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT greatest(kinesis_video._retention_now() - kinesis_video._retention(s.data_retention_in_hours),
                    coalesce(s.trim_before, '-infinity'))
$$;

-- The stream row; ResourceNotFoundException when absent; with must_own,
-- AccessDeniedException unless the caller owns it; with lock, FOR UPDATE.
CREATE FUNCTION kinesis_video._get(name text, must_own boolean DEFAULT false, lock boolean DEFAULT false)
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
    IF must_own AND NOT kinesis_video._owns(s.media_table) THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of video stream "%"', name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF lock THEN
        SELECT * INTO s FROM kinesis_video.streams WHERE stream_id = s.stream_id FOR UPDATE;
    END IF;
    RETURN s;
END
$$;

-- The stream row, after checking that the caller may read it.
CREATE FUNCTION kinesis_video._get_readable(name text) RETURNS kinesis_video.streams
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams := kinesis_video._get(name);
BEGIN
    IF NOT has_table_privilege(s.media_table, 'SELECT') THEN
        RAISE EXCEPTION 'NotAuthorizedException: permission denied to read video stream "%"', name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('The stream''s owner can grant it: GRANT SELECT ON %s TO role.', s.media_table);
    END IF;
    RETURN s;
END
$$;

CREATE TYPE kinesis_video.stream_info AS (stream_name text, stream_arn text, media_type text,
    kms_key_id text, device_name text, version integer, status text, creation_time timestamptz,
    data_retention_in_hours integer, media_table regclass);

CREATE FUNCTION kinesis_video.describe_stream(stream_name text)
    RETURNS SETOF kinesis_video.stream_info
    LANGUAGE plpgsql STABLE ROWS 1 SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams := kinesis_video._get(stream_name);
BEGIN
    RETURN QUERY SELECT s.stream_name, s.stream_arn, s.media_type, s.kms_key_id, s.device_name,
                        s.version, s.status, s.creation_time, s.data_retention_in_hours, s.media_table;
END
$$;

CREATE FUNCTION kinesis_video.list_streams(stream_name_begins_with text DEFAULT NULL,
                                           max_results integer DEFAULT 10000)
    RETURNS TABLE (stream_name text, stream_arn text, media_type text, version integer,
                   status text, creation_time timestamptz, data_retention_in_hours integer)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF max_results IS NULL OR max_results NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'InvalidArgumentException: max_results must be between 1 and 10000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
        SELECT s.stream_name, s.stream_arn, s.media_type, s.version, s.status, s.creation_time,
               s.data_retention_in_hours
          FROM kinesis_video.streams s
         WHERE stream_name_begins_with IS NULL
            OR left(s.stream_name, length(stream_name_begins_with)) = stream_name_begins_with
         ORDER BY s.stream_name COLLATE "C"
         LIMIT max_results;
END
$$;

-- UpdateDataRetention: change the retention by data_retention_change_in_hours.
-- An increase does not bring expired fragments back.
CREATE FUNCTION kinesis_video.update_data_retention(stream_name text, current_version integer,
        operation text, data_retention_change_in_hours integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Ingest --------------------------------------------------------------------

CREATE FUNCTION kinesis_video.put_media(stream_name text, media bytea, producer_timestamp timestamptz,
        fragment_length_in_milliseconds integer, fragment_metadata jsonb DEFAULT NULL)
    RETURNS TABLE (fragment_number bigint, server_timestamp timestamptz)
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 1 AS 'MODULE_PATHNAME', 'kg_video_put_media';

-- Segment upkeep of one stream (run by the worker and by create_stream as
-- the extension owner): create segments up to kinesis_glue.segments_ahead
-- segment lengths ahead, drop segments wholly before the horizon (and, for
-- a buffer-only stream, the oldest ones beyond 200 MB).  With nowait, a
-- stream that is busy (a reader or producer holds its table) is left for
-- the next round.
CREATE FUNCTION kinesis_video._upkeep(p_stream_id integer, nowait boolean) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams;
    seg_len interval;
    ahead_until timestamptz;
    last_no bigint;
    last_end timestamptz;
    rel text;
    r record;
BEGIN
    SELECT * INTO s FROM kinesis_video.streams WHERE stream_id = p_stream_id;
    IF NOT FOUND OR s.media_table IS NULL THEN
        RETURN;
    END IF;
    seg_len := greatest(interval '1 second',
                        least(current_setting('kinesis_glue.video_segment_interval')::interval,
                              kinesis_video._retention(s.data_retention_in_hours) / 4));
    ahead_until := clock_timestamp() + seg_len * current_setting('kinesis_glue.segments_ahead')::integer;
    SELECT max(segment_no), max(range_end) INTO last_no, last_end
      FROM kinesis_video.segments WHERE stream_id = p_stream_id;
    last_no := coalesce(last_no, -1);
    IF last_end IS NULL OR last_end < clock_timestamp() THEN
        last_end := date_trunc('second', clock_timestamp());
    END IF;
    WHILE last_end < ahead_until LOOP
        IF NOT kinesis_video._lock_nowait(s.media_table, nowait) THEN
            RETURN;
        END IF;
        last_no := last_no + 1;
        rel := format('v%s_%s', p_stream_id, last_no);
        EXECUTE format('CREATE TABLE kinesis_video_segments.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                       rel, s.media_table, last_end, last_end + seg_len);
        INSERT INTO kinesis_video.segments VALUES
            (p_stream_id, last_no, last_end, last_end + seg_len, format('kinesis_video_segments.%I', rel)::regclass);
        last_end := last_end + seg_len;
    END LOOP;

    FOR r IN
        SELECT g.segment_no, g.relation,
               g.range_end <= least(kinesis_video._horizon(s), clock_timestamp()) AS expired,
               s.data_retention_in_hours = 0 AND g.range_end <= clock_timestamp()
                   AND sum(pg_total_relation_size(g.relation)) OVER (ORDER BY g.segment_no DESC)
                       > 200 * 1024 * 1024 AS over_buffer
          FROM kinesis_video.segments g
         WHERE g.stream_id = p_stream_id
         ORDER BY g.segment_no
    LOOP
        CONTINUE WHEN NOT (r.expired OR r.over_buffer);
        IF NOT kinesis_video._lock_nowait(s.media_table, nowait)
           OR NOT kinesis_video._lock_nowait(r.relation, nowait) THEN
            RETURN;
        END IF;
        EXECUTE format('DROP TABLE %s', r.relation);
        DELETE FROM kinesis_video.segments WHERE stream_id = p_stream_id AND segment_no = r.segment_no;
    END LOOP;
END
$$;

-- Lock a table ACCESS EXCLUSIVE; with nowait, false instead of waiting
-- more than 50 ms (puts of a stream are short transactions back to back:
-- a brief wait finds a gap between them, and stalls them 50 ms at most).
CREATE FUNCTION kinesis_video._lock_nowait(rel regclass, nowait boolean) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF nowait THEN
        PERFORM set_config('lock_timeout', '50ms', true);
        EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', rel);
    ELSE
        EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', rel);
    END IF;
    RETURN true;
EXCEPTION WHEN lock_not_available THEN
    RETURN false;
END
$$;

REVOKE ALL ON FUNCTION kinesis_video._upkeep(integer, boolean), kinesis_video._lock_nowait(regclass, boolean),
    kinesis_video._wake_worker() FROM PUBLIC;

-- ---- src/video/video_read.sql
-- Video Streams reads (src/video): get_media with its start selectors and
-- live waiting, list_fragments, get_media_for_fragment_list, get_clip and
-- get_hls_playlist.  All need SELECT on the stream's fragment table and
-- never return expired fragments (server timestamp before the horizon),
-- even while their segment still waits to be dropped.
--
-- Order: a stream's fragment numbers, server timestamps and producer
-- timestamps grow together (put_media refuses a fragment that starts
-- before the previous one), and fragment numbers commit in increasing
-- order (video_put.c).  So a reader that has returned everything visible
-- up to fragment N never later sees a fragment below N appear, and the
-- continuation token is simply the last fragment returned.
--
-- Locking: readers take ACCESS SHARE on the fragment table.  A waiting
-- get_media holds it while it sleeps, which delays segment upkeep of that
-- stream (the worker never waits; it retries next round).

-- Continuation token of a fragment: its number and a check that binds it
-- to the stream (the ARN includes the creation time, so a token of a
-- deleted stream does not work on a new one of the same name).  Not a
-- secret: whoever may read the stream may read any fragment of it.
CREATE FUNCTION kinesis_video._token(stream_arn text, fragment_number bigint) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS
$$
    SELECT fragment_number::text || '.' || left(md5(stream_arn || ':' || fragment_number::text), 12)
$$;

CREATE FUNCTION kinesis_video._parse_token(s kinesis_video.streams, token text) RETURNS bigint
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    m text[] := regexp_match(token, '^([0-9]{1,18})\.[0-9a-f]{12}$');
BEGIN
    IF m IS NULL OR kinesis_video._token(s.stream_arn, m[1]::bigint) <> token THEN
        RAISE EXCEPTION 'InvalidArgumentException: continuation token is not valid for video stream "%"', s.stream_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the continuation_token of a chunk that get_media returned for this stream.';
    END IF;
    RETURN m[1]::bigint;
END
$$;

-- The timestamp column a selector type names.
CREATE FUNCTION kinesis_video._ts_column(selector text, what text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF selector = 'SERVER_TIMESTAMP' THEN
        RETURN 'server_timestamp';
    ELSIF selector = 'PRODUCER_TIMESTAMP' THEN
        RETURN 'producer_timestamp';
    END IF;
    RAISE EXCEPTION 'InvalidArgumentException: % must be SERVER_TIMESTAMP or PRODUCER_TIMESTAMP', what
        USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- GetMedia.  Chunks in fragment-number order from the start selector:
-- NOW (the latest fragment), EARLIEST, FRAGMENT_NUMBER (after
-- after_fragment_number), SERVER_TIMESTAMP / PRODUCER_TIMESTAMP (the
-- fragment containing start_timestamp, or the first after it),
-- CONTINUATION_TOKEN (after the chunk that carried the token).  At most
-- max_fragments and about 25 MB (at least one fragment).  With wait, a
-- call that finds nothing sleeps until a put to the stream commits (or the
-- wait is over) and looks again: a live reader.  Waiting needs READ
-- COMMITTED, so that each look sees new commits.
CREATE FUNCTION kinesis_video.get_media(stream_name text, start_selector_type text,
        after_fragment_number bigint DEFAULT NULL, start_timestamp timestamptz DEFAULT NULL,
        continuation_token text DEFAULT NULL, max_fragments integer DEFAULT 10,
        wait interval DEFAULT '0')
    RETURNS SETOF kinesis_video.chunk
    LANGUAGE plpgsql VOLATILE ROWS 10 SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams := kinesis_video._get_readable(get_media.stream_name);
    after bigint := 0;
    ts_col text;
    deadline timestamptz;
    seen bigint;
    q text;
BEGIN
    IF max_fragments IS NULL OR max_fragments NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'InvalidArgumentException: max_fragments must be between 1 and 1000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF wait IS NULL OR wait < interval '0' OR wait > interval '1 hour' THEN
        RAISE EXCEPTION 'InvalidArgumentException: wait must be between 0 and 1 hour'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF wait > interval '0' AND current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'InvalidArgumentException: a waiting get_media needs the READ COMMITTED isolation level'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Under a transaction snapshot, fragments committed during the wait would stay invisible.';
    END IF;
    IF start_selector_type IS NULL OR start_selector_type NOT IN
       ('NOW', 'EARLIEST', 'FRAGMENT_NUMBER', 'SERVER_TIMESTAMP', 'PRODUCER_TIMESTAMP', 'CONTINUATION_TOKEN') THEN
        RAISE EXCEPTION 'InvalidArgumentException: start selector type must be one of NOW, EARLIEST, FRAGMENT_NUMBER, SERVER_TIMESTAMP, PRODUCER_TIMESTAMP, CONTINUATION_TOKEN'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (start_selector_type = 'FRAGMENT_NUMBER') <> (after_fragment_number IS NOT NULL)
       OR (start_selector_type IN ('SERVER_TIMESTAMP', 'PRODUCER_TIMESTAMP')) <> (start_timestamp IS NOT NULL)
       OR (start_selector_type = 'CONTINUATION_TOKEN') <> (continuation_token IS NOT NULL) THEN
        RAISE EXCEPTION 'InvalidArgumentException: start selector % takes %', start_selector_type,
                CASE start_selector_type WHEN 'FRAGMENT_NUMBER' THEN 'after_fragment_number and nothing else'
                     WHEN 'CONTINUATION_TOKEN' THEN 'continuation_token and nothing else'
                     WHEN 'SERVER_TIMESTAMP' THEN 'start_timestamp and nothing else'
                     WHEN 'PRODUCER_TIMESTAMP' THEN 'start_timestamp and nothing else'
                     ELSE 'no start position' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF start_selector_type = 'NOW' THEN
        EXECUTE format('SELECT coalesce(max(fragment_number) - 1, 0) FROM (SELECT fragment_number FROM %s '
                       'WHERE server_timestamp >= $1 ORDER BY server_timestamp DESC LIMIT 1) x', s.media_table)
           INTO after USING kinesis_video._horizon(s);
    ELSIF start_selector_type = 'FRAGMENT_NUMBER' THEN
        after := after_fragment_number;
    ELSIF start_selector_type = 'CONTINUATION_TOKEN' THEN
        after := kinesis_video._parse_token(s, continuation_token);
    ELSIF start_selector_type IN ('SERVER_TIMESTAMP', 'PRODUCER_TIMESTAMP') THEN
        ts_col := kinesis_video._ts_column(start_selector_type, 'start selector type');
    END IF;

    -- fragments after "after" (and, for a timestamp selector, ending after
    -- start_timestamp: since timestamps grow with fragment numbers, the
    -- first such fragment contains start_timestamp or follows it)
    q := format($q$
        SELECT fragment_number, producer_timestamp, server_timestamp, fragment_length_in_milliseconds,
               fragment_size_in_bytes, fragment_metadata, media,
               kinesis_video._token($5, fragment_number),
               (extract(epoch FROM clock_timestamp() - server_timestamp) * 1000)::bigint
          FROM (SELECT x.*, sum(fragment_size_in_bytes) OVER (ORDER BY fragment_number) AS upto
                  FROM (SELECT * FROM %1$s m
                         WHERE m.fragment_number > $1 AND m.server_timestamp >= $2
                           %2$s
                         ORDER BY m.fragment_number LIMIT $4) x) y
         WHERE upto - fragment_size_in_bytes < 25 * 1024 * 1024
         ORDER BY fragment_number $q$,
        s.media_table,
        CASE WHEN ts_col IS NULL THEN ''
             ELSE format('AND m.%1$I > $3 - interval ''20 seconds'' '
                         'AND m.%1$I + m.fragment_length_in_milliseconds * interval ''1 millisecond'' > $3', ts_col)
        END);
    deadline := clock_timestamp() + wait;
    LOOP
        seen := kinesis_video._commit_count(s.stream_id);
        RETURN QUERY EXECUTE q USING after, kinesis_video._horizon(s), start_timestamp, max_fragments, s.stream_arn;
        IF FOUND OR clock_timestamp() >= deadline THEN
            RETURN;
        END IF;
        PERFORM kinesis_video._wait_for_commit(s.stream_id, seen,
                    greatest(1, ceil(extract(epoch FROM deadline - clock_timestamp()) * 1000))::integer);
    END LOOP;
END
$$;

-- ListFragments: fragment metadata whose start timestamp (server or
-- producer) lies in [start_timestamp, end_timestamp] (NULL: unbounded), in
-- fragment-number order (KVS promises no order; this one does); page with
-- after_fragment_number = the last fragment_number of the previous page.
CREATE FUNCTION kinesis_video.list_fragments(stream_name text,
        fragment_selector_type text DEFAULT 'SERVER_TIMESTAMP',
        start_timestamp timestamptz DEFAULT NULL, end_timestamp timestamptz DEFAULT NULL,
        max_results integer DEFAULT 1000, after_fragment_number bigint DEFAULT NULL)
    RETURNS TABLE (fragment_number bigint, fragment_size_in_bytes integer, producer_timestamp timestamptz,
                   server_timestamp timestamptz, fragment_length_in_milliseconds integer)
    LANGUAGE plpgsql VOLATILE ROWS 1000 SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams := kinesis_video._get_readable(list_fragments.stream_name);
    ts_col text := kinesis_video._ts_column(fragment_selector_type, 'fragment selector type');
BEGIN
    IF max_results IS NULL OR max_results NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'InvalidArgumentException: max_results must be between 1 and 1000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF start_timestamp > end_timestamp THEN
        RAISE EXCEPTION 'InvalidArgumentException: start timestamp must not be after end timestamp'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT fragment_number, fragment_size_in_bytes, producer_timestamp, server_timestamp, '
        'fragment_length_in_milliseconds FROM %s WHERE server_timestamp >= $1 '
        'AND ($2::timestamptz IS NULL OR %I >= $2) AND ($3::timestamptz IS NULL OR %I <= $3) '
        'AND fragment_number > coalesce($4, 0) ORDER BY fragment_number LIMIT $5',
        s.media_table, ts_col, ts_col)
        USING kinesis_video._horizon(s), start_timestamp, end_timestamp, after_fragment_number, max_results;
END
$$;

-- GetMediaForFragmentList: the chunks of these fragments (1 to 1,000), in
-- the order asked.  ResourceNotFoundException names a fragment that does
-- not exist (or has expired).
CREATE FUNCTION kinesis_video.get_media_for_fragment_list(stream_name text, fragments bigint[])
    RETURNS SETOF kinesis_video.chunk
    LANGUAGE plpgsql VOLATILE ROWS 100 SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams := kinesis_video._get_readable(get_media_for_fragment_list.stream_name);
    missing bigint;
BEGIN
    IF fragments IS NULL OR cardinality(fragments) NOT BETWEEN 1 AND 1000 OR array_position(fragments, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'InvalidArgumentException: the fragment list must have 1 to 1000 fragment numbers, none null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('SELECT f FROM unnest($1) f WHERE NOT EXISTS (SELECT 1 FROM %s m '
                   'WHERE m.fragment_number = f AND m.server_timestamp >= $2) LIMIT 1', s.media_table)
       INTO missing USING fragments, kinesis_video._horizon(s);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'ResourceNotFoundException: fragment % of video stream "%" does not exist', missing, s.stream_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'It may have expired with the data retention; see kinesis_video.list_fragments().';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT m.fragment_number, m.producer_timestamp, m.server_timestamp, m.fragment_length_in_milliseconds, '
        'm.fragment_size_in_bytes, m.fragment_metadata, m.media, kinesis_video._token($2, m.fragment_number), '
        '(extract(epoch FROM clock_timestamp() - m.server_timestamp) * 1000)::bigint '
        'FROM unnest($1) WITH ORDINALITY AS f(n, i) JOIN %s m ON m.fragment_number = f.n ORDER BY f.i',
        s.media_table) USING fragments, s.stream_arn;
END
$$;

-- NoDataRetentionException for archived-media calls on a buffer-only stream.
CREATE FUNCTION kinesis_video._require_retention(s kinesis_video.streams) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF s.data_retention_in_hours = 0 THEN
        RAISE EXCEPTION 'NoDataRetentionException: video stream "%" does not retain data', s.stream_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Clips and HLS playlists need a data retention above 0; see kinesis_video.update_data_retention().';
    END IF;
END
$$;

-- GetClip: the media of the fragments overlapping [start_timestamp,
-- end_timestamp) concatenated in order, as the producer sent them (no MP4
-- repackaging).  Limits: a range of at most 24 hours, at most 200
-- fragments and 100 MB.  With PRODUCER_TIMESTAMP, fragments with the same
-- producer timestamp count once (the first ingested wins).
CREATE FUNCTION kinesis_video.get_clip(stream_name text, fragment_selector_type text,
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
    sel := format('SELECT DISTINCT ON (%1$I) * FROM %2$s m WHERE m.server_timestamp >= $1 '
                  'AND m.%1$I > $2 - interval ''20 seconds'' AND m.%1$I < $3 '
                  'AND m.%1$I + m.fragment_length_in_milliseconds * interval ''1 millisecond'' > $2 '
                  'ORDER BY %1$I, fragment_number', ts_col, s.media_table);
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

-- ---- src/video/video_hls.sql
-- HLS media playlists of video streams (src/video): the text of an .m3u8
-- media playlist whose segment URIs are
--     <base_url><stream name>/<fragment number>.<mp4|ts>
-- which a small HTTP front end serves with
--     SELECT media FROM kinesis_video.get_media_for_fragment_list(<stream>, ARRAY[<number>])
-- (stream names are [a-zA-Z0-9_.-], safe in a URL path).  The media is the
-- fragment as the producer sent it; this extension does not repackage it.
--
-- Sessions are stateless: LIVE_REPLAY paces itself from session_start,
-- which the front end keeps in its playlist URL.
--
-- Locking: as for the other reads (video_read.sql).

CREATE FUNCTION kinesis_video.get_hls_playlist(stream_name text,
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
        sel := format('SELECT * FROM (SELECT DISTINCT ON (%1$I) * FROM %2$s m WHERE m.server_timestamp >= $1 '
                      'AND m.%1$I >= $2 AND ($3::timestamptz IS NULL OR m.%1$I <= $3) '
                      'AND ($5::timestamptz IS NULL OR m.%1$I - $2 <= clock_timestamp() - $5) '
                      'ORDER BY %1$I, fragment_number DESC) x ORDER BY fragment_number LIMIT $4',
                      ts_col, s.media_table);
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

-- ---- src/video/video_processors.sql
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
    function_name regproc NOT NULL,
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
GRANT SELECT, INSERT, UPDATE, DELETE ON kinesis_video.stream_processors TO PUBLIC;
ALTER TABLE kinesis_video.stream_processor_failures ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON kinesis_video.stream_processor_failures FOR ALL
    USING (EXISTS (SELECT 1 FROM kinesis_video.stream_processors p
                    WHERE p.processor_id OPERATOR(pg_catalog.=) stream_processor_failures.processor_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, p.owner, 'USAGE')));
GRANT SELECT, INSERT ON kinesis_video.stream_processor_failures TO PUBLIC;

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
    IF must_own AND NOT pg_has_role(current_user, p.owner, 'USAGE') THEN
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
    INSERT INTO kinesis_video.stream_processors (name, stream_id, function_name, output_stream, owner, status,
                                                 last_fragment_number, maximum_retry_attempts)
         VALUES (name, s.stream_id, function_name, output_data_stream, current_user::regrole,
                 CASE WHEN start THEN 'RUNNING' ELSE 'STOPPED' END, pos, maximum_retry_attempts)
      RETURNING processor_id INTO id;
    RETURN id;
END
$$;

CREATE FUNCTION kinesis_video._set_processor_status(name text, new_status text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p kinesis_video.stream_processors := kinesis_video._get_processor(name, true, true);
BEGIN
    DELETE FROM kinesis_video.stream_processors WHERE processor_id = p.processor_id;
END
$$;

CREATE VIEW kinesis_video.stream_processor_status AS
    SELECT p.name, s.stream_name AS input_video_stream, p.function_name, p.output_stream, p.owner,
           p.status, p.last_fragment_number, p.fragments_processed, p.events_emitted, p.fragments_failed,
           p.failed_attempts, p.next_attempt_at, p.last_error, p.last_error_at,
           p.creation_timestamp, p.last_update_timestamp
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
            FOR ev IN EXECUTE format('SELECT e::jsonb FROM %s($1) AS e', p.function_name)
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

-- ---- src/glue/jobs.sql
-- Glue jobs (src/glue/jobs.sql): job definitions, their runs and the API
-- to create, change, start, stop and read them.  What a run does is in
-- job_runs.sql; the worker that executes it in src/glue/job_worker.c.
--
-- A job's command is SQL: a script (several statements allowed; named
-- arguments appear in it as :'name' (a quoted literal) and :"name" (a
-- quoted identifier), never as raw text), or a procedure, called as
-- CALL proc(arguments jsonb) or CALL proc() when it takes no argument.
-- Arguments are merged the Glue way: default_arguments, then the run's
-- arguments (replacing same-named defaults, except non-overridable ones),
-- then non_overridable_arguments.
--
-- A job belongs to the role that created it; only members of that role
-- see, change, start or stop it.  The worker runs each run as the owner in
-- a security-restricted context, so a job never has more rights than its
-- owner.  A run is one transaction: its output, its bookmarks and its
-- SUCCEEDED state commit together or not at all.
--
-- Run states: WAITING (queued behind max_concurrent_runs) -> STARTING
-- (waiting for a worker) -> RUNNING -> SUCCEEDED | FAILED | TIMEOUT |
-- STOPPED (STOPPING while a stop is delivered); ERROR when a trigger
-- could not start a job.  A FAILED run is retried as a new run (attempt + 1,
-- previous_run_id) while the job's max_retries allow.
--
-- Errors: EntityNotFoundException (42704), AlreadyExistsException (42710),
-- InvalidInputException (22023), ConcurrentRunsExceededException (54000),
-- AccessDeniedException (42501), ConcurrentModificationException (55006).
--
-- Locking: start, stop, update and delete lock the job row FOR NO KEY
-- UPDATE, so concurrent starts count the active runs one at a time.

CREATE TABLE glue.jobs (
    job_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name text NOT NULL UNIQUE,
    owner regrole NOT NULL,
    description text,
    script text,
    procedure regprocedure,
    default_arguments jsonb NOT NULL DEFAULT '{}',
    non_overridable_arguments jsonb NOT NULL DEFAULT '{}',
    max_concurrent_runs integer NOT NULL DEFAULT 1 CHECK (max_concurrent_runs BETWEEN 1 AND 1000),
    job_run_queuing boolean NOT NULL DEFAULT false,
    timeout interval NOT NULL DEFAULT '48 hours',
    max_retries integer NOT NULL DEFAULT 0 CHECK (max_retries BETWEEN 0 AND 10),
    version integer NOT NULL DEFAULT 1,
    created_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_modified_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    CHECK ((script IS NULL) <> (procedure IS NULL))
);

CREATE TABLE glue.job_runs (
    run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id integer NOT NULL REFERENCES glue.jobs ON DELETE CASCADE,
    attempt integer NOT NULL DEFAULT 0,
    previous_run_id bigint,
    trigger_name text,
    workflow_run_id bigint,
    state text NOT NULL DEFAULT 'STARTING'
        CHECK (state IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING', 'SUCCEEDED', 'FAILED', 'TIMEOUT',
                         'STOPPED', 'ERROR')),
    arguments jsonb NOT NULL DEFAULT '{}',       -- merged
    timeout interval NOT NULL,
    started_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    running_on timestamptz,
    completed_on timestamptz,
    last_modified_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    worker_pid integer,
    rows_affected bigint,
    error_message text,
    triggers_evaluated boolean NOT NULL DEFAULT false
);
CREATE INDEX ON glue.job_runs (job_id, run_id);
CREATE INDEX ON glue.job_runs (run_id) WHERE state IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING');
CREATE INDEX ON glue.job_runs (run_id) WHERE NOT triggers_evaluated;

-- Row-level security: jobs and runs hold scripts and arguments, so only
-- members of the owner (and superusers) see them.
ALTER TABLE glue.jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.jobs FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT, INSERT, DELETE ON glue.jobs TO PUBLIC;
GRANT UPDATE (description, script, procedure, default_arguments, non_overridable_arguments, max_concurrent_runs,
              job_run_queuing, timeout, max_retries, version, last_modified_on) ON glue.jobs TO PUBLIC;
ALTER TABLE glue.job_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.job_runs FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.jobs j WHERE j.job_id OPERATOR(pg_catalog.=) job_runs.job_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, j.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.jobs j WHERE j.job_id OPERATOR(pg_catalog.=) job_runs.job_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, j.owner, 'USAGE')));
GRANT SELECT, INSERT ON glue.job_runs TO PUBLIC;
GRANT UPDATE (state, completed_on, last_modified_on, rows_affected, error_message) ON glue.job_runs TO PUBLIC;

CREATE FUNCTION glue._wake_at_commit() RETURNS void
    LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_wake_at_commit';

CREATE TYPE glue.job_definition AS (name text, owner regrole, description text, script text,
        procedure regprocedure, default_arguments jsonb, non_overridable_arguments jsonb,
        max_concurrent_runs integer, job_run_queuing boolean, timeout interval, max_retries integer,
        version integer, created_on timestamptz, last_modified_on timestamptz);

CREATE TYPE glue.job_run AS (run_id bigint, job_name text, attempt integer, previous_run_id bigint,
        trigger_name text, workflow_run_id bigint, state text, arguments jsonb, started_on timestamptz,
        completed_on timestamptz, last_modified_on timestamptz, execution_time interval, timeout interval,
        rows_affected bigint, error_message text);

-- Helpers -------------------------------------------------------------------

CREATE FUNCTION glue._job_name(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF name IS NULL OR length(name) NOT BETWEEN 1 AND 255 OR name ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'InvalidInputException: job name must have 1 to 255 characters and no control characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN name;
END
$$;

-- The job row (visible only to members of its owner), optionally locked.
CREATE FUNCTION glue._job(name text, lock boolean DEFAULT false) RETURNS glue.jobs
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    j glue.jobs;
BEGIN
    IF lock THEN
        SELECT * INTO j FROM glue.jobs x WHERE x.job_name = name FOR NO KEY UPDATE;
    ELSE
        SELECT * INTO j FROM glue.jobs x WHERE x.job_name = name;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: job "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List your jobs with glue.list_jobs().';
    END IF;
    RETURN j;
END
$$;

-- Arguments: a JSON object of strings.
CREATE FUNCTION glue._check_arguments(what text, args jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF args IS NULL THEN
        RETURN '{}';
    END IF;
    IF jsonb_typeof(args) <> 'object'
       OR EXISTS (SELECT 1 FROM jsonb_each(args) e WHERE jsonb_typeof(e.value) <> 'string'
                                                     OR length(e.key) NOT BETWEEN 1 AND 255) THEN
        PERFORM glue._invalid(format('%s must be a JSON object of string values', what),
                              'For example {"--target_table": "daily_totals", "--job-bookmark-option": "job-bookmark-enable"}.');
    END IF;
    IF args ? '--job-bookmark-option'
       AND args ->> '--job-bookmark-option' NOT IN ('job-bookmark-enable', 'job-bookmark-disable', 'job-bookmark-pause') THEN
        PERFORM glue._invalid('--job-bookmark-option must be job-bookmark-enable, job-bookmark-disable or job-bookmark-pause');
    END IF;
    RETURN args;
END
$$;

-- Glue's merge: defaults, then run arguments except non-overridable keys,
-- then the non-overridable ones.
CREATE FUNCTION glue._merge_arguments(j glue.jobs, run_arguments jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).default_arguments
           || coalesce((SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each($2) e
                         WHERE NOT ($1).non_overridable_arguments ? e.key), '{}')
           || ($1).non_overridable_arguments
$$;

-- Check a job row; the procedure must be one its owner may execute.
CREATE FUNCTION glue._check_job(j glue.jobs) RETURNS glue.jobs
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
        SELECT * INTO p FROM pg_proc WHERE oid = j.procedure;
        IF p.prokind <> 'p' OR p.pronargs > 1 OR (p.pronargs = 1 AND p.proargtypes[0] <> 'jsonb'::regtype) THEN
            PERFORM glue._invalid(format('%s is not a procedure taking no argument or one jsonb argument', j.procedure));
        END IF;
        IF NOT has_function_privilege(j.owner::oid, j.procedure::oid, 'EXECUTE') THEN
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

CREATE FUNCTION glue._job_definition(j glue.jobs) RETURNS glue.job_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).job_name, ($1).owner, ($1).description, ($1).script, ($1).procedure, ($1).default_arguments,
           ($1).non_overridable_arguments, ($1).max_concurrent_runs, ($1).job_run_queuing, ($1).timeout,
           ($1).max_retries, ($1).version, ($1).created_on, ($1).last_modified_on
$$;

CREATE FUNCTION glue._job_run(r glue.job_runs) RETURNS glue.job_run
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).run_id, (SELECT j.job_name FROM glue.jobs j WHERE j.job_id = ($1).job_id), ($1).attempt,
           ($1).previous_run_id, ($1).trigger_name, ($1).workflow_run_id, ($1).state, ($1).arguments,
           ($1).started_on, ($1).completed_on, ($1).last_modified_on,
           CASE WHEN ($1).running_on IS NOT NULL
                THEN date_trunc('milliseconds', coalesce(($1).completed_on, clock_timestamp()) - ($1).running_on) END,
           ($1).timeout, ($1).rows_affected, ($1).error_message
$$;

-- API: jobs -------------------------------------------------------------------

CREATE FUNCTION glue.create_job(name text, script text DEFAULT NULL, procedure regprocedure DEFAULT NULL,
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
    j.procedure := procedure;
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

CREATE FUNCTION glue.get_job(name text) RETURNS SETOF glue.job_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue._job($1) j CROSS JOIN LATERAL glue._job_definition(j) d
$$;

CREATE FUNCTION glue.get_jobs() RETURNS SETOF glue.job_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue.jobs j CROSS JOIN LATERAL glue._job_definition(j) d ORDER BY j.job_name COLLATE "C"
$$;

CREATE FUNCTION glue.list_jobs() RETURNS SETOF text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT job_name FROM glue.jobs ORDER BY job_name COLLATE "C"
$$;

-- Change a job (NULL leaves a setting; description '' clears it; a new
-- script replaces the procedure and the other way round).  Runs in flight
-- keep the definition they started with.
CREATE FUNCTION glue.update_job(name text, script text DEFAULT NULL, procedure regprocedure DEFAULT NULL,
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
        j.procedure := procedure;
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

-- Delete a job with no run in flight, with its history and bookmarks.
CREATE FUNCTION glue.delete_job(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    j glue.jobs := glue._job(name, true);
BEGIN
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

-- API: runs -----------------------------------------------------------------

-- Insert a run of job j (locked by the caller): STARTING, or WAITING when
-- max_concurrent_runs are active and the job queues runs.
CREATE FUNCTION glue._start_run(j glue.jobs, arguments jsonb, timeout interval, trigger_name text,
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

-- Start a run; returns its id at once.  job_run_id retries that earlier
-- run (same arguments unless new ones are given, attempt + 1).
CREATE FUNCTION glue.start_job_run(job_name text, arguments jsonb DEFAULT '{}', timeout interval DEFAULT NULL,
        job_run_id bigint DEFAULT NULL)
    RETURNS bigint LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Stop runs: queued or not yet started ones end as STOPPED at once; a
-- RUNNING one becomes STOPPING and the worker cancels it (its work rolls
-- back, bookmarks stay where they were).
CREATE FUNCTION glue.batch_stop_job_run(job_name text, job_run_ids bigint[])
    RETURNS TABLE (run_id bigint, state text, error_message text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

CREATE FUNCTION glue.stop_job_run(job_name text, job_run_id bigint) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s record;
BEGIN
    SELECT * INTO s FROM glue.batch_stop_job_run(job_name, ARRAY[job_run_id]);
    IF s.error_message LIKE 'EntityNotFoundException%' THEN
        RAISE EXCEPTION 'EntityNotFoundException: job "%" has no run %', job_name, job_run_id
            USING ERRCODE = 'undefined_object';
    ELSIF s.error_message IS NOT NULL THEN
        RAISE EXCEPTION 'InvalidInputException: run % of job "%" is %, not running', job_run_id, job_name, s.state
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN s.state;
END
$$;

CREATE FUNCTION glue.get_job_run(job_name text, run_id bigint) RETURNS SETOF glue.job_run
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    j glue.jobs := glue._job(job_name);
BEGIN
    RETURN QUERY SELECT d.* FROM glue.job_runs r CROSS JOIN LATERAL glue._job_run(r) d
                  WHERE r.job_id = j.job_id AND r.run_id = get_job_run.run_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: job "%" has no run %', j.job_name, run_id
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;

-- Runs of a job, newest first.
CREATE FUNCTION glue.get_job_runs(job_name text, max_results integer DEFAULT 100) RETURNS SETOF glue.job_run
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue._job($1) j JOIN glue.job_runs r ON r.job_id = j.job_id CROSS JOIN LATERAL glue._job_run(r) d
     ORDER BY r.run_id DESC LIMIT greatest(max_results, 0)
$$;

-- Synchronous run: start it, commit, and wait until it ends.  A procedure
-- (CALL glue.run_job(...)), since the worker sees the run only once the
-- start is committed; called inside a transaction block it cannot wait.
CREATE PROCEDURE glue.run_job(job_name text, arguments jsonb DEFAULT '{}', timeout interval DEFAULT NULL,
        INOUT run_id bigint DEFAULT NULL, INOUT state text DEFAULT NULL, INOUT error_message text DEFAULT NULL)
    LANGUAGE plpgsql AS
$$
BEGIN
    run_id := glue.start_job_run(job_name, arguments, timeout);
    COMMIT;
    LOOP
        SELECT r.state, r.error_message INTO state, error_message FROM glue.job_runs r WHERE r.run_id = run_job.run_id;
        EXIT WHEN state IS NULL OR state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING');
        COMMIT;                                         -- a new snapshot for the next look
        PERFORM pg_catalog.pg_sleep(0.05);
    END LOOP;
END
$$;

-- ---- src/glue/job_runs.sql
-- Glue job runs (src/glue/job_runs.sql): what the job worker
-- (src/glue/job_worker.c) executes, how a run ends, retries, the
-- supervisor's round, and the functions a job script calls: its arguments
-- and its bookmarks.
--
-- A run is one transaction, executed as the job's owner in a
-- security-restricted context: glue._job_run_body runs the script or the
-- procedure and marks the run SUCCEEDED in that same transaction.  When it
-- raises (an error, a stop, the timeout), everything it did rolls back,
-- bookmarks included, and glue._job_run_end records the outcome.
--
-- Bookmarks (glue.job_bookmarks): per job and source.  A stream source is
-- read through a named consumer of the job ("glue-job-<job id>"), whose
-- checkpoint moves in the run's transaction (kinesis.consume); a table
-- source keeps the high-water mark of a monotonic column, a catalog file
-- table the latest modification time of the files processed.  The option is
-- the --job-bookmark-option argument: job-bookmark-enable (read what is
-- new, advance), job-bookmark-disable (read everything, keep no state),
-- job-bookmark-pause (read what is new, do not advance).
--
-- Locking: a run holds its job_bookmarks rows FOR UPDATE to its end, so
-- two runs of one job never read the same table range; stream shards are
-- leased by kinesis.consume.

CREATE TABLE glue.job_bookmarks (
    job_id integer NOT NULL REFERENCES glue.jobs ON DELETE CASCADE,
    source text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('stream', 'table', 'files')),
    high_water text,                       -- table: the last key value processed; files: the last mtime
    previous_high_water text,              -- the one before the last run
    run_id bigint,                         -- the run that last moved it
    updated_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (job_id, source)
);
ALTER TABLE glue.job_bookmarks ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.job_bookmarks FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.jobs j WHERE j.job_id OPERATOR(pg_catalog.=) job_bookmarks.job_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, j.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.jobs j WHERE j.job_id OPERATOR(pg_catalog.=) job_bookmarks.job_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, j.owner, 'USAGE')));
GRANT SELECT, INSERT, UPDATE, DELETE ON glue.job_bookmarks TO PUBLIC;

-- The run executing in this session (set by glue._job_run_body), checked
-- to be this backend's own RUNNING run.
CREATE FUNCTION glue._current_run() RETURNS glue.job_runs
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs;
BEGIN
    SELECT * INTO r FROM glue.job_runs x
     WHERE x.run_id = nullif(current_setting('glue_job.run_id', true), '')::bigint
       AND x.worker_pid = pg_backend_pid() AND x.state IN ('RUNNING', 'STOPPING');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'InvalidInputException: this function works only inside a job run'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Call it from the script or procedure of a Glue job, run by glue.start_job_run().';
    END IF;
    RETURN r;
END
$$;

-- Glue's getResolvedOptions: the run's merged arguments.
CREATE FUNCTION glue.get_resolved_options() RETURNS jsonb
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT (glue._current_run()).arguments
$$;

-- One argument, by name with or without the leading "--".
CREATE FUNCTION glue.job_argument(name text) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce(a ->> $1, a ->> ('--' || $1)) FROM glue.get_resolved_options() a
$$;

-- The id of the run executing this script.
CREATE FUNCTION glue.job_run_id() RETURNS bigint
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT (glue._current_run()).run_id
$$;

CREATE FUNCTION glue._bookmark_option(r glue.job_runs) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce(($1).arguments ->> '--job-bookmark-option', 'job-bookmark-disable')
$$;

-- A script with its :'name' and :"name" references replaced by the quoted
-- argument (name with or without "--"); an unknown name is an error.
CREATE FUNCTION glue._substitute(script text, args jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    out text := '';
    m text[];
    v text;
BEGIN
    LOOP
        m := regexp_match(script, '^(.*?):(''([A-Za-z_][A-Za-z0-9_.-]*)''|"([A-Za-z_][A-Za-z0-9_.-]*)")(.*)$', 's');
        EXIT WHEN m IS NULL;
        v := coalesce(args ->> coalesce(m[3], m[4]), args ->> ('--' || coalesce(m[3], m[4])));
        IF v IS NULL THEN
            RAISE EXCEPTION 'InvalidInputException: the job script uses argument "%", which the run does not have',
                            coalesce(m[3], m[4])
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give it in default_arguments or in the run''s arguments.';
        END IF;
        out := out || m[1] || CASE WHEN m[3] IS NOT NULL THEN quote_literal(v) ELSE quote_ident(v) END;
        script := m[5];
    END LOOP;
    RETURN out || script;
END
$$;

-- The run itself (called by the job worker as the job's owner).  Returns
-- the rows affected (of the script's last statement).
CREATE FUNCTION glue._job_run_body(run_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs;
    j glue.jobs;
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
    -- the script sees the owner's usual search path (or --search_path)
    PERFORM set_config('search_path', coalesce(r.arguments ->> '--search_path', '"$user", public'), true);
    IF j.script IS NOT NULL THEN
        EXECUTE glue._substitute(j.script, r.arguments);
        GET DIAGNOSTICS n = ROW_COUNT;
    ELSIF (SELECT p.pronargs FROM pg_proc p WHERE p.oid = j.procedure) = 1 THEN
        EXECUTE format('CALL %I.%I($1)', (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = j.procedure),
                       (SELECT p.proname FROM pg_proc p WHERE p.oid = j.procedure))
            USING r.arguments;
    ELSE
        EXECUTE format('CALL %I.%I()', (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = j.procedure),
                       (SELECT p.proname FROM pg_proc p WHERE p.oid = j.procedure));
    END IF;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    UPDATE glue.job_runs x SET state = 'SUCCEEDED', completed_on = clock_timestamp(), last_modified_on = clock_timestamp(),
           rows_affected = n
     WHERE x.run_id = r.run_id;
    RETURN n;
END
$$;

-- A FAILED run is retried as a new run while the job's max_retries allow.
CREATE FUNCTION glue._job_run_retry(r glue.job_runs) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    j glue.jobs;
BEGIN
    SELECT * INTO j FROM glue.jobs x WHERE x.job_id = r.job_id FOR NO KEY UPDATE;
    IF FOUND AND r.state = 'FAILED' AND r.attempt < j.max_retries THEN
        INSERT INTO glue.job_runs (job_id, attempt, previous_run_id, trigger_name, workflow_run_id, state, arguments, timeout)
        VALUES (r.job_id, r.attempt + 1, r.run_id, r.trigger_name, r.workflow_run_id, 'STARTING', r.arguments, r.timeout);
    END IF;
END
$$;

-- How a run that raised ends (called by the job worker, as the extension
-- owner): STOPPED when a stop was asked, TIMEOUT when it was cancelled at
-- its timeout, else FAILED (and retried).
CREATE FUNCTION glue._job_run_end(run_id bigint, cancelled boolean, error text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs;
BEGIN
    SELECT * INTO r FROM glue.job_runs x WHERE x.run_id = _job_run_end.run_id FOR UPDATE;
    IF NOT FOUND OR r.state NOT IN ('RUNNING', 'STOPPING') THEN
        RETURN r.state;
    END IF;
    r.state := CASE WHEN r.state = 'STOPPING' THEN 'STOPPED'
                    WHEN cancelled AND clock_timestamp() >= r.running_on + r.timeout - interval '50 ms' THEN 'TIMEOUT'
                    ELSE 'FAILED' END;
    UPDATE glue.job_runs x SET state = r.state, completed_on = clock_timestamp(), last_modified_on = clock_timestamp(),
           error_message = CASE r.state WHEN 'STOPPED' THEN 'the run was stopped'
                                        WHEN 'TIMEOUT' THEN format('the run exceeded its timeout of %s', r.timeout)
                                        ELSE error END
     WHERE x.run_id = r.run_id;
    PERFORM glue._job_run_retry(r);
    RETURN r.state;
END
$$;

-- One round of the supervisor (the database worker, as the extension
-- owner).  Fails runs interrupted by a crash or a dead worker (and retries
-- them), releases queued runs, expires history, evaluates conditional
-- triggers, and returns what the worker must do: ('cancel', run, pid) for
-- runs to stop or past their timeout, ('launch', run, NULL) for runs that
-- wait for a worker, oldest first.
CREATE FUNCTION glue._job_supervise(retention_seconds integer)
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
        SELECT 'cancel', x.run_id, x.worker_pid FROM glue.job_runs x
         WHERE x.worker_pid IS NOT NULL
           AND (x.state = 'STOPPING' OR (x.state = 'RUNNING' AND clock_timestamp() > x.running_on + x.timeout + interval '1 second'))
           AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = x.worker_pid AND a.backend_type = 'kinesis_glue job')
        UNION ALL
        SELECT * FROM (SELECT 'launch', x.run_id, NULL::integer FROM glue.job_runs x
                        WHERE x.state = 'STARTING' AND x.worker_pid IS NULL ORDER BY x.run_id) l;
END
$$;

-- Placeholder until conditional triggers (triggers.sql) replace it: mark
-- ended runs as evaluated.
CREATE FUNCTION glue._evaluate_conditions() RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    UPDATE glue.job_runs SET triggers_evaluated = true
     WHERE NOT triggers_evaluated AND state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING')
$$;

-- Bookmarks ------------------------------------------------------------------

-- Records of a stream for this run.  With job-bookmark-enable, the records
-- after the job's checkpoint, which moves in the run's transaction (so a
-- run that fails or is stopped leaves it where it was); with
-- job-bookmark-pause, the same records without moving it; with
-- job-bookmark-disable, every record the stream still holds.
CREATE FUNCTION glue.bookmark_records(stream_name text, max_records integer DEFAULT NULL)
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
    after bigint;
BEGIN
    IF opt = 'job-bookmark-disable' THEN
        FOR s IN SELECT * FROM kinesis.list_shards(stream_name) ORDER BY shard_id LOOP
            after := NULL;
            LOOP
                RETURN QUERY SELECT * FROM kinesis.read_shard(stream_name, s.shard_id, after, 10000);
                GET DIAGNOSTICS n = ROW_COUNT;
                EXIT WHEN n = 0;
                SELECT max(x.sequence_number) INTO after FROM kinesis.read_shard(stream_name, s.shard_id, after, 10000) x;
            END LOOP;
        END LOOP;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM kinesis.list_stream_consumers(stream_name) c WHERE c.consumer_name = consumer) THEN
        PERFORM kinesis.register_stream_consumer(stream_name, consumer, 'TRIM_HORIZON');
    END IF;
    INSERT INTO glue.job_bookmarks AS b (job_id, source, kind, run_id)
    VALUES (r.job_id, 'stream:' || stream_name, 'stream', r.run_id)
    ON CONFLICT (job_id, source) DO UPDATE SET run_id = CASE WHEN opt = 'job-bookmark-enable' THEN r.run_id ELSE b.run_id END,
                                              updated_on = CASE WHEN opt = 'job-bookmark-enable' THEN clock_timestamp() ELSE b.updated_on END;
    IF opt = 'job-bookmark-pause' THEN
        FOR s IN SELECT p.shard_id, p.checkpoint_sequence_number FROM kinesis.consumer_positions p
                  WHERE p.stream_name = bookmark_records.stream_name AND p.consumer_name = consumer ORDER BY p.shard_id LOOP
            -- a checkpoint may be a position marker (counter, shard bits
            -- all ones): "after every record up to that counter"; read_shard
            -- wants a sequence number of this shard
            after := CASE WHEN (s.checkpoint_sequence_number & 65535) <> 65535 THEN s.checkpoint_sequence_number
                          WHEN s.checkpoint_sequence_number >> 16 > 0
                          THEN ((s.checkpoint_sequence_number >> 16) << 16) | substr(s.shard_id, 9)::bigint END;
            LOOP
                RETURN QUERY SELECT * FROM kinesis.read_shard(stream_name, s.shard_id, after, 10000);
                GET DIAGNOSTICS n = ROW_COUNT;
                EXIT WHEN n = 0;
                SELECT max(x.sequence_number) INTO after FROM kinesis.read_shard(stream_name, s.shard_id, after, 10000) x;
            END LOOP;
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

-- The range of a monotonic key column of a table this run processes:
-- (after_value, up_to_value].  after_value is NULL on the first run (and
-- always with job-bookmark-disable); up_to_value is the column's maximum
-- when the run first asks.  With job-bookmark-enable the bookmark moves to
-- up_to_value in the run's transaction.  typ gives the column's type:
--   FROM glue.bookmark_range('public.orders', 'order_id', NULL::bigint) b,
--        public.orders o
--  WHERE (b.after_value IS NULL OR o.order_id > b.after_value) AND o.order_id <= b.up_to_value
CREATE FUNCTION glue.bookmark_range(source regclass, key_column text, typ anyelement,
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
    SELECT * INTO b FROM glue.job_bookmarks x WHERE x.job_id = r.job_id AND x.source = src FOR UPDATE;
    IF FOUND AND b.run_id = r.run_id THEN               -- asked before in this run
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
            INSERT INTO glue.job_bookmarks AS x (job_id, source, kind, high_water, previous_high_water, run_id)
            VALUES (r.job_id, src, 'table', hi, lo, r.run_id)
            ON CONFLICT (job_id, source) DO UPDATE SET high_water = hi, previous_high_water = lo, run_id = r.run_id,
                                                      updated_on = clock_timestamp();
        END IF;
    END IF;
    EXECUTE format('SELECT $1::%s, $2::%s', pg_typeof(typ), pg_typeof(typ)) INTO after_value, up_to_value USING lo, hi;
END
$$;

-- The files of a Glue catalog file table (its location, a server
-- directory) this run processes: with job-bookmark-enable or -pause,
-- those modified after the bookmark; files modified within the last
-- second are left for the next run (they may still be written).  With
-- job-bookmark-enable the bookmark moves to the newest mtime returned, in
-- the run's transaction.  Listing needs pg_read_server_files.
CREATE FUNCTION glue.bookmark_files(database_name text, table_name text)
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
    IF NOT pg_has_role(current_user, 'pg_read_server_files', 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied to read server files'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The job''s owner %s lacks the privileges of the pg_read_server_files role.', current_user),
                  HINT = format('GRANT pg_read_server_files TO %s.', current_user);
    END IF;
    SELECT * INTO b FROM glue.job_bookmarks x WHERE x.job_id = r.job_id AND x.source = src FOR UPDATE;
    IF FOUND AND b.run_id = r.run_id THEN               -- asked before in this run
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
        INSERT INTO glue.job_bookmarks AS x (job_id, source, kind, high_water, previous_high_water, run_id)
        VALUES (r.job_id, src, 'files', coalesce(hi, lo)::text, lo::text, r.run_id)
        ON CONFLICT (job_id, source) DO UPDATE SET high_water = coalesce(hi, lo)::text, previous_high_water = lo::text,
                                                  run_id = r.run_id, updated_on = clock_timestamp();
    END IF;
END
$$;

-- Glue's GetJobBookmark: the job's bookmarks (stream checkpoints per shard).
CREATE FUNCTION glue.get_job_bookmark(job_name text)
    RETURNS TABLE (source text, kind text, high_water text, run_id bigint, updated_on timestamptz, shards jsonb)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT b.source, b.kind, b.high_water, b.run_id, b.updated_on,
           CASE WHEN b.kind = 'stream' THEN
               (SELECT jsonb_object_agg(p.shard_id, p.checkpoint_sequence_number ORDER BY p.shard_id)
                  FROM kinesis.consumer_shards cs JOIN kinesis.consumers c USING (consumer_id)
                  JOIN kinesis.streams s USING (stream_id)
                  CROSS JOIN LATERAL (SELECT 'shardId-' || lpad(cs.shard_index::text, 12, '0') AS shard_id,
                                             cs.checkpoint AS checkpoint_sequence_number) p
                 WHERE c.consumer_name = 'glue-job-' || j.job_id AND 'stream:' || s.stream_name = b.source) END
      FROM glue._job($1) j JOIN glue.job_bookmarks b ON b.job_id = j.job_id
     ORDER BY b.source
$$;

-- Forget a job's bookmarks: the next run reads every source from the start.
CREATE FUNCTION glue.reset_job_bookmark(job_name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Internal steps the database worker runs as the extension owner.
REVOKE ALL ON FUNCTION glue._job_run_end(bigint, boolean, text), glue._job_supervise(integer),
    glue._job_run_retry(glue.job_runs), glue._evaluate_conditions() FROM PUBLIC;

-- ---- src/glue/triggers.sql
-- Glue triggers (src/glue/triggers.sql): what starts jobs and crawlers.
--
--   ON_DEMAND    fired by glue.start_trigger
--   SCHEDULED    a cron expression; the schedule is a pg_cron job ("glue
--                trigger: <name>") created, changed and removed with the
--                trigger, run as the trigger's owner
--   CONDITIONAL  a predicate {"logical": "AND" | "ANY", "conditions":
--                [{"job_name", "state"} | {"crawler_name", "crawl_state"}]},
--                evaluated by the database worker when a watched run or
--                crawl ends
--   EVENT        {"stream_name", "batch_size", "batch_window"}: fires when
--                batch_size new records are in the stream, or batch_window
--                seconds after the first of fewer arrived
-- Actions: [{"job_name", "arguments", "timeout"} | {"crawler_name"}].
--
-- A trigger belongs to the role that created it, which must be a member of
-- the owners of the jobs and crawlers it starts (checked when it is
-- created or changed, and again when it fires).  SCHEDULED, CONDITIONAL and
-- EVENT triggers act only while ACTIVATED (start_trigger / stop_trigger,
-- or start_on_creation).
--
-- Errors: EntityNotFoundException (42704), AlreadyExistsException (42710),
-- InvalidInputException (22023), AccessDeniedException (42501).

CREATE TABLE glue.triggers (
    trigger_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger_name text NOT NULL UNIQUE,
    owner regrole NOT NULL,
    trigger_type text NOT NULL CHECK (trigger_type IN ('ON_DEMAND', 'SCHEDULED', 'CONDITIONAL', 'EVENT')),
    state text NOT NULL DEFAULT 'CREATED' CHECK (state IN ('CREATED', 'ACTIVATED', 'DEACTIVATED')),
    workflow_name text,
    schedule text,
    predicate jsonb,
    event_batching_condition jsonb,
    actions jsonb NOT NULL,
    description text,
    event_pending_since timestamptz,
    last_fired timestamptz,
    created_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
-- Crawls whose end the conditional triggers have seen.
CREATE TABLE glue.trigger_seen_crawls (crawl_id bigint PRIMARY KEY);

ALTER TABLE glue.triggers ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.triggers FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT, INSERT, DELETE ON glue.triggers TO PUBLIC;
GRANT UPDATE (state, schedule, predicate, event_batching_condition, actions, description, last_fired)
    ON glue.triggers TO PUBLIC;

CREATE TYPE glue.trigger_definition AS (name text, workflow_name text, trigger_type text, state text,
        owner regrole, schedule text, predicate jsonb, event_batching_condition jsonb, actions jsonb,
        description text, last_fired timestamptz);

CREATE FUNCTION glue._trigger(name text, lock boolean DEFAULT false) RETURNS glue.triggers
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.triggers;
BEGIN
    IF lock THEN
        SELECT * INTO t FROM glue.triggers x WHERE x.trigger_name = name FOR UPDATE;
    ELSE
        SELECT * INTO t FROM glue.triggers x WHERE x.trigger_name = name;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: trigger "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List your triggers with glue.list_triggers().';
    END IF;
    RETURN t;
END
$$;

-- Check a trigger row: its type's settings, its actions, and that its
-- owner may start what they name.
CREATE FUNCTION glue._check_trigger(t glue.triggers) RETURNS glue.triggers
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
           OR (t.event_batching_condition ->> 'batch_size')::numeric NOT BETWEEN 1 AND 1000000
           OR (t.event_batching_condition ? 'batch_window'
               AND (jsonb_typeof(t.event_batching_condition -> 'batch_window') <> 'number'
                    OR (t.event_batching_condition ->> 'batch_window')::numeric NOT BETWEEN 1 AND 900)) THEN
            PERFORM glue._invalid('an event_batching_condition is {"stream_name": "...", "batch_size": 1-1000000, "batch_window": 1-900 seconds}');
        END IF;
        PERFORM kinesis.describe_stream_summary(t.event_batching_condition ->> 'stream_name');
    END IF;
    IF jsonb_typeof(t.actions) IS DISTINCT FROM 'array' OR jsonb_array_length(t.actions) NOT BETWEEN 1 AND 50 THEN
        PERFORM glue._invalid('actions must be a JSON array of 1 to 50 actions',
                              'For example [{"job_name": "load", "arguments": {"--day": "today"}}, {"crawler_name": "lake"}].');
    END IF;
    FOR a IN SELECT x FROM jsonb_array_elements(t.actions) x LOOP
        IF a ? 'job_name' AND NOT a ? 'crawler_name' THEN
            SELECT j.owner INTO o FROM glue.jobs j WHERE j.job_name = a ->> 'job_name';
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

-- The database pg_cron lives in, when it is not this one (pg_cron loaded,
-- cron.database_name naming another database); NULL otherwise.
CREATE FUNCTION glue._remote_cron() RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d FROM (SELECT nullif(current_setting('cron.database_name', true), '') AS d) x
     WHERE d <> current_database() AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')
$$;

-- The pg_cron jobs wanted in that database, one line each:
-- jobname TAB schedule TAB command TAB username (src/glue/trigger_cron.c).
CREATE FUNCTION glue._cron_wanted() RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce(string_agg(format(E'%s\t%s\t%s\t%s\n', 'glue trigger: ' || t.trigger_name,
                                      glue._cron_expression(t.schedule),
                                      format('SELECT glue._fire_trigger(%L)', t.trigger_name),
                                      (SELECT r.rolname FROM pg_roles r WHERE r.oid = t.owner)),
                               '' ORDER BY t.trigger_name), '')
      FROM glue.triggers t
     WHERE t.trigger_type = 'SCHEDULED' AND t.state = 'ACTIVATED'
       AND t.trigger_name !~ '[\t\n]'                -- cannot travel in a line
$$;

-- Create, change or remove the pg_cron job of a SCHEDULED trigger (as its
-- owner).  Active only while the trigger is ACTIVATED.  With pg_cron in
-- another database, the database worker applies the change after commit.
CREATE FUNCTION glue._set_trigger_schedule(t glue.triggers) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    job text := 'glue trigger: ' || t.trigger_name;
    prev_role text := current_setting('role');
    wanted boolean := t.schedule IS NOT NULL AND t.state = 'ACTIVATED';
    owner_name text := (SELECT r.rolname FROM pg_roles r WHERE r.oid = t.owner);   -- unquoted
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF glue._remote_cron() IS NOT NULL THEN
            IF t.trigger_name ~ '[\t\n]' AND wanted THEN
                PERFORM glue._invalid('a scheduled trigger name cannot contain tabs or newlines');
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
    IF current_user <> owner_name THEN
        PERFORM set_config('role', owner_name, true);
    END IF;
    BEGIN
        IF NOT wanted THEN
            IF EXISTS (SELECT 1 FROM cron.job j WHERE j.jobname = job AND j.username = owner_name) THEN
                EXECUTE 'SELECT cron.unschedule($1)' USING job;
            END IF;
        ELSE
            EXECUTE 'SELECT cron.schedule($1, $2, $3)'
                USING job, glue._cron_expression(t.schedule), format('SELECT glue._fire_trigger(%L)', t.trigger_name);
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'AccessDeniedException: trigger owner % may not schedule jobs with pg_cron', t.owner
            USING ERRCODE = 'insufficient_privilege', DETAIL = SQLERRM,
                  HINT = format('GRANT USAGE ON SCHEMA cron TO %s.', t.owner);   -- regrole: quoted as SQL needs
    WHEN invalid_parameter_value OR data_exception OR internal_error THEN
        RAISE EXCEPTION 'InvalidInputException: schedule "%" is not a valid cron expression', t.schedule
            USING ERRCODE = 'invalid_parameter_value', DETAIL = SQLERRM,
                  HINT = 'Use five cron fields ("*/5 * * * *") or Glue''s cron(0/5 * * * ? *).';
    END;
    PERFORM set_config('role', prev_role, true);
END
$$;

-- Start the actions of trigger t: job runs (with the action's arguments and
-- timeout) and crawls.  An action that cannot start is reported as a
-- WARNING and does not keep the others from starting.
CREATE FUNCTION glue._run_actions(t glue.triggers, workflow_run_id bigint DEFAULT NULL) RETURNS integer
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

-- What pg_cron runs for a SCHEDULED trigger (as its owner).
CREATE FUNCTION glue._fire_trigger(name text) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- glue._new_workflow_run and glue._in_workflow_run are in workflows.sql.

-- API -------------------------------------------------------------------------

CREATE FUNCTION glue.create_trigger(name text, trigger_type text, actions jsonb, schedule text DEFAULT NULL,
        predicate jsonb DEFAULT NULL, event_batching_condition jsonb DEFAULT NULL, workflow_name text DEFAULT NULL,
        start_on_creation boolean DEFAULT false, description text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.triggers;
BEGIN
    t.trigger_name := name;
    t.owner := current_user::regrole;
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
                                   event_batching_condition, actions, description)
        VALUES (t.trigger_name, t.owner, t.trigger_type, t.state, t.workflow_name, t.schedule, t.predicate,
                t.event_batching_condition, t.actions, t.description)
        RETURNING * INTO t;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'AlreadyExistsException: trigger "%" already exists', t.trigger_name
            USING ERRCODE = 'duplicate_object';
    END;
    PERFORM glue._set_trigger_schedule(t);
    RETURN t.trigger_name;
END
$$;

CREATE FUNCTION glue._trigger_definition(t glue.triggers) RETURNS glue.trigger_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).trigger_name, ($1).workflow_name, ($1).trigger_type, ($1).state, ($1).owner, ($1).schedule,
           ($1).predicate, ($1).event_batching_condition, ($1).actions, ($1).description, ($1).last_fired
$$;

CREATE FUNCTION glue.get_trigger(name text) RETURNS SETOF glue.trigger_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue._trigger($1) t CROSS JOIN LATERAL glue._trigger_definition(t) d
$$;

CREATE FUNCTION glue.get_triggers() RETURNS SETOF glue.trigger_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue.triggers t CROSS JOIN LATERAL glue._trigger_definition(t) d ORDER BY t.trigger_name COLLATE "C"
$$;

CREATE FUNCTION glue.list_triggers() RETURNS SETOF text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT trigger_name FROM glue.triggers ORDER BY trigger_name COLLATE "C"
$$;

-- Change a trigger (NULL leaves a setting).
CREATE FUNCTION glue.update_trigger(name text, actions jsonb DEFAULT NULL, schedule text DEFAULT NULL,
        predicate jsonb DEFAULT NULL, event_batching_condition jsonb DEFAULT NULL, description text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

CREATE FUNCTION glue.delete_trigger(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.triggers := glue._trigger(name, true);
BEGIN
    t.state := 'DEACTIVATED';
    PERFORM glue._set_trigger_schedule(t);
    DELETE FROM glue.triggers x WHERE x.trigger_id = t.trigger_id;
    RETURN t.trigger_name;
END
$$;

-- ON_DEMAND: fire now (returns the actions started).  Other types:
-- activate (returns 0).
CREATE FUNCTION glue.start_trigger(name text) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.triggers := glue._trigger(name, true);
BEGIN
    IF t.trigger_type = 'ON_DEMAND' THEN
        RETURN glue._run_actions(t, CASE WHEN t.workflow_name IS NOT NULL THEN glue._new_workflow_run(t.workflow_name) END);
    END IF;
    UPDATE glue.triggers x SET state = 'ACTIVATED' WHERE x.trigger_id = t.trigger_id;
    t.state := 'ACTIVATED';
    PERFORM glue._set_trigger_schedule(t);
    RETURN 0;
END
$$;

CREATE FUNCTION glue.stop_trigger(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Evaluation (the database worker, as the extension owner) ---------------------

-- Does condition c hold, for the latest ended run of its job or crawl (in
-- workflow run w when there is one, else outside workflows, and ended
-- after the trigger last fired)?
CREATE FUNCTION glue._condition_holds(c jsonb, w bigint, since timestamptz) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT CASE WHEN $1 ? 'job_name' THEN
        (SELECT r.state = $1 ->> 'state' FROM glue.job_runs r JOIN glue.jobs j USING (job_id)
          WHERE j.job_name = $1 ->> 'job_name'
            AND (r.workflow_run_id IN (SELECT glue._workflow_lineage($2)) OR ($2 IS NULL AND r.workflow_run_id IS NULL))
            AND r.state IN ('SUCCEEDED', 'STOPPED', 'FAILED', 'TIMEOUT')
            AND ($2 IS NOT NULL OR r.completed_on > coalesce($3, '-infinity'))
            AND NOT EXISTS (SELECT 1 FROM glue.job_runs n WHERE n.previous_run_id = r.run_id)   -- retried: not the end
          ORDER BY r.run_id DESC LIMIT 1)
    ELSE
        (SELECT w.state = $1 ->> 'crawl_state' FROM glue.crawls w JOIN glue.crawlers k USING (crawler_id)
          WHERE k.crawler_name = $1 ->> 'crawler_name' AND w.state IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
            AND CASE WHEN $2 IS NULL
                     THEN w.end_time > coalesce($3, '-infinity')
                          AND NOT EXISTS (SELECT 1 FROM glue.workflow_crawls c WHERE c.crawl_id = w.crawl_id)
                     ELSE EXISTS (SELECT 1 FROM glue.workflow_crawls c WHERE c.crawl_id = w.crawl_id
                                     AND c.workflow_run_id IN (SELECT glue._workflow_lineage($2))) END
          ORDER BY w.crawl_id DESC LIMIT 1)
    END
$$;

-- Fire the CONDITIONAL triggers that watch the runs and crawls that ended
-- since the last round, and the EVENT triggers whose batch is full or whose
-- window has passed.
CREATE FUNCTION glue._evaluate_triggers() RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    evs jsonb;
    e record;
    t glue.triggers;
    pending bigint;
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

    -- EVENT triggers: a consumer per trigger counts the new records
    FOR t IN SELECT * FROM glue.triggers x WHERE x.trigger_type = 'EVENT' AND x.state = 'ACTIVATED'
              ORDER BY x.trigger_id FOR UPDATE SKIP LOCKED LOOP
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM kinesis.consumers c JOIN kinesis.streams s USING (stream_id)
                            WHERE s.stream_name = t.event_batching_condition ->> 'stream_name'
                              AND c.consumer_name = 'glue-trigger-' || t.trigger_id) THEN
                PERFORM kinesis.register_stream_consumer(t.event_batching_condition ->> 'stream_name',
                                                         'glue-trigger-' || t.trigger_id, 'LATEST');
                CONTINUE;
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

-- The job supervisor's round calls this.
CREATE OR REPLACE FUNCTION glue._evaluate_conditions() RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT glue._evaluate_triggers()
$$;

-- ---- src/glue/workflows.sql
-- Glue workflows (src/glue/workflows.sql): a workflow groups triggers
-- (created with workflow_name), and through their actions and conditions
-- the jobs and crawlers they start, into a graph.
--
-- One start trigger (ON_DEMAND, SCHEDULED or EVENT) opens a workflow run;
-- CONDITIONAL triggers of the workflow watch the jobs and crawls of that
-- run only.  Jobs started in a run get --WORKFLOW_NAME and
-- --WORKFLOW_RUN_ID and share the run's properties
-- (get_workflow_run_properties / put_workflow_run_properties).  A run is
-- RUNNING until none of its job runs or crawls is in progress, then
-- COMPLETED (or STOPPED).  resume_workflow_run opens a new run, linked by
-- previous_run_id, that re-runs the chosen (by default the failed) job
-- nodes; conditions see the nodes that succeeded in the earlier runs.
-- workflow_graph returns the graph as Graphviz DOT.
--
-- Errors: EntityNotFoundException (42704), AlreadyExistsException (42710),
-- InvalidInputException (22023), IllegalWorkflowStateException (55000),
-- ConcurrentRunsExceededException (54000).

CREATE TABLE glue.workflows (
    workflow_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_name text NOT NULL UNIQUE,
    owner regrole NOT NULL,
    description text,
    default_run_properties jsonb NOT NULL DEFAULT '{}',
    max_concurrent_runs integer CHECK (max_concurrent_runs > 0),
    created_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_modified_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE TABLE glue.workflow_runs (
    workflow_run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id integer NOT NULL REFERENCES glue.workflows ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'COMPLETED', 'STOPPED', 'ERROR')),
    run_properties jsonb NOT NULL DEFAULT '{}',
    previous_run_id bigint,
    started_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    completed_on timestamptz
);
-- Crawls started in a workflow run.
CREATE TABLE glue.workflow_crawls (
    crawl_id bigint PRIMARY KEY,
    workflow_run_id bigint NOT NULL REFERENCES glue.workflow_runs ON DELETE CASCADE
);

ALTER TABLE glue.workflows ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.workflows FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT, INSERT, DELETE ON glue.workflows TO PUBLIC;
GRANT UPDATE (description, default_run_properties, max_concurrent_runs, last_modified_on) ON glue.workflows TO PUBLIC;
ALTER TABLE glue.workflow_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.workflow_runs FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.workflows w WHERE w.workflow_id OPERATOR(pg_catalog.=) workflow_runs.workflow_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, w.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.workflows w WHERE w.workflow_id OPERATOR(pg_catalog.=) workflow_runs.workflow_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, w.owner, 'USAGE')));
GRANT SELECT, INSERT ON glue.workflow_runs TO PUBLIC;
GRANT UPDATE (status, run_properties, completed_on) ON glue.workflow_runs TO PUBLIC;
ALTER TABLE glue.workflow_crawls ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.workflow_crawls FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.workflow_runs r JOIN glue.workflows w USING (workflow_id)
                    WHERE r.workflow_run_id OPERATOR(pg_catalog.=) workflow_crawls.workflow_run_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, w.owner, 'USAGE')));
GRANT SELECT, INSERT ON glue.workflow_crawls TO PUBLIC;

CREATE FUNCTION glue._workflow(name text, lock boolean DEFAULT false) RETURNS glue.workflows
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    w glue.workflows;
BEGIN
    IF lock THEN
        SELECT * INTO w FROM glue.workflows x WHERE x.workflow_name = name FOR NO KEY UPDATE;
    ELSE
        SELECT * INTO w FROM glue.workflows x WHERE x.workflow_name = name;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: workflow "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List your workflows with glue.list_workflows().';
    END IF;
    RETURN w;
END
$$;

CREATE FUNCTION glue._workflow_run(w glue.workflows, run_id bigint) RETURNS glue.workflow_runs
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.workflow_runs;
BEGIN
    SELECT * INTO r FROM glue.workflow_runs x WHERE x.workflow_run_id = run_id AND x.workflow_id = w.workflow_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: workflow "%" has no run %', w.workflow_name, run_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN r;
END
$$;

-- A run and its predecessors (resume_workflow_run), newest first.
CREATE FUNCTION glue._workflow_lineage(run_id bigint) RETURNS SETOF bigint
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    WITH RECURSIVE l(id, prev) AS (
        SELECT r.workflow_run_id, r.previous_run_id FROM glue.workflow_runs r WHERE r.workflow_run_id = $1
        UNION ALL
        SELECT r.workflow_run_id, r.previous_run_id FROM glue.workflow_runs r JOIN l ON r.workflow_run_id = l.prev)
    SELECT id FROM l
$$;

-- API ---------------------------------------------------------------------------

CREATE FUNCTION glue.create_workflow(name text, description text DEFAULT NULL,
        default_run_properties jsonb DEFAULT '{}', max_concurrent_runs integer DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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
    VALUES (name, current_user::regrole, nullif(description, ''), coalesce(default_run_properties, '{}'), max_concurrent_runs);
    RETURN name;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'AlreadyExistsException: workflow "%" already exists', name USING ERRCODE = 'duplicate_object';
END
$$;

CREATE FUNCTION glue.list_workflows() RETURNS SETOF text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT workflow_name FROM glue.workflows ORDER BY workflow_name COLLATE "C"
$$;

-- The nodes and edges of a workflow: triggers, and the jobs and crawlers
-- they start or watch.  kind is trigger, job or crawler.
CREATE FUNCTION glue._workflow_edges(w glue.workflows)
    RETURNS TABLE (from_kind text, from_name text, to_kind text, to_name text, label text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT 'trigger', t.trigger_name, CASE WHEN a ? 'job_name' THEN 'job' ELSE 'crawler' END,
           coalesce(a ->> 'job_name', a ->> 'crawler_name'), NULL
      FROM glue.triggers t, jsonb_array_elements(t.actions) a
     WHERE t.workflow_name = ($1).workflow_name
    UNION ALL
    SELECT CASE WHEN c ? 'job_name' THEN 'job' ELSE 'crawler' END, coalesce(c ->> 'job_name', c ->> 'crawler_name'),
           'trigger', t.trigger_name, coalesce(c ->> 'state', c ->> 'crawl_state')
      FROM glue.triggers t, jsonb_array_elements(t.predicate -> 'conditions') c
     WHERE t.workflow_name = ($1).workflow_name AND t.trigger_type = 'CONDITIONAL'
$$;

-- Glue's GetWorkflow: the definition, its graph, and the last run.
CREATE FUNCTION glue.get_workflow(name text)
    RETURNS TABLE (workflow_name text, owner regrole, description text, default_run_properties jsonb,
                   max_concurrent_runs integer, nodes jsonb, edges jsonb, last_run jsonb, created_on timestamptz)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT w.workflow_name, w.owner, w.description, w.default_run_properties, w.max_concurrent_runs,
           (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object('type', n.k, 'name', n.n)), '[]')
              FROM (SELECT e.from_kind, e.from_name FROM glue._workflow_edges(w) e
                    UNION SELECT e.to_kind, e.to_name FROM glue._workflow_edges(w) e
                    UNION SELECT 'trigger', t.trigger_name FROM glue.triggers t WHERE t.workflow_name = w.workflow_name) n(k, n)),
           (SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY e.from_name, e.to_name), '[]') FROM glue._workflow_edges(w) e),
           (SELECT jsonb_build_object('run_id', r.workflow_run_id, 'status', r.status, 'started_on', r.started_on,
                                      'completed_on', r.completed_on)
              FROM glue.workflow_runs r WHERE r.workflow_id = w.workflow_id ORDER BY r.workflow_run_id DESC LIMIT 1),
           w.created_on
      FROM glue._workflow($1) w
$$;

CREATE FUNCTION glue.update_workflow(name text, description text DEFAULT NULL,
        default_run_properties jsonb DEFAULT NULL, max_concurrent_runs integer DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Delete a workflow, its triggers and its run history (the jobs and
-- crawlers stay).
CREATE FUNCTION glue.delete_workflow(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Open a run of a workflow (a start trigger fires): RUNNING, with the
-- default run properties.
CREATE FUNCTION glue._new_workflow_run(workflow_name text, run_properties jsonb DEFAULT NULL,
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

CREATE FUNCTION glue._in_workflow_run(t glue.triggers, workflow_run_id bigint) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT EXISTS (SELECT 1 FROM glue.workflow_runs r JOIN glue.workflows w USING (workflow_id)
                    WHERE r.workflow_run_id = $2 AND w.workflow_name = ($1).workflow_name)
$$;

-- Start a run: fire the workflow's start trigger.  Returns the run id.
CREATE FUNCTION glue.start_workflow_run(name text, run_properties jsonb DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- The state of each node of a run (the latest job run or crawl of each
-- job or crawler in the run or the runs it resumed), and Glue's
-- statistics.
CREATE FUNCTION glue._workflow_nodes(run_id bigint)
    RETURNS TABLE (node_type text, name text, state text, run_id bigint, error_message text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT DISTINCT ON (j.job_name) 'job', j.job_name, r.state, r.run_id, r.error_message
      FROM glue.job_runs r JOIN glue.jobs j USING (job_id)
     WHERE r.workflow_run_id IN (SELECT glue._workflow_lineage($1))
     ORDER BY j.job_name, r.run_id DESC
$$;

CREATE FUNCTION glue.get_workflow_run(name text, run_id bigint)
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
                                      'running_actions', count(*) FILTER (WHERE n.state IN ('STARTING', 'RUNNING', 'STOPPING')),
                                      'waiting_actions', count(*) FILTER (WHERE n.state = 'WAITING'))
              FROM glue._workflow_nodes(r.workflow_run_id) n),
           (SELECT coalesce(jsonb_agg(to_jsonb(n) ORDER BY n.name), '[]') FROM glue._workflow_nodes(r.workflow_run_id) n)
      FROM glue._workflow($1) w CROSS JOIN LATERAL glue._workflow_run(w, $2) r
$$;

CREATE FUNCTION glue.get_workflow_runs(name text, max_results integer DEFAULT 100)
    RETURNS TABLE (workflow_run_id bigint, status text, previous_run_id bigint, started_on timestamptz,
                   completed_on timestamptz)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT r.workflow_run_id, r.status, r.previous_run_id, r.started_on, r.completed_on
      FROM glue._workflow($1) w JOIN glue.workflow_runs r ON r.workflow_id = w.workflow_id
     ORDER BY r.workflow_run_id DESC LIMIT greatest(max_results, 0)
$$;

CREATE FUNCTION glue.get_workflow_run_properties(name text, run_id bigint) RETURNS jsonb
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT (glue._workflow_run(glue._workflow($1), $2)).run_properties
$$;

-- Add or replace properties of a run (jobs of the run pass
-- glue.job_argument('WORKFLOW_RUN_ID')); later nodes see them.
CREATE FUNCTION glue.put_workflow_run_properties(name text, run_id bigint, run_properties jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.workflow_runs := glue._workflow_run(glue._workflow(name), run_id);
BEGIN
    PERFORM glue._check_arguments('run_properties', run_properties);
    UPDATE glue.workflow_runs x SET run_properties = x.run_properties || put_workflow_run_properties.run_properties
     WHERE x.workflow_run_id = r.workflow_run_id;
END
$$;

CREATE FUNCTION glue.stop_workflow_run(name text, run_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Resume a run that has ended: a new run (previous_run_id = run_id) that
-- starts the given job nodes again (default: those whose last state was
-- FAILED, TIMEOUT or STOPPED); what follows them runs as usual.
CREATE FUNCTION glue.resume_workflow_run(name text, run_id bigint, node_ids text[] DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
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

-- Close workflow runs with nothing left in progress (the job supervisor's
-- round, after the triggers fired).
CREATE FUNCTION glue._complete_workflow_runs() RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    UPDATE glue.workflow_runs r SET status = 'COMPLETED', completed_on = clock_timestamp()
     WHERE r.status = 'RUNNING'
       AND NOT EXISTS (SELECT 1 FROM glue.job_runs x WHERE x.workflow_run_id = r.workflow_run_id
                          AND (x.state IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING') OR NOT x.triggers_evaluated))
       AND NOT EXISTS (SELECT 1 FROM glue.workflow_crawls c JOIN glue.crawls k USING (crawl_id)
                        WHERE c.workflow_run_id = r.workflow_run_id AND k.state IN ('RUNNING', 'CANCELLING'))
$$;

CREATE OR REPLACE FUNCTION glue._evaluate_conditions() RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT glue._evaluate_triggers();
    SELECT glue._complete_workflow_runs();
$$;

-- The graph as Graphviz DOT (triggers as diamonds, jobs as boxes,
-- crawlers as cylinders; condition edges labelled with the state they
-- wait for).  With run_id, nodes are coloured by their state in that run.
CREATE FUNCTION glue.workflow_graph(name text, run_id bigint DEFAULT NULL) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    WITH w AS (SELECT * FROM glue._workflow($1)),
    e AS (SELECT x.* FROM w, glue._workflow_edges(w) x),
    n AS (SELECT from_kind AS k, from_name AS n FROM e UNION SELECT to_kind, to_name FROM e
          UNION SELECT 'trigger', t.trigger_name FROM glue.triggers t, w WHERE t.workflow_name = w.workflow_name),
    s AS (SELECT x.name, x.state FROM glue._workflow_nodes($2) x WHERE $2 IS NOT NULL),
    q AS (SELECT k, n, '"' || replace(replace(k || ':' || n, '\', '\\'), '"', '\"') || '"' AS id,
                 '"' || replace(replace(n, '\', '\\'), '"', '\"') || '"' AS label FROM n)
    SELECT 'digraph ' || (SELECT '"' || replace(replace(w.workflow_name, '\', '\\'), '"', '\"') || '"' FROM w) || E' {\n'
        || E'  rankdir=LR;\n'
        || coalesce((SELECT string_agg(format('  %s [label=%s, shape=%s%s];', q.id, q.label,
                                              CASE q.k WHEN 'trigger' THEN 'diamond' WHEN 'job' THEN 'box' ELSE 'cylinder' END,
                                              CASE WHEN s.state IS NOT NULL THEN
                                                  ', style=filled, fillcolor=' || CASE s.state WHEN 'SUCCEEDED' THEN 'palegreen'
                                                      WHEN 'FAILED' THEN 'salmon' WHEN 'TIMEOUT' THEN 'salmon'
                                                      WHEN 'STOPPED' THEN 'lightgrey' ELSE 'lightyellow' END
                                                  || ', tooltip="' || s.state || '"' ELSE '' END),
                                       E'\n' ORDER BY q.k, q.n)
                       FROM q LEFT JOIN s ON q.k = 'job' AND s.name = q.n) || E'\n', '')
        || coalesce((SELECT string_agg(format('  %s -> %s%s;', a.id, b.id,
                                              CASE WHEN e.label IS NOT NULL THEN ' [label="' || e.label || '"]' ELSE '' END),
                                       E'\n' ORDER BY e.from_name, e.to_name)
                       FROM e JOIN q a ON a.k = e.from_kind AND a.n = e.from_name
                              JOIN q b ON b.k = e.to_kind AND b.n = e.to_name) || E'\n', '')
        || '}'
$$;

REVOKE ALL ON FUNCTION glue._evaluate_triggers(), glue._complete_workflow_runs() FROM PUBLIC;

-- ---- src/glue/transforms.sql
-- Glue transforms (src/glue/transforms.sql): the DynamicFrame transforms
-- users would otherwise write by hand, as SQL functions over JSON records,
-- usable in job scripts (and anywhere else):
--
--   glue.apply_mapping(record, mappings)   Glue's ApplyMapping: source
--       paths (dotted, into nested JSON) to target names, with casts;
--       unmapped fields are dropped.  mappings is a JSON array of
--       [source_path, source_type, target_name, target_type].  Feed the
--       result to jsonb_populate_record(NULL::target_table, ...).
--   glue.drop_null_fields(records)          Glue's DropNullFields over a JSON
--       array: removes the fields that are null or missing in every record.
--   glue.relationalize(records, root)       Glue's Relationalize: nested
--       objects become dotted columns, each array becomes a child table
--       "<root>_<path>" with id (the parent's reference), index and the
--       element (<path>.val, or its flattened fields).
--
-- Casts are safe: a value that does not fit its target type becomes NULL,
-- as Glue turns it into an error record rather than failing the frame.

-- The value at a dotted path ("a.b.c"; "a\.b" for a key with a dot).
CREATE FUNCTION glue._json_path(record jsonb, path text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT $1 #> ARRAY(SELECT replace(p, E'\x01', '.')
                         FROM unnest(string_to_array(replace($2, '\.', E'\x01'), '.')) p)
$$;

-- A JSON value cast to a Glue or PostgreSQL type name, as JSON; NULL when
-- it does not fit.
CREATE FUNCTION glue._cast_json(v jsonb, target_type text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t text := lower(btrim(target_type));
    s text := v #>> '{}';
    kind text;
BEGIN
    kind := CASE
        WHEN t IN ('string', 'text', 'varchar') THEN 'text'
        WHEN t IN ('long', 'bigint', 'int', 'integer', 'short', 'smallint', 'byte', 'int8', 'int4') THEN 'int'
        WHEN t IN ('double', 'float', 'real', 'double precision', 'float8', 'float4') THEN 'double'
        WHEN t IN ('decimal', 'numeric') OR t LIKE 'decimal(%' OR t LIKE 'numeric(%' THEN 'numeric'
        WHEN t IN ('boolean', 'bool') THEN 'boolean'
        WHEN t IN ('timestamp', 'timestamptz', 'timestamp with time zone') THEN 'timestamp'
        WHEN t = 'date' THEN 'date'
        WHEN t IN ('json', 'jsonb', 'struct', 'array', 'object') OR t LIKE 'struct<%' OR t LIKE 'array<%' THEN 'json'
        END;
    IF kind IS NULL THEN
        PERFORM glue._invalid(format('type "%s" is not a type apply_mapping knows', target_type),
                              'Use string, long, int, double, decimal, boolean, timestamp, date or json.');
    END IF;
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    BEGIN
        RETURN CASE kind
            WHEN 'text' THEN to_jsonb(CASE WHEN jsonb_typeof(v) = 'string' THEN s ELSE v::text END)
            WHEN 'int' THEN to_jsonb(trunc(s::numeric)::bigint)
            WHEN 'double' THEN to_jsonb(s::double precision)
            WHEN 'numeric' THEN to_jsonb(s::numeric)
            WHEN 'boolean' THEN to_jsonb(s::boolean)
            WHEN 'timestamp' THEN to_jsonb(s::timestamptz)
            WHEN 'date' THEN to_jsonb(s::date)
            ELSE CASE WHEN jsonb_typeof(v) = 'string' THEN s::jsonb ELSE v END END;
    EXCEPTION WHEN data_exception THEN
        RETURN NULL;                                -- does not fit: NULL
    END;
END
$$;

CREATE FUNCTION glue.apply_mapping(record jsonb, mappings jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    result jsonb := '{}';
    m jsonb;
BEGIN
    IF jsonb_typeof(mappings) IS DISTINCT FROM 'array' THEN
        PERFORM glue._invalid('mappings must be a JSON array of [source_path, source_type, target_name, target_type]',
                              'For example [["user.id", "string", "user_id", "long"], ["ts", "string", "at", "timestamp"]].');
    END IF;
    FOR m IN SELECT x FROM jsonb_array_elements(mappings) x LOOP
        IF jsonb_typeof(m) <> 'array' OR jsonb_array_length(m) <> 4
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(m) e WHERE jsonb_typeof(e) <> 'string') THEN
            PERFORM glue._invalid(format('mapping %s is not [source_path, source_type, target_name, target_type]', m));
        END IF;
        result := result || jsonb_build_object(m ->> 2, glue._cast_json(glue._json_path(record, m ->> 0), m ->> 3));
    END LOOP;
    RETURN result;
END
$$;

CREATE FUNCTION glue.drop_null_fields(records jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS
$$
    WITH kept AS (
        SELECT DISTINCT e.key FROM jsonb_array_elements($1) r, jsonb_each(r) e
         WHERE jsonb_typeof(r) = 'object' AND jsonb_typeof(e.value) <> 'null')
    SELECT coalesce(jsonb_agg((SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}')
                                 FROM jsonb_each(r) e WHERE e.key IN (SELECT key FROM kept)) ORDER BY n), '[]')
      FROM jsonb_array_elements($1) WITH ORDINALITY AS x(r, n)
$$;

-- Flatten one record into (table, row) pairs: objects into dotted keys,
-- arrays into child rows that reference the parent by a number.  counter
-- is the last reference number used (carried on every row returned); the
-- record's own row comes last, with table_name = tbl.
CREATE FUNCTION glue._relationalize(rec jsonb, tbl text, prefix text, ctr bigint)
    RETURNS TABLE (table_name text, record jsonb, counter bigint)
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    flat jsonb := '{}';
    e record;
    el record;
    x record;
    ref bigint;
    child text;
BEGIN
    FOR e IN SELECT * FROM jsonb_each(rec) LOOP
        IF jsonb_typeof(e.value) = 'object' THEN
            FOR x IN SELECT * FROM glue._relationalize(e.value, tbl, prefix || e.key || '.', ctr) LOOP
                ctr := greatest(ctr, x.counter);
                IF x.table_name = tbl THEN
                    flat := flat || x.record;
                ELSE
                    table_name := x.table_name; record := x.record; counter := ctr;
                    RETURN NEXT;
                END IF;
            END LOOP;
        ELSIF jsonb_typeof(e.value) = 'array' THEN
            ctr := ctr + 1;
            ref := ctr;
            flat := flat || jsonb_build_object(prefix || e.key, ref);
            -- named by the path below the nearest array element
            child := tbl || '_' || replace(regexp_replace(prefix, '^.*\.val\.', '') || e.key, '.', '_');
            FOR el IN SELECT a.v, a.i FROM jsonb_array_elements(e.value) WITH ORDINALITY AS a(v, i) LOOP
                IF jsonb_typeof(el.v) = 'object' THEN
                    FOR x IN SELECT * FROM glue._relationalize(el.v, child, prefix || e.key || '.val.', ctr) LOOP
                        ctr := greatest(ctr, x.counter);
                        table_name := x.table_name;
                        record := CASE WHEN x.table_name = child
                                       THEN jsonb_build_object('id', ref, 'index', el.i - 1) || x.record
                                       ELSE x.record END;
                        counter := ctr;
                        RETURN NEXT;
                    END LOOP;
                ELSE
                    table_name := child;
                    record := jsonb_build_object('id', ref, 'index', el.i - 1, prefix || e.key || '.val', el.v);
                    counter := ctr;
                    RETURN NEXT;
                END IF;
            END LOOP;
        ELSE
            flat := flat || jsonb_build_object(prefix || e.key, e.value);
        END IF;
    END LOOP;
    table_name := tbl; record := flat; counter := ctr;
    RETURN NEXT;
END
$$;

-- Relationalize a JSON array of records: one row per output record, with
-- the table it belongs to (root, and root_<array path> for each array).
-- Array references are numbered from 1 in input order.
CREATE FUNCTION glue.relationalize(records jsonb, root text DEFAULT 'root')
    RETURNS TABLE (table_name text, record jsonb)
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r jsonb;
    ctr bigint := 0;
    x record;
BEGIN
    IF jsonb_typeof(records) IS DISTINCT FROM 'array' THEN
        PERFORM glue._invalid('relationalize takes a JSON array of records');
    END IF;
    IF root IS NULL OR root !~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$' THEN
        PERFORM glue._invalid('the root name must be a plain identifier');
    END IF;
    FOR r IN SELECT v FROM jsonb_array_elements(records) v WHERE jsonb_typeof(v) = 'object' LOOP
        FOR x IN SELECT * FROM glue._relationalize(r, root, '', ctr) LOOP
            ctr := greatest(ctr, x.counter);
            table_name := x.table_name;
            record := x.record;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;
