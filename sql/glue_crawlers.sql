--
-- glue_crawlers: the crawler API (src/glue/crawlers.sql) and its errors,
--   states READY / RUNNING / STOPPING inside one transaction (the worker
--   cannot see an uncommitted crawl), rights of owners and other roles,
--   hostile names, and the C helpers of inference (type widening, JSON
--   records, exclusion globs).  Crawls over files, tables and streams run
--   by the worker are tested in test/t/050_glue_crawlers.pl.
-- Roles are regress_crawl_*, dropped at the end.
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
-- Type widening and inference helpers
--
SELECT a, b, glue._widen_type(a, b) AS widened
  FROM (VALUES ('bigint', 'bigint'), ('bigint', 'double'), ('double', 'bigint'), ('double', 'string'),
               ('date', 'timestamp'), ('boolean', 'bigint'), (NULL, 'date'), ('bigint', NULL),
               ('array<bigint>', 'array<double>'), ('array<bigint>', 'bigint'),
               ('struct<a:bigint>', 'struct<b:string,a:double>'), ('struct<a:bigint>', 'string'),
               ('int', 'decimal(10,2)'), ('not a type', 'bigint')) AS v(a, b);
SELECT glue._infer_records(ARRAY[convert_to('{"id": 1, "name": "a", "at": "2024-01-02T03:04:05Z", "day": "2024-01-02"}', 'UTF8'),
                                 convert_to('{"id": 2.5, "Name": "b", "nested": {"x": [1, 2.5]}, "flag": true}', 'UTF8'),
                                 convert_to('{"id": "three"}', 'UTF8')], 100) AS widened_to_string;
-- malformed records are counted, never fatal
SELECT glue._infer_records(ARRAY[convert_to('{"ok": 1}', 'UTF8'), convert_to('not json', 'UTF8'),
                                 convert_to('[1, 2]', 'UTF8'), '\xff00ff'::bytea,
                                 convert_to(repeat('[', 100) || repeat(']', 100), 'UTF8'),
                                 convert_to('{"a": "\u0000"}', 'UTF8'), NULL], 100) AS counted;
-- hostile keys become plain column names
SELECT jsonb_path_query_array(glue._infer_records(ARRAY[convert_to(
           '{"x\"; DROP TABLE glue.tables; --": 1, "Ünï Côde": 2, "": 3, "a b": {"C-d": 4}}', 'UTF8')], 10),
       '$.columns[*]') AS folded;
SELECT glue._infer_records('{}', 10) AS nothing;
-- exclusion globs
SELECT p, s, glue._glob_match(p, s) AS matches
  FROM (VALUES ('*.csv', 'a.csv'), ('*.csv', 'x/a.csv'), ('**/*.csv', 'x/y/a.csv'), ('**/*.csv', 'a.csv'),
               ('**/tmp/**', 'a/tmp/b/c.json'), ('tmp/**', 'tmp/x'), ('?.json', 'a.json'), ('?.json', 'ab.json'),
               ('[a-c]*.gz', 'b1.gz'), ('[!a-c]*.gz', 'b1.gz'), ('*.{csv,json}', 'x.json'), ('*.{csv,json}', 'x.txt'),
               ('a\*b', 'a*b'), ('a\*b', 'axb'), ('[unclosed', '[unclosed')) AS v(p, s);
SELECT glue._glob_match(repeat('*a', 30) || 'b', repeat('a', 200)) AS pathological_pattern_gives_up;

--
-- create, get, list
--
SELECT glue.create_database('crawl_db');
SELECT glue.create_crawler('files', 'CRAWL_DB', '{"directory_targets": [{"path": "/tmp/crawl", "exclusions": ["**/tmp/**"]}]}',
                           table_prefix => 'Raw_', configuration => '{"sample_rows": 50, "csv_header": "PRESENT"}',
                           description => 'the landing area');
SELECT glue.create_crawler('tables', 'crawl_db', '{"table_targets": [{"schema": "public", "tables": ["t%"]}]}',
                           schema_change_policy => '{"update_behavior": "LOG", "delete_behavior": "DELETE_FROM_DATABASE"}');
SELECT glue.create_crawler('streams', 'crawl_db', '{"kinesis_targets": [{"stream_name": "clicks"}]}',
                           schema_change_policy => '{"update_behavior": "LOG", "delete_behavior": "LOG"}',
                           recrawl_policy => 'CRAWL_NEW_FOLDERS_ONLY');
SELECT name, database_name, owner = current_user::regrole AS mine, description, targets, schedule, table_prefix,
       schema_change_policy, recrawl_policy, configuration, state, last_crawl, version
  FROM glue.get_crawler('files');
SELECT name, state, schema_change_policy, recrawl_policy FROM glue.get_crawlers();
SELECT * FROM glue.list_crawlers();
SELECT * FROM glue.crawler_progress;
SELECT crawler_name, time_left_seconds, still_estimating, last_runtime_seconds, median_runtime_seconds,
       tables_created, tables_updated, tables_deleted
  FROM glue.get_crawler_metrics();
SELECT crawler_name FROM glue.get_crawler_metrics(ARRAY['tables']);
SELECT count(*) FROM glue.list_crawls('files');

--
-- errors of create
--
SELECT kg_try($$SELECT glue.create_crawler('files', 'crawl_db', '{"table_targets": [{"schema": "public"}]}')$$) AS duplicate;
SELECT kg_try($$SELECT glue.create_crawler('x', 'nope', '{"table_targets": [{"schema": "public"}]}')$$) AS no_database;
SELECT kg_try(format('SELECT glue.create_crawler(%L, %L, %L)', n, 'crawl_db', '{"table_targets": [{"schema": "public"}]}')) AS bad_name
  FROM unnest(ARRAY['', repeat('n', 256), E'tab\there', NULL]) AS n;
SELECT t AS targets, kg_try(format('SELECT glue.create_crawler(%L, %L, %L)', 'x', 'crawl_db', t)) AS result
  FROM unnest(ARRAY['{}', '[]', '{"s3_targets": []}', '{"directory_targets": {}}', '{"directory_targets": []}',
                    '{"directory_targets": [{"path": "relative/dir"}]}', '{"directory_targets": [{"path": "/a/../etc"}]}',
                    '{"directory_targets": [{"path": "/a/./b"}]}', '{"directory_targets": [{"path": "/a//b"}]}',
                    '{"directory_targets": [{"path": "/a", "exclusions": "*.tmp"}]}',
                    '{"directory_targets": [{"path": "/a", "exclusions": [1]}]}',
                    '{"directory_targets": [{"path": "/a", "sample_files": 250}]}',
                    '{"directory_targets": [{"path": "/a", "connection": "x"}]}',
                    '{"table_targets": [{"tables": ["t"]}]}', '{"table_targets": [{"schema": "s", "tables": "t"}]}',
                    '{"kinesis_targets": [{"stream": "s"}]}']) AS t;
SELECT kg_try(format('SELECT glue.create_crawler(%L, %L, %L, %s)', 'x', 'crawl_db', '{"table_targets": [{"schema": "public"}]}', a))
           AS result
  FROM unnest(ARRAY['table_prefix => ''bad-prefix''', 'table_prefix => NULL',
                    'schema_change_policy => ''{"update_behavior": "DROP"}''',
                    'schema_change_policy => ''{"delete_behavior": "UPDATE_IN_DATABASE"}''',
                    'schema_change_policy => ''{"other": "LOG"}''', 'schema_change_policy => ''[]''',
                    'recrawl_policy => ''CRAWL_EVENT_MODE''', 'recrawl_policy => ''CRAWL_NEW_FOLDERS_ONLY''',
                    'configuration => ''{"sample_rows": 0}''', 'configuration => ''{"sample_bytes": 1.5}''',
                    'configuration => ''{"table_level": 17}''', 'configuration => ''{"csv_header": "MAYBE"}''',
                    'configuration => ''{"Grouping": {}}''', 'configuration => ''[]''',
                    'schedule => ''cron(0 12 * * ? *)''', 'description => repeat(''d'', 2049)']) AS a;

--
-- states: a crawl is only seen by the worker once committed, so these run
-- in transactions that roll back
--
BEGIN;
SELECT glue.start_crawler('tables') > 0 AS started;
SELECT name, state FROM glue.get_crawler('tables');
SELECT crawler_name, state, phase, files_done, files_total FROM glue.crawler_progress;
SELECT crawler_name, still_estimating FROM glue.get_crawler_metrics(ARRAY['tables']);
SELECT kg_try($$SELECT glue.start_crawler('tables')$$) AS second_start;
SELECT kg_try($$SELECT glue.update_crawler('tables', description => 'x')$$) AS update_while_running;
SELECT kg_try($$SELECT glue.delete_crawler('tables')$$) AS delete_while_running;
SELECT glue.stop_crawler('tables');
SELECT name, state FROM glue.get_crawler('tables');
SELECT kg_try($$SELECT glue.stop_crawler('tables')$$) AS second_stop;
SELECT kg_try($$SELECT glue.start_crawler('tables')$$) AS start_while_stopping;
SELECT state FROM glue.list_crawls('tables');
ROLLBACK;
SELECT kg_try($$SELECT glue.stop_crawler('tables')$$) AS stop_when_ready;
SELECT kg_try($$SELECT glue.start_crawler('nope')$$) AS start_missing,
       kg_try($$SELECT glue.stop_crawler('nope')$$) AS stop_missing,
       kg_try($$SELECT * FROM glue.get_crawler('nope')$$) AS get_missing,
       kg_try($$SELECT glue.delete_crawler('nope')$$) AS delete_missing,
       kg_try($$SELECT * FROM glue.list_crawls('nope')$$) AS crawls_missing;
-- one active crawl per crawler, even written directly
BEGIN;
INSERT INTO glue.crawls (crawler_id) SELECT crawler_id FROM glue.crawlers WHERE crawler_name = 'tables';
SELECT kg_try($$INSERT INTO glue.crawls (crawler_id) SELECT crawler_id FROM glue.crawlers WHERE crawler_name = 'tables'$$)
    AS second_active;
ROLLBACK;

--
-- update
--
SELECT glue.update_crawler('files', description => '', table_prefix => 'x_',
                           schema_change_policy => '{"delete_behavior": "LOG"}', configuration => '{}');
SELECT description, table_prefix, schema_change_policy, configuration, version FROM glue.get_crawler('files');
SELECT glue.update_crawler('files', targets => '{"directory_targets": [{"path": "/tmp/other/"}]}');
SELECT targets FROM glue.get_crawler('files');
SELECT kg_try($$SELECT glue.update_crawler('files', recrawl_policy => 'CRAWL_NEW_FOLDERS_ONLY')$$) AS needs_log;
SELECT glue.update_crawler('files', recrawl_policy => 'CRAWL_NEW_FOLDERS_ONLY',
                           schema_change_policy => '{"update_behavior": "LOG", "delete_behavior": "LOG"}');
SELECT schema_change_policy, recrawl_policy, version FROM glue.get_crawler('files');
SELECT kg_try($$SELECT glue.update_crawler('files', targets => '{}')$$) AS bad_targets,
       kg_try($$SELECT glue.update_crawler('files', database_name => 'nope')$$) AS bad_database,
       kg_try($$SELECT glue.update_crawler('files', schedule => '*/5 * * * *')$$) AS no_pg_cron,
       kg_try($$SELECT glue.update_crawler_schedule('files', '0 3 * * *')$$) AS no_pg_cron_either;
-- removing a schedule that was never set needs no pg_cron
SELECT glue.update_crawler_schedule('files', NULL);
SELECT glue._cron_expression('cron(15 12 * * ? *)') AS daily, glue._cron_expression('cron(0/10 * ? * MON-FRI *)') AS weekdays,
       glue._cron_expression(' 5 4 * * * ') AS plain;
SELECT kg_try($$SELECT glue._cron_expression('cron(0 12 * * ? 2030)')$$) AS with_year,
       kg_try($$SELECT glue._cron_expression('cron(0 12 *)')$$) AS too_short;

--
-- roles: owners, other roles, file rights
--
CREATE ROLE regress_crawl_owner;
CREATE ROLE regress_crawl_other;
CREATE ROLE regress_crawl_reader IN ROLE pg_read_server_files;
GRANT USAGE ON SCHEMA glue, kinesis_glue TO regress_crawl_owner, regress_crawl_other, regress_crawl_reader;
SET ROLE regress_crawl_owner;
SELECT glue.create_database('owner_db');
SELECT glue.create_crawler('owned', 'owner_db', '{"table_targets": [{"schema": "public"}]}');
-- reading server files needs pg_read_server_files
SELECT kg_try($$SELECT glue.create_crawler('files2', 'owner_db', '{"directory_targets": [{"path": "/tmp"}]}')$$) AS no_file_rights;
SELECT kg_try($$SELECT glue.update_crawler('owned', targets => '{"directory_targets": [{"path": "/tmp"}]}')$$) AS no_file_rights_update;
SELECT kg_try($$SELECT * FROM glue._list_files('/tmp', NULL, 10)$$) AS list_files,
       kg_try($$SELECT glue._sample_file('/etc/passwd', 100, 10, 'UNKNOWN')$$) AS sample_file;
-- another role's database
SELECT kg_try($$SELECT glue.create_crawler('x', 'crawl_db', '{"table_targets": [{"schema": "public"}]}')$$) AS foreign_database;
SET ROLE regress_crawl_other;
SELECT name, state FROM glue.get_crawler('owned');
SELECT kg_try($$SELECT glue.update_crawler('owned', description => 'mine now')$$) AS update_other,
       kg_try($$SELECT glue.delete_crawler('owned')$$) AS delete_other,
       kg_try($$SELECT glue.start_crawler('owned')$$) AS start_other,
       kg_try($$SELECT glue.stop_crawler('owned')$$) AS stop_other,
       kg_try($$UPDATE glue.crawlers SET description = 'x' WHERE crawler_name = 'owned'$$) AS direct_update,
       kg_try($$INSERT INTO glue.crawls (crawler_id) SELECT crawler_id FROM glue.crawlers WHERE crawler_name = 'owned'$$) AS direct_start;
SELECT count(*) AS rows_changed FROM glue.crawlers WHERE description IS NOT NULL AND crawler_name = 'owned';
SET ROLE regress_crawl_reader;
SELECT glue.create_database('reader_db');
SELECT glue.create_crawler('reader', 'reader_db', '{"directory_targets": [{"path": "/nonexistent/dir"}]}');
SELECT kg_try($$SELECT * FROM glue._list_files('/nonexistent/dir', NULL, 10)$$) AS missing_dir,
       kg_try($$SELECT * FROM glue._list_files('/tmp/../etc', NULL, 10)$$) AS dot_dot,
       kg_try($$SELECT * FROM glue._list_files('tmp', NULL, 10)$$) AS relative;
SELECT glue._sample_file('/nonexistent/file.csv', 100, 10, 'UNKNOWN') AS unreadable_is_reported;
RESET ROLE;
-- the owner lost the right: starting is refused
REVOKE pg_read_server_files FROM regress_crawl_reader;
SET ROLE regress_crawl_reader;
SELECT kg_try($$SELECT glue.start_crawler('reader')$$) AS start_without_rights;
RESET ROLE;

--
-- hostile names are values, never SQL
--
SELECT glue.create_crawler($$x'); DROP TABLE glue.crawlers; --$$, 'crawl_db',
                           '{"table_targets": [{"schema": "x''; DROP TABLE glue.tables; --"}]}');
SELECT name, targets FROM glue.get_crawler($$x'); DROP TABLE glue.crawlers; --$$);
SELECT glue.delete_crawler($$x'); DROP TABLE glue.crawlers; --$$);

--
-- delete
--
SELECT glue.delete_crawler('streams');
SELECT * FROM glue.list_crawlers();
SELECT kg_try($$SELECT glue.delete_crawler('streams')$$) AS deleted_twice;
SELECT glue.delete_crawler(n) FROM glue.list_crawlers() AS n;
SELECT glue.delete_database(d) FROM unnest(ARRAY['crawl_db', 'owner_db', 'reader_db']) AS d;
DROP OWNED BY regress_crawl_owner, regress_crawl_other, regress_crawl_reader;
DROP ROLE regress_crawl_owner, regress_crawl_other, regress_crawl_reader;
