-- Background worker administration (src/worker).

CREATE FUNCTION kinesis_glue._register_database() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_register_database';
REVOKE ALL ON FUNCTION kinesis_glue._register_database() FROM PUBLIC;

CREATE FUNCTION kinesis_glue.wake_worker() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_wake_worker_sql';
COMMENT ON FUNCTION kinesis_glue.wake_worker() IS
    'wake this database''s kinesis_glue worker for an immediate round of work';

CREATE FUNCTION kinesis_glue.worker_status(OUT datid oid, OUT wanted boolean,
                                           OUT stopping boolean, OUT pid integer)
    RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_worker_status';

CREATE VIEW kinesis_glue.workers AS
    SELECT d.datname AS database, w.pid, w.wanted, w.stopping,
           a.backend_start AS started_at, a.state
      FROM kinesis_glue.worker_status() w
      JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) w.datid
      LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) w.pid;
GRANT SELECT ON kinesis_glue.workers TO PUBLIC;

-- The runner registry (src/worker/runner.c): every runner worker of user
-- code (mapping slots, job runs, crawls), and those waiting for a slot.
CREATE FUNCTION kinesis_glue._runners(OUT kind text, OUT datid oid, OUT id bigint, OUT part integer,
                                      OUT generation integer, OUT owner oid, OUT state text, OUT pid integer,
                                      OUT since timestamptz, OUT reason text)
    RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'kg_runners_sql';

CREATE VIEW kinesis_glue.runners AS
    SELECT r.kind, d.datname AS database, r.id, r.part, r.generation,
           r.owner::pg_catalog.regrole AS owner, r.state, r.pid, r.since, r.reason
      FROM kinesis_glue._runners() r
      LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) r.datid;
GRANT SELECT ON kinesis_glue.runners TO PUBLIC;

-- Why the runner of (kind, id) in this database waits for a slot (the
-- runner caps), NULL when it does not wait: for the status views.
CREATE FUNCTION kinesis_glue._runner_waiting_reason(kind text, id bigint) RETURNS text
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT min(r.reason) FROM kinesis_glue._runners() r
     WHERE r.kind = $1 AND r.id = $2 AND r.state = 'waiting'
       AND r.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
$$;

-- Start this database's worker once CREATE EXTENSION commits.
SELECT kinesis_glue._register_database();

-- The database this installation belongs to.  A copy made with CREATE
-- DATABASE ... TEMPLATE inherits the row; its worker notices the other OID
-- when it starts and adopts the copy (kinesis_glue._adopt_copy).
CREATE TABLE kinesis_glue.installation (database_oid oid NOT NULL);
INSERT INTO kinesis_glue.installation (database_oid)
    SELECT d.oid FROM pg_catalog.pg_database d
     WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database();
GRANT SELECT ON kinesis_glue.installation TO PUBLIC;

-- Run by the worker as it starts (src/worker/templates.c): in a copy of
-- another database, record this database's OID and stop the delivery
-- streams whose destination (a directory or a program) the copy would
-- share with its template: both would write objects under the same names.
-- Returns how many were stopped; NULL when this is not a copy.
CREATE FUNCTION kinesis_glue._adopt_copy() RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    me oid := (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database());
    was oid;
    n integer;
BEGIN
    SELECT i.database_oid INTO was FROM kinesis_glue.installation i FOR UPDATE;
    IF was = me THEN
        RETURN NULL;
    END IF;
    DELETE FROM kinesis_glue.installation;
    INSERT INTO kinesis_glue.installation (database_oid) VALUES (me);
    IF was IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE firehose.delivery_streams d
       SET enabled = false, last_error_at = pg_catalog.clock_timestamp(),
           last_error = pg_catalog.format('stopped: this database is a copy of database %s and would share the destination with it', was)
     WHERE d.enabled AND d.destination_type IN ('files', 'program');
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RAISE WARNING 'kinesis_glue: database "%" is a copy of database %: % delivery stream(s) with a file or program destination stopped',
                      pg_catalog.current_database(), was, n
            USING DETAIL = 'A copy and its template would write objects with the same names to the same destination.',
                  HINT = 'Start them with firehose.start_delivery_stream() if sharing the destination is intended, or re-create them with another destination.';
    END IF;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION kinesis_glue._adopt_copy() FROM PUBLIC;
