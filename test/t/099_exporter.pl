
# The postgres_exporter queries file (contrib/prometheus/kinesis_glue_queries.yaml):
# a cluster with a data stream, a named consumer, a failing event source
# mapping, two delivery streams (one delivering, one stopped), Glue job runs,
# a crawl and a video stream; postgres_exporter (Debian's
# prometheus-postgres-exporter) runs with the file on 127.0.0.1 and a free
# port; /metrics is read over HTTP and each kind of metric is checked against
# what was done (and, for figures that depend on the clock or the storage,
# against the same figure read in SQL):
#   1. stream: the sequence counter rises by exactly the records put, open
#      shards, segments' storage bytes, and an open producer transaction as
#      unstable records, open producers and the oldest producer's age;
#   2. consumer: lag in records, bytes and seconds after consuming part;
#   3. mapping: state, the failing function's attempts, last error, lag;
#   4. Firehose: delivered counters, a stopped stream's backlog and freshness;
#   5. Glue: job runs and crawls by state with their durations;
#   6. video: fragments, bytes, media seconds, newest fragment, a stream
#      processor's counters; the worker is up;
#   7. every metric the Grafana dashboard plots is exported.
# Skipped (with a message) when the exporter binary is not installed.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HTTP::Tiny;
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use Time::HiRes qw(time usleep);
use KgTest;

my ($exporter) = grep { defined $_ && -x $_ } $ENV{KG_POSTGRES_EXPORTER},
  '/usr/bin/prometheus-postgres-exporter', '/usr/bin/postgres_exporter',
  '/usr/local/bin/postgres_exporter';
plan skip_all =>
  'postgres_exporter is not installed (Debian: apt-get install prometheus-postgres-exporter)'
  unless $exporter;

my $queries = abs_path(dirname(__FILE__) . '/../../contrib/prometheus/kinesis_glue_queries.yaml');
ok(-r $queries, "queries file $queries");

my $node = kg_node('exporter', set => { max_worker_processes => 20 });

sub sql { return kg_sql($node, $_[0]); }

#
# What the metrics describe.
#
my $lake = $node->basedir . '/lake';
mkdir $lake or die "mkdir $lake: $!";
open(my $fh, '>', "$lake/sales.csv") or die;
print $fh "id,amount\n1,10.5\n2,20\n";
close $fh;

sql(q{
SELECT kinesis.create_stream('orders', 1);
SELECT count(*) FROM kinesis.put_records('orders', ARRAY['a','b','c','d','e'],
                                         ARRAY['one','two','three','four','five']::bytea[]);
SELECT kinesis.register_stream_consumer('orders', 'billing');
SELECT count(*) FROM kinesis.consume('orders', 'billing', max_records => 2);

SELECT kinesis.create_stream('events', 1);
CREATE FUNCTION always_fails(recs kinesis.record[]) RETURNS void LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'downstream is down'; END $$;
SELECT kinesis.create_event_source_mapping('events', 'always_fails', starting_position => 'TRIM_HORIZON');
SELECT count(*) FROM kinesis.put_records('events', ARRAY['k','k','k','k'], ARRAY['1','2','3','4']::bytea[]);

CREATE TABLE audit (id int PRIMARY KEY);
SELECT firehose.create_delivery_stream('audit', 'audit', buffering_interval => '0 s');
SELECT count(*) FROM firehose.put_record_batch('audit', ARRAY['{"id": 1}', '{"id": 2}', '{"id": 3}']::text[]::bytea[]);
CREATE TABLE held (id int PRIMARY KEY);
SELECT firehose.create_delivery_stream('held', 'held', buffering_interval => '0 s');
SELECT firehose.stop_delivery_stream('held');
SELECT count(*) FROM firehose.put_record_batch('held', ARRAY['{"id": 1}', '{"id": 2}']::text[]::bytea[]);

SELECT glue.create_job('nightly', script => 'SELECT 1');
SELECT glue.create_job('broken', script => 'SELECT 1 / 0');
SELECT glue.create_database('lake');
});
sql(qq{SELECT glue.create_crawler('lake', 'lake', targets => '{"directory_targets": [{"path": "$lake"}]}')});
sql(q{SELECT glue.start_crawler('lake')});
for my $job (qw(nightly nightly broken))
{
	sql(qq{CALL glue.run_job('$job', run_id => NULL, state => NULL, error_message => NULL)});
}
sql(q{
SELECT kinesis_video.create_stream('cam', data_retention_in_hours => 1);
SELECT kinesis.create_stream('detections', 1);
CREATE FUNCTION detect(f kinesis_video.fragment) RETURNS jsonb LANGUAGE sql AS
    $$ SELECT jsonb_build_object('size', f.fragment_size_in_bytes) $$;
SELECT kinesis_video.create_stream_processor('cam-detect', 'cam', 'detect', 'detections');
SELECT kinesis_video.put_media('cam', decode(repeat('ab', 1000), 'hex'), clock_timestamp(), 2000) FROM generate_series(1, 3);
});

kg_wait($node, q{SELECT count(*) = 3 FROM audit}, 't', 'the delivery of audit');
kg_wait($node, q{SELECT last_processing_result = 'function error, retrying' FROM kinesis.event_source_mappings}, 't',
	'the mapping to fail');
kg_wait($node, q{SELECT state = 'SUCCEEDED' FROM glue.crawls}, 't', 'the crawl');
kg_wait($node, q{SELECT fragments_processed = 3 FROM kinesis_video.stream_processor_status}, 't', 'the video processor');

# An open producer transaction holds back the stream's readers.
my $producer = $node->background_psql('postgres');
$producer->query_safe(q{BEGIN});
$producer->query_safe(q{SELECT kinesis.put_record('orders', 'late', 'six')});
usleep(1_100_000);

#
# The exporter.
#
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $user = sql('SELECT current_user');
my $exporter_log = $node->basedir . '/postgres_exporter.log';
local $ENV{DATA_SOURCE_NAME} =
  'host=' . $node->host . ' port=' . $node->port . " user=$user dbname=postgres sslmode=disable";
# stopped at the end, and also when the script dies half-way
my $h;
END { local $?; $h->kill_kill if defined $h && $h->pumpable; }
$h = IPC::Run::start(
	[
		$exporter, "--web.listen-address=127.0.0.1:$port",
		"--extend.query-path=$queries", '--disable-settings-metrics',
		'--log.level=info'
	],
	'<', \undef, '>&', $exporter_log);
my $http = HTTP::Tiny->new(timeout => 30);
my $url = "http://127.0.0.1:$port/metrics";

# Fetch /metrics: { name => [ [ {labels}, value ], ... ] }
sub scrape
{
	my $res;
	kg_poll(sub { $res = $http->get($url); $res->{success} }, "an answer from $url")
	  or die "no answer from $url: $res->{status} $res->{content}";
	my %m;
	for my $line (split /\n/, $res->{content})
	{
		next if $line =~ /^#/ || $line !~ /\S/;
		my ($name, $labels, $value) = $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
		  or next;
		my %l;
		$l{$1} = $2 while defined $labels && $labels =~ /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
		$value = 'NaN' if $value eq 'NaN';
		push @{ $m{$name} }, [ \%l, $value ];
	}
	return \%m;
}

# The value of the one series of $name whose labels include %$want.
sub metric
{
	my ($m, $name, %want) = @_;
	my @hits = grep {
		my $l = $_->[0];
		!grep { !defined $l->{$_} || $l->{$_} ne $want{$_} } keys %want
	} @{ $m->{$name} // [] };
	return undef unless @hits == 1;
	return $hits[0][1];
}

my $m = scrape();
my $stream = sub { metric($m, "kinesis_stream_$_[0]", stream_name => 'orders') };

# 1. stream
my $counter_sql = sql(q{SELECT (current_sequence_number + 1) >> 16 FROM kinesis.stream_stability WHERE stream_name = 'orders'});
is($stream->('sequence_counter'), $counter_sql, 'stream: sequence counter as the stability view says');
is($stream->('open_shards'), 1, 'stream: one open shard');
is($stream->('open_producers'), 1, 'stream: one open producer');
is($stream->('unstable_records'), 1, 'stream: the open producer holds back one record');
my $age = $stream->('oldest_producer_age_seconds');
ok($age >= 1 && $age < 120, "stream: oldest producer age $age s");
is($stream->('storage_bytes'),
	sql(q{SELECT sum(pg_total_relation_size(relation)) FROM kinesis.segments JOIN kinesis.streams USING (stream_id)
           WHERE stream_name = 'orders'}),
	'stream: storage bytes of the segments');
ok($stream->('storage_bytes') > 0, 'stream: storage bytes are not zero');

# 2. consumer: 5 put, 2 consumed (the open producer's record is not readable yet)
my $consumer = sub { metric($m, "kinesis_consumer_$_[0]", stream_name => 'orders', consumer_name => 'billing') };
is($consumer->('lag_records'), 3, 'consumer: 3 records behind');
is($consumer->('lag_bytes'),
	sql(q{SELECT sum(lag_bytes) FROM kinesis.consumer_positions WHERE consumer_name = 'billing'}),
	'consumer: lag in bytes');
ok($consumer->('lag_seconds') > 1, 'consumer: lag in seconds: the oldest unread record is over a second old');

# 3. mapping
my $mapping = sub { metric($m, "kinesis_mapping_$_[0]", stream_name => 'events') };
is($mapping->('enabled'), 1, 'mapping: enabled');
is(scalar(grep { $_->[0]{state} eq 'Enabled' && $_->[0]{last_processing_result} eq 'function error, retrying' }
	  @{ $m->{kinesis_mapping_enabled} // [] }), 1, 'mapping: state and last result labels');
ok($mapping->('failed_attempts') >= 1, 'mapping: failed attempts counted');
ok($mapping->('last_error_timestamp_seconds') > time() - 120, 'mapping: last error time is recent');
is($mapping->('lag_records'), 4, 'mapping: 4 records not processed');

# 4. Firehose
my $fh_m = sub { metric($m, "firehose_delivery_stream_$_[0]", delivery_stream_name => $_[1]) };
is($fh_m->('records_delivered', 'audit'), 3, 'firehose: 3 records delivered');
is($fh_m->('incoming_records', 'audit'), 3, 'firehose: 3 records in');
is($fh_m->('backlog_records', 'audit'), 0, 'firehose: no backlog when delivered');
is($fh_m->('active', 'audit'), 1, 'firehose: audit is active');
is($fh_m->('destination_failed', 'audit'), 0, 'firehose: no failures');
is($fh_m->('stopped', 'held'), 1, 'firehose: held is stopped');
is($fh_m->('backlog_records', 'held'), 2, 'firehose: held has a backlog of 2');
ok($fh_m->('data_freshness_seconds', 'held') > 1, 'firehose: held has stale data');

# 5. Glue
my $runs = sub { metric($m, "glue_job_runs_$_[0]", job_name => $_[1], state => $_[2]) };
is($runs->('runs', 'nightly', 'SUCCEEDED'), 2, 'glue: two successful runs of nightly');
is($runs->('runs', 'broken', 'FAILED'), 1, 'glue: one failed run of broken');
my $dur = sql(q{SELECT sum(extract(epoch FROM completed_on - started_on)) FROM glue.job_runs JOIN glue.jobs USING (job_id)
                 WHERE job_name = 'nightly'});
ok(abs($runs->('duration_seconds_sum', 'nightly', 'SUCCEEDED') - $dur) < 0.001,
	"glue: run durations ($dur s)");
is(metric($m, 'glue_crawls_crawls', crawler_name => 'lake', state => 'SUCCEEDED'), 1, 'glue: one crawl succeeded');
is(metric($m, 'glue_crawls_files_scanned', crawler_name => 'lake', state => 'SUCCEEDED'), 1,
	'glue: the crawl scanned one file');
ok(metric($m, 'glue_crawls_duration_seconds_max', crawler_name => 'lake', state => 'SUCCEEDED') > 0,
	'glue: crawl duration');

# 6. video and the worker
my $video = sub { metric($m, "kinesis_video_stream_$_[0]", stream_name => 'cam') };
is($video->('fragments'), 3, 'video: 3 fragments');
is($video->('bytes'), 3000, 'video: 3000 bytes');
is($video->('media_seconds'), 6, 'video: 6 s of media');
ok(abs($video->('newest_fragment_timestamp_seconds') - time()) < 120, 'video: newest fragment is recent');
is(metric($m, 'kinesis_video_processor_fragments_processed', processor_name => 'cam-detect'), 3,
	'video: the processor processed 3 fragments');
is(metric($m, 'kinesis_video_processor_events_emitted', processor_name => 'cam-detect'), 3,
	'video: and emitted 3 events');
is(metric($m, 'kinesis_glue_worker_running', database => 'postgres'), 1, 'worker: running');

# Every metric the Grafana dashboard plots is exported.
my $dashboard = slurp_file(dirname($queries) . '/../grafana/kinesis_glue.json');
my %plotted = map { $_ => 1 } $dashboard =~ /\b((?:kinesis|firehose|glue)_[a-z_]+)\{/g;
my @missing = grep { !$m->{$_} } sort keys %plotted;
ok(keys %plotted > 20, scalar(keys %plotted) . ' metrics plotted by the dashboard');
is("@missing", '', 'the dashboard plots only exported metrics');

# The put rate: the counter rises by exactly the records put.
$producer->query_safe(q{COMMIT});
$producer->quit;
sql(q{SELECT count(*) FROM kinesis.put_records('orders', ARRAY['x','y','z'], ARRAY['7','8','9']::bytea[])});
my $m2 = scrape();
is(metric($m2, 'kinesis_stream_sequence_counter', stream_name => 'orders') - $stream->('sequence_counter'),
	3, 'stream: the counter rose by the 3 records put');
is(metric($m2, 'kinesis_stream_open_producers', stream_name => 'orders'), 0, 'stream: no open producer after the commit');
is(metric($m2, 'kinesis_consumer_lag_records', stream_name => 'orders', consumer_name => 'billing'), 7,
	'consumer: 7 behind after the commit and 3 more puts');

$h->kill_kill;
my $log = slurp_file($exporter_log);
unlike($log, qr/level=(error|warn)|Error running query/, 'the exporter logged no error, warning or failed query')
  or diag($log);

$node->stop;
done_testing();
