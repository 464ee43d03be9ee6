
# Named consumers across sessions: leases, their takeover, fair sharing,
# waiting consumes, and exactly-once consumption under load.
#
#   1. A session that consumed holds its shards between transactions.  When
#      it is killed (pg_terminate_backend) another session of the consumer
#      takes its shards at once, from the last committed checkpoint: what
#      the killed session consumed in its open transaction comes again.
#   2. A session idle for longer than kinesis_glue.lease_timeout loses its
#      shards to another session; before that, another session gets at most
#      its fair share of them.  A session inside an open consuming
#      transaction keeps its shards: another session neither waits for it
#      nor gets them (section 1).
#   3. Fair sharing: two sessions consuming in turns from a 4-shard stream
#      end up with two shards each.
#   4. A waiting consume (wait => '10 s') returns when a producer commits,
#      well before its time is up; the latency from the producer's commit
#      to the consume's return is measured inside the database.
#   5. Exactly once: 4 consumer sessions (pgbench) consume, in each
#      transaction storing what they got in a table, while 4 producer
#      sessions put records and log them in the same transaction; one
#      consumer transaction in four rolls back.  In the end the table holds
#      every committed record exactly once.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $node = kg_node(
	'consumers',
	set => {
		max_connections => 40,
		'kinesis_glue.launcher_naptime' => undef,
		'kinesis_glue.lease_timeout' => '10s'
	});

my $sql = sub { kg_sql($node, shift) };
my $set_lease_timeout = sub {
	my $v = shift;
	kg_set_conf($node, 'kinesis_glue.lease_timeout' => $v);
	# every new session sees the new value once the postmaster reloaded
	kg_wait($node, "SELECT current_setting('kinesis_glue.lease_timeout') = '$v'")
	  or die "lease_timeout did not become $v";
};

$sql->(q{
CREATE FUNCTION put_n(stream text, shards int, per_shard int, tag text) RETURNS bigint
LANGUAGE sql AS $$
    -- per_shard records on each of the first 'shards' shards of a stream
    -- of that many shards (explicit hash keys at each range's start)
    SELECT count(*) FROM generate_series(0, shards * per_shard - 1) g,
           LATERAL kinesis.put_record(stream, tag || '-' || g, convert_to(tag || '-' || g, 'UTF8'),
                                      floor(340282366920938463463374607431768211456::numeric / shards) * (g % shards))
$$;
CREATE FUNCTION holders(stream text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(shard_id || '=' || coalesce(lease_owner::text, '-'), ',' ORDER BY shard_id), '')
      FROM kinesis.consumer_positions WHERE stream_name = stream
$$;
});

# ------------------------------------------------------------------------
# 1. a killed session's shards go to another session at once
# ------------------------------------------------------------------------
$sql->("SELECT kinesis.create_stream('lease', 2)");
$sql->("SELECT kinesis.register_stream_consumer('lease', 'c')");
$sql->("SELECT put_n('lease', 2, 10, 'a')");

my $a = $node->background_psql('postgres', on_error_stop => 0);
my $b = $node->background_psql('postgres', on_error_stop => 0);
my $a_pid = $a->query_safe("SELECT pg_backend_pid()");
my $b_pid = $b->query_safe("SELECT pg_backend_pid()");

# A commits 4 records, then takes 6 more in an open transaction
is($a->query_safe("SELECT count(*) FROM kinesis.consume('lease', 'c', 4)"), 4, 'A consumed and committed 4 records');
is($sql->("SELECT holders('lease')"), "shardId-000000000000=$a_pid,shardId-000000000001=$a_pid",
	'A holds both shards between its transactions');
$a->query_safe("BEGIN");
is($a->query_safe("SELECT count(*) FROM kinesis.consume('lease', 'c', 6)"), 6, 'A consumed 6 more in an open transaction');
# another session neither waits for A's transaction nor gets what A holds
# (SKIP LOCKED); a statement timeout turns a wait into an error
my $tb = time();
my ($rc, $c_got, $c_err) = $node->psql('postgres',
	"SET statement_timeout = '5s'; SELECT count(*) FROM kinesis.consume('lease', 'c')");
is("$rc|$c_got", '0|0', 'another session gets nothing while A holds both shards in an open transaction')
  or diag($c_err);
cmp_ok(time() - $tb, '<', 2, 'and does not wait for A');
my $t0 = time();
$sql->("SELECT pg_terminate_backend($a_pid)");
kg_wait($node, "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $a_pid)", 't', 'the end of A')
  or die "A did not end";
$a->quit;
is($b->query_safe("SELECT count(*) FROM kinesis.consume('lease', 'c')"), 16,
	'B takes the killed session\'s shards at once: the 16 records after A\'s committed checkpoint');
cmp_ok(time() - $t0, '<', 5, 'without waiting for the lease to expire (10 s)');
is($sql->("SELECT holders('lease')"), "shardId-000000000000=$b_pid,shardId-000000000001=$b_pid",
	'B holds both shards now');
is($b->query_safe("SELECT count(*) FROM kinesis.consume('lease', 'c')"), 0, 'and nothing is left');
$b->quit;

# ------------------------------------------------------------------------
# 2. a session idle beyond kinesis_glue.lease_timeout loses its shards
# ------------------------------------------------------------------------
$set_lease_timeout->('2s');
$sql->("SELECT kinesis.create_stream('idle', 2)");
$sql->("SELECT kinesis.register_stream_consumer('idle', 'c')");
$sql->("SELECT put_n('idle', 2, 5, 'a')");
$a = $node->background_psql('postgres', on_error_stop => 0);
$b = $node->background_psql('postgres', on_error_stop => 0);
$a_pid = $a->query_safe("SELECT pg_backend_pid()");
$b_pid = $b->query_safe("SELECT pg_backend_pid()");
is($a->query_safe("SELECT count(*) FROM kinesis.consume('idle', 'c')"), 10, 'A consumed everything');
is($sql->("SELECT holders('idle')"), "shardId-000000000000=$a_pid,shardId-000000000001=$a_pid",
	'A holds both shards');
$sql->("SELECT put_n('idle', 2, 5, 'b')");
# within the lease timeout, B gets at most its fair share (one shard)
my $b_early = $b->query_safe("SELECT count(*) FROM kinesis.consume('idle', 'c')");
cmp_ok($b_early, '<=', 5, "while A's leases run, B gets at most one of A's two shards ($b_early records)");
usleep(2_500_000);
is($b_early + $b->query_safe("SELECT count(*) FROM kinesis.consume('idle', 'c')"), 10,
	'after A was idle beyond the lease timeout, B takes over its shards and gets every new record');
is($sql->("SELECT holders('idle')"), "shardId-000000000000=$b_pid,shardId-000000000001=$b_pid",
	'B holds both shards');
$sql->("SELECT put_n('idle', 2, 1, 'c')");
my $a_back = $a->query_safe("SELECT count(*) FROM kinesis.consume('idle', 'c')");
my $b_back = $b->query_safe("SELECT count(*) FROM kinesis.consume('idle', 'c')");
is($a_back + $b_back, 2, "A, back, and B share the new records (A $a_back, B $b_back), none twice");
$a->quit;
$b->quit;
$set_lease_timeout->('10s');

# ------------------------------------------------------------------------
# 3. fair sharing: 2 sessions, 4 shards
# ------------------------------------------------------------------------
$sql->("SELECT kinesis.create_stream('fair', 4)");
$sql->("SELECT kinesis.register_stream_consumer('fair', 'c')");
$sql->("SELECT put_n('fair', 4, 50, 'a')");
$a = $node->background_psql('postgres', on_error_stop => 0);
$b = $node->background_psql('postgres', on_error_stop => 0);
$a_pid = $a->query_safe("SELECT pg_backend_pid()");
$b_pid = $b->query_safe("SELECT pg_backend_pid()");
$sql->("CREATE TABLE fair_got (sess text, round int, shard_id text, seq bigint)");
for my $round (1 .. 6)
{
	for my $s ([ $a, 'A' ], [ $b, 'B' ])
	{
		$s->[0]->query_safe(
			"INSERT INTO fair_got SELECT '$s->[1]', $round, shard_id, sequence_number "
			  . "FROM kinesis.consume('fair', 'c', 8)");
	}
}
my $holders = $sql->("SELECT holders('fair')");
note("lease holders after 6 rounds: $holders (A = $a_pid, B = $b_pid)");
is($sql->("SELECT count(*) FROM kinesis.consumer_positions WHERE stream_name = 'fair' AND lease_owner = $a_pid")
	  . '/'
	  . $sql->("SELECT count(*) FROM kinesis.consumer_positions WHERE stream_name = 'fair' AND lease_owner = $b_pid"),
	'2/2', 'after a few rounds each session holds two of the four shards');
is($sql->("SELECT count(DISTINCT sess) FROM fair_got WHERE round = 6"), 2, 'both sessions get records in the last round');
is($sql->("SELECT count(*) FROM (SELECT shard_id FROM fair_got WHERE round = 6 AND sess = 'A' "
		  . "INTERSECT SELECT shard_id FROM fair_got WHERE round = 6 AND sess = 'B') x"),
	0, 'from different shards');
is($sql->("SELECT count(*) - count(DISTINCT seq) FROM fair_got"), 0, 'no record was given twice');
$a->quit;
$b->quit;

# ------------------------------------------------------------------------
# 4. a waiting consume returns when a producer commits
# ------------------------------------------------------------------------
$sql->("SELECT kinesis.create_stream('wait', 1)");
$sql->("SELECT kinesis.register_stream_consumer('wait', 'c')");
$sql->("CREATE TABLE commit_at (k text PRIMARY KEY, at timestamptz)");
$sql->("CREATE TABLE returned_at (k text, called timestamptz, at timestamptz)");
# true once a consume of stream 'wait' sleeps (wait event "Extension")
my $consume_sleeps = sub {
	return kg_wait($node,
		"SELECT EXISTS (SELECT FROM pg_stat_activity WHERE wait_event_type = 'Extension' "
		  . "AND query LIKE '%kinesis.consume(''wait''%')",
		't', 'a consume of stream wait to sleep');
};
my $consumer = $node->background_psql('postgres', on_error_stop => 0);
my $producer = $node->background_psql('postgres', on_error_stop => 0);
my @lat;
for my $i (1 .. 5)
{
	# the consume runs in its own psql so that this script can go on
	my $run = kg_psql_bg($node, 'consume',
		command => "INSERT INTO returned_at SELECT partition_key, statement_timestamp(), clock_timestamp() "
		  . "FROM kinesis.consume('wait', 'c', wait => '10 s') RETURNING k");
	# the consume sleeps on the stream's condition variable
	$consume_sleeps->() or die "the consume did not start waiting: ${ $run->{err} }";
	usleep(200_000);
	$producer->query_safe("BEGIN");
	$producer->query_safe("SELECT kinesis.put_record('wait', 'w$i', 'x')");
	$producer->query_safe("INSERT INTO commit_at VALUES ('w$i', clock_timestamp())");
	$producer->query_safe("COMMIT");
	kg_finish($run);
	chomp(my $out = ${ $run->{out} });
	is($out, "w$i", "waiting consume $i returned the record committed meanwhile") or diag(${ $run->{err} });
}
my ($n, $waited, $max_ms, $avg_ms) = split /\|/, $sql->(
	"SELECT count(*), bool_and(c.at - r.called > interval '200 ms'), "
	  . "round(max(extract(epoch FROM r.at - c.at) * 1000)::numeric, 2), "
	  . "round(avg(extract(epoch FROM r.at - c.at) * 1000)::numeric, 2) "
	  . "FROM commit_at c JOIN returned_at r USING (k)");
is($n, 5, 'five waits measured');
is($waited, 't', 'every consume was waiting when the producer committed');
note("commit -> consume return: avg $avg_ms ms, max $max_ms ms (incl. the commit itself)");
cmp_ok($max_ms, '<', 1000, 'each consume returned well before its 10 s were over (< 1 s after the commit)');
# nothing to wait for: the wait runs out
my $t = time();
is($consumer->query_safe("SELECT count(*) FROM kinesis.consume('wait', 'c', wait => '500 ms')"), 0,
	'a wait with nothing put returns nothing');
cmp_ok(time() - $t, '>=', 0.45, 'after waiting its time');
# a producer that rolls back does not end the wait with records
my $run2 = kg_psql_bg($node, 'consume2', command => "SELECT count(*) FROM kinesis.consume('wait', 'c', wait => '1500 ms')");
$consume_sleeps->() or die "the consume did not start waiting: ${ $run2->{err} }";
$producer->query_safe("BEGIN");
$producer->query_safe("SELECT kinesis.put_record('wait', 'rolled-back', 'x')");
$producer->query_safe("ROLLBACK");
kg_finish($run2);
chomp(my $out2 = ${ $run2->{out} });
is($out2, '0', 'a rolled-back put ends no wait with records');
$consumer->quit;
$producer->quit;

# ------------------------------------------------------------------------
# 5. exactly once under load: 4 consumers, 4 producers, rollbacks
# ------------------------------------------------------------------------
$sql->(q{
SELECT kinesis.create_stream('eo', 4);
SELECT kinesis.register_stream_consumer('eo', 'c');
CREATE TABLE eo_put (client int, k int, seq bigint PRIMARY KEY, shard_id text);
CREATE TABLE eo_done (client int, seq bigint, shard_id text, data text, at timestamptz DEFAULT clock_timestamp());
});
my %run;
$run{producers} = kg_pgbench($node, 'eo_producer', q{\set k :k + 1
BEGIN;
INSERT INTO eo_put SELECT :client_id, :k, r.sequence_number, r.shard_id
  FROM kinesis.put_records('eo', ARRAY(SELECT 'p' || :client_id || '-' || :k || '-' || g FROM generate_series(1, 5) g),
                           ARRAY(SELECT convert_to(:client_id || ':' || :k || ':' || g, 'UTF8') FROM generate_series(1, 5) g)) r;
\if :k % 9 = 0
ROLLBACK;
\else
COMMIT;
\endif
}, clients => 4, seconds => 8, define => ['k=0'], timeout => 120);
$run{consumers} = kg_pgbench($node, 'eo_consumer', q{\set r random(1, 4)
BEGIN;
INSERT INTO eo_done (client, seq, shard_id, data)
SELECT :client_id, sequence_number, shard_id, convert_from(data, 'UTF8')
  FROM kinesis.consume('eo', 'c', 20, wait => '50 ms');
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
}, clients => 4, seconds => 8, timeout => 120);
for my $name (qw(producers consumers))
{
	my $r = $run{$name};
	is(kg_finish($r), 0, "pgbench $name ran without errors")
	  or diag("stdout:\n${$r->{out}}\nstderr:\n${$r->{err}}");
	note("$name: " . (kg_transactions($r) // '?') . " transactions");
}
# drain what is left (leases of the pgbench sessions are gone with them)
$sql->(q{
DO $$
DECLARE n int;
BEGIN
    LOOP
        INSERT INTO eo_done (client, seq, shard_id, data)
        SELECT -1, sequence_number, shard_id, convert_from(data, 'UTF8') FROM kinesis.consume('eo', 'c', 10000);
        GET DIAGNOSTICS n = ROW_COUNT;
        EXIT WHEN n = 0;
    END LOOP;
END
$$;
});
my ($put, $done, $distinct, $during) = split /\|/, $sql->(
	"SELECT (SELECT count(*) FROM eo_put), count(*), count(DISTINCT seq), count(*) FILTER (WHERE client >= 0) FROM eo_done");
note("committed puts: $put; consumed: $done ($during while the producers ran)");
cmp_ok($put, '>', 500, 'the producers committed a fair number of records');
cmp_ok($during, '>', 0, 'the consumers consumed while the producers ran');
is($done, $distinct, 'no record was consumed twice');
is($sql->("SELECT count(*) FROM eo_put p FULL JOIN eo_done d USING (seq) "
		  . "WHERE p.seq IS NULL OR d.seq IS NULL OR p.shard_id <> d.shard_id"),
	0, 'every committed record was consumed exactly once, and nothing else');
is($sql->("SELECT count(*) FROM (SELECT seq < lag(seq) OVER (PARTITION BY shard_id ORDER BY at, seq) AS back "
		  . "FROM eo_done) x WHERE back"),
	0, 'per shard, records were consumed in sequence order');
is($sql->("SELECT sum(lag_records) FROM kinesis.consumer_positions WHERE stream_name = 'eo'"), 0,
	'the consumer has no lag left');

$node->stop;
done_testing();
