#!/usr/bin/env bash
# kinesis_glue benchmark, retention (DESIGN.md performance bar: "expiring
# 10 million records < 1 s, and the table does not grow in steady state").
#
#   test/bench/retention.sh        as root (or as the postgres user)
#
# (a) Expiry of 10 million records.  A 4-shard stream with segments of
#     RET_SEGMENT_RECORDS sequence numbers is loaded with RET_RECORDS small
#     records (8 bytes of data) by pgbench (2 clients, 20 put_records calls
#     of 500 records per transaction), so they fill a few segments.  The
#     current segment is then closed (segment_interval 1 s), the segments
#     are vacuumed (in production they expire a day after they were
#     written, long after autovacuum has been through them), and the
#     retention clock is moved 25 hours ahead (kinesis_glue.
#     retention_clock_offset, ALTER SYSTEM + pg_reload_conf()).  Measured:
#     the time from the reload to kinesis.segments no longer listing those
#     segments (it includes up to one worker naptime, 100 ms here, before
#     the worker's next round); from the server log (private server only),
#     when the worker's last DROP happened and whether it had to wait for a
#     lock.  Bar: < 1 s.  Then the same again without the VACUUM, right
#     after the load, when autovacuum may be working on the segments: the
#     worker's DROP then waits until deadlock_timeout (1 s) has passed and
#     autovacuum is cancelled, which the report shows (RET_FRESH=0 skips
#     this second run).
# (b) Steady state.  Segments close every second (segment_interval 1 s) and
#     the retention clock runs 24 h - RET_EXPIRE_AFTER s ahead, so records
#     expire RET_EXPIRE_AFTER s after they arrive.  pgbench puts at a fixed
#     rate for RET_STEADY_SECONDS; every RET_SAMPLE seconds the script
#     prints the segments listed, the rows stored and the total size of the
#     stream's relations (plus the database size, which also holds the
#     catalog rows of created and dropped segments).  The stream is "flat"
#     when the mean size over the last third of the run is within 25 % of
#     the mean over the middle third.
#
# Settings (environment):
#   RET_RECORDS          records to expire in (a) (default 10000000)
#   RET_SEGMENT_RECORDS  sequence numbers per segment in (a) (default 4194304)
#   RET_STEADY_SECONDS   length of the steady run (default 60)
#   RET_STEADY_RATE      put_records calls of 500 records per second in (b) (default 20)
#   RET_EXPIRE_AFTER     seconds after which records expire in (b) (default 10)
#   RET_SAMPLE           seconds between samples in (b) (default 5)
#   RET_CASES            "expire steady" (default) or one of them
#   BENCH_PORT           port of the private server (default 5499; socket only)
#   BENCH_TMPDIR         parent of the temporary cluster directory (default /tmp)
#   BENCH_KEEP=1         keep the cluster directory (and leave the server running)
#   RET_PGHOST, RET_PGPORT, RET_PGUSER
#                        use this running server instead of a private one (for
#                        run.sh, at its end: RET_PGHOST=$SOCK RET_PGPORT=$PORT
#                        RET_PGUSER=$DBUSER "$HERE/retention.sh"); the script
#                        works in a database of its own, changes kinesis_glue
#                        settings with ALTER SYSTEM and resets them at exit
#
# The private server uses the installed kinesis_glue (as run.sh does after
# its build and install step); the report says whether that is a build with
# assertions (DEBUG=1), whose figures are not representative.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
RECORDS=${RET_RECORDS:-10000000}
SEGMENT_RECORDS=${RET_SEGMENT_RECORDS:-4194304}
STEADY_SECONDS=${RET_STEADY_SECONDS:-60}
STEADY_RATE=${RET_STEADY_RATE:-20}
EXPIRE_AFTER=${RET_EXPIRE_AFTER:-10}
SAMPLE=${RET_SAMPLE:-5}
CASES=${RET_CASES:-"expire steady"}
PORT=${BENCH_PORT:-5499}
DB=bench_retention
DBUSER=${RET_PGUSER:-}
kg_bench_init retention
RESULTS=$HERE/retention-latest.txt
has_case() { case " $CASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# --- the server --------------------------------------------------------------
kg_bench_tmpdir kg_retention
EXTERNAL=0
if [ -n "${RET_PGHOST:-}" ]; then
	EXTERNAL=1
	KG_BENCH_EXTERNAL=1
	SOCK=$RET_PGHOST
	PORT=${RET_PGPORT:-5432}
	SERVER_LOG=
	PSQL=("$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U "$DBUSER")
fi
export PGOPTIONS='-c client_min_messages=warning'
KG_DB=$DB
qpg() { "${PSQL[@]}" -At -d postgres -c "$1"; }
set_conf() { qpg "ALTER SYSTEM SET $1 = '$2'" >/dev/null; qpg "SELECT pg_reload_conf()" >/dev/null; }

# at exit: stop the load; on a server not ours, undo the settings and drop the database
kg_bench_on_exit() {
	[ -n "${LOAD_PID:-}" ] && kill "$LOAD_PID" 2>/dev/null || true
	if [ $EXTERNAL = 1 ]; then
		for s in worker_naptime segment_interval retention_clock_offset; do
			qpg "ALTER SYSTEM RESET kinesis_glue.$s" >/dev/null 2>&1 || true
		done
		qpg "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
		qpg "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
	fi
}

if [ $EXTERNAL = 0 ]; then
	kg_bench_initdb <<EOF
max_worker_processes = 16
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
log_line_prefix = '%m [%p] %b '
EOF
	kg_bench_start
fi
qpg "DROP DATABASE IF EXISTS $DB" >/dev/null
qpg "CREATE DATABASE $DB" >/dev/null
q "CREATE EXTENSION kinesis_glue" >/dev/null
set_conf kinesis_glue.worker_naptime 100ms
set_conf kinesis_glue.retention_clock_offset 0
ASSERTS=no
if nm -D "$LIBDIR/kinesis_glue.so" 2>/dev/null | grep -q ExceptionalCondition; then ASSERTS=yes; fi
for i in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kinesis_glue worker' AND datname = '$DB'")" = 1 ] && break
	sleep 0.1
done

# Size of a stream's relations: its segments (heap, index, TOAST) and the
# partitioned parent.
size_sql() {
	echo "SELECT coalesce(sum(pg_total_relation_size(g.relation)), 0) + pg_total_relation_size(s.record_table)
	        FROM kinesis.streams s LEFT JOIN kinesis.segments g USING (stream_id)
	       WHERE s.stream_name = '$1' GROUP BY s.record_table"
}
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
now_s() { date +%s.%N; }

REPORT=()
report() { REPORT+=("$*"); }

# --- (a) expiring RECORDS records -------------------------------------------------
# expire_run STREAM VACUUM: load, close, (VACUUM the segments when VACUUM=1),
# move the retention clock and time the expiry; appends to the report
expire_run() {
	local stream=$1 vacuum=$2 tx t0 t1 loaded load_s cur cur_seg segs nsegs size_before logpos gone
	local expire_s size_after left rels worker what
	log "(a) loading $RECORDS records into stream $stream (segments of $SEGMENT_RECORDS)"
	set_conf kinesis_glue.segment_interval 1h
	sleep 0.3
	q "SET kinesis_glue.segment_records = $SEGMENT_RECORDS; SELECT kinesis.create_stream('$stream', 4)" >/dev/null
	cat >"$TMP/load.sql" <<EOF
SELECT count(*) FROM generate_series(1, 20) g,
       LATERAL kinesis.put_records('$stream', ARRAY(SELECT 'k' || :client_id || '-' || g || '-' || i FROM generate_series(1, 500) i),
                                   ARRAY(SELECT '\\x0102030405060708'::bytea FROM generate_series(1, 500) i));
EOF
	chmod a+r "$TMP/load.sql"
	tx=$(((RECORDS + 9999) / 10000))
	t0=$(now_s)
	as_db "$BINDIR/pgbench" -n -M prepared -h "$SOCK" -p "$PORT" -U "$DBUSER" -c 2 -j 2 -t $(((tx + 1) / 2)) \
		-f "$TMP/load.sql" "$DB" >"$TMP/load.log" 2>&1 || { cat "$TMP/load.log" >&2; die "the load failed"; }
	t1=$(now_s)
	loaded=$(q "SELECT count(*) FROM kinesis_records.$stream")
	load_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	log "(a) loaded $loaded records in $load_s s"
	# close the current segment: every segment that holds records is closed
	set_conf kinesis_glue.segment_interval 1s
	cur=$(q "SELECT current_sequence_number >> 16 FROM kinesis.stream_stability WHERE stream_name = '$stream'")
	cur_seg=$((cur / SEGMENT_RECORDS))
	for i in $(seq 1 300); do
		[ "$(q "SELECT count(*) FROM kinesis.segments g JOIN kinesis.streams s USING (stream_id)
		         WHERE s.stream_name = '$stream' AND g.segment_no <= $cur_seg AND g.closed_at IS NULL")" = 0 ] && break
		sleep 0.1
	done
	segs=$(q "SELECT string_agg(g.segment_no::text, ',' ORDER BY g.segment_no) FROM kinesis.segments g JOIN kinesis.streams s USING (stream_id)
	           WHERE s.stream_name = '$stream' AND g.closed_at IS NOT NULL")
	nsegs=$(q "SELECT count(*) FROM kinesis.segments g JOIN kinesis.streams s USING (stream_id)
	            WHERE s.stream_name = '$stream' AND g.closed_at IS NOT NULL")
	size_before=$(q "$(size_sql "$stream")")
	if [ "$vacuum" = 1 ]; then
		log "(a) VACUUM of the segments (autovacuum will have been through them long before they expire)"
		q "VACUUM $(q "SELECT string_agg(g.relation::text, ', ') FROM kinesis.segments g JOIN kinesis.streams s USING (stream_id)
		               WHERE s.stream_name = '$stream' AND g.closed_at IS NOT NULL")" >/dev/null
	fi
	q "CHECKPOINT" >/dev/null
	av=
	if [ "$vacuum" = 0 ]; then
		if [ "$(q "SELECT count(*) FROM pg_stat_progress_vacuum p JOIN kinesis.segments g ON g.relation = p.relid
		            JOIN kinesis.streams s USING (stream_id) WHERE s.stream_name = '$stream'")" != 0 ]; then
			av=", autovacuum running on one of them"
		else
			av=", no autovacuum running on them at the start"
		fi
	fi
	log "(a) $nsegs closed segments ($segs), $(mb "$size_before") MB$av; moving the retention clock 25 h"
	[ $EXTERNAL = 0 ] && set_conf log_min_messages debug1
	logpos=$([ -n "$SERVER_LOG" ] && stat -c %s "$SERVER_LOG" || echo 0)
	t0=$(now_s)
	set_conf kinesis_glue.retention_clock_offset $((25 * 3600))
	gone=0
	for i in $(seq 1 3000); do
		if [ "$(q "SELECT count(*) FROM kinesis.segments g JOIN kinesis.streams s USING (stream_id)
		            WHERE s.stream_name = '$stream' AND g.segment_no IN ($segs)")" = 0 ]; then
			gone=1
			break
		fi
		sleep 0.01
	done
	t1=$(now_s)
	[ $EXTERNAL = 0 ] && set_conf log_min_messages warning
	[ $gone = 1 ] || die "the worker did not drop the segments within 30 s"
	expire_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	size_after=$(q "$(size_sql "$stream")")
	left=$(q "SELECT count(*) FROM kinesis_records.$stream")
	rels=$(q "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	           WHERE n.nspname = 'kinesis_segments'
	             AND c.relname IN (SELECT 's' || s.stream_id || '_' || x FROM kinesis.streams s,
	                                      unnest('{$segs}'::bigint[]) x WHERE s.stream_name = '$stream')")
	# the worker's side, from the server log: the reload, a lock wait on an
	# autovacuum of a segment (cancelled only after deadlock_timeout), and
	# the "expired segment" DEBUG1 line that follows each DROP
	worker=n/a
	if [ -n "$SERVER_LOG" ]; then
		worker=$(tail -c +"$((logpos + 1))" "$SERVER_LOG" | awk -v st="$stream" '
			function ts(   t) { split($2, t, ":"); return t[1] * 3600 + t[2] * 60 + t[3] }
			/parameter "kinesis_glue.retention_clock_offset" changed/ && r == "" { r = ts() }
			/kinesis_glue worker DEBUG:  sending cancel to blocking autovacuum/ && c == "" { c = ts() }
			$0 ~ "expired segment [0-9]+ of stream \"" st "\"" { l = ts(); n++ }
			END {
				if (!n || r == "") { print "n/a"; exit }
				printf "its last DROP %.3f s after the reload", l - r
				if (c != "") printf "; %.3f s of it waiting for an autovacuum of a segment, cancelled after deadlock_timeout", c - r
				else printf "; no lock wait"
			}')
	fi
	log "(a) segments gone $expire_s s after the reload; $left records left, $rels of their relations left, $(mb "$size_after") MB"
	if [ "$vacuum" = 1 ]; then what="after VACUUM of the segments"; else what="right after the load$av"; fi
	report "(a) expire $loaded records, $what: $nsegs segments of $SEGMENT_RECORDS numbers, $(mb "$size_before") MB (loaded in $load_s s)"
	report "    reload -> kinesis.segments no longer lists them: $expire_s s (includes up to one worker naptime of 0.1 s)"
	report "    worker: $worker"
	report "    afterwards: $left records stored, $rels of the segment relations left, stream size $(mb "$size_after") MB"
	report "    bar < 1 s: $(awk -v e="$expire_s" 'BEGIN { print (e < 1.0 ? "PASS" : "BELOW") }')"
	q "SELECT kinesis.delete_stream('$stream')" >/dev/null
	set_conf kinesis_glue.retention_clock_offset 0
}
if has_case expire; then
	expire_run ret_expire 1
	[ "${RET_FRESH:-1}" = 1 ] && expire_run ret_expire_fresh 0
fi

# --- (b) steady state ----------------------------------------------------------
if has_case steady; then
	log "(b) steady state: $STEADY_RATE x 500 records/s for $STEADY_SECONDS s, records expire after $EXPIRE_AFTER s"
	set_conf kinesis_glue.segment_interval 1s
	set_conf kinesis_glue.retention_clock_offset $((24 * 3600 - EXPIRE_AFTER))
	q "SET kinesis_glue.segment_records = 1048576; SELECT kinesis.create_stream('ret_steady', 4)" >/dev/null
	cat >"$TMP/steady.sql" <<'EOF'
SELECT count(*) FROM kinesis.put_records('ret_steady', ARRAY(SELECT 'k' || :client_id || '-' || i || '-' || random() FROM generate_series(1, 500) i),
                                         ARRAY(SELECT '\x0102030405060708'::bytea FROM generate_series(1, 500) i));
EOF
	chmod a+r "$TMP/steady.sql"
	as_db "$BINDIR/pgbench" -n -M prepared -h "$SOCK" -p "$PORT" -U "$DBUSER" -c 2 -j 2 -R "$STEADY_RATE" -T "$STEADY_SECONDS" \
		-f "$TMP/steady.sql" "$DB" >"$TMP/steady.log" 2>&1 &
	LOAD_PID=$!
	T0=$(now_s)
	SAMPLES="$TMP/samples"
	: >"$SAMPLES"
	printf '    %6s %9s %10s %12s %12s\n' "t (s)" "segments" "rows" "stream MB" "database MB" >"$TMP/table"
	while kill -0 "$LOAD_PID" 2>/dev/null; do
		sleep "$SAMPLE"
		kill -0 "$LOAD_PID" 2>/dev/null || break
		T=$(awk -v a="$T0" -v b="$(now_s)" 'BEGIN { printf "%.0f", b - a }')
		read -r NSEG ROWS SIZE DBSIZE <<<"$(q "SELECT (SELECT count(*) FROM kinesis.segments g JOIN kinesis.streams s USING (stream_id)
		                                                WHERE s.stream_name = 'ret_steady'),
		                                               (SELECT count(*) FROM kinesis_records.ret_steady),
		                                               ($(size_sql ret_steady)), pg_database_size(current_database())" | tr '|' ' ')"
		echo "$T $NSEG $ROWS $SIZE $DBSIZE" >>"$SAMPLES"
		printf '    %6s %9s %10s %12s %12s\n' "$T" "$NSEG" "$ROWS" "$(mb "$SIZE")" "$(mb "$DBSIZE")" | tee -a "$TMP/table" >&2
	done
	wait "$LOAD_PID" || { cat "$TMP/steady.log" >&2; die "the steady load failed"; }
	LOAD_PID=
	TPS=$(awk '/^tps = / { print $3; exit }' "$TMP/steady.log")
	VERDICT=$(awk '{ t[NR] = $1; s[NR] = $4 } END {
		n = NR; if (n < 6) { print "n/a (too few samples)"; exit }
		a = int(n / 3); for (i = a + 1; i <= 2 * a; i++) { m += s[i]; mc++ } for (i = 2 * a + 1; i <= n; i++) { l += s[i]; lc++ }
		m /= mc; l /= lc; r = (m > 0 ? l / m : 0)
		printf "mean stream size %.1f MB (middle third) -> %.1f MB (last third), ratio %.2f: %s", m / 1048576, l / 1048576, r, (r <= 1.25 ? "FLAT" : "GROWING") }' "$SAMPLES")
	report "(b) steady state: pgbench -R $STEADY_RATE x 500 records ($TPS calls/s achieved) for $STEADY_SECONDS s;"
	report "    segments close every 1 s, records expire $EXPIRE_AFTER s after arrival:"
	while IFS= read -r line; do report "$line"; done <"$TMP/table"
	report "    $VERDICT"
	q "SELECT kinesis.delete_stream('ret_steady')" >/dev/null
	set_conf kinesis_glue.retention_clock_offset 0
fi

# --- report -------------------------------------------------------------------
{
	echo "kinesis_glue retention benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "$("$BINDIR/postgres" --version), $(nproc) CPUs; $([ $EXTERNAL = 1 ] && echo "server at $SOCK:$PORT" || echo "private server");" \
		"installed kinesis_glue.so built with assertions: $ASSERTS$([ $ASSERTS = yes ] && echo ' (figures not representative)')"
	echo "load average before the report: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	for line in "${REPORT[@]}"; do echo "$line"; done
} | tee "$RESULTS"
log "results written to $RESULTS"
