-- case 3, baseline: index range scan of the same 10,000 rows, every column
-- fetched and returned as an array of 10,000 composite rows (the shape of
-- get_records' result)
SELECT cardinality(array_agg(s))
  FROM (SELECT * FROM baseline_get
         WHERE shard_index = 0 AND sequence_number > :after
         ORDER BY shard_index, sequence_number LIMIT 10000) s;
