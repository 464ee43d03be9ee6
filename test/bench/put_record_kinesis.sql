-- case 4, kinesis side: one put_record of 100 B per transaction
\set id random(1, 100000000)
SELECT * FROM kinesis.put_record('bench1', 'k' || :id::text, '\xe15d24a5769eab2fb17d3b6d294df11a6c922c882bbdcb94d6cb6fbef6ec114b8e923b9efc2fbf02eb5e58373378e9ec85c93b568ce7575261b8a30e0213a862a161e91b9b05b9743ef28792a65c1ad23238dd8d7be498aefd771892a6d5f762cea60c3a'::bytea);
