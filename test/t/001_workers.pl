# TAP: the kinesis_glue launcher and per-database workers.
#
# One node with kinesis_glue preloaded and short naptimes:
#   the launcher runs; CREATE EXTENSION starts a worker per database within
#   5 s; DROP EXTENSION stops it; DROP DATABASE works while a worker is
#   connected; after kill -9 of a worker (crash recovery) and after
#   pg_terminate_backend of a worker the worker comes back; a clean
#   shutdown leaves the cluster "shut down".
# A second node without preload: CREATE EXTENSION warns, and the functions
# that need shared memory fail with SQLSTATE 55000 and a hint.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

# How long a worker may take to start after CREATE EXTENSION commits.
my $start_budget = 5;

# The PIDs of the kinesis_glue workers, by database name.
sub workers
{
	my ($node) = @_;
	my $out = $node->safe_psql('postgres', q{
		SELECT d.datname, a.pid
		  FROM pg_stat_activity a JOIN pg_database d ON d.oid = a.datid
		 WHERE a.backend_type = 'kinesis_glue worker'
		 ORDER BY 1});
	my %w;
	for my $line (split /\n/, $out)
	{
		my ($db, $pid) = split /\|/, $line;
		$w{$db} = $pid;
	}
	return \%w;
}

sub worker_running_sql
{
	my ($db, $not_pid) = @_;
	my $extra = defined $not_pid ? " AND a.pid <> $not_pid" : '';
	return qq{SELECT count(*) = 1
	            FROM pg_stat_activity a JOIN pg_database d ON d.oid = a.datid
	           WHERE a.backend_type = 'kinesis_glue worker' AND d.datname = '$db'$extra};
}

sub no_worker_sql
{
	my ($db) = @_;
	return qq{SELECT count(*) = 0
	            FROM pg_stat_activity a JOIN pg_database d ON d.oid = a.datid
	           WHERE a.backend_type = 'kinesis_glue worker' AND d.datname = '$db'};
}

my $launcher_sql =
  q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'kinesis_glue launcher'};

my $node = kg_node('main', set => { restart_after_crash => 'on' }, extension => undef);

# ---------------------------------------------------------------------------
# (a) the launcher

ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'kinesis_glue launcher'}),
	'the launcher shows in pg_stat_activity as "kinesis_glue launcher"');
my $launcher_pid = $node->safe_psql('postgres', $launcher_sql);
like($launcher_pid, qr/^\d+$/, 'exactly one launcher');
$node->wait_for_log(qr/kinesis_glue launcher started/);
pass('the log says "kinesis_glue launcher started"');
is(scalar keys %{ workers($node) }, 0, 'no worker while no database has the extension');

# ---------------------------------------------------------------------------
# (b) CREATE EXTENSION in two databases: a worker each, without a restart

$node->safe_psql('postgres', 'CREATE DATABASE db1');
$node->safe_psql('postgres', 'CREATE DATABASE db2');
my $log_offset = -s $node->logfile;

for my $db (qw(db1 db2))
{
	my $t0 = time();
	$node->safe_psql($db, 'CREATE EXTENSION kinesis_glue');
	ok(kg_wait($node, worker_running_sql($db), 't', "the worker of $db", within => $start_budget),
		"a worker for $db runs within ${start_budget} s of CREATE EXTENSION");
	note(sprintf('worker for %s up after %.2f s', $db, time() - $t0));
}
is_deeply([ sort keys %{ workers($node) } ], [qw(db1 db2)], 'one worker per database, no more');
for my $db (qw(db1 db2))
{
	$node->wait_for_log(qr/kinesis_glue worker for database "$db" started/, $log_offset);
	pass(qq{the log says kinesis_glue worker for database "$db" started});
}
is( $node->safe_psql(
		'db1',
		q{SELECT string_agg(database || ':' || (pid IS NOT NULL), ',' ORDER BY database)
		    FROM kinesis_glue.workers}),
	'db1:true,db2:true',
	'kinesis_glue.workers lists both databases with a running worker');
is($node->safe_psql('postgres', $launcher_sql), $launcher_pid, 'the launcher did not restart');

# ---------------------------------------------------------------------------
# (c) DROP EXTENSION stops that database's worker, for good

$log_offset = -s $node->logfile;
my $db1_pid = workers($node)->{db1};
$node->safe_psql('db1', 'DROP EXTENSION kinesis_glue');
ok($node->poll_query_until('postgres', no_worker_sql('db1')),
	'the worker of db1 exits after DROP EXTENSION');
$node->wait_for_log(qr/kinesis_glue worker for database "db1" stopped/, $log_offset);
pass('the log says the worker for db1 stopped');
# several launcher rounds: the worker must not be relaunched
usleep(1_500_000);
is(workers($node)->{db1}, undef, 'the launcher does not relaunch it');
ok(defined workers($node)->{db2}, 'the worker of db2 keeps running');

# ---------------------------------------------------------------------------
# (d) DROP DATABASE while its worker is connected

my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE db2');
is($rc, 0, 'DROP DATABASE db2 succeeds while its worker was connected')
  or diag($err);
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_database WHERE datname = 'db2'}),
	'0', 'db2 is gone');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'kinesis_glue worker'}),
	'no worker remains');
usleep(1_000_000);
is(scalar keys %{ workers($node) }, 0, 'and none comes back');

# ---------------------------------------------------------------------------
# (e) kill -9 of a worker: crash recovery, then the worker comes back

$node->safe_psql('postgres', 'CREATE DATABASE db3');
$node->safe_psql('db3', 'CREATE EXTENSION kinesis_glue');
ok($node->poll_query_until('postgres', worker_running_sql('db3')), 'a worker runs for db3');
my $db3_pid = workers($node)->{db3};
$log_offset = -s $node->logfile;
kill 'KILL', $db3_pid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
pass('kill -9 of the worker makes the postmaster reinitialize');
ok($node->poll_query_until('postgres', worker_running_sql('db3', $db3_pid)),
	'after crash recovery a new worker runs for db3');
my $new_launcher = $node->safe_psql('postgres', $launcher_sql);
like($new_launcher, qr/^\d+$/, 'one launcher after crash recovery');
isnt($new_launcher, $launcher_pid, 'it is a new launcher');
$launcher_pid = $new_launcher;

# ---------------------------------------------------------------------------
# (f) a worker that exits with an error is relaunched

$db3_pid = workers($node)->{db3};
$log_offset = -s $node->logfile;
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($db3_pid)"),
	't', 'pg_terminate_backend of the worker');
$node->wait_for_log(
	qr/terminating background worker "kinesis_glue worker" due to administrator command/,
	$log_offset);
pass('the worker exits with FATAL');
ok($node->poll_query_until('postgres', worker_running_sql('db3', $db3_pid)),
	'the launcher relaunches the worker of db3');
is($node->safe_psql('postgres', $launcher_sql), $launcher_pid,
	'without a restart of the launcher');
unlike(slurp_file($node->logfile, $log_offset), qr/reinitializing/,
	'and without crash recovery');

# ---------------------------------------------------------------------------
# (h) clean shutdown

$log_offset = -s $node->logfile;
$node->stop('fast');
my ($stdout, $stderr) = run_command([ 'pg_controldata', $node->data_dir ]);
like($stdout, qr/^Database cluster state:\s+shut down$/m,
	'pg_controldata says "shut down" after a fast shutdown');
like(slurp_file($node->logfile, $log_offset), qr/kinesis_glue launcher stopped/,
	'the launcher logged its stop');
my $log = slurp_file($node->logfile);
unlike($log, qr/TRAP:|PANIC:/, 'no assertion failure or PANIC in the server log');

# ---------------------------------------------------------------------------
# (g) a node without shared_preload_libraries

my $plain = PostgreSQL::Test::Cluster->new('no_preload');
$plain->init;
$plain->start;

($rc, $out, $err) = $plain->psql('postgres', 'CREATE EXTENSION kinesis_glue');
is($rc, 0, 'without preload, CREATE EXTENSION works');
like($err, qr/WARNING:.*shared_preload_libraries/, '... with a WARNING naming shared_preload_libraries');

$plain->safe_psql(
	'postgres', q{
CREATE FUNCTION public.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    hint text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, hint = PG_EXCEPTION_HINT;
    RETURN st || ' ' || hint;
END
$$});

for my $call (
	q{SELECT kinesis.create_stream('x')},
	q{SELECT * FROM kinesis.list_shards('x')},
	q{SELECT kinesis.put_record('x', 'k', '\x00')},
	q{SELECT * FROM kinesis_glue.workers})
{
	(my $lit = $call) =~ s/'/''/g;
	my $res = $plain->safe_psql('postgres', "SELECT public.try('$lit')");
	like($res, qr/^55000 .*shared_preload_libraries/,
		"without preload, $call fails with 55000 and a hint naming shared_preload_libraries");
}

# the same through psql, with VERBOSITY verbose
($rc, $out, $err) = $plain->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT kinesis.create_stream('x');");
isnt($rc, 0, 'psql reports the error');
like($err, qr/ERROR:\s+55000:/, 'psql shows SQLSTATE 55000');
like($err, qr/HINT:.*shared_preload_libraries/, 'psql shows the hint');

is($plain->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'kinesis_glue%'}),
	'0', 'no launcher or worker without preload');
$plain->stop;

done_testing();
