#!/usr/bin/env bash
# kinesis_glue benchmark, Video Streams (issue 9, issue 19 item 4), on a
# private cluster:
#
#   test/bench/video.sh          as root (runs the server as postgres) or as postgres
#
# (a) Ingest: VIDEO_FRAGMENTS fragments of 1 MB (random bytes, like
#     compressed video) per run with kinesis_video.put_media, one fragment
#     per transaction, 1 client (KVS allows one PutMedia connection per
#     stream), against a plain INSERT of the same bytes into a table
#     (id bigserial, ts timestamptz, media bytea), and, once, against
#     storing them as a large object (lo_from_bytea).
# (b) get_clip of a 1-minute clip: 30 fragments of 1 MB, 2 s each, against
#     string_agg over the same 30 x 1 MB of the plain table.
#
# A fair baseline (issue 19 asked which of two figures was right: this
# script said 0.45-0.6 of an INSERT, a side-by-side run 0.92-1.16; see
# test/bench/PROFILE.md, "Video"):
#   - the same storage: the plain table's media column is STORAGE EXTERNAL,
#     as a stream's fragment tables are (out of line, no pglz attempt; the
#     default EXTENDED tries pglz on every 1 MB first);
#   - the same bytes, reaching the server the same way: both sides read
#     column m of table src (1 MB of random bytes, stored out of line), so
#     both get a TOAST pointer and copy the value once, into their own
#     TOAST table; neither reads a file or gets a parameter;
#   - the same server state: VIDEO_ROUNDS rounds, each side after a
#     CHECKPOINT, the order alternating, medians compared (the old script
#     ran INSERT first on an empty cluster and put_media after 200 MB of
#     dirty buffers and new WAL segments, which alone cost it 20-40 %).
# Besides pgbench's throughput, each round measures the backend's CPU time
# per call (the scheduler's run time of a psql session's backend over
# VIDEO_CPU_CALLS calls), which other load on a shared machine skews less.
#
# Prints the figures and two lines for run.sh to collect:
#   ROW put_media <ratio> bar >= 0.9 PASS|BELOW ...  (throughput put_media / INSERT)
#   ROW get_clip <ratio> bar <= 1.5 PASS|ABOVE ...   (latency get_clip / string_agg)
# each ratio the median of the per-round ratios, the CPU ratio beside it.
#
# Settings (environment): VIDEO_FRAGMENTS (default 100), VIDEO_ROUNDS
# (default 3), VIDEO_CLIP_RUNS (get_clip calls per round, default 20),
# VIDEO_CPU_CALLS (default 64: four WAL segments of puts, whose creation
# is a large part of a put's CPU time), BENCH_PORT (default 5498), BENCH_TMPDIR
# (default /tmp), BENCH_KEEP=1 (keep the cluster and leave it running),
# PG_BINDIR (default: pg_config --bindir; the kinesis_glue library must be
# installed for those binaries).  Timings of a DEBUG=1 build (assertions,
# -O0) are not representative; the report says which build ran.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
FRAGMENTS=${VIDEO_FRAGMENTS:-100}
ROUNDS=${VIDEO_ROUNDS:-3}
CLIP_RUNS=${VIDEO_CLIP_RUNS:-20}
CPU_CALLS=${VIDEO_CPU_CALLS:-64}
BINDIR=${PG_BINDIR:-}
kg_bench_init video
kg_bench_tmpdir kg_video_bench
WORK=$TMP
PSQL+=(-A -t -d postgres)
PGBENCH=("$BINDIR/pgbench" -n -h "$SOCK" -p "$PORT" -U "$DBUSER" postgres)

kg_bench_initdb <<EOF
shared_buffers = 256MB
max_wal_size = 4GB
kinesis_glue.worker_naptime = 200ms
EOF
kg_bench_start

"${PSQL[@]}" <<'EOF'
CREATE EXTENSION kinesis_glue;
SELECT kinesis_video.create_stream('bench', 'video/h264', 24) IS NOT NULL;
SELECT kinesis_video.create_stream('clipcam', 'video/h264', 24) IS NOT NULL;
-- 1 MB of random bytes (incompressible, like video), stored out of line
CREATE TABLE src AS SELECT string_agg(uuid_send(gen_random_uuid()), ''::bytea) AS m FROM generate_series(1, 65536);
-- the baseline's media stored as the fragment tables store theirs
CREATE TABLE plain (id bigserial PRIMARY KEY, ts timestamptz NOT NULL, media bytea NOT NULL);
ALTER TABLE plain ALTER COLUMN media SET STORAGE EXTERNAL;
CREATE INDEX ON plain (ts);
CREATE TABLE lo_plain (id bigserial PRIMARY KEY, ts timestamptz NOT NULL, media oid NOT NULL);
EOF
build=$("${PSQL[@]}" -c "SELECT CASE WHEN current_setting('debug_assertions')::boolean THEN 'assertions (DEBUG=1 build: not representative)' ELSE 'optimised' END")

echo "SELECT kinesis_video.put_media('bench', m, clock_timestamp(), 2000) FROM src;" >"$WORK/put.sql"
echo "INSERT INTO plain (ts, media) SELECT clock_timestamp(), m FROM src;" >"$WORK/insert.sql"
echo "INSERT INTO lo_plain (ts, media) SELECT clock_timestamp(), lo_from_bytea(0, m) FROM src;" >"$WORK/lo.sql"

tps() { "${PGBENCH[@]}" -c 1 -t "$1" -f "$2" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'; }
lat() { "${PGBENCH[@]}" -c 1 -t "$1" -f "$2" 2>/dev/null | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p'; }
checkpoint() { "${PSQL[@]}" -c CHECKPOINT >/dev/null; }

# cpu_ms N FILE: the backend's CPU time per statement of FILE, in ms, over
# N runs of it in one session (after 2 unmeasured runs); from the
# scheduler's run time of the backend (/proc/PID/schedstat, ns: user and
# kernel time, without the 10 ms ticks of utime and stime)
cpu_ms() {
	local n=$1 file=$2 pid line t0 t1
	coproc CPU { "${PSQL[@]}" 2>&1; }
	echo "SELECT pg_backend_pid();" >&"${CPU[1]}"
	read -r pid <&"${CPU[0]}"
	{ echo '\o /dev/null'; cat "$file" "$file"; echo '\o'; echo "SELECT 'warm';"; } >&"${CPU[1]}"
	while read -r line <&"${CPU[0]}"; do [ "$line" = warm ] && break; done
	t0=$(awk '{ print $1 }' "/proc/$pid/schedstat")
	{ echo '\o /dev/null'; for ((i = 0; i < n; i++)); do cat "$file"; done; echo '\o'; echo "SELECT 'done';"; } >&"${CPU[1]}"
	while read -r line <&"${CPU[0]}"; do [ "$line" = done ] && break; done
	t1=$(awk '{ print $1 }' "/proc/$pid/schedstat")
	echo '\q' >&"${CPU[1]}"
	wait "$CPU_PID" 2>/dev/null || true
	awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.2f\n", (b - a) / 1e6 / n }'
}

# ab_rounds MEASURE N A B [checkpoint]: ROUNDS rounds of MEASURE (tps or
# lat) N on $WORK/A.sql and $WORK/B.sql, alternating which runs first, each
# run followed by cpu_ms of the same file (with "checkpoint", a CHECKPOINT
# before each); sets A_L, B_L (figures per round), A_CPU_L, B_CPU_L
ab_rounds() {
	local measure=$1 n=$2 a=$3 b=$4 cp=${5:-} r side t c order
	A_L=""; B_L=""; A_CPU_L=""; B_CPU_L=""
	for ((r = 1; r <= ROUNDS; r++)); do
		if ((r % 2)); then order="$a $b"; else order="$b $a"; fi
		for side in $order; do
			[ -z "$cp" ] || checkpoint
			t=$($measure "$n" "$WORK/$side.sql")
			[ -z "$cp" ] || checkpoint
			c=$(cpu_ms "$CPU_CALLS" "$WORK/$side.sql")
			log "round $r: $side $t ($measure), backend CPU $c ms per call"
			if [ "$side" = "$a" ]; then A_L="$A_L $t"; A_CPU_L="$A_CPU_L $c"; else B_L="$B_L $t"; B_CPU_L="$B_CPU_L $c"; fi
		done
	done
}
# ratios X_LIST Y_LIST: the per-round ratios x / y
ratios() { paste <(echo "$1" | tr ' ' '\n' | grep .) <(echo "$2" | tr ' ' '\n' | grep .) | awk '$2 > 0 { printf " %.4f", $1 / $2 }'; }

# warm up each path
tps 5 "$WORK/insert.sql" >/dev/null; tps 5 "$WORK/put.sql" >/dev/null; tps 5 "$WORK/lo.sql" >/dev/null

# (a) ingest
ab_rounds tps "$FRAGMENTS" insert put checkpoint
ins_l=$A_L; put_l=$B_L
put=$(echo "$put_l" | median); ins=$(echo "$ins_l" | median); ratio=$(ratios "$put_l" "$ins_l" | median)
put_cpu=$(echo "$B_CPU_L" | median); ins_cpu=$(echo "$A_CPU_L" | median); cpu_ratio=$(ratios "$A_CPU_L" "$B_CPU_L" | median)
checkpoint
lo=$(tps "$FRAGMENTS" "$WORK/lo.sql")

# (b) a 1-minute clip: 30 fragments of 2 s
"${PSQL[@]}" >/dev/null <<'EOF'
SELECT count(*) FROM generate_series(0, 29) i,
       LATERAL kinesis_video.put_media('clipcam', (SELECT m FROM src),
                                       '2030-01-01 00:00:00+00'::timestamptz + i * interval '2 s', 2000);
EOF
cat >"$WORK/clip.sql" <<'EOF'
SELECT length(payload) FROM kinesis_video.get_clip('clipcam', 'PRODUCER_TIMESTAMP', '2030-01-01 00:00:00+00', '2030-01-01 00:01:00+00');
EOF
cat >"$WORK/clip_base.sql" <<'EOF'
SELECT length(string_agg(media, ''::bytea ORDER BY id)) FROM (SELECT id, media FROM plain ORDER BY id LIMIT 30) x;
EOF
lat 2 "$WORK/clip.sql" >/dev/null; lat 2 "$WORK/clip_base.sql" >/dev/null
ab_rounds lat "$CLIP_RUNS" clip clip_base
clip_l=$A_L; base_l=$B_L
clip=$(echo "$clip_l" | median); clip_base=$(echo "$base_l" | median); clip_ratio=$(ratios "$clip_l" "$base_l" | median)
clip_cpu=$(echo "$A_CPU_L" | median); base_cpu=$(echo "$B_CPU_L" | median); clip_cpu_ratio=$(ratios "$A_CPU_L" "$B_CPU_L" | median)
clip_bytes=$("${PSQL[@]}" -f "$WORK/clip.sql")
sizes=$("${PSQL[@]}" -c "SELECT pg_size_pretty(sum(pg_relation_size(relation))) || ' heap, ' || pg_size_pretty(sum(pg_total_relation_size(relation))) || ' total' FROM kinesis_video.segments")

echo "kinesis_glue video benchmark ($build), $ROUNDS round(s), order alternating, CHECKPOINT before each ingest run"
echo "ingest: $FRAGMENTS fragments of 1 MB per run, 1 client, 1 transaction per fragment; both sides read the bytes from table src, media STORAGE EXTERNAL on both"
printf 'ingest  put_media            %8.1f MB/s  (rounds:%s)  CPU %s ms per fragment\n' "$put" "$put_l" "$put_cpu"
printf 'ingest  plain INSERT bytea   %8.1f MB/s  (rounds:%s)  CPU %s ms per fragment\n' "$ins" "$ins_l" "$ins_cpu"
printf 'ingest  INSERT large object  %8.1f MB/s  (one run)\n' "$lo"
printf 'get_clip 1 minute (30 x 1 MB, %s bytes): %s ms (rounds:%s), CPU %s ms; string_agg %s ms (rounds:%s), CPU %s ms\n' \
	"$clip_bytes" "$clip" "$clip_l" "$clip_cpu" "$clip_base" "$base_l" "$base_cpu"
echo "segments of both streams: $sizes (media out of line: the heap holds only fragment metadata)"
awk -v r="$ratio" -v c="$cpu_ratio" -v p="$put" -v i="$ins" \
	'BEGIN { printf "ROW put_media  %.2f  bar >= 0.9  %s  (put_media / INSERT of the same 1 MB, MB/s %.1f / %.1f; by backend CPU per fragment %.2f)\n", r, (r >= 0.9 ? "PASS" : "BELOW"), p, i, c }'
awk -v r="$clip_ratio" -v c="$clip_cpu_ratio" -v a="$clip" -v b="$clip_base" \
	'BEGIN { printf "ROW get_clip   %.2f  bar <= 1.5  %s  (get_clip / string_agg of the same 30 x 1 MB, ms %.1f / %.1f; by backend CPU per call %.2f)\n", r, (r <= 1.5 ? "PASS" : "ABOVE"), a, b, c }'
