#!/usr/bin/env bash
# test.sh - run every test layer of kinesis_glue and print one summary line.
#
#   ./test.sh            as root on Debian 12 (installs missing packages) or
#                        as a user that can run `make install`
#
# Layers, each on its own private server:
#   regress    pg_regress over sql/*.sql            (make regresscheck)
#   isolation  isolation specs test/specs/*.spec    (make isolationcheck)
#   tap        Perl TAP tests test/t/*.pl           (make tapcheck)
#   pgtap      pgTAP files test/pgtap/*.sql         (pg_prove, cluster in tmp_check_pgtap)
#
# Counting: regress and isolation count test files; tap and pgtap count
# assertions (prove's Tests=N minus the failed ones).  A test script that
# dies, a bad plan, or a layer that cannot run counts as one failure.
# The last line of output is always "N passed, N failed"; the exit status
# is non-zero when N failed is not 0.
#
# Settings (environment): KG_TIMEOUT_REGRESS, KG_TIMEOUT_ISOLATION,
# KG_TIMEOUT_TAP, KG_TIMEOUT_PGTAP (seconds per layer), KG_PROVE_FLAGS,
# KG_LAYERS (e.g. "regress tap" to run a subset), KG_TAP_FILES (e.g.
# "test/t/001_workers.pl" to run only those TAP files), KG_PGBIN (a relocated
# copy of PostgreSQL 15 to test against), KG_PGTAP_PORT.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT" || exit 1
# shellcheck source=test/harness/lib.sh
. "$ROOT/test/harness/lib.sh"

LAYERS=${KG_LAYERS:-regress isolation tap pgtap}
TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()
# How much of a diff or log to show (everything in CI).
if [[ "${CI:-}" == "true" ]]; then SHOW_LINES=100000; else SHOW_LINES=300; fi

# Record one layer's result: record LAYER PASSED FAILED [NOTE]
record() {
	local layer=$1 passed=$2 failed=$3 note=${4:-}
	TOTAL_PASSED=$((TOTAL_PASSED + passed))
	TOTAL_FAILED=$((TOTAL_FAILED + failed))
	SUMMARY+=("$(printf '  %-10s %5d passed, %d failed%s' "$layer" "$passed" "$failed" "${note:+  ($note)}")")
	printf -- '--> %s: %d passed, %d failed%s\n' "$layer" "$passed" "$failed" "${note:+  ($note)}"
}

finish() {
	echo
	echo "==================== summary ===================="
	local line
	for line in "${SUMMARY[@]}"; do echo "$line"; done
	# a copy made because postgres could not reach the tree: keep it only
	# when something failed, for its logs
	if [[ -n ${WORKDIR:-} && $WORKDIR != "$ROOT" ]]; then
		if [[ $TOTAL_FAILED -eq 0 ]]; then
			cd / && rm -rf "$WORKDIR"
		else
			echo "  (test outputs are in $WORKDIR)"
		fi
	fi
	echo "${TOTAL_PASSED} passed, ${TOTAL_FAILED} failed"
	[[ $TOTAL_FAILED -eq 0 ]]
	exit $?
}

# Print a file, or its first $SHOW_LINES lines.
show_head() {
	local f=$1 n
	[[ -s "$f" ]] || return 0
	n=$(wc -l <"$f")
	echo "----- $f ($n lines) -----"
	head -n "$SHOW_LINES" "$f"
	[[ $n -gt $SHOW_LINES ]] && echo "----- ... $((n - SHOW_LINES)) more lines in $f -----"
	return 0
}

# Print the last $2 lines of a file.
show_tail() {
	local f=$1 n=${2:-80}
	[[ -s "$f" ]] || return 0
	echo "----- tail of $f -----"
	tail -n "$n" "$f"
}

# After a failed run: the crashes and assertion failures in a server log,
# then its tail.
show_server_trouble() {
	local f=$1
	[[ -s "$f" ]] || return 0
	if grep -qE 'TRAP:|PANIC:|terminated by signal|exited with exit code [^01]' "$f"; then
		echo "----- crashes in $f -----"
		grep -E -B2 -A2 'TRAP:|PANIC:|terminated by signal|exited with exit code [^01]' "$f" | head -n 60
	fi
	show_tail "$f" 30
}

# Stop servers left behind by an interrupted or timed-out run.
sweep_servers() {
	local pidfile
	while IFS= read -r pidfile; do
		kg_as_postgres pg_ctl -D "$(dirname "$pidfile")" stop -m immediate >/dev/null 2>&1 || true
	done < <(find "$WORKDIR" -maxdepth 5 -path "$WORKDIR/tmp_check*" -name postmaster.pid 2>/dev/null)
}

# Run a layer command as postgres with a timeout, output to the terminal and
# to $2.  Returns the command's exit status (124 on timeout).
run_layer() {
	local secs=$1 log=$2
	shift 2
	kg_as_postgres timeout --kill-after=15 "$secs" "$@" 2>&1 | tee "$log"
	return "${PIPESTATUS[0]}"
}

# True when a layer's status says timeout killed it; then stops the servers
# it left behind.
timed_out() {
	[[ $1 -eq 124 || $1 -eq 137 ]] || return 1
	echo "!!! timed out (raise KG_TIMEOUT_<LAYER> if the tests are just slow)"
	sweep_servers
	return 0
}

# Count pg_regress / pg_isolation_regress results in a log: sets PASSED FAILED.
# PG 15 prints "test NAME ... ok 12 ms", "     NAME ... FAILED 12 ms" (in a
# parallel group) or "... failed (ignored)"; PG 16+ print TAP lines
# "ok 1 - NAME" / "not ok 1 - NAME".
count_pg_regress() {
	local log=$1
	PASSED=$(grep -cE '\.\.\. +ok( |$)|\.\.\. +failed \(ignored\)|^ok [0-9]+ ' "$log")
	FAILED=$(grep -cE '\.\.\. +FAILED|^not ok [0-9]+' "$log")
}

# Count a prove / pg_prove log: sets PASSED FAILED, and BAD_FILES to the test
# files that failed.  Tests=N is the number of assertions run; in the "Test
# Summary Report" each failed file has a line "FILE (Wstat: W Tests: N
# Failed: F)": F assertions failed, or (F = 0) the script died or had a bad
# plan, which counts as one failure.
count_prove() {
	local log=$1 out
	out=$(awk '
		/^Files=[0-9]+, Tests=[0-9]+/ { sub(/^Files=[0-9]+, Tests=/, ""); sub(/,.*/, ""); total = $0 + 0; seen = 1 }
		/^[^ ].* \(Wstat: [0-9]+.* Tests: [0-9]+ Failed: [0-9]+\)/ {
			line = $0; f = line; sub(/.*Failed: /, "", f); sub(/\).*/, "", f); f += 0
			file = line; sub(/ +\(Wstat:.*/, "", file)
			nfailed += f; penalty += (f == 0); bad = bad " " file
		}
		/^Result: FAIL/ { result_fail = 1 }
		END {
			if (!seen) { print "-1 -1"; exit }
			failed = nfailed + penalty
			if (result_fail && failed == 0) failed = 1
			print total - nfailed, failed, bad
		}' "$log")
	read -r PASSED FAILED BAD_FILES <<<"$out"
}

# ---------------------------------------------------------------------------
# Setup: packages, build (assertions on), install.

kg_ensure_packages

WORKDIR=$ROOT
sweep_servers
rm -rf "$ROOT/tmp_check_pgtap" "$ROOT/tmp_check_harness"

BUILD_LOG=$(mktemp /tmp/kinesis_glue-build.XXXXXX)
kg_log "building with assertions and -Werror (make clean; make DEBUG=1 WERROR=1)"
if ! { kg_make clean && kg_make DEBUG=1 WERROR=1 -j"$(nproc)"; } >"$BUILD_LOG" 2>&1; then
	tail -n 60 "$BUILD_LOG"
	rm -f "$BUILD_LOG"
	record build 0 1 "make DEBUG=1 WERROR=1 failed"
	finish
fi
kg_log "installing (make install)"
if ! kg_make install >>"$BUILD_LOG" 2>&1; then
	tail -n 30 "$BUILD_LOG"
	rm -f "$BUILD_LOG"
	record build 0 1 "make install failed"
	finish
fi
rm -f "$BUILD_LOG"

# initdb refuses root: the layers run as postgres, which needs to write in
# the tree.  The top directory and .git keep their owner, so that git keeps
# working for root; the top directory is made group-writable for postgres.
# When postgres cannot reach the tree at all (e.g. under /root), the tests
# run in a copy under /tmp.
if kg_is_root; then
	if kg_postgres_can_read "$ROOT"; then
		find "$ROOT" -mindepth 1 -maxdepth 1 ! -name .git -exec chown -R postgres:postgres {} +
		chgrp postgres "$ROOT" && chmod g+rwx "$ROOT"
	else
		WORKDIR=$(mktemp -d /tmp/kinesis_glue-test.XXXXXX)
		kg_log "postgres cannot reach $ROOT; testing in a copy at $WORKDIR"
		tar -C "$ROOT" --exclude=./.git -cf - . | tar -C "$WORKDIR" -xf -
		chown -R postgres:postgres "$WORKDIR"
	fi
fi
cd "$WORKDIR" || exit 1

# The released 0.1.0 sources (commit 6194b42) for test/t/096_upgrade.pl,
# which builds them to upgrade from.
if [[ -z ${KG_RELEASE_SRC:-} ]] && git -C "$ROOT" cat-file -e 6194b42 2>/dev/null; then
	KG_RELEASE_SRC=$(mktemp -d /tmp/kinesis_glue-0.1.0.XXXXXX)
	git -C "$ROOT" archive 6194b42 | tar -C "$KG_RELEASE_SRC" -xf -
	kg_is_root && chown -R postgres:postgres "$KG_RELEASE_SRC"
	export KG_RELEASE_SRC
fi
LOGDIR=$WORKDIR/tmp_check_harness
mkdir -p "$LOGDIR"

# ---------------------------------------------------------------------------
# Layers.

# layer_pg_regress NAME GLOB MAKE_TARGET DIFFS POSTMASTER_LOG TIMEOUT: a
# pg_regress-style layer (regress, isolation), counted per test file.
layer_pg_regress() {
	local name=$1 glob=$2 target=$3 diffs=$4 pmlog=$5 timeout=$6
	local log=$LOGDIR/$name.log rc
	if ! compgen -G "$glob" >/dev/null; then record "$name" 0 0 "no tests"; return; fi
	kg_log "$name: make $target"
	run_layer "$timeout" "$log" make PG_CONFIG="$PG_CONFIG" "$target"
	rc=$?
	count_pg_regress "$log"
	[[ -f $diffs && $FAILED -gt 0 ]] && show_head "$diffs"
	[[ $rc -ne 0 ]] && show_server_trouble "$pmlog"
	if timed_out $rc; then
		record "$name" "$PASSED" $((FAILED + 1)) "timed out"
		return
	fi
	if [[ $rc -ne 0 && $FAILED -eq 0 ]]; then
		record "$name" "$PASSED" 1 "make $target failed with status $rc"
		return
	fi
	record "$name" "$PASSED" "$FAILED"
}

layer_regress() {
	layer_pg_regress regress 'sql/*.sql' regresscheck regression.diffs log/postmaster.log \
		"${KG_TIMEOUT_REGRESS:-300}"
}

layer_isolation() {
	layer_pg_regress isolation 'test/specs/*.spec' isolationcheck output_iso/regression.diffs \
		output_iso/log/postmaster.log "${KG_TIMEOUT_ISOLATION:-300}"
}

layer_tap() {
	local log=$LOGDIR/tap.log rc f name
	if ! compgen -G 'test/t/*.pl' >/dev/null; then record tap 0 0 "no tests"; return; fi
	kg_log "tap: make tapcheck"
	run_layer "${KG_TIMEOUT_TAP:-1500}" "$log" make PG_CONFIG="$PG_CONFIG" \
		${KG_PROVE_FLAGS:+PROVE_FLAGS="$KG_PROVE_FLAGS"} \
		${KG_TAP_FILES:+PROVE_TESTS="$KG_TAP_FILES"} tapcheck
	rc=$?
	count_prove "$log"
	if [[ $PASSED -lt 0 ]]; then
		timed_out $rc
		record tap 0 1 "prove did not finish (status $rc)"
		return
	fi
	for f in $BAD_FILES; do
		name=$(basename "$f" .pl)
		show_tail "tmp_check/log/regress_log_$name" 80
		for node_log in tmp_check/log/"${name}"_*.log; do
			[[ -f $node_log ]] && show_tail "$node_log" 30
		done
	done
	record tap "$PASSED" "$FAILED"
}

PGTAP_DIR=$WORKDIR/tmp_check_pgtap
PGTAP_PORT=${KG_PGTAP_PORT:-54329}
PGTAP_DB=kg_pgtap

pgtap_stop() {
	[[ -f $PGTAP_DIR/data/postmaster.pid ]] &&
		kg_as_postgres pg_ctl -D "$PGTAP_DIR/data" stop -m fast -w >/dev/null 2>&1
	return 0
}

# Start the pgTAP cluster: initdb, settings of test/regress.conf, private
# socket directory, no TCP; a fresh database with pgtap and kinesis_glue.
pgtap_start() {
	local sock=$PGTAP_DIR/run
	kg_as_postgres mkdir -p "$PGTAP_DIR" || return 1
	# a Unix socket path must stay under 107 bytes
	if [[ ${#sock} -gt 90 ]]; then
		sock=$(kg_as_postgres mktemp -d /tmp/kg_pgtap.XXXXXX) || return 1
	else
		kg_as_postgres mkdir -p "$sock" || return 1
	fi
	PGTAP_SOCK=$sock
	kg_as_postgres initdb -D "$PGTAP_DIR/data" -A trust -U postgres --no-instructions \
		>"$PGTAP_DIR/initdb.log" 2>&1 || { show_tail "$PGTAP_DIR/initdb.log" 30; return 1; }
	{
		echo "# test.sh: pgTAP cluster"
		cat test/regress.conf
		echo "port = $PGTAP_PORT"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$sock'"
		echo "fsync = off"
	} | kg_as_postgres tee -a "$PGTAP_DIR/data/postgresql.conf" >/dev/null
	kg_as_postgres pg_ctl -D "$PGTAP_DIR/data" -l "$PGTAP_DIR/postmaster.log" -w -t 60 start \
		>/dev/null || { show_tail "$PGTAP_DIR/postmaster.log" 30; return 1; }
	kg_as_postgres createdb -h "$sock" -p "$PGTAP_PORT" -U postgres "$PGTAP_DB" || return 1
	kg_as_postgres psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$PGTAP_PORT" -U postgres -d "$PGTAP_DB" \
		-c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION kinesis_glue' || return 1
}

layer_pgtap() {
	local log=$LOGDIR/pgtap.log rc
	if ! compgen -G 'test/pgtap/*.sql' >/dev/null; then record pgtap 0 0 "no tests"; return; fi
	kg_log "pgtap: pg_prove test/pgtap/*.sql on a private cluster in tmp_check_pgtap"
	if ! pgtap_start; then
		pgtap_stop
		record pgtap 0 1 "could not start the pgTAP cluster"
		return
	fi
	run_layer "${KG_TIMEOUT_PGTAP:-180}" "$log" pg_prove -h "$PGTAP_SOCK" -p "$PGTAP_PORT" \
		-U postgres -d "$PGTAP_DB" test/pgtap/*.sql
	rc=$?
	timed_out $rc
	pgtap_stop
	count_prove "$log"
	if [[ $PASSED -lt 0 ]]; then
		show_tail "$PGTAP_DIR/postmaster.log" 40
		record pgtap 0 1 "pg_prove did not finish (status $rc)"
		return
	fi
	[[ $FAILED -gt 0 ]] && show_tail "$PGTAP_DIR/postmaster.log" 40
	record pgtap "$PASSED" "$FAILED"
}

trap 'pgtap_stop' EXIT
for layer in $LAYERS; do
	case $layer in
	regress | isolation | tap | pgtap) "layer_$layer" ;;
	*) record "$layer" 0 1 "unknown layer" ;;
	esac
done
finish
