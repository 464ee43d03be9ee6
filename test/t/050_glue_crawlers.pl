
# Glue crawlers run by the background worker (src/glue/crawler_worker.c,
# crawl.sql, crawl_catalog.sql):
#   1. a folder tree of CSV (with and without header), JSON lines and gzip
#      files with Hive-style and plain partition folders, an excluded
#      folder, malformed files and a hostile folder name is crawled; the
#      catalog holds the expected tables, columns, types, partitions,
#      locations and classifications, and the crawl's history counts the
#      malformed input;
#   2. the files change (a new column, a new partition, a removed folder)
#      and three crawlers crawl again under UPDATE_IN_DATABASE +
#      DELETE_FROM_DATABASE, LOG + LOG and DEPRECATE_IN_DATABASE;
#   3. CRAWL_NEW_FOLDERS_ONLY samples only a new folder and adds it as a
#      partition;
#   4. crawlers over local tables and over a kinesis stream;
#   5. a second start while running, stop, and a stop before the worker
#      takes the crawl (CANCELLED);
#   6. a crawl interrupted by a crash is FAILED after the restart and the
#      catalog is untouched;
#   7. a crawler scheduled through pg_cron runs on its own.

use strict;
use warnings;

use File::Path qw(make_path remove_tree);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $node = kg_node(
	'glue_crawlers',
	cron => 'postgres',
	set => {
		'cron.use_background_workers' => 'on',
		max_worker_processes => 24,
		restart_after_crash => 'on'
	});

sub sql { return kg_sql($node, $_[0]); }

# Start a crawl and wait until it ends; returns its final state.
sub crawl
{
	my ($name) = @_;
	my $id = sql("SELECT glue.start_crawler('$name')");
	kg_wait($node, "SELECT state NOT IN ('RUNNING', 'CANCELLING') FROM glue.crawls WHERE crawl_id = $id", 't',
		"crawl $id of $name");
	return sql("SELECT state || coalesce(': ' || error_message, '') FROM glue.crawls WHERE crawl_id = $id");
}

sub write_file
{
	my ($path, $content) = @_;
	my ($dir) = $path =~ m{^(.*)/};
	make_path($dir);
	open(my $fh, '>', $path) or die "$path: $!";
	binmode $fh;
	print $fh $content;
	close $fh;
}

sub gzip_file
{
	my ($path, $content) = @_;
	write_file($path, $content);
	system('gzip', '-f', $path) == 0 or die "gzip $path";
}

my $lake = $node->basedir . '/lake';

sub build_tree
{
	my ($root) = @_;
	write_file("$root/orders/year=2024/month=01/a.csv",
		"id,amount,note,ordered_at\n1,10,first,2024-01-01 10:00:00\n2,11.5,second,2024-01-02T11:00:00Z\n"
		  . "3,12,\"quoted, with comma\",2024-01-03 12:00:00\n4,13\n");    # the last row is ragged
	gzip_file("$root/orders/year=2024/month=02/b.csv",
		"id,amount,note,ordered_at\n5,14,fifth,2024-02-01 10:00:00\n");
	write_file("$root/events/2024/01/e.jsonl",
		qq({"user": "u1", "n": 1, "tags": ["a"], "geo": {"lat": 1.5, "lon": 2}}\n)
		  . qq({"user": "u2", "n": 2.5, "at": "2024-01-05T10:00:00Z"}\nnot json at all\n)
		  . "{\"user\": \"\xff\xfe bad utf8\"}\n");
	gzip_file("$root/events/2024/02/f.json", qq({"user": "u3", "n": 3}\n));
	write_file("$root/noheader/data.csv", "alpha,beta\ngamma,delta\n");
	write_file("$root/tmp/scratch.csv", "x,y\n1,2\n");
	write_file("$root/hostile'; DROP TABLE glue.tables; --/year=x'); DROP TABLE glue.partitions; --/h.csv",
		"k,v\n1,2\n");
	write_file("$root/orders/_SUCCESS", "");
	write_file("$root/orders/.hidden.csv", "garbage");
}
build_tree($lake);

sql(qq{
	SELECT glue.create_database('lake');
	SELECT glue.create_database('lake_log');
	SELECT glue.create_database('lake_deprecate');
	SELECT glue.create_crawler('lake', 'lake', '{"directory_targets": [{"path": "$lake", "exclusions": ["tmp/**"]}]}',
		schema_change_policy => '{"update_behavior": "UPDATE_IN_DATABASE", "delete_behavior": "DELETE_FROM_DATABASE"}');
	SELECT glue.create_crawler('lake_log', 'lake_log', '{"directory_targets": [{"path": "$lake", "exclusions": ["tmp/**"]}]}',
		schema_change_policy => '{"update_behavior": "LOG", "delete_behavior": "LOG"}');
	SELECT glue.create_crawler('lake_deprecate', 'lake_deprecate',
		'{"directory_targets": [{"path": "$lake", "exclusions": ["tmp/**"]}]}');
});

# 1. the first crawl
is(crawl('lake'), 'SUCCEEDED', 'first crawl succeeded');
is(crawl('lake_log'), 'SUCCEEDED', 'first crawl of the LOG crawler succeeded');
is(crawl('lake_deprecate'), 'SUCCEEDED', 'first crawl of the DEPRECATE crawler succeeded');

is( sql(qq{SELECT string_agg(name || ' ' || classification || ' ' || replace(location, '$lake', '<lake>'), E'\n'
	ORDER BY name) FROM glue.get_tables('lake')}),
	"events json <lake>/events\n"
	  . "hostile___drop_table_glue_tables____ csv <lake>/hostile'; DROP TABLE glue.tables; --\n"
	  . "noheader csv <lake>/noheader\n"
	  . "orders csv <lake>/orders",
	'one table per folder, with classification and location; the excluded folder is skipped');
is( sql(qq{SELECT string_agg(column_name || ':' || glue_type || CASE WHEN is_partition_key THEN ' (key)' ELSE '' END,
	', ' ORDER BY ordinal_position) FROM glue.catalog_columns WHERE database_name = 'lake' AND table_name = 'orders'}),
	'id:bigint, amount:double, note:string, ordered_at:timestamp, year:string (key), month:string (key)',
	'CSV header names, widened types (bigint -> double), timestamps, Hive partition keys');
is( sql(qq{SELECT string_agg(column_name || ':' || glue_type, ', ' ORDER BY ordinal_position)
	FROM glue.catalog_columns WHERE database_name = 'lake' AND table_name = 'events'}),
	'user:string, n:double, tags:array<string>, geo:struct<lat:double,lon:bigint>, at:timestamp, '
	  . 'partition_0:string, partition_1:string',
	'JSON lines (plain and gzip) merged: nested struct and array, plain folders become partition_0, partition_1');
is( sql(qq{SELECT string_agg(column_name || ':' || glue_type, ', ' ORDER BY ordinal_position)
	FROM glue.catalog_columns WHERE database_name = 'lake' AND table_name = 'noheader'}),
	'col0:string, col1:string', 'a CSV of text only has no header: col0, col1');
is( sql(qq{SELECT string_agg(array_to_string("values", '/') || ' ' || replace(location, '$lake', '<lake>'), E'\n'
	ORDER BY "values"::text) FROM glue.get_partitions('lake', 'orders')}),
	"2024/01 <lake>/orders/year=2024/month=01\n2024/02 <lake>/orders/year=2024/month=02",
	'partitions with their values and locations');
is( sql(qq{SELECT "values"[1] FROM glue.get_partitions('lake', 'hostile___drop_table_glue_tables____')}),
	"x'); DROP TABLE glue.partitions; --", 'a hostile folder name is only a partition value');
is( sql(qq{SELECT parameters ->> 'compressionType' || ' ' || (parameters ->> 'skip.header.line.count')
	|| ' ' || (parameters ->> 'delimiter') || ' ' || (parameters ->> 'objectCount')
	FROM glue.get_table('lake', 'orders')}), 'mixed 1 , 2', 'table parameters');
is( sql(qq{SELECT summary ->> 'tables_created', summary ->> 'partitions_created', summary ->> 'files_scanned',
	summary ->> 'ragged_rows', summary ->> 'invalid_json_records', summary ->> 'bad_utf8_lines'
	FROM glue.list_crawls('lake') LIMIT 1}),
	'4|5|6|1|1|1', 'history counts tables, partitions, files and the malformed rows, never failing on them');
ok( sql(qq{SELECT count(*) FROM glue.list_crawls('lake') l, jsonb_array_elements(l.log) e
	WHERE e ->> 'event' = 'malformed' AND e ->> 'path' LIKE '%e.jsonl'}) == 1,
	'the malformed file is named in the log');
ok( sql(qq{SELECT count(*) FROM glue.list_crawls('lake') l, jsonb_array_elements(l.log) e
	WHERE e ->> 'event' = 'split' AND e ->> 'reason' = 'the files have different formats'}) == 1,
	'the log says why the lake was split into tables');
is(sql("SELECT count(*) FROM glue.tables WHERE table_name = 'tables'"), '0', 'nothing was injected');

# the crawled tables are queryable (src/glue/relations.sql): a ragged row
# has NULL for its missing fields, a JSON line that is not an object is
# skipped
is( sql(q{SELECT count(*) || ' ' || sum(amount) || ' ' || count(note) FROM glue_tables.lake_orders WHERE month = '01'}),
	'4 46.5 3', 'query: the crawled CSV table, one partition');
is( sql(q{SELECT string_agg(year || '/' || month || ' ' || n, ', ' ORDER BY month) FROM
	(SELECT year, month, count(*) AS n FROM glue_tables.lake_orders GROUP BY 1, 2) x}),
	'2024/01 4, 2024/02 1', 'query: partitions as columns, gzip read too');
is( sql(q{SELECT string_agg("user" || ' ' || partition_1 || ' ' || coalesce(tags::text, '-') || ' '
	|| coalesce(geo ->> 'lat', '-'), ', ' ORDER BY "user") FROM glue_tables.lake_events}),
	'u1 01 {a} 1.5, u2 01 - -, u3 02 - -', 'query: the crawled JSON lines table, nested values and positional partitions');

# 2. change the files: a new column, a new partition, a removed folder
write_file("$lake/orders/year=2024/month=03/c.csv",
	"id,amount,note,ordered_at,channel\n6,15.25,sixth,2024-03-01 10:00:00,web\n");
remove_tree("$lake/events");
is(crawl('lake'), 'SUCCEEDED', 'second crawl (UPDATE_IN_DATABASE, DELETE_FROM_DATABASE)');
is( sql(qq{SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM glue.catalog_columns
	WHERE database_name = 'lake' AND table_name = 'orders'}),
	'id,amount,note,ordered_at,channel,year,month', 'the new column is added');
is(sql("SELECT version_id FROM glue.get_table('lake', 'orders')"), '2', 'as a new table version');
is(sql("SELECT count(*) FROM glue.get_partitions('lake', 'orders')"), '3', 'the new partition is added');
is(sql("SELECT count(*) FROM glue.get_tables('lake') WHERE name = 'events'"), '0', 'the removed folder\'s table is deleted');
is( sql("SELECT summary ->> 'tables_updated', summary ->> 'tables_deleted', summary ->> 'partitions_created' FROM glue.list_crawls('lake') LIMIT 1"),
	'1|1|1', 'the history counts them');

is(crawl('lake_log'), 'SUCCEEDED', 'second crawl (LOG, LOG)');
is( sql(qq{SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM glue.catalog_columns
	WHERE database_name = 'lake_log' AND table_name = 'orders'}),
	'id,amount,note,ordered_at,year,month', 'LOG: the columns stay');
is(sql("SELECT count(*) FROM glue.get_partitions('lake_log', 'orders')"), '3', 'LOG: new partitions are still added');
is(sql("SELECT count(*) FROM glue.get_tables('lake_log') WHERE name = 'events'"), '1', 'LOG: the removed folder\'s table stays');
is( sql(qq{SELECT string_agg(e ->> 'event' || ' ' || (e ->> 'table'), ', ' ORDER BY e ->> 'table')
	FROM glue.list_crawls('lake_log') l, jsonb_array_elements(l.log) e
	WHERE l.crawl_id = (SELECT max(crawl_id) FROM glue.list_crawls('lake_log'))
	AND e ->> 'event' IN ('not_updated', 'vanished')}),
	'vanished events, not_updated orders', 'LOG: both are in the log');

is(crawl('lake_deprecate'), 'SUCCEEDED', 'second crawl (DEPRECATE_IN_DATABASE)');
ok(sql("SELECT parameters ? 'DEPRECATED_BY_CRAWLER' FROM glue.get_table('lake_deprecate', 'events')") eq 't',
	'DEPRECATE: the removed folder\'s table is marked deprecated');
is(sql("SELECT summary ->> 'tables_deprecated' FROM glue.list_crawls('lake_deprecate') LIMIT 1"), '1', 'and counted');

# 3. CRAWL_NEW_FOLDERS_ONLY
sql(qq{SELECT glue.create_database('lake_new');
	SELECT glue.create_crawler('lake_new', 'lake_new', '{"directory_targets": [{"path": "$lake/orders"}]}',
		schema_change_policy => '{"update_behavior": "LOG", "delete_behavior": "LOG"}',
		recrawl_policy => 'CRAWL_NEW_FOLDERS_ONLY', configuration => '{"combine_compatible_schemas": true}')});
is(crawl('lake_new'), 'SUCCEEDED', 'first incremental crawl');
is(sql("SELECT count(*) FROM glue.get_partitions('lake_new', 'orders')"), '3', 'all three partitions');
write_file("$lake/orders/year=2025/month=01/d.csv", "id,amount,note,ordered_at\n7,16,seventh,2025-01-01 10:00:00\n");
is(crawl('lake_new'), 'SUCCEEDED', 'second incremental crawl');
is(sql("SELECT summary ->> 'files_scanned' FROM glue.list_crawls('lake_new') LIMIT 1"), '1', 'only the new folder was sampled');
is( sql("SELECT string_agg(array_to_string(\"values\", '/'), ',' ORDER BY \"values\"::text) FROM glue.get_partitions('lake_new', 'orders')"),
	'2024/01,2024/02,2024/03,2025/01', 'and added as a partition');

# 4. local tables and a stream
sql(q{CREATE TABLE public.t_orders (id integer PRIMARY KEY, amount numeric(10,2), tags text[], created timestamptz,
		"Weird Name" varchar(20), payload jsonb);
	CREATE TABLE public.t_skip (x int);
	CREATE TABLE public.other (x int);
	SELECT glue.create_database('local');
	SELECT glue.create_crawler('local', 'local', '{"table_targets": [{"schema": "public", "tables": ["t%"], "exclusions": ["%skip"]}]}',
		table_prefix => 'pg_');
	SELECT kinesis.create_stream('clicks', 2);
	SELECT count(*) FROM kinesis.put_records('clicks',
		ARRAY(SELECT 'k' || i FROM generate_series(1, 51) i),
		ARRAY(SELECT convert_to(format('{"page": "/p%s", "ms": %s, "at": "2024-05-01T00:00:%sZ", "ua": {"mobile": %s}}',
		                               i, i * 1.5, lpad((i % 60)::text, 2, '0'), (i % 2 = 0)::text), 'UTF8')
		      FROM generate_series(1, 50) i) || ARRAY[convert_to('garbage', 'UTF8')]);
	SELECT glue.create_crawler('clicks', 'local', '{"kinesis_targets": [{"stream_name": "clicks"}]}');
});
is(crawl('local'), 'SUCCEEDED', 'crawl of local tables');
is( sql(qq{SELECT string_agg(column_name || ':' || glue_type, ', ' ORDER BY ordinal_position) FROM glue.catalog_columns
	WHERE database_name = 'local' AND table_name = 'pg_public_t_orders'}),
	'id:int, amount:decimal(10,2), tags:array<string>, created:timestamp, weird_name:varchar(20), payload:string',
	'table target: PostgreSQL types mapped to Glue types');
is(sql("SELECT string_agg(name, ',') FROM glue.get_tables('local')"), 'pg_public_t_orders', 'patterns and exclusions apply');
is(sql("SELECT classification || ' ' || location FROM glue.get_table('local', 'pg_public_t_orders')"),
	'postgresql postgresql://public/t_orders', 'classification and location of a table target');
is(sql("SELECT count(*) = (SELECT count(*) FROM t_orders) FROM glue_tables.local_pg_public_t_orders"), 't',
	'query: the table target read where it is');
is(crawl('clicks'), 'SUCCEEDED', 'crawl of a stream');
is( sql(qq{SELECT string_agg(column_name || ':' || glue_type, ', ' ORDER BY ordinal_position) FROM glue.catalog_columns
	WHERE database_name = 'local' AND table_name = 'clicks'}),
	'page:string, ms:double, at:timestamp, ua:struct<mobile:boolean>', 'stream target: JSON records sampled');
is(sql("SELECT summary ->> 'invalid_json_records' FROM glue.list_crawls('clicks') LIMIT 1"), '1', 'the bad record is counted');
is(sql("SELECT count(*) FROM glue_tables.local_clicks"), '50', 'query: the stream target read where it is');

# 5. running, stopping
my $blocker = $node->background_psql('postgres');
# the crawl blocks on this lock when it adds partitions to orders
$blocker->query_safe("BEGIN; SELECT 1 FROM glue.tables t JOIN glue.databases d USING (database_id) "
	  . "WHERE d.database_name = 'lake' AND t.table_name = 'orders' FOR UPDATE OF t;");
write_file("$lake/orders/year=2025/month=02/e.csv", "id,amount,note,ordered_at\n8,17,eighth,2025-02-01 10:00:00\n");
my $id = sql("SELECT glue.start_crawler('lake')");
kg_wait($node, "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'kinesis_glue crawler' AND wait_event_type = 'Lock'", 't',
	'the crawl to wait for the catalog');
is(sql("SELECT state FROM glue.get_crawler('lake')"), 'RUNNING', 'the crawler is RUNNING');
my ($rc, $out, $err) = $node->psql('postgres', "SELECT glue.start_crawler('lake')");
like($err, qr/CrawlerRunningException/, 'a second start gets CrawlerRunningException');
is( sql("SELECT files_done || '/' || files_total FROM glue.crawler_progress WHERE crawl_id = $id"),
	'7/7', 'the progress view shows files done of total');

# 6. a crash while the crawl waits: FAILED after the restart, catalog untouched
$node->stop('immediate');
$blocker->{run}->kill_kill;
$node->start;
kg_wait($node, "SELECT state = 'FAILED' FROM glue.crawls WHERE crawl_id = $id", 't', 'the interrupted crawl to be FAILED');
like(sql("SELECT error_message FROM glue.crawls WHERE crawl_id = $id"), qr/interrupted/, 'with a reason');
is(sql("SELECT count(*) FROM glue.get_partitions('lake', 'orders')"), '3', 'the catalog is untouched');
is(sql("SELECT state FROM glue.get_crawler('lake')"), 'READY', 'the crawler is READY again');

sql("BEGIN; SELECT glue.start_crawler('lake'); SELECT glue.stop_crawler('lake'); COMMIT;");
kg_wait($node, "SELECT state = 'CANCELLED' FROM glue.list_crawls('lake') LIMIT 1", 't', 'a crawl stopped before it started');
is(sql("SELECT count(*) FROM glue.get_partitions('lake', 'orders')"), '3', 'a cancelled crawl writes nothing');
($rc, $out, $err) = $node->psql('postgres', "SELECT glue.stop_crawler('lake')");
like($err, qr/CrawlerNotRunningException/, 'stopping a READY crawler');
is(crawl('lake'), 'SUCCEEDED', 'the next crawl succeeds');
is(sql("SELECT count(*) FROM glue.get_partitions('lake', 'orders')"), '5', 'and adds the new partitions');
kg_wait($node, "SELECT count(*) = 0 FROM glue.crawl_files", 't', 'no crawl to leave its file list behind');

# 7. a schedule through pg_cron
sql("CREATE EXTENSION pg_cron");
sql("SELECT glue.update_crawler_schedule('local', 'cron(* * * * ? *)')");
is(sql(qq{SELECT schedule || ' | ' || command FROM cron.job WHERE jobname = 'glue crawler: local'}),
	"* * * * * | SELECT glue.start_crawler('local')", 'the schedule is a pg_cron job');
my $before = sql("SELECT count(*) FROM glue.list_crawls('local')");
kg_wait($node, "SELECT count(*) > $before FROM glue.list_crawls('local')", 't', 'the scheduled crawl', within => 90);
kg_wait($node, "SELECT state = 'SUCCEEDED' FROM glue.list_crawls('local') LIMIT 1", 't', 'the scheduled crawl to end');
sql("SELECT glue.update_crawler('local', schedule => '')");
is(sql("SELECT count(*) FROM cron.job WHERE jobname = 'glue crawler: local'"), '0', 'removing the schedule removes the job');
sql("SELECT glue.update_crawler_schedule('clicks', '0 3 * * *')");
sql("SELECT glue.delete_crawler('clicks')");
is(sql("SELECT count(*) FROM cron.job"), '0', 'deleting a crawler removes its job');

$node->stop;
done_testing();
