-- Firehose delivery (src/firehose): one batch of a delivery stream, in the
-- caller's transaction.  The worker calls firehose._deliver(id, false) as
-- the delivery stream's owner; firehose.flush() calls it for an owner.
--
--   _deliver      due?  backing off?  one attempt in a subtransaction;
--                 a failed attempt is rolled back (checkpoint, rows, files)
--                 and retried with exponential backoff until retry_duration
--                 has passed, then its records go to the error output
--   _attempt      consume, back up, transform, deliver, count
--   _transform    the transform function's Ok / Dropped / ProcessingFailed
--   _to_table     one INSERT for the batch; rows the table rejects (data or
--                 constraint errors) go one by one to the error output
--   _to_files     records grouped by evaluated prefix, one object each
--   _to_program   the batch on the program's standard input
--
-- Exactly once: the destination rows or object manifest rows commit with
-- the consumer checkpoint (objects are renamed into place at commit, see
-- objects.c).  Programs are at least once.
--
-- Locking: _deliver locks the delivery stream's row FOR UPDATE for the
-- transaction; the consumer locks its shard rows (kinesis.consume).

-- Send records to the error output (and, with FailedDataOnly, the backup
-- table); returns how many.
CREATE FUNCTION firehose._fail(d firehose.delivery_streams, recs kinesis.record[], code text,
        message text, attempts integer) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF coalesce(cardinality(recs), 0) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM firehose._add_errors(d.delivery_stream_id, recs, code, message, attempts);
    IF d.backup_mode = 'FailedDataOnly' THEN
        PERFORM firehose._backup(d, recs, code, message);
    END IF;
    RETURN cardinality(recs);
END
$$;

-- Copy source records into the backup table: raw_data, and whichever of
-- shard_id, sequence_number, partition_key, approximate_arrival_timestamp,
-- delivery_stream_name, error_code, error_message it has.
CREATE FUNCTION firehose._backup(d firehose.delivery_streams, recs kinesis.record[], code text, message text)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cols text;
    vals text;
BEGIN
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg(CASE a.attname WHEN 'raw_data' THEN 'r.data' WHEN 'delivery_stream_name' THEN '$2'
                          WHEN 'error_code' THEN '$3' WHEN 'error_message' THEN '$4'
                          ELSE 'r.' || quote_ident(a.attname) END, ', ' ORDER BY a.attnum)
      INTO cols, vals
      FROM pg_attribute a
     WHERE a.attrelid = d.backup_table AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname IN ('raw_data', 'shard_id', 'sequence_number', 'partition_key',
                         'approximate_arrival_timestamp', 'delivery_stream_name', 'error_code', 'error_message');
    EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM unnest($1) r', d.backup_table, cols, vals)
       USING recs, d.delivery_stream_name, code, message;
END
$$;

-- Run the transform function (with its retries) over recs.  Returns the
-- records to deliver (data replaced by the transform's); failures go to
-- the error output.  dropped and failed count the others.
CREATE FUNCTION firehose._transform(d firehose.delivery_streams, recs kinesis.record[],
        OUT delivered kinesis.record[], OUT dropped integer, OUT failed integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    transformed firehose.transformed_record[];
    err text;
    attempts integer := 0;
    reported kinesis.record[];
    bad kinesis.record[];
BEGIN
    dropped := 0;
    failed := 0;
    IF d.transform_function IS NULL THEN
        delivered := recs;
        RETURN;
    END IF;
    FOR attempt IN 1 .. d.transform_retries + 1 LOOP
        attempts := attempt;
        BEGIN
            IF to_regprocedure(d.transform_function) IS NULL THEN     -- dropped or renamed since
                RAISE EXCEPTION 'ResourceNotFoundException: transform function % of delivery stream "%" does not exist',
                        d.transform_function, d.delivery_stream_name
                    USING ERRCODE = 'undefined_function';
            END IF;
            EXECUTE format('SELECT array_agg(t::firehose.transformed_record) FROM %s($1) t',
                           to_regprocedure(d.transform_function)::regproc)
               INTO transformed USING recs;
            err := NULL;
            EXIT;
        EXCEPTION WHEN OTHERS THEN
            err := SQLERRM;
        END;
    END LOOP;
    IF err IS NOT NULL THEN
        failed := firehose._fail(d, recs, 'ProcessingFailed', err, attempts);
        delivered := '{}';
        RETURN;
    END IF;

    -- each input record's result (the first, if the function returned several)
    WITH res AS (
        SELECT u.ord, ROW(u.shard_id, u.sequence_number, u.approximate_arrival_timestamp, u.partition_key,
                          u.data)::kinesis.record AS rec,
               u.shard_id, u.sequence_number, u.approximate_arrival_timestamp, u.partition_key,
               t.result, t.data
          FROM unnest(recs) WITH ORDINALITY
               AS u(shard_id, sequence_number, approximate_arrival_timestamp, partition_key, data, ord)
          LEFT JOIN (SELECT DISTINCT ON (x.record_id) x.record_id, x.result, x.data
                       FROM unnest(transformed) x) t ON t.record_id = u.sequence_number)
    SELECT coalesce(array_agg(ROW(shard_id, sequence_number, approximate_arrival_timestamp, partition_key,
                                  data)::kinesis.record ORDER BY ord)
                        FILTER (WHERE result = 'Ok' AND data IS NOT NULL), '{}'),
           count(*) FILTER (WHERE result = 'Dropped'),
           array_agg(rec ORDER BY ord) FILTER (WHERE result = 'ProcessingFailed'),
           array_agg(rec ORDER BY ord) FILTER (WHERE result IS NULL OR result NOT IN ('Ok', 'Dropped', 'ProcessingFailed')
                                                  OR (result = 'Ok' AND data IS NULL))
      INTO delivered, dropped, reported, bad
      FROM res;
    failed := firehose._fail(d, reported, 'ProcessingFailed', 'the transform reported ProcessingFailed', attempts)
              + firehose._fail(d, bad, 'ProcessingFailed',
                               'the transform returned no valid result for the record', attempts);
END
$$;

-- The INSERT statement of a table destination, reading the records from
-- source (by default unnest($1), $1 a kinesis.record[]).
-- columns format: JSON keys to columns by name (unknown keys ignored; a
-- missing key takes the column default, or NULL), metadata columns
-- (sequence_number, partition_key, shard_id, approximate_arrival_timestamp)
-- filled from the record unless the JSON has the key.  jsonb / bytea: the
-- record into data_column, plus the metadata columns.
CREATE FUNCTION firehose._table_insert_sql(d firehose.delivery_streams, source text DEFAULT 'unnest($1)') RETURNS text
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cols text;
    vals text;
BEGIN
    IF d.record_format = 'columns' THEN
        -- (OFFSET 0 and the LATERAL call: each record is parsed and populated
        -- once, not once per column)
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
               string_agg(CASE
                   WHEN a.attname IN ('sequence_number', 'partition_key', 'shard_id', 'approximate_arrival_timestamp') THEN
                       format('CASE WHEN x.p ? %L THEN v.%I ELSE x.%I::%s END', a.attname, a.attname, a.attname,
                              format_type(a.atttypid, a.atttypmod))
                   WHEN a.attidentity = 'd' THEN
                       format('CASE WHEN x.p ? %L THEN v.%I ELSE nextval(%L::regclass) END', a.attname, a.attname,
                              pg_get_serial_sequence(d.destination_table::text, a.attname))
                   WHEN a.atthasdef THEN
                       format('CASE WHEN x.p ? %L THEN v.%I ELSE %s END', a.attname, a.attname,
                              pg_get_expr(ad.adbin, ad.adrelid))
                   ELSE format('v.%I', a.attname) END, ', ' ORDER BY a.attnum)
          INTO cols, vals
          FROM pg_attribute a
          LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
         WHERE a.attrelid = d.destination_table AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attgenerated = '' AND a.attidentity <> 'a';
        RETURN format('INSERT INTO %s (%s) SELECT %s FROM (SELECT r.shard_id, r.sequence_number, r.partition_key, '
                      'r.approximate_arrival_timestamp, firehose._json_object(r.data) AS p FROM %s r OFFSET 0) x, '
                      'LATERAL jsonb_populate_record(NULL::%s, x.p) v',
                      d.destination_table, cols, vals, source, d.destination_table);
    END IF;
    SELECT string_agg(', ' || quote_ident(a.attname), '' ORDER BY a.attnum),
           string_agg(', r.' || quote_ident(a.attname), '' ORDER BY a.attnum)
      INTO cols, vals
      FROM pg_attribute a
     WHERE a.attrelid = d.destination_table AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname IN ('sequence_number', 'partition_key', 'shard_id', 'approximate_arrival_timestamp')
       AND a.attname <> d.data_column;
    RETURN format('INSERT INTO %s (%I%s) SELECT %s%s FROM %s r', d.destination_table, d.data_column,
                  coalesce(cols, ''),
                  CASE d.record_format WHEN 'jsonb' THEN 'convert_from(r.data, ''UTF8'')::jsonb' ELSE 'r.data' END,
                  coalesce(vals, ''), source);
END
$$;

-- Deliver recs into the destination table: all in one statement, or, when
-- that fails on a row (a data or constraint error, or a trigger's
-- exception), row by row so that only the rejected rows go to the error
-- output.  Any other error (the table is gone, no privilege) fails the
-- attempt.
CREATE FUNCTION firehose._to_table(d firehose.delivery_streams, recs kinesis.record[],
        OUT delivered integer, OUT delivered_bytes bigint, OUT failed integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    stmt text;
    r kinesis.record;
BEGIN
    delivered := 0;
    delivered_bytes := 0;
    failed := 0;
    IF cardinality(recs) = 0 THEN
        RETURN;
    END IF;
    stmt := firehose._table_insert_sql(d);
    BEGIN
        EXECUTE stmt USING recs;
        delivered := cardinality(recs);
        delivered_bytes := (SELECT sum(octet_length(x.data)) FROM unnest(recs) x);
        RETURN;
    EXCEPTION WHEN data_exception OR integrity_constraint_violation OR raise_exception THEN
        NULL;                   -- find the rejected rows below
    END;
    FOREACH r IN ARRAY recs LOOP
        BEGIN
            EXECUTE stmt USING ARRAY[r];
            delivered := delivered + 1;
            delivered_bytes := delivered_bytes + octet_length(r.data);
        EXCEPTION WHEN data_exception OR integrity_constraint_violation OR raise_exception THEN
            failed := failed + firehose._fail(d, ARRAY[r], 'DeliveryFailed', SQLERRM, 1);
        END;
    END LOOP;
END
$$;

-- A record of a file or program destination, with why the format cannot
-- hold it (NULL: it can) and, for files, the prefix of its object (NULL
-- when its partition keys give none).
CREATE TYPE firehose._file_record AS (ord bigint, rec kinesis.record, problem text, prefix text);

-- recs checked for the destination's format and (files) evaluated prefix;
-- records that fail go to the error output (FormatFailed,
-- PartitioningFailed).  The prefix is evaluated once per object: its
-- timestamp is the arrival of the oldest record of the object (the records
-- of the batch with the same partition key values), so a batch that spans
-- a second, or an hour with the default yyyy/MM/dd/HH/, still gives one
-- object; a random string is one per batch.
CREATE FUNCTION firehose._file_records(d firehose.delivery_streams, recs kinesis.record[],
        OUT good firehose._file_record[], OUT format_failed integer, OUT partitioning_failed integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    items firehose._file_record[];
    random_string jsonb := jsonb_build_object('firehose:random-string',
                                              substr(md5(random()::text || clock_timestamp()::text), 1, 11));
    g record;
BEGIN
    format_failed := 0;
    items := ARRAY(
        SELECT ROW(c.ord, c.rec, c.problem,
                   CASE WHEN d.destination_type = 'files' THEN
                       firehose._evaluate_prefix(d.prefix,
                           coalesce(min((c.rec).approximate_arrival_timestamp) FILTER (WHERE c.problem IS NULL)
                                        OVER (PARTITION BY c.vals),
                                    (c.rec).approximate_arrival_timestamp),
                           c.vals || random_string) END
               )::firehose._file_record
          FROM (SELECT u.ord, ROW(u.shard_id, u.sequence_number, u.approximate_arrival_timestamp, u.partition_key,
                                  u.data)::kinesis.record AS rec,
                       firehose._record_problem(d.file_format, d.file_columns, u.data) AS problem,
                       coalesce(kv.vals, '{}') AS vals
                  FROM unnest(recs) WITH ORDINALITY
                       AS u(shard_id, sequence_number, approximate_arrival_timestamp, partition_key, data, ord)
                  LEFT JOIN LATERAL (
                       SELECT jsonb_object_agg(k.key, jsonb_path_query_first(firehose._json_or_null(u.data),
                                                                             k.value::jsonpath, '{}', true) #>> '{}') AS vals
                         FROM jsonb_each_text(d.partition_keys) k
                        WHERE d.partition_keys <> '{}') kv ON true) c
         ORDER BY c.ord);
    FOR g IN SELECT x.problem, array_agg(x.rec ORDER BY x.ord) AS bad FROM unnest(items) x
              WHERE x.problem IS NOT NULL GROUP BY x.problem LOOP
        format_failed := format_failed + firehose._fail(d, g.bad, 'FormatFailed', g.problem, 1);
    END LOOP;
    partitioning_failed := firehose._fail(d,
            ARRAY(SELECT x.rec FROM unnest(items) x
                   WHERE x.problem IS NULL AND x.prefix IS NULL AND d.destination_type = 'files' ORDER BY x.ord),
            'PartitioningFailed',
            'the record gives no object prefix: a partition key is missing or empty, or the prefix is longer than 512 characters', 1);
    good := ARRAY(SELECT x FROM unnest(items) x
                   WHERE x.problem IS NULL AND (x.prefix IS NOT NULL OR d.destination_type <> 'files')
                   ORDER BY x.ord);
END
$$;

-- Pipe recs to the program, in the file format (records it cannot take go
-- to the error output first).  $FIREHOSE_BATCH_ID is "<first>-<last>"
-- sequence number: a program can recognise a batch delivered again.
CREATE FUNCTION firehose._to_program(d firehose.delivery_streams, recs kinesis.record[],
        OUT delivered integer, OUT delivered_bytes bigint, OUT failed integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f record := firehose._file_records(d, recs);
BEGIN
    failed := f.format_failed;
    delivered := coalesce(cardinality(f.good), 0);
    delivered_bytes := 0;
    IF delivered > 0 THEN
        PERFORM firehose._check_server_role(d.owner, 'pg_execute_server_program', 'execute server programs');
        PERFORM firehose._pipe_to_program(d.destination_program, d.delivery_stream_name,
                (SELECT min((i.rec).sequence_number) || '-' || max((i.rec).sequence_number) FROM unnest(f.good) i),
                d.file_format, d.file_columns, d.file_header, d.compression = 'GZIP',
                ARRAY(SELECT (i.rec).data FROM unnest(f.good) i ORDER BY i.ord));
        delivered_bytes := (SELECT sum(octet_length((i.rec).data)) FROM unnest(f.good) i);
    END IF;
END
$$;

-- Write recs as objects under the destination directory: one object per
-- evaluated prefix, named
--   <prefix><delivery stream>-<version>-<oldest arrival, UTC>-<first seq>-<last seq><extension>
-- Records without a prefix go to the error output as PartitioningFailed,
-- records the format cannot hold as FormatFailed.
CREATE FUNCTION firehose._to_files(d firehose.delivery_streams, recs kinesis.record[],
        OUT delivered integer, OUT delivered_bytes bigint, OUT failed integer,
        OUT partitioning_failed integer, OUT objects integer)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f record;
    g record;
    key text;
    path text;
    ext text := coalesce(d.file_extension,
                         CASE d.file_format WHEN 'jsonlines' THEN '.jsonl' WHEN 'csv' THEN '.csv' ELSE '.txt' END
                         || CASE WHEN d.compression = 'GZIP' THEN '.gz' ELSE '' END);
BEGIN
    delivered := 0;
    delivered_bytes := 0;
    objects := 0;
    PERFORM firehose._check_server_role(d.owner, 'pg_write_server_files', 'write server files');
    f := firehose._file_records(d, recs);
    failed := f.format_failed;
    partitioning_failed := f.partitioning_failed;
    FOR g IN SELECT x.prefix, array_agg((x.rec).data ORDER BY x.ord) AS datas,
                    min((x.rec).sequence_number) AS first_seq, max((x.rec).sequence_number) AS last_seq,
                    min((x.rec).approximate_arrival_timestamp) AS oldest, count(*) AS n,
                    sum(octet_length((x.rec).data)) AS bytes
               FROM unnest(f.good) x
              GROUP BY x.prefix ORDER BY min(x.ord) LOOP
        key := g.prefix || d.delivery_stream_name || '-' || d.version_id || '-'
               || to_char(g.oldest AT TIME ZONE 'UTC', 'YYYY-MM-DD-HH24-MI-SS') || '-'
               || g.first_seq || '-' || g.last_seq || ext;
        path := firehose._write_object(d.destination_directory, key, d.delivery_stream_id, d.file_format,
                                       d.file_columns, d.file_header, d.compression = 'GZIP', g.datas);
        PERFORM firehose._add_object(d.delivery_stream_id, path, g.first_seq, g.last_seq, g.n, g.bytes);
        delivered := delivered + g.n;
        delivered_bytes := delivered_bytes + g.bytes;
        objects := objects + 1;
    END LOOP;
END
$$;

-- One delivery attempt: take a batch from the source, back it up (AllData),
-- transform, deliver, count.  Returns the number of records taken.
CREATE FUNCTION firehose._attempt(d firehose.delivery_streams) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    recs kinesis.record[];
    n bigint;
    in_bytes bigint;
    t record;
    out record;
    part_failed integer := 0;
    objs integer := 0;
    backed integer := 0;
BEGIN
    -- the common case in one statement: straight from the stream into the table
    IF d.destination_type = 'table' AND d.transform_function IS NULL AND d.backup_mode <> 'AllData' THEN
        BEGIN
            EXECUTE format('WITH c AS MATERIALIZED (SELECT * FROM kinesis.consume(%L, %L, 10000)), ins AS (%s) '
                           'SELECT count(*), sum(octet_length(c.data)) FROM c',
                           d.source_stream, d.consumer_name, firehose._table_insert_sql(d, 'c'))
               INTO n, in_bytes;
            PERFORM firehose._count_delivery(d.delivery_stream_id, jsonb_build_object(
                        'incoming_records', n, 'incoming_bytes', coalesce(in_bytes, 0),
                        'records_delivered', n, 'bytes_delivered', coalesce(in_bytes, 0)), n > 0, false);
            RETURN n;
        EXCEPTION WHEN data_exception OR integrity_constraint_violation OR raise_exception THEN
            NULL;               -- a row was rejected: the general path finds it
        END;
    END IF;
    SELECT array_agg(c), sum(octet_length(c.data)) INTO recs, in_bytes
      FROM kinesis.consume(d.source_stream, d.consumer_name, 10000) c;
    IF recs IS NULL THEN
        RETURN 0;
    END IF;
    IF d.backup_mode = 'AllData' THEN
        PERFORM firehose._backup(d, recs, NULL, NULL);
        backed := cardinality(recs);
    END IF;
    IF d.transform_function IS NULL THEN
        SELECT recs AS delivered, 0 AS dropped, 0 AS failed INTO t;
    ELSE
        t := firehose._transform(d, recs);
    END IF;
    IF d.destination_type = 'table' THEN
        out := firehose._to_table(d, t.delivered);
    ELSIF d.destination_type = 'files' THEN
        out := firehose._to_files(d, t.delivered);
        part_failed := out.partitioning_failed;
        objs := out.objects;
    ELSE
        out := firehose._to_program(d, t.delivered);
    END IF;
    PERFORM firehose._count_delivery(d.delivery_stream_id, jsonb_build_object(
                'incoming_records', cardinality(recs), 'incoming_bytes', in_bytes,
                'records_delivered', out.delivered, 'bytes_delivered', out.delivered_bytes,
                'objects_delivered', objs, 'records_dropped', t.dropped, 'processing_failed', t.failed,
                'delivery_failed', CASE WHEN d.destination_type = 'table' THEN out.failed ELSE 0 END,
                'format_failed', CASE WHEN d.destination_type = 'table' THEN 0 ELSE out.failed END,
                'partitioning_failed', part_failed,
                'records_backed_up', backed + CASE WHEN d.backup_mode = 'FailedDataOnly'
                                                   THEN t.failed + out.failed + part_failed ELSE 0 END),
            true, t.failed + out.failed + part_failed > 0);
    RETURN cardinality(recs);
END
$$;

-- Deliver one batch of delivery stream id, in the caller's transaction.
-- Unless force, only when due: a buffering hint reached (pending bytes >=
-- size, or the oldest pending record older than the interval) and no
-- backoff pending.  Returns the number of records taken from the source
-- (0: nothing due, or the attempt failed and will be retried).
CREATE FUNCTION firehose._deliver(id integer, force boolean) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams;
    pending_bytes bigint;
    oldest interval;
    n integer;
    err text;
    attempts integer;
    backoff interval;
    recs kinesis.record[];
BEGIN
    SELECT * INTO d FROM firehose.delivery_streams WHERE delivery_stream_id = id;
    IF NOT FOUND OR (NOT d.enabled AND NOT force) THEN
        RETURN 0;
    END IF;
    IF NOT pg_has_role(kinesis_glue.caller(), d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of delivery stream "%"', d.delivery_stream_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT force THEN
        IF d.next_attempt_at > clock_timestamp() THEN
            RETURN 0;
        END IF;
        SELECT sum(p.lag_bytes), max(p.lag_time) INTO pending_bytes, oldest
          FROM kinesis.consumer_positions p
         WHERE p.stream_name = d.source_stream AND p.consumer_name = d.consumer_name;
        IF coalesce(pending_bytes, 0) = 0 OR
           (pending_bytes < d.buffering_size_bytes AND oldest < d.buffering_interval) THEN
            RETURN 0;
        END IF;
    END IF;
    -- one batch at a time per delivery stream, under one configuration
    d := firehose._lock_delivery(id);

    BEGIN
        n := firehose._attempt(d);
        IF d.failing_since IS NOT NULL THEN
            PERFORM firehose._retry_state(id, 'recovered', NULL, NULL);
        END IF;
        RETURN n;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        -- the attempt is rolled back: checkpoint, rows, objects.  In a
        -- delivery runner (not force) a cancel is the batch's statement
        -- timeout: a failed attempt like any other, so it is recorded and
        -- backed off; a cancel of flush() cancels the caller's statement.
        IF SQLSTATE = '57014' AND force THEN
            RAISE;
        END IF;
        err := CASE WHEN SQLSTATE = '57014'
                    THEN format('the batch ran longer than kinesis_glue.delivery_timeout (%s): %s',
                                current_setting('kinesis_glue.delivery_timeout'), SQLERRM)
                    ELSE SQLERRM END;
    END;

    attempts := d.failed_attempts + 1;
    IF d.retry_duration = interval '0' OR clock_timestamp() >= d.failing_since + d.retry_duration THEN
        -- retries exhausted: the batch goes to the error output
        BEGIN
            recs := ARRAY(SELECT c FROM kinesis.consume(d.source_stream, d.consumer_name, 10000) c);
            n := firehose._fail(d, recs, 'DestinationFailed', err, attempts);
            PERFORM firehose._retry_state(id, 'recovered', NULL, NULL);
            PERFORM firehose._count_delivery(id, jsonb_build_object(
                        'incoming_records', n,
                        'incoming_bytes', coalesce((SELECT sum(octet_length(r.data)) FROM unnest(recs) r), 0),
                        'destination_failed', n, 'failed_attempts_total', 1,
                        'records_backed_up', CASE WHEN d.backup_mode = 'FailedDataOnly' THEN n ELSE 0 END),
                    false, true, err);
            RAISE WARNING 'DeliveryFailed: delivery stream "%" gave up on % record(s) after % attempt(s): %',
                    d.delivery_stream_name, n, attempts, err
                USING HINT = 'The records are in firehose.delivery_errors with error code DestinationFailed.';
            RETURN n;
        EXCEPTION WHEN OTHERS THEN
            err := SQLERRM;
        END;
    END IF;
    -- exponential backoff: 1 s doubling to at most 2 min, +/- 15 % jitter
    backoff := least(power(2, least(attempts - 1, 10)), 120) * (0.85 + 0.3 * random()) * interval '1 s';
    PERFORM firehose._retry_state(id, 'failing', attempts, backoff);
    PERFORM firehose._count_delivery(id, '{"failed_attempts_total": 1}', false, true, err);
    RAISE WARNING 'DeliveryFailed: delivery stream "%" failed (attempt %), will retry: %',
            d.delivery_stream_name, attempts, err
        USING HINT = format('Records wait until the destination works again, for at most retry_duration (%s); '
                            'firehose.delivery_stream_metrics shows the next attempt.', d.retry_duration);
    RETURN 0;
END
$$;

-- Deliver everything buffered now, in the caller's transaction (owner only).
-- A failing destination raises a warning and counts as an attempt.
CREATE FUNCTION firehose.flush(delivery_stream_name text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get(delivery_stream_name, true);
    n integer;
    total bigint := 0;
BEGIN
    LOOP
        n := firehose._deliver(d.delivery_stream_id, true);
        EXIT WHEN n = 0;
        total := total + n;
    END LOOP;
    RETURN total;
END
$$;

-- Finish the objects of a file destination left by a crash (the worker
-- does this when it starts): rename the committed, remove the others.
CREATE FUNCTION firehose.recover_objects(delivery_stream_name text) RETURNS integer
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d firehose.delivery_streams := firehose._get(delivery_stream_name, true);
BEGIN
    IF d.destination_type <> 'files' THEN
        RETURN 0;
    END IF;
    PERFORM firehose._check_server_role(d.owner, 'pg_write_server_files', 'write server files');
    RETURN firehose._recover_objects(d.delivery_stream_id, d.destination_directory);
END
$$;

-- Writers of the delivery's outcome (run as the extension owner).  The
-- delivery runs as the delivery stream's owner (its transform, table and
-- backup are that role's); it records its outcome through these, which let
-- only members of that owner change that delivery stream's rows.

-- The delivery stream row of id, locked FOR UPDATE, for a member of its owner.
CREATE FUNCTION firehose._lock_delivery(id integer) RETURNS firehose.delivery_streams
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams;
BEGIN
    SELECT * INTO d FROM firehose.delivery_streams x WHERE x.delivery_stream_id = id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ResourceNotFoundException: delivery stream % does not exist', id
            USING ERRCODE = 'undefined_object';
    ELSIF NOT pg_has_role(kinesis_glue.caller(), d.owner, 'USAGE') THEN
        RAISE EXCEPTION 'AccessDeniedException: must be owner of delivery stream "%"', d.delivery_stream_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN d;
END
$$;

-- Add counts (non-negative; names of the counter columns) to delivery
-- stream id; delivered: stamp last_delivery_at; failed: set last_error
-- (error, else the newest error output) and last_error_at.
CREATE FUNCTION firehose._count_delivery(id integer, counts jsonb, delivered boolean, failed boolean,
        error text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams := firehose._lock_delivery(id);
    k text;
BEGIN
    FOR k IN SELECT jsonb_object_keys(counts) LOOP
        IF k NOT IN ('incoming_records', 'incoming_bytes', 'records_delivered', 'bytes_delivered', 'objects_delivered',
                     'records_dropped', 'processing_failed', 'delivery_failed', 'format_failed', 'partitioning_failed',
                     'records_backed_up', 'destination_failed', 'failed_attempts_total')
           OR jsonb_typeof(counts -> k) NOT IN ('number', 'null') OR coalesce((counts ->> k)::numeric, 0) < 0 THEN
            RAISE EXCEPTION 'invalid delivery count "%"', k USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    UPDATE firehose.delivery_streams x SET
           incoming_records = x.incoming_records + coalesce((counts ->> 'incoming_records')::bigint, 0),
           incoming_bytes = x.incoming_bytes + coalesce((counts ->> 'incoming_bytes')::bigint, 0),
           records_delivered = x.records_delivered + coalesce((counts ->> 'records_delivered')::bigint, 0),
           bytes_delivered = x.bytes_delivered + coalesce((counts ->> 'bytes_delivered')::bigint, 0),
           objects_delivered = x.objects_delivered + coalesce((counts ->> 'objects_delivered')::bigint, 0),
           records_dropped = x.records_dropped + coalesce((counts ->> 'records_dropped')::bigint, 0),
           processing_failed = x.processing_failed + coalesce((counts ->> 'processing_failed')::bigint, 0),
           delivery_failed = x.delivery_failed + coalesce((counts ->> 'delivery_failed')::bigint, 0),
           format_failed = x.format_failed + coalesce((counts ->> 'format_failed')::bigint, 0),
           partitioning_failed = x.partitioning_failed + coalesce((counts ->> 'partitioning_failed')::bigint, 0),
           records_backed_up = x.records_backed_up + coalesce((counts ->> 'records_backed_up')::bigint, 0),
           destination_failed = x.destination_failed + coalesce((counts ->> 'destination_failed')::bigint, 0),
           failed_attempts_total = x.failed_attempts_total + coalesce((counts ->> 'failed_attempts_total')::bigint, 0),
           last_delivery_at = CASE WHEN delivered THEN clock_timestamp() ELSE x.last_delivery_at END,
           last_error = CASE WHEN NOT failed THEN x.last_error
                             ELSE coalesce(error, (SELECT e.error_message FROM firehose.delivery_errors e
                                                    WHERE e.delivery_stream_id = id
                                                    ORDER BY e.error_id DESC LIMIT 1)) END,
           last_error_at = CASE WHEN failed THEN clock_timestamp() ELSE x.last_error_at END
     WHERE x.delivery_stream_id = d.delivery_stream_id;
END
$$;

-- The retry state of delivery stream id: 'recovered' clears it, 'failing'
-- records attempts and the next attempt after backoff.
CREATE FUNCTION firehose._retry_state(id integer, state text, attempts integer, backoff interval) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams := firehose._lock_delivery(id);
BEGIN
    IF state = 'recovered' THEN
        UPDATE firehose.delivery_streams x SET failing_since = NULL, failed_attempts = 0, next_attempt_at = NULL
         WHERE x.delivery_stream_id = d.delivery_stream_id;
    ELSIF state = 'failing' AND attempts >= 1 AND backoff BETWEEN interval '0' AND interval '1 hour' THEN
        UPDATE firehose.delivery_streams x SET failing_since = coalesce(x.failing_since, clock_timestamp()),
               failed_attempts = attempts, next_attempt_at = clock_timestamp() + backoff
         WHERE x.delivery_stream_id = d.delivery_stream_id;
    ELSE
        RAISE EXCEPTION 'invalid retry state' USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Records of delivery stream id to its error output.
CREATE FUNCTION firehose._add_errors(id integer, recs kinesis.record[], code text, message text, attempts integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams := firehose._lock_delivery(id);
BEGIN
    INSERT INTO firehose.delivery_errors (delivery_stream_id, shard_id, sequence_number, error_code,
            error_message, raw_data, approximate_arrival_timestamp, attempts_made)
    SELECT d.delivery_stream_id, r.shard_id, r.sequence_number, code, message, r.data,
           r.approximate_arrival_timestamp, attempts
      FROM unnest(recs) r;
END
$$;

-- An object delivered for delivery stream id (the manifest).
CREATE FUNCTION firehose._add_object(id integer, path text, first_seq bigint, last_seq bigint, n bigint, bytes bigint)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET kinesis_glue.run_as_owner = on AS
$$
DECLARE
    d firehose.delivery_streams := firehose._lock_delivery(id);
BEGIN
    IF d.destination_type <> 'files' OR path IS NULL OR left(path, length(d.destination_directory) + 1) <> d.destination_directory || '/' THEN
        RAISE EXCEPTION 'invalid object path "%" for delivery stream "%"', path, d.delivery_stream_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO firehose.delivered_objects (delivery_stream_id, object_path, first_sequence_number,
            last_sequence_number, records, bytes)
    VALUES (d.delivery_stream_id, path, first_seq, last_seq, n, bytes);
END
$$;
