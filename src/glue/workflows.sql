-- Glue workflows (src/glue/workflows.sql): a workflow groups triggers
-- (created with workflow_name), and through their actions and conditions
-- the jobs and crawlers they start, into a graph.
--
-- One start trigger (ON_DEMAND, SCHEDULED or EVENT) opens a workflow run;
-- CONDITIONAL triggers of the workflow watch the jobs and crawls of that
-- run only.  Jobs started in a run get --WORKFLOW_NAME and
-- --WORKFLOW_RUN_ID and share the run's properties
-- (get_workflow_run_properties / put_workflow_run_properties).  A run is
-- RUNNING until none of its job runs or crawls is in progress, then
-- COMPLETED (or STOPPED).  resume_workflow_run opens a new run, linked by
-- previous_run_id, that re-runs the chosen (by default the failed) job
-- nodes; conditions see the nodes that succeeded in the earlier runs.
-- workflow_graph returns the graph as Graphviz DOT.
--
-- Errors: EntityNotFoundException (42704), AlreadyExistsException (42710),
-- InvalidInputException (22023), IllegalWorkflowStateException (55000),
-- ConcurrentRunsExceededException (54000).

CREATE TABLE glue.workflows (
    workflow_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_name text NOT NULL UNIQUE,
    owner regrole NOT NULL,
    description text,
    default_run_properties jsonb NOT NULL DEFAULT '{}',
    max_concurrent_runs integer CHECK (max_concurrent_runs > 0),
    created_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_modified_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE TABLE glue.workflow_runs (
    workflow_run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id integer NOT NULL REFERENCES glue.workflows ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'COMPLETED', 'STOPPED', 'ERROR')),
    run_properties jsonb NOT NULL DEFAULT '{}',
    previous_run_id bigint,
    started_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    completed_on timestamptz
);
-- Crawls started in a workflow run.
CREATE TABLE glue.workflow_crawls (
    crawl_id bigint PRIMARY KEY,
    workflow_run_id bigint NOT NULL REFERENCES glue.workflow_runs ON DELETE CASCADE
);

ALTER TABLE glue.workflows ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.workflows FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT ON glue.workflows TO PUBLIC;   -- written only through the functions (README "Catalogs")
ALTER TABLE glue.workflow_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.workflow_runs FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.workflows w WHERE w.workflow_id OPERATOR(pg_catalog.=) workflow_runs.workflow_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, w.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.workflows w WHERE w.workflow_id OPERATOR(pg_catalog.=) workflow_runs.workflow_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, w.owner, 'USAGE')));
GRANT SELECT ON glue.workflow_runs TO PUBLIC;   -- written only through the functions (README "Catalogs")
ALTER TABLE glue.workflow_crawls ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.workflow_crawls FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.workflow_runs r JOIN glue.workflows w USING (workflow_id)
                    WHERE r.workflow_run_id OPERATOR(pg_catalog.=) workflow_crawls.workflow_run_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, w.owner, 'USAGE')));
GRANT SELECT ON glue.workflow_crawls TO PUBLIC;   -- written only through the functions (README "Catalogs")

CREATE FUNCTION glue._workflow(name text, lock boolean DEFAULT false) RETURNS glue.workflows
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    w glue.workflows;
BEGIN
    IF lock THEN
        SELECT * INTO w FROM glue.workflows x WHERE x.workflow_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE') FOR NO KEY UPDATE;
    ELSE
        SELECT * INTO w FROM glue.workflows x WHERE x.workflow_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE');
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: workflow "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List your workflows with glue.list_workflows().';
    END IF;
    RETURN w;
END
$$;

CREATE FUNCTION glue._workflow_run(w glue.workflows, run_id bigint) RETURNS glue.workflow_runs
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.workflow_runs;
BEGIN
    SELECT * INTO r FROM glue.workflow_runs x WHERE x.workflow_run_id = run_id AND x.workflow_id = w.workflow_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: workflow "%" has no run %', w.workflow_name, run_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN r;
END
$$;

-- A run and its predecessors (resume_workflow_run), newest first.
CREATE FUNCTION glue._workflow_lineage(run_id bigint) RETURNS SETOF bigint
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    WITH RECURSIVE l(id, prev) AS (
        SELECT r.workflow_run_id, r.previous_run_id FROM glue.workflow_runs r WHERE r.workflow_run_id = $1
        UNION ALL
        SELECT r.workflow_run_id, r.previous_run_id FROM glue.workflow_runs r JOIN l ON r.workflow_run_id = l.prev)
    SELECT id FROM l
$$;

-- API ---------------------------------------------------------------------------

CREATE FUNCTION glue.create_workflow(name text, description text DEFAULT NULL,
        default_run_properties jsonb DEFAULT '{}', max_concurrent_runs integer DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
BEGIN
    IF name IS NULL OR length(name) NOT BETWEEN 1 AND 255 OR name ~ '[[:cntrl:]]' THEN
        PERFORM glue._invalid('workflow name must have 1 to 255 characters and no control characters');
    END IF;
    PERFORM glue._check_arguments('default_run_properties', default_run_properties);
    IF max_concurrent_runs IS NOT NULL AND max_concurrent_runs < 1 THEN
        PERFORM glue._invalid('max_concurrent_runs must be at least 1 (NULL: no limit)');
    END IF;
    PERFORM glue._check_length('description', description, 2048);
    INSERT INTO glue.workflows (workflow_name, owner, description, default_run_properties, max_concurrent_runs)
    VALUES (name, kinesis_glue.caller()::regrole, nullif(description, ''), coalesce(default_run_properties, '{}'), max_concurrent_runs);
    RETURN name;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'AlreadyExistsException: workflow "%" already exists', name USING ERRCODE = 'duplicate_object';
END
$$;

CREATE FUNCTION glue.list_workflows() RETURNS SETOF text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT workflow_name FROM glue.workflows ORDER BY workflow_name COLLATE "C"
$$;

-- The nodes and edges of a workflow: triggers, and the jobs and crawlers
-- they start or watch.  kind is trigger, job or crawler.
CREATE FUNCTION glue._workflow_edges(w glue.workflows)
    RETURNS TABLE (from_kind text, from_name text, to_kind text, to_name text, label text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT 'trigger', t.trigger_name, CASE WHEN a ? 'job_name' THEN 'job' ELSE 'crawler' END,
           coalesce(a ->> 'job_name', a ->> 'crawler_name'), NULL
      FROM glue.triggers t, jsonb_array_elements(t.actions) a
     WHERE t.workflow_name = ($1).workflow_name
    UNION ALL
    SELECT CASE WHEN c ? 'job_name' THEN 'job' ELSE 'crawler' END, coalesce(c ->> 'job_name', c ->> 'crawler_name'),
           'trigger', t.trigger_name, coalesce(c ->> 'state', c ->> 'crawl_state')
      FROM glue.triggers t, jsonb_array_elements(t.predicate -> 'conditions') c
     WHERE t.workflow_name = ($1).workflow_name AND t.trigger_type = 'CONDITIONAL'
$$;

-- Glue's GetWorkflow: the definition, its graph, and the last run.
CREATE FUNCTION glue.get_workflow(name text)
    RETURNS TABLE (workflow_name text, owner regrole, description text, default_run_properties jsonb,
                   max_concurrent_runs integer, nodes jsonb, edges jsonb, last_run jsonb, created_on timestamptz)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT w.workflow_name, w.owner, w.description, w.default_run_properties, w.max_concurrent_runs,
           (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object('type', n.k, 'name', n.n)), '[]')
              FROM (SELECT e.from_kind, e.from_name FROM glue._workflow_edges(w) e
                    UNION SELECT e.to_kind, e.to_name FROM glue._workflow_edges(w) e
                    UNION SELECT 'trigger', t.trigger_name FROM glue.triggers t WHERE t.workflow_name = w.workflow_name) n(k, n)),
           (SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY e.from_name, e.to_name), '[]') FROM glue._workflow_edges(w) e),
           (SELECT jsonb_build_object('run_id', r.workflow_run_id, 'status', r.status, 'started_on', r.started_on,
                                      'completed_on', r.completed_on)
              FROM glue.workflow_runs r WHERE r.workflow_id = w.workflow_id ORDER BY r.workflow_run_id DESC LIMIT 1),
           w.created_on
      FROM glue._workflow($1) w
$$;

CREATE FUNCTION glue.update_workflow(name text, description text DEFAULT NULL,
        default_run_properties jsonb DEFAULT NULL, max_concurrent_runs integer DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    w glue.workflows := glue._workflow(name, true);
BEGIN
    PERFORM glue._check_arguments('default_run_properties', default_run_properties);
    PERFORM glue._check_length('description', description, 2048);
    UPDATE glue.workflows x SET description = glue._updated(update_workflow.description, x.description),
           default_run_properties = coalesce(update_workflow.default_run_properties, x.default_run_properties),
           max_concurrent_runs = coalesce(update_workflow.max_concurrent_runs, x.max_concurrent_runs),
           last_modified_on = clock_timestamp()
     WHERE x.workflow_id = w.workflow_id;
    RETURN w.workflow_name;
END
$$;

-- Delete a workflow, its triggers and its run history (the jobs and
-- crawlers stay).
CREATE FUNCTION glue.delete_workflow(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    w glue.workflows := glue._workflow(name, true);
BEGIN
    IF EXISTS (SELECT 1 FROM glue.workflow_runs r WHERE r.workflow_id = w.workflow_id AND r.status = 'RUNNING') THEN
        RAISE EXCEPTION 'IllegalWorkflowStateException: workflow "%" has a run in progress', w.workflow_name
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Stop it with glue.stop_workflow_run().';
    END IF;
    PERFORM glue.delete_trigger(t.trigger_name) FROM glue.triggers t WHERE t.workflow_name = w.workflow_name;
    DELETE FROM glue.workflows x WHERE x.workflow_id = w.workflow_id;
    RETURN w.workflow_name;
END
$$;

-- Open a run of a workflow (a start trigger fires): RUNNING, with the
-- default run properties.
CREATE FUNCTION glue._new_workflow_run(workflow_name text, run_properties jsonb DEFAULT NULL,
        previous_run_id bigint DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    w glue.workflows := glue._workflow(workflow_name, true);
    id bigint;
BEGIN
    IF w.max_concurrent_runs IS NOT NULL
       AND (SELECT count(*) FROM glue.workflow_runs r WHERE r.workflow_id = w.workflow_id AND r.status = 'RUNNING')
           >= w.max_concurrent_runs THEN
        RAISE EXCEPTION 'ConcurrentRunsExceededException: workflow "%" already has % running', w.workflow_name, w.max_concurrent_runs
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    INSERT INTO glue.workflow_runs (workflow_id, run_properties, previous_run_id)
    VALUES (w.workflow_id, w.default_run_properties || coalesce(run_properties, '{}'), previous_run_id)
    RETURNING workflow_run_id INTO id;
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION glue._new_workflow_run(text, jsonb, bigint) FROM PUBLIC;

CREATE FUNCTION glue._in_workflow_run(t glue.triggers, workflow_run_id bigint) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT EXISTS (SELECT 1 FROM glue.workflow_runs r JOIN glue.workflows w USING (workflow_id)
                    WHERE r.workflow_run_id = $2 AND w.workflow_name = ($1).workflow_name)
$$;

-- Start a run: fire the workflow's start trigger.  Returns the run id.
CREATE FUNCTION glue.start_workflow_run(name text, run_properties jsonb DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    w glue.workflows := glue._workflow(name, true);
    t glue.triggers;
    id bigint;
BEGIN
    PERFORM glue._check_arguments('run_properties', run_properties);
    SELECT * INTO t FROM glue.triggers x WHERE x.workflow_name = w.workflow_name AND x.trigger_type <> 'CONDITIONAL'
     ORDER BY x.trigger_id LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'IllegalWorkflowStateException: workflow "%" has no start trigger', w.workflow_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Create an ON_DEMAND trigger with workflow_name => the workflow.';
    END IF;
    id := glue._new_workflow_run(w.workflow_name, run_properties);
    PERFORM glue._run_actions(t, id);
    RETURN id;
END
$$;

-- The state of each node of a run (the latest job run or crawl of each
-- job or crawler in the run or the runs it resumed), and Glue's
-- statistics.
CREATE FUNCTION glue._workflow_nodes(run_id bigint)
    RETURNS TABLE (node_type text, name text, state text, run_id bigint, error_message text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT DISTINCT ON (j.job_name) 'job', j.job_name, r.state, r.run_id, r.error_message
      FROM glue.job_runs r JOIN glue.jobs j USING (job_id)
     WHERE r.workflow_run_id IN (SELECT glue._workflow_lineage($1))
     ORDER BY j.job_name, r.run_id DESC
$$;

CREATE FUNCTION glue.get_workflow_run(name text, run_id bigint)
    RETURNS TABLE (workflow_run_id bigint, status text, previous_run_id bigint, run_properties jsonb,
                   started_on timestamptz, completed_on timestamptz, statistics jsonb, nodes jsonb)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT r.workflow_run_id, r.status, r.previous_run_id, r.run_properties, r.started_on, r.completed_on,
           (SELECT jsonb_build_object('total_actions', count(*),
                                      'succeeded_actions', count(*) FILTER (WHERE n.state = 'SUCCEEDED'),
                                      'failed_actions', count(*) FILTER (WHERE n.state = 'FAILED'),
                                      'stopped_actions', count(*) FILTER (WHERE n.state = 'STOPPED'),
                                      'timeout_actions', count(*) FILTER (WHERE n.state = 'TIMEOUT'),
                                      'errored_actions', count(*) FILTER (WHERE n.state = 'ERROR'),
                                      'running_actions', count(*) FILTER (WHERE n.state IN ('STARTING', 'RUNNING', 'STOPPING')),
                                      'waiting_actions', count(*) FILTER (WHERE n.state = 'WAITING'))
              FROM glue._workflow_nodes(r.workflow_run_id) n),
           (SELECT coalesce(jsonb_agg(to_jsonb(n) ORDER BY n.name), '[]') FROM glue._workflow_nodes(r.workflow_run_id) n)
      FROM glue._workflow($1) w CROSS JOIN LATERAL glue._workflow_run(w, $2) r
$$;

CREATE FUNCTION glue.get_workflow_runs(name text, max_results integer DEFAULT 100)
    RETURNS TABLE (workflow_run_id bigint, status text, previous_run_id bigint, started_on timestamptz,
                   completed_on timestamptz)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT r.workflow_run_id, r.status, r.previous_run_id, r.started_on, r.completed_on
      FROM glue._workflow($1) w JOIN glue.workflow_runs r ON r.workflow_id = w.workflow_id
     ORDER BY r.workflow_run_id DESC LIMIT greatest(max_results, 0)
$$;

CREATE FUNCTION glue.get_workflow_run_properties(name text, run_id bigint) RETURNS jsonb
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT (glue._workflow_run(glue._workflow($1), $2)).run_properties
$$;

-- Add or replace properties of a run (jobs of the run pass
-- glue.job_argument('WORKFLOW_RUN_ID')); later nodes see them.
CREATE FUNCTION glue.put_workflow_run_properties(name text, run_id bigint, run_properties jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    r glue.workflow_runs := glue._workflow_run(glue._workflow(name), run_id);
BEGIN
    PERFORM glue._check_arguments('run_properties', run_properties);
    UPDATE glue.workflow_runs x SET run_properties = x.run_properties || put_workflow_run_properties.run_properties
     WHERE x.workflow_run_id = r.workflow_run_id;
END
$$;

CREATE FUNCTION glue.stop_workflow_run(name text, run_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    w glue.workflows := glue._workflow(name, true);
    r glue.workflow_runs := glue._workflow_run(w, run_id);
    j record;
BEGIN
    IF r.status <> 'RUNNING' THEN
        RAISE EXCEPTION 'IllegalWorkflowStateException: run % of workflow "%" is %', run_id, w.workflow_name, r.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    FOR j IN SELECT jb.job_name, x.run_id FROM glue.job_runs x JOIN glue.jobs jb USING (job_id)
              WHERE x.workflow_run_id = r.workflow_run_id AND x.state IN ('WAITING', 'STARTING', 'RUNNING') LOOP
        PERFORM glue.batch_stop_job_run(j.job_name, ARRAY[j.run_id]);
    END LOOP;
    UPDATE glue.workflow_runs x SET status = 'STOPPED', completed_on = clock_timestamp()
     WHERE x.workflow_run_id = r.workflow_run_id;
END
$$;

-- Resume a run that has ended: a new run (previous_run_id = run_id) that
-- starts the given job nodes again (default: those whose last state was
-- FAILED, TIMEOUT or STOPPED); what follows them runs as usual.
CREATE FUNCTION glue.resume_workflow_run(name text, run_id bigint, node_ids text[] DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    w glue.workflows := glue._workflow(name, true);
    r glue.workflow_runs := glue._workflow_run(w, run_id);
    nodes text[];
    n text;
    j glue.jobs;
    id bigint;
BEGIN
    IF r.status = 'RUNNING' THEN
        RAISE EXCEPTION 'IllegalWorkflowStateException: run % of workflow "%" is still running', run_id, w.workflow_name
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Resume a run once it has COMPLETED or STOPPED.';
    END IF;
    nodes := coalesce(node_ids, ARRAY(SELECT x.name FROM glue._workflow_nodes(r.workflow_run_id) x
                                       WHERE x.state IN ('FAILED', 'TIMEOUT', 'STOPPED') ORDER BY x.name));
    IF cardinality(nodes) = 0 OR EXISTS (SELECT 1 FROM unnest(nodes) x
                                         WHERE x NOT IN (SELECT y.name FROM glue._workflow_nodes(r.workflow_run_id) y)) THEN
        PERFORM glue._invalid(format('run %s of workflow "%s" has no such job node to resume: %s', run_id, w.workflow_name,
                                     array_to_string(nodes, ', ')),
                              'Nodes are the job names in glue.get_workflow_run(...).nodes.');
    END IF;
    id := glue._new_workflow_run(w.workflow_name, r.run_properties, r.workflow_run_id);
    FOREACH n IN ARRAY nodes LOOP
        j := glue._job(n, true);
        PERFORM glue._start_run(j, jsonb_build_object('--WORKFLOW_NAME', w.workflow_name, '--WORKFLOW_RUN_ID', id::text),
                                NULL, 'resume', id);
    END LOOP;
    RETURN id;
END
$$;

-- Close workflow runs with nothing left in progress (the job supervisor's
-- round, after the triggers fired).
CREATE FUNCTION glue._complete_workflow_runs() RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    UPDATE glue.workflow_runs r SET status = 'COMPLETED', completed_on = clock_timestamp()
     WHERE r.status = 'RUNNING'
       AND NOT EXISTS (SELECT 1 FROM glue.job_runs x WHERE x.workflow_run_id = r.workflow_run_id
                          AND (x.state IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING') OR NOT x.triggers_evaluated))
       AND NOT EXISTS (SELECT 1 FROM glue.workflow_crawls c JOIN glue.crawls k USING (crawl_id)
                        WHERE c.workflow_run_id = r.workflow_run_id AND k.state IN ('RUNNING', 'CANCELLING'))
$$;

CREATE OR REPLACE FUNCTION glue._evaluate_conditions() RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT glue._evaluate_triggers();
    SELECT glue._complete_workflow_runs();
$$;

-- The graph as Graphviz DOT (triggers as diamonds, jobs as boxes,
-- crawlers as cylinders; condition edges labelled with the state they
-- wait for).  With run_id, nodes are coloured by their state in that run.
CREATE FUNCTION glue.workflow_graph(name text, run_id bigint DEFAULT NULL) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    WITH w AS (SELECT * FROM glue._workflow($1)),
    e AS (SELECT x.* FROM w, glue._workflow_edges(w) x),
    n AS (SELECT from_kind AS k, from_name AS n FROM e UNION SELECT to_kind, to_name FROM e
          UNION SELECT 'trigger', t.trigger_name FROM glue.triggers t, w WHERE t.workflow_name = w.workflow_name),
    s AS (SELECT x.name, x.state FROM glue._workflow_nodes($2) x WHERE $2 IS NOT NULL),
    q AS (SELECT k, n, '"' || replace(replace(k || ':' || n, '\', '\\'), '"', '\"') || '"' AS id,
                 '"' || replace(replace(n, '\', '\\'), '"', '\"') || '"' AS label FROM n)
    SELECT 'digraph ' || (SELECT '"' || replace(replace(w.workflow_name, '\', '\\'), '"', '\"') || '"' FROM w) || E' {\n'
        || E'  rankdir=LR;\n'
        || coalesce((SELECT string_agg(format('  %s [label=%s, shape=%s%s];', q.id, q.label,
                                              CASE q.k WHEN 'trigger' THEN 'diamond' WHEN 'job' THEN 'box' ELSE 'cylinder' END,
                                              CASE WHEN s.state IS NOT NULL THEN
                                                  ', style=filled, fillcolor=' || CASE s.state WHEN 'SUCCEEDED' THEN 'palegreen'
                                                      WHEN 'FAILED' THEN 'salmon' WHEN 'TIMEOUT' THEN 'salmon'
                                                      WHEN 'STOPPED' THEN 'lightgrey' ELSE 'lightyellow' END
                                                  || ', tooltip="' || s.state || '"' ELSE '' END),
                                       E'\n' ORDER BY q.k, q.n)
                       FROM q LEFT JOIN s ON q.k = 'job' AND s.name = q.n) || E'\n', '')
        || coalesce((SELECT string_agg(format('  %s -> %s%s;', a.id, b.id,
                                              CASE WHEN e.label IS NOT NULL THEN ' [label="' || e.label || '"]' ELSE '' END),
                                       E'\n' ORDER BY e.from_name, e.to_name)
                       FROM e JOIN q a ON a.k = e.from_kind AND a.n = e.from_name
                              JOIN q b ON b.k = e.to_kind AND b.n = e.to_name) || E'\n', '')
        || '}'
$$;

REVOKE ALL ON FUNCTION glue._evaluate_triggers(), glue._complete_workflow_runs() FROM PUBLIC;
