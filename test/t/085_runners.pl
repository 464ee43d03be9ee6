
# Runner workers (src/worker/runner.c): the shared registry of the workers
# that run user code.
#
#   a. restarts: the per-database worker is terminated several times while
#      producers put records and a mapping with parallelization_factor 2
#      applies them into a table with a unique key on (shard, sequence):
#      never more than one runner per slot, no duplicate key error, every
#      record applied once and in order per partition key;
#   b. fair share: one role's mappings (20 slots wanted) do not take the
#      worker slots another role's job run or a new database's worker
#      needs; the runners beyond the role's cap show as waiting;
#   c. timeouts hold: a job script and a mapping function that catch
#      query_canceled and loop forever are terminated after their timeout
#      plus kinesis_glue.runner_grace, with the reason in their status;
#   d. rights at use: a revoked SELECT on the stream stops a mapping with
#      AccessDeniedException in its status; granting it again resumes it;
#   e. a Firehose transform and a video stream processor that hang
#      (catching query_canceled) hold up their own object only: puts to
#      another stream keep succeeding across segment boundaries (segments
#      are the database worker's job), and their runners are terminated with
#      the reason in last_error.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $node = kg_node(
	'runners',
	set => {
		max_connections => 60,
		'kinesis_glue.mapping_timeout' => '1s',
		'kinesis_glue.delivery_timeout' => '1s',
		'kinesis_glue.runner_grace' => '1s',
		'kinesis_glue.max_runners_per_role' => 4,
		'kinesis_glue.max_runners_per_database' => 12,
		'kinesis_glue.reserved_worker_processes' => 1
	});

my $sql = sub { kg_sql($node, $_[0], db => $_[1]) };
my $t_start = time();

$sql->(q{
CREATE ROLE hog;
CREATE ROLE other;
CREATE ROLE reader;
GRANT CREATE ON SCHEMA public TO hog, other, reader;
GRANT CREATE ON SCHEMA kinesis_records TO hog;
});

# ------------------------------------------------------------------------
# a. the per-database worker terminated under load
# ------------------------------------------------------------------------
$sql->(q{
SELECT kinesis.create_stream('rt', 2);
CREATE TABLE prodlog (shard_id text, seq bigint, PRIMARY KEY (shard_id, seq));
CREATE TABLE applied (id bigserial PRIMARY KEY, shard_id text, seq bigint, pk text, data text,
                      UNIQUE (shard_id, seq));
CREATE FUNCTION f_apply(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO applied (shard_id, seq, pk, data)
    SELECT r.shard_id, r.sequence_number, r.partition_key, convert_from(r.data, 'UTF8')
      FROM unnest(recs) WITH ORDINALITY AS r(shard_id, sequence_number, arrival, partition_key, data, o)
     ORDER BY r.o;
    PERFORM pg_sleep(0.02);   -- widen the window in which two runners could meet
END
$$;
SELECT kinesis.create_event_source_mapping('rt', 'f_apply', batch_size => 25, parallelization_factor => 2,
                                           starting_position => 'TRIM_HORIZON');
CREATE UNLOGGED TABLE runner_counts (at timestamptz DEFAULT clock_timestamp(), n int);
});
ok(kg_wait($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner'", 2),
	'two runners for parallelization_factor 2');

my @load = (
	kg_pgbench(
		$node, 'producer',
		"\\set k :k + 1\n"
		  . "INSERT INTO prodlog SELECT r.shard_id, r.sequence_number FROM kinesis.put_record('rt', "
		  . "'p' || :client_id || '-' || (:k % 6), convert_to(:client_id || ':' || :k, 'UTF8')) r;\n",
		clients => 4, seconds => 12, rate => 400, define => ['k=0'], timeout => 60),
	kg_pgbench(
		$node, 'monitor',
		"INSERT INTO runner_counts (n) SELECT count(*) FROM pg_stat_activity "
		  . "WHERE backend_type = 'kinesis_glue mapping runner';\n"
		  . "\\sleep 10 ms\n",
		seconds => 12, rate => 100, timeout => 60));
my $kills = 0;
for my $i (1 .. 5)
{
	sleep 2;
	$kills += $sql->(
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue worker'");
}
is($kills, 5, 'the per-database worker was terminated five times');
for my $l (@load)
{
	is(kg_finish($l), 0, "pgbench $l->{name}.sql ran without errors")
	  or diag("stderr: ${ $l->{err} }");
}
my $produced = $sql->("SELECT count(*) FROM prodlog");
cmp_ok($produced, '>', 500, "the producers put records ($produced)");
ok(kg_wait($node, "SELECT count(*) FROM applied", $produced), 'every record was applied');
is($sql->("SELECT max(n) FROM runner_counts"), 2, 'never more than one runner per slot (sampled every 10 ms)');
is($sql->("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner'"), 2,
	'two runners after the restarts');
is($sql->("SELECT count(*) FROM prodlog p FULL JOIN applied a USING (shard_id, seq) WHERE p.seq IS NULL OR a.seq IS NULL"),
	0, 'the applied records are exactly the records put');
is($sql->("SELECT coalesce(last_error, '') FROM kinesis.event_source_mapping_status WHERE stream_name = 'rt'"), '',
	'no batch failed (no duplicate key error)');
is( $sql->(q{
	SELECT count(*) FROM (
	    SELECT seq, split_part(data, ':', 2)::int AS k,
	           lag(seq) OVER w AS prev_seq, lag(split_part(data, ':', 2)::int) OVER w AS prev_k
	      FROM applied WINDOW w AS (PARTITION BY pk ORDER BY id)) x
	 WHERE seq < prev_seq OR k < prev_k}),
	0, 'per partition key, records were applied in order');
note(sprintf("a: %.1f s", time() - $t_start));

# ------------------------------------------------------------------------
# b. fair share of worker slots
# ------------------------------------------------------------------------
$sql->(q{
SET ROLE hog;
SELECT kinesis.create_stream('hogs', 1);
CREATE FUNCTION hog_f(recs kinesis.record[]) RETURNS void LANGUAGE sql AS 'SELECT';
SELECT kinesis.create_event_source_mapping('hogs', 'hog_f', parallelization_factor => 10);
SELECT kinesis.create_event_source_mapping('hogs', 'hog_f', parallelization_factor => 10);
});
ok( kg_wait($node,
		"SELECT count(*) FROM kinesis_glue.runners WHERE owner = 'hog'::regrole AND state = 'running'", 4),
	'the role runs kinesis_glue.max_runners_per_role runners');
ok( kg_wait($node,
		"SELECT count(*) FROM kinesis_glue.runners WHERE owner = 'hog'::regrole AND state = 'waiting'", 16),
	'its other slots wait');
like($sql->("SELECT min(waiting_reason) FROM kinesis.event_source_mapping_status WHERE stream_name = 'hogs'"),
	qr/max_runners_per_role/, 'the status view says why they wait');
$sql->(q{
SET ROLE other;
CREATE TABLE other_out (v int);
SELECT glue.create_job('other_job', script => 'INSERT INTO public.other_out VALUES (1)');
SELECT glue.start_job_run('other_job');
});
ok(kg_wait($node, "SELECT state FROM glue.job_runs ORDER BY run_id DESC LIMIT 1", 'SUCCEEDED'),
	"another role's job run still gets a worker");
$sql->("CREATE DATABASE db2");
$sql->("CREATE EXTENSION kinesis_glue", 'db2');
ok( kg_wait($node,
		"SELECT count(*) FROM kinesis_glue.workers WHERE database = 'db2' AND pid IS NOT NULL", 1),
	'a new database gets its worker');
cmp_ok($sql->("SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'kinesis_glue%'"),
	'<', 16, 'slots are left free');
$sql->("SET ROLE hog; SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mappings "
	  . "WHERE owner = 'hog'::regrole");
ok( kg_wait($node, "SELECT count(*) FROM kinesis_glue.runners WHERE owner = 'hog'::regrole AND state <> 'exited'", 0),
	'deleting the mappings stops their runners and their waits');
note(sprintf("b: %.1f s", time() - $t_start));

# ------------------------------------------------------------------------
# c. user code that catches the cancel of its timeout
# ------------------------------------------------------------------------
$sql->(q{
} . kg_stubborn_sql() . q{
CREATE FUNCTION stubborn_f(recs kinesis.record[]) RETURNS void LANGUAGE sql AS 'SELECT stubborn()';
GRANT EXECUTE ON FUNCTION stubborn() TO other;
SET ROLE other;
SELECT glue.create_job('stubborn_job', script => 'SELECT public.stubborn()', timeout => '2 seconds');
});
my $t0 = time();
my $run = $sql->("SET ROLE other; SELECT glue.start_job_run('stubborn_job')");
ok(kg_wait($node, "SELECT state FROM glue.job_runs WHERE run_id = $run", 'TIMEOUT'),
	'a job script that catches query_canceled ends as TIMEOUT');
my $took = time() - $t0;
cmp_ok($took, '<', 12, sprintf('after its timeout plus the grace period (%.1f s)', $took));
like($sql->("SELECT error_message FROM glue.get_job_run('stubborn_job', $run)"),
	qr/timeout.*terminated/s, 'its status says it was terminated after ignoring the cancel');
is($sql->("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue job'"), 0, 'its worker is gone');

$sql->(q{
SELECT kinesis.create_stream('stuck', 1);
SELECT kinesis.put_record('stuck', 'k', 'x');
SELECT kinesis.create_event_source_mapping('stuck', 'stubborn_f', starting_position => 'TRIM_HORIZON');
});
ok( kg_wait($node,
		"SELECT last_error ~ 'terminated' FROM kinesis.event_source_mapping_status WHERE stream_name = 'stuck'",
		't'),
	'a mapping function that catches query_canceled is terminated, with the reason in the status view');
$sql->("SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mapping_status "
	  . "WHERE stream_name = 'stuck'");
note(sprintf("c: %.1f s", time() - $t_start));

# ------------------------------------------------------------------------
# d. a revoked right stops a mapping
# ------------------------------------------------------------------------
$sql->(q{
SELECT kinesis.create_stream('priv', 1);
GRANT SELECT ON kinesis_records.priv TO reader;
SET ROLE reader;
CREATE TABLE got (seq bigint);
CREATE FUNCTION reader_f(recs kinesis.record[]) RETURNS void LANGUAGE sql AS
    'INSERT INTO public.got SELECT r.sequence_number FROM unnest(recs) r';
SELECT kinesis.create_event_source_mapping('priv', 'reader_f', starting_position => 'TRIM_HORIZON');
RESET ROLE;
SELECT kinesis.put_record('priv', 'k', 'one');
});
ok(kg_wait($node, "SELECT count(*) FROM got", 1), 'the mapping delivers while its owner may read the stream');
$sql->("REVOKE SELECT ON kinesis_records.priv FROM reader; SELECT kinesis.put_record('priv', 'k', 'two')");
ok( kg_wait($node,
		"SELECT last_processing_result FROM kinesis.event_source_mapping_status WHERE stream_name = 'priv'",
		'PROBLEM: AccessDeniedException'),
	'after REVOKE the mapping stops');
like($sql->("SELECT last_error FROM kinesis.event_source_mapping_status WHERE stream_name = 'priv'"),
	qr/^AccessDeniedException: role "reader" may no longer read stream "priv"/, 'with AccessDeniedException in its status');
is($sql->("SELECT count(*) FROM got"), 1, 'the record put after the REVOKE was not delivered');
$sql->("GRANT SELECT ON kinesis_records.priv TO reader");
ok(kg_wait($node, "SELECT count(*) FROM got", 2), 'granting it again resumes the mapping');
note(sprintf("d: %.1f s", time() - $t_start));

# ------------------------------------------------------------------------
# e. a hanging Firehose transform
# ------------------------------------------------------------------------
$sql->(q{
CREATE FUNCTION sleepy(recs kinesis.record[]) RETURNS SETOF firehose.transformed_record LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.stubborn();   -- the transform runs with a pinned search_path
END
$$;
CREATE TABLE fh_dest (id int);
SELECT firehose.create_delivery_stream('stuckfh', 'fh_dest', buffering_interval => '0 s',
                                       transform_function => 'sleepy');
SELECT count(*) FROM firehose.put_record_batch('stuckfh', ARRAY['{"id": 1}']::text[]::bytea[]);
SELECT kinesis_video.create_stream('cam', 'video/h264', 24);
SELECT kinesis.create_stream('cam-events');
CREATE FUNCTION stuck_detect(f kinesis_video.fragment) RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.stubborn();
END
$$;
SELECT kinesis_video.create_stream_processor('stuckproc', 'cam', 'stuck_detect', 'cam-events');
SELECT count(*) FROM kinesis_video.put_media('cam', 'f1', clock_timestamp(), 2000);
SET kinesis_glue.segment_records = 1024;
SELECT kinesis.create_stream('small', 1);
});
ok( kg_wait($node,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue delivery' AND wait_event = 'PgSleep'",
		1),
	'the transform hangs in its delivery runner');
ok( kg_wait($node,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue video processor' AND wait_event = 'PgSleep'",
		1),
	'the processor function hangs in its runner');
my $put_errors = 0;
for my $i (1 .. 16)
{
	my ($rc, $out, $err) = $node->psql('postgres',
		"SET kinesis_glue.segment_wait = '2s'; SELECT count(*) FROM kinesis.put_records('small', "
		  . "ARRAY(SELECT 'k' || g FROM generate_series(1, 500) g), "
		  . "ARRAY(SELECT 'x'::bytea FROM generate_series(1, 500)))");
	$put_errors++ if $rc != 0 || $out ne '500';
	diag($err) if $rc != 0;
	usleep(200_000);
}
is($put_errors, 0, 'puts to another stream succeed across 7 segment boundaries meanwhile');
ok( kg_wait($node,
		"SELECT last_error ~ 'terminated' FROM firehose.delivery_streams WHERE delivery_stream_name = 'stuckfh'",
		't'),
	'the delivery runner is terminated after its timeout, with the reason in last_error');
is($sql->("SELECT count(*) FROM fh_dest"), 0, 'nothing was delivered past the hanging transform');
ok( kg_wait($node,
		"SELECT last_error ~ 'terminated' FROM kinesis_video.stream_processors WHERE name = 'stuckproc'",
		't'),
	'the processor runner is terminated after its timeout, with the reason in last_error');
note(sprintf("e: %.1f s", time() - $t_start));

$node->stop;
done_testing();
