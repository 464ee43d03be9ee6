--
-- glue_triggers: the trigger API (src/glue/triggers.sql) and its errors:
--   ON_DEMAND triggers start their actions at once (the runs are checked
--   inside the open transaction, before any worker sees them), CONDITIONAL
--   and EVENT settings are checked, SCHEDULED triggers need pg_cron (not
--   loaded here), owners may only start what they own.  Conditional chains,
--   event triggers and pg_cron firing are tested in test/t/070_glue_jobs.pl.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT glue.create_job('t_a', script => 'SELECT 1', default_arguments => '{"--day": "monday"}');
SELECT glue.create_job('t_b', script => 'SELECT 2', max_concurrent_runs => 5);
SELECT kinesis.create_stream('t_events');

SELECT glue.create_trigger('now', 'ON_DEMAND',
       '[{"job_name": "t_a", "arguments": {"--day": "tuesday"}, "timeout": "5 minutes"}, {"job_name": "t_b"}]',
       description => 'both jobs');
SELECT glue.create_trigger('after_a', 'conditional', '[{"job_name": "t_b"}]',
       predicate => '{"logical": "ANY", "conditions": [{"job_name": "t_a", "state": "SUCCEEDED"}, {"job_name": "t_a", "state": "FAILED"}]}');
SELECT glue.create_trigger('on_events', 'EVENT', '[{"job_name": "t_b"}]',
       event_batching_condition => '{"stream_name": "t_events", "batch_size": 10, "batch_window": 60}', start_on_creation => true);
SELECT name, trigger_type, state, schedule, predicate, event_batching_condition, actions, description FROM glue.get_triggers();
SELECT * FROM glue.list_triggers();

BEGIN;
SELECT glue.start_trigger('now') AS actions_started;
SELECT j.job_name, r.state, r.trigger_name, r.arguments, r.timeout
  FROM glue.job_runs r JOIN glue.jobs j USING (job_id) ORDER BY r.run_id;
ROLLBACK;

SELECT glue.start_trigger('after_a') AS activated;
SELECT state FROM glue.get_trigger('after_a');
SELECT glue.stop_trigger('after_a');
SELECT state FROM glue.get_trigger('after_a');
SELECT glue.update_trigger('after_a', predicate => '{"conditions": [{"job_name": "t_a", "state": "TIMEOUT"}]}');
SELECT predicate FROM glue.get_trigger('after_a');

-- errors
SELECT kg_try($$SELECT glue.create_trigger('now', 'ON_DEMAND', '[{"job_name": "t_a"}]')$$) AS duplicate;
SELECT kg_try($$SELECT glue.create_trigger('x', 'WEEKLY', '[{"job_name": "t_a"}]')$$) AS bad_type;
SELECT kg_try($$SELECT glue.create_trigger('x', 'ON_DEMAND', '[]')$$) AS no_actions;
SELECT kg_try($$SELECT glue.create_trigger('x', 'ON_DEMAND', '[{"job_name": "nope"}]')$$) AS missing_job;
SELECT kg_try($$SELECT glue.create_trigger('x', 'ON_DEMAND', '[{"crawler_name": "nope"}]')$$) AS missing_crawler;
SELECT kg_try($$SELECT glue.create_trigger('x', 'ON_DEMAND', '[{"job_name": "t_a", "crawler_name": "c"}]')$$) AS both_in_action;
SELECT kg_try($$SELECT glue.create_trigger('x', 'ON_DEMAND', '[{"job_name": "t_a", "arguments": {"--n": 1}}]')$$) AS bad_arguments;
SELECT kg_try($$SELECT glue.create_trigger('x', 'SCHEDULED', '[{"job_name": "t_a"}]')$$) AS no_schedule;
SELECT kg_try($$SELECT glue.create_trigger('x', 'ON_DEMAND', '[{"job_name": "t_a"}]', schedule => '* * * * *')$$) AS schedule_on_demand;
SELECT kg_try($$SELECT glue.create_trigger('x', 'SCHEDULED', '[{"job_name": "t_a"}]', schedule => 'cron(0 12 * * ? 2030)')$$) AS year_field;
SELECT kg_try($$SELECT glue.create_trigger('x', 'SCHEDULED', '[{"job_name": "t_a"}]', schedule => '*/5 * * * *', start_on_creation => true)$$) AS without_pg_cron;
SELECT kg_try($$SELECT glue.create_trigger('x', 'CONDITIONAL', '[{"job_name": "t_a"}]')$$) AS no_predicate;
SELECT kg_try($$SELECT glue.create_trigger('x', 'CONDITIONAL', '[{"job_name": "t_a"}]', predicate => '{"logical": "OR", "conditions": [{"job_name": "t_b", "state": "SUCCEEDED"}]}')$$) AS bad_logical;
SELECT kg_try($$SELECT glue.create_trigger('x', 'CONDITIONAL', '[{"job_name": "t_a"}]', predicate => '{"conditions": [{"job_name": "t_b", "state": "RUNNING"}]}')$$) AS bad_state;
SELECT kg_try($$SELECT glue.create_trigger('x', 'EVENT', '[{"job_name": "t_a"}]', event_batching_condition => '{"stream_name": "t_events", "batch_size": 0}')$$) AS bad_batch;
SELECT kg_try($$SELECT glue.create_trigger('x', 'EVENT', '[{"job_name": "t_a"}]', event_batching_condition => '{"stream_name": "nope", "batch_size": 5}')$$) AS missing_stream;
SELECT kg_try($$SELECT glue.stop_trigger('now')$$) AS stop_on_demand;
SELECT kg_try($$SELECT glue.start_trigger('nope')$$) AS missing;
SELECT kg_try($$SELECT glue.delete_trigger('nope')$$) AS delete_missing;

-- another role cannot see the triggers, nor start jobs it does not own
CREATE ROLE regress_trigger_other;
GRANT USAGE ON SCHEMA glue, kinesis_glue, kinesis TO regress_trigger_other;
SET ROLE regress_trigger_other;
SELECT * FROM glue.list_triggers();
SELECT kg_try($$SELECT glue.start_trigger('now')$$) AS not_visible;
SELECT kg_try($$SELECT glue.create_trigger('mine', 'ON_DEMAND', '[{"job_name": "t_a"}]')$$) AS job_not_visible;
RESET ROLE;

SELECT glue.delete_trigger('now'), glue.delete_trigger('after_a'), glue.delete_trigger('on_events');
SELECT glue.delete_job('t_a'), glue.delete_job('t_b');
SELECT kinesis.delete_stream('t_events', enforce_consumer_deletion => true);
DROP OWNED BY regress_trigger_other;
DROP ROLE regress_trigger_other;
