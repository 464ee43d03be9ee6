--
-- reshard: split_shard, merge_shards, update_shard_count, update_stream_mode
-- (reference sections 1.2, 2.12-2.16, 3), lineage in list_shards, reading
-- across a reshard, reshards and transactions, and the per-shard
-- throughput quotas (section 4.1) with kinesis.set_throughput_quotas.
-- Streams of this file are named 'rs.*' and deleted at the end; roles are
-- regress_kg_rs_*.  Sequence numbers, timestamps and iterator tokens are
-- never printed: a reshard moves the counter a whole segment ahead, so
-- sequence numbers are only compared.  Quota checks run their bursts inside
-- one function call and print only what timing cannot change.
--
\set VERBOSITY default

-- MD5 of the UTF-8 bytes of a key, as a big-endian unsigned integer
CREATE FUNCTION pg_temp.hash_of(key text) RETURNS numeric LANGUAGE sql AS $$
    SELECT sum(('x' || substr(h, 8 * i + 1, 8))::bit(32)::bigint::numeric
               * (4294967296::numeric ^ (3 - i)))::numeric(39,0)
      FROM (SELECT md5(convert_to(key, 'UTF8')) AS h) m, generate_series(0, 3) i
$$;
-- the shards of a stream, with the shard index as a number and open/closed
CREATE FUNCTION pg_temp.shards(stream text)
RETURNS TABLE (idx int, shard_id text, parent_shard_id text, adjacent_parent_shard_id text,
               starting_hash_key numeric, ending_hash_key numeric,
               starting_sequence_number bigint, ending_sequence_number bigint, open boolean)
LANGUAGE sql AS $$
    SELECT substr(l.shard_id, 9)::int, l.shard_id, l.parent_shard_id, l.adjacent_parent_shard_id,
           l.starting_hash_key, l.ending_hash_key, l.starting_sequence_number,
           l.ending_sequence_number, l.ending_sequence_number IS NULL
      FROM kinesis.list_shards(stream) l
$$;
-- the open shards, in hash key order, without sequence numbers
CREATE FUNCTION pg_temp.open_layout(stream text)
RETURNS TABLE (shard_id text, parent_shard_id text, adjacent_parent_shard_id text,
               starting_hash_key numeric, ending_hash_key numeric)
LANGUAGE sql AS $$
    SELECT shard_id, parent_shard_id, adjacent_parent_shard_id, starting_hash_key, ending_hash_key
      FROM pg_temp.shards(stream) WHERE open ORDER BY starting_hash_key
$$;
-- The invariants of the open shards (reference 1.2): they cover
-- [0, 2^128-1] exactly once.  Checked with window functions over the open
-- shards in hash key order: no gap and no overlap between neighbours, no
-- empty or reversed range, first starts at 0, last ends at 2^128-1.
CREATE FUNCTION pg_temp.coverage(stream text)
RETURNS TABLE (open_shards bigint, starts_at_zero boolean, ends_at_max boolean,
               gaps bigint, overlaps bigint, bad_ranges bigint, open_shard_count int)
LANGUAGE sql AS $$
    WITH o AS (
        SELECT starting_hash_key AS lo, ending_hash_key AS hi,
               lag(ending_hash_key) OVER (ORDER BY starting_hash_key, ending_hash_key) AS prev_hi
          FROM pg_temp.shards(stream) WHERE open)
    SELECT count(*),
           coalesce(min(lo) = 0, false),
           coalesce(max(hi) = 340282366920938463463374607431768211455, false),
           count(*) FILTER (WHERE lo > prev_hi + 1),
           count(*) FILTER (WHERE lo <= prev_hi),
           count(*) FILTER (WHERE lo > hi),
           (SELECT d.open_shard_count FROM kinesis.describe_stream_summary(stream) d)
      FROM o
$$;
-- Are the open shards exactly the initial layout of n shards (reference
-- 1.4): [i*h, (i+1)*h - 1], h = floor(2^128 / n), the last ending at 2^128-1?
-- (div, not floor of /: numeric division rounds at some scale first)
CREATE FUNCTION pg_temp.uniform(stream text, n int) RETURNS boolean LANGUAGE sql AS $$
    WITH o AS (
        SELECT row_number() OVER (ORDER BY starting_hash_key) - 1 AS i,
               starting_hash_key AS lo, ending_hash_key AS hi
          FROM pg_temp.shards(stream) WHERE open),
    h AS (SELECT div(340282366920938463463374607431768211456::numeric, n) AS h)
    SELECT count(*) = n
           AND coalesce(bool_and(lo = i * h.h
                                 AND hi = CASE WHEN i = n - 1 THEN 340282366920938463463374607431768211455
                                               ELSE (i + 1) * h.h - 1 END), false)
      FROM o, h
$$;
-- Lineage (reference 1.2, 3.1, 3.2): every shard not of the initial layout
-- names a parent (and at most one adjacent parent); parents are closed and
-- listed; a child's range is its parents' union; a parent's ending sequence
-- number is set, at or above its starting one and below every child's
-- starting sequence number.  Returns the number of shards breaking a rule.
CREATE FUNCTION pg_temp.lineage_errors(stream text, initial int) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*)
      FROM pg_temp.shards(stream) c
      LEFT JOIN pg_temp.shards(stream) p ON p.shard_id = c.parent_shard_id
      LEFT JOIN pg_temp.shards(stream) a ON a.shard_id = c.adjacent_parent_shard_id
     WHERE (c.idx < initial) <> (c.parent_shard_id IS NULL)
        OR (c.idx < initial AND c.adjacent_parent_shard_id IS NOT NULL)
        OR (c.parent_shard_id IS NOT NULL AND (p.shard_id IS NULL OR p.open
            OR p.ending_sequence_number < p.starting_sequence_number
            OR c.starting_sequence_number <= p.ending_sequence_number))
        OR (c.adjacent_parent_shard_id IS NOT NULL AND (a.shard_id IS NULL OR a.open
            OR c.starting_sequence_number <= a.ending_sequence_number
            OR p.ending_hash_key + 1 <> a.starting_hash_key))
        OR (c.parent_shard_id IS NOT NULL AND c.adjacent_parent_shard_id IS NULL
            AND (c.starting_hash_key < p.starting_hash_key OR c.ending_hash_key > p.ending_hash_key))
        OR (c.adjacent_parent_shard_id IS NOT NULL
            AND (c.starting_hash_key <> p.starting_hash_key OR c.ending_hash_key <> a.ending_hash_key))
$$;
-- get_records as one row: how many records, whether the next iterator is
-- NULL, the children named; the next iterator goes to the setting kg.next
CREATE FUNCTION pg_temp.get(it text, lim int DEFAULT 10000)
RETURNS TABLE (records int, next_is_null boolean, child_shards text[])
LANGUAGE plpgsql AS $$
DECLARE
    r kinesis.get_records_result;
BEGIN
    r := kinesis.get_records(it, lim);
    PERFORM set_config('kg.next', coalesce(r.next_shard_iterator, ''), false);
    RETURN QUERY SELECT cardinality(r.records), r.next_shard_iterator IS NULL, r.child_shards;
END
$$;

CREATE ROLE regress_kg_rs_owner;
CREATE ROLE regress_kg_rs_other;
GRANT CREATE ON SCHEMA kinesis_records TO regress_kg_rs_owner;

--
-- split_shard: the new starting hash key k must satisfy start+1 < k < end
-- (reference 3.1: on [0, 2^128-1], k = 1 fails and k = 2 works)
--
SELECT kinesis.create_stream('rs.split', 1);
SELECT kinesis.split_shard('rs.split', 'shardId-000000000000', 1);
SELECT kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000000', 0)$$) AS k0,
       kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000000', 1)$$) AS k1;
SELECT kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000000',
                                           340282366920938463463374607431768211455)$$) AS k_end;
-- not a hash key at all
SELECT kinesis.split_shard('rs.split', 'shardId-000000000000', 340282366920938463463374607431768211456);
SELECT kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000000', -5)$$) AS negative,
       kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000000', 2.5)$$) AS fraction,
       kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000000', 'NaN')$$) AS nan;
SELECT kg_try($$SELECT kinesis.split_shard(NULL, 'shardId-000000000000', 2)$$) AS null_stream,
       kg_try($$SELECT kinesis.split_shard('rs.split', NULL, 2)$$) AS null_shard,
       kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000000', NULL)$$) AS null_key;
-- unknown stream and shard: ResourceNotFoundException (42704)
SELECT kinesis.split_shard('rs.nope', 'shardId-000000000000', 2);
SELECT kinesis.split_shard('rs.split', 'shardId-000000000007', 2);
SELECT kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000001', 2)$$) AS not_yet,
       kg_try($$SELECT kinesis.split_shard('rs.split', 'bogus', 2)$$) AS unparseable,
       kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-2147483648', 2)$$) AS too_big;
-- nothing changed so far
SELECT * FROM pg_temp.open_layout('rs.split');
-- k = 2 works, with a lenient shard id: children [0, 1] and [2, 2^128-1]
-- take the next ids, the parent is closed
SELECT kg_try($$SELECT kinesis.split_shard('rs.split', 'shard-0', 2)$$) AS k2;
SELECT shard_id, parent_shard_id, adjacent_parent_shard_id, starting_hash_key, ending_hash_key, open
  FROM pg_temp.shards('rs.split') ORDER BY idx;
-- a closed shard cannot be split again: InvalidArgumentException
SELECT kinesis.split_shard('rs.split', 'shardId-000000000000', 100);
-- [0, 1] has no key to split at
SELECT kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000001', 1)$$) AS at_end;
-- on [2, 2^128-1]: k = 2^128-1 (the end) fails, k = 2^128-2 works
SELECT kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000002',
                                           340282366920938463463374607431768211455)$$) AS k_end,
       kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000002',
                                           340282366920938463463374607431768211454)$$) AS k_end_minus_1;
-- on [2, 2^128-3]: k = 3 fails, k = 4 works
SELECT kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000003', 3)$$) AS k3,
       kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000003', 4)$$) AS k4;
SELECT shard_id, parent_shard_id, starting_hash_key, ending_hash_key, open
  FROM pg_temp.shards('rs.split') ORDER BY idx;
SELECT * FROM pg_temp.coverage('rs.split');
SELECT pg_temp.lineage_errors('rs.split', 1) AS lineage_errors;
-- every child's range keeps at least two keys
SELECT count(*) AS tiny_shards FROM pg_temp.shards('rs.split') WHERE ending_hash_key - starting_hash_key < 1;

-- an ON_DEMAND stream is resharded by the worker only: ValidationException
SELECT kinesis.create_stream('rs.od', stream_mode => 'ON_DEMAND');
SELECT kinesis.split_shard('rs.od', 'shardId-000000000000', 1000);
SELECT kg_try($$SELECT kinesis.split_shard('rs.od', 'shardId-000000000000', 1000)$$) AS split_on_demand;

-- only the owner reshards (42501), even with every data-plane grant
GRANT SELECT, INSERT ON kinesis_records."rs.split" TO regress_kg_rs_other;
SET ROLE regress_kg_rs_other;
SELECT kinesis.split_shard('rs.split', 'shardId-000000000004', 1000);
SELECT kg_try($$SELECT kinesis.split_shard('rs.split', 'shardId-000000000004', 1000)$$) AS other_role;
RESET ROLE;
-- a non-superuser owner may
SET ROLE regress_kg_rs_owner;
SELECT kinesis.create_stream('rs.owned', 2);
SELECT kg_try($$SELECT kinesis.split_shard('rs.owned', 'shardId-000000000001',
                                           255211775190703847597530955573826158592)$$) AS owner_split;
SELECT shard_id, parent_shard_id, starting_hash_key, ending_hash_key FROM pg_temp.open_layout('rs.owned');
RESET ROLE;
SET ROLE regress_kg_rs_other;
SELECT kg_try($$SELECT kinesis.merge_shards('rs.owned', 'shardId-000000000000', 'shardId-000000000002')$$) AS other_merge,
       kg_try($$SELECT kinesis.update_shard_count('rs.owned', 2)$$) AS other_update,
       kg_try($$SELECT kinesis.update_stream_mode('rs.owned', 'ON_DEMAND')$$) AS other_mode;
RESET ROLE;
SELECT * FROM pg_temp.coverage('rs.owned');

--
-- merge_shards: adjacency is directional (reference 3.2): the adjacent
-- shard must start right after the shard to merge ends
--
SELECT kinesis.create_stream('rs.merge', 3);
-- inverted order, not adjacent, the same shard twice
SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000001', 'shardId-000000000000');
SELECT kg_try($$SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000001', 'shardId-000000000000')$$) AS inverted,
       kg_try($$SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000000', 'shardId-000000000002')$$) AS not_adjacent;
SELECT kg_try($$SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000000', 'shardId-000000000000')$$) AS same_shard,
       kg_try($$SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000002', 'shardId-000000000003')$$) AS unknown_adjacent;
SELECT kg_try($$SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000009', 'shardId-000000000000')$$) AS unknown_first,
       kg_try($$SELECT kinesis.merge_shards('rs.nope', 'shardId-000000000000', 'shardId-000000000001')$$) AS unknown_stream;
SELECT kg_try($$SELECT kinesis.merge_shards('rs.merge', NULL, 'shardId-000000000001')$$) AS null_shard,
       kg_try($$SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000000', NULL)$$) AS null_adjacent;
SELECT * FROM pg_temp.open_layout('rs.merge');
-- 0 + 1: one child with the next id, parent 0, adjacent parent 1
SELECT kg_try($$SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000000', 'shardId-000000000001')$$) AS merge_0_1;
SELECT shard_id, parent_shard_id, adjacent_parent_shard_id, starting_hash_key, ending_hash_key, open
  FROM pg_temp.shards('rs.merge') ORDER BY idx;
-- both parents closed: "already been merged or split"
SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000000', 'shardId-000000000001');
SELECT kg_try($$SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000001', 'shardId-000000000002')$$) AS closed_first,
       kg_try($$SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000003', 'shardId-000000000001')$$) AS closed_adjacent;
SELECT kg_try($$SELECT kinesis.split_shard('rs.merge', 'shardId-000000000001', 200)$$) AS split_closed;
-- 3 + 2: one shard covers everything again
SELECT kg_try($$SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000003', 'shardId-000000000002')$$) AS merge_3_2;
SELECT * FROM pg_temp.open_layout('rs.merge');
SELECT * FROM pg_temp.coverage('rs.merge');
SELECT pg_temp.lineage_errors('rs.merge', 3) AS lineage_errors;
-- the last open shard has nothing to merge with
SELECT kg_try($$SELECT kinesis.merge_shards('rs.merge', 'shardId-000000000004', 'shardId-000000000004')$$) AS alone;
-- ON_DEMAND
SELECT kg_try($$SELECT kinesis.merge_shards('rs.od', 'shardId-000000000000', 'shardId-000000000001')$$) AS merge_on_demand;

-- Adjacent shards are found by their hash keys as numbers.  In a stream of
-- four shards the starting keys 0, 8507..., 1701..., 2552... sort
-- differently as text; every adjacent pair merges.
SELECT kinesis.create_stream('rs.merge4', 4);
SELECT kg_try($$SELECT kinesis.merge_shards('rs.merge4', 'shardId-000000000000', 'shardId-000000000001')$$) AS merge_0_1,
       kg_try($$SELECT kinesis.merge_shards('rs.merge4', 'shardId-000000000002', 'shardId-000000000003')$$) AS merge_2_3;
SELECT kg_try($$SELECT kinesis.merge_shards('rs.merge4', 'shardId-000000000004', 'shardId-000000000005')$$) AS merge_4_5;
SELECT * FROM pg_temp.open_layout('rs.merge4');
SELECT * FROM pg_temp.coverage('rs.merge4');
SELECT pg_temp.lineage_errors('rs.merge4', 4) AS lineage_errors;

--
-- update_shard_count: UNIFORM_SCALING only, target within
-- ceil(n/2) .. 2n of the open shards, at most 10000.  After each change
-- pg_temp.check prints the invariants of the open shards, whether they are
-- the uniform layout of the target, and the lineage errors.
--
CREATE FUNCTION pg_temp.check(stream text, n int, initial int)
RETURNS TABLE (open_shards bigint, gaps bigint, overlaps bigint, bad_ranges bigint,
               covers_all boolean, open_shard_count int, uniform boolean, lineage_errors bigint)
LANGUAGE sql AS $$
    SELECT c.open_shards, c.gaps, c.overlaps, c.bad_ranges, c.starts_at_zero AND c.ends_at_max,
           c.open_shard_count, pg_temp.uniform(stream, n), pg_temp.lineage_errors(stream, initial)
      FROM pg_temp.coverage(stream) c
$$;
SELECT kinesis.create_stream('rs.usc', 3);
SELECT kinesis.update_shard_count('rs.usc', 4, 'NON_UNIFORM');
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 4, 'uniform_scaling')$$) AS lower_case;
-- 3 open shards: 7 is more than double, 1 is below ceil(3/2) = 2
SELECT kinesis.update_shard_count('rs.usc', 7);
SELECT kinesis.update_shard_count('rs.usc', 1);
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 0)$$) AS zero,
       kg_try($$SELECT kinesis.update_shard_count('rs.usc', -1)$$) AS negative,
       kg_try($$SELECT kinesis.update_shard_count('rs.usc', 10001)$$) AS over_limit;
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', NULL)$$) AS null_target,
       kg_try($$SELECT kinesis.update_shard_count(NULL, 2)$$) AS null_stream,
       kg_try($$SELECT kinesis.update_shard_count('rs.nope', 2)$$) AS unknown_stream;
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.od', 5)$$) AS on_demand;
SELECT * FROM pg_temp.check('rs.usc', 3, 3);
-- a NULL scaling type is the default: 3 -> 4
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 4, NULL)$$) AS to_4;
SELECT * FROM pg_temp.check('rs.usc', 4, 3);

-- From the initial layout of n_from shards to n_to: the open shards tile
-- the key space, are the initial layout of n_to shards, and every new
-- shard has one or two closed parents (one stream per case; streams are
-- created, resharded and checked in three statements, since a resharding
-- transaction only publishes the new layout when it commits).
CREATE TEMP TABLE usc_cases AS
SELECT n_from, n_to, format('rs.u%s_%s', n_from, n_to) AS stream
  FROM (VALUES (1, 1), (1, 2), (2, 1), (2, 3), (2, 4), (3, 2), (3, 4), (3, 5), (3, 6),
               (4, 2), (4, 3), (4, 4), (4, 5), (4, 6), (4, 7), (4, 8), (5, 3), (5, 4), (5, 7),
               (5, 10), (6, 3), (6, 4), (6, 9), (7, 4), (7, 13), (8, 4), (8, 5), (8, 6),
               (8, 16), (10, 5), (16, 8), (16, 9), (16, 31), (100, 50), (100, 199)) v(n_from, n_to);
SELECT count(kinesis.create_stream(stream, n_from)) AS streams FROM usc_cases;
SELECT n_from, n_to, kg_try(format('SELECT kinesis.update_shard_count(%L, %s)', stream, n_to)) AS result
  FROM usc_cases ORDER BY n_from, n_to;
SELECT u.n_from, u.n_to, c.*
  FROM usc_cases u, LATERAL pg_temp.check(u.stream, u.n_to, u.n_from) c
 ORDER BY u.n_from, u.n_to;
-- every shard has at most two parents, the adjacent one only with a parent
SELECT count(*) FILTER (WHERE s.parent_shard_id IS NOT NULL) > 0 AS some_with_parent,
       count(*) FILTER (WHERE s.adjacent_parent_shard_id IS NOT NULL) > 0 AS some_with_adjacent_parent,
       count(*) FILTER (WHERE s.adjacent_parent_shard_id IS NOT NULL AND s.parent_shard_id IS NULL) AS adjacent_only,
       count(*) FILTER (WHERE s.idx >= u.n_from AND s.parent_shard_id IS NULL) AS orphans
  FROM usc_cases u, LATERAL pg_temp.shards(u.stream) s;
-- the same target as now changes nothing
SELECT shard_id, parent_shard_id, starting_hash_key, ending_hash_key FROM pg_temp.open_layout('rs.u4_4');

-- one stream through a chain of changes: 4 -> 8 -> 4 -> 3 -> 2 -> 1 -> 2 -> 7 -> 5 -> 6
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 8, 'UNIFORM_SCALING')$$) AS to_8;
SELECT * FROM pg_temp.check('rs.usc', 8, 3);
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 4)$$) AS to_4;
SELECT * FROM pg_temp.check('rs.usc', 4, 3);
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 3)$$) AS to_3;
SELECT * FROM pg_temp.check('rs.usc', 3, 3);
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 2)$$) AS to_2;
SELECT * FROM pg_temp.check('rs.usc', 2, 3);
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 1)$$) AS to_1;
SELECT * FROM pg_temp.check('rs.usc', 1, 3);
SELECT starting_hash_key, ending_hash_key FROM pg_temp.open_layout('rs.usc');
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 2)$$) AS to_2;
SELECT * FROM pg_temp.check('rs.usc', 2, 3);
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 4)$$) AS to_4,
       kg_try($$SELECT kinesis.update_shard_count('rs.usc', 7)$$) AS then_to_7;
SELECT * FROM pg_temp.check('rs.usc', 7, 3);
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 5)$$) AS to_5;
SELECT * FROM pg_temp.check('rs.usc', 5, 3);
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.usc', 6)$$) AS to_6;
SELECT * FROM pg_temp.check('rs.usc', 6, 3);
SELECT starting_hash_key, ending_hash_key FROM pg_temp.open_layout('rs.usc');
SELECT open_shard_count FROM kinesis.describe_stream_summary('rs.usc');

-- from a layout that is not uniform, the target layout is still uniform:
-- boundaries one key off the uniform ones, either side
SELECT kinesis.create_stream('rs.skew1', 1);
SELECT kinesis.split_shard('rs.skew1', 'shardId-000000000000', 170141183460469231731687303715884105727);
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.skew1', 2)$$) AS result;
SELECT pg_temp.uniform('rs.skew1', 2) AS uniform_2;
SELECT starting_hash_key, ending_hash_key FROM pg_temp.open_layout('rs.skew1');
SELECT * FROM pg_temp.coverage('rs.skew1');
SELECT pg_temp.lineage_errors('rs.skew1', 1) AS lineage_errors;
SELECT kinesis.create_stream('rs.skew2', 1);
SELECT kinesis.split_shard('rs.skew2', 'shardId-000000000000', 170141183460469231731687303715884105729);
SELECT kg_try($$SELECT kinesis.update_shard_count('rs.skew2', 2)$$) AS result;
SELECT pg_temp.uniform('rs.skew2', 2) AS uniform_2;
SELECT starting_hash_key, ending_hash_key FROM pg_temp.open_layout('rs.skew2');
SELECT pg_temp.lineage_errors('rs.skew2', 1) AS lineage_errors;

--
-- update_stream_mode: both ways; the shard count is kept
--
SELECT kinesis.create_stream('rs.mode', 2);
SELECT kinesis.update_stream_mode('rs.mode', 'on_demand');
SELECT kg_try($$SELECT kinesis.update_stream_mode('rs.mode', 'SERVERLESS')$$) AS bad_mode,
       kg_try($$SELECT kinesis.update_stream_mode('rs.mode', NULL)$$) AS null_mode,
       kg_try($$SELECT kinesis.update_stream_mode('rs.nope', 'ON_DEMAND')$$) AS unknown_stream;
SELECT kg_try($$SELECT kinesis.update_stream_mode('rs.mode', 'ON_DEMAND')$$) AS to_on_demand;
SELECT stream_name, stream_status, stream_mode, open_shard_count FROM kinesis.describe_stream_summary('rs.mode');
SELECT stream_mode FROM kinesis.list_streams() WHERE stream_name = 'rs.mode';
SELECT kg_try($$SELECT kinesis.split_shard('rs.mode', 'shardId-000000000000', 1000)$$) AS split,
       kg_try($$SELECT kinesis.merge_shards('rs.mode', 'shardId-000000000000', 'shardId-000000000001')$$) AS merge,
       kg_try($$SELECT kinesis.update_shard_count('rs.mode', 4)$$) AS update_count;
-- puts and reads go on in either mode
SELECT shard_id FROM kinesis.put_record('rs.mode', 'k', 'on demand', 0);
SELECT kg_try($$SELECT kinesis.update_stream_mode('rs.mode', 'PROVISIONED')$$) AS to_provisioned;
SELECT stream_name, stream_status, stream_mode, open_shard_count FROM kinesis.describe_stream_summary('rs.mode');
SELECT kg_try($$SELECT kinesis.split_shard('rs.mode', 'shardId-000000000000', 1000)$$) AS split;
SELECT shard_id, starting_hash_key, ending_hash_key FROM pg_temp.open_layout('rs.mode');
SELECT partition_key, data FROM kinesis.read_shard('rs.mode', 'shardId-000000000000');

--
-- lineage and reading across a split, then a merge
--
SELECT kinesis.create_stream('rs.read', 1);
-- keys k1..k4 spread over both halves of the key space
SELECT k, pg_temp.hash_of(k) < 170141183460469231731687303715884105728 AS lower_half
  FROM unnest(ARRAY['k1', 'k2', 'k3', 'k4']) k ORDER BY k;
CREATE TEMP TABLE put_log (ord serial, partition_key text, data text, shard_id text,
                           sequence_number bigint, phase text);
INSERT INTO put_log (partition_key, data, shard_id, sequence_number, phase)
SELECT k, d, r.shard_id, r.sequence_number, 'before split'
  FROM unnest(ARRAY['k1', 'k2', 'k1', 'k3', 'k4', 'k2', 'k1', 'k3'],
              ARRAY['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8']) WITH ORDINALITY AS t(k, d, o),
       LATERAL kinesis.put_record('rs.read', k, convert_to(d, 'UTF8')) r
 ORDER BY t.o;
SELECT kinesis.split_shard('rs.read', 'shardId-000000000000', 170141183460469231731687303715884105728);
SELECT * FROM pg_temp.coverage('rs.read');
-- puts after the split land in the children, by hash, never in the parent
INSERT INTO put_log (partition_key, data, shard_id, sequence_number, phase)
SELECT k, d, r.shard_id, r.sequence_number, 'after split'
  FROM unnest(ARRAY['k1', 'k2', 'k3', 'k4', 'k1', 'k2'],
              ARRAY['c1', 'c2', 'c3', 'c4', 'c5', 'c6']) WITH ORDINALITY AS t(k, d, o),
       LATERAL kinesis.put_record('rs.read', k, convert_to(d, 'UTF8')) r
 ORDER BY t.o;
SELECT l.data, l.shard_id,
       l.shard_id = CASE WHEN pg_temp.hash_of(l.partition_key) < 170141183460469231731687303715884105728
                         THEN 'shardId-000000000001' ELSE 'shardId-000000000002' END AS routed_by_hash
  FROM put_log l WHERE phase = 'after split' ORDER BY ord;
SELECT count(*) AS put_records_in_parent
  FROM kinesis.put_records('rs.read', ARRAY(SELECT 'x' || i FROM generate_series(1, 200) i),
                           ARRAY(SELECT '\x00'::bytea FROM generate_series(1, 200) i))
 WHERE shard_id = 'shardId-000000000000';
-- the parent's ending sequence number is above its records; the children
-- start above it
SELECT s.shard_id, s.parent_shard_id, s.open,
       s.ending_sequence_number >= (SELECT max(sequence_number) FROM put_log WHERE shard_id = s.shard_id) AS ending_above_records,
       s.starting_sequence_number > (SELECT p.ending_sequence_number FROM pg_temp.shards('rs.read') p WHERE p.shard_id = s.parent_shard_id) AS starts_above_parent,
       (SELECT min(sequence_number) FROM put_log WHERE shard_id = s.shard_id) >= s.starting_sequence_number AS records_above_start
  FROM pg_temp.shards('rs.read') s ORDER BY s.idx;
SELECT pg_temp.lineage_errors('rs.read', 1) AS lineage_errors;

-- the closed parent reads to its end with get_records: the iterator is
-- NULL in the call that returns its last record, with the children named
SELECT kinesis.get_shard_iterator('rs.read', 'shardId-000000000000', 'TRIM_HORIZON') AS it \gset
SELECT * FROM pg_temp.get(:'it', 5);
SELECT * FROM pg_temp.get(current_setting('kg.next'), 5);
-- a limit that ends exactly at the last record: that call reaches the end
SELECT * FROM pg_temp.get(:'it', 8);
-- a larger limit
SELECT * FROM pg_temp.get(:'it', 100);
-- reading a closed parent from the middle, and at a sequence number
SELECT kinesis.get_shard_iterator('rs.read', 'shardId-000000000000', 'AFTER_SEQUENCE_NUMBER',
                                  (SELECT sequence_number FROM put_log WHERE data = 'p6')) AS it \gset
SELECT * FROM pg_temp.get(:'it');
SELECT kinesis.get_shard_iterator('rs.read', 'shardId-000000000000', 'AT_SEQUENCE_NUMBER',
                                  (SELECT sequence_number FROM put_log WHERE data = 'p8')) AS it \gset
SELECT * FROM pg_temp.get(:'it');
-- LATEST on a closed shard is its end
SELECT kinesis.get_shard_iterator('rs.read', 'shardId-000000000000', 'LATEST') AS it \gset
SELECT * FROM pg_temp.get(:'it');
-- open children: never a NULL iterator, no children
SELECT kinesis.get_shard_iterator('rs.read', 'shardId-000000000001', 'TRIM_HORIZON') AS it \gset
SELECT records > 0 AS has_records, next_is_null, child_shards FROM pg_temp.get(:'it');
SELECT * FROM pg_temp.get(current_setting('kg.next'));
-- read_shard works on the closed parent
SELECT partition_key, convert_from(data, 'UTF8') AS data
  FROM kinesis.read_shard('rs.read', 'shardId-000000000000');
-- parents first, then children: every partition key comes out in put order
CREATE TEMP TABLE read_log AS
SELECT row_number() OVER (ORDER BY r.gen, r.pos) AS ord, r.shard_id, r.sequence_number,
       r.partition_key, convert_from(r.data, 'UTF8') AS data
  FROM (SELECT g.gen, x.*
          FROM (VALUES (1, 'shardId-000000000000'), (2, 'shardId-000000000001'),
                       (3, 'shardId-000000000002')) g(gen, shard),
               LATERAL kinesis.read_shard('rs.read', g.shard)
                       WITH ORDINALITY AS x(shard_id, sequence_number, arrival, partition_key, data, pos)) r
 WHERE r.partition_key ~ '^k';
SELECT partition_key, string_agg(data, ' ' ORDER BY ord) AS read_order
  FROM read_log GROUP BY partition_key ORDER BY partition_key;
SELECT partition_key, string_agg(data, ' ' ORDER BY ord) AS put_order
  FROM put_log GROUP BY partition_key ORDER BY partition_key;
SELECT count(*) AS read_differs_from_put
  FROM read_log r FULL JOIN put_log p USING (sequence_number)
 WHERE r.data IS DISTINCT FROM p.data OR r.shard_id IS DISTINCT FROM p.shard_id;
-- per partition key the sequence numbers increase across the generations
SELECT count(*) AS out_of_order
  FROM (SELECT sequence_number <= lag(sequence_number) OVER (PARTITION BY partition_key ORDER BY ord) AS bad
          FROM read_log) x WHERE bad;

-- merge the children: both name the merged shard at their end
SELECT kinesis.merge_shards('rs.read', 'shardId-000000000001', 'shardId-000000000002');
INSERT INTO put_log (partition_key, data, shard_id, sequence_number, phase)
SELECT k, d, r.shard_id, r.sequence_number, 'after merge'
  FROM unnest(ARRAY['k1', 'k2', 'k3', 'k4'], ARRAY['m1', 'm2', 'm3', 'm4']) WITH ORDINALITY AS t(k, d, o),
       LATERAL kinesis.put_record('rs.read', k, convert_to(d, 'UTF8')) r
 ORDER BY t.o;
SELECT DISTINCT shard_id FROM put_log WHERE phase = 'after merge';
SELECT shard_id, parent_shard_id, adjacent_parent_shard_id, starting_hash_key, ending_hash_key, open
  FROM pg_temp.shards('rs.read') ORDER BY idx;
SELECT pg_temp.lineage_errors('rs.read', 1) AS lineage_errors;
SELECT s.shard_id,
       s.ending_sequence_number >= (SELECT max(sequence_number) FROM put_log WHERE shard_id = s.shard_id) AS ending_above_records
  FROM pg_temp.shards('rs.read') s WHERE NOT s.open ORDER BY s.idx;
SELECT kinesis.get_shard_iterator('rs.read', 'shardId-000000000001', 'TRIM_HORIZON') AS it \gset
SELECT * FROM pg_temp.get(:'it');
SELECT kinesis.get_shard_iterator('rs.read', 'shardId-000000000002', 'TRIM_HORIZON') AS it \gset
SELECT * FROM pg_temp.get(:'it');
SELECT kinesis.get_shard_iterator('rs.read', 'shardId-000000000003', 'TRIM_HORIZON') AS it \gset
SELECT records, next_is_null, child_shards FROM pg_temp.get(:'it');
-- three generations, parents before children: still in put order per key
SELECT g.partition_key, string_agg(convert_from(g.data, 'UTF8'), ' ' ORDER BY g.gen, g.sequence_number) AS read_order
  FROM (SELECT 1 AS gen, x.* FROM kinesis.read_shard('rs.read', 'shardId-000000000000') x
        UNION ALL SELECT 2, x.* FROM kinesis.read_shard('rs.read', 'shardId-000000000001') x
        UNION ALL SELECT 2, x.* FROM kinesis.read_shard('rs.read', 'shardId-000000000002') x
        UNION ALL SELECT 3, x.* FROM kinesis.read_shard('rs.read', 'shardId-000000000003') x) g
 WHERE g.partition_key ~ '^k'
 GROUP BY g.partition_key ORDER BY g.partition_key;
SELECT open_shard_count FROM kinesis.describe_stream_summary('rs.read');

--
-- reshards and transactions
--
SELECT kinesis.create_stream('rs.tx', 1);
SELECT shard_id FROM kinesis.put_record('rs.tx', 'k', 'before');
-- a reshard that rolls back changes nothing; the ids it used are free again
BEGIN;
SELECT kinesis.split_shard('rs.tx', 'shardId-000000000000', 170141183460469231731687303715884105728);
SELECT count(*) AS shards_in_catalog FROM kinesis.shards s JOIN kinesis.streams t USING (stream_id)
 WHERE t.stream_name = 'rs.tx';
ROLLBACK;
SELECT shard_id, parent_shard_id, starting_hash_key, ending_hash_key, open FROM pg_temp.shards('rs.tx');
SELECT open_shard_count FROM kinesis.describe_stream_summary('rs.tx');
SELECT shard_id FROM kinesis.put_record('rs.tx', 'k', 'after rollback');
SELECT next_shard_index FROM kinesis.streams WHERE stream_name = 'rs.tx';
-- the same in a subtransaction
BEGIN;
SAVEPOINT s;
SELECT kinesis.merge_shards('rs.tx', 'shardId-000000000000', 'shardId-000000000000');
ROLLBACK TO SAVEPOINT s;
SELECT kinesis.split_shard('rs.tx', 'shardId-000000000000', 170141183460469231731687303715884105728);
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT shard_id, open FROM pg_temp.shards('rs.tx');
SELECT shard_id FROM kinesis.put_record('rs.tx', 'k', 'after savepoint');
-- several reshards in one transaction: split, split a shard created by the
-- same transaction, merge two shards created by it
BEGIN;
SELECT kinesis.split_shard('rs.tx', 'shardId-000000000000', 170141183460469231731687303715884105728);
SELECT kinesis.split_shard('rs.tx', 'shardId-000000000002', 255211775190703847597530955573826158592);
SELECT kinesis.merge_shards('rs.tx', 'shardId-000000000003', 'shardId-000000000004');
COMMIT;
SELECT shard_id, parent_shard_id, adjacent_parent_shard_id, starting_hash_key, ending_hash_key, open
  FROM pg_temp.shards('rs.tx') ORDER BY idx;
SELECT * FROM pg_temp.coverage('rs.tx');
SELECT pg_temp.lineage_errors('rs.tx', 1) AS lineage_errors;
-- shards opened and closed by the one transaction hold nothing
SELECT (SELECT count(*) FROM kinesis.read_shard('rs.tx', 'shardId-000000000002')) AS in_2,
       (SELECT count(*) FROM kinesis.read_shard('rs.tx', 'shardId-000000000003')) AS in_3,
       (SELECT count(*) FROM kinesis.read_shard('rs.tx', 'shardId-000000000004')) AS in_4;
SELECT r.shard_id IN ('shardId-000000000001', 'shardId-000000000005') AS in_open_shard
  FROM kinesis.put_record('rs.tx', 'k', 'after') r;
SELECT partition_key, convert_from(data, 'UTF8') AS data FROM kinesis.read_shard('rs.tx', 'shardId-000000000000');
-- a transaction that both reshards and puts, rolled back: nothing
BEGIN;
SELECT kinesis.update_shard_count('rs.tx', 4);
SELECT count(*) FROM kinesis.put_record('rs.tx', 'k', 'rolled back');
ROLLBACK;
SELECT * FROM pg_temp.coverage('rs.tx');
SELECT count(*) AS rolled_back_records
  FROM (SELECT * FROM kinesis.read_shard('rs.tx', 'shardId-000000000001')
        UNION ALL SELECT * FROM kinesis.read_shard('rs.tx', 'shardId-000000000005')) r
 WHERE convert_from(data, 'UTF8') = 'rolled back';
SELECT open_shard_count FROM kinesis.describe_stream_summary('rs.tx');

--
-- throughput quotas (off unless a setting or the stream says so)
--
SHOW kinesis_glue.throughput_quotas;
SELECT kinesis.create_stream('rs.quota', 2);
SELECT kinesis.set_throughput_quotas('rs.nope', true);
SELECT kg_try($$SELECT kinesis.set_throughput_quotas(NULL, true)$$) AS null_stream;
SELECT throughput_quotas FROM kinesis.streams WHERE stream_name = 'rs.quota';
-- only the owner
SET ROLE regress_kg_rs_other;
SELECT kinesis.set_throughput_quotas('rs.quota', true);
SELECT kg_try($$SELECT kinesis.set_throughput_quotas('rs.quota', false)$$) AS other_role;
RESET ROLE;
SELECT throughput_quotas FROM kinesis.streams WHERE stream_name = 'rs.quota';
-- off: 1,500 records to one shard in one burst are all taken
CREATE TEMP TABLE burst_rows (call int, ord bigint, shard_id text, sequence_number bigint,
                              error_code text, error_message text);
CREATE TEMP TABLE qrows (call int, ord bigint, target int, shard_id text, sequence_number bigint,
                         error_code text, error_message text);
CREATE FUNCTION pg_temp.burst(stream text, calls int, per_call int, hash_key numeric)
RETURNS TABLE (call int, records bigint, all_taken boolean, mostly_throttled boolean)
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE burst_rows;
    FOR c IN 1 .. calls LOOP
        INSERT INTO burst_rows
        SELECT c, r.o, r.shard_id, r.sequence_number, r.error_code, r.error_message
          FROM kinesis.put_records(stream, ARRAY(SELECT ROW('q' || i, '\x00'::bytea, hash_key)::kinesis.put_records_entry
                                                   FROM generate_series(1, per_call) i))
               WITH ORDINALITY AS r(shard_id, sequence_number, error_code, error_message, o);
    END LOOP;
    RETURN QUERY SELECT b.call, count(*), count(b.error_code) = 0, count(b.error_code) > per_call * 0.4
                   FROM burst_rows b GROUP BY b.call ORDER BY b.call;
END
$$;
SELECT * FROM pg_temp.burst('rs.quota', 3, 500, 0);
-- on for this stream: 1,000 records per second and shard.  Two calls of
-- 500 use up shard 0's bucket; the third, right after them, is throttled
-- record by record (the few records earned back meanwhile are taken: "most"
-- means more than half, i.e. less than 0.2 s between the calls).
SELECT kinesis.set_throughput_quotas('rs.quota', true);
SELECT throughput_quotas FROM kinesis.streams WHERE stream_name = 'rs.quota';
SELECT kinesis.create_stream('rs.quota2', 2);
SELECT kinesis.set_throughput_quotas('rs.quota2', true);
CREATE FUNCTION pg_temp.quota_burst()
RETURNS TABLE (call int, records bigint, all_taken boolean, shard1_all_taken boolean,
               shard0_mostly_throttled boolean)
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE qrows;
    FOR c IN 1 .. 2 LOOP
        INSERT INTO qrows
        SELECT c, r.o, 0, r.shard_id, r.sequence_number, r.error_code, r.error_message
          FROM kinesis.put_records('rs.quota2', ARRAY(SELECT ROW('q' || i, '\x00'::bytea, 0)::kinesis.put_records_entry
                                                        FROM generate_series(1, 500) i))
               WITH ORDINALITY AS r(shard_id, sequence_number, error_code, error_message, o);
    END LOOP;
    -- third call: 400 records for shard 0 (used up) and, every fifth, 100 for
    -- shard 1 (full), interleaved
    INSERT INTO qrows
    SELECT 3, r.o, (r.o % 5 = 0)::int, r.shard_id, r.sequence_number, r.error_code, r.error_message
      FROM kinesis.put_records('rs.quota2',
               ARRAY(SELECT ROW('q' || i, '\x00'::bytea,
                                CASE WHEN i % 5 = 0 THEN 340282366920938463463374607431768211455 ELSE 0 END
                               )::kinesis.put_records_entry
                       FROM generate_series(1, 500) i))
           WITH ORDINALITY AS r(shard_id, sequence_number, error_code, error_message, o);
    RETURN QUERY
    SELECT q.call, count(*), count(q.error_code) = 0,
           count(q.sequence_number) FILTER (WHERE q.target = 1) = count(*) FILTER (WHERE q.target = 1),
           count(q.error_code) FILTER (WHERE q.target = 0) > 200
      FROM qrows q GROUP BY q.call ORDER BY q.call;
END
$$;
SELECT * FROM pg_temp.quota_burst();
-- every row of the third call is either a shard and a sequence number, or
-- the throttling error with NULL shard and number; row i answers input
-- record i (every fifth record went to shard 1, the others to shard 0)
SELECT count(*) AS all_rows,
       count(*) FILTER (WHERE (error_code IS NULL AND error_message IS NULL
                               AND shard_id = 'shardId-00000000000' || target AND sequence_number IS NOT NULL)
                           OR (error_code = 'ProvisionedThroughputExceededException' AND target = 0
                               AND shard_id IS NULL AND sequence_number IS NULL
                               AND error_message = 'Rate exceeded for shard shardId-000000000000 in stream rs.quota2.'))
         AS well_formed
  FROM qrows q WHERE call = 3;
SELECT DISTINCT error_message FROM qrows WHERE error_code IS NOT NULL;
-- the taken records are stored, the throttled ones are not
SELECT kinesis.set_throughput_quotas('rs.quota2', false);
SELECT (SELECT count(*) FROM kinesis.read_shard('rs.quota2', 'shardId-000000000000', NULL, 10000))
       = (SELECT count(*) FROM qrows WHERE shard_id = 'shardId-000000000000') AS shard0_matches,
       (SELECT count(*) FROM kinesis.read_shard('rs.quota2', 'shardId-000000000001', NULL, 10000))
       = (SELECT count(*) FROM qrows WHERE shard_id = 'shardId-000000000001') AS shard1_matches;
-- put_record raises ProvisionedThroughputExceededException (53400).  1 MiB
-- per second and shard: a record of exactly 1 MiB empties the bucket, and
-- the next needs a whole second to be earned back.
SELECT kinesis.create_stream('rs.quotab', 1);
SELECT kinesis.set_throughput_quotas('rs.quotab', true);
CREATE FUNCTION pg_temp.big_puts() RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. 2 LOOP
        RETURN NEXT kg_try($q$SELECT kinesis.put_record('rs.quotab', 'b', convert_to(repeat('x', 1048575), 'UTF8'))$q$);
    END LOOP;
END
$$;
SELECT * FROM pg_temp.big_puts();
-- (the first of these two is refused, or, after a second, the second)
SELECT kinesis.put_record('rs.quotab', 'b', convert_to(repeat('x', 1048575), 'UTF8'))
  FROM generate_series(1, 2);
SELECT count(*) AS stored FROM kinesis.read_shard('rs.quotab', 'shardId-000000000000');
-- reads: 5 calls per second and shard.  Twenty calls in a burst: the first
-- five are served, later ones refused with 53400.
CREATE FUNCTION pg_temp.read_burst(fn text)
RETURNS TABLE (first_five_served boolean, later_refused boolean, refusals text[])
LANGUAGE plpgsql AS $$
DECLARE
    res text[] := '{}';
    it text;
BEGIN
    FOR i IN 1 .. 20 LOOP
        IF fn = 'read_shard' THEN
            res := res || kg_try($q$SELECT count(*) FROM kinesis.read_shard('rs.quota3', 'shardId-000000000000')$q$);
        ELSE
            it := kinesis.get_shard_iterator('rs.quota3', 'shardId-000000000001', 'TRIM_HORIZON');
            res := res || kg_try(format('SELECT kinesis.get_records(%L)', it));
        END IF;
    END LOOP;
    RETURN QUERY SELECT res[1:5] = array_fill('ok'::text, ARRAY[5]),
                        EXISTS (SELECT FROM unnest(res[6:20]) r WHERE r <> 'ok'),
                        ARRAY(SELECT DISTINCT r FROM unnest(res[6:20]) r WHERE r <> 'ok');
END
$$;
SELECT kinesis.create_stream('rs.quota3', 2);
SELECT count(*) FROM kinesis.put_records('rs.quota3', ARRAY['a', 'b', 'c'], ARRAY['1', '2', '3']::bytea[]);
SELECT kinesis.set_throughput_quotas('rs.quota3', true);
SELECT * FROM pg_temp.read_burst('read_shard');
SELECT * FROM pg_temp.read_burst('get_records');
-- NULL follows kinesis_glue.throughput_quotas (off here): no refusal
SELECT kinesis.set_throughput_quotas('rs.quota3', NULL);
SELECT throughput_quotas IS NULL AS follows_setting FROM kinesis.streams WHERE stream_name = 'rs.quota3';
SELECT bool_and(r = 'ok') AS all_served
  FROM generate_series(1, 20) i,
       LATERAL kg_try($q$SELECT count(*) FROM kinesis.read_shard('rs.quota3', 'shardId-000000000000')$q$) r;
-- children of a split get buckets of their own
SELECT kinesis.set_throughput_quotas('rs.quota', true);
SELECT * FROM pg_temp.burst('rs.quota', 3, 500, 0);
SELECT kinesis.split_shard('rs.quota', 'shardId-000000000000', 85070591730234615865843651857942052864);
SELECT * FROM pg_temp.burst('rs.quota', 2, 500, 0);
SELECT DISTINCT shard_id FROM burst_rows WHERE shard_id IS NOT NULL;
SELECT open_shard_count FROM kinesis.describe_stream_summary('rs.quota');

--
-- clean up
--
SELECT kinesis.delete_stream(stream_name)
  FROM kinesis.list_streams() WHERE stream_name LIKE 'rs.%' ORDER BY stream_name;
SELECT count(*) FROM kinesis.list_streams() WHERE stream_name LIKE 'rs.%';
REVOKE CREATE ON SCHEMA kinesis_records FROM regress_kg_rs_owner;
DROP ROLE regress_kg_rs_owner;
DROP ROLE regress_kg_rs_other;
