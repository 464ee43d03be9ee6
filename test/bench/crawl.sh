#!/usr/bin/env bash
# kinesis_glue benchmark, Glue crawlers: crawl time for
#   (a) CRAWL_SMALL_FILES small CSV files (default 10,000) in 100 Hive-style
#       partition folders (day=000 .. day=099), and
#   (b) one CSV file of CRAWL_BIG_MB megabytes (default 1024), where
#       sampling (the first 1 MiB) must keep the crawl about as fast as a
#       small file.
# Each case creates a crawler, starts it, waits until the crawl ends and
# prints the crawl's duration (start_time to end_time in glue.crawls), the
# files scanned, and the tables and partitions created.
#
#   test/bench/crawl.sh        as root (or as the postgres user)
#
# Settings (environment):
#   CRAWL_SMALL_FILES   number of small files (default 10000)
#   CRAWL_BIG_MB        size of the big CSV in MB (default 1024)
#   CRAWL_CASES         "small big" (default) or one of them
#   BENCH_PORT          port of the private server (default 5499; socket only)
#   BENCH_TMPDIR        parent of the temporary directory (default /tmp)
#   BENCH_BINDIR        PostgreSQL binaries (default: pg_config --bindir)
#   BENCH_KEEP=1        keep the cluster and the data (and leave the server running)
# The private server uses the installed kinesis_glue; a build with
# assertions (DEBUG=1) gives pessimistic figures.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
SMALL=${CRAWL_SMALL_FILES:-10000}
BIG_MB=${CRAWL_BIG_MB:-1024}
CASES=${CRAWL_CASES:-"small big"}
PORT=${BENCH_PORT:-5499}
BINDIR=${BENCH_BINDIR:-}
kg_bench_init crawl
has_case() { case " $CASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

kg_bench_tmpdir kg_crawl
kg_bench_initdb <<CONF
max_worker_processes = 16
kinesis_glue.worker_naptime = 100ms
CONF
kg_bench_start
q "CREATE EXTENSION kinesis_glue"
q "SELECT glue.create_database('bench')"
ASSERTS=$(q "SHOW debug_assertions")

crawl() {
	local name=$1 path=$2 id
	q "SELECT glue.create_crawler('$name', 'bench', '{\"directory_targets\": [{\"path\": \"$path\"}]}')" >/dev/null
	id=$(q "SELECT glue.start_crawler('$name')")
	until [ "$(q "SELECT state NOT IN ('RUNNING', 'CANCELLING') FROM glue.crawls WHERE crawl_id = $id")" = t ]; do
		sleep 0.1
	done
	q "SELECT format('%s: %s in %s s (from start_crawler, incl. worker pick-up); files scanned %s; tables %s; partitions %s',
	                 '$name', state, round(extract(epoch FROM end_time - start_time)::numeric, 2), files_scanned,
	                 tables_created, partitions_created) FROM glue.crawls WHERE crawl_id = $id"
}

if has_case small; then
	log "writing $SMALL small CSV files"
	as_db mkdir -p "$TMP/small"
	as_db bash -c "cd '$TMP/small' && for i in \$(seq 0 $((SMALL - 1))); do d=day=\$(printf %03d \$((i % 100))); mkdir -p \$d; printf 'id,amount,name,at\n%d,%d.5,n%d,2024-01-01 00:00:00\n%d,%d,m%d,2024-01-02 00:00:00\n' \$i \$i \$i \$i \$i \$i > \$d/f\$i.csv; done"
	crawl small "$TMP/small"
fi
if has_case big; then
	log "writing a $BIG_MB MB CSV file"
	as_db mkdir -p "$TMP/big"
	as_db bash -c "cd '$TMP/big' && { echo 'id,amount,name,at'; yes '123456,78.5,some name here,2024-01-01 00:00:00' | head -c $((BIG_MB * 1024 * 1024)); } > big.csv"
	crawl big "$TMP/big"
fi
log "server debug_assertions = $ASSERTS; an extension built with DEBUG=1 (-O0, assertions) gives pessimistic figures"
