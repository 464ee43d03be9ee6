
# Runner caps (issue 14, "How it is judged": one role's runners cannot take
# the slots another role or a new database needs).  085_runners.pl (b)
# covers one role's event source mappings against its per-role cap, with
# another role's job run and a new database's worker; this file fills the
# whole runner budget with delivery streams and mapping slots of several
# roles, so that what keeps the slots free is the budget itself:
#
#   max_worker_processes 12 = launcher + 1 database worker
#                             + kinesis_glue.reserved_worker_processes (2)
#                             + 8 runners
#
#   - role hog wants 6 runners (3 delivery streams, a mapping with 3
#     slots): 4 run (kinesis_glue.max_runners_per_role), 2 wait, with the
#     reason in kinesis_glue.runners and in the mapping's status;
#   - role other then wants 2 (delivery streams): both start;
#   - role third wants 4 (mapping slots): 2 start, the budget is full, 2 wait
#     with that reason;
#   - a database created afterwards still gets its worker (a reserved slot;
#     the other one holds PostgreSQL's logical replication launcher), and
#     its own runners wait.

use strict;
use warnings;

use KgTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = kg_node(
	'caps',
	extension => undef,
	set => {
		max_worker_processes => 12,
		'kinesis_glue.max_runners_per_role' => 4,
		'kinesis_glue.max_runners_per_database' => 16,
		'kinesis_glue.reserved_worker_processes' => 2
	});

sub sql { my ($q, $db) = @_; return kg_sql($node, $q, db => $db); }

# wait_for(QUERY, EXPECTED[, SECONDS]): kg_wait, bounded by SECONDS when given
sub wait_for
{
	my ($query, $expected, $secs) = @_;
	return kg_wait($node, $query, $expected, undef, defined $secs ? (within => $secs) : ());
}

# runners(ROLE, STATE): how many runners of ROLE's objects are in STATE
sub runners
{
	my ($role, $state) = @_;
	return "SELECT count(*) FROM kinesis_glue.runners WHERE owner = '$role'::regrole AND state = '$state'";
}

my $setup = q{
CREATE EXTENSION kinesis_glue;
GRANT CREATE ON SCHEMA public, kinesis_records TO hog, other, third;
};
sql(q{CREATE ROLE hog; CREATE ROLE other; CREATE ROLE third;} . $setup);

sql(q{
SET ROLE hog;
CREATE TABLE hog_out (data bytea);
SELECT firehose.create_delivery_stream('hog' || i, 'hog_out', record_format => 'bytea', data_column => 'data')
  FROM generate_series(1, 3) i;
SELECT kinesis.create_stream('hogs', 1);
CREATE FUNCTION noop(recs kinesis.record[]) RETURNS void LANGUAGE sql AS 'SELECT';
SELECT kinesis.create_event_source_mapping('hogs', 'noop', parallelization_factor => 3);
});
ok(wait_for(runners('hog', 'running'), 4), 'role hog runs kinesis_glue.max_runners_per_role (4) runners');
ok(wait_for(runners('hog', 'waiting'), 2), 'its other 2 wait');
is( sql(q{SELECT DISTINCT reason FROM kinesis_glue.runners WHERE owner = 'hog'::regrole AND state = 'waiting'}),
	'waiting for a runner slot: its owner has 4 runners (kinesis_glue.max_runners_per_role)',
	'kinesis_glue.runners says why they wait');

sql(q{
SET ROLE other;
CREATE TABLE other_out (data bytea);
SELECT firehose.create_delivery_stream('other' || i, 'other_out', record_format => 'bytea', data_column => 'data')
  FROM generate_series(1, 2) i;
});
ok(wait_for(runners('other', 'running'), 2), "another role's delivery streams get their runners");

sql(q{
SET ROLE third;
SELECT kinesis.create_stream('thirds', 1);
CREATE FUNCTION noop3(recs kinesis.record[]) RETURNS void LANGUAGE sql AS 'SELECT';
SELECT kinesis.create_event_source_mapping('thirds', 'noop3', parallelization_factor => 4);
});
ok(wait_for(runners('third', 'running'), 2), 'a third role gets what is left of the budget (2 runners)');
ok(wait_for(runners('third', 'waiting'), 2), 'its other 2 wait');
is( sql(q{SELECT DISTINCT reason FROM kinesis_glue.runners WHERE owner = 'third'::regrole AND state = 'waiting'}),
	'waiting for a runner slot: 8 runners use the background worker slots left after the launcher, '
	  . '1 database workers and kinesis_glue.reserved_worker_processes',
	'kinesis_glue.runners says the budget is full');
is( sql(q{SELECT DISTINCT waiting_reason FROM kinesis.event_source_mapping_status
          WHERE stream_name = 'thirds' AND waiting_reason IS NOT NULL}),
	'waiting for a runner slot: 8 runners use the background worker slots left after the launcher, '
	  . '1 database workers and kinesis_glue.reserved_worker_processes',
	'so does the mapping status view');
is(sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'kinesis_glue%'"),
	10, 'launcher, worker and 8 runners: the reserved slots are free');
is(sql(runners('hog', 'running')), 4, 'hog still runs 4');

# a new database gets its worker from the reserved slots
sql('CREATE DATABASE db2');
sql($setup, 'db2');
ok( wait_for(
		"SELECT count(*) FROM kinesis_glue.workers WHERE database = 'db2' AND pid IS NOT NULL", 1),
	'a database created afterwards gets its worker');
sql(q{
SET ROLE other;
CREATE TABLE other_out (data bytea);
SELECT firehose.create_delivery_stream('other-db2', 'other_out', record_format => 'bytea', data_column => 'data');
}, 'db2');
ok( wait_for(
		"SELECT state || ': ' || reason FROM kinesis_glue.runners WHERE database = 'db2'",
		'waiting: waiting for a runner slot: 8 runners use the background worker slots left after the launcher, '
		  . '2 database workers and kinesis_glue.reserved_worker_processes'),
	"the new database's runner waits rather than take a reserved slot");
is( sql("SELECT waiting_reason FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'other-db2'", 'db2'),
	'waiting for a runner slot: 8 runners use the background worker slots left after the launcher, '
	  . '2 database workers and kinesis_glue.reserved_worker_processes',
	"the delivery stream's metrics say why");
is(sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'kinesis_glue%'"),
	11, 'launcher, 2 workers and 8 runners (the 12th slot: the logical replication launcher)');

# the budget is now 7 (two database workers): freeing two slots makes room
# for one runner, and the oldest waiter that fits goes first: not hog's
# (its own cap), not db2's (younger), one of third's
sql("SET ROLE other; SELECT firehose.delete_delivery_stream('other' || i) FROM generate_series(1, 2) i");
ok(wait_for(runners('third', 'running'), 3), 'a slot freed by another role goes to the oldest waiter that fits');
is(sql("SELECT state FROM kinesis_glue.runners WHERE database = 'db2'"), 'waiting', "db2's younger request still waits");
is(sql(runners('hog', 'running')), 4, 'not to the role at its cap');

$node->stop;
done_testing();
