
# Glue jobs run by the background workers (src/glue/job_worker.c,
# jobs.sql, job_runs.sql, triggers.sql):
#   1. runs execute in parallel, never more than kinesis_glue.max_job_runs
#      at once, as the job's owner;
#   2. timeout, stop, retries, queued runs (WAITING), synchronous run_job;
#   3. bookmarks: two runs over a growing stream process every record
#      exactly once; a failed run reprocesses nothing twice; a table
#      bookmark over a monotonic column; pause and reset;
#   4. a conditional chain started by an on-demand trigger, an event
#      trigger that fires after N new records, and a workflow whose failed
#      node is resumed;
#   5. a run in flight when the server crashes is FAILED after the restart,
#      retried, and its output and bookmark are exactly-once;
#   6. a scheduled trigger fires through pg_cron within its minute, with
#      pg_cron in this database and in another one;
#   7. run history is trimmed after kinesis_glue.job_run_retention.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $node = kg_node(
	'glue_jobs',
	cron => 'postgres',
	set => {
		'cron.use_background_workers' => 'on',
		max_worker_processes => 32,
		restart_after_crash => 'on',
		'kinesis_glue.max_job_runs' => 3
	});

sub sql { return kg_sql($node, $_[0]); }

sql('CREATE EXTENSION pg_cron');

sub wait_run_end { return kg_job_run_end($node, $_[0]) }

# ---------------------------------------------------------------------------
# 1. parallel runs, as the owner
# ---------------------------------------------------------------------------
sql(q{
	CREATE ROLE job_owner LOGIN;
	GRANT USAGE ON SCHEMA glue, kinesis, kinesis_glue TO job_owner;
	CREATE TABLE public.par (run_id bigint, who text);
	GRANT INSERT ON public.par TO job_owner;
	CREATE TABLE public.secret (x int);   -- job_owner may not read it
});
$node->safe_psql('postgres', q{
	SET ROLE job_owner;
	SELECT glue.create_job('sleeper', script => $$INSERT INTO public.par SELECT glue.job_argument('n')::bigint, current_user;
	                                            SELECT pg_sleep(1.5)$$,
	                       max_concurrent_runs => 10);
	SELECT glue.create_job('snoop', script => 'SELECT * FROM public.secret');
	SELECT glue.create_job('escalate', script => 'RESET ROLE; SELECT * FROM public.secret');
});
my @runs = map { $node->safe_psql('postgres', "SET ROLE job_owner; SELECT glue.start_job_run('sleeper', '{\"--n\": \"$_\"}')") } 1 .. 6;
is(wait_run_end($_), 'SUCCEEDED', "parallel run $_ succeeded") for @runs;
is(sql('SELECT count(*), count(DISTINCT run_id), min(who), max(who) FROM par'), '6|6|job_owner|job_owner',
	'every run wrote its row, as the job owner');
# from the recorded intervals: some runs overlapped, never more than max_job_runs
my $overlap = sql(q{
	SELECT max(n) FROM (SELECT (SELECT count(*) FROM glue.job_runs o
	                             WHERE o.job_id = r.job_id AND o.running_on <= r.running_on
	                               AND o.completed_on > r.running_on) AS n
	                      FROM glue.job_runs r JOIN glue.jobs j USING (job_id) WHERE j.job_name = 'sleeper') q});
cmp_ok($overlap, '>=', 2, 'runs executed in parallel');
cmp_ok($overlap, '<=', 3, 'no more than kinesis_glue.max_job_runs at once');
is(wait_run_end($node->safe_psql('postgres', "SET ROLE job_owner; SELECT glue.start_job_run('snoop')")), 'FAILED',
	'a job cannot read what its owner cannot');
like(sql("SELECT error_message FROM glue.job_runs r JOIN glue.jobs j USING (job_id) WHERE j.job_name = 'snoop'"),
	qr/permission denied/, 'with the permission error');
is(wait_run_end($node->safe_psql('postgres', "SET ROLE job_owner; SELECT glue.start_job_run('escalate')")), 'FAILED',
	'a job cannot change its role');

# ---------------------------------------------------------------------------
# 2. timeout, stop, retries, queue, run_job
# ---------------------------------------------------------------------------
sql(q{
	CREATE TABLE stopped (x int);
	SELECT glue.create_job('slow', script => 'SELECT pg_sleep(60)', timeout => '1 second');
	SELECT glue.create_job('stoppable', script => 'INSERT INTO stopped VALUES (1); SELECT pg_sleep(60)');
	SELECT glue.create_job('flaky', script => 'SELECT 1/0', max_retries => 2);
	SELECT glue.create_job('queued', script => 'SELECT pg_sleep(0.5)', job_run_queuing => true);
});
my $id = sql("SELECT glue.start_job_run('slow')");
is(wait_run_end($id), 'TIMEOUT', 'a run past its timeout ends as TIMEOUT');
like(sql("SELECT error_message FROM glue.job_runs WHERE run_id = $id"), qr/exceeded its timeout/, 'with a message');

$id = sql("SELECT glue.start_job_run('stoppable')");
kg_wait($node, "SELECT state = 'RUNNING' FROM glue.job_runs WHERE run_id = $id", 't', 'stoppable running');
is(sql("SELECT glue.stop_job_run('stoppable', $id)"), 'STOPPING', 'stop asked');
is(wait_run_end($id), 'STOPPED', 'a stopped run ends as STOPPED');
is(sql('SELECT count(*) FROM stopped'), '0', 'and its work is rolled back');

$id = sql("SELECT glue.start_job_run('flaky')");
kg_wait($node, q{SELECT count(*) = 3 AND bool_and(state = 'FAILED') FROM glue.job_runs r JOIN glue.jobs j USING (job_id)
            WHERE j.job_name = 'flaky'}, 't', 'three attempts of flaky');
is(sql(q{SELECT string_agg(attempt || ':' || (previous_run_id IS NOT NULL) || ':' || error_message, ',' ORDER BY run_id)
           FROM glue.job_runs r JOIN glue.jobs j USING (job_id) WHERE j.job_name = 'flaky'}),
	'0:false:division by zero,1:true:division by zero,2:true:division by zero',
	'a failed run is retried max_retries times, each attempt linked to the previous');
is(sql(q{SELECT string_agg(attempt::text, ',') FROM glue.get_job_runs('flaky')}), '2,1,0', 'get_job_runs lists newest first');

# states as start_job_run leaves them (the worker sees nothing before the commit)
my ($qs, @q) = reverse split /\n/, sql(q{
	BEGIN;
	SELECT glue.start_job_run('queued') FROM generate_series(1, 3);
	SELECT string_agg(r.state, ',' ORDER BY r.run_id) FROM glue.job_runs r JOIN glue.jobs j USING (job_id)
	 WHERE j.job_name = 'queued';
	COMMIT;});
is($qs, 'STARTING,WAITING,WAITING', 'runs beyond max_concurrent_runs wait');
is(wait_run_end($_), 'SUCCEEDED', "queued run $_ succeeded") for @q;
is(sql(q{SELECT count(*) FROM glue.job_runs a JOIN glue.job_runs b ON a.job_id = b.job_id AND a.run_id < b.run_id
          JOIN glue.jobs j ON j.job_id = a.job_id
         WHERE j.job_name = 'queued' AND b.running_on < a.completed_on}), '0', 'queued runs ran one after another');

is(sql(q{CALL glue.run_job('queued', run_id => NULL, state => NULL, error_message => NULL)}) =~ /\|SUCCEEDED\|$/ ? 1 : 0,
	1, 'run_job waits and returns SUCCEEDED');

# ---------------------------------------------------------------------------
# 3. bookmarks
# ---------------------------------------------------------------------------
sql(q{
	SELECT kinesis.create_stream('events', 3);
	CREATE TABLE out_events (seq bigint, shard text, n int, UNIQUE (shard, seq));
	SELECT glue.create_job('ingest', script => $$
	    INSERT INTO out_events
	    SELECT r.sequence_number, r.shard_id, (convert_from(r.data, 'UTF8')::jsonb ->> 'n')::int
	      FROM glue.bookmark_records('events') r;
	    SELECT CASE WHEN :'fail' = 'yes' THEN 1 / 0 END$$,
	    default_arguments => '{"--job-bookmark-option": "job-bookmark-enable", "--fail": "no"}');
});
sub put_events
{
	my ($from, $to) = @_;
	sql("SELECT count(*) FROM kinesis.put_records('events', ARRAY(SELECT 'k' || g FROM generate_series($from, $to) g),
	         ARRAY(SELECT convert_to(jsonb_build_object('n', g)::text, 'UTF8') FROM generate_series($from, $to) g))");
}
put_events(1, 200);
is(wait_run_end(sql("SELECT glue.start_job_run('ingest')")), 'SUCCEEDED', 'first bookmarked run');
put_events(201, 500);
is(wait_run_end(sql("SELECT glue.start_job_run('ingest')")), 'SUCCEEDED', 'second bookmarked run');
is(sql('SELECT count(*), count(DISTINCT n), min(n), max(n) FROM out_events'), '500|500|1|500',
	'two runs over a growing stream processed every record exactly once');
put_events(501, 600);
my $bm = sql("SELECT shards FROM glue.get_job_bookmark('ingest')");
is(wait_run_end(sql(q{SELECT glue.start_job_run('ingest', '{"--fail": "yes"}')})), 'FAILED', 'a failing run');
is(sql("SELECT shards FROM glue.get_job_bookmark('ingest')"), $bm, 'leaves the bookmark where it was');
is(sql('SELECT count(*) FROM out_events'), '500', 'and writes nothing');
is(wait_run_end(sql(q{SELECT glue.start_job_run('ingest', '{"--job-bookmark-option": "job-bookmark-pause"}')})),
	'SUCCEEDED', 'a paused run');
is(sql('SELECT count(*), min(n) FROM out_events WHERE n > 500'), '100|501', 'reads the records after the bookmark');
is(sql("SELECT shards FROM glue.get_job_bookmark('ingest')"), $bm, 'without moving it');
sql('DELETE FROM out_events WHERE n > 500');
is(wait_run_end(sql("SELECT glue.start_job_run('ingest')")), 'SUCCEEDED', 'the next run');
is(sql('SELECT count(*), count(DISTINCT n), max(n) FROM out_events'), '600|600|600',
	'reprocesses nothing twice and misses nothing');
is(sql(q{SELECT rows_affected FROM glue.get_job_runs('ingest', 2) ORDER BY run_id DESC LIMIT 1}), '1', 'rows_affected is that of the last statement (a one-row SELECT)');

# table bookmark over a monotonic column
sql(q{
	CREATE TABLE orders (id bigint PRIMARY KEY, amount int);
	CREATE TABLE order_totals (run_id bigint, n bigint, total bigint);
	INSERT INTO orders SELECT g, g FROM generate_series(1, 100) g;
	SELECT glue.create_job('totals', script => $$
	    INSERT INTO order_totals
	    SELECT (glue.get_resolved_options() IS NOT NULL)::int, count(*), sum(o.amount)
	      FROM glue.bookmark_range('public.orders', 'id', NULL::bigint) b
	      JOIN orders o ON (b.after_value IS NULL OR o.id > b.after_value) AND o.id <= b.up_to_value$$,
	    default_arguments => '{"--job-bookmark-option": "job-bookmark-enable"}');
});
is(wait_run_end(sql("SELECT glue.start_job_run('totals')")), 'SUCCEEDED', 'table bookmark run 1');
sql('INSERT INTO orders SELECT g, g FROM generate_series(101, 150) g');
is(wait_run_end(sql("SELECT glue.start_job_run('totals')")), 'SUCCEEDED', 'table bookmark run 2');
is(wait_run_end(sql("SELECT glue.start_job_run('totals')")), 'SUCCEEDED', 'table bookmark run 3 (nothing new)');
is(sql("SELECT string_agg(n || ':' || coalesce(total, 0), ',' ORDER BY ctid) FROM order_totals"), '100:5050,50:6275,0:0',
	'each run sums only the rows added since the previous one');
is(sql("SELECT high_water FROM glue.get_job_bookmark('totals')"), '150', 'the bookmark holds the high-water mark');
sql("SELECT glue.reset_job_bookmark('totals')");
is(wait_run_end(sql("SELECT glue.start_job_run('totals')")), 'SUCCEEDED', 'run after reset_job_bookmark');
is(sql("SELECT n FROM order_totals ORDER BY ctid DESC LIMIT 1"), '150', 'reads everything again');

# file bookmark over a catalog file table: new and modified files only
my $lake = $node->basedir . '/lake';
mkdir $lake;
sub write_file
{
	my ($name, $content, $mtime) = @_;
	open(my $fh, '>', "$lake/$name") or die "$name: $!";
	print $fh $content;
	close $fh;
	utime($mtime, $mtime, "$lake/$name");
}
write_file('one.json', qq({"a": 1}\n), 1_600_000_000);
sql(qq{
	CREATE TABLE seen_files (run_id bigint, path text);
	SELECT glue.create_database('fb');
	SELECT glue.create_table('fb', 'lake', '[{"name": "a", "type": "bigint"}]', location => '$lake', classification => 'json');
	SELECT glue.create_job('files', script => \$\$INSERT INTO seen_files
	    SELECT glue.job_run_id(), substr(f.path, length('$lake') + 2) FROM glue.bookmark_files('fb', 'lake') f\$\$,
	    default_arguments => '{"--job-bookmark-option": "job-bookmark-enable"}');
});
my @fr;
push @fr, sql("SELECT glue.start_job_run('files')"); wait_run_end($fr[-1]);
write_file('two.json', qq({"a": 2}\n), 1_610_000_000);
push @fr, sql("SELECT glue.start_job_run('files')"); wait_run_end($fr[-1]);
push @fr, sql("SELECT glue.start_job_run('files')"); wait_run_end($fr[-1]);
utime(1_620_000_000, 1_620_000_000, "$lake/one.json");
push @fr, sql("SELECT glue.start_job_run('files')"); wait_run_end($fr[-1]);
is(sql(qq{SELECT string_agg(coalesce(s.path, '-'), ',' ORDER BY r.n) FROM unnest(ARRAY[@{[join(',', @fr)]}]::bigint[]) WITH ORDINALITY r(id, n)
           LEFT JOIN seen_files s ON s.run_id = r.id}),
	'one.json,two.json,-,one.json', 'a file bookmark reads new and modified files once');

# ---------------------------------------------------------------------------
# 4. a conditional chain and an event trigger
# ---------------------------------------------------------------------------
sql(q{
	CREATE TABLE chain (step text, trigger_name text);
	SELECT glue.create_job('step_a', script => $$INSERT INTO chain SELECT 'a', glue.job_argument('who')$$);
	SELECT glue.create_job('step_b', script => $$INSERT INTO chain VALUES ('b', NULL)$$);
	SELECT glue.create_job('step_c', script => $$INSERT INTO chain VALUES ('c', NULL)$$);
	SELECT glue.create_job('step_fail', script => 'SELECT 1/0');
	SELECT glue.create_trigger('kick', 'ON_DEMAND', '[{"job_name": "step_a", "arguments": {"--who": "kick"}}, {"job_name": "step_fail"}]');
	SELECT glue.create_trigger('a_then_b', 'CONDITIONAL', '[{"job_name": "step_b"}]', start_on_creation => true,
	       predicate => '{"logical": "AND", "conditions": [{"job_name": "step_a", "state": "SUCCEEDED"}, {"job_name": "step_fail", "state": "FAILED"}]}');
	SELECT glue.create_trigger('b_then_c', 'CONDITIONAL', '[{"job_name": "step_c"}]', start_on_creation => true,
	       predicate => '{"logical": "ANY", "conditions": [{"job_name": "step_b", "state": "SUCCEEDED"}]}');
	SELECT glue.start_trigger('kick');
});
kg_wait($node, "SELECT count(*) = 3 FROM chain", 't', 'the chain a -> b -> c');
is(sql("SELECT string_agg(step || ':' || coalesce(trigger_name, ''), ',' ORDER BY step) FROM chain"), 'a:kick,b:,c:',
	'a conditional chain ran each step once');
is(sql(q{SELECT string_agg(j.job_name || '<-' || r.trigger_name, ',' ORDER BY j.job_name) FROM glue.job_runs r
          JOIN glue.jobs j USING (job_id) WHERE j.job_name LIKE 'step_%'}),
	'step_a<-kick,step_b<-a_then_b,step_c<-b_then_c,step_fail<-kick', 'runs name the trigger that started them');

sql(q{
	SELECT kinesis.create_stream('ev');
	SELECT glue.create_job('on_batch', script => 'SELECT 1', max_concurrent_runs => 10);
	SELECT glue.create_trigger('batch', 'EVENT', '[{"job_name": "on_batch"}]', start_on_creation => true,
	       event_batching_condition => '{"stream_name": "ev", "batch_size": 5, "batch_window": 900}');
});
kg_wait($node, q{SELECT EXISTS (SELECT 1 FROM kinesis.consumers WHERE consumer_name LIKE 'glue-trigger-%')}, 't', 'event consumer');
sql(q{SELECT count(*) FROM kinesis.put_records('ev', ARRAY['a','b','c','d','e'], ARRAY['\x01','\x02','\x03','\x04','\x05']::bytea[])});
kg_wait($node, q{SELECT count(*) = 1 FROM glue.job_runs r JOIN glue.jobs j USING (job_id) WHERE j.job_name = 'on_batch'
             AND r.trigger_name = 'batch'}, 't', 'event trigger after 5 records');
pass('an event trigger fired after batch_size new records');

# a workflow with a failed node, resumed
sql(q{
	CREATE TABLE wlog (step text, workflow_run text, prop text);
	CREATE TABLE gate (ok boolean);
	INSERT INTO gate VALUES (false);
	SELECT glue.create_workflow('nightly', default_run_properties => '{"day": "mon"}');
	SELECT glue.create_job('extract', script => $$
	    INSERT INTO wlog SELECT 'extract', glue.job_argument('WORKFLOW_RUN_ID'), NULL;
	    SELECT glue.put_workflow_run_properties('nightly', glue.job_argument('WORKFLOW_RUN_ID')::bigint, '{"rows": "42"}')$$);
	SELECT glue.create_job('transform', script => $$
	    INSERT INTO wlog SELECT 'transform', glue.job_argument('WORKFLOW_RUN_ID'),
	           glue.get_workflow_run_properties('nightly', glue.job_argument('WORKFLOW_RUN_ID')::bigint) ->> 'rows';
	    SELECT 1 / (SELECT count(*) FROM gate WHERE ok)::int$$);
	SELECT glue.create_job('load', script => $$INSERT INTO wlog SELECT 'load', glue.job_argument('WORKFLOW_RUN_ID'), NULL$$);
	SELECT glue.create_trigger('nightly_start', 'ON_DEMAND', '[{"job_name": "extract"}]', workflow_name => 'nightly');
	SELECT glue.create_trigger('after_extract', 'CONDITIONAL', '[{"job_name": "transform"}]', workflow_name => 'nightly',
	       start_on_creation => true, predicate => '{"conditions": [{"job_name": "extract", "state": "SUCCEEDED"}]}');
	SELECT glue.create_trigger('after_transform', 'CONDITIONAL', '[{"job_name": "load"}]', workflow_name => 'nightly',
	       start_on_creation => true,
	       predicate => '{"logical": "AND", "conditions": [{"job_name": "transform", "state": "SUCCEEDED"}, {"job_name": "extract", "state": "SUCCEEDED"}]}');
});
my $wr = sql("SELECT glue.start_workflow_run('nightly')");
kg_wait($node, "SELECT status = 'COMPLETED' FROM glue.get_workflow_run('nightly', $wr)", 't', 'workflow run 1');
is(sql(qq{SELECT string_agg(x ->> 'name' || ':' || (x ->> 'state'), ',' ORDER BY x ->> 'name')
           FROM glue.get_workflow_run('nightly', $wr) r, jsonb_array_elements(r.nodes) x}),
	'extract:SUCCEEDED,transform:FAILED', 'the workflow run stopped at its failed node');
like(sql("SELECT glue.workflow_graph('nightly', $wr)"), qr/"job:transform" \[label="transform", shape=box, style=filled, fillcolor=salmon/,
	'workflow_graph colours the failed node');
sql('UPDATE gate SET ok = true');
my $wr2 = sql("SELECT glue.resume_workflow_run('nightly', $wr)");
kg_wait($node, "SELECT status = 'COMPLETED' FROM glue.get_workflow_run('nightly', $wr2)", 't', 'resumed workflow run');
is(sql("SELECT string_agg(step || ':' || (workflow_run::bigint - $wr) || ':' || coalesce(prop, ''), ',' ORDER BY step) FROM wlog"),
	'extract:0:,load:1:,transform:1:42',
	'resume re-ran the failed node only, with the run properties, and what follows it');

# ---------------------------------------------------------------------------
# 5. crash during a run
# ---------------------------------------------------------------------------
sql(q{
	CREATE TABLE crash_flag (x int);
	CREATE TABLE crash_out (seq bigint, shard text, UNIQUE (shard, seq));
	SELECT kinesis.create_stream('crashy', 2);
	SELECT count(*) FROM kinesis.put_records('crashy', ARRAY(SELECT 'k' || g FROM generate_series(1, 300) g),
	                                         ARRAY(SELECT '\x00'::bytea FROM generate_series(1, 300) g));
	SELECT glue.create_job('crash', max_retries => 1, script => $$
	    SELECT pg_sleep(CASE WHEN EXISTS (SELECT 1 FROM crash_flag) THEN 0 ELSE 300 END);
	    INSERT INTO crash_out SELECT r.sequence_number, r.shard_id FROM glue.bookmark_records('crashy') r$$,
	    default_arguments => '{"--job-bookmark-option": "job-bookmark-enable"}');
});
$id = sql("SELECT glue.start_job_run('crash')");
kg_wait($node, "SELECT state = 'RUNNING' FROM glue.job_runs WHERE run_id = $id", 't', 'crash run running');
sql('INSERT INTO crash_flag VALUES (1)');
$node->stop('immediate');
$node->start;
is(wait_run_end($id), 'FAILED', 'a run in flight during a crash is FAILED after the restart');
like(sql("SELECT error_message FROM glue.job_runs WHERE run_id = $id"), qr/interrupted/, 'as interrupted');
my $retry = sql("SELECT run_id FROM glue.job_runs WHERE previous_run_id = $id");
ok($retry ne '', 'and retried');
is(wait_run_end($retry), 'SUCCEEDED', 'the retry succeeds');
is(sql('SELECT count(*), count(DISTINCT (shard, seq)) FROM crash_out'), '300|300', 'every record once after the crash');

# ---------------------------------------------------------------------------
# 6. a scheduled trigger through pg_cron
# ---------------------------------------------------------------------------
sql(q{
	SELECT glue.create_job('minutely', script => 'SELECT 1');
	SELECT glue.create_trigger('every_minute', 'SCHEDULED', '[{"job_name": "minutely"}]',
	       schedule => 'cron(* * * * ? *)', start_on_creation => true);
});
is(sql(q{SELECT schedule || ' ' || command FROM cron.job WHERE jobname = 'glue trigger: every_minute'}),
	q{* * * * * SELECT glue._fire_trigger('every_minute')}, 'the schedule is a pg_cron job');
kg_wait($node, q{SELECT EXISTS (SELECT 1 FROM glue.job_runs r JOIN glue.jobs j USING (job_id)
            WHERE j.job_name = 'minutely' AND r.trigger_name = 'every_minute' AND r.state = 'SUCCEEDED')}, 't',
	'pg_cron firing the scheduled trigger', within => 90);
pass('a scheduled trigger fired through pg_cron within its minute');
sql("SELECT glue.update_trigger('every_minute', schedule => '*/5 * * * *')");
is(sql(q{SELECT schedule FROM cron.job WHERE jobname = 'glue trigger: every_minute'}), '*/5 * * * *',
	'changing the trigger changes the pg_cron job');
sql("SELECT glue.stop_trigger('every_minute')");
is(sql(q{SELECT count(*) FROM cron.job WHERE jobname = 'glue trigger: every_minute'}), '0',
	'stopping the trigger removes the pg_cron job');
sql("SELECT glue.start_trigger('every_minute')");
sql("SELECT glue.delete_trigger('every_minute')");
is(sql(q{SELECT count(*) FROM cron.job}), '0', 'deleting the trigger removes the pg_cron job');

# pg_cron here, a role without special attributes: ON_DEMAND triggers do not
# touch pg_cron; a SCHEDULED one needs USAGE on schema cron, and then its
# job runs as that role
sql(q{CREATE ROLE regress_local_user LOGIN; GRANT USAGE ON SCHEMA glue, kinesis_glue TO regress_local_user});
my $as_user = sub {
	my ($stmt) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "SET ROLE regress_local_user; $stmt");
	return $rc == 0 ? 'ok' : $err;
};
is($as_user->(q{SELECT glue.create_job('local_job', script => 'SELECT 1');
                 SELECT glue.create_trigger('local_now', 'ON_DEMAND', '[{"job_name": "local_job"}]');
                 SELECT glue.start_trigger('local_now')}), 'ok',
	'an ON_DEMAND trigger works for a role without rights on schema cron');
like($as_user->(q{SELECT glue.create_trigger('local_sched', 'SCHEDULED', '[{"job_name": "local_job"}]',
                   schedule => 'cron(0/5 * * * ? *)', start_on_creation => true)}),
	qr/AccessDeniedException: trigger owner regress_local_user may not schedule jobs with pg_cron/,
	'a SCHEDULED one needs USAGE on schema cron');
sql(q{GRANT USAGE ON SCHEMA cron TO regress_local_user});
is($as_user->(q{SELECT glue.create_trigger('local_sched', 'SCHEDULED', '[{"job_name": "local_job"}]',
                 schedule => 'cron(0/5 * * * ? *)', start_on_creation => true)}), 'ok',
	"the README's cron(0/5 * * * ? *) is accepted");
is(sql(q{SELECT schedule || ' | ' || username FROM cron.job WHERE jobname = 'glue trigger: local_sched'}),
	'0-59/5 * * * * | regress_local_user', 'the job runs as the trigger owner, on the translated schedule');
is($as_user->(q{SELECT glue.delete_trigger('local_sched'), glue.delete_trigger('local_now')}), 'ok', 'deleted');
is(sql(q{SELECT count(*) FROM cron.job}), '0', 'deleting the trigger removes its job');

# pg_cron in another database (cron.database_name): the worker keeps the
# remote pg_cron jobs in step with the triggers
sql('CREATE DATABASE other');
my $other = sub { return $node->safe_psql('other', $_[0]); };
$other->('CREATE EXTENSION kinesis_glue');
$other->(q{
	SELECT glue.create_job('remote', script => 'SELECT 1');
	SELECT glue.create_trigger('remote_minutely', 'SCHEDULED', '[{"job_name": "remote"}]',
	       schedule => '* * * * *', start_on_creation => true);
});
kg_wait($node, q{SELECT count(*) = 1 FROM cron.job WHERE jobname = 'glue trigger: remote_minutely' AND database = 'other'}, 't',
	'the pg_cron job in the cron database');
ok( kg_wait(
		$node, q{SELECT count(*) > 0 FROM glue.job_runs WHERE trigger_name = 'remote_minutely' AND state = 'SUCCEEDED'},
		't', 'pg_cron in another database firing the trigger', db => 'other', within => 90),
	'a scheduled trigger fires through pg_cron living in another database');

# structured values: a role without special attributes (it cannot read the
# superuser-only cron.database_name) schedules a trigger whose name would
# break a text protocol; the job runs as that role, its command quotes the
# name, and Glue's cron form is translated
sql(q{CREATE ROLE regress_cron_user LOGIN});
$other->(q{GRANT USAGE ON SCHEMA glue, kinesis_glue TO regress_cron_user});
my $evil = q{x'); ALTER ROLE regress_cron_user SUPERUSER; --};
(my $evil_sql = $evil) =~ s/'/''/g;
my ($rc, $out, $err) = $node->psql('other', qq{
	SET ROLE regress_cron_user;
	SELECT glue.create_job('mine', script => 'SELECT 1');
	SELECT glue.create_trigger('$evil_sql', 'SCHEDULED', '[{"job_name": "mine"}]',
	       schedule => 'cron(0/15 * * * ? *)', start_on_creation => true);
	SELECT glue.create_trigger('plain_on_demand', 'ON_DEMAND', '[{"job_name": "mine"}]');
});
is($rc, 0, 'a role without special attributes schedules a trigger with pg_cron in another database') or diag($err);
kg_wait($node, qq{SELECT count(*) = 1 FROM cron.job WHERE jobname = 'glue trigger: $evil_sql' AND database = 'other'}, 't',
	'the structured pg_cron job');
is(sql(qq{SELECT schedule || ' | ' || username || ' | ' || command FROM cron.job WHERE jobname = 'glue trigger: $evil_sql'}),
	qq{0-59/15 * * * * | regress_cron_user | SELECT glue._fire_trigger('$evil_sql')},
	'the remote job: translated schedule, the owner as user, the name quoted in the command');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_cron_user'}), 'f', 'and no role became superuser');
# pg_cron runs jobs only as roles that can log in: a trigger of another
# role is refused at once rather than breaking every sync of the database
sql(q{CREATE ROLE regress_nologin});
($rc, $out, $err) = $node->psql('other', q{
	SET ROLE regress_nologin;
	SELECT glue.create_job('nl', script => 'SELECT 1');
	SELECT glue.create_trigger('nl', 'SCHEDULED', '[{"job_name": "nl"}]', schedule => '* * * * *',
	       start_on_creation => true);
});
like($err, qr/AccessDeniedException: trigger owner regress_nologin cannot log in/,
	'a role that cannot log in gets no pg_cron job');
$other->(qq{SELECT glue.delete_trigger('$evil_sql'), glue.delete_trigger('plain_on_demand'), glue.delete_job('mine')});

$other->(q{SELECT glue.delete_trigger('remote_minutely')});
kg_wait($node, q{SELECT count(*) = 0 FROM cron.job WHERE database = 'other'}, 't', 'the remote pg_cron job removed');
pass('deleting the trigger removes the pg_cron job in the cron database');

# history retention
my $ended = sql(q{SELECT count(*) FROM glue.job_runs WHERE state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING')});
cmp_ok($ended, '>', 20, 'run history is kept');
kg_set_conf($node, 'kinesis_glue.job_run_retention' => '1s');
kg_wait($node, q{SELECT count(*) = 0 FROM glue.job_runs WHERE completed_on < clock_timestamp() - interval '3 seconds'}, 't',
	'history trimmed');
pass('ended runs older than kinesis_glue.job_run_retention are deleted');
kg_set_conf($node, 'kinesis_glue.job_run_retention' => undef);

$node->stop;
done_testing();
