#!/usr/bin/env bash
# kinesis_glue benchmark, Video Streams (issue 9), on a private cluster:
#
#   test/bench/video.sh          as root (runs the server as postgres) or as postgres
#
# (a) Ingest: VIDEO_FRAGMENTS fragments of 1 MB (random bytes, like
#     compressed video) with kinesis_video.put_media, one fragment per
#     transaction, 1 client (KVS allows one PutMedia connection per
#     stream), against a plain INSERT of the same bytea into a table
#     (id bigserial, ts timestamptz, media bytea), and against storing it
#     as a large object (lo_from_bytea), each in the same run.  Printed:
#     MB/s of each and the ratio put_media / INSERT.
# (b) get_clip of a 1-minute clip: 30 fragments of 1 MB, 2 s each; the
#     mean latency of get_clip over VIDEO_CLIP_RUNS calls, against
#     string_agg over the same 30 rows of the plain table.
#
# Settings (environment): VIDEO_FRAGMENTS (default 200), VIDEO_CLIP_RUNS
# (default 20), BENCH_PORT (default 5498), BENCH_TMPDIR (default /tmp),
# BENCH_KEEP=1 (keep the cluster and leave it running), PG_BINDIR (default:
# pg_config --bindir; the kinesis_glue library must be installed for those
# binaries).  Timings of a DEBUG=1 build (assertions,
# -O0) are not representative; the report says which build ran.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
FRAGMENTS=${VIDEO_FRAGMENTS:-200}
CLIP_RUNS=${VIDEO_CLIP_RUNS:-20}
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
-- 1 MB of random bytes (incompressible, like video)
CREATE TABLE src AS SELECT string_agg(uuid_send(gen_random_uuid()), ''::bytea) AS m FROM generate_series(1, 65536);
CREATE TABLE plain (id bigserial PRIMARY KEY, ts timestamptz NOT NULL, media bytea NOT NULL);
CREATE INDEX ON plain (ts);
CREATE TABLE lo_plain (id bigserial PRIMARY KEY, ts timestamptz NOT NULL, media oid NOT NULL);
EOF
build=$("${PSQL[@]}" -c "SELECT CASE WHEN current_setting('debug_assertions')::boolean THEN 'assertions (DEBUG=1 build: not representative)' ELSE 'optimised' END")

echo "SELECT kinesis_video.put_media('bench', (SELECT m FROM src), clock_timestamp(), 2000);" >"$WORK/put.sql"
echo "INSERT INTO plain (ts, media) SELECT clock_timestamp(), m FROM src;" >"$WORK/insert.sql"
echo "INSERT INTO lo_plain (ts, media) SELECT clock_timestamp(), lo_from_bytea(0, m) FROM src;" >"$WORK/lo.sql"

tps() { "${PGBENCH[@]}" -c 1 -t "$1" -f "$2" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'; }
# warm up each path, then measure (INSERT first, then put_media, then LO, then put_media again)
tps 5 "$WORK/insert.sql" >/dev/null; tps 5 "$WORK/put.sql" >/dev/null; tps 5 "$WORK/lo.sql" >/dev/null
ins=$(tps "$FRAGMENTS" "$WORK/insert.sql")
put1=$(tps "$FRAGMENTS" "$WORK/put.sql")
lo=$(tps "$FRAGMENTS" "$WORK/lo.sql")
put2=$(tps "$FRAGMENTS" "$WORK/put.sql")
put=$(echo "$put1 $put2" | awk '{ printf "%.2f", ($1 + $2) / 2 }')

# a 1-minute clip: 30 fragments of 2 s
"${PSQL[@]}" <<'EOF'
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
lat() { "${PGBENCH[@]}" -c 1 -t "$1" -f "$2" 2>/dev/null | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p'; }
lat 2 "$WORK/clip.sql" >/dev/null
clip=$(lat "$CLIP_RUNS" "$WORK/clip.sql")
clip_base=$(lat "$CLIP_RUNS" "$WORK/clip_base.sql")
clip_bytes=$("${PSQL[@]}" -f "$WORK/clip.sql")
sizes=$("${PSQL[@]}" -c "SELECT pg_size_pretty(sum(pg_relation_size(relation))) || ' heap, ' || pg_size_pretty(sum(pg_total_relation_size(relation))) || ' total' FROM kinesis_video.segments")

echo "kinesis_glue video benchmark ($build), $FRAGMENTS fragments of 1 MB per run, 1 client, 1 transaction per fragment"
printf 'ingest  put_media            %8.1f MB/s  (runs: %s, %s)\n' "$put" "$put1" "$put2"
printf 'ingest  plain INSERT bytea   %8.1f MB/s\n' "$ins"
printf 'ingest  INSERT large object  %8.1f MB/s\n' "$lo"
printf 'ratio   put_media / INSERT   %8.2f\n' "$(echo "$put $ins" | awk '{ print $1 / $2 }')"
printf 'get_clip 1 minute (30 x 1 MB, %s bytes): %s ms mean over %s calls; string_agg baseline %s ms\n' \
	"$clip_bytes" "$clip" "$CLIP_RUNS" "$clip_base"
echo "segments of both streams: $sizes (media out of line: the heap holds only fragment metadata)"
