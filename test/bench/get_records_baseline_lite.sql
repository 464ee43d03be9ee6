-- case 3, lighter baseline (information only): the same scan, every column
-- read but only aggregates returned, no composite rows built
SELECT count(*), sum(length(s.partition_key)), sum(length(s.data)), max(s.approximate_arrival_timestamp)
  FROM (SELECT * FROM baseline_get
         WHERE shard_index = 0 AND sequence_number > :after
         ORDER BY shard_index, sequence_number LIMIT 10000) s;
