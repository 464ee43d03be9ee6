--
-- withdrawn_functions: the catalogs hold function references as text, the
-- qualified signature (function OIDs change in pg_upgrade and restores);
-- the views show NULL once the function is gone, and each reader that
-- finds it gone reports which function is missing, with its own error.
--
CREATE SCHEMA df;
-- wait (up to 60 s) until a query returns true
CREATE FUNCTION df.wait_for(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    ok boolean;
BEGIN
    FOR i IN 1 .. 600 LOOP
        EXECUTE q INTO ok;
        IF ok THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN false;
END
$$;

--
-- video stream processor
--
CREATE FUNCTION df.detect(f kinesis_video.fragment) RETURNS SETOF jsonb
    LANGUAGE sql AS $$ SELECT jsonb_build_object('Label', 'PERSON') $$;
SELECT kinesis_video.create_stream('df.cam') IS NOT NULL AS created;
SELECT kinesis.create_stream('df.events');
SELECT kinesis_video.create_stream_processor('df.p', 'df.cam', 'df.detect', 'df.events', 'EARLIEST',
                                             start => false) > 0 AS created;
SELECT function_name FROM kinesis_video.stream_processors WHERE name = 'df.p';
SELECT function_name FROM kinesis_video.stream_processor_status WHERE name = 'df.p';
DROP FUNCTION df.detect(kinesis_video.fragment);
SELECT function_name IS NULL AS shown_as_null FROM kinesis_video.stream_processor_status WHERE name = 'df.p';
SELECT count(*) FROM kinesis_video.put_media('df.cam', 'frame', now(), 2000);
SELECT kinesis_video.start_stream_processor('df.p');
SELECT df.wait_for($$SELECT last_error IS NOT NULL FROM kinesis_video.stream_processors WHERE name = 'df.p'$$);
SELECT last_error FROM kinesis_video.stream_processors WHERE name = 'df.p';
SELECT kinesis_video.delete_stream_processor('df.p');
SELECT kinesis_video.delete_stream('df.cam');

--
-- event source mapping: its shards stop with "Function not found"
--
CREATE FUNCTION df.on_records(recs kinesis.record[]) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT kinesis.create_event_source_mapping('df.events', 'df.on_records', starting_position => 'TRIM_HORIZON') AS m \gset
SELECT function_name FROM kinesis.event_source_mappings WHERE mapping_id = :m;
DROP FUNCTION df.on_records(kinesis.record[]);
SELECT function_name IS NULL AS shown_as_null FROM kinesis.event_source_mapping_status WHERE mapping_id = :m;
SELECT count(*) FROM kinesis.put_record('df.events', 'k', 'r');
SELECT df.wait_for($$SELECT last_processing_result = 'PROBLEM: Function not found'
                       FROM kinesis.event_source_mappings WHERE mapping_id = $$ || :m);
SELECT last_processing_result, regexp_replace(last_error, 'mapping \d+', 'mapping N') AS last_error
  FROM kinesis.event_source_mappings WHERE mapping_id = :m;
SELECT kinesis.delete_event_source_mapping(:m);
SELECT kinesis.delete_stream('df.events');

--
-- Firehose transform: the records fail; update_destination says why
--
CREATE TABLE df.dest (id int);
CREATE FUNCTION df.tr(recs kinesis.record[]) RETURNS SETOF firehose.transformed_record
    LANGUAGE sql AS $$ SELECT r.sequence_number, 'Ok', r.data FROM unnest(recs) r $$;
SELECT firehose.create_delivery_stream('df.fh', 'df.dest', buffering_interval => '900 s',
                                       transform_function => 'df.tr', transform_retries => 0);
SELECT transform_function FROM firehose.delivery_streams WHERE delivery_stream_name = 'df.fh';
DROP FUNCTION df.tr(kinesis.record[]);
SELECT count(*) FROM firehose.put_record_batch('df.fh', ARRAY['{"id": 1}']::text[]::bytea[]);
SELECT firehose.flush('df.fh');
SELECT count(*) FROM df.dest;
SELECT e.error_code, e.error_message FROM firehose.delivery_errors e
  JOIN firehose.delivery_streams d USING (delivery_stream_id) WHERE d.delivery_stream_name = 'df.fh';
SELECT kg_try($$SELECT firehose.update_destination('df.fh', 1, buffering_interval => '60 s')$$);
SELECT firehose.delete_delivery_stream('df.fh');

--
-- Glue job: the run fails, naming the procedure
--
CREATE PROCEDURE df.jp(args jsonb) LANGUAGE sql AS $$ INSERT INTO df.dest VALUES (2) $$;
SELECT glue.create_job('df.job', procedure => 'df.jp(jsonb)');
SELECT procedure FROM glue.jobs WHERE job_name = 'df.job';
DROP PROCEDURE df.jp(jsonb);
SELECT glue.start_job_run('df.job') AS run \gset
SELECT df.wait_for($$SELECT state NOT IN ('STARTING', 'RUNNING') FROM glue.job_runs WHERE run_id = $$ || :run);
SELECT state, error_message FROM glue.job_runs WHERE run_id = :run;
SELECT glue.delete_job('df.job');

DROP SCHEMA df CASCADE;
