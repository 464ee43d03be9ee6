-- pgTAP: the SQL surface of kinesis_glue (schemas, types, Data Streams
-- functions of DESIGN.md with their argument types).  Run by ./test.sh with
-- pg_prove in a database where pgtap and kinesis_glue are installed.
--
-- Every function of DESIGN.md's Data Streams interface is checked here.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SELECT plan(45);

-- Extension and schemas ------------------------------------------------------
SELECT has_extension('kinesis_glue', 'extension kinesis_glue is installed');
SELECT has_schema('kinesis', 'schema kinesis');
SELECT has_schema('kinesis_glue', 'schema kinesis_glue');
SELECT has_schema('kinesis_records', 'schema kinesis_records');
SELECT has_schema('firehose', 'schema firehose');
SELECT has_schema('glue', 'schema glue');
SELECT has_schema('kinesis_video', 'schema kinesis_video');
SELECT ok(has_schema_privilege('public', 'kinesis', 'USAGE'), 'PUBLIC may use schema kinesis');
SELECT ok(NOT has_schema_privilege('public', 'kinesis_segments', 'USAGE'),
          'PUBLIC may not use the internal schema kinesis_segments');

-- Types ---------------------------------------------------------------------
SELECT has_type('kinesis', 'record', 'type kinesis.record');
SELECT has_type('kinesis', 'get_records_result', 'type kinesis.get_records_result');
SELECT has_type('kinesis', 'put_records_entry', 'type kinesis.put_records_entry');
SELECT is(
    (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
       FROM pg_attribute WHERE attrelid = 'kinesis.record'::regclass AND attnum > 0),
    'shard_id text, sequence_number bigint, approximate_arrival_timestamp timestamp with time zone, partition_key text, data bytea',
    'kinesis.record has the columns of DESIGN.md');
SELECT is(
    (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
       FROM pg_attribute WHERE attrelid = 'kinesis.get_records_result'::regclass AND attnum > 0),
    'records kinesis.record[], next_shard_iterator text, millis_behind_latest bigint, child_shards text[]',
    'kinesis.get_records_result has the columns of DESIGN.md');
SELECT is(
    (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
       FROM pg_attribute WHERE attrelid = 'kinesis.put_records_entry'::regclass AND attnum > 0),
    'partition_key text, data bytea, explicit_hash_key numeric',
    'kinesis.put_records_entry has the columns of DESIGN.md');

-- Views of the administration and observability -----------------------------
SELECT has_view('kinesis_glue', 'workers', 'view kinesis_glue.workers');
SELECT has_view('kinesis', 'stream_stability', 'view kinesis.stream_stability');

-- Data Streams: control plane -----------------------------------------------
SELECT has_function('kinesis', 'create_stream', ARRAY['text', 'integer', 'text', 'interval']);
SELECT has_function('kinesis', 'delete_stream', ARRAY['text', 'boolean']);
SELECT has_function('kinesis', 'list_streams', ARRAY[]::name[]);
SELECT has_function('kinesis', 'describe_stream_summary', ARRAY['text']);
SELECT has_function('kinesis', 'list_shards', ARRAY['text']);
SELECT has_function('kinesis', 'increase_stream_retention_period', ARRAY['text', 'interval']);
SELECT has_function('kinesis', 'decrease_stream_retention_period', ARRAY['text', 'interval']);

-- Data Streams: data plane --------------------------------------------------
SELECT has_function('kinesis', 'put_record', ARRAY['text', 'text', 'bytea', 'numeric', 'bigint']);
SELECT has_function('kinesis', 'put_records', ARRAY['text', 'kinesis.put_records_entry[]']);
SELECT has_function('kinesis', 'put_records', ARRAY['text', 'text[]', 'bytea[]']);
SELECT has_function('kinesis', 'get_shard_iterator',
                    ARRAY['text', 'text', 'text', 'bigint', 'timestamp with time zone']);
SELECT has_function('kinesis', 'get_records', ARRAY['text', 'integer']);
SELECT has_function('kinesis', 'read_shard', ARRAY['text', 'text', 'bigint', 'integer']);
SELECT function_returns('kinesis', 'get_records', ARRAY['text', 'integer'],
                        'kinesis.get_records_result');
SELECT function_returns('kinesis', 'read_shard', ARRAY['text', 'text', 'bigint', 'integer'],
                        'setof kinesis.record');
SELECT function_returns('kinesis', 'get_shard_iterator',
                        ARRAY['text', 'text', 'text', 'bigint', 'timestamp with time zone'], 'text');
SELECT is(
    (SELECT pg_get_function_identity_arguments('kinesis.get_records(text, integer)'::regprocedure)),
    'shard_iterator text, "limit" integer',
    'kinesis.get_records has the argument names of DESIGN.md');

-- Data Streams: resharding, consumers, mappings ------------------------------
SELECT has_function('kinesis', 'split_shard', ARRAY['text', 'text', 'numeric']);
SELECT has_function('kinesis', 'merge_shards', ARRAY['text', 'text', 'text']);
SELECT has_function('kinesis', 'update_shard_count', ARRAY['text', 'integer', 'text']);
SELECT has_function('kinesis', 'update_stream_mode', ARRAY['text', 'text']);
SELECT has_function('kinesis', 'register_stream_consumer',
                    ARRAY['text', 'text', 'text', 'timestamp with time zone']);
SELECT has_function('kinesis', 'deregister_stream_consumer', ARRAY['text', 'text']);
SELECT has_function('kinesis', 'list_stream_consumers', ARRAY['text']);
SELECT has_function('kinesis', 'consume', ARRAY['text', 'text', 'integer', 'interval']);
SELECT has_function('kinesis', 'checkpoint', ARRAY['text', 'text', 'text', 'bigint']);
SELECT has_function('kinesis', 'create_event_source_mapping',
                    ARRAY['text', 'regproc', 'integer', 'interval', 'text', 'timestamp with time zone',
                          'integer', 'integer', 'interval', 'boolean', 'text']);

-- Nothing of ours is SECURITY DEFINER (DESIGN.md, access control) ----------
SELECT is(
    (SELECT count(*)::int FROM pg_proc p JOIN pg_depend d
            ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
            JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'kinesis_glue'
      WHERE p.prosecdef),
    0, 'no function of kinesis_glue is SECURITY DEFINER');

SELECT * FROM finish();
ROLLBACK;
