
# The wire gateway in front of a kinesis_glue_cluster (issue 18, item 3):
# with routing = cluster the gateway's database is the PL/Proxy proxy and the
# Data Streams operations kinesis_cluster offers run as kinesis_cluster.*.
#
# Three kinesis_glue nodes and a proxy (as 098_cluster.pl), a gateway with
# routing = cluster on the proxy and one with routing = local on node 0.
# test/gateway/cluster.test.mjs (AWS SDK for JavaScript v3, each node test
# one assertion here) creates a 6-shard stream spanning the nodes, puts one
# PutRecords batch spanning all of them (and explicit hash keys on each),
# lists every node's shards (paged), reads every shard back through
# GetShardIterator + GetRecords (exactly what was put, in order), splits a
# shard and follows it to its children, and checks that an operation
# kinesis_cluster does not route (RegisterStreamConsumer, tags, ...) answers
# InvalidArgumentException saying so; the local gateway still serves kinesis.*
# (consumers included) on its node; a gateway with auth = sigv4 on the proxy
# runs a signed request as the key's role, on the nodes too.  Here: every node applied part of the
# batches, and a bad routing value is refused.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KgTest;

my ($gateway, $tdir) = kg_gateway_program();
my ($proxy, @nodes) = kg_cluster('cgw', 3, set => { 'kinesis_glue.launcher_naptime' => undef });
my $tmp = PostgreSQL::Test::Utils::tempdir;
my @gateways;

END { kill 'TERM', @gateways if @gateways; }

# Start a gateway on $pg's database postgres with the settings; returns its port.
sub start_gateway
{
	my ($name, $pg, @settings) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $log = "$tmp/$name.log";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open STDOUT, '>>', $log or die;
		open STDERR, '>>', $log or die;
		exec $gateway, '-s', "listen=127.0.0.1:$port",
		  '-s', 'conninfo=host=' . $pg->host . ' port=' . $pg->port . ' dbname=postgres',
		  map { ('-s', $_) } @settings
		  or die "exec: $!";
	}
	push @gateways, $pid;
	kg_wait_port($port) or die "the $name gateway did not start: " . slurp_file($log);
	return ($port, $log);
}

# the setting is checked
my $check = `'$gateway' --check -s routing=everywhere 2>&1`;
isnt($? >> 8, 0, 'routing = everywhere is refused');
like($check, qr/routing must be local or cluster/, 'with the accepted values');
$check = `'$gateway' --check -s routing=cluster 2>&1`;
is($? >> 8, 0, 'routing = cluster passes --check') or diag($check);

# auth = sigv4 on the proxy: the access key table lives there, the key maps to role app, and
# PL/Proxy connects to the nodes as that role
my %key = (id => 'AKIACLUSTERAPP000001', secret => 'clustersecret' x 4);
$proxy->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $proxy->connstr('postgres'),
	'-f', "$tdir/../../gateway/kinesis_glue_gateway.sql" ], 'the access key table is created on the proxy');
$proxy->safe_psql('postgres', qq{
CREATE ROLE kg_gw_login LOGIN;
GRANT kinesis_gateway_reader, app TO kg_gw_login;
INSERT INTO kinesis_gateway.access_keys (access_key_id, secret_access_key, role_name)
VALUES ('$key{id}', '$key{secret}', 'app');
});

my ($cport, $clog) = start_gateway('cluster', $proxy, 'routing=cluster', 'auth=none', 'pool_size=2');
my ($sport) = start_gateway('signed', $proxy, 'routing=cluster', 'auth=sigv4', 'pool_size=1',
	'conninfo=host=' . $proxy->host . ' port=' . $proxy->port . ' dbname=postgres user=kg_gw_login');
my ($lport) = start_gateway('local', $nodes[0], 'routing=local', 'auth=none', 'pool_size=1');

my $npm_ok = kg_npm_ci($tdir, 'npm ci installs the pinned AWS SDK clients');
SKIP:
{
	skip 'npm ci failed', 1 unless $npm_ok;
	local $ENV{GW_CLUSTER} = "http://127.0.0.1:$cport";
	local $ENV{GW_LOCAL} = "http://127.0.0.1:$lport";
	local $ENV{GW_CLUSTER_SIGV4} = "http://127.0.0.1:$sport";
	local $ENV{GW_APP_KEY} = $key{id};
	local $ENV{GW_APP_SECRET} = $key{secret};
	kg_node_tests($tdir, 'cluster.test.mjs', 4);
}

# each node applied its part of the PutRecords batches (kinesis_node.put_batches keeps an
# applied batch an hour); the routing = local stream lives on node 0 only
for my $i (0 .. 2)
{
	is($nodes[$i]->safe_psql('postgres',
			"SELECT (SELECT count(*) > 0 FROM kinesis_node.put_batches) || ':' || "
			  . "(SELECT count(*) FROM kinesis.list_streams() WHERE stream_name = 'gw-local')"),
		$i == 0 ? 'true:1' : 'true:0', "node $i applied part of the gateway's batches; gw-local only on node 0");
}
# the stream made through the signed gateway belongs to the key's role on every node
for my $i (0 .. 2)
{
	is($nodes[$i]->safe_psql('postgres',
			"SELECT count(*) || ':' || pg_get_userbyid(owner::oid) FROM kinesis.shards JOIN kinesis.streams USING (stream_id) "
			  . "WHERE stream_name = 'gw-signed' GROUP BY owner"),
		'1:app', "node $i: the signed request's stream is owned by the key's role app");
}

# README "Scaling out": the catalog query a client can use to see which node takes a key
$proxy->safe_psql('postgres', "SELECT kinesis_cluster.create_stream('orders', 3)");
for my $key (qw(k1 k2 k3 k4 k5 k6))
{
	my $readme = $proxy->safe_psql('postgres', qq{
SELECT coalesce((SELECT n.node_name FROM kinesis_cluster.placements p JOIN kinesis_cluster.nodes n USING (node_id)
                  WHERE p.stream_name = 'orders' AND kinesis_cluster.hash_key('$key') BETWEEN p.starting_hash_key AND p.ending_hash_key
                  ORDER BY p.placement_id DESC LIMIT 1),
                (SELECT n.node_name FROM kinesis_cluster.nodes n
                  WHERE kinesis_cluster.hash_key('$key') BETWEEN n.starting_hash_key AND n.ending_hash_key))});
	my $put = $proxy->safe_psql('postgres',
		"SELECT 'node' || substr(shard_id, 9, 3)::integer FROM kinesis_cluster.put_record('orders', '$key', '\\x01')");
	is($readme, $put, "the README's catalog query names the node a put of $key went to");
}

like(slurp_file($clog), qr/PutRecords/, 'the cluster gateway logged its requests');

done_testing();
