
# Firehose delivery by the background worker (src/firehose/delivery.c):
#   1. the buffering interval: records are delivered on their own once the
#      oldest one is older than the interval (and not before it);
#   2. the size hint: more than buffering_size_mib pending is delivered at
#      once, long before the (900 s) interval;
#   3. exactly once across a crash: producers put records with
#      firehose.put_record_batch while the worker delivers; every producer
#      transaction also records its ids in a ledger table, so the ledger is
#      exactly the committed set.  The postmaster is killed with SIGKILL in
#      the middle, restarted, and once everything is delivered the
#      destination holds exactly the ledger: every id once, nothing else,
#      and no delivery error (a redelivery would hit the primary key);
#   4. a delivery stream owned by a non-superuser delivers as that role (a
#      trigger records current_user), and after its INSERT privilege is
#      revoked the worker retries with backoff until retry_duration (1 s)
#      has passed, then every record becomes a DestinationFailed error with
#      the permission message and nothing is written.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KgTest;

my $node = kg_node('firehose', set => { max_connections => 30, restart_after_crash => 'on' });

sub sql { return kg_sql($node, $_[0]); }

sql(q{
CREATE TABLE by_time (id int PRIMARY KEY, approximate_arrival_timestamp timestamptz);
CREATE TABLE by_size (id int PRIMARY KEY, pad text);
SELECT firehose.create_delivery_stream('by_time', 'by_time', buffering_interval => '1 s');
SELECT firehose.create_delivery_stream('by_size', 'by_size', buffering_size_mib => 1,
                                       buffering_interval => '900 s');
});

# 1. the buffering interval
sql(q{SELECT count(*) FROM firehose.put_record_batch('by_time',
        ARRAY['{"id": 1}', '{"id": 2}', '{"id": 3}']::text[]::bytea[])});
kg_wait($node, q{SELECT count(*) = 3 FROM by_time}, 't', 'delivery after the buffering interval');
is(sql(q{SELECT d.records_delivered || '/' || d.records_failed || ' '
                || (d.last_delivery_at - (SELECT max(approximate_arrival_timestamp) FROM by_time)
                    >= interval '1 s')
           FROM firehose.describe_delivery_stream('by_time') d}),
   '3/0 true', 'interval: delivered by the worker, not before the interval passed');

# 2. the size hint: 2 x 600 kB > 1 MiB, the interval is 900 s
sql(q{SELECT count(*) FROM firehose.put_record_batch('by_size', ARRAY(
        SELECT convert_to(jsonb_build_object('id', i, 'pad', repeat('p', 600000))::text, 'UTF8')
          FROM generate_series(1, 2) i))});
kg_wait($node, q{SELECT count(*) = 2 FROM by_size}, 't', 'delivery at the size hint');
is(sql(q{SELECT records_delivered FROM firehose.describe_delivery_stream('by_size')}),
   '2', 'size: delivered by the worker long before the interval');

# 3. exactly once across a crash
my $PRODUCERS = 4;
my $BATCHES = 300;
my $BATCH = 50;
sql(q{
CREATE TABLE dest (id int PRIMARY KEY, producer int, payload text);
CREATE TABLE ledger (id int PRIMARY KEY);
SELECT firehose.create_delivery_stream('crash', 'dest', buffering_interval => '0 s');
});

my @producers = kg_firehose_producers($node, 'crash',
	producers => $PRODUCERS, batches => $BATCHES, batch => $BATCH, timeout => 60);

# kill the postmaster once deliveries are under way and producers still run
kg_wait($node, q{SELECT count(*) >= 500 FROM dest}, 't', 'first deliveries of the crash stream');
my $before = sql(q{SELECT (SELECT count(*) FROM dest) || ' ' || (SELECT count(*) FROM ledger)});
note("before the crash: delivered, committed = $before");
ok(kg_crash($node, @producers), 'every process of the killed postmaster is gone');

my $committed = sql(q{SELECT count(*) FROM ledger});
cmp_ok($committed, '>', 0, "crash: $committed records committed before the crash");
note('producers were ' . ($committed < $PRODUCERS * $BATCHES * $BATCH ? 'interrupted' : 'done')
	  . ' and ' . sql(q{SELECT count(*) FROM dest}) . ' records delivered at the restart');
kg_wait($node, q{SELECT NOT EXISTS (SELECT 1 FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM dest d WHERE d.id = l.id))}, 't',
	'delivery of every committed record after the restart');
is(sql(q{SELECT count(*) || ' ' || count(DISTINCT id) FROM dest}), "$committed $committed",
	'crash: the destination has exactly one row per committed record');
is(sql(q{SELECT count(*) FROM dest d WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.id = d.id)}),
	'0', 'crash: nothing delivered that was not committed');
is(sql(q{SELECT count(*) FROM firehose.delivery_errors}), '0',
	'crash: no delivery error (a redelivered record would violate the primary key)');
is(sql(q{SELECT coalesce(sum(lag_bytes), 0) = 0
           FROM kinesis.consumer_positions WHERE stream_name = 'firehose-crash'}),
	't', 'crash: the consumer has nothing left to read');

# 4. a delivery stream owned by a non-superuser
sql(q{
CREATE ROLE fh_user LOGIN;
GRANT CREATE ON SCHEMA kinesis_records TO fh_user;
CREATE TABLE owned_dest (id int, who text);
CREATE FUNCTION stamp_user() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN NEW.who := current_user; RETURN NEW; END $$;
CREATE TRIGGER stamp BEFORE INSERT ON owned_dest FOR EACH ROW EXECUTE FUNCTION stamp_user();
GRANT INSERT ON owned_dest TO fh_user;
SET ROLE fh_user;
SELECT firehose.create_delivery_stream('owned', 'owned_dest', buffering_interval => '0 s',
                                       retry_duration => '1 s');
SELECT count(*) FROM firehose.put_record_batch('owned', ARRAY['{"id": 1}', '{"id": 2}']::text[]::bytea[]);
});
kg_wait($node, q{SELECT count(*) = 2 FROM owned_dest}, 't', 'delivery of the non-superuser stream');
is(sql(q{SELECT string_agg(DISTINCT who, ',') FROM owned_dest}), 'fh_user',
	'owned: the worker delivers as the owner');

sql(q{
REVOKE INSERT ON owned_dest FROM fh_user;
SET ROLE fh_user;
SELECT count(*) FROM firehose.put_record_batch('owned', ARRAY['{"id": 3}', '{"id": 4}', '{"id": 5}']::text[]::bytea[]);
});
kg_wait($node, q{SELECT count(*) = 3 FROM firehose.delivery_errors e JOIN firehose.delivery_streams d
           USING (delivery_stream_id) WHERE d.delivery_stream_name = 'owned'}, 't',
	'errors of the stream whose owner lost INSERT');
is(sql(q{SELECT string_agg(DISTINCT error_code || ': ' || error_message, ', ')
           FROM firehose.delivery_errors e JOIN firehose.delivery_streams d USING (delivery_stream_id)
          WHERE d.delivery_stream_name = 'owned'}),
	'DestinationFailed: permission denied for table owned_dest',
	'owned: after retry_duration every record is a DestinationFailed permission error');
cmp_ok(sql(q{SELECT failed_attempts_total FROM firehose.delivery_stream_metrics
              WHERE delivery_stream_name = 'owned'}), '>=', 2, 'owned: the worker retried before giving up');
is(sql(q{SELECT count(*) FROM owned_dest}), '2', 'owned: nothing written without the privilege');
is(sql(q{SELECT records_delivered || '/' || records_failed FROM firehose.describe_delivery_stream('owned')}),
	'2/3', 'owned: the counters');
# the owner sees its errors
is(sql(q{SET ROLE fh_user; SELECT count(*) FROM firehose.delivery_errors}), '3',
	'owned: the owner sees its error output');

$node->stop;
done_testing();
