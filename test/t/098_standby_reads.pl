
# Reads on a hot standby keep the commit-order promise (issue 18, item 1).
#
# A primary and a streaming hot standby.  8 pgbench producers put into a
# 4-shard stream on the primary for about 20 s: put_record and put_records,
# every 5th transaction delayed before COMMIT (so transactions commit out of
# the order of their sequence numbers), every 7th rolled back.  Each
# producer logs its records in an ordinary table in the same transaction,
# so the log holds exactly the committed records.  Meanwhile 4 reader
# processes poll every shard on the STANDBY: two with read_shard after the
# last number they saw, two with get_records and iterators (one of them with
# a waiting get_records).  A reader that returned N+1 before N was visible
# would never see N (it reads after its highest number), so the checks are:
#   - each reader saw, per shard, strictly increasing sequence numbers;
#   - after the standby replays the final bound, each reader saw exactly
#     the committed records (number and data), nothing rolled back;
#   - the standby's bound never went back, and its lag behind the
#     primary's bound is printed (sequence counters and age of the bound).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use KgTest;

my $PRODUCERS = 8;
my $READERS = 4;
my $SHARDS = 4;
my $DURATION = 20;

my $primary = kg_node(
	'sr_primary',
	init => { allows_streaming => 1 },
	set => {
		max_connections => 40,
		'kinesis_glue.worker_naptime' => '100ms',
		'kinesis_glue.launcher_naptime' => undef,
		'kinesis_glue.standby_bound_interval' => '100ms',
		'kinesis_glue.segment_records' => 4096,
		'kinesis_glue.segments_ahead' => 3,
		'kinesis_glue.segment_interval' => '1s'
	});
$primary->safe_psql(
	'postgres', q{
SELECT kinesis.create_stream('sr', 4);
CREATE TABLE prodlog (client int, k int, j int, shard_id text, seq bigint, data text,
                      PRIMARY KEY (client, k, j));
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('sr_standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

my $sfx = "(CASE WHEN :k % 7 = 0 THEN ':rb' ELSE '' END)";
my $producer_script =
    "\\set k :k + 1\n"
  . "BEGIN;\n"
  . "\\if :k % 2 = 0\n"
  . "INSERT INTO prodlog SELECT :client_id, :k, 0, r.shard_id, r.sequence_number, :client_id || ':' || :k || ':0' || $sfx "
  . "FROM kinesis.put_record('sr', 'p' || :client_id || '-' || (:k % 16), "
  . "convert_to(:client_id || ':' || :k || ':0' || $sfx, 'UTF8')) r;\n"
  . "\\else\n"
  . "INSERT INTO prodlog SELECT :client_id, :k, r.o, r.shard_id, r.sequence_number, :client_id || ':' || :k || ':' || r.o || $sfx "
  . "FROM kinesis.put_records('sr', "
  . "ARRAY(SELECT 'p' || :client_id || '-' || ((:k + g) % 16) FROM generate_series(1, 3) g ORDER BY g), "
  . "ARRAY(SELECT convert_to(:client_id || ':' || :k || ':' || g || $sfx, 'UTF8') FROM generate_series(1, 3) g ORDER BY g)) "
  . "WITH ORDINALITY AS r(shard_id, sequence_number, error_code, error_message, o);\n"
  . "\\endif\n"
  . "\\if :k % 5 = 0\n"
  . "SELECT pg_sleep(0.02 + random() * 0.1);\n"
  . "\\endif\n"
  . "\\if :k % 7 = 0\n"
  . "ROLLBACK;\n"
  . "\\else\n"
  . "COMMIT;\n"
  . "\\endif\n";
my $dir = $primary->basedir;

sub shard_name { return sprintf('shardId-%012d', shift) }

# Reader process $rid (forked): polls every shard of the standby until the
# stop file appears, then reads once more to the end; writes "shard seq data"
# per record, in the order given, to its output file.
sub reader
{
	my ($rid, $out, $stop) = @_;
	open(my $fh, '>', $out) or die "open $out: $!";
	my $psql = $standby->background_psql('postgres', on_error_stop => 1);
	my %after = map { $_ => 'NULL' } 0 .. $SHARDS - 1;
	my %it;
	for my $sh (0 .. $SHARDS - 1)
	{
		$it{$sh} = $psql->query_safe(
			"SELECT kinesis.get_shard_iterator('sr', '" . shard_name($sh) . "', 'TRIM_HORIZON')");
		chomp $it{$sh};
	}
	my $final = 0;
	while (1)
	{
		my $last_round = -e $stop;
		my $got = 0;
		for my $sh (0 .. $SHARDS - 1)
		{
			my $rows;
			if ($rid % 2 == 0)
			{
				$rows = $psql->query_safe(
					"SELECT sequence_number || ' ' || convert_from(data, 'UTF8') "
					  . "FROM kinesis.read_shard('sr', '" . shard_name($sh) . "', $after{$sh}, 300)");
			}
			else
			{
				my $wait = $rid == 1 ? ", '150 ms'" : '';
				my $res = $psql->query_safe(
					"SELECT g.next_shard_iterator || coalesce((SELECT string_agg(E'\\n' || r.sequence_number || ' ' "
					  . "|| convert_from(r.data, 'UTF8'), '' ORDER BY o) FROM unnest(g.records) "
					  . "WITH ORDINALITY AS r(s, sequence_number, a, pk, data, o)), '') "
					  . "FROM kinesis.get_records('$it{$sh}', 300$wait) g");
				my @l = split /\n/, $res;
				$it{$sh} = shift @l;
				$rows = join("\n", @l);
			}
			for my $line (split /\n/, $rows)
			{
				next if $line eq '';
				my ($seq, $data) = split / /, $line, 2;
				print $fh "$sh $seq $data\n";
				$after{$sh} = $seq;
				$got++;
			}
		}
		last if $last_round && $got == 0;
		sleep(0.01) if $got == 0;
	}
	close $fh;
	$psql->quit;
}

my @pids;
my $stop = "$dir/readers.stop";
for my $rid (0 .. $READERS - 1)
{
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		my $ok = eval { reader($rid, "$dir/reader$rid.out", $stop); 1 };
		print STDERR "reader $rid failed: $@" unless $ok;
		POSIX::_exit($ok ? 0 : 1);
	}
	push @pids, $pid;
}

my $t0 = time();
my $load = kg_pgbench($primary, 'producer', $producer_script,
	clients => $PRODUCERS, seconds => $DURATION, define => ['k=0'], timeout => 0);
my $pgbench = $load->{h};

# Sample the bounds while producers run: the standby's replayed one and its
# age, then the primary's (so the difference is the standby's lag).
my @lag;
my $prev_standby = -1;
my $went_back = 0;
while ($pgbench->pumpable && time() - $t0 < $DURATION + 30)
{
	my ($s, $age) = split /\|/, $standby->safe_psql('postgres',
		"SELECT coalesce(last_stable_sequence_number >> 16, -1), "
		  . "coalesce(extract(epoch FROM published_age) * 1000, -1)::int "
		  . "FROM kinesis.stream_stability WHERE stream_name = 'sr'");
	my $p = $primary->safe_psql('postgres',
		"SELECT last_stable_sequence_number >> 16 FROM kinesis.stream_stability WHERE stream_name = 'sr'");
	$went_back++ if $s < $prev_standby;
	$prev_standby = $s;
	push @lag, [ $p - $s, $age ] if $s >= 0;
	$pgbench->pump_nb;
	sleep(0.25);
}
is(kg_finish($load), 0, 'the producers ran without errors') or diag(${ $load->{err} });
my $elapsed = time() - $t0;

# the standby replays everything and the final bound
$primary->wait_for_catchup($standby);
my $final = $primary->safe_psql('postgres',
	"SELECT last_stable_sequence_number FROM kinesis.stream_stability WHERE stream_name = 'sr'");
kg_wait($standby,
	"SELECT last_stable_sequence_number >= $final FROM kinesis.stream_stability WHERE stream_name = 'sr'",
	't', 'the standby to replay the final bound')
  or die 'the standby never replayed the final bound';
PostgreSQL::Test::Utils::append_to_file($stop, "stop\n");
for my $pid (@pids)
{
	waitpid($pid, 0);
	is($?, 0, "reader process $pid ended cleanly");
}

is($went_back, 0, "the standby's replayed bound never went back");
if (@lag)
{
	my @counters = sort { $a <=> $b } map { $_->[0] } @lag;
	my @ages = sort { $a <=> $b } map { $_->[1] } @lag;
	diag(sprintf("standby lag behind the primary's bound over %d samples: counters median %d, max %d; "
			  . "age of the replayed bound median %d ms, max %d ms",
			scalar(@lag), $counters[$#counters / 2], $counters[-1], $ages[$#ages / 2], $ages[-1]));
}

# the committed records, per shard in sequence order
my %committed;
my $total = 0;
for my $line (split /\n/, $primary->safe_psql('postgres',
	"SELECT shard_id, seq, data FROM prodlog ORDER BY shard_id, seq"))
{
	my ($shard, $seq, $data) = split /\|/, $line;
	my ($sh) = $shard =~ /(\d+)$/;
	push @{ $committed{ $sh + 0 } }, "$seq $data";
	$total++;
}
my $rolled_back = $primary->safe_psql('postgres', "SELECT count(*) FROM prodlog WHERE data LIKE '%:rb'");
is($rolled_back, 0, 'the producer log holds no rolled-back record');
cmp_ok($total, '>', 1000, "producers committed $total records in ${\ sprintf('%.0f', $elapsed)} s");

for my $rid (0 .. $READERS - 1)
{
	my %seen;
	my $increasing = 1;
	open(my $fh, '<', "$dir/reader$rid.out") or die $!;
	while (my $line = <$fh>)
	{
		chomp $line;
		my ($sh, $seq, $data) = split / /, $line, 3;
		my $list = $seen{$sh} //= [];
		if (@$list)
		{
			my ($prev) = split / /, $list->[-1];
			$increasing = 0 if $seq <= $prev;
		}
		push @$list, "$seq $data";
	}
	close $fh;
	ok($increasing, "reader $rid: strictly increasing sequence numbers in every shard");
	my $exact = 1;
	for my $sh (0 .. $SHARDS - 1)
	{
		my $got = join(',', @{ $seen{$sh} // [] });
		my $want = join(',', @{ $committed{$sh} // [] });
		if ($got ne $want)
		{
			$exact = 0;
			my %w = map { $_ => 1 } @{ $committed{$sh} // [] };
			my %g = map { $_ => 1 } @{ $seen{$sh} // [] };
			diag("reader $rid shard $sh: " . scalar(grep { !$g{$_} } keys %w) . ' committed records missed, '
				  . scalar(grep { !$w{$_} } keys %g) . ' records not committed');
		}
	}
	ok($exact, "reader $rid read every committed record exactly once, in order, and nothing else");
}

$standby->stop;
$primary->stop;
done_testing();
