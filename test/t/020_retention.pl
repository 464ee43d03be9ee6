
# Retention (reference 1.8; DESIGN.md: records live in time-ordered segments
# that the worker drops whole once they are past the retention period).
#
# The test aid kinesis_glue.retention_clock_offset moves the retention clock
# forward, so 24 hours pass in a reload.  Segments close after 1 s
# (kinesis_glue.segment_interval) and the worker runs every 200 ms.
#
#   A. Records put before a gap of a few seconds ("old") and after it
#      ("new"); a shard split before the gap.  The clock is moved so that
#      the 24 h horizon falls inside the gap: the worker drops the old
#      segments (their relations and their kinesis.segments rows go), the
#      new ones stay; TRIM_HORIZON moves forward (read_shard and get_records
#      from TRIM_HORIZON return only the new records); the split parent,
#      all of whose data expired, disappears from list_shards and cannot be
#      read any more; its children stay.
#   B. increase_stream_retention_period stops trimming: after an increase
#      from 24 h to 48 h, records 30 h old by the retention clock stay
#      readable and their closed segment is not dropped.
#   C. decrease_stream_retention_period makes older records unreadable at
#      once, even before the worker drops anything (the records sit in the
#      current segment, which is never dropped); increasing the retention
#      again does not bring them back (reference 1.8: an increase "never
#      resurrects already-expired data").
#   E. Readers holding locks do not stall the worker (which serves all the
#      streams of the database): a transaction that selected from a record
#      table (as pg_dump does) is still open when a segment of that stream
#      expires, or when that stream needs a new segment.  Other streams
#      still get new segments meanwhile, and the work is done once the
#      reader is gone.
#   D. delete_stream frees the storage: no relation of the stream remains
#      in pg_class, no row in kinesis.segments.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $node = kg_node(
	'retention',
	set => {
		'kinesis_glue.launcher_naptime' => '100ms',
		'kinesis_glue.segment_interval' => '1s',
		'kinesis_glue.segment_records' => 1024,
		'kinesis_glue.segment_wait' => '3s'
	});

sub sql { return kg_sql($node, shift) }

sub segments_of
{
	my ($stream) = @_;
	return "SELECT g.segment_no, g.relation::text, g.closed_at FROM kinesis.segments g "
	  . "JOIN kinesis.streams s USING (stream_id) WHERE s.stream_name = '$stream'";
}

$node->safe_psql('postgres', q{
-- put n records, all to the shard owning hash key h, keys prefix-1..n
CREATE FUNCTION put_n(stream text, prefix text, n int, h numeric) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*) FROM kinesis.put_records(stream,
        ARRAY(SELECT ROW(prefix || '-' || i, convert_to(prefix || '-' || i, 'UTF8'), h)::kinesis.put_records_entry
                FROM generate_series(1, n) i))
     WHERE error_code IS NULL
$$;
CREATE FUNCTION shard(i int) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT 'shardId-' || lpad(i::text, 12, '0') $$;
-- the partition keys read_shard returns from the trim horizon, as one string
CREATE FUNCTION keys_of(stream text, sh int) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(DISTINCT split_part(partition_key, '-', 1), ',' ORDER BY split_part(partition_key, '-', 1)), '')
           || ':' || count(*)
      FROM kinesis.read_shard(stream, shard(sh), NULL, 10000)
$$;
});
ok(kg_wait_worker($node), 'the kinesis_glue worker runs');

my $MAX = '340282366920938463463374607431768211455';

# --- A. the worker drops expired segments; the trim horizon moves ---
sql("SELECT kinesis.create_stream('ret', 2)");
is(sql("SELECT put_n('ret', 'old', 50, 0) + put_n('ret', 'old', 50, $MAX)"), 100, 'A: old records put');
sql("SELECT kinesis.split_shard('ret', 'shardId-000000000001', 255211775190703847597530955573826158592)");
ok(kg_wait($node, "SELECT closed_at IS NOT NULL FROM (" . segments_of('ret') . ") g WHERE segment_no = 0"),
	'A: the worker closed the segment of the old records');
my @old = split /\n/, sql("SELECT segment_no || ' ' || relation FROM (" . segments_of('ret') . ") g WHERE closed_at IS NOT NULL ORDER BY 1");
my $old_closed = sql("SELECT greatest((SELECT max(closed_at) FROM (" . segments_of('ret') . ") g),
                                      (SELECT max(closed_at) FROM kinesis.shards h JOIN kinesis.streams s USING (stream_id)
                                        WHERE s.stream_name = 'ret'))");
note("old segments: @old; last closed at $old_closed");
cmp_ok(scalar(@old), '>=', 1, 'A: at least one closed segment holds old records');
# the gap between old and new records
sleep(6);
my $new_from = sql("SELECT clock_timestamp()");
is(sql("SELECT put_n('ret', 'new', 40, 0) + put_n('ret', 'new', 30, $MAX) + put_n('ret', 'new', 30, 170141183460469231731687303715884105728)"),
	100, 'A: new records put');
is(sql("SELECT count(*) FROM kinesis.list_shards('ret')"), 4, 'A: before expiry list_shards shows the parent and its children');
is(sql("SELECT keys_of('ret', 0)"), 'new,old:90', 'A: before expiry shard 0 reads old and new records');
is(sql("SELECT count(*) FROM (" . segments_of('ret') . ") g WHERE segment_no = ANY('{" . join(',', map { (split / /)[0] } @old) . "}')"),
	scalar(@old), 'A: before expiry the old segments are listed');

# the 24 h horizon 1.5 to 2.5 s after the old data closed: inside the gap
# (the setting has a unit of seconds; rounding down keeps the horizon at
# or before the target)
my $t0 = time();
my $offset = sql("SELECT floor(extract(epoch FROM ('$old_closed'::timestamptz + interval '2.5 s'
                                                   + interval '24 hours' - clock_timestamp())))::int");
note("retention_clock_offset = $offset s");
kg_set_conf($node, 'kinesis_glue.retention_clock_offset' => $offset);
my $old_list = join(',', map { (split / /)[0] } @old);
ok( kg_wait($node, "SELECT count(*) = 0 FROM (" . segments_of('ret') . ") g WHERE segment_no = ANY('{$old_list}')"),
	'A: the worker dropped the old segments from kinesis.segments');
note(sprintf('A: expiry seen %.2f s after the reload', time() - $t0));
for my $o (@old)
{
	my ($no, $rel) = split / /, $o;
	is(sql("SELECT to_regclass('$rel') IS NULL"), 't', "A: relation $rel of segment $no is gone");
}
is(sql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'kinesis_segments'
           AND c.relname = ANY (ARRAY(SELECT split_part(r, '.', 2) FROM unnest('{" . join(',', map { (split / /)[1] } @old) . "}'::text[]) r))"),
	0, 'A: pg_class has none of the old segment relations');
is(sql("SELECT keys_of('ret', 0)"), 'new:40', 'A: read_shard from TRIM_HORIZON returns only the new records of shard 0');
is(sql("SELECT count(*) FILTER (WHERE x.partition_key LIKE 'new-%') || '/' || count(*)
          FROM kinesis.get_records(kinesis.get_shard_iterator('ret', 'shardId-000000000000', 'TRIM_HORIZON')) r,
               unnest(r.records) x"),
	'40/40', 'A: get_records from a TRIM_HORIZON iterator returns only the new records');
is(sql("SELECT string_agg(shard_id, ',' ORDER BY shard_id) FROM kinesis.list_shards('ret')"),
	'shardId-000000000000,shardId-000000000002,shardId-000000000003',
	'A: the expired parent shard no longer appears in list_shards; its children do');
my ($rc, $out, $err) = $node->psql('postgres', "SELECT count(*) FROM kinesis.read_shard('ret', 'shardId-000000000001')");
like($err, qr/ResourceNotFoundException/, 'A: the expired parent cannot be read');
($rc, $out, $err) = $node->psql('postgres', "SELECT kinesis.get_shard_iterator('ret', 'shardId-000000000001', 'TRIM_HORIZON')");
like($err, qr/ResourceNotFoundException/, 'A: nor can an iterator be had for it');
is(sql("SELECT keys_of('ret', 2) || ' ' || keys_of('ret', 3)"), 'new:30 new:30', 'A: the children keep their records');
is(sql("SELECT open_shard_count FROM kinesis.describe_stream_summary('ret')"), 3, 'A: three open shards');
is(sql("SELECT put_n('ret', 'later', 5, 0)"), 5, 'A: puts go on after the expiry');

# --- B. increase_stream_retention_period stops trimming ---
kg_set_conf($node, 'kinesis_glue.retention_clock_offset' => 0);
sql("SELECT kinesis.create_stream('inc', 1)");
is(sql("SELECT put_n('inc', 'inc', 20, 0)"), 20, 'B: records put');
# close the segment: the next put goes to a new one
ok(kg_wait($node, "SELECT count(*) >= 1 FROM (" . segments_of('inc') . ") g WHERE closed_at IS NOT NULL"),
	'B: the segment of the records closed');
my @inc_closed = split /\n/, sql("SELECT relation FROM (" . segments_of('inc') . ") g WHERE closed_at IS NOT NULL");
sql("SELECT kinesis.increase_stream_retention_period('inc', interval '48 hours')");
# 30 h later by the retention clock: past the old period, within the new
kg_set_conf($node, 'kinesis_glue.retention_clock_offset' => 30 * 3600);
# the worker has seen the new clock once it dropped every closed segment
# of 'ret' (24 h)
ok(kg_wait($node, "SELECT count(*) = 0 FROM (" . segments_of('ret') . ") g WHERE closed_at IS NOT NULL"),
	'B: the worker moved its retention clock 30 h (closed segments of the 24 h stream are gone)');
sleep(1);    # a few more worker rounds
is(sql("SELECT keys_of('inc', 0)"), 'inc:20', 'B: after the increase, records 30 h old are still readable');
is(sql("SELECT count(*) FROM unnest('{" . join(',', @inc_closed) . "}'::text[]) r WHERE to_regclass(r) IS NOT NULL"),
	scalar(@inc_closed), 'B: and their closed segment was not dropped');

# --- C. decrease_stream_retention_period: unreadable at once, before any drop ---
kg_set_conf($node, 'kinesis_glue.retention_clock_offset' => 0);
kg_set_conf($node, 'kinesis_glue.segment_interval' => '1h');
sleep(1);    # the worker has reloaded: a new stream's segment stays current
sql("SELECT kinesis.create_stream('dec', 1, retention_period => interval '48 hours')");
is(sql("SELECT put_n('dec', 'dec', 20, 0)"), 20, 'C: records put');
kg_set_conf($node, 'kinesis_glue.retention_clock_offset' => 30 * 3600);
my $dec_seg = sql("SELECT relation FROM (" . segments_of('dec') . ") g WHERE segment_no = 0");
is(sql("SELECT keys_of('dec', 0)"), 'dec:20', 'C: records 30 h old are readable with 48 h retention');
sql("SELECT kinesis.decrease_stream_retention_period('dec', interval '24 hours')");
is(sql("SELECT keys_of('dec', 0)"), ':0', 'C: right after the decrease to 24 h they are not');
is(sql("SELECT count(*) FROM kinesis.get_records(kinesis.get_shard_iterator('dec', 'shardId-000000000000', 'TRIM_HORIZON')) r, unnest(r.records)"),
	0, 'C: nor through get_records');
is(sql("SELECT to_regclass('$dec_seg') IS NOT NULL"), 't', 'C: although their segment still exists (it was not dropped)');
sql("SELECT kinesis.increase_stream_retention_period('dec', interval '48 hours')");
is(sql("SELECT keys_of('dec', 0)"), ':0', 'C: increasing the retention again does not bring expired records back');
kg_set_conf($node, 'kinesis_glue.segment_interval' => '1s');

# --- E. readers holding locks do not stall the worker ---
# The worker serves every stream of the database, one after the other; a
# lock it waits for stops the upkeep of them all (and readers queue behind
# its waiting lock request).  A transaction that selected from a stream's
# record table (SELECT is the read privilege; pg_dump does the same) holds
# AccessShareLock on it and its segments until it ends.
#   E1: such a transaction is still open when a segment of that stream
#       expires (dropping it needs AccessExclusiveLock);
#   E2: such a transaction is still open when that stream needs a new
#       segment (CREATE TABLE ... PARTITION OF locks the record table).
# Meanwhile other streams must still get new segments (puts that need them
# succeed within kinesis_glue.segment_wait) and the worker must not sit in
# a lock wait; once the readers are gone, the work is done.  (The other
# streams keep a 48 h retention: with the clock 25 h ahead, a 24 h stream's
# segments would expire as soon as they close, under their open puts.)
sub worker_lock_wait_diag
{
	return "the worker waits for: "
	  . sql("SELECT string_agg(l.locktype || ' ' || coalesce(l.relation::regclass::text, '') || ' ' || l.mode, ', ')
	           FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	          WHERE a.backend_type = 'kinesis_glue worker' AND NOT l.granted")
	  . "; doing: " . sql("SELECT query FROM pg_stat_activity WHERE backend_type = 'kinesis_glue worker'");
}
sub worker_free
{
	my ($what) = @_;
	is(sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue worker' AND wait_event_type = 'Lock'"),
		0, "$what: the worker is not waiting for a lock")
	  or diag(worker_lock_wait_diag());
}
# 8 x 500 records: more than the segments the worker made ahead (3 x 1,024 numbers)
sub other_stream_puts
{
	my ($what, $stream) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "SELECT sum(put_n('$stream', 'p' || g, 500, 0)) FROM generate_series(1, 8) g");
	is($out, 4000, "$what: puts to another stream that need new segments succeed meanwhile")
	  or diag("$what: put to $stream: $err; " . worker_lock_wait_diag());
}
kg_set_conf($node, 'kinesis_glue.retention_clock_offset' => 0);
sql("SELECT kinesis.create_stream('blk', 1)");
sql("SELECT kinesis.create_stream('oth', 1, retention_period => interval '48 hours')");
is(sql("SELECT put_n('blk', 'blk', 10, 0)"), 10, 'E1: records put');
ok(kg_wait($node, "SELECT count(*) >= 1 FROM (" . segments_of('blk') . ") g WHERE closed_at IS NOT NULL AND segment_no = 0"),
	'E1: their segment closed');
my $blk_seg = sql("SELECT relation FROM (" . segments_of('blk') . ") g WHERE segment_no = 0");
my $reader = $node->background_psql('postgres', on_error_stop => 0);
$reader->query_safe("BEGIN");
is($reader->query_safe("SELECT count(*) FROM kinesis_records.blk"), 10,
	'E1: a transaction selects them from the record table and stays open');
kg_set_conf($node, 'kinesis_glue.retention_clock_offset' => 25 * 3600);
sleep(1);
other_stream_puts('E1', 'oth');
worker_free('E1');
$reader->query_safe("COMMIT");
ok(kg_wait($node, "SELECT to_regclass('$blk_seg') IS NULL"), 'E1: once the reader is gone the expired segment is dropped');
kg_set_conf($node, 'kinesis_glue.retention_clock_offset' => 0);

sql("SELECT kinesis.create_stream('blk2', 1)");
sql("SELECT kinesis.create_stream('oth2', 1, retention_period => interval '48 hours')");
ok(kg_wait($node, "SELECT max(segment_no) >= 2 FROM (" . segments_of('blk2') . ") g"),
	'E2: the worker made the segments ahead of a new stream');
my $blk2_max = sql("SELECT max(segment_no) FROM (" . segments_of('blk2') . ") g");
$reader->query_safe("BEGIN");
$reader->query_safe("SELECT count(*) FROM kinesis_records.blk2");
# 3 x 500 records: the stream moves to its next segment and needs one more ahead
is(sql("SELECT sum(put_n('blk2', 'p' || g, 500, 0)) FROM generate_series(1, 3) g"), 1500,
	'E2: puts to the stream selected from, within the segments made ahead');
sleep(1);
other_stream_puts('E2', 'oth2');
worker_free('E2');
$reader->query_safe("COMMIT");
$reader->quit;
ok(kg_wait($node, "SELECT max(segment_no) > $blk2_max FROM (" . segments_of('blk2') . ") g"),
	'E2: once the reader is gone the stream gets its new segment');

# --- D. delete_stream frees the storage ---
my %ids;
for my $s (qw(ret inc dec blk oth blk2 oth2))
{
	$ids{$s} = sql("SELECT stream_id FROM kinesis.streams WHERE stream_name = '$s'");
	my $table = sql("SELECT record_table::text FROM kinesis.streams WHERE stream_name = '$s'");
	cmp_ok(sql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	             WHERE n.nspname = 'kinesis_segments' AND c.relname LIKE 's$ids{$s}\\_%'"),
		'>', 0, "D: stream $s has segment relations");
	sql("SELECT kinesis.delete_stream('$s')");
	is(sql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	         WHERE n.nspname = 'kinesis_segments' AND c.relname LIKE 's$ids{$s}\\_%'"),
		0, "D: after delete_stream('$s') no segment relation of it remains");
	is(sql("SELECT to_regclass('$table') IS NULL"), 't', "D: its record table $table is gone");
	is(sql("SELECT count(*) FROM kinesis.segments WHERE stream_id = $ids{$s}"), 0, "D: no kinesis.segments row of it remains");
}
is(sql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('kinesis_segments', 'kinesis_records')"),
	0, 'D: kinesis_segments and kinesis_records are empty');
# the worker is still fine
ok(kg_wait_worker($node, within => 10), 'the worker is still running');

$node->stop;
done_testing();
