-- Benchmark schema (run once by run.sh on its private cluster).
-- Streams and baseline tables of the same shape; the baselines have the
-- PRIMARY KEY (shard_index, sequence_number) named by DESIGN.md.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION kinesis_glue;

-- The input of the batch cases, made once: 500 partition keys and 500
-- payloads of 100 random bytes, as parallel arrays in one row.  Both sides
-- read (and detoast) this same row on every call.
CREATE TABLE bench_input (keys text[] NOT NULL, datas bytea[] NOT NULL);
INSERT INTO bench_input
SELECT array_agg(k ORDER BY i), array_agg(d ORDER BY i)
  FROM (SELECT i, 'user-' || i AS k,
               substring(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
                         || uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
                         || uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
                         || uuid_send(gen_random_uuid()), 1, 100) AS d
          FROM generate_series(1, 500) i) s;

-- Cases 1, 2 (put_records) and 4 (put_record): 4-shard streams and their
-- baselines (shard = position % 4, sequence number from a sequence).
SELECT kinesis.create_stream('bench', 4);
SELECT kinesis.create_stream('bench1', 4);
CREATE TABLE baseline (
    shard_index integer NOT NULL,
    sequence_number bigint NOT NULL,
    approximate_arrival_timestamp timestamptz NOT NULL,
    partition_key text NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (shard_index, sequence_number));
CREATE SEQUENCE baseline_seq;
CREATE TABLE baseline1 (LIKE baseline INCLUDING ALL);
CREATE SEQUENCE baseline1_seq;

-- Case 3 (get_records): a 1-shard stream preloaded with 10,500 records
-- (21 calls of 500); run.sh copies the very same rows into baseline_get
-- once they are readable.
SELECT kinesis.create_stream('bench_get', 1);
SELECT format('SELECT count(*) FROM bench_input b, kinesis.put_records(%L, b.keys, b.datas)', 'bench_get')
  FROM generate_series(1, 21) \gexec
CREATE TABLE baseline_get (LIKE baseline INCLUDING ALL);
