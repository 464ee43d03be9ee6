-- case 3c, kinesis side: get_records of 10,000 records unnested to the
-- client, every column (the README's way), with an iterator fetched once
-- before the run (run.sh passes it as :it)
SELECT r.* FROM kinesis.get_records(:it, 10000) g, unnest(g.records) r;
