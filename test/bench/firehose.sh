#!/usr/bin/env bash
# kinesis_glue benchmark, Firehose delivery (DESIGN.md, "Performance bars":
# stream -> table delivery throughput against a plain INSERT ... SELECT of
# the same rows in the same run, bar >= 0.7; and stream -> file throughput).
#
#   test/bench/firehose.sh     on its own: runs test/bench/run.sh with
#                              BENCH_CASES=firehose and BENCH_RETENTION=0
#                              (build, private cluster, no pgbench case),
#                              and run.sh comes back here at its end
#   . test/bench/firehose.sh   what run.sh does after consume.sh, while its
#                              cluster runs
#
# Input: FH_RECORDS JSON objects of about 100 bytes
#   {"id": 1, "qty": 1, "name": "customer-<md5>-<8 digits>", "price": 0.01}
# made once, as batches of 500 in fh_bench_src.  For every measured delivery
# a fresh Direct PUT delivery stream (buffering_size_mib => 128,
# buffering_interval => '900 s', so the worker does not deliver on its own)
# is loaded with all of them by put_record_batch, 500 per call (not
# measured); then VACUUM ANALYZE of its record table, CHECKPOINT, and a wait
# for other load on the machine to stop (run.sh's wait_quiet).
#
# Cases (appended to run.sh's report and to results-latest.txt):
#   7. stream -> table: the time of SELECT firehose.flush(...) (one
#      statement, one transaction, commit included, timed by psql's \timing)
#      delivering all records into fh_bench_dest(id, name, qty, price,
#      sequence_number, approximate_arrival_timestamp), 'columns' format;
#      against, in the same round, the baseline
#        INSERT INTO fh_bench_baseline SELECT r.id, r.name, r.qty, r.price,
#               s.sequence_number, s.approximate_arrival_timestamp
#          FROM fh_bench_stage s,
#               jsonb_populate_record(NULL::fh_bench_baseline, convert_from(s.data, 'UTF8')::jsonb) r
#      of the same records (fh_bench_stage holds the round's records read
#      back from the stream's record table, with their sequence numbers and
#      arrival times) into an identical empty table, so both sides write the
#      same rows (checked in round 1).  Both tables are truncated every
#      round; rounds alternate which side goes first.  Ratio = baseline time
#      / kinesis time; the median of the per-round ratios is held against
#      the bar >= 0.7.
#   8. stream -> files: flush of all records into a file destination
#      (file_format 'jsonlines'), uncompressed and GZIP, under a directory of
#      the cluster's temporary directory; records/s, MB/s of record data
#      (10^6 bytes) and MB/s of file bytes written; median over the rounds.
#      For reference (no bar): the time of
#        COPY (SELECT convert_from(data, 'UTF8') FROM fh_bench_stage) TO '<file>'
#      and of the same COPY TO PROGRAM 'gzip -c > <file>.gz'.  Firehose
#      objects are fsync'd before their rename; COPY's file is not.
#
# Settings (environment):
#   BENCH_FIREHOSE   1 runs these cases, 0 skips them; default: 1 unless
#                    BENCH_CASES is set and names no "firehose"
#   FH_RECORDS       records per delivery (default 200000; at most about
#                    1,200,000 so that they stay under the 128 MiB buffer)
#   FH_ROUNDS        rounds (default 3)
# and run.sh's (BENCH_QUIET_WAIT, BENCH_KEEP, ...; the cluster plumbing is
# run.sh's, test/bench/lib.sh).  A quick look:
#   BENCH_CASES=firehose BENCH_RETENTION=0 FH_ROUNDS=1 test/bench/run.sh
set -euo pipefail

if ! declare -F pgbench_tps >/dev/null 2>&1; then
	# run on its own: let run.sh set everything up and source us at its end
	HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	BENCH_CASES=${BENCH_CASES:-firehose} BENCH_RETENTION=${BENCH_RETENTION:-0} exec "$HERE/run.sh" "$@"
fi

# fh_timed SQL -> prints the milliseconds psql's \timing reports for SQL,
# run as one statement (its own transaction) after a CHECKPOINT and a wait
# for a quiet machine; its output goes to $FH_DIR/timed.out, the other load
# seen meanwhile is appended to $FH_DIR/busy.
fh_timed() {
	local sql=$1 out=$FH_DIR/timed.out pid rc=0 busy
	q "CHECKPOINT" >/dev/null || die "firehose bench: CHECKPOINT failed"
	wait_quiet
	"${PSQL[@]}" -At -d bench -c '\timing on' -c "$sql" >"$out" 2>&1 &
	pid=$!
	busy=$(busy_sampler "$pid")
	wait "$pid" || rc=$?
	echo "$busy" >>"$FH_DIR/busy"
	if [ $rc != 0 ] || grep -q -e '^ERROR' -e '^WARNING' "$out"; then
		cat "$out" >&2
		die "firehose bench: failed or warned: $sql"
	fi
	awk '/^Time: / { print $2; exit }' "$out"
}

# fh_create NAME ARGS...: a Direct PUT delivery stream that delivers only
# when flushed, loaded with the FH_RECORDS records; prints its record table
fh_create() {
	local name=$1 rt n i
	shift
	q "SELECT firehose.create_delivery_stream('$name', buffering_size_mib => 128,
	                                          buffering_interval => '900 s', $*)" >/dev/null ||
		die "firehose bench: could not create the delivery stream $name"
	"${PSQL[@]}" -d bench >/dev/null <<-EOF || die "firehose bench: put_record_batch into $name failed"
		SELECT format('SELECT count(*) FROM fh_bench_src s, firehose.put_record_batch(%L, s.datas) WHERE s.batch = %s',
		              '$name', batch)
		  FROM fh_bench_src ORDER BY batch \gexec
	EOF
	rt=$(q "SELECT record_table FROM kinesis.streams WHERE stream_name = 'firehose-$name'") || die "firehose bench: no record table"
	[ -n "$rt" ] || die "firehose bench: no internal stream firehose-$name"
	n=$(q "SELECT count(*) FROM $rt")
	[ "$n" = "$FH_N" ] || die "firehose bench: delivery stream $name holds $n records after the load, not $FH_N"
	# wait until readers may return the last record (the last stable
	# sequence); sequence numbers are (counter << 16) | shard index
	for i in $(seq 1 300); do
		n=$(q "SELECT count(*) FROM kinesis.read_shard('firehose-$name', 'shardId-000000000000',
		                                               (SELECT max(sequence_number) - 65536 FROM $rt), 1)")
		[ "$n" = 1 ] && break
		[ "$i" = 300 ] && die "firehose bench: the last record of firehose-$name is not readable after 30 s"
		sleep 0.1
	done
	q "VACUUM ANALYZE $rt" >/dev/null || die "firehose bench: VACUUM ANALYZE $rt failed"
	echo "$rt"
}

# fh_check_undelivered NAME: the worker delivered nothing on its own
fh_check_undelivered() {
	local d
	d=$(q "SELECT records_delivered FROM firehose.delivery_streams WHERE delivery_stream_name = '$1'")
	[ "$d" = 0 ] || die "firehose bench: the worker delivered $d records of $1 before the flush (buffering hints reached?)"
}

# fh_flush NAME -> prints the flush's ms; checks it took all records
fh_flush() {
	local ms got
	fh_check_undelivered "$1"
	ms=$(fh_timed "SELECT firehose.flush('$1')") || exit 1
	got=$(head -n 1 "$FH_DIR/timed.out")
	[ "$got" = "$FH_N" ] || { cat "$FH_DIR/timed.out" >&2; die "firehose bench: flush('$1') took $got records, not $FH_N"; }
	echo "$ms"
}

# fh_row LABEL "MS MS ..." FILE_BYTES BYTES: a line of case 8 (median ms)
fh_row() {
	local ms
	ms=$(echo "$2" | median)
	awk -v l="$1" -v ms="$ms" -v n="$FH_N" -v sz="$3" -v b="$4" 'BEGIN {
		printf "%-44s %10.1f %12.0f %10.1f %10.1f %12d\n", l, ms, n / ms * 1000, b / ms / 1000, sz / ms / 1000, sz
	}'
}

kg_bench_firehose() {
	local run=${BENCH_FIREHOSE:-} rounds r name rt k b ratio n bytes ndiff kl="" bl="" rl="" comp dir ms sz lines
	local -A fl fz
	local base_sql="INSERT INTO fh_bench_baseline
	    SELECT r.id, r.name, r.qty, r.price, s.sequence_number, s.approximate_arrival_timestamp
	      FROM fh_bench_stage s,
	           jsonb_populate_record(NULL::fh_bench_baseline, convert_from(s.data, 'UTF8')::jsonb) r"
	if [ -z "$run" ]; then
		run=1
		if [ -n "${BENCH_CASES:-}" ] && ! has_case firehose; then run=0; fi
	fi
	[ "$run" = 1 ] || return 0
	FH_N=${FH_RECORDS:-200000}
	rounds=${FH_ROUNDS:-3}
	FH_DIR=$TMP/firehose
	as_db mkdir -p "$FH_DIR/files"
	: >"$FH_DIR/busy"

	log "firehose: making $FH_N JSON records"
	q "CREATE TABLE fh_bench_src AS
	   SELECT (i - 1) / 500 AS batch,
	          array_agg(convert_to(jsonb_build_object('id', i, 'name', 'customer-' || md5(i::text) || '-' || lpad(i::text, 8, '0'),
	                                                  'qty', i % 100, 'price', round((i % 100000) / 100.0, 2))::text, 'UTF8')
	                    ORDER BY i) AS datas
	     FROM generate_series(1, $FH_N) i GROUP BY 1" >/dev/null
	bytes=$(q "SELECT sum(octet_length(d)) FROM fh_bench_src, unnest(datas) d")
	[ "$bytes" -lt $((120 * 1024 * 1024)) ] ||
		die "firehose bench: FH_RECORDS=$FH_N records ($bytes bytes) reach the 128 MiB buffering hint; take fewer"
	q "CREATE TABLE fh_bench_dest (id bigint, name text, qty int, price numeric, sequence_number bigint,
	                               approximate_arrival_timestamp timestamptz)" >/dev/null
	q "CREATE TABLE fh_bench_baseline (LIKE fh_bench_dest)" >/dev/null
	q "CREATE TABLE fh_bench_stage (data bytea, sequence_number bigint, approximate_arrival_timestamp timestamptz)" >/dev/null

	# --- 7. stream -> table ---------------------------------------------
	log "case 7: firehose stream -> table, $FH_N records, $rounds round(s)"
	for r in $(seq 1 "$rounds"); do
		name=fh_bench_t$r
		rt=$(fh_create "$name" "destination_table => 'fh_bench_dest'")
		q "TRUNCATE fh_bench_stage, fh_bench_dest, fh_bench_baseline" >/dev/null
		q "INSERT INTO fh_bench_stage SELECT data, sequence_number, approximate_arrival_timestamp
		     FROM $rt ORDER BY sequence_number" >/dev/null
		q "VACUUM ANALYZE fh_bench_stage" >/dev/null
		if [ $((r % 2)) = 1 ]; then
			k=$(fh_flush "$name"); b=$(fh_timed "$base_sql")
		else
			b=$(fh_timed "$base_sql"); k=$(fh_flush "$name")
		fi
		n=$(q "SELECT (SELECT count(*) FROM fh_bench_dest) || ' ' || (SELECT count(*) FROM fh_bench_baseline)")
		[ "$n" = "$FH_N $FH_N" ] || die "firehose bench: the tables hold $n rows, not $FH_N each"
		if [ "$r" = 1 ]; then
			ndiff=$(q "SELECT (SELECT count(*) FROM (TABLE fh_bench_dest EXCEPT ALL TABLE fh_bench_baseline) x)
			               + (SELECT count(*) FROM (TABLE fh_bench_baseline EXCEPT ALL TABLE fh_bench_dest) y)")
			[ "$ndiff" = 0 ] || die "firehose bench: delivery and baseline wrote different rows ($ndiff differ)"
		fi
		log "firehose table round $r: kinesis $k ms, baseline $b ms (other load: $(tail -n 2 "$FH_DIR/busy" | paste -sd' ') runnable)"
		kl="$kl $k"; bl="$bl $b"; rl="$rl $(awk -v k="$k" -v b="$b" 'BEGIN { printf "%.6f", (k > 0 ? b / k : 0) }')"
		q "SELECT firehose.delete_delivery_stream('$name')" >/dev/null
	done
	k=$(echo "$kl" | median); b=$(echo "$bl" | median); ratio=$(echo "$rl" | median)

	# --- 8. stream -> files (the stage holds the last round's records) --
	log "case 8: firehose stream -> files (jsonlines, uncompressed and GZIP), $FH_N records, $rounds round(s)"
	for r in $(seq 1 "$rounds"); do
		for comp in UNCOMPRESSED GZIP; do
			name=fh_bench_f${r}_$comp
			dir=$FH_DIR/files/$name
			as_db mkdir -p "$dir"
			fh_create "$name" "destination_directory => '$dir', file_format => 'jsonlines', compression => '$comp'" >/dev/null
			ms=$(fh_flush "$name")
			n=$(q "SELECT coalesce(sum(o.records), 0) FROM firehose.delivered_objects o
			         JOIN firehose.delivery_streams d USING (delivery_stream_id) WHERE d.delivery_stream_name = '$name'")
			[ "$n" = "$FH_N" ] || die "firehose bench: the objects of $name hold $n records, not $FH_N"
			sz=$(find "$dir" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
			if [ "$comp" = GZIP ]; then
				lines=$(find "$dir" -type f -name '*.gz' -exec zcat {} + | wc -l)
			else
				lines=$(find "$dir" -type f -exec cat {} + | wc -l)
			fi
			[ "$lines" = "$FH_N" ] || die "firehose bench: the files of $name hold $lines lines, not $FH_N"
			log "firehose files round $r, $comp: $ms ms, $sz bytes in $(find "$dir" -type f | wc -l) object(s)"
			fl[$comp]="${fl[$comp]:-} $ms"; fz[$comp]=$sz
			q "SELECT firehose.delete_delivery_stream('$name')" >/dev/null
			rm -rf "$dir"
		done
		ms=$(fh_timed "COPY (SELECT convert_from(data, 'UTF8') FROM fh_bench_stage) TO '$FH_DIR/files/copy.txt'")
		fl[copy]="${fl[copy]:-} $ms"; fz[copy]=$(stat -c %s "$FH_DIR/files/copy.txt")
		ms=$(fh_timed "COPY (SELECT convert_from(data, 'UTF8') FROM fh_bench_stage) TO PROGRAM 'gzip -c > $FH_DIR/files/copy.txt.gz'")
		fl[copygz]="${fl[copygz]:-} $ms"; fz[copygz]=$(stat -c %s "$FH_DIR/files/copy.txt.gz")
		log "firehose files round $r: COPY TO file ${fl[copy]##* } ms, COPY TO PROGRAM gzip ${fl[copygz]##* } ms"
		rm -f "$FH_DIR/files/copy.txt" "$FH_DIR/files/copy.txt.gz"
	done

	{
		echo
		echo "Firehose delivery (test/bench/firehose.sh), same server and run: $FH_N JSON records of" \
			"$(awk -v b="$bytes" -v n="$FH_N" 'BEGIN { printf "%.1f", b / n }') bytes on average, $rounds round(s)"
		printf "%-44s %10s %12s %10s %12s %7s %6s  %s\n" "case" "kin ms" "kin rec/s" "base ms" "base rec/s" "ratio" "bar" "verdict"
		awk -v l="7. stream -> table, flush of all records" -v k="$k" -v b="$b" -v r="$ratio" -v n="$FH_N" 'BEGIN {
			printf "%-44s %10.1f %12.0f %10.1f %12.0f %7.3f %6s  %s\n", l, k, n / k * 1000, b, n / b * 1000, r, ">=0.7", (r >= 0.7 ? "PASS" : "BELOW")
		}'
		echo "   (kinesis: SELECT firehose.flush() of a Direct PUT delivery stream into a table, 'columns' format;"
		echo "    base: INSERT INTO t SELECT r.*, metadata FROM stage, jsonb_populate_record(...) r of the same records;"
		echo "    ratio = base time / kinesis time, median of per-round ratios; times are medians, commit included)"
		echo
		printf "%-44s %10s %12s %10s %10s %12s\n" "case" "ms" "rec/s" "data MB/s" "file MB/s" "file bytes"
		fh_row "8. stream -> files, jsonlines" "${fl[UNCOMPRESSED]}" "${fz[UNCOMPRESSED]}" "$bytes"
		fh_row "8b. stream -> files, jsonlines, GZIP" "${fl[GZIP]}" "${fz[GZIP]}" "$bytes"
		fh_row "   ref: COPY (SELECT data) TO file" "${fl[copy]}" "${fz[copy]}" "$bytes"
		fh_row "   ref: COPY ... TO PROGRAM 'gzip -c > f'" "${fl[copygz]}" "${fz[copygz]}" "$bytes"
		echo "   (info, no bar; flush of a Direct PUT delivery stream, objects of up to 10,000 records, each fsync'd"
		echo "    and renamed at commit; data MB/s = record bytes, file MB/s = bytes written, MB = 10^6 bytes;"
		echo "    the COPYs write the same records from a table, without fsync)"
		awk '{ s += $1; if ($1 > m) m = $1 } END { printf "   other load on the machine during these runs: mean %.2f, max %.2f runnable processes (%s)\n", NR ? s / NR : 0, m, (m > 0.3 ? "WARNING: busy" : "quiet") }' "$FH_DIR/busy"
	} | tee -a "$RESULTS"
}
kg_bench_firehose
