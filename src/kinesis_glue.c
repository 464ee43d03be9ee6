/*-------------------------------------------------------------------------
 *
 * kinesis_glue.c
 *		Module entry point: settings, hooks and launcher registration.
 *		Nothing else lives here; each component has its own folder.
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "common/kg_catalog.h"
#include "common/kg_guc.h"
#include "common/kg_owner_call.h"
#include "common/kg_shmem.h"
#include "firehose/firehose.h"
#include "streams/on_demand.h"
#include "streams/stream_state.h"
#include "video/video.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

PG_MODULE_MAGIC;

int			kg_max_databases = 32;
int			kg_max_streams = 1024;
int			kg_worker_naptime_ms = 1000;
int			kg_launcher_naptime_ms = 1000;
int			kg_iterator_ttl_ms = 300000;
int			kg_standby_bound_interval_ms = 200;
int			kg_segment_records = 1048576;
int			kg_segment_interval_s = 3600;
int			kg_segments_ahead = 2;
int			kg_segment_wait_ms = 10000;
int			kg_retention_clock_offset_s = 0;
bool		kg_throughput_quotas = false;
int			kg_lease_timeout_ms = 10000;
int			kg_mapping_timeout_ms = 60000;
int			kg_delivery_timeout_ms = 300000;
int			kg_on_demand_interval_s = 60;
static int	kg_shard_limit = 20000;	/* read by kinesis._check_limits() */
static int	kg_on_demand_stream_count_limit = 50;
int			kg_on_demand_split_records = 500;
int			kg_on_demand_split_bytes = 512 * 1024;
int			kg_on_demand_merge_records = 50;
int			kg_on_demand_sustain = 3;
int			kg_on_demand_cooldown_s = 300;
int			kg_video_segment_interval_s = 3600;
int			kg_video_buffer_retention_s = 300;
int			kg_max_job_runs = 8;
int			kg_job_run_retention_s = 365 * 24 * 3600;

void		_PG_init(void);

/* Define every setting; all live under the reserved "kinesis_glue." prefix. */
static void
kg_define_settings(void)
{
	/* sizing of shared memory: only meaningful (and allowed) under preload */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("kinesis_glue.max_databases",
								"Maximum number of databases with a kinesis_glue worker.",
								NULL, &kg_max_databases, 32, 1, 1024,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
		DefineCustomIntVariable("kinesis_glue.max_streams",
								"Maximum number of data streams, over all databases, whose state is kept in shared memory.",
								NULL, &kg_max_streams, 1024, 16, 1000000,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	}
	DefineCustomIntVariable("kinesis_glue.worker_naptime",
							"Longest sleep of a kinesis_glue worker between two rounds of work.",
							NULL, &kg_worker_naptime_ms, 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.launcher_naptime",
							"Longest sleep of the kinesis_glue launcher between two checks of its workers.",
							NULL, &kg_launcher_naptime_ms, 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
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
	DefineCustomIntVariable("kinesis_glue.segment_wait",
							"How long a put waits for the worker to create a missing record segment.",
							NULL, &kg_segment_wait_ms, 10000, 0, 600000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("kinesis_glue.mapping_timeout",
							"Longest run of one event source mapping function call (0: no limit).",
							NULL, &kg_mapping_timeout_ms, 60000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.delivery_timeout",
							"Longest run of one Firehose delivery batch (transform, destination, program; 0: no limit).",
							NULL, &kg_delivery_timeout_ms, 300000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
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
	DefineCustomIntVariable("kinesis_glue.video_segment_interval",
							"Longest time range of one fragment segment of a video stream.",
							"A stream's segments span at most a quarter of its data retention, so expiry drops whole segments soon after they pass it.",
							&kg_video_segment_interval_s, 3600, 1, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.video_buffer_retention",
							"How long a video stream with a data retention of 0 keeps its fragments.",
							NULL, &kg_video_buffer_retention_s, 300, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.max_job_runs",
							"Maximum number of Glue job runs executing at once in one database.",
							"Each running job run uses one background worker; runs beyond this wait in STARTING.",
							&kg_max_job_runs, 8, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.job_run_retention",
							"How long the history of ended Glue job runs is kept.",
							NULL, &kg_job_run_retention_s, 365 * 24 * 3600, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.retention_clock_offset",
							"Testing aid: moves the clock used for retention forward by this much.",
							"Records expire as if this much time had passed; leave at 0 in production.",
							&kg_retention_clock_offset_s, 0, 0, 10 * 366 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S | GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);

	MarkGUCPrefixReserved("kinesis_glue");
}

/*
 * Module load.  Settings are always defined; shared memory and the launcher
 * only when loaded through shared_preload_libraries.
 */
void
_PG_init(void)
{
	kg_runner_init_hooks();		/* defines its settings: before the prefix is reserved */
	kg_define_settings();
	kg_catalog_init_backend();
	kg_owner_call_init();
	kg_streams_init_backend();
	kg_firehose_init_backend();
	kg_video_init_backend();

	if (!process_shared_preload_libraries_in_progress)
		return;

	kg_shmem_init_hooks();
	kg_worker_init_hooks();

	/* pg_upgrade must not see workers writing to the new cluster */
	if (IsBinaryUpgrade)
		return;
	kg_register_launcher();
}
