
# Exactly-once promises of Glue under concurrent producers (issue 15):
#   1. glue.bookmark_records, while 4 producers keep putting into a 2-shard
#      stream, returns every record exactly once in every bookmark mode:
#      job-bookmark-disable (each run: every record up to where it read,
#      none twice, none skipped), job-bookmark-pause (each run: every
#      record after the bookmark, which stays; the first run of a job has
#      a new bookmark, whose position in shard 1 is not a sequence number
#      of shard 1) and job-bookmark-enable (over all runs: every record
#      once).  Runs alternate with the producers still going.
#   2. an EVENT trigger counts the records put right after its activation
#      commits, before the worker's next round: the first batch fires it;
#      records put before the activation do not count.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $PRODUCERS = 4;
my $DURATION = 12;    # seconds of producer load

my $node = kg_node(
	'correctness',
	set => {
		max_connections => 40,
		max_worker_processes => 32,
		'kinesis_glue.max_job_runs' => 3,
		'kinesis_glue.segment_records' => 4096,
		'kinesis_glue.segment_interval' => '1s'
	});

sub sql { return kg_sql($node, $_[0]); }

sub run_job
{
	my ($job, $args) = @_;
	my $id = sql("SELECT glue.start_job_run('$job', '$args')");
	kg_wait($node, "SELECT state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING') FROM glue.job_runs WHERE run_id = $id")
	  or diag("run $id of $job did not end");
	return ($id, sql("SELECT state || coalesce(': ' || error_message, '') FROM glue.job_runs WHERE run_id = $id"));
}


# ---------------------------------------------------------------------------
# 1. bookmarks under load
# ---------------------------------------------------------------------------
sql(q{
	SELECT kinesis.create_stream('bm', 2);
	-- what the producers committed, written in the producer's transaction
	CREATE TABLE prodlog (shard text, seq bigint, PRIMARY KEY (shard, seq));
	-- what each run was given
	CREATE TABLE seen (run_id bigint, mode text, shard text, seq bigint);
	SELECT glue.create_job('bm_all', script => $$
	    INSERT INTO seen SELECT glue.job_run_id(), 'disable', r.shard_id, r.sequence_number
	      FROM glue.bookmark_records('bm') r$$);
	SELECT glue.create_job('bm_mark', script => $$
	    INSERT INTO seen SELECT glue.job_run_id(), glue.job_argument('job-bookmark-option'), r.shard_id, r.sequence_number
	      FROM glue.bookmark_records('bm') r$$);
});

my @producers;
for my $c (1 .. $PRODUCERS)
{
	push @producers, kg_psql_bg(
		$node, "producer$c",
		on_error_stop => 1,
		timeout => 0,
		command => qq{
DO \$\$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '$DURATION s';
    i integer := 0;
BEGIN
    WHILE clock_timestamp() < deadline LOOP
        IF i % 3 = 0 THEN
            INSERT INTO prodlog SELECT p.shard_id, p.sequence_number
              FROM kinesis.put_record('bm', 'p$c-' || i, '\\x01') p;
        ELSE
            INSERT INTO prodlog SELECT p.shard_id, p.sequence_number
              FROM kinesis.put_records('bm', ARRAY(SELECT 'p$c-' || i || '-' || g FROM generate_series(1, 1 + i % 7) g),
                                       ARRAY(SELECT '\\x02'::bytea FROM generate_series(1, 1 + i % 7) g)) p;
        END IF;
        COMMIT;
        PERFORM pg_sleep(0.001);
        i := i + 1;
    END LOOP;
END
\$\$;});
}

# runs while the producers put: the first run of bm_mark is paused on a new
# bookmark; then enable and pause alternate; bm_all reads everything
my @runs;
my $started = time();
my $round = 0;
while (time() - $started < $DURATION - 1 || $round < 3)
{
	my $mode = $round % 2 == 0 ? 'job-bookmark-pause' : 'job-bookmark-enable';
	push @runs, [ run_job('bm_mark', qq({"--job-bookmark-option": "$mode"})), $mode ];
	push @runs, [ run_job('bm_all', '{}'), 'job-bookmark-disable' ];
	$round++;
}
for my $p (@producers)
{
	is(kg_finish($p), 0, 'producer finished') or diag(${ $p->{err} });
}
# a last enable run after the producers stopped takes the rest
push @runs, [ run_job('bm_mark', '{"--job-bookmark-option": "job-bookmark-enable"}'), 'job-bookmark-enable' ];

note(scalar(@runs) . ' runs, ' . sql('SELECT count(*) FROM prodlog') . ' records put');
my @failed = grep { $_->[1] !~ /^SUCCEEDED/ } @runs;
is(scalar(@failed), 0, 'every bookmarked run succeeded (also paused on a new bookmark of a 2-shard stream)')
  or diag(join("\n", map { "run $_->[0] ($_->[2]): $_->[1]" } @failed));
cmp_ok(sql('SELECT count(*) FROM prodlog'), '>', 1000, 'producers put records meanwhile');
cmp_ok(scalar(grep { $_->[2] eq 'job-bookmark-pause' } @runs), '>=', 2, 'several paused runs');

# no run was given a record twice
is(sql('SELECT count(*) FROM (SELECT 1 FROM seen GROUP BY run_id, shard, seq HAVING count(*) > 1) d'), '0',
	'no run returned a record twice');
# nothing that was not put
is(sql('SELECT count(*) FROM seen s WHERE NOT EXISTS (SELECT 1 FROM prodlog p WHERE p.shard = s.shard AND p.seq = s.seq)'),
	'0', 'every record returned was committed by a producer');

# each run, per shard, returned exactly the committed records in (lo, hi]:
# hi the last it returned, lo the bookmark it started from (NULL for
# job-bookmark-disable; for bm_mark the last record of the earlier enable
# runs, since runs of a job never overlap)
my $gaps = sql(q{
	WITH per AS (
	    SELECT s.run_id, s.mode, s.shard, count(*) AS n, max(s.seq) AS hi,
	           CASE WHEN s.mode = 'disable' THEN NULL
	                ELSE (SELECT max(e.seq) FROM seen e
	                       WHERE e.mode = 'job-bookmark-enable' AND e.run_id < s.run_id AND e.shard = s.shard) END AS lo
	      FROM seen s GROUP BY s.run_id, s.mode, s.shard)
	SELECT coalesce(string_agg(format('run %s (%s) %s: %s returned, %s committed in (%s, %s]',
	                                  run_id, mode, shard, n, c, lo, hi), '; '), 'none')
	  FROM (SELECT per.*, (SELECT count(*) FROM prodlog p WHERE p.shard = per.shard AND p.seq <= per.hi
	                          AND (per.lo IS NULL OR p.seq > per.lo)) AS c FROM per) x
	 WHERE n <> c});
is($gaps, 'none', 'every run returned every committed record from its bookmark to where it read: none skipped');

# over the enable runs: every record exactly once
is(sql(q{SELECT count(*) || '/' || count(DISTINCT (shard, seq)) FROM seen WHERE mode = 'job-bookmark-enable'}),
	sql('SELECT count(*) || \'/\' || count(*) FROM prodlog'),
	'job-bookmark-enable runs together processed every record exactly once');
# after the last enable run
is(sql(q{SELECT bool_and((b.shards ->> p.shard)::bigint >= p.m)
           FROM glue.get_job_bookmark('bm_mark') b, (SELECT shard, max(seq) AS m FROM prodlog GROUP BY shard) p}),
	't', 'the bookmark stands after the last record');
# each disable run read the whole stream it saw, from the first record
is(sql(q{SELECT count(*) FROM (SELECT run_id, shard, min(seq) AS lo FROM seen WHERE mode = 'disable' GROUP BY 1, 2) d
          WHERE lo <> (SELECT min(seq) FROM prodlog p WHERE p.shard = d.shard)}), '0',
	'job-bookmark-disable runs start at the first record of each shard');

# ---------------------------------------------------------------------------
# 2. EVENT triggers count from the activation's commit
# ---------------------------------------------------------------------------
sql(q{SELECT glue.create_job('on_event', script => 'SELECT 1', max_concurrent_runs => 10)});
for my $trial (1 .. 3)
{
	sql(qq{
		SELECT kinesis.create_stream('ev$trial');
		SELECT glue.create_trigger('ev$trial', 'EVENT', '[{"job_name": "on_event"}]',
		       event_batching_condition => '{"stream_name": "ev$trial", "batch_size": 5, "batch_window": 900}');
		-- before the activation: never counted
		SELECT count(*) FROM kinesis.put_records('ev$trial', ARRAY['a','b','c','d'], ARRAY['\\x01','\\x02','\\x03','\\x04']::bytea[]);
	});
	# activation, then at once the first records, each in its own transaction
	sql(qq{
		SELECT glue.start_trigger('ev$trial');
		SELECT count(*) FROM kinesis.put_records('ev$trial', ARRAY['e','f','g','h'], ARRAY['\\x05','\\x06','\\x07','\\x08']::bytea[]);
	});
	# four after the activation: one short of the batch, for several rounds
	ok(kg_wait($node, qq{SELECT count(*) = 1 FROM kinesis.consumers WHERE consumer_name = 'glue-trigger-' ||
	                  (SELECT trigger_id FROM glue.triggers WHERE trigger_name = 'ev$trial')}),
		"trial $trial: the worker took up the trigger");
	usleep(1_000_000);
	is(sql(qq{SELECT count(*) FROM glue.job_runs WHERE trigger_name = 'ev$trial'}), '0',
		"trial $trial: records put before the activation do not count");
	sql(qq{SELECT count(*) FROM kinesis.put_record('ev$trial', 'i', '\\x09')});
	ok(kg_wait($node, qq{SELECT count(*) = 1 FROM glue.job_runs WHERE trigger_name = 'ev$trial'}),
		"trial $trial: the first batch after the activation fired the trigger");
	sql(qq{SELECT glue.stop_trigger('ev$trial')});
}

# activated again: counting starts afresh, records put while it was
# deactivated do not count
sql(q{
	SELECT count(*) FROM kinesis.put_records('ev1', ARRAY['j','k','l'], ARRAY['\\x0a','\\x0b','\\x0c']::bytea[]);
	SELECT glue.start_trigger('ev1');
	SELECT count(*) FROM kinesis.put_records('ev1', ARRAY['m','n','o','p'], ARRAY['\\x0d','\\x0e','\\x0f','\\x10']::bytea[]);
});
ok(kg_wait($node, q{SELECT c.starting_position_timestamp = t.activated_on FROM kinesis.consumers c, glue.triggers t
               WHERE t.trigger_name = 'ev1' AND c.consumer_name = 'glue-trigger-' || t.trigger_id}),
	'a new activation gets a consumer of its own');
usleep(1_000_000);
is(sql(q{SELECT count(*) FROM glue.job_runs WHERE trigger_name = 'ev1'}), '1',
	'records put while the trigger was deactivated do not count after it is activated again');
sql(q{SELECT count(*) FROM kinesis.put_record('ev1', 'q', '\\x11')});
ok(kg_wait($node, q{SELECT count(*) = 2 FROM glue.job_runs WHERE trigger_name = 'ev1'}),
	'the first batch after the new activation fires it');

$node->stop;
done_testing();
