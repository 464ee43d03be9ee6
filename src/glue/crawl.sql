-- Glue crawls (src/glue/crawl.sql): the steps a crawler worker runs as the
-- crawler's owner (src/glue/crawler_worker.c), each in its own
-- transaction, and what they write into the Data Catalog.
--
--   _crawl_prepare(id)  list the files of the directory targets
--   _crawl_sample(id)   sample the next files (glue._sample_file)
--   _crawl_finish(id)   group files into tables and partitions, crawl the
--                       table and kinesis targets, apply the schema change
--                       policy, record the crawled folders
--
-- Grouping (per directory target): starting at the target folder, the
-- files below a folder form one table when they have one classification
-- (and CSV delimiter), sit at one depth, and have similar columns (each
-- column set shares at least half its columns with the most common one;
-- combine_compatible_schemas skips this test); or when the next folders are
-- all Hive-style key=value.  Otherwise the folder is split: each subfolder
-- is tried on its own, and files lying beside those subfolders are
-- skipped.  configuration.table_level fixes the depth of table folders
-- instead (0: the target folder).  The folders below a table's folder are
-- its partitions: key=value names give the key, others partition_0,
-- partition_1, ...; partition keys are strings.  A table's columns are the
-- union of its files' columns, types widened.  Every split and skip is
-- logged with its reason in the crawl's log.
--
-- Every name that reaches the catalog is folded to [a-z0-9_] by the C
-- sampler or here; the catalog functions take values, never SQL text.
--
-- Locking: the catalog functions lock as described in catalog.sql.

-- Append an event to a crawl's log (at most 1000 kept).
CREATE FUNCTION glue._crawl_log(crawl_id bigint, event jsonb) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
    UPDATE glue.crawls w
       SET log = CASE WHEN jsonb_array_length(w.log) < 1000 THEN w.log || jsonb_build_array($2) ELSE w.log END,
           log_dropped = w.log_dropped + CASE WHEN jsonb_array_length(w.log) < 1000 THEN 0 ELSE 1 END
     WHERE w.crawl_id = $1
$$;

-- The crawl and its crawler for a step; NULL (after ending the crawl as
-- CANCELLED) when a stop was requested.
CREATE FUNCTION glue._crawl_step(id bigint, phase text, OUT w glue.crawls, OUT c glue.crawlers)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    SELECT * INTO w FROM glue.crawls x WHERE x.crawl_id = id FOR UPDATE;
    IF NOT FOUND OR w.state NOT IN ('RUNNING', 'CANCELLING') THEN
        w := NULL;
        RETURN;
    END IF;
    SELECT * INTO c FROM glue.crawlers x WHERE x.crawler_id = w.crawler_id;
    IF NOT pg_has_role(kinesis_glue.caller(), c.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to run crawler "%"', c.owner, c.crawler_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- the crawler's rights, checked again at each step (it writes as the extension owner)
    IF NOT pg_has_role(c.owner, (glue._database(c.database_name, false)).owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: crawler owner % may no longer create tables in database "%"', c.owner, c.database_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM glue._check_file_rights(c);
    IF w.state = 'CANCELLING' THEN
        UPDATE glue.crawls x SET state = 'CANCELLED', end_time = clock_timestamp() WHERE x.crawl_id = id;
        DELETE FROM glue.crawl_files f WHERE f.crawl_id = id;
        w := NULL;
        RETURN;
    END IF;
    UPDATE glue.crawls x SET phase = _crawl_step.phase WHERE x.crawl_id = id;
END
$$;

-- A name for the catalog: lower case letters, digits and underscores.
CREATE FUNCTION glue._crawl_name(s text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce(nullif(left(regexp_replace(lower(s), '[^a-z0-9_]', '_', 'g'), 255), ''), 'table')
$$;

-- Step 1: list the files of the directory targets.  Returns how many will
-- be sampled (-1: cancelled).
CREATE FUNCTION glue._crawl_prepare(id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    s record := glue._crawl_step(id, 'LISTING');
    c glue.crawlers;
    t jsonb;
    t2 jsonb;
    i integer := 0;
    total bigint;
BEGIN
    IF s.w IS NULL THEN
        RETURN -1;
    END IF;
    c := s.c;
    PERFORM glue._check_file_rights(c);
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'directory_targets', '[]')) x LOOP
        i := i + 1;
        BEGIN
            WITH l AS MATERIALIZED (
                     SELECT * FROM glue._list_files(t ->> 'path',
                              ARRAY(SELECT jsonb_array_elements_text(coalesce(t -> 'exclusions', '[]'))),
                              coalesce((c.configuration ->> 'max_files')::integer, 1000000))
                          WITH ORDINALITY AS f(path, folder, size, mtime, error, ord)),
                 base AS (SELECT coalesce(max(x.file_no), 0) AS n FROM glue.crawl_files x WHERE x.crawl_id = id),
                 ins AS (INSERT INTO glue.crawl_files (crawl_id, file_no, target_no, path, folder, size, mtime)
                         SELECT id, base.n + l.ord, i, l.path,
                                CASE WHEN l.folder = '' THEN '{}'::text[] ELSE string_to_array(l.folder, '/') END,
                                l.size, l.mtime
                           FROM l, base WHERE l.error IS NULL)
            SELECT jsonb_agg(jsonb_build_object('event', 'unreadable', 'path', l.path, 'reason', l.error))
              INTO t2 FROM l WHERE l.error IS NOT NULL;
            IF t2 IS NOT NULL THEN
                UPDATE glue.crawls x SET unreadable_files = x.unreadable_files + jsonb_array_length(t2) WHERE x.crawl_id = id;
                PERFORM glue._crawl_log(id, e) FROM jsonb_array_elements(t2) e;
            END IF;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE;
        WHEN OTHERS THEN
            PERFORM glue._crawl_log(id, jsonb_build_object('event', 'skipped', 'path', t ->> 'path', 'reason', SQLERRM));
            UPDATE glue.crawls x SET failed_targets = x.failed_targets || (t ->> 'path') WHERE x.crawl_id = id;
        END;
        -- sample_files: only the first n files of each folder are read
        IF t ? 'sample_files' THEN
            UPDATE glue.crawl_files f SET to_sample = false
              FROM (SELECT file_no, row_number() OVER (PARTITION BY folder ORDER BY path) AS k
                      FROM glue.crawl_files x WHERE x.crawl_id = id AND x.target_no = i) q
             WHERE f.crawl_id = id AND f.file_no = q.file_no AND q.k > (t ->> 'sample_files')::integer;
        END IF;
    END LOOP;
    IF c.recrawl_behavior = 'CRAWL_NEW_FOLDERS_ONLY' THEN
        UPDATE glue.crawl_files f SET known = true, to_sample = false
          FROM glue.crawler_folders k
         WHERE f.crawl_id = id AND k.crawler_id = c.crawler_id
           AND k.folder = glue._crawl_folder_path(c, f.target_no, f.folder);
    END IF;
    SELECT count(*) INTO total FROM glue.crawl_files f WHERE f.crawl_id = id AND f.to_sample;
    UPDATE glue.crawls x SET files_total = total, phase = 'SAMPLING' WHERE x.crawl_id = id;
    RETURN total;
END
$$;

-- The absolute path of a folder of a directory target.
CREATE FUNCTION glue._crawl_folder_path(c glue.crawlers, target_no integer, folder text[]) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT rtrim((c).targets -> 'directory_targets' -> (target_no - 1) ->> 'path', '/')
           || CASE WHEN cardinality(folder) = 0 THEN '' ELSE '/' || array_to_string(folder, '/') END
$$;

-- Step 2: sample the next 200 files.  Returns how many (0: all done; -1:
-- cancelled).
CREATE FUNCTION glue._crawl_sample(id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    s record := glue._crawl_step(id, 'SAMPLING');
    c glue.crawlers;
    n bigint;
BEGIN
    IF s.w IS NULL THEN
        RETURN -1;
    END IF;
    c := s.c;
    UPDATE glue.crawl_files f
       SET sampled = true,
           info = glue._sample_file(f.path, coalesce((c.configuration ->> 'sample_bytes')::integer, 1048576),
                                    coalesce((c.configuration ->> 'sample_rows')::integer, 1000),
                                    coalesce(c.configuration ->> 'csv_header', 'UNKNOWN'))
     WHERE f.crawl_id = id
       AND f.file_no IN (SELECT x.file_no FROM glue.crawl_files x
                          WHERE x.crawl_id = id AND x.to_sample AND NOT x.sampled ORDER BY x.file_no LIMIT 200);
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE glue.crawls x SET files_done = x.files_done + n, files_scanned = x.files_scanned + n WHERE x.crawl_id = id;
    RETURN n;
END
$$;

-- The Glue type of a column of a PostgreSQL table (by format_type).
CREATE FUNCTION glue._glue_type_for(pg_type text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    m text[];
BEGIN
    IF pg_type ~ '\[\]$' THEN
        RETURN CASE WHEN glue._glue_type_for(regexp_replace(pg_type, '\[\]$', '')) ~ '^(array|struct)'
                    THEN 'string' ELSE 'array<' || glue._glue_type_for(regexp_replace(pg_type, '\[\]$', '')) || '>' END;
    END IF;
    m := regexp_match(pg_type, '^numeric\((\d+),(\d+)\)$');
    IF m IS NOT NULL AND m[1]::integer <= 38 THEN
        RETURN format('decimal(%s,%s)', m[1], m[2]);
    END IF;
    m := regexp_match(pg_type, '^character varying\((\d+)\)$');
    IF m IS NOT NULL AND m[1]::integer <= 65535 THEN
        RETURN format('varchar(%s)', m[1]);
    END IF;
    m := regexp_match(pg_type, '^character\((\d+)\)$');
    IF m IS NOT NULL AND m[1]::integer <= 255 THEN
        RETURN format('char(%s)', m[1]);
    END IF;
    RETURN CASE pg_type
           WHEN 'smallint' THEN 'smallint' WHEN 'integer' THEN 'int' WHEN 'bigint' THEN 'bigint'
           WHEN 'real' THEN 'float' WHEN 'double precision' THEN 'double' WHEN 'numeric' THEN 'double'
           WHEN 'boolean' THEN 'boolean' WHEN 'date' THEN 'date' WHEN 'bytea' THEN 'binary'
           ELSE CASE WHEN pg_type LIKE 'timestamp%' THEN 'timestamp' ELSE 'string' END END;
END
$$;

-- A table target: every table, view, materialized view and foreign table
-- of the schema (LIKE pattern) whose name matches tables (LIKE patterns;
-- default all) and no exclusion, that the owner may SELECT.
CREATE FUNCTION glue._crawl_table_target(crawl_id bigint, c glue.crawlers, t jsonb)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r record;
    pats text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(nullif(t -> 'tables', '[]'), '["%"]')));
    excl text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(t -> 'exclusions', '[]')));
BEGIN
    FOR r IN SELECT n.nspname, cl.relname, cl.oid,
                    (SELECT jsonb_agg(jsonb_build_object('name', glue._crawl_name(a.attname),
                                                         'type', glue._glue_type_for(format_type(a.atttypid, a.atttypmod)))
                                      ORDER BY a.attnum)
                       FROM pg_attribute a WHERE a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped) AS cols
               FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace
              WHERE cl.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname LIKE t ->> 'schema'
                AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                AND cl.relname LIKE ANY (pats) AND NOT cl.relname LIKE ANY (excl)
                AND has_table_privilege(c.owner, cl.oid, 'SELECT')
              ORDER BY n.nspname, cl.relname LOOP
        IF r.cols IS NULL OR (SELECT count(DISTINCT e ->> 'name') FROM jsonb_array_elements(r.cols) e) <> jsonb_array_length(r.cols) THEN
            PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'path', format('%I.%I', r.nspname, r.relname),
                        'reason', 'it has no columns, or column names that fold to the same name'));
            CONTINUE;
        END IF;
        PERFORM glue._crawl_write_table(crawl_id, c, c.table_prefix || glue._crawl_name(r.nspname || '_' || r.relname), r.cols,
                    '[]', format('postgresql://%s/%s', r.nspname, r.relname), 'postgresql',
                    jsonb_build_object('typeOfData', 'table', 'connectionName', current_database(),
                                       'sourceSchema', r.nspname, 'sourceTable', r.relname,
                                       'recordCount', greatest((SELECT reltuples FROM pg_class WHERE oid = r.oid), 0)::bigint::text),
                    '[]', false);
    END LOOP;
END
$$;

-- A kinesis target: up to stream_sample_records records (from the oldest)
-- of the stream's shards, read when the crawler's owner may, parsed as JSON.
CREATE FUNCTION glue._crawl_stream_target(crawl_id bigint, c glue.crawlers, t jsonb)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    n integer := coalesce((c.configuration ->> 'stream_sample_records')::integer, 1000);
    stream text := t ->> 'stream_name';
    records bytea[];
    info jsonb;
BEGIN
    BEGIN
        -- the crawl runs as the extension owner: the crawler's owner must be able to read the stream
        IF NOT EXISTS (SELECT 1 FROM kinesis.streams s WHERE s.stream_name = stream
                          AND has_table_privilege(c.owner, s.record_table, 'SELECT')) THEN
            RAISE EXCEPTION 'AccessDeniedException: crawler owner % may not read stream "%"', c.owner, stream
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT array_agg(r.data) INTO records
          FROM (SELECT r.data FROM kinesis.list_shards(stream) s
                 CROSS JOIN LATERAL kinesis.read_shard(stream, s.shard_id, NULL, n) r
                 LIMIT n) r;
    EXCEPTION WHEN OTHERS THEN
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'stream', stream, 'reason', SQLERRM));
        UPDATE glue.crawls x SET failed_targets = x.failed_targets || ('kinesis:' || stream) WHERE x.crawl_id = _crawl_stream_target.crawl_id;
        RETURN;
    END;
    info := glue._infer_records(coalesce(records, '{}'), n);
    UPDATE glue.crawls x SET invalid_json_records = x.invalid_json_records + (info ->> 'invalid_json')::bigint,
           bad_utf8_lines = x.bad_utf8_lines + (info ->> 'bad_utf8')::bigint
     WHERE x.crawl_id = _crawl_stream_target.crawl_id;
    IF (info ->> 'invalid_json')::bigint + (info ->> 'bad_utf8')::bigint > 0 THEN
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'malformed', 'stream', stream,
                    'invalid_json', (info ->> 'invalid_json')::bigint, 'bad_utf8', (info ->> 'bad_utf8')::bigint));
    END IF;
    IF info ->> 'classification' = 'unknown' OR jsonb_array_length(info -> 'columns') = 0 THEN
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'stream', stream,
                    'reason', 'no JSON object records to sample'));
        UPDATE glue.crawls x SET failed_targets = x.failed_targets || ('kinesis:' || stream) WHERE x.crawl_id = _crawl_stream_target.crawl_id;
        RETURN;
    END IF;
    PERFORM glue._crawl_write_table(crawl_id, c, c.table_prefix || glue._crawl_name(stream), info -> 'columns', '[]',
                'kinesis://' || stream, 'json', jsonb_build_object('typeOfData', 'kinesis', 'streamName', stream,
                                                 'recordCount', (info ->> 'records')), '[]', false);
END
$$;

-- Step 3: write the catalog.  Returns 0 (-1: cancelled).
CREATE FUNCTION glue._crawl_finish(id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    s record := glue._crawl_step(id, 'CATALOGING');
    c glue.crawlers;
    incremental boolean;
    t jsonb;
    i integer := 0;
    w glue.crawls;
    r record;
BEGIN
    IF s.w IS NULL THEN
        RETURN -1;
    END IF;
    c := s.c;
    incremental := c.recrawl_behavior = 'CRAWL_NEW_FOLDERS_ONLY';
    -- what the samples found wrong
    UPDATE glue.crawls x
       SET bad_utf8_lines = x.bad_utf8_lines + q.bad_utf8, ragged_rows = x.ragged_rows + q.ragged,
           invalid_json_records = x.invalid_json_records + q.invalid_json, unreadable_files = x.unreadable_files + q.errors
      FROM (SELECT coalesce(sum((f.info ->> 'bad_utf8')::bigint), 0) AS bad_utf8,
                   coalesce(sum((f.info ->> 'ragged')::bigint), 0) AS ragged,
                   coalesce(sum((f.info ->> 'invalid_json')::bigint), 0) AS invalid_json,
                   count(*) FILTER (WHERE f.info ? 'error') AS errors
              FROM glue.crawl_files f WHERE f.crawl_id = id AND f.sampled) q
     WHERE x.crawl_id = id;
    PERFORM glue._crawl_log(id, CASE WHEN f.info ? 'error'
                                     THEN jsonb_build_object('event', 'unreadable', 'path', f.path, 'reason', f.info ->> 'error')
                                     ELSE jsonb_build_object('event', 'malformed', 'path', f.path,
                                              'bad_utf8', (f.info ->> 'bad_utf8')::bigint, 'ragged', (f.info ->> 'ragged')::bigint,
                                              'invalid_json', (f.info ->> 'invalid_json')::bigint) END)
       FROM glue.crawl_files f
      WHERE f.crawl_id = id AND f.sampled
        AND (f.info ? 'error' OR (f.info ->> 'bad_utf8')::bigint + (f.info ->> 'ragged')::bigint + (f.info ->> 'invalid_json')::bigint > 0);
    PERFORM glue._crawl_log(id, jsonb_build_object('event', 'skipped', 'path', f.path, 'reason', 'no records could be classified'))
       FROM glue.crawl_files f
      WHERE f.crawl_id = id AND f.sampled AND NOT f.info ? 'error' AND f.info ->> 'classification' = 'unknown';

    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'directory_targets', '[]')) x LOOP
        i := i + 1;
        IF incremental THEN
            PERFORM glue._crawl_new_partitions(id, c, i);
        END IF;
        PERFORM glue._crawl_group(id, c, i, '{}');
    END LOOP;
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'table_targets', '[]')) x LOOP
        PERFORM glue._crawl_table_target(id, c, t);
    END LOOP;
    FOR t IN SELECT x FROM jsonb_array_elements(coalesce(c.targets -> 'kinesis_targets', '[]')) x LOOP
        PERFORM glue._crawl_stream_target(id, c, t);
    END LOOP;

    -- tables this crawler made before whose data is gone
    SELECT * INTO w FROM glue.crawls x WHERE x.crawl_id = id;
    FOR r IN SELECT x.table_name, x.location, x.parameters, x.owner FROM glue.tables x JOIN glue.databases d USING (database_id)
              WHERE d.database_name = c.database_name AND x.parameters ->> 'UPDATED_BY_CRAWLER' = c.crawler_name
                AND NOT w.tables_seen ? x.table_name AND NOT incremental
                AND NOT EXISTS (SELECT 1 FROM unnest(w.failed_targets) ft
                                 WHERE x.location = ft OR x.location LIKE ft || '/%'
                                    OR ft = 'kinesis:' || (x.parameters ->> 'streamName'))
              ORDER BY x.table_name LOOP
        IF NOT pg_has_role(kinesis_glue.caller(), r.owner, 'USAGE') THEN
            CONTINUE;
        ELSIF c.delete_behavior = 'DELETE_FROM_DATABASE' THEN
            PERFORM glue.delete_table(c.database_name, r.table_name);
            PERFORM glue._crawl_count(id, 'tables_deleted', 1);
            PERFORM glue._crawl_log(id, jsonb_build_object('event', 'deleted', 'table', r.table_name, 'reason', 'its data is gone'));
        ELSIF c.delete_behavior = 'DEPRECATE_IN_DATABASE' THEN
            IF NOT r.parameters ? 'DEPRECATED_BY_CRAWLER' THEN
                PERFORM glue.update_table(c.database_name, r.table_name,
                            parameters => r.parameters || jsonb_build_object('DEPRECATED_BY_CRAWLER', id::text));
                PERFORM glue._crawl_count(id, 'tables_deprecated', 1);
                PERFORM glue._crawl_log(id, jsonb_build_object('event', 'deprecated', 'table', r.table_name, 'reason', 'its data is gone'));
            END IF;
        ELSE
            PERFORM glue._crawl_log(id, jsonb_build_object('event', 'vanished', 'table', r.table_name,
                        'reason', 'its data is gone; kept (delete behavior LOG)'));
        END IF;
    END LOOP;

    INSERT INTO glue.crawler_folders (crawler_id, folder, crawl_id)
    SELECT DISTINCT c.crawler_id, glue._crawl_folder_path(c, f.target_no, f.folder), id
      FROM glue.crawl_files f WHERE f.crawl_id = id AND NOT f.known
    ON CONFLICT DO NOTHING;
    DELETE FROM glue.crawl_files f WHERE f.crawl_id = id;
    UPDATE glue.crawls x SET state = 'SUCCEEDED', phase = 'DONE', end_time = clock_timestamp() WHERE x.crawl_id = id;
    RETURN 0;
END
$$;
