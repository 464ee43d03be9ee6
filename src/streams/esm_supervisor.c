/*-------------------------------------------------------------------------
 *
 * esm_supervisor.c
 *		The database worker's task that keeps one runner (esm_runner.c) per
 *		enabled event source mapping and parallelization slot, at the
 *		mapping's current generation, through the shared runner registry
 *		(worker/kg_runner.h): it wants the runners of enabled mappings, and
 *		the registry starts the missing ones (within the runner caps),
 *		restarts exited ones with backoff, and stops those of deleted,
 *		disabled, shrunk or changed mappings.
 *
 * The registry lives in shared memory, so a database worker that restarts
 * adopts the runners that still run: a mapping slot never has two.
 *
 * Locking: none of its own; see kg_runner.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "common/kg_catalog.h"
#include "streams/esm.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

static const KgRunnerKind kg_mapping_runner = {
	.name = "mapping",
	.function_name = "kg_esm_runner_main",
	.bgw_type = "kinesis_glue mapping runner",
	.restart = true,
	.reap = NULL,
	/* its function ignored the cancel at kinesis_glue.mapping_timeout */
	.terminated_sql = "UPDATE kinesis.event_source_mappings SET last_processing_result = 'PROBLEM: runner terminated', "
	"last_error = $2, last_error_at = pg_catalog.clock_timestamp() WHERE mapping_id OPERATOR(pg_catalog.=) $1",
};

typedef struct KgWanted
{
	int64		id;
	int32		generation;
	int			parallel;
	Oid			owner;
} KgWanted;

typedef struct KgWantedList
{
	MemoryContext cxt;			/* the task's: freed with it, whatever happens */
	List	   *wanted;			/* of KgWanted */
} KgWantedList;

/* Transaction body: the enabled mappings, read as the extension owner. */
static void
kg_list_enabled_mappings(void *arg)
{
	KgWantedList *l = (KgWantedList *) arg;
	KgCatalogContext cc;
	int			n;

	kg_catalog_enter(&cc, false);
	n = kg_spi_exec("SELECT mapping_id, generation, parallelization_factor, owner::oid "
					"FROM kinesis.event_source_mappings WHERE enabled ORDER BY mapping_id",
					0, NULL, NULL, NULL, true);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(l->cxt);
		KgWanted   *w = palloc(sizeof(KgWanted));

		w->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		w->generation = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		w->parallel = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		w->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4, &isnull));
		l->wanted = lappend(l->wanted, w);
		MemoryContextSwitchTo(old);
	}
	kg_catalog_exit(&cc);
}

/*
 * Worker task: keep exactly one runner per enabled mapping and slot, at
 * the mapping's current generation.
 */
void
kg_esm_supervise(void)
{
	KgWantedList l = {CurrentMemoryContext, NIL};
	ListCell   *lc;

	kg_runner_round_begin(&kg_mapping_runner);
	if (!kg_run_in_transaction("kinesis_glue: list event source mappings", kg_list_enabled_mappings, &l))
	{
		/* keep what runs: a failed listing is no reason to stop runners */
		list_free_deep(l.wanted);	/* what the failed listing got so far */
		return;
	}
	foreach(lc, l.wanted)
	{
		KgWanted   *w = lfirst(lc);

		for (int slot = 0; slot < w->parallel; slot++)
			(void) kg_runner_want(&kg_mapping_runner, w->id, slot, w->generation, w->owner);
	}
	kg_runner_round_end(&kg_mapping_runner, true);
	list_free_deep(l.wanted);
}
