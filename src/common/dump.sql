-- pg_dump of the catalogs (issue 16): every catalog table's rows are part
-- of a dump of a database that uses the extension (pg_extension_config_dump),
-- so a restore brings back the streams, consumers, mappings, delivery
-- streams, Glue objects and video streams.  The storage they name (record
-- tables, segments, fragment tables, glue_tables views) is not an extension
-- member: pg_dump writes it like any table, and the DDL guard lets a restore
-- recreate it (src/worker/ddl_guard.c, "restore").
--
-- Not dumped: kinesis.iterator_secret (made by this script; a restored
-- database signs iterators with a key of its own, so iterators handed out
-- before the dump are invalid after the restore) and kinesis.consumer_sessions
-- (leases of connected readers, which do not survive a restore) and
-- kinesis_glue.installation (the OID of the database; this script writes
-- the restored database's own) and kinesis.stream_bounds (the stable bound
-- published for hot standbys; the restored database's worker publishes its
-- own).  glue.table_relations is dumped: its
-- relation column is a regclass, restored by name after the glue_tables
-- views it names.
--
-- This file runs last; ALTER EXTENSION UPDATE scripts repeat the calls for
-- tables they add.  Every catalog table must be listed here (096_upgrade.pl
-- and 092_dump_restore.pl check that no table of the extension is missing).

-- (one statement each: every call updates the pg_extension row)
SELECT pg_catalog.pg_extension_config_dump('kinesis.streams', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.shards', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.segments', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.scaling_actions', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.consumers', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.consumer_shards', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.event_source_mappings', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.event_source_mapping_shards', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.tags', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.resource_policies', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.stream_settings', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis.account_settings', '');
SELECT pg_catalog.pg_extension_config_dump('firehose.delivery_streams', '');
SELECT pg_catalog.pg_extension_config_dump('firehose.delivery_errors', '');
SELECT pg_catalog.pg_extension_config_dump('firehose.delivered_objects', '');
SELECT pg_catalog.pg_extension_config_dump('glue.databases', '');
SELECT pg_catalog.pg_extension_config_dump('glue.tables', '');
SELECT pg_catalog.pg_extension_config_dump('glue.table_versions', '');
SELECT pg_catalog.pg_extension_config_dump('glue.partitions', '');
SELECT pg_catalog.pg_extension_config_dump('glue.table_relations', '');
SELECT pg_catalog.pg_extension_config_dump('glue.crawlers', '');
SELECT pg_catalog.pg_extension_config_dump('glue.crawls', '');
SELECT pg_catalog.pg_extension_config_dump('glue.crawl_files', '');
SELECT pg_catalog.pg_extension_config_dump('glue.crawler_folders', '');
SELECT pg_catalog.pg_extension_config_dump('glue.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('glue.job_runs', '');
SELECT pg_catalog.pg_extension_config_dump('glue.job_bookmarks', '');
SELECT pg_catalog.pg_extension_config_dump('glue.triggers', '');
SELECT pg_catalog.pg_extension_config_dump('glue.trigger_seen_crawls', '');
SELECT pg_catalog.pg_extension_config_dump('glue.workflows', '');
SELECT pg_catalog.pg_extension_config_dump('glue.workflow_runs', '');
SELECT pg_catalog.pg_extension_config_dump('glue.workflow_crawls', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis_video.streams', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis_video.segments', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis_video.stream_processors', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis_video.stream_processor_failures', '');
SELECT pg_catalog.pg_extension_config_dump('kinesis_video.fragment_numbers', '');

-- Identity columns: pg_dump restores the rows of these catalogs with their
-- ids but not the identity sequences behind them; after each INSERT
-- statement that left ids above the sequence (only a restore or a hand
-- COPY writes ids) the sequence moves past them (src/common/kg_dump.c).
CREATE FUNCTION kinesis_glue._ids_past_rows() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'kg_ids_past_rows';
REVOKE ALL ON FUNCTION kinesis_glue._ids_past_rows() FROM PUBLIC;

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT a.attrelid::regclass AS rel, a.attname
               FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_depend d
                 ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = a.attrelid AND d.deptype = 'e'
              WHERE a.attidentity <> '' AND NOT a.attisdropped
                AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'kinesis_glue')
              ORDER BY 1, 2
    LOOP
        EXECUTE format('CREATE TRIGGER ids_past_rows AFTER INSERT ON %s FOR EACH STATEMENT '
                       'EXECUTE FUNCTION kinesis_glue._ids_past_rows(%L)', r.rel, r.attname);
    END LOOP;
END
$$;
