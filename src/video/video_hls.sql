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
        sel := format('SELECT * FROM (%s) x '
                      'WHERE ($5::timestamptz IS NULL OR x.%I - $2 <= clock_timestamp() - $5) '
                      'ORDER BY fragment_number LIMIT $4', kinesis_video._range_sql(s, ts_col), ts_col);
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
