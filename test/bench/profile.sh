#!/usr/bin/env bash
# Profile one benchmark case on a cluster kept by run.sh: where does the
# backend's time go, per transaction?
#
#   BENCH_KEEP=1 BENCH_CASES=none test/bench/run.sh     # prints the cluster directory
#   test/bench/profile.sh DIR SCRIPT [pgbench args...]  # as root
#
#   e.g. test/bench/profile.sh /tmp/kg_bench.AbC123 put_record_kinesis.sql
#        test/bench/profile.sh /tmp/kg_bench.AbC123 get_records_baseline.sql -D after=65535
#
# Runs SCRIPT (a file of test/bench) with pgbench, 1 client, for 20 s; after 4
# s it samples the backend with `perf record -e cpu-clock -g` for 10 s and
# counts the transactions committed meanwhile.  Prints the backend's CPU time
# per transaction, the top functions by self time and the functions of
# kinesis_glue.so by inclusive time.  perf.data stays in DIR/profile-SCRIPT.data
# for `perf report -i`.  Needs perf (Debian: linux-perf) and a
# perf_event_paranoid setting that allows it (root is enough).
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,18p' "$0"; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
kg_bench_init profile
kg_bench_attach "$1"
DIR=$TMP
SCRIPT=$2
shift 2
KG_DB=bench
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 1; }
[ -e "$PGDATA_DIR/postmaster.pid" ] || { echo "no running cluster in $DIR" >&2; exit 1; }
[ -e "$HERE/$SCRIPT" ] || { echo "no script $HERE/$SCRIPT" >&2; exit 1; }

OUT=$DIR/profile-$(basename "$SCRIPT" .sql)
"$BINDIR/pgbench" -n -M prepared -c 1 -j 1 -T 20 -h "$DIR" -p "$PORT" -U "$DBUSER" "$@" \
	-f "$HERE/$SCRIPT" bench >"$OUT.pgbench" 2>&1 &
PB=$!
sleep 4
PID=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' LIMIT 1")
[ -n "$PID" ] || { cat "$OUT.pgbench" >&2; echo "no pgbench backend found" >&2; exit 1; }
X0=$(q "SELECT xact_commit FROM pg_stat_database WHERE datname = 'bench'")
perf record -e cpu-clock -F 4000 -g -p "$PID" -o "$OUT.data" -- sleep 10 >/dev/null 2>&1
X1=$(q "SELECT xact_commit FROM pg_stat_database WHERE datname = 'bench'")
wait "$PB" || { cat "$OUT.pgbench" >&2; exit 1; }
N=$((X1 - X0 - 1))	# the psql query in between commits once
grep -q 'kinesis_glue\.so (deleted)' "/proc/$(head -n 1 "$DIR/data/postmaster.pid")/maps" 2>/dev/null &&
	echo "WARNING: kinesis_glue.so was replaced on disk after the server started; perf cannot name its functions (start a new cluster with run.sh)" >&2
SAMPLES=$(perf report -i "$OUT.data" --no-children -n --stdio --sort dso -g none 2>/dev/null |
	awk '/%/ { s += $2 } END { print s + 0 }' || true)
echo "$SCRIPT: $N transactions in 10 s ($(awk -v n="$N" 'BEGIN { printf "%.1f", 1e7 / n }') us each);" \
	"backend on CPU $(awk -v s="$SAMPLES" -v n="$N" 'BEGIN { printf "%.1f us per transaction (%.0f%% of the time)", s * 250 / n, s / 400 }')"
echo
echo "top functions by self time (share of the backend's CPU time):"
perf report -i "$OUT.data" --no-children --stdio --sort dso,sym -g none 2>/dev/null |
	grep '%' | head -n 25 || true
echo
echo "kinesis_glue functions by inclusive time:"
perf report -i "$OUT.data" --children --stdio --sort dso,sym -g none 2>/dev/null |
	grep '%' | grep 'kinesis_glue' | head -n 20 || true
echo
echo "more: perf report -i $OUT.data"
