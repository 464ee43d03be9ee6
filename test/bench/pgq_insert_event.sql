-- PgQ peer of cases 1/2: pgq.insert_event of the same 500 records (partition
-- key as the event type, the payload as hex text) in one transaction
SELECT count(pgq.insert_event('bench_q', u.k, encode(u.d, 'hex')))
  FROM bench_input b, unnest(b.keys, b.datas) AS u(k, d);
