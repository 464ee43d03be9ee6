-- kinesis_glue_cluster 0.1.0: the shards of one data stream spread over several kinesis_glue
-- nodes, routed with PL/Proxy (see README "Scaling out").
--
-- Two schemas:
--   kinesis_cluster  where applications connect (the proxy database): the placement catalog and
--                    the Kinesis functions, each routed to the node(s) concerned.
--   kinesis_node     on every node (next to kinesis_glue): what the proxy calls there that
--                    kinesis.* does not offer as is (an idempotent put_records, a flat get_records).
-- Install the extension in the proxy database and in each node's database.
--
-- Placement: node i of N owns the cluster hash keys [i*R, (i+1)*R - 1], R = floor(2^128 / N) (the
-- last node up to 2^128 - 1).  A record's cluster hash key (MD5 of the partition key as in
-- kinesis, or the explicit hash key) picks the node; on the node it is stretched onto the whole
-- key space (local = (h - start) * 2^128 / size), so each node's local stream has ordinary shards
-- and the cluster ranges of its shards are exact.  Cluster shard ids are
-- shardId-<3 digits node><9 digits local shard index>; iterators are
-- n<node>.<local shard index>.<node's iterator>.
--
-- Growing (add_node, split_shard_to_node): a node added later owns no home range; a hot shard
-- is split onto it: the parent closes on its node (kinesis.close_shard), the children open on
-- the new node (kinesis.open_shards, numbered above the parent's ending sequence number) with
-- local keys equal to cluster keys, and kinesis_cluster.placements records that the parent's
-- range of that stream now lives there (it overrides the home ranges for that stream).
\echo Use "CREATE EXTENSION kinesis_glue_cluster" to load this file. \quit

CREATE SCHEMA kinesis_node;
CREATE SCHEMA kinesis_cluster;
GRANT USAGE ON SCHEMA kinesis_node, kinesis_cluster TO PUBLIC;

------------------------------------------------------------------------------------------------
-- Node side
------------------------------------------------------------------------------------------------

-- One row per record of a node's part of a cluster put_records: its position in the caller's
-- batch, the local shard index and sequence number, or (throttled) NULL and the error.
CREATE TYPE kinesis_node.put_result AS (ord integer, shard_index integer, sequence_number bigint,
                                        error_code text, error_message text);

-- Results of the put_records batches this node applied, so that the proxy can send a batch
-- again (after a call that failed on another node) without putting it twice.  Kept one hour.
-- Per record in section order: the local shard index and the sequence number (NULL: throttled).
-- Stored without compression (compressing the arrays cost a node 6% of its CPU in a cluster put).
CREATE TABLE kinesis_node.put_batches (
    batch uuid PRIMARY KEY,
    login name NOT NULL,
    shard_indexes integer[] NOT NULL,
    sequence_numbers bigint[] NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
ALTER TABLE kinesis_node.put_batches ALTER shard_indexes SET STORAGE EXTERNAL,
                                     ALTER sequence_numbers SET STORAGE EXTERNAL;
CREATE INDEX ON kinesis_node.put_batches (applied_at);
REVOKE ALL ON kinesis_node.put_batches FROM PUBLIC;

-- The stored results of a batch applied for this login (session_user: the role the proxy
-- connected as), or NULLs.  (PL/pgSQL, not SQL: its plans are cached, an SQL function's are
-- made again at every call.)
CREATE FUNCTION kinesis_node._batch_results(batch uuid, OUT shard_indexes integer[], OUT sequence_numbers bigint[])
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    SELECT b.shard_indexes, b.sequence_numbers INTO shard_indexes, sequence_numbers
      FROM kinesis_node.put_batches b
     WHERE b.batch OPERATOR(pg_catalog.=) _batch_results.batch
       AND b.login OPERATOR(pg_catalog.=) SESSION_USER;
END
$$;

-- Forget batches older than an hour (kinesis_node.put_records calls it once a minute at most per
-- backend): the oldest is found with the index, the DELETE (a scan of the table) runs only when it
-- is over 61 minutes old.  (Deleting at every call scanned the table at every call, a third of a
-- node's CPU in a cluster put.)
CREATE FUNCTION kinesis_node._batch_forget() RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF (SELECT min(b.applied_at) FROM kinesis_node.put_batches b) OPERATOR(pg_catalog.<)
       (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) interval '61 minutes') THEN
        DELETE FROM kinesis_node.put_batches b
         WHERE b.applied_at OPERATOR(pg_catalog.<) (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) interval '1 hour');
    END IF;
END
$$;

-- (These stay executable by PUBLIC: kinesis_node.put_records calls them as the connecting role;
-- a role reaches only its own login's batches.  New rows are written by kinesis_node.put_records
-- itself, in C.)

-- The node's part of a cluster put_records: its sections (kc_section.h, in hex) in the text
-- sections at starts with lengths (the proxy sends all nodes' sections in one text, which costs a
-- node a copy, and each node decodes only its own), put through kinesis_glue's own put path with
-- the local hash keys (C, kinesis_glue_node.c); runs in its own (autocommit) transaction on the
-- node, as the connecting role (its grants apply).  resend: the proxy sends the part again; a
-- batch already applied for this login then returns its stored results instead of putting again.
CREATE FUNCTION kinesis_node.put_records(batch uuid, stream_name text, resend boolean, sections text,
                                         starts integer[], lengths integer[])
    RETURNS SETOF kinesis_node.put_result
    LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
    AS '$libdir/kinesis_glue_node', 'kc_node_put_records';

-- get_records flattened for the proxy: row 0 carries the next iterator, the lag and the child
-- shards; rows 1.. the records in order.
CREATE FUNCTION kinesis_node.get_records(shard_iterator text, "limit" integer)
    RETURNS TABLE (ord bigint, sequence_number bigint, approximate_arrival_timestamp timestamptz,
                   partition_key text, data bytea, next_shard_iterator text,
                   millis_behind_latest bigint, child_shards text[])
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    g kinesis.get_records_result;
BEGIN
    g := kinesis.get_records(shard_iterator, "limit");
    RETURN QUERY
        SELECT 0::bigint, NULL::bigint, NULL::timestamptz, NULL::text, NULL::bytea,
               g.next_shard_iterator, g.millis_behind_latest, g.child_shards
        UNION ALL
        SELECT r.o, r.sequence_number, r.approximate_arrival_timestamp, r.partition_key, r.data,
               NULL, NULL, NULL
          FROM unnest(g.records) WITH ORDINALITY AS r(shard_id, sequence_number, approximate_arrival_timestamp,
                                                      partition_key, data, o)
        ORDER BY 1;
END
$$;

------------------------------------------------------------------------------------------------
-- Proxy side: placement catalog and helpers
------------------------------------------------------------------------------------------------

-- Which node owns which part of the cluster hash key space (written by configure() only).
-- The connection strings live in the options of the foreign server kinesis_cluster.
-- Nodes added later (add_node) have no home range (NULLs): they hold only the ranges moved to
-- them by split_shard_to_node (kinesis_cluster.placements).
CREATE TABLE kinesis_cluster.nodes (
    node_id integer PRIMARY KEY CHECK (node_id BETWEEN 0 AND 999),
    node_name text NOT NULL UNIQUE,
    starting_hash_key numeric(39,0),
    ending_hash_key numeric(39,0),
    CHECK ((starting_hash_key IS NULL) = (ending_hash_key IS NULL))
);
GRANT SELECT ON kinesis_cluster.nodes TO PUBLIC;

-- Per stream, the hash key ranges moved off their home node (written by split_shard_to_node
-- only): keys of stream_name in [starting_hash_key, ending_hash_key] live on node_id, in the
-- shards child_shard_ids, the children of parent_shard_id (closed on its node).  For a key,
-- the covering row with the highest placement_id wins over the home ranges of nodes.
CREATE TABLE kinesis_cluster.placements (
    placement_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_name text NOT NULL,
    starting_hash_key numeric(39,0) NOT NULL,
    ending_hash_key numeric(39,0) NOT NULL,
    node_id integer NOT NULL REFERENCES kinesis_cluster.nodes,
    parent_shard_id text NOT NULL,
    child_shard_ids text[] NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX ON kinesis_cluster.placements (stream_name);
GRANT SELECT ON kinesis_cluster.placements TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('kinesis_cluster.nodes', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis_cluster.placements', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('kinesis_cluster.placements', 'placement_id'), '');

CREATE TYPE kinesis_cluster.record AS (shard_id text, sequence_number bigint,
                                       approximate_arrival_timestamp timestamptz,
                                       partition_key text, data bytea);
CREATE TYPE kinesis_cluster.get_records_result AS (records kinesis_cluster.record[], next_shard_iterator text,
                                                   millis_behind_latest bigint, child_shards text[]);

-- The Kinesis hash key of a partition key: MD5 of its UTF-8 bytes as a big-endian 128-bit integer.
-- (These per-record helpers have no SET search_path, so that they stay cheap SQL functions: every
-- operator and function in them is schema-qualified instead.)
CREATE FUNCTION kinesis_cluster._hex128(h text) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
    SELECT (('x' OPERATOR(pg_catalog.||) pg_catalog.lpad(pg_catalog.substr(h, 1, 8), 16, '0'))::pg_catalog.bit(64)::pg_catalog.int8::pg_catalog.numeric
             OPERATOR(pg_catalog.*) 79228162514264337593543950336)
           OPERATOR(pg_catalog.+)
           (('x' OPERATOR(pg_catalog.||) pg_catalog.lpad(pg_catalog.substr(h, 9, 8), 16, '0'))::pg_catalog.bit(64)::pg_catalog.int8::pg_catalog.numeric
             OPERATOR(pg_catalog.*) 18446744073709551616)
           OPERATOR(pg_catalog.+)
           (('x' OPERATOR(pg_catalog.||) pg_catalog.lpad(pg_catalog.substr(h, 17, 8), 16, '0'))::pg_catalog.bit(64)::pg_catalog.int8::pg_catalog.numeric
             OPERATOR(pg_catalog.*) 4294967296)
           OPERATOR(pg_catalog.+)
           ('x' OPERATOR(pg_catalog.||) pg_catalog.lpad(pg_catalog.substr(h, 25, 8), 16, '0'))::pg_catalog.bit(64)::pg_catalog.int8::pg_catalog.numeric
$$;
CREATE FUNCTION kinesis_cluster.hash_key(partition_key text) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT kinesis_cluster._hex128(pg_catalog.md5(pg_catalog.convert_to(partition_key, 'UTF8'))) $$;

-- The same routing, per node: the positions of its records and its section (what put_records
-- sends node by node when the parallel call failed).
CREATE FUNCTION kinesis_cluster._pack(stream_name text, partition_keys text[], data bytea[],
                                      explicit_hash_keys numeric[])
    RETURNS TABLE (node integer, ords integer[], part text)
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'kc_pack';

CREATE FUNCTION kinesis_cluster._space() RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT 340282366920938463463374607431768211456::pg_catalog.numeric $$;

-- Cluster hash key h of node n -> the node's local hash key, and back (first cluster key of a
-- local key).  On a node without home range (added later) both are the same.
CREATE FUNCTION kinesis_cluster._to_local(n kinesis_cluster.nodes, h numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT CASE WHEN n.starting_hash_key IS NULL THEN h ELSE
           pg_catalog.floor((h OPERATOR(pg_catalog.-) n.starting_hash_key) OPERATOR(pg_catalog.*) kinesis_cluster._space()
                            OPERATOR(pg_catalog./)
                            (n.ending_hash_key OPERATOR(pg_catalog.-) n.starting_hash_key OPERATOR(pg_catalog.+) 1)) END
$$;
CREATE FUNCTION kinesis_cluster._to_cluster(n kinesis_cluster.nodes, l numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT CASE WHEN n.starting_hash_key IS NULL THEN l ELSE
           n.starting_hash_key OPERATOR(pg_catalog.+)
           pg_catalog.ceil(l OPERATOR(pg_catalog.*) (n.ending_hash_key OPERATOR(pg_catalog.-) n.starting_hash_key OPERATOR(pg_catalog.+) 1)
                           OPERATOR(pg_catalog./) kinesis_cluster._space()) END
$$;

-- The node owning cluster hash key h.
CREATE FUNCTION kinesis_cluster._node_of_key(h numeric) RETURNS kinesis_cluster.nodes
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    n kinesis_cluster.nodes;
BEGIN
    SELECT * INTO n FROM kinesis_cluster.nodes WHERE h BETWEEN starting_hash_key AND ending_hash_key;
    IF NOT FOUND THEN
        IF NOT EXISTS (SELECT FROM kinesis_cluster.nodes) THEN
            RAISE EXCEPTION 'kinesis_cluster is not configured' USING ERRCODE = '55000',
                HINT = 'Run kinesis_cluster.configure(node_names, connection_strings) as a superuser.';
        END IF;
        RAISE EXCEPTION 'InvalidArgumentException: hash key % is outside [0, 2^128 - 1]', h USING ERRCODE = '22023';
    END IF;
    RETURN n;
END
$$;

-- Cluster shard id <-> node and the node's own shard id.
CREATE FUNCTION kinesis_cluster._shard_id(node integer, local_shard_id text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$ SELECT CASE WHEN local_shard_id IS NOT NULL THEN
           'shardId-' || lpad(node::text, 3, '0') || lpad(substr(local_shard_id, 9)::bigint::text, 9, '0') END $$;

CREATE FUNCTION kinesis_cluster._shard_node(stream_name text, shard_id text, OUT node kinesis_cluster.nodes,
                                            OUT local_shard_id text)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF shard_id IS NULL OR shard_id !~ '^shardId-[0-9]{12}$' THEN
        RAISE EXCEPTION 'InvalidArgumentException: "%" is not a cluster shard id', shard_id USING ERRCODE = '22023',
            HINT = 'Cluster shard ids are shardId- followed by 3 digits of node and 9 of shard, as kinesis_cluster.list_shards shows.';
    END IF;
    SELECT * INTO node FROM kinesis_cluster.nodes n WHERE n.node_id = substr(shard_id, 9, 3)::integer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: shard % of stream % not found', shard_id, stream_name
            USING ERRCODE = '42704';
    END IF;
    local_shard_id := 'shardId-' || lpad(substr(shard_id, 12)::bigint::text, 12, '0');
END
$$;

-- configure(node_names, connection_strings): set up the cluster once (superuser): the foreign
-- server kinesis_cluster for PL/Proxy (one partition per node, modular mapping), a PUBLIC user
-- mapping (each role connects to the nodes as itself), and the placement catalog with even
-- hash key ranges.
CREATE FUNCTION kinesis_cluster.configure(node_names text[], connection_strings text[]) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    n integer := coalesce(array_length(node_names, 1), 0);
    r numeric;
    opts text := 'modular_mapping ''1''';
BEGIN
    IF n < 1 OR n > 999 OR n <> coalesce(array_length(connection_strings, 1), 0) THEN
        RAISE EXCEPTION 'ValidationException: pass 1 to 999 node names and as many connection strings'
            USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT FROM kinesis_cluster.nodes) THEN
        RAISE EXCEPTION 'ResourceInUseException: kinesis_cluster is already configured' USING ERRCODE = '55006',
            HINT = 'Add nodes with kinesis_cluster.add_node(node_name, connection_string).';
    END IF;
    r := floor(kinesis_cluster._space() / n);
    FOR i IN 0 .. n - 1 LOOP
        INSERT INTO kinesis_cluster.nodes
            VALUES (i, node_names[i + 1], i * r,
                    CASE WHEN i = n - 1 THEN kinesis_cluster._space() - 1 ELSE (i + 1) * r - 1 END);
        opts := opts || format(', p%s %L', i, connection_strings[i + 1]);
    END LOOP;
    EXECUTE 'CREATE SERVER kinesis_cluster FOREIGN DATA WRAPPER plproxy OPTIONS (' || opts || ')';
    CREATE USER MAPPING FOR PUBLIC SERVER kinesis_cluster;
    GRANT USAGE ON FOREIGN SERVER kinesis_cluster TO PUBLIC;
END
$$;
REVOKE ALL ON FUNCTION kinesis_cluster.configure(text[], text[]) FROM PUBLIC;

-- add_node(node_name, connection_string): a new node (superuser), with no home range: existing
-- and new streams stay where they are until split_shard_to_node moves shards onto it.  Its
-- PL/Proxy partition is added to the foreign server kinesis_cluster.  Returns its node id.
CREATE FUNCTION kinesis_cluster.add_node(node_name text, connection_string text) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    id integer;
BEGIN
    IF node_name IS NULL OR connection_string IS NULL THEN
        RAISE EXCEPTION 'ValidationException: node name and connection string must not be null' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT FROM kinesis_cluster.nodes) THEN
        PERFORM kinesis_cluster._node_of_key(0);   -- raises "not configured"
    END IF;
    LOCK TABLE kinesis_cluster.nodes IN EXCLUSIVE MODE;
    IF EXISTS (SELECT FROM kinesis_cluster.nodes n WHERE n.node_name = add_node.node_name) THEN
        RAISE EXCEPTION 'ResourceInUseException: node % already exists', node_name USING ERRCODE = '55006';
    END IF;
    id := (SELECT max(n.node_id) + 1 FROM kinesis_cluster.nodes n);
    IF id > 999 THEN
        RAISE EXCEPTION 'LimitExceededException: a cluster has at most 1000 nodes' USING ERRCODE = '54000';
    END IF;
    INSERT INTO kinesis_cluster.nodes VALUES (id, node_name, NULL, NULL);
    EXECUTE format('ALTER SERVER kinesis_cluster OPTIONS (ADD p%s %L)', id, connection_string);
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION kinesis_cluster.add_node(text, text) FROM PUBLIC;

-- The nodes that hold part of a stream: the nodes with a home range and those its ranges were
-- moved to.
CREATE FUNCTION kinesis_cluster._stream_nodes(stream_name text) RETURNS SETOF kinesis_cluster.nodes
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT * FROM kinesis_cluster.nodes n
     WHERE n.starting_hash_key IS NOT NULL
        OR n.node_id IN (SELECT p.node_id FROM kinesis_cluster.placements p WHERE p.stream_name = _stream_nodes.stream_name)
     ORDER BY n.node_id
$$;

------------------------------------------------------------------------------------------------
-- Proxy side: PL/Proxy calls (one per shape of remote query)
------------------------------------------------------------------------------------------------

CREATE FUNCTION kinesis_cluster._create_stream(on_node integer, stream_name text, shard_count integer,
                                               retention_period interval) RETURNS SETOF text
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT 'ok'::text FROM kinesis.create_stream(stream_name, shard_count, 'PROVISIONED', retention_period);
$$;

CREATE FUNCTION kinesis_cluster._delete_stream(on_node integer, stream_name text) RETURNS SETOF text
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT 'ok'::text FROM kinesis.delete_stream(stream_name, true);
$$;

CREATE FUNCTION kinesis_cluster._list_streams(on_node integer)
    RETURNS TABLE (stream_name text, stream_status text, stream_mode text, stream_creation_timestamp timestamptz)
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT * FROM kinesis.list_streams();
$$;

CREATE FUNCTION kinesis_cluster._describe_stream_summary(on_node integer, name text)
    RETURNS TABLE (stream_name text, stream_status text, stream_mode text, retention_period interval,
                   open_shard_count integer, consumer_count integer, stream_creation_timestamp timestamptz)
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT * FROM kinesis.describe_stream_summary(name);
$$;

CREATE FUNCTION kinesis_cluster._list_shards(on_node integer, stream_name text)
    RETURNS TABLE (shard_id text, parent_shard_id text, adjacent_parent_shard_id text,
                   starting_hash_key numeric, ending_hash_key numeric,
                   starting_sequence_number bigint, ending_sequence_number bigint)
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT * FROM kinesis.list_shards(stream_name);
$$;

-- All nodes of a put_records at once: every node of the batch gets the sections (PL/Proxy sends
-- every argument as text: per-record arrays cost a fifth of the CPU on both sides) and, split,
-- the start and length of its own (one element per node, so PL/Proxy evaluates RUN ON once per
-- node, not once per record); the nodes run in parallel.
CREATE FUNCTION kinesis_cluster._put_split(node integer[], batch uuid, stream_name text, sections text,
                                           starts integer[], lengths integer[])
    RETURNS SETOF kinesis_node.put_result
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    SPLIT node, starts, lengths;
    RUN ON node;
    SELECT * FROM kinesis_node.put_records(batch, stream_name, false, sections, starts, lengths);
$$;

-- One node's section of a put_records, sent again after a split call failed.
CREATE FUNCTION kinesis_cluster._put_node(on_node integer, batch uuid, stream_name text, part text)
    RETURNS SETOF kinesis_node.put_result
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT * FROM kinesis_node.put_records(batch, stream_name, true, part, ARRAY[0],
                                           ARRAY[pg_catalog.length(part)]);
$$;

CREATE FUNCTION kinesis_cluster._get_shard_iterator(on_node integer, stream_name text, shard_id text,
                                                    shard_iterator_type text, starting_sequence_number bigint,
                                                    at_timestamp timestamptz) RETURNS SETOF text
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT kinesis.get_shard_iterator(stream_name, shard_id, shard_iterator_type, starting_sequence_number, at_timestamp);
$$;

CREATE FUNCTION kinesis_cluster._get_records(on_node integer, shard_iterator text, max_records integer)
    RETURNS TABLE (ord bigint, sequence_number bigint, approximate_arrival_timestamp timestamptz,
                   partition_key text, data bytea, next_shard_iterator text,
                   millis_behind_latest bigint, child_shards text[])
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT * FROM kinesis_node.get_records(shard_iterator, max_records);
$$;

CREATE FUNCTION kinesis_cluster._split_shard(on_node integer, stream_name text, shard_to_split text,
                                             new_starting_hash_key numeric) RETURNS SETOF text
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT 'ok'::text FROM kinesis.split_shard(stream_name, shard_to_split, new_starting_hash_key);
$$;

CREATE FUNCTION kinesis_cluster._stream_owner(on_node integer, stream_name text) RETURNS SETOF text
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT pg_catalog.pg_get_userbyid(s.owner) FROM kinesis.streams s WHERE s.stream_name = stream_name;
$$;

CREATE FUNCTION kinesis_cluster._close_shard(on_node integer, stream_name text, shard_to_close text)
    RETURNS SETOF bigint
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT kinesis.close_shard(stream_name, shard_to_close);
$$;

CREATE FUNCTION kinesis_cluster._open_shards(on_node integer, stream_name text, starting_hash_keys numeric[],
                                             ending_hash_keys numeric[], after_sequence_number bigint,
                                             retention_period interval)
    RETURNS TABLE (shard_id text, starting_sequence_number bigint)
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT * FROM kinesis.open_shards(stream_name, starting_hash_keys, ending_hash_keys, after_sequence_number,
                                      retention_period);
$$;

CREATE FUNCTION kinesis_cluster._merge_shards(on_node integer, stream_name text, shard_to_merge text,
                                              adjacent_shard_to_merge text) RETURNS SETOF text
    LANGUAGE plproxy AS
$$
    CLUSTER 'kinesis_cluster';
    RUN ON on_node;
    SELECT 'ok'::text FROM kinesis.merge_shards(stream_name, shard_to_merge, adjacent_shard_to_merge);
$$;

------------------------------------------------------------------------------------------------
-- Proxy side: the Kinesis functions
------------------------------------------------------------------------------------------------

-- create_stream: shard_count (at least one per node) spread evenly; one stream per node, created
-- node by node (not atomic across nodes: after a failure, delete_stream and create again).
CREATE FUNCTION kinesis_cluster.create_stream(stream_name text, shard_count integer,
                                              retention_period interval DEFAULT '24 hours') RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    n integer := (SELECT count(*) FROM kinesis_cluster.nodes WHERE starting_hash_key IS NOT NULL);
    nd kinesis_cluster.nodes;
BEGIN
    IF n = 0 THEN
        PERFORM kinesis_cluster._node_of_key(0);   -- raises "not configured"
    END IF;
    IF shard_count IS NULL OR shard_count < n THEN
        RAISE EXCEPTION 'InvalidArgumentException: a cluster stream needs at least one shard per node (% nodes)', n
            USING ERRCODE = '22023';
    END IF;
    FOR nd IN SELECT * FROM kinesis_cluster.nodes WHERE starting_hash_key IS NOT NULL ORDER BY node_id LOOP
        PERFORM kinesis_cluster._create_stream(nd.node_id, stream_name,
                                               shard_count / n + (nd.node_id < shard_count % n)::integer,
                                               retention_period);
    END LOOP;
END
$$;

CREATE FUNCTION kinesis_cluster.delete_stream(stream_name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    nd kinesis_cluster.nodes;
    found_any boolean := false;
BEGIN
    -- placements are cluster administration: only a superuser forgets them
    IF EXISTS (SELECT FROM kinesis_cluster.placements p WHERE p.stream_name = delete_stream.stream_name) THEN
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            RAISE EXCEPTION 'AccessDeniedException: stream % has shards split onto added nodes; only a superuser can delete it', stream_name
                USING ERRCODE = '42501',
                HINT = 'Ask the cluster administrator to run kinesis_cluster.delete_stream, which also removes its placements.';
        END IF;
        DELETE FROM kinesis_cluster.placements p WHERE p.stream_name = delete_stream.stream_name;
    END IF;
    FOR nd IN SELECT * FROM kinesis_cluster.nodes ORDER BY node_id LOOP
        BEGIN
            PERFORM kinesis_cluster._delete_stream(nd.node_id, stream_name);
            found_any := true;
        EXCEPTION WHEN undefined_object THEN
            NULL;       -- not on this node (a create that failed half-way)
        END;
    END LOOP;
    IF NOT found_any THEN
        RAISE EXCEPTION 'ResourceNotFoundException: stream % not found', stream_name USING ERRCODE = '42704';
    END IF;
END
$$;

-- Did a PL/Proxy call fail because its node could not be reached (as opposed to an error the
-- node raised)?  PL/Proxy reports connection failures with its own messages.
CREATE FUNCTION kinesis_cluster._unreachable_error(state text, message text) RETURNS boolean
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT state LIKE '08%' OR state IN ('57P01', '57P02', '57P03')
        OR message ~ '(PQconnectStart|PQconnectPoll|connect timeout to|query timeout|Lost result|Unfinished connection|server closed the connection|the database system is (starting up|shutting down))'
$$;

-- Rows of one node for a listing, or a WARNING and nothing when the node cannot be reached.
CREATE FUNCTION kinesis_cluster._unreachable(nd kinesis_cluster.nodes, err text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RAISE WARNING 'kinesis_cluster: node % (%) is unreachable; its shards are left out', nd.node_id, nd.node_name
        USING DETAIL = err;
END
$$;

CREATE FUNCTION kinesis_cluster.list_streams()
    RETURNS TABLE (stream_name text, stream_status text, stream_mode text, stream_creation_timestamp timestamptz)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    nd kinesis_cluster.nodes;
    names text[] := '{}';
    statuses text[] := '{}';
    modes text[] := '{}';
    created timestamptz[] := '{}';
    r record;
BEGIN
    FOR nd IN SELECT * FROM kinesis_cluster.nodes ORDER BY node_id LOOP
        BEGIN
            FOR r IN SELECT * FROM kinesis_cluster._list_streams(nd.node_id) LOOP
                names := names || r.stream_name;
                statuses := statuses || r.stream_status;
                modes := modes || r.stream_mode;
                created := created || r.stream_creation_timestamp;
            END LOOP;
        EXCEPTION WHEN others THEN
            IF NOT kinesis_cluster._unreachable_error(SQLSTATE, SQLERRM) THEN
                RAISE;
            END IF;
            PERFORM kinesis_cluster._unreachable(nd, SQLERRM);
        END;
    END LOOP;
    RETURN QUERY
        SELECT t.n, CASE WHEN bool_and(t.s = 'ACTIVE') THEN 'ACTIVE' ELSE min(t.s) END, min(t.m), min(t.c)
          FROM unnest(names, statuses, modes, created) AS t(n, s, m, c)
         GROUP BY t.n ORDER BY t.n COLLATE "C";
END
$$;

-- describe_stream_summary: the nodes' summaries added up (plus how many nodes answered).
CREATE FUNCTION kinesis_cluster._describe_merged(name text)
    RETURNS TABLE (stream_name text, stream_status text, stream_mode text, retention_period interval,
                   open_shard_count integer, consumer_count integer, stream_creation_timestamp timestamptz,
                   node_count integer, unreachable_nodes integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    nd kinesis_cluster.nodes;
    d record;
    nodes_ok integer := 0;
    nodes_down integer := 0;
    shards integer := 0;
    consumers integer := 0;
    status text;
    retention interval;
    created timestamptz;
BEGIN
    FOR nd IN SELECT * FROM kinesis_cluster._stream_nodes(name) LOOP
        BEGIN
            SELECT * INTO d FROM kinesis_cluster._describe_stream_summary(nd.node_id, name);
            nodes_ok := nodes_ok + 1;
            shards := shards + d.open_shard_count;
            consumers := greatest(consumers, d.consumer_count);
            status := CASE WHEN status IS NULL OR status = 'ACTIVE' THEN d.stream_status ELSE status END;
            retention := d.retention_period;
            created := least(created, d.stream_creation_timestamp);
        EXCEPTION WHEN others THEN
            IF NOT kinesis_cluster._unreachable_error(SQLSTATE, SQLERRM) THEN
                RAISE;
            END IF;
            PERFORM kinesis_cluster._unreachable(nd, SQLERRM);
            nodes_down := nodes_down + 1;
        END;
    END LOOP;
    IF nodes_ok = 0 AND nodes_down = 0 THEN
        PERFORM kinesis_cluster._node_of_key(0);   -- raises "not configured"
    END IF;
    RETURN QUERY SELECT name, status, 'PROVISIONED'::text, retention,
                        shards, consumers, created, nodes_ok + nodes_down, nodes_down;
END
$$;

CREATE FUNCTION kinesis_cluster.describe_stream_summary(stream_name text)
    RETURNS TABLE (stream_name text, stream_status text, stream_mode text, retention_period interval,
                   open_shard_count integer, consumer_count integer, stream_creation_timestamp timestamptz,
                   node_count integer, unreachable_nodes integer)
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$ SELECT * FROM kinesis_cluster._describe_merged(stream_name) $$;

-- list_shards: every node's shards, with cluster ids and cluster hash key ranges.
CREATE FUNCTION kinesis_cluster.list_shards(stream_name text)
    RETURNS TABLE (shard_id text, parent_shard_id text, adjacent_parent_shard_id text,
                   starting_hash_key numeric, ending_hash_key numeric,
                   starting_sequence_number bigint, ending_sequence_number bigint, node_name text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    nd kinesis_cluster.nodes;
    s record;
BEGIN
    FOR nd IN SELECT * FROM kinesis_cluster._stream_nodes(list_shards.stream_name) LOOP
        BEGIN
            FOR s IN SELECT * FROM kinesis_cluster._list_shards(nd.node_id, list_shards.stream_name) LOOP
                shard_id := kinesis_cluster._shard_id(nd.node_id, s.shard_id);
                -- a child of a shard split onto this node names its parent on the other node
                parent_shard_id := coalesce(kinesis_cluster._shard_id(nd.node_id, s.parent_shard_id),
                                            (SELECT p.parent_shard_id FROM kinesis_cluster.placements p
                                              WHERE p.stream_name = list_shards.stream_name
                                                AND list_shards.shard_id = ANY (p.child_shard_ids)));
                adjacent_parent_shard_id := kinesis_cluster._shard_id(nd.node_id, s.adjacent_parent_shard_id);
                starting_hash_key := kinesis_cluster._to_cluster(nd, s.starting_hash_key);
                ending_hash_key := kinesis_cluster._to_cluster(nd, s.ending_hash_key + 1) - 1;
                starting_sequence_number := s.starting_sequence_number;
                ending_sequence_number := s.ending_sequence_number;
                node_name := nd.node_name;
                RETURN NEXT;
            END LOOP;
        EXCEPTION WHEN others THEN
            IF NOT kinesis_cluster._unreachable_error(SQLSTATE, SQLERRM) THEN
                RAISE;
            END IF;
            PERFORM kinesis_cluster._unreachable(nd, SQLERRM);
        END;
    END LOOP;
END
$$;

-- put_records: records routed by hash key to their nodes; one parallel PL/Proxy call (SPLIT)
-- for all nodes, results in input order (C, kinesis_glue_cluster.c: it waits for a
-- split_shard_to_node in progress, routes with MD5, placements and home ranges, packs one section
-- per node).  When that call fails because a node is unreachable, _put_resend sends each node's
-- part again on its own: nodes that already applied it return their stored results
-- (kinesis_node.put_batches), so nothing is put twice; the records of an unreachable node get
-- error_code InternalFailure.  Errors that reject the whole call on a node (unknown stream,
-- validation, privileges) are raised.  Not one transaction with the caller: see README.
CREATE FUNCTION kinesis_cluster.put_records(stream_name text, partition_keys text[], data bytea[],
                                            explicit_hash_keys numeric[] DEFAULT NULL)
    RETURNS TABLE (shard_id text, sequence_number bigint, error_code text, error_message text)
    LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kc_put_records';

-- The node-by-node path of put_records (after the parallel call failed), with the same batch id.
CREATE FUNCTION kinesis_cluster._put_resend(stream_name text, partition_keys text[], data bytea[],
                                            explicit_hash_keys numeric[], batch uuid)
    RETURNS TABLE (shard_id text, sequence_number bigint, error_code text, error_message text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p record;
    res kinesis_node.put_result[] := '{}';
    ords integer[] := '{}';
    owners integer[] := '{}';
BEGIN
    FOR p IN SELECT * FROM kinesis_cluster._pack(stream_name, partition_keys, data, explicit_hash_keys) LOOP
        BEGIN
            res := res || ARRAY(SELECT r FROM kinesis_cluster._put_node(p.node, batch, stream_name, p.part) r);
        EXCEPTION WHEN others THEN
            IF NOT kinesis_cluster._unreachable_error(SQLSTATE, SQLERRM) THEN
                RAISE;
            END IF;
            res := res || ARRAY(SELECT ROW(o, NULL, NULL, 'InternalFailure',
                                           format('node %s (%s) is unreachable: %s', p.node,
                                                  (SELECT n.node_name FROM kinesis_cluster.nodes n WHERE n.node_id = p.node),
                                                  SQLERRM))::kinesis_node.put_result
                                  FROM unnest(p.ords) o);
        END;
        ords := ords || p.ords;
        owners := owners || array_fill(p.node, ARRAY[cardinality(p.ords)]);
    END LOOP;
    RETURN QUERY
        SELECT CASE WHEN r.shard_index IS NOT NULL
                    THEN 'shardId-' || lpad(m.nd::text, 3, '0') || lpad(r.shard_index::text, 9, '0') END,
               r.sequence_number, r.error_code, r.error_message
          FROM unnest(ords, owners) AS m(o, nd) JOIN unnest(res) r ON r.ord = m.o
         ORDER BY m.o;
END
$$;

CREATE FUNCTION kinesis_cluster.put_record(stream_name text, partition_key text, data bytea,
                                           explicit_hash_key numeric DEFAULT NULL)
    RETURNS TABLE (shard_id text, sequence_number bigint)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM kinesis_cluster.put_records(stream_name, ARRAY[partition_key], ARRAY[data],
                                                     CASE WHEN explicit_hash_key IS NOT NULL THEN ARRAY[explicit_hash_key] END);
    IF r.error_code IS NOT NULL THEN
        RAISE EXCEPTION '%: %', r.error_code, r.error_message
            USING ERRCODE = CASE r.error_code WHEN 'ProvisionedThroughputExceededException' THEN '53400' ELSE '08006' END;
    END IF;
    shard_id := r.shard_id;
    sequence_number := r.sequence_number;
    RETURN NEXT;
END
$$;

-- get_shard_iterator: on the node that owns the shard; the iterator names the node and the
-- node's shard index (so that the end of a parent names children on other nodes).
CREATE FUNCTION kinesis_cluster.get_shard_iterator(stream_name text, shard_id text, shard_iterator_type text,
                                                   starting_sequence_number bigint DEFAULT NULL,
                                                   "timestamp" timestamptz DEFAULT NULL) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p record;
BEGIN
    p := kinesis_cluster._shard_node(stream_name, shard_id);
    RETURN 'n' || (p.node).node_id || '.' || substr(p.local_shard_id, 9)::integer || '.'
           || kinesis_cluster._get_shard_iterator((p.node).node_id, stream_name, p.local_shard_id, shard_iterator_type,
                                                  starting_sequence_number, "timestamp");
END
$$;

-- get_records: from the node the iterator names; shard ids translated to cluster ids; at the end
-- of a parent split onto another node, child_shards names the children there.
CREATE FUNCTION kinesis_cluster.get_records(shard_iterator text, "limit" integer DEFAULT 10000)
    RETURNS kinesis_cluster.get_records_result
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    m text[] := regexp_match(shard_iterator, '^n([0-9]{1,3})\.([0-9]{1,5})\.(.+)$');
    node integer;
    local_it text;
    sid text;
    result kinesis_cluster.get_records_result;
    recs kinesis_cluster.record[] := '{}';
    r record;
BEGIN
    IF m IS NULL OR NOT EXISTS (SELECT FROM kinesis_cluster.nodes n WHERE n.node_id = m[1]::integer) THEN
        RAISE EXCEPTION 'InvalidArgumentException: invalid cluster shard iterator' USING ERRCODE = '22023',
            HINT = 'Use an iterator returned by kinesis_cluster.get_shard_iterator or get_records.';
    END IF;
    node := m[1]::integer;
    local_it := m[3];
    FOR r IN SELECT * FROM kinesis_cluster._get_records(node, local_it, "limit") g ORDER BY g.ord LOOP
        IF r.ord = 0 THEN
            result.next_shard_iterator := CASE WHEN r.next_shard_iterator IS NOT NULL
                                               THEN 'n' || node || '.' || m[2] || '.' || r.next_shard_iterator END;
            result.millis_behind_latest := r.millis_behind_latest;
            result.child_shards := CASE WHEN r.child_shards IS NOT NULL THEN
                ARRAY(SELECT kinesis_cluster._shard_id(node, c) FROM unnest(r.child_shards) WITH ORDINALITY AS x(c, o) ORDER BY o)
                || ARRAY(SELECT unnest(p.child_shard_ids) FROM kinesis_cluster.placements p
                          WHERE p.parent_shard_id = kinesis_cluster._shard_id(node, 'shardId-' || m[2])
                          ORDER BY p.placement_id) END;
        ELSE
            -- a record's shard: its sequence number says which (low 16 bits: local shard index)
            sid := kinesis_cluster._shard_id(node, 'shardId-' || (r.sequence_number & 65535));
            recs := recs || ROW(sid, r.sequence_number, r.approximate_arrival_timestamp, r.partition_key,
                                r.data)::kinesis_cluster.record;
        END IF;
    END LOOP;
    result.records := recs;
    RETURN result;
END
$$;

-- split_shard: on the owning node, at the local key of the cluster key given.
CREATE FUNCTION kinesis_cluster.split_shard(stream_name text, shard_to_split text, new_starting_hash_key numeric)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p record;
BEGIN
    p := kinesis_cluster._shard_node(stream_name, shard_to_split);
    IF new_starting_hash_key IS NULL
       OR new_starting_hash_key NOT BETWEEN (p.node).starting_hash_key + 1 AND (p.node).ending_hash_key THEN
        RAISE EXCEPTION 'InvalidArgumentException: new starting hash key % is not inside the range of node % (shard %)',
            new_starting_hash_key, (p.node).node_name, shard_to_split USING ERRCODE = '22023';
    END IF;
    PERFORM kinesis_cluster._split_shard((p.node).node_id, stream_name, p.local_shard_id,
                                         kinesis_cluster._to_local(p.node, new_starting_hash_key));
END
$$;

-- merge_shards: both shards must live on the same node (adjacent there).
CREATE FUNCTION kinesis_cluster.merge_shards(stream_name text, shard_to_merge text, adjacent_shard_to_merge text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    a record;
    b record;
BEGIN
    a := kinesis_cluster._shard_node(stream_name, shard_to_merge);
    b := kinesis_cluster._shard_node(stream_name, adjacent_shard_to_merge);
    IF (a.node).node_id <> (b.node).node_id THEN
        RAISE EXCEPTION 'InvalidArgumentException: shards % and % live on different nodes and cannot be merged',
            shard_to_merge, adjacent_shard_to_merge USING ERRCODE = '22023';
    END IF;
    PERFORM kinesis_cluster._merge_shards((a.node).node_id, stream_name, a.local_shard_id, b.local_shard_id);
END
$$;

-- split_shard_to_node(stream_name, shard_to_split, new_starting_hash_key, node_name): grow the
-- cluster without moving data (superuser: it changes where everyone's puts go).  The shard closes
-- on its node (kinesis.close_shard: no more puts, its records stay readable until retention ages
-- them out); two children covering its range, split at new_starting_hash_key, open on node_name
-- (a node added by add_node) numbered above the parent's ending sequence number
-- (kinesis.open_shards); the placement catalog sends the range's puts there from the commit on.
-- Puts wait meanwhile (they lock the placements ACCESS SHARE before routing; this locks them
-- ACCESS EXCLUSIVE), so no put lands in the parent after a child took one.  The node calls commit on
-- their own: after a failure half-way, run the same call again (a parent already closed is not
-- closed twice, children already opened are reused).  The node calls run as the stream's owner
-- (its role on the proxy too), so that the new node's copy of the stream belongs to it (it needs
-- CREATE on kinesis_records there).  Returns the children's cluster shard ids.
CREATE FUNCTION kinesis_cluster.split_shard_to_node(stream_name text, shard_to_split text,
                                                    new_starting_hash_key numeric, node_name text)
    RETURNS text[]
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p record;
    target kinesis_cluster.nodes;
    sh record;
    lo numeric;
    hi numeric;
    ending bigint;
    retention interval;
    children text[];
    owner text;
BEGIN
    IF stream_name IS NULL OR new_starting_hash_key IS NULL OR node_name IS NULL THEN
        RAISE EXCEPTION 'ValidationException: stream name, shard, new starting hash key and node name must not be null'
            USING ERRCODE = '22023';
    END IF;
    p := kinesis_cluster._shard_node(stream_name, shard_to_split);
    SELECT * INTO target FROM kinesis_cluster.nodes n WHERE n.node_name = split_shard_to_node.node_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: node % not found', node_name USING ERRCODE = '42704',
            HINT = 'Add it first with kinesis_cluster.add_node(node_name, connection_string).';
    END IF;
    IF target.starting_hash_key IS NOT NULL OR target.node_id = (p.node).node_id THEN
        RAISE EXCEPTION 'InvalidArgumentException: node % owns a home range or holds the shard; split onto a node added by add_node',
            node_name USING ERRCODE = '22023';
    END IF;
    LOCK TABLE kinesis_cluster.placements IN ACCESS EXCLUSIVE MODE;
    IF EXISTS (SELECT FROM kinesis_cluster.placements pl
                WHERE pl.stream_name = split_shard_to_node.stream_name AND pl.parent_shard_id = shard_to_split) THEN
        RAISE EXCEPTION 'InvalidArgumentException: shard % of stream % has already been split onto another node',
            shard_to_split, stream_name USING ERRCODE = '22023';
    END IF;
    owner := kinesis_cluster._stream_owner((p.node).node_id, stream_name);
    IF owner IS NULL THEN
        RAISE EXCEPTION 'ResourceNotFoundException: stream % not found', stream_name USING ERRCODE = '42704';
    END IF;
    EXECUTE format('SET LOCAL ROLE %I', owner);
    SELECT * INTO sh FROM kinesis_cluster._list_shards((p.node).node_id, stream_name) l
     WHERE l.shard_id = p.local_shard_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: shard % of stream % not found', shard_to_split, stream_name
            USING ERRCODE = '42704';
    END IF;
    lo := kinesis_cluster._to_cluster(p.node, sh.starting_hash_key);
    hi := kinesis_cluster._to_cluster(p.node, sh.ending_hash_key + 1) - 1;
    IF new_starting_hash_key NOT BETWEEN lo + 2 AND hi - 1 THEN
        RAISE EXCEPTION 'InvalidArgumentException: new starting hash key % is not both greater than one plus the starting hash key % of shard % and less than its ending hash key %',
            new_starting_hash_key, lo, shard_to_split, hi USING ERRCODE = '22023';
    END IF;
    IF sh.ending_sequence_number IS NULL THEN
        ending := kinesis_cluster._close_shard((p.node).node_id, stream_name, p.local_shard_id);
    ELSIF EXISTS (SELECT FROM kinesis_cluster._list_shards((p.node).node_id, stream_name) l
                   WHERE l.parent_shard_id = p.local_shard_id OR l.adjacent_parent_shard_id = p.local_shard_id) THEN
        RAISE EXCEPTION 'InvalidArgumentException: shard % of stream % has already been merged or split', shard_to_split, stream_name
            USING ERRCODE = '22023';
    ELSE
        ending := sh.ending_sequence_number;    -- closed by an earlier call that failed later
    END IF;
    retention := (SELECT d.retention_period FROM kinesis_cluster._describe_stream_summary((p.node).node_id, stream_name) d);
    -- children opened by an earlier call that failed before its placement committed: reuse them
    BEGIN
        children := ARRAY(SELECT kinesis_cluster._shard_id(target.node_id, l.shard_id)
                            FROM kinesis_cluster._list_shards(target.node_id, stream_name) l
                           WHERE l.ending_sequence_number IS NULL AND l.starting_sequence_number > ending
                             AND (l.starting_hash_key, l.ending_hash_key)
                                 IN ((lo, new_starting_hash_key - 1), (new_starting_hash_key, hi))
                           ORDER BY l.shard_id);
    EXCEPTION WHEN undefined_object THEN
        children := '{}';       -- the stream is not on the new node yet
    END;
    IF cardinality(children) <> 2 THEN
        -- the children's stream on the new node belongs to the stream's owner (the role now)
        children := ARRAY(SELECT kinesis_cluster._shard_id(target.node_id, o.shard_id)
                            FROM kinesis_cluster._open_shards(target.node_id, stream_name,
                                     ARRAY[lo, new_starting_hash_key], ARRAY[new_starting_hash_key - 1, hi],
                                     ending, retention) o
                           ORDER BY o.shard_id);
    END IF;
    SET LOCAL ROLE NONE;
    INSERT INTO kinesis_cluster.placements (stream_name, starting_hash_key, ending_hash_key, node_id,
                                            parent_shard_id, child_shard_ids)
    VALUES (stream_name, lo, hi, target.node_id, shard_to_split, children);
    RETURN children;
END
$$;
REVOKE ALL ON FUNCTION kinesis_cluster.split_shard_to_node(text, text, numeric, text) FROM PUBLIC;
