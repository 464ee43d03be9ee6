-- cases 3c/3d, baseline: index range scan of the same 10,000 rows, every
-- column returned to the client
SELECT * FROM baseline_get
 WHERE shard_index = 0 AND sequence_number > :after
 ORDER BY shard_index, sequence_number LIMIT 10000;
