-- case 3e, kinesis side: get_records_rows of 10,000 records to the client
-- (the README's way: a row per record, then the row with the next
-- iterator), with an iterator fetched once before the run (run.sh passes
-- it as :it)
SELECT * FROM kinesis.get_records_rows(:it, 10000);
