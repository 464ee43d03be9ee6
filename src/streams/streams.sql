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
    record_table regclass,         -- owned by the extension owner (see owner)
    segment_capacity bigint NOT NULL CHECK (segment_capacity > 0),
    next_shard_index integer NOT NULL,
    throughput_quotas boolean,     -- NULL: follow kinesis_glue.throughput_quotas
    trim_before timestamptz,       -- records older stay expired after a retention increase
    -- added in 0.2.0 (new columns go last: an upgraded catalog matches a fresh one)
    owner regrole NOT NULL,        -- administers the stream; holds SELECT, INSERT WITH GRANT OPTION on record_table
    -- how puts place records (kinesis.update_stream_record_distribution_strategy):
    -- USER_PARTITION_KEY by the key's MD5; AUTO round-robin over the open
    -- shards, for ON_DEMAND streams only
    record_distribution_strategy text NOT NULL DEFAULT 'USER_PARTITION_KEY'
        CHECK (record_distribution_strategy = 'USER_PARTITION_KEY'
               OR (record_distribution_strategy = 'AUTO' AND stream_mode = 'ON_DEMAND'))
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

-- Each stream's stable bound as the primary's worker last published it
-- (every kinesis_glue.standby_bound_interval, only when it moved), so that
-- hot standbys read up to the newest bound they have replayed: the row is
-- written after every record below it committed, so a standby that sees the
-- row sees those records.  Written only by the worker, which also removes the
-- rows of deleted streams (no foreign key: its locks would let the worker and a
-- delete_stream of several streams deadlock).
CREATE TABLE kinesis.stream_bounds (
    stream_id integer PRIMARY KEY,
    stable_counter bigint NOT NULL,   -- records with a lower counter belong to ended transactions
    published_at timestamptz NOT NULL
);

-- The key that signs shard iterators; survives restarts; nobody reads it.
CREATE TABLE kinesis.iterator_secret (
    secret bytea NOT NULL CHECK (pg_catalog.length(secret) OPERATOR(pg_catalog.>=) 32)
);
INSERT INTO kinesis.iterator_secret
    SELECT pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
           OPERATOR(pg_catalog.||) pg_catalog.uuid_send(pg_catalog.gen_random_uuid());
REVOKE ALL ON kinesis.iterator_secret FROM PUBLIC;

GRANT SELECT ON kinesis.streams, kinesis.shards, kinesis.segments, kinesis.stream_bounds TO PUBLIC;

CREATE TYPE kinesis.put_records_entry AS (partition_key text, data bytea, explicit_hash_key numeric);
CREATE TYPE kinesis.record AS (shard_id text, sequence_number bigint,
                               approximate_arrival_timestamp timestamptz,
                               partition_key text, data bytea);
-- put_record's row (a named type: the executor looks it up in the type
-- cache, where RETURNS TABLE rebuilt the row type from pg_proc on every call)
CREATE TYPE kinesis.put_record_result AS (shard_id text, sequence_number bigint);
CREATE TYPE kinesis.get_records_result AS (records kinesis.record[], next_shard_iterator text,
                                           millis_behind_latest bigint, child_shards text[]);
-- get_records_rows: a row per record (the last three columns NULL), then one
-- last row with the record columns NULL and the rest of get_records' result
CREATE TYPE kinesis.get_records_row AS (shard_id text, sequence_number bigint,
                                        approximate_arrival_timestamp timestamptz,
                                        partition_key text, data bytea, next_shard_iterator text,
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

CREATE FUNCTION kinesis.update_shard_count(stream_name text, target_shard_count integer,
                                           scaling_type text DEFAULT 'UNIFORM_SCALING')
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_update_shard_count';

CREATE FUNCTION kinesis.update_stream_mode(stream_name text, stream_mode text)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_update_stream_mode';

-- USER_PARTITION_KEY (the default) or AUTO (ON_DEMAND streams only: puts
-- ignore partition and explicit hash keys, spread records over the open
-- shards, and accept a NULL partition key); needs the stream's owner.
CREATE FUNCTION kinesis.update_stream_record_distribution_strategy(stream_name text, strategy text)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_update_record_distribution';

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
    RETURNS SETOF kinesis.put_record_result
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

-- get_records as rows, without building the records array (README "Reading
-- as rows"); wait as in the waiting get_records (consumers.sql)
CREATE FUNCTION kinesis.get_records_rows(shard_iterator text, "limit" integer DEFAULT 10000,
                                         wait interval DEFAULT NULL)
    RETURNS SETOF kinesis.get_records_row
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 1001 AS 'MODULE_PATHNAME', 'kg_get_records_rows';

CREATE FUNCTION kinesis.read_shard(stream_name text, shard_id text, after_sequence_number bigint DEFAULT NULL,
                                   "limit" integer DEFAULT 1000)
    RETURNS SETOF kinesis.record
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 1000 AS 'MODULE_PATHNAME', 'kg_read_shard';

-- Where read_shard resumes after a consumer position (a checkpoint of
-- kinesis.consumer_positions): the after_sequence_number to pass, NULL for
-- "from the trim horizon".
CREATE FUNCTION kinesis.read_shard_start(stream_name text, shard_id text, checkpoint_sequence_number bigint)
    RETURNS bigint LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'kg_read_shard_after_checkpoint';

-- Observability ------------------------------------------------------------

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
