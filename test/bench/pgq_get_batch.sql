-- PgQ peer of case 3c: next_batch + get_batch_events of a batch of the same
-- 10,000 records, every column to the client; the batch is not finished, so
-- every call reads the same one
SELECT * FROM pgq.get_batch_events(pgq.next_batch('bench_qr', 'bench'));
