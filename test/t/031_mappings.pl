
# Event source mappings, run by their background runners.
#
#   1. exactly once: every record reaches the function's table once, also
#      when the runner is terminated in the middle of a batch and when the
#      postmaster is killed (kill -9) in the middle of a batch;
#   2. batching window: with a window, records that arrive slowly are
#      gathered into larger batches; without one, batches stay small;
#   3. retries: a function that fails twice and then succeeds processes the
#      batch once; the attempts and the error are visible meanwhile; with
#      maximum_retry_attempts the batch goes to the failure destination;
#   4. bisect_batch_on_function_error: one poison record in a batch: all the
#      others are processed and only the poison record goes to the failure
#      destination table, with the error text and the reason;
#   5. a stream as failure destination receives the details as JSON records;
#   6. maximum_record_age: young records are processed, not skipped (making
#      records older than the 60 s minimum would take a minute; the skip
#      itself is not covered here);
#   7. a function returning bigint (the first failed record): the batch
#      resumes at that record;
#   8. parallelization_factor 3: three runner workers, and the records of a
#      partition key stay in order;
#   9. a slow function on one mapping does not hold up another mapping;
#  10. kinesis_glue.mapping_timeout cancels a slow call, which is retried
#      and then sent to the failure destination;
#  11. the function runs as the mapping's (non-superuser) owner;
#  12. a pg_notify from the function reaches a LISTEN session (alerts);
#  13. disabling a mapping stops its runners, enabling starts them again,
#      deleting removes them.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $node = kg_node('mappings', set => { max_connections => 40, max_worker_processes => 20 });

my $sql = sub { kg_sql($node, shift) };
my $t_start = time();

$sql->(q{
-- what the functions processed, in the order they processed it
CREATE TABLE sink (id bigserial PRIMARY KEY, tag text, shard_id text, seq bigint, pk text, data text,
                   who text DEFAULT current_user, at timestamptz DEFAULT clock_timestamp());
GRANT INSERT ON sink TO PUBLIC;
GRANT USAGE ON SEQUENCE sink_id_seq TO PUBLIC;
-- one row per call
CREATE TABLE batches (id bigserial PRIMARY KEY, tag text, n int, first_seq bigint, last_seq bigint);
CREATE FUNCTION log_batch(tag text, recs kinesis.record[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO batches (tag, n, first_seq, last_seq)
    SELECT tag, count(*), min(r.sequence_number), max(r.sequence_number) FROM unnest(recs) r;
    INSERT INTO sink (tag, shard_id, seq, pk, data)
    SELECT tag, r.shard_id, r.sequence_number, r.partition_key, convert_from(r.data, 'UTF8') FROM unnest(recs) r;
$$;
-- failure destination table: the details and some of their keys
CREATE TABLE dlq (details jsonb, mapping_id bigint, reason text, error text,
                  start_sequence_number bigint, end_sequence_number bigint, batch_size int, attempts int);
-- settings the functions read (a row per test)
CREATE TABLE ctl (tag text PRIMARY KEY, sleep float8 DEFAULT 0);
CREATE FUNCTION put_n(stream text, n int, tag text) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM kinesis.put_records(stream,
        ARRAY(SELECT tag || '-' || (g % 7) FROM generate_series(1, n) g ORDER BY g),
        ARRAY(SELECT convert_to(tag || ':' || g, 'UTF8') FROM generate_series(1, n) g ORDER BY g))
$$;
});

# ------------------------------------------------------------------------
# 1. exactly once, also across a terminated runner and a crash
# ------------------------------------------------------------------------
$sql->(q{
INSERT INTO ctl VALUES ('once', 0);
CREATE FUNCTION f_once(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM log_batch('once', recs);
    -- while ctl says so, sleep (each look at ctl sees the latest commit)
    FOR i IN 1 .. 600 LOOP
        EXIT WHEN (SELECT sleep FROM ctl WHERE tag = 'once') = 0;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT kinesis.create_stream('once', 2);
SELECT put_n('once', 300, 'a');
SELECT kinesis.create_event_source_mapping('once', 'f_once', batch_size => 40, starting_position => 'TRIM_HORIZON');
});
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'once'", 300), 'a TRIM_HORIZON mapping processed the 300 records put before it');
$sql->("SELECT put_n('once', 200, 'b')");
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'once'", 500), 'and the 200 put after');
is($sql->("SELECT count(*) - count(DISTINCT seq) FROM sink WHERE tag = 'once'"), 0, 'each once');
is($sql->("SELECT max(n) FROM batches WHERE tag = 'once'"), 40, 'batches hold at most batch_size records');
is($sql->("SELECT count(*) FROM batches WHERE tag = 'once' AND n = 0"), 0, 'no empty batch');
is($sql->("SELECT last_processing_result FROM kinesis.event_source_mapping_status WHERE stream_name = 'once'"),
	'OK', 'the status view shows the last result');

# a runner terminated in the middle of a (slow) batch
$sql->("UPDATE ctl SET sleep = 1 WHERE tag = 'once'");
$sql->("SELECT put_n('once', 100, 'c')");
ok( kg_wait($node,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner' AND wait_event = 'PgSleep'",
		1),
	'the runner sleeps in the middle of a batch');
$sql->("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner'");
$sql->("UPDATE ctl SET sleep = 0 WHERE tag = 'once'");
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'once'", 600),
	'the supervisor started a new runner, which processed the batch again');
is($sql->("SELECT count(*) - count(DISTINCT seq) FROM sink WHERE tag = 'once'"), 0,
	'the terminated call left nothing behind: each record once');

# the postmaster killed in the middle of a batch
$sql->("UPDATE ctl SET sleep = 1 WHERE tag = 'once'");
$sql->("SELECT put_n('once', 100, 'd')");
ok( kg_wait($node,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner' AND wait_event = 'PgSleep'",
		1),
	'the runner sleeps in the middle of a batch again');
my $in_call = $sql->("SELECT count(*) FROM sink WHERE tag = 'once'");
kg_crash($node);
$sql->("UPDATE ctl SET sleep = 0 WHERE tag = 'once'");
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'once'", 700), 'after the crash every record was processed');
is($sql->("SELECT count(*) - count(DISTINCT seq) FROM sink WHERE tag = 'once'"), 0,
	'and each exactly once (the call interrupted by the crash left nothing)');
is($in_call, 600, 'the interrupted call\'s rows were not visible before the crash');
$sql->("SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mapping_status WHERE stream_name = 'once'");
note(sprintf("section 1 done after %.1f s", time() - $t_start));

# ------------------------------------------------------------------------
# 2. batching window
# ------------------------------------------------------------------------
$sql->(q{
CREATE FUNCTION f_win(recs kinesis.record[]) RETURNS void LANGUAGE sql AS $$ SELECT log_batch('win', recs) $$;
CREATE FUNCTION f_nowin(recs kinesis.record[]) RETURNS void LANGUAGE sql AS $$ SELECT log_batch('nowin', recs) $$;
SELECT kinesis.create_stream('win', 1);
SELECT kinesis.create_stream('nowin', 1);
SELECT kinesis.create_event_source_mapping('win', 'f_win', batch_size => 100, maximum_batching_window => '2 s');
SELECT kinesis.create_event_source_mapping('nowin', 'f_nowin', batch_size => 100);
});
# runners up (LATEST mappings: wait for them before putting)
ok(kg_wait($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner'", 2),
	'two runners run');
usleep(300_000);
for my $i (1 .. 12)
{
	$sql->("SELECT kinesis.put_record('win', 'k', 'w$i'), kinesis.put_record('nowin', 'k', 'n$i')");
	usleep(100_000);
}
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag IN ('win', 'nowin')", 24), 'both mappings processed the 12 records');
my ($win_batches, $win_max) = split /\|/, $sql->("SELECT count(*), max(n) FROM batches WHERE tag = 'win'");
my ($nowin_batches, $nowin_max) = split /\|/, $sql->("SELECT count(*), max(n) FROM batches WHERE tag = 'nowin'");
note("12 records, 100 ms apart: window 2 s: $win_batches batches (largest $win_max); window 0: $nowin_batches batches (largest $nowin_max)");
cmp_ok($win_max, '>', 1, 'with a batching window, batches gather several records');
cmp_ok($win_batches, '<=', 3, 'with a 2 s window, 12 records over 1.2 s come in at most 3 batches');
cmp_ok($nowin_batches, '>=', 4, 'without a window, batches are small (at least 4 batches for 12 records)');
cmp_ok($nowin_batches, '>', $win_batches, 'and more numerous than with the window');
$sql->("SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mapping_status WHERE stream_name IN ('win', 'nowin')");

# ------------------------------------------------------------------------
# 3. retries
# ------------------------------------------------------------------------
# a sequence counts calls: it is not rolled back with a failed call
$sql->(q{
CREATE SEQUENCE calls_retry;
CREATE FUNCTION f_retry(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('calls_retry') <= 2 THEN
        RAISE EXCEPTION 'transient failure %', currval('calls_retry');
    END IF;
    PERFORM log_batch('retry', recs);
END
$$;
SELECT kinesis.create_stream('retry', 1);
SELECT put_n('retry', 5, 'r');
SELECT kinesis.create_event_source_mapping('retry', 'f_retry', starting_position => 'TRIM_HORIZON',
                                           on_failure_destination => 'dlq')
});
ok(kg_wait($node, "SELECT last_error LIKE 'transient failure %' FROM kinesis.event_source_mapping_status WHERE stream_name = 'retry'", 't'),
	'the error of a failed attempt is visible');
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'retry'", 5), 'the batch succeeded at the third attempt');
is($sql->("SELECT last_value FROM calls_retry"), 3, 'three calls: two failures and the success');
is($sql->("SELECT count(*) FROM batches WHERE tag = 'retry'"), 1, 'the batch was processed once');
is($sql->("SELECT last_processing_result || '|' || attempts FROM kinesis.event_source_mapping_status s "
		  . "JOIN kinesis.event_source_mapping_shards USING (mapping_id) WHERE s.stream_name = 'retry'"),
	'OK|0', 'the attempts are reset after the success');
is($sql->("SELECT count(*) FROM dlq"), 0, 'nothing went to the failure destination');
# retries exhausted: 1 call + 2 retries, then the failure destination
$sql->(q{
CREATE SEQUENCE calls_fail;
CREATE FUNCTION f_fail(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('calls_fail');
    PERFORM log_batch('fail', recs);
    RAISE EXCEPTION 'always fails';
END
$$;
SELECT kinesis.create_stream('fail', 1);
SELECT put_n('fail', 3, 'f');
SELECT kinesis.create_event_source_mapping('fail', 'f_fail', starting_position => 'TRIM_HORIZON',
                                           maximum_retry_attempts => 2, on_failure_destination => 'table:dlq');
});
ok(kg_wait($node, "SELECT count(*) FROM dlq WHERE reason = 'retries exhausted' AND batch_size = 3", 1),
	'after the retries the batch went to the failure destination');
is($sql->("SELECT last_value FROM calls_fail"), 3, 'after three calls (maximum_retry_attempts 2)');
is($sql->("SELECT count(*) FROM sink WHERE tag = 'fail'"), 0, 'the failed calls left nothing');
is($sql->("SELECT attempts || '|' || error || '|' || (details->>'shard_id') || '|' || (details->>'function') "
		  . "FROM dlq WHERE reason = 'retries exhausted'"),
	'3|always fails|shardId-000000000000|f_fail', 'with the attempts, the error, the shard and the function');
is($sql->("SELECT (d.start_sequence_number, d.end_sequence_number) = (SELECT min(sequence_number), max(sequence_number) "
		  . "FROM kinesis.read_shard('fail', '0')) FROM dlq d WHERE reason = 'retries exhausted'"),
	't', 'and the sequence numbers of the batch');
$sql->("SELECT put_n('fail', 1, 'g')");
ok(kg_wait($node, "SELECT count(*) FROM dlq WHERE reason = 'retries exhausted'", 2), 'processing moved on to the next batch');
$sql->("SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mapping_status WHERE stream_name IN ('retry', 'fail')");
$sql->("TRUNCATE dlq");

# ------------------------------------------------------------------------
# 4. bisect: one poison record
# ------------------------------------------------------------------------
$sql->(q{
CREATE FUNCTION f_bisect(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM unnest(recs) r WHERE convert_from(r.data, 'UTF8') = 'poison') THEN
        RAISE EXCEPTION 'poison record in a batch of %', cardinality(recs);
    END IF;
    PERFORM log_batch('bisect', recs);
END
$$;
SELECT kinesis.create_stream('bisect', 1);
SELECT count(*) FROM kinesis.put_records('bisect',
    ARRAY(SELECT 'k' || g FROM generate_series(1, 10) g ORDER BY g),
    ARRAY(SELECT convert_to(CASE g WHEN 7 THEN 'poison' ELSE 'ok' || g END, 'UTF8') FROM generate_series(1, 10) g ORDER BY g));
SELECT kinesis.create_event_source_mapping('bisect', 'f_bisect', starting_position => 'TRIM_HORIZON',
           bisect_batch_on_function_error => true, maximum_retry_attempts => 0, on_failure_destination => 'table:dlq');
});
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'bisect'", 9), 'the nine good records were processed');
ok(kg_wait($node, "SELECT count(*) FROM dlq", 1), 'one failure was sent');
is($sql->("SELECT batch_size || '|' || reason || '|' || (error LIKE 'poison record in a batch of 1') "
		  . "FROM dlq"), '1|retries exhausted|true', 'the poison record alone, with the reason and the error');
is($sql->("SELECT d.start_sequence_number = r.sequence_number AND d.end_sequence_number = r.sequence_number "
		  . "FROM dlq d, kinesis.read_shard('bisect', '0') r WHERE convert_from(r.data, 'UTF8') = 'poison'"),
	't', 'its sequence number');
is($sql->("SELECT string_agg(data, ',' ORDER BY id) FROM sink WHERE tag = 'bisect'"),
	'ok1,ok2,ok3,ok4,ok5,ok6,ok8,ok9,ok10', 'the others in order, each once');
$sql->("SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mapping_status WHERE stream_name = 'bisect'");
$sql->("TRUNCATE dlq");

# ------------------------------------------------------------------------
# 5. a stream as failure destination
# ------------------------------------------------------------------------
$sql->(q{
CREATE FUNCTION f_boom(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'boom';
END
$$;
SELECT kinesis.create_stream('boom', 1);
SELECT kinesis.create_stream('boom_dlq', 1);
SELECT put_n('boom', 4, 'b');
SELECT kinesis.create_event_source_mapping('boom', 'f_boom', starting_position => 'TRIM_HORIZON',
           maximum_retry_attempts => 0, on_failure_destination => 'stream:boom_dlq');
});
ok(kg_wait($node, "SELECT count(*) FROM kinesis.read_shard('boom_dlq', '0')", 1), 'a record arrived in the destination stream');
is( $sql->(
		"SELECT (d->>'reason') || '|' || (d->>'error') || '|' || (d->>'batch_size') || '|' || (d->>'function') || '|' || (d ? 'failed_at') "
		  . "FROM (SELECT convert_from(data, 'UTF8')::jsonb AS d FROM kinesis.read_shard('boom_dlq', '0')) x"),
	'retries exhausted|boom|4|f_boom|true', 'its data is the details as JSON');
is($sql->("SELECT partition_key = 'mapping-' || (SELECT mapping_id FROM kinesis.event_source_mappings) "
		  . "FROM kinesis.read_shard('boom_dlq', '0')"), 't', 'put with the mapping as partition key');
$sql->("SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mapping_status WHERE stream_name = 'boom'");

# ------------------------------------------------------------------------
# 6. maximum_record_age: young records are processed
# ------------------------------------------------------------------------
$sql->(q{
CREATE FUNCTION f_age(recs kinesis.record[]) RETURNS void LANGUAGE sql AS $$ SELECT log_batch('age', recs) $$;
SELECT kinesis.create_stream('age', 1);
SELECT put_n('age', 5, 'a');
SELECT kinesis.create_event_source_mapping('age', 'f_age', starting_position => 'TRIM_HORIZON',
           maximum_record_age => '60 s', on_failure_destination => 'table:dlq');
});
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'age'", 5), 'records younger than maximum_record_age are processed');
is($sql->("SELECT count(*) FROM dlq"), 0, 'none is skipped to the failure destination');
$sql->("SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mapping_status WHERE stream_name = 'age'");

# ------------------------------------------------------------------------
# 7. the function reports the first failed record
# ------------------------------------------------------------------------
# the first call processes the records before 'p4' and reports p4 failed;
# later calls process everything
$sql->(q{
CREATE SEQUENCE calls_partial;
CREATE FUNCTION f_partial(recs kinesis.record[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    bad bigint;
BEGIN
    IF nextval('calls_partial') = 1 THEN
        SELECT r.sequence_number INTO bad FROM unnest(recs) r WHERE convert_from(r.data, 'UTF8') = 'p:4';
        PERFORM log_batch('partial', ARRAY(SELECT r FROM unnest(recs) r WHERE r.sequence_number < bad));
        RETURN bad;
    END IF;
    PERFORM log_batch('partial', recs);
    RETURN NULL;
END
$$;
SELECT kinesis.create_stream('partial', 1);
SELECT put_n('partial', 8, 'p');
SELECT kinesis.create_event_source_mapping('partial', 'f_partial', starting_position => 'TRIM_HORIZON');
});
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'partial'", 8), 'every record was processed');
is($sql->("SELECT string_agg(data, ',' ORDER BY id) FROM sink WHERE tag = 'partial'"),
	'p:1,p:2,p:3,p:4,p:5,p:6,p:7,p:8', 'each once, in order');
is($sql->("SELECT string_agg(n::text, ',' ORDER BY id) FROM batches WHERE tag = 'partial'"), '3,5',
	'the second batch started at the reported record');
is($sql->("SELECT b.first_seq = r.sequence_number FROM batches b, kinesis.read_shard('partial', '0') r "
		  . "WHERE b.tag = 'partial' AND convert_from(r.data, 'UTF8') = 'p:4' ORDER BY b.id DESC LIMIT 1"),
	't', 'with that very record');
$sql->("SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mapping_status WHERE stream_name = 'partial'");
note(sprintf("sections 2-7 done after %.1f s", time() - $t_start));

# ------------------------------------------------------------------------
# 8. parallelization_factor 3
# ------------------------------------------------------------------------
$sql->(q{
CREATE FUNCTION f_par(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM log_batch('par', recs);
    PERFORM pg_sleep(0.01);
END
$$;
SELECT kinesis.create_stream('par', 1);
SELECT kinesis.create_event_source_mapping('par', 'f_par', batch_size => 5, parallelization_factor => 3);
});
ok(kg_wait($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner'", 3),
	'three runner workers run the mapping');
is($sql->("SELECT count(*) FROM kinesis.event_source_mapping_shards s JOIN kinesis.event_source_mapping_status m USING (mapping_id) "
		  . "WHERE m.stream_name = 'par'"), 3, 'one position per slot');
for my $round (1 .. 10)
{
	$sql->("SELECT count(*) FROM kinesis.put_records('par', ARRAY(SELECT 'key' || g FROM generate_series(1, 12) g ORDER BY g), "
		  . "ARRAY(SELECT convert_to('$round', 'UTF8') FROM generate_series(1, 12) g))");
}
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'par'", 120), 'the 120 records were processed');
is($sql->("SELECT count(*) - count(DISTINCT seq) FROM sink WHERE tag = 'par'"), 0, 'each once');
is($sql->("SELECT count(*) FROM (SELECT seq < lag(seq) OVER (PARTITION BY pk ORDER BY id) AS back FROM sink WHERE tag = 'par') x WHERE back"),
	0, 'per partition key, in sequence order');
is($sql->("SELECT count(*) FROM (SELECT data::int < lag(data::int) OVER (PARTITION BY pk ORDER BY id) AS back FROM sink WHERE tag = 'par') x WHERE back"),
	0, 'per partition key, in put order');
cmp_ok($sql->("SELECT count(DISTINCT b.id) FROM batches b WHERE tag = 'par'"), '>=', 24,
	'batches of at most 5 records of one slot');

# ------------------------------------------------------------------------
# 13. disable stops the runners, enable starts them, delete removes them
# ------------------------------------------------------------------------
my $par = $sql->("SELECT mapping_id FROM kinesis.event_source_mapping_status WHERE stream_name = 'par'");
$sql->("SELECT kinesis.disable_event_source_mapping($par)");
ok(kg_wait($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner'", 0),
	'disabling the mapping stops its runners');
$sql->("SELECT put_n('par', 10, 'x')");
usleep(500_000);
is($sql->("SELECT count(*) FROM sink WHERE tag = 'par'"), 120, 'a disabled mapping processes nothing');
$sql->("SELECT kinesis.enable_event_source_mapping($par)");
ok(kg_wait($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner'", 3),
	'enabling starts them again');
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'par'", 130), 'and they resume where they stopped');
$sql->("SELECT kinesis.delete_event_source_mapping($par)");
ok(kg_wait($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner'", 0),
	'deleting the mapping removes its runners');

# ------------------------------------------------------------------------
# 9. a slow function holds up only its own mapping
# ------------------------------------------------------------------------
$sql->(q{
INSERT INTO ctl VALUES ('slow', 1);
CREATE FUNCTION f_slow(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM log_batch('slow', recs);
    FOR i IN 1 .. 600 LOOP
        EXIT WHEN (SELECT sleep FROM ctl WHERE tag = 'slow') = 0;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
CREATE FUNCTION f_fast(recs kinesis.record[]) RETURNS void LANGUAGE sql AS $$ SELECT log_batch('fast', recs) $$;
SELECT kinesis.create_stream('slowfast', 1);
SELECT kinesis.create_event_source_mapping('slowfast', 'f_slow', starting_position => 'TRIM_HORIZON');
SELECT kinesis.create_event_source_mapping('slowfast', 'f_fast', starting_position => 'TRIM_HORIZON');
SELECT put_n('slowfast', 5, 's');
});
ok( kg_wait($node,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner' AND wait_event = 'PgSleep'",
		1),
	'the slow mapping sleeps in its function');
my $t_fast = time();
$sql->("SELECT put_n('slowfast', 5, 't')");
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'fast'", 10, undef, within => 10), 'the other mapping of the same stream processed everything');
cmp_ok(time() - $t_fast, '<', 5, 'without waiting for the slow one');
# (polled: between two sleeps the function runs a query, so one look can miss it)
ok( kg_wait($node,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner' AND wait_event = 'PgSleep'",
		1, undef, within => 5),
	'which is still in its call');
$sql->("UPDATE ctl SET sleep = 0 WHERE tag = 'slow'");
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'slow'", 10), 'when its call ends, the slow one catches up');
is($sql->("SELECT count(*) - count(DISTINCT seq) FROM sink WHERE tag IN ('slow', 'fast') GROUP BY tag ORDER BY tag"), "0\n0",
	'both mappings processed each record once');
$sql->("SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mapping_status WHERE stream_name = 'slowfast'");

# ------------------------------------------------------------------------
# 10. kinesis_glue.mapping_timeout
# ------------------------------------------------------------------------
kg_set_conf($node, 'kinesis_glue.mapping_timeout' => '500ms');
# new processes (the runner to come) start with the new value
ok(kg_wait($node, "SHOW kinesis_glue.mapping_timeout", '500ms'), 'mapping_timeout is 500 ms');
$sql->(q{
CREATE SEQUENCE calls_timeout;
CREATE FUNCTION f_timeout(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('calls_timeout');
    PERFORM log_batch('timeout', recs);
    PERFORM pg_sleep(5);
END
$$;
SELECT kinesis.create_stream('timeout', 1);
SELECT put_n('timeout', 2, 't');
SELECT kinesis.create_event_source_mapping('timeout', 'f_timeout', starting_position => 'TRIM_HORIZON',
           maximum_retry_attempts => 1, on_failure_destination => 'table:dlq');
});
my $t_to = time();
ok(kg_wait($node, "SELECT count(*) FROM dlq WHERE reason = 'retries exhausted'", 1),
	'a call running past mapping_timeout is canceled, retried, then sent to the failure destination');
cmp_ok(time() - $t_to, '<', 5, 'well before one call could have finished (5 s)');
# the runner's own count: two attempts (a call whose runner transaction
# aborts after the cancel, under heavy load, is not counted and happens
# again, so the function itself may have been entered more often)
is($sql->("SELECT attempts || '|' || error || '|' || ((SELECT last_value FROM calls_timeout) >= 2) FROM dlq"),
	'2|canceling statement due to statement timeout|true', 'after two attempts, with the timeout as the error');
is($sql->("SELECT count(*) FROM sink WHERE tag = 'timeout'"), 0, 'the canceled calls left nothing');
$sql->("SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mapping_status WHERE stream_name = 'timeout'");
kg_set_conf($node, 'kinesis_glue.mapping_timeout' => undef);
$sql->("TRUNCATE dlq");

# ------------------------------------------------------------------------
# 11. the function runs as the mapping's owner
# ------------------------------------------------------------------------
$sql->(q{
CREATE ROLE esm_user LOGIN;
CREATE SCHEMA esm_user AUTHORIZATION esm_user;
GRANT CREATE ON SCHEMA kinesis_records TO esm_user;
CREATE TABLE secret (x int);
INSERT INTO secret VALUES (42);
CREATE TABLE esm_user_dlq (LIKE dlq);
GRANT INSERT ON esm_user_dlq TO esm_user;
SET ROLE esm_user;
SELECT kinesis.create_stream('owned', 1);
CREATE FUNCTION esm_user.f_who(recs kinesis.record[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO public.sink (tag, seq, data) SELECT 'who', r.sequence_number, session_user || '/' || current_user FROM unnest(recs) r
$$;
CREATE FUNCTION esm_user.f_peek(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM count(*) FROM public.secret;
    INSERT INTO public.sink (tag, seq) SELECT 'peek', r.sequence_number FROM unnest(recs) r;
END
$$;
SELECT kinesis.create_event_source_mapping('owned', 'esm_user.f_who', starting_position => 'TRIM_HORIZON');
SELECT kinesis.create_event_source_mapping('owned', 'esm_user.f_peek', starting_position => 'TRIM_HORIZON',
           maximum_retry_attempts => 0, on_failure_destination => 'table:public.esm_user_dlq');
SELECT put_n('owned', 3, 'o');
RESET ROLE;
});
ok(kg_wait($node, "SELECT count(*) FROM sink WHERE tag = 'who'", 3), 'the owner\'s mapping ran');
is($sql->("SELECT DISTINCT data FROM sink WHERE tag = 'who'") =~ s/^.*\///r, 'esm_user', 'current_user in the function is the owner');
is($sql->("SELECT DISTINCT who FROM sink WHERE tag = 'who'"), 'esm_user', 'so are the rows it wrote');
ok(kg_wait($node, "SELECT count(*) FROM esm_user_dlq", 1), 'the function reading a table its owner cannot read failed');
is($sql->("SELECT error FROM esm_user_dlq"), 'permission denied for table secret', 'with permission denied');
is($sql->("SELECT count(*) FROM sink WHERE tag = 'peek'"), 0, 'and wrote nothing');
is($sql->("SELECT last_error FROM kinesis.event_source_mapping_status WHERE function_name::text = 'esm_user.f_peek'"),
	'permission denied for table secret', 'the status view shows the error');
$sql->("SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mapping_status WHERE stream_name = 'owned'");

# ------------------------------------------------------------------------
# 12. alerts: records -> mapping -> NOTIFY on channel 'alerts'
# ------------------------------------------------------------------------
$sql->(q{
CREATE FUNCTION f_alert(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('alerts', convert_from(r.data, 'UTF8'))
       FROM unnest(recs) AS r
      WHERE (convert_from(r.data, 'UTF8')::jsonb ->> 'amount')::numeric > 100;
END
$$;
SELECT kinesis.create_stream('orders', 1);
SELECT kinesis.create_event_source_mapping('orders', 'f_alert', batch_size => 50);
});
my $listener = $node->background_psql('postgres', on_error_stop => 0);
$listener->query_safe("LISTEN alerts");
ok(kg_wait($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue mapping runner'", 1), 'the runner runs');
usleep(300_000);
$sql->(q{SELECT count(*) FROM kinesis.put_records('orders', ARRAY['c9', 'c9'],
         ARRAY[convert_to('{"order_id": 22, "amount": 250.00}', 'UTF8'), convert_to('{"order_id": 23, "amount": 12.50}', 'UTF8')])});
my $heard = '';
# psql prints the notifications that arrived with its next result
my $notified = kg_poll(sub { $heard .= $listener->query("SELECT 1"); $heard =~ /order_id/ },
	'a notification on channel alerts');
like($heard, qr/Asynchronous notification "alerts" with payload "\{"order_id": 22, "amount": 250.00\}"/,
	'the LISTEN session heard the big order');
unlike($heard, qr/"order_id": 23/, 'and not the small one');
$listener->quit;

note(sprintf("all done after %.1f s", time() - $t_start));
$node->stop;
done_testing();
