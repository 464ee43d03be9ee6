--
-- consumer_privacy: a named consumer belongs to the role that registered it
-- (and to the stream's owner).  Written as attacks by regress_kg_cp_mallory,
-- a role without special attributes that holds SELECT on every stream here:
-- it may read the streams (iterators) and register consumers of its own,
-- but never consume as, checkpoint or deregister another role's consumer,
-- including the consumers behind Firehose delivery streams and Glue job
-- bookmarks.  Streams are 'cp.*'; roles regress_kg_cp_*, dropped at the end.
-- Sequence numbers, tokens and timestamps are never printed.
--
\set VERBOSITY default

CREATE ROLE regress_kg_cp_owner;
CREATE ROLE regress_kg_cp_alice;
CREATE ROLE regress_kg_cp_alice_member IN ROLE regress_kg_cp_alice;
CREATE ROLE regress_kg_cp_mallory;
GRANT CREATE ON SCHEMA kinesis_records TO regress_kg_cp_owner;

SET ROLE regress_kg_cp_owner;
SELECT kinesis.create_stream('cp.s', 2);
SELECT count(*) FROM kinesis.put_records('cp.s', ARRAY['a', 'b', 'c', 'd'],
                                         ARRAY['1', '2', '3', '4']::bytea[]);
GRANT SELECT ON kinesis_records."cp.s" TO regress_kg_cp_alice, regress_kg_cp_mallory;
RESET ROLE;

-- alice registers a consumer: the catalog records her as its registrant
SET ROLE regress_kg_cp_alice;
SELECT kinesis.register_stream_consumer('cp.s', 'alice-c');
RESET ROLE;
SELECT consumer_name, registered_by FROM kinesis.consumers c JOIN kinesis.streams s USING (stream_id)
 WHERE s.stream_name = 'cp.s' ORDER BY consumer_name;

--
-- mallory, with SELECT on the stream, attacks alice's consumer
--
SET ROLE regress_kg_cp_mallory;
-- the full error once
SELECT * FROM kinesis.consume('cp.s', 'alice-c');
-- taking her records, moving or rewinding her checkpoint, deleting her consumer
SELECT kg_try($$SELECT * FROM kinesis.consume('cp.s', 'alice-c')$$) AS consume;
SELECT kg_try($$SELECT * FROM kinesis.consume('cp.s', 'alice-c', 1, '1 ms')$$) AS consume_waiting;
SELECT kg_try($$SELECT kinesis.checkpoint('cp.s', 'alice-c', 'shardId-000000000000', -1)$$) AS checkpoint_rewind;
SELECT kg_try($$SELECT kinesis.deregister_stream_consumer('cp.s', 'alice-c')$$) AS deregister;
-- nor through a nested call or a name spelled by the caller
SELECT kg_try($$SELECT count(*) FROM (SELECT * FROM kinesis.consume('cp.s', 'alice' || '-c')) x$$) AS nested;
-- a consumer that does not exist is still "not found", not "denied"
SELECT kg_try($$SELECT * FROM kinesis.consume('cp.s', 'nobody-c')$$) AS missing;
-- what mallory may do: list consumers, register and use a consumer of her own
SELECT consumer_name, consumer_status FROM kinesis.list_stream_consumers('cp.s');
SELECT kinesis.register_stream_consumer('cp.s', 'mallory-c');
SELECT count(*) AS mallory_reads_own FROM kinesis.consume('cp.s', 'mallory-c');
RESET ROLE;

-- alice's consumer was not touched: she still gets all four records
SELECT shard_id, lease_owner IS NULL AS no_lease
  FROM kinesis.consumer_positions WHERE stream_name = 'cp.s' AND consumer_name = 'alice-c' ORDER BY shard_id;
SET ROLE regress_kg_cp_alice;
SELECT count(*) AS alice_reads FROM kinesis.consume('cp.s', 'alice-c');
-- and she may not use mallory's either
SELECT kg_try($$SELECT * FROM kinesis.consume('cp.s', 'mallory-c')$$) AS alice_on_mallory;
RESET ROLE;

-- members of the registrant's role may; so may the stream's owner
SET ROLE regress_kg_cp_alice_member;
SELECT kg_try($$SELECT * FROM kinesis.consume('cp.s', 'alice-c')$$) AS member_consume;
SELECT kg_try($$SELECT kinesis.checkpoint('cp.s', 'alice-c', 'shardId-000000000000', -1)$$) AS member_checkpoint;
RESET ROLE;
SET ROLE regress_kg_cp_owner;
SELECT count(*) AS owner_reads_after_rewind FROM kinesis.consume('cp.s', 'alice-c');
SELECT kinesis.deregister_stream_consumer('cp.s', 'mallory-c');
RESET ROLE;

--
-- the consumer behind a Firehose delivery stream belongs to its owner
--
CREATE TABLE public.cp_sink (data bytea);
ALTER TABLE public.cp_sink OWNER TO regress_kg_cp_alice;
SET ROLE regress_kg_cp_alice;
SELECT firehose.create_delivery_stream('cp-fh', 'public.cp_sink', record_format => 'bytea', data_column => 'data',
                                       delivery_stream_type => 'KinesisStreamAsSource', kinesis_stream_name => 'cp.s',
                                       buffering_interval => '900 s');
RESET ROLE;
SET ROLE regress_kg_cp_owner;
SELECT count(*) FROM kinesis.put_records('cp.s', ARRAY['e', 'f', 'g'], ARRAY['5', '6', '7']::bytea[]);
RESET ROLE;
SELECT c.consumer_name, c.registered_by, d.owner
  FROM kinesis.consumers c JOIN firehose.delivery_streams d ON d.consumer_name = c.consumer_name
 WHERE d.delivery_stream_name = 'cp-fh';
SET ROLE regress_kg_cp_mallory;
SELECT kg_try($$SELECT * FROM kinesis.consume('cp.s', 'firehose-cp-fh')$$) AS steal_firehose_records;
SELECT kg_try($$SELECT kinesis.checkpoint('cp.s', 'firehose-cp-fh', 'shardId-000000000001', -1)$$) AS rewind_firehose;
SELECT kg_try($$SELECT kinesis.deregister_stream_consumer('cp.s', 'firehose-cp-fh')$$) AS break_firehose;
RESET ROLE;
-- the owner's delivery still reads through its consumer: the three records put
-- after the delivery stream was made (it starts at LATEST)
SET ROLE regress_kg_cp_alice;
SELECT firehose.flush('cp-fh') AS delivered;
SELECT count(*) FROM public.cp_sink;
SELECT firehose.delete_delivery_stream('cp-fh');
RESET ROLE;

--
-- the consumer behind a Glue job's stream bookmark belongs to the job's owner
--
CREATE TABLE public.cp_job_out (n bigint);
ALTER TABLE public.cp_job_out OWNER TO regress_kg_cp_alice;
SET ROLE regress_kg_cp_alice;
SELECT glue.create_job('cp-job', script => $$INSERT INTO public.cp_job_out SELECT count(*) FROM glue.bookmark_records('cp.s')$$,
                       default_arguments => '{"--job-bookmark-option": "job-bookmark-enable"}');
\o /dev/null
CALL glue.run_job('cp-job', run_id => NULL, state => NULL, error_message => NULL);
\o
SELECT state, error_message FROM glue.get_job_runs('cp-job', 1);
RESET ROLE;
SELECT n FROM public.cp_job_out;
SELECT c.registered_by, j.owner
  FROM kinesis.consumers c JOIN glue.jobs j ON c.consumer_name = 'glue-job-' || j.job_id
 WHERE j.job_name = 'cp-job';
SELECT 'glue-job-' || job_id AS job_consumer FROM glue.jobs WHERE job_name = 'cp-job' \gset
SET ROLE regress_kg_cp_mallory;
SELECT regexp_replace(kg_try(format('SELECT * FROM kinesis.consume(%L, %L)', 'cp.s', :'job_consumer')), 'glue-job-[0-9]+', 'glue-job-N', 'g') AS steal_job_records;
SELECT regexp_replace(kg_try(format('SELECT kinesis.checkpoint(%L, %L, %L, -1)', 'cp.s', :'job_consumer', 'shardId-000000000000')), 'glue-job-[0-9]+', 'glue-job-N', 'g') AS rewind_job_bookmark;
SELECT regexp_replace(kg_try(format('SELECT kinesis.deregister_stream_consumer(%L, %L)', 'cp.s', :'job_consumer')), 'glue-job-[0-9]+', 'glue-job-N', 'g') AS reset_job_bookmark;
RESET ROLE;
-- the next run of the owner's job resumes from its bookmark: nothing new
SET ROLE regress_kg_cp_alice;
\o /dev/null
CALL glue.run_job('cp-job', run_id => NULL, state => NULL, error_message => NULL);
\o
SELECT r.state, array_agg(o.n ORDER BY o.n DESC) AS counts_per_run
  FROM glue.get_job_runs('cp-job', 1) r, public.cp_job_out o GROUP BY r.state;
RESET ROLE;

--
-- clean up
--
SET ROLE regress_kg_cp_alice;
SELECT glue.reset_job_bookmark('cp-job');
SELECT glue.delete_job('cp-job');
RESET ROLE;
SELECT kinesis.delete_stream('cp.s', enforce_consumer_deletion => true);
DROP TABLE public.cp_sink, public.cp_job_out;
REVOKE CREATE ON SCHEMA kinesis_records FROM regress_kg_cp_owner;
DROP ROLE regress_kg_cp_owner, regress_kg_cp_alice_member, regress_kg_cp_alice, regress_kg_cp_mallory;
