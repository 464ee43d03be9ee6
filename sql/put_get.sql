--
-- put_get: the Data Streams data plane.
--   put_record, put_records (both forms), get_shard_iterator (all types),
--   get_records, read_shard and the kinesis.stream_stability view.
-- Streams of this file are named 'dp.*' and deleted at the end.  Sequence
-- numbers are (counter << 16) | shard index; a new stream's first record
-- gets counter 1, and every put takes the next counters of the stream,
-- so the numbers printed here are deterministic.  Iterator tokens and
-- timestamps are never printed.  The multibyte checks need a UTF8 database.
--
\set VERBOSITY default

-- MD5 of the UTF-8 bytes of a key, as a big-endian unsigned integer
CREATE FUNCTION pg_temp.hash_of(key text) RETURNS numeric LANGUAGE sql AS $$
    SELECT sum(('x' || substr(h, 8 * i + 1, 8))::bit(32)::bigint::numeric
               * (4294967296::numeric ^ (3 - i)))::numeric(39,0)
      FROM (SELECT md5(convert_to(key, 'UTF8')) AS h) m, generate_series(0, 3) i
$$;
-- the shard of a hash key in a new stream of n shards
CREATE FUNCTION pg_temp.shard_of(hash numeric, n int) RETURNS text LANGUAGE sql AS $$
    SELECT format('shardId-%s', lpad(least(floor(hash / floor(340282366920938463463374607431768211456::numeric / n)),
                                          n - 1)::text, 12, '0'))
$$;
-- get_records, as rows; the next iterator and the lag go to settings
CREATE FUNCTION pg_temp.get(it text, lim int DEFAULT 10000)
RETURNS TABLE (shard_id text, sequence_number bigint, partition_key text, data text)
LANGUAGE plpgsql AS $$
DECLARE
    r kinesis.get_records_result;
BEGIN
    r := kinesis.get_records(it, lim);
    PERFORM set_config('kg.next', coalesce(r.next_shard_iterator, 'NULL'), false);
    PERFORM set_config('kg.behind', coalesce(r.millis_behind_latest::text, 'NULL'), false);
    RETURN QUERY SELECT x.shard_id, x.sequence_number, x.partition_key,
                        convert_from(x.data, 'UTF8')
                   FROM unnest(r.records) x;
END
$$;

SELECT getdatabaseencoding();

--
-- routing: the worked examples of the reference (3 shards)
--
SELECT kinesis.create_stream('dp.route', 3);
SELECT k, pg_temp.hash_of(k) AS hash_key, r.shard_id, r.sequence_number
  FROM unnest(ARRAY['a', 'b', 'e', 'f', 'hello']) WITH ORDINALITY AS t(k, o),
       LATERAL kinesis.put_record('dp.route', k, convert_to('v-' || k, 'UTF8')) r
 ORDER BY o;
-- 300 more keys through put_records: every one lands where MD5 says, the
-- rows come back in input order, and the counters follow the input order
SELECT count(*) AS records,
       count(*) FILTER (WHERE r.shard_id <> pg_temp.shard_of(pg_temp.hash_of('key-' || r.o), 3)) AS misrouted,
       count(*) FILTER (WHERE r.sequence_number <> ((5 + r.o) << 16) | substr(r.shard_id, 9)::int) AS unexpected_numbers,
       count(*) FILTER (WHERE r.error_code IS NOT NULL OR r.error_message IS NOT NULL) AS failed,
       count(DISTINCT r.shard_id) AS shards_used
  FROM kinesis.put_records('dp.route',
                           ARRAY(SELECT 'key-' || i FROM generate_series(1, 300) i),
                           ARRAY(SELECT convert_to('data-' || i, 'UTF8') FROM generate_series(1, 300) i))
       WITH ORDINALITY AS r(shard_id, sequence_number, error_code, error_message, o);
-- a multibyte key hashes its UTF-8 bytes
SELECT k, pg_temp.hash_of(k) AS hash_key, r.shard_id = pg_temp.shard_of(pg_temp.hash_of(k), 3) AS routed_by_md5
  FROM unnest(ARRAY['é', '日本語', '😀']) k, LATERAL kinesis.put_record('dp.route', k, 'x') r;
-- keys of every length from 1 to 256 characters (1 to 6 MD5 blocks of
-- UTF-8 bytes, across every padding boundary) land where MD5 says
SELECT kinesis.create_stream('dp.md5', 3);
SELECT count(*) AS keys,
       count(*) FILTER (WHERE r.shard_id <> pg_temp.shard_of(pg_temp.hash_of(k.k), 3)) AS misrouted
  FROM (SELECT i, left(repeat(CASE WHEN i % 3 = 0 THEN 'é' ELSE 'k' END || i, 256), i) AS k
          FROM generate_series(1, 256) i) k,
       LATERAL kinesis.put_record('dp.md5', k.k, 'x') r;
SELECT kinesis.delete_stream('dp.md5');

--
-- explicit hash keys: boundaries of the 3-shard layout, override of the key
--
SELECT h, r.shard_id
  FROM unnest(ARRAY[0,
                    113427455640312821154458202477256070484,
                    113427455640312821154458202477256070485,
                    226854911280625642308916404954512140969,   -- 2*floor(2^128/3) - 1
                    226854911280625642308916404954512140970,   -- 2*floor(2^128/3)
                    340282366920938463463374607431768211455    -- 2^128 - 1
                   ]::numeric[]) WITH ORDINALITY AS t(h, o),
       LATERAL kinesis.put_record('dp.route', 'a', 'x', h) r
 ORDER BY o;
-- a zero fraction is still an integer
SELECT shard_id FROM kinesis.put_record('dp.route', 'a', 'x', 226854911280625642308916404954512140970.000);
-- out of range, negative, fractional, not a number
SELECT * FROM kinesis.put_record('dp.route', 'a', 'x', 340282366920938463463374607431768211456);
SELECT * FROM kinesis.put_record('dp.route', 'a', 'x', -1);
SELECT * FROM kinesis.put_record('dp.route', 'a', 'x', 0.5);
SELECT * FROM kinesis.put_record('dp.route', 'a', 'x', 12345678901234567890.0000001);
SELECT * FROM kinesis.put_record('dp.route', 'a', 'x', 'NaN');
SELECT * FROM kinesis.put_record('dp.route', 'a', 'x', 'Infinity');
SELECT kg_try($$SELECT kinesis.put_record('dp.route', 'a', 'x', 340282366920938463463374607431768211456)$$);
-- put_records: one bad hash key rejects the whole call
SELECT * FROM kinesis.put_records('dp.route', ARRAY[
    ('a', 'x', NULL), ('b', 'y', 340282366920938463463374607431768211456), ('c', 'z', NULL)
]::kinesis.put_records_entry[]);
-- the failures took no sequence numbers
SELECT * FROM kinesis.put_record('dp.route', 'a', 'after the failures', 0);

--
-- partition keys: 1 to 256 characters (not bytes)
--
SELECT kinesis.create_stream('dp.keys');
SELECT * FROM kinesis.put_record('dp.keys', '', 'x');
SELECT * FROM kinesis.put_record('dp.keys', repeat('k', 256), 'x');
SELECT * FROM kinesis.put_record('dp.keys', repeat('k', 257), 'x');
SELECT * FROM kinesis.put_record('dp.keys', repeat('é', 256), 'x');
SELECT * FROM kinesis.put_record('dp.keys', repeat('é', 257), 'x');
SELECT * FROM kinesis.put_record('dp.keys', repeat('😀', 256), 'x');
SELECT kg_try($$SELECT kinesis.put_record('dp.keys', '', 'x')$$);
-- NULLs
SELECT * FROM kinesis.put_record('dp.keys', NULL, 'x');
SELECT * FROM kinesis.put_record('dp.keys', 'k', NULL);
SELECT * FROM kinesis.put_record(NULL, 'k', 'x');
SELECT kg_try($$SELECT kinesis.put_record('dp.keys', NULL, 'x')$$);
-- keys and data come back exactly as put
SELECT sequence_number, length(partition_key) AS chars, octet_length(partition_key) AS bytes,
       left(partition_key, 3) AS key_start, data
  FROM kinesis.read_shard('dp.keys', 'shardId-000000000000');

--
-- record size: data + partition key bytes up to 1 MiB; empty data is fine
--
SELECT * FROM kinesis.put_record('dp.keys', 'k', convert_to(repeat('x', 1048575), 'UTF8'));
SELECT * FROM kinesis.put_record('dp.keys', 'k', convert_to(repeat('x', 1048576), 'UTF8'));
SELECT * FROM kinesis.put_record('dp.keys', 'é', convert_to(repeat('x', 1048574), 'UTF8'));
SELECT * FROM kinesis.put_record('dp.keys', 'é', convert_to(repeat('x', 1048575), 'UTF8'));
SELECT kg_try($$SELECT kinesis.put_record('dp.keys', 'k', convert_to(repeat('x', 1048576), 'UTF8'))$$);
SELECT * FROM kinesis.put_record('dp.keys', 'k', ''::bytea);
SELECT * FROM kinesis.put_record('dp.keys', 'k', '\x00ff00'::bytea);
SELECT sequence_number, partition_key, octet_length(data) AS bytes,
       md5(data) = md5(convert_to(repeat('x', octet_length(data)), 'UTF8')) AS data_intact
  FROM kinesis.read_shard('dp.keys', 'shardId-000000000000', 196608)
 WHERE octet_length(data) > 1000;
SELECT sequence_number, partition_key, data
  FROM kinesis.read_shard('dp.keys', 'shardId-000000000000', 327680);

--
-- put_records (records form): rows in input order, numbers increasing per
-- shard in input order, explicit hash keys per entry
--
SELECT kinesis.create_stream('dp.batch', 2);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[
    ('k1', 'one', 0),
    ('k2', 'two', 340282366920938463463374607431768211455),
    ('k3', 'three', 0),
    ('k4', '', 340282366920938463463374607431768211455),
    ('k5', 'five', 0)
]::kinesis.put_records_entry[]);
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('dp.batch', '0');
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('dp.batch', '1');
-- 500 records work, 501 do not
SELECT count(*), min(sequence_number >> 16) AS first_counter, max(sequence_number >> 16) AS last_counter,
       count(error_code) AS failed
  FROM kinesis.put_records('dp.batch',
                           ARRAY(SELECT ROW('k' || i, '\x00'::bytea, i % 2)::kinesis.put_records_entry
                                   FROM generate_series(1, 500) i));
SELECT count(*) FROM kinesis.put_records('dp.batch',
                           ARRAY(SELECT ROW('k' || i, '\x00'::bytea, NULL)::kinesis.put_records_entry
                                   FROM generate_series(1, 501) i));
SELECT kg_try($$SELECT kinesis.put_records('dp.batch',
                   ARRAY(SELECT ROW('k' || i, '\x00'::bytea, NULL)::kinesis.put_records_entry
                           FROM generate_series(1, 501) i))$$);
-- the whole call up to 5 MiB (data + keys): exactly 5 MiB works, one byte more does not
SELECT count(*), count(error_code) AS failed
  FROM kinesis.put_records('dp.batch',
                           ARRAY(SELECT ROW('k', convert_to(repeat('x', 1048575), 'UTF8'), 0)::kinesis.put_records_entry
                                   FROM generate_series(1, 5)));
SELECT count(*)
  FROM kinesis.put_records('dp.batch',
                           ARRAY(SELECT ROW('k', convert_to(repeat('x', 1048575), 'UTF8'), 0)::kinesis.put_records_entry
                                   FROM generate_series(1, 5))
                           || ROW('k', ''::bytea, 0)::kinesis.put_records_entry);
-- a bad entry in the middle rejects the call and writes nothing
SELECT count(*) AS records_before FROM kinesis.read_shard('dp.batch', '0', NULL, 10000);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[
    ('good1', 'a', 0), (repeat('k', 257), 'b', 0), ('good3', 'c', 0)
]::kinesis.put_records_entry[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[
    ('good1', 'a', 0), ('', 'b', 0), ('good3', 'c', 0)
]::kinesis.put_records_entry[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[
    ('good1', 'a', 0), ('bad2', NULL, 0), ('good3', 'c', 0)
]::kinesis.put_records_entry[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[
    ('good1', 'a', 0), (NULL, 'b', 0), ('good3', 'c', 0)
]::kinesis.put_records_entry[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[
    ('good1', 'a', 0), ('bad2', 'b', 0.5), ('good3', 'c', 0)
]::kinesis.put_records_entry[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[
    ('good1', 'a', 0)::kinesis.put_records_entry, NULL, ('good3', 'c', 0)::kinesis.put_records_entry
]);
SELECT * FROM kinesis.put_records('dp.batch',
    ARRAY[('good1', 'a', 0)::kinesis.put_records_entry,
          ('bad2', convert_to(repeat('x', 1048576), 'UTF8'), 0)::kinesis.put_records_entry]);
SELECT count(*) AS records_after FROM kinesis.read_shard('dp.batch', '0', NULL, 10000);
SELECT count(*) FROM kinesis.read_shard('dp.batch', '0', NULL, 10000) WHERE partition_key LIKE 'good%';
-- empty, NULL and two-dimensional inputs
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[]::kinesis.put_records_entry[]);
SELECT * FROM kinesis.put_records('dp.batch', NULL::kinesis.put_records_entry[]);
SELECT * FROM kinesis.put_records(NULL, ARRAY[('k', 'x', NULL)]::kinesis.put_records_entry[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[[('k', 'x', NULL)], [('k', 'y', NULL)]]::kinesis.put_records_entry[]);
SELECT * FROM kinesis.put_records('dp.nope', ARRAY[('k', 'x', NULL)]::kinesis.put_records_entry[]);
-- the failed calls took no sequence numbers
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[('next', 'x', 0)]::kinesis.put_records_entry[]);

--
-- put_records (parallel arrays form)
--
SELECT * FROM kinesis.put_records('dp.batch', ARRAY['p1', 'p2', 'p3'], ARRAY['d1', 'd2', '']::bytea[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY['p1', 'p2'], ARRAY['d1']::bytea[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY['p1', NULL], ARRAY['d1', 'd2']::bytea[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY['p1', 'p2'], ARRAY['d1', NULL]::bytea[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY['p1', ''], ARRAY['d1', 'd2']::bytea[]);
SELECT * FROM kinesis.put_records('dp.batch', NULL::text[], ARRAY['d1']::bytea[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY['p1'], NULL::bytea[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[]::text[], ARRAY[]::bytea[]);
SELECT * FROM kinesis.put_records('dp.batch', ARRAY[['p1'], ['p2']], ARRAY[['d1'], ['d2']]::bytea[]);
SELECT count(*), count(error_code) AS failed
  FROM kinesis.put_records('dp.batch', ARRAY(SELECT 'a' || i FROM generate_series(1, 500) i),
                           ARRAY(SELECT '\x01'::bytea FROM generate_series(1, 500) i));
SELECT count(*)
  FROM kinesis.put_records('dp.batch', ARRAY(SELECT 'a' || i FROM generate_series(1, 501) i),
                           ARRAY(SELECT '\x01'::bytea FROM generate_series(1, 501) i));
SELECT count(*)
  FROM kinesis.put_records('dp.batch', ARRAY(SELECT 'k' FROM generate_series(1, 6) i),
                           ARRAY(SELECT CASE WHEN i = 6 THEN ''::bytea
                                             ELSE convert_to(repeat('x', 1048575), 'UTF8') END
                                   FROM generate_series(1, 6) i));
SELECT kinesis.delete_stream('dp.batch');

--
-- sequence_number_for_ordering: a number the stream handed out; the new
-- record's number is above it
--
SELECT kinesis.create_stream('dp.order');
SELECT * FROM kinesis.put_record('dp.order', 'k', 'first');
SELECT * FROM kinesis.put_record('dp.order', 'k', 'second', sequence_number_for_ordering => 65536);
SELECT * FROM kinesis.put_record('dp.order', 'k', 'third', sequence_number_for_ordering => 999999999999);
SELECT * FROM kinesis.put_record('dp.order', 'k', 'third', sequence_number_for_ordering => -1);
SELECT * FROM kinesis.put_record('dp.order', 'k', 'third', sequence_number_for_ordering => 131072);
SELECT sequence_number, data FROM kinesis.read_shard('dp.order', '0');
SELECT kinesis.delete_stream('dp.order');

--
-- get_shard_iterator and get_records
--
SELECT kinesis.create_stream('dp.read', 2);
-- an empty shard: an empty array, never NULL; a next iterator; caught up
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'TRIM_HORIZON') AS it_empty \gset
SELECT length(:'it_empty') AS token_length, :'it_empty' ~ '^[A-Za-z0-9_=-]+$' AS url_safe;
SELECT records, records IS NULL AS records_null, cardinality(records) AS n,
       next_shard_iterator IS NOT NULL AS has_next, millis_behind_latest, child_shards
  FROM kinesis.get_records(:'it_empty');
-- five records to shard 0, three to shard 1 (routed by explicit hash keys)
SELECT r.* FROM generate_series(1, 5) i,
       LATERAL kinesis.put_record('dp.read', 'p' || i, convert_to('d' || i, 'UTF8'), 0) r;
SELECT r.* FROM generate_series(1, 3) i,
       LATERAL kinesis.put_record('dp.read', 'q' || i, convert_to('e' || i, 'UTF8'),
                                  340282366920938463463374607431768211455) r;
-- the iterator issued on the empty shard now sees them (a position, not a snapshot)
SELECT * FROM pg_temp.get(:'it_empty');
-- TRIM_HORIZON, in pages: next_shard_iterator continues where the call ended
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'TRIM_HORIZON') AS it \gset
SELECT * FROM pg_temp.get(:'it', 2);
SELECT current_setting('kg.behind')::bigint >= 0 AS behind_known;
SELECT current_setting('kg.next') AS it2 \gset
SELECT * FROM pg_temp.get(:'it2', 2);
SELECT current_setting('kg.next') AS it3 \gset
SELECT * FROM pg_temp.get(:'it3', 2);
SELECT current_setting('kg.behind') AS behind_at_end;
SELECT current_setting('kg.next') AS it4 \gset
SELECT * FROM pg_temp.get(:'it4', 2);
SELECT current_setting('kg.next') <> 'NULL' AS still_has_next, current_setting('kg.behind') AS behind;
-- reusing an iterator returns the same records, every time
SELECT * FROM pg_temp.get(:'it2', 2);
SELECT * FROM pg_temp.get(:'it2', 2);
-- each call returns a token of its own for the same position
SELECT (kinesis.get_records(:'it2', 2)).next_shard_iterator = :'it3' AS same_token;
SELECT * FROM pg_temp.get((kinesis.get_records(:'it2', 2)).next_shard_iterator);
-- limit: 1..10000, NULL is the default
SELECT count(*) FROM pg_temp.get(:'it', 10000);
SELECT cardinality(records) FROM kinesis.get_records(:'it', NULL);
SELECT * FROM kinesis.get_records(:'it', 0);
SELECT * FROM kinesis.get_records(:'it', 10001);
SELECT * FROM kinesis.get_records(:'it', -1);
SELECT kg_try(format('SELECT kinesis.get_records(%L, 10001)', :'it'));
-- the records themselves
SELECT (r).shard_id, (r).sequence_number, (r).partition_key, (r).data,
       (r).approximate_arrival_timestamp <= clock_timestamp() AS arrived_in_past
  FROM (SELECT unnest(records) AS r FROM kinesis.get_records(:'it')) x;
-- the other shard
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'TRIM_HORIZON'));

-- AT_SEQUENCE_NUMBER includes the record, AFTER_SEQUENCE_NUMBER starts after it
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AT_SEQUENCE_NUMBER', 196608));
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AFTER_SEQUENCE_NUMBER', 196608));
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'AT_SEQUENCE_NUMBER', 393217));
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'AFTER_SEQUENCE_NUMBER', 393217));
-- the shard's starting sequence number, and a number no record has (yet)
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AT_SEQUENCE_NUMBER', 0));
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AFTER_SEQUENCE_NUMBER', 327680));
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AT_SEQUENCE_NUMBER', 65536000));
-- a sequence number of another shard, a negative one
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AT_SEQUENCE_NUMBER', 393217);
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'AFTER_SEQUENCE_NUMBER', 65536);
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AT_SEQUENCE_NUMBER', -65536);
SELECT kg_try($$SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AT_SEQUENCE_NUMBER', 393217)$$);
-- missing and extra starting sequence numbers / timestamps
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AT_SEQUENCE_NUMBER');
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AFTER_SEQUENCE_NUMBER');
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'TRIM_HORIZON', 65536);
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'LATEST', 65536);
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AT_TIMESTAMP', 65536, now());
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AT_TIMESTAMP');
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'TRIM_HORIZON', "timestamp" => now());
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'AT_SEQUENCE_NUMBER', 65536, now());
-- iterator types are an enum (case-sensitive)
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'latest');
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'OLDEST');
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', '');
SELECT kg_try($$SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'latest')$$);
-- NULLs, unknown streams
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', NULL);
SELECT kinesis.get_shard_iterator('dp.read', NULL, 'LATEST');
SELECT kinesis.get_shard_iterator(NULL, 'shardId-000000000000', 'LATEST');
SELECT kinesis.get_shard_iterator('dp.nope', 'shardId-000000000000', 'LATEST');
SELECT kinesis.get_shard_iterator('dp nope', 'shardId-000000000000', 'LATEST');

-- shard ids are parsed leniently: the digits after the first '-', or the whole string
SELECT id, (SELECT string_agg(sequence_number::text, ',') FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', id, 'TRIM_HORIZON'))) AS sequence_numbers
  FROM unnest(ARRAY['shardId-000000000001', 'shardId-1', '1', 'shard-0001', 'foo-1',
                    'shardId-000000000000', '0', 'shardId-0']) id;
-- unparseable ids, ids beyond the stream
SELECT kinesis.get_shard_iterator('dp.read', 'abc', 'LATEST');
SELECT kinesis.get_shard_iterator('dp.read', '2147483648', 'LATEST');
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-', 'LATEST');
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-1.0', 'LATEST');
SELECT kinesis.get_shard_iterator('dp.read', '', 'LATEST');
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000002', 'LATEST');
SELECT kinesis.get_shard_iterator('dp.read', '2147483647', 'LATEST');
SELECT kg_try($$SELECT kinesis.get_shard_iterator('dp.read', 'abc', 'LATEST')$$);
SELECT kg_try($$SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000002', 'LATEST')$$);

-- LATEST is fixed when issued: records put before it are not returned,
-- records put after it are
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'LATEST') AS it_latest \gset
SELECT * FROM pg_temp.get(:'it_latest');
SELECT * FROM kinesis.put_record('dp.read', 'p6', 'd6', 0);
SELECT * FROM kinesis.put_record('dp.read', 'p7', 'd7', 0);
SELECT * FROM kinesis.put_record('dp.read', 'q4', 'e4', 340282366920938463463374607431768211455);
SELECT * FROM pg_temp.get(:'it_latest');
SELECT * FROM pg_temp.get(:'it_latest', 1);
SELECT * FROM pg_temp.get(current_setting('kg.next'));
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'LATEST'));
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'LATEST'));

-- AT_TIMESTAMP: a past time reads from the start, a time between two
-- records starts at the later one, a future time is refused
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'AT_TIMESTAMP',
                                                     "timestamp" => now() - interval '1 hour'));
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'AT_TIMESTAMP',
                                                     "timestamp" => '2000-01-01 00:00:00+00'));
SELECT clock_timestamp() AS between_ts \gset
SELECT * FROM kinesis.put_record('dp.read', 'q5', 'e5', 340282366920938463463374607431768211455);
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'AT_TIMESTAMP',
                                                     "timestamp" => :'between_ts'));
-- a record's own arrival time includes it
SELECT approximate_arrival_timestamp AS q4_ts FROM kinesis.read_shard('dp.read', '1')
 WHERE partition_key = 'q4' \gset
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'AT_TIMESTAMP',
                                                     "timestamp" => :'q4_ts'));
-- nothing that late: the tip (later records are returned)
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'AT_TIMESTAMP',
                                  "timestamp" => clock_timestamp()) AS it_now \gset
SELECT * FROM pg_temp.get(:'it_now');
SELECT * FROM kinesis.put_record('dp.read', 'q6', 'e6', 340282366920938463463374607431768211455);
SELECT * FROM pg_temp.get(:'it_now');
\set VERBOSITY terse
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'AT_TIMESTAMP',
                                  "timestamp" => now() + interval '1 hour');
\set VERBOSITY default
SELECT kg_try($$SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000001', 'AT_TIMESTAMP',
                                                  "timestamp" => clock_timestamp() + interval '1 minute')$$);

--
-- bad iterators: InvalidArgumentException (22023)
--
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'TRIM_HORIZON') AS it \gset
SELECT count(*) FROM pg_temp.get(:'it');
SELECT * FROM kinesis.get_records(NULL);
SELECT * FROM kinesis.get_records('');
SELECT * FROM kinesis.get_records('garbage');
SELECT * FROM kinesis.get_records('AAAA');
SELECT * FROM kinesis.get_records(repeat('A', 600));
-- one character changed in the middle of a real token
SELECT overlay(:'it' PLACING CASE WHEN substr(:'it', 30, 1) = 'A' THEN 'B' ELSE 'A' END FROM 30 FOR 1) AS forged \gset
SELECT :'forged' <> :'it' AS edited, length(:'forged') AS token_length;
SELECT * FROM kinesis.get_records(:'forged');
SELECT kg_try(format('SELECT kinesis.get_records(%L)', :'forged'));
-- truncated, extended, padding removed
SELECT * FROM kinesis.get_records(left(:'it', 67));
SELECT * FROM kinesis.get_records(:'it' || 'A');
SELECT * FROM kinesis.get_records(rtrim(:'it', '='));
SELECT * FROM kinesis.get_records(' ' || :'it');
-- no edit of any single character of a real token is accepted
SELECT count(*) AS edits_tried,
       count(*) FILTER (WHERE outcome NOT LIKE '22023: InvalidArgumentException%') AS edits_accepted
  FROM generate_series(1, length(:'it')) p,
       regexp_split_to_table('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=', '') ch,
       LATERAL kg_try(format('SELECT kinesis.get_records(%L)', overlay(:'it' PLACING ch FROM p FOR 1))) outcome
 WHERE ch <> substr(:'it', p, 1);
-- the real token still works
SELECT count(*) FROM pg_temp.get(:'it');

-- an expired iterator: ExpiredIteratorException (22023)
SET kinesis_glue.iterator_ttl = 1000;
SELECT kinesis.get_shard_iterator('dp.read', 'shardId-000000000000', 'TRIM_HORIZON') AS it_old \gset
SELECT pg_sleep(1.5);
SELECT kg_try(format('SELECT kinesis.get_records(%L)', :'it_old'));
RESET kinesis_glue.iterator_ttl;

--
-- read_shard: the same records, no token
--
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('dp.read', 'shardId-000000000000');
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('dp.read', '0', 196608);
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('dp.read', '0', 196608, 2);
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('dp.read', '0', 0, 1);
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('dp.read', 'shard-1', NULL, NULL);
SELECT count(*) FROM kinesis.read_shard('dp.read', '0', 65536000);
SELECT * FROM kinesis.read_shard('dp.read', '0', 393217);
SELECT * FROM kinesis.read_shard('dp.read', '0', -1);
SELECT * FROM kinesis.read_shard('dp.read', '0', NULL, 0);
SELECT * FROM kinesis.read_shard('dp.read', '0', NULL, 10001);
SELECT * FROM kinesis.read_shard('dp.read', 'abc');
SELECT * FROM kinesis.read_shard('dp.read', 'shardId-000000000002');
SELECT * FROM kinesis.read_shard('dp.read', NULL);
SELECT * FROM kinesis.read_shard(NULL, '0');
SELECT * FROM kinesis.read_shard('dp.nope', '0');
SELECT kg_try($$SELECT * FROM kinesis.read_shard('dp.read', '0', NULL, 10001)$$);

--
-- transactions
--
SELECT kinesis.create_stream('dp.tx');
-- a read-only transaction cannot put (25006)
BEGIN READ ONLY;
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'x');
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM kinesis.put_records('dp.tx', ARRAY['k'], ARRAY['x']::bytea[]);
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM kinesis.put_records('dp.tx', ARRAY[('k', 'x', NULL)]::kinesis.put_records_entry[]);
ROLLBACK;
SELECT kg_try($$SELECT kinesis.put_record('dp.tx', 'k', 'x')$$) FROM (SELECT set_config('transaction_read_only', 'on', true)) x;
-- ... but can read
BEGIN READ ONLY;
SELECT count(*) FROM kinesis.read_shard('dp.tx', '0');
SELECT count(*) FROM pg_temp.get(kinesis.get_shard_iterator('dp.tx', '0', 'TRIM_HORIZON'));
COMMIT;
-- put, then roll back: nothing visible, and the numbers are not reused
BEGIN;
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'rolled back 1');
SELECT * FROM kinesis.put_records('dp.tx', ARRAY['k', 'k'], ARRAY['rolled back 2', 'rolled back 3']::bytea[]);
ROLLBACK;
SELECT count(*) FROM kinesis.read_shard('dp.tx', '0');
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'committed 1');
SELECT sequence_number, data FROM kinesis.read_shard('dp.tx', '0');
-- a savepoint rolled back takes its records with it, not its numbers
BEGIN;
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'kept 1');
SAVEPOINT s1;
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'undone');
ROLLBACK TO SAVEPOINT s1;
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'kept 2');
COMMIT;
SELECT sequence_number, data FROM kinesis.read_shard('dp.tx', '0');
-- a failed put in a transaction: the transaction is aborted, nothing visible
BEGIN;
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'lost');
SELECT * FROM kinesis.put_record('dp.tx', '', 'bad');
COMMIT;
SELECT count(*) FROM kinesis.read_shard('dp.tx', '0') WHERE data = 'lost';
-- PREPARE TRANSACTION after a put is refused; nothing is visible afterwards
BEGIN;
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'prepared');
PREPARE TRANSACTION 'kg_put';
SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'kg_put';
SELECT count(*) FROM kinesis.read_shard('dp.tx', '0') WHERE data = 'prepared';
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'after prepare');
-- a transaction that only read a stream can be prepared
BEGIN;
SELECT count(*) FROM kinesis.read_shard('dp.tx', '0');
PREPARE TRANSACTION 'kg_read';
ROLLBACK PREPARED 'kg_read';
-- the stability view: an open producer holds readers back, even its own
-- session (records of a transaction are seen once it commits)
SELECT stream_name, current_sequence_number, last_stable_sequence_number, open_producers,
       oldest_producer_age IS NULL AS no_age
  FROM kinesis.stream_stability WHERE stream_name = 'dp.tx';
BEGIN;
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'in flight');
SELECT stream_name, current_sequence_number, last_stable_sequence_number, open_producers,
       oldest_producer_age >= interval '0' AS age_known
  FROM kinesis.stream_stability WHERE stream_name = 'dp.tx';
SELECT count(*) FROM kinesis.read_shard('dp.tx', '0') WHERE data = 'in flight';
COMMIT;
SELECT stream_name, current_sequence_number, last_stable_sequence_number, open_producers,
       oldest_producer_age IS NULL AS no_age
  FROM kinesis.stream_stability WHERE stream_name = 'dp.tx';
SELECT sequence_number, data FROM kinesis.read_shard('dp.tx', '0');
-- a stream created and written in one transaction
BEGIN;
SELECT kinesis.create_stream('dp.newtx', 2);
SELECT * FROM kinesis.put_record('dp.newtx', 'a', 'born with the stream');
SELECT count(*) FROM kinesis.read_shard('dp.newtx', '0');
COMMIT;
SELECT shard_id, sequence_number, partition_key, data FROM kinesis.read_shard('dp.newtx', '0');
-- a stream written and deleted in one transaction
BEGIN;
SELECT * FROM kinesis.put_record('dp.newtx', 'a', 'dies with the stream');
SELECT kinesis.delete_stream('dp.newtx');
COMMIT;
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name = 'dp.newtx';
SELECT count(*) FROM kinesis.stream_stability WHERE stream_name = 'dp.newtx';
SELECT kinesis.create_stream('dp.newtx');
SELECT * FROM kinesis.put_record('dp.newtx', 'a', 'reborn');
SELECT sequence_number, data FROM kinesis.read_shard('dp.newtx', '0');
SELECT kinesis.delete_stream('dp.newtx');
-- a new stream
SELECT kinesis.create_stream('dp.fresh', 2);
SELECT stream_name, current_sequence_number, last_stable_sequence_number, open_producers,
       oldest_producer_age IS NULL AS no_age
  FROM kinesis.stream_stability WHERE stream_name = 'dp.fresh';
SELECT kinesis.delete_stream('dp.fresh');
SELECT count(*) FROM kinesis.stream_stability WHERE stream_name = 'dp.fresh';

--
-- deleted and re-created streams
--
SELECT kinesis.get_shard_iterator('dp.tx', 'shardId-000000000000', 'TRIM_HORIZON') AS it_tx \gset
SELECT count(*) FROM pg_temp.get(:'it_tx');
SELECT kinesis.delete_stream('dp.tx');
SELECT * FROM kinesis.get_records(:'it_tx');
SELECT kg_try(format('SELECT kinesis.get_records(%L)', :'it_tx'));
SELECT * FROM kinesis.read_shard('dp.tx', '0');
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'x');
-- same name again: a new stream, which does not take the old iterator
SELECT kinesis.create_stream('dp.tx');
SELECT * FROM kinesis.get_records(:'it_tx');
SELECT * FROM kinesis.put_record('dp.tx', 'k', 'new stream');
SELECT * FROM pg_temp.get(kinesis.get_shard_iterator('dp.tx', 'shardId-000000000000', 'TRIM_HORIZON'));

--
-- many records across record segments (small segments for this stream)
--
SET kinesis_glue.segment_records = 1024;
SELECT kinesis.create_stream('dp.segments');
RESET kinesis_glue.segment_records;
SELECT sum(n) FROM (
    SELECT count(*) AS n
      FROM generate_series(1, 5) b,
           LATERAL kinesis.put_records('dp.segments',
                       ARRAY(SELECT 'k' || (b * 1000 + i) FROM generate_series(1, 500) i),
                       ARRAY(SELECT convert_to('r' || ((b - 1) * 500 + i), 'UTF8') FROM generate_series(1, 500) i))
) x;
SELECT count(*) AS records,
       count(DISTINCT sequence_number) AS distinct_numbers,
       min(sequence_number >> 16) AS first_counter, max(sequence_number >> 16) AS last_counter,
       bool_and(convert_from(data, 'UTF8') = 'r' || (sequence_number >> 16)) AS in_order
  FROM kinesis.read_shard('dp.segments', '0', NULL, 10000);
SELECT count(*) FROM kinesis.segments s JOIN kinesis.streams t USING (stream_id)
 WHERE t.stream_name = 'dp.segments' AND s.segment_no <= 2;
-- get_records pages across the segment boundaries
SELECT kinesis.get_shard_iterator('dp.segments', '0', 'TRIM_HORIZON') AS it \gset
SELECT count(*), min(sequence_number >> 16), max(sequence_number >> 16) FROM pg_temp.get(:'it', 1000);
SELECT count(*), min(sequence_number >> 16), max(sequence_number >> 16) FROM pg_temp.get(current_setting('kg.next'), 1000);
SELECT count(*), min(sequence_number >> 16), max(sequence_number >> 16) FROM pg_temp.get(current_setting('kg.next'), 1000);
SELECT count(*) FROM pg_temp.get(current_setting('kg.next'), 1000);
SELECT count(*) FROM kinesis.read_shard('dp.segments', '0', (1023 << 16), 2);
SELECT sequence_number >> 16 AS counter, data FROM kinesis.read_shard('dp.segments', '0', (1023 << 16), 2);

--
-- get_records caps: 10000 records by default, and at most 10 MiB of data
-- and keys per call (never more; the rest comes with the next iterator)
--
SELECT kinesis.create_stream('dp.many');
SELECT sum(n) FROM (
    SELECT count(*) AS n
      FROM generate_series(1, 21) b,
           LATERAL kinesis.put_records('dp.many',
                       ARRAY(SELECT 'k' FROM generate_series(1, CASE WHEN b = 21 THEN 1 ELSE 500 END) i),
                       ARRAY(SELECT ''::bytea FROM generate_series(1, CASE WHEN b = 21 THEN 1 ELSE 500 END) i))
) x;
SELECT kinesis.get_shard_iterator('dp.many', '0', 'TRIM_HORIZON') AS it \gset
SELECT count(*), max(sequence_number >> 16) FROM pg_temp.get(:'it');
SELECT count(*), max(sequence_number >> 16) FROM pg_temp.get(current_setting('kg.next'));
SELECT count(*) FROM kinesis.read_shard('dp.many', '0');
SELECT kinesis.create_stream('dp.big');
SELECT count(*) FROM generate_series(1, 3) b,
       LATERAL kinesis.put_records('dp.big',
                   ARRAY(SELECT ROW('k', convert_to(repeat('x', 999999), 'UTF8'), NULL)::kinesis.put_records_entry
                           FROM generate_series(1, CASE WHEN b = 3 THEN 1 ELSE 5 END)));
SELECT kinesis.get_shard_iterator('dp.big', '0', 'TRIM_HORIZON') AS it \gset
SELECT cardinality(records) AS n,
       (SELECT sum(octet_length((r).data) + octet_length((r).partition_key)) FROM unnest(records) r) AS bytes,
       (SELECT sum(octet_length((r).data) + octet_length((r).partition_key)) FROM unnest(records) r) <= 10 * 1024 * 1024 AS within_10_mib
  FROM kinesis.get_records(:'it');
SELECT cardinality(records) AS n FROM kinesis.get_records((kinesis.get_records(:'it')).next_shard_iterator);

--
-- clean up
--
SELECT kinesis.delete_stream(stream_name) FROM kinesis.list_streams()
 WHERE stream_name LIKE 'dp.%' ORDER BY stream_name COLLATE "C";
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name LIKE 'dp.%';
