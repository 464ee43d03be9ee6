--
-- security_owners: owners that go away (README "Owners that go away").
-- A role without special attributes owns one object of each kind whose
-- owner is a regrole column (event source mapping, Firehose delivery
-- stream, Glue trigger, workflow, job, crawler, database, table) and a
-- data stream:
--   1. DROP ROLE of the owner is refused (2BP01), listing what it owns;
--   2. REASSIGN OWNED moves them all: the owner columns name the new role,
--      which can then delete them;
--   3. DROP OWNED deletes what is left; then DROP ROLE succeeds and no
--      catalog names a role that does not exist.
-- Objects are own_* / 'own.*', roles regress_own_*, dropped at the end.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE ROLE regress_own_alice;
CREATE ROLE regress_own_bob;
GRANT USAGE ON SCHEMA kinesis_glue, glue, firehose, kinesis TO regress_own_alice, regress_own_bob;
GRANT CREATE ON SCHEMA kinesis_records TO regress_own_alice;
CREATE SCHEMA regress_own AUTHORIZATION regress_own_alice;
GRANT USAGE ON SCHEMA regress_own TO regress_own_bob;

-- The objects whose owner is only a regrole column, with their owners.
CREATE VIEW public.regress_own_owned AS
    SELECT 'mapping' AS kind, s.stream_name AS name, m.owner::oid AS owner
      FROM kinesis.event_source_mappings m JOIN kinesis.streams s USING (stream_id)
    UNION ALL SELECT 'delivery stream', delivery_stream_name, owner::oid FROM firehose.delivery_streams
    UNION ALL SELECT 'trigger', trigger_name, owner::oid FROM glue.triggers
    UNION ALL SELECT 'workflow', workflow_name, owner::oid FROM glue.workflows
    UNION ALL SELECT 'job', job_name, owner::oid FROM glue.jobs
    UNION ALL SELECT 'crawler', crawler_name, owner::oid FROM glue.crawlers
    UNION ALL SELECT 'table', table_name, owner::oid FROM glue.tables
    UNION ALL SELECT 'database', database_name, owner::oid FROM glue.databases
    UNION ALL SELECT 'data stream', stream_name, owner::oid FROM kinesis.streams;
GRANT SELECT ON public.regress_own_owned TO PUBLIC;

SET ROLE regress_own_alice;
CREATE TABLE regress_own.sink (data bytea);
CREATE FUNCTION regress_own.handle(batch kinesis.record[]) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT kinesis.create_stream('own.s', 1);
SELECT kinesis.create_event_source_mapping('own.s', 'regress_own.handle', starting_position => 'TRIM_HORIZON') > 0 AS mapping;
SELECT firehose.create_delivery_stream('own.fh', 'regress_own.sink', record_format => 'bytea', data_column => 'data') IS NOT NULL AS delivery_stream;
SELECT glue.create_database('own_db');
SELECT glue.create_table('own_db', 'own_t', '[{"name": "a", "type": "int"}]');
SELECT glue.create_job('own_job', script => 'SELECT 1');
SELECT glue.create_workflow('own_wf');
SELECT glue.create_trigger('own_trig', 'ON_DEMAND', '[{"job_name": "own_job"}]');
SELECT glue.create_crawler('own_crawler', 'own_db', '{"table_targets": [{"schema": "regress_own"}]}');
RESET ROLE;
SELECT kind, name, owner::regrole FROM public.regress_own_owned WHERE name LIKE 'own%' ORDER BY 1, 2;

-- 1. the owner cannot be dropped while it owns them
DROP ROLE regress_own_alice;
DO $$
BEGIN
    DROP ROLE regress_own_bob, regress_own_alice;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'refused with %: %', SQLSTATE, SQLERRM;
END
$$;
SELECT count(*) AS alice_still_exists FROM pg_roles WHERE rolname = 'regress_own_alice';

-- 2. REASSIGN OWNED moves every one of them
REASSIGN OWNED BY regress_own_alice TO regress_own_bob;
SELECT kind, name, owner::regrole FROM public.regress_own_owned WHERE name LIKE 'own%' ORDER BY 1, 2;
SELECT count(*) AS alice_owns FROM public.regress_own_owned WHERE owner = 'regress_own_alice'::regrole;
-- the old owner may no longer change them; the new one may delete them
SET ROLE regress_own_alice;
SELECT kg_try($$SELECT glue.delete_crawler('own_crawler')$$) AS alice_deletes_crawler;
SET ROLE regress_own_bob;
SELECT glue.delete_trigger('own_trig');
SELECT glue.delete_job('own_job');
SELECT glue.delete_crawler('own_crawler');
SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mappings m
  JOIN kinesis.streams s USING (stream_id) WHERE s.stream_name = 'own.s';
RESET ROLE;
-- alice still holds the storage privileges it was granted: DROP OWNED
-- revokes them (it owns nothing else now)
DROP OWNED BY regress_own_alice;
SELECT kind, name, owner::regrole FROM public.regress_own_owned WHERE name LIKE 'own%' ORDER BY 1, 2;

-- 3. DROP OWNED deletes what bob has left and what it made since: one
-- object of each kind (the delivery stream with its source stream), and
-- the schema alice made.  First, a job run in progress makes it refuse.
SET ROLE regress_own_bob;
SELECT glue.create_job('own_job2', script => 'SELECT 1');
SELECT glue.create_trigger('own_trig2', 'ON_DEMAND', '[{"job_name": "own_job2"}]');
SELECT glue.create_crawler('own_crawler2', 'own_db', '{"table_targets": [{"schema": "regress_own"}]}');
SELECT kinesis.create_event_source_mapping('own.s', 'regress_own.handle', starting_position => 'TRIM_HORIZON') > 0 AS mapping;
RESET ROLE;
SELECT kind, name, owner::regrole FROM public.regress_own_owned WHERE name LIKE 'own%' ORDER BY 1, 2;
BEGIN;
SET LOCAL ROLE regress_own_bob;
SELECT glue.start_job_run('own_job2') IS NOT NULL AS started;
RESET ROLE;
DROP OWNED BY regress_own_bob;
ROLLBACK;
DROP OWNED BY regress_own_bob;
SELECT kind, name, owner::regrole FROM public.regress_own_owned WHERE name LIKE 'own%' ORDER BY 1, 2;
DROP ROLE regress_own_alice, regress_own_bob;
DROP VIEW public.regress_own_owned;
-- no catalog names a role that does not exist
SELECT count(*) AS dangling FROM (
    SELECT owner::oid AS o FROM kinesis.event_source_mappings
    UNION ALL SELECT owner::oid FROM firehose.delivery_streams
    UNION ALL SELECT owner::oid FROM glue.triggers
    UNION ALL SELECT owner::oid FROM glue.workflows
    UNION ALL SELECT owner::oid FROM glue.jobs
    UNION ALL SELECT owner::oid FROM glue.crawlers
    UNION ALL SELECT owner::oid FROM glue.tables
    UNION ALL SELECT owner::oid FROM glue.databases
    UNION ALL SELECT owner::oid FROM kinesis.streams) x
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = x.o);
