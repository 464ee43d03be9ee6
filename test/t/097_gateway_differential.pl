# The differential test of the wire gateway (issue 17): the scenario
# test/gateway/scenario.mjs (AWS SDK for JavaScript v3 calls: streams, puts
# with explicit hash keys, the five iterator types, retention, consumers,
# split and merge, and their error paths) runs against kinesis_glue_gateway
# on a private cluster and against kinesis-local (kinesis-mock for node,
# pinned in test/gateway/package-lock.json), which this test starts and
# stops.  Each step's normalised answer must be the same, except the known
# differences below (listed in README.md, "Differences from kinesis-mock"),
# where kinesis-mock's answer is first rewritten into the AWS behaviour the
# gateway follows; a known difference that disappears fails too, so the
# README's table stays true.
# Skipped (skip_all) when node/npm or the gateway program are missing.

use strict;
use warnings;

use IO::Socket::INET;
use JSON::PP;
use KgTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my ($gateway, $tdir) = kg_gateway_program();
my $tmp = PostgreSQL::Test::Utils::tempdir;
kg_npm_ci($tdir, 'npm ci installs the pinned clients and kinesis-local');

my $node = kg_node('differential');

my @pids;
END { kill 'TERM', @pids if @pids; }

# Start a program (environment %$env) with output to $log; wait for $port.
sub start_server
{
	my ($port, $log, $env, @cmd) = @_;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		@ENV{ keys %$env } = values %$env;
		open STDOUT, '>>', $log or die;
		open STDERR, '>>', $log or die;
		exec @cmd or die "exec: $!";
	}
	push @pids, $pid;
	my $deadline = time() + 60;
	while (time() < $deadline)
	{
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1);
		if ($s) { close $s; return $pid; }
		usleep(100_000);
	}
	die "$cmd[0] did not listen on $port: " . slurp_file($log);
}

my $gw_port = PostgreSQL::Test::Cluster::get_free_port();
my ($host, $pgport) = ($node->host, $node->port);
start_server($gw_port, "$tmp/gateway.log", {}, $gateway, '-s', "listen=127.0.0.1:$gw_port",
	'-s', "conninfo=host=$host port=$pgport dbname=postgres", '-s', 'auth=none', '-s', 'pool_size=2');

# kinesis-local: plain HTTP on one port, its TLS port unused; state changes
# (CREATING -> ACTIVE and so on) take 50 ms instead of 500
my ($mock_port, $mock_tls) =
  (PostgreSQL::Test::Cluster::get_free_port(), PostgreSQL::Test::Cluster::get_free_port());
my $mock_dir = "$tdir/node_modules/kinesis-local";
start_server($mock_port, "$tmp/kinesis-local.log", {
		KINESIS_MOCK_PLAIN_PORT => $mock_port, KINESIS_MOCK_TLS_PORT => $mock_tls,
		KINESIS_MOCK_CERT_PATH => "$mock_dir/server.json", LOG_LEVEL => 'ERROR',
		map { ($_ . '_DURATION') => '50ms' } qw(CREATE_STREAM DELETE_STREAM REGISTER_STREAM_CONSUMER
		  DEREGISTER_STREAM_CONSUMER MERGE_SHARDS SPLIT_SHARD UPDATE_SHARD_COUNT) },
	'node', "$mock_dir/main.js");

# Run the scenario against one endpoint: its steps.
sub scenario
{
	my ($port, $name) = @_;
	my $out = `cd '$tdir' && timeout 300 node scenario.mjs http://127.0.0.1:$port differential 2>'$tmp/$name.err'`;
	is($?, 0, "the scenario runs against $name") or diag(slurp_file("$tmp/$name.err"));
	my ($json) = $out =~ /^(\[.*\])\s*\z/ms;
	return $json ? decode_json($json) : [];
}
my $gw = scenario($gw_port, 'the gateway');
my $mock = scenario($mock_port, 'kinesis-local');
kill 'TERM', @pids;
@pids = ();

my $half = '170141183460469231731687303715884105727';	# 2^127 - 1
my $half_m1 = '170141183460469231731687303715884105726';
my $two127 = '170141183460469231731687303715884105728';

# Rewrite kinesis-mock's shard ranges: it ends the first half at 2^127 - 2.
sub aws_ranges
{
	for my $s (@{ $_[0]{ok} })
	{
		$s->{HashKeyRange}{EndingHashKey} = $half if $s->{HashKeyRange}{EndingHashKey} eq $half_m1;
		$s->{HashKeyRange}{StartingHashKey} = $two127 if $s->{HashKeyRange}{StartingHashKey} eq $half;
	}
}
sub error_is { my ($type, $status) = @_; return sub { $_[0] = { error => $type, status => $status } }; }

# step => [the difference, kinesis-mock's answer rewritten to what the gateway (AWS) answers]
my %known = (
	'create with ShardCount 0' => [ 'ShardCount below 1: ValidationException, not LimitExceededException',
		error_is('ValidationException', 400) ],
	'list shards' => [ 'the two halves of the hash key space meet at 2^127', \&aws_ranges ],
	'shards after the split' => [ 'the halves meet at 2^127', \&aws_ranges ],
	'shards after the merge' => [ 'the halves meet at 2^127', \&aws_ranges ],
	'put at hash key 2^127 - 1' => [ 'hash key 2^127 - 1 belongs to the first half',
		sub { $_[0]{ok} = 'shardId-000000000004' } ],
	'describe stream summary' => [ 'the summary names MaxRecordSizeInKiB (1024) and ChannelCount (0), as the current API does',
		sub { $_[0]{ok}{MaxRecordSizeInKiB} = 1024; $_[0]{ok}{ChannelCount} = 0 } ],
	'get records shard 0' => [ 'records carry no EncryptionType member',
		sub { delete $_->{EncryptionType} for @{ $_[0]{ok}{Records} } } ],
	'iterator of an unknown type' => [ 'an unknown ShardIteratorType is a ValidationException',
		error_is('ValidationException', 400) ],
	'get records with a malformed iterator' => [ 'a malformed iterator is InvalidArgumentException, not a 500',
		error_is('InvalidArgumentException', 400) ],
	'get records with Limit 0' => [ 'Limit below 1 is a ValidationException', error_is('ValidationException', 400) ],
);

is(scalar(@$gw), scalar(@$mock), 'both ran the same number of steps');
ok(scalar(@$gw) >= 50, 'the scenario ran to its end');
my $json = JSON::PP->new->canonical;
for my $i (0 .. $#$gw)
{
	my ($g, $m) = ($gw->[$i], $mock->[$i]);
	my $name = $g->{step};
	is($m->{step}, $name, "step $i is the same call");
	if (my $k = $known{$name})
	{
		my $before = $json->encode($m->{result});
		$k->[1]->($m->{result});
		isnt($json->encode($m->{result}), $before, "$name: kinesis-mock differs ($k->[0])");
	}
	is_deeply($g->{result}, $m->{result}, "$name: the same answer")
	  or diag('gateway: ' . $json->encode($g->{result}) . "\nkinesis-local: " . $json->encode($m->{result}));
}
is(scalar(grep { $known{ $_->{step} } } @$gw), scalar(keys %known), 'every known difference was met');

$node->stop;
done_testing();
