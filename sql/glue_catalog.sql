--
-- glue_catalog: the Glue Data Catalog (src/glue/catalog.sql, partitions.sql).
--   Glue types and pg_type_for, databases, tables, table versions,
--   catalog_columns, partitions (single and batch), the partition filter
--   language (every operator, numeric vs text comparison, hostile input),
--   name rules, cascading deletes, ownership and row-level security.
-- Timestamps are never printed; owners only as "is the caller".
-- Roles are regress_glue_*, dropped at the end.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

-- no function of schema glue widens privileges, all SQL ones pin their search_path
-- (procedures that commit cannot have a SET clause; they qualify every name)
SELECT count(*) FILTER (WHERE p.prosecdef) AS security_definer,
       count(*) FILTER (WHERE NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']
                          AND l.lanname <> 'c' AND p.prokind <> 'p') AS without_search_path
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace = 'glue'::regnamespace;

--
-- Glue types
--
SELECT t AS glue_type, glue.pg_type_for(t) AS pg_type
  FROM unnest(ARRAY['string', 'char(10)', 'varchar(255)', 'boolean', 'tinyint', 'smallint', 'int', 'INTEGER',
                    'bigint', 'float', 'double', 'decimal', 'decimal(10)', 'decimal(38, 9)', 'date', 'timestamp',
                    'binary', 'array<string>', 'array< decimal(5,2) >', 'array<array<int>>', 'map<string,int>',
                    'map<int, array<string>>', 'struct<a:int>', 'struct<name:string, address:struct<city:string,zip:int>>',
                    'array<struct<x:double,y:double>>', ' Struct < A : Int , B : Array<String> > ']) AS t;
SELECT glue.pg_type_for(NULL) IS NULL AS null_is_null;
SELECT t AS glue_type, kg_try(format('SELECT glue.pg_type_for(%L)', t)) AS result
  FROM unnest(ARRAY['', 'text', 'integer(4)', 'char', 'char(0)', 'char(256)', 'varchar(65536)', 'decimal(39,2)',
                    'decimal(5,6)', 'decimal(', 'decimal()', 'array<>', 'array<string', 'array<string>>',
                    'map<string>', 'map<array<int>,string>', 'struct<>', 'struct<a int>', 'struct<a:int,a:string>',
                    'struct<a:int,>', 'struct<a-b:int>', 'int; DROP TABLE glue.tables', 'string string']) AS t;
-- the hint lists the types
SELECT glue.pg_type_for('long');
SELECT replace(kg_try(format('SELECT glue.pg_type_for(%L)', repeat('array<', 40) || 'int' || repeat('>', 40))),
               repeat('array<', 40) || 'int' || repeat('>', 40), 'array<...40 levels...>') AS deep;
SELECT kg_try(format('SELECT glue.pg_type_for(%L)', 'struct<' || repeat('a', 131072) || ':int>')) AS too_long;

--
-- Databases
--
SELECT glue.create_database('Sales', 'Sales data', '/data/sales', '{"team": "bi"}');
SELECT glue.create_database('empty_db');
SELECT name, description, location_uri, parameters, owner = current_user::regrole AS mine, create_time IS NOT NULL AS created
  FROM glue.get_database('SALES');
SELECT name, description, location_uri, parameters FROM glue.get_databases();
SELECT kg_try($$SELECT glue.create_database('sales')$$) AS duplicate;
SELECT kg_try($$SELECT glue.create_database('SALES')$$) AS duplicate_folded;
SELECT replace(n, repeat('a', 256), 'a x 256') AS name,
       replace(kg_try(format('SELECT glue.create_database(%L)', n)), repeat('a', 256), 'a x 256') AS result
  FROM unnest(ARRAY['', repeat('a', 256), 'bad-name', 'bad name', 'bad.name', 'x;drop', 'ünïcode', NULL]) AS n;
SELECT glue.create_database(repeat('B', 255));
SELECT length(name), name = repeat('b', 255) AS folded FROM glue.get_database(repeat('b', 255));
SELECT glue.delete_database(repeat('b', 255));
SELECT kg_try($$SELECT glue.create_database('p1', parameters => '[]')$$) AS array_parameters,
       kg_try($$SELECT glue.create_database('p1', parameters => '{"n": 1}')$$) AS number_value,
       kg_try($$SELECT glue.create_database('p1', parameters => NULL)$$) AS null_parameters,
       kg_try($$SELECT glue.create_database('p1', parameters => '{"": "x"}')$$) AS empty_key,
       kg_try(format('SELECT glue.create_database(%L, %L)', 'p1', repeat('d', 2049))) AS long_description;
SELECT glue.create_database('p1', parameters => '{"n": 1}');   -- shows the hint
SELECT kg_try($$SELECT * FROM glue.get_database('nope')$$) AS missing,
       kg_try($$SELECT * FROM glue.get_database('no-pe')$$) AS invalid;
SELECT * FROM glue.get_database('nope');                      -- shows the hint
-- update_database: NULL leaves, '' clears, parameters replace the map
SELECT glue.update_database('sales', description => 'All sales');
SELECT glue.update_database('Sales', location_uri => '', parameters => '{"team": "finance", "tier": "gold"}');
SELECT name, description, location_uri, parameters FROM glue.get_database('sales');
SELECT kg_try($$SELECT glue.update_database('nope', 'x')$$) AS missing,
       kg_try($$SELECT glue.update_database('sales', parameters => '"x"')$$) AS bad_parameters;
SELECT * FROM glue.get_tables('empty_db');
SELECT glue.delete_database('empty_db');
SELECT kg_try($$SELECT glue.delete_database('empty_db')$$) AS deleted_twice;
SELECT name FROM glue.get_databases();

--
-- Tables
--
SELECT glue.create_table('sales', 'Orders',
    columns => '[{"name": "Order_ID", "type": "bigint", "comment": "order number"},
                 {"name": "amount", "type": "decimal(10,2)"},
                 {"name": "tags", "type": "array<string>"},
                 {"name": "attrs", "type": "map<string,int>", "parameters": {"x": "y"}},
                 {"name": "customer", "type": "struct<name:string,address:struct<city:string,zip:string>>"}]',
    partition_keys => '[{"name": "year", "type": "int"}, {"name": "month", "type": "int"},
                        {"name": "Region", "type": "string", "comment": "sales region"}]',
    location => '/data/sales/orders', classification => 'parquet',
    parameters => '{"compressionType": "snappy"}', description => 'Orders by day');
SELECT glue.create_table('sales', 'daily', '[{"name": "n", "type": "int"}]',
                         partition_keys => '[{"name": "day", "type": "string"}]',
                         parameters => '{"classification": "csv", "delimiter": ","}');
SELECT glue.create_table('sales', 'events', '[]', table_type => 'MANAGED_TABLE');
SELECT glue.create_table('sales', 'by_date', '[{"name": "v", "type": "double"}]',
                         partition_keys => '[{"name": "dt", "type": "date"}, {"name": "amount", "type": "decimal(6,2)"},
                                             {"name": "flag", "type": "boolean"}]');
SELECT database_name, name, description, owner = current_user::regrole AS mine, table_type, location,
       classification, parameters, version_id, create_time IS NOT NULL AS created, update_time
  FROM glue.get_table('SALES', 'orders');
SELECT jsonb_pretty(columns) AS columns, jsonb_pretty(partition_keys) AS partition_keys
  FROM glue.get_table('sales', 'orders');
SELECT name, table_type, classification, parameters, jsonb_array_length(columns) AS ncolumns
  FROM glue.get_tables('sales');
SELECT name FROM glue.get_tables('sales', 'ORDERS');   -- the regex is case-sensitive, names are lower case
SELECT name FROM glue.get_tables('sales', 'd.*');
SELECT name FROM glue.get_tables('sales', 'e|o');      -- the whole name must match
SELECT name FROM glue.get_tables('sales', 'e.*|o.*');
SELECT kg_try($$SELECT * FROM glue.get_tables('sales', '(')$$) AS bad_regex,
       kg_try($$SELECT * FROM glue.get_tables('sales', 'a)|(b')$$) AS unbalanced,
       kg_try($$SELECT * FROM glue.get_tables('nope')$$) AS missing_database;
-- the columns with their PostgreSQL types
SELECT ordinal_position, column_name, glue_type, pg_type, comment, is_partition_key
  FROM glue.catalog_columns WHERE database_name = 'sales' AND table_name = 'orders' ORDER BY ordinal_position;
SELECT table_name, count(*) FROM glue.catalog_columns WHERE database_name = 'sales' GROUP BY 1 ORDER BY 1;

-- create_table errors
SELECT kg_try($$SELECT glue.create_table('nope', 't', '[]')$$) AS missing_database,
       kg_try($$SELECT glue.create_table('sales', 'orders', '[]')$$) AS duplicate,
       kg_try($$SELECT glue.create_table('sales', 'ORDERS', '[]')$$) AS duplicate_folded;
SELECT c || ' / ' || coalesce(k, 'NULL') AS "columns / partition_keys",
       kg_try(format('SELECT glue.create_table(%L, %L, %L::jsonb, %L::jsonb)', 'sales', 't', c, k)) AS result
  FROM (VALUES ('[]', NULL), ('{}', '[]'), ('[1]', '[]'), ('[{"name": "a"}]', '[]'), ('[{"type": "int"}]', '[]'),
               ('[{"name": "a", "type": 1}]', '[]'), ('[{"name": "a", "type": "int", "extra": 1}]', '[]'),
               ('[{"name": "a", "type": "int", "comment": 5}]', '[]'),
               ('[{"name": "a", "type": "int", "parameters": {"k": 1}}]', '[]'),
               ('[{"name": "a b", "type": "int"}]', '[]'), ('[{"name": "a", "type": "integer(2)"}]', '[]'),
               ('[{"name": "a", "type": "int"}, {"name": "A", "type": "string"}]', '[]'),
               ('[{"name": "a", "type": "int"}]', '[{"name": "A", "type": "string"}]'),
               ('[]', '[{"name": "k", "type": "array<string>"}]'),
               ('[]', '[{"name": "k", "type": "struct<a:int>"}]'),
               ('[]', '{"name": "k"}')) AS x(c, k);
SELECT kg_try($$SELECT glue.create_table('sales', 'bad-name', '[]')$$) AS bad_name,
       kg_try($$SELECT glue.create_table('sales', 't', '[]', table_type => 'VIEW')$$) AS bad_type,
       kg_try($$SELECT glue.create_table('sales', 't', '[]', parameters => '{"a": true}')$$) AS bad_parameters,
       kg_try($$SELECT glue.create_table('sales', 't', '[]', parameters => NULL)$$) AS null_parameters,
       kg_try(format('SELECT glue.create_table(%L, %L, %L, description => %L)', 'sales', 't', '[]',
                     repeat('x', 2049))) AS long_description,
       kg_try(format('SELECT glue.create_table(%L, %L, %L, classification => %L)', 'sales', 't', '[]',
                     repeat('x', 256))) AS long_classification;
SELECT glue.create_table('sales', 't', '[{"name": "a", "type": "int", "comment": "c"}]',
                         '[{"name": "A", "type": "string"}]');     -- shows the hint
SELECT kg_try($$SELECT * FROM glue.get_table('sales', 'nope')$$) AS missing_table,
       kg_try($$SELECT * FROM glue.get_table('nope', 'orders')$$) AS missing_database;
SELECT name FROM glue.get_tables('sales');   -- nothing of the failed attempts is left

--
-- Table versions
--
SELECT version_id, definition ->> 'description' AS description,
       jsonb_array_length(definition -> 'columns') AS ncolumns FROM glue.get_table_versions('sales', 'orders');
SELECT glue.update_table('sales', 'orders',
    columns => '[{"name": "order_id", "type": "bigint"}, {"name": "amount", "type": "decimal(12,2)"},
                 {"name": "note", "type": "string"}]',
    description => 'Orders, v2');
SELECT glue.update_table('sales', 'orders', classification => 'orc', parameters => '{"compressionType": "zlib"}');
SELECT version_id, definition ->> 'description' AS description, definition ->> 'classification' AS classification,
       definition -> 'parameters' AS parameters, definition -> 'columns' -> 1 ->> 'type' AS amount_type
  FROM glue.get_table_versions('sales', 'orders');
-- parameters without classification keep the classification; '' removes it
SELECT glue.update_table('sales', 'orders', parameters => '{"k": "v"}', skip_archive => true);
SELECT version_id, classification, parameters FROM glue.get_table('sales', 'orders');
SELECT version_id, definition -> 'parameters' AS parameters FROM glue.get_table_versions('sales', 'orders');
SELECT glue.update_table('sales', 'orders', classification => '', location => '', description => '');
SELECT version_id, classification, parameters, location, description, update_time IS NOT NULL AS updated
  FROM glue.get_table('sales', 'orders');
SELECT (glue.get_table_version('sales', 'orders', 1)) -> 'columns' -> 0 AS first_column_v1,
       (glue.get_table_version('sales', 'orders', 1)) ->> 'version_id' AS v1,
       (glue.get_table_version('sales', 'orders')) ->> 'version_id' AS current;
SELECT glue.get_table_version('sales', 'orders') - 'create_time' - 'update_time' - 'owner'
     = to_jsonb(t) - 'create_time' - 'update_time' - 'owner' AS current_version_is_the_table
  FROM glue.get_table('sales', 'orders') t;
SELECT kg_try($$SELECT glue.get_table_version('sales', 'orders', 9)$$) AS missing_version,
       kg_try($$SELECT glue.delete_table_version('sales', 'orders', 4)$$) AS delete_current,
       kg_try($$SELECT glue.delete_table_version('sales', 'orders', 9)$$) AS delete_missing;
SELECT glue.delete_table_version('sales', 'orders', 1);
SELECT kg_try($$SELECT glue.delete_table_version('sales', 'orders', 1)$$) AS deleted_twice,
       kg_try($$SELECT glue.get_table_version('sales', 'orders', 1)$$) AS get_deleted;
SELECT version_id FROM glue.get_table_versions('sales', 'orders');
-- update_table errors change nothing
SELECT kg_try($$SELECT glue.update_table('sales', 'nope')$$) AS missing,
       kg_try($$SELECT glue.update_table('sales', 'orders', columns => '[{"name": "x"}]')$$) AS bad_columns,
       kg_try($$SELECT glue.update_table('sales', 'orders', columns => '[{"name": "year", "type": "int"}]')$$)
           AS column_is_key,
       kg_try($$SELECT glue.update_table('sales', 'orders', parameters => '[]')$$) AS bad_parameters,
       kg_try($$SELECT glue.update_table('sales', 'orders', partition_keys => '[{"name": "m", "type": "map<string,string>"}]')$$)
           AS complex_key;
SELECT version_id, jsonb_array_length(columns) AS ncolumns FROM glue.get_table('sales', 'orders');

--
-- Partitions
--
SELECT glue.create_partition('sales', 'orders', ARRAY['2024', '1', 'eu'], '/data/sales/orders/2024/1/eu');
SELECT glue.create_partition('sales', 'orders', ARRAY['2024', '2', 'us'], parameters => '{"rows": "10"}');
SELECT glue.create_partition('sales', 'orders', ARRAY['2024', '10', 'eu']);
SELECT glue.create_partition('sales', 'orders', ARRAY['2024', '12', 'ap-south']);
SELECT glue.create_partition('sales', 'orders', ARRAY['2023', '12', 'us']);
SELECT glue.create_partition('sales', 'orders', ARRAY['2023', '9', 'eu''west']);
SELECT * FROM glue.batch_create_partition('sales', 'orders', '[
    {"values": ["2023", "1", "eu"], "location": "/data/2023/1/eu"},
    {"values": ["2024", "1", "eu"]},
    {"values": ["2023", "x", "eu"]},
    {"values": ["2023", "2"]},
    {"values": ["2023", "3", null]},
    {"values": ["2023", 3, "eu"]},
    {"vals": ["2023", "4", "eu"]},
    "nonsense",
    {"values": ["2023", "5", "us"], "parameters": {"n": 1}},
    {"values": ["2023", "6", "us"], "location": 6},
    {"values": ["2023", "7", "us"], "parameters": {"rows": "7"}}
  ]');
SELECT kg_try($$SELECT * FROM glue.batch_create_partition('sales', 'orders', '[]')$$) AS empty,
       kg_try($$SELECT * FROM glue.batch_create_partition('sales', 'orders', '{}')$$) AS not_array,
       kg_try(format('SELECT * FROM glue.batch_create_partition(%L, %L, %L)', 'sales', 'orders',
                     (SELECT jsonb_agg(jsonb_build_object('values', ARRAY['2000', i::text, 'x']))
                        FROM generate_series(1, 101) i))) AS too_many,
       kg_try($$SELECT * FROM glue.batch_create_partition('sales', 'nope', '[]')$$) AS missing_table;
SELECT "values", location, parameters FROM glue.get_partitions('sales', 'orders');
SELECT database_name, table_name, "values", location, parameters, create_time IS NOT NULL AS created,
       last_update_time
  FROM glue.get_partition('sales', 'orders', ARRAY['2024', '1', 'eu']);
SELECT c AS case, kg_try(format('SELECT glue.create_partition(%L, %L, %L::text[])', 'sales', t, v)) AS result
  FROM (VALUES ('orders', '{2024,1,eu}'), ('orders', '{2024,1}'), ('orders', '{2024,1,eu,x}'), ('orders', NULL),
               ('orders', '{2024,NULL,eu}'), ('orders', '{2024,1.5,eu}'), ('orders', '{99999999999,1,eu}'),
               ('orders', '{{2024,1,eu}}'), ('events', '{1}'), ('nope', '{1}'),
               ('by_date', '{2024-02-30,1,true}'), ('by_date', '{2024-02-28,12345.67,true}'),
               ('by_date', '{2024-02-28,1,maybe}'))
       AS x(t, v), LATERAL (SELECT t || ' ' || coalesce(v, 'NULL')) AS y(c);
SELECT kg_try(format('SELECT glue.create_partition(%L, %L, ARRAY[%L, %L, %L])', 'sales', 'orders',
                     '2024', '3', repeat('r', 1025))) AS long_value;
SELECT glue.create_partition('sales', 'orders', ARRAY['2024', '1']);    -- shows the hint
SELECT kg_try($$SELECT * FROM glue.get_partition('sales', 'orders', ARRAY['2024', '3', 'eu'])$$) AS missing;
SELECT glue.create_partition('sales', 'by_date', ARRAY['2024-02-28', '1.5', 'true']);
SELECT glue.create_partition('sales', 'by_date', ARRAY['2024-03-01', '20', 'false']);
SELECT glue.create_partition('sales', 'daily', ARRAY['9']);
SELECT glue.create_partition('sales', 'daily', ARRAY['10']);
SELECT glue.create_partition('sales', 'daily', ARRAY['09']);
-- the partition keys cannot change while there are partitions; comments can
SELECT kg_try($$SELECT glue.update_table('sales', 'daily', partition_keys => '[{"name": "day", "type": "int"}]')$$)
    AS retype,
       kg_try($$SELECT glue.update_table('sales', 'daily', partition_keys => '[{"name": "d", "type": "string"}]')$$)
    AS rename,
       kg_try($$SELECT glue.update_table('sales', 'daily', partition_keys => '[]')$$) AS drop_keys;
SELECT glue.update_table('sales', 'daily', partition_keys => '[{"name": "DAY", "type": "STRING", "comment": "c"}]');
SELECT partition_keys FROM glue.get_table('sales', 'daily');

--
-- The partition filter
--
CREATE FUNCTION glue_filter(tbl text, expr text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(array_to_string("values", '/'), ' ' ORDER BY "values"::text COLLATE "C"), '-')
      FROM glue.get_partitions('sales', tbl, expr)
$$;
SELECT e AS expression, glue_filter('orders', e) AS partitions
  FROM unnest(ARRAY[
    NULL, '', '   ',
    'year = 2024', 'year = ''2024''', 'YEAR=2024', 'year <> 2024', 'year != 2024',
    'month > 9', 'month > ''9''', 'month >= 10', 'month < 2', 'month <= 2', 'month = 01', 'month = 1.0',
    'region > ''eu''', 'region < ''eu''', 'region = ''eu''''west''',
    'year = 2024 AND month > 1', 'year = 2023 OR month = 1', 'year = 2023 OR month = 1 AND region = ''us''',
    '(year = 2023 OR month = 1) AND region = ''us''', 'NOT year = 2024', 'NOT (year = 2024 OR region = ''us'')',
    'NOT NOT year = 2024', 'month BETWEEN 2 AND 10', 'month NOT BETWEEN 2 AND 10',
    'month BETWEEN 2 AND 10 AND year = 2024', 'month IN (1, 12)', 'month IN (''1'')', 'month NOT IN (1, 12)',
    'region IN (''eu'', ''us'')', 'region LIKE ''e%''', 'region NOT LIKE ''e%''', 'region LIKE ''ap_south''',
    'month LIKE ''1%''', 'region IS NULL', 'region IS NOT NULL', '2024 = year', '1 = 1', '1 = 2', '10 > 9',
    '''10'' > ''9''', 'year = year', 'month < year', '((((year = 2023))))',
    'region = ''eu'''' OR ''''1''''=''''1''', 'region = ''x'' OR 1 = 1'
  ]) AS e;
-- a string key compares as text, a date key as a date, a decimal key as a number
SELECT e AS expression, glue_filter('daily', e) AS partitions
  FROM unnest(ARRAY['day > 9', 'day > ''9''', 'day = 9', 'day = 09', 'day BETWEEN 0 AND 5', 'day IN (9, 10)']) AS e;
SELECT e AS expression, glue_filter('by_date', e) AS partitions
  FROM unnest(ARRAY['dt > ''2024-02-28''', 'dt = ''2024-3-1''', 'dt BETWEEN ''2024-01-01'' AND ''2024-02-29''',
                    'amount < 2', 'amount = 1.50', 'amount > ''9''', 'flag = ''true''']) AS e;
-- errors: syntax, unknown keys, literals of the wrong type, hostile text
SELECT e AS expression, kg_try(format('SELECT glue_filter(%L, %L)', 'orders', e)) AS result
  FROM unnest(ARRAY[
    'year', 'year =', 'year = 2024 AND', 'AND year = 2024', '(year = 2024', 'year = 2024)', 'year 2024',
    'year IN ()', 'year IN (2024', 'year IN 2024', 'year BETWEEN 2024', 'year BETWEEN 2023 OR 2024',
    'year LIKE', 'year IS 5', 'year NOT = 5', 'year = = 5', 'year = 2024 year = 2023', 'day = 1',
    'year = ''twenty''', 'year > ''2024-01-01''', 'year = ''2024', '"year" = 2024', 'year = $1',
    'year = 2024; DROP TABLE glue.partitions', '1=1) OR (1=1', 'year = 2024 -- comment',
    'year = 2024 /* x */', 'pg_sleep(1) = 1', 'year = (SELECT 1)', 'region = E''\x41''',
    'region = ''a'' || ''b''', 'month = 1 + 1', 'year = 2024 UNION SELECT 1'
  ]) AS e;
SELECT * FROM glue.get_partitions('sales', 'orders', 'year = 2024; DROP TABLE glue.partitions');
SELECT * FROM glue.get_partitions('sales', 'orders', 'colour = ''red''');
SELECT * FROM glue.get_partitions('sales', 'orders', 'year = ''twenty''');
SELECT kg_try(format('SELECT glue_filter(%L, %L)', 'orders', repeat('(', 200) || 'year = 1' || repeat(')', 200)))
    AS deep,
       kg_try(format('SELECT glue_filter(%L, %L)', 'orders', 'region = ''' || repeat('x', 2040) || ''''))
    AS too_long,
       kg_try(format('SELECT glue_filter(%L, %L)', 'events', 'x = 1')) AS no_keys,
       kg_try(format('SELECT glue_filter(%L, %L)', 'nope', 'x = 1')) AS missing_table;
-- nothing was executed
SELECT count(*) AS partitions_left FROM glue.partitions;

--
-- update_partition, delete_partition, batch_delete_partition
--
SELECT glue.update_partition('sales', 'orders', ARRAY['2024', '1', 'eu'], location => '/moved',
                             parameters => '{"rows": "5"}');
SELECT glue.update_partition('sales', 'orders', ARRAY['2024', '2', 'us'], new_values => ARRAY['2024', '3', 'us']);
SELECT "values", location, parameters, last_update_time IS NOT NULL AS updated
  FROM glue.get_partitions('sales', 'orders', 'year = 2024 AND month < 4');
SELECT glue.update_partition('sales', 'orders', ARRAY['2024', '1', 'eu'], location => '');
SELECT location FROM glue.get_partition('sales', 'orders', ARRAY['2024', '1', 'eu']);
SELECT kg_try($$SELECT glue.update_partition('sales', 'orders', ARRAY['2024', '3', 'us'], ARRAY['2024', '1', 'eu'])$$)
           AS onto_existing,
       kg_try($$SELECT glue.update_partition('sales', 'orders', ARRAY['2024', '4', 'us'], location => 'x')$$)
           AS missing,
       kg_try($$SELECT glue.update_partition('sales', 'orders', ARRAY['2024', '3', 'us'], ARRAY['2024', 'x', 'us'])$$)
           AS bad_values,
       kg_try($$SELECT glue.update_partition('sales', 'orders', ARRAY['2024', '3', 'us'], parameters => '[]')$$)
           AS bad_parameters;
SELECT glue.delete_partition('sales', 'orders', ARRAY['2024', '3', 'us']);
SELECT kg_try($$SELECT glue.delete_partition('sales', 'orders', ARRAY['2024', '3', 'us'])$$) AS deleted_twice,
       kg_try($$SELECT glue.delete_partition('sales', 'orders', ARRAY['2024'])$$) AS wrong_count;
SELECT * FROM glue.batch_delete_partition('sales', 'orders', '[
    {"values": ["2023", "1", "eu"]}, {"values": ["2023", "1", "eu"]}, {"values": ["1999", "1", "eu"]},
    {"values": ["2023", "7", "us"]}, {"values": "2023"}, 7, {"values": ["2023", 12, "us"]}
  ]');
SELECT kg_try(format('SELECT * FROM glue.batch_delete_partition(%L, %L, %L)', 'sales', 'orders',
                     (SELECT jsonb_agg(jsonb_build_object('values', ARRAY['2000', i::text, 'x']))
                        FROM generate_series(1, 26) i))) AS too_many,
       kg_try($$SELECT * FROM glue.batch_delete_partition('sales', 'orders', NULL)$$) AS null_list;
SELECT glue_filter('orders', NULL) AS partitions;

--
-- Ownership: everybody reads; only owners (and their members) change
--
CREATE ROLE regress_glue_alice;
CREATE ROLE regress_glue_carol IN ROLE regress_glue_alice;
CREATE ROLE regress_glue_bob;
SET ROLE regress_glue_alice;
SELECT glue.create_database('alice_db');
SELECT glue.create_table('alice_db', 'logs', '[{"name": "line", "type": "string"}]',
                         '[{"name": "day", "type": "date"}]');
SELECT glue.create_partition('alice_db', 'logs', ARRAY['2024-01-01']);
-- (the superuser's name is replaced: it depends on the installation)
SELECT replace(kg_try($$SELECT glue.create_table('sales', 'by_alice', '[]')$$), session_user, 'superuser')
    AS not_her_database;
SELECT replace(kg_try($$SELECT glue.update_table('sales', 'orders', description => 'x')$$), session_user, 'superuser')
    AS not_her_table;
RESET ROLE;

SET ROLE regress_glue_bob;
-- bob reads everything
SELECT name, owner FROM glue.get_database('alice_db');
SELECT name, owner, version_id FROM glue.get_table('alice_db', 'logs');
SELECT "values" FROM glue.get_partitions('alice_db', 'logs', 'day >= ''2024-01-01''');
SELECT count(*) AS versions FROM glue.get_table_versions('alice_db', 'logs');
SELECT column_name, pg_type FROM glue.catalog_columns WHERE database_name = 'alice_db';
-- and changes nothing of alice's
SELECT kg_try($$SELECT glue.update_database('alice_db', 'mine')$$) AS update_database,
       kg_try($$SELECT glue.delete_database('alice_db')$$) AS delete_database,
       kg_try($$SELECT glue.create_table('alice_db', 'bobs', '[]')$$) AS create_table;
SELECT kg_try($$SELECT glue.update_table('alice_db', 'logs', description => 'mine')$$) AS update_table,
       kg_try($$SELECT glue.delete_table('alice_db', 'logs')$$) AS delete_table,
       kg_try($$SELECT glue.delete_table_version('alice_db', 'logs', 1)$$) AS delete_version;
SELECT kg_try($$SELECT glue.create_partition('alice_db', 'logs', ARRAY['2024-01-02'])$$) AS create_partition,
       kg_try($$SELECT glue.update_partition('alice_db', 'logs', ARRAY['2024-01-01'], location => '/x')$$)
           AS update_partition,
       kg_try($$SELECT glue.delete_partition('alice_db', 'logs', ARRAY['2024-01-01'])$$) AS delete_partition,
       kg_try($$SELECT * FROM glue.batch_create_partition('alice_db', 'logs', '[{"values": ["2024-01-03"]}]')$$)
           AS batch_create,
       kg_try($$SELECT * FROM glue.batch_delete_partition('alice_db', 'logs', '[{"values": ["2024-01-01"]}]')$$)
           AS batch_delete;
SELECT glue.update_table('alice_db', 'logs', description => 'mine');   -- the full message
-- not by direct DML either
WITH u AS (UPDATE glue.databases SET description = 'mine' WHERE database_name = 'alice_db' RETURNING 1)
SELECT count(*) AS databases_updated FROM u;
WITH u AS (UPDATE glue.tables SET description = 'mine' RETURNING 1) SELECT count(*) AS tables_updated FROM u;
WITH u AS (DELETE FROM glue.tables RETURNING 1) SELECT count(*) AS tables_deleted FROM u;
WITH u AS (DELETE FROM glue.partitions RETURNING 1) SELECT count(*) AS partitions_deleted FROM u;
WITH u AS (DELETE FROM glue.table_versions RETURNING 1) SELECT count(*) AS versions_deleted FROM u;
WITH u AS (DELETE FROM glue.databases RETURNING 1) SELECT count(*) AS databases_deleted FROM u;
SELECT kg_try($$UPDATE glue.tables SET owner = 'regress_glue_bob' WHERE table_name = 'logs'$$) AS take_owner,
       kg_try($$INSERT INTO glue.tables (database_id, table_name, owner, table_type, columns)
                SELECT database_id, 'sneaky', 'regress_glue_bob', 'EXTERNAL_TABLE', '[]'
                  FROM glue.databases WHERE database_name = 'alice_db'$$) AS insert_into_her_database,
       kg_try($$INSERT INTO glue.partitions (table_id, partition_values)
                SELECT table_id, '{2024-05-05}' FROM glue.tables WHERE table_name = 'logs'$$) AS insert_partition,
       kg_try($$INSERT INTO glue.databases (database_name, owner) VALUES ('as_alice', 'regress_glue_alice')$$)
           AS database_as_alice;
-- bob has his own database
SELECT glue.create_database('bob_db');
SELECT glue.create_table('bob_db', 'notes', '[]');
RESET ROLE;
SELECT description FROM glue.get_database('alice_db');
SELECT description, version_id FROM glue.get_table('alice_db', 'logs');
SELECT count(*) AS alice_partitions FROM glue.get_partitions('alice_db', 'logs');
SELECT count(*) AS alice_versions FROM glue.get_table_versions('alice_db', 'logs');

-- carol, a member of alice, acts for alice and owns what she creates
SET ROLE regress_glue_carol;
SELECT glue.update_table('alice_db', 'logs', description => 'by carol');
SELECT glue.create_partition('alice_db', 'logs', ARRAY['2024-01-02']);
SELECT glue.create_table('alice_db', 'carols', '[{"name": "x", "type": "int"}]', '[{"name": "k", "type": "string"}]');
SELECT glue.create_partition('alice_db', 'carols', ARRAY['a']);
SELECT glue.update_database('alice_db', description => 'shared');
RESET ROLE;
SELECT name, owner, description, version_id FROM glue.get_tables('alice_db');
-- alice cannot change carol's table, but deleting her database deletes it
SET ROLE regress_glue_alice;
SELECT kg_try($$SELECT glue.update_table('alice_db', 'carols', description => 'x')$$) AS carols_table;
SELECT glue.delete_database('alice_db');
RESET ROLE;
SELECT count(*) AS tables_left FROM glue.tables t
 WHERE NOT EXISTS (SELECT 1 FROM glue.databases d WHERE d.database_id = t.database_id);
SELECT name FROM glue.get_databases();

--
-- Deletes cascade
--
SELECT glue.delete_table('sales', 'by_date');
SELECT kg_try($$SELECT * FROM glue.get_table('sales', 'by_date')$$) AS deleted_table,
       kg_try($$SELECT glue.delete_table('sales', 'by_date')$$) AS deleted_twice;
SELECT count(*) AS orphans FROM glue.partitions p
 WHERE NOT EXISTS (SELECT 1 FROM glue.tables t WHERE t.table_id = p.table_id);
SELECT count(*) AS tables, (SELECT count(*) FROM glue.table_versions) AS versions,
       (SELECT count(*) FROM glue.partitions) AS partitions FROM glue.tables;
SELECT glue.delete_database('sales');
SET ROLE regress_glue_bob;
SELECT glue.delete_database('bob_db');
RESET ROLE;
SELECT count(*) AS databases, (SELECT count(*) FROM glue.tables) AS tables,
       (SELECT count(*) FROM glue.table_versions) AS versions,
       (SELECT count(*) FROM glue.partitions) AS partitions FROM glue.databases;
SELECT kg_try($$SELECT * FROM glue.get_tables('sales')$$) AS deleted_database;

-- clean up
DROP FUNCTION glue_filter(text, text);
DROP ROLE regress_glue_alice, regress_glue_bob, regress_glue_carol;
