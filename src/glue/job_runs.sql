-- Glue job runs (src/glue/job_runs.sql): what the job worker
-- (src/glue/job_worker.c) executes, how a run ends, retries, the
-- supervisor's round, and the functions a job script calls: its arguments
-- and its bookmarks.
--
-- A run is one transaction, executed as the job's owner in a
-- security-restricted context: glue._job_run_body runs the script or the
-- procedure and marks the run SUCCEEDED in that same transaction.  When it
-- raises (an error, a stop, the timeout), everything it did rolls back,
-- bookmarks included, and glue._job_run_end records the outcome.
--
-- Bookmarks (glue.job_bookmarks): per job and source.  A stream source is
-- read through a named consumer of the job ("glue-job-<job id>"), whose
-- checkpoint moves in the run's transaction (kinesis.consume); a table
-- source keeps the high-water mark of a monotonic column, a catalog file
-- table the latest modification time of the files processed.  The option is
-- the --job-bookmark-option argument: job-bookmark-enable (read what is
-- new, advance), job-bookmark-disable (read everything, keep no state),
-- job-bookmark-pause (read what is new, do not advance).
--
-- Locking: a run holds its job_bookmarks rows FOR UPDATE to its end, so
-- two runs of one job never read the same table range; stream shards are
-- leased by kinesis.consume.

CREATE TABLE glue.job_bookmarks (
    job_id integer NOT NULL REFERENCES glue.jobs ON DELETE CASCADE,
    source text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('stream', 'table', 'files')),
    high_water text,                       -- table: the last key value processed; files: the last mtime
    previous_high_water text,              -- the one before the last run
    run_id bigint,                         -- the run that last moved it
    updated_on timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (job_id, source)
);
ALTER TABLE glue.job_bookmarks ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.job_bookmarks FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.jobs j WHERE j.job_id OPERATOR(pg_catalog.=) job_bookmarks.job_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, j.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.jobs j WHERE j.job_id OPERATOR(pg_catalog.=) job_bookmarks.job_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, j.owner, 'USAGE')));
GRANT SELECT ON glue.job_bookmarks TO PUBLIC;   -- written only through the functions (README "Catalogs")

-- The run executing in this session (set by glue._job_run_body), checked
-- to be this backend's own RUNNING run.
CREATE FUNCTION glue._current_run() RETURNS glue.job_runs
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs;
BEGIN
    SELECT * INTO r FROM glue.job_runs x
     WHERE x.run_id = nullif(current_setting('glue_job.run_id', true), '')::bigint
       AND x.worker_pid = pg_backend_pid() AND x.state IN ('RUNNING', 'STOPPING');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'InvalidInputException: this function works only inside a job run'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Call it from the script or procedure of a Glue job, run by glue.start_job_run().';
    END IF;
    RETURN r;
END
$$;

-- Glue's getResolvedOptions: the run's merged arguments.
CREATE FUNCTION glue.get_resolved_options() RETURNS jsonb
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT (glue._current_run()).arguments
$$;

-- One argument, by name with or without the leading "--".
CREATE FUNCTION glue.job_argument(name text) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce(a ->> $1, a ->> ('--' || $1)) FROM glue.get_resolved_options() a
$$;

-- The id of the run executing this script.
CREATE FUNCTION glue.job_run_id() RETURNS bigint
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT (glue._current_run()).run_id
$$;

CREATE FUNCTION glue._bookmark_option(r glue.job_runs) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce(($1).arguments ->> '--job-bookmark-option', 'job-bookmark-disable')
$$;

-- A script with its :'name' and :"name" references replaced by the quoted
-- argument (name with or without "--"); an unknown name is an error.
CREATE FUNCTION glue._substitute(script text, args jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    out text := '';
    m text[];
    v text;
BEGIN
    LOOP
        m := regexp_match(script, '^(.*?):(''([A-Za-z_][A-Za-z0-9_.-]*)''|"([A-Za-z_][A-Za-z0-9_.-]*)")(.*)$', 's');
        EXIT WHEN m IS NULL;
        v := coalesce(args ->> coalesce(m[3], m[4]), args ->> ('--' || coalesce(m[3], m[4])));
        IF v IS NULL THEN
            RAISE EXCEPTION 'InvalidInputException: the job script uses argument "%", which the run does not have',
                            coalesce(m[3], m[4])
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give it in default_arguments or in the run''s arguments.';
        END IF;
        out := out || m[1] || CASE WHEN m[3] IS NOT NULL THEN quote_literal(v) ELSE quote_ident(v) END;
        script := m[5];
    END LOOP;
    RETURN out || script;
END
$$;

-- The run itself (called by the job worker as the job's owner).  Returns
-- the rows affected (of the script's last statement).
CREATE FUNCTION glue._job_run_body(run_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs;
    j glue.jobs;
    proc regprocedure;
    n bigint := 0;
BEGIN
    SELECT * INTO r FROM glue.job_runs x WHERE x.run_id = _job_run_body.run_id;
    IF NOT FOUND OR r.worker_pid IS DISTINCT FROM pg_backend_pid() OR r.state NOT IN ('RUNNING', 'STOPPING') THEN
        -- only the job worker that took the run executes it (as the owner)
        RAISE EXCEPTION 'InvalidInputException: run % is not executing in this session', run_id
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Start runs with glue.start_job_run() or glue.run_job().';
    END IF;
    SELECT * INTO j FROM glue.jobs x WHERE x.job_id = r.job_id;
    -- re-validated before acting: the worker runs the job as its owner, no other role
    IF current_user::regrole IS DISTINCT FROM j.owner THEN
        RAISE EXCEPTION 'AccessDeniedException: run % of job "%" must execute as its owner %, not %',
                        r.run_id, j.job_name, j.owner, current_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('glue_job.run_id', r.run_id::text, true);
    PERFORM set_config('glue_job.job_name', j.job_name, true);
    proc := to_regprocedure(j.procedure);               -- resolved before the user's search path
    IF j.procedure IS NOT NULL AND proc IS NULL THEN     -- dropped or renamed since
        RAISE EXCEPTION 'EntityNotFoundException: procedure % of job "%" does not exist', j.procedure, j.job_name
            USING ERRCODE = 'undefined_function', HINT = 'Point the job at an existing procedure with glue.update_job().';
    END IF;
    -- the script sees the owner's usual search path (or --search_path)
    PERFORM set_config('search_path', coalesce(r.arguments ->> '--search_path', '"$user", public'), true);
    IF j.script IS NOT NULL THEN
        EXECUTE glue._substitute(j.script, r.arguments);
        GET DIAGNOSTICS n = ROW_COUNT;
    ELSIF (SELECT p.pronargs FROM pg_catalog.pg_proc p WHERE p.oid = proc) = 1 THEN
        EXECUTE format('CALL %I.%I($1)', (SELECT n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = proc),
                       (SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid = proc))
            USING r.arguments;
    ELSE
        EXECUTE format('CALL %I.%I()', (SELECT n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = proc),
                       (SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid = proc));
    END IF;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    PERFORM glue._job_run_succeeded(r.run_id, n);
    RETURN n;
END
$$;

-- The run's script or procedure returned: record SUCCEEDED.  Runs as the
-- extension owner; only the job worker executing the run, as a member of
-- the job's owner, gets here.
CREATE FUNCTION glue._job_run_succeeded(run_id bigint, n bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
BEGIN
    UPDATE glue.job_runs x SET state = 'SUCCEEDED', completed_on = clock_timestamp(), last_modified_on = clock_timestamp(),
           rows_affected = n
     WHERE x.run_id = _job_run_succeeded.run_id AND x.worker_pid = pg_backend_pid() AND x.state IN ('RUNNING', 'STOPPING')
       AND pg_has_role(kinesis_glue.caller(), (SELECT j.owner FROM glue.jobs j WHERE j.job_id = x.job_id), 'USAGE');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'InvalidInputException: run % is not executing in this session', run_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- A FAILED run is retried as a new run while the job's max_retries allow.
CREATE FUNCTION glue._job_run_retry(r glue.job_runs) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    j glue.jobs;
BEGIN
    SELECT * INTO j FROM glue.jobs x WHERE x.job_id = r.job_id FOR NO KEY UPDATE;
    IF FOUND AND r.state = 'FAILED' AND r.attempt < j.max_retries THEN
        INSERT INTO glue.job_runs (job_id, attempt, previous_run_id, trigger_name, workflow_run_id, state, arguments, timeout)
        VALUES (r.job_id, r.attempt + 1, r.run_id, r.trigger_name, r.workflow_run_id, 'STARTING', r.arguments, r.timeout);
    END IF;
END
$$;

-- How a run that raised ends (called by the job worker, as the extension
-- owner): STOPPED when a stop was asked, TIMEOUT when it was cancelled at
-- its timeout, else FAILED (and retried).
CREATE FUNCTION glue._job_run_end(run_id bigint, cancelled boolean, error text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs;
BEGIN
    SELECT * INTO r FROM glue.job_runs x WHERE x.run_id = _job_run_end.run_id FOR UPDATE;
    IF NOT FOUND OR r.state NOT IN ('RUNNING', 'STOPPING') THEN
        RETURN r.state;
    END IF;
    r.state := CASE WHEN r.state = 'STOPPING' THEN 'STOPPED'
                    WHEN cancelled AND clock_timestamp() >= r.running_on + r.timeout - interval '50 ms' THEN 'TIMEOUT'
                    ELSE 'FAILED' END;
    UPDATE glue.job_runs x SET state = r.state, completed_on = clock_timestamp(), last_modified_on = clock_timestamp(),
           error_message = CASE r.state WHEN 'STOPPED' THEN 'the run was stopped'
                                        WHEN 'TIMEOUT' THEN format('the run exceeded its timeout of %s', r.timeout)
                                        ELSE error END
     WHERE x.run_id = r.run_id;
    PERFORM glue._job_run_retry(r);
    RETURN r.state;
END
$$;

-- One round of the supervisor (the database worker, as the extension
-- owner).  Fails runs interrupted by a crash or a dead worker (and retries
-- them), releases queued runs, expires history, evaluates conditional
-- triggers, and returns what the worker must do: ('cancel', run, pid) for
-- runs to stop or past their timeout, ('launch', run, NULL) for runs that
-- wait for a worker, oldest first.
CREATE FUNCTION glue._job_supervise(retention_seconds integer)
    RETURNS TABLE (action text, run_id bigint, pid integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs;
    j record;
BEGIN
    FOR r IN
        SELECT * FROM glue.job_runs x
         WHERE x.state IN ('RUNNING', 'STOPPING')
           AND (x.running_on < pg_postmaster_start_time()
                OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = x.worker_pid
                                  AND a.backend_type = 'kinesis_glue job'))
           -- a runner the registry still holds is reaped by the supervisor, with its reason
           AND NOT EXISTS (SELECT 1 FROM kinesis_glue._runners() w
                            WHERE w.kind = 'job run' AND w.id = x.run_id AND w.state <> 'idle'
                              AND w.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()))
         ORDER BY x.run_id FOR UPDATE SKIP LOCKED
    LOOP
        r.state := CASE r.state WHEN 'STOPPING' THEN 'STOPPED' ELSE 'FAILED' END;
        UPDATE glue.job_runs x SET state = r.state, completed_on = clock_timestamp(), last_modified_on = clock_timestamp(),
               error_message = 'the run was interrupted: the server restarted or its worker exited'
         WHERE x.run_id = r.run_id;
        PERFORM glue._job_run_retry(r);
    END LOOP;
    -- queued runs move up as runs end
    FOR j IN SELECT x.job_id, x.max_concurrent_runs FROM glue.jobs x
              WHERE EXISTS (SELECT 1 FROM glue.job_runs w WHERE w.job_id = x.job_id AND w.state = 'WAITING') LOOP
        UPDATE glue.job_runs x SET state = 'STARTING', last_modified_on = clock_timestamp()
         WHERE x.run_id IN (SELECT w.run_id FROM glue.job_runs w WHERE w.job_id = j.job_id AND w.state = 'WAITING'
                             ORDER BY w.run_id
                             LIMIT greatest(0, j.max_concurrent_runs
                                               - (SELECT count(*) FROM glue.job_runs a WHERE a.job_id = j.job_id
                                                     AND a.state IN ('STARTING', 'RUNNING', 'STOPPING'))));
    END LOOP;
    DELETE FROM glue.job_runs x
     WHERE x.state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING') AND x.triggers_evaluated
       AND x.completed_on < clock_timestamp() - make_interval(secs => retention_seconds);
    PERFORM glue._evaluate_conditions();
    RETURN QUERY
        -- runs to cancel: the supervisor signals the runner its registry
        -- holds for the run, never a PID read from this table
        SELECT CASE x.state WHEN 'STOPPING' THEN 'stop' ELSE 'timeout' END, x.run_id, NULL::integer
          FROM glue.job_runs x
         WHERE x.worker_pid IS NOT NULL
           AND (x.state = 'STOPPING' OR (x.state = 'RUNNING' AND clock_timestamp() > x.running_on + x.timeout + interval '1 second'))
        UNION ALL
        SELECT * FROM (SELECT 'launch', x.run_id, NULL::integer FROM glue.job_runs x
                        WHERE x.state = 'STARTING' AND x.worker_pid IS NULL ORDER BY x.run_id) l;
END
$$;

-- Add why the supervisor terminated a run's worker to the run's message.
CREATE FUNCTION glue._job_run_note(run_id bigint, note text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    UPDATE glue.job_runs x SET error_message = coalesce(x.error_message || ' (' || note || ')', note)
     WHERE x.run_id = _job_run_note.run_id
$$;
REVOKE ALL ON FUNCTION glue._job_run_note(bigint, text) FROM PUBLIC;

-- Placeholder until conditional triggers (triggers.sql) replace it: mark
-- ended runs as evaluated.
CREATE FUNCTION glue._evaluate_conditions() RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    UPDATE glue.job_runs SET triggers_evaluated = true
     WHERE NOT triggers_evaluated AND state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING')
$$;

-- Bookmarks ------------------------------------------------------------------

-- The records of a shard after a sequence number (NULL: from the trim
-- horizon) up to the last stable one, each batch read once: the next read
-- starts after the last record returned, so records that become stable
-- between reads are neither skipped nor returned twice.
CREATE FUNCTION glue._shard_records(stream_name text, shard_id text, after bigint)
    RETURNS SETOF kinesis.record
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    rec kinesis.record;
    n bigint;
BEGIN
    LOOP
        n := 0;
        FOR rec IN SELECT * FROM kinesis.read_shard(stream_name, shard_id, after, 10000) LOOP
            RETURN NEXT rec;
            after := rec.sequence_number;
            n := n + 1;
        END LOOP;
        EXIT WHEN n = 0;
    END LOOP;
END
$$;

-- Writers of bookmarks (run as the extension owner: README "Catalogs").
-- Only the job worker executing a run (glue._current_run: this backend's
-- RUNNING run), as a member of the job's owner, reads and moves that job's
-- bookmarks.

-- The run executing here, checked to be the caller's.
CREATE FUNCTION glue._bookmark_run() RETURNS glue.job_runs
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs := glue._current_run();
BEGIN
    IF NOT pg_has_role(kinesis_glue.caller(), (SELECT j.owner FROM glue.jobs j WHERE j.job_id = r.job_id), 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: bookmarks belong to the job''s owner'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN r;
END
$$;

-- The bookmark of source src of the running job, locked to the run's end
-- (a NULL row when there is none yet).
CREATE FUNCTION glue._bookmark_lock(src text) RETURNS glue.job_bookmarks
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    r glue.job_runs := glue._bookmark_run();
    b glue.job_bookmarks;
BEGIN
    SELECT * INTO b FROM glue.job_bookmarks x WHERE x.job_id = r.job_id AND x.source = src FOR UPDATE;
    RETURN b;
END
$$;

-- Record that the running job read source src (kind stream, table or
-- files) up to high_water (after previous_high_water).  A stream's
-- position is its consumer's checkpoint: only the run is noted, and only
-- with job-bookmark-enable (as for the others' high water).
CREATE FUNCTION glue._bookmark_save(src text, kind text, high_water text, previous_high_water text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    r glue.job_runs := glue._bookmark_run();
    enable boolean := glue._bookmark_option(r) = 'job-bookmark-enable';
BEGIN
    IF kind IS NULL OR kind NOT IN ('stream', 'table', 'files') OR src NOT LIKE kind || ':%' THEN
        PERFORM glue._invalid(format('bookmark source "%s" is not of kind %s', src, kind));
    END IF;
    IF kind = 'stream' THEN
        INSERT INTO glue.job_bookmarks AS b (job_id, source, kind, run_id)
        VALUES (r.job_id, src, kind, r.run_id)
        ON CONFLICT (job_id, source) DO UPDATE SET run_id = CASE WHEN enable THEN r.run_id ELSE b.run_id END,
                                                  updated_on = CASE WHEN enable THEN clock_timestamp() ELSE b.updated_on END;
    ELSIF enable THEN
        INSERT INTO glue.job_bookmarks AS b (job_id, source, kind, high_water, previous_high_water, run_id)
        VALUES (r.job_id, src, kind, _bookmark_save.high_water, _bookmark_save.previous_high_water, r.run_id)
        ON CONFLICT (job_id, source) DO UPDATE SET high_water = excluded.high_water,
                                                  previous_high_water = excluded.previous_high_water,
                                                  run_id = r.run_id, updated_on = clock_timestamp();
    END IF;
END
$$;

-- Records of a stream for this run.  With job-bookmark-enable, the records
-- after the job's checkpoint, which moves in the run's transaction (so a
-- run that fails or is stopped leaves it where it was); with
-- job-bookmark-pause, the same records without moving it; with
-- job-bookmark-disable, every record the stream still holds.  The
-- function is C (src/glue/bookmarks.c): it opens the read with
-- glue._bookmark_stream_open and, with job-bookmark-enable, consumes every
-- new record of the job's consumer in one call (kinesis.consume's checks,
-- leases and checkpoints) straight into the rows the calling statement
-- reads, so `INSERT ... SELECT ... FROM glue.bookmark_records(...)` is one
-- statement with no batches; the other options read through
-- glue._bookmark_stream_scan.
CREATE FUNCTION glue.bookmark_records(stream_name text, max_records integer DEFAULT NULL)
    RETURNS SETOF kinesis.record
    LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_bookmark_records';

-- The start of a stream read of the running job: its bookmark option, and
-- (unless job-bookmark-disable) its consumer, registered at TRIM_HORIZON on
-- first use, with the run noted in the job's bookmarks.
CREATE FUNCTION glue._bookmark_stream_open(stream_name text, OUT option text, OUT consumer text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r glue.job_runs := glue._current_run();
BEGIN
    option := glue._bookmark_option(r);
    IF option = 'job-bookmark-disable' THEN
        RETURN;
    END IF;
    consumer := 'glue-job-' || r.job_id;
    IF NOT EXISTS (SELECT 1 FROM kinesis.list_stream_consumers(stream_name) c WHERE c.consumer_name = consumer) THEN
        PERFORM kinesis.register_stream_consumer(stream_name, consumer, 'TRIM_HORIZON');
    END IF;
    PERFORM glue._bookmark_save('stream:' || stream_name, 'stream', NULL, NULL);
END
$$;

-- The records of a stream without moving a checkpoint, with the caller's
-- rights: after consumer's checkpoints (job-bookmark-pause), or all of them
-- (consumer NULL: job-bookmark-disable).
CREATE FUNCTION glue._bookmark_stream_scan(stream_name text, consumer text)
    RETURNS SETOF kinesis.record
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s record;
BEGIN
    IF consumer IS NULL THEN
        FOR s IN SELECT * FROM kinesis.list_shards(stream_name) ORDER BY shard_id LOOP
            RETURN QUERY SELECT * FROM glue._shard_records(stream_name, s.shard_id, NULL);
        END LOOP;
        RETURN;
    END IF;
    FOR s IN SELECT p.shard_id, p.checkpoint_sequence_number FROM kinesis.consumer_positions p
              WHERE p.stream_name = _bookmark_stream_scan.stream_name AND p.consumer_name = consumer
              ORDER BY p.shard_id LOOP
        RETURN QUERY SELECT * FROM glue._shard_records(stream_name, s.shard_id,
                kinesis.read_shard_start(stream_name, s.shard_id, s.checkpoint_sequence_number));
    END LOOP;
END
$$;

-- The range of a monotonic key column of a table this run processes:
-- (after_value, up_to_value].  after_value is NULL on the first run (and
-- always with job-bookmark-disable); up_to_value is the column's maximum
-- when the run first asks.  With job-bookmark-enable the bookmark moves to
-- up_to_value in the run's transaction.  typ gives the column's type:
--   FROM glue.bookmark_range('public.orders', 'order_id', NULL::bigint) b,
--        public.orders o
--  WHERE (b.after_value IS NULL OR o.order_id > b.after_value) AND o.order_id <= b.up_to_value
CREATE FUNCTION glue.bookmark_range(source regclass, key_column text, typ anyelement,
        OUT after_value anyelement, OUT up_to_value anyelement)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_column
DECLARE
    r glue.job_runs := glue._current_run();
    opt text := glue._bookmark_option(r);
    b glue.job_bookmarks;
    src text := 'table:' || source::text || '.' || key_column;
    lo text;
    hi text;
    newer boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = source AND a.attname = key_column
                      AND a.attnum > 0 AND NOT a.attisdropped) THEN
        PERFORM glue._invalid(format('table %s has no column "%s"', source, key_column));
    END IF;
    b := glue._bookmark_lock(src);
    IF b.run_id = r.run_id THEN               -- asked before in this run
        lo := b.previous_high_water;
        hi := b.high_water;
    ELSE
        lo := CASE WHEN opt = 'job-bookmark-disable' THEN NULL ELSE b.high_water END;
        EXECUTE format('SELECT max(%I)::text FROM %s', key_column, source) INTO hi;
        IF lo IS NOT NULL AND hi IS NOT NULL THEN
            EXECUTE format('SELECT $1::%s > $2::%s', pg_typeof(typ), pg_typeof(typ)) INTO newer USING hi, lo;
            IF NOT newer THEN
                hi := lo;
            END IF;
        END IF;
        hi := coalesce(hi, lo);
        IF opt = 'job-bookmark-enable' THEN
            PERFORM glue._bookmark_save(src, 'table', hi, lo);
        END IF;
    END IF;
    EXECUTE format('SELECT $1::%s, $2::%s', pg_typeof(typ), pg_typeof(typ)) INTO after_value, up_to_value USING lo, hi;
END
$$;

-- The files of a Glue catalog file table (its location, a server
-- directory) this run processes: with job-bookmark-enable or -pause,
-- those modified after the bookmark; files modified within the last
-- second are left for the next run (they may still be written).  With
-- job-bookmark-enable the bookmark moves to the newest mtime returned, in
-- the run's transaction.  Listing needs pg_read_server_files.
CREATE FUNCTION glue.bookmark_files(database_name text, table_name text)
    RETURNS TABLE (path text, size bigint, mtime timestamptz)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_column
DECLARE
    r glue.job_runs := glue._current_run();
    opt text := glue._bookmark_option(r);
    t glue.tables := glue._table(database_name, table_name, false);
    src text := 'files:' || database_name || '.' || table_name;
    b glue.job_bookmarks;
    lo timestamptz;
    hi timestamptz;
    f record;
    cutoff timestamptz := clock_timestamp() - interval '1 second';
BEGIN
    IF t.location IS NULL OR t.location !~ '^/' THEN
        PERFORM glue._invalid(format('table "%s" of database "%s" is not a file table (its location is not a server directory)',
                                     table_name, database_name));
    END IF;
    IF NOT pg_has_role(kinesis_glue.caller(), 'pg_read_server_files', 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied to read server files'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The job''s owner %s lacks the privileges of the pg_read_server_files role.', kinesis_glue.caller()),
                  HINT = format('GRANT pg_read_server_files TO %s.', kinesis_glue.caller());
    END IF;
    b := glue._bookmark_lock(src);
    IF b.run_id = r.run_id THEN               -- asked before in this run
        lo := b.previous_high_water::timestamptz;
        cutoff := b.high_water::timestamptz;
    ELSE
        lo := CASE WHEN opt = 'job-bookmark-disable' THEN NULL ELSE b.high_water::timestamptz END;
    END IF;
    FOR f IN SELECT x.path, x.size, x.mtime FROM glue._list_files(t.location, '{}', 1000000) x
              WHERE x.error IS NULL AND (lo IS NULL OR x.mtime > lo) AND x.mtime <= cutoff
              ORDER BY x.mtime, x.path LOOP
        path := f.path;
        size := f.size;
        mtime := f.mtime;
        hi := greatest(hi, f.mtime);
        RETURN NEXT;
    END LOOP;
    IF opt = 'job-bookmark-enable' AND (b.run_id IS DISTINCT FROM r.run_id) THEN
        PERFORM glue._bookmark_save(src, 'files', coalesce(hi, lo)::text, lo::text);
    END IF;
END
$$;

-- Glue's GetJobBookmark: the job's bookmarks (stream checkpoints per shard).
CREATE FUNCTION glue.get_job_bookmark(job_name text)
    RETURNS TABLE (source text, kind text, high_water text, run_id bigint, updated_on timestamptz, shards jsonb)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT b.source, b.kind, b.high_water, b.run_id, b.updated_on,
           CASE WHEN b.kind = 'stream' THEN
               (SELECT jsonb_object_agg(p.shard_id, p.checkpoint_sequence_number ORDER BY p.shard_id)
                  FROM kinesis.consumer_shards cs JOIN kinesis.consumers c USING (consumer_id)
                  JOIN kinesis.streams s USING (stream_id)
                  CROSS JOIN LATERAL (SELECT 'shardId-' || lpad(cs.shard_index::text, 12, '0') AS shard_id,
                                             cs.checkpoint AS checkpoint_sequence_number) p
                 WHERE c.consumer_name = 'glue-job-' || j.job_id AND 'stream:' || s.stream_name = b.source) END
      FROM glue._job($1) j JOIN glue.job_bookmarks b ON b.job_id = j.job_id
     ORDER BY b.source
$$;

-- Forget a job's bookmarks: the next run reads every source from the start.
CREATE FUNCTION glue.reset_job_bookmark(job_name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    j glue.jobs := glue._job(job_name, true);
    b glue.job_bookmarks;
BEGIN
    IF EXISTS (SELECT 1 FROM glue.job_runs r WHERE r.job_id = j.job_id AND r.state IN ('RUNNING', 'STOPPING')) THEN
        RAISE EXCEPTION 'ConcurrentModificationException: job "%" is running', j.job_name
            USING ERRCODE = 'object_in_use', HINT = 'Reset the bookmark when no run is in progress.';
    END IF;
    FOR b IN SELECT * FROM glue.job_bookmarks x WHERE x.job_id = j.job_id AND x.kind = 'stream' LOOP
        IF EXISTS (SELECT 1 FROM kinesis.consumers c JOIN kinesis.streams s USING (stream_id)
                    WHERE 'stream:' || s.stream_name = b.source AND c.consumer_name = 'glue-job-' || j.job_id) THEN
            PERFORM kinesis.deregister_stream_consumer(substr(b.source, 8), 'glue-job-' || j.job_id);
        END IF;
    END LOOP;
    DELETE FROM glue.job_bookmarks x WHERE x.job_id = j.job_id;
END
$$;

-- Internal steps the database worker runs as the extension owner.
REVOKE ALL ON FUNCTION glue._job_run_end(bigint, boolean, text), glue._job_supervise(integer),
    glue._job_run_retry(glue.job_runs), glue._evaluate_conditions() FROM PUBLIC;
