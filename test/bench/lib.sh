# shellcheck shell=bash
# kinesis_glue benchmarks: the plumbing of a private cluster, shared by the
# scripts of test/bench (sourced, never run).
#
#   HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
#   . "$HERE/lib.sh"
#   kg_bench_init NAME          log prefix "[NAME hh:mm:ss]"; sets the
#                               variables below and defines as_db
#   kg_bench_tmpdir PREFIX      TMP=mktemp -d $BENCH_TMPDIR/PREFIX.XXXXXX,
#                               owned by the server's user; PGDATA_DIR, SOCK
#                               (= TMP), SERVER_LOG; installs the EXIT trap
#   kg_bench_attach DIR         the same variables for a cluster kept in DIR
#                               by another run (no trap; profile.sh)
#   kg_bench_initdb <<EOF       initdb (trust, UTF8, locale C, owner DBUSER)
#   <postgresql.conf lines>     and a postgresql.conf for a socket-only
#   EOF                         server (listen_addresses '', port PORT,
#                               socket in SOCK, kinesis_glue preloaded),
#                               then the lines given on stdin
#   kg_bench_start              pg_ctl start (dies with the log's tail)
#   kg_bench_stop [MODE]        pg_ctl stop (default: immediate)
#   q SQL                       one statement through psql -At, database
#                               $KG_DB (default postgres), ON_ERROR_STOP
#   "${PSQL[@]}" -d DB ...      psql with the connection options
#
# Optional, for scripts that measure a build of the work tree (run.sh):
#   kg_bench_build              builds an optimised copy (BENCH_SOURCE,
#                               BENCH_BUILD_DIR, BENCH_NO_BUILD; see run.sh)
#   kg_bench_start_build        kg_bench_start that installs the build first
#                               (as root, when it differs) and restarts until
#                               the server loaded that build (its parts:
#                               kg_bench_install_build, kg_bench_loaded_is_build)
# and for scripts that compare runs on a shared machine:
#   wait_quiet                  waits up to BENCH_QUIET_WAIT s (default 60)
#                               for two quiet seconds
#   busy_sampler PID            mean count of other runnable processes
#                               while PID runs
#   median                      median of the numbers on stdin
#
# Variables set by kg_bench_init: HERE (test/bench), ROOT, PG_CONFIG,
# BINDIR (kept when the caller set it, e.g. from BENCH_BINDIR), LIBDIR,
# EXTDIR, DBUSER (kept when set; else postgres as root, the caller
# otherwise), PORT (kept when set; else BENCH_PORT or 5498).
# Hooks the caller may define: kg_bench_on_exit (runs first at exit, e.g. to
# stop a load), KG_BENCH_EXTERNAL=1 (the server is not ours: exit neither
# stops it nor keeps it, and removes TMP).
# Environment read here: BENCH_TMPDIR (parent of TMP, default /tmp),
# BENCH_KEEP=1 (keep TMP and leave the server running at exit).
# Scripts run as root run the server and its tools as the OS user postgres;
# psql and pgbench connect over the socket only.

# kg_bench_init NAME: common variables, log/die/as_db
kg_bench_init() {
	KG_BENCH_NAME=$1
	HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	ROOT=$(cd "$HERE/../.." && pwd)
	PG_CONFIG=${PG_CONFIG:-pg_config}
	BINDIR=${BINDIR:-$("$PG_CONFIG" --bindir)}
	LIBDIR=$("$PG_CONFIG" --pkglibdir)
	EXTDIR=$("$PG_CONFIG" --sharedir)/extension
	PORT=${PORT:-${BENCH_PORT:-5498}}
	KG_DB=${KG_DB:-postgres}
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root needs an OS user 'postgres' to own the cluster"
		DBUSER=${DBUSER:-postgres}
		as_db() { runuser -u postgres -- "$@"; }
	else
		DBUSER=${DBUSER:-$(id -un)}
		as_db() { "$@"; }
	fi
}

log() { printf '[%s %s] %s\n' "${KG_BENCH_NAME:-bench}" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# kg_bench_tmpdir PREFIX: the run's directory and the exit trap
kg_bench_tmpdir() {
	TMP=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/$1.XXXXXX")
	[ "$(id -u)" != 0 ] || chown postgres: "$TMP"
	kg_bench_attach "$TMP"
	trap kg_bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# kg_bench_attach DIR: the variables of a cluster made in DIR by another
# run (BENCH_KEEP=1), without the exit trap
kg_bench_attach() {
	TMP=${1%/}
	PGDATA_DIR=$TMP/data
	SOCK=$TMP
	SERVER_LOG=$TMP/server.log
	PSQL=("$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U "$DBUSER")
}

# kg_bench_cleanup: the EXIT trap; keeps the exit status
kg_bench_cleanup() {
	local rc=$?
	! declare -F kg_bench_on_exit >/dev/null || kg_bench_on_exit || true
	if [ "${KG_BENCH_EXTERNAL:-0}" = 1 ]; then
		rm -rf "$TMP"
	elif [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "kept the cluster: $PGDATA_DIR (socket $SOCK, port $PORT); stop it with: pg_ctl -D $PGDATA_DIR stop"
	else
		kg_bench_stop immediate
		rm -rf "$TMP"
	fi
	exit $rc
}

# kg_bench_initdb: a new cluster in PGDATA_DIR; stdin: extra conf lines
kg_bench_initdb() {
	log "initdb in $PGDATA_DIR"
	as_db "$BINDIR/initdb" -D "$PGDATA_DIR" -U "$DBUSER" --auth=trust --no-instructions -E UTF8 --locale=C >"$TMP/initdb.log" 2>&1 ||
		{ cat "$TMP/initdb.log" >&2; die "initdb failed"; }
	{
		printf "\n# --- kinesis_glue benchmark (%s) ---\n" "$KG_BENCH_NAME"
		printf "listen_addresses = ''\nport = %s\nunix_socket_directories = '%s'\n" "$PORT" "$SOCK"
		printf "shared_preload_libraries = 'kinesis_glue'\n"
		cat
	} >>"$PGDATA_DIR/postgresql.conf"
}

kg_bench_start() {
	as_db "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$SERVER_LOG" -w start >/dev/null ||
		{ tail -n 30 "$SERVER_LOG" >&2; die "server did not start"; }
}

kg_bench_stop() {
	as_db "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -m "${1:-immediate}" -w stop >/dev/null 2>&1 || true
}

# q SQL [psql options]: prints the result unaligned, tuples only
q() { "${PSQL[@]}" -At -d "$KG_DB" -c "$@"; }

# --- an optimised build of the sources -----------------------------------
# The work tree's own objects may be a DEBUG=1 build (-O0, assertions), so a
# benchmark of the sources builds its own copy.  Sets BUILD, SOURCE,
# SOURCE_SHA, GIT, USE_BUILD (1: install and check the library of $BUILD)
# and INSTALLED_DIFFERS.
kg_bench_build() {
	local f stage
	SOURCE=${BENCH_SOURCE:-worktree}
	GIT=(git -c safe.directory="$ROOT" -C "$ROOT")
	if [ "$SOURCE" = worktree ]; then
		BUILD=${BENCH_BUILD_DIR:-$HERE/tmp/build}
	else
		SOURCE_SHA=$("${GIT[@]}" rev-parse --verify "$SOURCE^{commit}") || die "BENCH_SOURCE=$SOURCE is not a commit"
		BUILD=${BENCH_BUILD_DIR:-$HERE/tmp/build-${SOURCE_SHA:0:12}}
	fi
	USE_BUILD=1
	INSTALLED_DIFFERS=0
	if [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
		[ -n "${BENCH_BUILD_DIR:-}" ] || USE_BUILD=0
		[ $USE_BUILD = 0 ] || [ -e "$BUILD/kinesis_glue.so" ] || die "no kinesis_glue.so in BENCH_BUILD_DIR=$BUILD"
		return 0
	fi
	mkdir -p "$BUILD" 2>/dev/null && [ -w "$BUILD" ] || BUILD=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/kg_bench_build.XXXXXX")
	log "building an optimised copy of the extension ($SOURCE) in $BUILD"
	if [ "$SOURCE" = worktree ]; then
		# copy the sources (and the install's other files: released scripts,
		# cluster/); only the files that changed, which get a new mtime, so
		# make rebuilds exactly what changed (a file edited while an earlier
		# build ran is older than its object, but differs)
		# The current version's install script is generated from the
		# component files (the Makefile's DATA_built): never copied, since a
		# stale copy with a new mtime would look up to date to make.
		stage=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/kg_bench_src.XXXXXX")
		built=kinesis_glue--$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$ROOT/kinesis_glue.control").sql
		(cd "$ROOT" && { find src cluster -type f \( -name '*.c' -o -name '*.h' -o -name '*.sql' -o -name '*.control' \) -print0
			find . -maxdepth 1 -name 'kinesis_glue--*.sql' ! -name "$built" -printf '%P\0'; } |
			tar --null -cf - Makefile kinesis_glue.control -T -) | tar -C "$stage" -xf -
		(cd "$stage" && find . -type f -print) | while read -r f; do
			cmp -s "$stage/$f" "$BUILD/$f" || { mkdir -p "$(dirname "$BUILD/$f")" && cp "$stage/$f" "$BUILD/$f"; }
		done
		rm -rf "$stage"
		# drop sources that no longer exist in the work tree
		(cd "$BUILD" && find src -type f \( -name '*.c' -o -name '*.h' -o -name '*.sql' \) -print) |
			while read -r f; do [ -e "$ROOT/$f" ] || rm -f "$BUILD/$f"; done
	elif [ ! -e "$BUILD/Makefile" ]; then
		# one build directory per commit
		"${GIT[@]}" archive "$SOURCE_SHA" | tar -C "$BUILD" -xf -
	fi
	# the extension only: the sources copied hold no gateway/
	make -C "$BUILD" -s -j"$(nproc)" DEBUG= GATEWAY_LIBS_OK=no PG_CONFIG="$PG_CONFIG" >/dev/null ||
		die "build failed (make -C $BUILD)"
}

# Install the build when the installed files differ.  Called right before the
# server starts: someone else on the machine may install another build of
# kinesis_glue (e.g. a DEBUG=1 one) at any time.
kg_bench_install_build() {
	local need=0 f
	cmp -s "$BUILD/kinesis_glue.so" "$LIBDIR/kinesis_glue.so" || need=1
	cmp -s "$BUILD/kinesis_glue.control" "$EXTDIR/kinesis_glue.control" || need=1
	for f in "$BUILD"/kinesis_glue--*.sql; do
		cmp -s "$f" "$EXTDIR/$(basename "$f")" || need=1
	done
	[ $need = 1 ] || return 0
	if [ "$(id -u)" != 0 ]; then
		log "WARNING: the installed kinesis_glue differs from the build of the sources and only root can install it; measuring the installed one"
		INSTALLED_DIFFERS=1
		USE_BUILD=0
		return 0
	fi
	log "installing the optimised build (make install)"
	make -C "$BUILD" -s DEBUG= GATEWAY_LIBS_OK=no PG_CONFIG="$PG_CONFIG" install >/dev/null || die "make install failed"
}

# Is the library the postmaster mapped the one built here?  (root reads the
# mapped file itself; otherwise compare with the installed file)
kg_bench_loaded_is_build() {
	local pm range
	pm=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
	range=$(awk '/\/kinesis_glue\.so/ { print $1; exit }' "/proc/$pm/maps" 2>/dev/null)
	[ -n "$range" ] || return 1
	if [ -r "/proc/$pm/map_files/$range" ]; then
		cmp -s "/proc/$pm/map_files/$range" "$BUILD/kinesis_glue.so"
	else
		cmp -s "$LIBDIR/kinesis_glue.so" "$BUILD/kinesis_glue.so"
	fi
}

# kg_bench_start_build: start the server on the build of kg_bench_build
kg_bench_start_build() {
	local attempt
	for attempt in 1 2 3 4 5; do
		[ $USE_BUILD = 0 ] || kg_bench_install_build
		kg_bench_start
		{ [ $USE_BUILD = 0 ] || kg_bench_loaded_is_build; } && return 0
		[ $attempt = 5 ] && die "the server keeps loading another kinesis_glue.so than $BUILD/kinesis_glue.so (someone else is installing builds)"
		log "the server loaded another build of kinesis_glue.so (replaced meanwhile); restarting"
		kg_bench_stop fast
		sleep 1
	done
}

# --- other load on a shared machine ---------------------------------------
# Runnable processes that are neither this server's nor PID's (nor kernel
# threads nor this shell's) skew a run.
# foreign_runnable [PID] -> prints the count now
foreign_runnable() {
	local pm
	pm=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
	ps -e -o stat=,pid=,ppid=,comm= | awk -v pm="$pm" -v pb="${1:-0}" -v me="$BASHPID" \
		'$1 ~ /^R/ && $4 != "ps" && $2 != pm && $3 != pm && $2 != pb && $3 != pb && $3 != 2 && $2 != 2 && $3 != me && $2 != me { n++ } END { print n + 0 }'
}
# busy_sampler PID -> prints the mean count (sampled 5 times a second) while PID runs
busy_sampler() {
	local pid=$1 n=0 sum=0
	while kill -0 "$pid" 2>/dev/null; do
		sum=$((sum + $(foreign_runnable "$pid"))); n=$((n + 1))
		sleep 0.2
	done
	awk -v s="$sum" -v n="$n" 'BEGIN { printf "%.2f\n", n ? s / n : 0 }'
}
# wait_quiet: up to BENCH_QUIET_WAIT seconds (default 60) for two quiet seconds
wait_quiet() {
	local deadline=$((SECONDS + ${BENCH_QUIET_WAIT:-60})) quiet=0 told=0
	while [ $SECONDS -lt $deadline ]; do
		if [ "$(foreign_runnable)" = 0 ]; then quiet=$((quiet + 1)); else quiet=0; fi
		[ $quiet -ge 10 ] && return 0
		if [ $quiet = 0 ] && [ $told = 0 ]; then log "waiting for other load on the machine to stop (up to ${BENCH_QUIET_WAIT:-60} s)"; told=1; fi
		sleep 0.2
	done
	log "the machine is still busy; measuring anyway"
}

median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
