
# Acceptance test of the runtime (issue 14, "How it is judged"): one
# scenario, everything at once, for 60 seconds.
#
# Stuck user code, owned by role app (no special attributes):
#   - a Firehose delivery stream (data stream -> table) whose SQL transform
#     calls pg_sleep(1e6): each batch is cancelled at
#     kinesis_glue.delivery_timeout and counts as a failed attempt (status
#     FAILING, the reason in last_error), and its runner is never terminated
#     (it obeys the cancel);
#   - a second delivery stream of the same data stream whose transform, a
#     video stream processor whose function, and a Glue job whose script
#     loop forever catching query_canceled: each runner is terminated after its timeout plus
#     kinesis_glue.runner_grace (not before), with the reason in its status
#     view and in kinesis_glue.runners; the delivery and processor runners
#     come back (with backoff) and are terminated again.
# Meanwhile role producer (LOGIN, nothing else) puts records to its own
# stream, created with kinesis_glue.segment_records = 1024, from two pgbench
# clients for 60 s: every put succeeds across many segment boundaries,
# retention (kinesis_glue.retention_clock_offset: a segment expires 15 s
# after it closed) keeps dropping segments during the run, and what the
# puts committed is exactly what the stream holds.

use strict;
use warnings;

use KgTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $RUN_SECONDS = 60;

my $node = kg_node(
	'acceptance',
	set => {
		max_connections => 40,
		'kinesis_glue.delivery_timeout' => '2s',
		'kinesis_glue.mapping_timeout' => '2s',
		'kinesis_glue.runner_grace' => '2s',
		# retention is 24 h: a record segment expires 15 s after it closed
		'kinesis_glue.retention_clock_offset' => 86385
	});

sub sql { my ($q, %o) = @_; return $node->safe_psql('postgres', $q, %o); }

# wait_for(QUERY, EXPECTED[, SECONDS]): kg_wait, bounded by SECONDS when given
sub wait_for
{
	my ($query, $expected, $secs) = @_;
	return kg_wait($node, $query, $expected, undef, defined $secs ? (within => $secs) : ());
}

sql(q{
CREATE ROLE app;
CREATE ROLE producer LOGIN;
GRANT CREATE ON SCHEMA public, kinesis_records, kinesis_video_media TO app, producer;
ALTER ROLE producer SET kinesis_glue.segment_records = 1024;
CREATE UNLOGGED TABLE runner_log (at timestamptz, kind text, id bigint, state text, since timestamptz, reason text);
CREATE UNLOGGED TABLE segment_log (at timestamptz, first_segment bigint, current_segment bigint);
});

# ------------------------------------------------------------------------
# the stuck user code
# ------------------------------------------------------------------------
sql(q{
SET ROLE app;
} . kg_stubborn_sql() . q{

-- a. data stream -> table, the transform sleeps (the source keeps its
-- records past the retention clock offset)
SELECT kinesis.create_stream('src', 1);
SELECT kinesis.increase_stream_retention_period('src', '48 hours');
CREATE FUNCTION sleeper(recs kinesis.record[]) RETURNS SETOF firehose.transformed_record LANGUAGE sql AS
    $$ SELECT r.sequence_number, 'Ok', r.data FROM unnest(recs) r, pg_catalog.pg_sleep(1e6) $$;
CREATE TABLE fh_out (id int, sequence_number bigint);
SELECT firehose.create_delivery_stream('fh_sleep', 'fh_out', delivery_stream_type => 'KinesisStreamAsSource',
                                       kinesis_stream_name => 'src', starting_position => 'TRIM_HORIZON',
                                       buffering_interval => '0 s', transform_function => 'sleeper');

-- a'. the same stream -> table, the transform catches the cancel
CREATE FUNCTION stubborn_transform(recs kinesis.record[]) RETURNS SETOF firehose.transformed_record
    LANGUAGE plpgsql AS $$ BEGIN PERFORM public.stubborn(); END $$;
SELECT firehose.create_delivery_stream('fh_stubborn', 'fh_out', delivery_stream_type => 'KinesisStreamAsSource',
                                       kinesis_stream_name => 'src', starting_position => 'TRIM_HORIZON',
                                       buffering_interval => '0 s', transform_function => 'stubborn_transform');

-- b. a video stream processor whose function catches the cancel
SELECT kinesis_video.create_stream('cam', 'video/h264', 48);   -- past the retention clock offset
SELECT kinesis.create_stream('cam-events');
CREATE FUNCTION stuck_detect(f kinesis_video.fragment) RETURNS SETOF jsonb
    LANGUAGE plpgsql AS $$ BEGIN PERFORM public.stubborn(); END $$;
SELECT kinesis_video.create_stream_processor('stuckproc', 'cam', 'stuck_detect', 'cam-events');
SELECT count(*) FROM kinesis_video.put_media('cam', 'f1', clock_timestamp(), 2000);

-- c. a Glue job whose script loops forever catching the cancel
SELECT glue.create_job('forever', script => 'SELECT public.stubborn()', timeout => '3 seconds');

SELECT kinesis.put_record('src', 'k', convert_to('{"id": 1}', 'UTF8'));
});

# the producer's stream (1024 sequence numbers a segment) and its log of puts
sql(q{
SELECT kinesis.create_stream('feed', 1);
CREATE TABLE prodlog (seq bigint PRIMARY KEY);
}, extra_params => [ '-U', 'producer' ]);
ok( wait_for(
		"SELECT count(*) FROM kinesis.segments s JOIN kinesis.streams t USING (stream_id) WHERE t.stream_name = 'feed'", 3),
	"the worker keeps two segments ahead of the producer's current one");
my $feed_id = sql("SELECT stream_id FROM kinesis.streams WHERE stream_name = 'feed'");
my %ids = (
	fh_sleep =>
	  sql("SELECT delivery_stream_id FROM firehose.delivery_streams WHERE delivery_stream_name = 'fh_sleep'"),
	fh_stubborn =>
	  sql("SELECT delivery_stream_id FROM firehose.delivery_streams WHERE delivery_stream_name = 'fh_stubborn'"),
	stuckproc => sql("SELECT processor_id FROM kinesis_video.stream_processors WHERE name = 'stuckproc'"));

# ------------------------------------------------------------------------
# 60 seconds, all at once
# ------------------------------------------------------------------------
my $t_start = time();
my $run = sql("SET ROLE app; SELECT glue.start_job_run('forever')");
my $producer = kg_pgbench($node, 'producer',
	"INSERT INTO prodlog SELECT sequence_number FROM kinesis.put_record('feed', 'k' || random(), 'x');\n",
	user => 'producer', clients => 2, seconds => $RUN_SECONDS, timeout => $RUN_SECONDS + 120);
my $monitor = kg_pgbench($node, 'monitor',
	"INSERT INTO runner_log SELECT clock_timestamp(), kind, id, state, since, reason FROM kinesis_glue.runners;\n"
	  . "INSERT INTO segment_log SELECT clock_timestamp(), min(segment_no), "
	  . "max(segment_no) FILTER (WHERE opened_at IS NOT NULL) FROM kinesis.segments WHERE stream_id = $feed_id;\n"
	  . "\\sleep 20 ms\n",
	seconds => $RUN_SECONDS, timeout => $RUN_SECONDS + 120);

ok( wait_for(
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'kinesis_glue delivery' AND wait_event = 'PgSleep'",
		't'),
	'the transforms hang in their delivery runners');
ok( wait_for(
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue video processor' AND wait_event = 'PgSleep'",
		1),
	'the processor function hangs in its runner');
ok(wait_for("SELECT state FROM glue.job_runs WHERE run_id = $run", 'TIMEOUT', 30),
	'the job run that ignores the cancel at its timeout ends as TIMEOUT');
my $job_secs = sql("SELECT extract(epoch FROM completed_on - running_on) FROM glue.job_runs WHERE run_id = $run");
cmp_ok($job_secs, '>=', 4.9, "not before its timeout (3 s) plus the grace period (2 s): $job_secs s");
cmp_ok($job_secs, '<', 15, 'but soon after');
like(
	sql("SELECT error_message FROM glue.get_job_run('forever', $run)"),
	qr/^the run exceeded its timeout of 00:00:03 \(cancelled: the run passed its timeout; terminated: the cancel was ignored for kinesis_glue.runner_grace\)$/,
	'its status says it was cancelled at its timeout and terminated after the grace period');
is( sql("SELECT state || ': ' || reason FROM kinesis_glue.runners WHERE kind = 'job run' AND id = $run"),
	'idle: cancelled: the run passed its timeout; terminated: the cancel was ignored for kinesis_glue.runner_grace',
	'kinesis_glue.runners still lists its runner, terminated, with the reason');

for my $l ($producer, $monitor)
{
	is(kg_finish($l), 0, "pgbench $l->{name} ran for $RUN_SECONDS s without errors")
	  or diag("stderr: ${$l->{err}}");
}
my $elapsed = time() - $t_start;
note(sprintf('the load ran %.1f s', $elapsed));

# ------------------------------------------------------------------------
# the producer: every put succeeded, across segments, while retention dropped
# ------------------------------------------------------------------------
my $committed = kg_transactions($producer);
my ($failed) = ${ $producer->{out} } =~ /number of failed transactions: (\d+)/;
is($failed // 0, 0, 'no put failed');
is(sql('SELECT count(*) FROM prodlog'), $committed, "every committed put is logged ($committed puts)");
my ($crossed, $dropped, $drops_seen) = split /\|/, sql(q{
	SELECT max(current_segment), max(first_segment), count(DISTINCT first_segment) - 1 FROM segment_log});
cmp_ok($crossed, '>=', 5, "the puts crossed $crossed segment boundaries");
cmp_ok($dropped, '>=', 2, "retention dropped $dropped segments during the run");
cmp_ok($drops_seen, '>=', 2, "in $drops_seen separate drops, while the puts went on");
is( sql(q{
	SELECT count(*) FROM (SELECT * FROM prodlog WHERE seq >= (SELECT min(sequence_number) FROM kinesis_records.feed)) p
	  FULL JOIN kinesis_records.feed r ON r.sequence_number = p.seq
	 WHERE p.seq IS NULL OR r.sequence_number IS NULL}, extra_params => [ '-U', 'producer' ]),
	0, 'the stream holds exactly the committed puts after the last dropped segment');
cmp_ok(sql('SELECT count(*) FROM kinesis_records.feed', extra_params => [ '-U', 'producer' ]),
	'>', 0, 'and still holds records');

# ------------------------------------------------------------------------
# each stuck runner: stopped at its timeout, with the reason in its status
# ------------------------------------------------------------------------
# a. the sleeping transform obeys the cancel: failed attempts, no terminate
my ($fh_status, $fh_error, $fh_attempts) = split /\|/, sql(q{
	SELECT status, last_error, failed_attempts FROM firehose.delivery_stream_metrics
	 WHERE delivery_stream_name = 'fh_sleep'});
is($fh_status, 'FAILING', 'the delivery stream whose transform sleeps is FAILING');
like($fh_error, qr/^the batch ran longer than kinesis_glue.delivery_timeout \(2s\): canceling statement due to statement timeout$/,
	'its last_error says its batch passed kinesis_glue.delivery_timeout');
cmp_ok($fh_attempts, '>=', 2, "its batches are retried with backoff ($fh_attempts failed attempts)");
is(sql("SELECT last_error FROM firehose.describe_delivery_stream('fh_sleep')"), $fh_error,
	'describe_delivery_stream shows the reason too');
is(sql("SELECT count(*) FROM runner_log WHERE kind = 'delivery' AND id = $ids{fh_sleep} AND state <> 'running'"), 0,
	'its runner obeyed every cancel: never terminated');
cmp_ok(sql("SELECT count(*) FROM runner_log WHERE kind = 'delivery' AND id = $ids{fh_sleep}"), '>', 0,
	'(the monitor saw it)');
is(sql('SELECT count(*) FROM fh_out'), 0, 'nothing was delivered past the hanging transforms');

# a', b. transforms and processor functions that catch the cancel
my $terminated = qr/^terminated: its call ignored the cancel at its timeout for 2000 ms \(kinesis_glue.runner_grace\)$/;
like(sql("SELECT last_error FROM firehose.describe_delivery_stream('fh_stubborn')"), $terminated,
	'the delivery runner whose transform ignores the cancel was terminated, the reason in its status');
like(sql("SELECT last_error FROM kinesis_video.describe_stream_processor('stuckproc')"), $terminated,
	'the processor runner whose function ignores the cancel was terminated, the reason in its status');
my $grace_reason = 'terminated: its call ignored the cancel at its timeout for 2000 ms \(kinesis_glue.runner_grace\)';
my $job_reason = 'cancelled: the run passed its timeout; terminated: the cancel was ignored for kinesis_glue.runner_grace';
for my $r ([ 'delivery', 'fh_stubborn', $grace_reason ], [ 'processor', 'stuckproc', $grace_reason ],
	[ 'job run', $run, $job_reason ])
{
	my ($kind, $obj, $reason) = @$r;
	my $id = $ids{$obj} // $obj;
	like(
		sql("SELECT string_agg(DISTINCT state || ': ' || reason, ', ') FROM runner_log "
			  . "WHERE kind = '$kind' AND id = $id AND reason LIKE '%terminated%'"),
		qr/^(?:(?:stopping|exited|idle): $reason(?:, |$))+$/,
		"kinesis_glue.runners showed the $kind runner of $obj terminated, with the reason");
}
my $log = slurp_file($node->logfile);
for my $r ([ 'delivery', $ids{fh_stubborn} ], [ 'processor', $ids{stuckproc} ])
{
	my ($kind, $id) = @$r;
	my $n = () = $log =~ /kinesis_glue \Q$kind\E runner $id\/0 ignored a cancel; terminated/g;
	cmp_ok($n, '>=', 3, "the $kind runner came back and was terminated again ($n times in ${\ int($elapsed)} s)");
}
# not before timeout + grace: the first termination of each long-lived runner
for my $r ([ 'delivery', 'fh_stubborn' ], [ 'processor', 'stuckproc' ])
{
	my ($kind, $obj) = @$r;
	my $secs = sql(
		"SELECT extract(epoch FROM min(at) FILTER (WHERE reason LIKE 'terminated%') - min(since)) FROM runner_log "
		  . "WHERE kind = '$kind' AND id = $ids{$obj}");
	cmp_ok($secs, '>=', 3.9,
		"the $kind runner of $obj was not terminated before its timeout plus the grace period ($secs s after its launch)");
}

$node->stop;
done_testing();
