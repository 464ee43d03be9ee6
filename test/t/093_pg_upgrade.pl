
# pg_upgrade of a cluster that uses kinesis_glue (issue 16 item 2), from one
# cluster to a fresh one of the same major version (copy mode; --link and
# --clone go through the same schema restore).  The storage is
# recreated by pg_upgrade's binary-upgrade restore with its OIDs and the
# data files are carried over: afterwards the streams read back with the
# same sequence numbers, puts are numbered above every old number (also
# past the old segments: the worker creates new ones), new streams get new
# ids, the video stream reads and takes fragments, and the storage is
# guarded again.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KgTest;

my %set = (
	max_worker_processes => undef,
	'kinesis_glue.launcher_naptime' => '100ms',
	'kinesis_glue.segment_records' => 1024);

my $old = kg_node('old', set => \%set);

$old->safe_psql('postgres', q{
	CREATE ROLE app LOGIN;
	GRANT CREATE ON SCHEMA kinesis_records, kinesis_video_media TO app;
	SET ROLE app;
	SELECT kinesis.create_stream('orders', 2);
	SELECT kinesis_video.create_stream('cam', 'video/h264', 24);
	SELECT kinesis_video.put_media('cam', '\x1a45dfa3', now(), 2000, '{"m": "1"}');
});
kg_put_orders($old, 'postgres', 1, 3000);    # several segments
my $records = kg_orders_digest($old, 'postgres');
my $max_seq = $old->safe_psql('postgres', 'SELECT max(sequence_number) FROM kinesis_records.orders');
my $fragments_q = q{SELECT string_agg(fragment_number::text, ',' ORDER BY fragment_number) FROM kinesis_video.list_fragments('cam')};
my $fragments = $old->safe_psql('postgres', $fragments_q);
$old->stop;

my $new = kg_node('new', set => \%set, start => 0);

my $bindir = `pg_config --bindir`;
chomp $bindir;
my $tmp = PostgreSQL::Test::Utils::tempdir;
chdir $tmp;    # pg_upgrade writes its logs and sockets here
command_ok(
	[
		'pg_upgrade', '--no-sync',
		'-d', $old->data_dir, '-D', $new->data_dir,
		'-b', $bindir, '-B', $bindir,
		'-s', $new->host, '-p', $old->port, '-P', $new->port
	],
	'pg_upgrade succeeds');
$new->start;

is(kg_orders_digest($new, 'postgres'), $records, 'the same records with the same sequence numbers');
my $max_new = kg_put_orders($new, 'postgres', 3001, 5000);
cmp_ok($max_new, '>', $max_seq, 'puts after pg_upgrade are numbered above every old number');
is($new->safe_psql('postgres', q{SELECT count(*) = count(DISTINCT sequence_number) AND count(*) = 5000
	FROM kinesis_records.orders}), 't', 'no sequence number is used twice');
is(kg_read_count($new, 'postgres', 2),
	5000, 'the stream reads back, old and new');
$new->safe_psql('postgres', q{SET ROLE app; SELECT kinesis.create_stream('more', 1)});
is($new->safe_psql('postgres', 'SELECT count(DISTINCT stream_id) FROM kinesis.streams'), 2, 'a new stream gets a new id');
is($new->safe_psql('postgres', $fragments_q), $fragments, 'the video fragments read back');
cmp_ok($new->safe_psql('postgres', q{SET ROLE app;
	SELECT fragment_number FROM kinesis_video.put_media('cam', '\x1a45dfa4', now(), 2000, '{"m": "2"}')}),
	'>', $fragments, 'new fragments are numbered above the old ones');
my ($rc, $out, $err) = $new->psql('postgres', 'CREATE INDEX ON kinesis_records.orders (partition_key)');
like($err, qr/AccessDeniedException: cannot index the record storage/, 'the storage is guarded after pg_upgrade');
$new->stop;
done_testing();
