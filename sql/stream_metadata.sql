--
-- stream_metadata: tags, resource policies, encryption and enhanced
-- monitoring settings, limits and child shards (src/streams/stream_metadata.sql).
--   1. tags of a stream: add (overwriting), list in byte order with paging,
--      remove; Kinesis' rules (lengths, characters, "aws:", 50 per stream);
--   2. tags of a consumer (tag_resource / untag_resource / list_tags_for_resource);
--   3. resource policies: JSON objects kept as given;
--   4. encryption and shard-level metrics, recorded and described;
--   5. describe_limits and the limits it reports, enforced;
--   6. child_shards of a closed parent;
--   7. attacks by regress_md_mallory, a role without rights on the stream,
--      and by regress_md_reader, who may read it but not change it;
--   8. deleting a consumer or stream deletes its metadata;
--   9. account settings (describe/update_account_settings).
-- Streams are 'md.*'; roles regress_md_*, dropped at the end.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE ROLE regress_md_owner;
CREATE ROLE regress_md_reader;
CREATE ROLE regress_md_mallory;
GRANT CREATE ON SCHEMA kinesis_records TO regress_md_owner;

SET ROLE regress_md_owner;
SELECT kinesis.create_stream('md.s', 2);
GRANT SELECT ON kinesis_records."md.s" TO regress_md_reader;

-- 1. tags of a stream
SELECT kinesis.add_tags_to_stream('md.s', '{"team": "billing", "env": "prod", "Zb": "", "a b": "é ü", "_x": "1", "0": "z"}');
SELECT * FROM kinesis.list_tags_for_stream('md.s');
-- paging: after a key, at most "limit"
SELECT * FROM kinesis.list_tags_for_stream('md.s', exclusive_start_tag_key => 'Zb', "limit" => 2);
SELECT * FROM kinesis.list_tags_for_stream('md.s', exclusive_start_tag_key => 'team');
-- an existing key is overwritten; removing a missing key is no error
SELECT kinesis.add_tags_to_stream('md.s', '{"env": "staging"}');
SELECT kinesis.remove_tags_from_stream('md.s', ARRAY['team', 'no-such-key', '0']);
SELECT * FROM kinesis.list_tags_for_stream('md.s');
-- the rules; each failed call changes nothing
SELECT t AS tags, kg_try(format('SELECT kinesis.add_tags_to_stream(%L, %L)', 'md.s', t)) AS outcome
  FROM unnest(ARRAY['{}', '[1]', '{"k": 1}', '{"": "v"}', '{"k": "v!"}', '{"k#": "v"}', '{"k": "50%"}',
                    '{"aws:owner": "x"}', '{"AWS:owner": "x"}', '{"ok:key/=+-@.": "ü 1"}']) t;
SELECT kg_try(format('SELECT kinesis.add_tags_to_stream(%L, %L)', 'md.s',
                     jsonb_build_object(repeat('k', 129), 'v'))) AS long_key,
       kg_try(format('SELECT kinesis.add_tags_to_stream(%L, %L)', 'md.s',
                     jsonb_build_object('k', repeat('v', 257)))) AS long_value,
       kg_try(format('SELECT kinesis.add_tags_to_stream(%L, %L)', 'md.s',
                     jsonb_build_object(repeat('k', 128), repeat('v', 256)))) AS longest;
SELECT kg_try($$SELECT kinesis.remove_tags_from_stream('md.s', '{}')$$) AS no_keys,
       kg_try($$SELECT kinesis.remove_tags_from_stream('md.s', ARRAY[NULL])$$) AS null_key,
       kg_try($$SELECT * FROM kinesis.list_tags_for_stream('md.s', NULL, 0)$$) AS limit_0,
       kg_try($$SELECT kinesis.add_tags_to_stream('md.missing', '{"k": "v"}')$$) AS missing_stream;
-- (the two that passed are removed; the failed calls changed nothing)
SELECT kinesis.remove_tags_from_stream('md.s', ARRAY['ok:key/=+-@.', repeat('k', 128)]);
SELECT * FROM kinesis.list_tags_for_stream('md.s');
-- at most 50 tags per stream: 4 are there, 46 more fit, then no more
SELECT kinesis.add_tags_to_stream('md.s', (SELECT jsonb_object_agg('k' || i, 'v') FROM generate_series(1, 46) i));
SELECT kg_try($$SELECT kinesis.add_tags_to_stream('md.s', '{"one-more": "x"}')$$) AS tag_51,
       kg_try($$SELECT kinesis.add_tags_to_stream('md.s', '{"k1": "overwrite"}')$$) AS overwrite_at_50;
SELECT count(*), count(*) FILTER (WHERE tag_value = 'overwrite') AS overwritten
  FROM kinesis.list_tags_for_stream('md.s');
SELECT kinesis.remove_tags_from_stream('md.s', ARRAY(SELECT 'k' || i FROM generate_series(1, 46) i));

-- 2. tags of a consumer, apart from the stream's
SELECT kinesis.register_stream_consumer('md.s', 'app');
SELECT kinesis.tag_resource('md.s', '{"owner": "app-team"}', consumer_name => 'app');
SELECT kinesis.tag_resource('md.s', '{"cost": "7"}');
SELECT * FROM kinesis.list_tags_for_resource('md.s', 'app');
SELECT * FROM kinesis.list_tags_for_resource('md.s');
SELECT kinesis.untag_resource('md.s', ARRAY['owner'], consumer_name => 'app');
SELECT count(*) AS consumer_tags FROM kinesis.list_tags_for_resource('md.s', 'app');
SELECT kg_try($$SELECT kinesis.tag_resource('md.s', '{"k": "v"}', consumer_name => 'nobody')$$) AS missing_consumer;
-- a consumer has its own 50 (the stream's 5 do not count)
SELECT kg_try(format('SELECT kinesis.tag_resource(%L, %L, consumer_name => %L)', 'md.s',
                     (SELECT jsonb_object_agg('k' || i, 'v') FROM generate_series(1, 51) i), 'app')) AS consumer_51,
       kg_try(format('SELECT kinesis.tag_resource(%L, %L, consumer_name => %L)', 'md.s',
                     (SELECT jsonb_object_agg('k' || i, 'v') FROM generate_series(1, 50) i), 'app')) AS consumer_50;
SELECT kinesis.untag_resource('md.s', ARRAY(SELECT 'k' || i FROM generate_series(1, 50) i), consumer_name => 'app');

-- 3. resource policies
SELECT kinesis.get_resource_policy('md.s') IS NULL AS none_yet;
SELECT kinesis.put_resource_policy('md.s', '{"Version": "2012-10-17",  "Statement": []}');
SELECT kinesis.get_resource_policy('md.s');
SELECT kinesis.put_resource_policy('md.s', '{"Version": "2012-10-17"}', consumer_name => 'app');
SELECT kinesis.get_resource_policy('md.s', 'app');
SELECT p AS policy, kg_try(format('SELECT kinesis.put_resource_policy(%L, %L)', 'md.s', p)) AS outcome
  FROM unnest(ARRAY['[]', 'not json', '"text"', NULL]) p;
SELECT kg_try(format('SELECT kinesis.put_resource_policy(%L, %L)', 'md.s',
                     jsonb_build_object('k', repeat('x', 20480)))) AS too_long;
SELECT kinesis.get_resource_policy('md.s') AS unchanged;
SELECT kinesis.delete_resource_policy('md.s', 'app');
SELECT kg_try($$SELECT kinesis.delete_resource_policy('md.s', 'app')$$) AS delete_again;

-- 4. encryption and enhanced monitoring: recorded, described
SELECT * FROM kinesis.describe_stream_settings('md.s');
SELECT kinesis.start_stream_encryption('md.s', 'KMS', 'alias/aws/kinesis');
SELECT * FROM kinesis.describe_stream_settings('md.s');
SELECT kg_try($$SELECT kinesis.start_stream_encryption('md.s', 'NONE', 'k')$$) AS type_none,
       kg_try($$SELECT kinesis.start_stream_encryption('md.s', 'KMS', '')$$) AS empty_key,
       kg_try($$SELECT kinesis.stop_stream_encryption('md.s', 'KMS', 'other-key')$$) AS stop_other_key;
SELECT kinesis.stop_stream_encryption('md.s', 'KMS', 'alias/aws/kinesis');
SELECT * FROM kinesis.enable_enhanced_monitoring('md.s', ARRAY['OutgoingBytes', 'IncomingBytes']);
SELECT * FROM kinesis.enable_enhanced_monitoring('md.s', ARRAY['IncomingBytes', 'IteratorAgeMilliseconds']);
SELECT * FROM kinesis.disable_enhanced_monitoring('md.s', ARRAY['IncomingBytes']);
SELECT * FROM kinesis.enable_enhanced_monitoring('md.s', ARRAY['ALL']);
SELECT * FROM kinesis.disable_enhanced_monitoring('md.s', ARRAY['ALL']);
SELECT kg_try($$SELECT kinesis.enable_enhanced_monitoring('md.s', ARRAY['Bytes'])$$) AS unknown_metric,
       kg_try($$SELECT kinesis.enable_enhanced_monitoring('md.s', '{}')$$) AS no_metrics;
SELECT * FROM kinesis.describe_stream_settings('md.s');
SELECT kg_try($$SELECT * FROM kinesis.describe_stream_settings('md.missing')$$) AS missing;
RESET ROLE;

-- 5. limits: open shards of every stream, ON_DEMAND streams
SELECT shard_limit, open_shard_count = (SELECT count(*) FROM kinesis.shards WHERE ending_sequence_number IS NULL) AS counted,
       on_demand_stream_count = (SELECT count(*) FROM kinesis.streams WHERE stream_mode = 'ON_DEMAND') AS od_counted,
       on_demand_stream_count_limit
  FROM kinesis.describe_limits();
SELECT (SELECT open_shard_count FROM kinesis.describe_limits()) AS open_now \gset
-- (in a transaction rolled back at the end: the one call that fits changes the layout)
BEGIN;
SET LOCAL kinesis_glue.shard_limit = :open_now;
-- (the counts depend on the streams other files left: N)
SELECT s AS statement, regexp_replace(kg_try(s), ': \d+\. Limit: \d+\.', ': N. Limit: N.') AS outcome
  FROM unnest(ARRAY['SELECT kinesis.create_stream(''md.l'', 1)',
                    'SELECT kinesis.split_shard(''md.s'', ''shardId-000000000000'', 100)',
                    'SELECT kinesis.update_shard_count(''md.s'', 3)',
                    'SELECT kinesis.update_shard_count(''md.s'', 1)']) s;
SELECT count(*) AS open_shards FROM kinesis.list_shards('md.s') WHERE ending_sequence_number IS NULL;
RESET kinesis_glue.shard_limit;
SET LOCAL kinesis_glue.on_demand_stream_count_limit = 0;
SELECT kg_try($$SELECT kinesis.create_stream('md.l', stream_mode => 'ON_DEMAND')$$) AS on_demand_beyond,
       kg_try($$SELECT kinesis.update_stream_mode('md.s', 'ON_DEMAND')$$) AS switch_beyond;
ROLLBACK;
SET ROLE regress_md_mallory;
SELECT kg_try($$SET kinesis_glue.shard_limit = 1000000$$) AS mallory_raises_limit;
RESET ROLE;

-- 6. child shards of a closed parent: ids, parents, hash key ranges
SET ROLE regress_md_owner;
SELECT kinesis.split_shard('md.s', 'shardId-000000000000', 1000);
SELECT kinesis.merge_shards('md.s', 'shardId-000000000003', 'shardId-000000000001');
SELECT g.next_shard_iterator IS NULL AS ended, g.child_shards
  FROM kinesis.get_records(kinesis.get_shard_iterator('md.s', 'shardId-000000000000', 'TRIM_HORIZON')) g;
SELECT * FROM kinesis.child_shards(kinesis.get_shard_iterator('md.s', 'shardId-000000000000', 'TRIM_HORIZON'));
SELECT * FROM kinesis.child_shards(kinesis.get_shard_iterator('md.s', 'shardId-000000000001', 'TRIM_HORIZON'));
SELECT count(*) AS open_has_none
  FROM kinesis.child_shards(kinesis.get_shard_iterator('md.s', 'shardId-000000000002', 'LATEST'));
SELECT kg_try($$SELECT * FROM kinesis.child_shards('AAAA' || repeat('x', 64))$$) AS forged;
RESET ROLE;

-- 7. attacks: mallory has no rights on md.s, the reader may read it
SET ROLE regress_md_mallory;
SELECT kg_try($$SELECT kinesis.add_tags_to_stream('md.s', '{"pwned": "1"}')$$) AS add_tags,
       kg_try($$SELECT kinesis.remove_tags_from_stream('md.s', ARRAY['env'])$$) AS remove_tags,
       kg_try($$SELECT * FROM kinesis.list_tags_for_stream('md.s')$$) AS list_tags,
       kg_try($$SELECT kinesis.tag_resource('md.s', '{"pwned": "1"}', consumer_name => 'app')$$) AS tag_consumer;
SELECT kg_try($$SELECT kinesis.put_resource_policy('md.s', '{"Statement": "allow all"}')$$) AS put_policy,
       kg_try($$SELECT kinesis.get_resource_policy('md.s')$$) AS get_policy,
       kg_try($$SELECT kinesis.delete_resource_policy('md.s')$$) AS delete_policy;
SELECT kg_try($$SELECT kinesis.start_stream_encryption('md.s', 'KMS', 'mine')$$) AS encrypt,
       kg_try($$SELECT kinesis.enable_enhanced_monitoring('md.s', ARRAY['ALL'])$$) AS monitor;
-- the internal writers check the caller too, and the tables are closed
SELECT kg_try($$SELECT kinesis._change_tags('md.s', NULL, '{"pwned": "1"}', NULL)$$) AS writer,
       kg_try($$SELECT * FROM kinesis._list_tags('md.s', NULL, NULL, NULL)$$) AS reader,
       kg_try($$SELECT kinesis._set_encryption('md.s', 'KMS', 'mine', true)$$) AS encryption_writer;
SELECT kg_try($$SELECT * FROM kinesis.tags$$) AS read_tags,
       kg_try($$SELECT * FROM kinesis.resource_policies$$) AS read_policies,
       kg_try($$INSERT INTO kinesis.tags SELECT stream_id, NULL, 'pwned', '1' FROM kinesis.streams WHERE stream_name = 'md.s'$$) AS insert_tag,
       kg_try($$UPDATE kinesis.stream_settings SET encryption_type = 'NONE', key_id = NULL$$) AS update_settings;
-- but everybody sees the settings DescribeStreamSummary shows
SELECT * FROM kinesis.describe_stream_settings('md.s');
RESET ROLE;
SET ROLE regress_md_reader;
SELECT * FROM kinesis.list_tags_for_stream('md.s');
SELECT kinesis.get_resource_policy('md.s');
SELECT kg_try($$SELECT kinesis.add_tags_to_stream('md.s', '{"env": "hacked"}')$$) AS reader_adds,
       kg_try($$SELECT kinesis.put_resource_policy('md.s', '{}')$$) AS reader_puts_policy,
       kg_try($$SELECT kinesis.stop_stream_encryption('md.s', 'KMS', 'x')$$) AS reader_encrypts;
RESET ROLE;
SELECT t.tag_key, t.tag_value FROM kinesis.tags t JOIN kinesis.streams s USING (stream_id)
 WHERE s.stream_name = 'md.s' ORDER BY t.tag_key COLLATE "C";
-- a consumer's registrant may tag it (not the stream)
SET ROLE regress_md_reader;
SELECT kinesis.register_stream_consumer('md.s', 'reader-app');
SELECT kinesis.tag_resource('md.s', '{"mine": "yes"}', consumer_name => 'reader-app');
SELECT * FROM kinesis.list_tags_for_resource('md.s', 'reader-app');
SELECT kg_try($$SELECT kinesis.tag_resource('md.s', '{"mine": "yes"}', consumer_name => 'app')$$) AS others_consumer;
RESET ROLE;

-- 8. deleting a consumer or the stream deletes its metadata
SET ROLE regress_md_owner;
SELECT kinesis.start_stream_encryption('md.s', 'KMS', 'k1');
SELECT kinesis.tag_resource('md.s', '{"gone": "soon"}', consumer_name => 'app'),
       kinesis.put_resource_policy('md.s', '{"Id": "gone"}', consumer_name => 'app');
RESET ROLE;
CREATE TEMP VIEW md_rows AS
    SELECT count(*) FILTER (WHERE consumer_id IS NOT NULL) AS consumer_rows,
           count(*) FILTER (WHERE consumer_id IS NULL) AS stream_rows
      FROM (SELECT consumer_id FROM kinesis.tags UNION ALL SELECT consumer_id FROM kinesis.resource_policies) x;
SELECT * FROM md_rows;
SET ROLE regress_md_owner;
SELECT kinesis.deregister_stream_consumer('md.s', 'app');
RESET ROLE;
SELECT * FROM md_rows;
SET ROLE regress_md_owner;
SELECT kinesis.delete_stream('md.s', enforce_consumer_deletion => true);
RESET ROLE;
SELECT (SELECT count(*) FROM kinesis.tags) AS tags, (SELECT count(*) FROM kinesis.resource_policies) AS policies,
       (SELECT count(*) FROM kinesis.stream_settings) AS settings;
-- a new stream of the same name starts bare
SET ROLE regress_md_owner;
SELECT kinesis.create_stream('md.s', 1);
SELECT count(*) AS tags FROM kinesis.list_tags_for_stream('md.s');
SELECT * FROM kinesis.describe_stream_settings('md.s');
SELECT kinesis.delete_stream('md.s');
RESET ROLE;

-- 9. account settings: the minimum throughput billing commitment, recorded
SELECT * FROM kinesis.describe_account_settings();
SET ROLE regress_md_owner;
SELECT kg_try($$SELECT kinesis.update_account_settings('ENABLED')$$) AS not_database_owner;
RESET ROLE;
SELECT kg_try($$SELECT kinesis.update_account_settings('MAYBE')$$) AS bad_status;
SELECT commitment_status, started_at IS NOT NULL AS started, ended_at IS NULL AS not_ended
  FROM kinesis.update_account_settings('ENABLED');
SELECT a.commitment_status, a.started_at = b.started_at AS same_start
  FROM kinesis.describe_account_settings() a, kinesis.update_account_settings('ENABLED') b;
SELECT commitment_status, started_at IS NOT NULL AS started, ended_at >= started_at AS ended
  FROM kinesis.update_account_settings('DISABLED');
SELECT commitment_status, ended_at IS NOT NULL AS ended FROM kinesis.describe_account_settings();

REVOKE CREATE ON SCHEMA kinesis_records FROM regress_md_owner;
DROP OWNED BY regress_md_owner, regress_md_reader, regress_md_mallory;
DROP ROLE regress_md_owner, regress_md_reader, regress_md_mallory;
