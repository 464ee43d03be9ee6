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

-- Start this database's worker once CREATE EXTENSION commits.
SELECT kinesis_glue._register_database();
