
# Concurrent producers and readers of one data stream lose, duplicate and
# reorder nothing (DESIGN.md, "Commit-order safety" and the quality bar of
# at least 8 producers and 4 consumers).
#
# A 4-shard stream gets put load from 8 pgbench producer clients for about
# 15 s: put_record, several puts per transaction, put_records (both forms),
# a put rolled back to a savepoint, and every 7th transaction rolled back.
# Each producer logs every record it puts into an ordinary table in the SAME
# transaction, so the log holds exactly the committed records.  Meanwhile 4
# pgbench reader clients loop over the shards (two with read_shard, two
# with get_records and an iterator kept in a table across transactions),
# storing every record they are given, in the order given, in an unlogged
# table, and a monitor samples kinesis.stream_stability.
#
# Small record segments (4096 numbers) that the worker also closes after
# 1 s make puts and reads cross segment boundaries and counter jumps.
#
# Then, after the readers catch up:
#   - the stream (read_shard over every shard) is exactly the producers' log:
#     nothing lost, nothing duplicated, no rolled-back record, data intact;
#   - per partition key, and per producer over the whole stream, sequence
#     numbers follow the producer's put order;
#   - each reader saw, per shard, strictly increasing sequence numbers, and
#     whenever it saw S it had already seen every committed S' < S of that
#     shard (never N+1 before N); after catching up it saw everything;
#   - the last stable sequence never went back.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);
use KgTest;

my $PRODUCERS = 8;
my $READERS = 4;
my $SHARDS = 4;
my $DURATION = 15;    # seconds of producer load

my $node = kg_node(
	'concurrency',
	set => {
		max_connections => 40,
		'kinesis_glue.worker_naptime' => '100ms',
		'kinesis_glue.launcher_naptime' => undef,
		'kinesis_glue.segment_records' => 4096,
		'kinesis_glue.segments_ahead' => 3,
		'kinesis_glue.segment_interval' => '1s'
	});

$node->safe_psql(
	'postgres', q{
SELECT kinesis.create_stream('conc', 4);

-- what the producers committed: one row per record, written in the
-- producer's transaction
CREATE TABLE prodlog (
    client int, k int, j int,
    shard_id text, seq bigint,
    PRIMARY KEY (client, k, j));

-- what the readers were given, in the order given (id)
CREATE UNLOGGED TABLE obs (
    id bigserial PRIMARY KEY,
    reader int, shard int, seq bigint, pk text, data text,
    at timestamptz DEFAULT clock_timestamp());
CREATE INDEX ON obs (reader, shard, seq);

-- iterators of the get_records readers, kept across transactions
CREATE TABLE reader_pos (reader int, shard int, it text, PRIMARY KEY (reader, shard));

-- samples of kinesis.stream_stability
CREATE UNLOGGED TABLE stab (
    id bigserial PRIMARY KEY, lss bigint, open_producers int);

CREATE FUNCTION shard_name(sh int) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT 'shardId-' || lpad(sh::text, 12, '0') $$;

-- one reader step: read shard sh once and store what was returned.
-- Even readers use read_shard after the highest number they have seen;
-- odd readers use get_records with their stored iterator.
CREATE FUNCTION reader_step(rid int, sh int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    n int;
    after bigint;
    itr text;
    g kinesis.get_records_result;
BEGIN
    IF rid % 2 = 0 THEN
        SELECT max(seq) INTO after FROM obs WHERE reader = rid AND shard = sh;
        INSERT INTO obs (reader, shard, seq, pk, data)
        SELECT rid, sh, t.sequence_number, t.partition_key, convert_from(t.data, 'UTF8')
          FROM kinesis.read_shard('conc', shard_name(sh), after, 97)
               WITH ORDINALITY AS t(shard_id, sequence_number, arrival, partition_key, data, ord)
         ORDER BY t.ord;
        GET DIAGNOSTICS n = ROW_COUNT;
    ELSE
        SELECT p.it INTO itr FROM reader_pos p WHERE reader = rid AND shard = sh;
        IF itr IS NULL THEN
            itr := kinesis.get_shard_iterator('conc', shard_name(sh), 'TRIM_HORIZON');
            INSERT INTO reader_pos VALUES (rid, sh, itr);
        END IF;
        g := kinesis.get_records(itr, 89);
        IF g.next_shard_iterator IS NULL THEN
            RAISE EXCEPTION 'get_records: no next iterator on open shard %', sh;
        END IF;
        UPDATE reader_pos SET it = g.next_shard_iterator WHERE reader = rid AND shard = sh;
        INSERT INTO obs (reader, shard, seq, pk, data)
        SELECT rid, sh, t.sequence_number, t.partition_key, convert_from(t.data, 'UTF8')
          FROM unnest(g.records)
               WITH ORDINALITY AS t(shard_id, sequence_number, arrival, partition_key, data, ord)
         ORDER BY t.ord;
        GET DIAGNOSTICS n = ROW_COUNT;
    END IF;
    RETURN n;
END
$$;
});

# Producer script.  Record (client, k, j): partition key p<client>-<(k+j)%16>,
# data "<client>:<k>:<j>", suffixed ":rb" in transactions that roll back and
# ":sp" when rolled back to a savepoint (neither may ever be read).
my $log_put_record = sub {
	my ($j, $suffix) = @_;
	return
	    "INSERT INTO prodlog SELECT :client_id, :k, $j, r.shard_id, r.sequence_number "
	  . "FROM kinesis.put_record('conc', 'p' || :client_id || '-' || ((:k + $j) % 16), "
	  . "convert_to(:client_id || ':' || :k || ':$j' || $suffix, 'UTF8')) r;\n";
};
my $sfx = "(CASE WHEN :k % 7 = 0 THEN ':rb' ELSE '' END)";
my $producer_script =
    "\\set k :k + 1\n"
  . "\\set kind :k % 5\n"
  . "BEGIN;\n"
  . "\\if :kind = 0\n"
  . $log_put_record->(0, $sfx)
  . "\\elif :kind = 1\n"
  . $log_put_record->(0, $sfx)
  . $log_put_record->(1, $sfx)
  . "INSERT INTO prodlog SELECT :client_id, :k, 1 + r.o, r.shard_id, r.sequence_number "
  . "FROM kinesis.put_records('conc', "
  . "ARRAY(SELECT 'p' || :client_id || '-' || ((:k + 1 + g) % 16) FROM generate_series(1, 3) g ORDER BY g), "
  . "ARRAY(SELECT convert_to(:client_id || ':' || :k || ':' || (1 + g) || $sfx, 'UTF8') FROM generate_series(1, 3) g ORDER BY g)) "
  . "WITH ORDINALITY AS r(shard_id, sequence_number, error_code, error_message, o);\n"
  . "\\elif :kind = 2\n"
  . "INSERT INTO prodlog SELECT :client_id, :k, r.o - 1, r.shard_id, r.sequence_number "
  . "FROM kinesis.put_records('conc', "
  . "ARRAY(SELECT ROW('p' || :client_id || '-' || ((:k + g) % 16), "
  . "convert_to(:client_id || ':' || :k || ':' || g || $sfx, 'UTF8'), NULL)::kinesis.put_records_entry "
  . "FROM generate_series(0, 11) g ORDER BY g)) "
  . "WITH ORDINALITY AS r(shard_id, sequence_number, error_code, error_message, o);\n"
  . "\\elif :kind = 3\n"
  . $log_put_record->(0, $sfx)
  . "SAVEPOINT s;\n"
  . $log_put_record->(1, "':sp'")
  . "ROLLBACK TO SAVEPOINT s;\n"
  . $log_put_record->(2, $sfx)
  . "\\else\n"
  . "INSERT INTO prodlog SELECT :client_id, :k, r.o - 1, r.shard_id, r.sequence_number "
  . "FROM kinesis.put_records('conc', "
  . "ARRAY(SELECT 'p' || :client_id || '-' || ((:k + g) % 16) FROM generate_series(0, 1) g ORDER BY g), "
  . "ARRAY(SELECT convert_to(:client_id || ':' || :k || ':' || g || $sfx, 'UTF8') FROM generate_series(0, 1) g ORDER BY g)) "
  . "WITH ORDINALITY AS r(shard_id, sequence_number, error_code, error_message, o);\n"
  . "\\endif\n"
  . "\\if :k % 7 = 0\n"
  . "ROLLBACK;\n"
  . "\\else\n"
  . "COMMIT;\n"
  . "\\endif\n";

my $reader_script = "\\set sh :sh + 1\n"
  . "SELECT reader_step(:client_id, :sh % $SHARDS);\n";

my $monitor_script =
    "INSERT INTO stab (lss, open_producers) "
  . "SELECT last_stable_sequence_number, open_producers "
  . "FROM kinesis.stream_stability WHERE stream_name = 'conc';\n"
  . "\\sleep 20 ms\n";

my $t0 = time();
my %run = (
	producers => kg_pgbench($node, 'producer', $producer_script,
		clients => $PRODUCERS, seconds => $DURATION, define => ['k=0']),
	readers => kg_pgbench($node, 'reader', $reader_script,
		clients => $READERS, seconds => $DURATION + 1, define => ['sh=-1']),
	monitor => kg_pgbench($node, 'monitor', $monitor_script, seconds => $DURATION + 1));

for my $name (qw(producers readers monitor))
{
	my $r = $run{$name};
	is(kg_finish($r), 0, "pgbench $name ran without errors")
	  or diag("stdout:\n${$r->{out}}\nstderr:\n${$r->{err}}");
	note("$name: " . (kg_transactions($r) // '?') . " transactions");
	$node->safe_psql('postgres',
		"CREATE TABLE IF NOT EXISTS run_end (at timestamptz); INSERT INTO run_end SELECT clock_timestamp()"
	) if $name eq 'producers';
}
note(sprintf("load phase took %.1f s", time() - $t0));

# The producers are done: nothing may be held back any more.
is( $node->safe_psql(
		'postgres',
		"SELECT open_producers, last_stable_sequence_number = current_sequence_number "
		  . "FROM kinesis.stream_stability WHERE stream_name = 'conc'"),
	'0|t',
	'no open producer is left and the last stable sequence is the tip');

# Readers catch up (each step in its own transaction is not needed now).
$node->safe_psql(
	'postgres', qq{
DO \$\$
BEGIN
    FOR rid IN 0 .. $READERS - 1 LOOP
        FOR sh IN 0 .. $SHARDS - 1 LOOP
            WHILE reader_step(rid, sh) > 0 LOOP END LOOP;
        END LOOP;
    END LOOP;
END
\$\$;
});

# The whole stream as read_shard returns it, paging from the trim horizon.
$node->safe_psql(
	'postgres', qq{
CREATE TABLE final (shard int, ord bigint, seq bigint, pk text, data text);
DO \$\$
DECLARE
    after bigint;
    n int;
    base bigint := 0;
BEGIN
    FOR sh IN 0 .. $SHARDS - 1 LOOP
        after := NULL;
        LOOP
            INSERT INTO final
            SELECT sh, base + t.ord, t.sequence_number, t.partition_key, convert_from(t.data, 'UTF8')
              FROM kinesis.read_shard('conc', shard_name(sh), after, 10000)
                   WITH ORDINALITY AS t(shard_id, sequence_number, arrival, partition_key, data, ord);
            GET DIAGNOSTICS n = ROW_COUNT;
            EXIT WHEN n = 0;
            base := base + n;
            SELECT max(seq) INTO after FROM final WHERE shard = sh;
        END LOOP;
    END LOOP;
END
\$\$;
});

my $q = sub { $node->safe_psql('postgres', shift) };

my ($committed, $clients, $min_k) = split /\|/, $q->(
	"SELECT count(*), count(DISTINCT client), min(mk) FROM prodlog, "
	  . "LATERAL (SELECT max(k) AS mk FROM prodlog p2 WHERE p2.client = prodlog.client) m");
note("committed records: $committed");
cmp_ok($committed, '>', 1000, 'the producers committed a fair number of records');
is($clients, $PRODUCERS, 'every producer committed records');
cmp_ok($min_k, '>=', 14, 'every producer ran past at least two rolled-back transactions');
is($q->("SELECT count(*) FROM prodlog WHERE k % 7 = 0 OR (k % 5 = 3 AND j = 1)"),
	0, 'the producer log holds no rolled-back record');
is($q->("SELECT count(DISTINCT shard) FROM final"), $SHARDS, 'records went to every shard');
cmp_ok($q->("SELECT count(DISTINCT seq >> 16) FROM final"), '<', $q->("SELECT max(seq >> 16) - min(seq >> 16) + 1 FROM final"),
	'sequence numbers have gaps (rolled-back puts, closed segments): the run exercised them');
cmp_ok($q->("SELECT count(*) FROM kinesis.segments s JOIN kinesis.streams t USING (stream_id) WHERE t.stream_name = 'conc'"),
	'>', 3, 'the run crossed record segments');

# --- the stream against the producers' log ---
is($q->("SELECT count(*) - count(DISTINCT seq) FROM final"), 0, 'no sequence number is read twice');
is($q->("SELECT count(*) FROM final WHERE seq & 65535 <> shard"), 0, 'every sequence number encodes its shard');
is( $q->(
		"SELECT count(*) FROM (SELECT seq <= lag(seq) OVER (PARTITION BY shard ORDER BY ord) AS bad FROM final) x WHERE bad"
	),
	0,
	'read_shard returns each shard in increasing sequence order');
is($q->("SELECT count(*) FROM final WHERE data LIKE '%:rb' OR data LIKE '%:sp'"), 0,
	'no record of a rolled-back transaction or savepoint is in the stream');
is( $q->(
		"SELECT count(*) FROM final f FULL JOIN prodlog p ON p.seq = f.seq "
		  . "WHERE f.seq IS NULL OR p.seq IS NULL OR f.shard <> substr(p.shard_id, 9)::int "
		  . "OR f.data <> p.client || ':' || p.k || ':' || p.j "
		  . "OR f.pk <> 'p' || p.client || '-' || ((p.k + p.j) % 16)"),
	0,
	'the stream holds exactly the committed records, with their keys and data');
is($q->("SELECT count(*) FROM final"), $committed, 'record count matches the producers');

# --- producer order ---
is( $q->(
		"SELECT count(*) FROM (SELECT (k, j) <= lag((k, j)) OVER (PARTITION BY client, (k + j) % 16 ORDER BY seq) AS bad "
		  . "FROM prodlog) x WHERE bad"),
	0,
	'per partition key, sequence numbers follow the producer order');
is( $q->(
		"SELECT count(*) FROM (SELECT (k, j) <= lag((k, j)) OVER (PARTITION BY client ORDER BY seq >> 16) AS bad "
		  . "FROM prodlog) x WHERE bad"),
	0,
	'per producer, over all shards, sequence counters follow the put order');

# --- what each reader saw ---
is( $q->(
		"SELECT count(*) FROM (SELECT seq <= lag(seq) OVER (PARTITION BY reader, shard ORDER BY id) AS bad FROM obs) x WHERE bad"
	),
	0,
	'each reader got strictly increasing sequence numbers per shard (no repeat, no step back)');
is($q->("SELECT count(*) FROM obs o LEFT JOIN final f USING (seq) WHERE f.seq IS NULL OR f.shard <> o.shard OR f.data <> o.data OR f.pk <> o.pk"),
	0, 'readers were given only committed records, intact');
is( $q->(
		# with increasing order checked above: the n-th record a reader was
		# given in a shard must be the n-th committed record of that shard
		"SELECT count(*) FROM "
		  . "(SELECT reader, shard, seq, row_number() OVER (PARTITION BY reader, shard ORDER BY id) AS n FROM obs) o "
		  . "JOIN (SELECT shard, seq, row_number() OVER (PARTITION BY shard ORDER BY seq) AS n FROM final) f "
		  . "USING (shard, seq) WHERE o.n <> f.n"),
	0,
	'whenever a reader saw S it had already seen every committed record below S in that shard');
is( $q->(
		"SELECT string_agg(n::text, ',' ORDER BY r) FROM (SELECT r, (SELECT count(*) FROM obs WHERE reader = r) AS n "
		  . "FROM generate_series(0, $READERS - 1) r) x"),
	join(',', ($committed) x $READERS),
	'after catching up, every reader saw every committed record');
my $during = $q->(
	"SELECT string_agg(n::text, ',' ORDER BY reader) FROM (SELECT reader, count(*) AS n FROM obs "
	  . "WHERE at < (SELECT at FROM run_end) GROUP BY reader) x");
note("records seen by each reader while the producers ran: $during");
is(scalar(grep { $_ > 0 } split /,/, $during), $READERS, 'every reader read records while the producers ran');

# --- the last stable sequence ---
cmp_ok($q->("SELECT count(*) FROM stab"), '>', 50, 'the monitor sampled the stability view');
is($q->("SELECT count(*) FROM (SELECT lss < lag(lss) OVER (ORDER BY id) AS bad FROM stab) x WHERE bad"),
	0, 'the last stable sequence never went back');
cmp_ok($q->("SELECT count(*) FROM stab WHERE open_producers > 0"), '>', 0, 'the monitor saw open producers');
is($q->("SELECT count(*) FROM stab WHERE open_producers > $PRODUCERS"), 0, 'never more open producers than producers');

$node->stop;
done_testing();
