--
-- mappings: the SQL surface of event source mappings.
--   create_event_source_mapping (its checks), update_event_source_mapping,
--   enable/disable_event_source_mapping, delete_event_source_mapping and the
--   kinesis.event_source_mapping_status view.
-- The runners (background workers) start on their own for every enabled
-- mapping; running a mapping is timing-dependent and is covered by
-- test/t/031_mappings.pl.  Here no record is ever put after a mapping is
-- created (every mapping starts at LATEST or on an empty stream), so the
-- runners have nothing to do and the columns they write
-- (last_processing_result, ...) stay NULL.  Mapping ids are never printed.
-- Streams of this file are named 'esm.*'; roles are regress_kg_esm_*,
-- dropped at the end.
--
\set VERBOSITY default

CREATE ROLE regress_kg_esm_owner;
CREATE ROLE regress_kg_esm_member IN ROLE regress_kg_esm_owner;
CREATE ROLE regress_kg_esm_other;
GRANT CREATE ON SCHEMA kinesis_records TO regress_kg_esm_owner;
CREATE SCHEMA esm;
GRANT USAGE ON SCHEMA esm TO PUBLIC;

-- mapping functions: one kinesis.record[] argument, returning void or
-- bigint (the sequence number of the first record that failed)
CREATE TABLE esm.sink (shard_id text, sequence_number bigint, data bytea);
GRANT INSERT ON esm.sink TO regress_kg_esm_owner;
CREATE FUNCTION esm.handle(batch kinesis.record[]) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO esm.sink SELECT r.shard_id, r.sequence_number, r.data FROM unnest(batch) r $$;
CREATE FUNCTION esm.handle_partial(batch kinesis.record[]) RETURNS bigint LANGUAGE sql
    AS $$ SELECT NULL::bigint $$;
CREATE FUNCTION esm.handle_private(batch kinesis.record[]) RETURNS void LANGUAGE sql AS $$ SELECT $$;
REVOKE EXECUTE ON FUNCTION esm.handle_private(kinesis.record[]) FROM PUBLIC;
-- wrong shapes
CREATE FUNCTION esm.no_args() RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION esm.one_record(r kinesis.record) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION esm.bytea_array(d bytea[]) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION esm.two_args(batch kinesis.record[], extra int) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION esm.with_default(batch kinesis.record[], extra int DEFAULT 0) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE PROCEDURE esm.a_procedure(batch kinesis.record[]) LANGUAGE sql AS $$ SELECT $$;
CREATE AGGREGATE esm.an_aggregate(kinesis.record[]) (sfunc = array_cat, stype = kinesis.record[]);

-- failure destinations: a table, a stream, and what is neither
CREATE TABLE esm.dlq (details jsonb);
CREATE TABLE esm.dlq_private (details jsonb);
CREATE VIEW esm.dlq_view AS SELECT * FROM esm.dlq;
GRANT INSERT ON esm.dlq TO regress_kg_esm_owner;

SET ROLE regress_kg_esm_owner;
SELECT kinesis.create_stream('esm.s', 2);
SELECT kinesis.create_stream('esm.dlq_stream', 1);
SELECT kinesis.create_stream('esm.empty', 1);
-- records put before a LATEST mapping is created are not for it
SELECT count(*) FROM kinesis.put_record('esm.s', 'before', 'before');
RESET ROLE;

--
-- create_event_source_mapping: a valid mapping, with every default
--
SET ROLE regress_kg_esm_owner;
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle') AS m1 \gset
RESET ROLE;
SELECT stream_name, function_name, owner, state, batch_size, maximum_batching_window,
       parallelization_factor, maximum_retry_attempts, maximum_record_age,
       bisect_batch_on_function_error, on_failure_destination,
       last_processing_result, last_processed_at, last_error, last_error_at
  FROM kinesis.event_source_mapping_status WHERE mapping_id = :m1;
-- the catalog: LATEST start, one position per shard and slot
SELECT starting_position, starting_position_timestamp, enabled, generation,
       created_at IS NOT NULL AS has_created_at
  FROM kinesis.event_source_mappings WHERE mapping_id = :m1;
SELECT shard_index, slot, finished, attempts FROM kinesis.event_source_mapping_shards
 WHERE mapping_id = :m1 ORDER BY shard_index, slot;
-- the view's columns
SELECT column_name, data_type FROM information_schema.columns
 WHERE table_schema = 'kinesis' AND table_name = 'event_source_mapping_status'
 ORDER BY ordinal_position;

-- every setting given, by name
SET ROLE regress_kg_esm_owner;
SELECT kinesis.create_event_source_mapping(
           stream_name => 'esm.empty', function_name => 'esm.handle_partial',
           batch_size => 10000, maximum_batching_window => '300 s',
           starting_position => 'TRIM_HORIZON', parallelization_factor => 10,
           maximum_retry_attempts => 10000, maximum_record_age => '7 days',
           bisect_batch_on_function_error => true,
           on_failure_destination => 'esm.dlq') AS m2 \gset
SELECT kinesis.create_event_source_mapping('esm.empty', 'esm.handle', starting_position => 'AT_TIMESTAMP',
           starting_position_timestamp => '2020-01-01 00:00:00+00', batch_size => 1,
           maximum_retry_attempts => -1, maximum_record_age => '60 s', parallelization_factor => 1,
           on_failure_destination => 'stream:esm.dlq_stream') AS m3 \gset
RESET ROLE;
SELECT stream_name, function_name, owner, state, batch_size, maximum_batching_window,
       parallelization_factor, maximum_retry_attempts, maximum_record_age,
       bisect_batch_on_function_error, on_failure_destination
  FROM kinesis.event_source_mapping_status WHERE mapping_id IN (:m2, :m3) ORDER BY mapping_id;
SELECT starting_position, starting_position_timestamp AT TIME ZONE 'UTC' AS starting_position_timestamp
  FROM kinesis.event_source_mappings WHERE mapping_id IN (:m2, :m3) ORDER BY mapping_id;
-- parallelization_factor 10 on a 1-shard stream: ten slots
SELECT count(*) AS positions, count(DISTINCT slot) AS slots FROM kinesis.event_source_mapping_shards
 WHERE mapping_id = :m2;

--
-- create_event_source_mapping: what is refused
--
SET ROLE regress_kg_esm_owner;
-- the function's shape
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.no_args');
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.two_args');
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('one_record', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.one_record')$$),
               ('bytea_array', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.bytea_array')$$),
               ('with_default', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.with_default')$$),
               ('a_procedure', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.a_procedure')$$),
               ('an_aggregate', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.an_aggregate')$$),
               ('unknown_function', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.nope')$$),
               ('null_function', $$SELECT kinesis.create_event_source_mapping('esm.s', NULL)$$),
               ('no_execute', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle_private')$$))
       AS t(what, stmt);
-- numbers
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', batch_size => 0);
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', maximum_batching_window => '301 s');
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', parallelization_factor => 11);
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', maximum_retry_attempts => -2);
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', maximum_record_age => '59 s');
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('batch_size_10001', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', batch_size => 10001)$$),
               ('batch_size_negative', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', batch_size => -1)$$),
               ('window_negative', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', maximum_batching_window => '-1 s')$$),
               ('window_5_min_1_ms', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', maximum_batching_window => '300.001 s')$$),
               ('window_1_day', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', maximum_batching_window => '1 day')$$),
               ('parallel_0', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', parallelization_factor => 0)$$),
               ('retries_10001', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', maximum_retry_attempts => 10001)$$),
               ('age_8_days', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', maximum_record_age => '8 days')$$),
               ('age_negative', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', maximum_record_age => '-1 s')$$))
       AS t(what, stmt);
-- starting positions
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', starting_position => 'AT_SEQUENCE_NUMBER');
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('lower_case', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', starting_position => 'latest')$$),
               ('at_timestamp_without', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', starting_position => 'AT_TIMESTAMP')$$),
               ('timestamp_without_at', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', starting_position_timestamp => now())$$))
       AS t(what, stmt);
-- failure destinations
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', on_failure_destination => 'esm.nope');
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('unknown_stream', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', on_failure_destination => 'stream:esm.nope')$$),
               ('unknown_table', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', on_failure_destination => 'table:esm.nope')$$),
               ('a_view', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', on_failure_destination => 'table:esm.dlq_view')$$),
               ('no_insert_table', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', on_failure_destination => 'esm.dlq_private')$$),
               ('empty', $$SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', on_failure_destination => '')$$))
       AS t(what, stmt);
-- the stream
SELECT kinesis.create_event_source_mapping('esm.nope', 'esm.handle');
SELECT kg_try($$SELECT kinesis.create_event_source_mapping(NULL, 'esm.handle')$$) AS null_stream;
RESET ROLE;
-- a role that cannot read the stream
SET ROLE regress_kg_esm_other;
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle');
RESET ROLE;
-- a stream the creator reads but may not put to, as failure destination
-- (another role's stream: a stream's owner always holds INSERT on it)
SELECT kinesis.create_stream('esm.closed', 1);
GRANT SELECT ON kinesis_records."esm.closed" TO regress_kg_esm_owner;
SET ROLE regress_kg_esm_owner;
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', on_failure_destination => 'stream:esm.closed');
RESET ROLE;
-- nothing of the above was created
SELECT count(*) FROM kinesis.event_source_mappings;

-- a bare destination name is a stream when one has that name, else a table
SET ROLE regress_kg_esm_owner;
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', on_failure_destination => 'esm.dlq_stream') AS m4 \gset
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle', on_failure_destination => 'table:esm.dlq') AS m5 \gset
RESET ROLE;
SELECT on_failure_destination FROM kinesis.event_source_mapping_status
 WHERE mapping_id IN (:m2, :m3, :m4, :m5) ORDER BY mapping_id;

--
-- update_event_source_mapping, enable, disable
--
SELECT generation AS gen1 FROM kinesis.event_source_mappings WHERE mapping_id = :m1 \gset
SET ROLE regress_kg_esm_owner;
SELECT kinesis.update_event_source_mapping(:m1, batch_size => 500, maximum_batching_window => '2 s',
           maximum_retry_attempts => 3, maximum_record_age => '1 hour',
           bisect_batch_on_function_error => true, on_failure_destination => 'table:esm.dlq');
RESET ROLE;
SELECT function_name, state, batch_size, maximum_batching_window, parallelization_factor,
       maximum_retry_attempts, maximum_record_age, bisect_batch_on_function_error, on_failure_destination
  FROM kinesis.event_source_mapping_status WHERE mapping_id = :m1;
-- every change bumps the generation (the runners restart)
SELECT generation > :gen1 AS generation_bumped, updated_at >= created_at AS updated
  FROM kinesis.event_source_mappings WHERE mapping_id = :m1;
-- NULL leaves a setting as it is; the same parallelization factor is fine
SET ROLE regress_kg_esm_owner;
SELECT kinesis.update_event_source_mapping(:m1, parallelization_factor => 1);
SELECT kinesis.update_event_source_mapping(:m1, function_name => 'esm.handle_partial');
RESET ROLE;
SELECT function_name, batch_size, maximum_batching_window, maximum_retry_attempts, maximum_record_age,
       bisect_batch_on_function_error, on_failure_destination
  FROM kinesis.event_source_mapping_status WHERE mapping_id = :m1;
-- another parallelization factor is refused
SET ROLE regress_kg_esm_owner;
SELECT kinesis.update_event_source_mapping(:m1, parallelization_factor => 2);
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('batch_size_0', format('SELECT kinesis.update_event_source_mapping(%s, batch_size => 0)', :m1)),
               ('batch_size_10001', format('SELECT kinesis.update_event_source_mapping(%s, batch_size => 10001)', :m1)),
               ('window_301_s', format('SELECT kinesis.update_event_source_mapping(%s, maximum_batching_window => %L)', :m1, '301 s')),
               ('parallel_11', format('SELECT kinesis.update_event_source_mapping(%s, parallelization_factor => 11)', :m1)),
               ('parallel_0', format('SELECT kinesis.update_event_source_mapping(%s, parallelization_factor => 0)', :m1)),
               ('retries_-2', format('SELECT kinesis.update_event_source_mapping(%s, maximum_retry_attempts => -2)', :m1)),
               ('age_59_s', format('SELECT kinesis.update_event_source_mapping(%s, maximum_record_age => %L)', :m1, '59 s')),
               ('bad_function', format('SELECT kinesis.update_event_source_mapping(%s, function_name => %L)', :m1, 'esm.two_args')),
               ('no_execute', format('SELECT kinesis.update_event_source_mapping(%s, function_name => %L)', :m1, 'esm.handle_private')),
               ('bad_destination', format('SELECT kinesis.update_event_source_mapping(%s, on_failure_destination => %L)', :m1, 'esm.nope')),
               ('null_id', $$SELECT kinesis.update_event_source_mapping(NULL, batch_size => 1)$$),
               ('unknown_id', $$SELECT kinesis.update_event_source_mapping(-1, batch_size => 1)$$))
       AS t(what, stmt);
RESET ROLE;
-- nothing changed
SELECT function_name, batch_size, maximum_batching_window, parallelization_factor, maximum_retry_attempts,
       maximum_record_age, on_failure_destination
  FROM kinesis.event_source_mapping_status WHERE mapping_id = :m1;
SELECT kinesis.update_event_source_mapping(-1, batch_size => 1);
SELECT kinesis.delete_event_source_mapping(-1);
SELECT kinesis.enable_event_source_mapping(-1);

-- disable and enable
SET ROLE regress_kg_esm_owner;
SELECT kinesis.disable_event_source_mapping(:m1);
RESET ROLE;
SELECT state FROM kinesis.event_source_mapping_status WHERE mapping_id = :m1;
SELECT enabled FROM kinesis.event_source_mappings WHERE mapping_id = :m1;
SET ROLE regress_kg_esm_owner;
SELECT kinesis.disable_event_source_mapping(:m1);
SELECT kinesis.update_event_source_mapping(:m1, batch_size => 50);
RESET ROLE;
-- a change to a disabled mapping leaves it disabled
SELECT state, batch_size FROM kinesis.event_source_mapping_status WHERE mapping_id = :m1;
SET ROLE regress_kg_esm_owner;
SELECT kinesis.enable_event_source_mapping(:m1);
RESET ROLE;
SELECT state FROM kinesis.event_source_mapping_status WHERE mapping_id = :m1;
SET ROLE regress_kg_esm_owner;
SELECT kinesis.update_event_source_mapping(:m1, enabled => false);
RESET ROLE;
SELECT state FROM kinesis.event_source_mapping_status WHERE mapping_id = :m1;

--
-- only the owner (or a member of its role) changes or deletes a mapping
--
GRANT SELECT ON kinesis_records."esm.s" TO regress_kg_esm_other;
SET ROLE regress_kg_esm_other;
SELECT t.what, regexp_replace(kg_try(t.stmt), 'mapping [0-9]+', 'mapping <id>') AS outcome
  FROM (VALUES ('update', format('SELECT kinesis.update_event_source_mapping(%s, batch_size => 7)', :m1)),
               ('delete', format('SELECT kinesis.delete_event_source_mapping(%s)', :m1)),
               ('enable', format('SELECT kinesis.enable_event_source_mapping(%s)', :m1)),
               ('disable', format('SELECT kinesis.disable_event_source_mapping(%s)', :m1)))
       AS t(what, stmt);
-- the status view and the catalog are public
SELECT state, batch_size FROM kinesis.event_source_mapping_status WHERE mapping_id = :m1;
SELECT count(*) > 0 AS sees_positions FROM kinesis.event_source_mapping_shards WHERE mapping_id = :m1;
-- but not writable
SELECT kg_try(format('UPDATE kinesis.event_source_mappings SET owner = %L WHERE mapping_id = %s',
                     'regress_kg_esm_other', :m1)) AS update_catalog;
-- its own mapping of the same stream is its own
SELECT kinesis.create_event_source_mapping('esm.s', 'esm.handle_partial') AS m6 \gset
SELECT owner FROM kinesis.event_source_mapping_status WHERE mapping_id = :m6;
SELECT kinesis.delete_event_source_mapping(:m6);
RESET ROLE;
SET ROLE regress_kg_esm_member;
SELECT kinesis.update_event_source_mapping(:m1, batch_size => 7);
RESET ROLE;
SELECT batch_size, owner FROM kinesis.event_source_mapping_status WHERE mapping_id = :m1;

--
-- delete_event_source_mapping
--
SET ROLE regress_kg_esm_owner;
SELECT kinesis.delete_event_source_mapping(:m1);
SELECT regexp_replace(kg_try(format('SELECT kinesis.delete_event_source_mapping(%s)', :m1)),
                      'mapping [0-9]+', 'mapping <id>') AS delete_again;
RESET ROLE;
SELECT count(*) FROM kinesis.event_source_mapping_status WHERE mapping_id = :m1;
SELECT count(*) FROM kinesis.event_source_mapping_shards WHERE mapping_id = :m1;
SELECT kg_try($$SELECT kinesis.delete_event_source_mapping(NULL)$$) AS null_id;
-- deleting the stream deletes its mappings
SELECT count(*) FROM kinesis.event_source_mapping_status WHERE stream_name = 'esm.empty';
SET ROLE regress_kg_esm_owner;
SELECT kinesis.delete_stream('esm.empty');
RESET ROLE;
SELECT count(*) FROM kinesis.event_source_mapping_status WHERE stream_name = 'esm.empty';
SELECT count(*) FROM kinesis.event_source_mappings WHERE mapping_id IN (:m2, :m3);
-- nothing was ever put after a mapping was created: no function ran
SELECT count(*) FROM esm.sink;

--
-- clean up
--
SET ROLE regress_kg_esm_owner;
SELECT kinesis.delete_event_source_mapping(mapping_id) FROM kinesis.event_source_mappings ORDER BY mapping_id;
SELECT kinesis.delete_stream(stream_name) FROM kinesis.list_streams()
 WHERE stream_name LIKE 'esm.%' AND stream_name <> 'esm.closed' ORDER BY stream_name COLLATE "C";
RESET ROLE;
SELECT kinesis.delete_stream('esm.closed');
SELECT count(*) FROM kinesis.event_source_mappings;
SET client_min_messages = warning;
DROP SCHEMA esm CASCADE;
RESET client_min_messages;
REVOKE CREATE ON SCHEMA kinesis_records FROM regress_kg_esm_owner;
DROP ROLE regress_kg_esm_member;
DROP ROLE regress_kg_esm_owner;
DROP ROLE regress_kg_esm_other;
