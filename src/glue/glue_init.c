/*-------------------------------------------------------------------------
 *
 * glue_init.c
 *		The Glue component's registration with the runtime: its settings
 *		(job runs), its worker tasks (crawl and job run supervisors, the
 *		sync of trigger schedules with pg_cron) and its transaction
 *		callbacks.
 *
 * Locking: none; runs in _PG_init.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "glue/crawler.h"
#include "glue/glue.h"
#include "glue/jobs.h"
#include "worker/kg_worker.h"

int			kg_max_job_runs = 8;
int			kg_job_run_retention_s = 365 * 24 * 3600;

static const KgTask crawler_task = {"glue crawlers", NULL, kg_glue_crawler_supervise};
static const KgTask job_task = {"glue jobs", NULL, kg_glue_job_supervise, true};
static const KgTask cron_task = {"glue trigger schedules in the pg_cron database", NULL,
	kg_glue_cron_sync};

/* Register Glue with the runtime (from _PG_init). */
void
kg_glue_init(void)
{
	DefineCustomIntVariable("kinesis_glue.max_job_runs",
							"Maximum number of Glue job runs executing at once in one database.",
							"Each running job run uses one background worker; runs beyond this wait in STARTING.",
							&kg_max_job_runs, 8, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.job_run_retention",
							"How long the history of ended Glue job runs is kept.",
							NULL, &kg_job_run_retention_s, 365 * 24 * 3600, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	kg_worker_register_task(&crawler_task);
	kg_worker_register_task(&job_task);
	kg_worker_register_task(&cron_task);
	kg_owned_register(&kg_glue_owned);
	kg_glue_register_bookmark_scan();
}
