# TAP: kinesis_glue on a hot standby (issue 20, item 1).
#
# A primary with kinesis_glue, streams, a named consumer and producers; a
# streaming standby made with pg_basebackup -R (backup + init_from_backup
# with has_streaming).  Reads that rely on the last stable sequence (the
# commit-order bound kept in the primary's shared memory) are refused on the
# standby with SQLSTATE 25006, a message naming the reason and a hint to read
# from the primary: read_shard, get_records, get_shard_iterator LATEST and
# AT_TIMESTAMP, consume and checkpoint (also while a producer transaction is
# open on the primary).  kinesis.stream_stability shows no figures there
# (NULL), and the lag columns of kinesis.consumer_positions are NULL.  Writes
# fail as read-only.  What does not depend on the bound works: list_streams,
# describe_stream_summary, list_shards, list_stream_consumers,
# get_shard_iterator TRIM_HORIZON / AT_SEQUENCE_NUMBER (a token the primary
# accepts), and the glue_tables view of a stream.  After promotion the former
# standby reads every record.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('standby_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'kinesis_glue'
max_worker_processes = 16
kinesis_glue.worker_naptime = 200ms
});
$primary->start;

my $p = sub { $primary->safe_psql('postgres', shift) };
$p->(q{
	CREATE EXTENSION kinesis_glue;
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
	like($err, qr/kinesis_glue: reading streams on a hot standby is not supported yet/, "$what: the message names the reason");
	like($err, qr/last stable sequence.*only known on the primary/s, "$what: the detail says why");
	like($err, qr/HINT:\s+Read from the primary server\./, "$what: the hint says where to read");
}

# --- a producer transaction stays open on the primary meanwhile ---
my $producer = $primary->background_psql('postgres', on_error_stop => 0);
$producer->query_safe('BEGIN');
$producer->query_safe("SELECT kinesis.put_record('sb', 'late', '\\x01'::bytea)");
$p->("SELECT count(*) FROM kinesis.put_records('sb', ARRAY['a', 'b', 'c'], ARRAY['\\x02', '\\x03', '\\x04']::bytea[])");
$primary->wait_for_catchup($standby);
is($p->("SELECT open_producers = 1 AND last_stable_sequence_number < current_sequence_number
           FROM kinesis.stream_stability WHERE stream_name = 'sb'"),
	't', 'on the primary, the open producer holds the bound back');

refused("SELECT * FROM kinesis.read_shard('sb', 'shardId-000000000000')", 'read_shard');
refused("SELECT * FROM kinesis.get_records('$token')", 'get_records');
refused("SELECT * FROM kinesis.get_records('$token', 10, '1 s')", 'the waiting get_records');
refused("SELECT kinesis.get_shard_iterator('sb', 'shardId-000000000000', 'LATEST')", 'get_shard_iterator LATEST');
refused("SELECT kinesis.get_shard_iterator('sb', 'shardId-000000000000', 'AT_TIMESTAMP', NULL, now() - interval '1 hour')",
	'get_shard_iterator AT_TIMESTAMP');
refused("SELECT * FROM kinesis.consume('sb', 'reader')", 'consume');
refused("SELECT kinesis.checkpoint('sb', 'reader', 'shardId-000000000000', -1)", 'checkpoint');

my ($state, $out) = on_standby(q{SELECT count(*), count(current_sequence_number), count(last_stable_sequence_number),
	       count(open_producers), count(oldest_producer_age) FROM kinesis.stream_stability WHERE stream_name = 'sb'});
is("$state $out", 'ok 1|0|0|0|0', 'stream_stability on the standby: the row, with no figures (NULL)');
($state, $out) = on_standby(q{SELECT count(*), count(lag_records), count(checkpoint_sequence_number)
	  FROM kinesis.consumer_positions WHERE consumer_name = 'reader'});
is("$state $out", 'ok 2|0|2', 'consumer_positions on the standby: checkpoints, no lag (NULL)');

# --- writes fail as read-only, with PostgreSQL's message ---
($state, $out) = on_standby("SELECT kinesis.put_record('sb', 'x', '\\x00'::bytea)");
is($state, '25006', 'put_record on the standby fails with 25006');
like($out, qr/cannot put records in a read-only transaction.*HINT:\s+This server is a hot standby: put records on the primary\./s,
	'and says the transaction is read-only, with a hint to put on the primary');
($state, $out) = on_standby("SELECT kinesis.register_stream_consumer('sb', 'other')");
is($state, '25006', 'register_stream_consumer on the standby fails with 25006');
($state, $out) = on_standby("SELECT kinesis.create_stream('sb2')");
is($state, '25006', 'create_stream on the standby fails with 25006');

# --- what does not depend on the bound works on the standby ---
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

# --- the open producer commits; after promotion the former standby reads everything ---
$producer->query_safe('COMMIT');
$producer->quit;
$primary->wait_for_catchup($standby);
my $all = $p->("SELECT sum(n) FROM (SELECT count(*) AS n FROM kinesis.list_shards('sb') s,
                 LATERAL kinesis.read_shard('sb', s.shard_id, NULL, 10000)) x");
is($all, 44, 'the primary reads all 44 records');
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'the standby did not finish promotion';
($state, $out) = on_standby("SELECT sum(n) FROM (SELECT count(*) AS n FROM kinesis.list_shards('sb') s,
                 LATERAL kinesis.read_shard('sb', s.shard_id, NULL, 10000)) x");
is("$state $out", "ok $all", 'after promotion the former standby reads every record');
($state, $out) = on_standby("SELECT count(*) FROM kinesis.consume('sb', 'reader')");
is("$state $out", "ok $all", 'and its consumer gets them all');

$standby->stop;
$primary->stop;
done_testing();
