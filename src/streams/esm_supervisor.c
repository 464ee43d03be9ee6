/*-------------------------------------------------------------------------
 *
 * esm_supervisor.c
 *		The database worker's task that keeps one runner (esm_runner.c) per
 *		enabled event source mapping and parallelization slot, at the
 *		mapping's current generation: it starts missing runners, stops those
 *		of deleted, disabled or changed mappings, and restarts runners that
 *		exited (at most once a second).
 *
 * Locking: none; the runner handles live in the worker's memory.  When no
 * background worker slot is free it warns (once a minute) and retries.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "streams/esm.h"
#include "worker/kg_worker.h"

typedef struct KgRunnerKey
{
	int64		mapping_id;
	int32		slot;
} KgRunnerKey;

typedef struct KgRunnerEntry
{
	KgRunnerKey key;
	int32		generation;
	BackgroundWorkerHandle *handle;
	TimestampTz launched_at;
	bool		seen;
} KgRunnerEntry;

static HTAB *Runners = NULL;
static TimestampTz last_runner_warning = 0;

typedef struct KgWanted
{
	int64		id;
	int32		generation;
	int			parallel;
} KgWanted;

static void
kg_list_enabled_mappings(void *arg)
{
	List	  **out = (List **) arg;
	KgCatalogContext cc;
	int			n;

	kg_catalog_enter(&cc, false);
	n = kg_spi_exec("SELECT mapping_id, generation, parallelization_factor FROM kinesis.event_source_mappings "
					"WHERE enabled ORDER BY mapping_id", 0, NULL, NULL, NULL, true);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		KgWanted   *w = MemoryContextAlloc(TopMemoryContext, sizeof(KgWanted));

		w->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		w->generation = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		w->parallel = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			*out = lappend(*out, w);
			MemoryContextSwitchTo(old);
		}
	}
	kg_catalog_exit(&cc);
}

static bool
kg_launch_runner(KgRunnerEntry *e, int32 generation)
{
	KgRunnerArgs args;

	args.dboid = MyDatabaseId;
	args.mapping_id = e->key.mapping_id;
	args.slot = e->key.slot;
	args.generation = generation;
	e->launched_at = GetCurrentTimestamp();
	e->generation = generation;
	return kg_launch_dynamic_worker("kg_esm_runner_main", "kinesis_glue mapping runner",
									psprintf("kinesis_glue mapping %lld slot %d",
											 (long long) e->key.mapping_id, e->key.slot),
									&args, sizeof(args), &e->handle);
}

/*
 * Worker task: keep exactly one runner per enabled mapping and slot, at
 * the mapping's current generation.
 */
void
kg_esm_supervise(void)
{
	List	   *wanted = NIL;
	ListCell   *lc;
	HASH_SEQ_STATUS hs;
	KgRunnerEntry *e;
	TimestampTz now = GetCurrentTimestamp();

	if (Runners == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(KgRunnerKey);
		ctl.entrysize = sizeof(KgRunnerEntry);
		ctl.hcxt = TopMemoryContext;
		Runners = hash_create("kinesis_glue mapping runners", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (!kg_run_in_transaction("kinesis_glue: list event source mappings", kg_list_enabled_mappings, &wanted))
		return;

	hash_seq_init(&hs, Runners);
	while ((e = hash_seq_search(&hs)) != NULL)
		e->seen = false;

	foreach(lc, wanted)
	{
		KgWanted   *w = lfirst(lc);

		for (int slot = 0; slot < w->parallel; slot++)
		{
			KgRunnerKey key = {w->id, slot};
			bool		found;
			pid_t		pid;

			e = hash_search(Runners, &key, HASH_ENTER, &found);
			if (!found)
			{
				e->handle = NULL;
				e->launched_at = 0;
				e->generation = 0;
			}
			e->seen = true;
			if (e->handle && e->generation != w->generation)
			{
				TerminateBackgroundWorker(e->handle);
				pfree(e->handle);
				e->handle = NULL;
				e->launched_at = 0;
			}
			if (e->handle && GetBackgroundWorkerPid(e->handle, &pid) == BGWH_STOPPED)
			{
				pfree(e->handle);
				e->handle = NULL;
			}
			if (e->handle == NULL &&
				TimestampDifferenceExceeds(e->launched_at, now, 1000) &&
				!kg_launch_runner(e, w->generation) &&
				TimestampDifferenceExceeds(last_runner_warning, now, 60 * 1000))
			{
				ereport(WARNING,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("could not start a runner for event source mapping %lld: no free background worker slot",
								(long long) w->id),
						 errhint("Raise \"max_worker_processes\"; each mapping needs one worker per parallelization slot.")));
				last_runner_warning = now;
			}
		}
	}

	/* runners of mappings deleted, disabled or shrunk */
	hash_seq_init(&hs, Runners);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		if (e->seen)
			continue;
		if (e->handle)
		{
			TerminateBackgroundWorker(e->handle);
			pfree(e->handle);
		}
		hash_search(Runners, &e->key, HASH_REMOVE, NULL);
	}
	list_free_deep(wanted);
}

