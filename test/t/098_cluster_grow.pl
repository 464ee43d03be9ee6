
# Growing a kinesis_cluster without moving data (issue 18, item 3): a fourth
# node added to a running three-node cluster and a hot shard split onto it
# while producers put through the proxy.  Checked:
#   - add_node, split_shard_to_node: the parent closes on node 0, two
#     children covering its range open on node 3 with sequence numbers above
#     the parent's; shard ids unique across the cluster; list_shards merged
#     (children name their parent on the other node);
#   - readers through the proxy read every record exactly once, and for
#     every partition key in the order it was put, across parent and
#     children; get_records at the parent's end names the children on node 3;
#   - puts for the moved range land on node 3 (routed by the placement
#     catalog in C), a direct put for it on node 0 is refused;
#   - rights and errors: split_shard_to_node is a superuser's, onto an added
#     node only; kinesis.close_shard / open_shards check ownership, overlap;
#     update_shard_count refuses a stream with a handed-off range; only a
#     superuser deletes a stream with placements.

use strict;
use warnings;

use KgTest;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my ($proxy, @nodes) = kg_cluster('gr', 3);

sub px
{
	my ($sql) = @_;
	return $proxy->safe_psql('postgres', "SET ROLE app; $sql");
}

sub px_err
{
	my ($sql, $as_app) = @_;
	my ($rc, $out, $err) = $proxy->psql('postgres', ($as_app // 1 ? 'SET ROLE app; ' : '') . $sql);
	return $err;
}

px("SELECT kinesis_cluster.create_stream('hot', 3)");
my ($parent, $lo, $hi) = split /\|/,
  px("SELECT shard_id, starting_hash_key, ending_hash_key FROM kinesis_cluster.list_shards('hot') WHERE node_name = 'node0'");
is($parent, 'shardId-000000000000', 'node 0 holds one shard of the three');
my $mid = px("SELECT ((${lo}::numeric + ${hi}::numeric + 1) / 2)::numeric(39,0)");

# --- a fourth node joins the running cluster ---
my $new = kg_cluster_node('gr_node3');
is($proxy->safe_psql('postgres', "SELECT kinesis_cluster.add_node('node3', '" . kg_conninfo($new) . "')"), 3, 'add_node: node id 3');
like(px_err("SELECT kinesis_cluster.add_node('node4', 'host=x')"), qr/permission denied/, 'add_node is a superuser\'s');
is(px("SELECT count(*) FROM kinesis_cluster.list_shards('hot')"), 3, 'a new node holds nothing until a shard is split onto it');

# --- producers through the proxy: 4 clients, each its own 20 partition keys; the data says
# the client's put order (a proxy sequence, increasing per client) ---
$proxy->safe_psql('postgres', 'CREATE SEQUENCE put_no; GRANT USAGE ON SEQUENCE put_no TO app');
my $script = "$PostgreSQL::Test::Utils::tmp_check/grow_put.sql";
append_to_file($script,
	"SELECT count(*) FROM (SELECT nextval('put_no') AS n) s, LATERAL kinesis_cluster.put_records('hot',
	   ARRAY(SELECT 'c' || :client_id || '-' || g FROM generate_series(1, 20) g ORDER BY g),
	   ARRAY(SELECT convert_to(:client_id || ' ' || s.n || ' ' || g, 'UTF8') FROM generate_series(1, 20) g ORDER BY g)) r
	  WHERE r.error_code IS NULL;\n");
my ($pout, $perr) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-h', $proxy->host, '-p', $proxy->port, '-U', 'app', '-c', '4', '-j', '4', '-T', '8',
		'-f', $script, 'postgres' ],
	'>', \$pout, '2>', \$perr);
sleep 3;

# --- split the hot shard onto the new node while they run ---
like(px_err("SELECT kinesis_cluster.split_shard_to_node('hot', '$parent', $mid, 'node3')"),
	qr/permission denied/, 'split_shard_to_node is a superuser\'s');
like(px_err("SELECT kinesis_cluster.split_shard_to_node('hot', '$parent', $mid, 'node1')", 0),
	qr/split onto a node added by add_node/, 'only onto a node added by add_node');
my $children = $proxy->safe_psql('postgres', "SELECT array_to_string(kinesis_cluster.split_shard_to_node('hot', '$parent', $mid, 'node3'), ',')");
ok($pgbench->pumpable, 'the split ran while the producers were putting');
is($children, 'shardId-003000000000,shardId-003000000001', 'the children are shards of node 3 with cluster-unique ids');
$pgbench->finish;
is($?, 0, 'every producer call succeeded during the split') or diag($perr);
like(px_err("SELECT kinesis_cluster.split_shard_to_node('hot', '$parent', $mid, 'node3')", 0),
	qr/already been split onto another node/, 'a parent is split onto a node once');

my $total = $proxy->safe_psql('postgres', 'SELECT last_value * 20 FROM put_no');
ok($total > 0, "producers put $total records");

# --- the layout after the split ---
my %sh = map { my @f = split /\|/; $f[0] => \@f } split /\n/,
  px("SELECT shard_id, parent_shard_id, starting_hash_key, ending_hash_key, starting_sequence_number,
             ending_sequence_number, node_name FROM kinesis_cluster.list_shards('hot')");
is(scalar(keys %sh), 5, 'list_shards: 3 shards, the parent among them, plus 2 children');
ok(defined $sh{$parent}[5] && $sh{$parent}[5] ne '', 'the parent is closed on node 0');
my @kids = split /,/, $children;
is(join(',', map { $sh{$_}[6] . ':' . $sh{$_}[1] } @kids), "node3:$parent,node3:$parent",
	'the children live on node 3 and name their parent on node 0');
my $mid1 = px("SELECT $mid - 1");
is(join(',', map { $sh{$_}[2] . '-' . $sh{$_}[3] } @kids), "$lo-$mid1,$mid-$hi",
	'the children cover the parent\'s hash key range, split at the key given');
ok((grep { $sh{$_}[4] > $sh{$parent}[5] } @kids) == 2,
	"the children's sequence numbers start above the parent's ending one ($sh{$parent}[5])");

# --- readers: every shard through the proxy, parent then children ---
sub read_all
{
	my ($shard) = @_;
	my $it = px("SELECT kinesis_cluster.get_shard_iterator('hot', '$shard', 'TRIM_HORIZON')");
	my (@recs, $kids);
	for (1 .. 1000)
	{
		my $res = px(qq{SELECT coalesce(g.next_shard_iterator, '-') || ' ' || coalesce(array_to_string(g.child_shards, ','), '-')
		                  || coalesce((SELECT string_agg(E'\\n' || r.sequence_number || ' ' || r.pk || ' ' || encode(r.data, 'escape'), '' ORDER BY o)
		                  FROM unnest(g.records) WITH ORDINALITY AS r(s, sequence_number, a, pk, data, o)), '')
		                  FROM kinesis_cluster.get_records('$it', 1000) g});
		my @l = split /\n/, $res;
		($it, $kids) = split / /, shift @l;
		push @recs, @l;
		last if $it eq '-' || !@l;
	}
	return (\@recs, $kids);
}
my %by_key;
my %seen;
my %from;
my $ordered = 1;
my $parent_kids;
my %first = map { $_ => 1 } ($parent, @kids);
for my $s ($parent, @kids, grep { !$first{$_} } sort keys %sh)
{
	my ($recs, $k) = read_all($s);
	$parent_kids = $k if $s eq $parent;
	$from{$s} = scalar(@$recs);
	my $last = -1;
	for (@$recs)
	{
		my ($seq, $pk, $client, $n, $g) = split / /;
		$ordered = 0 if $seq <= $last;
		$last = $seq;
		$seen{"$client $n $g"}++;
		push @{ $by_key{$pk} }, $n;
	}
}
ok($from{$parent} > 0 && $from{ $kids[0] } + $from{ $kids[1] } > 0,
	"producers' records are in the parent ($from{$parent}) and in the children (" . ($from{ $kids[0] } + $from{ $kids[1] }) . ')');
is($parent_kids, $children, 'get_records at the parent\'s end names the children on node 3');
ok($ordered, 'each shard reads in increasing sequence order');
is(scalar(keys %seen) . ':' . scalar(grep { $seen{$_} != 1 } keys %seen), "$total:0",
	'readers see every record exactly once across parent and children');
my $in_order = 1;
for my $k (keys %by_key)
{
	my $v = $by_key{$k};
	for my $i (1 .. $#$v) { $in_order = 0 if $v->[$i] <= $v->[ $i - 1 ] }
}
ok($in_order, 'for every partition key, parent then child read in put order');
ok((grep { $by_key{$_} && 1 } keys %by_key) == 80, '80 partition keys');

# --- puts for the moved range land on node 3 ---
my @put = split /\n/, px(qq{SELECT shard_id || ' ' || sequence_number FROM kinesis_cluster.put_records('hot',
          ARRAY['a', 'b', 'c'], ARRAY['\\x01', '\\x02', '\\x03']::bytea[], ARRAY[$lo, $mid, $hi]::numeric[])});
is(join(',', map { substr($_, 8, 3) } @put), '003,003,003', 'puts for the parent\'s range now land on node 3');
is(join(',', map {
			my ($sid, $seq) = split / /;
			$new->safe_psql('postgres', "SELECT partition_key FROM kinesis.read_shard('hot', 'shardId-' || lpad((" . substr($sid, 11) . ")::text, 12, '0'), $seq - 65536, 1)")   # after the counter before, same shard
		} @put),
	'a,b,c', 'and are stored there');
is(px("SELECT count(*) FROM kinesis_cluster.put_records('hot', ARRAY(SELECT 'z' || g FROM generate_series(1, 200) g), ARRAY(SELECT '\\x00'::bytea FROM generate_series(1, 200)))
        WHERE substr(shard_id, 9, 3) = '000'"), 0, 'no put goes to the closed parent on node 0');
is(px("SELECT count(*) FROM kinesis_cluster.put_records('hot', ARRAY['x'], ARRAY['\\x00'::bytea], ARRAY[$mid]) p
        WHERE p.shard_id = (SELECT shard_id FROM kinesis_cluster.list_shards('hot') s WHERE $mid BETWEEN s.starting_hash_key AND s.ending_hash_key AND s.ending_sequence_number IS NULL)"),
	1, 'the key lands in the open child whose range holds it');

# --- a split that failed half-way (parent closed, children opened, no placement) is completed
# by running it again: the parent is not closed twice, the children are reused ---
my ($p2, $lo2, $hi2) = split /\|/,
  px("SELECT shard_id, starting_hash_key, ending_hash_key FROM kinesis_cluster.list_shards('hot') WHERE node_name = 'node1'");
my $mid2 = px("SELECT ((${lo2}::numeric + ${hi2}::numeric + 1) / 2)::numeric(39,0)");
my $end2 = $nodes[1]->safe_psql('postgres', "SET ROLE app; SELECT kinesis.close_shard('hot', 'shardId-000000000000')");
$new->safe_psql('postgres', "SET ROLE app; SELECT * FROM kinesis.open_shards('hot', ARRAY[$lo2, $mid2], ARRAY[$mid2 - 1, $hi2], $end2)");
is($proxy->safe_psql('postgres', "SELECT array_to_string(kinesis_cluster.split_shard_to_node('hot', '$p2', $mid2, 'node3'), ',')"),
	'shardId-003000000002,shardId-003000000003', 'a split run again after failing half-way reuses the closed parent and the opened children');
is(px(qq{SELECT string_agg(DISTINCT shard_id, ',') FROM kinesis_cluster.put_records('hot', ARRAY['a', 'b'],
          ARRAY['\\x01', '\\x02']::bytea[], ARRAY[$lo2, $hi2]::numeric[])}),
	'shardId-003000000002,shardId-003000000003', 'and puts for that range go to them');

# --- node side: rights and errors ---
like((($nodes[0]->psql('postgres', "SET ROLE app; SELECT kinesis.put_record('hot', 'x', '\\x00', $lo)"))[2]),
	qr/InvalidArgumentException: no open shard of stream "hot" on this server covers hash key/, 'a direct put for the moved range on node 0 is refused');
$nodes[0]->safe_psql('postgres', 'CREATE ROLE other');
like((($nodes[0]->psql('postgres', "SET ROLE other; SELECT kinesis.close_shard('hot', 'shardId-000000000002')"))[2]),
	qr/AccessDeniedException: must be owner/, 'close_shard needs the stream\'s owner');
like((($new->psql('postgres', "SET ROLE app; SELECT * FROM kinesis.open_shards('hot', ARRAY[$mid], ARRAY[$hi])"))[2]),
	qr/InvalidArgumentException: range 1 overlaps open shard/, 'open_shards refuses a range an open shard covers');
like((($nodes[0]->psql('postgres', "SET ROLE app; SELECT kinesis.update_shard_count('hot', 2)"))[2]),
	qr/do not cover the hash key space on this server/, 'update_shard_count refuses a stream with a handed-off range');
is($new->safe_psql('postgres', "SELECT pg_get_userbyid(owner) FROM kinesis.streams WHERE stream_name = 'hot'"), 'app',
	'the new node\'s copy of the stream belongs to the stream\'s owner');

# --- deleting ---
like(px_err("SELECT kinesis_cluster.delete_stream('hot')"), qr/only a superuser can delete it/,
	'a stream with placements is deleted by a superuser');
$proxy->safe_psql('postgres', "SELECT kinesis_cluster.delete_stream('hot')");
is($proxy->safe_psql('postgres', "SELECT count(*) FROM kinesis_cluster.placements"), 0, 'delete_stream forgets the placements');
is($new->safe_psql('postgres', "SELECT count(*) FROM kinesis.streams"), 0, 'and removes the stream from the new node');

$_->stop for ($proxy, @nodes, $new);
done_testing();
