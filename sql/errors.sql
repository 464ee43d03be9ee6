--
-- errors: every Kinesis error name this extension raises, with its
-- SQLSTATE (DESIGN.md: "Errors keep the Kinesis names"), side by side; and
-- hostile input that must be refused cleanly and change nothing.
-- (AccessDeniedException is in privileges.sql; throughput quotas are off.)
-- Streams of this file are named 'er.*'.
--
\set VERBOSITY default

SELECT kinesis.create_stream('er.s', 2);
SELECT * FROM kinesis.put_record('er.s', 'k', 'x', 0);
SELECT kinesis.get_shard_iterator('er.s', 'shardId-000000000000', 'TRIM_HORIZON') AS it \gset
SELECT kinesis.create_stream('er.gone');
SELECT kinesis.get_shard_iterator('er.gone', 'shardId-000000000000', 'LATEST') AS it_gone \gset
SELECT kinesis.delete_stream('er.gone');
SELECT kinesis.get_shard_iterator('er.s', 'shardId-000000000000', 'LATEST') AS it_old \gset

-- error name, SQLSTATE and message of one failing call of each kind
SELECT what, split_part(outcome, ': ', 1) AS sqlstate, split_part(outcome, ': ', 2) AS error,
       substr(outcome, length(split_part(outcome, ': ', 1)) + length(split_part(outcome, ': ', 2)) + 5) AS message
  FROM (VALUES
    ('missing stream',            $$SELECT kinesis.describe_stream_summary('er.nope')$$),
    ('missing shard',             $$SELECT kinesis.get_shard_iterator('er.s', 'shardId-000000000009', 'LATEST')$$),
    ('unparseable shard id',      $$SELECT kinesis.get_shard_iterator('er.s', 'shard-x', 'LATEST')$$),
    ('name taken',                $$SELECT kinesis.create_stream('er.s')$$),
    ('hash key out of range',     $$SELECT kinesis.put_record('er.s', 'k', 'x', 340282366920938463463374607431768211456)$$),
    ('sequence of another shard', $$SELECT kinesis.get_shard_iterator('er.s', '1', 'AT_SEQUENCE_NUMBER', 65536)$$),
    ('retention too short',       $$SELECT kinesis.create_stream('er.t', 1, 'PROVISIONED', '1 hour')$$),
    ('bad iterator type',         $$SELECT kinesis.get_shard_iterator('er.s', '0', 'NEWEST')$$),
    ('bad stream name',           $$SELECT kinesis.list_shards('er/s')$$),
    ('null partition key',        $$SELECT kinesis.put_record('er.s', NULL, 'x')$$),
    ('record too large',          $$SELECT kinesis.put_record('er.s', 'k', convert_to(repeat('x', 1048576), 'UTF8'))$$),
    ('too many records',          $$SELECT kinesis.put_records('er.s', array_fill('k'::text, ARRAY[501]), array_fill('\x00'::bytea, ARRAY[501]))$$),
    ('limit out of range',        $$SELECT kinesis.read_shard('er.s', '0', NULL, 0)$$),
    ('forged iterator',           $$SELECT kinesis.get_records('AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==')$$),
    ('iterator of a gone stream', format('SELECT kinesis.get_records(%L)', :'it_gone'))
  ) AS t(what, stmt), LATERAL kg_try(stmt) outcome;
-- ExpiredIteratorException (22023), with a short time to live
SET kinesis_glue.iterator_ttl = 1000;
SELECT pg_sleep(1.2);
SELECT kg_try(format('SELECT kinesis.get_records(%L)', :'it_old'));
RESET kinesis_glue.iterator_ttl;

-- LimitExceededException (54000): one transaction puts to at most 16 streams
SELECT kinesis.create_stream('er.m' || lpad(i::text, 2, '0')) FROM generate_series(1, 17) i;
BEGIN;
SELECT count(*) FROM generate_series(1, 16) i,
       LATERAL kinesis.put_record('er.m' || lpad(i::text, 2, '0'), 'k', 'x');
SELECT * FROM kinesis.put_record('er.m17', 'k', 'x');
ROLLBACK;
SELECT kg_try($$SELECT count(*) FROM generate_series(1, 17) i,
                       LATERAL kinesis.put_record('er.m' || lpad(i::text, 2, '0'), 'k', 'x')$$);
-- nothing was written; the streams take records again in later transactions
-- (er.m01 handed out counters 1 and 2 to the rolled back transactions,
-- er.m17 none)
SELECT count(*) FROM generate_series(1, 17) i,
       LATERAL kinesis.read_shard('er.m' || lpad(i::text, 2, '0'), '0');
SELECT * FROM kinesis.put_record('er.m01', 'k', 'x');
SELECT * FROM kinesis.put_record('er.m17', 'k', 'x');
SELECT count(*) FROM generate_series(1, 17) i,
       LATERAL kinesis.delete_stream('er.m' || lpad(i::text, 2, '0'));

--
-- hostile input: refused with a clear error, or stored verbatim; never
-- interpreted
--
SELECT kinesis.create_stream($$er.x"; DROP TABLE kinesis.streams; --$$);
SELECT kinesis.create_stream($$er.x'); DROP TABLE kinesis.streams; --$$);
SELECT kinesis.describe_stream_summary($$er.s' OR '1'='1$$);
SELECT kinesis.get_shard_iterator('er.s', $$0'; DROP TABLE kinesis.streams; --$$, 'LATEST');
SELECT kinesis.get_shard_iterator('er.s', 'shardId-99999999999999999999', 'LATEST');
SELECT * FROM kinesis.put_record('er.s', $$k'); DROP TABLE kinesis.streams; --$$, 'x', 0);
SELECT * FROM kinesis.put_record('er.s', E'tab\there, newline\nthere', '\x00'::bytea, 0);
SELECT sequence_number, partition_key, data FROM kinesis.read_shard('er.s', '0');
SELECT count(*) FROM kinesis.streams WHERE stream_name LIKE 'er.%';

SELECT kinesis.delete_stream('er.s');
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name LIKE 'er.%';
