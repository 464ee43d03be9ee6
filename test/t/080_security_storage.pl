
# Security of stream storage against its own owner (issue 13 items 2 and 3),
# where the work happens in the background: the per-database worker creates
# the segments of a data stream and of a video stream as the extension
# owner.  sql/security_storage.sql covers the same attacks in the session.
#
#   A. A stream owner (no special attributes) lowers the DDL guard with a
#      caught error (put_media to a missing stream inside BEGIN ...
#      EXCEPTION), then tries to attach its immutable function to the record
#      table and the fragment table (CREATE INDEX ON ONLY ... WHERE f(),
#      CREATE STATISTICS on an expression): refused.  Puts then make the
#      worker create segments: the function never runs as a superuser (the
#      server log stays clean) and the segments get no index of the owner's.
#   B. The same role cannot disable the trigger that refuses direct DML, so
#      no forged record with a sequence number of its choosing gets in.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KgTest;

my $node = kg_node(
	'security_storage',
	set => {
		'kinesis_glue.launcher_naptime' => '100ms',
		'kinesis_glue.segment_interval' => '1s',
		'kinesis_glue.segment_records' => 1024,
		'kinesis_glue.segment_wait' => '5s'
	});

sub sql { return kg_sql($node, shift) }

sql(q{
	CREATE ROLE attacker LOGIN;
	GRANT CREATE ON SCHEMA kinesis_records, kinesis_video_media TO attacker;
	CREATE SCHEMA att AUTHORIZATION attacker;
});
sql(q{
	SET ROLE attacker;
	CREATE FUNCTION att.probe(i integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
	BEGIN
	    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
	        RAISE WARNING 'attacker code ran with superuser rights';
	    END IF;
	    RETURN i;
	END $$;
	SELECT kinesis.create_stream('victim', 1);
	SELECT kinesis_video.create_stream('cam', data_retention_in_hours => 1);
});

# As the attacker, in one transaction: lower the guard with a caught error
# inside the extension, then run $stmt; returns psql's stderr.
sub after_caught_error
{
	my ($stmt) = @_;
	my ($ret, $out, $err) = $node->psql(
		'postgres', qq{
		SET ROLE attacker;
		BEGIN;
		DO \$\$ BEGIN
		    PERFORM kinesis_video.put_media('missing', '\\x00', now(), 1000);
		EXCEPTION WHEN OTHERS THEN NULL;
		END \$\$;
		$stmt;
		COMMIT;
	}, on_error_stop => 0);
	return $err;
}

# A. the guard lowered by a caught error, then code attached to the storage
my $log_start = -s $node->logfile;
like(after_caught_error(q{CREATE INDEX att_idx ON ONLY kinesis_records.victim (shard_index) WHERE att.probe(1) = 1}),
	qr/AccessDeniedException: cannot index the record storage of a data stream/,
	'CREATE INDEX ON ONLY after a caught error is refused');
like(after_caught_error(q{CREATE STATISTICS att.st ON (fragment_number + att.probe(1)), media_sequence
                          FROM kinesis_video_media.cam}),
	qr/AccessDeniedException: cannot create statistics on the fragment storage of a video stream/,
	'CREATE STATISTICS after a caught error is refused');
is(sql(q{SELECT count(*) FROM pg_statistic_ext WHERE stxnamespace = 'att'::regnamespace}), '0',
	'no statistics object of the attacker exists');

# the worker creates segments as the extension owner: make it create several
my $before = sql(q{SELECT count(*) FROM kinesis.segments JOIN kinesis.streams USING (stream_id)
                   WHERE stream_name = 'victim'});
for my $i (1 .. 8)
{
	sql(q{SET ROLE attacker;
	      SELECT count(*) FROM kinesis.put_records('victim',
	          (SELECT array_agg(('k' || g, 'x', NULL)::kinesis.put_records_entry)
	             FROM generate_series(1, 500) g));});
	sql(q{SET ROLE attacker;
	      SELECT fragment_number FROM kinesis_video.put_media('cam', '\x00', now(), 1000)});
}
ok( kg_wait(
		$node, qq{SELECT count(*) > $before + 2 FROM kinesis.segments JOIN kinesis.streams USING (stream_id)
           WHERE stream_name = 'victim'}),
	'the worker created new segments of the stream');
is(sql(q{SELECT count(*) FROM pg_index i WHERE pg_get_expr(i.indpred, i.indrelid) LIKE '%probe%'}), '0',
	'no segment got an index of the attacker');
my $log = slurp_file($node->logfile, $log_start);
unlike($log, qr/attacker code ran with superuser rights/,
	'the attacker\'s function never ran as a superuser (server log)');

# B. the DML trigger stays on
like(after_caught_error(q{ALTER TABLE kinesis_records.victim DISABLE TRIGGER forbid_direct_dml}),
	qr/AccessDeniedException: cannot alter the record storage of a data stream/,
	'disabling the DML trigger after a caught error is refused');
my ($ret, $out, $err);
($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE attacker; INSERT INTO kinesis_records.victim VALUES (0, 1, now(), 'k', 'forged')});
like($err, qr/records of a data stream cannot be changed with INSERT/, 'a forged record is refused');
is(sql(q{SELECT count(*) FROM kinesis_records.victim WHERE data = 'forged'}), '0', 'no forged record');

$node->stop;
done_testing();
