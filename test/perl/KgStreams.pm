
# Helpers for the TAP tests that move a database (092_dump_restore,
# 093_pg_upgrade, 094_promote): put numbered records to the stream
# "orders" and take a digest of what it holds, to compare before and after.

package KgStreams;

use strict;
use warnings;

use Exporter 'import';
our @EXPORT = qw(put_orders records_digest read_count);

# Put records $from .. $to (partition key "k<n>", data {"n": <n>}) to
# "orders" as role app, in batches of 500 (the most put_records takes);
# returns the largest sequence number given.
sub put_orders
{
	my ($node, $db, $from, $to) = @_;
	return $node->safe_psql($db, "SET ROLE app; SELECT max(p.sequence_number) FROM generate_series($from, $to, 500) b,
		LATERAL kinesis.put_records('orders',
		ARRAY(SELECT 'k' || g FROM generate_series(b, least(b + 499, $to)) g),
		ARRAY(SELECT convert_to(jsonb_build_object('n', g)::text, 'UTF8') FROM generate_series(b, least(b + 499, $to)) g)) p");
}

# md5 and count of every record of "orders" (shard, sequence number, key, data).
sub records_digest
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{SELECT md5(string_agg(shard_index || '/' || sequence_number || '/' || partition_key
		|| '/' || encode(data, 'hex'), ',' ORDER BY sequence_number)) || ' ' || count(*) FROM kinesis_records.orders});
}

# How many records kinesis.read_shard returns from the first $shards shards of
# "orders" (up to 10000 a shard, the most it reads at once).
sub read_count
{
	my ($node, $db, $shards) = @_;
	my $n = 0;
	$n += $node->safe_psql($db, sprintf(q{SELECT count(*) FROM kinesis.read_shard('orders', 'shardId-%012d', NULL, 10000)}, $_))
	  for 0 .. $shards - 1;
	return $n;
}

1;
