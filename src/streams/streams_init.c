/*-------------------------------------------------------------------------
 *
 * streams_init.c
 *		The Data Streams component's registration with the runtime: its
 *		settings, shared memory (stream state, producer slots, shard
 *		meters), worker tasks (segment upkeep, stable bounds for hot
 *		standbys, on-demand scaling, event source mapping runners), the
 *		storage the DDL guard protects, and its transaction callbacks.
 *
 * Locking: none; runs in _PG_init.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "common/kg_shmem.h"
#include "streams/esm.h"
#include "streams/on_demand.h"
#include "streams/segments.h"
#include "streams/standby.h"
#include "streams/stream_state.h"
#include "streams/streams.h"
#include "streams/throughput.h"
#include "worker/kg_worker.h"

int			kg_max_streams = 1024;
int			kg_standby_bound_interval_ms = 200;
int			kg_iterator_ttl_ms = 300000;
int			kg_segment_records = 1048576;
int			kg_segment_interval_s = 3600;
int			kg_segments_ahead = 2;
int			kg_lease_timeout_ms = 10000;
bool		kg_throughput_quotas = false;
int			kg_on_demand_interval_s = 60;
static int	kg_shard_limit = 20000;	/* read by kinesis._check_limits() */
static int	kg_on_demand_stream_count_limit = 50;
int			kg_on_demand_split_records = 500;
int			kg_on_demand_split_bytes = 512 * 1024;
int			kg_on_demand_merge_records = 50;
int			kg_on_demand_sustain = 3;
int			kg_on_demand_cooldown_s = 300;

static const KgShmemPart stream_state_part = {
	KG_STREAMS_SHMEM, kg_stream_state_shmem_size, kg_stream_state_shmem_init, 1
};
static const KgShmemPart meter_part = {
	"kinesis_glue shard meters", kg_meter_shmem_size, kg_meter_shmem_init, 0
};

static const KgTask segment_task = {"segment upkeep", NULL, kg_segment_upkeep};
static const KgTask standby_task = {"stable bounds for hot standbys",
	kg_standby_publish_interval_ms, kg_standby_publish_bounds};
static const KgTask on_demand_task = {"on-demand scaling", kg_on_demand_interval_ms,
	kg_on_demand_scaling};
static const KgTask mapping_task = {"event source mapping runners", NULL, kg_esm_supervise};

static const char *const storage_schemas[] = {"kinesis_records", "kinesis_segments", NULL};
static const KgProtectedStorage record_storage = {
	storage_schemas, "record storage", "data stream",
	"Use kinesis.delete_stream() and the other kinesis functions; GRANT and REVOKE work as usual.",
	"kinesis", "forbid_direct_dml"
};

/* Define the settings of data streams. */
static void
kg_streams_define_settings(void)
{
	/* sizing of shared memory: only meaningful (and allowed) under preload */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("kinesis_glue.max_streams",
								"Maximum number of data streams, over all databases, whose state is kept in shared memory.",
								NULL, &kg_max_streams, 1024, 16, 1000000,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	}
	DefineCustomIntVariable("kinesis_glue.standby_bound_interval",
							"How often the worker publishes the streams' stable bounds in WAL for hot standbys (0: never).",
							NULL, &kg_standby_bound_interval_ms, 200, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.iterator_ttl",
							"Lifetime of a shard iterator.",
							NULL, &kg_iterator_ttl_ms, 300000, 1000, 24 * 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.segment_records",
							"Sequence numbers per record segment of newly created streams.",
							NULL, &kg_segment_records, 1048576, 1024, 1 << 30,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.segment_interval",
							"Age after which the worker closes a stream's current record segment.",
							NULL, &kg_segment_interval_s, 3600, 1, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.segments_ahead",
							"Number of record segments the worker keeps created ahead of the current one.",
							NULL, &kg_segments_ahead, 2, 1, 16,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.lease_timeout",
							"How long a consumer session keeps its shards after its last consume.",
							"A lease whose holder is gone, or has not consumed for this long, is taken over by another session of the same consumer.",
							&kg_lease_timeout_ms, 10000, 100, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("kinesis_glue.throughput_quotas",
							 "Enforces the per-shard Kinesis throughput quotas on every stream.",
							 "1 MiB/s and 1,000 records/s in, 2 MiB/s and 5 calls/s out per shard; a stream's own setting (kinesis.set_throughput_quotas) overrides this.",
							 &kg_throughput_quotas, false, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.shard_limit",
							"Maximum number of open shards over all data streams of a database (Kinesis' account shard limit).",
							"create_stream, split_shard and update_shard_count beyond it fail with LimitExceededException; kinesis.describe_limits() reports it.",
							&kg_shard_limit, 20000, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.on_demand_stream_count_limit",
							"Maximum number of ON_DEMAND data streams in a database (Kinesis' account limit).",
							"create_stream and update_stream_mode beyond it fail with LimitExceededException; kinesis.describe_limits() reports it.",
							&kg_on_demand_stream_count_limit, 50, 0, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.on_demand_interval",
							"How often the worker measures the shards of ON_DEMAND streams.",
							NULL, &kg_on_demand_interval_s, 60, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.on_demand_split_records",
							"Write rate (records per second) above which an ON_DEMAND shard is split.",
							NULL, &kg_on_demand_split_records, 500, 1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.on_demand_split_bytes",
							"Write rate (bytes per second) above which an ON_DEMAND shard is split.",
							NULL, &kg_on_demand_split_bytes, 512 * 1024, 1, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.on_demand_merge_records",
							"Write rate (records per second) below which two adjacent ON_DEMAND shards are merged.",
							NULL, &kg_on_demand_merge_records, 50, 0, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.on_demand_sustain",
							"Consecutive measurements a rate must stay past a threshold before the shard count changes.",
							NULL, &kg_on_demand_sustain, 3, 1, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.on_demand_cooldown",
							"Pause after a scaling action of an ON_DEMAND stream before the next.",
							NULL, &kg_on_demand_cooldown_s, 300, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.on_demand_min_shards",
							"ON_DEMAND streams are not merged below this many open shards.",
							NULL, &kg_on_demand_min_shards, 4, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
}

/*
 * Register Data Streams with the runtime (from _PG_init, in every process
 * that loads the library).
 */
void
kg_streams_init(void)
{
	kg_streams_define_settings();
	kg_streams_init_backend();
	kg_record_scan_init();
	kg_record_read_register_scans();
	kg_put_register_scan();
	kg_unnest_scan_init();
	kg_shmem_register(&stream_state_part);
	kg_shmem_register(&meter_part);
	kg_worker_register_task(&segment_task);
	kg_worker_register_task(&standby_task);
	kg_worker_register_task(&on_demand_task);
	kg_worker_register_task(&mapping_task);
	kg_guard_protect_storage(&record_storage);
	kg_owned_register(&kg_streams_owned);
}
