-- case 1/2, baseline: INSERT ... SELECT of the same 500 rows
INSERT INTO baseline (shard_index, sequence_number, approximate_arrival_timestamp, partition_key, data)
SELECT (u.ord % 4)::integer, nextval('baseline_seq'), now(), u.k, u.d
  FROM bench_input b, unnest(b.keys, b.datas) WITH ORDINALITY AS u(k, d, ord);
