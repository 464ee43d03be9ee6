-- test/demo.sql: the kinesis_glue demo pipeline, run by ./demo.sh in the
-- database kinesis_demo of the private demo cluster.  Safe to run again:
-- the demo stream is dropped and created anew.
--
-- By hand:  sudo -u postgres psql -h "$PWD/.demo/run" -p 5499 -d kinesis_demo \
--                -v objects_dir="$PWD/.demo/objects" -f test/demo.sql

\set ON_ERROR_STOP 1
\set QUIET 1
\pset pager off
\pset null '(null)'
\set ECHO queries

\echo
\echo '== 1. The background worker of this database (kinesis_glue.workers)'
\echo '--    CREATE EXTENSION starts it within a second or two; wait for it.'
\set ECHO none
DO $$
BEGIN
    FOR i IN 1..100 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM kinesis_glue.workers
                           WHERE database = current_database() AND pid IS NOT NULL);
        PERFORM pg_stat_clear_snapshot();
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
\set ECHO queries
SELECT database, pid, pid IS NOT NULL AS alive, state, started_at
  FROM kinesis_glue.workers
 WHERE database = current_database();

\echo
\echo '== 2. A data stream with 2 shards'
\set ECHO none
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM kinesis.list_streams() WHERE stream_name = 'demo_orders') THEN
        PERFORM kinesis.delete_stream('demo_orders', enforce_consumer_deletion => true);
        RAISE NOTICE 'dropped the demo_orders stream of an earlier run';
    END IF;
END
$$;
\set ECHO queries
SELECT kinesis.create_stream('demo_orders', shard_count => 2);
SELECT stream_name, stream_status, stream_mode, retention_period, open_shard_count
  FROM kinesis.describe_stream_summary('demo_orders');
SELECT shard_id, starting_hash_key, ending_hash_key, starting_sequence_number
  FROM kinesis.list_shards('demo_orders');

\echo
\echo '== 3. put_records: 20 JSON orders from 5 customers in one call'
\echo '--    (the partition key picks the shard: MD5 of the key on the hash key ranges)'
WITH orders AS (
    SELECT i AS order_id,
           'customer-' || (1 + (i - 1) % 5) AS customer,
           json_build_object('order_id', i,
                             'customer', 'customer-' || (1 + (i - 1) % 5),
                             'amount', round(i * 7.35, 2),
                             'items', 1 + i % 3)::text AS body
      FROM generate_series(1, 20) AS i
), put AS (
    SELECT *
      FROM kinesis.put_records('demo_orders',
               ARRAY(SELECT ROW(customer, convert_to(body, 'UTF8'), NULL)::kinesis.put_records_entry
                       FROM orders ORDER BY order_id))
           WITH ORDINALITY AS p(shard_id, sequence_number, error_code, error_message, n)
)
SELECT put.shard_id,
       string_agg(DISTINCT orders.customer, ', ') AS partition_keys,
       count(*) AS records,
       min(put.sequence_number) AS first_sequence_number,
       max(put.sequence_number) AS last_sequence_number,
       count(put.error_code) AS errors
  FROM put JOIN orders ON orders.order_id = put.n
 GROUP BY put.shard_id
 ORDER BY put.shard_id;

\echo
\echo '== 4. put_record: one more order'
SELECT shard_id, sequence_number
  FROM kinesis.put_record('demo_orders', 'customer-3',
           convert_to('{"order_id": 21, "customer": "customer-3", "amount": 99.90, "items": 4}', 'UTF8'));

\echo
\echo '== 5. Read every shard in order: get_shard_iterator(TRIM_HORIZON), then'
\echo '--    get_records with 5 records per call, following next_shard_iterator'
\echo '--    until a call returns no records.'
CREATE TEMP TABLE demo_pages AS
WITH RECURSIVE pages AS (
    SELECT s.shard_id, 1 AS call, g.records, g.next_shard_iterator, g.millis_behind_latest
      FROM kinesis.list_shards('demo_orders') AS s,
           kinesis.get_records(kinesis.get_shard_iterator('demo_orders', s.shard_id, 'TRIM_HORIZON'),
                               "limit" => 5) AS g
    UNION ALL
    SELECT p.shard_id, p.call + 1, g.records, g.next_shard_iterator, g.millis_behind_latest
      FROM pages AS p,
           kinesis.get_records(p.next_shard_iterator, "limit" => 5) AS g
     WHERE cardinality(p.records) > 0 AND p.next_shard_iterator IS NOT NULL
)
SELECT * FROM pages;
SELECT shard_id, call, cardinality(records) AS records, millis_behind_latest
  FROM demo_pages ORDER BY shard_id, call;
SELECT p.shard_id, r.sequence_number, r.partition_key, convert_from(r.data, 'UTF8') AS data
  FROM demo_pages AS p, unnest(p.records) AS r
 ORDER BY p.shard_id, r.sequence_number;

\echo
\echo '== 6. read_shard: the same records without iterators (first shard, 5 at a time)'
SELECT shard_id, sequence_number, partition_key, convert_from(data, 'UTF8') AS data
  FROM kinesis.read_shard('demo_orders', 'shardId-000000000000', "limit" => 5);

\echo
\echo '== 7. kinesis.stream_stability: sequence numbers handed out, the last stable one'
\echo '--    readers may return, open producer transactions'
SELECT * FROM kinesis.stream_stability WHERE stream_name = 'demo_orders';

\echo
\echo '== 8. A named consumer: consume moves its position in our transaction (exactly once)'
CREATE TABLE IF NOT EXISTS demo_invoices (sequence_number bigint PRIMARY KEY, customer text, amount numeric);
TRUNCATE demo_invoices;
SELECT kinesis.register_stream_consumer('demo_orders', 'billing');
BEGIN;
INSERT INTO demo_invoices
     SELECT sequence_number, convert_from(data, 'UTF8')::jsonb ->> 'customer',
            (convert_from(data, 'UTF8')::jsonb ->> 'amount')::numeric
       FROM kinesis.consume('demo_orders', 'billing', max_records => 100);
COMMIT;
SELECT count(*) AS invoices, sum(amount) AS total FROM demo_invoices;
SELECT count(*) AS consumed_again FROM kinesis.consume('demo_orders', 'billing');
SELECT consumer_name, shard_id, lag_records FROM kinesis.consumer_positions
 WHERE stream_name = 'demo_orders' ORDER BY shard_id;

\echo
\echo '== 9. An event source mapping raising alerts on a LISTEN channel for big orders'
CREATE OR REPLACE FUNCTION demo_alert_big_orders(recs kinesis.record[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('alerts', convert_from(r.data, 'UTF8'))
       FROM unnest(recs) AS r
      WHERE (convert_from(r.data, 'UTF8')::jsonb ->> 'amount')::numeric > 100;
END
$$;
LISTEN alerts;
SELECT kinesis.create_event_source_mapping('demo_orders', 'demo_alert_big_orders',
         batch_size => 50, starting_position => 'LATEST') AS mapping_id;
\set ECHO none
-- give the worker a moment to start the mapping's runner
SELECT pg_sleep(2);
\set ECHO queries
SELECT count(*) AS put FROM kinesis.put_records('demo_orders',
         ARRAY['customer-9', 'customer-9'],
         ARRAY[convert_to('{"order_id": 22, "customer": "customer-9", "amount": 250.00}', 'UTF8'),
               convert_to('{"order_id": 23, "customer": "customer-9", "amount": 12.50}', 'UTF8')]);
\set ECHO none
SELECT pg_sleep(2);
\set ECHO queries
-- psql prints the notifications that arrived (order 22 only)
SELECT mapping_id, state, last_processing_result FROM kinesis.event_source_mapping_status;

\echo
\echo '== 10. Firehose: deliver the orders into a table (exactly once), rejected rows to the error output'
CREATE TABLE IF NOT EXISTS demo_orders_table (order_id int PRIMARY KEY, customer text,
                                              amount numeric CHECK (amount < 200), sequence_number bigint);
TRUNCATE demo_orders_table;
SELECT firehose.create_delivery_stream('demo-orders-fh', 'demo_orders_table',
         delivery_stream_type => 'KinesisStreamAsSource', kinesis_stream_name => 'demo_orders',
         starting_position => 'TRIM_HORIZON', buffering_interval => '900 s');
SELECT firehose.flush('demo-orders-fh') AS records_taken;
SELECT count(*) AS delivered, sum(amount) AS total FROM demo_orders_table;
SELECT error_code, error_message FROM firehose.delivery_errors;

\echo
\echo '== 11. Firehose: the same orders as newline-delimited JSON files, one folder per customer, by the worker'
SELECT firehose.create_delivery_stream('demo-orders-files', destination_directory => :'objects_dir',
         delivery_stream_type => 'KinesisStreamAsSource', kinesis_stream_name => 'demo_orders',
         starting_position => 'TRIM_HORIZON', file_format => 'jsonlines',
         prefix => 'orders/customer=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy-MM-dd}/',
         partition_keys => '{"customer": "$.customer"}', buffering_interval => '1 s');
\set ECHO none
-- the worker delivers once the oldest record is older than the 1 s interval
DO $$
BEGIN
    FOR i IN 1 .. 100 LOOP
        EXIT WHEN (SELECT coalesce(pending_records, 0) = 0 AND records_delivered > 0
                     FROM firehose.delivery_stream_metrics WHERE delivery_stream_name = 'demo-orders-files');
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
\set ECHO queries
SELECT substr(object_path, length(:'objects_dir') + 2) AS object, records, bytes
  FROM firehose.delivered_objects ORDER BY object_path;
-- one object, as written (renamed into place when its transaction committed)
SELECT pg_read_file(min(object_path)) AS first_object FROM firehose.delivered_objects;
SELECT delivery_stream_name, destination_type, incoming_records, records_delivered, objects_delivered,
       delivery_failed, data_freshness
  FROM firehose.delivery_stream_metrics ORDER BY delivery_stream_name;

\echo
\echo '== 12. Glue: crawl the files Firehose delivered, then query them with plain SQL'
SELECT glue.create_database('demo_lake', description => 'what the demo Firehose delivered');
SELECT glue.create_crawler('demo_lake', 'demo_lake',
         targets => jsonb_build_object('directory_targets',
                                       jsonb_build_array(jsonb_build_object('path', :'objects_dir' || '/orders'))));
SELECT glue.start_crawler('demo_lake') IS NOT NULL AS started;
\set ECHO none
-- the crawl runs in a background worker of its own
DO $$
BEGIN
    FOR i IN 1 .. 200 LOOP
        EXIT WHEN (SELECT state = 'READY' FROM glue.get_crawler('demo_lake'));
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
\set ECHO queries
SELECT state, duration_seconds, summary ->> 'files_scanned' AS files_scanned,
       summary ->> 'tables_created' AS tables_created, summary ->> 'partitions_created' AS partitions_created
  FROM glue.list_crawls('demo_lake') LIMIT 1;
SELECT column_name, glue_type, pg_type, is_partition_key FROM glue.catalog_columns
 WHERE database_name = 'demo_lake' ORDER BY table_name, ordinal_position;
SELECT name, classification, glue.table_relation('demo_lake', name) AS relation FROM glue.get_tables('demo_lake');
-- the crawled table is a view over the files, partitions as columns
SELECT customer, count(*) AS orders, sum(amount) AS total, min(partition_1) AS day
  FROM glue_tables.demo_lake_orders GROUP BY customer ORDER BY customer;

\echo
\echo '== 13. Glue jobs: every minute, pg_cron starts a bookmarked job that adds the newly delivered orders to a summary'
CREATE TABLE IF NOT EXISTS demo_customer_totals (customer text PRIMARY KEY, orders bigint, amount numeric,
                                                 last_run bigint);
TRUNCATE demo_customer_totals;
-- each run reads only the orders delivered since the last successful run (a high-water mark on order_id,
-- committed in the same transaction as the summary rows)
SELECT glue.create_job('demo_summarize', script => $$
    INSERT INTO demo_customer_totals AS t
    SELECT o.customer, count(*), sum(o.amount), glue.job_run_id()
      FROM glue.bookmark_range('public.demo_orders_table', 'order_id', NULL::int) b
      JOIN demo_orders_table o ON (b.after_value IS NULL OR o.order_id > b.after_value) AND o.order_id <= b.up_to_value
     GROUP BY o.customer
    ON CONFLICT (customer) DO UPDATE
       SET orders = t.orders + excluded.orders, amount = t.amount + excluded.amount, last_run = excluded.last_run$$,
    default_arguments => '{"--job-bookmark-option": "job-bookmark-enable"}', timeout => '5 minutes');
SELECT glue.create_trigger('demo_every_minute', 'SCHEDULED', '[{"job_name": "demo_summarize"}]',
                           schedule => 'cron(* * * * ? *)', start_on_creation => true);
SELECT jobname, schedule, command FROM cron.job WHERE jobname LIKE 'glue trigger:%';
\echo '(waiting for pg_cron to fire, at most a minute)'
\set ECHO none
DO $$
BEGIN
    FOR i IN 1 .. 750 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM glue.get_job_runs('demo_summarize') WHERE state = 'SUCCEEDED');
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
\set ECHO queries
SELECT run_id, trigger_name, state, execution_time, attempt FROM glue.get_job_runs('demo_summarize');
SELECT customer, orders, amount FROM demo_customer_totals ORDER BY customer;
SELECT source, high_water FROM glue.get_job_bookmark('demo_summarize');
SELECT glue.stop_trigger('demo_every_minute');      -- the pg_cron job goes with it

\echo
\echo '== 14. Glue workflow: summarize, then report; drawn from glue.workflow_graph (Graphviz DOT)'
CREATE TABLE IF NOT EXISTS demo_reports (workflow_run bigint, customers bigint, amount numeric);
TRUNCATE demo_reports;
SELECT glue.create_job('demo_report', script => $$
    INSERT INTO demo_reports SELECT glue.job_argument('WORKFLOW_RUN_ID')::bigint, count(*), sum(amount)
      FROM demo_customer_totals$$);
SELECT glue.create_workflow('demo_nightly', description => 'summarize the delivered orders, then report');
SELECT glue.create_trigger('demo_nightly_start', 'ON_DEMAND', '[{"job_name": "demo_summarize"}]',
                           workflow_name => 'demo_nightly');
SELECT glue.create_trigger('demo_after_summary', 'CONDITIONAL', '[{"job_name": "demo_report"}]',
                           workflow_name => 'demo_nightly', start_on_creation => true,
                           predicate => '{"conditions": [{"job_name": "demo_summarize", "state": "SUCCEEDED"}]}');
SELECT glue.start_workflow_run('demo_nightly') AS workflow_run \gset
\set ECHO none
DO $$
BEGIN
    FOR i IN 1 .. 200 LOOP
        EXIT WHEN (SELECT status <> 'RUNNING' FROM glue.get_workflow_runs('demo_nightly') LIMIT 1);
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
\set ECHO queries
SELECT status, statistics FROM glue.get_workflow_run('demo_nightly', :workflow_run);
SELECT * FROM demo_reports;
\pset format unaligned
\pset tuples_only on
SELECT glue.workflow_graph('demo_nightly', :workflow_run);
\o :demo_dir/demo_nightly.dot
SELECT glue.workflow_graph('demo_nightly', :workflow_run);
\o
\pset tuples_only off
\pset format aligned
