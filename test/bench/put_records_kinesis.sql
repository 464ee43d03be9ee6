-- case 1/2, kinesis side: one put_records call of 500 records of 100 B
SELECT count(*) FROM bench_input b, kinesis.put_records('bench', b.keys, b.datas);
