/*-------------------------------------------------------------------------
 *
 * jobs.h
 *		Glue jobs: the worker side (job_worker.c).  The job API, runs,
 *		bookmarks and triggers are SQL (jobs.sql, job_runs.sql, ...).
 *
 * Locking: none of its own; see job_worker.c for the run states.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_GLUE_JOBS_H
#define KG_GLUE_JOBS_H

#include "fmgr.h"

extern void kg_glue_job_supervise(void);
extern PGDLLEXPORT void kg_glue_job_main(Datum main_arg);
extern void kg_glue_cron_sync(void);
extern PGDLLEXPORT void kg_glue_cron_sync_main(Datum main_arg);

#endif							/* KG_GLUE_JOBS_H */
