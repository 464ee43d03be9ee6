#!/usr/bin/env bash
# stop-demo.sh - stop the private demo cluster started by ./demo.sh
# (.demo/data).  Its data stays; ./demo.sh starts it again, and
# `rm -rf .demo` removes it for good.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/harness/lib.sh
. "$ROOT/test/harness/lib.sh"

DATA=$ROOT/.demo/data

kg_stop_demo_gateway "$ROOT/.demo/gateway.pid"

if [[ ! -f $DATA/PG_VERSION ]]; then
	echo "no demo cluster in $DATA (./demo.sh creates it)"
	exit 0
fi
if ! kg_as_postgres pg_ctl -D "$DATA" status >/dev/null 2>&1; then
	echo "the demo cluster in $DATA is not running"
	exit 0
fi
kg_as_postgres pg_ctl -D "$DATA" stop -m fast -w
