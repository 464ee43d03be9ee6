
# Firehose file and program destinations, delivered by the background
# worker (src/firehose/objects.c, firehose_delivery.sql):
#   1. JSON lines objects with dynamic partitioning appear on their own
#      after the buffering interval, and gzip objects decompress to the
#      records;
#   2. a program destination gets the batch on its standard input;
#   3. a failing destination (a program that exits 1) is retried with
#      backoff by the worker and, after retry_duration, its records go to
#      the error output; meanwhile another delivery stream keeps delivering;
#   4. exactly once into files across a crash: producers put records (and
#      a ledger row each) while the worker delivers into files; the
#      postmaster is killed with SIGKILL; after the restart every committed
#      record is in exactly one object, nothing else is, no object is
#      partial, no temporary file is left, and every object has its
#      manifest row;
#   5. the worker's start-up recovery renames a committed object left
#      under its temporary name (as a crash between commit and rename
#      leaves it) and removes an uncommitted one.

use strict;
use warnings;

use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $node = kg_node('firehose_files', set => { max_connections => 30, restart_after_crash => 'on' });
my $out = $node->basedir . '/objects';
mkdir $out or die "$out: $!";

sub sql { return kg_sql($node, $_[0]); }

# Files under a directory: (final objects, temporary files)
sub files_under
{
	my ($dir) = @_;
	my (@final, @tmp);
	return ([], []) unless -d $dir;
	find(sub { return unless -f $_; if (/\.kgtmp$/) { push @tmp, $File::Find::name } else { push @final, $File::Find::name } }, $dir);
	return ([ sort @final ], [ sort @tmp ]);
}

# The lines of an object (gunzipped when it ends in .gz)
sub object_lines
{
	my ($path) = @_;
	my $content = $path =~ /\.gz$/ ? `gzip -dc '$path'` : slurp_file($path);
	return split /\n/, $content;
}

sql(qq{
SELECT firehose.create_delivery_stream('parts', destination_directory => '$out/parts',
        prefix => 'kind=!{partitionKeyFromQuery:kind}/', partition_keys => '{"kind": "\$.kind"}',
        buffering_interval => '1 s');
SELECT firehose.create_delivery_stream('zipped', destination_directory => '$out/zipped',
        compression => 'GZIP', buffering_interval => '1 s');
SELECT firehose.create_delivery_stream('piped', destination_program => 'cat >> $out/piped.out',
        buffering_interval => '1 s');
});

# 1. objects by the worker
sql(q{SELECT count(*) FROM firehose.put_record_batch('parts', ARRAY(
        SELECT convert_to(jsonb_build_object('kind', CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END, 'i', i)::text, 'UTF8')
          FROM generate_series(1, 10) i))});
sql(q{SELECT count(*) FROM firehose.put_record_batch('zipped', ARRAY(
        SELECT convert_to(jsonb_build_object('z', i)::text, 'UTF8') FROM generate_series(1, 5) i))});
kg_wait($node, q{SELECT sum(records_delivered) = 15 FROM firehose.delivery_stream_metrics
            WHERE delivery_stream_name IN ('parts', 'zipped')}, 't', 'delivery into files');
my ($final, $tmp) = files_under("$out/parts");
is(scalar(@$final), 2, 'partitions: one object per partition key value');
like($final->[0], qr{^\Q$out\E/parts/kind=even/\d{4}/\d\d/\d\d/\d\d/parts-1-[-\d]+\.jsonl$},
	'partitions: Hive-style folders, default time folders, the object name');
my @even = map { object_lines($_) } grep { /kind=even/ } @$final;
is(join(',', map { /"i": (\d+)/ ? $1 : '?' } @even), '2,4,6,8,10', 'partitions: the even records, in order');
($final, $tmp) = files_under("$out/zipped");
is(scalar(@$final) . ' ' . scalar(@$tmp), '1 0', 'gzip: one object, no temporary file');
is(join(',', map { /"z": (\d+)/ ? $1 : '?' } object_lines($final->[0])), '1,2,3,4,5',
	'gzip: the object decompresses to the records');

# 2. a program
sql(q{SELECT count(*) FROM firehose.put_record_batch('piped', ARRAY['{"p": 1}', '{"p": 2}']::text[]::bytea[])});
kg_wait($node, q{SELECT records_delivered = 2 FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'piped'}, 't',
	'delivery to the program');
is(slurp_file("$out/piped.out"), qq{{"p": 1}\n{"p": 2}\n}, 'program: the batch on its standard input');

# 3. a failing destination does not block the others
sql(qq{
CREATE TABLE healthy (n int);
SELECT firehose.create_delivery_stream('failing', destination_program => 'cat > /dev/null; exit 1',
        retry_duration => '3 s', buffering_interval => '0 s');
SELECT firehose.create_delivery_stream('healthy', 'healthy', buffering_interval => '0 s');
SELECT count(*) FROM firehose.put_record_batch('failing', ARRAY['{"f": 1}', '{"f": 2}']::text[]::bytea[]);
});
kg_wait($node, q{SELECT status = 'FAILING' FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'failing'}, 't',
	'the failing destination to fail');
sql(q{SELECT count(*) FROM firehose.put_record_batch('healthy', ARRAY['{"n": 1}', '{"n": 2}']::text[]::bytea[])});
kg_wait($node, q{SELECT count(*) = 2 FROM healthy}, 't', 'the healthy stream to deliver while the other fails');
is(sql(q{SELECT status FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'failing'}),
	'FAILING', 'failing: still retrying while the healthy one delivered');
kg_wait($node, q{SELECT destination_failed = 2 FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'failing'}, 't',
	'the failing records to reach the error output');
my $attempts = sql(q{SELECT failed_attempts_total FROM firehose.delivery_stream_metrics
                      WHERE delivery_stream_name = 'failing'});
cmp_ok($attempts, '>=', 3, "failing: the worker made several attempts ($attempts)");
cmp_ok($attempts, '<=', 6, 'failing: with backoff, not one per worker round');
is(sql(q{SELECT string_agg(DISTINCT error_code || ' ' || (attempts_made >= 3), ',')
           FROM firehose.delivery_errors e JOIN firehose.delivery_streams USING (delivery_stream_id)
          WHERE delivery_stream_name = 'failing'}), 'DestinationFailed true',
	'failing: DestinationFailed errors with their attempts');

# 4. exactly once into files across a crash
my $PRODUCERS = 4;
my $BATCHES = 400;    # with a pause each, so they still run at the crash
my $BATCH = 50;
sql(qq{
CREATE TABLE ledger (id int PRIMARY KEY);
SELECT firehose.create_delivery_stream('crash', destination_directory => '$out/crash',
        prefix => 'p=!{partitionKeyFromQuery:p}/', partition_keys => '{"p": "\$.producer"}',
        buffering_interval => '0 s');
});
my @producers = kg_firehose_producers($node, 'crash',
	producers => $PRODUCERS, batches => $BATCHES, batch => $BATCH, pause => 0.01, timeout => 60);
kg_wait($node, q{SELECT records_delivered >= 1000 FROM firehose.delivery_stream_metrics
            WHERE delivery_stream_name = 'crash'}, 't', 'first deliveries of the crash stream');
kg_crash($node, @producers);

my $committed = sql(q{SELECT count(*) FROM ledger});
cmp_ok($committed, '>', 0, "crash: $committed records committed before the crash");
kg_wait($node, q{SELECT coalesce(sum(lag_bytes), 0) = 0 FROM kinesis.consumer_positions
            WHERE stream_name = 'firehose-crash'}, 't', 'delivery of everything after the restart');
# the last batch's rename happens at commit, right after the checkpoint moved
usleep(500_000);
($final, $tmp) = files_under("$out/crash");
is(scalar(@$tmp), 0, 'crash: no temporary file is left');
my (%seen, $dups, $bad);
$dups = 0;
$bad = 0;
for my $f (@$final)
{
	for my $line (object_lines($f))
	{
		my ($id, $producer) = $line =~ /^\{"id": (\d+), "payload": "x{200}", "producer": (\d)\}$/;
		if (defined $id && $f =~ m{/p=$producer/})
		{
			$dups++ if $seen{$id}++;
		}
		else
		{
			$bad++;
		}
	}
}
is($bad, 0, 'crash: every line of every object is a whole record in its partition');
is($dups, 0, 'crash: no record is in two objects');
my $ledger = sql(q{SELECT string_agg(id::text, ',' ORDER BY id) FROM ledger});
# (compared whole, but not printed: the lists are long)
ok(join(',', sort { $a <=> $b } keys %seen) eq $ledger, 'crash: the objects hold exactly the committed records')
  or diag('records in objects: ' . scalar(keys %seen) . ", committed: $committed");
is(sql(q{SELECT count(*) || ' ' || sum(records) FROM firehose.delivered_objects o
           JOIN firehose.delivery_streams USING (delivery_stream_id) WHERE delivery_stream_name = 'crash'}),
	scalar(@$final) . " $committed", 'crash: one manifest row per object, with its record count');

# 5. start-up recovery of a crash between commit and rename
my ($id, $xid) = split /\|/, sql(qq{
INSERT INTO firehose.delivered_objects (delivery_stream_id, object_path, first_sequence_number,
        last_sequence_number, records, bytes)
SELECT delivery_stream_id, '$out/zipped/late.jsonl.gz', 1, 1, 1, 1
  FROM firehose.delivery_streams WHERE delivery_stream_name = 'zipped'
RETURNING delivery_stream_id, writer_xid});
open(my $fh, '>', "$out/zipped/.late.jsonl.gz.$id.$xid.kgtmp") or die $!;
print $fh "committed\n";
close $fh;
open($fh, '>', "$out/zipped/.early.jsonl.gz.$id.3.kgtmp") or die $!;
print $fh "uncommitted\n";
close $fh;
$node->restart;
ok( kg_poll(
		sub { ($final, $tmp) = files_under("$out/zipped"); !@$tmp },
		'no temporary file under zipped'),
	'recovery: the worker left no temporary file');
ok(-f "$out/zipped/late.jsonl.gz", 'recovery: the committed object has its final name');
is(slurp_file("$out/zipped/late.jsonl.gz"), "committed\n", 'recovery: with its content');
ok(!-e "$out/zipped/early.jsonl.gz", 'recovery: the uncommitted object was removed, not renamed');

$node->stop;
done_testing();
