-- Glue jobs (src/glue/jobs.sql): job definitions, their runs and the API
-- to create, change, start, stop and read them.  What a run does is in
-- job_runs.sql; the worker that executes it in src/glue/job_worker.c.
--
-- A job's command is SQL: a script (several statements allowed; named
-- arguments appear in it as :'name' (a quoted literal) and :"name" (a
-- quoted identifier), never as raw text), or a procedure, called as
-- CALL proc(arguments jsonb) or CALL proc() when it takes no argument.
-- Arguments are merged the Glue way: default_arguments, then the run's
-- arguments (replacing same-named defaults, except non-overridable ones),
-- then non_overridable_arguments.
--
-- A job belongs to the role that created it; only members of that role
-- see, change, start or stop it.  The worker runs each run as the owner in
-- a security-restricted context, so a job never has more rights than its
-- owner.  A run is one transaction: its output, its bookmarks and its
-- SUCCEEDED state commit together or not at all.
--
-- Run states: WAITING (queued behind max_concurrent_runs) -> STARTING
-- (waiting for a worker) -> RUNNING -> SUCCEEDED | FAILED | TIMEOUT |
-- STOPPED (STOPPING while a stop is delivered); ERROR when a trigger
-- could not start a job.  A FAILED run is retried as a new run (attempt + 1,
-- previous_run_id) while the job's max_retries allow.
--
-- Errors: EntityNotFoundException (42704), AlreadyExistsException (42710),
-- InvalidInputException (22023), ConcurrentRunsExceededException (54000),
-- AccessDeniedException (42501), ConcurrentModificationException (55006).
--
-- Locking: start, stop, update and delete lock the job row FOR NO KEY
-- UPDATE, so concurrent starts count the active runs one at a time.

CREATE TABLE glue.jobs (
    job_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name text NOT NULL UNIQUE,
    owner regrole NOT NULL,
    description text,
    script text,
    procedure text,                -- regprocedure as text: pg_upgrade refuses reg* columns (function OIDs change)
    default_arguments jsonb NOT NULL DEFAULT '{}',
    non_overridable_arguments jsonb NOT NULL DEFAULT '{}',
    max_concurrent_runs integer NOT NULL DEFAULT 1 CHECK (max_concurrent_runs BETWEEN 1 AND 1000),
    job_run_queuing boolean NOT NULL DEFAULT false,
    timeout interval NOT NULL DEFAULT '48 hours',
    max_retries integer NOT NULL DEFAULT 0 CHECK (max_retries BETWEEN 0 AND 10),
    version integer NOT NULL DEFAULT 1,
    created_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_modified_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    CHECK ((script IS NULL) <> (procedure IS NULL))
);

CREATE TABLE glue.job_runs (
    run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id integer NOT NULL REFERENCES glue.jobs ON DELETE CASCADE,
    attempt integer NOT NULL DEFAULT 0,
    previous_run_id bigint,
    trigger_name text,
    workflow_run_id bigint,
    state text NOT NULL DEFAULT 'STARTING'
        CHECK (state IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING', 'SUCCEEDED', 'FAILED', 'TIMEOUT',
                         'STOPPED', 'ERROR')),
    arguments jsonb NOT NULL DEFAULT '{}',       -- merged
    timeout interval NOT NULL,
    started_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    running_on timestamptz,
    completed_on timestamptz,
    last_modified_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    worker_pid integer,
    rows_affected bigint,
    error_message text,
    triggers_evaluated boolean NOT NULL DEFAULT false
);
CREATE INDEX ON glue.job_runs (job_id, run_id);
CREATE INDEX ON glue.job_runs (run_id) WHERE state IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING');
CREATE INDEX ON glue.job_runs (run_id) WHERE NOT triggers_evaluated;

-- Row-level security: jobs and runs hold scripts and arguments, so only
-- members of the owner (and superusers) see them.
ALTER TABLE glue.jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.jobs FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT ON glue.jobs TO PUBLIC;   -- written only through the functions (README "Catalogs")
ALTER TABLE glue.job_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.job_runs FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.jobs j WHERE j.job_id OPERATOR(pg_catalog.=) job_runs.job_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, j.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.jobs j WHERE j.job_id OPERATOR(pg_catalog.=) job_runs.job_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, j.owner, 'USAGE')));
GRANT SELECT ON glue.job_runs TO PUBLIC;   -- written only through the functions (README "Catalogs")

CREATE FUNCTION glue._wake_at_commit() RETURNS void
    LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_wake_at_commit';

CREATE TYPE glue.job_definition AS (name text, owner regrole, description text, script text,
        procedure regprocedure, default_arguments jsonb, non_overridable_arguments jsonb,
        max_concurrent_runs integer, job_run_queuing boolean, timeout interval, max_retries integer,
        version integer, created_on timestamptz, last_modified_on timestamptz);

CREATE TYPE glue.job_run AS (run_id bigint, job_name text, attempt integer, previous_run_id bigint,
        trigger_name text, workflow_run_id bigint, state text, arguments jsonb, started_on timestamptz,
        completed_on timestamptz, last_modified_on timestamptz, execution_time interval, timeout interval,
        rows_affected bigint, error_message text);

-- Helpers -------------------------------------------------------------------

CREATE FUNCTION glue._job_name(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF name IS NULL OR length(name) NOT BETWEEN 1 AND 255 OR name ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'InvalidInputException: job name must have 1 to 255 characters and no control characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN name;
END
$$;

-- The job row (visible only to members of its owner), optionally locked.
CREATE FUNCTION glue._job(name text, lock boolean DEFAULT false) RETURNS glue.jobs
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    j glue.jobs;
BEGIN
    IF lock THEN
        SELECT * INTO j FROM glue.jobs x WHERE x.job_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE') FOR NO KEY UPDATE;
    ELSE
        SELECT * INTO j FROM glue.jobs x WHERE x.job_name = name
           AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE');
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: job "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List your jobs with glue.list_jobs().';
    END IF;
    RETURN j;
END
$$;

-- Arguments: a JSON object of strings.
CREATE FUNCTION glue._check_arguments(what text, args jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF args IS NULL THEN
        RETURN '{}';
    END IF;
    IF jsonb_typeof(args) <> 'object'
       OR EXISTS (SELECT 1 FROM jsonb_each(args) e WHERE jsonb_typeof(e.value) <> 'string'
                                                     OR length(e.key) NOT BETWEEN 1 AND 255) THEN
        PERFORM glue._invalid(format('%s must be a JSON object of string values', what),
                              'For example {"--target_table": "daily_totals", "--job-bookmark-option": "job-bookmark-enable"}.');
    END IF;
    IF args ? '--job-bookmark-option'
       AND args ->> '--job-bookmark-option' NOT IN ('job-bookmark-enable', 'job-bookmark-disable', 'job-bookmark-pause') THEN
        PERFORM glue._invalid('--job-bookmark-option must be job-bookmark-enable, job-bookmark-disable or job-bookmark-pause');
    END IF;
    RETURN args;
END
$$;

-- Glue's merge: defaults, then run arguments except non-overridable keys,
-- then the non-overridable ones.
CREATE FUNCTION glue._merge_arguments(j glue.jobs, run_arguments jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).default_arguments
           || coalesce((SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each($2) e
                         WHERE NOT ($1).non_overridable_arguments ? e.key), '{}')
           || ($1).non_overridable_arguments
$$;

-- Check a job row; the procedure must be one its owner may execute.
CREATE FUNCTION glue._check_job(j glue.jobs) RETURNS glue.jobs
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p pg_proc;
BEGIN
    IF (j.script IS NULL) = (j.procedure IS NULL) THEN
        PERFORM glue._invalid('a job needs either a script or a procedure',
                              'Pass script => ''INSERT INTO ...'' or procedure => ''my_schema.my_proc(jsonb)''.');
    END IF;
    IF j.script IS NOT NULL AND (btrim(j.script) = '' OR length(j.script) > 1048576) THEN
        PERFORM glue._invalid('a job script must have 1 to 1048576 characters');
    END IF;
    IF j.procedure IS NOT NULL THEN
        SELECT * INTO p FROM pg_proc WHERE oid = to_regprocedure(j.procedure);
        IF p.prokind <> 'p' OR p.pronargs > 1 OR (p.pronargs = 1 AND p.proargtypes[0] <> 'jsonb'::regtype) THEN
            PERFORM glue._invalid(format('%s is not a procedure taking no argument or one jsonb argument', j.procedure));
        END IF;
        IF NOT has_function_privilege(j.owner::oid, j.procedure::regprocedure::oid, 'EXECUTE') THEN
            RAISE EXCEPTION 'AccessDeniedException: job owner % may not execute %', j.owner, j.procedure
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    j.default_arguments := glue._check_arguments('default_arguments', j.default_arguments);
    j.non_overridable_arguments := glue._check_arguments('non_overridable_arguments', j.non_overridable_arguments);
    IF j.max_concurrent_runs IS NULL OR j.max_concurrent_runs NOT BETWEEN 1 AND 1000 THEN
        PERFORM glue._invalid('max_concurrent_runs must be between 1 and 1000');
    END IF;
    IF j.timeout IS NULL OR j.timeout < '1 second' OR j.timeout > '7 days' THEN
        PERFORM glue._invalid('timeout must be between 1 second and 7 days');
    END IF;
    IF j.max_retries IS NULL OR j.max_retries NOT BETWEEN 0 AND 10 THEN
        PERFORM glue._invalid('max_retries must be between 0 and 10');
    END IF;
    PERFORM glue._check_length('description', j.description, 2048);
    RETURN j;
END
$$;

CREATE FUNCTION glue._job_definition(j glue.jobs) RETURNS glue.job_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).job_name, ($1).owner, ($1).description, ($1).script, to_regprocedure(($1).procedure), ($1).default_arguments,
           ($1).non_overridable_arguments, ($1).max_concurrent_runs, ($1).job_run_queuing, ($1).timeout,
           ($1).max_retries, ($1).version, ($1).created_on, ($1).last_modified_on
$$;

CREATE FUNCTION glue._job_run(r glue.job_runs) RETURNS glue.job_run
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).run_id, (SELECT j.job_name FROM glue.jobs j WHERE j.job_id = ($1).job_id), ($1).attempt,
           ($1).previous_run_id, ($1).trigger_name, ($1).workflow_run_id, ($1).state, ($1).arguments,
           ($1).started_on, ($1).completed_on, ($1).last_modified_on,
           CASE WHEN ($1).running_on IS NOT NULL
                THEN date_trunc('milliseconds', coalesce(($1).completed_on, clock_timestamp()) - ($1).running_on) END,
           ($1).timeout, ($1).rows_affected,
           -- a run that waits for a runner slot says so (kinesis_glue.runners)
           coalesce(($1).error_message,
                    CASE WHEN ($1).state = 'STARTING' THEN
                        (SELECT w.reason FROM kinesis_glue._runners() w
                          WHERE w.kind = 'job run' AND w.id = ($1).run_id AND w.state = 'waiting'
                            AND w.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()))
                    END)
$$;

-- API: jobs -------------------------------------------------------------------

CREATE FUNCTION glue.create_job(name text, script text DEFAULT NULL, procedure regprocedure DEFAULT NULL,
        default_arguments jsonb DEFAULT '{}', non_overridable_arguments jsonb DEFAULT '{}',
        max_concurrent_runs integer DEFAULT 1, job_run_queuing boolean DEFAULT false,
        timeout interval DEFAULT '48 hours', max_retries integer DEFAULT 0, description text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    j glue.jobs;
BEGIN
    j.job_name := glue._job_name(name);
    j.owner := kinesis_glue.caller()::regrole;
    j.script := script;
    j.procedure := procedure::text;              -- qualified: search_path is pinned
    j.default_arguments := default_arguments;
    j.non_overridable_arguments := non_overridable_arguments;
    j.max_concurrent_runs := max_concurrent_runs;
    j.job_run_queuing := coalesce(job_run_queuing, false);
    j.timeout := timeout;
    j.max_retries := max_retries;
    j.description := nullif(description, '');
    j := glue._check_job(j);
    BEGIN
        INSERT INTO glue.jobs (job_name, owner, description, script, procedure, default_arguments,
                               non_overridable_arguments, max_concurrent_runs, job_run_queuing, timeout, max_retries)
        VALUES (j.job_name, j.owner, j.description, j.script, j.procedure, j.default_arguments,
                j.non_overridable_arguments, j.max_concurrent_runs, j.job_run_queuing, j.timeout, j.max_retries);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'AlreadyExistsException: job "%" already exists', j.job_name
            USING ERRCODE = 'duplicate_object';
    END;
    RETURN j.job_name;
END
$$;

CREATE FUNCTION glue.get_job(name text) RETURNS SETOF glue.job_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue._job($1) j CROSS JOIN LATERAL glue._job_definition(j) d
$$;

CREATE FUNCTION glue.get_jobs() RETURNS SETOF glue.job_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue.jobs j CROSS JOIN LATERAL glue._job_definition(j) d ORDER BY j.job_name COLLATE "C"
$$;

CREATE FUNCTION glue.list_jobs() RETURNS SETOF text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT job_name FROM glue.jobs ORDER BY job_name COLLATE "C"
$$;

-- Change a job (NULL leaves a setting; description '' clears it; a new
-- script replaces the procedure and the other way round).  Runs in flight
-- keep the definition they started with.
CREATE FUNCTION glue.update_job(name text, script text DEFAULT NULL, procedure regprocedure DEFAULT NULL,
        default_arguments jsonb DEFAULT NULL, non_overridable_arguments jsonb DEFAULT NULL,
        max_concurrent_runs integer DEFAULT NULL, job_run_queuing boolean DEFAULT NULL,
        timeout interval DEFAULT NULL, max_retries integer DEFAULT NULL, description text DEFAULT NULL)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    j glue.jobs := glue._job(name, true);
BEGIN
    IF script IS NOT NULL AND procedure IS NOT NULL THEN
        PERFORM glue._invalid('a job needs either a script or a procedure, not both');
    ELSIF script IS NOT NULL THEN
        j.script := script;
        j.procedure := NULL;
    ELSIF procedure IS NOT NULL THEN
        j.procedure := procedure::text;
        j.script := NULL;
    END IF;
    j.default_arguments := coalesce(update_job.default_arguments, j.default_arguments);
    j.non_overridable_arguments := coalesce(update_job.non_overridable_arguments, j.non_overridable_arguments);
    j.max_concurrent_runs := coalesce(update_job.max_concurrent_runs, j.max_concurrent_runs);
    j.job_run_queuing := coalesce(update_job.job_run_queuing, j.job_run_queuing);
    j.timeout := coalesce(update_job.timeout, j.timeout);
    j.max_retries := coalesce(update_job.max_retries, j.max_retries);
    j.description := glue._updated(description, j.description);
    j := glue._check_job(j);
    UPDATE glue.jobs x SET script = j.script, procedure = j.procedure, default_arguments = j.default_arguments,
           non_overridable_arguments = j.non_overridable_arguments, max_concurrent_runs = j.max_concurrent_runs,
           job_run_queuing = j.job_run_queuing, timeout = j.timeout, max_retries = j.max_retries,
           description = j.description, version = x.version + 1, last_modified_on = clock_timestamp()
     WHERE x.job_id = j.job_id;
    PERFORM glue._wake_at_commit();                 -- a higher max_concurrent_runs releases WAITING runs
    RETURN j.job_name;
END
$$;

-- Delete a job with no run in flight, with its history and bookmarks.
-- Deleting a job that does not exist succeeds, as Glue's DeleteJob does
-- (delete-then-create scripts rely on it).
CREATE FUNCTION glue.delete_job(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    j glue.jobs;
BEGIN
    -- another role's job is as good as missing (the caller cannot see it)
    SELECT * INTO j FROM glue.jobs x WHERE x.job_name = name
       AND pg_has_role(kinesis_glue.caller(), x.owner, 'USAGE') FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN name;
    END IF;
    IF EXISTS (SELECT 1 FROM glue.job_runs r WHERE r.job_id = j.job_id
                  AND r.state IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING')) THEN
        RAISE EXCEPTION 'ConcurrentModificationException: job "%" has runs in progress', j.job_name
            USING ERRCODE = 'object_in_use', HINT = 'Stop them with glue.stop_job_run() and wait until they end.';
    END IF;
    PERFORM glue.reset_job_bookmark(j.job_name);
    DELETE FROM glue.jobs x WHERE x.job_id = j.job_id;
    RETURN j.job_name;
END
$$;

-- API: runs -----------------------------------------------------------------

-- Insert a run of job j (locked by the caller): STARTING, or WAITING when
-- max_concurrent_runs are active and the job queues runs.
CREATE FUNCTION glue._start_run(j glue.jobs, arguments jsonb, timeout interval, trigger_name text,
        workflow_run_id bigint, attempt integer DEFAULT 0, previous_run_id bigint DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    active integer;
    id bigint;
BEGIN
    SELECT count(*) INTO active FROM glue.job_runs r
     WHERE r.job_id = j.job_id AND r.state IN ('STARTING', 'RUNNING', 'STOPPING');
    IF active >= j.max_concurrent_runs AND NOT j.job_run_queuing THEN
        RAISE EXCEPTION 'ConcurrentRunsExceededException: job "%" already has % of % concurrent runs',
                        j.job_name, active, j.max_concurrent_runs
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Wait for a run to end, raise max_concurrent_runs, or let runs queue with job_run_queuing => true.';
    END IF;
    IF timeout IS NOT NULL AND (timeout < '1 second' OR timeout > '7 days') THEN
        PERFORM glue._invalid('timeout must be between 1 second and 7 days');
    END IF;
    INSERT INTO glue.job_runs (job_id, attempt, previous_run_id, trigger_name, workflow_run_id, state, arguments, timeout)
    VALUES (j.job_id, attempt, previous_run_id, trigger_name, workflow_run_id,
            CASE WHEN active >= j.max_concurrent_runs
                   OR EXISTS (SELECT 1 FROM glue.job_runs r WHERE r.job_id = j.job_id AND r.state = 'WAITING')
                 THEN 'WAITING' ELSE 'STARTING' END,
            glue._merge_arguments(j, glue._check_arguments('arguments', arguments)), coalesce(timeout, j.timeout))
    RETURNING run_id INTO id;
    PERFORM glue._wake_at_commit();
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION glue._start_run(glue.jobs, jsonb, interval, text, bigint, integer, bigint) FROM PUBLIC;

-- Start a run; returns its id at once.  job_run_id retries that earlier
-- run (same arguments unless new ones are given, attempt + 1).
CREATE FUNCTION glue.start_job_run(job_name text, arguments jsonb DEFAULT '{}', timeout interval DEFAULT NULL,
        job_run_id bigint DEFAULT NULL)
    RETURNS bigint LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    j glue.jobs := glue._job(job_name, true);
    p glue.job_runs;
BEGIN
    IF job_run_id IS NOT NULL THEN
        SELECT * INTO p FROM glue.job_runs r WHERE r.run_id = job_run_id AND r.job_id = j.job_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'EntityNotFoundException: job "%" has no run %', j.job_name, job_run_id
                USING ERRCODE = 'undefined_object';
        END IF;
        RETURN glue._start_run(j, CASE WHEN arguments IS NULL OR arguments = '{}' THEN p.arguments ELSE arguments END,
                               timeout, p.trigger_name, p.workflow_run_id, p.attempt + 1, p.run_id);
    END IF;
    RETURN glue._start_run(j, arguments, timeout, NULL, NULL);
END
$$;

-- Stop runs: queued or not yet started ones end as STOPPED at once; a
-- RUNNING one becomes STOPPING and the worker cancels it (its work rolls
-- back, bookmarks stay where they were).
CREATE FUNCTION glue.batch_stop_job_run(job_name text, job_run_ids bigint[])
    RETURNS TABLE (run_id bigint, state text, error_message text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    j glue.jobs := glue._job(job_name, true);
    id bigint;
    r glue.job_runs;
BEGIN
    FOREACH id IN ARRAY coalesce(job_run_ids, '{}') LOOP
        SELECT * INTO r FROM glue.job_runs x WHERE x.run_id = id AND x.job_id = j.job_id FOR UPDATE;
        run_id := id;
        error_message := NULL;
        IF NOT FOUND THEN
            state := NULL;
            error_message := 'EntityNotFoundException: no such run of this job';
        ELSIF r.state IN ('WAITING', 'STARTING') AND r.worker_pid IS NULL THEN
            UPDATE glue.job_runs x SET state = 'STOPPED', completed_on = clock_timestamp(),
                   last_modified_on = clock_timestamp()
             WHERE x.run_id = id;
            state := 'STOPPED';
        ELSIF r.state IN ('RUNNING', 'STARTING') THEN
            UPDATE glue.job_runs x SET state = 'STOPPING', last_modified_on = clock_timestamp() WHERE x.run_id = id;
            state := 'STOPPING';
        ELSE
            state := r.state;
            error_message := format('InvalidInputException: run %s is %s, not running', id, r.state);
        END IF;
        RETURN NEXT;
    END LOOP;
    PERFORM glue._wake_at_commit();
END
$$;

CREATE FUNCTION glue.stop_job_run(job_name text, job_run_id bigint) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s record;
BEGIN
    SELECT * INTO s FROM glue.batch_stop_job_run(job_name, ARRAY[job_run_id]);
    IF s.error_message LIKE 'EntityNotFoundException%' THEN
        RAISE EXCEPTION 'EntityNotFoundException: job "%" has no run %', job_name, job_run_id
            USING ERRCODE = 'undefined_object';
    ELSIF s.error_message IS NOT NULL THEN
        RAISE EXCEPTION 'InvalidInputException: run % of job "%" is %, not running', job_run_id, job_name, s.state
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN s.state;
END
$$;

CREATE FUNCTION glue.get_job_run(job_name text, run_id bigint) RETURNS SETOF glue.job_run
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    j glue.jobs := glue._job(job_name);
BEGIN
    RETURN QUERY SELECT d.* FROM glue.job_runs r CROSS JOIN LATERAL glue._job_run(r) d
                  WHERE r.job_id = j.job_id AND r.run_id = get_job_run.run_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: job "%" has no run %', j.job_name, run_id
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;

-- Runs of a job, newest first.
CREATE FUNCTION glue.get_job_runs(job_name text, max_results integer DEFAULT 100) RETURNS SETOF glue.job_run
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue._job($1) j JOIN glue.job_runs r ON r.job_id = j.job_id CROSS JOIN LATERAL glue._job_run(r) d
     ORDER BY r.run_id DESC LIMIT greatest(max_results, 0)
$$;

-- Synchronous run: start it, commit, and wait until it ends.  A procedure
-- (CALL glue.run_job(...)), since the worker sees the run only once the
-- start is committed; called inside a transaction block it cannot wait.
CREATE PROCEDURE glue.run_job(job_name text, arguments jsonb DEFAULT '{}', timeout interval DEFAULT NULL,
        INOUT run_id bigint DEFAULT NULL, INOUT state text DEFAULT NULL, INOUT error_message text DEFAULT NULL)
    LANGUAGE plpgsql AS
$$
BEGIN
    run_id := glue.start_job_run(job_name, arguments, timeout);
    COMMIT;
    LOOP
        SELECT r.state, r.error_message INTO state, error_message FROM glue.job_runs r WHERE r.run_id = run_job.run_id;
        EXIT WHEN state IS NULL OR state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING');
        COMMIT;                                         -- a new snapshot for the next look
        PERFORM pg_catalog.pg_sleep(0.05);
    END LOOP;
END
$$;
