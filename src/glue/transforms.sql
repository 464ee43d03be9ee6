-- Glue transforms (src/glue/transforms.sql): the DynamicFrame transforms
-- users would otherwise write by hand, as SQL functions over JSON records,
-- usable in job scripts (and anywhere else):
--
--   glue.apply_mapping(record, mappings)   Glue's ApplyMapping: source
--       paths (dotted, into nested JSON) to target names, with casts;
--       unmapped fields are dropped.  mappings is a JSON array of
--       [source_path, source_type, target_name, target_type].  Feed the
--       result to jsonb_populate_record(NULL::target_table, ...).
--   glue.drop_null_fields(records)          Glue's DropNullFields over a JSON
--       array: removes the fields that are null or missing in every record.
--   glue.relationalize(records, root)       Glue's Relationalize: nested
--       objects become dotted columns, each array becomes a child table
--       "<root>_<path>" with id (the parent's reference), index and the
--       element (<path>.val, or its flattened fields).
--
-- Casts are safe: a value that does not fit its target type becomes NULL,
-- as Glue turns it into an error record rather than failing the frame.

-- The value at a dotted path ("a.b.c"; "a\.b" for a key with a dot).
CREATE FUNCTION glue._json_path(record jsonb, path text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT $1 #> ARRAY(SELECT replace(p, E'\x01', '.')
                         FROM unnest(string_to_array(replace($2, '\.', E'\x01'), '.')) p)
$$;

-- A JSON value cast to a Glue or PostgreSQL type name, as JSON; NULL when
-- it does not fit.
CREATE FUNCTION glue._cast_json(v jsonb, target_type text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t text := lower(btrim(target_type));
    s text := v #>> '{}';
    kind text;
BEGIN
    kind := CASE
        WHEN t IN ('string', 'text', 'varchar') THEN 'text'
        WHEN t IN ('long', 'bigint', 'int', 'integer', 'short', 'smallint', 'byte', 'int8', 'int4') THEN 'int'
        WHEN t IN ('double', 'float', 'real', 'double precision', 'float8', 'float4') THEN 'double'
        WHEN t IN ('decimal', 'numeric') OR t LIKE 'decimal(%' OR t LIKE 'numeric(%' THEN 'numeric'
        WHEN t IN ('boolean', 'bool') THEN 'boolean'
        WHEN t IN ('timestamp', 'timestamptz', 'timestamp with time zone') THEN 'timestamp'
        WHEN t = 'date' THEN 'date'
        WHEN t IN ('json', 'jsonb', 'struct', 'array', 'object') OR t LIKE 'struct<%' OR t LIKE 'array<%' THEN 'json'
        END;
    IF kind IS NULL THEN
        PERFORM glue._invalid(format('type "%s" is not a type apply_mapping knows', target_type),
                              'Use string, long, int, double, decimal, boolean, timestamp, date or json.');
    END IF;
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    BEGIN
        RETURN CASE kind
            WHEN 'text' THEN to_jsonb(CASE WHEN jsonb_typeof(v) = 'string' THEN s ELSE v::text END)
            WHEN 'int' THEN to_jsonb(trunc(s::numeric)::bigint)
            WHEN 'double' THEN to_jsonb(s::double precision)
            WHEN 'numeric' THEN to_jsonb(s::numeric)
            WHEN 'boolean' THEN to_jsonb(s::boolean)
            WHEN 'timestamp' THEN to_jsonb(s::timestamptz)
            WHEN 'date' THEN to_jsonb(s::date)
            ELSE CASE WHEN jsonb_typeof(v) = 'string' THEN s::jsonb ELSE v END END;
    EXCEPTION WHEN data_exception THEN
        RETURN NULL;                                -- does not fit: NULL
    END;
END
$$;

CREATE FUNCTION glue.apply_mapping(record jsonb, mappings jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    result jsonb := '{}';
    m jsonb;
BEGIN
    IF jsonb_typeof(mappings) IS DISTINCT FROM 'array' THEN
        PERFORM glue._invalid('mappings must be a JSON array of [source_path, source_type, target_name, target_type]',
                              'For example [["user.id", "string", "user_id", "long"], ["ts", "string", "at", "timestamp"]].');
    END IF;
    FOR m IN SELECT x FROM jsonb_array_elements(mappings) x LOOP
        IF jsonb_typeof(m) <> 'array' OR jsonb_array_length(m) <> 4
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(m) e WHERE jsonb_typeof(e) <> 'string') THEN
            PERFORM glue._invalid(format('mapping %s is not [source_path, source_type, target_name, target_type]', m));
        END IF;
        result := result || jsonb_build_object(m ->> 2, glue._cast_json(glue._json_path(record, m ->> 0), m ->> 3));
    END LOOP;
    RETURN result;
END
$$;

CREATE FUNCTION glue.drop_null_fields(records jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS
$$
    WITH kept AS (
        SELECT DISTINCT e.key FROM jsonb_array_elements($1) r, jsonb_each(r) e
         WHERE jsonb_typeof(r) = 'object' AND jsonb_typeof(e.value) <> 'null')
    SELECT coalesce(jsonb_agg((SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}')
                                 FROM jsonb_each(r) e WHERE e.key IN (SELECT key FROM kept)) ORDER BY n), '[]')
      FROM jsonb_array_elements($1) WITH ORDINALITY AS x(r, n)
$$;

-- Flatten one record into (table, row) pairs: objects into dotted keys,
-- arrays into child rows that reference the parent by a number.  counter
-- is the last reference number used (carried on every row returned); the
-- record's own row comes last, with table_name = tbl.
CREATE FUNCTION glue._relationalize(rec jsonb, tbl text, prefix text, ctr bigint)
    RETURNS TABLE (table_name text, record jsonb, counter bigint)
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    flat jsonb := '{}';
    e record;
    el record;
    x record;
    ref bigint;
    child text;
BEGIN
    FOR e IN SELECT * FROM jsonb_each(rec) LOOP
        IF jsonb_typeof(e.value) = 'object' THEN
            FOR x IN SELECT * FROM glue._relationalize(e.value, tbl, prefix || e.key || '.', ctr) LOOP
                ctr := greatest(ctr, x.counter);
                IF x.table_name = tbl THEN
                    flat := flat || x.record;
                ELSE
                    table_name := x.table_name; record := x.record; counter := ctr;
                    RETURN NEXT;
                END IF;
            END LOOP;
        ELSIF jsonb_typeof(e.value) = 'array' THEN
            ctr := ctr + 1;
            ref := ctr;
            flat := flat || jsonb_build_object(prefix || e.key, ref);
            -- named by the path below the nearest array element
            child := tbl || '_' || replace(regexp_replace(prefix, '^.*\.val\.', '') || e.key, '.', '_');
            FOR el IN SELECT a.v, a.i FROM jsonb_array_elements(e.value) WITH ORDINALITY AS a(v, i) LOOP
                IF jsonb_typeof(el.v) = 'object' THEN
                    FOR x IN SELECT * FROM glue._relationalize(el.v, child, prefix || e.key || '.val.', ctr) LOOP
                        ctr := greatest(ctr, x.counter);
                        table_name := x.table_name;
                        record := CASE WHEN x.table_name = child
                                       THEN jsonb_build_object('id', ref, 'index', el.i - 1) || x.record
                                       ELSE x.record END;
                        counter := ctr;
                        RETURN NEXT;
                    END LOOP;
                ELSE
                    table_name := child;
                    record := jsonb_build_object('id', ref, 'index', el.i - 1, prefix || e.key || '.val', el.v);
                    counter := ctr;
                    RETURN NEXT;
                END IF;
            END LOOP;
        ELSE
            flat := flat || jsonb_build_object(prefix || e.key, e.value);
        END IF;
    END LOOP;
    table_name := tbl; record := flat; counter := ctr;
    RETURN NEXT;
END
$$;

-- Relationalize a JSON array of records: one row per output record, with
-- the table it belongs to (root, and root_<array path> for each array).
-- Array references are numbered from 1 in input order.
CREATE FUNCTION glue.relationalize(records jsonb, root text DEFAULT 'root')
    RETURNS TABLE (table_name text, record jsonb)
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r jsonb;
    ctr bigint := 0;
    x record;
BEGIN
    IF jsonb_typeof(records) IS DISTINCT FROM 'array' THEN
        PERFORM glue._invalid('relationalize takes a JSON array of records');
    END IF;
    IF root IS NULL OR root !~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$' THEN
        PERFORM glue._invalid('the root name must be a plain identifier');
    END IF;
    FOR r IN SELECT v FROM jsonb_array_elements(records) v WHERE jsonb_typeof(v) = 'object' LOOP
        FOR x IN SELECT * FROM glue._relationalize(r, root, '', ctr) LOOP
            ctr := greatest(ctr, x.counter);
            table_name := x.table_name;
            record := x.record;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;
