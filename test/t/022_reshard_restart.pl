
# Resharding across restarts and crashes, and puts while a reshard
# transaction is open (src/streams/reshard.c: the reserved counter).
#
#   1. A restart (fast shutdown) while a session is inside BEGIN;
#      split_shard; put_record: after the restart the layout is the old one
#      (and the shard ids the split used are free), puts work, and no
#      sequence number is handed out twice (new ones are above every number
#      handed out before, committed or not).
#   2. The same with kill -9 of the postmaster in the middle of a
#      merge_shards transaction, with committed puts going on meanwhile.
#   3. A committed split, puts to the children, kill -9: after the restart
#      the children keep receiving puts, with sequence numbers above their
#      parent's ending number and above everything before; the parent's
#      ending number is above all its records; nothing committed is lost.
#   4. While a reshard transaction stays open: puts of the old layout go to
#      the parent; a put that would pass the counter reserved for the
#      children waits, and goes on to the children once the reshard commits;
#      the worker keeps working meanwhile (segments of this and of another
#      stream are created and closed).
# Throughout, a table "committed" written in the putting transactions holds
# exactly the committed records, and read_all() (every shard, parents
# first, paging through read_shard) must return exactly that set.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $node = kg_node(
	'reshard_restart',
	set => {
		restart_after_crash => 'on',
		'kinesis_glue.worker_naptime' => '100ms',
		'kinesis_glue.launcher_naptime' => '100ms',
		'kinesis_glue.segment_records' => 1024,
		'kinesis_glue.segments_ahead' => 2,
		'kinesis_glue.segment_interval' => '1s',
		'kinesis_glue.segment_wait' => '5s'
	});

sub sql { return kg_sql($node, shift) }

sub wait_worker
{
	my ($what) = @_;
	ok(kg_wait_worker($node), "$what: the kinesis_glue worker runs");
}

sql(q{
SELECT kinesis.create_stream('rr', 2);
SELECT kinesis.create_stream('other', 1);
CREATE TABLE committed (stream text, seq bigint, shard_id text, partition_key text, phase text);
CREATE TABLE handed (seq bigint);   -- numbers seen by transactions that did not commit
-- put n records to a stream (keys prefix-1..n), logging them in the same transaction
CREATE FUNCTION put_log(stream text, prefix text, n int, phase text) RETURNS bigint LANGUAGE sql AS $$
    WITH p AS (SELECT * FROM kinesis.put_records(stream,
                   ARRAY(SELECT prefix || '-' || i FROM generate_series(1, n) i),
                   ARRAY(SELECT convert_to(prefix || '-' || i, 'UTF8') FROM generate_series(1, n) i))
                   WITH ORDINALITY AS r(shard_id, sequence_number, error_code, error_message, o)),
    l AS (INSERT INTO committed SELECT stream, sequence_number, shard_id, prefix || '-' || o, phase FROM p
          RETURNING 1)
    SELECT count(*) FROM l
$$;
-- every record of a stream, shard by shard in index order (parents first)
CREATE FUNCTION read_all(stream text)
RETURNS TABLE (ord bigint, shard_id text, seq bigint, partition_key text) LANGUAGE plpgsql AS $$
DECLARE
    sh text;
    after bigint;
    n bigint;
    base bigint := 0;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS ra (ord bigint, shard_id text, seq bigint, partition_key text);
    TRUNCATE ra;
    FOR sh IN SELECT l.shard_id FROM kinesis.list_shards(stream) l ORDER BY l.shard_id LOOP
        after := NULL;
        LOOP
            INSERT INTO ra SELECT base + x.o, x.shard_id, x.sequence_number, x.partition_key
              FROM kinesis.read_shard(stream, sh, after, 10000)
                   WITH ORDINALITY AS x(shard_id, sequence_number, arrival, partition_key, data, o);
            GET DIAGNOSTICS n = ROW_COUNT;
            EXIT WHEN n = 0;
            base := base + n;
            SELECT max(ra.seq) INTO after FROM ra WHERE ra.shard_id = sh;
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT * FROM ra;
END
$$;
-- the stream is exactly the committed set: missing, extra, duplicated
CREATE FUNCTION stream_vs_committed(stream text) RETURNS text LANGUAGE sql AS $$
    WITH r AS MATERIALIZED (SELECT * FROM read_all(stream)),
         c AS (SELECT * FROM committed WHERE committed.stream = stream_vs_committed.stream)
    SELECT (SELECT count(*) FROM c WHERE NOT EXISTS (SELECT FROM r WHERE r.seq = c.seq AND r.shard_id = c.shard_id
                                                                      AND r.partition_key = c.partition_key))
           || ' missing, ' ||
           (SELECT count(*) FROM r WHERE NOT EXISTS (SELECT FROM c WHERE c.seq = r.seq)) || ' extra, ' ||
           (SELECT count(*) - count(DISTINCT seq) FROM r) || ' duplicated'
$$;
-- each closed shard's ending number is at or above its records, and every
-- child starts above its parents' ending numbers
CREATE FUNCTION lineage_ok(stream text) RETURNS boolean LANGUAGE sql AS $$
    SELECT coalesce(bool_and(p.ending_sequence_number >= coalesce(
                (SELECT max(c.seq) FROM committed c WHERE c.stream = lineage_ok.stream AND c.shard_id = p.shard_id), -1)), true)
       AND (SELECT coalesce(bool_and(ch.starting_sequence_number > pa.ending_sequence_number), true)
              FROM kinesis.list_shards(stream) ch JOIN kinesis.list_shards(stream) pa
                ON pa.shard_id IN (ch.parent_shard_id, ch.adjacent_parent_shard_id))
      FROM kinesis.list_shards(stream) p WHERE p.ending_sequence_number IS NOT NULL
$$;
CREATE FUNCTION layout(stream text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(shard_id || ' ' || coalesce(parent_shard_id, '-') || ' '
                      || starting_hash_key || '-' || ending_hash_key || ' '
                      || CASE WHEN ending_sequence_number IS NULL THEN 'open' ELSE 'closed' END,
                      E'\n' ORDER BY shard_id)
      FROM kinesis.list_shards(stream)
$$;
});
wait_worker('start');

# kill -9 of the postmaster, then a fresh start once every process of the
# old one is gone (the new postmaster refuses to start before)
sub crash_and_start
{
	kg_crash($node);
}

# the highest sequence number anybody was given so far
sub max_handed
{
	return sql("SELECT greatest((SELECT max(seq) FROM committed), (SELECT max(seq) FROM handed), -1)");
}

# new puts after a restart: all succeed, distinct, above everything before
sub check_new_puts
{
	my ($what, $stream, $before) = @_;
	is(sql("SELECT put_log('$stream', '$what', 300, '$what')"), 300, "$what: puts work");
	my ($min, $n, $distinct) = split /\|/,
	  sql("SELECT min(seq), count(*), count(DISTINCT seq) FROM committed WHERE phase = '$what'");
	is($distinct, $n, "$what: the new numbers are distinct");
	cmp_ok($min, '>', $before, "$what: the new numbers are above every number handed out before");
	is(sql("SELECT count(*) FROM committed c1 JOIN committed c2 ON c1.seq = c2.seq AND c1.ctid <> c2.ctid"),
		0, "$what: no sequence number was committed twice");
}

is(sql("SELECT put_log('rr', 'start', 300, 'start')"), 300, 'puts before any reshard');

# --- 1. restart in the middle of a split ---
{
	my $layout = sql("SELECT layout('rr')");
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	$s->query_safe("BEGIN");
	$s->query_safe("SELECT kinesis.split_shard('rr', 'shardId-000000000000', 85070591730234615865843651857942052864)");
	my $n = $s->query_safe("SELECT sequence_number FROM kinesis.put_record('rr', 'in-doubt-1', 'x')");
	sql("INSERT INTO handed VALUES ($n)");
	is(sql("SELECT put_log('rr', 'during1', 100, 'during1')"), 100, '1: puts of others go on during the split');
	is(sql("SELECT count(*) FROM committed WHERE phase = 'during1' AND shard_id NOT IN ('shardId-000000000000', 'shardId-000000000001')"),
		0, '1: they land in the old layout');
	my $before = max_handed();
	$node->restart;
	$s->quit;
	wait_worker('1 (restart)');
	is(sql("SELECT layout('rr')"), $layout, '1: after the restart the layout is the old one');
	is(sql("SELECT next_shard_index FROM kinesis.streams WHERE stream_name = 'rr'"), 2, '1: the shard ids of the split are free');
	is(sql("SELECT stream_vs_committed('rr')"), '0 missing, 0 extra, 0 duplicated', '1: the stream is exactly the committed set');
	is(sql("SELECT count(*) FROM read_all('rr') WHERE partition_key = 'in-doubt-1'"), 0, '1: the uncommitted put is not there');
	check_new_puts('after1', 'rr', $before);
}

# --- 2. kill -9 in the middle of a merge, with committed puts meanwhile ---
{
	my $layout = sql("SELECT layout('rr')");
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	$s->query_safe("BEGIN");
	$s->query_safe("SELECT kinesis.merge_shards('rr', 'shardId-000000000000', 'shardId-000000000001')");
	my $n = $s->query_safe("SELECT sequence_number FROM kinesis.put_record('rr', 'in-doubt-2', 'x')");
	sql("INSERT INTO handed VALUES ($n)");
	is(sql("SELECT put_log('rr', 'during2', 100, 'during2')"), 100, '2: puts of others go on during the merge');
	my $before = max_handed();
	crash_and_start();
	$s->quit;
	wait_worker('2 (kill -9)');
	is(sql("SELECT layout('rr')"), $layout, '2: after the crash the layout is the old one');
	is(sql("SELECT stream_vs_committed('rr')"), '0 missing, 0 extra, 0 duplicated', '2: the stream is exactly the committed set');
	is(sql("SELECT count(*) FROM read_all('rr') WHERE partition_key = 'in-doubt-2'"), 0, '2: the uncommitted put is not there');
	check_new_puts('after2', 'rr', $before);
	# resharding works after the crash
	sql("SELECT kinesis.merge_shards('rr', 'shardId-000000000000', 'shardId-000000000001')");
	is(sql("SELECT string_agg(shard_id || ' ' || parent_shard_id || ' ' || adjacent_parent_shard_id, ',')
	          FROM kinesis.list_shards('rr') WHERE ending_sequence_number IS NULL"),
		'shardId-000000000002 shardId-000000000000 shardId-000000000001', '2: a merge after the crash works');
}

# --- 3. committed split, puts to the children, kill -9 ---
{
	sql("SELECT kinesis.split_shard('rr', 'shardId-000000000002', 170141183460469231731687303715884105728)");
	is(sql("SELECT put_log('rr', 'children3', 300, 'children3')"), 300, '3: puts to the children');
	is(sql("SELECT string_agg(DISTINCT shard_id, ',') FROM committed WHERE phase = 'children3'"),
		'shardId-000000000003,shardId-000000000004', '3: they land in both children');
	my $layout = sql("SELECT layout('rr')");
	my $before = max_handed();
	crash_and_start();
	wait_worker('3 (kill -9)');
	is(sql("SELECT layout('rr')"), $layout, '3: the committed layout survives the crash');
	check_new_puts('after3', 'rr', $before);
	is(sql("SELECT string_agg(DISTINCT shard_id, ',') FROM committed WHERE phase = 'after3'"),
		'shardId-000000000003,shardId-000000000004', '3: the children keep receiving puts');
	is(sql("SELECT bool_and(c.seq > p.ending_sequence_number)
	          FROM committed c, kinesis.list_shards('rr') p
	         WHERE c.phase = 'after3' AND p.shard_id = 'shardId-000000000002'"),
		't', "3: the children's new numbers are above their parent's ending number");
	is(sql("SELECT lineage_ok('rr')"), 't', '3: ending numbers are above every record of their shard, children start above their parents');
	is(sql("SELECT stream_vs_committed('rr')"), '0 missing, 0 extra, 0 duplicated', '3: the stream is exactly the committed set');
	is(sql("SELECT count(*) FROM (SELECT seq <= lag(seq) OVER (PARTITION BY partition_key ORDER BY ord) AS bad
	                                 FROM read_all('rr')) x WHERE bad"),
		0, '3: read parents first, each partition key comes out in increasing order');
}

# --- 4. puts and the worker while a reshard transaction stays open ---
{
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	my $putter = $node->background_psql('postgres', on_error_stop => 0);
	my $ppid = $putter->query_safe("SELECT pg_backend_pid()");
	$s->query_safe("BEGIN");
	$s->query_safe("SELECT kinesis.split_shard('rr', 'shardId-000000000003', 85070591730234615865843651857942052864)");
	my $other_segments = sql("SELECT max(segment_no) FROM kinesis.segments JOIN kinesis.streams USING (stream_id) WHERE stream_name = 'other'");
	my $rr_closed = sql("SELECT count(*) FROM kinesis.segments JOIN kinesis.streams USING (stream_id) WHERE stream_name = 'rr' AND closed_at IS NOT NULL");
	is(sql("SELECT put_log('rr', 'open4', 200, 'open4')"), 200, '4: puts during the open split');
	is(sql("SELECT count(*) FROM committed WHERE phase = 'open4' AND shard_id NOT IN ('shardId-000000000003', 'shardId-000000000004')"),
		0, '4: they land in the old layout');
	# another stream needs new segments: 5 x 500 records = 2.4 segments of 1024
	is(sql("SELECT sum(put_log('other', 'o' || g, 500, 'other4')) FROM generate_series(1, 5) g"), 2500,
		'4: puts to another stream that need new segments succeed');
	ok(kg_wait($node, "SELECT max(segment_no) > $other_segments FROM kinesis.segments JOIN kinesis.streams USING (stream_id) WHERE stream_name = 'other'", undef, undef, within => 10),
		'4: the worker creates segments meanwhile');
	ok(kg_wait($node, "SELECT count(*) > $rr_closed FROM kinesis.segments JOIN kinesis.streams USING (stream_id) WHERE stream_name = 'rr' AND closed_at IS NOT NULL", undef, undef, within => 10),
		'4: and closes segments of the stream being resharded');
	# a few more rounds of the worker, then more segments of the other stream
	sleep(2);
	my ($rc, $out, $err) = $node->psql('postgres', "SELECT sum(put_log('other', 'p' || g, 500, 'other4b')) FROM generate_series(1, 5) g");
	is($out, 2500, '4: the worker still creates segments of another stream while the split stays open');
	note("put to the other stream: $err") if $err;
	# puts past the reserved counter (one segment of 1024 numbers) wait
	$putter->query_until(qr/started/, "\\echo started\nSELECT sum(put_log('rr', 'wait4-' || g, 500, 'wait4')) FROM generate_series(1, 4) g;\n");
	ok(kg_wait($node, "SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $ppid", undef, undef, within => 10),
		'4: a put past the counter reserved for the children waits');
	sleep(1);
	is(sql("SELECT state FROM pg_stat_activity WHERE pid = $ppid"), 'active', '4: and keeps waiting while the split is open');
	$s->query_safe("COMMIT");
	$s->quit;
	ok(kg_wait($node, "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $ppid"), '4: after the commit the put completes');
	$putter->quit;
	is(sql("SELECT count(*) FROM committed WHERE phase = 'wait4'"), 2000, '4: all its records were put');
	is(sql("SELECT count(*) FROM committed WHERE phase = 'wait4' AND partition_key LIKE 'wait4-4-%' AND shard_id = 'shardId-000000000003'"),
		0, '4: the put after the wait did not land in the closed parent');
	cmp_ok(sql("SELECT count(*) FROM committed WHERE phase = 'wait4' AND shard_id IN ('shardId-000000000005', 'shardId-000000000006')"),
		'>', 0, '4: it landed in the children');
	is(sql("SELECT lineage_ok('rr')"), 't', '4: ending numbers are above every record, children start above their parents');
	is(sql("SELECT stream_vs_committed('rr')"), '0 missing, 0 extra, 0 duplicated', '4: the stream is exactly the committed set');
	is(sql("SELECT stream_vs_committed('other')"), '0 missing, 0 extra, 0 duplicated', '4: and the other stream too');
}

$node->stop;
done_testing();
