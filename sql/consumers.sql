--
-- consumers: named consumers of a data stream.
--   register_stream_consumer, list_stream_consumers, deregister_stream_consumer,
--   the consumer_count of describe_stream_summary, delete_stream with
--   consumers, consume (leases, transactional checkpoints, parents before
--   children), checkpoint, the kinesis.consumer_positions view and the
--   waiting get_records(iterator, limit, wait).
-- Everything here runs in one session, so every lease is this session's;
-- sharing shards between sessions, lease expiry and waiting are covered by
-- test/specs/consume_*.spec and test/t/030_consumers.pl.
-- Streams of this file are named 'cs.*' and deleted at the end; roles are
-- regress_kg_cs_*, dropped at the end.  Sequence numbers, tokens and
-- timestamps are never printed: relations between sequence numbers are
-- shown as booleans.
--
\set VERBOSITY default

CREATE ROLE regress_kg_cs_owner;
CREATE ROLE regress_kg_cs_reader;
CREATE ROLE regress_kg_cs_reader2;
CREATE ROLE regress_kg_cs_nobody;
GRANT CREATE ON SCHEMA kinesis_records TO regress_kg_cs_owner;

-- consume, as rows of text; ord is the order consume returned them in, and
-- in_order tells whether each record's sequence number is above the one
-- returned before it from the same shard
CREATE FUNCTION pg_temp.take(stream text, consumer text, n int DEFAULT 1000)
RETURNS TABLE (ord bigint, shard_id text, partition_key text, data text, in_order boolean)
LANGUAGE sql AS $$
    SELECT c.ord, c.shard_id, c.partition_key, convert_from(c.data, 'UTF8'),
           c.sequence_number > lag(c.sequence_number) OVER (PARTITION BY c.shard_id ORDER BY c.ord)
      FROM kinesis.consume(stream, consumer, n)
           WITH ORDINALITY AS c(shard_id, sequence_number, arrival, partition_key, data, ord)
     ORDER BY c.ord
$$;
-- put records key || i (data d || i) for i in 1..n, one put_record per record
CREATE FUNCTION pg_temp.put(stream text, key text, d text, n int) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*) FROM generate_series(1, n) i,
           LATERAL kinesis.put_record(stream, key || i, convert_to(d || i, 'UTF8'))
$$;

--
-- register_stream_consumer: starting positions
--
SELECT kinesis.create_stream('cs.s', 2);
SELECT pg_temp.put('cs.s', 'k', 'before-', 4);
-- the default is TRIM_HORIZON: every record put before
SELECT kinesis.register_stream_consumer('cs.s', 'trim');
SELECT kinesis.register_stream_consumer('cs.s', 'trim2', 'TRIM_HORIZON');
SELECT kinesis.register_stream_consumer('cs.s', 'latest', 'LATEST');
SELECT pg_temp.put('cs.s', 'k', 'middle-', 2);
SELECT clock_timestamp() AS ts \gset
SELECT pg_temp.put('cs.s', 'k', 'after-', 2);
SELECT kinesis.register_stream_consumer('cs.s', 'at_ts', 'AT_TIMESTAMP', :'ts');
-- named arguments
SELECT kinesis.register_stream_consumer(stream_name => 'cs.s', consumer_name => 'named',
                                        starting_position => 'LATEST');
SELECT * FROM pg_temp.take('cs.s', 'trim');
SELECT * FROM pg_temp.take('cs.s', 'trim2');
SELECT * FROM pg_temp.take('cs.s', 'latest');
SELECT * FROM pg_temp.take('cs.s', 'at_ts');
SELECT * FROM pg_temp.take('cs.s', 'named');
-- positions: a timestamp goes with AT_TIMESTAMP, and only with it
SELECT kinesis.register_stream_consumer('cs.s', 'x', 'AT_TIMESTAMP');
SELECT kinesis.register_stream_consumer('cs.s', 'x', 'TRIM_HORIZON', now());
SELECT kinesis.register_stream_consumer('cs.s', 'x', 'LATEST', now());
SELECT kinesis.register_stream_consumer('cs.s', 'x', 'AT_SEQUENCE_NUMBER');
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('lower_case', $$SELECT kinesis.register_stream_consumer('cs.s', 'x', 'latest')$$),
               ('after_seq', $$SELECT kinesis.register_stream_consumer('cs.s', 'x', 'AFTER_SEQUENCE_NUMBER')$$),
               ('empty', $$SELECT kinesis.register_stream_consumer('cs.s', 'x', '')$$)) AS t(what, stmt);
-- names: 1 to 128 of [a-zA-Z0-9_.-]
SELECT kinesis.register_stream_consumer('cs.s', '');
SELECT kinesis.register_stream_consumer('cs.s', 'has space');
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('name_129', format('SELECT kinesis.register_stream_consumer(%L, %L)', 'cs.s', repeat('n', 129))),
               ('non_ascii', $$SELECT kinesis.register_stream_consumer('cs.s', 'émile')$$),
               ('slash', $$SELECT kinesis.register_stream_consumer('cs.s', 'a/b')$$),
               ('quote', $$SELECT kinesis.register_stream_consumer('cs.s', 'a"b')$$),
               ('null_name', $$SELECT kinesis.register_stream_consumer('cs.s', NULL)$$),
               ('null_stream', $$SELECT kinesis.register_stream_consumer(NULL, 'x')$$)) AS t(what, stmt);
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('name_128', format('SELECT kinesis.register_stream_consumer(%L, %L)', 'cs.s', repeat('N', 128))),
               ('all_classes', $$SELECT kinesis.register_stream_consumer('cs.s', 'Az09_.-')$$)) AS t(what, stmt);
-- a duplicate name
SELECT kinesis.register_stream_consumer('cs.s', 'trim');
SELECT kg_try($$SELECT kinesis.register_stream_consumer('cs.s', 'trim', 'LATEST')$$) AS duplicate;
-- an unknown stream
SELECT kinesis.register_stream_consumer('cs.nope', 'x');
-- nothing of the failures above was registered
SELECT CASE WHEN length(consumer_name) > 20 THEN left(consumer_name, 3) || '... (' || length(consumer_name) || ' characters)'
            ELSE consumer_name END AS consumer_name,
       consumer_status, consumer_creation_timestamp IS NOT NULL AS has_creation_time
  FROM kinesis.list_stream_consumers('cs.s');
SELECT stream_name, consumer_count FROM kinesis.describe_stream_summary('cs.s');
-- 20 consumers per stream: the 21st is refused
SELECT count(*) FROM kinesis.list_stream_consumers('cs.s');
SELECT kinesis.register_stream_consumer('cs.s', 'fill-' || i) FROM generate_series(1, 12) i;
SELECT consumer_count FROM kinesis.describe_stream_summary('cs.s');
SELECT kinesis.register_stream_consumer('cs.s', 'fill-13');
SELECT kg_try($$SELECT kinesis.register_stream_consumer('cs.s', 'fill-14')$$) AS twenty_second;
-- a duplicate of a full stream is still a duplicate
SELECT kg_try($$SELECT kinesis.register_stream_consumer('cs.s', 'trim')$$) AS duplicate_when_full;
-- after a deregistration there is room again
SELECT kinesis.deregister_stream_consumer('cs.s', 'fill-12');
SELECT kg_try($$SELECT kinesis.register_stream_consumer('cs.s', 'fill-12')$$) AS twentieth;
SELECT consumer_count FROM kinesis.describe_stream_summary('cs.s');
SELECT count(*) AS listed, count(*) FILTER (WHERE consumer_status = 'ACTIVE') AS active
  FROM kinesis.list_stream_consumers('cs.s');
-- consumers are per stream: another stream's count is its own
SELECT kinesis.create_stream('cs.t', 1);
SELECT kinesis.register_stream_consumer('cs.t', 'trim');
SELECT consumer_name FROM kinesis.list_stream_consumers('cs.t');
SELECT stream_name, consumer_count FROM kinesis.describe_stream_summary('cs.t');
SELECT kinesis.list_stream_consumers('cs.nope');
SELECT * FROM kinesis.list_stream_consumers(NULL);

--
-- deregister_stream_consumer
--
SELECT kinesis.deregister_stream_consumer('cs.s', 'nope');
SELECT kinesis.deregister_stream_consumer('cs.nope', 'trim');
SELECT kg_try($$SELECT kinesis.deregister_stream_consumer('cs.s', NULL)$$) AS null_name;
SELECT kinesis.deregister_stream_consumer('cs.s', 'fill-' || i) FROM generate_series(1, 13) i;
SELECT kinesis.deregister_stream_consumer('cs.s', repeat('N', 128));
SELECT kinesis.deregister_stream_consumer('cs.s', 'Az09_.-');
SELECT consumer_name FROM kinesis.list_stream_consumers('cs.s');
-- the consumer's positions go with it; a new consumer of the same name
-- starts afresh
SELECT count(*) FROM kinesis.consumer_positions WHERE stream_name = 'cs.s' AND consumer_name = 'trim2';
SELECT kinesis.deregister_stream_consumer('cs.s', 'trim2');
SELECT count(*) FROM kinesis.consumer_positions WHERE stream_name = 'cs.s' AND consumer_name = 'trim2';
SELECT kinesis.consume('cs.s', 'trim2');
SELECT kinesis.register_stream_consumer('cs.s', 'trim2');
SELECT count(*) AS again_from_trim_horizon FROM kinesis.consume('cs.s', 'trim2');

--
-- privileges: registering and consuming need SELECT on the stream;
-- deregistering is for the registering role or the stream's owner
--
SET ROLE regress_kg_cs_owner;
SELECT kinesis.create_stream('cs.p', 1);
SELECT pg_temp.put('cs.p', 'p', 'p', 3);
GRANT SELECT ON kinesis_records."cs.p" TO regress_kg_cs_reader, regress_kg_cs_reader2;
SELECT kinesis.register_stream_consumer('cs.p', 'by_owner');
RESET ROLE;
SET ROLE regress_kg_cs_nobody;
SELECT kinesis.register_stream_consumer('cs.p', 'by_nobody');
SELECT kinesis.consume('cs.p', 'by_owner');
SELECT kinesis.checkpoint('cs.p', 'by_owner', 'shardId-000000000000', 65536);
-- listing is not reading
SELECT consumer_name FROM kinesis.list_stream_consumers('cs.p');
-- the positions view hides the lag of a stream the caller cannot read
SELECT consumer_name, shard_id, lag_records FROM kinesis.consumer_positions WHERE stream_name = 'cs.p';
RESET ROLE;
SET ROLE regress_kg_cs_reader;
SELECT kinesis.register_stream_consumer('cs.p', 'by_reader');
SELECT partition_key, data FROM pg_temp.take('cs.p', 'by_reader');
SELECT consumer_name, shard_id, lag_records FROM kinesis.consumer_positions
 WHERE stream_name = 'cs.p' ORDER BY consumer_name;
-- a reader may not consume with a consumer another role registered
-- (consumer_privacy.sql has the rest of that rule), nor deregister it
SELECT count(*) FROM kinesis.consume('cs.p', 'by_owner', 1);
SELECT kinesis.deregister_stream_consumer('cs.p', 'by_owner');
RESET ROLE;
SET ROLE regress_kg_cs_reader2;
SELECT kinesis.deregister_stream_consumer('cs.p', 'by_reader');
RESET ROLE;
SET ROLE regress_kg_cs_nobody;
SELECT kg_try($$SELECT kinesis.deregister_stream_consumer('cs.p', 'by_reader')$$) AS nobody;
RESET ROLE;
SELECT consumer_name FROM kinesis.list_stream_consumers('cs.p');
-- the registering role may, and so may the stream's owner
SET ROLE regress_kg_cs_reader;
SELECT kinesis.register_stream_consumer('cs.p', 'by_reader_2');
SELECT kinesis.deregister_stream_consumer('cs.p', 'by_reader');
RESET ROLE;
SET ROLE regress_kg_cs_owner;
SELECT kinesis.deregister_stream_consumer('cs.p', 'by_reader_2');
RESET ROLE;
SELECT consumer_name FROM kinesis.list_stream_consumers('cs.p');
-- no one can write the catalog directly
SET ROLE regress_kg_cs_reader;
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('update_positions', $$UPDATE kinesis.consumer_shards SET checkpoint = 0$$),
               ('delete_consumers', $$DELETE FROM kinesis.consumers$$)) AS t(what, stmt);
RESET ROLE;

--
-- delete_stream refuses a stream with consumers unless told to delete them
--
SELECT kinesis.delete_stream('cs.t');
SELECT kg_try($$SELECT kinesis.delete_stream('cs.t', false)$$) AS not_enforced;
SELECT stream_name, stream_status, consumer_count FROM kinesis.describe_stream_summary('cs.t');
SELECT kinesis.delete_stream('cs.t', enforce_consumer_deletion => true);
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name = 'cs.t';
SELECT count(*) AS consumers_left FROM kinesis.consumers c
 WHERE NOT EXISTS (SELECT 1 FROM kinesis.streams s WHERE s.stream_id = c.stream_id);
-- a stream whose consumers are all deregistered is deleted as usual
SELECT kinesis.create_stream('cs.t', 1);
SELECT kinesis.register_stream_consumer('cs.t', 'gone');
SELECT kinesis.deregister_stream_consumer('cs.t', 'gone');
SELECT kinesis.delete_stream('cs.t');

--
-- consume: arguments
--
SELECT kinesis.consume('cs.s', 'trim', 0);
SELECT kinesis.consume('cs.s', 'trim', 10001);
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('negative', $$SELECT kinesis.consume('cs.s', 'trim', -1)$$),
               ('negative_wait', $$SELECT kinesis.consume('cs.s', 'trim', 1, '-1 s')$$),
               ('long_wait', $$SELECT kinesis.consume('cs.s', 'trim', 1, '2 hours')$$),
               ('null_consumer', $$SELECT kinesis.consume('cs.s', NULL)$$),
               ('null_stream', $$SELECT kinesis.consume(NULL, 'trim')$$)) AS t(what, stmt);
SELECT kinesis.consume('cs.s', 'nope');
SELECT kinesis.consume('cs.nope', 'trim');
-- the bounds themselves are accepted; a NULL max_records is the default
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('one', $$SELECT kinesis.consume('cs.s', 'trim', 1)$$),
               ('ten_thousand', $$SELECT kinesis.consume('cs.s', 'trim', 10000)$$),
               ('null_max', $$SELECT kinesis.consume('cs.s', 'trim', NULL)$$)) AS t(what, stmt);
-- nothing to read, waiting a little: empty, not an error
SELECT count(*) FROM kinesis.consume('cs.s', 'trim', wait => '10 ms');

--
-- consume: order, bounds, transactions
--
SELECT kinesis.create_stream('cs.c', 3);
SELECT kinesis.register_stream_consumer('cs.c', 'one');
SELECT kinesis.register_stream_consumer('cs.c', 'two');
SELECT pg_temp.put('cs.c', 'key-', 'r', 30);
-- max_records bounds the whole call, over all shards
CREATE TEMP TABLE got AS SELECT 1 AS call, * FROM pg_temp.take('cs.c', 'one', 4);
SELECT count(*) FROM got;
-- the rest, shard by shard in shard order, each shard in sequence order
INSERT INTO got SELECT 2, * FROM pg_temp.take('cs.c', 'one');
SELECT call, count(*) AS records, count(DISTINCT shard_id) AS shards,
       count(*) FILTER (WHERE NOT in_order) AS out_of_order
  FROM got GROUP BY call ORDER BY call;
SELECT count(*) AS shard_order_breaks
  FROM (SELECT shard_id < lag(shard_id) OVER (PARTITION BY call ORDER BY ord) AS back FROM got) x WHERE back;
-- together, every record once
SELECT count(*) AS records, count(DISTINCT data) AS distinct_records,
       count(*) FILTER (WHERE data <> 'r' || substr(partition_key, 5)) AS garbled
  FROM got;
-- 'one' is done; 'two' has not read anything yet: consumers are independent
SELECT count(*) FROM kinesis.consume('cs.c', 'one');
-- everything 'two' commits goes to cs_done in the same transaction; its
-- primary key refuses a record given twice
CREATE TEMP TABLE cs_done (data text PRIMARY KEY);
INSERT INTO cs_done SELECT data FROM pg_temp.take('cs.c', 'two', 10);
-- rolled back: the same records again
BEGIN;
SELECT array_agg(data ORDER BY ord)::text AS first_try FROM pg_temp.take('cs.c', 'two', 5) \gset
ROLLBACK;
BEGIN;
SELECT array_agg(data ORDER BY ord)::text AS second_try FROM pg_temp.take('cs.c', 'two', 5) \gset
ROLLBACK;
SELECT :'first_try' = :'second_try' AS same_records_again;
WITH t AS (INSERT INTO cs_done SELECT data FROM pg_temp.take('cs.c', 'two', 5) RETURNING data)
SELECT count(*), array_agg(data)::text = :'first_try' AS same_records_again FROM t;
-- a savepoint rolled back takes the checkpoint back with it
BEGIN;
SAVEPOINT s;
SELECT array_agg(data ORDER BY ord)::text AS first_try FROM pg_temp.take('cs.c', 'two', 2) \gset
ROLLBACK TO SAVEPOINT s;
WITH t AS (INSERT INTO cs_done SELECT data FROM pg_temp.take('cs.c', 'two', 2) RETURNING data)
SELECT count(*), array_agg(data)::text = :'first_try' AS same_records_again FROM t;
COMMIT;
-- a transaction that fails: its work and its checkpoint are gone
BEGIN;
INSERT INTO cs_done SELECT data FROM pg_temp.take('cs.c', 'two', 3);
SELECT 1 / 0;
COMMIT;
-- and the rest
INSERT INTO cs_done SELECT data FROM pg_temp.take('cs.c', 'two');
-- committed once, never again: 'two' got every record exactly once
SELECT count(*) AS records, count(*) FILTER (WHERE data IN (SELECT data FROM got)) AS known FROM cs_done;
SELECT count(*) FROM kinesis.consume('cs.c', 'two');
-- records put now come to both
SELECT pg_temp.put('cs.c', 'late-', 'late', 2);
SELECT shard_id, partition_key, data FROM pg_temp.take('cs.c', 'one') ORDER BY data;
SELECT shard_id, partition_key, data FROM pg_temp.take('cs.c', 'two') ORDER BY data;
-- a record rolled back by its producer is never consumed
BEGIN;
SELECT count(*) FROM kinesis.put_record('cs.c', 'late-1', 'rolled back');
ROLLBACK;
SELECT count(*) FROM kinesis.consume('cs.c', 'one');
-- consume is refused in a read-only transaction
BEGIN READ ONLY;
SELECT kinesis.consume('cs.c', 'one');
ROLLBACK;

--
-- consume across a split: parents finished before children, so the
-- records of a key come in put order
--
SELECT kinesis.create_stream('cs.split', 1);
SELECT kinesis.register_stream_consumer('cs.split', 'c');
SELECT kinesis.register_stream_consumer('cs.split', 'caught_up');
SELECT count(*) FROM generate_series(0, 23) g,
       LATERAL kinesis.put_record('cs.split', 'key-' || (g % 8 + 1), convert_to((g / 8 + 1)::text, 'UTF8'));
-- part of the parent is read before the split; all of it by 'caught_up'
SELECT count(*) FROM kinesis.consume('cs.split', 'c', 5);
SELECT count(*) FROM kinesis.consume('cs.split', 'caught_up');
SELECT kinesis.split_shard('cs.split', 'shardId-000000000000', 170141183460469231731687303715884105728);
SELECT count(*) FROM generate_series(24, 47) g,
       LATERAL kinesis.put_record('cs.split', 'key-' || (g % 8 + 1), convert_to((g / 8 + 1)::text, 'UTF8'));
-- a consumer registered after the split starts at the trim horizon of
-- every shard, the closed parent included
SELECT kinesis.register_stream_consumer('cs.split', 'late');
CREATE TEMP TABLE split_got (consumer text, call int, ord bigint, shard_id text, partition_key text, data text);
-- first call: the rest of the parent only; children wait for it
INSERT INTO split_got SELECT 'c', 1, ord, shard_id, partition_key, data FROM pg_temp.take('cs.split', 'c');
INSERT INTO split_got SELECT 'late', 1, ord, shard_id, partition_key, data FROM pg_temp.take('cs.split', 'late');
-- second call: the children
INSERT INTO split_got SELECT 'c', 2, ord, shard_id, partition_key, data FROM pg_temp.take('cs.split', 'c');
INSERT INTO split_got SELECT 'late', 2, ord, shard_id, partition_key, data FROM pg_temp.take('cs.split', 'late');
SELECT consumer, call, shard_id, count(*) FROM split_got GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- 'caught_up' had read the whole parent before the split: its first call
-- finishes the parent and goes on with the children at once (an empty
-- result would tell the caller that nothing is left to read)
SELECT shard_id, count(*) FROM kinesis.consume('cs.split', 'caught_up') GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM kinesis.consume('cs.split', 'caught_up');
SELECT count(*) FROM kinesis.consume('cs.split', 'c');
SELECT count(*) FROM kinesis.consume('cs.split', 'late');
-- per key, 'late' got rounds 1..6 in order; 'c' got what the first 5
-- records did not hold, in order
SELECT consumer, count(*) AS keys_in_put_order
  FROM (SELECT consumer, partition_key,
               array_agg(data ORDER BY call, ord) AS rounds
          FROM split_got GROUP BY consumer, partition_key) x
 WHERE rounds = (SELECT array_agg(r::text ORDER BY r) FROM generate_series(7 - cardinality(rounds), 6) r)
 GROUP BY consumer ORDER BY consumer;
SELECT consumer_name, shard_id, finished, lag_records FROM kinesis.consumer_positions
 WHERE stream_name = 'cs.split' ORDER BY consumer_name, shard_id;

--
-- checkpoint
--
SELECT kinesis.create_stream('cs.k', 2);
SELECT kinesis.register_stream_consumer('cs.k', 'c');
-- eight records on each shard (explicit hash keys)
SELECT count(*) FROM generate_series(0, 15) g,
       LATERAL kinesis.put_record('cs.k', 'k' || (g / 2 + 1), convert_to((g / 2 + 1)::text, 'UTF8'),
                                  CASE g % 2 WHEN 0 THEN 0 ELSE 170141183460469231731687303715884105728 END);
CREATE TEMP TABLE k_recs AS
SELECT shard_id, sequence_number, data, row_number() OVER (PARTITION BY shard_id ORDER BY sequence_number) AS n
  FROM kinesis.read_shard('cs.k', 'shardId-000000000000')
UNION ALL
SELECT shard_id, sequence_number, data, row_number() OVER (PARTITION BY shard_id ORDER BY sequence_number)
  FROM kinesis.read_shard('cs.k', 'shardId-000000000001');
SELECT shard_id, count(*) FROM k_recs GROUP BY 1 ORDER BY 1;
-- lag before anything is consumed: every record
SELECT shard_id, lag_records, finished FROM kinesis.consumer_positions
 WHERE stream_name = 'cs.k' ORDER BY shard_id;
-- mark the 3rd record of shard 0 and the 6th of shard 1 processed
SELECT kinesis.checkpoint('cs.k', 'c', shard_id, sequence_number)
  FROM k_recs WHERE (shard_id, n) IN (('shardId-000000000000', 3), ('shardId-000000000001', 6));
SELECT p.shard_id, p.lag_records,
       p.checkpoint_sequence_number = r.sequence_number AS at_marked_record
  FROM kinesis.consumer_positions p JOIN k_recs r ON r.shard_id = p.shard_id
 WHERE p.stream_name = 'cs.k' AND r.n IN (3, 6) AND (r.shard_id, r.n) IN (('shardId-000000000000', 3), ('shardId-000000000001', 6))
 ORDER BY 1;
-- consumption resumes after the marked records
SELECT shard_id, string_agg(data, ',' ORDER BY ord) FROM pg_temp.take('cs.k', 'c') GROUP BY 1 ORDER BY 1;
-- a checkpoint may go back: records after it come again
SELECT kinesis.checkpoint('cs.k', 'c', 'shardId-000000000001', sequence_number)
  FROM k_recs WHERE shard_id = 'shardId-000000000001' AND n = 7;
SELECT shard_id, string_agg(data, ',' ORDER BY ord) FROM pg_temp.take('cs.k', 'c') GROUP BY 1 ORDER BY 1;
-- rolled back with its transaction
BEGIN;
SELECT kinesis.checkpoint('cs.k', 'c', 'shardId-000000000000', sequence_number)
  FROM k_recs WHERE shard_id = 'shardId-000000000000' AND n = 1;
ROLLBACK;
SELECT count(*) FROM kinesis.consume('cs.k', 'c');
-- the last record of a shard is a valid checkpoint; nothing is left after it
SELECT kinesis.checkpoint('cs.k', 'c', 'shardId-000000000000', sequence_number)
  FROM k_recs WHERE shard_id = 'shardId-000000000000' AND n = 8;
SELECT count(*) FROM kinesis.consume('cs.k', 'c');
-- refused: a sequence number of another shard, one beyond the last
-- record of the shard (numbers in the messages are masked)
SELECT t.what, regexp_replace(kg_try(t.stmt), 'sequence number -?[0-9]+', 'sequence number <n>') AS outcome
  FROM (VALUES ('other_shard_0', format('SELECT kinesis.checkpoint(%L, %L, %L, %s)', 'cs.k', 'c', 'shardId-000000000000', (SELECT sequence_number FROM k_recs WHERE shard_id = 'shardId-000000000001' AND n = 2))),
               ('far_beyond', format('SELECT kinesis.checkpoint(%L, %L, %L, %s)', 'cs.k', 'c', 'shardId-000000000000', (SELECT sequence_number + (100 << 16) FROM k_recs WHERE shard_id = 'shardId-000000000000' AND n = 8))),
               ('other_shard', format('SELECT kinesis.checkpoint(%L, %L, %L, %s)', 'cs.k', 'c', 'shardId-000000000001', (SELECT sequence_number FROM k_recs WHERE shard_id = 'shardId-000000000000' AND n = 1))),
               ('just_beyond', format('SELECT kinesis.checkpoint(%L, %L, %L, %s)', 'cs.k', 'c', 'shardId-000000000001', (SELECT max(sequence_number) + (1 << 16) FROM k_recs WHERE shard_id = 'shardId-000000000001'))),
               ('negative', $$SELECT kinesis.checkpoint('cs.k', 'c', 'shardId-000000000000', -5)$$),
               ('max_bigint', $$SELECT kinesis.checkpoint('cs.k', 'c', 'shardId-000000000000', 9223372036854775807)$$)) AS t(what, stmt);
-- unknown shard, consumer, stream; NULLs
SELECT kinesis.checkpoint('cs.k', 'c', 'shardId-000000000009', 0);
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('bad_shard_id', $$SELECT kinesis.checkpoint('cs.k', 'c', 'garbage', 0)$$),
               ('unknown_consumer', $$SELECT kinesis.checkpoint('cs.k', 'nope', 'shardId-000000000000', 0)$$),
               ('unknown_stream', $$SELECT kinesis.checkpoint('cs.nope', 'c', 'shardId-000000000000', 0)$$),
               ('null_sequence', $$SELECT kinesis.checkpoint('cs.k', 'c', 'shardId-000000000000', NULL)$$)) AS t(what, stmt);
-- none of the refused checkpoints moved anything
SELECT shard_id, lag_records FROM kinesis.consumer_positions WHERE stream_name = 'cs.k' ORDER BY shard_id;
SELECT count(*) FROM kinesis.consume('cs.k', 'c');
-- lag counts records put since
SELECT count(*) FROM generate_series(1, 3) i, LATERAL kinesis.put_record('cs.k', 'x', 'x', 0);
SELECT shard_id, lag_records, lag_time IS NOT NULL AS has_lag_time FROM kinesis.consumer_positions
 WHERE stream_name = 'cs.k' ORDER BY shard_id;
SELECT count(*) FROM kinesis.consume('cs.k', 'c');
SELECT shard_id, lag_records, lag_time IS NULL AS no_lag_time FROM kinesis.consumer_positions
 WHERE stream_name = 'cs.k' ORDER BY shard_id;
-- a checkpoint at the last record of a closed parent: the next consume
-- goes on with the children
SELECT kinesis.register_stream_consumer('cs.split', 'cp');
SELECT kinesis.checkpoint('cs.split', 'cp', 'shardId-000000000000', max(sequence_number))
  FROM kinesis.read_shard('cs.split', 'shardId-000000000000');
SELECT shard_id, lag_records FROM kinesis.consumer_positions
 WHERE stream_name = 'cs.split' AND consumer_name = 'cp' ORDER BY shard_id;
SELECT shard_id, count(*) FROM kinesis.consume('cs.split', 'cp') GROUP BY 1 ORDER BY 1;
SELECT shard_id, finished, lag_records FROM kinesis.consumer_positions
 WHERE stream_name = 'cs.split' AND consumer_name = 'cp' ORDER BY shard_id;

--
-- get_records(iterator, limit, wait)
--
SELECT kinesis.get_shard_iterator('cs.k', 'shardId-000000000001', 'TRIM_HORIZON') AS it \gset
SELECT cardinality(records) AS n, next_shard_iterator IS NOT NULL AS has_next
  FROM kinesis.get_records(:'it', 5, '0');
SELECT cardinality(records) AS n FROM kinesis.get_records(:'it', 100, '10 ms');
SELECT kinesis.get_shard_iterator('cs.k', 'shardId-000000000001', 'LATEST') AS it \gset
SELECT cardinality(records) AS n, next_shard_iterator IS NOT NULL AS has_next
  FROM kinesis.get_records(:'it', 100, '10 ms');
SELECT t.what, kg_try(t.stmt) AS outcome
  FROM (VALUES ('negative_wait', format('SELECT kinesis.get_records(%L, 10, %L)', :'it', '-1 s')),
               ('zero_limit', format('SELECT kinesis.get_records(%L, 0, %L)', :'it', '1 s'))) AS t(what, stmt);

--
-- clean up
--
SELECT kinesis.delete_stream(stream_name, enforce_consumer_deletion => true) FROM kinesis.list_streams()
 WHERE stream_name LIKE 'cs.%' ORDER BY stream_name COLLATE "C";
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name LIKE 'cs.%';
SELECT count(*) AS consumers, (SELECT count(*) FROM kinesis.consumer_shards) AS positions FROM kinesis.consumers;
REVOKE CREATE ON SCHEMA kinesis_records FROM regress_kg_cs_owner;
DROP ROLE regress_kg_cs_owner;
DROP ROLE regress_kg_cs_reader;
DROP ROLE regress_kg_cs_reader2;
DROP ROLE regress_kg_cs_nobody;
