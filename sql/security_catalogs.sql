--
-- security_catalogs: the catalogs are written only through the extension's
-- functions (README "Security model", "Catalogs").
--   1. no table of the extension grants INSERT, UPDATE, DELETE or TRUNCATE
--      to PUBLIC or to an ordinary role, and no schema of it CREATE
--      (checked over pg_depend, so a new table is covered);
--   2. the functions that run as the extension owner, listed;
--   3. the attacks of issue 13 as a role without special attributes:
--      a forged trigger row or schedule for the pg_cron sync, a job run
--      row in STOPPING, a view squatting in glue_tables, forged rows
--      passed to writers;
--   4. a deeply nested JSON line is skipped by a glue_tables view;
--   5. the strict schedule parser: Glue's cron(...) and pg_cron's five
--      fields, translated or refused naming the part.
-- Roles are regress_sec_*, dropped at the end.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE ROLE regress_sec_alice;
CREATE ROLE regress_sec_mallory;
GRANT USAGE ON SCHEMA kinesis_glue, glue, firehose, kinesis TO regress_sec_alice, regress_sec_mallory;

-- 1. every relation of the extension: only SELECT for others
SELECT c.oid::regclass AS relation, r.rolname, p.privilege
  FROM pg_depend d
  JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  CROSS JOIN (SELECT 'public' AS rolname UNION ALL SELECT 'regress_sec_mallory') r
  CROSS JOIN (VALUES ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) p(privilege)
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'kinesis_glue')
   AND (has_table_privilege(r.rolname, c.oid, p.privilege)
        OR (p.privilege IN ('INSERT', 'UPDATE') AND has_any_column_privilege(r.rolname, c.oid, p.privilege)))
 ORDER BY 1, 2, 3;
-- (and there are such tables: the query above is not vacuous)
SELECT count(*) > 20 AS catalog_tables
  FROM pg_depend d JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid AND c.relkind = 'r'
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'kinesis_glue');
-- no schema of the extension lets an ordinary role create in it
SELECT n.nspname
  FROM pg_depend d JOIN pg_namespace n ON d.classid = 'pg_namespace'::regclass AND n.oid = d.objid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND has_schema_privilege('regress_sec_mallory', n.oid, 'CREATE')
 ORDER BY 1;

-- 2. the run-as-owner functions (a new one shows up here for review); none
-- is SECURITY DEFINER
SELECT p.oid::regprocedure AS run_as_owner, p.prosecdef
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
 WHERE 'kinesis_glue.run_as_owner=on' = ANY (p.proconfig)
 ORDER BY p.oid::regprocedure::text COLLATE "C";
SELECT count(*) AS security_definer
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
 WHERE p.prosecdef;
-- internal writers that take a whole row are not for PUBLIC
SELECT f, has_function_privilege('regress_sec_mallory', f, 'EXECUTE') AS mallory_may
  FROM unnest(ARRAY['glue._set_trigger_schedule(glue.triggers)', 'glue._run_actions(glue.triggers, bigint)',
                    'glue._cron_wanted()', 'glue._cron_job(text, text, text, regrole, text)',
                    'glue._set_schedule(glue.crawlers, boolean)',
                    'glue._start_run(glue.jobs, jsonb, interval, text, bigint, integer, bigint)',
                    'glue._new_workflow_run(text, jsonb, bigint)']::regprocedure[]) f;

-- kinesis_glue.caller(): the current user outside run-as-owner functions
SET ROLE regress_sec_mallory;
SELECT kinesis_glue.caller() AS caller, current_user;
RESET ROLE;

-- alice's objects
SET ROLE regress_sec_alice;
SELECT glue.create_database('sec_db');
SELECT glue.create_table('sec_db', 'events', '[{"name": "a", "type": "int"}]',
                         partition_keys => '[{"name": "day", "type": "string"}]');
SELECT glue.create_job('sec_job', script => 'SELECT 1');
SELECT glue.create_trigger('sec_now', 'ON_DEMAND', '[{"job_name": "sec_job"}]');
RESET ROLE;

-- 3a. a forged trigger row, or a schedule changed behind the functions'
-- back, would reach the pg_cron sync: refused
SET ROLE regress_sec_mallory;
SELECT kg_try($$INSERT INTO glue.triggers (trigger_name, owner, trigger_type, state, schedule, actions)
                VALUES ('evil', 'regress_sec_mallory', 'SCHEDULED', 'ACTIVATED',
                        E'* * * * *\tALTER ROLE regress_sec_mallory SUPERUSER\tpostgres\n* * * * *', '[]')$$) AS forged_trigger,
       kg_try($$UPDATE glue.triggers SET schedule = E'* * * * *\nx' WHERE trigger_name = 'sec_now'$$) AS changed_schedule,
       kg_try($$DELETE FROM glue.triggers$$) AS deleted;
-- through the API the schedule passes the strict parser first
SELECT kg_try($q$SELECT glue.create_trigger('evil', 'SCHEDULED', '[{"job_name": "x"}]',
                    schedule => E'* * * * *\tALTER ROLE regress_sec_mallory SUPERUSER\tpostgres')$q$) AS tab_in_schedule,
       kg_try($q$SELECT glue.create_trigger('evil', 'SCHEDULED', '[{"job_name": "x"}]',
                    schedule => E'* * * * *\n* * * * *')$q$) AS newline_in_schedule;
-- 3b. a job run in STOPPING with somebody's pid: refused, and so is
-- every other way to write job_runs
SELECT kg_try($$INSERT INTO glue.job_runs (job_id, state, worker_pid, arguments, timeout)
                SELECT job_id, 'STOPPING', pg_backend_pid(), '{}', '1 hour' FROM glue.jobs$$) AS forged_run,
       kg_try($$UPDATE glue.job_runs SET state = 'STOPPING', worker_pid = pg_backend_pid()$$) AS stop_others,
       kg_try($$SELECT glue._job_run_succeeded(1, 0)$$) AS fake_success;
-- (the job is alice's: mallory does not even see it)
SELECT kg_try($$SELECT glue.start_job_run('sec_job')$$) AS start_her_job,
       kg_try($$SELECT glue.start_trigger('sec_now')$$) AS fire_her_trigger,
       kg_try($$SELECT glue._fire_trigger('sec_now')$$) AS fire_through_pg_cron_entry;
-- 3c. a forged row passed to a writer: the writer reads the catalog itself
SELECT kg_try($$SELECT glue._insert_partition(t, ARRAY['x'], NULL, '{}')
                  FROM (SELECT (x.table_id, x.database_id, x.table_name, x.description,
                                'regress_sec_mallory'::regrole, x.table_type, x.location, x.parameters, x.columns,
                                x.partition_keys, x.version_id, x.create_time, x.update_time)::glue.tables AS t
                          FROM glue.tables x WHERE x.table_name = 'events') f$$) AS forged_table_row;
-- 3d. glue_tables: nobody but the extension creates there
SELECT kg_try($$CREATE VIEW glue_tables.sec_db_events AS SELECT 1 AS a$$) AS squat;
RESET ROLE;
SELECT count(*) AS partitions FROM glue.partitions;

-- a relation the extension did not make (here a superuser's, as if made
-- before) is never reused, replaced or dropped: the catalog table just has
-- no view
CREATE TABLE glue_tables.sec_db_squatted (a int);
SET ROLE regress_sec_alice;
SELECT glue.create_table('sec_db', 'squatted', '[{"name": "a", "type": "int"}]',
                         location => 'postgresql://pg_catalog/pg_am');
SELECT glue.table_relation('sec_db', 'squatted') IS NOT NULL AS named,
       EXISTS (SELECT 1 FROM glue.table_relations r JOIN glue.tables t USING (table_id)
                WHERE t.table_name = 'squatted') AS registered;
SELECT glue.delete_table('sec_db', 'squatted');
-- the views it makes are registered by oid and belong to the table's owner
SELECT glue.create_table('sec_db', 'am', '[{"name": "amname", "type": "string"}]',
                         location => 'postgresql://pg_catalog/pg_am');
SELECT c.oid::regclass AS view, c.relowner::regrole AS owner,
       r.relation = c.oid AS registered
  FROM glue.table_relations r JOIN glue.tables t USING (table_id) JOIN pg_class c ON c.oid = r.relation
 WHERE t.table_name = 'am';
SELECT count(*) > 0 AS readable FROM glue_tables.sec_db_am;
SELECT glue.delete_table('sec_db', 'am');
RESET ROLE;
SELECT to_regclass('glue_tables.sec_db_squatted') IS NOT NULL AS squatter_left_alone,
       to_regclass('glue_tables.sec_db_am') IS NULL AS view_dropped;
DROP TABLE glue_tables.sec_db_squatted;

-- 3e. Firehose: delivery outcomes are written through writers that check
-- the caller
CREATE TABLE public.sec_sink (data bytea);
GRANT INSERT ON public.sec_sink TO regress_sec_alice;
GRANT CREATE ON SCHEMA kinesis_records TO regress_sec_alice;
SET ROLE regress_sec_alice;
SELECT firehose.create_delivery_stream('sec.fh', 'public.sec_sink', record_format => 'bytea', data_column => 'data');
RESET ROLE;
SET ROLE regress_sec_mallory;
SELECT kg_try($$UPDATE firehose.delivery_streams SET records_delivered = 1000$$) AS direct,
       kg_try(format('SELECT firehose._count_delivery(%s, %L, true, false)',
                     (SELECT delivery_stream_id FROM firehose.delivery_streams WHERE delivery_stream_name = 'sec.fh'),
                     '{"records_delivered": 1000}')) AS through_writer,
       kg_try($$SELECT firehose._insert_delivery_stream(d) FROM firehose.delivery_streams d$$) AS copy_row;
RESET ROLE;
SELECT records_delivered FROM firehose.delivery_streams WHERE delivery_stream_name = 'sec.fh';
SET ROLE regress_sec_alice;
SELECT firehose.delete_delivery_stream('sec.fh');
RESET ROLE;
DROP TABLE public.sec_sink;
REVOKE CREATE ON SCHEMA kinesis_records FROM regress_sec_alice;

-- 4. one JSON line nested deeper than the parsers recurse is skipped, as
-- other bad lines are; it does not fail the whole view
\! rm -rf /tmp/kg_regress_security && mkdir -p /tmp/kg_regress_security
\set f /tmp/kg_regress_security/deep.jsonl
COPY (SELECT line FROM (VALUES (1, '{"a": 1}'), (2, '{"a": ' || repeat('[', 100000) || repeat(']', 100000) || '}'),
                              (3, '{"a": 3}')) v(o, line) ORDER BY o) TO :'f' (FORMAT text);
SELECT glue.create_database('sec_files');
SELECT glue.create_table('sec_files', 'deep', '[{"name": "a", "type": "int"}]',
                         location => '/tmp/kg_regress_security', classification => 'json');
SELECT a FROM glue_tables.sec_files_deep ORDER BY a;
SELECT glue.delete_database('sec_files');
\! rm -rf /tmp/kg_regress_security

-- 5. the strict schedule parser
SELECT s AS schedule, kg_try(format('SELECT glue._cron_expression(%L)', s)) AS outcome,
       CASE WHEN kg_try(format('SELECT glue._cron_expression(%L)', s)) = 'ok' THEN glue._cron_expression(s) END AS pg_cron
  FROM unnest(ARRAY[
        'cron(0/15 * * * ? *)', 'cron(0/5 * * * ? *)', 'cron(15 12 ? * MON-FRI *)', 'cron(0 8 1 JAN,JUL ? *)',
        'cron(0 0 ? * 1 *)', 'cron(0 0 ? * 7 *)', 'cron(0 0 ? * 2/2 *)', 'cron(*/10 1-5 * * ? *)',
        'cron(0 0 10-20/5 * ? *)', 'cron(0 9 ? JAN-MAR SUN,SAT ?)', 'cron(0 9 ? DEC-FEB * *)', 'CRON( 30  6 * * ? * )',
        '*/5 * * * *', '0 0 * * 7', '0 0 * * sun', ' 5 4 * * * ',
        'cron(0 12 L * ? *)', 'cron(0 12 15W * ? *)', 'cron(0 12 ? * 6#3 *)', 'cron(0 12 ? * 6L *)',
        'cron(0 12 * * ? 2030)', 'cron(0 12 * *)', 'cron(60 * * * ? *)', 'cron(0 0 ? * 8 *)', 'cron(0 0 5-1 * ? *)',
        'cron(0/0 * * * ? *)', 'cron(0 0 ? * FUNDAY *)', '0 0 ? * *', '@daily', '* * * *',
        E'* * * * *\tSELECT 1', E'* * * * *\n* * * * *', '* * * * * *']) s;

-- deleting another role's trigger or job succeeds, as for a missing one, and deletes nothing
SET ROLE regress_sec_mallory;
SELECT glue.delete_trigger('sec_now') AS other_trigger, glue.delete_job('sec_job') AS other_job;
RESET ROLE;
SELECT (SELECT count(*) FROM glue.triggers WHERE trigger_name = 'sec_now') AS trigger_kept,
       (SELECT count(*) FROM glue.jobs WHERE job_name = 'sec_job') AS job_kept;

SET ROLE regress_sec_alice;
SELECT glue.delete_trigger('sec_now'), glue.delete_job('sec_job');
SELECT glue.delete_database('sec_db');
RESET ROLE;
DROP OWNED BY regress_sec_alice, regress_sec_mallory;
DROP ROLE regress_sec_alice, regress_sec_mallory;
