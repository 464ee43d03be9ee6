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

-- The query of the fragments of s whose start timestamp (ts_col) is in
-- [$2, $3] ($3 NULL: no end), not expired ($1 the horizon); of fragments
-- with the same start timestamp, the newest (a producer that sent one
-- again).  get_clip and the HLS playlists take exactly these, as GetClip
-- and GetHLSStreamingSessionURL select by start timestamp.
CREATE FUNCTION kinesis_video._range_sql(s kinesis_video.streams, ts_col text) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT format('SELECT DISTINCT ON (%1$I) * FROM %2$s m WHERE m.server_timestamp >= $1 '
                  'AND m.%1$I >= $2 AND ($3::timestamptz IS NULL OR m.%1$I <= $3) '
                  'ORDER BY %1$I, fragment_number DESC', ts_col, ($1).media_table)
$$;

-- The checks of get_clip (GetClip): the caller may read the stream, it
-- retains data, the range is at most 24 hours, and the fragments that start
-- in [start_timestamp, end_timestamp] (inclusive at both ends, as the
-- ON_DEMAND playlist; of fragments with the same start timestamp, the
-- newest) are 1-200 and at most 100 MB.  Returns the clip's content type and
-- its query (kinesis_video._range_sql, parameters $1 horizon, $2 start, $3
-- end), which get_clip runs as its caller (video_clip.c).
CREATE FUNCTION kinesis_video._clip_plan(stream_name text, fragment_selector_type text,
        start_timestamp timestamptz, end_timestamp timestamptz,
        OUT content_type text, OUT range_sql text, OUT horizon timestamptz)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s kinesis_video.streams := kinesis_video._get_readable(_clip_plan.stream_name);
    ts_col text := kinesis_video._ts_column(fragment_selector_type, 'fragment selector type');
    n integer;
    bytes bigint;
BEGIN
    PERFORM kinesis_video._require_retention(s);
    IF start_timestamp IS NULL OR end_timestamp IS NULL OR end_timestamp <= start_timestamp
       OR end_timestamp - start_timestamp > interval '24 hours' THEN
        RAISE EXCEPTION 'InvalidArgumentException: a clip needs a start timestamp before its end timestamp, at most 24 hours apart'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    range_sql := kinesis_video._range_sql(s, ts_col);
    horizon := kinesis_video._horizon(s);
    EXECUTE format('SELECT count(*), sum(fragment_size_in_bytes) FROM (%s) c', range_sql)
       INTO n, bytes
       USING horizon, start_timestamp, end_timestamp;
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
    content_type := coalesce(s.media_type, 'application/octet-stream');
END
$$;

-- GetClip: the media of the fragments that start in [start_timestamp,
-- end_timestamp] (inclusive at both ends, as the ON_DEMAND playlist)
-- concatenated in order, as the producer sent them (no MP4 repackaging).
-- Limits: a range of at most 24 hours, at most 200 fragments and 100 MB.
-- Fragments with the same start timestamp count once (the newest wins).
-- The checks are kinesis_video._clip_plan's; the row is built in C
-- (video_clip.c) with each fragment read once, straight into it, and kept
-- in memory (never in a temporary file) until the caller reads it.
CREATE FUNCTION kinesis_video.get_clip(stream_name text, fragment_selector_type text,
        start_timestamp timestamptz, end_timestamp timestamptz)
    RETURNS TABLE (content_type text, payload bytea, fragment_count integer,
                   first_fragment_number bigint, last_fragment_number bigint)
    LANGUAGE c VOLATILE ROWS 1 SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'kg_video_get_clip';
