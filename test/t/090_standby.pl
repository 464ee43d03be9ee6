# TAP: kinesis_glue on a hot standby (issue 20, item 1).
#
# A primary with kinesis_glue, streams, a named consumer and producers; a
# streaming standby made with pg_basebackup -R (backup + init_from_backup
# with has_streaming).  Reads work on the standby up to the stable bound the
# primary's worker publishes in WAL (kinesis.stream_bounds, issue 18): a
# producer transaction left open on the primary holds that bound back, so
# the standby does not return the committed records behind it until it
# commits and the new bound is replayed.  consume and checkpoint (which
# write) are refused with SQLSTATE 25006 and a hint naming the primary;
# put_record fails as read-only with a hint naming the primary (its address
# only for pg_read_all_stats).  kinesis.stream_stability shows the replayed
# bound and its age; consumer_positions counts lag up to it.  Catalog reads
# answer as on the primary, iterators cross between the two, and after
# promotion the former standby reads every record.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KgTest;

my $primary = kg_node(
	'standby_primary',
	init => { allows_streaming => 1 },
	set => {
		'kinesis_glue.launcher_naptime' => undef,
		'kinesis_glue.standby_bound_interval' => '100ms'
	});

my $p = sub { kg_sql($primary, shift) };
$p->(q{
	CREATE ROLE plain LOGIN;
	SELECT kinesis.create_stream('sb', 2);
	SELECT count(*) FROM kinesis.put_records('sb', ARRAY(SELECT 'k' || g FROM generate_series(1, 40) g),
	                                         ARRAY(SELECT convert_to(format('{"n": %s}', g), 'UTF8') FROM generate_series(1, 40) g));
	SELECT kinesis.register_stream_consumer('sb', 'reader');
	SELECT glue.create_database('sbdb');
	SELECT glue.create_table('sbdb', 'events', location => 'kinesis://sb', classification => 'json',
	                         columns => '[{"name": "n", "type": "int"}]');
});
my $token = $p->("SELECT kinesis.get_shard_iterator('sb', 'shardId-000000000000', 'TRIM_HORIZON')");

$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby_standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

# Run $sql on the standby; return (sqlstate, full error text) or ('ok', output).
sub on_standby
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $standby->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	return ('ok', $out) if $rc == 0;
	my ($state) = $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return ($state // 'none', $err);
}

sub refused
{
	my ($sql, $what) = @_;
	my ($state, $err) = on_standby($sql);
	is($state, '25006', "$what is refused on the standby with SQLSTATE 25006");
	like($err, qr/cannot execute kinesis\.\w+\(\) on a hot standby/, "$what: the message says it cannot run on a standby");
	like($err, qr/HINT:\s+Run it on the primary server at host "[^"]+" port \d+/, "$what: the hint names the primary");
}

# the standby's replayed bound (last stable sequence) of stream sb
sub standby_lss
{
	return $standby->safe_psql('postgres',
		"SELECT last_stable_sequence_number FROM kinesis.stream_stability WHERE stream_name = 'sb'");
}

# Wait until the standby has replayed the bound the primary has now.
sub standby_catch_bound
{
	my $want = $p->("SELECT last_stable_sequence_number FROM kinesis.stream_stability WHERE stream_name = 'sb'");
	kg_wait($standby,
		"SELECT last_stable_sequence_number >= $want FROM kinesis.stream_stability WHERE stream_name = 'sb'",
		't', "the standby to replay bound $want")
	  or die "the standby never replayed bound $want";
	return $want;
}

standby_catch_bound();
my $before_open = standby_lss();
my $n_before = $standby->safe_psql('postgres', "SELECT sum(n) FROM (SELECT count(*) AS n FROM kinesis.list_shards('sb') s,
                 LATERAL kinesis.read_shard('sb', s.shard_id, NULL, 10000)) x");
is($n_before, 40, 'the standby reads the 40 committed records up to the replayed bound');

# --- a producer transaction stays open on the primary meanwhile ---
my $producer = $primary->background_psql('postgres', on_error_stop => 0);
$producer->query_safe('BEGIN');
$producer->query_safe("SELECT kinesis.put_record('sb', 'late', '\\x01'::bytea)");
$p->("SELECT count(*) FROM kinesis.put_records('sb', ARRAY['a', 'b', 'c'], ARRAY['\\x02', '\\x03', '\\x04']::bytea[])");
$primary->wait_for_catchup($standby);
is($p->("SELECT open_producers = 1 AND last_stable_sequence_number < current_sequence_number
           FROM kinesis.stream_stability WHERE stream_name = 'sb'"),
	't', 'on the primary, the open producer holds the bound back');
my $held = standby_catch_bound();
is($held, $before_open, 'the published bound did not pass the open producer');

# reads work on the standby, up to the replayed bound: the three committed
# records behind the open producer are not returned yet
my $read_all = "SELECT sum(n) FROM (SELECT count(*) AS n FROM kinesis.list_shards('sb') s,
                 LATERAL kinesis.read_shard('sb', s.shard_id, NULL, 10000)) x";
my ($state, $out) = on_standby($read_all);
is("$state $out", 'ok 40', 'read_shard on the standby stops at the bound (the records behind the open producer wait)');
($state, $out) = on_standby("SELECT array_length((kinesis.get_records('$token')).records, 1) > 0");
is("$state $out", 'ok t', 'get_records on the standby with an iterator issued on the primary');
($state, $out) = on_standby("SELECT (kinesis.get_records(kinesis.get_shard_iterator('sb', 'shardId-000000000000', 'LATEST'), 10, '300 ms')).records");
is("$state $out", 'ok {}', 'a waiting get_records from LATEST on the standby returns nothing while the bound is held');
($state, $out) = on_standby("SELECT length(kinesis.get_shard_iterator('sb', 'shardId-000000000000', 'AT_TIMESTAMP', NULL, now() - interval '1 hour'))");
is("$state $out", 'ok 68', 'get_shard_iterator AT_TIMESTAMP on the standby');
refused("SELECT * FROM kinesis.consume('sb', 'reader')", 'consume');
refused("SELECT kinesis.checkpoint('sb', 'reader', 'shardId-000000000000', -1)", 'checkpoint');

($state, $out) = on_standby(q{SELECT count(*), count(current_sequence_number), count(last_stable_sequence_number),
	       count(open_producers), count(oldest_producer_age), count(published_age),
	       bool_and(last_stable_sequence_number = published_stable_sequence_number)
	  FROM kinesis.stream_stability WHERE stream_name = 'sb'});
is("$state $out", 'ok 1|0|1|0|0|1|t', 'stream_stability on the standby: the replayed bound and its age, nothing else');
($state, $out) = on_standby(q{SELECT count(*), count(lag_records), count(checkpoint_sequence_number)
	  FROM kinesis.consumer_positions WHERE consumer_name = 'reader'});
is("$state $out", 'ok 2|2|2', 'consumer_positions on the standby: checkpoints and lag up to the replayed bound');

# --- writes fail as read-only, naming the primary ---
($state, $out) = on_standby("SELECT kinesis.put_record('sb', 'x', '\\x00'::bytea)");
is($state, '25006', 'put_record on the standby fails with 25006');
like($out, qr/cannot put records in a read-only transaction.*HINT:\s+This server is a hot standby: put records on the primary server at host "[^"]+" port \d+\./s,
	'and says the transaction is read-only, with a hint naming the primary');
my ($rc, $o, $e) = $standby->psql('postgres', "SET ROLE plain; SELECT kinesis.put_record('sb', 'x', '\\x00'::bytea)");
like($e, qr/put records on the primary server \(its address is shown to roles with the privileges of pg_read_all_stats\)/,
	'a role without pg_read_all_stats is not told the address');
($state, $out) = on_standby("SELECT kinesis.register_stream_consumer('sb', 'other')");
is($state, '25006', 'register_stream_consumer on the standby fails with 25006');
($state, $out) = on_standby("SELECT kinesis.create_stream('sb2')");
is($state, '25006', 'create_stream on the standby fails with 25006');

# --- catalog reads give the same answers on the standby ---
for my $q (
	"SELECT string_agg(stream_name || ':' || stream_status, ',') FROM kinesis.list_streams()",
	"SELECT stream_name, open_shard_count, consumer_count FROM kinesis.describe_stream_summary('sb')",
	"SELECT string_agg(shard_id, ',' ORDER BY shard_id) FROM kinesis.list_shards('sb')",
	"SELECT string_agg(consumer_name, ',') FROM kinesis.list_stream_consumers('sb')")
{
	($state, $out) = on_standby($q);
	is("$state $out", 'ok ' . $p->($q), "same answer on the standby as on the primary: $q");
}
($state, $out) = on_standby("SELECT length(kinesis.get_shard_iterator('sb', 'shardId-000000000000', 'TRIM_HORIZON')) > 0");
is("$state $out", 'ok t', 'get_shard_iterator TRIM_HORIZON works on the standby');
($state, my $sb_token) = on_standby("SELECT kinesis.get_shard_iterator('sb', 'shardId-000000000000', 'AT_SEQUENCE_NUMBER', 0)");
is($state, 'ok', 'get_shard_iterator AT_SEQUENCE_NUMBER works on the standby');
is($p->("SELECT array_length((kinesis.get_records('$sb_token')).records, 1) > 0"), 't',
	'and the primary reads with that token');
($state, $out) = on_standby('SELECT count(*) FROM glue_tables.sbdb_events');
is("$state $out", 'ok ' . $p->('SELECT count(*) FROM glue_tables.sbdb_events'),
	'the glue_tables view of a stream reads committed records on the standby');

# --- the producer commits: the standby's bound moves on and it reads all ---
$producer->query_safe('COMMIT');
$producer->quit;
standby_catch_bound();
($state, $out) = on_standby($read_all);
is("$state $out", 'ok 44', 'once the new bound is replayed the standby reads all 44 records');

# --- after promotion the former standby reads everything ---
$primary->wait_for_catchup($standby);
my $all = $p->("SELECT sum(n) FROM (SELECT count(*) AS n FROM kinesis.list_shards('sb') s,
                 LATERAL kinesis.read_shard('sb', s.shard_id, NULL, 10000)) x");
is($all, 44, 'the primary reads all 44 records');
$standby->promote;
kg_wait($standby, 'SELECT NOT pg_is_in_recovery()', 't', 'the end of the promotion')
  or die 'the standby did not finish promotion';
($state, $out) = on_standby("SELECT sum(n) FROM (SELECT count(*) AS n FROM kinesis.list_shards('sb') s,
                 LATERAL kinesis.read_shard('sb', s.shard_id, NULL, 10000)) x");
is("$state $out", "ok $all", 'after promotion the former standby reads every record');
($state, $out) = on_standby("SELECT count(*) FROM kinesis.consume('sb', 'reader')");
is("$state $out", "ok $all", 'and its consumer gets them all');

$standby->stop;
$primary->stop;
done_testing();
