-- Glue crawlers (src/glue/crawlers.sql): the crawler definitions, their
-- crawls (history, metrics, progress) and the API.  What a crawl does is in
-- crawl.sql; the worker that runs it in src/glue/crawler_worker.c.
--
-- A crawler belongs to the role that created it.  Only members of that
-- role change, delete, start or stop it.  The worker runs a crawl as the
-- owner (security-restricted), so a crawl reads only what the owner may
-- read (pg_read_server_files for directories, SELECT for tables, read
-- access for streams) and writes only tables of Glue databases the owner
-- may write.  The owner must have those rights when the crawler is created
-- and each time it runs.
--
-- States: a crawler is READY, RUNNING or STOPPING, derived from its latest
-- crawl (RUNNING -> RUNNING, CANCELLING -> STOPPING, else READY).  A crawl
-- is RUNNING, CANCELLING, then SUCCEEDED, CANCELLED or FAILED.
--
-- Errors: EntityNotFoundException (42704), AlreadyExistsException (42710),
-- InvalidInputException (22023), CrawlerRunningException,
-- CrawlerNotRunningException, CrawlerStoppingException (55006
-- object_in_use), AccessDeniedException (42501).
--
-- Locking: start, stop, update and delete lock the crawler row FOR NO KEY
-- UPDATE (a running crawl holds KEY SHARE on it through its crawls row);
-- a partial unique index allows one active crawl per crawler, so two
-- concurrent starts cannot both succeed.

CREATE TABLE glue.crawlers (
    crawler_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    crawler_name text NOT NULL UNIQUE,
    database_name text NOT NULL,
    owner regrole NOT NULL,
    description text,
    targets jsonb NOT NULL,
    schedule text,
    table_prefix text NOT NULL DEFAULT '',
    update_behavior text NOT NULL DEFAULT 'UPDATE_IN_DATABASE'
        CHECK (update_behavior IN ('UPDATE_IN_DATABASE', 'LOG')),
    delete_behavior text NOT NULL DEFAULT 'DEPRECATE_IN_DATABASE'
        CHECK (delete_behavior IN ('DELETE_FROM_DATABASE', 'DEPRECATE_IN_DATABASE', 'LOG')),
    recrawl_behavior text NOT NULL DEFAULT 'CRAWL_EVERYTHING'
        CHECK (recrawl_behavior IN ('CRAWL_EVERYTHING', 'CRAWL_NEW_FOLDERS_ONLY')),
    configuration jsonb NOT NULL DEFAULT '{}',
    version integer NOT NULL DEFAULT 1,
    creation_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_updated timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

-- One row per crawl: its state, progress and outcome.  log holds the
-- reasons the crawl split, skipped, deprecated or deleted something, and
-- the malformed files it met (at most 1000 entries; log_dropped counts the
-- rest).
CREATE TABLE glue.crawls (
    crawl_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    crawler_id integer NOT NULL REFERENCES glue.crawlers ON DELETE CASCADE,
    state text NOT NULL DEFAULT 'RUNNING'
        CHECK (state IN ('RUNNING', 'CANCELLING', 'CANCELLED', 'SUCCEEDED', 'FAILED')),
    start_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    end_time timestamptz,
    worker_pid integer,
    phase text NOT NULL DEFAULT 'STARTING',
    error_message text,
    files_total integer NOT NULL DEFAULT 0,
    files_done integer NOT NULL DEFAULT 0,
    files_scanned integer NOT NULL DEFAULT 0,
    tables_created integer NOT NULL DEFAULT 0,
    tables_updated integer NOT NULL DEFAULT 0,
    tables_deleted integer NOT NULL DEFAULT 0,
    tables_deprecated integer NOT NULL DEFAULT 0,
    partitions_created integer NOT NULL DEFAULT 0,
    partitions_deleted integer NOT NULL DEFAULT 0,
    bad_utf8_lines bigint NOT NULL DEFAULT 0,
    ragged_rows bigint NOT NULL DEFAULT 0,
    invalid_json_records bigint NOT NULL DEFAULT 0,
    unreadable_files integer NOT NULL DEFAULT 0,
    log jsonb NOT NULL DEFAULT '[]',
    log_dropped integer NOT NULL DEFAULT 0,
    tables_seen jsonb NOT NULL DEFAULT '{}',  -- table name -> location, written by this crawl
    failed_targets text[] NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX crawls_one_active ON glue.crawls (crawler_id) WHERE state IN ('RUNNING', 'CANCELLING');
CREATE INDEX ON glue.crawls (crawler_id, crawl_id);

-- The files of a running crawl (removed when it ends).
CREATE TABLE glue.crawl_files (
    crawl_id bigint NOT NULL REFERENCES glue.crawls ON DELETE CASCADE,
    file_no integer NOT NULL,
    target_no integer NOT NULL,
    path text NOT NULL,
    folder text[] NOT NULL,                  -- relative to the target path
    size bigint,
    mtime timestamptz,
    to_sample boolean NOT NULL DEFAULT true,
    known boolean NOT NULL DEFAULT false,     -- in a folder crawled before (CRAWL_NEW_FOLDERS_ONLY)
    sampled boolean NOT NULL DEFAULT false,
    info jsonb,                               -- what glue._sample_file found
    PRIMARY KEY (crawl_id, file_no)
);
CREATE INDEX ON glue.crawl_files (crawl_id, file_no) WHERE to_sample AND NOT sampled;

-- The folders a crawler has crawled (for CRAWL_NEW_FOLDERS_ONLY).
CREATE TABLE glue.crawler_folders (
    crawler_id integer NOT NULL REFERENCES glue.crawlers ON DELETE CASCADE,
    folder text NOT NULL,
    crawl_id bigint NOT NULL,
    PRIMARY KEY (crawler_id, folder)
);

-- Row-level security: everybody sees crawlers and their crawls (like
-- pg_class); members of the owner change them.
ALTER TABLE glue.crawlers ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.crawlers FOR SELECT USING (true);
CREATE POLICY owned ON glue.crawlers FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT ON glue.crawlers TO PUBLIC;   -- written only through the functions (README "Catalogs")
ALTER TABLE glue.crawls ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.crawls FOR SELECT USING (true);
CREATE POLICY owned ON glue.crawls FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.crawlers c WHERE c.crawler_id OPERATOR(pg_catalog.=) crawls.crawler_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, c.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.crawlers c WHERE c.crawler_id OPERATOR(pg_catalog.=) crawls.crawler_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, c.owner, 'USAGE')));
GRANT SELECT ON glue.crawls TO PUBLIC;   -- written only through the functions (README "Catalogs")
ALTER TABLE glue.crawl_files ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned ON glue.crawl_files FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.crawls w JOIN glue.crawlers c USING (crawler_id)
                    WHERE w.crawl_id OPERATOR(pg_catalog.=) crawl_files.crawl_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, c.owner, 'USAGE')));
GRANT SELECT ON glue.crawl_files TO PUBLIC;   -- written only through the functions (README "Catalogs")
ALTER TABLE glue.crawler_folders ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.crawler_folders FOR SELECT USING (true);
CREATE POLICY owned ON glue.crawler_folders FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.crawlers c WHERE c.crawler_id OPERATOR(pg_catalog.=) crawler_folders.crawler_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, c.owner, 'USAGE')));
GRANT SELECT ON glue.crawler_folders TO PUBLIC;   -- written only through the functions (README "Catalogs")

-- What get_crawler(s) return.
CREATE TYPE glue.crawler_definition AS (name text, database_name text, owner regrole, description text,
        targets jsonb, schedule text, table_prefix text, schema_change_policy jsonb, recrawl_policy text,
        configuration jsonb, state text, last_crawl jsonb, version integer, creation_time timestamptz,
        last_updated timestamptz);

-- C helpers (src/glue/crawl_*.c).  Reading files needs pg_read_server_files.
CREATE FUNCTION glue._list_files(root text, exclusions text[], max_files integer,
        OUT path text, OUT folder text, OUT size bigint, OUT mtime timestamptz, OUT error text)
    RETURNS SETOF record LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_list_files';
CREATE FUNCTION glue._sample_file(path text, sample_bytes integer, sample_rows integer, csv_header text)
    RETURNS jsonb LANGUAGE c VOLATILE STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_sample_file';
REVOKE ALL ON FUNCTION glue._list_files, glue._sample_file FROM PUBLIC;
GRANT EXECUTE ON FUNCTION glue._list_files, glue._sample_file TO pg_read_server_files;
CREATE FUNCTION glue._infer_records(records bytea[], sample_rows integer) RETURNS jsonb
    LANGUAGE c IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_infer_records';
CREATE FUNCTION glue._glob_match(pattern text, path text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_glob_match';
CREATE FUNCTION glue._widen_type(a text, b text) RETURNS text
    LANGUAGE c IMMUTABLE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'kg_glue_widen_type';

-- Column lists merged by name: a's columns in order (types widened with
-- b's), then b's new ones.
CREATE FUNCTION glue._merge_columns(a jsonb, b jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce(jsonb_agg(jsonb_build_object('name', coalesce(x.n, y.n),
                                                 'type', glue._widen_type(x.t, y.t))
                              ORDER BY (x.o IS NULL), x.o, y.o), '[]')
      FROM (SELECT e ->> 'name' n, e ->> 'type' t, o FROM jsonb_array_elements(coalesce(a, '[]')) WITH ORDINALITY AS q(e, o)) x
      FULL JOIN (SELECT e ->> 'name' n, e ->> 'type' t, o FROM jsonb_array_elements(coalesce(b, '[]')) WITH ORDINALITY AS q(e, o)) y
        ON x.n = y.n
$$;
-- The union of column lists, in order.
CREATE FUNCTION glue._union_columns(lists jsonb[]) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    result jsonb := '[]';
    l jsonb;
BEGIN
    FOREACH l IN ARRAY coalesce(lists, '{}') LOOP
        result := glue._merge_columns(result, l);
    END LOOP;
    RETURN result;
END
$$;

-- Helpers -------------------------------------------------------------------

CREATE FUNCTION glue._crawler_name(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF name IS NULL OR length(name) NOT BETWEEN 1 AND 255 OR name ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'InvalidInputException: crawler name must have 1 to 255 characters and no control characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN name;
END
$$;

-- The crawler row, checked to exist and, with must_own, to be owned by (a
-- role of) the caller; with lock, locked FOR UPDATE.
CREATE FUNCTION glue._crawler(name text, must_own boolean, lock boolean DEFAULT false) RETURNS glue.crawlers
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    c glue.crawlers;
BEGIN
    SELECT * INTO c FROM glue.crawlers x WHERE x.crawler_name = name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: crawler "%" does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'List them with glue.list_crawlers().';
    END IF;
    IF must_own AND NOT pg_has_role(kinesis_glue.caller(), c.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to change crawler "%"', c.owner, name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF lock THEN
        -- NO KEY UPDATE: a running crawl holds KEY SHARE on the row (its
        -- crawls row references it), and must not block start or stop
        SELECT * INTO c FROM glue.crawlers x WHERE x.crawler_id = c.crawler_id FOR NO KEY UPDATE;
        IF NOT FOUND THEN                               -- deleted meanwhile
            RETURN glue._crawler(name, must_own, lock);
        END IF;
    END IF;
    RETURN c;
END
$$;

-- READY, RUNNING or STOPPING.
CREATE FUNCTION glue._crawler_state(crawler_id integer) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce((SELECT CASE w.state WHEN 'RUNNING' THEN 'RUNNING' ELSE 'STOPPING' END
                       FROM glue.crawls w
                      WHERE w.crawler_id = $1 AND w.state IN ('RUNNING', 'CANCELLING')), 'READY')
$$;

CREATE FUNCTION glue._invalid(message text, hint text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RAISE EXCEPTION 'InvalidInputException: %', message
        USING ERRCODE = 'invalid_parameter_value', HINT = coalesce(hint, '');
END
$$;

-- The owner's right to read server files (for directory targets).
CREATE FUNCTION glue._check_file_rights(c glue.crawlers) RETURNS void
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF jsonb_array_length(coalesce(c.targets -> 'directory_targets', '[]')) > 0
       AND NOT pg_has_role(c.owner, 'pg_read_server_files', 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: permission denied to read server files'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The crawler''s owner %s lacks the privileges of the pg_read_server_files role.', c.owner),
                  HINT = format('GRANT pg_read_server_files TO %s, or crawl tables and streams only.', c.owner);
    END IF;
END
$$;

-- Check a crawler's settings (the whole row); fold the database name.
CREATE FUNCTION glue._check_crawler(c glue.crawlers) RETURNS glue.crawlers
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d glue.databases := glue._database(c.database_name, false);
    t jsonb;
    k text;
    n integer := 0;
BEGIN
    c.database_name := d.database_name;
    IF c.schedule IS NOT NULL THEN
        PERFORM glue._cron_expression(c.schedule);     -- the strict parser (cron.sql)
    END IF;
    IF NOT pg_has_role(c.owner, d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: crawler owner % may not create tables in database "%"', c.owner, d.database_name
            USING ERRCODE = 'insufficient_privilege', HINT = format('Tables of database "%s" are created by members of role %s.', d.database_name, d.owner);
    END IF;
    IF c.targets IS NULL OR jsonb_typeof(c.targets) <> 'object'
       OR EXISTS (SELECT 1 FROM jsonb_object_keys(c.targets) x WHERE x NOT IN ('directory_targets', 'table_targets', 'kinesis_targets'))
       OR EXISTS (SELECT 1 FROM jsonb_each(c.targets) x WHERE jsonb_typeof(x.value) <> 'array') THEN
        PERFORM glue._invalid('targets must be a JSON object of directory_targets, table_targets and kinesis_targets arrays',
                              'For example {"directory_targets": [{"path": "/data/sales", "exclusions": ["**/tmp/**"]}]}.');
    END IF;
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'directory_targets', '[]')) x LOOP
        n := n + 1;
        IF jsonb_typeof(t) <> 'object' OR jsonb_typeof(t -> 'path') IS DISTINCT FROM 'string'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(t) x WHERE x NOT IN ('path', 'exclusions', 'sample_files'))
           OR jsonb_typeof(coalesce(t -> 'exclusions', '[]')) <> 'array'
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(t -> 'exclusions', '[]')) e
                       WHERE jsonb_typeof(e) <> 'string' OR length(e #>> '{}') NOT BETWEEN 1 AND 1024)
           OR (t ? 'sample_files' AND (jsonb_typeof(t -> 'sample_files') <> 'number'
                                       OR (t ->> 'sample_files')::numeric NOT BETWEEN 1 AND 249)) THEN
            PERFORM glue._invalid('a directory target is {"path": "/absolute/path", "exclusions": ["glob", ...], "sample_files": 1-249}');
        END IF;
        k := t ->> 'path';
        IF k !~ '^/' OR k ~ '(^|/)\.\.?(/|$)' OR k ~ '//' OR length(k) > 1024 THEN
            PERFORM glue._invalid(format('path "%s" must be an absolute path without "." or ".." components', k));
        END IF;
    END LOOP;
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'table_targets', '[]')) x LOOP
        n := n + 1;
        IF jsonb_typeof(t) <> 'object' OR jsonb_typeof(t -> 'schema') IS DISTINCT FROM 'string'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(t) x WHERE x NOT IN ('schema', 'tables', 'exclusions'))
           OR jsonb_typeof(coalesce(t -> 'tables', '[]')) <> 'array'
           OR jsonb_typeof(coalesce(t -> 'exclusions', '[]')) <> 'array'
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(t -> 'tables', '[]') || coalesce(t -> 'exclusions', '[]')) e
                       WHERE jsonb_typeof(e) <> 'string') THEN
            PERFORM glue._invalid('a table target is {"schema": "name or LIKE pattern", "tables": ["LIKE pattern", ...], "exclusions": ["LIKE pattern", ...]}');
        END IF;
    END LOOP;
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'kinesis_targets', '[]')) x LOOP
        n := n + 1;
        IF jsonb_typeof(t) <> 'object' OR jsonb_typeof(t -> 'stream_name') IS DISTINCT FROM 'string'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(t) x WHERE x NOT IN ('stream_name')) THEN
            PERFORM glue._invalid('a kinesis target is {"stream_name": "name"}');
        END IF;
    END LOOP;
    IF n = 0 THEN
        PERFORM glue._invalid('a crawler needs at least one target');
    END IF;
    IF c.table_prefix IS NULL OR c.table_prefix !~ '^[A-Za-z0-9_]{0,128}$' THEN
        PERFORM glue._invalid('table_prefix must be up to 128 letters, digits and underscores');
    END IF;
    c.table_prefix := lower(c.table_prefix);
    PERFORM glue._check_length('description', c.description, 2048);
    IF c.recrawl_behavior = 'CRAWL_NEW_FOLDERS_ONLY' AND (c.update_behavior <> 'LOG' OR c.delete_behavior <> 'LOG') THEN
        PERFORM glue._invalid('CRAWL_NEW_FOLDERS_ONLY needs update_behavior and delete_behavior LOG',
                              'As in Glue, an incremental crawl only adds; set schema_change_policy to {"update_behavior": "LOG", "delete_behavior": "LOG"}.');
    END IF;
    IF jsonb_typeof(c.configuration) IS DISTINCT FROM 'object' THEN
        PERFORM glue._invalid('configuration must be a JSON object');
    END IF;
    SELECT x.key INTO k FROM jsonb_each(c.configuration) x
     WHERE NOT (x.key IN ('sample_bytes', 'sample_rows', 'stream_sample_records', 'table_level', 'max_files')
                AND jsonb_typeof(x.value) = 'number' AND (x.value #>> '{}')::numeric = trunc((x.value #>> '{}')::numeric)
                AND (x.value #>> '{}')::numeric BETWEEN CASE x.key WHEN 'table_level' THEN 0 ELSE 1 END
                                                    AND CASE x.key WHEN 'sample_bytes' THEN 16777216 WHEN 'sample_rows' THEN 100000
                                                              WHEN 'stream_sample_records' THEN 10000 WHEN 'table_level' THEN 16
                                                              ELSE 1000000 END)
       AND NOT (x.key = 'csv_header' AND x.value #>> '{}' IN ('UNKNOWN', 'PRESENT', 'ABSENT'))
       AND NOT (x.key = 'combine_compatible_schemas' AND jsonb_typeof(x.value) = 'boolean')
     LIMIT 1;
    IF k IS NOT NULL THEN
        PERFORM glue._invalid(format('configuration setting "%s" is not recognized or out of range', k),
                              'Settings: sample_bytes (1-16777216), sample_rows (1-100000), stream_sample_records (1-10000), '
                              'table_level (0-16), max_files (1-1000000), csv_header (UNKNOWN, PRESENT, ABSENT), '
                              'combine_compatible_schemas (true or false).');
    END IF;
    RETURN c;
END
$$;

-- The schema change policy from its JSON form into c.
CREATE FUNCTION glue._apply_policy(c glue.crawlers, schema_change_policy jsonb, recrawl_policy text) RETURNS glue.crawlers
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF schema_change_policy IS NOT NULL THEN
        IF jsonb_typeof(schema_change_policy) <> 'object'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(schema_change_policy) k WHERE k NOT IN ('update_behavior', 'delete_behavior'))
           OR coalesce(schema_change_policy ->> 'update_behavior', 'LOG') NOT IN ('UPDATE_IN_DATABASE', 'LOG')
           OR coalesce(schema_change_policy ->> 'delete_behavior', 'LOG') NOT IN ('DELETE_FROM_DATABASE', 'DEPRECATE_IN_DATABASE', 'LOG') THEN
            PERFORM glue._invalid('schema_change_policy is {"update_behavior": "UPDATE_IN_DATABASE" or "LOG", '
                                  '"delete_behavior": "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE" or "LOG"}');
        END IF;
        c.update_behavior := coalesce(schema_change_policy ->> 'update_behavior', c.update_behavior, 'UPDATE_IN_DATABASE');
        c.delete_behavior := coalesce(schema_change_policy ->> 'delete_behavior', c.delete_behavior, 'DEPRECATE_IN_DATABASE');
    END IF;
    IF recrawl_policy IS NOT NULL THEN
        IF recrawl_policy NOT IN ('CRAWL_EVERYTHING', 'CRAWL_NEW_FOLDERS_ONLY') THEN
            PERFORM glue._invalid(format('recrawl policy "%s" is not CRAWL_EVERYTHING or CRAWL_NEW_FOLDERS_ONLY', recrawl_policy));
        END IF;
        c.recrawl_behavior := recrawl_policy;
    END IF;
    RETURN c;
END
$$;

-- Schedules (pg_cron) ----------------------------------------------------------

-- glue._cron_expression (the strict schedule parser) is in cron.sql.

-- Create, change or remove the pg_cron job of crawler c (named "glue
-- crawler: <name>"), as the crawler's owner, who then runs it.
CREATE FUNCTION glue._set_schedule(c glue.crawlers, had_schedule boolean) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF c.schedule IS NULL AND NOT had_schedule THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF c.schedule IS NULL THEN
            RETURN;                                     -- nothing left to remove
        END IF;
        RAISE EXCEPTION 'InvalidInputException: crawler schedules need the pg_cron extension in this database'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, '
                         'run CREATE EXTENSION pg_cron, and grant USAGE ON SCHEMA cron to the crawler''s owner.';
    END IF;
    PERFORM glue._cron_job('glue crawler: ' || c.crawler_name, c.schedule,
                           format('SELECT glue.start_crawler(%L)', c.crawler_name), c.owner, 'crawler');
END
$$;
REVOKE ALL ON FUNCTION glue._set_schedule(glue.crawlers, boolean) FROM PUBLIC;

-- API ----------------------------------------------------------------------

-- The definition of a crawler row, as get_crawler returns it.
CREATE FUNCTION glue._crawler_definition(c glue.crawlers) RETURNS glue.crawler_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT ($1).crawler_name, ($1).database_name, ($1).owner, ($1).description, ($1).targets, ($1).schedule,
           ($1).table_prefix,
           jsonb_build_object('update_behavior', ($1).update_behavior, 'delete_behavior', ($1).delete_behavior),
           ($1).recrawl_behavior, ($1).configuration, glue._crawler_state(($1).crawler_id),
           (SELECT jsonb_build_object('status', w.state, 'error_message', w.error_message,
                                      'start_time', w.start_time, 'end_time', w.end_time)
              FROM glue.crawls w WHERE w.crawler_id = ($1).crawler_id
               AND w.state IN ('SUCCEEDED', 'CANCELLED', 'FAILED')
             ORDER BY w.crawl_id DESC LIMIT 1),
           ($1).version, ($1).creation_time, ($1).last_updated
$$;

-- Create a crawler; the caller owns it.  targets: {"directory_targets":
-- [{"path", "exclusions", "sample_files"}], "table_targets": [{"schema",
-- "tables", "exclusions"}], "kinesis_targets": [{"stream_name"}]}.
CREATE FUNCTION glue.create_crawler(name text, database_name text, targets jsonb, schedule text DEFAULT NULL,
        table_prefix text DEFAULT '', schema_change_policy jsonb DEFAULT NULL,
        recrawl_policy text DEFAULT 'CRAWL_EVERYTHING', configuration jsonb DEFAULT '{}',
        description text DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    c glue.crawlers;
BEGIN
    c.crawler_name := glue._crawler_name(name);
    c.database_name := database_name;
    c.owner := kinesis_glue.caller()::regrole;
    c.targets := targets;
    c.schedule := nullif(btrim(schedule), '');
    c.table_prefix := table_prefix;
    c.description := nullif(description, '');
    c.configuration := configuration;
    c := glue._apply_policy(c, coalesce(schema_change_policy, '{}'), coalesce(recrawl_policy, 'CRAWL_EVERYTHING'));
    c := glue._check_crawler(c);
    PERFORM glue._check_file_rights(c);
    BEGIN
        INSERT INTO glue.crawlers (crawler_name, database_name, owner, description, targets, schedule, table_prefix,
                                   update_behavior, delete_behavior, recrawl_behavior, configuration)
        VALUES (c.crawler_name, c.database_name, c.owner, c.description, c.targets, c.schedule, c.table_prefix,
                c.update_behavior, c.delete_behavior, c.recrawl_behavior, c.configuration)
        RETURNING * INTO c;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'AlreadyExistsException: crawler "%" already exists', c.crawler_name
            USING ERRCODE = 'duplicate_object';
    END;
    PERFORM glue._set_schedule(c, false);
END
$$;

CREATE FUNCTION glue.get_crawler(name text) RETURNS SETOF glue.crawler_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue._crawler($1, false) c CROSS JOIN LATERAL glue._crawler_definition(c) d
$$;

CREATE FUNCTION glue.get_crawlers() RETURNS SETOF glue.crawler_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.* FROM glue.crawlers c CROSS JOIN LATERAL glue._crawler_definition(c) d ORDER BY c.crawler_name COLLATE "C"
$$;

CREATE FUNCTION glue.list_crawlers() RETURNS SETOF text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crawler_name FROM glue.crawlers ORDER BY crawler_name COLLATE "C"
$$;

-- Change a crawler that is not running (members of its owner only).  NULL
-- leaves a setting; schedule '' removes the schedule, description ''
-- clears it; targets, configuration and schema_change_policy keys replace.
CREATE FUNCTION glue.update_crawler(name text, database_name text DEFAULT NULL, targets jsonb DEFAULT NULL,
        schedule text DEFAULT NULL, table_prefix text DEFAULT NULL, schema_change_policy jsonb DEFAULT NULL,
        recrawl_policy text DEFAULT NULL, configuration jsonb DEFAULT NULL, description text DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    c glue.crawlers := glue._crawler(name, true, true);
    had_schedule boolean := c.schedule IS NOT NULL;
    old_schedule text := c.schedule;
BEGIN
    IF glue._crawler_state(c.crawler_id) <> 'READY' THEN
        RAISE EXCEPTION 'CrawlerRunningException: crawler "%" is running', c.crawler_name
            USING ERRCODE = 'object_in_use', HINT = 'Wait for the crawl to end, or stop it with glue.stop_crawler().';
    END IF;
    c.database_name := coalesce(update_crawler.database_name, c.database_name);
    c.targets := coalesce(update_crawler.targets, c.targets);
    c.schedule := CASE WHEN schedule IS NULL THEN c.schedule ELSE nullif(btrim(schedule), '') END;
    c.table_prefix := coalesce(update_crawler.table_prefix, c.table_prefix);
    c.configuration := coalesce(update_crawler.configuration, c.configuration);
    c.description := glue._updated(description, c.description);
    c := glue._apply_policy(c, schema_change_policy, recrawl_policy);
    c := glue._check_crawler(c);
    PERFORM glue._check_file_rights(c);
    UPDATE glue.crawlers x SET database_name = c.database_name, targets = c.targets, schedule = c.schedule,
           table_prefix = c.table_prefix, configuration = c.configuration, description = c.description,
           update_behavior = c.update_behavior, delete_behavior = c.delete_behavior,
           recrawl_behavior = c.recrawl_behavior, version = x.version + 1, last_updated = clock_timestamp()
     WHERE x.crawler_id = c.crawler_id;
    IF c.schedule IS DISTINCT FROM old_schedule THEN
        PERFORM glue._set_schedule(c, had_schedule);
    END IF;
END
$$;

-- Glue's UpdateCrawlerSchedule: '' or NULL removes the schedule.
CREATE FUNCTION glue.update_crawler_schedule(crawler_name text, schedule text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT glue.update_crawler($1, schedule => coalesce($2, ''))
$$;

-- Delete a crawler that is not running, with its schedule and history.
-- The tables it created stay in the catalog.
CREATE FUNCTION glue.delete_crawler(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    c glue.crawlers := glue._crawler(name, true, true);
    had_schedule boolean := c.schedule IS NOT NULL;
BEGIN
    IF glue._crawler_state(c.crawler_id) <> 'READY' THEN
        RAISE EXCEPTION 'CrawlerRunningException: crawler "%" is running', c.crawler_name
            USING ERRCODE = 'object_in_use', HINT = 'Stop it with glue.stop_crawler() and wait until it is READY.';
    END IF;
    c.schedule := NULL;
    PERFORM glue._set_schedule(c, had_schedule);
    DELETE FROM glue.crawlers x WHERE x.crawler_id = c.crawler_id;
END
$$;

-- Start a crawl; the database's kinesis_glue worker runs it in a
-- background worker as the crawler's owner.  Returns the crawl id.
CREATE FUNCTION glue.start_crawler(name text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    c glue.crawlers := glue._crawler(name, true, true);
    id bigint;
BEGIN
    IF glue._crawler_state(c.crawler_id) <> 'READY' THEN
        RAISE EXCEPTION 'CrawlerRunningException: crawler "%" is already running', c.crawler_name
            USING ERRCODE = 'object_in_use', HINT = 'Its progress is in glue.crawler_progress.';
    END IF;
    PERFORM glue._check_crawler(c);
    PERFORM glue._check_file_rights(c);
    INSERT INTO glue.crawls (crawler_id) VALUES (c.crawler_id) RETURNING crawl_id INTO id;
    PERFORM kinesis_glue.wake_worker();
    RETURN id;
END
$$;

-- Ask a running crawl to stop; it ends as CANCELLED at its next step.
CREATE FUNCTION glue.stop_crawler(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    c glue.crawlers := glue._crawler(name, true, true);
    s text := glue._crawler_state(c.crawler_id);
BEGIN
    IF s = 'READY' THEN
        RAISE EXCEPTION 'CrawlerNotRunningException: crawler "%" is not running', c.crawler_name
            USING ERRCODE = 'object_in_use';
    ELSIF s = 'STOPPING' THEN
        RAISE EXCEPTION 'CrawlerStoppingException: crawler "%" is already stopping', c.crawler_name
            USING ERRCODE = 'object_in_use';
    END IF;
    UPDATE glue.crawls w SET state = 'CANCELLING' WHERE w.crawler_id = c.crawler_id AND w.state = 'RUNNING';
END
$$;

-- Crawl history, newest first (Glue's ListCrawls).
CREATE FUNCTION glue.list_crawls(crawler_name text, max_results integer DEFAULT 100)
    RETURNS TABLE (crawl_id bigint, state text, start_time timestamptz, end_time timestamptz,
                   duration_seconds double precision, error_message text, summary jsonb, log jsonb)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT w.crawl_id, w.state, w.start_time, w.end_time,
           extract(epoch FROM coalesce(w.end_time, clock_timestamp()) - w.start_time)::double precision,
           w.error_message,
           jsonb_build_object('tables_created', w.tables_created, 'tables_updated', w.tables_updated,
                              'tables_deleted', w.tables_deleted, 'tables_deprecated', w.tables_deprecated,
                              'partitions_created', w.partitions_created, 'partitions_deleted', w.partitions_deleted,
                              'files_total', w.files_total, 'files_scanned', w.files_scanned,
                              'bad_utf8_lines', w.bad_utf8_lines, 'ragged_rows', w.ragged_rows,
                              'invalid_json_records', w.invalid_json_records, 'unreadable_files', w.unreadable_files,
                              'log_dropped', w.log_dropped),
           w.log
      FROM glue._crawler($1, false) c JOIN glue.crawls w ON w.crawler_id = c.crawler_id
     ORDER BY w.crawl_id DESC
     LIMIT greatest(max_results, 0)
$$;

-- Glue's GetCrawlerMetrics: for each crawler (or those named), the
-- estimated time left of a running crawl, the last and median run times of
-- finished crawls, and the tables the last finished crawl created, updated
-- and deleted.
CREATE FUNCTION glue.get_crawler_metrics(crawler_names text[] DEFAULT NULL)
    RETURNS TABLE (crawler_name text, time_left_seconds double precision, still_estimating boolean,
                   last_runtime_seconds double precision, median_runtime_seconds double precision,
                   tables_created integer, tables_updated integer, tables_deleted integer)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT c.crawler_name,
           CASE WHEN r.files_done > 0 AND r.phase = 'SAMPLING'
                THEN extract(epoch FROM clock_timestamp() - r.start_time) * (r.files_total - r.files_done) / r.files_done
                ELSE 0 END,
           r.crawl_id IS NOT NULL AND (r.phase <> 'SAMPLING' OR r.files_done = 0),
           extract(epoch FROM l.end_time - l.start_time)::double precision,
           (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM w.end_time - w.start_time))
              FROM glue.crawls w WHERE w.crawler_id = c.crawler_id AND w.state = 'SUCCEEDED'),
           coalesce(l.tables_created, 0), coalesce(l.tables_updated, 0), coalesce(l.tables_deleted, 0)
      FROM glue.crawlers c
      LEFT JOIN glue.crawls r ON r.crawler_id = c.crawler_id AND r.state IN ('RUNNING', 'CANCELLING')
      LEFT JOIN LATERAL (SELECT * FROM glue.crawls w WHERE w.crawler_id = c.crawler_id AND w.state = 'SUCCEEDED'
                          ORDER BY w.crawl_id DESC LIMIT 1) l ON true
     WHERE $1 IS NULL OR c.crawler_name = ANY ($1)
     ORDER BY c.crawler_name COLLATE "C"
$$;

-- Progress of running crawls: files sampled of those to sample.
CREATE VIEW glue.crawler_progress WITH (security_invoker = true) AS
SELECT c.crawler_name, w.crawl_id, w.state, w.phase, w.files_done, w.files_total,
       CASE WHEN w.files_total > 0 THEN round(100.0 * w.files_done / w.files_total, 1) END AS percent_done,
       w.start_time, pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) w.start_time AS elapsed
  FROM glue.crawls w JOIN glue.crawlers c ON c.crawler_id OPERATOR(pg_catalog.=) w.crawler_id
 WHERE w.state IN ('RUNNING', 'CANCELLING');
GRANT SELECT ON glue.crawler_progress TO PUBLIC;

