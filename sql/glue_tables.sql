--
-- glue_tables: queryable catalog tables (src/glue/relations.sql and
-- file_reader.c): views in glue_tables over CSV / JSON lines files (gzip
-- too) with partitions from the folders, over data streams and over local
-- tables; kept in step with the catalog; rights.
-- Files go under /tmp/kg_regress_glue_tables (removed at the start and end).
--
\set VERBOSITY default
\! rm -rf /tmp/kg_regress_glue_tables
\! mkdir -p /tmp/kg_regress_glue_tables/orders/year=2024/region=eu /tmp/kg_regress_glue_tables/orders/year=2024/region=us /tmp/kg_regress_glue_tables/orders/year=2025/region=eu /tmp/kg_regress_glue_tables/events/2024/click
\set dir /tmp/kg_regress_glue_tables
\set f1 :dir /orders/year=2024/region=eu/part-0.csv
\set f2 :dir /orders/year=2025/region=eu/part-2.csv
\set f3 :dir /orders/year=2025/region=eu/.part-3.csv.kgtmp
\set f4 :dir /orders/_SUCCESS
\set f5 :dir /events/2024/click/events.jsonl
\set f6 :dir /events/2024/click/more.jsonl

-- files: CSV with a header in Hive-style partitions, one of them gzip'd
COPY (SELECT * FROM (VALUES (1, 'apple', 1.5, '2024-01-02 10:00:00'), (2, 'pear, green', NULL, NULL)) v)
  TO :'f1' (FORMAT csv, HEADER);
COPY (SELECT 3, 'say "hi"', 3.25, '2024-05-06 07:08:09') TO PROGRAM 'gzip > /tmp/kg_regress_glue_tables/orders/year=2024/region=us/part-1.csv.gz'
  (FORMAT csv, HEADER);
COPY (SELECT 4, E'two\nlines', 0, NULL) TO :'f2' (FORMAT csv, HEADER);
-- temporary and marker files are not data
COPY (SELECT 'not data') TO :'f3';
COPY (SELECT 'not data') TO :'f4';

SELECT glue.create_database('shop');
SELECT glue.create_table('shop', 'orders',
    columns => '[{"name": "id", "type": "bigint"}, {"name": "item", "type": "string"},
                 {"name": "price", "type": "decimal(10,2)"}, {"name": "sold_at", "type": "timestamp"}]',
    partition_keys => '[{"name": "year", "type": "int"}, {"name": "region", "type": "string"}]',
    location => :'dir' || '/orders', classification => 'csv',
    parameters => '{"skip.header.line.count": "1"}');
SELECT glue.table_relation('shop', 'orders');
\d glue_tables.shop_orders
SELECT * FROM glue_tables.shop_orders ORDER BY id;
SELECT year, region, count(*), sum(price) FROM glue_tables.shop_orders GROUP BY 1, 2 ORDER BY 1, 2;

-- JSON lines: nested values, keys in any case, partitions by position, bad lines skipped
COPY (SELECT line FROM (VALUES
        (1, '{"user": "ann", "n": 1, "tags": ["a", "b"], "geo": {"lat": 1.5}}'),
        (2, '{"USER": "bob", "n": 2.5}'),
        (3, 'not json'),
        (4, '[1, 2]'),
        (5, '{"user": "cy", "n": null, "extra": true}')) v(o, line) ORDER BY o)
  TO :'f5' (FORMAT text);
SELECT glue.create_table('shop', 'events',
    columns => '[{"name": "user", "type": "string"}, {"name": "n", "type": "double"},
                 {"name": "tags", "type": "array<string>"}, {"name": "geo", "type": "struct<lat:double>"}]',
    partition_keys => '[{"name": "partition_0", "type": "string"}, {"name": "partition_1", "type": "string"}]',
    location => :'dir' || '/events', classification => 'json');
SELECT * FROM glue_tables.shop_events ORDER BY n NULLS LAST;

-- a value that does not fit its type names the file and line
COPY (SELECT '{"user": "dan", "n": "many"}') TO :'f6';
SELECT count(*) FROM glue_tables.shop_events;
\! rm /tmp/kg_regress_glue_tables/events/2024/click/more.jsonl

-- the view follows the catalog: a new column, a new classification, deletion
SELECT glue.update_table('shop', 'events',
    columns => '[{"name": "user", "type": "string"}, {"name": "n", "type": "double"},
                 {"name": "extra", "type": "boolean"}]');
SELECT "user", n, extra FROM glue_tables.shop_events ORDER BY n NULLS LAST;
SELECT glue.update_table('shop', 'events', classification => 'parquet');
SELECT glue.table_relation('shop', 'events') AS no_relation;
SELECT glue.update_table('shop', 'events', classification => 'json');
SELECT count(*) FROM glue_tables.shop_events;
SELECT glue.delete_table('shop', 'events');
SELECT to_regclass('glue_tables.shop_events') AS dropped;

-- a location that does not exist yet is an empty table; no location, no relation
SELECT glue.create_table('shop', 'later', columns => '[{"name": "a", "type": "int"}]',
    location => :'dir' || '/later', classification => 'csv');
SELECT count(*) FROM glue_tables.shop_later;
SELECT glue.create_table('shop', 'nowhere', columns => '[{"name": "a", "type": "int"}]');
SELECT glue.table_relation('shop', 'nowhere') AS no_relation;
SELECT kg_try($$SELECT glue.update_table('shop', 'later', parameters => '{"delimiter": "ab"}')$$);

-- a data stream, read where it is
SELECT kinesis.create_stream('gt_clicks', 1);
SELECT count(*) FROM kinesis.put_records('gt_clicks', ARRAY['k', 'k', 'k'],
    ARRAY['{"page": "/", "ms": 12}', 'garbage', '{"page": "/about", "ms": 7}']::text[]::bytea[]);
SELECT glue.create_table('shop', 'clicks',
    columns => '[{"name": "page", "type": "string"}, {"name": "ms", "type": "int"}]',
    location => 'kinesis://gt_clicks', classification => 'json');
SELECT * FROM glue_tables.shop_clicks ORDER BY ms;

-- a local table, read where it is
CREATE TABLE gt_local (a int, "B Column" text, c date);
INSERT INTO gt_local VALUES (1, 'x', '2024-01-01');
SELECT glue.create_table('shop', 'local_copy',
    columns => '[{"name": "a", "type": "bigint"}, {"name": "b_column", "type": "string"}, {"name": "z", "type": "int"}]',
    location => 'postgresql://public/gt_local');
SELECT * FROM glue_tables.shop_local_copy;

-- hostile names and locations stay data
SELECT kg_try($$SELECT glue.create_table('shop', 'x"; DROP TABLE gt_local; --', columns => '[]')$$);
SELECT glue.create_table('shop', 'quoted',
    columns => '[{"name": "a", "type": "string"}]',
    location => :'dir' || '/it''s here', classification => 'csv');
SELECT count(*) FROM glue_tables.shop_quoted;
SELECT count(*) AS still_there FROM gt_local;

-- a name taken by another relation: the table is not queryable, with a warning
SELECT glue.create_database('shop_a');
CREATE VIEW glue_tables.shop_a_squat AS SELECT 1 AS one;
SELECT kg_try($$SELECT glue.create_table('shop_a', 'squat', columns => '[{"name": "a", "type": "int"}]',
                                          location => '/tmp', classification => 'csv')$$);
DROP VIEW glue_tables.shop_a_squat;
-- a view that cannot be built is a warning: the catalog change stands
SELECT glue.create_table('shop_a', 'uncastable', columns => '[{"name": "c", "type": "int"}]',
                         location => 'postgresql://public/gt_local');
SELECT glue.table_relation('shop_a', 'uncastable') AS no_relation, name FROM glue.get_table('shop_a', 'uncastable');
-- a source that is gone: no relation
SELECT glue.create_table('shop_a', 'gone', columns => '[{"name": "a", "type": "int"}]',
                         location => 'postgresql://public/no_such_table');
SELECT glue.table_relation('shop_a', 'gone') AS no_relation;

-- rights: the querying role needs pg_read_server_files for file tables;
-- a view reads streams and tables with its owner's privileges
CREATE ROLE regress_gt_reader;
GRANT SELECT ON glue_tables.shop_orders, glue_tables.shop_local_copy TO regress_gt_reader;
SET ROLE regress_gt_reader;
SELECT kg_try($$SELECT count(*) FROM glue_tables.shop_orders$$);
SELECT kg_try($$SELECT count(*) FROM glue.read_files('/etc', 'csv', '{a}', '{}') AS f(a text)$$);
SELECT count(*) FROM glue_tables.shop_local_copy;
RESET ROLE;
GRANT pg_read_server_files TO regress_gt_reader;
SET ROLE regress_gt_reader;
SELECT count(*) FROM glue_tables.shop_orders;
RESET ROLE;

-- read_files on its own: arguments
SELECT kg_try($$SELECT * FROM glue.read_files('relative', 'csv', '{a}', '{}') AS f(a text)$$);
SELECT kg_try($$SELECT * FROM glue.read_files('/tmp', 'xml', '{a}', '{}') AS f(a text)$$);
SELECT kg_try($$SELECT * FROM glue.read_files('/tmp', 'csv', '{a}', '{}', false, ';;') AS f(a text)$$);
SELECT kg_try($$SELECT * FROM glue.read_files('/tmp', 'csv', '{a,b}', '{}') AS f(a text)$$);
SELECT a, b FROM glue.read_files(:'f1', 'csv', '{a,b}', '{}', true)
    AS f(a int, b text);

-- a view over a relation and a grant on it survive a change that keeps the columns;
-- a view that others depend on is left when its table is deleted, with a warning
GRANT SELECT ON glue_tables.shop_orders TO regress_gt_reader;
CREATE VIEW public.gt_dep AS SELECT id FROM glue_tables.shop_orders;
SELECT glue.update_table('shop', 'orders', location => :'dir' || '/orders/year=2024/..', description => 'moved');
SELECT glue.update_table('shop', 'orders', location => :'dir' || '/orders');
SELECT count(*) AS through_dependent_view FROM public.gt_dep;
SELECT has_table_privilege('regress_gt_reader', 'glue_tables.shop_orders', 'SELECT') AS grant_kept;
SELECT glue.delete_table('shop', 'orders');
SELECT to_regclass('glue_tables.shop_orders') AS left_behind;
DROP VIEW public.gt_dep, glue_tables.shop_orders;

-- deleting the database drops its tables' views
SELECT glue.delete_database('shop');
SELECT count(*) AS views_left FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'glue_tables';
SELECT glue.delete_database('shop_a');
SELECT kinesis.delete_stream('gt_clicks');
DROP TABLE gt_local;
DROP ROLE regress_gt_reader;
\! rm -rf /tmp/kg_regress_glue_tables
