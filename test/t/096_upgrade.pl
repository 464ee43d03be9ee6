
# ALTER EXTENSION kinesis_glue UPDATE from the released 0.1.0 (issue 16 item 3).
#
# A cluster runs the 0.1.0 release (library and install script built from
# commit 6194b42, in a copy of this PostgreSQL installation) and gets
# streams, records, a video stream and grants.  Then the binaries are
# replaced by this build (a binary upgrade): the library refuses the 0.1.0
# SQL objects with a clear error until ALTER EXTENSION kinesis_glue UPDATE,
# after which the records read back with their sequence numbers, new puts
# are numbered above them, the storage belongs to the extension owner and
# the old owner keeps SELECT, INSERT WITH GRANT OPTION.  Last, the upgraded
# schema is compared with a fresh install of the current version (every
# member object of the extension: columns by name, constraints, indexes,
# functions, policies, triggers, ACLs, the pg_dump configuration); the
# differences are printed when they do not match, so a schema change that
# forgot its step in the upgrade script fails here.
#
# Needs the 0.1.0 sources: test.sh exports KG_RELEASE_SRC (git archive of
# 6194b42); without them the test is skipped.

use strict;
use warnings;

use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KgTest;

my $old_src = $ENV{KG_RELEASE_SRC};
plan skip_all => 'KG_RELEASE_SRC (the 0.1.0 sources, made by test.sh) is not set'
  unless $old_src && -f "$old_src/Makefile";

# A copy of this installation with the 0.1.0 release installed into it.
my $new_bindir = `pg_config --bindir`;
chomp $new_bindir;
my $new_install = dirname($new_bindir);                         # .../lib/postgresql/15
my $prefix = dirname(dirname(dirname($new_install)));           # the relocatable root
my $tmp = PostgreSQL::Test::Utils::tempdir;
# Only PostgreSQL's own trees, at the same places under the copy's root, so
# that the copy's pg_config and server find them (a relocatable installation):
# the installation (bin, lib, pgxs), the share directory and the headers.
# (With Debian's packages the root is /usr, which must not be copied whole.)
my $sharedir = `pg_config --sharedir`;
chomp $sharedir;
my $includedir = `pg_config --pkgincludedir`;
chomp $includedir;
for my $tree ($new_install, $sharedir, $includedir)
{
	BAIL_OUT("$tree is not under $prefix") unless index($tree, "$prefix/") == 0;
	my $to = "$tmp/pgold" . substr($tree, length($prefix));
	system_or_bail('mkdir', '-p', dirname($to));
	system_or_bail('cp', '-a', $tree, $to);
}
my $old_install = "$tmp/pgold" . substr($new_install, length($prefix));
system_or_bail('cp', '-a', $old_src, "$tmp/src010");
system_or_bail('make', '-s', '-C', "$tmp/src010", '-j8', "PG_CONFIG=$old_install/bin/pg_config", 'install');

my $node = kg_node(
	'upgrade',
	new => [ install_path => $old_install ],
	set => { max_worker_processes => undef, 'kinesis_glue.launcher_naptime' => '100ms' });
sub sql { return kg_sql($node, shift) }

sql(q{
	CREATE ROLE app LOGIN;
	CREATE ROLE reader LOGIN;
	GRANT CREATE ON SCHEMA kinesis_records, kinesis_video_media TO app;
	CREATE TABLE public.seen (seq bigint PRIMARY KEY);
	GRANT INSERT ON public.seen TO app;
	CREATE FUNCTION public.on_orders(recs kinesis.record[]) RETURNS void LANGUAGE sql AS
	  $$ INSERT INTO public.seen SELECT r.sequence_number FROM unnest(recs) r $$;
	CREATE PROCEDURE public.pjob(args jsonb) LANGUAGE sql AS $$ INSERT INTO public.seen VALUES (-1) $$;
});
is(sql("SELECT extversion FROM pg_extension WHERE extname = 'kinesis_glue'"), '0.1.0', 'the 0.1.0 release is installed');
$node->safe_psql('postgres', q{
	SET ROLE app;
	SELECT kinesis.create_stream('orders', 2);
	SELECT kinesis.put_record('orders', 'k' || i, convert_to('r' || i, 'UTF8')) FROM generate_series(1, 20) i;
	GRANT SELECT ON kinesis_records.orders TO reader;
	SELECT kinesis.disable_event_source_mapping(
	         kinesis.create_event_source_mapping('orders', 'public.on_orders', starting_position => 'TRIM_HORIZON'));
	SELECT glue.create_job('pjob', procedure => 'public.pjob(jsonb)');
	SELECT kinesis_video.create_stream('cam', 'video/h264', 24);
	SELECT kinesis_video.put_media('cam', '\x1a45dfa3', now(), 2000, '{"m": "1"}');
});
my $before = sql("SELECT string_agg(shard_id || '/' || sequence_number || '/' || partition_key, ',' ORDER BY sequence_number)
	FROM (SELECT * FROM kinesis.read_shard('orders', 'shardId-000000000000')
	      UNION ALL SELECT * FROM kinesis.read_shard('orders', 'shardId-000000000001')) r");
my $max_before = sql("SELECT max(sequence_number) FROM kinesis_records.orders");
$node->stop;

# the binaries of this build over the same data directory
$node->{_install_path} = $new_install;
$node->start;
my ($rc, $out, $err) = $node->psql('postgres',
	"SELECT kinesis.put_record('orders', 'x', 'x'::bytea)");
like($err, qr/installed as version 0\.1\.0, but the loaded library is version/,
	'before UPDATE the new library refuses the 0.1.0 objects with a clear error');

sql('ALTER EXTENSION kinesis_glue UPDATE');
is(sql("SELECT extversion FROM pg_extension WHERE extname = 'kinesis_glue'"),
	`sed -n "s/^default_version *= *'\\(.*\\)'/\\1/p" kinesis_glue.control` =~ s/\s+$//r,
	'updated to the current version');
is(sql("SELECT string_agg(shard_id || '/' || sequence_number || '/' || partition_key, ',' ORDER BY sequence_number)
	FROM (SELECT * FROM kinesis.read_shard('orders', 'shardId-000000000000')
	      UNION ALL SELECT * FROM kinesis.read_shard('orders', 'shardId-000000000001')) r"),
	$before, 'the records read back with their sequence numbers');
my $new_seq = $node->safe_psql('postgres', q{SET ROLE app;
	SELECT min(p.sequence_number) FROM generate_series(1, 5) i,
	       LATERAL kinesis.put_record('orders', 'n' || i, 'n'::bytea) p});
cmp_ok($new_seq, '>', $max_before, 'new puts are numbered above the old records');
is(sql(q{SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner), ',')
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname IN ('kinesis_records', 'kinesis_segments', 'kinesis_video_media', 'kinesis_video_segments')}),
	sql("SELECT pg_get_userbyid(extowner) FROM pg_extension WHERE extname = 'kinesis_glue'"),
	'all storage belongs to the extension owner');
is(sql(q{SELECT string_agg(owner::text, ',' ORDER BY owner::text) FROM (SELECT owner FROM kinesis.streams
	UNION ALL SELECT owner FROM kinesis_video.streams) s}), 'app,app', 'the creator owns the streams');
is(sql(q{SELECT has_table_privilege('app', 'kinesis_records.orders', 'INSERT WITH GRANT OPTION')
	AND has_table_privilege('app', 'kinesis_video_media.cam', 'SELECT WITH GRANT OPTION')
	AND has_table_privilege('reader', 'kinesis_records.orders', 'SELECT')
	AND NOT has_table_privilege('reader', 'kinesis_records.orders', 'INSERT')}), 't',
	'the old owner keeps SELECT, INSERT WITH GRANT OPTION; its grants stay');
$node->safe_psql('postgres', q{SET ROLE app;
	SELECT kinesis_video.update_data_retention('cam', 1, 'INCREASE_DATA_RETENTION', 24)});
is(sql(q{SELECT data_retention_in_hours FROM kinesis_video.streams WHERE stream_name = 'cam'}), 48,
	'the video stream owner administers it after the update');
is(sql(q{SELECT count(*) FROM kinesis_video.list_fragments('cam')}), 1, 'the fragment reads back');
is(sql(q{SELECT (SELECT function_name FROM kinesis.event_source_mappings) || ' ' || (SELECT procedure FROM glue.jobs)}),
	'public.on_orders(kinesis.record[]) public.pjob(jsonb)', 'function references are stored as qualified text');
sql(q{SELECT kinesis.enable_event_source_mapping(mapping_id) FROM kinesis.event_source_mappings});
kg_wait($node, 'SELECT count(*) >= 25 FROM public.seen', 't', 'the mapping to deliver 25 records');
is(sql('SELECT count(*) FROM public.seen'), 25, 'the mapping made under 0.1.0 delivers after the update');
my $run = $node->safe_psql('postgres', q{SET ROLE app; SELECT glue.start_job_run('pjob')});
kg_job_run_end($node, $run);
is(sql("SELECT state FROM glue.job_runs WHERE run_id = $run") . ' ' . sql('SELECT count(*) FROM public.seen WHERE seq = -1'),
	'SUCCEEDED 1', 'the job made under 0.1.0 runs its procedure after the update');

# The schema of the extension, normalised: one line per property of each
# member object (columns by name: ADD COLUMN appends, a fresh CREATE TABLE
# lists them in its own order).
my $schema_query = q{
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'kinesis_glue'),
mem AS (SELECT d.classid, d.objid FROM pg_depend d, ext WHERE d.refobjid = ext.oid AND d.deptype = 'e'),
rels AS (SELECT c.oid FROM pg_class c JOIN mem ON mem.classid = 'pg_class'::regclass AND mem.objid = c.oid)
SELECT line FROM (
  SELECT 'member ' || pg_describe_object(classid, objid, 0) FROM mem
  UNION ALL
  SELECT format('relation %s kind=%s rls=%s acl=%s view=%s', c.oid::regclass, c.relkind, c.relrowsecurity, c.relacl,
                CASE WHEN c.relkind = 'v' THEN md5(pg_get_viewdef(c.oid)) END)
    FROM pg_class c JOIN rels USING (oid)
  UNION ALL
  SELECT format('column %s.%I %s notnull=%s default=%s identity=%s acl=%s', a.attrelid::regclass, a.attname,
                format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                a.attidentity, a.attacl)
    FROM pg_attribute a JOIN rels ON rels.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('constraint %s %s', conrelid::regclass, pg_get_constraintdef(k.oid))
    FROM pg_constraint k JOIN rels ON rels.oid = k.conrelid
  UNION ALL
  SELECT 'index ' || regexp_replace(pg_get_indexdef(i.indexrelid), 'INDEX \S+ ON', 'INDEX ON')
    FROM pg_index i JOIN rels ON rels.oid = i.indrelid
  UNION ALL
  SELECT 'trigger ' || regexp_replace(pg_get_triggerdef(t.oid), 'TRIGGER \S+ ', 'TRIGGER ' || t.tgname || ' ')
    FROM pg_trigger t JOIN rels ON rels.oid = t.tgrelid WHERE NOT t.tgisinternal
  UNION ALL
  SELECT format('policy %s %s %s %s %s %s', schemaname, tablename, policyname, cmd, qual, with_check)
    FROM pg_policies p WHERE (schemaname || '.' || tablename)::regclass IN (SELECT oid FROM rels)
  UNION ALL
  SELECT format('function %s acl=%s secdef=%s config=%s md5=%s', p.oid::regprocedure, p.proacl, p.prosecdef,
                p.proconfig, md5(pg_get_functiondef(p.oid)))
    FROM pg_proc p JOIN mem ON mem.classid = 'pg_proc'::regclass AND mem.objid = p.oid WHERE p.prokind <> 'a'
  UNION ALL
  SELECT format('schema %s acl=%s', n.nspname, n.nspacl)
    FROM pg_namespace n JOIN mem ON mem.classid = 'pg_namespace'::regclass AND mem.objid = n.oid
  UNION ALL
  SELECT format('type %s attrs=%s', t.oid::regtype,
                (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                   FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0))
    FROM pg_type t JOIN mem ON mem.classid = 'pg_type'::regclass AND mem.objid = t.oid
  UNION ALL
  SELECT format('dump %s filter=%L', cfg::regclass, cond)
    FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(cfg, cond)
) x(line) ORDER BY line COLLATE "C"};

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION kinesis_glue;
	GRANT CREATE ON SCHEMA kinesis_records, kinesis_video_media TO app');
my @upgraded = split /\n/, $node->safe_psql('postgres', $schema_query);
my @fresh = split /\n/, $node->safe_psql('fresh', $schema_query);
my %in_fresh = map { $_ => 1 } @fresh;
my %in_upgraded = map { $_ => 1 } @upgraded;
my @only_upgraded = grep { !$in_fresh{$_} } @upgraded;
my @only_fresh = grep { !$in_upgraded{$_} } @fresh;
cmp_ok(scalar(@fresh), '>', 500, 'the schema query sees the extension (' . scalar(@fresh) . ' lines)');
ok(!@only_upgraded && !@only_fresh, 'the upgraded schema matches a fresh install')
  or diag(join("\n", 'only after ALTER EXTENSION UPDATE:', map({"  $_"} @only_upgraded),
		'only in a fresh install:', map({"  $_"} @only_fresh)));

$node->stop;
done_testing();
