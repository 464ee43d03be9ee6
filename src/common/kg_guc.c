/*-------------------------------------------------------------------------
 *
 * kg_guc.c
 *		The runtime's own settings, and those every component shares: the
 *		worker and launcher naptimes, how long a put waits for a missing
 *		segment (data and video streams), the timeout of a long-lived
 *		runner's user code (mappings, video processors), and the
 *		retention clock offset of the tests.  Each component defines its
 *		own settings in its init function.
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "common/kg_guc.h"

int			kg_max_databases = 32;
int			kg_worker_naptime_ms = 1000;
int			kg_launcher_naptime_ms = 1000;
int			kg_segment_wait_ms = 10000;
int			kg_mapping_timeout_ms = 60000;
int			kg_retention_clock_offset_s = 0;

/* Define the shared settings (from _PG_init, before the prefix is reserved). */
void
kg_define_common_settings(void)
{
	/* sizing of shared memory: only meaningful (and allowed) under preload */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("kinesis_glue.max_databases",
								"Maximum number of databases with a kinesis_glue worker.",
								NULL, &kg_max_databases, 32, 1, 1024,
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
	DefineCustomIntVariable("kinesis_glue.segment_wait",
							"How long a put waits for the worker to create a missing record segment.",
							NULL, &kg_segment_wait_ms, 10000, 0, 600000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.mapping_timeout",
							"Longest run of one event source mapping function call (0: no limit).",
							NULL, &kg_mapping_timeout_ms, 60000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.retention_clock_offset",
							"Testing aid: moves the clock used for retention forward by this much.",
							"Records expire as if this much time had passed; leave at 0 in production.",
							&kg_retention_clock_offset_s, 0, 0, 10 * 366 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S | GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
}
