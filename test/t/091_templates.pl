# TAP: databases with kinesis_glue as templates (issue 20, item 2).
#
# A database "src" with a stream, a named consumer with progress, an event
# source mapping (a runner always connected) and two delivery streams
# (a runner each while enabled).  CREATE DATABASE copy1 TEMPLATE src works while src's worker and
# runner run (they step aside and come back); the launcher starts a worker
# in the copy within a few seconds, without a restart.  ALTER DATABASE src
# IS_TEMPLATE true makes src's worker and runner leave; copy2 is made from
# the template.  Every database then works on its own: puts, reads, the
# consumer's progress, the mapping applying, the delivery delivering; an
# iterator of one database is refused in another; a delivery stream with a
# file destination (shared with the template) is stopped in the copies.  Clearing IS_TEMPLATE
# brings src's worker back; a CREATE DATABASE that fails lets it come back.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $node = kg_node(
	'templates',
	extension => undef,
	set => {
		max_connections => 40,
		max_worker_processes => 24,
		'kinesis_glue.launcher_naptime' => undef
	});

sub q_db { my ($db, $sql) = @_; return kg_sql($node, $sql, db => $db); }

# Our background processes connected to a database, as "type:count,...".
sub kg_processes_query
{
	my ($db) = @_;
	return qq{
		SELECT coalesce(string_agg(backend_type || ':' || n, ',' ORDER BY backend_type), '')
		  FROM (SELECT backend_type, count(*) AS n FROM pg_stat_activity
		         WHERE datname = '$db' AND backend_type LIKE 'kinesis_glue%' GROUP BY 1) x};
}
sub kg_processes { return q_db('postgres', kg_processes_query(shift)); }
# src: its worker, the mapping's runner and a delivery runner for each of
# its two delivery streams; a copy stops the one with a file destination
my $running = 'kinesis_glue delivery:2,kinesis_glue mapping runner:1,kinesis_glue worker:1';
my $running_copy = 'kinesis_glue delivery:1,kinesis_glue mapping runner:1,kinesis_glue worker:1';

q_db('postgres', 'CREATE DATABASE src');
q_db('src', q{
	CREATE EXTENSION kinesis_glue;
	SELECT kinesis.create_stream('events', 2);
	CREATE TABLE applied (db text DEFAULT current_database(), data text);
	CREATE FUNCTION apply(recs kinesis.record[]) RETURNS void LANGUAGE sql AS
	    $$ INSERT INTO applied (data) SELECT convert_from(r.data, 'UTF8') FROM unnest(recs) r $$;
	SELECT kinesis.create_event_source_mapping('events', 'apply', batch_size => 100, starting_position => 'TRIM_HORIZON');
	SELECT kinesis.register_stream_consumer('events', 'billing');
	CREATE TABLE delivered (db text DEFAULT current_database(), v text);
	SELECT firehose.create_delivery_stream('fh', 'delivered', buffering_interval => '1 s');
	SELECT count(*) FROM kinesis.put_records('events', ARRAY(SELECT 'k' || g FROM generate_series(1, 10) g),
	                                         ARRAY(SELECT convert_to('src-' || g, 'UTF8') FROM generate_series(1, 10) g));
	SELECT count(*) FROM kinesis.consume('events', 'billing', 4);
	SELECT firehose.put_record('fh', convert_to('{"v": "src-0"}', 'UTF8'));
});
# a delivery stream writing files: a copy would write objects of the same
# names into the same directory, so the copy stops it
my $files_dir = $node->basedir . '/fh_files';
q_db('src', "SELECT firehose.create_delivery_stream('fhfiles', destination_directory => '$files_dir', buffering_interval => '900 s')");
ok(kg_wait($node, 'SELECT count(*) FROM applied', '10', undef, db => 'src'), 'the mapping in src applies its records');
ok(kg_wait($node, 'SELECT count(*) FROM delivered', '1', undef, db => 'src'), 'the delivery stream in src delivers');
ok(kg_wait($node, kg_processes_query('src'), $running, undef, db => 'postgres', within => 10), 'src has its worker, its mapping runner and its delivery runners');
my $src_token = q_db('src', "SELECT kinesis.get_shard_iterator('events', 'shardId-000000000000', 'TRIM_HORIZON')");

# --- CREATE DATABASE ... TEMPLATE while the worker and runner are connected ---
my ($rc, $out, $err) = $node->psql('postgres', 'CREATE DATABASE copy1 TEMPLATE src');
is($rc, 0, 'CREATE DATABASE copy1 TEMPLATE src works while src has a worker and a runner')
  or diag($err);
ok(kg_wait($node, kg_processes_query('src'), $running, undef, db => 'postgres', within => 10),
	'src gets its worker and runner back');
my $t0 = time();
ok(kg_wait($node, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'copy1' AND backend_type = 'kinesis_glue worker'", '1', undef, db => 'postgres', within => 10),
	'the launcher starts a worker in the copy without a restart');
my $took = time() - $t0;
cmp_ok($took, '<', 4, "within a few seconds (took ${took}s)");
ok(kg_wait($node, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'copy1' AND backend_type = 'kinesis_glue mapping runner'", '1', undef, db => 'postgres', within => 10),
	'the copy runs its own mapping runner');

# --- IS_TEMPLATE: the worker and runner leave; a copy of the template ---
q_db('postgres', 'ALTER DATABASE src IS_TEMPLATE true');
ok(kg_wait($node, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'src' AND backend_type LIKE 'kinesis_glue%'", '0', undef, db => 'postgres', within => 10),
	'a database marked IS_TEMPLATE keeps no worker and no runner');
($rc, $out, $err) = $node->psql('postgres', 'CREATE DATABASE copy2 TEMPLATE src');
is($rc, 0, 'CREATE DATABASE copy2 TEMPLATE src (a template) works') or diag($err);
ok(kg_wait($node, kg_processes_query('copy2'), $running_copy, undef, db => 'postgres', within => 10),
	'copy2 gets its worker, its mapping runner and the runner of its one active delivery stream');
usleep(1_500_000);
is(kg_processes('src'), '', 'the template stays without a worker');

# --- every copy works on its own ---
for my $db ('copy1', 'copy2')
{
	is(q_db($db, 'SELECT count(*) FROM applied'), '10', "$db inherited what src applied");
	is(q_db($db, qq{SELECT count(*) FROM kinesis.put_records('events', ARRAY(SELECT 'k' || g FROM generate_series(1, 5) g),
	                 ARRAY(SELECT convert_to('$db-' || g, 'UTF8') FROM generate_series(1, 5) g))}), '5', "$db: put_records");
	ok(kg_wait($node, "SELECT count(*) FILTER (WHERE data LIKE '$db-%') || '/' || count(*) FROM applied", '5/15', undef, db => $db),
		"$db: the mapping applies the new records, and only its own");
	my $other = $db eq 'copy1' ? 'copy2' : 'copy1';
	is(q_db($db, "SELECT delivery_stream_status || ' ' || (last_error LIKE 'stopped: this database is a copy of database%')
	                FROM firehose.describe_delivery_stream('fhfiles')"),
		'STOPPED true', "$db: the delivery stream with a file destination shared with src is stopped, saying why");
	is(q_db($db, "SELECT database_oid = (SELECT oid FROM pg_database WHERE datname = current_database()) FROM kinesis_glue.installation"),
		't', "$db: adopted as a database of its own");
	is(q_db($db, "SELECT count(*) || '/' || count(*) FILTER (WHERE convert_from(data, 'UTF8') LIKE '$db-%')
	                     || '/' || count(*) FILTER (WHERE convert_from(data, 'UTF8') LIKE '$other-%')
	                FROM kinesis.consume('events', 'billing', 100)"),
		'11/5/0', "$db: the consumer resumes after the 4 records src consumed, with the 5 new ones and none of $other");
	is(q_db($db, "SELECT count(*) FROM kinesis.consume('events', 'billing', 100)"), '0', "$db: the consumer's progress committed");
	q_db($db, qq{SELECT firehose.put_record('fh', convert_to('{"v": "$db"}', 'UTF8'))});
	ok(kg_wait($node, "SELECT string_agg(v, ',' ORDER BY v) FROM delivered", "$db,src-0", undef, db => $db), "$db: the delivery stream delivers its own record");
	my $token = q_db($db, "SELECT kinesis.get_shard_iterator('events', 'shardId-000000000000', 'TRIM_HORIZON')");
	is(q_db($db, "SELECT array_length((kinesis.get_records('$token')).records, 1) > 0"), 't', "$db: its own iterator works");
	($rc, $out, $err) = $node->psql($db, "SELECT kinesis.get_records('$src_token')");
	like($err, qr/InvalidArgumentException: invalid shard iterator/, "$db: an iterator of src is refused");
	($rc, $out, $err) = $node->psql($other, "SELECT kinesis.get_records('$token')");
	like($err, qr/InvalidArgumentException: invalid shard iterator/, "$other: an iterator of $db is refused");
}
is(q_db('copy1', 'SELECT kinesis_glue.wake_worker()'), '', 'wake_worker works in a copy');

# --- IS_TEMPLATE false: src's worker comes back, and src works on its own ---
q_db('postgres', 'ALTER DATABASE src IS_TEMPLATE false');
ok(kg_wait($node, kg_processes_query('src'), $running, undef, db => 'postgres', within => 10),
	'clearing IS_TEMPLATE brings the worker and runner of src back');
is(q_db('src', q{SELECT count(*) FROM kinesis.put_records('events', ARRAY['a', 'b'], ARRAY['src-x', 'src-y']::text[]::bytea[])}),
	'2', 'src: put_records');
ok(kg_wait($node, "SELECT count(*) FILTER (WHERE data LIKE 'copy%') || '/' || count(*) FROM applied", '0/12', undef, db => 'src'),
	'src: the mapping applies its own new records only');
is(q_db('src', "SELECT count(*) FROM kinesis.consume('events', 'billing', 100)"), '8',
	'src: its consumer resumes where it was (6 left, 2 new)');
is(q_db('src', "SELECT array_length((kinesis.get_records('$src_token')).records, 1) > 0"), 't',
	'src: its old iterator still works there');
is(q_db('src', "SELECT delivery_stream_status FROM firehose.describe_delivery_stream('fhfiles')"), 'ACTIVE',
	'src: its file delivery stream stays active');

# --- a CREATE DATABASE that fails lets the worker come back ---
($rc, $out, $err) = $node->psql('postgres', 'CREATE DATABASE copy1 TEMPLATE src');
like($err, qr/already exists/, 'CREATE DATABASE copy1 again fails');
ok(kg_wait($node, kg_processes_query('src'), $running, undef, db => 'postgres', within => 10),
	'and src gets its worker and runner back');
# DROP DATABASE of a database with a mapping runner
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE copy2');
is($rc, 0, 'DROP DATABASE of a database with a worker and a mapping runner works') or diag($err);

$node->stop;
done_testing();
