#!/usr/bin/env bash
# kinesis_glue benchmark, the wire gateway (issue 17), on a private cluster:
#
#   test/bench/gateway.sh        as root (the server runs as postgres) or as postgres
#
# In one run (needs `npm ci` in test/gateway: the AWS SDK and kinesis-local):
#   put: PutRecords of 500 records of 100 B, through kinesis_glue_gateway and
#        through kinesis-local (kinesis-mock for node, in memory), against two
#        SQL paths with pgbench -M prepared:
#        "SQL": kinesis.put_records(stream, keys, data) with the records
#          read from a table in the server (bench_input): the records never
#          cross the wire, so it measures put_records alone;
#        "SQL+send": the same call with the 500 keys and the 500 data sent
#          by the client each call, as a text[] and a bytea[] parameter
#          (text array literals, the data in bytea's hex form, about
#          107 kB; pgbench -D, whose value must stay under the 128 kB a
#          single argument may have): what a real SQL producer pays, as it
#          has to ship its records to the server like a gateway client
#   get: GetShardIterator(TRIM_HORIZON) + GetRecords(10,000), through both,
#        against get_shard_iterator + get_records(10,000) with the records
#        array sent to the client (every call returns the same 500 records;
#        "SQL+send" is the same figure: the records already cross the wire)
# each with 1 and 4 clients (client i on shard i % 4), each client a node
# process running test/gateway/bench.mjs in two ways: "sdk", the AWS SDK for
# JavaScript v3 (default HTTP/2 handler for the gateway; HTTP/1.1 for
# kinesis-local, which fails on h2c), which spends about as much CPU per call
# as the gateway, and "raw", prebuilt JSON requests on a keep-alive HTTP/1.1
# connection, which measures mostly the server.  Printed: records/s of each
# and the ratios gateway / SQL and gateway / SQL+send (the bar of issue 17
# is >= 0.7; SQL+send is the like-for-like baseline, SQL the stricter one)
# and gateway / kinesis-local (bar > 1); with BENCH_ROUNDS > 1 the table
# is measured that many times, interleaved (the SQL baseline next to the
# gateway's raw client; every other round in the reverse order), and a
# summary gives the mean and the spread (min-max) of each figure.  Timing
# is never asserted.
#
# Settings (environment): BENCH_SECONDS (default 5 per measurement),
# BENCH_ROUNDS (default 3), BENCH_PORT (default 5497; names the socket file
# only), GATEWAY_PORT (default 45670; kinesis-local uses the next two),
# BENCH_TMPDIR (default /tmp), PG_BINDIR (default: pg_config --bindir),
# BENCH_SOURCE (see lib.sh: by default the optimised build of the work tree,
# installed when run as root), BENCH_KEEP (see lib.sh), GATEWAY (default:
# gateway/kinesis_glue_gateway), BENCH_POOL (the gateway's pool_size, default 4),
# BENCH_KINESIS_LOCAL=0 to leave kinesis-local out.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
[ -z "${PG_BINDIR:-}" ] || BINDIR=$PG_BINDIR
PORT=${BENCH_PORT:-5497}
kg_bench_init gateway
SECONDS_RUN=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
POOL=${BENCH_POOL:-4}
WITH_KL=${BENCH_KINESIS_LOCAL:-1}
GWPORT=${GATEWAY_PORT:-45670}
KLPORT=$((GWPORT + 1))
GATEWAY=${GATEWAY:-$ROOT/gateway/kinesis_glue_gateway}
GWPID=
KLPID=

# at exit, before the server stops: the gateway and kinesis-local
kg_bench_on_exit() {
	[ -z "$GWPID" ] || kill "$GWPID" 2>/dev/null || true
	[ -z "$KLPID" ] || kill "$KLPID" 2>/dev/null || true
}

# the server runs an optimised build of the sources (as run.sh's): the
# library the test suite installs is built with -O0 and assertions, which
# both sides would pay, the gateway's chain on top of the backend's part
kg_bench_build
kg_bench_tmpdir kg_gateway_bench
WORK=$TMP
kg_bench_initdb <<EOF
shared_buffers = 256MB
max_wal_size = 4GB
kinesis_glue.worker_naptime = 200ms
EOF
kg_bench_start_build
PSQL+=(-A -t -d postgres)
want=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$ROOT/kinesis_glue.control")
have=$("${PSQL[@]}" -c "SELECT default_version FROM pg_available_extensions WHERE name = 'kinesis_glue'")
[ "$have" = "$want" ] || die "the installed kinesis_glue is $have, the work tree's $want: install the work tree's build (make install, or run.sh's optimised build) first"

"${PSQL[@]}" <<'EOF'
CREATE EXTENSION kinesis_glue;
SELECT kinesis.create_stream('bench_gw', 4);
SELECT kinesis.create_stream('bench_sql', 4);
SELECT kinesis.create_stream('bench_get', 4);
CREATE TABLE bench_input AS
    SELECT array_agg('key-' || g) AS keys, array_agg(convert_to(repeat('x', 100), 'UTF8')) AS datas
      FROM generate_series(0, 499) g;
-- 10,000 records in each shard of bench_get (explicit hash keys pick the shard)
SELECT count(*) FROM generate_series(0, 3) s, generate_series(1, 20) b,
       kinesis.put_records('bench_get', ARRAY(
           SELECT ROW('k', convert_to(repeat('y', 100), 'UTF8'),
                      (s * (2::numeric ^ 126))::numeric)::kinesis.put_records_entry
             FROM generate_series(1, 500)));
EOF

"$GATEWAY" -s "listen=127.0.0.1:$GWPORT" -s "conninfo=host=$WORK port=$PORT dbname=postgres user=$DBUSER" \
	-s pool_size="$POOL" -s log_level=warn >"$WORK/gateway.log" 2>&1 &
GWPID=$!
sleep 0.5

KL=$ROOT/test/gateway/node_modules/kinesis-local
if [ "$WITH_KL" = 1 ]; then
	KINESIS_MOCK_PLAIN_PORT=$KLPORT KINESIS_MOCK_TLS_PORT=$((KLPORT + 1)) KINESIS_MOCK_CERT_PATH=$KL/server.json \
		INITIALIZE_STREAMS=bench_gw:4,bench_get:4 node "$KL/main.js" >"$WORK/kinesis-local.log" 2>&1 &
	KLPID=$!
	for _ in $(seq 1 600); do
		(echo >"/dev/tcp/127.0.0.1/$KLPORT") 2>/dev/null && break
		sleep 0.1
	done
	sleep 1 # INITIALIZE_STREAMS: the streams become ACTIVE
	# 500 records in each shard of bench_get (its puts are slow: fewer than
	# in the database; each GetRecords returns 500 records in both)
	(cd "$ROOT/test/gateway" && node bench.mjs "http://127.0.0.1:$KLPORT" fill 1 0 bench_get raw >/dev/null)
fi

echo "SELECT count(*) FROM bench_input b, kinesis.put_records('bench_sql', b.keys, b.datas);" >"$WORK/put.sql"
# the same records sent by the client: -D values (text array literals)
echo "SELECT count(*) FROM kinesis.put_records('bench_sql', :keys::text[], :datas::bytea[]);" >"$WORK/put_send.sql"
SEND_KEYS=$("${PSQL[@]}" -c "SELECT keys::text FROM bench_input")
SEND_DATAS=$("${PSQL[@]}" -c "SET bytea_output = hex; SELECT datas::text FROM bench_input" | tail -1)
echo "SELECT (kinesis.get_records(kinesis.get_shard_iterator('bench_get', 'shardId-00000000000' || (:client_id % 4), 'TRIM_HORIZON'), 10000)).records;" >"$WORK/get.sql"

# records/s of the SQL path: pgbench -c N of script $1, $3 records per call
# (-M prepared: the gateway prepares its statements too); put_send sends
# the records as parameters
sql_rate()
{
	local tps
	tps=$("$BINDIR/pgbench" -n -M prepared -h "$WORK" -p "$PORT" -U "$DBUSER" -c "$2" -j "$2" -T "$SECONDS_RUN" \
		-D "keys=$SEND_KEYS" -D "datas=$SEND_DATAS" -f "$WORK/$1.sql" postgres 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\).*/\1/p')
	[ -n "$tps" ] || die "pgbench of $1.sql failed"
	echo "$tps * $3" | bc -l
}

# records/s through an endpoint: $2 node processes running bench.mjs $1
# with one client each (one process would be bound by its own CPU), each
# connected and warmed up by one call before the common start; client i
# reads shard i % 4; $3 = port, $4 = sdk|raw, $5 = SDK handler
ep_rate()
{
	local stream=bench_gw i proto=$5 start
	[ "$1" = get ] && stream=bench_get
	[ "$4" = raw ] && proto=raw
	# the processes start measuring together, once node has loaded (slow on a busy machine)
	start=$(($(date +%s%3N) + 4000))
	for i in $(seq 0 $(($2 - 1))); do
		(cd "$ROOT/test/gateway" && node bench.mjs "http://127.0.0.1:$3" "$1" 1 "$SECONDS_RUN" "$stream" "$proto" "$i" "$start" \
			>"$WORK/client.$i" 2>/dev/null) &
	done
	wait
	for i in $(seq 0 $(($2 - 1))); do
		sed -n 's/^{"records":\([0-9]*\),"seconds":\([0-9.]*\)}$/\1 \/ \2/p' "$WORK/client.$i"
	done | paste -sd+ | bc -l
}

# records one get_records(10,000) call returns from TRIM_HORIZON (it stops at
# a segment boundary, so fewer than 10,000)
GET_PER_CALL=$("${PSQL[@]}" -c "SELECT cardinality((kinesis.get_records(kinesis.get_shard_iterator('bench_get', 'shardId-000000000000', 'TRIM_HORIZON'), 10000)).records)")
echo "get_records from TRIM_HORIZON returns $GET_PER_CALL records per call"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
[ $INSTALLED_DIFFERS = 0 ] || echo "WARNING: measuring the installed kinesis_glue, which differs from the optimised build of the sources (run as root to install it)"

# one line per figure: round case clients what rate
: >"$WORK/figures"
# one figure: $1 round, $2 case, $3 clients, $4 what, $5 records per call
measure()
{
	local rate
	case $4 in
		sql) rate=$(sql_rate "$2" "$3" "$5") ;;
		sqlsend) rate=$(sql_rate put_send "$3" "$5") ;;
		gateway-*) rate=$(ep_rate "$2" "$3" "$GWPORT" "${4#gateway-}" h2) ;;
		kinesis-local-*) rate=$(ep_rate "$2" "$3" "$KLPORT" "${4#kinesis-local-}" h1) ;;
	esac
	echo "$1 $2 $3 $4 $rate" >>"$WORK/figures"
}

# Each round measures, for each case and client count, the SQL baseline
# next to the gateway's raw client (the ratio the bar is about), then the
# rest; odd rounds in this order, even rounds in the reverse one, so that
# a drift of the machine during a round (the streams growing, a checkpoint,
# other users' load) weighs on both sides alike over two rounds.
for round in $(seq 1 "$ROUNDS"); do
	for c in put get; do
		per=500
		[ $c = get ] && per=$GET_PER_CALL
		for n in 1 4; do
			steps="sql gateway-raw"
			# get: the records already cross the wire, SQL+send is the SQL figure
			[ $c = put ] && steps="$steps sqlsend"
			steps="$steps gateway-sdk"
			[ "$WITH_KL" = 1 ] && steps="$steps kinesis-local-raw kinesis-local-sdk"
			[ $((round % 2)) = 0 ] && steps=$(echo "$steps" | tr ' ' '\n' | tac | tr '\n' ' ')
			for what in $steps; do
				measure "$round" $c $n "$what" "$per"
			done
			[ $c = put ] || echo "$round $c $n sqlsend $(awk -v k="$round $c $n sql" '$1" "$2" "$3" "$4 == k {print $5}' "$WORK/figures")" >>"$WORK/figures"
		done
	done
	echo "round $round done, load $(cut -d' ' -f1-3 /proc/loadavg)"
done

# the table: mean (min-max) of each figure over the rounds, and the ratios of the means
awk -v kl="$WITH_KL" '
{ k = $2 " " $3 " " $4; v = $5; n[k]++; s[k] += v
  if (!(k in lo) || v < lo[k]) lo[k] = v; if (!(k in hi) || v > hi[k]) hi[k] = v }
function m(k) { return n[k] ? s[k] / n[k] : 0 }
function f(k) { return sprintf("%7.0f (%.0f-%.0f)", m(k), lo[k], hi[k]) }
function r(a, b) { return m(b) > 0 ? sprintf("%6.2f", m(a) / m(b)) : "     -" }
END {
  printf "%-4s %2s %-6s %-24s %-24s %-24s %7s %7s %-24s %11s\n", "case", "n", "client", "gateway rec/s", \
    "kinesis-local rec/s", "SQL rec/s", "gw/SQL", "gw/kl", "SQL+send rec/s", "gw/SQL+send"
  split("put get", cs); split("1 4", ns); split("sdk raw", ks)
  for (i = 1; i <= 2; i++) for (j = 1; j <= 2; j++) for (l = 1; l <= 2; l++) {
    p = cs[i] " " ns[j] " "; g = p "gateway-" ks[l]; q = p "kinesis-local-" ks[l]
    printf "%-4s %2s %-6s %-24s %-24s %-24s %7s %7s %-24s %11s\n", cs[i], ns[j], ks[l], f(g), \
      kl == 1 ? f(q) : "-", f(p "sql"), r(g, p "sql"), kl == 1 ? r(g, q) : "-", \
      f(p "sqlsend"), r(g, p "sqlsend")
  }
}' "$WORK/figures"

# the bar's ratio in each round: the gateway's raw client against the SQL
# baseline measured next to it, and their median (as run.sh's ratios: a
# round whose two measurements fell into different phases of the machine's
# speed moves the median less than the means above)
echo "gateway raw / SQL, per round, and the median of the rounds:"
for c in put get; do
	for n in 1 4; do
		ratios=$(awk -v c=$c -v n=$n -v rounds="$ROUNDS" '$2 == c && $3 == n && $4 == "sql" { s[$1] = $5 }
			$2 == c && $3 == n && $4 == "gateway-raw" { g[$1] = $5 }
			END { for (r = 1; r <= rounds; r++) printf "%.4f ", (s[r] > 0 ? g[r] / s[r] : 0) }' "$WORK/figures")
		printf '  %s %s clients:%s  median %.2f\n' $c $n "$(printf ' %.2f' $ratios)" "$(echo "$ratios" | median)"
	done
done
