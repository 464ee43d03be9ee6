--
-- glue_workflows: the workflow API (src/glue/workflows.sql) and its
--   errors, the graph (get_workflow, workflow_graph in DOT, with hostile
--   names quoted), start_workflow_run inside one transaction (the worker
--   cannot see it yet), run properties, stop, and resume refused while a
--   run is in progress.  Runs carried through by the worker, with a failed
--   node resumed, are tested in test/t/070_glue_jobs.pl.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT glue.create_workflow('etl', description => 'daily load', default_run_properties => '{"day": "monday"}',
                            max_concurrent_runs => 1);
SELECT glue.create_job('w_extract', script => 'SELECT 1');
SELECT glue.create_job($n$w_"load"\ {x}$n$, script => 'SELECT 2');
SELECT glue.create_trigger('w_start', 'ON_DEMAND', '[{"job_name": "w_extract"}]', workflow_name => 'etl');
SELECT glue.create_trigger('w_then', 'CONDITIONAL', $a$[{"job_name": "w_\"load\"\\ {x}"}]$a$, workflow_name => 'etl',
       predicate => '{"conditions": [{"job_name": "w_extract", "state": "SUCCEEDED"}]}', start_on_creation => true);
SELECT workflow_name, description, default_run_properties, max_concurrent_runs, nodes, edges, last_run
  FROM glue.get_workflow('etl');
SELECT glue.workflow_graph('etl');
SELECT * FROM glue.list_workflows();
SELECT glue.update_workflow('etl', description => 'daily load, v2');
SELECT description, max_concurrent_runs FROM glue.get_workflow('etl');
SELECT kg_try($$SELECT glue.update_workflow('nope', description => 'x')$$) AS update_missing;

-- errors
SELECT kg_try($$SELECT glue.create_workflow('etl')$$) AS duplicate;
SELECT kg_try($$SELECT glue.create_workflow('')$$) AS empty_name;
SELECT kg_try($$SELECT glue.create_workflow('x', default_run_properties => '{"a": 1}')$$) AS bad_properties;
SELECT kg_try($$SELECT glue.get_workflow('nope')$$) AS missing;
SELECT kg_try($$SELECT glue.workflow_graph('nope')$$) AS graph_missing;
SELECT kg_try($$SELECT glue.create_trigger('w_second', 'ON_DEMAND', '[{"job_name": "w_extract"}]', workflow_name => 'etl')$$) AS second_start;
SELECT kg_try($$SELECT glue.create_trigger('w_x', 'ON_DEMAND', '[{"job_name": "w_extract"}]', workflow_name => 'nope')$$) AS missing_workflow;
SELECT glue.create_workflow('empty');
SELECT kg_try($$SELECT glue.start_workflow_run('empty')$$) AS no_start_trigger;
SELECT kg_try($$SELECT glue.get_workflow_run('etl', 999)$$) AS run_missing;

BEGIN;
SELECT glue.start_workflow_run('etl', '{"day": "tuesday"}') AS run_id \gset
SELECT status, run_properties, statistics, nodes -> 0 ->> 'state' AS first_node FROM glue.get_workflow_run('etl', :run_id);
SELECT j.job_name, r.arguments ->> '--WORKFLOW_NAME' AS workflow, r.arguments ? '--WORKFLOW_RUN_ID' AS has_run_id
  FROM glue.job_runs r JOIN glue.jobs j USING (job_id) WHERE r.workflow_run_id = :run_id;
SELECT glue.put_workflow_run_properties('etl', :run_id, '{"rows": "10"}');
SELECT glue.get_workflow_run_properties('etl', :run_id);
SELECT kg_try($$SELECT glue.start_workflow_run('etl')$$) AS over_max_concurrent_runs;
SELECT kg_try(format('SELECT glue.resume_workflow_run(%L, %s)', 'etl', :run_id)) AS resume_running;
SELECT kg_try($$SELECT glue.delete_workflow('etl')$$) AS delete_running;
SELECT glue.stop_workflow_run('etl', :run_id);
SELECT status FROM glue.get_workflow_runs('etl');
SELECT j.job_name, r.state FROM glue.job_runs r JOIN glue.jobs j USING (job_id) WHERE r.workflow_run_id = :run_id;
SELECT kg_try(format('SELECT glue.resume_workflow_run(%L, %s, ARRAY[%L])', 'etl', :run_id, 'nope')) AS resume_unknown_node;
ROLLBACK;

-- errored_actions counts the nodes whose job run is in state ERROR, as in
-- Glue's WorkflowRunStatistics
BEGIN;
SELECT glue.start_workflow_run('etl') AS run_id \gset
UPDATE glue.job_runs SET state = 'ERROR' WHERE workflow_run_id = :run_id;
SELECT statistics FROM glue.get_workflow_run('etl', :run_id);
ROLLBACK;

SELECT glue.delete_workflow('etl'), glue.delete_workflow('empty');
SELECT count(*) AS triggers_left FROM glue.triggers;
SELECT glue.delete_job('w_extract'), glue.delete_job($n$w_"load"\ {x}$n$);
