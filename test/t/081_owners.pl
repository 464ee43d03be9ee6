# Copyright (c) kinesis_glue contributors
#
# 081_owners: owners that go away, with pg_cron in the database (README
# "Owners that go away").  The pg_cron jobs of a scheduled trigger and a
# scheduled crawler run as their owner:
#   1. REASSIGN OWNED moves them to the new owner (cron.job.username);
#   2. DROP ROLE of the new owner is refused while it owns them (2BP01);
#   3. DROP OWNED removes the trigger, the crawler and their pg_cron jobs,
#      and then DROP ROLE succeeds.
# (sql/security_owners.sql covers every kind of object without pg_cron.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KgTest;

my $node = kg_node('owners', cron => 'postgres', set => { max_worker_processes => undef });

sub sql { return kg_sql($node, $_[0]); }

sql('CREATE EXTENSION pg_cron');
sql(q{
	CREATE ROLE regress_own_old LOGIN;
	CREATE ROLE regress_own_new LOGIN;
	GRANT USAGE ON SCHEMA glue, kinesis_glue, cron TO regress_own_old, regress_own_new;
});
$node->safe_psql('postgres', q{
	SET ROLE regress_own_old;
	SELECT glue.create_job('own_job', script => 'SELECT 1');
	SELECT glue.create_trigger('own_sched', 'SCHEDULED', '[{"job_name": "own_job"}]',
	                           schedule => 'cron(0 3 * * ? *)', start_on_creation => true);
	SELECT glue.create_database('own_db');
	SELECT glue.create_crawler('own_crawler', 'own_db', '{"table_targets": [{"schema": "public"}]}',
	                           schedule => 'cron(0 4 * * ? *)');
});
my $jobs = q{SELECT string_agg(jobname || ' | ' || username, ', ' ORDER BY jobname) FROM cron.job};
is(sql($jobs), 'glue crawler: own_crawler | regress_own_old, glue trigger: own_sched | regress_own_old',
	'the pg_cron jobs run as the owner');

# 1. REASSIGN OWNED
sql('REASSIGN OWNED BY regress_own_old TO regress_own_new');
is(sql($jobs), 'glue crawler: own_crawler | regress_own_new, glue trigger: own_sched | regress_own_new',
	'REASSIGN OWNED: the pg_cron jobs run as the new owner');
is(sql(q{SELECT string_agg(owner::text, ',' ORDER BY owner::text) FROM (
	SELECT owner FROM glue.jobs UNION ALL SELECT owner FROM glue.triggers
	UNION ALL SELECT owner FROM glue.crawlers UNION ALL SELECT owner FROM glue.databases) x}),
	'regress_own_new,regress_own_new,regress_own_new,regress_own_new', 'and the catalogs name it');
sql('DROP OWNED BY regress_own_old; DROP ROLE regress_own_old');
is(sql($jobs), 'glue crawler: own_crawler | regress_own_new, glue trigger: own_sched | regress_own_new',
	'the old owner, which owns nothing now, can be dropped; the jobs stay');

# 2. DROP ROLE refused
my ($rc, $out, $err) = $node->psql('postgres', q{\set VERBOSITY verbose
DROP ROLE regress_own_new});
like($err, qr/ERROR:  2BP01: role "regress_own_new" cannot be dropped because some objects depend on it/,
	'DROP ROLE of an owner is refused with 2BP01');
like($err, qr/1 Glue triggers, 1 Glue jobs, 1 Glue crawlers, 1 Glue databases/, 'naming what it owns');

# 3. DROP OWNED
sql('DROP OWNED BY regress_own_new');
is(sql(q{SELECT count(*) FROM cron.job}), '0', 'DROP OWNED removes the pg_cron jobs');
is(sql(q{SELECT (SELECT count(*) FROM glue.jobs) + (SELECT count(*) FROM glue.triggers)
	+ (SELECT count(*) FROM glue.crawlers) + (SELECT count(*) FROM glue.databases)}), '0',
	'and the objects');
sql('DROP ROLE regress_own_new');
pass('then DROP ROLE succeeds');

$node->stop;
done_testing();
