#!/usr/bin/env bash
# kinesis_glue benchmark, Glue jobs:
#   (a) run start latency: start_job_run to RUNNING (running_on - started_on
#       of JOBS_LATENCY_RUNS runs of a one-statement job, one at a time), and
#       start to SUCCEEDED;
#   (b) a bookmarked stream -> table job over JOBS_RECORDS records against a
#       plain INSERT ... SELECT of the same rows from a table, in the same
#       run (the job's execution time, running_on to completed_on, and the
#       ratio baseline / job: >= 1 means the job is as fast), measured
#       JOBS_PAIRS times, one after the other (each pair from empty tables,
#       after a checkpoint; the job's bookmark reset): the medians, and the
#       median and spread of the per-pair ratios.  One measurement of each
#       (1.5 s) swings by half with the virtual disk's writeback.
#
#   test/bench/glue_jobs.sh        as root (or as the postgres user)
#
# Settings (environment):
#   JOBS_LATENCY_RUNS   runs for (a) (default 50)
#   JOBS_RECORDS        records for (b) (default 200000)
#   JOBS_PAIRS          measurements of each side of (b) (default 5)
#   BENCH_PORT          port of the private server (default 5498; socket only)
#   BENCH_TMPDIR        parent of the temporary directory (default /tmp)
#   BENCH_BINDIR        PostgreSQL binaries (default: pg_config --bindir)
#   BENCH_KEEP=1        keep the cluster (and leave the server running)
# The private server uses the installed kinesis_glue with the default
# kinesis_glue.worker_naptime (1 s); a build with assertions (DEBUG=1) gives
# pessimistic figures.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
RUNS=${JOBS_LATENCY_RUNS:-50}
RECORDS=${JOBS_RECORDS:-200000}
PAIRS=${JOBS_PAIRS:-5}
BINDIR=${BENCH_BINDIR:-}
kg_bench_init glue_jobs

kg_bench_tmpdir kg_jobs
kg_bench_initdb <<CONF
max_worker_processes = 16
shared_buffers = 256MB
CONF
kg_bench_start
q "CREATE EXTENSION kinesis_glue"
ASSERTS=$(q "SHOW debug_assertions")
sleep 2    # the database worker starts

wait_run() {
	until [ "$(q "SELECT state NOT IN ('WAITING', 'STARTING', 'RUNNING', 'STOPPING') FROM glue.job_runs WHERE run_id = $1")" = t ]; do
		sleep 0.005
	done
}

# (a) start latency
q "SELECT glue.create_job('noop', script => 'SELECT 1')" >/dev/null
log "(a) $RUNS runs of a one-statement job, one at a time"
for _ in $(seq "$RUNS"); do
	wait_run "$(q "SELECT glue.start_job_run('noop')")"
done
LAT=$(q "SELECT format('start -> RUNNING: median %s ms, p95 %s ms, max %s ms; start -> SUCCEEDED: median %s ms',
                 round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric, 1),
                 round(percentile_cont(0.95) WITHIN GROUP (ORDER BY s)::numeric, 1), round(max(s)::numeric, 1),
                 round(percentile_cont(0.5) WITHIN GROUP (ORDER BY e)::numeric, 1))
           FROM (SELECT extract(epoch FROM running_on - started_on) * 1000 AS s,
                        extract(epoch FROM completed_on - started_on) * 1000 AS e
                   FROM glue.job_runs r JOIN glue.jobs j USING (job_id) WHERE j.job_name = 'noop') x")
[ "$(q "SELECT count(*) FROM glue.job_runs WHERE state = 'SUCCEEDED'")" = "$RUNS" ] || die "not every run succeeded"

# (b) stream -> table
log "(b) loading $RECORDS records into a 4-shard stream and into a plain table"
q "SELECT kinesis.create_stream('bench', 4)" >/dev/null
q "DO \$\$
   BEGIN
     FOR b IN 0 .. ($RECORDS - 1) / 500 LOOP
       PERFORM kinesis.put_records('bench',
                 ARRAY(SELECT 'k' || g FROM generate_series(b * 500 + 1, least((b + 1) * 500, $RECORDS)) g),
                 ARRAY(SELECT convert_to(format('{\"n\": %s, \"customer\": \"c%s\", \"amount\": %s}', g, g % 97, g % 1000), 'UTF8')
                         FROM generate_series(b * 500 + 1, least((b + 1) * 500, $RECORDS)) g));
     END LOOP;
   END \$\$"
q "CREATE TABLE src_plain (shard_id text, seq bigint, data bytea, PRIMARY KEY (shard_id, seq));
   DO \$\$
   DECLARE s record; after bigint; n bigint;
   BEGIN
     FOR s IN SELECT shard_id FROM kinesis.list_shards('bench') LOOP
       after := NULL;
       LOOP
         INSERT INTO src_plain SELECT r.shard_id, r.sequence_number, r.data
           FROM kinesis.read_shard('bench', s.shard_id, after, 10000) r;
         GET DIAGNOSTICS n = ROW_COUNT;
         EXIT WHEN n = 0;
         SELECT max(seq) INTO after FROM src_plain WHERE shard_id = s.shard_id;
       END LOOP;
     END LOOP;
   END \$\$;
   CREATE TABLE out_plain (seq bigint, n int, customer text, amount numeric);
   CREATE TABLE out_job (seq bigint, n int, customer text, amount numeric)"
q "VACUUM ANALYZE src_plain"
q "CHECKPOINT"
[ "$(q "SELECT count(*) FROM src_plain")" = "$RECORDS" ] || die "the stream does not hold $RECORDS records"

q "CREATE FUNCTION bench_baseline() RETURNS double precision LANGUAGE plpgsql AS \$\$
   DECLARE t0 timestamptz := clock_timestamp();
   BEGIN
     INSERT INTO out_plain SELECT seq, (j ->> 'n')::int, j ->> 'customer', (j ->> 'amount')::numeric
       FROM (SELECT seq, convert_from(data, 'UTF8')::jsonb AS j FROM src_plain) x;
     RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
   END \$\$"
q "SELECT glue.create_job('ingest', script => \$\$
     INSERT INTO out_job SELECT r.sequence_number, (j ->> 'n')::int, j ->> 'customer', (j ->> 'amount')::numeric
       FROM glue.bookmark_records('bench') r, LATERAL (SELECT convert_from(r.data, 'UTF8')::jsonb AS j) x\$\$,
     default_arguments => '{\"--job-bookmark-option\": \"job-bookmark-enable\"}', timeout => '1 hour')" >/dev/null
# pairs: baseline ms, job ms (and the job's start to SUCCEEDED)
: >"$TMP/pairs"
for p in $(seq 1 "$PAIRS"); do
	q "TRUNCATE out_plain"
	q "CHECKPOINT"
	b=$(q "SELECT round(bench_baseline()::numeric, 1)")
	q "TRUNCATE out_job"
	q "SELECT glue.reset_job_bookmark('ingest')" >/dev/null
	q "CHECKPOINT"
	ID=$(q "SELECT glue.start_job_run('ingest')")
	wait_run "$ID"
	[ "$(q "SELECT state FROM glue.job_runs WHERE run_id = $ID")" = SUCCEEDED ] ||
		die "the job failed: $(q "SELECT error_message FROM glue.job_runs WHERE run_id = $ID")"
	[ "$(q "SELECT count(*) = $RECORDS AND count(DISTINCT seq) = $RECORDS FROM out_job")" = t ] ||
		die "the job did not copy every record once"
	echo "$b $(q "SELECT round((extract(epoch FROM completed_on - running_on) * 1000)::numeric, 1),
	                     round((extract(epoch FROM completed_on - started_on) * 1000)::numeric, 1)
	                FROM glue.job_runs WHERE run_id = $ID" | tr '|' ' ')" >>"$TMP/pairs"
	log "pair $p of $PAIRS: baseline $b ms, job $(tail -1 "$TMP/pairs" | cut -d' ' -f2) ms"
done
# median of column $1 of the pairs (or of the ratios: column "r")
median() {
	awk -v c="$1" '{ print (c == "r" ? $1 / $2 : $c) }' "$TMP/pairs" | sort -g |
		awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
BASE_MS=$(median 1)
JOB_MS=$(median 2)
E2E_MS=$(median 3)
RATIO=$(median r)
SPREAD=$(awk '{ print $1 / $2 }' "$TMP/pairs" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }')
# a second run finds nothing new
ID2=$(q "SELECT glue.start_job_run('ingest')")
wait_run "$ID2"
EMPTY_MS=$(q "SELECT round((extract(epoch FROM completed_on - running_on) * 1000)::numeric, 1) FROM glue.job_runs WHERE run_id = $ID2")
[ "$(q "SELECT count(*) FROM out_job")" = "$RECORDS" ] || die "the second run copied records again"

echo "glue jobs benchmark (debug_assertions=$ASSERTS, $(nproc) CPUs)"
echo "  (a) $RUNS runs: $LAT"
echo "  (b) $RECORDS records, stream -> table:"
echo "  (b) medians of $PAIRS measurements of each side, one after the other:"
echo "      plain INSERT ... SELECT from a table:   $BASE_MS ms"
echo "      bookmarked job (execution):            $JOB_MS ms   (start to SUCCEEDED $E2E_MS ms)"
echo "      ratio baseline / job:                  $RATIO (median of the pairs; spread $SPREAD)"
echo "      second run, nothing new:               $EMPTY_MS ms"
