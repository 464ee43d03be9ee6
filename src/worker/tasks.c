/*-------------------------------------------------------------------------
 *
 * tasks.c
 *		The registry of periodic tasks run by every per-database worker.
 *
 * To add work to the worker, write a function that runs one round outside
 * a transaction (opening one transaction per unit of work with
 * kg_run_in_transaction) and add a line below.  SQL callers that need a
 * round now call kg_wake_worker(MyDatabaseId); tasks marked true in the
 * last field then run at once, the others when their interval is up.
 *
 * Locking: none here; each task documents its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/kg_guc.h"
#include "firehose/firehose.h"
#include "glue/crawler.h"
#include "glue/jobs.h"
#include "streams/esm.h"
#include "streams/on_demand.h"
#include "streams/segments.h"
#include "streams/standby.h"
#include "video/video.h"
#include "worker/kg_worker.h"

static int
kg_naptime(void)
{
	return kg_worker_naptime_ms;
}

const KgTask kg_tasks[] = {
	{"segment upkeep", kg_naptime, kg_segment_upkeep},
	{"stable bounds for hot standbys", kg_standby_publish_interval_ms, kg_standby_publish_bounds},
	{"on-demand scaling", kg_on_demand_interval_ms, kg_on_demand_scaling},
	{"event source mapping runners", kg_naptime, kg_esm_supervise},
	{"firehose delivery", kg_naptime, kg_firehose_delivery},
	{"glue crawlers", kg_naptime, kg_glue_crawler_supervise},
	{"glue jobs", kg_naptime, kg_glue_job_supervise, true},
	{"glue trigger schedules in the pg_cron database", kg_naptime, kg_glue_cron_sync},
	{"video segment upkeep", kg_naptime, kg_video_segment_upkeep},
	{"video stream processors", kg_naptime, kg_video_processors},
};

const int	kg_ntasks = lengthof(kg_tasks);
