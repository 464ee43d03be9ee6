-- Kinesis Video Streams (src/video): the catalog, the storage of fragments,
-- the control plane and put_media.  Reads are in video_read.sql, stream
-- processors in video_processors.sql.
--
-- Storage: each video stream has a fragment table
-- kinesis_video_media.<name>, owned by the extension owner (so no user can
-- attach code to it) and partitioned by
-- server timestamp into time segments kinesis_video_segments.v<id>_<n>.
-- The worker creates segments ahead of need (the put path never runs DDL)
-- and drops whole segments once they have passed the data retention (no
-- DELETE, no VACUUM).  The media column is stored EXTERNAL: out of line in
-- the segment's TOAST table, without a pglz attempt (media is already
-- compressed), so scans of fragment metadata never read media pages.
--
-- Privileges: CREATE on schema kinesis_video_media creates streams; the
-- creator becomes the stream's owner (streams.owner), administers the
-- stream, and holds INSERT (put_media) and SELECT (every read) on the
-- fragment table WITH GRANT OPTION, to GRANT them to others.  Direct DML on fragment tables is
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
    media_table regclass,          -- owned by the extension owner (see owner)
    trim_before timestamptz,       -- fragments older stay expired after a retention increase
    -- added in 0.2.0 (new columns go last: an upgraded catalog matches a fresh one)
    owner regrole NOT NULL         -- administers the stream; holds SELECT, INSERT WITH GRANT OPTION on media_table
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

-- Does the caller (kinesis_glue.caller(): the role that called the
-- run-as-owner function, or the current user) have the privileges of this
-- stream owner?  (Superusers always do, even when the role no longer exists.)
CREATE FUNCTION kinesis_video._owns(owner regrole) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT pg_has_role(kinesis_glue.caller(), owner, 'USAGE')
$$;

-- Everybody sees the streams (like pg_class); PUBLIC may only read: the
-- writes are done as the extension owner, after their checks, by the C
-- functions and by update_data_retention (README "Catalogs").
ALTER TABLE kinesis_video.streams ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON kinesis_video.streams FOR SELECT USING (true);
CREATE POLICY owned ON kinesis_video.streams FOR UPDATE
    USING (kinesis_video._owns(owner)) WITH CHECK (kinesis_video._owns(owner));
GRANT SELECT ON kinesis_video.streams TO PUBLIC;

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
