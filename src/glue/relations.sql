-- Queryable catalog tables (src/glue/relations.sql): for a catalog table
-- whose data can be read, a view glue_tables.<database>_<table> with the
-- table's columns and partition keys, in the PostgreSQL types of their Glue
-- types (glue.pg_type_for), kept in step by create_table, update_table,
-- delete_table and delete_database.  What the view reads depends on the
-- location:
--
--   /absolute/path       with classification csv or json: the files under
--                        it, through glue.read_files (file_reader.c);
--                        partition keys come from the folders.  CSV options
--                        from the table parameters: skip.header.line.count
--                        (0 or 1), delimiter (one character).
--   kinesis://<stream>   classification json: the JSON records of a data
--                        stream, read where they are (kinesis_records).
--   postgresql://<schema>/<table>
--                        a table of this database, read where it is.
--
-- Any other table has no relation.  Names longer than 63 bytes are cut and
-- get a hash suffix.
--
-- Rights: only the extension creates relations in glue_tables (PUBLIC has
-- USAGE, not CREATE).  The catalog functions run as the extension owner
-- (README "Catalogs"); they create the view and give it to the catalog
-- table's owner, so the view reads tables and streams with that role's
-- privileges, the owner GRANTs SELECT on it, and glue.read_files checks
-- that the querying role holds pg_read_server_files.  The views the
-- extension made are registered in glue.table_relations (by oid); a
-- relation of the same name that is not registered for that catalog table
-- is never reused, replaced or dropped: the table is not queryable, with a
-- warning.  Nothing about the relation ever fails a catalog change: what
-- cannot be done is a warning.  A view is replaced in place when its
-- columns allow, so grants on it and views over it stay.
-- The view is built only from the catalog row: every name is quoted and
-- every value a literal.
--
-- Locking: the callers hold the catalog table's row lock; DROP/CREATE VIEW
-- take the view's AccessExclusiveLock, so a running query on the view
-- delays a catalog change until it ends.

CREATE SCHEMA glue_tables;
GRANT USAGE ON SCHEMA glue_tables TO PUBLIC;

-- The view the extension made for a catalog table.
CREATE TABLE glue.table_relations (
    table_id integer PRIMARY KEY REFERENCES glue.tables ON DELETE CASCADE,
    relation regclass NOT NULL     -- regclass: a dump restores it by name (src/common/dump.sql)
);
GRANT SELECT ON glue.table_relations TO PUBLIC;

CREATE FUNCTION glue.read_files(location text, file_format text, columns text[], partition_keys text[],
        header boolean DEFAULT false, delimiter text DEFAULT ',')
    RETURNS SETOF record LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'kg_glue_read_files';
COMMENT ON FUNCTION glue.read_files IS
    'rows of the csv or json-lines files under location (gzip too), with partition values from the folders';

-- The name of a catalog table's relation in glue_tables.
CREATE FUNCTION glue._relation_name(database_name text, table_name text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT CASE WHEN octet_length(database_name || '_' || table_name) <= 63
                THEN database_name || '_' || table_name
                ELSE left(database_name || '_' || table_name, 54) || '_' || left(md5(database_name || '_' || table_name), 8)
           END
$$;

-- Is relation oid the view the extension made for catalog table id?
CREATE FUNCTION glue._is_our_view(oid regclass, table_id integer) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT EXISTS (SELECT 1 FROM glue.table_relations r WHERE r.table_id = $2 AND r.relation = $1::oid)
$$;

-- Drop the view named rel if it is the view the extension made for catalog
-- table id; a relation of that name that is something else is left alone.
CREATE FUNCTION glue._drop_view(rel text, table_id integer) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    oid regclass := to_regclass(format('glue_tables.%I', rel));
BEGIN
    IF oid IS NULL THEN
        RETURN;
    END IF;
    IF NOT glue._is_our_view(oid, table_id) THEN
        RETURN;                                         -- not ours: never dropped
    END IF;
    EXECUTE format('DROP VIEW glue_tables.%I', rel);
    DELETE FROM glue.table_relations r WHERE r.table_id = _drop_view.table_id;
END
$$;

-- No relation for catalog table id: drop its view rel if there is one;
-- a view that cannot be dropped (other views depend on it, another owner)
-- is left, with a warning.  Returns NULL.
CREATE FUNCTION glue._no_relation(rel text, table_id integer) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM glue._drop_view(rel, table_id);
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'the view glue_tables.% is left: %', quote_ident(rel), SQLERRM
        USING HINT = 'Drop it, or the objects that depend on it, by hand.';
    RETURN NULL;
END
$$;

-- (Re)create the relation of catalog table id (dropping the old one
-- first); returns its name, or NULL when the table has none.  A view that
-- cannot be created (its source is gone, or a column is missing) is a
-- warning, not an error: the catalog change stands.
CREATE FUNCTION glue._sync_relation(table_id integer) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables;
    db text;
    rel text;
    kind text;
    defs text;
    names text[];
    keys text[];
    src text;
    target text;
    parts text[];
    existing regclass;
BEGIN
    SELECT * INTO t FROM glue.tables x WHERE x.table_id = _sync_relation.table_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT d.database_name INTO db FROM glue.databases d WHERE d.database_id = t.database_id;
    rel := glue._relation_name(db, t.table_name);
    existing := to_regclass(format('glue_tables.%I', rel));
    IF existing IS NOT NULL AND NOT glue._is_our_view(existing, t.table_id) THEN
        RAISE WARNING 'catalog table "%"."%" has no relation: glue_tables.% belongs to something else',
                db, t.table_name, quote_ident(rel)
            USING HINT = 'Two catalog tables whose names join to the same relation name cannot both be queryable; rename one.';
        RETURN NULL;
    END IF;

    kind := t.parameters ->> 'classification';
    SELECT string_agg(format('%I %s', c ->> 'name', glue.pg_type_for(c ->> 'type')), ', ' ORDER BY o),
           array_agg(c ->> 'name' ORDER BY o) FILTER (WHERE NOT k),
           array_agg(c ->> 'name' ORDER BY o) FILTER (WHERE k)
      INTO defs, names, keys
      FROM (SELECT c, o, false AS k FROM jsonb_array_elements(t.columns) WITH ORDINALITY AS a(c, o)
            UNION ALL
            SELECT c, o + 100000, true FROM jsonb_array_elements(t.partition_keys) WITH ORDINALITY AS b(c, o)) x;
    IF defs IS NULL OR t.location IS NULL THEN
        RETURN glue._no_relation(rel, t.table_id);
    END IF;

    IF t.location ~ '^/' AND kind IN ('csv', 'json') THEN
        IF coalesce(t.parameters ->> 'skip.header.line.count', '0') NOT IN ('0', '1') OR
           length(coalesce(t.parameters ->> 'delimiter', ',')) <> 1 THEN
            RAISE EXCEPTION 'InvalidInputException: skip.header.line.count must be 0 or 1, and delimiter one character'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        src := format('SELECT * FROM glue.read_files(%L, %L, %L::text[], %L::text[], %L::boolean, %L) AS f(%s)',
                      t.location, kind, coalesce(names, '{}'), coalesce(keys, '{}'),
                      coalesce(t.parameters ->> 'skip.header.line.count', '0') = '1',
                      coalesce(t.parameters ->> 'delimiter', ','), defs);
    ELSIF t.location ~ '^kinesis://' AND kind = 'json' AND keys IS NULL THEN
        SELECT s.record_table::text INTO target FROM kinesis.streams s WHERE s.stream_name = substr(t.location, 11);
        IF target IS NULL THEN
            RETURN glue._no_relation(rel, t.table_id);
        END IF;
        src := format('SELECT x.* FROM %s r, '
                      'LATERAL jsonb_to_record(firehose._json_or_null(r.data)) AS x(%s) '
                      'WHERE jsonb_typeof(firehose._json_or_null(r.data)) = %L', target, defs, 'object');
    ELSIF t.location ~ '^postgresql://[^/]+/[^/]+$' AND keys IS NULL THEN
        parts := string_to_array(substr(t.location, 14), '/');
        IF to_regclass(format('%I.%I', parts[1], parts[2])) IS NULL THEN
            RETURN glue._no_relation(rel, t.table_id);
        END IF;
        -- each catalog column from the source column of that name, or whose
        -- name folds to it (crawlers fold names to [a-z0-9_]), else NULL
        src := format('SELECT %s FROM %I.%I',
                      (SELECT string_agg(format('%s::%s AS %I',
                                                coalesce(quote_ident(src_col.attname), 'NULL'),
                                                glue.pg_type_for(c ->> 'type'), c ->> 'name'), ', ' ORDER BY o)
                         FROM jsonb_array_elements(t.columns) WITH ORDINALITY AS a(c, o)
                         LEFT JOIN LATERAL (
                              SELECT at.attname FROM pg_attribute at
                               WHERE at.attrelid = to_regclass(format('%I.%I', parts[1], parts[2]))
                                 AND at.attnum > 0 AND NOT at.attisdropped
                                 AND (at.attname = c ->> 'name'
                                      OR regexp_replace(lower(at.attname), '[^a-z0-9_]', '_', 'g') = c ->> 'name')
                               ORDER BY at.attname = c ->> 'name' DESC, at.attnum LIMIT 1) src_col ON true),
                      parts[1], parts[2]);
    ELSE
        RETURN glue._no_relation(rel, t.table_id);
    END IF;
    BEGIN
        IF existing IS NULL THEN
            EXECUTE format('CREATE VIEW glue_tables.%I AS %s', rel, src);
        ELSE
            -- replaced in place when the columns allow it: grants and dependent views stay
            BEGIN
                EXECUTE format('CREATE OR REPLACE VIEW glue_tables.%I AS %s', rel, src);
            EXCEPTION WHEN invalid_table_definition OR datatype_mismatch OR feature_not_supported THEN
                EXECUTE format('DROP VIEW glue_tables.%I', rel);
                EXECUTE format('CREATE VIEW glue_tables.%I AS %s', rel, src);
            END;
        END IF;
        -- the table's owner owns the view: it reads with that role's rights, and that role GRANTs it
        EXECUTE format('ALTER VIEW glue_tables.%I OWNER TO %s', rel, t.owner);
        INSERT INTO glue.table_relations AS r (table_id, relation)
        VALUES (t.table_id, format('glue_tables.%I', rel)::regclass)
        ON CONFLICT ON CONSTRAINT table_relations_pkey DO UPDATE SET relation = excluded.relation;
    EXCEPTION WHEN OTHERS THEN
        -- the catalog change stands; only the relation is missing or stale
        RAISE WARNING 'catalog table "%"."%" has no up-to-date relation: %', db, t.table_name, SQLERRM
            USING HINT = 'Check the location, the columns and views that depend on the relation, then update the table again.';
        RETURN NULL;
    END;
    RETURN 'glue_tables.' || quote_ident(rel);
END
$$;

-- Drop the relation of catalog table id (before the table is deleted).  A
-- view the caller cannot drop (deleting a database deletes the tables of
-- other roles too; other views depend on it) is left, with a warning.
CREATE FUNCTION glue._drop_relation(table_id integer) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    rel text;
BEGIN
    SELECT glue._relation_name(d.database_name, t.table_name) INTO rel
      FROM glue.tables t JOIN glue.databases d USING (database_id)
     WHERE t.table_id = _drop_relation.table_id;
    IF rel IS NOT NULL THEN
        PERFORM glue._no_relation(rel, table_id);
    END IF;
END
$$;

-- The relation of a catalog table, for users: the view the extension made
-- for it, or NULL.
CREATE FUNCTION glue.table_relation(database_name text, table_name text) RETURNS regclass
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT c.oid::regclass
      FROM glue.tables t JOIN glue.databases d USING (database_id)
      JOIN glue.table_relations r USING (table_id) JOIN pg_class c ON c.oid = r.relation
     WHERE d.database_name = lower($1) AND t.table_name = lower($2)
$$;
