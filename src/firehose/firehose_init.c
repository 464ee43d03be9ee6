/*-------------------------------------------------------------------------
 *
 * firehose_init.c
 *		The Firehose component's registration with the runtime: its
 *		setting (the delivery timeout), its worker task (the delivery
 *		runners' supervisor) and its transaction callbacks (objects written
 *		to files and programs).
 *
 * Locking: none; runs in _PG_init.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "firehose/firehose.h"
#include "worker/kg_worker.h"

int			kg_delivery_timeout_ms = 300000;

static const KgTask delivery_task = {"firehose delivery", NULL, kg_firehose_delivery};

/* Register Firehose with the runtime (from _PG_init). */
void
kg_firehose_init(void)
{
	DefineCustomIntVariable("kinesis_glue.delivery_timeout",
							"Longest run of one Firehose delivery batch (transform, destination, program; 0: no limit).",
							NULL, &kg_delivery_timeout_ms, 300000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	kg_firehose_init_backend();
	kg_worker_register_task(&delivery_task);
	kg_owned_register(&kg_firehose_owned);
}
