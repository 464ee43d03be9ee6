
# pg_dump and restore of a database that uses kinesis_glue (issue 16 item 1).
#
# The source cluster's database "shop" (where pg_cron lives too) gets a data
# stream with records, a registered consumer with checkpoints, an event
# source mapping, delivery streams into a table (from the data stream) and
# into files (Direct PUT), a Glue catalog table with its glue_tables view, a
# job with a bookmark, scheduled triggers and a scheduled crawler, a
# workflow, and a video stream with fragments.  It is dumped in plain and
# custom format (roles with pg_dumpall --globals-only) and each dump is
# restored into a fresh cluster (psql, pg_restore) with zero errors and no
# setting changed.  In each restored cluster: the same records with the
# same sequence numbers, new puts numbered above them, new streams with new
# ids, the consumer, the mapping, Firehose and the job bookmark resume
# where they were (nothing twice, nothing lost), the pg_cron jobs of the
# triggers and the crawler are there, the glue_tables view is registered
# as the extension's again, the installation records the new database's
# OID, the video fragments read back, and the storage belongs to the
# extension owner and is guarded again.

use strict;
use warnings;

use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KgTest;

sub new_node
{
	my ($name) = @_;
	return kg_node(
		$name,
		cron => 'shop',
		extension => undef,
		set => { max_worker_processes => 32, 'kinesis_glue.launcher_naptime' => '100ms' });
}

# Wait for $query to return 't' in database shop.
sub wait_for
{
	my ($node, $query, $what) = @_;
	kg_wait($node, $query, 't', $what, db => 'shop');
}

sub wait_run_end
{
	my ($node, $id) = @_;
	return kg_job_run_end($node, $id, db => 'shop');
}

# Lines in the files delivered under $dir (final objects only).
sub file_lines
{
	my ($dir) = @_;
	my $n = 0;
	return 0 unless -d $dir;
	find(sub {
		return unless -f $_ && !/\.kgtmp$/;
		open(my $fh, '<', $_) or die "$_: $!";
		$n++ while <$fh>;
		close $fh;
	}, $dir);
	return $n;
}

my $src = new_node('source');
my $files = $src->basedir . '/objects';
my $lake = $src->basedir . '/lake';
mkdir $lake;
$src->safe_psql('postgres', 'CREATE DATABASE shop');
$src->safe_psql('shop', qq{
	CREATE EXTENSION pg_cron;
	CREATE EXTENSION kinesis_glue;
	CREATE ROLE app LOGIN;
	CREATE ROLE reader LOGIN;
	GRANT CREATE ON SCHEMA kinesis_records, kinesis_video_media TO app;
	GRANT USAGE ON SCHEMA cron TO app;
	GRANT pg_write_server_files, pg_read_server_files TO app;
	CREATE TABLE public.seen (seq bigint PRIMARY KEY, pk text);
	CREATE TABLE public.fh_dest (shard_id text, sequence_number bigint, partition_key text, data bytea);
	CREATE TABLE public.out_events (seq bigint PRIMARY KEY, pk text);
	CREATE FUNCTION public.on_orders(recs kinesis.record[]) RETURNS void LANGUAGE sql AS
	  \$\$ INSERT INTO public.seen SELECT r.sequence_number, r.partition_key FROM unnest(recs) r \$\$;
	GRANT INSERT ON public.seen, public.fh_dest, public.out_events TO app;
});
$src->safe_psql('shop', qq{
	SET ROLE app;
	SELECT kinesis.create_stream('orders', 2);
	GRANT SELECT ON kinesis_records.orders TO reader;
	SELECT kinesis.register_stream_consumer('orders', 'billing');
	SELECT kinesis.add_tags_to_stream('orders', '{"team": "shop", "env": "prod"}');
	SELECT kinesis.tag_resource('orders', '{"app": "billing"}', consumer_name => 'billing');
	SELECT kinesis.put_resource_policy('orders', '{"Version": "2012-10-17"}');
	SELECT kinesis.start_stream_encryption('orders', 'KMS', 'alias/shop');
	SELECT kinesis.enable_enhanced_monitoring('orders', ARRAY['IncomingBytes']);
	SELECT kinesis.create_event_source_mapping('orders', 'public.on_orders', starting_position => 'TRIM_HORIZON');
	SELECT firehose.create_delivery_stream('to_table', 'public.fh_dest', delivery_stream_type => 'KinesisStreamAsSource',
	         kinesis_stream_name => 'orders', starting_position => 'TRIM_HORIZON', buffering_interval => '0 s');
	SELECT firehose.create_delivery_stream('to_files', destination_directory => '$files', buffering_interval => '0 s');
	SELECT glue.create_database('shop');
	SELECT glue.create_table('shop', 'orders', columns => '[{"name": "n", "type": "int"}]',
	         location => 'kinesis://orders', classification => 'json');
	SELECT glue.create_job('ingest', script => \$\$
	    INSERT INTO public.out_events SELECT r.sequence_number, r.partition_key FROM glue.bookmark_records('orders') r\$\$,
	    default_arguments => '{"--job-bookmark-option": "job-bookmark-enable"}');
	SELECT glue.create_trigger('nightly', 'SCHEDULED', '[{"job_name": "ingest"}]', schedule => 'cron(15 3 * * ? *)',
	         start_on_creation => true);
	SELECT glue.create_workflow('etl', description => 'daily load');
	SELECT glue.create_trigger('etl_start', 'ON_DEMAND', '[{"job_name": "ingest"}]', workflow_name => 'etl');
	SELECT glue.create_crawler('lake', 'shop', '{"directory_targets": [{"path": "$lake"}]}', schedule => '0 4 * * *');
	SELECT kinesis_video.create_stream('cam', 'video/h264', 24);
	SELECT kinesis_video.put_media('cam', '\\x1a45dfa3', now(), 2000, '{"m": "1"}');
	SELECT kinesis_video.put_media('cam', '\\x1a45dfa4', now(), 2000, '{"m": "2"}');
});
kg_put_orders($src, 'shop', 1, 300);
is($src->safe_psql('shop', q{SELECT string_agg(c.oid::regclass::text, ', ')
	  FROM pg_depend d JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
	  JOIN pg_extension e ON e.oid = d.refobjid AND d.deptype = 'e' AND e.extname = 'kinesis_glue'
	 WHERE c.relkind IN ('r', 'p', 'S') AND c.oid <> ALL (e.extconfig)
	   AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.objid = c.oid AND i.deptype = 'i')   -- identity sequences
	   AND c.oid NOT IN ('kinesis.iterator_secret'::regclass, 'kinesis.consumer_sessions'::regclass,
	                     'kinesis_glue.installation'::regclass, 'kinesis.stream_bounds'::regclass)}), '',
	'every catalog table is in the dump (src/common/dump.sql lists each)');
$src->safe_psql('shop', q{SET ROLE app;
	SELECT count(*) FROM firehose.put_record_batch('to_files', ARRAY(SELECT convert_to(jsonb_build_object('f', g)::text, 'UTF8') FROM generate_series(1, 40) g))});
# the consumer reads 100 records and checkpoints them
my $consumed = $src->safe_psql('shop', q{SET ROLE app;
	SELECT count(*) FROM (SELECT kinesis.checkpoint('orders', 'billing', shard_id, max(sequence_number))
	  FROM (SELECT * FROM kinesis.consume('orders', 'billing', 100)) c GROUP BY shard_id) x});
ok($consumed >= 1, 'the consumer checkpointed');
is(wait_run_end($src, $src->safe_psql('shop', "SET ROLE app; SELECT glue.start_job_run('ingest')")), 'SUCCEEDED',
	'a bookmarked job run');
wait_for($src, 'SELECT count(*) = 300 FROM public.seen', 'the mapping');
wait_for($src, 'SELECT count(*) = 300 FROM public.fh_dest', 'Firehose into the table');
kg_poll(sub { file_lines($files) >= 40 }, 'Firehose to deliver 40 lines into files');
is(file_lines($files), 40, 'Firehose delivered the files');
is($src->safe_psql('shop', 'SELECT count(*) FROM glue_tables.shop_orders'), 300, 'the glue_tables view reads the stream');
is($src->safe_psql('shop', q{SELECT count(*) FROM cron.job WHERE jobname IN ('glue trigger: nightly', 'glue crawler: lake')}), 2,
	'pg_cron jobs for the trigger and the crawler');

# what must come back
$src->safe_psql('shop', q{SELECT kinesis.update_account_settings('ENABLED')});
my $meta_q = q{SELECT (SELECT string_agg(tag_key || '=' || tag_value, ',') FROM kinesis.list_tags_for_stream('orders'))
	|| '|' || (SELECT string_agg(tag_key || '=' || tag_value, ',') FROM kinesis.list_tags_for_resource('orders', 'billing'))
	|| '|' || kinesis.get_resource_policy('orders')
	|| '|' || (SELECT concat_ws(',', encryption_type, key_id, shard_level_metrics) FROM kinesis.describe_stream_settings('orders'))
	|| '|' || (SELECT commitment_status FROM kinesis.describe_account_settings())};
my $meta = $src->safe_psql('shop', $meta_q);
is($meta, 'env=prod,team=shop|app=billing|{"Version": "2012-10-17"}|KMS,alias/shop,{IncomingBytes}|ENABLED',
	'tags, policy, encryption, monitoring and account settings');
my $records = kg_orders_digest($src, 'shop');
my $max_seq = $src->safe_psql('shop', 'SELECT max(sequence_number) FROM kinesis_records.orders');
my $bookmark = $src->safe_psql('shop', q{SELECT shards FROM glue.get_job_bookmark('ingest')});
my $fragments_q = q{SELECT string_agg(fragment_number::text, ',' ORDER BY fragment_number) FROM kinesis_video.list_fragments('cam')};
my $fragments = $src->safe_psql('shop', $fragments_q);
my $cron_q = q{SELECT string_agg(jobname || '|' || schedule || '|' || command || '|' || username || '|' || database, E'\n' ORDER BY jobname)
	FROM cron.job};
my $cron = $src->safe_psql('shop', $cron_q);

# the dumps (the worker keeps running meanwhile; a dump is one snapshot)
my $tmp = PostgreSQL::Test::Utils::tempdir;
$src->command_ok([ 'pg_dumpall', '--globals-only', '-f', "$tmp/globals.sql", '-d', $src->connstr('postgres') ],
	'pg_dumpall --globals-only');
$src->command_ok([ 'pg_dump', '-f', "$tmp/shop.sql", '-d', $src->connstr('shop') ], 'pg_dump, plain format');
$src->command_ok([ 'pg_dump', '-Fc', '-f', "$tmp/shop.dump", '-d', $src->connstr('shop') ], 'pg_dump, custom format');
$src->stop;

# Restore $how ('plain' or 'custom') into a fresh cluster and check it.
sub check_restore
{
	my ($how) = @_;
	my $dst = new_node("restored_$how");
	my ($out, $err) = ('', '');
	# the roles first, as pg_dumpall -g restores them (CREATE ROLE postgres fails: it exists)
	IPC::Run::run([ 'psql', '-X', '-q', '-d', $dst->connstr('postgres'), '-f', "$tmp/globals.sql" ],
		'>', \$out, '2>', \$err);
	$dst->safe_psql('postgres', 'CREATE DATABASE shop');
	($out, $err) = ('', '');
	my $rc;
	if ($how eq 'plain')
	{
		$rc = $dst->psql('shop', undef, stdout => \$out, stderr => \$err,
			extra_params => [ '-X', '-q', '-f', "$tmp/shop.sql" ]);
	}
	else
	{
		$rc = IPC::Run::run([ 'pg_restore', '-d', $dst->connstr('shop'), "$tmp/shop.dump" ],
			'>', \$out, '2>', \$err) ? 0 : 1;
	}
	is($rc, 0, "$how: the restore exits with status 0");
	is(join("\n", grep { /ERROR|FATAL|WARNING/ } split /\n/, $err), '', "$how: the restore reports no error");

	is(kg_orders_digest($dst, 'shop'), $records, "$how: the same records with the same sequence numbers");
	cmp_ok(kg_put_orders($dst, 'shop', 301, 350), '>', $max_seq, "$how: new puts are numbered above every restored number");
	$dst->safe_psql('shop', q{SET ROLE app; SELECT kinesis.create_stream('more', 1)});
	is($dst->safe_psql('shop', q{SELECT count(DISTINCT stream_id) FROM kinesis.streams}), 3,
		"$how: a new stream gets a new id (orders, to_files' internal stream, more)");
	is(kg_read_count($dst, 'shop', 2),
		350, "$how: the stream reads back, old and new");

	# the consumer resumes after its checkpoints
	my $next = $dst->safe_psql('shop', q{SET ROLE app; SELECT count(*) FROM kinesis.consume('orders', 'billing', 10000)});
	ok($next > 0 && $next <= 250, "$how: the consumer resumes after its checkpoints ($next records left)");

	wait_for($dst, 'SELECT count(*) = 350 FROM public.seen', "$how: the mapping resumes");
	is($dst->safe_psql('shop', q{SELECT count(*) FROM public.seen WHERE pk >= 'k301' AND pk ~ '^k3[0-5][0-9]$'}), 50,
		"$how: the mapping resumed where it was (the new records, once; public.seen's key refuses twice)");
	wait_for($dst, 'SELECT count(*) = 350 FROM public.fh_dest', "$how: Firehose into the table resumes");
	is($dst->safe_psql('shop', 'SELECT count(*) = count(DISTINCT sequence_number) FROM public.fh_dest'), 't',
		"$how: Firehose delivered nothing twice");
	my $lines = file_lines($files);
	$dst->safe_psql('shop', q{SET ROLE app;
		SELECT count(*) FROM firehose.put_record_batch('to_files', ARRAY(SELECT convert_to(jsonb_build_object('f', g)::text, 'UTF8') FROM generate_series(1, 5) g))});
	kg_poll(sub { file_lines($files) >= $lines + 5 }, "$how: Firehose to deliver 5 more lines into files");
	is(file_lines($files), $lines + 5, "$how: Firehose into files resumes");

	is($dst->safe_psql('shop', q{SELECT shards FROM glue.get_job_bookmark('ingest')}), $bookmark, "$how: the job bookmark is back");
	is(wait_run_end($dst, $dst->safe_psql('shop', "SET ROLE app; SELECT glue.start_job_run('ingest')")), 'SUCCEEDED',
		"$how: a job run after the restore");
	is($dst->safe_psql('shop', 'SELECT count(*), min(seq) > ' . $max_seq . ' FROM public.out_events WHERE pk ~ \'^k3[0-5][0-9]$\' AND pk >= \'k301\''),
		'50|t', "$how: the bookmarked run reads only the new records");
	is($dst->safe_psql('shop', 'SELECT count(*) FROM public.out_events'), 350, "$how: nothing read twice");

	is($dst->safe_psql('shop', 'SELECT count(*) FROM glue_tables.shop_orders'), 350, "$how: the glue_tables view works");
	is($dst->safe_psql('shop', q{SELECT glue.table_relation('shop', 'orders')}), 'glue_tables.shop_orders',
		"$how: the view is registered as the extension's again (glue.table_relations, restored by name)");
	is($dst->safe_psql('shop', q{SELECT i.database_oid = d.oid FROM kinesis_glue.installation i, pg_database d
		WHERE d.datname = current_database()}), 't', "$how: the installation records the restored database's OID");
	is($dst->safe_psql('shop', q{SELECT c.relowner = e.extowner AND s.owner = 'app'::regrole
		AND has_table_privilege('app', c.oid, 'INSERT WITH GRANT OPTION')
		FROM kinesis.streams s JOIN pg_class c ON c.oid = s.record_table, pg_extension e
		WHERE s.stream_name = 'orders' AND e.extname = 'kinesis_glue'}), 't',
		"$how: the storage belongs to the extension owner; the stream's owner keeps its rights");
	is($dst->safe_psql('shop', q{SELECT count(*) FROM glue.get_workflow('etl')}), 1, "$how: the workflow is back");
	is($dst->safe_psql('shop', $meta_q), $meta, "$how: tags, policy, encryption, monitoring and account settings are back");
	is($dst->safe_psql('shop', $cron_q), $cron, "$how: the pg_cron jobs of the trigger and the crawler are back");

	is($dst->safe_psql('shop', $fragments_q), $fragments, "$how: the video fragments read back");
	my $frag = $dst->safe_psql('shop', q{SET ROLE app;
		SELECT fragment_number FROM kinesis_video.put_media('cam', '\x1a45dfa5', now(), 2000, '{"m": "3"}')});
	cmp_ok($frag, '>', (split /,/, $fragments)[-1], "$how: new fragments are numbered above the restored ones");

	my ($grc, $gout, $gerr) = $dst->psql('shop', 'CREATE INDEX ON kinesis_records.orders (partition_key)');
	like($gerr, qr/AccessDeniedException: cannot index the record storage/, "$how: the restored storage is guarded");
	($grc, $gout, $gerr) = $dst->psql('shop', q{INSERT INTO kinesis_records.orders VALUES (0, 1, now(), 'x', 'x')});
	isnt($grc, 0, "$how: direct INSERT is refused again");
	$dst->stop;
}

check_restore('plain');
check_restore('custom');
done_testing();
