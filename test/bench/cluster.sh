#!/usr/bin/env bash
# kinesis_glue benchmark: put_records through kinesis_cluster (PL/Proxy) with 1 and 2 nodes against
# one node directly; see test/bench/cluster.pl.  Uses the PostgreSQL of $PG_CONFIG (pg_config on
# PATH by default), which needs kinesis_glue installed and PL/Proxy (postgresql-15-plproxy).  Run as a
# user that may start servers (not root); prints the results (also in the temporary directory).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
BINDIR=$("$PG_CONFIG" --bindir)
PGXS=$(dirname "$("$PG_CONFIG" --pgxs)")
export PATH="$BINDIR:$PATH"
TMP=$(mktemp -d /tmp/kg_cluster_bench.XXXXXX)
cd "$TMP"
export TESTDIR=$TMP PG_REGRESS=$PGXS/../../src/test/regress/pg_regress
perl -I "$PGXS/../../src/test/perl" -I "$HERE/../perl" "$HERE/cluster.pl" || { tail -20 "$TMP"/tmp_check/log/regress_log_cluster >&2; exit 1; }
cat "$TMP/results.txt"
