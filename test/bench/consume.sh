#!/usr/bin/env bash
# kinesis_glue benchmark, named consumers: consume throughput and the
# latency of a waiting consume (DESIGN.md, "Performance bars":
# "commit of a put -> a waiting consume returns", p99 < 10 ms).
#
#   test/bench/consume.sh      on its own: runs test/bench/run.sh with
#                              BENCH_CASES="get consume" (build, private
#                              cluster, the get_records case), and run.sh
#                              comes back here at its end
#   . test/bench/consume.sh    what the last line of run.sh does, while its
#                              cluster runs; skipped when BENCH_CASES is
#                              set and names no "consume"
#
# Cases (appended to run.sh's report and to results-latest.txt):
#   5. consume of 10,000 records per call, committing each call, 1 client,
#      on run.sh's 'bench_get' stream (1 shard, 10,500 records): each
#      transaction is consume(max_records => 10000) then a checkpoint back
#      to the first record (so every call reads the same 10,000 records);
#      compared with case 3 (get_shard_iterator + get_records of the same
#      10,000 records) of the same run.  Information, no bar.
#   6. wait latency: consume_latency.c (built here with libpq) runs
#      BENCH_WAIT_ITERATIONS (default 2000) rounds of: a consume waiting
#      (wait => '5 s') in one connection while a producer's put is
#      uncommitted in another; once the monitor sees the consume asleep in
#      its wait, the producer commits.  Times are taken on one client clock:
#        COMMIT sent -> record returned     (includes the commit's own WAL
#                                            flush: an upper bound; the bar
#                                            is checked on this one)
#        COMMIT acknowledged -> returned     (after the producer saw its
#                                            commit; may be negative)
#        the COMMIT round trip itself
#      and printed as p50, p90, p99, max and mean in ms.
#
# Settings: BENCH_WAIT_ITERATIONS; the others are run.sh's (BENCH_DURATION,
# BENCH_ROUNDS, ...).  The cluster plumbing is run.sh's (test/bench/lib.sh).

if ! declare -F pgbench_tps >/dev/null 2>&1; then
	# run on its own: let run.sh set everything up and source us at its end
	HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	BENCH_CASES=${BENCH_CASES:-"get consume"} exec "$HERE/run.sh" "$@"
fi

kg_bench_consume() {
	local first n ks kl="" cons get_k rl="" lat_bin lat_out iters conninfo
	if [ -n "${BENCH_CASES:-}" ] && ! has_case consume; then
		return 0
	fi
	iters=${BENCH_WAIT_ITERATIONS:-2000}

	# --- 5. consume throughput --------------------------------------------
	log "case 5: consume, 10,000 records per call, commit each call, 1 client"
	q "SELECT kinesis.register_stream_consumer('bench_get', 'bench')" >/dev/null
	first=$(q "SELECT sequence_number FROM kinesis.read_shard('bench_get', 'shardId-000000000000', NULL, 1)")
	q "SELECT kinesis.checkpoint('bench_get', 'bench', 'shardId-000000000000', $first)" >/dev/null
	n=$(q "SELECT count(*) FROM kinesis.consume('bench_get', 'bench', 10000)")
	[ "$n" = 10000 ] || die "consume returned $n records, not 10000"
	q "VACUUM ANALYZE kinesis.consumer_shards" >/dev/null
	for r in $(seq 1 "$ROUNDS"); do
		ks=$(pgbench_tps 1 consume_kinesis.sql -D first="$first")
		if [ -n "${TPS_K[get]:-}" ]; then
			get_k=${TPS_K[get]}
		else
			get_k=$(pgbench_tps 1 get_records_kinesis.sql)
		fi
		log "consume round $r: $ks calls/s (get_records: $get_k calls/s)"
		kl="$kl $ks"
		rl="$rl $(awk -v k="$ks" -v b="$get_k" 'BEGIN { printf "%.6f", (b > 0 ? k / b : 0) }')"
	done
	cons=$(echo "$kl" | median)
	[ -n "${TPS_K[get]:-}" ] || TPS_K[get]=$get_k

	# --- 6. wait latency --------------------------------------------------
	log "case 6: commit of a put -> waiting consume returns, $iters iterations"
	lat_bin=$TMP/consume_latency
	gcc -O2 -o "$lat_bin" "$HERE/consume_latency.c" -I"$("$PG_CONFIG" --includedir)" \
		-L"$("$PG_CONFIG" --libdir)" -lpq || die "could not build consume_latency.c (gcc and libpq-dev are needed)"
	q "SELECT kinesis.create_stream('bench_wait', 1)" >/dev/null
	q "SELECT kinesis.register_stream_consumer('bench_wait', 'lat', 'LATEST')" >/dev/null
	q "CHECKPOINT" >/dev/null
	wait_quiet
	conninfo="host=$SOCK port=$PORT dbname=bench user=$DBUSER"
	lat_out=$("$lat_bin" "$conninfo" "$iters" bench_wait lat) || die "consume_latency failed"

	{
		echo
		echo "consumers (test/bench/consume.sh), same server and run:"
		printf "%-44s %10s %12s %10s %12s %7s\n" "case" "ops/s" "rec/s" "get ops/s" "get rec/s" "ratio"
		awk -v c="$cons" -v g="${TPS_K[get]}" -v r="$(echo "$rl" | median)" 'BEGIN {
			printf "%-44s %10.1f %12.0f %10.1f %12.0f %7.3f   (info, no bar)\n",
				"5. consume 10,000/call, commit each call", c, c * 10000, g, g * 10000, r
		}'
		echo "   (each call: consume(max_records => 10000) + checkpoint back to the first record, one transaction;"
		echo "    get = case 3, get_shard_iterator + get_records of the same 10,000 records)"
		echo
		echo "6. commit of a put -> a waiting consume returns ($iters iterations, one client clock, ms):"
		printf "   %-40s %8s %8s %8s %8s %8s\n" "" "p50" "p90" "p99" "max" "mean"
		echo "$lat_out" | awk '
			$1 == "commit_to_return" { l = "COMMIT sent -> consumer has the record" }
			$1 == "ack_to_return"    { l = "COMMIT acknowledged -> consumer has it" }
			$1 == "commit"           { l = "the COMMIT round trip itself" }
			{ printf "   %-40s %8.3f %8.3f %8.3f %8.3f %8.3f", l, $3, $4, $5, $6, $7
			  if ($1 == "commit_to_return") printf "   bar p99 < 10 ms: %s", ($5 < 10 ? "PASS" : "BELOW")
			  printf "\n" }'
		echo "   (a consume waits in one connection while a put is uncommitted in another; once it sleeps in its"
		echo "    wait, the producer commits; see consume_latency.c)"
	} | tee -a "$RESULTS"
}
kg_bench_consume
