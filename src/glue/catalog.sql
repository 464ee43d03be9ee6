-- Glue Data Catalog (src/glue/catalog.sql): Glue databases, their tables
-- with column lists, partition keys and numbered table versions, and Glue
-- (Hive) type strings with their PostgreSQL equivalents.  Partitions and
-- the partition filter language are in src/glue/partitions.sql.
--
-- Names: database, table and column names are 1 to 255 characters of
-- letters, digits and underscores, folded to lower case when stored and
-- when looked up (Glue folds names for Hive).  Hyphens are refused, as
-- Athena and Hive refuse them, so that every name is a plain identifier.
-- Errors start with Glue's error name: EntityNotFoundException (42704),
-- AlreadyExistsException (42710), InvalidInputException (22023, also for
-- syntax errors in type strings and partition expressions),
-- AccessDeniedException (42501).
--
-- Ownership: everybody reads the catalog (like pg_class).  Any role may
-- create a Glue database and owns it; only members of a database's owner
-- create tables in it, change it or delete it (deleting cascades to its
-- tables, whoever owns them, like Glue).  A table is changed or deleted,
-- and its versions and partitions changed, only by members of the table's
-- owner.  Row-level security enforces the same on direct DML; the functions
-- are SECURITY INVOKER and check first, for clear errors.
--
-- Locking: create_table takes FOR KEY SHARE on the database row (so the
-- database cannot be deleted under it).  update_table re-reads the table
-- row FOR NO KEY UPDATE before computing the new definition, so concurrent
-- updates serialise and number their versions one after the other;
-- partition writers (partitions.sql) hold FOR SHARE on the table row, so the
-- partition keys cannot change under them.  Uniqueness of names is left to
-- the unique constraints: the loser of a race gets AlreadyExistsException.

CREATE TABLE glue.databases (
    database_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    database_name text NOT NULL UNIQUE CHECK (database_name ~ '^[a-z0-9_]{1,255}$'),
    description text,
    location_uri text,
    parameters jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(parameters) = 'object'),
    owner regrole NOT NULL,
    create_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

CREATE TABLE glue.tables (
    table_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    database_id integer NOT NULL REFERENCES glue.databases ON DELETE CASCADE,
    table_name text NOT NULL CHECK (table_name ~ '^[a-z0-9_]{1,255}$'),
    description text,
    owner regrole NOT NULL,
    table_type text NOT NULL,
    location text,
    parameters jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(parameters) = 'object'),
    columns jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(columns) = 'array'),
    partition_keys jsonb NOT NULL DEFAULT '[]' CHECK (pg_catalog.jsonb_typeof(partition_keys) = 'array'),
    version_id integer NOT NULL DEFAULT 1,
    create_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    update_time timestamptz,
    UNIQUE (database_id, table_name)
);

-- One row per version of a table: the whole definition as it was.
CREATE TABLE glue.table_versions (
    table_id integer NOT NULL REFERENCES glue.tables ON DELETE CASCADE,
    version_id integer NOT NULL,
    definition jsonb NOT NULL,
    archive_time timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (table_id, version_id)
);

-- Row-level security as described at the top.  Owners, database ids and
-- table ids cannot be changed by UPDATE at all (column privileges).
ALTER TABLE glue.databases ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.databases FOR SELECT USING (true);
CREATE POLICY owned ON glue.databases FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT ON glue.databases TO PUBLIC;   -- written only through the functions (README "Catalogs")

ALTER TABLE glue.tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.tables FOR SELECT USING (true);
CREATE POLICY create_in_owned_database ON glue.tables FOR INSERT
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE')
                AND EXISTS (SELECT 1 FROM glue.databases d
                             WHERE d.database_id OPERATOR(pg_catalog.=) tables.database_id
                               AND pg_catalog.pg_has_role(CURRENT_USER, d.owner, 'USAGE')));
CREATE POLICY change_owned ON glue.tables FOR UPDATE
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
CREATE POLICY delete_owned ON glue.tables FOR DELETE
    USING (pg_catalog.pg_has_role(CURRENT_USER, owner, 'USAGE'));
GRANT SELECT ON glue.tables TO PUBLIC;   -- written only through the functions (README "Catalogs")

ALTER TABLE glue.table_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON glue.table_versions FOR SELECT USING (true);
CREATE POLICY owned ON glue.table_versions FOR ALL
    USING (EXISTS (SELECT 1 FROM glue.tables t
                    WHERE t.table_id OPERATOR(pg_catalog.=) table_versions.table_id
                      AND pg_catalog.pg_has_role(CURRENT_USER, t.owner, 'USAGE')))
    WITH CHECK (EXISTS (SELECT 1 FROM glue.tables t
                         WHERE t.table_id OPERATOR(pg_catalog.=) table_versions.table_id
                           AND pg_catalog.pg_has_role(CURRENT_USER, t.owner, 'USAGE')));
GRANT SELECT ON glue.table_versions TO PUBLIC;   -- written only through the functions (README "Catalogs")

-- What get_database(s) return.
CREATE TYPE glue.database_definition AS (name text, description text, location_uri text,
                                         parameters jsonb, owner regrole, create_time timestamptz);
-- What get_table(s) return; table versions hold it as jsonb.
CREATE TYPE glue.table_definition AS (database_name text, name text, description text, owner regrole,
                                      table_type text, location text, classification text,
                                      parameters jsonb, columns jsonb, partition_keys jsonb,
                                      version_id integer, create_time timestamptz, update_time timestamptz);

-- Helpers -------------------------------------------------------------------

-- A database, table or column name checked (1-255 of [A-Za-z0-9_]) and
-- folded to lower case.
CREATE FUNCTION glue._name(kind text, name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9_]{1,255}$' THEN
        RAISE EXCEPTION 'InvalidInputException: % name "%" is not 1 to 255 letters, digits and underscores', kind, name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Glue folds names to lower case; hyphens, dots and spaces are not allowed.';
    END IF;
    RETURN lower(name);
END
$$;

-- A text argument is at most max_length characters (NULL passes).
CREATE FUNCTION glue._check_length(what text, value text, max_length integer) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF length(value) > max_length THEN
        RAISE EXCEPTION 'InvalidInputException: % is longer than % characters', what, max_length
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- A parameters map is a JSON object of string values with keys of 1 to 255
-- characters (Glue's map<string,string>).
CREATE FUNCTION glue._check_map(what text, m jsonb) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF m IS NULL OR jsonb_typeof(m) <> 'object' THEN
        RAISE EXCEPTION 'InvalidInputException: % must be a JSON object of string values', what
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example {"compressionType": "gzip"}.';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_each(m) e
                WHERE jsonb_typeof(e.value) <> 'string' OR length(e.key) NOT BETWEEN 1 AND 255) THEN
        RAISE EXCEPTION 'InvalidInputException: % must be a JSON object of string values', what
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keys have 1 to 255 characters; write numbers and booleans as strings, e.g. {"recordCount": "10"}.';
    END IF;
END
$$;

-- NULL leaves the old value, '' clears it, anything else replaces it.
CREATE FUNCTION glue._updated(new_value text, old_value text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT CASE WHEN new_value IS NULL THEN old_value ELSE nullif(new_value, '') END $$;

-- Glue types -----------------------------------------------------------------

-- Report a malformed Glue type: the problem at character pos of s.
CREATE FUNCTION glue._type_error(s text, pos integer, problem text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RAISE EXCEPTION 'InvalidInputException: invalid Glue type "%" at character %: %', s, pos, problem
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Glue types are string, char(n), varchar(n), boolean, tinyint, smallint, int, bigint, float, '
                     'double, decimal(p,s), date, timestamp, binary, array<T>, map<K,V> and struct<name:T,...>.';
END
$$;

-- Expect the character c (with white space around it) at character pos of
-- s; returns the position after it.
CREATE FUNCTION glue._type_expect(s text, pos integer, c text) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    m text[] := regexp_match(substr(s, pos), '^(\s*' || c || '\s*)');
BEGIN
    IF m IS NULL THEN
        PERFORM glue._type_error(s, pos, 'expected "' || c || '"');
    END IF;
    RETURN pos + length(m[1]);
END
$$;

-- Recursive descent over a Glue type string: parse the type that starts at
-- character pos of s (keywords in any case, white space allowed between
-- tokens).  Returns its PostgreSQL type, whether it is primitive, and the
-- position after it and its trailing white space.
CREATE FUNCTION glue._parse_type(s text, pos integer, depth integer,
        OUT pg_type text, OUT primitive boolean, OUT next_pos integer)
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    m text[];
    word text;
    sub record;
    fields text[] := '{}';
    p integer;
    sc integer;
BEGIN
    IF depth > 32 THEN
        PERFORM glue._type_error(s, pos, 'more than 32 levels of nesting');
    END IF;
    m := regexp_match(substr(s, pos), '^(\s*([a-z]+)\s*)', 'i');
    IF m IS NULL THEN
        PERFORM glue._type_error(s, pos, 'expected a type name');
    END IF;
    word := lower(m[2]);
    next_pos := pos + length(m[1]);
    primitive := true;
    CASE word
    WHEN 'string' THEN pg_type := 'text';
    WHEN 'boolean' THEN pg_type := 'boolean';
    WHEN 'tinyint', 'smallint' THEN pg_type := 'smallint';
    WHEN 'int', 'integer' THEN pg_type := 'integer';
    WHEN 'bigint' THEN pg_type := 'bigint';
    WHEN 'float' THEN pg_type := 'real';
    WHEN 'double' THEN pg_type := 'double precision';
    WHEN 'date' THEN pg_type := 'date';
    WHEN 'timestamp' THEN pg_type := 'timestamp';
    WHEN 'binary' THEN pg_type := 'bytea';
    WHEN 'char', 'varchar' THEN
        m := regexp_match(substr(s, next_pos), '^(\(\s*([0-9]{1,5})\s*\)\s*)');
        p := 65535;                                     -- longest varchar
        IF word = 'char' THEN
            p := 255;
        END IF;
        IF m IS NULL OR m[2]::integer NOT BETWEEN 1 AND p THEN
            PERFORM glue._type_error(s, next_pos, format('expected (n) with n from 1 to %s', p));
        END IF;
        pg_type := word || '(' || m[2]::integer || ')';
        next_pos := next_pos + length(m[1]);
    WHEN 'decimal' THEN
        m := regexp_match(substr(s, next_pos), '^(\(\s*([0-9]{1,3})\s*(,\s*([0-9]{1,3})\s*)?\)\s*)');
        IF m IS NULL AND substr(s, next_pos, 1) = '(' THEN
            PERFORM glue._type_error(s, next_pos, 'expected (precision, scale)');
        ELSIF m IS NULL THEN
            pg_type := 'numeric(10,0)';                -- Hive's default decimal
        ELSE
            p := m[2]::integer;
            sc := coalesce(m[4]::integer, 0);
            IF p NOT BETWEEN 1 AND 38 OR sc > p THEN
                PERFORM glue._type_error(s, next_pos, 'expected a precision from 1 to 38 and a scale from 0 to the precision');
            END IF;
            pg_type := format('numeric(%s,%s)', p, sc);
            next_pos := next_pos + length(m[1]);
        END IF;
    WHEN 'array' THEN
        sub := glue._parse_type(s, glue._type_expect(s, next_pos, '<'), depth + 1);
        next_pos := glue._type_expect(s, sub.next_pos, '>');
        primitive := false;
        pg_type := CASE WHEN sub.primitive THEN sub.pg_type || '[]' ELSE 'jsonb' END;
    WHEN 'map' THEN
        p := glue._type_expect(s, next_pos, '<');
        sub := glue._parse_type(s, p, depth + 1);
        IF NOT sub.primitive THEN
            PERFORM glue._type_error(s, p, 'a map key must have a primitive type');
        END IF;
        sub := glue._parse_type(s, glue._type_expect(s, sub.next_pos, ','), depth + 1);
        next_pos := glue._type_expect(s, sub.next_pos, '>');
        primitive := false;
        pg_type := 'jsonb';
    WHEN 'struct' THEN
        next_pos := glue._type_expect(s, next_pos, '<');
        LOOP
            m := regexp_match(substr(s, next_pos), '^(\s*([a-z0-9_]{1,255})\s*:)', 'i');
            IF m IS NULL THEN
                PERFORM glue._type_error(s, next_pos, 'expected a field name and ":"');
            ELSIF lower(m[2]) = ANY (fields) THEN
                PERFORM glue._type_error(s, next_pos, format('field "%s" appears twice', lower(m[2])));
            END IF;
            fields := fields || lower(m[2]);
            sub := glue._parse_type(s, next_pos + length(m[1]), depth + 1);
            next_pos := sub.next_pos;
            EXIT WHEN substr(s, next_pos, 1) = '>';
            next_pos := glue._type_expect(s, next_pos, ',');
        END LOOP;
        next_pos := glue._type_expect(s, next_pos, '>');
        primitive := false;
        pg_type := 'jsonb';
    ELSE
        PERFORM glue._type_error(s, pos, '"' || m[2] || '" is not a type name');
    END CASE;
END
$$;

-- A whole Glue type string: its PostgreSQL type and whether it is
-- primitive.  InvalidInputException when it is not a Glue type.
CREATE FUNCTION glue._type_info(glue_type text, OUT pg_type text, OUT primitive boolean)
    LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r record;
BEGIN
    IF length(glue_type) > 131072 THEN
        RAISE EXCEPTION 'InvalidInputException: a Glue type has at most 131072 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    r := glue._parse_type(glue_type, 1, 0);
    IF r.next_pos <= length(glue_type) THEN
        PERFORM glue._type_error(glue_type, r.next_pos, 'expected the end of the type');
    END IF;
    pg_type := r.pg_type;
    primitive := r.primitive;
END
$$;

-- The PostgreSQL type for a Glue type: string -> text, int -> integer,
-- decimal(p,s) -> numeric(p,s), array<primitive> -> an array of it, other
-- arrays, maps and structs -> jsonb.  NULL for NULL; InvalidInputException
-- when glue_type is not a Glue type.
CREATE FUNCTION glue.pg_type_for(glue_type text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT (glue._type_info(glue_type)).pg_type $$;

-- A column list (columns or partition keys) checked and normalised: a JSON
-- array of {"name", "type", "comment"?, "parameters"?} objects, names folded
-- to lower case and unique in the list, types valid Glue types (primitive
-- for partition keys), comments up to 255 characters.
CREATE FUNCTION glue._columns(what text, cols jsonb, partition_keys boolean) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    c jsonb;
    bad boolean;
    i integer := 0;
    n text;
    names text[] := '{}';
    result jsonb := '[]';
BEGIN
    IF cols IS NULL OR jsonb_typeof(cols) <> 'array' THEN
        RAISE EXCEPTION 'InvalidInputException: % must be a JSON array of {"name": ..., "type": ...} objects', what
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example [{"name": "id", "type": "bigint"}].';
    END IF;
    FOR c IN SELECT e.value FROM jsonb_array_elements(cols) WITH ORDINALITY e ORDER BY e.ordinality LOOP
        i := i + 1;
        IF jsonb_typeof(c) = 'object' THEN             -- (jsonb_object_keys fails on others)
            bad := jsonb_typeof(c -> 'name') IS DISTINCT FROM 'string'
                   OR jsonb_typeof(c -> 'type') IS DISTINCT FROM 'string'
                   OR jsonb_typeof(coalesce(c -> 'comment', '""')) NOT IN ('string', 'null')
                   OR EXISTS (SELECT 1 FROM jsonb_object_keys(c) k
                               WHERE k NOT IN ('name', 'type', 'comment', 'parameters'));
        END IF;
        IF jsonb_typeof(c) <> 'object' OR bad THEN
            RAISE EXCEPTION 'InvalidInputException: % entry % is not an object with "name" and "type" strings', what, i
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'An entry has the keys name, type, and optionally comment and parameters.';
        END IF;
        n := glue._name('column', c ->> 'name');
        IF n = ANY (names) THEN
            RAISE EXCEPTION 'InvalidInputException: column "%" appears more than once in %', n, what
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        names := names || n;
        IF NOT (glue._type_info(c ->> 'type')).primitive AND partition_keys THEN
            RAISE EXCEPTION 'InvalidInputException: partition key "%" has the type "%", not a primitive type', n, c ->> 'type'
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Partition keys are usually string, int, bigint or date.';
        END IF;
        PERFORM glue._check_length('the comment of column "' || n || '"', c ->> 'comment', 255);
        IF c ? 'parameters' THEN
            PERFORM glue._check_map('the parameters of column "' || n || '"', c -> 'parameters');
        END IF;
        result := result || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                      'name', n, 'type', c ->> 'type', 'comment', c ->> 'comment', 'parameters', c -> 'parameters')));
    END LOOP;
    RETURN result;
END
$$;

-- Databases ----------------------------------------------------------------

-- The database row of a name (folded), checked to exist and, with
-- must_own, to be owned by (a role of) the caller.
CREATE FUNCTION glue._database(name text, must_own boolean) RETURNS glue.databases
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    n text := glue._name('database', name);
    d glue.databases;
BEGIN
    SELECT * INTO d FROM glue.databases x WHERE x.database_name = n;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: database "%" does not exist', n
            USING ERRCODE = 'undefined_object', HINT = 'List them with glue.get_databases().';
    END IF;
    IF must_own AND NOT pg_has_role(kinesis_glue.caller(), d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to change database "%"',
                d.owner, d.database_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN d;
END
$$;

-- Create a Glue database owned by the caller.  Any role may.
CREATE FUNCTION glue.create_database(name text, description text DEFAULT NULL, location_uri text DEFAULT NULL,
        parameters jsonb DEFAULT '{}')
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    n text := glue._name('database', name);
BEGIN
    PERFORM glue._check_length('description', description, 2048);
    PERFORM glue._check_length('location_uri', location_uri, 1024);
    PERFORM glue._check_map('parameters', parameters);
    INSERT INTO glue.databases (database_name, description, location_uri, parameters, owner)
    VALUES (n, nullif(description, ''), nullif(location_uri, ''), parameters, kinesis_glue.caller()::regrole);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'AlreadyExistsException: database "%" already exists', n
        USING ERRCODE = 'duplicate_object';
END
$$;

-- One database (EntityNotFoundException when there is none).
CREATE FUNCTION glue.get_database(name text) RETURNS SETOF glue.database_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.database_name, d.description, d.location_uri, d.parameters, d.owner, d.create_time
      FROM glue._database(name, false) AS d
$$;

-- Every database, by name.
CREATE FUNCTION glue.get_databases() RETURNS SETOF glue.database_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.database_name, d.description, d.location_uri, d.parameters, d.owner, d.create_time
      FROM glue.databases d ORDER BY d.database_name COLLATE "C"
$$;

-- Change a database (owners only).  NULL leaves a field as it is; '' clears
-- description or location_uri; parameters replaces the whole map.
CREATE FUNCTION glue.update_database(name text, description text DEFAULT NULL, location_uri text DEFAULT NULL,
        parameters jsonb DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d glue.databases := glue._database(name, true);
BEGIN
    PERFORM glue._check_length('description', description, 2048);
    PERFORM glue._check_length('location_uri', location_uri, 1024);
    IF parameters IS NOT NULL THEN
        PERFORM glue._check_map('parameters', parameters);
    END IF;
    UPDATE glue.databases u SET
        description = glue._updated(update_database.description, u.description),
        location_uri = glue._updated(update_database.location_uri, u.location_uri),
        parameters = coalesce(update_database.parameters, u.parameters)
     WHERE u.database_id = d.database_id;
END
$$;

-- Delete a database with its tables, their versions and partitions (owners
-- of the database only; the tables may belong to other roles).
CREATE FUNCTION glue.delete_database(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d glue.databases := glue._database(name, true);
BEGIN
    PERFORM glue._drop_relation(t.table_id) FROM glue.tables t WHERE t.database_id = d.database_id;
    DELETE FROM glue.databases x WHERE x.database_id = d.database_id;
END
$$;

-- Tables -------------------------------------------------------------------

-- The table row of database_name.table_name, checked to exist and, with
-- must_own, to be owned by (a role of) the caller.
CREATE FUNCTION glue._table(database_name text, table_name text, must_own boolean) RETURNS glue.tables
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d glue.databases := glue._database(database_name, false);
    n text := glue._name('table', _table.table_name);
    t glue.tables;
BEGIN
    SELECT * INTO t FROM glue.tables x WHERE x.database_id = d.database_id AND x.table_name = n;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: table "%" does not exist in database "%"', n, d.database_name
            USING ERRCODE = 'undefined_object', HINT = 'List them with glue.get_tables(database_name).';
    END IF;
    IF must_own AND NOT pg_has_role(kinesis_glue.caller(), t.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to change table "%.%"',
                t.owner, d.database_name, t.table_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN t;
END
$$;

-- The definition of a table row, as get_table returns it and versions keep it.
CREATE FUNCTION glue._definition(t glue.tables) RETURNS glue.table_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT d.database_name, ($1).table_name, ($1).description, ($1).owner, ($1).table_type, ($1).location,
           ($1).parameters ->> 'classification', ($1).parameters, ($1).columns, ($1).partition_keys,
           ($1).version_id, ($1).create_time, ($1).update_time
      FROM glue.databases d WHERE d.database_id = ($1).database_id
$$;

-- Checks shared by create_table and update_table on the new row.
CREATE FUNCTION glue._check_table(t glue.tables) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    dup text;
BEGIN
    SELECT c ->> 'name' INTO dup
      FROM jsonb_array_elements(t.columns) c JOIN jsonb_array_elements(t.partition_keys) k
        ON c ->> 'name' = k ->> 'name' LIMIT 1;
    IF dup IS NOT NULL THEN
        RAISE EXCEPTION 'InvalidInputException: "%" is both a column and a partition key', dup
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A partition key is not repeated among the columns.';
    END IF;
    IF t.table_type NOT IN ('EXTERNAL_TABLE', 'MANAGED_TABLE', 'VIRTUAL_VIEW', 'GOVERNED') THEN
        RAISE EXCEPTION 'InvalidInputException: table type "%" is not one of EXTERNAL_TABLE, MANAGED_TABLE, VIRTUAL_VIEW, GOVERNED',
                t.table_type USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM glue._check_length('description', t.description, 2048);
    PERFORM glue._check_length('location', t.location, 2056);
    PERFORM glue._check_map('parameters', t.parameters);
    PERFORM glue._check_length('classification', t.parameters ->> 'classification', 255);
END
$$;

-- Create a table in a database (members of the database's owner only); the
-- caller owns it.  The classification is kept in parameters, as Glue does;
-- a classification argument overrides parameters' one.  Keeps version 1.
CREATE FUNCTION glue.create_table(database_name text, table_name text, columns jsonb,
        partition_keys jsonb DEFAULT '[]', location text DEFAULT NULL, classification text DEFAULT NULL,
        table_type text DEFAULT 'EXTERNAL_TABLE', parameters jsonb DEFAULT '{}', description text DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d glue.databases := glue._database(database_name, false);
    t glue.tables;
BEGIN
    IF NOT pg_has_role(kinesis_glue.caller(), d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be a member of role "%" to create tables in database "%"',
                d.owner, d.database_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM 1 FROM glue.databases x WHERE x.database_id = d.database_id FOR KEY SHARE;
    IF NOT FOUND THEN                                   -- deleted meanwhile
        PERFORM glue._database(database_name, false);
    END IF;
    t.database_id := d.database_id;
    t.table_name := glue._name('table', table_name);
    t.columns := glue._columns('columns', columns, false);
    t.partition_keys := glue._columns('partition keys', partition_keys, true);
    t.table_type := table_type;
    t.location := nullif(location, '');
    t.description := nullif(description, '');
    IF parameters IS NULL OR jsonb_typeof(parameters) <> 'object' THEN
        PERFORM glue._check_map('parameters', parameters);
    END IF;
    t.parameters := CASE WHEN nullif(classification, '') IS NULL THEN parameters
                         ELSE parameters || jsonb_build_object('classification', classification) END;
    PERFORM glue._check_table(t);
    BEGIN
        INSERT INTO glue.tables (database_id, table_name, description, owner, table_type, location, parameters,
                                 columns, partition_keys)
        VALUES (t.database_id, t.table_name, t.description, kinesis_glue.caller()::regrole, t.table_type, t.location,
                t.parameters, t.columns, t.partition_keys)
        RETURNING * INTO t;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'AlreadyExistsException: table "%" already exists in database "%"', t.table_name, d.database_name
            USING ERRCODE = 'duplicate_object';
    END;
    INSERT INTO glue.table_versions (table_id, version_id, definition)
    VALUES (t.table_id, t.version_id, to_jsonb(glue._definition(t)));
    PERFORM glue._sync_relation(t.table_id);          -- relations.sql
END
$$;

-- One table (EntityNotFoundException when there is none).
CREATE FUNCTION glue.get_table(database_name text, table_name text) RETURNS SETOF glue.table_definition
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT def.* FROM glue._table($1, $2, false) AS t CROSS JOIN LATERAL glue._definition(t) AS def
$$;

-- The tables of a database by name; expression, when given, is a regular
-- expression the whole name must match (e.g. 'sales_.*').
CREATE FUNCTION glue.get_tables(database_name text, expression text DEFAULT NULL)
    RETURNS SETOF glue.table_definition
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d glue.databases := glue._database(database_name, false);
    pattern text := '^(?:' || expression || ')$';
BEGIN
    IF expression IS NOT NULL THEN
        BEGIN
            PERFORM '' ~ expression, '' ~ pattern;
        EXCEPTION WHEN invalid_regular_expression THEN
            RAISE EXCEPTION 'InvalidInputException: "%" is not a valid regular expression', expression
                USING ERRCODE = 'invalid_parameter_value', DETAIL = SQLERRM,
                      HINT = 'The expression is a POSIX regular expression that the whole table name must match.';
        END;
    END IF;
    RETURN QUERY
        SELECT def.*
          FROM glue.tables t CROSS JOIN LATERAL glue._definition(t) AS def
         WHERE t.database_id = d.database_id AND (expression IS NULL OR t.table_name ~ pattern)
         ORDER BY t.table_name COLLATE "C";
END
$$;

-- Change a table (members of its owner only).  NULL leaves a field as it
-- is; '' clears location, description or classification; columns,
-- partition_keys and parameters replace the old ones whole.  Partition keys
-- cannot change (names, types or number) while the table has partitions.
-- Keeps the new definition as version n+1; with skip_archive the current
-- version is overwritten instead and the version number stays.
CREATE FUNCTION glue.update_table(database_name text, table_name text, columns jsonb DEFAULT NULL,
        partition_keys jsonb DEFAULT NULL, location text DEFAULT NULL, classification text DEFAULT NULL,
        parameters jsonb DEFAULT NULL, description text DEFAULT NULL, skip_archive boolean DEFAULT false)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, true);
    old_keys jsonb;
BEGIN
    SELECT * INTO t FROM glue.tables x WHERE x.table_id = t.table_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN                                   -- deleted meanwhile
        PERFORM glue._table(database_name, table_name, false);
    END IF;
    old_keys := t.partition_keys;
    IF columns IS NOT NULL THEN
        t.columns := glue._columns('columns', columns, false);
    END IF;
    IF partition_keys IS NOT NULL THEN
        t.partition_keys := glue._columns('partition keys', partition_keys, true);
        IF (SELECT array_agg(ARRAY[k ->> 'name', glue.pg_type_for(k ->> 'type')] ORDER BY o)
              FROM jsonb_array_elements(old_keys) WITH ORDINALITY AS x(k, o))
           IS DISTINCT FROM
           (SELECT array_agg(ARRAY[k ->> 'name', glue.pg_type_for(k ->> 'type')] ORDER BY o)
              FROM jsonb_array_elements(t.partition_keys) WITH ORDINALITY AS x(k, o))
           AND EXISTS (SELECT 1 FROM glue.partitions p WHERE p.table_id = t.table_id) THEN
            RAISE EXCEPTION 'InvalidInputException: the partition keys of table "%" cannot change while it has partitions',
                    t.table_name
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Delete its partitions first.';
        END IF;
    END IF;
    t.location := glue._updated(location, t.location);
    t.description := glue._updated(description, t.description);
    IF parameters IS NOT NULL THEN
        PERFORM glue._check_map('parameters', parameters);
        t.parameters := CASE WHEN t.parameters ? 'classification' AND NOT parameters ? 'classification'
                             THEN parameters || jsonb_build_object('classification', t.parameters -> 'classification')
                             ELSE parameters END;
    END IF;
    IF classification = '' THEN
        t.parameters := t.parameters - 'classification';
    ELSIF classification IS NOT NULL THEN
        t.parameters := t.parameters || jsonb_build_object('classification', classification);
    END IF;
    PERFORM glue._check_table(t);
    UPDATE glue.tables u SET columns = t.columns, partition_keys = t.partition_keys, location = t.location,
           description = t.description, parameters = t.parameters,
           version_id = u.version_id + CASE WHEN skip_archive THEN 0 ELSE 1 END,
           update_time = clock_timestamp()
     WHERE u.table_id = t.table_id
    RETURNING * INTO t;
    INSERT INTO glue.table_versions AS v (table_id, version_id, definition)
    VALUES (t.table_id, t.version_id, to_jsonb(glue._definition(t)))
    ON CONFLICT (table_id, version_id) DO UPDATE
       SET definition = excluded.definition, archive_time = excluded.archive_time;
    PERFORM glue._sync_relation(t.table_id);          -- relations.sql
END
$$;

-- Delete a table with its versions and partitions (members of its owner only).
CREATE FUNCTION glue.delete_table(database_name text, table_name text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, true);
BEGIN
    PERFORM glue._drop_relation(t.table_id);
    DELETE FROM glue.tables x WHERE x.table_id = t.table_id;
END
$$;

-- Versions -----------------------------------------------------------------

-- The kept versions of a table, newest first; definition is what
-- get_table returned at that version.
CREATE FUNCTION glue.get_table_versions(database_name text, table_name text)
    RETURNS TABLE (version_id integer, definition jsonb, archive_time timestamptz)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS
$$
    SELECT v.version_id, v.definition, v.archive_time
      FROM glue.table_versions v
     WHERE v.table_id = (glue._table($1, $2, false)).table_id
     ORDER BY v.version_id DESC
$$;

-- The definition of one version (NULL: the current one).
CREATE FUNCTION glue.get_table_version(database_name text, table_name text, version_id integer DEFAULT NULL)
    RETURNS jsonb LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, false);
    v jsonb;
BEGIN
    SELECT x.definition INTO v FROM glue.table_versions x
     WHERE x.table_id = t.table_id AND x.version_id = coalesce(get_table_version.version_id, t.version_id);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: version % of table "%" does not exist', version_id, t.table_name
            USING ERRCODE = 'undefined_object', HINT = 'List them with glue.get_table_versions(database_name, table_name).';
    END IF;
    RETURN v;
END
$$;

-- Delete an archived version (members of the table's owner only).  The
-- current version cannot be deleted.
CREATE FUNCTION glue.delete_table_version(database_name text, table_name text, version_id integer)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    t glue.tables := glue._table(database_name, table_name, true);
BEGIN
    IF version_id = t.version_id THEN
        RAISE EXCEPTION 'InvalidInputException: version % is the current version of table "%"', version_id, t.table_name
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Only archived versions can be deleted.';
    END IF;
    DELETE FROM glue.table_versions x WHERE x.table_id = t.table_id AND x.version_id = delete_table_version.version_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'EntityNotFoundException: version % of table "%" does not exist', version_id, t.table_name
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;

-- Every column of every table with its PostgreSQL type: the columns in
-- order, then the partition keys (as Athena shows them).
CREATE VIEW glue.catalog_columns WITH (security_invoker = true) AS
SELECT d.database_name, t.table_name, c.n::integer AS ordinal_position, c.col ->> 'name' AS column_name,
       c.col ->> 'type' AS glue_type, glue.pg_type_for(c.col ->> 'type') AS pg_type,
       c.col ->> 'comment' AS comment, c.is_partition_key
  FROM glue.tables t
  JOIN glue.databases d ON d.database_id = t.database_id
  CROSS JOIN LATERAL (
        SELECT e.value, e.ordinality, false FROM pg_catalog.jsonb_array_elements(t.columns) WITH ORDINALITY e
        UNION ALL
        SELECT e.value, pg_catalog.jsonb_array_length(t.columns) + e.ordinality, true
          FROM pg_catalog.jsonb_array_elements(t.partition_keys) WITH ORDINALITY e
       ) AS c(col, n, is_partition_key);
GRANT SELECT ON glue.catalog_columns TO PUBLIC;

