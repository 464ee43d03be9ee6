#!/usr/bin/env bash
# kinesis_glue benchmark: event source mapping latency, from a put's commit
# to the call of the mapping's function with that record.
#
#   test/bench/mapping_latency.sh                     the work tree
#   BENCH_SOURCE=6194b42 test/bench/mapping_latency.sh  a commit (0.1.0)
#
# One producer puts BENCH_RATE records a second (pgbench -R, one record and
# one transaction each) for BENCH_SECONDS to a stream of one shard, noting
# each record's key in a table in the same transaction; the mapping's
# function stamps clock_timestamp() for each record it is called with.  The
# report gives the percentiles of (call - commit) in milliseconds over all
# records, the commit time being the transaction's commit timestamp
# (track_commit_timestamp), and how many records were called exactly once.
#
# Settings (environment): BENCH_SECONDS (default 20), BENCH_RATE (default
# 50), BENCH_SOURCE / BENCH_BUILD_DIR / BENCH_NO_BUILD (what to measure; see
# run.sh), BENCH_PORT, BENCH_TMPDIR, BENCH_KEEP (see lib.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
kg_bench_init mapping_latency
SECONDS_RUN=${BENCH_SECONDS:-20}
RATE=${BENCH_RATE:-50}

kg_bench_build
kg_bench_tmpdir kg_mapping_latency
kg_bench_initdb <<EOF
shared_buffers = 256MB
max_worker_processes = 16
track_commit_timestamp = on
EOF
kg_bench_start_build

q "CREATE EXTENSION kinesis_glue" >/dev/null
"${PSQL[@]}" -d "$KG_DB" >/dev/null <<'EOF'
CREATE TABLE committed (pk text PRIMARY KEY);
CREATE TABLE called (pk text NOT NULL, at timestamptz NOT NULL);
CREATE FUNCTION on_latency(recs kinesis.record[]) RETURNS void LANGUAGE sql AS
$$ INSERT INTO called SELECT r.partition_key, clock_timestamp() FROM unnest(recs) r $$;
SELECT kinesis.create_stream('latency', 1);
SELECT kinesis.create_event_source_mapping('latency', 'on_latency', batch_size => 100,
                                           starting_position => 'TRIM_HORIZON');
SELECT kinesis.put_record('latency', 'warm-up', 'x');
EOF
for _ in $(seq 1 300); do
	[ "$(q "SELECT count(*) FROM called WHERE pk = 'warm-up'")" = 1 ] && break
	sleep 0.1
done
[ "$(q "SELECT count(*) FROM called WHERE pk = 'warm-up'")" = 1 ] || die "the mapping did not call its function within 30 s"

cat >"$TMP/put.sql" <<'EOF'
\set k random(1, 1000000000000)
BEGIN;
SELECT kinesis.put_record('latency', :k::text, 'x');
INSERT INTO committed VALUES (:k::text);
END;
EOF
chmod a+r "$TMP/put.sql"
log "putting $RATE records a second for $SECONDS_RUN s"
as_db "$BINDIR/pgbench" -n -h "$SOCK" -p "$PORT" -U "$DBUSER" -c 1 -R "$RATE" -T "$SECONDS_RUN" \
	-f "$TMP/put.sql" "$KG_DB" >"$TMP/pgbench.log" 2>&1 || { cat "$TMP/pgbench.log" >&2; die "pgbench failed"; }
for _ in $(seq 1 300); do
	[ "$(q "SELECT count(*) FROM committed m WHERE NOT EXISTS (SELECT FROM called c WHERE c.pk = m.pk)")" = 0 ] && break
	sleep 0.1
done

version=$(q "SELECT extversion FROM pg_extension WHERE extname = 'kinesis_glue'")
q "SELECT format('mapping latency, kinesis_glue %s (%s), %s records at %s/s: commit -> call p50 %s ms, p90 %s ms, p99 %s ms, max %s ms; called once %s, never %s, more than once %s',
	'$version', '${SOURCE:-worktree}', count(*), $RATE,
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	round(max(ms)::numeric, 1),
	count(*) FILTER (WHERE calls = 1), count(*) FILTER (WHERE calls = 0), count(*) FILTER (WHERE calls > 1))
   FROM (SELECT m.pk, count(c.pk) AS calls,
                extract(epoch FROM min(c.at) - pg_xact_commit_timestamp(m.xmin)) * 1000 AS ms
           FROM committed m LEFT JOIN called c USING (pk) GROUP BY m.pk, m.xmin) x"
