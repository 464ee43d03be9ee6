-- case 3b, kinesis side: get_records of 10,000 records with an iterator
-- fetched once before the run (run.sh passes it as :it)
SELECT cardinality((kinesis.get_records(:it, 10000)).records);
