#!/usr/bin/env bash
# demo.sh - build kinesis_glue, run it on a private PostgreSQL 15 cluster and
# walk through a small pipeline (test/demo.sql): a data stream, a consumer,
# an event source mapping that raises alerts, Firehose delivery into a table
# and into JSON lines files, a Glue crawler over those files, queried, a
# bookmarked Glue job that pg_cron runs every minute to aggregate the
# delivered orders into a summary table, and a workflow drawn as a diagram.
# When the wire gateway is built it is started on 127.0.0.1:4567
# (KG_DEMO_GATEWAY_PORT) in front of the demo database.
#
#   ./demo.sh            as root on Debian 12 (installs missing packages)
#   ./demo.sh --fresh    throw the demo cluster away and start from scratch
#   ./stop-demo.sh       stop the demo cluster
#
# The cluster lives in .demo/ of this tree: data in .demo/data, Unix socket
# in .demo/run, port 5499, no TCP (listen_addresses = ''), log in .demo/log.
# It preloads pg_cron and kinesis_glue; the demo database is kinesis_demo.
# Running the script again re-uses the cluster (restarting it so that it
# runs the library just built) and the extensions, and re-creates the demo
# stream.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"
# shellcheck source=test/harness/lib.sh
. "$ROOT/test/harness/lib.sh"

DEMO=$ROOT/.demo
DATA=$DEMO/data
RUN=$DEMO/run
LOGDIR=$DEMO/log
PORT=5499
DB=kinesis_demo

FRESH=0
for arg in "$@"; do
	case $arg in
	--fresh) FRESH=1 ;;
	-h | --help) sed -n '2,17p' "$0"; exit 0 ;;
	*) kg_die "unknown argument: $arg (try --help)" ;;
	esac
done

kg_ensure_packages

# Build without assertions.  Objects left by an assert build (./test.sh)
# are removed first; test results are left alone.
kg_log "building (make)"
find src -name '*.o' -delete -o -name '*.bc' -delete
rm -f kinesis_glue.so
kg_make -j"$(nproc)" >/dev/null || kg_die "make failed (run make to see why)"
kg_log "installing (make install)"
kg_make install >/dev/null || kg_die "make install failed"

# The cluster must be owned by postgres, which must reach this tree.
if kg_is_root && ! kg_postgres_can_read "$ROOT"; then
	kg_die "the postgres user cannot reach $ROOT; put the tree where postgres can read it (e.g. not under /root)"
fi
if [[ ${#RUN} -gt 95 ]]; then
	kg_die "the socket path $RUN is too long for a Unix socket; move the tree to a shorter path"
fi

pg() { kg_as_postgres "$@"; }
psql_demo() { pg psql -X -h "$RUN" -p "$PORT" "$@"; }

if [[ $FRESH -eq 1 && -d $DATA ]]; then
	kg_log "--fresh: removing the demo cluster"
	pg pg_ctl -D "$DATA" stop -m fast >/dev/null 2>&1 || true
	rm -rf "$DEMO"
fi

mkdir -p "$DEMO" "$RUN" "$LOGDIR"
kg_is_root && chown postgres:postgres "$DEMO" "$RUN" "$LOGDIR"
chmod 700 "$DEMO"

if [[ ! -f $DATA/PG_VERSION ]]; then
	kg_log "creating the demo cluster in $DATA"
	rm -rf "$DATA"
	pg initdb -D "$DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
		--no-instructions >"$LOGDIR/initdb.log" 2>&1 ||
		{ tail -n 20 "$LOGDIR/initdb.log"; kg_die "initdb failed"; }
	pg tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# ---- kinesis_glue demo (demo.sh)
port = $PORT
listen_addresses = ''
unix_socket_directories = '$RUN'
shared_preload_libraries = 'pg_cron,kinesis_glue'
cron.database_name = '$DB'
max_worker_processes = 16
EOF
fi
# pg_cron runs its jobs in background workers: the cluster has no TCP for
# its libpq connections (added to clusters made by older versions too)
if ! grep -q '^cron.use_background_workers' "$DATA/postgresql.conf"; then
	echo "cron.use_background_workers = on" | pg tee -a "$DATA/postgresql.conf" >/dev/null
fi

# Start it, or restart it so that it runs the library just installed.
if pg pg_ctl -D "$DATA" status >/dev/null 2>&1; then
	kg_log "restarting the demo cluster (port $PORT) with the new build"
	pg pg_ctl -D "$DATA" -l "$LOGDIR/postgresql.log" -w -t 60 -m fast restart >/dev/null ||
		{ tail -n 20 "$LOGDIR/postgresql.log"; kg_die "restart failed"; }
else
	kg_log "starting the demo cluster (port $PORT, socket directory $RUN)"
	pg pg_ctl -D "$DATA" -l "$LOGDIR/postgresql.log" -w -t 60 start >/dev/null ||
		{ tail -n 20 "$LOGDIR/postgresql.log"; kg_die "start failed"; }
fi

if [[ $(psql_demo -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'") != 1 ]]; then
	kg_log "creating database $DB"
	pg createdb -h "$RUN" -p "$PORT" "$DB"
fi
# The demo's data is throwaway: re-create kinesis_glue so its catalog always
# matches the freshly built library (also within one version).
psql_demo -d "$DB" -q -v ON_ERROR_STOP=1 \
	-c 'CREATE EXTENSION IF NOT EXISTS pg_cron' \
	-c 'DROP EXTENSION IF EXISTS kinesis_glue CASCADE' \
	-c 'CREATE EXTENSION kinesis_glue'
psql_demo -d "$DB" -tAc "SELECT 'extensions: ' || string_agg(extname || ' ' || extversion, ', ' ORDER BY extname)
	FROM pg_extension WHERE extname IN ('pg_cron', 'kinesis_glue')"

# Firehose delivers files here (the objects of the previous run go with its extension)
OBJECTS=$DEMO/objects
rm -rf "$OBJECTS"
mkdir -p "$OBJECTS"
kg_is_root && chown postgres:postgres "$OBJECTS"

kg_log "running test/demo.sql"
kg_is_root && chown postgres:postgres "$DEMO"
psql_demo -d "$DB" -v ON_ERROR_STOP=1 -v objects_dir="$OBJECTS" -v demo_dir="$DEMO" -f - <"$ROOT/test/demo.sql"
# the workflow diagram (test/demo.sql wrote its DOT text)
if command -v dot >/dev/null 2>&1; then
	dot -Tsvg "$DEMO/demo_nightly.dot" -o "$DEMO/demo_nightly.svg" &&
		kg_log "workflow diagram: $DEMO/demo_nightly.svg (from $DEMO/demo_nightly.dot)"
else
	kg_log "workflow diagram in Graphviz DOT: $DEMO/demo_nightly.dot (render it with: dot -Tsvg $DEMO/demo_nightly.dot -o demo_nightly.svg)"
fi

# The wire gateway (gateway/), when it was built: the Kinesis HTTP API on
# 127.0.0.1:$GW_PORT in front of the demo database, run as postgres, auth none.
GW_PORT=${KG_DEMO_GATEWAY_PORT:-4567}
GW_PIDFILE=$DEMO/gateway.pid
GATEWAY=$ROOT/gateway/kinesis_glue_gateway
GW_NOTE="The wire gateway was not built (its libraries are missing; see README)."
kg_stop_demo_gateway "$GW_PIDFILE"
if [[ -x $GATEWAY ]]; then
	if (exec 3<>"/dev/tcp/127.0.0.1/$GW_PORT") 2>/dev/null; then
		GW_NOTE="The wire gateway was not started: port $GW_PORT is taken (set KG_DEMO_GATEWAY_PORT)."
	else
		kg_log "starting the wire gateway on 127.0.0.1:$GW_PORT (log in $LOGDIR/gateway.log)"
		kg_as_postgres sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "$GW_PIDFILE" "$GATEWAY" \
			-s "listen=127.0.0.1:$GW_PORT" -s "conninfo=host=$RUN port=$PORT dbname=$DB" -s auth=none \
			>>"$LOGDIR/gateway.log" 2>&1 </dev/null &
		GW_NOTE="The wire gateway did not answer; see $LOGDIR/gateway.log."
		for _ in $(seq 50); do
			if STREAMS=$(curl -sf -X POST "http://127.0.0.1:$GW_PORT/" -H 'Content-Type: application/x-amz-json-1.1' \
				-H 'X-Amz-Target: Kinesis_20131202.ListStreams' -d '{}' 2>/dev/null); then
				kg_log "the gateway lists the demo's streams: $STREAMS"
				GW_NOTE="The wire gateway serves the Kinesis HTTP API (HTTP/1.1 and h2c, JSON and CBOR, auth none) at
http://127.0.0.1:$GW_PORT, e.g.
  aws --endpoint-url http://127.0.0.1:$GW_PORT --region us-east-1 kinesis list-streams
  curl -X POST http://127.0.0.1:$GW_PORT/ -H 'X-Amz-Target: Kinesis_20131202.ListStreams' \\
       -H 'Content-Type: application/x-amz-json-1.1' -d '{}'
Its log is $LOGDIR/gateway.log; ./stop-demo.sh stops it too."
				break
			fi
			sleep 0.1
		done
	fi
fi

cat <<EOF

The demo cluster keeps running: PostgreSQL 15 on port $PORT, Unix socket in
$RUN (no TCP), log in $LOGDIR/postgresql.log.
Connect as the postgres operating system user:

  sudo -u postgres psql -h $RUN -p $PORT -d $DB
  (as root without sudo: runuser -u postgres -- psql -h $RUN -p $PORT -d $DB)

Firehose wrote its newline-delimited JSON objects under $OBJECTS.
Stop it with ./stop-demo.sh; ./demo.sh --fresh starts over.

$GW_NOTE
EOF
