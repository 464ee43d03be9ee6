
# KgTest - what the TAP tests of kinesis_glue (test/t/*.pl) share.
#
# A test says `use KgTest;` (the Makefile's tapcheck puts test/perl on the
# include path; run one file by hand with `prove -I test/perl test/t/X.pl`)
# and gets these functions; the POD at the end lists them.
#
#   kg_node            a node with kinesis_glue (and pg_cron) preloaded,
#                      the common settings, started, the extension created
#   kg_sql             safe_psql, in a database, as a role
#   kg_wait            poll_query_until with a name for what is awaited
#   kg_poll            wait for a Perl condition (files, sockets, ...)
#   kg_wait_worker     wait for a database's kinesis_glue worker
#   kg_job_run_end     wait for a Glue job run to end; its state
#   kg_set_conf        ALTER SYSTEM SET (or RESET) and reload
#   kg_kill9           kill -9 of the postmaster; wait until all is gone
#   kg_crash           that under load: the load ends, the node restarts
#   kg_pgbench         start pgbench clients running a script
#   kg_psql_bg         start psql running a script file or a command
#   kg_finish          wait for one of those to end; its exit status
#   kg_transactions    the transactions pgbench committed
#   kg_firehose_producers  psql producers of Firehose records and a ledger
#   kg_put_orders      numbered records to the stream "orders"
#   kg_orders_digest   md5 and count of what "orders" holds
#   kg_read_count      how many records read_shard returns from "orders"
#   kg_cluster         kinesis_glue_cluster: n nodes and a configured proxy
#   kg_cluster_node    one more node for such a cluster
#   kg_conninfo        a libpq connection string for a node
#   kg_gateway_program the built gateway (skips the test without node, npm
#                      or the gateway) and test/gateway
#   kg_npm_ci          npm ci in test/gateway when its lock file changed
#   kg_stubborn_sql    CREATE FUNCTION stubborn(): user code that ignores cancels

package KgTest;

use strict;
use warnings;

use Exporter 'import';
use Cwd ();
use File::Basename ();
use IO::Socket::INET;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(kg_node kg_sql kg_wait kg_poll kg_wait_worker kg_job_run_end kg_set_conf
  kg_kill9 kg_crash kg_pgbench kg_psql_bg kg_finish kg_transactions kg_firehose_producers
  kg_put_orders kg_orders_digest kg_read_count kg_cluster kg_cluster_node kg_conninfo
  kg_gateway_program kg_npm_ci kg_node_tests kg_wait_port kg_stubborn_sql);

# Settings every kg_node gets unless the test changes or drops them.
my %default_settings = (
	'max_worker_processes' => 16,
	'kinesis_glue.worker_naptime' => '200ms',
	'kinesis_glue.launcher_naptime' => '200ms');

sub kg_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name, @{ $opts{new} // [] });
	$node->init(%{ $opts{init} // {} });
	my %set = (%default_settings, %{ $opts{set} // {} });
	my $conf = "# kg_node\n";
	if (defined $opts{cron})
	{
		$conf .= "shared_preload_libraries = 'pg_cron,kinesis_glue'\n"
		  . "cron.database_name = '$opts{cron}'\n";
	}
	else
	{
		$conf .= "shared_preload_libraries = 'kinesis_glue'\n";
	}
	$conf .= "$_ = '$set{$_}'\n" for grep { defined $set{$_} } sort keys %set;
	$node->append_conf('postgresql.conf', $conf);
	return $node if defined $opts{start} && !$opts{start};
	$node->start;
	my $db = exists $opts{extension} ? $opts{extension} : 'postgres';
	$node->safe_psql($db, 'CREATE EXTENSION kinesis_glue') if $db;
	return $node;
}

sub kg_sql
{
	my ($node, $sql, %opts) = @_;
	$sql = "SET ROLE $opts{role}; $sql" if defined $opts{role};
	return $node->safe_psql($opts{db} // 'postgres', $sql);
}

sub kg_wait
{
	my ($node, $query, $expected, $what, %opts) = @_;
	$what //= "[$query]";
	my $t0 = time();
	my $ok;
	{
		local $PostgreSQL::Test::Utils::timeout_default = $opts{within}
		  if defined $opts{within};
		$ok = $node->poll_query_until($opts{db} // 'postgres', $query, $expected);
	}
	my $took = time() - $t0;
	if ($ok && defined $opts{within} && $took > $opts{within})
	{
		diag(sprintf('%s took %.1f s, more than %s s', $what, $took, $opts{within}));
		$ok = 0;
	}
	elsif (!$ok)
	{
		diag(sprintf('timed out after %.0f s waiting for %s', $took, $what));
	}
	fail("timed out waiting for $what") if !$ok && !defined wantarray;
	return $ok;
}

sub kg_poll
{
	my ($cond, $what, %opts) = @_;
	my $secs = $opts{within} // $PostgreSQL::Test::Utils::timeout_default;
	my $t0 = time();
	my $ok;
	until (($ok = $cond->()) || time() - $t0 > $secs)
	{
		usleep(100_000);
	}
	diag(sprintf('timed out after %.0f s waiting for %s', time() - $t0, $what)) unless $ok;
	fail("timed out waiting for $what") if !$ok && !defined wantarray;
	return $ok;
}

sub kg_wait_worker
{
	my ($node, %opts) = @_;
	my $db = $opts{db} // 'postgres';
	return kg_wait($node,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'kinesis_glue worker' AND datname = '$db'",
		't', "the kinesis_glue worker of database $db", within => $opts{within});
}

sub kg_job_run_end
{
	my ($node, $id, %opts) = @_;
	my $db = $opts{db} // 'postgres';
	kg_wait($node,
		"SELECT state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING') FROM glue.job_runs WHERE run_id = $id",
		't', "the end of job run $id", db => $db)
	  or fail("timed out waiting for the end of job run $id");
	return $node->safe_psql($db, "SELECT state FROM glue.job_runs WHERE run_id = $id");
}

sub kg_set_conf
{
	my ($node, %set) = @_;
	for my $name (sort keys %set)
	{
		$node->safe_psql('postgres',
			defined $set{$name}
			? "ALTER SYSTEM SET $name = '$set{$name}'"
			: "ALTER SYSTEM RESET $name");
	}
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	return;
}

# True while $pid runs (a zombie counts as gone).
sub pid_alive
{
	my ($pid) = @_;
	return 0 unless kill(0, $pid);
	my $st = eval { slurp_file("/proc/$pid/stat") } // '';
	return $st !~ /^\d+ \(.*\) [ZX] /;
}

sub kg_kill9
{
	my ($node) = @_;
	my @pids = split /\n/, $node->safe_psql('postgres', 'SELECT pid FROM pg_stat_activity');
	my ($pm) = slurp_file($node->data_dir . '/postmaster.pid') =~ /^(\d+)/;
	$node->kill9;
	# the new postmaster refuses to start while the old one's PID exists
	# (even as a zombie) or its processes hold the shared memory
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	usleep(50_000) while (kill(0, $pm) || grep({ pid_alive($_) } @pids)) && time() < $deadline;
	my @left = grep { pid_alive($_) } @pids;
	unshift @left, $pm if kill(0, $pm);
	diag("processes of the killed postmaster still run: @left") if @left;
	return !@left;
}

# Write $script to $name.sql in the node's base directory; returns the path.
sub write_script
{
	my ($node, $name, $script) = @_;
	my $file = $node->basedir . "/$name.sql";
	open(my $fh, '>', $file) or die "$file: $!";
	print $fh $script;
	close $fh;
	return $file;
}

sub kg_crash
{
	my ($node, @runs) = @_;
	my $gone = kg_kill9($node);
	kg_finish($_) for @runs;    # they lose their connections
	$node->start;
	return $gone;
}

# Start a command in the background: a run { h, out, err, name }.
sub start_run
{
	my ($name, $cmd, $secs) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start($cmd, '>', \$out, '2>', \$err, $secs ? IPC::Run::timeout($secs) : ());
	return { h => $h, out => \$out, err => \$err, name => $name };
}

sub kg_pgbench
{
	my ($node, $name, $script, %opts) = @_;
	my $file = write_script($node, $name, $script);
	my $clients = $opts{clients} // 1;
	my @cmd = (
		'pgbench', '-h', $node->host, '-p', $node->port, '-n',
		'-c', $clients, '-j', $clients, '-T', $opts{seconds});
	push @cmd, '-U', $opts{user} if defined $opts{user};
	push @cmd, '-R', $opts{rate} if defined $opts{rate};
	push @cmd, '-D', $_ for @{ $opts{define} // [] };
	push @cmd, '-f', $file, $opts{db} // 'postgres';
	return start_run($name, \@cmd,
		$opts{timeout} // $opts{seconds} + $PostgreSQL::Test::Utils::timeout_default);
}

sub kg_psql_bg
{
	my ($node, $name, %opts) = @_;
	my @cmd = ('psql', '-XAtq', '-d', $node->connstr($opts{db} // 'postgres'));
	push @cmd, '-v', 'ON_ERROR_STOP=1' if $opts{on_error_stop};
	if (defined $opts{file})
	{
		push @cmd, '-f', write_script($node, $name, $opts{file});
	}
	else
	{
		push @cmd, '-c', $opts{command};
	}
	return start_run($name, \@cmd, $opts{timeout} // $PostgreSQL::Test::Utils::timeout_default);
}

sub kg_finish
{
	my ($run) = @_;
	my $ok = eval { $run->{h}->finish; 1 };
	$run->{status} = $ok ? $run->{h}->full_result(0) >> 8 : "died: $@";
	return $run->{status};
}

sub kg_transactions
{
	my ($run) = @_;
	my ($n) = ${ $run->{out} } =~ /number of transactions actually processed: (\d+)/;
	return $n;
}

sub kg_firehose_producers
{
	my ($node, $stream, %opts) = @_;
	my @runs;
	for my $p (1 .. $opts{producers})
	{
		my $script = '';
		for my $b (0 .. $opts{batches} - 1)
		{
			my $lo = $p * 100000 + $b * $opts{batch};
			my $hi = $lo + $opts{batch} - 1;
			$script .= "BEGIN;\n"
			  . "SELECT count(*) FROM firehose.put_record_batch('$stream', ARRAY(SELECT convert_to("
			  . "jsonb_build_object('id', i, 'producer', $p, 'payload', repeat('x', 200))::text, 'UTF8') "
			  . "FROM generate_series($lo, $hi) i));\n"
			  . "INSERT INTO ledger SELECT generate_series($lo, $hi);\n"
			  . "COMMIT;\n";
			$script .= "SELECT pg_sleep($opts{pause});\n" if $opts{pause};
		}
		push @runs, kg_psql_bg($node, "producer_$p", file => $script, timeout => $opts{timeout});
	}
	return @runs;
}

sub kg_put_orders
{
	my ($node, $db, $from, $to) = @_;
	return $node->safe_psql($db, "SET ROLE app; SELECT max(p.sequence_number) FROM generate_series($from, $to, 500) b,
		LATERAL kinesis.put_records('orders',
		ARRAY(SELECT 'k' || g FROM generate_series(b, least(b + 499, $to)) g),
		ARRAY(SELECT convert_to(jsonb_build_object('n', g)::text, 'UTF8') FROM generate_series(b, least(b + 499, $to)) g)) p");
}

sub kg_orders_digest
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{SELECT md5(string_agg(shard_index || '/' || sequence_number || '/' || partition_key
		|| '/' || encode(data, 'hex'), ',' ORDER BY sequence_number)) || ' ' || count(*) FROM kinesis_records.orders});
}

sub kg_read_count
{
	my ($node, $db, $shards) = @_;
	my $n = 0;
	$n += $node->safe_psql($db, sprintf(q{SELECT count(*) FROM kinesis.read_shard('orders', 'shardId-%012d', NULL, 10000)}, $_))
	  for 0 .. $shards - 1;
	return $n;
}

sub kg_gateway_program
{
	my $root = Cwd::abs_path(File::Basename::dirname(__FILE__) . '/../..');
	plan skip_all => 'node and npm are needed for the gateway tests'
	  unless system('node --version >/dev/null 2>&1') == 0
	  && system('npm --version >/dev/null 2>&1') == 0;
	my ($gateway) = grep { -x $_ } "$root/gateway/kinesis_glue_gateway",
	  map { "$_/kinesis_glue_gateway" } split /:/, $ENV{PATH};
	plan skip_all => 'kinesis_glue_gateway is not built (its libraries are missing)' unless $gateway;
	return ($gateway, "$root/test/gateway");
}

sub kg_npm_ci
{
	my ($tdir, $what) = @_;
	$ENV{npm_config_cache} = "$tdir/.npm-cache";
	$ENV{npm_config_update_notifier} = 'false';
	my $installed = "$tdir/node_modules/.package-lock.json";
	return 1 if -e $installed && -M $installed <= -M "$tdir/package-lock.json";
	my $log = PostgreSQL::Test::Utils::tempdir() . '/npm.log';
	my $ok = system("cd '$tdir' && timeout 600 npm ci --no-audit --no-fund --loglevel=error >'$log' 2>&1") == 0;
	ok($ok, $what) or diag(slurp_file($log));
	return $ok;
}

sub kg_node_tests
{
	my ($tdir, $files, $expected) = @_;
	my $tap = `cd '$tdir' && timeout 300 node --test --test-reporter=tap $files 2>&1`;
	my $count = 0;
	for my $line (split /\n/, $tap)
	{
		next unless $line =~ /^(not )?ok \d+ - (.*)$/;
		$count++;
		ok(!defined $1, "node: $2") or diag($tap);
	}
	is($count, $expected, 'every node test ran') or diag($tap);
}

sub kg_wait_port
{
	my ($port) = @_;
	my $deadline = time() + 10;
	while (time() < $deadline)
	{
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1);
		if ($s) { close $s; return 1; }
		usleep(50_000);
	}
	return 0;
}

sub kg_stubborn_sql
{
	return q{
CREATE FUNCTION stubborn() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOOP
        BEGIN
            PERFORM pg_sleep(10);
        EXCEPTION WHEN query_canceled THEN
            NULL;   -- ignore the cancel and go on
        END;
    END LOOP;
END
$$;
};
}

sub kg_conninfo
{
	my ($node) = @_;
	return 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres connect_timeout=2';
}

sub kg_cluster_node
{
	my ($name, %opts) = @_;
	my $node = kg_node($name, set => $opts{set} // {});
	$node->safe_psql('postgres', 'CREATE EXTENSION kinesis_glue_cluster CASCADE; CREATE ROLE app LOGIN;'
		  . ' GRANT CREATE ON SCHEMA kinesis_records TO app;');
	return $node;
}

sub kg_cluster
{
	my ($prefix, $n, %opts) = @_;
	my $sharedir = `pg_config --sharedir`;
	chomp $sharedir;
	plan skip_all => "PL/Proxy is not installed in $sharedir/extension"
	  unless -e "$sharedir/extension/plproxy.control";
	my @nodes = map { kg_cluster_node("${prefix}_node$_", %opts) } 0 .. $n - 1;
	my $proxy = PostgreSQL::Test::Cluster->new("${prefix}_proxy");
	$proxy->init;
	$proxy->start;
	$proxy->safe_psql('postgres', 'CREATE EXTENSION kinesis_glue_cluster CASCADE; CREATE ROLE app LOGIN;');
	$proxy->safe_psql('postgres',
		    'SELECT kinesis_cluster.configure(ARRAY['
		  . join(',', map { "'node$_'" } 0 .. $n - 1) . '], ARRAY['
		  . join(',', map { "'" . kg_conninfo($_) . "'" } @nodes) . '])');
	return ($proxy, @nodes);
}

1;

__END__

=head1 NAME

KgTest - node setup, SQL, waiting and load for the kinesis_glue TAP tests

=head1 FUNCTIONS

=over

=item kg_node($name, %opts)

A new PostgreSQL::Test::Cluster node, initialised with kinesis_glue in
shared_preload_libraries and the settings C<max_worker_processes = 16>,
C<kinesis_glue.worker_naptime = 200ms>, C<kinesis_glue.launcher_naptime =
200ms>; started; C<CREATE EXTENSION kinesis_glue> run in database postgres.
Options: C<set> (hash of settings added to postgresql.conf, over the defaults;
C<undef> drops a default), C<cron> (a database name: pg_cron is preloaded
before kinesis_glue and C<cron.database_name> set to it), C<init> (hash passed
to init, e.g. C<< { allows_streaming => 1 } >>), C<new> (list passed to
Cluster->new, e.g. C<< [ install_path => $dir ] >>), C<start> (0: initialise
only), C<extension> (the database to create the extension in; C<undef> or ''
for none).

=item kg_sql($node, $sql, %opts)

safe_psql of $sql in C<db> (default postgres), after C<SET ROLE role> when
C<role> is given; returns the output (dies on an error).

=item kg_wait($node, $query, $expected, $what, %opts)

poll_query_until of $query in C<db> (default postgres) until it returns
$expected (undef: 't'; $what, undef: the query), for at most $PostgreSQL::Test::Utils::timeout_default
seconds, or C<within> seconds, which then also bounds the time it took.
Returns true on success; on a timeout it says, with diag, what it waited for
and how long; called in void context it then also fails a test (so that a
wait that is a step, not an assertion, does not go unnoticed).

=item kg_poll($cond, $what, %opts)

Calls $cond every 0.1 s until it returns true, for at most timeout_default
seconds, or C<within> seconds; for what SQL cannot see (files, sockets,
notifications).  Returns $cond's last value; on a timeout it says what it
waited for, and in void context also fails a test, as kg_wait does.

=item kg_wait_worker($node, %opts)

kg_wait for the kinesis_glue worker of database C<db> (default postgres) to
run (one in pg_stat_activity); C<within> as kg_wait.

=item kg_job_run_end($node, $run_id, %opts)

Waits (kg_wait) until Glue job run $run_id in C<db> has ended (not WAITING,
STARTING, RUNNING or STOPPING) and returns its state; a timeout fails a test.

=item kg_set_conf($node, name => value, ...)

ALTER SYSTEM SET each setting (ALTER SYSTEM RESET for an undef value), then
pg_reload_conf().

=item kg_kill9($node)

kill -9 of the postmaster; then waits (up to timeout_default) until it and
every process that was in pg_stat_activity are gone, as a new postmaster
needs; true when they are.  The test starts the node again.

=item kg_crash($node, @runs)

kg_kill9, then kg_finish of each run (load that loses its connections), then
a start of the node; returns what kg_kill9 returned.

=item kg_pgbench($node, $name, $script, %opts)

Writes $script to $name.sql in the node's base directory and starts pgbench
on it in the background: C<clients> (default 1, as many threads), C<seconds>
(-T), C<user> (-U), C<rate> (-R), C<define> (list of -D values), C<db>, C<timeout> (default
seconds + timeout_default).  Returns a run for kg_finish: a hash with C<h>
(the IPC::Run harness) and C<out>, C<err> (references to its output).

=item kg_psql_bg($node, $name, %opts)

Starts C<psql -XAtq> in the background on C<file> (a script, written to
$name.sql) or C<command> (-c), in C<db>, with C<-v ON_ERROR_STOP=1> when
C<on_error_stop>; C<timeout> defaults to timeout_default (0: none).  Returns a run as
kg_pgbench does.

=item kg_finish($run)

Waits for a run to end; returns its exit status (0 when it succeeded, or the
error of a run that timed out).

=item kg_transactions($run)

The number of transactions a finished pgbench run processed.

=item kg_firehose_producers($node, $stream, %opts)

Starts C<producers> psql sessions (kg_psql_bg, C<timeout>) that each put
C<batches> transactions of C<batch> records to Firehose stream $stream with
put_record_batch (data {"id": <id>, "payload": "x" x 200, "producer": <p>},
ids from p * 100000 up) and insert the same ids into table C<ledger> in the
same transaction, so that the ledger is exactly what they committed; with
C<pause>, each sleeps that many seconds after each transaction.  Returns
the runs.

=item kg_put_orders($node, $db, $from, $to)

Puts records $from .. $to (partition key "k<n>", data {"n": <n>}) to the
stream "orders" as role app, in batches of 500; returns the largest sequence
number given.

=item kg_orders_digest($node, $db)

md5 and count of every record of "orders" (shard, sequence number, key,
data), to compare a database before and after it moved.

=item kg_read_count($node, $db, $shards)

How many records kinesis.read_shard returns from the first $shards shards of
"orders" (up to 10000 a shard).

=back

=item kg_cluster($prefix, $n, %opts)

Skips the whole test unless PL/Proxy is installed; otherwise starts C<$n>
kg_node nodes named C<${prefix}_node$i> with kinesis_glue_cluster, a proxy
node C<${prefix}_proxy> configured over them (nodes C<node0> ...), and on
every one a LOGIN role C<app> (with CREATE on kinesis_records on the
nodes).  C<set> passes settings to the nodes.  Returns C<($proxy, @nodes)>.

=item kg_cluster_node($name, %opts)

One node as kg_cluster starts them (kg_node, kinesis_glue_cluster, role
C<app>), e.g. to add to a running cluster with C<kinesis_cluster.add_node>.

=item kg_gateway_program()

Skips the whole test unless node and npm run and kinesis_glue_gateway is
built (in gateway/ or on PATH); returns the gateway's path and the
test/gateway directory.

=item kg_node_tests($tdir, $files, $expected)

Runs the node:test files C<$files> (space-separated, in C<$tdir>) with the
TAP reporter (environment from the caller), one assertion per node test
named C<node: ...>, and checks that C<$expected> of them ran.

=item kg_wait_port($port)

Waits up to 10 s until something accepts connections on 127.0.0.1:C<$port>
(a gateway that was just started); returns whether it did.

=item kg_npm_ci($tdir, $what)

Runs C<npm ci> in C<$tdir> (cache in C<$tdir/.npm-cache>, which it also
sets for the rest of the test) when its package-lock.json is newer than the
installed modules, as a test named C<$what>; returns whether the modules are
there.

=item kg_stubborn_sql()

SQL that creates C<stubborn()> in the current schema: a function that sleeps
forever and ignores every cancel (it catches C<query_canceled>), the user
code that runner timeouts must end by terminating the runner.

=item kg_conninfo($node)

A libpq connection string for database postgres of C<$node>.

=cut
