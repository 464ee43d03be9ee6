
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

use KgTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = kg_node(
	'cron_sync_runner',
	cron => 'postgres',
	extension => undef,
	set => { 'kinesis_glue.max_runners_per_database' => 1 });
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
$node->safe_psql('postgres', 'CREATE DATABASE app');
kg_sql($node, 'CREATE EXTENSION kinesis_glue', db => 'app');

# a job run takes the database's one runner slot
$node->safe_psql('app', q{SELECT glue.create_job('hold', script => 'SELECT pg_sleep(120)')});
my $run = $node->safe_psql('app', q{SELECT glue.start_job_run('hold')});
ok(kg_wait($node, q{SELECT count(*) = 1 FROM kinesis_glue.runners WHERE kind = 'job run' AND state = 'running'}, 't', 'the job run to run', db => 'app'), 'a job run holds the one runner slot of the database');

# 1. a scheduled trigger: the sync waits its turn, visibly
$node->safe_psql('app', q{
	SELECT glue.create_trigger('every_minute', 'SCHEDULED', '[{"job_name": "hold"}]',
	       schedule => '* * * * *', start_on_creation => true)});
ok(kg_wait($node, q{SELECT count(*) = 1 FROM kinesis_glue.runners
	WHERE kind = 'cron sync' AND state = 'waiting' AND reason LIKE '%kinesis_glue.max_runners_per_database%'}, 't', 'the sync to wait', db => 'app'), 'the pg_cron sync waits for a runner slot, with the reason in kinesis_glue.runners');
sleep 1;
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE database = 'app'}), '0',
	'no pg_cron job while the sync waits');

# 2. the slot frees: the sync runs, and its entry goes
$node->safe_psql('app', qq{SELECT glue.stop_job_run('hold', $run)});
ok(kg_wait($node, q{SELECT count(*) = 1 FROM cron.job
	WHERE jobname = 'glue trigger: every_minute' AND database = 'app' AND schedule = '* * * * *'}, 't', 'the pg_cron job', db => 'postgres'), 'once the slot is free the sync schedules the job in the pg_cron database');
ok(kg_wait($node, q{SELECT count(*) = 0 FROM kinesis_glue.runners WHERE kind = 'cron sync'}, 't', 'the sync entry to go', db => 'app'), 'the finished sync leaves the registry');

$node->stop;
done_testing();
