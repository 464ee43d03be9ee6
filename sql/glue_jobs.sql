--
-- glue_jobs: the job API (src/glue/jobs.sql, job_runs.sql) and its errors:
--   create / get / list / update / delete, argument checks and Glue's
--   argument merge, script substitution of named arguments, concurrency
--   limits (refuse or queue), stop of queued runs, rights of other roles,
--   hostile names, and the functions that work only inside a run.  Runs
--   executed by the worker are tested in test/t/070_glue_jobs.pl.
-- Roles are regress_job_*, dropped at the end.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

-- no function of schema glue widens privileges; all but glue.run_job (a
-- procedure that commits, which a SET clause forbids) pin search_path
SELECT count(*) FILTER (WHERE p.prosecdef) AS security_definer,
       string_agg(p.proname, ', ') FILTER (WHERE NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']
                                            AND l.lanname <> 'c') AS without_search_path
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace = 'glue'::regnamespace;

CREATE TABLE public.job_src (id bigint PRIMARY KEY, v text);
CREATE TABLE public.job_dst (id bigint, v text);
CREATE PROCEDURE public.job_proc(args jsonb) LANGUAGE sql AS $$ INSERT INTO public.job_dst VALUES (0, args ->> '--x') $$;
CREATE FUNCTION public.not_a_proc(jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
REVOKE EXECUTE ON PROCEDURE public.job_proc FROM PUBLIC;

--
-- create, get, list
--
SELECT glue.create_job('load', script => 'INSERT INTO job_dst SELECT * FROM job_src WHERE v = :''color''',
                       default_arguments => '{"--color": "red", "--table": "job_dst"}',
                       non_overridable_arguments => '{"--env": "prod"}',
                       max_concurrent_runs => 2, timeout => '10 minutes', max_retries => 2,
                       description => 'copies red rows');
SELECT glue.create_job('proc', procedure => 'public.job_proc(jsonb)', job_run_queuing => true);
SELECT name, owner, script, procedure, default_arguments, non_overridable_arguments, max_concurrent_runs,
       job_run_queuing, timeout, max_retries, version, description
  FROM glue.get_job('load');
SELECT name, procedure, max_concurrent_runs, job_run_queuing, timeout FROM glue.get_jobs();
SELECT * FROM glue.list_jobs();

-- errors
SELECT kg_try($$SELECT glue.create_job('load', script => 'SELECT 1')$$) AS duplicate;
SELECT kg_try($$SELECT glue.create_job('', script => 'SELECT 1')$$) AS empty_name;
SELECT kg_try($$SELECT glue.create_job(E'bad\nname', script => 'SELECT 1')$$) AS control_characters;
SELECT kg_try($$SELECT glue.create_job('neither')$$) AS no_command;
SELECT kg_try($$SELECT glue.create_job('both', script => 'SELECT 1', procedure => 'public.job_proc(jsonb)')$$) AS both_commands;
SELECT kg_try($$SELECT glue.create_job('fn', procedure => 'public.not_a_proc(jsonb)')$$) AS not_a_procedure;
SELECT kg_try($$SELECT glue.create_job('x', script => 'SELECT 1', default_arguments => '[1]')$$) AS arguments_not_object;
SELECT kg_try($$SELECT glue.create_job('x', script => 'SELECT 1', default_arguments => '{"--n": 1}')$$) AS argument_not_string;
SELECT kg_try($$SELECT glue.create_job('x', script => 'SELECT 1', default_arguments => '{"--job-bookmark-option": "on"}')$$) AS bad_bookmark_option;
SELECT kg_try($$SELECT glue.create_job('x', script => 'SELECT 1', max_concurrent_runs => 0)$$) AS zero_concurrency;
SELECT kg_try($$SELECT glue.create_job('x', script => 'SELECT 1', timeout => '8 days')$$) AS long_timeout;
SELECT kg_try($$SELECT glue.create_job('x', script => 'SELECT 1', max_retries => 11)$$) AS many_retries;
SELECT kg_try($$SELECT glue.get_job('nope')$$) AS missing;
SELECT kg_try($$SELECT glue.start_job_run('nope')$$) AS start_missing;
SELECT kg_try($$SELECT glue.delete_job('nope')$$) AS delete_missing;
SELECT kg_try($$SELECT glue.get_job_runs('nope')$$) AS runs_missing;
SELECT kg_try($$SELECT glue.get_job_run('load', 12345)$$) AS run_missing;

-- a hostile name is data, never SQL
SELECT glue.create_job($n$x'); DROP TABLE glue.jobs; --$n$, script => 'SELECT 1');
SELECT count(*) AS jobs FROM glue.jobs;
SELECT glue.delete_job($n$x'); DROP TABLE glue.jobs; --$n$);

--
-- update
--
SELECT glue.update_job('load', max_concurrent_runs => 1, description => '');
SELECT max_concurrent_runs, description IS NULL AS no_description, version FROM glue.get_job('load');
SELECT glue.update_job('proc', script => 'SELECT 2');
SELECT script, procedure FROM glue.get_job('proc');
SELECT glue.update_job('proc', procedure => 'public.job_proc(jsonb)');
SELECT script, procedure FROM glue.get_job('proc');
SELECT kg_try($$SELECT glue.update_job('load', timeout => '0 seconds')$$) AS bad_update;

--
-- argument merge (Glue): defaults, run arguments except non-overridable, then non-overridable
--
SELECT glue._merge_arguments(j, '{"--color": "blue", "--env": "dev", "--new": "n"}') AS merged
  FROM glue.jobs j WHERE job_name = 'load';
-- named arguments are quoted, never pasted
SELECT glue._substitute($$SELECT :'a', :"b" FROM t WHERE x = ':not_an_argument'$$,
                        '{"--a": "it''s; DROP TABLE t", "b": "Mixed Case"}') AS substituted;
SELECT kg_try($$SELECT glue._substitute('SELECT :''missing''', '{}')$$) AS unknown_argument;

--
-- runs: the worker cannot see runs of this open transaction, so states
-- below are the ones start/stop give
--
BEGIN;
SELECT glue.start_job_run('load', '{"--color": "blue"}') IS NOT NULL AS started;
SELECT kg_try($$SELECT glue.start_job_run('load')$$) AS over_limit;
SELECT glue.start_job_run('proc') IS NOT NULL AS started;
SELECT glue.start_job_run('proc') IS NOT NULL AS queued;
SELECT job_name, state, attempt, arguments FROM glue.get_job_runs('proc') ORDER BY run_id;
SELECT state, arguments FROM glue.get_job_runs('load');
SELECT s.state, s.error_message FROM glue.get_job_runs('proc') r, glue.batch_stop_job_run('proc', ARRAY[r.run_id, 999999]) s
 WHERE r.state = 'WAITING';
SELECT glue.stop_job_run('proc', (SELECT max(run_id) FROM glue.job_runs WHERE state = 'STARTING')) AS stopped;
-- (run ids depend on the runs of earlier files)
SELECT regexp_replace(kg_try(format('SELECT glue.stop_job_run(%L, %s)', 'proc', (SELECT max(run_id) FROM glue.job_runs))),
                      'run [0-9]+ of', 'run N of') AS stop_ended;
SELECT kg_try($$SELECT glue.delete_job('load')$$) AS delete_with_runs;
SELECT kg_try($$SELECT glue.reset_job_bookmark('load')$$) AS reset_while_starting;
SELECT kg_try($$SELECT glue.start_job_run('proc', timeout => '0 seconds')$$) AS bad_run_timeout;
ROLLBACK;

-- functions a script calls work only inside a run
SELECT kg_try($$SELECT glue.get_resolved_options()$$) AS outside_run;
SELECT kg_try($$SELECT glue.job_run_id()$$) AS run_id_outside_run;
-- only the job worker that took a run executes it; the worker's own steps are not for users
SELECT kg_try($$SELECT glue._job_run_body(1)$$) AS body_outside_worker;
SELECT has_function_privilege('public', 'glue._job_supervise(integer)', 'EXECUTE') AS public_may_supervise,
       has_function_privilege('public', 'glue._evaluate_triggers()', 'EXECUTE') AS public_may_evaluate;
SELECT kg_try($$SELECT * FROM glue.bookmark_records('s')$$) AS records_outside_run;
SELECT kg_try($$SELECT * FROM glue.bookmark_range('job_src', 'id', NULL::bigint)$$) AS range_outside_run;
SELECT kg_try($$SELECT * FROM glue.bookmark_files('db', 'tbl')$$) AS files_outside_run;
SELECT kg_try($$SELECT set_config('glue_job.run_id', '1', false); SELECT glue.get_resolved_options()$$) AS forged_run_id;
SELECT * FROM glue.get_job_bookmark('load');
SELECT glue.reset_job_bookmark('load');

--
-- other roles see nothing and change nothing
--
CREATE ROLE regress_job_other;
GRANT USAGE ON SCHEMA glue, kinesis_glue TO regress_job_other;
SET ROLE regress_job_other;
SELECT * FROM glue.list_jobs();
SELECT kg_try($$SELECT glue.get_job('load')$$) AS not_visible;
SELECT kg_try($$SELECT glue.start_job_run('load')$$) AS cannot_start;
SELECT kg_try($$SELECT glue.update_job('load', max_retries => 0)$$) AS cannot_update;
-- (deleting a job one cannot see succeeds, as for a missing one, and deletes nothing)
SELECT kg_try($$SELECT glue.delete_job('load')$$) AS cannot_delete;
SELECT kg_try($$SELECT glue.create_job('theirs', procedure => 'public.job_proc(jsonb)')$$) AS proc_without_execute;
SELECT count(*) AS runs_visible FROM glue.job_runs;
RESET ROLE;
SELECT count(*) AS load_still_there FROM glue.jobs WHERE job_name = 'load';

SELECT glue.delete_job('load'), glue.delete_job('proc');
SELECT count(*) AS jobs, (SELECT count(*) FROM glue.job_runs) AS runs FROM glue.jobs;
DROP OWNED BY regress_job_other;
DROP ROLE regress_job_other;
DROP TABLE public.job_src, public.job_dst;
DROP PROCEDURE public.job_proc;
DROP FUNCTION public.not_a_proc;
