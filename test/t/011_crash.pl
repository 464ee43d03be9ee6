
# Crash safety of data streams (DESIGN.md quality bar: a crash under load
# loses no committed record and never reuses a sequence number), and the
# ends of producer transactions that do not commit normally.
#
# Two crashes under put load from 6 pgbench clients (put_record and
# put_records of small records; every committed put also inserts its
# sequence numbers into the ordinary table "committed" in the SAME
# transaction, so that table is exactly the committed set):
#   1. kill -9 of the postmaster, then a fresh start;
#   2. kill -9 of one producer backend: the postmaster resets shared memory
#      and restarts by itself (restart_after_crash).
# After each:
#   - the kinesis_glue worker is back, and the stream reports no open
#     producer;
#   - read_shard over every shard returns exactly the committed set: every
#     recorded number is there, nothing else, nothing twice;
#   - new puts from several sessions get numbers above every number in the
#     stream, and above every number handed out before the crash (the
#     producers also log each number handed out, committed or not, outside
#     the database); enough of them to need new segments from the worker.
# Then:
#   - crash 3: a producer puts N and its backend is killed before COMMIT,
#     with nothing else committing in between; after the restart a new put
#     must get a number above N (N was handed out; gaps are allowed, reuse
#     is not);
#   - PREPARE TRANSACTION after a put fails and leaves nothing (no record, no
#     prepared transaction, no hold on readers), also after a restart;
#   - a producer backend terminated mid-transaction releases its hold on
#     readers, and its record never appears.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);
use KgTest;

my $CLIENTS = 6;
my $SHARDS = 3;

my $node = kg_node(
	'crash',
	set => {
		max_connections => 30,
		max_prepared_transactions => 4,
		restart_after_crash => 'on',
		'kinesis_glue.worker_naptime' => '100ms',
		'kinesis_glue.launcher_naptime' => '100ms',
		'kinesis_glue.segment_records' => 1024,
		'kinesis_glue.segments_ahead' => 2,
		'kinesis_glue.segment_interval' => '1s'
	});

$node->safe_psql(
	'postgres', qq{
SELECT kinesis.create_stream('crash', $SHARDS);
-- the committed set: written in the producer's transaction
CREATE TABLE committed (seq bigint, client int, shard_id text, phase text);
CREATE INDEX ON committed (seq);
CREATE FUNCTION shard_name(sh int) RETURNS text LANGUAGE sql IMMUTABLE
    AS \$\$ SELECT 'shardId-' || lpad(sh::text, 12, '0') \$\$;
-- the whole stream as read_shard returns it, paging from the trim horizon
CREATE FUNCTION read_all() RETURNS TABLE (shard int, ord bigint, seq bigint)
LANGUAGE plpgsql AS \$\$
DECLARE
    after bigint;
    n bigint;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS ra (shard int, ord bigint, seq bigint);
    TRUNCATE ra;
    FOR sh IN 0 .. $SHARDS - 1 LOOP
        after := NULL;
        n := 0;
        LOOP
            INSERT INTO ra
            SELECT sh, n + t.ord, t.sequence_number
              FROM kinesis.read_shard('crash', shard_name(sh), after, 10000)
                   WITH ORDINALITY AS t(shard_id, sequence_number, arrival, partition_key, data, ord);
            EXIT WHEN NOT FOUND;
            SELECT count(*), max(ra.seq) INTO n, after FROM ra WHERE ra.shard = sh;
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT * FROM ra;
END
\$\$;
});

my $dir = $node->basedir;

# Producer script: one put_record, or put_records of 20, per transaction;
# some transactions stay open a little longer.  The highest number each
# put handed out is appended to handed.txt before COMMIT.
my $handed_file = "$dir/handed.txt";
my $producer_script = qq{\\set kind random(0, 3)
BEGIN;
\\if :kind = 0
WITH p AS (SELECT * FROM kinesis.put_record('crash', 'k' || :client_id || '-' || random(), '\\x01'::bytea)), i AS (INSERT INTO committed SELECT p.sequence_number, :client_id, p.shard_id, :phase FROM p) SELECT max(sequence_number) AS hs FROM p \\gset
\\else
WITH p AS (SELECT * FROM kinesis.put_records('crash', ARRAY(SELECT 'k' || g || '-' || random() FROM generate_series(1, 20) g), ARRAY(SELECT '\\x0102'::bytea FROM generate_series(1, 20) g))), i AS (INSERT INTO committed SELECT p.sequence_number, :client_id, p.shard_id, :phase FROM p) SELECT max(sequence_number) AS hs FROM p \\gset
\\endif
\\shell echo :hs >> $handed_file
\\if :kind = 3
SELECT pg_sleep(0.002);
\\endif
COMMIT;
};

sub start_load
{
	my ($phase) = @_;
	unlink $handed_file;
	local $ENV{PGAPPNAME} = 'kg_producer';
	return kg_pgbench($node, 'producer', $producer_script,
		clients => $CLIENTS, seconds => 120, define => ["phase='$phase'"]);
}

# Wait until the load has committed at least $n records in this phase.
sub wait_committed
{
	my ($phase, $n) = @_;
	$node->poll_query_until('postgres',
		"SELECT count(*) >= $n FROM committed WHERE phase = '$phase'")
	  or die "the load did not commit $n records";
}

# pgbench ends once every client lost its connection.
sub finish_load
{
	my ($load) = @_;
	my $status = kg_finish($load);
	diag("pgbench: $status") if $status =~ /^died/;
	note("pgbench stderr (tail): "
		  . join("\n", (split /\n/, ${ $load->{err} })[-3 .. -1] // ()));
}

sub handed_max
{
	my $max = -1;
	for my $l (split /\n/, slurp_file($handed_file))
	{
		$max = $l if $l =~ /^\d+$/ && $l > $max;
	}
	return $max;
}

sub sql { return kg_sql($node, shift) }

# After a backend was killed: wait for the postmaster to reset shared memory
# and to accept connections again (log read from $offset on).
sub wait_crash_restart
{
	my ($offset) = @_;
	$node->wait_for_log(
		qr/all server processes terminated; reinitializing.*database system is ready to accept connections/s,
		$offset);
	$node->poll_query_until('postgres', "SELECT NOT pg_is_in_recovery()")
	  or die "the server did not come back after the crash";
}

sub wait_worker
{
	my ($what) = @_;
	ok(kg_wait_worker($node), "$what: the kinesis_glue worker is back");
}

# The checks after a crash; $phase names the load that ran before it.
sub check_after_crash
{
	my ($what, $phase, $handed) = @_;

	wait_worker($what);
	is(sql("SELECT open_producers, last_stable_sequence_number = current_sequence_number "
		  . "FROM kinesis.stream_stability WHERE stream_name = 'crash'"),
		'0|t', "$what: no open producer, nothing held back");

	my ($n_phase, $n_all, $max_committed) = split /\|/,
	  sql("SELECT count(*) FILTER (WHERE phase = '$phase'), count(*), max(seq) FROM committed");
	note("$what: $n_phase records committed in the load, $n_all in all; highest number handed out before the crash: $handed");
	cmp_ok($n_phase, '>', 200, "$what: the load committed records before the crash");
	cmp_ok($handed, '>=', $max_committed, "$what: the producers' log of handed-out numbers covers the committed ones");

	sql("CREATE TABLE stream_now AS SELECT * FROM read_all()");
	is(sql("SELECT count(*) - count(DISTINCT seq) FROM stream_now"), 0, "$what: no sequence number appears twice in the stream");
	is(sql("SELECT count(*) - count(DISTINCT seq) FROM committed"), 0, "$what: no sequence number was committed twice");
	is(sql("SELECT count(*) FROM committed c WHERE NOT EXISTS (SELECT FROM stream_now s WHERE s.seq = c.seq)"),
		0, "$what: every committed sequence number is in the stream");
	is(sql("SELECT count(*) FROM stream_now s WHERE NOT EXISTS (SELECT FROM committed c WHERE c.seq = s.seq)"),
		0, "$what: the stream holds nothing that was not committed");
	is(sql("SELECT count(*) FROM stream_now s JOIN committed c USING (seq) WHERE shard_name(s.shard) <> c.shard_id OR s.seq & 65535 <> s.shard"),
		0, "$what: every record is in the shard its put reported");
	is(sql("SELECT count(*) FROM (SELECT seq <= lag(seq) OVER (PARTITION BY shard ORDER BY ord) AS bad FROM stream_now) x WHERE bad"),
		0, "$what: each shard reads in increasing order");
	my $max_stream = sql("SELECT max(seq) FROM stream_now");
	sql("DROP TABLE stream_now");
	my $segs_before = sql("SELECT max(segment_no) FROM kinesis.segments");

	# New puts from several sessions, enough to need new segments
	# (4 x 2000 numbers; a segment holds 1024, the worker keeps 2 ahead).
	my @sessions = map { $node->background_psql('postgres') } 1 .. 4;
	for my $i (0 .. $#sessions)
	{
		for my $b (1 .. 4)
		{
			$sessions[$i]->query_safe(
				"INSERT INTO committed SELECT p.sequence_number, 100 + $i, p.shard_id, '$phase-after' "
				  . "FROM kinesis.put_records('crash', ARRAY(SELECT 'n$i-$b-' || g FROM generate_series(1, 499) g), "
				  . "ARRAY(SELECT '\\x03'::bytea FROM generate_series(1, 499) g)) p");
			$sessions[$i]->query_safe(
				"INSERT INTO committed SELECT p.sequence_number, 100 + $i, p.shard_id, '$phase-after' "
				  . "FROM kinesis.put_record('crash', 'n$i-$b', '\\x04'::bytea) p");
		}
	}
	$_->quit for @sessions;
	my ($n_new, $min_new, $distinct_new) = split /\|/,
	  sql("SELECT count(*), min(seq), count(DISTINCT seq) FROM committed WHERE phase = '$phase-after'");
	is($n_new, 4 * 4 * 500, "$what: puts after the restart succeed");
	is($distinct_new, $n_new, "$what: new puts get distinct numbers");
	cmp_ok($min_new, '>', $max_stream, "$what: new numbers are above every number in the stream");
	cmp_ok($min_new, '>', $handed, "$what: new numbers are above every number handed out before the crash");
	cmp_ok(sql("SELECT max(segment_no) FROM kinesis.segments"), '>', $segs_before + 2,
		"$what: the worker created new segments after the restart");
	is(sql("SELECT count(*) FROM committed c WHERE NOT EXISTS (SELECT FROM read_all() s WHERE s.seq = c.seq)")
		  . '|' . sql("SELECT (SELECT count(*) FROM read_all()) - (SELECT count(*) FROM committed)"),
		'0|0', "$what: the stream is again exactly the committed set");
}

# --- crash 1: kill -9 of the postmaster under load ---
{
	my $load = start_load('load1');
	wait_committed('load1', 3000);
	ok(kg_kill9($node), 'crash 1: every server process of the killed postmaster is gone');
	finish_load($load);
	my $handed = handed_max();
	$node->start;
	check_after_crash('crash 1 (postmaster killed)', 'load1', $handed);
}

# --- crash 2: kill -9 of one producer backend; the postmaster restarts ---
{
	my $load = start_load('load2');
	wait_committed('load2', 3000);
	my $victim = sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'kg_producer' LIMIT 1");
	my $offset = -s $node->logfile;
	ok(kill(9, $victim), "crash 2: killed backend $victim");
	finish_load($load);
	wait_crash_restart($offset);
	pass('crash 2: the server reset shared memory and restarted by itself');
	check_after_crash('crash 2 (backend killed)', 'load2', handed_max());
}

# --- a number handed out to a transaction that never committed ---
# put_record returned N to a transaction that was open when its backend was
# killed: N was never committed, but it was handed out, so no later record
# may get it (a producer resolving an in-doubt commit by looking N up must
# not find someone else's record).  Nothing else commits between the put
# and the kill, so the put's WAL is normally not flushed.
{
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	my $spid = $s->query_safe("SELECT pg_backend_pid()");
	$s->query_safe("BEGIN");
	my $n = $s->query_safe(
		"SELECT sequence_number FROM kinesis.put_record('crash', 'in-doubt', '\\x08'::bytea)");
	my $offset = -s $node->logfile;
	kill(9, $spid);
	$s->quit;
	wait_crash_restart($offset);
	wait_worker('crash 3 (in-doubt producer killed)');
	my $m = sql("INSERT INTO committed SELECT p.sequence_number, 300, p.shard_id, 'in-doubt' "
		  . "FROM kinesis.put_record('crash', 'in-doubt', '\\x09'::bytea) p RETURNING seq");
	cmp_ok($m, '>', $n,
		'crash 3: a number handed out to a transaction that never committed is not handed out again');
}

# --- PREPARE TRANSACTION after a put is refused and leaves nothing ---
{
	my $before = sql("SELECT count(*) FROM read_all()");
	my ($ret, $stdout, $stderr) = $node->psql('postgres',
		"BEGIN; SELECT kinesis.put_record('crash', 'prep', '\\x05'::bytea); PREPARE TRANSACTION 'kg_tap_prep';");
	like($stderr, qr/cannot PREPARE a transaction that has put records to a data stream/, 'PREPARE after a put is refused');
	is(sql("SELECT count(*) FROM pg_prepared_xacts"), 0, 'no prepared transaction is left');
	is(sql("SELECT open_producers, last_stable_sequence_number = current_sequence_number FROM kinesis.stream_stability WHERE stream_name = 'crash'"),
		'0|t', 'the refused transaction holds nothing back');
	is(sql("SELECT count(*) FROM read_all()"), $before, 'the refused put left no record');
	$node->restart;
	wait_worker('after a clean restart');
	is(sql("SELECT count(*) FROM pg_prepared_xacts"), 0, 'after a restart, still no prepared transaction');
	is(sql("SELECT count(*) FROM read_all()"), $before, 'after a restart, still no record from the refused put');
}

# --- a producer backend that ends mid-transaction releases its hold ---
{
	my $producer = $node->background_psql('postgres', on_error_stop => 0);
	my $ppid = $producer->query_safe("SELECT pg_backend_pid()");
	$producer->query_safe("BEGIN");
	$producer->query_safe("SELECT kinesis.put_record('crash', 'terminated', '\\x06'::bytea)");
	is(sql("SELECT open_producers FROM kinesis.stream_stability WHERE stream_name = 'crash'"), 1,
		'an open put transaction is an open producer');
	sql("INSERT INTO committed SELECT p.sequence_number, 200, p.shard_id, 'terminate' FROM kinesis.put_record('crash', 'later', '\\x07'::bytea) p");
	my ($later_shard, $later_seq) = split /\|/,
	  sql("SELECT substr(shard_id, 9)::int, seq FROM committed WHERE phase = 'terminate'");
	my $read_later = "SELECT count(*) FROM kinesis.read_shard('crash', shard_name($later_shard), $later_seq - 65536, 10) "
	  . "WHERE sequence_number = $later_seq AND partition_key = 'later'";
	is(sql($read_later),
		0, 'a later committed record is held back while the producer is open');
	sql("SELECT pg_terminate_backend($ppid)");
	ok( $node->poll_query_until('postgres',
			"SELECT open_producers = 0 FROM kinesis.stream_stability WHERE stream_name = 'crash'"),
		'the terminated producer no longer holds readers back');
	is(sql($read_later), 1, 'the later committed record is readable');
	is(sql("SELECT count(*) FROM read_all() r WHERE NOT EXISTS (SELECT FROM committed c WHERE c.seq = r.seq)"),
		0, 'the terminated producer\'s record never appears');
	$producer->quit;
}

$node->stop;
done_testing();
