#!/usr/bin/env bash
# kinesis_glue benchmark: the "Performance bars" of DESIGN.md, each measured
# against its baseline in the same run, on the same private server.
#
#   test/bench/run.sh                 as root (or as the postgres user)
#
# What it does:
#   1. builds an optimised copy of the extension in test/bench/tmp/build
#      (sources copied from the work tree; a DEBUG=1 build of the work tree
#      itself is left alone) and, as root, installs it (make install) when
#      the installed files differ, right before its server starts;
#   2. starts its own cluster in a temporary directory (initdb, unix socket
#      only, no TCP), shared_preload_libraries = 'kinesis_glue';
#   3. runs pgbench (-n -M prepared) for every case, kinesis side and
#      baseline side, with a CHECKPOINT before each run;
#   4. prints a table of ops/s, records/s, ratios and PASS/BELOW against the
#      bars, and writes it to test/bench/results-latest.txt, the figures to
#      results-latest.csv and, with gnuplot, a chart to results-latest.png
#      (none committed; test/bench/results.png is a copy for the README).
#
# A full run takes about 9 minutes (11 pairs of 15 s runs, 3 rounds), more
# when it waits for other load on the machine: the ratios compare runs made
# at different moments, so other work on the machine skews them; the report
# says how busy the machine was.
#
# Settings (environment):
#   BENCH_DURATION   seconds per pgbench run (default 15)
#   BENCH_RETENTION  1 (default) also runs retention.sh on the same server; 0 skips it
#   BENCH_FIREHOSE   1 runs firehose.sh (Firehose delivery: stream -> table
#                    against INSERT ... SELECT, stream -> files) on the same
#                    server, 0 skips it; default 1 unless BENCH_CASES is set
#                    and names no "firehose" (its own settings: FH_RECORDS,
#                    FH_ROUNDS, see firehose.sh)
#   BENCH_ROUNDS     runs per side and case (default 3; 1 for a quick look of
#                    about 3 minutes); rounds alternate which side runs first;
#                    per side the median ops/s counts, and the ratio is the
#                    median of the per-round ratios
#   BENCH_PORT       port number of the private server (default 5498; it only
#                    names the socket file, the server does not listen on TCP)
#   BENCH_TMPDIR     parent of the temporary cluster directory (default /tmp)
#   BENCH_QUIET_WAIT seconds to wait, before each run, for other load on the
#                    machine to stop (default 60; 0: do not wait)
#   BENCH_KEEP=1     keep the cluster directory (and leave the server running)
#   BENCH_SOURCE     what to build: "worktree" (default: the work tree as it
#                    is, uncommitted changes included) or a git commit (HEAD, a
#                    branch, a hash), built in test/bench/tmp/build-<hash>
#   BENCH_NO_BUILD=1 skip the build: use the installed extension as it is, or,
#                    with BENCH_BUILD_DIR, install the build found there (for
#                    A/B runs of an experimental build)
#   BENCH_BUILD_DIR  build directory (default test/bench/tmp/build[-<hash>])
#   BENCH_CASES      cases to run, a subset of "put_records put_records2 get read
#                    put_record jobs video pgq" (default: all); "jobs" runs
#                    glue_jobs.sh and "video" video.sh (each on a cluster of
#                    its own on port BENCH_PORT + 1, ROUNDS times, their
#                    figures joining the table: rows 5-7); "pgq" (the peer queue
#                    PgQ: insert_event, next_batch + get_batch_events) runs
#                    only when PgQ is installed (Debian postgresql-15-pgq3)
#                    and is skipped with a message otherwise; "consume" and "firehose" select
#                    consume.sh and firehose.sh, which run when it is unset;
#                    e.g. BENCH_CASES=firehose BENCH_RETENTION=0 runs only firehose.sh
#
# Durability settings are the defaults (fsync, synchronous_commit and
# full_page_writes on) and the same for both sides, since they share the
# server.  Only sizes that keep short runs from being skewed are raised:
# shared_buffers = 1GB, max_wal_size = 4GB, checkpoint_timeout = 30min.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
kg_bench_init bench
DURATION=${BENCH_DURATION:-15}
ROUNDS=${BENCH_ROUNDS:-3}
CASES=${BENCH_CASES:-"put_records put_records2 get read put_record jobs video"}
RESULTS=$HERE/results-latest.txt
[ -w "$HERE" ] || RESULTS=${BENCH_TMPDIR:-/tmp}/kg_bench-results-latest.txt

# --- 1. build (installed right before the server starts) -------------------
kg_bench_build

# --- 2. private cluster ---------------------------------------------------
kg_bench_tmpdir kg_bench
PGB_LOG=$TMP/pgbench
KG_DB=bench
kg_bench_initdb <<EOF
max_worker_processes = 16
shared_buffers = 1GB
max_wal_size = 4GB
checkpoint_timeout = 30min
max_connections = 20
# prefetched iterators must outlive every run of the get case
kinesis_glue.iterator_ttl = '24h'
EOF
kg_bench_start_build

"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench" >/dev/null
log "setting up streams, baselines and input data"
"${PSQL[@]}" -d bench -f "$HERE/setup.sql" >/dev/null

# the preloaded get records become readable once their transactions are
# stable; then copy exactly those rows into the baseline table
for i in $(seq 1 300); do
	n=$(q "SELECT cardinality((kinesis.get_records(kinesis.get_shard_iterator('bench_get', 'shardId-000000000000', 'TRIM_HORIZON'), 10000)).records)")
	[ "$n" = 10000 ] && break
	sleep 0.1
done
[ "$n" = 10000 ] || die "get_records returned $n records, not 10000, after the preload"
GET_TABLE=$(q "SELECT record_table FROM kinesis.streams WHERE stream_name = 'bench_get'")
q "INSERT INTO baseline_get SELECT shard_index, sequence_number, approximate_arrival_timestamp, partition_key, data
     FROM $GET_TABLE ORDER BY shard_index, sequence_number" >/dev/null
AFTER=$(q "SELECT min(sequence_number) - 1 FROM baseline_get")
q "VACUUM ANALYZE $GET_TABLE" >/dev/null
q "VACUUM ANALYZE baseline_get" >/dev/null
q "VACUUM ANALYZE bench_input" >/dev/null
check=$(q "SELECT count(*) FROM (SELECT * FROM baseline_get WHERE shard_index = 0 AND sequence_number > $AFTER
                                  ORDER BY shard_index, sequence_number LIMIT 10000) s")
[ "$check" = 10000 ] || die "baseline_get holds $check rows after $AFTER, not 10000"

# PgQ (Debian postgresql-15-pgq3), the peer queue, when installed: a queue
# for insert_event and a queue holding one batch of the same 10,000 records
RUN_PGQ=0
if [ -z "${BENCH_CASES:-}" ] || case " $CASES " in *" pgq "*) true ;; *) false ;; esac; then
	if [ -e "$EXTDIR/pgq.control" ]; then
		RUN_PGQ=1
		q "CREATE EXTENSION pgq" >/dev/null
		q "SELECT pgq.create_queue('bench_q')" >/dev/null
		q "SELECT pgq.create_queue('bench_qr')" >/dev/null
		q "SELECT pgq.register_consumer('bench_qr', 'bench')" >/dev/null
		q "SELECT count(pgq.insert_event('bench_qr', partition_key, encode(data, 'hex')))
		     FROM (SELECT * FROM baseline_get WHERE shard_index = 0 AND sequence_number > $AFTER
		            ORDER BY shard_index, sequence_number LIMIT 10000) s" >/dev/null
		q "SELECT pgq.force_tick('bench_qr')" >/dev/null
		q "SELECT pgq.ticker()" >/dev/null
		check=$(q "SELECT count(*) FROM pgq.get_batch_events(pgq.next_batch('bench_qr', 'bench'))")
		[ "$check" = 10000 ] || die "the PgQ batch holds $check events, not 10000"
	else
		log "PgQ is not installed ($EXTDIR/pgq.control is missing; Debian: postgresql-15-pgq3): skipping the PgQ cases"
	fi
fi

# --- 3. measurements ------------------------------------------------------
mkdir -p "$PGB_LOG"; : >"$PGB_LOG/busy"
# Other load on the machine skews a run (and so a ratio): lib.sh's
# busy_sampler counts it while pgbench runs, and wait_quiet waits for it to
# stop before each run (up to BENCH_QUIET_WAIT seconds, default 60).

# pgbench_tps CLIENTS SCRIPT [pgbench args...] -> prints tps; appends the
# other load seen during the run to $PGB_LOG/busy
pgbench_tps() {
	local clients=$1 script=$2 out pid rc=0 busy
	shift 2
	out=$(mktemp -p "$PGB_LOG" "$(date +%H%M%S)-$(basename "$script" .sql)-c$clients.XXXX")
	q "CHECKPOINT" >/dev/null
	wait_quiet
	"$BINDIR/pgbench" -n -M prepared -c "$clients" -j "$clients" -T "$DURATION" \
		-h "$SOCK" -p "$PORT" -U "$DBUSER" "$@" -f "$HERE/$script" bench >"$out" 2>&1 &
	pid=$!
	busy=$(busy_sampler "$pid")
	wait "$pid" || rc=$?
	echo "$busy" >>"$PGB_LOG/busy"
	if [ $rc != 0 ]; then
		cat "$out" >&2
		die "pgbench failed: $script with $clients client(s)"
	fi
	if grep -q "number of failed transactions: [1-9]" "$out"; then
		cat "$out" >&2
		die "pgbench saw failed transactions: $script"
	fi
	awk '/^tps = / { print $3; exit }' "$out"
}


# measure NAME CLIENTS KSCRIPT BSCRIPT [KARGS] [BARGS]
# Rounds alternate which side runs first.  Per side the median ops/s; the
# ratio is the median of the per-round ratios (each pairs two adjacent runs).
declare -A TPS_K TPS_B RATIO SPREAD
measure() {
	local name=$1 clients=$2 ks=$3 bs=$4 kargs=${5:-} bargs=${6:-} r k b figs=""
	for r in $(seq 1 "$ROUNDS"); do
		if [ $((r % 2)) = 1 ]; then
			k=$(pgbench_tps "$clients" "$ks" $kargs); b=$(pgbench_tps "$clients" "$bs" $bargs)
		else
			b=$(pgbench_tps "$clients" "$bs" $bargs); k=$(pgbench_tps "$clients" "$ks" $kargs)
		fi
		log "$name round $r: kinesis $k tps, baseline $b tps (other load: $(tail -n 2 "$PGB_LOG/busy" | paste -sd' ') runnable)"
		figs="$figs $k $b"
	done
	record_case "$name" "$figs"
}

# record_case NAME "K1 B1 K2 B2 ..." (ops/s of both sides, round by round):
# per side the median, the ratio (median of the per-round ratios) and its
# spread, into TPS_K / TPS_B / RATIO / SPREAD
record_case() {
	local name=$1 kl="" bl="" rl="" k b
	set -- $2
	while [ $# -ge 2 ]; do
		k=$1 b=$2; shift 2
		kl="$kl $k"; bl="$bl $b"; rl="$rl $(awk -v k="$k" -v b="$b" 'BEGIN { printf "%.6f", (b > 0 ? k / b : 0) }')"
	done
	TPS_K[$name]=$(echo "$kl" | median)
	TPS_B[$name]=$(echo "$bl" | median)
	RATIO[$name]=$(echo "$rl" | median)
	SPREAD[$name]=$(spread "$rl")
}

# spread "R1 R2 ..." -> "min-max" of the per-round ratios
spread() { echo "$1" | tr ' ' '\n' | awk 'NF { if (n++ == 0 || $1 < lo) lo = $1; if ($1 > hi) hi = $1 } END { if (n) printf "%.2f-%.2f", lo, hi }'; }
has_case() { case " $CASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

log "each run: pgbench -n -M prepared -T $DURATION; $ROUNDS round(s) per case"
if has_case put_records; then
	log "case 1: put_records, 500 x 100 B per call, 1 client"
	measure put_records 1 put_records_kinesis.sql put_records_baseline.sql
fi
if has_case put_records2; then
	log "case 2: put_records, 500 x 100 B per call, 2 clients"
	measure put_records2 2 put_records_kinesis.sql put_records_baseline.sql
fi
if has_case get; then
	ITER=$(q "SELECT kinesis.get_shard_iterator('bench_get', 'shardId-000000000000', 'TRIM_HORIZON')")
	log "case 3: get_records, 10,000 records per call, 1 client"
	measure get 1 get_records_kinesis.sql get_records_baseline.sql "" "-D after=$AFTER"
	measure get_iter 1 get_records_kinesis_iter.sql get_records_baseline.sql "-D it=$ITER" "-D after=$AFTER"
	TPS_B[get_lite]=$( (for r in $(seq 1 "$ROUNDS"); do pgbench_tps 1 get_records_baseline_lite.sql -D after="$AFTER"; done) | median)
fi
if has_case read; then
	ITER=$(q "SELECT kinesis.get_shard_iterator('bench_get', 'shardId-000000000000', 'TRIM_HORIZON')")
	log "case 3c/3d/3e: get_records unnested, read_shard and get_records_rows, 10,000 records to the client, 1 client"
	measure get_unnest 1 get_records_unnest_kinesis.sql read_scan_baseline.sql "-D it=$ITER" "-D after=$AFTER"
	measure read_shard 1 read_shard_kinesis.sql read_scan_baseline.sql "" "-D after=$AFTER"
	measure get_rows 1 get_records_rows_kinesis.sql read_scan_baseline.sql "-D it=$ITER" "-D after=$AFTER"
fi
if [ $RUN_PGQ = 1 ]; then
	# each PgQ run pairs with a kinesis run of the same shape (ratio: ours / PgQ)
	ITER=$(q "SELECT kinesis.get_shard_iterator('bench_get', 'shardId-000000000000', 'TRIM_HORIZON')")
	log "PgQ: insert_event of 500 records per transaction against put_records, 1 client"
	measure pgq_insert 1 put_records_kinesis.sql pgq_insert_event.sql
	log "PgQ: next_batch + get_batch_events of 10,000 events against get_records unnested, 1 client"
	measure pgq_read 1 get_records_unnest_kinesis.sql pgq_get_batch.sql "-D it=$ITER"
fi
if has_case put_record; then
	log "case 4: put_record, one record per transaction, 1 client"
	measure put_record 1 put_record_kinesis.sql put_record_baseline.sql
fi

# The rows of the table that need a cluster of their own (issue 19): the
# bookmarked Glue job (glue_jobs.sh: a job run over 200,000 records against
# INSERT ... SELECT of the same rows) and video (video.sh: put_media of 1 MB
# fragments against an INSERT of the same bytes, get_clip of a 1-minute clip
# against string_agg of the same rows), each run ROUNDS times on the next
# port, with the same installed build; their figures join TPS_K / TPS_B /
# RATIO (record_case).  get_clip's bar (at most 1.5 times string_agg's time)
# is printed as the ratio string_agg time / get_clip time >= 0.67.
# extra_round SCRIPT -> the script's report (stdout); its log goes to $PGB_LOG
extra_round() {
	local out pid rc=0
	out=$(mktemp -p "$PGB_LOG" "$(date +%H%M%S)-$(basename "$1" .sh).XXXX")
	wait_quiet
	BENCH_PORT=$((PORT + 1)) PG_CONFIG=$PG_CONFIG BENCH_BINDIR=$BINDIR PG_BINDIR=$BINDIR BENCH_KEEP=0 \
		JOBS_LATENCY_RUNS=${JOBS_LATENCY_RUNS:-20} "$HERE/$1" >"$out" 2>"$out.log" &
	pid=$!
	# (busy_sampler cannot tell the script's own server from other load:
	# the log gives the load average instead)
	wait "$pid" || rc=$?
	log "$1 done, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	[ $rc = 0 ] || { tail -n 20 "$out.log" >&2; die "$1 failed"; }
	cat "$out"
}
if has_case jobs; then
	log "case 5: bookmarked Glue job stream -> table (glue_jobs.sh), $ROUNDS round(s)"
	figs=""
	for r in $(seq 1 "$ROUNDS"); do
		rep=$(extra_round glue_jobs.sh)
		# records/s of the job's execution and of the baseline
		figs="$figs $(echo "$rep" | awk '
			/records, stream -> table/ { n = $2 }
			/plain INSERT ... SELECT from a table:/ { b = $(NF - 1) }
			/bookmarked job \(execution\):/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "ms") { j = $i; break } }
			END { if (n && b && j) printf "%.1f %.1f", n * 1000 / j, n * 1000 / b }')"
		log "glue job round $r: $(echo "$rep" | grep -E 'ratio baseline' | tr -s ' ')"
	done
	record_case job "$figs"
fi
if has_case video; then
	log "cases 6/7: put_media and get_clip (video.sh), $ROUNDS round(s)"
	pfigs="" cfigs=""
	for r in $(seq 1 "$ROUNDS"); do
		rep=$(extra_round video.sh)
		# video.sh's ROW lines: put_media and INSERT in MB/s (= 1 MB
		# fragments/s); clips/s from the mean latencies of get_clip and string_agg
		pfigs="$pfigs $(echo "$rep" | sed -n 's|^ROW put_media .*MB/s \([0-9.]*\) / \([0-9.]*\);.*|\1 \2|p')"
		cfigs="$cfigs $(echo "$rep" | sed -n 's|^ROW get_clip .*ms \([0-9.]*\) / \([0-9.]*\);.*|\1 \2|p' |
			awk '{ printf "%.3f %.3f", 1000 / $1, 1000 / $2 }')"
		log "video round $r: $(echo "$rep" | grep -E '^ROW' | tr -s ' ' | paste -sd';')"
	done
	record_case put_media "$pfigs"
	record_case get_clip "$cfigs"
fi

# draw_chart: records/s per path, kinesis_glue against its baseline (plain
# SQL or PgQ), log scale, into results-latest.png; needs gnuplot (Debian
# gnuplot-nox), skipped without it.  The README shows test/bench/results.png
# (a copy of a run's chart).
draw_chart() {
	local png=${RESULTS%.txt}.png cpu load
	command -v gnuplot >/dev/null || { log "gnuplot is missing (Debian: gnuplot-nox): no chart"; return 0; }
	[ "$(wc -l <"$CSV")" -gt 1 ] || return 0
	cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo | tr -d "'\"")
	load=$(awk '{ s += $1 } END { printf "other load during the runs: mean %.2f runnable processes", NR ? s / NR : 0 }' "$PGB_LOG/busy")
	gnuplot <<-EOF || log "gnuplot failed: no chart"
		set terminal pngcairo size 1100,560 font ",10" noenhanced
		set output '$png'
		set datafile separator ','
		set title "kinesis_glue against its baseline, records/s (log scale), $(date -u '+%Y-%m-%d'), $(nproc) CPUs ($cpu)\nmedian of $ROUNDS round(s) of $DURATION s; the ratio above each pair; $load"
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.8 border -1
		set logscale y
		set yrange [10:*]
		set ylabel 'records/s'
		set xtics rotate by -20 left
		set key top right
		set bmargin 5
		set rmargin 6
		plot '$CSV' every ::1 using 3:xtic(1) title 'kinesis_glue' lc rgb '#1f77b4', \\
		     '' every ::1 using 4 title 'baseline: plain SQL (pgq_*: PgQ)' lc rgb '#aaaaaa', \\
		     '' every ::1 using 0:(\$3 * 1.6):(sprintf('%.2f', \$6)) with labels notitle
	EOF
	[ -e "$png" ] && log "chart written to $png"
}

# --- 4. report ------------------------------------------------------------
# row NAME LABEL RECORDS_PER_OP BAR
# Each row also goes to $CSV (case, label, records/s of both sides, the
# baseline's kind, ratio, bar) for the chart.
CSV=${RESULTS%.txt}.csv
echo "case,label,kinesis_records_per_s,baseline_records_per_s,baseline,ratio,bar" >"$CSV"
row() {
	local name=$1 label=$2 per=$3 bar=$4 kind=${5:-plain SQL}
	[ -n "${TPS_K[$name]:-}" ] || return 0
	awk -v l="$label" -v k="${TPS_K[$name]}" -v b="${TPS_B[$name]}" -v r="${RATIO[$name]}" -v per="$per" -v bar="$bar" -v sp="${SPREAD[$name]:-}" 'BEGIN {
		printf "%-44s %10.1f %12.0f %10.1f %12.0f %7.3f %11s %6s  %s\n", l, k, k * per, b, b * per, r, sp, (bar == "" ? "" : ">=" bar), (bar == "" ? "(peer)" : r >= bar ? "PASS" : "BELOW")
	}'
	awk -v n="$name" -v l="$label" -v k="${TPS_K[$name]}" -v b="${TPS_B[$name]}" -v r="${RATIO[$name]}" -v per="$per" -v bar="$bar" -v kind="$kind" 'BEGIN {
		gsub(/,/, ";", l); printf "%s,%s,%.0f,%.0f,%s,%.3f,%s\n", n, l, k * per, b * per, kind, r, bar
	}' >>"$CSV"
}
{
	echo "kinesis_glue benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	if [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
		printf 'the build in %s, ' "$([ $USE_BUILD = 1 ] && echo "$BUILD" || echo "$LIBDIR (installed)")"
	elif [ "$SOURCE" = worktree ]; then
		printf 'built from the work tree at commit %s%s, ' "$("${GIT[@]}" rev-parse --short HEAD 2>/dev/null || echo '?')" \
			"$("${GIT[@]}" diff --quiet HEAD -- src Makefile 2>/dev/null || echo ' with uncommitted changes in src')"
	else
		printf 'built from commit %s (%s), ' "${SOURCE_SHA:0:12}" "$SOURCE"
	fi
	echo "$("$BINDIR/postgres" --version), $(nproc) CPUs"
	[ $INSTALLED_DIFFERS = 0 ] || echo "WARNING: measured the installed kinesis_glue, which differs from the build of the sources (run as root to install it)"
	echo "pgbench -n -M prepared -T $DURATION, $ROUNDS round(s) per side (median ops/s; ratio = median of per-round ratios); fsync/synchronous_commit on;"\
		"shared_buffers 1GB, max_wal_size 4GB, checkpoint_timeout 30min; CHECKPOINT before each run"
	echo
	printf "%-44s %10s %12s %10s %12s %7s %11s %6s  %s\n" "case" "kin ops/s" "kin rec/s" "base ops/s" "base rec/s" "ratio" "spread" "bar" "verdict"
	printf '%.0s-' $(seq 1 130); echo
	row put_records "1. put_records 500x100B, 1 client" 500 1.0
	row put_records2 "2. put_records 500x100B, 2 clients" 500 1.2
	row get "3. get_records 10,000 (with get_shard_iterator)" 10000 0.8
	row get_iter "3b. get_records 10,000 (prefetched iterator)" 10000 0.8
	row get_unnest "3c. get_records 10,000 unnested to the client" 10000 0.8
	row read_shard "3d. read_shard 10,000 to the client" 10000 0.9
	row get_rows "3e. get_records_rows 10,000 to the client" 10000 0.8
	row put_record "4. put_record, 1 record/txn, 1 client" 1 1.0
	row job "5. bookmarked Glue job stream -> table" 1 0.9
	row put_media "6. put_media 1 MB fragments (ops = MB)" 1 0.9
	row get_clip "7. get_clip 1 min 30 x 1 MB (bar: <=1.5x)" 1 0.67
	row pgq_insert "P1. put_records 500 against PgQ insert_event" 500 "" PgQ
	row pgq_read "P2. get_records unnested against PgQ batch" 10000 "" PgQ
	if [ -n "${TPS_B[get_lite]:-}" ]; then
		echo
		awk -v b="${TPS_B[get_lite]}" -v k="${TPS_K[get]}" -v ki="${TPS_K[get_iter]}" 'BEGIN {
			printf "info: lighter get baseline (same scan, aggregates only, no composite rows): %.1f ops/s = %.0f rec/s;\n", b, b * 10000
			printf "      kinesis / lighter baseline: %.3f (with get_shard_iterator), %.3f (prefetched iterator)\n", k / b, ki / b
		}'
	fi
	echo
	awk '{ s += $1; if ($1 > m) m = $1 } END { printf "other load on the machine during the pgbench runs: mean %.2f, max %.2f runnable processes (%s)\n", NR ? s / NR : 0, m, (m > 0.3 ? "WARNING: the machine was busy; figures and ratios are unreliable, run again on a quiet machine" : "quiet") }' "$PGB_LOG/busy"
	echo "baselines: 1/2 INSERT INTO baseline SELECT of the same 500 rows (unnest of the same arrays, nextval, PRIMARY KEY);"
	echo "           3 index range scan of the same 10,000 rows returned as array_agg of whole rows;"
	echo "           3c/3d/3e the same index range scan, every column of the 10,000 rows returned to the client;"
	echo "           4 one-row INSERT (nextval) per transaction.  Streams 'bench' and 'bench1' have 4 shards;"
	echo "           5 INSERT ... SELECT of the same ${JOBS_RECORDS:-200000} records from a table (glue_jobs.sh, rec/s = records / execution time);"
	echo "           6 INSERT of the same 1 MB bytea (video.sh); 7 string_agg of the same 30 fragments (ops = clips/s)."
	echo "ratio: median of the per-round ratios; spread: their min-max over the rounds."
	[ $RUN_PGQ = 0 ] || echo "peers: P1 PgQ insert_event of the same 500 records per transaction; P2 PgQ next_batch + get_batch_events of the same 10,000 records (ratio: ours / PgQ)"
} | tee "$RESULTS"
draw_chart
log "results written to $RESULTS and $CSV; pgbench logs in $PGB_LOG$([ "${BENCH_KEEP:-0}" = 1 ] || echo ' (removed at exit)')"
. "$HERE/consume.sh"  # consumers: consume throughput and waiting-consume latency (appends to the report)
. "$HERE/firehose.sh" # Firehose: stream -> table vs INSERT ... SELECT, stream -> files (BENCH_FIREHOSE=0 skips it)
# retention: expiring 10 million records, and size in steady state (BENCH_RETENTION=0 skips it)
if [ "${BENCH_RETENTION:-1}" = 1 ]; then
	RET_PGHOST=$SOCK RET_PGPORT=$PORT RET_PGUSER=$DBUSER "$HERE/retention.sh"
fi
