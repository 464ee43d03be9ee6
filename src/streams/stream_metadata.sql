-- Stream metadata (src/streams/stream_metadata.sql): tags, resource
-- policies, the encryption and enhanced-monitoring settings and the account
-- limits of the Kinesis API, stored so that they are returned as given.
--
-- Rights: changing a stream's tags, policy, encryption or monitoring needs
-- the privileges of the stream's owner (a consumer's tags and policy: of the
-- stream's owner or of the role that registered the consumer); listing tags
-- and reading a policy needs SELECT on the stream's records (a reader) or
-- the owner's privileges.  The writers run as the extension owner
-- (kinesis_glue.run_as_owner) and check kinesis_glue.caller() first.
-- Deleting a stream or a consumer deletes its rows (ON DELETE CASCADE).
--
-- Encryption and shard-level metrics are recorded, not applied: records are
-- stored in PostgreSQL's tables (encrypt the storage underneath), and the
-- metrics of a stream are the views kinesis.stream_stability and
-- kinesis.consumer_positions, not CloudWatch.
--
-- Locking: a writer locks the stream's kinesis.streams row FOR NO KEY UPDATE,
-- so concurrent writers of one stream's metadata take turns (the 50-tag
-- limit holds) and delete_stream waits for them.

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

-- What DescribeStream(Summary) adds to describe_stream_summary (whose row
-- DESIGN.md fixes and kinesis_cluster proxies column for column): the
-- encryption, the shard-level metrics and, for ON_DEMAND streams only (as
-- Kinesis reports it), the record distribution strategy.
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
