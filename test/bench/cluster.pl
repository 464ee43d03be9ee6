
# kinesis_glue benchmark: put_records through kinesis_cluster (PL/Proxy) with 1 and 2 nodes,
# against calling one node's kinesis.put_records directly (issue 18, "How it is judged").
#
#   test/bench/cluster.sh          (sets the Perl include path and runs this)
#
# Private clusters on this machine: node0, node1 (kinesis_glue) and a proxy (PL/Proxy only).
# Each case runs pgbench for BENCH_SECONDS (default 15) with BENCH_CLIENTS (default 4) clients,
# each transaction one put_records of BENCH_BATCH (default 100) records of about 100 bytes with
# distinct partition keys:
#   direct   kinesis.put_records on node0 (a 4-shard stream)
#   proxy-1  kinesis_cluster.put_records, cluster of node0 only (4 shards)
#   proxy-2  kinesis_cluster.put_records, cluster of node0 and node1 (2 + 2 shards)
#   client   the same statement on the proxy with a function that puts nothing: what the client's
#            statement itself costs (building its arrays), which the proxy cases pay on the
#            proxy and the direct case on the node; routing is the proxy's CPU above it
# Reported: records/s, per-server CPU seconds used during the case (utime + stime of every
# process of that server, from /proc; servers that used under 0.5 s left out) and CPU
# microseconds per record put, so the share of the proxy is visible, and the 1-minute load
# average before and after the case (the machine is shared).  BENCH_PERF=1 adds
# perf profiles of the server called and of node0 in each case.  The nodes share
# the machine's cores, so 2 nodes cannot be faster than the cores allow; the point is the
# routing overhead (proxy-1 against direct) and that two nodes split the work.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use KgTest;

my $SECONDS = $ENV{BENCH_SECONDS} // 15;
my $CLIENTS = $ENV{BENCH_CLIENTS} // 4;
my $BATCH = $ENV{BENCH_BATCH} // 100;

my @nodes;
for my $i (0 .. 1)
{
	my $n = kg_node(
		"bench_node$i",
		set => {
			synchronous_commit => 'off',
			shared_buffers => '256MB',
			log_statement => 'none',
			'kinesis_glue.worker_naptime' => undef,
			'kinesis_glue.launcher_naptime' => undef
		});
	$n->safe_psql('postgres', 'CREATE EXTENSION kinesis_glue_cluster CASCADE;');
	push @nodes, $n;
}
my @proxies;
for my $k (1, 2)
{
	my $p = PostgreSQL::Test::Cluster->new("bench_proxy$k");
	$p->init;
	$p->append_conf('postgresql.conf', "log_statement = none\n");    # the test default logs every call
	$p->start;
	$p->safe_psql('postgres', 'CREATE EXTENSION kinesis_glue_cluster CASCADE');
	my @use = @nodes[ 0 .. $k - 1 ];
	my $names = join(',', map { "'node$_'" } 0 .. $k - 1);
	my $conns = join(',', map { "'host=" . $_->host . ' port=' . $_->port . " dbname=db$k'" } @use);
	$_->safe_psql('postgres', "CREATE DATABASE db$k") for @use;
	$_->safe_psql("db$k", 'CREATE EXTENSION kinesis_glue; CREATE EXTENSION kinesis_glue_cluster CASCADE;') for @use;
	$p->safe_psql('postgres', "SELECT kinesis_cluster.configure(ARRAY[$names], ARRAY[$conns])");
	$p->safe_psql('postgres', "SELECT kinesis_cluster.create_stream('b', 4)");
	push @proxies, $p;
}
$nodes[0]->safe_psql('postgres', "SELECT kinesis.create_stream('b', 4)");

# CPU seconds used so far by every process of a server (postmaster and children).
sub cpu_seconds
{
	my ($node) = @_;
	my ($ppid) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
	my $total = 0;
	for my $d (glob '/proc/[0-9]*')
	{
		my $stat = eval { slurp_file("$d/stat") } // next;
		my @f = split ' ', ($stat =~ s/^.*\)\s+//r);
		my $pid = ($d =~ m{(\d+)$})[0];
		next unless $pid == $ppid || $f[1] == $ppid;
		$total += $f[11] + $f[12];    # utime, stime (clock ticks)
		# the postmaster's reaped children (backends that ended): cutime, cstime
		$total += $f[13] + $f[14] if $pid == $ppid;
	}
	return $total / 100;
}

# BENCH_PERF=1: perf profile (user space) of the backends of the server called and of node0,
# 5 s each during each case, the top symbols appended to the results (the perf data files stay in
# the temporary directory for perf report --children).
sub profile
{
	my ($node, $name) = @_;
	my ($ppid) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
	my @pids = grep {
		my $st = eval { slurp_file("/proc/$_/stat") };
		defined $st && (split ' ', ($st =~ s/^.*\)\s+//r))[1] == $ppid
	} map { m{(\d+)$} } glob '/proc/[0-9]*';
	my $data = "$ENV{TESTDIR}/perf_${name}_" . $node->name . ".data";
	IPC::Run::run([ 'perf', 'record', '-e', 'cpu-clock:u', '-F', '999', '-g', '-o', $data, '-p', join(',', @pids),
			'--', 'sleep', '5' ], '>', \my $o, '2>', \my $e);
	my $report = '';
	IPC::Run::run([ 'perf', 'report', '--stdio', '--no-children', '-i', $data, '--sort', 'dso,symbol', '-g', 'none',
			'--percent-limit', '0.7' ], '>', \$report, '2>', \$e);
	append_to_file("$ENV{TESTDIR}/results.txt",
		"--- perf, $name, " . $node->name . " backends ---\n" . join("\n", grep { /%/ } split /\n/, $report) . "\n");
}

my $script = "$PostgreSQL::Test::Utils::tmp_check/bench_put.sql";
sub run_case
{
	my ($name, $node, $db, $fn) = @_;
	my $sql = "\\set k random(1, 1000000000)\n"
	  . "SELECT count(*) FROM $fn('b', ARRAY(SELECT 'key-' || :k || '-' || g FROM generate_series(1, $BATCH) g), "
	  . "ARRAY(SELECT convert_to(repeat('x', 90) || g, 'UTF8') FROM generate_series(1, $BATCH) g));\n";
	open(my $fh, '>', $script) or die $!;
	print $fh $sql;
	close $fh;
	my @servers = ($node, grep { $_ != $node } @nodes);
	my %before = map { $_->name => cpu_seconds($_) } @servers;
	my $load_before = (split ' ', slurp_file('/proc/loadavg'))[0];
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'pgbench', '-n', '-h', $node->host, '-p', $node->port, '-c', $CLIENTS, '-j', $CLIENTS,
			'-T', $SECONDS, '-f', $script, $db ], '>', \$out, '2>', \$err);
	if ($ENV{BENCH_PERF})
	{
		sleep 2;
		profile($_, $name) for ($node == $nodes[0] ? ($node) : ($node, $nodes[0]));
	}
	$h->finish or die "pgbench failed: $err";
	# let the case's backends (and, behind a proxy's, the node backends of its PL/Proxy
	# connections) exit and be reaped: a backend read in /proc while it exits can be missed both
	# live and in the postmaster's cutime (or counted in both), which skewed a case by seconds
	sleep 2;
	$load_before .= ' to ' . (split ' ', slurp_file('/proc/loadavg'))[0];
	my ($tps) = $out =~ /tps = ([\d.]+)/;
	my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
	my $records = ($done // 0) * $BATCH;
	my %used = map { $_->name => cpu_seconds($_) - $before{ $_->name } } @servers;
	my $cpu = join(', ',
		map { sprintf('%s %.1f s (%.1f us/record)', $_, $used{$_}, $records ? 1e6 * $used{$_} / $records : 0) }
		  grep { $used{$_} >= 0.5 } map { $_->name } @servers);
	my $line = sprintf('%-8s %9.0f records/s   CPU: %s   load %s', $name, $tps * $BATCH, $cpu, $load_before);
	diag($line);
	append_to_file("$ENV{TESTDIR}/results.txt", "$line\n");
	return $tps * $BATCH;
}

# the client's statement alone (its arrays built, nothing put), on the proxy: the part of the
# proxy's CPU that is not routing
$proxies[0]->safe_psql('postgres',
	'CREATE FUNCTION public.no_put(text, text[], bytea[]) RETURNS SETOF integer LANGUAGE plpgsql AS $$ BEGIN RETURN NEXT cardinality($2) + cardinality($3); END $$');
run_case('client', $proxies[0], 'postgres', 'public.no_put');
my $direct = run_case('direct', $nodes[0], 'postgres', 'kinesis.put_records');
my $p1 = run_case('proxy-1', $proxies[0], 'postgres', 'kinesis_cluster.put_records');
my $p2 = run_case('proxy-2', $proxies[1], 'postgres', 'kinesis_cluster.put_records');
my $summary = sprintf('routing overhead (proxy-1 against direct): %.0f%% fewer records/s; 2 nodes against 1: x%.2f',
	100 * (1 - $p1 / $direct), $p2 / $p1);
diag($summary);
append_to_file("$ENV{TESTDIR}/results.txt", "$summary\n");
ok($direct > 0 && $p1 > 0 && $p2 > 0, 'all cases ran');

$_->stop for (@proxies, @nodes);
done_testing();
