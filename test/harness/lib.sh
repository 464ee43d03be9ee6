# Shared helpers of ./test.sh and ./demo.sh (sourced, not run).
#
#   kg_ensure_packages     install the missing Debian packages (root only)
#   kg_as_postgres CMD...  run CMD as the postgres user (or as ourselves
#                          when not root), with PostgreSQL 15's bin first
#                          in PATH
#   kg_make ARGS...        make with PG_CONFIG pointing at PostgreSQL 15
#   kg_stop_demo_gateway PIDFILE   stop the demo's wire gateway

PG_MAJOR=15
# KG_PGBIN: another (relocated) copy of PostgreSQL 15 to build and test
# against, so that two checkouts can run their suites side by side.
PGBIN=${KG_PGBIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PG_CONFIG=$PGBIN/pg_config
export PG_CONFIG
# initdb picks the encoding from the locale; make it the same everywhere.
export LANG=${LANG:-C.UTF-8}

KG_PACKAGES=(
	postgresql-$PG_MAJOR
	postgresql-server-dev-$PG_MAJOR
	postgresql-$PG_MAJOR-cron
	postgresql-$PG_MAJOR-pgtap
	postgresql-$PG_MAJOR-plproxy
	libtap-parser-sourcehandler-pgtap-perl
	libipc-run-perl
	prometheus-postgres-exporter
	build-essential
	zlib1g-dev
	# the wire gateway (gateway/) and its tests (test/t/097_gateway.pl)
	libevent-dev
	libnghttp2-dev
	libhttp-parser-dev
	libjson-c-dev
	libyajl-dev
	libcbor-dev
	libssl-dev
	libpq-dev
	nodejs
	python3-boto3
	awscli
)

kg_log() { printf '==> %s\n' "$*"; }
kg_die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

kg_is_root() { [[ $(id -u) -eq 0 ]]; }

# Install whichever of KG_PACKAGES is missing; apt-get update runs once, and
# only when something is missing.
kg_ensure_packages() {
	local missing=() p
	for p in "${KG_PACKAGES[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	if ! kg_is_root; then
		kg_die "missing packages: ${missing[*]} (run as root, or install them first)"
	fi
	kg_log "installing missing packages: ${missing[*]}"
	apt-get update || kg_die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" ||
		kg_die "apt-get install failed"
}

kg_make() {
	make PG_CONFIG="$PG_CONFIG" "$@"
}

# Run a command as the postgres user (initdb and postgres refuse root).
kg_as_postgres() {
	if kg_is_root; then
		runuser -u postgres -- env PATH="$PGBIN:$PATH" PG_CONFIG="$PG_CONFIG" \
			HOME=/var/lib/postgresql "$@"
	else
		env PATH="$PGBIN:$PATH" PG_CONFIG="$PG_CONFIG" "$@"
	fi
}

# True when the postgres user can reach and read directory $1.
kg_postgres_can_read() {
	kg_as_postgres test -r "$1" -a -x "$1"
}

# Stop the demo's wire gateway whose pid is in $1 (only when that pid is
# still a kinesis_glue_gateway), and remove the file.
kg_stop_demo_gateway() {
	local pidfile=$1 pid
	[[ -f $pidfile ]] || return 0
	pid=$(cat "$pidfile")
	if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q kinesis_glue_gateway; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$pidfile"
}
