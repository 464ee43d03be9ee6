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
    registered_by regrole NOT NULL,              -- the consumer belongs to this role (and the stream owner)
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
    'per consumer and shard: checkpoint, lease, and lag in records, in data bytes and in time (records of streams the caller cannot read count as NULL)';
