
# The wire gateway (gateway/, kinesis_glue_gateway) in front of a private
# cluster, driven by unchanged clients:
#   1. the AWS SDK for JavaScript v3 (test/gateway/gateway.test.mjs and newest_ops.test.mjs, node:test,
#      installed by `npm ci` from test/gateway/package-lock.json): Kinesis with
#      its default HTTP/2 handler and with NodeHttpHandler (HTTP/1.1) through
#      every built operation and their errors, Firehose, hand-built CBOR over
#      HTTP/1.1 and h2c, malformed bodies, SigV4 (good, bad, unknown key, clock
#      skew, unsigned) with keys mapped to roles so that a missing GRANT is
#      AccessDeniedException; SubscribeToShard through the SDK and decoded
#      with @smithy/eventstream-codec, with a record put by SQL pushed at
#      once; TLS with ALPN; each node test is one assertion here;
#   2. boto3 (python3-boto3) and the aws CLI (awscli) as producer and
#      consumer, the CLI also signing for the sigv4 gateway;
#   3. robustness with raw sockets: a too-large Content-Length is refused
#      before the body is read, garbage HTTP/1.1 and garbage HTTP/2 are
#      answered or cut off, slow clients time out, connections are bounded;
#   4. SIGHUP reloads the configuration, and the pool reconnects after
#      PostgreSQL restarts.
# Skipped (skip_all) when node/npm or the gateway program are missing.

use strict;
use warnings;

use Cwd qw(abs_path);
use IO::Select;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my ($gateway, $tdir) = kg_gateway_program();
my $root = abs_path("$tdir/../..");

my $node = kg_node('gateway', set => { max_connections => 40, max_worker_processes => undef });
sub sql { return kg_sql($node, $_[0]); }

$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
	'-f', "$root/gateway/kinesis_glue_gateway.sql" ], 'the access key table is created');
my %key = (
	admin_key => 'AKIAADMIN00000000001', admin_secret => 'adminsecret' x 4,
	reader_key => 'AKIAREADER0000000001', reader_secret => 'readersecret' x 4);
sql(qq{
CREATE ROLE kg_gw_login LOGIN;
CREATE ROLE kg_gw_admin;
CREATE ROLE kg_gw_reader;
GRANT kinesis_gateway_reader, kg_gw_admin, kg_gw_reader TO kg_gw_login;
GRANT CREATE ON SCHEMA kinesis_records TO kg_gw_admin;
INSERT INTO kinesis_gateway.access_keys (access_key_id, secret_access_key, role_name) VALUES
  ('$key{admin_key}', '$key{admin_secret}', 'kg_gw_admin'),
  ('$key{reader_key}', '$key{reader_secret}', 'kg_gw_reader');
CREATE TABLE fh_out (id int, sequence_number bigint);
SELECT firehose.create_delivery_stream('gw-fh', 'fh_out');
});

# the access key table is not writable by the gateway's login
my ($rc, $out, $err) = $node->psql('postgres',
	"SET ROLE kg_gw_login; UPDATE kinesis_gateway.access_keys SET role_name = 'postgres'");
like($err, qr/permission denied/, 'the gateway login cannot rewrite the access key table');

my $host = $node->host;
my $pgport = $node->port;
my $tmp = PostgreSQL::Test::Utils::tempdir;
my @gateways;

# Start a gateway with the given settings; returns (port, pid, log file).
sub start_gateway
{
	my ($name, $user, @settings) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $log = "$tmp/$name.log";
	my $conf = "$tmp/$name.conf";
	open my $fh, '>', $conf or die;
	print $fh "listen = 127.0.0.1:$port\nconninfo = host=$host port=$pgport dbname=postgres user=$user\n";
	print $fh "$_\n" for @settings;
	close $fh;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open STDOUT, '>>', $log or die;
		open STDERR, '>>', $log or die;
		exec $gateway, '--config', $conf or die "exec: $!";
	}
	push @gateways, $pid;
	kg_wait_port($port);
	return ($port, $pid, $log, $conf);
}

END { kill 'TERM', @gateways if @gateways; }

my ($open_port, $open_pid) = start_gateway('open', 'postgres', 'auth = none', 'pool_size = 4',
	'subscribe_seconds = 5');
my ($sig_port, $sig_pid) = start_gateway('sigv4', 'kg_gw_login', 'auth = sigv4', 'pool_size = 2');
system("openssl req -x509 -newkey rsa:2048 -nodes -keyout '$tmp/tls.key' -out '$tmp/tls.crt' -days 1 "
	  . "-subj /CN=localhost >'$tmp/openssl.log' 2>&1") == 0
  or die 'openssl could not make a test certificate: ' . slurp_file("$tmp/openssl.log");
my ($tls_port, $tls_pid) = start_gateway('tls', 'postgres', "tls_cert = $tmp/tls.crt", "tls_key = $tmp/tls.key");
my ($c_port, $c_pid, $c_log, $c_conf) = start_gateway('small', 'postgres', 'auth = none', 'pool_size = 1',
	'client_timeout = 1', 'max_connections = 3', 'max_body_bytes = 65536', 'request_log_level = debug');

# ---- 1. the JS SDK tests ----
my $npm_ok = kg_npm_ci($tdir, 'npm ci installs the pinned AWS SDK clients');
SKIP:
{
	skip 'npm ci failed', 1 unless $npm_ok;
	local $ENV{GW_OPEN} = "http://127.0.0.1:$open_port";
	local $ENV{GW_SIGV4} = "http://127.0.0.1:$sig_port";
	local $ENV{GW_ADMIN_KEY} = $key{admin_key};
	local $ENV{GW_ADMIN_SECRET} = $key{admin_secret};
	local $ENV{GW_READER_KEY} = $key{reader_key};
	local $ENV{GW_READER_SECRET} = $key{reader_secret};
	local $ENV{GW_FIREHOSE} = 'gw-fh';
	local $ENV{GW_TLS} = "https://localhost:$tls_port";
	local $ENV{GW_PGHOST} = $host;
	local $ENV{GW_PGPORT} = $pgport;
	kg_node_tests($tdir, 'gateway.test.mjs newest_ops.test.mjs', 31);
}
is(sql('SELECT count(*) FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = \'gw-fh\''), '1',
	'the delivery stream the Firehose client used is still there');

# ---- 2. boto3 ----
SKIP:
{
	skip 'python3-boto3 is not installed', 1 unless system('python3 -c "import boto3" 2>/dev/null') == 0;
	my $o = `python3 '$tdir/boto3_test.py' http://127.0.0.1:$open_port boto3-stream 2>&1`;
	is($?, 0, 'boto3 producer and consumer') or diag($o);
}
is(sql(q{SELECT count(*) FROM kinesis.list_streams() WHERE stream_name = 'boto3-stream'}), '0',
	'boto3 deleted its stream');

SKIP:
{
	my $aws = -x '/usr/bin/aws' ? '/usr/bin/aws' : undef;
	skip 'the aws CLI (Debian awscli) is not installed', 1 unless $aws;
	local $ENV{PATH} = "/usr/bin:$ENV{PATH}";
	local $ENV{TMPDIR} = $tmp;
	my $o = `'$tdir/awscli_test.sh' http://127.0.0.1:$open_port cli-stream http://127.0.0.1:$sig_port $key{admin_key} $key{admin_secret} 2>&1`;
	is($?, 0, 'aws CLI producer and consumer, and its SigV4 signatures') or diag($o);
}

# ---- 3. raw sockets ----

# Send bytes to the small gateway; the answer until EOF or $secs.
sub raw
{
	my ($bytes, $secs) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$c_port", Timeout => 2) or return undef;
	$s->syswrite($bytes) if length $bytes;
	my $sel = IO::Select->new($s);
	my $resp = '';
	my $deadline = time() + ($secs // 5);
	while (time() < $deadline)
	{
		last unless $sel->can_read($deadline - time());
		my $n = $s->sysread(my $buf, 65536);
		last unless $n;
		$resp .= $buf;
	}
	close $s;
	return $resp;
}

sub post
{
	my ($target, $body, %h) = @_;
	my $type = delete $h{'Content-Type'} // 'application/x-amz-json-1.1';
	my $extra = join '', map { "$_: $h{$_}\r\n" } keys %h;
	return "POST / HTTP/1.1\r\nHost: gw\r\nContent-Type: $type\r\n"
	  . "X-Amz-Target: $target\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n$extra\r\n$body";
}

like(raw(post('Kinesis_20131202.ListStreams', '{}')), qr{^HTTP/1.1 200 .*"StreamNames"}s, 'a raw request is served');
my $t0 = time();
my $big = raw("POST / HTTP/1.1\r\nHost: gw\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\n"
	  . "Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100000000\r\n\r\n{\"StreamName\":", 5);
like($big, qr{^HTTP/1.1 413 .*Connection: close.*"__type":"SerializationException"}s,
	'a body over max_body_bytes is refused from its Content-Length, before it is sent');
ok(time() - $t0 < 3, 'and the connection is closed at once');
like(raw(post('Kinesis_20131202.PutRecord', '{"StreamName": "' . ('x' x 70000) . '"}')),
	qr{^HTTP/1.1 413 }, 'a body over max_body_bytes is refused');
like(raw("GARBAGE\r\n\r\n"), qr{^HTTP/1.1 400 .*SerializationException}s, 'garbage HTTP/1.1 gets a 400 Kinesis error');
like(raw(post('Kinesis_20131202.NoSuch', '{}')), qr{^HTTP/1.1 400 .*UnknownOperationException}s,
	'an unknown operation gets UnknownOperationException');
like(raw(post('Kinesis_20131202.ListStreams', '{}', 'X-Amz-Target' => 'Nope')), qr{^HTTP/1.1 400 .*must appear once}s,
	'a duplicated target header does not confuse it');
# Expect: 100-continue (curl sends it for larger bodies): the interim answer comes before the body
{
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$c_port", Timeout => 2);
	my $body = '{}';
	$s->syswrite("POST / HTTP/1.1\r\nHost: gw\r\nContent-Type: application/x-amz-json-1.1\r\n"
		  . "X-Amz-Target: Kinesis_20131202.ListStreams\r\nExpect: 100-continue\r\n"
		  . "Content-Length: 2\r\nConnection: close\r\n\r\n");
	my $interim = '';
	IO::Select->new($s)->can_read(2) and $s->sysread($interim, 4096);
	like($interim, qr{^HTTP/1.1 100 Continue\r\n\r\n$}, 'Expect: 100-continue gets 100 Continue before the body is sent');
	$s->syswrite($body);
	my $resp = '';
	while (IO::Select->new($s)->can_read(3)) { last unless $s->sysread(my $buf, 65536); $resp .= $buf; }
	like($resp, qr{^HTTP/1.1 200 }, 'and the answer after it');
	close $s;
}
my $h2junk = raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" . ("\xff" x 64), 3);
ok(defined $h2junk && $h2junk !~ /^HTTP/, 'garbage after the HTTP/2 preface is cut off with a GOAWAY, not answered as HTTP/1.1');
# random CBOR (libcbor's streaming pre-pass bounds the declared sizes)
srand(17);
my $survived = 1;
for my $i (1 .. 300)
{
	my $body = join '', map { chr(int(rand(256))) } 1 .. int(rand(64));
	$body = "\xa1\x6aStreamName" . $body if $i % 2;
	my $r = raw(post('Kinesis_20131202.PutRecords', $body, 'Content-Type' => 'application/x-amz-cbor-1.1'), 3);
	$survived = 0 unless kill(0, $c_pid);
	last unless $survived;
}
ok($survived, 'random CBOR bodies never take the gateway down');
ok(kill(0, $c_pid), 'the gateway survived the malformed requests');

# slow client: half a request, then silence past client_timeout (1 s)
$t0 = time();
my $slow = raw("POST / HTTP/1.1\r\nHost: gw\r\nContent-Len", 6);
ok(time() - $t0 < 4, 'a slow client is disconnected after client_timeout');

# max_connections = 3: a fourth connection is closed at once
my @held = map { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$c_port") } 1 .. 3;
usleep(200_000);
my $fourth = raw(post('Kinesis_20131202.ListStreams', '{}'), 2);
is($fourth, '', 'a connection beyond max_connections is closed without an answer');
close $_ for @held;
usleep(300_000);
like(raw(post('Kinesis_20131202.ListStreams', '{}')), qr{^HTTP/1.1 200 }, 'connections are accepted again once others close');

# ---- 4. SIGHUP and PostgreSQL restarts ----
unlike(slurp_file($c_log), qr/info: http\/1.1 Kinesis_20131202.ListStreams/, 'request lines are at debug level, not logged');
open my $cf, '>>', $c_conf or die;
print $cf "request_log_level = info\n";
close $cf;
kill 'HUP', $c_pid;
my $deadline = time() + 5;
usleep(100_000) until slurp_file($c_log) =~ /configuration reloaded/ || time() > $deadline;
raw(post('Kinesis_20131202.ListStreams', '{}'));
like(slurp_file($c_log), qr/info: http\/1.1 Kinesis_20131202.ListStreams json 200/, 'SIGHUP reloaded request_log_level');

$node->restart;
my $ok = 0;
$deadline = time() + 20;
while (time() < $deadline)
{
	my $r = raw(post('Kinesis_20131202.ListStreams', '{}'));
	if (defined $r && $r =~ m{^HTTP/1.1 200 }) { $ok = 1; last; }
	usleep(200_000);
}
ok($ok, 'the pool reconnects after PostgreSQL restarts');
ok(kill(0, $open_pid) && kill(0, $sig_pid) && kill(0, $c_pid) && kill(0, $tls_pid), 'every gateway is still running');

kill 'TERM', @gateways;
@gateways = ();
$node->stop;
done_testing();
