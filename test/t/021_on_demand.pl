
# The ON_DEMAND scaler (src/streams/on_demand.c; reference 4.4).
#
# An ON_DEMAND stream starts with 4 shards.  With small thresholds
# (measure every second, split above 100 records/s sustained for 2
# measurements, merge below 50 records/s, 2 s cooldown, at least 4 shards):
#   - under a steady pgbench load of put_records the worker splits shards:
#     SPLIT rows appear in kinesis.scaling_actions and in the server log,
#     and the open shard count grows;
#   - under that steady load there is no flapping: no MERGE, and actions are
#     at least the cooldown apart;
#   - every recorded action really happened: a SPLIT's shard is closed with
#     two children, a MERGE's two shards are closed with one child naming
#     both as parents;
#   - after the load stops, MERGE actions bring the stream back to 4 open
#     shards and no further (on_demand_min_shards), and then the scaler
#     stays quiet;
#   - the open shards always tile the key space, and every record the load
#     put is readable (parents before children).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $LOAD_SECONDS = 12;
my $COOLDOWN = 2;

my $node = kg_node(
	'on_demand',
	set => {
		max_connections => 30,
		'kinesis_glue.launcher_naptime' => '100ms',
		'kinesis_glue.on_demand_interval' => '1s',
		'kinesis_glue.on_demand_split_records' => 100,
		'kinesis_glue.on_demand_merge_records' => 50,
		'kinesis_glue.on_demand_sustain' => 2,
		'kinesis_glue.on_demand_cooldown' => "${COOLDOWN}s",
		'kinesis_glue.on_demand_min_shards' => 4
	});

sub sql { return kg_sql($node, shift) }

sql(q{
SELECT kinesis.create_stream('od', stream_mode => 'ON_DEMAND');
-- the open shards tile [0, 2^128-1]: number of gaps, overlaps and bad ends
CREATE FUNCTION tiling_errors(stream text) RETURNS bigint LANGUAGE sql AS $$
    WITH o AS (SELECT starting_hash_key AS lo, ending_hash_key AS hi,
                      lag(ending_hash_key) OVER (ORDER BY starting_hash_key) AS prev_hi,
                      row_number() OVER (ORDER BY starting_hash_key) AS i,
                      count(*) OVER () AS n
                 FROM kinesis.list_shards(stream) WHERE ending_sequence_number IS NULL)
    SELECT count(*) FILTER (WHERE (i = 1 AND lo <> 0)
                               OR (i = n AND hi <> 340282366920938463463374607431768211455)
                               OR (i > 1 AND lo <> prev_hi + 1) OR lo > hi)
      FROM o
$$;
-- all records of a shard, paging through read_shard
CREATE FUNCTION count_shard(stream text, sh text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    after bigint := NULL;
    total bigint := 0;
    n bigint;
    last bigint;
BEGIN
    LOOP
        SELECT count(*), max(sequence_number) INTO n, last
          FROM kinesis.read_shard(stream, sh, after, 10000);
        EXIT WHEN n = 0;
        total := total + n;
        after := last;
    END LOOP;
    RETURN total;
END
$$;
-- actions whose effect is not in list_shards
CREATE FUNCTION phantom_actions(stream text) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM kinesis.scaling_actions a
     WHERE a.stream_name = stream
       AND NOT CASE a.action
           WHEN 'SPLIT' THEN
               (SELECT count(*) FROM kinesis.list_shards(stream) c WHERE c.parent_shard_id = a.shards
                                                                   AND c.adjacent_parent_shard_id IS NULL) = 2
               AND (SELECT p.ending_sequence_number IS NOT NULL FROM kinesis.list_shards(stream) p
                     WHERE p.shard_id = a.shards)
           ELSE
               (SELECT count(*) FROM kinesis.list_shards(stream) c
                 WHERE c.parent_shard_id || ' and ' || c.adjacent_parent_shard_id = a.shards) = 1
           END
$$;
});
is(sql("SELECT stream_mode || ' ' || open_shard_count FROM kinesis.describe_stream_summary('od')"),
	'ON_DEMAND 4', 'an ON_DEMAND stream starts with 4 shards');

# --- steady load ---
my $load_start = sql("SELECT clock_timestamp()");
my $load = kg_pgbench($node, 'put', q{
SELECT count(*) FROM kinesis.put_records('od', ARRAY(SELECT md5(random()::text) FROM generate_series(1, 20)), ARRAY(SELECT '\x00'::bytea FROM generate_series(1, 20)));
}, clients => 2, rate => 100, seconds => $LOAD_SECONDS);
ok(kg_wait($node, "SELECT count(*) > 0 FROM kinesis.scaling_actions WHERE stream_name = 'od' AND action = 'SPLIT'", undef, undef, within => $LOAD_SECONDS),
	'a SPLIT is recorded in kinesis.scaling_actions under load');
kg_finish($load);
my $load_end = sql("SELECT clock_timestamp()");
my $processed = kg_transactions($load);
my ($failed) = ${ $load->{out} } =~ /number of failed transactions: (\d+)/;
my $err = ${ $load->{err} };
note("pgbench: $processed transactions" . ($err ? "; stderr: $err" : ''));
ok(defined $processed && $processed > 0, 'the load ran');
is($failed // 0, 0, 'no put failed under the load');

my $after_load = sql("SELECT open_shard_count FROM kinesis.describe_stream_summary('od')");
note("open shards at the end of the load: $after_load");
cmp_ok($after_load, '>', 4, 'the open shard count grew under the load');
like(slurp_file($node->logfile), qr/kinesis_glue on-demand scaling: SPLIT shardId-\d{12} of stream "od"/,
	'the SPLIT is in the server log');
my $actions = sql("SELECT string_agg(action || ' ' || shards, '; ' ORDER BY action_id) FROM kinesis.scaling_actions");
note("actions under load: $actions");
is(sql("SELECT count(*) FROM kinesis.scaling_actions WHERE stream_name = 'od' AND action = 'MERGE'
         AND created_at <= '$load_end'"), 0, 'no MERGE under the steady load');
my ($n_load, $min_gap) = split /\|/, sql("SELECT count(*), coalesce(min(gap), 999)
     FROM (SELECT extract(epoch FROM created_at - lag(created_at) OVER (ORDER BY action_id)) AS gap
             FROM kinesis.scaling_actions WHERE stream_name = 'od' AND created_at <= '$load_end') x");
note("actions during the load: $n_load, smallest gap between two: $min_gap s");
cmp_ok($min_gap, '>=', $COOLDOWN - 0.1, 'actions are at least the cooldown apart (no flapping)');
cmp_ok($n_load, '<=', int($LOAD_SECONDS / $COOLDOWN) + 1, 'at most one action per cooldown during the load');
is(sql("SELECT tiling_errors('od')"), 0, 'after the splits the open shards tile the key space');

# --- the load stops: merges back to the minimum ---
ok(kg_wait($node, "SELECT open_shard_count = 4 FROM kinesis.describe_stream_summary('od')"),
	'after the load stops, merges bring the stream back to 4 open shards');
ok(kg_wait($node, "SELECT count(*) > 0 FROM kinesis.scaling_actions WHERE stream_name = 'od' AND action = 'MERGE'", undef, undef, within => 5),
	'MERGE actions are recorded');
like(slurp_file($node->logfile),
	qr/kinesis_glue on-demand scaling: MERGE shardId-\d{12} and shardId-\d{12} of stream "od"/,
	'the MERGE is in the server log');
my $n_actions = sql("SELECT count(*) FROM kinesis.scaling_actions WHERE stream_name = 'od'");
sleep(3 * $COOLDOWN);
is(sql("SELECT count(*) FROM kinesis.scaling_actions WHERE stream_name = 'od'"), $n_actions,
	'at the minimum the scaler stays quiet');
is(sql("SELECT open_shard_count FROM kinesis.describe_stream_summary('od')"), 4, 'and the stream keeps 4 open shards');
note("all actions: " . sql("SELECT string_agg(action || ' ' || shards, '; ' ORDER BY action_id) FROM kinesis.scaling_actions"));
is(sql("SELECT phantom_actions('od')"), 0, 'every recorded action shows in list_shards');
is(sql("SELECT tiling_errors('od')"), 0, 'after the merges the open shards tile the key space');
my ($gap_merge) = sql("SELECT coalesce(min(gap), 999)
     FROM (SELECT extract(epoch FROM created_at - lag(created_at) OVER (ORDER BY action_id)) AS gap
             FROM kinesis.scaling_actions WHERE stream_name = 'od') x");
cmp_ok($gap_merge, '>=', $COOLDOWN - 0.1, 'all actions are at least the cooldown apart');

# every record put is readable, parents before children
my $records = sql("SELECT sum(count_shard('od', shard_id)) FROM kinesis.list_shards('od')");
is($records, $processed * 20, 'every record the load put is readable');

$node->stop;
done_testing();
