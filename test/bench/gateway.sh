#!/usr/bin/env bash
# kinesis_glue benchmark, the wire gateway (issue 17), on a private cluster:
#
#   test/bench/gateway.sh        as root (runs everything as postgres) or as postgres
#
# Through kinesis_glue_gateway with the AWS SDK for JavaScript v3 (default
# HTTP/2 handler; test/gateway/bench.mjs, needs `npm ci` in test/gateway),
# against the SQL path with pgbench in the same run, with 1 and 4 clients:
#   put: PutRecords of 500 records of 100 B  vs  kinesis.put_records of the same
#   get: GetShardIterator + GetRecords(10,000) vs  get_shard_iterator +
#        get_records(10,000) with the records array sent to the client (both
#        from TRIM_HORIZON, so each call returns the same records)
# Printed: records/s of each and the ratio gateway / SQL (the bar of DESIGN.md
# is 0.7).  kinesis-local (kinesis-mock) is not measured yet.
#
# Settings (environment): BENCH_SECONDS (default 10 per run), BENCH_PORT
# (default 5497; names the socket file only), GATEWAY_PORT (default 45670),
# BENCH_TMPDIR (default /tmp), PG_BINDIR (default: pg_config --bindir, with
# the kinesis_glue library installed), GATEWAY (default: gateway/kinesis_glue_gateway).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SECONDS_RUN=${BENCH_SECONDS:-10}
PORT=${BENCH_PORT:-5497}
GWPORT=${GATEWAY_PORT:-45670}
BINDIR=${PG_BINDIR:-$(pg_config --bindir)}
GATEWAY=${GATEWAY:-$ROOT/gateway/kinesis_glue_gateway}
WORK=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/kg_gateway_bench.XXXXXX")

if [ "$(id -u)" = 0 ]; then
	chown postgres "$WORK"
	exec su postgres -c "BENCH_SECONDS=$SECONDS_RUN BENCH_PORT=$PORT GATEWAY_PORT=$GWPORT PG_BINDIR=$BINDIR GATEWAY=$GATEWAY BENCH_WORKDIR=$WORK $(printf %q "$0")"
fi
WORK=${BENCH_WORKDIR:-$WORK}
DATA=$WORK/data
PSQL=("$BINDIR/psql" -X -q -A -t -h "$WORK" -p "$PORT" -d postgres -v ON_ERROR_STOP=1)
GWPID=

cleanup()
{
	[ -n "$GWPID" ] && kill "$GWPID" 2>/dev/null
	"$BINDIR/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

"$BINDIR/initdb" -D "$DATA" -A trust >/dev/null
cat >>"$DATA/postgresql.conf" <<EOF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
shared_preload_libraries = 'kinesis_glue'
shared_buffers = 256MB
max_wal_size = 4GB
kinesis_glue.worker_naptime = 200ms
EOF
"$BINDIR/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w start >/dev/null

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

"$GATEWAY" -s "listen=127.0.0.1:$GWPORT" -s "conninfo=host=$WORK port=$PORT dbname=postgres" \
	-s pool_size=4 -s request_log_level=debug >"$WORK/gateway.log" 2>&1 &
GWPID=$!
sleep 0.5

echo "SELECT count(*) FROM bench_input b, kinesis.put_records('bench_sql', b.keys, b.datas);" >"$WORK/put.sql"
echo "SELECT (kinesis.get_records(kinesis.get_shard_iterator('bench_get', 'shardId-00000000000' || (:client_id % 4), 'TRIM_HORIZON'), 10000)).records;" >"$WORK/get.sql"

# records/s of the SQL path: pgbench -c N of script $1, $3 records per call
sql_rate()
{
	local tps
	tps=$("$BINDIR/pgbench" -n -M prepared -h "$WORK" -p "$PORT" -c "$2" -j "$2" -T "$SECONDS_RUN" \
		-f "$WORK/$1.sql" postgres 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
	echo "$tps * $3" | bc -l
}

# records/s through the gateway: $2 node processes running bench.mjs $1
# with one client each (one process would be bound by its own CPU: the SDK
# serialises and signs in JavaScript); client i reads shard i % 4
gw_rate()
{
	local stream=bench_gw i
	[ "$1" = get ] && stream=bench_get
	for i in $(seq 0 $(($2 - 1))); do
		(cd "$ROOT/test/gateway" && node bench.mjs "http://127.0.0.1:$GWPORT" "$1" 1 "$SECONDS_RUN" "$stream" h2 "$i" \
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

printf '%-5s %8s %16s %16s %8s\n' case clients 'gateway rec/s' 'SQL rec/s' ratio
for c in put get; do
	per=500
	[ $c = get ] && per=$GET_PER_CALL
	for n in 1 4; do
		g=$(gw_rate $c $n)
		s=$(sql_rate $c $n $per)
		printf '%-5s %8d %16.0f %16.0f %8.2f\n' $c $n "$g" "$s" "$(echo "$g / $s" | bc -l)"
	done
done
