
# One stream's shards across three kinesis_glue nodes, routed with PL/Proxy
# (issue 18, item 2): extension kinesis_glue_cluster, schema kinesis_cluster.
#
# Three nodes with kinesis_glue and a proxy node (PL/Proxy only) on one
# machine.  kinesis_cluster.configure() places the nodes; a 6-shard stream
# gets 2 shards on each node.  Checked:
#   - list_streams / list_shards / describe_stream_summary merge all nodes;
#     cluster shard ids are unique and the hash key ranges tile 0 .. 2^128-1;
#   - put_records batches spanning all nodes return results in input order,
#     each record on the shard whose range holds its hash key (MD5 as in
#     kinesis: the same shard as put_record with that explicit key);
#   - readers on every shard (get_shard_iterator + get_records through the
#     proxy) read every record exactly once, in increasing sequence order;
#   - split_shard on a node, merge_shards across nodes refused;
#   - with one node stopped, put_records gives per-record InternalFailure
#     for that node's records only, the other records are in (exactly once,
#     though the parallel call failed and the parts were sent again), reads
#     of other nodes' shards work, and listing warns and leaves its shards
#     out; after restart the node works again.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KgTest;

# PL/Proxy (Debian postgresql-15-plproxy, in test/harness/lib.sh KG_PACKAGES) must be in the
# PostgreSQL under test; a relocated copy needs plproxy.so and plproxy* copied in (README).
my ($proxy, @nodes) = kg_cluster('cl', 3, set => { 'kinesis_glue.launcher_naptime' => undef });

sub px
{
	my ($sql) = @_;
	return $proxy->safe_psql('postgres', "SET ROLE app; $sql");
}

my ($rc, $out, $err);

sub px_err
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $proxy->psql('postgres', "SET ROLE app; $sql");
	return ($rc, $out, $err);
}

px("SELECT kinesis_cluster.create_stream('big', 6)");
is(px("SELECT string_agg(stream_name || ':' || stream_status, ',') FROM kinesis_cluster.list_streams()"),
	'big:ACTIVE', 'list_streams merges the nodes');
for my $i (0 .. 2)
{
	is($nodes[$i]->safe_psql('postgres',
			"SELECT count(*) || ':' || pg_get_userbyid(owner::oid) FROM kinesis.shards JOIN kinesis.streams USING (stream_id) WHERE stream_name = 'big' GROUP BY owner"),
		'2:app', "node $i holds 2 shards of the stream, owned by the calling role");
}
is(px("SELECT open_shard_count || ':' || node_count || ':' || unreachable_nodes FROM kinesis_cluster.describe_stream_summary('big')"),
	'6:3:0', 'describe_stream_summary adds up the nodes');
my @shards = split /\n/, px("SELECT shard_id FROM kinesis_cluster.list_shards('big') ORDER BY starting_hash_key");
is(scalar(@shards), 6, 'list_shards: six shards');
is(px(q{SELECT count(DISTINCT shard_id) = 6
           AND min(starting_hash_key) = 0 AND max(ending_hash_key) = 2::numeric ^ 128 - 1
           AND bool_and(starting_hash_key = coalesce(prev_end + 1, 0))
          FROM (SELECT shard_id, starting_hash_key, ending_hash_key,
                       lag(ending_hash_key) OVER (ORDER BY starting_hash_key) AS prev_end
                  FROM kinesis_cluster.list_shards('big')) x}),
	't', 'cluster shard ids are unique and their hash key ranges tile the key space');

# --- put_records spanning all nodes: input order, right shard per hash key ---
my $batch = "ARRAY(SELECT 'key-' || g FROM generate_series(1, 300) g ORDER BY g),
             ARRAY(SELECT convert_to('rec-' || g, 'UTF8') FROM generate_series(1, 300) g ORDER BY g)";
is(px(qq{SELECT count(*) || ':' || count(DISTINCT substr(shard_id, 9, 3)) || ':' || count(error_code)
           FROM kinesis_cluster.put_records('big', $batch)}),
	'300:3:0', 'put_records of 300 records spans the three nodes without errors');
is(px(qq{WITH r AS (SELECT * FROM kinesis_cluster.put_records('big',
                      ARRAY['a', 'b', 'c', 'd', 'e', 'f'], ARRAY['\\x01', '\\x02', '\\x03', '\\x04', '\\x05', '\\x06']::bytea[])
                    WITH ORDINALITY AS t(shard_id, sequence_number, error_code, error_message, o)),
              s AS (SELECT * FROM kinesis_cluster.list_shards('big'))
         SELECT bool_and(s.shard_id = r.shard_id)
           FROM r JOIN LATERAL (SELECT shard_id FROM s
                                 WHERE kinesis_cluster.hash_key((ARRAY['a', 'b', 'c', 'd', 'e', 'f'])[r.o])
                                       BETWEEN s.starting_hash_key AND s.ending_hash_key) s ON true}),
	't', 'each record lands on the shard whose cluster range holds its MD5 hash key');
is(px(q{SELECT bool_and((SELECT shard_id FROM kinesis_cluster.put_record('big', 'x', '\x00', kinesis_cluster.hash_key(k)))
                         = (SELECT shard_id FROM kinesis_cluster.put_record('big', k, '\x00')))
          FROM unnest(ARRAY['k1', 'k2', 'k3', 'k4', 'k5']) k}),
	't', 'put_record with a partition key goes where its MD5 hash key as explicit key goes');
is($nodes[0]->safe_psql('postgres', q{SELECT kinesis_cluster.hash_key('k1') = r.h
    FROM (SELECT ('x' || md5('k1'))::bit(128) AS b) x,
         LATERAL (SELECT sum(get_bit(x.b, 127 - i)::numeric * 2::numeric ^ i)::numeric(39,0) AS h FROM generate_series(0, 127) i) r}),
	't', 'hash_key is MD5 read as a big-endian 128-bit integer');

# a node applies a batch once: sent again (as after a failed parallel call) it returns the
# stored results and puts nothing.  The section comes from the proxy's packing (records 2 and 4
# of this batch have explicit hash keys on node 0, records 1 and 3 around 2^127 on node 1).
my $section = px(q{SELECT part FROM kinesis_cluster._pack('big', ARRAY['h', 'i', 'k', 'j'],
    ARRAY['\x00', '\x01', '\x00', '\x02']::bytea[], ARRAY[170141183460469231731687303715884105738, 1, 170141183460469231731687303715884105739, 2]) WHERE node = 0});
my $again = qq{SELECT string_agg(ord || '/' || sequence_number, ',' ORDER BY ord) FROM kinesis_node.put_records(
    '7b0c6a52-0f6e-4c57-9a53-6a4f1b0e9d11', 'big', true, '$section', ARRAY[0], ARRAY[length('$section')])};
my $first = $nodes[0]->safe_psql('postgres', "SET ROLE app; $again");
is($nodes[0]->safe_psql('postgres', "SET ROLE app; $again"), $first, 'a batch sent twice to a node returns the same results');
is($nodes[0]->safe_psql('postgres', q{SELECT count(*) FROM kinesis.read_shard('big', 'shardId-000000000000', NULL, 10000) WHERE partition_key IN ('i', 'j')}),
	2, 'and its records are in once');
like($first, qr{^2/\d+,4/\d+$}, 'the results carry the proxy\'s input positions');
(my $first_send = $again) =~ s/'big', true,/'big', false,/;
($rc, $out, $err) = $nodes[0]->psql('postgres', "SET ROLE app; $first_send");
like($err, qr/duplicate key value violates unique constraint "put_batches_pkey"/,
	'the same batch sent as a first send fails on the memo instead of putting again');
is($nodes[0]->safe_psql('postgres', q{SELECT count(*) FROM kinesis.read_shard('big', 'shardId-000000000000', NULL, 10000) WHERE partition_key IN ('i', 'j')}),
	2, 'and puts nothing');
($rc, $out, $err) = $nodes[0]->psql('postgres', "SET ROLE app; SELECT * FROM kinesis_node.put_records(gen_random_uuid(), 'big', false, '$section', ARRAY[4], ARRAY[length('$section')])");
like($err, qr/section 1 of a cluster batch lies outside the text/, 'a node refuses a section slice past the end of the text');
($rc, $out, $err) = $nodes[0]->psql('postgres', q{SET ROLE app; SELECT * FROM kinesis_node.put_records(gen_random_uuid(), 'big', true, '0102030405060708', ARRAY[0], ARRAY[16])});
like($err, qr/ValidationException: not a section of a kinesis_cluster batch/, 'a node refuses bytes that are not a section');
($rc, $out, $err) = $nodes[0]->psql('postgres', q{SET ROLE app; SELECT * FROM kinesis_node.put_records(gen_random_uuid(), 'big', true, '01020304zz060708', ARRAY[0], ARRAY[16])});
like($err, qr/section 1 of a cluster batch is not hex/, 'a node refuses a section that is not hex');
($rc, $out, $err) = px_err(q{SELECT * FROM kinesis_cluster.put_records('big', ARRAY['a', 'b'], ARRAY['\x01', NULL]::bytea[])});
like($err, qr/ValidationException: data must not be null \(record 2\)/, 'a null data is refused on the proxy, naming its position in the batch');
($rc, $out, $err) = $nodes[0]->psql('postgres', 'SET ROLE app; SELECT count(*) FROM kinesis_node.put_batches');
like($err, qr/permission denied/, 'the batch memory is not readable by users');

# --- readers on every shard through the proxy ---
sub read_shard_all
{
	my ($shard) = @_;
	my $it = px("SELECT kinesis_cluster.get_shard_iterator('big', '$shard', 'TRIM_HORIZON')");
	my @seqs;
	my @data;
	for (1 .. 50)
	{
		my $res = px(qq{SELECT g.next_shard_iterator || coalesce((SELECT string_agg(E'\\n' || r.sequence_number || ' ' || r.s || ' '
		                  || encode(r.data, 'escape'), '' ORDER BY o)
		                  FROM unnest(g.records) WITH ORDINALITY AS r(s, sequence_number, a, pk, data, o)), '')
		                  FROM kinesis_cluster.get_records('$it', 100) g});
		my @l = split /\n/, $res;
		$it = shift @l;
		last unless @l;
		for (@l)
		{
			my ($seq, $sid, $d) = split / /, $_, 3;
			die "record of shard $sid read from $shard" if $sid ne $shard;
			push @seqs, $seq;
			push @data, $d;
		}
	}
	return (\@seqs, \@data);
}
my %seen;
my $ordered = 1;
for my $sh (@shards)
{
	my ($seqs, $data) = read_shard_all($sh);
	for my $i (1 .. $#$seqs)
	{
		$ordered = 0 if $seqs->[$i] <= $seqs->[ $i - 1 ];
	}
	$seen{$_}++ for grep { /^rec-/ } @$data;
}
ok($ordered, 'every shard reads in strictly increasing sequence order through the proxy');
is(scalar(keys %seen) . ':' . scalar(grep { $seen{$_} != 1 } keys %seen), '300:0',
	'readers on the six shards read each of the 300 records exactly once');

# --- split on a node; merges across nodes refused ---
my ($lo, $hi) = split /\|/, px("SELECT starting_hash_key, ending_hash_key FROM kinesis_cluster.list_shards('big') WHERE shard_id = '$shards[0]'");
px("SELECT kinesis_cluster.split_shard('big', '$shards[0]', (${lo}::numeric + ${hi}::numeric + 1) / 2)");
is(px(q{SELECT count(*) FILTER (WHERE ending_sequence_number IS NULL) || ':' || count(*) FROM kinesis_cluster.list_shards('big')}),
	'7:8', 'split_shard: the parent closes and two children open on the same node');
is(px("SELECT string_agg(starting_hash_key::text, ',' ORDER BY starting_hash_key) FROM kinesis_cluster.list_shards('big')
        WHERE parent_shard_id = '$shards[0]'"),
	"$lo," . px("SELECT ((${lo}::numeric + ${hi}::numeric + 1) / 2)::numeric(39,0)"),
	'the children cover the parent range, split at the cluster key given');
my $it0 = px("SELECT kinesis_cluster.get_shard_iterator('big', '$shards[0]', 'TRIM_HORIZON')");
my $children;
for (1 .. 20)
{
	my ($next, $kids) = split /\|/, px("SELECT next_shard_iterator, array_to_string(child_shards, ',') FROM kinesis_cluster.get_records('$it0', 10000)");
	if (!defined $next || $next eq '')
	{
		$children = join(',', sort split /,/, $kids // '');
		last;
	}
	$it0 = $next;
}
is($children, px("SELECT string_agg(shard_id, ',' ORDER BY shard_id) FROM kinesis_cluster.list_shards('big') WHERE parent_shard_id = '$shards[0]'"),
	'reading the closed parent to its end names its children by cluster shard id');
($rc, $out, $err) = px_err("SELECT kinesis_cluster.merge_shards('big', '$shards[1]', '$shards[2]')");
like($err, qr/live on different nodes/, 'merge_shards across nodes is refused');

# --- one node stopped: only its records fail, per record ---
$nodes[1]->stop;
my $res = px(qq{SELECT count(*) FILTER (WHERE error_code IS NULL) || ':' ||
                       count(*) FILTER (WHERE error_code = 'InternalFailure' AND error_message LIKE 'node 1 (node1) is unreachable%') || ':' ||
                       count(*) FILTER (WHERE error_code IS NULL AND substr(shard_id, 9, 3) = '001')
                  FROM kinesis_cluster.put_records('big',
                       ARRAY(SELECT 'down-' || g FROM generate_series(1, 90) g ORDER BY g),
                       ARRAY(SELECT convert_to('down-' || g, 'UTF8') FROM generate_series(1, 90) g ORDER BY g))});
my ($ok, $failed, $on_down) = split /:/, $res;
ok($ok > 0 && $failed > 0 && $ok + $failed == 90 && $on_down == 0,
	"with node 1 down: $ok records in, $failed with InternalFailure naming node 1");
my $landed = 0;
$landed += $nodes[$_]->safe_psql('postgres',
	"SELECT count(*) FROM kinesis.list_shards('big') s, LATERAL kinesis.read_shard('big', s.shard_id, NULL, 10000) r
	  WHERE encode(r.data, 'escape') LIKE 'down-%'") for (0, 2);
is($landed, $ok, 'the records reported in are on the live nodes exactly once (the parts were resent without duplicates)');
($rc, $out, $err) = px_err("SELECT count(*) FROM kinesis_cluster.list_shards('big')");
is($out, 6, 'list_shards leaves the stopped node\'s shards out (8 shards after the split, 2 on node 1)');
like($err, qr/WARNING:.*node 1 \(node1\) is unreachable/, 'and warns which node is unreachable');
my $live = (grep { substr($_, 8, 3) eq '002' } @shards)[0];
my ($seqs) = read_shard_all($live);
ok(scalar(@$seqs) > 0, "shard $live on a live node still reads");
($rc, $out, $err) = px_err("SELECT kinesis_cluster.get_shard_iterator('big', '$shards[2]', 'TRIM_HORIZON')");
isnt($rc, 0, 'a shard of the stopped node fails to read');
$nodes[1]->start;
is(px(q{SELECT count(error_code) FROM kinesis_cluster.put_records('big', ARRAY['p', 'q', 'r', 's'], ARRAY['\x01', '\x02', '\x03', '\x04']::bytea[])}),
	0, 'after the node is back, puts work everywhere');

px("SELECT kinesis_cluster.delete_stream('big')");
is(px("SELECT count(*) FROM kinesis_cluster.list_streams()"), 0, 'delete_stream removes the stream from every node');

$_->stop for ($proxy, @nodes);
done_testing();
