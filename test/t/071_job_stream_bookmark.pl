# A bookmarked stream -> table job is one statement,
# INSERT ... SELECT ... FROM glue.bookmark_records(stream), whose read
# consumes every new record in one call (src/glue/bookmarks.c,
# the consume reader in src/streams/consume_reader.c).  Exactly-once across runs:
#   1. a capped read (max_records across the read's chunks of 10,000) moves
#      each shard's checkpoint exactly to the last record inserted, so the
#      runs that follow insert every record once and none twice;
#   2. a backlog across a split is read parent first, then the children,
#      in one run: every record once, each partition key in order, the
#      same rows through the scan and through the function; a first
#      job-bookmark-pause run reads it all and moves nothing;
#   3. a run stopped after its read inserts nothing and leaves the
#      bookmark; the rerun continues after it;
#   4. the read has the owner's rights only: with SELECT on the stream
#      revoked the run fails (AccessDeniedException), writes nothing and
#      keeps the bookmark;
#   5. a statement that stops early (a LIMIT over the read, which runs as a
#      KinesisRecordScan) moves the checkpoints only past the records it
#      was given: runs one after another insert every record once, in
#      order, the shards not reached keep their checkpoints; the plan is
#      the scan;
#   6. one statement cannot read one job consumer twice at once (a join of
#      the read with itself would return every record twice): the run
#      fails with ResourceInUseException and changes nothing; two reads one
#      after the other (UNION ALL) read each record once; a read that fails
#      inside a caught error (a PL/pgSQL exception block) leaves nothing
#      behind that refuses the next read of the same transaction.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KgTest;

my $node = kg_node('job_stream_bookmark', set => { max_worker_processes => 16 });

sub sql { return kg_sql($node, $_[0]); }
sub run_end { return kg_job_run_end($node, $_[0]); }
sub start { my ($job, $args) = @_; return sql("SELECT glue.start_job_run('$job', '" . ($args // '{}') . "')"); }

sql(q{
	CREATE ROLE bm_owner LOGIN;
	GRANT USAGE ON SCHEMA glue, kinesis, kinesis_glue TO bm_owner;
	GRANT CREATE ON SCHEMA public TO bm_owner;
});

# put records from..to into stream (data: the number; partition key: pk,
# an SQL expression of g), 500 a call
sub put
{
	my ($stream, $from, $to, $pk) = @_;
	$pk //= "'k' || g";
	sql(qq{DO \$\$ BEGIN
	         FOR b IN 0 .. ($to - $from) / 500 LOOP
	           PERFORM kinesis.put_records('$stream',
	             ARRAY(SELECT $pk FROM generate_series($from + b * 500, least($from + b * 500 + 499, $to)) g),
	             ARRAY(SELECT convert_to(g::text, 'UTF8') FROM generate_series($from + b * 500, least($from + b * 500 + 499, $to)) g));
	         END LOOP;
	       END \$\$});
}

# the checkpoint per shard of a job's bookmark, as 'shard:seq,...'
sub checkpoints
{
	my ($job) = @_;
	return sql(qq{SELECT string_agg(s.key || ':' || (s.value #>> '{}'), ',' ORDER BY s.key)
	                FROM glue.get_job_bookmark('$job') b, jsonb_each(b.shards) s});
}

# how many shards of job's bookmark on stream have a checkpoint that does
# not cover exactly the records in table out (columns shard, seq): 0 when
# every record up to each checkpoint was inserted, and none after it
sub inexact_shards
{
	my ($job, $stream, $out) = @_;
	return sql(qq{SELECT count(*) FROM jsonb_each((SELECT b.shards FROM glue.get_job_bookmark('$job') b)) c
	               WHERE (SELECT count(*) FROM kinesis_records.$stream r
	                       WHERE 'shardId-' || lpad(r.shard_index::text, 12, '0') = c.key
	                         AND r.sequence_number <= (c.value #>> '{}')::bigint)
	                     IS DISTINCT FROM
	                     (SELECT count(*) FROM $out o WHERE o.shard = c.key AND o.seq <= (c.value #>> '{}')::bigint)
	                  OR EXISTS (SELECT 1 FROM $out o WHERE o.shard = c.key AND o.seq > (c.value #>> '{}')::bigint)});
}

# ---------------------------------------------------------------------------
# 1. capped reads across chunk boundaries
# ---------------------------------------------------------------------------
sql(q{
	SELECT kinesis.create_stream('big', 2);
	GRANT SELECT ON kinesis_records.big TO bm_owner;
});
put('big', 1, 30000);
my $per_shard = sql(q{SELECT string_agg(c::text, ',' ORDER BY shard_index) FROM
                       (SELECT shard_index, count(*) c FROM kinesis_records.big GROUP BY 1) x});
like($per_shard, qr/^\d{5},\d{5}$/, "a shard holds more records than one read chunk ($per_shard)");
$node->safe_psql('postgres', q{
	SET ROLE bm_owner;
	CREATE TABLE public.big_out (seq bigint, shard text, n int, run bigint);
	SELECT glue.create_job('capped', script => $$
	    INSERT INTO big_out
	    SELECT r.sequence_number, r.shard_id, convert_from(r.data, 'UTF8')::int, glue.job_run_id()
	      FROM glue.bookmark_records('big', :'cap'::int) r$$,
	    default_arguments => '{"--job-bookmark-option": "job-bookmark-enable", "--cap": "12345"}');
});
for my $i (1 .. 4)
{
	my $id = start('capped');
	is(run_end($id), 'SUCCEEDED', "capped run $i");
	# per shard: the records up to the checkpoint are exactly those inserted
	is(inexact_shards('capped', 'big', 'big_out'), '0',
		"after capped run $i each shard's checkpoint covers exactly the records inserted");
}
is(sql("SELECT string_agg(n::text, ',' ORDER BY run) FROM (SELECT run, count(*) n FROM big_out GROUP BY run) x"),
	'12345,12345,5310', 'each run took at most the cap, the last the rest (the fourth found nothing)');
is(sql('SELECT count(*), count(DISTINCT n), min(n), max(n) FROM big_out'), '30000|30000|1|30000',
	'every record inserted exactly once across the capped runs');

# ---------------------------------------------------------------------------
# 2. a backlog across a split, in one run
# ---------------------------------------------------------------------------
sql(q{
	SELECT kinesis.create_stream('rs', 1);
	GRANT SELECT ON kinesis_records.rs TO bm_owner;
});
put('rs', 1, 11000, "'k' || (g % 50)");
sql(q{SELECT kinesis.split_shard('rs', 'shardId-000000000000', (2::numeric ^ 127)::numeric(39, 0))});
put('rs', 11001, 22000, "'k' || (g % 50)");
$node->safe_psql('postgres', q{
	SET ROLE bm_owner;
	CREATE TABLE public.rs_out (ord bigint GENERATED ALWAYS AS IDENTITY, seq bigint, pk text, n int);
	SELECT glue.create_job('resharded', script => $$
	    INSERT INTO rs_out (seq, pk, n)
	    SELECT r.sequence_number, r.partition_key, convert_from(r.data, 'UTF8')::int
	      FROM glue.bookmark_records('rs') r$$,
	    default_arguments => '{"--job-bookmark-option": "job-bookmark-enable"}');
});
is(run_end(start('resharded')), 'SUCCEEDED', 'a run over a split backlog');
is(sql('SELECT count(*), count(DISTINCT n) FROM rs_out'), '22000|22000', 'reads parent and children in one run, once');
is(sql(q{SELECT count(*) FROM (SELECT pk, n < lag(n) OVER (PARTITION BY pk ORDER BY ord) AS back FROM rs_out) x
          WHERE back}), '0', 'each partition key in the order it was put');
is(run_end(start('resharded')), 'SUCCEEDED', 'a second run');
is(sql('SELECT count(*) FROM rs_out'), '22000', 'finds nothing new');

# the same through the function itself (no KinesisRecordScan: it stores
# every record before the statement reads): another job, its own consumer
$node->safe_psql('postgres', q{
	SET ROLE bm_owner;
	CREATE TABLE public.rs_fn_out (ord bigint GENERATED ALWAYS AS IDENTITY, seq bigint, pk text, n int);
	SELECT glue.create_job('resharded_fn', script => $$
	    SET LOCAL kinesis_glue.enable_record_scan = off;
	    INSERT INTO rs_fn_out (seq, pk, n)
	    SELECT r.sequence_number, r.partition_key, convert_from(r.data, 'UTF8')::int
	      FROM glue.bookmark_records('rs') r$$,
	    default_arguments => '{"--job-bookmark-option": "job-bookmark-enable"}');
});
is(run_end(start('resharded_fn')), 'SUCCEEDED', 'a run over the split backlog through the function');
is(sql(q{SELECT count(*), count(DISTINCT n) FROM rs_fn_out}), '22000|22000', 'every record once');
is(sql(q{SELECT count(*) FROM rs_out a FULL JOIN rs_fn_out b USING (ord) WHERE (a.seq, a.pk, a.n) IS DISTINCT FROM (b.seq, b.pk, b.n)}),
	'0', 'the same rows in the same order as through the scan');
is(run_end(start('resharded_fn')), 'SUCCEEDED', 'a second run through the function');
is(sql('SELECT count(*) FROM rs_fn_out'), '22000', 'finds nothing new');

# a first run with job-bookmark-pause reads from the start (its consumer is
# registered in the same call) and moves nothing
$node->safe_psql('postgres', q{
	SET ROLE bm_owner;
	CREATE TABLE public.peek_out (n bigint);
	SELECT glue.create_job('peek', script => $$INSERT INTO peek_out SELECT count(*) FROM glue.bookmark_records('rs')$$,
	    default_arguments => '{"--job-bookmark-option": "job-bookmark-pause"}');
});
is(run_end(start('peek')), 'SUCCEEDED', 'a first paused run');
is(run_end(start('peek')), 'SUCCEEDED', 'a second paused run');
is(sql('SELECT string_agg(n::text, \',\' ORDER BY ctid) FROM peek_out'), '22000,22000',
	'both read every record: the first sees its new consumer, neither moves it');

# ---------------------------------------------------------------------------
# 3. stopped after the read
# ---------------------------------------------------------------------------
put('big', 30001, 30500);
$node->safe_psql('postgres', q{
	SET ROLE bm_owner;
	SELECT glue.update_job('capped', script => $$
	    INSERT INTO big_out
	    SELECT r.sequence_number, r.shard_id, convert_from(r.data, 'UTF8')::int, glue.job_run_id()
	      FROM glue.bookmark_records('big') r;
	    SELECT pg_sleep(:'sleep'::float8)$$,
	    default_arguments => '{"--job-bookmark-option": "job-bookmark-enable", "--sleep": "0"}');
});
my $before = checkpoints('capped');
my $id = start('capped', '{"--sleep": "300"}');
kg_wait($node, qq{SELECT wait_event = 'PgSleep' FROM pg_stat_activity a JOIN glue.job_runs r ON a.pid = r.worker_pid
                   WHERE r.run_id = $id}, 't', 'the run has read and inserted');
sql("SELECT glue.stop_job_run('capped', $id)");
is(run_end($id), 'STOPPED', 'the run is stopped after its read');
is(sql('SELECT count(*) FROM big_out'), '30000', 'a stopped run inserts nothing');
is(checkpoints('capped'), $before, 'and leaves the bookmark where it was');
is(run_end(start('capped')), 'SUCCEEDED', 'the rerun');
is(sql('SELECT count(*), count(DISTINCT n), max(n) FROM big_out'), '30500|30500|30500',
	'continues after the bookmark: the new records once');

# ---------------------------------------------------------------------------
# 4. the owner's rights only
# ---------------------------------------------------------------------------
put('big', 30501, 30501);
sql('REVOKE SELECT ON kinesis_records.big FROM bm_owner');
$before = checkpoints('capped');
$id = start('capped');
is(run_end($id), 'FAILED', 'a run whose owner lost SELECT on the stream');
like(sql("SELECT error_message FROM glue.job_runs WHERE run_id = $id"), qr/AccessDeniedException/,
	'fails with AccessDeniedException');
is(sql('SELECT count(*) FROM big_out'), '30500', 'writes nothing');
is(checkpoints('capped'), $before, 'and keeps the bookmark');
sql('GRANT SELECT ON kinesis_records.big TO bm_owner');
is(run_end(start('capped')), 'SUCCEEDED', 'with SELECT granted again');
is(sql('SELECT count(*), count(DISTINCT n) FROM big_out'), '30501|30501', 'the record comes once');


# ---------------------------------------------------------------------------
# 5. a statement that stops early
# ---------------------------------------------------------------------------
sql(q{
	SELECT kinesis.create_stream('lim', 2);
	GRANT SELECT ON kinesis_records.lim TO bm_owner;
});
put('lim', 1, 1000);
$node->safe_psql('postgres', q{
	SET ROLE bm_owner;
	CREATE TABLE public.lim_out (ord bigint GENERATED ALWAYS AS IDENTITY, seq bigint, shard text, n int,
	                             run bigint);
	CREATE TABLE public.lim_plan (line text);
	SELECT glue.create_job('limited', script => $$
	    INSERT INTO lim_out (seq, shard, n, run)
	    SELECT r.sequence_number, r.shard_id, convert_from(r.data, 'UTF8')::int, glue.job_run_id()
	      FROM (SELECT * FROM glue.bookmark_records('lim') LIMIT :'take'::int) r;
	    DO $do$ DECLARE l text; BEGIN
	      FOR l IN EXPLAIN (COSTS OFF) SELECT * FROM glue.bookmark_records('lim') LIMIT 1 LOOP
	        INSERT INTO public.lim_plan VALUES (l);
	      END LOOP;
	    END $do$
	    $$, default_arguments => '{"--job-bookmark-option": "job-bookmark-enable", "--take": "150"}');
});
is(run_end(start('limited')), 'SUCCEEDED', 'a run that takes 150 records with a LIMIT');
is(sql('SELECT count(*), count(DISTINCT shard) FROM lim_out'), '150|1', 'inserts 150, all of the first shard');
is(inexact_shards('limited', 'lim', 'lim_out'), '0', 'the checkpoint is at the 150th record');
is(sql(q{SELECT count(*) FROM glue.get_job_bookmark('limited') b, jsonb_each(b.shards) c
          WHERE c.key = 'shardId-000000000001'
            AND (c.value #>> '{}')::bigint >= (SELECT min(sequence_number) FROM kinesis_records.lim WHERE shard_index = 1)}),
	'0', 'the shard not reached keeps its checkpoint');
like(sql('SELECT string_agg(line, E\'\\n\') FROM lim_plan'), qr/KinesisRecordScan/, 'the read runs as a KinesisRecordScan');
for my $i (2 .. 5)
{
	is(run_end(start('limited', '{"--take": "400"}')), 'SUCCEEDED', "run $i takes up to 400");
	is(inexact_shards('limited', 'lim', 'lim_out'), '0', "after run $i the checkpoints cover exactly the records inserted");
}
is(sql('SELECT string_agg(n::text, \',\' ORDER BY run) FROM (SELECT run, count(*) n FROM lim_out GROUP BY run) x'),
	'150,400,400,50', 'each run took what its LIMIT let through, across the shards; the fifth found nothing');
is(sql('SELECT count(*), count(DISTINCT n), min(n), max(n) FROM lim_out'), '1000|1000|1|1000',
	'every record inserted exactly once');
is(sql(q{SELECT count(*) FROM (SELECT shard, seq < lag(seq) OVER (PARTITION BY shard ORDER BY ord) AS back
                                 FROM lim_out) x WHERE back}), '0', 'each shard in order across the runs');


# ---------------------------------------------------------------------------
# 6. two reads of one consumer in one statement
# ---------------------------------------------------------------------------
sql(q{
	SELECT kinesis.create_stream('dup', 1);
	GRANT SELECT ON kinesis_records.dup TO bm_owner;
});
put('dup', 1, 300);
$node->safe_psql('postgres', q{
	SET ROLE bm_owner;
	CREATE TABLE public.dup_out (seq bigint, n int);
	SELECT glue.create_job('self_join', script => $$
	    SET LOCAL enable_hashjoin = off;
	    SET LOCAL enable_mergejoin = off;
	    INSERT INTO dup_out SELECT a.sequence_number, convert_from(a.data, 'UTF8')::int
	      FROM glue.bookmark_records('dup') a JOIN glue.bookmark_records('dup') b USING (sequence_number)$$,
	    default_arguments => '{"--job-bookmark-option": "job-bookmark-enable"}');
});
$id = start('self_join');
is(run_end($id), 'FAILED', 'a run that joins the read with itself');
like(sql("SELECT error_message FROM glue.job_runs WHERE run_id = $id"), qr/ResourceInUseException: consumer .* is already being read/,
	'fails with ResourceInUseException');
is(sql('SELECT count(*) FROM dup_out'), '0', 'inserts nothing');
is(checkpoints('self_join'), '', 'moves no checkpoint');
$node->safe_psql('postgres', q{
	SET ROLE bm_owner;
	SELECT glue.update_job('self_join', script => $$
	    INSERT INTO dup_out SELECT r.sequence_number, convert_from(r.data, 'UTF8')::int
	      FROM (SELECT * FROM glue.bookmark_records('dup') UNION ALL SELECT * FROM glue.bookmark_records('dup')) r$$);
});
is(run_end(start('self_join')), 'SUCCEEDED', 'a run with two reads one after the other');
is(sql('SELECT count(*), count(DISTINCT n) FROM dup_out'), '300|300', 'reads each record once: the second read starts after the first');

# a read cut short by an error caught in an exception block: the next read
# of the same transaction is allowed, and starts where the caught one did
put('dup', 301, 320);
$node->safe_psql('postgres', q{
	SET ROLE bm_owner;
	SELECT glue.update_job('self_join', script => $$
	    DO $do$ BEGIN
	      BEGIN
	        INSERT INTO public.dup_out SELECT r.sequence_number, 1 / (r.sequence_number * 0)::int
	          FROM glue.bookmark_records('dup') r;
	      EXCEPTION WHEN division_by_zero THEN NULL;
	      END;
	    END $do$;
	    INSERT INTO dup_out SELECT r.sequence_number, convert_from(r.data, 'UTF8')::int
	      FROM glue.bookmark_records('dup') r
	    $$);
});
is(run_end(start('self_join')), 'SUCCEEDED', 'a run whose first read fails inside a caught error');
is(sql('SELECT count(*), count(DISTINCT n), min(n) FILTER (WHERE n > 300) FROM dup_out'), '320|320|301',
	'its second read is allowed and reads the new records once');

$node->stop;
done_testing();
