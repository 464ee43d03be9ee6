-- Glue triggers (src/glue/triggers.sql): what starts jobs and crawlers.
--
--   ON_DEMAND    fired by glue.start_trigger
--   SCHEDULED    a cron expression; the schedule is a pg_cron job ("glue
--                trigger: <name>") created, changed and removed with the
--                trigger, run as the trigger's owner
--   CONDITIONAL  a predicate {"logical": "AND" | "ANY", "conditions":
--                [{"job_name", "state"} | {"crawler_name", "crawl_state"}]},
--                evaluated by the database worker when a watched run or
--                crawl ends
--   EVENT        {"stream_name", "batch_size", "batch_window"}: fires when
--                batch_size (1-100) new records are in the stream, or
--                batch_window seconds after the first of fewer arrived;
--                records count from the moment the activation commits
--                (activated_on, stamped in the activating transaction)
-- Actions: [{"job_name", "arguments", "timeout"} | {"crawler_name"}].
--
-- A trigger belongs to the role that created it, which must be a member of
-- the owners of the jobs and crawlers it starts (checked when it is
-- created or changed, and again when it fires).  SCHEDULED, CONDITIONAL and
-- EVENT triggers act only while ACTIVATED (start_trigger / stop_trigger,
-- or start_on_creation).
--
-- Errors: EntityNotFoundException (42704), AlreadyExistsException (42710),
-- InvalidInputException (22023), AccessDeniedException (42501).

CREATE TABLE glue.triggers (
    trigger_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger_name text NOT NULL UNIQUE,
    owner regrole NOT NULL,
    trigger_type text NOT NULL CHECK (trigger_type IN ('ON_DEMAND', 'SCHEDULED', 'CONDITIONAL', 'EVENT')),
    state text NOT NULL DEFAULT 'CREATED' CHECK (state IN ('CREATED', 'ACTIVATED', 'DEACTIVATED')),
    workflow_name text,
    schedule text,
    predicate jsonb,
    event_batching_condition jsonb,
    actions jsonb NOT NULL,
    description text,
    event_pending_since timestamptz,
    last_fired timestamptz,
    created_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    activated_on timestamptz       -- EVENT: records arriving since then count (last: added in 0.2.0)
);
-- Crawls whose end the conditional triggers have seen.
CREATE TABLE glue.trigger_seen_crawls (crawl_id bigint PRIMARY KEY);

ALTER TABLE glue.triggers ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.triggers FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT ON glue.triggers TO PUBLIC;   -- written only through the functions (README "Catalogs")

CREATE TYPE glue.trigger_definition AS (name text, workflow_name text, trigger_type text, state text,
        owner regrole, schedule text, predicate jsonb, event_batching_condition jsonb, actions jsonb,
        description text, last_fired timestamptz);

CREATE FUNCTION glue._trigger(name text, lock boolean DEFAULT false) RETURNS glue.triggers
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.triggers;
BEGIN
    IF lock THEN
        SELECT * INTO t FROM glue.triggers x WHERE x.trigger_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE') FOR UPDATE;
    ELSE
        SELECT * INTO t FROM glue.triggers x WHERE x.trigger_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE');
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: trigger "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List your triggers with glue.list_triggers().';
    END IF;
    RETURN t;
END
$$;

-- Check a trigger row: its type's settings, its actions, and that its
-- owner may start what they name.
CREATE FUNCTION glue._check_trigger(t glue.triggers) RETURNS glue.triggers
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    a jsonb;
    c jsonb;
    o regrole;
BEGIN
    IF t.trigger_name IS NULL OR length(t.trigger_name) NOT BETWEEN 1 AND 255 OR t.trigger_name ~ '[[:cntrl:]]' THEN
        PERFORM glue._invalid('trigger name must have 1 to 255 characters and no control characters');
    END IF;
    IF t.trigger_type IS NULL OR t.trigger_type NOT IN ('ON_DEMAND', 'SCHEDULED', 'CONDITIONAL', 'EVENT') THEN
        PERFORM glue._invalid(format('trigger type "%s" is not ON_DEMAND, SCHEDULED, CONDITIONAL or EVENT', t.trigger_type));
    END IF;
    IF (t.trigger_type = 'SCHEDULED') <> (t.schedule IS NOT NULL) THEN
        PERFORM glue._invalid('a schedule belongs to SCHEDULED triggers, and they need one',
                              'For example schedule => ''*/5 * * * *'' or ''cron(0/15 * * * ? *)''.');
    END IF;
    IF t.schedule IS NOT NULL THEN
        PERFORM glue._cron_expression(t.schedule);
    END IF;
    IF (t.trigger_type = 'CONDITIONAL') <> (t.predicate IS NOT NULL) THEN
        PERFORM glue._invalid('a predicate belongs to CONDITIONAL triggers, and they need one');
    END IF;
    IF t.predicate IS NOT NULL THEN
        IF jsonb_typeof(t.predicate) <> 'object'
           OR coalesce(t.predicate ->> 'logical', 'AND') NOT IN ('AND', 'ANY')
           OR jsonb_typeof(t.predicate -> 'conditions') IS DISTINCT FROM 'array'
           OR jsonb_array_length(t.predicate -> 'conditions') NOT BETWEEN 1 AND 500 THEN
            PERFORM glue._invalid('a predicate is {"logical": "AND" or "ANY", "conditions": [...]} with 1 to 500 conditions');
        END IF;
        FOR c IN SELECT x FROM jsonb_array_elements(t.predicate -> 'conditions') x LOOP
            IF NOT ((c ? 'job_name' AND c ->> 'state' IN ('SUCCEEDED', 'STOPPED', 'FAILED', 'TIMEOUT')
                     AND NOT c ? 'crawler_name')
                    OR (c ? 'crawler_name' AND c ->> 'crawl_state' IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
                        AND NOT c ? 'job_name')) THEN
                PERFORM glue._invalid('a condition is {"job_name", "state": SUCCEEDED, STOPPED, FAILED or TIMEOUT} '
                                      'or {"crawler_name", "crawl_state": SUCCEEDED, FAILED or CANCELLED}');
            END IF;
        END LOOP;
    END IF;
    IF (t.trigger_type = 'EVENT') <> (t.event_batching_condition IS NOT NULL) THEN
        PERFORM glue._invalid('an event_batching_condition belongs to EVENT triggers, and they need one');
    END IF;
    IF t.event_batching_condition IS NOT NULL THEN
        IF jsonb_typeof(t.event_batching_condition -> 'stream_name') IS DISTINCT FROM 'string'
           OR jsonb_typeof(t.event_batching_condition -> 'batch_size') IS DISTINCT FROM 'number'
           OR (t.event_batching_condition ->> 'batch_size')::numeric NOT BETWEEN 1 AND 100
           OR (t.event_batching_condition ? 'batch_window'
               AND (jsonb_typeof(t.event_batching_condition -> 'batch_window') <> 'number'
                    OR (t.event_batching_condition ->> 'batch_window')::numeric NOT BETWEEN 1 AND 900)) THEN
            PERFORM glue._invalid('an event_batching_condition is {"stream_name": "...", "batch_size": 1-100, "batch_window": 1-900 seconds}');
        END IF;
        PERFORM kinesis.describe_stream_summary(t.event_batching_condition ->> 'stream_name');
    END IF;
    IF jsonb_typeof(t.actions) IS DISTINCT FROM 'array' OR jsonb_array_length(t.actions) NOT BETWEEN 1 AND 50 THEN
        PERFORM glue._invalid('actions must be a JSON array of 1 to 50 actions',
                              'For example [{"job_name": "load", "arguments": {"--day": "today"}}, {"crawler_name": "lake"}].');
    END IF;
    FOR a IN SELECT x FROM jsonb_array_elements(t.actions) x LOOP
        IF a ? 'job_name' AND NOT a ? 'crawler_name' THEN
            SELECT j.owner INTO o FROM glue.jobs j WHERE j.job_name = a ->> 'job_name'
               AND pg_has_role(kinesis_glue.caller(), j.owner, 'USAGE');   -- jobs are private
            PERFORM glue._check_arguments('action arguments', a -> 'arguments');
            IF a ? 'timeout' THEN
                PERFORM (a ->> 'timeout')::interval;
            END IF;
        ELSIF a ? 'crawler_name' AND NOT a ? 'job_name' THEN
            SELECT c.owner INTO o FROM glue.crawlers c WHERE c.crawler_name = a ->> 'crawler_name';
        ELSE
            PERFORM glue._invalid('an action is {"job_name", "arguments", "timeout"} or {"crawler_name"}');
        END IF;
        IF o IS NULL THEN
            RAISE EXCEPTION 'EntityNotFoundException: the action''s % does not exist',
                            coalesce('job "' || (a ->> 'job_name') || '"', 'crawler "' || (a ->> 'crawler_name') || '"')
                USING ERRCODE = 'undefined_object';
        END IF;
        IF NOT pg_has_role(t.owner, o, 'USAGE') THEN
            RAISE EXCEPTION 'AccessDeniedException: trigger owner % may not start what role % owns', t.owner, o
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    IF t.workflow_name IS NOT NULL THEN
        SELECT w.owner INTO o FROM glue.workflows w WHERE w.workflow_name = t.workflow_name;
        IF o IS NULL THEN
            RAISE EXCEPTION 'EntityNotFoundException: workflow "%" does not exist', t.workflow_name
                USING ERRCODE = 'undefined_object';
        ELSIF NOT pg_has_role(t.owner, o, 'USAGE') THEN
            RAISE EXCEPTION 'AccessDeniedException: trigger owner % may not add triggers to workflow "%"', t.owner, t.workflow_name
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF t.trigger_type <> 'CONDITIONAL'
           AND EXISTS (SELECT 1 FROM glue.triggers x WHERE x.workflow_name = t.workflow_name
                          AND x.trigger_type <> 'CONDITIONAL' AND x.trigger_name <> t.trigger_name) THEN
            PERFORM glue._invalid(format('workflow "%s" already has a start trigger', t.workflow_name),
                                  'A workflow has one ON_DEMAND, SCHEDULED or EVENT trigger; the others are CONDITIONAL.');
        END IF;
    END IF;
    PERFORM glue._check_length('description', t.description, 2048);
    RETURN t;
END
$$;

-- The database pg_cron lives in, when it is not this one (pg_cron loaded,
-- cron.database_name naming another database); NULL otherwise.
CREATE FUNCTION glue._remote_cron() RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
    SELECT d FROM (SELECT nullif(current_setting('cron.database_name', true), '') AS d) x
     WHERE d <> current_database() AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')
$$;

-- The pg_cron jobs wanted in that database, one row each, as separate
-- values (src/glue/trigger_cron.c): the trigger's name, its schedule as
-- the strict parser (cron.sql) renders it, and its owner.  The sync worker
-- builds the job name and the command itself, and runs the job as that
-- owner.  A row whose schedule no longer parses is left out (with a
-- warning): what a catalog holds is checked again before it is acted on.
CREATE FUNCTION glue._cron_wanted(OUT trigger_name text, OUT schedule text, OUT owner oid) RETURNS SETOF record
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.triggers;
BEGIN
    FOR t IN SELECT * FROM glue.triggers x WHERE x.trigger_type = 'SCHEDULED' AND x.state = 'ACTIVATED'
              ORDER BY x.trigger_name COLLATE "C" LOOP
        BEGIN
            schedule := glue._cron_expression(t.schedule);
            PERFORM glue._cron_user(t.owner, 'trigger');
        EXCEPTION WHEN invalid_parameter_value OR insufficient_privilege THEN
            RAISE WARNING 'trigger "%" is not scheduled: %', t.trigger_name, SQLERRM;
            CONTINUE;
        END;
        trigger_name := t.trigger_name;
        owner := t.owner;
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION glue._cron_wanted() FROM PUBLIC;

-- pg_cron runs jobs only as roles that can log in: the owner's name, or
-- AccessDeniedException.
CREATE FUNCTION glue._cron_user(owner regrole, kind text) RETURNS name
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r pg_roles;
BEGIN
    SELECT * INTO r FROM pg_roles x WHERE x.oid = owner;
    IF NOT FOUND OR NOT r.rolcanlogin THEN
        RAISE EXCEPTION 'AccessDeniedException: % owner % cannot log in, and pg_cron runs jobs only as roles that can', kind, owner
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('Create the %s as a role with LOGIN, or ALTER ROLE %s LOGIN.', kind, owner);
    END IF;
    RETURN r.rolname;
END
$$;

-- Schedule (or unschedule) command as pg_cron job "job" run by role owner,
-- in this database, when pg_cron is installed here.  Runs inside the
-- run-as-owner API functions (as the extension owner, who may name the
-- job's user): the values go to pg_cron as separate parameters, the
-- schedule through the strict parser, and the user is always the owner of
-- the trigger or crawler.  The owner needs USAGE on schema cron, as if it
-- scheduled the job itself.
CREATE FUNCTION glue._cron_job(job text, schedule text, command text, owner regrole, kind text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    id bigint;
BEGIN
    FOR id IN SELECT j.jobid FROM cron.job j WHERE j.jobname = job AND j.database = current_database() LOOP
        PERFORM cron.unschedule(id);
    END LOOP;
    IF schedule IS NULL THEN
        RETURN;
    END IF;
    IF NOT has_schema_privilege(owner, 'cron', 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: % owner % may not schedule jobs with pg_cron', kind, owner
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('GRANT USAGE ON SCHEMA cron TO %s.', owner);   -- regrole: quoted as SQL needs
    END IF;
    PERFORM cron.schedule_in_database(job, glue._cron_expression(schedule), command, current_database(),
                                      glue._cron_user(owner, kind), true);
END
$$;
REVOKE ALL ON FUNCTION glue._cron_job(text, text, text, regrole, text) FROM PUBLIC;

-- Create, change or remove the pg_cron job of a SCHEDULED trigger (run by
-- its owner).  Active only while the trigger is ACTIVATED.  With pg_cron in
-- another database, the database worker applies the change after commit.
-- Triggers of other types never touch pg_cron.
CREATE FUNCTION glue._set_trigger_schedule(t glue.triggers) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    wanted boolean := t.schedule IS NOT NULL AND t.state = 'ACTIVATED';
BEGIN
    IF t.trigger_type <> 'SCHEDULED' THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF glue._remote_cron() IS NOT NULL THEN
            IF wanted THEN
                PERFORM glue._cron_user(t.owner, 'trigger');
            END IF;
            PERFORM glue._wake_at_commit();             -- it syncs the pg_cron database
            RETURN;
        END IF;
        IF NOT wanted THEN
            RETURN;
        END IF;
        RAISE EXCEPTION 'InvalidInputException: scheduled triggers need pg_cron'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'pg_cron is neither installed in this database nor loaded with cron.database_name naming another one.',
                  HINT = 'Add pg_cron to shared_preload_libraries and run CREATE EXTENSION pg_cron in the database named by '
                         'cron.database_name (this one, or another); grant USAGE ON SCHEMA cron to the trigger''s owner '
                         'when pg_cron is in this database.';
    END IF;
    PERFORM glue._cron_job('glue trigger: ' || t.trigger_name, CASE WHEN wanted THEN t.schedule END,
                           format('SELECT glue._fire_trigger(%L)', t.trigger_name), t.owner, 'trigger');
END
$$;
REVOKE ALL ON FUNCTION glue._set_trigger_schedule(glue.triggers) FROM PUBLIC;

-- Start the actions of trigger t: job runs (with the action's arguments and
-- timeout) and crawls.  An action that cannot start is reported as a
-- WARNING and does not keep the others from starting.
CREATE FUNCTION glue._run_actions(t glue.triggers, workflow_run_id bigint DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    a jsonb;
    j glue.jobs;
    c glue.crawlers;
    n integer := 0;
BEGIN
    FOR a IN SELECT x FROM jsonb_array_elements(t.actions) x LOOP
        BEGIN
            IF a ? 'job_name' THEN
                SELECT * INTO j FROM glue.jobs x WHERE x.job_name = a ->> 'job_name' FOR NO KEY UPDATE;
                IF NOT FOUND OR NOT pg_has_role(t.owner, j.owner, 'USAGE') THEN
                    RAISE EXCEPTION 'EntityNotFoundException: job "%" does not exist', a ->> 'job_name'
                        USING ERRCODE = 'undefined_object';
                END IF;
                PERFORM glue._start_run(j, coalesce(a -> 'arguments', '{}')
                                           || CASE WHEN workflow_run_id IS NULL THEN '{}'::jsonb
                                                   ELSE jsonb_build_object('--WORKFLOW_NAME', t.workflow_name,
                                                                           '--WORKFLOW_RUN_ID', workflow_run_id::text) END,
                                        (a ->> 'timeout')::interval, t.trigger_name, workflow_run_id);
            ELSE
                SELECT * INTO c FROM glue.crawlers x WHERE x.crawler_name = a ->> 'crawler_name';
                IF NOT FOUND OR NOT pg_has_role(t.owner, c.owner, 'USAGE') THEN
                    RAISE EXCEPTION 'EntityNotFoundException: crawler "%" does not exist', a ->> 'crawler_name'
                        USING ERRCODE = 'undefined_object';
                END IF;
                IF workflow_run_id IS NULL THEN
                    PERFORM glue.start_crawler(c.crawler_name);
                ELSE
                    INSERT INTO glue.workflow_crawls VALUES (glue.start_crawler(c.crawler_name), workflow_run_id);
                END IF;
            END IF;
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'trigger "%" could not start an action: %', t.trigger_name, SQLERRM;
        END;
    END LOOP;
    UPDATE glue.triggers x SET last_fired = clock_timestamp() WHERE x.trigger_id = t.trigger_id;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION glue._run_actions(glue.triggers, bigint) FROM PUBLIC;

-- What pg_cron runs for a SCHEDULED trigger (as its owner).
CREATE FUNCTION glue._fire_trigger(name text) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers := glue._trigger(name, true);
BEGIN
    IF t.state <> 'ACTIVATED' THEN
        RETURN 0;
    END IF;
    RETURN glue._run_actions(t, CASE WHEN t.workflow_name IS NOT NULL THEN glue._new_workflow_run(t.workflow_name) END);
END
$$;

-- glue._new_workflow_run and glue._in_workflow_run are in workflows.sql.

-- API -------------------------------------------------------------------------

CREATE FUNCTION glue.create_trigger(name text, trigger_type text, actions jsonb, schedule text DEFAULT NULL,
        predicate jsonb DEFAULT NULL, event_batching_condition jsonb DEFAULT NULL, workflow_name text DEFAULT NULL,
        start_on_creation boolean DEFAULT false, description text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers;
BEGIN
    t.trigger_name := name;
    t.owner := kinesis_glue.caller()::regrole;
    t.trigger_type := upper(trigger_type);
    t.actions := actions;
    t.schedule := nullif(btrim(schedule), '');
    t.predicate := predicate;
    t.event_batching_condition := event_batching_condition;
    t.workflow_name := workflow_name;
    t.description := nullif(description, '');
    t.state := CASE WHEN start_on_creation AND t.trigger_type <> 'ON_DEMAND' THEN 'ACTIVATED' ELSE 'CREATED' END;
    t := glue._check_trigger(t);
    BEGIN
        INSERT INTO glue.triggers (trigger_name, owner, trigger_type, state, workflow_name, schedule, predicate,
                                   event_batching_condition, actions, description, activated_on)
        VALUES (t.trigger_name, t.owner, t.trigger_type, t.state, t.workflow_name, t.schedule, t.predicate,
                t.event_batching_condition, t.actions, t.description,
                CASE WHEN t.state = 'ACTIVATED' THEN clock_timestamp() END)
        RETURNING * INTO t;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'AlreadyExistsException: trigger "%" already exists', t.trigger_name
            USING ERRCODE = 'duplicate_object';
    END;
    PERFORM glue._set_trigger_schedule(t);
    RETURN t.trigger_name;
END
$$;

CREATE FUNCTION glue._trigger_definition(t glue.triggers) RETURNS glue.trigger_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).trigger_name, ($1).workflow_name, ($1).trigger_type, ($1).state, ($1).owner, ($1).schedule,
           ($1).predicate, ($1).event_batching_condition, ($1).actions, ($1).description, ($1).last_fired
$$;

CREATE FUNCTION glue.get_trigger(name text) RETURNS SETOF glue.trigger_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue._trigger($1) t CROSS JOIN LATERAL glue._trigger_definition(t) d
$$;

CREATE FUNCTION glue.get_triggers() RETURNS SETOF glue.trigger_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue.triggers t CROSS JOIN LATERAL glue._trigger_definition(t) d ORDER BY t.trigger_name COLLATE "C"
$$;

CREATE FUNCTION glue.list_triggers() RETURNS SETOF text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT trigger_name FROM glue.triggers ORDER BY trigger_name COLLATE "C"
$$;

-- Change a trigger (NULL leaves a setting).
CREATE FUNCTION glue.update_trigger(name text, actions jsonb DEFAULT NULL, schedule text DEFAULT NULL,
        predicate jsonb DEFAULT NULL, event_batching_condition jsonb DEFAULT NULL, description text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers := glue._trigger(name, true);
BEGIN
    t.actions := coalesce(update_trigger.actions, t.actions);
    t.schedule := coalesce(nullif(btrim(schedule), ''), t.schedule);
    t.predicate := coalesce(update_trigger.predicate, t.predicate);
    t.event_batching_condition := coalesce(update_trigger.event_batching_condition, t.event_batching_condition);
    t.description := glue._updated(description, t.description);
    t := glue._check_trigger(t);
    UPDATE glue.triggers x SET actions = t.actions, schedule = t.schedule, predicate = t.predicate,
           event_batching_condition = t.event_batching_condition, description = t.description
     WHERE x.trigger_id = t.trigger_id;
    PERFORM glue._set_trigger_schedule(t);
    RETURN t.trigger_name;
END
$$;

-- Deleting a trigger that does not exist succeeds, as Glue's DeleteTrigger
-- does (delete-then-create scripts rely on it).
CREATE FUNCTION glue.delete_trigger(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers;
BEGIN
    -- another role's trigger is as good as missing (the caller cannot see it)
    SELECT * INTO t FROM glue.triggers x WHERE x.trigger_name = name
       AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE') FOR UPDATE;
    IF NOT FOUND THEN
        RETURN name;
    END IF;
    t.state := 'DEACTIVATED';
    PERFORM glue._set_trigger_schedule(t);
    DELETE FROM glue.triggers x WHERE x.trigger_id = t.trigger_id;
    RETURN t.trigger_name;
END
$$;

-- ON_DEMAND: fire now (returns the actions started).  Other types:
-- activate (returns 0).
CREATE FUNCTION glue.start_trigger(name text) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers := glue._trigger(name, true);
BEGIN
    IF t.trigger_type = 'ON_DEMAND' THEN
        RETURN glue._run_actions(t, CASE WHEN t.workflow_name IS NOT NULL THEN glue._new_workflow_run(t.workflow_name) END);
    END IF;
    -- an EVENT trigger counts the records that arrive from now on
    UPDATE glue.triggers x SET state = 'ACTIVATED', activated_on = clock_timestamp() WHERE x.trigger_id = t.trigger_id;
    t.state := 'ACTIVATED';
    PERFORM glue._set_trigger_schedule(t);
    RETURN 0;
END
$$;

CREATE FUNCTION glue.stop_trigger(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.triggers := glue._trigger(name, true);
BEGIN
    IF t.trigger_type = 'ON_DEMAND' THEN
        PERFORM glue._invalid(format('trigger "%s" is ON_DEMAND; it has nothing to stop', t.trigger_name));
    END IF;
    UPDATE glue.triggers x SET state = 'DEACTIVATED', event_pending_since = NULL WHERE x.trigger_id = t.trigger_id;
    t.state := 'DEACTIVATED';
    PERFORM glue._set_trigger_schedule(t);
    RETURN t.trigger_name;
END
$$;

-- Evaluation (the database worker, as the extension owner) ---------------------

-- Does condition c hold, for the latest ended run of its job or crawl (in
-- workflow run w when there is one, else outside workflows, and ended
-- after the trigger last fired)?
CREATE FUNCTION glue._condition_holds(c jsonb, w bigint, since timestamptz) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT CASE WHEN $1 ? 'job_name' THEN
        (SELECT r.state = $1 ->> 'state' FROM glue.job_runs r JOIN glue.jobs j USING (job_id)
          WHERE j.job_name = $1 ->> 'job_name'
            AND (r.workflow_run_id IN (SELECT glue._workflow_lineage($2)) OR ($2 IS NULL AND r.workflow_run_id IS NULL))
            AND r.state IN ('SUCCEEDED', 'STOPPED', 'FAILED', 'TIMEOUT')
            AND ($2 IS NOT NULL OR r.completed_on > coalesce($3, '-infinity'))
            AND NOT EXISTS (SELECT 1 FROM glue.job_runs n WHERE n.previous_run_id = r.run_id)   -- retried: not the end
          ORDER BY r.run_id DESC LIMIT 1)
    ELSE
        (SELECT w.state = $1 ->> 'crawl_state' FROM glue.crawls w JOIN glue.crawlers k USING (crawler_id)
          WHERE k.crawler_name = $1 ->> 'crawler_name' AND w.state IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
            AND CASE WHEN $2 IS NULL
                     THEN w.end_time > coalesce($3, '-infinity')
                          AND NOT EXISTS (SELECT 1 FROM glue.workflow_crawls c WHERE c.crawl_id = w.crawl_id)
                     ELSE EXISTS (SELECT 1 FROM glue.workflow_crawls c WHERE c.crawl_id = w.crawl_id
                                     AND c.workflow_run_id IN (SELECT glue._workflow_lineage($2))) END
          ORDER BY w.crawl_id DESC LIMIT 1)
    END
$$;

-- Fire the CONDITIONAL triggers that watch the runs and crawls that ended
-- since the last round, and the EVENT triggers whose batch is full or whose
-- window has passed.
CREATE FUNCTION glue._evaluate_triggers() RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    evs jsonb;
    e record;
    t glue.triggers;
    pending bigint;
    since timestamptz;
BEGIN
    WITH ended AS (
        UPDATE glue.job_runs r SET triggers_evaluated = true
         WHERE NOT r.triggers_evaluated AND r.state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING')
        RETURNING r.run_id AS id, 'job_name' AS k, (SELECT j.job_name FROM glue.jobs j WHERE j.job_id = r.job_id) AS name,
                  r.state, r.workflow_run_id),
    crawled AS (
        INSERT INTO glue.trigger_seen_crawls
        SELECT w.crawl_id FROM glue.crawls w
         WHERE w.state IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND w.end_time > clock_timestamp() - interval '1 day'
        ON CONFLICT DO NOTHING
        RETURNING crawl_id),
    events AS (
        SELECT * FROM ended
        UNION ALL
        SELECT w.crawl_id, 'crawler_name', k.crawler_name, w.state, f.workflow_run_id
          FROM crawled c JOIN glue.crawls w USING (crawl_id) JOIN glue.crawlers k USING (crawler_id)
          LEFT JOIN glue.workflow_crawls f ON f.crawl_id = w.crawl_id)
    SELECT coalesce(jsonb_agg(to_jsonb(events) ORDER BY events.id), '[]') INTO evs FROM events;
    FOR e IN SELECT * FROM jsonb_to_recordset(evs) AS x(id bigint, k text, name text, state text, workflow_run_id bigint)
    LOOP
        FOR t IN
            SELECT * FROM glue.triggers x
             WHERE x.trigger_type = 'CONDITIONAL' AND x.state = 'ACTIVATED'
               AND (x.workflow_name IS NULL) = (e.workflow_run_id IS NULL)
               AND EXISTS (SELECT 1 FROM jsonb_array_elements(x.predicate -> 'conditions') c WHERE c ->> e.k = e.name)
             ORDER BY x.trigger_id FOR UPDATE
        LOOP
            IF e.workflow_run_id IS NOT NULL AND NOT glue._in_workflow_run(t, e.workflow_run_id) THEN
                CONTINUE;
            END IF;
            IF (coalesce(t.predicate ->> 'logical', 'AND') = 'ANY'
                AND EXISTS (SELECT 1 FROM jsonb_array_elements(t.predicate -> 'conditions') c
                             WHERE c ->> e.k = e.name AND coalesce(c ->> 'state', c ->> 'crawl_state') = e.state))
               OR (coalesce(t.predicate ->> 'logical', 'AND') = 'AND'
                   AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(t.predicate -> 'conditions') c
                                    WHERE NOT coalesce(glue._condition_holds(c, e.workflow_run_id, t.last_fired), false))) THEN
                PERFORM glue._run_actions(t, e.workflow_run_id);
            END IF;
        END LOOP;
    END LOOP;
    DELETE FROM glue.trigger_seen_crawls s
     WHERE NOT EXISTS (SELECT 1 FROM glue.crawls w WHERE w.crawl_id = s.crawl_id
                          AND w.end_time > clock_timestamp() - interval '2 days');

    -- EVENT triggers: a consumer per trigger counts the new records, from
    -- the records that arrived at or after the activation (a position
    -- stamped by the activating transaction, so records put right after it
    -- commits count however late this round comes); a consumer of an
    -- earlier activation is replaced
    FOR t IN SELECT * FROM glue.triggers x WHERE x.trigger_type = 'EVENT' AND x.state = 'ACTIVATED'
              ORDER BY x.trigger_id FOR UPDATE SKIP LOCKED LOOP
        BEGIN
            SELECT c.starting_position_timestamp INTO since
              FROM kinesis.consumers c JOIN kinesis.streams s USING (stream_id)
             WHERE s.stream_name = t.event_batching_condition ->> 'stream_name'
               AND c.consumer_name = 'glue-trigger-' || t.trigger_id;
            IF NOT FOUND OR since IS DISTINCT FROM t.activated_on THEN
                IF FOUND THEN
                    PERFORM kinesis.deregister_stream_consumer(t.event_batching_condition ->> 'stream_name',
                                                               'glue-trigger-' || t.trigger_id);
                END IF;
                PERFORM kinesis.register_stream_consumer(t.event_batching_condition ->> 'stream_name',
                                                         'glue-trigger-' || t.trigger_id,
                                                         'AT_TIMESTAMP', coalesce(t.activated_on, clock_timestamp()));
            END IF;
            SELECT coalesce(sum(p.lag_records), 0) INTO pending FROM kinesis.consumer_positions p
             WHERE p.stream_name = t.event_batching_condition ->> 'stream_name'
               AND p.consumer_name = 'glue-trigger-' || t.trigger_id;
            IF pending = 0 THEN
                CONTINUE;
            ELSIF t.event_pending_since IS NULL THEN
                UPDATE glue.triggers x SET event_pending_since = clock_timestamp() WHERE x.trigger_id = t.trigger_id;
                t.event_pending_since := clock_timestamp();
            END IF;
            IF pending >= (t.event_batching_condition ->> 'batch_size')::bigint
               OR clock_timestamp() >= t.event_pending_since
                                       + make_interval(secs => coalesce((t.event_batching_condition ->> 'batch_window')::double precision, 900)) THEN
                -- move the trigger's checkpoint past what it counted
                PERFORM count(*) FROM kinesis.consume(t.event_batching_condition ->> 'stream_name',
                                                      'glue-trigger-' || t.trigger_id, least(pending, 10000)::integer);
                UPDATE glue.triggers x SET event_pending_since = NULL WHERE x.trigger_id = t.trigger_id;
                PERFORM glue._run_actions(t, CASE WHEN t.workflow_name IS NOT NULL THEN glue._new_workflow_run(t.workflow_name) END);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'event trigger "%" could not be evaluated: %', t.trigger_name, SQLERRM;
        END;
    END LOOP;
END
$$;

-- The job supervisor's round calls this.
CREATE OR REPLACE FUNCTION glue._evaluate_conditions() RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT glue._evaluate_triggers()
$$;
