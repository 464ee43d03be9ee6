
# Video Streams with the background worker (src/video):
#   1. retention by the worker: whole time segments are dropped once they
#      pass the data retention (a buffer-only stream after
#      kinesis_glue.video_buffer_retention; a 1-hour stream when the
#      retention clock is moved), and their fragments are gone;
#   2. a live get_media reader waiting in another session is woken by the
#      commit of a new fragment and returns it;
#   3. the processor pipeline end to end: camera fragments -> processor
#      function (run as the processor's owner) -> data stream -> event
#      source mapping -> alert table and NOTIFY on a channel; a failing
#      processor records its error, retries, parks the fragment, and does
#      not hold up the other;
#   4. a crash during ingest: producers put fragments (and a ledger row in
#      the same transaction); the postmaster is killed with SIGKILL; after
#      the restart every committed fragment is there with its media, and
#      new fragments get numbers above every number handed out before.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $node = kg_node(
	'video',
	set => {
		max_connections => 30,
		restart_after_crash => 'on',
		'kinesis_glue.video_segment_interval' => '1s',
		'kinesis_glue.video_buffer_retention' => '2s'
	});

sub sql { return kg_sql($node, $_[0]); }

kg_wait_worker($node);

#
# 1. retention by the worker, by segment
#
sql(q{SELECT kinesis_video.create_stream('ret-buffer')});
sql(q{SELECT kinesis_video.create_stream('ret-hour', data_retention_in_hours => 1)});
for my $s ('ret-buffer', 'ret-hour')
{
	sql(qq{SELECT kinesis_video.put_media('$s', decode(repeat('ab', 100000), 'hex'), clock_timestamp(), 1000)
	         FROM generate_series(1, 3)});
}
my $first_segments = sql(q{SELECT string_agg(relation::text, ',' ORDER BY relation::text)
                             FROM kinesis_video.segments g JOIN kinesis_video.streams s USING (stream_id)
                            WHERE s.stream_name = 'ret-hour' AND g.range_start <= now()});
is(sql(q{SELECT count(*) FROM kinesis_video.list_fragments('ret-buffer')}), '3', 'buffer: three fragments');
# the buffer keeps fragments 2 s: the worker drops their segment
kg_wait($node, q{SELECT count(*) = 0 FROM kinesis_video.list_fragments('ret-buffer')}, 't', 'the buffer to expire');
kg_wait($node, q{SELECT NOT EXISTS (SELECT 1 FROM kinesis_video.segments g JOIN kinesis_video.streams s USING (stream_id)
                               WHERE s.stream_name = 'ret-buffer' AND g.range_end < now() - interval '3 s')}, 't',
	'the expired buffer segments to be dropped');
# the hour stream keeps its fragments until the retention clock passes them
usleep(1_500_000);
is(sql(q{SELECT count(*) FROM kinesis_video.list_fragments('ret-hour')}), '3', 'hour: fragments kept');
$node->append_conf('postgresql.conf', "kinesis_glue.retention_clock_offset = 2h\n");
$node->reload;
kg_wait($node, q{SELECT count(*) = 0 FROM kinesis_video.list_fragments('ret-hour')}, 't', 'the hour stream to expire');
ok( kg_wait(
		$node, qq{SELECT count(*) FROM pg_class
	               WHERE oid::regclass::text = ANY (string_to_array('$first_segments', ','))},
		'0', 'the segments that held the fragments of ret-hour to be dropped'),
	'hour: the segments that held the fragments were dropped whole');
is(sql(q{SELECT count(*) > 0 FROM kinesis_video.segments g JOIN kinesis_video.streams s USING (stream_id)
          WHERE s.stream_name = 'ret-hour' AND g.range_end > now()}), 't', 'hour: current segments stay');
$node->append_conf('postgresql.conf', "kinesis_glue.retention_clock_offset = 0\n");
$node->reload;

#
# 2. a live reader is woken by the commit of a new fragment
#
sql(q{SELECT kinesis_video.create_stream('live', data_retention_in_hours => 1)});
sql(q{SELECT kinesis_video.put_media('live', 'old', clock_timestamp(), 1000)});
my $last = sql(q{SELECT max(fragment_number) FROM kinesis_video.list_fragments('live')});
my $reader = kg_psql_bg($node, 'reader', timeout => 90,
	command => "SELECT fragment_number || ':' || convert_from(media, 'UTF8') FROM kinesis_video.get_media('live', 'FRAGMENT_NUMBER', after_fragment_number => $last, wait => '60 s')");
kg_wait($node, q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%get_media(''live''%' AND wait_event_type = 'Extension'}, 't',
	'the reader to wait');
# an uncommitted put does not wake it with anything
my $bg = $node->background_psql('postgres');
$bg->query_safe(q{BEGIN});
$bg->query_safe(q{SELECT kinesis_video.put_media('live', 'new', clock_timestamp(), 1000)});
usleep(300_000);
is(sql(q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%get_media(''live''%' AND wait_event_type = 'Extension'}),
	'1', 'live: the reader still waits while the put is uncommitted');
$bg->query_safe(q{COMMIT});
kg_finish($reader);
my $new = sql(q{SELECT max(fragment_number) FROM kinesis_video.list_fragments('live')});
is(${ $reader->{out} }, "$new:new\n", 'live: the waiting reader returned the fragment committed meanwhile');
is(${ $reader->{err} }, '', 'live: no error');

#
# 3. camera -> processor -> data stream -> event source mapping -> alert
#
sql(q{
CREATE ROLE camera_ops;
GRANT CREATE ON SCHEMA kinesis_video_media, kinesis_records, public TO camera_ops;
CREATE TABLE alerts (id serial, body jsonb);
GRANT INSERT ON alerts TO camera_ops;
GRANT USAGE ON SEQUENCE alerts_id_seq TO camera_ops;
});
sql(q{
SET ROLE camera_ops;
SELECT kinesis_video.create_stream('door-cam', 'video/h264', 24);
SELECT kinesis.create_stream('door-events');
-- the "Rekognition" step: a person when the producer tagged motion, and who ran us
CREATE FUNCTION public.detect_person(f kinesis_video.fragment) RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF f.fragment_metadata ? 'motion' THEN
        RETURN NEXT jsonb_build_object('Label', 'PERSON', 'Confidence', 99.1, 'RanAs', current_user);
    END IF;
END $$;
-- the "Lambda" + "SNS" step
CREATE FUNCTION public.on_door_event(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.alerts (body) SELECT convert_from(r.data, 'UTF8')::jsonb FROM unnest(recs) r;
    PERFORM pg_notify('door_alerts', convert_from(r.data, 'UTF8')) FROM unnest(recs) r;
END $$;
SELECT kinesis_video.create_stream_processor('door-person', 'door-cam', 'detect_person', 'door-events');
SELECT kinesis.create_event_source_mapping('door-events', 'on_door_event', starting_position => 'TRIM_HORIZON');
});
# a second processor whose function fails on a fragment
sql(q{
SET ROLE camera_ops;
SELECT kinesis.create_stream('door-events-2');
CREATE FUNCTION public.detect_flaky(f kinesis_video.fragment) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF f.fragment_metadata ? 'boom' THEN
        RAISE EXCEPTION 'detector crashed on fragment %', f.fragment_number;
    END IF;
    RETURN jsonb_build_object('Seen', f.fragment_size_in_bytes);
END $$;
SELECT kinesis_video.create_stream_processor('door-flaky', 'door-cam', 'detect_flaky', 'door-events-2',
                                             maximum_retry_attempts => 1);
});
my $listener = $node->background_psql('postgres');
$listener->query_safe(q{LISTEN door_alerts});
sql(q{
SET ROLE camera_ops;
SELECT kinesis_video.put_media('door-cam', 'f1', clock_timestamp(), 2000, '{"motion": "yes"}');
SELECT kinesis_video.put_media('door-cam', 'f2', clock_timestamp(), 2000);
SELECT kinesis_video.put_media('door-cam', 'f3', clock_timestamp(), 2000, '{"boom": "1"}');
SELECT kinesis_video.put_media('door-cam', 'f4', clock_timestamp(), 2000, '{"motion": "again"}');
});
kg_wait($node, q{SELECT count(*) = 2 FROM alerts}, 't', 'two alerts through the pipeline');
my $f1 = sql(q{SELECT fragment_number FROM kinesis_video.list_fragments('door-cam') ORDER BY 1 LIMIT 1});
is(sql(qq{SELECT body->'InputInformation'->'KinesisVideo'->>'FragmentNumber' = '$f1'
            AND body->>'Label' = 'PERSON' AND body->>'RanAs' = 'camera_ops'
            AND body->'InputInformation'->'KinesisVideo'->>'StreamName' = 'door-cam'
           FROM alerts ORDER BY id LIMIT 1}), 't',
	'pipeline: the alert names the fragment and its stream; the function ran as the owner');
my $notes = $listener->query_safe(q{SELECT 1});
like($notes, qr/Asynchronous notification "door_alerts" with payload .*PERSON/, 'pipeline: the alert was NOTIFYed');
# the failing fragment: retried, then parked; the processor went on
kg_wait($node, q{SELECT fragments_failed = 1 AND fragments_processed = 3 FROM kinesis_video.stream_processor_status
            WHERE name = 'door-flaky'}, 't', 'the failing fragment to be parked');
is(sql(q{SELECT attempts || ' ' || (error_message LIKE 'detector crashed on fragment %')
           FROM kinesis_video.stream_processor_failures}), '2 true', 'failure: recorded after the retry');
is(sql(q{SELECT last_fragment_number = (SELECT max(fragment_number) FROM kinesis_video.list_fragments('door-cam'))
           FROM kinesis_video.stream_processors WHERE name = 'door-person'}), 't',
	'failure: the other processor processed every fragment');
is(sql(q{SELECT count(*) FROM kinesis.read_shard('door-events', 'shardId-000000000000')}), '2',
	'pipeline: one data-stream record per event, each once');
$listener->quit;
$bg->quit;

# a processor whose function hangs is cancelled after kinesis_glue.mapping_timeout
# and counts as a failed attempt; the other processors go on meanwhile
kg_set_conf($node, 'kinesis_glue.mapping_timeout' => '1s');
sql(q{
SET ROLE camera_ops;
SELECT kinesis.create_stream('door-events-3');
CREATE FUNCTION public.detect_hang(f kinesis_video.fragment) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF f.fragment_metadata ? 'hang' THEN
        PERFORM pg_sleep(600);
    END IF;
    RETURN '{}';
END $$;
SELECT kinesis_video.create_stream_processor('door-hang', 'door-cam', 'detect_hang', 'door-events-3',
                                             maximum_retry_attempts => 0);
SELECT kinesis_video.put_media('door-cam', 'f5', clock_timestamp(), 2000, '{"hang": "yes", "motion": "yes"}');
});
kg_wait($node, q{SELECT count(*) = 3 FROM alerts}, 't', 'the other processor to go on while one hangs');
kg_wait($node, q{SELECT fragments_failed = 1 FROM kinesis_video.stream_processor_status WHERE name = 'door-hang'}, 't',
	'the hanging function to be cancelled and parked');
like(sql(q{SELECT error_message FROM kinesis_video.stream_processor_failures f
             JOIN kinesis_video.stream_processors p USING (processor_id) WHERE p.name = 'door-hang'}),
	qr/statement timeout/, 'hang: cancelled by the timeout and recorded');
kg_set_conf($node, 'kinesis_glue.mapping_timeout' => undef);

#
# 4. crash during ingest
#
sql(q{CREATE TABLE ledger (stream text, fragment_number bigint, media bytea)});
# one producer per stream (KVS allows one PutMedia connection per stream)
for my $s (1 .. 4)
{
	sql(qq{SELECT kinesis_video.create_stream('crash-$s', data_retention_in_hours => 1)});
}
my @producers;
for my $p (1 .. 4)
{
	my $s = $p;
	my $script = '';
	for my $i (1 .. 400)
	{
		$script .= "BEGIN;\n"
		  . "INSERT INTO ledger SELECT 'crash-$s', fragment_number, convert_to('p$p-$i', 'UTF8') "
		  . "FROM kinesis_video.put_media('crash-$s', convert_to('p$p-$i', 'UTF8'), clock_timestamp(), 1000);\n"
		  . "COMMIT;\n";
	}
	push @producers, kg_psql_bg($node, "producer$p", file => $script, timeout => 120);
}
kg_wait($node, q{SELECT count(*) >= 200 FROM ledger}, 't', 'puts before the crash');
my $issued_before = sql(q{SELECT last_value FROM kinesis_video.fragment_numbers});
kg_crash($node, @producers);

my $committed = sql(q{SELECT count(*) FROM ledger});
cmp_ok($committed, '>=', 200, "crash: $committed fragments committed before the crash");
is(sql(q{SELECT count(*) FROM ledger l
          WHERE NOT EXISTS (SELECT 1 FROM kinesis_video.get_media_for_fragment_list(l.stream, ARRAY[l.fragment_number]) m
                             WHERE m.media = l.media)}), '0', 'crash: every committed fragment is there with its media');
is(sql(q{SELECT count(*) = count(DISTINCT fragment_number) FROM ledger}), 't', 'crash: no number was given twice');
my $max_seen = sql(q{SELECT greatest((SELECT max(fragment_number) FROM ledger), } . $issued_before . q{)});
my $next = sql(q{SELECT fragment_number FROM kinesis_video.put_media('crash-1', 'after', clock_timestamp(), 1000)});
cmp_ok($next, '>', $max_seen, 'crash: a new fragment gets a number above every number handed out before');
is(sql(q{SELECT bool_and(fragment_number > lag) FROM (SELECT fragment_number, lag(fragment_number, 1, 0::bigint)
          OVER (ORDER BY server_timestamp) FROM kinesis_video.list_fragments('crash-1', max_results => 1000)) x}),
	't', 'crash: numbers still grow with server time');

$node->stop;
done_testing();
