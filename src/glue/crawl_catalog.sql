-- Glue crawls, part 2 (src/glue/crawl_catalog.sql): the last step of a
-- crawl, which turns the sampled files, tables and stream records into
-- Data Catalog tables and partitions under the crawler's schema change
-- policy.  See crawl.sql for the grouping rules.
--
-- SchemaChangePolicy: a new table is always created.  An existing table
-- whose columns, partition keys, location or classification changed is
-- updated (a new table version) under UPDATE_IN_DATABASE and only logged
-- under LOG (its partitions are still added when the partition keys
-- match).  Tables this crawler wrote before (parameter UPDATED_BY_CRAWLER)
-- whose data is gone, and partitions whose folder is gone, are deleted
-- (DELETE_FROM_DATABASE), marked with parameter DEPRECATED_BY_CRAWLER
-- (DEPRECATE_IN_DATABASE), or logged (LOG).  Tables under a target that
-- could not be listed are left alone.  CRAWL_NEW_FOLDERS_ONLY samples only
-- folders not crawled before, adds them as partitions of the tables they
-- fall under or as new tables, and deletes nothing.
--
-- Locking: as catalog.sql's functions; all catalog writes of a crawl
-- commit together.

-- Add n to a counter of a crawl.
CREATE FUNCTION glue._crawl_count(crawl_id bigint, counter text, n bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF counter NOT IN ('tables_created', 'tables_updated', 'tables_deleted', 'tables_deprecated',
                       'partitions_created', 'partitions_deleted') THEN
        RAISE EXCEPTION 'unrecognized crawl counter "%"', counter;
    END IF;
    EXECUTE format('UPDATE glue.crawls x SET %I = x.%I + $2 WHERE x.crawl_id = $1', counter, counter)
        USING crawl_id, n;
END
$$;

-- Create partitions (a JSON array of {"values", "location"}) of a table,
-- 100 per call; returns how many were created; failures are logged.
CREATE FUNCTION glue._crawl_add_partitions(crawl_id bigint, database_name text, table_name text, parts jsonb)
    RETURNS integer LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    batch jsonb;
    created integer := 0;
    e record;
BEGIN
    FOR batch IN SELECT jsonb_agg(p ORDER BY o) FROM jsonb_array_elements(parts) WITH ORDINALITY AS x(p, o)
                  GROUP BY (o - 1) / 100 ORDER BY (o - 1) / 100 LOOP
        created := created + jsonb_array_length(batch);
        FOR e IN SELECT * FROM glue.batch_create_partition(database_name, table_name, batch) LOOP
            created := created - 1;
            PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'table', table_name,
                        'partition', to_jsonb(e.partition_values), 'reason', e.error_code || ': ' || e.error_message));
        END LOOP;
    END LOOP;
    PERFORM glue._crawl_count(crawl_id, 'partitions_created', created);
    RETURN created;
END
$$;

-- Write one table the crawl found, under the crawler's policy.
CREATE FUNCTION glue._crawl_write_table(crawl_id bigint, c glue.crawlers, table_name text, columns jsonb,
        keys jsonb, location text, classification text, params jsonb, parts jsonb, incremental boolean)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables;
    changes text[] := '{}';
    keys_match boolean;
    gone jsonb;
BEGIN
    UPDATE glue.crawls x SET tables_seen = x.tables_seen || jsonb_build_object(table_name, location)
     WHERE x.crawl_id = _crawl_write_table.crawl_id;
    params := params || jsonb_build_object('UPDATED_BY_CRAWLER', c.crawler_name);
    SELECT x.* INTO t FROM glue.tables x JOIN glue.databases d USING (database_id)
     WHERE d.database_name = c.database_name AND x.table_name = _crawl_write_table.table_name;
    IF NOT FOUND THEN
        PERFORM glue.create_table(c.database_name, table_name, columns, keys, location, classification,
                                  parameters => params);
        PERFORM glue._crawl_count(crawl_id, 'tables_created', 1);
        PERFORM glue._crawl_add_partitions(crawl_id, c.database_name, table_name, parts);
        RETURN;
    END IF;
    IF NOT pg_has_role(current_user, t.owner, 'USAGE') THEN
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'table', table_name,
                    'reason', format('the table belongs to role %s', t.owner)));
        RETURN;
    END IF;
    IF t.columns <> columns THEN
        changes := array_append(changes, 'columns');
    END IF;
    IF t.partition_keys <> keys THEN
        changes := array_append(changes, 'partition keys');
    END IF;
    IF t.location IS DISTINCT FROM location THEN
        changes := array_append(changes, 'location');
    END IF;
    IF t.parameters ->> 'classification' IS DISTINCT FROM classification THEN
        changes := array_append(changes, 'classification');
    END IF;
    IF t.parameters ? 'DEPRECATED_BY_CRAWLER' THEN
        changes := array_append(changes, 'no longer deprecated');
    END IF;
    keys_match := t.partition_keys = keys;
    IF cardinality(changes) > 0 AND c.update_behavior = 'UPDATE_IN_DATABASE' AND NOT incremental THEN
        IF NOT keys_match THEN
            -- the partitions were made for other keys
            PERFORM glue._crawl_count(crawl_id, 'partitions_deleted', count(*))
               FROM glue.partitions p WHERE p.table_id = t.table_id;
            DELETE FROM glue.partitions p WHERE p.table_id = t.table_id;
            keys_match := true;
        END IF;
        PERFORM glue.update_table(c.database_name, table_name, columns => columns, partition_keys => keys,
                                  location => coalesce(location, ''), classification => coalesce(classification, ''),
                                  parameters => params);
        PERFORM glue._crawl_count(crawl_id, 'tables_updated', 1);
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'updated', 'table', table_name,
                    'reason', 'changed: ' || array_to_string(changes, ', ')));
    ELSIF cardinality(changes) > 0 THEN
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'not_updated', 'table', table_name,
                    'reason', format('changed: %s; not applied (update behavior LOG)', array_to_string(changes, ', ')),
                    'columns', columns));
    END IF;
    IF NOT keys_match THEN
        IF jsonb_array_length(parts) > 0 THEN
            PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'table', table_name,
                        'reason', 'Folder partition keys do not match table partition keys',
                        'partitions', jsonb_array_length(parts)));
        END IF;
        RETURN;
    END IF;
    -- new partitions
    PERFORM glue._crawl_add_partitions(crawl_id, c.database_name, table_name,
                coalesce((SELECT jsonb_agg(p) FROM jsonb_array_elements(parts) p
                           WHERE NOT EXISTS (SELECT 1 FROM glue.partitions x WHERE x.table_id = t.table_id
                                               AND x.partition_values = ARRAY(SELECT jsonb_array_elements_text(p -> 'values'))
                                            )), '[]'));
    IF incremental THEN
        RETURN;
    END IF;
    -- partitions whose folder is gone
    SELECT jsonb_agg(jsonb_build_object('values', to_jsonb(x.partition_values), 'parameters', x.parameters))
      INTO gone
      FROM glue.partitions x
     WHERE x.table_id = t.table_id
       AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(parts) p
                        WHERE x.partition_values = ARRAY(SELECT jsonb_array_elements_text(p -> 'values')));
    IF gone IS NULL THEN
        RETURN;
    END IF;
    IF c.delete_behavior = 'DELETE_FROM_DATABASE' THEN
        DELETE FROM glue.partitions x WHERE x.table_id = t.table_id
           AND to_jsonb(x.partition_values) IN (SELECT g -> 'values' FROM jsonb_array_elements(gone) g);
        PERFORM glue._crawl_count(crawl_id, 'partitions_deleted', jsonb_array_length(gone));
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'deleted', 'table', table_name,
                    'partitions', (SELECT jsonb_agg(g -> 'values') FROM jsonb_array_elements(gone) g),
                    'reason', 'their folders are gone'));
    ELSIF c.delete_behavior = 'DEPRECATE_IN_DATABASE' THEN
        UPDATE glue.partitions x
           SET parameters = x.parameters || jsonb_build_object('DEPRECATED_BY_CRAWLER', crawl_id::text),
               last_update_time = clock_timestamp()
         WHERE x.table_id = t.table_id AND NOT x.parameters ? 'DEPRECATED_BY_CRAWLER'
           AND to_jsonb(x.partition_values) IN (SELECT g -> 'values' FROM jsonb_array_elements(gone) g);
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'deprecated', 'table', table_name,
                    'partitions', (SELECT jsonb_agg(g -> 'values') FROM jsonb_array_elements(gone) g),
                    'reason', 'their folders are gone'));
    ELSE
        PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'vanished', 'table', table_name,
                    'partitions', (SELECT jsonb_agg(g -> 'values') FROM jsonb_array_elements(gone) g),
                    'reason', 'their folders are gone; kept (delete behavior LOG)'));
    END IF;
END
$$;

-- The files of a directory target below folder prefix that take part in
-- grouping.
CREATE FUNCTION glue._crawl_group_files(crawl_id bigint, target_no integer, prefix text[])
    RETURNS SETOF glue.crawl_files LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT f.* FROM glue.crawl_files f
     WHERE f.crawl_id = $1 AND f.target_no = $2 AND NOT f.known AND f.sampled
       AND f.info ->> 'classification' <> 'unknown' AND NOT f.info ? 'error'
       AND f.folder[1:cardinality($3)] = $3
$$;

-- Make one table of the files below folder prefix of a directory target.
CREATE FUNCTION glue._crawl_make_table(crawl_id bigint, c glue.crawlers, target_no integer, prefix text[])
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_variable
DECLARE
    level integer := cardinality(prefix);
    root text := glue._crawl_folder_path(c, target_no, prefix);
    name text := c.table_prefix || glue._crawl_name(regexp_replace(root, '^.*/', ''));
    depth integer;
    keys jsonb := '[]';
    k text;
    columns jsonb;
    fmt record;
    params jsonb;
    parts jsonb;
BEGIN
    IF (SELECT w.tables_seen ? name FROM glue.crawls w WHERE w.crawl_id = _crawl_make_table.crawl_id) THEN
        name := left(name, 246) || '_' || left(md5(root), 8);
    END IF;
    -- the most common depth; files at other depths are skipped
    SELECT cardinality(f.folder) - level INTO depth FROM glue._crawl_group_files(crawl_id, target_no, prefix) f
     GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1;
    PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'path', f.path,
                'reason', format('the folder depth differs from the partitions of table "%s"', name)))
       FROM glue._crawl_group_files(crawl_id, target_no, prefix) f WHERE cardinality(f.folder) - level <> depth;
    FOR i IN 1 .. depth LOOP
        SELECT CASE WHEN bool_and(f.folder[level + i] ~ '^[^=]+=') AND count(DISTINCT split_part(f.folder[level + i], '=', 1)) = 1
                    THEN glue._crawl_name(min(split_part(f.folder[level + i], '=', 1))) END
          INTO k FROM glue._crawl_group_files(crawl_id, target_no, prefix) f WHERE cardinality(f.folder) - level = depth;
        IF k IS NULL OR keys @> jsonb_build_array(jsonb_build_object('name', k, 'type', 'string')) THEN
            k := 'partition_' || (i - 1);
        END IF;
        keys := keys || jsonb_build_array(jsonb_build_object('name', k, 'type', 'string'));
    END LOOP;
    -- the union of the distinct column lists, in the order first seen
    SELECT glue._union_columns(array_agg(q.cols ORDER BY q.first)) INTO columns
      FROM (SELECT f.info -> 'columns' AS cols, min(f.file_no) AS first
              FROM glue._crawl_group_files(crawl_id, target_no, prefix) f
             WHERE cardinality(f.folder) - level = depth GROUP BY 1) q;
    SELECT coalesce(jsonb_agg(col ORDER BY o), '[]') INTO columns
      FROM jsonb_array_elements(columns) WITH ORDINALITY AS x(col, o)
     WHERE NOT keys @> jsonb_build_array(jsonb_build_object('name', col ->> 'name', 'type', 'string'));
    SELECT f.info ->> 'classification' AS classification, f.info ->> 'delimiter' AS delimiter,
           mode() WITHIN GROUP (ORDER BY f.info ->> 'header') AS header,
           CASE WHEN bool_and(f.info ->> 'compression' = 'gzip') THEN 'gzip'
                WHEN bool_and(f.info ->> 'compression' = 'none') THEN 'none' ELSE 'mixed' END AS compression,
           sum((f.info ->> 'records')::bigint) AS records, count(*) AS objects, sum(f.size) AS size
      INTO fmt FROM glue._crawl_group_files(crawl_id, target_no, prefix) f WHERE cardinality(f.folder) - level = depth
     GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1;
    params := jsonb_strip_nulls(jsonb_build_object(
                  'compressionType', fmt.compression, 'typeOfData', 'file',
                  'delimiter', fmt.delimiter,
                  'skip.header.line.count', CASE WHEN fmt.header = 'true' THEN '1' END,
                  'recordCount', fmt.records::text, 'objectCount', fmt.objects::text, 'sizeKey', fmt.size::text,
                  'exclusions', (c.targets -> 'directory_targets' -> (target_no - 1) -> 'exclusions')::text));
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'values', (SELECT jsonb_agg(CASE WHEN position('=' IN v) > 0 THEN substr(v, position('=' IN v) + 1) ELSE v END ORDER BY o)
                            FROM unnest(q.part) WITH ORDINALITY AS u(v, o)),
               'location', glue._crawl_folder_path(c, target_no, prefix || q.part)) ORDER BY q.part), '[]')
      INTO parts
      FROM (SELECT DISTINCT f.folder[level + 1 : level + depth] AS part
              FROM glue._crawl_group_files(crawl_id, target_no, prefix) f
             WHERE cardinality(f.folder) - level = depth AND depth > 0) q;
    PERFORM glue._crawl_write_table(crawl_id, c, name, columns, keys, root, fmt.classification, params, parts, false);
END
$$;

-- Decide whether the files below folder prefix form one table, or split.
CREATE FUNCTION glue._crawl_group(crawl_id bigint, c glue.crawlers, target_no integer, prefix text[])
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_variable
DECLARE
    level integer := cardinality(prefix);
    table_level integer := (c.configuration ->> 'table_level')::integer;
    st record;
    reason text;
    sub text;
BEGIN
    SELECT count(*) AS files,
           count(DISTINCT (f.info ->> 'classification') || coalesce(f.info ->> 'delimiter', '')) AS formats,
           count(DISTINCT cardinality(f.folder)) AS depths,
           count(*) FILTER (WHERE cardinality(f.folder) = level) AS here,
           coalesce(bool_and(f.folder[level + 1] ~ '^[^=]+=') FILTER (WHERE cardinality(f.folder) > level), false) AS hive
      INTO st FROM glue._crawl_group_files(crawl_id, target_no, prefix) f;
    IF st.files = 0 THEN
        RETURN;
    END IF;
    IF table_level IS NOT NULL THEN
        IF level >= table_level THEN
            PERFORM glue._crawl_make_table(crawl_id, c, target_no, prefix);
            RETURN;
        END IF;
        reason := format('above the table level %s', table_level);
    ELSIF st.formats > 1 THEN
        reason := 'the files have different formats';
    ELSIF st.depths > 1 AND NOT (st.hive AND st.here = 0) THEN
        reason := 'the files lie at different folder depths';
    ELSIF NOT coalesce((c.configuration ->> 'combine_compatible_schemas')::boolean, false)
          AND NOT glue._crawl_similar(crawl_id, target_no, prefix) AND NOT (st.hive AND st.here = 0) THEN
        reason := 'the files have dissimilar columns';
    ELSE
        PERFORM glue._crawl_make_table(crawl_id, c, target_no, prefix);
        RETURN;
    END IF;
    PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'split', 'path', glue._crawl_folder_path(c, target_no, prefix),
                'reason', reason));
    PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'path', f.path,
                'reason', 'the file lies beside folders that became separate tables'))
       FROM glue._crawl_group_files(crawl_id, target_no, prefix) f WHERE cardinality(f.folder) = level;
    FOR sub IN SELECT DISTINCT f.folder[level + 1] FROM glue._crawl_group_files(crawl_id, target_no, prefix) f
                WHERE cardinality(f.folder) > level ORDER BY 1 LOOP
        PERFORM glue._crawl_group(crawl_id, c, target_no, prefix || sub);
    END LOOP;
END
$$;

-- Are the column sets of the files below prefix similar: does each share
-- at least half its columns with the most common one?
CREATE FUNCTION glue._crawl_similar(crawl_id bigint, target_no integer, prefix text[]) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    WITH sets AS (SELECT ARRAY(SELECT e ->> 'name' FROM jsonb_array_elements(f.info -> 'columns') e ORDER BY 1) AS names,
                         count(*) AS n
                    FROM glue._crawl_group_files($1, $2, $3) f GROUP BY 1),
         common AS (SELECT names FROM sets ORDER BY n DESC, names LIMIT 1)
    SELECT coalesce(bool_and(2 * (SELECT count(*) FROM unnest(s.names) x WHERE x = ANY (common.names))
                             >= cardinality(s.names)), true)
      FROM sets s, common
$$;

-- CRAWL_NEW_FOLDERS_ONLY: new files below the location of a table this
-- crawler made become its partitions (when their depth and key names
-- match); they are then taken out of grouping.
CREATE FUNCTION glue._crawl_new_partitions(crawl_id bigint, c glue.crawlers, target_no integer)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_variable
DECLARE
    t record;
    base text[];
    nkeys integer;
    parts jsonb;
    bad integer;
BEGIN
    FOR t IN SELECT x.* FROM glue.tables x JOIN glue.databases d USING (database_id)
              WHERE d.database_name = c.database_name AND x.parameters ->> 'UPDATED_BY_CRAWLER' = c.crawler_name
                AND x.location IS NOT NULL
                AND (x.location || '/') LIKE replace(replace(replace(glue._crawl_folder_path(c, target_no, '{}'), '\', '\\'), '%', '\%'), '_', '\_') || '/%'
              ORDER BY length(x.location) DESC LOOP
        base := CASE WHEN t.location = glue._crawl_folder_path(c, target_no, '{}') THEN '{}'::text[]
                     ELSE string_to_array(substr(t.location, length(glue._crawl_folder_path(c, target_no, '{}')) + 2), '/') END;
        nkeys := jsonb_array_length(t.partition_keys);
        IF NOT EXISTS (SELECT 1 FROM glue._crawl_group_files(crawl_id, target_no, base)) THEN
            CONTINUE;
        END IF;
        UPDATE glue.crawls x SET tables_seen = x.tables_seen || jsonb_build_object(t.table_name, t.location)
         WHERE x.crawl_id = _crawl_new_partitions.crawl_id;
        SELECT count(*) INTO bad FROM glue._crawl_group_files(crawl_id, target_no, base) f
         WHERE cardinality(f.folder) - cardinality(base) <> nkeys
            OR EXISTS (SELECT 1 FROM jsonb_array_elements(t.partition_keys) WITH ORDINALITY AS k(key, o)
                        WHERE k.key ->> 'name' !~ '^partition_[0-9]+$'
                          AND split_part(f.folder[cardinality(base) + k.o::integer], '=', 1) <> k.key ->> 'name');
        IF bad > 0 THEN
            PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'skipped', 'table', t.table_name, 'files', bad,
                        'reason', 'Folder partition keys do not match table partition keys'));
        END IF;
        IF EXISTS (SELECT 1 FROM glue._crawl_group_files(crawl_id, target_no, base) f,
                          jsonb_array_elements(f.info -> 'columns') col
                    WHERE NOT t.columns @> jsonb_build_array(jsonb_build_object('name', col ->> 'name'))) THEN
            PERFORM glue._crawl_log(crawl_id, jsonb_build_object('event', 'not_updated', 'table', t.table_name,
                        'reason', 'new folders have new columns; not applied (CRAWL_NEW_FOLDERS_ONLY keeps the schema)'));
        END IF;
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'values', (SELECT jsonb_agg(CASE WHEN position('=' IN v) > 0 THEN substr(v, position('=' IN v) + 1) ELSE v END ORDER BY o)
                                FROM unnest(q.part) WITH ORDINALITY AS u(v, o)),
                   'location', glue._crawl_folder_path(c, target_no, base || q.part)) ORDER BY q.part), '[]')
          INTO parts
          FROM (SELECT DISTINCT f.folder[cardinality(base) + 1 : cardinality(base) + nkeys] AS part
                  FROM glue._crawl_group_files(crawl_id, target_no, base) f
                 WHERE cardinality(f.folder) - cardinality(base) = nkeys AND nkeys > 0) q;
        PERFORM glue._crawl_write_table(crawl_id, c, t.table_name, t.columns, t.partition_keys, t.location,
                                        t.parameters ->> 'classification', t.parameters, parts, true);
        UPDATE glue.crawl_files f SET known = true
         WHERE f.crawl_id = _crawl_new_partitions.crawl_id AND f.target_no = _crawl_new_partitions.target_no
           AND f.folder[1:cardinality(base)] = base;
    END LOOP;
END
$$;
