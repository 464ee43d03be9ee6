-- case 5 (consume.sh): consume 10,000 records and commit; the checkpoint
-- goes back to the first record (run.sh passes it as :first) in the same
-- transaction, so every call reads the same 10,000 records
BEGIN;
SELECT count(*) FROM kinesis.consume('bench_get', 'bench', 10000);
SELECT kinesis.checkpoint('bench_get', 'bench', 'shardId-000000000000', :first);
COMMIT;
