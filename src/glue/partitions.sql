-- Glue Data Catalog partitions (src/glue/partitions.sql): the partitions of
-- a catalog table (values in the order of its partition keys, a location,
-- parameters), the single and batch APIs, and Glue's partition filter
-- expression for get_partitions.
--
-- Values: as many as the table has partition keys, none NULL, each up to
-- 1024 characters; a value for a numeric, date, timestamp or boolean key
-- must be a valid value of that type (checked on create and update), so a
-- filter can compare it as one.
--
-- Filter expressions are parsed here (a tokenizer and a recursive descent
-- parser in PL/pgSQL) into a predicate over glue.partitions in which no
-- text of the caller appears: a partition key becomes
-- "p.partition_values[i]" (cast to numeric, date or timestamp when the key
-- has such a type), a literal becomes "$2[j]", a reference to the token
-- array that is passed as a parameter.  Anything else is refused with
-- InvalidInputException (SQLSTATE 22023, also for syntax errors).
--
-- Ownership and locking: partitions are read by everybody and changed only
-- by members of the table's owner (row-level security, as in catalog.sql).
-- Writers hold FOR SHARE on the table row for the rest of the transaction,
-- so update_table cannot change the partition keys under them; uniqueness of
-- a table's values is left to the unique constraint.

CREATE TABLE glue.partitions (
    partition_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_id integer NOT NULL REFERENCES glue.tables ON DELETE CASCADE,
    partition_values text[] NOT NULL CHECK (pg_catalog.array_position(partition_values, NULL) IS NULL),
    location text,
    parameters jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(parameters) = 'object'),
    create_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_update_time timestamptz,
    UNIQUE (table_id, partition_values)
);
ALTER TABLE glue.partitions ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.partitions FOR SELECT USING (true);
CREATE POLICY owned ON glue.partitions FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.tables t
                    WHERE t.table_id OPERATOR(pg_catalog.=) partitions.table_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, t.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.tables t
                         WHERE t.table_id OPERATOR(pg_catalog.=) partitions.table_id
                           AND pg_catalog.pg_has_role(CURRENT_USER, t.owner, 'USAGE')));
GRANT SELECT ON glue.partitions TO PUBLIC;   -- written only through the functions (README "Catalogs")

-- What get_partition(s) return.
CREATE TYPE glue.partition_definition AS (database_name text, table_name text, "values" text[], location text,
                                          parameters jsonb, create_time timestamptz, last_update_time timestamptz);

-- How a filter compares a partition key of Glue type glue_type: numeric,
-- date, timestamp or text.  The result is spliced into filter SQL, so it
-- is one of these four words and nothing else.
CREATE FUNCTION glue._key_class(glue_type text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT CASE
           WHEN t IN ('smallint', 'integer', 'bigint', 'real', 'double precision') OR t LIKE 'numeric(%' THEN 'numeric'
           WHEN t IN ('date', 'timestamp') THEN t
           ELSE 'text' END
      FROM glue.pg_type_for(glue_type) AS t
$$;

-- The table row for a partition writer: owned by the caller, locked FOR SHARE.
CREATE FUNCTION glue._partition_table(database_name text, table_name text) RETURNS glue.tables
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, true);
BEGIN
    SELECT * INTO t FROM glue.tables x WHERE x.table_id = t.table_id FOR SHARE;
    IF NOT FOUND THEN                                   -- deleted meanwhile
        PERFORM glue._table(database_name, table_name, false);
    END IF;
    RETURN t;
END
$$;

-- Partition values checked against the table's partition keys (see the top).
CREATE FUNCTION glue._check_values(t glue.tables, vals text[]) RETURNS text[]
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    nkeys integer := jsonb_array_length(t.partition_keys);
    k jsonb;
    i integer;
    pg text;
BEGIN
    IF nkeys = 0 THEN
        RAISE EXCEPTION 'InvalidInputException: table "%" has no partition keys', t.table_name
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give it partition keys with glue.update_table().';
    END IF;
    IF array_ndims(vals) > 1 THEN
        RAISE EXCEPTION 'InvalidInputException: partition values must be a one-dimensional array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(cardinality(vals), 0) <> nkeys THEN
        RAISE EXCEPTION 'InvalidInputException: table "%" has % partition keys, but % values were given',
                t.table_name, nkeys, coalesce(cardinality(vals), 0)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give one value per partition key, in the order of the keys: '
                         || (SELECT string_agg(x ->> 'name', ', ') FROM jsonb_array_elements(t.partition_keys) x) || '.';
    END IF;
    FOR i IN 1 .. nkeys LOOP
        k := t.partition_keys -> (i - 1);
        IF vals[i] IS NULL OR length(vals[i]) > 1024 THEN
            RAISE EXCEPTION 'InvalidInputException: the value of partition key "%" must be given and have at most 1024 characters',
                    k ->> 'name' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF glue._key_class(k ->> 'type') <> 'text' OR glue.pg_type_for(k ->> 'type') = 'boolean' THEN
            pg := glue.pg_type_for(k ->> 'type');    -- a PostgreSQL type name built by glue._parse_type
            BEGIN
                EXECUTE format('SELECT $1::%s', pg) USING vals[i];
            EXCEPTION WHEN data_exception THEN
                RAISE EXCEPTION 'InvalidInputException: "%" is not a valid % value for partition key "%"',
                        vals[i], k ->> 'type', k ->> 'name'
                    USING ERRCODE = 'invalid_parameter_value';
            END;
        END IF;
    END LOOP;
    RETURN vals;
END
$$;

-- Insert one partition of table t (already owned and locked).
CREATE FUNCTION glue._insert_partition(t glue.tables, vals text[], location text, parameters jsonb)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
BEGIN
    -- anyone may call this: trust only the catalog's row, and the caller's rights in it
    SELECT * INTO t FROM glue.tables x WHERE x.table_id = t.table_id FOR KEY SHARE;
    IF NOT FOUND OR NOT pg_has_role(kinesis_glue.caller(), t.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of the owner of the table to create its partitions'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM glue._check_values(t, vals);
    PERFORM glue._check_length('location', location, 2056);
    PERFORM glue._check_map('parameters', parameters);
    INSERT INTO glue.partitions (table_id, partition_values, location, parameters)
    VALUES (t.table_id, vals, nullif(location, ''), parameters);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'AlreadyExistsException: partition % of table "%" already exists', vals, t.table_name
        USING ERRCODE = 'duplicate_object';
END
$$;

-- The partition of table t with these values (EntityNotFoundException).
CREATE FUNCTION glue._partition(t glue.tables, vals text[]) RETURNS glue.partitions
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p glue.partitions;
BEGIN
    SELECT * INTO p FROM glue.partitions x WHERE x.table_id = t.table_id AND x.partition_values = vals;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: partition % of table "%" does not exist', vals, t.table_name
            USING ERRCODE = 'undefined_object', HINT = 'List them with glue.get_partitions(database_name, table_name).';
    END IF;
    RETURN p;
END
$$;

-- Create one partition (members of the table's owner only).
CREATE FUNCTION glue.create_partition(database_name text, table_name text, "values" text[],
        location text DEFAULT NULL, parameters jsonb DEFAULT '{}')
    RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
    SELECT glue._insert_partition(glue._partition_table($1, $2), $3, $4, $5)
$$;

-- Create up to 100 partitions: partitions is a JSON array of {"values":
-- [...], "location": ..., "parameters": {...}}.  An entry that fails
-- (invalid, or already there) is skipped and reported by one row
-- (partition_values, error_code, error_message), like Glue's Errors; the
-- others are created.  Errors of the whole call (no table, not the owner,
-- not an array of 1 to 100) raise.
CREATE FUNCTION glue.batch_create_partition(database_name text, table_name text, partitions jsonb)
    RETURNS TABLE (partition_values text[], error_code text, error_message text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._partition_table(database_name, table_name);
    e jsonb;
    i integer := 0;
BEGIN
    IF partitions IS NULL OR jsonb_typeof(partitions) <> 'array' OR jsonb_array_length(partitions) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'InvalidInputException: partitions must be a JSON array of 1 to 100 partitions'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example [{"values": ["2024", "01"], "location": "/data/2024/01"}].';
    END IF;
    FOR e IN SELECT x.value FROM jsonb_array_elements(partitions) WITH ORDINALITY x ORDER BY x.ordinality LOOP
        i := i + 1;
        partition_values := NULL;
        BEGIN
            IF jsonb_typeof(e) <> 'object' OR jsonb_typeof(e -> 'values') IS DISTINCT FROM 'array' THEN
                RAISE EXCEPTION 'InvalidInputException: entry % is not an object with a "values" array', i
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF jsonb_typeof(coalesce(e -> 'location', '""')) NOT IN ('string', 'null') THEN
                RAISE EXCEPTION 'InvalidInputException: the location of entry % must be a string', i
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF EXISTS (SELECT 1 FROM jsonb_array_elements(e -> 'values') v WHERE jsonb_typeof(v) <> 'string') THEN
                RAISE EXCEPTION 'InvalidInputException: the values of entry % must be strings', i
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            partition_values := ARRAY(SELECT jsonb_array_elements_text(e -> 'values'));
            PERFORM glue._insert_partition(t, partition_values, e ->> 'location', coalesce(e -> 'parameters', '{}'));
        EXCEPTION WHEN invalid_parameter_value OR duplicate_object THEN
            error_code := split_part(SQLERRM, ':', 1);
            error_message := substr(SQLERRM, length(error_code) + 3);
            RETURN NEXT;
        END;
    END LOOP;
END
$$;

-- One partition (EntityNotFoundException when there is none).
CREATE FUNCTION glue.get_partition(database_name text, table_name text, "values" text[])
    RETURNS SETOF glue.partition_definition LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.database_name, t.table_name, p.partition_values, p.location, p.parameters, p.create_time,
           p.last_update_time
      FROM glue._table($1, $2, false) AS t
      JOIN glue.databases d ON d.database_id = t.database_id
      CROSS JOIN LATERAL glue._partition(t, $3) AS p
$$;

-- Change a partition (members of the table's owner only): new_values
-- renames it, location and parameters replace (NULL leaves, '' clears the
-- location).
CREATE FUNCTION glue.update_partition(database_name text, table_name text, "values" text[],
        new_values text[] DEFAULT NULL, location text DEFAULT NULL, parameters jsonb DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._partition_table(database_name, table_name);
    p glue.partitions := glue._partition(t, "values");
BEGIN
    IF new_values IS NOT NULL THEN
        PERFORM glue._check_values(t, new_values);
    END IF;
    PERFORM glue._check_length('location', location, 2056);
    IF parameters IS NOT NULL THEN
        PERFORM glue._check_map('parameters', parameters);
    END IF;
    UPDATE glue.partitions x SET partition_values = coalesce(new_values, x.partition_values),
           location = glue._updated(update_partition.location, x.location),
           parameters = coalesce(update_partition.parameters, x.parameters),
           last_update_time = clock_timestamp()
     WHERE x.partition_id = p.partition_id;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'AlreadyExistsException: partition % of table "%" already exists', new_values, t.table_name
        USING ERRCODE = 'duplicate_object';
END
$$;

-- Delete one partition (members of the table's owner only).
CREATE FUNCTION glue.delete_partition(database_name text, table_name text, "values" text[])
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._partition_table(database_name, table_name);
    p glue.partitions := glue._partition(t, "values");
BEGIN
    DELETE FROM glue.partitions x WHERE x.partition_id = p.partition_id;
END
$$;

-- Delete up to 25 partitions: partitions_to_delete is a JSON array of
-- {"values": [...]}.  One row per entry that failed (not found, invalid).
CREATE FUNCTION glue.batch_delete_partition(database_name text, table_name text, partitions_to_delete jsonb)
    RETURNS TABLE (partition_values text[], error_code text, error_message text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._partition_table(database_name, table_name);
    e jsonb;
    i integer := 0;
    id bigint;
BEGIN
    IF partitions_to_delete IS NULL OR jsonb_typeof(partitions_to_delete) <> 'array'
       OR jsonb_array_length(partitions_to_delete) NOT BETWEEN 1 AND 25 THEN
        RAISE EXCEPTION 'InvalidInputException: partitions_to_delete must be a JSON array of 1 to 25 partitions'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example [{"values": ["2024", "01"]}].';
    END IF;
    FOR e IN SELECT x.value FROM jsonb_array_elements(partitions_to_delete) WITH ORDINALITY x ORDER BY x.ordinality LOOP
        i := i + 1;
        partition_values := NULL;
        BEGIN
            IF jsonb_typeof(e) <> 'object' OR jsonb_typeof(e -> 'values') IS DISTINCT FROM 'array'
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(e -> 'values') = 'array'
                                                                  THEN e -> 'values' ELSE '[]' END) v
                           WHERE jsonb_typeof(v) <> 'string') THEN
                RAISE EXCEPTION 'InvalidInputException: entry % is not an object with a "values" array of strings', i
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            partition_values := ARRAY(SELECT jsonb_array_elements_text(e -> 'values'));
            id := (glue._partition(t, partition_values)).partition_id;
            DELETE FROM glue.partitions x WHERE x.partition_id = id;
        EXCEPTION WHEN invalid_parameter_value OR undefined_object THEN
            error_code := split_part(SQLERRM, ':', 1);
            error_message := substr(SQLERRM, length(error_code) + 3);
            RETURN NEXT;
        END;
    END LOOP;
END
$$;

-- The partition filter ------------------------------------------------------

-- A tokenized filter expression with the table's partition keys: kinds[i]
-- is 'key' (vals[i] folded), 'kw' (vals[i] upper case), 'str' or 'num'
-- (vals[i] the literal's value), 'op' or 'punct'; at[i] is its character.
CREATE TYPE glue._filter AS (table_name text, keys text[], classes text[],
                             kinds text[], vals text[], at integer[]);

-- Report a syntax error at token i of f.
CREATE FUNCTION glue._filter_error(f glue._filter, i integer, expected text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF i > cardinality(f.kinds) THEN
        RAISE EXCEPTION 'InvalidInputException: syntax error in partition expression at its end: expected %', expected
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RAISE EXCEPTION 'InvalidInputException: syntax error in partition expression at character % ("%"): expected %',
            f.at[i], f.vals[i], expected
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Write comparisons of partition keys with literals, e.g. year = ''2024'' AND month BETWEEN 1 AND 6.';
END
$$;

-- Split expression into tokens (see glue._filter); InvalidInputException for
-- a character that starts no token.
CREATE FUNCTION glue._filter_tokens(f glue._filter, expression text) RETURNS glue._filter
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    pos integer := 1;
    rest text;
    m text[];
BEGIN
    f.kinds := '{}'; f.vals := '{}'; f.at := '{}';
    LOOP
        rest := substr(expression, pos);
        m := regexp_match(rest, '^\s+');
        IF m IS NOT NULL THEN
            pos := pos + length(m[1]);
            rest := substr(expression, pos);
        END IF;
        EXIT WHEN rest = '';
        f.at := f.at || pos;
        IF left(rest, 1) = '''' THEN
            m := regexp_match(rest, '^''((?:[^'']|'''')*)''');
            IF m IS NULL THEN
                RAISE EXCEPTION 'InvalidInputException: unterminated string literal at character % of partition expression', pos
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            f.kinds := f.kinds || 'str'::text;
            f.vals := f.vals || replace(m[1], '''''', '''');
            pos := pos + length(m[1]) + 2;
        ELSIF rest ~ '^-?[0-9]' THEN
            m := regexp_match(rest, '^(-?[0-9]+(?:\.[0-9]+)?)');
            f.kinds := f.kinds || 'num'::text;
            f.vals := f.vals || m[1];
            pos := pos + length(m[1]);
        ELSIF rest ~ '^[A-Za-z_]' THEN
            m := regexp_match(rest, '^([A-Za-z_][A-Za-z0-9_]*)');
            IF upper(m[1]) IN ('AND', 'OR', 'NOT', 'BETWEEN', 'IN', 'LIKE', 'IS', 'NULL') THEN
                f.kinds := f.kinds || 'kw'::text;
                f.vals := f.vals || upper(m[1]);
            ELSE
                f.kinds := f.kinds || 'key'::text;
                f.vals := f.vals || lower(m[1]);
            END IF;
            pos := pos + length(m[1]);
        ELSIF rest ~ '^(<=|>=|<>|!=|=|<|>)' THEN
            m := regexp_match(rest, '^(<=|>=|<>|!=|=|<|>)');
            f.kinds := f.kinds || 'op'::text;
            f.vals := f.vals || CASE m[1] WHEN '!=' THEN '<>' ELSE m[1] END;
            pos := pos + length(m[1]);
        ELSIF left(rest, 1) IN ('(', ')', ',') THEN
            f.kinds := f.kinds || 'punct'::text;
            f.vals := f.vals || left(rest, 1);
            pos := pos + 1;
        ELSE
            RAISE EXCEPTION 'InvalidInputException: unexpected character "%" at character % of partition expression',
                    left(rest, 1), pos
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'An expression has partition keys, quoted strings, numbers, comparison operators, '
                             'parentheses, commas, AND, OR, NOT, BETWEEN, IN, LIKE and IS [NOT] NULL.';
        END IF;
    END LOOP;
    RETURN f;
END
$$;

-- Is token i of f the keyword or punctuation v?
CREATE FUNCTION glue._filter_is(f glue._filter, i integer, v text) RETURNS boolean
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT coalesce(f.kinds[i] IN ('kw', 'punct') AND f.vals[i] = v, false) $$;

-- The SQL of operand token i (a partition key or a literal) compared as
-- class cls: "p.partition_values[k]" or "$2[i]", cast unless text.  A literal
-- is checked to be a valid value of the class.
CREATE FUNCTION glue._filter_operand(f glue._filter, i integer, cls text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    k integer;
BEGIN
    IF cls NOT IN ('text', 'numeric', 'date', 'timestamp') THEN
        RAISE EXCEPTION 'unexpected comparison class "%"', cls;     -- cannot happen
    END IF;
    IF f.kinds[i] = 'key' THEN
        k := array_position(f.keys, f.vals[i]);
        RETURN CASE cls WHEN 'text' THEN format('p.partition_values[%s]', k)
                        ELSE format('(p.partition_values[%s])::%s', k, cls) END;
    END IF;
    BEGIN
        CASE cls
        WHEN 'numeric' THEN PERFORM f.vals[i]::numeric;
        WHEN 'date' THEN PERFORM f.vals[i]::date;
        WHEN 'timestamp' THEN PERFORM f.vals[i]::timestamp;
        ELSE NULL;
        END CASE;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'InvalidInputException: literal "%" at character % of partition expression is not a valid %',
                f.vals[i], f.at[i], CASE cls WHEN 'numeric' THEN 'number' ELSE cls END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A literal compared with a partition key must be a value of the key''s type.';
    END;
    RETURN CASE cls WHEN 'text' THEN format('$2[%s]', i) ELSE format('($2[%s])::%s', i, cls) END;
END
$$;

-- Token i of f is an operand: a partition key of the table or a literal.
CREATE FUNCTION glue._filter_check_operand(f glue._filter, i integer) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF f.kinds[i] IS NULL OR f.kinds[i] NOT IN ('key', 'str', 'num') THEN
        PERFORM glue._filter_error(f, i, 'a partition key or a literal');
    ELSIF f.kinds[i] = 'key' AND f.vals[i] <> ALL (coalesce(f.keys, '{}')) THEN
        RAISE EXCEPTION 'InvalidInputException: "%" at character % of partition expression is not a partition key of table "%"',
                f.vals[i], f.at[i], f.table_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The partition keys are: ' || coalesce(array_to_string(f.keys, ', '), '(none)') || '.';
    END IF;
END
$$;

-- A predicate: operand, then a comparison operator and operand, [NOT]
-- BETWEEN x AND y, [NOT] IN (x, ...), [NOT] LIKE x, or IS [NOT] NULL.
-- Operands are compared as the class of their partition keys (text when
-- keys of different classes meet; numeric for two numbers alone).
CREATE FUNCTION glue._filter_predicate(f glue._filter, i integer, OUT sql text, OUT next_i integer)
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    ops integer[] := ARRAY[i];       -- operand tokens; ops[1] is the left one
    op text;
    neg text := '';
    cls text;
    classes text[];
    j integer;
BEGIN
    PERFORM glue._filter_check_operand(f, i);
    next_i := i + 1;
    IF f.kinds[next_i] = 'op' THEN
        op := f.vals[next_i];
        ops := ops || next_i + 1;
        next_i := next_i + 2;
    ELSIF glue._filter_is(f, next_i, 'IS') THEN
        IF glue._filter_is(f, next_i + 1, 'NOT') THEN
            neg := 'NOT ';
            next_i := next_i + 1;
        END IF;
        IF NOT glue._filter_is(f, next_i + 1, 'NULL') THEN
            PERFORM glue._filter_error(f, next_i + 1, 'NULL');
        END IF;
        sql := format('(%s IS %sNULL)', glue._filter_operand(f, i, 'text'), neg);
        next_i := next_i + 2;
        RETURN;
    ELSE
        IF glue._filter_is(f, next_i, 'NOT') THEN
            neg := 'NOT ';
            next_i := next_i + 1;
        END IF;
        IF glue._filter_is(f, next_i, 'BETWEEN') THEN
            op := 'BETWEEN';
            IF NOT glue._filter_is(f, next_i + 2, 'AND') THEN
                PERFORM glue._filter_error(f, next_i + 2, 'AND');
            END IF;
            ops := ops || next_i + 1 || next_i + 3;
            next_i := next_i + 4;
        ELSIF glue._filter_is(f, next_i, 'LIKE') THEN
            op := 'LIKE';
            ops := ops || next_i + 1;
            next_i := next_i + 2;
        ELSIF glue._filter_is(f, next_i, 'IN') THEN
            op := 'IN';
            IF NOT glue._filter_is(f, next_i + 1, '(') THEN
                PERFORM glue._filter_error(f, next_i + 1, '"("');
            END IF;
            next_i := next_i + 2;
            LOOP
                ops := ops || next_i;
                next_i := next_i + 1;
                EXIT WHEN NOT glue._filter_is(f, next_i, ',');
                next_i := next_i + 1;
            END LOOP;
            IF NOT glue._filter_is(f, next_i, ')') THEN
                PERFORM glue._filter_error(f, next_i, '"," or ")"');
            END IF;
            next_i := next_i + 1;
        ELSE
            PERFORM glue._filter_error(f, next_i, 'a comparison operator, BETWEEN, IN, LIKE or IS');
        END IF;
    END IF;

    -- every operand after the first: a partition key or a literal
    FOR j IN 2 .. cardinality(ops) LOOP
        PERFORM glue._filter_check_operand(f, ops[j]);
    END LOOP;
    -- the class to compare as
    SELECT array_agg(DISTINCT f.classes[array_position(f.keys, f.vals[o])]) INTO classes
      FROM unnest(ops) o WHERE f.kinds[o] = 'key';
    cls := CASE WHEN op = 'LIKE' THEN 'text'
                WHEN cardinality(classes) = 1 THEN classes[1]
                WHEN classes IS NULL AND NOT EXISTS (SELECT 1 FROM unnest(ops) o WHERE f.kinds[o] <> 'num') THEN 'numeric'
                ELSE 'text' END;
    sql := CASE op
           WHEN 'BETWEEN' THEN format('(%s %sBETWEEN %s AND %s)', glue._filter_operand(f, ops[1], cls), neg,
                                      glue._filter_operand(f, ops[2], cls), glue._filter_operand(f, ops[3], cls))
           WHEN 'LIKE' THEN format('(%s %sLIKE %s)', glue._filter_operand(f, ops[1], cls), neg,
                                   glue._filter_operand(f, ops[2], cls))
           WHEN 'IN' THEN format('(%s %sIN (%s))', glue._filter_operand(f, ops[1], cls), neg,
                                 (SELECT string_agg(glue._filter_operand(f, o, cls), ', ' ORDER BY n)
                                    FROM unnest(ops[2:]) WITH ORDINALITY AS x(o, n)))
           ELSE format('(%s %s %s)', glue._filter_operand(f, ops[1], cls), op, glue._filter_operand(f, ops[2], cls))
           END;
END
$$;

-- Recursive descent: level 'OR' is and-terms joined by OR, level 'AND' is
-- factors joined by AND; a factor is NOT factor, ( expression ), or a
-- predicate.  Returns the SQL and the token after it.
CREATE FUNCTION glue._filter_expr(f glue._filter, i integer, level text, depth integer,
        OUT sql text, OUT next_i integer)
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r record;
BEGIN
    IF depth > 100 THEN
        RAISE EXCEPTION 'InvalidInputException: partition expression is nested too deeply'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF level = 'OR' OR level = 'AND' THEN
        r := glue._filter_expr(f, i, CASE level WHEN 'OR' THEN 'AND' ELSE 'FACTOR' END, depth + 1);
        sql := r.sql;
        next_i := r.next_i;
        WHILE glue._filter_is(f, next_i, level) LOOP
            r := glue._filter_expr(f, next_i + 1, CASE level WHEN 'OR' THEN 'AND' ELSE 'FACTOR' END, depth + 1);
            sql := format('(%s %s %s)', sql, level, r.sql);
            next_i := r.next_i;
        END LOOP;
    ELSIF glue._filter_is(f, i, 'NOT') THEN
        r := glue._filter_expr(f, i + 1, 'FACTOR', depth + 1);
        sql := format('(NOT %s)', r.sql);
        next_i := r.next_i;
    ELSIF glue._filter_is(f, i, '(') THEN
        r := glue._filter_expr(f, i + 1, 'OR', depth + 1);
        IF NOT glue._filter_is(f, r.next_i, ')') THEN
            PERFORM glue._filter_error(f, r.next_i, '")"');
        END IF;
        sql := r.sql;
        next_i := r.next_i + 1;
    ELSE
        r := glue._filter_predicate(f, i);
        sql := r.sql;
        next_i := r.next_i;
    END IF;
END
$$;

-- A filter expression over the partition keys of table t, compiled to a
-- predicate on glue.partitions p that takes the table id as $1 and params
-- as $2.  At most 2048 characters.
CREATE FUNCTION glue._filter_compile(t glue.tables, expression text, OUT sql text, OUT params text[])
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f glue._filter;
    r record;
BEGIN
    IF length(expression) > 2048 THEN
        RAISE EXCEPTION 'InvalidInputException: a partition expression has at most 2048 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    f.table_name := t.table_name;
    SELECT array_agg(k ->> 'name' ORDER BY n), array_agg(glue._key_class(k ->> 'type') ORDER BY n)
      INTO f.keys, f.classes
      FROM jsonb_array_elements(t.partition_keys) WITH ORDINALITY AS x(k, n);
    f := glue._filter_tokens(f, expression);
    IF cardinality(f.kinds) = 0 THEN
        sql := 'true';
    ELSE
        r := glue._filter_expr(f, 1, 'OR', 0);
        IF r.next_i <= cardinality(f.kinds) THEN
            PERFORM glue._filter_error(f, r.next_i, 'AND, OR or the end of the expression');
        END IF;
        sql := r.sql;
    END IF;
    params := f.vals;
END
$$;

-- The partitions of a table, by their values; expression, when given, is
-- Glue's filter (see the top of this file), e.g.
-- year = '2024' AND month BETWEEN 1 AND 6 OR region IN ('eu', 'us').
CREATE FUNCTION glue.get_partitions(database_name text, table_name text, expression text DEFAULT NULL)
    RETURNS SETOF glue.partition_definition LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, false);
    c record := glue._filter_compile(t, coalesce(expression, ''));
BEGIN
    RETURN QUERY EXECUTE
        'SELECT d.database_name, t.table_name, p.partition_values, p.location, p.parameters, p.create_time,'
        '       p.last_update_time'
        '  FROM glue.partitions p JOIN glue.tables t ON t.table_id = p.table_id'
        '  JOIN glue.databases d ON d.database_id = t.database_id'
        ' WHERE p.table_id = $1 AND ' || c.sql ||
        ' ORDER BY p.partition_values COLLATE "C"'
        USING t.table_id, c.params;
END
$$;
