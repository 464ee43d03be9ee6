
# 086_cron_sync_runner: the sync of a remote pg_cron (src/glue/trigger_cron.c)
# is a runner of the shared registry (src/worker/runner.c), like user code:
#   1. it counts against kinesis_glue.max_runners_per_database: while a job
#      run holds the database's one runner slot, the sync waits, shows as
#      "waiting" with the reason in kinesis_glue.runners, and the pg_cron
#      database gets no job yet;
#   2. once the slot is free the sync runs and the job appears in the
#      pg_cron database, and the sync's entry is gone from the registry.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('cron_sync_runner');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_cron,kinesis_glue'
cron.database_name = 'postgres'
max_worker_processes = 16
kinesis_glue.worker_naptime = 200ms
kinesis_glue.launcher_naptime = 200ms
kinesis_glue.max_runners_per_database = 1
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION kinesis_glue');

# Poll until $query (in $db) returns 't'; fail the test (not the script) on timeout.
sub wait_for
{
	my ($db, $query, $what, $secs) = @_;
	my $deadline = time() + ($secs // 60);
	while (time() < $deadline)
	{
		my ($rc, $res) = $node->psql($db, $query);
		return 1 if $rc == 0 && $res eq 't';
		usleep(100_000);
	}
	fail("timed out waiting for $what");
	return 0;
}

# a job run takes the database's one runner slot
$node->safe_psql('app', q{SELECT glue.create_job('hold', script => 'SELECT pg_sleep(120)')});
my $run = $node->safe_psql('app', q{SELECT glue.start_job_run('hold')});
ok(wait_for('app', q{SELECT count(*) = 1 FROM kinesis_glue.runners WHERE kind = 'job run' AND state = 'running'},
	'the job run to run'), 'a job run holds the one runner slot of the database');

# 1. a scheduled trigger: the sync waits its turn, visibly
$node->safe_psql('app', q{
	SELECT glue.create_trigger('every_minute', 'SCHEDULED', '[{"job_name": "hold"}]',
	       schedule => '* * * * *', start_on_creation => true)});
ok(wait_for('app', q{SELECT count(*) = 1 FROM kinesis_glue.runners
	WHERE kind = 'cron sync' AND state = 'waiting' AND reason LIKE '%kinesis_glue.max_runners_per_database%'},
	'the sync to wait'), 'the pg_cron sync waits for a runner slot, with the reason in kinesis_glue.runners');
usleep(1_000_000);
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE database = 'app'}), '0',
	'no pg_cron job while the sync waits');

# 2. the slot frees: the sync runs, and its entry goes
$node->safe_psql('app', qq{SELECT glue.stop_job_run('hold', $run)});
ok(wait_for('postgres', q{SELECT count(*) = 1 FROM cron.job
	WHERE jobname = 'glue trigger: every_minute' AND database = 'app' AND schedule = '* * * * *'},
	'the pg_cron job'), 'once the slot is free the sync schedules the job in the pg_cron database');
ok(wait_for('app', q{SELECT count(*) = 0 FROM kinesis_glue.runners WHERE kind = 'cron sync'},
	'the sync entry to go'), 'the finished sync leaves the registry');

$node->stop;
done_testing();
