--
-- video_streams: the kinesis_video API (streams, put_media, get_media and
-- its selectors, list_fragments, get_media_for_fragment_list, get_clip,
-- get_hls_playlist, stream processors) with its results and errors.
-- Server timestamps are never printed; producer timestamps are fixed.
-- Streams of this file are named 'vs.*'; roles are regress_kv_*.
--
\set VERBOSITY default
SET timezone = 'UTC';

CREATE ROLE regress_kv_owner;
CREATE ROLE regress_kv_reader;
CREATE ROLE regress_kv_writer;
CREATE ROLE regress_kv_nobody;
GRANT CREATE ON SCHEMA kinesis_video_media TO regress_kv_owner;
GRANT CREATE ON SCHEMA kinesis_records TO regress_kv_owner;

-- no function of the component widens privileges
SELECT count(*) AS security_definer_functions
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname LIKE 'kinesis_video%' AND p.prosecdef;

--
-- create_stream: validation, duplicates, privileges
--
SELECT kg_try($$SELECT kinesis_video.create_stream('')$$);
SELECT kg_try($$SELECT kinesis_video.create_stream(repeat('x', 257))$$);
SELECT kg_try($$SELECT kinesis_video.create_stream('vs.bad"name; DROP TABLE x')$$);
SELECT kg_try($$SELECT kinesis_video.create_stream(NULL)$$);
SELECT kg_try($$SELECT kinesis_video.create_stream('vs.x', 'video')$$);
SELECT kg_try($$SELECT kinesis_video.create_stream('vs.x', 'video/h264,')$$);
SELECT kg_try($$SELECT kinesis_video.create_stream('vs.x', 'video/h264;drop')$$);
SELECT kg_try($$SELECT kinesis_video.create_stream('vs.x', data_retention_in_hours => -1)$$);
SELECT kg_try($$SELECT kinesis_video.create_stream('vs.x', data_retention_in_hours => 87601)$$);
SELECT kg_try($$SELECT kinesis_video.create_stream('vs.x', device_name => '')$$);
SET ROLE regress_kv_nobody;
SELECT kg_try($$SELECT kinesis_video.create_stream('vs.denied')$$);
RESET ROLE;
SELECT count(*) AS nothing_created FROM kinesis_video.streams;

SET ROLE regress_kv_owner;
SELECT kinesis_video.create_stream('vs.cam', 'video/h264,audio/aac', 24) LIKE 'arn:aws:kinesisvideo:postgresql:%:stream/vs.cam/%' AS arn_ok;
SELECT kinesis_video.create_stream('vs.buffer') IS NOT NULL AS created;
SELECT kinesis_video.create_stream('vs.other', data_retention_in_hours => 1, device_name => 'door') IS NOT NULL AS created;
SELECT kg_try($$SELECT kinesis_video.create_stream('vs.cam')$$);
RESET ROLE;
-- the creator owns the stream; the extension owner owns the fragment table
-- (nobody can attach code to it) and the creator holds SELECT and INSERT
-- on it with grant option; segments exist ahead of need
SELECT s.stream_name, s.owner, t.tableowner = e.extowner::regrole::name AS table_of_extension,
       has_table_privilege(s.owner::oid, s.media_table::oid, 'SELECT WITH GRANT OPTION') AS sel,
       has_table_privilege(s.owner::oid, s.media_table::oid, 'INSERT WITH GRANT OPTION') AS ins,
       has_table_privilege(s.owner::oid, s.media_table::oid, 'UPDATE, DELETE, TRUNCATE, TRIGGER') AS other
  FROM kinesis_video.streams s
  JOIN pg_tables t ON t.schemaname = 'kinesis_video_media' AND t.tablename = s.stream_name
  CROSS JOIN pg_extension e
 WHERE e.extname = 'kinesis_glue' ORDER BY 1;
SELECT s.stream_name, count(*) >= 2 AS segments_ahead,
       bool_and(g.range_end > now()) AS all_current_or_future
  FROM kinesis_video.streams s JOIN kinesis_video.segments g USING (stream_id)
 GROUP BY s.stream_name ORDER BY s.stream_name;
-- media is stored out of line without compression attempts
SELECT DISTINCT a.attstorage FROM kinesis_video.segments g
  JOIN pg_attribute a ON a.attrelid = g.relation AND a.attname = 'media';

--
-- describe_stream, list_streams
--
SELECT stream_name, media_type, kms_key_id, device_name, version, status,
       data_retention_in_hours, media_table
  FROM kinesis_video.describe_stream('vs.cam');
SELECT kg_try($$SELECT * FROM kinesis_video.describe_stream('vs.missing')$$);
SELECT stream_name, version, status, data_retention_in_hours FROM kinesis_video.list_streams();
SELECT stream_name FROM kinesis_video.list_streams('vs.o');
SELECT stream_name FROM kinesis_video.list_streams(max_results => 1);
SELECT kg_try($$SELECT * FROM kinesis_video.list_streams(max_results => 0)$$);

--
-- update_data_retention
--
SELECT kg_try($$SELECT kinesis_video.update_data_retention('vs.other', 1, 'GROW', 1)$$);
SELECT kg_try($$SELECT kinesis_video.update_data_retention('vs.other', 1, 'INCREASE_DATA_RETENTION', 0)$$);
SELECT kg_try($$SELECT kinesis_video.update_data_retention('vs.other', 7, 'INCREASE_DATA_RETENTION', 1)$$);
SELECT kg_try($$SELECT kinesis_video.update_data_retention('vs.other', 1, 'DECREASE_DATA_RETENTION', 2)$$);
SELECT kg_try($$SELECT kinesis_video.update_data_retention('vs.other', 1, 'INCREASE_DATA_RETENTION', 87600)$$);
SELECT kg_try($$SELECT kinesis_video.update_data_retention('vs.missing', 1, 'INCREASE_DATA_RETENTION', 1)$$);
SET ROLE regress_kv_nobody;
SELECT kg_try($$SELECT kinesis_video.update_data_retention('vs.other', 1, 'INCREASE_DATA_RETENTION', 1)$$);
SET ROLE regress_kv_owner;
SELECT kinesis_video.update_data_retention('vs.other', 1, 'INCREASE_DATA_RETENTION', 47);
SELECT kinesis_video.update_data_retention('vs.other', 2, 'DECREASE_DATA_RETENTION', 24);
RESET ROLE;
SELECT version, data_retention_in_hours FROM kinesis_video.describe_stream('vs.other');

--
-- put_media: limits and errors change nothing
--
SET ROLE regress_kv_owner;
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.missing', '\x00', '2030-01-01', 2000)$$);
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', NULL, '2030-01-01', 2000)$$);
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', '', '2030-01-01', 2000)$$);
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', '\x00', '2030-01-01', 999)$$);
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', '\x00', '2030-01-01', 20001)$$);
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', '\x00', 'infinity', 2000)$$);
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', '\x00', '2030-01-01', 2000, '[1]')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', '\x00', '2030-01-01', 2000, '{"AWS_X": "a"}')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', '\x00', '2030-01-01', 2000, '{"n": 1}')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', '\x00', '2030-01-01', 2000,
                  jsonb_build_object('v', repeat('x', 257)))$$);
SELECT kg_try(format($f$SELECT * FROM kinesis_video.put_media('vs.cam', '\x00', '2030-01-01', 2000, %L)$f$,
                     (SELECT jsonb_object_agg('k' || i, 'v') FROM generate_series(1, 11) i)));
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', decode(repeat('00', 50 * 1024 * 1024 + 1), 'hex'), '2030-01-01', 2000)$$);
SELECT count(*) AS no_fragments FROM kinesis_video.list_fragments('vs.cam');

-- five fragments of 2 s, numbers increasing
SELECT p.fragment_number, p.server_timestamp <= clock_timestamp() AS stamped
  FROM generate_series(0, 4) i,
       LATERAL kinesis_video.put_media('vs.cam', convert_to('frag' || i, 'UTF8'),
                                       '2030-01-01 00:00:00+00'::timestamptz + i * interval '2 s', 2000,
                                       CASE WHEN i = 2 THEN '{"event": "door"}'::jsonb END) p;
-- out of producer-time order: refused (KVS error 4004); the same timestamp is accepted
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', '\x00', '2030-01-01 00:00:07+00', 2000)$$);
SELECT fragment_number FROM kinesis_video.put_media('vs.cam', 'frag4b', '2030-01-01 00:00:08+00', 2000);
-- a transaction that put fragments cannot be prepared
BEGIN;
SELECT fragment_number FROM kinesis_video.put_media('vs.other', 'x', '2030-01-01', 1000);
PREPARE TRANSACTION 'kv_put';
SELECT count(*) AS after_refused_prepare FROM kinesis_video.list_fragments('vs.other');
RESET ROLE;

--
-- fragments cannot be changed directly, nor their storage
--
SELECT kg_try($$INSERT INTO kinesis_video_media."vs.cam" VALUES (99, 99, now(), now(), 1000, 1, NULL, '\x00')$$);
SELECT kg_try($$UPDATE kinesis_video_media."vs.cam" SET media = '\x00'$$);
SELECT kg_try($$DELETE FROM kinesis_video_media."vs.cam"$$);
SELECT kg_try($$TRUNCATE kinesis_video_media."vs.cam"$$);
SELECT kg_try($$ALTER TABLE kinesis_video_media."vs.cam" DISABLE TRIGGER forbid_direct_dml$$);
SELECT kg_try($$DROP TABLE kinesis_video_media."vs.cam"$$);
-- no code of the owner's runs inside a put: triggers, rules and policies are refused
SELECT kg_try($$CREATE TRIGGER mine BEFORE INSERT ON kinesis_video_media."vs.cam"
                FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()$$);
SELECT kg_try($$CREATE RULE mine AS ON INSERT TO kinesis_video_media."vs.cam" DO ALSO NOTIFY x$$);
SELECT kg_try($$CREATE POLICY mine ON kinesis_video_media."vs.cam" USING (true)$$);
SELECT kg_try($$DROP TABLE kinesis_video_segments.v1_0$$);
SELECT count(*) AS still_six FROM kinesis_video.list_fragments('vs.cam');

--
-- get_media: every start selector, in order, with continuation tokens
--
SELECT fragment_number, producer_timestamp, fragment_length_in_milliseconds, fragment_size_in_bytes,
       fragment_metadata, convert_from(media, 'UTF8') AS media, millis_behind_now >= 0 AS lag_ok
  FROM kinesis_video.get_media('vs.cam', 'EARLIEST');
SELECT fragment_number FROM kinesis_video.get_media('vs.cam', 'NOW');
SELECT fragment_number FROM kinesis_video.get_media('vs.cam', 'FRAGMENT_NUMBER', after_fragment_number => 3);
-- the fragment containing the timestamp, then the rest
SELECT fragment_number FROM kinesis_video.get_media('vs.cam', 'PRODUCER_TIMESTAMP',
                                                    start_timestamp => '2030-01-01 00:00:03+00');
SELECT fragment_number FROM kinesis_video.get_media('vs.cam', 'PRODUCER_TIMESTAMP',
                                                    start_timestamp => '2030-01-01 00:00:04+00', max_fragments => 2);
SELECT count(*) AS all_after_a_past_server_time
  FROM kinesis_video.get_media('vs.cam', 'SERVER_TIMESTAMP', start_timestamp => now() - interval '1 hour');
SELECT count(*) AS none_after_a_future_server_time
  FROM kinesis_video.get_media('vs.cam', 'SERVER_TIMESTAMP', start_timestamp => now() + interval '1 hour');
-- resume from a token: the chunk after the one that carried it
SELECT continuation_token AS token FROM kinesis_video.get_media('vs.cam', 'EARLIEST', max_fragments => 2)
 ORDER BY fragment_number DESC LIMIT 1 \gset
SELECT fragment_number FROM kinesis_video.get_media('vs.cam', 'CONTINUATION_TOKEN', continuation_token => :'token');
-- tokens are checked, and bound to their stream
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.cam', 'CONTINUATION_TOKEN', continuation_token => '2.000000000000')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.cam', 'CONTINUATION_TOKEN', continuation_token => 'x''; --')$$);
SELECT kg_try(format($$SELECT * FROM kinesis_video.get_media('vs.other', 'CONTINUATION_TOKEN', continuation_token => %L)$$, :'token'));
-- selector arguments
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.cam', 'LATEST')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.cam', 'FRAGMENT_NUMBER')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.cam', 'EARLIEST', after_fragment_number => 1)$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.cam', 'SERVER_TIMESTAMP')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.cam', 'EARLIEST', max_fragments => 0)$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.cam', 'EARLIEST', wait => '2 hours')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.missing', 'EARLIEST')$$);
-- waiting: nothing new arrives, so the call returns empty after the wait
SELECT count(*) AS nothing_new FROM kinesis_video.get_media('vs.cam', 'FRAGMENT_NUMBER',
                                                              after_fragment_number => 6, wait => '20 ms');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.cam', 'NOW', wait => '1 s')$$);
COMMIT;

--
-- list_fragments
--
SELECT fragment_number, fragment_size_in_bytes, producer_timestamp, fragment_length_in_milliseconds
  FROM kinesis_video.list_fragments('vs.cam', 'PRODUCER_TIMESTAMP', '2030-01-01 00:00:02+00', '2030-01-01 00:00:06+00');
SELECT fragment_number FROM kinesis_video.list_fragments('vs.cam', max_results => 2, after_fragment_number => 2);
SELECT count(*) FROM kinesis_video.list_fragments('vs.cam', 'SERVER_TIMESTAMP', now() - interval '1 min', now());
SELECT kg_try($$SELECT * FROM kinesis_video.list_fragments('vs.cam', 'ARRIVAL')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.list_fragments('vs.cam', 'SERVER_TIMESTAMP', now(), now() - interval '1 s')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.list_fragments('vs.cam', max_results => 1001)$$);

--
-- get_media_for_fragment_list: in the order asked
--
SELECT fragment_number, convert_from(media, 'UTF8') AS media
  FROM kinesis_video.get_media_for_fragment_list('vs.cam', ARRAY[5, 1, 3]);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media_for_fragment_list('vs.cam', ARRAY[1, 999])$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media_for_fragment_list('vs.cam', '{}')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media_for_fragment_list('vs.cam', ARRAY[1, NULL])$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media_for_fragment_list('vs.cam', array(SELECT generate_series(1, 1001)::bigint))$$);

--
-- get_clip
--
SELECT content_type, convert_from(payload, 'UTF8') AS payload, fragment_count,
       first_fragment_number, last_fragment_number
  FROM kinesis_video.get_clip('vs.cam', 'PRODUCER_TIMESTAMP', '2030-01-01 00:00:03+00', '2030-01-01 00:00:08+00');
-- duplicate producer timestamps: the newest wins, as in the playlists
SELECT convert_from(payload, 'UTF8') AS payload
  FROM kinesis_video.get_clip('vs.cam', 'PRODUCER_TIMESTAMP', '2030-01-01 00:00:08+00', '2030-01-01 00:00:09+00');
SELECT fragment_count FROM kinesis_video.get_clip('vs.cam', 'SERVER_TIMESTAMP', now() - interval '1 min', now());
SELECT kg_try($$SELECT * FROM kinesis_video.get_clip('vs.cam', 'PRODUCER_TIMESTAMP', '2030-01-01', '2030-01-02 00:00:01')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_clip('vs.cam', 'PRODUCER_TIMESTAMP', '2030-01-02', '2030-01-01')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_clip('vs.cam', 'PRODUCER_TIMESTAMP', '2031-01-01', '2031-01-01 00:01')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_clip('vs.buffer', 'SERVER_TIMESTAMP', now() - interval '1 min', now())$$);

--
-- get_hls_playlist
--
SELECT kinesis_video.get_hls_playlist('vs.cam', max_media_playlist_fragment_results => 3);
SELECT kinesis_video.get_hls_playlist('vs.cam', 'ON_DEMAND', 'PRODUCER_TIMESTAMP',
                                      '2030-01-01', '2030-01-01 00:01', display_fragment_timestamp => 'ALWAYS',
                                      base_url => 'https://media.example/hls/');
SELECT kinesis_video.get_hls_playlist('vs.cam', 'ON_DEMAND', 'PRODUCER_TIMESTAMP', '2030-01-01', '2030-01-01 00:01',
                                      discontinuity_mode => 'ON_DISCONTINUITY', container_format => 'MPEG_TS');
-- a replay paced from its session start: only what has "played" so far
SELECT kinesis_video.get_hls_playlist('vs.cam', 'LIVE_REPLAY', 'PRODUCER_TIMESTAMP', '2030-01-01 00:00:00+00',
                                      session_start => clock_timestamp() - interval '3 s');
SELECT kinesis_video.get_hls_playlist('vs.cam', 'LIVE_REPLAY', 'PRODUCER_TIMESTAMP', '2030-01-01 00:00:00+00',
                                      '2030-01-01 00:00:09+00');
SELECT kg_try($$SELECT kinesis_video.get_hls_playlist('vs.cam', 'LIVE', start_timestamp => now())$$);
SELECT kg_try($$SELECT kinesis_video.get_hls_playlist('vs.cam', 'LIVE_REPLAY')$$);
SELECT kg_try($$SELECT kinesis_video.get_hls_playlist('vs.cam', 'ON_DEMAND', start_timestamp => now())$$);
SELECT kg_try($$SELECT kinesis_video.get_hls_playlist('vs.cam', 'ON_DEMAND', 'SERVER_TIMESTAMP', now(), now() + interval '1 h')$$);
SELECT kg_try($$SELECT kinesis_video.get_hls_playlist('vs.cam', 'VOD')$$);
SELECT kg_try($$SELECT kinesis_video.get_hls_playlist('vs.cam', max_media_playlist_fragment_results => 5001)$$);
SELECT kg_try($$SELECT kinesis_video.get_hls_playlist('vs.cam', container_format => 'WEBM')$$);
SELECT kg_try($$SELECT kinesis_video.get_hls_playlist('vs.cam', discontinuity_mode => 'SOMETIMES')$$);
SELECT kg_try($$SELECT kinesis_video.get_hls_playlist('vs.buffer')$$);
SELECT kg_try($$SELECT kinesis_video.get_hls_playlist('vs.other')$$);

--
-- privileges: INSERT puts, SELECT reads; NotAuthorizedException otherwise
--
SET ROLE regress_kv_nobody;
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', '\x00', '2030-01-01 00:01', 2000)$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.cam', 'EARLIEST')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.list_fragments('vs.cam')$$);
SELECT kg_try($$SELECT * FROM kinesis_video.get_clip('vs.cam', 'PRODUCER_TIMESTAMP', '2030-01-01', '2030-01-01 00:01')$$);
SELECT kg_try($$SELECT kinesis_video.get_hls_playlist('vs.cam')$$);
SELECT kg_try($$SELECT kinesis_video.delete_stream('vs.cam')$$);
SET ROLE regress_kv_owner;
GRANT INSERT ON kinesis_video_media."vs.cam" TO regress_kv_writer;
GRANT SELECT ON kinesis_video_media."vs.cam" TO regress_kv_reader;
SET ROLE regress_kv_writer;
SELECT fragment_number FROM kinesis_video.put_media('vs.cam', 'by writer', '2030-01-01 00:01', 2000);
SELECT kg_try($$SELECT * FROM kinesis_video.get_media('vs.cam', 'NOW')$$);
SET ROLE regress_kv_reader;
SELECT fragment_number, convert_from(media, 'UTF8') FROM kinesis_video.get_media('vs.cam', 'NOW');
SELECT kg_try($$SELECT * FROM kinesis_video.put_media('vs.cam', '\x00', '2030-01-01 00:02', 2000)$$);
RESET ROLE;

--
-- stream processors (the worker's runs are tested in test/t/060_video.pl)
--
CREATE FUNCTION public.kv_detect(f kinesis_video.fragment) RETURNS SETOF jsonb
    LANGUAGE sql AS $$ SELECT jsonb_build_object('Label', 'PERSON') WHERE f.fragment_metadata ? 'event' $$;
CREATE FUNCTION public.kv_wrong(f text) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
GRANT EXECUTE ON FUNCTION public.kv_detect(kinesis_video.fragment) TO regress_kv_owner;
SET ROLE regress_kv_owner;
SELECT kinesis.create_stream('vs.events');
SELECT kg_try($$SELECT kinesis_video.create_stream_processor('bad name', 'vs.cam', 'kv_detect', 'vs.events')$$);
SELECT kg_try($$SELECT kinesis_video.create_stream_processor('p1', 'vs.missing', 'kv_detect', 'vs.events')$$);
SELECT kg_try($$SELECT kinesis_video.create_stream_processor('p1', 'vs.cam', 'kv_detect', 'vs.missing')$$);
SELECT kg_try($$SELECT kinesis_video.create_stream_processor('p1', 'vs.cam', 'kv_wrong', 'vs.events')$$);
SELECT kg_try($$SELECT kinesis_video.create_stream_processor('p1', 'vs.cam', 'kv_detect', 'vs.events', 'LATEST')$$);
SELECT kg_try($$SELECT kinesis_video.create_stream_processor('p1', 'vs.cam', 'kv_detect', 'vs.events', maximum_retry_attempts => -2)$$);
SELECT kinesis_video.create_stream_processor('p1', 'vs.cam', 'kv_detect', 'vs.events', 'EARLIEST', start => false) > 0 AS created;
SELECT kg_try($$SELECT kinesis_video.create_stream_processor('p1', 'vs.cam', 'kv_detect', 'vs.events')$$);
SELECT name, status FROM kinesis_video.list_stream_processors();
SELECT name, input_video_stream, function_name, output_stream, owner, status, last_fragment_number
  FROM kinesis_video.describe_stream_processor('p1');
-- stop and start by name (the processor was created stopped)
SELECT kinesis_video.start_stream_processor('p1');
SELECT kinesis_video.stop_stream_processor('p1');
SELECT status FROM kinesis_video.describe_stream_processor('p1');
SELECT kg_try($$SELECT kinesis_video.stop_stream_processor('p2')$$) AS stop_missing;
SELECT kg_try($$SELECT * FROM kinesis_video.describe_stream_processor('p2')$$);
SET ROLE regress_kv_nobody;
SELECT kg_try($$SELECT kinesis_video.start_stream_processor('p1')$$);
SELECT kg_try($$SELECT kinesis_video.delete_stream_processor('p1')$$);
SELECT kg_try($$SELECT kinesis_video.create_stream_processor('p9', 'vs.cam', 'kv_detect', 'vs.events')$$);
SET ROLE regress_kv_owner;
SELECT kg_try($$SELECT kinesis_video.delete_stream('vs.cam')$$);
SELECT kinesis_video.delete_stream_processor('p1');

--
-- delete_stream
--
SELECT kg_try($$SELECT kinesis_video.delete_stream('vs.cam', 42)$$);
SELECT kg_try($$SELECT kinesis_video.delete_stream('vs.missing')$$);
SELECT kinesis_video.delete_stream('vs.cam', 1);
SELECT kinesis_video.delete_stream('vs.buffer');
SELECT kinesis_video.delete_stream('vs.other');
SELECT kinesis.delete_stream('vs.events');
RESET ROLE;
SELECT count(*) AS streams_left FROM kinesis_video.streams;
SELECT count(*) AS segments_left FROM kinesis_video.segments;
SELECT count(*) AS tables_left FROM pg_tables WHERE schemaname IN ('kinesis_video_media', 'kinesis_video_segments');

--
-- video: get_clip takes the fragments that start in [start, end], the
-- same ones the ON_DEMAND playlist lists
--
SELECT kinesis_video.create_stream('vs.clip', data_retention_in_hours => 1) IS NOT NULL AS created;
SELECT count(*) FROM generate_series(0, 4) i,
       LATERAL kinesis_video.put_media('vs.clip', convert_to('f' || i, 'UTF8'),
                                       '2030-01-01 00:00:00+00'::timestamptz + i * interval '2 s', 2000) p;
-- start inside fragment 0 and end exactly at the start of fragment 3
SELECT convert_from(payload, 'UTF8') AS clip, fragment_count
  FROM kinesis_video.get_clip('vs.clip', 'PRODUCER_TIMESTAMP', '2030-01-01 00:00:01+00', '2030-01-01 00:00:06+00');
SELECT count(*) AS playlist_fragments
  FROM regexp_matches(kinesis_video.get_hls_playlist('vs.clip', 'ON_DEMAND', 'PRODUCER_TIMESTAMP',
                                                     '2030-01-01 00:00:01+00', '2030-01-01 00:00:06+00'),
                      '#EXTINF', 'g');
-- both ends inclusive: a range of one instant holds the fragment starting there
SELECT convert_from(payload, 'UTF8') AS clip
  FROM kinesis_video.get_clip('vs.clip', 'PRODUCER_TIMESTAMP', '2030-01-01 00:00:04+00', '2030-01-01 00:00:04.001+00');
SELECT convert_from(payload, 'UTF8') AS clip
  FROM kinesis_video.get_clip('vs.clip', 'PRODUCER_TIMESTAMP', '2030-01-01 00:00:03.999+00', '2030-01-01 00:00:04+00');
-- a range inside one fragment holds none
SELECT kg_try($$SELECT * FROM kinesis_video.get_clip('vs.clip', 'PRODUCER_TIMESTAMP',
                                                     '2030-01-01 00:00:04.5+00', '2030-01-01 00:00:05.5+00')$$) AS inside_one;
SELECT kinesis_video.delete_stream('vs.clip');
-- a clip built in place (video_clip.c: the row made as the tuplestore keeps
-- it, each fragment read straight from TOAST; assertion builds compare it
-- byte for byte with heap_form_minimal_tuple's): a fragment stored out of
-- line, one stored compressed (put from a compressed value, which put_media
-- hands on as it came), one stored inline, under a media type of 128
-- characters (a 4-byte header); the payload is the three concatenated
SELECT kinesis_video.create_stream('vs.bigclip', 'video/' || repeat('a', 122), 1) IS NOT NULL AS created;
CREATE TEMP TABLE clip_src AS
  SELECT (SELECT decode(string_agg(lpad(to_hex((i * 2654435761) % 4294967296), 8, '0'), ''), 'hex')
            FROM generate_series(1, 30000) i) AS noise,
         repeat('z', 300000)::bytea AS zeds;
SELECT count(*) AS put FROM (VALUES (0, (SELECT noise FROM clip_src)), (1, (SELECT zeds FROM clip_src)),
                                    (2, convert_to('inline', 'UTF8'))) f(i, media),
       LATERAL kinesis_video.put_media('vs.bigclip', f.media, '2030-01-01'::timestamptz + f.i * interval '2 s', 2000);
SELECT fragment_size_in_bytes, pg_column_compression(media) IS NOT NULL AS compressed,
       pg_column_size(media) < 2000 AS small
  FROM kinesis_video_media."vs.bigclip" ORDER BY fragment_number;
SELECT length(c.payload) AS bytes, fragment_count,
       c.payload = (SELECT noise || zeds || convert_to('inline', 'UTF8') FROM clip_src) AS same_bytes,
       c.content_type = 'video/' || repeat('a', 122) AS same_content_type,
       last_fragment_number - first_fragment_number AS span
  FROM kinesis_video.get_clip('vs.bigclip', 'PRODUCER_TIMESTAMP', '2030-01-01', '2030-01-01 00:01') c;
-- and through a cursor that scrolls back (a store with random access)
BEGIN;
DECLARE clip SCROLL CURSOR FOR
  SELECT md5(payload) = md5((SELECT noise || zeds || convert_to('inline', 'UTF8') FROM clip_src)) AS same
    FROM kinesis_video.get_clip('vs.bigclip', 'PRODUCER_TIMESTAMP', '2030-01-01', '2030-01-01 00:01');
FETCH NEXT FROM clip;
FETCH NEXT FROM clip;
FETCH FIRST FROM clip;
COMMIT;
SELECT kinesis_video.delete_stream('vs.bigclip');
DROP TABLE clip_src;
-- put_media keeps its plans per fragment table: a stream deleted and made
-- again under the same name (a new table) takes puts in the same session
SELECT kinesis_video.create_stream('vs.bigclip', data_retention_in_hours => 1) IS NOT NULL AS created;
SELECT count(*) AS put FROM kinesis_video.put_media('vs.bigclip', '\x0102', '2030-01-01', 2000);
SELECT fragment_size_in_bytes, media FROM kinesis_video_media."vs.bigclip";
SELECT kinesis_video.delete_stream('vs.bigclip');

DROP FUNCTION public.kv_detect(kinesis_video.fragment), public.kv_wrong(text);
REVOKE CREATE ON SCHEMA kinesis_video_media FROM regress_kv_owner;
REVOKE CREATE ON SCHEMA kinesis_records FROM regress_kv_owner;
DROP ROLE regress_kv_owner, regress_kv_reader, regress_kv_writer, regress_kv_nobody;
