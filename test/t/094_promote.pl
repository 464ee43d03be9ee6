
# A hot standby made with pg_basebackup and promoted after its primary dies
# continues the streams (issue 16 item 2).  The standby replays the
# primary's puts (the worker does not run there: it starts when recovery
# ends); after the primary is killed (immediate stop: no shutdown
# checkpoint) and the standby promoted, the streams read back every
# record the primary committed, puts are numbered above all of them (also
# past the segments: the promoted worker creates new ones), and a consumer
# resumes from its checkpoint.  Reads on the standby before promotion are
# not tested: stream reads are not supported during recovery.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KgTest;

my $primary = kg_node(
	'primary',
	init => { allows_streaming => 1 },
	set => {
		max_worker_processes => undef,
		'kinesis_glue.launcher_naptime' => '100ms',
		'kinesis_glue.segment_records' => 1024
	});

$primary->safe_psql('postgres', q{
	CREATE ROLE app LOGIN;
	GRANT CREATE ON SCHEMA kinesis_records TO app;
	SET ROLE app;
	SELECT kinesis.create_stream('orders', 2);
	SELECT kinesis.register_stream_consumer('orders', 'billing');
});
kg_put_orders($primary, 'postgres', 1, 1000);
$primary->backup('base');    # pg_basebackup

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# more puts and a checkpointed consumer after the base backup: streamed
kg_put_orders($primary, 'postgres', 1001, 2500);
my $checkpointed = $primary->safe_psql('postgres', q{SET ROLE app;
	SELECT count(*) FROM (SELECT kinesis.checkpoint('orders', 'billing', shard_id, max(sequence_number))
	  FROM (SELECT * FROM kinesis.consume('orders', 'billing', 700)) c GROUP BY shard_id) x});
ok($checkpointed >= 1, 'the consumer checkpointed on the primary');
my $records = kg_orders_digest($primary, 'postgres');
my $max_seq = $primary->safe_psql('postgres', 'SELECT max(sequence_number) FROM kinesis_records.orders');
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'kinesis_glue%'}), 0,
	'no kinesis_glue worker runs on the standby');

$primary->stop('immediate');
$standby->promote;
is(kg_orders_digest($standby, 'postgres'), $records, 'the promoted standby has every committed record');
my $max_new = kg_put_orders($standby, 'postgres', 2501, 5000);
cmp_ok($max_new, '>', $max_seq, 'puts on the promoted standby are numbered above every record');
is($standby->safe_psql('postgres', q{SELECT count(*) = count(DISTINCT sequence_number) AND count(*) = 5000
	FROM kinesis_records.orders}), 't', 'no sequence number is used twice');
is(kg_read_count($standby, 'postgres', 2),
	5000, 'the stream reads back, old and new');
is($standby->safe_psql('postgres', q{SET ROLE app; SELECT count(*) FROM kinesis.consume('orders', 'billing', 10000)}),
	5000 - 700, 'the consumer resumes after its checkpoints');
ok(kg_wait_worker($standby), 'the worker runs after the promotion');
$standby->stop;
done_testing();
